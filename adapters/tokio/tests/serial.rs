//! `SerialLink`: sessions over a serial line through braid's link layer.
//!
//! The line is a relay between two in-memory pipes that can damage bytes
//! (flip a bit, drop a byte, each at a seeded rate per byte), be cut, or
//! have its far end replaced by a new peer (a device that rebooted).

mod common;

use braid_tokio::{Config, LinkConfig, LinkError, LinkState, LocalError, SerialLink, SessionEnd};
use common::echo_checked;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// Damage rates of the line, in parts per million of bytes, each way.
#[derive(Clone, Copy, Default)]
struct Noise {
    flip_ppm: u64,
    drop_ppm: u64,
}

/// The relay's controls.
struct Line {
    noise: Arc<Mutex<Noise>>,
    /// A new far end for the server side (the old one is dropped).
    replace: mpsc::UnboundedSender<DuplexStream>,
    /// Bytes flipped and dropped so far.
    damaged: Arc<Mutex<u64>>,
    relay: tokio::task::JoinHandle<()>,
}

impl Line {
    fn set_noise(&self, flip_ppm: u64, drop_ppm: u64) {
        *self.noise.lock().unwrap() = Noise { flip_ppm, drop_ppm };
    }

    fn damaged(&self) -> u64 {
        *self.damaged.lock().unwrap()
    }

    /// A fresh pipe for a new server-side peer; the old peer's pipe is
    /// dropped by the relay (it reads EOF).
    fn new_server_end(&self) -> DuplexStream {
        let (relay_end, peer_end) = tokio::io::duplex(64 * 1024);
        self.replace.send(relay_end).unwrap();
        peer_end
    }

    /// Cut the line: both sides read EOF.
    fn cut(self) {
        self.relay.abort();
    }
}

/// xorshift64*: a seeded, reproducible stream of numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Copy `data` with the line's damage applied into `out`.
fn damage(rng: &mut Rng, noise: Noise, data: &[u8], out: &mut Vec<u8>) -> u64 {
    out.clear();
    let mut hits = 0;
    for &b in data {
        if noise.drop_ppm > 0 && rng.next() % 1_000_000 < noise.drop_ppm {
            hits += 1;
            continue;
        }
        if noise.flip_ppm > 0 && rng.next() % 1_000_000 < noise.flip_ppm {
            hits += 1;
            out.push(b ^ (1 << (rng.next() % 8)));
        } else {
            out.push(b);
        }
    }
    hits
}

/// A line between a client end and a server end, both returned.
fn line(seed: u64) -> (DuplexStream, DuplexStream, Line) {
    let (client_end, mut a) = tokio::io::duplex(64 * 1024);
    let (server_end, mut b) = tokio::io::duplex(64 * 1024);
    let noise = Arc::new(Mutex::new(Noise::default()));
    let damaged = Arc::new(Mutex::new(0));
    let (replace, mut replaced) = mpsc::unbounded_channel::<DuplexStream>();
    let relay = {
        let (noise, damaged) = (noise.clone(), damaged.clone());
        tokio::spawn(async move {
            let mut rng = Rng(seed | 1);
            let (mut from_a, mut from_b) = (vec![0u8; 4096], vec![0u8; 4096]);
            let mut out = Vec::new();
            loop {
                tokio::select! {
                    new_b = replaced.recv() => match new_b {
                        Some(new_b) => b = new_b,
                        None => return,
                    },
                    n = a.read(&mut from_a) => {
                        let Ok(n @ 1..) = n else { return };
                        let noise = *noise.lock().unwrap();
                        *damaged.lock().unwrap() += damage(&mut rng, noise, &from_a[..n], &mut out);
                        // A peer that is gone loses the bytes, as a UART would.
                        let _ = b.write_all(&out).await;
                    }
                    n = b.read(&mut from_b) => {
                        // The server's peer went away: wait for a new one.
                        let Ok(n @ 1..) = n else {
                            match replaced.recv().await {
                                Some(new_b) => { b = new_b; continue; }
                                None => return,
                            }
                        };
                        let noise = *noise.lock().unwrap();
                        *damaged.lock().unwrap() += damage(&mut rng, noise, &from_b[..n], &mut out);
                        if a.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                }
            }
        })
    };
    (client_end, server_end, Line { noise, replace, damaged, relay })
}

/// Small frames and windows, as over a UART, with quick timers.
fn link(epoch: u32, reliable: bool) -> LinkConfig {
    let config = if reliable { LinkConfig::reliable(epoch) } else { LinkConfig::fail_stop(epoch) };
    config
        .with_retransmit(braid::Duration::from_millis(40), 30)
        .with_ack_delay(braid::Duration::from_millis(5))
        .with_sync_interval(braid::Duration::from_millis(30))
}

/// Echo every stream of every session the server side is given.
fn echo_server(mut serial: SerialLink) -> tokio::task::JoinHandle<SerialLink> {
    tokio::spawn(async move {
        while let Some(session) = serial.next_session().await {
            tokio::spawn(async move {
                while let Ok(stream) = session.accept().await {
                    tokio::spawn(async move {
                        let (mut r, mut w) = stream.into_split();
                        if tokio::io::copy(&mut r, &mut w).await.is_ok() {
                            let _ = w.shutdown().await;
                        }
                    });
                }
            });
        }
        serial
    })
}

fn link_error(end: &SessionEnd) -> Option<LinkError> {
    match end.reason.local {
        Some(LocalError::Link(e)) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn reliable_mode_delivers_every_byte_over_a_noisy_line() {
    let (a, b, line) = line(7);
    // Shorter frames than the default 1024-byte bodies for a noisy line:
    // the smaller announced MTU is the one both sides use.
    let mut client = SerialLink::client(a, Config::default(), link(1, true).with_mtu(256));
    let server = echo_server(SerialLink::server(b, Config::default(), link(2, true)));
    let session = client.next_session().await.unwrap();
    echo_checked(&session, 1, 10_000).await.unwrap();
    assert_eq!(client.link_state(), LinkState::Up);
    assert_eq!(client.with_link(|l| (l.mtu(), l.window(), l.is_reliable())), Some((256, 8, true)));

    line.set_noise(500, 500);
    let streams: Vec<_> = (10..16)
        .map(|seed| {
            let session = session.clone();
            tokio::spawn(async move { echo_checked(&session, seed, 15_000).await })
        })
        .collect();
    for s in streams {
        s.await.unwrap().unwrap();
    }
    let stats = client.link_stats();
    assert!(line.damaged() > 100, "the line damaged only {} bytes", line.damaged());
    assert!(stats.frames_corrupt > 0 && stats.frames_retransmitted > 0, "{stats:?}");
    assert_eq!(client.sessions_started(), 1, "the session restarted");
    assert!(!session.is_closed());
    assert_eq!(session.link_stats().map(|s| s.frames_corrupt), Some(stats.frames_corrupt));

    line.set_noise(0, 0);
    let end = tokio::time::timeout(Duration::from_secs(10), session.close()).await.unwrap();
    assert!(end.reason.is_graceful(), "{end}");
    drop(server);
}

#[tokio::test]
async fn fail_stop_mode_ends_the_session_with_a_link_error_and_starts_a_new_one() {
    let (a, b, line) = line(11);
    let mut client = SerialLink::client(a, Config::default(), link(1, false));
    let server = echo_server(SerialLink::server(b, Config::default(), link(2, false)));
    let first = client.next_session().await.unwrap();
    echo_checked(&first, 1, 20_000).await.unwrap();
    assert_eq!(client.with_link(|l| l.is_reliable()), Some(false));

    // Damage: the session ends with a link error, never with bad data.
    line.set_noise(5000, 5000);
    let mut outcome = Ok(());
    for seed in 2..200 {
        outcome = echo_checked(&first, seed, 20_000).await;
        if outcome.is_err() {
            break;
        }
    }
    assert!(outcome.is_err(), "a damaged line never ended the session");
    let end = tokio::time::timeout(Duration::from_secs(5), first.closed()).await.unwrap();
    let error = link_error(&end).unwrap_or_else(|| panic!("not a link error: {end}"));
    assert!(
        matches!(error, LinkError::CorruptFrame | LinkError::FrameLost | LinkError::PeerResynced),
        "{error:?}"
    );

    // A new session comes up on the same line and works.
    line.set_noise(0, 0);
    let second = tokio::time::timeout(Duration::from_secs(5), client.next_session()).await.unwrap().unwrap();
    for seed in 300..303 {
        echo_checked(&second, seed, 20_000).await.unwrap();
    }
    assert!(client.sessions_started() >= 2);
    drop(server);
}

#[tokio::test]
async fn a_peer_that_rebooted_ends_the_session_and_a_new_one_works() {
    let (a, b, line) = line(3);
    let mut client = SerialLink::client(a, Config::default(), link(1, true));
    let server = echo_server(SerialLink::server(b, Config::default(), link(100, true)));
    let first = client.next_session().await.unwrap();
    echo_checked(&first, 1, 5000).await.unwrap();

    // The device reboots: its old pipe end is gone (without a word on the
    // line), a new program with a new epoch starts.
    server.abort();
    let _ = server.await;
    let rebooted = echo_server(SerialLink::server(line.new_server_end(), Config::default(), link(101, true)));
    let end = tokio::time::timeout(Duration::from_secs(5), first.closed()).await.unwrap();
    assert_eq!(link_error(&end), Some(LinkError::PeerRestarted), "{end}");
    let second = tokio::time::timeout(Duration::from_secs(5), client.next_session()).await.unwrap().unwrap();
    echo_checked(&second, 2, 5000).await.unwrap();
    assert_eq!(client.with_link(|l| l.peer_id().map(|p| p.epoch)), Some(Some(101)));
    drop(rebooted);
}

#[tokio::test]
async fn the_sessions_are_over_when_the_line_ends() {
    let (a, b, line) = line(5);
    let mut client = SerialLink::client(a, Config::default(), link(1, true));
    let _server = echo_server(SerialLink::server(b, Config::default(), link(2, true)));
    let session = client.next_session().await.unwrap();
    echo_checked(&session, 1, 1000).await.unwrap();
    line.cut();
    assert!(tokio::time::timeout(Duration::from_secs(5), client.next_session()).await.unwrap().is_none());
    let end = client.closed().await;
    assert_eq!(end.reason.local, Some(LocalError::TransportEof), "{end}");
    assert_eq!(session.closed().await.reason.local, Some(LocalError::TransportEof));
    assert_eq!(client.link_state(), LinkState::Down);
}

#[tokio::test]
async fn close_ends_the_current_session_gracefully_and_starts_no_other() {
    let (a, b, _line) = line(9);
    let mut client = SerialLink::client(a, Config::default(), link(1, true));
    let server = echo_server(SerialLink::server(b, Config::default(), link(2, true)));
    let session = client.next_session().await.unwrap();
    echo_checked(&session, 1, 3000).await.unwrap();
    client.close();
    let end = tokio::time::timeout(Duration::from_secs(5), client.closed()).await.unwrap();
    assert!(end.reason.is_graceful(), "{end}");
    assert!(client.next_session().await.is_none());
    assert_eq!(client.sessions_started(), 1);
    assert!(session.open().await.is_err());
    // The server side saw the line end after the GOAWAY.
    let server = tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
    assert!(server.end().is_some());
}

#[tokio::test]
async fn a_session_ended_by_goaway_is_followed_by_a_new_one() {
    let (a, b, _line) = line(13);
    let mut client = SerialLink::client(a, Config::default(), link(1, true));
    let _server = echo_server(SerialLink::server(b, Config::default(), link(2, true)));
    let first = client.next_session().await.unwrap();
    echo_checked(&first, 1, 3000).await.unwrap();
    // Dropping the last handle of a session sends GOAWAY; the link carries
    // a new session afterwards.
    drop(first);
    let second = tokio::time::timeout(Duration::from_secs(5), client.next_session()).await.unwrap().unwrap();
    echo_checked(&second, 2, 3000).await.unwrap();
    assert_eq!(client.sessions_started(), 2);
}
