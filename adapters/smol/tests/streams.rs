//! Streams carry data correctly: many at once, half-closed either way,
//! typed with metadata, over a Unix socketpair, real TCP, an in-memory
//! pipe and `Async<std::net::TcpStream>` on a local executor.

mod common;

use braid_smol::{Config, Error, ErrorCode, Reply, Session, StreamMetadata};
use common::{
    check_pattern, pattern_bytes, pool_tcp_pair, run, sleep, spawn_echo, spawn_on, tcp_pair, timeout,
    unix_pair,
};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use std::time::Duration;

/// `n` streams at once, each sending its own data (sizes vary up to
/// 300 KB) to an echo server and checking the echo byte for byte. Tasks
/// run on the two-thread pool when `on_pool`, else on smol's global
/// executor.
async fn many_streams(client: Session, server: Session, n: u32, on_pool: bool) {
    let echo = spawn_echo(server.clone());
    let mut tasks = Vec::new();
    for seed in 0..n {
        let client = client.clone();
        tasks.push(spawn_on(on_pool, async move {
            let len = 1000 + (seed as usize * 7919) % 300_000;
            let stream = client.open().await.expect("open");
            let (mut r, mut w) = stream.split();
            let writer = spawn_on(on_pool, async move {
                let data = pattern_bytes(seed, 0, len);
                for chunk in data.chunks(7 * 1024 + 13) {
                    w.write_all(chunk).await.expect("write");
                }
                w.close().await.expect("close");
            });
            let mut got = Vec::with_capacity(len);
            r.read_to_end(&mut got).await.expect("read");
            assert_eq!(got.len(), len, "stream {seed}: length");
            check_pattern(seed, 0, &got);
            writer.await;
        }));
    }
    for t in tasks {
        t.await;
    }
    // Every stream is over on both sides: their slots are free again.
    let _ = client.ping().await;
    assert_eq!(client.inspect(|s| s.streams_in_use()), 0);
    assert_eq!(server.inspect(|s| s.streams_in_use()), 0);
    drop(echo);
}

#[test]
fn hundred_concurrent_streams_over_a_unix_socketpair() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        many_streams(client, server, 100, false).await;
    });
}

#[test]
fn hundred_concurrent_streams_over_tcp_on_two_threads() {
    run(async {
        let (client, server) = pool_tcp_pair(Config::default(), Config::default()).await;
        many_streams(client, server, 100, true).await;
    });
}

#[test]
fn hundred_concurrent_streams_over_an_in_memory_pipe_with_small_windows() {
    run(async {
        let small =
            || Config::default().stream_window(4096).stream_window_max(4096).session_window(16384, 16384);
        let (client, server) = common::duplex_pair(256 * 1024, small(), small());
        many_streams(client, server, 100, false).await;
    });
}

#[test]
fn bulk_transfer_over_tcp_arrives_intact() {
    run(async {
        let (client, server) = pool_tcp_pair(Config::default(), Config::default()).await;
        const LEN: usize = 32 << 20;
        let reader = common::pool().spawn(async move {
            let mut stream = server.accept().await.expect("accept");
            let mut buf = vec![0u8; 64 * 1024];
            let mut at = 0u64;
            loop {
                let n = stream.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                check_pattern(1, at, &buf[..n]);
                at += n as u64;
            }
            at
        });
        let mut stream = client.open().await.expect("open");
        let data = pattern_bytes(1, 0, LEN);
        for chunk in data.chunks(64 * 1024) {
            stream.write_all(chunk).await.expect("write");
        }
        stream.close().await.expect("close");
        assert_eq!(reader.await, LEN as u64);
        assert_eq!(client.stats().data_sent, LEN as u64);
    });
}

#[test]
fn half_close_from_the_opener_then_the_acceptor_answers() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut stream = client.open().await.unwrap();
        stream.write_all(b"request").await.unwrap();
        stream.close().await.unwrap();
        // Writing after close (the half-close) is a broken pipe.
        let e = stream.write_all(b"more").await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
        assert_eq!(Error::from_io(&e), Some(&Error::Finished));

        let mut incoming = server.accept().await.unwrap();
        let mut request = Vec::new();
        incoming.read_to_end(&mut request).await.unwrap();
        assert_eq!(request, b"request");
        // The other direction is still open.
        incoming.write_all(b"response").await.unwrap();
        incoming.close().await.unwrap();

        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        assert_eq!(response, b"response");
        // The end of a stream stays the end.
        assert_eq!(stream.read(&mut [0u8; 8]).await.unwrap(), 0);
        // Closing twice is fine.
        stream.close().await.unwrap();
    });
}

#[test]
fn half_close_from_the_acceptor_while_the_opener_keeps_writing() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut stream = client.open().await.unwrap();
        stream.write_all(b"hello").await.unwrap();
        let mut incoming = server.accept().await.unwrap();
        incoming.write_all(b"bye").await.unwrap();
        incoming.close().await.unwrap();

        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
        // The opener's direction is unaffected by the acceptor's FIN.
        let big = pattern_bytes(9, 0, 1 << 20);
        let writer = smol::spawn(async move {
            stream.write_all(&big).await.unwrap();
            stream.close().await.unwrap();
            stream
        });
        let mut all = Vec::new();
        incoming.read_to_end(&mut all).await.unwrap();
        assert_eq!(&all[..5], b"hello");
        assert_eq!(all.len(), 5 + (1 << 20));
        check_pattern(9, 0, &all[5..]);
        drop(writer.await);
    });
}

#[test]
fn typed_streams_carry_metadata_and_replies() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut stream = client.open_with(7, [("path", "/telemetry"), ("v", "2")]).await.unwrap();
        stream.write_all(b"x").await.unwrap();

        let mut incoming = server
            .accept_with(|meta| match meta {
                Some(m) if m.stream_type == 7 => {
                    Reply::AcceptWith(StreamMetadata::new(70).with_header("ok", "yes"))
                }
                _ => Reply::Refuse(ErrorCode::application(1)),
            })
            .await
            .unwrap();
        let meta = incoming.metadata().expect("opener's metadata");
        assert_eq!(meta.stream_type, 7);
        assert_eq!(meta.header("path"), Some(&b"/telemetry"[..]));
        assert_eq!(meta.header("v"), Some(&b"2"[..]));
        let mut one = [0u8; 1];
        incoming.read_exact(&mut one).await.unwrap();
        incoming.write_all(b"y").await.unwrap();

        stream.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"y");
        let reply = stream.metadata().expect("acceptor's reply");
        assert_eq!(reply, &StreamMetadata::new(70).with_header("ok", "yes"));

        // A stream of another type is refused with the application's code.
        let mut other = client.open_typed(8).await.unwrap();
        let accepting = smol::spawn({
            let server = server.clone();
            async move {
                server
                    .accept_with(|m| match m {
                        Some(m) if m.stream_type == 7 => Reply::Accept,
                        _ => Reply::Refuse(ErrorCode::application(1)),
                    })
                    .await
            }
        });
        let e = other.read(&mut one).await.unwrap_err();
        assert_eq!(Error::reset_code(&e), Some(ErrorCode::application(1)));
        assert_eq!(other.reset_code(), Some(ErrorCode::application(1)));
        drop(accepting);
    });
}

#[test]
fn frame_trace_reaches_the_callback() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    run(async {
        let frames = Arc::new(AtomicUsize::new(0));
        let seen = frames.clone();
        let traced = Config::default().label("traced").trace_with(move |label, record| {
            assert_eq!(label, "traced");
            assert!(!record.to_string().is_empty());
            seen.fetch_add(1, Ordering::Relaxed);
        });
        let (client, server) = unix_pair(traced, Config::default());
        let echo = spawn_echo(server);
        let mut s = client.open().await.unwrap();
        s.write_all(&[5u8; 100_000]).await.unwrap();
        s.close().await.unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).await.unwrap();
        assert_eq!(back.len(), 100_000);
        // Preface, SETTINGS, ACK, SYN, DATA..., FIN, WNDINCs: both ways.
        assert!(frames.load(Ordering::Relaxed) >= 10, "{} frames traced", frames.load(Ordering::Relaxed));
        drop(echo);
    });
}

#[test]
fn open_waits_for_stream_credit() {
    run(async {
        let server_config = Config::default().max_inbound_streams(Some(2));
        let (client, server) = tcp_pair(Config::default(), server_config).await;
        let mut a = client.open().await.unwrap();
        let b = client.open().await.unwrap();
        a.write_all(b"a").await.unwrap();
        let mut sa = server.accept().await.unwrap();
        let _sb = server.accept().await.unwrap();
        // No credit left: the third open waits.
        let third = smol::spawn({
            let client = client.clone();
            async move { client.open().await }
        });
        sleep(Duration::from_millis(20)).await;
        assert!(!third.is_finished(), "opened beyond the peer's credit");
        // Stream a ends both ways: its slot and credit come back.
        a.close().await.unwrap();
        let mut v = Vec::new();
        sa.read_to_end(&mut v).await.unwrap();
        sa.close().await.unwrap();
        assert_eq!(a.read(&mut [0u8; 1]).await.unwrap(), 0);
        drop((a, sa));
        let c = timeout(Duration::from_secs(5), third).await.expect("credit came back").unwrap();
        assert_eq!(c.id().0, 5);
        drop(b);
    });
}

/// `client_with_driver` / `server_with_driver` on a `LocalExecutor`, over
/// `Async<std::net::TcpStream>`, with a task that is not `Send`.
#[test]
fn a_session_runs_on_a_local_executor_over_async_tcp() {
    use smol::Async;
    use std::cell::Cell;
    use std::net::{TcpListener, TcpStream};
    use std::rc::Rc;
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let (a, b) = smol::future::zip(Async::<TcpStream>::connect(addr), listener.accept()).await;
        let (client, driver) = braid_smol::client_with_driver(a.unwrap(), Config::default());
        ex.spawn(driver).detach();
        let (server, driver) = braid_smol::server_with_driver(b.unwrap().0, Config::default());
        let server_end = ex.spawn(driver);

        let echoed = Rc::new(Cell::new(0u64)); // not Send: a local task
        let echo = ex.spawn({
            let echoed = echoed.clone();
            async move {
                while let Ok(stream) = server.accept().await {
                    let (r, mut w) = stream.split();
                    echoed.set(echoed.get() + smol::io::copy(r, &mut w).await.unwrap());
                    w.close().await.unwrap();
                }
            }
        });
        for seed in 0..3u32 {
            let mut s = client.open().await.unwrap();
            let data = pattern_bytes(seed, 0, 100_000);
            s.write_all(&data).await.unwrap();
            s.close().await.unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).await.unwrap();
            assert_eq!(back.len(), data.len());
            check_pattern(seed, 0, &back);
        }
        assert_eq!(echoed.get(), 300_000);
        let end = client.close().await;
        assert!(end.is_graceful(), "{end}");
        // The server's driver completes too, with how its session ended.
        let end = timeout(Duration::from_secs(5), server_end).await.expect("server driver done");
        assert!(end.is_graceful(), "{end}");
        echo.await;
    }));
}
