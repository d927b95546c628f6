//! spec.md §11, PING, keepalive and the idle timeout, on the virtual
//! clock.

use braid::{
    CloseReason, Config, Duration, ErrorCode as C, Event, Instant, LocalError, PingError, SessionState,
};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// An ACK that matches no outstanding ping is ignored (and is not
/// an error).
/// Checks [S-11.3].
fn case_unsolicited_ping_ack_ignored(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&emit(braid::frame::Frame::Ping { ack: true, opaque: [3; 8] }));
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    expect_alive(&mut h);
    h
}

/// A PING is answered with a PING ACK carrying the same 8 bytes, whatever
/// they are.
/// Checks [S-11.2].
fn case_ping_answered_with_the_same_bytes(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    for opaque in [0u64, 1, u64::MAX, 0x0102_0304_0506_0708] {
        let d = h.step(&ping(opaque));
        assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: opaque.to_be_bytes() }]);
    }
    h
}

/// The ACK of the session's own PING is not answered either: it is
/// reported as a Pong and nothing is sent.
/// Checks [S-11.3].
fn case_ack_of_own_ping_not_answered(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    h.s.ping().unwrap();
    let d = h.drain();
    let Out::Ping { ack: false, opaque } = d.frames[0] else { panic!("{:?}", d.frames) };
    h.now = Instant::from_millis(3);
    let d = h.step(&ping_ack(u64::from_be_bytes(opaque)));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(d.events, vec![Event::Pong { rtt: Duration::from_millis(3) }]);
    h
}

// =============================================================================
// Timers
// =============================================================================

/// A session whose config asks for `local` and whose peer announces
/// `peer` (milliseconds, 0 for none), past the handshake at time zero.
fn with_idle(local: u64, peer: u32) -> Harness {
    let config = Config::client().with_idle_timeout((local > 0).then(|| Duration::from_millis(local)));
    let mut h = Harness::connected_with(config, settings_with(|s| s.idle_timeout_ms = peer), WHOLE);
    assert_eq!(h.s.local_settings().idle_timeout_ms, u32::try_from(local).unwrap());
    h.drain();
    h
}

/// Advance to `t` ms and return what was sent.
fn at(h: &mut Harness, ms: u64) -> Vec<Out> {
    h.advance_to(Instant::from_millis(ms)).frames
}

/// The idle timeout in force is the smaller of the two non-zero values,
/// or none when both are 0; the keepalive and the end follow it.
/// Checks [S-11.1].
#[test]
fn the_idle_timeout_is_the_smaller_non_zero_value() {
    for (local, peer, want) in
        [(10_000, 0, 10_000), (0, 4000, 4000), (10_000, 4000, 4000), (3000, 8000, 3000)]
    {
        let mut h = with_idle(local, peer);
        assert_eq!(h.s.idle_timeout(), Some(Duration::from_millis(want)), "{local} / {peer}");
        assert!(at(&mut h, want / 2 - 1).is_empty());
        assert!(matches!(at(&mut h, want / 2)[..], [Out::Ping { ack: false, .. }]), "{local} / {peer}");
        assert!(at(&mut h, want - 1).is_empty());
        let end = at(&mut h, want);
        assert_eq!(end, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: b"idle timeout".to_vec() }]);
    }
    let mut h = with_idle(0, 0);
    assert_eq!(h.s.idle_timeout(), None);
    assert_eq!(h.s.poll_timeout(), None);
    assert!(at(&mut h, 3_600_000).is_empty());
    assert_eq!(h.s.state(), SessionState::Open);
}

/// After T/2 of silence the session sends a keepalive PING, unless one is
/// outstanding; silence counts from the last byte received, whatever it
/// was, so a live peer's traffic (or its answers) keeps the session up.
/// Checks [S-11.5].
#[test]
fn keepalive_after_half_the_idle_timeout_of_silence() {
    let mut h = with_idle(10_000, 0);
    assert_eq!(h.s.poll_timeout(), Some(Instant::from_secs(5)));
    assert!(at(&mut h, 4_999).is_empty());
    let sent = at(&mut h, 5_000);
    let [Out::Ping { ack: false, opaque }] = sent[..] else { panic!("{sent:?}") };
    // Outstanding: no second keepalive.
    assert!(at(&mut h, 7_000).is_empty());
    // The answer at 7 s is input: silence starts again.
    h.step(&ping_ack(u64::from_be_bytes(opaque)));
    assert!(at(&mut h, 11_999).is_empty());
    assert!(matches!(at(&mut h, 12_000)[..], [Out::Ping { ack: false, .. }]));
    // Any input counts: a PING from the peer at 13 s is answered, and the
    // next keepalive (after the outstanding one is answered) waits for 18 s.
    h.now = Instant::from_secs(13);
    let d = h.step(&ping(99));
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: 99u64.to_be_bytes() }]);
    let pings = h.all_frames().iter().filter(|f| matches!(f, Out::Ping { ack: false, .. })).count();
    assert_eq!(pings, 2);
    assert!(at(&mut h, 17_999).is_empty());
    assert_eq!(h.s.state(), SessionState::Open);
}

/// After T of silence the session ends (idle timeout), with a GOAWAY
/// NO_ERROR "idle timeout", and not a microsecond earlier — also when a
/// keepalive is outstanding and never answered.
/// Checks [S-11.6].
#[test]
fn silence_for_the_idle_timeout_ends_the_session() {
    let mut h = with_idle(4000, 0);
    h.now = Instant::from_millis(1000);
    h.step(&ping(1));
    assert!(matches!(at(&mut h, 3000)[..], [Out::Ping { ack: false, .. }]));
    h.advance_to(Instant::from_micros(4_999_999));
    assert_eq!(h.s.state(), SessionState::Open);
    assert_eq!(h.s.poll_timeout(), Some(Instant::from_secs(5)));
    let d = h.advance_to(Instant::from_secs(5));
    assert_eq!(d.frames, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: b"idle timeout".to_vec() }]);
    let reason = CloseReason { local: Some(LocalError::IdleTimeout), remote: None };
    assert_eq!(d.events, vec![Event::Closed(reason)]);
    assert_eq!(h.s.state(), SessionState::Closed);
    expect_deaf_and_mute(&mut h);
}

/// Never more than one PING without ACK outstanding: the application's
/// PING is refused (`Busy`) while one is out, the keepalive does not add
/// one, an ACK with other bytes does not settle it; after the matching
/// ACK the next may go.
/// Checks [S-11.4].
#[test]
fn at_most_one_ping_outstanding() {
    let mut h = with_idle(2000, 0);
    h.s.ping().unwrap();
    assert_eq!(h.s.ping(), Err(PingError::Busy));
    let d = h.drain();
    let [Out::Ping { ack: false, opaque }] = d.frames[..] else { panic!("{:?}", d.frames) };
    assert_eq!(h.s.ping(), Err(PingError::Busy));
    assert!(at(&mut h, 1000).is_empty(), "no keepalive while a PING is outstanding");
    h.step(&ping_ack(u64::from_be_bytes(opaque) ^ 1));
    assert_eq!(h.s.ping(), Err(PingError::Busy), "a non-matching ACK settles nothing");
    let d = h.step(&ping_ack(u64::from_be_bytes(opaque)));
    assert!(matches!(d.events[..], [Event::Pong { .. }]), "{:?}", d.events);
    h.s.ping().unwrap();
    let d = h.drain();
    assert!(matches!(d.frames[..], [Out::Ping { ack: false, .. }]), "{:?}", d.frames);
    // Two PINGs in all, the second sent only after the first was answered.
    let pings = h.all_frames().iter().filter(|f| matches!(f, Out::Ping { ack: false, .. })).count();
    assert_eq!(pings, 2);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    unsolicited_ping_ack_ignored => case_unsolicited_ping_ack_ignored,
    ping_answered_with_the_same_bytes => case_ping_answered_with_the_same_bytes,
    ack_of_own_ping_not_answered => case_ack_of_own_ping_not_answered,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
