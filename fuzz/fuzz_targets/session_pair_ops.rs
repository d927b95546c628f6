//! Two sessions joined by two in-memory wires, driven by an arbitrary
//! sequence of application and network operations, with invariants checked
//! after every operation.
//!
//! Input: a `Setup` then `Op`s, both decoded with `arbitrary`, one `Op` after
//! another until the input runs out.
//!
//! The wires are this target's own (not `braid::pair::Pair`), so bytes can sit
//! in flight, be delivered in any chunking, be corrupted or be dropped. A wire
//! that was tampered with stays "dirty" for the rest of the run: braid has no
//! checksums, so a flipped DATA byte can reach a stream unnoticed, and the
//! checks that assume an honest peer apply only while the wires are clean:
//! - (incoming wire clean) every byte read from a stream is the byte the peer
//!   wrote at that offset (pattern data), never more than the peer wrote, and
//!   the end of the stream comes only after all of it, with nothing after it;
//! - (incoming wire clean) metadata read is exactly the block the peer sent;
//! - (both wires clean: a corrupted SETTINGS or WNDINC makes the peer
//!   misbehave on the other wire) no protocol error ends either session
//!   (flood limits aside), and what a sender may still send never exceeds
//!   what its receiver still grants, per stream and per session.
//!
//! Always checked, dirty wires or not: no panic, bounded wires,
//! `streams_in_use() <= capacity`, stream buffers and windows within the
//! storage, ended <=> `close_reason()`, the reason never changes once set,
//! `Closed` is the last event, every poll loop ends, and all output passes
//! `OutputChecker` (the sender's side of the spec).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use braid::trace::FrameRecord;
use braid::{
    ArrayStorage, CloseReason, Duration, ErrorCode, Event, Instant, LocalError, MetadataWriter,
    ProtocolError, ReadError, Role, Session, SessionState, StreamId,
};
use braid_fuzz::pair_ops::{Op, Setup};
use braid_fuzz::{fill_pattern, pattern, session_config, verbose, Knobs, OutputChecker, Shape, TxView};
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, VecDeque};

const TX_BUFS: [usize; 4] = [20, 128, 300, 4096];
const WIRE_LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else { return };
    match setup.shapes % 4 {
        0 => World::<4, 256, 256, 4, 256, 256>::run(setup, (Shape::Small, Shape::Small), &mut u),
        1 => World::<2, 128, 128, 2, 128, 128>::run(setup, (Shape::Tiny, Shape::Tiny), &mut u),
        2 => World::<4, 1024, 256, 2, 128, 128>::run(setup, (Shape::Medium, Shape::Tiny), &mut u),
        _ => World::<1, 64, 64, 4, 256, 256>::run(setup, (Shape::One, Shape::Small), &mut u),
    }
});

fn knobs(bits: u8) -> Knobs {
    Knobs {
        trace: bits & 1 != 0,
        idle: bits & 2 != 0,
        small_flood: bits & 4 != 0,
        fixed_windows: bits & 8 != 0,
    }
}

/// What one side did and saw on one stream.
#[derive(Default, Debug)]
struct StreamModel {
    written: u64,
    read: u64,
    eof: bool,
    /// The metadata block this side sent on the stream (open or reply).
    meta_out: Option<Vec<u8>>,
}

/// One side: its session and what the harness knows about it.
struct Side<const N: usize, const RX: usize, const TX: usize> {
    name: &'static str,
    s: Session<ArrayStorage<N, RX, TX>>,
    checker: OutputChecker,
    streams: BTreeMap<u32, StreamModel>,
    closed_event: bool,
    reason: Option<CloseReason>,
    tx_buf: usize,
}

impl<const N: usize, const RX: usize, const TX: usize> Side<N, RX, TX> {
    fn new(name: &'static str, role: Role, shape: Shape, knobs: Knobs, tx_buf: usize) -> Self {
        Side {
            name,
            s: Session::new(session_config(role, shape, knobs), ArrayStorage::new(), Instant::ZERO),
            checker: OutputChecker::new(role),
            streams: BTreeMap::new(),
            closed_event: false,
            reason: None,
            tx_buf,
        }
    }

    fn ended(&self) -> bool {
        matches!(self.s.state(), SessionState::Closing | SessionState::Closed)
    }

    fn stream_id(&self, index: u8) -> Option<StreamId> {
        let n = self.streams.len();
        (n > 0).then(|| StreamId(*self.streams.keys().nth(usize::from(index) % n).expect("in range")))
    }

    /// Everything the session has to send, appended to `wire`.
    fn transmit(&mut self, now: Instant, wire: &mut VecDeque<u8>) -> usize {
        let mut buf = vec![0u8; self.tx_buf];
        let mut total = 0;
        for round in 0.. {
            assert!(round < 100_000, "{}: poll_transmit never returned 0", self.name);
            let view = TxView {
                peer_max_frame: self.s.peer_settings().map(|p| p.max_frame_size),
                peer_goaway: self.s.remote_go_away().is_some(),
                ended: self.s.close_reason().is_some(),
            };
            let n = self.s.poll_transmit(now, &mut buf);
            let chunk: &[u8];
            let mut big;
            if n > 0 {
                chunk = &buf[..n];
            } else {
                let need = self.s.transmit_needed();
                if need == 0 {
                    // Maybe the trace queue is full: drain it and try again.
                    if self.drain_trace() == 0 {
                        break;
                    }
                    continue;
                }
                assert!(need > buf.len(), "{}: transmit_needed {need} fits {} bytes", self.name, buf.len());
                big = vec![0u8; need];
                let m = self.s.poll_transmit(now, &mut big);
                assert!(
                    m > 0,
                    "{}: nothing written into the {need} bytes transmit_needed asked for",
                    self.name
                );
                big.truncate(m);
                chunk = &big;
            }
            if let Err(e) = self.checker.check(chunk, view) {
                panic!("{}: {e}\nchunk: {chunk:02x?}", self.name);
            }
            wire.extend(chunk.iter().copied());
            total += chunk.len();
            assert!(wire.len() <= WIRE_LIMIT, "{}: wire grew past {WIRE_LIMIT} bytes", self.name);
        }
        total
    }

    /// Feed up to `max` bytes from `wire`, in pieces of at most `chunk`.
    fn deliver(&mut self, now: Instant, wire: &mut VecDeque<u8>, max: usize, chunk: usize) -> usize {
        let mut moved = 0;
        let chunk = chunk.max(1);
        while moved < max && !wire.is_empty() {
            let (a, _) = wire.as_slices();
            let take = a.len().min(chunk).min(max - moved);
            let piece: Vec<u8> = a[..take].to_vec();
            let was_ended = self.ended();
            let n = self.s.handle_input(now, &piece);
            assert!(n <= piece.len(), "{}: handle_input consumed {n} of {}", self.name, piece.len());
            if was_ended {
                assert_eq!(n, piece.len(), "{}: input after the end must be consumed", self.name);
            }
            wire.drain(..n);
            moved += n;
            if n < piece.len() {
                let drained = self.drain_trace();
                assert!(drained > 0, "{}: handle_input stopped short with no trace to drain", self.name);
            }
        }
        moved
    }

    fn drain_trace(&mut self) -> usize {
        let mut n = 0;
        while let Some(FrameRecord { .. }) = self.s.poll_trace() {
            n += 1;
            assert!(n <= 64, "{}: trace queue holds more than its capacity", self.name);
        }
        n
    }

    fn events(&mut self) {
        let mut n = 0;
        while let Some(e) = self.s.poll_event() {
            assert!(!self.closed_event, "{}: event {e:?} after Event::Closed", self.name);
            n += 1;
            assert!(n < 10_000, "{}: poll_event never returned None", self.name);
            if let Event::Closed(r) = e {
                assert_eq!(Some(r), self.s.close_reason(), "{}: Closed event vs close_reason()", self.name);
                self.closed_event = true;
            }
        }
        self.drain_trace();
    }

    fn check(&mut self, clean: bool) {
        let s = &self.s;
        let name = self.name;
        assert!(s.streams_in_use() <= N, "{name}: {} streams in use > capacity {N}", s.streams_in_use());
        assert_eq!(
            self.ended(),
            s.close_reason().is_some(),
            "{name}: state {:?} vs {:?}",
            s.state(),
            s.close_reason()
        );
        if let Some(prev) = self.reason {
            assert_eq!(s.close_reason(), Some(prev), "{name}: close reason changed after the end");
        }
        self.reason = s.close_reason();
        if self.ended() {
            assert_eq!(s.poll_timeout(), None, "{name}: a timer after the end");
        }
        if clean {
            if let Some(CloseReason { local: Some(LocalError::Protocol(e)), .. }) = s.close_reason() {
                assert_eq!(
                    e,
                    ProtocolError::Flood,
                    "{name}: protocol error {e:?} from an honest peer on a clean wire"
                );
            }
        }
    }

    fn check_stream(&self, id: StreamId) {
        if let Some(i) = self.s.stream_info(id) {
            let name = self.name;
            assert!(i.readable <= RX, "{name} {id:?}: {} readable > buffer {RX}", i.readable);
            assert!(i.unsent <= TX, "{name} {id:?}: {} unsent > buffer {TX}", i.unsent);
            assert!(i.recv_window <= i.recv_window_size, "{name} {id:?}: {i:?}");
            assert!(
                i.readable + i.recv_window as usize <= RX,
                "{name} {id:?}: window {} + readable {} exceed the {RX}-byte buffer",
                i.recv_window,
                i.readable
            );
        }
    }
}

/// A metadata block of roughly `size` bytes (stream type, one header).
fn meta_block(size: u8, stream_type: u32) -> Vec<u8> {
    let value_len = usize::from(size).saturating_sub(8).min(60);
    let mut value = vec![0u8; value_len];
    fill_pattern(stream_type, 0, &mut value);
    let mut buf = vec![0u8; 4 + 3 + 1 + value_len];
    let n = MetadataWriter::new(&mut buf, stream_type)
        .and_then(|w| w.header(b"m", &value))
        .map(|w| w.finish().len())
        .expect("sized to fit");
    buf.truncate(n);
    buf
}

struct World<
    const CN: usize,
    const CRX: usize,
    const CTX: usize,
    const SN: usize,
    const SRX: usize,
    const STX: usize,
> {
    client: Side<CN, CRX, CTX>,
    server: Side<SN, SRX, STX>,
    to_server: VecDeque<u8>,
    to_client: VecDeque<u8>,
    /// Whether the wire towards the server / client was ever tampered with.
    dirty_to_server: bool,
    dirty_to_client: bool,
    now: Instant,
}

/// Run `$body` with `$side` bound to the acting side, `$peer` to the other,
/// `$in_wire`/`$out_wire` to its wires and `$clean` to whether its incoming
/// wire is clean.
macro_rules! with_side {
    ($w:expr, $client:expr, |$side:ident, $peer:ident, $in_wire:ident, $out_wire:ident, $clean:ident| $body:expr) => {
        if $client {
            let $side = &mut $w.client;
            let $peer = &mut $w.server;
            let $in_wire = &mut $w.to_client;
            let $out_wire = &mut $w.to_server;
            let $clean = !$w.dirty_to_client;
            let _ = (&$peer, &$in_wire, &$out_wire, $clean);
            $body
        } else {
            let $side = &mut $w.server;
            let $peer = &mut $w.client;
            let $in_wire = &mut $w.to_server;
            let $out_wire = &mut $w.to_client;
            let $clean = !$w.dirty_to_server;
            let _ = (&$peer, &$in_wire, &$out_wire, $clean);
            $body
        }
    };
}

/// Read from `side`'s stream `id` and check the bytes against what the peer
/// wrote (when the incoming wire is clean).
fn read_checked<const N: usize, const RX: usize, const TX: usize>(
    side: &mut Side<N, RX, TX>,
    peer_streams: &BTreeMap<u32, StreamModel>,
    id: StreamId,
    len: usize,
    clean: bool,
) {
    let name = side.name;
    // Metadata first: it must be exactly what the peer sent.
    let mut mbuf = [0u8; 128];
    if let Ok(Some(n)) = side.s.metadata(id, &mut mbuf) {
        if clean {
            let sent = peer_streams.get(&id.0).and_then(|p| p.meta_out.as_deref());
            assert_eq!(Some(&mbuf[..n]), sent, "{name} {id:?}: metadata differs from what the peer sent");
        }
    }
    let mut buf = vec![0u8; len];
    let written = peer_streams.get(&id.0).map_or(0, |p| p.written);
    let st = side.streams.entry(id.0).or_default();
    match side.s.read(id, &mut buf) {
        Ok(0) if !buf.is_empty() => {
            if clean {
                assert_eq!(
                    st.read, written,
                    "{name} {id:?}: end of stream after {} of {written} bytes",
                    st.read
                );
            }
            st.eof = true;
        }
        Ok(n) => {
            if clean {
                assert!(n == 0 || !st.eof, "{name} {id:?}: {n} bytes read after the end of the stream");
                for (i, b) in buf[..n].iter().enumerate() {
                    let off = st.read + i as u64;
                    assert_eq!(*b, pattern(id.0, off), "{name} {id:?}: wrong byte at offset {off}");
                }
                assert!(
                    st.read + n as u64 <= written,
                    "{name} {id:?}: read {} > written {written}",
                    st.read + n as u64
                );
            }
            st.read += n as u64;
        }
        Err(ReadError::WouldBlock | ReadError::UnknownStream | ReadError::SessionClosed)
        | Err(ReadError::Reset(_) | ReadError::LocallyReset) => {}
    }
}

impl<
        const CN: usize,
        const CRX: usize,
        const CTX: usize,
        const SN: usize,
        const SRX: usize,
        const STX: usize,
    > World<CN, CRX, CTX, SN, SRX, STX>
{
    fn run(setup: Setup, shapes: (Shape, Shape), u: &mut Unstructured<'_>) {
        let tx_buf = TX_BUFS[usize::from(setup.tx_buf % 4)];
        let mut w = Self {
            client: Side::new("client", Role::Client, shapes.0, knobs(setup.client_knobs), tx_buf),
            server: Side::new("server", Role::Server, shapes.1, knobs(setup.server_knobs), tx_buf),
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            dirty_to_server: false,
            dirty_to_client: false,
            now: Instant::ZERO,
        };
        let mut ops = 0;
        while !u.is_empty() && ops < 2_000 {
            let Ok(op) = Op::arbitrary(u) else { break };
            w.apply(op);
            if verbose() {
                w.show(&op);
            }
            w.check();
            ops += 1;
        }
        // Wind down: everything moves, both sides read what is left.
        w.step(usize::MAX);
        w.read_everything();
        w.step(usize::MAX);
        w.read_everything();
        w.check();
    }

    fn show(&self, op: &Op) {
        eprintln!("{op:?}");
        for (name, s, streams) in [
            ("client", &self.client.s.state(), &self.client.streams),
            ("server", &self.server.s.state(), &self.server.streams),
        ] {
            let st: Vec<String> = streams
                .iter()
                .map(|(id, m)| format!("#{id} w{} r{}{}", m.written, m.read, if m.eof { " eof" } else { "" }))
                .collect();
            eprintln!("    {name}: {s:?} [{}]", st.join(", "));
        }
        let (cr, sr) = (self.client.s.close_reason(), self.server.s.close_reason());
        if cr.is_some() || sr.is_some() {
            eprintln!("    close reasons: client {cr:?}, server {sr:?}");
        }
        eprintln!(
            "    wires: to server {} B{}, to client {} B{}",
            self.to_server.len(),
            if self.dirty_to_server { " (tampered)" } else { "" },
            self.to_client.len(),
            if self.dirty_to_client { " (tampered)" } else { "" }
        );
    }

    fn read_everything(&mut self) {
        for client in [true, false] {
            with_side!(self, client, |side, peer, _i, _o, clean| {
                for id in side.streams.keys().copied().collect::<Vec<_>>() {
                    read_checked(side, &peer.streams, StreamId(id), 4096, clean);
                }
                side.events();
            });
        }
    }

    /// Move bytes both ways until neither side has anything more to send.
    fn step(&mut self, chunk: usize) {
        let now = self.now;
        for round in 0.. {
            assert!(round < 10_000, "the sessions never went quiet");
            let mut moved = self.client.transmit(now, &mut self.to_server);
            moved += self.server.deliver(now, &mut self.to_server, usize::MAX, chunk);
            moved += self.server.transmit(now, &mut self.to_client);
            moved += self.client.deliver(now, &mut self.to_client, usize::MAX, chunk);
            self.client.events();
            self.server.events();
            if moved == 0 {
                break;
            }
        }
    }

    fn apply(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Open { client, meta } => with_side!(self, client, |side, _p, _i, _o, _c| {
                let block = (meta > 0).then(|| meta_block(meta, u32::from(meta)));
                let r = match &block {
                    Some(b) => side.s.open_with(b),
                    None => side.s.open(),
                };
                if let Ok(id) = r {
                    let st = side.streams.entry(id.0).or_default();
                    assert_eq!(st.written, 0, "{} reused {id:?}", side.name);
                    st.meta_out = block;
                }
            }),
            Op::Write { client, stream, len } => with_side!(self, client, |side, _p, _i, _o, _c| {
                if let Some(id) = side.stream_id(stream) {
                    let st = side.streams.get_mut(&id.0).expect("known");
                    let mut data = vec![0u8; usize::from(len % 1200)];
                    fill_pattern(id.0, st.written, &mut data);
                    if let Ok(n) = side.s.write(id, &data) {
                        assert!(n <= data.len(), "{} {id:?}: write took {n} of {}", side.name, data.len());
                        st.written += n as u64;
                    }
                }
            }),
            Op::Read { client, stream, len } => with_side!(self, client, |side, peer, _i, _o, clean| {
                if let Some(id) = side.stream_id(stream) {
                    read_checked(side, &peer.streams, id, usize::from(len % 2048), clean);
                }
            }),
            Op::Finish { client, stream } => with_side!(self, client, |side, _p, _i, _o, _c| {
                if let Some(id) = side.stream_id(stream) {
                    let _ = side.s.finish(id);
                }
            }),
            Op::Reset { client, stream, code } => with_side!(self, client, |side, _p, _i, _o, _c| {
                if let Some(id) = side.stream_id(stream) {
                    let _ = side.s.reset(id, ErrorCode(u32::from(code % 12)));
                }
            }),
            Op::Ping { client } => with_side!(self, client, |side, _p, _i, _o, _c| {
                let _ = side.s.ping();
            }),
            Op::GoAway { client, code, debug } => with_side!(self, client, |side, _p, _i, _o, _c| {
                let text = [b'd'; 80];
                let code = if code % 4 == 0 { ErrorCode::NO_ERROR } else { ErrorCode(u32::from(code % 12)) };
                let _ = side.s.go_away(code, &text[..usize::from(debug % 81)]);
            }),
            Op::Close { client } => with_side!(self, client, |side, _p, _i, _o, _c| side.s.close()),
            Op::Accept { client, meta } => with_side!(self, client, |side, _p, _i, _o, _c| {
                let block = (meta > 0).then(|| meta_block(meta, 1000 + u32::from(meta)));
                let r = match &block {
                    Some(b) => side.s.accept_with(b),
                    None => side.s.accept(),
                };
                if let Ok(id) = r {
                    let st = side.streams.entry(id.0).or_default();
                    st.meta_out = block;
                }
            }),
            Op::Refuse { client, code } => with_side!(self, client, |side, _p, _i, _o, _c| {
                if let Ok(id) = side.s.refuse(ErrorCode(u32::from(code % 12))) {
                    side.streams.entry(id.0).or_default();
                }
            }),
            Op::Transmit { client } => with_side!(self, client, |side, _p, _i, out_wire, _c| {
                side.transmit(now, out_wire);
            }),
            Op::Deliver { client, chunk } => with_side!(self, client, |side, _p, in_wire, _o, _c| {
                let chunk = usize::from(chunk % 512).max(1);
                side.deliver(now, in_wire, chunk, chunk);
            }),
            Op::Step { chunk } => {
                let chunk = match chunk % 8 {
                    0 => usize::MAX,
                    1 => 1,
                    _ => usize::from(chunk),
                };
                self.step(chunk);
            }
            Op::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(ms));
                let now = self.now;
                if self.client.s.poll_timeout().is_some_and(|t| t <= now) {
                    self.client.s.handle_timeout(now);
                }
                if self.server.s.poll_timeout().is_some_and(|t| t <= now) {
                    self.server.s.handle_timeout(now);
                }
            }
            Op::Corrupt { to_client, pos, xor } => {
                let (wire, dirty) = self.wire(to_client);
                if !wire.is_empty() {
                    let i = usize::from(pos) % wire.len();
                    wire[i] ^= if xor == 0 { 0x80 } else { xor };
                    *dirty = true;
                }
            }
            Op::DropBytes { to_client, pos, len } => {
                let (wire, dirty) = self.wire(to_client);
                if !wire.is_empty() {
                    let i = usize::from(pos) % wire.len();
                    let end = (i + usize::from(len).max(1)).min(wire.len());
                    wire.drain(i..end);
                    *dirty = true;
                }
            }
            Op::Eof { client } => with_side!(self, client, |side, _p, _i, _o, _c| side.s.handle_eof(now)),
        }
        self.client.events();
        self.server.events();
    }

    fn wire(&mut self, to_client: bool) -> (&mut VecDeque<u8>, &mut bool) {
        if to_client {
            (&mut self.to_client, &mut self.dirty_to_client)
        } else {
            (&mut self.to_server, &mut self.dirty_to_server)
        }
    }

    fn check(&mut self) {
        // Tampering with one wire can make its receiver misbehave on the
        // other (a corrupted SETTINGS or WNDINC), so these need both clean.
        let clean = !self.dirty_to_client && !self.dirty_to_server;
        self.client.check(clean);
        self.server.check(clean);
        let ids: Vec<u32> = self.client.streams.keys().chain(self.server.streams.keys()).copied().collect();
        for &id in &ids {
            self.client.check_stream(StreamId(id));
            self.server.check_stream(StreamId(id));
        }
        // What a sender may still send never exceeds what its receiver
        // still grants: grants leave the receiver first, data leaves the
        // sender first.
        let (c, s) = (&self.client.s, &self.server.s);
        if clean {
            assert!(
                c.session_send_window() <= s.session_recv_window(),
                "client may send {} on the session, server grants {}",
                c.session_send_window(),
                s.session_recv_window()
            );
            assert!(
                s.session_send_window() <= c.session_recv_window(),
                "server may send {} on the session, client grants {}",
                s.session_send_window(),
                c.session_recv_window()
            );
            for &id in &ids {
                let (Some(ci), Some(si)) = (c.stream_info(StreamId(id)), s.stream_info(StreamId(id))) else {
                    continue;
                };
                if ci.reset.is_some() || si.reset.is_some() {
                    continue;
                }
                assert!(
                    ci.send_window <= si.recv_window,
                    "#{id}: client may send {ci:?}, server grants {si:?}"
                );
                assert!(
                    si.send_window <= ci.recv_window,
                    "#{id}: server may send {si:?}, client grants {ci:?}"
                );
            }
        }
    }
}
