//! The host side of the example firmware (`examples/firmware`) on an
//! emulated Cortex-M3: QEMU's `lm3s6965evb` runs the firmware, its UART0
//! is QEMU's stdin/stdout, and [`Host`] is the other end of the serial
//! line: braid-tokio's [`SerialLink`] over the child's pipes (the host is
//! the session's client; the link mode is the host's choice, since the
//! firmware asks for reliable mode and the link uses it only if both do).
//!
//! Used by `tests/firmware_qemu.rs` (echo, report and telemetry streams on
//! a clean and a noisy line, in reliable and fail-stop mode) and by
//! braid-bench's `embedded` group (the firmware's report: its stack peak).
//!
//! # What is here
//!
//! - Finding things: [`check_qemu`], [`firmware_elf`] (where a build puts
//!   the ELF), [`find_firmware`] (the ELF to test, from the environment).
//! - [`Host::start`]: start QEMU on an ELF ([`Qemu`]) and a [`SerialLink`]
//!   over its UART ([`Line`], the child's stdout and stdin as one tokio
//!   pipe, damaging bytes as its [`LineNoise`] says).
//! - [`Host::exchange`]: run host-opened streams ([`Flow`]: echo or report)
//!   concurrently to their end; [`Host::report`] for one report line;
//!   [`Host::next_session`] to move to the session that follows one that
//!   ended; the telemetry stream the firmware opens in every session is
//!   collected on the way ([`Host::telemetry`]).
//!
//! Errors are `String`s saying what went wrong: the test unwraps them,
//! the bench reports them.

use braid_tokio::{Config, LinkConfig, SerialLink, Session, SessionEnd};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command as StdCommand, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

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

/// Whether [`QEMU`] runs (`--version`); `Err` says why not.
pub fn check_qemu() -> Result<(), String> {
    match StdCommand::new(QEMU).arg("--version").output() {
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
    /// character eats byte 0x01), with UART0 on its stdout and stdin, which
    /// are returned. QEMU's own messages go to stderr. Needs a tokio
    /// runtime.
    pub fn start(elf: &Path) -> Result<(Qemu, ChildStdout, ChildStdin), String> {
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
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("start {QEMU}: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(format!("{QEMU}: no stdin or stdout pipe"));
        };
        Ok((Qemu(child), stdout, stdin))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        // `kill_on_drop` kills it; reap it too, if it is gone already.
        let _ = self.0.start_kill();
        let _ = self.0.try_wait();
    }
}

/// The damage a [`Line`] does, shared with whoever turns it on and off.
#[derive(Clone)]
pub struct LineNoise(Arc<Mutex<(Noise, Noise)>>);

impl LineNoise {
    /// A clean line whose damage, once turned on, follows `seed`.
    pub fn new(seed: u64) -> Self {
        LineNoise(Arc::new(Mutex::new((Noise::new(seed), Noise::new(seed ^ 0xABCD_EF01)))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Noise, Noise)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Damage bytes both ways from now on: flip one bit of a byte, or drop
    /// it, with these probabilities per million (0 and 0: a clean line).
    pub fn set(&self, flip_ppm: u64, drop_ppm: u64) {
        let mut guard = self.lock();
        let (rx, tx) = &mut *guard;
        for n in [rx, tx] {
            n.flip_ppm = flip_ppm;
            n.drop_ppm = drop_ppm;
        }
    }

    /// The damage done so far to bytes from QEMU to the host.
    pub fn rx(&self) -> Noise {
        self.lock().0.clone()
    }

    /// The damage done so far to bytes from the host to QEMU.
    pub fn tx(&self) -> Noise {
        self.lock().1.clone()
    }
}

/// The host's end of the UART as one tokio pipe: reads from QEMU's
/// stdout, writes to its stdin, each byte passing its [`LineNoise`].
pub struct Line {
    rx: ChildStdout,
    tx: ChildStdin,
    noise: LineNoise,
    read_buf: Vec<u8>,
    damaged: Vec<u8>,
    /// Damaged bytes taken from a write and not yet written to QEMU.
    pending: Vec<u8>,
    written: usize,
}

impl Line {
    /// The pipe over QEMU's `rx` (stdout) and `tx` (stdin).
    pub fn new(rx: ChildStdout, tx: ChildStdin, noise: LineNoise) -> Self {
        Line { rx, tx, noise, read_buf: Vec::new(), damaged: Vec::new(), pending: Vec::new(), written: 0 }
    }

    /// Write the pending bytes; ready once they are all written.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.tx).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Line {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            this.read_buf.resize(buf.remaining().min(4096), 0);
            let mut rb = ReadBuf::new(&mut this.read_buf);
            ready!(Pin::new(&mut this.rx).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(())); // QEMU's end
            }
            this.damaged.clear();
            this.noise.lock().0.apply(&this.read_buf[..n], &mut this.damaged);
            if !this.damaged.is_empty() {
                buf.put_slice(&this.damaged);
                return Poll::Ready(Ok(()));
            }
            // Every byte was dropped: read again (an empty read is the end).
        }
    }
}

impl AsyncWrite for Line {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        this.noise.lock().1.apply(buf, &mut this.pending);
        // Start writing now; what QEMU does not take yet is written by the
        // next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.tx).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.tx).poll_shutdown(cx)
    }
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
#[derive(Clone, Debug)]
pub struct Flow {
    /// Its stream type ([`TYPE_ECHO`] or [`TYPE_REPORT`]).
    pub kind: u32,
    /// The bytes to send, then FIN.
    pub send: Vec<u8>,
    /// The bytes read until the firmware's FIN.
    pub got: Vec<u8>,
}

impl Flow {
    /// An echo stream sending `len` pseudo-random bytes from `seed`;
    /// [`Host::exchange`] checks that the same come back.
    pub fn echo(seed: u64, len: usize) -> Self {
        Flow { kind: TYPE_ECHO, send: pattern(seed, len), got: Vec::new() }
    }

    /// A report stream: sends nothing, gets one line (see [`report_line`]).
    pub fn report() -> Self {
        Flow { kind: TYPE_REPORT, send: Vec::new(), got: Vec::new() }
    }

    /// Open the stream on `session`, send, read to the end.
    async fn run(mut self, session: Session) -> Result<Flow, String> {
        let kind = self.kind;
        let stream = session.open_typed(kind).await.map_err(|e| format!("open (type {kind}): {e}"))?;
        let (mut r, mut w) = stream.into_split();
        let send = std::mem::take(&mut self.send);
        let writer = tokio::spawn(async move {
            w.write_all(&send).await?;
            w.shutdown().await?;
            Ok::<_, io::Error>(send)
        });
        let read = r.read_to_end(&mut self.got).await;
        let written = writer.await.map_err(|e| format!("writer (type {kind}): {e}"))?;
        self.send = written.map_err(|e| format!("write (type {kind}): {e}"))?;
        read.map_err(|e| format!("read (type {kind}, got {} bytes): {e}", self.got.len()))?;
        Ok(self)
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

/// The telemetry the firmware sent: one entry per session (each opens its
/// own telemetry stream, numbering lines from 0).
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    /// Each telemetry stream's complete lines, without newlines, checked
    /// to be numbered `seq=0`, `seq=1`, ... with none lost or repeated.
    pub streams: Vec<Vec<String>>,
    /// What was wrong with the telemetry (a stream of another type, a
    /// line out of sequence, a line that is not text), if anything.
    pub error: Option<String>,
}

/// Accept the streams the firmware opens on `session` (its telemetry)
/// and collect their lines into `log`.
fn collect_telemetry(session: Session, log: Arc<Mutex<Telemetry>>) {
    tokio::spawn(async move {
        while let Ok(mut stream) = session.accept().await {
            let kind = stream.metadata().map(|m| m.stream_type);
            let index = {
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                if kind != Some(TYPE_TELEMETRY) {
                    log.error = Some(format!("the firmware opened a stream of type {kind:?}, not telemetry"));
                    continue;
                }
                log.streams.push(Vec::new());
                log.streams.len() - 1
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut text = Vec::new();
                let mut buf = [0u8; 512];
                // Ends with the stream or its session.
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    text.extend_from_slice(&buf[..n]);
                    while let Some(i) = text.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = text.drain(..=i).collect();
                        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                        let lines = log.streams[index].len() as u64;
                        let line = String::from_utf8_lossy(&line).trim_end().to_string();
                        if field(&line, "seq") != Some(lines) {
                            log.error = Some(format!("telemetry line {line:?} after {lines} lines"));
                            return;
                        }
                        log.streams[index].push(line);
                    }
                }
            });
        }
    });
}

/// The host: a [`SerialLink`] (the session's client) over QEMU's UART,
/// the current session, and the QEMU it talks to.
pub struct Host {
    /// The serial link: its counters, its sessions.
    pub serial: SerialLink,
    /// The current session.
    pub session: Session,
    /// The line's damage.
    pub noise: LineNoise,
    telemetry: Arc<Mutex<Telemetry>>,
    /// Killed last, when the host is dropped.
    _qemu: Qemu,
}

impl Host {
    /// Start QEMU on `elf` ([`Qemu::start`]) and a serial link over its
    /// UART with `link` (fail-stop or reliable; the line's noise follows
    /// `seed` and is off until [`LineNoise::set`]), and take its first
    /// session.
    pub async fn start(elf: &Path, seed: u64, link: LinkConfig) -> Result<Host, String> {
        let (qemu, stdout, stdin) = Qemu::start(elf)?;
        let noise = LineNoise::new(seed);
        let line = Line::new(stdout, stdin, noise.clone());
        let config = Config::default().label("host").trace_from_env();
        let mut serial = SerialLink::client(line, config, link);
        let session = serial.next_session().await.ok_or("the serial link has no first session")?;
        let telemetry = Arc::new(Mutex::new(Telemetry::default()));
        collect_telemetry(session.clone(), telemetry.clone());
        Ok(Host { serial, session, noise, telemetry, _qemu: qemu })
    }

    /// Run `flows` concurrently on the current session to their end, both
    /// ways, within `limit`; returns them, each echo checked to have come
    /// back exactly as sent.
    pub async fn exchange(&self, flows: Vec<Flow>, limit: Duration) -> Result<Vec<Flow>, String> {
        let tasks: Vec<_> = flows.into_iter().map(|f| tokio::spawn(f.run(self.session.clone()))).collect();
        let all = async {
            let mut done = Vec::new();
            for t in tasks {
                done.push(t.await.map_err(|e| format!("flow task: {e}"))??);
            }
            Ok::<_, String>(done)
        };
        let flows = tokio::time::timeout(limit, all)
            .await
            .map_err(|_| format!("streams not done within {limit:?}"))??;
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
    pub async fn report(&self, limit: Duration) -> Result<String, String> {
        report_line(&self.exchange(vec![Flow::report()], limit).await?)
    }

    /// How the current session ended, waiting up to `limit` for it.
    pub async fn session_end(&self, limit: Duration) -> Result<SessionEnd, String> {
        tokio::time::timeout(limit, self.session.closed())
            .await
            .map_err(|_| format!("the session did not end within {limit:?}"))
    }

    /// Move to the session that follows the current one, once it answers
    /// a PING (a session that ends before it does is passed over), within
    /// `limit`. The current session must have ended (or be ending).
    pub async fn next_session(&mut self, limit: Duration) -> Result<(), String> {
        let serial = &mut self.serial;
        let found = tokio::time::timeout(limit, async {
            loop {
                let session = serial.next_session().await.ok_or("the serial link's sessions are over")?;
                if tokio::time::timeout(Duration::from_secs(2), session.ping()).await.is_ok_and(|r| r.is_ok())
                {
                    return Ok::<_, String>(session);
                }
            }
        })
        .await
        .map_err(|_| format!("no working session within {limit:?}"))??;
        collect_telemetry(found.clone(), self.telemetry.clone());
        self.session = found;
        Ok(())
    }

    /// The telemetry so far.
    pub fn telemetry(&self) -> Telemetry {
        self.telemetry.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
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
