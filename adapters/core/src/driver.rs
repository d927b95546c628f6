//! The driver: the future that moves bytes between the engine and the
//! transport, and time into the engine.

use crate::config::Config;
use crate::error::SessionEnd;
use crate::serial::Restarter;
use crate::shared::{Core, Shared};
use braid::Instant;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The byte pipe under a session, as a runtime presents it: a tiny
/// poll-based trait that each runtime adapter implements in a few lines.
pub trait Transport {
    /// Read into `buf`; `Ok(0)` is the end of input.
    ///
    /// # Errors
    /// The transport's.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Write from `buf`; returns how much was taken.
    ///
    /// # Errors
    /// The transport's.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Push buffered bytes out.
    ///
    /// # Errors
    /// The transport's.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shut the write side down (flushing first).
    ///
    /// # Errors
    /// The transport's.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// The runtime's clock and timer.
pub trait Timer {
    /// The runtime's clock now (a paused test clock, if the runtime has one).
    fn now() -> std::time::Instant
    where
        Self: Sized;

    /// Ready once the clock reaches `deadline`; otherwise arrange for the
    /// task to be woken then. Each call may give a different deadline.
    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: std::time::Instant) -> Poll<()>;
}

/// Loop turns in one poll before the driver yields to other tasks.
const BUDGET: usize = 32;
/// The clock is read at the start of a poll and again every this many
/// turns (a turn moves at most one read buffer and one write buffer, so the
/// reading stays within a millisecond or so of the truth).
const CLOCK_EVERY: usize = 4;
/// Bytes fed to the engine in one poll before the driver lets the
/// streams' readers run: they then copy out data that is still in the CPU
/// cache, rather than the driver racing megabytes ahead of them.
const FEED_PER_POLL: usize = 256 * 1024;
/// After closing, the driver reads and drops input until the peer's end,
/// or until none came for this long (see [`Driver`]).
const LINGER_QUIET: braid::Duration = braid::Duration::from_millis(500);

/// The future that runs a session: reads the transport into the engine,
/// writes what the engine produces, and keeps its timers. Spawn it on the
/// runtime (the tokio and smol adapters do); it completes with how the
/// session ended, once the session is over and its last bytes are written.
///
/// # How it works
///
/// - **Reading** goes into a reusable buffer without the session lock, then
///   the bytes are fed to [`braid::Session::handle_input`] under the lock.
///   Reading never waits behind writing: each turn polls the transport's
///   read side whatever the write side is doing, so PING answers and window
///   updates keep flowing while the transport is full (the engine queues
///   them ahead of data, and windows bound what it buffers).
/// - **Writing** is double-buffered: frames from
///   [`braid::Session::poll_transmit`] are gathered into the session's
///   transmit buffer, which the driver swaps for its own empty one and
///   writes. While the driver is idle, a task that read or wrote a stream
///   gathers the frames itself and wakes it; while it is busy writing, data
///   waits in the streams' buffers and the driver gathers it, in large
///   frames, when it comes back for more. Tasks never wake a busy driver.
/// - **Time**: braid's [`Instant`] is microseconds since the session was
///   created, read from the runtime's clock ([`Timer::now`]); the driver
///   sleeps until [`braid::Session::poll_timeout`] and calls
///   [`braid::Session::handle_timeout`], and gives back the memory of empty
///   stream buffers ([`braid::Session::trim_buffers`]) a while after activity.
/// - **The end**: on end of input it calls [`braid::Session::handle_eof`];
///   on a transport error it ends the session the same way and keeps the
///   error for [`SessionEnd::transport_error`]. Once the session is closed
///   and the last bytes are written it flushes and closes the transport; if
///   the transport does not take them within the close timeout
///   ([`Config::close_timeout`](crate::Config::close_timeout)) it gives up
///   with a `TimedOut` transport error. Then the end is reported, and the
///   driver lingers, reading and dropping input until the peer's end (or
///   half a second without input, or the close timeout): a TCP socket
///   closed with unread input answers with a reset and throws away what it
///   had not sent yet. When a write fails,
///   reading goes on until the end of input before the session ends, so
///   the peer's last frames (a GOAWAY saying why) still count.
///   Dropping the driver early ends the session as a transport end.
pub struct Driver<T, C> {
    shared: Arc<Shared>,
    /// On a [`SerialLink`](crate::SerialLink): what starts the next session
    /// when one ends.
    serial: Option<Restarter>,
    io: T,
    timer: C,
    rbuf: Box<[u8]>,
    wbuf: Box<[u8]>,
    wlen: usize,
    wpos: usize,
    reading: bool,
    writing: bool,
    unflushed: bool,
    closing: bool,
    trim_every: braid::Duration,
    next_trim: Option<Instant>,
    close_within: braid::Duration,
    /// Once the session is over: when writing its last frames (and
    /// lingering for the peer's end) gives up.
    give_up_at: Option<Instant>,
    /// Writing failed: reading goes on until the peer's end (its last
    /// frames, a GOAWAY say, are still in the transport), then the session
    /// ends with this error.
    write_failed: Option<io::Error>,
    /// The end is recorded; the driver still reads (and drops) what comes
    /// until the peer's end, so that closing with unread input does not
    /// make the transport discard the last bytes sent (a TCP reset).
    lingering: bool,
    /// While lingering: the end of the quiet period (no input) that ends it.
    quiet_until: Option<Instant>,
    timer_fired: Option<Instant>,
    /// The deadline the timer was last polled for, still pending: polling
    /// it again for the same deadline (and the same task) is skipped.
    armed: Option<Instant>,
    done: Option<SessionEnd>,
}

impl<T, C> Driver<T, C> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        io: T,
        timer: C,
        config: &Config,
        serial: Option<Restarter>,
    ) -> Self {
        let (read_buffer, write_buffer) = config.buffers();
        let write_buffer = shared.lock().out.buf.len().max(write_buffer);
        let trim_every = config.trim_every();
        let close_within = config.close_within();
        Driver {
            serial,
            shared,
            io,
            timer,
            rbuf: vec![0; read_buffer].into_boxed_slice(),
            wbuf: vec![0; write_buffer].into_boxed_slice(),
            wlen: 0,
            wpos: 0,
            reading: true,
            writing: true,
            unflushed: false,
            closing: false,
            trim_every: trim_every.into(),
            next_trim: None,
            close_within: close_within.into(),
            give_up_at: None,
            write_failed: None,
            lingering: false,
            quiet_until: None,
            timer_fired: None,
            armed: None,
            done: None,
        }
    }

    /// Whether the close timeout has passed.
    fn given_up(&self, now: Instant) -> bool {
        self.give_up_at.is_some_and(|t| now >= t)
    }
}

/// What one read of the transport brought.
enum Input {
    /// Nothing (not ready, or reading is over).
    Nothing,
    /// `n` bytes at the start of the read buffer.
    Data(usize),
    /// The end of input.
    Eof,
    /// The transport failed.
    Failed(io::Error),
}

/// What the engine said in a turn's locked section.
struct Turn {
    /// The session ended (or is sending its last GOAWAY).
    ended: bool,
    /// The session is closed and every frame was gathered.
    over: bool,
    /// The next deadline to wake up for.
    deadline: Option<Instant>,
    /// The link (if any) has every frame it sent acknowledged.
    settled: bool,
}

impl<T: Transport, C: Timer> Driver<T, C> {
    /// Read once from the transport, without the lock.
    fn read_transport(&mut self, cx: &mut Context<'_>) -> Input {
        if !self.reading {
            return Input::Nothing;
        }
        match self.io.poll_read(cx, &mut self.rbuf) {
            Poll::Pending => Input::Nothing,
            Poll::Ready(Ok(0)) => Input::Eof,
            Poll::Ready(Ok(n)) => Input::Data(n.min(self.rbuf.len())),
            // Retried next turn (the read made "progress").
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => Input::Data(0),
            Poll::Ready(Err(e)) => Input::Failed(e),
        }
    }

    /// A turn's one locked section: feed what was read, run the timers,
    /// gather frames, and take the gathered frames if the driver's own
    /// buffer is empty.
    fn engine_turn(&mut self, now: Instant, input: Input, waker: Option<&std::task::Waker>) -> Turn {
        let mut core = self.shared.lock();
        // The first turn of a poll always pumps; later ones only when
        // something may have produced frames or events.
        let mut pump = waker.is_some() || !matches!(input, Input::Nothing);
        if let Some(waker) = waker {
            if core.set_driver(waker) {
                self.armed = None;
            }
        }
        match input {
            Input::Nothing => {}
            Input::Data(n) => {
                feed(&mut core, now, &self.rbuf[..n]);
                core.activity = true;
            }
            Input::Eof => {
                self.reading = false;
                if let Some(e) = self.write_failed.take() {
                    if !core.is_ended() && core.transport_error.is_none() {
                        core.transport_error = Some(Arc::new(e));
                    }
                }
                core.wire_eof(now);
            }
            Input::Failed(e) => {
                self.reading = false;
                self.writing = false;
                let e = self.write_failed.take().unwrap_or(e);
                if !core.is_ended() && core.transport_error.is_none() {
                    core.transport_error = Some(Arc::new(e));
                }
                core.wire_eof(now);
            }
        }
        // A timer may fire a hair before the clock reads its deadline.
        let tnow = self.timer_fired.take().map_or(now, |fired| now.max(fired));
        if core.wire_deadline().is_some_and(|t| t <= tnow) {
            core.wire_timeout(tnow);
            pump = true;
        }
        if std::mem::take(&mut core.activity) && self.next_trim.is_none() {
            self.next_trim = Some(now + self.trim_every);
        }
        if self.next_trim.is_some_and(|t| t <= now) {
            core.session.trim_buffers();
            self.next_trim = None;
        }
        if pump || core.pending_output {
            core.pump(tnow, true);
        }
        if self.wpos == self.wlen {
            if core.out.len > 0 && self.writing {
                std::mem::swap(&mut self.wbuf, &mut core.out.buf);
                self.wlen = std::mem::take(&mut core.out.len);
                self.wpos = 0;
                core.driver_write_idle = false;
            } else {
                core.driver_write_idle = true;
            }
        }
        let ended = core.is_ended();
        if (ended || self.write_failed.is_some()) && self.give_up_at.is_none() {
            self.give_up_at = Some(now + self.close_within);
        }
        let over = core.session.state() == braid::SessionState::Closed && core.out.len == 0;
        let deadline = [core.wire_deadline(), self.next_trim, self.give_up_at].into_iter().flatten().min();
        core.driver_deadline = deadline;
        let settled = !core.link_unsettled();
        Turn { ended, over, deadline, settled }
    }

    /// Write what is buffered until the transport is full or the buffer is
    /// empty, then flush; whether anything happened. No lock is held.
    fn write_transport(&mut self, cx: &mut Context<'_>) -> Result<bool, io::Error> {
        let mut progress = false;
        while self.writing && self.wpos < self.wlen {
            match self.io.poll_write(cx, &self.wbuf[self.wpos..self.wlen]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    self.wpos += n.min(self.wlen - self.wpos);
                    self.unflushed = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        if self.unflushed && self.writing {
            match self.io.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// The transport failed while writing: end the session with that error.
    fn fail(&mut self, now: Instant, e: io::Error) {
        self.reading = false;
        self.writing = false;
        let mut core = self.shared.lock();
        if !core.is_ended() && core.transport_error.is_none() {
            core.transport_error = Some(Arc::new(e));
        }
        core.wire_eof(now);
        core.pump(now, true);
    }

    /// Sleep until `deadline`; whether it has already passed.
    fn arm_timer(&mut self, cx: &mut Context<'_>, now: Instant, deadline: Option<Instant>) -> bool {
        let Some(deadline) = deadline else {
            return false;
        };
        if deadline <= now {
            self.timer_fired = Some(deadline);
            return true;
        }
        if self.armed == Some(deadline) {
            // Still armed for this task (a new waker clears `armed`).
            return false;
        }
        match self.timer.poll_sleep_until(cx, self.shared.to_std(deadline)) {
            Poll::Ready(()) => {
                self.armed = None;
                self.timer_fired = Some(deadline);
                true
            }
            Poll::Pending => {
                self.armed = Some(deadline);
                false
            }
        }
    }

    /// Whether a new session will follow this one: on a serial link whose
    /// transport still works and whose [`SerialLink`](crate::SerialLink)
    /// handle wants more.
    fn serial_goes_on(&self) -> bool {
        self.reading
            && self.writing
            && self.write_failed.is_none()
            && self.serial.as_ref().is_some_and(Restarter::wanted)
    }

    /// Start the serial link's next session: the ended one learns its end,
    /// the link moves to a fresh session and syncs again
    /// ([`braid::link::Link::restart`]), and the new session's handle goes
    /// to the [`SerialLink`](crate::SerialLink).
    fn restart(&mut self, cx: &mut Context<'_>, now: Instant) {
        let Some(serial) = &self.serial else {
            return;
        };
        let mut old = self.shared.lock();
        let end = old.end_now();
        let mut link = old.link.take();
        old.finish(end);
        drop(old);
        if let Some(link) = link.as_mut() {
            link.restart(now);
        }
        let shared = serial.start(now, link, self.shared.clock, self.shared.epoch);
        shared.lock().set_driver(cx.waker());
        self.shared = shared;
        self.give_up_at = None;
        self.next_trim = None;
        self.timer_fired = None;
        self.armed = None;
    }

    /// Once the session is over and everything is written (or the close
    /// timeout passed): flush and close the transport and record the end.
    /// `Some` when done.
    fn try_finish(&mut self, cx: &mut Context<'_>, now: Instant, over: bool) -> Option<SessionEnd> {
        if !self.closing {
            if !(over && self.wpos == self.wlen) && self.writing && !self.given_up(now) {
                return None;
            }
            self.closing = true;
        }
        if self.writing && self.given_up(now) {
            // The peer does not take the last frames: stop waiting for it.
            self.writing = false;
            let mut core = self.shared.lock();
            if core.transport_error.is_none() {
                let e = io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the transport did not take the session's last frames within the close timeout",
                );
                core.transport_error = Some(Arc::new(e));
            }
        }
        if self.writing {
            if self.unflushed {
                match self.io.poll_flush(cx) {
                    Poll::Pending => return None,
                    Poll::Ready(_) => self.unflushed = false,
                }
            }
            if self.io.poll_close(cx).is_pending() {
                return None;
            }
            self.writing = false;
        }
        if !self.lingering {
            // Everyone waiting learns the end now; the driver lingers.
            self.lingering = true;
            let mut core = self.shared.lock();
            let end = core.end_now();
            core.finish(end.clone());
            drop(core);
            if let Some(serial) = &self.serial {
                serial.finish(&end);
            }
            self.done = Some(end);
        }
        // Read and drop until the peer's end, a quiet spell or the close
        // timeout: a transport closed with unread input may discard what it
        // still had to send (TCP answers with a reset). The quiet spell ends
        // it when the transport's close sends no end of its own (async-io's
        // `Async<TcpStream>` only flushes) and the peer lingers too.
        let quiet_until = *self.quiet_until.get_or_insert(now + LINGER_QUIET);
        while self.reading && !self.given_up(now) && now < quiet_until {
            match self.io.poll_read(cx, &mut self.rbuf) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => self.reading = false,
                Poll::Ready(Ok(_)) => self.quiet_until = Some(now + LINGER_QUIET),
                Poll::Pending => return None,
            }
        }
        self.reading = false;
        self.done.clone()
    }
}

/// Feed transport bytes to the engine; it stops early only when its trace
/// queue is full, so drain that and go on.
fn feed(core: &mut Core, now: Instant, mut data: &[u8]) {
    while !data.is_empty() {
        let n = core.wire_input(now, data);
        data = &data[n..];
        if n == 0 && !core.drain_trace(now) {
            break;
        }
    }
}

impl<T: Transport + Unpin, C: Timer + Unpin> Future for Driver<T, C> {
    type Output = SessionEnd;

    /// Each turn reads the clock once, reads the transport once (no lock),
    /// takes the lock once (`engine_turn`), and
    /// writes (no lock); it sleeps when a turn did nothing.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SessionEnd> {
        let this = self.get_mut();
        if let Some(end) = &this.done {
            if !(this.lingering && this.reading) {
                return Poll::Ready(end.clone());
            }
        }
        let mut waker = Some(cx.waker());
        let mut now = this.shared.now();
        let mut fed = 0;
        for turn in 0..BUDGET {
            if turn % CLOCK_EVERY == CLOCK_EVERY - 1 {
                now = this.shared.now();
            }
            if this.closing {
                // Flushing or closing the transport, or lingering: wake up
                // to give up.
                now = this.shared.now();
                if let Some(end) = this.try_finish(cx, now, true) {
                    return Poll::Ready(end);
                }
                let wake_at = [this.give_up_at, this.quiet_until].into_iter().flatten().min();
                if this.arm_timer(cx, now, wake_at) {
                    continue;
                }
                return Poll::Pending;
            }
            let input = if fed < FEED_PER_POLL { this.read_transport(cx) } else { Input::Nothing };
            if let Input::Data(n) = input {
                fed += n;
            }
            let mut progress = !matches!(input, Input::Nothing);
            let turn = this.engine_turn(now, input, waker.take());
            match this.write_transport(cx) {
                Ok(wrote) => progress |= wrote,
                Err(e) if this.reading => {
                    // Keep reading: the peer's last frames may be waiting.
                    this.writing = false;
                    this.write_failed = Some(e);
                    progress = true;
                }
                Err(e) => {
                    this.fail(now, e);
                    progress = true;
                }
            }
            if this.write_failed.is_some() && this.given_up(now) {
                // The peer did not end within the close timeout.
                if let Some(e) = this.write_failed.take() {
                    this.fail(now, e);
                }
            }
            if turn.ended && this.serial_goes_on() {
                // A serial link carries a new session in place of the old
                // one once the old one's last frames are written and
                // acknowledged (or the close timeout passed).
                if turn.over && this.wpos == this.wlen && (turn.settled || this.given_up(now)) {
                    this.restart(cx, now);
                    continue;
                }
            } else if turn.ended || (!this.writing && this.write_failed.is_none()) {
                // Over a link, the last frames are acknowledged both ways
                // first (or the close timeout passes).
                let over = turn.over && (turn.settled || this.given_up(now));
                if let Some(end) = this.try_finish(cx, now, over) {
                    return Poll::Ready(end);
                }
                if this.closing {
                    continue;
                }
            }
            if !progress && fed >= FEED_PER_POLL {
                // Input may be waiting unread: yield, and come back for it.
                break;
            }
            if !progress && !this.arm_timer(cx, now, turn.deadline) {
                return Poll::Pending;
            }
        }
        // Plenty done: let other tasks run, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T, C> Drop for Driver<T, C> {
    fn drop(&mut self) {
        if self.done.is_some() {
            return;
        }
        let now = self.shared.now();
        let mut core = self.shared.lock();
        if core.end.is_some() {
            return;
        }
        if !core.is_ended() && core.transport_error.is_none() {
            let e = io::Error::other("the session's driver was dropped before the session ended");
            core.transport_error = Some(Arc::new(e));
        }
        core.wire_eof(now);
        core.pump(now, true);
        let end = core.end_now();
        core.finish(end.clone());
        drop(core);
        if let Some(serial) = &self.serial {
            serial.finish(&end);
        }
    }
}

impl<T, C> std::fmt::Debug for Driver<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("reading", &self.reading)
            .field("writing", &self.writing)
            .field("buffered", &(self.wlen - self.wpos))
            .field("done", &self.done.is_some())
            .finish()
    }
}
