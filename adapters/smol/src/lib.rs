//! # braid-smol: braid streams in smol
//!
//! Many independent, flow-controlled byte streams over one futures-io
//! `AsyncRead + AsyncWrite`: smol's `TcpStream` and `UnixStream`,
//! `Async<std::net::TcpStream>`, a TLS stream, any futures-io pipe. Each
//! [`Stream`] implements futures-io's `AsyncRead` and `AsyncWrite` (so
//! smol's `AsyncReadExt` / `AsyncWriteExt` and `smol::io::copy` work on it)
//! and behaves like a socket: `close` sends a FIN (a **half-close**, like
//! `shutdown(Write)` on a TCP socket: reads go on), reads end with `Ok(0)`,
//! a reset surfaces as `ConnectionReset` with its code. The session is
//! driven by a task that [`client`] and [`server`] spawn on smol's global
//! executor: there is nothing else to run.
//!
//! ```
//! use smol::io::{AsyncReadExt, AsyncWriteExt};
//! use smol::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let tcp = TcpStream::connect(listener.local_addr()?).await?;
//!     let (accepted, _) = listener.accept().await?;
//!     let client = braid_smol::client(tcp, braid_smol::Config::default());
//!     let server = braid_smol::server(accepted, braid_smol::Config::default());
//!
//!     // The server echoes every stream it accepts.
//!     smol::spawn(async move {
//!         while let Ok(stream) = server.accept().await {
//!             smol::spawn(async move {
//!                 let (r, mut w) = stream.split();
//!                 smol::io::copy(r, &mut w).await?;
//!                 w.close().await // FIN: the echo is complete
//!             })
//!             .detach();
//!         }
//!     })
//!     .detach();
//!
//!     let mut stream = client.open().await?;
//!     stream.write_all(b"hello, braid").await?;
//!     stream.close().await?; // FIN: nothing more to send
//!     let mut echo = Vec::new();
//!     stream.read_to_end(&mut echo).await?;
//!     assert_eq!(echo, b"hello, braid");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! ## What is here
//!
//! The session handle, streams, errors and configuration are
//! [`braid_async`]'s, re-exported: with its `futures-io` feature its
//! [`Stream`], [`ReadHalf`] and [`WriteHalf`] implement the futures-io
//! traits themselves, so there are no wrapper types. This crate adds the
//! runtime: [`SmolTimer`] (time on `smol::Timer`, the std clock), the
//! transport [`FuturesIo`] (re-exported), and constructors that spawn the
//! [`Driver`] on smol's global executor ([`client`], [`server`]) or hand it
//! back for an executor of your own ([`client_with_driver`],
//! [`server_with_driver`]: a `smol::LocalExecutor`, a thread pool, anything
//! that polls futures; the timer needs no particular executor).
//!
//! ## Things to know
//!
//! - **Dropping** a stream whose write side was not closed resets it with
//!   CANCEL (the peer sees `ConnectionReset`): `smol::io::copy` does not
//!   close its writer, so call `close().await` to end a stream gracefully.
//!   See [`braid_async::Stream`] ("Dropping a stream") for the whole rule.
//! - Reads and writes are **cancellation-safe**: a read future dropped
//!   before it completes consumed nothing, a write future dropped after
//!   `Pending` wrote nothing (racing them with `smol::future::or` and a
//!   timer is fine).
//! - Time (keepalive, idle timeout, handshake timeout) runs on the real
//!   clock: smol has no paused test clock.
//! - Frame tracing: [`Config::trace`], or [`Config::trace_from_env`] for
//!   `BRAID_TRACE=1`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use braid_async::Timer;
use futures_io::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

pub use braid::link::{LinkConfig, LinkMode, LinkState, LinkStats};
pub use braid::LinkError;
pub use braid_async::{
    Accept, CloseReason, Closed, Config, Error, ErrorCode, FuturesIo, LinkLayer, LocalError, NextSession,
    Open, Ping, ReadHalf, Reply, Role, SerialClosed, SerialLink, Session, SessionEnd, SessionState, Stats,
    Stream, StreamId, StreamInfo, StreamMetadata, Trace, TraceCallback, WriteHalf,
};

/// smol's [`Timer`](smol::Timer) (async-io's) on the std clock, as a braid
/// [`Timer`].
///
/// One timer per session, moved to each new deadline the driver asks for
/// (`Timer::set_at`), so a changing deadline costs no allocation. It needs
/// no particular executor: async-io's reactor wakes it.
pub struct SmolTimer {
    timer: smol::Timer,
    /// The deadline the timer is armed for, until it fires.
    armed: Option<Instant>,
}

impl Default for SmolTimer {
    fn default() -> Self {
        SmolTimer { timer: smol::Timer::never(), armed: None }
    }
}

impl std::fmt::Debug for SmolTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmolTimer").field("deadline", &self.armed).finish()
    }
}

impl Timer for SmolTimer {
    fn now() -> Instant {
        Instant::now()
    }

    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        if self.armed != Some(deadline) {
            self.timer.set_at(deadline);
            self.armed = Some(deadline);
        }
        match Pin::new(&mut self.timer).poll(cx) {
            Poll::Ready(_) => {
                // A fired `Timer::at` never fires again: re-arm next time.
                self.armed = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The future that runs a session over `T` (see [`braid_async::Driver`]):
/// returned by the `*_with_driver` constructors for callers that run it
/// themselves. It completes with how the session ended.
pub type Driver<T> = braid_async::Driver<FuturesIo<T>, SmolTimer>;

/// The opening (client) end of a session over `io`; its driver is spawned
/// on smol's global executor (`smol::spawn`), which runs on threads of its
/// own: no `block_on` needs to be running for the session to make progress.
pub fn client<T>(io: T, config: Config) -> Session
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    spawn(Role::Client, io, &config)
}

/// The accepting (server) end of a session over `io`; its driver is spawned
/// on smol's global executor (see [`client`]).
pub fn server<T>(io: T, config: Config) -> Session
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    spawn(Role::Server, io, &config)
}

fn spawn<T>(role: Role, io: T, config: &Config) -> Session
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (session, driver) = with_driver(role, io, config);
    smol::spawn(driver).detach();
    session
}

/// The client end over `io` and its driver, for the caller to run on an
/// executor of its choice (`ex.spawn(driver).detach()`; `io` need not be
/// `Send` for a `LocalExecutor`). Nothing moves until the driver is polled.
pub fn client_with_driver<T>(io: T, config: Config) -> (Session, Driver<T>)
where
    T: AsyncRead + AsyncWrite,
{
    with_driver(Role::Client, io, &config)
}

/// The server end over `io` and its driver, for the caller to run.
pub fn server_with_driver<T>(io: T, config: Config) -> (Session, Driver<T>)
where
    T: AsyncRead + AsyncWrite,
{
    with_driver(Role::Server, io, &config)
}

/// A session for `role` over `io` and its driver, for the caller to run.
pub fn with_driver<T>(role: Role, io: T, config: &Config) -> (Session, Driver<T>)
where
    T: AsyncRead + AsyncWrite,
{
    Session::new(role, FuturesIo::new(io), SmolTimer::default(), config)
}

/// Sessions with `role` over a serial line `io` (a UART, a pty, a child
/// process's pipes) through braid's link layer configured by `link`, one
/// after another (see [`SerialLink`]); the driver is spawned on smol's
/// global executor.
pub fn serial<T>(role: Role, io: T, config: Config, link: LinkConfig) -> SerialLink
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (serial, driver) = serial_with_driver(role, io, &config, link);
    smol::spawn(driver).detach();
    serial
}

/// [`serial`] with the driver returned, for the caller to run on an
/// executor of its choice; it completes once the sessions are over.
pub fn serial_with_driver<T>(role: Role, io: T, config: &Config, link: LinkConfig) -> (SerialLink, Driver<T>)
where
    T: AsyncRead + AsyncWrite,
{
    SerialLink::new(role, FuturesIo::new(io), SmolTimer::default(), config, link)
}
