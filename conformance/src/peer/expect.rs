//! Expectations on the session's answer.

use super::frames::{cat, goaway, handshake, ping, raw, syn, ty};
use super::harness::{Drained, Harness, Out};
use braid::{CloseReason, ErrorCode, Event, LocalError, ProtocolError, SessionState, Storage};

/// The session ended on protocol error `e`: its last frame is a GOAWAY with
/// `code` (checked against the spec's table, not only against `e.code()`),
/// Last Stream Id `last` and `e`'s text as debug data; it sent exactly one
/// GOAWAY in `d`; the close reason and the final `Event::Closed` say so;
/// and the session is then deaf and mute ([`expect_deaf_and_mute`]).
///
/// # Panics
/// If any of this does not hold.
pub fn expect_protocol_error<S: Storage>(
    h: &mut Harness<S>,
    d: &Drained,
    e: ProtocolError,
    code: ErrorCode,
    last: u32,
) {
    expect_protocol_error_with_remote(h, d, e, code, last, None);
}

/// As [`expect_protocol_error`], when the peer had sent a GOAWAY with
/// `remote` before.
///
/// # Panics
/// If the session did not end that way.
pub fn expect_protocol_error_with_remote<S: Storage>(
    h: &mut Harness<S>,
    d: &Drained,
    e: ProtocolError,
    code: ErrorCode,
    last: u32,
    remote: Option<ErrorCode>,
) {
    assert_eq!(e.code(), code, "wire code of {e:?}");
    let reason = CloseReason { local: Some(LocalError::Protocol(e)), remote };
    assert_eq!(h.s.close_reason(), Some(reason), "close reason; frames sent: {:?}", d.frames);
    assert_eq!(
        d.frames.last(),
        Some(&Out::GoAway { last, code, debug: e.as_str().as_bytes().to_vec() }),
        "final GOAWAY; frames sent: {:?}",
        d.frames
    );
    assert_eq!(d.goaways().len(), 1, "exactly one GOAWAY: {:?}", d.frames);
    assert_eq!(d.events.last(), Some(&Event::Closed(reason)), "events: {:?}", d.events);
    assert_eq!(h.s.state(), SessionState::Closed);
    expect_deaf_and_mute(h);
}

/// After the end: input is consumed and ignored, nothing more is sent, no
/// event is reported and no timer is asked for.
///
/// # Panics
/// If the session reacts to anything.
pub fn expect_deaf_and_mute<S: Storage>(h: &mut Harness<S>) {
    let before = h.transcript();
    let junk = cat(&[
        &ping(9),
        &syn(101, b"late"),
        &raw(ty::PING, 0, 0, &[1; 3]),
        &[0xFF; 37],
        &handshake(),
        &goaway(0, ErrorCode::PROTOCOL_ERROR, b""),
    ]);
    h.feed(&junk);
    let d = h.drain();
    assert!(d.frames.is_empty(), "sent after the end: {:?}", d.frames);
    assert!(d.events.is_empty(), "events after the end: {:?}", d.events);
    assert_eq!(h.transcript(), before);
    assert_eq!(h.s.poll_timeout(), None);
    assert_eq!(h.s.state(), SessionState::Closed);
}

/// The session is still open and answers a PING with exactly its ACK.
///
/// # Panics
/// If it ended or answers anything else.
pub fn expect_alive<S: Storage>(h: &mut Harness<S>) {
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&ping(0x0A11_7E57));
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: 0x0A11_7E57u64.to_be_bytes() }]);
    assert!(!d.events.iter().any(|e| matches!(e, Event::Closed(_))));
}
