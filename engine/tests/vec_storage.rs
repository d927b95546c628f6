//! `VecStorage` (feature `alloc`): buffers grow on demand up to their
//! limits, carry data correctly across growth, and are given back by
//! `trim_buffers` once empty.
#![cfg(feature = "alloc")]

use braid::pair::Pair;
use braid::{Config, StreamId, VecStorage};

fn pair(streams: usize, buffer: usize) -> Pair<VecStorage, VecStorage, 65536> {
    let mut config = Config::client();
    config.stream_window = 64 * 1024;
    let mut server = Config::server();
    server.stream_window = 64 * 1024;
    let mut p = Pair::new(
        config,
        VecStorage::new(streams, buffer, buffer),
        server,
        VecStorage::new(streams, buffer, buffer),
    );
    p.step();
    p
}

#[test]
fn idle_streams_hold_no_buffers_and_busy_ones_grow() {
    let mut p = pair(64, 128 * 1024);
    let ids: Vec<StreamId> = (0..20).map(|_| p.client.open().unwrap()).collect();
    p.step();
    while p.server.accept().is_ok() {}
    assert_eq!(p.client.storage().buffer_bytes(), 0, "opening streams allocates no buffers");
    assert_eq!(p.server.storage().buffer_bytes(), 0);

    // One stream carries 1 MiB, with data checked across buffer growth.
    let id = ids[3];
    let total = 1 << 20;
    let (mut sent, mut got) = (0usize, 0usize);
    let mut buf = vec![0u8; 7000];
    while got < total {
        if sent < total {
            let chunk: Vec<u8> = (sent..(sent + 5000).min(total)).map(|i| (i % 251) as u8).collect();
            if let Ok(n) = p.client.write(id, &chunk) {
                sent += n;
            }
        }
        p.step();
        while let Ok(n) = p.server.read(id, &mut buf) {
            if n == 0 {
                break;
            }
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, ((got + k) % 251) as u8, "byte {}", got + k);
            }
            got += n;
        }
        p.step();
    }
    assert!(p.server.storage().buffer_bytes() > 0);
    assert!(
        p.server.storage().buffer_bytes() <= 2 * 128 * 1024,
        "one stream's buffers stay within their limit"
    );

    // Drained buffers are given back on request; idle streams cost nothing.
    p.client.trim_buffers();
    p.server.trim_buffers();
    assert_eq!(p.client.storage().buffer_bytes(), 0);
    assert_eq!(p.server.storage().buffer_bytes(), 0);
    // And they still work afterwards.
    p.client.write(id, b"again").unwrap();
    p.step();
    assert_eq!(p.server.read(id, &mut buf), Ok(5));
}

#[test]
fn a_write_larger_than_the_buffer_limit_takes_what_fits() {
    let mut p = pair(4, 4096);
    let id = p.client.open().unwrap();
    assert_eq!(p.client.write(id, &[1u8; 10_000]), Ok(4096));
    assert_eq!(p.client.write(id, b"x"), Err(braid::WriteError::WouldBlock));
}

/// A stream's slot keeps its buffers when the stream ends, so the next
/// stream on that slot does not allocate again; `trim_buffers` frees them,
/// and a new stream never sees the old one's bytes.
#[test]
fn freed_slots_keep_their_buffers_for_the_next_stream_until_a_trim() {
    let mut p = pair(8, 64 * 1024);
    let exchange = |p: &mut Pair<VecStorage, VecStorage, 65536>, fill: u8| {
        let id = p.client.open().unwrap();
        p.client.write(id, &[fill; 3000]).unwrap();
        p.client.finish(id).unwrap();
        p.step();
        assert_eq!(p.server.accept(), Ok(id));
        let mut buf = [0u8; 4096];
        assert_eq!(p.server.read(id, &mut buf), Ok(3000));
        assert!(buf[..3000].iter().all(|b| *b == fill), "only this stream's bytes");
        assert_eq!(p.server.read(id, &mut buf), Ok(0));
        p.server.finish(id).unwrap();
        p.step();
        assert_eq!(p.client.read(id, &mut buf), Ok(0));
        p.step();
        while p.client.poll_event().is_some() {}
        while p.server.poll_event().is_some() {}
        p.step();
        assert_eq!(p.client.streams_in_use(), 0);
        assert_eq!(p.server.streams_in_use(), 0);
    };
    exchange(&mut p, 1);
    let (client, server) = (p.client.storage().buffer_bytes(), p.server.storage().buffer_bytes());
    assert!(client > 0 && server > 0, "the slots kept their buffers");
    for fill in 2..20 {
        exchange(&mut p, fill);
        assert_eq!(p.client.storage().buffer_bytes(), client, "no new buffers");
        assert_eq!(p.server.storage().buffer_bytes(), server, "no new buffers");
    }
    p.client.trim_buffers();
    p.server.trim_buffers();
    assert_eq!(p.client.storage().buffer_bytes(), 0);
    assert_eq!(p.server.storage().buffer_bytes(), 0);
}

/// A stream nobody reads holds its whole window of unread data, and with
/// it part of the session window: the other streams must still get the
/// rest back and move on, however long the slow one waits (spec.md §7.2).
#[test]
fn an_unread_stream_does_not_stall_the_others() {
    let window = 16 * 1024;
    let mut client = Config::client();
    let mut server = Config::server();
    for c in [&mut client, &mut server] {
        c.stream_window = window;
        c.stream_window_max = window;
        c.session_window = window + window / 2;
        c.session_window_max = window + window / 2;
    }
    let mut p: Pair<VecStorage, VecStorage, 65536> = Pair::new(
        client,
        VecStorage::new(8, 64 * 1024, 64 * 1024),
        server,
        VecStorage::new(8, 64 * 1024, 64 * 1024),
    );
    p.step();
    let slow = p.client.open().unwrap();
    let busy = p.client.open().unwrap();
    p.client.write(slow, &vec![7u8; window as usize]).unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(slow));
    assert_eq!(p.server.accept(), Ok(busy));
    assert_eq!(p.server.stream_info(slow).unwrap().readable, window as usize, "slow holds its window");

    // 1 MiB on the busy stream, read as it comes; `slow` is never read.
    let total = 1 << 20;
    let (mut sent, mut got) = (0usize, 0usize);
    let mut buf = vec![0u8; 4096];
    for _ in 0..100_000 {
        if got == total {
            break;
        }
        if sent < total {
            let chunk: Vec<u8> = (sent..(sent + 3000).min(total)).map(|i| (i % 251) as u8).collect();
            if let Ok(n) = p.client.write(busy, &chunk) {
                sent += n;
            }
        }
        p.step();
        while let Ok(n) = p.server.read(busy, &mut buf) {
            if n == 0 {
                break;
            }
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, ((got + k) % 251) as u8, "byte {}", got + k);
            }
            got += n;
        }
        p.step();
    }
    assert_eq!(got, total, "the busy stream stalled behind the unread one");
    assert_eq!(p.server.stream_info(slow).unwrap().readable, window as usize);
}
