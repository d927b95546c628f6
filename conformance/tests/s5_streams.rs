//! spec.md §5, streams: ids, opening, credit, idle and forgotten streams,
//! discarded data, DATA after FIN, half-close, reset and the order of
//! opening frames. (Metadata, §5.4–§5.5, is in `s5_metadata.rs`.)

use braid::frame::{flags, Settings, MAX_WINDOW};
use braid::{
    Config, ErrorCode as C, Event, OpenError, ProtocolError as P, SessionState, StreamId, WriteError,
};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// SYN parity must be the peer's: a client peer opening an even
/// id -> PROTOCOL_ERROR.
/// Checks [S-5.2].
fn case_syn_wrong_parity_at_server(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&syn(2, b"even"));
    expect_protocol_error(&mut h, &d, P::WrongParity, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.stats().streams_incoming, 0);
    h
}

/// SYN parity, seen from a client: a server peer opening an odd
/// id -> PROTOCOL_ERROR.
/// Checks [S-5.2].
fn case_syn_wrong_parity_at_client(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    let d = h.step(&syn(1, b"odd"));
    expect_protocol_error(&mut h, &d, P::WrongParity, C::PROTOCOL_ERROR, 0);
    h
}

/// A SYN id must be > the highest the peer opened: below it ->
/// PROTOCOL_ERROR (reuse), even for an id never used.
/// Checks [S-5.4].
fn case_syn_reused_below_highest(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&syn(3, b""));
    assert_eq!(d.events, vec![Event::Incoming]);
    let d = h.step(&syn(1, b""));
    expect_protocol_error(&mut h, &d, P::StreamReused, C::PROTOCOL_ERROR, 3);
    h
}

/// A SYN for the highest id after that stream was forgotten ->
/// PROTOCOL_ERROR (reuse).
/// Checks [S-5.4].
fn case_syn_reused_at_highest_after_forgotten(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.forget_peer_stream(1);
    let d = h.step(&syn(1, b"again"));
    expect_protocol_error(&mut h, &d, P::StreamReused, C::PROTOCOL_ERROR, 1);
    h
}

/// SYN flag on a frame for a live stream -> PROTOCOL_ERROR
/// (duplicate SYN; never overwrites).
/// Checks [S-5.4].
fn case_duplicate_syn_on_live_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"first");
    let d = h.step(&syn(1, b"second"));
    expect_protocol_error(&mut h, &d, P::DuplicateSyn, C::PROTOCOL_ERROR, 1);
    assert_eq!(h.s.stats().data_received, 5);
    h
}

/// A duplicate SYN for a stream not yet accepted.
/// Checks [S-5.4].
fn case_duplicate_syn_before_accept(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&cat(&[&syn(1, b""), &syn(1, b"")]));
    expect_protocol_error(&mut h, &d, P::DuplicateSyn, C::PROTOCOL_ERROR, 1);
    h
}

/// The peer must have stream credit left: a SYN beyond the
/// credit -> PROTOCOL_ERROR; the GOAWAY names the last stream accepted.
/// Checks [S-5.8].
fn case_syn_beyond_stream_credit(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    assert_eq!(h.s.local_settings().stream_credit, CREDIT);
    let d = h.step(&cat(&[&syn(1, b""), &syn(3, b"")]));
    assert_eq!(d.events, vec![Event::Incoming]);
    let d = h.step(&syn(5, b""));
    expect_protocol_error(&mut h, &d, P::CreditExceeded, C::PROTOCOL_ERROR, 3);
    h
}

/// Credit granted back (WNDINC CREDIT) may be used; the
/// peer still may not run ahead of it.
/// Checks [S-5.8].
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

/// Non-SYN frame for an id of the peer's parity above the
/// highest it opened: idle -> PROTOCOL_ERROR.
/// Checks [S-5.16].
fn case_data_for_idle_peer_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&data(3, 0, b"idle"));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 1);
    h
}

/// Idle id of the peer's parity, nothing opened at all (DATA).
/// Checks [S-5.16].
fn case_data_for_idle_stream_first(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(1, flags::FIN, b"x"));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// Non-SYN frame for an id of this side's parity above the
/// highest it opened: idle -> PROTOCOL_ERROR.
/// Checks [S-5.16].
fn case_data_for_idle_own_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&data(2, 0, b"idle"));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// RST for an idle id -> PROTOCOL_ERROR.
/// Checks [S-5.16].
fn case_rst_for_idle_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&rst(7, C::CANCEL));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// WNDINC for an idle id of this side's parity (a client that
/// opened 1 gets a WNDINC for 3) -> PROTOCOL_ERROR.
/// Checks [S-5.16].
fn case_wndinc_for_idle_own_stream(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    assert_eq!(h.s.open(), Ok(StreamId(1)));
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Data { stream: 1, flags: flags::SYN, payload: vec![] }]);
    let d = h.step(&wndinc(3, 10));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// Non-SYN frames for a forgotten stream (at or below the
/// highest id, no longer known) are dropped silently: no RST, no event,
/// and DATA's length is refunded to the session window (a session WNDINC
/// covers it).
/// Checks [S-5.17], [S-5.18], [S-5.19].
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

/// The same for a forgotten stream this side opened.
/// Checks [S-5.17], [S-5.19].
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

/// Ids the peer skipped (below its highest, never opened) are
/// not idle: frames for them are dropped like forgotten ones.
/// Checks [S-5.17].
fn case_frames_for_skipped_ids_dropped(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(5, b"");
    let d = h.step(&cat(&[&data(3, 0, b"skipped"), &rst(1, C::CANCEL)]));
    assert!(d.rsts().is_empty() && d.goaways().is_empty(), "{:?}", d.frames);
    expect_alive(&mut h);
    h
}

/// A dropped DATA's whole length still counts
/// against the session window: beyond it -> FLOW_CONTROL_ERROR.
/// Checks [S-5.18].
fn case_data_for_forgotten_stream_beyond_session_window(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(1000), chunk);
    h.forget_peer_stream(1);
    h.drain();
    assert_eq!(h.s.session_recv_window(), 999);
    let d = h.step(&data(1, 0, &[0; 1000]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    h
}

/// DATA on a live stream after the peer's FIN -> RST
/// STREAM_CLOSED for that stream, payload discarded: a stream error, the
/// session goes on.
/// Checks [S-5.20], [S-5.24].
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

/// The same for a stream the application has not accepted yet.
/// Checks [S-5.20].
fn case_data_after_fin_on_unaccepted_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&cat(&[&data(1, flags::SYN | flags::FIN, b"a"), &data(1, 0, b"b")]));
    assert_eq!(d.frames, vec![Out::Rst { stream: 1, code: C::STREAM_CLOSED }]);
    assert_eq!(h.s.state(), SessionState::Open);
    expect_alive(&mut h);
    h
}

/// A frame for a stream this side opened whose SYN has not left yet is
/// for an idle stream: the peer cannot know it.
/// Checks [S-5.16].
fn case_frame_for_own_stream_before_its_syn_left(chunk: usize) -> Harness {
    let mut h = Harness::client(chunk);
    assert_eq!(h.s.open(), Ok(StreamId(1)));
    let d = h.step(&wndinc(1, 5));
    expect_protocol_error(&mut h, &d, P::IdleStream, C::PROTOCOL_ERROR, 0);
    h
}

/// A SYN that passes the checks is never dropped: within the credit,
/// each becomes known and waits for the application, with its data and
/// FIN, however long the application takes.
/// Checks [S-5.10].
fn case_syn_within_credit_becomes_known(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&cat(&[&syn(1, b"one"), &data(3, flags::SYN | flags::FIN, b"three")]));
    assert!(d.frames.is_empty(), "no RST, nothing: {:?}", d.frames);
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.stats().streams_incoming, 2);
    assert_eq!(h.s.incoming(), Some(StreamId(1)));
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    assert_eq!(h.s.accept(), Ok(StreamId(3)));
    let mut buf = [0u8; 8];
    assert_eq!(h.s.read(StreamId(3), &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"three");
    assert_eq!(h.s.read(StreamId(3), &mut buf), Ok(0));
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(3));
    h
}

/// A DATA frame for a stream this side has reset (its RST still queued)
/// is discarded, but its data is charged to the session window and
/// refunded at once: the session WNDINC that follows returns it.
/// Checks [S-5.18], [S-5.19].
fn case_data_for_a_reset_stream_is_charged_and_refunded(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(2000), chunk);
    h.open_accepted(1, b"");
    h.s.reset(StreamId(1), C::CANCEL).unwrap();
    // The peer's DATA was in flight when the RST was queued.
    h.feed(&data(1, 0, &[4; 1500]));
    assert_eq!(h.s.session_recv_window(), 500, "charged to the session window");
    let d = h.drain();
    assert_eq!(
        d.sans_credit(),
        vec![
            Out::WndInc { stream: 0, credit: false, increment: 1500 },
            Out::Rst { stream: 1, code: C::CANCEL }
        ]
    );
    assert_eq!(h.s.session_recv_window(), 2000);
    assert_eq!(h.s.stats().data_received, 0);
    h
}

/// The same DATA beyond the session window is a FLOW_CONTROL_ERROR even
/// though the frame would be discarded.
/// Checks [S-5.18].
fn case_data_for_a_reset_stream_beyond_the_session_window(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(2000), chunk);
    h.open_accepted(1, b"");
    h.s.reset(StreamId(1), C::CANCEL).unwrap();
    let d = h.step(&data(1, 0, &[4; 2001]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    h
}

/// An empty DATA frame, and one with FIN, after the peer's FIN are DATA
/// after FIN too: RST STREAM_CLOSED, once.
/// Checks [S-5.20], [S-5.24].
fn case_empty_data_after_fin_resets_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.step(&data(1, flags::SYN | flags::FIN, b"a"));
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    h.drain();
    let d = h.step(&cat(&[&data(1, 0, b""), &data(1, flags::FIN, b"")]));
    assert_eq!(d.frames, vec![Out::Rst { stream: 1, code: C::STREAM_CLOSED }]);
    assert_eq!(d.events, vec![Event::Reset { id: StreamId(1), code: C::STREAM_CLOSED, remote: false }]);
    assert_eq!(h.s.state(), SessionState::Open);
    h
}

/// DATA after FIN on a stream closed both ways but still known (the
/// application has not read its end): RST STREAM_CLOSED.
/// Checks [S-5.20].
fn case_data_after_fin_on_a_stream_closed_both_ways(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.step(&data(1, flags::SYN | flags::FIN, b"a"));
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    h.s.finish(StreamId(1)).unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Data { stream: 1, flags: flags::FIN, payload: vec![] }]);
    assert!(h.s.stream_info(StreamId(1)).is_some(), "known until its end is read");
    let d = h.step(&data(1, 0, b"late"));
    assert_eq!(d.sans_credit(), vec![Out::Rst { stream: 1, code: C::STREAM_CLOSED }]);
    h
}

/// A DATA frame with META for a forgotten stream is discarded like any
/// other (here the acceptor's reply, in flight when the opener reset and
/// forgot the stream): no reply, no error; its data is refunded.
/// Checks [S-5.17], [S-5.19].
fn case_reply_metadata_for_a_forgotten_stream_discarded(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(1000), chunk);
    let id = h.s.open().unwrap();
    h.s.reset(id, C::CANCEL).unwrap();
    let d = h.drain();
    assert_eq!(
        d.frames,
        vec![
            Out::Data { stream: 2, flags: flags::SYN, payload: vec![] },
            Out::Rst { stream: 2, code: C::CANCEL }
        ]
    );
    assert_eq!(h.s.stream_info(id), None, "forgotten");
    let d = h.step(&data(2, flags::META | flags::FIN, &meta_payload(&block_of(20), &[1; 600])));
    assert_eq!(d.frames, vec![Out::WndInc { stream: 0, credit: false, increment: 600 }]);
    assert!(d.events.is_empty(), "{:?}", d.events);
    expect_alive(&mut h);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// A peer that grants plenty of credit.
fn generous() -> Settings {
    settings_with(|s| s.stream_credit = 1000)
}

/// Open a stream, reset it at once and drain: SYN and RST leave and the
/// stream is forgotten. Returns its id.
fn open_and_forget(h: &mut Harness) -> u32 {
    let id = h.s.open().unwrap();
    h.s.reset(id, C::CANCEL).unwrap();
    let d = h.drain();
    assert_eq!(
        d.frames,
        vec![
            Out::Data { stream: id.0, flags: flags::SYN, payload: vec![] },
            Out::Rst { stream: id.0, code: C::CANCEL }
        ]
    );
    id.0
}

/// A client opens odd ids 1, 3, 5, …, a server even ids 2, 4, 6, …, and
/// every SYN it sends carries an id of its parity.
/// Checks [S-5.1].
#[test]
fn streams_open_with_ids_of_the_sides_own_parity() {
    for (config, first) in [(Config::client(), 1), (Config::server(), 2)] {
        let mut h = Harness::connected_with(config, generous(), WHOLE);
        let ids: Vec<u32> = (0..8).map(|_| open_and_forget(&mut h)).collect();
        let want: Vec<u32> = (0..8).map(|i| first + 2 * i).collect();
        assert_eq!(ids, want, "{:?}", config.role);
        for f in h.all_frames() {
            if f.is_data_with(flags::SYN) {
                assert_eq!(f.stream() % 2, first % 2, "{f:?}");
            }
        }
        expect_sender_rules(&h);
    }
}

/// SYNs leave in increasing id order: streams opened together, with a
/// large metadata block on the first that waits for room, one of them
/// reset before its SYN left, leave as 1, 3, 5, 7; later opens continue
/// above.
/// Checks [S-5.3].
#[test]
fn syns_leave_in_increasing_id_order() {
    // The peer may open no stream, so all four slots are for ours.
    let config = Config { max_inbound_streams: Some(0), ..Config::client() };
    let mut h = Harness::connected_with(config, generous(), WHOLE);
    let a = h.s.open_with(&block_of(200)).unwrap();
    let b = h.s.open().unwrap();
    let c = h.s.open().unwrap();
    h.s.reset(b, C::CANCEL).unwrap();
    assert_eq!(h.transmit(100), vec![], "the first SYN does not fit 100 bytes; none may overtake it");
    let d = h.drain();
    let syns: Vec<u32> = d.frames.iter().filter(|f| f.is_data_with(flags::SYN)).map(Out::stream).collect();
    assert_eq!(syns, vec![a.0, b.0, c.0]);
    h.s.reset(a, C::CANCEL).unwrap();
    h.s.reset(c, C::CANCEL).unwrap();
    h.drain();
    let more: Vec<u32> = (0..3).map(|_| open_and_forget(&mut h)).collect();
    assert_eq!(more, vec![7, 9, 11]);
    let all: Vec<u32> =
        h.all_frames().iter().filter(|f| f.is_data_with(flags::SYN)).map(Out::stream).collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    expect_sender_rules(&h);
}

/// When the next id would pass 2^31-1 the side opens no more streams:
/// the server's last id is 0x7FFF_FFFE, every later `open` fails with
/// `IdsExhausted` and no SYN with a wrapped id is ever sent.
/// Checks [S-5.5].
#[test]
#[ignore = "slow: opens 2^30 streams (over a minute with --release, over 10 without); run with --release -- --ignored"]
fn ids_are_exhausted_below_2_pow_31_and_never_wrap() {
    let peer = settings_with(|s| s.stream_credit = MAX_WINDOW);
    let mut h = Harness::connected_with(Config::server(), peer, WHOLE);
    let mut buf = [0u8; 64];
    let mut last = 0;
    loop {
        match h.s.open() {
            Ok(id) => {
                assert_eq!(id.0, last + 2, "ids step by 2");
                last = id.0;
                h.s.reset(id, C::CANCEL).unwrap();
                // The SYN, then (once it has left) the RST.
                assert_eq!(h.s.poll_transmit(h.now, &mut buf), 8);
                assert_eq!(buf[3], 0x12, "a SYN");
                assert_eq!(u32::from_be_bytes(buf[4..8].try_into().unwrap()), id.0);
                assert_eq!(h.s.poll_transmit(h.now, &mut buf), 12);
                assert_eq!(h.s.poll_transmit(h.now, &mut buf), 0);
            }
            Err(OpenError::IdsExhausted) => break,
            Err(e) => panic!("open failed after id {last}: {e:?}"),
        }
    }
    assert_eq!(last, 0x7FFF_FFFE);
    for _ in 0..3 {
        assert_eq!(h.s.open(), Err(OpenError::IdsExhausted));
    }
    assert_eq!(h.s.poll_transmit(h.now, &mut buf), 0);
    expect_alive(&mut h);
}

/// Opening a stream always emits its SYN: with nothing written (an empty
/// DATA frame with only SYN), finished at once (SYN|FIN), with metadata
/// only, reset at once (SYN, then RST), and with no window to send data
/// in (the SYN leaves, the data waits).
/// Checks [S-5.6].
#[test]
fn opening_a_stream_always_emits_a_syn() {
    let mut h = Harness::connected_with(Config::client(), generous(), WHOLE);
    let a = h.s.open().unwrap();
    assert_eq!(h.drain().frames, vec![Out::Data { stream: a.0, flags: flags::SYN, payload: vec![] }]);
    let b = h.s.open().unwrap();
    h.s.finish(b).unwrap();
    assert_eq!(
        h.drain().frames,
        vec![Out::Data { stream: b.0, flags: flags::SYN | flags::FIN, payload: vec![] }]
    );
    h.s.reset(a, C::CANCEL).unwrap();
    h.step(&data(b.0, flags::FIN, b""));
    let mut buf = [0u8; 1];
    assert_eq!(h.s.read(b, &mut buf), Ok(0));
    h.drain();
    let c = h.s.open_with(&meta_block()).unwrap();
    assert_eq!(
        h.drain().frames,
        vec![Out::Data {
            stream: c.0,
            flags: flags::SYN | flags::META,
            payload: meta_payload(&meta_block(), b"")
        }]
    );
    h.s.reset(c, C::CANCEL).unwrap();
    h.drain();
    let d = h.s.open().unwrap();
    h.s.write(d, b"never").unwrap();
    h.s.reset(d, C::CANCEL).unwrap();
    assert_eq!(
        h.drain().frames,
        vec![
            Out::Data { stream: d.0, flags: flags::SYN, payload: vec![] },
            Out::Rst { stream: d.0, code: C::CANCEL }
        ]
    );
    // No window at all: the SYN still leaves, without data.
    let shut = settings_with(|s| {
        s.initial_stream_window = 0;
        s.session_window = 0;
    });
    let mut h = Harness::connected_with(Config::client(), shut, WHOLE);
    let e = h.s.open().unwrap();
    h.s.write(e, b"waits").unwrap();
    assert_eq!(h.drain().frames, vec![Out::Data { stream: e.0, flags: flags::SYN, payload: vec![] }]);
    expect_sender_rules(&h);
}

/// With a stream credit of 0 the session sends no SYN: `open` fails with
/// `NoCredit` and nothing leaves; each CREDIT WNDINC lets exactly that
/// many SYNs out, and `OpenReady` says when.
/// Checks [S-5.7].
#[test]
fn no_syn_without_stream_credit() {
    let peer = settings_with(|s| s.stream_credit = 0);
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    assert_eq!(h.s.send_credit(), 0);
    assert_eq!(h.s.open(), Err(OpenError::NoCredit));
    assert!(h.drain().frames.is_empty());
    let d = h.step(&credit(1));
    assert_eq!(d.events, vec![Event::OpenReady]);
    let a = h.s.open().unwrap();
    assert_eq!(h.s.open(), Err(OpenError::NoCredit));
    assert_eq!(h.drain().frames, vec![Out::Data { stream: a.0, flags: flags::SYN, payload: vec![] }]);
    // Streams ending give the opener no credit back: only the peer grants it.
    h.s.reset(a, C::CANCEL).unwrap();
    h.drain();
    assert_eq!(h.s.open(), Err(OpenError::NoCredit));
    let d = h.step(&credit(2));
    assert_eq!(d.events, vec![Event::OpenReady]);
    let b = h.s.open().unwrap();
    let c = h.s.open().unwrap();
    assert_eq!(h.s.open(), Err(OpenError::NoCredit));
    let syns: Vec<u32> =
        h.drain().frames.iter().filter(|f| f.is_data_with(flags::SYN)).map(Out::stream).collect();
    assert_eq!(syns, vec![b.0, c.0]);
    let all_syns = h.all_frames().iter().filter(|f| f.is_data_with(flags::SYN)).count();
    assert_eq!(all_syns, 3, "three SYNs for three units of credit");
}

/// The SYN is the first frame for a stream the session opens: data,
/// FIN and a reset queued before it left all follow it, and when the SYN
/// (with a large metadata block) does not fit the room offered, nothing
/// for the stream leaves.
/// Checks [S-5.9].
#[test]
fn the_syn_is_the_first_frame_of_a_stream() {
    let mut h = Harness::connected_with(Config::client(), generous(), WHOLE);
    let a = h.s.open_with(&block_of(100)).unwrap();
    h.s.write(a, &[1; 50]).unwrap();
    h.s.finish(a).unwrap();
    assert_eq!(h.transmit(60), vec![]);
    let frames = h.drain().frames;
    assert_eq!(frames.len(), 1, "SYN, metadata, data and FIN in one frame: {frames:?}");
    assert!(frames[0].is_data_with(flags::SYN | flags::META | flags::FIN));
    assert_eq!(frames[0].data_part(), Some(&[1; 50][..]));
    let b = h.s.open().unwrap();
    h.s.write(b, &[2; 10]).unwrap();
    h.s.reset(b, C::STREAM_RESET).unwrap();
    let frames = h.drain().frames;
    assert_eq!(
        frames,
        vec![
            Out::Data { stream: b.0, flags: flags::SYN, payload: vec![] },
            Out::Rst { stream: b.0, code: C::STREAM_RESET }
        ],
        "SYN (without the data, which the reset dropped), then RST"
    );
    expect_sender_rules(&h);
}

/// After sending FIN the session sends no more DATA on the stream: writes
/// fail with `Finished`, a second `finish` sends nothing, and window
/// granted later carries nothing.
/// Checks [S-5.21].
#[test]
fn no_data_after_fin() {
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    h.s.write(a, b"all of it").unwrap();
    h.s.finish(a).unwrap();
    assert_eq!(h.s.write(a, b"more"), Err(WriteError::Finished));
    assert_eq!(
        h.drain().frames,
        vec![Out::Data { stream: a.0, flags: flags::SYN | flags::FIN, payload: b"all of it".to_vec() }]
    );
    assert_eq!(h.s.finish(a), Ok(()));
    assert_eq!(h.s.write(a, b"more"), Err(WriteError::Finished));
    let d = h.step(&cat(&[&wndinc(a.0, 1000), &wndinc(0, 1000), &data(a.0, 0, b"reply")]));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(d.events, vec![Event::Readable(a)]);
    expect_sender_rules(&h);
}

/// FIN never overtakes data: with a peer stream window of 10 bytes, 25
/// bytes and a FIN leave as 10, 10 and 5+FIN as the window opens; with the
/// session window shut the FIN waits for the data; with a small output
/// buffer it rides on the last piece.
/// Checks [S-5.22].
#[test]
fn fin_never_overtakes_data() {
    let peer = settings_with(|s| s.initial_stream_window = 10);
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    let a = h.s.open().unwrap();
    h.s.write(a, &[7; 25]).unwrap();
    h.s.finish(a).unwrap();
    assert_eq!(h.drain().frames, vec![Out::Data { stream: 1, flags: flags::SYN, payload: vec![7; 10] }]);
    assert_eq!(h.step(&wndinc(1, 10)).frames, vec![Out::Data { stream: 1, flags: 0, payload: vec![7; 10] }]);
    assert_eq!(
        h.step(&wndinc(1, 10)).frames,
        vec![Out::Data { stream: 1, flags: flags::FIN, payload: vec![7; 5] }]
    );
    // The session window shut.
    let peer = settings_with(|s| s.session_window = 0);
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    let a = h.s.open().unwrap();
    h.drain();
    h.s.write(a, &[8; 5]).unwrap();
    h.s.finish(a).unwrap();
    assert!(h.drain().frames.is_empty(), "the FIN waits for the data");
    assert_eq!(h.step(&wndinc(0, 3)).frames, vec![Out::Data { stream: 1, flags: 0, payload: vec![8; 3] }]);
    assert_eq!(
        h.step(&wndinc(0, 2)).frames,
        vec![Out::Data { stream: 1, flags: flags::FIN, payload: vec![8; 2] }]
    );
    // A small output buffer.
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    h.drain();
    h.s.write(a, &[9; 30]).unwrap();
    h.s.finish(a).unwrap();
    let mut pieces = Vec::new();
    loop {
        let f = h.transmit(20);
        if f.is_empty() {
            break;
        }
        pieces.extend(f);
    }
    let last = pieces.pop().unwrap();
    assert!(last.is_data_with(flags::FIN), "{last:?}");
    assert!(pieces.iter().all(|f| !f.is_data_with(flags::FIN)), "{pieces:?}");
    let total: usize = pieces.iter().chain([&last]).filter_map(Out::data_part).map(<[u8]>::len).sum();
    assert_eq!(total, 30);
    expect_sender_rules(&h);
}

/// After this side resets a stream it sends neither DATA nor WNDINC on
/// it: data queued and a window update due when the application resets
/// give way to the RST alone, and later window grants send nothing.
/// Checks [S-5.23].
#[test]
fn nothing_but_the_rst_after_a_local_reset() {
    let peer = settings_with(|s| s.initial_stream_window = 0);
    let mut h = Harness::connected_with(Config::server(), peer, WHOLE);
    h.open_accepted(1, &[1; 2000]);
    let mut buf = [0u8; 4096];
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(2000));
    h.s.write(StreamId(1), b"queued, no window").unwrap();
    h.s.reset(StreamId(1), C::CANCEL).unwrap();
    let d = h.drain();
    assert_eq!(d.sans_credit(), vec![Out::Rst { stream: 1, code: C::CANCEL }]);
    assert_eq!(h.s.write(StreamId(1), b"x"), Err(WriteError::UnknownStream));
    let d = h.step(&wndinc(1, 500));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    expect_sender_rules(&h);
}

/// After the peer resets a stream the session sends neither DATA nor
/// WNDINC on it: data queued and a window update due when the RST
/// arrives are dropped.
/// Checks [S-5.23].
#[test]
fn nothing_after_the_peers_reset() {
    let peer = settings_with(|s| s.initial_stream_window = 0);
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    let a = h.s.open().unwrap();
    h.drain();
    h.s.write(a, b"queued, no window").unwrap();
    h.step(&data(a.0, 0, &[1; 2000]));
    let mut buf = [0u8; 4096];
    assert_eq!(h.s.read(a, &mut buf), Ok(2000));
    let d = h.step(&cat(&[&rst(a.0, C::application(9)), &wndinc(a.0, 100)]));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(d.events, vec![Event::Reset { id: a, code: C::application(9), remote: true }]);
    expect_sender_rules(&h);
}

/// A reply with metadata still queued when the peer's RST arrives is
/// never sent: after receiving the RST nothing is sent on the stream.
/// Checks [S-5.23].
#[test]
fn a_queued_reply_is_dropped_by_the_peers_reset() {
    let mut h = Harness::server(WHOLE);
    h.step(&syn(1, b"request"));
    assert_eq!(h.s.accept_with(&block_of(30)), Ok(StreamId(1)));
    h.s.write(StreamId(1), b"response").unwrap();
    h.s.finish(StreamId(1)).unwrap();
    let d = h.step(&rst(1, C::CANCEL));
    assert!(d.on(1).is_empty(), "{:?}", d.frames);
    assert_eq!(d.events, vec![Event::Reset { id: StreamId(1), code: C::CANCEL, remote: true }]);
    expect_sender_rules(&h);
}

/// At most one RST per stream: resetting twice sends one; the peer's
/// frames for the reset stream, its own RST included, get none; a refused
/// stream is reset once; a stream reset with STREAM_CLOSED is not reset
/// again by the application.
/// Checks [S-5.24].
#[test]
fn one_rst_per_stream() {
    let mut h = Harness::server(WHOLE);
    h.open_accepted(1, b"");
    h.s.reset(StreamId(1), C::CANCEL).unwrap();
    h.s.reset(StreamId(1), C::STREAM_RESET).unwrap();
    h.feed(&cat(&[&data(1, 0, b"in flight"), &rst(1, C::CANCEL), &data(1, flags::FIN, b"")]));
    let d = h.drain();
    assert_eq!(d.rsts(), vec![&Out::Rst { stream: 1, code: C::CANCEL }]);
    let d = h.step(&cat(&[&data(1, 0, b"late"), &rst(1, C::CANCEL)]));
    assert!(d.rsts().is_empty(), "{:?}", d.frames);
    // A stream reset for DATA after FIN.
    h.step(&data(3, flags::SYN | flags::FIN, b""));
    assert_eq!(h.s.accept(), Ok(StreamId(3)));
    let d = h.step(&data(3, 0, b"x"));
    assert_eq!(d.rsts(), vec![&Out::Rst { stream: 3, code: C::STREAM_CLOSED }]);
    assert_eq!(h.s.reset(StreamId(3), C::CANCEL), Err(braid::StreamError::UnknownStream));
    assert!(h.drain().rsts().is_empty());
    // A stream refused after our GOAWAY (stream 5 keeps the session going).
    h.open_accepted(5, b"");
    h.s.go_away(C::NO_ERROR, b"").unwrap();
    h.drain();
    let d = h.step(&cat(&[&syn(7, b""), &data(7, 0, b"more"), &data(7, flags::FIN, b"")]));
    assert_eq!(d.rsts(), vec![&Out::Rst { stream: 7, code: C::REFUSED }]);
    let all: Vec<u32> =
        h.all_frames().iter().filter(|f| matches!(f, Out::Rst { .. })).map(Out::stream).collect();
    assert_eq!(all, vec![1, 3, 7]);
    expect_sender_rules(&h);
}

/// A stream's opening frame leaves before any DATA, on any stream, that
/// carries bytes written after the open: the SYN of `b` precedes stream
/// `a`'s DATA written after `b` opened, even though `a` had data queued
/// before; and when `b`'s SYN does not fit the room offered, `a`'s DATA
/// waits.
/// Checks [S-5.25].
#[test]
fn an_opening_frame_precedes_data_written_after_it() {
    let mut h = Harness::client(WHOLE);
    let a = h.s.open().unwrap();
    h.s.write(a, b"first").unwrap();
    h.drain();
    h.s.write(a, &[1; 300]).unwrap();
    let b = h.s.open_with(&block_of(90)).unwrap();
    h.s.write(a, b"announce b").unwrap();
    assert_eq!(h.transmit(60), vec![], "a's DATA must wait for b's SYN");
    assert_eq!(h.s.transmit_needed(), 8 + 2 + 90);
    let frames = h.drain().frames;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames[0].is_data_with(flags::SYN) && frames[0].stream() == b.0, "{frames:?}");
    assert_eq!(frames[1].stream(), a.0);
    assert_eq!(frames[1].data_part().map(<[u8]>::len), Some(310));
    expect_sender_rules(&h);
}

/// The acceptor's reply with metadata is an opening frame too: it leaves
/// before DATA the application writes on other streams after accepting.
/// Checks [S-5.25].
#[test]
fn a_reply_with_metadata_precedes_data_written_after_the_accept() {
    let mut h = Harness::server(WHOLE);
    h.open_accepted(1, b"");
    h.s.write(StreamId(1), &[1; 100]).unwrap();
    h.step(&syn(3, b""));
    assert_eq!(h.s.accept_with(&block_of(40)), Ok(StreamId(3)));
    h.s.write(StreamId(1), b"written after accepting 3").unwrap();
    let frames = h.drain().frames;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(matches!(&frames[0], Out::Data { stream: 3, flags: flags::META, .. }), "{frames:?}");
    assert_eq!(frames[0].metadata(), Some(&block_of(40)[..]));
    assert_eq!(frames[1].stream(), 1);
    expect_sender_rules(&h);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    syn_wrong_parity_at_server => case_syn_wrong_parity_at_server,
    syn_wrong_parity_at_client => case_syn_wrong_parity_at_client,
    syn_reused_below_highest => case_syn_reused_below_highest,
    syn_reused_at_highest_after_forgotten => case_syn_reused_at_highest_after_forgotten,
    duplicate_syn_on_live_stream => case_duplicate_syn_on_live_stream,
    duplicate_syn_before_accept => case_duplicate_syn_before_accept,
    syn_beyond_stream_credit => case_syn_beyond_stream_credit,
    syn_within_credit_granted_back => case_syn_within_credit_granted_back,
    data_for_idle_peer_stream => case_data_for_idle_peer_stream,
    data_for_idle_stream_first => case_data_for_idle_stream_first,
    data_for_idle_own_stream => case_data_for_idle_own_stream,
    rst_for_idle_stream => case_rst_for_idle_stream,
    wndinc_for_idle_own_stream => case_wndinc_for_idle_own_stream,
    frames_for_forgotten_peer_stream_dropped => case_frames_for_forgotten_peer_stream_dropped,
    frames_for_forgotten_own_stream_dropped => case_frames_for_forgotten_own_stream_dropped,
    frames_for_skipped_ids_dropped => case_frames_for_skipped_ids_dropped,
    data_for_forgotten_stream_beyond_session_window => case_data_for_forgotten_stream_beyond_session_window,
    data_after_fin_resets_stream => case_data_after_fin_resets_stream,
    data_after_fin_on_unaccepted_stream => case_data_after_fin_on_unaccepted_stream,
    frame_for_own_stream_before_its_syn_left => case_frame_for_own_stream_before_its_syn_left,
    syn_within_credit_becomes_known => case_syn_within_credit_becomes_known,
    data_for_a_reset_stream_is_charged_and_refunded => case_data_for_a_reset_stream_is_charged_and_refunded,
    data_for_a_reset_stream_beyond_the_session_window => case_data_for_a_reset_stream_beyond_the_session_window,
    empty_data_after_fin_resets_stream => case_empty_data_after_fin_resets_stream,
    data_after_fin_on_a_stream_closed_both_ways => case_data_after_fin_on_a_stream_closed_both_ways,
    reply_metadata_for_a_forgotten_stream_discarded => case_reply_metadata_for_a_forgotten_stream_discarded,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
