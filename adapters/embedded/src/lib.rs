//! # braid-embedded: braid on microcontrollers
//!
//! Runs a [`braid`] session over an `embedded-io-async` pipe (a UART, an
//! embassy-net TCP socket, a USB CDC-ACM class) or a blocking `embedded-io`
//! one, with or without braid's serial link layer, in fixed memory: no
//! allocator, no executor dependency, `#![forbid(unsafe_code)]`.
//!
//! The shape is embassy-net's:
//!
//! - [`Resources`]: all the memory (streams, their buffers, the I/O
//!   buffers, the engine itself), `const fn new`, so it can live in a
//!   `static` (`static_cell::ConstStaticCell`, or a `StaticCell` to keep
//!   it out of flash: see [`Resources`]).
//! - [`new`] / [`new_linked`] split it into a [`Stack`], the `Copy` handle
//!   tasks share to open and accept [`Stream`]s, and a [`Runner`], which
//!   does the I/O: `runner.run(rx, tx, timer).await` in its own task, or
//!   `runner.poll(&mut io, now)` from a main loop.
//! - [`Stream`]: read, write, flush, finish (FIN), reset, metadata; `async`
//!   methods wait on the engine's per-stream wakers, `try_*` ones return
//!   "would block". It is also an `embedded_io_async::{Read, Write}`.
//! - [`Clock`] and [`Timer`]: the two-method time abstraction the runner
//!   needs (see their docs for embassy-time).
//!
//! The stack and its streams use one [`RefCell`](core::cell::RefCell)
//! shared with the runner: they must run on one executor (or one main
//! loop), which is how embassy-net works too. No borrow is held across an
//! `.await`.
//!
//! ## With the serial link layer (UART)
//!
//! [`new_linked`] takes a [`braid::link::Link`]: every session travels in
//! CRC-checked COBS link frames, and the runner starts a new session (and
//! link session) whenever one ends; see [`Runner`] for the restart policy.
//!
//! ```no_run
//! use braid::link::{Link, LinkConfig};
//! use braid::Config;
//! use braid_embedded::{Resources, Timer};
//! use static_cell::ConstStaticCell;
//!
//! static RESOURCES: ConstStaticCell<Resources<4, 512, 512>> = ConstStaticCell::new(Resources::new());
//!
//! async fn firmware<R, W, T>(uart_rx: R, uart_tx: W, timer: T, epoch: u32)
//! where
//!     R: embedded_io_async::Read,
//!     W: embedded_io_async::Write,
//!     T: Timer,
//! {
//!     let link = Link::<136, 4>::new(LinkConfig::reliable(epoch));
//!     let (stack, mut runner) = braid_embedded::new_linked(RESOURCES.take(), Config::server(), link);
//!     // The runner goes in its own task (here: joined with the application).
//!     let app = async {
//!         loop {
//!             let Ok(mut stream) = stack.accept().await else { continue };
//!             let mut buf = [0u8; 64];
//!             while let Ok(n) = stream.read(&mut buf).await {
//!                 if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
//!                     break; // end of stream, or the session ended
//!                 }
//!             }
//!             let _ = stream.finish();
//!         }
//!     };
//!     let run = runner.run(uart_rx, uart_tx, timer);
//!     // With embassy: spawn both, or `embassy_futures::join::join(run, app)`.
//!     # let _ = (run, app);
//! }
//! ```
//!
//! ## Over a reliable pipe (TCP)
//!
//! [`new`] carries sessions as they are ([`Direct`]); `run` returns when
//! the session ends, and the next `run` (over a new connection) starts a
//! new one. A blocking main loop looks like this (runnable: two stacks
//! over an in-memory pipe):
//!
//! ```
//! use braid::{Config, Instant};
//! use braid_embedded::{Resources, Step};
//! # use std::{cell::RefCell, collections::VecDeque, rc::Rc, convert::Infallible};
//! # /// One direction of an in-memory pipe, as a blocking embedded-io pipe.
//! # struct End { rx: Rc<RefCell<VecDeque<u8>>>, tx: Rc<RefCell<VecDeque<u8>>> }
//! # impl embedded_io::ErrorType for End { type Error = Infallible; }
//! # impl embedded_io::Read for End {
//! #     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
//! #         let mut q = self.rx.borrow_mut(); let n = buf.len().min(q.len());
//! #         for b in &mut buf[..n] { *b = q.pop_front().unwrap(); } Ok(n)
//! #     }
//! # }
//! # impl embedded_io::ReadReady for End {
//! #     fn read_ready(&mut self) -> Result<bool, Infallible> { Ok(!self.rx.borrow().is_empty()) }
//! # }
//! # impl embedded_io::Write for End {
//! #     fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> { self.tx.borrow_mut().extend(buf); Ok(buf.len()) }
//! #     fn flush(&mut self) -> Result<(), Infallible> { Ok(()) }
//! # }
//! # let (a, b) = (Rc::new(RefCell::new(VecDeque::new())), Rc::new(RefCell::new(VecDeque::new())));
//! # let mut device_pipe = End { rx: a.clone(), tx: b.clone() };
//! # let mut host_pipe = End { rx: b, tx: a };
//!
//! let mut device_memory = Resources::<2, 256, 256>::new();
//! let mut host_memory = Resources::<2, 256, 256>::new();
//! let (device, mut device_runner) = braid_embedded::new(&mut device_memory, Config::server());
//! let (host, mut host_runner) = braid_embedded::new(&mut host_memory, Config::client());
//!
//! let now = Instant::ZERO;
//! let mut opened = None;
//! let mut accepted = None;
//! let mut got = Vec::new();
//! for _ in 0..20 {
//!     let _ = device_runner.poll(&mut device_pipe, now).unwrap();
//!     let _ = host_runner.poll(&mut host_pipe, now).unwrap();
//!     if opened.is_none() {
//!         if let Ok(mut s) = host.try_open() {
//!             s.try_write(b"hello").unwrap();
//!             s.finish().unwrap();
//!             opened = Some(s);
//!         }
//!     }
//!     if let Ok(s) = device.try_accept() {
//!         accepted = Some(s);
//!     }
//!     if let Some(s) = accepted.as_mut() {
//!         let mut buf = [0u8; 16];
//!         if let Ok(n) = s.try_read(&mut buf) {
//!             got.extend_from_slice(&buf[..n]);
//!         }
//!     }
//! }
//! assert_eq!(got, b"hello");
//! ```
//!
//! ## Features
//!
//! - `defmt`: session and link events logged through `defmt` (connected,
//!   ended and why, link up/down, restarts), and `defmt::Format` on this
//!   crate's and braid's public types. Without it, no logging code at all.
//!
//! ## Memory
//!
//! `core::mem::size_of`, in bytes, for `thumbv7em-none-eabihf` and a
//! 64-bit host (the `memory` test prints the host column):
//!
//! | What | thumbv7em | x86_64 |
//! |------|----------:|-------:|
//! | `Resources<4, 512, 512>`: 4 streams × (512 + 512) B, 2 × 256 B I/O buffers, the session | 6 384 | 6 576 |
//! | … of which the session over its `ArrayStorage` ([`Engine`]) | 5 592 | 5 664 |
//! | `Resources<2, 256, 256>` | 3 144 | 3 304 |
//! | `Link<136, 4>` (reliable, window 4; held by the runner) | 936 | 992 |
//! | `Link<136, 1>` (fail-stop) | 520 | 576 |
//! | `Runner<Link<136, 4>, 4, 512, 512>` (the link included) | 968 | 1 048 |
//! | `Runner<Direct, 4, 512, 512>` | 28 | 56 |
//! | `Stack` / `Stream` | 4 / 12 | 8 / 16 |
//!
//! So a UART endpoint with 4 streams of 512 B each way and a reliable
//! link takes about 7.3 KiB of static memory; 2 streams of 256 B with a
//! fail-stop link about 3.7 KiB.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod framing;
mod log;
mod runner;
mod stack;
mod stream;
mod time;
mod waker;

pub use framing::{Direct, Framing};
pub use runner::{RunError, Runner, Step};
pub use stack::{new, new_linked, Engine, Resources, RunnerStats, Stack, DEFAULT_LINGER};
pub use stream::{Stream, StreamIoError};
pub use time::{Clock, Timer};
