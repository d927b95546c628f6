//! # braid echo server
//!
//! Listens on TCP or a Unix socket. Every connection is one braid session,
//! and every stream the client opens in it is echoed back: each byte read is
//! written back, and the client's FIN (end of its data) is answered with
//! ours. One line per stream: its id, its type, the bytes echoed and how it
//! ended.
//!
//! ```text
//! cargo run --release -p braid-examples --bin echo_server                          # TCP 127.0.0.1:7000
//! cargo run --release -p braid-examples --bin echo_server -- --unix /tmp/braid.sock
//! BRAID_TRACE=1 cargo run --release -p braid-examples --bin echo_server            # every frame
//! ```
//!
//! Then, in another terminal, `echo_client` (same `--tcp`/`--unix` option).
//! `--tcp 127.0.0.1:0` picks a free port; the first line printed says which.

use braid_tokio::{Config, Session, Stream};
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

const USAGE: &str = "usage: echo_server [--tcp ADDR | --unix PATH]   (default: --tcp 127.0.0.1:7000)";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, addr) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => ("--tcp", "127.0.0.1:7000"),
        [kind @ ("--tcp" | "--unix"), addr] => (kind, addr),
        ["--help" | "-h"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match listen(kind, addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn listen(kind: &str, addr: &str) -> std::io::Result<()> {
    // The same `Config` for every session; BRAID_TRACE=1 prints every frame.
    let config = Config::default().trace_from_env();
    if kind == "--tcp" {
        let listener = TcpListener::bind(addr).await?;
        println!("echo server listening on tcp {}", listener.local_addr()?);
        for n in 1.. {
            let (tcp, peer) = listener.accept().await?;
            tcp.set_nodelay(true)?; // braid batches small frames itself
                                    // `Session::server` takes any tokio AsyncRead + AsyncWrite and
                                    // spawns the task that drives the session.
            tokio::spawn(serve(Session::server(tcp, config.clone()), n, peer.to_string()));
        }
    } else {
        let listener = bind_unix(addr).await?;
        println!("echo server listening on unix {addr}");
        for n in 1.. {
            let (socket, _) = listener.accept().await?;
            tokio::spawn(serve(Session::server(socket, config.clone()), n, "a unix socket".into()));
        }
    }
    Ok(())
}

/// Bind a Unix socket, replacing a stale socket file that no server answers on.
async fn bind_unix(path: &str) -> std::io::Result<UnixListener> {
    match UnixListener::bind(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if tokio::net::UnixStream::connect(path).await.is_ok() {
                return Err(e); // a live server is there
            }
            std::fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        other => other,
    }
}

/// One session: accept streams until it ends, each echoed by its own task.
async fn serve(session: Session, n: u64, peer: String) {
    println!("session {n}: connected from {peer}");
    // `accept` fails once the session has ended (the client closed it, or
    // the connection broke).
    while let Ok(stream) = session.accept().await {
        tokio::spawn(echo(stream, n));
    }
    // How it ended: the local reason, the client's GOAWAY code, any I/O error.
    println!("session {n}: ended: {}", session.closed().await);
}

/// Echo one stream until the client's FIN, then send ours.
async fn echo(mut stream: Stream, n: u64) {
    let id = stream.id();
    // The opener may put a stream type and headers on the first frame.
    let kind = stream.metadata().map_or("no type".to_string(), |m| format!("type {}", m.stream_type));
    let mut buf = vec![0u8; 64 * 1024];
    let mut echoed = 0u64;
    let result = loop {
        // A read waits for data; `Ok(0)` is the client's FIN: nothing more
        // will come. A write waits while the client's window is full, which
        // also stops us reading: the client must read while it writes.
        match stream.read(&mut buf).await {
            Ok(0) => break stream.shutdown().await, // our FIN: the echo is complete
            Ok(k) => match stream.write_all(&buf[..k]).await {
                Ok(()) => echoed += k as u64,
                Err(e) => break Err(e),
            },
            Err(e) => break Err(e),
        }
    };
    // A reset by the client arrives as an io::Error of kind ConnectionReset
    // whose message carries the code ("stream reset by the peer with CANCEL").
    let how = result.map_or_else(|e| e.to_string(), |()| "finished".to_string());
    println!("session {n} stream {id} ({kind}): echoed {echoed} bytes, {how}");
}
