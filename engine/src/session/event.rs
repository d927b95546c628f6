//! What the session reports: events, and why a session ended.

use crate::{Duration, ErrorCode, ProtocolError, StreamId};
use core::fmt;

/// Something the application should know, from [`Session::poll_event`](crate::Session::poll_event).
///
/// Stream events are edge-triggered and coalesced: one `Readable` covers
/// every byte that arrived until the event was polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The peer's SETTINGS arrived: streams may be opened now.
    Connected,
    /// At least one peer-opened stream waits for [`Session::accept`](crate::Session::accept).
    Incoming,
    /// A stream has data, metadata or its end to read.
    Readable(StreamId),
    /// A stream whose write returned `WouldBlock` has room again.
    Writable(StreamId),
    /// The peer finished sending on a stream (FIN); reads reach the end
    /// once the buffered data is read.
    Finished(StreamId),
    /// A stream was reset: by the peer (`remote`), by this side because the
    /// peer broke a stream rule (`STREAM_CLOSED`), or refused by the peer's
    /// GOAWAY (`REFUSED`: never processed, safe to retry).
    Reset {
        /// The stream.
        id: StreamId,
        /// The code.
        code: ErrorCode,
        /// Whether the peer sent it (RST or GOAWAY) rather than this side.
        remote: bool,
    },
    /// An open that failed for lack of stream credit or storage may succeed now.
    OpenReady,
    /// A PING was answered.
    Pong {
        /// The round-trip time it measured.
        rtt: Duration,
    },
    /// The peer sent GOAWAY; debug bytes are in [`Session::remote_debug`](crate::Session::remote_debug).
    GoAway {
        /// Streams this side opened above this id were not processed.
        last_stream: StreamId,
        /// The peer's code.
        code: ErrorCode,
    },
    /// The session ended. Always the last event.
    Closed(CloseReason),
}

/// Why a session ended: muxado's `Wait()` triple. The remote debug bytes are
/// in [`Session::remote_debug`](crate::Session::remote_debug).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CloseReason {
    /// What this side did or detected, if the end started here.
    pub local: Option<LocalError>,
    /// The code of the peer's GOAWAY, if one arrived.
    pub remote: Option<ErrorCode>,
}

impl CloseReason {
    /// Whether the session ended without an error on either side.
    ///
    /// The end of the transport after the peer's NO_ERROR GOAWAY counts as
    /// graceful: the peer finished its drain and closed first (§8.2), which
    /// this side sees as [`LocalError::TransportEof`].
    #[must_use]
    pub fn is_graceful(&self) -> bool {
        let remote_ok = matches!(self.remote, None | Some(ErrorCode::NO_ERROR));
        let local_ok = match self.local {
            None | Some(LocalError::GoAway(ErrorCode::NO_ERROR)) | Some(LocalError::Closed) => true,
            Some(LocalError::TransportEof) => self.remote == Some(ErrorCode::NO_ERROR),
            Some(_) => false,
        };
        local_ok && remote_ok
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.local, self.remote) {
            (Some(l), Some(r)) => write!(f, "{l}; peer sent GOAWAY {r}"),
            (Some(l), None) => write!(f, "{l}"),
            (None, Some(r)) => write!(f, "peer sent GOAWAY {r}"),
            (None, None) => f.write_str("ended"),
        }
    }
}

/// A session end that started on this side. Local conditions are never
/// wire codes (spec.md §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LocalError {
    /// The application called [`Session::close`](crate::Session::close).
    Closed,
    /// The application called [`Session::go_away`](crate::Session::go_away)
    /// with this code and the session then ended.
    GoAway(ErrorCode),
    /// The peer broke the protocol; a GOAWAY with its code was sent.
    Protocol(ProtocolError),
    /// Nothing arrived within the idle timeout.
    IdleTimeout,
    /// The peer's SETTINGS did not arrive within the handshake timeout.
    HandshakeTimeout,
    /// The transport reported end of input ([`Session::handle_eof`](crate::Session::handle_eof)).
    TransportEof,
    /// An internal invariant failed (a bug in braid); a GOAWAY with
    /// INTERNAL_ERROR was sent.
    Internal(&'static str),
    /// The serial link layer below the session failed
    /// ([`Session::handle_link_error`](crate::Session::handle_link_error),
    /// spec.md §14); no GOAWAY was sent.
    Link(LinkError),
}

/// Why the serial link layer (feature `link`, spec.md §14) ended a session.
/// Always a local condition, never a wire code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkError {
    /// Fail-stop mode: a link frame failed its checks (CRC, COBS, length),
    /// so session bytes may have been lost (spec.md [S-14.15]).
    CorruptFrame,
    /// Fail-stop mode: a DATA frame's sequence number skipped one or more
    /// frames (spec.md [S-14.15]).
    FrameLost,
    /// Reliable mode: the oldest unacknowledged frame was retransmitted the
    /// configured number of rounds without progress (spec.md [S-14.20]).
    RetryLimit,
    /// The peer started over with a new epoch: it rebooted (spec.md [S-14.11]).
    PeerRestarted,
    /// The peer started a new link session with the same epoch: it lost
    /// the previous one, for example after its own link error (spec.md [S-14.11]).
    PeerResynced,
    /// The session's next frame cannot fit the link MTU (metadata too long
    /// for the link), so it could never be sent (spec.md [S-14.12]).
    FrameTooLarge,
}

impl LinkError {
    /// A short description.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkError::CorruptFrame => "corrupt link frame",
            LinkError::FrameLost => "link frame lost",
            LinkError::RetryLimit => "link retry limit reached",
            LinkError::PeerRestarted => "link peer restarted",
            LinkError::PeerResynced => "link peer resynchronised",
            LinkError::FrameTooLarge => "frame larger than the link MTU",
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LinkError {}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::Closed => f.write_str("closed by this side"),
            LocalError::GoAway(code) => write!(f, "GOAWAY {code} sent by this side"),
            LocalError::Protocol(e) => write!(f, "peer broke the protocol: {e}"),
            LocalError::IdleTimeout => f.write_str("idle timeout"),
            LocalError::HandshakeTimeout => f.write_str("handshake timeout"),
            LocalError::TransportEof => f.write_str("transport closed"),
            LocalError::Internal(what) => write!(f, "internal error: {what}"),
            LocalError::Link(e) => write!(f, "link failed: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LocalError {}
