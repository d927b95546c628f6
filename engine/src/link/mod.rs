//! The serial link layer (feature `link`, spec.md §14): braid over a byte
//! pipe that corrupts, drops or invents bytes, such as a UART.
//!
//! The session's bytes travel in **link frames**: a 2-byte header (kind,
//! sequence number, acknowledgement, flags), the body, a CRC-32C, all
//! COBS-encoded and ended by a `0x00` delimiter ([`frame`]). A receiver
//! checks every frame and never passes a byte of one that fails to the
//! session; after any damage it resynchronises at the next delimiter
//! ([`Decoder`]). A **SYNC** exchange opens each link session: it carries
//! each side's epoch (chosen at boot) and session counter, so a peer that
//! rebooted or started over is detected, and the MTU, window and mode the
//! two sides then use. Each link session carries exactly one braid
//! [`Session`]: when either ends, both sides start a new pair.
//!
//! Two modes ([`LinkMode`]):
//!
//! - **fail-stop**: a damaged or missing frame ends the session with a
//!   [`LinkError`]; the application starts a new session, and the link a
//!   new link session under it. Nothing is stored for retransmission.
//! - **reliable**: go-back-N with a window of up to 8 frames, cumulative
//!   acks, a REJ to go back early, a retransmission timer and a retry
//!   limit. Damage and loss are repaired below the session; only a peer
//!   that stops answering ends it ([`LinkError::RetryLimit`]).
//!
//! # Driving it
//!
//! [`Link`] is a sans-io state machine with the engine's call protocol. It
//! is driven *beside* its session: every input and poll takes the
//! [`Session`] it feeds and drains, so the link alone decides when session
//! bytes go out (window permitting) and which received bytes reach it.
//! [`LinkedSession`] bundles the two, which is the easy way to drive them
//! correctly; [`Link`] alone suits a `static` (its constructor is `const`)
//! next to a session the application keeps elsewhere.
//!
//! After every input, drain: [`Link::poll_transmit`] until it returns 0,
//! then [`Link::poll_event`] and the session's own `poll_event`, then
//! arrange a call to [`Link::handle_timeout`] at [`Link::poll_timeout`]
//! (which includes the session's timers). When the session has ended
//! (its [`Event::Closed`](crate::Event::Closed)) — by a link error, a
//! GOAWAY or a timeout — create a new one and call [`Link::restart`]
//! ([`LinkedSession::restart`] does both).
//!
//! ```
//! use braid::link::{LinkConfig, LinkEvent, LinkedSession};
//! use braid::{ArrayStorage, Config, Instant, Session};
//!
//! type Device = LinkedSession<ArrayStorage<2, 256, 256>, 136, 4>;
//! let now = Instant::ZERO;
//! let new = |config| Session::new(config, ArrayStorage::new(), now);
//! let mut a = Device::new(LinkConfig::reliable(0x1234), new(Config::client()));
//! let mut b = Device::new(LinkConfig::reliable(0x5678), new(Config::server()));
//! let mut wire = [0u8; 512];
//! for _ in 0..4 {
//!     let n = a.poll_transmit(now, &mut wire);
//!     assert_eq!(b.handle_input(now, &wire[..n]), n);
//!     let n = b.poll_transmit(now, &mut wire);
//!     assert_eq!(a.handle_input(now, &wire[..n]), n);
//! }
//! assert!(matches!(a.poll_link_event(), Some(LinkEvent::Synced { reliable: true, .. })));
//! assert_eq!(a.poll_event(), Some(braid::Event::Connected));
//! ```

mod arq;
mod decoder;
pub mod frame;
mod linked;
mod sync;

pub use decoder::{Decoded, Decoder};
pub use frame::{FrameError, LinkId, SyncError};
pub use linked::LinkedSession;

use crate::{Duration, Instant, LinkError, Session, Storage};
use arq::{Arq, Arrival};
use frame::{
    body_room, encode, max_wire_len, BufferTooSmall, Header, Kind, SyncBody, MAX_MTU, MAX_WINDOW, MIN_MTU,
};
use sync::{SyncOutcome, SyncState};

/// How the link treats a damaged or missing frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkMode {
    /// End the session with a [`LinkError`]; a new one starts over a new
    /// link session (spec.md §14.4).
    FailStop,
    /// Retransmit (go-back-N) below the session, which never notices
    /// (spec.md §14.5). Used only if both sides ask for it.
    Reliable,
}

/// How a [`Link`] behaves and what it announces in SYNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkConfig {
    /// Fail-stop or reliable.
    pub mode: LinkMode,
    /// This side's epoch: a random number or a boot counter, different on
    /// every start, so that the peer can tell a reboot (spec.md §14.3).
    pub epoch: u32,
    /// Most unacknowledged DATA frames (reliable mode), 1 to 8; clamped to
    /// the link's `WINDOW`.
    pub window: u8,
    /// The largest DATA body to announce, clamped to 80 and to the link's
    /// `MTU` (the default, 1024, announces the link's `MTU`). A smaller
    /// value than the buffers allow suits a noisy line: a shorter frame is
    /// less likely to be hit, and less is sent again when one is.
    pub mtu: u16,
    /// Reliable mode: how long the oldest unacknowledged frame waits before
    /// everything unacknowledged is sent again. It must exceed the time to
    /// send a whole window and get the ack back, and should exceed a frame
    /// time plus the peer's [`ack_delay`](Self::ack_delay) (spec.md §14.5).
    pub retransmit_timeout: Duration,
    /// Reliable mode: retransmission rounds without progress before the
    /// session ends with [`LinkError::RetryLimit`].
    pub retry_limit: u8,
    /// Reliable mode: the longest an accepted DATA frame waits for its
    /// acknowledgement when nothing else triggers one (spec.md [S-14.17]:
    /// half the window unacknowledged, a discarded frame, a POLL from the
    /// sender, or a DATA frame of this side's own to carry it). Batching
    /// acknowledgements this way saves the reverse direction one ACK frame
    /// per DATA frame.
    ///
    /// The default, 50 ms, suits UART speeds. The delay runs from the
    /// first unacknowledged frame, so it only lets the count act when it
    /// exceeds the time to receive half a window: at 115200 baud a 128-byte
    /// frame takes 12.5 ms on the line (144 bytes), so half of a window of
    /// 8 arrives within 37.5 ms (one ACK per 4 DATA frames instead of one
    /// per frame), and with 248-byte frames (23 ms) half of a window of 4
    /// within 23 ms. It stays well below the retransmission timeout (250 ms by
    /// default), which should exceed the time the peer may take to
    /// acknowledge: a frame time plus its ack delay, or half a window of
    /// frames. Only the last frames of a burst wait for it, and only the
    /// sender's buffer waits (the data was delivered when it arrived); a
    /// sender whose window is full asks for its Ack at once (POLL).
    /// [`Duration::ZERO`] acknowledges every frame as soon as the input
    /// that brought it has been handled.
    pub ack_delay: Duration,
    /// How often a side whose link is not up repeats its SYNC.
    pub sync_interval: Duration,
}

impl LinkConfig {
    /// Fail-stop mode with `epoch` and the default timers.
    #[must_use]
    pub const fn fail_stop(epoch: u32) -> Self {
        LinkConfig {
            mode: LinkMode::FailStop,
            epoch,
            window: MAX_WINDOW as u8,
            mtu: MAX_MTU as u16,
            retransmit_timeout: Duration::from_millis(250),
            retry_limit: 8,
            sync_interval: Duration::from_millis(250),
            ack_delay: Duration::from_millis(50),
        }
    }

    /// Reliable mode with `epoch`, a window of 8 (clamped to the link's
    /// `WINDOW`), a 250 ms retransmission timeout, 8 retries and a 50 ms
    /// ack delay.
    #[must_use]
    pub const fn reliable(epoch: u32) -> Self {
        LinkConfig { mode: LinkMode::Reliable, ..Self::fail_stop(epoch) }
    }

    /// The same configuration with another window.
    #[must_use]
    pub const fn with_window(mut self, window: u8) -> Self {
        self.window = window;
        self
    }

    /// The same configuration announcing DATA bodies of at most `mtu`
    /// bytes (see [`mtu`](Self::mtu)).
    #[must_use]
    pub const fn with_mtu(mut self, mtu: u16) -> Self {
        self.mtu = mtu;
        self
    }

    /// The same configuration with another retransmission timeout and
    /// retry limit.
    #[must_use]
    pub const fn with_retransmit(mut self, timeout: Duration, retry_limit: u8) -> Self {
        self.retransmit_timeout = timeout;
        self.retry_limit = retry_limit;
        self
    }

    /// The same configuration with another ack delay (reliable mode; see
    /// [`ack_delay`](Self::ack_delay)).
    #[must_use]
    pub const fn with_ack_delay(mut self, delay: Duration) -> Self {
        self.ack_delay = delay;
        self
    }

    /// The same configuration with another SYNC interval.
    #[must_use]
    pub const fn with_sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }
}

/// Where the link is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkState {
    /// Exchanging SYNC; no session byte moves.
    Syncing,
    /// Session bytes move.
    Up,
    /// The link failed or the transport ended; the session was ended.
    /// Nothing moves until [`Link::restart`].
    Down,
}

/// Something the application should know about the link, from
/// [`Link::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkEvent {
    /// The link is up: session bytes move now.
    Synced {
        /// The peer's epoch and session counter.
        peer: LinkId,
        /// The largest DATA body either side sends.
        mtu: u16,
        /// The most unacknowledged DATA frames (1 in fail-stop mode).
        window: u8,
        /// Whether go-back-N is in force.
        reliable: bool,
    },
    /// The peer's epoch changed: it rebooted.
    PeerRestarted {
        /// Its new epoch.
        epoch: u32,
    },
    /// The link ended the session with this error ([`LinkState::Down`]):
    /// create a new session and call [`Link::restart`].
    Down(LinkError),
    /// A SYNC was ignored because of what it announced.
    SyncRejected(SyncError),
}

/// Counters for the link's life so far; each saturates at `u32::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkStats {
    /// Wire bytes written.
    pub bytes_sent: u32,
    /// Wire bytes consumed.
    pub bytes_received: u32,
    /// Frames written (every kind, retransmissions included).
    pub frames_sent: u32,
    /// Frames received that passed their checks (every kind).
    pub frames_received: u32,
    /// DATA frames sent again (reliable mode).
    pub frames_retransmitted: u32,
    /// Received frames discarded by their checks (COBS, length, CRC).
    pub frames_corrupt: u32,
    /// Received frames discarded for being longer than the MTU.
    pub frames_oversize: u32,
    /// Wire bytes discarded with corrupt or oversize frames.
    pub bytes_discarded: u32,
    /// Valid DATA frames not delivered: out of order, duplicates, or
    /// received while the link was not up.
    pub frames_dropped: u32,
    /// SYNC frames sent.
    pub syncs_sent: u32,
    /// Session bytes sent in DATA frames (first transmissions only).
    pub session_bytes_sent: u32,
    /// Session bytes delivered to the session.
    pub session_bytes_received: u32,
}

/// Event flags, polled in this order.
mod evbit {
    pub const DOWN: u8 = 1 << 0;
    pub const RESTARTED: u8 = 1 << 1;
    pub const REJECTED: u8 = 1 << 2;
    pub const SYNCED: u8 = 1 << 3;
}

fn bump(counter: &mut u32, by: usize) {
    *counter = counter.saturating_add(u32::try_from(by).unwrap_or(u32::MAX));
}

/// A sans-io serial link for bodies of up to `MTU` bytes with a
/// retransmission window of up to `WINDOW` frames; see the [module
/// docs](self) for the call protocol.
///
/// `MTU` is the largest DATA body this side accepts and sends (80 to
/// 1024); `WINDOW` bounds the reliable window (1 to 8; 1 is enough in
/// fail-stop mode). Memory is fixed: about `MTU * (WINDOW + 1)` bytes of
/// buffers and a few dozen of state.
pub struct Link<const MTU: usize, const WINDOW: usize> {
    config: LinkConfig,
    state: LinkState,
    sync: SyncState,
    next_sync_at: Instant,
    decoder: Decoder<MTU>,
    arq: Arq<MTU, WINDOW>,
    /// Negotiated when the link came up.
    mtu: usize,
    window: usize,
    reliable: bool,
    /// Offset in the decoder's frame still to hand to the session (its
    /// trace queue was full).
    delivering: Option<usize>,
    transmit_needed: usize,
    events: u8,
    down: Option<LinkError>,
    restarted_epoch: u32,
    rejected: Option<SyncError>,
    stats: LinkStats,
}

impl<const MTU: usize, const WINDOW: usize> Link<MTU, WINDOW> {
    const PARAMS_OK: () = assert!(
        MTU >= MIN_MTU && MTU <= MAX_MTU && WINDOW >= 1 && WINDOW <= MAX_WINDOW,
        "braid::link::Link needs 80 <= MTU <= 1024 and 1 <= WINDOW <= 8"
    );

    /// A link that starts syncing at its first [`poll_transmit`](Self::poll_transmit).
    #[must_use]
    pub const fn new(config: LinkConfig) -> Self {
        let () = Self::PARAMS_OK;
        Link {
            config,
            state: LinkState::Syncing,
            sync: SyncState::new(config.epoch),
            next_sync_at: Instant::ZERO,
            decoder: Decoder::new(),
            arq: Arq::new(),
            mtu: MTU,
            window: 1,
            reliable: false,
            delivering: None,
            transmit_needed: 0,
            events: 0,
            down: None,
            restarted_epoch: 0,
            rejected: None,
            stats: LinkStats {
                bytes_sent: 0,
                bytes_received: 0,
                frames_sent: 0,
                frames_received: 0,
                frames_retransmitted: 0,
                frames_corrupt: 0,
                frames_oversize: 0,
                bytes_discarded: 0,
                frames_dropped: 0,
                syncs_sent: 0,
                session_bytes_sent: 0,
                session_bytes_received: 0,
            },
        }
    }

    // ----- getters -------------------------------------------------------

    /// Where the link is in its life.
    #[must_use]
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// The configuration the link was created with.
    #[must_use]
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Counters for the link's life so far.
    #[must_use]
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// This side's epoch and current session counter.
    #[must_use]
    pub fn local_id(&self) -> LinkId {
        self.sync.me
    }

    /// The peer's epoch and session counter, once a SYNC from it arrived.
    #[must_use]
    pub fn peer_id(&self) -> Option<LinkId> {
        self.sync.peer.map(|p| p.id)
    }

    /// The largest DATA body sent while up (the smaller of the two MTUs).
    #[must_use]
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The window in force while up (1 in fail-stop mode).
    #[must_use]
    pub fn window(&self) -> usize {
        self.window
    }

    /// Whether go-back-N is in force (both sides asked for it).
    #[must_use]
    pub fn is_reliable(&self) -> bool {
        self.reliable
    }

    /// DATA frames sent and not yet acknowledged (reliable mode).
    #[must_use]
    pub fn unacknowledged(&self) -> usize {
        if self.reliable {
            self.arq.in_flight()
        } else {
            0
        }
    }

    /// Whether an acknowledgement is owed to the peer (reliable mode, link
    /// up): it goes out with this side's next DATA frame, or by itself
    /// when it is due (see [`LinkConfig::ack_delay`]). A side that is about
    /// to stop waits for it, so that the peer does not send its last frames
    /// again until its retry limit.
    #[must_use]
    pub fn ack_owed(&self) -> bool {
        self.state == LinkState::Up && self.reliable && self.arq.ack_owed()
    }

    /// Bytes [`poll_transmit`](Self::poll_transmit) needs for its next
    /// frame, when the last call wrote nothing for lack of room; 0
    /// otherwise.
    #[must_use]
    pub fn transmit_needed(&self) -> usize {
        self.transmit_needed
    }

    /// The most wire bytes one frame of this link takes: a buffer this
    /// long always lets [`poll_transmit`](Self::poll_transmit) progress.
    #[must_use]
    pub const fn max_frame_wire_len() -> usize {
        1 + max_wire_len(MTU)
    }

    // ----- inputs --------------------------------------------------------

    /// Consume bytes read from the wire, passing the session the bytes of
    /// every valid in-order DATA frame. Returns how many were consumed: all
    /// of them, unless the session's trace queue filled (drain its
    /// `poll_trace` and pass the rest again). Any chunking gives the same
    /// result.
    #[must_use = "bytes not consumed must be passed again"]
    pub fn handle_input<S: Storage>(&mut self, now: Instant, wire: &[u8], session: &mut Session<S>) -> usize {
        let mut pos = 0;
        loop {
            if self.delivering.is_some() && !self.deliver(now, session) {
                break;
            }
            let Some(&byte) = wire.get(pos) else {
                break;
            };
            pos += 1;
            match self.decoder.push(byte) {
                None => {}
                Some(Decoded::Frame(header)) => {
                    bump(&mut self.stats.frames_received, 1);
                    self.on_frame(now, header, session);
                }
                Some(Decoded::Discarded { error, bytes }) => {
                    bump(&mut self.stats.bytes_discarded, bytes);
                    if error == FrameError::Oversize {
                        bump(&mut self.stats.frames_oversize, 1);
                    } else {
                        bump(&mut self.stats.frames_corrupt, 1);
                    }
                    if self.state == LinkState::Up && !self.reliable {
                        // Fail-stop: the frame may have carried session bytes.
                        self.fail(now, LinkError::CorruptFrame, session);
                    }
                }
            }
        }
        bump(&mut self.stats.bytes_received, pos);
        pos
    }

    /// Let time pass: repeat SYNC while syncing, retransmit (or give up)
    /// and owe delayed acknowledgements in reliable mode, and run the session's own timers. Calling it early
    /// or often is harmless.
    pub fn handle_timeout<S: Storage>(&mut self, now: Instant, session: &mut Session<S>) {
        if self.state == LinkState::Up && self.reliable {
            let limit = self.config.retry_limit;
            if let Err(e) = self.arq.on_timeout(now, self.config.retransmit_timeout, limit) {
                self.fail(now, e, session);
            }
            self.arq.on_ack_timer(now);
        }
        session.handle_timeout(now);
    }

    /// The wire ended: the session ends with
    /// [`LocalError::TransportEof`](crate::LocalError::TransportEof) and the
    /// link goes [`Down`](LinkState::Down) (without an event).
    pub fn handle_eof<S: Storage>(&mut self, now: Instant, session: &mut Session<S>) {
        session.handle_eof(now);
        self.state = LinkState::Down;
        self.delivering = None;
        self.arq.reset();
    }

    // ----- commands ------------------------------------------------------

    /// Start a new link session under a new session: call it after
    /// replacing the session that ended (its `Event::Closed`) with a fresh
    /// one. The session counter goes up by one, so the peer ends whatever
    /// session it still has and starts a new one too (spec.md [S-14.10],
    /// [S-14.11]).
    /// The link syncs again from the next
    /// [`poll_transmit`](Self::poll_transmit); unacknowledged frames of the
    /// old session are dropped.
    pub fn restart(&mut self, now: Instant) {
        self.sync.restart();
        self.state = LinkState::Syncing;
        self.next_sync_at = now;
        self.arq.reset();
        self.delivering = None;
        self.transmit_needed = 0;
    }

    // ----- polls ---------------------------------------------------------

    /// Write the next link frames into `out` and return how many bytes were
    /// written: a SYNC while syncing (or answering one), then in reliable
    /// mode the frames due for (re)transmission, then new frames pulled
    /// from the session as the window allows, then an ACK if one is due
    /// now (spec.md [S-14.17]) and no DATA frame carried it. Frames are never split across calls;
    /// 0 means nothing to send, or no room for the next frame (see
    /// [`transmit_needed`](Self::transmit_needed); a buffer of
    /// [`max_frame_wire_len`](Self::max_frame_wire_len) bytes always has
    /// room). Call until it returns 0.
    #[must_use = "the bytes written must be sent to the peer"]
    pub fn poll_transmit<S: Storage>(
        &mut self,
        now: Instant,
        out: &mut [u8],
        session: &mut Session<S>,
    ) -> usize {
        self.transmit_needed = 0;
        if self.state == LinkState::Down {
            return 0;
        }
        let mut w = 0;
        if !self.send_sync(now, out, &mut w) {
            return self.done(w);
        }
        if self.state != LinkState::Up {
            return self.done(w);
        }
        if self.reliable {
            self.send_reliable(now, out, &mut w, session);
            if self.state == LinkState::Up && self.arq.ack_now(now) {
                let rej = if self.arq.rej_due { frame::flags::REJ } else { 0 };
                let header = Header::new(Kind::Ack, 0, self.arq.expected, rej);
                if self.put(header, &[], out, &mut w) {
                    self.arq.acked();
                }
            }
        } else {
            self.send_fail_stop(now, out, &mut w, session);
        }
        self.done(w)
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called:
    /// the link's own timers (SYNC repeat, retransmission, delayed
    /// acknowledgement) and the session's.
    #[must_use]
    pub fn poll_timeout<S: Storage>(&self, session: &Session<S>) -> Option<Instant> {
        let own = match self.state {
            LinkState::Syncing => Some(self.next_sync_at),
            LinkState::Up if self.reliable => match (self.arq.deadline(), self.arq.ack_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            _ => None,
        };
        match (own, session.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next link event, if any. See [`LinkEvent`].
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        if self.take(evbit::DOWN) {
            if let Some(e) = self.down {
                return Some(LinkEvent::Down(e));
            }
        }
        if self.take(evbit::RESTARTED) {
            return Some(LinkEvent::PeerRestarted { epoch: self.restarted_epoch });
        }
        if self.take(evbit::REJECTED) {
            if let Some(e) = self.rejected {
                return Some(LinkEvent::SyncRejected(e));
            }
        }
        if self.take(evbit::SYNCED) {
            if let (LinkState::Up, Some(peer)) = (self.state, self.sync.peer) {
                return Some(LinkEvent::Synced {
                    peer: peer.id,
                    mtu: self.mtu as u16,
                    window: self.window as u8,
                    reliable: self.reliable,
                });
            }
        }
        None
    }

    // ----- internals -----------------------------------------------------

    fn take(&mut self, bit: u8) -> bool {
        let had = self.events & bit != 0;
        self.events &= !bit;
        had
    }

    fn done(&mut self, w: usize) -> usize {
        if w > 0 {
            self.transmit_needed = 0;
        }
        bump(&mut self.stats.bytes_sent, w);
        w
    }

    /// Encode one frame at `out[*w..]`; false (and `transmit_needed` if
    /// nothing was written yet) when it does not fit.
    fn put(&mut self, header: Header, body: &[u8], out: &mut [u8], w: &mut usize) -> bool {
        match encode(header, body, &mut out[*w..]) {
            Ok(n) => {
                *w += n;
                bump(&mut self.stats.frames_sent, 1);
                true
            }
            Err(BufferTooSmall { needed }) => {
                if *w == 0 {
                    self.transmit_needed = self.transmit_needed.max(needed);
                }
                false
            }
        }
    }

    /// The SYNC, when one is due; false if it did not fit.
    fn send_sync(&mut self, now: Instant, out: &mut [u8], w: &mut usize) -> bool {
        let due = (self.state == LinkState::Syncing && now >= self.next_sync_at) || self.sync.reply_due;
        if !due {
            return true;
        }
        let need = 1 + max_wire_len(frame::SYNC_BODY_LEN);
        if out.len() - *w < need {
            if *w == 0 {
                self.transmit_needed = need;
            }
            return false;
        }
        // A leading delimiter ends whatever partial frame the peer's
        // decoder holds (line noise, a frame cut by our reboot).
        out[*w] = 0;
        *w += 1;
        let up = self.state == LinkState::Up;
        let reliable = self.config.mode == LinkMode::Reliable;
        let window = usize::from(self.config.window).clamp(1, WINDOW) as u8;
        let body = self.sync.body(up, reliable, self.announced_mtu() as u16, window).to_bytes();
        let sent = self.put(Header::new(Kind::Sync, 0, 0, 0), &body, out, w);
        debug_assert!(sent, "room was checked");
        bump(&mut self.stats.syncs_sent, 1);
        self.sync.reply_due = false;
        if self.state == LinkState::Syncing {
            self.next_sync_at = now + self.config.sync_interval;
        }
        true
    }

    /// Reliable mode: frames due for (re)transmission, then new ones.
    fn send_reliable<S: Storage>(
        &mut self,
        now: Instant,
        out: &mut [u8],
        w: &mut usize,
        session: &mut Session<S>,
    ) {
        let rto = self.config.retransmit_timeout;
        loop {
            let poll = if self.arq.fills_window(self.window) { frame::flags::POLL } else { 0 };
            if let Some((seq, body)) = self.arq.next_unsent() {
                let rej = if self.arq.rej_due { frame::flags::REJ } else { 0 };
                let header = Header::new(Kind::Data, seq, self.arq.expected, rej | poll);
                let len = body.len();
                // Encode from the ring straight into `out`.
                match encode(header, body, &mut out[*w..]) {
                    Ok(n) => {
                        *w += n;
                        bump(&mut self.stats.frames_sent, 1);
                        self.arq.acked();
                        if self.arq.mark_sent(now, rto) {
                            bump(&mut self.stats.frames_retransmitted, 1);
                        } else {
                            bump(&mut self.stats.session_bytes_sent, len);
                        }
                        continue;
                    }
                    Err(BufferTooSmall { needed }) => {
                        if *w == 0 {
                            self.transmit_needed = needed;
                        }
                        return;
                    }
                }
            }
            if !self.pull(now, out.len() - *w, session) {
                return;
            }
        }
    }

    /// Fail-stop mode: pull a frame, send it, forget it.
    fn send_fail_stop<S: Storage>(
        &mut self,
        now: Instant,
        out: &mut [u8],
        w: &mut usize,
        session: &mut Session<S>,
    ) {
        loop {
            // A frame is pulled to fit the room left, so it always leaves at
            // once; should it not, it stays first in line for the next call.
            if self.arq.next_unsent().is_none() && !self.pull(now, out.len() - *w, session) {
                return;
            }
            let Some((seq, body)) = self.arq.next_unsent() else {
                return;
            };
            let len = body.len();
            match encode(Header::new(Kind::Data, seq, 0, 0), body, &mut out[*w..]) {
                Ok(n) => {
                    *w += n;
                    bump(&mut self.stats.frames_sent, 1);
                    bump(&mut self.stats.session_bytes_sent, len);
                    self.arq.drop_head();
                }
                Err(BufferTooSmall { needed }) => {
                    if *w == 0 {
                        self.transmit_needed = needed;
                    }
                    return;
                }
            }
        }
    }

    /// Pull the session's next frames into a free slot of the ring, as much
    /// as the MTU and `room` (wire bytes) allow. False when nothing was
    /// pulled: the window is full, the session has nothing, or the room is
    /// too small.
    fn pull<S: Storage>(&mut self, now: Instant, room: usize, session: &mut Session<S>) -> bool {
        let cap = body_room(room).min(self.mtu);
        let window = self.window;
        let Some(slot) = self.arq.free_slot(window) else {
            return false;
        };
        let n = session.poll_transmit(now, &mut slot[..cap]);
        if n > 0 {
            self.arq.commit(n);
            return true;
        }
        let needed = session.transmit_needed();
        if needed > self.mtu {
            // The session's next frame can never fit a link frame.
            self.fail(now, LinkError::FrameTooLarge, session);
        } else if needed > 0 {
            // It fits a link frame, but not the room `out` has left.
            self.transmit_needed = self.transmit_needed.max(max_wire_len(needed));
        }
        false
    }

    fn on_frame<S: Storage>(&mut self, now: Instant, header: Header, session: &mut Session<S>) {
        match header.kind {
            Kind::Sync => self.on_sync(now, session),
            Kind::Data if self.state == LinkState::Up => self.on_data(now, header, session),
            Kind::Ack if self.state == LinkState::Up && self.reliable => {
                self.on_ack(now, header, session);
            }
            Kind::Data => bump(&mut self.stats.frames_dropped, 1),
            // An ACK in fail-stop mode or while not up, or an unknown kind:
            // ignored (spec.md [S-14.5], [S-14.9]).
            Kind::Ack | Kind::Unknown(_) => {}
        }
    }

    fn on_sync<S: Storage>(&mut self, now: Instant, session: &mut Session<S>) {
        let parsed = match self.decoder.frame() {
            Some((_, body)) => SyncBody::parse(body),
            None => return,
        };
        let outcome = match parsed {
            Ok(s) => self.sync.on_sync(&s, self.state == LinkState::Up),
            Err(e) => SyncOutcome::Rejected(e),
        };
        if core::mem::take(&mut self.sync.peer_restarted) {
            if let Some(peer) = self.sync.peer {
                self.restarted_epoch = peer.id.epoch;
                self.events |= evbit::RESTARTED;
            }
        }
        if self.state == LinkState::Down {
            // No fresh session to offer: stay silent until restart().
            self.sync.reply_due = false;
            if let SyncOutcome::Rejected(e) = outcome {
                self.reject(e);
            }
            return;
        }
        match outcome {
            SyncOutcome::Nothing => {}
            // It cannot acknowledge our frames before its link is up, and
            // it is alive: its silence must not spend our retries.
            SyncOutcome::PeerStillSyncing => self.arq.peer_alive(),
            SyncOutcome::Rejected(e) => self.reject(e),
            SyncOutcome::Up => self.go_up(),
            SyncOutcome::PeerStartedOver(e) => self.fail(now, e, session),
        }
    }

    fn reject(&mut self, e: SyncError) {
        self.rejected = Some(e);
        self.events |= evbit::REJECTED;
    }

    /// The MTU this side announces: the configured one within 80 and `MTU`.
    fn announced_mtu(&self) -> usize {
        usize::from(self.config.mtu).clamp(MIN_MTU, MTU)
    }

    fn go_up(&mut self) {
        let Some(peer) = self.sync.peer else {
            return;
        };
        self.state = LinkState::Up;
        self.mtu = self.announced_mtu().min(usize::from(peer.mtu));
        self.reliable = self.config.mode == LinkMode::Reliable && peer.reliable;
        self.window = if self.reliable {
            usize::from(self.config.window).clamp(1, WINDOW).min(usize::from(peer.window))
        } else {
            1
        };
        self.arq.reset();
        self.delivering = None;
        self.events |= evbit::SYNCED;
    }

    fn on_ack<S: Storage>(&mut self, now: Instant, header: Header, session: &mut Session<S>) {
        let rej = header.flags & frame::flags::REJ != 0;
        let (rto, limit) = (self.config.retransmit_timeout, self.config.retry_limit);
        if let Err(e) = self.arq.on_ack(header.ack, rej, now, rto, limit) {
            self.fail(now, e, session);
        }
    }

    fn on_data<S: Storage>(&mut self, now: Instant, header: Header, session: &mut Session<S>) {
        if self.reliable {
            self.on_ack(now, header, session);
            if self.state != LinkState::Up {
                return;
            }
            if header.flags & frame::flags::POLL != 0 {
                // The sender's window is full: it waits for this Ack.
                self.arq.ack_due = true;
            }
            if self.arq.on_data(header.seq) != Arrival::InOrder {
                bump(&mut self.stats.frames_dropped, 1);
                return;
            }
            self.arq.owe_ack(now, self.window, self.config.ack_delay);
        } else if header.seq != self.arq.expected {
            return self.fail(now, LinkError::FrameLost, session);
        }
        self.arq.delivered();
        self.delivering = Some(0);
        self.deliver(now, session);
    }

    /// Hand the session the rest of the frame being delivered; false if it
    /// stopped short (its trace queue is full).
    fn deliver<S: Storage>(&mut self, now: Instant, session: &mut Session<S>) -> bool {
        let Some(offset) = self.delivering else {
            return true;
        };
        let (used, left) = match self.decoder.frame() {
            Some((_, body)) => {
                let rest = body.get(offset..).unwrap_or(&[]);
                let used = session.handle_input(now, rest);
                (used, rest.len() - used)
            }
            None => (0, 0),
        };
        bump(&mut self.stats.session_bytes_received, used);
        if left == 0 {
            self.delivering = None;
            true
        } else {
            self.delivering = Some(offset + used);
            false
        }
    }

    /// The link failed: end the session and wait for a restart.
    fn fail<S: Storage>(&mut self, now: Instant, e: LinkError, session: &mut Session<S>) {
        if self.state == LinkState::Down {
            return;
        }
        #[cfg(feature = "log")]
        log::warn!("braid: link down: {e}");
        #[cfg(feature = "defmt")]
        defmt::warn!("braid: link down: {}", e);
        session.handle_link_error(now, e);
        self.state = LinkState::Down;
        self.delivering = None;
        self.arq.reset();
        self.down = Some(e);
        self.events |= evbit::DOWN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArrayStorage, Config};

    /// `const`: a link can initialise a `static` on a microcontroller.
    const FAIL_STOP: Link<80, 1> = Link::new(LinkConfig::fail_stop(1));

    #[test]
    fn is_const_and_its_memory_is_its_buffers() {
        let link = FAIL_STOP;
        assert_eq!(link.state(), LinkState::Syncing);
        // Receive buffer + one retransmission slot per window frame + state.
        assert!(core::mem::size_of::<Link<80, 1>>() <= 80 * 2 + 320);
        assert!(core::mem::size_of::<Link<136, 8>>() <= 136 * 9 + 320);
    }

    #[test]
    fn two_links_sync_and_carry_a_session() {
        let now = Instant::ZERO;
        let mut a = LinkedSession::<_, 136, 4>::new(
            LinkConfig::reliable(1),
            Session::new(Config::client(), ArrayStorage::<2, 512, 512>::new(), now),
        );
        let mut b = LinkedSession::<_, 136, 4>::new(
            LinkConfig::reliable(2),
            Session::new(Config::server(), ArrayStorage::<2, 512, 512>::new(), now),
        );
        let mut wire = [0u8; 512];
        let mut pump = |a: &mut LinkedSession<_, 136, 4>, b: &mut LinkedSession<_, 136, 4>| {
            for _ in 0..8 {
                let n = a.poll_transmit(now, &mut wire);
                assert_eq!(b.handle_input(now, &wire[..n]), n);
                let n = b.poll_transmit(now, &mut wire);
                assert_eq!(a.handle_input(now, &wire[..n]), n);
            }
        };
        pump(&mut a, &mut b);
        assert_eq!(a.link().state(), LinkState::Up);
        assert_eq!(a.link().peer_id(), Some(LinkId { epoch: 2, session: 0 }));
        assert_eq!(a.poll_event(), Some(crate::Event::Connected));
        let id = a.session_mut().open().unwrap();
        a.session_mut().write(id, &[9u8; 300]).unwrap();
        a.session_mut().finish(id).unwrap();
        // Too small an output buffer: nothing written, the need reported.
        assert_eq!(a.poll_transmit(now, &mut [0u8; 10]), 0);
        assert!(a.link().transmit_needed() > 10);
        assert!(a.link().transmit_needed() <= Link::<136, 4>::max_frame_wire_len());
        pump(&mut a, &mut b);
        let got = b.session_mut().accept().unwrap();
        let mut buf = [0u8; 512];
        let mut read = 0;
        for _ in 0..4 {
            while let Ok(n) = b.session_mut().read(got, &mut buf) {
                if n == 0 {
                    break;
                }
                assert!(buf[..n].iter().all(|&x| x == 9));
                read += n;
            }
            pump(&mut a, &mut b);
        }
        assert_eq!(read, 300);
        // b acknowledges the last frames after its ack delay (spec.md
        // [S-14.17]), a timer that poll_timeout includes.
        let later = now + LinkConfig::reliable(2).ack_delay;
        assert!(b.poll_timeout().is_some_and(|t| t <= later));
        b.handle_timeout(later);
        let n = b.poll_transmit(later, &mut wire);
        assert!(n > 0);
        assert_eq!(a.handle_input(later, &wire[..n]), n);
        assert_eq!(a.link().unacknowledged(), 0);
    }

    /// Delayed acknowledgements (spec.md [S-14.17]) on one link fed by
    /// hand: half the window, the ack delay, a discarded frame, a POLL.
    #[test]
    fn acknowledgements_are_batched_by_count_and_delay() {
        let t0 = Instant::from_millis(1000);
        let delay = Duration::from_millis(10);
        let mut link = Link::<136, 8>::new(LinkConfig::reliable(1).with_ack_delay(delay));
        let mut session = Session::new(Config::server(), ArrayStorage::<2, 512, 512>::new(), t0);
        let mut out = [0u8; 1024];
        // Bring the link up by hand: answer its SYNC with an echo.
        let _ = link.poll_transmit(t0, &mut out, &mut session);
        let peer = LinkId { epoch: 9, session: 0 };
        let body = SyncBody {
            version: frame::VERSION,
            reply: false,
            reliable: true,
            id: peer,
            echo: Some(link.local_id()),
            mtu: 136,
            window: 8,
        };
        let frame_of = |header: Header, body: &[u8]| {
            let mut w = [0u8; 300];
            let n = encode(header, body, &mut w).unwrap();
            w[..n].to_vec()
        };
        let sync = frame_of(Header::new(Kind::Sync, 0, 0, 0), &body.to_bytes());
        assert_eq!(link.handle_input(t0, &sync, &mut session), sync.len());
        assert_eq!(link.state(), LinkState::Up);
        // Its first DATA frame (the session's preface and SETTINGS); the
        // peer's preface and SETTINGS (Seq 0), answered by a SETTINGS ACK
        // (a DATA frame carrying the Ack); acknowledge both so that only
        // acknowledgements remain to be sent.
        assert!(link.poll_transmit(t0, &mut out, &mut session) > 0);
        let hello = frame_of(Header::new(Kind::Data, 0, 1, 0), b"BRAID\r\n\x01\0\0\0\x40\0\0\0\0");
        assert_eq!(link.handle_input(t0, &hello, &mut session), hello.len());
        assert!(link.poll_transmit(t0, &mut out, &mut session) > 0);
        let ack = frame_of(Header::new(Kind::Ack, 0, 2, 0), &[]);
        assert_eq!(link.handle_input(t0, &ack, &mut session), ack.len());
        assert_eq!(link.poll_transmit(t0, &mut out, &mut session), 0);
        assert_eq!(link.unacknowledged(), 0);
        // DATA bodies the session takes without answering: PING ACKs that
        // match no PING (spec.md §11.2).
        let pong = |n: u8| [0u8, 0, 8, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n];
        let mut seq = 1u8;
        let send = |link: &mut Link<136, 8>, session: &mut Session<_>, now, seq: &mut u8, flags| {
            let f = frame_of(Header::new(Kind::Data, *seq, 1, flags), &pong(*seq));
            *seq = (*seq + 1) % 16;
            assert_eq!(link.handle_input(now, &f, session), f.len());
        };
        let acks = |link: &mut Link<136, 8>, session: &mut Session<_>, now, out: &mut [u8]| {
            let n = link.poll_transmit(now, out, session);
            let mut acks = 0;
            for part in out[..n].split(|&b| b == 0).filter(|p| !p.is_empty()) {
                let mut buf = [0u8; 300];
                let (h, _) = frame::decode(part, &mut buf).unwrap();
                assert_eq!(h.kind, Kind::Ack, "only acknowledgements");
                acks += 1;
            }
            acks
        };
        // Window 8: every 4th accepted frame is acknowledged at once.
        for round in 0..2 {
            for i in 0..4 {
                send(&mut link, &mut session, t0, &mut seq, 0);
                let want = usize::from(i == 3);
                assert_eq!(acks(&mut link, &mut session, t0, &mut out), want, "round {round}, frame {i}");
            }
        }
        // One frame: nothing until the delay has passed, a timer that
        // poll_timeout names.
        send(&mut link, &mut session, t0, &mut seq, 0);
        assert_eq!(acks(&mut link, &mut session, t0, &mut out), 0);
        assert_eq!(link.poll_timeout(&session).map(|t| t <= t0 + delay), Some(true));
        let early = t0 + Duration::from_millis(9);
        link.handle_timeout(early, &mut session);
        assert_eq!(acks(&mut link, &mut session, early, &mut out), 0);
        link.handle_timeout(t0 + delay, &mut session);
        assert_eq!(acks(&mut link, &mut session, t0 + delay, &mut out), 1);
        // A POLL is answered at once.
        send(&mut link, &mut session, t0 + delay, &mut seq, frame::flags::POLL);
        assert_eq!(acks(&mut link, &mut session, t0 + delay, &mut out), 1);
        // A duplicate is answered at once.
        seq -= 1;
        send(&mut link, &mut session, t0 + delay, &mut seq, 0);
        assert_eq!(acks(&mut link, &mut session, t0 + delay, &mut out), 1);
        assert_eq!(link.stats().frames_dropped, 1);
    }
}
