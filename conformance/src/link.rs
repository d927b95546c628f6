//! The serial link layer (spec.md §14) under test.
//!
//! - [`Scripted`]: one [`Side`] (a `LinkedSession`) driven by hand-written
//!   link frames, with everything it sends decoded back into [`WireFrame`]s.
//! - [`LinkPair`]: two sides joined by a seeded faulty line ([`Faults`]:
//!   bit errors, lost spans, repeated spans, truncated frames, garbage), on
//!   a virtual clock, with [`Transfer`], a workload that moves seeded
//!   random bytes both ways on one stream and checks them byte for byte.

use braid::link::frame::{self, FrameError, Header, Kind, LinkId, SyncBody};
use braid::link::{LinkConfig, LinkEvent, LinkState, LinkedSession};
use braid::{ArrayStorage, Config, Duration, Event, Instant, Session, StreamId};
use std::collections::VecDeque;

/// The link MTU of the sides under test: one 128-byte DATA frame of the
/// session (8 + 128) per link frame.
pub const MTU: usize = 136;
/// The retransmission window of the sides under test.
pub const WINDOW: usize = 8;
/// Stream storage of the sessions under test.
pub type Store = ArrayStorage<4, 4096, 4096>;
/// One end: a session over a link.
pub type Side = LinkedSession<Store, MTU, WINDOW>;

/// A session configuration for `role` whose frames fit the link: at most
/// 128 data bytes per DATA frame.
#[must_use]
pub fn session_config(client: bool) -> Config {
    let mut c = if client { Config::client() } else { Config::server() };
    c.max_frame_size = 128;
    c
}

/// A fresh session for a side, created at `now`.
#[must_use]
pub fn session(client: bool, now: Instant) -> Session<Store> {
    Session::new(session_config(client), Store::new(), now)
}

/// A side with link configuration `link`, its session created at `now`.
#[must_use]
pub fn side(link: LinkConfig, client: bool, now: Instant) -> Side {
    Side::new(link, session(client, now))
}

// ----- randomness ----------------------------------------------------------

/// SplitMix64: a seed replays the same run on any machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole output is decided by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_million / 1_000_000`.
    pub fn chance(&mut self, per_million: u32) -> bool {
        self.below(1_000_000) < u64::from(per_million)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

// ----- frames on the wire ----------------------------------------------------

/// A link frame as it was read off the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFrame {
    /// Its header.
    pub header: Header,
    /// Its body.
    pub body: Vec<u8>,
}

impl WireFrame {
    /// The SYNC body, if this is a SYNC.
    #[must_use]
    pub fn sync(&self) -> Option<SyncBody> {
        (self.header.kind == Kind::Sync).then(|| SyncBody::parse(&self.body).ok()).flatten()
    }

    /// Whether this is a DATA frame.
    #[must_use]
    pub fn is_data(&self) -> bool {
        self.header.kind == Kind::Data
    }
}

/// Decode every frame of a wire transcript (the bytes between delimiters;
/// empty frames are skipped, and bytes after the last delimiter ignored).
#[must_use]
pub fn decode_all(wire: &[u8]) -> Vec<Result<WireFrame, FrameError>> {
    let mut out = Vec::new();
    let mut parts: Vec<&[u8]> = wire.split(|&b| b == 0).collect();
    parts.pop(); // after the last delimiter
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let mut buf = vec![0u8; part.len() + 8];
        out.push(
            frame::decode(part, &mut buf).map(|(header, body)| WireFrame { header, body: body.to_vec() }),
        );
    }
    out
}

/// Decode a transcript that must hold only valid frames.
#[must_use]
pub fn frames(wire: &[u8]) -> Vec<WireFrame> {
    decode_all(wire).into_iter().map(|f| f.expect("the link sent a frame that does not decode")).collect()
}

/// One link frame on the wire: COBS, delimiter.
#[must_use]
pub fn encode(header: Header, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; frame::max_wire_len(body.len())];
    let n = frame::encode(header, body, &mut out).expect("room");
    out.truncate(n);
    out
}

/// A DATA frame.
#[must_use]
pub fn data(seq: u8, ack: u8, body: &[u8]) -> Vec<u8> {
    encode(Header::new(Kind::Data, seq, ack, 0), body)
}

/// An ACK frame.
#[must_use]
pub fn ack(ack: u8, rej: bool) -> Vec<u8> {
    encode(Header::new(Kind::Ack, 0, ack, if rej { frame::flags::REJ } else { 0 }), &[])
}

/// A SYNC frame.
#[must_use]
pub fn sync(body: &SyncBody) -> Vec<u8> {
    encode(Header::new(Kind::Sync, 0, 0, 0), &body.to_bytes())
}

/// The SYNC body a peer with `id` sends: REPLY as given, ECHO of `echo`.
#[must_use]
pub fn sync_body(id: LinkId, echo: Option<LinkId>, reply: bool, reliable: bool) -> SyncBody {
    SyncBody { version: frame::VERSION, reply, reliable, id, echo, mtu: MTU as u16, window: WINDOW as u8 }
}

// ----- one side and a scripted peer ------------------------------------------

/// What one step of a [`Scripted`] side produced.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// The frames it sent.
    pub frames: Vec<WireFrame>,
    /// Its raw output.
    pub wire: Vec<u8>,
    /// The session's events.
    pub events: Vec<Event>,
    /// The link's events.
    pub link_events: Vec<LinkEvent>,
}

impl Step {
    /// The SYNC bodies sent.
    #[must_use]
    pub fn syncs(&self) -> Vec<SyncBody> {
        self.frames.iter().filter_map(WireFrame::sync).collect()
    }

    /// The DATA frames sent.
    #[must_use]
    pub fn data(&self) -> Vec<&WireFrame> {
        self.frames.iter().filter(|f| f.is_data()).collect()
    }
}

/// One side under test, and the peer's identity the script plays.
pub struct Scripted {
    /// The side.
    pub side: Side,
    /// The virtual clock.
    pub now: Instant,
    /// The scripted peer's epoch and session counter.
    pub peer: LinkId,
    /// Most bytes per `handle_input` call (1: byte by byte).
    pub chunk: usize,
}

impl Scripted {
    /// A side with `link` as a client at time zero, facing a scripted peer
    /// with epoch `0x5EED`.
    #[must_use]
    pub fn new(link: LinkConfig) -> Self {
        Scripted {
            side: side(link, true, Instant::ZERO),
            now: Instant::ZERO,
            peer: LinkId { epoch: 0x5EED, session: 0 },
            chunk: usize::MAX,
        }
    }

    /// Feed `input`, then drain every output and event.
    pub fn step(&mut self, input: &[u8]) -> Step {
        for piece in input.chunks(self.chunk.clamp(1, input.len().max(1))) {
            assert_eq!(self.side.handle_input(self.now, piece), piece.len());
        }
        self.drain()
    }

    /// Drain every output and event.
    pub fn drain(&mut self) -> Step {
        let mut step = Step::default();
        let mut out = [0u8; 4096];
        loop {
            let n = self.side.poll_transmit(self.now, &mut out);
            if n == 0 {
                break;
            }
            step.wire.extend_from_slice(&out[..n]);
        }
        step.frames = frames(&step.wire);
        while let Some(e) = self.side.poll_event() {
            step.events.push(e);
        }
        while let Some(e) = self.side.poll_link_event() {
            step.link_events.push(e);
        }
        step
    }

    /// Advance the clock, fire due timers, drain.
    pub fn advance(&mut self, by: Duration) -> Step {
        self.now += by;
        if self.side.poll_timeout().is_some_and(|t| t <= self.now) {
            self.side.handle_timeout(self.now);
        }
        self.drain()
    }

    /// Bring the link up with the scripted peer (as the peer that answers
    /// second) and return the first step after it: the side's answering
    /// SYNC and its session's first DATA frame (preface and SETTINGS).
    pub fn up(&mut self, reliable: bool) -> Step {
        let _ = self.drain();
        let mine = self.id();
        let step = self.step(&sync(&sync_body(self.peer, Some(mine), true, reliable)));
        assert_eq!(self.side.link().state(), LinkState::Up, "{step:?}");
        step
    }

    /// The side's current link id.
    #[must_use]
    pub fn id(&self) -> LinkId {
        self.side.link().local_id()
    }
}

// ----- two sides over a faulty line -------------------------------------------

/// What the line does to the frames that cross it. Each probability is per
/// million: per byte for bit errors, per frame for the rest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// A byte gets one random bit flipped.
    pub bit_error: u32,
    /// A random span of the frame (its delimiter maybe included) is lost.
    pub drop: u32,
    /// A random span of the frame is sent twice in a row.
    pub duplicate: u32,
    /// The frame is cut short: the rest of it and its delimiter are lost.
    pub truncate: u32,
    /// 1 to 40 random bytes (zeros included) come before the frame.
    pub garbage: u32,
}

impl Faults {
    /// A clean line.
    pub const NONE: Faults = Faults { bit_error: 0, drop: 0, duplicate: 0, truncate: 0, garbage: 0 };

    /// Apply the faults to `chunk`, frame by frame, appending the result to
    /// `out`. Returns whether anything was changed.
    pub fn apply(&self, rng: &mut Rng, chunk: &[u8], out: &mut VecDeque<u8>) -> bool {
        let mut touched = false;
        for frame in chunk.split_inclusive(|&b| b == 0) {
            let mut f = frame.to_vec();
            if rng.chance(self.garbage) {
                let n = 1 + rng.below(40) as usize;
                out.extend(rng.bytes(n));
                touched = true;
            }
            if rng.chance(self.truncate) && f.len() > 1 {
                f.truncate(rng.below(f.len() as u64 - 1) as usize + 1);
                if f.last() == Some(&0) {
                    f.pop();
                }
                touched = true;
            }
            if rng.chance(self.drop) && !f.is_empty() {
                let at = rng.below(f.len() as u64) as usize;
                let n = 1 + rng.below((f.len() - at) as u64) as usize;
                f.drain(at..at + n);
                touched = true;
            }
            if rng.chance(self.duplicate) && !f.is_empty() {
                let at = rng.below(f.len() as u64) as usize;
                let n = 1 + rng.below((f.len() - at) as u64) as usize;
                let copy: Vec<u8> = f[at..at + n].to_vec();
                f.splice(at + n..at + n, copy);
                touched = true;
            }
            if self.bit_error > 0 {
                for b in &mut f {
                    if rng.chance(self.bit_error) {
                        *b ^= 1 << rng.below(8);
                        touched = true;
                    }
                }
            }
            out.extend(f);
        }
        touched
    }
}

/// Two sides joined by a faulty line, on a virtual clock.
pub struct LinkPair {
    /// The first side (the session's client).
    pub a: Side,
    /// The second side (the session's server).
    pub b: Side,
    /// The virtual clock.
    pub now: Instant,
    /// Time per [`round`](Self::round).
    pub tick: Duration,
    /// What the line does, a to b and b to a.
    pub faults: [Faults; 2],
    /// Most bytes per `handle_input` call; 0 picks a random size each time.
    pub chunk: usize,
    /// Everything each side put on the line, before the faults.
    pub sent: [Vec<u8>; 2],
    /// Everything each side received, after the faults.
    pub received: [Vec<u8>; 2],
    /// Link events seen, per side.
    pub link_events: [Vec<LinkEvent>; 2],
    rng: Rng,
    lines: [VecDeque<u8>; 2],
}

impl LinkPair {
    /// Two sides with the given link configurations, at time zero, with a
    /// clean line and random chunking from `seed`.
    #[must_use]
    pub fn new(a: LinkConfig, b: LinkConfig, seed: u64) -> Self {
        LinkPair {
            a: side(a, true, Instant::ZERO),
            b: side(b, false, Instant::ZERO),
            now: Instant::ZERO,
            tick: Duration::from_millis(1),
            faults: [Faults::NONE; 2],
            chunk: 0,
            sent: [Vec::new(), Vec::new()],
            received: [Vec::new(), Vec::new()],
            link_events: [Vec::new(), Vec::new()],
            rng: Rng::new(seed),
            lines: [VecDeque::new(), VecDeque::new()],
        }
    }

    /// The side `i` (0: a, 1: b).
    pub fn side(&mut self, i: usize) -> &mut Side {
        if i == 0 {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    /// One round: each side transmits (through the faults), each receives
    /// what is on its line, the clock advances by `tick` and due timers
    /// fire. Link events are collected; session events stay in the sessions.
    pub fn round(&mut self) {
        let mut out = [0u8; 2048];
        for i in 0..2 {
            loop {
                let now = self.now;
                let n = self.side(i).poll_transmit(now, &mut out);
                if n == 0 {
                    break;
                }
                self.sent[i].extend_from_slice(&out[..n]);
                let faults = self.faults[i];
                faults.apply(&mut self.rng, &out[..n], &mut self.lines[i]);
            }
        }
        for i in 0..2 {
            let bytes: Vec<u8> = self.lines[1 - i].drain(..).collect();
            self.received[i].extend_from_slice(&bytes);
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let chunk = if self.chunk == 0 { 1 + self.rng.below(64) as usize } else { self.chunk };
                let piece = &rest[..chunk.min(rest.len())];
                let now = self.now;
                assert_eq!(self.side(i).handle_input(now, piece), piece.len());
                rest = &rest[piece.len()..];
            }
            while let Some(e) = self.side(i).poll_link_event() {
                self.link_events[i].push(e);
            }
        }
        self.now += self.tick;
        for i in 0..2 {
            let now = self.now;
            if self.side(i).poll_timeout().is_some_and(|t| t <= now) {
                self.side(i).handle_timeout(now);
            }
        }
    }

    /// Rounds until `done` says so, at most `max` of them; returns whether
    /// `done` was reached.
    pub fn run(&mut self, max: usize, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        for _ in 0..max {
            if done(self) {
                return true;
            }
            self.round();
        }
        done(self)
    }

    /// Rounds until both links are up and both sessions connected.
    pub fn connect(&mut self) {
        let ok = self.run(2000, |p| {
            p.a.link().state() == LinkState::Up
                && p.b.link().state() == LinkState::Up
                && p.a.session().peer_settings().is_some()
                && p.b.session().peer_settings().is_some()
        });
        assert!(ok, "the pair did not connect");
    }
}

// ----- a workload --------------------------------------------------------------

/// Seeded random bytes moved both ways on one stream opened by side a, read
/// and compared byte for byte.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// What a writes and b must read.
    pub a_to_b: Vec<u8>,
    /// What b writes and a must read.
    pub b_to_a: Vec<u8>,
    written: [usize; 2],
    read: [Vec<u8>; 2],
    finished: [bool; 2],
    eof: [bool; 2],
    stream: [Option<StreamId>; 2],
    /// Session events seen, per side.
    pub events: [Vec<Event>; 2],
}

impl Transfer {
    /// `len` random bytes each way, from `seed`.
    #[must_use]
    pub fn new(len: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0xDA7A);
        Transfer {
            a_to_b: rng.bytes(len),
            b_to_a: rng.bytes(len),
            written: [0; 2],
            read: [Vec::new(), Vec::new()],
            finished: [false; 2],
            eof: [false; 2],
            stream: [None; 2],
            events: [Vec::new(), Vec::new()],
        }
    }

    /// Both directions arrived whole and ended.
    #[must_use]
    pub fn done(&self) -> bool {
        self.eof == [true; 2]
    }

    /// The bytes each side has read so far.
    #[must_use]
    pub fn read(&self, side: usize) -> &[u8] {
        &self.read[side]
    }

    /// Act on both sides' session events, write what fits, read what came.
    /// Panics if what was read is not a prefix of what was written.
    pub fn drive(&mut self, pair: &mut LinkPair) {
        for i in 0..2 {
            let s = pair.side(i).session_mut();
            while let Some(e) = s.poll_event() {
                self.events[i].push(e);
                match e {
                    // Both fail only if the session ended meanwhile.
                    Event::Connected if i == 0 && self.stream[0].is_none() => self.stream[0] = s.open().ok(),
                    Event::Incoming if i == 1 => self.stream[1] = s.accept().ok(),
                    _ => {}
                }
            }
            let Some(id) = self.stream[i] else { continue };
            let data = if i == 0 { &self.a_to_b } else { &self.b_to_a };
            while self.written[i] < data.len() {
                match s.write(id, &data[self.written[i]..]) {
                    Ok(n) if n > 0 => self.written[i] += n,
                    _ => break,
                }
            }
            if self.written[i] == data.len() && !self.finished[i] && s.finish(id).is_ok() {
                self.finished[i] = true;
            }
            let mut buf = [0u8; 1024];
            loop {
                match s.read(id, &mut buf) {
                    Ok(0) => {
                        self.eof[i] = true;
                        break;
                    }
                    Ok(n) => self.read[i].extend_from_slice(&buf[..n]),
                    Err(_) => break,
                }
            }
            let want = if i == 0 { &self.b_to_a } else { &self.a_to_b };
            let got = &self.read[i];
            assert!(
                got.len() <= want.len() && got[..] == want[..got.len()],
                "side {i} read bytes that were never written"
            );
        }
    }
}
