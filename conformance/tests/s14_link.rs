//! spec.md §14, the serial link layer: framing, SYNC and link sessions,
//! fail-stop and reliable (go-back-N) modes, against a scripted raw link
//! peer and over two linked sessions on a seeded faulty line.

use braid::link::frame::{self, Header, Kind, LinkId, SyncBody, SyncError};
use braid::link::{Link, LinkConfig, LinkEvent, LinkState};
use braid::{CloseReason, Duration, Event, Instant, LinkError, LocalError, Session};
use braid_conformance::link::*;

fn fail_stop() -> LinkConfig {
    LinkConfig::fail_stop(0xA)
}

fn reliable() -> LinkConfig {
    LinkConfig::reliable(0xA)
}

/// The session's Closed event with a link error, if any.
fn closed_by_link(events: &[Event]) -> Option<LinkError> {
    events.iter().find_map(|e| match e {
        Event::Closed(CloseReason { local: Some(LocalError::Link(l)), .. }) => Some(*l),
        _ => None,
    })
}

/// A scripted side whose link is up (reliable or not) and whose first
/// DATA frame (the preface and SETTINGS) was taken; returns it and that
/// frame's body.
fn up(link: LinkConfig) -> (Scripted, Vec<u8>) {
    let mut s = Scripted::new(link);
    let step = s.up(link.mode == braid::link::LinkMode::Reliable);
    let data = step.data();
    assert_eq!(data.len(), 1, "{step:?}");
    assert_eq!(data[0].header.seq, 0);
    (s, data[0].body.clone())
}

/// The bytes of the peer's preface and SETTINGS, as a server session
/// sends them (to get the side's session connected).
fn peer_preface() -> Vec<u8> {
    let mut peer = session(false, Instant::ZERO);
    let mut out = [0u8; 256];
    let n = peer.poll_transmit(Instant::ZERO, &mut out);
    out[..n].to_vec()
}

// =============================================================================
// §14.1 Frames
// =============================================================================

/// Every frame a link sends is COBS with exactly one delimiter, and its CRC
/// is the CRC-32C of header and body, big-endian; the spec's example frames
/// come out of the encoder byte for byte.
/// Checks [S-14.1], [S-14.2].
#[test]
fn frames_are_cobs_with_one_delimiter_and_a_crc32c() {
    let mut pair = LinkPair::new(reliable(), reliable(), 1);
    let mut t = Transfer::new(3000, 1);
    assert!(pair.run(5000, |p| {
        t.drive(p);
        t.done()
    }));
    for wire in &pair.sent {
        // Frames back to back: split at each delimiter, nothing trails.
        assert_eq!(wire.last(), Some(&0));
        for part in wire.split(|&b| b == 0).filter(|p| !p.is_empty()) {
            let mut decoded = vec![0u8; part.len()];
            let n = decode_cobs(part, &mut decoded);
            let (rest, crc) = decoded[..n].split_at(n - 4);
            assert_eq!(frame::CRC32C.checksum(rest).to_be_bytes(), crc);
        }
    }
    assert_eq!(frame::CRC32C.checksum(b"123456789"), 0xE306_9283);
    assert_eq!(ack(5, false), [0x07, 0x20, 0x50, 0xdf, 0xcf, 0x4e, 0x03, 0x00]);
    let settings_ack = [0, 0, 0, 0x41, 0, 0, 0, 0];
    assert_eq!(
        data(3, 2, &settings_ack),
        [0x03, 0x13, 0x20, 0x01, 0x01, 0x02, 0x41, 0x01, 0x01, 0x01, 0x05, 0xd3, 0x29, 0xfe, 0xd5, 0x00]
    );
}

/// Plain COBS decoding, written out here so that the encoder is checked
/// against the definition and not against itself.
fn decode_cobs(src: &[u8], dst: &mut [u8]) -> usize {
    let (mut i, mut o) = (0, 0);
    while i < src.len() {
        let code = src[i] as usize;
        assert!(code > 0);
        i += 1;
        for _ in 1..code {
            dst[o] = src[i];
            o += 1;
            i += 1;
        }
        if code < 0xFF && i < src.len() {
            dst[o] = 0;
            o += 1;
        }
    }
    o
}

/// A DATA frame of the real link, damaged in every byte position (each bit
/// of each byte flipped in turn, and each byte replaced by `00`), never
/// reaches the session in reliable mode; the intact frame then does, once.
/// Checks [S-14.3].
#[test]
fn corruption_of_every_byte_position_is_detected() {
    let (mut s, _) = up(reliable());
    let mut peer = session(false, Instant::ZERO);
    let mut out = [0u8; 256];
    let n = peer.poll_transmit(Instant::ZERO, &mut out);
    let good = data(0, 1, &out[..n]);
    let before = s.side.session().stats().bytes_received;
    let mut damaged = 0;
    for i in 0..good.len() {
        let mut variants: Vec<Vec<u8>> = (0..8)
            .map(|bit| {
                let mut w = good.clone();
                w[i] ^= 1 << bit;
                w
            })
            .collect();
        let mut zeroed = good.clone();
        zeroed[i] = 0;
        variants.push(zeroed);
        for mut w in variants {
            if w == good {
                continue;
            }
            // End whatever the damage left open, as the next frame would.
            w.push(0);
            s.step(&w);
            damaged += 1;
            assert_eq!(
                s.side.session().stats().bytes_received,
                before,
                "byte {i} damaged reached the session"
            );
        }
    }
    assert!(s.side.link().stats().frames_corrupt as usize >= good.len() * 8 - 1);
    assert!(damaged > 8 * good.len());
    s.step(&good);
    assert_eq!(s.side.session().stats().bytes_received, before + n as u64);
}

/// In fail-stop mode, damage in any byte position of a DATA frame ends the
/// session with a link error and delivers nothing of it.
/// Checks [S-14.3], [S-14.15].
#[test]
fn fail_stop_detects_damage_in_every_byte_position() {
    let good = data(0, 0, &peer_preface());
    for i in 0..good.len() {
        for pattern in [0x01u8, 0x80, 0x55] {
            let (mut s, _) = up(fail_stop());
            let mut w = good.clone();
            w[i] ^= pattern;
            w.push(0);
            let step = s.step(&w);
            assert_eq!(s.side.session().stats().bytes_received, 0, "byte {i}");
            let err = closed_by_link(&step.events);
            assert!(
                matches!(err, Some(LinkError::CorruptFrame | LinkError::FrameLost)),
                "byte {i}: {step:?}"
            );
            assert_eq!(s.side.link().state(), LinkState::Down);
        }
    }
}

/// A frame longer than the MTU, and a megabyte without a delimiter, are
/// dropped while they arrive: the link holds a fixed number of bytes, and
/// the next frame decodes.
/// Checks [S-14.3].
#[test]
fn oversize_frames_are_discarded_with_bounded_memory() {
    let (mut s, _) = up(reliable());
    let preface = peer_preface();
    let mut long = preface.clone();
    long.resize(MTU + 1, 0x11);
    let step = s.step(&data(0, 1, &long));
    assert!(step.data().is_empty());
    assert_eq!(s.side.link().stats().frames_oversize, 1);
    assert_eq!(s.side.session().stats().bytes_received, 0);
    let garbage = vec![0x5Au8; 1 << 20];
    s.step(&garbage);
    s.step(&[0]);
    assert_eq!(s.side.link().stats().frames_oversize, 2);
    // A body of exactly MTU bytes is accepted.
    let mut exact = preface.clone();
    let pad = MTU - exact.len();
    // Pad with unknown-type session frames the session skips.
    exact.extend_from_slice(&[0, 0, (pad - 8) as u8, 0x90, 0, 0, 0, 0]);
    exact.resize(MTU, 0x22);
    s.step(&data(0, 1, &exact));
    assert_eq!(s.side.session().stats().bytes_received, MTU as u64);
    // The link's memory is its buffers: fixed by MTU and WINDOW.
    let size = std::mem::size_of::<Link<MTU, WINDOW>>();
    assert!(size < MTU * (WINDOW + 1) + 512, "{size}");
}

/// After garbage, a truncated frame or lost delimiters the receiver is back
/// in step at the next delimiter; empty frames are ignored.
/// Checks [S-14.4].
#[test]
fn the_receiver_resynchronises_at_the_next_delimiter() {
    let (mut s, _) = up(reliable());
    let preface = peer_preface();
    let good = data(0, 1, &preface);
    let mut input = vec![0, 0, 0, 0x42, 0x17, 0x99, 0];
    input.extend_from_slice(&good[..good.len() / 2]); // truncated: no delimiter
    input.extend_from_slice(&[0x33, 0x44, 0]);
    input.extend_from_slice(&good);
    input.extend_from_slice(&[0, 0]);
    let step = s.step(&input);
    assert_eq!(s.side.session().stats().bytes_received, preface.len() as u64);
    assert_eq!(step.events.first(), Some(&Event::Connected));
    assert_eq!(s.side.link().stats().frames_corrupt, 2);
}

/// The same seeded run over a noisy line, with every input fed whole, one
/// byte at a time, or in 7-byte pieces, is the same run: the same bytes
/// on the line both ways, the same counters, the same data delivered.
/// Checks [S-14.4].
#[test]
fn any_chunking_gives_the_same_result() {
    let run = |chunk: usize| {
        let mut pair = LinkPair::new(reliable(), LinkConfig::reliable(0xB), 7);
        pair.chunk = chunk;
        for f in &mut pair.faults {
            *f = Faults {
                bit_error: 1000,
                drop: 20_000,
                duplicate: 20_000,
                truncate: 20_000,
                garbage: 20_000,
            };
        }
        let mut t = Transfer::new(4000, 7);
        assert!(pair.run(50_000, |p| {
            t.drive(p);
            t.done()
        }));
        (pair.sent, *pair.a.link().stats(), *pair.b.link().stats(), t.read(0).to_vec(), t.read(1).to_vec())
    };
    let whole = run(usize::MAX);
    assert!(whole.1.frames_corrupt + whole.2.frames_corrupt > 0, "the line was noisy");
    assert!(whole.1.frames_retransmitted + whole.2.frames_retransmitted > 0);
    assert_eq!(run(1), whole);
    assert_eq!(run(7), whole);
}

/// A valid frame of a reserved kind is ignored, and so is an ACK in
/// fail-stop mode.
/// Checks [S-14.5].
#[test]
fn reserved_kinds_and_acks_in_fail_stop_are_ignored() {
    for link in [fail_stop(), reliable()] {
        let (mut s, _) = up(link);
        for kind in [0u8, 4, 7, 15] {
            let step = s.step(&encode(Header::new(Kind::Unknown(kind), 1, 2, 3), b"\x00\x01\x02"));
            assert!(step.frames.is_empty(), "{step:?}");
            assert_eq!(s.side.link().state(), LinkState::Up);
        }
    }
    let (mut s, _) = up(fail_stop());
    let step = s.step(&ack(3, true));
    assert!(step.frames.is_empty());
    let step = s.step(&data(0, 0, &peer_preface()));
    assert_eq!(step.events.first(), Some(&Event::Connected), "still in step: {step:?}");
}

// =============================================================================
// §14.2, §14.3 SYNC and link sessions
// =============================================================================

/// A SYNC that is short, of another version, or with an MTU or window out
/// of range is ignored: no answer, no state, and the link stays down.
/// Checks [S-14.6].
#[test]
fn out_of_range_syncs_are_ignored() {
    let mut s = Scripted::new(reliable());
    s.drain();
    let good = sync_body(s.peer, Some(s.id()), true, true);
    let cases = [
        (SyncBody { version: 2, ..good }, SyncError::Version),
        (SyncBody { mtu: 79, ..good }, SyncError::Mtu),
        (SyncBody { mtu: 1025, ..good }, SyncError::Mtu),
        (SyncBody { window: 0, ..good }, SyncError::Window),
        (SyncBody { window: 9, ..good }, SyncError::Window),
    ];
    for (body, why) in cases {
        let step = s.step(&sync(&body));
        assert!(step.frames.is_empty(), "{why:?}: {step:?}");
        assert_eq!(step.link_events, vec![LinkEvent::SyncRejected(why)]);
        assert_eq!(s.side.link().state(), LinkState::Syncing);
        assert_eq!(s.side.link().peer_id(), None);
    }
    let short = encode(Header::new(Kind::Sync, 0, 0, 0), &good.to_bytes()[..16]);
    let step = s.step(&short);
    assert!(step.frames.is_empty());
    assert_eq!(step.link_events, vec![LinkEvent::SyncRejected(SyncError::Short)]);
    // Longer bodies are fine (later versions add fields).
    let mut long = good.to_bytes().to_vec();
    long.extend_from_slice(&[1, 2, 3]);
    let step = s.step(&encode(Header::new(Kind::Sync, 0, 0, 0), &long));
    assert_eq!(s.side.link().state(), LinkState::Up, "{step:?}");
}

/// A syncing side sends SYNC with REPLY and repeats it every interval until
/// its link is up, and sends nothing else, though its session has its
/// preface to send.
/// Checks [S-14.7].
#[test]
fn a_syncing_side_repeats_sync_with_reply_and_sends_no_data() {
    let mut s = Scripted::new(reliable());
    let step = s.drain();
    assert_eq!(step.frames.len(), 1);
    let first = step.syncs()[0];
    assert!(first.reply && first.reliable && first.echo.is_none());
    assert_eq!(first.id, LinkId { epoch: 0xA, session: 0 });
    assert_eq!((first.mtu, first.window), (MTU as u16, WINDOW as u8));
    assert_eq!(step.wire[0], 0, "a delimiter first");
    for _ in 0..5 {
        assert!(s.advance(Duration::from_millis(100)).frames.is_empty());
        let step = s.advance(Duration::from_millis(150));
        assert_eq!(step.frames.len(), 1, "{step:?}");
        assert!(step.syncs()[0].reply);
    }
    // A DATA frame or ACK before the link is up is not answered with data.
    let step = s.step(&data(0, 0, &peer_preface()));
    assert!(step.data().is_empty() && step.events.is_empty(), "{step:?}");
}

/// A SYNC with REPLY is answered: with REPLY while syncing, without once
/// up (a repeat of the peer's handshake SYNC is answered again and does not
/// disturb the session); a down side does not answer.
/// Checks [S-14.8].
#[test]
fn a_sync_with_reply_is_answered() {
    let mut s = Scripted::new(reliable());
    s.drain();
    // No echo yet: the answer has REPLY and echoes the peer.
    let step = s.step(&sync(&sync_body(s.peer, None, true, true)));
    let answer = step.syncs();
    assert_eq!(answer.len(), 1);
    assert!(answer[0].reply);
    assert_eq!(answer[0].echo, Some(s.peer));
    // The echo brings it up; the answer has no REPLY.
    let step = s.step(&sync(&sync_body(s.peer, Some(s.id()), true, true)));
    assert_eq!(s.side.link().state(), LinkState::Up);
    assert!(!step.syncs()[0].reply);
    // The same SYNC again (our answer was lost): answered again, still up.
    let step = s.step(&sync(&sync_body(s.peer, Some(s.id()), true, true)));
    assert_eq!(step.syncs().len(), 1);
    assert!(!step.syncs()[0].reply);
    assert_eq!(s.side.link().state(), LinkState::Up);
    // Without REPLY: no answer.
    let step = s.step(&sync(&sync_body(s.peer, Some(s.id()), false, true)));
    assert!(step.syncs().is_empty());
    // Down (the peer started over): no answer to anything.
    let restarted = LinkId { epoch: s.peer.epoch, session: 1 };
    s.step(&sync(&sync_body(restarted, None, true, true)));
    assert_eq!(s.side.link().state(), LinkState::Down);
    let step = s.step(&sync(&sync_body(restarted, None, true, true)));
    assert!(step.frames.is_empty(), "{step:?}");
}

/// The link comes up only on a SYNC that echoes this side's current epoch
/// and session; DATA before that never reaches the session; once up, the
/// session's preface leaves as DATA 0.
/// Checks [S-14.9].
#[test]
fn the_link_comes_up_only_on_an_echo_of_this_side() {
    let mut s = Scripted::new(reliable());
    s.drain();
    let preface = peer_preface();
    for echo in [None, Some(LinkId { epoch: 0xA, session: 1 }), Some(LinkId { epoch: 0xB, session: 0 })] {
        let step = s.step(&sync(&sync_body(s.peer, echo, true, true)));
        assert_eq!(s.side.link().state(), LinkState::Syncing, "{echo:?}");
        assert!(step.data().is_empty());
        s.step(&data(0, 0, &preface));
        assert_eq!(s.side.session().stats().bytes_received, 0);
    }
    let step = s.step(&sync(&sync_body(s.peer, Some(s.id()), false, true)));
    assert_eq!(s.side.link().state(), LinkState::Up);
    assert!(matches!(step.link_events[..], [LinkEvent::Synced { reliable: true, .. }]), "{step:?}");
    let data = step.data();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].header.seq, 0);
    assert!(data[0].body.starts_with(b"BRAID\r\n\x01"));
}

/// A new session is carried by a new link session: restart bumps the
/// session counter and syncs again, and the new session's preface is DATA 0
/// of the new link session.
/// Checks [S-14.10].
#[test]
fn a_new_session_starts_a_new_link_session() {
    let (mut s, _) = up(reliable());
    s.step(&data(0, 1, &peer_preface()));
    let old = s.side.restart(s.now, session(true, s.now));
    assert_eq!(old.close_reason(), None, "restart replaces the session as it is");
    let step = s.drain();
    let syncs = step.syncs();
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0].id, LinkId { epoch: 0xA, session: 1 });
    assert!(syncs[0].reply);
    assert!(step.data().is_empty());
    s.peer.session += 1;
    let step = s.step(&sync(&sync_body(s.peer, Some(s.id()), false, true)));
    let data = step.data();
    assert_eq!(data[0].header.seq, 0);
    assert!(data[0].body.starts_with(b"BRAID\r\n\x01"));
}

/// While up, a SYNC from a new epoch, a new session counter of the peer, or
/// a peer that no longer echoes this side ends the session with a link
/// error; no byte reaches it afterwards.
/// Checks [S-14.11].
#[test]
fn a_peer_that_starts_over_ends_the_session() {
    type MakeSync = fn(&Scripted) -> SyncBody;
    let cases: [(MakeSync, LinkError); 3] = [
        (|_| sync_body(LinkId { epoch: 0xBEEF, session: 0 }, None, true, true), LinkError::PeerRestarted),
        (
            |s| sync_body(LinkId { epoch: s.peer.epoch, session: 1 }, Some(s.id()), true, true),
            LinkError::PeerResynced,
        ),
        (|s| sync_body(s.peer, None, true, true), LinkError::PeerResynced),
    ];
    for (make, want) in cases {
        let (mut s, _) = up(reliable());
        s.step(&data(0, 1, &peer_preface()));
        let received = s.side.session().stats().bytes_received;
        let step = s.step(&sync(&make(&s)));
        assert_eq!(closed_by_link(&step.events), Some(want), "{step:?}");
        assert!(step.link_events.contains(&LinkEvent::Down(want)));
        if want == LinkError::PeerRestarted {
            assert!(step.link_events.contains(&LinkEvent::PeerRestarted { epoch: 0xBEEF }));
        }
        assert_eq!(s.side.link().state(), LinkState::Down);
        s.step(&data(1, 1, &[0, 0, 0, 0x50, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(s.side.session().stats().bytes_received, received);
    }
}

/// Two linked sessions: one side reboots (a new link with a new epoch and a
/// new session) while the other is up; the other detects it, and after its
/// application restarts, a new stream works end to end.
/// Checks [S-14.10], [S-14.11].
#[test]
fn a_rebooted_peer_is_detected_and_both_start_over() {
    let mut pair = LinkPair::new(reliable(), LinkConfig::reliable(0xB), 3);
    pair.connect();
    let mut t = Transfer::new(500, 3);
    assert!(pair.run(5000, |p| {
        t.drive(p);
        t.done()
    }));
    // a reboots.
    pair.a = side(LinkConfig::reliable(0xC), true, pair.now);
    let restarted = pair.run(100, |p| p.b.link().state() == LinkState::Down);
    assert!(restarted);
    assert!(pair.link_events[1].contains(&LinkEvent::PeerRestarted { epoch: 0xC }));
    assert!(pair.link_events[1].contains(&LinkEvent::Down(LinkError::PeerRestarted)));
    let mut events = Vec::new();
    while let Some(e) = pair.b.poll_event() {
        events.push(e);
    }
    assert_eq!(closed_by_link(&events), Some(LinkError::PeerRestarted));
    let now = pair.now;
    let _old = pair.b.restart(now, session(false, now));
    pair.connect();
    let mut t = Transfer::new(2000, 4);
    assert!(pair.run(5000, |p| {
        t.drive(p);
        t.done()
    }));
}

/// A side configured with a smaller MTU than its buffers allow
/// (`LinkConfig::with_mtu`) announces that MTU, and it bounds the DATA
/// bodies it sends though the peer accepts more; values outside 80 to the
/// link's MTU are clamped.
/// Checks [S-14.12].
#[test]
fn a_configured_mtu_is_announced_and_bounds_data_bodies() {
    let mut s = Scripted::new(reliable().with_mtu(96));
    let step = s.drain();
    assert_eq!(step.syncs()[0].mtu, 96);
    let body = sync_body(s.peer, Some(s.id()), false, true);
    assert_eq!(usize::from(body.mtu), MTU, "the peer accepts the most");
    s.step(&sync(&body));
    s.step(&data(0, 0, &peer_preface()));
    assert_eq!(s.side.link().mtu(), 96);
    let id = s.side.session_mut().open().unwrap();
    s.side.session_mut().write(id, &[7u8; 1000]).unwrap();
    let mut seen = 0;
    for _ in 0..40 {
        let step = s.drain();
        for f in step.data() {
            assert!(f.body.len() <= 96, "{}", f.body.len());
            seen += 1;
        }
        if let Some(last) = step.data().last() {
            s.step(&ack((last.header.seq + 1) % 16, false));
        }
    }
    assert!(seen > 5, "{seen}");
    for (asked, announced) in [(10, 80), (5000, MTU as u16)] {
        let mut s = Scripted::new(reliable().with_mtu(asked));
        assert_eq!(s.drain().syncs()[0].mtu, announced);
    }
}

/// The smaller MTU bounds DATA bodies; reliable mode needs both sides to
/// ask for it; a session frame that cannot fit the MTU ends the session.
/// Checks [S-14.12].
#[test]
fn mtu_and_mode_are_negotiated() {
    // The peer accepts at most 80-byte bodies.
    let mut s = Scripted::new(reliable());
    s.drain();
    let body = SyncBody { mtu: 80, ..sync_body(s.peer, Some(s.id()), false, true) };
    s.step(&sync(&body));
    s.step(&data(0, 0, &peer_preface()));
    let id = s.side.session_mut().open().unwrap();
    s.side.session_mut().write(id, &[7u8; 1000]).unwrap();
    let mut seen = 0;
    for round in 0..40u8 {
        let step = s.drain();
        for f in step.data() {
            assert!(f.body.len() <= 80, "{}", f.body.len());
            seen += 1;
        }
        let next = step.data().last().map(|f| (f.header.seq + 1) % 16);
        if let Some(a) = next {
            s.step(&ack(a, false));
        }
        let _ = round;
    }
    assert!(seen > 5);
    // One side asks for fail-stop: fail-stop it is.
    let mut pair = LinkPair::new(reliable(), fail_stop(), 9);
    pair.connect();
    assert!(!pair.a.link().is_reliable() && !pair.b.link().is_reliable());
    assert!(matches!(pair.link_events[0][0], LinkEvent::Synced { reliable: false, window: 1, .. }));
    // A session frame that cannot fit the MTU (here a session allowed
    // 16 KiB frames, opening a stream with 200 bytes of metadata) can
    // never be sent: the session ends.
    let mut pair = LinkPair::new(reliable(), reliable(), 9);
    pair.a = Side::new(reliable(), Session::new(braid::Config::client(), Store::new(), Instant::ZERO));
    pair.b = Side::new(
        LinkConfig::reliable(0xB),
        Session::new(braid::Config::server(), Store::new(), Instant::ZERO),
    );
    pair.connect();
    let mut buf = vec![0u8; 512];
    let block = braid::MetadataWriter::new(&mut buf, 1).unwrap().header(b"k", &[9u8; 200]).unwrap().finish();
    pair.a.session_mut().open_with(block).unwrap();
    pair.round();
    assert_eq!(
        pair.a.session().close_reason().and_then(|r| r.local),
        Some(LocalError::Link(LinkError::FrameTooLarge))
    );
}

/// A sender keeps no more DATA frames unacknowledged than the smaller
/// window.
/// Checks [S-14.13].
#[test]
fn the_window_bounds_unacknowledged_frames() {
    for window in [1u8, 2, 5, 8] {
        let mut s = Scripted::new(reliable());
        s.drain();
        let body = SyncBody { window, ..sync_body(s.peer, Some(s.id()), false, true) };
        let step = s.step(&sync(&body));
        assert_eq!(step.data().len(), 1);
        s.step(&data(0, 1, &peer_preface()));
        let id = s.side.session_mut().open().unwrap();
        s.side.session_mut().write(id, &[1u8; 3000]).unwrap();
        let step = s.drain();
        // The preface's frame is unacknowledged, then the window fills.
        assert_eq!(step.data().len(), usize::from(window) - 1, "window {window}");
        assert_eq!(s.side.link().unacknowledged(), usize::from(window));
        // The peer's first frame acknowledged the preface (Ack 1); the
        // SETTINGS ACK is Seq 1: acknowledging it lets one more go.
        let step = s.step(&ack(2, false));
        assert_eq!(step.data().len(), 1, "one acknowledged, one more");
        assert_eq!(s.side.link().unacknowledged(), usize::from(window));
    }
}

/// DATA frames are numbered 0, 1, 2, … modulo 16, and their bodies in order
/// are the session's byte stream (each body whole session frames): the
/// stream's data read back from them is what was written.
/// Checks [S-14.14].
#[test]
fn data_frames_carry_the_byte_stream_in_sequence() {
    use braid_conformance::peer::parse_frames;
    for link in [fail_stop(), reliable()] {
        let mut pair = LinkPair::new(link, link, 11);
        let mut t = Transfer::new(5000, 11);
        assert!(pair.run(5000, |p| {
            t.drive(p);
            t.done()
        }));
        let mut expect = 0u8;
        let mut stream = Vec::new();
        for f in frames(&pair.sent[0]).into_iter().filter(WireFrame::is_data) {
            assert_eq!(f.header.seq, expect, "{link:?}");
            expect = (expect + 1) % 16;
            let body = if stream.is_empty() { &f.body[8..] } else { &f.body[..] };
            let _whole_frames = parse_frames(body);
            stream.extend_from_slice(&f.body);
        }
        assert!(pair.a.link().stats().frames_retransmitted == 0, "a clean line");
        assert!(stream.starts_with(b"BRAID\r\n\x01"));
        let data: Vec<u8> = parse_frames(&stream[8..])
            .iter()
            .filter(|f| f.stream() == 1)
            .filter_map(|f| f.data_part().map(<[u8]>::to_vec))
            .flatten()
            .collect();
        assert_eq!(data, t.a_to_b);
    }
}

// =============================================================================
// §14.4 Fail-stop mode
// =============================================================================

/// Fail-stop over two linked sessions: a damaged frame ends the receiver's
/// session with `CorruptFrame`, a frame lost whole with `FrameLost`; both
/// sides then start new sessions over a new link session, and a stream
/// works again.
/// Checks [S-14.15], [S-14.10], [S-14.11].
#[test]
fn fail_stop_ends_the_session_and_a_new_one_works() {
    for (fault, want) in [("damage", LinkError::CorruptFrame), ("loss", LinkError::FrameLost)] {
        let mut pair = LinkPair::new(fail_stop(), LinkConfig::fail_stop(0xB), 21);
        pair.connect();
        let mut t = Transfer::new(300, 21);
        assert!(pair.run(2000, |p| {
            t.drive(p);
            t.done()
        }));
        // a sends a frame that gets damaged or lost whole.
        let id = pair.a.session_mut().open().unwrap();
        pair.a.session_mut().write(id, b"doomed").unwrap();
        let mut out = [0u8; 512];
        let n = pair.a.poll_transmit(pair.now, &mut out);
        assert!(n > 0);
        let wire = &mut out[..n];
        if fault == "damage" {
            wire[3] ^= 0x20;
            assert_eq!(pair.b.handle_input(pair.now, wire), n);
        } else {
            // Lost whole; the next frame shows the gap.
            pair.a.session_mut().write(id, b"next").unwrap();
        }
        let ok = pair.run(100, |p| p.b.link().state() == LinkState::Down);
        assert!(ok, "{fault}");
        while let Some(e) = pair.b.poll_link_event() {
            pair.link_events[1].push(e);
        }
        let mut events = Vec::new();
        while let Some(e) = pair.b.poll_event() {
            events.push(e);
        }
        assert_eq!(closed_by_link(&events), Some(want), "{fault}: {events:?}");
        assert!(pair.link_events[1].contains(&LinkEvent::Down(want)));
        // b's application starts a new session; a, still up, sees the new
        // link session, ends its own, and starts a new one too.
        let now = pair.now;
        let _ = pair.b.restart(now, session(false, now));
        let ok = pair.run(100, |p| p.a.link().state() == LinkState::Down);
        assert!(ok);
        while let Some(e) = pair.a.poll_link_event() {
            pair.link_events[0].push(e);
        }
        assert!(pair.link_events[0].contains(&LinkEvent::Down(LinkError::PeerResynced)));
        let _ = pair.a.restart(now, session(true, now));
        pair.connect();
        assert_eq!(pair.a.link().local_id().session, 1);
        assert_eq!(pair.b.link().local_id().session, 1);
        let mut t = Transfer::new(1000, 22);
        assert!(pair.run(3000, |p| {
            t.drive(p);
            t.done()
        }));
    }
}

/// In fail-stop mode noise before the link is up costs nothing, and the
/// sender stores nothing: every frame leaves once, with Ack 0.
/// Checks [S-14.15].
#[test]
fn fail_stop_noise_while_syncing_is_harmless_and_frames_leave_once() {
    let mut s = Scripted::new(fail_stop());
    s.drain();
    s.step(&[0x13, 0x77, 0x00, 0x42, 0x00]);
    let step = s.up(false);
    assert_eq!(s.side.link().state(), LinkState::Up);
    assert!(step.data().iter().all(|f| f.header.ack == 0 && f.header.flags == 0));
    assert_eq!(s.side.link().unacknowledged(), 0);
    assert!(s.advance(Duration::from_secs(5)).data().is_empty(), "nothing is retransmitted");
}

// =============================================================================
// §14.5 Reliable mode
// =============================================================================

/// Only the expected DATA frame reaches the session: one ahead is dropped
/// and answered with an ACK carrying REJ (once per gap), a repeat of one
/// already delivered is dropped and acknowledged again.
/// Checks [S-14.16], [S-14.17].
#[test]
fn the_receiver_takes_only_the_expected_frame() {
    let (mut s, _) = up(reliable());
    let preface = peer_preface();
    let ping = |n: u64| braid_conformance::peer::ping(n);
    // Seq 1 before 0: dropped, ACK 0 with REJ.
    let step = s.step(&data(1, 1, &ping(1)));
    assert_eq!(s.side.session().stats().bytes_received, 0);
    assert_eq!(step.frames.len(), 1);
    assert_eq!(step.frames[0].header, Header::new(Kind::Ack, 0, 0, frame::flags::REJ));
    // Seq 2: still a gap, no second REJ.
    let step = s.step(&data(2, 1, &ping(2)));
    assert_eq!(step.frames[0].header, Header::new(Kind::Ack, 0, 0, 0));
    // Seq 0: delivered; the answer carries Ack 1 (a DATA frame here: the
    // session answers the SETTINGS).
    let step = s.step(&data(0, 1, &preface));
    assert_eq!(s.side.session().stats().bytes_received, preface.len() as u64);
    assert!(step.frames.iter().all(|f| f.header.ack == 1), "{step:?}");
    assert!(!step.frames.is_empty());
    // Seq 0 again: dropped, acknowledged again.
    let step = s.step(&data(0, 1, &preface));
    assert_eq!(s.side.session().stats().bytes_received, preface.len() as u64);
    assert_eq!(step.frames.last().map(|f| f.header.ack), Some(1));
    let step = s.step(&data(1, 1, &ping(1)));
    assert_eq!(s.side.session().stats().bytes_received, (preface.len() + 16) as u64);
    assert!(step.frames.iter().all(|f| f.header.ack == 2), "{step:?}");
}

/// Every DATA frame received is acknowledged with the next Seq expected,
/// by a later DATA frame or by an ACK, within the ack delay of its arrival
/// once the line is quiet; Acks never go backwards.
/// Checks [S-14.17].
#[test]
fn every_data_frame_is_acknowledged() {
    let mut pair = LinkPair::new(reliable(), reliable(), 31);
    let mut t = Transfer::new(6000, 31);
    assert!(pair.run(5000, |p| {
        t.drive(p);
        t.done()
    }));
    // Quiet line: whatever is still unacknowledged is within the delay.
    let delay = reliable().ack_delay;
    let quiet = pair.now;
    assert!(pair.run(1000, |p| p.a.link().unacknowledged() == 0 && p.b.link().unacknowledged() == 0));
    assert!(pair.now <= quiet + delay + Duration::from_millis(2), "acknowledged within the ack delay");
    let mut expected = 0u8;
    let b_in = frames(&pair.received[1]);
    let b_out = frames(&pair.sent[1]);
    let data_in = b_in.iter().filter(|f| f.is_data()).count();
    let acks: Vec<u8> = b_out
        .iter()
        .filter(|f| matches!(f.header.kind, Kind::Data | Kind::Ack))
        .map(|f| f.header.ack)
        .collect();
    for f in b_in.iter().filter(|f| f.is_data()) {
        expected = (f.header.seq + 1) % 16;
    }
    assert_eq!(acks.last(), Some(&expected));
    assert!(acks.len() >= data_in / 4, "acknowledgements flow");
    // Acks never go backwards on a clean line.
    let mut last = 0u8;
    for a in acks {
        assert!((a.wrapping_sub(last)) % 16 <= 8);
        last = a;
    }
}

/// A scripted reliable side whose link is up with `window` and whose
/// session is connected, with nothing unacknowledged either way: the next
/// DATA frame the script sends has Seq 1.
fn quiet_up(link: LinkConfig, window: u8) -> Scripted {
    let mut s = Scripted::new(link);
    s.drain();
    let body = SyncBody { window, ..sync_body(s.peer, Some(s.id()), false, true) };
    let step = s.step(&sync(&body));
    assert_eq!(s.side.link().state(), LinkState::Up);
    assert_eq!(step.data().len(), 1, "the preface and SETTINGS");
    // The peer's preface and SETTINGS, acknowledging ours; the SETTINGS ACK
    // that answers it carries the Ack.
    let step = s.step(&data(0, 1, &peer_preface()));
    assert!(step.data().iter().all(|f| f.header.ack == 1), "{step:?}");
    let sent = 1 + step.data().len() as u8;
    let step = s.step(&ack(sent, false));
    assert!(step.frames.is_empty(), "{step:?}");
    assert_eq!(s.side.link().unacknowledged(), 0);
    s
}

/// A DATA frame whose body the side's session takes without answering: a
/// PING ACK that matches no PING (spec.md §11.2).
fn silent(seq: u8, flags: u8) -> Vec<u8> {
    encode(Header::new(Kind::Data, seq, 0, flags), &braid_conformance::peer::ping_ack(u64::from(seq)))
}

/// The ACK frames of a step.
fn acks_in(step: &Step) -> Vec<Header> {
    step.frames.iter().filter(|f| f.header.kind == Kind::Ack).map(|f| f.header).collect()
}

/// Count trigger: a receiver that only receives acknowledges at once when
/// half the window (rounded up) of accepted frames is unacknowledged, not
/// before: every frame with a window of 1 or 2, every 2nd with 3 or 4,
/// every 4th with 8.
/// Checks [S-14.17].
#[test]
fn acknowledgements_are_sent_every_half_window() {
    for window in 1u8..=8 {
        let half = usize::from(window).div_ceil(2);
        let mut s = quiet_up(reliable(), window);
        assert_eq!(s.side.link().window(), usize::from(window));
        for k in 1..=(3 * half) {
            let seq = k as u8 % 16;
            let step = s.step(&silent(seq, 0));
            let acks = acks_in(&step);
            assert!(step.data().is_empty(), "the session stays silent");
            if k % half == 0 {
                assert_eq!(
                    acks,
                    [Header::new(Kind::Ack, 0, (seq + 1) % 16, 0)],
                    "window {window}, frame {k}"
                );
            } else {
                assert!(acks.is_empty(), "window {window}, frame {k}: {acks:?}");
            }
        }
    }
}

/// Delay trigger: fewer frames than half the window are acknowledged when
/// the ack delay has passed since the first of them arrived, a deadline
/// poll_timeout names; a DATA frame sent meanwhile carries the Ack instead.
/// Checks [S-14.17].
#[test]
fn acknowledgements_wait_at_most_the_ack_delay() {
    let delay = Duration::from_millis(30);
    let mut s = quiet_up(reliable().with_ack_delay(delay), 8);
    let t0 = s.now;
    assert!(acks_in(&s.step(&silent(1, 0))).is_empty());
    s.now += Duration::from_millis(20);
    assert!(acks_in(&s.step(&silent(2, 0))).is_empty());
    // The deadline runs from the first unacknowledged frame, not the last.
    assert_eq!(s.side.poll_timeout(), Some(t0 + delay));
    assert!(acks_in(&s.advance(Duration::from_millis(9))).is_empty());
    let step = s.advance(Duration::from_millis(1));
    assert_eq!(s.now, t0 + delay);
    assert_eq!(acks_in(&step), [Header::new(Kind::Ack, 0, 3, 0)]);
    assert!(acks_in(&s.advance(Duration::from_millis(90))).is_empty(), "nothing more is owed");
    // A DATA frame of the side's own carries the Ack: no ACK follows.
    assert!(acks_in(&s.step(&silent(3, 0))).is_empty());
    let id = s.side.session_mut().open().unwrap();
    s.side.session_mut().write(id, b"reply").unwrap();
    let step = s.drain();
    assert_eq!(step.data().len(), 1);
    assert_eq!(step.data()[0].header.ack, 4);
    assert!(acks_in(&s.advance(Duration::from_millis(60))).is_empty());
    // An ack delay of zero acknowledges each input at once.
    let mut s = quiet_up(reliable().with_ack_delay(Duration::ZERO), 8);
    assert_eq!(acks_in(&s.step(&silent(1, 0))), [Header::new(Kind::Ack, 0, 2, 0)]);
}

/// Discard trigger: a duplicate or a frame ahead of the expected one is
/// answered at once (with REJ for the first frame past a gap), whatever
/// the count and the delay.
/// Checks [S-14.16], [S-14.17].
#[test]
fn a_discarded_frame_is_acknowledged_at_once() {
    let mut s = quiet_up(reliable(), 8);
    assert!(acks_in(&s.step(&silent(1, 0))).is_empty());
    // A repeat of Seq 1: discarded, and everything up to it acknowledged.
    assert_eq!(acks_in(&s.step(&silent(1, 0))), [Header::new(Kind::Ack, 0, 2, 0)]);
    // Seq 3 before 2: discarded, REJ at once.
    assert_eq!(acks_in(&s.step(&silent(3, 0))), [Header::new(Kind::Ack, 0, 2, frame::flags::REJ)]);
    assert_eq!(acks_in(&s.step(&silent(4, 0))), [Header::new(Kind::Ack, 0, 2, 0)]);
    // The gap closes: the count starts over.
    assert!(acks_in(&s.step(&silent(2, 0))).is_empty());
    assert_eq!(s.side.link().stats().frames_dropped, 3);
}

/// POLL: a receiver answers a DATA frame with POLL at once; a sender sets
/// POLL on the frame that fills its window (each frame with a window of 1)
/// and on no other, retransmissions included.
/// Checks [S-14.17], [S-14.13].
#[test]
fn a_full_window_asks_for_its_ack_at_once() {
    let mut s = quiet_up(reliable(), 8);
    assert_eq!(acks_in(&s.step(&silent(1, frame::flags::POLL))), [Header::new(Kind::Ack, 0, 2, 0)]);
    for window in [1u8, 2, 3, 8] {
        let mut s = quiet_up(reliable(), window);
        let id = s.side.session_mut().open().unwrap();
        s.side.session_mut().write(id, &[7u8; 2000]).unwrap();
        let step = s.drain();
        let sent = step.data();
        assert_eq!(sent.len(), usize::from(window), "window {window}");
        for (i, f) in sent.iter().enumerate() {
            let poll = f.header.flags & frame::flags::POLL != 0;
            assert_eq!(poll, i + 1 == usize::from(window), "window {window}, frame {i}");
        }
        // Go back: the frame that fills the window asks again.
        let again = s.advance(reliable().retransmit_timeout);
        let resent = again.data();
        assert_eq!(resent.len(), usize::from(window));
        assert!(resent.last().is_some_and(|f| f.header.flags & frame::flags::POLL != 0));
        assert_eq!(resent.iter().filter(|f| f.header.flags & frame::flags::POLL != 0).count(), 1);
    }
}

/// Window 1 is stop-and-wait: each DATA frame is acknowledged at once, by
/// the count (half of 1 is 1) as much as by its POLL, and a transfer over
/// a clean line never waits for the ack delay or a timeout.
/// Checks [S-14.17], [S-14.13].
#[test]
fn window_one_acknowledges_every_frame_at_once() {
    let mut s = quiet_up(reliable(), 1);
    for seq in 1..20u8 {
        assert_eq!(acks_in(&s.step(&silent(seq % 16, 0))).len(), 1, "seq {seq}");
    }
    let link = LinkConfig::reliable(0xA).with_window(1);
    let mut pair = LinkPair::new(link, LinkConfig::reliable(0xB).with_window(1), 51);
    let mut t = Transfer::new(3000, 51);
    assert!(pair.run(5000, |p| {
        t.drive(p);
        t.done()
    }));
    assert_eq!(pair.a.link().stats().frames_retransmitted + pair.b.link().stats().frames_retransmitted, 0);
    // 3000 bytes at 128 per frame is 24 frames; a round trip per frame is
    // 2 ms here, well under the 50 ms an ack delay would add to each.
    assert!(pair.now < Instant::ZERO + Duration::from_millis(400), "{:?}", pair.now);
}

/// No stall with losses: over seeded noisy lines, with every window from
/// 1 to 8 and ack delays from 0 to above the retransmission timeout,
/// delayed acknowledgements never leave a transfer waiting for good (a
/// lost POLL, a lost Ack, a lost last frame): both directions arrive whole
/// and no session ends.
/// Checks [S-14.17], [S-14.19].
#[test]
fn delayed_acknowledgements_never_stall_a_lossy_line() {
    let seeds: u64 = std::env::var("LINK_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    for seed in 0..seeds {
        let mut rng = Rng::new(seed ^ 0xACC);
        let window = 1 + rng.below(8) as u8;
        let delay = Duration::from_millis(rng.below(120));
        let config = |epoch| {
            LinkConfig::reliable(epoch)
                .with_window(window)
                .with_ack_delay(delay)
                .with_retransmit(Duration::from_millis(100), 30)
        };
        let mut pair = LinkPair::new(config(0xA), config(0xB), seed);
        for f in &mut pair.faults {
            *f = Faults {
                bit_error: rng.below(1000) as u32,
                drop: rng.below(100_000) as u32,
                duplicate: rng.below(20_000) as u32,
                truncate: rng.below(50_000) as u32,
                garbage: 0,
            };
        }
        let mut t = Transfer::new(1000 + rng.below(3000) as usize, seed);
        let done = pair.run(200_000, |p| {
            t.drive(p);
            t.done()
        });
        let why = format!("seed {seed}: window {window}, ack delay {delay:?}, faults {:?}", pair.faults);
        assert!(done, "{why}");
        assert_eq!(t.read(1), &t.a_to_b[..], "{why}");
        assert_eq!(t.read(0), &t.b_to_a[..], "{why}");
        assert!(closed_by_link(&t.events[0]).is_none() && closed_by_link(&t.events[1]).is_none(), "{why}");
        // And everything ends acknowledged.
        assert!(
            pair.run(10_000, |p| p.a.link().unacknowledged() == 0 && p.b.link().unacknowledged() == 0),
            "{why}"
        );
    }
}

/// The sender keeps unacknowledged frames and sends them again with the
/// same Seq and body; an Ack for frames never sent is ignored.
/// Checks [S-14.18], [S-14.19].
#[test]
fn the_timeout_sends_every_unacknowledged_frame_again() {
    let (mut s, _) = up(reliable());
    // The peer's first frame acknowledges our preface (Ack 1); our session
    // answers its SETTINGS with a SETTINGS ACK: Seq 1.
    let step = s.step(&data(0, 1, &peer_preface()));
    let mut outstanding: Vec<WireFrame> = step.data().into_iter().cloned().collect();
    assert_eq!(outstanding.len(), 1);
    let id = s.side.session_mut().open().unwrap();
    s.side.session_mut().write(id, &[3u8; 400]).unwrap();
    outstanding.extend(s.drain().data().into_iter().cloned());
    let n = outstanding.len();
    assert!(n >= 4, "{outstanding:?}");
    assert_eq!(outstanding[0].header.seq, 1);
    // An ack of frames never sent changes nothing.
    s.step(&ack((n as u8 + 4) % 16, false));
    assert_eq!(s.side.link().unacknowledged(), n);
    // Ack the first: the rest stays (and one more frame may go).
    let step = s.step(&ack(2, false));
    outstanding.extend(step.data().into_iter().cloned());
    let n = outstanding.len();
    assert_eq!(s.side.link().unacknowledged(), n - 1);
    assert!(s.advance(Duration::from_millis(249)).data().is_empty());
    let again = s.advance(Duration::from_millis(1));
    let resent: Vec<&WireFrame> = again.data();
    assert_eq!(resent.len(), n - 1, "{again:?}");
    for (r, o) in resent.iter().zip(&outstanding[1..]) {
        assert_eq!((r.header.seq, &r.body), (o.header.seq, &o.body));
    }
    assert_eq!(s.side.link().stats().frames_retransmitted as usize, n - 1);
    // A REJ sends them again at once.
    let step = s.step(&ack(2, true));
    assert_eq!(step.data().len(), n - 1);
    assert_eq!(step.data()[0].header.seq, 2);
}

/// A peer that never acknowledges ends the session with `RetryLimit` after
/// the configured rounds.
/// Checks [S-14.20].
#[test]
fn the_retry_limit_ends_the_session() {
    let link = reliable().with_retransmit(Duration::from_millis(100), 3);
    let (mut s, _) = up(link);
    let mut rounds = 0;
    let mut events = Vec::new();
    for _ in 0..10 {
        let step = s.advance(Duration::from_millis(100));
        if !step.data().is_empty() {
            rounds += 1;
        }
        events.extend(step.events);
        if s.side.link().state() == LinkState::Down {
            break;
        }
    }
    assert_eq!(rounds, 3);
    assert_eq!(closed_by_link(&events), Some(LinkError::RetryLimit));
    assert_eq!(s.side.poll_link_event(), None);
}

/// Seeded runs over a line with bit errors, lost and repeated spans,
/// truncated frames and garbage: in reliable mode both directions of a
/// stream arrive exactly as written, byte for byte, and no session ends.
/// Checks [S-14.3], [S-14.16], [S-14.18], [S-14.19].
#[test]
fn reliable_mode_repairs_a_noisy_line() {
    let seeds: u64 = std::env::var("LINK_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut totals = [0u64; 4];
    for seed in 0..seeds {
        let mut rng = Rng::new(seed);
        let mut pair = LinkPair::new(
            reliable().with_retransmit(Duration::from_millis(50), 30),
            LinkConfig::reliable(0xB).with_retransmit(Duration::from_millis(50), 30),
            seed,
        );
        let rate = |rng: &mut Rng, max: u64| rng.below(max) as u32;
        for f in &mut pair.faults {
            *f = Faults {
                bit_error: rate(&mut rng, 2000),
                drop: rate(&mut rng, 100_000),
                duplicate: rate(&mut rng, 40_000),
                truncate: rate(&mut rng, 100_000),
                garbage: rate(&mut rng, 40_000),
            };
        }
        let mut t = Transfer::new(2000 + rng.below(4000) as usize, seed);
        let done = pair.run(200_000, |p| {
            t.drive(p);
            t.done()
        });
        let why = format!(
            "seed {seed} (LINK_SEEDS={}): faults {:?}; a {:?} b {:?}; events {:?}",
            seed + 1,
            pair.faults,
            pair.a.link().stats(),
            pair.b.link().stats(),
            t.events
        );
        assert!(done, "{why}");
        assert_eq!(t.read(1), &t.a_to_b[..], "{why}");
        assert_eq!(t.read(0), &t.b_to_a[..], "{why}");
        assert!(closed_by_link(&t.events[0]).is_none() && closed_by_link(&t.events[1]).is_none(), "{why}");
        for st in [pair.a.link().stats(), pair.b.link().stats()] {
            totals[0] += u64::from(st.frames_corrupt + st.frames_oversize);
            totals[1] += u64::from(st.frames_retransmitted);
            totals[2] += u64::from(st.frames_dropped);
            totals[3] += u64::from(st.session_bytes_received);
        }
    }
    eprintln!(
        "over {seeds} seeds: {} frames discarded, {} retransmitted, {} dropped, {} session bytes",
        totals[0], totals[1], totals[2], totals[3]
    );
    // The line was noisy and the link repaired it.
    assert!(totals[0] > seeds && totals[1] > seeds, "{totals:?}");
}

/// The efficiency of the link with 128-byte session DATA frames: stream
/// bytes over line bytes, measured on a one-way bulk transfer.
#[test]
fn link_efficiency_with_128_byte_frames() {
    let mut pair = LinkPair::new(reliable(), reliable(), 41);
    pair.connect();
    let base = pair.a.link().stats().bytes_sent;
    let mut t = Transfer::new(64 * 1024, 41);
    t.b_to_a.clear();
    assert!(pair.run(50_000, |p| {
        t.drive(p);
        t.done()
    }));
    let line = f64::from(pair.a.link().stats().bytes_sent - base);
    let efficiency = t.a_to_b.len() as f64 / line;
    eprintln!("link_efficiency_128 {efficiency:.3}");
    assert!(efficiency >= 0.85, "{efficiency}");
    assert!((frame::max_wire_len(136) as f64 - 144.0).abs() < f64::EPSILON);
}

/// Fail-stop over a noisy line, many seeds: sessions end and start over
/// again and again, and in every one of them each side reads only bytes
/// that were written, in order (a prefix of them); some transfers complete.
/// Checks [S-14.3], [S-14.15], [S-14.10], [S-14.11].
#[test]
fn fail_stop_never_delivers_a_damaged_byte() {
    use braid::SessionState;
    let seeds: u64 = std::env::var("LINK_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200) / 4;
    let (mut completed, mut failed) = (0, 0);
    for seed in 0..seeds {
        let mut rng = Rng::new(seed ^ 0xF5);
        let mut pair = LinkPair::new(fail_stop(), LinkConfig::fail_stop(0xB), seed);
        for f in &mut pair.faults {
            *f = Faults {
                bit_error: rng.below(300) as u32,
                drop: rng.below(20_000) as u32,
                duplicate: rng.below(20_000) as u32,
                truncate: rng.below(20_000) as u32,
                garbage: rng.below(20_000) as u32,
            };
        }
        for incarnation in 0..6u64 {
            let mut t = Transfer::new(1500, seed * 16 + incarnation);
            // Transfer::drive panics if a side reads a byte never written.
            pair.run(20_000, |p| {
                t.drive(p);
                t.done()
                    || p.a.session().state() == SessionState::Closed
                    || p.b.session().state() == SessionState::Closed
            });
            if t.done() {
                completed += 1;
            } else {
                failed += 1;
            }
            // The applications start over, each with a new session, and
            // again whenever one ends before both are connected.
            let now = pair.now;
            let _ = pair.a.restart(now, session(true, now));
            let _ = pair.b.restart(now, session(false, now));
            let connected = pair.run(100_000, |p| {
                for (i, client) in [(0, true), (1, false)] {
                    if p.side(i).session().state() == SessionState::Closed {
                        let now = p.now;
                        let _ = p.side(i).restart(now, session(client, now));
                    }
                }
                p.a.session().peer_settings().is_some() && p.b.session().peer_settings().is_some()
            });
            assert!(connected, "seed {seed}: no new session");
        }
    }
    eprintln!("fail-stop: {completed} transfers completed, {failed} ended by the line");
    assert!(completed > 0 && failed > 0, "{completed} / {failed}");
}

/// A session whose trace queue is full takes fewer bytes: the link keeps
/// the rest of the frame and stops consuming input until the trace is
/// drained, then delivers everything once and in order.
#[test]
fn a_stalled_session_holds_the_link_input_back() {
    let mut s = Scripted::new(reliable());
    let config = session_config(true).with_trace(true);
    let _ = s.side.restart(Instant::ZERO, Session::new(config, Store::new(), Instant::ZERO));
    s.up(true);
    let mut peer = session(false, Instant::ZERO);
    let mut out = [0u8; 4096];
    let n = peer.poll_transmit(Instant::ZERO, &mut out);
    let mut input = data(0, 1, &out[..n]);
    // Many small session frames (PING ACKs that match nothing are ignored),
    // each traced.
    for seq in 1..15u8 {
        let pings: Vec<u8> = (0..8u64).flat_map(braid_conformance::peer::ping_ack).collect();
        input.extend(data(seq, 1, &pings));
    }
    let total: u64 = 52 + 14 * 8 * 16;
    let mut rest = &input[..];
    let mut stalls = 0;
    while !rest.is_empty() {
        let used = s.side.handle_input(s.now, rest);
        if used < rest.len() {
            stalls += 1;
        }
        rest = &rest[used..];
        while s.side.session_mut().poll_trace().is_some() {}
        assert!(stalls < 1000);
    }
    while s.side.session_mut().poll_trace().is_some() {}
    let _ = s.side.handle_input(s.now, &[]);
    assert!(stalls > 0, "the trace queue filled");
    assert_eq!(s.side.session().stats().bytes_received, total);
    assert_eq!(s.side.link().stats().session_bytes_received as u64, total);
    assert_eq!(s.side.session().close_reason(), None);
}
