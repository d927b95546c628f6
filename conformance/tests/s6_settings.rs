//! spec.md §6, settings: receiving them (defaults, ranges, unknown and
//! repeated ids, once only, the ACK) and what a side may announce.

use braid::frame::{flags, Settings, MAX_WINDOW};
use braid::{
    ArrayStorage, Config, Duration, ErrorCode as C, ProtocolError as P, Role, Storage, StreamId, VecStorage,
};
use braid_conformance::cases;
use braid_conformance::peer::*;

// =============================================================================
// Input cases (each also fed one byte at a time)
// =============================================================================

/// [Settings] a value out of range -> PROTOCOL_ERROR.
fn settings_out_of_range(chunk: usize, id: u16, value: u32) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &settings_entries(&[(3, 8), (id, value), (4, 1000)])]));
    expect_protocol_error(&mut h, &d, P::SettingOutOfRange, C::PROTOCOL_ERROR, 0);
    assert_eq!(h.s.peer_settings(), None);
    h
}

/// SETTINGS is sent exactly once: a second non-ACK SETTINGS ->
/// PROTOCOL_ERROR.
/// Checks [S-6.5].
fn case_second_settings(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&settings(Settings::DEFAULT));
    expect_protocol_error(&mut h, &d, P::SettingsRepeated, C::PROTOCOL_ERROR, 0);
    h
}

/// A second SETTINGS right behind the first, in the same read.
/// Checks [S-6.5].
fn case_second_settings_back_to_back(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &settings_entries(&[(1, 100)])]));
    expect_protocol_error(&mut h, &d, P::SettingsRepeated, C::PROTOCOL_ERROR, 0);
    h
}

/// An ACK when this side had no SETTINGS outstanding (it has
/// not even sent its own yet) -> PROTOCOL_ERROR.
/// Checks [S-6.7].
fn case_settings_ack_unexpected(chunk: usize) -> Harness {
    let mut h = Harness::raw(Config::server(), chunk);
    let d = h.step(&cat(&[&handshake(), &settings_ack()]));
    expect_protocol_error(&mut h, &d, P::UnexpectedSettingsAck, C::PROTOCOL_ERROR, 0);
    h
}

/// Exactly one ACK answers a SETTINGS: a second ACK ->
/// PROTOCOL_ERROR.
/// Checks [S-6.7].
fn case_settings_ack_twice(chunk: usize) -> Harness {
    let mut h = Harness::server(chunk);
    let d = h.step(&settings_ack());
    expect_protocol_error(&mut h, &d, P::UnexpectedSettingsAck, C::PROTOCOL_ERROR, 0);
    h
}

/// 1 INITIAL_STREAM_WINDOW is 0..=2^31-1.
/// Checks [S-6.2].
fn case_setting_initial_stream_window_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 1, 0x8000_0000)
}

/// 2 MAX_FRAME_SIZE is 64..=16777215: 63 is too small.
/// Checks [S-6.2].
fn case_setting_max_frame_size_too_small(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 2, 63)
}

/// 2 MAX_FRAME_SIZE is 64..=16777215: 0 is too small.
/// Checks [S-6.2].
fn case_setting_max_frame_size_zero(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 2, 0)
}

/// 2 MAX_FRAME_SIZE is 64..=16777215: 2^24 is too large.
/// Checks [S-6.2].
fn case_setting_max_frame_size_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 2, 1 << 24)
}

/// 3 STREAM_CREDIT is 0..=2^31-1.
/// Checks [S-6.2].
fn case_setting_stream_credit_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 3, 0x8000_0000)
}

/// 4 SESSION_WINDOW is 0..=2^31-1.
/// Checks [S-6.2].
fn case_setting_session_window_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 4, u32::MAX)
}

/// 5 MAX_OPEN_METADATA is 0..=65535.
/// Checks [S-6.2].
fn case_setting_max_open_metadata_too_large(chunk: usize) -> Harness {
    settings_out_of_range(chunk, 5, 65_536)
}

/// Every range's edge is accepted (6 IDLE_TIMEOUT takes any
/// u32), unknown ids are ignored and the last of duplicate ids wins.
/// Checks [S-6.2], [S-6.3].
fn case_settings_range_edges_accepted(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let f = settings_entries(&[
        (1, MAX_WINDOW),
        (2, 0x00FF_FFFF),
        (3, MAX_WINDOW),
        (4, MAX_WINDOW),
        (5, 65_535),
        (6, u32::MAX),
        (0x77, 12345),
        (0, 1),
        (2, 64),
    ]);
    let d = h.step(&cat(&[&preface(), &f, &settings_ack()]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    let want = Settings {
        initial_stream_window: MAX_WINDOW,
        max_frame_size: 64,
        stream_credit: MAX_WINDOW,
        session_window: MAX_WINDOW,
        max_open_metadata: 65_535,
        idle_timeout_ms: u32::MAX,
    };
    assert_eq!(h.s.peer_settings(), Some(&want));
    assert_eq!(h.s.send_credit(), MAX_WINDOW);
    assert_eq!(h.s.session_send_window(), MAX_WINDOW);
    expect_alive(&mut h);
    h
}

/// An empty SETTINGS is valid: every setting takes its default.
/// Checks [S-6.1].
fn case_settings_empty_takes_defaults(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::server(), chunk);
    let d = h.step(&cat(&[&preface(), &raw(ty::SETTINGS, 0, 0, &[]), &settings_ack()]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    assert_eq!(h.s.peer_settings(), Some(&Settings::DEFAULT));
    expect_alive(&mut h);
    h
}

/// A SETTINGS frame with only some entries: every absent setting takes its
/// default, and the session behaves by it (stream and session send
/// windows, stream credit, frame size, idle timeout).
/// Checks [S-6.1].
fn case_settings_partial_takes_defaults(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::client(), chunk);
    let d = h.step(&cat(&[&preface(), &settings_entries(&[(6, 5000), (5, 100)]), &settings_ack()]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    let want = settings_with(|s| {
        s.idle_timeout_ms = 5000;
        s.max_open_metadata = 100;
    });
    assert_eq!(h.s.peer_settings(), Some(&want));
    assert_eq!(h.s.send_credit(), 16);
    assert_eq!(h.s.session_send_window(), 262_144);
    assert_eq!(h.s.idle_timeout(), Some(Duration::from_secs(5)));
    let id = h.s.open().unwrap();
    assert_eq!(h.s.stream_info(id).unwrap().send_window, 65_536);
    h.s.write(id, &[1; 4096]).unwrap();
    let d = h.drain();
    assert_eq!(d.frames.len(), 1, "4096 bytes fit one frame of the default 16384");
    h
}

/// Unknown ids are ignored and the last of repeated ids wins, as the
/// session's behaviour shows: the stream send window is the last
/// INITIAL_STREAM_WINDOW given, the credit the last STREAM_CREDIT.
/// Checks [S-6.3].
fn case_settings_last_value_wins_in_behaviour(chunk: usize) -> Harness {
    let mut h = Harness::fresh(Config::client(), chunk);
    let f = settings_entries(&[(1, 1), (0x99, 7), (3, 0), (1, 300), (0xFFFF, 0xFFFF_FFFF), (3, 1)]);
    let d = h.step(&cat(&[&preface(), &f, &settings_ack()]));
    assert_eq!(d.frames, vec![Out::SettingsAck]);
    assert_eq!(h.s.send_credit(), 1);
    let id = h.s.open().unwrap();
    assert_eq!(h.s.stream_info(id).unwrap().send_window, 300);
    h.s.write(id, &[2; 1000]).unwrap();
    let d = h.drain();
    assert_eq!(d.frames, vec![Out::Data { stream: 1, flags: flags::SYN, payload: vec![2; 300] }]);
    h
}

// =============================================================================
// What the session sends and announces
// =============================================================================

/// The session answers the peer's SETTINGS with exactly one SETTINGS ACK,
/// over a whole session of every kind of frame, in both roles.
/// Checks [S-6.6].
#[test]
fn exactly_one_settings_ack() {
    for role in [Role::Client, Role::Server] {
        let h = every_frame_kind(role);
        let acks = h.all_frames().iter().filter(|f| matches!(f, Out::SettingsAck)).count();
        assert_eq!(acks, 1, "{role:?}");
        expect_sender_rules(&h);
    }
    // The ACK follows the SETTINGS whatever else arrives with it.
    let mut h = Harness::fresh(Config::server(), WHOLE);
    let d = h.step(&cat(&[&handshake(), &ping(1), &syn(1, b"x"), &settings_ack(), &ping(2)]));
    assert_eq!(d.frames.iter().filter(|f| matches!(f, Out::SettingsAck)).count(), 1, "{:?}", d.frames);
    let d = h.step(&ping(3));
    assert!(!d.frames.contains(&Out::SettingsAck));
}

/// What a side over `storage` (with `slots` slots and `rx` receive bytes
/// per stream) announces fits the storage, and the peer can use every
/// promised byte and stream at once: it opens its whole credit of
/// streams, each SYN with a metadata block of MAX_OPEN_METADATA bytes and
/// a whole window of data, while every slot left for the application's
/// own streams receives a reply with a full block and a full window; the
/// application has read nothing. Everything is accepted and readable.
fn use_every_promise<S: Storage>(config: Config, storage: S, slots: u32, rx: u32) {
    let role = config.role;
    let mut h = Harness::new(config, storage, WHOLE);
    let announced = h.start();
    assert_eq!(&announced, h.s.local_settings());
    let window = announced.initial_stream_window;
    let meta = announced.max_open_metadata;
    assert!(
        window + meta <= rx,
        "{announced:?}: a stream needs {} bytes, the storage has {rx}",
        window + meta
    );
    assert!(announced.stream_credit <= slots, "{announced:?}: credit above the {slots} slots");
    let peer = settings_with(|s| s.stream_credit = MAX_WINDOW);
    h.handshake(peer);
    // The application opens every stream it may.
    let mut mine = Vec::new();
    while let Ok(id) = h.s.open() {
        mine.push(id);
    }
    assert_eq!(mine.len() as u32, slots - announced.stream_credit, "{role:?}: local streams");
    h.drain();
    let block = if meta >= 8 { block_of(meta as usize) } else { Vec::new() };
    let body: Vec<u8> = (0..window).map(|i| i as u8).collect();
    // The block and the window, in frames of at most MAX_FRAME_SIZE.
    let max = announced.max_frame_size as usize;
    let frames = |id: u32, fl: u8| {
        let (fl, mut p) =
            if block.is_empty() { (fl, Vec::new()) } else { (fl | flags::META, meta_payload(&block, b"")) };
        let first = (max - p.len()).min(body.len());
        p.extend_from_slice(&body[..first]);
        let mut out = data(id, fl, &p);
        for piece in body[first..].chunks(max) {
            out.extend(data(id, 0, piece));
        }
        out
    };
    let mut input = Vec::new();
    for id in &mine {
        input.extend(frames(id.0, 0));
    }
    let first = if role == Role::Server { 1 } else { 2 };
    let theirs: Vec<u32> = (0..announced.stream_credit).map(|i| first + 2 * i).collect();
    for id in &theirs {
        input.extend(frames(*id, flags::SYN));
    }
    let d = h.step(&input);
    assert!(d.frames.is_empty(), "{:?}", d.frames);
    assert_eq!(h.s.close_reason(), None);
    assert_eq!(h.s.streams_in_use() as u32, slots);
    for id in &theirs {
        assert_eq!(h.s.accept(), Ok(StreamId(*id)));
    }
    let mut buf = vec![0u8; (window + meta) as usize + 1];
    for id in mine.iter().copied().chain(theirs.iter().map(|&i| StreamId(i))) {
        let info = h.s.stream_info(id).unwrap();
        assert_eq!(info.recv_window, 0, "{id:?}: the whole window was used");
        if !block.is_empty() {
            assert_eq!(h.s.metadata(id, &mut buf), Ok(Some(block.len())), "{id:?}");
            assert_eq!(&buf[..block.len()], &block[..]);
        }
        assert_eq!(h.s.read(id, &mut buf), Ok(window as usize), "{id:?}");
        assert_eq!(&buf[..window as usize], &body[..]);
    }
    h.drain();
    expect_alive(&mut h);
    expect_sender_rules(&h);
}

/// A side never announces more than its storage holds: for storages of
/// several shapes (fixed and growable, tiny to large) and configurations
/// asking for more than fits, INITIAL_STREAM_WINDOW plus MAX_OPEN_METADATA
/// fits each stream's receive buffer and STREAM_CREDIT the slots kept for
/// the peer — and the peer can use all of it at once.
/// Checks [S-6.4].
#[test]
fn announced_settings_fit_the_storage_and_can_all_be_used() {
    use_every_promise(Config::server(), Store::new(), 4, 4096);
    use_every_promise(Config::client(), Store::new(), 4, 4096);
    use_every_promise(Config::server(), ArrayStorage::<2, 256, 64>::new(), 2, 256);
    use_every_promise(Config::client(), ArrayStorage::<3, 100, 64>::new(), 3, 100);
    let greedy = Config {
        stream_window: MAX_WINDOW,
        max_open_metadata: u16::MAX,
        max_inbound_streams: Some(1000),
        ..Config::server()
    };
    use_every_promise(greedy, ArrayStorage::<4, 2048, 64>::new(), 4, 2048);
    let mut half = Config::client();
    half.max_inbound_streams = Some(3);
    half.max_open_metadata = 0;
    use_every_promise(half, VecStorage::new(5, 9000, 64), 5, 9000);
    use_every_promise(Config::server(), VecStorage::new(8, 20_000, 64), 8, 20_000);
}

// =============================================================================
// The tests
// =============================================================================

cases! {
    second_settings => case_second_settings,
    second_settings_back_to_back => case_second_settings_back_to_back,
    settings_ack_unexpected => case_settings_ack_unexpected,
    settings_ack_twice => case_settings_ack_twice,
    setting_initial_stream_window_too_large => case_setting_initial_stream_window_too_large,
    setting_max_frame_size_too_small => case_setting_max_frame_size_too_small,
    setting_max_frame_size_zero => case_setting_max_frame_size_zero,
    setting_max_frame_size_too_large => case_setting_max_frame_size_too_large,
    setting_stream_credit_too_large => case_setting_stream_credit_too_large,
    setting_session_window_too_large => case_setting_session_window_too_large,
    setting_max_open_metadata_too_large => case_setting_max_open_metadata_too_large,
    settings_range_edges_accepted => case_settings_range_edges_accepted,
    settings_empty_takes_defaults => case_settings_empty_takes_defaults,
    settings_partial_takes_defaults => case_settings_partial_takes_defaults,
    settings_last_value_wins_in_behaviour => case_settings_last_value_wins_in_behaviour,
}

/// Every case of this file, fed one byte at a time and in chunks of 2 and
/// 7, gives the same close reason, events and bytes sent as fed whole.
/// Checks [S-3.3].
#[test]
fn every_case_gives_the_same_outcome_fed_byte_by_byte() {
    same_outcome_in_every_chunking(CASES);
}
