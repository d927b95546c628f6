//! [`SerialLink`]: braid sessions, one after another, over a serial byte
//! stream through braid's link layer ([`braid::link`]).

use crate::config::Config;
use crate::driver::{Driver, Timer, Transport};
use crate::error::SessionEnd;
use crate::session::{build_shared, Session};
use crate::shared::{LinkLayer, Shared};
use braid::link::{LinkConfig, LinkState, LinkStats};
use braid::{ErrorCode, Instant, Role};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// A serial line (a UART behind a tty, a pty, a child process's stdin and
/// stdout, any byte pipe that may damage or lose bytes) carrying braid
/// sessions through braid's link layer: COBS-framed link frames with a
/// CRC-32C, a SYNC exchange, and in reliable mode go-back-N retransmission
/// below the session (spec.md §14). The peer is typically a microcontroller
/// running `braid-embedded` with a `braid::link::Link`.
///
/// A session over a link can end while the line goes on: in fail-stop mode
/// a damaged frame ends it ([`braid::LinkError::CorruptFrame`] or
/// `FrameLost` in [`SessionEnd::reason`]), in either mode a peer that
/// rebooted ends it (`PeerRestarted`), and so does a GOAWAY or an idle
/// timeout. The driver then starts a new session on the same line at once
/// (the link syncs again); [`next_session`](Self::next_session) hands out
/// each session in turn. The ended session keeps what it received readable
/// for as long as its handles live.
///
/// The sessions end for good when the transport does (end of input or an
/// error), or when this handle is dropped or [`close`](Self::close)d and
/// the current session then ends.
///
/// ```no_run
/// # async fn example<T: braid_async::Transport, C: braid_async::Timer>(io: T, timer: C) {
/// use braid::link::LinkConfig;
/// let epoch = 0x1234_5678; // different on every start: a random number or a boot counter
/// let (mut serial, driver) = braid_async::SerialLink::new(
///     braid::Role::Client,
///     io,
///     timer,
///     &braid_async::Config::default(),
///     LinkConfig::reliable(epoch),
/// );
/// // spawn `driver` on the runtime, then:
/// while let Some(session) = serial.next_session().await {
///     // use the session until it ends; a new one follows
///     let end = session.closed().await;
///     eprintln!("session ended: {end}");
/// }
/// # let _ = driver;
/// # }
/// ```
pub struct SerialLink {
    port: Arc<Port>,
}

/// What the [`SerialLink`] handle and the driver share.
pub(crate) struct Port {
    state: Mutex<PortState>,
}

struct PortState {
    /// A session started and not handed out yet.
    next: Option<Session>,
    /// Sessions started so far.
    started: u64,
    /// The current session's state (for the link's counters and `close`).
    current: Arc<Shared>,
    /// No more sessions: the handle was dropped or closed.
    stopped: bool,
    /// The driver is done: the last session's end.
    finished: Option<SessionEnd>,
    /// Tasks waiting for the next session or the end.
    waiters: Vec<Waker>,
}

impl Port {
    fn lock(&self) -> MutexGuard<'_, PortState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The driver's part: starts each new session.
pub(crate) struct Restarter {
    port: Arc<Port>,
    role: Role,
    config: Config,
}

impl Restarter {
    /// Whether the [`SerialLink`] handle wants another session.
    pub(crate) fn wanted(&self) -> bool {
        !self.port.lock().stopped
    }

    /// A new session at `now` over `link` (already restarted), handed to
    /// the [`SerialLink`]; its state for the driver.
    pub(crate) fn start(
        &self,
        now: Instant,
        link: Option<Box<LinkLayer>>,
        clock: fn() -> std::time::Instant,
        epoch: std::time::Instant,
    ) -> Arc<Shared> {
        let shared = build_shared(self.role, &self.config, now, link, clock, epoch);
        let session = Session::from_shared(shared.clone());
        let (replaced, waiters) = {
            let mut port = self.port.lock();
            port.started += 1;
            port.current = shared.clone();
            (port.next.replace(session), std::mem::take(&mut port.waiters))
        };
        // A session nobody took goes away (its handle's drop sends the
        // GOAWAY and takes the session's lock: not under the port's).
        drop(replaced);
        waiters.into_iter().for_each(Waker::wake);
        shared
    }

    /// The driver is done: `end` was the last session's.
    pub(crate) fn finish(&self, end: &SessionEnd) {
        let (next, waiters) = {
            let mut port = self.port.lock();
            port.finished = Some(end.clone());
            (port.next.take(), std::mem::take(&mut port.waiters))
        };
        drop(next);
        waiters.into_iter().for_each(Waker::wake);
    }
}

impl SerialLink {
    /// Sessions with `role` (one side must be the client, the other the
    /// server) over `io` through a link configured by `link`, driven by the
    /// returned [`Driver`] with `timer`; `config` configures each session.
    /// Nothing happens until the driver is polled (spawn it).
    ///
    /// The link announces DATA bodies of up to 1024 bytes and a window of
    /// up to 8 frames ([`LinkLayer`]); the SYNC exchange settles on the
    /// smaller of each side's, and on reliable mode only if both sides ask
    /// for it. `link.epoch` must differ on every start of the program (a
    /// random number will do), so that the peer can tell a restart.
    pub fn new<T, C>(
        role: Role,
        io: T,
        timer: C,
        config: &Config,
        link: LinkConfig,
    ) -> (SerialLink, Driver<T, C>)
    where
        T: Transport,
        C: Timer,
    {
        let link = Box::new(LinkLayer::new(link));
        let shared = build_shared(role, config, Instant::ZERO, Some(link), C::now, C::now());
        let port = Arc::new(Port {
            state: Mutex::new(PortState {
                next: Some(Session::from_shared(shared.clone())),
                started: 1,
                current: shared.clone(),
                stopped: false,
                finished: None,
                waiters: Vec::new(),
            }),
        });
        let restarter = Restarter { port: port.clone(), role, config: config.clone() };
        let driver = Driver::new(shared, io, timer, config, Some(restarter));
        (SerialLink { port }, driver)
    }

    /// The next session: the first one at once, each later one once the
    /// one before it has ended and its successor started; `None` once the
    /// sessions are over (the transport ended or failed, or
    /// [`close`](Self::close) was called). Each session is handed out once.
    ///
    /// A session started while nobody took it is replaced by the next one
    /// when it ends; only the latest waits here.
    pub fn next_session(&mut self) -> NextSession<'_> {
        NextSession { serial: self }
    }

    /// How many sessions the link has carried so far, the current one
    /// included.
    #[must_use]
    pub fn sessions_started(&self) -> u64 {
        self.port.lock().started
    }

    /// The link's counters since it was created (frames sent, received,
    /// retransmitted, found corrupt, …).
    #[must_use]
    pub fn link_stats(&self) -> LinkStats {
        self.with_link(|l| *l.stats()).unwrap_or_default()
    }

    /// Where the link is: syncing, up (session bytes move), or down (the
    /// session ended; the next one starts shortly, unless the sessions are
    /// over).
    #[must_use]
    pub fn link_state(&self) -> LinkState {
        self.with_link(LinkLayer::state).unwrap_or(LinkState::Down)
    }

    /// Look at the link (its negotiated MTU and window, its mode, its
    /// counters) while the current session is locked; `None` once the
    /// sessions are over.
    pub fn with_link<R>(&self, f: impl FnOnce(&LinkLayer) -> R) -> Option<R> {
        let current = self.port.lock().current.clone();
        let core = current.lock();
        core.link.as_deref().map(f)
    }

    /// Start no new session: the current one goes away gracefully (a
    /// GOAWAY with NO_ERROR; streams in flight finish), and once it has
    /// ended the driver closes the transport and completes.
    /// [`closed`](Self::closed) waits for that.
    pub fn close(&self) {
        let (current, next) = {
            let mut port = self.port.lock();
            port.stopped = true;
            (port.current.clone(), port.next.take())
        };
        drop(next);
        let mut core = current.lock();
        if !core.is_ended() {
            let _ = core.session.go_away(ErrorCode::NO_ERROR, b"");
            let now = current.now();
            core.pump(now, false);
        }
    }

    /// Wait until the sessions are over (the driver completed); how the
    /// last one ended.
    pub fn closed(&self) -> SerialClosed<'_> {
        SerialClosed { serial: self }
    }

    /// How the last session ended, once the sessions are over.
    #[must_use]
    pub fn end(&self) -> Option<SessionEnd> {
        self.port.lock().finished.clone()
    }
}

impl Drop for SerialLink {
    /// No more sessions are started; the sessions handed out carry on
    /// until they end (a session never handed out goes away).
    fn drop(&mut self) {
        let next = {
            let mut port = self.port.lock();
            port.stopped = true;
            port.next.take()
        };
        drop(next);
    }
}

impl std::fmt::Debug for SerialLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let port = self.port.lock();
        f.debug_struct("SerialLink")
            .field("sessions_started", &port.started)
            .field("stopped", &port.stopped)
            .field("finished", &port.finished.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`SerialLink::next_session`].
#[must_use = "futures do nothing unless awaited"]
pub struct NextSession<'a> {
    serial: &'a mut SerialLink,
}

impl Future for NextSession<'_> {
    type Output = Option<Session>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Session>> {
        let mut port = self.serial.port.lock();
        if let Some(session) = port.next.take() {
            return Poll::Ready(Some(session));
        }
        if port.finished.is_some() || port.stopped {
            return Poll::Ready(None);
        }
        if !port.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            port.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The future of [`SerialLink::closed`].
#[must_use = "futures do nothing unless awaited"]
pub struct SerialClosed<'a> {
    serial: &'a SerialLink,
}

impl Future for SerialClosed<'_> {
    type Output = SessionEnd;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SessionEnd> {
        let mut port = self.serial.port.lock();
        if let Some(end) = &port.finished {
            return Poll::Ready(end.clone());
        }
        if !port.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            port.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
