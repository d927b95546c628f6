//! The blocking runner: two stacks stepped from one loop, as a firmware
//! main loop would, over a plain pipe and over a noisy link.

mod common;

use braid::link::{Link, LinkConfig};
use braid::{Config, Instant, ReadError, WriteError};
use braid_embedded::{Framing, Resources, Runner, Stack, Step, Stream};
use common::{data, pipe, Blocking, Noise};

type Mem = Resources<4, 512, 512>;

/// One stream's progress on the client side: send, FIN, read the echo.
struct Flow<'a> {
    stream: Stream<'a, 4, 512, 512>,
    sent: usize,
    finished: bool,
    got: Vec<u8>,
    eof: bool,
}

/// Step both runners and both applications until every flow is echoed
/// back in full; returns the virtual time it took.
fn exchange<'a, F: Framing>(
    (client, cr, cio): (Stack<'a, 4, 512, 512>, &mut Runner<'a, F, 4, 512, 512>, &mut Blocking),
    (server, sr, sio): (Stack<'a, 4, 512, 512>, &mut Runner<'a, F, 4, 512, 512>, &mut Blocking),
    streams: u64,
    len: usize,
) -> u64 {
    let mut now = 0u64;
    let mut flows: Vec<Flow<'a>> = Vec::new();
    let mut served: Vec<(Stream<'a, 4, 512, 512>, Vec<u8>, bool)> = Vec::new();
    let mut buf = [0u8; 200];
    for _ in 0..2_000_000 {
        let instant = Instant::from_micros(now);
        let a = cr.poll(cio, instant).expect("client pipe");
        let b = sr.poll(sio, instant).expect("server pipe");
        assert!(matches!(a, Step::Idle(_)) && matches!(b, Step::Idle(_)), "{a:?} {b:?}");
        // Client application.
        while (flows.len() as u64) < streams {
            match client.try_open() {
                Ok(stream) => {
                    flows.push(Flow { stream, sent: 0, finished: false, got: Vec::new(), eof: false })
                }
                Err(_) => break,
            }
        }
        for (i, f) in flows.iter_mut().enumerate() {
            let want = data(i as u64, len);
            while f.sent < len {
                match f.stream.try_write(&want[f.sent..]) {
                    Ok(n) => f.sent += n,
                    Err(WriteError::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            if f.sent == len && !f.finished {
                f.stream.finish().unwrap();
                f.finished = true;
            }
            while !f.eof {
                match f.stream.try_read(&mut buf) {
                    Ok(0) => f.eof = true,
                    Ok(n) => f.got.extend_from_slice(&buf[..n]),
                    Err(ReadError::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        // Server application: an echo that writes what it read.
        while let Ok(s) = server.try_accept() {
            served.push((s, Vec::new(), false));
        }
        for (s, pending, done) in &mut served {
            if !pending.is_empty() {
                match s.try_write(pending) {
                    Ok(n) => drop(pending.drain(..n)),
                    Err(WriteError::WouldBlock) => {}
                    Err(e) => panic!("{e:?}"),
                }
            }
            while pending.is_empty() && !*done {
                match s.try_read(&mut buf) {
                    Ok(0) => {
                        *done = true;
                    }
                    Ok(n) => match s.try_write(&buf[..n]) {
                        Ok(w) => pending.extend_from_slice(&buf[w..n]),
                        Err(WriteError::WouldBlock) => pending.extend_from_slice(&buf[..n]),
                        Err(e) => panic!("{e:?}"),
                    },
                    Err(ReadError::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            if *done && pending.is_empty() {
                let _ = s.finish();
            }
        }
        if flows.len() as u64 == streams && flows.iter().all(|f| f.eof) {
            for (i, f) in flows.iter().enumerate() {
                assert_eq!(f.got.len(), len, "stream {i}");
                assert!(f.got == data(i as u64, len), "stream {i}: bytes differ");
            }
            return now;
        }
        // Time moves only when both sides are idle with a deadline (a
        // microcontroller would sleep until it or the next interrupt).
        now += 100;
    }
    panic!("no progress");
}

#[test]
fn blocking_plain_pipe_echoes_concurrent_streams() {
    let (mut ma, mut mb) = (Mem::new(), Mem::new());
    let (client, mut cr) = braid_embedded::new(&mut ma, Config::client());
    let (server, mut sr) = braid_embedded::new(&mut mb, Config::server());
    let ((arx, atx), (brx, btx)) = pipe(1 << 20, None);
    let (mut cio, mut sio) = (Blocking(arx, atx), Blocking(brx, btx));
    exchange((client, &mut cr, &mut cio), (server, &mut sr, &mut sio), 3, 10_000);
    // A close ends both runs: the client's at once, the server's on the
    // GOAWAY and end of the session.
    client.close();
    let a = cr.poll(&mut cio, Instant::ZERO).unwrap();
    let b = sr.poll(&mut sio, Instant::ZERO).unwrap();
    assert!(matches!(a, Step::Ended(r) if r.is_graceful()), "{a:?}");
    assert!(matches!(b, Step::Ended(r) if r.is_graceful()), "{b:?}");
    // The next poll starts a new session.
    let _ = cr.poll(&mut cio, Instant::ZERO).unwrap();
    assert_eq!(client.generation(), 2);
}

#[test]
fn blocking_link_reliable_over_a_noisy_line() {
    let (mut ma, mut mb) = (Mem::new(), Mem::new());
    let link = |epoch| Link::<136, 4>::new(LinkConfig::reliable(epoch));
    let (client, mut cr) = braid_embedded::new_linked(&mut ma, Config::client(), link(1));
    let (server, mut sr) = braid_embedded::new_linked(&mut mb, Config::server(), link(2));
    let noise = Noise::new(3, 500);
    let ((arx, atx), (brx, btx)) = pipe(1 << 20, Some(noise.clone()));
    let (mut cio, mut sio) = (Blocking(arx, atx), Blocking(brx, btx));
    exchange((client, &mut cr, &mut cio), (server, &mut sr, &mut sio), 2, 4_000);
    assert!(noise.hits.get() > 5);
    assert_eq!((client.generation(), server.generation()), (1, 1));
}
