//! Intrusive FIFO queues of stream slots: each stream carries its own link,
//! so queues cost nothing per entry and can never overflow. A stream that
//! dies while queued is skipped and freed when it reaches the head.

use crate::storage::sealed::StorageOps;
use crate::stream::{bit, Slot, Stream, NIL};

/// Which link field and membership bit a queue uses.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Link {
    Open,
    Send,
    Ctrl,
    Event,
    Accept,
}

impl Link {
    const fn bit(self) -> u32 {
        match self {
            Link::Open => bit::IN_OPEN_Q,
            Link::Send => bit::IN_SEND_Q,
            Link::Ctrl => bit::IN_CTRL_Q,
            Link::Event => bit::IN_EVENT_Q,
            Link::Accept => bit::IN_ACCEPT_Q,
        }
    }

    fn next(self, s: &mut Stream) -> &mut Slot {
        match self {
            // A stream is never in the open and send queues at once (nor in
            // the accept and send queues), so they share a link.
            Link::Open | Link::Send | Link::Accept => &mut s.next_send,
            Link::Ctrl => &mut s.next_ctrl,
            Link::Event => &mut s.next_event,
        }
    }
}

/// Head and tail of one intrusive queue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queue {
    head: Slot,
    tail: Slot,
    link: Link,
}

impl Queue {
    pub(crate) const fn new(link: Link) -> Self {
        Queue { head: NIL, tail: NIL, link }
    }

    pub(crate) const fn peek(&self) -> Option<Slot> {
        if self.head == NIL {
            None
        } else {
            Some(self.head)
        }
    }

    /// Append `slot` unless it is already in this queue.
    pub(crate) fn push<S: StorageOps>(&mut self, storage: &mut S, slot: Slot) {
        let s = storage.stream_mut(slot);
        if s.has(self.link.bit()) {
            return;
        }
        s.set(self.link.bit());
        *self.link.next(s) = NIL;
        if self.tail == NIL {
            self.head = slot;
        } else {
            *self.link.next(storage.stream_mut(self.tail)) = slot;
        }
        self.tail = slot;
    }

    /// Remove and return the head.
    pub(crate) fn pop<S: StorageOps>(&mut self, storage: &mut S) -> Option<Slot> {
        let slot = self.peek()?;
        let s = storage.stream_mut(slot);
        let next = core::mem::replace(self.link.next(s), NIL);
        s.clear(self.link.bit());
        self.head = next;
        if next == NIL {
            self.tail = NIL;
        }
        Some(slot)
    }

    /// Empty the queue, clearing every member's bit.
    pub(crate) fn clear<S: StorageOps>(&mut self, storage: &mut S) {
        while self.pop(storage).is_some() {}
    }
}
