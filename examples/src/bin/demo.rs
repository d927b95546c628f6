//! # braid demo: hundreds of streams over one TCP connection
//!
//! One process runs both ends: a braid server and a braid client, joined by
//! a real TCP connection on loopback and driven by `braid-tokio`. The client
//! opens over three hundred streams at once, all sharing that connection:
//!
//! - 4 uploads and 4 downloads of 64 MiB each: bulk transfers, each paced by
//!   its own flow-control window;
//! - 300 small request/response exchanges ("RPCs"). Each stream's first frame
//!   carries metadata: a stream type and headers. The server reads it before
//!   accepting (`accept_with`) and refuses the requests without valid `auth`;
//! - one endless download that the client resets with an application error
//!   code; the server's write fails with that same code;
//! - a PING that measures the round-trip time, idle and under load;
//! - a graceful GOAWAY from the server halfway through the bulk transfers:
//!   the streams already open run to their end (one request even sends its
//!   second half after it), a new `open` is refused with `Error::GoingAway`,
//!   and both sessions then end cleanly.
//!
//! Every byte follows a known pattern and is checked at the other end. When
//! anything is wrong the demo says what and exits with status 1, so it is
//! also a smoke test (`scripts/test.sh` runs it).
//!
//! ```text
//! cargo run --release -p braid-examples --bin demo
//! cargo run --release -p braid-examples --bin demo -- --mib 4      # smaller bulk transfers
//! BRAID_TRACE=1 cargo run --release -p braid-examples --bin demo -- --mib 1   # every frame, both ends
//! ```
//!
//! Next: `echo_server` and `echo_client` do the same across two processes
//! (TCP or a Unix socket); `sans_io` drives the bare engine by hand, with no
//! runtime and no socket.

use braid_tokio::{Config, Error, ErrorCode, Reply, Session, Stream, StreamMetadata};
use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// Stream types: the first field of a stream's metadata. Their meaning is the
// application's; here they tell the server what each stream is for.
const UPLOAD: u32 = 1;
const DOWNLOAD: u32 = 2;
const RPC: u32 = 3;
const FIREHOSE: u32 = 4;

// Error codes from 0x8000_0000 up belong to the application; braid's own
// are 0 to 11 (NO_ERROR, CANCEL, REFUSED, ...), and those between reserved.
/// The server refuses an RPC without valid credentials.
const DENIED: ErrorCode = ErrorCode::application(403);
/// The client has read enough of the endless download.
const ENOUGH: ErrorCode = ErrorCode::application(7);

const BULK_STREAMS: u64 = 4; // in each direction
const RPCS: u64 = 300;
const FIREHOSE_READ: u64 = 1 << 20;
const CHUNK: usize = 64 * 1024;

// --- Test data and progress ------------------------------------------------

/// The pattern every stream carries: byte `i` of the stream with id `seed`
/// is `TABLE[(seed * 97 + i) % 251]`. A chunk lost, repeated or out of order
/// shifts the phase and shows. A stream's id is the same on both ends, so
/// the receiver knows what to expect.
static TABLE: LazyLock<Vec<u8>> =
    LazyLock::new(|| (0..251 + CHUNK).map(|i| (i % 251) as u8 ^ 0x5A).collect());

fn pattern(seed: u32, offset: u64, len: usize) -> &'static [u8] {
    let start = ((u64::from(seed) * 97 + offset) % 251) as usize;
    &TABLE[start..start + len.min(CHUNK)]
}

/// Pattern bytes received and checked so far, and the client's streams
/// finished (statics for brevity: the progress line reads them).
static MOVED: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);

fn wrong(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Write `len` bytes of the pattern of stream `seed`.
async fn write_pattern(w: &mut (impl AsyncWrite + Unpin), seed: u32, len: u64) -> io::Result<()> {
    let mut at = 0;
    while at < len {
        let n = (len - at).min(CHUNK as u64) as usize;
        w.write_all(pattern(seed, at, n)).await?; // waits while the peer's window is closed
        at += n as u64;
    }
    Ok(())
}

/// Read until the end of the stream (or `limit` bytes), checking every byte
/// against the pattern of stream `seed`; returns how many were read.
async fn read_pattern(r: &mut (impl AsyncRead + Unpin), seed: u32, limit: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    while at < limit {
        let n = r.read(&mut buf[..(limit - at).min(CHUNK as u64) as usize]).await?;
        if n == 0 {
            break; // the peer's FIN: the stream's data is complete
        }
        if buf[..n] != *pattern(seed, at, n) {
            return Err(wrong(format!("stream {seed}: wrong data at bytes {at}..{}", at + n as u64)));
        }
        at += n as u64;
        MOVED.fetch_add(n as u64, Relaxed);
    }
    Ok(at)
}

// --- The server ------------------------------------------------------------

/// What the server saw, for the summary.
#[derive(Default)]
struct ServerReport {
    refused: AtomicU64,
    /// The endless download: the reset code its write failed with, and bytes written.
    firehose: Mutex<Option<(Option<ErrorCode>, u64)>>,
    problems: Mutex<Vec<String>>,
}

/// Accept streams until the session ends. `accept_with` shows each
/// stream's metadata to a decision function first, which accepts it,
/// accepts it with reply metadata, or refuses it with a code (the client's
/// reads then fail with that code). It runs with the session locked: keep
/// it short and do the work in the stream's own task.
async fn serve(session: Session, report: Arc<ServerReport>) {
    let decide = |meta: Option<&StreamMetadata>| match meta {
        Some(m) if m.stream_type == RPC && m.header("auth") != Some(b"letmein") => {
            report.refused.fetch_add(1, Relaxed);
            Reply::Refuse(DENIED)
        }
        Some(m) if m.stream_type == RPC => {
            Reply::AcceptWith(StreamMetadata::new(RPC).with_header("status", "ok"))
        }
        _ => Reply::Accept,
    };
    // `accept` fails once the session has ended: that ends the loop.
    let mut handlers = tokio::task::JoinSet::new();
    while let Ok(stream) = session.accept_with(decide).await {
        let report = report.clone();
        handlers.spawn(async move {
            let id = stream.id();
            if let Err(e) = handle(stream, &report).await {
                report.problems.lock().unwrap().push(format!("server, stream {id}: {e}"));
            }
        });
    }
    handlers.join_all().await; // every handler has written its report
}

/// One accepted stream, by its type.
async fn handle(mut s: Stream, report: &ServerReport) -> io::Result<()> {
    let seed = s.id().0;
    let meta = s.metadata().cloned().unwrap_or_default();
    match meta.stream_type {
        UPLOAD => {
            // Read and check everything up to the client's FIN, then answer
            // with the byte count and our own FIN.
            let n = read_pattern(&mut s, seed, u64::MAX).await?;
            s.write_all(&n.to_be_bytes()).await?;
            s.shutdown().await
        }
        DOWNLOAD => {
            let len = meta.header("bytes").and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
            write_pattern(&mut s, seed, len.ok_or_else(|| wrong("no size".into()))?).await?;
            s.shutdown().await // FIN after the data: the download is complete
        }
        RPC => {
            let mut request = Vec::new();
            s.read_to_end(&mut request).await?;
            s.write_all(&request.to_ascii_uppercase()).await?;
            s.shutdown().await
        }
        FIREHOSE => {
            // Write until the client resets the stream: the write fails with
            // `ConnectionReset`, and `Error::reset_code` gives the code.
            let mut sent = 0;
            let e = loop {
                match s.write_all(pattern(seed, sent, CHUNK)).await {
                    Ok(()) => sent += CHUNK as u64,
                    Err(e) => break e,
                }
            };
            *report.firehose.lock().unwrap() = Some((Error::reset_code(&e), sent));
            Ok(())
        }
        other => Err(wrong(format!("unknown stream type {other}"))),
    }
    // `s` is dropped here. After `shutdown` that is graceful: the data and
    // FIN still go out. A stream dropped *without* `shutdown` is reset with
    // CANCEL, so the peer never mistakes an abandoned stream for a complete one.
}

// --- The client's streams: each returns how it ended, or what went wrong ---

/// How a stream ended (the number is its column in the summary).
enum End {
    Completed = 1,
    Reset = 2,
    Refused = 3,
}

type Outcome = io::Result<End>;

// braid's `Error` converts into `io::Error`, so `?` works on both.
async fn upload(session: Session, len: u64) -> Outcome {
    let mut s = session.open_typed(UPLOAD).await?;
    let seed = s.id().0;
    write_pattern(&mut s, seed, len).await?;
    s.shutdown().await?; // FIN: "that was everything"
    let mut ack = [0u8; 8];
    s.read_exact(&mut ack).await?;
    match u64::from_be_bytes(ack) {
        n if n == len => Ok(End::Completed),
        n => Err(wrong(format!("the server counted {n} bytes, not {len}"))),
    }
}

async fn download(session: Session, len: u64) -> Outcome {
    let mut s = session.open_with(DOWNLOAD, [("bytes", len.to_string())]).await?;
    s.shutdown().await?; // nothing to send
    let seed = s.id().0;
    match read_pattern(&mut s, seed, u64::MAX).await? {
        n if n == len => Ok(End::Completed),
        n => Err(wrong(format!("{n} bytes, not {len}"))),
    }
}

/// A tiny exchange: request, FIN, response, FIN. One in 25 carries a bad
/// `auth` header, and the server refuses it.
async fn rpc(session: Session, i: u64) -> Outcome {
    let auth = if i % 25 == 24 { "guess" } else { "letmein" };
    let headers = [("method", "shout".to_string()), ("auth", auth.into()), ("call", i.to_string())];
    let mut s = session.open_with(RPC, headers).await?;
    let request = format!("hello from call {i}");
    let mut response = Vec::new();
    let exchange = async {
        s.write_all(request.as_bytes()).await?;
        s.shutdown().await?;
        s.read_to_end(&mut response).await
    };
    match exchange.await {
        // A refused stream fails like a reset one, with the server's code.
        Err(e) if Error::reset_code(&e) == Some(DENIED) && auth != "letmein" => Ok(End::Refused),
        Err(e) => Err(e),
        Ok(_) if response != request.to_ascii_uppercase().as_bytes() => Err(wrong("wrong response".into())),
        // The server's reply metadata arrived with its first frame.
        Ok(_) if s.metadata().and_then(|m| m.header("status")) != Some(b"ok") => {
            Err(wrong("no status in the reply metadata".into()))
        }
        Ok(_) => Ok(End::Completed),
    }
}

/// Read the start of an endless download, then reset it with `ENOUGH`:
/// both directions stop at once and the server's next write fails with it.
async fn firehose(session: Session) -> Outcome {
    let mut s = session.open_typed(FIREHOSE).await?;
    s.shutdown().await?;
    let seed = s.id().0;
    read_pattern(&mut s, seed, FIREHOSE_READ).await?;
    s.reset(ENOUGH)?;
    Ok(End::Reset)
}

/// The second half of a request whose first half went out before the
/// GOAWAY: the stream was open then, so it runs to its end as usual.
async fn finish_late(mut s: Stream) -> Outcome {
    s.write_all(b"second half").await?;
    s.shutdown().await?;
    let mut response = Vec::new();
    s.read_to_end(&mut response).await?;
    if response != b"FIRST HALF, SECOND HALF" {
        return Err(wrong(format!("wrong response {:?}", String::from_utf8_lossy(&response))));
    }
    Ok(End::Completed)
}

// --- The scenario and its summary ------------------------------------------

/// A client and a server session over one TCP connection on loopback. In
/// real life the two ends are two programs (see echo_server.rs and
/// echo_client.rs); here they share a process so one command shows both.
async fn connect() -> io::Result<(Session, Session, std::net::SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (accepted, connected) = tokio::join!(listener.accept(), TcpStream::connect(addr));
    let (server_tcp, client_tcp) = (accepted?.0, connected?);
    // braid gathers small frames into large writes itself: Nagle would only add delay.
    server_tcp.set_nodelay(true)?;
    client_tcp.set_nodelay(true)?;
    // `Session::client`/`server` take any tokio AsyncRead + AsyncWrite and
    // spawn the task that drives the session (reads the socket, writes
    // frames, keeps the timers). The handle they return is cheap to clone
    // into every task that needs it. BRAID_TRACE=1 prints every frame.
    let config = Config::default().trace_from_env();
    Ok((Session::client(client_tcp, config.clone()), Session::server(server_tcp, config), addr))
}

/// Run one of the client's streams as a task of its own.
fn start(stream: impl std::future::Future<Output = Outcome> + Send + 'static) -> JoinHandle<Outcome> {
    tokio::spawn(async move {
        let end = stream.await;
        DONE.fetch_add(1, Relaxed);
        end
    })
}

/// The client's streams of one kind: how many were tried, completed, reset
/// and refused, and a note on how they ended.
struct Row {
    kind: &'static str,
    n: [u64; 4],
    how: String,
}

impl Row {
    async fn collect(&mut self, task: JoinHandle<Outcome>, problems: &mut Vec<String>) {
        self.n[0] += 1;
        match task.await {
            Ok(Ok(end)) => self.n[end as usize] += 1,
            Ok(Err(e)) => problems.push(format!("{}: {e}", self.kind)),
            Err(panic) => problems.push(format!("{}: {panic}", self.kind)),
        }
    }

    fn print(kind: &str, n: [u64; 4], how: &str) {
        let line = format!("  {kind:<13} {:>7} {:>9} {:>5} {:>7}   {how}", n[0], n[1], n[2], n[3]);
        println!("{}", line.trim_end());
    }
}

/// The progress line: redrawn in place on a terminal, a plain line four
/// times a second otherwise (a log, a pipe).
async fn show_progress(total: u64, streams: u64, tty: bool) {
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(if tty { 100 } else { 250 })).await;
        let (moved, done) = (MOVED.load(Relaxed), DONE.load(Relaxed));
        let rate = moved as f64 / 1048576.0 / start.elapsed().as_secs_f64();
        let line = format!(
            "{} of {} checked · {done}/{streams} streams done · {rate:.0} MiB/s",
            mib(moved),
            mib(total)
        );
        if tty {
            eprint!("\r\x1b[K  {line}");
        } else {
            eprintln!("  {line}");
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

async fn run(bulk: u64) -> Result<(), Vec<String>> {
    let fail = |what: &str, e: &dyn std::fmt::Display| vec![format!("{what}: {e}")];
    let (client, server, addr) = connect().await.map_err(|e| fail("TCP loopback", &e))?;
    let report = Arc::new(ServerReport::default());
    let serving = tokio::spawn(serve(server.clone(), report.clone()));
    println!("braid demo: a client and a server over TCP {addr}, driven by braid-tokio\n");
    // One request sends its first half now and the rest after the GOAWAY.
    let mut late = client.open_with(RPC, [("auth", "letmein")]).await.map_err(|e| fail("open", &e))?;
    late.write_all(b"first half, ").await.map_err(|e| fail("late request", &e))?;
    // A PING on the idle connection. Its answer also shows that the server
    // has the late request's first frame, so the GOAWAY cannot refuse it.
    let idle_rtt = client.ping().await.map_err(|e| fail("ping", &e))?;

    // Everything at once: every stream is a task, all share one connection.
    let tty = std::io::stderr().is_terminal();
    let checked = 2 * BULK_STREAMS * bulk + FIREHOSE_READ;
    let progress = tokio::spawn(show_progress(checked, 2 * BULK_STREAMS + RPCS + 2, tty));
    let started = Instant::now();
    let mut bulk_tasks = Vec::new();
    for _ in 0..BULK_STREAMS {
        bulk_tasks.push((0, start(upload(client.clone(), bulk))));
        bulk_tasks.push((1, start(download(client.clone(), bulk))));
    }
    let rpc_tasks: Vec<_> = (0..RPCS).map(|i| start(rpc(client.clone(), i))).collect();
    let firehose_task = start(firehose(client.clone()));

    let mut rows = [
        ("upload", format!("{} each, client → server, checked, byte count acknowledged", mib(bulk))),
        ("download", format!("{} each, server → client, checked", mib(bulk))),
        ("rpc", format!("type {RPC} + 3 headers; bad auth refused with {DENIED}, others answered")),
        ("late rpc", "first half sent before the GOAWAY, second half after: answered".into()),
        ("firehose", String::new()),
        ("after GOAWAY", "open() → Err(GoingAway): \"session is going away: no new streams\"".into()),
    ]
    .map(|(kind, how)| Row { kind, n: [0; 4], how });
    let mut problems = Vec::new();
    for task in rpc_tasks {
        rows[2].collect(task, &mut problems).await;
    }
    rows[4].collect(firehose_task, &mut problems).await;

    // Halfway through the bulk transfers the server goes away gracefully
    // (GOAWAY NO_ERROR): streams already open finish, no new ones start.
    while MOVED.load(Relaxed) < checked / 2 && bulk_tasks.iter().any(|(_, t)| !t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let in_flight = 1 + bulk_tasks.iter().filter(|(_, t)| !t.is_finished()).count();
    server.go_away_with(ErrorCode::NO_ERROR, b"demo over").map_err(|e| fail("go_away", &e))?;
    // The PING's answer comes after the GOAWAY on the wire, so once it is
    // back the client has seen the GOAWAY, and `open` must refuse. (The
    // late request keeps the session open until then.)
    let busy_rtt = client.ping().await.map_err(|e| fail("ping", &e))?;
    rows[5].n[0] = 1;
    match client.open().await {
        Err(Error::GoingAway) => rows[5].n[3] = 1,
        Err(e) => problems.push(format!("open after GOAWAY failed with {e:?}, not GoingAway")),
        Ok(s) => problems.push(format!("open after GOAWAY succeeded (stream {})", s.id())),
    }
    rows[3].collect(start(finish_late(late)), &mut problems).await;
    for (row, task) in bulk_tasks {
        rows[row].collect(task, &mut problems).await;
    }
    let secs = started.elapsed().as_secs_f64();

    // With its streams done, the server's session ends and closes the
    // socket; the client's ends on that. `closed` says how each ended.
    let (client_end, server_end, served) = tokio::join!(client.closed(), server.closed(), serving);
    progress.abort();
    if tty {
        eprint!("\r\x1b[K");
    }

    // The checks beyond each stream's own.
    let (code, sent) = report.firehose.lock().unwrap().unwrap_or_default();
    let seen = code.map_or("no code".into(), |c| c.to_string());
    let read = mib(FIREHOSE_READ);
    rows[4].how = format!(
        "client read {read} then reset it with {ENOUGH}; the server's write failed with {seen} after {}",
        mib(sent)
    );
    if code != Some(ENOUGH) {
        problems.push(format!("firehose: the server's write failed with {seen}, not {ENOUGH}"));
    }
    if rows[2].n[3] != RPCS / 25 || report.refused.load(Relaxed) != RPCS / 25 {
        problems.push(format!("rpc: {} refused, expected {}", rows[2].n[3], RPCS / 25));
    }
    problems.extend(report.problems.lock().unwrap().drain(..));
    if served.is_err() {
        problems.push("the server's accept loop failed".into());
    }
    if client_end.remote() != Some(ErrorCode::NO_ERROR) || client_end.remote_debug != b"demo over" {
        problems.push(format!("the client did not see the server's GOAWAY: {client_end}"));
    }

    // The summary.
    let head = ("streams", "tried", "completed", "reset", "refused");
    println!("  {:<13} {:>7} {:>9} {:>5} {:>7}   how they ended", head.0, head.1, head.2, head.3, head.4);
    rows.iter().for_each(|r| Row::print(r.kind, r.n, &r.how));
    Row::print("total", rows.iter().fold([0; 4], |t, r| std::array::from_fn(|i| t[i] + r.n[i])), "");
    let (stats, all) = (client.stats(), 2 * BULK_STREAMS * bulk);
    let way = |dir, data, wire| println!("{dir}  {} of stream data, {} on the wire", mib(data), mib(wire));
    way("\nclient → server", stats.data_sent, stats.bytes_sent);
    way("server → client", stats.data_received, stats.bytes_received);
    let (rate, idle, busy) = (all as f64 / 1048576.0 / secs, idle_rtt.as_micros(), busy_rtt.as_micros());
    println!("throughput       {} of bulk in {secs:.2} s: {rate:.0} MiB/s", mib(all));
    println!("round trip       {idle} µs idle, {busy} µs during the transfers (PING)");
    println!("GOAWAY           sent by the server with {in_flight} streams open; each then ran to its end");
    // `SessionEnd` says what this side did (`local`) and the code of the
    // peer's GOAWAY (`remote`), with its debug text. When the server closes
    // the connection before the client's own drain is over, the client's
    // end also reads "transport closed"; after a NO_ERROR GOAWAY that still
    // counts as graceful.
    for (who, end) in [("client", &client_end), ("server", &server_end)] {
        let graceful = if end.is_graceful() { "graceful" } else { "NOT graceful" };
        println!("session end      {who}: {end} ({graceful})");
        if !end.is_graceful() {
            problems.push(format!("the {who} session did not end gracefully: {end}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bulk_mib: u64 = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => 64,
        ["--mib", n] if n.parse::<u64>().is_ok_and(|n| n > 0) => n.parse().unwrap_or(64),
        _ => {
            eprintln!("usage: demo [--mib N]   (N MiB per bulk stream, default 64)");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let hung = |_| Err(vec!["still running after 60 s: a stream or the session hangs".to_string()]);
    match tokio::time::timeout(Duration::from_secs(60), run(bulk_mib << 20)).await.unwrap_or_else(hung) {
        Ok(()) => {
            println!("\ndemo OK: every byte checked ({:.2} s)", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!("\ndemo FAILED:");
            problems.iter().for_each(|p| eprintln!("  - {p}"));
            ExitCode::FAILURE
        }
    }
}
