//! One error enum per command. "Would block" is a variant: the matching
//! event says when to try again.

use crate::ErrorCode;
use core::fmt;

macro_rules! error_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident $( ( $field:ty ) )? => $text:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[must_use]
        pub enum $name {
            $($(#[$vm])* $variant $( ($field) )?,)*
        }

        impl fmt::Display for $name {
            #[allow(unused_variables)]
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( error_enum!(@pat $name $variant $( $field )?) => f.write_str($text), )*
                }
            }
        }

        #[cfg(feature = "std")]
        impl std::error::Error for $name {}
    };
    (@pat $name:ident $variant:ident $field:ty) => { $name::$variant(_) };
    (@pat $name:ident $variant:ident) => { $name::$variant };
}

error_enum! {
    /// Why [`Session::open`](crate::Session::open) failed.
    OpenError {
        /// The peer's SETTINGS have not arrived yet; wait for `Event::Connected`.
        Handshaking => "handshake not complete",
        /// The peer granted no more stream credit; wait for `Event::OpenReady`.
        NoCredit => "no stream credit",
        /// Every stream slot is in use or kept for the peer; wait for `Event::OpenReady`.
        NoCapacity => "no free stream slot",
        /// A GOAWAY was sent or received: no new streams on this session.
        GoingAway => "session is going away",
        /// Every stream id of this side's parity was used.
        IdsExhausted => "stream ids exhausted",
        /// The metadata is larger than the peer accepts or the send buffer holds.
        MetadataTooLarge => "metadata too large",
        /// The metadata is not a well-formed block.
        MetadataMalformed => "malformed metadata",
        /// The session has ended.
        SessionClosed => "session closed",
    }
}

error_enum! {
    /// Why [`Session::accept`](crate::Session::accept) or
    /// [`Session::refuse`](crate::Session::refuse) failed.
    AcceptError {
        /// No stream is waiting; wait for `Event::Incoming`.
        WouldBlock => "no incoming stream",
        /// The reply metadata is larger than the peer accepts or the send buffer holds.
        MetadataTooLarge => "metadata too large",
        /// The reply metadata is not a well-formed block.
        MetadataMalformed => "malformed metadata",
        /// The refusal code is in the reserved range (spec.md [S-9.1]).
        ReservedCode => "reserved error code",
        /// The session has ended.
        SessionClosed => "session closed",
    }
}

error_enum! {
    /// Why [`Session::read`](crate::Session::read) failed.
    ReadError {
        /// Nothing to read yet; wait for `Event::Readable` or `Event::Finished`.
        WouldBlock => "no data yet",
        /// The peer reset the stream with this code.
        Reset(ErrorCode) => "stream reset by peer",
        /// This side reset the stream.
        LocallyReset => "stream reset by this side",
        /// No live stream has this id: never opened, not accepted yet, or
        /// over and forgotten (see "Stream lifetime" on [`Session`](crate::Session)).
        UnknownStream => "unknown stream",
        /// The session ended before the stream's end arrived.
        SessionClosed => "session closed",
    }
}

error_enum! {
    /// Why [`Session::write`](crate::Session::write) failed.
    WriteError {
        /// The send buffer is full; wait for `Event::Writable`.
        WouldBlock => "send buffer full",
        /// [`Session::finish`](crate::Session::finish) was already called.
        Finished => "stream already finished",
        /// The peer reset the stream with this code.
        Reset(ErrorCode) => "stream reset by peer",
        /// This side reset the stream.
        LocallyReset => "stream reset by this side",
        /// No live stream has this id.
        UnknownStream => "unknown stream",
        /// The session has ended.
        SessionClosed => "session closed",
    }
}

error_enum! {
    /// Why [`Session::finish`](crate::Session::finish),
    /// [`Session::reset`](crate::Session::reset) or
    /// [`Session::metadata`](crate::Session::metadata) failed.
    StreamError {
        /// No live stream has this id.
        UnknownStream => "unknown stream",
        /// The stream was reset (by either side), so it cannot finish.
        Reset => "stream was reset",
        /// The caller's buffer cannot hold the metadata; it needs this many bytes.
        BufferTooSmall(usize) => "buffer too small",
        /// The reset code is in the reserved range (spec.md [S-9.1]).
        ReservedCode => "reserved error code",
        /// The session has ended.
        SessionClosed => "session closed",
    }
}

error_enum! {
    /// Why [`Session::ping`](crate::Session::ping) failed.
    PingError {
        /// A PING is already outstanding; wait for `Event::Pong`.
        Busy => "ping outstanding",
        /// The session has ended.
        SessionClosed => "session closed",
    }
}

error_enum! {
    /// Why [`Session::go_away`](crate::Session::go_away) failed.
    GoAwayError {
        /// A GOAWAY was already sent.
        AlreadySent => "GOAWAY already sent",
        /// The code is in the reserved range (spec.md [S-9.1]).
        ReservedCode => "reserved error code",
        /// The session has ended.
        SessionClosed => "session closed",
    }
}
