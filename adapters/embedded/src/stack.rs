//! The memory ([`Resources`]), the handle tasks share ([`Stack`]) and the
//! engine-side half of the runner (the state both runners drive).

use crate::framing::Framing;
use crate::log::{debug, info};
use crate::stream::Stream;
use crate::waker::WakerSlot;
use crate::Runner;
use braid::{
    AcceptError, ArrayStorage, CloseReason, Config, Duration, ErrorCode, Event, GoAwayError, Instant,
    OpenError, PingError, ReadError, Session, SessionState, StreamId,
};
use core::cell::RefCell;
use core::future::poll_fn;
use core::task::Poll;

/// The engine over fixed storage, as this crate uses it.
pub type Engine<const N: usize, const RX: usize, const TX: usize> = Session<ArrayStorage<N, RX, TX>>;

/// How long an ended session stays readable before a new one replaces it,
/// by default (link mode; see [`Runner`]'s restart policy).
pub const DEFAULT_LINGER: Duration = Duration::from_millis(500);

/// Everything a braid endpoint needs, in one value with a `const`
/// constructor: `N` streams with `RX` receive and `TX` send bytes each
/// (braid's [`ArrayStorage`]), and the runner's read and write buffers of
/// `BUF` bytes each.
///
/// It is `!Sync` (a [`RefCell`] inside, like embassy-net's resources): put
/// it in a `static_cell::ConstStaticCell`, a `StaticCell`, or a local of a
/// task that outlives its users, and use it from one executor.
///
/// The engine lives in it from the start, built dormant
/// ([`Session::dormant`]) and restarted in place for every session: no
/// session is ever built on the stack and moved. Where the resources
/// themselves are built is the caller's choice:
///
/// - a `ConstStaticCell` costs no code and no stack, but `Resources::new()`
///   is not all zeros, so the static goes in `.data`, whose initial image
///   takes as much flash as the resources take RAM;
/// - a `StaticCell` initialised at run time,
///   `RESOURCES.uninit().write(Resources::new())`, stays in `.bss`: the
///   stream buffers (all zeros) are cleared where they are, and only the
///   small parts are built on the stack and copied (about 1 KiB of stack
///   for `Resources<4, 512, 512>` on a Cortex-M3). Do it in a function of
///   its own (`#[inline(never)]`), so that this stack is free again for
///   the main loop rather than reserved in `main`'s frame beside it.
///
/// `BUF` must hold one whole frame: at least 128 bytes for a plain session
/// and [`Link::max_frame_wire_len`](braid::link::Link::max_frame_wire_len)
/// (`MTU` + 10 or so) over a link; [`new`] and [`new_linked`] check it at
/// compile time.
///
/// ```
/// use braid_embedded::Resources;
/// use static_cell::ConstStaticCell;
///
/// // 4 streams of 512 + 512 bytes, 256-byte I/O buffers: no allocator,
/// // nothing built at run time.
/// static RESOURCES: ConstStaticCell<Resources<4, 512, 512>> = ConstStaticCell::new(Resources::new());
/// let resources: &'static mut Resources<4, 512, 512> = RESOURCES.take();
/// # let _ = resources;
/// ```
pub struct Resources<const N: usize, const RX: usize, const TX: usize, const BUF: usize = 256> {
    pub(crate) state: RefCell<State<N, RX, TX>>,
    pub(crate) rbuf: [u8; BUF],
    pub(crate) wbuf: [u8; BUF],
}

impl<const N: usize, const RX: usize, const TX: usize, const BUF: usize> Resources<N, RX, TX, BUF> {
    /// Empty resources; `const`, so they can initialise a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Resources { state: RefCell::new(State::new()), rbuf: [0; BUF], wbuf: [0; BUF] }
    }
}

impl<const N: usize, const RX: usize, const TX: usize, const BUF: usize> Default
    for Resources<N, RX, TX, BUF>
{
    fn default() -> Self {
        Self::new()
    }
}

/// Split `resources` into the [`Stack`] that tasks share and the
/// [`Runner`] that does the I/O, for a reliable pipe (TCP, an in-memory
/// pipe): sessions are carried as they are ([`Direct`](crate::Direct)).
///
/// `config` is used for every session the runner starts.
pub fn new<'a, const N: usize, const RX: usize, const TX: usize, const BUF: usize>(
    resources: &'a mut Resources<N, RX, TX, BUF>,
    config: Config,
) -> (Stack<'a, N, RX, TX>, Runner<'a, crate::Direct, N, RX, TX>) {
    split(resources, config, crate::Direct)
}

/// Split `resources` into the [`Stack`] and a [`Runner`] that carries
/// sessions over braid's serial link layer (a UART): `link` is usually
/// `braid::link::Link::new(LinkConfig::reliable(epoch))` with an `epoch`
/// that differs on every boot (a random number or a boot counter).
///
/// The runner owns the link (its memory is part of the runner: about
/// `MTU * (WINDOW + 1)` bytes).
pub fn new_linked<
    'a,
    const N: usize,
    const RX: usize,
    const TX: usize,
    const BUF: usize,
    const MTU: usize,
    const W: usize,
>(
    resources: &'a mut Resources<N, RX, TX, BUF>,
    config: Config,
    link: braid::link::Link<MTU, W>,
) -> (Stack<'a, N, RX, TX>, Runner<'a, braid::link::Link<MTU, W>, N, RX, TX>) {
    split(resources, config, link)
}

fn split<'a, F: Framing, const N: usize, const RX: usize, const TX: usize, const BUF: usize>(
    resources: &'a mut Resources<N, RX, TX, BUF>,
    config: Config,
    framing: F,
) -> (Stack<'a, N, RX, TX>, Runner<'a, F, N, RX, TX>) {
    let () = BufferCheck::<F, BUF>::OK;
    let Resources { state, rbuf, wbuf } = resources;
    {
        let st = state.get_mut();
        st.config = config;
        // Metadata must fit one frame in the write buffer: 8 header bytes
        // and the 2-byte metadata length come on top.
        st.max_meta = BUF.saturating_sub(16);
    }
    let state: &'a RefCell<State<N, RX, TX>> = state;
    (Stack { state }, Runner::new(state, framing, rbuf, wbuf))
}

/// The compile-time check that `BUF` holds a whole frame of `F`.
struct BufferCheck<F, const BUF: usize>(core::marker::PhantomData<F>);

impl<F: Framing, const BUF: usize> BufferCheck<F, BUF> {
    const OK: () = assert!(
        BUF >= F::MIN_BUFFER,
        "braid-embedded: Resources' BUF is too small for one frame (128 bytes plain, Link::max_frame_wire_len() linked)"
    );
}

/// Counters kept by the runner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RunnerStats {
    /// Sessions started (the current one included).
    pub sessions: u32,
    /// Sessions that ended, gracefully or not.
    pub sessions_ended: u32,
    /// Read errors of a link pipe that were ignored (the link layer
    /// detects the damage they did).
    pub read_errors: u32,
    /// How the last session that ended ended (it stays here after a new
    /// session replaced it).
    pub last_end: Option<CloseReason>,
}

/// The state the stack and the runner share.
pub(crate) struct State<const N: usize, const RX: usize, const TX: usize> {
    pub(crate) config: Config,
    /// The engine, in place from the start ([`Session::dormant`]) and
    /// restarted for every session: never built on the stack. It belongs
    /// to a session only once one was started (`generation > 0`); see
    /// [`current`](Self::current).
    session: Engine<N, RX, TX>,
    /// Bumped for every new session: handles of older ones are stale. 0
    /// until the first session starts (it never comes back to 0).
    pub(crate) generation: u32,
    /// A command may have produced output or events: the runner should look.
    dirty: bool,
    /// [`Stack::close`] was called: end the run once the session is over.
    pub(crate) stop: bool,
    /// When the current session was seen to end.
    ended_at: Option<Instant>,
    pub(crate) linger: Duration,
    pub(crate) max_meta: usize,
    /// When `handle_timeout` is due.
    pub(crate) deadline: Option<Instant>,
    pub(crate) runner: WakerSlot<1>,
    accept: WakerSlot,
    open: WakerSlot,
    pub(crate) flush: WakerSlot,
    /// Streams dropped after `finish`: the runner reads and discards what
    /// the peer still sends until its end, then the slot is free.
    detached: [u32; N],
    pub(crate) stats: RunnerStats,
}

/// What the runner does after a turn.
pub(crate) enum Settle {
    /// The run is over: the session ended (and it does not restart).
    Done(CloseReason),
    /// Wait for input, a command, or this deadline.
    Wait(Option<Instant>),
    /// Look again at once (a new session started).
    Again,
}

impl<const N: usize, const RX: usize, const TX: usize> State<N, RX, TX> {
    const fn new() -> Self {
        State {
            config: Config::client(),
            session: Session::dormant(ArrayStorage::new()),
            generation: 0,
            dirty: false,
            stop: false,
            ended_at: None,
            linger: DEFAULT_LINGER,
            max_meta: 0,
            deadline: None,
            runner: WakerSlot::new(),
            accept: WakerSlot::new(),
            open: WakerSlot::new(),
            flush: WakerSlot::new(),
            detached: [0; N],
            stats: RunnerStats { sessions: 0, sessions_ended: 0, read_errors: 0, last_end: None },
        }
    }

    /// Something changed: the runner should drain the engine.
    pub(crate) fn kick(&mut self) {
        self.dirty = true;
        self.runner.wake();
    }

    /// Leave a finished stream to the runner, which reads it to its end.
    pub(crate) fn detach(&mut self, id: StreamId) {
        if let Some(free) = self.detached.iter_mut().find(|x| **x == 0) {
            *free = id.0;
        }
    }

    /// Whether the runner was kicked since it last looked; clears it.
    pub(crate) fn take_dirty(&mut self) -> bool {
        core::mem::take(&mut self.dirty)
    }

    /// The current session, once the runner started one.
    pub(crate) fn current(&mut self) -> Option<&mut Engine<N, RX, TX>> {
        (self.generation != 0).then_some(&mut self.session)
    }

    /// [`current`](Self::current), shared.
    fn current_ref(&self) -> Option<&Engine<N, RX, TX>> {
        (self.generation != 0).then_some(&self.session)
    }

    /// The session of `generation`, if it is still the current one.
    pub(crate) fn session_of(&mut self, generation: u32) -> Option<&mut Engine<N, RX, TX>> {
        if generation == self.generation {
            self.current()
        } else {
            None
        }
    }

    fn wake_all(&mut self) {
        self.accept.wake();
        self.open.wake();
        self.flush.wake();
    }

    // ----- the runner's half ---------------------------------------------

    /// Begin a new session (the first, or after the last one ended).
    pub(crate) fn start<F: Framing>(&mut self, framing: &mut F, now: Instant) {
        let first = self.generation == 0;
        if let Some(old) = self.current() {
            if old.state() != SessionState::Closed {
                // A run that was abandoned: its pipe is gone.
                framing.handle_eof(now, old);
            }
        }
        // Every session, the first too, restarts the engine in place (it
        // was built dormant with the resources): no session is ever built
        // on the stack and moved.
        self.session.restart(self.config, now);
        self.generation = self.generation.wrapping_add(1).max(1);
        self.ended_at = None;
        self.deadline = None;
        self.detached = [0; N];
        self.stats.sessions = self.stats.sessions.wrapping_add(1);
        if !first {
            framing.restart(now);
        }
        debug!("braid: session {} started", self.generation);
        self.wake_all();
    }

    /// Feed wire bytes to the engine.
    pub(crate) fn feed<F: Framing>(&mut self, framing: &mut F, now: Instant, mut bytes: &[u8]) {
        if self.generation == 0 {
            return;
        }
        let s = &mut self.session;
        while !bytes.is_empty() {
            let n = framing.handle_input(now, bytes, s);
            bytes = &bytes[n..];
            // Fewer consumed only when the trace queue is full (tracing
            // on): drop the records and go on.
            if n == 0 && s.poll_trace().is_none() {
                break;
            }
            while s.poll_trace().is_some() {}
        }
        self.dirty = true;
    }

    /// The end of the pipe.
    pub(crate) fn eof<F: Framing>(&mut self, framing: &mut F, now: Instant) {
        if let Some(s) = self.current() {
            framing.handle_eof(now, s);
        }
        self.dirty = true;
    }

    /// Run timers that are due, then gather output into `out`.
    pub(crate) fn gather<F: Framing>(&mut self, framing: &mut F, now: Instant, out: &mut [u8]) -> usize {
        if self.generation == 0 {
            return 0;
        }
        let s = &mut self.session;
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            framing.handle_timeout(now, s);
        }
        let mut w = 0;
        loop {
            let n = framing.poll_transmit(now, &mut out[w..], s);
            if n == 0 {
                break;
            }
            w += n;
        }
        while s.poll_trace().is_some() {}
        if w > 0 {
            self.flush.wake();
        }
        w
    }

    /// Drain events and decide what comes next. `idle`: the last gather
    /// found nothing to send.
    pub(crate) fn settle<F: Framing>(&mut self, framing: &mut F, now: Instant, idle: bool) -> Settle {
        framing.drain_events();
        if self.generation == 0 {
            return Settle::Again;
        }
        let s = &mut self.session;
        while let Some(event) = s.poll_event() {
            match event {
                Event::Connected => {
                    info!("braid: session {} connected", self.generation);
                    self.open.wake();
                }
                Event::Incoming => self.accept.wake(),
                Event::OpenReady | Event::GoAway { .. } => self.open.wake(),
                Event::Closed(reason) => {
                    info!("braid: session {} ended: {}", self.generation, reason);
                    self.stats.sessions_ended = self.stats.sessions_ended.wrapping_add(1);
                    self.stats.last_end = Some(reason);
                    self.ended_at = Some(now);
                    self.accept.wake();
                    self.open.wake();
                    self.flush.wake();
                }
                // Stream wakers were woken by the engine itself.
                Event::Readable(_)
                | Event::Writable(_)
                | Event::Finished(_)
                | Event::Reset { .. }
                | Event::Pong { .. } => {}
            }
        }
        let mut scratch = [0u8; 32];
        for id in &mut self.detached {
            while *id != 0 {
                match s.read(StreamId(*id), &mut scratch) {
                    Ok(n) if n > 0 => {}
                    Err(ReadError::WouldBlock) => break,
                    _ => *id = 0,
                }
            }
        }
        if idle && s.state() == SessionState::Closed {
            let reason = s.close_reason().unwrap_or(CloseReason { local: None, remote: None });
            if self.stop || !F::RESTARTS {
                return Settle::Done(reason);
            }
            // Restart policy (link): keep the ended session readable while
            // streams still hold its data, for at most `linger`.
            let until = *self.ended_at.get_or_insert(now) + self.linger;
            if now >= until || s.streams_in_use() == 0 {
                self.start(framing, now);
                return Settle::Again;
            }
            self.deadline = min(framing.poll_timeout(s), Some(until));
            return Settle::Wait(self.deadline);
        }
        self.deadline = framing.poll_timeout(s);
        Settle::Wait(self.deadline)
    }
}

fn min(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The handle tasks share: opens and accepts streams, and observes and
/// ends the session. `Copy`; it borrows the [`Resources`].
///
/// Commands come in two forms: `try_*` never waits and reports "would
/// block" as an error variant (for a blocking main loop), the `async` one
/// waits for the engine's readiness. Either way the [`Runner`] does the
/// I/O; a command only queues work for it and wakes it.
pub struct Stack<'a, const N: usize, const RX: usize, const TX: usize> {
    pub(crate) state: &'a RefCell<State<N, RX, TX>>,
}

impl<const N: usize, const RX: usize, const TX: usize> Clone for Stack<'_, N, RX, TX> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<const N: usize, const RX: usize, const TX: usize> Copy for Stack<'_, N, RX, TX> {}

impl<'a, const N: usize, const RX: usize, const TX: usize> Stack<'a, N, RX, TX> {
    /// Run `f` on the shared state. Never held across an `.await`.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State<N, RX, TX>) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    /// Run `f` on the current session, if one was started, and wake the
    /// runner afterwards (so that anything `f` queued goes out). For the
    /// engine's getters and commands this crate does not wrap
    /// ([`Session::stats`], [`Session::rtt`], [`Session::stream_info`], …).
    /// Feed it no wire bytes and take none from it: the runner does.
    pub fn with_session<R>(&self, f: impl FnOnce(&mut Engine<N, RX, TX>) -> R) -> Option<R> {
        self.with(|st| {
            let r = st.current().map(f);
            st.kick();
            r
        })
    }

    /// The current session's number (0 before the first): it goes up on
    /// every new session, and a [`Stream`] of an older one reports
    /// `SessionClosed`.
    #[must_use]
    pub fn generation(&self) -> u32 {
        self.with(|st| st.generation)
    }

    /// The current session's state; `None` until the runner started one.
    #[must_use]
    pub fn session_state(&self) -> Option<SessionState> {
        self.with(|st| st.current_ref().map(Session::state))
    }

    /// Whether the current session is connected (the peer's SETTINGS
    /// arrived and it has not ended): streams may open.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.with(|st| {
            st.current_ref().is_some_and(|s| s.state() == SessionState::Open && s.peer_settings().is_some())
        })
    }

    /// Why the current session ended, once it has.
    #[must_use]
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.with(|st| st.current_ref().and_then(Session::close_reason))
    }

    /// The runner's counters.
    #[must_use]
    pub fn stats(&self) -> RunnerStats {
        self.with(|st| st.stats)
    }

    /// How long an ended session stays readable before the runner starts
    /// a new one (link mode; default [`DEFAULT_LINGER`]).
    pub fn set_linger(&self, linger: Duration) {
        self.with(|st| st.linger = linger);
    }

    /// Wait until a session is connected (streams may open).
    pub async fn wait_connected(&self) {
        poll_fn(|cx| {
            self.with(|st| {
                let up = st
                    .current_ref()
                    .is_some_and(|s| s.peer_settings().is_some() && s.state() == SessionState::Open);
                if up {
                    Poll::Ready(())
                } else {
                    st.open.register(cx.waker());
                    Poll::Pending
                }
            })
        })
        .await;
    }

    /// Open a stream now.
    ///
    /// # Errors
    /// [`OpenError`]: `Handshaking` (also before the runner started a
    /// session), `NoCredit` and `NoCapacity` are "would block".
    pub fn try_open(&self) -> Result<Stream<'a, N, RX, TX>, OpenError> {
        self.try_open_inner(None)
    }

    /// Open a stream whose SYN carries `metadata` (see
    /// [`braid::MetadataWriter`]), now.
    ///
    /// # Errors
    /// As [`try_open`](Self::try_open); `MetadataTooLarge` also when the
    /// block cannot fit the runner's buffer.
    pub fn try_open_with(&self, metadata: &[u8]) -> Result<Stream<'a, N, RX, TX>, OpenError> {
        self.try_open_inner(Some(metadata))
    }

    fn try_open_inner(&self, metadata: Option<&[u8]>) -> Result<Stream<'a, N, RX, TX>, OpenError> {
        self.with(|st| {
            if metadata.is_some_and(|m| m.len() > st.max_meta) {
                return Err(OpenError::MetadataTooLarge);
            }
            let generation = st.generation;
            let s = st.current().ok_or(OpenError::Handshaking)?;
            let id = match metadata {
                Some(m) => s.open_with(m)?,
                None => s.open()?,
            };
            st.kick();
            Ok(Stream::new(*self, id, generation))
        })
    }

    /// Open a stream, waiting while the session is handshaking (or not
    /// started yet) and while the peer's stream credit or this side's slots
    /// are used up.
    ///
    /// # Errors
    /// [`OpenError`] other than the "would block" ones.
    pub async fn open(&self) -> Result<Stream<'a, N, RX, TX>, OpenError> {
        self.open_inner(None).await
    }

    /// [`open`](Self::open) with metadata on the SYN.
    ///
    /// # Errors
    /// As [`try_open_with`](Self::try_open_with), less "would block".
    pub async fn open_with(&self, metadata: &[u8]) -> Result<Stream<'a, N, RX, TX>, OpenError> {
        self.open_inner(Some(metadata)).await
    }

    async fn open_inner(&self, metadata: Option<&[u8]>) -> Result<Stream<'a, N, RX, TX>, OpenError> {
        poll_fn(|cx| match self.try_open_inner(metadata) {
            Err(OpenError::Handshaking | OpenError::NoCredit | OpenError::NoCapacity) => {
                self.with(|st| st.open.register(cx.waker()));
                Poll::Pending
            }
            r => Poll::Ready(r),
        })
        .await
    }

    /// Accept the oldest peer-opened stream now.
    ///
    /// # Errors
    /// [`AcceptError`]; `WouldBlock` when none waits (or no session was
    /// started yet).
    pub fn try_accept(&self) -> Result<Stream<'a, N, RX, TX>, AcceptError> {
        self.try_accept_inner(None)
    }

    /// Accept the oldest peer-opened stream now, answering with `reply`
    /// metadata.
    ///
    /// # Errors
    /// As [`try_accept`](Self::try_accept), and the metadata errors.
    pub fn try_accept_with(&self, reply: &[u8]) -> Result<Stream<'a, N, RX, TX>, AcceptError> {
        self.try_accept_inner(Some(reply))
    }

    fn try_accept_inner(&self, reply: Option<&[u8]>) -> Result<Stream<'a, N, RX, TX>, AcceptError> {
        self.with(|st| {
            if reply.is_some_and(|m| m.len() > st.max_meta) {
                return Err(AcceptError::MetadataTooLarge);
            }
            let generation = st.generation;
            let s = st.current().ok_or(AcceptError::WouldBlock)?;
            let id = match reply {
                Some(m) => s.accept_with(m)?,
                None => s.accept()?,
            };
            st.kick();
            Ok(Stream::new(*self, id, generation))
        })
    }

    /// Accept the oldest peer-opened stream, waiting for one.
    ///
    /// # Errors
    /// [`AcceptError`] other than `WouldBlock` (`SessionClosed` when the
    /// session ended; in link mode, calling again waits on the next one).
    pub async fn accept(&self) -> Result<Stream<'a, N, RX, TX>, AcceptError> {
        self.accept_inner(None).await
    }

    /// [`accept`](Self::accept) with reply metadata.
    ///
    /// # Errors
    /// As [`accept`](Self::accept), and the metadata errors.
    pub async fn accept_with(&self, reply: &[u8]) -> Result<Stream<'a, N, RX, TX>, AcceptError> {
        self.accept_inner(Some(reply)).await
    }

    async fn accept_inner(&self, reply: Option<&[u8]>) -> Result<Stream<'a, N, RX, TX>, AcceptError> {
        poll_fn(|cx| match self.try_accept_inner(reply) {
            Err(AcceptError::WouldBlock) => {
                self.with(|st| st.accept.register(cx.waker()));
                Poll::Pending
            }
            r => Poll::Ready(r),
        })
        .await
    }

    /// Refuse the oldest peer-opened stream with `code`.
    ///
    /// # Errors
    /// As [`try_accept`](Self::try_accept), and `ReservedCode`.
    pub fn refuse(&self, code: ErrorCode) -> Result<StreamId, AcceptError> {
        self.with(|st| {
            let s = st.current().ok_or(AcceptError::WouldBlock)?;
            let r = s.refuse(code);
            st.kick();
            r
        })
    }

    /// Send a PING (its round trip is then in [`Session::rtt`]).
    ///
    /// # Errors
    /// [`PingError`].
    pub fn ping(&self) -> Result<(), PingError> {
        self.with(|st| {
            let s = st.current().ok_or(PingError::SessionClosed)?;
            let r = s.ping();
            st.kick();
            r
        })
    }

    /// Send GOAWAY: with NO_ERROR, streams finish and the session ends when
    /// none are left; any other code ends it at once. In link mode the
    /// runner then starts a new session (use [`close`](Self::close) to stop).
    ///
    /// # Errors
    /// [`GoAwayError`].
    pub fn go_away(&self, code: ErrorCode, debug: &[u8]) -> Result<(), GoAwayError> {
        self.with(|st| {
            let s = st.current().ok_or(GoAwayError::SessionClosed)?;
            let r = s.go_away(code, debug);
            st.kick();
            r
        })
    }

    /// End the session now (a GOAWAY NO_ERROR goes out; data not yet sent
    /// is dropped, data received stays readable) and stop the runner once
    /// the GOAWAY is out: its `run` (or `poll`) returns the close reason,
    /// and no new session starts until it is called again. For a graceful
    /// end that lets streams finish, use [`go_away`](Self::go_away) with
    /// `NO_ERROR`.
    pub fn close(&self) {
        self.with(|st| {
            st.stop = true;
            if let Some(s) = st.current() {
                s.close();
            }
            st.kick();
        });
    }
}
