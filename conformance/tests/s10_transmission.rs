//! spec.md §10, transmission order and bounded replies: at most one PING
//! ACK and one RST and WNDINC per stream wait to be sent, input is read
//! while output is blocked, and (as recommended) control frames go before
//! data.

use braid::frame::{flags, Settings};
use braid::{Config, ErrorCode as C, Event, StreamId};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// Two PINGs in one read get one PING ACK, the second's: the newer reply
/// replaces the one waiting.
/// Checks [S-10.1], [S-11.2].
fn case_a_newer_ping_replaces_the_waiting_ack(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&cat(&[&ping(1), &ping(2)]));
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: 2u64.to_be_bytes() }]);
    h
}

/// DATA after FIN twice, then the application's reset, before anything is
/// sent: one RST for the stream.
/// Checks [S-10.2], [S-5.24].
fn case_one_rst_waits_per_stream(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.step(&data(1, flags::SYN | flags::FIN, b"a"));
    h.feed(&cat(&[&data(1, 0, b"b"), &data(1, 0, b"c")]));
    let _ = h.s.reset(StreamId(1), C::CANCEL);
    let d = h.drain();
    assert_eq!(d.rsts(), vec![&Out::Rst { stream: 1, code: C::STREAM_CLOSED }]);
    h
}

// =============================================================================
// What the session sends
// =============================================================================

/// With its output blocked (the transport takes nothing), a hundred PINGs
/// leave one PING ACK waiting, for the newest; a buffer too small for it
/// gets nothing, and the one reply leaves once there is room.
/// Checks [S-10.1].
#[test]
fn at_most_one_ping_ack_waits() {
    let mut h = Harness::server(WHOLE);
    for i in 0..100u64 {
        h.feed(&ping(i));
    }
    assert_eq!(h.transmit(15), vec![], "a PING ACK needs 16 bytes");
    assert_eq!(h.s.transmit_needed(), 16);
    for i in 100..200u64 {
        h.feed(&ping(i));
    }
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: 199u64.to_be_bytes() }]);
}

/// Window updates for a stream merge while one waits: the application
/// consuming the window in pieces, with nothing sent in between, gets
/// one WNDINC for the stream carrying the sum; two streams get one each.
/// Updates are batched: none before half the window is consumed.
/// Checks [S-10.2].
#[test]
fn at_most_one_wndinc_waits_per_stream() {
    let mut h = Harness::connected(Config { max_inbound_streams: Some(3), ..Config::server() }, WHOLE);
    let w = WINDOW as usize;
    h.step(&cat(&[&syn(1, &vec![1; w]), &syn(3, &vec![3; w])]));
    assert_eq!(h.s.accept(), Ok(StreamId(1)));
    assert_eq!(h.s.accept(), Ok(StreamId(3)));
    let mut buf = vec![0u8; w];
    assert_eq!(h.s.read(StreamId(1), &mut buf[..w / 2 - 1]), Ok(w / 2 - 1));
    assert_eq!(h.s.read(StreamId(3), &mut buf[..w / 2 - 1]), Ok(w / 2 - 1));
    assert!(h.drain().frames.is_empty(), "less than half the window: no update yet");
    for piece in [1, 500, 500, w - 1001 - (w / 2 - 1)] {
        assert_eq!(h.s.read(StreamId(1), &mut buf[..piece]), Ok(piece));
        assert_eq!(h.s.read(StreamId(3), &mut buf[..piece]), Ok(piece));
    }
    let mut frames = h.drain().frames;
    frames.sort_by_key(Out::stream);
    assert_eq!(
        frames,
        vec![
            Out::WndInc { stream: 1, credit: false, increment: WINDOW },
            Out::WndInc { stream: 3, credit: false, increment: WINDOW },
        ]
    );
}

/// While its output is blocked the session keeps reading: a thousand
/// frames of every kind (PINGs, new streams with data and FIN, window
/// updates, resets) are all consumed without a single `poll_transmit`,
/// and the replies that then leave are bounded: one PING ACK, one frame
/// per stream at most.
/// Checks [S-10.3].
#[test]
fn input_is_read_while_output_is_blocked() {
    let config = Config { max_inbound_streams: Some(4), ..Config::server() };
    let mut h = Harness::connected(config, 7);
    let mut input = Vec::new();
    for i in 0..400u64 {
        input.extend(ping(i));
        input.extend(wndinc(0, 1));
    }
    for id in [1u32, 3, 5, 7] {
        input.extend(syn(id, &[9; 100]));
        for _ in 0..40 {
            input.extend(data(id, 0, &[8; 10]));
        }
        input.extend(data(id, flags::FIN, b""));
    }
    input.extend(data(5, 0, b"after fin"));
    input.extend(rst(7, C::CANCEL));
    // Every byte is consumed (Harness::feed checks it), with no transmit.
    h.feed(&input);
    let handshake_len = handshake().len() + settings_ack().len();
    assert_eq!(h.s.stats().bytes_received as usize, handshake_len + input.len());
    assert_eq!(h.s.session_send_window(), Settings::DEFAULT.session_window + 400);
    let d = h.drain();
    assert_eq!(
        d.frames,
        vec![
            Out::Ping { ack: true, opaque: 399u64.to_be_bytes() },
            Out::Rst { stream: 5, code: C::STREAM_CLOSED }
        ]
    );
    assert!(d.events.contains(&Event::Incoming));
    for id in [1, 3] {
        assert_eq!(h.s.accept(), Ok(StreamId(id)));
        assert_eq!(h.s.stream_info(StreamId(id)).unwrap().readable, 500);
    }
    assert_eq!(h.s.close_reason(), None);
}

/// The recommended order (spec.md §10, a SHOULD): a PING ACK, window
/// updates and an RST leave before DATA queued earlier, so bulk data
/// never delays them.
#[test]
fn control_frames_leave_before_data() {
    let mut h = Harness::server(WHOLE);
    h.open_accepted(1, &vec![1; WINDOW as usize]);
    h.open_accepted(3, b"");
    h.s.write(StreamId(3), &[2; 3000]).unwrap();
    let mut buf = vec![0u8; WINDOW as usize];
    assert_eq!(h.s.read(StreamId(1), &mut buf), Ok(WINDOW as usize));
    h.feed(&ping(5));
    h.s.reset(StreamId(1), C::CANCEL).unwrap();
    // (A credit grant for stream 1, forgotten once its RST left, may follow.)
    let frames = h.drain().sans_credit();
    let kinds: Vec<bool> = frames.iter().map(|f| f.is_data_with(0)).collect();
    let first_data = kinds.iter().position(|d| *d).unwrap();
    let last_control = kinds.iter().rposition(|d| !*d).unwrap();
    assert!(last_control < first_data, "DATA at {first_data}, control at {last_control}");
    assert_eq!(frames[0], Out::Ping { ack: true, opaque: 5u64.to_be_bytes() });
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    a_newer_ping_replaces_the_waiting_ack => case_a_newer_ping_replaces_the_waiting_ack,
    one_rst_waits_per_stream => case_one_rst_waits_per_stream,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
