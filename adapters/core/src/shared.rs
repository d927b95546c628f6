//! The state shared by the session handle, its streams and the driver: the
//! engine behind a `std::sync::Mutex`, the transmit buffer, and the tasks
//! waiting on session events.
//!
//! Whoever holds the lock and changes the engine calls [`Core::pump`], which
//! drains the engine in the documented order (transmit, events, trace) and
//! decides whether the driver must be woken. Wakers are collected while the
//! lock is held and woken after it is released ([`Locked`]'s drop).

use crate::config::Trace;
use crate::error::SessionEnd;
use braid::{ErrorCode, Event, Instant, SessionState, StreamId, VecStorage};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// The engine over growable storage, as the adapters use it.
pub(crate) type Engine = braid::Session<VecStorage>;

/// The serial link layer a [`SerialLink`](crate::SerialLink) runs its
/// sessions over: DATA bodies of up to 1024 bytes and a window of up to 8
/// frames, the most the link allows; the SYNC exchange negotiates both down
/// to what the peer supports (a microcontroller usually announces less).
pub type LinkLayer = braid::link::Link<1024, 8>;

/// A dropped stream whose write side was finished keeps reading (and
/// discarding) what the peer still sends, up to this many bytes, so that
/// the data and FIN it sent arrive intact; past it the stream is reset with
/// CANCEL.
pub(crate) const LINGER_LIMIT: u64 = 1024 * 1024;

/// The clock and the engine behind one lock.
pub(crate) struct Shared {
    core: Mutex<Core>,
    /// The runtime's clock.
    pub(crate) clock: fn() -> std::time::Instant,
    /// The runtime instant that is braid's `Instant::ZERO` for this session.
    pub(crate) epoch: std::time::Instant,
}

impl Shared {
    pub(crate) fn new(core: Core, clock: fn() -> std::time::Instant, epoch: std::time::Instant) -> Self {
        Shared { core: Mutex::new(core), clock, epoch }
    }

    /// Lock the core. A panic elsewhere while it was held does not poison
    /// it for everyone else: the engine's state is consistent between calls.
    pub(crate) fn lock(&self) -> Locked<'_> {
        Locked { guard: Some(self.core.lock().unwrap_or_else(PoisonError::into_inner)) }
    }

    /// braid's clock reading for the runtime's `now`.
    pub(crate) fn to_braid(&self, t: std::time::Instant) -> Instant {
        let micros = t.saturating_duration_since(self.epoch).as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The runtime instant of braid's `t`.
    pub(crate) fn to_std(&self, t: Instant) -> std::time::Instant {
        self.epoch + std::time::Duration::from_micros(t.as_micros())
    }

    /// braid's clock, now.
    pub(crate) fn now(&self) -> Instant {
        self.to_braid((self.clock)())
    }
}

/// The locked core; wakes the tasks collected while it was held once the
/// lock is released.
pub(crate) struct Locked<'a> {
    guard: Option<MutexGuard<'a, Core>>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Core;
    #[inline]
    fn deref(&self) -> &Core {
        self.guard.as_deref().expect("the guard is held until drop")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Core {
        self.guard.as_deref_mut().expect("the guard is held until drop")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let wakes = match self.guard.as_mut() {
            Some(core) if !core.wakes.is_empty() => std::mem::take(&mut core.wakes),
            _ => return,
        };
        self.guard = None;
        for w in wakes {
            w.wake();
        }
    }
}

/// Tasks waiting for one kind of session event.
#[derive(Default)]
pub(crate) struct Waiters(Vec<Waker>);

impl Waiters {
    /// Remember `waker` (once, however often the same task polls).
    pub(crate) fn register(&mut self, waker: &Waker) {
        if !self.0.iter().any(|w| w.will_wake(waker)) {
            self.0.push(waker.clone());
        }
    }

    fn wake_into(&mut self, out: &mut Vec<Waker>) {
        out.append(&mut self.0);
    }
}

/// What the adapter remembers of a stream the engine may forget first.
pub(crate) enum Tracked {
    /// A handle exists. A reset or FIN the driver saw as an event is kept
    /// here so the handle can still report it after the engine forgot the
    /// stream (the engine frees a stream whose FIN arrived, with nothing
    /// left to read, when the session ends: the end of the stream must not
    /// turn into an error).
    Handle { reset: Option<(ErrorCode, bool)>, fin: bool },
    /// The handle was dropped after finishing its write side: the stream
    /// lingers, discarding what arrives, until the peer's FIN or reset.
    Lingering { discarded: u64 },
}

impl Tracked {
    /// A fresh entry for a stream handle.
    pub(crate) fn handle() -> Self {
        Tracked::Handle { reset: None, fin: false }
    }
}

/// Bytes gathered for the transport, handed to the driver whole.
pub(crate) struct OutBuf {
    pub(crate) buf: Box<[u8]>,
    pub(crate) len: usize,
}

/// Everything behind the lock.
pub(crate) struct Core {
    pub(crate) session: Engine,
    /// The serial link layer under the session, on a
    /// [`SerialLink`](crate::SerialLink): every wire byte goes through it.
    pub(crate) link: Option<Box<LinkLayer>>,
    /// Frames waiting for the driver to write them.
    pub(crate) out: OutBuf,
    /// The driver's task.
    driver: Option<Waker>,
    /// The driver has nothing to write and waits for `out` to fill.
    pub(crate) driver_write_idle: bool,
    /// The engine may have frames that were not gathered into `out` yet
    /// (the driver must pump even if nothing else happened).
    pub(crate) pending_output: bool,
    /// The deadline the driver's timer is armed for.
    pub(crate) driver_deadline: Option<Instant>,
    /// Wakers to wake once the lock is released.
    wakes: Vec<Waker>,
    pub(crate) accept_waiters: Waiters,
    pub(crate) open_waiters: Waiters,
    pub(crate) ping_waiters: Waiters,
    pub(crate) closed_waiters: Waiters,
    /// Pongs received so far, and the round trip of the last.
    pub(crate) pongs: u64,
    pub(crate) last_rtt: braid::Duration,
    /// Streams the adapter keeps track of (see [`Tracked`]).
    pub(crate) tracked: HashMap<StreamId, Tracked>,
    /// Every session handle is gone: incoming streams are refused.
    pub(crate) no_acceptor: bool,
    /// The end, once the driver finished (or was dropped).
    pub(crate) end: Option<SessionEnd>,
    /// The transport error that ended the session, if any.
    pub(crate) transport_error: Option<Arc<io::Error>>,
    /// Something happened since the buffers were last trimmed.
    pub(crate) activity: bool,
    trace: Trace,
    label: String,
    /// Where lingering streams' data is read into and dropped.
    scratch: Vec<u8>,
}

impl Core {
    pub(crate) fn new(session: Engine, write_buffer: usize, trace: Trace, label: String) -> Self {
        Core {
            session,
            link: None,
            out: OutBuf { buf: vec![0; write_buffer].into_boxed_slice(), len: 0 },
            driver: None,
            driver_write_idle: true,
            pending_output: true,
            driver_deadline: None,
            wakes: Vec::new(),
            accept_waiters: Waiters::default(),
            open_waiters: Waiters::default(),
            ping_waiters: Waiters::default(),
            closed_waiters: Waiters::default(),
            pongs: 0,
            last_rtt: braid::Duration::ZERO,
            tracked: HashMap::new(),
            no_acceptor: false,
            end: None,
            transport_error: None,
            activity: false,
            trace,
            label,
            scratch: Vec::new(),
        }
    }

    /// Remember the driver's task; whether it changed.
    pub(crate) fn set_driver(&mut self, waker: &Waker) -> bool {
        match &self.driver {
            Some(w) if w.will_wake(waker) => false,
            _ => {
                self.driver = Some(waker.clone());
                true
            }
        }
    }

    fn wake_driver(&mut self) {
        if let Some(w) = &self.driver {
            self.wakes.push(w.clone());
        }
    }

    /// Queue `waiters` to be woken when the lock is released.
    pub(crate) fn wake_all(&mut self, which: fn(&mut Core) -> &mut Waiters) {
        let mut wakes = std::mem::take(&mut self.wakes);
        which(self).wake_into(&mut wakes);
        self.wakes = wakes;
    }

    /// Whether the session has ended (or is sending its last GOAWAY).
    pub(crate) fn is_ended(&self) -> bool {
        matches!(self.session.state(), SessionState::Closing | SessionState::Closed)
    }

    /// Drain the engine after an input or a command: transmit into `out`,
    /// handle events, print the trace; repeat while event handling issued
    /// commands. Called from an application task (`by_driver` false), it
    /// then wakes the driver if the driver has work it does not know of.
    ///
    /// An application task gathers frames only while the driver is idle;
    /// while the driver is busy writing, small writes stay in the streams'
    /// buffers and the driver frames them, in larger frames, when it comes
    /// back for more (see [`pump_bulk`](Self::pump_bulk) for large writes).
    pub(crate) fn pump(&mut self, now: Instant, by_driver: bool) {
        self.pump_inner(now, by_driver, by_driver || self.driver_write_idle);
    }

    /// [`pump`](Self::pump) after a large write: the task gathers frames
    /// even while the driver is busy, so that framing (a copy) overlaps the
    /// driver's transport writes.
    pub(crate) fn pump_bulk(&mut self, now: Instant) {
        self.pump_inner(now, false, true);
    }

    fn pump_inner(&mut self, now: Instant, by_driver: bool, gather: bool) {
        loop {
            if gather {
                self.transmit(now);
            } else {
                self.pending_output = true;
            }
            let acted = self.drain_events();
            self.drain_link_events(now);
            self.drain_trace(now);
            if !acted {
                break;
            }
        }
        if by_driver || self.end.is_some() {
            return;
        }
        self.activity = true;
        let wake = (self.out.len > 0 && self.driver_write_idle)
            || self.session.state() == SessionState::Closed
            || self.wire_deadline().is_some_and(|t| self.driver_deadline.is_none_or(|d| t < d));
        if wake {
            self.driver_write_idle = false;
            self.wake_driver();
        }
    }

    /// Fill `out` from `poll_transmit` until the engine has nothing more or
    /// `out` is full.
    fn transmit(&mut self, now: Instant) {
        loop {
            let room = &mut self.out.buf[self.out.len..];
            let n = match &mut self.link {
                Some(link) => link.poll_transmit(now, room, &mut self.session),
                None => self.session.poll_transmit(now, room),
            };
            self.out.len += n;
            // With tracing on, a full trace queue also stops the engine.
            let traced = self.drain_trace(now);
            if n == 0 && !traced {
                // Nothing left, or the next frame needs more room than is left.
                let needed = match &self.link {
                    Some(link) => link.transmit_needed(),
                    None => self.session.transmit_needed(),
                };
                self.pending_output = needed != 0;
                return;
            }
        }
    }

    // ----- the wire side: through the link layer when there is one -------

    /// Feed transport bytes; how many were taken (fewer only when the trace
    /// queue is full).
    pub(crate) fn wire_input(&mut self, now: Instant, data: &[u8]) -> usize {
        match &mut self.link {
            Some(link) => link.handle_input(now, data, &mut self.session),
            None => self.session.handle_input(now, data),
        }
    }

    /// Run the timers that are due (the link's and the session's).
    pub(crate) fn wire_timeout(&mut self, now: Instant) {
        match &mut self.link {
            Some(link) => link.handle_timeout(now, &mut self.session),
            None => self.session.handle_timeout(now),
        }
    }

    /// The transport ended (or failed).
    pub(crate) fn wire_eof(&mut self, now: Instant) {
        match &mut self.link {
            Some(link) => link.handle_eof(now, &mut self.session),
            None => self.session.handle_eof(now),
        }
    }

    /// When [`wire_timeout`](Self::wire_timeout) is next due.
    pub(crate) fn wire_deadline(&self) -> Option<Instant> {
        match &self.link {
            Some(link) => link.poll_timeout(&self.session),
            None => self.session.poll_timeout(),
        }
    }

    /// Whether the link (if any) still waits for the peer to acknowledge
    /// frames it sent, or owes the peer an acknowledgement: the last frames
    /// of an ended session (the GOAWAYs) are delivered and acknowledged
    /// both ways before a new session starts in its place or the transport
    /// is closed (a peer left without its acknowledgement sends its last
    /// frames again until its retry limit).
    pub(crate) fn link_unsettled(&self) -> bool {
        self.link.as_ref().is_some_and(|l| {
            l.state() == braid::link::LinkState::Up && (l.unacknowledged() > 0 || l.ack_owed())
        })
    }

    /// Handle the link's events: they are reported in the frame trace
    /// (stderr) and otherwise only counted in the link's statistics; the
    /// session itself reports a link failure as its close reason.
    fn drain_link_events(&mut self, now: Instant) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        while let Some(event) = link.poll_event() {
            if matches!(self.trace, Trace::Stderr) {
                use std::io::Write;
                let ms = now.as_micros() as f64 / 1000.0;
                let _ =
                    writeln!(std::io::stderr().lock(), "{:<8} {ms:>10.3} ms  link: {event:?}", self.label);
            }
        }
    }

    /// Print or hand over the traced frames; whether there were any.
    #[inline]
    pub(crate) fn drain_trace(&mut self, now: Instant) -> bool {
        if matches!(self.trace, Trace::Off) {
            return false;
        }
        self.print_trace(now)
    }

    fn print_trace(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some(record) = self.session.poll_trace() {
            any = true;
            match &self.trace {
                Trace::Off => {}
                Trace::Stderr => {
                    // Never panics (unlike `eprintln!`) if stderr is closed.
                    use std::io::Write;
                    let ms = now.as_micros() as f64 / 1000.0;
                    let row = record.to_string();
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "{:<8} {ms:>10.3} ms  {}",
                        self.label,
                        row.trim_end()
                    );
                }
                Trace::Callback(f) => f(&self.label, &record),
            }
        }
        any
    }

    /// Handle the engine's events: wake waiters, note resets for handles,
    /// serve lingering streams and refuse streams nobody will accept.
    /// Whether any command was issued (so output may be waiting).
    fn drain_events(&mut self) -> bool {
        let mut acted = false;
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Connected | Event::OpenReady | Event::GoAway { .. } => {
                    self.wake_all(|c| &mut c.open_waiters);
                }
                Event::Incoming => {
                    if self.no_acceptor {
                        acted |= self.refuse_all();
                    } else {
                        self.wake_all(|c| &mut c.accept_waiters);
                    }
                }
                Event::Readable(id) | Event::Finished(id) => match self.tracked.get_mut(&id) {
                    Some(Tracked::Lingering { .. }) => {
                        self.discard(id);
                        acted = true;
                    }
                    Some(Tracked::Handle { fin, .. }) => *fin |= matches!(event, Event::Finished(_)),
                    None => {}
                },
                Event::Writable(_) => {}
                Event::Reset { id, code, remote } => match self.tracked.get_mut(&id) {
                    Some(Tracked::Handle { reset, .. }) => *reset = Some((code, remote)),
                    Some(Tracked::Lingering { .. }) => {
                        self.tracked.remove(&id);
                    }
                    None => {}
                },
                Event::Pong { rtt } => {
                    self.pongs += 1;
                    self.last_rtt = rtt;
                    self.wake_all(|c| &mut c.ping_waiters);
                }
                Event::Closed(_) => {
                    self.wake_all(|c| &mut c.open_waiters);
                    self.wake_all(|c| &mut c.accept_waiters);
                    self.wake_all(|c| &mut c.ping_waiters);
                }
            }
        }
        acted
    }

    /// Refuse every waiting incoming stream (nobody can accept them).
    pub(crate) fn refuse_all(&mut self) -> bool {
        let mut any = false;
        while self.session.refuse(ErrorCode::REFUSED).is_ok() {
            any = true;
        }
        any
    }

    /// Read and drop what a lingering stream has; forget it at its end.
    pub(crate) fn discard(&mut self, id: StreamId) {
        if self.scratch.is_empty() {
            self.scratch = vec![0; 16 * 1024];
        }
        let mut discarded = match self.tracked.get(&id) {
            Some(Tracked::Lingering { discarded }) => *discarded,
            _ => return,
        };
        let over = loop {
            match self.session.read(id, &mut self.scratch) {
                Ok(0) => break true, // the peer's FIN: the engine forgets it
                Ok(n) => {
                    discarded += n as u64;
                    if discarded > LINGER_LIMIT {
                        let _ = self.session.reset(id, ErrorCode::CANCEL);
                        break true;
                    }
                }
                Err(braid::ReadError::WouldBlock) => break false,
                Err(_) => break true,
            }
        };
        if over {
            self.tracked.remove(&id);
        } else {
            self.tracked.insert(id, Tracked::Lingering { discarded });
        }
    }

    /// The end as it stands now (the driver finishes it).
    pub(crate) fn end_now(&self) -> SessionEnd {
        let reason = self.session.close_reason().unwrap_or(braid::CloseReason {
            local: Some(braid::LocalError::TransportEof),
            remote: self.session.remote_go_away().map(|(_, code)| code),
        });
        SessionEnd {
            reason,
            remote_debug: self.session.remote_debug().to_vec(),
            transport_error: self.transport_error.clone(),
        }
    }

    /// The driver is done (or gone): record the end and wake everyone.
    pub(crate) fn finish(&mut self, end: SessionEnd) {
        self.end = Some(end);
        self.driver = None;
        self.wake_all(|c| &mut c.closed_waiters);
        self.wake_all(|c| &mut c.open_waiters);
        self.wake_all(|c| &mut c.accept_waiters);
        self.wake_all(|c| &mut c.ping_waiters);
    }
}
