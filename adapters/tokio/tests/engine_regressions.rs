//! Engine behaviour the adapters rely on, found while building them: kept
//! as regression tests.

use braid::pair::Pair;
use braid::{ArrayStorage, Config};

type S = ArrayStorage<4, 256, 256>;

/// When a session ends, a stream whose FIN arrived but was not read yet,
/// with nothing else left to read, is freed at once (`retire`'s
/// `ended_session` case): the application's next read reports
/// `SessionClosed` instead of the end of the stream, although "data
/// already received stays readable". braid-async remembers the FIN from the
/// `Finished` event and reports the end itself.
#[test]
fn a_fin_not_yet_read_survives_the_end_of_the_session() {
    let mut p: Pair<S, S, 1024> = Pair::new(Config::client(), S::new(), Config::server(), S::new());
    p.step();
    let id = p.client.open().unwrap();
    p.client.write(id, b"x").unwrap();
    p.step();
    p.server.accept().unwrap();
    p.server.finish(id).unwrap();
    p.step(); // the server's FIN is in the client, unread
    p.client.handle_eof(p.now);
    while p.client.poll_event().is_some() {}
    assert_eq!(
        p.client.read(id, &mut [0u8; 8]),
        Ok(0),
        "the end of the stream was received before the session ended"
    );
}

/// A peer that drained gracefully (GOAWAY NO_ERROR) and then closed the
/// transport ends this side's session with `LocalError::TransportEof`;
/// `CloseReason::is_graceful` counts that as graceful, and braid-async's
/// `SessionEnd::is_graceful` relies on it.
#[test]
fn eof_after_the_peers_graceful_goaway_is_graceful() {
    let mut p: Pair<S, S, 1024> = Pair::new(Config::client(), S::new(), Config::server(), S::new());
    p.step();
    p.server.go_away(braid::ErrorCode::NO_ERROR, b"").unwrap();
    p.step();
    p.client.handle_eof(p.now);
    let reason = p.client.close_reason().unwrap();
    assert!(reason.is_graceful(), "{reason}");
}
