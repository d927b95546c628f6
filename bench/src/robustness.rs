//! Group `robustness`: the evidence that braid holds up under hostile
//! peers and faults, gathered from the conformance crate and the fuzzer.
//!
//! Figures, in the order printed:
//!
//! - `spec_requirements` / `spec_requirements_tested`: the numbered
//!   MUSTs of spec.md, and how many of them a conformance test cites
//!   (`braid_conformance::coverage::summary()`; bar: equal, with no
//!   unknown id and no misplaced citation).
//! - `sim_seeds_passed`: seeds of the deterministic simulation
//!   (`braid_conformance::sim::run_seeds`) that held every invariant, each
//!   run twice with identical traces. The seeds are the ones CI runs:
//!   `SIM_SEEDS` (default 1000) from `SIM_SEED_BASE` (default 0), as in
//!   `conformance/tests/sim.rs`. Bar: every seed.
//! - `hostile_cases`: the attacks of `braid_conformance::hostile::run_all()`
//!   (bar: at least 25, every one passing; the table goes to stderr).
//! - `fuzz_execs_<target>`: executions of each fuzz target in the last
//!   bounded `scripts/fuzz.sh` run, read from `fuzz/target/fuzz-execs.txt`
//!   (which CI writes before the tests). Without that file a note on
//!   stderr says to run `scripts/fuzz.sh` first, and no fuzz figure is
//!   printed.
//!
//! Every figure that can be computed is printed; then, if any bar is not
//! met, the group fails with every reason.

use crate::{figure, GroupResult};
use braid_conformance::{coverage, hostile, sim};
use std::path::{Path, PathBuf};
use std::time::Instant as Clock;

/// The seed count CI runs when `SIM_SEEDS` is not set.
const SIM_SEEDS_DEFAULT: u64 = 1000;
/// The fewest hostile cases the table may have.
const HOSTILE_MIN: usize = 25;

/// Run the group.
pub fn run() -> GroupResult {
    let mut failures = Vec::new();

    let started = Clock::now();
    let c = coverage::summary();
    figure("spec_requirements", c.requirements, "requirements");
    figure("spec_requirements_tested", c.tested, "requirements");
    eprintln!("robustness: spec coverage in {:.1?}", started.elapsed());
    if !c.is_complete() || c.tested != c.requirements || c.requirements == 0 {
        failures.push(format!("spec coverage is incomplete:\n{c}"));
    }

    let (base, count) = match (env_u64("SIM_SEED_BASE"), env_u64("SIM_SEEDS")) {
        (Ok(base), Ok(count)) => (base.unwrap_or(0), count.unwrap_or(SIM_SEEDS_DEFAULT)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let started = Clock::now();
    eprintln!("robustness: simulating seeds {base}..{} (each twice)", base.saturating_add(count));
    match sim::run_seeds(base, count) {
        Ok(summary) => {
            figure("sim_seeds_passed", summary.seeds, "seeds");
            eprintln!("robustness: sim: {summary} in {:.1?}", started.elapsed());
            if summary.seeds != count {
                failures.push(format!("sim: {} of {count} seeds passed", summary.seeds));
            }
        }
        Err(failure) => failures.push(failure.to_string()),
    }

    let started = Clock::now();
    match hostile::run_all() {
        Ok(summary) => {
            figure("hostile_cases", summary.cases, "cases");
            eprintln!("{summary}");
            eprintln!("robustness: hostile cases in {:.1?}", started.elapsed());
            if summary.cases < HOSTILE_MIN {
                failures.push(format!("only {} hostile cases; the bar is {HOSTILE_MIN}", summary.cases));
            }
            if !summary.all_passed() {
                let names: Vec<&str> = summary.known_failures.iter().map(|(n, _)| *n).collect();
                failures.push(format!(
                    "{} of {} hostile cases fail (known engine bugs: {})",
                    summary.cases - summary.passed,
                    summary.cases,
                    names.join(", ")
                ));
            }
        }
        Err(problems) => failures.push(format!("hostile cases failed:\n{problems}")),
    }

    match fuzz_execs() {
        Ok(Some(lines)) => {
            for (name, execs) in lines {
                figure(&name, execs, "execs");
            }
        }
        Ok(None) => eprintln!(
            "robustness: {} not found: run scripts/fuzz.sh first (CI runs it before the tests); \
             no fuzz figures",
            fuzz_execs_path().display()
        ),
        Err(e) => failures.push(e),
    }

    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// A number from the environment, if set.
fn env_u64(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map(Some).map_err(|_| format!("{name}={v:?} is not a number")),
        Err(_) => Ok(None),
    }
}

/// Where `scripts/fuzz.sh` leaves its counts.
fn fuzz_execs_path() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).join("fuzz/target/fuzz-execs.txt")
}

/// The `fuzz_execs_<target> <N> execs` lines of the last fuzz run, or
/// `None` if there was none.
fn fuzz_execs() -> Result<Option<Vec<(String, u64)>>, String> {
    let path = fuzz_execs_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if let Ok(Ok(age)) = std::fs::metadata(&path).and_then(|m| m.modified()).map(|t| t.elapsed()) {
        eprintln!("robustness: fuzz counts from {} ({:.0?} old)", path.display(), age);
    }
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parsed = match line.split_whitespace().collect::<Vec<_>>()[..] {
            [name, n, "execs"] if name.starts_with("fuzz_execs_") => n.parse::<u64>().ok().map(|n| (name, n)),
            _ => None,
        };
        let Some((name, n)) = parsed else {
            return Err(format!("{}: not a `fuzz_execs_<target> <N> execs` line: {line:?}", path.display()));
        };
        if n == 0 {
            eprintln!("robustness: {name} ran no input in the last fuzz run (see scripts/fuzz.sh's log)");
        }
        lines.push((name.to_string(), n));
    }
    if lines.is_empty() {
        return Err(format!("{} has no fuzz counts", path.display()));
    }
    Ok(Some(lines))
}
