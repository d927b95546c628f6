//! The test vectors of spec.md §13, checked against the codec.
//!
//! Every fenced block tagged `hex` in spec.md is a vector; the paragraph
//! right above it starts with ``Vector `name` ``. Each vector must
//! decode with [`Frame::parse`] to exactly the frames listed for its name
//! below (the preface first where there is one), and those frames must
//! encode back to the same bytes.

use braid::frame::{flags, Frame, FrameType, GoAway, Header, Settings, PREFACE};
use braid::{ErrorCode, Metadata, MetadataWriter, StreamId};

const SPEC: &str = include_str!("../../spec.md");

/// One vector as written in the spec.
struct Vector {
    name: String,
    bytes: Vec<u8>,
}

/// Every `hex` block of the spec with its name.
fn vectors() -> Vec<Vector> {
    let lines: Vec<&str> = SPEC.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```hex" {
            i += 1;
            continue;
        }
        // The first line of the paragraph right above the block.
        let mut end = i;
        while end > 0 && lines[end - 1].trim().is_empty() {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && !lines[start - 1].trim().is_empty() {
            start -= 1;
        }
        assert!(start < end, "hex block at line {} has no paragraph above it", i + 1);
        let label = lines[start];
        let name = label
            .strip_prefix("Vector `")
            .and_then(|rest| rest.split('`').next())
            .unwrap_or_else(|| panic!("line {} should start with \"Vector `name`\": {label}", start + 1));
        let mut bytes = Vec::new();
        i += 1;
        while lines[i].trim_end() != "```" {
            for token in lines[i].split_whitespace() {
                let byte = u8::from_str_radix(token, 16)
                    .ok()
                    .filter(|_| token.len() == 2)
                    .unwrap_or_else(|| panic!("vector {name}: bad hex byte {token:?}"));
                bytes.push(byte);
            }
            i += 1;
        }
        out.push(Vector { name: name.to_string(), bytes });
        i += 1;
    }
    out
}

/// What a vector holds, in order.
enum Item<'a> {
    Preface,
    Frame(Frame<'a>),
}

/// Decode `bytes` as exactly `items`, and encode each frame back to the
/// bytes it came from.
fn expect(name: &str, bytes: &[u8], items: &[Item<'_>]) {
    let mut rest = bytes;
    for (n, item) in items.iter().enumerate() {
        match item {
            Item::Preface => {
                assert!(rest.starts_with(&PREFACE), "vector {name}: item {n} should be the preface");
                rest = &rest[PREFACE.len()..];
            }
            Item::Frame(want) => {
                let (got, used) = Frame::parse(rest, Settings::DEFAULT.max_frame_size)
                    .unwrap_or_else(|e| panic!("vector {name}: item {n} does not decode: {e:?}"));
                assert_eq!(&got, want, "vector {name}: item {n} decodes to another frame");
                let mut again = vec![0u8; used];
                assert_eq!(
                    got.emit(&mut again),
                    Ok(used),
                    "vector {name}: item {n} encodes to another length"
                );
                assert_eq!(again, &rest[..used], "vector {name}: item {n} encodes to other bytes");
                rest = &rest[used..];
            }
        }
    }
    assert!(rest.is_empty(), "vector {name}: {} bytes left over", rest.len());
}

/// A META payload: the 2-byte length, the block, then `data`.
fn meta_payload(stream_type: u32, headers: &[(&[u8], &[u8])], data: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut w = MetadataWriter::new(&mut buf, stream_type).unwrap();
    for (name, value) in headers {
        w = w.header(name, value).unwrap();
    }
    let block = w.finish();
    let mut p = u16::try_from(block.len()).unwrap().to_be_bytes().to_vec();
    p.extend_from_slice(block);
    p.extend_from_slice(data);
    p
}

/// Check that a META payload's block parses to `stream_type` and `headers`.
fn check_metadata(name: &str, payload: &[u8], stream_type: u32, headers: &[(&[u8], &[u8])]) {
    let len = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
    let meta =
        Metadata::parse(&payload[2..2 + len]).unwrap_or_else(|e| panic!("vector {name}: metadata: {e:?}"));
    assert_eq!(meta.stream_type, stream_type, "vector {name}: stream type");
    assert!(meta.headers().eq(headers.iter().copied()), "vector {name}: headers");
}

fn settings(window: u32, credit: u32, session: u32, meta: u32, idle_ms: u32) -> Settings {
    Settings {
        initial_stream_window: window,
        max_frame_size: 16_384,
        stream_credit: credit,
        session_window: session,
        max_open_metadata: meta,
        idle_timeout_ms: idle_ms,
    }
}

fn data(stream: u32, flags: u8, payload: &[u8]) -> Item<'_> {
    Item::Frame(Frame::Data { stream: StreamId(stream), flags, payload })
}

fn goaway(last: u32, code: ErrorCode, debug: &[u8]) -> Item<'_> {
    Item::Frame(Frame::GoAway(GoAway { last_stream: StreamId(last), code, debug }))
}

/// The frames spec.md says each vector holds.
fn check(v: &Vector) {
    use Item::Preface;
    let name = v.name.as_str();
    let b = &v.bytes[..];
    let f = Item::Frame;
    match name {
        "preface" => expect(name, b, &[Preface]),
        "settings" => expect(name, b, &[f(Frame::Settings(settings(262_144, 100, 1_048_576, 1024, 30_000)))]),
        "settings-ack" => expect(name, b, &[f(Frame::SettingsAck)]),
        "syn-meta-data-fin" => {
            let headers: &[(&[u8], &[u8])] = &[(b"path", b"/telemetry")];
            let p = meta_payload(7, headers, b"hello");
            expect(name, b, &[data(1, flags::SYN | flags::META | flags::FIN, &p)]);
            check_metadata(name, &p, 7, headers);
        }
        "syn-empty" => expect(name, b, &[data(3, flags::SYN, b"")]),
        "reply-meta" => {
            let headers: &[(&[u8], &[u8])] = &[(b"status", b"ok")];
            let p = meta_payload(7, headers, b"");
            expect(name, b, &[data(1, flags::META, &p)]);
            check_metadata(name, &p, 7, headers);
        }
        "data" => expect(name, b, &[data(1, 0, b"world")]),
        "fin" => expect(name, b, &[data(1, flags::FIN, b"")]),
        "rst" => expect(name, b, &[f(Frame::Rst { stream: StreamId(3), code: ErrorCode::CANCEL })]),
        "wndinc" => {
            expect(name, b, &[f(Frame::WndInc { stream: StreamId(1), credit: false, increment: 32_768 })]);
        }
        "wndinc-session" => {
            expect(name, b, &[f(Frame::WndInc { stream: StreamId(0), credit: false, increment: 131_072 })]);
        }
        "wndinc-credit" => {
            expect(name, b, &[f(Frame::WndInc { stream: StreamId(0), credit: true, increment: 8 })])
        }
        "goaway" => expect(name, b, &[goaway(5, ErrorCode::PROTOCOL_ERROR, b"frame for idle stream")]),
        "ping" => expect(name, b, &[f(Frame::Ping { ack: false, opaque: [0, 0, 0, 0, 0, 0, 0, 1] })]),
        "ping-ack" => expect(name, b, &[f(Frame::Ping { ack: true, opaque: [0, 0, 0, 0, 0, 0, 0, 1] })]),
        "unknown-type" => {
            let header = Header::new(FrameType::Unknown(9), 0x5, StreamId(7), 3);
            expect(name, b, &[f(Frame::Unknown { header, payload: &[0xde, 0xad, 0x00] })]);
        }
        "reserved-bit" => {
            // Decodes with R masked; encodes again with R clear.
            let (got, used) = Frame::parse(b, Settings::DEFAULT.max_frame_size).unwrap();
            assert_eq!(used, b.len());
            assert_eq!(got, Frame::Data { stream: StreamId(5), flags: 0, payload: b"x" });
            let mut cleared = b.to_vec();
            cleared[4] &= 0x7F;
            assert_ne!(cleared, b, "vector {name} should have R set");
            expect(name, &cleared, &[data(5, 0, b"x")]);
        }
        "session-c1" => expect(name, b, &[Preface, f(Frame::Settings(settings(1024, 4, 65_536, 256, 0)))]),
        "session-s1" => {
            expect(name, b, &[Preface, f(Frame::Settings(settings(1024, 4, 65_536, 256, 30_000)))])
        }
        "session-c2" | "session-s2" => expect(name, b, &[f(Frame::SettingsAck)]),
        "session-c3" => {
            let headers: &[(&[u8], &[u8])] = &[(b"svc", b"echo")];
            let p = meta_payload(1, headers, b"hi");
            expect(name, b, &[data(1, flags::SYN | flags::META | flags::FIN, &p)]);
            check_metadata(name, &p, 1, headers);
        }
        "session-s3" => {
            let headers: &[(&[u8], &[u8])] = &[(b"status", b"ok")];
            let p = meta_payload(1, headers, b"hi");
            expect(name, b, &[data(1, flags::META | flags::FIN, &p)]);
            check_metadata(name, &p, 1, headers);
        }
        "session-c4" => expect(name, b, &[goaway(0, ErrorCode::NO_ERROR, b"")]),
        "session-s4" => expect(name, b, &[goaway(1, ErrorCode::NO_ERROR, b"")]),
        other => panic!("spec.md has a vector `{other}` this test does not know"),
    }
}

/// The vectors this test expects spec.md to carry, in order.
const NAMES: &[&str] = &[
    "preface",
    "settings",
    "settings-ack",
    "syn-meta-data-fin",
    "syn-empty",
    "reply-meta",
    "data",
    "fin",
    "rst",
    "wndinc",
    "wndinc-session",
    "wndinc-credit",
    "goaway",
    "ping",
    "ping-ack",
    "unknown-type",
    "reserved-bit",
    "session-c1",
    "session-s1",
    "session-c2",
    "session-s2",
    "session-c3",
    "session-s3",
    "session-c4",
    "session-s4",
];

#[test]
fn spec_carries_every_vector_once() {
    let names: Vec<String> = vectors().into_iter().map(|v| v.name).collect();
    assert_eq!(names, NAMES, "the vectors in spec.md §13 and this test disagree");
}

/// Checks [S-3.2], [S-4.9].
#[test]
fn every_vector_decodes_and_encodes_back() {
    let all = vectors();
    assert!(!all.is_empty());
    for v in &all {
        check(v);
    }
}

#[test]
fn preface_vector_is_the_engine_preface() {
    let v = vectors().into_iter().find(|v| v.name == "preface").unwrap();
    assert_eq!(v.bytes, PREFACE);
}
