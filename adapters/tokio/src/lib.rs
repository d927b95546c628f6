//! # braid-tokio: braid streams in tokio
//!
//! Many independent, flow-controlled byte streams over one tokio
//! `AsyncRead + AsyncWrite` (a `TcpStream`, a `UnixStream`, a
//! `tokio::io::duplex` pipe, a TLS stream…). Each [`Stream`] implements
//! tokio's [`AsyncRead`] and [`AsyncWrite`] and behaves like a socket:
//! `shutdown` sends a FIN (half-close), reads end with `Ok(0)`, a reset
//! surfaces as `ConnectionReset` with its code. The session is driven by a
//! task that [`Session::client`] and [`Session::server`] spawn: there is
//! nothing else to run.
//!
//! ```
//! use braid_tokio::{Config, Session};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let (a, b) = tokio::io::duplex(64 * 1024);
//! let client = Session::client(a, Config::default());
//! let server = Session::server(b, Config::default());
//!
//! // The server echoes every stream it accepts.
//! tokio::spawn(async move {
//!     while let Ok(stream) = server.accept().await {
//!         tokio::spawn(async move {
//!             let (mut r, mut w) = stream.into_split();
//!             tokio::io::copy(&mut r, &mut w).await?;
//!             w.shutdown().await // FIN: the echo is complete
//!         });
//!     }
//! });
//!
//! let mut stream = client.open().await?;
//! stream.write_all(b"hello, braid").await?;
//! stream.shutdown().await?; // FIN: nothing more to send
//! let mut echo = Vec::new();
//! stream.read_to_end(&mut echo).await?;
//! assert_eq!(echo, b"hello, braid");
//! # Ok(()) }
//! ```
//!
//! Time (keepalive, idle timeout, handshake timeout) runs on `tokio::time`,
//! so tests can use the paused clock (`#[tokio::test(start_paused = true)]`).
//! Frame tracing: [`Config::trace`], or [`Config::trace_from_env`] for
//! `BRAID_TRACE=1`.
//!
//! Over a serial line (a UART, a pty, a child process's stdin and stdout),
//! [`SerialLink`] runs sessions through braid's link layer (CRC-checked
//! frames, fail-stop or reliable retransmission), one after another: how a
//! host talks to a microcontroller running `braid-embedded`.
//!
//! The runtime-independent parts (the session handle, streams, the driver,
//! errors) live in [`braid_async`]; this crate binds them to tokio.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use braid_async::{Timer, Transport};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

mod serial;

pub use braid::link::{LinkConfig, LinkMode, LinkState, LinkStats};
pub use braid::LinkError;
pub use serial::SerialLink;

pub use braid_async::{
    CloseReason, Config, Error, ErrorCode, LocalError, Reply, Role, SessionEnd, SessionState, Stats,
    StreamId, StreamInfo, StreamMetadata, Trace,
};

/// A tokio `AsyncRead + AsyncWrite` as a braid [`Transport`].
pub struct TokioIo<T> {
    io: Pin<Box<T>>,
}

impl<T> TokioIo<T> {
    /// Wrap `io`.
    pub fn new(io: T) -> Self {
        TokioIo { io: Box::pin(io) }
    }
}

impl<T> std::fmt::Debug for TokioIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokioIo")
    }
}

impl<T: AsyncRead + AsyncWrite> Transport for TokioIo<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        ready!(self.io.as_mut().poll_read(cx, &mut rb))?;
        Poll::Ready(Ok(rb.filled().len()))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_shutdown(cx)
    }
}

/// `tokio::time` as a braid [`Timer`] (the paused test clock included).
#[derive(Default)]
pub struct TokioTimer {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl std::fmt::Debug for TokioTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioTimer").field("deadline", &self.sleep.as_ref().map(|s| s.deadline())).finish()
    }
}

impl Timer for TokioTimer {
    fn now() -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }

    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: std::time::Instant) -> Poll<()> {
        let at = tokio::time::Instant::from_std(deadline);
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                sleep
            }
            None => self.sleep.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        sleep.as_mut().poll(cx)
    }
}

/// The future that runs a session over `T` (see [`braid_async::Driver`]):
/// returned by the `*_with_driver` constructors for callers that run it
/// themselves. It completes with how the session ended.
pub type Driver<T> = braid_async::Driver<TokioIo<T>, TokioTimer>;

/// A braid session over a tokio transport: opens and accepts [`Stream`]s.
///
/// Cheap to clone; all clones are the same session. When the last clone is
/// dropped the session goes away gracefully (GOAWAY, streams still held
/// finish, then the transport is closed).
#[derive(Clone, Debug)]
pub struct Session {
    inner: braid_async::Session,
}

impl Session {
    /// The opening (client) end over `io`; its driver is spawned with
    /// `tokio::spawn`, so call this inside a tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn client<T>(io: T, config: Config) -> Session
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::spawn(Role::Client, io, &config)
    }

    /// The accepting (server) end over `io`; its driver is spawned with
    /// `tokio::spawn`, so call this inside a tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn server<T>(io: T, config: Config) -> Session
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::spawn(Role::Server, io, &config)
    }

    /// The client end over `io` and its driver, for the caller to run (a
    /// custom executor, a test polling it by hand). Nothing moves until the
    /// driver is polled.
    pub fn client_with_driver<T>(io: T, config: Config) -> (Session, Driver<T>)
    where
        T: AsyncRead + AsyncWrite,
    {
        Self::with_driver(Role::Client, io, &config)
    }

    /// The server end over `io` and its driver, for the caller to run.
    pub fn server_with_driver<T>(io: T, config: Config) -> (Session, Driver<T>)
    where
        T: AsyncRead + AsyncWrite,
    {
        Self::with_driver(Role::Server, io, &config)
    }

    /// A session for `role` over `io` and its driver, for the caller to run.
    pub fn with_driver<T>(role: Role, io: T, config: &Config) -> (Session, Driver<T>)
    where
        T: AsyncRead + AsyncWrite,
    {
        let (inner, driver) =
            braid_async::Session::new(role, TokioIo::new(io), TokioTimer::default(), config);
        (Session { inner }, driver)
    }

    fn spawn<T>(role: Role, io: T, config: &Config) -> Session
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (session, driver) = Self::with_driver(role, io, config);
        tokio::spawn(driver);
        session
    }

    /// Open a stream; waits for the handshake and for stream credit.
    ///
    /// # Errors
    /// [`Error::GoingAway`] once a GOAWAY was sent or received,
    /// [`Error::SessionClosed`], [`Error::IdsExhausted`].
    pub async fn open(&self) -> Result<Stream, Error> {
        self.inner.open().await.map(Stream::new)
    }

    /// Open a stream of `stream_type` (metadata with no headers).
    ///
    /// # Errors
    /// As [`open_with`](Self::open_with).
    pub async fn open_typed(&self, stream_type: u32) -> Result<Stream, Error> {
        self.inner.open_typed(stream_type).await.map(Stream::new)
    }

    /// Open a stream whose SYN carries a stream type and headers; the
    /// acceptor reads them from [`Stream::metadata`].
    ///
    /// # Errors
    /// As [`open`](Self::open), and [`Error::MetadataMalformed`] /
    /// [`Error::MetadataTooLarge`].
    pub async fn open_with<H, N, V>(&self, stream_type: u32, headers: H) -> Result<Stream, Error>
    where
        H: IntoIterator<Item = (N, V)>,
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        self.inner.open_with(stream_type, headers).await.map(Stream::new)
    }

    /// Accept the next stream the peer opened (its metadata is on
    /// [`Stream::metadata`]).
    ///
    /// # Errors
    /// [`Error::SessionClosed`] once the session has ended.
    pub async fn accept(&self) -> Result<Stream, Error> {
        self.inner.accept().await.map(Stream::new)
    }

    /// Accept the next stream, with `decide` choosing from its metadata to
    /// accept it, answer with reply metadata, or refuse it (see
    /// [`braid_async::Session::accept_with`]).
    ///
    /// # Errors
    /// As [`braid_async::Session::accept_with`].
    pub async fn accept_with<F>(&self, decide: F) -> Result<Stream, Error>
    where
        F: FnMut(Option<&StreamMetadata>) -> Reply + Unpin,
    {
        self.inner.accept_with(decide).await.map(Stream::new)
    }

    /// Send a PING and wait for the answer: the round-trip time.
    ///
    /// # Errors
    /// [`Error::SessionClosed`].
    pub async fn ping(&self) -> Result<Duration, Error> {
        self.inner.ping().await
    }

    /// Send GOAWAY with `code` (see [`braid_async::Session::go_away`]).
    ///
    /// # Errors
    /// [`Error::GoAwayAlreadySent`], [`Error::ReservedCode`],
    /// [`Error::SessionClosed`].
    pub fn go_away(&self, code: ErrorCode) -> Result<(), Error> {
        self.inner.go_away(code)
    }

    /// [`go_away`](Self::go_away) with debug bytes for the peer.
    ///
    /// # Errors
    /// As [`go_away`](Self::go_away).
    pub fn go_away_with(&self, code: ErrorCode, debug: &[u8]) -> Result<(), Error> {
        self.inner.go_away_with(code, debug)
    }

    /// Close gracefully (GOAWAY NO_ERROR, then wait for open streams to end
    /// and the last bytes to be written); returns how the session ended.
    /// Bound it with `tokio::time::timeout` and [`close_now`](Self::close_now)
    /// if streams may never end.
    pub async fn close(&self) -> SessionEnd {
        self.inner.close().await
    }

    /// End the session now (GOAWAY NO_ERROR; every stream ends).
    pub fn close_now(&self) {
        self.inner.close_now();
    }

    /// Wait for the session's end: the local error, the peer's GOAWAY code
    /// and debug bytes, the transport error (muxado's `Wait()`).
    pub async fn closed(&self) -> SessionEnd {
        self.inner.closed().await
    }

    /// How the session ended, if it has.
    #[must_use]
    pub fn end(&self) -> Option<SessionEnd> {
        self.inner.end()
    }

    /// The smoothed round-trip time, once measured.
    #[must_use]
    pub fn rtt(&self) -> Option<Duration> {
        self.inner.rtt()
    }

    /// Where the session is in its life.
    #[must_use]
    pub fn state(&self) -> SessionState {
        self.inner.state()
    }

    /// Whether the session has ended.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Which side this is.
    #[must_use]
    pub fn role(&self) -> Role {
        self.inner.role()
    }

    /// The session's counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Bytes held by stream buffers right now.
    #[must_use]
    pub fn buffer_bytes(&self) -> usize {
        self.inner.buffer_bytes()
    }

    /// Give back the memory of empty stream buffers now.
    pub fn trim_buffers(&self) {
        self.inner.trim_buffers();
    }

    /// Look at the engine while the session is locked.
    pub fn inspect<R>(&self, f: impl FnOnce(&braid::Session<braid::VecStorage>) -> R) -> R {
        self.inner.inspect(f)
    }

    /// The serial link's counters, on a session a [`SerialLink`] carries
    /// while it is the link's current session; `None` otherwise.
    #[must_use]
    pub fn link_stats(&self) -> Option<LinkStats> {
        self.inner.link_stats()
    }

    /// The runtime-independent handle.
    #[must_use]
    pub fn as_async(&self) -> &braid_async::Session {
        &self.inner
    }

    /// Wrap a runtime-independent handle.
    pub(crate) fn from_async(inner: braid_async::Session) -> Session {
        Session { inner }
    }
}

/// A braid stream: tokio [`AsyncRead`] + [`AsyncWrite`]; `shutdown` sends
/// a FIN (half-close).
///
/// Reads and writes are cancellation-safe (a dropped `read` future loses no
/// bytes; a dropped `write` future wrote nothing or what it reported).
/// Errors carry a [`braid_async::Error`]: `ConnectionReset` for a reset
/// (code in [`Error::reset_code`]), `BrokenPipe` for writes after shutdown
/// or on an ended session.
///
/// **Dropping** a stream whose write side was not shut down resets it with
/// CANCEL (unsent data is dropped, the peer sees `ConnectionReset`); after
/// `shutdown` the data and FIN still go out. See
/// [`braid_async::Stream`] ("Dropping a stream") for the whole rule.
#[derive(Debug)]
pub struct Stream {
    inner: braid_async::Stream,
}

impl Stream {
    fn new(inner: braid_async::Stream) -> Self {
        Stream { inner }
    }

    /// The stream's id.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.inner.id()
    }

    /// Whether this side opened the stream.
    #[must_use]
    pub fn is_local(&self) -> bool {
        self.inner.is_local()
    }

    /// The peer's metadata: the opener's for an accepted stream, the
    /// acceptor's reply for one this side opened (once it arrived).
    #[must_use]
    pub fn metadata(&self) -> Option<&StreamMetadata> {
        self.inner.metadata()
    }

    /// Shut the write side down now (what `shutdown` does): a FIN follows
    /// the data written.
    ///
    /// # Errors
    /// [`Error::Reset`], [`Error::SessionClosed`].
    pub fn finish(&self) -> Result<(), Error> {
        self.inner.finish()
    }

    /// Reset the stream with `code`: both directions end at once and the
    /// peer's operations fail with it.
    ///
    /// # Errors
    /// [`Error::ReservedCode`], [`Error::SessionClosed`].
    pub fn reset(&self, code: ErrorCode) -> Result<(), Error> {
        self.inner.reset(code)
    }

    /// The code the stream was reset with, unless this side's `reset` did it.
    #[must_use]
    pub fn reset_code(&self) -> Option<ErrorCode> {
        self.inner.reset_code()
    }

    /// The stream's windows and buffered bytes, while the session knows it.
    #[must_use]
    pub fn info(&self) -> Option<StreamInfo> {
        self.inner.info()
    }

    /// Split into owned halves, usable from different tasks. The stream is
    /// dropped (see [`Stream`]) once both halves are.
    #[must_use]
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let (r, w) = self.inner.split();
        (OwnedReadHalf { inner: r }, OwnedWriteHalf { inner: w })
    }
}

fn read_into(
    poll: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let n = ready!(poll(buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        read_into(|dst| self.inner.poll_read(cx, dst), buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_shutdown(cx)
    }
}

/// The read half of a [`Stream`] (from [`Stream::into_split`]).
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: braid_async::ReadHalf,
}

impl OwnedReadHalf {
    /// The stream's id.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.inner.id()
    }

    /// The peer's metadata (see [`Stream::metadata`]).
    #[must_use]
    pub fn metadata(&self) -> Option<&StreamMetadata> {
        self.inner.metadata()
    }

    /// Reset the whole stream (see [`Stream::reset`]).
    ///
    /// # Errors
    /// As [`Stream::reset`].
    pub fn reset(&self, code: ErrorCode) -> Result<(), Error> {
        self.inner.reset(code)
    }

    /// As [`Stream::reset_code`].
    #[must_use]
    pub fn reset_code(&self) -> Option<ErrorCode> {
        self.inner.reset_code()
    }

    /// Put the stream back together.
    ///
    /// # Errors
    /// Both halves back when they are of different streams.
    pub fn reunite(self, write: OwnedWriteHalf) -> Result<Stream, (OwnedReadHalf, OwnedWriteHalf)> {
        self.inner
            .reunite(write.inner)
            .map(Stream::new)
            .map_err(|(r, w)| (OwnedReadHalf { inner: r }, OwnedWriteHalf { inner: w }))
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        read_into(|dst| self.inner.poll_read(cx, dst), buf)
    }
}

/// The write half of a [`Stream`] (from [`Stream::into_split`]);
/// `shutdown` sends the FIN.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: braid_async::WriteHalf,
}

impl OwnedWriteHalf {
    /// The stream's id.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.inner.id()
    }

    /// As [`Stream::finish`].
    ///
    /// # Errors
    /// As [`Stream::finish`].
    pub fn finish(&self) -> Result<(), Error> {
        self.inner.finish()
    }

    /// Reset the whole stream (see [`Stream::reset`]).
    ///
    /// # Errors
    /// As [`Stream::reset`].
    pub fn reset(&self, code: ErrorCode) -> Result<(), Error> {
        self.inner.reset(code)
    }

    /// As [`Stream::reset_code`].
    #[must_use]
    pub fn reset_code(&self) -> Option<ErrorCode> {
        self.inner.reset_code()
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_shutdown(cx)
    }
}
