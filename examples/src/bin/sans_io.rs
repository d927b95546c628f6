//! # braid engine demo (sans-io)
//!
//! Two braid sessions, a client and a server, talk over a simulated network
//! link with 5 ms of latency each way, on a virtual clock. Nothing here
//! touches a socket or the system clock: braid's [`Session`] is *sans-io*.
//! It is a state machine that takes bytes and clock readings in and gives
//! bytes, events and deadlines out, and the program that owns it moves them.
//! (`--bin demo` shows the same protocol over real TCP through braid-tokio,
//! which drives the engine for you.)
//!
//! ```text
//! cargo run --release -p braid-examples --bin sans_io
//! BRAID_TRACE=1 cargo run --release -p braid-examples --bin sans_io   # every frame, both ends
//! ```
//!
//! ## How to drive a session
//!
//! The whole I/O loop is [`Net::turn`], [`Node::service`] and [`deliver`].
//! The `Session` docs describe the call protocol, and this is it in practice:
//!
//! - **inputs** feed what the outside world produced: `handle_input` (bytes
//!   that arrived) and `handle_timeout` (the clock reached `poll_timeout`);
//! - **commands** are what the application wants: `open`, `accept`, `read`,
//!   `write`, `finish`, `reset`, `ping`, `go_away`, ...;
//! - after either, **drain the polls in order**: `poll_transmit` until it
//!   returns 0 (put each chunk on the wire), `poll_event` until `None` (let
//!   the application react), `poll_trace` (only with tracing on), and then
//!   `poll_timeout` (when to call `handle_timeout` next).
//!
//! (`braid::pair::Pair` packs the same loop, with no latency, for tests; the
//! demo spells it out so that you can see every call.)
//!
//! The scenario: a handshake, a request/response with metadata, a 256 KiB
//! upload under small flow-control windows, three streams at once, a
//! download cancelled with an application error code, a PING, and a
//! graceful GOAWAY. Every transfer is checked; any failure exits with status
//! 1, so the demo doubles as a smoke test.

use braid::frame::{flags, FrameType};
use braid::trace::{Direction, FrameDetail, FrameRecord};
use braid::{
    ArrayStorage, CloseReason, Config, Duration, ErrorCode, Event, Instant, Metadata, MetadataWriter,
    OpenError, ReadError, Session, SessionState, StreamId, WriteError,
};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::process::ExitCode;

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

/// One-way latency of the simulated link, so a round trip is 10 ms.
const LATENCY: Duration = Duration::from_millis(5);

/// Each session keeps its streams and their buffers in this fixed storage:
/// 8 streams with an 8 KiB receive buffer and a 4 KiB send buffer each, all
/// inline in the `Session` value. The engine never allocates.
type Store = ArrayStorage<8, { 8 * 1024 }, { 4 * 1024 }>;

/// A small per-stream receive window, so flow control is visible: the
/// receiver grants more (WNDINC) each time the application has read half.
const STREAM_WINDOW: u32 = 4 * 1024;
/// The session-wide receive window shared by all streams.
const SESSION_WINDOW: u32 = 16 * 1024;

const BULK_BYTES: u64 = 256 * 1024;
const FANOUT_BYTES: u64 = 10 * 1024;
/// What the server offers on a download (the client cancels long before).
const DOWNLOAD_BYTES: u64 = 1024 * 1024;
/// The client cancels the download after reading this much.
const CANCEL_AFTER: u64 = 10 * 1024;
/// The application error code of that cancellation. Codes at or above
/// `0x8000_0000` belong to the application.
const CANCELLED: ErrorCode = ErrorCode::application(1);

/// An echo stops reading while this much of its reply is waiting to be written.
const ECHO_BACKLOG: usize = 4096;

/// Safety net: a phase that has not finished after this much virtual time
/// has hung.
const PHASE_LIMIT: Duration = Duration::from_secs(60);

fn config(base: Config) -> Config {
    Config {
        stream_window: STREAM_WINDOW,
        // Window auto-tuning off, so the windows stay small.
        stream_window_max: STREAM_WINDOW,
        session_window: SESSION_WINDOW,
        session_window_max: SESSION_WINDOW,
        // The peer may have 4 streams open here at once; 4 slots stay free for it.
        max_inbound_streams: Some(4),
        max_open_metadata: 256,
        ..base
    }
    .with_trace(true)
}

// ---------------------------------------------------------------------------
// Errors: every failure ends the demo with a message and exit status 1
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct DemoError(String);

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Res<T> = Result<T, DemoError>;

/// Fail the demo with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(DemoError(format!($($msg)+)));
        }
    };
}

/// Adds what was being done to an engine error.
trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Res<T>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Res<T> {
        self.map_err(|e| DemoError(format!("{what}: {e}")))
    }
}

// ---------------------------------------------------------------------------
// Printing helpers
// ---------------------------------------------------------------------------

/// A virtual-clock reading, printed in milliseconds.
struct At(Instant);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>9.3} ms", self.0.as_micros() as f64 / 1000.0)
    }
}

fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_micros() as f64 / 1000.0)
}

/// A narration line: what an application saw or did.
fn say(now: Instant, side: &str, msg: impl fmt::Display) {
    println!("{}  {side:<6}  * {msg}", At(now));
}

/// Prints the frame trace, with a cap on rows per phase.
///
/// Both sessions record every frame they send and receive; by default each
/// frame is shown once, by its sender (`->`), so a row's time is when it
/// left. With `BRAID_TRACE=1` every record of both ends is printed, the
/// receiver's (`<-`) too, with no cap.
struct Tracer {
    everything: bool,
    cap: usize,
    shown: usize,
    /// Frames not printed this phase, by class: (frames, payload bytes).
    hidden: BTreeMap<&'static str, (u64, u64)>,
    /// All frames sent this phase, by class.
    phase: BTreeMap<&'static str, u64>,
}

impl Tracer {
    fn record(&mut self, now: Instant, side: &str, r: &FrameRecord) {
        if r.direction == Direction::Sent {
            *self.phase.entry(frame_class(r)).or_default() += 1;
        } else if !self.everything {
            return;
        }
        if self.everything || self.shown < self.cap {
            self.shown += 1;
            println!("{}  {side:<6}  {}", At(now), r.to_string().trim_end());
        } else {
            let e = self.hidden.entry(frame_class(r)).or_default();
            e.0 += 1;
            e.1 += u64::from(r.header.length);
        }
    }

    fn start_phase(&mut self, cap: usize) {
        self.cap = cap;
        self.shown = 0;
        self.hidden.clear();
        self.phase.clear();
    }

    fn end_phase(&mut self) {
        if self.hidden.is_empty() {
            return;
        }
        let total: u64 = self.hidden.values().map(|v| v.0).sum();
        let parts: Vec<String> =
            self.hidden.iter().map(|(k, (n, bytes))| format!("{n} {k} ({bytes} B payload)")).collect();
        println!("{:>12}  ... {total} more frames not shown: {}", "", parts.join(", "));
        println!("{:>12}      (BRAID_TRACE=1 prints every frame)", "");
    }
}

/// A frame's type, with WNDINC split by what it grants.
fn frame_class(r: &FrameRecord) -> &'static str {
    if r.detail == FrameDetail::Preface {
        return "PREFACE";
    }
    match r.header.kind {
        FrameType::WndInc if r.header.stream != StreamId::SESSION => "WNDINC(stream)",
        FrameType::WndInc if r.header.has(flags::CREDIT) => "WNDINC(credit)",
        FrameType::WndInc => "WNDINC(session)",
        kind => kind.name(),
    }
}

// ---------------------------------------------------------------------------
// Stream types and metadata
// ---------------------------------------------------------------------------

/// What a stream is for. The opener puts it in the SYN's metadata as the
/// stream type, and the server picks its behaviour from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The server sends back what it reads.
    Echo = 1,
    /// The server checks and counts what it reads, then answers with a summary.
    Upload = 2,
    /// The server sends a long stream of bytes.
    Download = 3,
}

impl Kind {
    fn from_type(t: u32) -> Option<Kind> {
        [Kind::Echo, Kind::Upload, Kind::Download].into_iter().find(|k| *k as u32 == t)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Echo => "echo",
            Kind::Upload => "upload",
            Kind::Download => "download",
        }
    }
}

/// Build a metadata block (stream type plus headers) into `buf`.
fn metadata<'a>(buf: &'a mut [u8], kind: Kind, headers: &[(&str, &str)]) -> Res<&'a [u8]> {
    let bad = |e| DemoError(format!("building metadata: {e:?}"));
    let mut w = MetadataWriter::new(buf, kind as u32).map_err(bad)?;
    for (name, value) in headers {
        w = w.header(name.as_bytes(), value.as_bytes()).map_err(bad)?;
    }
    Ok(w.finish())
}

/// `type 1 (echo), path=/echo, ...`
fn describe(m: &Metadata<'_>) -> String {
    let kind = Kind::from_type(m.stream_type).map_or("unknown", Kind::name);
    let mut s = format!("type {} ({kind})", m.stream_type);
    for (name, value) in m.headers() {
        s += &format!(", {}={}", String::from_utf8_lossy(name), String::from_utf8_lossy(value));
    }
    s
}

/// The test data of stream `seed`: a byte sequence where a lost, duplicated
/// or reordered byte shows up as a mismatch.
fn pattern(seed: u32, offset: u64) -> u8 {
    let x = (offset ^ u64::from(seed) << 40).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8 ^ (offset >> 8) as u8
}

// ---------------------------------------------------------------------------
// The application: what each side does with each stream
// ---------------------------------------------------------------------------

/// What a side received on a stream should be.
enum Expect {
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// `pattern(seed, ..)`, of this length if known.
    Pattern { seed: u32, len: Option<u64> },
}

/// One stream, from one side's point of view.
struct Job {
    label: String,
    // Sending: queued bytes first, then generated pattern bytes.
    out: Vec<u8>,
    gen_seed: u32,
    gen_pos: u64,
    gen_end: u64,
    sent: u64,
    finish_when_sent: bool,
    finished: bool,
    /// `write` returned WouldBlock: wait for `Event::Writable`.
    blocked: bool,
    // Receiving.
    expect: Expect,
    inbox: Vec<u8>,
    received: u64,
    mismatch: Option<u64>,
    eof: bool,
    meta_checked: bool,
    peer_meta: Option<String>,
    // Behaviour.
    echo: bool,
    reply_on_eof: bool,
    cancel_after: Option<u64>,
    // How it ended, if by a reset: the code and whether the peer sent it.
    reset: Option<(ErrorCode, bool)>,
}

impl Job {
    fn new(label: impl Into<String>) -> Job {
        Job {
            label: label.into(),
            out: Vec::new(),
            gen_seed: 0,
            gen_pos: 0,
            gen_end: 0,
            sent: 0,
            finish_when_sent: false,
            finished: false,
            blocked: false,
            expect: Expect::Exact(Vec::new()),
            inbox: Vec::new(),
            received: 0,
            mismatch: None,
            eof: false,
            meta_checked: false,
            peer_meta: None,
            echo: false,
            reply_on_eof: false,
            cancel_after: None,
            reset: None,
        }
    }

    fn send(mut self, bytes: &[u8]) -> Job {
        self.out.extend_from_slice(bytes);
        self
    }

    fn send_pattern(mut self, seed: u32, len: u64) -> Job {
        (self.gen_seed, self.gen_pos, self.gen_end) = (seed, 0, len);
        self
    }

    fn then_finish(mut self) -> Job {
        self.finish_when_sent = true;
        self
    }

    fn expect(mut self, expect: Expect) -> Job {
        self.expect = expect;
        self
    }

    fn has_output(&self) -> bool {
        !self.out.is_empty() || self.gen_pos < self.gen_end
    }

    /// The next bytes to offer to `write`.
    fn next_chunk<'a>(&'a self, scratch: &'a mut [u8]) -> &'a [u8] {
        if !self.out.is_empty() {
            return &self.out;
        }
        let n = scratch.len().min((self.gen_end - self.gen_pos) as usize);
        for (i, b) in scratch[..n].iter_mut().enumerate() {
            *b = pattern(self.gen_seed, self.gen_pos + i as u64);
        }
        &scratch[..n]
    }

    /// `write` took `n` bytes of the last chunk.
    fn advance(&mut self, n: usize) {
        if self.out.is_empty() {
            self.gen_pos += n as u64;
        } else {
            self.out.drain(..n);
        }
        self.sent += n as u64;
    }

    fn take(&mut self, data: &[u8]) {
        match &self.expect {
            Expect::Exact(_) => self.inbox.extend_from_slice(data),
            Expect::Pattern { seed, .. } => {
                let seed = *seed;
                if self.mismatch.is_none() {
                    let bad = data
                        .iter()
                        .enumerate()
                        .position(|(i, b)| *b != pattern(seed, self.received + i as u64));
                    self.mismatch = bad.map(|i| self.received + i as u64);
                }
            }
        }
        self.received += data.len() as u64;
        if self.echo {
            self.out.extend_from_slice(data);
        }
    }

    /// Whether what arrived is what was expected (call once the stream ended).
    fn verify(&self, side: &str, id: StreamId) -> Res<()> {
        let what = format!("{side}, stream {id} ({})", self.label);
        ensure!(
            self.mismatch.is_none(),
            "{what}: byte {} differs from what was sent",
            self.mismatch.unwrap_or(0)
        );
        match &self.expect {
            Expect::Exact(want) => {
                let first_diff = self.inbox.iter().zip(want).position(|(a, b)| a != b);
                ensure!(
                    &self.inbox == want,
                    "{what}: received {} bytes, expected {} (first difference at byte {:?})",
                    self.inbox.len(),
                    want.len(),
                    first_diff
                );
            }
            Expect::Pattern { len: Some(len), .. } => {
                ensure!(self.received == *len, "{what}: received {} bytes, expected {len}", self.received);
            }
            Expect::Pattern { len: None, .. } => {}
        }
        Ok(())
    }

    /// Write whatever is queued until the send buffer is full, then finish
    /// if everything is out and that was the plan.
    fn pump(&mut self, s: &mut Session<Store>, id: StreamId, side: &str) -> Res<()> {
        let mut scratch = [0u8; 4096];
        while self.has_output() && !self.blocked && self.reset.is_none() {
            let result = s.write(id, self.next_chunk(&mut scratch));
            match result {
                Ok(n) => self.advance(n),
                // The send buffer is full; Event::Writable says when it has room.
                Err(WriteError::WouldBlock) => self.blocked = true,
                Err(e) => return Err(DemoError(format!("{side}: write on stream {id}: {e}"))),
            }
        }
        if !self.has_output() && self.finish_when_sent && !self.finished && self.reset.is_none() {
            s.finish(id).context(format!("{side}: finish stream {id}"))?;
            self.finished = true;
        }
        Ok(())
    }

    /// An echo should not read more while its reply is stuck: leaving the
    /// data unread lets flow control slow the sender down.
    fn may_read(&self) -> bool {
        !(self.echo && self.out.len() >= ECHO_BACKLOG)
    }
}

/// One side's application: its streams and what it has seen.
struct App {
    side: &'static str,
    jobs: BTreeMap<StreamId, Job>,
    connected: bool,
    pongs: Vec<Duration>,
    goaway: Option<(StreamId, ErrorCode)>,
    closed: Option<CloseReason>,
    resets: Vec<(StreamId, ErrorCode, bool)>,
}

impl App {
    fn new(side: &'static str) -> App {
        App {
            side,
            jobs: BTreeMap::new(),
            connected: false,
            pongs: Vec::new(),
            goaway: None,
            closed: None,
            resets: Vec::new(),
        }
    }

    fn job(&self, id: StreamId) -> Res<&Job> {
        self.jobs.get(&id).ok_or_else(|| DemoError(format!("{}: no record of stream {id}", self.side)))
    }

    /// React to one event. Every variant of `Event` is here.
    fn on_event(&mut self, s: &mut Session<Store>, now: Instant, event: Event) -> Res<()> {
        let side = self.side;
        match event {
            Event::Connected => {
                self.connected = true;
                say(now, side, "Event::Connected: the peer's SETTINGS arrived, streams may open");
            }
            Event::Incoming => self.accept_incoming(s, now)?,
            Event::Readable(id) | Event::Finished(id) => self.read_stream(s, now, id)?,
            Event::Writable(id) => {
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.blocked = false;
                    job.pump(s, id, side)?;
                }
                // An echo may have stopped reading while blocked.
                self.read_stream(s, now, id)?;
            }
            Event::Reset { id, code, remote } => {
                let by = if remote { "the peer" } else { "this side (the peer broke a stream rule)" };
                say(now, side, format!("Event::Reset on stream {id}: code {code}, by {by}"));
                self.resets.push((id, code, remote));
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.reset = Some((code, remote));
                }
            }
            Event::OpenReady => say(now, side, "Event::OpenReady: stream credit or a slot freed up"),
            Event::Pong { rtt } => {
                say(now, side, format!("Event::Pong: round trip {}", millis(rtt)));
                self.pongs.push(rtt);
            }
            Event::GoAway { last_stream, code } => {
                let debug = String::from_utf8_lossy(s.remote_debug()).into_owned();
                say(
                    now,
                    side,
                    format!("Event::GoAway: code {code}, last stream {last_stream}, debug {debug:?}"),
                );
                self.goaway = Some((last_stream, code));
            }
            Event::Closed(reason) => {
                let kind = if reason.is_graceful() { "graceful" } else { "NOT graceful" };
                say(now, side, format!("Event::Closed ({kind}): {reason}"));
                self.closed = Some(reason);
            }
        }
        Ok(())
    }

    /// The server side: look at each waiting stream's metadata, then accept
    /// it with a reply, or refuse it.
    fn accept_incoming(&mut self, s: &mut Session<Store>, now: Instant) -> Res<()> {
        let side = self.side;
        while let Some(id) = s.incoming() {
            let mut buf = [0u8; 256];
            let len = s.metadata(id, &mut buf).context(format!("{side}: metadata of stream {id}"))?;
            let meta = match len {
                Some(n) => Some(Metadata::parse(&buf[..n]).map_err(|e| DemoError(format!("{side}: {e:?}")))?),
                None => None,
            };
            let Some((meta, kind)) = meta.and_then(|m| Some((m, Kind::from_type(m.stream_type)?))) else {
                s.refuse(ErrorCode::REFUSED).context(format!("{side}: refuse"))?;
                say(now, side, format!("refused stream {id}: no known stream type"));
                continue;
            };
            let path = String::from_utf8_lossy(meta.header(b"path").unwrap_or(b"?")).into_owned();
            say(now, side, format!("incoming stream {id}: metadata {}", describe(&meta)));
            let mut reply_buf = [0u8; 64];
            let reply = metadata(&mut reply_buf, kind, &[("status", "ok")])?;
            let accepted = s.accept_with(reply).context(format!("{side}: accept_with"))?;
            ensure!(accepted == id, "{side}: accepted stream {accepted}, expected {id}");
            say(now, side, format!("accept_with(type {}, status=ok) -> stream {id}", kind as u32));
            let mut job = Job::new(format!("{} {path}", kind.name()));
            match kind {
                Kind::Echo => job.echo = true,
                Kind::Upload => {
                    job = job.expect(Expect::Pattern { seed: id.0, len: None });
                    job.reply_on_eof = true;
                }
                Kind::Download => job = job.send_pattern(id.0, DOWNLOAD_BYTES).then_finish(),
            }
            job.meta_checked = true;
            job.pump(s, id, side)?;
            self.jobs.insert(id, job);
            // Data that came with the SYN is announced by a Readable event.
        }
        Ok(())
    }

    /// Read what a stream has: its reply metadata first, then data, then
    /// the end of stream (`Ok(0)`).
    fn read_stream(&mut self, s: &mut Session<Store>, now: Instant, id: StreamId) -> Res<()> {
        let side = self.side;
        let Some(job) = self.jobs.get_mut(&id) else { return Ok(()) };
        if job.eof || job.reset.is_some() {
            return Ok(()); // e.g. Event::Finished after the end was already read
        }
        if !job.meta_checked {
            // The acceptor's reply metadata, if any: read it before `read`
            // skips past it.
            job.meta_checked = true;
            let mut buf = [0u8; 256];
            if let Some(n) = s.metadata(id, &mut buf).context(format!("{side}: metadata of stream {id}"))? {
                let m = Metadata::parse(&buf[..n]).map_err(|e| DemoError(format!("{side}: {e:?}")))?;
                say(now, side, format!("stream {id}: reply metadata {}", describe(&m)));
                job.peer_meta = Some(describe(&m));
            }
        }
        let mut buf = [0u8; 2048];
        while job.may_read() {
            match s.read(id, &mut buf) {
                Ok(0) => {
                    job.eof = true;
                    say(
                        now,
                        side,
                        format!("stream {id}: end of stream (peer's FIN) after {} bytes", job.received),
                    );
                    if job.echo {
                        job.finish_when_sent = true;
                    }
                    if job.reply_on_eof {
                        let verdict = match job.mismatch {
                            None => "pattern ok".to_string(),
                            Some(at) => format!("MISMATCH at byte {at}"),
                        };
                        job.out.extend_from_slice(
                            format!("stored {} bytes, {verdict}", job.received).as_bytes(),
                        );
                        job.finish_when_sent = true;
                    }
                    break;
                }
                Ok(n) => {
                    job.take(&buf[..n]);
                    if job.cancel_after.is_some_and(|limit| job.received >= limit) {
                        say(
                            now,
                            side,
                            format!("stream {id}: read {} bytes, enough: reset({CANCELLED})", job.received),
                        );
                        s.reset(id, CANCELLED).context(format!("{side}: reset stream {id}"))?;
                        job.reset = Some((CANCELLED, false));
                        break;
                    }
                }
                Err(ReadError::WouldBlock) => break,
                Err(e) => return Err(DemoError(format!("{side}: read on stream {id}: {e}"))),
            }
        }
        job.pump(s, id, side)
    }
}

// ---------------------------------------------------------------------------
// The I/O loop: sessions, the simulated link and the virtual clock
// ---------------------------------------------------------------------------

/// One direction of the simulated link: chunks of bytes and when each
/// arrives. It keeps their order, like TCP.
#[derive(Default)]
struct Wire {
    in_flight: VecDeque<(Instant, Vec<u8>)>,
}

impl Wire {
    fn send(&mut self, now: Instant, bytes: &[u8]) {
        self.in_flight.push_back((now + LATENCY, bytes.to_vec()));
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.front().map(|(at, _)| *at)
    }

    fn arrived(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.next_arrival()? <= now {
            return self.in_flight.pop_front().map(|(_, bytes)| bytes);
        }
        None
    }
}

/// One end: a session and the application that owns it.
struct Node {
    name: &'static str,
    session: Session<Store>,
    app: App,
}

impl Node {
    /// What the owner of a session does after every input or command, in
    /// the order the `Session` docs give. The application's reactions to
    /// events are commands too, so this repeats until it has none.
    fn service(&mut self, now: Instant, wire: &mut Wire, tracer: &mut Tracer) -> Res<()> {
        loop {
            // 1. poll_transmit until 0: every chunk goes on the wire.
            self.transmit(now, wire, tracer)?;
            // 2. poll_event until None: the application reacts.
            let mut reacted = false;
            while let Some(event) = self.session.poll_event() {
                self.app.on_event(&mut self.session, now, event)?;
                reacted = true;
            }
            // 3. poll_trace until None.
            self.drain_trace(now, tracer);
            // 4. poll_timeout is read by `Net::turn` when it picks the next instant.
            if !reacted {
                return Ok(());
            }
        }
    }

    fn transmit(&mut self, now: Instant, wire: &mut Wire, tracer: &mut Tracer) -> Res<()> {
        let mut buf = [0u8; 32 * 1024];
        loop {
            // With tracing on, the session stops writing frames while its
            // 8-record trace queue is full: drain it before every call.
            self.drain_trace(now, tracer);
            let n = self.session.poll_transmit(now, &mut buf);
            if n == 0 {
                let needed = self.session.transmit_needed();
                ensure!(
                    needed == 0,
                    "{}: next frame needs {needed} bytes, buffer has {}",
                    self.name,
                    buf.len()
                );
                self.drain_trace(now, tracer);
                return Ok(());
            }
            wire.send(now, &buf[..n]);
        }
    }

    /// Print or count every trace record; returns how many there were.
    fn drain_trace(&mut self, now: Instant, tracer: &mut Tracer) -> usize {
        let mut n = 0;
        while let Some(record) = self.session.poll_trace() {
            tracer.record(now, self.name, &record);
            n += 1;
        }
        n
    }

    /// Start the application's side of a stream: remember it and write.
    fn start(&mut self, id: StreamId, mut job: Job) -> Res<()> {
        job.pump(&mut self.session, id, self.name)?;
        self.app.jobs.insert(id, job);
        Ok(())
    }
}

/// Feed every chunk that has arrived on `wire` by `now` into `to`, then
/// service it (its output goes on `back`). Returns whether anything arrived.
fn deliver(now: Instant, wire: &mut Wire, to: &mut Node, back: &mut Wire, tracer: &mut Tracer) -> Res<bool> {
    let mut any = false;
    while let Some(bytes) = wire.arrived(now) {
        let mut pos = 0;
        while pos < bytes.len() {
            let used = to.session.handle_input(now, &bytes[pos..]);
            pos += used;
            // handle_input stops early when the trace queue is full: drain
            // it and pass the rest again.
            let drained = to.drain_trace(now, tracer);
            ensure!(
                used > 0 || drained > 0,
                "{}: handle_input took none of {} bytes with an empty trace queue",
                to.name,
                bytes.len() - pos
            );
        }
        to.service(now, back, tracer)?;
        any = true;
    }
    Ok(any)
}

/// Call `handle_timeout` if the session's deadline has come.
fn fire_timer(now: Instant, node: &mut Node, wire: &mut Wire, tracer: &mut Tracer) -> Res<()> {
    if node.session.poll_timeout().is_some_and(|at| at <= now) {
        node.session.handle_timeout(now);
        node.service(now, wire, tracer)?;
    }
    Ok(())
}

/// Both ends, the link between them and the virtual clock.
struct Net {
    now: Instant,
    client: Node,
    server: Node,
    to_server: Wire,
    to_client: Wire,
    tracer: Tracer,
    phase_start: Instant,
}

impl Net {
    fn new(trace_everything: bool) -> Net {
        let now = Instant::ZERO;
        Net {
            now,
            client: Node {
                name: "client",
                session: Session::new(config(Config::client()), Store::new(), now),
                app: App::new("client"),
            },
            server: Node {
                name: "server",
                session: Session::new(config(Config::server()), Store::new(), now),
                app: App::new("server"),
            },
            to_server: Wire::default(),
            to_client: Wire::default(),
            tracer: Tracer {
                everything: trace_everything,
                cap: 0,
                shown: 0,
                hidden: BTreeMap::new(),
                phase: BTreeMap::new(),
            },
            phase_start: now,
        }
    }

    /// One step of the event loop. Returns `false` when nothing can happen
    /// any more: no bytes in flight and no timer set.
    fn turn(&mut self) -> Res<bool> {
        let now = self.now;
        // Output: what the applications asked for since the last turn leaves now.
        self.client.service(now, &mut self.to_server, &mut self.tracer)?;
        self.server.service(now, &mut self.to_client, &mut self.tracer)?;
        // Input: bytes that have arrived by now.
        let a = deliver(now, &mut self.to_server, &mut self.server, &mut self.to_client, &mut self.tracer)?;
        let b = deliver(now, &mut self.to_client, &mut self.client, &mut self.to_server, &mut self.tracer)?;
        if a || b {
            return Ok(true); // let the caller look before the clock moves
        }
        // Time: nothing more happens at this instant, so jump to the next
        // arrival or timer deadline (poll_timeout).
        let next = [
            self.to_server.next_arrival(),
            self.to_client.next_arrival(),
            self.client.session.poll_timeout(),
            self.server.session.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return Ok(false) };
        self.now = self.now.max(next);
        fire_timer(self.now, &mut self.client, &mut self.to_server, &mut self.tracer)?;
        fire_timer(self.now, &mut self.server, &mut self.to_client, &mut self.tracer)?;
        Ok(true)
    }

    /// Turn until `done` holds.
    fn run_until(&mut self, what: &str, done: impl Fn(&Net) -> bool) -> Res<()> {
        let deadline = self.now + PHASE_LIMIT;
        for _ in 0..10_000_000 {
            let progressed = self.turn()?;
            if done(self) {
                return Ok(());
            }
            ensure!(progressed, "stalled while waiting for {what}: nothing in flight and no timer set");
            ensure!(
                self.now < deadline,
                "{what} did not happen within {} s of virtual time",
                PHASE_LIMIT.as_millis() / 1000
            );
        }
        Err(DemoError(format!("{what}: the event loop spins without the clock moving")))
    }

    /// Send what both sides' commands produced, at the current instant,
    /// without delivering anything or moving the clock.
    fn flush(&mut self) -> Res<()> {
        self.client.service(self.now, &mut self.to_server, &mut self.tracer)?;
        self.server.service(self.now, &mut self.to_client, &mut self.tracer)
    }

    /// Turn until nothing is in flight either way.
    fn settle(&mut self) -> Res<()> {
        self.run_until("the link to go quiet", |n| {
            n.to_server.in_flight.is_empty() && n.to_client.in_flight.is_empty()
        })
    }

    fn phase(&mut self, title: &str, trace_rows: usize) {
        println!("\n=== {title} ===");
        self.tracer.start_phase(trace_rows);
        self.phase_start = self.now;
    }

    /// End a phase: summarise the trace, and check no stream was left behind.
    fn end_phase(&mut self) -> Res<()> {
        self.tracer.end_phase();
        let counts: Vec<String> = self.tracer.phase.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "{:>12}  phase took {} of virtual time; frames on the wire: {}",
            "",
            millis(self.now - self.phase_start),
            counts.join(", ")
        );
        let (c, s) = (self.client.session.streams_in_use(), self.server.session.streams_in_use());
        ensure!(c == 0 && s == 0, "streams left in use after the phase: client {c}, server {s}");
        Ok(())
    }

    fn say(&self, side: &str, msg: impl fmt::Display) {
        say(self.now, side, msg);
    }
}

// ---------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------

fn handshake(net: &mut Net) -> Res<()> {
    net.phase("1. Handshake: each side sends its preface and SETTINGS", 20);
    println!(
        "Each session is {} bytes, streams and buffers included: a plain value, no heap.",
        std::mem::size_of::<Session<Store>>()
    );
    // Nothing can open before the peer's SETTINGS arrive.
    let early = net.client.session.open();
    ensure!(early == Err(OpenError::Handshaking), "open() before the handshake gave {early:?}");
    net.say("client", "open() before the handshake: Err(Handshaking), as it should be");

    net.run_until("both sides to connect", |n| n.client.app.connected && n.server.app.connected)?;
    // The SETTINGS ACKs are still in flight; they give each side a first RTT.
    net.settle()?;
    net.end_phase()?;

    let (c, s) = (net.client.session.local_settings(), net.server.session.local_settings());
    let learned =
        net.client.session.peer_settings().ok_or_else(|| DemoError("client: no peer SETTINGS".into()))?;
    ensure!(
        learned == s,
        "the client's view of the server's SETTINGS differs from what the server announced"
    );
    println!("What each side announced (its Config, clamped to its storage):");
    println!("  {:<34}{:>10}{:>10}", "", "client", "server");
    let rows: [(&str, u32, u32); 5] = [
        ("receive window per stream (bytes)", c.initial_stream_window, s.initial_stream_window),
        ("receive window, whole session", c.session_window, s.session_window),
        ("largest frame payload", c.max_frame_size, s.max_frame_size),
        ("streams the peer may open (credit)", c.stream_credit, s.stream_credit),
        ("largest metadata block", c.max_open_metadata, s.max_open_metadata),
    ];
    for (name, a, b) in rows {
        println!("  {name:<34}{a:>10}{b:>10}");
    }
    println!("  {:<34}{:>10}{:>10}", "idle timeout (0 = none)", c.idle_timeout_ms, s.idle_timeout_ms);
    let (crtt, srtt) = (net.client.session.rtt(), net.server.session.rtt());
    ensure!(crtt.is_some() && srtt.is_some(), "the SETTINGS exchange gave no RTT");
    println!(
        "RTT measured by the SETTINGS exchange: client {}, server {}",
        millis(crtt.unwrap_or_default()),
        millis(srtt.unwrap_or_default())
    );
    Ok(())
}

fn request_response(net: &mut Net) -> Res<StreamId> {
    net.phase("2. Request/response: a stream opened with metadata", 20);
    let body = b"hello, braid! please echo this back";
    let mut buf = [0u8; 64];
    let meta = metadata(&mut buf, Kind::Echo, &[("path", "/echo"), ("content-type", "text/plain")])?;
    let id = net.client.session.open_with(meta).context("client: open_with")?;
    net.say(
        "client",
        format!("open_with(type 1, path=/echo) -> stream {id}; write {} bytes; finish", body.len()),
    );
    let job = Job::new("request /echo").send(body).then_finish().expect(Expect::Exact(body.to_vec()));
    net.client.start(id, job)?;

    net.run_until("the echo reply", |n| n.client.app.jobs.get(&id).is_some_and(|j| j.eof))?;
    net.settle()?;
    net.end_phase()?;

    let client = net.client.app.job(id)?;
    client.verify("client", id)?;
    ensure!(
        client.peer_meta.as_deref() == Some("type 1 (echo), status=ok"),
        "client: reply metadata was {:?}",
        client.peer_meta
    );
    let server = net.server.app.job(id)?;
    ensure!(
        server.received == body.len() as u64 && server.eof && server.finished,
        "server: echo stream incomplete"
    );
    println!(
        "Checked: the reply metadata arrived, the {} bytes came back intact, both sides sent FIN.",
        body.len()
    );
    Ok(id)
}

fn bulk_upload(net: &mut Net) -> Res<StreamId> {
    net.phase("3. Bulk upload: 256 KiB client -> server through 4 KiB stream windows", 14);
    let mut buf = [0u8; 64];
    let size = BULK_BYTES.to_string();
    let meta = metadata(&mut buf, Kind::Upload, &[("path", "/upload"), ("size", &size)])?;
    let id = net.client.session.open_with(meta).context("client: open_with")?;
    net.say("client", format!("open_with(type 2, path=/upload) -> stream {id}; writing {BULK_BYTES} bytes"));
    let reply = format!("stored {BULK_BYTES} bytes, pattern ok");
    let job = Job::new("upload 256 KiB")
        .send_pattern(id.0, BULK_BYTES)
        .then_finish()
        .expect(Expect::Exact(reply.clone().into_bytes()));
    net.client.start(id, job)?;

    let start = net.now;
    // Look inside once: the client has written more than the window allows.
    net.flush()?;
    let info =
        net.client.session.stream_info(id).ok_or_else(|| DemoError("client: stream 3 vanished".into()))?;
    ensure!(
        info.send_window == 0 && info.unsent > 0,
        "client: expected a window-blocked upload, got {info:?}"
    );
    net.say(
        "client",
        format!(
            "stream_info({id}): send window {} bytes, {} bytes waiting in the send buffer: \
             blocked until the server's WNDINC",
            info.send_window, info.unsent
        ),
    );
    net.run_until("the upload to be stored", |n| n.server.app.jobs.get(&id).is_some_and(|j| j.eof))?;
    let took = net.now - start;
    net.run_until("the upload's reply", |n| n.client.app.jobs.get(&id).is_some_and(|j| j.eof))?;
    net.settle()?;
    net.end_phase()?;

    let server = net.server.app.job(id)?;
    if let Some(at) = server.mismatch {
        return Err(DemoError(format!("server: upload byte {at} differs from what the client sent")));
    }
    ensure!(
        server.received == BULK_BYTES,
        "server: upload has {} bytes, expected {BULK_BYTES}",
        server.received
    );
    net.client.app.job(id)?.verify("client", id)?;
    let rate = BULK_BYTES as f64 / 1024.0 / (took.as_micros() as f64 / 1e6);
    let rtt = LATENCY.saturating_mul(2);
    let bound = f64::from(STREAM_WINDOW) / 1024.0 / (rtt.as_micros() as f64 / 1e6);
    println!(
        "Checked: all {BULK_BYTES} bytes arrived in order and intact; the reply was {reply:?}.\n\
         The upload took {} of virtual time, {rate:.0} KiB/s: at most one {} KiB window can be in\n\
         flight per {} round trip ({bound:.0} KiB/s), and each WNDINC reopened it. A bigger window\n\
         (Config::stream_window, with the receive buffer to back it) moves the same bytes faster.",
        millis(took),
        STREAM_WINDOW / 1024,
        millis(rtt),
    );
    Ok(id)
}

fn fan_out(net: &mut Net) -> Res<Vec<StreamId>> {
    net.phase("4. Three streams at once: their frames interleave on the wire", 24);
    let mut ids = Vec::new();
    for path in ["/fan/a", "/fan/b", "/fan/c"] {
        let mut buf = [0u8; 64];
        let meta = metadata(&mut buf, Kind::Echo, &[("path", path)])?;
        let id = net.client.session.open_with(meta).context("client: open_with")?;
        let job = Job::new(format!("echo {path}"))
            .send_pattern(id.0, FANOUT_BYTES)
            .then_finish()
            .expect(Expect::Pattern { seed: id.0, len: Some(FANOUT_BYTES) });
        net.client.start(id, job)?;
        ids.push(id);
    }
    net.say("client", format!("opened streams {ids:?}, writing {FANOUT_BYTES} bytes on each"));

    net.run_until("three echoes", |n| ids.iter().all(|id| n.client.app.jobs.get(id).is_some_and(|j| j.eof)))?;
    net.settle()?;
    net.end_phase()?;
    for id in &ids {
        net.client.app.job(*id)?.verify("client", *id)?;
    }
    println!("Checked: each of the three streams echoed its {FANOUT_BYTES} bytes intact.");
    Ok(ids)
}

fn cancelled_download(net: &mut Net) -> Res<StreamId> {
    net.phase("5. Reset: the client cancels a download with an application error code", 20);
    let mut buf = [0u8; 64];
    let meta = metadata(&mut buf, Kind::Download, &[("path", "/download")])?;
    let id = net.client.session.open_with(meta).context("client: open_with")?;
    net.say(
        "client",
        format!("open_with(type 3, path=/download) -> stream {id}; finish at once (no request body)"),
    );
    let mut job =
        Job::new("download (cancelled)").then_finish().expect(Expect::Pattern { seed: id.0, len: None });
    job.cancel_after = Some(CANCEL_AFTER);
    net.client.start(id, job)?;

    net.run_until("the server to see the reset", |n| {
        n.server.app.jobs.get(&id).is_some_and(|j| j.reset.is_some())
    })?;
    net.settle()?;
    net.end_phase()?;

    let server = net.server.app.job(id)?;
    ensure!(
        server.reset == Some((CANCELLED, true)),
        "server: expected Event::Reset with {CANCELLED} from the peer, got {:?}",
        server.reset
    );
    ensure!(
        net.server.app.resets.contains(&(id, CANCELLED, true)),
        "server: no Event::Reset for stream {id}"
    );
    let client = net.client.app.job(id)?;
    client.verify("client", id)?;
    println!(
        "Checked: the server saw Event::Reset {{ code: {CANCELLED}, remote: true }} and stopped writing.\n\
         The server's application wrote {} bytes; the client read {} of them, intact, before it\n\
         cancelled. The reset dropped the other {} (still in the server's send buffer, or in flight).",
        server.sent,
        client.received,
        server.sent - client.received
    );
    Ok(id)
}

fn ping(net: &mut Net) -> Res<Duration> {
    net.phase("6. PING: measure the round trip", 10);
    net.client.session.ping().context("client: ping")?;
    net.say("client", "ping()");
    net.run_until("the PONG", |n| !n.client.app.pongs.is_empty())?;
    net.settle()?;
    net.end_phase()?;
    let rtt = net.client.app.pongs[0];
    ensure!(rtt == LATENCY.saturating_mul(2), "PING RTT {} is not twice the link latency", millis(rtt));
    println!(
        "Checked: the RTT is {} = 2 x {} one-way latency, on the virtual clock.",
        millis(rtt),
        millis(LATENCY)
    );
    Ok(rtt)
}

fn graceful_goaway(net: &mut Net) -> Res<StreamId> {
    net.phase("7. GOAWAY: the server shuts down gracefully while a stream is open", 30);
    let (first, second) = (&b"the last request, part one; "[..], &b"part two, sent after the GOAWAY"[..]);
    let mut buf = [0u8; 64];
    let meta = metadata(&mut buf, Kind::Echo, &[("path", "/echo")])?;
    let id = net.client.session.open_with(meta).context("client: open_with")?;
    net.say("client", format!("open_with(path=/echo) -> stream {id}; write part one, do not finish yet"));
    let whole = [first, second].concat();
    net.client.start(id, Job::new("request /echo across GOAWAY").send(first).expect(Expect::Exact(whole)))?;
    let part = first.len() as u64;
    net.run_until("part one to arrive", |n| n.server.app.jobs.get(&id).is_some_and(|j| j.received >= part))?;

    net.server.session.go_away(ErrorCode::NO_ERROR, b"server restarting").context("server: go_away")?;
    net.say("server", "go_away(NO_ERROR, \"server restarting\"): open streams may finish, no new ones");
    net.run_until("the client to see the GOAWAY", |n| n.client.app.goaway.is_some())?;

    let refused = net.client.session.open();
    ensure!(refused == Err(OpenError::GoingAway), "client: open() after GOAWAY gave {refused:?}");
    net.say("client", "open() now fails with Err(GoingAway); finishing the stream that is open");
    let client = net.client.app.jobs.get_mut(&id).ok_or_else(|| DemoError("client: stream lost".into()))?;
    client.out.extend_from_slice(second);
    client.finish_when_sent = true;
    client.pump(&mut net.client.session, id, "client")?;

    net.run_until("both sessions to close", |n| {
        n.client.app.closed.is_some() && n.server.app.closed.is_some()
    })?;
    net.settle()?;
    net.end_phase()?;

    net.client.app.job(id)?.verify("client", id)?;
    for node in [&net.client, &net.server] {
        let reason = node.app.closed.ok_or_else(|| DemoError(format!("{}: not closed", node.name)))?;
        ensure!(reason.is_graceful(), "{}: the session ended badly: {reason}", node.name);
        let state = node.session.state();
        ensure!(state == SessionState::Closed, "{}: state {state:?} after Event::Closed", node.name);
    }
    println!("Checked: the open stream completed after the GOAWAY, then both sessions closed gracefully.");
    Ok(id)
}

// ---------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------

fn summary(net: &Net, rtt: Duration, wall: std::time::Duration) -> Res<()> {
    println!("\n=== Summary ===");
    println!("Streams (bytes are what each receiving application read):");
    println!(
        "  {:>6}  {:<28}{:>16}{:>16}  how it ended",
        "stream", "what", "client->server", "server->client"
    );
    for (id, c) in &net.client.app.jobs {
        let s = net.server.app.job(*id)?;
        let ended = match (c.reset, s.reset) {
            (Some((code, false)), _) => format!("reset by client, code {code}"),
            (_, Some((code, false))) => format!("reset by server, code {code}"),
            (Some((code, true)), _) | (_, Some((code, true))) => format!("reset, code {code}"),
            (None, None) if c.finished && c.eof && s.finished && s.eof => {
                "finished both ways (FIN, FIN)".into()
            }
            (None, None) => "STILL OPEN".into(),
        };
        println!("  {:>6}  {:<28}{:>14} B{:>14} B  {ended}", id.to_string(), c.label, s.received, c.received);
    }

    let (cs, ss) = (net.client.session.stats(), net.server.session.stats());
    println!("\nSession totals:");
    println!(
        "  {:<8}{:>12}{:>12}{:>12}{:>12}{:>14}{:>14}{:>8}",
        "", "frames out", "frames in", "bytes out", "bytes in", "payload out", "payload in", "opened"
    );
    for (name, st) in [("client", cs), ("server", ss)] {
        println!(
            "  {name:<8}{:>12}{:>12}{:>12}{:>12}{:>14}{:>14}{:>8}",
            st.frames_sent,
            st.frames_received,
            st.bytes_sent,
            st.bytes_received,
            st.data_sent,
            st.data_received,
            st.streams_opened
        );
    }
    ensure!(
        cs.bytes_sent == ss.bytes_received && ss.bytes_sent == cs.bytes_received,
        "bytes sent and received do not match: client {} -> server {}, server {} -> client {}",
        cs.bytes_sent,
        ss.bytes_received,
        ss.bytes_sent,
        cs.bytes_received
    );
    if cs.frames_sent != ss.frames_received || ss.frames_sent != cs.frames_received {
        println!("  (a frame that arrives after its receiver has closed is consumed but not counted)");
    }
    let smoothed = |n: &Node| n.session.rtt().map_or("-".to_string(), millis);
    println!(
        "  PING RTT {}; smoothed RTT client {}, server {}; link latency {} each way",
        millis(rtt),
        smoothed(&net.client),
        smoothed(&net.server),
        millis(LATENCY)
    );
    println!(
        "  virtual time {:.3} s; wall-clock time {:.1} ms",
        net.now.as_micros() as f64 / 1e6,
        wall.as_secs_f64() * 1000.0
    );
    Ok(())
}

fn run() -> Res<()> {
    let wall = std::time::Instant::now();
    let everything = std::env::var("BRAID_TRACE").is_ok_and(|v| !v.is_empty() && v != "0");
    println!("braid engine demo: a client and a server session over a simulated link");
    println!(
        "(latency {} each way, virtual clock). Rows: time, side, then '->' a frame it sent,",
        millis(LATENCY)
    );
    println!("'<-' a frame it received (BRAID_TRACE=1 only), or '*' what its application saw or did.");
    let mut net = Net::new(everything);

    handshake(&mut net)?;
    request_response(&mut net)?;
    bulk_upload(&mut net)?;
    fan_out(&mut net)?;
    cancelled_download(&mut net)?;
    let rtt = ping(&mut net)?;
    graceful_goaway(&mut net)?;
    summary(&net, rtt, wall.elapsed())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("\ndemo OK: every check passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndemo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
