//! # braid: a sans-io stream multiplexer engine
//!
//! braid carries many independent, flow-controlled, full-duplex byte
//! streams over one reliable, ordered byte pipe. This crate is its protocol
//! engine: a pure state machine ([`Session`]) that consumes bytes and clock
//! readings and produces bytes, events and timer deadlines. It performs no
//! I/O, reads no clock, never allocates (unless the `alloc` feature's
//! [`VecStorage`] is chosen) and never panics on any input.
//!
//! The wire protocol is specified in `spec.md` at the repository root;
//! references like `[S-5.3]` in this documentation point at its numbered
//! requirements.
//!
//! - [`Session`]: one end of a session, and its call protocol.
//! - [`ArrayStorage`] / [`VecStorage`]: where streams and their buffers live.
//! - [`frame`]: the wire codec, usable on its own.
//! - [`trace`]: the opt-in frame trace.
//! - [`pair`]: two sessions joined in memory on a virtual clock.
//! - `link` (feature `link`): the serial link layer below a session (COBS,
//!   CRC-32C, epochs, fail-stop or go-back-N).
//!
//! ## Features
//! - `alloc`: [`VecStorage`], growable storage for hosts.
//! - `std`: `std::error::Error` impls (implies `alloc`).
//! - `wakers`: a `core::task::Waker` slot per stream direction
//!   (`Session::register_read_waker`, `Session::register_write_waker`).
//! - `defmt`: `defmt::Format` on public types, protocol errors logged.
//! - `log`: protocol errors and session ends logged through `log`.
//! - `link`: the serial link layer, `braid::link` (pulls in `crc` and `cobs`).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod config;
mod error_code;
pub mod frame;
#[cfg(feature = "link")]
pub mod link;
mod metadata;
pub mod pair;
mod protocol_error;
mod ring;
mod session;
mod storage;
mod stream;
mod stream_id;
mod time;
pub mod trace;

pub use config::Config;
pub use error_code::ErrorCode;
pub use metadata::{Headers, Metadata, MetadataError, MetadataValidator, MetadataWriter};
pub use protocol_error::ProtocolError;
pub use session::{
    AcceptError, CloseReason, Event, GoAwayError, LinkError, LocalError, OpenError, PingError, ReadError,
    Session, SessionState, Stats, StreamError, StreamInfo, WriteError,
};
#[cfg(feature = "alloc")]
pub use storage::VecStorage;
pub use storage::{ArrayStorage, Storage};
pub use stream::Stream;
pub use stream_id::{Role, StreamId};
pub use time::{Duration, Instant};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
