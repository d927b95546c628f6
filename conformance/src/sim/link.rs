//! The simulated link: two one-way pipes between the hosts, each with
//! latency, jitter, bandwidth and a send buffer, that cut writes into
//! pieces, coalesce pieces into one delivery or hand over only part of what
//! arrived, stall, close (EOF), get cut mid-frame, or go silent.
//!
//! Bytes are never lost, reordered or duplicated while a pipe is open: the
//! link is a reliable ordered byte pipe, as braid requires. Faults only ever
//! end a pipe: at an EOF after everything queued, at an EOF after a random
//! prefix of it (a reset), or by swallowing everything (silence).

use super::rng::Rng;
use braid::{Duration, Instant};
use std::collections::VecDeque;

/// How one pipe behaves; drawn per epoch from the seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PipeParams {
    /// One-way delay of every byte.
    pub(crate) latency_us: u64,
    /// Extra random delay, 0..=jitter (order is kept regardless).
    pub(crate) jitter_us: u64,
    /// Wire speed in bytes per millisecond; 0 is unlimited.
    pub(crate) bytes_per_ms: u64,
    /// Most bytes written and not yet delivered; the sending host stops
    /// calling `poll_transmit` when it is full (TCP send buffer and window).
    pub(crate) send_buffer: usize,
    /// Per-mille chance that one write is cut into pieces sent separately.
    pub(crate) split_per_mille: u32,
    /// Per-mille chance that a delivery hands over only a prefix of what
    /// arrived, the rest a little later.
    pub(crate) partial_per_mille: u32,
}

impl PipeParams {
    /// The longest a byte can take from `poll_transmit` to `handle_input`
    /// when the receiver is not stalled, or `None` if unbounded (no send
    /// buffer limit on a bandwidth-limited pipe).
    pub(crate) fn worst_delay_us(&self) -> Option<u64> {
        let queueing = if self.bytes_per_ms == 0 {
            0
        } else if self.send_buffer == usize::MAX {
            return None;
        } else {
            (self.send_buffer as u64 * 1000).div_ceil(self.bytes_per_ms)
        };
        Some(self.latency_us + self.jitter_us + queueing + PARTIAL_DELAY_MAX_US * 4)
    }
}

/// The most a partial delivery defers the rest of the bytes.
const PARTIAL_DELAY_MAX_US: u64 = 500;

/// Bytes (or the end of the pipe) in flight, due at `at`.
#[derive(Debug)]
struct Segment {
    bytes: Vec<u8>,
    at: Instant,
    eof: bool,
}

/// What a pipe hands to the receiving host at once.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// Consecutive pieces, each for one `handle_input` call.
    pub(crate) pieces: Vec<Vec<u8>>,
    /// The sender closed: `handle_eof` after the pieces.
    pub(crate) eof: bool,
}

/// One direction of the link.
#[derive(Debug)]
pub(crate) struct Pipe {
    params: PipeParams,
    queue: VecDeque<Segment>,
    /// Bytes written and not yet delivered.
    queued: usize,
    /// When the wire has finished serialising what it was given.
    wire_free: Instant,
    /// Arrival time of the last segment queued: later ones never overtake.
    last_at: Instant,
    stalled_until: Instant,
    closed: bool,
    black_hole: bool,
    /// When the receiver last got a non-empty delivery.
    pub(crate) last_delivery: Option<Instant>,
    /// Bytes delivered so far.
    pub(crate) delivered: u64,
}

impl Pipe {
    /// An empty, open pipe.
    pub(crate) fn new(params: PipeParams) -> Self {
        Pipe {
            params,
            queue: VecDeque::new(),
            queued: 0,
            wire_free: Instant::ZERO,
            last_at: Instant::ZERO,
            stalled_until: Instant::ZERO,
            closed: false,
            black_hole: false,
            last_delivery: None,
            delivered: 0,
        }
    }

    /// How this pipe behaves.
    pub(crate) fn params(&self) -> &PipeParams {
        &self.params
    }

    /// Bytes the sending host may write now.
    pub(crate) fn room(&self) -> usize {
        if self.black_hole {
            usize::MAX
        } else if self.closed {
            0
        } else {
            self.params.send_buffer.saturating_sub(self.queued)
        }
    }

    /// Whether nothing is in flight (a swallowing pipe is always idle).
    pub(crate) fn is_idle(&self) -> bool {
        self.black_hole || self.queue.is_empty()
    }

    /// Whether the pipe swallows everything.
    pub(crate) fn is_black_hole(&self) -> bool {
        self.black_hole
    }

    /// Bytes in flight.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// Until when the receiver is stalled.
    pub(crate) fn stalled_until(&self) -> Instant {
        self.stalled_until
    }

    /// Queue `bytes` written at `now`, maybe cut into pieces that cross
    /// the wire one after another.
    pub(crate) fn send(&mut self, now: Instant, bytes: &[u8], rng: &mut Rng) {
        if self.black_hole || bytes.is_empty() {
            return;
        }
        assert!(!self.closed, "simulator bug: host wrote after closing its transport");
        let mut rest = bytes;
        while !rest.is_empty() {
            let cut = if rest.len() > 1 && rng.chance(self.params.split_per_mille) {
                rng.range(1, rest.len() as u64 - 1) as usize
            } else {
                rest.len()
            };
            let (piece, tail) = rest.split_at(cut);
            self.push(now, piece.to_vec(), false, rng);
            rest = tail;
        }
        self.queued += bytes.len();
    }

    fn push(&mut self, now: Instant, bytes: Vec<u8>, eof: bool, rng: &mut Rng) {
        let p = self.params;
        let tx_us =
            if p.bytes_per_ms == 0 { 0 } else { (bytes.len() as u64 * 1000).div_ceil(p.bytes_per_ms) };
        let start = now.max(self.wire_free);
        self.wire_free = start + Duration::from_micros(tx_us);
        let jitter = rng.below(p.jitter_us + 1);
        let at = (self.wire_free + Duration::from_micros(p.latency_us + jitter)).max(self.last_at);
        self.last_at = at;
        self.queue.push_back(Segment { bytes, at, eof });
    }

    /// The sender closed its end: EOF reaches the receiver after every byte
    /// already queued. Further writes are a bug of the sending host.
    pub(crate) fn close(&mut self, now: Instant, rng: &mut Rng) {
        if self.black_hole || self.closed {
            return;
        }
        self.push(now, Vec::new(), true, rng);
        self.closed = true;
    }

    /// Abrupt end: keep a random prefix of the undelivered bytes (cutting
    /// through frames), then EOF. Returns the bytes cut.
    pub(crate) fn reset(&mut self, now: Instant, rng: &mut Rng) -> usize {
        if self.black_hole || self.closed {
            return 0;
        }
        let keep = rng.below(self.queued as u64 + 1) as usize;
        let mut kept = 0;
        let mut out = VecDeque::new();
        while let Some(mut s) = self.queue.pop_front() {
            if kept + s.bytes.len() <= keep {
                kept += s.bytes.len();
                out.push_back(s);
            } else {
                s.bytes.truncate(keep - kept);
                kept = keep;
                if !s.bytes.is_empty() {
                    out.push_back(s);
                }
                break;
            }
        }
        let cut = self.queued - kept;
        self.queue = out;
        self.queued = kept;
        self.close(now, rng);
        cut
    }

    /// Silence: drop everything in flight and swallow whatever comes later.
    pub(crate) fn swallow(&mut self) {
        self.queue.clear();
        self.queued = 0;
        self.black_hole = true;
    }

    /// Stop delivering until `until`.
    pub(crate) fn stall(&mut self, until: Instant) {
        self.stalled_until = self.stalled_until.max(until);
    }

    /// When the next delivery is due, if anything is in flight.
    pub(crate) fn next_event(&self) -> Option<Instant> {
        if self.black_hole {
            return None;
        }
        self.queue.front().map(|s| s.at.max(self.stalled_until))
    }

    /// Everything due by `now`, coalesced, then cut into `handle_input`
    /// pieces at random points; sometimes only a prefix, the rest deferred.
    pub(crate) fn take(&mut self, now: Instant, rng: &mut Rng) -> Option<Delivery> {
        if self.black_hole || now < self.stalled_until || self.queue.front().is_none_or(|s| s.at > now) {
            return None;
        }
        let mut bytes = Vec::new();
        let mut eof = false;
        while let Some(s) = self.queue.front() {
            if s.at > now {
                break;
            }
            let s = self.queue.pop_front().expect("front exists");
            if s.eof {
                eof = true;
                break;
            }
            bytes.extend_from_slice(&s.bytes);
        }
        if bytes.len() > 1 && rng.chance(self.params.partial_per_mille) {
            let cut = rng.range(1, bytes.len() as u64 - 1) as usize;
            let rest = bytes.split_off(cut);
            let at = now + Duration::from_micros(rng.range(1, PARTIAL_DELAY_MAX_US));
            if eof {
                self.queue.push_front(Segment { bytes: Vec::new(), at, eof: true });
                eof = false;
            }
            self.queue.push_front(Segment { bytes: rest, at, eof: false });
        }
        self.queued -= bytes.len();
        if !bytes.is_empty() {
            self.last_delivery = Some(now);
            self.delivered += bytes.len() as u64;
        }
        Some(Delivery { pieces: chunk(bytes, rng), eof })
    }
}

/// Cut `bytes` into pieces: whole, at random sizes, or byte by byte.
fn chunk(bytes: Vec<u8>, rng: &mut Rng) -> Vec<Vec<u8>> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let max = match rng.below(8) {
        0..=3 => return vec![bytes],
        4 if bytes.len() <= 256 => 1,
        4 | 5 => 7,
        6 => 64,
        _ => 512,
    };
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let n = rng.range(1, max.min(rest.len()) as u64) as usize;
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PipeParams {
        PipeParams {
            latency_us: 1000,
            jitter_us: 300,
            bytes_per_ms: 10,
            send_buffer: 10_000,
            split_per_mille: 500,
            partial_per_mille: 500,
        }
    }

    #[test]
    fn bytes_arrive_in_order_and_whole() {
        let mut rng = Rng::new(1);
        let mut p = Pipe::new(params());
        let data: Vec<u8> = (0..=255).collect();
        for c in data.chunks(37) {
            p.send(Instant::ZERO, c, &mut rng);
        }
        p.close(Instant::ZERO, &mut rng);
        let mut got = Vec::new();
        let mut eof = false;
        while let Some(t) = p.next_event() {
            let d = p.take(t, &mut rng).expect("due");
            got.extend(d.pieces.concat());
            eof |= d.eof;
        }
        assert_eq!(got, data);
        assert!(eof);
        assert_eq!(p.queued(), 0);
    }

    #[test]
    fn reset_keeps_a_prefix() {
        let mut rng = Rng::new(2);
        let mut p = Pipe::new(params());
        let data: Vec<u8> = (0..100).collect();
        p.send(Instant::ZERO, &data, &mut rng);
        p.reset(Instant::ZERO, &mut rng);
        let mut got = Vec::new();
        while let Some(t) = p.next_event() {
            got.extend(p.take(t, &mut rng).expect("due").pieces.concat());
        }
        assert_eq!(got[..], data[..got.len()]);
    }
}
