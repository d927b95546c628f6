//! The wire codec on arbitrary bytes: `Frame::parse` (with `Header::check`),
//! re-emission, `Settings::decode` and `Metadata::parse` against reference
//! decoders written from spec.md, and `MetadataValidator` fed in arbitrary
//! chunks.
//!
//! Input: `[max0][max1][seed][bytes...]`. `max0`/`max1` choose the
//! MAX_FRAME_SIZE (64..), `seed` the metadata chunkings, and `bytes` are
//! parsed as a sequence of frames (resyncing one byte on from a bad one), as a
//! SETTINGS payload and as a metadata block.
#![no_main]

use braid::frame::{flags, Frame, FrameType, Header, ParseError, Settings, HEADER_LEN, MAX_PAYLOAD};
use braid::{Metadata, MetadataError, MetadataValidator, MetadataWriter, ProtocolError};
use braid_fuzz::Rng;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (sel0, sel1, seed) = (data[0], data[1], data[2]);
    let bytes = &data[3..];
    let max = match sel0 >> 6 {
        0 => 64,
        1 => 64 + u32::from(sel1),
        2 => 16_384,
        _ => 64 + u32::from_be_bytes([0, sel0 & 0x3F, sel1, seed]) % (MAX_PAYLOAD - 63),
    };
    let mut rng = Rng::new(u64::from(seed) | u64::from(sel1) << 8);

    frames(bytes, max, &mut rng);
    settings(bytes);
    let block = &bytes[..bytes.len().min(0xFFFF)];
    metadata(block, &mut rng);
});

fn frames(bytes: &[u8], max: u32, rng: &mut Rng) {
    let mut off = 0;
    while off < bytes.len() {
        let rest = &bytes[off..];
        let parsed = Frame::parse(rest, max);
        let Some(head) = rest.first_chunk::<HEADER_LEN>() else {
            assert_eq!(parsed, Err(ParseError::Incomplete { needed: HEADER_LEN }));
            return;
        };
        let header = Header::parse(head);
        assert_eq!(Header::parse(&header.to_bytes()), header, "header round trip");
        let total = HEADER_LEN + header.length as usize;
        match parsed {
            Ok((frame, n)) => {
                assert!(n <= rest.len(), "consumed {n} of {}", rest.len());
                assert_eq!(n, total, "consumed length vs header length");
                assert_eq!(header.check(max), Ok(()));
                assert_eq!(Frame::from_parts(header, &rest[HEADER_LEN..n]), Ok(frame));
                check_frame(&rest[..n], header, frame, max, rng);
                off += n;
            }
            Err(ParseError::Incomplete { needed }) => {
                assert_eq!(header.check(max), Ok(()), "incomplete reported before the header check");
                assert_eq!(needed, total);
                assert!(needed > rest.len(), "incomplete with {needed} needed and {} given", rest.len());
                return;
            }
            Err(ParseError::Protocol(e)) => {
                match header.check(max) {
                    Err(first) => assert_eq!(e, first, "the header check's error comes first"),
                    Ok(()) => {
                        assert!(total <= rest.len(), "payload error before the payload was complete");
                        let late = [ProtocolError::ZeroIncrement, ProtocolError::SettingOutOfRange];
                        assert!(late.contains(&e), "unexpected payload error {e:?}");
                    }
                }
                off += 1;
            }
        }
    }
}

/// A parsed frame re-emits to a frame that parses the same, and to the same
/// bytes up to the reserved bits and flags the receiver ignores.
fn check_frame(raw: &[u8], header: Header, frame: Frame<'_>, max: u32, rng: &mut Rng) {
    let len = frame.encoded_len();
    let mut buf = vec![0u8; len];
    assert_eq!(frame.emit(&mut buf), Ok(len));
    assert_eq!(frame.emit(&mut buf[..len - 1]), Err(len), "emit into a buffer one byte short");
    let (again, m) = Frame::parse(&buf, max).expect("re-emitted frame parses");
    assert_eq!(m, len);
    assert_eq!(again, frame, "re-emitted frame parses to the same frame");
    assert_eq!(buf[4] & 0x80, 0, "re-emitted reserved bit");

    match frame {
        Frame::Settings(s) => {
            let payload = &raw[HEADER_LEN..];
            assert_eq!(Settings::decode(payload), Ok(s));
            assert_eq!(reference_settings(payload), Ok(s));
            assert_eq!(s.validate(), Ok(()));
            return;
        }
        Frame::Data { payload, flags: fl, .. } if fl & flags::META != 0 => {
            if let Some(l) = payload.first_chunk::<2>() {
                let l = usize::from(u16::from_be_bytes(*l));
                if let Some(block) = payload.get(2..2 + l) {
                    metadata(block, rng);
                }
            }
        }
        _ => {}
    }
    // Same length, type, stream (reserved bit masked) and payload.
    assert_eq!(len, raw.len());
    assert_eq!(buf[..3], raw[..3], "length field");
    assert_eq!(buf[3] >> 4, raw[3] >> 4, "type");
    assert_eq!(buf[4..8], [raw[4] & 0x7F, raw[5], raw[6], raw[7]], "stream id");
    let kept_flags = match header.kind {
        FrameType::Data | FrameType::Unknown(_) => 0xF,
        FrameType::Settings | FrameType::Ping => flags::ACK,
        FrameType::WndInc if header.stream.0 == 0 => flags::CREDIT,
        _ => 0,
    };
    assert_eq!(buf[3] & 0xF, raw[3] & kept_flags, "flags");
    let (body, orig) = (&buf[HEADER_LEN..], &raw[HEADER_LEN..]);
    match header.kind {
        FrameType::WndInc | FrameType::GoAway => {
            assert_eq!(body[0], orig[0] & 0x7F);
            assert_eq!(body[1..], orig[1..]);
        }
        _ => assert_eq!(body, orig, "payload"),
    }
}

/// SETTINGS payload decoding as spec.md §6.1–§6.2 describe it.
fn reference_settings(p: &[u8]) -> Result<Settings, ProtocolError> {
    if !p.len().is_multiple_of(6) {
        return Err(ProtocolError::BadFrameLength);
    }
    let mut s = Settings::DEFAULT;
    for e in p.chunks_exact(6) {
        let id = u16::from_be_bytes([e[0], e[1]]);
        let v = u32::from_be_bytes([e[2], e[3], e[4], e[5]]);
        let (ok, slot) = match id {
            1 => (v <= 0x7FFF_FFFF, &mut s.initial_stream_window),
            2 => ((64..=0xFF_FFFF).contains(&v), &mut s.max_frame_size),
            3 => (v <= 0x7FFF_FFFF, &mut s.stream_credit),
            4 => (v <= 0x7FFF_FFFF, &mut s.session_window),
            5 => (v <= 0xFFFF, &mut s.max_open_metadata),
            6 => (true, &mut s.idle_timeout_ms),
            _ => continue,
        };
        if !ok {
            return Err(ProtocolError::SettingOutOfRange);
        }
        *slot = v;
    }
    Ok(s)
}

fn settings(bytes: &[u8]) {
    let p = &bytes[..bytes.len().min(SETTINGS_FUZZ_MAX)];
    let got = Settings::decode(p);
    assert_eq!(got, reference_settings(p), "Settings::decode vs reference");
    if let Ok(s) = got {
        let mut buf = [0u8; Settings::ENCODED_LEN];
        assert_eq!(s.encode(&mut buf), Some(Settings::ENCODED_LEN));
        assert_eq!(Settings::decode(&buf), Ok(s), "encode/decode round trip");
        assert_eq!(s.encode(&mut buf[..Settings::ENCODED_LEN - 1]), None);
    }
}

/// Longer payloads only repeat the same work.
const SETTINGS_FUZZ_MAX: usize = 600;

type Headers<'a> = Vec<(&'a [u8], &'a [u8])>;

/// A metadata block as spec.md §5.4 describes it.
fn reference_metadata(b: &[u8]) -> Option<(u32, Headers<'_>)> {
    if b.len() < 4 || b.len() > 0xFFFF {
        return None;
    }
    let t = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let mut rest = &b[4..];
    let mut headers = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 3 || rest[0] == 0 {
            return None;
        }
        let name_len = usize::from(rest[0]);
        let value_len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let body = &rest[3..];
        if body.len() < name_len + value_len {
            return None;
        }
        headers.push((&body[..name_len], &body[name_len..name_len + value_len]));
        rest = &body[name_len + value_len..];
    }
    Some((t, headers))
}

fn metadata(block: &[u8], rng: &mut Rng) {
    let want = reference_metadata(block);
    let got = Metadata::parse(block);
    match (&want, got) {
        (Some((t, headers)), Ok(m)) => {
            assert_eq!(m.stream_type, *t);
            assert!(m.headers().eq(headers.iter().copied()), "headers differ from the reference");
            for (name, _) in headers.iter().take(4) {
                let first = headers.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
                assert_eq!(m.header(name), first, "Metadata::header finds the first match");
            }
            // The writer rebuilds the same bytes.
            let mut buf = vec![0u8; block.len()];
            let mut w = MetadataWriter::new(&mut buf, *t).expect("4 bytes of room");
            for (name, value) in headers {
                w = w.header(name, value).expect("header fits");
            }
            assert_eq!(w.finish(), block, "MetadataWriter rebuild");
        }
        (None, Err(e)) => assert_eq!(e, MetadataError::Malformed),
        (want, got) => panic!("Metadata::parse {got:?} but reference {want:?} for {block:02x?}"),
    }

    // The streaming validator agrees in any chunking (three of them here).
    for round in 0..3 {
        let mut v = MetadataValidator::new(block.len());
        let mut fed = 0;
        let mut ok = true;
        while fed < block.len() {
            let n = match round {
                0 => 1,
                1 => block.len() - fed,
                _ => 1 + rng.below(block.len() - fed),
            };
            if v.feed(&block[fed..fed + n]).is_err() {
                ok = false;
                break;
            }
            fed += n;
            if fed < block.len() {
                assert!(!v.is_complete(), "complete with {} of {} bytes", fed, block.len());
            }
        }
        let verdict = ok && v.is_complete();
        assert_eq!(verdict, want.is_some(), "validator (round {round}) vs reference for {block:02x?}");
        if ok && !block.is_empty() {
            // Nothing more fits in a complete (or failed-at-end) block.
            assert!(v.feed(&[1]).is_err(), "validator took a byte past the block");
        }
    }
}
