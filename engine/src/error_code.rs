//! The wire error-code registry (spec.md §9).

use core::fmt;

/// A 32-bit error code as carried by RST and GOAWAY frames.
///
/// Codes 0–10 keep muxado's numbers; 11 is new in braid; 12 up to
/// `0x7FFF_FFFF` are reserved; [`ErrorCode::APPLICATION_MIN`] and above belong
/// to the application. Unknown codes received from a peer are reported as they
/// are.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful: no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0);
    /// The peer violated the protocol.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(1);
    /// The sender hit an internal failure.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(2);
    /// A flow-control window was exceeded or overflowed.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(3);
    /// DATA arrived on a stream after its FIN.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(4);
    /// The stream was refused before any of it was processed: safe to retry.
    pub const REFUSED: ErrorCode = ErrorCode(5);
    /// The stream is no longer wanted.
    pub const CANCEL: ErrorCode = ErrorCode(6);
    /// The stream was reset (generic).
    pub const STREAM_RESET: ErrorCode = ErrorCode(7);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(8);
    /// The acceptor's backlog was full.
    pub const ACCEPT_QUEUE_FULL: ErrorCode = ErrorCode(9);
    /// The peer sent too many unproductive frames (flood defence).
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(10);
    /// The preface carried a protocol version this side does not speak.
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(11);
    /// The first code of the application's range.
    pub const APPLICATION_MIN: u32 = 0x8000_0000;

    /// An application-defined code: `n` is offset into the application range,
    /// so `ErrorCode::application(1)` is `0x8000_0001`. Values of `n` at or
    /// above `0x8000_0000` are folded into the range.
    #[must_use]
    pub const fn application(n: u32) -> ErrorCode {
        ErrorCode(Self::APPLICATION_MIN | n)
    }

    /// Whether the code is in the reserved range (12 to `0x7FFF_FFFF`),
    /// which no side may send (spec.md [S-9.1]).
    #[must_use]
    pub const fn is_reserved(self) -> bool {
        self.0 > Self::UNSUPPORTED_VERSION.0 && self.0 < Self::APPLICATION_MIN
    }

    /// Whether the code is in the application range.
    #[must_use]
    pub const fn is_application(self) -> bool {
        self.0 >= Self::APPLICATION_MIN
    }

    /// The registry name of a protocol code, or `None` for reserved and
    /// application codes.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NO_ERROR",
            1 => "PROTOCOL_ERROR",
            2 => "INTERNAL_ERROR",
            3 => "FLOW_CONTROL_ERROR",
            4 => "STREAM_CLOSED",
            5 => "REFUSED",
            6 => "CANCEL",
            7 => "STREAM_RESET",
            8 => "FRAME_SIZE_ERROR",
            9 => "ACCEPT_QUEUE_FULL",
            10 => "ENHANCE_YOUR_CALM",
            11 => "UNSUPPORTED_VERSION",
            _ => return None,
        })
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None if self.is_application() => {
                write!(f, "APPLICATION({:#x})", self.0 - Self::APPLICATION_MIN)
            }
            None => write!(f, "UNKNOWN({:#x})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;

    #[test]
    fn muxado_numbers_are_kept() {
        assert_eq!(ErrorCode::NO_ERROR.0, 0);
        assert_eq!(ErrorCode::REFUSED.0, 5);
        assert_eq!(ErrorCode::ENHANCE_YOUR_CALM.0, 10);
    }

    #[test]
    fn displays_names_and_ranges() {
        assert_eq!(format!("{}", ErrorCode::CANCEL), "CANCEL");
        assert_eq!(format!("{}", ErrorCode::application(7)), "APPLICATION(0x7)");
        assert_eq!(format!("{}", ErrorCode(99)), "UNKNOWN(0x63)");
        assert!(ErrorCode(0x8000_0000).is_application());
        assert!(!ErrorCode(12).is_application());
    }
}
