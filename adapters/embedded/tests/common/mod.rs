//! Test harness: a virtual clock with timers, an in-memory pipe (async and
//! blocking embedded-io, optionally noisy), and a tiny executor that polls
//! only woken tasks and advances virtual time when every task waits.
#![allow(dead_code)]

use braid::Instant;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

// ----- time ----------------------------------------------------------------

/// Virtual time: advanced by the executor when every task waits.
#[derive(Clone, Default)]
pub struct VirtualTime(Rc<TimeInner>);

#[derive(Default)]
pub struct TimeInner {
    now: Cell<u64>,
    timers: RefCell<Vec<(u64, Waker)>>,
}

impl VirtualTime {
    pub fn micros(&self) -> u64 {
        self.0.now.get()
    }

    pub fn advance(&self, by: u64) {
        self.0.now.set(self.0.now.get() + by);
        self.fire();
    }

    /// Jump to the earliest timer and wake it; false if there is none.
    fn jump(&self) -> bool {
        let next = self.0.timers.borrow().iter().map(|t| t.0).min();
        match next {
            Some(t) => {
                if t > self.0.now.get() {
                    self.0.now.set(t);
                }
                self.fire();
                true
            }
            None => false,
        }
    }

    fn fire(&self) {
        let now = self.0.now.get();
        let due: Vec<Waker> = {
            let mut timers = self.0.timers.borrow_mut();
            let (due, rest): (Vec<_>, Vec<_>) = timers.drain(..).partition(|t| t.0 <= now);
            *timers = rest;
            due.into_iter().map(|t| t.1).collect()
        };
        for w in due {
            w.wake();
        }
    }
}

impl braid_embedded::Clock for VirtualTime {
    fn now(&self) -> Instant {
        Instant::from_micros(self.0.now.get())
    }
}

impl braid_embedded::Timer for VirtualTime {
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let t = self.clone();
        std::future::poll_fn(move |cx| {
            if t.0.now.get() >= deadline.as_micros() {
                Poll::Ready(())
            } else {
                t.0.timers.borrow_mut().push((deadline.as_micros(), cx.waker().clone()));
                Poll::Pending
            }
        })
    }
}

// ----- a noisy in-memory pipe ----------------------------------------------------

/// Line noise: per byte written, with probability 1/`one_in`, drop it,
/// flip one of its bits, or add a random byte after it.
#[derive(Clone)]
pub struct Noise {
    pub on: Rc<Cell<bool>>,
    pub one_in: u64,
    rng: Rc<Cell<u64>>,
    pub hits: Rc<Cell<u64>>,
}

impl Noise {
    pub fn new(seed: u64, one_in: u64) -> Self {
        Noise {
            on: Rc::new(Cell::new(true)),
            one_in,
            rng: Rc::new(Cell::new(seed | 1)),
            hits: Rc::new(Cell::new(0)),
        }
    }

    fn next(&self) -> u64 {
        // xorshift64*
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn apply(&self, byte: u8, out: &mut VecDeque<u8>) {
        if !self.on.get() || !self.next().is_multiple_of(self.one_in) {
            out.push_back(byte);
            return;
        }
        self.hits.set(self.hits.get() + 1);
        match self.next() % 3 {
            0 => {}
            1 => out.push_back(byte ^ (1 << (self.next() % 8))),
            _ => {
                out.push_back(byte);
                out.push_back(self.next() as u8);
            }
        }
    }
}

/// One direction of the pipe.
#[derive(Default)]
pub struct Channel {
    buf: RefCell<VecDeque<u8>>,
    capacity: Cell<usize>,
    closed: Cell<bool>,
    reader: RefCell<Option<Waker>>,
    writer: RefCell<Option<Waker>>,
}

/// The reading end of a channel.
pub struct Rx(Rc<Channel>);
/// The writing end of a channel; dropping it is the end of input.
pub struct Tx(Rc<Channel>, Option<Noise>);

impl Drop for Tx {
    fn drop(&mut self) {
        self.0.closed.set(true);
        if let Some(w) = self.0.reader.borrow_mut().take() {
            w.wake();
        }
    }
}

/// A channel of at most `capacity` buffered bytes (TCP-like backpressure).
pub fn channel(capacity: usize, noise: Option<Noise>) -> (Tx, Rx) {
    let ch = Rc::new(Channel::default());
    ch.capacity.set(capacity);
    (Tx(ch.clone(), noise), Rx(ch))
}

/// Two channels: (a's rx, a's tx), (b's rx, b's tx).
pub fn pipe(capacity: usize, noise: Option<Noise>) -> ((Rx, Tx), (Rx, Tx)) {
    let (a_tx, b_rx) = channel(capacity, noise.clone());
    let (b_tx, a_rx) = channel(capacity, noise);
    ((a_rx, a_tx), (b_rx, b_tx))
}

impl Rx {
    fn take(&self, buf: &mut [u8]) -> usize {
        let mut q = self.0.buf.borrow_mut();
        let n = buf.len().min(q.len());
        for b in &mut buf[..n] {
            *b = q.pop_front().unwrap();
        }
        if n > 0 {
            if let Some(w) = self.0.writer.borrow_mut().take() {
                w.wake();
            }
        }
        n
    }
}

impl Tx {
    fn put(&self, buf: &[u8]) -> usize {
        let mut q = self.0.buf.borrow_mut();
        let n = buf.len().min(self.0.capacity.get().saturating_sub(q.len()));
        for &b in &buf[..n] {
            match &self.1 {
                Some(noise) => noise.apply(b, &mut q),
                None => q.push_back(b),
            }
        }
        if n > 0 {
            if let Some(w) = self.0.reader.borrow_mut().take() {
                w.wake();
            }
        }
        n
    }
}

impl embedded_io::ErrorType for Rx {
    type Error = Infallible;
}
impl embedded_io::ErrorType for Tx {
    type Error = Infallible;
}

impl embedded_io_async::Read for Rx {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        std::future::poll_fn(|cx| {
            let n = self.take(buf);
            if n > 0 || buf.is_empty() || self.0.closed.get() {
                Poll::Ready(Ok(n))
            } else {
                *self.0.reader.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl embedded_io_async::Write for Tx {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        std::future::poll_fn(|cx| {
            let n = self.put(buf);
            if n > 0 || buf.is_empty() {
                Poll::Ready(Ok(n))
            } else {
                *self.0.writer.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Both ends of one side, as a blocking embedded-io pipe (writes never
/// block: the channel's capacity is ignored).
pub struct Blocking(pub Rx, pub Tx);

impl embedded_io::ErrorType for Blocking {
    type Error = Infallible;
}

impl embedded_io::Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.0.take(buf))
    }
}

impl embedded_io::ReadReady for Blocking {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.0 .0.buf.borrow().is_empty())
    }
}

impl embedded_io::Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.1 .0.capacity.set(usize::MAX);
        Ok(self.1.put(buf))
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

// ----- the executor ----------------------------------------------------------

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A boxed task borrowed from the test.
pub type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Run `tasks` until the ones marked `must_finish` complete; the others
/// (runners) are dropped then. Only woken tasks are polled, so a lost
/// wake-up shows as a stall. When no task is woken, virtual time jumps to
/// the next timer; it panics past `limit_s` seconds of virtual time.
pub fn run(time: &VirtualTime, limit_s: u64, tasks: Vec<(Task<'_>, bool)>) {
    let mut tasks: Vec<(Option<Task<'_>>, bool, Arc<Flag>)> =
        tasks.into_iter().map(|(t, must)| (Some(t), must, Arc::new(Flag(AtomicBool::new(true))))).collect();
    loop {
        let mut polled = false;
        for (task, _, flag) in &mut tasks {
            if task.is_some() && flag.0.swap(false, Ordering::SeqCst) {
                polled = true;
                let waker = Waker::from(flag.clone());
                let mut cx = Context::from_waker(&waker);
                if task.as_mut().unwrap().as_mut().poll(&mut cx).is_ready() {
                    *task = None;
                }
            }
        }
        if tasks.iter().all(|(t, must, _)| t.is_none() || !must) {
            return;
        }
        if !polled {
            assert!(time.jump(), "stalled: no task woken and no timer pending");
            assert!(time.micros() <= limit_s * 1_000_000, "virtual time limit of {limit_s} s passed");
        }
    }
}

/// Deterministic test data for stream `i`.
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
