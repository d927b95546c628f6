//! How session bytes travel on the pipe: straight ([`Direct`], for a
//! reliable pipe such as TCP) or in link frames ([`Link`], for a UART).

use braid::link::{Link, LinkEvent};
use braid::{Instant, Session, Storage};

mod sealed {
    pub trait Sealed {}
}

/// What lies between the session and the pipe: [`Direct`] or a
/// [`braid::link::Link`]. Sealed; the runner is generic over it, so a
/// firmware that uses one gets the code of that one only.
pub trait Framing: sealed::Sealed {
    /// Feed wire bytes; returns how many were consumed.
    #[doc(hidden)]
    fn handle_input<S: Storage>(&mut self, now: Instant, wire: &[u8], s: &mut Session<S>) -> usize;
    /// Let time pass.
    #[doc(hidden)]
    fn handle_timeout<S: Storage>(&mut self, now: Instant, s: &mut Session<S>);
    /// The pipe ended.
    #[doc(hidden)]
    fn handle_eof<S: Storage>(&mut self, now: Instant, s: &mut Session<S>);
    /// Wire bytes to send.
    #[doc(hidden)]
    fn poll_transmit<S: Storage>(&mut self, now: Instant, out: &mut [u8], s: &mut Session<S>) -> usize;
    /// The next deadline.
    #[doc(hidden)]
    fn poll_timeout<S: Storage>(&self, s: &Session<S>) -> Option<Instant>;
    /// Drain framing events (logged).
    #[doc(hidden)]
    fn drain_events(&mut self);
    /// Whether a session that ended is replaced by a new one on the same
    /// pipe (the link), rather than ending the run (a reliable pipe: its
    /// byte stream cannot carry a second preface).
    #[doc(hidden)]
    const RESTARTS: bool;
    /// Start a new link session for a new session.
    #[doc(hidden)]
    fn restart(&mut self, now: Instant);
    /// Bytes of write buffer that always let `poll_transmit` progress.
    #[doc(hidden)]
    const MIN_BUFFER: usize;
}

/// No framing: the pipe is reliable and ordered (TCP, a USB CDC-ACM class
/// with a reliable host side, an in-memory pipe) and carries the session's
/// bytes as they are. A session end ends the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Direct;

impl sealed::Sealed for Direct {}

impl Framing for Direct {
    fn handle_input<S: Storage>(&mut self, now: Instant, wire: &[u8], s: &mut Session<S>) -> usize {
        s.handle_input(now, wire)
    }
    fn handle_timeout<S: Storage>(&mut self, now: Instant, s: &mut Session<S>) {
        s.handle_timeout(now);
    }
    fn handle_eof<S: Storage>(&mut self, now: Instant, s: &mut Session<S>) {
        s.handle_eof(now);
    }
    fn poll_transmit<S: Storage>(&mut self, now: Instant, out: &mut [u8], s: &mut Session<S>) -> usize {
        s.poll_transmit(now, out)
    }
    fn poll_timeout<S: Storage>(&self, s: &Session<S>) -> Option<Instant> {
        s.poll_timeout()
    }
    fn drain_events(&mut self) {}
    const RESTARTS: bool = false;
    fn restart(&mut self, _now: Instant) {}
    /// The session's promise: 128 bytes always make progress (metadata
    /// aside, which the stack bounds by the buffer).
    const MIN_BUFFER: usize = 128;
}

impl<const MTU: usize, const WINDOW: usize> sealed::Sealed for Link<MTU, WINDOW> {}

impl<const MTU: usize, const WINDOW: usize> Framing for Link<MTU, WINDOW> {
    fn handle_input<S: Storage>(&mut self, now: Instant, wire: &[u8], s: &mut Session<S>) -> usize {
        Link::handle_input(self, now, wire, s)
    }
    fn handle_timeout<S: Storage>(&mut self, now: Instant, s: &mut Session<S>) {
        Link::handle_timeout(self, now, s);
    }
    fn handle_eof<S: Storage>(&mut self, now: Instant, s: &mut Session<S>) {
        Link::handle_eof(self, now, s);
    }
    fn poll_transmit<S: Storage>(&mut self, now: Instant, out: &mut [u8], s: &mut Session<S>) -> usize {
        Link::poll_transmit(self, now, out, s)
    }
    fn poll_timeout<S: Storage>(&self, s: &Session<S>) -> Option<Instant> {
        Link::poll_timeout(self, s)
    }
    fn drain_events(&mut self) {
        while let Some(event) = self.poll_event() {
            match event {
                LinkEvent::Synced { mtu, window, reliable, .. } => {
                    crate::log::info!(
                        "braid: link up (mtu {}, window {}, reliable {})",
                        mtu,
                        window,
                        reliable
                    );
                }
                LinkEvent::PeerRestarted { epoch } => {
                    crate::log::info!("braid: link peer restarted (epoch {=u32:x})", epoch);
                }
                LinkEvent::Down(e) => crate::log::warn!("braid: link down: {}", e),
                LinkEvent::SyncRejected(e) => crate::log::warn!("braid: SYNC ignored: {}", e),
            }
        }
    }
    const RESTARTS: bool = true;
    fn restart(&mut self, now: Instant) {
        Link::restart(self, now);
    }
    const MIN_BUFFER: usize = Link::<MTU, WINDOW>::max_frame_wire_len();
}
