//! Group `smol`: braid over smol (`braid-smol`) against raw TCP on
//! loopback, for the record: the same `bulk` and `concurrent` workloads as
//! the `tokio` group (see [`crate::tokio_bench`]), on smol's global
//! executor.
//!
//! - `bulk`: one stream, 256 MiB one way in 64 KiB writes, read into a
//!   64 KiB buffer; MiB/s from the first write until the receiver has read
//!   the end. `smol_bulk_braid`, `smol_bulk_tcp`, `smol_bulk_vs_tcp`.
//! - `concurrent`: 100 streams × 1 MiB one way, all at once, each writer
//!   in its own task, over one session (TCP: 100 connections at once);
//!   MiB/s of the total. `smol_concurrent_braid`, `smol_concurrent_tcp`,
//!   `smol_concurrent_vs_tcp`.
//!
//! Method as in the `tokio` group: one fresh session (or listener) per
//! workload, `TCP_NODELAY` on every socket, default configurations, a
//! warm-up at a tenth of the size, then [`REPS`] repetitions with the two
//! contenders interleaved; each figure is the median, each ratio the
//! median of per-repetition ratios. Every byte is checked (byte at offset
//! `o` is `o % 251`); a run with no result after [`STALL`] fails the group.

use crate::{figure, GroupResult};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use std::future::Future;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// Timed repetitions per contender; the median is printed.
const REPS: usize = 5;
/// A run with no result after this long has stalled: the group fails.
const STALL: Duration = Duration::from_secs(60);
/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;
/// Write size, and the receivers' read buffer size.
const CHUNK: usize = 64 * 1024;
/// The pattern's period (it does not divide [`CHUNK`]).
const PERIOD: u64 = 251;

/// `CHUNK + PERIOD` bytes of the pattern: any chunk of a stream is a slice.
static PATTERN: LazyLock<Vec<u8>> =
    LazyLock::new(|| (0..CHUNK as u64 + PERIOD).map(|i| (i % PERIOD) as u8).collect());

/// The pattern bytes at stream offset `offset`, `len` of them (at most [`CHUNK`]).
fn pattern(offset: u64, len: usize) -> &'static [u8] {
    let start = (offset % PERIOD) as usize;
    &PATTERN[start..start + len]
}

/// One workload: `streams` streams of `bytes` each, one way, all at once.
#[derive(Clone, Copy)]
struct Load {
    /// The name in the figures.
    name: &'static str,
    /// Streams at once.
    streams: usize,
    /// Bytes per stream.
    bytes: u64,
}

const LOADS: [Load; 2] = [
    Load { name: "bulk", streams: 1, bytes: 256 * MIB },
    Load { name: "concurrent", streams: 100, bytes: MIB },
];

/// Runs the group.
pub fn run() -> GroupResult {
    smol::block_on(async {
        for load in LOADS {
            let (session, acceptor) = braid_pair().await?;
            let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
            let addr = listener.local_addr().map_err(|e| format!("local addr: {e}"))?;
            let tcp_server = smol::spawn(sink_tcp(listener));
            let warm = Load { bytes: load.bytes / 10, ..load };
            timed(load, "braid", braid_run(&session, warm)).await?;
            timed(load, "tcp", tcp_run(addr, warm)).await?;
            let (mut braid, mut tcp, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
            for rep in 0..REPS {
                let (b, t) = if rep % 2 == 0 {
                    let b = timed(load, "braid", braid_run(&session, load)).await?;
                    (b, timed(load, "tcp", tcp_run(addr, load)).await?)
                } else {
                    let t = timed(load, "tcp", tcp_run(addr, load)).await?;
                    (timed(load, "braid", braid_run(&session, load)).await?, t)
                };
                eprintln!("smol {} rep {rep}: braid {b:.1} MiB/s, tcp {t:.1} MiB/s", load.name);
                braid.push(b);
                tcp.push(t);
                ratio.push(b / t);
            }
            figure(&format!("smol_{}_braid", load.name), format_args!("{:.1}", median(&mut braid)), "MiB/s");
            figure(&format!("smol_{}_tcp", load.name), format_args!("{:.1}", median(&mut tcp)), "MiB/s");
            figure(&format!("smol_{}_vs_tcp", load.name), format_args!("{:.3}", median(&mut ratio)), "ratio");
            drop(tcp_server);
            session.close_now();
            drop(acceptor);
        }
        Ok(())
    })
}

/// The median of `v` (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Run `fut` (which returns MiB/s), failing if it stalls.
async fn timed(load: Load, who: &str, fut: impl Future<Output = Result<f64, String>>) -> Result<f64, String> {
    let stall = async {
        smol::Timer::after(STALL).await;
        Err(format!("smol {} over {who}: no result after {STALL:?}", load.name))
    };
    smol::future::or(fut, stall).await
}

/// A braid session over TCP loopback: the client handle, and the server's
/// accept loop (sinking every stream) as a task.
async fn braid_pair() -> Result<(braid_smol::Session, smol::Task<()>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("local addr: {e}"))?;
    let (connected, accepted) = futures_lite_zip(TcpStream::connect(addr), listener.accept()).await;
    let a = connected.map_err(|e| format!("connect: {e}"))?;
    let (b, _) = accepted.map_err(|e| format!("accept: {e}"))?;
    a.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    b.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let client = braid_smol::client(a, braid_smol::Config::default());
    let server = braid_smol::server(b, braid_smol::Config::default());
    let acceptor = smol::spawn(async move {
        while let Ok(stream) = server.accept().await {
            smol::spawn(async move {
                if let Err(e) = sink(stream).await {
                    eprintln!("braid sink: {e}");
                }
            })
            .detach();
        }
    });
    Ok((client, acceptor))
}

/// Both futures, concurrently.
async fn futures_lite_zip<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    smol::future::zip(a, b).await
}

/// Accept TCP connections for ever, sinking each.
async fn sink_tcp(listener: TcpListener) {
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        smol::spawn(async move {
            if let Err(e) = sink(tcp).await {
                eprintln!("tcp sink: {e}");
            }
        })
        .detach();
    }
}

/// Read a stream to its end checking the pattern, then answer one byte
/// (its length mod 256) so the sender knows every byte arrived.
async fn sink<S: smol::io::AsyncRead + smol::io::AsyncWrite + Unpin>(mut s: S) -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    loop {
        let n = s.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        if buf[..n] != *pattern(at, n) {
            return Err(format!("bytes {at}..{} differ", at + n as u64));
        }
        at += n as u64;
    }
    s.write_all(&[at as u8]).await.map_err(|e| format!("write: {e}"))?;
    s.close().await.map_err(|e| format!("close: {e}"))
}

/// Send `bytes` of the pattern on `s`, close it, and wait for the
/// receiver's one-byte answer.
async fn source<S: smol::io::AsyncRead + smol::io::AsyncWrite + Unpin>(
    mut s: S,
    bytes: u64,
) -> Result<(), String> {
    let mut at = 0u64;
    while at < bytes {
        let len = (bytes - at).min(CHUNK as u64) as usize;
        s.write_all(pattern(at, len)).await.map_err(|e| format!("write: {e}"))?;
        at += len as u64;
    }
    s.close().await.map_err(|e| format!("close: {e}"))?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.map_err(|e| format!("read answer: {e}"))?;
    if answer != [bytes as u8] {
        return Err(format!("the receiver answered {answer:?} for {bytes} bytes"));
    }
    Ok(())
}

/// `load` over the braid session; MiB/s.
async fn braid_run(session: &braid_smol::Session, load: Load) -> Result<f64, String> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..load.streams)
        .map(|_| {
            let session = session.clone();
            smol::spawn(async move {
                let stream = session.open().await.map_err(|e| format!("open: {e}"))?;
                source(stream, load.bytes).await
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    Ok(mib_per_s(load, started))
}

/// `load` over fresh TCP connections; MiB/s.
async fn tcp_run(addr: std::net::SocketAddr, load: Load) -> Result<f64, String> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..load.streams)
        .map(|_| {
            smol::spawn(async move {
                let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
                tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
                source(tcp, load.bytes).await
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    Ok(mib_per_s(load, started))
}

/// Throughput of `load` finished now.
fn mib_per_s(load: Load, started: Instant) -> f64 {
    (load.streams as u64 * load.bytes) as f64 / MIB as f64 / started.elapsed().as_secs_f64()
}
