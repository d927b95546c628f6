//! Random operations: what the two applications, the clock and the fault
//! injector do next, drawn from the seed.

use super::rng::Rng;
use super::scenario::{Kind, Mix, KINDS};
use braid::{ErrorCode, MetadataWriter};

/// A metadata block to open or accept with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The bytes, as the application passes them.
    pub(crate) bytes: Vec<u8>,
    /// Deliberately not a well-formed block.
    pub(crate) malformed: bool,
}

/// How a crashed peer disappears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CrashKind {
    /// The process died; its kernel flushed what was queued and closed.
    Eof,
    /// The connection was cut: a random prefix of what was in flight (and
    /// maybe half of one last write) arrives, then EOF.
    Reset,
    /// The peer vanished: nothing more arrives either way, and no EOF.
    Silence,
}

/// One step of the workload. `side` is 0 for the client, 1 for the
/// server; `pick` chooses among the streams that side's application knows.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// Open a stream, maybe with metadata.
    Open { side: usize, meta: Option<Meta> },
    /// Write `len` bytes of the stream's pattern.
    Write { side: usize, pick: u64, len: usize },
    /// Read up to `max` bytes in reads of `buf` bytes.
    Read { side: usize, pick: u64, max: usize, buf: usize },
    /// Half-close.
    Finish { side: usize, pick: u64 },
    /// Reset with a code.
    Reset { side: usize, pick: u64, code: ErrorCode },
    /// Accept the oldest incoming stream, maybe with reply metadata.
    Accept { side: usize, reply: Option<Meta> },
    /// Refuse the oldest incoming stream.
    Refuse { side: usize, code: ErrorCode },
    /// Send a PING.
    Ping { side: usize },
    /// Send GOAWAY.
    GoAway { side: usize, code: ErrorCode, debug: Vec<u8> },
    /// End the session now.
    Close { side: usize },
    /// Let time run to the next thing due (a delivery, a timer).
    Settle,
    /// Let `us` microseconds pass.
    Advance { us: u64 },
    /// The receiving host of pipe `dir` (0: client to server) stops
    /// reading for `us` microseconds.
    Stall { dir: usize, us: u64 },
    /// A host dies.
    Crash { side: usize, kind: CrashKind },
    /// The host gives back the memory of empty stream buffers.
    Trim { side: usize },
    /// The host calls `handle_timeout` before anything is due ("early or
    /// often is harmless").
    Tick { side: usize },
}

/// Draws operations.
pub(crate) struct Workload {
    rng: Rng,
    mix: Mix,
}

impl Workload {
    /// A workload drawing from `rng` with the weights of `mix`.
    pub(crate) fn new(rng: Rng, mix: Mix) -> Self {
        Workload { rng, mix }
    }

    /// The next operation.
    pub(crate) fn next_op(&mut self) -> Op {
        let r = &mut self.rng;
        let side = r.below(2) as usize;
        let pick = r.next_u64();
        match KINDS[r.weighted(&self.mix.weights)] {
            Kind::Open => Op::Open { side, meta: r.chance(300).then(|| meta(r)) },
            Kind::Write => {
                let len = match r.below(20) {
                    0 => 0,
                    1..=4 => r.range(1, 16),
                    5..=11 => r.range(16, 200),
                    12..=16 => r.range(200, 1500),
                    _ => r.range(1500, 4000),
                } as usize;
                Op::Write { side, pick, len }
            }
            Kind::Read => {
                let max = r.pick(&[1, 50, 500, usize::MAX, usize::MAX]);
                let buf = r.pick(&[1, 7, 64, 300, 1024]);
                Op::Read { side, pick, max, buf }
            }
            Kind::Finish => Op::Finish { side, pick },
            Kind::Reset => Op::Reset { side, pick, code: code(r) },
            Kind::Accept => Op::Accept { side, reply: r.chance(300).then(|| meta(r)) },
            Kind::Refuse => Op::Refuse { side, code: code(r) },
            Kind::Ping => Op::Ping { side },
            Kind::GoAway => {
                let code = if r.chance(750) {
                    ErrorCode::NO_ERROR
                } else {
                    ErrorCode::application(r.below(9) as u32)
                };
                let n = r.pick(&[0, 3, 64, 80]);
                let debug = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                Op::GoAway { side, code, debug }
            }
            Kind::Close => Op::Close { side },
            Kind::Settle => Op::Settle,
            Kind::Advance => {
                let us = match r.below(10) {
                    0 => 0,
                    1..=4 => r.range(1, 2000),
                    5..=7 => r.range(2000, 50_000),
                    8 => r.range(50_000, 500_000),
                    _ => r.range(500_000, 3_000_000),
                };
                Op::Advance { us }
            }
            Kind::Stall => {
                let us = match r.below(4) {
                    0 => r.range(1000, 20_000),
                    1 | 2 => r.range(20_000, 200_000),
                    _ => r.range(200_000, 2_000_000),
                };
                Op::Stall { dir: side, us }
            }
            Kind::Trim => Op::Trim { side },
            Kind::Tick => Op::Tick { side },
            Kind::Crash => {
                let kind = r.pick(&[CrashKind::Eof, CrashKind::Reset, CrashKind::Silence]);
                Op::Crash { side, kind }
            }
        }
    }
}

/// A stream reset or refusal code: CANCEL, REFUSED, STREAM_RESET, an
/// application code, rarely NO_ERROR.
fn code(r: &mut Rng) -> ErrorCode {
    match r.below(10) {
        0 => ErrorCode::NO_ERROR,
        1 | 2 => ErrorCode::CANCEL,
        3 => ErrorCode::REFUSED,
        4 => ErrorCode::STREAM_RESET,
        _ => ErrorCode::application(r.below(100) as u32),
    }
}

/// A metadata block: a type and up to three headers, sometimes too large
/// for the peer, rarely malformed.
pub(crate) fn meta(r: &mut Rng) -> Meta {
    if r.chance(50) {
        // A header with an empty name: not a well-formed block.
        let bytes = vec![0, 0, 0, 7, 0, 0, 1, b'x'];
        return Meta { bytes, malformed: true };
    }
    let mut buf = [0u8; 256];
    let mut w = MetadataWriter::new(&mut buf, r.next_u64() as u32).expect("room for the type");
    for _ in 0..r.below(4) {
        let name: Vec<u8> = (0..r.range(1, 8)).map(|_| b'a' + r.below(26) as u8).collect();
        let value: Vec<u8> = (0..r.range(0, 24)).map(|_| r.next_u64() as u8).collect();
        w = w.header(&name, &value).expect("room for a header");
    }
    Meta { bytes: w.finish().to_vec(), malformed: false }
}
