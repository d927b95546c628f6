//! Writes the seed corpus kept in the repository, `corpus/<target>/seed-*`:
//! real exchanges captured from the engine, hand-built frames and operation
//! sequences encoded for `arbitrary`.
//!
//! `cargo run --example gen_seeds` (from `fuzz/`). Deterministic: running it
//! again rewrites the same files.

use arbitrary::{Arbitrary, Unstructured};
use braid::frame::{flags, Frame, FrameType, GoAway, Header, Settings, PREFACE};
use braid::{ArrayStorage, ErrorCode, Instant, MetadataWriter, Role, Session, Storage, StreamId};
use braid_fuzz::pair_ops::{Op, Setup};
use braid_fuzz::{fill_pattern, session_config, Knobs, Shape};
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let (c2s, s2c) = capture();
    let mut n = 0;
    let mut write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
        n += 1;
    };

    // ----- frame_decoder: [max0][max1][seed][bytes] -----------------------
    let every = every_frame();
    write("frame_decoder", "every-frame-type", &cat(&[&[0x80, 0, 7], &every]));
    write("frame_decoder", "client-capture", &cat(&[&[0x80, 0, 1], &c2s[PREFACE.len()..]]));
    write("frame_decoder", "server-capture-small-max", &cat(&[&[0x40, 64, 2], &s2c[PREFACE.len()..]]));
    write(
        "frame_decoder",
        "metadata-block",
        &cat(&[&[0x00, 0, 3], &meta(0xB5, &[(b"path", b"/telemetry"), (b"a", b"")])]),
    );
    // Unknown id 9, id 2 twice (the last wins), then every id in range.
    let mut settings = vec![0, 9, 0, 0, 0, 1, 0, 2, 0, 0, 1, 0, 0, 2, 0, 0, 2, 0];
    let mut all = [0u8; Settings::ENCODED_LEN];
    let _ = Settings::DEFAULT.encode(&mut all);
    settings.extend_from_slice(&all);
    write("frame_decoder", "settings-payload", &cat(&[&[0x00, 0, 4], &settings]));
    write("frame_decoder", "invalid-frames", &cat(&[&[0x00, 0, 5], &invalid_frames()]));

    // ----- session_input: [cfg0][cfg1][k][plan][wire] ---------------------
    // cfg0 bit 0: 0 server / 1 client; bit 1: prefix; bits 2-5 knobs; bits 6-7 shape (1 = Small).
    // cfg1 bits 0-1: tx buffer (2 = 1024); bits 2-3 prefix SETTINGS; bit 4 ACK; bit 5 no first drain.
    const SMALL: u8 = 0x40;
    const ACCEPT_READ: u8 = 20 << 3;
    const OPEN_WRITE: u8 = 22 << 3;
    const LATER: u8 = 16 << 3; // 250 ms pass
    write("session_input", "server-real-exchange", &cat(&[&[SMALL, 2, 1, ACCEPT_READ | 7], &c2s]));
    write("session_input", "server-real-exchange-bytewise", &cat(&[&[SMALL, 2, 3, 0, 0, ACCEPT_READ], &c2s]));
    write(
        "session_input",
        "client-real-exchange",
        // 52 bytes of preface and SETTINGS, then open stream 1 (the capture's
        // stream), then everything else with accept and read.
        &cat(&[&[SMALL | 1, 2, 3, 5, OPEN_WRITE | 5, ACCEPT_READ | 7], &s2c]),
    );
    write(
        "session_input",
        "server-trace-idle-time",
        &cat(&[&[SMALL | 4 | 8, 0, 4, LATER | 6, ACCEPT_READ | 5, (17 << 3) | 4, (21 << 3) | 7], &c2s]),
    );
    write(
        "session_input",
        "prefix-then-frames",
        &cat(&[&[SMALL | 2, 0x04 | 0x10 | 2, 1, ACCEPT_READ | 7], &prefix_frames()]),
    );
    write("session_input", "bad-version", &cat(&[&[SMALL, 0, 0], b"BRAID\r\n\x02"]));
    write(
        "session_input",
        "client-gets-wrong-parity-syn",
        &cat(&[&[1 | 2, 0x10, 2, OPEN_WRITE | 7, ACCEPT_READ | 7], &prefix_frames()]),
    );

    // ----- session_pair_ops: Setup then Ops -------------------------------
    let c = true;
    let s = false;
    let base = Setup { shapes: 0, client_knobs: 0, server_knobs: 0, tx_buf: 1 };
    let all = u16::MAX - 7; // Step chunk % 8 == 0: whole buffers
    write(
        "session_pair_ops",
        "open-write-read-finish",
        &ops(
            base,
            &[
                Op::Step { chunk: all },
                Op::Open { client: c, meta: 0 },
                Op::Write { client: c, stream: 0, len: 300 },
                Op::Step { chunk: all },
                Op::Accept { client: s, meta: 0 },
                Op::Read { client: s, stream: 0, len: 500 },
                Op::Write { client: s, stream: 0, len: 200 },
                Op::Finish { client: s, stream: 0 },
                Op::Finish { client: c, stream: 0 },
                Op::Step { chunk: all },
                Op::Read { client: c, stream: 0, len: 500 },
                Op::Read { client: s, stream: 0, len: 500 },
                Op::Step { chunk: all },
            ],
        ),
    );
    write(
        "session_pair_ops",
        "metadata-both-ways",
        &ops(
            base,
            &[
                Op::Step { chunk: all },
                Op::Open { client: c, meta: 20 },
                Op::Open { client: s, meta: 12 },
                Op::Step { chunk: 7 },
                Op::Accept { client: s, meta: 16 },
                Op::Accept { client: c, meta: 0 },
                Op::Step { chunk: 1 },
                Op::Read { client: c, stream: 0, len: 100 },
                Op::Read { client: s, stream: 0, len: 100 },
                Op::Write { client: c, stream: 1, len: 90 },
                Op::Step { chunk: all },
                Op::Read { client: s, stream: 1, len: 100 },
            ],
        ),
    );
    write(
        "session_pair_ops",
        "graceful-goaway",
        &ops(
            Setup { shapes: 1, ..base },
            &[
                Op::Step { chunk: all },
                Op::Open { client: c, meta: 0 },
                Op::Open { client: c, meta: 0 },
                Op::Write { client: c, stream: 1, len: 100 },
                Op::Step { chunk: all },
                Op::GoAway { client: s, code: 0, debug: 10 },
                Op::Open { client: c, meta: 0 },
                Op::Step { chunk: all },
                Op::Accept { client: s, meta: 0 },
                Op::Read { client: s, stream: 0, len: 200 },
                Op::Finish { client: c, stream: 0 },
                Op::Finish { client: c, stream: 1 },
                Op::Step { chunk: all },
                Op::Finish { client: s, stream: 0 },
                Op::Read { client: s, stream: 0, len: 200 },
                Op::Step { chunk: all },
                Op::Read { client: c, stream: 0, len: 200 },
                Op::Step { chunk: all },
            ],
        ),
    );
    write(
        "session_pair_ops",
        "slow-link-ping-time",
        &ops(
            Setup { shapes: 2, client_knobs: 2, server_knobs: 1 | 2, tx_buf: 0 },
            &[
                Op::Transmit { client: c },
                Op::Transmit { client: s },
                Op::Deliver { client: s, chunk: 5 },
                Op::Deliver { client: c, chunk: 100 },
                Op::Deliver { client: s, chunk: 100 },
                Op::Step { chunk: 3 },
                Op::Ping { client: c },
                Op::Open { client: s, meta: 0 },
                Op::Write { client: s, stream: 0, len: 1000 },
                Op::Transmit { client: s },
                Op::Deliver { client: c, chunk: 40 },
                Op::Advance { ms: 600 },
                Op::Step { chunk: 9 },
                Op::Accept { client: c, meta: 0 },
                Op::Read { client: c, stream: 0, len: 64 },
                Op::Advance { ms: 1200 },
                Op::Step { chunk: all },
            ],
        ),
    );
    write(
        "session_pair_ops",
        "corrupt-and-drop",
        &ops(
            base,
            &[
                Op::Step { chunk: all },
                Op::Open { client: c, meta: 0 },
                Op::Write { client: c, stream: 0, len: 120 },
                Op::Transmit { client: c },
                Op::Corrupt { to_client: false, pos: 3, xor: 0x40 },
                Op::Step { chunk: all },
                Op::Open { client: s, meta: 0 },
                Op::Transmit { client: s },
                Op::DropBytes { to_client: true, pos: 1, len: 2 },
                Op::Step { chunk: all },
                Op::Eof { client: c },
                Op::Step { chunk: all },
            ],
        ),
    );
    write(
        "session_pair_ops",
        "reset-refuse-close",
        &ops(
            Setup { shapes: 3, client_knobs: 4, server_knobs: 8, tx_buf: 2 },
            &[
                Op::Step { chunk: all },
                Op::Open { client: c, meta: 0 },
                Op::Open { client: s, meta: 0 },
                Op::Step { chunk: all },
                Op::Refuse { client: s, code: 8 },
                Op::Accept { client: c, meta: 0 },
                Op::Write { client: c, stream: 0, len: 50 },
                Op::Reset { client: c, stream: 0, code: 8 },
                Op::Step { chunk: all },
                Op::Open { client: c, meta: 0 },
                Op::Step { chunk: all },
                Op::Close { client: s },
                Op::Step { chunk: all },
            ],
        ),
    );
    println!("wrote {n} seeds under {}", root.display());
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn push(out: &mut Vec<u8>, f: &Frame<'_>) {
    let at = out.len();
    out.resize(at + f.encoded_len(), 0);
    f.emit(&mut out[at..]).expect("sized to fit");
}

fn meta(stream_type: u32, headers: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let mut w = MetadataWriter::new(&mut buf, stream_type).expect("room");
    for (n, v) in headers {
        w = w.header(n, v).expect("room");
    }
    w.finish().to_vec()
}

fn every_frame() -> Vec<u8> {
    let block = meta(7, &[(b"k", b"v")]);
    let mut meta_payload = (block.len() as u16).to_be_bytes().to_vec();
    meta_payload.extend_from_slice(&block);
    meta_payload.extend_from_slice(b"data");
    let mut out = Vec::new();
    for f in [
        Frame::Settings(Settings::DEFAULT),
        Frame::SettingsAck,
        Frame::Data { stream: StreamId(1), flags: flags::SYN | flags::META, payload: &meta_payload },
        Frame::Data { stream: StreamId(1), flags: flags::FIN, payload: b"hi" },
        Frame::WndInc { stream: StreamId(1), credit: false, increment: 4096 },
        Frame::WndInc { stream: StreamId(0), credit: true, increment: 2 },
        Frame::Rst { stream: StreamId(3), code: ErrorCode::CANCEL },
        Frame::Ping { ack: false, opaque: *b"12345678" },
        Frame::Ping { ack: true, opaque: *b"12345678" },
        Frame::GoAway(GoAway { last_stream: StreamId(4), code: ErrorCode::NO_ERROR, debug: b"bye" }),
        Frame::Unknown { header: Header::new(FrameType::Unknown(9), 0xF, StreamId(77), 3), payload: b"xyz" },
    ] {
        push(&mut out, &f);
    }
    out
}

fn invalid_frames() -> Vec<u8> {
    let mut out = Vec::new();
    // WNDINC with a zero increment, RST of 5 bytes, PING on stream 3,
    // SETTINGS with MAX_FRAME_SIZE 63, DATA on stream 0, then a valid PING.
    out.extend_from_slice(&[0, 0, 4, 0x20, 0, 0, 0, 1, 0, 0, 0, 0]);
    out.extend_from_slice(&[0, 0, 5, 0x00, 0, 0, 0, 1, 0, 0, 0, 8, 0]);
    out.extend_from_slice(&[0, 0, 8, 0x50, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8]);
    out.extend_from_slice(&[0, 0, 6, 0x40, 0, 0, 0, 0, 0, 2, 0, 0, 0, 63]);
    out.extend_from_slice(&[0, 0, 1, 0x10, 0, 0, 0, 0, 0xAA]);
    push(&mut out, &Frame::Ping { ack: false, opaque: [9; 8] });
    out
}

/// Frames an honest client could send right after its preface and SETTINGS
/// (the target prepends those): open stream 1 with metadata and data, more
/// data with FIN, a PING, a window update, an unknown frame and a reset.
fn prefix_frames() -> Vec<u8> {
    let block = meta(1, &[(b"p", b"/x")]);
    let mut p = (block.len() as u16).to_be_bytes().to_vec();
    p.extend_from_slice(&block);
    p.extend_from_slice(b"hello");
    let mut out = Vec::new();
    push(&mut out, &Frame::Data { stream: StreamId(1), flags: flags::SYN | flags::META, payload: &p });
    push(&mut out, &Frame::Data { stream: StreamId(1), flags: 0, payload: b" world" });
    push(&mut out, &Frame::Ping { ack: false, opaque: [1; 8] });
    push(&mut out, &Frame::Data { stream: StreamId(3), flags: flags::SYN | flags::FIN, payload: b"x" });
    push(&mut out, &Frame::WndInc { stream: StreamId(0), credit: false, increment: 100 });
    push(
        &mut out,
        &Frame::Unknown { header: Header::new(FrameType::Unknown(12), 0, StreamId(0), 2), payload: b"??" },
    );
    push(&mut out, &Frame::Rst { stream: StreamId(3), code: ErrorCode::CANCEL });
    push(&mut out, &Frame::Data { stream: StreamId(1), flags: flags::FIN, payload: b"!" });
    out
}

/// A real exchange between a client and a server of the Small shape (the
/// session_input target's shape 1): every byte each side sent.
fn capture() -> (Vec<u8>, Vec<u8>) {
    type S = ArrayStorage<4, 256, 256>;
    let knobs = Knobs::default();
    let now = Instant::ZERO;
    let mut c: Session<S> = Session::new(session_config(Role::Client, Shape::Small, knobs), S::new(), now);
    let mut s: Session<S> = Session::new(session_config(Role::Server, Shape::Small, knobs), S::new(), now);
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    pump(&mut c, &mut s, &mut c2s, &mut s2c);
    let block = meta(0xB5, &[(b"path", b"/x")]);
    let id = c.open_with(&block).expect("open");
    let mut data = [0u8; 200];
    fill_pattern(id.0, 0, &mut data);
    assert_eq!(c.write(id, &data), Ok(200));
    c.ping().expect("ping");
    pump(&mut c, &mut s, &mut c2s, &mut s2c);
    let reply = meta(1, &[(b"ok", b"1")]);
    let sid = s.accept_with(&reply).expect("incoming");
    let mut buf = [0u8; 256];
    let got = s.read(sid, &mut buf).expect("data");
    assert!(got > 0);
    assert_eq!(s.write(sid, b"pong"), Ok(4));
    s.finish(sid).expect("finish");
    pump(&mut c, &mut s, &mut c2s, &mut s2c);
    while c.read(id, &mut buf).is_ok_and(|n| n > 0) {}
    c.finish(id).expect("finish");
    pump(&mut c, &mut s, &mut c2s, &mut s2c);
    while s.read(sid, &mut buf).is_ok_and(|n| n > 0) {}
    s.go_away(ErrorCode::NO_ERROR, b"done").expect("go away");
    pump(&mut c, &mut s, &mut c2s, &mut s2c);
    (c2s, s2c)
}

fn pump<A: Storage, B: Storage>(
    c: &mut Session<A>,
    s: &mut Session<B>,
    c2s: &mut Vec<u8>,
    s2c: &mut Vec<u8>,
) {
    let now = Instant::ZERO;
    let mut buf = [0u8; 4096];
    loop {
        let mut moved = 0;
        loop {
            let n = c.poll_transmit(now, &mut buf);
            if n == 0 {
                break;
            }
            c2s.extend_from_slice(&buf[..n]);
            assert_eq!(s.handle_input(now, &buf[..n]), n);
            moved += n;
        }
        loop {
            let n = s.poll_transmit(now, &mut buf);
            if n == 0 {
                break;
            }
            s2c.extend_from_slice(&buf[..n]);
            assert_eq!(c.handle_input(now, &buf[..n]), n);
            moved += n;
        }
        while c.poll_event().is_some() {}
        while s.poll_event().is_some() {}
        if moved == 0 {
            return;
        }
    }
}

/// Encode a scenario and check that `arbitrary` decodes it back unchanged.
fn ops(setup: Setup, ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    setup.encode(&mut out);
    for op in ops {
        op.encode(&mut out);
    }
    let mut u = Unstructured::new(&out);
    let back = Setup::arbitrary(&mut u).expect("setup");
    assert_eq!(
        [back.shapes, back.client_knobs, back.server_knobs, back.tx_buf],
        [setup.shapes, setup.client_knobs, setup.server_knobs, setup.tx_buf]
    );
    for op in ops {
        assert_eq!(Op::arbitrary(&mut u).expect("op"), *op, "the encoder and arbitrary disagree");
    }
    assert!(u.is_empty());
    out
}
