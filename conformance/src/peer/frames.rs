//! Frames the scripted peer sends, built as bytes.
//!
//! Well-formed frames are encoded with the engine's own codec
//! ([`Frame::emit`]); anything the codec refuses to emit (a wrong length, a
//! reserved bit, a frame on the wrong stream, an unknown type) is built by
//! hand with [`header`] and [`raw`].

use braid::frame::{flags, Frame, GoAway, Settings, HEADER_LEN, MAX_PAYLOAD, PREFACE};
use braid::{ErrorCode, StreamId};

/// Encode a frame with the codec.
///
/// # Panics
/// Never for frames the codec can represent (the buffer is sized to fit).
#[must_use]
pub fn emit(f: Frame<'_>) -> Vec<u8> {
    let mut out = vec![0u8; f.encoded_len()];
    let n = f.emit(&mut out).expect("room for the frame");
    out.truncate(n);
    out
}

/// A frame header built by hand: any length, type nibble, flags and stream
/// field (the reserved bit included, so `0x8000_0001` is stream 1 with R set).
///
/// # Panics
/// If `len` does not fit the 24-bit length field.
#[must_use]
pub fn header(len: u32, ty: u8, fl: u8, stream: u32) -> Vec<u8> {
    assert!(len <= MAX_PAYLOAD, "length {len} does not fit 24 bits");
    let l = len.to_be_bytes();
    let s = stream.to_be_bytes();
    vec![l[1], l[2], l[3], (ty << 4) | (fl & 0xF), s[0], s[1], s[2], s[3]]
}

/// A whole frame built by hand: the header announces `payload.len()`.
#[must_use]
pub fn raw(ty: u8, fl: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("payload length fits u32");
    let mut v = header(len, ty, fl, stream);
    v.extend_from_slice(payload);
    v
}

/// The type nibbles of the frames version 1 defines (spec.md §4).
pub mod ty {
    /// RST.
    pub const RST: u8 = 0;
    /// DATA.
    pub const DATA: u8 = 1;
    /// WNDINC.
    pub const WNDINC: u8 = 2;
    /// GOAWAY.
    pub const GOAWAY: u8 = 3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 4;
    /// PING.
    pub const PING: u8 = 5;
}

/// The 8-byte preface, version 1.
#[must_use]
pub fn preface() -> Vec<u8> {
    PREFACE.to_vec()
}

/// A SETTINGS frame with all six entries of `s`.
#[must_use]
pub fn settings(s: Settings) -> Vec<u8> {
    emit(Frame::Settings(s))
}

/// A SETTINGS frame with exactly these (id, value) entries, in this order.
#[must_use]
pub fn settings_entries(entries: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in entries {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    raw(ty::SETTINGS, 0, 0, &p)
}

/// A SETTINGS ACK.
#[must_use]
pub fn settings_ack() -> Vec<u8> {
    emit(Frame::SettingsAck)
}

/// The peer's opening: the preface and default SETTINGS.
#[must_use]
pub fn handshake() -> Vec<u8> {
    handshake_with(Settings::DEFAULT)
}

/// The peer's opening: the preface and SETTINGS `s`.
#[must_use]
pub fn handshake_with(s: Settings) -> Vec<u8> {
    cat(&[&preface(), &settings(s)])
}

/// A PING (without ACK) carrying `opaque` big-endian.
#[must_use]
pub fn ping(opaque: u64) -> Vec<u8> {
    emit(Frame::Ping { ack: false, opaque: opaque.to_be_bytes() })
}

/// A PING ACK carrying `opaque` big-endian.
#[must_use]
pub fn ping_ack(opaque: u64) -> Vec<u8> {
    emit(Frame::Ping { ack: true, opaque: opaque.to_be_bytes() })
}

/// RST on `stream` with `code`.
#[must_use]
pub fn rst(stream: u32, code: ErrorCode) -> Vec<u8> {
    emit(Frame::Rst { stream: StreamId(stream), code })
}

/// WNDINC on `stream` (0: the session window) by `increment` bytes.
#[must_use]
pub fn wndinc(stream: u32, increment: u32) -> Vec<u8> {
    emit(Frame::WndInc { stream: StreamId(stream), credit: false, increment })
}

/// WNDINC on stream 0 with CREDIT: `increment` more streams.
#[must_use]
pub fn credit(increment: u32) -> Vec<u8> {
    emit(Frame::WndInc { stream: StreamId(0), credit: true, increment })
}

/// GOAWAY with Last Stream Id `last`, `code` and `debug` bytes.
#[must_use]
pub fn goaway(last: u32, code: ErrorCode, debug: &[u8]) -> Vec<u8> {
    emit(Frame::GoAway(GoAway { last_stream: StreamId(last), code, debug }))
}

/// DATA on `stream` with flags `fl`; `payload` includes the metadata part
/// when `fl` has META (see [`meta_payload`]).
#[must_use]
pub fn data(stream: u32, fl: u8, payload: &[u8]) -> Vec<u8> {
    emit(Frame::Data { stream: StreamId(stream), flags: fl, payload })
}

/// An opening frame (SYN) with `payload` as data.
#[must_use]
pub fn syn(stream: u32, payload: &[u8]) -> Vec<u8> {
    data(stream, flags::SYN, payload)
}

/// A META payload: the 2-byte Metadata Length, the block, then the data.
#[must_use]
pub fn meta_payload(meta: &[u8], body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(meta.len()).expect("metadata block fits u16");
    let mut p = len.to_be_bytes().to_vec();
    p.extend_from_slice(meta);
    p.extend_from_slice(body);
    p
}

/// The smallest well-formed metadata block: stream type 7, no headers.
#[must_use]
pub fn meta_block() -> Vec<u8> {
    7u32.to_be_bytes().to_vec()
}

/// A well-formed metadata block of exactly `len` bytes (`len >= 8`):
/// stream type 7 and one header `h` whose value fills the rest.
///
/// # Panics
/// If `len < 8` or `len > 65535`.
#[must_use]
pub fn block_of(len: usize) -> Vec<u8> {
    assert!((8..=0xFFFF).contains(&len), "a one-header block is 8 to 65535 bytes, not {len}");
    let mut b = 7u32.to_be_bytes().to_vec();
    let value = len - 8;
    b.push(1);
    b.extend_from_slice(&u16::try_from(value).expect("value fits u16").to_be_bytes());
    b.push(b'h');
    b.extend(std::iter::repeat_n(b'v', value));
    debug_assert_eq!(b.len(), len);
    b
}

/// The concatenation of `parts`.
#[must_use]
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `n` copies of `frame`.
#[must_use]
pub fn repeat(frame: &[u8], n: usize) -> Vec<u8> {
    frame.repeat(n)
}

/// The Length field of an encoded frame.
///
/// # Panics
/// If `bytes` is shorter than a header.
#[must_use]
pub fn frame_len(bytes: &[u8]) -> usize {
    assert!(bytes.len() >= HEADER_LEN, "not a frame: {} bytes", bytes.len());
    usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2])
}

/// Settings with every field of [`Settings::DEFAULT`] except those `f` changes.
#[must_use]
pub fn settings_with(f: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings::DEFAULT;
    f(&mut s);
    s
}
