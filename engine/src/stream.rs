//! One stream's state: ids, half-close and reset bits, windows, buffer
//! positions and queue links, in at most 64 bytes (buffers live in the
//! [`Storage`](crate::Storage)).

use crate::ring::Ring;

/// Index of a stream's slot in its storage.
pub(crate) type Slot = u32;
/// "No slot": the end of an intrusive list.
pub(crate) const NIL: Slot = u32::MAX;

/// State bits of a stream.
pub(crate) mod bit {
    /// This side opened the stream.
    pub const LOCAL: u32 = 1 << 0;
    /// Opening frame (SYN, or the acceptor's reply with metadata) not yet sent.
    pub const OPEN_PENDING: u32 = 1 << 1;
    /// Peer-opened, waiting in the accept queue (or for its metadata).
    pub const INCOMING: u32 = 1 << 2;
    /// The application finished writing: FIN goes out after the data.
    pub const FIN_QUEUED: u32 = 1 << 3;
    /// FIN sent.
    pub const FIN_SENT: u32 = 1 << 4;
    /// FIN received.
    pub const FIN_RECVD: u32 = 1 << 5;
    /// The application read the end of the stream.
    pub const EOF_READ: u32 = 1 << 6;
    /// An RST is waiting to be sent (code in `code`).
    pub const RST_PENDING: u32 = 1 << 7;
    /// This side reset the stream (RST sent or about to be).
    pub const RESET_LOCAL: u32 = 1 << 8;
    /// The peer reset the stream (or GOAWAY refused it); code in `code`.
    pub const RESET_REMOTE: u32 = 1 << 9;
    /// The opener has received the acceptor's first frame.
    pub const FIRST_RECVD: u32 = 1 << 10;
    /// A write returned WouldBlock: announce Writable when room frees.
    pub const WANT_WRITABLE: u32 = 1 << 11;
    /// In the open (SYN) queue.
    pub const IN_OPEN_Q: u32 = 1 << 12;
    /// In the data send queue.
    pub const IN_SEND_Q: u32 = 1 << 13;
    /// In the control queue (RST or WNDINC).
    pub const IN_CTRL_Q: u32 = 1 << 14;
    /// In the event queue.
    pub const IN_EVENT_Q: u32 = 1 << 15;
    /// In the accept queue.
    pub const IN_ACCEPT_Q: u32 = 1 << 16;
    /// The session ended while the stream was live.
    pub const SESSION_ENDED: u32 = 1 << 17;
    /// The stream is over: not found by id, freed once off every queue.
    pub const DEAD: u32 = 1 << 18;
    /// Its metadata block is still arriving (peer-opened or reply).
    pub const META_ARRIVING: u32 = 1 << 19;
    /// The application was told of the peer's reset (event or error).
    pub const RESET_SEEN: u32 = 1 << 20;
}

/// Pending event bits of a stream, kept in the same word as its state.
pub(crate) mod ev {
    pub const READABLE: u32 = 1 << 24;
    pub const WRITABLE: u32 = 1 << 25;
    pub const FINISHED: u32 = 1 << 26;
    pub const RESET: u32 = 1 << 27;
    /// Every event bit.
    pub const ALL: u32 = READABLE | WRITABLE | FINISHED | RESET;
}

/// One stream's state. Opaque: storages hold it, the session reads it.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stream {
    pub(crate) id: u32,
    pub(crate) bits: u32,
    /// Reset code: received (RESET_REMOTE) or to send / sent (RESET_LOCAL).
    pub(crate) code: u32,
    /// Unread peer metadata block at the head of `rx`.
    pub(crate) rx_meta: u16,
    /// This side's metadata block at the head of `tx`, sent with the opening frame.
    pub(crate) tx_meta: u16,
    /// Bytes this side may still send (the peer's credit).
    pub(crate) send_window: u32,
    /// Bytes the peer may still send.
    pub(crate) recv_window: u32,
    /// Current receive window size (grows with auto-tuning).
    pub(crate) recv_target: u32,
    /// Bytes the application consumed since the last WNDINC.
    pub(crate) recv_consumed: u32,
    pub(crate) rx: Ring,
    pub(crate) tx: Ring,
    pub(crate) next_send: Slot,
    pub(crate) next_ctrl: Slot,
    pub(crate) next_event: Slot,
    /// Start of the current auto-tuning epoch, in milliseconds (wrapping).
    pub(crate) epoch_ms: u32,
}

impl Stream {
    /// A free slot's contents. All zero bytes, so that new storage is a
    /// `memset` a compiler can do in place (see [`ArrayStorage::new`]).
    ///
    /// [`ArrayStorage::new`]: crate::ArrayStorage::new
    pub const EMPTY: Stream = Stream {
        id: 0,
        bits: 0,
        code: 0,
        rx_meta: 0,
        tx_meta: 0,
        send_window: 0,
        recv_window: 0,
        recv_target: 0,
        recv_consumed: 0,
        rx: Ring::EMPTY,
        tx: Ring::EMPTY,
        // Not NIL: a link means something only while the stream is in its
        // queue, and the queue sets it when it takes the stream.
        next_send: 0,
        next_ctrl: 0,
        next_event: 0,
        epoch_ms: 0,
    };

    /// Whether this slot holds a live (findable) stream.
    pub(crate) const fn is_live(&self) -> bool {
        self.id != 0 && self.bits & bit::DEAD == 0
    }

    pub(crate) const fn has(&self, b: u32) -> bool {
        self.bits & b != 0
    }

    pub(crate) fn set(&mut self, b: u32) {
        self.bits |= b;
    }

    pub(crate) fn clear(&mut self, b: u32) {
        self.bits &= !b;
    }

    /// No longer sending: FIN sent, or reset either way, or the session ended.
    pub(crate) const fn send_done(&self) -> bool {
        self.has(bit::FIN_SENT | bit::RESET_LOCAL | bit::RESET_REMOTE | bit::SESSION_ENDED)
    }

    /// No longer receiving: the application read EOF, reset the stream, or
    /// was told of the peer's reset.
    pub(crate) const fn recv_done(&self) -> bool {
        self.has(bit::EOF_READ | bit::RESET_LOCAL)
            || (self.has(bit::RESET_REMOTE) && self.has(bit::RESET_SEEN))
    }

    /// Whether the slot is linked into any queue.
    pub(crate) const fn queued(&self) -> bool {
        self.has(bit::IN_OPEN_Q | bit::IN_SEND_Q | bit::IN_CTRL_Q | bit::IN_EVENT_Q | bit::IN_ACCEPT_Q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_state_fits_in_64_bytes() {
        assert!(core::mem::size_of::<Stream>() <= 64, "{}", core::mem::size_of::<Stream>());
    }
}
