//! Malformed and hostile input: a scripted raw peer talks to one real
//! `braid::Session` in raw bytes and checks the exact answer (the GOAWAY's
//! code and last stream id, the close reason, RSTs, window updates).
//!
//! Every rule tested here is from the protocol notes (the source of
//! spec.md); each test's comment names the rule. Each case is a function of
//! the chunk size the input is fed in, so that
//! `every_input_gives_the_same_outcome_fed_byte_by_byte` can run every one
//! of them fed whole, one byte at a time and in odd chunks, and compare
//! everything observable.

mod raw_peer;

use braid::frame::{flags, Settings, MAX_WINDOW};
use braid::{
    AcceptError, CloseReason, Config, ErrorCode as C, Event, Instant, LocalError, ProtocolError as P,
    SessionState, StreamId,
};
use raw_peer::*;

/// A case: drive a session with input fed in chunks of the given size,
/// assert the outcome, and hand the session back for comparison.
type Case = fn(usize) -> Harness;

/// Feed every step in one piece.
const WHOLE: usize = usize::MAX;

fn run(case: Case) {
    case(WHOLE);
}

// =============================================================================
// Preface
// =============================================================================

/// [Preface] first 7 bytes differ from the magic -> BadPreface, GOAWAY
/// PROTOCOL_ERROR.
fn case_bad_preface_magic(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[b"BRAIX\r\n\x01", &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::BadPreface, C::PROTOCOL_ERROR, 0);
    h
}

/// [Preface] another protocol entirely (an HTTP request) -> BadPreface.
fn case_http_request_instead_of_preface(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_protocol_error(&mut h, &d, P::BadPreface, C::PROTOCOL_ERROR, 0);
    h
}

/// [Preface] version byte != 1 -> GOAWAY UNSUPPORTED_VERSION (11).
fn case_unsupported_version(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[b"BRAID\r\n\x02", &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::UnsupportedVersion(2), C::UNSUPPORTED_VERSION, 0);
    assert_eq!(C::UNSUPPORTED_VERSION.0, 11);
    h
}

/// [Preface] version 0 is not 1 either.
fn case_version_zero(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::client(), chunk);
    let d = h.step(b"BRAID\r\n\x00");
    expect_protocol_error(&mut h, &d, P::UnsupportedVersion(0), C::UNSUPPORTED_VERSION, 0);
    h
}

/// [Preface] a violation found before this side sent anything: its
/// preface and SETTINGS still go out before the GOAWAY.
fn case_error_before_own_preface_sends_preface_first(chunk: usize) -> Harness {
    let mut h = Harness::raw(Config::server(), chunk);
    let d = h.step(b"BRAIX\r\n\x01");
    assert!(matches!(d.frames[0], Out::Settings(_)), "{:?}", d.frames);
    assert_eq!(d.frames.len(), 2);
    expect_protocol_error(&mut h, &d, P::BadPreface, C::PROTOCOL_ERROR, 0);
    h
}

/// [Preface] first frame after the preface must be SETTINGS: PING first ->
/// PROTOCOL_ERROR.
fn case_first_frame_ping(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &ping(1), &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

/// [Preface] first frame a SETTINGS ACK (not a non-ACK SETTINGS) ->
/// PROTOCOL_ERROR.
fn case_first_frame_settings_ack(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &settings_ack(), &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

/// [Preface] DATA (a SYN) before the peer's SETTINGS -> PROTOCOL_ERROR, and
/// no stream is created.
fn case_first_frame_syn(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &syn(1, b"early")]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.stats().streams_incoming, 0);
    h
}

/// [Preface] WNDINC before the peer's SETTINGS -> PROTOCOL_ERROR.
fn case_first_frame_wndinc(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &wndinc(0, 100)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

/// [Frame types] unknown types are skipped, but the first frame must still
/// be SETTINGS.
fn case_first_frame_unknown_type(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(9, 0, 0, b"xx"), &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

// =============================================================================
// SETTINGS
// =============================================================================

/// [Settings] SETTINGS is sent exactly once: a second non-ACK SETTINGS ->
/// PROTOCOL_ERROR.
fn case_second_settings(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&settings(Settings::DEFAULT));
    expect_protocol_error(&mut h, &d, P::SettingsRepeated, C::PROTOCOL_ERROR, 0);
    h
}

/// [Settings] a second SETTINGS right behind the first, in the same read.
fn case_second_settings_back_to_back(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &settings_entries(&[(1, 100)])]));
    expect_protocol_error(&mut h, &d, P::SettingsRepeated, C::PROTOCOL_ERROR, 0);
    h
}

/// [Settings] an ACK when this side had no SETTINGS outstanding (it has
/// not even sent its own yet) -> PROTOCOL_ERROR.
fn case_settings_ack_unexpected(chunk: usize) -> Harness {
    let mut h = Harness::raw(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &settings_ack()]));
    expect_protocol_error(&mut h, &d, P::UnexpectedSettingsAck, C::PROTOCOL_ERROR, 0);
    h
}

/// [Settings] exactly one ACK answers a SETTINGS: a second ACK ->
/// PROTOCOL_ERROR.
fn case_settings_ack_twice(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&settings_ack());
    expect_protocol_error(&mut h, &d, P::UnexpectedSettingsAck, C::PROTOCOL_ERROR, 0);
    h
}

/// [Size checks] SETTINGS non-ACK length not a multiple of 6 ->
/// FRAME_SIZE_ERROR.
fn case_settings_length_not_multiple_of_6(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::SETTINGS, 0, 0, &[0, 1, 0, 0, 1, 0, 0])]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// [Size checks] SETTINGS longer than 192 bytes (33 entries) ->
/// FRAME_SIZE_ERROR, checked at the header.
fn case_settings_longer_than_192(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let entries: Vec<(u16, u32)> = (0..33).map(|i| (0x100 + i, 0)).collect();
    let f = settings_entries(&entries);
    assert_eq!(frame_len(&f), 198);
    let d = h.step(&cat(&[&preface(), &f]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// [Size checks] 192 bytes (32 entries, unknown ids ignored) is the limit
/// and is accepted, even with a MAX_FRAME_SIZE of 64: SETTINGS is checked
/// against 192, not against the max frame size.
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

/// [Size checks] SETTINGS ACK with a payload -> FRAME_SIZE_ERROR.
fn case_settings_ack_with_payload(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &raw(ty::SETTINGS, flags::ACK, 0, &[0, 1, 0, 0, 0, 1])]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// [Settings] a value out of range -> PROTOCOL_ERROR.
fn settings_out_of_range(chunk: usize, id: u16, value: u32) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &settings_entries(&[(3, 8), (id, value), (4, 1000)])]));
    expect_protocol_error(&mut h, &d, P::SettingOutOfRange, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.peer_settings(), None);
    h
}

/// [Settings] 1 INITIAL_STREAM_WINDOW is 0..=2^31-1.
fn case_setting_initial_stream_window_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 1, 0x8000_0000)
}

/// [Settings] 2 MAX_FRAME_SIZE is 64..=16777215: 63 is too small.
fn case_setting_max_frame_size_too_small(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 2, 63)
}

/// [Settings] 2 MAX_FRAME_SIZE is 64..=16777215: 0 is too small.
fn case_setting_max_frame_size_zero(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 2, 0)
}

/// [Settings] 2 MAX_FRAME_SIZE is 64..=16777215: 2^24 is too large.
fn case_setting_max_frame_size_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 2, 1 << 24)
}

/// [Settings] 3 STREAM_CREDIT is 0..=2^31-1.
fn case_setting_stream_credit_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 3, 0x8000_0000)
}

/// [Settings] 4 SESSION_WINDOW is 0..=2^31-1.
fn case_setting_session_window_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 4, u32::MAX)
}

/// [Settings] 5 MAX_OPEN_METADATA is 0..=65535.
fn case_setting_max_open_metadata_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 5, 65_536)
}

/// [Settings] every range's edge is accepted (6 IDLE_TIMEOUT takes any
/// u32), unknown ids are ignored and the last of duplicate ids wins.
fn case_settings_range_edges_accepted(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let f = settings_entries(&[
        (1, MAX_WINDOW),
        (2, 0x00FF_FFFF),
        (3, MAX_WINDOW),
        (4, MAX_WINDOW),
        (5, 65_535),
        (6, u32::MAX),
        (0x77, 12345),
        (0, 1),
        (2, 64),
    ]);
    let d = h.step(&cat(&[&preface(), &f, &settings_ack()]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    let want = Settings {
        initial_stream_window: MAX_WINDOW,
        max_frame_size: 64,
        stream_credit: MAX_WINDOW,
        session_window: MAX_WINDOW,
        max_open_metadata: 65_535,
        idle_timeout_ms: u32::MAX,
    };
    assert_eq!(h.s.peer_settings(), Some(&want));
    assert_eq!(h.s.send_credit(), MAX_WINDOW);
    assert_eq!(h.s.session_send_window(), MAX_WINDOW);
    expect_alive(&mut h);
    h
}

/// [Settings] an empty SETTINGS is valid: every setting takes its default.
fn case_settings_empty_takes_defaults(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::SETTINGS, 0, 0, &[]), &settings_ack()]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    assert_eq!(h.s.peer_settings(), Some(&Settings::DEFAULT));
    expect_alive(&mut h);
    h
}

// =============================================================================
// Fixed sizes, MAX_FRAME_SIZE, stream 0
// =============================================================================

/// [Size checks] a fixed-size frame of the wrong size -> FRAME_SIZE_ERROR,
/// whatever its stream (checked at the header).
fn bad_length(chunk: usize, ty: u8, fl: u8, stream: u32, len: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty, fl, stream, &vec![1; len]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    h
}

/// [Size checks] RST != 4: 3.
fn case_rst_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::RST, 0, 1, 3)
}

/// [Size checks] RST != 4: 5.
fn case_rst_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::RST, 0, 1, 5)
}

/// [Size checks] WNDINC != 4: 3.
fn case_wndinc_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::WNDINC, 0, 0, 3)
}

/// [Size checks] WNDINC != 4: 5 (on a stream).
fn case_wndinc_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::WNDINC, 0, 1, 5)
}

/// [Size checks] PING != 8: 7.
fn case_ping_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::PING, 0, 0, 7)
}

/// [Size checks] PING != 8: 9 (an ACK).
fn case_ping_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::PING, flags::ACK, 0, 9)
}

/// [Size checks] PING != 8: an empty PING.
fn case_ping_empty(chunk: usize) -> Harness {
    bad_length(chunk, ty::PING, 0, 0, 0)
}

/// [Size checks] GOAWAY < 8.
fn case_goaway_too_short(chunk: usize) -> Harness {
    bad_length(chunk, ty::GOAWAY, 0, 0, 7)
}

/// [Size checks] GOAWAY > 72 (debug over 64 bytes).
fn case_goaway_too_long(chunk: usize) -> Harness {
    bad_length(chunk, ty::GOAWAY, 0, 0, 73)
}

/// [GOAWAY] the size edges, 8 and 72, are accepted: a GOAWAY with 64 debug
/// bytes is taken whole.
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

/// [Size checks] DATA longer than this side's MAX_FRAME_SIZE ->
/// FRAME_SIZE_ERROR at the header, before anything is charged or stored.
fn case_data_larger_than_max_frame_size(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let len = h.s.local_settings().max_frame_size + 1;
    let d = h.step(&cat(&[&header(len, ty::DATA, 0, 1), &vec![0; len as usize]]));
    expect_protocol_error(&mut h, &d, P::FrameTooLarge, C::FRAME_SIZE_ERROR, 1);
    assert_eq!(h.s.stats().data_received, 0);
    h
}

/// [Size checks] with MAX_FRAME_SIZE 64: 64 bytes of DATA pass, 65 fail.
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

/// [Size checks] unknown types are still limited by the max frame size.
fn case_unknown_type_larger_than_max_frame_size(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&header(16_385, 9, 0, 0));
    expect_protocol_error(&mut h, &d, P::FrameTooLarge, C::FRAME_SIZE_ERROR, 0);
    h
}

/// [Size checks] a PING (fixed 8) announcing more than the max frame size
/// is a frame size error too.
fn case_ping_larger_than_max_frame_size(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&header(0x00FF_FFFF, ty::PING, 0, 0));
    expect_protocol_error(&mut h, &d, P::FrameTooLarge, C::FRAME_SIZE_ERROR, 0);
    h
}

/// [Stream id rules] RST on stream 0 -> PROTOCOL_ERROR.
fn case_rst_on_stream_0(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::RST, 0, 0, &[0, 0, 0, 6]));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Stream id rules] DATA on stream 0 -> PROTOCOL_ERROR.
fn case_data_on_stream_0(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::DATA, 0, 0, b"hello"));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Stream id rules] a SYN on stream 0 is DATA on stream 0.
fn case_syn_on_stream_0(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::DATA, flags::SYN, 0, b""));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.stats().streams_incoming, 0);
    h
}

/// [Stream id rules] PING on a stream != 0 -> PROTOCOL_ERROR.
fn case_ping_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::PING, 0, 1, &[0; 8]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Stream id rules] GOAWAY on a stream != 0 -> PROTOCOL_ERROR.
fn case_goaway_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::GOAWAY, 0, 3, &[0; 8]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Stream id rules] SETTINGS on a stream != 0 -> PROTOCOL_ERROR (as the
/// first frame).
fn case_settings_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::SETTINGS, 0, 1, &[])]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Stream id rules] a SETTINGS ACK on a stream != 0 -> PROTOCOL_ERROR.
fn case_settings_ack_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &raw(ty::SETTINGS, flags::ACK, 5, &[])]));
    expect_protocol_error(&mut h, &d, P::NeedsSessionStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Frame header] the reserved bit is masked on receipt: a PING whose
/// stream field is 0x8000_0000 is on stream 0.
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

/// [WNDINC] increment 0 on stream 0 -> PROTOCOL_ERROR.
fn case_wndinc_zero_on_session(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::WNDINC, 0, 0, &[0, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 0);
    h
}

/// [WNDINC] increment 0 on a live stream -> PROTOCOL_ERROR.
fn case_wndinc_zero_on_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&raw(ty::WNDINC, 0, 1, &[0, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 1);
    h
}

/// [WNDINC] the increment's R bit is masked: 0x8000_0000 is an increment 0.
fn case_wndinc_zero_with_reserved_bit(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::WNDINC, 0, 0, &[0x80, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 0);
    h
}

/// [WNDINC] a CREDIT increment of 0 is an increment 0 too.
fn case_credit_zero(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&raw(ty::WNDINC, flags::CREDIT, 0, &[0, 0, 0, 0]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 0);
    h
}

/// [Flow control] session window += inc past 2^31-1 -> FLOW_CONTROL_ERROR;
/// exactly 2^31-1 is fine.
fn case_session_window_overflow(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let start = Settings::DEFAULT.session_window;
    assert_eq!(h.s.session_send_window(), start);
    let d = h.step(&wndinc(0, MAX_WINDOW - start));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.session_send_window(), MAX_WINDOW);
    let d = h.step(&wndinc(0, 1));
    expect_protocol_error(&mut h, &d, P::WindowOverflow, C::FLOW_CONTROL_ERROR, 0);
    h
}

/// [Flow control] stream window += inc past 2^31-1 -> FLOW_CONTROL_ERROR;
/// exactly 2^31-1 is fine.
fn case_stream_window_overflow(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let start = Settings::DEFAULT.initial_stream_window;
    assert_eq!(h.s.stream_info(StreamId(1)).unwrap().send_window, start);
    let d = h.step(&wndinc(1, MAX_WINDOW - start));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.stream_info(StreamId(1)).unwrap().send_window, MAX_WINDOW);
    let d = h.step(&wndinc(1, 1));
    expect_protocol_error(&mut h, &d, P::WindowOverflow, C::FLOW_CONTROL_ERROR, 1);
    h
}

/// [Stream credit] total credit never > 2^31-1 (overflow ->
/// FLOW_CONTROL_ERROR); exactly 2^31-1 is fine.
fn case_stream_credit_overflow(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let start = Settings::DEFAULT.stream_credit;
    assert_eq!(h.s.send_credit(), start);
    let d = h.step(&credit(MAX_WINDOW - start));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.send_credit(), MAX_WINDOW);
    let d = h.step(&credit(1));
    expect_protocol_error(&mut h, &d, P::WindowOverflow, C::FLOW_CONTROL_ERROR, 0);
    h
}

// =============================================================================
// Stream ids and credit
// =============================================================================

/// [Streams] SYN parity must be the peer's: a client peer opening an even
/// id -> PROTOCOL_ERROR.
fn case_syn_wrong_parity_at_server(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&syn(2, b"even"));
    expect_protocol_error(&mut h, &d, P::WrongParity, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.stats().streams_incoming, 0);
    h
}

/// [Streams] SYN parity, seen from a client: a server peer opening an odd
/// id -> PROTOCOL_ERROR.
fn case_syn_wrong_parity_at_client(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    let d = h.step(&syn(1, b"odd"));
    expect_protocol_error(&mut h, &d, P::WrongParity, C::PROTOCOL_ERROR, 0);
    h
}

/// [Streams] a SYN id must be > the highest the peer opened: below it ->
/// PROTOCOL_ERROR (reuse), even for an id never used.
fn case_syn_reused_below_highest(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&syn(3, b""));
    assert_eq!(d.events, vec![Event::Incoming]);
    let d = h.step(&syn(1, b""));
    expect_protocol_error(&mut h, &d, P::StreamReused, C::PROTOCOL_ERROR, 3);
    h
}

/// [Streams] a SYN for the highest id after that stream was forgotten ->
/// PROTOCOL_ERROR (reuse).
fn case_syn_reused_at_highest_after_forgotten(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.forget_peer_stream(1);
    let d = h.step(&syn(1, b"again"));
    expect_protocol_error(&mut h, &d, P::StreamReused, C::PROTOCOL_ERROR, 1);
    h
}

/// [Streams] SYN flag on a frame for a live stream -> PROTOCOL_ERROR
/// (duplicate SYN; never overwrites).
fn case_duplicate_syn_on_live_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"first");
    let d = h.step(&syn(1, b"second"));
    expect_protocol_error(&mut h, &d, P::DuplicateSyn, C::PROTOCOL_ERROR, 1);
    assert_eq!(h.s.stats().data_received, 5);
    h
}

/// [Streams] a duplicate SYN for a stream not yet accepted.
fn case_duplicate_syn_before_accept(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&cat(&[&syn(1, b""), &syn(1, b"")]));
    expect_protocol_error(&mut h, &d, P::DuplicateSyn, C::PROTOCOL_ERROR, 1);
    h
}

/// [Streams] non-SYN frame for an id of the peer's parity above the
/// highest it opened: idle -> PROTOCOL_ERROR.
fn case_data_for_idle_peer_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&data(3, 0, b"idle"));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 1);
    h
}

/// [Streams] idle id of the peer's parity, nothing opened at all (DATA).
fn case_data_for_idle_stream_first(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::FIN, b"x"));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Streams] non-SYN frame for an id of this side's parity above the
/// highest it opened: idle -> PROTOCOL_ERROR.
fn case_data_for_idle_own_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(2, 0, b"idle"));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Streams] RST for an idle id -> PROTOCOL_ERROR.
fn case_rst_for_idle_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&rst(7, C::CANCEL));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Streams] WNDINC for an idle id of this side's parity (a client that
/// opened 1 gets a WNDINC for 3) -> PROTOCOL_ERROR.
fn case_wndinc_for_idle_own_stream(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    assert_eq!(h.s.open(), Ok(StreamId(1)));
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Data { stream: 1, flags: flags::SYN, payload: vec![] }]);
    let d = h.step(&wndinc(3, 10));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// [Streams] the peer must have stream credit left: a SYN beyond the
/// credit -> PROTOCOL_ERROR; the GOAWAY names the last stream accepted.
fn case_syn_beyond_stream_credit(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    assert_eq!(h.s.local_settings().stream_credit, CREDIT);
    let d = h.step(&cat(&[&syn(1, b""), &syn(3, b"")]));
    assert_eq!(d.events, vec![Event::Incoming]);
    let d = h.step(&syn(5, b""));
    expect_protocol_error(&mut h, &d, P::CreditExceeded, C::PROTOCOL_ERROR, 3);
    h
}

/// [Stream credit] credit granted back (WNDINC CREDIT) may be used; the
/// peer still may not run ahead of it.
fn case_syn_within_credit_granted_back(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.forget_peer_stream(1);
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::WndInc { stream: 0, credit: true, increment: 1 }]);
    let d = h.step(&cat(&[&syn(3, b""), &syn(5, b"")]));
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&syn(7, b""));
    expect_protocol_error(&mut h, &d, P::CreditExceeded, C::PROTOCOL_ERROR, 5);
    h
}

/// [Streams] after this side's GOAWAY, a new SYN is refused with RST
/// REFUSED, its payload skipped (and refunded), and its id counts as seen.
fn case_syn_after_local_goaway_refused(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::GoAway { last: 1, code: C::NO_ERROR, debug: vec![] }]);
    let window = h.s.session_recv_window();
    let d = h.step(&syn(3, &[5; 100]));
    assert_eq!(d.sans_credit(), vec![Out::Rst { stream: 3, code: C::REFUSED }]);
    assert!(d.events.is_empty(), "{:?}", d.events);
    assert_eq!(h.s.stats().data_received, 0);
    assert_eq!(h.s.session_recv_window(), window - 100, "charged now, refunded by a later WNDINC");
    // Refused streams still count as seen; later SYNs are refused too.
    let d = h.step(&syn(5, b""));
    assert_eq!(d.sans_credit(), vec![Out::Rst { stream: 5, code: C::REFUSED }]);
    assert_eq!(h.s.stats().streams_incoming, 3);
    assert_eq!(h.s.state(), SessionState::Draining);
    expect_alive(&mut h);
    h
}

/// [GOAWAY] "A protocol error detected locally: send GOAWAY(code, debug)":
/// also when this side already sent a graceful GOAWAY, the peer must learn
/// the error code.
fn case_protocol_error_after_local_goaway(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::GoAway { last: 1, code: C::NO_ERROR, debug: vec![] }]);
    let d = h.step(&raw(ty::WNDINC, 0, 0, &[0; 4]));
    expect_protocol_error(&mut h, &d, P::ZeroIncrement, C::PROTOCOL_ERROR, 1);
    h
}

/// [GOAWAY] a later GOAWAY MUST NOT raise the last stream id: after a
/// graceful GOAWAY(last 1) and a refused SYN 3, the error GOAWAY still says
/// 1 (stream 3 was never processed).
fn case_error_goaway_after_refused_syn_keeps_last_id(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    h.drain();
    let d = h.step(&syn(3, b""));
    assert_eq!(d.sans_credit(), vec![Out::Rst { stream: 3, code: C::REFUSED }]);
    let d = h.step(&syn(3, b""));
    expect_protocol_error(&mut h, &d, P::StreamReused, C::PROTOCOL_ERROR, 1);
    h
}

// =============================================================================
// Metadata
// =============================================================================

/// A well-formed block of exactly `len` bytes (len >= 8): type 7 and one
/// header "h" with a value filling the rest.
fn block_of(len: usize) -> Vec<u8> {
    assert!(len >= 8);
    let mut b = 7u32.to_be_bytes().to_vec();
    let value = len - 8;
    b.push(1);
    b.extend_from_slice(&(value as u16).to_be_bytes());
    b.push(b'h');
    b.extend(std::iter::repeat_n(b'v', value));
    assert_eq!(b.len(), len);
    b
}

/// [Metadata] meta_len > receiver's MAX_OPEN_METADATA -> PROTOCOL_ERROR.
fn case_meta_longer_than_max_open_metadata(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let max = h.s.local_settings().max_open_metadata as usize;
    assert_eq!(max, 1024);
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(&block_of(max + 1), b"")));
    expect_protocol_error(&mut h, &d, P::MetadataTooLarge, C::PROTOCOL_ERROR, 1);
    h
}

/// [Metadata] with MAX_OPEN_METADATA 16: 16 bytes pass, 17 fail.
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

/// [Metadata] meta_len + 2 > frame length -> FRAME_SIZE_ERROR.
fn case_meta_len_overruns_frame(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let mut p = 20u16.to_be_bytes().to_vec();
    p.extend_from_slice(&block_of(8));
    let d = h.step(&data(1, flags::SYN | flags::META, &p));
    expect_protocol_error(&mut h, &d, P::MetadataOverrun, C::FRAME_SIZE_ERROR, 1);
    h
}

/// [Metadata] a META frame too short for the 2-byte length itself ->
/// FRAME_SIZE_ERROR.
fn case_meta_frame_shorter_than_length_field(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &[0]));
    expect_protocol_error(&mut h, &d, P::MetadataOverrun, C::FRAME_SIZE_ERROR, 1);
    h
}

/// [Metadata] an empty META frame -> FRAME_SIZE_ERROR.
fn case_meta_frame_empty(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &[]));
    expect_protocol_error(&mut h, &d, P::MetadataOverrun, C::FRAME_SIZE_ERROR, 1);
    h
}

fn malformed_meta(chunk: usize, block: &[u8]) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(block, b"data")));
    expect_protocol_error(&mut h, &d, P::MetadataMalformed, C::PROTOCOL_ERROR, 1);
    assert_eq!(h.s.stats().data_received, 0);
    h
}

/// [Metadata] header name_len must be >= 1.
fn case_meta_empty_header_name(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 0, 0, 0])
}

/// [Metadata] a value running past meta_len.
fn case_meta_value_overruns_block(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 1, 0, 5, b'x', b'y'])
}

/// [Metadata] a name running past meta_len.
fn case_meta_name_overruns_block(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 9, 0, 0, b'x', b'y'])
}

/// [Metadata] meta_len >= 4 (the stream type): 3 bytes.
fn case_meta_shorter_than_stream_type(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 7])
}

/// [Metadata] meta_len 0 is shorter than the stream type too.
fn case_meta_len_zero(chunk: usize) -> Harness {
    malformed_meta(chunk, &[])
}

/// [Metadata] headers must exactly fill meta_len: a trailing partial header.
fn case_meta_trailing_partial_header(chunk: usize) -> Harness {
    malformed_meta(chunk, &[0, 0, 0, 7, 1, 0])
}

/// [Metadata] META without SYN from the opener (only the acceptor's first
/// frame may carry it) -> PROTOCOL_ERROR.
fn case_meta_on_later_frame_from_opener(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&data(1, flags::META, &meta_payload(&meta_block(), b"")));
    expect_protocol_error(&mut h, &d, P::MetadataUnexpected, C::PROTOCOL_ERROR, 1);
    h
}

/// [Metadata] reply metadata is allowed on the acceptor's first frame
/// only: META on its second frame -> PROTOCOL_ERROR.
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

/// [Metadata] the acceptor's first frame had no META: META on a later one
/// -> PROTOCOL_ERROR.
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

// =============================================================================
// Flow control
// =============================================================================

fn expect_nothing_delivered(h: &Harness, before: u64) {
    assert_eq!(h.s.stats().data_received, before, "data delivered past the window");
    let readable = h.events.iter().filter(|e| matches!(e, Event::Readable(_))).count();
    assert_eq!(readable, 0, "Readable announced: {:?}", h.events);
}

/// [Flow control] DATA longer than the stream receive window ->
/// FLOW_CONTROL_ERROR, checked at the header before anything is buffered.
fn case_data_beyond_stream_window(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    assert_eq!(h.s.local_settings().initial_stream_window, WINDOW);
    h.open_accepted(1, b"");
    let d = h.step(&data(1, 0, &vec![1; WINDOW as usize + 1]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    expect_nothing_delivered(&h, 0);
    h
}

/// [Flow control] the data a SYN carries counts against the stream window.
fn case_syn_data_beyond_stream_window(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&syn(1, &vec![1; WINDOW as usize + 1]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    expect_nothing_delivered(&h, 0);
    h
}

/// [Flow control] the window is cumulative: exactly the window passes
/// (unread), one more byte does not.
fn case_data_beyond_stream_window_cumulative(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&cat(&[&syn(1, &[1; 3000]), &data(1, 0, &vec![2; WINDOW as usize - 3000])]));
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.stats().data_received, u64::from(WINDOW));
    let d = h.step(&data(1, 0, &[3]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    assert_eq!(h.s.stats().data_received, u64::from(WINDOW));
    h
}

fn small_session_window(bytes: u32) -> Config {
    let mut config = Config::server();
    config.session_window = bytes;
    config.session_window_max = bytes;
    config
}

/// [Flow control] DATA longer than the session receive window (across
/// streams) -> FLOW_CONTROL_ERROR before anything is buffered.
fn case_data_beyond_session_window(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(1000), chunk);
    assert_eq!(h.s.session_recv_window(), 1000);
    let d = h.step(&syn(1, &[1; 600]));
    assert_eq!(d.events, vec![Event::Incoming]);
    let d = h.step(&syn(3, &[2; 401]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 3);
    assert_eq!(h.s.stats().data_received, 600);
    h
}

/// [Flow control] metadata and its 2-byte length are outside flow control
/// (bounded by MAX_OPEN_METADATA instead): a SYN may carry a whole window
/// of data besides its metadata, and one byte more is a FLOW_CONTROL_ERROR.
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

/// [Flow control] the same holds for the session window.
fn case_meta_is_outside_the_session_window(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(1000), chunk);
    let d = h.step(&data(1, flags::SYN | flags::META, &meta_payload(&block_of(500), &[9; 1000])));
    assert!(d.goaways().is_empty(), "{:?}", d.frames);
    let d = h.step(&data(1, 0, &[9; 1]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    h
}

// =============================================================================
// GOAWAY
// =============================================================================

/// [GOAWAY] a later GOAWAY may lower the last stream id but must not raise
/// it -> PROTOCOL_ERROR.
fn case_goaway_raising_last_stream_id(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&goaway(4, C::NO_ERROR, b"first"));
    assert_eq!(d.events, vec![Event::GoAway { last_stream: StreamId(4), code: C::NO_ERROR }]);
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.state(), SessionState::Draining);
    let d = h.step(&goaway(2, C::NO_ERROR, b"lower"));
    assert_eq!(d.events, vec![Event::GoAway { last_stream: StreamId(2), code: C::NO_ERROR }]);
    let d = h.step(&goaway(6, C::NO_ERROR, b"raise"));
    expect_protocol_error_with_remote(&mut h, &d, P::GoAwayRaised, C::PROTOCOL_ERROR, 1, Some(C::NO_ERROR));
    h
}

// =============================================================================
// Stream errors and forgotten streams
// =============================================================================

/// [Streams] DATA on a live stream after the peer's FIN -> RST
/// STREAM_CLOSED for that stream, payload discarded: a stream error, the
/// session goes on.
fn case_data_after_fin_resets_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.step(&data(1, flags::SYN | flags::FIN, b"a"));
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    let d = h.drain();
    assert_eq!(d.events, vec![Event::Readable(StreamId(1)), Event::Finished(StreamId(1))]);
    let d = h.step(&data(1, 0, b"after fin"));
    assert_eq!(d.frames, vec![Out::Rst { stream: 1, code: C::STREAM_CLOSED }]);
    assert_eq!(d.events, vec![Event::Reset { id: StreamId(1), code: C::STREAM_CLOSED, remote: false }]);
    assert_eq!(h.s.stats().data_received, 1);
    assert_eq!(h.s.state(), SessionState::Open);
    // Later frames for the reset stream are dropped; the session still works.
    let d = h.step(&data(1, 0, b"more"));
    assert!(d.sans_credit().is_empty() && d.events.is_empty(), "{d:?}");
    let d = h.step(&syn(3, b"next"));
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.accept(), Ok(StreamId(3)));
    expect_alive(&mut h);
    h
}

/// [Streams] the same for a stream the application has not accepted yet.
fn case_data_after_fin_on_unaccepted_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&cat(&[&data(1, flags::SYN | flags::FIN, b"a"), &data(1, 0, b"b")]));
    assert_eq!(d.frames, vec![Out::Rst { stream: 1, code: C::STREAM_CLOSED }]);
    assert_eq!(h.s.state(), SessionState::Open);
    expect_alive(&mut h);
    h
}

/// [Streams] non-SYN frames for a forgotten stream (at or below the
/// highest id, no longer known) are dropped silently: no RST, no event,
/// and DATA's length is refunded to the session window (a session WNDINC
/// covers it).
fn case_frames_for_forgotten_peer_stream_dropped(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(4000), chunk);
    h.forget_peer_stream(1);
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::WndInc { stream: 0, credit: true, increment: 1 }]);
    assert_eq!(h.s.session_recv_window(), 3999);
    let d = h.step(&cat(&[
        &data(1, 0, &[1; 1500]),
        &data(1, flags::FIN, &[2; 1500]),
        &rst(1, C::CANCEL),
        &wndinc(1, 100),
    ]));
    assert!(d.rsts().is_empty() && d.goaways().is_empty(), "{:?}", d.frames);
    assert!(d.events.is_empty(), "{:?}", d.events);
    let session_inc: u32 = d
        .frames
        .iter()
        .map(|f| match f {
            Out::WndInc { stream: 0, credit: false, increment } => *increment,
            other => panic!("unexpected frame {other:?}"),
        })
        .sum();
    assert!(session_inc >= 3000, "session WNDINC {session_inc} does not cover the 3000 dropped bytes");
    assert_eq!(h.s.session_recv_window(), 4000);
    assert_eq!(h.s.stats().data_received, 1);
    expect_alive(&mut h);
    h
}

/// [Streams] the same for a forgotten stream this side opened.
fn case_frames_for_forgotten_own_stream_dropped(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(4000), chunk);
    assert_eq!(h.s.open(), Ok(StreamId(2)));
    h.drain();
    let d = h.step(&rst(2, C::CANCEL));
    assert_eq!(d.events, vec![Event::Reset { id: StreamId(2), code: C::CANCEL, remote: true }]);
    assert_eq!(h.s.stream_info(StreamId(2)), None);
    let d = h.step(&cat(&[&data(2, 0, &[1; 2500]), &rst(2, C::CANCEL), &wndinc(2, 9)]));
    assert!(d.events.is_empty(), "{:?}", d.events);
    assert_eq!(d.frames, vec![Out::WndInc { stream: 0, credit: false, increment: 2500 }]);
    assert_eq!(h.s.session_recv_window(), 4000);
    expect_alive(&mut h);
    h
}

/// [Streams]+[Flow control] a dropped DATA's whole length still counts
/// against the session window: beyond it -> FLOW_CONTROL_ERROR.
fn case_data_for_forgotten_stream_beyond_session_window(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(1000), chunk);
    h.forget_peer_stream(1);
    h.drain();
    assert_eq!(h.s.session_recv_window(), 999);
    let d = h.step(&data(1, 0, &[0; 1000]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    h
}

/// [Flood] "unproductive frames cost 1 token": an empty DATA for a
/// forgotten stream is one unproductive frame, so the whole budget of them
/// passes and one more ends the session.
fn case_empty_data_for_forgotten_stream_costs_one_token(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.forget_peer_stream(1);
    h.drain();
    let d = h.step(&repeat(&data(1, 0, b""), BURST));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.close_reason(), None, "closed before the budget of {BURST} was spent");
    let d = h.step(&data(1, 0, b""));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 1);
    h
}

/// [Streams] ids the peer skipped (below its highest, never opened) are
/// not idle: frames for them are dropped like forgotten ones.
fn case_frames_for_skipped_ids_dropped(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(5, b"");
    let d = h.step(&cat(&[&data(3, 0, b"skipped"), &rst(1, C::CANCEL)]));
    assert!(d.rsts().is_empty() && d.goaways().is_empty(), "{:?}", d.frames);
    expect_alive(&mut h);
    h
}

// =============================================================================
// Unknown types and flags
// =============================================================================

/// [Frame types] types 6..15 are skipped with their payload (even one that
/// looks like frames) and ignored.
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

/// [Frame types] unknown flag bits, and flags defined for another type,
/// are ignored.
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

/// [PING] an ACK that matches no outstanding ping is ignored (and is not
/// an error).
fn case_unsolicited_ping_ack_ignored(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&emit(braid::frame::Frame::Ping { ack: true, opaque: [3; 8] }));
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    expect_alive(&mut h);
    h
}

// =============================================================================
// Flood defence
// =============================================================================

/// The default flood budget (burst).
const BURST: usize = 1000;

/// [Flood] PINGs up to the budget are answered (one coalesced ACK, the
/// newest); nothing else happens.
fn case_ping_flood_below_budget(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let input: Vec<u8> = (0..BURST as u64).flat_map(ping).collect();
    let d = h.step(&input);
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: (BURST as u64 - 1).to_be_bytes() }]);
    assert_eq!(h.s.close_reason(), None);
    h
}

/// [Flood] one PING beyond the budget -> ENHANCE_YOUR_CALM.
fn case_ping_flood_beyond_budget(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&repeat(&ping(1), BURST));
    assert_eq!(d.frames.len(), 1);
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&ping(2));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 0);
    h
}

/// [Flood] the bucket refills at flood_rate: a steady PING per
/// millisecond at 1000/s never runs out; a burst past flood_burst does.
fn case_ping_flood_refill(chunk: usize) -> Harness {
    let mut config = Config::server();
    config.flood_burst = 10;
    config.flood_rate = 1000;
    let mut h = Harness::connected(config, chunk);
    for i in 0..100u64 {
        h.now = Instant::from_millis(i + 1);
        let d = h.step(&ping(i));
        assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: i.to_be_bytes() }]);
    }
    let d = h.step(&repeat(&ping(7), 11));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 0);
    h
}

/// [Flood] empty DATA without flags: up to the budget nothing happens,
/// one more -> ENHANCE_YOUR_CALM.
fn case_empty_data_flood(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&repeat(&data(1, 0, b""), BURST));
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&data(1, 0, b""));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 1);
    h
}

/// [Flood] frames of unknown type are unproductive.
fn case_unknown_type_flood(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&repeat(&raw(7, 0, 0, b"junk"), BURST));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&raw(7, 0, 0, b"junk"));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 0);
    h
}

/// [Flood] frames dropped for forgotten streams are unproductive.
fn case_forgotten_stream_flood(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.forget_peer_stream(1);
    h.drain();
    let d = h.step(&repeat(&rst(1, C::CANCEL), BURST));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&rst(1, C::CANCEL));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 1);
    h
}

/// [Flood] rapid reset: a peer that opens streams and resets them before
/// they are accepted, reusing the credit it gets back, ends with
/// ENHANCE_YOUR_CALM after exactly the budget; before that nothing happens.
fn case_rapid_reset(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let mut credit = CREDIT;
    let mut id = 1;
    for round in 1..=BURST + 1 {
        assert!(credit > 0, "the peer ran out of credit after {round} rounds");
        let d = h.step(&cat(&[&syn(id, b""), &rst(id, C::CANCEL)]));
        credit -= 1;
        if round == BURST + 1 {
            expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, id);
            return h;
        }
        assert_eq!(h.s.close_reason(), None, "closed after {round} rapid resets");
        assert!(d.frames.iter().all(|f| matches!(f, Out::WndInc { stream: 0, credit: true, .. })));
        // The application takes what is incoming: the reset stream is gone.
        if d.events.contains(&Event::Incoming) {
            assert_eq!(h.s.accept(), Err(AcceptError::WouldBlock));
        }
        for f in h.drain().frames {
            match f {
                Out::WndInc { stream: 0, credit: true, increment } => credit += increment,
                other => panic!("unexpected frame {other:?}"),
            }
        }
        assert!(h.s.streams_in_use() <= CAPACITY);
        id += 2;
    }
    unreachable!()
}

// =============================================================================
// After the end
// =============================================================================

/// [GOAWAY] after a protocol error the session stops processing input:
/// further input is consumed and ignored, and nothing is sent after the
/// final GOAWAY, whatever the application does.
fn case_after_end_input_ignored_and_nothing_sent(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    h.s.write(StreamId(1), b"pending").unwrap();
    let d = h.step(&rst(0x7FFF_FFFF, C::CANCEL));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 1);
    assert!(h.s.write(StreamId(1), b"late").is_err());
    assert!(h.s.ping().is_err());
    assert!(h.s.go_away(C::NO_ERROR, b"").is_err());
    assert!(h.s.open().is_err());
    h.s.close();
    h.s.handle_timeout(Instant::from_secs(3600));
    expect_deaf_and_mute(&mut h);
    h
}

/// [GOAWAY] a peer GOAWAY with an error code ends the session at once; no
/// GOAWAY is sent back and later input is ignored.
fn case_after_peer_error_goaway_input_ignored(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&cat(&[&goaway(0, C::INTERNAL_ERROR, b"bye"), &ping(1), &syn(3, b"")]));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    let reason = CloseReason { local: None, remote: Some(C::INTERNAL_ERROR) };
    assert_eq!(h.s.close_reason(), Some(reason));
    assert_eq!(d.events.last(), Some(&Event::Closed(reason)));
    assert_eq!(h.s.remote_debug(), b"bye");
    expect_deaf_and_mute(&mut h);
    h
}

/// [GOAWAY] "Any other code: the peer is ending the session; all streams
/// end reset with that code; session Closed with remote code."
fn case_peer_error_goaway_resets_streams_with_its_code(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&goaway(0, C::INTERNAL_ERROR, b"bye"));
    let reason = CloseReason { local: None, remote: Some(C::INTERNAL_ERROR) };
    assert_eq!(h.s.close_reason(), Some(reason));
    assert!(
        d.events.contains(&Event::Reset { id: StreamId(1), code: C::INTERNAL_ERROR, remote: true }),
        "stream 1 not reset with the GOAWAY's code: {:?}",
        d.events
    );
    assert_eq!(d.events.last(), Some(&Event::Closed(reason)));
    h
}

// =============================================================================
// The tests
// =============================================================================

/// Every case that passes, by name, for the chunking test.
const CASES: &[(&str, Case)] = &[
    ("bad_preface_magic", case_bad_preface_magic),
    ("http_request_instead_of_preface", case_http_request_instead_of_preface),
    ("unsupported_version", case_unsupported_version),
    ("version_zero", case_version_zero),
    ("error_before_own_preface_sends_preface_first", case_error_before_own_preface_sends_preface_first),
    ("first_frame_ping", case_first_frame_ping),
    ("first_frame_settings_ack", case_first_frame_settings_ack),
    ("first_frame_syn", case_first_frame_syn),
    ("first_frame_wndinc", case_first_frame_wndinc),
    ("first_frame_unknown_type", case_first_frame_unknown_type),
    ("second_settings", case_second_settings),
    ("second_settings_back_to_back", case_second_settings_back_to_back),
    ("settings_ack_unexpected", case_settings_ack_unexpected),
    ("settings_ack_twice", case_settings_ack_twice),
    ("settings_length_not_multiple_of_6", case_settings_length_not_multiple_of_6),
    ("settings_longer_than_192", case_settings_longer_than_192),
    ("settings_of_192_accepted", case_settings_of_192_accepted_despite_small_max_frame_size),
    ("settings_ack_with_payload", case_settings_ack_with_payload),
    ("setting_initial_stream_window_too_large", case_setting_initial_stream_window_too_large),
    ("setting_max_frame_size_too_small", case_setting_max_frame_size_too_small),
    ("setting_max_frame_size_zero", case_setting_max_frame_size_zero),
    ("setting_max_frame_size_too_large", case_setting_max_frame_size_too_large),
    ("setting_stream_credit_too_large", case_setting_stream_credit_too_large),
    ("setting_session_window_too_large", case_setting_session_window_too_large),
    ("setting_max_open_metadata_too_large", case_setting_max_open_metadata_too_large),
    ("settings_range_edges_accepted", case_settings_range_edges_accepted),
    ("settings_empty_takes_defaults", case_settings_empty_takes_defaults),
    ("rst_too_short", case_rst_too_short),
    ("rst_too_long", case_rst_too_long),
    ("wndinc_too_short", case_wndinc_too_short),
    ("wndinc_too_long", case_wndinc_too_long),
    ("ping_too_short", case_ping_too_short),
    ("ping_too_long", case_ping_too_long),
    ("ping_empty", case_ping_empty),
    ("goaway_too_short", case_goaway_too_short),
    ("goaway_too_long", case_goaway_too_long),
    ("goaway_size_edges_accepted", case_goaway_size_edges_accepted),
    ("data_larger_than_max_frame_size", case_data_larger_than_max_frame_size),
    ("data_larger_than_small_max_frame_size", case_data_larger_than_small_max_frame_size),
    ("unknown_type_larger_than_max_frame_size", case_unknown_type_larger_than_max_frame_size),
    ("ping_larger_than_max_frame_size", case_ping_larger_than_max_frame_size),
    ("rst_on_stream_0", case_rst_on_stream_0),
    ("data_on_stream_0", case_data_on_stream_0),
    ("syn_on_stream_0", case_syn_on_stream_0),
    ("ping_on_stream", case_ping_on_stream),
    ("goaway_on_stream", case_goaway_on_stream),
    ("settings_on_stream", case_settings_on_stream),
    ("settings_ack_on_stream", case_settings_ack_on_stream),
    ("reserved_bit_masked", case_reserved_bit_masked),
    ("wndinc_zero_on_session", case_wndinc_zero_on_session),
    ("wndinc_zero_on_stream", case_wndinc_zero_on_stream),
    ("wndinc_zero_with_reserved_bit", case_wndinc_zero_with_reserved_bit),
    ("credit_zero", case_credit_zero),
    ("session_window_overflow", case_session_window_overflow),
    ("stream_window_overflow", case_stream_window_overflow),
    ("stream_credit_overflow", case_stream_credit_overflow),
    ("syn_wrong_parity_at_server", case_syn_wrong_parity_at_server),
    ("syn_wrong_parity_at_client", case_syn_wrong_parity_at_client),
    ("syn_reused_below_highest", case_syn_reused_below_highest),
    ("syn_reused_at_highest_after_forgotten", case_syn_reused_at_highest_after_forgotten),
    ("duplicate_syn_on_live_stream", case_duplicate_syn_on_live_stream),
    ("duplicate_syn_before_accept", case_duplicate_syn_before_accept),
    ("data_for_idle_peer_stream", case_data_for_idle_peer_stream),
    ("data_for_idle_stream_first", case_data_for_idle_stream_first),
    ("data_for_idle_own_stream", case_data_for_idle_own_stream),
    ("rst_for_idle_stream", case_rst_for_idle_stream),
    ("wndinc_for_idle_own_stream", case_wndinc_for_idle_own_stream),
    ("syn_beyond_stream_credit", case_syn_beyond_stream_credit),
    ("syn_within_credit_granted_back", case_syn_within_credit_granted_back),
    ("syn_after_local_goaway_refused", case_syn_after_local_goaway_refused),
    ("meta_longer_than_max_open_metadata", case_meta_longer_than_max_open_metadata),
    ("meta_limit_edge", case_meta_limit_edge),
    ("meta_len_overruns_frame", case_meta_len_overruns_frame),
    ("meta_frame_shorter_than_length_field", case_meta_frame_shorter_than_length_field),
    ("meta_frame_empty", case_meta_frame_empty),
    ("meta_empty_header_name", case_meta_empty_header_name),
    ("meta_value_overruns_block", case_meta_value_overruns_block),
    ("meta_name_overruns_block", case_meta_name_overruns_block),
    ("meta_shorter_than_stream_type", case_meta_shorter_than_stream_type),
    ("meta_len_zero", case_meta_len_zero),
    ("meta_trailing_partial_header", case_meta_trailing_partial_header),
    ("meta_on_later_frame_from_opener", case_meta_on_later_frame_from_opener),
    ("meta_on_second_reply_frame", case_meta_on_second_reply_frame),
    ("meta_after_plain_reply", case_meta_after_plain_reply),
    ("data_beyond_stream_window", case_data_beyond_stream_window),
    ("syn_data_beyond_stream_window", case_syn_data_beyond_stream_window),
    ("data_beyond_stream_window_cumulative", case_data_beyond_stream_window_cumulative),
    ("data_beyond_session_window", case_data_beyond_session_window),
    ("goaway_raising_last_stream_id", case_goaway_raising_last_stream_id),
    ("data_after_fin_resets_stream", case_data_after_fin_resets_stream),
    ("data_after_fin_on_unaccepted_stream", case_data_after_fin_on_unaccepted_stream),
    ("frames_for_forgotten_peer_stream_dropped", case_frames_for_forgotten_peer_stream_dropped),
    ("frames_for_forgotten_own_stream_dropped", case_frames_for_forgotten_own_stream_dropped),
    ("frames_for_skipped_ids_dropped", case_frames_for_skipped_ids_dropped),
    ("data_for_forgotten_stream_beyond_session_window", case_data_for_forgotten_stream_beyond_session_window),
    ("unknown_types_skipped", case_unknown_types_skipped),
    ("unknown_flags_ignored", case_unknown_flags_ignored),
    ("unsolicited_ping_ack_ignored", case_unsolicited_ping_ack_ignored),
    ("ping_flood_below_budget", case_ping_flood_below_budget),
    ("ping_flood_beyond_budget", case_ping_flood_beyond_budget),
    ("ping_flood_refill", case_ping_flood_refill),
    ("empty_data_flood", case_empty_data_flood),
    ("unknown_type_flood", case_unknown_type_flood),
    ("forgotten_stream_flood", case_forgotten_stream_flood),
    ("rapid_reset", case_rapid_reset),
    ("after_end_input_ignored_and_nothing_sent", case_after_end_input_ignored_and_nothing_sent),
    ("after_peer_error_goaway_input_ignored", case_after_peer_error_goaway_input_ignored),
    ("meta_is_outside_the_stream_window", case_meta_is_outside_the_stream_window),
    ("meta_is_outside_the_session_window", case_meta_is_outside_the_session_window),
    ("protocol_error_after_local_goaway", case_protocol_error_after_local_goaway),
    ("error_goaway_after_refused_syn_keeps_last_id", case_error_goaway_after_refused_syn_keeps_last_id),
    ("empty_data_for_forgotten_stream_costs_one_token", case_empty_data_for_forgotten_stream_costs_one_token),
    ("peer_error_goaway_resets_streams_with_its_code", case_peer_error_goaway_resets_streams_with_its_code),
];

/// Cases that show an engine bug (each also has its own ignored test).
fn same_outcome_in_every_chunking(cases: &[(&str, Case)]) {
    for (name, case) in cases {
        eprintln!("case {name}");
        let whole = case(WHOLE).transcript();
        for chunk in [1, 2, 7] {
            let split = case(chunk).transcript();
            assert_eq!(split.close, whole.close, "{name}: close reason, chunks of {chunk}");
            assert_eq!(split.events, whole.events, "{name}: events, chunks of {chunk}");
            assert_eq!(split.sent, whole.sent, "{name}: bytes sent, chunks of {chunk}");
            assert_eq!(split.state, whole.state, "{name}: state, chunks of {chunk}");
        }
    }
}

/// [handle_input] "Any chunking gives the same result, one byte at a time
/// included": every case above, fed one byte at a time (and in chunks of 2
/// and 7), gives the same close reason, events and bytes sent as fed whole.
#[test]
fn every_input_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}

macro_rules! tests {
    ($($name:ident => $case:ident,)*) => {
        $(
            #[test]
            fn $name() {
                run($case);
            }
        )*
    };
}

tests! {
    bad_preface_magic => case_bad_preface_magic,
    http_request_instead_of_preface => case_http_request_instead_of_preface,
    unsupported_version => case_unsupported_version,
    version_zero => case_version_zero,
    error_before_own_preface_sends_preface_first => case_error_before_own_preface_sends_preface_first,
    first_frame_ping => case_first_frame_ping,
    first_frame_settings_ack => case_first_frame_settings_ack,
    first_frame_syn => case_first_frame_syn,
    first_frame_wndinc => case_first_frame_wndinc,
    first_frame_unknown_type => case_first_frame_unknown_type,
    second_settings => case_second_settings,
    second_settings_back_to_back => case_second_settings_back_to_back,
    settings_ack_unexpected => case_settings_ack_unexpected,
    settings_ack_twice => case_settings_ack_twice,
    settings_length_not_multiple_of_6 => case_settings_length_not_multiple_of_6,
    settings_longer_than_192 => case_settings_longer_than_192,
    settings_of_192_accepted_despite_small_max_frame_size => case_settings_of_192_accepted_despite_small_max_frame_size,
    settings_ack_with_payload => case_settings_ack_with_payload,
    setting_initial_stream_window_too_large => case_setting_initial_stream_window_too_large,
    setting_max_frame_size_too_small => case_setting_max_frame_size_too_small,
    setting_max_frame_size_zero => case_setting_max_frame_size_zero,
    setting_max_frame_size_too_large => case_setting_max_frame_size_too_large,
    setting_stream_credit_too_large => case_setting_stream_credit_too_large,
    setting_session_window_too_large => case_setting_session_window_too_large,
    setting_max_open_metadata_too_large => case_setting_max_open_metadata_too_large,
    settings_range_edges_accepted => case_settings_range_edges_accepted,
    settings_empty_takes_defaults => case_settings_empty_takes_defaults,
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
    unknown_type_larger_than_max_frame_size => case_unknown_type_larger_than_max_frame_size,
    ping_larger_than_max_frame_size => case_ping_larger_than_max_frame_size,
    rst_on_stream_0 => case_rst_on_stream_0,
    data_on_stream_0 => case_data_on_stream_0,
    syn_on_stream_0 => case_syn_on_stream_0,
    ping_on_stream => case_ping_on_stream,
    goaway_on_stream => case_goaway_on_stream,
    settings_on_stream => case_settings_on_stream,
    settings_ack_on_stream => case_settings_ack_on_stream,
    reserved_bit_masked => case_reserved_bit_masked,
    wndinc_zero_on_session => case_wndinc_zero_on_session,
    wndinc_zero_on_stream => case_wndinc_zero_on_stream,
    wndinc_zero_with_reserved_bit => case_wndinc_zero_with_reserved_bit,
    credit_zero => case_credit_zero,
    session_window_overflow => case_session_window_overflow,
    stream_window_overflow => case_stream_window_overflow,
    stream_credit_overflow => case_stream_credit_overflow,
    syn_wrong_parity_at_server => case_syn_wrong_parity_at_server,
    syn_wrong_parity_at_client => case_syn_wrong_parity_at_client,
    syn_reused_below_highest => case_syn_reused_below_highest,
    syn_reused_at_highest_after_forgotten => case_syn_reused_at_highest_after_forgotten,
    duplicate_syn_on_live_stream => case_duplicate_syn_on_live_stream,
    duplicate_syn_before_accept => case_duplicate_syn_before_accept,
    data_for_idle_peer_stream => case_data_for_idle_peer_stream,
    data_for_idle_stream_first => case_data_for_idle_stream_first,
    data_for_idle_own_stream => case_data_for_idle_own_stream,
    rst_for_idle_stream => case_rst_for_idle_stream,
    wndinc_for_idle_own_stream => case_wndinc_for_idle_own_stream,
    syn_beyond_stream_credit => case_syn_beyond_stream_credit,
    syn_within_credit_granted_back => case_syn_within_credit_granted_back,
    syn_after_local_goaway_refused => case_syn_after_local_goaway_refused,
    meta_longer_than_max_open_metadata => case_meta_longer_than_max_open_metadata,
    meta_limit_edge => case_meta_limit_edge,
    meta_len_overruns_frame => case_meta_len_overruns_frame,
    meta_frame_shorter_than_length_field => case_meta_frame_shorter_than_length_field,
    meta_frame_empty => case_meta_frame_empty,
    meta_empty_header_name => case_meta_empty_header_name,
    meta_value_overruns_block => case_meta_value_overruns_block,
    meta_name_overruns_block => case_meta_name_overruns_block,
    meta_shorter_than_stream_type => case_meta_shorter_than_stream_type,
    meta_len_zero => case_meta_len_zero,
    meta_trailing_partial_header => case_meta_trailing_partial_header,
    meta_on_later_frame_from_opener => case_meta_on_later_frame_from_opener,
    meta_on_second_reply_frame => case_meta_on_second_reply_frame,
    meta_after_plain_reply => case_meta_after_plain_reply,
    data_beyond_stream_window => case_data_beyond_stream_window,
    syn_data_beyond_stream_window => case_syn_data_beyond_stream_window,
    data_beyond_stream_window_cumulative => case_data_beyond_stream_window_cumulative,
    data_beyond_session_window => case_data_beyond_session_window,
    goaway_raising_last_stream_id => case_goaway_raising_last_stream_id,
    data_after_fin_resets_stream => case_data_after_fin_resets_stream,
    data_after_fin_on_unaccepted_stream => case_data_after_fin_on_unaccepted_stream,
    frames_for_forgotten_peer_stream_dropped => case_frames_for_forgotten_peer_stream_dropped,
    frames_for_forgotten_own_stream_dropped => case_frames_for_forgotten_own_stream_dropped,
    frames_for_skipped_ids_dropped => case_frames_for_skipped_ids_dropped,
    data_for_forgotten_stream_beyond_session_window => case_data_for_forgotten_stream_beyond_session_window,
    unknown_types_skipped => case_unknown_types_skipped,
    unknown_flags_ignored => case_unknown_flags_ignored,
    unsolicited_ping_ack_ignored => case_unsolicited_ping_ack_ignored,
    ping_flood_below_budget => case_ping_flood_below_budget,
    ping_flood_beyond_budget => case_ping_flood_beyond_budget,
    ping_flood_refill => case_ping_flood_refill,
    empty_data_flood => case_empty_data_flood,
    unknown_type_flood => case_unknown_type_flood,
    forgotten_stream_flood => case_forgotten_stream_flood,
    rapid_reset => case_rapid_reset,
    after_end_input_ignored_and_nothing_sent => case_after_end_input_ignored_and_nothing_sent,
    after_peer_error_goaway_input_ignored => case_after_peer_error_goaway_input_ignored,
    meta_is_outside_the_stream_window => case_meta_is_outside_the_stream_window,
    meta_is_outside_the_session_window => case_meta_is_outside_the_session_window,
    protocol_error_after_local_goaway => case_protocol_error_after_local_goaway,
    error_goaway_after_refused_syn_keeps_last_id => case_error_goaway_after_refused_syn_keeps_last_id,
    empty_data_for_forgotten_stream_costs_one_token => case_empty_data_for_forgotten_stream_costs_one_token,
    peer_error_goaway_resets_streams_with_its_code => case_peer_error_goaway_resets_streams_with_its_code,
}

/// Every case is listed in CASES exactly once (so the chunking
/// test covers them all).
#[test]
fn case_tables_have_no_duplicates() {
    let mut names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n);
}

// =============================================================================
// Property: arbitrary input
// =============================================================================

mod fuzz {
    use super::*;
    use braid::frame::{Frame, MAX_PAYLOAD};
    use braid::{ReadError, Role};
    use proptest::prelude::*;

    /// Feed `input` (after a valid handshake if `handshake`) in the given
    /// chunk sizes (cycled), acting as a plain application in between, and
    /// check the invariants after every chunk.
    fn fuzz(role: Role, handshake_first: bool, input: &[u8], cuts: &[usize]) {
        let prefix = if handshake_first { cat(&[&handshake(), &settings_ack()]) } else { Vec::new() };
        fuzz_after(role, false, &prefix, input, cuts);
    }

    fn fuzz_after(role: Role, trace: bool, prefix: &[u8], input: &[u8], cuts: &[usize]) {
        let config = match role {
            Role::Client => Config::client(),
            Role::Server => Config::server(),
        };
        let mut h = Harness::fresh(config.with_trace(trace), usize::MAX);
        let mut all = prefix.to_vec();
        all.extend_from_slice(input);
        let mut pos = 0;
        let mut cut = cuts.iter().copied().cycle();
        let mut buf = [0u8; 512];
        while pos < all.len() {
            let n = cut.next().unwrap_or(1).max(1).min(all.len() - pos);
            let piece = &all[pos..pos + n];
            let mut off = 0;
            let mut stalled = 0;
            while off < piece.len() {
                let used = h.s.handle_input(h.now, &piece[off..]);
                assert!(used <= piece.len() - off, "consumed {used} of {}", piece.len() - off);
                if !trace {
                    assert_eq!(used, piece.len(), "with tracing off every byte is consumed");
                }
                off += used;
                if off < piece.len() {
                    // Only a full trace queue may stop input: drain it and go on.
                    assert!(trace, "input stopped with tracing off");
                    stalled = if used == 0 { stalled + 1 } else { 0 };
                    assert!(stalled < 2, "no progress after draining the trace queue");
                    h.drain();
                }
            }
            pos += n;
            // A plain application: accept, read, answer, open.
            while let Ok(id) = h.s.accept() {
                let _ = h.s.write(id, b"reply");
            }
            let d = h.drain();
            for e in &d.events {
                if let Event::Readable(id) | Event::Finished(id) = *e {
                    loop {
                        match h.s.read(id, &mut buf) {
                            Ok(0) => {
                                let _ = h.s.finish(id);
                                break;
                            }
                            Ok(_) => {}
                            Err(ReadError::WouldBlock) | Err(_) => break,
                        }
                    }
                }
            }
            if h.s.state() == SessionState::Open && h.s.streams_in_use() < 2 {
                if let Ok(id) = h.s.open() {
                    let _ = h.s.write(id, &[0xAB; 300]);
                }
            }
            h.drain();
            assert!(h.s.streams_in_use() <= CAPACITY, "{} streams in use", h.s.streams_in_use());
            check_close(&h);
        }
        check_output(&h);
    }

    /// The session is open, or ended with a protocol error (its GOAWAY
    /// sent), or ended because the peer's bytes happened to form a GOAWAY.
    fn check_close(h: &Harness) {
        match h.s.close_reason() {
            None => assert!(!matches!(h.s.state(), SessionState::Closing | SessionState::Closed)),
            Some(CloseReason { local: Some(LocalError::Protocol(e)), .. }) => {
                assert_eq!(h.s.state(), SessionState::Closed);
                let mut last = None;
                let mut at = 8;
                while let Ok((f, n)) = Frame::parse(&h.sent[at..], MAX_PAYLOAD) {
                    last = Some(f);
                    at += n;
                }
                match last {
                    Some(Frame::GoAway(g)) => assert_eq!(g.code, e.code()),
                    other => panic!("last frame after {e:?} is {other:?}"),
                }
            }
            Some(CloseReason { local: None, remote: Some(_) }) => {}
            Some(other) => panic!("unexpected end: {other:?}"),
        }
    }

    /// Everything the session sent parses, and no frame exceeds the peer's
    /// MAX_FRAME_SIZE.
    fn check_output(h: &Harness) {
        let limit = h.s.peer_settings().map_or(Settings::DEFAULT.max_frame_size, |s| s.max_frame_size);
        let mut at = 8;
        while at < h.sent.len() {
            let (f, n) = Frame::parse(&h.sent[at..], MAX_PAYLOAD).expect("the session's output parses");
            assert!(f.header().length <= limit, "frame {f:?} larger than the peer's {limit}");
            at += n;
        }
    }

    /// A frame with random header fields, usually with the length its
    /// type needs.
    fn arb_frame() -> impl Strategy<Value = Vec<u8>> {
        (
            0u8..16,
            0u8..16,
            prop_oneof![Just(0u32), 1u32..9, any::<u32>()],
            proptest::collection::vec(any::<u8>(), 0..48),
            any::<bool>(),
        )
            .prop_map(|(t, fl, stream, mut payload, fix)| {
                if fix {
                    let want = match t {
                        0 | 2 => Some(4),
                        5 => Some(8),
                        3 => Some(8 + payload.len().min(8)),
                        4 if fl & 1 == 1 => Some(0),
                        4 => Some(payload.len() / 6 * 6),
                        _ => None,
                    };
                    if let Some(n) = want {
                        payload.resize(n, 0x01);
                    }
                }
                raw(t, fl, stream, &payload)
            })
    }

    /// Valid peer SETTINGS, biased towards small values.
    fn arb_settings() -> impl Strategy<Value = Settings> {
        (
            prop_oneof![0u32..300, Just(MAX_WINDOW)],
            prop_oneof![64u32..300, Just(MAX_PAYLOAD)],
            0u32..20,
            prop_oneof![0u32..2000, Just(MAX_WINDOW)],
            0u32..100,
        )
            .prop_map(|(window, frame, credit, session, meta)| Settings {
                initial_stream_window: window,
                max_frame_size: frame,
                stream_credit: credit,
                session_window: session,
                max_open_metadata: meta,
                idle_timeout_ms: 0,
            })
    }

    proptest! {
        // PROPTEST_CASES=n runs more (or fewer) cases.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
            ..ProptestConfig::default()
        })]

        /// Arbitrary bytes after a valid preface and SETTINGS.
        #[test]
        fn arbitrary_bytes_after_handshake(
            server in any::<bool>(),
            input in proptest::collection::vec(any::<u8>(), 0..1024),
            cuts in proptest::collection::vec(1usize..64, 1..16),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            fuzz(role, true, &input, &cuts);
        }

        /// Arbitrary bytes from the very start (no valid preface, usually).
        #[test]
        fn arbitrary_bytes_without_handshake(
            server in any::<bool>(),
            input in proptest::collection::vec(any::<u8>(), 0..512),
            cuts in proptest::collection::vec(1usize..32, 1..16),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            fuzz(role, false, &input, &cuts);
        }

        /// A valid preface, then bytes that start like the magic: probes the
        /// preface decoder.
        #[test]
        fn arbitrary_preface_like_bytes(
            keep in 0usize..=8,
            input in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(1usize..9, 1..8),
        ) {
            let mut all = braid::frame::PREFACE[..keep].to_vec();
            all.extend(input);
            fuzz(Role::Server, false, &all, &cuts);
        }

        /// Sequences of frames with random header fields (mostly plausible
        /// lengths), after a valid handshake: reaches far deeper than random
        /// bytes.
        #[test]
        fn arbitrary_frames_after_handshake(
            server in any::<bool>(),
            frames in proptest::collection::vec(arb_frame(), 0..64),
            cuts in proptest::collection::vec(1usize..200, 1..16),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let input: Vec<u8> = frames.concat();
            fuzz(role, true, &input, &cuts);
        }

        /// Random frames after a handshake with random (valid) peer
        /// SETTINGS: the session's own output must respect them too.
        #[test]
        fn arbitrary_frames_after_random_settings(
            server in any::<bool>(),
            peer in arb_settings(),
            frames in proptest::collection::vec(arb_frame(), 0..48),
            cuts in proptest::collection::vec(1usize..200, 1..16),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let prefix = cat(&[&preface(), &settings(peer), &settings_ack()]);
            let input: Vec<u8> = frames.concat();
            fuzz_after(role, false, &prefix, &input, &cuts);
        }

        /// With tracing on, `handle_input` may stop early when the trace
        /// queue fills: it never consumes more than given, and after the
        /// queue is drained it always goes on.
        #[test]
        fn arbitrary_frames_with_tracing(
            server in any::<bool>(),
            frames in proptest::collection::vec(arb_frame(), 0..64),
            cuts in proptest::collection::vec(1usize..400, 1..16),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let prefix = cat(&[&handshake(), &settings_ack()]);
            let input: Vec<u8> = frames.concat();
            fuzz_after(role, true, &prefix, &input, &cuts);
        }
    }
}
