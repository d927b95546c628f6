//! Deterministic simulation of two braid sessions over a faulty link.
//!
//! A seed decides everything (`scenario.rs`): the storage of a client and
//! a server session (fixed `ArrayStorage` of 2 to 8 streams and 128 to
//! 2048-byte buffers, or a growable `VecStorage` of random capacities),
//! their configurations (frames down to 64 bytes, windows down to 16
//! bytes, with and without auto-tuning, small session windows, stream
//! credit limits, metadata limits, idle and handshake timeouts, frame
//! tracing), the link between them, the workload and the faults. Nothing
//! else is random: the virtual clock is a `braid::Instant`, the only
//! generator is a SplitMix64 forked from the seed (`rng.rs`), and every
//! collection that is iterated is ordered.
//!
//! - **Link** (`link.rs`): per direction a latency, jitter, bandwidth and
//!   send buffer (backpressure: the host calls `poll_transmit` only while
//!   it has room); writes cut into pieces that arrive separately, pieces
//!   coalesced into one delivery, deliveries cut at random points down to
//!   one byte or handed over only in part; a receiver that stops reading
//!   for a while so windows fill.
//! - **Workload** (`workload.rs`): opens with and without metadata (built
//!   with `MetadataWriter`, sometimes too large or malformed), writes,
//!   reads, half-closes, resets, accepts (with reply metadata) and
//!   refusals, pings, GOAWAYs (graceful and not), closes, buffer trims, and
//!   the passing of time, in one of three mixes (balanced, bulk, churn).
//! - **Faults**: a host crashes with an EOF (its kernel flushes and
//!   closes), with a connection reset (a random prefix of what was in
//!   flight arrives, often cutting a frame, then EOF), or into silence
//!   (nothing more either way, no EOF: the survivor's idle or handshake
//!   timeout must end its session by the deadline). Then a fresh pair of
//!   sessions starts over a fresh link; the survivor's old session must
//!   have ended with a reason and the new pair must connect. A pair that
//!   ends on its own (GOAWAY, close, idle timeout) reconnects the same way.
//!
//! After every step the runner checks the invariants (`model.rs` and
//! `Sim::check`):
//! - every byte read is the byte the peer wrote at that offset, reads never
//!   pass what was written, and the end of a stream comes exactly after the
//!   last byte of a finished stream;
//! - no window is exceeded: per stream `recv_window <= recv_window_size`,
//!   the window size within what the storage backs, buffered plus
//!   allowed bytes within the window, `readable` and `unsent` within the
//!   buffers; across the two sides a sender never may send more than its
//!   receiver allows, and with nothing in flight the two agree exactly
//!   (stream and session windows, spec.md [S-5.19]);
//! - nothing grows past its capacity (`streams_in_use`, the buffers of a
//!   growable storage);
//! - every event, error and close reason is explained by what the two
//!   applications did (no protocol error between two correct engines, a
//!   peer's reset carries the code its application chose, `Finished` only
//!   after the peer finished, a stream forgotten only once the
//!   application saw it end, no `Writable`, `Readable`, `Incoming` or
//!   `OpenReady` lost, `Event::Closed` last and matching `close_reason`);
//! - idle and handshake timeouts fire after real silence and not on a
//!   healthy link, and end a silent peer's session in time;
//! - the simulation reaches quiescence (nothing in flight, nothing due,
//!   nothing for the applications to do) within a bounded number of steps
//!   and of virtual time, where every stream either application knew has
//!   ended by EOF or a reset, and then a clean end where every session has
//!   ended with a reason; otherwise the run fails with the state of both
//!   sessions.
//!
//! Every seed runs twice and the traces (`trace.rs`: a hash after every
//! step of every action, byte and event) must be identical. A failing seed
//! is reported with the command that replays it with a log of every step.

// A side is an index into several parallel arrays (sessions, pipes, model
// sides, names): loops over `0..2` read better than zipped iterators.
#![allow(clippy::needless_range_loop)]

mod endpoint;
mod link;
mod model;
mod rng;
mod scenario;
mod trace;
mod workload;

use endpoint::Endpoint;
use link::{Delivery, Pipe};
use model::{describe_side, violation, Ctx, Model, StreamModel, SIDE};
use rng::Rng;
use scenario::{pipe_params, Scenario};
use trace::{fmt_us, Recorder};
use workload::{CrashKind, Meta, Op, Workload};

use braid::frame::MAX_WINDOW;
use braid::trace::{Direction, FrameDetail};
use braid::{Duration, ErrorCode, Event, Instant, LocalError, SessionState, StreamError, StreamId};
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Steps one run may take before it is declared live-locked.
const MAX_STEPS: u64 = 400_000;
/// Rounds of the wind-down (react, then run to the next event) before the
/// run is declared live-locked.
const WIND_DOWN_ROUNDS: u32 = 50_000;
/// Virtual time the wind-down may take. Its slowest parts (a 10 kB/s
/// pipe draining full buffers, a 2 s stall, a 3 s idle timeout, a 10 s
/// handshake timeout, restarts) take far less.
const WIND_DOWN_TIME: Duration = Duration::from_secs(120);
/// Events allowed at one instant before the run is declared live-locked.
const SAME_INSTANT_ROUNDS: u32 = 5_000;
/// `poll_transmit` calls in one drain before the session is declared to
/// produce output forever.
const TRANSMIT_CALLS: u32 = 100_000;
/// Wall-clock seconds one seed may take before the harness reports it hung
/// (an infinite loop inside one call). Only the watchdog reads the clock.
const HANG_SECS: u64 = 120;

/// What a batch of seeds did, summed over every first run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimSummary {
    /// Seeds that passed (each run twice with identical traces).
    pub seeds: u64,
    /// Steps taken.
    pub steps: u64,
    /// Session pairs (restarts and reconnects included).
    pub epochs: u64,
    /// Streams the applications opened or accepted.
    pub streams: u64,
    /// Stream bytes read and checked.
    pub bytes: u64,
    /// Peers crashed (EOF, reset or silence).
    pub crashes: u64,
    /// Readers stalled.
    pub stalls: u64,
    /// Sessions that ended by idle timeout.
    pub idle_timeouts: u64,
    /// Streams reset (either side).
    pub resets: u64,
    /// Exact comparisons of both sides' windows with nothing in flight.
    pub at_rest_checks: u64,
}

impl SimSummary {
    fn add(&mut self, r: &RunReport) {
        self.seeds += 1;
        self.steps += r.steps;
        self.epochs += r.stats.epochs;
        self.streams += r.stats.streams;
        self.bytes += r.stats.bytes;
        self.crashes += r.stats.crashes;
        self.stalls += r.stats.stalls;
        self.idle_timeouts += r.stats.idle_timeouts;
        self.resets += r.stats.resets;
        self.at_rest_checks += r.stats.at_rest_checks;
    }
}

impl fmt::Display for SimSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} steps, {} sessions, {} streams, {} bytes checked, {} crashes, {} stalls, {} idle timeouts, \
             {} resets, {} at-rest window comparisons",
            self.steps,
            self.epochs,
            self.streams,
            self.bytes,
            self.crashes,
            self.stalls,
            self.idle_timeouts,
            self.resets,
            self.at_rest_checks
        )
    }
}

/// A seed that failed: an invariant, a panic in the engine, a live-lock, a
/// hang, or two runs that differed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    /// The seed.
    pub seed: u64,
    /// What went wrong.
    pub message: String,
}

impl SimFailure {
    /// The command that replays the seed with a log of every step.
    #[must_use]
    pub fn replay_command(&self) -> String {
        format!("SIM_SEED={} cargo test -p braid-conformance --test sim -- replay --nocapture", self.seed)
    }
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sim: seed {} failed: {}\nreplay with: {}", self.seed, self.message, self.replay_command())
    }
}

impl std::error::Error for SimFailure {}

/// How to run one seed.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Log every step to stderr.
    pub verbose: bool,
    /// Stop the random phase after this many operations (to shrink a
    /// failing seed by hand: a shorter run replays a prefix of the longer).
    pub max_ops: Option<usize>,
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Session pairs.
    pub epochs: u64,
    /// Streams opened or accepted.
    pub streams: u64,
    /// Stream bytes read.
    pub bytes: u64,
    /// Crashes.
    pub crashes: u64,
    /// Stalls.
    pub stalls: u64,
    /// Sessions ended by idle timeout.
    pub idle_timeouts: u64,
    /// Streams reset.
    pub resets: u64,
    /// Steps after which nothing was in flight and both sides' windows
    /// were compared for equality.
    pub at_rest_checks: u64,
}

/// What one run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// Steps taken.
    pub steps: u64,
    /// The final trace hash.
    pub hash: u64,
    /// The trace hash after every step.
    pub step_hashes: Vec<u64>,
    /// Counters.
    pub stats: RunStats,
}

/// Run `seed` once, turning any panic into a failure.
///
/// # Errors
/// The failure, with the panic message.
pub fn run_once(seed: u64, opts: &RunOptions) -> Result<RunReport, SimFailure> {
    install_panic_hook();
    let opts = opts.clone();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || Sim::new(seed, &opts).run())).map_err(
        |payload| {
            let text = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "panic with a non-string payload".to_string()
            };
            let message = if text.starts_with("invariant violated") {
                text
            } else {
                // A panic inside the engine (or the simulator's own code):
                // say where, and at which step of the run.
                let at = PANIC_AT.with(|p| p.take()).unwrap_or_default();
                let ctx = CURRENT.with(Cell::get);
                format!(
                    "panic at {at}: {text} (seed {}, epoch {}, step {}, t={})",
                    ctx.seed,
                    ctx.epoch,
                    ctx.step,
                    fmt_us(ctx.now_us)
                )
            };
            SimFailure { seed, message }
        },
    )
}

thread_local! {
    /// Where this thread's simulation is, for panics outside the model.
    static CURRENT: Cell<Ctx> = Cell::new(Ctx::default());
    /// Where this thread last panicked.
    static PANIC_AT: Cell<Option<String>> = const { Cell::new(None) };
}

/// Remember each panic's location for the failure report, then let the
/// previous hook print it as usual. Installed once per process.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            PANIC_AT.with(|p| p.set(at));
            previous(info);
        }));
    });
}

/// Run `seed` twice (the second time quietly) and require identical traces.
///
/// # Errors
/// The first run's failure, or the first step where the traces differ.
pub fn check_seed(seed: u64, opts: &RunOptions) -> Result<RunReport, SimFailure> {
    let first = run_once(seed, opts)?;
    let quiet = RunOptions { verbose: false, ..opts.clone() };
    let second = run_once(seed, &quiet)?;
    if first.step_hashes != second.step_hashes {
        let at = first.step_hashes.iter().zip(&second.step_hashes).position(|(a, b)| a != b);
        let message = match at {
            Some(i) => format!(
                "nondeterministic: the two runs' traces differ first at step {i} ({} and {} steps in all)",
                first.steps, second.steps
            ),
            None => {
                format!("nondeterministic: one run took {} steps, the other {}", first.steps, second.steps)
            }
        };
        return Err(SimFailure { seed, message });
    }
    Ok(first)
}

/// The seed a worker thread is running and since when (for the watchdog).
type Running = Option<(u64, std::time::Instant)>;

/// Run `count` seeds from `base`, each twice, on all cores. Stops at the
/// first failure and reports the lowest failing seed seen.
///
/// # Errors
/// A failing seed, or one that hung.
pub fn run_seeds(base: u64, count: u64) -> Result<SimSummary, SimFailure> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
    let threads = threads.min(count.max(1) as usize);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let running: Arc<Mutex<Vec<Running>>> = Arc::new(Mutex::new(vec![None; threads]));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for t in 0..threads {
        let (next, stop, running, tx) = (next.clone(), stop.clone(), running.clone(), tx.clone());
        let handle = std::thread::Builder::new()
            .name(format!("sim-{t}"))
            .stack_size(32 << 20)
            .spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || stop.load(Ordering::Relaxed) {
                    return;
                }
                let seed = base.wrapping_add(i);
                running.lock().expect("lock")[t] = Some((seed, std::time::Instant::now()));
                let r = check_seed(seed, &RunOptions::default());
                running.lock().expect("lock")[t] = None;
                if tx.send((seed, r)).is_err() {
                    return;
                }
            })
            .expect("spawn a simulation thread");
        handles.push(handle);
    }
    drop(tx);
    let mut summary = SimSummary::default();
    let mut failures: Vec<SimFailure> = Vec::new();
    loop {
        match rx.recv_timeout(std::time::Duration::from_secs(1)) {
            Ok((_, Ok(report))) => summary.add(&report),
            Ok((_, Err(f))) => {
                stop.store(true, Ordering::Relaxed);
                failures.push(f);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let hung = running
                    .lock()
                    .expect("lock")
                    .iter()
                    .flatten()
                    .find(|(_, t)| t.elapsed().as_secs() > HANG_SECS)
                    .copied();
                if let Some((seed, _)) = hung {
                    stop.store(true, Ordering::Relaxed);
                    // The hung thread is left behind; the process ends with the test.
                    let message = format!(
                        "hung: no result after {HANG_SECS} s of wall time (an endless loop inside one call)"
                    );
                    return Err(SimFailure { seed, message });
                }
            }
        }
    }
    for h in handles {
        let _ = h.join();
    }
    match failures.into_iter().min_by_key(|f| f.seed) {
        Some(f) => Err(f),
        None => Ok(summary),
    }
}

// ----- the runner ----------------------------------------------------------

/// Something the runner itself scheduled.
#[derive(Clone, Copy, Debug)]
enum Due {
    /// After a crash: start a fresh session pair once the old one is over
    /// (`fresh` false: only make sure the survivor's session ends).
    Restart { fresh: bool },
    /// After a session pair ended on its own: connect again.
    Reconnect,
    /// A silent peer: by now the survivor's idle (or handshake) timeout
    /// must have ended its session.
    EndBy { side: usize, deadline: Instant },
}

/// One session pair and the link between them.
struct Epoch {
    index: u32,
    started: Instant,
    sessions: [Option<Box<dyn Endpoint>>; 2],
    /// The host closed its transport (its session ended, or it crashed).
    host_closed: [bool; 2],
    /// `pipes[s]` carries what side `s` writes.
    pipes: [Pipe; 2],
    model: Model,
    crash: Option<(usize, CrashKind)>,
    stalled: bool,
    /// When each side last got a non-empty `handle_input`.
    last_input: [Instant; 2],
    over: bool,
}

// Trace tags.
const T_OP: u64 = 1;
const T_TX: u64 = 2;
const T_RX: u64 = 3;
const T_EOF: u64 = 4;
const T_EVENT: u64 = 5;
const T_TIMER: u64 = 6;
const T_DUE: u64 = 7;
const T_RESULT: u64 = 8;
const T_FRAME: u64 = 9;
const T_EPOCH: u64 = 10;

/// A stable 64-bit digest of a value's `Debug` text, for the trace.
fn digest<T: fmt::Debug>(v: &T) -> u64 {
    let mut r = Recorder::new(false);
    r.bytes(format!("{v:?}").as_bytes());
    r.hash()
}

fn event_words(e: &Event) -> [u64; 3] {
    match *e {
        Event::Connected => [1, 0, 0],
        Event::Incoming => [2, 0, 0],
        Event::Readable(id) => [3, id.0.into(), 0],
        Event::Writable(id) => [4, id.0.into(), 0],
        Event::Finished(id) => [5, id.0.into(), 0],
        Event::Reset { id, code, remote } => [6, id.0.into(), (u64::from(code.0) << 1) | u64::from(remote)],
        Event::OpenReady => [7, 0, 0],
        Event::Pong { rtt } => [8, rtt.as_micros(), 0],
        Event::GoAway { last_stream, code } => [9, last_stream.0.into(), code.0.into()],
        Event::Closed(r) => [10, digest(&r), 0],
    }
}

/// The simulation of one seed.
struct Sim {
    seed: u64,
    scn: Scenario,
    now: Instant,
    work: Workload,
    link_rng: Rng,
    app_rng: Rng,
    epoch_rng: Rng,
    ep: Epoch,
    /// Session pairs started.
    epochs: u32,
    due: Vec<(Instant, Due)>,
    rec: Recorder,
    out: Vec<u8>,
    /// The run is ending: no new session pairs, no faults.
    final_phase: bool,
    max_ops: usize,
    stats: RunStats,
}

impl Sim {
    fn new(seed: u64, opts: &RunOptions) -> Self {
        let mut root = Rng::new(seed);
        let scn = Scenario::new(&mut root.fork());
        let work = Workload::new(root.fork(), scn.mix.clone());
        let mut link_rng = root.fork();
        let app_rng = root.fork();
        let epoch_rng = root.fork();
        let pipes = [Pipe::new(pipe_params(&mut link_rng)), Pipe::new(pipe_params(&mut link_rng))];
        let max_ops = opts.max_ops.unwrap_or(usize::MAX).min(scn.ops);
        let ep = Epoch {
            index: 0,
            started: Instant::ZERO,
            sessions: [None, None],
            host_closed: [true, true],
            pipes,
            model: Model::new(0, 0, Ctx::default()),
            crash: None,
            stalled: false,
            last_input: [Instant::ZERO; 2],
            over: true,
        };
        Sim {
            seed,
            scn,
            now: Instant::ZERO,
            work,
            link_rng,
            app_rng,
            epoch_rng,
            ep,
            epochs: 0,
            due: Vec::new(),
            rec: Recorder::new(opts.verbose),
            out: vec![0; 4096],
            final_phase: false,
            max_ops,
            stats: RunStats::default(),
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            seed: self.seed,
            epoch: self.ep.index,
            step: self.rec.len() as u64,
            now_us: self.now.as_micros(),
        }
    }

    fn sync(&mut self) {
        let ctx = self.ctx();
        self.ep.model.ctx = ctx;
        CURRENT.with(|c| c.set(ctx));
    }

    fn note(&self, f: impl FnOnce() -> String) {
        if self.rec.verbose {
            eprintln!(
                "{:>7} {:>16} e{} {}",
                self.rec.len(),
                fmt_us(self.now.as_micros()),
                self.ep.index,
                f()
            );
        }
    }

    fn run(mut self) -> RunReport {
        if self.rec.verbose {
            eprintln!("sim: seed {}\n{}", self.seed, self.scn.describe());
        }
        self.start_epoch();
        self.end_step();
        for i in 0..self.max_ops {
            if self.ep.over && self.due.is_empty() {
                self.note(|| format!("--- no session pair left after {i} operations"));
                break;
            }
            let op = self.work.next_op();
            self.apply(op);
            self.end_step();
        }
        self.note(|| "--- wind-down: applications finish and read everything".into());
        self.wind_down(false);
        self.check_clean_end();
        self.final_phase = true;
        self.close_gracefully();
        self.wind_down(true);
        self.archive();
        let steps = self.rec.len() as u64;
        self.note(|| format!("--- done: {steps} steps, {:?}", self.stats));
        let hash = self.rec.hash();
        RunReport { steps, hash, step_hashes: self.rec.into_steps(), stats: self.stats }
    }

    // ----- epochs --------------------------------------------------------

    /// Replace the (over) session pair with a fresh one on a fresh link.
    fn start_epoch(&mut self) {
        if self.epochs > 0 {
            self.archive();
        }
        let params = [pipe_params(&mut self.link_rng), pipe_params(&mut self.link_rng)];
        // Deadlines of the old pair do not apply to the new one.
        self.due.retain(|(_, d)| !matches!(d, Due::EndBy { .. }));
        let salt = self.epoch_rng.next_u64();
        let sessions = [
            Some((self.scn.factories[0])(self.scn.configs[0], self.now)),
            Some((self.scn.factories[1])(self.scn.configs[1], self.now)),
        ];
        self.ep = Epoch {
            index: self.epochs,
            started: self.now,
            sessions,
            host_closed: [false, false],
            pipes: [Pipe::new(params[0]), Pipe::new(params[1])],
            model: Model::new(salt, params[0].latency_us + params[1].latency_us, Ctx::default()),
            crash: None,
            stalled: false,
            last_input: [self.now; 2],
            over: false,
        };
        self.epochs += 1;
        self.stats.epochs += 1;
        self.sync();
        self.rec.words(T_EPOCH, &[u64::from(self.epochs)]);
        self.note(|| {
            format!("--- session pair {} starts; link {:?} / {:?}", self.ep.index, params[0], params[1])
        });
    }

    /// Final checks of a session pair that is over, and its counters.
    fn archive(&mut self) {
        if self.ep.sessions.iter().all(Option::is_none) {
            return;
        }
        self.sync();
        for s in 0..2 {
            // Data received before the end stays readable: read and check it.
            let hinted: Vec<u32> = self.ep.model.sides[s]
                .streams
                .iter()
                .filter(|(_, st)| st.read_hint)
                .map(|(&id, _)| id)
                .collect();
            for id in hinted {
                self.read_stream(s, id, usize::MAX, 1024);
            }
            let m = &self.ep.model.sides[s];
            if m.crashed {
                continue;
            }
            let ctx = self.ctx();
            if m.closed.is_none() {
                violation!(
                    ctx,
                    "{}: session pair over, but its session never reported Event::Closed",
                    SIDE[s]
                );
            }
            for (id, st) in &m.streams {
                if !(st.ended_cleanly() || st.session_ended || m.closed.is_some()) {
                    violation!(ctx, "{}: stream {id} never ended: {st:?}", SIDE[s]);
                }
            }
        }
        for m in &self.ep.model.sides {
            self.stats.streams += m.streams.len() as u64;
            self.stats.bytes += m.streams.values().map(|s| s.read).sum::<u64>();
            self.stats.resets += m.streams.values().filter(|s| s.local_reset.is_some()).count() as u64;
        }
        self.ep.sessions = [None, None];
    }

    /// Whether the pair is over: each side crashed, or its session ended
    /// and its host closed the transport.
    fn check_over(&mut self) {
        if self.ep.over {
            return;
        }
        let done = (0..2).all(|s| self.ep.sessions[s].is_none() || self.ep.host_closed[s]);
        if !done {
            return;
        }
        self.ep.over = true;
        self.note(|| "session pair over".into());
        let restart_pending = self.due.iter().any(|(_, d)| matches!(d, Due::Restart { .. }));
        if !restart_pending && !self.final_phase && self.epochs < self.scn.max_epochs {
            let at = self.now + Duration::from_micros(self.app_rng.range(0, 200_000));
            self.due.push((at, Due::Reconnect));
        }
    }

    // ----- one step --------------------------------------------------------

    /// After every action: drain both sessions, check every invariant,
    /// close the step in the trace.
    fn end_step(&mut self) {
        self.sync();
        self.service(0);
        self.service(1);
        self.check_over();
        self.check();
        self.rec.end_step();
        if self.rec.len() as u64 > MAX_STEPS {
            self.stuck("the step budget is exhausted");
        }
        self.sync();
    }

    /// Drain one session in the documented order (transmit, events, trace)
    /// until nothing more comes out, then close the transport if it ended.
    fn service(&mut self, s: usize) {
        let Some(mut ses) = self.ep.sessions[s].take() else { return };
        let mut calls = 0u32;
        loop {
            let mut progress = false;
            while !self.ep.host_closed[s] {
                let room = self.ep.pipes[s].room();
                if room == 0 {
                    break;
                }
                calls += 1;
                if calls > TRANSMIT_CALLS {
                    self.ep.sessions[s] = Some(ses);
                    self.stuck(&format!("{}: poll_transmit never runs dry", SIDE[s]));
                }
                let want = self.link_rng.pick(&[24, 128, 200, 512, 1500, 4096]);
                let size = want.min(room).min(self.out.len());
                let mut n = ses.poll_transmit(self.now, &mut self.out[..size]);
                if n == 0 {
                    let need = ses.transmit_needed();
                    if need == 0 || need > room.min(self.out.len()) {
                        break;
                    }
                    if need <= size {
                        let ctx = self.ctx();
                        violation!(
                            ctx,
                            "{}: poll_transmit wrote nothing into {size} bytes but says it needs {need}",
                            SIDE[s]
                        );
                    }
                    n = ses.poll_transmit(self.now, &mut self.out[..need]);
                    if n == 0 {
                        let ctx = self.ctx();
                        violation!(
                            ctx,
                            "{}: poll_transmit wrote nothing into the {need} bytes transmit_needed asked for",
                            SIDE[s]
                        );
                    }
                }
                progress = true;
                self.rec.word(T_TX + ((s as u64) << 8));
                self.rec.bytes(&self.out[..n]);
                let n_ = n;
                self.note(|| format!("{} -> link: {n_} bytes", SIDE[s]));
                self.ep.pipes[s].send(self.now, &self.out[..n], &mut self.link_rng);
            }
            while let Some(e) = ses.poll_event() {
                progress = true;
                self.rec.words(T_EVENT + ((s as u64) << 8), &event_words(&e));
                self.note(|| format!("{} event {e:?}", SIDE[s]));
                self.ep.model.on_event(s, e);
                match e {
                    Event::Closed(reason) => self.on_closed(s, &*ses, reason),
                    Event::GoAway { last_stream, code }
                        if ses.remote_go_away() != Some((last_stream, code)) =>
                    {
                        let ctx = self.ctx();
                        violation!(
                            ctx,
                            "{}: {e:?}, but remote_go_away() is {:?}",
                            SIDE[s],
                            ses.remote_go_away()
                        );
                    }
                    Event::GoAway { code, .. } if code != ErrorCode::NO_ERROR => {
                        // An application's error GOAWAY carries its debug bytes,
                        // cut to what fits the frame size its sender knew:
                        // this side's, or the smallest one before SETTINGS
                        // arrived ([S-4.13]).
                        let sent = &self.ep.model.sides[1 - s].goaway_debug;
                        let got = ses.remote_debug();
                        let fits = ses.local_settings().max_frame_size as usize - 8;
                        let least = sent.len().min(64 - 8);
                        if !sent.starts_with(&got) || got.len() < least || got.len() > fits {
                            let ctx = self.ctx();
                            violation!(
                                ctx,
                                "{}: GOAWAY debug {:?}, the peer sent {:?}",
                                SIDE[s],
                                ses.remote_debug(),
                                sent
                            );
                        }
                    }
                    _ => {}
                }
            }
            while let Some(r) = ses.poll_trace() {
                progress = true;
                self.rec.words(T_FRAME, &[digest(&r)]);
                if r.detail != FrameDetail::Preface {
                    let dir = usize::from(r.direction == Direction::Received);
                    self.ep.model.sides[s].traced[dir] += 1;
                }
            }
            if !progress {
                break;
            }
        }
        if !self.ep.host_closed[s] && ses.state() == SessionState::Closed {
            self.ep.host_closed[s] = true;
            self.ep.pipes[s].close(self.now, &mut self.link_rng);
            self.ep.pipes[1 - s].swallow();
            self.note(|| format!("{}: session closed; host closes the transport", SIDE[s]));
        }
        self.ep.sessions[s] = Some(ses);
    }

    /// Timing checks on a session's end.
    fn on_closed(&mut self, s: usize, ses: &dyn Endpoint, reason: braid::CloseReason) {
        let ctx = self.ctx();
        let name = SIDE[s];
        if ses.close_reason() != Some(reason) {
            violation!(
                ctx,
                "{name}: Event::Closed({reason:?}) but close_reason() is {:?}",
                ses.close_reason()
            );
        }
        let peer_alive = self.ep.sessions[1 - s].is_some()
            && !self.ep.host_closed[1 - s]
            && self.ep.model.sides[1 - s].closed.is_none();
        let healthy = peer_alive && self.ep.crash.is_none() && !self.ep.stalled;
        let delays = (self.ep.pipes[0].params().worst_delay_us(), self.ep.pipes[1].params().worst_delay_us());
        match reason.local {
            Some(LocalError::IdleTimeout) => {
                self.stats.idle_timeouts += 1;
                let Some(idle) = ses.idle_timeout() else {
                    violation!(ctx, "{name}: idle timeout without an idle timeout in force");
                };
                let silent = self.now.saturating_since(self.ep.last_input[s]);
                if silent < idle {
                    violation!(
                        ctx,
                        "{name}: idle timeout after only {}us of silence (timeout {}us)",
                        silent.as_micros(),
                        idle.as_micros()
                    );
                }
                if let (true, Some(a), Some(b)) = (healthy, delays.0, delays.1) {
                    if (a + b) * 4 < idle.as_micros() {
                        violation!(
                            ctx,
                            "{name}: idle timeout ({}us) on a healthy link (worst one-way delays {a}us and {b}us): \
                             keepalive PINGs should have kept the session alive",
                            idle.as_micros()
                        );
                    }
                }
            }
            Some(LocalError::HandshakeTimeout) => {
                let limit = ses.config().handshake_timeout;
                if self.now.saturating_since(self.ep.started) < limit {
                    violation!(ctx, "{name}: handshake timeout before {}ms", limit.as_millis());
                }
                if let (true, Some(a), Some(b)) = (healthy, delays.0, delays.1) {
                    if (a + b) * 4 < limit.as_micros() {
                        violation!(ctx, "{name}: handshake timeout on a healthy link");
                    }
                }
            }
            _ => {}
        }
    }

    // ----- time ------------------------------------------------------------

    /// The earliest time something is due: a delivery, a session timer, or
    /// something the runner scheduled.
    fn next_due(&self) -> Option<Instant> {
        let pipes = self.ep.pipes.iter().filter_map(Pipe::next_event);
        let timers = self.ep.sessions.iter().flatten().filter_map(|s| s.poll_timeout());
        let dues = self.due.iter().map(|(t, _)| *t);
        pipes.chain(timers).chain(dues).min()
    }

    /// Handle everything due at the current instant.
    fn process_due(&mut self) {
        let mut rounds = 0;
        loop {
            let mut did = false;
            for dir in 0..2 {
                if let Some(d) = self.ep.pipes[dir].take(self.now, &mut self.link_rng) {
                    self.deliver(1 - dir, d);
                    self.end_step();
                    did = true;
                }
            }
            for s in 0..2 {
                let due = self.ep.sessions[s]
                    .as_ref()
                    .and_then(|x| x.poll_timeout())
                    .is_some_and(|t| t <= self.now);
                if due {
                    self.rec.words(T_TIMER, &[s as u64]);
                    self.note(|| format!("{} handle_timeout", SIDE[s]));
                    let now = self.now;
                    self.ep.sessions[s].as_mut().expect("checked").handle_timeout(now);
                    self.end_step();
                    did = true;
                }
            }
            if let Some(i) = self.due.iter().position(|(t, _)| *t <= self.now) {
                let (_, d) = self.due.remove(i);
                self.rec.words(T_DUE, &[digest(&d)]);
                self.note(|| format!("runner: {d:?}"));
                self.on_due(d);
                self.end_step();
                did = true;
            }
            if !did {
                return;
            }
            rounds += 1;
            if rounds > SAME_INSTANT_ROUNDS {
                self.stuck("events keep falling due at the same instant (a timer that does not move?)");
            }
        }
    }

    /// Let time run to `target`, handling everything due on the way in order.
    fn advance_to(&mut self, target: Instant) {
        loop {
            self.process_due();
            match self.next_due() {
                Some(t) if t <= target => {
                    if t <= self.now {
                        self.stuck(&format!("something due at {} was not handled", fmt_us(t.as_micros())));
                    }
                    self.now = t;
                    self.sync();
                }
                _ => {
                    if target > self.now {
                        self.now = target;
                        self.sync();
                        self.process_due();
                    }
                    return;
                }
            }
        }
    }

    /// Hand a delivery to side `s`, draining its session after every call.
    fn deliver(&mut self, s: usize, d: Delivery) {
        for piece in &d.pieces {
            self.ep.last_input[s] = self.now;
            self.rec.words(T_RX, &[s as u64, piece.len() as u64]);
            self.note(|| format!("link -> {}: {} bytes", SIDE[s], piece.len()));
            let mut off = 0;
            let mut idle_calls = 0;
            while off < piece.len() {
                let Some(ses) = self.ep.sessions[s].as_mut() else { return };
                let n = ses.handle_input(self.now, &piece[off..]);
                off += n;
                self.service(s);
                idle_calls = if n == 0 { idle_calls + 1 } else { 0 };
                if idle_calls > 2 {
                    let ctx = self.ctx();
                    violation!(ctx, "{}: handle_input consumes nothing even with its trace drained", SIDE[s]);
                }
            }
        }
        if d.eof {
            if let Some(ses) = self.ep.sessions[s].as_mut() {
                self.rec.words(T_EOF, &[s as u64]);
                self.ep.model.sides[s].eof_fed = true;
                ses.handle_eof(self.now);
                self.note(|| format!("link -> {}: EOF", SIDE[s]));
                self.service(s);
            }
        }
    }

    fn on_due(&mut self, d: Due) {
        match d {
            Due::Reconnect => {
                if !self.final_phase && self.ep.over {
                    self.start_epoch();
                    self.maybe_dead_on_arrival();
                }
            }
            Due::Restart { fresh } => {
                if self.ep.over {
                    if fresh && !self.final_phase {
                        self.start_epoch();
                        self.maybe_dead_on_arrival();
                    }
                    return;
                }
                let (crashed, kind) = self.ep.crash.expect("a restart follows a crash");
                let survivor = 1 - crashed;
                let end_by_pending = self.due.iter().any(|(_, d)| matches!(d, Due::EndBy { .. }));
                if kind == CrashKind::Silence && !end_by_pending {
                    // No idle timeout will notice the silent peer: the
                    // application gives up on the old session itself.
                    if let Some(ses) = self.ep.sessions[survivor].as_mut() {
                        if self.ep.model.sides[survivor].closed.is_none() {
                            self.ep.model.sides[survivor].closed_by_app = true;
                            ses.close();
                            self.note(|| {
                                format!(
                                    "{}: application gives up on the silent peer: close()",
                                    SIDE[survivor]
                                )
                            });
                        }
                    }
                }
                // Check again once the survivor's end has played out.
                self.due.push((self.now + Duration::from_millis(50), Due::Restart { fresh }));
            }
            Due::EndBy { side, deadline } => {
                if self.ep.sessions[side].is_some() && self.ep.model.sides[side].closed.is_none() {
                    let ctx = self.ctx();
                    let state = self.ep.sessions[side].as_ref().map(|s| s.state());
                    violation!(
                        ctx,
                        "{}: the peer went silent; its idle or handshake timeout should have ended the session \
                         by {}, but it is still {state:?}",
                        SIDE[side],
                        fmt_us(deadline.as_micros())
                    );
                }
            }
        }
    }

    // ----- operations ------------------------------------------------------

    fn apply(&mut self, op: Op) {
        self.rec.words(T_OP, &[digest(&op)]);
        match op {
            Op::Settle => match self.next_due() {
                Some(t) => self.advance_to(t.max(self.now)),
                None => self.process_due(),
            },
            Op::Advance { us } => self.advance_to(self.now + Duration::from_micros(us)),
            Op::Stall { dir, us } => {
                let p = &mut self.ep.pipes[dir];
                if !p.is_black_hole() && !self.ep.over {
                    let until = self.now + Duration::from_micros(us);
                    p.stall(until);
                    self.ep.stalled = true;
                    self.stats.stalls += 1;
                    self.note(|| format!("{} stops reading for {us}us", SIDE[1 - dir]));
                }
            }
            Op::Crash { side, kind } => self.crash(side, kind),
            op => self.app_op(op),
        }
    }

    fn live(&self, s: usize) -> bool {
        self.ep.sessions[s].is_some() && !self.ep.model.sides[s].crashed
    }

    fn app_op(&mut self, op: Op) {
        let s = match &op {
            Op::Open { side, .. }
            | Op::Write { side, .. }
            | Op::Read { side, .. }
            | Op::Finish { side, .. }
            | Op::Reset { side, .. }
            | Op::Accept { side, .. }
            | Op::Refuse { side, .. }
            | Op::Ping { side }
            | Op::GoAway { side, .. }
            | Op::Close { side }
            | Op::Trim { side }
            | Op::Tick { side } => *side,
            _ => unreachable!("not an application operation"),
        };
        if !self.live(s) {
            self.note(|| format!("{} {op:?}: skipped, no session", SIDE[s]));
            return;
        }
        let name = SIDE[s];
        match op {
            Op::Open { meta, .. } => self.open(s, meta),
            Op::Write { pick, len, .. } => {
                if let Some(id) = self.pick_stream(s, pick, |st| !st.finished) {
                    self.write(s, id, len);
                }
            }
            Op::Read { pick, max, buf, .. } => {
                // Mostly a stream an event said has something to read.
                let hinted = self.pick_stream(s, pick, |st| st.read_hint);
                let hinted = hinted.filter(|id| self.ep.model.sides[s].streams[id].read_hint);
                if let Some(id) = hinted.or_else(|| self.pick_stream(s, pick, |st| !st.eof)) {
                    self.read_stream(s, id, max, buf);
                }
            }
            Op::Finish { pick, .. } => {
                if let Some(id) = self.pick_stream(s, pick, |st| !st.finished) {
                    let res = self.session(s).finish(StreamId(id));
                    self.rec.words(T_RESULT, &[digest(&res)]);
                    self.note(|| format!("{name} finish {id} -> {res:?}"));
                    self.ep.model.on_finish(s, id, res);
                }
            }
            Op::Reset { pick, code, .. } => {
                if let Some(id) = self.pick_stream(s, pick, |st| !st.ended_cleanly()) {
                    let res = self.session(s).reset(StreamId(id), code);
                    self.rec.words(T_RESULT, &[digest(&res)]);
                    self.note(|| format!("{name} reset {id} {code} -> {res:?}"));
                    self.ep.model.on_reset(s, id, code, res);
                }
            }
            Op::Accept { reply, .. } => self.accept(s, reply, None),
            Op::Refuse { code, .. } => self.accept(s, None, Some(code)),
            Op::Ping { .. } => {
                let res = self.session(s).ping();
                self.rec.words(T_RESULT, &[digest(&res)]);
                self.note(|| format!("{name} ping -> {res:?}"));
                self.ep.model.on_ping(s, res);
            }
            Op::GoAway { code, debug, .. } => self.go_away(s, code, &debug),
            Op::Close { .. } => self.close(s),
            Op::Trim { .. } => {
                self.note(|| format!("{name} trim_buffers"));
                self.session(s).trim_buffers();
                // After a trim only live streams hold buffers.
                let ses = self.session(s);
                let (used, bytes) = (ses.streams_in_use(), ses.buffer_bytes());
                let shape = self.scn.shapes[s];
                if bytes.is_some_and(|b| b > used * (shape.rx + shape.tx)) {
                    let ctx = self.ctx();
                    violation!(
                        ctx,
                        "{name}: {bytes:?} bytes of stream buffers after a trim, {used} streams live"
                    );
                }
            }
            Op::Tick { .. } => {
                self.note(|| format!("{name} handle_timeout (early)"));
                let now = self.now;
                self.session(s).handle_timeout(now);
            }
            _ => unreachable!("handled in apply"),
        }
    }

    /// Tell the model whether side `s`'s session has ended (a command can
    /// end it before `Event::Closed` is polled).
    fn sync_ended(&mut self, s: usize) {
        let ended = self.ep.sessions[s]
            .as_ref()
            .is_some_and(|x| matches!(x.state(), SessionState::Closing | SessionState::Closed));
        self.ep.model.sides[s].ended |= ended;
    }

    /// Side `s`'s session, for a command (the model first learns whether
    /// an earlier command ended the session).
    fn session(&mut self, s: usize) -> &mut dyn Endpoint {
        self.sync_ended(s);
        &mut **self.ep.sessions[s].as_mut().expect("a live session")
    }

    /// A stream of side `s`'s application: mostly one that `useful` says
    /// the operation makes sense on, sometimes any (for the error paths).
    fn pick_stream(&self, s: usize, pick: u64, useful: fn(&StreamModel) -> bool) -> Option<u32> {
        let m = &self.ep.model.sides[s];
        let going: Vec<u32> = m
            .streams
            .iter()
            .filter(|(_, st)| !st.was_reset() && !st.forgotten && useful(st))
            .map(|(&id, _)| id)
            .collect();
        if !pick.is_multiple_of(8) {
            return (!going.is_empty()).then(|| going[(pick >> 3) as usize % going.len()]);
        }
        let all: Vec<u32> = m.streams.keys().copied().collect();
        (!all.is_empty()).then(|| all[(pick >> 3) as usize % all.len()])
    }

    /// The largest metadata block the peer accepts, once its SETTINGS came.
    fn meta_limit(&self, s: usize) -> Option<usize> {
        let ses = self.ep.sessions[s].as_ref()?;
        let p = ses.peer_settings()?;
        Some((p.max_open_metadata as usize).min(self.scn.shapes[s].tx).min(p.max_frame_size as usize - 2))
    }

    fn open(&mut self, s: usize, meta: Option<Meta>) {
        let limit = self.meta_limit(s);
        let ses = self.session(s);
        let credit = ses.send_credit();
        let res = match &meta {
            Some(m) => ses.open_with(&m.bytes),
            None => ses.open(),
        };
        self.rec.words(T_RESULT, &[digest(&res)]);
        self.note(|| format!("{} open meta {:?} -> {res:?}", SIDE[s], meta.as_ref().map(|m| m.bytes.len())));
        self.ep.model.on_open(s, res, meta.as_ref(), credit, limit);
        if res.is_ok() {
            self.ep.model.sides[s].open_blocked = false;
        }
    }

    fn write(&mut self, s: usize, id: u32, len: usize) {
        let data = self.ep.model.data(s, id, len);
        let tx = self.scn.shapes[s].tx;
        let ses = self.session(s);
        let res = ses.write(StreamId(id), &data);
        let unsent = ses.stream_info(StreamId(id)).map(|i| i.unsent);
        self.rec.words(T_RESULT, &[digest(&res)]);
        self.note(|| format!("{} write {id} {len} bytes -> {res:?}", SIDE[s]));
        if res == Err(braid::WriteError::WouldBlock) && unsent.is_some_and(|u| u != tx) {
            let ctx = self.ctx();
            violation!(
                ctx,
                "{}: stream {id}: write would block with {unsent:?} of {tx} bytes buffered",
                SIDE[s]
            );
        }
        self.ep.model.on_write(s, id, len, res);
    }

    /// Read stream `id` until it would block, ends, or `max` bytes came.
    fn read_stream(&mut self, s: usize, id: u32, max: usize, buf: usize) {
        if self.ep.sessions[s].is_none() {
            return;
        }
        self.check_reply_meta(s, id);
        let mut out = vec![0u8; buf];
        let mut total = 0;
        loop {
            let res = self.session(s).read(StreamId(id), &mut out);
            let n = *res.as_ref().unwrap_or(&0);
            self.rec.words(T_RESULT, &[0x5EAD, n as u64, if res.is_err() { digest(&res) } else { 0 }]);
            self.note(|| format!("{} read {id} -> {res:?}", SIDE[s]));
            let more = self.ep.model.on_read(s, id, res, &out[..n]);
            total += n;
            if !more || total >= max {
                return;
            }
        }
    }

    /// For a stream this side opened: the acceptor's reply metadata, if it
    /// came, must be what the acceptor sent (checked before every read).
    fn check_reply_meta(&mut self, s: usize, id: u32) {
        let st = &self.ep.model.sides[s].streams[&id];
        if !st.local || st.meta_seen || st.eof || st.was_reset() {
            return;
        }
        let small = self.app_rng.chance(200);
        let got = self.fetch_meta(s, id, small);
        if let Some(got) = got {
            self.ep.model.on_metadata(s, id, got.as_deref());
        }
    }

    /// `metadata(id)`, maybe first into a buffer too small (which must say
    /// how much it needs). `None` when the stream is gone.
    fn fetch_meta(&mut self, s: usize, id: u32, small: bool) -> Option<Option<Vec<u8>>> {
        let ctx = self.ctx();
        let mut buf = [0u8; 256];
        let ses = self.ep.sessions[s].as_ref().expect("live");
        if small {
            if let Err(StreamError::BufferTooSmall(n)) = ses.metadata(StreamId(id), &mut buf[..3]) {
                if n <= 3 {
                    violation!(
                        ctx,
                        "{}: stream {id}: metadata says it needs {n} bytes of a 3-byte buffer",
                        SIDE[s]
                    );
                }
            }
        }
        match ses.metadata(StreamId(id), &mut buf) {
            Ok(None) => Some(None),
            Ok(Some(n)) => Some(Some(buf[..n].to_vec())),
            Err(StreamError::UnknownStream | StreamError::SessionClosed) => None,
            Err(e) => violation!(ctx, "{}: stream {id}: metadata returned {e:?}", SIDE[s]),
        }
    }

    /// Accept (with `reply`) or refuse (with `refuse`) the oldest incoming stream.
    fn accept(&mut self, s: usize, reply: Option<Meta>, refuse: Option<ErrorCode>) {
        let limit = self.meta_limit(s);
        let peeked = self.session(s).incoming();
        if let Some(id) = peeked {
            let small = self.app_rng.chance(200);
            if let Some(got) = self.fetch_meta(s, id.0, small) {
                self.ep.model.on_metadata(s, id.0, got.as_deref());
            }
        }
        let ses = self.session(s);
        let res = match (&reply, refuse) {
            (_, Some(code)) => ses.refuse(code),
            (Some(m), None) => ses.accept_with(&m.bytes),
            (None, None) => ses.accept(),
        };
        self.rec.words(T_RESULT, &[digest(&res)]);
        self.note(|| {
            format!(
                "{} accept reply {:?} refuse {refuse:?} -> {res:?}",
                SIDE[s],
                reply.as_ref().map(|m| m.bytes.len())
            )
        });
        self.ep.model.on_accept(s, res, peeked, reply.as_ref(), limit, refuse);
    }

    fn go_away(&mut self, s: usize, code: ErrorCode, debug: &[u8]) {
        let res = self.session(s).go_away(code, debug);
        self.rec.words(T_RESULT, &[digest(&res)]);
        self.note(|| format!("{} go_away {code} -> {res:?}", SIDE[s]));
        self.ep.model.on_go_away(s, code, debug, res);
    }

    fn close(&mut self, s: usize) {
        if self.ep.model.sides[s].closed.is_none() {
            self.ep.model.sides[s].closed_by_app = true;
        }
        self.note(|| format!("{} close", SIDE[s]));
        self.session(s).close();
    }

    /// Sometimes (in seeds with crashes) a reconnecting peer dies before
    /// it says anything: the survivor's handshake must fail in time.
    fn maybe_dead_on_arrival(&mut self) {
        if self.scn.mix.weights[scenario::CRASH] > 0 && self.app_rng.chance(100) {
            let side = self.app_rng.below(2) as usize;
            let kind = self.app_rng.pick(&[CrashKind::Eof, CrashKind::Reset, CrashKind::Silence]);
            self.note(|| format!("{} dies before its handshake", SIDE[side]));
            self.crash(side, kind);
        }
    }

    fn crash(&mut self, s: usize, kind: CrashKind) {
        if self.final_phase
            || self.ep.over
            || self.ep.crash.is_some()
            || !self.live(s)
            || self.ep.host_closed[s]
        {
            return;
        }
        let survivor = 1 - s;
        let mut ses = self.ep.sessions[s].take().expect("live");
        self.note(|| format!("{} CRASHES ({kind:?})", SIDE[s]));
        match kind {
            CrashKind::Eof => {
                self.ep.pipes[s].close(self.now, &mut self.link_rng);
                self.ep.pipes[survivor].swallow();
            }
            CrashKind::Reset => {
                let room = self.ep.pipes[s].room().min(512);
                if room > 0 && self.link_rng.chance(700) {
                    // Part of one last write made it out: a frame cut in
                    // two (a PING makes sure there is one).
                    let _ = ses.ping();
                    let n = ses.poll_transmit(self.now, &mut self.out[..room]);
                    if n > 1 {
                        let cut = self.link_rng.range(1, n as u64 - 1) as usize;
                        self.rec.bytes(&self.out[..cut]);
                        self.ep.pipes[s].send(self.now, &self.out[..cut], &mut self.link_rng);
                    }
                }
                let cut = self.ep.pipes[s].reset(self.now, &mut self.link_rng);
                self.note(|| format!("connection reset: {cut} bytes in flight lost"));
                self.ep.pipes[survivor].swallow();
            }
            CrashKind::Silence => {
                self.ep.pipes[s].swallow();
                self.ep.pipes[survivor].swallow();
                if let Some(sv) = self.ep.sessions[survivor].as_ref() {
                    if self.ep.model.sides[survivor].closed.is_none() {
                        let mut deadline = sv.idle_timeout().map(|t| self.ep.last_input[survivor] + t);
                        if sv.state() == SessionState::Handshaking {
                            let hs = self.ep.started + sv.config().handshake_timeout;
                            deadline = Some(deadline.map_or(hs, |d| d.min(hs)));
                        }
                        if let Some(d) = deadline {
                            let at = d.max(self.now) + Duration::from_micros(1);
                            self.due.push((at, Due::EndBy { side: survivor, deadline: d }));
                        }
                    }
                }
            }
        }
        drop(ses);
        self.ep.host_closed[s] = true;
        self.ep.model.sides[s].crashed = true;
        self.ep.crash = Some((s, kind));
        self.stats.crashes += 1;
        let fresh = self.epochs < self.scn.max_epochs;
        let at = self.now + Duration::from_micros(self.app_rng.range(0, 500_000));
        self.due.push((at, Due::Restart { fresh }));
    }

    // ----- the end of a run --------------------------------------------------

    /// What an application does when asked to wrap up: accept everything,
    /// read whatever is flagged readable, finish every stream.
    fn react(&mut self, s: usize) {
        if !self.live(s) {
            return;
        }
        let open = self.ep.model.sides[s].closed.is_none();
        if self.ep.model.sides[s].incoming_hint && open {
            for _ in 0..64 {
                self.accept(s, None, None);
                if !self.ep.model.sides[s].incoming_hint {
                    break;
                }
            }
        }
        let ids: Vec<u32> = self.ep.model.sides[s].streams.keys().copied().collect();
        for id in ids {
            if self.ep.model.sides[s].streams[&id].read_hint {
                self.read_stream(s, id, usize::MAX, 1024);
            }
            let st = &self.ep.model.sides[s].streams[&id];
            if open && !st.finished && !st.was_reset() && !st.forgotten {
                let res = self.session(s).finish(StreamId(id));
                self.rec.words(T_RESULT, &[digest(&res)]);
                self.note(|| format!("{} finish {id} -> {res:?}", SIDE[s]));
                self.ep.model.on_finish(s, id, res);
            }
        }
    }

    /// Why the simulation is not quiescent yet, if it is not.
    fn unsettled(&self, require_end: bool) -> Option<String> {
        // Sessions first: their reasons say more than bytes in flight.
        let mut reasons: Vec<String> = (0..2).filter_map(|s| self.side_unsettled(s, require_end)).collect();
        if let Some((t, d)) = self.due.first() {
            reasons.push(format!("{d:?} due at {}", fmt_us(t.as_micros())));
        }
        for (dir, p) in self.ep.pipes.iter().enumerate() {
            if !p.is_idle() {
                reasons.push(format!("{} bytes in flight from the {}", p.queued(), SIDE[dir]));
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    fn side_unsettled(&self, s: usize, require_end: bool) -> Option<String> {
        {
            if !self.live(s) {
                return None;
            }
            let m = &self.ep.model.sides[s];
            let name = SIDE[s];
            if m.incoming_hint {
                return Some(format!("{name}: streams to accept"));
            }
            if let Some((id, _)) = m.streams.iter().find(|(_, st)| st.read_hint) {
                return Some(format!("{name}: stream {id} to read"));
            }
            if m.closed.is_some() {
                if !self.ep.host_closed[s] {
                    return Some(format!("{name}: session ended, transport still open"));
                }
                return None;
            }
            if require_end {
                return Some(format!("{name}: session still open"));
            }
            if !m.connected {
                return Some(format!("{name}: not connected"));
            }
            let ses = self.ep.sessions[s].as_ref().expect("live");
            if let Some((id, st)) = m.streams.iter().find(|(_, st)| !st.ended_cleanly() && !st.forgotten) {
                let info = ses.stream_info(StreamId(*id));
                let lost = info.is_some_and(|i| i.readable > 0 || i.finished_by_peer || i.reset.is_some());
                return Some(format!(
                    "{name}: stream {id} has not ended{}: {st:?} {info:?}",
                    if lost {
                        " (something to read, yet no Readable/Finished/Reset event pending)"
                    } else {
                        ""
                    }
                ));
            }
            if ses.streams_in_use() != 0 {
                return Some(format!("{name}: {} streams still in use", ses.streams_in_use()));
            }
        }
        None
    }

    /// Let the applications wrap up and time run until nothing is left to
    /// do (or, with `require_end`, until every session has ended).
    fn wind_down(&mut self, require_end: bool) {
        let deadline = self.now + WIND_DOWN_TIME;
        for _ in 0..WIND_DOWN_ROUNDS {
            if self.now > deadline {
                let why = self.unsettled(require_end).unwrap_or_default();
                self.stuck(&format!(
                    "no quiescence within {}s of virtual time: {why}",
                    WIND_DOWN_TIME.as_millis() / 1000
                ));
            }
            self.react(0);
            self.react(1);
            self.end_step();
            let Some(why) = self.unsettled(require_end) else { return };
            match self.next_due() {
                Some(t) => self.advance_to(t.max(self.now)),
                None => self.stuck(&format!("nothing is scheduled, yet: {why}")),
            }
        }
        let why = self.unsettled(require_end).unwrap_or_default();
        self.stuck(&format!("no quiescence after {WIND_DOWN_ROUNDS} rounds: {why}"));
    }

    /// At quiescence with both sessions open: no event may have been lost.
    fn check_clean_end(&mut self) {
        for s in 0..2 {
            if !self.live(s) || self.ep.model.sides[s].closed.is_some() {
                continue;
            }
            let ctx = self.ctx();
            let name = SIDE[s];
            if let Some(id) = self.session(s).incoming() {
                violation!(ctx, "{name}: stream {id} waits to be accepted, but no Event::Incoming said so");
            }
            let m = &self.ep.model.sides[s];
            if m.open_blocked && m.goaway_sent.is_none() && m.goaway_event.is_none() {
                let res = self.session(s).open();
                if let Ok(id) = res {
                    violation!(ctx, "{name}: an open blocked earlier, no Event::OpenReady came, yet open succeeds now ({id})");
                }
            }
        }
    }

    /// End the last session pair: GOAWAY or close from one side or both.
    fn close_gracefully(&mut self) {
        if (0..2).any(|s| !self.live(s) || self.ep.model.sides[s].closed.is_some()) {
            return;
        }
        let side = self.app_rng.below(2) as usize;
        match self.app_rng.below(4) {
            0 => self.close(side),
            1 => {
                self.go_away(0, ErrorCode::NO_ERROR, b"bye");
                self.go_away(1, ErrorCode::NO_ERROR, b"bye");
            }
            _ => self.go_away(side, ErrorCode::NO_ERROR, b"done"),
        }
        self.end_step();
    }

    // ----- invariants ------------------------------------------------------

    /// Every invariant that can be read off the sessions after a step.
    fn check(&mut self) {
        let ctx = self.ctx();
        for s in 0..2 {
            let Some(ses) = self.ep.sessions[s].as_ref() else { continue };
            let name = SIDE[s];
            let shape = self.scn.shapes[s];
            let m = &self.ep.model.sides[s];
            let used = ses.streams_in_use();
            if used > shape.streams {
                violation!(ctx, "{name}: {used} streams in use, capacity {}", shape.streams);
            }
            // Freed slots keep their buffers for the next stream until
            // `trim_buffers`: the bound is the capacity, not the live streams.
            if let Some(bytes) = ses.buffer_bytes() {
                if bytes > shape.streams * (shape.rx + shape.tx) {
                    violation!(
                        ctx,
                        "{name}: {bytes} bytes of stream buffers for {} slots of at most {} + {}",
                        shape.streams,
                        shape.rx,
                        shape.tx
                    );
                }
            }
            let state = ses.state();
            let reason = ses.close_reason();
            let ended = matches!(state, SessionState::Closing | SessionState::Closed);
            if ended != reason.is_some() {
                violation!(ctx, "{name}: state {state:?} with close_reason {reason:?}");
            }
            if ended != m.closed.is_some() && !m.crashed {
                violation!(ctx, "{name}: state {state:?}, yet Event::Closed seen: {:?}", m.closed);
            }
            if state == SessionState::Handshaking && m.connected {
                violation!(ctx, "{name}: Event::Connected while still handshaking");
            }
            // (Draining may come first: GOAWAY is allowed during the handshake.)
            if state == SessionState::Open && !m.connected {
                violation!(ctx, "{name}: {state:?} without Event::Connected");
            }
            let local = ses.local_settings();
            let config = ses.config();
            let ceiling = config.session_window_max.clamp(local.session_window, MAX_WINDOW);
            if ses.session_recv_window() > ceiling {
                violation!(
                    ctx,
                    "{name}: session receive window {} above its ceiling {ceiling}",
                    ses.session_recv_window()
                );
            }
            let meta = local.max_open_metadata as usize;
            for &id in &self.ep.model.live_ids {
                let Some(info) = ses.stream_info(StreamId(id)) else { continue };
                let mine = id % 2 == (if s == 0 { 1 } else { 0 });
                if info.local != mine {
                    violation!(
                        ctx,
                        "{name}: stream {id}: local {} for an id of {} parity",
                        info.local,
                        if mine { "its own" } else { "the peer's" }
                    );
                }
                if info.recv_window > info.recv_window_size {
                    violation!(
                        ctx,
                        "{name}: stream {id}: receive window {} above its size {}",
                        info.recv_window,
                        info.recv_window_size
                    );
                }
                if info.recv_window_size as usize > shape.rx - meta {
                    violation!(
                        ctx,
                        "{name}: stream {id}: window size {} above what the storage backs: {} - {meta} metadata ([S-7.6])",
                        info.recv_window_size,
                        shape.rx
                    );
                }
                if info.readable > shape.rx || info.unsent > shape.tx {
                    violation!(
                        ctx,
                        "{name}: stream {id}: {} readable, {} unsent, buffers {} / {}",
                        info.readable,
                        info.unsent,
                        shape.rx,
                        shape.tx
                    );
                }
                if info.readable + info.recv_window as usize > info.recv_window_size as usize + meta {
                    violation!(
                        ctx,
                        "{name}: stream {id}: {} bytes buffered and {} more allowed exceed the window size {} (+{meta} metadata)",
                        info.readable,
                        info.recv_window,
                        info.recv_window_size
                    );
                }
                if let Some(st) = m.streams.get(&id) {
                    if st.write_blocked
                        && info.unsent < shape.tx
                        && info.reset.is_none()
                        && m.closed.is_none()
                    {
                        violation!(ctx, "{name}: stream {id}: a write blocked, room freed ({} of {} used), but no Event::Writable came", info.unsent, shape.tx);
                    }
                    if st.finished && !info.finished_locally {
                        violation!(ctx, "{name}: stream {id}: finished, but stream_info says not");
                    }
                    if st.local_reset.is_some() && info.reset.is_none() {
                        violation!(
                            ctx,
                            "{name}: stream {id}: reset by the application, but stream_info says not"
                        );
                    }
                }
            }
        }
        self.check_windows();
    }

    /// Flow control across the two sides: a sender never believes it may
    /// send more than the receiver allows (DATA in flight has already left
    /// the sender's window, a WNDINC in flight has already raised the
    /// receiver's), and with nothing in flight the two agree exactly
    /// ([S-5.19]); tracing loses no frame.
    fn check_windows(&mut self) {
        let (Some(a), Some(b)) = (self.ep.sessions[0].as_ref(), self.ep.sessions[1].as_ref()) else { return };
        let open = |x: &dyn Endpoint| !matches!(x.state(), SessionState::Closing | SessionState::Closed);
        let m = &self.ep.model;
        if !open(&**a) || !open(&**b) || m.sides.iter().any(|s| s.crashed) {
            return;
        }
        let at_rest = self.ep.pipes.iter().all(|p| p.is_idle() && !p.is_black_hole())
            && a.peer_settings().is_some()
            && b.peer_settings().is_some();
        if at_rest {
            self.stats.at_rest_checks += 1;
            // Nothing in flight: a stream neither session knows is gone for good.
            let gone: Vec<u32> = m
                .live_ids
                .iter()
                .copied()
                .filter(|&id| a.stream_info(StreamId(id)).is_none() && b.stream_info(StreamId(id)).is_none())
                .collect();
            for id in gone {
                self.ep.model.live_ids.remove(&id);
            }
        }
        let m = &self.ep.model;
        let ctx = self.ctx();
        let pairs: [(&dyn Endpoint, &dyn Endpoint, usize); 2] = [(&**a, &**b, 0), (&**b, &**a, 1)];
        for (tx, rx, s) in pairs {
            let (may, allowed) = (tx.session_send_window(), rx.session_recv_window());
            if may > allowed || (at_rest && may != allowed) {
                violation!(
                    ctx,
                    "the {} may send {may} bytes on the session, the {} allows {allowed}{}",
                    SIDE[s],
                    SIDE[1 - s],
                    if at_rest { " with nothing in flight ([S-5.19])" } else { "" }
                );
            }
            let stats = tx.stats();
            let got = rx.stats();
            if at_rest && (stats.bytes_sent != got.bytes_received || stats.frames_sent != got.frames_received)
            {
                violation!(
                    ctx,
                    "with nothing in flight, the {} sent {} bytes in {} frames, the {} received {} bytes in {} frames",
                    SIDE[s],
                    stats.bytes_sent,
                    stats.frames_sent,
                    SIDE[1 - s],
                    got.bytes_received,
                    got.frames_received
                );
            }
            let traced = m.sides[s].traced;
            if at_rest
                && tx.config().trace
                && (traced[0] != stats.frames_sent || traced[1] != stats.frames_received)
            {
                violation!(
                    ctx,
                    "{}: trace recorded {traced:?} frames (sent, received), stats say {} / {}",
                    SIDE[s],
                    stats.frames_sent,
                    stats.frames_received
                );
            }
            for &id in &m.live_ids {
                let (Some(it), Some(ir)) = (tx.stream_info(StreamId(id)), rx.stream_info(StreamId(id)))
                else {
                    continue;
                };
                if it.reset.is_some() || ir.reset.is_some() {
                    continue;
                }
                if it.send_window > ir.recv_window || (at_rest && it.send_window != ir.recv_window) {
                    violation!(
                        ctx,
                        "stream {id}: the {} may send {} bytes, the {} allows {}{}",
                        SIDE[s],
                        it.send_window,
                        SIDE[1 - s],
                        ir.recv_window,
                        if at_rest { " with nothing in flight" } else { "" }
                    );
                }
            }
        }
    }

    /// Fail with the state of everything.
    fn stuck(&self, why: &str) -> ! {
        let ctx = self.ctx();
        violation!(ctx, "no progress (live-lock): {why}\n{}", self.dump())
    }

    fn dump(&self) -> String {
        let mut out = String::new();
        for s in 0..2 {
            out.push_str(&format!("{} host_closed {} ", SIDE[s], self.ep.host_closed[s]));
            match self.ep.sessions[s].as_ref() {
                None => out.push_str("(no session)\n"),
                Some(ses) => {
                    out.push_str(&format!(
                        "state {:?} reason {:?} in use {} credit {} session windows send {} recv {} timeout {:?} idle {:?}\n  {:?}\n",
                        ses.state(),
                        ses.close_reason(),
                        ses.streams_in_use(),
                        ses.send_credit(),
                        ses.session_send_window(),
                        ses.session_recv_window(),
                        ses.poll_timeout(),
                        ses.idle_timeout(),
                        ses.stats()
                    ));
                    for &id in &self.ep.model.live_ids {
                        if let Some(info) = ses.stream_info(StreamId(id)) {
                            out.push_str(&format!("  stream {id}: {info:?}\n"));
                        }
                    }
                }
            }
            out.push_str(&format!("  model: {}", describe_side(&self.ep.model.sides[s])));
        }
        for (dir, p) in self.ep.pipes.iter().enumerate() {
            out.push_str(&format!(
                "pipe from {}: {} bytes queued, next {:?}, stalled until {:?}, black hole {}, {:?}\n",
                SIDE[dir],
                p.queued(),
                p.next_event(),
                p.stalled_until(),
                p.is_black_hole(),
                p.params()
            ));
        }
        out.push_str(&format!("runner due: {:?}\n", self.due));
        out
    }
}
