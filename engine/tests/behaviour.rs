//! Behaviour a user relies on, one scenario per test, on two sessions
//! joined in memory on a virtual clock.

use braid::frame::{flags, Frame, FrameType};
use braid::pair::Pair;
use braid::trace::{Direction, FrameDetail};
use braid::{
    ArrayStorage, Config, Duration, ErrorCode, Event, Instant, LocalError, OpenError, ReadError, Session,
    SessionState,
};

type S = ArrayStorage<4, 1024, 1024>;

fn pair(client: Config, server: Config) -> Pair<S, S, 4096> {
    let mut p = Pair::new(client, S::new(), server, S::new());
    p.step();
    p
}

fn events(s: &mut Session<S>) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Every frame one side sends in one transmit, parsed.
fn sent_frames(s: &mut Session<S>, now: Instant) -> Vec<(FrameType, u8, u32, usize)> {
    let mut buf = [0u8; 8192];
    let n = s.poll_transmit(now, &mut buf);
    let mut out = Vec::new();
    let mut at = 0;
    while at < n {
        let (f, used) = Frame::parse(&buf[at..n], 1 << 20).unwrap();
        let h = f.header();
        out.push((h.kind, h.flags, h.stream.0, h.length as usize));
        at += used;
    }
    out
}

/// Checks [S-2.6].
#[test]
fn handshake_measures_rtt_and_reports_peer_settings() {
    let mut p: Pair<S, S, 4096> = Pair::new(Config::client(), S::new(), Config::server(), S::new());
    assert_eq!(p.client.state(), SessionState::Handshaking);
    assert_eq!(p.client.open(), Err(OpenError::Handshaking));
    // Prefaces and SETTINGS cross, then the ACKs come back (no latency here).
    p.step();
    assert_eq!(p.client.state(), SessionState::Open);
    assert_eq!(p.client.peer_settings().map(|s| s.stream_credit), Some(2));
    assert_eq!(events(&mut p.client), vec![Event::Connected]);
    assert_eq!(p.client.rtt(), Some(Duration::ZERO));
}

/// Checks [S-11.2], [S-11.4].
#[test]
fn ping_reports_round_trip_on_the_virtual_clock() {
    let mut p = pair(Config::client(), Config::server());
    events(&mut p.client);
    p.client.ping().unwrap();
    assert_eq!(p.client.ping(), Err(braid::PingError::Busy));
    // Send the PING at t=0, deliver the ACK at t=5ms.
    let mut buf = [0u8; 64];
    let n = p.client.poll_transmit(p.now, &mut buf);
    assert_eq!(p.server.handle_input(p.now, &buf[..n]), n);
    let n = p.server.poll_transmit(p.now, &mut buf);
    let later = Instant::from_millis(5);
    assert_eq!(p.client.handle_input(later, &buf[..n]), n);
    assert_eq!(events(&mut p.client), vec![Event::Pong { rtt: Duration::from_millis(5) }]);
    assert!(p.client.ping().is_ok(), "a new ping may go once the last was answered");
}

/// Checks [S-11.5], [S-11.6].
#[test]
fn keepalive_pings_at_half_the_idle_timeout_and_a_silent_peer_ends_the_session() {
    let idle = Some(Duration::from_secs(10));
    let mut p = pair(Config::client().with_idle_timeout(idle), Config::server().with_idle_timeout(idle));
    assert_eq!(p.client.idle_timeout(), Some(Duration::from_secs(10)));
    assert_eq!(p.client.poll_timeout(), Some(Instant::from_secs(5)));
    // A live peer answers the keepalive: no end.
    p.advance(Duration::from_secs(5));
    p.step();
    p.advance(Duration::from_secs(4));
    p.step();
    assert_eq!(p.client.state(), SessionState::Open);
    // Now the server goes silent: it never transmits again.
    let deadline = p.client.poll_timeout().unwrap();
    p.client.handle_timeout(deadline);
    let mut buf = [0u8; 64];
    let n = p.client.poll_transmit(deadline, &mut buf);
    assert!(n > 0, "keepalive PING sent");
    let end = p.client.poll_timeout().unwrap();
    p.client.handle_timeout(end);
    assert_eq!(p.client.close_reason().and_then(|r| r.local), Some(LocalError::IdleTimeout));
    let n = p.client.poll_transmit(end, &mut buf);
    let (f, _) = Frame::parse(&buf[..n], 1 << 20).unwrap();
    assert!(matches!(f, Frame::GoAway(g) if g.code == ErrorCode::NO_ERROR && g.debug == b"idle timeout"));
    assert_eq!(p.client.state(), SessionState::Closed);
}

#[test]
fn handshake_timeout_ends_a_session_whose_peer_never_speaks() {
    let mut s = Session::new(Config::client(), S::new(), Instant::ZERO);
    assert_eq!(s.poll_timeout(), Some(Instant::from_secs(10)));
    s.handle_timeout(Instant::from_secs(10));
    assert_eq!(s.close_reason().and_then(|r| r.local), Some(LocalError::HandshakeTimeout));
}

/// Checks [S-5.25].
#[test]
fn an_opening_frame_leaves_before_data_queued_after_it_on_other_streams() {
    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.client.write(a, b"first").unwrap();
    p.step();
    // Stream a has data queued; then b opens; then more data on a.
    p.client.write(a, &[1u8; 300]).unwrap();
    let b = p.client.open().unwrap();
    p.client.write(a, b"announce b").unwrap();
    let frames = sent_frames(&mut p.client, p.now);
    let syn_b = frames.iter().position(|f| f.2 == b.0 && f.1 & flags::SYN != 0).unwrap();
    let data_a = frames.iter().position(|f| f.2 == a.0 && f.0 == FrameType::Data).unwrap();
    assert!(syn_b < data_a, "SYN of b must precede a's later data: {frames:?}");
}

/// Checks [S-5.6].
#[test]
fn an_open_always_emits_a_frame_even_with_nothing_written() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    let frames = sent_frames(&mut p.client, p.now);
    assert_eq!(frames, vec![(FrameType::Data, flags::SYN, id.0, 0)]);
}

/// Checks [S-5.9], [S-5.23].
#[test]
fn reset_before_the_syn_left_sends_syn_then_rst() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    p.client.write(id, b"never sent").unwrap();
    p.client.reset(id, ErrorCode::CANCEL).unwrap();
    let mut frames = sent_frames(&mut p.client, p.now);
    frames.extend(sent_frames(&mut p.client, p.now));
    assert_eq!(
        frames,
        vec![(FrameType::Data, flags::SYN, id.0, 0), (FrameType::Rst, 0, id.0, 4)],
        "the RST must follow the SYN, and no data goes after a reset"
    );
}

/// Checks [S-8.4], [S-8.7].
#[test]
fn go_away_refuses_streams_above_last_id_and_lets_the_rest_finish() {
    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.step();
    // b's SYN is still in the client when the server's GOAWAY arrives.
    let b = p.client.open().unwrap();
    p.server.go_away(ErrorCode::NO_ERROR, b"maintenance").unwrap();
    let mut buf = [0u8; 256];
    let n = p.server.poll_transmit(p.now, &mut buf);
    assert_eq!(p.client.handle_input(p.now, &buf[..n]), n);
    let ev = events(&mut p.client);
    assert!(ev.contains(&Event::GoAway { last_stream: a, code: ErrorCode::NO_ERROR }), "{ev:?}");
    assert!(ev.contains(&Event::Reset { id: b, code: ErrorCode::REFUSED, remote: true }), "{ev:?}");
    assert_eq!(p.client.remote_debug(), b"maintenance");
    // a still works both ways.
    p.step();
    assert_eq!(p.server.accept(), Ok(a));
    p.client.write(a, b"still here").unwrap();
    p.client.finish(a).unwrap();
    p.step();
    let mut got = [0u8; 32];
    assert_eq!(p.server.read(a, &mut got), Ok(10));
    assert_eq!(p.server.read(a, &mut got), Ok(0));
    p.server.finish(a).unwrap();
    p.step();
    assert_eq!(p.client.read(a, &mut got), Ok(0));
    events(&mut p.client);
    events(&mut p.server);
    p.step();
    assert_eq!(p.client.state(), SessionState::Closed);
    assert_eq!(p.server.state(), SessionState::Closed);
    assert!(p.server.close_reason().unwrap().is_graceful());
}

/// Checks [S-8.8].
#[test]
fn go_away_with_an_error_code_ends_both_sides_at_once() {
    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.step();
    p.server.go_away(ErrorCode::application(3), b"shutting down").unwrap();
    p.step();
    let reason = p.client.close_reason().unwrap();
    assert_eq!(reason.remote, Some(ErrorCode::application(3)));
    assert_eq!(p.client.write(a, b"x"), Err(braid::WriteError::SessionClosed));
    assert_eq!(p.server.close_reason().unwrap().local, Some(LocalError::GoAway(ErrorCode::application(3))));
}

#[test]
fn data_received_before_eof_stays_readable_after_the_transport_ends() {
    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.client.write(a, b"tail").unwrap();
    p.client.finish(a).unwrap();
    p.step();
    p.server.handle_eof(p.now);
    assert_eq!(p.server.close_reason().unwrap().local, Some(LocalError::TransportEof));
    let mut buf = [0u8; 8];
    // Not accepted before the end: the stream is gone with the session.
    assert_eq!(p.server.accept(), Err(braid::AcceptError::SessionClosed));

    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(a));
    p.client.write(a, b"tail").unwrap();
    p.step();
    p.server.handle_eof(p.now);
    assert_eq!(p.server.read(a, &mut buf), Ok(4));
    assert_eq!(p.server.read(a, &mut buf), Err(ReadError::SessionClosed));
}

/// Checks [S-7.6].
#[test]
fn stream_windows_grow_when_the_reader_keeps_up_within_two_round_trips() {
    let mut client = Config::client();
    client.stream_window = 128;
    client.stream_window_max = 1024;
    let mut server = Config::server();
    server.stream_window = 128;
    server.stream_window_max = 1024;
    server.max_open_metadata = 0;
    type Big = ArrayStorage<2, 2048, 2048>;
    let mut p: Pair<Big, Big, 4096> = Pair::new(client, Big::new(), server, Big::new());
    // A 10 ms round trip, measured by a ping.
    p.step();
    p.client.ping().unwrap();
    let mut buf = [0u8; 4096];
    let n = p.client.poll_transmit(p.now, &mut buf);
    let _ = p.server.handle_input(p.now, &buf[..n]);
    let n = p.server.poll_transmit(p.now, &mut buf);
    let _ = p.client.handle_input(Instant::from_millis(10), &buf[..n]);
    p.server.ping().unwrap();
    let n = p.server.poll_transmit(p.now, &mut buf);
    let _ = p.client.handle_input(Instant::from_millis(10), &buf[..n]);
    let n = p.client.poll_transmit(Instant::from_millis(10), &mut buf);
    let _ = p.server.handle_input(Instant::from_millis(10), &buf[..n]);
    assert_eq!(p.server.rtt().map(|r| r.as_micros() > 0), Some(true));
    p.now = Instant::from_millis(10);
    let id = p.client.open().unwrap();
    p.step();
    p.server.accept().unwrap();
    let start = p.server.stream_info(id).unwrap().recv_window_size;
    assert_eq!(start, 128);
    // The reader drains at once, every millisecond: far faster than 2 RTTs.
    let mut got = 0;
    for _ in 0..40 {
        let _ = p.client.write(id, &[7u8; 512]);
        p.step();
        while let Ok(n) = p.server.read(id, &mut buf) {
            if n == 0 {
                break;
            }
            got += n;
        }
        p.step();
        p.now += Duration::from_millis(1);
    }
    let grown = p.server.stream_info(id).unwrap().recv_window_size;
    assert!(grown > start, "window did not grow: {grown}");
    assert!(grown <= 1024, "window grew past its ceiling: {grown}");
    assert!(got > 0);
}

#[test]
fn a_full_trace_queue_pauses_input_until_drained_and_loses_nothing() {
    let mut p: Pair<S, S, 4096> =
        Pair::new(Config::client().with_trace(true), S::new(), Config::server().with_trace(true), S::new());
    let mut records = Vec::new();
    for _ in 0..20 {
        p.step();
        while let Some(r) = p.client.poll_trace() {
            records.push(r);
        }
        while let Some(r) = p.server.poll_trace() {
            records.push(r);
        }
    }
    let id = p.client.open().unwrap();
    // Twenty tiny frames land in one input buffer: more than the queue holds.
    for i in 0..20u8 {
        p.client.write(id, &[i]).unwrap();
        let mut buf = [0u8; 64];
        let n = p.client.poll_transmit(p.now, &mut buf);
        while p.client.poll_trace().is_some() {}
        let mut at = 0;
        while at < n {
            at += p.server.handle_input(p.now, &buf[at..n]);
            while let Some(r) = p.server.poll_trace() {
                records.push(r);
            }
        }
    }
    let data: Vec<_> = records
        .iter()
        .filter(|r| r.direction == Direction::Received && r.header.kind == FrameType::Data)
        .collect();
    assert_eq!(data.len(), 20, "every DATA frame traced once");
    assert!(matches!(data[0].detail, FrameDetail::Data { data_len: 1, .. }));
    let text = data[0].to_string();
    assert!(text.starts_with("<- DATA"), "{text}");
}

#[test]
fn a_peer_reset_is_reported_by_every_operation_until_the_application_sees_it() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    p.client.write(id, b"x").unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(id));
    p.server.reset(id, ErrorCode::application(7)).unwrap();
    assert_eq!(p.server.write(id, b"y"), Err(braid::WriteError::LocallyReset));
    p.step();
    let code = ErrorCode::application(7);
    // The event is not polled yet: the stream's state is still reported.
    assert_eq!(p.client.write(id, b"z"), Err(braid::WriteError::Reset(code)));
    // Told once: now it is forgotten.
    let mut buf = [0u8; 4];
    assert_eq!(p.client.read(id, &mut buf), Err(ReadError::UnknownStream));
    assert_eq!(events(&mut p.client), vec![Event::Connected, Event::Reset { id, code, remote: true }]);
    assert_eq!(p.client.streams_in_use(), 0);

    // An event-driven application learns it from the event alone.
    let id = p.client.open().unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(id));
    p.server.reset(id, code).unwrap();
    p.step();
    assert_eq!(events(&mut p.client), vec![Event::Reset { id, code, remote: true }]);
    assert_eq!(p.client.streams_in_use(), 0);
}

#[test]
fn a_small_output_buffer_never_gets_half_a_frame_and_learns_the_room_needed() {
    let mut s = Session::new(Config::client(), S::new(), Instant::ZERO);
    let mut tiny = [0u8; 20];
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut tiny), 0);
    assert_eq!(s.transmit_needed(), 8 + 8 + 36, "preface and SETTINGS go together");
    assert_eq!(tiny, [0u8; 20], "nothing half-written");

    // DATA adapts to the room: a 20-byte buffer carries 12 payload bytes.
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    let mut buf = [0u8; 64];
    let n = p.client.poll_transmit(p.now, &mut buf);
    let _ = p.server.handle_input(p.now, &buf[..n]);
    p.client.write(id, &[9u8; 100]).unwrap();
    let n = p.client.poll_transmit(p.now, &mut tiny);
    assert_eq!(n, 20);
    let (f, used) = Frame::parse(&tiny, 1 << 20).unwrap();
    assert_eq!(used, 20);
    assert!(matches!(f, Frame::Data { payload, .. } if payload == [9u8; 12]));
    let mut seven = [0u8; 7];
    assert_eq!(p.client.poll_transmit(p.now, &mut seven), 0);
    assert_eq!(p.client.transmit_needed(), 9, "a header and at least one byte");
}

/// Checks [S-5.25].
#[test]
fn a_syn_that_does_not_fit_holds_back_data_queued_after_it() {
    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.step();
    let mut mbuf = [0u8; 128];
    let meta = braid::MetadataWriter::new(&mut mbuf, 1).unwrap().header(b"k", &[b'v'; 90]).unwrap().finish();
    let b = p.client.open_with(meta).unwrap();
    p.client.write(a, b"after b").unwrap();
    let mut small = [0u8; 60];
    assert_eq!(p.client.poll_transmit(p.now, &mut small), 0, "a's DATA must wait for b's SYN");
    assert_eq!(p.client.transmit_needed(), 8 + 2 + meta.len());
    let frames = sent_frames(&mut p.client, p.now);
    assert_eq!(frames[0].2, b.0);
    assert_eq!(frames[1].2, a.0);
}

/// Checks [S-8.3].
#[test]
fn a_syn_queued_before_go_away_leaves_before_the_goaway() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    p.client.go_away(ErrorCode::NO_ERROR, b"").unwrap();
    let mut buf = [0u8; 256];
    let n = p.client.poll_transmit(p.now, &mut buf);
    let (first, used) = Frame::parse(&buf[..n], 1 << 20).unwrap();
    assert!(matches!(first, Frame::Data { stream, flags: flags::SYN, .. } if stream == id), "{first:?}");
    let (second, _) = Frame::parse(&buf[used..n], 1 << 20).unwrap();
    assert!(matches!(second, Frame::GoAway(_)), "{second:?}");
    assert_eq!(p.server.handle_input(p.now, &buf[..n]), n);
    assert_eq!(p.server.accept(), Ok(id), "the stream was opened before the GOAWAY, so it is served");
}

/// Checks [S-5.16].
#[test]
fn a_frame_for_our_stream_before_its_syn_left_is_for_an_idle_stream() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    let mut buf = [0u8; 16];
    let n = Frame::WndInc { stream: id, credit: false, increment: 5 }.emit(&mut buf).unwrap();
    let _ = p.client.handle_input(p.now, &buf[..n]);
    assert_eq!(
        p.client.close_reason().and_then(|r| r.local),
        Some(LocalError::Protocol(braid::ProtocolError::IdleStream))
    );
}

/// Checks [S-9.1].
#[test]
fn reserved_codes_are_refused_by_the_api() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    let reserved = ErrorCode(12);
    assert!(
        reserved.is_reserved() && !ErrorCode(11).is_reserved() && !ErrorCode::application(0).is_reserved()
    );
    assert_eq!(p.client.reset(id, reserved), Err(braid::StreamError::ReservedCode));
    assert_eq!(p.client.go_away(ErrorCode(0x7FFF_FFFF), b""), Err(braid::GoAwayError::ReservedCode));
    p.step();
    assert_eq!(p.server.refuse(reserved), Err(braid::AcceptError::ReservedCode));
    assert_eq!(p.server.refuse(ErrorCode::REFUSED), Ok(id));
}

// Regressions found by fuzzing (fuzz/README.md).

#[test]
fn resetting_a_stream_while_its_reply_metadata_is_half_received() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    p.step();
    let mut b = [0u8; 32];
    let reply = braid::MetadataWriter::new(&mut b, 7).unwrap().header(b"k", b"value").unwrap().finish();
    p.server.accept_with(reply).unwrap();
    let mut wire = [0u8; 512];
    let n = p.server.poll_transmit(p.now, &mut wire);
    assert_eq!(p.client.handle_input(p.now, &wire[..12]), 12); // header, length, 2 block bytes
    p.client.reset(id, ErrorCode::CANCEL).unwrap();
    assert_eq!(p.client.handle_input(p.now, &wire[12..n]), n - 12);
    let window = p.client.session_recv_window();
    let frames = sent_frames(&mut p.client, p.now);
    assert_eq!(frames, vec![(FrameType::Rst, 0, id.0, 4)], "no bogus session WNDINC");
    assert_eq!(p.client.session_recv_window(), window);
}

#[test]
fn a_locally_reset_stream_whose_syn_never_left_is_dropped_by_a_goaway() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.server.open().unwrap();
    p.server.reset(id, ErrorCode::CANCEL).unwrap();
    p.client.go_away(ErrorCode::NO_ERROR, b"").unwrap();
    let mut buf = [0u8; 512];
    let n = p.client.poll_transmit(p.now, &mut buf);
    assert_eq!(p.server.handle_input(p.now, &buf[..n]), n);
    let frames = sent_frames(&mut p.server, p.now);
    assert!(
        frames.iter().all(|f| f.0 == FrameType::GoAway),
        "no SYN or RST after the peer's GOAWAY: {frames:?}"
    );
}

#[test]
fn nothing_but_the_final_goaway_leaves_an_ended_session() {
    let server = Config { session_window: 256, ..Config::server() };
    let mut p: Pair<S, S, 4096> = Pair::new(Config::client(), S::new(), server, S::new());
    p.step();
    let id = p.client.open().unwrap();
    assert_eq!(p.client.write(id, &[7; 128]), Ok(128));
    p.step();
    let sid = p.server.accept().unwrap();
    p.server.go_away(ErrorCode::PROTOCOL_ERROR, b"bye").unwrap();
    let mut buf = [0u8; 256];
    assert_eq!(p.server.read(sid, &mut buf), Ok(128));
    let frames = sent_frames(&mut p.server, p.now);
    assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), vec![FrameType::GoAway]);

    // And after the transport ended, not even that.
    let server = Config { session_window: 256, ..Config::server() };
    let mut p: Pair<S, S, 4096> = Pair::new(Config::client(), S::new(), server, S::new());
    p.step();
    p.server.go_away(ErrorCode::PROTOCOL_ERROR, b"bye").unwrap();
    p.server.handle_eof(p.now);
    assert_eq!(sent_frames(&mut p.server, p.now), vec![]);
    assert_eq!(p.server.state(), SessionState::Closed);
}

#[test]
fn a_full_trace_queue_does_not_pose_as_a_small_buffer() {
    let now = Instant::ZERO;
    let mut s = Session::new(Config::server().with_trace(true), S::new(), now);
    let mut input = braid::frame::PREFACE.to_vec();
    let mut f = [0u8; 64];
    let n = Frame::Settings(braid::frame::Settings::DEFAULT).emit(&mut f).unwrap();
    input.extend_from_slice(&f[..n]);
    for i in 0..5u8 {
        let n = Frame::Ping { ack: false, opaque: [i; 8] }.emit(&mut f).unwrap();
        input.extend_from_slice(&f[..n]);
    }
    assert_eq!(s.handle_input(now, &input), input.len());
    let mut out = [0u8; 128];
    assert_eq!(s.poll_transmit(now, &mut out), 0);
    assert_eq!(s.transmit_needed(), 0, "room is not what is missing");
    while s.poll_trace().is_some() {}
    assert!(s.poll_transmit(now, &mut out) > 0);
}

/// Found by the simulator (seed 526366): with a small output buffer, DATA
/// must not starve a pending control frame.
#[test]
fn a_control_frame_that_does_not_fit_holds_back_data() {
    let mut p = pair(Config::client(), Config::server());
    let id = p.client.open().unwrap();
    p.step();
    p.client.write(id, &[3u8; 500]).unwrap();
    p.client.ping().unwrap();
    let mut small = [0u8; 12];
    for _ in 0..50 {
        assert_eq!(p.client.poll_transmit(p.now, &mut small), 0, "no DATA ahead of the PING");
        assert_eq!(p.client.transmit_needed(), 16);
    }
    let frames = sent_frames(&mut p.client, p.now);
    assert_eq!(frames[0].0, FrameType::Ping);
}

/// The peer's NO_ERROR GOAWAY followed by the end of the transport is a
/// graceful end; the end of the transport without a GOAWAY, or after an
/// error GOAWAY, is not.
#[test]
fn end_of_transport_after_a_graceful_go_away_is_graceful() {
    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(a));
    p.server.go_away(ErrorCode::NO_ERROR, b"").unwrap();
    p.step();
    p.client.handle_eof(p.now);
    let reason = p.client.close_reason().unwrap();
    assert_eq!(reason.local, Some(LocalError::TransportEof));
    assert_eq!(reason.remote, Some(ErrorCode::NO_ERROR));
    assert!(reason.is_graceful(), "{reason}");

    let mut p = pair(Config::client(), Config::server());
    p.client.handle_eof(p.now);
    assert!(!p.client.close_reason().unwrap().is_graceful());

    let mut p = pair(Config::client(), Config::server());
    let _ = p.client.open().unwrap();
    p.step();
    p.server.go_away(ErrorCode::INTERNAL_ERROR, b"").unwrap();
    p.step();
    p.client.handle_eof(p.now);
    assert!(!p.client.close_reason().unwrap().is_graceful());
}

/// `restart` turns a used session, streams and all, into a fresh one over
/// the same storage: it behaves exactly as `Session::new` would.
#[test]
fn restart_gives_a_fresh_session_over_the_same_storage() {
    let mut p = pair(Config::client(), Config::server());
    let a = p.client.open().unwrap();
    p.client.write(a, b"before").unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(a));
    p.client.go_away(ErrorCode::PROTOCOL_ERROR, b"start over").unwrap();
    p.step();
    assert!(p.client.close_reason().is_some() && p.server.close_reason().is_some());

    let now = p.now;
    p.client.restart(Config::client(), now);
    p.server.restart(Config::server(), now);
    let fresh = Session::new(Config::client(), S::new(), now);
    for s in [&p.client, &p.server] {
        assert_eq!(s.state(), SessionState::Handshaking);
        assert_eq!(s.streams_in_use(), 0);
        assert_eq!(s.close_reason(), None);
        assert_eq!(s.stats(), fresh.stats());
        assert_eq!(s.local_settings(), fresh.local_settings());
    }
    assert_eq!(p.client.read(a, &mut [0u8; 8]), Err(ReadError::UnknownStream), "old streams are gone");
    assert!(p.client.poll_event().is_none() && p.server.poll_event().is_none(), "old events are gone");

    // A new handshake, and streams from the first id again.
    p.step();
    assert_eq!(events(&mut p.client), vec![Event::Connected]);
    let b = p.client.open().unwrap();
    assert_eq!(b, a, "ids start over");
    p.client.write(b, b"after").unwrap();
    p.client.finish(b).unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(b));
    let mut buf = [0u8; 16];
    assert_eq!(p.server.read(b, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"after");
}
