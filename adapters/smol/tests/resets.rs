//! Resets carry their codes both ways, and dropping a stream does what its
//! docs say (reset with CANCEL unless closed; lingering close after).

mod common;

use braid_smol::{Config, Error, ErrorCode, Session};
use common::{pattern_bytes, run, sleep, tcp_pair, timeout, unix_pair};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use std::io::ErrorKind;
use std::time::Duration;

const APP: ErrorCode = ErrorCode::application(42);

/// Wait until both sessions have forgotten every stream.
async fn until_no_streams(a: &Session, b: &Session) {
    for _ in 0..200 {
        if a.inspect(|s| s.streams_in_use()) == 0 && b.inspect(|s| s.streams_in_use()) == 0 {
            return;
        }
        let _ = a.ping().await;
        sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "streams still in use: {} and {}",
        a.inspect(|s| s.streams_in_use()),
        b.inspect(|s| s.streams_in_use())
    );
}

#[test]
fn a_reset_reaches_the_peer_with_its_code() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut stream = client.open().await.unwrap();
        stream.write_all(b"partial").await.unwrap();
        let mut incoming = server.accept().await.unwrap();
        let mut buf = [0u8; 7];
        incoming.read_exact(&mut buf).await.unwrap();

        incoming.reset(APP).unwrap();
        assert_eq!(incoming.reset_code(), None, "this side's own reset is not the peer's code");
        let e = incoming.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(Error::from_io(&e), Some(&Error::Reset { code: APP, remote: false }));

        // The opener sees the code on read, on write, and from reset_code().
        let e = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(Error::from_io(&e), Some(&Error::Reset { code: APP, remote: true }));
        let e = stream.write_all(b"more").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(Error::reset_code(&e), Some(APP));
        assert_eq!(stream.reset_code(), Some(APP));
        // Resetting a reset stream is fine; closing (FIN) it is not.
        stream.reset(ErrorCode::CANCEL).unwrap();
        assert_eq!(stream.close().await.unwrap_err().kind(), ErrorKind::ConnectionReset);
        drop((stream, incoming));
        until_no_streams(&client, &server).await;
    });
}

#[test]
fn the_opener_resets_and_a_blocked_writer_on_the_other_side_wakes() {
    run(async {
        let small = || Config::default().stream_window(4096).stream_window_max(4096).send_buffer(4096);
        let (client, server) = tcp_pair(small(), small()).await;
        let mut s = client.open().await.unwrap();
        s.write_all(b"go").await.unwrap();
        let incoming = server.accept().await.unwrap();
        // The acceptor writes until it blocks (the opener reads nothing).
        let writer = smol::spawn(async move {
            let (_, mut w) = incoming.split();
            let data = vec![7u8; 64 * 1024];
            let e = w.write_all(&data).await.unwrap_err();
            (e.kind(), Error::reset_code(&e))
        });
        sleep(Duration::from_millis(20)).await;
        assert!(!writer.is_finished(), "the writer should be blocked by the window");
        s.reset(APP).unwrap();
        let (kind, code) = timeout(Duration::from_secs(5), writer).await.expect("the writer woke");
        assert_eq!((kind, code), (ErrorKind::ConnectionReset, Some(APP)));
    });
}

#[test]
fn reserved_codes_are_refused() {
    run(async {
        let (client, _server) = unix_pair(Config::default(), Config::default());
        let stream = client.open().await.unwrap();
        assert_eq!(stream.reset(ErrorCode(12)), Err(Error::ReservedCode));
        assert_eq!(client.go_away(ErrorCode(13)), Err(Error::ReservedCode));
    });
}

#[test]
fn dropping_an_unfinished_stream_resets_it_with_cancel() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut stream = client.open().await.unwrap();
        stream.write_all(b"abandoned").await.unwrap();
        let mut incoming = server.accept().await.unwrap();
        drop(stream);
        let mut all = Vec::new();
        let e = incoming.read_to_end(&mut all).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(Error::reset_code(&e), Some(ErrorCode::CANCEL));
        drop(incoming);
        until_no_streams(&client, &server).await;
    });
}

#[test]
fn dropping_after_close_still_delivers_everything() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let data = pattern_bytes(3, 0, 3 << 20);
        let mut stream = client.open().await.unwrap();
        let sending = {
            let data = data.clone();
            smol::spawn(async move {
                stream.write_all(&data).await.unwrap();
                stream.close().await.unwrap();
                // Dropped right away, with data still queued and the peer's
                // direction still open.
            })
        };
        let mut incoming = server.accept().await.unwrap();
        let mut all = Vec::new();
        incoming.read_to_end(&mut all).await.unwrap();
        sending.await;
        assert!(all == data, "{} of {} bytes", all.len(), data.len());
        // The dropped side lingers: what the acceptor sends now is discarded
        // without an error, and its FIN lets both sides forget the stream.
        incoming.write_all(&[1u8; 100_000]).await.unwrap();
        incoming.close().await.unwrap();
        drop(incoming);
        until_no_streams(&client, &server).await;
    });
}

#[test]
fn a_lingering_stream_is_cancelled_after_a_megabyte() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let mut stream = client.open().await.unwrap();
        stream.close().await.unwrap();
        let incoming = server.accept().await.unwrap();
        drop(stream);
        let (_, mut w) = incoming.split();
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        let e = loop {
            match w.write_all(&chunk).await {
                Ok(()) => sent += chunk.len(),
                Err(e) => break e,
            }
            assert!(sent < 64 << 20, "never cancelled");
        };
        assert_eq!(Error::reset_code(&e), Some(ErrorCode::CANCEL));
        assert!(sent >= 1 << 20, "cancelled after {sent} bytes");
        drop(w);
        until_no_streams(&client, &server).await;
    });
}

#[test]
fn a_stream_read_to_the_end_and_closed_is_forgotten_on_drop() {
    run(async {
        let (client, server) = unix_pair(Config::default(), Config::default());
        let echo = common::spawn_echo(server.clone());
        for _ in 0..50 {
            let mut s = client.open().await.unwrap();
            s.write_all(b"x").await.unwrap();
            s.close().await.unwrap();
            let mut v = Vec::new();
            s.read_to_end(&mut v).await.unwrap();
            assert_eq!(v, b"x");
        }
        until_no_streams(&client, &server).await;
        drop(echo);
    });
}
