//! Whole-frame parse and emit: for control frames, tests, tools and peers
//! that hold a complete frame in memory.

use super::*;
use crate::{ErrorCode, ProtocolError, StreamId};

/// Why [`Frame::parse`] returned no frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParseError {
    /// The bytes end before the frame does; `needed` is the whole frame's
    /// length (header included) when known, else the header's.
    Incomplete {
        /// Bytes the complete frame occupies.
        needed: usize,
    },
    /// The frame breaks a rule of spec.md.
    Protocol(ProtocolError),
}

impl From<ProtocolError> for ParseError {
    fn from(e: ProtocolError) -> Self {
        ParseError::Protocol(e)
    }
}

/// The fields of a GOAWAY frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GoAway<'a> {
    /// Highest peer-opened stream the sender may have processed.
    pub last_stream: StreamId,
    /// Why the session ends.
    pub code: ErrorCode,
    /// Opaque diagnostic bytes (at most [`GOAWAY_DEBUG_MAX`]).
    pub debug: &'a [u8],
}

/// One complete, checked frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// RST: reset `stream` with `code`.
    Rst {
        /// The stream.
        stream: StreamId,
        /// The reason.
        code: ErrorCode,
    },
    /// DATA: `payload` includes the metadata block when `flags` has META.
    Data {
        /// The stream.
        stream: StreamId,
        /// FIN, SYN, META (unknown bits kept as received).
        flags: u8,
        /// Everything after the header.
        payload: &'a [u8],
    },
    /// WNDINC: window (or, with `credit` on stream 0, stream credit) increment.
    WndInc {
        /// The stream, or 0 for the session.
        stream: StreamId,
        /// Whether this raises stream credit (only meaningful on stream 0).
        credit: bool,
        /// The increment, 1..=2^31-1.
        increment: u32,
    },
    /// GOAWAY.
    GoAway(GoAway<'a>),
    /// SETTINGS (not ACK).
    Settings(Settings),
    /// SETTINGS with ACK.
    SettingsAck,
    /// PING, or its ACK.
    Ping {
        /// Whether this is the reply.
        ack: bool,
        /// The opaque bytes, echoed by the reply.
        opaque: [u8; PING_LEN],
    },
    /// A frame of a type this version does not define.
    Unknown {
        /// The header as received.
        header: Header,
        /// Its payload.
        payload: &'a [u8],
    },
}

impl<'a> Frame<'a> {
    /// Parse one frame from the start of `bytes`, checked against this side's
    /// `max_frame_size`. Returns the frame and the bytes it occupied.
    ///
    /// # Errors
    /// [`ParseError::Incomplete`] if more bytes are needed, or the violation.
    pub fn parse(bytes: &'a [u8], max_frame_size: u32) -> Result<(Frame<'a>, usize), ParseError> {
        let Some(h) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(ParseError::Incomplete { needed: HEADER_LEN });
        };
        let header = Header::parse(h);
        header.check(max_frame_size)?;
        let total = HEADER_LEN + header.length as usize;
        let Some(payload) = bytes.get(HEADER_LEN..total) else {
            return Err(ParseError::Incomplete { needed: total });
        };
        Ok((Self::from_parts(header, payload)?, total))
    }

    /// Build a frame from a header that passed [`Header::check`] and its
    /// complete payload.
    ///
    /// # Errors
    /// The payload-level violations (zero increment, settings ranges).
    pub fn from_parts(header: Header, payload: &'a [u8]) -> Result<Frame<'a>, ProtocolError> {
        let u32_at = |i: usize| -> u32 {
            let mut b = [0u8; 4];
            if let Some(src) = payload.get(i..i + 4) {
                b.copy_from_slice(src);
            }
            u32::from_be_bytes(b)
        };
        let stream = header.stream;
        Ok(match header.kind {
            FrameType::Rst => Frame::Rst { stream, code: ErrorCode(u32_at(0)) },
            FrameType::Data => Frame::Data { stream, flags: header.flags, payload },
            FrameType::WndInc => {
                let increment = u32_at(0) & MAX_WINDOW;
                if increment == 0 {
                    return Err(ProtocolError::ZeroIncrement);
                }
                let credit = stream.0 == 0 && header.has(flags::CREDIT);
                Frame::WndInc { stream, credit, increment }
            }
            FrameType::GoAway => Frame::GoAway(GoAway {
                last_stream: StreamId(u32_at(0) & MAX_WINDOW),
                code: ErrorCode(u32_at(4)),
                debug: payload.get(GOAWAY_FIXED_LEN..).unwrap_or(&[]),
            }),
            FrameType::Settings if header.has(flags::ACK) => Frame::SettingsAck,
            FrameType::Settings => Frame::Settings(Settings::decode(payload)?),
            FrameType::Ping => {
                let mut opaque = [0u8; PING_LEN];
                if let Some(src) = payload.get(..PING_LEN) {
                    opaque.copy_from_slice(src);
                }
                Frame::Ping { ack: header.has(flags::ACK), opaque }
            }
            FrameType::Unknown(_) => Frame::Unknown { header, payload },
        })
    }

    /// The header this frame is sent with.
    #[must_use]
    pub fn header(&self) -> Header {
        let (kind, flags, stream, len) = match *self {
            Frame::Rst { stream, .. } => (FrameType::Rst, 0, stream, RST_LEN),
            Frame::Data { stream, flags, payload } => (FrameType::Data, flags, stream, payload.len()),
            Frame::WndInc { stream, credit, .. } => {
                (FrameType::WndInc, if credit { flags::CREDIT } else { 0 }, stream, WNDINC_LEN)
            }
            Frame::GoAway(g) => (
                FrameType::GoAway,
                0,
                StreamId::SESSION,
                GOAWAY_FIXED_LEN + g.debug.len().min(GOAWAY_DEBUG_MAX),
            ),
            Frame::Settings(_) => (FrameType::Settings, 0, StreamId::SESSION, Settings::ENCODED_LEN),
            Frame::SettingsAck => (FrameType::Settings, flags::ACK, StreamId::SESSION, 0),
            Frame::Ping { ack, .. } => {
                (FrameType::Ping, if ack { flags::ACK } else { 0 }, StreamId::SESSION, PING_LEN)
            }
            Frame::Unknown { header, payload } => (header.kind, header.flags, header.stream, payload.len()),
        };
        Header::new(kind, flags, stream, len as u32)
    }

    /// Bytes the encoded frame occupies, header included.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.header().length as usize
    }

    /// Encode into `out`. GOAWAY debug bytes beyond [`GOAWAY_DEBUG_MAX`] are
    /// cut off.
    ///
    /// # Errors
    /// `Err(needed)` with the frame's length when `out` is too small; nothing
    /// is written then.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, usize> {
        let header = self.header();
        let total = HEADER_LEN + header.length as usize;
        let Some(out) = out.get_mut(..total) else {
            return Err(total);
        };
        let (head, body) = out.split_at_mut(HEADER_LEN);
        head.copy_from_slice(&header.to_bytes());
        match *self {
            Frame::Rst { code, .. } => body.copy_from_slice(&code.0.to_be_bytes()),
            Frame::Data { payload, .. } | Frame::Unknown { payload, .. } => body.copy_from_slice(payload),
            Frame::WndInc { increment, .. } => body.copy_from_slice(&(increment & MAX_WINDOW).to_be_bytes()),
            Frame::GoAway(g) => {
                body[..4].copy_from_slice(&(g.last_stream.0 & MAX_WINDOW).to_be_bytes());
                body[4..8].copy_from_slice(&g.code.0.to_be_bytes());
                let n = body.len() - 8;
                body[8..].copy_from_slice(&g.debug[..n]);
            }
            Frame::Settings(s) => {
                let _ = s.encode(body);
            }
            Frame::SettingsAck => {}
            Frame::Ping { opaque, .. } => body.copy_from_slice(&opaque),
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(f: Frame<'_>) {
        let mut buf = [0u8; 300];
        let n = f.emit(&mut buf).unwrap();
        assert_eq!(n, f.encoded_len());
        let (g, m) = Frame::parse(&buf[..n], 16384).unwrap();
        assert_eq!(m, n);
        assert_eq!(g, f);
    }

    #[test]
    fn every_type_round_trips() {
        round_trip(Frame::Rst { stream: StreamId(3), code: ErrorCode::CANCEL });
        round_trip(Frame::Data { stream: StreamId(3), flags: flags::SYN | flags::FIN, payload: b"hi" });
        round_trip(Frame::WndInc { stream: StreamId(0), credit: true, increment: 4 });
        round_trip(Frame::WndInc { stream: StreamId(9), credit: false, increment: MAX_WINDOW });
        round_trip(Frame::GoAway(GoAway {
            last_stream: StreamId(8),
            code: ErrorCode::NO_ERROR,
            debug: b"bye",
        }));
        round_trip(Frame::Settings(Settings::DEFAULT));
        round_trip(Frame::SettingsAck);
        round_trip(Frame::Ping { ack: true, opaque: *b"12345678" });
    }

    #[test]
    fn incomplete_and_invalid() {
        let mut buf = [0u8; 32];
        let n = Frame::Ping { ack: false, opaque: [7; 8] }.emit(&mut buf).unwrap();
        assert_eq!(Frame::parse(&buf[..3], 16384), Err(ParseError::Incomplete { needed: 8 }));
        assert_eq!(Frame::parse(&buf[..n - 1], 16384), Err(ParseError::Incomplete { needed: 16 }));
        let zero = [0, 0, 4, 0x20, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(Frame::parse(&zero, 16384), Err(ParseError::Protocol(ProtocolError::ZeroIncrement)));
    }

    #[test]
    fn emit_reports_room_needed() {
        let mut small = [0u8; 10];
        assert_eq!(Frame::Ping { ack: false, opaque: [0; 8] }.emit(&mut small), Err(16));
        assert_eq!(small, [0; 10]);
    }
}
