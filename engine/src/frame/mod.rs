//! The wire codec (spec.md §3–§4): the 8-byte header, frame types and flags,
//! and checked parse/emit for every frame.
//!
//! Nothing here keeps state or allocates: [`Header::parse`] and
//! [`Frame::parse`] take any bytes and return either a value or a
//! [`ProtocolError`](crate::ProtocolError); the `emit` functions write into a caller buffer and
//! report the room they need when it is too small. The session's streaming
//! decoder uses [`Header`] and the payload parsers directly, so that a DATA
//! payload is never collected whole.

mod header;
mod parse;
pub mod settings;

pub use header::{FrameType, Header, HEADER_LEN};
pub use parse::{Frame, GoAway, ParseError};
pub use settings::{Setting, Settings};

/// The preface every session starts with, in both directions: `BRAID\r\n`
/// and the protocol version (spec.md §2).
pub const PREFACE: [u8; 8] = *b"BRAID\r\n\x01";
/// The protocol version this engine speaks.
pub const VERSION: u8 = 1;
/// Length of the preface.
pub const PREFACE_LEN: usize = 8;

/// Flag bits, interpreted per frame type (unknown bits are ignored).
pub mod flags {
    /// DATA: the last frame the sender sends on this stream (half-close).
    pub const FIN: u8 = 0x1;
    /// DATA: opens the stream.
    pub const SYN: u8 = 0x2;
    /// DATA: the payload starts with a metadata block.
    pub const META: u8 = 0x4;
    /// SETTINGS, PING: acknowledgement.
    pub const ACK: u8 = 0x1;
    /// WNDINC on stream 0: the increment is stream credit, not bytes.
    pub const CREDIT: u8 = 0x1;
}

/// Payload length of RST.
pub const RST_LEN: usize = 4;
/// Payload length of WNDINC.
pub const WNDINC_LEN: usize = 4;
/// Payload length of PING.
pub const PING_LEN: usize = 8;
/// Fixed part of a GOAWAY payload (last stream id and code).
pub const GOAWAY_FIXED_LEN: usize = 8;
/// Largest GOAWAY debug data (spec.md §4.4).
pub const GOAWAY_DEBUG_MAX: usize = 64;
/// Largest SETTINGS payload: 32 entries (spec.md §4.5).
pub const SETTINGS_MAX_LEN: usize = 192;
/// Size of one SETTINGS entry.
pub const SETTING_ENTRY_LEN: usize = 6;
/// Length of the metadata length field at the start of a META payload.
pub const META_LEN_FIELD: usize = 2;
/// Largest window, credit or increment: 2^31-1 (spec.md §7).
pub const MAX_WINDOW: u32 = 0x7FFF_FFFF;
/// Largest payload the 24-bit length field can carry.
pub const MAX_PAYLOAD: u32 = 0x00FF_FFFF;
/// The smallest MAX_FRAME_SIZE a side may announce.
pub const MIN_FRAME_SIZE: u32 = 64;
