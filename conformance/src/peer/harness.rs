//! The session under test and the raw peer that talks to it.

use super::frames::{cat, handshake_with, settings_ack};
use braid::frame::{Frame, Header, Settings, HEADER_LEN, MAX_PAYLOAD, PREFACE, PREFACE_LEN};
use braid::{
    ArrayStorage, CloseReason, Config, Duration, ErrorCode, Event, Instant, Session, SessionState, Storage,
    StreamId,
};

/// Slots in the default storage ([`Store`]).
pub const CAPACITY: usize = 4;
/// Receive buffer per stream in [`Store`].
pub const RX: usize = 4096;
/// Send buffer per stream in [`Store`].
pub const TX: usize = 4096;
/// The storage most sessions under test use: 4 streams of 4 KiB each way.
/// With the default config this announces a stream window of [`WINDOW`]
/// (4096 less the 1024-byte metadata allowance) and a stream credit of
/// [`CREDIT`].
pub type Store = ArrayStorage<CAPACITY, RX, TX>;

/// The stream window a session announces with [`Store`] and a default config.
pub const WINDOW: u32 = 3072;
/// The stream credit a session announces with [`Store`] (half its slots).
pub const CREDIT: u32 = 2;

/// Room offered to `poll_transmit` by [`Harness::drain`] (it grows when the
/// session asks for more).
const DRAIN_ROOM: usize = 1 << 16;

/// A server configuration whose session receive window is `bytes` and
/// never grows.
#[must_use]
pub fn small_session_window(bytes: u32) -> Config {
    let mut config = Config::server();
    config.session_window = bytes;
    config.session_window_max = bytes;
    config
}

// ----- frames the session sent, owned -------------------------------------

/// A frame the session sent, parsed and owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    /// RST.
    Rst {
        /// Stream id.
        stream: u32,
        /// Error code.
        code: ErrorCode,
    },
    /// DATA; `payload` includes the metadata part when `flags` has META.
    Data {
        /// Stream id.
        stream: u32,
        /// FIN, SYN, META.
        flags: u8,
        /// Everything after the header.
        payload: Vec<u8>,
    },
    /// WNDINC.
    WndInc {
        /// Stream id (0: the session).
        stream: u32,
        /// CREDIT on stream 0.
        credit: bool,
        /// The increment.
        increment: u32,
    },
    /// GOAWAY.
    GoAway {
        /// Last Stream Id.
        last: u32,
        /// Error code.
        code: ErrorCode,
        /// Debug bytes.
        debug: Vec<u8>,
    },
    /// SETTINGS (not ACK).
    Settings(Settings),
    /// SETTINGS ACK.
    SettingsAck,
    /// PING or PING ACK.
    Ping {
        /// Whether this is the reply.
        ack: bool,
        /// The opaque bytes.
        opaque: [u8; 8],
    },
}

impl Out {
    /// The owned form of a parsed frame.
    ///
    /// # Panics
    /// On a frame of unknown type: a version 1 sender never sends one.
    #[must_use]
    pub fn from_frame(f: Frame<'_>) -> Out {
        match f {
            Frame::Rst { stream, code } => Out::Rst { stream: stream.0, code },
            Frame::Data { stream, flags, payload } => {
                Out::Data { stream: stream.0, flags, payload: payload.to_vec() }
            }
            Frame::WndInc { stream, credit, increment } => {
                Out::WndInc { stream: stream.0, credit, increment }
            }
            Frame::GoAway(g) => Out::GoAway { last: g.last_stream.0, code: g.code, debug: g.debug.to_vec() },
            Frame::Settings(s) => Out::Settings(s),
            Frame::SettingsAck => Out::SettingsAck,
            Frame::Ping { ack, opaque } => Out::Ping { ack, opaque },
            Frame::Unknown { header, .. } => panic!("session sent a frame of unknown type: {header:?}"),
        }
    }

    /// The stream id the frame is on (0 for session frames).
    #[must_use]
    pub fn stream(&self) -> u32 {
        match self {
            Out::Rst { stream, .. } | Out::Data { stream, .. } | Out::WndInc { stream, .. } => *stream,
            _ => 0,
        }
    }

    /// Whether this is a DATA frame with all of `fl` set (0: any DATA).
    #[must_use]
    pub fn is_data_with(&self, fl: u8) -> bool {
        matches!(self, Out::Data { flags, .. } if flags & fl == fl)
    }

    /// The data part of a DATA frame (after any metadata), or `None`.
    #[must_use]
    pub fn data_part(&self) -> Option<&[u8]> {
        match self {
            Out::Data { flags, payload, .. } if flags & braid::frame::flags::META != 0 => {
                let len = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
                Some(&payload[2 + len..])
            }
            Out::Data { payload, .. } => Some(payload),
            _ => None,
        }
    }

    /// The metadata block of a DATA frame with META, or `None`.
    #[must_use]
    pub fn metadata(&self) -> Option<&[u8]> {
        match self {
            Out::Data { flags, payload, .. } if flags & braid::frame::flags::META != 0 => {
                let len = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
                Some(&payload[2..2 + len])
            }
            _ => None,
        }
    }
}

/// Every complete frame in `bytes` (no preface), each with its header and
/// its whole encoding (header included), without any check beyond the
/// header's length. Trailing bytes that do not form a whole frame are
/// ignored.
#[must_use]
pub fn split_frames(bytes: &[u8]) -> Vec<(Header, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(h) = bytes.get(at..at + HEADER_LEN) {
        let h: &[u8; HEADER_LEN] = h.try_into().expect("8 bytes");
        let header = Header::parse(h);
        let end = at + HEADER_LEN + header.length as usize;
        let Some(whole) = bytes.get(at..end) else { break };
        out.push((header, whole));
        at = end;
    }
    out
}

/// Parse `bytes` (no preface) into owned frames.
///
/// # Panics
/// If the bytes are not a sequence of whole, valid frames.
#[must_use]
pub fn parse_frames(bytes: &[u8]) -> Vec<Out> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match Frame::parse(&bytes[at..], MAX_PAYLOAD) {
            Ok((f, n)) => {
                out.push(Out::from_frame(f));
                at += n;
            }
            Err(e) => panic!("unparsable frame at byte {at}: {e:?} (a WNDINC of 0 breaks [S-4.4])"),
        }
    }
    out
}

// ----- the session under test ------------------------------------------------

/// What one drain produced: the frames the session sent and the events it
/// reported since the last drain.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    /// Frames sent, in order.
    pub frames: Vec<Out>,
    /// Events polled, in order.
    pub events: Vec<Event>,
}

impl Drained {
    /// The GOAWAY frames.
    #[must_use]
    pub fn goaways(&self) -> Vec<&Out> {
        self.frames.iter().filter(|f| matches!(f, Out::GoAway { .. })).collect()
    }

    /// The frames other than stream-credit grants (which follow whenever a
    /// peer-opened stream is forgotten).
    #[must_use]
    pub fn sans_credit(&self) -> Vec<Out> {
        self.frames.iter().filter(|f| !matches!(f, Out::WndInc { credit: true, .. })).cloned().collect()
    }

    /// The frames other than session-level WNDINC (window or credit).
    #[must_use]
    pub fn sans_session_updates(&self) -> Vec<Out> {
        self.frames.iter().filter(|f| !matches!(f, Out::WndInc { stream: 0, .. })).cloned().collect()
    }

    /// The RST frames.
    #[must_use]
    pub fn rsts(&self) -> Vec<&Out> {
        self.frames.iter().filter(|f| matches!(f, Out::Rst { .. })).collect()
    }

    /// The frames on stream `id`.
    #[must_use]
    pub fn on(&self, id: u32) -> Vec<&Out> {
        self.frames.iter().filter(|f| f.stream() == id).collect()
    }
}

/// Everything observable about a run, for comparing chunkings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// Every byte the session sent.
    pub sent: Vec<u8>,
    /// Every event it reported.
    pub events: Vec<Event>,
    /// Why it ended, if it did.
    pub close: Option<CloseReason>,
    /// Its final state.
    pub state: SessionState,
}

/// One real [`Session`] and the raw peer that talks to it.
///
/// The peer is the test: it builds frames as bytes (see
/// [`frames`](super::frames)), feeds them with [`feed`](Self::feed) in
/// chunks of at most [`chunk`](Self::chunk) bytes, and reads back what the
/// session sent, parsed, with [`drain`](Self::drain). The session is driven
/// exactly as its call protocol asks: after every input, `poll_transmit`
/// until 0, then `poll_event` until `None` (and `poll_trace` when tracing).
pub struct Harness<S: Storage = Store> {
    /// The session under test.
    pub s: Session<S>,
    /// The virtual clock passed to every call.
    pub now: Instant,
    /// Most bytes handed to `handle_input` at once.
    pub chunk: usize,
    /// Every byte the session sent.
    pub sent: Vec<u8>,
    parsed: usize,
    /// Every event polled, in order.
    pub events: Vec<Event>,
    /// Trace records drained (tracing is off unless the config turns it on).
    pub traced: usize,
    buf: Vec<u8>,
}

impl Harness<Store> {
    /// A session over [`Store`] that has sent nothing and received nothing.
    #[must_use]
    pub fn raw(config: Config, chunk: usize) -> Harness {
        Harness::new(config, Store::new(), chunk)
    }

    /// A session over [`Store`] that sent its preface and SETTINGS, and
    /// received nothing.
    #[must_use]
    pub fn fresh(config: Config, chunk: usize) -> Harness {
        let mut h = Harness::raw(config, chunk);
        h.start();
        h
    }

    /// A session over [`Store`] past the handshake both ways: the peer sent
    /// its preface, default SETTINGS and the ACK of the session's SETTINGS.
    #[must_use]
    pub fn connected(config: Config, chunk: usize) -> Harness {
        Harness::connected_with(config, Settings::DEFAULT, chunk)
    }

    /// As [`connected`](Self::connected), with the peer announcing `peer`.
    #[must_use]
    pub fn connected_with(config: Config, peer: Settings, chunk: usize) -> Harness {
        let mut h = Harness::fresh(config, chunk);
        h.handshake(peer);
        h
    }

    /// A server (the peer opens odd ids) past the handshake.
    #[must_use]
    pub fn server(chunk: usize) -> Harness {
        Harness::connected(Config::server(), chunk)
    }

    /// A client (the peer opens even ids) past the handshake.
    #[must_use]
    pub fn client(chunk: usize) -> Harness {
        Harness::connected(Config::client(), chunk)
    }
}

impl<S: Storage> Harness<S> {
    /// A session over `storage` that has sent nothing and received nothing,
    /// at time zero.
    #[must_use]
    pub fn new(config: Config, storage: S, chunk: usize) -> Harness<S> {
        Harness {
            s: Session::new(config, storage, Instant::ZERO),
            now: Instant::ZERO,
            chunk,
            sent: Vec::new(),
            parsed: 0,
            events: Vec::new(),
            traced: 0,
            buf: vec![0; DRAIN_ROOM],
        }
    }

    /// Drain the session's first output and check it is the preface and one
    /// SETTINGS frame, which it returns.
    ///
    /// # Panics
    /// If the first output is anything else.
    pub fn start(&mut self) -> Settings {
        let d = self.drain();
        assert_eq!(&self.sent[..PREFACE_LEN], &PREFACE, "the first bytes are the preface");
        match d.frames[..] {
            [Out::Settings(s)] => s,
            _ => panic!("expected the preface and one SETTINGS, got {:?}", d.frames),
        }
    }

    /// The peer's side of the handshake: its preface, SETTINGS `peer` and
    /// the ACK of the session's SETTINGS. Checks that the session answers
    /// with exactly one SETTINGS ACK and reports `Connected`.
    ///
    /// # Panics
    /// If the session answers anything else.
    pub fn handshake(&mut self, peer: Settings) {
        let d = self.step(&cat(&[&handshake_with(peer), &settings_ack()]));
        assert_eq!(d.frames, vec![Out::SettingsAck]);
        assert_eq!(d.events, vec![Event::Connected]);
        assert_eq!(self.s.state(), SessionState::Open);
    }

    /// Feed bytes in chunks of [`chunk`](Self::chunk); every byte must be
    /// consumed (tracing must be off or drained).
    ///
    /// # Panics
    /// If `handle_input` leaves bytes unconsumed.
    pub fn feed(&mut self, bytes: &[u8]) {
        for piece in bytes.chunks(self.chunk.max(1)) {
            let n = self.s.handle_input(self.now, piece);
            assert_eq!(n, piece.len(), "handle_input consumed {n} of {}", piece.len());
        }
    }

    /// Call `poll_transmit` once with `room` bytes of room; returns the
    /// frames written (no events are polled).
    ///
    /// # Panics
    /// If the bytes written do not parse as whole frames.
    pub fn transmit(&mut self, room: usize) -> Vec<Out> {
        let mut buf = vec![0u8; room];
        let n = self.s.poll_transmit(self.now, &mut buf);
        self.sent.extend_from_slice(&buf[..n]);
        self.parse_new()
    }

    /// Drain `poll_transmit` until it returns 0 (offering 64 KiB, or as
    /// much as the session says it needs) and `poll_event` until `None`;
    /// returns the new frames and events.
    ///
    /// # Panics
    /// If the session never stops sending or reporting, or sends bytes that
    /// do not parse.
    pub fn drain(&mut self) -> Drained {
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 1_000_000, "poll_transmit never returned 0");
            let n = self.s.poll_transmit(self.now, &mut self.buf);
            if n > 0 {
                self.sent.extend_from_slice(&self.buf[..n]);
                continue;
            }
            let needed = self.s.transmit_needed();
            if needed > self.buf.len() {
                self.buf.resize(needed, 0);
                continue;
            }
            assert_eq!(needed, 0, "the session needs {needed} bytes and was offered {}", self.buf.len());
            // With tracing on, a full trace queue stops output: drain it.
            let mut traced = 0;
            while self.s.poll_trace().is_some() {
                traced += 1;
            }
            self.traced += traced;
            if traced == 0 {
                break;
            }
        }
        let frames = self.parse_new();
        let mut d = Drained { frames, events: Vec::new() };
        let mut polls = 0;
        while let Some(e) = self.s.poll_event() {
            d.events.push(e);
            self.events.push(e);
            polls += 1;
            assert!(polls < 1_000_000, "poll_event never returned None");
        }
        d
    }

    fn parse_new(&mut self) -> Vec<Out> {
        if self.parsed == 0 && self.sent.len() >= PREFACE_LEN {
            assert_eq!(&self.sent[..PREFACE_LEN], &PREFACE, "the session's first bytes are its preface");
            self.parsed = PREFACE_LEN;
        }
        let mut frames = Vec::new();
        while self.parsed < self.sent.len() {
            match Frame::parse(&self.sent[self.parsed..], MAX_PAYLOAD) {
                Ok((f, n)) => {
                    frames.push(Out::from_frame(f));
                    self.parsed += n;
                }
                Err(e) => panic!(
                    "session sent an unparsable frame at byte {}: {e:?} (a WNDINC of 0 breaks [S-4.4])",
                    self.parsed
                ),
            }
        }
        frames
    }

    /// Feed, then drain.
    pub fn step(&mut self, bytes: &[u8]) -> Drained {
        self.feed(bytes);
        self.drain()
    }

    /// Set the clock to `t`, call `handle_timeout`, and drain.
    pub fn advance_to(&mut self, t: Instant) -> Drained {
        self.now = t;
        self.s.handle_timeout(t);
        self.drain()
    }

    /// Move the clock forward by `by`, call `handle_timeout`, and drain.
    pub fn advance(&mut self, by: Duration) -> Drained {
        let t = self.now + by;
        self.advance_to(t)
    }

    /// Every frame the session sent so far (after the preface), parsed.
    #[must_use]
    pub fn all_frames(&self) -> Vec<Out> {
        parse_frames(self.sent.get(PREFACE_LEN..).unwrap_or(&[]))
    }

    /// Everything observable so far.
    #[must_use]
    pub fn transcript(&self) -> Transcript {
        Transcript {
            sent: self.sent.clone(),
            events: self.events.clone(),
            close: self.s.close_reason(),
            state: self.s.state(),
        }
    }

    /// The peer opens `id` with a SYN carrying `body`, and the application
    /// accepts it; returns what the session sent and reported after the
    /// accept.
    ///
    /// # Panics
    /// If the stream is not reported as incoming or not accepted.
    pub fn open_accepted(&mut self, id: u32, body: &[u8]) -> Drained {
        let d = self.step(&super::frames::syn(id, body));
        assert!(d.events.contains(&Event::Incoming), "{:?}", d.events);
        assert_eq!(self.s.accept(), Ok(StreamId(id)));
        self.drain()
    }

    /// The peer opens `id` with a 1-byte SYN|FIN; the application accepts,
    /// reads to the end and finishes: the stream is forgotten.
    ///
    /// # Panics
    /// If any step does not go as described.
    pub fn forget_peer_stream(&mut self, id: u32) {
        use braid::frame::flags;
        let d = self.step(&super::frames::data(id, flags::SYN | flags::FIN, b"x"));
        assert!(d.events.contains(&Event::Incoming), "{:?}", d.events);
        assert_eq!(self.s.accept(), Ok(StreamId(id)));
        let mut buf = [0u8; 8];
        assert_eq!(self.s.read(StreamId(id), &mut buf), Ok(1));
        assert_eq!(self.s.read(StreamId(id), &mut buf), Ok(0));
        self.s.finish(StreamId(id)).expect("finish");
        let d = self.drain();
        assert!(
            d.frames.contains(&Out::Data { stream: id, flags: flags::FIN, payload: vec![] }),
            "{:?}",
            d.frames
        );
        assert_eq!(self.s.stream_info(StreamId(id)), None, "stream {id} should be forgotten");
    }
}
