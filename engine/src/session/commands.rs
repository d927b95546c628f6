//! Commands: what the application asks of streams and the session.

use super::*;
use crate::frame::META_LEN_FIELD;
use crate::metadata::Metadata;

/// Which metadata check failed, before it is mapped to a command's error.
enum MetaProblem {
    TooLarge,
    Malformed,
}

impl<S: Storage> Session<S> {
    /// Open a stream. Its SYN is queued at once, even if nothing is ever
    /// written (spec.md [S-5.6]), and leaves before any frame queued after
    /// this call on other streams (spec.md [S-5.25]).
    ///
    /// # Errors
    /// See [`OpenError`]; `Handshaking`, `NoCredit` and `NoCapacity` are
    /// "would block".
    pub fn open(&mut self) -> Result<StreamId, OpenError> {
        self.open_inner(None)
    }

    /// Open a stream whose SYN carries a metadata block (a stream type and
    /// headers, built with [`MetadataWriter`](crate::MetadataWriter)).
    ///
    /// # Errors
    /// As [`open`](Self::open), and `MetadataTooLarge` / `MetadataMalformed`.
    pub fn open_with(&mut self, metadata: &[u8]) -> Result<StreamId, OpenError> {
        self.open_inner(Some(metadata))
    }

    fn open_inner(&mut self, metadata: Option<&[u8]>) -> Result<StreamId, OpenError> {
        match self.state {
            SessionState::Handshaking => return Err(OpenError::Handshaking),
            SessionState::Closing | SessionState::Closed => return Err(OpenError::SessionClosed),
            SessionState::Draining => return Err(OpenError::GoingAway),
            SessionState::Open => {}
        }
        if self.has(sbit::GOAWAY_SENT | sbit::GOAWAY_PENDING | sbit::GOAWAY_RECVD) {
            return Err(OpenError::GoingAway);
        }
        if self.has(sbit::IDS_EXHAUSTED) {
            return Err(OpenError::IdsExhausted);
        }
        if let Some(m) = metadata {
            self.check_outgoing_meta(m).map_err(|p| match p {
                MetaProblem::TooLarge => OpenError::MetadataTooLarge,
                MetaProblem::Malformed => OpenError::MetadataMalformed,
            })?;
        }
        if self.send_credit == 0 {
            self.flags |= sbit::WANT_OPEN;
            return Err(OpenError::NoCredit);
        }
        // Slots promised to the peer (credit granted or owed) stay free.
        let reserved = self.slots_used as usize + self.peer_credit_left as usize + self.credit_owed as usize;
        if reserved >= self.storage.capacity() {
            self.flags |= sbit::WANT_OPEN;
            return Err(OpenError::NoCapacity);
        }
        let id = self.next_local_id;
        let Some(slot) = self.storage.insert(id) else {
            self.flags |= sbit::WANT_OPEN;
            return Err(OpenError::NoCapacity);
        };
        self.slots_used += 1;
        self.send_credit -= 1;
        match id.checked_add(2) {
            Some(next) if next <= StreamId::MAX.0 => self.next_local_id = next,
            _ => self.flags |= sbit::IDS_EXHAUSTED,
        }
        self.stats.streams_opened += 1;
        let peer_window = self.peer.initial_stream_window;
        let window = self.local.initial_stream_window;
        self.storage.reserve(slot, 0, metadata.map_or(0, <[u8]>::len));
        let (s, _, tx) = self.storage.parts(slot);
        s.set(bit::LOCAL | bit::OPEN_PENDING);
        s.send_window = peer_window;
        s.recv_window = window;
        s.recv_target = window;
        s.epoch_ms = self.last_recv.as_micros() as u32;
        if let Some(m) = metadata {
            s.tx.write(tx, m);
            s.tx_meta = m.len() as u16;
        }
        self.open_q.push(&mut self.storage, slot);
        Ok(StreamId(id))
    }

    /// The live stream `id`, or `unknown` — `closed` once the session has
    /// ended (its streams are gone with it).
    fn find_or<E>(&self, id: StreamId, unknown: E, closed: E) -> Result<Slot, E> {
        match self.storage.find(id.0) {
            Some(slot) => Ok(slot),
            None if self.is_ended() => Err(closed),
            None => Err(unknown),
        }
    }

    fn check_outgoing_meta(&self, m: &[u8]) -> Result<(), MetaProblem> {
        let limit = (self.peer.max_open_metadata as usize)
            .min(self.storage.tx_capacity())
            .min((self.peer.max_frame_size as usize).saturating_sub(META_LEN_FIELD));
        if m.len() > limit {
            return Err(MetaProblem::TooLarge);
        }
        Metadata::parse(m).map(|_| ()).map_err(|_| MetaProblem::Malformed)
    }

    /// The oldest peer-opened stream waiting to be accepted, without
    /// accepting it (its metadata can be read with [`metadata`](Self::metadata)).
    #[must_use]
    pub fn incoming(&mut self) -> Option<StreamId> {
        self.skip_dead_incoming();
        self.accept_q.peek().map(|slot| StreamId(self.storage.stream(slot).id))
    }

    fn skip_dead_incoming(&mut self) {
        while let Some(slot) = self.accept_q.peek() {
            if self.storage.stream(slot).is_live() && !self.storage.stream(slot).has(bit::RESET_REMOTE) {
                return;
            }
            self.accept_q.pop(&mut self.storage);
            let s = self.storage.stream_mut(slot);
            s.clear(bit::INCOMING);
            s.set(bit::DEAD);
            self.retire(slot);
        }
    }

    /// Accept the oldest peer-opened stream.
    ///
    /// # Errors
    /// `WouldBlock` when none waits (see `Event::Incoming`), `SessionClosed`.
    pub fn accept(&mut self) -> Result<StreamId, AcceptError> {
        self.accept_inner(None)
    }

    /// Accept the oldest peer-opened stream and answer with reply metadata,
    /// sent at once on the stream's first frame (spec.md [S-5.15]).
    ///
    /// # Errors
    /// As [`accept`](Self::accept), and `MetadataTooLarge` / `MetadataMalformed`.
    pub fn accept_with(&mut self, reply: &[u8]) -> Result<StreamId, AcceptError> {
        self.accept_inner(Some(reply))
    }

    fn accept_inner(&mut self, reply: Option<&[u8]>) -> Result<StreamId, AcceptError> {
        if self.is_ended() {
            return Err(AcceptError::SessionClosed);
        }
        if let Some(m) = reply {
            self.check_outgoing_meta(m).map_err(|p| match p {
                MetaProblem::TooLarge => AcceptError::MetadataTooLarge,
                MetaProblem::Malformed => AcceptError::MetadataMalformed,
            })?;
        }
        self.skip_dead_incoming();
        let slot = self.accept_q.pop(&mut self.storage).ok_or(AcceptError::WouldBlock)?;
        self.storage.reserve(slot, 0, reply.map_or(0, <[u8]>::len));
        let (s, _, tx) = self.storage.parts(slot);
        s.clear(bit::INCOMING);
        let id = StreamId(s.id);
        let has_events = !s.rx.is_empty() || s.has(bit::FIN_RECVD);
        if let Some(m) = reply {
            s.tx.write(tx, m);
            s.tx_meta = m.len() as u16;
            s.set(bit::OPEN_PENDING);
            self.open_q.push(&mut self.storage, slot);
        }
        if has_events {
            // Data (and maybe FIN) that came with the SYN.
            let fin = self.storage.stream(slot).has(bit::FIN_RECVD);
            self.push_event(slot, ev::READABLE);
            if fin {
                self.push_event(slot, ev::FINISHED);
            }
        }
        if self.accept_q.peek().is_some() {
            self.flags |= sbit::EV_INCOMING;
        }
        Ok(id)
    }

    /// Refuse the oldest peer-opened stream with `code` (REFUSED says "not
    /// processed, safe to retry"; an application code says why).
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub fn refuse(&mut self, code: ErrorCode) -> Result<StreamId, AcceptError> {
        if code.is_reserved() {
            return Err(AcceptError::ReservedCode);
        }
        let id = self.accept()?;
        // The stream was just accepted, so reset cannot fail.
        let _ = self.reset(id, code);
        Ok(id)
    }

    /// Copy the peer's metadata for stream `id` (the opener's, for an
    /// incoming stream; the acceptor's reply, for a stream this side opened)
    /// into `buf`. Returns `Ok(None)` when there is none (or it was already
    /// read past). Parse it with [`Metadata::parse`].
    ///
    /// # Errors
    /// `UnknownStream`; `BufferTooSmall(n)` when `buf` is under `n` bytes.
    pub fn metadata(&self, id: StreamId, buf: &mut [u8]) -> Result<Option<usize>, StreamError> {
        let slot = self.find_or(id, StreamError::UnknownStream, StreamError::SessionClosed)?;
        let s = self.storage.stream(slot);
        let len = usize::from(s.rx_meta);
        if len == 0 || s.has(bit::META_ARRIVING) {
            return Ok(None);
        }
        let out = buf.get_mut(..len).ok_or(StreamError::BufferTooSmall(len))?;
        s.rx.peek(self.storage.rx(slot), 0, out);
        Ok(Some(len))
    }

    /// Read received data of stream `id` into `out`. `Ok(0)` with a
    /// non-empty `out` is the end of the stream (the peer's FIN). Unread
    /// metadata is skipped.
    ///
    /// # Errors
    /// See [`ReadError`]; `WouldBlock` means wait for `Event::Readable` or
    /// `Event::Finished`.
    pub fn read(&mut self, id: StreamId, out: &mut [u8]) -> Result<usize, ReadError> {
        let slot = self.find_or(id, ReadError::UnknownStream, ReadError::SessionClosed)?;
        let (s, rx, _) = self.storage.parts(slot);
        if s.has(bit::INCOMING) {
            return Err(ReadError::UnknownStream);
        }
        if s.has(bit::RESET_REMOTE) {
            let code = ErrorCode(s.code);
            self.reset_seen(slot);
            return Err(ReadError::Reset(code));
        }
        if s.has(bit::RESET_LOCAL) {
            return Err(ReadError::LocallyReset);
        }
        if s.has(bit::META_ARRIVING) {
            return Err(ReadError::WouldBlock);
        }
        if s.rx_meta > 0 {
            s.rx.consume(rx.len(), usize::from(s.rx_meta));
            s.rx_meta = 0;
        }
        if out.is_empty() {
            return Ok(0);
        }
        let n = s.rx.read(rx, out);
        if n > 0 {
            self.consumed(slot, n);
            return Ok(n);
        }
        if s.has(bit::FIN_RECVD) {
            s.set(bit::EOF_READ);
            self.retire(slot);
            return Ok(0);
        }
        if s.has(bit::SESSION_ENDED) {
            self.retire(slot);
            return Err(ReadError::SessionClosed);
        }
        Err(ReadError::WouldBlock)
    }

    /// Queue data on stream `id`; returns how much was taken (all of it,
    /// or what the send buffer had room for).
    ///
    /// # Errors
    /// See [`WriteError`]; `WouldBlock` (nothing taken) means wait for
    /// `Event::Writable`.
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, WriteError> {
        let slot = self.find_or(id, WriteError::UnknownStream, WriteError::SessionClosed)?;
        let s = self.storage.stream_mut(slot);
        if s.has(bit::INCOMING) {
            return Err(WriteError::UnknownStream);
        }
        if s.has(bit::RESET_REMOTE) {
            let code = ErrorCode(s.code);
            self.reset_seen(slot);
            return Err(WriteError::Reset(code));
        }
        if s.has(bit::RESET_LOCAL) {
            return Err(WriteError::LocallyReset);
        }
        if s.has(bit::SESSION_ENDED) {
            return Err(WriteError::SessionClosed);
        }
        if s.has(bit::FIN_QUEUED) {
            return Err(WriteError::Finished);
        }
        let unsent = s.tx.len();
        self.storage.reserve(slot, 0, unsent + data.len());
        let (s, _, tx) = self.storage.parts(slot);
        let n = s.tx.write(tx, data);
        if n == 0 && !data.is_empty() {
            s.set(bit::WANT_WRITABLE);
            return Err(WriteError::WouldBlock);
        }
        self.schedule(slot);
        Ok(n)
    }

    /// Half-close stream `id`: a FIN follows the data already written.
    /// Finishing twice is allowed and does nothing more.
    ///
    /// # Errors
    /// `UnknownStream`, `Reset`, `SessionClosed`.
    pub fn finish(&mut self, id: StreamId) -> Result<(), StreamError> {
        let slot = self.find_or(id, StreamError::UnknownStream, StreamError::SessionClosed)?;
        let s = self.storage.stream_mut(slot);
        if s.has(bit::INCOMING) {
            return Err(StreamError::UnknownStream);
        }
        if s.has(bit::RESET_LOCAL | bit::RESET_REMOTE) {
            self.reset_seen(slot);
            return Err(StreamError::Reset);
        }
        if s.has(bit::SESSION_ENDED) {
            return Err(StreamError::SessionClosed);
        }
        s.set(bit::FIN_QUEUED);
        self.schedule(slot);
        Ok(())
    }

    /// Reset stream `id` with `code`: both directions end, buffered data is
    /// dropped, and an RST tells the peer. Resetting a reset stream does
    /// nothing.
    ///
    /// # Errors
    /// `UnknownStream`, `SessionClosed`, `ReservedCode`.
    pub fn reset(&mut self, id: StreamId, code: ErrorCode) -> Result<(), StreamError> {
        if code.is_reserved() {
            return Err(StreamError::ReservedCode);
        }
        let slot = self.find_or(id, StreamError::UnknownStream, StreamError::SessionClosed)?;
        let s = self.storage.stream(slot);
        if s.has(bit::INCOMING) {
            return Err(StreamError::UnknownStream); // refuse() answers those
        }
        if s.has(bit::SESSION_ENDED) {
            return Err(StreamError::SessionClosed);
        }
        if s.has(bit::RESET_LOCAL | bit::RESET_REMOTE) {
            return Ok(());
        }
        if s.send_done() && s.has(bit::FIN_RECVD) && s.rx.is_empty() {
            // Both directions already ended cleanly: nothing to reset on the
            // wire; forget the stream.
            let s = self.storage.stream_mut(slot);
            s.set(bit::EOF_READ);
            self.retire(slot);
            return Ok(());
        }
        self.reset_slot(slot, code);
        self.retire(slot);
        Ok(())
    }

    /// The application learned of the peer's reset: the stream may go.
    fn reset_seen(&mut self, slot: Slot) {
        self.storage.stream_mut(slot).set(bit::RESET_SEEN);
        self.retire(slot);
    }

    /// Mark `slot` reset by this side with `code` and queue its RST (after
    /// its SYN, if that has not left yet).
    pub(super) fn reset_slot(&mut self, slot: Slot, code: ErrorCode) {
        let s = self.storage.stream_mut(slot);
        // While a metadata block is still arriving, `rx_meta` is its whole
        // length and the ring holds only part of it: no data to refund.
        let discarded = s.rx.len().saturating_sub(usize::from(s.rx_meta));
        s.rx.clear();
        s.rx_meta = 0;
        s.clear(bit::META_ARRIVING);
        s.code = code.0;
        s.set(bit::RESET_LOCAL);
        s.clear(bit::WANT_WRITABLE);
        s.bits &= !(ev::READABLE | ev::FINISHED | ev::WRITABLE);
        let syn_pending = s.has(bit::OPEN_PENDING) && s.has(bit::LOCAL);
        if !syn_pending {
            s.tx.clear();
            s.tx_meta = 0;
            s.clear(bit::OPEN_PENDING);
            s.set(bit::RST_PENDING);
            self.ctrl_q.push(&mut self.storage, slot);
        } else {
            // The SYN still goes out first, with its metadata but no data.
            let meta = usize::from(s.tx_meta);
            s.tx.truncate(meta);
        }
        self.recv_consumed = self.recv_consumed.saturating_add(discarded as u32);
    }

    /// Send GOAWAY. With `ErrorCode::NO_ERROR` the shutdown is graceful:
    /// streams already open finish, the peer may open no new ones (any it
    /// sent after this are refused with REFUSED), and the session ends when
    /// none are left. Any other code ends the session at once. `debug` is
    /// cut to 64 bytes.
    ///
    /// # Errors
    /// `AlreadySent`, `SessionClosed`, `ReservedCode`.
    pub fn go_away(&mut self, code: ErrorCode, debug: &[u8]) -> Result<(), GoAwayError> {
        if self.is_ended() {
            return Err(GoAwayError::SessionClosed);
        }
        if self.has(sbit::GOAWAY_SENT | sbit::GOAWAY_PENDING) {
            return Err(GoAwayError::AlreadySent);
        }
        if code.is_reserved() {
            return Err(GoAwayError::ReservedCode);
        }
        if code != ErrorCode::NO_ERROR {
            self.end(LocalError::GoAway(code), Some((code, debug)));
            return Ok(());
        }
        if !self.has(sbit::GOAWAY_RECVD) {
            self.flags |= sbit::LOCAL_GOAWAY_FIRST;
        }
        self.queue_goaway(code, debug);
        self.state = SessionState::Draining;
        self.check_drained();
        Ok(())
    }

    /// Send a PING; `Event::Pong` reports the round trip.
    ///
    /// # Errors
    /// `Busy` while one is outstanding, `SessionClosed`.
    pub fn ping(&mut self) -> Result<(), PingError> {
        if self.is_ended() {
            return Err(PingError::SessionClosed);
        }
        if self.has(sbit::PING_PENDING | sbit::PING_OUTSTANDING) {
            return Err(PingError::Busy);
        }
        self.ping_seq = self.ping_seq.wrapping_add(1);
        self.flags |= sbit::PING_PENDING;
        Ok(())
    }

    /// End the session now: a GOAWAY (NO_ERROR) goes out, every stream
    /// ends, and `Event::Closed` reports [`LocalError::Closed`]. Data
    /// already received stays readable. Closing a closed session does
    /// nothing.
    pub fn close(&mut self) {
        self.end(LocalError::Closed, Some((ErrorCode::NO_ERROR, b"")));
    }
}
