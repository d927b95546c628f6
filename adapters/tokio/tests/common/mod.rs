//! Helpers shared by the integration tests: connected session pairs over
//! `tokio::io::duplex` and TCP loopback, a gate to silence a driver, and
//! test data that shows any lost, duplicated or reordered byte.
#![allow(dead_code)]

use braid_tokio::{Config, Driver, Session};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

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

/// A client and a server session joined by an in-memory pipe, drivers spawned.
pub fn duplex_pair(client: Config, server: Config) -> (Session, Session) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    (Session::client(a, client), Session::server(b, server))
}

/// A client and a server session over a real TCP loopback connection.
pub async fn tcp_pair(client: Config, server: Config) -> (Session, Session) {
    let (a, b) = tcp_sockets().await;
    (Session::client(a, client), Session::server(b, server))
}

/// Both ends of one TCP loopback connection.
pub async fn tcp_sockets() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let (connected, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let a = connected.expect("connect");
    let (b, _) = accepted.expect("accept");
    a.set_nodelay(true).expect("nodelay");
    b.set_nodelay(true).expect("nodelay");
    (a, b)
}

/// A client session with its driver spawned, and a server session whose
/// driver runs behind a [`Gate`] (so the test can silence it).
pub fn gated_pair(client: Config, server: Config) -> (Session, Session, Gate) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let client = Session::client(a, client);
    let (server, driver) = Session::server_with_driver(b, server);
    let gate = Gate::default();
    tokio::spawn(gate.guard(driver));
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
    pub fn guard<T: AsyncRead + AsyncWrite + Send + 'static>(&self, fut: Driver<T>) -> Gated<T> {
        Gated { gate: self.clone(), fut: Some(fut) }
    }
}

/// A driver behind a [`Gate`].
pub struct Gated<T> {
    gate: Gate,
    fut: Option<Driver<T>>,
}

impl<T: AsyncRead + AsyncWrite + Send + 'static> Future for Gated<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut s = self.gate.0.lock().unwrap();
            if s.dropped {
                drop(s);
                self.fut = None;
                return Poll::Ready(());
            }
            if s.closed {
                s.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            s.waker = Some(cx.waker().clone());
        }
        match self.fut.as_mut() {
            Some(f) => Pin::new(f).poll(cx).map(|_| ()),
            None => Poll::Ready(()),
        }
    }
}

/// Server side of the echo used by several tests: every accepted stream
/// is copied back and then finished.
pub fn spawn_echo(server: Session) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(stream) = server.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let (mut r, mut w) = stream.into_split();
                if tokio::io::copy(&mut r, &mut w).await.is_ok() {
                    let _ = w.shutdown().await;
                }
            });
        }
    })
}

/// Open a stream on `session`, send `len` bytes of pattern `seed` and a
/// FIN while reading, and check that exactly the same come back (the peer
/// echoes).
pub async fn echo_checked(session: &Session, seed: u32, len: usize) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = session.open().await?;
    let (mut r, mut w) = stream.into_split();
    let data = pattern_bytes(seed, 0, len);
    let writer = tokio::spawn(async move {
        w.write_all(&data).await?;
        w.shutdown().await
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await?;
    writer.await.expect("writer task")?;
    assert_eq!(back.len(), len, "stream {seed}: echo length");
    check_pattern(seed, 0, &back);
    Ok(())
}
