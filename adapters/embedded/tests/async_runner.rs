//! Two async stacks joined by an in-memory pipe, with and without the link
//! layer, driven by the harness's executor on virtual time.

mod common;

use braid::link::{Link, LinkConfig};
use braid::{Config, LocalError, ReadError};
use braid_embedded::{Framing, Resources, Runner, Stack};
use common::{data, pipe, run, Noise, Task, VirtualTime};
use std::cell::Cell;

type Mem = Resources<4, 512, 512>;
type S<'a> = Stack<'a, 4, 512, 512>;

/// Client side of the exchange on one stream: send `up` bytes, FIN, then
/// read the reply to its end and check it byte for byte.
async fn client_stream(stack: S<'_>, i: u64, up: usize, down: usize) {
    let mut s = stack.open().await.expect("open");
    let sent = data(i, up);
    s.write_all(&sent).await.expect("write");
    s.finish().expect("finish");
    let mut got = Vec::new();
    let mut buf = [0u8; 97];
    loop {
        let n = s.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), down, "stream {i}: reply length");
    assert!(got == data(1000 + i, down), "stream {i}: reply bytes differ");
}

/// Server side: accept, read everything (the first 8 bytes tell which
/// stream it is by matching the data), check it, answer, FIN, drop at once
/// (the runner keeps the dropped stream until its data is out).
async fn server_stream(stack: S<'_>, count: u64, up: usize, down: usize, done: &Cell<u32>) {
    let mut s = stack.accept().await.expect("accept");
    let mut got = Vec::new();
    let mut buf = [0u8; 61];
    loop {
        let n = s.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let i =
        (0..count).find(|&i| got == data(i, up)).expect("the bytes of one of the client's streams, exactly");
    s.write_all(&data(1000 + i, down)).await.expect("write");
    s.finish().expect("finish");
    drop(s);
    done.set(done.get() + 1);
}

fn runner_task<'a: 'b, 'b, F: Framing + 'b>(
    runner: &'b mut Runner<'a, F, 4, 512, 512>,
    rx: common::Rx,
    tx: common::Tx,
    time: VirtualTime,
) -> Task<'b> {
    Box::pin(async move {
        let _ = runner.run(rx, tx, time).await;
    })
}

#[test]
fn direct_concurrent_streams_byte_for_byte() {
    let time = VirtualTime::default();
    let (mut ma, mut mb) = (Mem::new(), Mem::new());
    let (client, mut cr) = braid_embedded::new(&mut ma, Config::client());
    let (server, mut sr) = braid_embedded::new(&mut mb, Config::server());
    let ((arx, atx), (brx, btx)) = pipe(300, None);
    let done = Cell::new(0);
    let (up, down) = (20_000, 9_000);
    let mut tasks: Vec<(Task<'_>, bool)> = vec![
        (runner_task(&mut cr, arx, atx, time.clone()), false),
        (runner_task(&mut sr, brx, btx, time.clone()), false),
    ];
    for i in 0..3 {
        tasks.push((Box::pin(client_stream(client, i, up, down)), true));
        tasks.push((Box::pin(server_stream(server, 3, up, down, &done)), true));
    }
    run(&time, 60, tasks);
    assert_eq!(done.get(), 3);
    assert_eq!(client.generation(), 1);
    // Every stream was forgotten: the dropped ones too.
    assert_eq!(client.with_session(|s| s.streams_in_use()), Some(0));
    assert_eq!(server.with_session(|s| s.streams_in_use()), Some(0));
}

#[test]
fn direct_run_ends_with_the_session_and_runs_again() {
    let time = VirtualTime::default();
    let (mut ma, mut mb) = (Mem::new(), Mem::new());
    let (client, mut cr) = braid_embedded::new(&mut ma, Config::client());
    let (server, mut sr) = braid_embedded::new(&mut mb, Config::server());
    for round in 1..=2u32 {
        let ((arx, atx), (brx, btx)) = pipe(1024, None);
        let ends = std::cell::RefCell::new(Vec::new());
        let done = Cell::new(0);
        let tasks: Vec<(Task<'_>, bool)> = vec![
            (
                Box::pin(async {
                    let r = cr.run(arx, atx, time.clone()).await.expect("no I/O error");
                    ends.borrow_mut().push(r);
                }),
                true,
            ),
            (
                Box::pin(async {
                    let r = sr.run(brx, btx, time.clone()).await.expect("no I/O error");
                    ends.borrow_mut().push(r);
                }),
                true,
            ),
            (Box::pin(client_stream(client, 0, 3000, 2000)), true),
            (
                Box::pin(async {
                    server_stream(server, 1, 3000, 2000, &done).await;
                    // Everything was read and answered: a graceful GOAWAY.
                    // The session ends once the reply is out and the
                    // client's stream is over; then both runs return.
                    server.go_away(braid::ErrorCode::NO_ERROR, b"bye").unwrap();
                }),
                true,
            ),
        ];
        run(&time, 60, tasks);
        assert_eq!(done.get(), 1);
        assert_eq!(client.generation(), round);
        let ends = ends.into_inner();
        assert_eq!(ends.len(), 2);
        for end in ends {
            assert!(end.is_graceful(), "round {round}: {end:?}");
        }
    }
}

#[test]
fn direct_end_of_input_ends_the_run() {
    let time = VirtualTime::default();
    let mut ma = Mem::new();
    let (client, mut cr) = braid_embedded::new(&mut ma, Config::client());
    let ((arx, atx), (_brx, btx)) = pipe(1024, None);
    drop(btx); // the peer hung up
    let end = Cell::new(None);
    run(
        &time,
        60,
        vec![(
            Box::pin(async {
                end.set(Some(cr.run(arx, atx, time.clone()).await.unwrap()));
            }),
            true,
        )],
    );
    assert_eq!(end.get().unwrap().local, Some(LocalError::TransportEof));
    assert!(client.try_open().is_err());
}

#[test]
fn link_reliable_noisy_line_delivers_every_byte() {
    for seed in 1..=8 {
        reliable_noisy(seed);
    }
}

fn reliable_noisy(seed: u64) {
    let time = VirtualTime::default();
    let (mut ma, mut mb) = (Mem::new(), Mem::new());
    let cfg = |epoch| Link::<136, 4>::new(LinkConfig::reliable(epoch));
    let (client, mut cr) = braid_embedded::new_linked(&mut ma, Config::client(), cfg(0x1111));
    let (server, mut sr) = braid_embedded::new_linked(&mut mb, Config::server(), cfg(0x2222));
    let noise = Noise::new(seed, 400);
    let ((arx, atx), (brx, btx)) = pipe(4096, Some(noise.clone()));
    let done = Cell::new(0);
    let (up, down) = (6_000, 5_000);
    {
        let mut tasks: Vec<(Task<'_>, bool)> = vec![
            (runner_task(&mut cr, arx, atx, time.clone()), false),
            (runner_task(&mut sr, brx, btx, time.clone()), false),
        ];
        for i in 0..3 {
            tasks.push((Box::pin(client_stream(client, i, up, down)), true));
            tasks.push((Box::pin(server_stream(server, 3, up, down, &done)), true));
        }
        run(&time, 600, tasks);
    }
    assert_eq!(done.get(), 3);
    assert!(noise.hits.get() > 20, "the line was noisy: {} hits", noise.hits.get());
    // Repaired below the session: still the first session on both sides.
    assert_eq!((client.generation(), server.generation()), (1, 1));
    assert_eq!(client.stats().sessions_ended, 0);
    let (a, b) = (*cr.framing().stats(), *sr.framing().stats());
    assert!(a.frames_corrupt + b.frames_corrupt > 0);
    assert!(a.frames_retransmitted + b.frames_retransmitted > 0);
}

#[test]
fn link_fail_stop_ends_the_session_and_a_new_one_works() {
    for seed in 1..=8 {
        fail_stop(seed);
    }
}

fn fail_stop(seed: u64) {
    let time = VirtualTime::default();
    let (mut ma, mut mb) = (Mem::new(), Mem::new());
    let cfg = |epoch| Link::<136, 1>::new(LinkConfig::fail_stop(epoch));
    let (client, mut cr) = braid_embedded::new_linked(&mut ma, Config::client(), cfg(0x1111));
    let (server, mut sr) = braid_embedded::new_linked(&mut mb, Config::server(), cfg(0x2222));
    let noise = Noise::new(seed, 300);
    let ((arx, atx), (brx, btx)) = pipe(4096, Some(noise.clone()));
    let done = Cell::new(0);
    let phase1_end = Cell::new(None);
    let tasks: Vec<(Task<'_>, bool)> = vec![
        (runner_task(&mut cr, arx, atx, time.clone()), false),
        (runner_task(&mut sr, brx, btx, time.clone()), false),
        (
            Box::pin(async {
                // Phase 1: a noisy line; bulk data until the session breaks.
                let mut s = loop {
                    // The handshake itself may be broken by the noise.
                    match client.open().await {
                        Ok(s) => break s,
                        Err(_) => nap(&time).await,
                    }
                };
                let chunk = data(1, 1000);
                let err = loop {
                    if let Err(e) = s.write_all(&chunk).await {
                        break e;
                    }
                };
                assert_eq!(err, braid::WriteError::SessionClosed);
                phase1_end.set(client.stats().last_end);
                let broken = s.generation();
                drop(s);
                // Phase 2: a clean line; a new session comes up and works.
                noise.on.set(false);
                while client.generation() <= broken || !client.is_connected() {
                    client.wait_connected().await;
                    if client.generation() <= broken {
                        nap(&time).await;
                    }
                }
                client_stream(client, 5, 4000, 3000).await;
            }),
            true,
        ),
        (
            Box::pin(async {
                // Serve every stream: phase 1's fails with the session,
                // phase 2's is checked byte for byte by client_stream.
                loop {
                    let Ok(mut s) = server.accept().await else {
                        nap(&time).await;
                        continue;
                    };
                    let mut got = Vec::new();
                    let mut buf = [0u8; 128];
                    let ok = loop {
                        match s.read(&mut buf).await {
                            Ok(0) => break true,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                            Err(ReadError::SessionClosed) => break false,
                            Err(e) => panic!("{e:?}"),
                        }
                    };
                    if ok {
                        assert!(got == data(5, 4000), "phase 2 bytes differ");
                        s.write_all(&data(1005, 3000)).await.expect("write");
                        s.finish().expect("finish");
                        done.set(1);
                        return;
                    }
                }
            }),
            true,
        ),
    ];
    run(&time, 600, tasks);
    assert_eq!(done.get(), 1);
    let end = phase1_end.get().expect("phase 1's session ended");
    assert!(matches!(end.local, Some(LocalError::Link(_))), "phase 1 ended by the link: {end:?}");
    assert!(client.generation() >= 2 && server.generation() >= 2);
    assert!(client.stats().sessions_ended >= 1 && server.stats().sessions_ended >= 1);
}

/// Sleep 10 ms of virtual time.
async fn nap(time: &VirtualTime) {
    use braid_embedded::{Clock, Timer};
    time.sleep_until(time.now() + braid::Duration::from_millis(10)).await;
}
