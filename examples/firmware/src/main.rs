//! braid over its serial link on an emulated Cortex-M3 (QEMU's
//! `lm3s6965evb`), from a blocking main loop: the firmware side of
//! `examples/tests/firmware_qemu.rs`.
//!
//! UART0 carries braid's link layer in reliable mode (go-back-N below the
//! session), and the firmware is the session's server. It serves:
//!
//! - stream type 1 (opened by the host): echo, until the host's FIN, then FIN;
//! - stream type 2 (opened by the firmware once connected): telemetry, one
//!   line every 100 ms: `seq=<n> ms=<uptime> skipped=<lines not sent>\n`;
//! - stream type 3 (opened by the host): one report line, then FIN:
//!   `stack_peak_bytes=.. loop_stack_peak_bytes=.. stack_size_bytes=.. static_ram_bytes=..
//!   flash_bytes=.. epoch=.. sessions=.. frames_corrupt=..
//!   frames_retransmitted=.. uptime_ms=..\n` (see `memory.rs` for how the
//!   stack peak is measured).
//!
//! Any other type is reset with application code 1. Streams without
//! metadata are echoed.
//!
//! Build: `cargo build --release` here, or from the repository root
//! `cargo build --release --manifest-path examples/firmware/Cargo.toml --target thumbv7m-none-eabi`.
//! Run: `qemu-system-arm -M lm3s6965evb -display none -monitor none -serial stdio -kernel <elf>`
//! (not `-nographic`: its escape character eats byte 0x01).
#![no_std]
#![no_main]

mod clock;
mod epoch;
mod memory;
mod uart;

use braid::link::{Link, LinkConfig};
use braid::{Config, ErrorCode, Metadata, MetadataWriter, ReadError, WriteError};
use braid_embedded::{Clock, Resources, Runner, Stack, Stream};
use cortex_m_rt::entry;
use panic_halt as _;
use static_cell::StaticCell;

/// Streams (host's and ours), receive and send bytes per stream.
const STREAMS: usize = 4;
/// Streams the host may open at once; the last slot is for telemetry.
const HOST_STREAMS: usize = STREAMS - 1;
const RX: usize = 512;
const TX: usize = 512;
/// Link frames of up to 136 bytes, 4 unacknowledged in reliable mode.
type UartLink = Link<136, 4>;

type Mem = Resources<STREAMS, RX, TX>;
type FwStack = Stack<'static, STREAMS, RX, TX>;
type FwStream = Stream<'static, STREAMS, RX, TX>;
type FwRunner = Runner<'static, UartLink, STREAMS, RX, TX>;

/// In `.bss`, initialised at run time: `Resources::new()` is not all
/// zeros, so a `ConstStaticCell` would put it in `.data`, whose initial
/// image costs as much flash as the RAM it fills (6.4 KiB here).
static RESOURCES: StaticCell<Mem> = StaticCell::new();

const TYPE_ECHO: u32 = 1;
const TYPE_TELEMETRY: u32 = 2;
const TYPE_REPORT: u32 = 3;
const TELEMETRY_PERIOD_MS: u32 = 100;

#[entry]
fn main() -> ! {
    memory::paint();
    let resources = resources();
    // Setting up has a stack peak of its own: note it, then paint again,
    // so that the report can tell it from the main loop's.
    let setup_peak = memory::stack_peak().0;
    memory::paint();
    serve(resources, setup_peak)
}

/// The resources, initialised in their cell. A function of its own, so
/// that its stack (about 1 KiB: the compiler builds the small parts of
/// `Resources::new()` on the stack and copies them; the stream buffers,
/// all zeros, it clears in place) is not reserved for the whole life of
/// the firmware on top of the main loop's.
#[inline(never)]
fn resources() -> &'static mut Mem {
    RESOURCES.uninit().write(Resources::new())
}

/// Everything else, and the main loop. Not inlined into `main`, so that
/// its stack frame (the runner with its link, the tasks' buffers) is not
/// reserved while `resources` runs.
#[inline(never)]
fn serve(resources: &'static mut Mem, setup_peak: usize) -> ! {
    let epoch = epoch::next();
    let core = cortex_m::Peripherals::take().unwrap();
    let clock = clock::SysTickClock::start(core.SYST);
    let mut uart = uart::Uart::take().unwrap();

    let mut config = Config::server();
    config.max_inbound_streams = Some(HOST_STREAMS as u32);
    config.max_open_metadata = 64;
    let link = UartLink::new(LinkConfig::reliable(epoch));
    let (stack, mut runner) = braid_embedded::new_linked(resources, config, link);
    let mut app = App::new(stack, epoch, setup_peak);
    loop {
        // Over a link, read errors are counted and ignored, and writing
        // the UART cannot fail: nothing to handle here. `Step::Idle`'s
        // deadline is not needed either, since the loop never sleeps.
        let _ = runner.poll(&mut uart, clock.now());
        app.step(clock.millis(), &runner);
    }
}

/// A line of text in a fixed buffer, without `core::fmt` (it would cost
/// a few KiB of flash).
struct Line {
    buf: [u8; 200],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Line { buf: [0; 200], len: 0 }
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.raw(s.as_bytes())
    }

    fn raw(&mut self, s: &[u8]) -> &mut Self {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    fn num(&mut self, mut v: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.raw(&digits[i..])
    }

    fn hex(&mut self, v: u32) -> &mut Self {
        let mut digits = [0u8; 8];
        for (i, d) in digits.iter_mut().enumerate() {
            let nibble = (v >> (28 - 4 * i)) & 0xF;
            *d = if nibble < 10 { b'0' + nibble as u8 } else { b'a' + nibble as u8 - 10 };
        }
        self.raw(&digits)
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Text being written to a stream, resumed when the send buffer is full.
struct Outgoing {
    line: Line,
    sent: usize,
}

impl Outgoing {
    /// Write what is left; `Ok(true)` once all of it is queued.
    fn push(&mut self, stream: &mut FwStream) -> Result<bool, WriteError> {
        while self.sent < self.line.len {
            match stream.try_write(&self.line.bytes()[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(WriteError::WouldBlock) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// A stream the host opened, being served.
enum Task {
    /// Echo: what was read and not yet written back.
    Echo { stream: FwStream, buf: [u8; 64], start: usize, end: usize, eof: bool },
    /// One report line, then FIN.
    Report { stream: FwStream, out: Outgoing },
}

impl Task {
    /// Make progress; `false` once it is over (the stream is then dropped:
    /// finished streams are read to their end by the runner, others reset).
    fn step(&mut self) -> bool {
        match self {
            Task::Echo { stream, buf, start, end, eof } => loop {
                if *start < *end {
                    match stream.try_write(&buf[*start..*end]) {
                        Ok(n) => *start += n,
                        Err(WriteError::WouldBlock) => return true,
                        Err(_) => return false,
                    }
                } else if *eof {
                    let _ = stream.finish();
                    return false;
                } else {
                    match stream.try_read(buf) {
                        Ok(0) => *eof = true,
                        Ok(n) => (*start, *end) = (0, n),
                        Err(ReadError::WouldBlock) => return true,
                        Err(_) => return false,
                    }
                }
            },
            Task::Report { stream, out } => match out.push(stream) {
                Ok(true) => {
                    let _ = stream.finish();
                    false
                }
                Ok(false) => true,
                Err(_) => false,
            },
        }
    }
}

/// The telemetry stream of the current session.
struct Telemetry {
    stream: FwStream,
    seq: u32,
    skipped: u32,
    due_ms: u32,
    out: Option<Outgoing>,
}

struct App {
    stack: FwStack,
    epoch: u32,
    setup_peak: usize,
    /// One per stream the host may open.
    tasks: [Option<Task>; HOST_STREAMS],
    telemetry: Option<Telemetry>,
}

impl App {
    fn new(stack: FwStack, epoch: u32, setup_peak: usize) -> Self {
        App { stack, epoch, setup_peak, tasks: [const { None }; HOST_STREAMS], telemetry: None }
    }

    fn step(&mut self, ms: u32, runner: &FwRunner) {
        self.accept(ms, runner);
        for slot in &mut self.tasks {
            if slot.as_mut().is_some_and(|t| !t.step()) {
                *slot = None;
            }
        }
        self.telemetry(ms);
    }

    /// Take the host's new streams while a task slot is free.
    fn accept(&mut self, ms: u32, runner: &FwRunner) {
        while let Some(slot) = self.tasks.iter_mut().find(|t| t.is_none()) {
            let Ok(mut stream) = self.stack.try_accept() else { return };
            let mut meta = [0u8; 64];
            let kind = match stream.metadata(&mut meta) {
                Ok(Some(n)) => Metadata::parse(&meta[..n]).map(|m| m.stream_type).unwrap_or(u32::MAX),
                _ => TYPE_ECHO,
            };
            match kind {
                TYPE_ECHO => *slot = Some(Task::Echo { stream, buf: [0; 64], start: 0, end: 0, eof: false }),
                TYPE_REPORT => {
                    // The line is written where it stays, not built on the
                    // stack and moved: it is 200 bytes.
                    let out = Outgoing { line: Line::new(), sent: 0 };
                    if let Task::Report { out, .. } = slot.insert(Task::Report { stream, out }) {
                        report(&mut out.line, &self.stack, self.epoch, self.setup_peak, ms, runner);
                    }
                }
                _ => {
                    let _ = stream.reset(ErrorCode::application(1));
                }
            }
        }
    }
}

/// Write the report stream's line into `line`.
fn report(line: &mut Line, stack: &FwStack, epoch: u32, setup_peak: usize, ms: u32, runner: &FwRunner) {
    let (loop_peak, size) = memory::stack_peak();
    let link = runner.framing();
    let stats = link.stats();
    line.str("stack_peak_bytes=")
        .num(setup_peak.max(loop_peak) as u32)
        .str(" loop_stack_peak_bytes=")
        .num(loop_peak as u32)
        .str(" stack_size_bytes=")
        .num(size as u32)
        .str(" static_ram_bytes=")
        .num(memory::static_ram() as u32)
        .str(" flash_bytes=")
        .num(memory::flash() as u32)
        .str(" epoch=")
        .hex(epoch)
        .str(" sessions=")
        .num(stack.stats().sessions)
        .str(" frames_corrupt=")
        .num(stats.frames_corrupt)
        .str(" frames_retransmitted=")
        .num(stats.frames_retransmitted)
        .str(" uptime_ms=")
        .num(ms)
        .str("\n");
}

impl App {
    /// Open the telemetry stream once connected (again in every new
    /// session), and send a line every period.
    fn telemetry(&mut self, ms: u32) {
        let generation = self.stack.generation();
        if self.telemetry.as_ref().is_some_and(|t| t.stream.generation() != generation) {
            self.telemetry = None;
        }
        if self.telemetry.is_none() {
            if !self.stack.is_connected() {
                return;
            }
            let mut meta = [0u8; 4];
            let Ok(block) = MetadataWriter::new(&mut meta, TYPE_TELEMETRY).map(MetadataWriter::finish) else {
                return;
            };
            let Ok(stream) = self.stack.try_open_with(block) else { return };
            self.telemetry = Some(Telemetry { stream, seq: 0, skipped: 0, due_ms: ms, out: None });
        }
        let Some(t) = self.telemetry.as_mut() else { return };
        if ms.wrapping_sub(t.due_ms) < u32::MAX / 2 {
            t.due_ms = t.due_ms.wrapping_add(TELEMETRY_PERIOD_MS);
            if t.out.is_some() {
                // The previous line is still waiting for room: the host is
                // not reading. Count the line instead of queueing it.
                t.skipped += 1;
            } else {
                let out = t.out.insert(Outgoing { line: Line::new(), sent: 0 });
                out.line.str("seq=").num(t.seq).str(" ms=").num(ms).str(" skipped=").num(t.skipped).str("\n");
                t.seq += 1;
            }
        }
        if let Some(out) = t.out.as_mut() {
            match out.push(&mut t.stream) {
                Ok(true) => t.out = None,
                Ok(false) => {}
                // Reset by the host, or the session ended: a new session
                // opens a new one.
                Err(_) => t.out = None,
            }
        }
    }
}
