//! # braid-bench: braid's benchmark binary
//!
//! `braid-bench <group>` runs one group of measurements and prints one
//! `name value unit` line per figure on stdout, space-separated, so people
//! and scripts can read them alike:
//!
//! ```text
//! engine_throughput 1.234 GiB/s
//! stream_state_bytes 48 bytes
//! ```
//!
//! Nothing else goes to stdout; progress and diagnostics go to stderr. A
//! missing or unknown group prints the usage (with the list of groups) on
//! stderr and exits with code 2; a measurement that fails (an engine error,
//! a stalled transfer, wrong bytes) prints why on stderr and exits with 1.
//!
//! Each group is a module with a `run` function, listed in [`GROUPS`]:
//! adding a group is adding a module and one line there.

mod counting_alloc;
mod embedded;
mod engine;
mod robustness;
mod smol_bench;
mod tokio_bench;

use std::process::ExitCode;

/// The global allocator: [`std::alloc::System`] with allocation counters, so
/// groups can measure heap use (see [`counting_alloc`]).
#[global_allocator]
static ALLOCATOR: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

/// What a group's `run` returns: `Err` carries why the measurement failed.
pub type GroupResult = Result<(), String>;

/// One benchmark group: its name on the command line, a one-line
/// description for the usage message, and its entry point.
struct Group {
    /// The name given on the command line.
    name: &'static str,
    /// What the group measures, for the usage message.
    about: &'static str,
    /// Runs the group, printing its figures with [`figure`].
    run: fn() -> GroupResult,
}

/// Every group, in the order the usage message lists them.
const GROUPS: &[Group] = &[
    Group {
        name: "engine",
        about: "in-memory engine throughput vs memcpy, state sizes, steady-state allocations",
        run: engine::run,
    },
    Group {
        name: "robustness",
        about: "spec coverage, simulated seeds, hostile peers, fuzz executions",
        run: robustness::run,
    },
    Group {
        name: "tokio",
        about:
            "braid-tokio vs yamux vs raw TCP on loopback: bulk, concurrent, rpc, pingpong, idle stream memory",
        run: tokio_bench::run,
    },
    Group {
        name: "smol",
        about: "braid-smol vs raw TCP on loopback: bulk and concurrent, for the record",
        run: smol_bench::run,
    },
    Group {
        name: "embedded",
        about: "the serial link on a simulated 115200-baud UART: efficiency, goodput under bit errors; \
                the example firmware's flash, static RAM and stack peak (QEMU)",
        run: embedded::run,
    },
];

/// Print one figure on stdout: `name value unit`.
///
/// `name` and `unit` must not contain spaces; `value` is printed with its
/// `Display` impl (format floats before passing them, e.g. `format_args!("{x:.3}")`).
pub fn figure(name: &str, value: impl std::fmt::Display, unit: &str) {
    debug_assert!(!name.contains(' ') && !unit.contains(' '), "figure fields must not contain spaces");
    println!("{name} {value} {unit}");
}

/// The usage message, listing every group.
fn usage() -> String {
    let mut text = String::from("usage: braid-bench <group>\n\ngroups:\n");
    let width = GROUPS.iter().map(|g| g.name.len()).max().unwrap_or(0);
    for g in GROUPS {
        text.push_str(&format!("  {:width$}  {}\n", g.name, g.about));
    }
    text.push_str("\nprints one `name value unit` line per figure on stdout\n");
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = match args.as_slice() {
        [arg] if arg == "-h" || arg == "--help" => {
            eprint!("{}", usage());
            return ExitCode::SUCCESS;
        }
        [name] => name.as_str(),
        [] => {
            eprint!("braid-bench: no group given\n\n{}", usage());
            return ExitCode::from(2);
        }
        _ => {
            eprint!("braid-bench: expected exactly one group, got {}\n\n{}", args.len(), usage());
            return ExitCode::from(2);
        }
    };
    let Some(group) = GROUPS.iter().find(|g| g.name == name) else {
        eprint!("braid-bench: unknown group `{name}`\n\n{}", usage());
        return ExitCode::from(2);
    };
    match (group.run)() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("braid-bench: group `{}` failed: {why}", group.name);
            ExitCode::FAILURE
        }
    }
}
