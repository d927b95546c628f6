//! Cancellation safety: a `read` future dropped before it completes loses
//! no bytes; a `write` future dropped after `Pending` wrote nothing.

mod common;

use braid_tokio::Config;
use common::{check_pattern, duplex_pair, pattern_bytes};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Poll `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn a_dropped_read_loses_nothing() {
    let (client, server) = duplex_pair(Config::default(), Config::default());
    let mut s = client.open().await.unwrap();
    s.write_all(b"open").await.unwrap();
    let mut t = server.accept().await.unwrap();
    let mut four = [0u8; 4];
    t.read_exact(&mut four).await.unwrap();

    // A read that is pending, then dropped.
    let mut buf = [0u8; 64];
    {
        let read = pin!(t.read(&mut buf));
        assert!(poll_once(read).is_pending());
    }
    s.write_all(b"0123456789").await.unwrap();
    // A read that times out, then is dropped, racing the data.
    let _ = tokio::time::timeout(Duration::from_millis(1), t.read(&mut [0u8; 0])).await;
    let mut got = [0u8; 10];
    t.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"0123456789");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_cancelled_at_random_lose_and_repeat_no_byte() {
    let small = || Config::default().stream_window(8192).stream_window_max(8192);
    let (client, server) = duplex_pair(small(), small());
    const LEN: usize = 2 << 20;
    let writer = tokio::spawn(async move {
        let mut s = client.open().await.unwrap();
        let data = pattern_bytes(11, 0, LEN);
        for chunk in data.chunks(3000) {
            s.write_all(chunk).await.unwrap();
        }
        s.shutdown().await.unwrap();
        (client, s)
    });
    let mut t = server.accept().await.unwrap();
    let mut at = 0u64;
    let mut buf = vec![0u8; 5000];
    let (mut cancelled, mut i) = (0u32, 0u64);
    loop {
        i += 1;
        // Every other read is polled once and dropped if it is pending.
        let result = if i.is_multiple_of(2) {
            match poll_once(pin!(t.read(&mut buf))) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            }
        } else {
            Some(t.read(&mut buf).await)
        };
        match result {
            Some(r) => {
                let n = r.unwrap();
                if n == 0 {
                    break;
                }
                check_pattern(11, at, &buf[..n]);
                at += n as u64;
            }
            None => {
                cancelled += 1;
                tokio::task::yield_now().await;
            }
        }
    }
    assert_eq!(at, LEN as u64);
    assert!(cancelled > 0, "no read was cancelled");
    drop(writer.await.unwrap());
}

#[tokio::test]
async fn a_write_dropped_after_pending_wrote_nothing() {
    let small = || Config::default().stream_window(4096).stream_window_max(4096).send_buffer(4096);
    let (client, server) = duplex_pair(small(), small());
    let mut s = client.open().await.unwrap();
    // Fill the send buffer and the peer's window (the peer reads nothing).
    let mut written = 0usize;
    loop {
        let data = pattern_bytes(12, written as u64, 1000);
        let write = pin!(s.write(&data));
        match poll_once(write) {
            Poll::Ready(r) => written += r.unwrap(),
            Poll::Pending => break, // dropped here
        }
        tokio::task::yield_now().await;
    }
    assert!(written >= 4096, "{written}");
    // One more write that goes pending and is dropped.
    {
        let data = pattern_bytes(99, 0, 1000);
        let write = pin!(s.write(&data));
        assert!(poll_once(write).is_pending());
    }
    // Then the rest, and the reader checks every byte: the dropped writes
    // left nothing behind.
    let rest = pattern_bytes(12, written as u64, 10_000);
    let sender = tokio::spawn(async move {
        s.write_all(&rest).await.unwrap();
        s.shutdown().await.unwrap();
        s
    });
    let mut t = server.accept().await.unwrap();
    let mut all = Vec::new();
    t.read_to_end(&mut all).await.unwrap();
    assert_eq!(all.len(), written + 10_000);
    check_pattern(12, 0, &all);
    drop(sender.await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_cancelled_at_random_write_exactly_what_they_report() {
    let small = || Config::default().stream_window(8192).stream_window_max(8192).send_buffer(8192);
    let (client, server) = duplex_pair(small(), small());
    const LEN: u64 = 2 << 20;
    let reader = tokio::spawn(async move {
        let mut t = server.accept().await.unwrap();
        let mut all = Vec::new();
        t.read_to_end(&mut all).await.unwrap();
        check_pattern(13, 0, &all);
        (server, all.len() as u64)
    });
    let mut s = client.open().await.unwrap();
    let (mut at, mut i, mut cancelled) = (0u64, 0u64, 0u32);
    while at < LEN {
        i += 1;
        let data = pattern_bytes(13, at, 7000.min((LEN - at) as usize));
        // Every other write is polled once and dropped if it is pending.
        let result = if i.is_multiple_of(2) {
            match poll_once(pin!(s.write(&data))) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            }
        } else {
            Some(s.write(&data).await)
        };
        match result {
            Some(r) => at += r.unwrap() as u64,
            None => {
                cancelled += 1;
                tokio::task::yield_now().await;
            }
        }
    }
    s.shutdown().await.unwrap();
    let (_server, received) = reader.await.unwrap();
    assert_eq!(received, LEN);
    assert!(cancelled > 0, "no write was cancelled");
}
