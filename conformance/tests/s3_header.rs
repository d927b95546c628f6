//! spec.md §3, the frame header: reserved bits and the chunking of the
//! input.

use braid::frame::{flags, FrameType, Settings};
use braid::{Config, ErrorCode as C, Event, ProtocolError as P, Role, StreamId};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// The reserved bit is masked on receipt: a PING whose
/// stream field is 0x8000_0000 is on stream 0.
/// Checks [S-3.2].
fn case_reserved_bit_masked(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::PING, 0, 0x8000_0000, b"reserved"));
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: *b"reserved" }]);
    // A SYN on 0x8000_0001 opens stream 1.
    let d = h.step(&raw(ty::DATA, flags::SYN, 0x8000_0001, b"r"));
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    expect_alive(&mut h);
    h
}

/// The increment's R bit is masked: 0x8000_0000 is an increment 0.
/// Checks [S-3.2], [S-4.5].
fn case_wndinc_zero_with_reserved_bit(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::WNDINC, 0, 0, &[0x80, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 0);
    h
}

/// R is ignored in the 31-bit fields of payloads too: a WNDINC with R set
/// raises the window by the 31-bit increment (session, stream and
/// credit), and a GOAWAY with R set names the 31-bit Last Stream Id.
/// Checks [S-3.2].
fn case_reserved_bits_in_payloads_ignored(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let window = h.s.session_send_window();
    let credit = h.s.send_credit();
    let stream = h.s.stream_info(StreamId(1)).unwrap().send_window;
    let r = |inc: u32| (inc | 0x8000_0000).to_be_bytes();
    let d = h.step(&cat(&[
        &raw(ty::WNDINC, 0, 0, &r(5)),
        &raw(ty::WNDINC, 0, 1, &r(6)),
        &raw(ty::WNDINC, flags::CREDIT, 0, &r(7)),
    ]));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.session_send_window(), window + 5);
    assert_eq!(h.s.stream_info(StreamId(1)).unwrap().send_window, stream + 6);
    assert_eq!(h.s.send_credit(), credit + 7);
    let mut g = r(1).to_vec();
    g.extend_from_slice(&C::NO_ERROR.0.to_be_bytes());
    let d = h.step(&raw(ty::GOAWAY, 0, 0x8000_0000, &g));
    assert_eq!(d.events, vec![Event::GoAway { last_stream: StreamId(1), code: C::NO_ERROR }]);
    assert_eq!(h.s.close_reason(), None);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// Every reserved bit the session writes is 0: the R bit of every frame
/// header, and of the increment of every WNDINC and the Last Stream Id of
/// every GOAWAY, over sessions of both roles that send every kind of frame.
/// Checks [S-3.1].
#[test]
fn every_reserved_bit_sent_is_zero() {
    for role in [Role::Client, Role::Server] {
        let h = every_frame_kind(role);
        let frames = split_frames(&h.sent[8..]);
        assert_eq!(frames.iter().map(|(_, b)| b.len()).sum::<usize>(), h.sent.len() - 8);
        for (header, bytes) in frames {
            assert_eq!(bytes[4] & 0x80, 0, "R set in the header of {header:?}");
            if matches!(header.kind, FrameType::WndInc | FrameType::GoAway) {
                assert_eq!(bytes[8] & 0x80, 0, "R set in the payload of {header:?}");
            }
        }
        expect_sender_rules(&h);
    }
}

/// A valid session's input (handshake, a stream opened with metadata and
/// data, a window update, a PING, data with FIN, an RST, a graceful
/// GOAWAY) cut in two at every byte position gives the same outcome as
/// fed whole: a frame may be split anywhere.
/// Checks [S-3.3].
#[test]
fn a_frame_split_anywhere_decodes_the_same() {
    let input = cat(&[
        &handshake(),
        &settings_ack(),
        &data(1, flags::SYN | flags::META, &meta_payload(&block_of(12), b"hello")),
        &wndinc(0, 1000),
        &ping(77),
        &data(1, flags::FIN, b" world"),
        &syn(3, b"x"),
        &rst(3, C::CANCEL),
        &goaway(0, C::NO_ERROR, b"bye"),
    ]);
    let run = |cut: usize| {
        let mut h = Harness::fresh(Config::server(), WHOLE);
        h.feed(&input[..cut]);
        h.feed(&input[cut..]);
        h.drain();
        h.transcript()
    };
    let whole = run(0);
    assert!(whole.events.contains(&Event::GoAway { last_stream: StreamId(0), code: C::NO_ERROR }));
    for cut in 1..input.len() {
        assert_eq!(run(cut), whole, "cut at {cut}");
    }
}

/// Many frames in one read: a hundred PINGs, WNDINCs and SYNs in a single
/// buffer are all processed, in order.
/// Checks [S-3.3].
#[test]
fn many_frames_in_one_read() {
    let mut h = Harness::connected(Config::server(), WHOLE);
    let mut input = Vec::new();
    for i in 0..100u64 {
        input.extend(ping(i));
        input.extend(wndinc(0, 1));
    }
    input.extend(syn(1, b"a"));
    input.extend(syn(3, b"b"));
    let d = h.step(&input);
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: 99u64.to_be_bytes() }]);
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.session_send_window(), Settings::DEFAULT.session_window + 100);
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    assert_eq!(h.s.accept(), Ok(StreamId(3)));
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    reserved_bit_masked => case_reserved_bit_masked,
    wndinc_zero_with_reserved_bit => case_wndinc_zero_with_reserved_bit,
    reserved_bits_in_payloads_ignored => case_reserved_bits_in_payloads_ignored,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
