//! Group `tokio`: braid over tokio (`braid-tokio`) against the `yamux`
//! crate (0.14, driven through tokio-util's compat layer) and raw TCP, all
//! on loopback in the same process and the same tokio runtime.
//!
//! Workloads, each run over braid, yamux and TCP (see [`workloads`]):
//!
//! - `bulk`: one stream, 256 MiB one way in 64 KiB writes, read into a
//!   64 KiB buffer; MiB/s from the first write until the receiver has read
//!   the end. `bulk_braid`, `bulk_yamux`, `bulk_tcp`, and the ratios
//!   `bulk_vs_yamux`, `bulk_vs_tcp` (braid / other; bars ≥ 1.5, ≥ 0.70).
//! - `concurrent`: 100 streams × 1 MiB one way, all at once, each writer
//!   in its own task, over one session / one yamux connection (TCP: 100
//!   connections at once); MiB/s of the total. `concurrent_vs_yamux`
//!   (bar ≥ 1.5), `concurrent_vs_tcp`.
//! - `rpc`: 10,000 sequential exchanges, each on a new stream: open, send
//!   64 bytes, shut down, read the 64-byte echo and the end (the server
//!   echoes and shuts down); exchanges/s. For TCP each exchange is a new
//!   connection: `rpc_tcp_connect`. `rpc_vs_yamux` (bar ≥ 2.0),
//!   `rpc_vs_tcp_connect`.
//! - `pingpong`: one stream, 20,000 round trips of 64 bytes; µs per round
//!   trip. `pingpong_vs_tcp` (braid latency / TCP latency; bar ≤ 1.15),
//!   `pingpong_vs_yamux`.
//!
//! All of them run on tokio's multi-thread runtime (2 workers on the
//! 2-core machine), then again on a current-thread runtime, whose figures
//! carry a `_ct` suffix. The client side of every workload runs in a
//! spawned task, not in `block_on`, so that it shares the runtime's workers
//! with the drivers and server tasks like any application task.
//!
//! Then `idle_stream_bytes` (see [`idle`]), once, on the multi-thread
//! runtime: heap per idle open stream with 10,000 open, both ends counted,
//! after `trim_buffers()` (bar ≤ 2048), also `idle_stream_bytes_untrimmed`
//! and `idle_stream_bytes_yamux`.
//!
//! # Fairness and method
//!
//! - One loopback TCP connection per multiplexer session, `TCP_NODELAY` on
//!   every socket of all three contenders; default configurations
//!   (`braid_tokio::Config::default()`, `yamux::Config::default()`), except
//!   for the idle test (see [`idle`]).
//! - Each workload gets a fresh braid session pair, a fresh yamux
//!   connection pair and a fresh listener, with a server that accepts
//!   streams and serves each in its own task (the same code for all three).
//! - Warm-up: each contender runs the workload at a tenth of its size
//!   first, untimed.
//! - Then [`REPS`] timed repetitions, the contenders interleaved (and the
//!   order rotated each repetition) so that load from elsewhere on the
//!   shared machine falls on all three alike. Each figure is the **median**
//!   of its repetitions. Each ratio is the **median of the per-repetition
//!   ratios** (braid's run against the other's run of the same repetition,
//!   a fraction of a second apart), which cancels the shared machine's
//!   load swings better than a ratio of medians; so a printed ratio can
//!   differ a little from the ratio of the printed figures.
//! - Everything moved is checked (see [`workloads`]): a wrong byte, a short
//!   count or an I/O error fails the group. A run with no result after
//!   [`STALL`] fails it too, naming the workload and contender.
//! - The counting allocator is switched off while timing (its shared
//!   counters would tax allocation-heavy paths) and on only for the idle
//!   measurement.

mod idle;
mod transports;
mod workloads;
mod yamux_driver;

use crate::{counting_alloc, figure, GroupResult};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use transports::{Acceptor, Opener, Teardown};
use workloads::{Report, Serve, Workload, MIB};

/// Timed repetitions of each workload per contender; the median is printed.
const REPS: usize = 9;
/// The warm-up run is this fraction of the workload (1/`WARMUP_DIVISOR`).
const WARMUP_DIVISOR: u32 = 10;
/// A run with no result after this long has stalled: the group fails.
const STALL: Duration = Duration::from_secs(60);

/// The workloads, in the order measured and printed, with their names.
const WORKLOADS: [(&str, Workload); 4] = [
    ("bulk", Workload::Bulk { bytes: 256 * MIB }),
    ("concurrent", Workload::Concurrent { streams: 100, bytes: MIB }),
    ("rpc", Workload::Rpc { exchanges: 10_000 }),
    ("pingpong", Workload::Pingpong { round_trips: 20_000 }),
];

/// A bar a figure should meet.
struct Bar {
    /// The figure's name, without the runtime suffix.
    name: &'static str,
    /// `true`: the figure must be at least `limit`; `false`: at most.
    at_least: bool,
    /// The limit.
    limit: f64,
}

impl Bar {
    /// Say on stderr whether `value`, the figure `name + suffix`, meets the bar.
    fn check(&self, suffix: &str, value: f64) {
        let (met, op) = if self.at_least { (value >= self.limit, ">=") } else { (value <= self.limit, "<=") };
        let verdict = if met { "met" } else { "NOT MET" };
        eprintln!("tokio: bar {}{suffix} {op} {}: {value:.3} {verdict}", self.name, self.limit);
    }
}

/// The bars of the ratios, checked (on stderr only) for both runtimes.
const RATIO_BARS: [Bar; 5] = [
    Bar { name: "bulk_vs_yamux", at_least: true, limit: 1.5 },
    Bar { name: "bulk_vs_tcp", at_least: true, limit: 0.70 },
    Bar { name: "concurrent_vs_yamux", at_least: true, limit: 1.5 },
    Bar { name: "rpc_vs_yamux", at_least: true, limit: 2.0 },
    Bar { name: "pingpong_vs_tcp", at_least: false, limit: 1.15 },
];

/// The bar of `idle_stream_bytes`.
const IDLE_BAR: Bar = Bar { name: "idle_stream_bytes", at_least: false, limit: 2048.0 };

/// Run the group.
pub fn run() -> GroupResult {
    counting_alloc::set_enabled(false);
    let mut ratios = Vec::new();
    for (suffix, flavor) in [("", Flavor::MultiThread), ("_ct", Flavor::CurrentThread)] {
        let runtime = flavor.build()?;
        for (name, workload) in WORKLOADS {
            let result = on(&runtime, measure(name, suffix, workload))?;
            ratios.extend(print(name, suffix, workload, &result));
        }
    }
    let runtime = Flavor::MultiThread.build()?;
    let braid = on(&runtime, idle::braid())?;
    let yamux = on(&runtime, idle::yamux())?;
    figure("idle_stream_bytes", format_args!("{:.0}", braid.trimmed), "bytes");
    figure("idle_stream_bytes_untrimmed", format_args!("{:.0}", braid.untrimmed), "bytes");
    figure("idle_stream_bytes_yamux", format_args!("{:.0}", yamux.trimmed), "bytes");
    counting_alloc::set_enabled(true);

    for suffix in ["", "_ct"] {
        for bar in &RATIO_BARS {
            let name = format!("{}{suffix}", bar.name);
            if let Some((_, value)) = ratios.iter().find(|(n, _)| *n == name) {
                bar.check(suffix, *value);
            }
        }
    }
    IDLE_BAR.check("", braid.trimmed);
    Ok(())
}

/// The runtimes the workloads run on.
#[derive(Clone, Copy, Debug)]
enum Flavor {
    /// `Runtime::new_multi_thread`, default worker count (one per core).
    MultiThread,
    /// `Runtime::new_current_thread`.
    CurrentThread,
}

impl Flavor {
    /// A runtime of this flavor, I/O and time enabled.
    fn build(self) -> Result<tokio::runtime::Runtime, String> {
        let mut builder = match self {
            Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        };
        builder.enable_all().build().map_err(|e| format!("building a {self:?} runtime: {e}"))
    }
}

/// Run `future` as a task spawned on `runtime`, and wait for it.
fn on<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    future: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    runtime.block_on(async { tokio::spawn(future).await.map_err(|e| format!("task failed: {e}"))? })
}

/// What [`measure`] finds for one workload.
#[derive(Clone, Copy, Debug)]
struct Measured {
    /// Median figures of braid, yamux and TCP.
    figures: [f64; 3],
    /// Median of the per-repetition ratios braid / yamux.
    vs_yamux: f64,
    /// Median of the per-repetition ratios braid / TCP.
    vs_tcp: f64,
}

/// Print the figures of one workload and its ratios; returns the ratios
/// with their printed names.
fn print(name: &str, suffix: &str, workload: Workload, measured: &Measured) -> Vec<(String, f64)> {
    let [braid, yamux, tcp] = measured.figures;
    let tcp_name = if matches!(workload, Workload::Rpc { .. }) { "tcp_connect" } else { "tcp" };
    let (unit, digits) = match workload {
        Workload::Bulk { .. } | Workload::Concurrent { .. } => ("MiB/s", 1),
        Workload::Rpc { .. } => ("exchanges/s", 0),
        Workload::Pingpong { .. } => ("us", 2),
    };
    figure(&format!("{name}_braid{suffix}"), format_args!("{braid:.digits$}"), unit);
    figure(&format!("{name}_yamux{suffix}"), format_args!("{yamux:.digits$}"), unit);
    figure(&format!("{name}_{tcp_name}{suffix}"), format_args!("{tcp:.digits$}"), unit);
    // braid / other for all: for pingpong (a latency) lower is better.
    let vs_yamux = (format!("{name}_vs_yamux{suffix}"), measured.vs_yamux);
    let vs_tcp = (format!("{name}_vs_{tcp_name}{suffix}"), measured.vs_tcp);
    let ratios = match workload {
        Workload::Pingpong { .. } => vec![vs_tcp, vs_yamux],
        _ => vec![vs_yamux, vs_tcp],
    };
    for (n, v) in &ratios {
        figure(n, format_args!("{v:.3}"), "ratio");
    }
    ratios
}

/// The median of `samples` (sorted in place).
fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// One contender set up for one workload: its opener, its server (accept
/// loop) and the server's reports, and how to take it down.
struct Contender<O> {
    /// "braid", "yamux" or "tcp".
    name: &'static str,
    /// Opens streams (TCP: connections).
    opener: O,
    /// The accept loop.
    server: JoinHandle<()>,
    /// What the server tasks report.
    reports: mpsc::UnboundedReceiver<Report>,
    /// How to close the connection.
    teardown: Teardown,
}

impl<O: Opener> Contender<O> {
    /// Start the server for `serve` on a freshly connected contender.
    fn start<A: Acceptor>(
        name: &'static str,
        (opener, acceptor, teardown): (O, A, Teardown),
        serve: Serve,
    ) -> Self {
        let (tx, reports) = mpsc::unbounded_channel();
        let server = workloads::spawn_server(acceptor, serve, tx);
        Contender { name, opener, server, reports, teardown }
    }

    /// Run `workload` once; its figure. Fails on a wrong result, a server
    /// failure, or no result within [`STALL`].
    async fn run(&mut self, label: &str, workload: Workload) -> Result<f64, String> {
        let result = tokio::time::timeout(STALL, workload.run(&self.opener, &mut self.reports)).await;
        let mut failures = Vec::new();
        while let Ok(report) = self.reports.try_recv() {
            match report {
                Report::Failed(e) => failures.push(e),
                Report::Sunk { .. } => failures.push("an unexpected stream reached the server".into()),
            }
        }
        let context =
            if failures.is_empty() { String::new() } else { format!(" (server: {})", failures.join("; ")) };
        match result {
            Err(_) => Err(format!("{label} over {}: stalled, no result after {STALL:?}{context}", self.name)),
            Ok(Err(e)) => Err(format!("{label} over {}: {e}{context}", self.name)),
            Ok(Ok(_)) if !failures.is_empty() => Err(format!("{label} over {}:{context}", self.name)),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Stop the server and close the connection; fails if a server task
    /// reported a failure since the last run.
    async fn close(mut self) -> Result<(), String> {
        self.server.abort();
        let _ = self.server.await;
        while let Ok(report) = self.reports.try_recv() {
            if let Report::Failed(e) = report {
                return Err(format!("{}: server: {e}", self.name));
            }
        }
        self.teardown.run().await
    }
}

/// Measure `workload` over braid, yamux and TCP: warm-up, then [`REPS`]
/// interleaved runs; the medians.
async fn measure(name: &'static str, suffix: &'static str, workload: Workload) -> Result<Measured, String> {
    let label = format!("{name}{suffix}");
    let serve = workload.serve();
    let connect = |what: &str, e: std::io::Error| format!("{label}: connecting {what}: {e}");
    let mut braid = Contender::start(
        "braid",
        transports::braid(braid_tokio::Config::default()).await.map_err(|e| connect("braid", e))?,
        serve,
    );
    let mut yamux = Contender::start(
        "yamux",
        transports::yamux(yamux::Config::default()).await.map_err(|e| connect("yamux", e))?,
        serve,
    );
    let mut tcp = Contender::start("tcp", transports::tcp().await.map_err(|e| connect("tcp", e))?, serve);

    let warm = workload.scaled_down(WARMUP_DIVISOR);
    let warm_label = format!("{label} warm-up");
    braid.run(&warm_label, warm).await?;
    yamux.run(&warm_label, warm).await?;
    tcp.run(&warm_label, warm).await?;

    let mut samples: [Vec<f64>; 3] = Default::default();
    for rep in 0..REPS {
        for k in 0..3 {
            let i = (rep + k) % 3;
            let value = match i {
                0 => braid.run(&label, workload).await?,
                1 => yamux.run(&label, workload).await?,
                _ => tcp.run(&label, workload).await?,
            };
            samples[i].push(value);
        }
        eprintln!(
            "tokio: {label} {}/{REPS}: braid {:.2}, yamux {:.2}, tcp {:.2}",
            rep + 1,
            samples[0][rep],
            samples[1][rep],
            samples[2][rep]
        );
    }
    braid.close().await.map_err(|e| format!("{label}: {e}"))?;
    yamux.close().await.map_err(|e| format!("{label}: {e}"))?;
    tcp.close().await.map_err(|e| format!("{label}: {e}"))?;
    let mut vs_yamux: Vec<f64> = samples[0].iter().zip(&samples[1]).map(|(b, y)| b / y).collect();
    let mut vs_tcp: Vec<f64> = samples[0].iter().zip(&samples[2]).map(|(b, t)| b / t).collect();
    Ok(Measured {
        figures: samples.map(|mut s| median(&mut s)),
        vs_yamux: median(&mut vs_yamux),
        vs_tcp: median(&mut vs_tcp),
    })
}
