//! Hostile peers: a curated table of attacks, each played by the scripted
//! raw peer ([`crate::peer`]) against one real [`braid::Session`], with a
//! documented bound on what the attack may cost the session.
//!
//! This is not a second conformance suite (`tests/s*.rs` check each rule
//! once, with the smallest input that breaks it). Each case here is an
//! *attack*: a flood, an oversized frame, a peer that never reads, a peer
//! that takes every byte of memory it was promised. It is played at scale,
//! and every case checks the same four things:
//!
//! 1. **The answer**: the session ends with the error code spec.md §9.3
//!    gives the violation, in its last GOAWAY, and with the matching
//!    [`CloseReason`] (or, for the few attacks a session must simply
//!    absorb, it stays open and answers a PING). After the end it is deaf
//!    and mute ([`expect_deaf_and_mute`]).
//! 2. **Bounded work**: the attacker's frames and bytes the session
//!    processed until the end are counted (feeding frame by frame, so the
//!    count stops at the frame that ended it) and must stay within the
//!    case's [`Bound`], documented on each case with its formula.
//! 3. **Bounded memory**: after every frame, `streams_in_use()` is within
//!    the storage's slots; every live stream's buffered bytes are within
//!    its buffers and within the window plus metadata block this side
//!    announced; no receive window is ever above what was announced
//!    (victims run with window growth off, so announced means initial);
//!    for growable storage the heap its buffers hold is within the slots
//!    in use times their capacities.
//! 4. **Other sessions unaffected**: a healthy client/server
//!    [`Pair`] (the bystander) runs alongside in the
//!    same process, stepping between the attack's steps, its bytes checked
//!    one by one; after every case it must still open a stream, move data
//!    both ways, close it cleanly and answer a PING.
//!
//! [`run_all`] runs the table ([`CASES`]) in order, each case on its own
//! thread under a watchdog so that a panic or a hang in the engine is
//! reported as that case's failure. A case that fails because of a known
//! engine bug is listed in [`KNOWN_ENGINE_BUGS`]: it keeps asserting the
//! right behaviour, and is reported as failing, never skipped.
#![warn(missing_docs)]

use crate::peer::{
    block_of, credit, data, expect_alive, expect_deaf_and_mute, expect_protocol_error, goaway, handshake,
    header, meta_payload, ping, ping_ack, preface, raw, rst, settings, settings_with, split_frames, syn, ty,
    wndinc, Drained, Harness, Out, Store, CAPACITY as STORE_SLOTS, RX as STORE_RX, TX as STORE_TX, WHOLE,
    WINDOW as STORE_WINDOW,
};
use braid::frame::{flags, FrameType, Settings, MAX_PAYLOAD, MAX_WINDOW};
use braid::pair::Pair;
use braid::{
    AcceptError, ArrayStorage, CloseReason, Config, Duration, ErrorCode, Event, LocalError, ProtocolError,
    ReadError, SessionState, Storage, StreamId, VecStorage, WriteError,
};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

/// The flood budget of every victim: `Config::flood_burst`, the default.
pub const BURST: u64 = 1000;

/// Wall-clock time one case may take before it is reported hung.
const CASE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Stack for the case threads: the victims' fixed storages live inline.
const CASE_STACK: usize = 64 << 20;

/// Bytes of a PING, WNDINC or RST frame (header and payload).
const PING_BYTES: u64 = 16;
/// Bytes of a WNDINC or RST frame.
const SMALL_BYTES: u64 = 12;
/// Bytes of a frame header.
const HEADER_BYTES: u64 = 8;

// =============================================================================
// The table
// =============================================================================

/// How a case must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The code of the last GOAWAY the session sends; `None`: it must send
    /// no GOAWAY at all.
    pub goaway: Option<ErrorCode>,
    /// The session's close reason at the end; `None`: it must survive the
    /// attack (still open, answering a PING).
    pub close: Option<CloseReason>,
}

impl Expect {
    /// The session detects `e`, sends a GOAWAY with `code` (spec.md §9.3)
    /// and ends with [`LocalError::Protocol`].
    #[must_use]
    pub const fn violation(e: ProtocolError, code: ErrorCode) -> Expect {
        Expect {
            goaway: Some(code),
            close: Some(CloseReason { local: Some(LocalError::Protocol(e)), remote: None }),
        }
    }

    /// The session ends with `close`, its last GOAWAY (if any) carrying `goaway`.
    #[must_use]
    pub const fn ends(goaway: Option<ErrorCode>, close: CloseReason) -> Expect {
        Expect { goaway, close: Some(close) }
    }

    /// The session absorbs the attack: no GOAWAY, still open.
    pub const SURVIVES: Expect = Expect { goaway: None, close: None };
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.goaway {
            Some(code) => write!(f, "GOAWAY {code}")?,
            None => f.write_str("no GOAWAY")?,
        }
        match self.close {
            Some(CloseReason { local: Some(LocalError::Protocol(e)), remote: None }) => {
                write!(f, " ({})", e.as_str())
            }
            Some(reason) => write!(f, "; ends: {reason}"),
            None => f.write_str("; survives"),
        }
    }
}

/// The most attacker input the session may process in a case: until the
/// end for a case that ends the session, in all for one it survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// Frames (a header counts as a frame as soon as it is fed).
    pub frames: u64,
    /// Bytes.
    pub bytes: u64,
}

/// One attack of the table.
pub struct Case {
    /// The case's name.
    pub name: &'static str,
    /// The attack, in one line.
    pub attack: &'static str,
    /// How the session must end.
    pub expect: Expect,
    /// The most attacker input the session may process.
    pub bound: Bound,
    run: fn(&mut Ctx),
}

/// A case that fails because of a bug in the engine (which another
/// engineer owns): the case keeps asserting the right behaviour; the runner
/// reports it as failing (never skips it), and fails if it starts passing,
/// so that the list stays true.
#[derive(Clone, Copy, Debug)]
pub struct KnownBug {
    /// The case's name in [`CASES`].
    pub case: &'static str,
    /// What the engine does wrong, and where.
    pub diagnosis: &'static str,
}

/// The cases of [`CASES`] that fail because of a known engine bug.
pub const KNOWN_ENGINE_BUGS: &[KnownBug] = &[];

/// Every attack, in the order [`run_all`] plays them.
pub const CASES: &[Case] = &[
    Case {
        name: "ping_flood_paced",
        attack: "PINGs at 1100/s, 10% above the 1000/s refill, until the budget runs dry",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound { frames: PACED_BOUND, bytes: PACED_BOUND * PING_BYTES },
        run: ping_flood_paced,
    },
    Case {
        name: "settings_flood",
        attack: "1000 SETTINGS frames back to back after the handshake",
        expect: Expect::violation(ProtocolError::SettingsRepeated, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES + 36 },
        run: settings_flood,
    },
    Case {
        name: "wndinc_stream_flood_after_banking",
        attack: "half the budget in PINGs, 512 DATA frames drawn from the session, then stream WNDINCs",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound {
            frames: BANK_PINGS + 1 + BURST + 1,
            bytes: BANK_PINGS * PING_BYTES + HEADER_BYTES + (BURST + 1) * SMALL_BYTES,
        },
        run: wndinc_stream_flood_after_banking,
    },
    Case {
        name: "wndinc_session_and_credit_flood",
        attack: "session WNDINCs and CREDIT WNDINCs of 1, answering no data",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound { frames: BURST + 1, bytes: (BURST + 1) * SMALL_BYTES },
        run: wndinc_session_and_credit_flood,
    },
    Case {
        name: "rapid_reset_full_credit",
        attack: "open every stream the credit allows and reset them all before accept, again and again",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound {
            frames: 2 * (BURST + 1) + RAPID_CREDIT,
            bytes: (2 * (BURST + 1) + RAPID_CREDIT) * SMALL_BYTES,
        },
        run: rapid_reset_full_credit,
    },
    Case {
        name: "rst_storm_for_forgotten_streams",
        attack: "RSTs cycling over 32 streams that are over and forgotten",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound { frames: BURST + 1, bytes: (BURST + 1) * SMALL_BYTES },
        run: rst_storm_for_forgotten_streams,
    },
    Case {
        name: "empty_data_flood",
        attack: "empty DATA frames without flags, alternating over two live streams",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound { frames: BURST + 1, bytes: (BURST + 1) * HEADER_BYTES },
        run: empty_data_flood,
    },
    Case {
        name: "tiny_data_frames",
        attack: "1-byte DATA frames on one stream whose application never reads",
        expect: Expect::violation(ProtocolError::FlowControl, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound {
            frames: 1 + STORE_WINDOW as u64 + 1,
            bytes: HEADER_BYTES + (STORE_WINDOW as u64 + 1) * (HEADER_BYTES + 1),
        },
        run: tiny_data_frames,
    },
    Case {
        name: "unknown_type_flood",
        attack: "frames of unknown types 6..15, each of the largest allowed size",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound { frames: BURST + 1, bytes: (BURST + 1) * (HEADER_BYTES + MAX_FRAME) },
        run: unknown_type_flood,
    },
    Case {
        name: "oversized_data_frame",
        attack: "a DATA header announcing 2^24-1 bytes on a live stream, then 1 MiB of payload",
        expect: Expect::violation(ProtocolError::FrameTooLarge, ErrorCode::FRAME_SIZE_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES },
        run: oversized_data_frame,
    },
    Case {
        name: "oversized_syn_frame",
        attack: "a SYN header announcing 2^24-1 bytes, then 1 MiB of payload",
        expect: Expect::violation(ProtocolError::FrameTooLarge, ErrorCode::FRAME_SIZE_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES },
        run: oversized_syn_frame,
    },
    Case {
        name: "syn_body_beyond_window",
        attack:
            "a SYN within MAX_FRAME_SIZE whose body is the stream window plus one (yamux GHSA-vxx9-2994-q338)",
        expect: Expect::violation(ProtocolError::FlowControl, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES },
        run: syn_body_beyond_window,
    },
    Case {
        name: "syn_meta_body_beyond_window",
        attack: "a SYN with metadata whose data part is the stream window plus one",
        expect: Expect::violation(ProtocolError::FlowControl, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES + 2 },
        run: syn_meta_body_beyond_window,
    },
    Case {
        name: "oversized_metadata",
        attack: "a SYN announcing a 65535-byte metadata block in a frame large enough to hold it",
        expect: Expect::violation(ProtocolError::MetadataTooLarge, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES + 2 },
        run: oversized_metadata,
    },
    Case {
        name: "oversized_settings_frame",
        attack: "a first SETTINGS header announcing 2^24-1 bytes, then 1 MiB",
        expect: Expect::violation(ProtocolError::BadFrameLength, ErrorCode::FRAME_SIZE_ERROR),
        bound: Bound { frames: 1, bytes: 8 + HEADER_BYTES },
        run: oversized_settings_frame,
    },
    Case {
        name: "bad_preface",
        attack: "an HTTP/2 client preface and SETTINGS instead of braid's preface",
        expect: Expect::violation(ProtocolError::BadPreface, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 0, bytes: 8 },
        run: bad_preface,
    },
    Case {
        name: "truncated_preface_eof",
        attack: "6 bytes of the preface, then end of input",
        expect: Expect::ends(None, CloseReason { local: Some(LocalError::TransportEof), remote: None }),
        bound: Bound { frames: 0, bytes: 6 },
        run: truncated_preface_eof,
    },
    Case {
        name: "handshake_slowloris",
        attack: "a valid preface and SETTINGS dribbled one byte per second",
        expect: Expect::ends(
            Some(ErrorCode::NO_ERROR),
            CloseReason { local: Some(LocalError::HandshakeTimeout), remote: None },
        ),
        bound: Bound { frames: 0, bytes: HANDSHAKE_SECS },
        run: handshake_slowloris,
    },
    Case {
        name: "wrong_parity_syn",
        attack: "a SYN with the session's own parity, at the highest id, 16 KiB announced",
        expect: Expect::violation(ProtocolError::WrongParity, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES },
        run: wrong_parity_syn,
    },
    Case {
        name: "reused_id_after_forget",
        attack: "a SYN that reuses the id of a stream that is over and forgotten",
        expect: Expect::violation(ProtocolError::StreamReused, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES },
        run: reused_id_after_forget,
    },
    Case {
        name: "duplicate_syn_on_live_stream",
        attack: "a second SYN for a live stream with data buffered, to replace it",
        expect: Expect::violation(ProtocolError::DuplicateSyn, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES },
        run: duplicate_syn_on_live_stream,
    },
    Case {
        name: "data_for_idle_id",
        attack: "16 KiB of DATA for id 2^31-1, which was never opened",
        expect: Expect::violation(ProtocolError::IdleStream, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 1, bytes: HEADER_BYTES },
        run: data_for_idle_id,
    },
    Case {
        name: "stream_window_overflow",
        attack: "announce a stream window of 2^31-1, then a stream WNDINC of 1",
        expect: Expect::violation(ProtocolError::WindowOverflow, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound { frames: 1, bytes: SMALL_BYTES },
        run: stream_window_overflow,
    },
    Case {
        name: "session_window_overflow",
        attack: "announce a session window of 2^31-1, then a session WNDINC of 1",
        expect: Expect::violation(ProtocolError::WindowOverflow, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound { frames: 1, bytes: SMALL_BYTES },
        run: session_window_overflow,
    },
    Case {
        name: "credit_overflow",
        attack: "announce a stream credit of 2^31-1, then a CREDIT WNDINC of 1",
        expect: Expect::violation(ProtocolError::WindowOverflow, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound { frames: 1, bytes: SMALL_BYTES },
        run: credit_overflow,
    },
    Case {
        name: "credit_exceeded_syn_storm",
        attack: "1000 SYNs back to back against a stream credit of 2",
        expect: Expect::violation(ProtocolError::CreditExceeded, ErrorCode::PROTOCOL_ERROR),
        bound: Bound { frames: 3, bytes: 3 * (HEADER_BYTES + 1) },
        run: credit_exceeded_syn_storm,
    },
    Case {
        name: "session_window_across_streams",
        attack: "every stream within its own window, all together one byte beyond the session window",
        expect: Expect::violation(ProtocolError::FlowControl, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound { frames: 3, bytes: 3 * HEADER_BYTES + SMALL_SESSION as u64 + 1 },
        run: session_window_across_streams,
    },
    Case {
        name: "garbage_after_error_goaway",
        attack: "a GOAWAY with PROTOCOL_ERROR, then 1 MiB of frames and junk",
        expect: Expect::ends(None, CloseReason { local: None, remote: Some(ErrorCode::PROTOCOL_ERROR) }),
        bound: Bound { frames: 1, bytes: HEADER_BYTES + 8 + 3 },
        run: garbage_after_error_goaway,
    },
    Case {
        name: "garbage_after_graceful_end",
        attack: "a graceful GOAWAY that ends an idle session, then 1 MiB of frames and junk",
        expect: Expect::ends(
            Some(ErrorCode::NO_ERROR),
            CloseReason { local: None, remote: Some(ErrorCode::NO_ERROR) },
        ),
        bound: Bound { frames: 1, bytes: HEADER_BYTES + 8 },
        run: garbage_after_graceful_end,
    },
    Case {
        name: "slowloris_never_reads",
        attack: "a peer that never reads while it asks for replies, resets, data and window updates",
        expect: Expect::SURVIVES,
        bound: Bound { frames: SLOWLORIS_FRAMES, bytes: SLOWLORIS_BYTES },
        run: slowloris_never_reads,
    },
    Case {
        name: "zero_window_peer",
        attack: "a peer that announces no window at all while the application writes",
        expect: Expect::SURVIVES,
        bound: Bound { frames: 2, bytes: HEADER_BYTES + SMALL_BYTES },
        run: zero_window_peer,
    },
    Case {
        name: "full_window_every_stream",
        attack: "open every stream the credit allows, each with the largest metadata and a full window",
        expect: Expect::violation(ProtocolError::FlowControl, ErrorCode::FLOW_CONTROL_ERROR),
        bound: Bound {
            frames: FULL_CREDIT + 1,
            bytes: FULL_CREDIT * (HEADER_BYTES + 2 + FULL_META + FULL_WINDOW) + HEADER_BYTES + 1,
        },
        run: full_window_every_stream,
    },
    Case {
        name: "ping_ack_flood",
        attack: "10000 PING ACKs that answer no PING (spec.md §12: MAY go uncounted)",
        expect: Expect::SURVIVES,
        bound: Bound { frames: PING_ACKS, bytes: PING_ACKS * PING_BYTES },
        run: ping_ack_flood,
    },
    Case {
        name: "frames_for_a_reset_stream_while_output_blocked",
        attack: "RSTs and empty FINs for a stream the application reset, while the peer never reads",
        expect: Expect::violation(ProtocolError::Flood, ErrorCode::ENHANCE_YOUR_CALM),
        bound: Bound { frames: BURST + 1, bytes: (BURST + 1) * SMALL_BYTES },
        run: frames_for_a_reset_stream_while_output_blocked,
    },
];

// =============================================================================
// What a run reports
// =============================================================================

/// What one case cost, and how it ended.
#[derive(Clone, Debug)]
pub struct CaseReport {
    /// The case's name.
    pub name: &'static str,
    /// The attack, in one line.
    pub attack: &'static str,
    /// How the session had to end.
    pub expect: Expect,
    /// The case's bound on attacker input.
    pub bound: Bound,
    /// Attacker frames the session processed (until the end).
    pub attacker_frames: u64,
    /// Attacker bytes the session processed (until the end).
    pub attacker_bytes: u64,
    /// Attacker bytes fed after the end (consumed and ignored).
    pub ignored_bytes: u64,
    /// Frames the session decoded (its `Stats::frames_received`, handshake included).
    pub session_frames_in: u64,
    /// Frames the session sent (handshake included).
    pub session_frames_out: u64,
    /// Bytes the session sent (handshake included).
    pub session_bytes_out: u64,
    /// The most stream slots in use at once.
    pub peak_streams: usize,
    /// The storage's stream slots.
    pub stream_capacity: usize,
    /// The most bytes buffered at once, over every stream (received and unsent).
    pub peak_buffered: usize,
    /// The storage's buffer bytes (slots times receive plus send buffer).
    pub buffer_capacity: usize,
    /// The most heap the stream buffers held, for growable storage.
    pub peak_allocated: Option<usize>,
    /// Wall-clock time the case took.
    pub elapsed: std::time::Duration,
    /// `Err` with why, for a case that failed (listed in [`KNOWN_ENGINE_BUGS`]).
    pub outcome: Result<(), String>,
}

/// What [`run_all`] found.
#[derive(Clone, Debug)]
pub struct HostileSummary {
    /// Cases played.
    pub cases: usize,
    /// Cases that passed.
    pub passed: usize,
    /// One report per case, in table order.
    pub reports: Vec<CaseReport>,
    /// The cases that failed because of a bug in [`KNOWN_ENGINE_BUGS`]:
    /// (name, failure).
    pub known_failures: Vec<(&'static str, String)>,
    /// Bytes the bystander pair moved and checked alongside the attacks.
    pub bystander_bytes: u64,
}

impl HostileSummary {
    /// Whether every case passed (none failed, not even a known bug).
    #[must_use]
    pub fn all_passed(&self) -> bool {
        self.passed == self.cases
    }
}

impl fmt::Display for HostileSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<46} {:<58} {:>17} {:>17} {:>11} {:>9} {:>13} {:>8}  result",
            "case", "expected", "bound frames/B", "fed frames/B", "in/out", "streams", "buffered", "ms"
        )?;
        for r in &self.reports {
            let result = match &r.outcome {
                Ok(()) => "ok".to_string(),
                Err(_) => "KNOWN ENGINE BUG".to_string(),
            };
            writeln!(
                f,
                "{:<46} {:<58} {:>17} {:>17} {:>11} {:>9} {:>13} {:>8}  {result}",
                r.name,
                r.expect.to_string(),
                format!("{}/{}", r.bound.frames, r.bound.bytes),
                format!("{}/{}", r.attacker_frames, r.attacker_bytes),
                format!("{}/{}", r.session_frames_in, r.session_frames_out),
                format!("{}/{}", r.peak_streams, r.stream_capacity),
                format!("{}/{}", r.peak_buffered, r.buffer_capacity),
                r.elapsed.as_millis(),
            )?;
        }
        write!(
            f,
            "{} cases, {} passed; the bystander pair moved and checked {} bytes alongside",
            self.cases, self.passed, self.bystander_bytes
        )?;
        for (name, why) in &self.known_failures {
            let bug = KNOWN_ENGINE_BUGS.iter().find(|b| b.case == *name).map_or("", |b| b.diagnosis);
            write!(f, "\nKNOWN ENGINE BUG {name}: {why}\n  diagnosis: {bug}")?;
        }
        Ok(())
    }
}

/// Play every case of [`CASES`] in order, with the bystander pair running
/// alongside and checked after each.
///
/// # Errors
/// A description of every unexpected result: a case not listed in
/// [`KNOWN_ENGINE_BUGS`] that failed, panicked or hung; a listed case that
/// passes (the list must be updated); a listed name that is no case; a
/// bystander that stopped moving data correctly. Known failures alone are
/// no error: they are in [`HostileSummary::known_failures`].
pub fn run_all() -> Result<HostileSummary, String> {
    install_quiet_panic_hook();
    let mut problems = Vec::new();
    for bug in KNOWN_ENGINE_BUGS {
        if !CASES.iter().any(|c| c.name == bug.case) {
            problems.push(format!("KNOWN_ENGINE_BUGS names `{}`, which is no case", bug.case));
        }
    }
    let mut bystander = Some(in_thread("hostile-bystander", Bystander::new)?);
    let mut reports = Vec::new();
    let mut known_failures = Vec::new();
    let mut bystander_bytes = 0;
    for case in CASES {
        let by = match bystander.take() {
            Some(b) => b,
            None => in_thread("hostile-bystander", Bystander::new)?,
        };
        let started = std::time::Instant::now();
        let (outcome, bystander_outcome, metrics, back) = play(case, by);
        if let Err(why) = bystander_outcome {
            // Never masked by a known bug: other sessions must be unaffected.
            problems.push(format!("{}: the bystander pair was affected: {why}", case.name));
        }
        let known = KNOWN_ENGINE_BUGS.iter().any(|b| b.case == case.name);
        match (&outcome, known) {
            (Ok(()), true) => problems.push(format!(
                "{}: passes, but is listed in KNOWN_ENGINE_BUGS: remove it from the list",
                case.name
            )),
            (Err(why), false) => problems.push(format!("{}: {why}", case.name)),
            (Err(why), true) => known_failures.push((case.name, why.clone())),
            (Ok(()), false) => {}
        }
        if let Some(b) = back {
            bystander_bytes = b.bytes_checked();
            bystander = Some(b);
        }
        let m = metrics.unwrap_or_default();
        reports.push(CaseReport {
            name: case.name,
            attack: case.attack,
            expect: case.expect,
            bound: case.bound,
            attacker_frames: m.frames,
            attacker_bytes: m.bytes,
            ignored_bytes: m.ignored_bytes,
            session_frames_in: m.frames_in,
            session_frames_out: m.frames_out,
            session_bytes_out: m.bytes_out,
            peak_streams: m.peak_streams,
            stream_capacity: m.limits.streams,
            peak_buffered: m.peak_buffered,
            buffer_capacity: m.limits.streams * (m.limits.rx + m.limits.tx),
            peak_allocated: m.peak_allocated,
            elapsed: started.elapsed(),
            outcome,
        });
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let passed = reports.iter().filter(|r| r.outcome.is_ok()).count();
    Ok(HostileSummary { cases: reports.len(), passed, reports, known_failures, bystander_bytes })
}

/// What [`play`] returns: the case's outcome, the bystander's check after
/// it, the case's figures (if it got that far) and the bystander (unless
/// the case hung with it).
type Played = (Result<(), String>, Result<(), String>, Option<Metrics>, Option<Bystander>);

/// Run `case` on its own thread, then check the bystander (whatever the
/// case's outcome), under the watchdog.
fn play(case: &'static Case, by: Bystander) -> Played {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("hostile-{}", case.name))
        .stack_size(CASE_STACK)
        .spawn(move || {
            let mut ctx =
                Ctx { bystander: by, expect: case.expect, bound: case.bound, metrics: None, done: false };
            let run = catch_unwind(AssertUnwindSafe(|| {
                (case.run)(&mut ctx);
                assert!(ctx.done, "the case did not call Arena::done");
            }));
            let outcome = run.map_err(|p| panic_text(p.as_ref()));
            // Other sessions in the process still work after the attack.
            let by = catch_unwind(AssertUnwindSafe(|| ctx.bystander.round_trip()));
            let bystander = by.map_err(|p| panic_text(p.as_ref()));
            let _ = tx.send((outcome, bystander, ctx.metrics.take(), ctx.bystander));
        });
    if let Err(e) = spawned {
        return (Err(format!("cannot start the case thread: {e}")), Ok(()), None, None);
    }
    match rx.recv_timeout(CASE_TIME_LIMIT) {
        Ok((outcome, bystander, metrics, by)) => (outcome, bystander, metrics, Some(by)),
        Err(_) => (Err(format!("hung: still running after {CASE_TIME_LIMIT:?}")), Ok(()), None, None),
    }
}

/// Run `f` on a thread with a large stack and return its result.
fn in_thread<T: Send + 'static>(name: &str, f: fn() -> T) -> Result<T, String> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(CASE_STACK)
        .spawn(f)
        .map_err(|e| format!("cannot start a thread: {e}"))?
        .join()
        .map_err(|p| panic_text(p.as_ref()))
}

thread_local! {
    /// Where the current case thread last panicked.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keep the panics of case threads off stderr (the runner reports them,
/// with their location); other threads keep the previous hook.
fn install_quiet_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = std::thread::current().name().is_some_and(|n| n.starts_with("hostile-"));
            if ours {
                let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// The text of a panic, with where it happened.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    };
    match PANIC_AT.with(|p| p.borrow_mut().take()) {
        Some(at) => format!("{text} (at {at})"),
        None => text,
    }
}

// =============================================================================
// The arena: one victim session, its attacker, and the checks
// =============================================================================

/// What a case hands to its attack: the bystander, and where the victim's
/// figures go.
struct Ctx {
    bystander: Bystander,
    expect: Expect,
    bound: Bound,
    /// The victim's figures: recorded by [`Arena::done`], or when the
    /// arena is dropped by a failing case (so far as it got).
    metrics: Option<Metrics>,
    /// Whether the case reached [`Arena::done`].
    done: bool,
}

/// A storage's capacities, as the victim was built with them.
#[derive(Clone, Copy, Debug, Default)]
struct Limits {
    streams: usize,
    rx: usize,
    tx: usize,
}

/// The figures of one victim.
#[derive(Clone, Copy, Debug, Default)]
struct Metrics {
    frames: u64,
    bytes: u64,
    ignored_bytes: u64,
    frames_in: u64,
    frames_out: u64,
    bytes_out: u64,
    peak_streams: usize,
    peak_buffered: usize,
    peak_allocated: Option<usize>,
    limits: Limits,
}

/// What a storage can tell about the heap its buffers hold.
trait Measured: Storage {
    /// Bytes of heap the stream buffers hold, for growable storage.
    fn allocated(&self) -> Option<usize>;
}

impl<const N: usize, const RX: usize, const TX: usize> Measured for ArrayStorage<N, RX, TX> {
    fn allocated(&self) -> Option<usize> {
        None
    }
}

impl Measured for VecStorage {
    fn allocated(&self) -> Option<usize> {
        Some(self.buffer_bytes())
    }
}

/// The configuration of every victim: the defaults of `config`, with
/// window growth off, so that "announced" means the initial windows.
fn no_growth(mut config: Config) -> Config {
    config.stream_window_max = config.stream_window;
    config.session_window_max = config.session_window;
    config
}

/// A server victim's configuration.
fn server_config() -> Config {
    no_growth(Config::server())
}

/// The limits of [`Store`].
const STORE_LIMITS: Limits = Limits { streams: STORE_SLOTS, rx: STORE_RX, tx: STORE_TX };

impl Ctx {
    /// A server over [`Store`] past the handshake with a peer that
    /// announced `peer`.
    fn server_with(&mut self, config: Config, peer: Settings) -> Arena<'_, Store> {
        let h = Harness::connected_with(config, peer, WHOLE);
        Arena::new(self, h, STORE_LIMITS)
    }

    /// A server over [`Store`] past the handshake with default settings.
    fn server(&mut self) -> Arena<'_, Store> {
        self.server_with(server_config(), Settings::DEFAULT)
    }

    /// A server over [`Store`] that sent its preface and SETTINGS and
    /// received nothing.
    fn fresh(&mut self) -> Arena<'_, Store> {
        let h = Harness::fresh(server_config(), WHOLE);
        Arena::new(self, h, STORE_LIMITS)
    }

    /// A victim over any storage, past the handshake with default settings.
    fn victim<S: Measured>(&mut self, config: Config, storage: S, limits: Limits) -> Arena<'_, S> {
        let mut h = Harness::new(config, storage, WHOLE);
        h.start();
        h.handshake(Settings::DEFAULT);
        Arena::new(self, h, limits)
    }
}

/// One victim session and its attacker: feeds the attack frame by frame,
/// counts it, checks memory after every frame, and steps the bystander
/// after every batch.
struct Arena<'c, S: Measured> {
    /// The victim and its raw peer.
    h: Harness<S>,
    ctx: &'c mut Ctx,
    limits: Limits,
    /// The peer never reads: nothing is taken from `poll_transmit`.
    blocked: bool,
    /// Stream ids that may be live: checked, and dropped once forgotten.
    ids: BTreeSet<u32>,
    m: Metrics,
}

impl<'c, S: Measured> Arena<'c, S> {
    fn new(ctx: &'c mut Ctx, h: Harness<S>, limits: Limits) -> Self {
        let mut a = Arena { h, ctx, limits, blocked: false, ids: BTreeSet::new(), m: Metrics::default() };
        a.m.limits = limits;
        a.check_memory();
        a
    }

    /// Whether the victim's session has ended.
    fn ended(&self) -> bool {
        self.h.s.close_reason().is_some()
    }

    /// Feed whole frames one at a time (bytes after the last whole frame
    /// as one more piece), then settle: drain (unless blocked), check,
    /// step the bystander.
    fn send(&mut self, bytes: &[u8]) -> Drained {
        let frames = split_frames(bytes);
        let whole: usize = frames.iter().map(|(_, f)| f.len()).sum();
        for (h, f) in frames {
            let syn = (h.kind == FrameType::Data && h.has(flags::SYN)).then_some(h.stream.0);
            self.feed_piece(f, 1, syn);
        }
        if whole < bytes.len() {
            self.feed_piece(&bytes[whole..], 0, None);
        }
        self.settle()
    }

    /// Feed `bytes` as one piece that counts as `frames` frames (a header
    /// alone, a preface, junk), then settle.
    fn send_raw(&mut self, bytes: &[u8], frames: u64) -> Drained {
        self.feed_piece(bytes, frames, None);
        self.settle()
    }

    fn feed_piece(&mut self, bytes: &[u8], frames: u64, syn: Option<u32>) {
        let live = !self.ended();
        self.h.feed(bytes);
        if live {
            self.m.frames += frames;
            self.m.bytes += bytes.len() as u64;
            if let Some(id) = syn {
                self.ids.insert(id);
            }
        } else {
            self.m.ignored_bytes += bytes.len() as u64;
        }
        self.check_memory();
    }

    /// Drain the victim (or, when blocked, only poll its events), check
    /// memory and step the bystander once.
    fn settle(&mut self) -> Drained {
        let d = if self.blocked {
            let mut d = Drained::default();
            while let Some(e) = self.h.s.poll_event() {
                d.events.push(e);
                self.h.events.push(e);
                assert!(d.events.len() < 1_000_000, "poll_event never returned None");
            }
            d
        } else {
            self.h.drain()
        };
        for f in &d.frames {
            if f.stream() != 0 {
                self.ids.insert(f.stream());
            }
        }
        self.check_memory();
        self.ctx.bystander.tick();
        d
    }

    /// Settle without input (after the application acted).
    fn flush(&mut self) -> Drained {
        self.settle()
    }

    /// Move the clock, fire the timers and settle.
    fn advance(&mut self, by: Duration) -> Drained {
        self.h.now += by;
        let now = self.h.now;
        self.h.s.handle_timeout(now);
        self.settle()
    }

    /// The transport reports end of input.
    fn eof(&mut self) -> Drained {
        let now = self.h.now;
        self.h.s.handle_eof(now);
        self.settle()
    }

    /// Memory within the configured capacities, and no window above what
    /// was announced.
    fn check_memory(&mut self) {
        let s = &self.h.s;
        let local = *s.local_settings();
        let in_use = s.streams_in_use();
        assert!(
            in_use <= self.limits.streams,
            "{in_use} stream slots in use; the storage has {}",
            self.limits.streams
        );
        assert!(
            s.session_recv_window() <= local.session_window,
            "session receive window {} above the {} announced",
            s.session_recv_window(),
            local.session_window
        );
        let per_stream = (local.initial_stream_window + local.max_open_metadata) as usize;
        let limits = self.limits;
        let mut buffered = 0;
        self.ids.retain(|&id| {
            let Some(i) = s.stream_info(StreamId(id)) else { return false };
            assert!(
                i.readable <= limits.rx,
                "stream {id}: {} bytes buffered in a {}-byte buffer",
                i.readable,
                limits.rx
            );
            assert!(
                i.readable <= per_stream,
                "stream {id}: {} bytes buffered; the window and metadata announced are {per_stream}",
                i.readable
            );
            assert!(
                i.unsent <= limits.tx,
                "stream {id}: {} bytes unsent in a {}-byte buffer",
                i.unsent,
                limits.tx
            );
            assert!(
                i.recv_window <= i.recv_window_size && i.recv_window_size <= local.initial_stream_window,
                "stream {id}: receive window {} of {}, {} announced",
                i.recv_window,
                i.recv_window_size,
                local.initial_stream_window
            );
            buffered += i.readable + i.unsent;
            true
        });
        if let Some(heap) = s.storage().allocated() {
            assert!(
                heap <= in_use * (limits.rx + limits.tx),
                "{heap} bytes of stream buffers for {in_use} streams of {}+{} bytes",
                limits.rx,
                limits.tx
            );
            self.m.peak_allocated = Some(self.m.peak_allocated.unwrap_or(0).max(heap));
        }
        self.m.peak_streams = self.m.peak_streams.max(in_use);
        self.m.peak_buffered = self.m.peak_buffered.max(buffered);
    }

    /// The session ended on `e`: exactly the answer [`expect_protocol_error`]
    /// checks, with the code the case's table entry gives.
    fn expect_error(&mut self, d: &Drained, e: ProtocolError, last: u32) {
        let code = self.ctx.expect.goaway.expect("the case expects a GOAWAY");
        expect_protocol_error(&mut self.h, d, e, code, last);
    }

    /// Check the end against the case's [`Expect`] and its [`Bound`], and
    /// hand the figures to the runner.
    fn done(mut self) {
        let expect = self.ctx.expect;
        let bound = self.ctx.bound;
        assert_eq!(self.h.s.close_reason(), expect.close, "close reason");
        let frames = self.h.all_frames();
        let goaways: Vec<&Out> = frames.iter().filter(|f| matches!(f, Out::GoAway { .. })).collect();
        match expect.goaway {
            Some(code) => {
                assert!(
                    matches!(frames.last(), Some(Out::GoAway { code: c, .. }) if *c == code),
                    "the last frame sent should be a GOAWAY with {code}: {:?}",
                    frames.last()
                );
                let errors =
                    goaways.iter().filter(|g| !matches!(g, Out::GoAway { code: ErrorCode::NO_ERROR, .. }));
                assert!(errors.count() <= 1, "more than one error GOAWAY: {goaways:?}");
            }
            None => assert!(goaways.is_empty(), "no GOAWAY expected, sent {goaways:?}"),
        }
        if expect.close.is_some() {
            assert_eq!(self.h.s.state(), SessionState::Closed);
            assert!(
                matches!(self.h.events.last(), Some(Event::Closed(r)) if Some(*r) == expect.close),
                "the last event should be Closed: {:?}",
                self.h.events.last()
            );
            expect_deaf_and_mute(&mut self.h);
        } else {
            assert!(!self.blocked, "a surviving victim must be unblocked before the end");
            expect_alive(&mut self.h);
        }
        assert!(
            self.m.frames <= bound.frames && self.m.bytes <= bound.bytes,
            "the session processed {} frames / {} bytes of the attack; the bound is {} / {}",
            self.m.frames,
            self.m.bytes,
            bound.frames,
            bound.bytes
        );
        self.check_memory();
        self.record();
        self.ctx.done = true;
    }

    /// Hand the figures so far to the runner.
    fn record(&mut self) {
        let stats = self.h.s.stats();
        self.m.frames_in = stats.frames_received;
        self.m.frames_out = stats.frames_sent;
        self.m.bytes_out = stats.bytes_sent;
        self.ctx.metrics = Some(self.m);
    }

    /// Track a stream the case made known through the session's API, so
    /// that its buffers are checked too.
    fn track(&mut self, id: StreamId) -> StreamId {
        self.ids.insert(id.0);
        self.check_memory();
        id
    }

    /// The peer opens `id` with `body` and the application accepts it.
    fn accepted(&mut self, id: u32, body: &[u8]) {
        self.h.open_accepted(id, body);
        self.track(StreamId(id));
    }
}

impl<S: Measured> Drop for Arena<'_, S> {
    /// A failing case still reports how far it got.
    fn drop(&mut self) {
        if !self.ctx.done {
            self.record();
        }
    }
}

// =============================================================================
// The bystander: a healthy pair in the same process
// =============================================================================

/// The bystander's storage, each side.
type ByStore = ArrayStorage<4, 8192, 8192>;

/// Bytes each side of the bystander writes per tick.
const BY_TICK: usize = 700;
/// Bytes each side moves in a round trip.
const BY_ROUND: u64 = 12 * 1024;

/// One direction of a bystander stream: bytes written and bytes read and
/// checked.
#[derive(Clone, Copy, Debug, Default)]
struct Flow {
    salt: u8,
    written: u64,
    read: u64,
}

impl Flow {
    fn new(salt: u8) -> Self {
        Flow { salt, written: 0, read: 0 }
    }

    /// The byte at `offset` of this direction.
    fn byte(&self, offset: u64) -> u8 {
        (offset % 251) as u8 ^ self.salt
    }

    /// The next `n` bytes to write.
    fn next(&self, n: usize) -> Vec<u8> {
        (0..n as u64).map(|i| self.byte(self.written + i)).collect()
    }
}

/// A healthy client/server pair that moves checked data alongside the
/// attacks: a long-lived stream both ways, stepped between the attack's
/// steps ([`tick`](Self::tick)), and a fresh stream opened, filled both
/// ways, closed and forgotten after every case
/// ([`round_trip`](Self::round_trip)).
struct Bystander {
    pair: Box<Pair<ByStore, ByStore>>,
    stream: StreamId,
    up: Flow,
    down: Flow,
    checked: u64,
    rounds: u8,
}

impl Bystander {
    fn new() -> Self {
        let config = |c: Config| Config { max_inbound_streams: Some(2), ..c };
        let mut pair = Box::new(Pair::new(
            config(Config::client()),
            ByStore::new(),
            config(Config::server()),
            ByStore::new(),
        ));
        pair.step();
        assert_eq!(pair.client.poll_event(), Some(Event::Connected));
        assert_eq!(pair.server.poll_event(), Some(Event::Connected));
        let stream = pair.client.open().expect("the bystander opens its stream");
        pair.step();
        assert_eq!(pair.server.poll_event(), Some(Event::Incoming));
        assert_eq!(pair.server.accept(), Ok(stream));
        Bystander { pair, stream, up: Flow::new(0x11), down: Flow::new(0x5C), checked: 0, rounds: 0 }
    }

    /// Bytes read and checked so far.
    fn bytes_checked(&self) -> u64 {
        self.checked
    }

    /// Write a little each way on the long-lived stream, move it, read and
    /// check everything that arrived.
    fn tick(&mut self) {
        let id = self.stream;
        let p = &mut *self.pair;
        for (side, flow) in [(&mut p.client, &mut self.up), (&mut p.server, &mut self.down)] {
            match side.write(id, &flow.next(BY_TICK)) {
                Ok(n) => flow.written += n as u64,
                Err(WriteError::WouldBlock) => {}
                Err(e) => panic!("bystander: write failed: {e:?}"),
            }
        }
        p.step();
        self.checked += read_checked(&mut p.server, id, &mut self.up, false).0;
        self.checked += read_checked(&mut p.client, id, &mut self.down, false).0;
        p.step();
        quiet_events(&mut p.client);
        quiet_events(&mut p.server);
    }

    /// Open a fresh stream, move [`BY_ROUND`] bytes each way with a FIN,
    /// check them, and see both sides forget the stream; then a PING.
    fn round_trip(&mut self) {
        self.rounds = self.rounds.wrapping_add(1);
        let p = &mut *self.pair;
        let id = p.client.open().expect("bystander: open a stream after the case");
        let (mut up, mut down) = (Flow::new(self.rounds), Flow::new(!self.rounds));
        let (mut accepted, mut up_end, mut down_end) = (false, false, false);
        for turn in 0.. {
            assert!(turn < 10_000, "bystander: the round trip on stream {id} did not finish");
            if write_some(&mut p.client, id, &mut up) {
                p.client.finish(id).expect("bystander: finish");
            }
            p.step();
            if !accepted {
                match p.server.accept() {
                    Ok(got) => {
                        assert_eq!(got, id, "bystander: the server accepted another stream");
                        accepted = true;
                    }
                    Err(AcceptError::WouldBlock) => {}
                    Err(e) => panic!("bystander: accept failed: {e:?}"),
                }
            }
            if accepted && !up_end {
                let (n, end) = read_checked(&mut p.server, id, &mut up, true);
                self.checked += n;
                up_end = end;
            }
            if up_end && write_some(&mut p.server, id, &mut down) {
                p.server.finish(id).expect("bystander: finish");
            }
            p.step();
            if !down_end {
                let (n, end) = read_checked(&mut p.client, id, &mut down, true);
                self.checked += n;
                down_end = end;
            }
            p.step();
            quiet_events(&mut p.client);
            quiet_events(&mut p.server);
            if up_end && down_end {
                break;
            }
        }
        assert_eq!(up.read, BY_ROUND, "bystander: bytes up");
        assert_eq!(down.read, BY_ROUND, "bystander: bytes down");
        assert_eq!(p.client.stream_info(id), None, "bystander: the client still knows stream {id}");
        assert_eq!(p.server.stream_info(id), None, "bystander: the server still knows stream {id}");
        assert_eq!(p.client.streams_in_use(), 1, "bystander: client slots");
        assert_eq!(p.server.streams_in_use(), 1, "bystander: server slots");
        p.client.ping().expect("bystander: ping");
        p.step();
        let mut pong = false;
        while let Some(e) = p.client.poll_event() {
            pong |= matches!(e, Event::Pong { .. });
            assert!(!matches!(e, Event::Closed(_) | Event::Reset { .. }), "bystander: {e:?}");
        }
        assert!(pong, "bystander: the PING was not answered");
        // The long-lived stream still moves.
        let before = self.checked;
        self.tick();
        self.tick();
        assert!(self.checked > before, "bystander: the long-lived stream stopped moving");
    }
}

/// Write what is left of a [`BY_ROUND`]-byte direction; true once the
/// last byte was just taken (time to finish).
fn write_some<S: Storage>(side: &mut braid::Session<S>, id: StreamId, flow: &mut Flow) -> bool {
    if flow.written >= BY_ROUND {
        return false;
    }
    let n = (BY_ROUND - flow.written).min(4096) as usize;
    match side.write(id, &flow.next(n)) {
        Ok(n) => flow.written += n as u64,
        Err(WriteError::WouldBlock) => {}
        Err(e) => panic!("bystander: write failed: {e:?}"),
    }
    flow.written == BY_ROUND
}

/// Read everything `id` has on `side`, checking each byte against `flow`;
/// returns the bytes read and whether the end of the stream was read
/// (allowed only with `to_end`, and only after every byte written).
fn read_checked<S: Storage>(
    side: &mut braid::Session<S>,
    id: StreamId,
    flow: &mut Flow,
    to_end: bool,
) -> (u64, bool) {
    let mut buf = [0u8; 4096];
    let mut got = 0;
    loop {
        match side.read(id, &mut buf) {
            Ok(0) => {
                assert!(to_end, "bystander: stream {id} ended");
                assert_eq!(flow.read, flow.written, "bystander: stream {id} ended early");
                return (got, true);
            }
            Ok(n) => {
                for (i, b) in buf[..n].iter().enumerate() {
                    let at = flow.read + i as u64;
                    assert_eq!(*b, flow.byte(at), "bystander: stream {id}, byte {at} is wrong");
                }
                flow.read += n as u64;
                assert!(flow.read <= flow.written, "bystander: stream {id} read more than was written");
                got += n as u64;
            }
            Err(ReadError::WouldBlock) => return (got, false),
            Err(e) => panic!("bystander: read of stream {id} failed: {e:?}"),
        }
    }
}

/// Poll every event of a bystander side; none may say it failed.
fn quiet_events<S: Storage>(side: &mut braid::Session<S>) {
    while let Some(e) = side.poll_event() {
        assert!(!matches!(e, Event::Closed(_) | Event::Reset { .. }), "bystander: {e:?}");
    }
}

// =============================================================================
// The cases
// =============================================================================

/// PINGs per 10 ms period in [`ping_flood_paced`]: 1100 per second.
const PACED_PER_PERIOD: u64 = 11;
/// Tokens the victim earns per 10 ms (1000 per second).
const PACED_REFILL: u64 = 10;
/// The bound of [`ping_flood_paced`]: at a rate `s` above the refill `r`
/// the budget `B` lasts `B / (s - r)`, in which `B * s / (s - r)` PINGs
/// arrive, plus one period's worth for the rounding.
const PACED_BOUND: u64 = BURST * PACED_PER_PERIOD / (PACED_PER_PERIOD - PACED_REFILL) + PACED_PER_PERIOD;

/// PINGs at 1100 per second against the default budget (1000, refilled at
/// 1000 per second): the net drain of 100 tokens per second ends the
/// session with ENHANCE_YOUR_CALM after about 10 seconds and at most
/// [`PACED_BOUND`] PINGs, not before `B` of them; meanwhile at most one
/// PING ACK ever waits, the newest.
/// Bound: B·s/(s−r) + s frames of 16 bytes (11 011).
fn ping_flood_paced(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let mut seq = 0u64;
    for period in 0.. {
        assert!(period < 2 * PACED_BOUND / PACED_PER_PERIOD, "still open after {} PINGs", a.m.frames);
        if period > 0 {
            a.advance(Duration::from_millis(10));
        }
        let batch: Vec<u8> = (0..PACED_PER_PERIOD).flat_map(|i| ping(seq + i)).collect();
        seq += PACED_PER_PERIOD;
        let d = a.send(&batch);
        if a.ended() {
            assert!(a.m.frames > BURST, "ended after {} PINGs, before the budget of {BURST}", a.m.frames);
            a.expect_error(&d, ProtocolError::Flood, 0);
            break;
        }
        assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: (seq - 1).to_be_bytes() }]);
    }
    a.done();
}

/// A second SETTINGS ends the session at once: of 1000 sent back to back
/// only the first is decoded; the rest are consumed unread.
/// Bound: 1 frame of 44 bytes.
fn settings_flood(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let d = a.send(&settings(Settings::DEFAULT).repeat(1000));
    a.expect_error(&d, ProtocolError::SettingsRepeated, 0);
    assert_eq!(a.h.s.stats().frames_received, 3, "the handshake's two frames and one more");
    assert_eq!(a.m.ignored_bytes, 999 * 44);
    a.done();
}

/// PINGs the attacker spends before drawing data in
/// [`wndinc_stream_flood_after_banking`].
const BANK_PINGS: u64 = BURST / 2;

/// Tokens earned by DATA this side sends are capped at the budget: the
/// peer spends half of it in PINGs, makes the session send 512 DATA frames
/// (announcing 64-byte frames; 1024 tokens earned), then floods stream
/// WNDINCs answering nothing. It gets exactly B of them, not B plus what
/// it "banked".
/// Bound: 500 PINGs, the SYN, B+1 WNDINCs.
fn wndinc_stream_flood_after_banking(ctx: &mut Ctx) {
    let mut a = ctx.server_with(server_config(), settings_with(|s| s.max_frame_size = 64));
    let pings: Vec<u8> = (0..BANK_PINGS).flat_map(ping).collect();
    a.send(&pings);
    a.send(&syn(1, b""));
    assert_eq!(a.h.s.accept(), Ok(StreamId(1)));
    let mut sent = 0;
    while sent < 512 {
        assert_eq!(a.h.s.write(StreamId(1), &[0xD7; 4096]), Ok(4096));
        let d = a.flush();
        sent += d.frames.iter().filter(|f| f.is_data_with(0)).count();
    }
    let flood: Vec<u8> = (0..=BURST).flat_map(|_| wndinc(1, 1)).collect();
    let d = a.send(&flood);
    assert_eq!(a.m.frames, BANK_PINGS + 1 + BURST + 1, "ended after exactly B+1 WNDINCs");
    a.expect_error(&d, ProtocolError::Flood, 1);
    a.done();
}

/// Session and CREDIT WNDINCs that answer no data: each spends a token.
/// Bound: B+1 frames.
fn wndinc_session_and_credit_flood(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let mut d = Drained::default();
    for round in 0..2 * BURST {
        let batch: Vec<u8> =
            (0..50).flat_map(|i| if i % 2 == 0 { wndinc(0, 1) } else { credit(1) }).collect();
        d = a.send(&batch);
        if a.ended() {
            break;
        }
        assert!(d.frames.is_empty(), "round {round}: {:?}", d.frames);
    }
    assert_eq!(a.m.frames, BURST + 1);
    a.expect_error(&d, ProtocolError::Flood, 0);
    a.done();
}

/// The stream credit of the rapid-reset victim (16 slots, half for the peer).
const RAPID_CREDIT: u64 = 8;

/// Rapid reset at full credit: the peer opens all 8 streams its credit
/// allows and resets them before the application accepts, takes the
/// credit granted back, and does it again. Each reset costs a token, the
/// SYNs cost credit: the session ends after exactly B+1 resets, holding at
/// most 8 streams at any time.
/// Bound: 2·(B+1) + 8 frames (every RST after its SYN, and one batch of SYNs).
fn rapid_reset_full_credit(ctx: &mut Ctx) {
    let limits = Limits { streams: 16, rx: 2048, tx: 2048 };
    let mut a = ctx.victim(server_config(), ArrayStorage::<16, 2048, 2048>::new(), limits);
    assert_eq!(u64::from(a.h.s.local_settings().stream_credit), RAPID_CREDIT);
    let mut credit = RAPID_CREDIT;
    let (mut next, mut resets) = (1u32, 0u64);
    for round in 0.. {
        assert!(round < 2 * BURST, "still open after {resets} rapid resets");
        assert_eq!(credit, RAPID_CREDIT, "round {round}: the credit came back");
        let ids: Vec<u32> = (0..RAPID_CREDIT as u32).map(|i| next + 2 * i).collect();
        next += 2 * RAPID_CREDIT as u32;
        let mut batch: Vec<u8> = ids.iter().flat_map(|&id| syn(id, b"")).collect();
        batch.extend(ids.iter().flat_map(|&id| rst(id, ErrorCode::CANCEL)));
        credit = 0;
        let d = a.send(&batch);
        if a.ended() {
            resets += a.m.frames - resets * 2 - RAPID_CREDIT;
            assert_eq!(resets, BURST + 1, "ended after {resets} resets");
            a.expect_error(&d, ProtocolError::Flood, next - 2);
            break;
        }
        resets += RAPID_CREDIT;
        assert!(a.h.s.streams_in_use() <= RAPID_CREDIT as usize);
        // The application looks at what is incoming: every stream is gone.
        assert_eq!(a.h.s.accept(), Err(AcceptError::WouldBlock));
        for f in a.flush().frames {
            match f {
                Out::WndInc { stream: 0, credit: true, increment } => credit += u64::from(increment),
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
    }
    a.done();
}

/// An RST storm over 32 forgotten streams (ids below the highest opened):
/// each is dropped without a reply and costs a token, so no RST ever goes
/// back (no RST storm answering one) and the session ends after B+1.
/// Bound: B+1 frames.
fn rst_storm_for_forgotten_streams(ctx: &mut Ctx) {
    let mut a = ctx.server();
    for id in (1..64).step_by(2) {
        a.h.forget_peer_stream(id);
    }
    a.flush();
    let mut d = Drained::default();
    let mut ids = (1..64u32).step_by(2).cycle();
    while !a.ended() {
        assert!(a.m.frames <= 2 * BURST, "still open after {} RSTs", a.m.frames);
        let batch: Vec<u8> = (0..100).flat_map(|_| rst(ids.next().unwrap_or(1), ErrorCode::CANCEL)).collect();
        d = a.send(&batch);
    }
    assert_eq!(a.m.frames, BURST + 1);
    assert!(
        a.h.all_frames().iter().all(|f| !matches!(f, Out::Rst { .. })),
        "an RST answered a forgotten stream"
    );
    a.expect_error(&d, ProtocolError::Flood, 63);
    a.done();
}

/// Empty DATA frames without flags, alternating over two live streams.
/// Bound: B+1 frames.
fn empty_data_flood(ctx: &mut Ctx) {
    let mut a = ctx.server();
    a.accepted(1, b"");
    a.accepted(3, b"");
    let mut d = Drained::default();
    while !a.ended() {
        assert!(a.m.frames <= 2 * BURST, "still open after {} empty frames", a.m.frames);
        let batch: Vec<u8> = (0..100u32).flat_map(|i| data(1 + 2 * (i % 2), 0, b"")).collect();
        d = a.send(&batch);
        if !a.ended() {
            assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
        }
    }
    assert_eq!(a.m.frames, BURST + 1);
    a.expect_error(&d, ProtocolError::Flood, 3);
    a.done();
}

/// 1-byte DATA frames on a stream whose application never reads: each
/// moves data, so none costs a token, and memory grows one byte per
/// frame up to exactly the stream window W; frame W+1 goes past the
/// window and ends the session with FLOW_CONTROL_ERROR, checked from its
/// header, before the byte is stored.
/// Bound: the SYN and W+1 frames of 9 bytes.
fn tiny_data_frames(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let window = a.h.s.local_settings().initial_stream_window as usize;
    assert_eq!(window, STORE_WINDOW as usize);
    let session = a.h.s.session_recv_window();
    a.send(&syn(1, b""));
    assert_eq!(a.h.s.accept(), Ok(StreamId(1)));
    let mut fed = 0;
    while fed < window {
        let n = (window - fed).min(128);
        let batch: Vec<u8> = (0..n).flat_map(|i| data(1, 0, &[(fed + i) as u8])).collect();
        let d = a.send(&batch);
        assert!(d.frames.is_empty(), "the session sent {:?}", d.frames);
        fed += n;
        let info = a.h.s.stream_info(StreamId(1)).expect("stream 1");
        assert_eq!(info.readable, fed, "one byte buffered per frame");
        assert_eq!(info.recv_window as usize, window - fed);
    }
    assert_eq!(a.m.peak_buffered, window, "memory is the window, exactly");
    assert_eq!(a.h.s.session_recv_window(), session - window as u32);
    let d = a.send(&data(1, 0, b"!"));
    a.expect_error(&d, ProtocolError::FlowControl, 1);
    assert_eq!(a.h.s.stats().data_received, window as u64);
    a.done();
}

/// The largest frame [`Store`] victims accept (the default MAX_FRAME_SIZE).
const MAX_FRAME: u64 = 16_384;

/// Frames of unknown type (6 to 15, cycling), each as large as
/// MAX_FRAME_SIZE allows: skipped as they stream past, none stored, each
/// a token.
/// Bound: B+1 frames of 16 392 bytes.
fn unknown_type_flood(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let payload = vec![0xEE; MAX_FRAME as usize];
    let mut d = Drained::default();
    let mut t = 6u8;
    while !a.ended() {
        assert!(a.m.frames <= 2 * BURST, "still open after {} unknown frames", a.m.frames);
        let mut batch = Vec::new();
        for _ in 0..50 {
            batch.extend(raw(t, t & 0xF, u32::from(t) * 7, &payload));
            t = if t == 15 { 6 } else { t + 1 };
        }
        d = a.send(&batch);
        if !a.ended() {
            assert!(d.frames.is_empty(), "{:?}", d.frames);
        }
    }
    assert_eq!(a.m.frames, BURST + 1);
    assert_eq!(a.m.peak_buffered, 0);
    a.expect_error(&d, ProtocolError::Flood, 0);
    a.done();
}

/// 1 MiB of junk, fed after a session ended.
fn junk() -> Vec<u8> {
    let mut v = Vec::with_capacity(1 << 20);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    while v.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

/// A DATA header announcing 2^24-1 bytes on a live stream is refused from
/// its 8 bytes; the 1 MiB that follows is never charged or stored.
/// Bound: 1 header, 8 bytes.
fn oversized_data_frame(ctx: &mut Ctx) {
    let mut a = ctx.server();
    a.accepted(1, b"");
    let d = a.send_raw(&header(MAX_PAYLOAD, ty::DATA, 0, 1), 1);
    a.expect_error(&d, ProtocolError::FrameTooLarge, 1);
    a.send_raw(&junk(), 0);
    assert_eq!(a.h.s.stats().data_received, 0);
    a.done();
}

/// A SYN header announcing 2^24-1 bytes: refused from its header, before
/// any stream exists.
/// Bound: 1 header, 8 bytes.
fn oversized_syn_frame(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let d = a.send_raw(&header(MAX_PAYLOAD, ty::DATA, flags::SYN, 1), 1);
    a.expect_error(&d, ProtocolError::FrameTooLarge, 0);
    a.send_raw(&junk(), 0);
    assert_eq!(a.h.s.stats().streams_incoming, 0);
    assert_eq!(a.m.peak_streams, 0);
    a.done();
}

/// The rust-yamux crash (GHSA-vxx9-2994-q338, CVE-2026-32314): a SYN
/// whose body exceeds the stream window registered the stream before the
/// check, and the clean-up panicked. Here: a SYN within MAX_FRAME_SIZE
/// carrying the window plus one byte is refused from its header with
/// FLOW_CONTROL_ERROR, no byte stored, no panic, the one slot it took
/// within the storage.
/// Bound: 1 header, 8 bytes.
fn syn_body_beyond_window(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let len = STORE_WINDOW + 1;
    assert!(len <= a.h.s.local_settings().max_frame_size);
    let d = a.send_raw(&header(len, ty::DATA, flags::SYN, 1), 1);
    a.expect_error(&d, ProtocolError::FlowControl, 1);
    a.send_raw(&vec![0x55; len as usize], 0);
    assert_eq!(a.h.s.stats().data_received, 0);
    assert_eq!(a.m.peak_buffered, 0);
    a.done();
}

/// A SYN with a small metadata block and a data part one byte beyond the
/// stream window: refused right after the 2-byte Metadata Length, before
/// the block is stored.
/// Bound: 1 header and 2 bytes.
fn syn_meta_body_beyond_window(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let frame = data(
        1,
        flags::SYN | flags::META,
        &meta_payload(&block_of(8), &vec![0x66; STORE_WINDOW as usize + 1]),
    );
    let d = a.send_raw(&frame[..10], 1);
    a.expect_error(&d, ProtocolError::FlowControl, 1);
    a.send_raw(&frame[10..], 0);
    assert_eq!(a.m.peak_buffered, 0);
    a.done();
}

/// A SYN announcing a metadata block of 65535 bytes, in a frame the
/// victim's MAX_FRAME_SIZE (70 000) allows: refused from the 2-byte
/// Metadata Length, before any of the block is stored.
/// Bound: 1 header and 2 bytes.
fn oversized_metadata(ctx: &mut Ctx) {
    let mut config = server_config();
    config.max_frame_size = 70_000;
    let mut a = ctx.server_with(config, Settings::DEFAULT);
    assert_eq!(a.h.s.local_settings().max_open_metadata, 1024);
    let frame = data(1, flags::SYN | flags::META, &meta_payload(&block_of(0xFFFF), b""));
    let d = a.send_raw(&frame[..10], 1);
    a.expect_error(&d, ProtocolError::MetadataTooLarge, 1);
    a.send_raw(&frame[10..], 0);
    assert_eq!(a.m.peak_buffered, 0);
    a.done();
}

/// A first SETTINGS announcing 2^24-1 bytes: refused from its header (the
/// limit is 192), before the handshake completes.
/// Bound: the preface and 1 header.
fn oversized_settings_frame(ctx: &mut Ctx) {
    let mut a = ctx.fresh();
    a.send_raw(&preface(), 0);
    let d = a.send_raw(&header(MAX_PAYLOAD, ty::SETTINGS, 0, 0), 1);
    a.expect_error(&d, ProtocolError::BadFrameLength, 0);
    a.send_raw(&junk(), 0);
    a.done();
}

/// An HTTP/2 client (its connection preface, then its SETTINGS): refused
/// once the first 8 bytes are in; the rest is consumed unread.
/// Bound: 8 bytes.
fn bad_preface(ctx: &mut Ctx) {
    let mut a = ctx.fresh();
    let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let d = a.send_raw(&h2[..8], 0);
    a.expect_error(&d, ProtocolError::BadPreface, 0);
    let mut rest = h2[8..].to_vec();
    rest.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    rest.extend(junk());
    a.send_raw(&rest, 0);
    a.done();
}

/// Six bytes of a good preface, then the transport ends: the session ends
/// with the local reason "transport closed" and sends nothing beyond its
/// own preface and SETTINGS.
/// Bound: 6 bytes.
fn truncated_preface_eof(ctx: &mut Ctx) {
    let mut a = ctx.fresh();
    let d = a.send_raw(&preface()[..6], 0);
    assert!(d.frames.is_empty() && d.events.is_empty() && !a.ended(), "{d:?}");
    let d = a.eof();
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    let reason = CloseReason { local: Some(LocalError::TransportEof), remote: None };
    assert_eq!(d.events, vec![Event::Closed(reason)]);
    assert_eq!(reason.to_string(), "transport closed");
    a.done();
}

/// The handshake timeout of every victim, in seconds.
const HANDSHAKE_SECS: u64 = 10;

/// A valid preface and SETTINGS dribbled one byte per second never
/// completes: the handshake timeout (10 s, from the session's start, not
/// reset by input) ends the session with a GOAWAY NO_ERROR "handshake
/// timeout", whatever the peer keeps sending.
/// Bound: one byte per second of the timeout, 10 bytes.
fn handshake_slowloris(ctx: &mut Ctx) {
    let mut a = ctx.fresh();
    assert_eq!(a.h.s.config().handshake_timeout, Duration::from_secs(HANDSHAKE_SECS));
    let input = handshake();
    let mut d = Drained::default();
    for (second, byte) in input.iter().enumerate() {
        if second > 0 {
            d = a.advance(Duration::from_secs(1));
        }
        if a.ended() {
            break;
        }
        a.send_raw(&[*byte], 0);
    }
    assert_eq!(
        d.frames,
        vec![Out::GoAway { last: 0, code: ErrorCode::NO_ERROR, debug: b"handshake timeout".to_vec() }]
    );
    a.send_raw(&input[HANDSHAKE_SECS as usize..], 0);
    a.done();
}

/// A SYN with the victim's own parity at the highest even id, announcing
/// 16 KiB: refused from its header.
/// Bound: 1 header.
fn wrong_parity_syn(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let d = a.send_raw(&header(16_384, ty::DATA, flags::SYN, 0x7FFF_FFFE), 1);
    a.expect_error(&d, ProtocolError::WrongParity, 0);
    a.send_raw(&[0x42; 16_384], 0);
    assert_eq!(a.m.peak_streams, 0);
    a.done();
}

/// A SYN reusing the id of a stream that is over and forgotten (no
/// tombstone records it: the id is at or below the highest): refused from
/// its header, nothing resurrected.
/// Bound: 1 header.
fn reused_id_after_forget(ctx: &mut Ctx) {
    let mut a = ctx.server();
    a.h.forget_peer_stream(1);
    a.h.forget_peer_stream(3);
    a.flush();
    let d = a.send_raw(&header(100, ty::DATA, flags::SYN, 1), 1);
    a.expect_error(&d, ProtocolError::StreamReused, 3);
    assert_eq!(a.h.s.stream_info(StreamId(1)), None);
    a.done();
}

/// A second SYN for a live stream with 100 bytes buffered, announcing
/// 3000 more: refused from its header; the live stream keeps exactly its
/// 100 bytes (no replacement, no second window).
/// Bound: 1 header.
fn duplicate_syn_on_live_stream(ctx: &mut Ctx) {
    let mut a = ctx.server();
    a.accepted(1, &[9; 100]);
    let d = a.send_raw(&header(3000, ty::DATA, flags::SYN, 1), 1);
    a.expect_error(&d, ProtocolError::DuplicateSyn, 1);
    assert_eq!(a.h.s.stream_info(StreamId(1)).map(|i| i.readable), Some(100));
    a.done();
}

/// 16 KiB of DATA for id 2^31-1, never opened: refused from its header,
/// nothing charged to the session window.
/// Bound: 1 header.
fn data_for_idle_id(ctx: &mut Ctx) {
    let mut a = ctx.server();
    a.accepted(1, b"");
    let window = a.h.s.session_recv_window();
    let d = a.send_raw(&header(16_384, ty::DATA, 0, 0x7FFF_FFFF), 1);
    a.expect_error(&d, ProtocolError::IdleStream, 1);
    assert_eq!(a.h.s.session_recv_window(), window);
    a.done();
}

/// The peer announces a stream window of 2^31-1, so the session's own
/// stream starts with the largest send window; one WNDINC of 1 overflows it.
/// Bound: 1 WNDINC.
fn stream_window_overflow(ctx: &mut Ctx) {
    let mut a = ctx.server_with(server_config(), settings_with(|s| s.initial_stream_window = MAX_WINDOW));
    let id = a.h.s.open().expect("open");
    a.track(id);
    a.flush();
    assert_eq!(a.h.s.stream_info(id).map(|i| i.send_window), Some(MAX_WINDOW));
    let d = a.send(&wndinc(id.0, 1));
    a.expect_error(&d, ProtocolError::WindowOverflow, 0);
    a.done();
}

/// The peer announces a session window of 2^31-1; one session WNDINC of 1
/// overflows it.
/// Bound: 1 WNDINC.
fn session_window_overflow(ctx: &mut Ctx) {
    let mut a = ctx.server_with(server_config(), settings_with(|s| s.session_window = MAX_WINDOW));
    assert_eq!(a.h.s.session_send_window(), MAX_WINDOW);
    let d = a.send(&wndinc(0, 1));
    a.expect_error(&d, ProtocolError::WindowOverflow, 0);
    a.done();
}

/// The peer announces a stream credit of 2^31-1; one CREDIT of 1 overflows it.
/// Bound: 1 WNDINC.
fn credit_overflow(ctx: &mut Ctx) {
    let mut a = ctx.server_with(server_config(), settings_with(|s| s.stream_credit = MAX_WINDOW));
    assert_eq!(a.h.s.send_credit(), MAX_WINDOW);
    let d = a.send(&credit(1));
    a.expect_error(&d, ProtocolError::WindowOverflow, 0);
    a.done();
}

/// 1000 SYNs back to back against a credit of 2: the third is refused
/// from its header; the other 997 are consumed unread, and no more than
/// 2 streams ever exist.
/// Bound: 3 SYNs of 9 bytes.
fn credit_exceeded_syn_storm(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let storm: Vec<u8> = (0..1000u32).flat_map(|i| syn(1 + 2 * i, b"s")).collect();
    let d = a.send(&storm);
    a.expect_error(&d, ProtocolError::CreditExceeded, 3);
    assert!(a.m.peak_streams <= 2);
    a.done();
}

/// The session window of [`session_window_across_streams`]'s victim.
const SMALL_SESSION: u32 = 4096;

/// A session window of 4096 with stream windows of 3072: stream 1 takes
/// its whole window, stream 3 the 1024 left of the session's, then one
/// more byte on stream 3 (within its own window) exceeds the session
/// window: FLOW_CONTROL_ERROR. Memory never passes the session window.
/// Bound: 3 frames, the session window plus one byte of data.
fn session_window_across_streams(ctx: &mut Ctx) {
    let mut config = server_config();
    config.session_window = SMALL_SESSION;
    config.session_window_max = SMALL_SESSION;
    let mut a = ctx.server_with(config, Settings::DEFAULT);
    a.send(&syn(1, &[1; STORE_WINDOW as usize]));
    a.send(&syn(3, &[3; (SMALL_SESSION - STORE_WINDOW) as usize]));
    assert_eq!(a.h.s.session_recv_window(), 0);
    assert!(a.h.s.stream_info(StreamId(3)).is_some_and(|i| i.recv_window > 0));
    let d = a.send(&data(3, 0, b"+"));
    a.expect_error(&d, ProtocolError::FlowControl, 3);
    assert_eq!(a.m.peak_buffered, SMALL_SESSION as usize);
    a.done();
}

/// Frames and junk that follow a GOAWAY: SYNs, PINGs, SETTINGS, DATA, and
/// random bytes.
fn garbage_frames() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..200u32 {
        v.extend(syn(101 + 2 * i, b"late"));
        v.extend(ping(u64::from(i)));
        v.extend(settings(Settings::DEFAULT));
        v.extend(data(1, 0, &[7; 100]));
        v.extend(goaway(0, ErrorCode::INTERNAL_ERROR, b"again"));
    }
    v.extend(junk());
    v
}

/// The peer ends the session with a GOAWAY PROTOCOL_ERROR, then keeps
/// sending 1 MiB of frames and junk: the session ends at the GOAWAY,
/// sends nothing at all (not even a GOAWAY), decodes nothing more.
/// Bound: the GOAWAY, 19 bytes.
fn garbage_after_error_goaway(ctx: &mut Ctx) {
    let mut a = ctx.server();
    a.accepted(1, &[1; 100]);
    let d = a.send(&goaway(0, ErrorCode::PROTOCOL_ERROR, b"bye"));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(a.h.s.remote_debug(), b"bye");
    let decoded = a.h.s.stats().frames_received;
    let d = a.send(&garbage_frames());
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    assert_eq!(a.h.s.stats().frames_received, decoded, "frames decoded after the end");
    a.done();
}

/// The peer's graceful GOAWAY ends an idle session: it answers with its
/// own GOAWAY NO_ERROR and ends; the 1 MiB of frames and junk that follow
/// are consumed and ignored.
/// Bound: the GOAWAY, 16 bytes.
fn garbage_after_graceful_end(ctx: &mut Ctx) {
    let mut a = ctx.server();
    let d = a.send(&goaway(0, ErrorCode::NO_ERROR, b""));
    assert_eq!(d.frames, vec![Out::GoAway { last: 0, code: ErrorCode::NO_ERROR, debug: vec![] }]);
    assert!(a.ended());
    let decoded = a.h.s.stats().frames_received;
    let d = a.send(&garbage_frames());
    assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    assert_eq!(a.h.s.stats().frames_received, decoded, "frames decoded after the end");
    a.done();
}

/// PINGs in the first and last bursts of [`slowloris_never_reads`].
const SLOWLORIS_PINGS: u64 = 900 + 40;
/// WNDINCs in [`slowloris_never_reads`].
const SLOWLORIS_WNDINCS: u64 = 50;
/// Frames of [`slowloris_never_reads`]: the PINGs, the WNDINCs, two SYNs
/// and a DATA frame for the reset stream.
const SLOWLORIS_FRAMES: u64 = SLOWLORIS_PINGS + SLOWLORIS_WNDINCS + 3;
/// Bytes of [`slowloris_never_reads`].
const SLOWLORIS_BYTES: u64 =
    SLOWLORIS_PINGS * PING_BYTES + SLOWLORIS_WNDINCS * SMALL_BYTES + 3 * HEADER_BYTES + 3072 + 2000 + 2000;

/// A peer that never reads: the session never gets to write, yet it keeps
/// reading (spec.md [S-10.3]) and what it owes the peer stays bounded by
/// its own state, not by the attack: at most one PING ACK (940 PINGs
/// arrived), one session and one CREDIT update, one RST or WNDINC per
/// stream, and data within its send buffers. The peer asks for replies
/// (PINGs), makes the application read (stream updates owed), reset a
/// stream (an RST owed), discard data (session refund owed), write 8 KiB
/// and open a stream with metadata; then the output is taken once and
/// measured.
/// Bound: the script, 993 frames.
fn slowloris_never_reads(ctx: &mut Ctx) {
    let mut config = server_config();
    config.session_window = 8192;
    config.session_window_max = 8192;
    let mut a = ctx.server_with(config, Settings::DEFAULT);
    a.blocked = true;
    let pings: Vec<u8> = (0..900).flat_map(ping).collect();
    a.send(&pings);
    a.send(&syn(1, &[1; 3072]));
    assert_eq!(a.h.s.accept(), Ok(StreamId(1)));
    let mut buf = [0u8; 4096];
    assert_eq!(a.h.s.read(StreamId(1), &mut buf), Ok(3072));
    a.send(&syn(3, &[3; 2000]));
    assert_eq!(a.h.s.accept(), Ok(StreamId(3)));
    a.h.s.reset(StreamId(3), ErrorCode::CANCEL).expect("reset");
    assert_eq!(a.h.s.write(StreamId(1), &[0xAB; 8192]), Ok(STORE_TX));
    assert_eq!(a.h.s.write(StreamId(1), b"more"), Err(WriteError::WouldBlock));
    let mine = a.h.s.open_with(&block_of(512)).expect("open");
    assert_eq!(a.h.s.write(mine, &[0xCD; 8192]), Ok(STORE_TX - 512));
    a.track(mine);
    a.h.s.ping().expect("ping");
    let updates: Vec<u8> = (0..SLOWLORIS_WNDINCS).flat_map(|_| wndinc(1, 1000)).collect();
    a.send(&updates);
    a.send(&data(3, 0, &[3; 2000]));
    let pings: Vec<u8> = (900..SLOWLORIS_PINGS).flat_map(ping).collect();
    a.send(&pings);
    assert!(!a.ended());
    // One byte of room: frames are never split, nothing leaves.
    assert!(a.h.transmit(1).is_empty());
    assert!(a.h.s.transmit_needed() > 1);
    // The peer reads at last: everything the session owes, at once.
    a.blocked = false;
    let sent_before = a.h.sent.len();
    let d = a.flush();
    let owed = (a.h.sent.len() - sent_before) as u64;
    let count = |is: &dyn Fn(&Out) -> bool| d.frames.iter().filter(|f| is(f)).count();
    assert_eq!(count(&|f| matches!(f, Out::Ping { ack: true, .. })), 1, "{:?}", d.frames);
    assert_eq!(count(&|f| matches!(f, Out::Ping { ack: false, .. })), 1);
    assert!(count(&|f| matches!(f, Out::WndInc { stream: 0, credit: false, .. })) <= 1);
    assert!(count(&|f| matches!(f, Out::WndInc { stream: 0, credit: true, .. })) <= 1);
    for id in [1, 3, mine.0] {
        assert!(count(&|f| matches!(f, Out::Rst { stream, .. } if *stream == id)) <= 1);
        assert!(count(&|f| matches!(f, Out::WndInc { stream, .. } if *stream == id)) <= 1);
    }
    assert!(d.frames.contains(&Out::Rst { stream: 3, code: ErrorCode::CANCEL }));
    // The bound: a PING ACK and a PING, the two session updates, per slot
    // one RST or WNDINC (12), one opening frame with the largest metadata
    // (8+2+1024) and one DATA header, and every unsent byte.
    let slots = STORE_SLOTS as u64;
    let bound =
        2 * PING_BYTES + 2 * SMALL_BYTES + slots * (SMALL_BYTES + 8 + 2 + 1024 + 8) + slots * STORE_TX as u64;
    assert!(owed <= bound, "the session owed {owed} bytes after the attack; the bound is {bound}");
    a.done();
}

/// A peer that announces no window (stream and session windows 0): the
/// application writes until its send buffers are full (4 KiB per
/// stream), then `write` says WouldBlock; nothing but a SYN leaves, and a
/// stream WNDINC without session window changes nothing.
/// Bound: a SYN and a WNDINC.
fn zero_window_peer(ctx: &mut Ctx) {
    let peer = settings_with(|s| {
        s.initial_stream_window = 0;
        s.session_window = 0;
    });
    let mut a = ctx.server_with(server_config(), peer);
    a.send(&syn(1, b""));
    assert_eq!(a.h.s.accept(), Ok(StreamId(1)));
    let mine = a.h.s.open().expect("open");
    a.track(mine);
    for id in [StreamId(1), mine] {
        let mut written = 0;
        loop {
            match a.h.s.write(id, &[0x77; 1000]) {
                Ok(n) => written += n,
                Err(WriteError::WouldBlock) => break,
                Err(e) => panic!("write: {e:?}"),
            }
            assert!(written <= STORE_TX, "{written} bytes taken into a {STORE_TX}-byte buffer");
        }
        assert_eq!(written, STORE_TX);
        a.track(id);
    }
    let d = a.flush();
    assert_eq!(d.frames, vec![Out::Data { stream: mine.0, flags: flags::SYN, payload: vec![] }]);
    let d = a.send(&wndinc(1, 100));
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(a.m.peak_buffered, 2 * STORE_TX);
    a.done();
}

/// Streams the [`full_window_every_stream`] victim grants.
const FULL_CREDIT: u64 = 4;
/// The metadata limit it announces.
const FULL_META: u64 = 1024;
/// The stream window it announces.
const FULL_WINDOW: u64 = 3072;

/// A growable storage (8 slots of 4 KiB buffers: credit 4, stream window
/// 3072, metadata 1024) and a session window of exactly 4 × 3072: the peer
/// opens every stream its credit allows, each with a 1024-byte metadata
/// block and a full window of data, and the application accepts none.
/// Memory is exactly what was announced: 4 × (3072 + 1024) bytes buffered,
/// the same heap held by the buffers, the session window at 0. One byte
/// more ends the session with FLOW_CONTROL_ERROR.
/// Bound: 4 SYNs of 4106 bytes and a 1-byte DATA.
fn full_window_every_stream(ctx: &mut Ctx) {
    let mut config = server_config();
    config.session_window = (FULL_CREDIT * FULL_WINDOW) as u32;
    config.session_window_max = config.session_window;
    let limits = Limits { streams: 8, rx: 4096, tx: 4096 };
    let mut a = ctx.victim(config, VecStorage::new(8, 4096, 4096), limits);
    let local = *a.h.s.local_settings();
    assert_eq!(
        (
            u64::from(local.stream_credit),
            u64::from(local.max_open_metadata),
            u64::from(local.initial_stream_window)
        ),
        (FULL_CREDIT, FULL_META, FULL_WINDOW)
    );
    let announced = (FULL_CREDIT * (FULL_WINDOW + FULL_META)) as usize;
    for i in 0..FULL_CREDIT as u32 {
        let payload = meta_payload(&block_of(FULL_META as usize), &[i as u8; FULL_WINDOW as usize]);
        let d = a.send(&data(1 + 2 * i, flags::SYN | flags::META, &payload));
        assert!(d.frames.is_empty(), "{:?}", d.frames);
    }
    assert_eq!(a.h.s.streams_in_use(), FULL_CREDIT as usize);
    assert_eq!(a.h.s.session_recv_window(), 0);
    assert_eq!(a.m.peak_buffered, announced, "buffered: exactly what was announced");
    assert_eq!(a.m.peak_allocated, Some(announced), "heap: exactly what was announced");
    let d = a.send(&data(1, 0, b"+"));
    a.expect_error(&d, ProtocolError::FlowControl, 7);
    a.done();
}

/// PING ACKs in [`ping_ack_flood`].
const PING_ACKS: u64 = 10_000;

/// 10 000 PING ACKs that answer no PING: spec.md §12 lets them go
/// uncounted, as they cause no reply and no memory growth. The session
/// absorbs them: nothing sent, no stream, no buffer, and it stays open.
/// Bound: 10 000 frames, no output.
fn ping_ack_flood(ctx: &mut Ctx) {
    let mut a = ctx.server();
    for batch in 0..PING_ACKS / 500 {
        let acks: Vec<u8> = (0..500).flat_map(|i| ping_ack(batch * 500 + i + 7)).collect();
        let d = a.send(&acks);
        assert!(d.frames.is_empty() && d.events.is_empty(), "{d:?}");
    }
    assert_eq!(a.m.peak_buffered, 0);
    a.done();
}

/// A stream the application reset, whose RST cannot leave because the
/// peer never reads: the stream stays known until the RST is sent. RSTs
/// and empty DATA with FIN for it move nothing and are dropped; like
/// every frame that costs work without moving data they must spend the
/// flood budget, and B+1 of them must end the session with
/// ENHANCE_YOUR_CALM. (Known engine bug: see [`KNOWN_ENGINE_BUGS`].)
/// Bound: B+1 frames of at most 12 bytes.
fn frames_for_a_reset_stream_while_output_blocked(ctx: &mut Ctx) {
    let mut a = ctx.server();
    a.accepted(1, b"");
    a.blocked = true;
    a.h.s.reset(StreamId(1), ErrorCode::CANCEL).expect("reset");
    let cap = 4 * (BURST + 1);
    let mut events = Vec::new();
    while !a.ended() && a.m.frames < cap {
        let batch: Vec<u8> = (0..100)
            .flat_map(|i| if i % 2 == 0 { rst(1, ErrorCode::CANCEL) } else { data(1, flags::FIN, b"") })
            .collect();
        events.extend(a.send(&batch).events);
    }
    assert!(
        a.ended(),
        "{} frames for a reset stream (RSTs and empty FINs) processed and the session is still open: \
         they spend no flood token",
        a.m.frames
    );
    a.blocked = false;
    let mut d = a.flush();
    events.append(&mut d.events);
    d.events = events;
    assert_eq!(a.m.frames, BURST + 1);
    a.expect_error(&d, ProtocolError::Flood, 1);
    a.done();
}
