//! Shared pieces of braid's fuzz targets: the data pattern, a tiny PRNG for
//! chunkings, the configurations the targets build sessions from, and a
//! checker for everything a session writes to the wire.
//!
//! The checker is the sender-side half of spec.md: every frame a session
//! emits must parse, fit the peer's MAX_FRAME_SIZE, keep reserved and
//! undefined flag bits at 0, and respect the ordering rules of §2 and §8.

use braid::frame::{flags, Frame, FrameType, Header, HEADER_LEN, PREFACE, PREFACE_LEN};
use braid::{Config, Duration, ErrorCode, Metadata, Role, StreamId};

/// Whether `BRAID_FUZZ_VERBOSE` is set: targets then print what they do, to
/// make a replayed crash readable.
#[must_use]
pub fn verbose() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("BRAID_FUZZ_VERBOSE").is_some())
}

/// The byte stream `id` carries at `offset`, so delivered data can be
/// checked without keeping a copy of what was written.
#[must_use]
pub fn pattern(id: u32, offset: u64) -> u8 {
    (offset.wrapping_mul(31) ^ u64::from(id).wrapping_mul(0x9E37) ^ (offset >> 8)) as u8
}

/// Fill `out` with stream `id`'s pattern starting at `offset`.
pub fn fill_pattern(id: u32, offset: u64, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        *b = pattern(id, offset + i as u64);
    }
}

/// xorshift64*: deterministic chunkings from a seed taken from the input.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value, 0 included).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Which storage and frame size a session target uses (2 bits of input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `ArrayStorage<2, 128, 128>`, 64-byte frames.
    Tiny,
    /// `ArrayStorage<4, 256, 256>`, 128-byte frames.
    Small,
    /// `ArrayStorage<4, 1024, 256>`, 1024-byte frames.
    Medium,
    /// `ArrayStorage<1, 64, 64>`, 64-byte frames: one stream, 32-byte window.
    One,
}

impl Shape {
    /// The shape named by the low 2 bits of `b`.
    #[must_use]
    pub fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Shape::Tiny,
            1 => Shape::Small,
            2 => Shape::Medium,
            _ => Shape::One,
        }
    }

    /// The MAX_FRAME_SIZE a session of this shape announces.
    #[must_use]
    pub fn max_frame_size(self) -> u32 {
        match self {
            Shape::Tiny | Shape::One => 64,
            Shape::Small => 128,
            Shape::Medium => 1024,
        }
    }
}

/// Behaviour switches for a session built by a target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Knobs {
    /// Record frames (makes `handle_input` stop when 8 records wait).
    pub trace: bool,
    /// A 1 s idle timeout (keepalive PINGs at 500 ms).
    pub idle: bool,
    /// A flood budget of 8 frames and 1 per second instead of 1000 + 1000/s.
    pub small_flood: bool,
    /// No automatic window growth (stream and session windows stay fixed).
    pub fixed_windows: bool,
}

/// The configuration the fuzz targets (and the seed generator) give a
/// session of `role` and `shape`.
#[must_use]
pub fn session_config(role: Role, shape: Shape, knobs: Knobs) -> Config {
    let mut c = Config::new(role);
    c.max_frame_size = shape.max_frame_size();
    c.max_open_metadata = 32;
    c.trace = knobs.trace;
    if knobs.idle {
        c.idle_timeout = Some(Duration::from_millis(1000));
    }
    if knobs.small_flood {
        c.flood_burst = 8;
        c.flood_rate = 1;
    }
    if knobs.fixed_windows {
        c.stream_window_max = 0;
        c.session_window = 4096;
        c.session_window_max = 0;
    }
    c
}

/// What the caller knew just before a `poll_transmit` call.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxView {
    /// The peer's MAX_FRAME_SIZE, once its SETTINGS arrived.
    pub peer_max_frame: Option<u32>,
    /// Whether a GOAWAY from the peer had arrived.
    pub peer_goaway: bool,
    /// Whether the session had ended (`close_reason()` was set).
    pub ended: bool,
}

/// Checks everything one session writes, chunk by chunk.
#[derive(Clone, Debug)]
pub struct OutputChecker {
    role: Role,
    started: bool,
    settings_sent: bool,
    acks_sent: u32,
    goaway_last: Option<u32>,
    stopped: bool,
    highest_syn: u32,
    replied: Vec<u32>,
    /// Frames seen so far.
    pub frames: u64,
    /// Bytes seen so far (preface included).
    pub bytes: u64,
}

impl OutputChecker {
    /// A checker for the output of a session of `role`.
    #[must_use]
    pub fn new(role: Role) -> Self {
        OutputChecker {
            role,
            started: false,
            settings_sent: false,
            acks_sent: 0,
            goaway_last: None,
            stopped: false,
            highest_syn: 0,
            replied: Vec::new(),
            frames: 0,
            bytes: 0,
        }
    }

    /// Check the bytes of one `poll_transmit` call: whole frames only
    /// (frames are never split across calls), each one a frame the spec
    /// allows this side to send now.
    ///
    /// # Errors
    /// A description of the first rule broken.
    pub fn check(&mut self, mut out: &[u8], view: TxView) -> Result<(), String> {
        if out.is_empty() {
            return Ok(());
        }
        self.bytes += out.len() as u64;
        if !self.started {
            if out.len() < PREFACE_LEN || out[..PREFACE_LEN] != PREFACE {
                return Err(format!(
                    "output does not start with the preface: {:02x?}",
                    &out[..out.len().min(8)]
                ));
            }
            out = &out[PREFACE_LEN..];
            self.started = true;
        }
        while !out.is_empty() {
            let n = self.check_frame(out, view)?;
            out = &out[n..];
        }
        Ok(())
    }

    fn check_frame(&mut self, out: &[u8], view: TxView) -> Result<usize, String> {
        // [S-4.13]: until the peer's SETTINGS arrives, assume 64.
        let limit = view.peer_max_frame.unwrap_or(braid::frame::MIN_FRAME_SIZE);
        let (frame, n) = Frame::parse(out, limit).map_err(|e| {
            let head = &out[..out.len().min(HEADER_LEN)];
            format!("sent a frame that does not parse with limit {limit}: {e:?}, header {head:02x?}")
        })?;
        let raw = &out[..n];
        let header = Header::parse(raw.first_chunk::<HEADER_LEN>().expect("parsed frame has a header"));
        self.frames += 1;
        if self.stopped {
            return Err(format!("frame {frame:?} sent after a GOAWAY that ended the session"));
        }
        // The preface and SETTINGS still lead when the session ended before
        // its first poll_transmit (spec.md §2).
        if view.ended && !matches!(frame, Frame::GoAway(_) | Frame::Settings(_)) {
            return Err(format!("frame {frame:?} sent after the session ended"));
        }
        if raw[4] & 0x80 != 0 {
            return Err(format!("reserved stream-id bit set [S-3.1]: {header:?}"));
        }
        let allowed_flags = match header.kind {
            FrameType::Data => flags::FIN | flags::SYN | flags::META,
            FrameType::WndInc if header.stream.0 == 0 => flags::CREDIT,
            FrameType::Settings | FrameType::Ping => flags::ACK,
            _ => 0,
        };
        if header.flags & !allowed_flags != 0 {
            return Err(format!("undefined flag bits set [S-4.10]: {header:?}"));
        }
        if !self.settings_sent && !matches!(frame, Frame::Settings(_)) {
            return Err(format!("first frame after the preface is {frame:?}, not SETTINGS [S-2.2]"));
        }
        let handshaking = view.peer_max_frame.is_none();
        match frame {
            Frame::Settings(_) => {
                if self.settings_sent {
                    return Err("a second SETTINGS frame [S-6.5]".into());
                }
                self.settings_sent = true;
            }
            Frame::SettingsAck => {
                if handshaking {
                    return Err("SETTINGS ACK before the peer's SETTINGS".into());
                }
                self.acks_sent += 1;
                if self.acks_sent > 1 {
                    return Err("more than one SETTINGS ACK [S-6.6]".into());
                }
            }
            Frame::Ping { .. } => {}
            Frame::GoAway(g) => {
                if raw[HEADER_LEN] & 0x80 != 0 {
                    return Err("reserved bit set in GOAWAY last stream id [S-3.1]".into());
                }
                if let Some(prev) = self.goaway_last {
                    if g.last_stream.0 > prev {
                        return Err(format!(
                            "GOAWAY raised last stream id {prev} -> {} [S-8.5]",
                            g.last_stream.0
                        ));
                    }
                }
                self.goaway_last = Some(g.last_stream.0);
                if g.code != ErrorCode::NO_ERROR {
                    self.stopped = true;
                }
            }
            Frame::Rst { .. } | Frame::WndInc { .. } | Frame::Data { .. } if handshaking => {
                return Err(format!("{frame:?} sent before the peer's SETTINGS [S-2.6]"));
            }
            Frame::Rst { .. } => {}
            Frame::WndInc { .. } => {
                if raw[HEADER_LEN] & 0x80 != 0 {
                    return Err("reserved bit set in WNDINC increment [S-3.1]".into());
                }
            }
            Frame::Data { stream, flags: fl, payload } => self.check_data(stream, fl, payload, view)?,
            Frame::Unknown { header, .. } => {
                return Err(format!("sent a frame of unknown type {header:?} [S-4.9]"));
            }
        }
        Ok(n)
    }

    fn check_data(&mut self, stream: StreamId, fl: u8, payload: &[u8], view: TxView) -> Result<(), String> {
        let ours = stream.opener() == Some(self.role);
        if fl & flags::SYN != 0 {
            if !ours {
                return Err(format!("SYN for stream {stream:?} of the peer's parity"));
            }
            if stream.0 <= self.highest_syn {
                return Err(format!("SYN for {stream:?} after SYN for #{}", self.highest_syn));
            }
            if self.goaway_last.is_some() {
                return Err(format!("SYN for {stream:?} after this side's GOAWAY [S-8.3]"));
            }
            if view.peer_goaway {
                return Err(format!("SYN for {stream:?} after the peer's GOAWAY [S-8.3], [S-8.4]"));
            }
            self.highest_syn = stream.0;
        } else if ours && stream.0 > self.highest_syn {
            return Err(format!("DATA on {stream:?} before its SYN"));
        }
        if fl & flags::META != 0 {
            if fl & flags::SYN == 0 {
                if ours || self.replied.contains(&stream.0) {
                    return Err(format!("META on {stream:?} that is not an open or a first reply"));
                }
                self.replied.push(stream.0);
            }
            let Some(len) = payload.first_chunk::<2>().map(|b| usize::from(u16::from_be_bytes(*b))) else {
                return Err("META frame shorter than its length field".into());
            };
            let Some(block) = payload.get(2..2 + len) else {
                return Err("metadata length overruns the frame".into());
            };
            Metadata::parse(block).map_err(|e| format!("sent a malformed metadata block: {e:?}"))?;
        }
        Ok(())
    }
}

/// Encoders that write bytes `arbitrary` decodes back into given values:
/// the seed generator uses them to write meaningful operation sequences.
pub mod enc {
    /// Append the tag `arbitrary`'s derive reads as variant `index` of `count`.
    pub fn variant(out: &mut Vec<u8>, index: u32, count: u32) {
        let tag = (u64::from(index) << 32).div_ceil(u64::from(count));
        out.extend_from_slice(&(tag as u32).to_le_bytes());
    }

    /// Append a `bool`.
    pub fn bool(out: &mut Vec<u8>, b: bool) {
        out.push(u8::from(b));
    }

    /// Append a `u8`.
    pub fn u8(out: &mut Vec<u8>, v: u8) {
        out.push(v);
    }

    /// Append a `u16`.
    pub fn u16(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The operations of the `session_pair_ops` target, decoded with
/// `arbitrary` (kept here so the seed generator and tools can use them).
pub mod pair_ops {
    use arbitrary::Arbitrary;

    /// How the two sides are built.
    #[derive(Arbitrary, Debug, Clone, Copy)]
    pub struct Setup {
        /// Storage shapes of the two sides (see `run_setup`).
        pub shapes: u8,
        /// The client's `Knobs` bits.
        pub client_knobs: u8,
        /// The server's `Knobs` bits.
        pub server_knobs: u8,
        /// `poll_transmit` buffer size choice.
        pub tx_buf: u8,
    }

    /// One step of the scenario. `client` picks the side acting; `stream`
    /// indexes the streams that side knows (in id order).
    #[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        /// `open`, or `open_with` a metadata block of about `meta` bytes.
        Open { client: bool, meta: u8 },
        /// Write `len` bytes of pattern data.
        Write { client: bool, stream: u8, len: u16 },
        /// Read up to `len` bytes and check them.
        Read { client: bool, stream: u8, len: u16 },
        /// Half-close.
        Finish { client: bool, stream: u8 },
        /// Reset with a code.
        Reset { client: bool, stream: u8, code: u8 },
        /// Send a PING.
        Ping { client: bool },
        /// Send a GOAWAY (`code` 0 is NO_ERROR) with `debug` bytes of debug data.
        GoAway { client: bool, code: u8, debug: u8 },
        /// Close the session.
        Close { client: bool },
        /// `accept`, or `accept_with` a reply block of about `meta` bytes.
        Accept { client: bool, meta: u8 },
        /// Refuse the oldest incoming stream.
        Refuse { client: bool, code: u8 },
        /// Move everything the side has to send onto its outgoing wire.
        Transmit { client: bool },
        /// Feed up to `chunk` bytes of the side's incoming wire to it.
        Deliver { client: bool, chunk: u16 },
        /// Move bytes both ways, `chunk` at a time, until both sides are quiet.
        Step { chunk: u16 },
        /// Let `ms` milliseconds pass and fire due timers.
        Advance { ms: u16 },
        /// XOR a byte in flight towards the client (or server) with `xor`.
        Corrupt { to_client: bool, pos: u16, xor: u8 },
        /// Remove `len` bytes in flight towards the client (or server).
        DropBytes { to_client: bool, pos: u16, len: u8 },
        /// The side's transport reports end of input.
        Eof { client: bool },
    }

    /// Number of `Op` variants (for the seed encoder).
    pub const OP_VARIANTS: u32 = 17;

    impl Op {
        /// Append the bytes `Op::arbitrary` decodes back into `self`.
        pub fn encode(&self, out: &mut Vec<u8>) {
            use crate::enc::{bool as b, u16 as w, u8 as y, variant};
            let v = |out: &mut Vec<u8>, i| variant(out, i, OP_VARIANTS);
            match *self {
                Op::Open { client, meta } => {
                    v(out, 0);
                    b(out, client);
                    y(out, meta);
                }
                Op::Write { client, stream, len } => {
                    v(out, 1);
                    b(out, client);
                    y(out, stream);
                    w(out, len);
                }
                Op::Read { client, stream, len } => {
                    v(out, 2);
                    b(out, client);
                    y(out, stream);
                    w(out, len);
                }
                Op::Finish { client, stream } => {
                    v(out, 3);
                    b(out, client);
                    y(out, stream);
                }
                Op::Reset { client, stream, code } => {
                    v(out, 4);
                    b(out, client);
                    y(out, stream);
                    y(out, code);
                }
                Op::Ping { client } => {
                    v(out, 5);
                    b(out, client);
                }
                Op::GoAway { client, code, debug } => {
                    v(out, 6);
                    b(out, client);
                    y(out, code);
                    y(out, debug);
                }
                Op::Close { client } => {
                    v(out, 7);
                    b(out, client);
                }
                Op::Accept { client, meta } => {
                    v(out, 8);
                    b(out, client);
                    y(out, meta);
                }
                Op::Refuse { client, code } => {
                    v(out, 9);
                    b(out, client);
                    y(out, code);
                }
                Op::Transmit { client } => {
                    v(out, 10);
                    b(out, client);
                }
                Op::Deliver { client, chunk } => {
                    v(out, 11);
                    b(out, client);
                    w(out, chunk);
                }
                Op::Step { chunk } => {
                    v(out, 12);
                    w(out, chunk);
                }
                Op::Advance { ms } => {
                    v(out, 13);
                    w(out, ms);
                }
                Op::Corrupt { to_client, pos, xor } => {
                    v(out, 14);
                    b(out, to_client);
                    w(out, pos);
                    y(out, xor);
                }
                Op::DropBytes { to_client, pos, len } => {
                    v(out, 15);
                    b(out, to_client);
                    w(out, pos);
                    y(out, len);
                }
                Op::Eof { client } => {
                    v(out, 16);
                    b(out, client);
                }
            }
        }
    }

    impl Setup {
        /// Append the bytes `Setup::arbitrary` decodes back into `self`.
        pub fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&[self.shapes, self.client_knobs, self.server_knobs, self.tx_buf]);
        }
    }
}
