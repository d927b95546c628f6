//! Two sessions joined in memory, driven by deterministic scenarios and by
//! random operation sequences (proptest), with the invariants checked after
//! every step:
//! - bytes delivered on each stream are a prefix of the bytes written, in order;
//! - no receive window is exceeded and no buffer holds more than its storage;
//! - nothing grows past the configured capacities;
//! - every stream ends finished or reset with a reason;
//! - input fed one byte at a time gives the same result as whole buffers.

use braid::pair::Pair;
use braid::{ArrayStorage, Config, ErrorCode, Event, ReadError, Session, Storage, StreamId, WriteError};
use proptest::prelude::*;
use std::collections::BTreeMap;

const STREAMS: usize = 4;
const BUF: usize = 256;
type Small = ArrayStorage<STREAMS, BUF, BUF>;

fn small_config(c: Config) -> Config {
    Config { max_frame_size: 64, max_open_metadata: 32, flood_burst: 100_000, ..c }
}

/// The byte stream `id` carries at `offset`, so delivered data can be
/// checked without keeping it.
fn pattern(id: StreamId, offset: u64) -> u8 {
    (offset.wrapping_mul(31) ^ u64::from(id.0).wrapping_mul(0x9E37)) as u8
}

/// What one side has done and seen on one stream.
#[derive(Default, Debug, Clone)]
struct StreamModel {
    written: u64,
    read: u64,
    finished_writing: bool,
    eof: bool,
    reset: Option<(ErrorCode, bool)>,
    local_reset: bool,
}

/// Both sides' view of every stream.
#[derive(Default)]
struct Model {
    client: BTreeMap<u32, StreamModel>,
    server: BTreeMap<u32, StreamModel>,
}

fn side(m: &mut Model, client: bool) -> &mut BTreeMap<u32, StreamModel> {
    if client {
        &mut m.client
    } else {
        &mut m.server
    }
}

/// Drain events of one session into the model, accepting incoming streams.
fn drain_events<S: Storage>(
    s: &mut Session<S>,
    m: &mut BTreeMap<u32, StreamModel>,
    accept: bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Some(e) = s.poll_event() {
        match e {
            Event::Incoming if accept => {
                while let Ok(id) = s.accept() {
                    m.entry(id.0).or_default();
                }
            }
            Event::Reset { id, code, remote } => {
                let st = m.entry(id.0).or_default();
                st.reset = Some((code, remote));
            }
            _ => {}
        }
        seen.push(e);
    }
    seen
}

/// Read everything readable on every known stream, checking the pattern.
fn read_all<S: Storage>(
    s: &mut Session<S>,
    m: &mut BTreeMap<u32, StreamModel>,
    peer: &BTreeMap<u32, StreamModel>,
) {
    let mut buf = [0u8; 97];
    for (&id, st) in m.iter_mut() {
        loop {
            match s.read(StreamId(id), &mut buf) {
                Ok(0) => {
                    st.eof = true;
                    let written = peer.get(&id).map_or(0, |p| p.written);
                    assert_eq!(st.read, written, "stream {id}: EOF before all bytes arrived");
                    break;
                }
                Ok(n) => {
                    for (i, b) in buf[..n].iter().enumerate() {
                        assert_eq!(
                            *b,
                            pattern(StreamId(id), st.read + i as u64),
                            "stream {id} byte {}",
                            st.read + i as u64
                        );
                    }
                    st.read += n as u64;
                    let written = peer.get(&id).map_or(0, |p| p.written);
                    assert!(st.read <= written, "stream {id}: read {} > written {written}", st.read);
                }
                Err(ReadError::WouldBlock) => break,
                Err(_) => break,
            }
        }
    }
}

fn write_some<S: Storage>(s: &mut Session<S>, id: StreamId, st: &mut StreamModel, len: usize) {
    let data: Vec<u8> = (0..len as u64).map(|i| pattern(id, st.written + i)).collect();
    match s.write(id, &data) {
        Ok(n) => st.written += n as u64,
        Err(WriteError::WouldBlock) => {}
        Err(_) => {}
    }
}

fn check_invariants<A: Storage, B: Storage, const W: usize>(p: &Pair<A, B, W>) {
    for (name, s, cap) in
        [("client", p.client.streams_in_use(), STREAMS), ("server", p.server.streams_in_use(), STREAMS)]
    {
        assert!(s <= cap, "{name}: {s} streams in use > capacity {cap}");
    }
    for id in 1..64u32 {
        for info in
            [p.client.stream_info(StreamId(id)), p.server.stream_info(StreamId(id))].into_iter().flatten()
        {
            assert!(info.readable <= BUF, "stream {id}: {} readable > buffer", info.readable);
            assert!(info.unsent <= BUF);
            assert!(info.recv_window <= info.recv_window_size, "stream {id}: window {info:?}");
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Open { client: bool },
    Write { client: bool, stream: usize, len: usize },
    Read { client: bool },
    Finish { client: bool, stream: usize },
    Reset { client: bool, stream: usize, code: u32 },
    Step { chunk: usize },
    Ping { client: bool },
    Advance { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<bool>().prop_map(|client| Op::Open { client }),
        6 => (any::<bool>(), 0..8usize, 0..300usize).prop_map(|(client, stream, len)| Op::Write { client, stream, len }),
        4 => any::<bool>().prop_map(|client| Op::Read { client }),
        2 => (any::<bool>(), 0..8usize).prop_map(|(client, stream)| Op::Finish { client, stream }),
        1 => (any::<bool>(), 0..8usize, 0..3u32).prop_map(|(client, stream, code)| Op::Reset { client, stream, code }),
        5 => prop_oneof![Just(1usize), Just(7), Just(64), Just(usize::MAX)].prop_map(|chunk| Op::Step { chunk }),
        1 => any::<bool>().prop_map(|client| Op::Ping { client }),
        1 => (0..50u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

fn new_pair() -> Pair<Small, Small, 512> {
    Pair::new(small_config(Config::client()), Small::new(), small_config(Config::server()), Small::new())
}

/// Run a sequence of operations, then drain: finish every stream, read
/// everything, and check every stream ended with a reason.
fn run(ops: &[Op]) -> (Vec<Event>, Vec<Event>) {
    let mut p = new_pair();
    let mut m = Model::default();
    let mut client_events = Vec::new();
    let mut server_events = Vec::new();
    let pump = |p: &mut Pair<Small, Small, 512>, m: &mut Model, ce: &mut Vec<Event>, se: &mut Vec<Event>| {
        p.step();
        ce.extend(drain_events(&mut p.client, &mut m.client, true));
        se.extend(drain_events(&mut p.server, &mut m.server, true));
    };
    pump(&mut p, &mut m, &mut client_events, &mut server_events);
    for op in ops {
        match *op {
            Op::Open { client } => {
                let r = if client { p.client.open() } else { p.server.open() };
                if let Ok(id) = r {
                    side(&mut m, client).insert(id.0, StreamModel::default());
                }
            }
            Op::Write { client, stream, len } => {
                let ids: Vec<u32> = side(&mut m, client).keys().copied().collect();
                if let Some(&id) = ids.get(stream) {
                    let st = side(&mut m, client).get_mut(&id).unwrap();
                    if client {
                        write_some(&mut p.client, StreamId(id), st, len);
                    } else {
                        write_some(&mut p.server, StreamId(id), st, len);
                    }
                }
            }
            Op::Read { client } => {
                if client {
                    read_all(&mut p.client, &mut m.client, &m.server);
                } else {
                    read_all(&mut p.server, &mut m.server, &m.client);
                }
            }
            Op::Finish { client, stream } => {
                let ids: Vec<u32> = side(&mut m, client).keys().copied().collect();
                if let Some(&id) = ids.get(stream) {
                    let r =
                        if client { p.client.finish(StreamId(id)) } else { p.server.finish(StreamId(id)) };
                    if r.is_ok() {
                        side(&mut m, client).get_mut(&id).unwrap().finished_writing = true;
                    }
                }
            }
            Op::Reset { client, stream, code } => {
                let ids: Vec<u32> = side(&mut m, client).keys().copied().collect();
                if let Some(&id) = ids.get(stream) {
                    let code = ErrorCode::application(code);
                    let r = if client {
                        p.client.reset(StreamId(id), code)
                    } else {
                        p.server.reset(StreamId(id), code)
                    };
                    if r.is_ok() {
                        side(&mut m, client).get_mut(&id).unwrap().local_reset = true;
                    }
                }
            }
            Op::Step { chunk } => {
                p.chunk = chunk;
                pump(&mut p, &mut m, &mut client_events, &mut server_events);
            }
            Op::Ping { client } => {
                let _ = if client { p.client.ping() } else { p.server.ping() };
            }
            Op::Advance { ms } => {
                p.advance(braid::Duration::from_millis(ms));
            }
        }
        check_invariants(&p);
    }
    // Drain: finish every stream both ways and read until quiet.
    p.chunk = usize::MAX;
    for _ in 0..200 {
        for client in [true, false] {
            let ids: Vec<u32> = side(&mut m, client).keys().copied().collect();
            for id in ids {
                let r = if client { p.client.finish(StreamId(id)) } else { p.server.finish(StreamId(id)) };
                let _ = r;
            }
        }
        pump(&mut p, &mut m, &mut client_events, &mut server_events);
        read_all(&mut p.client, &mut m.client, &m.server);
        read_all(&mut p.server, &mut m.server, &m.client);
        pump(&mut p, &mut m, &mut client_events, &mut server_events);
        check_invariants(&p);
        if p.in_flight() == 0 && p.client.streams_in_use() == 0 && p.server.streams_in_use() == 0 {
            break;
        }
    }
    // Every stream ended with a reason on both sides.
    for (who, mine) in [("client", &m.client), ("server", &m.server)] {
        for (id, st) in mine {
            let ended = st.eof || st.reset.is_some() || st.local_reset;
            assert!(ended, "{who} stream {id} never ended: {st:?}");
        }
    }
    if std::env::var("PROPS_DEBUG").is_ok() {
        let r: u64 = m.client.values().chain(m.server.values()).map(|s| s.read).sum();
        let resets = m.client.values().chain(m.server.values()).filter(|s| s.reset.is_some()).count();
        let eofs = m.client.values().chain(m.server.values()).filter(|s| s.eof).count();
        eprintln!("streams {} read {r} resets {resets} eofs {eofs}", m.client.len() + m.server.len());
    }
    assert_eq!(p.client.streams_in_use(), 0, "client streams left");
    assert_eq!(p.server.streams_in_use(), 0, "server streams left");
    (client_events, server_events)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_invariants(ops in proptest::collection::vec(op(), 0..120)) {
        run(&ops);
    }

    /// Checks [S-3.3].
    #[test]
    fn chunking_does_not_change_the_outcome(ops in proptest::collection::vec(op(), 0..60)) {
        let whole: Vec<Op> = ops.iter().map(|o| match o { Op::Step { .. } => Op::Step { chunk: usize::MAX }, o => o.clone() }).collect();
        let bytewise: Vec<Op> = ops.iter().map(|o| match o { Op::Step { .. } => Op::Step { chunk: 1 }, o => o.clone() }).collect();
        prop_assert_eq!(run(&whole), run(&bytewise));
    }
}

/// Checks [S-7.1], [S-4.13].
#[test]
fn bulk_transfer_through_small_windows() {
    let mut p = new_pair();
    p.step();
    let id = p.client.open().unwrap();
    let total = 100_000u64;
    let mut sent = 0u64;
    let mut got = 0u64;
    let mut buf = [0u8; 200];
    let mut rounds = 0;
    while got < total {
        rounds += 1;
        assert!(rounds < 100_000, "no progress: sent {sent} got {got}");
        if sent < total {
            let n = (total - sent).min(100) as usize;
            let data: Vec<u8> = (0..n as u64).map(|i| pattern(id, sent + i)).collect();
            if let Ok(k) = p.client.write(id, &data) {
                sent += k as u64;
            }
            if sent == total {
                p.client.finish(id).unwrap();
            }
        }
        p.step();
        while p.server.poll_event().is_some() {}
        while p.client.poll_event().is_some() {}
        if p.server.incoming().is_some() {
            p.server.accept().unwrap();
        }
        loop {
            match p.server.read(id, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for (i, b) in buf[..n].iter().enumerate() {
                        assert_eq!(*b, pattern(id, got + i as u64));
                    }
                    got += n as u64;
                }
                Err(_) => break,
            }
        }
    }
    p.step();
    assert_eq!(p.server.read(id, &mut buf), Ok(0));
    // Flow control kept every frame within the 64-byte frame size and the
    // announced window: the server never held more than its buffer.
    assert!(p.client.stats().frames_sent >= total / 64);
}

#[test]
fn open_with_metadata_and_reply() {
    let mut p = new_pair();
    p.step();
    let mut mbuf = [0u8; 32];
    let meta = braid::MetadataWriter::new(&mut mbuf, 7).unwrap().header(b"path", b"/x").unwrap().finish();
    let id = p.client.open_with(meta).unwrap();
    p.client.write(id, b"hi").unwrap();
    p.step();
    assert_eq!(p.server.incoming(), Some(id));
    let mut got = [0u8; 32];
    let n = p.server.metadata(id, &mut got).unwrap().unwrap();
    let parsed = braid::Metadata::parse(&got[..n]).unwrap();
    assert_eq!(parsed.stream_type, 7);
    assert_eq!(parsed.header(b"path"), Some(&b"/x"[..]));
    let mut rbuf = [0u8; 16];
    let reply = braid::MetadataWriter::new(&mut rbuf, 8).unwrap().finish();
    assert_eq!(p.server.accept_with(reply), Ok(id));
    let mut data = [0u8; 8];
    assert_eq!(p.server.read(id, &mut data), Ok(2));
    assert_eq!(&data[..2], b"hi");
    p.step();
    let n = p.client.metadata(id, &mut got).unwrap().unwrap();
    assert_eq!(braid::Metadata::parse(&got[..n]).unwrap().stream_type, 8);
    assert_eq!(p.client.read(id, &mut data), Err(ReadError::WouldBlock));
}

#[test]
fn graceful_go_away_drains_and_closes_both_sides() {
    let mut p = new_pair();
    p.step();
    let id = p.client.open().unwrap();
    p.client.write(id, b"last words").unwrap();
    p.step();
    p.server.accept().unwrap();
    p.server.go_away(ErrorCode::NO_ERROR, b"bye").unwrap();
    p.step();
    assert_eq!(p.client.open(), Err(braid::OpenError::GoingAway));
    let mut buf = [0u8; 32];
    assert_eq!(p.server.read(id, &mut buf), Ok(10));
    p.client.finish(id).unwrap();
    p.server.finish(id).unwrap();
    p.step();
    assert_eq!(p.server.read(id, &mut buf), Ok(0));
    assert_eq!(p.client.read(id, &mut buf), Ok(0));
    p.step();
    while p.client.poll_event().is_some() {}
    while p.server.poll_event().is_some() {}
    p.step();
    assert_eq!(
        p.client.state(),
        braid::SessionState::Closed,
        "client {:?} server {:?} in use {} {}",
        p.client.close_reason(),
        p.server.state(),
        p.client.streams_in_use(),
        p.server.streams_in_use()
    );
    assert_eq!(p.server.state(), braid::SessionState::Closed);
    let c = p.client.close_reason().unwrap();
    let s = p.server.close_reason().unwrap();
    assert!(c.is_graceful() && s.is_graceful(), "{c:?} {s:?}");
    assert_eq!(p.client.remote_debug(), b"bye");
}

/// Checks [S-7.7].
#[test]
fn slots_promised_to_the_peer_stay_free_for_it() {
    // The client lets the server open 4 streams, so only the server's own
    // promise to the client limits how many the server may open.
    let client = Config { max_inbound_streams: Some(4), ..small_config(Config::client()) };
    let mut p: Pair<ArrayStorage<8, BUF, BUF>, Small, 512> =
        Pair::new(client, ArrayStorage::new(), small_config(Config::server()), Small::new());
    p.step();
    assert_eq!(p.server.send_credit(), 4);
    // The server announced credit for half of its 4 slots.
    assert_eq!(p.client.send_credit(), 2);
    let mut buf = [0u8; 8];
    for _ in 0..3 {
        // The client uses its credit, and the streams end.
        let a = p.client.open().unwrap();
        let b = p.client.open().unwrap();
        assert_eq!(p.client.open(), Err(braid::OpenError::NoCredit));
        for id in [a, b] {
            p.client.finish(id).unwrap();
        }
        p.step();
        for id in [a, b] {
            assert_eq!(p.server.accept(), Ok(id));
            p.server.finish(id).unwrap();
        }
        p.step();
        for id in [a, b] {
            assert_eq!(p.client.read(id, &mut buf), Ok(0));
        }
        while p.server.poll_event().is_some() {}
        while p.client.poll_event().is_some() {}
        // Reading the end frees the server's slots; the credit for them is
        // owed to the client but not sent yet.
        for id in [a, b] {
            assert_eq!(p.server.read(id, &mut buf), Ok(0));
        }
        // Meanwhile the server opens as many streams as it may: never into
        // the slots the client was promised.
        let mut mine = Vec::new();
        while let Ok(id) = p.server.open() {
            mine.push(id);
        }
        assert_eq!(mine.len(), 2, "server took a slot promised to the client");
        p.step();
        for id in mine {
            p.server.reset(id, ErrorCode::CANCEL).unwrap();
        }
        p.step();
        while p.server.poll_event().is_some() {}
        while p.client.poll_event().is_some() {}
        while let Ok(id) = p.client.accept() {
            let _ = p.client.reset(id, ErrorCode::CANCEL);
        }
        p.step();
        while p.server.poll_event().is_some() {}
        while p.client.poll_event().is_some() {}
        p.step();
        assert_eq!(p.client.send_credit(), 2, "credit returned once streams ended");
    }
}
