//! Errors of stream and session operations, and how a session ended.

use braid::{CloseReason, ErrorCode, LocalError};
use std::fmt;
use std::io;
use std::sync::Arc;

/// Why an operation on a session or a stream failed.
///
/// Stream I/O reports it inside a [`std::io::Error`] (see
/// [`Error::io_kind`] for the kinds); get it back with [`Error::from_io`]:
///
/// ```
/// use braid_async::Error;
/// let e: std::io::Error = Error::Reset { code: braid::ErrorCode::CANCEL, remote: true }.into();
/// assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
/// assert_eq!(Error::reset_code(&e), Some(braid::ErrorCode::CANCEL));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The stream was reset: by the peer (`remote`; a GOAWAY that refused
    /// the stream counts, with `REFUSED`), or by this side (its own
    /// [`reset`](crate::Stream::reset), or the engine because the peer broke
    /// a stream rule).
    Reset {
        /// The reset code.
        code: ErrorCode,
        /// Whether the peer sent it.
        remote: bool,
    },
    /// The stream was already shut down for writing (FIN queued).
    Finished,
    /// The session has ended; the reason, once known.
    SessionClosed(Option<CloseReason>),
    /// A GOAWAY was sent or received: this session opens no new streams.
    GoingAway,
    /// Every stream id of this side was used; open a new session.
    IdsExhausted,
    /// The metadata block is larger than the peer accepts.
    MetadataTooLarge,
    /// The metadata is not a well-formed block (an empty or over-long
    /// header name, a value over 65535 bytes).
    MetadataMalformed,
    /// The code is in the reserved range (12 to `0x7FFF_FFFF`, spec.md [S-9.1]).
    ReservedCode,
    /// A GOAWAY was already sent on this session.
    GoAwayAlreadySent,
    /// The session no longer knows the stream (it ended and was forgotten).
    UnknownStream,
}

impl Error {
    /// The [`io::ErrorKind`] this error maps to:
    ///
    /// | error | kind |
    /// |---|---|
    /// | `Reset` with `REFUSED` (never processed: safe to retry) | `ConnectionRefused` |
    /// | other `Reset` | `ConnectionReset` |
    /// | `Finished` | `BrokenPipe` |
    /// | `SessionClosed` | `BrokenPipe` on writes, `NotConnected` otherwise |
    /// | `GoingAway` | `ConnectionRefused` |
    /// | `MetadataTooLarge`, `MetadataMalformed`, `ReservedCode` | `InvalidInput` |
    /// | `IdsExhausted`, `GoAwayAlreadySent`, `UnknownStream` | `Other` |
    #[must_use]
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Reset { code, .. } if *code == ErrorCode::REFUSED => io::ErrorKind::ConnectionRefused,
            Error::Reset { .. } => io::ErrorKind::ConnectionReset,
            Error::Finished => io::ErrorKind::BrokenPipe,
            Error::SessionClosed(_) => io::ErrorKind::NotConnected,
            Error::GoingAway => io::ErrorKind::ConnectionRefused,
            Error::MetadataTooLarge | Error::MetadataMalformed | Error::ReservedCode => {
                io::ErrorKind::InvalidInput
            }
            Error::IdsExhausted | Error::GoAwayAlreadySent | Error::UnknownStream => io::ErrorKind::Other,
        }
    }

    /// The braid error inside an [`io::Error`] produced by a stream, if any.
    #[must_use]
    pub fn from_io(e: &io::Error) -> Option<&Error> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }

    /// The reset code carried by an [`io::Error`] from a reset stream.
    #[must_use]
    pub fn reset_code(e: &io::Error) -> Option<ErrorCode> {
        match Error::from_io(e) {
            Some(Error::Reset { code, .. }) => Some(*code),
            _ => None,
        }
    }

    /// As an [`io::Error`] for a write: a closed session is `BrokenPipe`.
    pub(crate) fn into_write_io(self) -> io::Error {
        let kind = match self {
            Error::SessionClosed(_) => io::ErrorKind::BrokenPipe,
            ref e => e.io_kind(),
        };
        io::Error::new(kind, self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Reset { code, remote: true } => write!(f, "stream reset by the peer with {code}"),
            Error::Reset { code, remote: false } => write!(f, "stream reset by this side with {code}"),
            Error::Finished => f.write_str("stream already shut down for writing"),
            Error::SessionClosed(Some(reason)) => write!(f, "session closed: {reason}"),
            Error::SessionClosed(None) => f.write_str("session closed"),
            Error::GoingAway => f.write_str("session is going away: no new streams"),
            Error::IdsExhausted => f.write_str("stream ids exhausted"),
            Error::MetadataTooLarge => f.write_str("metadata too large for the peer"),
            Error::MetadataMalformed => f.write_str("malformed metadata"),
            Error::ReservedCode => f.write_str("reserved error code"),
            Error::GoAwayAlreadySent => f.write_str("GOAWAY already sent"),
            Error::UnknownStream => f.write_str("stream no longer known to the session"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

impl From<braid::OpenError> for Error {
    fn from(e: braid::OpenError) -> Error {
        use braid::OpenError as E;
        match e {
            E::GoingAway => Error::GoingAway,
            E::IdsExhausted => Error::IdsExhausted,
            E::MetadataTooLarge => Error::MetadataTooLarge,
            E::MetadataMalformed => Error::MetadataMalformed,
            // The would-block kinds are waited on, never reported.
            E::Handshaking | E::NoCredit | E::NoCapacity | E::SessionClosed => Error::SessionClosed(None),
        }
    }
}

impl From<braid::AcceptError> for Error {
    fn from(e: braid::AcceptError) -> Error {
        use braid::AcceptError as E;
        match e {
            E::MetadataTooLarge => Error::MetadataTooLarge,
            E::MetadataMalformed => Error::MetadataMalformed,
            E::ReservedCode => Error::ReservedCode,
            E::WouldBlock | E::SessionClosed => Error::SessionClosed(None),
        }
    }
}

impl From<braid::MetadataError> for Error {
    fn from(_: braid::MetadataError) -> Error {
        Error::MetadataMalformed
    }
}

/// How a session ended: the engine's [`CloseReason`] (muxado's `Wait()`:
/// the local error and the peer's GOAWAY code), the peer's GOAWAY debug
/// bytes, and the transport error that ended it, if one did.
#[derive(Clone, Debug)]
pub struct SessionEnd {
    /// What this side did or detected, and the peer's GOAWAY code.
    pub reason: CloseReason,
    /// The debug bytes of the peer's GOAWAY (empty if none arrived).
    pub remote_debug: Vec<u8>,
    /// The transport error behind a [`LocalError::TransportEof`] end, if the
    /// transport failed (rather than reaching a clean end of input), or the
    /// driver was dropped before the session ended.
    pub transport_error: Option<Arc<io::Error>>,
}

impl SessionEnd {
    /// What this side did or detected, if the end started here.
    #[must_use]
    pub fn local(&self) -> Option<LocalError> {
        self.reason.local
    }

    /// The code of the peer's GOAWAY, if one arrived.
    #[must_use]
    pub fn remote(&self) -> Option<ErrorCode> {
        self.reason.remote
    }

    /// Whether the session ended without an error on either side (see
    /// [`CloseReason::is_graceful`]) and without a transport error.
    #[must_use]
    pub fn is_graceful(&self) -> bool {
        self.transport_error.is_none() && self.reason.is_graceful()
    }
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if !self.remote_debug.is_empty() {
            write!(f, " (peer said {:?})", String::from_utf8_lossy(&self.remote_debug))?;
        }
        if let Some(e) = &self.transport_error {
            write!(f, " (transport: {e})")?;
        }
        Ok(())
    }
}
