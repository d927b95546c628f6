//! Arbitrary input (property tests): random bytes, preface-like bytes and
//! random frames, cut in random chunks, fed to a session acting as a plain
//! application. After every chunk the session is open or ended with its
//! GOAWAY; everything it sent parses, respects the peer's MAX_FRAME_SIZE
//! and passes the output audit of every sender rule.

use braid::frame::{Frame, Settings, MAX_PAYLOAD, MAX_WINDOW};
use braid::{CloseReason, Config, Event, LocalError, ReadError, Role, SessionState};
use braid_conformance::peer::*;
use proptest::prelude::*;

/// Feed `input` (after a valid handshake if `handshake`) in the given
/// chunk sizes (cycled), acting as a plain application in between, and
/// check the invariants after every chunk.
fn fuzz(role: Role, handshake_first: bool, input: &[u8], cuts: &[usize]) {
    let prefix = if handshake_first { cat(&[&handshake(), &settings_ack()]) } else { Vec::new() };
    fuzz_after(role, false, &prefix, input, cuts);
}

fn fuzz_after(role: Role, trace: bool, prefix: &[u8], input: &[u8], cuts: &[usize]) {
    let config = match role {
        Role::Client => Config::client(),
        Role::Server => Config::server(),
    };
    let mut h = Harness::fresh(config.with_trace(trace), usize::MAX);
    let mut all = prefix.to_vec();
    all.extend_from_slice(input);
    let mut pos = 0;
    let mut cut = cuts.iter().copied().cycle();
    let mut buf = [0u8; 512];
    while pos < all.len() {
        let n = cut.next().unwrap_or(1).max(1).min(all.len() - pos);
        let piece = &all[pos..pos + n];
        let mut off = 0;
        let mut stalled = 0;
        while off < piece.len() {
            let used = h.s.handle_input(h.now, &piece[off..]);
            assert!(used <= piece.len() - off, "consumed {used} of {}", piece.len() - off);
            if !trace {
                assert_eq!(used, piece.len(), "with tracing off every byte is consumed");
            }
            off += used;
            if off < piece.len() {
                // Only a full trace queue may stop input: drain it and go on.
                assert!(trace, "input stopped with tracing off");
                stalled = if used == 0 { stalled + 1 } else { 0 };
                assert!(stalled < 2, "no progress after draining the trace queue");
                h.drain();
            }
        }
        pos += n;
        // A plain application: accept, read, answer, open.
        while let Ok(id) = h.s.accept() {
            let _ = h.s.write(id, b"reply");
        }
        let d = h.drain();
        for e in &d.events {
            if let Event::Readable(id) | Event::Finished(id) = *e {
                loop {
                    match h.s.read(id, &mut buf) {
                        Ok(0) => {
                            let _ = h.s.finish(id);
                            break;
                        }
                        Ok(_) => {}
                        Err(ReadError::WouldBlock) | Err(_) => break,
                    }
                }
            }
        }
        if h.s.state() == SessionState::Open && h.s.streams_in_use() < 2 {
            if let Ok(id) = h.s.open() {
                let _ = h.s.write(id, &[0xAB; 300]);
            }
        }
        h.drain();
        assert!(h.s.streams_in_use() <= CAPACITY, "{} streams in use", h.s.streams_in_use());
        check_close(&h);
    }
    check_output(&h);
}

/// The session is open, or ended with a protocol error (its GOAWAY
/// sent), or ended because the peer's bytes happened to form a GOAWAY.
fn check_close(h: &Harness) {
    match h.s.close_reason() {
        None => assert!(!matches!(h.s.state(), SessionState::Closing | SessionState::Closed)),
        Some(CloseReason { local: Some(LocalError::Protocol(e)), .. }) => {
            assert_eq!(h.s.state(), SessionState::Closed);
            let mut last = None;
            let mut at = 8;
            while let Ok((f, n)) = Frame::parse(&h.sent[at..], MAX_PAYLOAD) {
                last = Some(f);
                at += n;
            }
            match last {
                Some(Frame::GoAway(g)) => assert_eq!(g.code, e.code()),
                other => panic!("last frame after {e:?} is {other:?}"),
            }
        }
        Some(CloseReason { local: None, remote: Some(_) }) => {}
        Some(other) => panic!("unexpected end: {other:?}"),
    }
}

/// Everything the session sent parses, and no frame exceeds the peer's
/// MAX_FRAME_SIZE.
fn check_output(h: &Harness) {
    let limit = h.s.peer_settings().map_or(Settings::DEFAULT.max_frame_size, |s| s.max_frame_size);
    let mut at = 8;
    while at < h.sent.len() {
        let (f, n) = Frame::parse(&h.sent[at..], MAX_PAYLOAD).expect("the session's output parses");
        assert!(f.header().length <= limit, "frame {f:?} larger than the peer's {limit}");
        at += n;
    }
    expect_sender_rules(h);
}

/// A frame with random header fields, usually with the length its
/// type needs.
fn arb_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..16,
        0u8..16,
        prop_oneof![Just(0u32), 1u32..9, any::<u32>()],
        proptest::collection::vec(any::<u8>(), 0..48),
        any::<bool>(),
    )
        .prop_map(|(t, fl, stream, mut payload, fix)| {
            if fix {
                let want = match t {
                    0 | 2 => Some(4),
                    5 => Some(8),
                    3 => Some(8 + payload.len().min(8)),
                    4 if fl & 1 == 1 => Some(0),
                    4 => Some(payload.len() / 6 * 6),
                    _ => None,
                };
                if let Some(n) = want {
                    payload.resize(n, 0x01);
                }
            }
            raw(t, fl, stream, &payload)
        })
}

/// Valid peer SETTINGS, biased towards small values.
fn arb_settings() -> impl Strategy<Value = Settings> {
    (
        prop_oneof![0u32..300, Just(MAX_WINDOW)],
        prop_oneof![64u32..300, Just(MAX_PAYLOAD)],
        0u32..20,
        prop_oneof![0u32..2000, Just(MAX_WINDOW)],
        0u32..100,
    )
        .prop_map(|(window, frame, credit, session, meta)| Settings {
            initial_stream_window: window,
            max_frame_size: frame,
            stream_credit: credit,
            session_window: session,
            max_open_metadata: meta,
            idle_timeout_ms: 0,
        })
}

proptest! {
    // PROPTEST_CASES=n runs more (or fewer) cases.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes after a valid preface and SETTINGS.
    /// Checks [S-3.3], [S-9.3], [S-9.4], [S-4.13].
    #[test]
    fn arbitrary_bytes_after_handshake(
        server in any::<bool>(),
        input in proptest::collection::vec(any::<u8>(), 0..1024),
        cuts in proptest::collection::vec(1usize..64, 1..16),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        fuzz(role, true, &input, &cuts);
    }

    /// Arbitrary bytes from the very start (no valid preface, usually).
    /// Checks [S-9.3], [S-9.4].
    #[test]
    fn arbitrary_bytes_without_handshake(
        server in any::<bool>(),
        input in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(1usize..32, 1..16),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        fuzz(role, false, &input, &cuts);
    }

    /// A valid preface, then bytes that start like the magic: probes the
    /// preface decoder.
    /// Checks [S-3.3], [S-9.3].
    #[test]
    fn arbitrary_preface_like_bytes(
        keep in 0usize..=8,
        input in proptest::collection::vec(any::<u8>(), 0..64),
        cuts in proptest::collection::vec(1usize..9, 1..8),
    ) {
        let mut all = braid::frame::PREFACE[..keep].to_vec();
        all.extend(input);
        fuzz(Role::Server, false, &all, &cuts);
    }

    /// Sequences of frames with random header fields (mostly plausible
    /// lengths), after a valid handshake: reaches far deeper than random
    /// bytes.
    /// Checks [S-3.3], [S-9.3], [S-9.4].
    #[test]
    fn arbitrary_frames_after_handshake(
        server in any::<bool>(),
        frames in proptest::collection::vec(arb_frame(), 0..64),
        cuts in proptest::collection::vec(1usize..200, 1..16),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let input: Vec<u8> = frames.concat();
        fuzz(role, true, &input, &cuts);
    }

    /// Random frames after a handshake with random (valid) peer
    /// SETTINGS: the session's own output must respect them too.
    /// Checks [S-4.13], [S-9.3].
    #[test]
    fn arbitrary_frames_after_random_settings(
        server in any::<bool>(),
        peer in arb_settings(),
        frames in proptest::collection::vec(arb_frame(), 0..48),
        cuts in proptest::collection::vec(1usize..200, 1..16),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let prefix = cat(&[&preface(), &settings(peer), &settings_ack()]);
        let input: Vec<u8> = frames.concat();
        fuzz_after(role, false, &prefix, &input, &cuts);
    }

    /// With tracing on, `handle_input` may stop early when the trace
    /// queue fills: it never consumes more than given, and after the
    /// queue is drained it always goes on.
    #[test]
    fn arbitrary_frames_with_tracing(
        server in any::<bool>(),
        frames in proptest::collection::vec(arb_frame(), 0..64),
        cuts in proptest::collection::vec(1usize..400, 1..16),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let prefix = cat(&[&handshake(), &settings_ack()]);
        let input: Vec<u8> = frames.concat();
        fuzz_after(role, true, &prefix, &input, &cuts);
    }
}
