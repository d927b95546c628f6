//! Session life: GOAWAY with streams in flight, graceful close, keepalive
//! and idle timeout on the real clock (short timeouts: smol has no paused
//! clock), transport ends and errors, pings.

mod common;

use braid_smol::{Config, Error, ErrorCode, LocalError, SessionState};
use common::{duplex, gated_pair, pool, run, sleep, tcp_pair, timeout, unix_pair};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use std::io::ErrorKind;
use std::time::{Duration, Instant};

#[test]
fn go_away_lets_streams_in_flight_finish_and_refuses_new_ones() {
    run(async {
        let (client, server, gate) = gated_pair(Config::default(), Config::default());
        // Two streams in flight, each half-way through an exchange.
        let mut a = client.open().await.unwrap();
        let mut b = client.open().await.unwrap();
        a.write_all(b"a1").await.unwrap();
        b.write_all(b"b1").await.unwrap();
        let mut sa = server.accept().await.unwrap();
        let mut sb = server.accept().await.unwrap();
        let mut two = [0u8; 2];
        sa.read_exact(&mut two).await.unwrap();
        sb.read_exact(&mut two).await.unwrap();

        // A third stream's SYN is on the wire when the server goes away: it
        // was never processed, so it is refused with REFUSED (safe to retry).
        gate.close();
        let mut c = client.open().await.unwrap();
        c.write_all(b"c1").await.unwrap();
        sleep(Duration::from_millis(20)).await; // the client's driver sends it
        server.go_away_with(ErrorCode::NO_ERROR, b"maintenance").unwrap();
        gate.open();
        let e = c.read(&mut two).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        assert_eq!(Error::from_io(&e), Some(&Error::Reset { code: ErrorCode::REFUSED, remote: true }));

        // No new streams on either side.
        assert_eq!(server.open().await.unwrap_err(), Error::GoingAway);
        assert_eq!(client.open().await.unwrap_err(), Error::GoingAway);
        assert_eq!(std::io::Error::from(Error::GoingAway).kind(), ErrorKind::ConnectionRefused);
        assert_eq!(client.state(), SessionState::Draining);

        // The streams in flight finish normally.
        for (mine, theirs, tag) in [(&mut a, &mut sa, b'a'), (&mut b, &mut sb, b'b')] {
            mine.write_all(&[tag, b'2']).await.unwrap();
            mine.close().await.unwrap();
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, [tag, b'2']);
            theirs.write_all(b"done").await.unwrap();
            theirs.close().await.unwrap();
            let mut got = Vec::new();
            mine.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"done");
        }
        drop((a, b, c, sa, sb));

        // Then the session ends, gracefully, on both sides.
        let end = timeout(Duration::from_secs(5), client.closed()).await.expect("client ended");
        assert!(end.is_graceful(), "{end}");
        assert_eq!(end.remote(), Some(ErrorCode::NO_ERROR));
        assert_eq!(end.remote_debug, b"maintenance");
        let end = timeout(Duration::from_secs(5), server.closed()).await.expect("server ended");
        assert_eq!(end.local(), Some(LocalError::GoAway(ErrorCode::NO_ERROR)));
        assert!(end.is_graceful(), "{end}");
    });
}

#[test]
fn go_away_with_an_error_code_ends_the_session_at_once() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut s = client.open().await.unwrap();
        s.write_all(b"x").await.unwrap();
        let _incoming = server.accept().await.unwrap();
        server.go_away_with(ErrorCode::application(9), b"bye").unwrap();
        let end = client.closed().await;
        assert_eq!(end.remote(), Some(ErrorCode::application(9)));
        assert_eq!(end.remote_debug, b"bye");
        assert!(!end.is_graceful());
        let e = s.read(&mut [0u8; 4]).await.unwrap_err();
        assert_eq!(Error::reset_code(&e), Some(ErrorCode::application(9)));
        assert!(matches!(client.open().await, Err(Error::SessionClosed(_) | Error::GoingAway)));
        assert!(matches!(client.accept().await, Err(Error::SessionClosed(_))));
    });
}

#[test]
fn graceful_close_waits_for_open_streams() {
    run(async {
        let (client, server) = tcp_pair(Config::default(), Config::default()).await;
        let mut s = client.open().await.unwrap();
        s.write_all(b"last words").await.unwrap();
        let mut incoming = server.accept().await.unwrap();
        let closing = smol::spawn({
            let client = client.clone();
            async move { client.close().await }
        });
        sleep(Duration::from_millis(20)).await;
        assert!(!closing.is_finished(), "close waits for the open stream");
        s.close().await.unwrap();
        let mut got = Vec::new();
        incoming.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        incoming.close().await.unwrap();
        assert_eq!(s.read(&mut [0u8; 1]).await.unwrap(), 0);
        drop((s, incoming));
        let end = timeout(Duration::from_secs(5), closing).await.expect("closed");
        // Either this side finished its drain first, or the peer did and
        // closed the transport (the engine reports that as a transport end).
        assert!(
            matches!(end.local(), Some(LocalError::GoAway(ErrorCode::NO_ERROR) | LocalError::TransportEof)),
            "{end}"
        );
        assert!(end.is_graceful(), "{end}");
        assert!(server.closed().await.is_graceful());
    });
}

#[test]
fn a_silent_peer_ends_the_session_with_an_idle_timeout() {
    run(async {
        let idle = Config::default().idle_timeout(Some(Duration::from_millis(200)));
        let (client, server, gate) = gated_pair(idle.clone(), idle);
        assert!(client.ping().await.is_ok());
        // The server stops answering but keeps the transport open.
        gate.close();
        let started = Instant::now();
        let end = client.closed().await;
        assert_eq!(end.local(), Some(LocalError::IdleTimeout), "{end}");
        let waited = started.elapsed();
        // 200 ms after the last frame received (the PING's answer, just
        // before `started`); keepalive PINGs at 100 ms went unanswered.
        assert!(waited >= Duration::from_millis(150) && waited <= Duration::from_secs(1), "{waited:?}");
        assert!(client.stats().frames_sent >= 1);
        assert!(matches!(client.ping().await, Err(Error::SessionClosed(_))));
        drop(server);
    });
}

/// A peer that stopped reading cannot keep a closed session's driver (and
/// `closed()`) waiting for ever: after the close timeout it gives up.
#[test]
fn a_peer_that_never_reads_cannot_hold_the_close() {
    run(async {
        let config = Config::default().close_timeout(Duration::from_millis(300));
        let (a, b) = duplex(64 * 1024);
        let (client, server, gate) = common::gated(a, b, config.clone(), config);
        assert!(client.ping().await.is_ok());
        gate.close();
        // More than the pipe holds: the rest waits in the client's buffers.
        let mut streams = Vec::new();
        for seed in 0..3 {
            let mut s = client.open().await.unwrap();
            s.write_all(&common::pattern_bytes(seed, 0, 200 * 1024)).await.unwrap();
            streams.push(s);
        }
        sleep(Duration::from_millis(10)).await;
        let started = Instant::now();
        client.close_now();
        let end = timeout(Duration::from_secs(10), client.closed())
            .await
            .expect("the close timeout ends the driver");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(250) && waited <= Duration::from_millis(1500), "{waited:?}");
        let e = end.transport_error.as_ref().expect("a transport error says why");
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{end}");
        assert!(!end.is_graceful());
        drop((streams, server));
    });
}

#[test]
fn keepalive_keeps_an_idle_session_open() {
    run(async {
        let idle = Config::default().idle_timeout(Some(Duration::from_millis(200)));
        let (client, server) = unix_pair(idle.clone(), idle);
        let mut s = client.open().await.unwrap();
        s.write_all(b"hi").await.unwrap();
        let mut incoming = server.accept().await.unwrap();
        // A second of silence from the application (five idle timeouts):
        // keepalive PINGs flow.
        sleep(Duration::from_secs(1)).await;
        assert_eq!(client.state(), SessionState::Open);
        assert_eq!(server.state(), SessionState::Open);
        let mut two = [0u8; 2];
        incoming.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"hi");
        assert!(client.stats().frames_received > 5, "{:?}", client.stats());
        assert!(client.end().is_none() && server.end().is_none());
    });
}

#[test]
fn a_peer_that_never_speaks_fails_the_handshake() {
    run(async {
        let (a, _b) = smol::net::unix::UnixStream::pair().unwrap();
        let mut config = Config::default();
        config.engine_mut().handshake_timeout = Duration::from_millis(200).into();
        let client = braid_smol::client(a, config);
        let started = Instant::now();
        let e = client.open().await.unwrap_err();
        assert!(
            matches!(e, Error::SessionClosed(Some(r)) if r.local == Some(LocalError::HandshakeTimeout)),
            "{e}"
        );
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150) && waited <= Duration::from_secs(1), "{waited:?}");
    });
}

#[test]
fn the_peer_closing_the_transport_ends_the_session() {
    run(async {
        let (client, server, gate) = gated_pair(Config::default(), Config::default());
        let mut s = client.open().await.unwrap();
        s.write_all(b"x").await.unwrap();
        let mut incoming = server.accept().await.unwrap();
        incoming.write_all(b"kept").await.unwrap();
        assert_eq!(client.ping().await.map(|_| ()), Ok(()));
        // The server's driver (and so its end of the socket) goes away.
        gate.drop_it();
        let end = client.closed().await;
        assert_eq!(end.local(), Some(LocalError::TransportEof), "{end}");
        assert!(end.transport_error.is_none());
        // Data that arrived stays readable; then the stream reports the end.
        let mut four = [0u8; 4];
        s.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"kept");
        let e = s.read(&mut four).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConnected);
        assert_eq!(s.write(b"y").await.unwrap_err().kind(), ErrorKind::BrokenPipe);
        // The server side learns its driver was dropped.
        let end = server.closed().await;
        assert!(end.transport_error.is_some(), "{end}");
        let e = incoming.write_all(b"z").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn ping_measures_a_round_trip_and_concurrent_pings_all_complete() {
    run(async {
        let (client, server) = tcp_pair(Config::default(), Config::default()).await;
        let rtt = client.ping().await.unwrap();
        assert!(rtt < Duration::from_secs(1));
        let ((a, b), c) =
            smol::future::zip(smol::future::zip(client.ping(), client.ping()), server.ping()).await;
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert!(client.rtt().is_some());
    });
}

#[test]
fn dropping_every_handle_closes_the_session() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut s = client.open().await.unwrap();
        s.write_all(b"x").await.unwrap();
        let watcher = server.clone();
        let mut incoming = server.accept().await.unwrap();
        drop(server);
        drop(client);
        // Streams still held carry on.
        s.close().await.unwrap();
        let mut got = Vec::new();
        incoming.read_to_end(&mut got).await.unwrap();
        incoming.close().await.unwrap();
        assert_eq!(s.read(&mut [0u8; 1]).await.unwrap(), 0);
        drop((s, incoming));
        let end = timeout(Duration::from_secs(5), watcher.closed()).await.expect("ended");
        assert!(end.is_graceful(), "{end}");
    });
}

#[test]
fn reading_never_waits_behind_writing() {
    run(async {
        // A tiny pipe that is full all the time, both ways at once: each
        // driver must keep reading while its own writes wait, or both stall.
        let (a, b) = duplex(2048);
        let (client, cd) = braid_smol::client_with_driver(a, Config::default());
        let (server, sd) = braid_smol::server_with_driver(b, Config::default());
        pool().spawn(cd).detach();
        pool().spawn(sd).detach();
        const LEN: usize = 8 << 20;
        let mut s = client.open().await.unwrap();
        s.write_all(b"hi").await.unwrap();
        let mut t = server.accept().await.unwrap();
        let mut two = [0u8; 2];
        t.read_exact(&mut two).await.unwrap();
        let exchange = |stream: braid_smol::Stream, seed: u32| async move {
            let (mut r, mut w) = stream.split();
            let writer = pool().spawn(async move {
                let data = common::pattern_bytes(seed, 0, LEN);
                w.write_all(&data).await.unwrap();
                w.close().await.unwrap();
                w
            });
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            (got, writer.await)
        };
        let pinger = pool().spawn({
            let client = client.clone();
            async move {
                let mut n = 0;
                while client.ping().await.is_ok() && n < 20 {
                    n += 1;
                }
                n
            }
        });
        let both = smol::future::zip(exchange(s, 1), exchange(t, 2));
        let ((got_s, _), (got_t, _)) = timeout(Duration::from_secs(50), both).await.expect("stalled");
        assert_eq!(got_s.len(), LEN);
        assert_eq!(got_t.len(), LEN);
        common::check_pattern(2, 0, &got_s);
        common::check_pattern(1, 0, &got_t);
        assert_eq!(pinger.await, 20, "pings answered while the pipe was full");
    });
}

/// A pipe whose reads fail with an error once `fail` is set.
struct Failing {
    inner: common::DuplexEnd,
    fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
    waker: std::sync::Arc<std::sync::Mutex<Option<std::task::Waker>>>,
}

impl futures_io::AsyncRead for Failing {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return std::task::Poll::Ready(Err(std::io::Error::new(ErrorKind::ConnectionReset, "cable cut")));
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for Failing {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[test]
fn a_transport_error_ends_the_session_with_that_error() {
    run(async {
        let (a, b) = duplex(64 * 1024);
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = std::sync::Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
        let io = Failing { inner: a, fail: fail.clone(), waker: waker.clone() };
        let client = braid_smol::client(io, Config::default());
        let _server = braid_smol::server(b, Config::default());
        let mut s = client.open().await.unwrap();
        s.write_all(b"x").await.unwrap();
        client.ping().await.unwrap();
        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(w) = waker.lock().unwrap().take() {
            w.wake();
        }
        let end = client.closed().await;
        assert_eq!(end.local(), Some(LocalError::TransportEof));
        let e = end.transport_error.as_ref().expect("the transport's error");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert!(!end.is_graceful());
        assert!(end.to_string().contains("cable cut"), "{end}");
        assert_eq!(s.write(b"y").await.unwrap_err().kind(), ErrorKind::BrokenPipe);
    });
}
