//! The example firmware's figures (`examples/firmware`, braid over the
//! reliable serial link on QEMU's `lm3s6965evb`): what braid costs a real
//! Cortex-M3 build, in flash, static RAM and stack.
//!
//! # How
//!
//! 1. **Build.** The group builds the firmware itself, as
//!    `cargo build --release --manifest-path examples/firmware/Cargo.toml
//!    --target thumbv7m-none-eabi` run from the workspace root, with the
//!    cargo that runs the bench (`$CARGO`, else `cargo` on `PATH`). The
//!    firmware's release profile optimises for size (`opt-level = "s"`,
//!    LTO, one codegen unit, `panic = "abort"`). Its ELF is then looked for
//!    under `$CARGO_TARGET_DIR` (or `$CARGO_BUILD_TARGET_DIR`; relative
//!    ones from the workspace root), else `examples/firmware/target`
//!    ([`qemu::firmware_elf`]). A failed build fails the group: with no
//!    firmware, there are no firmware figures to print.
//! 2. **Sizes**, from the ELF's section headers (the `object` crate), by
//!    address rather than by name, so that a section the linker script
//!    adds later counts too. Every section with `SHF_ALLOC` and a size
//!    belongs to the chip's flash ([`FLASH`], `0x0000_0000`, 256 KiB) or
//!    its SRAM ([`RAM`], `0x2000_0000`, 64 KiB), as in the firmware's
//!    `memory.x`; one anywhere else fails the group. Then:
//!    - `firmware_flash_bytes` (bytes, bar ≤ 32768): the sizes of every
//!      allocated section in flash (`.vector_table`, `.text`, `.rodata`)
//!      plus those of the RAM sections with contents (not `SHT_NOBITS`:
//!      `.data`), whose initial image is stored in flash and copied at
//!      reset. Alignment padding between sections is not counted, so the
//!      firmware's own `flash_bytes` (the end address of that image) can
//!      be a few bytes more; stderr shows both.
//!    - `firmware_static_ram_bytes` (bytes, bar ≤ 8192): the sizes of
//!      every allocated section in RAM (`.data`, `.bss`, `.uninit`):
//!      memory taken before the stack, which gets the rest.
//! 3. **Stack**, as the firmware measures it (stack painting, see its
//!    `memory.rs`): QEMU runs the ELF and the host side of
//!    `braid_examples::qemu` (the firmware test's) connects over the
//!    emulated UART0, clean line, reliable link mode. It runs three echo
//!    streams of 4 KiB at once (the most the firmware accepts; the
//!    telemetry stream runs meanwhile), then opens a report stream and
//!    reads `stack_peak_bytes=` from its line: `firmware_stack_peak_bytes`
//!    (bytes), the deepest the stack has been since reset, setup and main
//!    loop alike. No bar: RAM left is 64 KiB minus static RAM (stderr
//!    shows the stack's size next to the peak). Without `qemu-system-arm`
//!    the figure is not printed (no stand-in value) and stderr says why;
//!    the group still succeeds. QEMU failing once started, or the
//!    exchange, fails the group.

use super::bar;
use crate::{figure, GroupResult};
use braid_examples::qemu::{self, field, Flow, Host};
use braid_tokio::LinkConfig;
use object::elf::{SHF_ALLOC, SHT_NOBITS};
use object::read::elf::{ElfFile32, SectionHeader as _};
use object::{Endianness, Object as _, ObjectSection as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant as Clock};

/// The chip's flash (LM3S6965, `memory.x`): 256 KiB from address 0.
const FLASH: Range<u64> = 0x0000_0000..0x0004_0000;
/// The chip's SRAM (`memory.x`): 64 KiB from `0x2000_0000`.
const RAM: Range<u64> = 0x2000_0000..0x2001_0000;
/// Bar for `firmware_flash_bytes`: the firmware fits a 32 KiB part.
const FLASH_BAR: u64 = 32 * 1024;
/// Bar for `firmware_static_ram_bytes`: 8 KiB.
const STATIC_RAM_BAR: u64 = 8 * 1024;
/// Echo streams (each this many bytes) before the report: the firmware
/// accepts at most 3 streams from the host at once.
const ECHOES: u64 = 3;
/// Bytes sent on each echo stream.
const ECHO_BYTES: usize = 4096;
/// The echoes and the report each must be done within this.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

/// The workspace root: braid-bench's parent directory.
fn workspace_root() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).to_path_buf()
}

/// Build the firmware (release, size-optimised) and return its ELF.
/// Cargo's output goes to stderr.
fn build() -> Result<PathBuf, String> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = [
        "build",
        "--release",
        "--manifest-path",
        "examples/firmware/Cargo.toml",
        "--target",
        "thumbv7m-none-eabi",
    ];
    let started = Clock::now();
    eprintln!("embedded: firmware: building: cargo {} (in {})", args.join(" "), root.display());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(args)
        .stdin(Stdio::null())
        // Nothing but figures on our stdout.
        .stdout(std::io::stderr())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("firmware: cannot run {cargo:?}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "firmware: the build failed ({status}); is the target installed \
             (`rustup target add thumbv7m-none-eabi`)?"
        ));
    }
    let elf = qemu::firmware_elf(qemu::env_target_dir(&root).as_deref());
    if !elf.is_file() {
        return Err(format!(
            "firmware: built, but no ELF at {} (a target directory set elsewhere than \
             $CARGO_TARGET_DIR, e.g. in .cargo/config.toml?)",
            elf.display()
        ));
    }
    eprintln!("embedded: firmware: {} ({:.1?})", elf.display(), started.elapsed());
    Ok(elf)
}

/// What the firmware's sections take, in bytes.
#[derive(Debug, Default)]
struct Sizes {
    /// Flash: allocated sections in [`FLASH`], and the initial images of
    /// the allocated sections in [`RAM`] with contents.
    flash: u64,
    /// Static RAM: allocated sections in [`RAM`].
    static_ram: u64,
    /// Every allocated section with a size, for stderr: `name size@address`.
    sections: Vec<String>,
}

/// Whether `[addr, addr + size)` lies within `region`.
fn within(region: &Range<u64>, addr: u64, size: u64) -> bool {
    region.contains(&addr) && addr.checked_add(size).is_some_and(|end| end <= region.end)
}

/// The section sizes of the ELF at `path` (see the module docs for the rule).
fn sizes(path: &Path) -> Result<Sizes, String> {
    let data = std::fs::read(path).map_err(|e| format!("firmware: read {}: {e}", path.display()))?;
    let file = ElfFile32::<Endianness>::parse(&*data)
        .map_err(|e| format!("firmware: {} is not a 32-bit ELF: {e}", path.display()))?;
    let e = file.endian();
    let mut sizes = Sizes::default();
    for section in file.sections() {
        let header = section.elf_section_header();
        let (addr, size) = (u64::from(header.sh_addr(e)), u64::from(header.sh_size(e)));
        if !header.sh_flags(e).contains(SHF_ALLOC) || size == 0 {
            continue;
        }
        let name = section.name().unwrap_or("?");
        let has_contents = header.sh_type(e) != SHT_NOBITS;
        if within(&FLASH, addr, size) {
            sizes.flash += size;
        } else if within(&RAM, addr, size) {
            sizes.static_ram += size;
            if has_contents {
                sizes.flash += size;
            }
        } else {
            return Err(format!(
                "firmware: section {name} ({size} bytes at {addr:#x}) is in neither flash nor RAM"
            ));
        }
        sizes.sections.push(format!("{name} {size}@{addr:#x}"));
    }
    Ok(sizes)
}

/// Run QEMU on `elf`, exchange the echoes, and return the report line;
/// `None` (with why on stderr) if QEMU is not there.
fn report(elf: &Path) -> Result<Option<String>, String> {
    if let Err(why) = qemu::check_qemu() {
        eprintln!("embedded: firmware_stack_peak_bytes not measured: {why}");
        return Ok(None);
    }
    let started = Clock::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("firmware on QEMU: a tokio runtime: {e}"))?;
    let line = runtime.block_on(async {
        let host = Host::start(elf, 1, LinkConfig::reliable(std::process::id()))
            .await
            .map_err(|e| format!("firmware on QEMU: {e}"))?;
        let echoes = (1..=ECHOES).map(|seed| Flow::echo(seed, ECHO_BYTES)).collect();
        host.exchange(echoes, EXCHANGE_LIMIT).await.map_err(|e| format!("firmware on QEMU: echo: {e}"))?;
        host.report(EXCHANGE_LIMIT).await.map_err(|e| format!("firmware on QEMU: report: {e}"))
    })?;
    eprintln!(
        "embedded: firmware: on QEMU: {ECHOES} echoes of {ECHO_BYTES} bytes, then a report, in {:.1?}",
        started.elapsed()
    );
    eprintln!("embedded: firmware: report: {line}");
    Ok(Some(line))
}

/// Print the firmware figures (see the module docs).
pub fn run() -> GroupResult {
    let elf = build()?;
    let s = sizes(&elf)?;
    eprintln!("embedded: firmware: allocated sections: {}", s.sections.join(", "));
    figure("firmware_flash_bytes", s.flash, "bytes");
    figure("firmware_static_ram_bytes", s.static_ram, "bytes");
    bar("firmware_flash_bytes", s.flash as f64, false, FLASH_BAR as f64);
    bar("firmware_static_ram_bytes", s.static_ram as f64, false, STATIC_RAM_BAR as f64);

    let Some(line) = report(&elf)? else { return Ok(()) };
    let get =
        |name| field(&line, name).ok_or_else(|| format!("firmware: no `{name}=` in the report {line:?}"));
    let peak = get("stack_peak_bytes")?;
    figure("firmware_stack_peak_bytes", peak, "bytes");
    eprintln!(
        "embedded: firmware: stack peak {peak} of {} bytes of stack (main loop alone: {}); the firmware \
         counts {} bytes of flash (the ELF's sections: {}) and {} of static RAM (the ELF's: {})",
        get("stack_size_bytes")?,
        get("loop_stack_peak_bytes")?,
        get("flash_bytes")?,
        s.flash,
        get("static_ram_bytes")?,
        s.static_ram
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        assert!(within(&FLASH, 0, 0x400));
        assert!(within(&RAM, 0x2000_0000, 64 * 1024));
        assert!(!within(&RAM, 0x2000_0000, 64 * 1024 + 1));
        assert!(!within(&FLASH, 0x2000_0000, 4));
        assert!(!within(&RAM, u64::MAX, 2));
    }
}
