//! The example firmware (examples/firmware) on an emulated Cortex-M3:
//! QEMU's `lm3s6965evb` runs it, its UART0 is QEMU's stdin/stdout, and
//! this test is the host at the other end of the serial line: braid-tokio's
//! `SerialLink` over the child's pipes.
//!
//! Reliable mode: several concurrent echo streams with different data, the
//! report stream, and the telemetry stream the firmware opens; then the
//! same again with bytes corrupted and dropped on the host's side of the
//! line, in both directions, at a seeded rate: every stream still delivers
//! exactly what was sent, and the session never restarts.
//!
//! Fail-stop mode (the host asks for it; the firmware, which asks for
//! reliable mode, follows): echo streams on a clean line, then damage
//! until the session ends with a link error, then a new session comes up
//! on a clean line and works (the firmware counts two sessions or more).
//!
//! The host side (QEMU, the noisy line, the streams) is
//! `braid_examples::qemu`, shared with braid-bench.
//!
//! It builds nothing: scripts/test.sh builds the firmware first. Without
//! `qemu-system-arm` on PATH or without the firmware ELF it is skipped,
//! unless `BRAID_REQUIRE_QEMU=1`, which turns that into a failure. The ELF
//! is `$BRAID_FIRMWARE_ELF`, or `thumbv7m-none-eabi/release/braid-firmware`
//! under `$CARGO_TARGET_DIR` (or `$CARGO_BUILD_TARGET_DIR`) or under
//! `examples/firmware/target` (`braid_examples::qemu::find_firmware`).

use braid_examples::qemu::{self, field, report_line, Flow, Host};
use braid_tokio::{LinkConfig, LinkError, LocalError};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// The firmware ELF, or `None` (with why on stderr) when the test cannot
/// run and need not.
fn firmware() -> Option<PathBuf> {
    let found = qemu::check_qemu().and_then(|()| qemu::find_firmware());
    match found {
        Ok(elf) => Some(elf),
        Err(why) if std::env::var("BRAID_REQUIRE_QEMU").as_deref() == Ok("1") => {
            panic!("BRAID_REQUIRE_QEMU=1 but {why}")
        }
        Err(why) => {
            // Straight to stderr, past libtest's capture: a skip must show.
            let _ = writeln!(
                std::io::stderr(),
                "firmware_qemu: SKIPPED: {why} (set BRAID_REQUIRE_QEMU=1 to make this a failure)"
            );
            None
        }
    }
}

fn seed() -> u64 {
    std::env::var("BRAID_QEMU_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_u64)
}

/// A fresh epoch for the host's link.
fn epoch() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.subsec_nanos())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliable_mode_delivers_every_byte_over_a_clean_and_a_noisy_line() {
    let Some(elf) = firmware() else { return };
    let host = Host::start(&elf, seed(), LinkConfig::reliable(epoch())).await.unwrap();

    // 1. A clean line: two echo streams and the report at once (the
    //    firmware takes 3 streams from the host), then three more echoes.
    let t0 = std::time::Instant::now();
    let flows = host
        .exchange(vec![Flow::echo(1, 6000), Flow::echo(2, 4500), Flow::report()], Duration::from_secs(15))
        .await
        .unwrap();
    let clean_report = report_line(&flows).unwrap();
    host.exchange(vec![Flow::echo(3, 3000), Flow::echo(4, 1), Flow::echo(5, 2500)], Duration::from_secs(15))
        .await
        .unwrap();
    eprintln!("firmware_qemu: clean line: 5 echoes (16001 B each way) and a report in {:?}", t0.elapsed());
    eprintln!("firmware_qemu: report: {clean_report}");
    assert_eq!(
        host.serial.with_link(|l| (l.mtu(), l.window(), l.is_reliable())),
        Some((136, 4, true)),
        "negotiated: the firmware's MTU and window, reliable mode"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let lines = host.telemetry().streams.first().map_or(0, Vec::len);
    assert!(lines >= 3, "telemetry: only {lines} lines");

    // 2. A noisy line: bits flipped and bytes dropped both ways.
    host.noise.set(1000, 1000);
    let t1 = std::time::Instant::now();
    host.exchange(
        vec![Flow::echo(11, 5000), Flow::echo(12, 3000), Flow::echo(13, 4000), Flow::echo(14, 2000)],
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    // The report after the echoes, still on the noisy line: it counts the
    // damage the firmware's link saw.
    let noisy_report = host.report(Duration::from_secs(15)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rx, tx) = (host.noise.rx(), host.noise.tx());
    let link = host.serial.link_stats();
    eprintln!(
        "firmware_qemu: noisy line: 4 echoes (14000 B each way) in {:?}; host damaged \
         {} + {} bytes in, {} + {} out (flipped + dropped); host link: {} corrupt frames, {} retransmitted",
        t1.elapsed(),
        rx.flipped,
        rx.dropped,
        tx.flipped,
        tx.dropped,
        link.frames_corrupt,
        link.frames_retransmitted,
    );
    eprintln!("firmware_qemu: report: {noisy_report}");
    let telemetry = host.telemetry();
    assert_eq!(telemetry.error, None);
    assert_eq!(telemetry.streams.len(), 1, "one telemetry stream: the firmware's session never restarted");
    eprintln!(
        "firmware_qemu: telemetry: {} lines, the last {:?}",
        telemetry.streams[0].len(),
        telemetry.streams[0].last()
    );

    // The damage happened, and the session rode it out: no restart on
    // either side, every byte as sent (checked in `exchange`), telemetry
    // lines contiguous (checked as they arrive).
    assert!(rx.flipped + rx.dropped > 0 && tx.flipped + tx.dropped > 0);
    assert!(link.frames_corrupt + link.frames_retransmitted > 0, "no damage seen by the host link: {link:?}");
    let fw_damage = field(&noisy_report, "frames_corrupt").unwrap()
        + field(&noisy_report, "frames_retransmitted").unwrap();
    assert!(fw_damage > 0, "no damage seen by the firmware link: {noisy_report}");
    assert_eq!(host.serial.sessions_started(), 1, "the host's session restarted");
    assert!(!host.session.is_closed());
    assert_eq!(field(&noisy_report, "sessions"), Some(1), "the firmware's session restarted");
    for name in ["stack_peak_bytes", "static_ram_bytes", "flash_bytes"] {
        let v = field(&noisy_report, name).unwrap();
        assert!(v > 0, "{name}");
    }
    assert!(field(&noisy_report, "static_ram_bytes").unwrap() <= 8 * 1024);
    assert!(field(&noisy_report, "flash_bytes").unwrap() <= 32 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_stop_mode_ends_the_session_with_a_link_error_and_a_new_one_works() {
    let Some(elf) = firmware() else { return };
    let mut host = Host::start(&elf, seed() ^ 0xF5, LinkConfig::fail_stop(epoch())).await.unwrap();

    // 1. A clean line: the link is up in fail-stop mode and carries echoes.
    host.exchange(vec![Flow::echo(1, 4000), Flow::echo(2, 3000), Flow::report()], Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(host.serial.with_link(|l| l.is_reliable()), Some(false), "fail-stop: the host asked for it");

    // 2. Damage both ways until the session ends: an echo fails (it never
    //    returns wrong data: `exchange` checks every byte it does return).
    host.noise.set(2000, 2000);
    let mut failed = None;
    for round in 0..50u64 {
        match host.exchange(vec![Flow::echo(100 + round, 3000)], Duration::from_secs(15)).await {
            Ok(_) => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let failed = failed.expect("a damaged line never ended the fail-stop session");
    // Not a wrong echo ("echo N: sent .., got .." or "the data differs"):
    // the session's end, seen by a stream.
    assert!(!failed.starts_with("echo "), "{failed}");
    let end = host.session_end(Duration::from_secs(10)).await.unwrap();
    host.noise.set(0, 0);
    eprintln!("firmware_qemu: fail-stop: an echo failed ({failed}); the session ended: {end}");
    assert!(
        matches!(
            end.reason.local,
            Some(LocalError::Link(LinkError::CorruptFrame | LinkError::FrameLost | LinkError::PeerResynced))
        ),
        "not a link error: {end}"
    );

    // 3. A new session comes up on the clean line and works; the firmware
    //    counts it, and opens its telemetry again.
    host.next_session(Duration::from_secs(20)).await.unwrap();
    let flows = host
        .exchange(vec![Flow::echo(7, 4000), Flow::echo(8, 2500), Flow::report()], Duration::from_secs(15))
        .await
        .unwrap();
    let report = report_line(&flows).unwrap();
    eprintln!(
        "firmware_qemu: fail-stop: new session ({} started on the host); report: {report}",
        host.serial.sessions_started()
    );
    assert!(host.serial.sessions_started() >= 2);
    assert!(field(&report, "sessions").unwrap() >= 2, "{report}");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let telemetry = host.telemetry();
    assert_eq!(telemetry.error, None);
    assert!(telemetry.streams.len() >= 2, "no telemetry stream in the new session");
    assert!(!telemetry.streams.last().unwrap().is_empty(), "no telemetry in the new session");
}

/// The `firmware_host` example program, as a newcomer runs it: reliable
/// mode over a slightly noisy line, one round of echoes and the report.
#[test]
fn the_firmware_host_program_runs() {
    let Some(elf) = firmware() else { return };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firmware_host"))
        .args(["--noise", "200", "--rounds", "1"])
        .env("BRAID_FIRMWARE_ELF", &elf)
        .output()
        .expect("run firmware_host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "firmware_host failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("round 1: 3 echo streams, 24576 bytes each way, every byte checked"), "{stdout}");
    assert!(stdout.contains("firmware report: stack_peak_bytes="), "{stdout}");
    assert!(stdout.contains("host link: 1 sessions"), "{stdout}");
}
