//! spec.md §2, preface and handshake: a scripted raw peer talks to one
//! real `braid::Session` and checks the exact answer (frames, GOAWAY code
//! and Last Stream Id, close reason, events).

use braid::frame::{flags, Settings};
use braid::{
    CloseReason, Config, Duration, ErrorCode as C, Event, Instant, LocalError, OpenError, ProtocolError as P,
    Role, SessionState,
};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// First 7 bytes differ from the magic -> BadPreface, GOAWAY
/// PROTOCOL_ERROR.
/// Checks [S-2.3].
fn case_bad_preface_magic(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[b"BRAIX\r\n\x01", &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::BadPreface, C::PROTOCOL_ERROR, 0);
    h
}

/// Another protocol entirely (an HTTP request) -> BadPreface.
/// Checks [S-2.3].
fn case_http_request_instead_of_preface(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_protocol_error(&mut h, &d, P::BadPreface, C::PROTOCOL_ERROR, 0);
    h
}

/// Version byte != 1 -> GOAWAY UNSUPPORTED_VERSION (11).
/// Checks [S-2.4].
fn case_unsupported_version(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[b"BRAID\r\n\x02", &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::UnsupportedVersion(2), C::UNSUPPORTED_VERSION, 0);
    assert_eq!(C::UNSUPPORTED_VERSION.0, 11);
    h
}

/// Version 0 is not 1 either.
/// Checks [S-2.4].
fn case_version_zero(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::client(), chunk);
    let d = h.step(b"BRAID\r\n\x00");
    expect_protocol_error(&mut h, &d, P::UnsupportedVersion(0), C::UNSUPPORTED_VERSION, 0);
    h
}

/// A violation found before this side sent anything: its
/// preface and SETTINGS still go out before the GOAWAY.
/// Checks [S-2.1], [S-2.2], [S-2.3].
fn case_error_before_own_preface_sends_preface_first(chunk: usize) -> Harness {
    let mut h = Harness::raw(Config::server(), chunk);
    let d = h.step(b"BRAIX\r\n\x01");
    assert!(matches!(d.frames[0], Out::Settings(_)), "{:?}", d.frames);
    assert_eq!(d.frames.len(), 2);
    expect_protocol_error(&mut h, &d, P::BadPreface, C::PROTOCOL_ERROR, 0);
    h
}

/// First frame after the preface must be SETTINGS: PING first ->
/// PROTOCOL_ERROR.
/// Checks [S-2.5].
fn case_first_frame_ping(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &ping(1), &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

/// First frame a SETTINGS ACK (not a non-ACK SETTINGS) ->
/// PROTOCOL_ERROR.
/// Checks [S-2.5].
fn case_first_frame_settings_ack(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &settings_ack(), &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

/// DATA (a SYN) before the peer's SETTINGS -> PROTOCOL_ERROR, and
/// no stream is created.
/// Checks [S-2.5].
fn case_first_frame_syn(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &syn(1, b"early")]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.stats().streams_incoming, 0);
    h
}

/// WNDINC before the peer's SETTINGS -> PROTOCOL_ERROR.
/// Checks [S-2.5].
fn case_first_frame_wndinc(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &wndinc(0, 100)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

/// Unknown types are skipped, but the first frame must still
/// be SETTINGS.
/// Checks [S-2.5].
fn case_first_frame_unknown_type(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(9, 0, 0, b"xx"), &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    h
}

/// A GOAWAY is not SETTINGS either: as the first frame it is a
/// PROTOCOL_ERROR, not the start of a graceful end.
/// Checks [S-2.5].
fn case_first_frame_goaway(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &goaway(0, C::NO_ERROR, b""), &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::ExpectedSettings, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.remote_go_away(), None);
    h
}

/// The header checks of §4.8 come before the first-frame rule: a first
/// frame that is a PING of the wrong length is a FRAME_SIZE_ERROR, an RST
/// on stream 0 a PROTOCOL_ERROR for stream 0, and only a well-formed
/// non-SETTINGS frame is ExpectedSettings.
/// Checks [S-2.5], [S-4.12].
fn case_first_frame_header_checks_come_first(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::PING, 0, 0, &[0; 9])]));
    expect_protocol_error(&mut h, &d, P::BadFrameLength, C::FRAME_SIZE_ERROR, 0);
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::RST, 0, 0, &[0; 4])]));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 0);
    h
}

/// The preface is checked once all 8 bytes are in, whatever else came
/// with them: a preface split over many reads is accepted, and the magic
/// of another version with our SETTINGS after it is still refused.
/// Checks [S-2.3], [S-2.4].
fn case_preface_checked_on_its_eighth_byte(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(b"BRAID\r\n");
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    assert_eq!(h.s.close_reason(), None, "7 bytes of a good magic are no error yet");
    let d = h.step(&cat(&[b"\x07", &settings(Settings::DEFAULT)]));
    expect_protocol_error(&mut h, &d, P::UnsupportedVersion(7), C::UNSUPPORTED_VERSION, 0);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// Both roles write the preface and then exactly one SETTINGS frame
/// without ACK as their first bytes, before anything has arrived: the
/// output of a session that has received nothing.
/// Checks [S-2.1], [S-2.2].
#[test]
fn preface_and_settings_leave_before_anything_arrives() {
    for config in [Config::client(), Config::server()] {
        let mut h = Harness::raw(config, WHOLE);
        assert_eq!(h.s.stats().bytes_received, 0);
        let d = h.drain();
        assert_eq!(&h.sent[..8], b"BRAID\r\n\x01", "{:?}: the preface, version 1", config.role);
        assert_eq!(d.frames, vec![Out::Settings(*h.s.local_settings())], "{:?}", config.role);
        assert_eq!(h.sent.len(), 8 + 8 + 36, "the preface and one SETTINGS of six entries, nothing else");
        // Nothing more until the peer speaks.
        let d = h.advance(Duration::from_secs(1));
        assert!(d.frames.is_empty(), "{:?}", d.frames);
    }
}

/// Even when the peer's preface and SETTINGS arrive before this side has
/// written anything, its own preface and SETTINGS are its first bytes,
/// and the SETTINGS ACK comes only after them.
/// Checks [S-2.1], [S-2.2], [S-6.6].
#[test]
fn own_preface_and_settings_precede_the_ack_when_the_peer_spoke_first() {
    let mut h = Harness::raw(Config::client(), WHOLE);
    h.feed(&handshake());
    let d = h.drain();
    assert_eq!(&h.sent[..8], b"BRAID\r\n\x01");
    assert_eq!(d.frames, vec![Out::Settings(*h.s.local_settings()), Out::SettingsAck]);
    assert_eq!(d.events, vec![Event::Connected]);
}

/// A session closed by its application before it wrote anything still
/// writes its preface and SETTINGS first, then its GOAWAY.
/// Checks [S-2.1], [S-2.2].
#[test]
fn preface_and_settings_come_first_even_when_closing_at_once() {
    for config in [Config::client(), Config::server()] {
        let mut h = Harness::raw(config, WHOLE);
        h.s.close();
        let d = h.drain();
        assert_eq!(&h.sent[..8], b"BRAID\r\n\x01");
        assert_eq!(
            d.frames,
            vec![
                Out::Settings(*h.s.local_settings()),
                Out::GoAway { last: 0, code: C::NO_ERROR, debug: vec![] }
            ]
        );
        expect_sender_rules(&h);
    }
}

/// SETTINGS without ACK is sent once in a session's life: a session that
/// sends every kind of frame (data, metadata, window and credit updates,
/// PINGs, RST, GOAWAY) sends its SETTINGS only as its first frame.
/// Checks [S-2.2].
#[test]
fn settings_is_sent_once_however_busy_the_session() {
    let h = every_frame_kind(Role::Server);
    let all = h.all_frames();
    let settings: Vec<usize> =
        all.iter().enumerate().filter(|(_, f)| matches!(f, Out::Settings(_))).map(|(i, _)| i).collect();
    assert_eq!(settings, vec![0], "{all:?}");
    expect_sender_rules(&h);
}

/// Until the peer's SETTINGS arrives the session sends only SETTINGS,
/// PING and GOAWAY: it refuses to open a stream, sends its keepalive PING
/// (its own idle timeout applies), an application PING, and its GOAWAY;
/// the peer's preface alone changes nothing.
/// Checks [S-2.6], [S-11.1].
#[test]
fn before_the_peers_settings_only_settings_ping_and_goaway_leave() {
    let config = Config::client().with_idle_timeout(Some(Duration::from_secs(4)));
    let mut h = Harness::fresh(config, WHOLE);
    assert_eq!(h.s.open(), Err(OpenError::Handshaking));
    let d = h.step(&preface());
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    assert_eq!(h.s.open(), Err(OpenError::Handshaking));
    // Half the idle timeout of silence: a keepalive PING, before the handshake ends.
    assert_eq!(h.s.idle_timeout(), Some(Duration::from_secs(4)));
    let d = h.advance_to(Instant::from_millis(1999));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    let d = h.advance_to(Instant::from_secs(2));
    assert!(matches!(d.frames[..], [Out::Ping { ack: false, .. }]), "{:?}", d.frames);
    // The peer answers the PING? It may not: a PING ACK is not SETTINGS.
    // The application's own PING waits for the keepalive to be answered.
    assert!(h.s.ping().is_err());
    // A GOAWAY may leave too.
    h.s.go_away(C::NO_ERROR, b"not today").unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: b"not today".to_vec() }]);
    for f in h.all_frames() {
        assert!(
            matches!(f, Out::Settings(_) | Out::Ping { ack: false, .. } | Out::GoAway { .. }),
            "{f:?} sent before the peer's SETTINGS"
        );
    }
    expect_sender_rules(&h);
}

/// An application PING before the handshake ends is allowed out, and the
/// handshake timeout ends the session with a GOAWAY: still only PING and
/// GOAWAY after the session's SETTINGS.
/// Checks [S-2.6].
#[test]
fn before_the_peers_settings_a_ping_and_the_handshake_timeout_goaway() {
    let mut h = Harness::fresh(Config::server(), WHOLE);
    h.s.ping().unwrap();
    let d = h.drain();
    assert!(matches!(d.frames[..], [Out::Ping { ack: false, .. }]), "{:?}", d.frames);
    let d = h.advance_to(Instant::from_secs(10));
    assert_eq!(
        d.frames,
        vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: b"handshake timeout".to_vec() }]
    );
    let reason = CloseReason { local: Some(LocalError::HandshakeTimeout), remote: None };
    assert_eq!(d.events, vec![Event::Closed(reason)]);
    assert_eq!(h.s.state(), SessionState::Closed);
    expect_sender_rules(&h);
}

/// A stream cannot be opened before the peer's SETTINGS, even with the
/// peer's data already in flight: no SYN, no DATA leaves, and `open`
/// succeeds only once the SETTINGS is in.
/// Checks [S-2.6].
#[test]
fn no_stream_opens_before_the_peers_settings() {
    let mut h = Harness::fresh(Config::client(), 1);
    h.feed(&preface());
    h.feed(&settings(Settings::DEFAULT)[..20]);
    assert_eq!(h.s.open(), Err(OpenError::Handshaking));
    assert!(h.drain().frames.is_empty());
    let d = h.step(&settings(Settings::DEFAULT)[20..]);
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    let id = h.s.open().unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Data { stream: id.0, flags: flags::SYN, payload: vec![] }]);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
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
    first_frame_goaway => case_first_frame_goaway,
    first_frame_header_checks_come_first => case_first_frame_header_checks_come_first,
    preface_checked_on_its_eighth_byte => case_preface_checked_on_its_eighth_byte,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
