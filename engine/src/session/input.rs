//! Inputs: the streaming decoder behind `handle_input`, and `handle_eof`.

use super::*;
use crate::frame::{flags, Frame, FrameType, GoAway, Header, META_LEN_FIELD, PREFACE, VERSION};
use crate::metadata::MetadataValidator;
use crate::trace::{Direction, FrameDetail};

/// What a frame's stream id refers to (spec.md §5.6–§5.7).
enum Known {
    /// A live stream.
    Live(Slot),
    /// At or below the highest id seen, no longer known: drop silently.
    Forgotten,
    /// Never opened: a protocol error.
    Idle,
}

impl<S: Storage> Session<S> {
    /// Consume bytes read from the transport. Returns how many were
    /// consumed: all of them, unless the trace queue filled (drain
    /// [`poll_trace`](Self::poll_trace) and pass the rest again). Any
    /// chunking gives the same result, one byte at a time included.
    ///
    /// After the session has ended, input is consumed and ignored.
    #[must_use = "bytes not consumed must be passed again"]
    pub fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        if !input.is_empty() {
            self.last_recv = now;
        }
        let mut pos = 0;
        while pos < input.len() {
            if self.is_ended() {
                pos = input.len();
                break;
            }
            let rest = &input[pos..];
            let used = match self.rx {
                Rx::Preface | Rx::Header => {
                    if self.head_have == 0 && self.trace.is_full() {
                        break;
                    }
                    let used = self.fill_head(rest);
                    if self.head_have as usize == HEADER_LEN {
                        self.head_have = 0;
                        if matches!(self.rx, Rx::Preface) {
                            self.on_preface(now);
                        } else {
                            self.on_header(now, Header::parse(&self.head));
                        }
                    }
                    used
                }
                Rx::Control(h) => {
                    let want = h.length as usize - self.ctrl_have as usize;
                    let used = want.min(rest.len());
                    let at = self.ctrl_have as usize;
                    self.ctrl[at..at + used].copy_from_slice(&rest[..used]);
                    self.ctrl_have += used as u16;
                    if used == want {
                        self.rx = Rx::Header;
                        let len = h.length as usize;
                        let payload = self.ctrl;
                        self.ctrl_have = 0;
                        self.on_control(now, h, &payload[..len]);
                    }
                    used
                }
                Rx::MetaLen { target, left, fin } => {
                    let have = self.head_have as usize;
                    let used = (META_LEN_FIELD - have).min(rest.len());
                    self.head[have..have + used].copy_from_slice(&rest[..used]);
                    self.head_have += used as u8;
                    if self.head_have as usize == META_LEN_FIELD {
                        self.head_have = 0;
                        let meta_len = u16::from_be_bytes([self.head[0], self.head[1]]);
                        self.on_meta_len(target, left - META_LEN_FIELD as u32, meta_len, fin);
                    }
                    used
                }
                Rx::Meta { target, meta_left, data_left, fin, mut check } => {
                    let used = (meta_left as usize).min(rest.len());
                    let piece = &rest[..used];
                    if let Err(e) = check.feed(piece) {
                        self.fail(e);
                        continue;
                    }
                    let target = self.deliver(target, piece, false);
                    let meta_left = meta_left - used as u16;
                    if meta_left > 0 {
                        self.rx = Rx::Meta { target, meta_left, data_left, fin, check };
                    } else {
                        self.on_meta_complete(target);
                        self.after_payload_part(target, data_left, fin);
                    }
                    used
                }
                Rx::Data { target, left, fin } => {
                    let used = (left as usize).min(rest.len());
                    let target = self.deliver(target, &rest[..used], true);
                    self.after_payload_part(target, left - used as u32, fin);
                    used
                }
                Rx::Skip { left } => {
                    let used = (left as usize).min(rest.len());
                    let left = left - used as u32;
                    self.rx = if left == 0 { Rx::Header } else { Rx::Skip { left } };
                    used
                }
            };
            pos += used;
        }
        self.stats.bytes_received += pos as u64;
        pos
    }

    /// The transport reported end of input. The session ends with
    /// [`LocalError::TransportEof`] unless it already ended; data already
    /// received stays readable.
    pub fn handle_eof(&mut self, _now: Instant) {
        if self.is_ended() {
            // The peer is gone: a final GOAWAY still waiting can't reach it.
            self.flags &= !sbit::GOAWAY_PENDING;
            self.state = SessionState::Closed;
            return;
        }
        let remote = self.has(sbit::GOAWAY_RECVD).then_some(self.remote_code);
        self.finish_session(CloseReason { local: Some(LocalError::TransportEof), remote });
    }

    /// The link layer below the session failed (spec.md §14): the session
    /// ends at once with [`LocalError::Link`], like [`handle_eof`](Self::handle_eof)
    /// and without a GOAWAY, since the link can no longer carry one. Data
    /// already received stays readable. Called by `braid::link` (feature
    /// `link`); does nothing if the session already ended.
    pub fn handle_link_error(&mut self, _now: Instant, error: LinkError) {
        if self.is_ended() {
            self.flags &= !sbit::GOAWAY_PENDING;
            self.state = SessionState::Closed;
            return;
        }
        let remote = self.has(sbit::GOAWAY_RECVD).then_some(self.remote_code);
        self.finish_session(CloseReason { local: Some(LocalError::Link(error)), remote });
    }

    fn fill_head(&mut self, rest: &[u8]) -> usize {
        let have = self.head_have as usize;
        let used = (HEADER_LEN - have).min(rest.len());
        self.head[have..have + used].copy_from_slice(&rest[..used]);
        self.head_have += used as u8;
        used
    }

    fn on_preface(&mut self, _now: Instant) {
        if self.head[..7] != PREFACE[..7] {
            return self.fail(ProtocolError::BadPreface);
        }
        if self.head[7] != VERSION {
            return self.fail(ProtocolError::UnsupportedVersion(self.head[7]));
        }
        let header = Header::new(FrameType::Unknown(0), 0, StreamId(0), 0);
        self.trace.push(Direction::Received, header, FrameDetail::Preface);
        self.rx = Rx::Header;
    }

    fn on_header(&mut self, now: Instant, h: Header) {
        self.stats.frames_received += 1;
        self.rx = Rx::Header;
        if let Err(e) = h.check(self.local.max_frame_size) {
            return self.fail(e);
        }
        let is_settings = h.kind == FrameType::Settings && !h.has(flags::ACK);
        if !self.has(sbit::PEER_SETTINGS) && !is_settings {
            return self.fail(ProtocolError::ExpectedSettings);
        }
        match h.kind {
            FrameType::Data => self.on_data_header(now, h),
            FrameType::Unknown(_) => {
                self.trace.push(Direction::Received, h, FrameDetail::Unknown);
                if self.unproductive(now) && h.length > 0 {
                    self.rx = Rx::Skip { left: h.length };
                }
            }
            _ if h.length == 0 => self.on_control(now, h, &[]),
            _ => self.rx = Rx::Control(h),
        }
    }

    /// Classify a non-SYN frame's stream id (spec.md [S-5.16]–[S-5.17]).
    fn known(&self, id: u32) -> Known {
        if let Some(slot) = self.storage.find(id) {
            let s = self.storage.stream(slot);
            if s.has(bit::LOCAL) && s.has(bit::OPEN_PENDING) {
                return Known::Idle; // its SYN has not left: the peer cannot know it
            }
            return Known::Live(slot);
        }
        let ours = StreamId(id).opener() == Some(self.config.role);
        let highest = if ours { self.highest_syn_sent } else { self.highest_remote };
        if id > highest {
            Known::Idle
        } else {
            Known::Forgotten
        }
    }

    fn on_control(&mut self, now: Instant, h: Header, payload: &[u8]) {
        let frame = match Frame::from_parts(h, payload) {
            Ok(f) => f,
            Err(e) => return self.fail(e),
        };
        match frame {
            Frame::Rst { stream, code } => {
                self.trace.push(Direction::Received, h, FrameDetail::Rst(code));
                self.on_rst(now, stream.0, code);
            }
            Frame::WndInc { stream, credit, increment } => {
                self.trace.push(Direction::Received, h, FrameDetail::WndInc(increment));
                self.on_wndinc(now, stream.0, credit, increment);
            }
            Frame::GoAway(g) => {
                self.trace.push(
                    Direction::Received,
                    h,
                    FrameDetail::GoAway {
                        last_stream: g.last_stream,
                        code: g.code,
                        debug_len: g.debug.len() as u8,
                    },
                );
                self.on_goaway(g);
            }
            Frame::Settings(s) => {
                self.trace.push(Direction::Received, h, FrameDetail::Settings(s));
                if self.has(sbit::PEER_SETTINGS) {
                    return self.fail(ProtocolError::SettingsRepeated);
                }
                self.peer = s;
                self.flags |= sbit::PEER_SETTINGS | sbit::SETTINGS_ACK_PENDING | sbit::EV_CONNECTED;
                self.send_credit = s.stream_credit;
                self.send_window = s.session_window;
                if self.state == SessionState::Handshaking {
                    self.state = SessionState::Open;
                }
            }
            Frame::SettingsAck => {
                self.trace.push(Direction::Received, h, FrameDetail::SettingsAck);
                if !self.has(sbit::PREFACE_SENT) || self.has(sbit::SETTINGS_ACKED) {
                    return self.fail(ProtocolError::UnexpectedSettingsAck);
                }
                self.flags |= sbit::SETTINGS_ACKED;
                self.rtt_sample(now.saturating_since(self.settings_sent_at));
            }
            Frame::Ping { ack, opaque } => {
                self.trace.push(Direction::Received, h, FrameDetail::Ping(u64::from_be_bytes(opaque)));
                if ack {
                    if self.has(sbit::PING_OUTSTANDING) && opaque == self.ping_seq.to_be_bytes() {
                        self.flags &= !sbit::PING_OUTSTANDING;
                        self.flags |= sbit::EV_PONG;
                        self.rtt_sample(now.saturating_since(self.ping_sent_at));
                    }
                } else if self.unproductive(now) {
                    // At most one reply pending: a newer PING replaces it.
                    self.pong_payload = opaque;
                    self.flags |= sbit::PONG_PENDING;
                }
            }
            Frame::Data { .. } | Frame::Unknown { .. } => {}
        }
    }

    fn on_rst(&mut self, now: Instant, id: u32, code: ErrorCode) {
        let slot = match self.known(id) {
            Known::Idle => return self.fail(ProtocolError::IdleStream),
            Known::Forgotten => {
                self.unproductive(now);
                return;
            }
            Known::Live(slot) => slot,
        };
        let s = self.storage.stream(slot);
        // Rapid reset (opened and reset before it was accepted), or an RST
        // for a stream already reset: unproductive (spec.md §12).
        let wasted = s.has(bit::INCOMING | bit::RESET_LOCAL | bit::RESET_REMOTE);
        if wasted && !self.unproductive(now) {
            return;
        }
        self.reset_by_peer(slot, code);
    }

    /// The peer ended stream `slot` with `code` (RST, or GOAWAY): drop its
    /// buffers, refund the session window, and tell the application.
    fn reset_by_peer(&mut self, slot: Slot, code: ErrorCode) {
        let s = self.storage.stream_mut(slot);
        if s.has(bit::RESET_LOCAL | bit::RESET_REMOTE) {
            return;
        }
        let discarded = s.rx.len().saturating_sub(usize::from(s.rx_meta));
        s.rx.clear();
        s.tx.clear();
        s.rx_meta = 0;
        s.tx_meta = 0;
        s.clear(bit::META_ARRIVING);
        s.code = code.0;
        s.set(bit::RESET_REMOTE);
        s.clear(bit::WANT_WRITABLE | bit::OPEN_PENDING);
        s.bits &= !(ev::READABLE | ev::FINISHED | ev::WRITABLE);
        self.recv_consumed = self.recv_consumed.saturating_add(discarded as u32);
        self.push_event(slot, ev::RESET);
        self.retire(slot);
    }

    fn on_wndinc(&mut self, now: Instant, id: u32, credit: bool, inc: u32) {
        // Every WNDINC spends a flood token; every DATA frame this side
        // sends earns two back, so a peer's updates never run dry while
        // they answer real data (spec.md §12).
        if !self.unproductive(now) {
            return;
        }
        if id == 0 {
            let target = if credit { &mut self.send_credit } else { &mut self.send_window };
            let grown = u64::from(*target) + u64::from(inc);
            if grown > u64::from(MAX_WINDOW) {
                return self.fail(ProtocolError::WindowOverflow);
            }
            *target = grown as u32;
            if credit && self.take(sbit::WANT_OPEN) {
                self.flags |= sbit::EV_OPEN_READY;
            }
            return;
        }
        let slot = match self.known(id) {
            Known::Idle => return self.fail(ProtocolError::IdleStream),
            Known::Forgotten => return, // already counted above
            Known::Live(slot) => slot,
        };
        let s = self.storage.stream_mut(slot);
        let grown = u64::from(s.send_window) + u64::from(inc);
        if grown > u64::from(MAX_WINDOW) {
            return self.fail(ProtocolError::WindowOverflow);
        }
        s.send_window = grown as u32;
        self.schedule(slot);
    }

    fn on_goaway(&mut self, g: GoAway<'_>) {
        let last = g.last_stream.0;
        if self.has(sbit::GOAWAY_RECVD) && last > self.remote_last {
            return self.fail(ProtocolError::GoAwayRaised);
        }
        self.flags |= sbit::GOAWAY_RECVD | sbit::EV_GOAWAY;
        self.remote_last = last;
        self.remote_code = g.code;
        let n = g.debug.len().min(GOAWAY_DEBUG_MAX);
        self.remote_debug[..n].copy_from_slice(&g.debug[..n]);
        self.remote_debug_len = n as u8;
        if g.code != ErrorCode::NO_ERROR {
            // The peer is ending the session: every stream ends reset with
            // its code (spec.md [S-8.8]).
            for slot in 0..self.storage.slot_bound() as Slot {
                if self.storage.stream(slot).is_live() {
                    self.reset_by_peer(slot, g.code);
                }
            }
            return self.finish_session(CloseReason { local: None, remote: Some(g.code) });
        }
        // Streams this side opened above `last`, or whose SYN has not left,
        // were never processed (spec.md [S-8.3], [S-8.4]).
        for slot in 0..self.storage.slot_bound() as Slot {
            let s = self.storage.stream_mut(slot);
            if !(s.is_live() && s.has(bit::LOCAL) && (s.id > last || s.has(bit::OPEN_PENDING))) {
                continue;
            }
            if s.has(bit::RESET_LOCAL) {
                // Already reset here, its SYN (and so its RST) not sent yet:
                // neither goes now.
                if s.has(bit::OPEN_PENDING) {
                    s.clear(bit::OPEN_PENDING);
                    s.tx.clear();
                    s.tx_meta = 0;
                    self.retire(slot);
                }
            } else {
                self.reset_by_peer(slot, ErrorCode::REFUSED);
            }
        }
        if matches!(self.state, SessionState::Open | SessionState::Handshaking) {
            self.state = SessionState::Draining;
        }
        self.check_drained();
    }

    fn on_data_header(&mut self, now: Instant, h: Header) {
        let id = h.stream.0;
        let (syn, fin, meta) = (h.has(flags::SYN), h.has(flags::FIN), h.has(flags::META));
        // Whether this frame already spent a flood token.
        let mut counted = false;
        let target = if syn {
            match self.on_syn(id, meta) {
                Ok(t) => t,
                Err(e) => return self.fail(e),
            }
        } else {
            match self.known(id) {
                Known::Idle => return self.fail(ProtocolError::IdleStream),
                Known::Forgotten => {
                    if !self.unproductive(now) {
                        return;
                    }
                    counted = true;
                    Target::DISCARD
                }
                Known::Live(slot) => match self.on_frame_for_live(slot, meta) {
                    Ok(t) if t.slot == NIL => {
                        // For a stream already reset: in flight when the
                        // reset crossed, or a flood (spec.md §12).
                        if !self.unproductive(now) {
                            return;
                        }
                        counted = true;
                        t
                    }
                    Ok(t) => t,
                    Err(e) => return self.fail(e),
                },
            }
        };
        if meta {
            if (h.length as usize) < META_LEN_FIELD {
                return self.fail(ProtocolError::MetadataOverrun);
            }
            self.rx = Rx::MetaLen { target, left: h.length, fin };
            return;
        }
        self.trace.push(Direction::Received, h, FrameDetail::Data { meta_len: 0, data_len: h.length });
        if !self.charge(target, h.length) {
            return;
        }
        if h.length == 0 && !syn && !fin && !counted && !self.unproductive(now) {
            return;
        }
        self.after_payload_part(target, h.length, fin);
    }

    /// A SYN: check the id and credit, then make the stream (spec.md §5.3).
    fn on_syn(&mut self, id: u32, meta: bool) -> Result<Target, ProtocolError> {
        if StreamId(id).opener() != Some(self.config.role.peer()) {
            return Err(ProtocolError::WrongParity);
        }
        if id <= self.highest_remote {
            return Err(if self.storage.find(id).is_some() {
                ProtocolError::DuplicateSyn
            } else {
                ProtocolError::StreamReused
            });
        }
        if self.peer_credit_left == 0 {
            return Err(ProtocolError::CreditExceeded);
        }
        self.highest_remote = id;
        self.peer_credit_left -= 1;
        self.stats.streams_incoming += 1;
        let Some(slot) = self.storage.insert(id) else {
            // Unreachable while the credit invariant holds (slots promised to
            // the peer are kept free); end cleanly rather than drop the SYN.
            self.end(
                LocalError::Internal("no stream slot for a SYN within credit"),
                Some((ErrorCode::INTERNAL_ERROR, b"no stream slot")),
            );
            return Ok(Target::DISCARD);
        };
        self.slots_used += 1;
        let now_us = self.last_recv.as_micros() as u32;
        let refuse =
            self.state == SessionState::Draining || self.has(sbit::GOAWAY_SENT | sbit::GOAWAY_PENDING);
        let s = self.storage.stream_mut(slot);
        s.send_window = self.peer.initial_stream_window;
        s.recv_window = self.local.initial_stream_window;
        s.recv_target = self.local.initial_stream_window;
        s.epoch_ms = now_us;
        s.set(bit::FIRST_RECVD);
        if refuse {
            // After our GOAWAY: refused, never processed (spec.md [S-8.2]).
            s.code = ErrorCode::REFUSED.0;
            s.set(bit::RESET_LOCAL | bit::RST_PENDING | bit::INCOMING);
            self.ctrl_q.push(&mut self.storage, slot);
            return Ok(Target::DISCARD);
        }
        s.set(bit::INCOMING);
        if meta {
            s.set(bit::META_ARRIVING);
        } else {
            self.accept_q.push(&mut self.storage, slot);
            self.flags |= sbit::EV_INCOMING;
        }
        Ok(Target { slot, id })
    }

    /// A non-SYN DATA frame for a live stream.
    fn on_frame_for_live(&mut self, slot: Slot, meta: bool) -> Result<Target, ProtocolError> {
        let s = self.storage.stream_mut(slot);
        let first = !s.has(bit::FIRST_RECVD);
        s.set(bit::FIRST_RECVD);
        if meta {
            if !(first && s.has(bit::LOCAL)) {
                return Err(ProtocolError::MetadataUnexpected);
            }
            s.set(bit::META_ARRIVING);
        }
        if s.has(bit::RESET_LOCAL | bit::RESET_REMOTE | bit::SESSION_ENDED) {
            return Ok(Target::DISCARD);
        }
        if s.has(bit::FIN_RECVD) {
            // DATA after FIN: reset the stream (spec.md [S-5.20]).
            self.reset_slot(slot, ErrorCode::STREAM_CLOSED);
            self.push_event(slot, ev::RESET);
            return Ok(Target::DISCARD);
        }
        Ok(Target { slot, id: s.id })
    }

    fn on_meta_len(&mut self, target: Target, left: u32, meta_len: u16, fin: bool) {
        if u32::from(meta_len) > self.local.max_open_metadata {
            return self.fail(ProtocolError::MetadataTooLarge);
        }
        if u32::from(meta_len) > left {
            return self.fail(ProtocolError::MetadataOverrun);
        }
        if (meta_len as usize) < crate::metadata::TYPE_LEN {
            return self.fail(ProtocolError::MetadataMalformed);
        }
        let data_left = left - u32::from(meta_len);
        let header = Header::new(
            FrameType::Data,
            flags::META | if fin { flags::FIN } else { 0 },
            StreamId(target.id),
            left + META_LEN_FIELD as u32,
        );
        self.trace.push(Direction::Received, header, FrameDetail::Data { meta_len, data_len: data_left });
        if !self.charge(target, data_left) {
            return;
        }
        let target = self.live_target(target);
        if target.slot != NIL {
            self.storage.stream_mut(target.slot).rx_meta = meta_len;
        }
        self.rx = Rx::Meta {
            target,
            meta_left: meta_len,
            data_left,
            fin,
            check: MetadataValidator::new(meta_len.into()),
        };
    }

    fn on_meta_complete(&mut self, target: Target) {
        let target = self.live_target(target);
        if target.slot == NIL {
            return;
        }
        let s = self.storage.stream_mut(target.slot);
        s.clear(bit::META_ARRIVING);
        if s.has(bit::INCOMING) {
            self.accept_q.push(&mut self.storage, target.slot);
            self.flags |= sbit::EV_INCOMING;
        } else {
            self.push_event(target.slot, ev::READABLE);
        }
    }

    /// Check `len` data bytes against the windows and charge them
    /// (spec.md [S-7.2], [S-5.18], [S-5.19]). Discarded frames still charge, and refund, the
    /// session window.
    fn charge(&mut self, target: Target, len: u32) -> bool {
        if len > self.recv_window {
            self.fail(ProtocolError::FlowControl);
            return false;
        }
        let target = self.live_target(target);
        if target.slot != NIL {
            let s = self.storage.stream_mut(target.slot);
            if len > s.recv_window {
                self.fail(ProtocolError::FlowControl);
                return false;
            }
            s.recv_window -= len;
        }
        self.recv_window -= len;
        true
    }

    /// `target`, or DISCARD when its stream is gone or no longer receiving.
    fn live_target(&self, target: Target) -> Target {
        if target.slot == NIL {
            return target;
        }
        let s = self.storage.stream(target.slot);
        if s.id != target.id
            || !s.is_live()
            || s.has(bit::RESET_LOCAL | bit::RESET_REMOTE | bit::SESSION_ENDED)
        {
            Target::DISCARD
        } else {
            target
        }
    }

    /// Store payload bytes for a stream (or refund them if it is gone).
    fn deliver(&mut self, target: Target, bytes: &[u8], data: bool) -> Target {
        let target = self.live_target(target);
        if target.slot == NIL {
            if data {
                self.recv_consumed = self.recv_consumed.saturating_add(bytes.len() as u32);
            }
            return Target::DISCARD;
        }
        let buffered = self.storage.stream(target.slot).rx.len();
        self.storage.reserve(target.slot, buffered + bytes.len(), 0);
        let (s, rx, _) = self.storage.parts(target.slot);
        let stored = s.rx.write(rx, bytes);
        if stored < bytes.len() {
            // Cannot happen: the window check reserved the room.
            self.fail(ProtocolError::FlowControl);
            return Target::DISCARD;
        }
        if data && !bytes.is_empty() {
            self.stats.data_received += bytes.len() as u64;
            self.push_event(target.slot, ev::READABLE);
        }
        target
    }

    /// After part of a payload: move on, or finish the frame (FIN).
    fn after_payload_part(&mut self, target: Target, left: u32, fin: bool) {
        if self.is_ended() {
            return;
        }
        if left > 0 {
            self.rx = Rx::Data { target, left, fin };
            return;
        }
        self.rx = Rx::Header;
        let target = self.live_target(target);
        if fin && target.slot != NIL {
            let s = self.storage.stream_mut(target.slot);
            s.set(bit::FIN_RECVD);
            self.push_event(target.slot, ev::FINISHED);
            self.retire(target.slot);
        }
    }
}
