//! # braid echo client
//!
//! Connects to `echo_server` and opens one braid session over the
//! connection. Two ways to use it:
//!
//! - **interactive** (the default): each line typed on stdin goes over a
//!   stream of its own (open, write, FIN, read the echo to its end);
//! - **load**: `--streams N --bytes M` opens N streams at once, sends M
//!   bytes on each while reading the echo back, checks every byte, and
//!   prints a summary. Exit status 1 if anything was wrong.
//!
//! ```text
//! cargo run --release -p braid-examples --bin echo_client                     # type lines, Ctrl-D ends
//! cargo run --release -p braid-examples --bin echo_client -- --streams 100 --bytes 1000000
//! cargo run --release -p braid-examples --bin echo_client -- --unix /tmp/braid.sock
//! ```

use braid_tokio::{Config, Session, Stream};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};

const USAGE: &str = "usage: echo_client [--tcp ADDR | --unix PATH] [--streams N --bytes M]
  --tcp ADDR     connect to ADDR (default 127.0.0.1:7000)
  --unix PATH    connect to the Unix socket PATH
  --streams N    open N streams at once (load mode), sending M bytes each
  --bytes M      bytes to send on each stream in load mode (default 1000000)
without --streams, every line read from stdin is echoed over a stream of its own";

/// Stream types the server prints: a typed line, or load-test data.
const LINE: u32 = 1;
const LOAD: u32 = 2;
const CHUNK: usize = 64 * 1024;

type Res<T> = Result<T, String>;

#[tokio::main]
async fn main() -> ExitCode {
    let mut target = ("--tcp".to_string(), "127.0.0.1:7000".to_string());
    let (mut streams, mut bytes) = (None, 1_000_000u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--tcp" | "--unix", Some(v)) => target = (flag, v),
            ("--streams", Some(v)) if v.parse::<u64>().is_ok() => streams = v.parse().ok(),
            ("--bytes", Some(v)) if v.parse::<u64>().is_ok() => bytes = v.parse().unwrap_or(bytes),
            ("--help" | "-h", None) => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match run(&target.0, &target.1, streams, bytes).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(kind: &str, addr: &str, streams: Option<u64>, bytes: u64) -> Res<()> {
    let config = Config::default().trace_from_env(); // BRAID_TRACE=1 prints every frame
    let hint = |e| format!("cannot connect to {addr}: {e} (is echo_server running?)");
    // `Session::client` takes any tokio AsyncRead + AsyncWrite.
    let session = if kind == "--tcp" {
        let tcp = TcpStream::connect(addr).await.map_err(hint)?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        Session::client(tcp, config)
    } else {
        Session::client(UnixStream::connect(addr).await.map_err(hint)?, config)
    };
    match streams {
        Some(n) => load(&session, n, bytes).await?,
        None => interactive(&session).await?,
    }
    // Graceful close: GOAWAY, then wait for the session to end.
    let end = session.close().await;
    if !end.is_graceful() {
        return Err(format!("the session ended badly: {end}"));
    }
    Ok(())
}

/// One stream per line of stdin.
async fn interactive(session: &Session) -> Res<()> {
    if std::io::stdin().is_terminal() {
        eprintln!("connected; type a line and press Enter (Ctrl-D to quit)");
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.map_err(|e| format!("stdin: {e}"))? {
        // `open_with` puts a stream type and headers on the stream's first frame.
        let mut s =
            session.open_with(LINE, [("length", line.len().to_string())]).await.map_err(|e| e.to_string())?;
        let id = s.id();
        let io = |e: std::io::Error| format!("stream {id}: {e}");
        s.write_all(line.as_bytes()).await.map_err(io)?;
        s.shutdown().await.map_err(io)?; // FIN: the server's echo ends when ours arrives
        let mut echo = String::new();
        s.read_to_string(&mut echo).await.map_err(io)?;
        println!("stream {id}: {echo}");
    }
    Ok(())
}

/// N streams at once, M bytes each, every echoed byte checked.
async fn load(session: &Session, n: u64, bytes: u64) -> Res<()> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let session = session.clone(); // handles are cheap clones of one session
            tokio::spawn(async move {
                let stream = session.open_typed(LOAD).await.map_err(|e| e.to_string())?;
                echo_checked(stream, bytes).await
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let rtt = session.ping().await.map_err(|e| e.to_string())?;
    if !failures.is_empty() {
        return Err(format!("{} of {n} streams failed: {}", failures.len(), failures.join("; ")));
    }
    let mib = (n * bytes) as f64 / 1048576.0;
    println!(
        "{n} streams × {bytes} bytes echoed and checked in {secs:.2} s: {mib:.1} MiB each way, {:.0} MiB/s; RTT {} µs",
        mib / secs,
        rtt.as_micros()
    );
    Ok(())
}

/// The data of stream `seed` from byte `at`: a cycle of 251 values whose
/// phase depends on the stream, so a byte lost or misplaced shows.
fn pattern(seed: u32, at: u64, len: usize) -> &'static [u8] {
    static TABLE: LazyLock<Vec<u8>> = LazyLock::new(|| (0..251 + CHUNK).map(|i| (i % 251) as u8).collect());
    let start = ((u64::from(seed) * 31 + at) % 251) as usize;
    &TABLE[start..start + len.min(CHUNK)]
}

/// Send `len` bytes while reading the echo back, at the same time: with
/// flow control, a sender that does not read would stop the echo, and so
/// itself. `into_split` gives a read half and a write half for that.
async fn echo_checked(stream: Stream, len: u64) -> Res<()> {
    let id = stream.id();
    let (mut r, mut w) = stream.into_split();
    let send = async {
        let mut at = 0;
        while at < len {
            let chunk = pattern(id.0, at, (len - at).min(CHUNK as u64) as usize);
            w.write_all(chunk).await?;
            at += chunk.len() as u64;
        }
        w.shutdown().await // FIN
    };
    let check = async {
        let (mut buf, mut at) = (vec![0u8; CHUNK], 0u64);
        loop {
            let k = r.read(&mut buf).await?;
            if k == 0 {
                return Ok(at); // the server's FIN
            }
            if buf[..k] != *pattern(id.0, at, k) {
                return Err(std::io::Error::other(format!("wrong bytes at {at}..{}", at + k as u64)));
            }
            at += k as u64;
        }
    };
    match tokio::join!(send, check) {
        (Ok(()), Ok(got)) if got == len => Ok(()),
        (Ok(()), Ok(got)) => Err(format!("stream {id}: {got} bytes echoed, {len} sent")),
        (Err(e), _) | (_, Err(e)) => Err(format!("stream {id}: {e}")),
    }
}
