//! The example programs, run as a user would: the echo server and client
//! over TCP and a Unix socket, and both demos.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A running `echo_server`, killed when dropped; its stdout lines arrive on
/// a channel.
struct Server {
    child: Child,
    lines: Receiver<String>,
    /// Where it listens: the last word of its first line.
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_echo_server"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start echo_server");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, lines) = channel();
        std::thread::spawn(move || stdout.lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
        let mut server = Server { child, lines, addr: String::new() };
        let first = server.next_line().expect("echo_server printed nothing");
        assert!(first.starts_with("echo server listening on "), "{first}");
        server.addr = first.rsplit(' ').next().unwrap_or_default().to_string();
        server
    }

    fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(20)).ok()
    }

    /// Lines until one satisfies `done` (or 20 s pass), all of them.
    fn lines_until(&self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            let last = done(&line);
            seen.push(line);
            if last {
                break;
            }
        }
        seen
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echo_client"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start echo_client");
    child.stdin.take().expect("piped stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("echo_client output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Load mode against `server`: 20 streams checked by the client, and one
/// line per stream from the server, then the session's graceful end.
fn load_test(server: &Server, flag: &str) {
    let out = client(&[flag, &server.addr, "--streams", "20", "--bytes", "300000"], "");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "echo_client failed: {}{}", stdout, text(&out.stderr));
    assert!(stdout.contains("20 streams × 300000 bytes echoed and checked"), "{stdout}");

    let lines = server.lines_until(|l| l.contains(": ended:"));
    let echoed = lines.iter().filter(|l| l.ends_with("(type 2): echoed 300000 bytes, finished")).count();
    assert_eq!(echoed, 20, "one line per stream expected:\n{}", lines.join("\n"));
    let end = lines.last().map_or("", String::as_str);
    assert!(end.contains("peer sent GOAWAY NO_ERROR"), "{end}");
}

#[test]
fn echo_over_tcp() {
    let server = Server::start(&["--tcp", "127.0.0.1:0"]);
    load_test(&server, "--tcp");
}

#[test]
fn echo_over_a_unix_socket() {
    let path = std::env::temp_dir().join(format!("braid-echo-test-{}.sock", std::process::id()));
    let path = path.to_str().expect("utf-8 temp path");
    let server = Server::start(&["--unix", path]);
    load_test(&server, "--unix");
    drop(server);
    let _ = std::fs::remove_file(path);
}

#[test]
fn echo_lines_from_stdin() {
    let server = Server::start(&["--tcp", "127.0.0.1:0"]);
    let out = client(&["--tcp", &server.addr], "hello\nbraid streams\n");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "echo_client failed: {}{}", stdout, text(&out.stderr));
    assert_eq!(stdout, "stream 1: hello\nstream 3: braid streams\n");
}

#[test]
fn the_tcp_demo_passes_and_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo")).args(["--mib", "2"]).output().expect("run demo");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", text(&out.stderr));
    // The reset's code, as the client sent it and as the server saw it.
    assert!(
        stdout.contains("reset it with APPLICATION(0x7); the server's write failed with APPLICATION(0x7)"),
        "{stdout}"
    );
    assert!(stdout.contains("GOAWAY           sent by the server"), "{stdout}");
    assert!(stdout.contains("peer sent GOAWAY NO_ERROR"), "{stdout}");
    assert!(stdout.contains("demo OK"), "{stdout}");
}

#[test]
fn the_sans_io_demo_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_sans_io")).output().expect("run sans_io");
    assert!(out.status.success(), "sans_io failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
}
