//! spec.md §8, GOAWAY: Last Stream Id, refusing and not opening streams
//! after a GOAWAY, streams above the peer's Last Stream Id, graceful and
//! immediate ends.

use braid::frame::{flags, MAX_WINDOW};
use braid::{
    CloseReason, Config, ErrorCode as C, Event, LocalError, OpenError, ProtocolError as P, SessionState,
    StreamId,
};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// After this side's GOAWAY, a new SYN (sent within the credit the peer
/// had, e.g. before the GOAWAY reached it) is refused with RST REFUSED, its
/// payload skipped (and refunded), and its id counts as seen.
/// Checks [S-8.2], [S-5.10], [S-5.18].
fn case_syn_after_local_goaway_refused(chunk: usize) -> Harness {
    let mut h = Harness::connected(Config { max_inbound_streams: Some(3), ..Config::server() }, chunk);
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

/// A later GOAWAY may lower the last stream id but must not raise
/// it -> PROTOCOL_ERROR.
/// Checks [S-8.6].
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

/// A later GOAWAY MUST NOT raise the last stream id: after a
/// graceful GOAWAY(last 1) and a refused SYN 3, the error GOAWAY still says
/// 1 (stream 3 was never processed).
/// Checks [S-8.5], [S-9.3].
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

/// A peer GOAWAY with an error code ends the session at once; no
/// GOAWAY is sent back and later input is ignored.
/// Checks [S-8.8].
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

/// "Any other code: the peer is ending the session; all streams
/// end reset with that code; session Closed with remote code."
/// Checks [S-8.8].
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

/// After *receiving* a GOAWAY (a stream still open, so the session
/// drains), a SYN from the peer is refused with RST REFUSED, its payload
/// read, discarded and charged to the session window; its id and credit
/// still count.
/// Checks [S-8.2], [S-5.10].
fn case_syn_after_peer_goaway_refused(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&goaway(0, C::NO_ERROR, b""));
    assert_eq!(d.events, vec![Event::GoAway { last_stream: StreamId(0), code: C::NO_ERROR }]);
    assert_eq!(h.s.state(), SessionState::Draining);
    let window = h.s.session_recv_window();
    let d = h.step(&syn(3, &[6; 300]));
    assert_eq!(d.sans_credit(), vec![Out::Rst { stream: 3, code: C::REFUSED }]);
    assert!(d.events.is_empty(), "{:?}", d.events);
    assert_eq!(h.s.session_recv_window(), window - 300);
    assert_eq!(h.s.stats().data_received, 0);
    assert_eq!(h.s.stats().streams_incoming, 2);
    // The id is used: the same SYN again is a reuse.
    let d = h.step(&syn(3, b""));
    expect_protocol_error_with_remote(&mut h, &d, P::StreamReused, C::PROTOCOL_ERROR, 3, Some(C::NO_ERROR));
    h
}

/// On an error GOAWAY nothing more is sent, not even the replies already
/// due when it arrived (a PING ACK, a SETTINGS-free window update, an RST
/// for DATA after FIN): the session and every stream end at once.
/// Checks [S-8.8].
fn case_error_goaway_drops_pending_replies(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, &[1; 2000]);
    let mut buf = [0u8; 4096];
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(2000));
    h.s.write(StreamId(1), b"queued").unwrap();
    h.step(&data(3, flags::SYN | flags::FIN, b""));
    let d = h.step(&cat(&[&ping(5), &data(3, 0, b"after fin"), &goaway(3, C::ENHANCE_YOUR_CALM, b"stop")]));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    let reason = CloseReason { local: None, remote: Some(C::ENHANCE_YOUR_CALM) };
    assert!(
        d.events.contains(&Event::Reset { id: StreamId(1), code: C::ENHANCE_YOUR_CALM, remote: true }),
        "{:?}",
        d.events
    );
    assert_eq!(d.events.last(), Some(&Event::Closed(reason)));
    assert_eq!(h.s.write(StreamId(1), b"x"), Err(braid::WriteError::SessionClosed));
    expect_deaf_and_mute(&mut h);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// The GOAWAY's Last Stream Id covers every stream the peer opened that
/// the session processed or will process: the highest SYN received (a
/// stream accepted, one still waiting for the application, one already
/// forgotten), 0 when the peer opened none; for either role.
/// Checks [S-8.1].
#[test]
fn last_stream_id_is_the_highest_syn_received() {
    let mut h = Harness::server(WHOLE);
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    assert_eq!(h.drain().frames, vec![Out::GoAway { last: 0, code: C::NO_ERROR, debug: vec![] }]);
    let mut h = Harness::server(WHOLE);
    h.forget_peer_stream(1);
    h.open_accepted(3, b"");
    h.step(&syn(5, b"waiting"));
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    let d = h.drain();
    assert_eq!(d.goaways(), vec![&Out::GoAway { last: 5, code: C::NO_ERROR, debug: vec![] }]);
    let mut h = Harness::client(WHOLE);
    h.step(&cat(&[&syn(2, b""), &syn(4, b"")]));
    h.s.go_away(C::application(1), b"app").unwrap();
    let d = h.drain();
    assert_eq!(d.goaways(), vec![&Out::GoAway { last: 4, code: C::application(1), debug: b"app".to_vec() }]);
    expect_sender_rules(&h);
}

/// After sending a GOAWAY the session sends no SYN: `open` fails with
/// `GoingAway`. A stream opened before the GOAWAY keeps its place: its SYN
/// leaves before the GOAWAY, never after.
/// Checks [S-8.3].
#[test]
fn no_syn_after_sending_a_goaway() {
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    assert_eq!(h.s.open(), Err(OpenError::GoingAway));
    let d = h.drain();
    assert_eq!(
        d.frames,
        vec![
            Out::Data { stream: a.0, flags: flags::SYN, payload: vec![] },
            Out::GoAway { last: 0, code: C::NO_ERROR, debug: vec![] }
        ]
    );
    assert_eq!(h.s.open(), Err(OpenError::GoingAway));
    let d = h.step(&credit(5));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.open(), Err(OpenError::GoingAway));
    expect_sender_rules(&h);
}

/// After receiving a GOAWAY the session opens no stream: `open` fails
/// with `GoingAway` and no SYN leaves.
/// Checks [S-8.3].
#[test]
fn no_syn_after_receiving_a_goaway() {
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    h.drain();
    let d = h.step(&goaway(0, C::NO_ERROR, b""));
    assert!(d.events.contains(&Event::Reset { id: a, code: C::REFUSED, remote: true }), "{:?}", d.events);
    // a was refused, so the session is over; a fresh one with a stream the peer keeps.
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    h.drain();
    let d = h.step(&goaway(1, C::NO_ERROR, b""));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.open(), Err(OpenError::GoingAway));
    h.s.write(a, b"still served").unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Data { stream: a.0, flags: 0, payload: b"still served".to_vec() }]);
    let syns = h.all_frames().iter().filter(|f| f.is_data_with(flags::SYN)).count();
    assert_eq!(syns, 1);
}

/// After receiving a GOAWAY the session sends no SYN, even for a stream
/// the application opened before the GOAWAY arrived whose SYN has not
/// left yet, when the GOAWAY's Last Stream Id is at or above its id (the
/// peer may name any id at least as high as what it processed).
/// Checks [S-8.3].
#[test]
fn no_queued_syn_leaves_after_receiving_a_goaway() {
    for last in [1, MAX_WINDOW] {
        let mut h = Harness::client(WHOLE);
        let a = h.s.open().unwrap();
        let d = h.step(&goaway(last, C::NO_ERROR, b""));
        assert!(
            !d.frames.iter().any(|f| f.is_data_with(flags::SYN)),
            "Last Stream Id {last}: SYN of {a:?} sent after the GOAWAY: {:?}",
            d.frames
        );
    }
}

/// On a GOAWAY, the streams this side opened above Last Stream Id end as
/// refused (REFUSED, reported as from the peer): one whose SYN left and
/// one whose SYN had not — that SYN is never sent, and no RST is sent for
/// either. The stream at or below Last Stream Id goes on.
/// Checks [S-8.4], [S-5.6].
#[test]
fn streams_above_the_last_id_are_refused() {
    let mut h = Harness::connected_with(
        Config { max_inbound_streams: Some(0), ..Config::client() },
        settings_with(|s| s.stream_credit = 10),
        WHOLE,
    );
    let a = h.s.open().unwrap();
    let b = h.s.open().unwrap();
    h.drain();
    let c = h.s.open().unwrap();
    h.s.write(c, b"never sent").unwrap();
    let d = h.step(&goaway(a.0, C::NO_ERROR, b"only 1"));
    assert!(d.frames.is_empty(), "no SYN for c, no RST for b or c: {:?}", d.frames);
    assert_eq!(d.events[0], Event::GoAway { last_stream: a, code: C::NO_ERROR });
    for id in [b, c] {
        assert!(
            d.events.contains(&Event::Reset { id, code: C::REFUSED, remote: true }),
            "{id:?}: {:?}",
            d.events
        );
    }
    assert!(!d.events.iter().any(|e| matches!(e, Event::Reset { id, .. } if *id == a)));
    h.s.write(a, b"a goes on").unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Data { stream: a.0, flags: 0, payload: b"a goes on".to_vec() }]);
    expect_sender_rules(&h);
}

/// The Last Stream Id of the session's GOAWAYs never rises: a graceful
/// GOAWAY naming 3, then SYNs refused above it, then an error GOAWAY that
/// still names 3.
/// Checks [S-8.5].
#[test]
fn a_later_goaway_never_raises_the_last_id() {
    let config = Config { max_inbound_streams: Some(4), ..Config::server() };
    let mut h = Harness::connected(config, WHOLE);
    h.open_accepted(1, b"");
    h.open_accepted(3, b"");
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    let d = h.drain();
    assert_eq!(d.goaways(), vec![&Out::GoAway { last: 3, code: C::NO_ERROR, debug: vec![] }]);
    let d = h.step(&cat(&[&syn(5, b""), &syn(7, b"")]));
    assert_eq!(d.rsts().len(), 2);
    let d = h.step(&raw(ty::RST, 0, 0, &[0; 4]));
    expect_protocol_error(&mut h, &d, P::NeedsStream, C::PROTOCOL_ERROR, 3);
    let lasts: Vec<u32> = h
        .all_frames()
        .iter()
        .filter_map(|f| if let Out::GoAway { last, .. } = f { Some(*last) } else { None })
        .collect();
    assert_eq!(lasts, vec![3, 3]);
    expect_sender_rules(&h);
}

/// A graceful GOAWAY from the peer ends or resets none of the streams it
/// does not refuse: the peer's stream and this side's stream at or below
/// Last Stream Id carry data both ways and half-close normally, and the
/// session then ends gracefully; only the stream above Last Stream Id is
/// refused.
/// Checks [S-8.7].
#[test]
fn a_graceful_goaway_lets_the_other_streams_finish() {
    let mut h = Harness::server(WHOLE);
    h.open_accepted(1, b"request");
    let mine = h.s.open().unwrap();
    let above = h.s.open().unwrap();
    assert_eq!((mine.0, above.0), (2, 4));
    h.drain();
    let d = h.step(&goaway(2, C::NO_ERROR, b""));
    assert_eq!(
        d.events,
        vec![
            Event::GoAway { last_stream: StreamId(2), code: C::NO_ERROR },
            Event::Reset { id: above, code: C::REFUSED, remote: true }
        ]
    );
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.state(), SessionState::Draining);
    // Both streams carry data both ways.
    h.s.write(StreamId(1), b"response").unwrap();
    h.s.write(mine, b"push").unwrap();
    let d = h.step(&cat(&[&data(1, flags::FIN, b" more"), &data(2, flags::FIN, b"ack")]));
    assert_eq!(d.rsts(), Vec::<&Out>::new());
    assert!(
        d.frames.contains(&Out::Data { stream: 1, flags: 0, payload: b"response".to_vec() }),
        "{:?}",
        d.frames
    );
    assert!(
        d.frames.contains(&Out::Data { stream: 2, flags: 0, payload: b"push".to_vec() }),
        "{:?}",
        d.frames
    );
    let mut buf = [0u8; 32];
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(12));
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(0));
    assert_eq!(h.s.read(mine, &mut buf), Ok(3));
    assert_eq!(h.s.read(mine, &mut buf), Ok(0));
    h.s.finish(StreamId(1)).unwrap();
    h.s.finish(mine).unwrap();
    let d = h.drain();
    assert_eq!(
        d.sans_credit(),
        vec![
            Out::Data { stream: 1, flags: flags::FIN, payload: vec![] },
            Out::Data { stream: 2, flags: flags::FIN, payload: vec![] },
            Out::GoAway { last: 1, code: C::NO_ERROR, debug: vec![] },
        ]
    );
    assert_eq!(h.s.state(), SessionState::Closed);
    let reason = h.s.close_reason().unwrap();
    assert!(reason.is_graceful(), "{reason:?}");
    assert!(!h.events.iter().any(|e| matches!(e, Event::Reset { id, .. } if *id != above)), "{:?}", h.events);
    expect_sender_rules(&h);
}

/// An error GOAWAY from the peer ends every stream with its code and the
/// session at once, and the application's later commands send nothing.
/// Checks [S-8.8].
#[test]
fn an_error_goaway_ends_everything_at_once() {
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    let b = h.s.open().unwrap();
    h.drain();
    let d = h.step(&goaway(a.0, C::application(42), b"bye"));
    for id in [a, b] {
        assert!(
            d.events.contains(&Event::Reset { id, code: C::application(42), remote: true }),
            "{:?}",
            d.events
        );
    }
    assert_eq!(
        d.events.last(),
        Some(&Event::Closed(CloseReason { local: None, remote: Some(C::application(42)) }))
    );
    assert!(d.frames.is_empty());
    assert!(h.s.open().is_err());
    assert!(h.s.ping().is_err());
    h.s.close();
    assert!(h.drain().frames.is_empty());
    assert_eq!(h.s.close_reason().unwrap().local, None::<LocalError>);
    expect_deaf_and_mute(&mut h);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    syn_after_local_goaway_refused => case_syn_after_local_goaway_refused,
    goaway_raising_last_stream_id => case_goaway_raising_last_stream_id,
    error_goaway_after_refused_syn_keeps_last_id => case_error_goaway_after_refused_syn_keeps_last_id,
    after_peer_error_goaway_input_ignored => case_after_peer_error_goaway_input_ignored,
    peer_error_goaway_resets_streams_with_its_code => case_peer_error_goaway_resets_streams_with_its_code,
    syn_after_peer_goaway_refused => case_syn_after_peer_goaway_refused,
    error_goaway_drops_pending_replies => case_error_goaway_drops_pending_replies,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
