//! Property tests for the wire codec: every frame the codec can emit parses
//! back to itself; parsing any bytes never panics and never reads past the
//! frame; headers and metadata blocks round-trip.

use braid::frame::{flags, Frame, FrameType, GoAway, Header, ParseError, Settings, HEADER_LEN, MAX_WINDOW};
use braid::{ErrorCode, Metadata, MetadataValidator, MetadataWriter, StreamId};
use proptest::prelude::*;

const MAX_FRAME: u32 = 16_384;

fn stream() -> impl Strategy<Value = StreamId> {
    (1..=MAX_WINDOW).prop_map(StreamId)
}

fn settings() -> impl Strategy<Value = Settings> {
    (0..=MAX_WINDOW, 64..=0xFF_FFFFu32, 0..=MAX_WINDOW, 0..=MAX_WINDOW, 0..=0xFFFFu32, any::<u32>()).prop_map(
        |(w, f, c, s, m, i)| Settings {
            initial_stream_window: w,
            max_frame_size: f,
            stream_credit: c,
            session_window: s,
            max_open_metadata: m,
            idle_timeout_ms: i,
        },
    )
}

/// Frames as owned parts, so strategies can hold the payload bytes.
#[derive(Debug, Clone)]
enum Owned {
    Rst(StreamId, u32),
    Data(StreamId, u8, Vec<u8>),
    WndInc(StreamId, bool, u32),
    GoAway(u32, u32, Vec<u8>),
    Settings(Settings),
    SettingsAck,
    Ping(bool, [u8; 8]),
}

impl Owned {
    fn frame(&self) -> Frame<'_> {
        match self {
            Owned::Rst(s, c) => Frame::Rst { stream: *s, code: ErrorCode(*c) },
            Owned::Data(s, f, p) => Frame::Data { stream: *s, flags: *f, payload: p },
            Owned::WndInc(s, credit, inc) => {
                Frame::WndInc { stream: *s, credit: *credit && s.0 == 0, increment: *inc }
            }
            Owned::GoAway(last, code, debug) => {
                Frame::GoAway(GoAway { last_stream: StreamId(*last), code: ErrorCode(*code), debug })
            }
            Owned::Settings(s) => Frame::Settings(*s),
            Owned::SettingsAck => Frame::SettingsAck,
            Owned::Ping(ack, opaque) => Frame::Ping { ack: *ack, opaque: *opaque },
        }
    }
}

fn owned() -> impl Strategy<Value = Owned> {
    prop_oneof![
        (stream(), any::<u32>()).prop_map(|(s, c)| Owned::Rst(s, c)),
        (stream(), 0..16u8, proptest::collection::vec(any::<u8>(), 0..600))
            .prop_map(|(s, f, p)| Owned::Data(s, f, p)),
        (0..=MAX_WINDOW, any::<bool>(), 1..=MAX_WINDOW).prop_map(|(s, c, i)| Owned::WndInc(
            StreamId(s),
            c,
            i
        )),
        (0..=MAX_WINDOW, any::<u32>(), proptest::collection::vec(any::<u8>(), 0..=64))
            .prop_map(|(l, c, d)| Owned::GoAway(l, c, d)),
        settings().prop_map(Owned::Settings),
        Just(Owned::SettingsAck),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(a, o)| Owned::Ping(a, o)),
    ]
}

proptest! {
    #[test]
    fn emitted_frames_parse_back(o in owned()) {
        let f = o.frame();
        let mut buf = vec![0u8; f.encoded_len()];
        prop_assert_eq!(f.emit(&mut buf), Ok(buf.len()));
        let (g, used) = Frame::parse(&buf, MAX_FRAME).unwrap();
        prop_assert_eq!(used, buf.len());
        prop_assert_eq!(g, f);
        // One byte short is always reported as incomplete, never misread.
        prop_assert_eq!(
            Frame::parse(&buf[..buf.len() - 1], MAX_FRAME).err().map(|e| matches!(e, ParseError::Incomplete { .. })),
            Some(true)
        );
        // Emitting into a buffer one byte short writes nothing.
        let mut short = vec![0u8; buf.len() - 1];
        prop_assert_eq!(f.emit(&mut short), Err(buf.len()));
        prop_assert!(short.iter().all(|&b| b == 0));
    }

    #[test]
    fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), max in 64u32..20_000) {
        match Frame::parse(&bytes, max) {
            Ok((f, used)) => {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(used, f.encoded_len());
            }
            Err(ParseError::Incomplete { needed }) => prop_assert!(needed > bytes.len()),
            Err(ParseError::Protocol(_)) => {}
        }
    }

    #[test]
    fn headers_round_trip(len in 0..=0xFF_FFFFu32, ty in 0..16u8, fl in 0..16u8, id in 0..=MAX_WINDOW, reserved in any::<bool>()) {
        let h = Header::new(FrameType::from_nibble(ty), fl, StreamId(id), len);
        let mut b = h.to_bytes();
        prop_assert_eq!(b.len(), HEADER_LEN);
        if reserved {
            b[4] |= 0x80;
        }
        prop_assert_eq!(Header::parse(&b), h);
    }

    #[test]
    fn metadata_round_trips_in_any_chunking(
        ty in any::<u32>(),
        headers in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 1..10), proptest::collection::vec(any::<u8>(), 0..20)), 0..5),
        split in any::<prop::sample::Index>(),
    ) {
        let mut buf = [0u8; 512];
        let mut w = MetadataWriter::new(&mut buf, ty).unwrap();
        for (n, v) in &headers {
            w = w.header(n, v).unwrap();
        }
        let block = w.finish().to_vec();
        let m = Metadata::parse(&block).unwrap();
        prop_assert_eq!(m.stream_type, ty);
        let got: Vec<(Vec<u8>, Vec<u8>)> = m.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        prop_assert_eq!(got, headers);
        let at = split.index(block.len() + 1);
        let mut v = MetadataValidator::new(block.len());
        v.feed(&block[..at]).unwrap();
        v.feed(&block[at..]).unwrap();
        prop_assert!(v.is_complete());
    }

    #[test]
    fn metadata_validator_agrees_with_parse(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let parsed = Metadata::parse(&bytes).is_ok();
        let mut v = MetadataValidator::new(bytes.len());
        let streamed = bytes.iter().all(|b| v.feed(core::slice::from_ref(b)).is_ok()) && v.is_complete();
        prop_assert_eq!(parsed, streamed);
    }
}

#[test]
fn credit_flag_only_means_credit_on_stream_zero() {
    let bytes = [0, 0, 4, 0x20 | flags::CREDIT, 0, 0, 0, 3, 0, 0, 0, 9];
    let (f, _) = Frame::parse(&bytes, MAX_FRAME).unwrap();
    assert_eq!(f, Frame::WndInc { stream: StreamId(3), credit: false, increment: 9 });
}
