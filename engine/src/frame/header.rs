//! The 8-byte frame header (spec.md §3).

use crate::{ProtocolError, StreamId};

/// Length of every frame header.
pub const HEADER_LEN: usize = 8;

/// The 4-bit frame type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameType {
    /// Reset a stream with a code.
    Rst,
    /// Stream data; also opens (SYN) and half-closes (FIN) streams.
    Data,
    /// Window increment (stream or session) or stream credit.
    WndInc,
    /// End of the session, with last stream id, code and debug bytes.
    GoAway,
    /// Settings, sent once in the preface, and their ACK.
    Settings,
    /// Keepalive and round-trip measurement.
    Ping,
    /// A type this version does not define (6–15): skipped on receipt.
    Unknown(u8),
}

impl FrameType {
    /// The type from its 4-bit wire value.
    #[must_use]
    pub const fn from_nibble(n: u8) -> Self {
        match n & 0xF {
            0 => FrameType::Rst,
            1 => FrameType::Data,
            2 => FrameType::WndInc,
            3 => FrameType::GoAway,
            4 => FrameType::Settings,
            5 => FrameType::Ping,
            other => FrameType::Unknown(other),
        }
    }

    /// The 4-bit wire value.
    #[must_use]
    pub const fn nibble(self) -> u8 {
        match self {
            FrameType::Rst => 0,
            FrameType::Data => 1,
            FrameType::WndInc => 2,
            FrameType::GoAway => 3,
            FrameType::Settings => 4,
            FrameType::Ping => 5,
            FrameType::Unknown(n) => n & 0xF,
        }
    }

    /// The name used in traces.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            FrameType::Rst => "RST",
            FrameType::Data => "DATA",
            FrameType::WndInc => "WNDINC",
            FrameType::GoAway => "GOAWAY",
            FrameType::Settings => "SETTINGS",
            FrameType::Ping => "PING",
            FrameType::Unknown(_) => "UNKNOWN",
        }
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Payload bytes after the header (24 bits).
    pub length: u32,
    /// Frame type.
    pub kind: FrameType,
    /// The 4 flag bits, as received (unknown bits included).
    pub flags: u8,
    /// Stream id with the reserved bit masked off.
    pub stream: StreamId,
}

impl Header {
    /// A header; `length` is truncated to 24 bits and `flags` to 4.
    #[must_use]
    pub const fn new(kind: FrameType, flags: u8, stream: StreamId, length: u32) -> Self {
        Header {
            length: length & super::MAX_PAYLOAD,
            kind,
            flags: flags & 0xF,
            stream: StreamId(stream.0 & super::MAX_WINDOW),
        }
    }

    /// Decode 8 bytes. Never fails: every bit pattern is a header; the
    /// reserved bit is masked (spec.md [S-3.2]).
    #[must_use]
    pub const fn parse(b: &[u8; HEADER_LEN]) -> Self {
        let length = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let stream = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) & super::MAX_WINDOW;
        Header {
            length,
            kind: FrameType::from_nibble(b[3] >> 4),
            flags: b[3] & 0xF,
            stream: StreamId(stream),
        }
    }

    /// Encode into 8 bytes (reserved bit 0).
    #[must_use]
    pub const fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let l = self.length.to_be_bytes();
        let s = (self.stream.0 & super::MAX_WINDOW).to_be_bytes();
        [l[1], l[2], l[3], self.kind.nibble() << 4 | (self.flags & 0xF), s[0], s[1], s[2], s[3]]
    }

    /// Whether all bits of `flag` are set.
    #[must_use]
    pub const fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }

    /// The checks that need nothing but the header and this side's
    /// MAX_FRAME_SIZE: the frame-size and stream-0 rules of spec.md §4.
    ///
    /// # Errors
    /// The violation, per spec.md [S-4.1], [S-4.2], [S-4.6]–[S-4.8] and [S-4.12].
    pub const fn check(&self, max_frame_size: u32) -> Result<(), ProtocolError> {
        use super::*;
        let len = self.length as usize;
        match self.kind {
            FrameType::Settings => {
                if self.stream.0 != 0 {
                    return Err(ProtocolError::NeedsSessionStream);
                }
                let ok = if self.has(flags::ACK) {
                    len == 0
                } else {
                    len <= SETTINGS_MAX_LEN && len.is_multiple_of(SETTING_ENTRY_LEN)
                };
                if !ok {
                    return Err(ProtocolError::BadFrameLength);
                }
                return Ok(());
            }
            _ => {
                if self.length > max_frame_size {
                    return Err(ProtocolError::FrameTooLarge);
                }
            }
        }
        match self.kind {
            FrameType::Rst | FrameType::Data if self.stream.0 == 0 => Err(ProtocolError::NeedsStream),
            FrameType::GoAway | FrameType::Ping if self.stream.0 != 0 => {
                Err(ProtocolError::NeedsSessionStream)
            }
            FrameType::Rst if len != RST_LEN => Err(ProtocolError::BadFrameLength),
            FrameType::WndInc if len != WNDINC_LEN => Err(ProtocolError::BadFrameLength),
            FrameType::Ping if len != PING_LEN => Err(ProtocolError::BadFrameLength),
            FrameType::GoAway if len < GOAWAY_FIXED_LEN || len > GOAWAY_FIXED_LEN + GOAWAY_DEBUG_MAX => {
                Err(ProtocolError::BadFrameLength)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_masks_reserved_bit() {
        let h = Header::new(FrameType::Data, 0x3, StreamId(5), 300);
        let b = h.to_bytes();
        assert_eq!(b, [0, 1, 44, 0x13, 0, 0, 0, 5]);
        assert_eq!(Header::parse(&b), h);
        let mut r = b;
        r[4] |= 0x80;
        assert_eq!(Header::parse(&r).stream, StreamId(5));
    }

    #[test]
    fn size_rules() {
        let max = 16384;
        let rst = |len| Header::new(FrameType::Rst, 0, StreamId(1), len);
        assert_eq!(rst(4).check(max), Ok(()));
        assert_eq!(rst(5).check(max), Err(ProtocolError::BadFrameLength));
        let data = Header::new(FrameType::Data, 0, StreamId(1), max + 1);
        assert_eq!(data.check(max), Err(ProtocolError::FrameTooLarge));
        let data0 = Header::new(FrameType::Data, 0, StreamId(0), 1);
        assert_eq!(data0.check(max), Err(ProtocolError::NeedsStream));
        let ping = Header::new(FrameType::Ping, 0, StreamId(3), 8);
        assert_eq!(ping.check(max), Err(ProtocolError::NeedsSessionStream));
        let settings = Header::new(FrameType::Settings, 0, StreamId(0), 7);
        assert_eq!(settings.check(max), Err(ProtocolError::BadFrameLength));
        let ack = Header::new(FrameType::Settings, 1, StreamId(0), 6);
        assert_eq!(ack.check(max), Err(ProtocolError::BadFrameLength));
        let goaway = Header::new(FrameType::GoAway, 0, StreamId(0), 8 + 65);
        assert_eq!(goaway.check(max), Err(ProtocolError::BadFrameLength));
        let unknown = Header::new(FrameType::Unknown(9), 0xF, StreamId(77), 100);
        assert_eq!(unknown.check(max), Ok(()));
    }
}
