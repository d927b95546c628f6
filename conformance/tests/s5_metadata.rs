//! spec.md §5.4–§5.5, metadata: the block's form and size, where it may
//! appear, and that it is outside flow control — received and sent.

use braid::frame::flags;
use braid::{AcceptError, Config, ErrorCode as C, Event, OpenError, ProtocolError as P, StreamId};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

fn malformed_meta(chunk: usize, block: &[u8]) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(block, b"data")));
    expect_protocol_error(&mut h, &d, P::MetadataMalformed, C::PROTOCOL_ERROR, 1);
    assert_eq!(h.s.stats().data_received, 0);
    // However the input was chunked, a stream whose opening metadata never
    // completed was never announced, and is gone.
    assert_eq!(h.s.streams_in_use(), 0);
    assert!(h.s.accept().is_err());
    h
}

/// Meta_len > receiver's MAX_OPEN_METADATA -> PROTOCOL_ERROR.
/// Checks [S-5.12].
fn case_meta_longer_than_max_open_metadata(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let max = h.s.local_settings().max_open_metadata as usize;
    assert_eq!(max, 1024);
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(&block_of(max + 1), b"")));
    expect_protocol_error(&mut h, &d, P::MetadataTooLarge, C::PROTOCOL_ERROR, 1);
    h
}

/// With MAX_OPEN_METADATA 16: 16 bytes pass, 17 fail.
/// Checks [S-5.12].
fn case_meta_limit_edge(chunk: usize) -> Harness {
    let mut config = Config::server();
    config.max_open_metadata = 16;
    let mut h = Harness::connected(config, chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(&block_of(16), b"ok")));
    assert_eq!(d.events, vec![Event::Incoming]);
    let mut buf = [0u8; 64];
    assert_eq!(h.s.metadata(StreamId(1), &mut buf), Ok(Some(16)));
    assert_eq!(&buf[..16], &block_of(16)[..]);
    let d = h.step(&data(3, flags::SYN | flags::META, &meta_payload(&block_of(17), b"")));
    expect_protocol_error(&mut h, &d, P::MetadataTooLarge, C::PROTOCOL_ERROR, 3);
    h
}

/// Header name_len must be >= 1.
/// Checks [S-5.11].
fn case_meta_empty_header_name(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 0, 0, 0])
}

/// A value running past meta_len.
/// Checks [S-5.11].
fn case_meta_value_overruns_block(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 1, 0, 5, b'x', b'y'])
}

/// A name running past meta_len.
/// Checks [S-5.11].
fn case_meta_name_overruns_block(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 9, 0, 0, b'x', b'y'])
}

/// Meta_len >= 4 (the stream type): 3 bytes.
/// Checks [S-5.11].
fn case_meta_shorter_than_stream_type(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 7])
}

/// Meta_len 0 is shorter than the stream type too.
/// Checks [S-5.11].
fn case_meta_len_zero(chunk: usize) -> Harness {
    malformed_meta(chunk, &[])
}

/// Headers must exactly fill meta_len: a trailing partial header.
/// Checks [S-5.11].
fn case_meta_trailing_partial_header(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 1, 0])
}

/// META without SYN from the opener (only the acceptor's first
/// frame may carry it) -> PROTOCOL_ERROR.
/// Checks [S-5.15].
fn case_meta_on_later_frame_from_opener(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&data(1, flags::META, &meta_payload(&meta_block(), b"")));
    expect_protocol_error(&mut h, &d, P::MetadataUnexpected, C::PROTOCOL_ERROR, 1);
    h
}

/// Reply metadata is allowed on the acceptor's first frame
/// only: META on its second frame -> PROTOCOL_ERROR.
/// Checks [S-5.15].
fn case_meta_on_second_reply_frame(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    assert_eq!(h.s.open(), Ok(StreamId(1)));
    h.drain();
    let d = h.step(&data(1, flags::META, &meta_payload(&block_of(10), b"hi")));
    assert_eq!(d.events, vec![Event::Readable(StreamId(1))]);
    let mut buf = [0u8; 16];
    assert_eq!(h.s.metadata(StreamId(1), &mut buf), Ok(Some(10)));
    let d = h.step(&data(1, flags::META, &meta_payload(&block_of(10), b"")));
    expect_protocol_error(&mut h, &d, P::MetadataUnexpected, C::PROTOCOL_ERROR, 0);
    h
}

/// The acceptor's first frame had no META: META on a later one
/// -> PROTOCOL_ERROR.
/// Checks [S-5.15].
fn case_meta_after_plain_reply(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    assert_eq!(h.s.open(), Ok(StreamId(1)));
    h.drain();
    let d = h.step(&data(1, 0, b"plain"));
    assert_eq!(d.events, vec![Event::Readable(StreamId(1))]);
    let d = h.step(&data(1, flags::META, &meta_payload(&meta_block(), b"")));
    expect_protocol_error(&mut h, &d, P::MetadataUnexpected, C::PROTOCOL_ERROR, 0);
    h
}

/// Metadata and its 2-byte length are outside flow control
/// (bounded by MAX_OPEN_METADATA instead): a SYN may carry a whole window
/// of data besides its metadata, and one byte more is a FLOW_CONTROL_ERROR.
/// Checks [S-5.14], [S-7.2].
fn case_meta_is_outside_the_stream_window(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let window = h.s.local_settings().initial_stream_window as usize;
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(&block_of(1000), &vec![9; window])));
    assert!(d.goaways().is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    let mut buf = vec![0u8; window + 1];
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(window));
    let d = h.step(&data(3, flags::SYN | flags::META, &meta_payload(&block_of(1000), &vec![9; window + 1])));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 3);
    h
}

/// The same holds for the session window.
/// Checks [S-5.14], [S-7.2].
fn case_meta_is_outside_the_session_window(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(1000), chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(&block_of(500), &[9; 1000])));
    assert!(d.goaways().is_empty(), "{:?}", d.frames);
    let d = h.step(&data(1, 0, &[9; 1]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    h
}

/// Metadata Length is checked as soon as its two bytes are in, before any
/// of the block arrives: a length above MAX_OPEN_METADATA is answered from
/// the header and the length field alone.
/// Checks [S-5.12].
fn case_meta_length_checked_before_the_block(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let mut partial = header(2 + 2000, ty::DATA, flags::SYN | flags::META, 1);
    partial.extend_from_slice(&2000u16.to_be_bytes());
    let d = h.step(&partial);
    expect_protocol_error(&mut h, &d, P::MetadataTooLarge, C::PROTOCOL_ERROR, 1);
    h
}

/// Well-formed blocks of every shape are taken: no header, several
/// headers, a repeated name, an empty value; and the acceptor's first DATA
/// frame may carry META with data and FIN.
/// Checks [S-5.11], [S-5.15].
fn case_well_formed_metadata_accepted(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    let a = h.s.open().unwrap();
    h.drain();
    let mut block = 9u32.to_be_bytes().to_vec();
    for (name, value) in [(&b"k"[..], &b"1"[..]), (b"k", b"2"), (b"empty", b"")] {
        block.push(u8::try_from(name.len()).unwrap());
        block.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        block.extend_from_slice(name);
        block.extend_from_slice(value);
    }
    let d = h.step(&data(a.0, flags::META | flags::FIN, &meta_payload(&block, b"body")));
    assert!(d.goaways().is_empty(), "{:?}", d.frames);
    assert_eq!(d.events, vec![Event::Readable(a), Event::Finished(a)]);
    let mut buf = [0u8; 64];
    assert_eq!(h.s.metadata(a, &mut buf), Ok(Some(block.len())));
    let m = braid::Metadata::parse(&buf[..block.len()]).unwrap();
    assert_eq!(m.stream_type, 9);
    assert_eq!(m.headers().count(), 3);
    assert_eq!(h.s.read(a, &mut buf), Ok(4));
    // A SYN with a block of only the stream type.
    let d = h.step(&data(2, flags::SYN | flags::META, &meta_payload(&meta_block(), b"")));
    assert_eq!(d.events, vec![Event::Incoming]);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// No metadata block the session sends is longer than the peer's
/// MAX_OPEN_METADATA: with 16 announced, `open_with` and `accept_with`
/// refuse 17 bytes (nothing is sent) and send 16; with 0 announced no
/// block at all can be sent.
/// Checks [S-5.13].
#[test]
fn no_metadata_longer_than_the_peers_limit() {
    let peer = settings_with(|s| s.max_open_metadata = 16);
    let mut h = Harness::connected_with(Config::server(), peer, WHOLE);
    assert_eq!(h.s.open_with(&block_of(17)), Err(OpenError::MetadataTooLarge));
    assert!(h.drain().frames.is_empty());
    let id = h.s.open_with(&block_of(16)).unwrap();
    let d = h.drain();
    assert_eq!(d.frames[0].metadata(), Some(&block_of(16)[..]));
    assert_eq!(d.frames[0].stream(), id.0);
    h.step(&syn(1, b""));
    assert_eq!(h.s.accept_with(&block_of(17)), Err(AcceptError::MetadataTooLarge));
    assert!(h.drain().frames.is_empty());
    assert_eq!(h.s.accept_with(&block_of(16)), Ok(StreamId(1)));
    let d = h.drain();
    assert_eq!(d.frames[0].metadata(), Some(&block_of(16)[..]));
    expect_sender_rules(&h);
    let peer = settings_with(|s| s.max_open_metadata = 0);
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    assert_eq!(h.s.open_with(&meta_block()), Err(OpenError::MetadataTooLarge));
    assert!(h.drain().frames.is_empty());
}

/// Metadata is outside flow control on the sending side too: with a
/// peer stream and session window of 10 bytes, a SYN carries a 100-byte
/// block and all 10 bytes of data; with no window at all, the SYN and the
/// reply still carry their blocks.
/// Checks [S-5.14].
#[test]
fn sent_metadata_uses_no_window() {
    let peer = settings_with(|s| {
        s.initial_stream_window = 10;
        s.session_window = 10;
    });
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    let a = h.s.open_with(&block_of(100)).unwrap();
    h.s.write(a, &[5; 30]).unwrap();
    let d = h.drain();
    assert_eq!(d.frames.len(), 1, "{:?}", d.frames);
    assert_eq!(d.frames[0].metadata(), Some(&block_of(100)[..]));
    assert_eq!(d.frames[0].data_part(), Some(&[5; 10][..]));
    assert_eq!(h.s.session_send_window(), 0);
    assert_eq!(h.s.stream_info(a).unwrap().send_window, 0);
    // No window at all.
    let peer = settings_with(|s| {
        s.initial_stream_window = 0;
        s.session_window = 0;
    });
    let mut h = Harness::connected_with(Config::server(), peer, WHOLE);
    h.step(&syn(1, b""));
    let b = h.s.open_with(&block_of(50)).unwrap();
    assert_eq!(h.s.accept_with(&block_of(60)), Ok(StreamId(1)));
    let d = h.drain();
    assert_eq!(d.frames.len(), 2, "{:?}", d.frames);
    assert_eq!((d.frames[0].stream(), d.frames[0].metadata()), (b.0, Some(&block_of(50)[..])));
    assert_eq!((d.frames[1].stream(), d.frames[1].metadata()), (1, Some(&block_of(60)[..])));
    expect_sender_rules(&h);
}

/// The session puts metadata only where the spec allows it: on its SYN
/// and on its first frame of a stream the peer opened, never later.
/// Checks [S-5.15].
#[test]
fn sent_metadata_only_on_the_syn_or_the_first_reply() {
    let mut h = Harness::server(WHOLE);
    let a = h.s.open_with(&block_of(10)).unwrap();
    h.s.write(a, b"x").unwrap();
    h.step(&syn(1, b""));
    assert_eq!(h.s.accept_with(&block_of(12)), Ok(StreamId(1)));
    h.s.write(StreamId(1), b"y").unwrap();
    h.drain();
    h.s.write(a, b"later").unwrap();
    h.s.write(StreamId(1), b"later").unwrap();
    h.drain();
    let meta: Vec<(u32, u8)> = h
        .all_frames()
        .iter()
        .filter_map(|f| match f {
            Out::Data { stream, flags: fl, .. } if fl & flags::META != 0 => Some((*stream, *fl)),
            _ => None,
        })
        .collect();
    assert_eq!(meta, vec![(a.0, flags::SYN | flags::META), (1, flags::META)]);
    expect_sender_rules(&h);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    meta_longer_than_max_open_metadata => case_meta_longer_than_max_open_metadata,
    meta_limit_edge => case_meta_limit_edge,
    meta_empty_header_name => case_meta_empty_header_name,
    meta_value_overruns_block => case_meta_value_overruns_block,
    meta_name_overruns_block => case_meta_name_overruns_block,
    meta_shorter_than_stream_type => case_meta_shorter_than_stream_type,
    meta_len_zero => case_meta_len_zero,
    meta_trailing_partial_header => case_meta_trailing_partial_header,
    meta_on_later_frame_from_opener => case_meta_on_later_frame_from_opener,
    meta_on_second_reply_frame => case_meta_on_second_reply_frame,
    meta_after_plain_reply => case_meta_after_plain_reply,
    meta_is_outside_the_stream_window => case_meta_is_outside_the_stream_window,
    meta_is_outside_the_session_window => case_meta_is_outside_the_session_window,
    meta_length_checked_before_the_block => case_meta_length_checked_before_the_block,
    well_formed_metadata_accepted => case_well_formed_metadata_accepted,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
