//! The session handle and its futures: open, accept, ping, close.

use crate::config::Config;
use crate::driver::{Driver, Timer, Transport};
use crate::error::{Error, SessionEnd};
use crate::shared::{Core, LinkLayer, Shared, Tracked};
use crate::stream::{encode, Stream, StreamInner, StreamMetadata};
use braid::{ErrorCode, OpenError, Role, SessionState, Stats, StreamError, StreamId, VecStorage};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A handle to one braid session: opens and accepts streams, pings, goes
/// away. Cheap to clone (`Send + Sync`); every clone is the same session.
///
/// The session is driven by its [`Driver`], a future that moves bytes
/// between the engine and the transport; runtime adapters spawn it.
///
/// When the last handle is dropped the session goes away gracefully: a
/// GOAWAY (NO_ERROR) is sent, streams still held carry on until they end,
/// streams waiting to be accepted are refused with REFUSED (safe to
/// retry), and the session then ends.
#[derive(Clone)]
pub struct Session {
    handle: Arc<Handle>,
}

/// The last handle's drop sends the GOAWAY.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.no_acceptor = true;
        if core.is_ended() {
            return;
        }
        let _ = core.session.go_away(ErrorCode::NO_ERROR, b"");
        core.refuse_all();
        let now = self.shared.now();
        core.pump(now, false);
    }
}

/// What [`Session::accept_with`]'s decision function answers for an
/// incoming stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Accept the stream.
    Accept,
    /// Accept the stream and answer with this metadata on its first frame.
    AcceptWith(StreamMetadata),
    /// Refuse the stream with this code (`REFUSED`: not processed, safe to
    /// retry; an application code says why); the next one is considered.
    Refuse(ErrorCode),
}

/// The state of a new session: an engine at `now` (braid's clock, whose
/// zero is `epoch` on the runtime's `clock`) over fresh storage, carried by
/// `link` if given.
pub(crate) fn build_shared(
    role: Role,
    config: &Config,
    now: braid::Instant,
    link: Option<Box<LinkLayer>>,
    clock: fn() -> std::time::Instant,
    epoch: std::time::Instant,
) -> Arc<Shared> {
    let (streams, rx, tx) = config.storage_limits();
    let storage = VecStorage::new(streams, rx, tx);
    let engine = braid::Session::new(config.engine_for(role), storage, now);
    let (_, mut write_buffer) = config.buffers();
    if link.is_some() {
        // Every link frame fits whole.
        write_buffer = write_buffer.max(LinkLayer::max_frame_wire_len());
    }
    let mut core = Core::new(engine, write_buffer, config.trace_mode().clone(), config.label_for(role));
    core.link = link;
    Arc::new(Shared::new(core, clock, epoch))
}

impl Session {
    /// A session over `io`, driven by the returned [`Driver`] with `timer`.
    /// Nothing happens until the driver is polled (spawn it).
    pub fn new<T, C>(role: Role, io: T, timer: C, config: &Config) -> (Session, Driver<T, C>)
    where
        T: Transport,
        C: Timer,
    {
        let shared = build_shared(role, config, braid::Instant::ZERO, None, C::now, C::now());
        let driver = Driver::new(shared.clone(), io, timer, config, None);
        (Session::from_shared(shared), driver)
    }

    /// A handle to the session behind `shared` (its first).
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Session {
        Session { handle: Arc::new(Handle { shared }) }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Open a stream. Waits while the handshake is in progress and while the
    /// peer's stream credit or this side's slots are used up.
    ///
    /// # Errors
    /// [`Error::GoingAway`] once a GOAWAY was sent or received,
    /// [`Error::SessionClosed`], [`Error::IdsExhausted`].
    pub fn open(&self) -> Open<'_> {
        Open { session: self, metadata: Ok(None) }
    }

    /// Open a stream of `stream_type` with no headers (see [`open_with`](Self::open_with)).
    ///
    /// # Errors
    /// As [`open_with`](Self::open_with).
    pub fn open_typed(&self, stream_type: u32) -> Open<'_> {
        self.open_with(stream_type, std::iter::empty::<(&[u8], &[u8])>())
    }

    /// Open a stream whose SYN carries metadata: a stream type and headers,
    /// which the acceptor reads from [`Stream::metadata`].
    ///
    /// ```no_run
    /// # async fn f(session: braid_async::Session) -> Result<(), braid_async::Error> {
    /// let stream = session.open_with(7, [("path", "/telemetry")]).await?;
    /// # drop(stream); Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`open`](Self::open), and [`Error::MetadataMalformed`] /
    /// [`Error::MetadataTooLarge`].
    pub fn open_with<H, N, V>(&self, stream_type: u32, headers: H) -> Open<'_>
    where
        H: IntoIterator<Item = (N, V)>,
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let headers: Vec<(N, V)> = headers.into_iter().collect();
        let block = encode(stream_type, headers.iter().map(|(n, v)| (n.as_ref(), v.as_ref())));
        Open { session: self, metadata: block.map(Some) }
    }

    /// Accept the next stream the peer opened; its metadata is on
    /// [`Stream::metadata`].
    ///
    /// # Errors
    /// [`Error::SessionClosed`] once the session ended.
    pub fn accept(&self) -> Accept<'_, fn(Option<&StreamMetadata>) -> Reply> {
        self.accept_with(|_| Reply::Accept)
    }

    /// Accept the next stream the peer opened, letting `decide` look at its
    /// metadata first to accept it, accept it with reply metadata, or refuse
    /// it (then the next one is considered). `decide` runs while the session
    /// is locked: keep it short.
    ///
    /// # Errors
    /// [`Error::SessionClosed`]; [`Error::MetadataTooLarge`] /
    /// [`Error::MetadataMalformed`] for a bad reply (the stream stays
    /// queued); [`Error::ReservedCode`] for a refusal with a reserved code.
    pub fn accept_with<F>(&self, decide: F) -> Accept<'_, F>
    where
        F: FnMut(Option<&StreamMetadata>) -> Reply,
    {
        Accept { session: self, decide }
    }

    /// Send a PING and wait for its answer: the round-trip time. Waits for
    /// an outstanding PING (a keepalive, another task's) to be answered first.
    ///
    /// # Errors
    /// [`Error::SessionClosed`].
    pub fn ping(&self) -> Ping<'_> {
        Ping { session: self, sent: None }
    }

    /// Send GOAWAY with `code`. With `NO_ERROR` the shutdown is graceful:
    /// streams already open finish, no new ones open on either side, and the
    /// session ends when none are left. Any other code ends the session now.
    ///
    /// # Errors
    /// [`Error::GoAwayAlreadySent`], [`Error::ReservedCode`],
    /// [`Error::SessionClosed`].
    pub fn go_away(&self, code: ErrorCode) -> Result<(), Error> {
        self.go_away_with(code, b"")
    }

    /// [`go_away`](Self::go_away) with debug bytes for the peer (cut to 64).
    ///
    /// # Errors
    /// As [`go_away`](Self::go_away).
    pub fn go_away_with(&self, code: ErrorCode, debug: &[u8]) -> Result<(), Error> {
        let mut core = self.shared().lock();
        let r = core.session.go_away(code, debug).map_err(|e| match e {
            braid::GoAwayError::AlreadySent => Error::GoAwayAlreadySent,
            braid::GoAwayError::ReservedCode => Error::ReservedCode,
            braid::GoAwayError::SessionClosed => Error::SessionClosed(core.session.close_reason()),
        });
        let now = self.shared().now();
        core.pump(now, false);
        r
    }

    /// Close gracefully: GOAWAY (NO_ERROR), then wait until the streams
    /// still open have ended and the last bytes are written; returns how the
    /// session ended. Streams that never end keep it open: bound the wait
    /// with the runtime's timeout and call [`close_now`](Self::close_now).
    pub async fn close(&self) -> SessionEnd {
        let _ = self.go_away(ErrorCode::NO_ERROR);
        self.closed().await
    }

    /// End the session now: a GOAWAY (NO_ERROR) goes out, every stream ends
    /// (data already received stays readable), and the session ends with
    /// [`braid::LocalError::Closed`].
    pub fn close_now(&self) {
        let mut core = self.shared().lock();
        core.session.close();
        let now = self.shared().now();
        core.pump(now, false);
    }

    /// Wait for the session's end (muxado's `Wait()`): resolves once the
    /// driver has finished (last bytes written, transport closed) or was
    /// dropped.
    pub fn closed(&self) -> Closed<'_> {
        Closed { session: self }
    }

    /// How the session ended, if the driver has finished.
    #[must_use]
    pub fn end(&self) -> Option<SessionEnd> {
        self.shared().lock().end.clone()
    }

    /// The smoothed round-trip time, once measured (by the handshake or a PING).
    #[must_use]
    pub fn rtt(&self) -> Option<Duration> {
        self.shared().lock().session.rtt().map(Into::into)
    }

    /// Where the session is in its life.
    #[must_use]
    pub fn state(&self) -> SessionState {
        self.shared().lock().session.state()
    }

    /// Whether the session has ended (it may still be writing its last bytes).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared().lock().is_ended()
    }

    /// Which side this is.
    #[must_use]
    pub fn role(&self) -> Role {
        self.shared().lock().session.role()
    }

    /// The session's counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        *self.shared().lock().session.stats()
    }

    /// Bytes held by stream buffers right now
    /// ([`VecStorage::buffer_bytes`]).
    #[must_use]
    pub fn buffer_bytes(&self) -> usize {
        self.shared().lock().session.storage().buffer_bytes()
    }

    /// Give back the memory of empty stream buffers now (the driver also
    /// does it a second after activity; see [`Config::trim_interval`]).
    pub fn trim_buffers(&self) {
        self.shared().lock().session.trim_buffers();
    }

    /// Look at the engine (stream info, settings, storage figures) while the
    /// session is locked.
    pub fn inspect<R>(&self, f: impl FnOnce(&braid::Session<VecStorage>) -> R) -> R {
        f(&self.shared().lock().session)
    }

    /// The serial link's counters so far, on a session a
    /// [`SerialLink`](crate::SerialLink) carries, while it is the link's
    /// current session; `None` otherwise.
    #[must_use]
    pub fn link_stats(&self) -> Option<braid::link::LinkStats> {
        self.shared().lock().link.as_ref().map(|l| *l.stats())
    }

    fn adopt(&self, core: &mut Core, id: StreamId, local: bool, meta: Option<StreamMetadata>) -> Stream {
        core.tracked.insert(id, Tracked::handle());
        Stream::new(StreamInner::new(self.shared().clone(), id, local, meta))
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let core = self.shared().lock();
        f.debug_struct("Session")
            .field("role", &core.session.role())
            .field("state", &core.session.state())
            .field("streams", &core.session.streams_in_use())
            .finish()
    }
}

/// Future of [`Session::open`] and [`Session::open_with`].
#[must_use = "futures do nothing unless polled"]
pub struct Open<'a> {
    session: &'a Session,
    metadata: Result<Option<Vec<u8>>, Error>,
}

impl Future for Open<'_> {
    type Output = Result<Stream, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let block = match &this.metadata {
            Ok(block) => block.as_deref(),
            Err(e) => return Poll::Ready(Err(e.clone())),
        };
        let shared = this.session.shared();
        let mut core = shared.lock();
        let opened = match block {
            None => core.session.open(),
            Some(m) => core.session.open_with(m),
        };
        match opened {
            Ok(id) => {
                let stream = this.session.adopt(&mut core, id, true, None);
                let now = shared.now();
                core.pump(now, false);
                Poll::Ready(Ok(stream))
            }
            Err(OpenError::Handshaking | OpenError::NoCredit | OpenError::NoCapacity)
                if core.end.is_none() =>
            {
                core.open_waiters.register(cx.waker());
                Poll::Pending
            }
            Err(
                OpenError::SessionClosed
                | OpenError::Handshaking
                | OpenError::NoCredit
                | OpenError::NoCapacity,
            ) => Poll::Ready(Err(Error::SessionClosed(core.session.close_reason()))),
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

/// Future of [`Session::accept`] and [`Session::accept_with`].
#[must_use = "futures do nothing unless polled"]
pub struct Accept<'a, F> {
    session: &'a Session,
    decide: F,
}

impl<F: FnMut(Option<&StreamMetadata>) -> Reply + Unpin> Future for Accept<'_, F> {
    type Output = Result<Stream, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = this.session.shared();
        let mut core = shared.lock();
        let now = shared.now();
        loop {
            let Some(id) = core.session.incoming() else {
                if core.is_ended() || core.end.is_some() {
                    return Poll::Ready(Err(Error::SessionClosed(core.session.close_reason())));
                }
                core.accept_waiters.register(cx.waker());
                return Poll::Pending;
            };
            let meta = read_metadata(&core.session, id);
            let accepted = match (this.decide)(meta.as_ref()) {
                Reply::Accept => core.session.accept(),
                Reply::AcceptWith(reply) => match reply.encode() {
                    Ok(block) => core.session.accept_with(&block),
                    Err(e) => return Poll::Ready(Err(e)),
                },
                Reply::Refuse(code) => match core.session.refuse(code) {
                    Ok(_) => {
                        core.pump(now, false);
                        continue;
                    }
                    Err(e) => return Poll::Ready(Err(e.into())),
                },
            };
            return match accepted {
                Ok(accepted) => {
                    let stream = this.session.adopt(&mut core, accepted, false, meta);
                    core.pump(now, false);
                    Poll::Ready(Ok(stream))
                }
                Err(braid::AcceptError::SessionClosed) => {
                    Poll::Ready(Err(Error::SessionClosed(core.session.close_reason())))
                }
                Err(e) => Poll::Ready(Err(e.into())),
            };
        }
    }
}

/// The metadata of incoming stream `id`, owned.
fn read_metadata(session: &braid::Session<VecStorage>, id: StreamId) -> Option<StreamMetadata> {
    let mut small = [0u8; 256];
    let block = match session.metadata(id, &mut small) {
        Ok(Some(n)) => small[..n].to_vec(),
        Err(StreamError::BufferTooSmall(n)) => {
            let mut big = vec![0u8; n];
            let n = session.metadata(id, &mut big).ok().flatten()?;
            big.truncate(n);
            big
        }
        _ => return None,
    };
    StreamMetadata::parse(&block).ok()
}

/// Future of [`Session::ping`].
#[must_use = "futures do nothing unless polled"]
pub struct Ping<'a> {
    session: &'a Session,
    /// Pongs seen when this PING was queued.
    sent: Option<u64>,
}

impl Future for Ping<'_> {
    type Output = Result<Duration, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = this.session.shared();
        let mut core = shared.lock();
        if let Some(at) = this.sent {
            if core.pongs > at {
                return Poll::Ready(Ok(core.last_rtt.into()));
            }
        } else {
            match core.session.ping() {
                Ok(()) => {
                    this.sent = Some(core.pongs);
                    let now = shared.now();
                    core.pump(now, false);
                }
                Err(braid::PingError::Busy) => {}
                Err(braid::PingError::SessionClosed) => {
                    return Poll::Ready(Err(Error::SessionClosed(core.session.close_reason())))
                }
            }
        }
        if core.is_ended() || core.end.is_some() {
            return Poll::Ready(Err(Error::SessionClosed(core.session.close_reason())));
        }
        core.ping_waiters.register(cx.waker());
        Poll::Pending
    }
}

/// Future of [`Session::closed`].
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a> {
    session: &'a Session,
}

impl Future for Closed<'_> {
    type Output = SessionEnd;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SessionEnd> {
        let mut core = self.session.shared().lock();
        if let Some(end) = &core.end {
            return Poll::Ready(end.clone());
        }
        core.closed_waiters.register(cx.waker());
        Poll::Pending
    }
}
