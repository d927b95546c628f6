//! [`SerialLink`]: braid sessions over a serial byte stream in tokio.

use crate::{Config, Driver, Role, Session, SessionEnd, TokioIo, TokioTimer};
use braid::link::{LinkConfig, LinkState, LinkStats};
use tokio::io::{AsyncRead, AsyncWrite};

/// A serial line carrying braid sessions through braid's link layer
/// (`braid::link`: COBS frames with a CRC-32C, a SYNC exchange with an
/// epoch, fail-stop or reliable go-back-N; spec.md §14): how a host talks
/// to a microcontroller running `braid-embedded` over a UART.
///
/// `io` is any tokio `AsyncRead + AsyncWrite` that moves the line's bytes:
/// a serial device opened with a crate such as `tokio-serial`, a pty, or a
/// child process's stdin and stdout joined with `tokio::io::join`.
///
/// Sessions come one after another ([`next_session`](Self::next_session)):
/// when one ends while the line goes on (in fail-stop mode a damaged frame
/// ends it with a link error; in either mode a peer reboot, a GOAWAY or an
/// idle timeout does), the driver starts the next at once. See
/// [`braid_async::SerialLink`] for the details.
///
/// ```no_run
/// use braid_tokio::{Config, LinkConfig, SerialLink};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn example() -> std::io::Result<()> {
/// // The firmware on an emulated board, its UART on stdin/stdout.
/// let mut child = tokio::process::Command::new("qemu-system-arm")
///     .args(["-M", "lm3s6965evb", "-display", "none", "-monitor", "none"])
///     .args(["-serial", "stdio", "-kernel", "firmware.elf"])
///     .stdin(std::process::Stdio::piped())
///     .stdout(std::process::Stdio::piped())
///     .spawn()?;
/// let line = tokio::io::join(child.stdout.take().unwrap(), child.stdin.take().unwrap());
/// let epoch = std::process::id(); // differs on every start
/// let mut serial = SerialLink::client(line, Config::default(), LinkConfig::reliable(epoch));
/// while let Some(session) = serial.next_session().await {
///     let mut stream = session.open_typed(1).await?;
///     stream.write_all(b"hello, device").await?;
///     stream.shutdown().await?;
///     let mut echo = Vec::new();
///     stream.read_to_end(&mut echo).await?;
///     session.closed().await; // the next session follows this one's end
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SerialLink {
    inner: braid_async::SerialLink,
}

impl SerialLink {
    /// The client end (it opens odd stream ids; the peer must be a server)
    /// over `io`, its driver spawned with `tokio::spawn`.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn client<T>(io: T, config: Config, link: LinkConfig) -> SerialLink
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::spawn(Role::Client, io, &config, link)
    }

    /// The server end over `io`, its driver spawned with `tokio::spawn`.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn server<T>(io: T, config: Config, link: LinkConfig) -> SerialLink
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::spawn(Role::Server, io, &config, link)
    }

    /// Sessions with `role` over `io` and their driver, for the caller to
    /// run; it completes once the sessions are over, with how the last one
    /// ended.
    pub fn with_driver<T>(role: Role, io: T, config: &Config, link: LinkConfig) -> (SerialLink, Driver<T>)
    where
        T: AsyncRead + AsyncWrite,
    {
        let (inner, driver) =
            braid_async::SerialLink::new(role, TokioIo::new(io), TokioTimer::default(), config, link);
        (SerialLink { inner }, driver)
    }

    fn spawn<T>(role: Role, io: T, config: &Config, link: LinkConfig) -> SerialLink
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (serial, driver) = Self::with_driver(role, io, config, link);
        tokio::spawn(driver);
        serial
    }

    /// The next session: the first at once, each later one after the one
    /// before it ended; `None` once the sessions are over (the line ended
    /// or failed, or [`close`](Self::close) was called).
    pub async fn next_session(&mut self) -> Option<Session> {
        self.inner.next_session().await.map(Session::from_async)
    }

    /// Sessions the link has carried so far, the current one included.
    #[must_use]
    pub fn sessions_started(&self) -> u64 {
        self.inner.sessions_started()
    }

    /// The link's counters since it was created.
    #[must_use]
    pub fn link_stats(&self) -> LinkStats {
        self.inner.link_stats()
    }

    /// Where the link is: syncing, up, or down between sessions.
    #[must_use]
    pub fn link_state(&self) -> LinkState {
        self.inner.link_state()
    }

    /// Look at the link (negotiated MTU, window, mode, counters); `None`
    /// once the sessions are over.
    pub fn with_link<R>(&self, f: impl FnOnce(&braid_async::LinkLayer) -> R) -> Option<R> {
        self.inner.with_link(f)
    }

    /// Start no new session; the current one goes away gracefully, then
    /// the driver closes the line.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Wait until the sessions are over; how the last one ended.
    pub async fn closed(&self) -> SessionEnd {
        self.inner.closed().await
    }

    /// How the last session ended, once the sessions are over.
    #[must_use]
    pub fn end(&self) -> Option<SessionEnd> {
        self.inner.end()
    }

    /// The runtime-independent handle underneath.
    #[must_use]
    pub fn as_async(&self) -> &braid_async::SerialLink {
        &self.inner
    }
}
