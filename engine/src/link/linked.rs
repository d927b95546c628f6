//! [`LinkedSession`]: a [`Link`] and the [`Session`] it carries, driven as
//! one.

use super::{Link, LinkConfig, LinkEvent};
use crate::{Event, Instant, Session, Storage};

/// A session over a serial link: the [`Link`] and the [`Session`] it
/// carries, with the session's own call protocol for the wire side.
///
/// Owning both is the easy way to drive them correctly: wire bytes can only
/// go through the link, the session's timers are included in
/// [`poll_timeout`](Self::poll_timeout), and a new session can only start
/// together with a new link session ([`restart`](Self::restart)). Streams
/// are used through [`session_mut`](Self::session_mut).
///
/// After every input or stream command, drain
/// [`poll_transmit`](Self::poll_transmit) until it returns 0, then
/// [`poll_link_event`](Self::poll_link_event) and
/// [`poll_event`](Self::poll_event), then arrange a call to
/// [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout). When the session reports
/// [`Event::Closed`], read what is left, then [`restart`](Self::restart)
/// with a fresh session.
pub struct LinkedSession<S: Storage, const MTU: usize, const WINDOW: usize> {
    link: Link<MTU, WINDOW>,
    session: Session<S>,
}

impl<S: Storage, const MTU: usize, const WINDOW: usize> LinkedSession<S, MTU, WINDOW> {
    /// A new link configured by `config`, carrying `session` once synced.
    pub fn new(config: LinkConfig, session: Session<S>) -> Self {
        LinkedSession { link: Link::new(config), session }
    }

    /// Bundle an existing link and session.
    pub fn from_parts(link: Link<MTU, WINDOW>, session: Session<S>) -> Self {
        LinkedSession { link, session }
    }

    /// The link and the session.
    pub fn into_parts(self) -> (Link<MTU, WINDOW>, Session<S>) {
        (self.link, self.session)
    }

    /// The link: its state, negotiated values and counters.
    #[must_use]
    pub fn link(&self) -> &Link<MTU, WINDOW> {
        &self.link
    }

    /// The session, to observe it.
    #[must_use]
    pub fn session(&self) -> &Session<S> {
        &self.session
    }

    /// The session, for stream commands (open, write, read, …) and its
    /// getters. Feed it no wire bytes and take none from it: the link does.
    #[must_use]
    pub fn session_mut(&mut self) -> &mut Session<S> {
        &mut self.session
    }

    /// Put `session` (fresh) in place of the current one and start a new
    /// link session for it ([`Link::restart`]); returns the old session,
    /// whose received data stays readable.
    #[must_use = "the old session may still hold data to read"]
    pub fn restart(&mut self, now: Instant, session: Session<S>) -> Session<S> {
        let old = core::mem::replace(&mut self.session, session);
        self.link.restart(now);
        old
    }

    /// See [`Link::handle_input`].
    #[must_use = "bytes not consumed must be passed again"]
    pub fn handle_input(&mut self, now: Instant, wire: &[u8]) -> usize {
        self.link.handle_input(now, wire, &mut self.session)
    }

    /// See [`Link::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.link.handle_timeout(now, &mut self.session);
    }

    /// See [`Link::handle_eof`].
    pub fn handle_eof(&mut self, now: Instant) {
        self.link.handle_eof(now, &mut self.session);
    }

    /// See [`Link::poll_transmit`].
    #[must_use = "the bytes written must be sent to the peer"]
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> usize {
        self.link.poll_transmit(now, out, &mut self.session)
    }

    /// See [`Link::poll_timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout(&self.session)
    }

    /// See [`Link::poll_event`].
    #[must_use]
    pub fn poll_link_event(&mut self) -> Option<LinkEvent> {
        self.link.poll_event()
    }

    /// The session's next event ([`Session::poll_event`]).
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.session.poll_event()
    }
}
