//! `idle_stream_bytes`: the heap one open, idle stream costs the whole
//! process, braid and yamux alike.
//!
//! Method (the same for both): a client and a server connection over
//! loopback TCP, warmed up by one stream that exchanges a message and
//! closes. Then, with the counting allocator on, the client opens
//! [`STREAMS`] streams and writes 8 bytes on each; the server accepts each,
//! reads the 8 bytes and writes them back; the client reads every echo.
//! Both sides keep every stream handle in a `Vec`. Once things are quiet
//! the heap in use is compared with the heap before the first of those
//! streams opened, and divided by [`STREAMS`]. So the figure counts both
//! ends of the connection (client and server session state, the stream
//! handles the application holds, the `Vec`s holding them, the tokio
//! tasks' and channels' share), as a process serving both ends would pay.
//! Bytes are those requested from the allocator (its own per-block
//! headers come on top: the live block count per stream is printed on
//! stderr).
//!
//! Why a message on each stream: yamux sends a stream's SYN with its first
//! write and its ACK with the first frame back, and opens at most 256
//! streams not yet acknowledged, so a stream that never carried data does
//! not exist for the peer. One small exchange per stream is also what a
//! real idle stream has seen, and it makes braid allocate its (smallest,
//! 512-byte) stream buffers, which is the honest "untrimmed" state.
//!
//! Configuration: braid's default, with `max_streams` raised to
//! `2 * (STREAMS + 64)` on both ends (each end keeps half of its slots for
//! the peer's streams by default) and the buffer trim interval made long
//! (an hour) so the untrimmed state can be measured before the driver
//! trims on its own; then `trim_buffers()` is called on both sessions,
//! which is exactly what the default configuration's driver does by
//! itself one second after activity (a user does nothing). Neither
//! setting allocates anything up front. yamux's default, with
//! `max_num_streams` raised to exactly [`STREAMS`] (from 512) and the
//! connection receive window to the least that setting requires
//! (`STREAMS * 256 KiB`, a limit, not an allocation).

use super::transports::{self, Acceptor, Opener};
use crate::counting_alloc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Idle streams open at once.
pub const STREAMS: usize = 10_000;

/// Heap per idle stream, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct PerStream {
    /// Right after every stream exchanged its message.
    pub untrimmed: f64,
    /// After the stream buffers were trimmed (yamux: the same).
    pub trimmed: f64,
}

/// braid's figures.
pub async fn braid() -> Result<PerStream, String> {
    let config = braid_tokio::Config::default()
        .max_streams(2 * (STREAMS + 64))
        .trim_interval(Duration::from_secs(3600));
    let (opener, acceptor, teardown) =
        transports::braid(config).await.map_err(|e| format!("braid: connect: {e}"))?;
    let (client, server) = (opener.0.clone(), acceptor.0.clone());
    let result = measure("braid", opener, acceptor, move || {
        client.trim_buffers();
        server.trim_buffers();
    })
    .await;
    teardown.run().await?;
    result
}

/// yamux's figures.
pub async fn yamux() -> Result<PerStream, String> {
    let mut config = yamux::Config::default();
    config.set_max_connection_receive_window(Some(STREAMS * yamux::DEFAULT_CREDIT as usize));
    config.set_max_num_streams(STREAMS);
    let (opener, acceptor, teardown) =
        transports::yamux(config).await.map_err(|e| format!("yamux: connect: {e}"))?;
    let result = measure("yamux", opener, acceptor, || {}).await;
    teardown.run().await?;
    result
}

/// One message exchange on a new stream: the client's side.
async fn hello<S: transports::Io>(stream: &mut S, i: u64) -> Result<(), String> {
    stream.write_all(&i.to_le_bytes()).await.map_err(|e| format!("stream {i}: write: {e}"))
}

/// The measurement (see the module docs); `trim` gives buffers back.
async fn measure<O: Opener, A: Acceptor>(
    name: &str,
    opener: O,
    mut acceptor: A,
    trim: impl Fn(),
) -> Result<PerStream, String> {
    // Warm-up: one stream, one exchange, closed on both sides.
    let warm_server = tokio::spawn(async move {
        let mut s = acceptor.accept().await.map_err(|e| format!("warm-up accept: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| format!("warm-up read: {e}"))?;
        s.write_all(&buf).await.map_err(|e| format!("warm-up write: {e}"))?;
        s.shutdown().await.map_err(|e| format!("warm-up shutdown: {e}"))?;
        Ok::<_, String>(acceptor)
    });
    let mut s = opener.open().await.map_err(|e| format!("{name}: warm-up open: {e}"))?;
    hello(&mut s, 0).await?;
    s.shutdown().await.map_err(|e| format!("{name}: warm-up shutdown: {e}"))?;
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.map_err(|e| format!("{name}: warm-up read: {e}"))?;
    drop(s);
    let mut acceptor = warm_server.await.map_err(|e| format!("{name}: warm-up task: {e}"))??;
    tokio::time::sleep(Duration::from_millis(100)).await;

    counting_alloc::set_enabled(true);
    counting_alloc::reset();
    let server = tokio::spawn(async move {
        let mut held = Vec::with_capacity(STREAMS);
        for i in 0..STREAMS {
            let mut s = acceptor.accept().await.map_err(|e| format!("accept {i}: {e}"))?;
            let mut msg = [0u8; 8];
            s.read_exact(&mut msg).await.map_err(|e| format!("server stream {i}: read: {e}"))?;
            s.write_all(&msg).await.map_err(|e| format!("server stream {i}: write: {e}"))?;
            held.push(s);
        }
        Ok::<_, String>((acceptor, held))
    });
    let mut held = Vec::with_capacity(STREAMS);
    for i in 0..STREAMS as u64 {
        let mut s = opener.open().await.map_err(|e| format!("{name}: open {i}: {e}"))?;
        hello(&mut s, i).await?;
        held.push(s);
    }
    for (i, s) in held.iter_mut().enumerate() {
        let mut echo = [0u8; 8];
        s.read_exact(&mut echo).await.map_err(|e| format!("{name}: stream {i}: read: {e}"))?;
        if u64::from_le_bytes(echo) != i as u64 {
            return Err(format!("{name}: stream {i}: wrong echo"));
        }
    }
    let (acceptor, server_held) = server.await.map_err(|e| format!("{name}: server task: {e}"))??;
    // Let the drivers write what they still have (window updates) and go idle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let untrimmed = counting_alloc::net_bytes();
    trim();
    let trimmed = counting_alloc::net_bytes();
    let blocks = counting_alloc::net_allocations();
    counting_alloc::set_enabled(false);
    eprintln!(
        "tokio: idle {name}: {STREAMS} streams: {untrimmed} bytes untrimmed, {trimmed} trimmed, {blocks} live heap blocks ({:.1} per stream)",
        blocks as f64 / STREAMS as f64
    );
    drop((held, server_held, acceptor));
    let per = |bytes: i64| bytes as f64 / STREAMS as f64;
    Ok(PerStream { untrimmed: per(untrimmed), trimmed: per(trimmed) })
}
