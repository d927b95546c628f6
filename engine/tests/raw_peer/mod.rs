//! A scripted raw peer for one real [`braid::Session`]: frames are built as
//! bytes (with [`Frame::emit`], or by hand for what the codec refuses to
//! emit), fed to the session in chunks of a chosen size, and everything the
//! session sends back is parsed with [`Frame::parse`] so tests can assert the
//! exact frames.
#![allow(dead_code)]

use braid::frame::{flags, Frame, GoAway, Settings, HEADER_LEN, MAX_PAYLOAD, PREFACE, PREFACE_LEN};
use braid::{
    ArrayStorage, CloseReason, Config, ErrorCode, Event, Instant, LocalError, ProtocolError, Session,
    SessionState, StreamId,
};

/// Slots in the session's storage.
pub const CAPACITY: usize = 4;
/// Receive buffer per stream.
pub const RX: usize = 4096;
/// The storage every session under test uses: 4 streams of 4 KiB each way.
/// With the default config this announces a stream window of 3072
/// (4096 less the 1024 metadata allowance) and a stream credit of 2.
pub type Store = ArrayStorage<CAPACITY, RX, 4096>;

/// The stream window the session under test announces with [`Store`].
pub const WINDOW: u32 = 3072;
/// The stream credit it announces (half its slots).
pub const CREDIT: u32 = 2;

// ----- frames the session sent, owned -------------------------------------

/// A frame the session sent, parsed and owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    Rst { stream: u32, code: ErrorCode },
    Data { stream: u32, flags: u8, payload: Vec<u8> },
    WndInc { stream: u32, credit: bool, increment: u32 },
    GoAway { last: u32, code: ErrorCode, debug: Vec<u8> },
    Settings(Settings),
    SettingsAck,
    Ping { ack: bool, opaque: [u8; 8] },
}

impl Out {
    fn from_frame(f: Frame<'_>) -> Out {
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
}

// ----- frames the peer sends, as bytes --------------------------------------

/// Encode a frame with the codec.
pub fn emit(f: Frame<'_>) -> Vec<u8> {
    let mut out = vec![0u8; f.encoded_len()];
    let n = f.emit(&mut out).expect("room for the frame");
    out.truncate(n);
    out
}

/// A frame header built by hand: any length, type nibble, flags, stream id
/// (the reserved bit included).
pub fn header(len: u32, ty: u8, fl: u8, stream: u32) -> Vec<u8> {
    assert!(len <= MAX_PAYLOAD);
    let l = len.to_be_bytes();
    let s = stream.to_be_bytes();
    vec![l[1], l[2], l[3], (ty << 4) | (fl & 0xF), s[0], s[1], s[2], s[3]]
}

/// A whole frame built by hand: the header announces `payload.len()`.
pub fn raw(ty: u8, fl: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = header(payload.len() as u32, ty, fl, stream);
    v.extend_from_slice(payload);
    v
}

/// Type nibbles.
pub mod ty {
    pub const RST: u8 = 0;
    pub const DATA: u8 = 1;
    pub const WNDINC: u8 = 2;
    pub const GOAWAY: u8 = 3;
    pub const SETTINGS: u8 = 4;
    pub const PING: u8 = 5;
}

pub fn preface() -> Vec<u8> {
    PREFACE.to_vec()
}

pub fn settings(s: Settings) -> Vec<u8> {
    emit(Frame::Settings(s))
}

/// A SETTINGS frame with exactly these (id, value) entries.
pub fn settings_entries(entries: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in entries {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    raw(ty::SETTINGS, 0, 0, &p)
}

pub fn settings_ack() -> Vec<u8> {
    emit(Frame::SettingsAck)
}

/// The peer's opening: preface and default SETTINGS.
pub fn handshake() -> Vec<u8> {
    cat(&[&preface(), &settings(Settings::DEFAULT)])
}

pub fn ping(opaque: u64) -> Vec<u8> {
    emit(Frame::Ping { ack: false, opaque: opaque.to_be_bytes() })
}

pub fn rst(stream: u32, code: ErrorCode) -> Vec<u8> {
    emit(Frame::Rst { stream: StreamId(stream), code })
}

pub fn wndinc(stream: u32, increment: u32) -> Vec<u8> {
    emit(Frame::WndInc { stream: StreamId(stream), credit: false, increment })
}

pub fn credit(increment: u32) -> Vec<u8> {
    emit(Frame::WndInc { stream: StreamId(0), credit: true, increment })
}

pub fn goaway(last: u32, code: ErrorCode, debug: &[u8]) -> Vec<u8> {
    emit(Frame::GoAway(GoAway { last_stream: StreamId(last), code, debug }))
}

pub fn data(stream: u32, fl: u8, payload: &[u8]) -> Vec<u8> {
    emit(Frame::Data { stream: StreamId(stream), flags: fl, payload })
}

/// An opening frame (SYN) with `payload` as data.
pub fn syn(stream: u32, payload: &[u8]) -> Vec<u8> {
    data(stream, flags::SYN, payload)
}

/// A META payload: the 2-byte length, the block, then data.
pub fn meta_payload(meta: &[u8], body: &[u8]) -> Vec<u8> {
    let mut p = (meta.len() as u16).to_be_bytes().to_vec();
    p.extend_from_slice(meta);
    p.extend_from_slice(body);
    p
}

/// A well-formed metadata block: stream type 7, no headers.
pub fn meta_block() -> Vec<u8> {
    7u32.to_be_bytes().to_vec()
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `n` copies of `frame`.
pub fn repeat(frame: &[u8], n: usize) -> Vec<u8> {
    frame.repeat(n)
}

// ----- the session under test ------------------------------------------------

/// What one drain produced.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    pub frames: Vec<Out>,
    pub events: Vec<Event>,
}

impl Drained {
    pub fn goaways(&self) -> Vec<&Out> {
        self.frames.iter().filter(|f| matches!(f, Out::GoAway { .. })).collect()
    }

    /// The frames other than stream-credit grants (which follow whenever a
    /// peer-opened stream is forgotten).
    pub fn sans_credit(&self) -> Vec<Out> {
        self.frames.iter().filter(|f| !matches!(f, Out::WndInc { credit: true, .. })).cloned().collect()
    }

    pub fn rsts(&self) -> Vec<&Out> {
        self.frames.iter().filter(|f| matches!(f, Out::Rst { .. })).collect()
    }
}

/// Everything observable about a run, for comparing chunkings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    pub sent: Vec<u8>,
    pub events: Vec<Event>,
    pub close: Option<CloseReason>,
    pub state: SessionState,
}

/// One real session and the raw peer that talks to it.
pub struct Harness {
    pub s: Session<Store>,
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
}

impl Harness {
    /// A session that has sent nothing and received nothing.
    pub fn raw(config: Config, chunk: usize) -> Harness {
        Harness {
            s: Session::new(config, Store::new(), Instant::ZERO),
            now: Instant::ZERO,
            chunk,
            sent: Vec::new(),
            parsed: 0,
            events: Vec::new(),
            traced: 0,
        }
    }

    /// A session that sent its preface and SETTINGS, and received nothing.
    pub fn fresh(config: Config, chunk: usize) -> Harness {
        let mut h = Harness::raw(config, chunk);
        let d = h.drain();
        assert_eq!(&h.sent[..PREFACE_LEN], &PREFACE);
        assert!(matches!(d.frames[..], [Out::Settings(_)]), "{:?}", d.frames);
        h
    }

    /// A session past the handshake both ways: the peer sent its preface,
    /// default SETTINGS and the ACK of the session's SETTINGS.
    pub fn connected(config: Config, chunk: usize) -> Harness {
        let mut h = Harness::fresh(config, chunk);
        let d = h.step(&cat(&[&handshake(), &settings_ack()]));
        assert_eq!(d.frames, vec![Out::SettingsAck]);
        assert_eq!(d.events, vec![Event::Connected]);
        assert_eq!(h.s.state(), SessionState::Open);
        h
    }

    /// A server (the peer opens odd ids) past the handshake.
    pub fn server(chunk: usize) -> Harness {
        Harness::connected(Config::server(), chunk)
    }

    /// A client (the peer opens even ids) past the handshake.
    pub fn client(chunk: usize) -> Harness {
        Harness::connected(Config::client(), chunk)
    }

    /// Feed bytes in chunks of `self.chunk`; every byte must be consumed.
    pub fn feed(&mut self, bytes: &[u8]) {
        for piece in bytes.chunks(self.chunk.max(1)) {
            let n = self.s.handle_input(self.now, piece);
            assert_eq!(n, piece.len(), "handle_input consumed {n} of {}", piece.len());
        }
    }

    /// Drain `poll_transmit` until it returns 0 and `poll_event` until
    /// `None`; returns the new frames and events.
    pub fn drain(&mut self) -> Drained {
        let mut buf = vec![0u8; 1 << 16];
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 100_000, "poll_transmit never returned 0");
            let n = self.s.poll_transmit(self.now, &mut buf);
            if n > 0 {
                self.sent.extend_from_slice(&buf[..n]);
                continue;
            }
            assert_eq!(self.s.transmit_needed(), 0, "a frame did not fit in 64 KiB");
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
        let mut d = Drained::default();
        if self.parsed == 0 && self.sent.len() >= PREFACE_LEN {
            assert_eq!(&self.sent[..PREFACE_LEN], &PREFACE, "the session's first bytes are its preface");
            self.parsed = PREFACE_LEN;
        }
        while self.parsed < self.sent.len() {
            match Frame::parse(&self.sent[self.parsed..], MAX_PAYLOAD) {
                Ok((f, n)) => {
                    d.frames.push(Out::from_frame(f));
                    self.parsed += n;
                }
                Err(e) => panic!("session sent an unparsable frame at {}: {e:?}", self.parsed),
            }
        }
        let mut polls = 0;
        while let Some(e) = self.s.poll_event() {
            d.events.push(e);
            self.events.push(e);
            polls += 1;
            assert!(polls < 100_000, "poll_event never returned None");
        }
        d
    }

    /// Feed, then drain.
    pub fn step(&mut self, bytes: &[u8]) -> Drained {
        self.feed(bytes);
        self.drain()
    }

    pub fn transcript(&self) -> Transcript {
        Transcript {
            sent: self.sent.clone(),
            events: self.events.clone(),
            close: self.s.close_reason(),
            state: self.s.state(),
        }
    }

    /// The peer opens `id` with SYN and the app accepts it.
    pub fn open_accepted(&mut self, id: u32, body: &[u8]) -> Drained {
        let d = self.step(&syn(id, body));
        assert!(d.events.contains(&Event::Incoming), "{:?}", d.events);
        assert_eq!(self.s.accept(), Ok(StreamId(id)));
        self.drain()
    }

    /// The peer opens `id` with a 1-byte SYN|FIN; the app accepts, reads to
    /// the end and finishes: the stream is forgotten.
    pub fn forget_peer_stream(&mut self, id: u32) {
        let d = self.step(&data(id, flags::SYN | flags::FIN, b"x"));
        assert!(d.events.contains(&Event::Incoming), "{:?}", d.events);
        assert_eq!(self.s.accept(), Ok(StreamId(id)));
        let mut buf = [0u8; 8];
        assert_eq!(self.s.read(StreamId(id), &mut buf), Ok(1));
        assert_eq!(self.s.read(StreamId(id), &mut buf), Ok(0));
        self.s.finish(StreamId(id)).unwrap();
        let d = self.drain();
        assert!(
            d.frames.contains(&Out::Data { stream: id, flags: flags::FIN, payload: vec![] }),
            "{:?}",
            d.frames
        );
        assert_eq!(self.s.stream_info(StreamId(id)), None, "stream {id} should be forgotten");
    }
}

// ----- expectations ------------------------------------------------------------

/// The session ended on protocol error `e`: its last frame is a GOAWAY with
/// `code` (checked against the notes, not only against `e.code()`), last
/// stream id `last` and `e`'s text; the close reason and the final
/// `Event::Closed` say so; and the session is then deaf and mute.
pub fn expect_protocol_error(h: &mut Harness, d: &Drained, e: ProtocolError, code: ErrorCode, last: u32) {
    expect_protocol_error_with_remote(h, d, e, code, last, None);
}

pub fn expect_protocol_error_with_remote(
    h: &mut Harness,
    d: &Drained,
    e: ProtocolError,
    code: ErrorCode,
    last: u32,
    remote: Option<ErrorCode>,
) {
    assert_eq!(e.code(), code, "wire code of {e:?}");
    let reason = CloseReason { local: Some(LocalError::Protocol(e)), remote };
    assert_eq!(h.s.close_reason(), Some(reason), "close reason; frames sent: {:?}", d.frames);
    assert_eq!(
        d.frames.last(),
        Some(&Out::GoAway { last, code, debug: e.as_str().as_bytes().to_vec() }),
        "final GOAWAY; frames sent: {:?}",
        d.frames
    );
    assert_eq!(d.goaways().len(), 1, "exactly one GOAWAY: {:?}", d.frames);
    assert_eq!(d.events.last(), Some(&Event::Closed(reason)), "events: {:?}", d.events);
    assert_eq!(h.s.state(), SessionState::Closed);
    expect_deaf_and_mute(h);
}

/// After the end: input is consumed and ignored, nothing more is sent,
/// no event, no timer.
pub fn expect_deaf_and_mute(h: &mut Harness) {
    let before = h.transcript();
    let junk = cat(&[
        &ping(9),
        &syn(101, b"late"),
        &raw(ty::PING, 0, 0, &[1; 3]),
        &[0xFF; 37],
        &handshake(),
        &goaway(0, ErrorCode::PROTOCOL_ERROR, b""),
    ]);
    h.feed(&junk);
    let d = h.drain();
    assert!(d.frames.is_empty(), "sent after the end: {:?}", d.frames);
    assert!(d.events.is_empty(), "events after the end: {:?}", d.events);
    assert_eq!(h.transcript(), before);
    assert_eq!(h.s.poll_timeout(), None);
    assert_eq!(h.s.state(), SessionState::Closed);
}

/// The session is still open and answers a PING.
pub fn expect_alive(h: &mut Harness) {
    assert_eq!(h.s.close_reason(), None);
    let d = h.step(&ping(0x0A11_7E57));
    assert_eq!(d.frames, vec![Out::Ping { ack: true, opaque: 0x0A11_7E57u64.to_be_bytes() }]);
    assert!(!d.events.iter().any(|e| matches!(e, Event::Closed(_))));
}

/// Header length of an encoded frame (for sanity checks).
pub fn frame_len(bytes: &[u8]) -> usize {
    assert!(bytes.len() >= HEADER_LEN);
    usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2])
}
