//! A host program talking to braid firmware over a serial line: the example
//! firmware (`examples/firmware`) runs on QEMU's emulated Cortex-M3, its
//! UART0 on QEMU's stdin and stdout, and this program is the other end,
//! braid-tokio's `SerialLink` over the child's pipes, optionally damaging
//! bytes on the way.
//!
//! ```sh
//! cargo build --release --manifest-path examples/firmware/Cargo.toml --target thumbv7m-none-eabi
//! cargo run -p braid-examples --bin firmware_host -- [--fail-stop] [--noise PPM] [--rounds N]
//! ```
//!
//! Each round opens three echo streams at once (the most the firmware
//! accepts), sends pseudo-random bytes on each and checks every byte that
//! comes back; then it asks for the firmware's report (its stack peak,
//! memory, sessions and link counters) and prints the telemetry the
//! firmware streams meanwhile. `--noise PPM` flips a bit of, and drops,
//! that many bytes per million each way: in reliable mode (the default) the
//! streams never notice; with `--fail-stop` a damaged frame ends the
//! session, and the program moves on to the next one.
//!
//! Needs `qemu-system-arm` (`apt-get install qemu-system-arm`). The ELF is
//! found as the firmware test finds it (`BRAID_FIRMWARE_ELF`, or the build
//! above).

use braid_examples::qemu::{self, report_line, Flow, Host};
use braid_tokio::LinkConfig;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What the command line asked for.
struct Args {
    fail_stop: bool,
    noise_ppm: u64,
    rounds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { fail_stop: false, noise_ppm: 0, rounds: 3 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--fail-stop" => args.fail_stop = true,
            "--noise" => args.noise_ppm = number("--noise")?,
            "--rounds" => args.rounds = number("--rounds")?,
            "-h" | "--help" => {
                return Err("usage: firmware_host [--fail-stop] [--noise PPM] [--rounds N]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firmware_host: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    qemu::check_qemu()?;
    let elf = qemu::find_firmware()?;
    let epoch = std::process::id();
    let link = if args.fail_stop { LinkConfig::fail_stop(epoch) } else { LinkConfig::reliable(epoch) };
    println!(
        "starting {} on {} ({} mode)",
        qemu::QEMU,
        elf.display(),
        if args.fail_stop { "fail-stop" } else { "reliable" }
    );
    let mut host = Host::start(&elf, u64::from(epoch), link).await?;
    host.noise.set(args.noise_ppm, args.noise_ppm);
    let limit = Duration::from_secs(60);
    for round in 1..=args.rounds {
        let started = Instant::now();
        let flows = (0..3).map(|i| Flow::echo(round * 10 + i, 8 * 1024)).collect();
        match host.exchange(flows, limit).await {
            Ok(flows) => {
                let bytes: usize = flows.iter().map(|f| f.send.len()).sum();
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "round {round}: 3 echo streams, {bytes} bytes each way, every byte checked, in {secs:.2} s ({:.1} KB/s each way)",
                    bytes as f64 / secs / 1000.0
                );
            }
            Err(e) if args.fail_stop => {
                let end = host.session_end(Duration::from_secs(10)).await?;
                println!("round {round}: the session ended ({end}); the stream saw: {e}");
                host.noise.set(0, 0);
                host.next_session(limit).await?;
                println!("round {round}: a new session is up (noise off from here on)");
            }
            Err(e) => return Err(format!("round {round}: {e}")),
        }
    }
    let report = report_line(&host.exchange(vec![Flow::report()], limit).await?)?;
    println!("firmware report: {report}");
    let telemetry = host.telemetry();
    let lines: usize = telemetry.streams.iter().map(Vec::len).sum();
    println!(
        "telemetry: {lines} lines in {} stream(s), the last {:?}",
        telemetry.streams.len(),
        telemetry.streams.last().and_then(|s| s.last())
    );
    if let Some(e) = telemetry.error {
        return Err(format!("telemetry: {e}"));
    }
    let stats = host.serial.link_stats();
    let (rx, tx) = (host.noise.rx(), host.noise.tx());
    println!(
        "host link: {} sessions, {} frames sent ({} again), {} received, {} corrupt; line damage: {} bytes in, {} out",
        host.serial.sessions_started(),
        stats.frames_sent,
        stats.frames_retransmitted,
        stats.frames_received,
        stats.frames_corrupt,
        rx.flipped + rx.dropped,
        tx.flipped + tx.dropped
    );
    Ok(())
}
