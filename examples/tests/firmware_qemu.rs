//! The example firmware (examples/firmware) on an emulated Cortex-M3:
//! QEMU's `lm3s6965evb` runs it, its UART0 is QEMU's stdin/stdout, and
//! this test is the host at the other end of the serial link, driving
//! braid-embedded's blocking runner over the child's pipes.
//!
//! It checks, in reliable link mode: several concurrent echo streams with
//! different data, the report stream, and the telemetry stream the
//! firmware opens; then the same again with bytes corrupted and dropped on
//! the host's side of the line, in both directions, at a seeded rate:
//! every stream still delivers exactly what was sent, and the session
//! never restarts.
//!
//! The host side (QEMU, the UART adapter, the runner loop, the streams)
//! is `braid_examples::qemu`, shared with braid-bench.
//!
//! It builds nothing: scripts/test.sh builds the firmware first. Without
//! `qemu-system-arm` on PATH or without the firmware ELF it is skipped,
//! unless `BRAID_REQUIRE_QEMU=1`, which turns that into a failure. The ELF
//! is `$BRAID_FIRMWARE_ELF`, or `thumbv7m-none-eabi/release/braid-firmware`
//! under `$CARGO_TARGET_DIR` (or `$CARGO_BUILD_TARGET_DIR`) or under
//! `examples/firmware/target` (`braid_examples::qemu::find_firmware`).

use braid_examples::qemu::{self, field, report_line, Flow, Host};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// The firmware ELF and QEMU, or why the test cannot run.
fn setup() -> Result<PathBuf, String> {
    qemu::check_qemu()?;
    qemu::find_firmware()
}

#[test]
fn firmware_over_emulated_uart() {
    let elf = match setup() {
        Ok(elf) => elf,
        Err(why) if std::env::var("BRAID_REQUIRE_QEMU").as_deref() == Ok("1") => {
            panic!("BRAID_REQUIRE_QEMU=1 but {why}")
        }
        Err(why) => {
            // Straight to stderr, past libtest's capture: a skip must show.
            let _ = writeln!(
                std::io::stderr(),
                "firmware_qemu: SKIPPED: {why} (set BRAID_REQUIRE_QEMU=1 to make this a failure)"
            );
            return;
        }
    };
    let seed = std::env::var("BRAID_QEMU_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_u64);
    let mut host = Host::start(&elf, seed).unwrap();

    // 1. A clean line: two echo streams and the report at once (the
    //    firmware takes 3 streams from the host), then three more echoes.
    let t0 = std::time::Instant::now();
    let flows = host
        .exchange(vec![Flow::echo(1, 6000), Flow::echo(2, 4500), Flow::report()], Duration::from_secs(15))
        .unwrap();
    let clean_report = report_line(&flows).unwrap();
    host.exchange(vec![Flow::echo(3, 3000), Flow::echo(4, 1), Flow::echo(5, 2500)], Duration::from_secs(15))
        .unwrap();
    eprintln!("firmware_qemu: clean line: 5 echoes (16001 B each way) and a report in {:?}", t0.elapsed());
    eprintln!("firmware_qemu: report: {clean_report}");
    host.idle(Duration::from_millis(350)).unwrap();
    let lines = host.telemetry.as_ref().map_or(0, |t| t.lines.len());
    assert!(lines >= 3, "telemetry: only {lines} lines");
    let generation = host.stack.generation();

    // 2. A noisy line: bits flipped and bytes dropped both ways.
    host.uart.set_noise(1000, 1000);
    let t1 = std::time::Instant::now();
    let flows = host
        .exchange(
            vec![
                Flow::echo(11, 5000),
                Flow::echo(12, 3000),
                Flow::echo(13, 4000),
                Flow::echo(14, 2000),
                Flow::report(),
            ],
            Duration::from_secs(30),
        )
        .unwrap();
    let noisy_report = report_line(&flows).unwrap();
    host.idle(Duration::from_millis(300)).unwrap();
    let (rx_noise, tx_noise) = (host.uart.rx_noise(), host.uart.tx_noise());
    let link = *host.runner.framing().stats();
    eprintln!(
        "firmware_qemu: noisy line: 4 echoes (14000 B each way) and a report in {:?}; host damaged \
         {} + {} bytes in, {} + {} out (flipped + dropped); host link: {} corrupt frames, {} retransmitted",
        t1.elapsed(),
        rx_noise.flipped,
        rx_noise.dropped,
        tx_noise.flipped,
        tx_noise.dropped,
        link.frames_corrupt,
        link.frames_retransmitted,
    );
    eprintln!("firmware_qemu: report: {noisy_report}");
    let t = host.telemetry.as_ref().unwrap();
    eprintln!("firmware_qemu: telemetry: {} lines, the last {:?}", t.lines.len(), t.lines.last().unwrap());

    // The damage happened, and the session rode it out: no restart on
    // either side, every byte as sent (checked in `exchange`), telemetry
    // lines contiguous (checked as they arrive).
    assert!(rx_noise.flipped + rx_noise.dropped > 0 && tx_noise.flipped + tx_noise.dropped > 0);
    assert!(link.frames_corrupt + link.frames_retransmitted > 0, "no damage seen by the host link: {link:?}");
    let fw_damage = field(&noisy_report, "frames_corrupt").unwrap()
        + field(&noisy_report, "frames_retransmitted").unwrap();
    assert!(fw_damage > 0, "no damage seen by the firmware link: {noisy_report}");
    assert_eq!(host.stack.generation(), generation, "the host's session restarted");
    assert_eq!(host.stack.stats().sessions, 1);
    assert_eq!(field(&noisy_report, "sessions"), Some(1), "the firmware's session restarted");
    for name in ["stack_peak_bytes", "static_ram_bytes", "flash_bytes"] {
        let v = field(&noisy_report, name).unwrap();
        assert!(v > 0, "{name}");
    }
    assert!(field(&noisy_report, "static_ram_bytes").unwrap() <= 8 * 1024);
    assert!(field(&noisy_report, "flash_bytes").unwrap() <= 32 * 1024);
}
