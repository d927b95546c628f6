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
//! It builds nothing: scripts/test.sh builds the firmware first. Without
//! `qemu-system-arm` on PATH or without the firmware ELF it is skipped,
//! unless `BRAID_REQUIRE_QEMU=1`, which turns that into a failure. The ELF
//! is `$BRAID_FIRMWARE_ELF`, or `thumbv7m-none-eabi/release/braid-firmware`
//! under `$CARGO_TARGET_DIR` or under `examples/firmware/target`.

use braid::link::{Link, LinkConfig};
use braid::{Config, Instant, Metadata, MetadataWriter, OpenError, ReadError, WriteError};
use braid_embedded::{Resources, Stack, Step, Stream};
use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

const TYPE_ECHO: u32 = 1;
const TYPE_TELEMETRY: u32 = 2;
const TYPE_REPORT: u32 = 3;

/// The host's memory: more than the firmware's, it costs nothing here.
const N: usize = 8;
const BUF: usize = 4096;
type HostStack = Stack<'static, N, BUF, BUF>;
type HostStream = Stream<'static, N, BUF, BUF>;

/// The firmware ELF and QEMU, or why the test cannot run.
fn setup() -> Result<PathBuf, String> {
    match Command::new("qemu-system-arm").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("qemu-system-arm is not on PATH".into()),
    }
    let rel = "thumbv7m-none-eabi/release/braid-firmware";
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("BRAID_FIRMWARE_ELF") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(d).join(rel));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firmware/target").join(rel));
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "no firmware ELF (looked at {candidates:?}); build it with \
             `cargo build --release --manifest-path examples/firmware/Cargo.toml --target thumbv7m-none-eabi`"
        )
    })
}

/// A seeded byte-damaging channel: each byte is dropped, or has one bit
/// flipped, with the given probabilities (per million).
struct Noise {
    state: u64,
    flip_ppm: u64,
    drop_ppm: u64,
    flipped: u64,
    dropped: u64,
}

impl Noise {
    fn new(seed: u64) -> Self {
        Noise { state: seed | 1, flip_ppm: 0, drop_ppm: 0, flipped: 0, dropped: 0 }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn apply(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            let r = self.next() % 1_000_000;
            if r < self.drop_ppm {
                self.dropped += 1;
            } else if r < self.drop_ppm + self.flip_ppm {
                self.flipped += 1;
                out.push(b ^ (1 << (self.next() % 8)));
            } else {
                out.push(b);
            }
        }
    }
}

/// QEMU, killed when dropped (it never exits by itself).
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The host's end of the UART as a blocking embedded-io pipe: a thread
/// reads QEMU's stdout into a channel (so `ReadReady` never blocks), and
/// writes go straight to its stdin; noise on both paths.
struct Uart {
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

    /// Wait up to `timeout` for input.
    fn wait(&mut self, timeout: Duration) {
        if self.pending.is_empty() && !self.eof {
            match self.rx.recv_timeout(timeout) {
                Ok(chunk) => self.take(chunk),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
            }
        }
    }

    fn set_noise(&mut self, flip_ppm: u64, drop_ppm: u64) {
        for n in [&mut self.rx_noise, &mut self.tx_noise] {
            n.flip_ppm = flip_ppm;
            n.drop_ppm = drop_ppm;
        }
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

fn metadata(kind: u32) -> Vec<u8> {
    let mut buf = [0u8; 4];
    MetadataWriter::new(&mut buf, kind).unwrap().finish().to_vec()
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut n = Noise::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7));
    (0..len).map(|_| n.next() as u8).collect()
}

/// One host-opened stream: what to send, what came back.
struct Flow {
    kind: u32,
    send: Vec<u8>,
    stream: Option<HostStream>,
    sent: usize,
    finished: bool,
    got: Vec<u8>,
    eof: bool,
    /// Why it is not open yet (for the failure message).
    waiting: Option<OpenError>,
}

/// The telemetry stream the firmware opened, and its lines.
struct Telemetry {
    stream: HostStream,
    text: Vec<u8>,
    lines: Vec<String>,
}

impl Telemetry {
    fn pump(&mut self) -> bool {
        let mut buf = [0u8; 512];
        let mut moved = false;
        loop {
            match self.stream.try_read(&mut buf) {
                Ok(0) => panic!("telemetry stream ended"),
                Ok(n) => {
                    moved = true;
                    self.text.extend_from_slice(&buf[..n]);
                }
                Err(ReadError::WouldBlock) => break,
                Err(e) => panic!("telemetry: {e:?}"),
            }
        }
        while let Some(i) = self.text.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.text.drain(..=i).collect();
            let line = String::from_utf8(line).expect("telemetry is text");
            let seq = field(&line, "seq").unwrap_or_else(|| panic!("bad telemetry line {line:?}"));
            assert_eq!(seq, self.lines.len() as u64, "telemetry lines lost or repeated: {line:?}");
            self.lines.push(line.trim_end().to_string());
        }
        moved
    }
}

/// `name=<number>` in a line.
fn field(line: &str, name: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
}

struct Host {
    stack: HostStack,
    runner: braid_embedded::Runner<'static, Link<136, 4>, N, BUF, BUF>,
    uart: Uart,
    start: std::time::Instant,
    telemetry: Option<Telemetry>,
}

impl Host {
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// One runner step and the telemetry; returns whether anything moved.
    fn turn(&mut self) -> bool {
        let now = self.now();
        match self.runner.poll(&mut self.uart, now).expect("host UART failed") {
            Step::Idle(_) => {}
            Step::Ended(reason) => panic!("the run ended (QEMU gone?): {reason:?}"),
        }
        let mut moved = false;
        while let Ok(stream) = self.stack.try_accept() {
            let mut buf = [0u8; 64];
            let n = stream.metadata(&mut buf).unwrap().expect("telemetry metadata");
            assert_eq!(Metadata::parse(&buf[..n]).unwrap().stream_type, TYPE_TELEMETRY);
            assert!(self.telemetry.is_none(), "a second telemetry stream: did the session restart?");
            self.telemetry = Some(Telemetry { stream, text: Vec::new(), lines: Vec::new() });
            moved = true;
        }
        if let Some(t) = self.telemetry.as_mut() {
            moved |= t.pump();
        }
        moved
    }

    /// Run `flows` concurrently (opened as credit allows) to their end
    /// within `limit`; returns them, checked.
    fn exchange(&mut self, mut flows: Vec<Flow>, limit: Duration) -> Vec<Flow> {
        let until = std::time::Instant::now() + limit;
        let mut buf = vec![0u8; 4096];
        while flows.iter().any(|f| !f.eof) {
            assert!(
                std::time::Instant::now() < until,
                "streams not done within {limit:?}: {}",
                progress(&flows)
            );
            let mut moved = self.turn();
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
                        Err(e) => panic!("open: {e:?}"),
                    }
                }
                let s = f.stream.as_mut().unwrap();
                while f.sent < f.send.len() {
                    match s.try_write(&f.send[f.sent..]) {
                        Ok(n) => {
                            f.sent += n;
                            moved = true;
                        }
                        Err(WriteError::WouldBlock) => break,
                        Err(e) => panic!("write: {e:?}"),
                    }
                }
                if f.sent == f.send.len() && !f.finished {
                    s.finish().unwrap();
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
                            panic!("read: {e:?} (type {}, sent {}, got {})", f.kind, f.sent, f.got.len())
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
        for (i, f) in flows.iter().enumerate() {
            if f.kind == TYPE_ECHO {
                assert_eq!(f.got.len(), f.send.len(), "echo {i}: length");
                assert!(f.got == f.send, "echo {i}: the data differs");
            }
        }
        flows
    }

    /// Keep the line going for `d` (telemetry flows).
    fn idle(&mut self, d: Duration) {
        let until = std::time::Instant::now() + d;
        while std::time::Instant::now() < until {
            if !self.turn() {
                self.uart.wait(Duration::from_micros(500));
            }
        }
    }
}

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

fn echo(seed: u64, len: usize) -> Flow {
    Flow {
        kind: TYPE_ECHO,
        send: pattern(seed, len),
        stream: None,
        sent: 0,
        finished: false,
        got: Vec::new(),
        eof: false,
        waiting: None,
    }
}

fn report() -> Flow {
    Flow {
        kind: TYPE_REPORT,
        send: Vec::new(),
        stream: None,
        sent: 0,
        finished: false,
        got: Vec::new(),
        eof: false,
        waiting: None,
    }
}

fn report_line(flows: &[Flow]) -> String {
    let f = flows.iter().find(|f| f.kind == TYPE_REPORT).unwrap();
    let line = String::from_utf8(f.got.clone()).expect("the report is text");
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "report: {line:?}");
    line.trim_end().to_string()
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
    let mut child = Command::new("qemu-system-arm")
        .args(["-M", "lm3s6965evb", "-display", "none", "-monitor", "none", "-serial", "stdio", "-kernel"])
        .arg(&elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start qemu-system-arm");
    let (stdin, mut stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let _qemu = Qemu(child);
    let (chunks, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || chunks.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });

    let seed = std::env::var("BRAID_QEMU_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_u64);
    let uart = Uart {
        rx,
        pending: VecDeque::new(),
        eof: false,
        tx: stdin,
        rx_noise: Noise::new(seed),
        tx_noise: Noise::new(seed ^ 0xABCD_EF01),
        scratch: Vec::new(),
    };
    let resources: &'static mut Resources<N, BUF, BUF> = Box::leak(Box::new(Resources::new()));
    let epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let link = Link::<136, 4>::new(LinkConfig::reliable(epoch));
    let (stack, runner) = braid_embedded::new_linked(resources, Config::client(), link);
    let mut host = Host { stack, runner, uart, start: std::time::Instant::now(), telemetry: None };

    // 1. A clean line: two echo streams and the report at once (the
    //    firmware takes 3 streams from the host), then three more echoes.
    let t0 = std::time::Instant::now();
    let flows = host.exchange(vec![echo(1, 6000), echo(2, 4500), report()], Duration::from_secs(15));
    let clean_report = report_line(&flows);
    host.exchange(vec![echo(3, 3000), echo(4, 1), echo(5, 2500)], Duration::from_secs(15));
    eprintln!("firmware_qemu: clean line: 5 echoes (16001 B each way) and a report in {:?}", t0.elapsed());
    eprintln!("firmware_qemu: report: {clean_report}");
    host.idle(Duration::from_millis(350));
    let lines = host.telemetry.as_ref().map_or(0, |t| t.lines.len());
    assert!(lines >= 3, "telemetry: only {lines} lines");
    let generation = host.stack.generation();

    // 2. A noisy line: bits flipped and bytes dropped both ways.
    host.uart.set_noise(1000, 1000);
    let t1 = std::time::Instant::now();
    let flows = host.exchange(
        vec![echo(11, 5000), echo(12, 3000), echo(13, 4000), echo(14, 2000), report()],
        Duration::from_secs(30),
    );
    let noisy_report = report_line(&flows);
    host.idle(Duration::from_millis(300));
    let u = &host.uart;
    let link = *host.runner.framing().stats();
    eprintln!(
        "firmware_qemu: noisy line: 4 echoes (14000 B each way) and a report in {:?}; host damaged \
         {} + {} bytes in, {} + {} out (flipped + dropped); host link: {} corrupt frames, {} retransmitted",
        t1.elapsed(),
        u.rx_noise.flipped,
        u.rx_noise.dropped,
        u.tx_noise.flipped,
        u.tx_noise.dropped,
        link.frames_corrupt,
        link.frames_retransmitted,
    );
    eprintln!("firmware_qemu: report: {noisy_report}");
    let t = host.telemetry.as_ref().unwrap();
    eprintln!("firmware_qemu: telemetry: {} lines, the last {:?}", t.lines.len(), t.lines.last().unwrap());

    // The damage happened, and the session rode it out: no restart on
    // either side, every byte as sent (checked in `exchange`), telemetry
    // lines contiguous (checked as they arrive).
    assert!(u.rx_noise.flipped + u.rx_noise.dropped > 0 && u.tx_noise.flipped + u.tx_noise.dropped > 0);
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
