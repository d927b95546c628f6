//! The invariant model: what each application did and saw on each stream,
//! checked against what its session and the peer's application report.
//!
//! Stream data is a pattern of (salt, writer, stream id, offset), so the
//! model checks every byte read without keeping any of them.

use super::workload::Meta;
use braid::{
    AcceptError, CloseReason, ErrorCode, Event, GoAwayError, LocalError, OpenError, PingError, ReadError,
    StreamError, StreamId, WriteError,
};
use std::collections::{BTreeMap, BTreeSet};

/// Where the run is, for messages.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ctx {
    /// The seed being run.
    pub(crate) seed: u64,
    /// The session pair (0 for the first, +1 per restart or reconnect).
    pub(crate) epoch: u32,
    /// Steps so far.
    pub(crate) step: u64,
    /// The virtual clock.
    pub(crate) now_us: u64,
}

/// Panic with an invariant violation, saying where it happened.
macro_rules! violation {
    ($ctx:expr, $($arg:tt)*) => {
        panic!(
            "invariant violated (seed {}, epoch {}, step {}, t={}): {}",
            $ctx.seed,
            $ctx.epoch,
            $ctx.step,
            $crate::sim::trace::fmt_us($ctx.now_us),
            format_args!($($arg)*)
        )
    };
}
pub(crate) use violation;

/// Names of the sides, by index.
pub(crate) const SIDE: [&str; 2] = ["client", "server"];

/// What one application did and saw on one stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamModel {
    /// This side opened it.
    pub(crate) local: bool,
    /// Bytes the session took from `write`.
    pub(crate) written: u64,
    /// `finish` succeeded.
    pub(crate) finished: bool,
    /// Bytes read.
    pub(crate) read: u64,
    /// `read` returned the end of the stream.
    pub(crate) eof: bool,
    /// The application reset it (first code that took effect).
    pub(crate) local_reset: Option<ErrorCode>,
    /// The application learned of the peer's reset (event or error).
    pub(crate) remote_reset: Option<ErrorCode>,
    /// `read` reported the session's end for it.
    pub(crate) session_ended: bool,
    /// An operation said the stream is no longer known.
    pub(crate) forgotten: bool,
    /// `Readable` or `Finished` arrived and reads have not yet hit
    /// `WouldBlock` (the events are edge-triggered).
    pub(crate) read_hint: bool,
    /// `write` returned `WouldBlock` and no `Writable` came since.
    pub(crate) write_blocked: bool,
    /// Metadata this side sent (open or reply).
    pub(crate) meta_sent: Option<Vec<u8>>,
    /// The peer's reply metadata was seen through `metadata`.
    pub(crate) meta_seen: bool,
}

impl StreamModel {
    /// Reset by either side, as far as the application knows.
    pub(crate) fn was_reset(&self) -> bool {
        self.local_reset.is_some() || self.remote_reset.is_some()
    }

    /// Ended in a way the stream itself reported: both directions finished
    /// (EOF read, own side finished), or a reset.
    pub(crate) fn ended_cleanly(&self) -> bool {
        (self.eof && self.finished) || self.was_reset()
    }

    /// The session may forget it (see "Stream lifetime" on `Session`).
    fn may_be_forgotten(&self) -> bool {
        (self.eof && self.finished) || self.local_reset.is_some() || self.remote_reset.is_some()
    }
}

/// What one application did and saw on its session.
#[derive(Debug, Default)]
pub(crate) struct SideModel {
    /// Every stream the application knew (opened or accepted), by id.
    pub(crate) streams: BTreeMap<u32, StreamModel>,
    /// `Event::Connected` arrived.
    pub(crate) connected: bool,
    /// `Event::Closed` arrived, with this reason.
    pub(crate) closed: Option<CloseReason>,
    /// The session had ended (Closing or Closed) right after the last
    /// command: a command can end it (the last stream of a draining session
    /// retiring) before `Event::Closed` is polled.
    pub(crate) ended: bool,
    /// `Event::Incoming` arrived and `accept` has not yet blocked.
    pub(crate) incoming_hint: bool,
    /// An open blocked for credit or room and no `OpenReady` came since.
    pub(crate) open_blocked: bool,
    /// The application sent GOAWAY with this code.
    pub(crate) goaway_sent: Option<ErrorCode>,
    /// The application's GOAWAY debug bytes.
    pub(crate) goaway_debug: Vec<u8>,
    /// `Event::GoAway` arrived with this code.
    pub(crate) goaway_event: Option<ErrorCode>,
    /// The application called `close`.
    pub(crate) closed_by_app: bool,
    /// The host died.
    pub(crate) crashed: bool,
    /// The host passed the transport's EOF to the session.
    pub(crate) eof_fed: bool,
    /// The last id this side opened.
    pub(crate) last_opened: u32,
    /// The last id this side accepted.
    pub(crate) last_accepted: u32,
    /// Events seen.
    pub(crate) events: u64,
    /// Trace records seen (sent, received), preface excluded.
    pub(crate) traced: [u64; 2],
}

impl SideModel {
    /// The session has ended, as far as the application can tell.
    pub(crate) fn over(&self) -> bool {
        self.closed.is_some() || self.ended
    }
}

/// Both applications' views of one session pair.
#[derive(Debug)]
pub(crate) struct Model {
    /// Client and server.
    pub(crate) sides: [SideModel; 2],
    /// Varies the data pattern per epoch.
    pub(crate) salt: u64,
    /// No PING can come back faster than the two latencies.
    pub(crate) min_rtt_us: u64,
    /// Ids of streams either application knew that may still exist in a
    /// session (the invariants look at these; forgotten ones are pruned
    /// when nothing is in flight).
    pub(crate) live_ids: BTreeSet<u32>,
    /// Where the run is.
    pub(crate) ctx: Ctx,
}

impl Model {
    /// A fresh model for a new session pair.
    pub(crate) fn new(salt: u64, min_rtt_us: u64, ctx: Ctx) -> Self {
        Model { sides: Default::default(), salt, min_rtt_us, live_ids: BTreeSet::new(), ctx }
    }

    /// Byte `offset` of what `writer` writes on stream `id`.
    pub(crate) fn pattern(&self, writer: usize, id: u32, offset: u64) -> u8 {
        let key = self.salt ^ ((u64::from(id) << 1) | writer as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let x = (offset ^ key).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        ((x >> 56) ^ (x >> 24)) as u8
    }

    /// The next `len` bytes `writer` would write on `id`.
    pub(crate) fn data(&self, writer: usize, id: u32, len: usize) -> Vec<u8> {
        let from = self.sides[writer].streams.get(&id).map_or(0, |s| s.written);
        (0..len as u64).map(|i| self.pattern(writer, id, from + i)).collect()
    }

    fn known(&mut self, s: usize, id: StreamId, what: &dyn std::fmt::Debug) -> &mut StreamModel {
        let ctx = self.ctx;
        match self.sides[s].streams.get_mut(&id.0) {
            Some(st) => st,
            None => violation!(
                ctx,
                "{}: {what:?} names stream {id}, which the application never opened or accepted",
                SIDE[s]
            ),
        }
    }

    fn peer_stream(&self, s: usize, id: u32) -> Option<&StreamModel> {
        self.sides[1 - s].streams.get(&id)
    }

    /// Apply an event polled from side `s`'s session.
    pub(crate) fn on_event(&mut self, s: usize, e: Event) {
        let ctx = self.ctx;
        let name = SIDE[s];
        if let Some(r) = self.sides[s].closed {
            violation!(ctx, "{name}: event {e:?} after Event::Closed({r:?}), which must be the last");
        }
        self.sides[s].events += 1;
        match e {
            Event::Connected => {
                if self.sides[s].connected {
                    violation!(ctx, "{name}: Event::Connected twice");
                }
                self.sides[s].connected = true;
            }
            Event::Incoming => self.sides[s].incoming_hint = true,
            Event::Readable(id) => self.known(s, id, &e).read_hint = true,
            Event::Finished(id) => {
                if !self.peer_stream(s, id.0).is_some_and(|p| p.finished) {
                    violation!(
                        ctx,
                        "{name}: Event::Finished({id}) but the peer's application never finished it"
                    );
                }
                self.known(s, id, &e).read_hint = true;
            }
            Event::Writable(id) => self.known(s, id, &e).write_blocked = false,
            Event::Reset { id, code, remote } => {
                if !remote {
                    violation!(
                        ctx,
                        "{name}: stream {id} reset by this engine with {code}: it judged that the peer \
                         broke a stream rule, but the peer is a correct braid engine"
                    );
                }
                self.check_remote_code(s, id.0, code);
                let st = self.known(s, id, &e);
                if st.remote_reset.is_some_and(|c| c != code) {
                    violation!(ctx, "{name}: stream {id} reset with {code} after {:?}", st.remote_reset);
                }
                st.remote_reset = Some(code);
                st.read_hint = false;
                st.write_blocked = false;
            }
            Event::OpenReady => self.sides[s].open_blocked = false,
            Event::Pong { rtt } => {
                if rtt.as_micros() < self.min_rtt_us {
                    violation!(
                        ctx,
                        "{name}: Pong rtt {}us is below the link's round trip {}us",
                        rtt.as_micros(),
                        self.min_rtt_us
                    );
                }
            }
            Event::GoAway { last_stream, code } => {
                let peer = &self.sides[1 - s];
                if code != ErrorCode::NO_ERROR && peer.goaway_sent != Some(code) {
                    violation!(
                        ctx,
                        "{name}: GOAWAY {code} arrived, but the peer's application sent {:?}",
                        peer.goaway_sent
                    );
                }
                // Streams this side opened above `last_stream` were never
                // processed: the peer's application cannot have them.
                let first_mine = if s == 0 { 1 } else { 2 };
                for (&id, p) in &peer.streams {
                    if id > last_stream.0 && id % 2 == first_mine % 2 && !p.local {
                        violation!(ctx, "{name}: GOAWAY says streams above {last_stream} were not processed, but the peer's application accepted {id}");
                    }
                }
                self.sides[s].goaway_event = Some(code);
            }
            Event::Closed(reason) => {
                self.check_reason(s, reason);
                let side = &mut self.sides[s];
                side.closed = Some(reason);
                side.open_blocked = false;
                side.incoming_hint = false;
                for st in side.streams.values_mut() {
                    // Data already received stays readable: read it out.
                    st.read_hint = !st.eof && !st.was_reset();
                    st.write_blocked = false;
                }
            }
        }
    }

    /// A reset the peer sent must carry the code its application chose;
    /// only REFUSED (graceful GOAWAY) may come for a stream it never knew,
    /// and the code of an error GOAWAY ends every stream ([S-8.8]).
    fn check_remote_code(&self, s: usize, id: u32, code: ErrorCode) {
        let ctx = self.ctx;
        if code != ErrorCode::NO_ERROR && self.sides[1 - s].goaway_sent == Some(code) {
            return;
        }
        match self.peer_stream(s, id) {
            Some(p) if p.local_reset != Some(code) => violation!(
                ctx,
                "{}: stream {id} reset by the peer with {code}, but the peer's application reset it with {:?}",
                SIDE[s],
                p.local_reset
            ),
            None if code != ErrorCode::REFUSED => violation!(
                ctx,
                "{}: stream {id} reset by the peer with {code}, but the peer's application never knew it",
                SIDE[s]
            ),
            _ => {}
        }
    }

    /// A session's end must be explained by what the applications did.
    fn check_reason(&self, s: usize, reason: CloseReason) {
        let ctx = self.ctx;
        let me = &self.sides[s];
        let peer = &self.sides[1 - s];
        let name = SIDE[s];
        match reason.local {
            Some(LocalError::Protocol(e)) => {
                violation!(
                    ctx,
                    "{name}: session ended with a protocol error between two correct engines: {e}"
                )
            }
            Some(LocalError::GoAway(code)) if me.goaway_sent != Some(code) => {
                violation!(
                    ctx,
                    "{name}: ended by its own GOAWAY {code}, but its application sent {:?}",
                    me.goaway_sent
                )
            }
            Some(LocalError::Closed) if !me.closed_by_app => {
                violation!(ctx, "{name}: ended as closed by the application, which never called close")
            }
            Some(LocalError::TransportEof) if !me.eof_fed => {
                violation!(ctx, "{name}: ended by transport EOF, which never came")
            }
            None if reason.remote.is_none() => violation!(ctx, "{name}: session ended without a reason"),
            _ => {}
        }
        if let Some(code) = reason.remote {
            if code != ErrorCode::NO_ERROR && peer.goaway_sent != Some(code) {
                violation!(
                    ctx,
                    "{name}: ended by the peer's GOAWAY {code}, but the peer's application sent {:?}",
                    peer.goaway_sent
                );
            }
        }
    }

    /// Check a `read` result and the bytes it produced; returns whether
    /// reading more could produce more.
    pub(crate) fn on_read(&mut self, s: usize, id: u32, res: Result<usize, ReadError>, out: &[u8]) -> bool {
        let ctx = self.ctx;
        let name = SIDE[s];
        let peer = self.sides[1 - s].streams.get(&id).cloned().unwrap_or_default();
        let closed = self.sides[s].over();
        let mut expected = Vec::new();
        if let Ok(n) = res {
            let from = self.sides[s].streams[&id].read;
            expected = (0..n as u64).map(|i| self.pattern(1 - s, id, from + i)).collect();
        }
        let st = self.sides[s].streams.get_mut(&id).expect("read on a known stream");
        match res {
            Ok(0) => {
                if !peer.finished {
                    violation!(ctx, "{name}: stream {id}: end of stream, but the peer never finished it");
                }
                if st.read != peer.written {
                    violation!(
                        ctx,
                        "{name}: stream {id}: end of stream after {} bytes, the peer wrote {}",
                        st.read,
                        peer.written
                    );
                }
                if peer.meta_sent.is_some() && st.local && !st.meta_seen {
                    violation!(ctx, "{name}: stream {id}: the peer's reply metadata was never readable");
                }
                st.eof = true;
                st.read_hint = false;
                false
            }
            Ok(n) => {
                if st.eof {
                    violation!(ctx, "{name}: stream {id}: {n} bytes read after the end of stream");
                }
                if peer.meta_sent.is_some() && st.local && !st.meta_seen {
                    violation!(
                        ctx,
                        "{name}: stream {id}: data read before the peer's reply metadata was readable"
                    );
                }
                if let Some(i) = (0..n).find(|&i| out[i] != expected[i]) {
                    violation!(
                        ctx,
                        "{name}: stream {id}: byte {} read is {:#04x}, the peer wrote {:#04x} there",
                        st.read + i as u64,
                        out[i],
                        expected[i]
                    );
                }
                st.read += n as u64;
                if st.read > peer.written {
                    violation!(
                        ctx,
                        "{name}: stream {id}: read {} bytes, the peer wrote only {}",
                        st.read,
                        peer.written
                    );
                }
                true
            }
            Err(ReadError::WouldBlock) => {
                if st.eof {
                    violation!(ctx, "{name}: stream {id}: WouldBlock after the end of stream");
                }
                st.read_hint = false;
                false
            }
            Err(ReadError::Reset(code)) => {
                self.check_remote_code(s, id, code);
                let st = self.sides[s].streams.get_mut(&id).expect("known");
                st.remote_reset = Some(code);
                st.read_hint = false;
                false
            }
            Err(ReadError::LocallyReset) => {
                if st.local_reset.is_none() {
                    violation!(
                        ctx,
                        "{name}: stream {id}: read says LocallyReset, the application never reset it"
                    );
                }
                st.read_hint = false;
                false
            }
            Err(ReadError::UnknownStream) => {
                self.forgotten(s, id, "read");
                false
            }
            Err(ReadError::SessionClosed) => {
                if !closed {
                    violation!(ctx, "{name}: stream {id}: read says SessionClosed before Event::Closed");
                }
                st.session_ended = true;
                st.read_hint = false;
                false
            }
        }
    }

    fn forgotten(&mut self, s: usize, id: u32, op: &str) {
        let ctx = self.ctx;
        let st = self.sides[s].streams.get_mut(&id).expect("known");
        if !st.may_be_forgotten() {
            violation!(
                ctx,
                "{}: stream {id}: {op} says UnknownStream, but the application has not seen it end \
                 (see \"Stream lifetime\"): {st:?}",
                SIDE[s]
            );
        }
        st.forgotten = true;
        st.read_hint = false;
        st.write_blocked = false;
    }

    /// Check a `write` of `asked` bytes.
    pub(crate) fn on_write(&mut self, s: usize, id: u32, asked: usize, res: Result<usize, WriteError>) {
        let ctx = self.ctx;
        let name = SIDE[s];
        let closed = self.sides[s].over();
        let st = self.sides[s].streams.get_mut(&id).expect("known");
        match res {
            Ok(n) => {
                if n > asked || (asked > 0 && n == 0) {
                    violation!(ctx, "{name}: stream {id}: write of {asked} bytes returned Ok({n})");
                }
                if st.finished || st.local_reset.is_some() || st.remote_reset.is_some() || closed {
                    violation!(ctx, "{name}: stream {id}: write accepted data on an ended stream: {st:?}");
                }
                st.written += n as u64;
            }
            Err(WriteError::WouldBlock) => {
                if asked == 0 {
                    violation!(ctx, "{name}: stream {id}: empty write would block");
                }
                st.write_blocked = true;
            }
            Err(WriteError::Finished) => {
                if !st.finished {
                    violation!(
                        ctx,
                        "{name}: stream {id}: write says Finished, the application never finished it"
                    );
                }
            }
            Err(WriteError::Reset(code)) => {
                self.check_remote_code(s, id, code);
                let st = self.sides[s].streams.get_mut(&id).expect("known");
                st.remote_reset = Some(code);
                st.write_blocked = false;
            }
            Err(WriteError::LocallyReset) => {
                if st.local_reset.is_none() {
                    violation!(
                        ctx,
                        "{name}: stream {id}: write says LocallyReset, the application never reset it"
                    );
                }
            }
            Err(WriteError::UnknownStream) => self.forgotten(s, id, "write"),
            Err(WriteError::SessionClosed) => {
                if !closed {
                    violation!(ctx, "{name}: stream {id}: write says SessionClosed before Event::Closed");
                }
            }
        }
    }

    /// Check a `finish`.
    pub(crate) fn on_finish(&mut self, s: usize, id: u32, res: Result<(), StreamError>) {
        let ctx = self.ctx;
        let name = SIDE[s];
        let closed = self.sides[s].over();
        let st = self.sides[s].streams.get_mut(&id).expect("known");
        match res {
            Ok(()) => {
                if st.local_reset.is_some() || st.remote_reset.is_some() || closed {
                    violation!(ctx, "{name}: stream {id}: finish succeeded on an ended stream: {st:?}");
                }
                st.finished = true;
            }
            Err(StreamError::Reset) => {
                if st.local_reset.is_none() && st.remote_reset.is_none() {
                    violation!(
                        ctx,
                        "{name}: stream {id}: finish says Reset, but no reset was reported: {st:?}"
                    );
                }
            }
            Err(StreamError::UnknownStream) => self.forgotten(s, id, "finish"),
            Err(StreamError::SessionClosed) => {
                if !closed {
                    violation!(ctx, "{name}: stream {id}: finish says SessionClosed before Event::Closed");
                }
            }
            Err(e) => violation!(ctx, "{name}: stream {id}: finish returned {e:?}"),
        }
    }

    /// Check a `reset` with `code`.
    pub(crate) fn on_reset(&mut self, s: usize, id: u32, code: ErrorCode, res: Result<(), StreamError>) {
        let ctx = self.ctx;
        let name = SIDE[s];
        let closed = self.sides[s].over();
        let st = self.sides[s].streams.get_mut(&id).expect("known");
        match res {
            Ok(()) => {
                if closed {
                    violation!(ctx, "{name}: stream {id}: reset succeeded after Event::Closed");
                }
                if st.local_reset.is_none() && st.remote_reset.is_none() {
                    st.local_reset = Some(code);
                }
                st.read_hint = false;
                st.write_blocked = false;
            }
            Err(StreamError::UnknownStream) => self.forgotten(s, id, "reset"),
            Err(StreamError::SessionClosed) => {
                if !closed {
                    violation!(ctx, "{name}: stream {id}: reset says SessionClosed before Event::Closed");
                }
            }
            Err(e) => violation!(ctx, "{name}: stream {id}: reset returned {e:?}"),
        }
    }

    /// Check an `open`. `credit` is the send credit before the call and
    /// `limit` the largest metadata block the peer takes (once known).
    pub(crate) fn on_open(
        &mut self,
        s: usize,
        res: Result<StreamId, OpenError>,
        meta: Option<&Meta>,
        credit: u32,
        limit: Option<usize>,
    ) {
        let ctx = self.ctx;
        let name = SIDE[s];
        let too_large = matches!((meta, limit), (Some(m), Some(l)) if !m.malformed && m.bytes.len() > l);
        let malformed = meta.is_some_and(|m| m.malformed);
        let side = &mut self.sides[s];
        let going_away = side.goaway_sent.is_some() || side.goaway_event.is_some();
        match res {
            Ok(id) => {
                if !side.connected || side.over() || going_away || malformed || too_large {
                    violation!(ctx, "{name}: open succeeded ({id}) but should not have: connected {} closed {:?} goaway {going_away} malformed {malformed} too large {too_large}", side.connected, side.closed);
                }
                let expect = if side.last_opened == 0 { 2 - (s as u32 ^ 1) } else { side.last_opened + 2 };
                if id.0 != expect {
                    violation!(ctx, "{name}: opened {id}, expected id {expect}");
                }
                side.last_opened = id.0;
                let st = StreamModel {
                    local: true,
                    meta_sent: meta.map(|m| m.bytes.clone()),
                    ..Default::default()
                };
                side.streams.insert(id.0, st);
                self.live_ids.insert(id.0);
            }
            Err(OpenError::Handshaking) if !side.connected => {}
            Err(OpenError::NoCredit) if credit == 0 => side.open_blocked = true,
            Err(OpenError::NoCapacity) => side.open_blocked = true,
            Err(OpenError::GoingAway) if going_away => {}
            Err(OpenError::MetadataTooLarge) if too_large => {}
            Err(OpenError::MetadataMalformed) if malformed => {}
            Err(OpenError::SessionClosed) if side.over() => {}
            Err(e) => violation!(
                ctx,
                "{name}: open returned {e:?}: connected {} closed {:?} goaway {going_away} credit {credit} \
                 metadata {:?} limit {limit:?}",
                side.connected,
                side.closed,
                meta.map(|m| m.bytes.len())
            ),
        }
    }

    /// Check the metadata `got` of a stream: for an incoming stream the
    /// opener's block, for one this side opened the acceptor's reply.
    pub(crate) fn on_metadata(&mut self, s: usize, id: u32, got: Option<&[u8]>) {
        let ctx = self.ctx;
        let want = self.peer_stream(s, id).and_then(|p| p.meta_sent.clone());
        let incoming = !self.sides[s].streams.contains_key(&id);
        match got {
            Some(g) if want.as_deref() != Some(g) => violation!(
                ctx,
                "{}: stream {id}: metadata {:02x?} differs from what the peer sent: {:02x?}",
                SIDE[s],
                g,
                want
            ),
            None if incoming && want.is_some() => {
                violation!(ctx, "{}: incoming stream {id}: the opener's metadata is missing", SIDE[s])
            }
            Some(_) if !incoming => self.sides[s].streams.get_mut(&id).expect("known").meta_seen = true,
            _ => {}
        }
    }

    /// Check an `accept` (`reply` given) or `refuse` (`refused` given).
    /// `peeked` is what `incoming` said just before.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_accept(
        &mut self,
        s: usize,
        res: Result<StreamId, AcceptError>,
        peeked: Option<StreamId>,
        reply: Option<&Meta>,
        limit: Option<usize>,
        refused: Option<ErrorCode>,
    ) {
        let ctx = self.ctx;
        let name = SIDE[s];
        let too_large = matches!((reply, limit), (Some(m), Some(l)) if !m.malformed && m.bytes.len() > l);
        let malformed = reply.is_some_and(|m| m.malformed);
        let peer_opened = |id: u32| self.sides[1 - s].streams.get(&id).is_some_and(|p| p.local);
        match res {
            Ok(id) => {
                if !peer_opened(id.0) {
                    violation!(ctx, "{name}: accepted {id}, which the peer's application never opened");
                }
                let side = &mut self.sides[s];
                if Some(id) != peeked || id.0 <= side.last_accepted || side.streams.contains_key(&id.0) {
                    violation!(
                        ctx,
                        "{name}: accepted {id}: incoming() said {peeked:?}, last accepted {}",
                        side.last_accepted
                    );
                }
                if malformed || too_large || side.over() {
                    violation!(ctx, "{name}: accept succeeded but should not have: malformed {malformed} too large {too_large}");
                }
                side.last_accepted = id.0;
                let st = StreamModel {
                    meta_sent: reply.map(|m| m.bytes.clone()),
                    local_reset: refused,
                    ..Default::default()
                };
                side.streams.insert(id.0, st);
                self.live_ids.insert(id.0);
            }
            Err(AcceptError::WouldBlock) => {
                if let Some(id) = peeked {
                    violation!(ctx, "{name}: accept would block, but incoming() offered {id}");
                }
                self.sides[s].incoming_hint = false;
            }
            Err(AcceptError::MetadataTooLarge) if too_large => {}
            Err(AcceptError::MetadataMalformed) if malformed => {}
            Err(AcceptError::SessionClosed) if self.sides[s].over() => {}
            Err(e) => violation!(
                ctx,
                "{name}: accept returned {e:?} (reply {:?}, limit {limit:?})",
                reply.map(|m| m.bytes.len())
            ),
        }
    }

    /// Check a `ping`.
    pub(crate) fn on_ping(&mut self, s: usize, res: Result<(), PingError>) {
        let closed = self.sides[s].over();
        match res {
            Ok(()) | Err(PingError::Busy) if !closed => {}
            Err(PingError::SessionClosed) if closed => {}
            r => violation!(self.ctx, "{}: ping returned {r:?} (closed {closed})", SIDE[s]),
        }
    }

    /// Check a `go_away`.
    pub(crate) fn on_go_away(
        &mut self,
        s: usize,
        code: ErrorCode,
        debug: &[u8],
        res: Result<(), GoAwayError>,
    ) {
        let side = &mut self.sides[s];
        let closed = side.over();
        match res {
            Ok(()) if !closed && side.goaway_sent.is_none() => {
                side.goaway_sent = Some(code);
                side.goaway_debug = debug[..debug.len().min(64)].to_vec();
            }
            Err(GoAwayError::AlreadySent) if side.goaway_sent.is_some() || side.goaway_event.is_some() => {}
            Err(GoAwayError::SessionClosed) if closed => {}
            r => violation!(
                self.ctx,
                "{}: go_away returned {r:?}: closed {closed} sent {:?}",
                SIDE[s],
                side.goaway_sent
            ),
        }
    }
}

/// A short description of a side for failure dumps.
pub(crate) fn describe_side(m: &SideModel) -> String {
    let mut out = format!(
        "connected {} closed {:?} crashed {} goaway sent {:?} goaway got {:?} incoming_hint {} open_blocked {}\n",
        m.connected, m.closed, m.crashed, m.goaway_sent, m.goaway_event, m.incoming_hint, m.open_blocked
    );
    for (id, st) in &m.streams {
        out.push_str(&format!("    stream {id}: {st:?}\n"));
    }
    out
}
