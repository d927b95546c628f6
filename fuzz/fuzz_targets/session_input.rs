//! One `Session` fed arbitrary peer bytes, in arbitrary chunkings, with the
//! application's polls, timeouts and a few commands interleaved.
//!
//! Input: `[cfg0][cfg1][k][k plan bytes][wire bytes...]`.
//! - `cfg0`: bit 0 role (0 server, 1 client); bit 1 prepend a valid preface
//!   and SETTINGS; bits 2–5 trace, idle timeout, small flood budget, fixed
//!   windows; bits 6–7 the storage shape (`braid_fuzz::Shape`).
//! - `cfg1`: bits 0–1 the `poll_transmit` buffer size; bits 2–3 which SETTINGS
//!   the prefix carries; bit 4 a SETTINGS ACK after it; bit 5 skip the first
//!   drain (input arrives before the session ever transmitted).
//! - each plan byte (used in turn, cycling) takes the next chunk of wire bytes
//!   (low 3 bits: 1, 2, 3, 7, 8, 16, 64 or all) and then does one action
//!   (high 5 bits, see `act`).
//!
//! Two identical sessions run side by side: one gets each chunk whole, the
//! other byte by byte; their output, events, traces and reads must be equal
//! ([S-3.3]). Checked after every step: `handle_input` never consumes more
//! than given (and all of it unless the trace queue filled, or after the
//! end), `streams_in_use() <= capacity`, no stream buffer or window beyond
//! its storage, ended <=> `close_reason()` set, the reason never changes,
//! `Closed` is the last event, and everything sent passes `OutputChecker`.
#![no_main]

use braid::frame::{Frame, Settings, PREFACE};
use braid::trace::{Direction, FrameRecord};
use braid::{
    ArrayStorage, CloseReason, ErrorCode, Event, Instant, MetadataWriter, ReadError, Role, Session,
    SessionState, StreamId,
};
use braid_fuzz::{fill_pattern, session_config, Knobs, OutputChecker, Shape, TxView};
use libfuzzer_sys::fuzz_target;

const CHUNKS: [usize; 8] = [1, 2, 3, 7, 8, 16, 64, usize::MAX];
const TX_BUFS: [usize; 4] = [128, 200, 1024, 16384];

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (c0, c1) = (data[0], data[1]);
    let k = usize::from(data[2] % 32);
    let plan_end = (3 + k).min(data.len());
    let plan = &data[3..plan_end];
    let wire = &data[plan_end..];

    let role = if c0 & 1 == 0 { Role::Server } else { Role::Client };
    let knobs = Knobs {
        trace: c0 & 4 != 0,
        idle: c0 & 8 != 0,
        small_flood: c0 & 16 != 0,
        fixed_windows: c0 & 32 != 0,
    };
    let shape = Shape::from_bits(c0 >> 6);
    let setup = Setup { role, knobs, shape, tx_buf: TX_BUFS[usize::from(c1 & 3)], first_drain: c1 & 32 == 0 };

    let mut input = Vec::with_capacity(wire.len() + 64);
    if c0 & 2 != 0 {
        input.extend_from_slice(&PREFACE);
        push_frame(&mut input, &Frame::Settings(peer_settings(c1 >> 2)));
        if c1 & 16 != 0 {
            push_frame(&mut input, &Frame::SettingsAck);
        }
    }
    input.extend_from_slice(wire);

    match shape {
        Shape::Tiny => run::<2, 128, 128>(&setup, plan, &input),
        Shape::Small => run::<4, 256, 256>(&setup, plan, &input),
        Shape::Medium => run::<4, 1024, 256>(&setup, plan, &input),
        Shape::One => run::<1, 64, 64>(&setup, plan, &input),
    }
});

struct Setup {
    role: Role,
    knobs: Knobs,
    shape: Shape,
    tx_buf: usize,
    first_drain: bool,
}

fn push_frame(out: &mut Vec<u8>, f: &Frame<'_>) {
    let at = out.len();
    out.resize(at + f.encoded_len(), 0);
    f.emit(&mut out[at..]).expect("sized to fit");
}

/// The SETTINGS a fuzzed peer announces in the prefix.
fn peer_settings(sel: u8) -> Settings {
    match sel & 3 {
        0 => Settings {
            initial_stream_window: 64,
            max_frame_size: 64,
            stream_credit: 2,
            session_window: 256,
            max_open_metadata: 32,
            idle_timeout_ms: 0,
        },
        1 => Settings::DEFAULT,
        2 => Settings {
            initial_stream_window: 0,
            max_frame_size: 64,
            stream_credit: 0,
            session_window: 0,
            max_open_metadata: 0,
            idle_timeout_ms: 0,
        },
        _ => Settings {
            initial_stream_window: 0x7FFF_FFFF,
            max_frame_size: 0xFF_FFFF,
            stream_credit: 0x7FFF_FFFF,
            session_window: 0x7FFF_FFFF,
            max_open_metadata: 0xFFFF,
            idle_timeout_ms: 1,
        },
    }
}

/// What one side did and saw since the last comparison.
#[derive(Debug, PartialEq, Eq)]
enum Log {
    Event(Event),
    Trace(FrameRecord),
    Read(StreamId, Result<Vec<u8>, ReadError>),
    Meta(StreamId, Option<Vec<u8>>),
    Command(&'static str, bool),
}

struct Side<const N: usize, const RX: usize, const TX: usize> {
    s: Session<ArrayStorage<N, RX, TX>>,
    trace: bool,
    tx_buf: usize,
    checker: OutputChecker,
    out: Vec<u8>,
    log: Vec<Log>,
    known: Vec<StreamId>,
    consumed: u64,
    sent_records: u64,
    closed_event: bool,
    reason: Option<CloseReason>,
}

impl<const N: usize, const RX: usize, const TX: usize> Side<N, RX, TX> {
    fn new(setup: &Setup) -> Self {
        let config = session_config(setup.role, setup.shape, setup.knobs);
        Side {
            s: Session::new(config, ArrayStorage::new(), Instant::ZERO),
            trace: setup.knobs.trace,
            tx_buf: setup.tx_buf,
            checker: OutputChecker::new(setup.role),
            out: Vec::new(),
            log: Vec::new(),
            known: Vec::new(),
            consumed: 0,
            sent_records: 0,
            closed_event: false,
            reason: None,
        }
    }

    fn ended(&self) -> bool {
        matches!(self.s.state(), SessionState::Closing | SessionState::Closed)
    }

    fn feed(&mut self, now: Instant, bytes: &[u8], bytewise: bool) {
        if bytewise {
            for b in bytes {
                self.feed_piece(now, core::slice::from_ref(b));
            }
        } else {
            self.feed_piece(now, bytes);
        }
    }

    fn feed_piece(&mut self, now: Instant, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let was_ended = self.ended();
            let n = self.s.handle_input(now, bytes);
            assert!(n <= bytes.len(), "handle_input consumed {n} of {} bytes", bytes.len());
            self.consumed += n as u64;
            if was_ended {
                assert_eq!(n, bytes.len(), "input after the end must be consumed and ignored");
            }
            if n < bytes.len() {
                assert!(self.trace, "handle_input stopped short ({n} of {}) without tracing", bytes.len());
                let drained = self.drain_trace();
                assert!(
                    drained > 0,
                    "handle_input stopped short ({n} of {}) with no trace to drain",
                    bytes.len()
                );
            }
            bytes = &bytes[n..];
        }
    }

    fn drain_trace(&mut self) -> usize {
        let mut n = 0;
        while let Some(r) = self.s.poll_trace() {
            assert!(self.trace, "trace record without tracing");
            if r.direction == Direction::Sent {
                self.sent_records += 1;
            }
            self.log.push(Log::Trace(r));
            n += 1;
            assert!(n <= 64, "trace queue holds more than its capacity");
        }
        n
    }

    fn transmit(&mut self, now: Instant) -> bool {
        let mut buf = vec![0u8; self.tx_buf];
        let mut any = false;
        for round in 0.. {
            assert!(round < 100_000, "poll_transmit never returned 0");
            let view = TxView {
                peer_max_frame: self.s.peer_settings().map(|p| p.max_frame_size),
                peer_goaway: self.s.remote_go_away().is_some(),
                ended: self.s.close_reason().is_some(),
            };
            let n = self.s.poll_transmit(now, &mut buf);
            assert!(n <= buf.len());
            let chunk: Vec<u8> = if n > 0 {
                buf[..n].to_vec()
            } else {
                let need = self.s.transmit_needed();
                if need == 0 {
                    break;
                }
                assert!(need > buf.len(), "transmit_needed {need} fits the {}-byte buffer", buf.len());
                assert!(need <= 16 + 0xFFFF, "transmit_needed {need} is absurd");
                let mut big = vec![0u8; need];
                let m = self.s.poll_transmit(now, &mut big);
                assert!(m > 0, "poll_transmit wrote nothing into the {need} bytes transmit_needed asked for");
                big.truncate(m);
                big
            };
            if let Err(e) = self.checker.check(&chunk, view) {
                panic!("{e}\nchunk: {chunk:02x?}");
            }
            self.out.extend_from_slice(&chunk);
            any = true;
        }
        any
    }

    fn events(&mut self) -> bool {
        let mut any = false;
        let mut n = 0;
        while let Some(e) = self.s.poll_event() {
            assert!(!self.closed_event, "event {e:?} after Event::Closed");
            if let Event::Closed(r) = e {
                assert_eq!(Some(r), self.s.close_reason(), "Closed event vs close_reason()");
                self.closed_event = true;
            }
            self.log.push(Log::Event(e));
            any = true;
            n += 1;
            assert!(n < 10_000, "poll_event never returned None");
        }
        any
    }

    /// The documented drain order, until nothing more comes out.
    fn drain(&mut self, now: Instant) {
        for round in 0.. {
            assert!(round < 10_000, "session never went quiet");
            let sent = self.transmit(now);
            let evs = self.events();
            let traced = self.drain_trace() > 0;
            if !(sent || evs || traced) {
                break;
            }
        }
    }

    fn check(&mut self) {
        let s = &self.s;
        assert!(s.streams_in_use() <= N, "{} streams in use > capacity {N}", s.streams_in_use());
        assert_eq!(
            self.ended(),
            s.close_reason().is_some(),
            "state {:?} with close reason {:?}",
            s.state(),
            s.close_reason()
        );
        if let Some(prev) = self.reason {
            assert_eq!(s.close_reason(), Some(prev), "close reason changed after the end");
        }
        self.reason = s.close_reason();
        if self.ended() {
            assert_eq!(s.poll_timeout(), None, "a timer after the end");
        }
        assert_eq!(s.stats().bytes_received, self.consumed, "stats.bytes_received");
        assert_eq!(s.stats().bytes_sent, self.checker.bytes, "stats.bytes_sent");
        assert_eq!(s.stats().frames_sent, self.checker.frames, "stats.frames_sent");
        if self.trace && self.checker.bytes > 0 {
            // One record per frame sent, plus the preface; none lost.
            assert_eq!(self.sent_records, self.checker.frames + 1, "sent frames vs trace records");
        }
        for &id in &self.known {
            if let Some(i) = s.stream_info(id) {
                assert!(i.readable <= RX, "{id:?}: {} readable > buffer {RX}", i.readable);
                assert!(i.unsent <= TX, "{id:?}: {} unsent > buffer {TX}", i.unsent);
                assert!(i.recv_window <= i.recv_window_size, "{id:?}: {i:?}");
                assert!(
                    i.readable + i.recv_window as usize <= RX,
                    "{id:?}: window {} + readable {} exceed the {RX}-byte buffer",
                    i.recv_window,
                    i.readable
                );
            }
        }
    }

    fn remember(&mut self, id: StreamId) {
        if self.known.len() >= 32 {
            self.known.remove(0);
        }
        self.known.push(id);
    }

    fn accept_all(&mut self, reply: bool) {
        let mut block = [0u8; 16];
        let meta = MetadataWriter::new(&mut block, 7).and_then(|w| w.header(b"ok", b"1")).map(|w| w.finish());
        for _ in 0..N + 1 {
            let r = match (reply, meta) {
                (true, Ok(m)) => self.s.accept_with(m),
                _ => self.s.accept(),
            };
            let Ok(id) = r else { break };
            let mut buf = [0u8; 64];
            let m = match self.s.metadata(id, &mut buf) {
                Ok(Some(n)) => Some(buf[..n].to_vec()),
                _ => None,
            };
            self.log.push(Log::Meta(id, m));
            self.remember(id);
        }
    }

    fn read_all(&mut self) {
        let mut buf = [0u8; 48];
        for id in self.known.clone() {
            for _ in 0..64 {
                let r = self.s.read(id, &mut buf);
                let done = !matches!(r, Ok(n) if n > 0);
                self.log.push(Log::Read(id, r.map(|n| buf[..n].to_vec())));
                if done {
                    break;
                }
            }
        }
    }

    fn write(&mut self, id: StreamId, len: usize) {
        let mut data = vec![0u8; len];
        fill_pattern(id.0, 0, &mut data);
        let r = self.s.write(id, &data);
        self.log.push(Log::Command("write", r.is_ok()));
    }

    /// One application action (the high 5 bits of a plan byte).
    fn act(&mut self, now: Instant, action: u8, p: u8) {
        let pick = |known: &[StreamId]| known.get(usize::from(p & 3) % known.len().max(1)).copied();
        match action {
            20 => {
                self.accept_all(p & 1 != 0);
                self.read_all();
            }
            21 => self.read_all(),
            22 => {
                let mut block = [0u8; 40];
                let r = if p & 1 != 0 {
                    let m = MetadataWriter::new(&mut block, 0xB5)
                        .and_then(|w| w.header(b"path", b"/x"))
                        .map(|w| w.finish())
                        .expect("fits");
                    self.s.open_with(m)
                } else {
                    self.s.open()
                };
                self.log.push(Log::Command("open", r.is_ok()));
                if let Ok(id) = r {
                    self.remember(id);
                    self.write(id, 50);
                }
            }
            23 => {
                for id in self.known.clone() {
                    self.write(id, 100);
                }
            }
            24 => {
                if let Some(id) = pick(&self.known) {
                    let r = self.s.finish(id);
                    self.log.push(Log::Command("finish", r.is_ok()));
                }
            }
            25 => {
                if let Some(id) = pick(&self.known) {
                    let r = self.s.reset(id, ErrorCode::CANCEL);
                    self.log.push(Log::Command("reset", r.is_ok()));
                }
            }
            26 => {
                let r = self.s.ping();
                self.log.push(Log::Command("ping", r.is_ok()));
            }
            27 => {
                let debug = [b'g'; 70];
                let r = self.s.go_away(ErrorCode::NO_ERROR, &debug[..usize::from(p & 7) * 10]);
                self.log.push(Log::Command("go_away", r.is_ok()));
            }
            28 => {
                let r = self.s.go_away(ErrorCode::PROTOCOL_ERROR, &[b'x'; 64]);
                self.log.push(Log::Command("go_away_error", r.is_ok()));
            }
            29 => self.s.close(),
            30 => {
                let r = self.s.refuse(ErrorCode::REFUSED);
                self.log.push(Log::Command("refuse", r.is_ok()));
            }
            31 => self.s.handle_eof(now),
            _ => {}
        }
    }

    fn timeout(&mut self, now: Instant, always: bool) {
        if always || self.s.poll_timeout().is_some_and(|t| t <= now) {
            self.s.handle_timeout(now);
        }
    }
}

fn compare<const N: usize, const RX: usize, const TX: usize>(
    a: &mut Side<N, RX, TX>,
    b: &mut Side<N, RX, TX>,
) {
    assert_eq!(a.out, b.out, "output differs between whole and byte-by-byte input");
    assert_eq!(a.log, b.log, "events/reads/traces differ between whole and byte-by-byte input");
    assert_eq!(a.s.state(), b.s.state());
    assert_eq!(a.s.close_reason(), b.s.close_reason());
    assert_eq!(a.s.stats(), b.s.stats());
    assert_eq!(a.s.streams_in_use(), b.s.streams_in_use());
    a.out.clear();
    b.out.clear();
    a.log.clear();
    b.log.clear();
}

fn run<const N: usize, const RX: usize, const TX: usize>(setup: &Setup, plan: &[u8], input: &[u8]) {
    let mut a = Side::<N, RX, TX>::new(setup);
    let mut b = Side::<N, RX, TX>::new(setup);
    let mut now = Instant::ZERO;
    if setup.first_drain {
        a.drain(now);
        b.drain(now);
    }
    let plan: &[u8] = if plan.is_empty() { &[0x07] } else { plan };
    let mut pos = 0;
    let mut step = 0;
    while pos < input.len() {
        let p = plan[step % plan.len()];
        step += 1;
        let end = pos.saturating_add(CHUNKS[usize::from(p & 7)]).min(input.len());
        a.feed(now, &input[pos..end], false);
        b.feed(now, &input[pos..end], true);
        pos = end;

        let action = p >> 3;
        let advance = match action {
            15 => Some((1, false)),
            16 => Some((250, false)),
            17 => Some((600, false)),
            18 => Some((11_000, false)),
            19 => Some((0, true)),
            _ => None,
        };
        if let Some((ms, always)) = advance {
            now += braid::Duration::from_millis(ms);
            a.timeout(now, always);
            b.timeout(now, always);
        }
        a.act(now, action, p);
        b.act(now, action, p);
        if action != 14 {
            a.drain(now);
            b.drain(now);
        }
        a.check();
        b.check();
        compare(&mut a, &mut b);
    }

    // Wind down: read what is left, let every timer fire, then end of input.
    for side in [&mut a, &mut b] {
        side.drain(now);
        side.read_all();
        side.drain(now);
        side.check();
    }
    compare(&mut a, &mut b);
    now += braid::Duration::from_secs(20);
    for side in [&mut a, &mut b] {
        side.timeout(now, false);
        side.drain(now);
        side.check();
        if side.s.state() == SessionState::Handshaking {
            panic!("still handshaking 20 s after the last input: the handshake timeout did not fire");
        }
        side.s.handle_eof(now);
        side.drain(now);
        side.check();
        assert!(side.ended(), "not ended after handle_eof: {:?}", side.s.state());
        assert_eq!(side.s.state(), SessionState::Closed, "not Closed once drained after handle_eof");
        assert!(side.closed_event, "no Event::Closed after the end");
        let mut buf = [0u8; 256];
        assert_eq!(side.s.poll_transmit(now, &mut buf), 0, "output after Closed");
    }
    compare(&mut a, &mut b);
}
