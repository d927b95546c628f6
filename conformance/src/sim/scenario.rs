//! What a seed decides before the first step: storage, configurations,
//! link behaviour, workload mix and which faults may strike.

use super::endpoint::Endpoint;
use super::link::PipeParams;
use super::rng::Rng;
use braid::{ArrayStorage, Config, Duration, Instant, Role, Session, VecStorage};

/// The capacities of one side's storage, for the invariants.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    /// Stream slots.
    pub(crate) streams: usize,
    /// Receive buffer per stream.
    pub(crate) rx: usize,
    /// Send buffer per stream.
    pub(crate) tx: usize,
}

/// Makes a fresh session (at a start or a restart) for one side.
pub(crate) type Factory = Box<dyn Fn(Config, Instant) -> Box<dyn Endpoint>>;

fn array<const N: usize, const RX: usize, const TX: usize>() -> (Shape, Factory) {
    let shape = Shape { streams: N, rx: RX, tx: TX };
    (shape, Box::new(|c, now| Box::new(Session::new(c, ArrayStorage::<N, RX, TX>::new(), now))))
}

fn vec_storage(rng: &mut Rng) -> (Shape, Factory) {
    let shape = Shape {
        streams: rng.range(1, 8) as usize,
        rx: rng.range(96, 2048) as usize,
        tx: rng.range(96, 2048) as usize,
    };
    let (n, rx, tx) = (shape.streams, shape.rx, shape.tx);
    (shape, Box::new(move |c, now| Box::new(Session::new(c, VecStorage::new(n, rx, tx), now))))
}

/// Storage for the client and the server: fixed arrays of a few shapes,
/// or (one time in four) a growable `VecStorage` of random capacities.
fn storages(rng: &mut Rng) -> [(Shape, Factory); 2] {
    match rng.below(8) {
        0 => [array::<4, 256, 256>(), array::<4, 256, 256>()],
        1 => [array::<8, 1024, 512>(), array::<6, 2048, 2048>()],
        2 => [array::<5, 512, 1024>(), array::<8, 256, 256>()],
        3 => [array::<6, 2048, 256>(), array::<4, 512, 2048>()],
        4 => [array::<2, 384, 384>(), array::<3, 1024, 128>()],
        5 => [array::<16, 128, 128>(), array::<12, 256, 128>()],
        _ => [vec_storage(rng), vec_storage(rng)],
    }
}

/// One side's configuration: small frames and windows, credit limits,
/// metadata limits, idle and handshake timeouts and tracing, by the seed.
fn config(rng: &mut Rng, role: Role, shape: Shape) -> Config {
    let mut c = Config::new(role);
    c.max_frame_size = rng.pick(&[64, 64, 100, 256, 1024, 16_384]);
    c.max_open_metadata = rng.pick(&[16, 40, 64, 1024]);
    match rng.below(4) {
        0 => {}
        1 => {
            c.stream_window = rng.range(16, 200) as u32;
            c.stream_window_max = c.stream_window;
        }
        2 => c.stream_window = rng.range(16, 200) as u32,
        _ => {
            c.stream_window = 64;
            c.stream_window_max = 256;
        }
    }
    match rng.below(4) {
        0 | 1 => {}
        2 => {
            c.session_window = rng.pick(&[300, 700, 2000, 5000]);
            c.session_window_max = c.session_window;
        }
        _ => {
            c.session_window = rng.pick(&[300, 700, 2000]);
            c.session_window_max = c.session_window * 4;
        }
    }
    c.max_inbound_streams = rng.pick(&[None, None, Some(1), Some(2), Some(shape.streams as u32)]);
    c.idle_timeout =
        rng.pick(&[None, None, Some(60), Some(300), Some(1000), Some(3000)]).map(Duration::from_millis);
    c.handshake_timeout = rng.pick(&[Duration::from_secs(10), Duration::from_secs(2)]);
    c.trace = rng.chance(250);
    c
}

/// A pipe: from an ideal one (no delay, unlimited) to a slow, jittery,
/// fragmenting one with a small send buffer.
pub(crate) fn pipe_params(rng: &mut Rng) -> PipeParams {
    PipeParams {
        latency_us: rng.pick(&[0, 0, 100, 1000, 5000, 20_000]),
        jitter_us: rng.pick(&[0, 0, 200, 2000]),
        bytes_per_ms: rng.pick(&[0, 0, 10, 100, 1000]),
        send_buffer: rng.pick(&[usize::MAX, 128, 256, 1024, 8192]),
        split_per_mille: rng.pick(&[0, 100, 300]),
        partial_per_mille: rng.pick(&[0, 100, 400]),
    }
}

/// The kinds of operation the workload draws, in the order of
/// [`Mix::weights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Open,
    Write,
    Read,
    Finish,
    Reset,
    Accept,
    Refuse,
    Ping,
    GoAway,
    Close,
    Settle,
    Advance,
    Stall,
    Crash,
    Trim,
    Tick,
}

/// Every kind, in weight order.
pub(crate) const KINDS: [Kind; 16] = [
    Kind::Open,
    Kind::Write,
    Kind::Read,
    Kind::Finish,
    Kind::Reset,
    Kind::Accept,
    Kind::Refuse,
    Kind::Ping,
    Kind::GoAway,
    Kind::Close,
    Kind::Settle,
    Kind::Advance,
    Kind::Stall,
    Kind::Crash,
    Kind::Trim,
    Kind::Tick,
];

/// Index of [`Kind::Crash`] in [`Mix::weights`].
pub(crate) const CRASH: usize = 13;

/// Relative weights of the operation kinds.
#[derive(Clone, Debug)]
pub(crate) struct Mix {
    /// One weight per entry of [`KINDS`].
    pub(crate) weights: [u32; 16],
}

fn mix(rng: &mut Rng, faults: bool) -> Mix {
    // Weights in tenths of a percent, roughly: GOAWAY, close and crashes
    // end a session pair, so they stay rare enough for pairs to live a few
    // hundred operations.
    //          open  wr    rd    fin   rst  acc   ref  png  ga  cls set   adv   stall crash trim tick
    let base = match rng.below(3) {
        // Balanced.
        0 => [600, 2000, 1500, 400, 150, 600, 80, 150, 15, 4, 2500, 1500, 0, 0, 50, 50],
        // Bulk: few streams, much data.
        1 => [250, 3500, 2500, 200, 60, 300, 30, 100, 10, 3, 2500, 1200, 0, 0, 50, 50],
        // Churn: many short streams, resets, refusals.
        _ => [1500, 1200, 1200, 1000, 600, 1300, 250, 200, 20, 5, 2500, 1500, 0, 0, 50, 50],
    };
    let mut weights = base;
    if faults {
        weights[12] = rng.pick(&[0, 80, 200]);
        weights[13] = rng.pick(&[10, 20, 40]);
    }
    Mix { weights }
}

/// Everything a seed fixes up front.
pub(crate) struct Scenario {
    /// Client and server storage capacities.
    pub(crate) shapes: [Shape; 2],
    /// Client and server session factories.
    pub(crate) factories: [Factory; 2],
    /// Client and server configurations (the same across restarts).
    pub(crate) configs: [Config; 2],
    /// Operation mix.
    pub(crate) mix: Mix,
    /// Operations in the random phase.
    pub(crate) ops: usize,
    /// Sessions (connections) the run may go through, restarts included.
    pub(crate) max_epochs: u32,
}

impl Scenario {
    /// Draw a scenario.
    pub(crate) fn new(rng: &mut Rng) -> Self {
        let [(cs, cf), (ss, sf)] = storages(rng);
        let configs = [config(rng, Role::Client, cs), config(rng, Role::Server, ss)];
        let faults = rng.chance(700);
        let mix = mix(rng, faults);
        Scenario {
            shapes: [cs, ss],
            factories: [cf, sf],
            configs,
            mix,
            // Now and then a long run.
            ops: if rng.chance(20) { rng.range(3000, 6000) } else { rng.range(200, 1200) } as usize,
            max_epochs: rng.range(2, 6) as u32,
        }
    }

    /// A one-line description for logs.
    pub(crate) fn describe(&self) -> String {
        let side = |i: usize| {
            let c = &self.configs[i];
            let s = self.shapes[i];
            format!(
                "streams {} rx {} tx {} frame {} win {}..{} swin {}..{} inbound {:?} meta {} idle {:?} hs {}ms trace {}",
                s.streams,
                s.rx,
                s.tx,
                c.max_frame_size,
                c.stream_window,
                c.stream_window_max,
                c.session_window,
                c.session_window_max,
                c.max_inbound_streams,
                c.max_open_metadata,
                c.idle_timeout.map(|d| d.as_millis()),
                c.handshake_timeout.as_millis(),
                c.trace
            )
        };
        format!(
            "client [{}]\nserver [{}]\nops {} epochs {} mix {:?}",
            side(0),
            side(1),
            self.ops,
            self.max_epochs,
            self.mix.weights
        )
    }
}

const _: () = assert!(matches!(KINDS[CRASH], Kind::Crash));
