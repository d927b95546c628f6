//! Cancellation safety: a `read` future dropped before it completes loses
//! no bytes; a `write` future dropped after `Pending` wrote nothing. Futures
//! are dropped after one poll, or when a timer wins a `future::or` race.

mod common;

use braid_smol::Config;
use common::{check_pattern, pattern_bytes, pool, run, timeout, unix_pair};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::Timer;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Poll `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A small deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `fut`'s output, or `None` when a timer of `micros` fires first (then
/// `fut` is dropped wherever it was).
async fn race<T>(micros: u64, fut: impl Future<Output = T>) -> Option<T> {
    smol::future::or(async { Some(fut.await) }, async {
        Timer::after(Duration::from_micros(micros)).await;
        None
    })
    .await
}

#[test]
fn a_dropped_read_loses_nothing() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
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
        // A read that times out, then is dropped.
        assert!(timeout(Duration::from_millis(5), t.read(&mut buf)).await.is_none());
        s.write_all(b"0123456789").await.unwrap();
        let mut got = [0u8; 10];
        t.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"0123456789");
    });
}

/// The reader of `reads_cancelled_at_random_lose_and_repeat_no_byte` and
/// `reads_raced_against_timers_lose_and_repeat_no_byte`.
async fn cancelled_reads(by_timer: bool) {
    let small = || Config::default().stream_window(8192).stream_window_max(8192);
    let (client, server) = unix_pair(small(), small());
    const LEN: usize = 2 << 20;
    let writer = pool().spawn(async move {
        let mut s = client.open().await.unwrap();
        let data = pattern_bytes(11, 0, LEN);
        for chunk in data.chunks(3000) {
            s.write_all(chunk).await.unwrap();
        }
        s.close().await.unwrap();
        (client, s)
    });
    let mut t = server.accept().await.unwrap();
    let mut at = 0u64;
    let mut buf = vec![0u8; 5000];
    let (mut cancelled, mut i) = (0u32, 0u64);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    loop {
        i += 1;
        let result = if by_timer {
            // Every read races a timer of up to 300 µs.
            race(rng.below(300), t.read(&mut buf)).await
        } else if i.is_multiple_of(2) {
            // Every other read is polled once and dropped if it is pending.
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
                smol::future::yield_now().await;
            }
        }
    }
    assert_eq!(at, LEN as u64);
    assert!(cancelled > 0, "no read was cancelled");
    drop(writer.await);
}

#[test]
fn reads_cancelled_at_random_lose_and_repeat_no_byte() {
    run(cancelled_reads(false));
}

#[test]
fn reads_raced_against_timers_lose_and_repeat_no_byte() {
    run(cancelled_reads(true));
}

#[test]
fn a_write_dropped_after_pending_wrote_nothing() {
    run(async {
        let small = || Config::default().stream_window(4096).stream_window_max(4096).send_buffer(4096);
        let (client, server) = unix_pair(small(), small());
        let mut s = client.open().await.unwrap();
        // Fill the send buffer and the peer's window (the peer reads nothing):
        // until a write stays pending after the driver (on another thread)
        // has had time to send what it could.
        let mut written = 0usize;
        let mut pending = 0;
        while pending < 2 {
            let data = pattern_bytes(12, written as u64, 1000);
            let write = pin!(s.write(&data));
            match poll_once(write) {
                Poll::Ready(r) => {
                    written += r.unwrap();
                    pending = 0;
                    smol::future::yield_now().await;
                }
                Poll::Pending => {
                    // Dropped here.
                    pending += 1;
                    common::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        assert!(written >= 4096, "{written}");
        // One more write that goes pending and is dropped, and one that
        // loses a race with a timer.
        {
            let data = pattern_bytes(99, 0, 1000);
            let write = pin!(s.write(&data));
            assert!(poll_once(write).is_pending());
        }
        assert!(race(5000, s.write(&pattern_bytes(98, 0, 1000))).await.is_none());
        // Then the rest, and the reader checks every byte: the dropped
        // writes left nothing behind.
        let rest = pattern_bytes(12, written as u64, 10_000);
        let sender = smol::spawn(async move {
            s.write_all(&rest).await.unwrap();
            s.close().await.unwrap();
            s
        });
        let mut t = server.accept().await.unwrap();
        let mut all = Vec::new();
        t.read_to_end(&mut all).await.unwrap();
        assert_eq!(all.len(), written + 10_000);
        check_pattern(12, 0, &all);
        drop(sender.await);
    });
}

/// The writer of `writes_cancelled_at_random_write_exactly_what_they_report`
/// and `writes_raced_against_timers_write_exactly_what_they_report`.
async fn cancelled_writes(by_timer: bool) {
    let small = || Config::default().stream_window(8192).stream_window_max(8192).send_buffer(8192);
    let (client, server) = unix_pair(small(), small());
    const LEN: u64 = 2 << 20;
    let reader = pool().spawn(async move {
        let mut t = server.accept().await.unwrap();
        let mut all = Vec::new();
        t.read_to_end(&mut all).await.unwrap();
        check_pattern(13, 0, &all);
        (server, all.len() as u64)
    });
    let mut s = client.open().await.unwrap();
    let (mut at, mut i, mut cancelled) = (0u64, 0u64, 0u32);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    while at < LEN {
        i += 1;
        let data = pattern_bytes(13, at, 7000.min((LEN - at) as usize));
        let result = if by_timer {
            // Every write races a timer of up to 300 µs.
            race(rng.below(300), s.write(&data)).await
        } else if i.is_multiple_of(2) {
            // Every other write is polled once and dropped if it is pending.
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
                smol::future::yield_now().await;
            }
        }
    }
    s.close().await.unwrap();
    let (_server, received) = reader.await;
    assert_eq!(received, LEN);
    assert!(cancelled > 0, "no write was cancelled");
}

#[test]
fn writes_cancelled_at_random_write_exactly_what_they_report() {
    run(cancelled_writes(false));
}

#[test]
fn writes_raced_against_timers_write_exactly_what_they_report() {
    run(cancelled_writes(true));
}
