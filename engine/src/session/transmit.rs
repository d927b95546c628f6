//! Output: `poll_transmit` and the frame scheduler (spec.md §10).
//!
//! Order: preface and SETTINGS; then control frames (SETTINGS ACK, PING ACK,
//! PING, session and stream WNDINC, stream credit, RST), then GOAWAY, then
//! opening frames in the order streams were opened, then DATA round-robin
//! across streams. Control never waits behind bulk data, an opening frame
//! never waits behind data queued after it, and a FIN rides on (or after)
//! the last DATA of its stream.

use super::*;
use crate::frame::{
    flags, Frame, FrameType, GoAway, Header, META_LEN_FIELD, MIN_FRAME_SIZE, PREFACE, PREFACE_LEN,
};
use crate::trace::{Direction, FrameDetail};

impl<S: Storage> Session<S> {
    /// Write the next frames to send into `out` and return how many bytes
    /// were written (0: nothing to send, or the next frame needs more room
    /// than `out` has: see [`transmit_needed`](Self::transmit_needed)).
    /// Frames are never split across calls. Call until it returns 0.
    ///
    /// A buffer of 128 bytes or more always makes progress unless the
    /// application queued metadata longer than that.
    #[must_use = "the bytes written must be sent to the peer"]
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> usize {
        self.transmit_needed = 0;
        let mut w = Writer { out, pos: 0, blocked: 0 };
        if self.state == SessionState::Closed && !self.has(sbit::GOAWAY_PENDING) {
            return 0;
        }
        if !self.has(sbit::PREFACE_SENT) {
            self.send_preface(now, &mut w);
            if !self.has(sbit::PREFACE_SENT) {
                return self.done(w);
            }
        }
        if self.is_ended() {
            // After the end only the final GOAWAY may go (spec.md §9.2).
            self.send_goaway(&mut w);
            if !self.has(sbit::GOAWAY_PENDING) {
                self.state = SessionState::Closed;
            }
            return self.done(w);
        }
        if !self.send_control(now, &mut w) {
            return self.done(w);
        }
        // Opening frames first: nothing queued after an open (DATA on other
        // streams, our GOAWAY) may overtake its SYN (spec.md [S-5.25], [S-8.3]).
        if self.send_opens(&mut w) {
            if self.has(sbit::GOAWAY_PENDING) {
                self.send_goaway(&mut w);
                self.check_drained();
            }
            self.send_data(&mut w);
        }
        self.done(w)
    }

    fn done(&mut self, w: Writer<'_>) -> usize {
        if w.pos == 0 {
            self.transmit_needed = w.blocked as u32;
        }
        self.stats.bytes_sent += w.pos as u64;
        w.pos
    }

    fn send_preface(&mut self, now: Instant, w: &mut Writer<'_>) {
        let settings = Frame::Settings(self.local);
        if self.trace.free() < 2 {
            return; // drain poll_trace first
        }
        if w.room() < PREFACE_LEN + settings.encoded_len() {
            w.blocked = PREFACE_LEN + settings.encoded_len();
            return;
        }
        w.put(&PREFACE);
        let preface = Header::new(FrameType::Unknown(0), 0, StreamId(0), 0);
        self.trace.push(Direction::Sent, preface, FrameDetail::Preface);
        self.emit(w, &settings, FrameDetail::Settings(self.local));
        self.flags |= sbit::PREFACE_SENT;
        self.settings_sent_at = now;
    }

    /// Emit one control frame if it fits; false (and `w.blocked`) if not.
    fn emit(&mut self, w: &mut Writer<'_>, frame: &Frame<'_>, detail: FrameDetail) -> bool {
        if self.trace.is_full() {
            return false;
        }
        match frame.emit(&mut w.out[w.pos..]) {
            Ok(n) => {
                w.pos += n;
                self.stats.frames_sent += 1;
                self.trace.push(Direction::Sent, frame.header(), detail);
                true
            }
            Err(needed) => {
                w.blocked = w.blocked.max(needed);
                false
            }
        }
    }

    /// Control frames, first of all; false when one did not fit (then
    /// nothing after it may go: control never waits behind data).
    fn send_control(&mut self, now: Instant, w: &mut Writer<'_>) -> bool {
        if self.has(sbit::SETTINGS_ACK_PENDING) {
            if !self.emit(w, &Frame::SettingsAck, FrameDetail::SettingsAck) {
                return false;
            }
            self.flags &= !sbit::SETTINGS_ACK_PENDING;
        }
        if self.has(sbit::PONG_PENDING) {
            let f = Frame::Ping { ack: true, opaque: self.pong_payload };
            if !self.emit(w, &f, FrameDetail::Ping(u64::from_be_bytes(self.pong_payload))) {
                return false;
            }
            self.flags &= !sbit::PONG_PENDING;
        }
        if self.has(sbit::PING_PENDING) {
            let f = Frame::Ping { ack: false, opaque: self.ping_seq.to_be_bytes() };
            if !self.emit(w, &f, FrameDetail::Ping(self.ping_seq)) {
                return false;
            }
            self.flags = (self.flags & !sbit::PING_PENDING) | sbit::PING_OUTSTANDING;
            self.ping_sent_at = now;
        }
        if self.session_update_due() {
            let (inc, target) = self.session_increment(now);
            if inc > 0 {
                let f = Frame::WndInc { stream: StreamId::SESSION, credit: false, increment: inc };
                if !self.emit(w, &f, FrameDetail::WndInc(inc)) {
                    return false;
                }
                self.recv_window += inc;
                self.recv_target = target;
                self.recv_consumed = 0;
                self.recv_growth = 0;
                self.recv_epoch = now;
            }
        }
        if self.credit_due() {
            let inc = self.credit_owed;
            let f = Frame::WndInc { stream: StreamId::SESSION, credit: true, increment: inc };
            if !self.emit(w, &f, FrameDetail::WndInc(inc)) {
                return false;
            }
            self.credit_owed = 0;
            self.peer_credit_left += inc;
        }
        while let Some(slot) = self.ctrl_q.peek() {
            if !self.send_stream_control(now, w, slot) {
                return false;
            }
            self.ctrl_q.pop(&mut self.storage);
            self.retire(slot);
        }
        true
    }

    /// The session window increment due now, with auto-tuning growth.
    fn session_increment(&mut self, now: Instant) -> (u32, u32) {
        let mut target = self.recv_target;
        let mut inc = self.recv_consumed.saturating_add(self.recv_growth);
        let ceiling = self.config.session_window_max.clamp(self.local.session_window, MAX_WINDOW);
        if self.recv_consumed >= target / 2
            && self.grows(now.saturating_since(self.recv_epoch))
            && target < ceiling
        {
            let grown = target.saturating_mul(2).min(ceiling);
            inc = inc.saturating_add(grown - target);
            target = grown;
        }
        target = target.max(self.recv_target.saturating_add(self.recv_growth).min(MAX_WINDOW));
        let inc = inc.min(MAX_WINDOW - self.recv_window);
        (inc, target)
    }

    /// Whether a window consumed within `elapsed` since its last update
    /// should double: faster than two round trips means the window, not
    /// the reader, limits throughput.
    fn grows(&self, elapsed: Duration) -> bool {
        self.srtt.is_some_and(|rtt| elapsed.as_micros() < rtt.as_micros().saturating_mul(2))
    }

    /// RST or WNDINC for one stream; false if it did not fit.
    fn send_stream_control(&mut self, now: Instant, w: &mut Writer<'_>, slot: Slot) -> bool {
        let s = self.storage.stream(slot);
        let id = StreamId(s.id);
        if s.has(bit::RST_PENDING) {
            let code = ErrorCode(s.code);
            if !self.emit(w, &Frame::Rst { stream: id, code }, FrameDetail::Rst(code)) {
                return false;
            }
            self.storage.stream_mut(slot).clear(bit::RST_PENDING);
            return true;
        }
        if s.has(bit::FIN_RECVD | bit::RESET_LOCAL | bit::RESET_REMOTE | bit::SESSION_ENDED)
            || s.recv_consumed == 0
        {
            return true;
        }
        let now_us = now.as_micros() as u32;
        let elapsed = Duration::from_micros(u64::from(now_us.wrapping_sub(s.epoch_ms)));
        let mut target = s.recv_target;
        let mut inc = s.recv_consumed;
        let ceiling = self.stream_window_ceiling();
        if self.grows(elapsed) && target < ceiling {
            let grown = target.saturating_mul(2).min(ceiling);
            inc += grown - target;
            target = grown;
        }
        let inc = inc.min(MAX_WINDOW - s.recv_window);
        if inc == 0 {
            return true;
        }
        let f = Frame::WndInc { stream: id, credit: false, increment: inc };
        if !self.emit(w, &f, FrameDetail::WndInc(inc)) {
            return false;
        }
        let s = self.storage.stream_mut(slot);
        let growth = target - s.recv_target;
        s.recv_window += inc;
        s.recv_target = target;
        s.recv_consumed = 0;
        s.epoch_ms = now_us;
        // Keep the session window at least 1.5 times the largest stream window.
        let want = u64::from(target) * 3 / 2;
        let session_target = u64::from(self.recv_target) + u64::from(self.recv_growth);
        if growth > 0 && want > session_target {
            let ceiling =
                u64::from(self.config.session_window_max.clamp(self.local.session_window, MAX_WINDOW));
            let extra = want.min(ceiling).saturating_sub(session_target);
            self.recv_growth = self.recv_growth.saturating_add(extra as u32);
        }
        true
    }

    fn send_goaway(&mut self, w: &mut Writer<'_>) {
        if !self.has(sbit::GOAWAY_PENDING) {
            return;
        }
        // The debug bytes are cut so the frame fits the peer's MAX_FRAME_SIZE
        // (the smallest allowed one while its SETTINGS are unknown).
        let max_frame = if self.has(sbit::PEER_SETTINGS) { self.peer.max_frame_size } else { MIN_FRAME_SIZE };
        let debug_len =
            (self.goaway_debug_len as usize).min(max_frame as usize - crate::frame::GOAWAY_FIXED_LEN);
        let debug = self.goaway_debug;
        let g = GoAway {
            last_stream: StreamId(self.goaway_last),
            code: self.goaway_code,
            debug: &debug[..debug_len],
        };
        let detail =
            FrameDetail::GoAway { last_stream: g.last_stream, code: g.code, debug_len: debug_len as u8 };
        if self.emit(w, &Frame::GoAway(g), detail) {
            self.flags = (self.flags & !sbit::GOAWAY_PENDING) | sbit::GOAWAY_SENT;
        }
    }

    /// Send queued opening frames in order; false if one did not fit.
    fn send_opens(&mut self, w: &mut Writer<'_>) -> bool {
        while let Some(slot) = self.open_q.peek() {
            if !self.storage.stream(slot).has(bit::OPEN_PENDING) {
                self.open_q.pop(&mut self.storage);
                self.retire(slot);
                continue;
            }
            if self.send_stream_data(w, slot).is_none() {
                return false;
            }
            self.open_q.pop(&mut self.storage);
            let s = self.storage.stream_mut(slot);
            if s.has(bit::RESET_LOCAL) {
                // Reset before its SYN left: the RST follows the SYN.
                s.set(bit::RST_PENDING);
                self.ctrl_q.push(&mut self.storage, slot);
            } else {
                self.schedule(slot);
            }
            self.retire(slot);
        }
        true
    }

    fn send_data(&mut self, w: &mut Writer<'_>) {
        // Each turn writes a frame or takes a stream off the queue, so the
        // loop ends when the queue, the room or the windows run out.
        while let Some(slot) = self.send_q.peek() {
            match self.send_stream_data(w, slot) {
                None => return,
                Some(true) => {
                    // Round robin: the stream goes to the back if it has more.
                    self.send_q.pop(&mut self.storage);
                    self.schedule(slot);
                }
                Some(false) => {
                    self.send_q.pop(&mut self.storage);
                    self.retire(slot);
                }
            }
        }
    }

    /// Whether a stream has something the data scheduler can send now.
    pub(super) fn sendable(&self, slot: Slot) -> bool {
        let s = self.storage.stream(slot);
        if s.has(bit::OPEN_PENDING) || s.send_done() {
            return false;
        }
        (!s.tx.is_empty() && s.send_window > 0) || (s.has(bit::FIN_QUEUED) && s.tx.is_empty())
    }

    /// Put a stream on the send queue if it can send.
    pub(super) fn schedule(&mut self, slot: Slot) {
        if self.sendable(slot) {
            self.send_q.push(&mut self.storage, slot);
        }
    }

    /// Emit one DATA frame for `slot`: the opening frame (SYN and/or META)
    /// if pending, as much data as windows, frame size and `w` allow, and
    /// FIN if the data ends here. Returns `None` when the frame did not fit
    /// (or the session window is shut and data is all it has), else whether
    /// a frame was written.
    fn send_stream_data(&mut self, w: &mut Writer<'_>, slot: Slot) -> Option<bool> {
        if self.trace.is_full() {
            return None;
        }
        let max_frame = self.peer.max_frame_size as usize;
        let session_window = self.send_window as usize;
        let (s, _, tx) = self.storage.parts(slot);
        let opening = s.has(bit::OPEN_PENDING);
        let meta = if opening { usize::from(s.tx_meta) } else { 0 };
        let meta_part = if meta > 0 { META_LEN_FIELD + meta } else { 0 };
        let data_avail = s.tx.len() - meta;
        let fixed = HEADER_LEN + meta_part;
        if w.room() < fixed {
            w.blocked = w.blocked.max(fixed + usize::from(data_avail > 0));
            return None;
        }
        let reset = s.has(bit::RESET_LOCAL);
        let data = if reset {
            0
        } else {
            data_avail
                .min(s.send_window as usize)
                .min(session_window)
                .min(max_frame.saturating_sub(meta_part))
                .min(w.room() - fixed)
        };
        let fin = !reset && s.has(bit::FIN_QUEUED) && data == data_avail && !s.has(bit::FIN_SENT);
        if !opening && data == 0 && !fin {
            if data_avail > 0 && s.send_window > 0 && session_window == 0 {
                return None; // session window shut: keep the queue as it is
            }
            if data_avail > 0 && w.room() < fixed + 1 {
                w.blocked = w.blocked.max(fixed + 1);
                return None;
            }
            return Some(false);
        }
        let mut fl = 0;
        if opening && s.has(bit::LOCAL) {
            fl |= flags::SYN;
            self.highest_syn_sent = self.highest_syn_sent.max(s.id);
        }
        if meta > 0 {
            fl |= flags::META;
        }
        if fin {
            fl |= flags::FIN;
        }
        let header = Header::new(FrameType::Data, fl, StreamId(s.id), (meta_part + data) as u32);
        let out = &mut w.out[w.pos..];
        out[..HEADER_LEN].copy_from_slice(&header.to_bytes());
        let mut at = HEADER_LEN;
        if meta > 0 {
            out[at..at + META_LEN_FIELD].copy_from_slice(&(meta as u16).to_be_bytes());
            at += META_LEN_FIELD;
        }
        let copied = s.tx.peek(tx, 0, &mut out[at..at + meta + data]);
        debug_assert_eq!(copied, meta + data);
        s.tx.consume(tx.len(), meta + data);
        w.pos += at + meta + data;
        s.tx_meta = 0;
        s.send_window -= data as u32;
        s.clear(bit::OPEN_PENDING);
        if fin {
            s.set(bit::FIN_SENT);
        }
        let freed = data + meta > 0 && s.has(bit::WANT_WRITABLE);
        if freed {
            s.clear(bit::WANT_WRITABLE);
        }
        self.send_window -= data as u32;
        // Each DATA frame sent may draw up to two WNDINC from the peer.
        self.flood_tokens = self.flood_tokens.saturating_add(2).min(self.config.flood_burst);
        self.stats.frames_sent += 1;
        self.stats.data_sent += data as u64;
        let detail = FrameDetail::Data { meta_len: meta as u16, data_len: data as u32 };
        self.trace.push(Direction::Sent, header, detail);
        if freed {
            self.push_event(slot, ev::WRITABLE);
        }
        Some(self.sendable(slot))
    }
}

/// The caller's output buffer and how much of it is filled.
struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
    /// Room the first frame that did not fit needed.
    blocked: usize,
}

impl Writer<'_> {
    fn room(&self) -> usize {
        self.out.len() - self.pos
    }

    fn put(&mut self, bytes: &[u8]) {
        self.out[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }
}
