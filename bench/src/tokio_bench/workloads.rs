//! The workloads, each one generic function over an [`Opener`] shared by
//! the three contenders, and the server side that answers them: an accept
//! loop that spawns one task per accepted stream ([`Serve`]), reporting
//! back over a channel.
//!
//! Every workload checks what it moves: bulk data follows a pattern
//! (byte at offset `o` is `o % 251`) checked by the receiver, echoes are
//! compared with what was sent, byte counts must match. A mismatch or an
//! I/O error is an `Err`.

use super::transports::{Acceptor, Io, Opener};
use std::sync::LazyLock;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes in a MiB.
pub const MIB: u64 = 1024 * 1024;
/// Write size of the bulk and concurrent writers, and read buffer size of
/// their receivers.
pub const CHUNK: usize = 64 * 1024;
/// The pattern's period: it does not divide [`CHUNK`], so a lost, repeated
/// or shifted chunk shows.
const PERIOD: u64 = 251;
/// The size of the rpc and pingpong messages.
pub const MESSAGE: usize = 64;

/// `CHUNK + PERIOD` bytes of the pattern from offset 0: any chunk of the
/// stream is a slice of it, starting at `offset % PERIOD`.
static PATTERN: LazyLock<Vec<u8>> =
    LazyLock::new(|| (0..CHUNK as u64 + PERIOD).map(|i| (i % PERIOD) as u8).collect());

/// The pattern bytes at stream offset `offset`, `len` of them (at most [`CHUNK`]).
fn pattern(offset: u64, len: usize) -> &'static [u8] {
    let start = (offset % PERIOD) as usize;
    &PATTERN[start..start + len]
}

/// What the server does with each stream it accepts.
#[derive(Clone, Copy, Debug)]
pub enum Serve {
    /// Read to the end, checking the pattern, then shut down; report the
    /// byte count and when the end arrived.
    Sink,
    /// Write back everything read until the end, then shut down; report
    /// only failures.
    Echo,
}

/// What a server task reports.
#[derive(Debug)]
pub enum Report {
    /// A [`Serve::Sink`] stream ended: bytes received, and when the end of
    /// the stream was read (all bytes in).
    Sunk {
        /// Bytes received and checked.
        bytes: u64,
        /// When the receiver read the end of the stream.
        at: Instant,
    },
    /// A server task failed.
    Failed(String),
}

/// Spawn the accept loop: each accepted stream is served by its own task.
/// The loop runs until accepting fails (reported) or it is aborted.
pub fn spawn_server<A: Acceptor>(
    mut acceptor: A,
    serve: Serve,
    reports: mpsc::UnboundedSender<Report>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stream = match acceptor.accept().await {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = reports.send(Report::Failed(format!("accept: {e}")));
                    return;
                }
            };
            let reports = reports.clone();
            tokio::spawn(async move {
                let report = match serve {
                    Serve::Sink => match sink(stream).await {
                        Ok((bytes, at)) => Report::Sunk { bytes, at },
                        Err(e) => Report::Failed(e),
                    },
                    Serve::Echo => match echo(stream).await {
                        Ok(()) => return,
                        Err(e) => Report::Failed(e),
                    },
                };
                let _ = reports.send(report);
            });
        }
    })
}

/// Read `stream` to its end into a [`CHUNK`] buffer, checking the pattern;
/// then shut the write side down. The byte count and when the end was read.
async fn sink<S: Io>(mut stream: S) -> Result<(u64, Instant), String> {
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("sink: read at {offset}: {e}"))?;
        if n == 0 {
            break;
        }
        if buf[..n] != *pattern(offset, n) {
            let bad = buf[..n].iter().zip(pattern(offset, n)).position(|(a, b)| a != b).unwrap_or(0);
            return Err(format!("sink: wrong byte at offset {}", offset + bad as u64));
        }
        offset += n as u64;
    }
    let at = Instant::now();
    stream.shutdown().await.map_err(|e| format!("sink: shutdown: {e}"))?;
    Ok((offset, at))
}

/// Write back what `stream` brings until its end, then shut down.
async fn echo<S: Io>(mut stream: S) -> Result<(), String> {
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("echo: read: {e}"))?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await.map_err(|e| format!("echo: write: {e}"))?;
    }
    stream.shutdown().await.map_err(|e| format!("echo: shutdown: {e}"))
}

/// Write `len` pattern bytes to `stream` in [`CHUNK`] writes, then shut down.
async fn send_pattern<S: Io>(stream: &mut S, len: u64) -> Result<(), String> {
    let mut offset = 0u64;
    while offset < len {
        let n = CHUNK.min((len - offset) as usize);
        stream.write_all(pattern(offset, n)).await.map_err(|e| format!("write at {offset}: {e}"))?;
        offset += n as u64;
    }
    stream.shutdown().await.map_err(|e| format!("shutdown: {e}"))
}

/// Wait for `count` [`Report::Sunk`] reports of `bytes` each; the latest
/// arrival time.
async fn collect_sinks(
    reports: &mut mpsc::UnboundedReceiver<Report>,
    count: usize,
    bytes: u64,
) -> Result<Instant, String> {
    let mut last: Option<Instant> = None;
    for _ in 0..count {
        match reports.recv().await {
            Some(Report::Sunk { bytes: got, at }) if got == bytes => {
                last = Some(last.map_or(at, |l| l.max(at)));
            }
            Some(Report::Sunk { bytes: got, .. }) => {
                return Err(format!("receiver got {got} bytes, {bytes} were sent"));
            }
            Some(Report::Failed(e)) => return Err(format!("server: {e}")),
            None => return Err("server reports ended early".into()),
        }
    }
    last.ok_or_else(|| "no stream".to_string())
}

/// The workloads, and their parameters.
#[derive(Clone, Copy, Debug)]
pub enum Workload {
    /// One stream, `bytes` one way in [`CHUNK`] writes: MiB/s from the
    /// first write until the receiver has read the end.
    Bulk {
        /// Bytes to move.
        bytes: u64,
    },
    /// `streams` streams at once, each in its own task, `bytes` one way on
    /// each: MiB/s of the total, from before the first open until the last
    /// receiver has read its end.
    Concurrent {
        /// Streams (tasks) at once.
        streams: usize,
        /// Bytes per stream.
        bytes: u64,
    },
    /// `exchanges` sequential exchanges, each on a new stream: open, send
    /// [`MESSAGE`] bytes, shut down, read the echo and the end. Exchanges/s.
    Rpc {
        /// Exchanges.
        exchanges: u32,
    },
    /// One stream, `round_trips` round trips of [`MESSAGE`] bytes:
    /// microseconds per round trip.
    Pingpong {
        /// Round trips.
        round_trips: u32,
    },
}

impl Workload {
    /// What the server does for this workload.
    pub fn serve(self) -> Serve {
        match self {
            Workload::Bulk { .. } | Workload::Concurrent { .. } => Serve::Sink,
            Workload::Rpc { .. } | Workload::Pingpong { .. } => Serve::Echo,
        }
    }

    /// The same workload, `1/divisor` of the work, for a warm-up.
    pub fn scaled_down(self, divisor: u32) -> Workload {
        match self {
            Workload::Bulk { bytes } => Workload::Bulk { bytes: (bytes / u64::from(divisor)).max(1) },
            Workload::Concurrent { streams, bytes } => {
                Workload::Concurrent { streams, bytes: (bytes / u64::from(divisor)).max(1) }
            }
            Workload::Rpc { exchanges } => Workload::Rpc { exchanges: (exchanges / divisor).max(1) },
            Workload::Pingpong { round_trips } => {
                Workload::Pingpong { round_trips: (round_trips / divisor).max(1) }
            }
        }
    }

    /// Run once over `opener`, whose server (answering with
    /// [`serve`](Self::serve)) reports on `reports`. The figure: MiB/s,
    /// exchanges/s or µs per round trip.
    pub async fn run<O: Opener>(
        self,
        opener: &O,
        reports: &mut mpsc::UnboundedReceiver<Report>,
    ) -> Result<f64, String> {
        match self {
            Workload::Bulk { bytes } => bulk(opener, reports, bytes).await,
            Workload::Concurrent { streams, bytes } => concurrent(opener, reports, streams, bytes).await,
            Workload::Rpc { exchanges } => rpc(opener, exchanges).await,
            Workload::Pingpong { round_trips } => pingpong(opener, round_trips).await,
        }
    }
}

/// See [`Workload::Bulk`].
async fn bulk<O: Opener>(
    opener: &O,
    reports: &mut mpsc::UnboundedReceiver<Report>,
    bytes: u64,
) -> Result<f64, String> {
    let mut stream = opener.open().await.map_err(|e| format!("open: {e}"))?;
    let start = Instant::now();
    send_pattern(&mut stream, bytes).await?;
    let end = collect_sinks(reports, 1, bytes).await?;
    // The receiver shut its side down: read that end, so the stream closes
    // cleanly on both sides.
    let mut rest = [0u8; 1];
    match stream.read(&mut rest).await {
        Ok(0) => {}
        Ok(_) => return Err("the receiver sent data back".into()),
        Err(e) => return Err(format!("reading the receiver's end: {e}")),
    }
    let secs = end.duration_since(start).as_secs_f64();
    Ok(bytes as f64 / MIB as f64 / secs)
}

/// See [`Workload::Concurrent`].
async fn concurrent<O: Opener>(
    opener: &O,
    reports: &mut mpsc::UnboundedReceiver<Report>,
    streams: usize,
    bytes: u64,
) -> Result<f64, String> {
    let start = Instant::now();
    let writers: Vec<JoinHandle<Result<(), String>>> = (0..streams)
        .map(|_| {
            let opener = opener.clone();
            tokio::spawn(async move {
                let mut stream = opener.open().await.map_err(|e| format!("open: {e}"))?;
                send_pattern(&mut stream, bytes).await?;
                let mut rest = [0u8; 1];
                match stream.read(&mut rest).await {
                    Ok(0) => Ok(()),
                    Ok(_) => Err("the receiver sent data back".into()),
                    Err(e) => Err(format!("reading the receiver's end: {e}")),
                }
            })
        })
        .collect();
    let end = collect_sinks(reports, streams, bytes).await?;
    let secs = end.duration_since(start).as_secs_f64();
    for w in writers {
        w.await.map_err(|e| format!("writer task: {e}"))??;
    }
    Ok((streams as u64 * bytes) as f64 / MIB as f64 / secs)
}

/// The message of exchange or round trip `i`: its index, then pattern.
fn message(i: u32) -> [u8; MESSAGE] {
    let mut m = [0u8; MESSAGE];
    m.copy_from_slice(pattern(u64::from(i), MESSAGE));
    m[..4].copy_from_slice(&i.to_le_bytes());
    m
}

/// See [`Workload::Rpc`].
async fn rpc<O: Opener>(opener: &O, exchanges: u32) -> Result<f64, String> {
    let mut echo = [0u8; MESSAGE];
    let mut rest = [0u8; 1];
    let start = Instant::now();
    for i in 0..exchanges {
        let msg = message(i);
        let mut stream = opener.open().await.map_err(|e| format!("exchange {i}: open: {e}"))?;
        stream.write_all(&msg).await.map_err(|e| format!("exchange {i}: write: {e}"))?;
        stream.shutdown().await.map_err(|e| format!("exchange {i}: shutdown: {e}"))?;
        stream.read_exact(&mut echo).await.map_err(|e| format!("exchange {i}: read: {e}"))?;
        if echo != msg {
            return Err(format!("exchange {i}: wrong echo"));
        }
        match stream.read(&mut rest).await {
            Ok(0) => {}
            Ok(_) => return Err(format!("exchange {i}: more than the echo came back")),
            Err(e) => return Err(format!("exchange {i}: reading the end: {e}")),
        }
    }
    Ok(f64::from(exchanges) / start.elapsed().as_secs_f64())
}

/// See [`Workload::Pingpong`].
async fn pingpong<O: Opener>(opener: &O, round_trips: u32) -> Result<f64, String> {
    let mut stream = opener.open().await.map_err(|e| format!("open: {e}"))?;
    let mut echo = [0u8; MESSAGE];
    let start = Instant::now();
    for i in 0..round_trips {
        let msg = message(i);
        stream.write_all(&msg).await.map_err(|e| format!("round trip {i}: write: {e}"))?;
        stream.read_exact(&mut echo).await.map_err(|e| format!("round trip {i}: read: {e}"))?;
        if echo != msg {
            return Err(format!("round trip {i}: wrong echo"));
        }
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(round_trips);
    stream.shutdown().await.map_err(|e| format!("shutdown: {e}"))?;
    let mut rest = [0u8; 1];
    match stream.read(&mut rest).await {
        Ok(0) => Ok(micros),
        Ok(_) => Err("more than the echoes came back".into()),
        Err(e) => Err(format!("reading the end: {e}")),
    }
}
