//! spec.md §7, flow control: windows and credit as the session receives
//! and enforces them, and as it respects and grants them.

use braid::frame::{flags, Settings, MAX_PAYLOAD, MAX_WINDOW};
use braid::{ArrayStorage, Config, ErrorCode as C, Event, Instant, ProtocolError as P, StreamId};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

fn expect_nothing_delivered(h: &Harness, before: u64) {
    assert_eq!(h.s.stats().data_received, before, "data delivered past the window");
    let readable = h.events.iter().filter(|e| matches!(e, Event::Readable(_))).count();
    assert_eq!(readable, 0, "Readable announced: {:?}", h.events);
}

/// DATA longer than the stream receive window ->
/// FLOW_CONTROL_ERROR, checked at the header before anything is buffered.
/// Checks [S-7.2].
fn case_data_beyond_stream_window(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    assert_eq!(h.s.local_settings().initial_stream_window, WINDOW);
    h.open_accepted(1, b"");
    let d = h.step(&data(1, 0, &vec![1; WINDOW as usize + 1]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    expect_nothing_delivered(&h, 0);
    h
}

/// The data a SYN carries counts against the stream window.
/// Checks [S-7.2].
fn case_syn_data_beyond_stream_window(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&syn(1, &vec![1; WINDOW as usize + 1]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    expect_nothing_delivered(&h, 0);
    h
}

/// The window is cumulative: exactly the window passes
/// (unread), one more byte does not.
/// Checks [S-7.2].
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

/// DATA longer than the session receive window (across
/// streams) -> FLOW_CONTROL_ERROR before anything is buffered.
/// Checks [S-7.2].
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

/// Session window += inc past 2^31-1 -> FLOW_CONTROL_ERROR;
/// exactly 2^31-1 is fine.
/// Checks [S-7.3].
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

/// Stream window += inc past 2^31-1 -> FLOW_CONTROL_ERROR;
/// exactly 2^31-1 is fine.
/// Checks [S-7.3].
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

/// Total credit never > 2^31-1 (overflow ->
/// FLOW_CONTROL_ERROR); exactly 2^31-1 is fine.
/// Checks [S-7.3].
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

/// The data part of a DATA frame without META is checked from its header
/// alone: a header announcing one byte more than the stream window is
/// answered before any data arrives.
/// Checks [S-7.2].
fn case_window_checked_from_the_header(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&header(WINDOW + 1, ty::DATA, 0, 1));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    expect_nothing_delivered(&h, 0);
    h
}

/// For a frame with META the data part is known, and checked, right after
/// the Metadata Length: a SYN whose Length leaves one byte more than the
/// stream window after a 100-byte block is answered before the block
/// arrives.
/// Checks [S-7.2].
fn case_window_checked_right_after_the_metadata_length(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let mut partial = header(2 + 100 + WINDOW + 1, ty::DATA, flags::SYN | flags::META, 1);
    partial.extend_from_slice(&100u16.to_be_bytes());
    let d = h.step(&partial);
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 1);
    h
}

/// A frame of exactly the windows left is taken, on the stream and the
/// session at once; one more byte on either is refused.
/// Checks [S-7.2].
fn case_exactly_the_window_is_accepted(chunk: usize) -> Harness {
    let mut h = Harness::connected(small_session_window(5000), chunk);
    let d = h.step(&cat(&[&syn(1, &vec![1; WINDOW as usize]), &syn(3, &vec![2; 5000 - WINDOW as usize])]));
    assert_eq!(d.events, vec![Event::Incoming]);
    assert_eq!(h.s.session_recv_window(), 0);
    let d = h.step(&data(3, 0, &[3]));
    expect_protocol_error(&mut h, &d, P::FlowControl, C::FLOW_CONTROL_ERROR, 3);
    h
}

// =============================================================================
// What the session sends and grants
// =============================================================================

/// No DATA frame the session sends carries more than the stream's or the
/// session's send window: with a peer stream window of 100 and a session
/// window of 150, two streams writing 200 bytes each send 100 and 50, and
/// then exactly what each WNDINC allows.
/// Checks [S-7.1].
#[test]
fn data_never_exceeds_the_send_windows() {
    let peer = settings_with(|s| {
        s.initial_stream_window = 100;
        s.session_window = 150;
    });
    let mut h = Harness::connected_with(Config::client(), peer, WHOLE);
    let a = h.s.open().unwrap();
    h.s.write(a, &[1; 200]).unwrap();
    let b = h.s.open().unwrap();
    h.s.write(b, &[2; 200]).unwrap();
    let d = h.drain();
    assert_eq!(
        d.frames,
        vec![
            Out::Data { stream: a.0, flags: flags::SYN, payload: vec![1; 100] },
            Out::Data { stream: b.0, flags: flags::SYN, payload: vec![2; 50] },
        ]
    );
    assert_eq!(h.s.session_send_window(), 0);
    // Stream credit without session credit sends nothing.
    assert!(h.step(&wndinc(a.0, 30)).frames.is_empty());
    // Session credit: a may send its 30, b its remaining 50 (in either order).
    let mut d = h.step(&wndinc(0, 1000));
    d.frames.sort_by_key(Out::stream);
    assert_eq!(
        d.frames,
        vec![
            Out::Data { stream: a.0, flags: 0, payload: vec![1; 30] },
            Out::Data { stream: b.0, flags: 0, payload: vec![2; 50] },
        ]
    );
    assert_eq!(h.s.session_send_window(), 920);
    let d = h.step(&cat(&[&wndinc(a.0, 70), &wndinc(b.0, 100)]));
    let mut sent: Vec<(u32, usize)> =
        d.frames.iter().map(|f| (f.stream(), f.data_part().unwrap().len())).collect();
    sent.sort_unstable();
    assert_eq!(sent, vec![(a.0, 70), (b.0, 100)]);
    assert_eq!(h.s.session_send_window(), 750);
    expect_sender_rules(&h);
}

/// No WNDINC the session sends raises the peer's window above 2^31-1,
/// even at the edge: a session window announced at 2^31-1001 that grows
/// (the data comes back within two round trips) towards 2^31-1 is
/// returned, growth included, up to exactly 2^31-1 and not a byte more.
/// The data is a billion bytes for a forgotten stream, which the session
/// charges and refunds without storing. (Stream windows and credit are
/// bounded by the storage, far below 2^31-1.)
/// Checks [S-7.4], [S-5.19].
#[test]
fn window_updates_never_raise_the_peers_window_above_2_pow_31() {
    let mut config = Config::server();
    config.session_window = MAX_WINDOW - 1000;
    config.session_window_max = MAX_WINDOW;
    config.max_frame_size = MAX_PAYLOAD;
    let mut h = Harness::fresh(config, WHOLE);
    h.step(&handshake());
    h.now = Instant::from_millis(10);
    h.step(&settings_ack());
    assert!(h.s.rtt().is_some());
    h.forget_peer_stream(1);
    h.drain();
    // The peer's view of its session send window.
    let mut window = u64::from(MAX_WINDOW - 1000) - 1;
    let zeros = vec![0u8; MAX_PAYLOAD as usize];
    let mut updates = 0;
    let mut peak = 0;
    for _ in 0..70 {
        h.feed(&header(MAX_PAYLOAD, ty::DATA, 0, 1));
        h.feed(&zeros);
        window -= u64::from(MAX_PAYLOAD);
        for f in h.drain().frames {
            match f {
                Out::WndInc { stream: 0, credit: false, increment } => {
                    window += u64::from(increment);
                    updates += 1;
                    peak = peak.max(window);
                    assert!(window <= u64::from(MAX_WINDOW), "the peer's window is now {window}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(updates >= 1, "the refund came back");
    assert_eq!(peak, u64::from(MAX_WINDOW), "growth took the window to the edge, not past it");
    assert_eq!(h.s.close_reason(), None);
    assert_eq!(u64::from(h.s.session_recv_window()), window, "both sides agree on the window");
    expect_sender_rules(&h);
}

/// The session sends no WNDINC for a stream whose FIN it has received or
/// that has been reset: reading data that came with (or before) the FIN,
/// or that was due an update when the FIN or the reset came, returns no
/// stream window — while the same reads on an open stream do.
/// Checks [S-7.5].
#[test]
fn no_window_update_after_fin_or_reset() {
    let config = Config { max_inbound_streams: Some(4), ..Config::server() };
    let mut h = Harness::connected(config, WHOLE);
    let mut buf = [0u8; 4096];
    // An open stream gets its update.
    h.open_accepted(1, &[1; 2000]);
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(2000));
    assert_eq!(h.drain().frames, vec![Out::WndInc { stream: 1, credit: false, increment: 2000 }]);
    // Data that came with the FIN.
    h.step(&data(3, flags::SYN | flags::FIN, &[2; 2000]));
    assert_eq!(h.s.accept(), Ok(StreamId(3)));
    assert_eq!(h.s.read(StreamId(3), &mut buf), Ok(2000));
    assert!(h.drain().on(3).is_empty());
    // An update due when the FIN arrives.
    h.open_accepted(5, &[3; 2000]);
    assert_eq!(h.s.read(StreamId(5), &mut buf), Ok(2000));
    h.feed(&data(5, flags::FIN, b""));
    assert!(h.drain().on(5).is_empty());
    // An update due when the peer resets the stream.
    h.open_accepted(7, &[4; 2000]);
    assert_eq!(h.s.read(StreamId(7), &mut buf), Ok(2000));
    h.feed(&rst(7, C::CANCEL));
    assert!(h.drain().on(7).is_empty());
    // An update due when the application resets it.
    assert_eq!(h.s.read(StreamId(1), &mut buf), Err(braid::ReadError::WouldBlock));
    h.step(&data(1, 0, &[5; 2000]));
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(2000));
    h.s.reset(StreamId(1), C::CANCEL).unwrap();
    assert_eq!(h.drain().on(1), vec![&Out::Rst { stream: 1, code: C::CANCEL }]);
    let after_fin_or_reset =
        h.all_frames().iter().filter(|f| matches!(f, Out::WndInc { stream: 3 | 5 | 7, .. })).count();
    assert_eq!(after_fin_or_reset, 0);
    expect_sender_rules(&h);
}

/// Drive window growth on one stream: the round trip is 10 ms and the
/// application reads at once, so every update doubles the window; the
/// peer always fills the window it was granted. Returns the window sizes
/// the peer saw.
fn grow<const N: usize, const RX: usize>(stream_window: u32) -> (Vec<u32>, Harness<ArrayStorage<N, RX, 64>>) {
    let mut config = Config::server();
    config.stream_window = stream_window;
    config.stream_window_max = 1 << 24;
    let mut h = Harness::new(config, ArrayStorage::<N, RX, 64>::new(), WHOLE);
    h.start();
    h.step(&handshake());
    h.now = Instant::from_millis(10);
    h.step(&settings_ack());
    let meta = h.s.local_settings().max_open_metadata as usize;
    let mut window = h.s.local_settings().initial_stream_window;
    let mut seen = vec![window];
    // The SYN carries a block of MAX_OPEN_METADATA, left unread.
    h.step(&data(1, flags::SYN | flags::META, &meta_payload(&block_of(meta), &[])));
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    let mut buf = vec![0u8; RX];
    for round in 0..12u8 {
        // The peer fills the whole window; it all fits beside the block.
        h.step(&data(1, 0, &vec![round; window as usize]));
        assert_eq!(h.s.close_reason(), None, "round {round}: window {window}");
        let info = h.s.stream_info(StreamId(1)).unwrap();
        assert_eq!(info.recv_window, 0);
        assert!(info.readable <= RX, "round {round}: {} bytes held in a {RX}-byte buffer", info.readable);
        if round == 0 {
            assert_eq!(h.s.metadata(StreamId(1), &mut buf), Ok(Some(meta)), "the block is still there");
            assert_eq!(info.readable, meta + window as usize);
        }
        assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(window as usize));
        window = 0;
        for f in h.drain().frames {
            if let Out::WndInc { stream: 1, increment, .. } = f {
                window += increment;
            }
        }
        assert!(window > 0);
        seen.push(window);
        let size = h.s.stream_info(StreamId(1)).unwrap().recv_window_size;
        assert_eq!(size, window, "the window size is what the peer may send");
    }
    (seen, h)
}

/// Window growth never grants more than the stream's buffer holds: a
/// window that starts at 1000 bytes and doubles on every update stops at
/// the receive buffer less the metadata allowance (4096 - 1024 = 3072;
/// 10000 - 1024 = 8976), and the peer filling every grown window — with
/// an unread metadata block of the full allowance in the buffer — is
/// always accepted and stored.
/// Checks [S-7.6].
#[test]
fn grown_windows_never_exceed_the_buffer() {
    let (seen, _) = grow::<2, 4096>(1000);
    assert_eq!(seen[..4], [1000, 2000, 3072, 3072], "{seen:?}");
    assert!(seen.iter().all(|&w| w <= 3072));
    let (seen, h) = grow::<2, 10_000>(1000);
    assert_eq!(seen[..6], [1000, 2000, 4000, 8000, 8976, 8976], "{seen:?}");
    assert!(seen.iter().all(|&w| w <= 8976));
    expect_sender_rules(&h);
}

/// The session never grants more stream credit than it has room for: at
/// every step, the streams the peer opened that it still holds plus the
/// credit the peer has left never exceed the slots not taken by the
/// application's own streams; and the peer can always use all its credit
/// at once, however many streams the application opened first.
/// Checks [S-7.7].
#[test]
fn stream_credit_never_exceeds_the_free_slots() {
    let mut h = Harness::server(WHOLE);
    let mut credit = CREDIT;
    let mut next_peer = 1u32;
    let mut mine: Vec<StreamId> = Vec::new();
    let mut buf = [0u8; 16];
    // Drain, take in any credit granted, and check the promise holds.
    let settle = |h: &mut Harness, credit: &mut u32, mine: &[StreamId]| {
        for f in h.drain().frames {
            if let Out::WndInc { stream: 0, credit: true, increment } = f {
                *credit += increment;
            }
        }
        let local = mine.iter().filter(|id| h.s.stream_info(**id).is_some()).count() as u32;
        let held = h.s.streams_in_use() as u32 - local;
        assert!(
            held + *credit <= CAPACITY as u32 - local,
            "held {held} + credit {credit} > {CAPACITY} - {local}"
        );
    };
    for round in 0..20 {
        // The application opens what it may.
        while let Ok(id) = h.s.open() {
            mine.push(id);
        }
        settle(&mut h, &mut credit, &mine);
        // The peer uses all its credit.
        let mut input = Vec::new();
        for _ in 0..credit {
            input.extend(syn(next_peer, b"hi"));
            next_peer += 2;
        }
        credit = 0;
        h.feed(&input);
        assert_eq!(h.s.close_reason(), None, "round {round}");
        settle(&mut h, &mut credit, &mine);
        // Some streams end: the peer's and, every other round, the application's.
        while let Ok(id) = h.s.accept() {
            let _ = h.s.read(id, &mut buf);
            h.s.reset(id, C::CANCEL).unwrap();
        }
        if round % 2 == 0 {
            for id in mine.drain(..) {
                let _ = h.s.reset(id, C::CANCEL);
            }
        }
        settle(&mut h, &mut credit, &mine);
        settle(&mut h, &mut credit, &mine);
    }
    assert!(next_peer > 40, "the peer kept opening streams: {next_peer}");
    expect_sender_rules(&h);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    data_beyond_stream_window => case_data_beyond_stream_window,
    syn_data_beyond_stream_window => case_syn_data_beyond_stream_window,
    data_beyond_stream_window_cumulative => case_data_beyond_stream_window_cumulative,
    data_beyond_session_window => case_data_beyond_session_window,
    session_window_overflow => case_session_window_overflow,
    stream_window_overflow => case_stream_window_overflow,
    stream_credit_overflow => case_stream_credit_overflow,
    window_checked_from_the_header => case_window_checked_from_the_header,
    window_checked_right_after_the_metadata_length => case_window_checked_right_after_the_metadata_length,
    exactly_the_window_is_accepted => case_exactly_the_window_is_accepted,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
