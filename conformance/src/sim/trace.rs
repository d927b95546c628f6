//! The run's trace: a rolling hash of everything that happened, kept after
//! every step, so two runs of one seed can be compared step by step (and
//! the first step where they part named), plus an optional human-readable
//! log for replays.

/// The record of one run.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    hash: u64,
    steps: Vec<u64>,
    /// Print every step to stderr as it happens.
    pub(crate) verbose: bool,
}

impl Recorder {
    /// An empty record; `verbose` prints a log line per action.
    pub(crate) fn new(verbose: bool) -> Self {
        Recorder { hash: 0x243F_6A88_85A3_08D3, steps: Vec::new(), verbose }
    }

    /// Mix one word into the rolling hash.
    pub(crate) fn word(&mut self, x: u64) {
        self.hash = (self.hash.rotate_left(5) ^ x).wrapping_mul(0x517C_C1B7_2722_0A95);
    }

    /// Mix a tag and a few values (an action and its arguments or result).
    pub(crate) fn words(&mut self, tag: u64, xs: &[u64]) {
        self.word(tag);
        for &x in xs {
            self.word(x);
        }
    }

    /// Mix bytes (what went over the link).
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        for chunk in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// Close a step: remember the hash so far.
    pub(crate) fn end_step(&mut self) {
        self.steps.push(self.hash);
    }

    /// Steps recorded so far.
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// The hash so far.
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// The hash after every step.
    pub(crate) fn into_steps(self) -> Vec<u64> {
        self.steps
    }
}

/// A virtual instant as seconds with microseconds, for messages.
pub(crate) fn fmt_us(us: u64) -> String {
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}
