//! The three contenders as the workloads see them: something that opens
//! streams ([`Opener`]) and something that accepts them ([`Acceptor`]),
//! each stream a tokio `AsyncRead + AsyncWrite`.
//!
//! - **braid**: one [`braid_tokio::Session`] pair over one loopback TCP
//!   connection; a stream is a braid stream.
//! - **yamux**: one [`yamux::Connection`] pair over one loopback TCP
//!   connection (through tokio-util's compat layer), each driven by a task
//!   (see [`super::yamux_driver`]); a stream is a yamux stream wrapped back
//!   into tokio's traits.
//! - **tcp**: a loopback listener; a "stream" is a fresh TCP connection
//!   (`connect` / `accept`).
//!
//! Every socket, of all three, has `TCP_NODELAY` set.

use super::yamux_driver::{self, YamuxAcceptor, YamuxOpener, YamuxStream};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a teardown step may take before it counts as a hang.
const TEARDOWN_LIMIT: Duration = Duration::from_secs(20);

/// What the workload code needs of a stream.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The client side: opens streams; clones open on the same connection.
pub trait Opener: Clone + Send + Sync + 'static {
    /// The stream type.
    type Stream: Io;
    /// Open one stream.
    fn open(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// The server side: accepts the streams the client opens.
pub trait Acceptor: Send + 'static {
    /// The stream type.
    type Stream: Io;
    /// Accept the next stream.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// One end of a braid session, as opener or acceptor.
#[derive(Clone, Debug)]
pub struct Braid(pub braid_tokio::Session);

impl Opener for Braid {
    type Stream = braid_tokio::Stream;
    async fn open(&self) -> io::Result<braid_tokio::Stream> {
        Ok(self.0.open().await?)
    }
}

impl Acceptor for Braid {
    type Stream = braid_tokio::Stream;
    async fn accept(&mut self) -> io::Result<braid_tokio::Stream> {
        Ok(self.0.accept().await?)
    }
}

impl Opener for YamuxOpener {
    type Stream = YamuxStream;
    async fn open(&self) -> io::Result<YamuxStream> {
        YamuxOpener::open(self).await
    }
}

impl Acceptor for YamuxAcceptor {
    type Stream = YamuxStream;
    async fn accept(&mut self) -> io::Result<YamuxStream> {
        YamuxAcceptor::accept(self).await
    }
}

/// Opens a "stream" by connecting a new TCP connection to `addr`.
#[derive(Clone, Copy, Debug)]
pub struct TcpOpener(pub SocketAddr);

impl Opener for TcpOpener {
    type Stream = TcpStream;
    async fn open(&self) -> io::Result<TcpStream> {
        let s = TcpStream::connect(self.0).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

/// Accepts "streams": TCP connections to a loopback listener.
#[derive(Debug)]
pub struct TcpAcceptor(pub TcpListener);

impl Acceptor for TcpAcceptor {
    type Stream = TcpStream;
    async fn accept(&mut self) -> io::Result<TcpStream> {
        let (s, _) = self.0.accept().await?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

/// How to take a contender's connection down once a workload is over.
#[derive(Debug)]
pub enum Teardown {
    /// Close the braid client session gracefully (the server session goes
    /// with the accept loop that held it).
    Braid(braid_tokio::Session),
    /// Close the yamux client connection and wait for both drivers.
    Yamux {
        /// The client's opener, to ask its driver to close.
        client: YamuxOpener,
        /// Both driver tasks, client first.
        drivers: [JoinHandle<yamux::Result<()>>; 2],
    },
    /// Nothing to close: each TCP "stream" was its own connection.
    Tcp,
}

impl Teardown {
    /// Take the connection down; `Err` when that fails or hangs.
    pub async fn run(self) -> Result<(), String> {
        match self {
            Teardown::Braid(session) => {
                let end = tokio::time::timeout(TEARDOWN_LIMIT, session.close())
                    .await
                    .map_err(|_| format!("braid: graceful close hung for {TEARDOWN_LIMIT:?}"))?;
                if !end.is_graceful() {
                    return Err(format!("braid: session ended with {end}"));
                }
                Ok(())
            }
            Teardown::Yamux { client, drivers } => {
                client.close();
                for (side, driver) in ["client", "server"].into_iter().zip(drivers) {
                    let result = tokio::time::timeout(TEARDOWN_LIMIT, driver)
                        .await
                        .map_err(|_| {
                            format!("yamux: {side} driver still running {TEARDOWN_LIMIT:?} after close")
                        })?
                        .map_err(|e| format!("yamux: {side} driver panicked: {e}"))?;
                    match result {
                        Ok(()) => {}
                        // The server may still be writing stream closes
                        // when the client's close takes the socket away.
                        Err(e) if side == "server" && yamux_driver::is_peer_gone(&e) => {}
                        Err(e) => return Err(format!("yamux: {side} driver: {e}")),
                    }
                }
                Ok(())
            }
            Teardown::Tcp => Ok(()),
        }
    }
}

/// Both ends of one loopback TCP connection, `TCP_NODELAY` on both.
pub async fn socket_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (connected, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, (server, _)) = (connected?, accepted?);
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}

/// A braid client and server session over one loopback TCP connection,
/// each with `config`; the drivers are spawned on the current runtime.
pub async fn braid(config: braid_tokio::Config) -> io::Result<(Braid, Braid, Teardown)> {
    let (a, b) = socket_pair().await?;
    let client = braid_tokio::Session::client(a, config.clone());
    let server = braid_tokio::Session::server(b, config);
    Ok((Braid(client.clone()), Braid(server), Teardown::Braid(client)))
}

/// A yamux client and server connection over one loopback TCP connection,
/// each with `config`, each driven by a spawned task.
pub async fn yamux(config: yamux::Config) -> io::Result<(YamuxOpener, YamuxAcceptor, Teardown)> {
    let (a, b) = socket_pair().await?;
    let (client, _unused, client_driver) = yamux_driver::spawn(a, config.clone(), yamux::Mode::Client);
    let (_unused, server, server_driver) = yamux_driver::spawn(b, config, yamux::Mode::Server);
    let teardown = Teardown::Yamux { client: client.clone(), drivers: [client_driver, server_driver] };
    Ok((client, server, teardown))
}

/// A loopback listener and an opener that connects to it.
pub async fn tcp() -> io::Result<(TcpOpener, TcpAcceptor, Teardown)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((TcpOpener(addr), TcpAcceptor(listener), Teardown::Tcp))
}
