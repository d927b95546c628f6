//! spec.md §12, flood defences: every kind of unproductive frame spends
//! the budget, and a peer that goes over it is answered with
//! ENHANCE_YOUR_CALM.

use braid::{AcceptError, Config, ErrorCode as C, Event, Instant, ProtocolError as P};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// The default flood budget (burst).
const BURST: usize = 1000;

/// PINGs up to the budget are answered (one coalesced ACK, the
/// newest); nothing else happens.
/// Checks [S-12.1], [S-10.1].
fn case_ping_flood_below_budget(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let input: Vec<u8> = (0..BURST as u64).flat_map(ping).collect();
    let d = h.step(&input);
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: (BURST as u64 - 1).to_be_bytes() }]);
    assert_eq!(h.s.close_reason(), None);
    h
}

/// One PING beyond the budget -> ENHANCE_YOUR_CALM.
/// Checks [S-12.1].
fn case_ping_flood_beyond_budget(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&repeat(&ping(1), BURST));
    assert_eq!(d.frames.len(), 1);
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&ping(2));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 0);
    h
}

/// The bucket refills at flood_rate: a steady PING per
/// millisecond at 1000/s never runs out; a burst past flood_burst does.
/// Checks [S-12.1].
fn case_ping_flood_refill(chunk: usize) -> Harness {
    let mut config = Config::server();
    config.flood_burst = 10;
    config.flood_rate = 1000;
    let mut h = Harness::connected(config, chunk);
    for i in 0..100u64 {
        h.now = Instant::from_millis(i + 1);
        let d = h.step(&ping(i));
        assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: i.to_be_bytes() }]);
    }
    let d = h.step(&repeat(&ping(7), 11));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 0);
    h
}

/// Empty DATA without flags: up to the budget nothing happens,
/// one more -> ENHANCE_YOUR_CALM.
/// Checks [S-12.1].
fn case_empty_data_flood(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&repeat(&data(1, 0, b""), BURST));
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&data(1, 0, b""));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 1);
    h
}

/// Frames of unknown type are unproductive.
/// Checks [S-12.1].
fn case_unknown_type_flood(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&repeat(&raw(7, 0, 0, b"junk"), BURST));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&raw(7, 0, 0, b"junk"));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 0);
    h
}

/// Frames dropped for forgotten streams are unproductive.
/// Checks [S-12.1].
fn case_forgotten_stream_flood(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.forget_peer_stream(1);
    h.drain();
    let d = h.step(&repeat(&rst(1, C::CANCEL), BURST));
    assert!(d.frames.is_empty());
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&rst(1, C::CANCEL));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 1);
    h
}

/// Rapid reset: a peer that opens streams and resets them before
/// they are accepted, reusing the credit it gets back, ends with
/// ENHANCE_YOUR_CALM after exactly the budget; before that nothing happens.
/// Checks [S-12.1].
fn case_rapid_reset(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let mut credit = CREDIT;
    let mut id = 1;
    for round in 1..=BURST + 1 {
        assert!(credit > 0, "the peer ran out of credit after {round} rounds");
        let d = h.step(&cat(&[&syn(id, b""), &rst(id, C::CANCEL)]));
        credit -= 1;
        if round == BURST + 1 {
            expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, id);
            return h;
        }
        assert_eq!(h.s.close_reason(), None, "closed after {round} rapid resets");
        assert!(d.frames.iter().all(|f| matches!(f, Out::WndInc { stream: 0, credit: true, .. })));
        // The application takes what is incoming: the reset stream is gone.
        if d.events.contains(&Event::Incoming) {
            assert_eq!(h.s.accept(), Err(AcceptError::WouldBlock));
        }
        for f in h.drain().frames {
            match f {
                Out::WndInc { stream: 0, credit: true, increment } => credit += increment,
                other => panic!("unexpected frame {other:?}"),
            }
        }
        assert!(h.s.streams_in_use() <= CAPACITY);
        id += 2;
    }
    unreachable!()
}

/// "unproductive frames cost 1 token": an empty DATA for a
/// forgotten stream is one unproductive frame, so the whole budget of them
/// passes and one more ends the session.
/// Checks [S-12.1].
fn case_empty_data_for_forgotten_stream_costs_one_token(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.forget_peer_stream(1);
    h.drain();
    let d = h.step(&repeat(&data(1, 0, b""), BURST));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.close_reason(), None, "closed before the budget of {BURST} was spent");
    let d = h.step(&data(1, 0, b""));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 1);
    h
}

// =============================================================================
// The tests
// =============================================================================

/// WNDINC answering no data: up to the budget they are applied, one more
/// -> ENHANCE_YOUR_CALM (each WNDINC spends a token).
/// Checks [S-12.1].
fn case_wndinc_flood(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    h.open_accepted(1, b"");
    let d = h.step(&repeat(&wndinc(1, 1), BURST / 2));
    let d2 = h.step(&repeat(&wndinc(0, 1), BURST / 2));
    assert!(d.frames.is_empty() && d2.frames.is_empty(), "{d:?} {d2:?}");
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&wndinc(1, 1));
    expect_protocol_error(&mut h, &d, P::Flood, C::ENHANCE_YOUR_CALM, 1);
    h
}

/// WNDINC that answer data this side sent never run the budget dry: each
/// DATA frame sent earns two tokens back.
/// Checks [S-12.1].
fn case_wndinc_answering_data_is_not_a_flood(chunk: usize) -> Harness {
    let mut config = Config::server();
    config.flood_burst = 4;
    config.flood_rate = 0;
    let mut h = Harness::connected(config, chunk);
    h.open_accepted(1, b"");
    for _ in 0..100 {
        h.s.write(braid::StreamId(1), &[7; 10]).unwrap();
        let d = h.drain();
        assert!(!d.frames.is_empty());
        let d = h.step(&cat(&[&wndinc(1, 10), &wndinc(0, 10)]));
        assert!(d.goaways().is_empty(), "{d:?}");
    }
    assert_eq!(h.s.close_reason(), None);
    h
}

cases! {
    wndinc_flood => case_wndinc_flood,
    wndinc_answering_data_is_not_a_flood => case_wndinc_answering_data_is_not_a_flood,
    ping_flood_below_budget => case_ping_flood_below_budget,
    ping_flood_beyond_budget => case_ping_flood_beyond_budget,
    ping_flood_refill => case_ping_flood_refill,
    empty_data_flood => case_empty_data_flood,
    unknown_type_flood => case_unknown_type_flood,
    forgotten_stream_flood => case_forgotten_stream_flood,
    rapid_reset => case_rapid_reset,
    empty_data_for_forgotten_stream_costs_one_token => case_empty_data_for_forgotten_stream_costs_one_token,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
