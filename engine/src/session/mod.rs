//! The session: one end of a braid connection, as a pure state machine.

mod arith;
mod commands;
#[cfg(test)]
mod dormant_tests;
mod errors;
mod event;
mod input;
mod queue;
mod timers;
mod transmit;

pub use errors::{AcceptError, GoAwayError, OpenError, PingError, ReadError, StreamError, WriteError};
pub use event::{CloseReason, Event, LinkError, LocalError};

use crate::frame::{Settings, GOAWAY_DEBUG_MAX, HEADER_LEN, MAX_WINDOW, SETTINGS_MAX_LEN};
use crate::stream::{bit, ev, Slot, NIL};
use crate::trace::{FrameRecord, TraceQueue};
use crate::{Config, Duration, ErrorCode, Instant, ProtocolError, Role, Storage, StreamId};
use arith::div_u64_by_u32;
use queue::{Link, Queue};

/// Where the session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SessionState {
    /// Waiting for the peer's preface and SETTINGS; no stream may open yet.
    Handshaking,
    /// Streams open and carry data.
    Open,
    /// A GOAWAY (NO_ERROR) was sent or received: existing streams finish,
    /// no new ones open; the session ends when none are left.
    Draining,
    /// The session ended; its last frames (a GOAWAY) still wait in
    /// [`Session::poll_transmit`].
    Closing,
    /// Over: nothing more to send. The transport may be closed.
    Closed,
}

/// Counters for the session's life so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Frames written to the transport.
    pub frames_sent: u64,
    /// Frames read from the transport.
    pub frames_received: u64,
    /// Bytes written to the transport (preface included).
    pub bytes_sent: u64,
    /// Bytes consumed from the transport.
    pub bytes_received: u64,
    /// Stream payload bytes sent (metadata excluded).
    pub data_sent: u64,
    /// Stream payload bytes received (metadata excluded).
    pub data_received: u64,
    /// Streams this side opened.
    pub streams_opened: u64,
    /// Streams the peer opened (accepted or not).
    pub streams_incoming: u64,
}

impl Stats {
    /// Every counter at zero (`Default`, but `const`).
    const ZERO: Stats = Stats {
        frames_sent: 0,
        frames_received: 0,
        bytes_sent: 0,
        bytes_received: 0,
        data_sent: 0,
        data_received: 0,
        streams_opened: 0,
        streams_incoming: 0,
    };
}

/// A stream's windows and buffers, from [`Session::stream_info`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StreamInfo {
    /// Whether this side opened it.
    pub local: bool,
    /// Bytes this side may still send before the peer's next WNDINC.
    pub send_window: u32,
    /// Bytes the peer may still send.
    pub recv_window: u32,
    /// The current receive window size (grows with auto-tuning).
    pub recv_window_size: u32,
    /// Bytes received and not yet read (metadata included).
    pub readable: usize,
    /// Bytes written and not yet sent (metadata included).
    pub unsent: usize,
    /// Whether the peer finished sending.
    pub finished_by_peer: bool,
    /// Whether this side finished sending (FIN queued or sent).
    pub finished_locally: bool,
    /// The reset code, if the stream was reset by either side.
    pub reset: Option<ErrorCode>,
}

/// Session-wide flags.
mod sbit {
    pub const PREFACE_SENT: u32 = 1 << 0;
    pub const PEER_SETTINGS: u32 = 1 << 1;
    pub const SETTINGS_ACK_PENDING: u32 = 1 << 2;
    pub const SETTINGS_ACKED: u32 = 1 << 3;
    pub const PING_PENDING: u32 = 1 << 4;
    pub const PING_OUTSTANDING: u32 = 1 << 5;
    pub const PONG_PENDING: u32 = 1 << 6;
    pub const GOAWAY_PENDING: u32 = 1 << 7;
    pub const GOAWAY_SENT: u32 = 1 << 8;
    pub const GOAWAY_RECVD: u32 = 1 << 9;
    pub const WANT_OPEN: u32 = 1 << 10;
    pub const EV_CONNECTED: u32 = 1 << 11;
    pub const EV_INCOMING: u32 = 1 << 12;
    pub const EV_OPEN_READY: u32 = 1 << 13;
    pub const EV_PONG: u32 = 1 << 14;
    pub const EV_GOAWAY: u32 = 1 << 15;
    pub const EV_CLOSED: u32 = 1 << 16;
    pub const IDS_EXHAUSTED: u32 = 1 << 17;
    pub const LOCAL_GOAWAY_FIRST: u32 = 1 << 18;
}

/// The streaming decoder's position in the input.
#[derive(Clone, Copy, Debug)]
enum Rx {
    Preface,
    Header,
    Control(crate::frame::Header),
    MetaLen {
        target: Target,
        left: u32,
        fin: bool,
    },
    Meta {
        target: Target,
        meta_left: u16,
        data_left: u32,
        fin: bool,
        check: crate::metadata::MetadataValidator,
    },
    Data {
        target: Target,
        left: u32,
        fin: bool,
    },
    Skip {
        left: u32,
    },
}

/// Where a DATA frame's bytes go: a live stream (checked again on every
/// piece, since the application may reset it mid-frame) or nowhere, in
/// which case they are refunded to the session window.
#[derive(Clone, Copy, Debug)]
struct Target {
    slot: Slot,
    id: u32,
}

impl Target {
    const DISCARD: Target = Target { slot: NIL, id: 0 };
}

/// One end of a braid session: a sans-io state machine over caller storage.
///
/// # Call protocol
///
/// The session never performs I/O, reads a clock or allocates. The caller
/// moves bytes and time in and out through four kinds of methods:
///
/// - **getters** ([`state`](Self::state), [`stats`](Self::stats),
///   [`stream_info`](Self::stream_info), [`rtt`](Self::rtt), …) observe;
/// - **inputs** ([`handle_input`](Self::handle_input),
///   [`handle_timeout`](Self::handle_timeout), [`handle_eof`](Self::handle_eof))
///   feed what the transport and the clock produced;
/// - **commands** ([`open`](Self::open), [`accept`](Self::accept),
///   [`write`](Self::write), [`read`](Self::read), [`finish`](Self::finish),
///   [`reset`](Self::reset), [`go_away`](Self::go_away), [`ping`](Self::ping),
///   [`close`](Self::close)) act on streams and the session; each returns
///   its own error enum, with "would block" as a variant;
/// - **polls** drain what the session produced.
///
/// **After every input or command, drain the polls in this order**:
/// 1. [`poll_transmit`](Self::poll_transmit) until it returns 0, writing each
///    chunk to the transport;
/// 2. [`poll_event`](Self::poll_event) until `None`;
/// 3. [`poll_trace`](Self::poll_trace) until `None` (only with tracing on);
/// 4. [`poll_timeout`](Self::poll_timeout), and arrange to call
///    [`handle_timeout`](Self::handle_timeout) at that instant.
///
/// [`handle_input`](Self::handle_input) may consume fewer bytes than it was
/// given when the trace queue fills: drain it and pass the rest again.
///
/// # Stream lifetime
///
/// A stream is forgotten, and its slot reused, once both directions have
/// ended and the application has seen how: it read the end of the stream
/// (`read` returned `Ok(0)`) after its own FIN left, or it reset the stream
/// and the RST left, or it was told of the peer's reset (by
/// [`Event::Reset`] or by an operation returning the reset error). Until
/// then every operation reports the stream's state; afterwards its id gives
/// `UnknownStream`. When the session ends, data already received stays
/// readable; other operations report `SessionClosed`.
///
/// ```
/// use braid::{ArrayStorage, Config, Event, Instant, Session};
///
/// let now = Instant::ZERO;
/// let mut client = Session::new(Config::client(), ArrayStorage::<4, 1024, 1024>::new(), now);
/// let mut server = Session::new(Config::server(), ArrayStorage::<4, 1024, 1024>::new(), now);
/// let mut wire = [0u8; 4096];
/// // Exchange prefaces and SETTINGS until both sides are connected.
/// for _ in 0..3 {
///     let n = client.poll_transmit(now, &mut wire);
///     assert_eq!(server.handle_input(now, &wire[..n]), n);
///     let n = server.poll_transmit(now, &mut wire);
///     assert_eq!(client.handle_input(now, &wire[..n]), n);
/// }
/// assert_eq!(client.poll_event(), Some(Event::Connected));
///
/// let id = client.open().unwrap();
/// client.write(id, b"hello").unwrap();
/// client.finish(id).unwrap();
/// let n = client.poll_transmit(now, &mut wire);
/// server.handle_input(now, &wire[..n]);
///
/// assert_eq!(server.poll_event(), Some(Event::Connected));
/// assert_eq!(server.poll_event(), Some(Event::Incoming));
/// let incoming = server.accept().unwrap();
/// let mut buf = [0u8; 16];
/// assert_eq!(server.read(incoming, &mut buf), Ok(5));
/// assert_eq!(&buf[..5], b"hello");
/// assert_eq!(server.read(incoming, &mut buf), Ok(0)); // end of stream
/// ```
pub struct Session<S: Storage> {
    config: Config,
    local: Settings,
    peer: Settings,
    storage: S,
    state: SessionState,
    flags: u32,
    created: Instant,
    last_recv: Instant,

    // Streaming decoder.
    rx: Rx,
    head: [u8; HEADER_LEN],
    head_have: u8,
    ctrl: [u8; SETTINGS_MAX_LEN],
    ctrl_have: u16,

    // Stream ids and credit.
    next_local_id: u32,
    /// Highest id of ours whose SYN has left: frames for ours above it are
    /// for idle streams (spec.md [S-5.16]).
    highest_syn_sent: u32,
    highest_remote: u32,
    send_credit: u32,
    peer_credit_left: u32,
    credit_owed: u32,
    slots_used: u32,

    // Session windows.
    send_window: u32,
    recv_window: u32,
    recv_target: u32,
    recv_consumed: u32,
    recv_growth: u32,
    recv_epoch: Instant,

    // PING and RTT.
    ping_seq: u64,
    ping_sent_at: Instant,
    pong_payload: [u8; 8],
    last_rtt: Duration,
    srtt: Option<Duration>,
    settings_sent_at: Instant,

    // GOAWAY.
    goaway_last: u32,
    goaway_code: ErrorCode,
    goaway_debug: [u8; GOAWAY_DEBUG_MAX],
    goaway_debug_len: u8,
    remote_last: u32,
    remote_code: ErrorCode,
    remote_debug: [u8; GOAWAY_DEBUG_MAX],
    remote_debug_len: u8,
    close_reason: Option<CloseReason>,

    // Queues.
    open_q: Queue,
    send_q: Queue,
    ctrl_q: Queue,
    event_q: Queue,
    accept_q: Queue,

    // Flood budget.
    flood_tokens: u32,
    flood_refill_at: Instant,

    transmit_needed: u32,
    trace: TraceQueue,
    stats: Stats,
}

/// Every field of a fresh [`Session`] but its storage and its trace queue,
/// handed to `$then` as `field: value,` pairs: [`Session::new`] and
/// [`Session::dormant`] build the struct from them (adding the two),
/// [`Session::restart`] assigns them in place (and empties the trace queue
/// where it is). Every value is `const`-evaluable, for
/// [`Session::dormant`], and small (no array over a few dozen bytes), so
/// that assigning them costs little stack.
macro_rules! fresh_fields {
    ($then:ident, $config:expr, $local:expr, $first:expr, $now:expr) => {{
        let (config, local, first, now): (Config, Settings, u32, Instant) = ($config, $local, $first, $now);
        $then! {
            config: config,
            local: local,
            peer: Settings::DEFAULT,
            state: SessionState::Handshaking,
            flags: 0,
            created: now,
            last_recv: now,
            rx: Rx::Preface,
            head: [0; HEADER_LEN],
            head_have: 0,
            ctrl: [0; SETTINGS_MAX_LEN],
            ctrl_have: 0,
            next_local_id: first,
            highest_syn_sent: 0,
            highest_remote: 0,
            send_credit: 0,
            peer_credit_left: local.stream_credit,
            credit_owed: 0,
            slots_used: 0,
            send_window: 0,
            recv_window: local.session_window,
            recv_target: local.session_window,
            recv_consumed: 0,
            recv_growth: 0,
            recv_epoch: now,
            ping_seq: 0,
            ping_sent_at: now,
            pong_payload: [0; 8],
            last_rtt: Duration::ZERO,
            srtt: None,
            settings_sent_at: now,
            goaway_last: 0,
            goaway_code: ErrorCode::NO_ERROR,
            goaway_debug: [0; GOAWAY_DEBUG_MAX],
            goaway_debug_len: 0,
            remote_last: 0,
            remote_code: ErrorCode::NO_ERROR,
            remote_debug: [0; GOAWAY_DEBUG_MAX],
            remote_debug_len: 0,
            close_reason: None,
            open_q: Queue::new(Link::Open),
            send_q: Queue::new(Link::Send),
            ctrl_q: Queue::new(Link::Ctrl),
            event_q: Queue::new(Link::Event),
            accept_q: Queue::new(Link::Accept),
            flood_tokens: config.flood_burst,
            flood_refill_at: now,
            transmit_needed: 0,
            stats: Stats::ZERO,
        }
    }};
}

impl<S: Storage> Session<S> {
    /// A session over `storage`, configured by `config`, starting at `now`.
    ///
    /// What this side announces is `config` clamped to `storage`: the
    /// stream window to the receive buffer less the metadata allowance, the
    /// inbound stream credit to the slots kept for the peer.
    pub fn new(config: Config, storage: S, now: Instant) -> Self {
        let local = announced_settings(&config, &storage);
        let first = config.role.first_id().0;
        macro_rules! build {
            ($($field:ident: $value:expr,)*) => {
                Session { storage, trace: TraceQueue::new(config.trace), $($field: $value,)* }
            };
        }
        fresh_fields!(build, config, local, first, now)
    }

    /// A session that has not started, over `storage`: `const`, so that it
    /// can initialise a `static` or be part of a larger value built in
    /// place (`braid-embedded`'s resources), and be started there later
    /// without being moved: for fixed storage, a session built by
    /// [`new`](Self::new) and then moved costs its whole size in stack.
    /// [`restart`](Self::restart) starts it: `dormant(storage)` then
    /// `restart(config, now)` is `Session::new(config, storage, now)`.
    ///
    /// Until then it is a session that is over: [`state`](Self::state) is
    /// [`SessionState::Closed`] with no [`close_reason`](Self::close_reason),
    /// it sends nothing, reports no event and wants no timeout, ignores its
    /// inputs, and its commands report that the session is closed. Its
    /// [`config`](Self::config) is [`Config::client`] and its settings are
    /// [`Settings::DEFAULT`], both replaced by the restart.
    ///
    /// ```
    /// use braid::{ArrayStorage, Config, Instant, Session, SessionState};
    ///
    /// let mut session = const { Session::dormant(ArrayStorage::<2, 256, 256>::new()) };
    /// assert_eq!(session.state(), SessionState::Closed);
    /// assert_eq!(session.close_reason(), None);
    /// session.restart(Config::client(), Instant::ZERO);
    /// assert_eq!(session.state(), SessionState::Handshaking);
    /// ```
    #[must_use]
    pub const fn dormant(storage: S) -> Self {
        let config = Config::client();
        macro_rules! build {
            ($($field:ident: $value:expr,)*) => {
                Session { storage, trace: TraceQueue::new(config.trace), $($field: $value,)* }
            };
        }
        let mut session = fresh_fields!(build, config, Settings::DEFAULT, 0, Instant::ZERO);
        session.state = SessionState::Closed;
        session
    }

    /// Start over: the session becomes what `Session::new(config, storage,
    /// now)` would return, over the same storage, without moving it.
    /// Every stream of the old session is forgotten (tasks waiting on a
    /// stream's waker are woken), and so are its events, queued output and
    /// trace. For fixed storage this avoids building a second session,
    /// whose size is mostly stream buffers, on the stack: what a
    /// microcontroller does when the serial link starts a new session
    /// (spec.md §14).
    pub fn restart(&mut self, config: Config, now: Instant) {
        for slot in 0..self.storage.slot_bound() as Slot {
            if self.storage.stream(slot).id != 0 {
                #[cfg(feature = "wakers")]
                self.wake(slot, true, true);
                self.storage.remove(slot);
            }
        }
        // Emptied in place: a new queue would be built on the stack and
        // copied in (its empty records are not zero bytes), a few hundred
        // bytes of stack a microcontroller would rather keep.
        while self.trace.pop().is_some() {}
        self.trace.enabled = config.trace;
        let local = announced_settings(&config, &self.storage);
        let first = config.role.first_id().0;
        macro_rules! assign {
            ($($field:ident: $value:expr,)*) => {
                $(self.$field = $value;)*
            };
        }
        fresh_fields!(assign, config, local, first, now);
    }

    // ----- getters -------------------------------------------------------

    /// Where the session is in its life.
    #[must_use]
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The storage the streams live in (to read its figures, e.g.
    /// [`VecStorage::buffer_bytes`](crate::VecStorage::buffer_bytes)).
    #[must_use]
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Which side this is.
    #[must_use]
    pub fn role(&self) -> Role {
        self.config.role
    }

    /// The configuration the session was created with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What this side announced (the configuration clamped to the storage).
    #[must_use]
    pub fn local_settings(&self) -> &Settings {
        &self.local
    }

    /// What the peer announced, once its SETTINGS arrived.
    #[must_use]
    pub fn peer_settings(&self) -> Option<&Settings> {
        self.has(sbit::PEER_SETTINGS).then_some(&self.peer)
    }

    /// Counters for the session so far.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The smoothed round-trip time, once measured (by the SETTINGS
    /// exchange or a PING).
    #[must_use]
    pub fn rtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Why the session ended, once it has.
    #[must_use]
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason
    }

    /// The debug bytes of the peer's last GOAWAY (empty if none arrived).
    #[must_use]
    pub fn remote_debug(&self) -> &[u8] {
        &self.remote_debug[..self.remote_debug_len as usize]
    }

    /// The peer's GOAWAY, if one arrived: its last stream id and code.
    #[must_use]
    pub fn remote_go_away(&self) -> Option<(StreamId, ErrorCode)> {
        self.has(sbit::GOAWAY_RECVD).then_some((StreamId(self.remote_last), self.remote_code))
    }

    /// Streams this side may still open before the peer grants more credit.
    #[must_use]
    pub fn send_credit(&self) -> u32 {
        self.send_credit
    }

    /// Bytes of DATA this side may still send on the session before a WNDINC.
    #[must_use]
    pub fn session_send_window(&self) -> u32 {
        self.send_window
    }

    /// Bytes the peer may still send on the session.
    #[must_use]
    pub fn session_recv_window(&self) -> u32 {
        self.recv_window
    }

    /// Stream slots in use (live streams and ones being retired).
    #[must_use]
    pub fn streams_in_use(&self) -> usize {
        self.slots_used as usize
    }

    /// A live stream's windows and buffers.
    #[must_use]
    pub fn stream_info(&self, id: StreamId) -> Option<StreamInfo> {
        let s = self.storage.stream(self.storage.find(id.0)?);
        let reset = s.has(bit::RESET_LOCAL | bit::RESET_REMOTE).then_some(ErrorCode(s.code));
        Some(StreamInfo {
            local: s.has(bit::LOCAL),
            send_window: s.send_window,
            recv_window: s.recv_window,
            recv_window_size: s.recv_target,
            readable: s.rx.len(),
            unsent: s.tx.len(),
            finished_by_peer: s.has(bit::FIN_RECVD),
            finished_locally: s.has(bit::FIN_QUEUED),
            reset,
        })
    }

    /// Bytes [`poll_transmit`](Self::poll_transmit) needs to emit its next
    /// frame, when the last call could not fit it; 0 otherwise.
    #[must_use]
    pub fn transmit_needed(&self) -> usize {
        self.transmit_needed as usize
    }

    /// Give back the memory of empty stream buffers. Growable storage
    /// ([`VecStorage`](crate::VecStorage)) never shrinks a buffer on its own,
    /// so that a busy stream does not allocate again and again; an adapter
    /// calls this now and then (say, every second) so that idle streams cost
    /// only their state. Fixed storage ignores it.
    pub fn trim_buffers(&mut self) {
        // Free slots too: they keep their buffers for the next stream.
        for slot in 0..self.storage.slot_bound() as Slot {
            self.storage.trim(slot);
        }
    }

    // ----- polls -----------------------------------------------------------

    /// The next event, if any. See [`Event`].
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.take(sbit::EV_CONNECTED) {
            return Some(Event::Connected);
        }
        if self.take(sbit::EV_GOAWAY) {
            return Some(Event::GoAway { last_stream: StreamId(self.remote_last), code: self.remote_code });
        }
        if self.take(sbit::EV_PONG) {
            return Some(Event::Pong { rtt: self.last_rtt });
        }
        if self.take(sbit::EV_INCOMING) {
            return Some(Event::Incoming);
        }
        if self.take(sbit::EV_OPEN_READY) {
            return Some(Event::OpenReady);
        }
        while let Some(slot) = self.event_q.peek() {
            let s = self.storage.stream_mut(slot);
            let id = StreamId(s.id);
            let pending = s.bits & ev::ALL;
            let (evbit, event) = if pending & ev::RESET != 0 {
                let remote = s.has(bit::RESET_REMOTE);
                s.set(bit::RESET_SEEN);
                (ev::RESET, Event::Reset { id, code: ErrorCode(s.code), remote })
            } else if pending & ev::READABLE != 0 {
                (ev::READABLE, Event::Readable(id))
            } else if pending & ev::FINISHED != 0 {
                (ev::FINISHED, Event::Finished(id))
            } else if pending & ev::WRITABLE != 0 {
                (ev::WRITABLE, Event::Writable(id))
            } else {
                self.event_q.pop(&mut self.storage);
                self.retire(slot);
                continue;
            };
            s.clear(evbit);
            if s.bits & ev::ALL == 0 {
                self.event_q.pop(&mut self.storage);
                self.retire(slot);
            }
            return Some(event);
        }
        if self.take(sbit::EV_CLOSED) {
            return self.close_reason.map(Event::Closed);
        }
        None
    }

    /// The next traced frame, if tracing is on. See [`crate::trace`].
    #[must_use]
    pub fn poll_trace(&mut self) -> Option<FrameRecord> {
        self.trace.pop()
    }

    // ----- internal helpers ----------------------------------------------

    fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    fn take(&mut self, flag: u32) -> bool {
        let had = self.has(flag);
        self.flags &= !flag;
        had
    }

    fn is_ended(&self) -> bool {
        matches!(self.state, SessionState::Closing | SessionState::Closed)
    }

    /// The peer broke the protocol: GOAWAY with its code, then the end.
    fn fail(&mut self, e: ProtocolError) {
        #[cfg(feature = "log")]
        log::warn!("braid: peer broke the protocol: {e}");
        #[cfg(feature = "defmt")]
        defmt::warn!("braid: peer broke the protocol: {}", e);
        self.end(LocalError::Protocol(e), Some((e.code(), e.as_str().as_bytes())));
    }

    /// End the session for a local reason, optionally with a final GOAWAY.
    fn end(&mut self, local: LocalError, goaway: Option<(ErrorCode, &[u8])>) {
        if self.is_ended() {
            return;
        }
        let remote = self.has(sbit::GOAWAY_RECVD).then_some(self.remote_code);
        self.finish_session(CloseReason { local: Some(local), remote });
        if let Some((code, debug)) = goaway {
            // An error is told even after a graceful GOAWAY went out; a
            // second NO_ERROR would tell the peer nothing new.
            if !(self.has(sbit::GOAWAY_SENT) && code == ErrorCode::NO_ERROR) {
                self.queue_goaway(code, debug);
                self.state = SessionState::Closing;
            }
        }
    }

    /// Record the end, stop every stream and drop queued output.
    fn finish_session(&mut self, reason: CloseReason) {
        #[cfg(feature = "log")]
        log::debug!("braid: session ended: {reason}");
        self.close_reason = Some(reason);
        self.state = SessionState::Closed;
        self.flags |= sbit::EV_CLOSED;
        self.flags &= !(sbit::GOAWAY_PENDING
            | sbit::PING_PENDING
            | sbit::PONG_PENDING
            | sbit::SETTINGS_ACK_PENDING
            | sbit::EV_OPEN_READY
            | sbit::WANT_OPEN);
        self.open_q.clear(&mut self.storage);
        self.send_q.clear(&mut self.storage);
        self.ctrl_q.clear(&mut self.storage);
        for slot in 0..self.storage.slot_bound() as Slot {
            let s = self.storage.stream_mut(slot);
            if s.id != 0 {
                s.set(bit::SESSION_ENDED);
                s.clear(bit::RST_PENDING | bit::OPEN_PENDING | bit::WANT_WRITABLE);
                if s.has(bit::META_ARRIVING) {
                    // Metadata cut short by the end never completes: drop
                    // it, so the stream ends the same however the input
                    // was chunked (a read gives SessionClosed). A peer's
                    // stream whose opening metadata was still arriving was
                    // never announced: it goes.
                    s.rx.clear();
                    s.rx_meta = 0;
                    s.clear(bit::META_ARRIVING | bit::INCOMING);
                }
                #[cfg(feature = "wakers")]
                self.wake(slot, true, true);
                self.retire(slot);
            }
        }
    }

    fn queue_goaway(&mut self, code: ErrorCode, debug: &[u8]) {
        let n = debug.len().min(GOAWAY_DEBUG_MAX);
        self.goaway_debug[..n].copy_from_slice(&debug[..n]);
        self.goaway_debug_len = n as u8;
        self.goaway_code = code;
        // A later GOAWAY may lower the last stream id, never raise it: SYNs
        // refused after the first one were not processed (spec.md [S-8.5]).
        self.goaway_last = if self.has(sbit::GOAWAY_SENT) {
            self.goaway_last.min(self.highest_remote)
        } else {
            self.highest_remote
        };
        self.flags |= sbit::GOAWAY_PENDING;
    }

    /// Flag a stream event and queue the stream for [`poll_event`](Self::poll_event).
    fn push_event(&mut self, slot: Slot, evbit: u32) {
        let s = self.storage.stream_mut(slot);
        if s.has(bit::INCOMING) {
            return; // the application does not know this stream yet
        }
        s.set(evbit);
        self.event_q.push(&mut self.storage, slot);
        #[cfg(feature = "wakers")]
        {
            let read = evbit & (ev::READABLE | ev::FINISHED | ev::RESET) != 0;
            let write = evbit & (ev::WRITABLE | ev::RESET) != 0;
            self.wake(slot, read, write);
        }
    }

    /// Wake the tasks waiting to read and/or write `slot`.
    #[cfg(feature = "wakers")]
    fn wake(&mut self, slot: Slot, read: bool, write: bool) {
        let [r, w] = self.storage.wakers(slot);
        if let Some(waker) = r.take_if(|_| read) {
            waker.wake();
        }
        if let Some(waker) = w.take_if(|_| write) {
            waker.wake();
        }
    }

    /// Register the task to wake when stream `id` has something to read
    /// (data, its end, a reset) or the session ends (feature `wakers`).
    /// Replaces any earlier waker; one wake-up per registration.
    ///
    /// # Errors
    /// `UnknownStream` when no live stream has this id.
    #[cfg(feature = "wakers")]
    pub fn register_read_waker(
        &mut self,
        id: StreamId,
        waker: &core::task::Waker,
    ) -> Result<(), StreamError> {
        self.register_waker(id, 0, waker)
    }

    /// Register the task to wake when stream `id` has room to write, is
    /// reset, or the session ends (feature `wakers`).
    ///
    /// # Errors
    /// `UnknownStream` when no live stream has this id.
    #[cfg(feature = "wakers")]
    pub fn register_write_waker(
        &mut self,
        id: StreamId,
        waker: &core::task::Waker,
    ) -> Result<(), StreamError> {
        self.register_waker(id, 1, waker)
    }

    #[cfg(feature = "wakers")]
    fn register_waker(
        &mut self,
        id: StreamId,
        dir: usize,
        waker: &core::task::Waker,
    ) -> Result<(), StreamError> {
        let slot = self.storage.find(id.0).ok_or(StreamError::UnknownStream)?;
        let cell = &mut self.storage.wakers(slot)[dir];
        match cell {
            Some(w) if w.will_wake(waker) => {}
            _ => *cell = Some(waker.clone()),
        }
        Ok(())
    }

    /// Mark a stream over once both directions are, and free its slot once
    /// it is off every queue with no event pending.
    fn retire(&mut self, slot: Slot) {
        let s = self.storage.stream_mut(slot);
        if s.id == 0 {
            return;
        }
        // After the session's end a stream stays until what it received is
        // read, its end of stream included.
        let unread_fin = s.has(bit::FIN_RECVD) && !s.has(bit::EOF_READ);
        let ended_session =
            s.has(bit::SESSION_ENDED) && s.rx.is_empty() && !s.has(bit::INCOMING) && !unread_fin;
        let frames_owed = s.has(bit::RST_PENDING) || (s.has(bit::OPEN_PENDING) && !s.has(bit::SESSION_ENDED));
        if ((s.send_done() && s.recv_done()) || ended_session) && !frames_owed {
            s.set(bit::DEAD);
            if s.has(bit::EOF_READ | bit::RESET_LOCAL) {
                // The application saw the end itself: data events are stale.
                s.bits &= !(ev::READABLE | ev::FINISHED | ev::WRITABLE);
            }
        }
        if !s.has(bit::DEAD) || s.queued() || s.bits & ev::ALL != 0 {
            return;
        }
        let peer_opened = !s.has(bit::LOCAL);
        #[cfg(feature = "wakers")]
        self.wake(slot, true, true);
        self.storage.remove(slot);
        self.slots_used -= 1;
        if peer_opened && !self.is_ended() {
            self.credit_owed = self.credit_owed.saturating_add(1);
        }
        if self.take(sbit::WANT_OPEN) {
            self.flags |= sbit::EV_OPEN_READY;
        }
        self.check_drained();
    }

    /// Spend one unit of the flood budget; ends the session when empty.
    fn unproductive(&mut self, now: Instant) -> bool {
        let rate = self.config.flood_rate;
        if rate > 0 {
            let elapsed = now.saturating_since(self.flood_refill_at).as_micros();
            let earned = div_u64_by_u32(elapsed.saturating_mul(u64::from(rate)), 1_000_000);
            if earned > 0 {
                let room = u64::from(self.config.flood_burst.saturating_sub(self.flood_tokens));
                self.flood_tokens += earned.min(room) as u32;
                self.flood_refill_at += Duration::from_micros(div_u64_by_u32(earned * 1_000_000, rate));
            }
        }
        if self.flood_tokens == 0 {
            self.fail(ProtocolError::Flood);
            return false;
        }
        self.flood_tokens -= 1;
        true
    }

    fn rtt_sample(&mut self, sample: Duration) {
        self.last_rtt = sample;
        self.srtt = Some(match self.srtt {
            None => sample,
            Some(s) => Duration::from_micros((s.as_micros() * 7 + sample.as_micros()) / 8),
        });
    }

    /// In Draining with no stream left: send our GOAWAY if not yet, and
    /// end once it is out.
    fn check_drained(&mut self) {
        if self.state != SessionState::Draining || self.slots_used != 0 {
            return;
        }
        if !self.has(sbit::GOAWAY_SENT | sbit::GOAWAY_PENDING) {
            self.queue_goaway(ErrorCode::NO_ERROR, b"");
        }
        if self.has(sbit::GOAWAY_SENT) {
            let local = self.has(sbit::LOCAL_GOAWAY_FIRST).then_some(LocalError::GoAway(self.goaway_code));
            let remote = self.has(sbit::GOAWAY_RECVD).then_some(self.remote_code);
            self.finish_session(CloseReason { local, remote });
        }
    }

    /// Stream credit still owed to the peer is granted once it reaches half
    /// of what was announced (at least 1).
    fn credit_due(&self) -> bool {
        // After a GOAWAY either way the peer opens nothing more.
        !self.has(sbit::GOAWAY_SENT | sbit::GOAWAY_PENDING | sbit::GOAWAY_RECVD)
            && self.credit_owed > 0
            && self.credit_owed >= (self.local.stream_credit / 2).max(1)
    }

    /// Whether the session receive window should be topped up now.
    fn session_update_due(&self) -> bool {
        let half = self.recv_target / 2;
        // Unread data on a slow stream holds part of the session window; once
        // the peer's credit runs low, return what the other streams consumed
        // without waiting for half the window (which they may never reach),
        // so one slow stream never stalls the rest (spec.md §7.2).
        let starving = self.recv_window <= half && self.recv_consumed >= self.recv_target / 8;
        self.recv_growth > 0 || (self.recv_consumed > 0 && (self.recv_consumed >= half || starving))
    }

    /// The application consumed `n` bytes of `slot`'s data: return credit
    /// and queue a WNDINC when half the window is consumed.
    fn consumed(&mut self, slot: Slot, n: usize) {
        let n = n as u32;
        self.recv_consumed = self.recv_consumed.saturating_add(n);
        let s = self.storage.stream_mut(slot);
        s.recv_consumed = s.recv_consumed.saturating_add(n);
        if !s.has(bit::FIN_RECVD | bit::RESET_LOCAL | bit::RESET_REMOTE)
            && s.recv_consumed >= s.recv_target / 2
        {
            self.ctrl_q.push(&mut self.storage, slot);
        }
    }

    /// The largest window the storage lets a stream grow to.
    fn stream_window_ceiling(&self) -> u32 {
        stream_window_limit(&self.storage, self.local.max_open_metadata)
            .max(self.local.initial_stream_window)
            .min(self.config.stream_window_max.max(self.local.initial_stream_window))
    }
}

/// The largest stream window `storage` can back with `meta` bytes of
/// metadata allowance.
fn stream_window_limit<S: Storage>(storage: &S, meta: u32) -> u32 {
    let rx = u32::try_from(storage.rx_capacity()).unwrap_or(u32::MAX);
    rx.saturating_sub(meta).min(MAX_WINDOW)
}

/// The SETTINGS this side announces: `config` clamped to `storage`.
fn announced_settings<S: Storage>(config: &Config, storage: &S) -> Settings {
    let rx = u32::try_from(storage.rx_capacity()).unwrap_or(u32::MAX);
    let max_open_metadata = u32::from(config.max_open_metadata).min(rx / 2);
    let window = config.stream_window.min(stream_window_limit(storage, max_open_metadata));
    let capacity = u32::try_from(storage.capacity()).unwrap_or(u32::MAX);
    let credit = config.max_inbound_streams.unwrap_or(capacity.div_ceil(2)).min(capacity);
    // Whole milliseconds, as `Duration::as_millis`, without a 64-bit division.
    let idle = config
        .idle_timeout
        .map_or(0, |d| u32::try_from(div_u64_by_u32(d.as_micros(), 1000)).unwrap_or(u32::MAX).max(1));
    Settings {
        initial_stream_window: window,
        max_frame_size: config.max_frame_size.clamp(crate::frame::MIN_FRAME_SIZE, crate::frame::MAX_PAYLOAD),
        stream_credit: credit,
        session_window: config.session_window.min(MAX_WINDOW),
        max_open_metadata,
        idle_timeout_ms: idle,
    }
}
