//! Time: `poll_timeout`, `handle_timeout`, keepalive and the idle and
//! handshake limits (spec.md §11).

use super::*;

impl<S: Storage> Session<S> {
    /// The idle timeout in force: the smaller of the two sides' non-zero
    /// announcements (spec.md [S-11.1]).
    #[must_use]
    pub fn idle_timeout(&self) -> Option<Duration> {
        let local = self.local.idle_timeout_ms;
        let peer = if self.has(sbit::PEER_SETTINGS) { self.peer.idle_timeout_ms } else { 0 };
        let ms = match (local, peer) {
            (0, 0) => return None,
            (0, p) => p,
            (l, 0) => l,
            (l, p) => l.min(p),
        };
        Some(Duration::from_millis(u64::from(ms)))
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called,
    /// if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_ended() {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.state == SessionState::Handshaking {
            consider(self.created + self.config.handshake_timeout);
        }
        if let Some(idle) = self.idle_timeout() {
            consider(self.last_recv + idle);
            if !self.has(sbit::PING_PENDING | sbit::PING_OUTSTANDING) {
                consider(self.last_recv + Duration::from_micros(idle.as_micros() / 2));
            }
        }
        next
    }

    /// Let time pass: end a handshake that took too long, send a keepalive
    /// PING after half the idle timeout of silence, and end the session after
    /// all of it. Calling it early or often is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_ended() {
            return;
        }
        if self.state == SessionState::Handshaking && now >= self.created + self.config.handshake_timeout {
            return self.end(LocalError::HandshakeTimeout, Some((ErrorCode::NO_ERROR, b"handshake timeout")));
        }
        let Some(idle) = self.idle_timeout() else {
            return;
        };
        let silent = now.saturating_since(self.last_recv);
        if silent >= idle {
            return self.end(LocalError::IdleTimeout, Some((ErrorCode::NO_ERROR, b"idle timeout")));
        }
        if silent.as_micros() >= idle.as_micros() / 2
            && !self.has(sbit::PING_PENDING | sbit::PING_OUTSTANDING)
        {
            let _ = self.ping();
        }
    }
}
