//! Two sessions joined in memory on a virtual clock: the harness for tests,
//! simulations, benchmarks and the engine demo. No allocation: each
//! direction has a fixed wire buffer of `W` bytes.

use crate::{Config, Instant, Session, Storage};

/// Bytes written by one side and not yet consumed by the other.
struct Wire<const W: usize> {
    buf: [u8; W],
    start: usize,
    end: usize,
}

impl<const W: usize> Wire<W> {
    const fn new() -> Self {
        Wire { buf: [0; W], start: 0, end: 0 }
    }

    /// Fill from `from` if empty, then feed up to `chunk` bytes at a time
    /// into `to` while it consumes. Returns the bytes `to` consumed.
    fn pump<A: Storage, B: Storage>(
        &mut self,
        now: Instant,
        from: &mut Session<A>,
        to: &mut Session<B>,
        chunk: usize,
    ) -> usize {
        let mut moved = 0;
        loop {
            if self.start == self.end {
                self.start = 0;
                self.end = from.poll_transmit(now, &mut self.buf);
                if self.end == 0 {
                    return moved;
                }
            }
            let stop = self.end.min(self.start + chunk.max(1));
            let used = to.handle_input(now, &self.buf[self.start..stop]);
            self.start += used;
            moved += used;
            if used == 0 {
                return moved;
            }
        }
    }
}

/// A client and a server session joined by two in-memory wires.
///
/// [`Pair::step`] moves bytes both ways until neither side has more to send
/// (or one stops consuming because its trace queue is full). Events, traces
/// and timeouts stay in the sessions for the caller to poll.
///
/// ```
/// use braid::{pair::Pair, ArrayStorage, Config, Event};
///
/// let mut pair = Pair::<_, _>::new(
///     Config::client(), ArrayStorage::<4, 512, 512>::new(),
///     Config::server(), ArrayStorage::<4, 512, 512>::new(),
/// );
/// pair.step();
/// assert_eq!(pair.client.poll_event(), Some(Event::Connected));
/// let id = pair.client.open().unwrap();
/// pair.client.write(id, b"ping").unwrap();
/// pair.step();
/// let _ = pair.server.poll_event(); // Connected
/// assert_eq!(pair.server.poll_event(), Some(Event::Incoming));
/// ```
pub struct Pair<A: Storage, B: Storage, const W: usize = 16384> {
    /// The client side (odd stream ids).
    pub client: Session<A>,
    /// The server side (even stream ids).
    pub server: Session<B>,
    /// The virtual clock, passed to every call.
    pub now: Instant,
    /// Most bytes handed to `handle_input` at once (1 feeds byte by byte).
    pub chunk: usize,
    to_server: Wire<W>,
    to_client: Wire<W>,
}

impl<A: Storage, B: Storage, const W: usize> Pair<A, B, W> {
    /// Two sessions at time zero. `client` and `server` should carry the
    /// matching roles.
    pub fn new(client: Config, client_storage: A, server: Config, server_storage: B) -> Self {
        let now = Instant::ZERO;
        Pair {
            client: Session::new(client, client_storage, now),
            server: Session::new(server, server_storage, now),
            now,
            chunk: usize::MAX,
            to_server: Wire::new(),
            to_client: Wire::new(),
        }
    }

    /// Move bytes both ways until both sides are quiet; returns the bytes
    /// moved.
    pub fn step(&mut self) -> usize {
        let mut total = 0;
        loop {
            let a = self.to_server.pump(self.now, &mut self.client, &mut self.server, self.chunk);
            let b = self.to_client.pump(self.now, &mut self.server, &mut self.client, self.chunk);
            total += a + b;
            if a + b == 0 {
                return total;
            }
        }
    }

    /// Advance the clock and fire both sides' due timers.
    pub fn advance(&mut self, by: crate::Duration) {
        self.now += by;
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            self.client.handle_timeout(self.now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
    }

    /// Bytes written by one side that the other has not consumed yet.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        (self.to_server.end - self.to_server.start) + (self.to_client.end - self.to_client.start)
    }
}
