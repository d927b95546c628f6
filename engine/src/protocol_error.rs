//! Every way a peer can violate the protocol, each mapped to its wire code.

use crate::ErrorCode;
use core::fmt;

/// A violation of spec.md by the peer, detected by this side.
///
/// The session answers each with a GOAWAY carrying [`ProtocolError::code`]
/// and ends; nothing the peer sends can make the engine panic or allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolError {
    /// The first bytes were not braid's preface magic.
    BadPreface,
    /// The preface named a version other than 1.
    UnsupportedVersion(u8),
    /// The first frame after the preface was not a SETTINGS frame.
    ExpectedSettings,
    /// A frame's length exceeded this side's MAX_FRAME_SIZE.
    FrameTooLarge,
    /// A fixed-size frame had the wrong length, or a variable one a length
    /// outside its limits.
    BadFrameLength,
    /// RST or DATA on stream 0.
    NeedsStream,
    /// GOAWAY, SETTINGS or PING on a stream other than 0.
    NeedsSessionStream,
    /// A WNDINC with an increment of 0.
    ZeroIncrement,
    /// A SETTINGS value outside its range.
    SettingOutOfRange,
    /// A second non-ACK SETTINGS frame.
    SettingsRepeated,
    /// A SETTINGS ACK with no SETTINGS outstanding.
    UnexpectedSettingsAck,
    /// A window or credit grew past 2^31-1.
    WindowOverflow,
    /// DATA larger than the stream or session window.
    FlowControl,
    /// A SYN for an id of this side's parity.
    WrongParity,
    /// A SYN for an id at or below one the peer already opened.
    StreamReused,
    /// A frame for an id that was never opened.
    IdleStream,
    /// A SYN beyond the stream credit granted to the peer.
    CreditExceeded,
    /// A SYN for a stream that is already open.
    DuplicateSyn,
    /// Open metadata longer than this side's MAX_OPEN_METADATA.
    MetadataTooLarge,
    /// Metadata whose length field overruns its frame.
    MetadataOverrun,
    /// Metadata whose type and headers do not fill its length exactly.
    MetadataMalformed,
    /// META on a frame that may not carry it.
    MetadataUnexpected,
    /// A GOAWAY that raised the last-stream-id of an earlier one.
    GoAwayRaised,
    /// Too many unproductive frames (PING, empty DATA, unknown types, rapid
    /// resets, frames for forgotten streams) for the flood budget.
    Flood,
}

impl ProtocolError {
    /// The wire code sent in the GOAWAY that answers this violation.
    #[must_use]
    pub const fn code(self) -> ErrorCode {
        match self {
            ProtocolError::UnsupportedVersion(_) => ErrorCode::UNSUPPORTED_VERSION,
            ProtocolError::FrameTooLarge | ProtocolError::BadFrameLength | ProtocolError::MetadataOverrun => {
                ErrorCode::FRAME_SIZE_ERROR
            }
            ProtocolError::WindowOverflow | ProtocolError::FlowControl => ErrorCode::FLOW_CONTROL_ERROR,
            ProtocolError::Flood => ErrorCode::ENHANCE_YOUR_CALM,
            _ => ErrorCode::PROTOCOL_ERROR,
        }
    }

    /// A short description, also sent as the GOAWAY's debug bytes.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolError::BadPreface => "bad preface",
            ProtocolError::UnsupportedVersion(_) => "unsupported version",
            ProtocolError::ExpectedSettings => "first frame not SETTINGS",
            ProtocolError::FrameTooLarge => "frame exceeds max frame size",
            ProtocolError::BadFrameLength => "bad frame length",
            ProtocolError::NeedsStream => "frame needs a stream id",
            ProtocolError::NeedsSessionStream => "frame needs stream 0",
            ProtocolError::ZeroIncrement => "zero window increment",
            ProtocolError::SettingOutOfRange => "setting out of range",
            ProtocolError::SettingsRepeated => "second SETTINGS",
            ProtocolError::UnexpectedSettingsAck => "unexpected SETTINGS ACK",
            ProtocolError::WindowOverflow => "window overflow",
            ProtocolError::FlowControl => "flow control window exceeded",
            ProtocolError::WrongParity => "SYN with wrong id parity",
            ProtocolError::StreamReused => "stream id reused",
            ProtocolError::IdleStream => "frame for idle stream",
            ProtocolError::CreditExceeded => "stream credit exceeded",
            ProtocolError::DuplicateSyn => "SYN for open stream",
            ProtocolError::MetadataTooLarge => "metadata too large",
            ProtocolError::MetadataOverrun => "metadata overruns frame",
            ProtocolError::MetadataMalformed => "malformed metadata",
            ProtocolError::MetadataUnexpected => "unexpected metadata",
            ProtocolError::GoAwayRaised => "GOAWAY raised last stream id",
            ProtocolError::Flood => "flood",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.code())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}
