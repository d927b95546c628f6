//! `braid_smol::serial`: sessions over a serial line through the link
//! layer, on smol (the logic is braid-async's, shared with braid-tokio,
//! whose tests cover noise, reboots and fail-stop; this checks the smol
//! binding end to end).

mod common;

use braid_smol::{Config, LinkConfig, LocalError, Role};
use common::{check_pattern, pattern_bytes, run, timeout};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::unix::UnixStream;
use std::time::Duration;

#[test]
fn sessions_over_a_serial_line_on_smol() {
    run(async {
        let (a, b) = UnixStream::pair().expect("socketpair");
        let mut client = braid_smol::serial(Role::Client, a, Config::default(), LinkConfig::reliable(1));
        let mut server = braid_smol::serial(Role::Server, b, Config::default(), LinkConfig::reliable(2));
        let echo = smol::spawn(async move {
            let session = server.next_session().await.expect("a server session");
            let stream = session.accept().await.expect("accept");
            let (mut r, mut w) = stream.split();
            smol::io::copy(&mut r, &mut w).await.expect("echo");
            w.close().await.expect("FIN");
            // The client closes: this side's sessions end with its GOAWAY
            // and the line's end.
            let end = server.closed().await;
            assert!(end.reason.is_graceful() || end.reason.local == Some(LocalError::TransportEof), "{end}");
        });
        let session = client.next_session().await.expect("a client session");
        let (mut r, mut w) = session.open().await.expect("open").split();
        let data = pattern_bytes(1, 0, 50_000);
        let writer = {
            let data = data.clone();
            smol::spawn(async move {
                w.write_all(&data).await.expect("write");
                w.close().await.expect("FIN");
            })
        };
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.expect("read");
        writer.await;
        assert_eq!(back.len(), data.len());
        check_pattern(1, 0, &back);
        assert_eq!(client.with_link(|l| l.is_reliable()), Some(true));
        assert!(client.link_stats().frames_sent > 0);
        client.close();
        let end = timeout(Duration::from_secs(10), client.closed()).await.expect("closed in time");
        assert!(end.reason.is_graceful() || end.reason.local == Some(LocalError::TransportEof), "{end}");
        timeout(Duration::from_secs(10), echo).await.expect("the server side ends");
    });
}
