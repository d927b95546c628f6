//! `SerialLink` over a real pseudo-terminal pair, the way a host program
//! talks to a serial device or to an emulator's `-serial pty`.
//!
//! A tty's line discipline in its default (cooked) mode echoes input back,
//! translates CR and LF, and acts on bytes such as 0x03 (INTR), 0x04 (EOF),
//! 0x11/0x13 (XON/XOFF) and 0x1A (SUSP). Link frames contain all of them,
//! so both ends of the pty are put in raw mode before any byte moves.
#![cfg(unix)]

mod common;

use braid_tokio::{Config, LinkConfig, SerialLink, SessionEnd};
use common::echo_checked;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::ptr::null_mut;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// One end of a pty, raw and non-blocking, as a tokio byte stream.
struct Tty {
    fd: AsyncFd<File>,
}

impl Tty {
    /// Put `fd` in raw mode and `O_NONBLOCK`, and register it with tokio.
    fn new(fd: OwnedFd) -> io::Result<Tty> {
        make_raw(fd.as_fd())?;
        set_nonblocking(fd.as_fd())?;
        // SAFETY: the `File` owns the fd, so it stays open and the same for
        // as long as the `AsyncFd` holds the `File`.
        Ok(Tty { fd: unsafe { AsyncFd::register(File::from(fd)) }? })
    }
}

impl AsyncRead for Tty {
    /// Read what the tty has; EIO (the master's read once the slave end is
    /// closed) is the end of input.
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            match guard.try_io(|file| file.get_ref().read(buf.initialize_unfilled())) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // WouldBlock: `try_io` cleared the readiness; wait for the next.
                Err(_would_block) => {}
            }
        }
    }
}

impl AsyncWrite for Tty {
    /// Write what the tty takes now.
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|file| file.get_ref().write(buf)) {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(result) => return Poll::Ready(result),
                // WouldBlock: `try_io` cleared the readiness; wait for the next.
                Err(_would_block) => {}
            }
        }
    }

    /// Nothing to flush: `write(2)` hands the bytes to the tty.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// A tty has no half-close; the far end sees the end when this one is
    /// dropped.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A new pty pair, both ends raw: (master, slave).
fn raw_pty() -> io::Result<(Tty, Tty)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds into the ints it is given; the name,
    // termios and window size pointers may be null (none is used).
    let rc = unsafe { libc::openpty(&mut master, &mut slave, null_mut(), null_mut(), null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both are open fds that nothing else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    Ok((Tty::new(master)?, Tty::new(slave)?))
}

/// The terminal attributes of `fd`.
fn termios(fd: BorrowedFd<'_>) -> io::Result<libc::termios> {
    // SAFETY: termios is a plain C struct of integers, for which all zero
    // bytes are a valid value.
    let mut attrs: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `attrs` is a valid termios to fill in.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut attrs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(attrs)
}

/// Put the tty `fd` in raw mode: no echo, no CR/LF translation, no special
/// characters, no flow control, 8-bit bytes.
fn make_raw(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut attrs = termios(fd)?;
    // SAFETY: cfmakeraw only changes the fields of the termios it is given.
    unsafe { libc::cfmakeraw(&mut attrs) };
    // SAFETY: `fd` is open and `attrs` is a valid termios.
    if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &attrs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Set `O_NONBLOCK` on `fd`, as `AsyncFd` needs.
fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL on an open fd takes no argument.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: F_SETFL on an open fd takes the new flags as an int.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `fut`, or a panic naming `what` if it takes longer than 10 s (a safety
/// net against a hang, far above the time the tests take).
async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), fut).await.unwrap_or_else(|_| panic!("{what}: timed out"))
}

/// Reliable mode with a short ack delay, so a clean line moves bytes fast.
fn link(epoch: u32) -> LinkConfig {
    LinkConfig::reliable(epoch).with_ack_delay(braid::Duration::from_millis(5))
}

/// Echo every stream of the server side's first session; complete with
/// how that session ended.
fn echo_server(mut serial: SerialLink) -> tokio::task::JoinHandle<SessionEnd> {
    tokio::spawn(async move {
        let session = serial.next_session().await.expect("a server session");
        let accepting = session.clone();
        tokio::spawn(async move {
            while let Ok(stream) = accepting.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.into_split();
                    if tokio::io::copy(&mut r, &mut w).await.is_ok() {
                        let _ = w.shutdown().await;
                    }
                });
            }
        });
        session.closed().await
    })
}

#[tokio::test]
async fn reliable_mode_echoes_concurrent_streams_over_a_raw_pty() {
    // The host opens the master, as socat or QEMU's `-serial pty` hand it a
    // device; the "device" is on the slave end.
    let (master, slave) = raw_pty().expect("raw pty");
    let mut client = SerialLink::client(master, Config::default(), link(1));
    let server = echo_server(SerialLink::server(slave, Config::default(), link(2)));

    let session = within("first session", client.next_session()).await.expect("a session");
    let streams: Vec<_> = (1..=4)
        .map(|seed| {
            let session = session.clone();
            tokio::spawn(async move { echo_checked(&session, seed, 20_000).await })
        })
        .collect();
    for s in streams {
        within("echo", s).await.expect("echo task").expect("echo");
    }
    assert_eq!(client.with_link(|l| l.is_reliable()), Some(true));
    let stats = client.link_stats();
    assert_eq!(stats.frames_corrupt, 0, "a raw pty damaged frames: {stats:?}");
    assert_eq!(client.sessions_started(), 1, "the session restarted");

    // The session's GOAWAY crosses the pty each way: both ends see a
    // graceful end.
    let end = within("client session end", session.close()).await;
    assert!(end.reason.is_graceful(), "client: {end}");
    let end = within("server session end", server).await.expect("server task");
    assert!(end.reason.is_graceful(), "server: {end}");
}

#[tokio::test]
async fn every_byte_value_crosses_the_raw_pty_unchanged_both_ways() {
    let (master, slave) = raw_pty().expect("raw pty");
    for (name, tty) in [("master", &master), ("slave", &slave)] {
        let t = termios(tty.fd.as_fd()).expect("tcgetattr");
        assert_eq!(t.c_lflag & (libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN), 0, "{name} lflag");
        let input = libc::IXON | libc::IXOFF | libc::ICRNL | libc::INLCR | libc::IGNCR | libc::ISTRIP;
        assert_eq!(t.c_iflag & input, 0, "{name} iflag");
        assert_eq!(t.c_oflag & libc::OPOST, 0, "{name} oflag");
        assert_eq!(t.c_cflag & libc::CSIZE, libc::CS8, "{name} cflag");
    }

    // Every byte value, 256 times over each way, in another order each way:
    // more than the pty holds, so writers meet EAGAIN and wait for room.
    let to_slave: Vec<u8> = (0..256 * 256).map(|i| i as u8).collect();
    let to_master: Vec<u8> = (0..256 * 256).map(|i| !(i as u8)).collect();

    let (mut master_r, mut master_w) = tokio::io::split(master);
    let (mut slave_r, mut slave_w) = tokio::io::split(slave);
    let master_writer = {
        let data = to_slave.clone();
        tokio::spawn(async move { master_w.write_all(&data).await.map(|()| master_w) })
    };
    let slave_side = {
        let expected = to_slave.clone();
        let data = to_master.clone();
        tokio::spawn(async move {
            let writer = async { slave_w.write_all(&data).await };
            let mut got = vec![0; expected.len()];
            let (written, read) = tokio::join!(writer, slave_r.read_exact(&mut got));
            written.expect("slave write");
            read.expect("slave read");
            assert!(got == expected, "master to slave: bytes changed");
            // Both halves dropped here: the slave end closes.
        })
    };
    // Everything the slave wrote, then the end (EIO once the slave is
    // closed): an echo of the master's bytes would show up here too.
    let mut got = Vec::new();
    within("master read", master_r.read_to_end(&mut got)).await.expect("master read");
    within("slave side", slave_side).await.expect("slave side");
    let master_w = within("master write", master_writer).await.expect("master writer");
    master_w.expect("master write");
    assert_eq!(got.len(), to_master.len(), "slave to master: length");
    assert!(got == to_master, "slave to master: bytes changed");
}

/// A tty has no half-close, so the peer of a side that closes learns of it
/// only through the link. `SerialLink::close` waits until the last frames
/// are acknowledged both ways before it lets the line go: the peer's
/// session ends gracefully, without sending anything again.
#[tokio::test]
async fn closing_leaves_the_peer_nothing_to_send_again() {
    let (master, slave) = raw_pty().expect("raw pty");
    let mut client = SerialLink::client(master, Config::default(), link(1));
    let mut server = SerialLink::server(slave, Config::default(), link(2));
    let server_side = tokio::spawn(async move {
        let session = server.next_session().await.expect("a server session");
        let stream = session.accept().await.expect("accept");
        let (mut r, mut w) = stream.into_split();
        tokio::io::copy(&mut r, &mut w).await.expect("echo");
        w.shutdown().await.expect("FIN");
        let end = session.closed().await;
        (end, server.link_stats())
    });
    let session = within("first session", client.next_session()).await.expect("a session");
    within("echo", echo_checked(&session, 9, 5000)).await.expect("echo");
    client.close();
    let end = within("client end", client.closed()).await;
    assert!(end.reason.is_graceful(), "client: {end}");
    let (end, stats) = within("server end", server_side).await.expect("server task");
    assert!(end.reason.is_graceful(), "server: {end}");
    assert_eq!(stats.frames_retransmitted, 0, "the server sent frames again: {stats:?}");
    assert_eq!(client.link_stats().frames_retransmitted, 0);
}
