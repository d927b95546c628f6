//! [`Runner`]: moves bytes between the pipe and the engine, and time into
//! it; async over `embedded_io_async`, or stepped over blocking `embedded_io`.

use crate::framing::Framing;
use crate::log::warn;
use crate::stack::{Settle, State};
use crate::time::{Clock, Timer};
use crate::waker::{select, Either};
use braid::{CloseReason, Instant};
use core::cell::{Ref, RefCell};
use core::fmt;
use core::future::poll_fn;
use core::task::Poll;

/// Reads per [`Runner::poll`] call at most, so that a flood of input
/// cannot starve the main loop.
const READS_PER_POLL: usize = 8;

/// Why a run ended with an error: the pipe failed. The session ended with
/// it (as if the pipe had closed); received data stays readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RunError<R, W> {
    /// Reading the pipe failed (a reliable pipe only: over a link, read
    /// errors are counted and ignored, see [`Runner`]).
    Read(R),
    /// Writing the pipe failed.
    Write(W),
}

impl<R: fmt::Debug, W: fmt::Debug> fmt::Display for RunError<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Read(e) => write!(f, "pipe read failed: {e:?}"),
            RunError::Write(e) => write!(f, "pipe write failed: {e:?}"),
        }
    }
}

/// What one [`Runner::poll`] step left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step {
    /// Nothing more to do until input arrives, a stream command is made,
    /// or this deadline passes (`None`: no deadline). Poll again then.
    Idle(Option<Instant>),
    /// The session ended and the runner stopped (see [`Runner`]); a later
    /// `poll` starts a new session.
    Ended(CloseReason),
}

/// Does the I/O for a [`Stack`](crate::Stack): reads the pipe into the
/// engine, writes what the engine produces, runs its timers, and starts new
/// sessions. Generic over its [`Framing`]: [`Direct`](crate::Direct) for a
/// reliable pipe ([`new`](crate::new)) or a [`braid::link::Link`] for a UART
/// ([`new_linked`](crate::new_linked)).
///
/// Two ways to drive it, over the same state:
///
/// - [`run`](Self::run), async over `embedded_io_async` read and write
///   halves (a UART's `split()`, an embassy-net TCP socket's `split()`, a USB
///   CDC-ACM class's halves) with a [`Timer`]; reading never waits behind
///   writing, so window updates and PING answers keep flowing.
/// - [`poll`](Self::poll), one non-blocking step over a blocking
///   `embedded_io` pipe that also implements `ReadReady`, for a firmware
///   main loop; [`run_blocking`](Self::run_blocking) loops over it.
///
/// # Session lifetime and restart policy
///
/// Each `run` (or the first `poll` after an end) starts a new session with
/// the stack's [`Config`](braid::Config); [`Stack::generation`](crate::Stack::generation)
/// goes up, and streams of older sessions report `SessionClosed`.
///
/// - **Reliable pipe ([`Direct`](crate::Direct))**: the pipe's byte stream
///   belongs to one session (a second preface cannot follow the first), so
///   when the session ends (GOAWAY, [`Stack::close`](crate::Stack::close),
///   idle or handshake timeout, a protocol error) `run` returns its
///   [`CloseReason`] once the last frames are written. End of input ends
///   the session too ([`braid::LocalError::TransportEof`]), and a read or
///   write error ends it and is returned as [`RunError`]. Reconnect, then
///   call `run` again.
/// - **Serial link ([`Link`](braid::link::Link))**: the link restarts
///   sessions itself. When the session ends — a link error (a corrupt or
///   lost frame in fail-stop mode, the retry limit in reliable mode, the
///   peer rebooted or resynced), a GOAWAY, an idle or handshake timeout —
///   the ended session stays in place while its streams still hold data
///   to read, for at most the linger time
///   ([`Stack::set_linger`](crate::Stack::set_linger), 500 ms by default),
///   then a new session replaces it and the link starts a new link session
///   (new session counter, SYNC again); the peer, seeing it, ends its own
///   session if it had not and does the same (spec.md §14.3). Waiting
///   `open`/`accept`/`wait_connected` calls carry on with the new session.
///   No backoff is needed: while the peer is silent the link only repeats
///   a SYNC every `sync_interval`. Read errors (UART framing, parity,
///   overrun) are counted in [`RunnerStats::read_errors`](crate::RunnerStats)
///   and otherwise ignored: the link's CRC and sequence numbers catch what
///   they damaged. Only [`Stack::close`](crate::Stack::close), the end of
///   input or a write error end the run.
pub struct Runner<'a, F: Framing, const N: usize, const RX: usize, const TX: usize> {
    state: &'a RefCell<State<N, RX, TX>>,
    framing: RefCell<F>,
    rbuf: &'a mut [u8],
    wbuf: &'a mut [u8],
    /// `poll` has started a session that has not ended yet.
    polling: bool,
}

impl<'a, F: Framing, const N: usize, const RX: usize, const TX: usize> Runner<'a, F, N, RX, TX> {
    pub(crate) fn new(
        state: &'a RefCell<State<N, RX, TX>>,
        framing: F,
        rbuf: &'a mut [u8],
        wbuf: &'a mut [u8],
    ) -> Self {
        Runner { state, framing: RefCell::new(framing), rbuf, wbuf, polling: false }
    }

    /// The framing: [`Direct`](crate::Direct), or the [`Link`](braid::link::Link)
    /// with its state and counters.
    #[must_use]
    pub fn framing(&self) -> Ref<'_, F> {
        self.framing.borrow()
    }

    fn begin(&self, now: Instant) {
        let mut st = self.state.borrow_mut();
        st.stop = false;
        st.start(&mut *self.framing.borrow_mut(), now);
    }

    /// The pipe ended (or failed): end the session, wake everyone, and
    /// report how it ended.
    fn end(&self, now: Instant) -> CloseReason {
        let mut st = self.state.borrow_mut();
        let f = &mut *self.framing.borrow_mut();
        st.eof(f, now);
        st.stop = true;
        match st.settle(f, now, true) {
            Settle::Done(reason) => reason,
            _ => CloseReason { local: Some(braid::LocalError::TransportEof), remote: None },
        }
    }

    /// Run sessions over `rx` and `tx` until one ends (reliable pipe) or
    /// the run is stopped (see the restart policy above).
    ///
    /// Cancel-safe only at the end: dropping the future mid-run leaves the
    /// session to be ended by the next `run` (as if its pipe had closed).
    ///
    /// # Errors
    /// [`RunError`] when reading (reliable pipe) or writing fails.
    pub async fn run<R, W, T>(
        &mut self,
        mut rx: R,
        mut tx: W,
        timer: T,
    ) -> Result<CloseReason, RunError<R::Error, W::Error>>
    where
        R: embedded_io_async::Read,
        W: embedded_io_async::Write,
        T: Timer,
    {
        self.begin(timer.now());
        let state = self.state;
        let framing = &self.framing;
        let rbuf = &mut *self.rbuf;
        let wbuf = &mut *self.wbuf;
        let timer = &timer;

        let reader = async {
            loop {
                match rx.read(rbuf).await {
                    Ok(0) => return Ok(()),
                    Ok(n) => {
                        let mut st = state.borrow_mut();
                        st.feed(&mut *framing.borrow_mut(), timer.now(), &rbuf[..n]);
                        st.kick();
                    }
                    Err(e) if F::RESTARTS => {
                        let _ = e;
                        let mut st = state.borrow_mut();
                        st.stats.read_errors = st.stats.read_errors.wrapping_add(1);
                        warn!("braid: pipe read error ignored (link)");
                    }
                    Err(e) => return Err(e),
                }
            }
        };

        let writer = async {
            let mut unflushed = false;
            loop {
                let now = timer.now();
                let (n, settle) = {
                    let mut st = state.borrow_mut();
                    let f = &mut *framing.borrow_mut();
                    st.take_dirty();
                    let n = st.gather(f, now, wbuf);
                    (n, st.settle(f, now, n == 0))
                };
                if n > 0 {
                    tx.write_all(&wbuf[..n]).await?;
                    unflushed = true;
                    continue;
                }
                if unflushed {
                    tx.flush().await?;
                    unflushed = false;
                    continue;
                }
                match settle {
                    Settle::Done(reason) => return Ok(reason),
                    Settle::Again => {}
                    Settle::Wait(deadline) => {
                        let kicked = poll_fn(|cx| {
                            let mut st = state.borrow_mut();
                            if st.take_dirty() {
                                Poll::Ready(())
                            } else {
                                st.runner.register(cx.waker());
                                Poll::Pending
                            }
                        });
                        match deadline {
                            Some(d) => {
                                let _ = select(kicked, timer.sleep_until(d)).await;
                            }
                            None => kicked.await,
                        }
                    }
                }
            }
        };

        let outcome = select(reader, writer).await;
        let now = timer.now();
        match outcome {
            Either::First(Ok(())) => Ok(self.end(now)),
            Either::First(Err(e)) => {
                self.end(now);
                Err(RunError::Read(e))
            }
            Either::Second(Ok(reason)) => Ok(reason),
            Either::Second(Err(e)) => {
                self.end(now);
                Err(RunError::Write(e))
            }
        }
    }

    /// One step over a blocking pipe, without waiting for input: read what
    /// is ready (`ReadReady`), run the timers due at `now`, write what the
    /// engine produced (blocking until written), start a new session when
    /// the policy says so. Call it from the main loop whenever input may
    /// have arrived, a stream command was made, or the deadline of the last
    /// [`Step::Idle`] passed.
    ///
    /// # Errors
    /// [`RunError`] when reading (reliable pipe) or writing fails; the
    /// session has then ended.
    pub fn poll<T>(&mut self, io: &mut T, now: Instant) -> Result<Step, RunError<T::Error, T::Error>>
    where
        T: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write,
    {
        if !self.polling {
            self.begin(now);
            self.polling = true;
        }
        for _ in 0..READS_PER_POLL {
            let read = match io.read_ready() {
                Ok(false) => break,
                Ok(true) => io.read(self.rbuf),
                Err(e) => Err(e),
            };
            match read {
                Ok(0) => {
                    self.polling = false;
                    return Ok(Step::Ended(self.end(now)));
                }
                Ok(n) => {
                    let mut st = self.state.borrow_mut();
                    st.feed(&mut *self.framing.borrow_mut(), now, &self.rbuf[..n]);
                }
                Err(_) if F::RESTARTS => {
                    let mut st = self.state.borrow_mut();
                    st.stats.read_errors = st.stats.read_errors.wrapping_add(1);
                    warn!("braid: pipe read error ignored (link)");
                    break;
                }
                Err(e) => {
                    self.polling = false;
                    self.end(now);
                    return Err(RunError::Read(e));
                }
            }
        }
        let mut wrote = false;
        let step = loop {
            let (n, settle) = {
                let mut st = self.state.borrow_mut();
                let f = &mut *self.framing.borrow_mut();
                st.take_dirty();
                let n = st.gather(f, now, self.wbuf);
                (n, st.settle(f, now, n == 0))
            };
            if n > 0 {
                if let Err(e) = io.write_all(&self.wbuf[..n]) {
                    self.polling = false;
                    self.end(now);
                    return Err(RunError::Write(e));
                }
                wrote = true;
                continue;
            }
            match settle {
                Settle::Done(reason) => {
                    self.polling = false;
                    break Step::Ended(reason);
                }
                Settle::Again => {}
                Settle::Wait(deadline) => break Step::Idle(deadline),
            }
        };
        if wrote {
            if let Err(e) = io.flush() {
                self.polling = false;
                self.end(now);
                return Err(RunError::Write(e));
            }
        }
        Ok(step)
    }

    /// Loop over [`poll`](Self::poll) until the run ends: after each step,
    /// `idle` gets the deadline of [`Step::Idle`] and does the
    /// application's work (through a copy of the [`Stack`](crate::Stack) and
    /// its streams' `try_*` methods), then may sleep until the deadline or
    /// the next interrupt (`cortex_m::asm::wfi`) — or simply return.
    ///
    /// # Errors
    /// As [`poll`](Self::poll).
    pub fn run_blocking<T, C>(
        &mut self,
        io: &mut T,
        clock: &C,
        mut idle: impl FnMut(Option<Instant>),
    ) -> Result<CloseReason, RunError<T::Error, T::Error>>
    where
        T: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write,
        C: Clock,
    {
        loop {
            match self.poll(io, clock.now())? {
                Step::Ended(reason) => return Ok(reason),
                Step::Idle(deadline) => idle(deadline),
            }
        }
    }
}
