//! Ready-made scenarios: sessions driven through a known script.

use super::frames::{block_of, data, meta_payload, ping, ping_ack, raw, ty};
use super::harness::{Harness, Out};
use braid::frame::flags;
use braid::{Config, ErrorCode, Event, Role, StreamId};

/// A test on a frame.
type Is = fn(&Out) -> bool;

/// A session of `role` (over [`Store`](super::Store)) driven to send every
/// kind of frame it can send, and then to end on a protocol error of the
/// peer: SETTINGS and its ACK; a PING ACK and its own PING; an incoming
/// stream accepted with reply metadata; a stream opened with metadata,
/// data and FIN in one frame; plain DATA; a stream WNDINC, a session
/// WNDINC and a CREDIT WNDINC; an RST; a graceful GOAWAY and then an error
/// GOAWAY. Use it to check rules every frame must follow.
///
/// # Panics
/// If the session does not send every one of these kinds.
#[must_use]
pub fn every_frame_kind(role: Role) -> Harness {
    let mut config = Config::new(role);
    config.session_window = 4000;
    config.session_window_max = 4000;
    let mut h = Harness::connected(config, usize::MAX);
    let theirs = match role {
        Role::Server => 1,
        Role::Client => 2,
    };
    // PING both ways.
    h.step(&ping(0x1234));
    h.s.ping().expect("no ping outstanding");
    h.drain();
    h.step(&ping_ack(1));
    // The peer opens a stream with metadata and 2000 bytes; the application
    // accepts with reply metadata, reads everything and answers.
    let body = vec![0x5A; 2000];
    h.step(&data(theirs, flags::SYN | flags::META, &meta_payload(&block_of(16), &body)));
    let reply = block_of(12);
    assert_eq!(h.s.accept_with(&reply), Ok(StreamId(theirs)));
    h.drain();
    let mut buf = vec![0u8; 4096];
    assert_eq!(h.s.read(StreamId(theirs), &mut buf), Ok(2000));
    h.s.write(StreamId(theirs), b"answer").expect("write");
    h.drain();
    // A stream of its own: metadata, data and FIN.
    let mine = h.s.open_with(&block_of(20)).expect("open");
    h.s.write(mine, &[0xA5; 100]).expect("write");
    h.s.finish(mine).expect("finish");
    h.drain();
    // Reset the peer's stream: RST, then the credit comes back.
    h.s.reset(StreamId(theirs), ErrorCode::CANCEL).expect("reset");
    h.drain();
    // A graceful GOAWAY, then the peer breaks a rule.
    h.s.go_away(ErrorCode::NO_ERROR, b"done").expect("go away");
    h.drain();
    h.step(&raw(ty::WNDINC, 0, 0, &[0; 4]));
    assert!(h.events.iter().any(|e| matches!(e, Event::Closed(_))));
    let all = h.all_frames();
    let kinds: [(&str, Is); 14] = [
        ("SETTINGS", |f| matches!(f, Out::Settings(_))),
        ("SETTINGS ACK", |f| matches!(f, Out::SettingsAck)),
        ("PING", |f| matches!(f, Out::Ping { ack: false, .. })),
        ("PING ACK", |f| matches!(f, Out::Ping { ack: true, .. })),
        ("SYN with META and FIN", |f| f.is_data_with(flags::SYN | flags::META | flags::FIN)),
        ("reply META", |f| matches!(f, Out::Data { flags: flags::META, .. })),
        ("plain DATA", |f| matches!(f, Out::Data { flags: 0, .. })),
        ("stream WNDINC", |f| matches!(f, Out::WndInc { stream: 1.., .. })),
        ("session WNDINC", |f| matches!(f, Out::WndInc { stream: 0, credit: false, .. })),
        ("CREDIT WNDINC", |f| matches!(f, Out::WndInc { stream: 0, credit: true, .. })),
        ("RST", |f| matches!(f, Out::Rst { .. })),
        ("GOAWAY NO_ERROR", |f| matches!(f, Out::GoAway { code: ErrorCode::NO_ERROR, .. })),
        ("GOAWAY error", |f| matches!(f, Out::GoAway { code: ErrorCode::PROTOCOL_ERROR, .. })),
        ("DATA", |f| f.is_data_with(0)),
    ];
    for (name, is) in kinds {
        assert!(all.iter().any(is), "the scenario sent no {name}: {all:?}");
    }
    h
}
