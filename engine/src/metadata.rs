//! Open metadata (spec.md §5.4): a stream type and optional headers, carried
//! by the opener's SYN and by the acceptor's reply.
//!
//! Layout of a metadata block (the `meta_len` bytes after the 2-byte length
//! field): `stream type: u32`, then zero or more headers, each
//! `name_len: u8 (>= 1)`, `value_len: u16`, name bytes, value bytes. The
//! headers must fill the block exactly.

use crate::ProtocolError;

/// Bytes of the stream type at the start of a block.
pub const TYPE_LEN: usize = 4;
/// The largest block the 16-bit length field can describe.
pub const MAX_LEN: usize = 0xFFFF;

/// Why a metadata block could not be built or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MetadataError {
    /// The output buffer cannot hold the block.
    BufferTooSmall,
    /// A header name was empty or longer than 255 bytes, or a value longer
    /// than 65535 bytes, or the block longer than 65535 bytes.
    FieldTooLong,
    /// The bytes are not a well-formed block.
    Malformed,
}

impl core::fmt::Display for MetadataError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            MetadataError::BufferTooSmall => "buffer too small for the metadata block",
            MetadataError::FieldTooLong => "header name or value too long",
            MetadataError::Malformed => "malformed metadata block",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MetadataError {}

/// Builds a metadata block into a caller-provided buffer.
///
/// ```
/// let mut buf = [0u8; 64];
/// let block = braid::MetadataWriter::new(&mut buf, 7)
///     .unwrap()
///     .header(b"path", b"/telemetry")
///     .unwrap()
///     .finish();
/// let meta = braid::Metadata::parse(block).unwrap();
/// assert_eq!(meta.stream_type, 7);
/// assert_eq!(meta.headers().next(), Some((&b"path"[..], &b"/telemetry"[..])));
/// ```
#[derive(Debug)]
pub struct MetadataWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> MetadataWriter<'a> {
    /// Start a block with `stream_type`.
    ///
    /// # Errors
    /// [`MetadataError::BufferTooSmall`] if `buf` is under 4 bytes.
    pub fn new(buf: &'a mut [u8], stream_type: u32) -> Result<Self, MetadataError> {
        buf.get_mut(..TYPE_LEN)
            .ok_or(MetadataError::BufferTooSmall)?
            .copy_from_slice(&stream_type.to_be_bytes());
        Ok(MetadataWriter { buf, len: TYPE_LEN })
    }

    /// Append one header.
    ///
    /// # Errors
    /// [`MetadataError::FieldTooLong`] or [`MetadataError::BufferTooSmall`];
    /// the block is unchanged then.
    pub fn header(mut self, name: &[u8], value: &[u8]) -> Result<Self, MetadataError> {
        let name_len = u8::try_from(name.len()).map_err(|_| MetadataError::FieldTooLong)?;
        let value_len = u16::try_from(value.len()).map_err(|_| MetadataError::FieldTooLong)?;
        if name_len == 0 {
            return Err(MetadataError::FieldTooLong);
        }
        let need = 3 + name.len() + value.len();
        if self.len + need > MAX_LEN {
            return Err(MetadataError::FieldTooLong);
        }
        let out = self.buf.get_mut(self.len..self.len + need).ok_or(MetadataError::BufferTooSmall)?;
        out[0] = name_len;
        out[1..3].copy_from_slice(&value_len.to_be_bytes());
        out[3..3 + name.len()].copy_from_slice(name);
        out[3 + name.len()..].copy_from_slice(value);
        self.len += need;
        Ok(self)
    }

    /// The finished block, ready for `Session::open_with` or `accept_with`.
    #[must_use]
    pub fn finish(self) -> &'a [u8] {
        &self.buf[..self.len]
    }
}

/// A parsed metadata block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metadata<'a> {
    /// The stream type (application-defined; muxado's typed streams).
    pub stream_type: u32,
    raw_headers: &'a [u8],
}

impl<'a> Metadata<'a> {
    /// Parse and check a whole block.
    ///
    /// # Errors
    /// [`MetadataError::Malformed`] when it is not well formed.
    pub fn parse(block: &'a [u8]) -> Result<Self, MetadataError> {
        let mut v = MetadataValidator::new(block.len());
        v.feed(block).map_err(|_| MetadataError::Malformed)?;
        if !v.is_complete() {
            return Err(MetadataError::Malformed);
        }
        let mut t = [0u8; TYPE_LEN];
        t.copy_from_slice(&block[..TYPE_LEN]);
        Ok(Metadata { stream_type: u32::from_be_bytes(t), raw_headers: &block[TYPE_LEN..] })
    }

    /// The headers in order, as `(name, value)` pairs.
    #[must_use]
    pub fn headers(&self) -> Headers<'a> {
        Headers { rest: self.raw_headers }
    }

    /// The value of the first header named `name`.
    #[must_use]
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// Iterator over the headers of a checked block.
#[derive(Clone, Debug)]
pub struct Headers<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&name_len, rest) = self.rest.split_first()?;
        let value_len = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        let rest = rest.get(2..)?;
        let name = rest.get(..name_len as usize)?;
        let value = rest.get(name_len as usize..name_len as usize + value_len)?;
        self.rest = &rest[name_len as usize + value_len..];
        Some((name, value))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    Type,
    NameLen,
    ValueLenHi,
    ValueLenLo,
    Name,
    Value,
}

/// A streaming checker for a metadata block whose bytes arrive in pieces:
/// the session runs it over the bytes as they pass to the stream's buffer,
/// so a malformed block is caught without holding it anywhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MetadataValidator {
    phase: Phase,
    /// Bytes left in the current field (type, name or value).
    left: u16,
    /// Bytes left in the whole block.
    remaining: u16,
    /// Length of the value that follows the current name.
    value_len: u16,
    value_hi: u8,
}

impl MetadataValidator {
    /// A checker for a block of `len` bytes. A `len` under 4 or over 65535
    /// can never be complete.
    #[must_use]
    pub fn new(len: usize) -> Self {
        MetadataValidator {
            phase: Phase::Type,
            left: TYPE_LEN as u16,
            remaining: u16::try_from(len).unwrap_or(0),
            value_len: 0,
            value_hi: 0,
        }
    }

    /// Whether every byte of the block has been seen and it is well formed.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.remaining == 0 && self.phase == Phase::NameLen
    }

    /// Check the next bytes of the block.
    ///
    /// # Errors
    /// [`ProtocolError::MetadataMalformed`] as soon as the bytes cannot be a
    /// well-formed block of the announced length.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ProtocolError> {
        if bytes.len() > self.remaining as usize {
            return Err(ProtocolError::MetadataMalformed);
        }
        while !bytes.is_empty() {
            let consumed = match self.phase {
                Phase::Type | Phase::Name | Phase::Value => {
                    let take = (self.left as usize).min(bytes.len());
                    self.left -= take as u16;
                    if self.left == 0 {
                        self.phase = match self.phase {
                            Phase::Name if self.value_len > 0 => {
                                self.left = self.value_len;
                                Phase::Value
                            }
                            _ => Phase::NameLen,
                        };
                    }
                    take
                }
                Phase::NameLen => {
                    if bytes[0] == 0 {
                        return Err(ProtocolError::MetadataMalformed);
                    }
                    self.left = u16::from(bytes[0]);
                    self.phase = Phase::ValueLenHi;
                    1
                }
                Phase::ValueLenHi => {
                    self.value_hi = bytes[0];
                    self.phase = Phase::ValueLenLo;
                    1
                }
                Phase::ValueLenLo => {
                    self.value_len = u16::from_be_bytes([self.value_hi, bytes[0]]);
                    // The name and value must fit in what is left of the block.
                    let after = self.remaining as usize - 1;
                    if self.left as usize + self.value_len as usize > after {
                        return Err(ProtocolError::MetadataMalformed);
                    }
                    self.phase = Phase::Name;
                    1
                }
            };
            self.remaining -= consumed as u16;
            bytes = &bytes[consumed..];
        }
        if self.remaining == 0 && self.phase != Phase::NameLen {
            return Err(ProtocolError::MetadataMalformed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ([u8; 64], usize) {
        let mut buf = [0u8; 64];
        let n = MetadataWriter::new(&mut buf, 0xABCD)
            .unwrap()
            .header(b"a", b"")
            .unwrap()
            .header(b"name", b"value")
            .unwrap()
            .finish()
            .len();
        (buf, n)
    }

    #[test]
    fn writer_and_parser_agree() {
        let (buf, n) = block();
        let m = Metadata::parse(&buf[..n]).unwrap();
        assert_eq!(m.stream_type, 0xABCD);
        let all: [(&[u8], &[u8]); 2] = [(b"a", b""), (b"name", b"value")];
        assert!(m.headers().eq(all.iter().copied()));
        assert_eq!(m.header(b"name"), Some(&b"value"[..]));
    }

    #[test]
    fn validator_gives_same_answer_in_any_chunking() {
        let (buf, n) = block();
        for split in 0..=n {
            let mut v = MetadataValidator::new(n);
            v.feed(&buf[..split]).unwrap();
            v.feed(&buf[split..n]).unwrap();
            assert!(v.is_complete());
        }
        let mut v = MetadataValidator::new(n);
        for b in &buf[..n] {
            assert!(!v.is_complete());
            v.feed(core::slice::from_ref(b)).unwrap();
        }
        assert!(v.is_complete());
    }

    #[test]
    fn malformed_blocks_are_rejected() {
        assert_eq!(Metadata::parse(&[0, 0, 0]), Err(MetadataError::Malformed));
        assert!(Metadata::parse(&[0, 0, 0, 1]).is_ok());
        // empty name
        assert_eq!(Metadata::parse(&[0, 0, 0, 1, 0, 0, 0]), Err(MetadataError::Malformed));
        // value longer than the block
        assert_eq!(Metadata::parse(&[0, 0, 0, 1, 1, 0, 5, b'x', b'y']), Err(MetadataError::Malformed));
        // truncated header
        assert_eq!(Metadata::parse(&[0, 0, 0, 1, 1, 0]), Err(MetadataError::Malformed));
        let mut v = MetadataValidator::new(4);
        assert_eq!(v.feed(&[0; 5]), Err(ProtocolError::MetadataMalformed));
    }

    #[test]
    fn writer_limits() {
        let mut tiny = [0u8; 3];
        assert_eq!(MetadataWriter::new(&mut tiny, 1).unwrap_err(), MetadataError::BufferTooSmall);
        let mut buf = [0u8; 8];
        let w = MetadataWriter::new(&mut buf, 1).unwrap();
        assert_eq!(w.header(b"", b"x").unwrap_err(), MetadataError::FieldTooLong);
        let w = MetadataWriter::new(&mut buf, 1).unwrap();
        assert_eq!(w.header(b"long", b"value").unwrap_err(), MetadataError::BufferTooSmall);
    }
}
