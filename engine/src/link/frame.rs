//! Link frames on the wire (spec.md §14.1): a 2-byte header, a body and a
//! CRC-32C, COBS-encoded and followed by a `0x00` delimiter.
//!
//! ```text
//! decoded frame:  [kind|seq] [ack|flags] body… crc32c(4, big-endian)
//! on the wire:    COBS(decoded frame) 00
//! ```
//!
//! This module is the codec alone, usable without a link: [`encode`] writes
//! one whole frame, [`decode`] checks one frame read up to (not including)
//! its delimiter, and [`Header`] / [`SyncBody`] are the checked views of
//! their fields. The streaming decoder with resynchronisation is
//! [`Decoder`](super::Decoder).

use crc::{Crc, CRC_32_ISCSI};

/// Bytes of the link header: kind and sequence number, then ack and flags.
pub const HEADER_LEN: usize = 2;
/// Bytes of the CRC-32C trailer.
pub const CRC_LEN: usize = 4;
/// Decoded bytes a frame adds to its body: header and CRC.
pub const FRAME_OVERHEAD: usize = HEADER_LEN + CRC_LEN;
/// The shortest decoded frame: a header and a CRC, no body.
pub const MIN_FRAME_LEN: usize = FRAME_OVERHEAD;
/// The smallest MTU a side may announce: the largest control frame the
/// engine sends, a GOAWAY with 64 debug bytes (8 + 72), fits in one link
/// frame (spec.md [S-14.6]).
pub const MIN_MTU: usize = 80;
/// The largest MTU a side may announce (spec.md [S-14.6]).
pub const MAX_MTU: usize = 1024;
/// The largest window a side may announce: half the sequence space, so
/// that a frame ahead of the expected one is never mistaken for one behind
/// it (spec.md [S-14.6]).
pub const MAX_WINDOW: usize = 8;
/// Sequence numbers and acks count modulo this.
pub const SEQ_MODULUS: u8 = 16;
/// The link protocol version carried by SYNC.
pub const VERSION: u8 = 1;
/// Bytes of a SYNC frame's body.
pub const SYNC_BODY_LEN: usize = 17;

/// CRC-32C (Castagnoli, the iSCSI CRC): polynomial `0x1EDC6F41`, initial
/// value `0xFFFFFFFF`, input and output reflected, final XOR `0xFFFFFFFF`;
/// the CRC of the ASCII bytes `123456789` is `0xE3069283` (spec.md [S-14.2]).
pub const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Flag bits of the header's low nibble of byte 1.
pub mod flags {
    /// On DATA and ACK in reliable mode: the sender of this frame received
    /// a DATA frame ahead of the one it expects; go back to `ack` now
    /// (spec.md §14.5).
    pub const REJ: u8 = 0x1;
    /// On DATA in reliable mode: this frame fills the sender's window, so
    /// it can send nothing new before an Ack; the receiver acknowledges at
    /// once instead of after its ack delay (spec.md [S-14.17]).
    pub const POLL: u8 = 0x2;
}

/// Flag bits of a SYNC body's flags byte.
pub mod sync_flags {
    /// The sender's link is not up yet: answer with a SYNC.
    pub const REPLY: u8 = 0x01;
    /// The peer epoch and session fields are valid (the sender knows the
    /// receiver).
    pub const ECHO: u8 = 0x02;
    /// The sender asks for reliable (go-back-N) mode.
    pub const RELIABLE: u8 = 0x04;
}

/// What a link frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// Session bytes (kind 1).
    Data,
    /// An acknowledgement alone (kind 2).
    Ack,
    /// Link session set-up (kind 3).
    Sync,
    /// A kind this version does not define (0, 4 to 15): ignored.
    Unknown(u8),
}

impl Kind {
    /// The 4-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Kind::Data => 1,
            Kind::Ack => 2,
            Kind::Sync => 3,
            Kind::Unknown(k) => k & 0x0F,
        }
    }

    /// The kind of a 4-bit code.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0F {
            1 => Kind::Data,
            2 => Kind::Ack,
            3 => Kind::Sync,
            k => Kind::Unknown(k),
        }
    }
}

/// The 2-byte link header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// What the frame is.
    pub kind: Kind,
    /// DATA: the frame's sequence number (0 to 15); 0 otherwise.
    pub seq: u8,
    /// DATA and ACK in reliable mode: the next sequence number the sender
    /// expects (a cumulative acknowledgement); 0 otherwise.
    pub ack: u8,
    /// Flag bits ([`flags`]).
    pub flags: u8,
}

impl Header {
    /// A header; each field is cut to its 4 bits.
    #[must_use]
    pub const fn new(kind: Kind, seq: u8, ack: u8, flags: u8) -> Self {
        Header { kind, seq: seq & 0x0F, ack: ack & 0x0F, flags: flags & 0x0F }
    }

    /// The two header bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; HEADER_LEN] {
        [(self.kind.code() << 4) | (self.seq & 0x0F), (self.ack << 4) | (self.flags & 0x0F)]
    }

    /// The header in two bytes (every value is a header).
    #[must_use]
    pub const fn parse(bytes: [u8; HEADER_LEN]) -> Self {
        Header {
            kind: Kind::from_code(bytes[0] >> 4),
            seq: bytes[0] & 0x0F,
            ack: bytes[1] >> 4,
            flags: bytes[1] & 0x0F,
        }
    }
}

/// Identifies one link session of one side: its epoch and session counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkId {
    /// Chosen when the side starts (random, or a boot counter).
    pub epoch: u32,
    /// Counts the side's link sessions within the epoch, from 0, wrapping.
    pub session: u16,
}

/// The body of a SYNC frame (spec.md §14.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SyncBody {
    /// The link protocol version ([`VERSION`]).
    pub version: u8,
    /// The sender's link is not up yet and wants an answer.
    pub reply: bool,
    /// The sender asks for reliable mode.
    pub reliable: bool,
    /// The sender's epoch and session counter.
    pub id: LinkId,
    /// The receiver's epoch and session counter as the sender knows them.
    pub echo: Option<LinkId>,
    /// The largest DATA body the sender accepts.
    pub mtu: u16,
    /// The most unacknowledged DATA frames the sender lets the receiver have
    /// outstanding (and will have itself).
    pub window: u8,
}

impl SyncBody {
    /// The body's bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SYNC_BODY_LEN] {
        let mut b = [0u8; SYNC_BODY_LEN];
        b[0] = self.version;
        let mut fl = 0;
        if self.reply {
            fl |= sync_flags::REPLY;
        }
        if self.reliable {
            fl |= sync_flags::RELIABLE;
        }
        let echo = self.echo.unwrap_or(LinkId { epoch: 0, session: 0 });
        if self.echo.is_some() {
            fl |= sync_flags::ECHO;
        }
        b[1] = fl;
        b[2..6].copy_from_slice(&self.id.epoch.to_be_bytes());
        b[6..8].copy_from_slice(&self.id.session.to_be_bytes());
        b[8..12].copy_from_slice(&echo.epoch.to_be_bytes());
        b[12..14].copy_from_slice(&echo.session.to_be_bytes());
        b[14..16].copy_from_slice(&self.mtu.to_be_bytes());
        b[16] = self.window;
        b
    }

    /// Read a SYNC body. Only its length is checked here; the values are
    /// checked by [`SyncBody::check`]. Longer bodies are accepted and
    /// their extra bytes ignored, for later versions.
    ///
    /// # Errors
    /// [`SyncError::Short`] when the body has fewer than [`SYNC_BODY_LEN`] bytes.
    pub fn parse(b: &[u8]) -> Result<Self, SyncError> {
        let Some(b) = b.get(..SYNC_BODY_LEN) else {
            return Err(SyncError::Short);
        };
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let fl = b[1];
        Ok(SyncBody {
            version: b[0],
            reply: fl & sync_flags::REPLY != 0,
            reliable: fl & sync_flags::RELIABLE != 0,
            id: LinkId { epoch: u32_at(2), session: u16_at(6) },
            echo: (fl & sync_flags::ECHO != 0).then(|| LinkId { epoch: u32_at(8), session: u16_at(12) }),
            mtu: u16_at(14),
            window: b[16],
        })
    }

    /// Check the values a receiver depends on (spec.md [S-14.6]).
    ///
    /// # Errors
    /// The first value out of range.
    pub fn check(&self) -> Result<(), SyncError> {
        if self.version != VERSION {
            return Err(SyncError::Version);
        }
        if !(MIN_MTU..=MAX_MTU).contains(&usize::from(self.mtu)) {
            return Err(SyncError::Mtu);
        }
        if !(1..=MAX_WINDOW).contains(&usize::from(self.window)) {
            return Err(SyncError::Window);
        }
        Ok(())
    }
}

/// Why a SYNC was ignored (spec.md [S-14.6]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SyncError {
    /// The body is shorter than [`SYNC_BODY_LEN`].
    Short,
    /// A link protocol version other than [`VERSION`].
    Version,
    /// An MTU outside [`MIN_MTU`]..=[`MAX_MTU`].
    Mtu,
    /// A window outside 1..=[`MAX_WINDOW`].
    Window,
}

impl core::fmt::Display for SyncError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SyncError::Short => "SYNC body too short",
            SyncError::Version => "unsupported link version",
            SyncError::Mtu => "link MTU out of range",
            SyncError::Window => "link window out of range",
        })
    }
}

/// The CRC-32C of a frame's header and body.
#[must_use]
pub fn crc(header: &[u8], body: &[u8]) -> u32 {
    let mut d = CRC32C.digest();
    d.update(header);
    d.update(body);
    d.finalize()
}

/// The most wire bytes a frame with a `body_len`-byte body takes: COBS
/// of header, body and CRC (one extra byte per 254, at least one), and the
/// delimiter.
#[must_use]
pub const fn max_wire_len(body_len: usize) -> usize {
    cobs::max_encoding_length(body_len + FRAME_OVERHEAD) + 1
}

/// The longest body whose frame surely fits in `room` wire bytes (0 if not
/// even an empty one fits: then check `room >= max_wire_len(0)`).
#[must_use]
pub const fn body_room(room: usize) -> usize {
    if room < max_wire_len(0) {
        return 0;
    }
    // n + ceil(n / 254) <= room - 1, for the decoded length n.
    let avail = room - 1;
    let mut n = avail * 254 / 255;
    while n + n.div_ceil(254) > avail {
        n -= 1;
    }
    while (n + 1) + (n + 1).div_ceil(254) <= avail {
        n += 1;
    }
    n.saturating_sub(FRAME_OVERHEAD)
}

/// Encoding needs more room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall {
    /// The room the frame needs (an upper bound: [`max_wire_len`]).
    pub needed: usize,
}

/// Write one whole link frame (COBS of header, body and CRC-32C, then the
/// `0x00` delimiter) to the start of `out` and return its length.
///
/// # Errors
/// [`BufferTooSmall`] when `out` is shorter than
/// [`max_wire_len`]`(body.len())`; nothing is written then.
pub fn encode(header: Header, body: &[u8], out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let needed = max_wire_len(body.len());
    if out.len() < needed {
        return Err(BufferTooSmall { needed });
    }
    let head = header.to_bytes();
    let check = crc(&head, body).to_be_bytes();
    let mut enc = cobs::CobsEncoder::new(&mut out[..needed - 1]);
    // The room was checked against the worst case, so the pushes fit.
    let pushed = enc.push(&head).and_then(|()| enc.push(body)).and_then(|()| enc.push(&check));
    if pushed.is_err() {
        return Err(BufferTooSmall { needed });
    }
    let n = enc.finalize();
    out[n] = 0;
    Ok(n + 1)
}

/// Why a received frame was discarded (spec.md [S-14.3]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Not valid COBS: a code byte pointed past the delimiter, or a `0x00`
    /// inside the frame.
    Cobs,
    /// Fewer than [`MIN_FRAME_LEN`] bytes once decoded.
    Short,
    /// More decoded bytes than the receiver's MTU allows.
    Oversize,
    /// The CRC-32C does not match.
    Crc,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FrameError::Cobs => "bad COBS encoding",
            FrameError::Short => "frame too short",
            FrameError::Oversize => "frame longer than the MTU",
            FrameError::Crc => "CRC mismatch",
        })
    }
}

/// Decode one frame: `wire` is its COBS bytes up to, and not including,
/// the delimiter (so it holds no `0x00`). The decoded frame goes to `buf`, whose length bounds it
/// (a body of up to `buf.len() - FRAME_OVERHEAD` bytes); returns the
/// header and the body, a part of `buf`.
///
/// # Errors
/// Why the frame must be discarded.
pub fn decode<'b>(wire: &[u8], buf: &'b mut [u8]) -> Result<(Header, &'b [u8]), FrameError> {
    if wire.contains(&0) {
        return Err(FrameError::Cobs); // more than one frame: not what was asked
    }
    let mut state = cobs::DecoderState::Idle;
    let mut len = 0usize;
    for &byte in wire.iter().chain(core::iter::once(&0u8)) {
        match state.feed(byte) {
            Ok(cobs::DecodeResult::DataContinue(b)) => {
                let slot = buf.get_mut(len).ok_or(FrameError::Oversize)?;
                *slot = b;
                len += 1;
            }
            Ok(cobs::DecodeResult::DataComplete) => return check(&buf[..len]),
            Ok(cobs::DecodeResult::NoData | cobs::DecodeResult::DataStart) => {}
            Err(_) => return Err(FrameError::Cobs),
        }
    }
    // Only an empty `wire` ends here (the delimiter alone): nothing to check.
    Err(FrameError::Short)
}

/// Check a whole decoded frame: its length and CRC.
pub(crate) fn check(frame: &[u8]) -> Result<(Header, &[u8]), FrameError> {
    if frame.len() < MIN_FRAME_LEN {
        return Err(FrameError::Short);
    }
    let (rest, tail) = frame.split_at(frame.len() - CRC_LEN);
    let (head, body) = rest.split_at(HEADER_LEN);
    let want = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc(head, body) != want {
        return Err(FrameError::Crc);
    }
    Ok((Header::parse([head[0], head[1]]), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn header_round_trip() {
        for b0 in 0..=255u8 {
            for b1 in [0u8, 0x10, 0x31, 0xFF] {
                assert_eq!(Header::parse([b0, b1]).to_bytes(), [b0, b1]);
            }
        }
        let h = Header::new(Kind::Data, 5, 9, flags::REJ);
        assert_eq!(h.to_bytes(), [0x15, 0x91]);
    }

    #[test]
    fn encode_decode_small() {
        let mut out = [0u8; 64];
        let n = encode(Header::new(Kind::Data, 1, 2, 0), b"hello", &mut out).unwrap();
        assert_eq!(out[n - 1], 0);
        assert!(!out[..n - 1].contains(&0));
        let mut buf = [0u8; 32];
        let (h, body) = decode(&out[..n - 1], &mut buf).unwrap();
        assert_eq!((h.kind, h.seq, h.ack, body), (Kind::Data, 1, 2, &b"hello"[..]));
    }

    #[test]
    fn encode_refuses_small_buffers_without_writing() {
        let mut out = [0xAAu8; 10];
        assert_eq!(
            encode(Header::new(Kind::Data, 0, 0, 0), b"hello", &mut out),
            Err(BufferTooSmall { needed: 13 })
        );
        assert_eq!(out, [0xAA; 10]);
    }

    #[test]
    fn body_room_is_tight() {
        for room in 0..2000 {
            let b = body_room(room);
            if room >= max_wire_len(0) {
                assert!(max_wire_len(b) <= room, "{room}");
                assert!(max_wire_len(b + 1) > room, "{room}");
            } else {
                assert_eq!(b, 0);
            }
        }
    }

    #[test]
    fn every_single_byte_corruption_is_detected() {
        let mut out = [0u8; 64];
        let n = encode(Header::new(Kind::Data, 3, 0, 0), b"0123456789abcdef", &mut out).unwrap();
        for i in 0..n - 1 {
            for bit in 0..8 {
                let mut w = out;
                w[i] ^= 1 << bit;
                let mut buf = [0u8; 64];
                if let Some(z) = w[..n - 1].iter().position(|&b| b == 0) {
                    // A new delimiter splits the frame: neither half is valid.
                    assert!(decode(&w[..z], &mut buf).is_err());
                    assert!(decode(&w[z + 1..n - 1], &mut buf).is_err());
                } else {
                    assert!(decode(&w[..n - 1], &mut buf).is_err(), "byte {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn sync_body_round_trip_and_checks() {
        let s = SyncBody {
            version: VERSION,
            reply: true,
            reliable: true,
            id: LinkId { epoch: 0xDEAD_BEEF, session: 7 },
            echo: Some(LinkId { epoch: 1, session: 2 }),
            mtu: 136,
            window: 4,
        };
        assert_eq!(SyncBody::parse(&s.to_bytes()), Ok(s));
        assert_eq!(s.check(), Ok(()));
        let no_echo = SyncBody { echo: None, ..s };
        assert_eq!(SyncBody::parse(&no_echo.to_bytes()), Ok(no_echo));
        assert_eq!(SyncBody::parse(&[1, 2, 3]), Err(SyncError::Short));
        assert_eq!(SyncBody { version: 2, ..s }.check(), Err(SyncError::Version));
        assert_eq!(SyncBody { mtu: 79, ..s }.check(), Err(SyncError::Mtu));
        assert_eq!(SyncBody { mtu: 1025, ..s }.check(), Err(SyncError::Mtu));
        assert_eq!(SyncBody { window: 0, ..s }.check(), Err(SyncError::Window));
        assert_eq!(SyncBody { window: 9, ..s }.check(), Err(SyncError::Window));
    }
}
