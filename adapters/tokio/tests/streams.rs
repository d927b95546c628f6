//! Streams carry data correctly: many at once, half-closed either way,
//! typed with metadata, over `tokio::io::duplex` and real TCP.

mod common;

use braid_tokio::{Config, Reply, Session, StreamMetadata};
use common::{check_pattern, duplex_pair, pattern_bytes, spawn_echo, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `n` streams at once, each sending its own data (sizes vary up to
/// 300 KB) to an echo server and checking the echo byte for byte.
async fn many_streams(client: Session, server: Session, n: u32) {
    let echo = spawn_echo(server.clone());
    let mut tasks = Vec::new();
    for seed in 0..n {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let len = 1000 + (seed as usize * 7919) % 300_000;
            let stream = client.open().await.expect("open");
            let (mut r, mut w) = stream.into_split();
            let writer = tokio::spawn(async move {
                let data = pattern_bytes(seed, 0, len);
                for chunk in data.chunks(7 * 1024 + 13) {
                    w.write_all(chunk).await.expect("write");
                }
                w.shutdown().await.expect("shutdown");
            });
            let mut got = Vec::with_capacity(len);
            r.read_to_end(&mut got).await.expect("read");
            assert_eq!(got.len(), len, "stream {seed}: length");
            check_pattern(seed, 0, &got);
            writer.await.expect("writer");
        }));
    }
    for t in tasks {
        t.await.expect("stream task");
    }
    // Every stream is over on both sides: their slots are free again.
    let _ = client.ping().await;
    assert_eq!(client.inspect(|s| s.streams_in_use()), 0);
    assert_eq!(server.inspect(|s| s.streams_in_use()), 0);
    echo.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_streams_over_duplex() {
    let (client, server) = duplex_pair(Config::default(), Config::default());
    many_streams(client, server, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_streams_over_tcp() {
    let (client, server) = tcp_pair(Config::default(), Config::default()).await;
    many_streams(client, server, 100).await;
}

#[tokio::test]
async fn hundred_concurrent_streams_on_one_thread_with_small_windows() {
    let small = || Config::default().stream_window(4096).stream_window_max(4096).session_window(16384, 16384);
    let (client, server) = duplex_pair(small(), small());
    many_streams(client, server, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_transfer_over_tcp_arrives_intact() {
    let (client, server) = tcp_pair(Config::default(), Config::default()).await;
    const LEN: usize = 32 << 20;
    let reader = tokio::spawn(async move {
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
    stream.shutdown().await.expect("shutdown");
    assert_eq!(reader.await.expect("reader"), LEN as u64);
    let stats = client.stats();
    assert_eq!(stats.data_sent, LEN as u64);
}

#[tokio::test]
async fn half_close_from_the_opener_then_the_acceptor_answers() {
    let (client, server) = duplex_pair(Config::default(), Config::default());
    let mut stream = client.open().await.unwrap();
    stream.write_all(b"request").await.unwrap();
    stream.shutdown().await.unwrap();
    // Writing after shutdown is a broken pipe.
    let e = stream.write_all(b"more").await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);

    let mut incoming = server.accept().await.unwrap();
    let mut request = Vec::new();
    incoming.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    // The other direction is still open.
    incoming.write_all(b"response").await.unwrap();
    incoming.shutdown().await.unwrap();

    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert_eq!(response, b"response");
    // The end of a stream stays the end.
    assert_eq!(stream.read(&mut [0u8; 8]).await.unwrap(), 0);
}

#[tokio::test]
async fn half_close_from_the_acceptor_while_the_opener_keeps_writing() {
    let (client, server) = duplex_pair(Config::default(), Config::default());
    let mut stream = client.open().await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut incoming = server.accept().await.unwrap();
    incoming.write_all(b"bye").await.unwrap();
    incoming.shutdown().await.unwrap();

    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");
    // The opener's direction is unaffected by the acceptor's FIN.
    let big = pattern_bytes(9, 0, 1 << 20);
    let writer = tokio::spawn(async move {
        stream.write_all(&big).await.unwrap();
        stream.shutdown().await.unwrap();
        stream
    });
    let mut all = Vec::new();
    incoming.read_to_end(&mut all).await.unwrap();
    assert_eq!(&all[..5], b"hello");
    assert_eq!(all.len(), 5 + (1 << 20));
    check_pattern(9, 0, &all[5..]);
    drop(writer.await.unwrap());
}

#[tokio::test]
async fn typed_streams_carry_metadata_and_replies() {
    let (client, server) = duplex_pair(Config::default(), Config::default());
    let mut stream = client.open_with(7, [("path", "/telemetry"), ("v", "2")]).await.unwrap();
    stream.write_all(b"x").await.unwrap();

    let mut incoming = server
        .accept_with(|meta| match meta {
            Some(m) if m.stream_type == 7 => {
                Reply::AcceptWith(StreamMetadata::new(70).with_header("ok", "yes"))
            }
            _ => Reply::Refuse(braid::ErrorCode::application(1)),
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
    let accepting = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .accept_with(|m| match m {
                    Some(m) if m.stream_type == 7 => Reply::Accept,
                    _ => Reply::Refuse(braid::ErrorCode::application(1)),
                })
                .await
        }
    });
    let e = other.read(&mut one).await.unwrap_err();
    assert_eq!(braid_tokio::Error::reset_code(&e), Some(braid::ErrorCode::application(1)));
    assert_eq!(other.reset_code(), Some(braid::ErrorCode::application(1)));
    accepting.abort();
}

#[tokio::test]
async fn frame_trace_reaches_the_callback() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let frames = Arc::new(AtomicUsize::new(0));
    let seen = frames.clone();
    let traced = Config::default().label("traced").trace_with(move |label, record| {
        assert_eq!(label, "traced");
        assert!(!record.to_string().is_empty());
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let (client, server) = duplex_pair(traced, Config::default());
    let echo = spawn_echo(server);
    let mut s = client.open().await.unwrap();
    s.write_all(&[5u8; 100_000]).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), 100_000);
    // Preface, SETTINGS, ACK, SYN, DATA..., FIN, WNDINCs: both ways.
    assert!(frames.load(Ordering::Relaxed) >= 10, "{} frames traced", frames.load(Ordering::Relaxed));
    echo.abort();
}

#[tokio::test]
async fn open_waits_for_stream_credit() {
    let server_config = Config::default().max_inbound_streams(Some(2));
    let (client, server) = duplex_pair(Config::default(), server_config);
    let mut a = client.open().await.unwrap();
    let b = client.open().await.unwrap();
    a.write_all(b"a").await.unwrap();
    let mut sa = server.accept().await.unwrap();
    let _sb = server.accept().await.unwrap();
    // No credit left: the third open waits.
    let third = tokio::spawn({
        let client = client.clone();
        async move { client.open().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(!third.is_finished(), "opened beyond the peer's credit");
    // Stream a ends both ways: its slot and credit come back.
    a.shutdown().await.unwrap();
    let mut v = Vec::new();
    sa.read_to_end(&mut v).await.unwrap();
    sa.shutdown().await.unwrap();
    assert_eq!(a.read(&mut [0u8; 1]).await.unwrap(), 0);
    drop((a, sa));
    let c = tokio::time::timeout(std::time::Duration::from_secs(5), third).await.unwrap().unwrap().unwrap();
    assert_eq!(c.id().0, 5);
    drop(b);
}
