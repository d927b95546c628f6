//! spec.md §9, error codes: what may be sent, what must be accepted, and
//! how a session error is answered.

use braid::frame::flags;
use braid::{
    AcceptError, CloseReason, ErrorCode as C, Event, GoAwayError, Instant, ProtocolError as P, Role,
    SessionState, StreamError, StreamId,
};
use braid_conformance::cases;
use braid_conformance::coverage::SPEC;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// "A protocol error detected locally: send GOAWAY(code, debug)":
/// also when this side already sent a graceful GOAWAY, the peer must learn
/// the error code.
/// Checks [S-9.3].
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

/// After a protocol error the session stops processing input:
/// further input is consumed and ignored, and nothing is sent after the
/// final GOAWAY, whatever the application does.
/// Checks [S-9.4].
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

/// Any code in an RST is accepted and reported unchanged: reserved codes,
/// NO_ERROR, the largest reserved code and application codes.
/// Checks [S-9.2].
fn case_any_rst_code_is_reported_unchanged(chunk: usize) -> Harness {
    let config = braid::Config { max_inbound_streams: Some(4), ..braid::Config::server() };
    let mut h = Harness::connected(config, chunk);
    let codes = [C(12), C(0x7FFF_FFFF), C::NO_ERROR, C(0x8000_0000), C(0xFFFF_FFFF)];
    for (i, code) in codes.into_iter().enumerate() {
        let id = 1 + 2 * i as u32;
        h.open_accepted(id, b"");
        let d = h.step(&rst(id, code));
        assert_eq!(d.events, vec![Event::Reset { id: StreamId(id), code, remote: true }]);
        assert!(d.sans_credit().is_empty(), "{:?}", d.frames);
        for f in h.drain().frames {
            assert!(matches!(f, Out::WndInc { credit: true, .. }), "{f:?}");
        }
    }
    assert_eq!(h.s.close_reason(), None);
    h
}

/// Any code in a GOAWAY is accepted and reported unchanged: a reserved
/// code ends the session like any error code, and is reported as the
/// remote code with the debug bytes.
/// Checks [S-9.2].
fn case_any_goaway_code_is_reported_unchanged(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&goaway(1, C(99), b"from the future"));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(d.events[0], Event::GoAway { last_stream: StreamId(1), code: C(99) });
    assert!(d.events.contains(&Event::Reset { id: StreamId(1), code: C(99), remote: true }));
    let reason = CloseReason { local: None, remote: Some(C(99)) };
    assert_eq!(d.events.last(), Some(&Event::Closed(reason)));
    assert_eq!(h.s.remote_go_away(), Some((StreamId(1), C(99))));
    assert_eq!(h.s.remote_debug(), b"from the future");
    h
}

/// Replies already due when a violation arrives (a PING ACK, a window
/// update, queued data) never follow the error GOAWAY: it is the last
/// frame, and nothing is sent or acted on after it.
/// Checks [S-9.4], [S-9.3].
fn case_nothing_follows_the_error_goaway(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, &[1; 2000]);
    let mut buf = [0u8; 4096];
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(2000));
    h.s.write(StreamId(1), b"queued").unwrap();
    let d = h.step(&cat(&[&ping(1), &rst(9, C::CANCEL), &ping(2), &syn(3, b"x")]));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 1);
    assert_eq!(d.frames.len(), 1, "{:?}", d.frames);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// The session sends no code of the reserved range: the API refuses one
/// for `reset`, `refuse` and `go_away` (nothing is sent), and over a whole
/// session of every kind of frame every RST and GOAWAY code is a protocol
/// or application code. A peer's reserved code is never echoed.
/// Checks [S-9.1].
#[test]
fn no_reserved_code_is_ever_sent() {
    let mut h = Harness::server(WHOLE);
    h.open_accepted(1, b"");
    assert_eq!(h.s.reset(StreamId(1), C(12)), Err(StreamError::ReservedCode));
    assert_eq!(h.s.reset(StreamId(1), C(0x7FFF_FFFF)), Err(StreamError::ReservedCode));
    assert_eq!(h.s.go_away(C(0x1234), b""), Err(GoAwayError::ReservedCode));
    h.step(&syn(3, b""));
    assert_eq!(h.s.refuse(C(500)), Err(AcceptError::ReservedCode));
    assert!(h.drain().frames.is_empty());
    assert_eq!(h.s.refuse(C::application(500)), Ok(StreamId(3)));
    assert_eq!(h.drain().rsts(), vec![&Out::Rst { stream: 3, code: C::application(500) }]);
    let d = h.step(&rst(1, C(77)));
    assert!(d.sans_credit().is_empty(), "{:?}", d.frames);
    for role in [Role::Client, Role::Server] {
        let h = every_frame_kind(role);
        for f in h.all_frames() {
            if let Out::Rst { code, .. } | Out::GoAway { code, .. } = f {
                assert!(!code.is_reserved(), "{f:?}");
            }
        }
        expect_sender_rules(&h);
    }
}

/// The name and the code of each `ProtocolError` variant, as the engine
/// defines them.
fn variants() -> Vec<(&'static str, P)> {
    vec![
        ("BadPreface", P::BadPreface),
        ("UnsupportedVersion", P::UnsupportedVersion(2)),
        ("ExpectedSettings", P::ExpectedSettings),
        ("FrameTooLarge", P::FrameTooLarge),
        ("BadFrameLength", P::BadFrameLength),
        ("NeedsStream", P::NeedsStream),
        ("NeedsSessionStream", P::NeedsSessionStream),
        ("ZeroIncrement", P::ZeroIncrement),
        ("SettingOutOfRange", P::SettingOutOfRange),
        ("SettingsRepeated", P::SettingsRepeated),
        ("UnexpectedSettingsAck", P::UnexpectedSettingsAck),
        ("WindowOverflow", P::WindowOverflow),
        ("FlowControl", P::FlowControl),
        ("WrongParity", P::WrongParity),
        ("StreamReused", P::StreamReused),
        ("IdleStream", P::IdleStream),
        ("CreditExceeded", P::CreditExceeded),
        ("DuplicateSyn", P::DuplicateSyn),
        ("MetadataTooLarge", P::MetadataTooLarge),
        ("MetadataOverrun", P::MetadataOverrun),
        ("MetadataMalformed", P::MetadataMalformed),
        ("MetadataUnexpected", P::MetadataUnexpected),
        ("GoAwayRaised", P::GoAwayRaised),
        ("Flood", P::Flood),
    ]
}

/// Every session error is answered with a GOAWAY carrying the error's
/// code: the table of spec.md §9.3 (read from the spec) lists exactly the
/// engine's violations, each with the code the engine sends for it (the
/// input cases of every section check the GOAWAY on the wire).
/// Checks [S-9.3].
#[test]
fn every_violation_carries_the_code_of_the_spec_table() {
    let start = SPEC.find("### 9.3").expect("spec.md has §9.3");
    let end = start + SPEC[start..].find("\n## ").expect("a section follows §9.3");
    let mut rows = Vec::new();
    for line in SPEC[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        rows.push((cells[1].trim_matches('`').to_string(), cells[3].to_string()));
    }
    let engine = variants();
    let names: Vec<&str> = engine.iter().map(|(n, _)| *n).collect();
    let listed: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(listed, names, "the spec's table and the engine's violations differ");
    for ((name, code), (_, e)) in rows.iter().zip(engine) {
        assert_eq!(e.code().name(), Some(code.as_str()), "{name}");
    }
}

/// A session error after this side's graceful GOAWAY still sends a GOAWAY
/// with the error's code, for every kind of session end the application
/// can start gracefully.
/// Checks [S-9.3].
#[test]
fn an_error_after_a_graceful_goaway_is_still_told() {
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    h.s.go_away(C::NO_ERROR, b"soon").unwrap();
    h.drain();
    let d = h.step(&data(a.0, flags::SYN, b""));
    expect_protocol_error(&mut h, &d, P::WrongParity, C::PROTOCOL_ERROR, 0);
    let lasts: Vec<C> = h
        .all_frames()
        .iter()
        .filter_map(|f| if let Out::GoAway { code, .. } = f { Some(*code) } else { None })
        .collect();
    assert_eq!(lasts, vec![C::NO_ERROR, C::PROTOCOL_ERROR]);
}

/// After its error GOAWAY the session acts on nothing: commands fail and
/// send nothing, time passing sends nothing (no keepalive, no idle end),
/// input is ignored.
/// Checks [S-9.4].
#[test]
fn after_the_error_goaway_nothing_at_all() {
    let config = braid::Config::server().with_idle_timeout(Some(braid::Duration::from_secs(2)));
    let mut h = Harness::connected(config, WHOLE);
    h.open_accepted(1, b"");
    let d = h.step(&wndinc(0, 0x7FFF_FFFF));
    expect_protocol_error(&mut h, &d, P::WindowOverflow, C::FLOW_CONTROL_ERROR, 1);
    assert!(h.s.write(StreamId(1), b"x").is_err());
    assert!(h.s.open().is_err());
    let d = h.advance_to(Instant::from_secs(60));
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    assert_eq!(h.s.state(), SessionState::Closed);
    expect_deaf_and_mute(&mut h);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    protocol_error_after_local_goaway => case_protocol_error_after_local_goaway,
    after_end_input_ignored_and_nothing_sent => case_after_end_input_ignored_and_nothing_sent,
    any_rst_code_is_reported_unchanged => case_any_rst_code_is_reported_unchanged,
    any_goaway_code_is_reported_unchanged => case_any_goaway_code_is_reported_unchanged,
    nothing_follows_the_error_goaway => case_nothing_follows_the_error_goaway,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
