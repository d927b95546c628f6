//! The host side of the example firmware (`examples/firmware`) on an
//! emulated Cortex-M3: QEMU's `lm3s6965evb` runs the firmware, its UART0
//! is QEMU's stdin/stdout, and [`Host`] is the other end of the serial
//! link, driving braid-embedded's blocking runner over the child's pipes
//! (reliable link mode, the host is the session's client).
//!
//! Used by `tests/firmware_qemu.rs` (echo, report and telemetry streams on
//! a clean and a noisy line) and by braid-bench's `embedded` group (the
//! firmware's report: its stack peak).
//!
//! # What is here
//!
//! - Finding things: [`check_qemu`], [`firmware_elf`] (where a build puts
//!   the ELF), [`find_firmware`] (the ELF to test, from the environment).
//! - [`Host::start`]: start QEMU on an ELF ([`Qemu`]) and set up the host's
//!   braid stack on its UART ([`Uart`], an `embedded-io` adapter over the
//!   child's stdin and stdout, optionally damaging bytes with [`Noise`]).
//! - [`Host::exchange`]: run host-opened streams ([`Flow`]: echo or report)
//!   concurrently to their end; [`Host::report`] for one report line;
//!   [`Host::idle`] to keep the line going; the telemetry stream the
//!   firmware opens is collected on the way ([`Telemetry`]).
//!
//! Errors are `String`s saying what went wrong: the test unwraps them,
//! the bench reports them.

use braid::link::{Link, LinkConfig};
use braid::{Config, Instant, Metadata, MetadataWriter, OpenError, ReadError, WriteError};
use braid_embedded::{Resources, Runner, Stack, Step, Stream};
use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

/// Stream type (in the open's metadata) of an echo stream, opened by the
/// host: the firmware sends back what it reads, until the host's FIN.
pub const TYPE_ECHO: u32 = 1;
/// Stream type of the telemetry stream, opened by the firmware once
/// connected: one line every 100 ms, `seq=<n> ms=<uptime> skipped=<n>`.
pub const TYPE_TELEMETRY: u32 = 2;
/// Stream type of a report stream, opened by the host: one line of
/// `name=value` fields (`stack_peak_bytes=..`, `static_ram_bytes=..`,
/// `flash_bytes=..`, `sessions=..`, ...), then FIN.
pub const TYPE_REPORT: u32 = 3;

/// The emulator's program name, looked up on `PATH`.
pub const QEMU: &str = "qemu-system-arm";
/// The firmware ELF under a cargo target directory.
pub const ELF_IN_TARGET_DIR: &str = "thumbv7m-none-eabi/release/braid-firmware";

/// Streams of the host's stack. The host's memory is more than the
/// firmware's: it costs nothing here.
pub const STREAMS: usize = 8;
/// Receive and send buffer bytes per stream of the host's stack.
pub const BUF: usize = 4096;
/// The host's link: frames of up to 136 bytes, 4 unacknowledged, as the
/// firmware's.
pub type HostLink = Link<136, 4>;
/// The host's stack handle.
pub type HostStack = Stack<'static, STREAMS, BUF, BUF>;
/// A stream of the host's stack.
pub type HostStream = Stream<'static, STREAMS, BUF, BUF>;
/// The host's blocking runner.
pub type HostRunner = Runner<'static, HostLink, STREAMS, BUF, BUF>;

/// Whether [`QEMU`] runs (`--version`); `Err` says why not.
pub fn check_qemu() -> Result<(), String> {
    match Command::new(QEMU).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("`{QEMU} --version` failed ({})", o.status)),
        Err(e) => Err(format!("{QEMU} is not on PATH ({e})")),
    }
}

/// The firmware's own directory, `examples/firmware`.
pub fn firmware_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firmware")
}

/// The target directory from the environment: `$CARGO_TARGET_DIR`, else
/// `$CARGO_BUILD_TARGET_DIR` (cargo's precedence), relative ones taken
/// relative to `base` (the directory cargo runs in).
pub fn env_target_dir(base: &Path) -> Option<PathBuf> {
    ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"]
        .iter()
        .find_map(std::env::var_os)
        .filter(|d| !d.is_empty())
        .map(|d| base.join(d))
}

/// Where `cargo build --release --manifest-path examples/firmware/Cargo.toml
/// --target thumbv7m-none-eabi` puts the ELF: [`ELF_IN_TARGET_DIR`] under
/// `target_dir`, or under the firmware's own `target` directory without one.
pub fn firmware_elf(target_dir: Option<&Path>) -> PathBuf {
    match target_dir {
        Some(d) => d.join(ELF_IN_TARGET_DIR),
        None => firmware_dir().join("target").join(ELF_IN_TARGET_DIR),
    }
}

/// The firmware ELF to run, already built: the first that exists of
/// `$BRAID_FIRMWARE_ELF`, the one under the target directory from the
/// environment ([`env_target_dir`], relative to the current directory)
/// and the one under `examples/firmware/target`. `Err` lists where it
/// looked and how to build it.
pub fn find_firmware() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("BRAID_FIRMWARE_ELF") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::current_dir().ok().and_then(|cwd| env_target_dir(&cwd)) {
        candidates.push(firmware_elf(Some(&d)));
    }
    candidates.push(firmware_elf(None));
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "no firmware ELF (looked at {candidates:?}); build it with \
             `cargo build --release --manifest-path examples/firmware/Cargo.toml --target thumbv7m-none-eabi`"
        )
    })
}

/// A seeded byte-damaging channel: each byte is dropped, or has one bit
/// flipped, with the given probabilities (per million); both zero (the
/// default) pass every byte through.
#[derive(Clone, Debug)]
pub struct Noise {
    state: u64,
    /// Probability that a byte has one bit flipped, per million.
    pub flip_ppm: u64,
    /// Probability that a byte is dropped, per million.
    pub drop_ppm: u64,
    /// Bytes flipped so far.
    pub flipped: u64,
    /// Bytes dropped so far.
    pub dropped: u64,
}

impl Noise {
    /// A clean channel whose damage, once turned on, follows `seed`.
    pub fn new(seed: u64) -> Self {
        Noise { state: seed | 1, flip_ppm: 0, drop_ppm: 0, flipped: 0, dropped: 0 }
    }

    /// The next pseudo-random number (xorshift64*).
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Pass `bytes` through the channel, appending what survives to `out`.
    pub fn apply(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            let r = self.next_u64() % 1_000_000;
            if r < self.drop_ppm {
                self.dropped += 1;
            } else if r < self.drop_ppm + self.flip_ppm {
                self.flipped += 1;
                out.push(b ^ (1 << (self.next_u64() % 8)));
            } else {
                out.push(b);
            }
        }
    }
}

/// A running QEMU, killed when dropped (it never exits by itself).
pub struct Qemu(Child);

impl Qemu {
    /// Start [`QEMU`] on `elf` (`-M lm3s6965evb -display none -monitor none
    /// -serial stdio -kernel <elf>`; not `-nographic`, whose escape
    /// character eats byte 0x01), with UART0 on the returned [`Uart`]; its
    /// [`Noise`] on both paths follows `seed`. QEMU's own messages go to
    /// stderr.
    pub fn start(elf: &Path, seed: u64) -> Result<(Qemu, Uart), String> {
        let mut child = Command::new(QEMU)
            .args([
                "-M",
                "lm3s6965evb",
                "-display",
                "none",
                "-monitor",
                "none",
                "-serial",
                "stdio",
                "-kernel",
            ])
            .arg(elf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start {QEMU}: {e}"))?;
        let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            unreachable!("both are piped");
        };
        let qemu = Qemu(child);
        // Reads until QEMU's stdout closes (it is killed), then ends.
        let (chunks, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || chunks.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let uart = Uart {
            rx,
            pending: VecDeque::new(),
            eof: false,
            tx: stdin,
            rx_noise: Noise::new(seed),
            tx_noise: Noise::new(seed ^ 0xABCD_EF01),
            scratch: Vec::new(),
        };
        Ok((qemu, uart))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The host's end of the UART as a blocking `embedded-io` pipe: a thread
/// reads QEMU's stdout into a channel (so `ReadReady` never blocks), and
/// writes go straight to its stdin; [`Noise`] on both paths.
pub struct Uart {
    rx: Receiver<Vec<u8>>,
    pending: VecDeque<u8>,
    eof: bool,
    tx: ChildStdin,
    rx_noise: Noise,
    tx_noise: Noise,
    scratch: Vec<u8>,
}

impl Uart {
    fn take(&mut self, chunk: Vec<u8>) {
        self.scratch.clear();
        self.rx_noise.apply(&chunk, &mut self.scratch);
        self.pending.extend(&self.scratch);
    }

    fn fill(&mut self) {
        while self.pending.is_empty() && !self.eof {
            match self.rx.try_recv() {
                Ok(chunk) => self.take(chunk),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => self.eof = true,
            }
        }
    }

    /// Wait up to `timeout` for input (returns at once if some is pending).
    pub fn wait(&mut self, timeout: Duration) {
        if self.pending.is_empty() && !self.eof {
            match self.rx.recv_timeout(timeout) {
                Ok(chunk) => self.take(chunk),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
            }
        }
    }

    /// Damage bytes both ways from now on: flip one bit of a byte, or drop
    /// it, with these probabilities per million (0 and 0: a clean line).
    pub fn set_noise(&mut self, flip_ppm: u64, drop_ppm: u64) {
        for n in [&mut self.rx_noise, &mut self.tx_noise] {
            n.flip_ppm = flip_ppm;
            n.drop_ppm = drop_ppm;
        }
    }

    /// The damage done to bytes from QEMU to the host.
    pub fn rx_noise(&self) -> &Noise {
        &self.rx_noise
    }

    /// The damage done to bytes from the host to QEMU.
    pub fn tx_noise(&self) -> &Noise {
        &self.tx_noise
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = std::io::Error;
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> std::io::Result<bool> {
        self.fill();
        Ok(!self.pending.is_empty() || self.eof)
    }
}

impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() && !self.eof {
            self.wait(Duration::from_secs(1));
        }
        let n = buf.len().min(self.pending.len());
        for (b, p) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *b = p;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut damaged = Vec::with_capacity(buf.len());
        self.tx_noise.apply(buf, &mut damaged);
        self.tx.write_all(&damaged)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tx.flush()
    }
}

/// The metadata block of an open with stream type `kind`.
fn metadata(kind: u32) -> Vec<u8> {
    let mut buf = [0u8; 4];
    MetadataWriter::new(&mut buf, kind).expect("4 bytes hold a stream type").finish().to_vec()
}

/// `len` pseudo-random bytes from `seed`.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut n = Noise::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7));
    (0..len).map(|_| n.next_u64() as u8).collect()
}

/// `name=<number>` in a line of `name=value` fields (a report or a
/// telemetry line), if there and a number.
pub fn field(line: &str, name: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
}

/// One host-opened stream for [`Host::exchange`]: what to send, what came
/// back.
pub struct Flow {
    /// Its stream type ([`TYPE_ECHO`] or [`TYPE_REPORT`]).
    pub kind: u32,
    /// The bytes to send, then FIN.
    pub send: Vec<u8>,
    stream: Option<HostStream>,
    /// Bytes of `send` written so far.
    pub sent: usize,
    finished: bool,
    /// The bytes read so far.
    pub got: Vec<u8>,
    /// Whether the firmware's FIN has been read.
    pub eof: bool,
    /// Why it is not open yet (for the failure message).
    waiting: Option<OpenError>,
}

impl Flow {
    fn new(kind: u32, send: Vec<u8>) -> Self {
        Flow {
            kind,
            send,
            stream: None,
            sent: 0,
            finished: false,
            got: Vec::new(),
            eof: false,
            waiting: None,
        }
    }

    /// An echo stream sending `len` pseudo-random bytes from `seed`;
    /// [`Host::exchange`] checks that the same come back.
    pub fn echo(seed: u64, len: usize) -> Self {
        Flow::new(TYPE_ECHO, pattern(seed, len))
    }

    /// A report stream: sends nothing, gets one line (see [`report_line`]).
    pub fn report() -> Self {
        Flow::new(TYPE_REPORT, Vec::new())
    }
}

/// The report line among `flows` (the first report flow's bytes, checked
/// to be one line of text), without its newline.
pub fn report_line(flows: &[Flow]) -> Result<String, String> {
    let f = flows.iter().find(|f| f.kind == TYPE_REPORT).ok_or("no report stream among the flows")?;
    let line = String::from_utf8(f.got.clone()).map_err(|e| format!("the report is not text: {e}"))?;
    if !(line.ends_with('\n') && line.matches('\n').count() == 1) {
        return Err(format!("the report is not one line: {line:?}"));
    }
    Ok(line.trim_end().to_string())
}

/// The telemetry stream the firmware opened, and its lines.
pub struct Telemetry {
    stream: HostStream,
    text: Vec<u8>,
    /// The complete lines so far, without newlines, checked to be numbered
    /// `seq=0`, `seq=1`, ... with none lost or repeated.
    pub lines: Vec<String>,
}

impl Telemetry {
    /// Read what has arrived; returns whether anything did.
    fn pump(&mut self) -> Result<bool, String> {
        let mut buf = [0u8; 512];
        let mut moved = false;
        loop {
            match self.stream.try_read(&mut buf) {
                Ok(0) => return Err("the telemetry stream ended".into()),
                Ok(n) => {
                    moved = true;
                    self.text.extend_from_slice(&buf[..n]);
                }
                Err(ReadError::WouldBlock) => break,
                Err(e) => return Err(format!("telemetry: {e:?}")),
            }
        }
        while let Some(i) = self.text.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.text.drain(..=i).collect();
            let line = String::from_utf8(line).map_err(|e| format!("telemetry is not text: {e}"))?;
            let seq = field(&line, "seq").ok_or_else(|| format!("bad telemetry line {line:?}"))?;
            if seq != self.lines.len() as u64 {
                return Err(format!(
                    "telemetry lines lost or repeated: {line:?} after {} lines",
                    self.lines.len()
                ));
            }
            self.lines.push(line.trim_end().to_string());
        }
        Ok(moved)
    }
}

/// The host: its braid stack and blocking runner on QEMU's UART (the
/// session's client, reliable link mode), and the QEMU it talks to.
pub struct Host {
    /// The host's stack (open streams, stats, generation).
    pub stack: HostStack,
    /// The runner (its link: `runner.framing()`).
    pub runner: HostRunner,
    /// The UART (noise, waiting for input).
    pub uart: Uart,
    /// The time base of the runner's clock.
    start: std::time::Instant,
    /// The telemetry stream, once the firmware has opened it.
    pub telemetry: Option<Telemetry>,
    /// Killed last, when the host is dropped.
    _qemu: Qemu,
}

impl Host {
    /// Start QEMU on `elf` ([`Qemu::start`], noise from `seed`, off until
    /// [`Uart::set_noise`]) and set up the host's side. Nothing is sent
    /// until the first [`Host::turn`]. The host's stack memory is leaked
    /// (the stack needs it for `'static`): about 70 KiB per host.
    pub fn start(elf: &Path, seed: u64) -> Result<Host, String> {
        let (qemu, uart) = Qemu::start(elf, seed)?;
        let resources: &'static mut Resources<STREAMS, BUF, BUF> = Box::leak(Box::new(Resources::new()));
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos());
        let link = HostLink::new(LinkConfig::reliable(epoch));
        let (stack, runner) = braid_embedded::new_linked(resources, Config::client(), link);
        Ok(Host { stack, runner, uart, start: std::time::Instant::now(), telemetry: None, _qemu: qemu })
    }

    /// The runner's clock: time since [`Host::start`].
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// One runner step, then accept the telemetry stream and read it;
    /// returns whether anything moved. Fails if the run ends (QEMU gone),
    /// the UART fails, or the telemetry is wrong (see [`Telemetry::lines`];
    /// a second telemetry stream means the firmware's session restarted).
    pub fn turn(&mut self) -> Result<bool, String> {
        let now = self.now();
        match self.runner.poll(&mut self.uart, now).map_err(|e| format!("host UART failed: {e:?}"))? {
            Step::Idle(_) => {}
            Step::Ended(reason) => return Err(format!("the run ended (QEMU gone?): {reason:?}")),
        }
        let mut moved = false;
        while let Ok(stream) = self.stack.try_accept() {
            let mut buf = [0u8; 64];
            let kind = match stream.metadata(&mut buf) {
                Ok(Some(n)) => Metadata::parse(&buf[..n]).map(|m| m.stream_type).ok(),
                _ => None,
            };
            if kind != Some(TYPE_TELEMETRY) {
                return Err(format!("the firmware opened a stream of type {kind:?}, not telemetry"));
            }
            if self.telemetry.is_some() {
                return Err("a second telemetry stream: did the firmware's session restart?".into());
            }
            self.telemetry = Some(Telemetry { stream, text: Vec::new(), lines: Vec::new() });
            moved = true;
        }
        if let Some(t) = self.telemetry.as_mut() {
            moved |= t.pump()?;
        }
        Ok(moved)
    }

    /// Run `flows` concurrently (opened as the firmware's credit allows)
    /// to their end, both ways, within `limit`; returns them, each echo
    /// checked to have come back exactly as sent.
    pub fn exchange(&mut self, mut flows: Vec<Flow>, limit: Duration) -> Result<Vec<Flow>, String> {
        let until = std::time::Instant::now() + limit;
        let mut buf = vec![0u8; 4096];
        while flows.iter().any(|f| !f.eof) {
            if std::time::Instant::now() >= until {
                return Err(format!("streams not done within {limit:?}: {}", progress(&flows)));
            }
            let mut moved = self.turn()?;
            for f in flows.iter_mut().filter(|f| !f.eof) {
                if f.stream.is_none() {
                    match self.stack.try_open_with(&metadata(f.kind)) {
                        Ok(s) => {
                            f.stream = Some(s);
                            f.waiting = None;
                        }
                        Err(e @ (OpenError::Handshaking | OpenError::NoCredit | OpenError::NoCapacity)) => {
                            f.waiting = Some(e);
                            continue;
                        }
                        Err(e) => return Err(format!("open (type {}): {e:?}", f.kind)),
                    }
                }
                let Some(s) = f.stream.as_mut() else { unreachable!("opened above") };
                while f.sent < f.send.len() {
                    match s.try_write(&f.send[f.sent..]) {
                        Ok(n) => {
                            f.sent += n;
                            moved = true;
                        }
                        Err(WriteError::WouldBlock) => break,
                        Err(e) => return Err(format!("write (type {}): {e:?}", f.kind)),
                    }
                }
                if f.sent == f.send.len() && !f.finished {
                    s.finish().map_err(|e| format!("finish (type {}): {e:?}", f.kind))?;
                    f.finished = true;
                }
                while !f.eof {
                    match s.try_read(&mut buf) {
                        Ok(0) => f.eof = true,
                        Ok(n) => {
                            f.got.extend_from_slice(&buf[..n]);
                            moved = true;
                        }
                        Err(ReadError::WouldBlock) => break,
                        Err(e) => {
                            return Err(format!(
                                "read: {e:?} (type {}, sent {}, got {})",
                                f.kind,
                                f.sent,
                                f.got.len()
                            ))
                        }
                    }
                }
                if f.eof {
                    // Both sides finished: dropping frees the slot.
                    f.stream = None;
                }
            }
            if !moved {
                self.uart.wait(Duration::from_micros(500));
            }
        }
        for (i, f) in flows.iter().enumerate().filter(|(_, f)| f.kind == TYPE_ECHO) {
            if f.got.len() != f.send.len() {
                return Err(format!("echo {i}: sent {} bytes, got {} back", f.send.len(), f.got.len()));
            }
            if f.got != f.send {
                return Err(format!("echo {i}: the data differs"));
            }
        }
        Ok(flows)
    }

    /// Open a report stream alone and return its line ([`report_line`]),
    /// within `limit`.
    pub fn report(&mut self, limit: Duration) -> Result<String, String> {
        report_line(&self.exchange(vec![Flow::report()], limit)?)
    }

    /// Keep the line going for `d` (telemetry flows).
    pub fn idle(&mut self, d: Duration) -> Result<(), String> {
        let until = std::time::Instant::now() + d;
        while std::time::Instant::now() < until {
            if !self.turn()? {
                self.uart.wait(Duration::from_micros(500));
            }
        }
        Ok(())
    }
}

/// Where each flow is, for a timeout's message.
fn progress(flows: &[Flow]) -> String {
    flows
        .iter()
        .map(|f| {
            format!(
                "[type {} sent {}/{} got {} eof {} waiting {:?}]",
                f.kind,
                f.sent,
                f.send.len(),
                f.got.len(),
                f.eof,
                f.waiting
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_report_line() {
        let line = "stack_peak_bytes=8892 loop_stack_peak_bytes=100 epoch=00ab sessions=1";
        assert_eq!(field(line, "stack_peak_bytes"), Some(8892));
        assert_eq!(field(line, "loop_stack_peak_bytes"), Some(100));
        assert_eq!(field(line, "sessions"), Some(1));
        assert_eq!(field(line, "peak_bytes"), None);
        assert_eq!(field(line, "missing"), None);
    }

    #[test]
    fn where_the_elf_is() {
        let d = Path::new("/tmp/t");
        assert_eq!(firmware_elf(Some(d)), d.join(ELF_IN_TARGET_DIR));
        assert!(firmware_elf(None).ends_with(Path::new("examples/firmware/target").join(ELF_IN_TARGET_DIR)));
    }

    #[test]
    fn clean_noise_passes_everything() {
        let mut n = Noise::new(3);
        let mut out = Vec::new();
        n.apply(b"hello", &mut out);
        assert_eq!(out, b"hello");
        n.drop_ppm = 1_000_000;
        out.clear();
        n.apply(b"hello", &mut out);
        assert!(out.is_empty());
        assert_eq!(n.dropped, 5);
    }
}
