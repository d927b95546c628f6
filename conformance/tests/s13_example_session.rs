//! spec.md §13.2, the example session: a real server and a real client,
//! each driven by the raw peer with the other side's vectors, send exactly
//! the bytes of their own vectors.

use braid::{ArrayStorage, Config, Duration, ErrorCode as C, Event, MetadataWriter, StreamId};
use braid_conformance::coverage::SPEC;
use braid_conformance::peer::*;

/// The bytes of the spec's vector `name` (the `hex` block after the
/// paragraph starting with ``Vector `name` ``).
fn vector(name: &str) -> Vec<u8> {
    let label = format!("Vector `{name}`");
    let at = SPEC.find(&label).unwrap_or_else(|| panic!("spec.md has no vector {name}"));
    let block = &SPEC[at..];
    let start = block.find("```hex\n").expect("a hex block follows") + "```hex\n".len();
    let end = start + block[start..].find("```").expect("the block ends");
    block[start..end].split_whitespace().map(|t| u8::from_str_radix(t, 16).expect("hex byte")).collect()
}

/// Storage and configuration that announce the example's settings: a
/// 1024-byte stream window, a stream credit of 4, a 65536-byte session
/// window and a 256-byte MAX_OPEN_METADATA (no growth).
type Example = ArrayStorage<8, 1280, 1280>;

fn config(mut c: Config, idle: Option<Duration>) -> Config {
    c.stream_window = 1024;
    c.stream_window_max = 1024;
    c.session_window = 65_536;
    c.session_window_max = 65_536;
    c.max_inbound_streams = Some(4);
    c.max_open_metadata = 256;
    c.idle_timeout = idle;
    c
}

/// A metadata block of `stream_type` with one header.
fn meta(stream_type: u32, name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 64];
    MetadataWriter::new(&mut buf, stream_type).unwrap().header(name, value).unwrap().finish().to_vec()
}

/// Everything `h` sent since `from`.
fn since(h: &Harness<Example>, from: usize) -> Vec<u8> {
    h.sent[from..].to_vec()
}

/// The server of the example: it writes its preface and SETTINGS without
/// waiting (`session-s1`), answers the client's SETTINGS with one ACK
/// (`session-s2`), accepts stream 1 with reply metadata, echoes and
/// half-closes in one frame (`session-s3`), and after the client's GOAWAY
/// sends its own with Last Stream Id 1 (`session-s4`) and ends.
/// Checks [S-2.1], [S-2.2], [S-6.6], [S-8.1].
#[test]
fn the_server_sends_the_example_bytes() {
    let mut h = Harness::new(config(Config::server(), Some(Duration::from_secs(30))), Example::new(), WHOLE);
    h.drain();
    assert_eq!(since(&h, 0), vector("session-s1"));
    let at = h.sent.len();
    let d = h.step(&vector("session-c1"));
    assert_eq!(d.events, vec![Event::Connected]);
    assert_eq!(since(&h, at), vector("session-s2"));
    let at = h.sent.len();
    assert!(h.step(&vector("session-c2")).frames.is_empty());
    let d = h.step(&vector("session-c3"));
    assert_eq!(d.events, vec![Event::Incoming]);
    let mut buf = [0u8; 64];
    assert_eq!(h.s.metadata(StreamId(1), &mut buf), Ok(Some(meta(1, b"svc", b"echo").len())));
    assert_eq!(h.s.accept_with(&meta(1, b"status", b"ok")), Ok(StreamId(1)));
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(2));
    assert_eq!(h.s.read(StreamId(1), &mut buf[2..]), Ok(0));
    h.s.write(StreamId(1), &buf[..2]).unwrap();
    h.s.finish(StreamId(1)).unwrap();
    h.drain();
    assert_eq!(since(&h, at), vector("session-s3"));
    let at = h.sent.len();
    let d = h.step(&vector("session-c4"));
    assert_eq!(since(&h, at), vector("session-s4"));
    assert!(matches!(d.events.last(), Some(Event::Closed(r)) if r.is_graceful()), "{:?}", d.events);
    expect_sender_rules(&h);
}

/// The client of the example: preface and SETTINGS (`session-c1`), one
/// ACK (`session-c2`), stream 1 opened with metadata, data and FIN in one
/// frame (`session-c3`), and, its stream done, a GOAWAY with NO_ERROR and
/// Last Stream Id 0 (`session-c4`); the server's GOAWAY is then ignored.
/// Checks [S-2.1], [S-2.2], [S-6.6], [S-8.1].
#[test]
fn the_client_sends_the_example_bytes() {
    let mut h = Harness::new(config(Config::client(), None), Example::new(), WHOLE);
    h.drain();
    assert_eq!(since(&h, 0), vector("session-c1"));
    let at = h.sent.len();
    h.step(&vector("session-s1"));
    assert_eq!(since(&h, at), vector("session-c2"));
    let at = h.sent.len();
    h.step(&vector("session-s2"));
    assert_eq!(h.s.idle_timeout(), Some(Duration::from_secs(30)));
    let id = h.s.open_with(&meta(1, b"svc", b"echo")).unwrap();
    h.s.write(id, b"hi").unwrap();
    h.s.finish(id).unwrap();
    h.drain();
    assert_eq!(since(&h, at), vector("session-c3"));
    let at = h.sent.len();
    let d = h.step(&vector("session-s3"));
    assert_eq!(d.events, vec![Event::Readable(id), Event::Finished(id)]);
    let mut buf = [0u8; 64];
    assert_eq!(h.s.metadata(id, &mut buf), Ok(Some(meta(1, b"status", b"ok").len())));
    assert_eq!(h.s.read(id, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"hi");
    assert_eq!(h.s.read(id, &mut buf), Ok(0));
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    h.drain();
    assert_eq!(since(&h, at), vector("session-c4"));
    assert!(h.s.close_reason().unwrap().is_graceful());
    let at = h.sent.len();
    h.step(&vector("session-s4"));
    assert_eq!(since(&h, at), Vec::<u8>::new());
    expect_sender_rules(&h);
}
