//! # braid-async: runtime-agnostic async streams over a braid session
//!
//! The shared core of braid's async adapters (`braid-tokio`, `braid-smol`).
//! It depends on nothing but `std` and the [`braid`] engine: a runtime
//! adapter supplies a [`Transport`] (its socket type, four poll methods)
//! and a [`Timer`] (its clock and sleep), spawns the [`Driver`], and wraps
//! [`Stream`] in its own I/O traits.
//!
//! - [`Session`]: a cheap, cloneable handle: [`open`](Session::open),
//!   [`open_with`](Session::open_with) (typed streams with headers),
//!   [`accept`](Session::accept), [`accept_with`](Session::accept_with)
//!   (reply metadata or refusal), [`ping`](Session::ping),
//!   [`go_away`](Session::go_away), [`close`](Session::close) (graceful),
//!   [`closed`](Session::closed) (how it ended), [`rtt`](Session::rtt).
//! - [`Stream`]: `poll_read` / `poll_write` / `poll_flush` /
//!   `poll_shutdown` (FIN), [`reset`](Stream::reset), metadata, the peer's
//!   reset code; splits into [`ReadHalf`] and [`WriteHalf`]. See its docs for
//!   what dropping a stream does.
//! - [`Driver`]: the future that runs the session (no runtime inside).
//! - [`SerialLink`]: sessions over a serial byte stream through braid's
//!   link layer ([`braid::link`]: CRC-checked COBS frames, fail-stop or
//!   reliable go-back-N), a new session after each one ends, for talking to
//!   a microcontroller running `braid-embedded` over a UART.
//! - [`Config`]: the engine's configuration plus buffers, limits and the
//!   frame trace.
//! - [`Error`]: what operations report, also inside [`std::io::Error`];
//!   [`SessionEnd`]: how a session ended.
//!
//! ## State and locking
//!
//! The engine ([`braid::Session`] over [`braid::VecStorage`]) lives behind
//! one `std::sync::Mutex` shared by the handle, the streams and the driver;
//! every critical section is one engine call plus draining its output, never
//! an `.await`. A stream operation that cannot proceed registers the task
//! with the engine's per-stream waker slot (feature `wakers`) and returns
//! `Pending`; the engine wakes it on data, room, reset or the session's end.
//!
//! ## Binding a runtime
//!
//! ```ignore
//! struct MyIo(my_runtime::TcpStream);
//! impl braid_async::Transport for MyIo { /* poll_read, poll_write, poll_flush, poll_close */ }
//! struct MyTimer(Option<my_runtime::Sleep>);
//! impl braid_async::Timer for MyTimer { /* now, poll_sleep_until */ }
//!
//! let (session, driver) = braid_async::Session::new(braid::Role::Client, MyIo(tcp), MyTimer(None), &config);
//! my_runtime::spawn(driver);
//! ```
//!
//! ## Features
//!
//! - `futures-io`: futures-io's `AsyncRead` and `AsyncWrite` on [`Stream`],
//!   [`ReadHalf`] and [`WriteHalf`] (`poll_close` is the half-close), and
//!   `FuturesIo`, a [`Transport`] over any futures-io pipe: all a
//!   futures-io runtime (smol, async-std…) needs besides a [`Timer`].
//!   `braid-smol` is built on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod driver;
mod error;
#[cfg(feature = "futures-io")]
mod futures_io;
mod serial;
mod session;
mod shared;
mod stream;

#[cfg(feature = "futures-io")]
pub use self::futures_io::FuturesIo;
pub use config::{Config, Trace, TraceCallback};
pub use driver::{Driver, Timer, Transport};
pub use error::{Error, SessionEnd};
pub use serial::{NextSession, SerialClosed, SerialLink};
pub use session::{Accept, Closed, Open, Ping, Reply, Session};
pub use shared::LinkLayer;
pub use stream::{ReadHalf, Stream, StreamMetadata, WriteHalf};

pub use braid::{CloseReason, ErrorCode, LocalError, Role, SessionState, Stats, StreamId, StreamInfo};

#[cfg(test)]
mod tests;
