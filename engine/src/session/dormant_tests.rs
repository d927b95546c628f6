//! [`Session::dormant`] and [`Session::restart`] over it: a dormant session
//! is over before it starts, and restarting it gives what `Session::new`
//! gives.

extern crate std;

use super::*;
use crate::trace::TRACE_CAPACITY;
use crate::{AcceptError, ArrayStorage, OpenError, PingError};
use std::vec::Vec;

type S = ArrayStorage<2, 256, 256>;

/// What a session sends first, and its trace, at `now`.
fn opening(s: &mut Session<S>, now: Instant) -> (Vec<u8>, Vec<FrameRecord>) {
    let mut buf = [0u8; 512];
    let n = s.poll_transmit(now, &mut buf);
    (buf[..n].to_vec(), std::iter::from_fn(|| s.poll_trace()).collect())
}

#[test]
fn a_dormant_session_is_over_and_does_nothing() {
    // `const`: it can initialise a static.
    static DORMANT: Session<S> = Session::dormant(S::new());
    assert_eq!(DORMANT.state(), SessionState::Closed);

    let mut s = Session::dormant(S::new());
    let now = Instant::from_millis(5);
    assert_eq!(s.state(), SessionState::Closed);
    assert_eq!(s.close_reason(), None);
    assert_eq!(s.streams_in_use(), 0);
    assert_eq!(s.poll_transmit(now, &mut [0u8; 64]), 0);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.poll_event(), None);
    // Input is swallowed and ignored; timers and the end of input do nothing.
    assert_eq!(s.handle_input(now, b"BRAID\x01\x00\x00"), 8);
    s.handle_timeout(Instant::from_secs(3600));
    s.handle_eof(now);
    assert_eq!((s.state(), s.close_reason(), s.poll_event()), (SessionState::Closed, None, None));
    assert_eq!(s.open(), Err(OpenError::SessionClosed));
    assert_eq!(s.accept(), Err(AcceptError::SessionClosed));
    assert_eq!(s.ping(), Err(PingError::SessionClosed));
    assert_eq!(s.poll_transmit(now, &mut [0u8; 64]), 0);
}

#[test]
fn restarting_a_dormant_session_gives_a_new_one() {
    let now = Instant::from_millis(250);
    for config in [Config::client(), Config::server().with_trace(true)] {
        let mut config = config;
        config.max_open_metadata = 32;
        config.idle_timeout = Some(Duration::from_secs(10));
        let mut fresh = Session::new(config, S::new(), now);
        let mut s = Session::dormant(S::new());
        s.restart(config, now);
        assert_eq!(s.state(), SessionState::Handshaking);
        assert_eq!(s.config(), fresh.config());
        assert_eq!(s.local_settings(), fresh.local_settings());
        assert_eq!(s.stats(), fresh.stats());
        assert_eq!(s.poll_timeout(), fresh.poll_timeout());
        assert_eq!(opening(&mut s, now), opening(&mut fresh, now));
    }
}

#[test]
fn restart_empties_the_trace_queue() {
    let now = Instant::ZERO;
    let config = Config::client().with_trace(true);
    let mut s = Session::new(config, S::new(), now);
    let _ = s.poll_transmit(now, &mut [0u8; 512]);
    assert!(s.trace.free() < TRACE_CAPACITY, "the preface and SETTINGS are traced");
    s.restart(config, now);
    let mut fresh = Session::new(config, S::new(), now);
    assert_eq!(opening(&mut s, now), opening(&mut fresh, now));
    // And a restart with tracing off records nothing more.
    s.restart(Config::client(), now);
    assert!(!opening(&mut s, now).0.is_empty());
    assert_eq!(s.poll_trace(), None);
}
