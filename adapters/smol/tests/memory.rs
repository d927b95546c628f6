//! Memory stays bounded: a slow reader is held back by its window, and ten
//! thousand idle streams cost only their state once buffers are trimmed.

mod common;

use braid_smol::{Config, Session};
use common::{check_pattern, pattern_bytes, pool, pool_tcp_pair, run, sleep, tcp_pair, unix_pair};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use std::time::{Duration, Instant};

const WINDOW: u32 = 256 * 1024;

async fn slow_reader(client: Session, server: Session) {
    const LEN: usize = 6 << 20;
    let data = pattern_bytes(5, 0, LEN);
    let writer = pool().spawn(async move {
        let mut s = client.open().await.unwrap();
        for chunk in data.chunks(64 * 1024) {
            s.write_all(chunk).await.unwrap();
            let info = s.info().unwrap();
            assert!(info.unsent <= 256 * 1024, "unsent {} over the send buffer", info.unsent);
        }
        s.close().await.unwrap();
        (client, s)
    });
    let mut incoming = server.accept().await.unwrap();
    // The reader stalls: the peer fills exactly one window and stops.
    for _ in 0..200 {
        if incoming.info().unwrap().readable > 0 {
            break;
        }
        sleep(Duration::from_millis(10)).await;
    }
    sleep(Duration::from_millis(100)).await;
    let info = incoming.info().unwrap();
    assert_eq!(info.recv_window_size, WINDOW);
    assert!(info.readable <= WINDOW as usize && info.readable > 0, "{info:?}");
    assert!(server.buffer_bytes() <= 2 * WINDOW as usize, "{} bytes buffered", server.buffer_bytes());

    // Now it reads slowly; the buffered bytes never exceed the window.
    let mut buf = vec![0u8; 16 * 1024];
    let mut at = 0u64;
    let mut reads = 0u32;
    loop {
        if let Some(info) = incoming.info() {
            assert!(info.readable <= info.recv_window_size as usize, "{info:?}");
            assert!(server.buffer_bytes() <= 2 * info.recv_window_size as usize + 64 * 1024);
        }
        let n = incoming.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        check_pattern(5, at, &buf[..n]);
        at += n as u64;
        reads += 1;
        if reads.is_multiple_of(8) {
            sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(at, LEN as u64);
    let (_client, _s) = writer.await;
}

#[test]
fn a_slow_reader_is_bounded_by_its_window_over_a_unix_socketpair() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        slow_reader(client, server).await;
    });
}

#[test]
fn a_slow_reader_is_bounded_by_its_window_over_tcp() {
    run(async {
        let (client, server) = tcp_pair(Config::default(), Config::default()).await;
        slow_reader(client, server).await;
    });
}

#[test]
fn ten_thousand_streams_on_one_session() {
    run(async {
        const N: usize = 10_000;
        // The client keeps few slots for streams the server might open; the
        // server grants the client credit for all of them.
        let client_config = Config::default().max_streams(N + 100).max_inbound_streams(Some(10));
        let server_config = Config::default().max_streams(N + 100).max_inbound_streams(Some(N as u32 + 50));
        let (client, server) = pool_tcp_pair(client_config, server_config).await;
        let started = Instant::now();

        let acceptor = pool().spawn({
            let server = server.clone();
            async move {
                let mut streams = Vec::with_capacity(N);
                for _ in 0..N {
                    let mut s = server.accept().await.unwrap();
                    let mut hello = [0u8; 8];
                    s.read_exact(&mut hello).await.unwrap();
                    s.write_all(&hello).await.unwrap();
                    streams.push(s);
                }
                streams
            }
        });
        let mut streams = Vec::with_capacity(N);
        for i in 0..N as u64 {
            let mut s = client.open().await.unwrap();
            s.write_all(&i.to_be_bytes()).await.unwrap();
            streams.push(s);
        }
        for (i, s) in streams.iter_mut().enumerate() {
            let mut echo = [0u8; 8];
            s.read_exact(&mut echo).await.unwrap();
            assert_eq!(u64::from_be_bytes(echo), i as u64);
        }
        let accepted = acceptor.await;
        assert_eq!(client.inspect(|s| s.streams_in_use()), N);
        assert_eq!(server.inspect(|s| s.streams_in_use()), N);

        // Every stream is idle and still open: trimmed, their buffers are gone.
        client.trim_buffers();
        server.trim_buffers();
        assert_eq!(client.buffer_bytes(), 0);
        assert_eq!(server.buffer_bytes(), 0);
        // And they still work.
        let (mut first, mut last) = (streams.swap_remove(0), streams.pop().unwrap());
        first.write_all(b"again").await.unwrap();
        last.write_all(b"again").await.unwrap();
        eprintln!("10k streams opened, exchanged, trimmed in {:?}", started.elapsed());
        drop((accepted, streams, first, last));
    });
}

#[test]
fn the_driver_trims_idle_buffers_by_itself() {
    run(async {
        let quick = || Config::default().trim_interval(Duration::from_millis(100));
        let (client, server) = unix_pair(quick(), quick());
        let mut streams = Vec::new();
        for _ in 0..100 {
            let mut s = client.open().await.unwrap();
            s.write_all(&[1u8; 10_000]).await.unwrap();
            let mut t = server.accept().await.unwrap();
            let mut buf = vec![0u8; 10_000];
            t.read_exact(&mut buf).await.unwrap();
            streams.push((s, t));
        }
        assert!(server.buffer_bytes() > 0);
        // A trim interval after the last activity (and some slack for it to run).
        sleep(Duration::from_millis(600)).await;
        assert_eq!(server.buffer_bytes(), 0);
        assert_eq!(client.buffer_bytes(), 0);
    });
}
