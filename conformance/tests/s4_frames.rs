//! spec.md §4, frames: the stream-0 rules of each type, zero increments,
//! unknown types and flags, and the size checks of §4.8 — what the
//! session accepts, and what it sends.

use braid::frame::{flags, FrameType, Settings, MAX_PAYLOAD};
use braid::{Config, ErrorCode as C, Event, ProtocolError as P, Role, SessionState, StreamId};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// [Size checks] a fixed-size frame of the wrong size -> FRAME_SIZE_ERROR,
/// whatever its stream (checked at the header).
fn bad_length(chunk: usize, ty: u8, fl: u8, stream: u32, len: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty, fl, stream, &vec![1; len]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// RST on stream 0 -> PROTOCOL_ERROR.
/// Checks [S-4.1].
fn case_rst_on_stream_0(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::RST, 0, 0, &[0, 0, 0, 6]));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 0);
    h
}

/// DATA on stream 0 -> PROTOCOL_ERROR.
/// Checks [S-4.2].
fn case_data_on_stream_0(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::DATA, 0, 0, b"hello"));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 0);
    h
}

/// A SYN on stream 0 is DATA on stream 0.
/// Checks [S-4.2].
fn case_syn_on_stream_0(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::DATA, flags::SYN, 0, b""));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.stats().streams_incoming, 0);
    h
}

/// Meta_len + 2 > frame length -> FRAME_SIZE_ERROR.
/// Checks [S-4.3].
fn case_meta_len_overruns_frame(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let mut p = 20u16.to_be_bytes().to_vec();
    p.extend_from_slice(&block_of(8));
    let d = h.step(&data(1, flags::SYN | flags::META, &p));
    expect_protocol_error(&mut h, &d, P::MetadataOverrun, C::FRAME_SIZE_ERROR, 1);
    h
}

/// A META frame too short for the 2-byte length itself ->
/// FRAME_SIZE_ERROR.
/// Checks [S-4.3].
fn case_meta_frame_shorter_than_length_field(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &[0]));
    expect_protocol_error(&mut h, &d, P::MetadataOverrun, C::FRAME_SIZE_ERROR, 1);
    h
}

/// An empty META frame -> FRAME_SIZE_ERROR.
/// Checks [S-4.3].
fn case_meta_frame_empty(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &[]));
    expect_protocol_error(&mut h, &d, P::MetadataOverrun, C::FRAME_SIZE_ERROR, 1);
    h
}

/// Increment 0 on stream 0 -> PROTOCOL_ERROR.
/// Checks [S-4.5].
fn case_wndinc_zero_on_session(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::WNDINC, 0, 0, &[0, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 0);
    h
}

/// Increment 0 on a live stream -> PROTOCOL_ERROR.
/// Checks [S-4.5].
fn case_wndinc_zero_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&raw(ty::WNDINC, 0, 1, &[0, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 1);
    h
}

/// A CREDIT increment of 0 is an increment 0 too.
/// Checks [S-4.5].
fn case_credit_zero(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::WNDINC, flags::CREDIT, 0, &[0, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 0);
    h
}

/// GOAWAY on a stream != 0 -> PROTOCOL_ERROR.
/// Checks [S-4.6].
fn case_goaway_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::GOAWAY, 0, 3, &[0; 8]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// SETTINGS on a stream != 0 -> PROTOCOL_ERROR (as the
/// first frame).
/// Checks [S-4.7].
fn case_settings_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::SETTINGS, 0, 1, &[])]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// A SETTINGS ACK on a stream != 0 -> PROTOCOL_ERROR.
/// Checks [S-4.7].
fn case_settings_ack_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &raw(ty::SETTINGS, flags::ACK, 5, &[])]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// PING on a stream != 0 -> PROTOCOL_ERROR.
/// Checks [S-4.8].
fn case_ping_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::PING, 0, 1, &[0; 8]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// Types 6..15 are skipped with their payload (even one that
/// looks like frames) and ignored.
/// Checks [S-4.9].
fn case_unknown_types_skipped(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let decoy = cat(&[&goaway(0, C::PROTOCOL_ERROR, b"decoy"), &ping(666)]);
    let mut input = Vec::new();
    for t in 6..=15u8 {
        input.extend(raw(t, t & 0xF, u32::from(t) * 3, &decoy));
        input.extend(raw(t, 0, 0, &[]));
    }
    // Longer than any control frame buffer: skipped as it streams past.
    input.extend(raw(12, 0, 1, &repeat(&decoy, 200)));
    input.extend(ping(42));
    let d = h.step(&input);
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: 42u64.to_be_bytes() }]);
    assert!(d.events.is_empty(), "{:?}", d.events);
    assert_eq!(h.s.remote_go_away(), None);
    h
}

/// Unknown types are still limited by the max frame size.
/// Checks [S-4.9], [S-4.12].
fn case_unknown_type_larger_than_max_frame_size(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&header(16_385, 9, 0, 0));
    expect_protocol_error(&mut h, &d, P::FrameTooLarge, C::FRAME_SIZE_ERROR, 0);
    h
}

/// Unknown flag bits, and flags defined for another type,
/// are ignored.
/// Checks [S-4.11].
fn case_unknown_flags_ignored(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    // SETTINGS with every flag but ACK.
    let d = h.step(&cat(&[
        &preface(),
        &raw(ty::SETTINGS, 0xE, 0, &settings(Settings::DEFAULT)[8..]),
        &settings_ack(),
    ]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    // PING with unknown bits: still a PING (not an ACK), answered.
    let d = h.step(&raw(ty::PING, 0xE, 0, b"flagged!"));
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: *b"flagged!" }]);
    // DATA: SYN plus the unknown bit 0x8 opens a stream and delivers data.
    let d = h.step(&data(1, flags::SYN | 0x8, b"data"));
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    let mut buf = [0u8; 8];
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(4));
    // WNDINC on a stream with every flag: CREDIT is only defined on stream 0.
    let credit_before = h.s.send_credit();
    let d = h.step(&raw(ty::WNDINC, 0xF, 1, &100u32.to_be_bytes()));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.send_credit(), credit_before);
    let info = h.s.stream_info(StreamId(1)).unwrap();
    assert_eq!(info.send_window, Settings::DEFAULT.initial_stream_window + 100);
    // WNDINC on stream 0 with META|0x8 (DATA's flags): a session increment.
    let window = h.s.session_send_window();
    h.step(&raw(ty::WNDINC, flags::META | 0x8, 0, &7u32.to_be_bytes()));
    assert_eq!(h.s.session_send_window(), window + 7);
    assert_eq!(h.s.send_credit(), credit_before);
    // RST with every flag: a reset all the same.
    let d = h.step(&raw(ty::RST, 0xF, 1, &C::CANCEL.0.to_be_bytes()));
    assert_eq!(d.events, vec![Event::Reset { id: StreamId(1), code: C::CANCEL, remote: true }]);
    // PING ACK with extra bits and no ping outstanding: ignored.
    let d = h.step(&raw(ty::PING, 0xF, 0, &[0; 8]));
    assert!(d.sans_credit().is_empty() && d.events.is_empty(), "{d:?}");
    // GOAWAY with every flag: a GOAWAY all the same.
    let d = h.step(&raw(ty::GOAWAY, 0xF, 0, &[0, 0, 0, 0, 0, 0, 0, 0]));
    assert!(
        d.events.contains(&Event::GoAway { last_stream: StreamId(0), code: C::NO_ERROR }),
        "{:?}",
        d.events
    );
    h
}

/// SETTINGS non-ACK length not a multiple of 6 ->
/// FRAME_SIZE_ERROR.
/// Checks [S-4.12].
fn case_settings_length_not_multiple_of_6(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::SETTINGS, 0, 0, &[0, 1, 0, 0, 1, 0, 0])]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// SETTINGS longer than 192 bytes (33 entries) ->
/// FRAME_SIZE_ERROR, checked at the header.
/// Checks [S-4.12].
fn case_settings_longer_than_192(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let entries: Vec<(u16, u32)> = (0..33).map(|i| (0x100 + i, 0)).collect();
    let f = settings_entries(&entries);
    assert_eq!(frame_len(&f), 198);
    let d = h.step(&cat(&[&preface(), &f]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// 192 bytes (32 entries, unknown ids ignored) is the limit
/// and is accepted, even with a MAX_FRAME_SIZE of 64: SETTINGS is checked
/// against 192, not against the max frame size.
/// Checks [S-4.12], [S-6.3].
fn case_settings_of_192_accepted_despite_small_max_frame_size(chunk: usize) -> Harness {
    let mut config = Config::server();
    config.max_frame_size = 64;
    let mut h = Harness::fresh(config, chunk);
    assert_eq!(h.s.local_settings().max_frame_size, 64);
    let entries: Vec<(u16, u32)> = (0..32).map(|i| (0x100 + i, 0xFFFF_FFFF)).collect();
    let d = h.step(&cat(&[&preface(), &settings_entries(&entries), &settings_ack()]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    assert_eq!(d.events, vec![Event::Connected]);
    assert_eq!(h.s.peer_settings(), Some(&Settings::DEFAULT));
    expect_alive(&mut h);
    h
}

/// SETTINGS ACK with a payload -> FRAME_SIZE_ERROR.
/// Checks [S-4.12].
fn case_settings_ack_with_payload(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &raw(ty::SETTINGS, flags::ACK, 0, &[0, 1, 0, 0, 0, 1])]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// RST != 4: 3.
/// Checks [S-4.12].
fn case_rst_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::RST, 0, 1, 3)
}

/// RST != 4: 5.
/// Checks [S-4.12].
fn case_rst_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::RST, 0, 1, 5)
}

/// WNDINC != 4: 3.
/// Checks [S-4.12].
fn case_wndinc_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::WNDINC, 0, 0, 3)
}

/// WNDINC != 4: 5 (on a stream).
/// Checks [S-4.12].
fn case_wndinc_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::WNDINC, 0, 1, 5)
}

/// PING != 8: 7.
/// Checks [S-4.12].
fn case_ping_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::PING, 0, 0, 7)
}

/// PING != 8: 9 (an ACK).
/// Checks [S-4.12].
fn case_ping_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::PING, flags::ACK, 0, 9)
}

/// PING != 8: an empty PING.
/// Checks [S-4.12].
fn case_ping_empty(chunk: usize) -> Harness {
    bad_length(chunk, ty::PING, 0, 0, 0)
}

/// GOAWAY < 8.
/// Checks [S-4.12].
fn case_goaway_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::GOAWAY, 0, 0, 7)
}

/// GOAWAY > 72 (debug over 64 bytes).
/// Checks [S-4.12].
fn case_goaway_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::GOAWAY, 0, 0, 73)
}

/// The size edges, 8 and 72, are accepted: a GOAWAY with 64 debug
/// bytes is taken whole.
/// Checks [S-4.12].
fn case_goaway_size_edges_accepted(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&raw(ty::GOAWAY, 0, 0, &[0; 8]));
    assert_eq!(d.events, vec![Event::GoAway { last_stream: StreamId(0), code: C::NO_ERROR }]);
    let debug = [b'd'; 64];
    let d = h.step(&goaway(0, C::NO_ERROR, &debug));
    assert_eq!(frame_len(&goaway(0, C::NO_ERROR, &debug)), 72);
    assert_eq!(d.events, vec![Event::GoAway { last_stream: StreamId(0), code: C::NO_ERROR }]);
    assert_eq!(h.s.remote_debug(), &debug[..]);
    assert_eq!(h.s.state(), SessionState::Draining);
    assert_eq!(h.s.close_reason(), None);
    h
}

/// DATA longer than this side's MAX_FRAME_SIZE ->
/// FRAME_SIZE_ERROR at the header, before anything is charged or stored.
/// Checks [S-4.12].
fn case_data_larger_than_max_frame_size(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let len = h.s.local_settings().max_frame_size + 1;
    let d = h.step(&cat(&[&header(len, ty::DATA, 0, 1), &vec![0; len as usize]]));
    expect_protocol_error(&mut h, &d, P::FrameTooLarge, C::FRAME_SIZE_ERROR, 1);
    assert_eq!(h.s.stats().data_received, 0);
    h
}

/// With MAX_FRAME_SIZE 64: 64 bytes of DATA pass, 65 fail.
/// Checks [S-4.12].
fn case_data_larger_than_small_max_frame_size(chunk: usize) -> Harness {
    let mut config = Config::server();
    config.max_frame_size = 64;
    let mut h = Harness::connected(config, chunk);
    let d = h.step(&syn(1, &[7; 64]));
    assert_eq!(d.events, vec![Event::Incoming]);
    let d = h.step(&data(1, 0, &[7; 65]));
    expect_protocol_error(&mut h, &d, P::FrameTooLarge, C::FRAME_SIZE_ERROR, 1);
    assert_eq!(h.s.stats().data_received, 64);
    h
}

/// A PING (fixed 8) announcing more than the max frame size
/// is a frame size error too.
/// Checks [S-4.12].
fn case_ping_larger_than_max_frame_size(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&header(0x00FF_FFFF, ty::PING, 0, 0));
    expect_protocol_error(&mut h, &d, P::FrameTooLarge, C::FRAME_SIZE_ERROR, 0);
    h
}

/// A header that breaks the size table is answered as soon as its 8
/// bytes are in: none of the payload is needed (here none is sent).
fn header_alone(chunk: usize, head: Vec<u8>, e: P, last: u32) -> Harness {
    let mut h = Harness::server(chunk);
    if last > 0 {
        h.open_accepted(last, b"");
    }
    assert_eq!(head.len(), 8);
    let d = h.step(&head);
    expect_protocol_error(&mut h, &d, e, e.code(), last);
    h
}

/// An RST header announcing 5 bytes: answered from the header alone.
/// Checks [S-4.12].
fn case_header_alone_rst_too_long(chunk: usize) -> Harness {
    header_alone(chunk, header(5, ty::RST, 0, 1), P::BadFrameLength, 1)
}

/// A WNDINC header announcing 3 bytes: answered from the header alone.
/// Checks [S-4.12].
fn case_header_alone_wndinc_too_short(chunk: usize) -> Harness {
    header_alone(chunk, header(3, ty::WNDINC, 0, 0), P::BadFrameLength, 0)
}

/// A PING header announcing 7 bytes: answered from the header alone.
/// Checks [S-4.12].
fn case_header_alone_ping_too_short(chunk: usize) -> Harness {
    header_alone(chunk, header(7, ty::PING, 0, 0), P::BadFrameLength, 0)
}

/// A GOAWAY header announcing 73 bytes: answered from the header alone.
/// Checks [S-4.12].
fn case_header_alone_goaway_too_long(chunk: usize) -> Harness {
    header_alone(chunk, header(73, ty::GOAWAY, 0, 0), P::BadFrameLength, 0)
}

/// A SETTINGS ACK header announcing 6 bytes: answered from the header alone.
/// Checks [S-4.12].
fn case_header_alone_settings_ack_with_payload(chunk: usize) -> Harness {
    header_alone(chunk, header(6, ty::SETTINGS, flags::ACK, 0), P::BadFrameLength, 0)
}

/// A DATA header announcing 2^24-1 bytes on a live stream: answered from
/// the header alone, before a byte is charged or stored.
/// Checks [S-4.12].
fn case_header_alone_data_too_large(chunk: usize) -> Harness {
    let h = header_alone(chunk, header(MAX_PAYLOAD, ty::DATA, 0, 1), P::FrameTooLarge, 1);
    assert_eq!(h.s.stats().data_received, 0);
    h
}

/// A frame of unknown type announcing more than MAX_FRAME_SIZE: answered
/// from the header alone.
/// Checks [S-4.12], [S-4.9].
fn case_header_alone_unknown_type_too_large(chunk: usize) -> Harness {
    header_alone(chunk, header(16_385, 11, 0, 0), P::FrameTooLarge, 0)
}

/// A first SETTINGS header announcing 198 bytes: answered from the header
/// alone, before the handshake completes.
/// Checks [S-4.12].
fn case_header_alone_settings_too_long(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &header(198, ty::SETTINGS, 0, 0)]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// No WNDINC the session sends has an Increment of 0: not over a whole
/// session of every kind of frame (both roles), not when the application
/// reads one byte at a time and drains after every read, and not when
/// discarded data is refunded.
/// Checks [S-4.4].
#[test]
fn no_wndinc_of_zero_is_ever_sent() {
    for role in [Role::Client, Role::Server] {
        let h = every_frame_kind(role);
        for (header, bytes) in split_frames(&h.sent[8..]) {
            if header.kind == FrameType::WndInc {
                let inc = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) & 0x7FFF_FFFF;
                assert!(inc > 0, "{header:?}");
            }
        }
        expect_sender_rules(&h);
    }
    let mut config = Config::server();
    config.session_window = 3000;
    config.session_window_max = 3000;
    let mut h = Harness::connected(config, WHOLE);
    h.open_accepted(1, &[7; 3000]);
    let mut got = 0;
    let mut returned = 0;
    let mut buf = [0u8; 1];
    while h.s.read(StreamId(1), &mut buf) == Ok(1) {
        got += 1;
        for f in h.drain().frames {
            match f {
                Out::WndInc { increment, stream: 1, .. } => {
                    assert!(increment > 0);
                    returned += increment;
                }
                Out::WndInc { increment, .. } => assert!(increment > 0),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(got, 3000);
    assert!(returned >= 1536, "the stream window came back: {returned}");
    // Discarded data is refunded by a non-zero session WNDINC.
    h.s.reset(StreamId(1), C::CANCEL).unwrap();
    h.drain();
    let d = h.step(&data(1, 0, &[1; 1600]));
    assert!(d.frames.iter().all(|f| !matches!(f, Out::WndInc { increment: 0, .. })), "{:?}", d.frames);
    expect_sender_rules(&h);
}

/// Every flag bit the session sets is defined for its frame's type: FIN,
/// SYN and META on DATA; CREDIT on a WNDINC on stream 0 only; ACK on
/// SETTINGS and PING; none on RST and GOAWAY. Both roles, every kind of
/// frame.
/// Checks [S-4.10].
#[test]
fn no_undefined_flag_is_ever_sent() {
    for role in [Role::Client, Role::Server] {
        let h = every_frame_kind(role);
        for (header, _) in split_frames(&h.sent[8..]) {
            let defined = match header.kind {
                FrameType::Data => flags::FIN | flags::SYN | flags::META,
                FrameType::WndInc if header.stream.0 == 0 => flags::CREDIT,
                FrameType::Settings | FrameType::Ping => flags::ACK,
                FrameType::Rst | FrameType::GoAway | FrameType::WndInc => 0,
                FrameType::Unknown(t) => panic!("sent a frame of unknown type {t}"),
            };
            assert_eq!(header.flags & !defined, 0, "undefined flags on {header:?}");
        }
        expect_sender_rules(&h);
    }
}

/// With a peer that announces the smallest MAX_FRAME_SIZE, 64, nothing
/// the session sends is longer: data is cut into frames of at most 64
/// bytes, metadata plus its length field fits one frame (a block of 63
/// bytes is refused by `open_with`), and a GOAWAY's debug data is cut to
/// 56 bytes.
/// Checks [S-4.13].
#[test]
fn nothing_sent_exceeds_the_peers_max_frame_size() {
    let peer = settings_with(|s| s.max_frame_size = 64);
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    assert_eq!(h.s.open_with(&block_of(63)), Err(braid::OpenError::MetadataTooLarge));
    let id = h.s.open_with(&block_of(62)).unwrap();
    h.s.write(id, &[3; 1000]).unwrap();
    h.s.finish(id).unwrap();
    let d = h.drain();
    assert_eq!(d.frames[0].metadata(), Some(&block_of(62)[..]));
    assert_eq!(d.frames[0].data_part(), Some(&[][..]), "no room for data beside the metadata");
    let data: usize = d.frames.iter().filter_map(Out::data_part).map(<[u8]>::len).sum();
    assert_eq!(data, 1000);
    assert!(d.frames.last().unwrap().is_data_with(flags::FIN));
    h.s.go_away(C::NO_ERROR, &[b'd'; 64]).unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: vec![b'd'; 56] }]);
    for (header, _) in split_frames(&h.sent[8..]) {
        if header.kind != FrameType::Settings {
            assert!(header.length <= 64, "{header:?} is longer than the peer's 64");
        }
    }
    expect_sender_rules(&h);
}

/// Until the peer's SETTINGS arrives the session assumes a MAX_FRAME_SIZE
/// of 64: a GOAWAY with 64 bytes of debug data sent before the handshake
/// completes is cut to 56 debug bytes, even if the peer will announce more.
/// Checks [S-4.13].
#[test]
fn before_the_peers_settings_frames_fit_64_bytes() {
    let mut h = Harness::fresh(Config::server(), WHOLE);
    h.s.go_away(C::NO_ERROR, &[b'x'; 64]).unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: vec![b'x'; 56] }]);
    // The same after the peer's preface but before its SETTINGS.
    let mut h = Harness::fresh(Config::server(), WHOLE);
    h.feed(&preface());
    h.s.go_away(C::NO_ERROR, &[b'y'; 64]).unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: vec![b'y'; 56] }]);
    expect_sender_rules(&h);
    // Once the peer's default SETTINGS are in, 64 debug bytes fit.
    let mut h = Harness::server(WHOLE);
    h.s.go_away(C::NO_ERROR, &[b'z'; 64]).unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: vec![b'z'; 64] }]);
}

/// Every frame the session sends has a length the size table allows (RST
/// and WNDINC 4, PING 8, GOAWAY 8 to 72, SETTINGS a multiple of 6 up to
/// 192, its ACK 0, a META frame at least 2 plus its metadata), for both
/// roles over every kind of frame.
/// Checks [S-4.13].
#[test]
fn every_frame_sent_has_an_allowed_length() {
    for role in [Role::Client, Role::Server] {
        let h = every_frame_kind(role);
        for (header, bytes) in split_frames(&h.sent[8..]) {
            let len = header.length as usize;
            let ok = match header.kind {
                FrameType::Rst | FrameType::WndInc => len == 4,
                FrameType::Ping => len == 8,
                FrameType::GoAway => (8..=72).contains(&len),
                FrameType::Settings if header.has(flags::ACK) => len == 0,
                FrameType::Settings => len.is_multiple_of(6) && len <= 192,
                FrameType::Data if header.has(flags::META) => {
                    len >= 2 && 2 + usize::from(u16::from_be_bytes([bytes[8], bytes[9]])) <= len
                }
                _ => true,
            };
            assert!(ok, "{header:?}");
            assert!(header.kind == FrameType::Settings || header.length <= Settings::DEFAULT.max_frame_size);
        }
        expect_sender_rules(&h);
    }
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    rst_on_stream_0 => case_rst_on_stream_0,
    data_on_stream_0 => case_data_on_stream_0,
    syn_on_stream_0 => case_syn_on_stream_0,
    meta_len_overruns_frame => case_meta_len_overruns_frame,
    meta_frame_shorter_than_length_field => case_meta_frame_shorter_than_length_field,
    meta_frame_empty => case_meta_frame_empty,
    wndinc_zero_on_session => case_wndinc_zero_on_session,
    wndinc_zero_on_stream => case_wndinc_zero_on_stream,
    credit_zero => case_credit_zero,
    goaway_on_stream => case_goaway_on_stream,
    settings_on_stream => case_settings_on_stream,
    settings_ack_on_stream => case_settings_ack_on_stream,
    ping_on_stream => case_ping_on_stream,
    unknown_types_skipped => case_unknown_types_skipped,
    unknown_type_larger_than_max_frame_size => case_unknown_type_larger_than_max_frame_size,
    unknown_flags_ignored => case_unknown_flags_ignored,
    settings_length_not_multiple_of_6 => case_settings_length_not_multiple_of_6,
    settings_longer_than_192 => case_settings_longer_than_192,
    settings_of_192_accepted => case_settings_of_192_accepted_despite_small_max_frame_size,
    settings_ack_with_payload => case_settings_ack_with_payload,
    rst_too_short => case_rst_too_short,
    rst_too_long => case_rst_too_long,
    wndinc_too_short => case_wndinc_too_short,
    wndinc_too_long => case_wndinc_too_long,
    ping_too_short => case_ping_too_short,
    ping_too_long => case_ping_too_long,
    ping_empty => case_ping_empty,
    goaway_too_short => case_goaway_too_short,
    goaway_too_long => case_goaway_too_long,
    goaway_size_edges_accepted => case_goaway_size_edges_accepted,
    data_larger_than_max_frame_size => case_data_larger_than_max_frame_size,
    data_larger_than_small_max_frame_size => case_data_larger_than_small_max_frame_size,
    ping_larger_than_max_frame_size => case_ping_larger_than_max_frame_size,
    header_alone_rst_too_long => case_header_alone_rst_too_long,
    header_alone_wndinc_too_short => case_header_alone_wndinc_too_short,
    header_alone_ping_too_short => case_header_alone_ping_too_short,
    header_alone_goaway_too_long => case_header_alone_goaway_too_long,
    header_alone_settings_ack_with_payload => case_header_alone_settings_ack_with_payload,
    header_alone_data_too_large => case_header_alone_data_too_large,
    header_alone_unknown_type_too_large => case_header_alone_unknown_type_too_large,
    header_alone_settings_too_long => case_header_alone_settings_too_long,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
