//! The SYNC exchange: who the peer is, whether it knows us, and what the
//! two sides agreed (spec.md §14.3).
//!
//! Each side sends SYNC with REPLY until its link is up; a SYNC with REPLY
//! is always answered. A side's link comes up once it knows the peer's
//! [`LinkId`] and has received a SYNC that echoes its own current one. A
//! SYNC that names another peer link session, or that no longer echoes
//! ours, while the link is up means the peer started over.

use super::frame::{LinkId, SyncBody, SyncError, VERSION};
use crate::LinkError;

/// What the peer announced in its last accepted SYNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeerSync {
    pub id: LinkId,
    pub mtu: u16,
    pub window: u8,
    pub reliable: bool,
}

/// What a received SYNC means for the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyncOutcome {
    /// Nothing changes (an answer may be due: see `reply_due`).
    Nothing,
    /// The link is up and the peer repeated its SYNC with REPLY: it is
    /// alive but missed our answer (which is due again).
    PeerStillSyncing,
    /// The link is up with this peer.
    Up,
    /// The link was up and the peer started over: end the session.
    PeerStartedOver(LinkError),
    /// The SYNC was ignored.
    Rejected(SyncError),
}

/// The SYNC state of one side.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SyncState {
    /// This side's current link session.
    pub me: LinkId,
    /// The peer as its last accepted SYNC described it.
    pub peer: Option<PeerSync>,
    /// The peer echoed `me`.
    pub confirmed: bool,
    /// A SYNC with REPLY arrived and waits for its answer.
    pub reply_due: bool,
    /// The peer's epoch changed since it was last known (reported once).
    pub peer_restarted: bool,
}

impl SyncState {
    pub const fn new(epoch: u32) -> Self {
        SyncState {
            me: LinkId { epoch, session: 0 },
            peer: None,
            confirmed: false,
            reply_due: false,
            peer_restarted: false,
        }
    }

    /// Start a new link session of this side (spec.md [S-14.10]).
    pub fn restart(&mut self) {
        self.me.session = self.me.session.wrapping_add(1);
        self.confirmed = false;
        self.reply_due = false;
    }

    /// The SYNC this side sends now.
    pub fn body(&self, up: bool, reliable: bool, mtu: u16, window: u8) -> SyncBody {
        SyncBody {
            version: VERSION,
            reply: !up,
            reliable,
            id: self.me,
            echo: self.peer.map(|p| p.id),
            mtu,
            window,
        }
    }

    /// A SYNC arrived. `up`: whether the link is up now.
    pub fn on_sync(&mut self, s: &SyncBody, up: bool) -> SyncOutcome {
        if let Err(e) = s.check() {
            return SyncOutcome::Rejected(e);
        }
        let known = self.peer.map(|p| p.id);
        let echoes_me = s.echo == Some(self.me);
        if known.is_some_and(|k| k.epoch != s.id.epoch) {
            self.peer_restarted = true;
        }
        let new_peer = PeerSync { id: s.id, mtu: s.mtu, window: s.window, reliable: s.reliable };
        if up {
            if known == Some(s.id) && echoes_me {
                // The peer is still finishing the handshake we finished:
                // our last SYNC was lost. Answer it again.
                self.reply_due |= s.reply;
                return if s.reply { SyncOutcome::PeerStillSyncing } else { SyncOutcome::Nothing };
            }
            let e = if known.is_some_and(|k| k.epoch != s.id.epoch) {
                LinkError::PeerRestarted
            } else {
                LinkError::PeerResynced
            };
            self.peer = Some(new_peer);
            self.confirmed = false;
            return SyncOutcome::PeerStartedOver(e);
        }
        self.peer = Some(new_peer);
        self.reply_due |= s.reply;
        self.confirmed |= echoes_me;
        if self.confirmed {
            SyncOutcome::Up
        } else {
            SyncOutcome::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn sync(s: &SyncState, up: bool) -> SyncBody {
        s.body(up, false, 128, 1)
    }

    /// Run the exchange between two fresh sides, `a` first, delivering
    /// every SYNC; returns the number of SYNCs sent.
    fn handshake(a: &mut SyncState, b: &mut SyncState) -> usize {
        let (mut a_up, mut b_up) = (false, false);
        let mut to_b = vec![sync(a, false)];
        let mut to_a = Vec::new();
        let mut sent = 1;
        while !to_a.is_empty() || !to_b.is_empty() {
            for s in std::mem::take(&mut to_b) {
                if b.on_sync(&s, b_up) == SyncOutcome::Up {
                    b_up = true;
                }
                if std::mem::take(&mut b.reply_due) {
                    to_a.push(sync(b, b_up));
                    sent += 1;
                }
            }
            for s in std::mem::take(&mut to_a) {
                if a.on_sync(&s, a_up) == SyncOutcome::Up {
                    a_up = true;
                }
                if std::mem::take(&mut a.reply_due) {
                    to_b.push(sync(a, a_up));
                    sent += 1;
                }
            }
            assert!(sent < 10, "the exchange must end");
        }
        assert!(a_up && b_up);
        sent
    }

    #[test]
    fn three_syncs_bring_both_up() {
        let (mut a, mut b) = (SyncState::new(1), SyncState::new(2));
        assert_eq!(handshake(&mut a, &mut b), 3);
        assert_eq!(a.peer.unwrap().id, LinkId { epoch: 2, session: 0 });
        assert_eq!(b.peer.unwrap().id, LinkId { epoch: 1, session: 0 });
    }

    #[test]
    fn a_late_sync_of_the_same_session_is_answered_not_fatal() {
        let (mut a, mut b) = (SyncState::new(1), SyncState::new(2));
        handshake(&mut a, &mut b);
        // b's SYNC with REPLY arrives again (a retransmission).
        let late = SyncBody { reply: true, ..sync(&b, false) };
        assert_eq!(a.on_sync(&late, true), SyncOutcome::PeerStillSyncing);
        assert!(a.reply_due);
    }

    #[test]
    fn a_new_session_or_epoch_while_up_is_a_restart() {
        let (mut a, mut b) = (SyncState::new(1), SyncState::new(2));
        handshake(&mut a, &mut b);
        b.restart();
        assert_eq!(a.on_sync(&sync(&b, false), true), SyncOutcome::PeerStartedOver(LinkError::PeerResynced));
        let mut rebooted = SyncState::new(3);
        rebooted.peer = b.peer;
        assert_eq!(
            a.on_sync(&sync(&rebooted, false), true),
            SyncOutcome::PeerStartedOver(LinkError::PeerRestarted)
        );
        assert!(a.peer_restarted);
    }

    #[test]
    fn a_peer_that_forgot_us_is_a_restart_even_with_the_same_id() {
        let (mut a, mut b) = (SyncState::new(1), SyncState::new(2));
        handshake(&mut a, &mut b);
        // b rebooted with the same (constant) epoch: same id, but no echo.
        let forgot = SyncState::new(2);
        assert_eq!(
            a.on_sync(&sync(&forgot, false), true),
            SyncOutcome::PeerStartedOver(LinkError::PeerResynced)
        );
    }

    #[test]
    fn bad_syncs_are_rejected_without_state() {
        let mut a = SyncState::new(1);
        let b = SyncState::new(2);
        let bad = SyncBody { mtu: 10, ..sync(&b, false) };
        assert_eq!(a.on_sync(&bad, false), SyncOutcome::Rejected(SyncError::Mtu));
        assert!(a.peer.is_none() && !a.reply_due);
    }
}
