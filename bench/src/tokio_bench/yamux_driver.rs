//! Driving a `yamux` 0.14 connection from tokio, the way yamux's own test
//! harness and libp2p do: one task owns the [`yamux::Connection`] and polls
//! it without pause — `poll_next_inbound` (which also moves every stream's
//! frames to and from the socket) and, when a task asked for one,
//! `poll_new_outbound`. Open requests come in over a channel with a
//! oneshot for the answer; inbound streams go out over a channel to the
//! accepting side. The socket is a tokio `TcpStream` seen through
//! tokio-util's compat layer as futures-io, and each yamux stream is
//! wrapped back into tokio's traits with `.compat()`.
//!
//! Nothing here slows yamux down: the driver keeps polling as long as
//! anything makes progress, and the only extra work is one channel hop per
//! open and per accepted stream, which any user of the 0.13+ poll API pays.

use std::future::poll_fn;
use std::io;
use std::task::Poll;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

/// A yamux stream with tokio's `AsyncRead` / `AsyncWrite`.
pub type YamuxStream = Compat<yamux::Stream>;

/// What the handles ask of the driver.
enum Request {
    /// Open an outbound stream and send it back.
    Open(oneshot::Sender<yamux::Result<yamux::Stream>>),
    /// Close the connection gracefully and end the driver.
    Close,
}

/// Opens streams on a driven connection; clones share the driver.
#[derive(Clone, Debug)]
pub struct YamuxOpener {
    requests: mpsc::UnboundedSender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Request::Open(_) => "Open",
            Request::Close => "Close",
        })
    }
}

impl YamuxOpener {
    /// Open an outbound stream (its SYN goes out with its first write, as
    /// yamux does).
    pub async fn open(&self) -> io::Result<YamuxStream> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(Request::Open(tx)).map_err(|_| io::Error::other("yamux driver gone"))?;
        let stream =
            rx.await.map_err(|_| io::Error::other("yamux driver gone"))?.map_err(io::Error::other)?;
        Ok(stream.compat())
    }

    /// Ask the driver to close the connection and end.
    pub fn close(&self) {
        let _ = self.requests.send(Request::Close);
    }
}

/// Accepts the streams the peer opens on a driven connection.
#[derive(Debug)]
pub struct YamuxAcceptor {
    inbound: mpsc::UnboundedReceiver<yamux::Stream>,
}

impl YamuxAcceptor {
    /// The next inbound stream; an error once the connection has ended.
    pub async fn accept(&mut self) -> io::Result<YamuxStream> {
        match self.inbound.recv().await {
            Some(stream) => Ok(stream.compat()),
            None => Err(io::Error::new(io::ErrorKind::ConnectionAborted, "yamux connection ended")),
        }
    }
}

/// A yamux connection over `socket` in `mode`, driven by a spawned task:
/// the opener, the acceptor, and the driver's handle (which ends with the
/// connection, `Err` on a connection error).
pub fn spawn(
    socket: TcpStream,
    config: yamux::Config,
    mode: yamux::Mode,
) -> (YamuxOpener, YamuxAcceptor, JoinHandle<yamux::Result<()>>) {
    let connection = yamux::Connection::new(socket.compat(), config, mode);
    let (requests, requests_rx) = mpsc::unbounded_channel();
    let (inbound_tx, inbound) = mpsc::unbounded_channel();
    let driver = tokio::spawn(drive(connection, requests_rx, inbound_tx));
    (YamuxOpener { requests }, YamuxAcceptor { inbound }, driver)
}

/// The driver loop (see the module docs).
async fn drive(
    mut connection: yamux::Connection<Compat<TcpStream>>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    inbound: mpsc::UnboundedSender<yamux::Stream>,
) -> yamux::Result<()> {
    let mut waiting: Option<oneshot::Sender<yamux::Result<yamux::Stream>>> = None;
    let mut requests_open = true;
    let mut closing = false;
    poll_fn(|cx| loop {
        if closing {
            return connection.poll_close(cx);
        }
        let mut progress = false;
        if waiting.is_none() && requests_open {
            match requests.poll_recv(cx) {
                Poll::Ready(Some(Request::Open(answer))) => waiting = Some(answer),
                Poll::Ready(Some(Request::Close)) => {
                    closing = true;
                    continue;
                }
                Poll::Ready(None) => requests_open = false,
                Poll::Pending => {}
            }
        }
        if let Some(answer) = waiting.take() {
            match connection.poll_new_outbound(cx) {
                Poll::Ready(stream) => {
                    let _ = answer.send(stream);
                    progress = true;
                }
                Poll::Pending => waiting = Some(answer),
            }
        }
        match connection.poll_next_inbound(cx) {
            Poll::Ready(Some(Ok(stream))) => {
                let _ = inbound.send(stream);
                progress = true;
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Pending => {}
        }
        if !progress {
            return Poll::Pending;
        }
    })
    .await
}

/// Whether `e` is only the peer having closed first: the end of a
/// connection whose other side was closed while this side still had frames
/// (stream closes) to write.
pub fn is_peer_gone(e: &yamux::ConnectionError) -> bool {
    matches!(e, yamux::ConnectionError::Io(io) if matches!(io.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset))
}
