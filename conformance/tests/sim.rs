//! The deterministic simulation (see `braid_conformance::sim`): many seeds,
//! each run twice, and a replay of one seed with a log of every step.
//!
//! - `SIM_SEEDS` (default 1000) and `SIM_SEED_BASE` (default 0) choose the seeds;
//! - `SIM_SEED=<seed> cargo test -p braid-conformance --test sim -- replay --nocapture`
//!   replays one seed verbosely (`SIM_MAX_OPS=<n>` cuts its random phase short).

use braid_conformance::sim::{check_seed, run_seeds, RunOptions};
use std::io::Write;

/// Straight to stderr: the test harness captures `eprintln!` of passing
/// tests, and these lines are meant to be seen.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

#[test]
fn seeds_hold_invariants_deterministically() {
    let count = env_u64("SIM_SEEDS").unwrap_or(1000);
    let base = env_u64("SIM_SEED_BASE").unwrap_or(0);
    let started = std::time::Instant::now();
    match run_seeds(base, count) {
        Ok(summary) => {
            say(&format!(
                "sim: seeds {base}..{}: {summary} in {:.1?}",
                base.saturating_add(count),
                started.elapsed()
            ));
            say(&format!("sim: {} seeds passed, each run twice with identical traces", summary.seeds));
            assert_eq!(summary.seeds, count);
        }
        Err(failure) => panic!("{failure}"),
    }
}

#[test]
fn replay() {
    let Some(seed) = env_u64("SIM_SEED") else {
        say("replay: SIM_SEED is not set; nothing to replay");
        return;
    };
    let opts = RunOptions { verbose: true, max_ops: env_u64("SIM_MAX_OPS").map(|n| n as usize) };
    match check_seed(seed, &opts) {
        Ok(report) => eprintln!(
            "replay: seed {seed} passed twice with identical traces ({} steps, trace {:016x}, {:?})",
            report.steps, report.hash, report.stats
        ),
        Err(failure) => panic!("{failure}"),
    }
}
