//! Unit tests: no runtime at all — two sessions over an in-memory pipe,
//! their drivers and application futures polled by hand.

use crate::{Config, Error, Session, StreamMetadata, Timer, Transport};
use braid::{ErrorCode, Role};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// One direction of an in-memory pipe: bytes and whether the writer closed.
type Half = Arc<Mutex<(VecDeque<u8>, bool)>>;

struct Pipe {
    rx: Half,
    tx: Half,
}

fn pipe() -> (Pipe, Pipe) {
    let (a, b) = (Half::default(), Half::default());
    (Pipe { rx: a.clone(), tx: b.clone() }, Pipe { rx: b, tx: a })
}

impl Transport for Pipe {
    fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut rx = self.rx.lock().unwrap();
        if rx.0.is_empty() {
            return if rx.1 { Poll::Ready(Ok(0)) } else { Poll::Pending };
        }
        let n = buf.len().min(rx.0.len());
        for (b, x) in buf.iter_mut().zip(rx.0.drain(..n)) {
            *b = x;
        }
        Poll::Ready(Ok(n))
    }
    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.tx.lock().unwrap().0.extend(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tx.lock().unwrap().1 = true;
        Poll::Ready(Ok(()))
    }
}

/// A clock that stands still and a timer that never fires.
struct Still;

impl Timer for Still {
    fn now() -> std::time::Instant {
        static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        *EPOCH.get_or_init(std::time::Instant::now)
    }
    fn poll_sleep_until(&mut self, _cx: &mut Context<'_>, _deadline: std::time::Instant) -> Poll<()> {
        Poll::Pending
    }
}

/// A driver, type-erased.
type Driven = Pin<Box<dyn Future<Output = crate::SessionEnd>>>;

/// Poll `fut` (and both drivers) by hand until it completes.
fn run<T>(drivers: &mut [Driven], fut: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = std::pin::pin!(fut);
    for _ in 0..10_000 {
        for d in drivers.iter_mut() {
            let _ = d.as_mut().poll(&mut cx);
        }
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("did not complete");
}

fn sessions() -> (Session, Session, Vec<Driven>) {
    let (a, b) = pipe();
    let (client, cd) = Session::new(Role::Client, a, Still, &Config::default());
    let (server, sd) = Session::new(Role::Server, b, Still, &Config::default());
    (client, server, vec![Box::pin(cd), Box::pin(sd)])
}

fn read_all(stream: &crate::Stream) -> impl Future<Output = io::Result<Vec<u8>>> + '_ {
    let mut out = Vec::new();
    std::future::poll_fn(move |cx| {
        let mut buf = [0u8; 1000];
        loop {
            match stream.poll_read(cx, &mut buf) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(std::mem::take(&mut out))),
                Poll::Ready(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
}

#[test]
fn a_stream_crosses_an_in_memory_pipe_without_a_runtime() {
    let (client, server, mut drivers) = sessions();
    let stream = run(&mut drivers, client.open_with(7, [("k", "v")])).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(stream.poll_write(&mut cx, b"hello"), Poll::Ready(Ok(5))));
    stream.finish().unwrap();
    let incoming = run(&mut drivers, server.accept()).unwrap();
    assert_eq!(incoming.metadata(), Some(&StreamMetadata::new(7).with_header("k", "v")));
    assert_eq!(run(&mut drivers, read_all(&incoming)).unwrap(), b"hello");

    incoming.reset(ErrorCode::application(3)).unwrap();
    let e = run(&mut drivers, read_all(&stream)).unwrap_err();
    assert_eq!(Error::reset_code(&e), Some(ErrorCode::application(3)));
    assert!(run(&mut drivers, client.ping()).is_ok());

    let end = run(&mut drivers, client.close());
    assert!(end.is_graceful(), "{end}");
    assert!(run(&mut drivers, server.closed()).is_graceful());
}

#[test]
fn metadata_round_trips_and_rejects_bad_headers() {
    let m = StreamMetadata::new(9).with_header("path", "/a").with_header("x", "");
    let block = m.encode().unwrap();
    assert_eq!(StreamMetadata::parse(&block).unwrap(), m);
    assert_eq!(m.header("path"), Some(&b"/a"[..]));
    assert_eq!(StreamMetadata::new(1).with_header("", "v").encode(), Err(Error::MetadataMalformed));
    assert_eq!(StreamMetadata::new(1).with_header([b'n'; 256], "v").encode(), Err(Error::MetadataMalformed));
    assert_eq!(StreamMetadata::parse(&[0, 0]), Err(Error::MetadataMalformed));
}

#[test]
fn errors_map_to_io_kinds() {
    use io::ErrorKind as K;
    let kind = |e: Error| io::Error::from(e).kind();
    assert_eq!(kind(Error::Reset { code: ErrorCode::CANCEL, remote: true }), K::ConnectionReset);
    assert_eq!(kind(Error::Reset { code: ErrorCode::REFUSED, remote: true }), K::ConnectionRefused);
    assert_eq!(kind(Error::GoingAway), K::ConnectionRefused);
    assert_eq!(kind(Error::SessionClosed(None)), K::NotConnected);
    assert_eq!(Error::SessionClosed(None).into_write_io().kind(), K::BrokenPipe);
    assert_eq!(kind(Error::Finished), K::BrokenPipe);
    assert_eq!(kind(Error::ReservedCode), K::InvalidInput);
    let e = io::Error::from(Error::Reset { code: ErrorCode::application(5), remote: false });
    assert_eq!(Error::reset_code(&e), Some(ErrorCode::application(5)));
    assert_eq!(Error::from_io(&io::Error::other("x")), None);
}

#[test]
fn config_sizes_the_storage_for_the_largest_window() {
    let c = Config::default().stream_window(1000).stream_window_max(50_000).max_streams(7);
    let (streams, rx, tx) = c.storage_limits();
    assert_eq!(streams, 7);
    assert_eq!(rx, 50_000 + 1024);
    assert_eq!(tx, 256 * 1024);
    assert_eq!(c.engine_for(Role::Server).role, Role::Server);
    assert!(!c.engine_for(Role::Client).trace);
    assert!(c.clone().trace(true).engine_for(Role::Client).trace);
    assert_eq!(Config::default().write_buffer(1).buffers().1, 80 * 1024);
}
