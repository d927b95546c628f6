//! futures-io bindings (feature `futures-io`): `AsyncRead` / `AsyncWrite` on
//! streams and their halves, and [`FuturesIo`], a [`Transport`] over any
//! futures-io pipe.
//!
//! They live here rather than in a runtime adapter because of the orphan
//! rule: a crate that owns neither the trait nor the type cannot join them.
//! futures-io is a trait-only crate, so the feature brings in no runtime.

use crate::driver::Transport;
use crate::stream::{ReadHalf, Stream, WriteHalf};
use futures_io::{AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Reads as [`Stream::poll_read`]: cancellation-safe, `Ok(0)` at the peer's FIN.
impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Stream::poll_read(&self, cx, buf)
    }
}

/// Writes as [`Stream::poll_write`]; `poll_close` is [`Stream::poll_shutdown`]:
/// a half-close (FIN after the data written), reads go on.
impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Stream::poll_write(&self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Stream::poll_flush(&self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Stream::poll_shutdown(&self, cx)
    }
}

/// Reads as [`Stream::poll_read`].
impl AsyncRead for ReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        ReadHalf::poll_read(&self, cx, buf)
    }
}

/// Writes as [`Stream::poll_write`]; `poll_close` is the half-close.
impl AsyncWrite for WriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        WriteHalf::poll_write(&self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        WriteHalf::poll_flush(&self, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        WriteHalf::poll_shutdown(&self, cx)
    }
}

/// Any futures-io `AsyncRead + AsyncWrite` (smol's `TcpStream` and
/// `UnixStream`, `Async<std::net::TcpStream>`, a TLS stream, an in-memory
/// pipe…) as a braid [`Transport`]. `poll_close` closes its write side once
/// the session's last bytes are written.
///
/// The pipe is pinned on the heap, so it need not be `Unpin`.
pub struct FuturesIo<T> {
    io: Pin<Box<T>>,
}

impl<T> FuturesIo<T> {
    /// Wrap `io`.
    pub fn new(io: T) -> Self {
        FuturesIo { io: Box::pin(io) }
    }
}

impl<T> std::fmt::Debug for FuturesIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FuturesIo")
    }
}

impl<T: AsyncRead + AsyncWrite> Transport for FuturesIo<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.as_mut().poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    //! No runtime: two sessions over an in-memory futures-io pipe, the
    //! drivers and the application polled by hand, the streams used only
    //! through the futures-io traits.

    use super::*;
    use crate::{Config, Session, Timer};
    use braid::{ErrorCode, Role};
    use std::collections::VecDeque;
    use std::future::Future;
    use std::sync::{Arc, Mutex};
    use std::task::Waker;

    /// One direction: bytes, whether its writer closed, the reader's waker.
    type Half = Arc<Mutex<(VecDeque<u8>, bool, Option<Waker>)>>;

    /// One end of an in-memory futures-io pipe.
    struct End {
        rx: Half,
        tx: Half,
    }

    fn pipe() -> (End, End) {
        let (a, b) = (Half::default(), Half::default());
        (End { rx: a.clone(), tx: b.clone() }, End { rx: b, tx: a })
    }

    impl AsyncRead for End {
        fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            let mut rx = self.rx.lock().unwrap();
            if rx.0.is_empty() {
                if rx.1 {
                    return Poll::Ready(Ok(0));
                }
                rx.2 = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = buf.len().min(rx.0.len());
            for (b, x) in buf.iter_mut().zip(rx.0.drain(..n)) {
                *b = x;
            }
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for End {
        fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let mut tx = self.tx.lock().unwrap();
            tx.0.extend(buf);
            if let Some(w) = tx.2.take() {
                w.wake();
            }
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let mut tx = self.tx.lock().unwrap();
            tx.1 = true;
            if let Some(w) = tx.2.take() {
                w.wake();
            }
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

    type Driven = Pin<Box<dyn Future<Output = crate::SessionEnd>>>;

    fn sessions() -> (Session, Session, Vec<Driven>) {
        let (a, b) = pipe();
        let (client, cd) = Session::new(Role::Client, FuturesIo::new(a), Still, &Config::default());
        let (server, sd) = Session::new(Role::Server, FuturesIo::new(b), Still, &Config::default());
        (client, server, vec![Box::pin(cd), Box::pin(sd)])
    }

    /// Poll `f` (and the drivers) by hand until it is ready.
    fn run<T>(drivers: &mut [Driven], mut f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..10_000 {
            for d in drivers.iter_mut() {
                let _ = d.as_mut().poll(&mut cx);
            }
            if let Poll::Ready(v) = f(&mut cx) {
                return v;
            }
        }
        panic!("did not complete");
    }

    fn read_to_end(drivers: &mut [Driven], r: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match run(drivers, |cx| Pin::new(&mut *r).poll_read(cx, &mut buf)) {
                Ok(0) => return Ok(all),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e),
            }
        }
    }

    fn write_all(drivers: &mut [Driven], w: &mut (impl AsyncWrite + Unpin), mut data: &[u8]) {
        while !data.is_empty() {
            let n = run(drivers, |cx| Pin::new(&mut *w).poll_write(cx, data)).unwrap();
            data = &data[n..];
        }
        run(drivers, |cx| Pin::new(&mut *w).poll_flush(cx)).unwrap();
    }

    #[test]
    fn streams_echo_and_half_close_through_the_futures_io_traits() {
        let (client, server, mut drivers) = sessions();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut s = run(&mut drivers, |cx| Pin::new(&mut client.open()).poll(cx)).unwrap();
        write_all(&mut drivers, &mut s, &data);
        run(&mut drivers, |cx| Pin::new(&mut s).poll_close(cx)).unwrap();
        // Writing after the half-close is a broken pipe.
        let e = run(&mut drivers, |cx| Pin::new(&mut s).poll_write(cx, b"x")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);

        let t = run(&mut drivers, |cx| Pin::new(&mut server.accept()).poll(cx)).unwrap();
        let (mut r, mut w) = t.split();
        assert_eq!(read_to_end(&mut drivers, &mut r).unwrap(), data);
        // The other direction is still open: echo it back.
        write_all(&mut drivers, &mut w, &data);
        run(&mut drivers, |cx| Pin::new(&mut w).poll_close(cx)).unwrap();
        assert_eq!(read_to_end(&mut drivers, &mut s).unwrap(), data);
        assert_eq!(run(&mut drivers, |cx| Pin::new(&mut s).poll_read(cx, &mut [0u8; 4])).unwrap(), 0);
    }

    #[test]
    fn a_reset_surfaces_through_the_futures_io_traits() {
        let (client, server, mut drivers) = sessions();
        let mut s = run(&mut drivers, |cx| Pin::new(&mut client.open()).poll(cx)).unwrap();
        write_all(&mut drivers, &mut s, b"hi");
        let t = run(&mut drivers, |cx| Pin::new(&mut server.accept()).poll(cx)).unwrap();
        t.reset(ErrorCode::application(3)).unwrap();
        let e = read_to_end(&mut drivers, &mut s).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(crate::Error::reset_code(&e), Some(ErrorCode::application(3)));
        let e = run(&mut drivers, |cx| Pin::new(&mut s).poll_close(cx)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }
}
