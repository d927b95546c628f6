//! Helpers shared by the integration tests: connected session pairs over a
//! Unix socketpair, TCP loopback and a small in-memory duplex pipe; a gate
//! to silence a driver; a two-thread executor; timeouts on the real clock;
//! test data that shows any lost, duplicated or reordered byte.
#![allow(dead_code)]

use braid_smol::{Config, Driver, Session};
use futures_io::{AsyncRead, AsyncWrite};
use smol::net::unix::UnixStream;
use smol::net::{TcpListener, TcpStream};
use smol::{Executor, Task, Timer};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Run a test body to completion on this thread; fail it if it takes more
/// than a minute (a hang becomes a failure, not a stuck test run).
pub fn run<T>(fut: impl Future<Output = T>) -> T {
    smol::block_on(async {
        timeout(Duration::from_secs(60), fut).await.expect("the test timed out after 60 s")
    })
}

/// `fut`'s output, or `None` if `after` passes first.
pub async fn timeout<T>(after: Duration, fut: impl Future<Output = T>) -> Option<T> {
    smol::future::or(async { Some(fut.await) }, async {
        Timer::after(after).await;
        None
    })
    .await
}

/// Sleep on the real clock.
pub async fn sleep(d: Duration) {
    Timer::after(d).await;
}

/// A two-thread executor, for tests that want their tasks and drivers to
/// run in parallel (smol's global executor has one thread by default).
pub fn pool() -> &'static Executor<'static> {
    static POOL: OnceLock<Executor<'static>> = OnceLock::new();
    static STARTED: std::sync::Once = std::sync::Once::new();
    let ex: &'static Executor<'static> = POOL.get_or_init(Executor::new);
    STARTED.call_once(|| {
        for n in 0..2 {
            std::thread::Builder::new()
                .name(format!("pool-{n}"))
                .spawn(move || smol::block_on(ex.run(smol::future::pending::<()>())))
                .expect("spawn a pool thread");
        }
    });
    ex
}

/// Byte `offset` of stream `seed`'s test data.
pub fn pattern(seed: u32, offset: u64) -> u8 {
    let x = (offset ^ (u64::from(seed) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8 ^ (offset >> 8) as u8
}

/// `len` bytes of stream `seed`'s test data from `offset`.
pub fn pattern_bytes(seed: u32, offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern(seed, offset + i)).collect()
}

/// Check that `data` is stream `seed`'s test data from `offset`.
pub fn check_pattern(seed: u32, offset: u64, data: &[u8]) {
    if let Some(i) = data.iter().enumerate().position(|(i, b)| *b != pattern(seed, offset + i as u64)) {
        panic!("stream {seed}: byte {} differs", offset + i as u64);
    }
}

/// A client and a server session over a Unix socketpair, drivers spawned
/// on smol's global executor by `braid_smol::client` / `server`.
pub fn unix_pair(client: Config, server: Config) -> (Session, Session) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    (braid_smol::client(a, client), braid_smol::server(b, server))
}

/// A client and a server session over a real TCP loopback connection.
pub async fn tcp_pair(client: Config, server: Config) -> (Session, Session) {
    let (a, b) = tcp_sockets().await;
    (braid_smol::client(a, client), braid_smol::server(b, server))
}

/// A client and a server session over TCP loopback whose drivers run on
/// the two-thread [`pool`] (the `*_with_driver` constructors).
pub async fn pool_tcp_pair(client: Config, server: Config) -> (Session, Session) {
    let (a, b) = tcp_sockets().await;
    let (client, cd) = braid_smol::client_with_driver(a, client);
    let (server, sd) = braid_smol::server_with_driver(b, server);
    pool().spawn(cd).detach();
    pool().spawn(sd).detach();
    (client, server)
}

/// Both ends of one TCP loopback connection.
pub async fn tcp_sockets() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let (connected, accepted) = smol::future::zip(TcpStream::connect(addr), listener.accept()).await;
    let a = connected.expect("connect");
    let (b, _) = accepted.expect("accept");
    a.set_nodelay(true).expect("nodelay");
    b.set_nodelay(true).expect("nodelay");
    (a, b)
}

/// A client and a server session over an in-memory [`duplex`] pipe that
/// holds at most `capacity` bytes each way.
pub fn duplex_pair(capacity: usize, client: Config, server: Config) -> (Session, Session) {
    let (a, b) = duplex(capacity);
    (braid_smol::client(a, client), braid_smol::server(b, server))
}

/// A client session with its driver spawned, and a server session whose
/// driver runs behind a [`Gate`] (so the test can silence it).
pub fn gated_pair(client: Config, server: Config) -> (Session, Session, Gate) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    gated(a, b, client, server)
}

/// [`gated_pair`] over the two ends `a` (client) and `b` (server).
pub fn gated<T>(a: T, b: T, client: Config, server: Config) -> (Session, Session, Gate)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let client = braid_smol::client(a, client);
    let (server, driver) = braid_smol::server_with_driver(b, server);
    let gate = Gate::default();
    smol::spawn(gate.guard(driver)).detach();
    (client, server, gate)
}

#[derive(Default)]
struct GateState {
    closed: bool,
    dropped: bool,
    waker: Option<Waker>,
}

/// Stops a future from being polled while closed (its transport stays
/// open: the peer sees silence, not an end), or drops it.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<GateState>>);

impl Gate {
    /// Stop polling the guarded future.
    pub fn close(&self) {
        self.0.lock().unwrap().closed = true;
    }

    /// Poll it again.
    pub fn open(&self) {
        let mut s = self.0.lock().unwrap();
        s.closed = false;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }

    /// Drop the guarded future (for a driver: its transport closes).
    pub fn drop_it(&self) {
        let mut s = self.0.lock().unwrap();
        s.dropped = true;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }

    /// `fut` behind this gate.
    pub fn guard<T: AsyncRead + AsyncWrite>(&self, fut: Driver<T>) -> Gated<T> {
        Gated { gate: self.clone(), fut: Some(fut) }
    }
}

/// A driver behind a [`Gate`].
pub struct Gated<T> {
    gate: Gate,
    fut: Option<Driver<T>>,
}

impl<T: AsyncRead + AsyncWrite> Future for Gated<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut s = self.gate.0.lock().unwrap();
            if s.dropped {
                drop(s);
                self.fut = None;
                return Poll::Ready(());
            }
            s.waker = Some(cx.waker().clone());
            if s.closed {
                return Poll::Pending;
            }
        }
        match self.fut.as_mut() {
            Some(f) => Pin::new(f).poll(cx).map(|_| ()),
            None => Poll::Ready(()),
        }
    }
}

/// Server side of the echo used by several tests: every accepted stream
/// is copied back and then closed (FIN). Dropping the task stops it.
pub fn spawn_echo(server: Session) -> Task<()> {
    smol::spawn(async move {
        while let Ok(stream) = server.accept().await {
            smol::spawn(async move {
                use smol::io::AsyncWriteExt;
                let (r, mut w) = stream.split();
                if smol::io::copy(r, &mut w).await.is_ok() {
                    let _ = w.close().await;
                }
            })
            .detach();
        }
    })
}

/// One direction of a [`duplex`]: bytes, whether the writer closed, and
/// the tasks waiting to read and to write.
#[derive(Default)]
struct Channel {
    buf: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// One end of an in-memory, bounded, futures-io duplex pipe (like
/// `tokio::io::duplex`): writes wait while `capacity` bytes are unread,
/// `poll_close` is the end of input for the other end, and dropping an end
/// closes both of its directions.
pub struct DuplexEnd {
    rx: Arc<Mutex<Channel>>,
    tx: Arc<Mutex<Channel>>,
    capacity: usize,
}

/// Two connected [`DuplexEnd`]s.
pub fn duplex(capacity: usize) -> (DuplexEnd, DuplexEnd) {
    let (a, b) = (Arc::new(Mutex::new(Channel::default())), Arc::new(Mutex::new(Channel::default())));
    (DuplexEnd { rx: a.clone(), tx: b.clone(), capacity }, DuplexEnd { rx: b, tx: a, capacity })
}

impl AsyncRead for DuplexEnd {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut ch = self.rx.lock().unwrap();
        if ch.buf.is_empty() {
            if ch.closed {
                return Poll::Ready(Ok(0));
            }
            ch.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(ch.buf.len());
        for (b, x) in buf.iter_mut().zip(ch.buf.drain(..n)) {
            *b = x;
        }
        if let Some(w) = ch.writer.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for DuplexEnd {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut ch = self.tx.lock().unwrap();
        if ch.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = self.capacity - ch.buf.len();
        if room == 0 {
            ch.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        ch.buf.extend(&buf[..n]);
        if let Some(w) = ch.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut ch = self.tx.lock().unwrap();
        ch.closed = true;
        if let Some(w) = ch.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexEnd {
    fn drop(&mut self) {
        for ch in [&self.tx, &self.rx] {
            let mut ch = ch.lock().unwrap();
            ch.closed = true;
            for w in [ch.reader.take(), ch.writer.take()].into_iter().flatten() {
                w.wake();
            }
        }
    }
}

/// Spawn `fut` on the two-thread [`pool`] or on smol's global executor.
pub fn spawn_on<T: Send + 'static>(on_pool: bool, fut: impl Future<Output = T> + Send + 'static) -> Task<T> {
    if on_pool {
        pool().spawn(fut)
    } else {
        smol::spawn(fut)
    }
}
