//! Sequence numbers, acknowledgements and go-back-N (spec.md §14.4, §14.5).
//!
//! The sender keeps the DATA frames it sent and that are not yet
//! acknowledged in a ring of `WINDOW` slots of `MTU` bytes: each frame's
//! session bytes are stored once, and encoded again on each
//! (re)transmission. In fail-stop mode the ring holds only the frame being
//! encoded, and nothing is kept after it left.

use super::frame::{MAX_WINDOW, SEQ_MODULUS};
use crate::{Duration, Instant, LinkError};

/// `a - b` modulo the sequence space.
pub(crate) const fn seq_diff(a: u8, b: u8) -> u8 {
    a.wrapping_sub(b) % SEQ_MODULUS
}

/// What the receiver makes of a DATA frame's sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The expected frame: deliver it.
    InOrder,
    /// A frame ahead of the expected one: some were lost.
    Ahead,
    /// A frame already delivered (a retransmission).
    Behind,
}

/// The go-back-N state of one side: its sending ring and its receiver.
pub(crate) struct Arq<const MTU: usize, const WINDOW: usize> {
    slots: [[u8; MTU]; WINDOW],
    lens: [u16; WINDOW],
    /// Ring index of the oldest unacknowledged frame.
    head: usize,
    /// Frames stored (unacknowledged or not yet sent).
    count: usize,
    /// Frames of the ring sent in the current round (a go-back resets it).
    sent: usize,
    /// Frames of the ring sent at least once: acks may cover these.
    ever_sent: usize,
    /// Sequence number of the frame at `head`.
    base_seq: u8,
    /// Retransmission deadline, while sent frames are unacknowledged.
    deadline: Option<Instant>,
    /// Consecutive retransmission rounds without progress.
    retries: u8,
    /// The next sequence number the receiver expects.
    pub expected: u8,
    /// An acknowledgement is owed to the peer now (spec.md [S-14.17]).
    pub ack_due: bool,
    /// DATA frames accepted since the last frame that carried an Ack.
    unacked: usize,
    /// When the oldest of them must be acknowledged (the ack delay).
    ack_at: Option<Instant>,
    /// A REJ is owed to the peer (reliable mode).
    pub rej_due: bool,
    /// A REJ was sent for the current gap; no other until it closes.
    rej_sent: bool,
}

impl<const MTU: usize, const WINDOW: usize> Arq<MTU, WINDOW> {
    pub const fn new() -> Self {
        Arq {
            slots: [[0; MTU]; WINDOW],
            lens: [0; WINDOW],
            head: 0,
            count: 0,
            sent: 0,
            ever_sent: 0,
            base_seq: 0,
            deadline: None,
            retries: 0,
            expected: 0,
            ack_due: false,
            unacked: 0,
            ack_at: None,
            rej_due: false,
            rej_sent: false,
        }
    }

    /// Forget everything: a new link session starts at sequence 0.
    pub fn reset(&mut self) {
        self.head = 0;
        self.count = 0;
        self.sent = 0;
        self.ever_sent = 0;
        self.base_seq = 0;
        self.deadline = None;
        self.retries = 0;
        self.expected = 0;
        self.ack_due = false;
        self.unacked = 0;
        self.ack_at = None;
        self.rej_due = false;
        self.rej_sent = false;
    }

    // ----- sender --------------------------------------------------------

    /// Frames stored and not yet acknowledged (or, in fail-stop mode,
    /// not yet sent).
    pub fn in_flight(&self) -> usize {
        self.count
    }

    /// The slot a new frame is pulled into, if the window has room.
    pub fn free_slot(&mut self, window: usize) -> Option<&mut [u8; MTU]> {
        if self.count >= window.min(WINDOW) {
            return None;
        }
        let i = (self.head + self.count) % WINDOW;
        Some(&mut self.slots[i])
    }

    /// Keep the `len` bytes just pulled into [`free_slot`](Self::free_slot)
    /// as the next frame.
    pub fn commit(&mut self, len: usize) {
        let i = (self.head + self.count) % WINDOW;
        self.lens[i] = len as u16;
        self.count += 1;
    }

    /// The next frame to (re)transmit in this round: its sequence number and
    /// session bytes.
    pub fn next_unsent(&self) -> Option<(u8, &[u8])> {
        if self.sent >= self.count {
            return None;
        }
        let i = (self.head + self.sent) % WINDOW;
        let seq = (self.base_seq + self.sent as u8) % SEQ_MODULUS;
        Some((seq, &self.slots[i][..usize::from(self.lens[i])]))
    }

    /// Whether the frame [`next_unsent`](Self::next_unsent) gives fills the
    /// window: once it is sent, `window` frames are unacknowledged and the
    /// sender can send nothing new before an Ack, so it asks for one (POLL,
    /// spec.md §14.5).
    pub fn fills_window(&self, window: usize) -> bool {
        self.sent + 1 >= window.min(WINDOW)
    }

    /// The frame [`next_unsent`](Self::next_unsent) gave left at `now`.
    /// Returns whether it was a retransmission.
    pub fn mark_sent(&mut self, now: Instant, rto: Duration) -> bool {
        let again = self.sent < self.ever_sent;
        self.sent += 1;
        self.ever_sent = self.ever_sent.max(self.sent);
        if self.deadline.is_none() {
            self.deadline = Some(now + rto);
        }
        again
    }

    /// Fail-stop: the frame at the head left and is dropped at once.
    pub fn drop_head(&mut self) {
        if self.count > 0 {
            self.head = (self.head + 1) % WINDOW;
            self.count -= 1;
            self.base_seq = (self.base_seq + 1) % SEQ_MODULUS;
        }
        self.sent = 0;
        self.ever_sent = 0;
    }

    /// An acknowledgement arrived: everything before `ack` was received.
    /// With `rej`, the peer also asks to go back to `ack` now. Acks that
    /// cover frames never sent are ignored (spec.md [S-14.18]).
    pub fn on_ack(
        &mut self,
        ack: u8,
        rej: bool,
        now: Instant,
        rto: Duration,
        limit: u8,
    ) -> Result<(), LinkError> {
        let acked = usize::from(seq_diff(ack, self.base_seq));
        if acked > self.ever_sent {
            return Ok(());
        }
        if acked > 0 {
            self.head = (self.head + acked) % WINDOW;
            self.count -= acked;
            self.sent = self.sent.saturating_sub(acked);
            self.ever_sent -= acked;
            self.base_seq = ack % SEQ_MODULUS;
            self.retries = 0;
            self.deadline = (self.ever_sent > 0).then_some(now + rto);
        }
        if rej && self.sent > 0 {
            self.go_back(now, rto, limit)?;
        }
        Ok(())
    }

    /// The peer showed it is alive without acknowledging (it is still
    /// syncing): start the retry count over.
    pub fn peer_alive(&mut self) {
        self.retries = 0;
    }

    /// When the oldest sent frame is due for retransmission.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Let time pass: past the deadline, go back to the oldest frame.
    pub fn on_timeout(&mut self, now: Instant, rto: Duration, limit: u8) -> Result<(), LinkError> {
        match self.deadline {
            Some(t) if now >= t && self.ever_sent > 0 => self.go_back(now, rto, limit),
            _ => Ok(()),
        }
    }

    fn go_back(&mut self, now: Instant, rto: Duration, limit: u8) -> Result<(), LinkError> {
        if self.retries >= limit {
            return Err(LinkError::RetryLimit);
        }
        self.retries += 1;
        self.sent = 0;
        self.deadline = Some(now + rto);
        Ok(())
    }

    // ----- receiver ------------------------------------------------------

    /// A DATA frame with `seq` arrived (reliable mode): is it the next one?
    /// A frame discarded (ahead or behind) owes an acknowledgement at once,
    /// and the first frame past a gap a REJ; an accepted one is counted by
    /// [`delivered`](Self::delivered).
    pub fn on_data(&mut self, seq: u8) -> Arrival {
        let ahead = seq_diff(seq, self.expected);
        if ahead == 0 {
            self.rej_sent = false;
            return Arrival::InOrder;
        }
        self.ack_due = true;
        // With at most MAX_WINDOW frames unacknowledged, a frame ahead is
        // 1 to MAX_WINDOW - 1 past the expected one, and one already
        // received 1 to MAX_WINDOW behind it.
        if usize::from(ahead) < MAX_WINDOW {
            if !self.rej_sent {
                self.rej_sent = true;
                self.rej_due = true;
            }
            return Arrival::Ahead;
        }
        Arrival::Behind
    }

    /// The expected frame was delivered.
    pub fn delivered(&mut self) {
        self.expected = (self.expected + 1) % SEQ_MODULUS;
    }

    /// Reliable mode: the frame just delivered was accepted at `now`;
    /// acknowledge it once half the window (rounded up) is unacknowledged,
    /// or `delay` after the oldest unacknowledged frame was accepted
    /// (spec.md [S-14.17]).
    pub fn owe_ack(&mut self, now: Instant, window: usize, delay: Duration) {
        self.unacked += 1;
        if self.ack_at.is_none() {
            self.ack_at = Some(now + delay);
        }
        if self.unacked >= window.div_ceil(2) {
            self.ack_due = true;
        }
    }

    /// Whether an acknowledgement must go out at `now`: one is owed at once,
    /// or the ack delay of the oldest unacknowledged frame has passed.
    pub fn ack_now(&self, now: Instant) -> bool {
        self.ack_due || self.ack_at.is_some_and(|t| now >= t)
    }

    /// Whether an acknowledgement is owed (due now or later).
    pub fn ack_owed(&self) -> bool {
        self.ack_due || self.ack_at.is_some()
    }

    /// When the delayed acknowledgement falls due (`None` when none is
    /// owed, or it is due now: see `ack_now`).
    pub fn ack_deadline(&self) -> Option<Instant> {
        if self.ack_due {
            None
        } else {
            self.ack_at
        }
    }

    /// Let time pass: once the ack delay has passed, the acknowledgement is
    /// owed at once.
    pub fn on_ack_timer(&mut self, now: Instant) {
        if self.ack_now(now) {
            self.ack_due = true;
        }
    }

    /// A frame carrying Ack (and REJ, if one was owed) was sent: nothing is
    /// owed any more.
    pub fn acked(&mut self) {
        self.ack_due = false;
        self.rej_due = false;
        self.unacked = 0;
        self.ack_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTO: Duration = Duration::from_millis(100);

    fn push<const W: usize>(a: &mut Arq<8, W>, byte: u8) {
        let slot = a.free_slot(W).unwrap();
        slot[0] = byte;
        a.commit(1);
    }

    #[test]
    fn sends_acks_and_slides() {
        let mut a = Arq::<8, 4>::new();
        for b in 0..4 {
            push(&mut a, b);
        }
        assert!(a.free_slot(4).is_none(), "window full");
        for want in 0..4u8 {
            let (seq, body) = a.next_unsent().unwrap();
            assert_eq!((seq, body), (want, &[want][..]));
            assert!(!a.mark_sent(Instant::ZERO, RTO));
        }
        assert!(a.next_unsent().is_none());
        a.on_ack(2, false, Instant::ZERO, RTO, 3).unwrap();
        assert_eq!(a.in_flight(), 2);
        // An ack for frames never sent is ignored.
        a.on_ack(9, false, Instant::ZERO, RTO, 3).unwrap();
        assert_eq!(a.in_flight(), 2);
        a.on_ack(4, false, Instant::ZERO, RTO, 3).unwrap();
        assert_eq!((a.in_flight(), a.deadline()), (0, None));
    }

    #[test]
    fn timeout_goes_back_then_gives_up() {
        let mut a = Arq::<8, 2>::new();
        push(&mut a, 1);
        push(&mut a, 2);
        while a.next_unsent().is_some() {
            a.mark_sent(Instant::ZERO, RTO);
        }
        let mut now = Instant::ZERO;
        for _ in 0..3 {
            now += RTO;
            a.on_timeout(now, RTO, 3).unwrap();
            assert_eq!(a.next_unsent().map(|(s, _)| s), Some(0), "back to the oldest");
            assert!(a.mark_sent(now, RTO), "a retransmission");
            a.mark_sent(now, RTO);
        }
        now += RTO;
        assert_eq!(a.on_timeout(now, RTO, 3), Err(LinkError::RetryLimit));
    }

    #[test]
    fn receiver_classifies_and_rejects_once_per_gap() {
        let mut a = Arq::<8, 1>::new();
        assert_eq!(a.on_data(0), Arrival::InOrder);
        a.delivered();
        assert_eq!(a.on_data(2), Arrival::Ahead);
        assert!(a.rej_due);
        a.rej_due = false;
        assert_eq!(a.on_data(3), Arrival::Ahead);
        assert!(!a.rej_due, "one REJ per gap");
        assert_eq!(a.on_data(0), Arrival::Behind);
        assert_eq!(a.on_data(9), Arrival::Behind, "8 behind: the oldest a full window resends");
        assert_eq!(a.on_data(8), Arrival::Ahead, "7 past: the newest of a full window");
        assert_eq!(a.on_data(1), Arrival::InOrder);
        a.delivered();
        assert_eq!(a.on_data(3), Arrival::Ahead);
        assert!(a.rej_due, "a new gap");
    }

    #[test]
    fn accepted_frames_are_acknowledged_at_half_the_window_or_after_the_delay() {
        let t0 = Instant::from_millis(5);
        for (window, half) in [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (8, 4)] {
            let mut a = Arq::<8, 8>::new();
            for k in 1..=2 * half {
                assert_eq!(a.on_data(a.expected), Arrival::InOrder);
                a.delivered();
                a.owe_ack(t0, window, RTO);
                assert_eq!(a.ack_now(t0), k % half == 0, "window {window}, frame {k}");
                if a.ack_now(t0) {
                    a.acked();
                    assert_eq!(a.ack_deadline(), None);
                }
            }
        }
        // Below the count, the delay from the first unacknowledged frame.
        let mut a = Arq::<8, 8>::new();
        a.owe_ack(t0, 8, RTO);
        a.owe_ack(t0 + Duration::from_millis(50), 8, RTO);
        assert_eq!(a.ack_deadline(), Some(t0 + RTO));
        a.on_ack_timer(t0 + Duration::from_millis(99));
        assert!(!a.ack_now(t0 + Duration::from_millis(99)));
        a.on_ack_timer(t0 + RTO);
        assert!(a.ack_due);
        assert_eq!(a.ack_deadline(), None, "due now: no timer left");
        // A discarded frame is acknowledged at once.
        a.acked();
        assert_eq!(a.on_data(a.expected.wrapping_sub(1) % 16), Arrival::Behind);
        assert!(a.ack_due);
    }

    #[test]
    fn the_frame_that_fills_the_window_asks_for_an_ack() {
        let mut a = Arq::<8, 4>::new();
        for b in 0..4 {
            push(&mut a, b);
        }
        for (i, window) in [(0, 3), (1, 3), (2, 3)] {
            assert_eq!(a.fills_window(window), i == 2);
            a.mark_sent(Instant::ZERO, RTO);
        }
        a.on_timeout(Instant::ZERO + RTO, RTO, 3).unwrap();
        assert!(!a.fills_window(2), "go back: the first of the round again");
        a.mark_sent(Instant::ZERO, RTO);
        assert!(a.fills_window(2));
        assert!(Arq::<8, 1>::new().fills_window(1), "window 1: every frame");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut a = Arq::<8, 3>::new();
        for i in 0..40u8 {
            push(&mut a, i);
            let (seq, _) = a.next_unsent().unwrap();
            assert_eq!(seq, i % 16);
            a.mark_sent(Instant::ZERO, RTO);
            a.on_ack((i + 1) % 16, false, Instant::ZERO, RTO, 1).unwrap();
            assert_eq!(a.in_flight(), 0);
        }
    }
}
