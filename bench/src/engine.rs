//! Group `engine`: the sans-io engine on its own, two sessions joined in
//! memory, no runtime and no sockets.
//!
//! Figures, in the order printed:
//!
//! - `engine_throughput` (GiB/s): payload moved on one stream from a writer
//!   session to a reader session, through real frames: the writer `write`s
//!   64 KiB chunks, `poll_transmit` encodes DATA frames into a wire buffer,
//!   the reader's `handle_input` decodes them, the reader `read`s 64 KiB at
//!   a time, and its WNDINCs flow back the same way. The clock is the real
//!   monotonic clock. Each run moves [`RUN_BYTES`] after a short warm-up and
//!   ends with FIN/EOF; the best of [`RUNS`] runs is printed. Received bytes
//!   are counted against sent bytes and their content is checked (see
//!   [`Checker`]), so a broken engine fails instead of looking fast.
//! - `memcpy_throughput` (GiB/s): plain 64 KiB `copy_from_slice` calls along
//!   the same chain of buffers the engine path copies through (64 KiB
//!   source → 1 MiB send buffer → 256 KiB wire → 1 MiB receive buffer →
//!   64 KiB destination), counted per byte copied; best of [`RUNS`] runs,
//!   interleaved with the engine runs.
//! - `engine_vs_memcpy` (ratio): `engine_throughput / memcpy_throughput`.
//!   The engine copies each payload byte four times (write, transmit, input,
//!   read), so 0.25 is the ceiling of a four-copy design; the bar is ≥ 0.10.
//! - `stream_state_bytes`: `size_of::<braid::Stream>()`, one stream's state
//!   without its buffers (bar ≤ 64).
//! - `session_bytes_4x256`: `size_of` a whole no-alloc session with 4
//!   streams and 256-byte buffers each way, buffers included:
//!   `Session<ArrayStorage<4, 256, 256>>` (bar ≤ 4096).
//! - `session_bytes_4x256_announced_window`: the per-stream window that
//!   session announces with a configuration sensible for its storage
//!   (`max_open_metadata` 32): what "256-byte buffers" buys a peer.
//! - `steady_state_allocations` / `steady_state_bytes_allocated`: heap
//!   allocation calls and bytes during a 64 MiB transfer with
//!   `VecStorage`, after a warm-up (stream open, 4 MiB moved), counted by
//!   the process's counting global allocator (bar: 0 allocations).

use crate::counting_alloc;
use crate::{figure, GroupResult};
use braid::{
    ArrayStorage, Config, Event, Instant, ReadError, Role, Session, Storage, Stream, StreamId, VecStorage,
    WriteError,
};
use std::hint::black_box;
use std::time::Instant as Clock;

/// Bytes in a KiB.
const KIB: usize = 1024;
/// Bytes in a MiB.
const MIB: usize = 1024 * KIB;
/// Bytes in a GiB, as a float for rates.
const GIB: f64 = (1u64 << 30) as f64;

/// The writer's write size and the reader's read size.
const CHUNK: usize = 64 * KIB;
/// Per-stream receive and send buffer of the throughput sessions.
const STREAM_BUFFER: usize = MIB;
/// The in-memory wire buffer `poll_transmit` writes into.
const WIRE: usize = 256 * KIB;
/// Payload moved in each timed engine run.
const RUN_BYTES: u64 = 4 << 30;
/// Payload moved before a timed run starts, to fault in the buffers.
const WARMUP_BYTES: u64 = 4 * MIB as u64;
/// Timed runs of each measurement; the best is printed.
const RUNS: usize = 5;
/// Payload moved while allocations are counted.
const STEADY_BYTES: u64 = 64 * MIB as u64;

/// The throughput configuration, both sides: a 1 MiB stream window (no
/// auto-tuning: `stream_window_max` equals it), a 4 MiB session window, and
/// the default 16 KiB maximum frame size; over
/// `VecStorage::new(4, 1 MiB, 1 MiB)`, which clamps the announced stream
/// window to 1 MiB less the 1 KiB metadata allowance. The writer and reader
/// take turns on one thread, so each turn moves up to a window's worth
/// (about 1 MiB, in 16 KiB frames through the 256 KiB wire) before the
/// reader's WNDINCs reopen it.
fn throughput_config(role: Role) -> Config {
    Config {
        stream_window: MIB as u32,
        stream_window_max: MIB as u32,
        session_window: 4 * MIB as u32,
        session_window_max: 4 * MIB as u32,
        ..Config::new(role)
    }
}

/// The storage behind each throughput session.
fn throughput_storage() -> VecStorage {
    VecStorage::new(4, STREAM_BUFFER, STREAM_BUFFER)
}

/// Run the group.
pub fn run() -> GroupResult {
    let mut engine_best = 0.0f64;
    let mut memcpy_best = 0.0f64;
    let mut copies = CopyChain::new();
    for i in 1..=RUNS {
        let engine = engine_run()?;
        let memcpy = copies.run(RUN_BYTES)?;
        eprintln!("engine: run {i}/{RUNS}: engine {engine:.3} GiB/s, memcpy {memcpy:.3} GiB/s");
        engine_best = engine_best.max(engine);
        memcpy_best = memcpy_best.max(memcpy);
    }
    figure("engine_throughput", format_args!("{engine_best:.3}"), "GiB/s");
    figure("memcpy_throughput", format_args!("{memcpy_best:.3}"), "GiB/s");
    figure("engine_vs_memcpy", format_args!("{:.3}", engine_best / memcpy_best), "ratio");

    figure("stream_state_bytes", core::mem::size_of::<Stream>(), "bytes");
    figure("session_bytes_4x256", core::mem::size_of::<Session<ArrayStorage<4, 256, 256>>>(), "bytes");
    let small = Config { max_open_metadata: 32, ..Config::client() };
    let session = Session::new(small, ArrayStorage::<4, 256, 256>::new(), Instant::ZERO);
    figure("session_bytes_4x256_announced_window", session.local_settings().initial_stream_window, "bytes");

    let counts = steady_state_allocations()?;
    figure("steady_state_allocations", counts.allocations, "allocations");
    figure("steady_state_bytes_allocated", counts.bytes, "bytes");
    Ok(())
}

/// One timed engine run on a fresh link: warm up, then move [`RUN_BYTES`]
/// and the FIN. Returns GiB/s of payload.
fn engine_run() -> Result<f64, String> {
    let mut link = Link::new()?;
    link.transfer(WARMUP_BYTES, false)?;
    let start = Clock::now();
    link.transfer(RUN_BYTES, true)?;
    let secs = start.elapsed().as_secs_f64();
    Ok(RUN_BYTES as f64 / GIB / secs)
}

/// Allocations during a [`STEADY_BYTES`] transfer after warm-up.
fn steady_state_allocations() -> Result<counting_alloc::Counts, String> {
    let mut link = Link::new()?;
    link.transfer(WARMUP_BYTES, false)?;
    counting_alloc::reset();
    link.transfer(STEADY_BYTES, false)?;
    let counts = counting_alloc::counts();
    link.transfer(0, true)?;
    Ok(counts)
}

/// The expected byte at `offset` of the benchmark stream.
///
/// The stream is a sequence of 64 KiB chunks; each starts with its index
/// (8 bytes, little-endian) and continues with a pattern whose period (251)
/// does not divide the chunk size, so lost, repeated or shifted bytes show.
fn expected(offset: u64) -> u8 {
    let in_chunk = (offset % CHUNK as u64) as usize;
    if in_chunk < 8 {
        (offset / CHUNK as u64).to_le_bytes()[in_chunk]
    } else {
        pattern(in_chunk)
    }
}

/// The pattern byte at `in_chunk` bytes into a chunk (past its index).
fn pattern(in_chunk: usize) -> u8 {
    (in_chunk % 251) as u8 ^ 0x5a
}

/// Checks what the reader receives against [`expected`].
///
/// Reads overlapping the stream's first chunk or the last chunk of the
/// current transfer are checked byte by byte; every other read is sampled:
/// its first and last byte, and the 8-byte index of every chunk that starts
/// inside it (so every chunk's index is checked, wherever reads split).
struct Checker {
    /// Offsets from here on are checked in full (the last chunk of the transfer).
    tail_from: u64,
}

impl Checker {
    /// Check `data`, received at stream offset `at`.
    fn check(&self, at: u64, data: &[u8]) -> Result<(), String> {
        let end = at + data.len() as u64;
        let mismatch = |i: usize| {
            Err(format!(
                "wrong byte at stream offset {}: got {:#04x}, expected {:#04x}",
                at + i as u64,
                data[i],
                expected(at + i as u64)
            ))
        };
        if at < CHUNK as u64 || end > self.tail_from {
            return match data.iter().enumerate().position(|(i, &b)| b != expected(at + i as u64)) {
                Some(i) => mismatch(i),
                None => Ok(()),
            };
        }
        // The first and last byte, then the index of every chunk starting here.
        let chunk = CHUNK as u64;
        let first_boundary = at.div_ceil(chunk) * chunk;
        let indexes = (first_boundary..end).step_by(CHUNK).flat_map(|b| b..(b + 8).min(end));
        let samples = [at, end - 1].into_iter().chain(indexes);
        match samples.map(|o| (o - at) as usize).find(|&i| data[i] != expected(at + i as u64)) {
            Some(i) => mismatch(i),
            None => Ok(()),
        }
    }
}

/// A client (writer) and a server (reader) session with one stream open
/// between them, joined through one in-memory wire buffer used in turn by
/// both directions.
struct Link {
    /// The writer.
    client: Session<VecStorage>,
    /// The reader.
    server: Session<VecStorage>,
    /// The stream, as the writer knows it.
    tx_id: StreamId,
    /// The stream, as the reader knows it.
    rx_id: StreamId,
    /// The epoch of the sessions' clock.
    epoch: Clock,
    /// Where `poll_transmit` writes and `handle_input` reads.
    wire: Vec<u8>,
    /// The writer's 64 KiB source chunk.
    chunk: Vec<u8>,
    /// The reader's 64 KiB destination.
    out: Vec<u8>,
    /// Payload bytes the writer's `write` accepted.
    sent: u64,
    /// Payload bytes the reader's `read` returned.
    received: u64,
}

impl Link {
    /// Two connected sessions with one stream, opened and accepted.
    fn new() -> Result<Self, String> {
        let epoch = Clock::now();
        let now = Instant::ZERO;
        let mut link = Link {
            client: Session::new(throughput_config(Role::Client), throughput_storage(), now),
            server: Session::new(throughput_config(Role::Server), throughput_storage(), now),
            tx_id: StreamId(0),
            rx_id: StreamId(0),
            epoch,
            wire: vec![0; WIRE],
            chunk: (0..CHUNK).map(pattern).collect(),
            out: vec![0; CHUNK],
            sent: 0,
            received: 0,
        };
        for _ in 0..4 {
            link.exchange()?;
        }
        link.drain_client_events()?;
        link.drain_server_events()?;
        link.tx_id = link.client.open().map_err(|e| format!("open: {e}"))?;
        link.exchange()?;
        link.drain_client_events()?;
        let mut accepted = None;
        while let Some(event) = link.server.poll_event() {
            match event {
                Event::Incoming => accepted = Some(link.server.accept().map_err(|e| format!("accept: {e}"))?),
                Event::Connected => {}
                other => return Err(format!("reader: unexpected event during open: {other:?}")),
            }
        }
        link.rx_id = accepted.ok_or("reader: no incoming stream after the writer opened one")?;
        link.exchange()?;
        Ok(link)
    }

    /// The sessions' clock: microseconds of the real monotonic clock.
    fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    /// Move everything both sides have to send, once each way.
    fn exchange(&mut self) -> Result<u64, String> {
        let now = self.now();
        let a = flush(now, &mut self.client, &mut self.server, &mut self.wire)?;
        let b = flush(now, &mut self.server, &mut self.client, &mut self.wire)?;
        Ok(a + b)
    }

    /// Drain the writer's events; anything but flow events is a failure.
    fn drain_client_events(&mut self) -> Result<(), String> {
        while let Some(event) = self.client.poll_event() {
            match event {
                Event::Connected | Event::Writable(_) | Event::OpenReady => {}
                other => return Err(format!("writer: unexpected event {other:?}")),
            }
        }
        Ok(())
    }

    /// Drain the reader's events; anything but flow events is a failure.
    fn drain_server_events(&mut self) -> Result<(), String> {
        while let Some(event) = self.server.poll_event() {
            match event {
                Event::Connected | Event::Readable(_) | Event::Finished(_) => {}
                other => return Err(format!("reader: unexpected event {other:?}")),
            }
        }
        Ok(())
    }

    /// Move `bytes` more payload from writer to reader (and, with `fin`,
    /// the FIN, read as end of stream), checking every read.
    fn transfer(&mut self, bytes: u64, fin: bool) -> Result<(), String> {
        let send_end = self.sent + bytes;
        let recv_end = self.received + bytes;
        let checker = Checker { tail_from: recv_end.saturating_sub(CHUNK as u64) };
        let mut fin_queued = false;
        let mut eof = false;
        loop {
            let now = self.now();
            let mut progress = 0u64;

            // The writer writes 64 KiB chunks (the rest of one, after a short write).
            while self.sent < send_end {
                let off = (self.sent % CHUNK as u64) as usize;
                if off == 0 {
                    self.chunk[..8].copy_from_slice(&(self.sent / CHUNK as u64).to_le_bytes());
                }
                let len = (CHUNK - off).min((send_end - self.sent) as usize);
                match self.client.write(self.tx_id, &self.chunk[off..off + len]) {
                    Ok(n) => {
                        self.sent += n as u64;
                        progress += n as u64;
                    }
                    Err(WriteError::WouldBlock) => break,
                    Err(e) => return Err(format!("writer: write at offset {}: {e}", self.sent)),
                }
            }
            if fin && !fin_queued && self.sent == send_end {
                self.client.finish(self.tx_id).map_err(|e| format!("writer: finish: {e}"))?;
                fin_queued = true;
                progress += 1;
            }
            progress += flush(now, &mut self.client, &mut self.server, &mut self.wire)?;
            self.drain_client_events()?;
            self.drain_server_events()?;

            // The reader reads 64 KiB at a time until it would block.
            while !eof {
                match self.server.read(self.rx_id, &mut self.out) {
                    Ok(0) if fin && self.received == recv_end => {
                        eof = true;
                        progress += 1;
                    }
                    Ok(0) => return Err(format!("reader: end of stream at {} of {recv_end}", self.received)),
                    Ok(n) => {
                        if self.received + n as u64 > recv_end {
                            return Err(format!(
                                "reader: {} bytes past the {recv_end} sent",
                                self.received + n as u64 - recv_end
                            ));
                        }
                        checker.check(self.received, &self.out[..n])?;
                        self.received += n as u64;
                        progress += n as u64;
                    }
                    Err(ReadError::WouldBlock) => break,
                    Err(e) => return Err(format!("reader: read at offset {}: {e}", self.received)),
                }
            }
            progress += flush(now, &mut self.server, &mut self.client, &mut self.wire)?;
            self.drain_server_events()?;
            self.drain_client_events()?;

            if self.received == recv_end && (!fin || eof) {
                return self.check_stats();
            }
            if progress == 0 {
                return Err(self.stall_report(send_end, recv_end));
            }
        }
    }

    /// The engine's own counters agree with the bytes the benchmark wrote
    /// and read: the payload really went through DATA frames.
    fn check_stats(&self) -> Result<(), String> {
        let (sent, received) = (self.client.stats().data_sent, self.server.stats().data_received);
        if sent != self.sent || received != self.received {
            return Err(format!(
                "engine counters disagree: writer data_sent {sent} (wrote {}), reader data_received {received} (read {})",
                self.sent, self.received
            ));
        }
        Ok(())
    }

    /// What both sides look like when a transfer stopped moving.
    fn stall_report(&self, send_end: u64, recv_end: u64) -> String {
        format!(
            "transfer stalled: sent {}/{send_end}, received {}/{recv_end}\n  writer: {:?}, session send window {}, stream {:?}\n  reader: {:?}, session recv window {}, stream {:?}",
            self.sent,
            self.received,
            self.client.state(),
            self.client.session_send_window(),
            self.client.stream_info(self.tx_id),
            self.server.state(),
            self.server.session_recv_window(),
            self.server.stream_info(self.rx_id),
        )
    }
}

/// Move everything `from` has to send into `to`, through `wire`; returns
/// the bytes moved. Fails if `to` does not consume all of a chunk (tracing
/// is off, so it must) or `from` needs a bigger buffer than `wire`.
fn flush<A: Storage, B: Storage>(
    now: Instant,
    from: &mut Session<A>,
    to: &mut Session<B>,
    wire: &mut [u8],
) -> Result<u64, String> {
    let mut moved = 0u64;
    loop {
        let n = from.poll_transmit(now, wire);
        if n == 0 {
            if from.transmit_needed() > 0 {
                return Err(format!(
                    "poll_transmit needs {} bytes, wire has {}",
                    from.transmit_needed(),
                    wire.len()
                ));
            }
            return Ok(moved);
        }
        let used = to.handle_input(now, &wire[..n]);
        if used != n {
            return Err(format!("handle_input consumed {used} of {n} bytes with tracing off"));
        }
        moved += n as u64;
    }
}

/// The memcpy baseline: the same buffers the engine path copies through,
/// each hop a 64 KiB `copy_from_slice` at a position that walks around the
/// buffer as the engine's rings and wire do.
struct CopyChain {
    /// The 64 KiB source (the writer's chunk).
    source: Vec<u8>,
    /// 1 MiB, as the send buffer.
    send: Vec<u8>,
    /// 256 KiB, as the wire.
    wire: Vec<u8>,
    /// 1 MiB, as the receive buffer.
    recv: Vec<u8>,
    /// The 64 KiB destination (the reader's buffer).
    dest: Vec<u8>,
}

impl CopyChain {
    /// Buffers filled with the benchmark pattern (so no page is left untouched).
    fn new() -> Self {
        let filled = |len: usize| (0..len).map(pattern).collect::<Vec<u8>>();
        CopyChain {
            source: filled(CHUNK),
            send: filled(STREAM_BUFFER),
            wire: filled(WIRE),
            recv: filled(STREAM_BUFFER),
            dest: filled(CHUNK),
        }
    }

    /// Push `payload` bytes down the chain; returns GiB/s of bytes copied
    /// (four copies per payload byte).
    fn run(&mut self, payload: u64) -> Result<f64, String> {
        let rounds = payload / CHUNK as u64;
        let (mut send_at, mut wire_at, mut recv_at) = (0usize, 0usize, 0usize);
        let start = Clock::now();
        for _ in 0..rounds {
            let source = black_box(&self.source[..]);
            self.send[send_at..send_at + CHUNK].copy_from_slice(source);
            black_box(&mut self.send[..]);
            self.wire[wire_at..wire_at + CHUNK].copy_from_slice(&self.send[send_at..send_at + CHUNK]);
            black_box(&mut self.wire[..]);
            self.recv[recv_at..recv_at + CHUNK].copy_from_slice(&self.wire[wire_at..wire_at + CHUNK]);
            black_box(&mut self.recv[..]);
            self.dest.copy_from_slice(&self.recv[recv_at..recv_at + CHUNK]);
            black_box(&mut self.dest[..]);
            send_at = (send_at + CHUNK) % STREAM_BUFFER;
            wire_at = (wire_at + CHUNK) % WIRE;
            recv_at = (recv_at + CHUNK) % STREAM_BUFFER;
        }
        let secs = start.elapsed().as_secs_f64();
        if self.dest != self.source {
            return Err("memcpy chain: the destination does not match the source".into());
        }
        Ok((rounds * 4 * CHUNK as u64) as f64 / GIB / secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream bytes from `at` to `at + len`.
    fn stream(at: u64, len: usize) -> Vec<u8> {
        (0..len as u64).map(|i| expected(at + i)).collect()
    }

    #[test]
    fn checker_accepts_the_stream_however_it_is_split() {
        let checker = Checker { tail_from: 10 * CHUNK as u64 };
        let mut at = 0u64;
        for len in [1, 7, CHUNK, CHUNK - 3, 100, 3 * CHUNK, 5000] {
            checker.check(at, &stream(at, len)).unwrap();
            at += len as u64;
        }
    }

    #[test]
    fn checker_catches_shifted_repeated_and_corrupted_bytes() {
        let checker = Checker { tail_from: 100 * CHUNK as u64 };
        let at = 5 * CHUNK as u64 + 100;
        // Shifted by one byte (one byte lost before this read).
        assert!(checker.check(at, &stream(at + 1, CHUNK)).is_err());
        // A whole chunk repeated: the index of the next chunk is wrong.
        assert!(checker.check(at, &stream(at - CHUNK as u64, CHUNK)).is_err());
        // A corrupted chunk index inside a read.
        let mut data = stream(at, CHUNK);
        data[CHUNK - 100 + 3] ^= 1;
        assert!(checker.check(at, &data).is_err());
        // Any corrupted byte in the first chunk or the tail.
        let mut first = stream(0, CHUNK);
        first[CHUNK / 2] ^= 1;
        assert!(checker.check(0, &first).is_err());
        let tail = Checker { tail_from: at };
        let mut last = stream(at, 1000);
        last[500] ^= 1;
        assert!(tail.check(at, &last).is_err());
    }

    #[test]
    fn link_moves_and_finishes_a_stream() {
        let mut link = Link::new().unwrap();
        link.transfer(3 * MIB as u64 + 17, false).unwrap();
        link.transfer(5 * MIB as u64, true).unwrap();
        assert_eq!(link.received, 8 * MIB as u64 + 17);
    }
}
