//! The per-stream waker slots (feature `wakers`): a registered task is
//! woken when its stream becomes readable or writable, is reset, or the
//! session ends.
#![cfg(feature = "wakers")]

use braid::pair::Pair;
use braid::{ArrayStorage, Config, ErrorCode, StreamId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

type S = ArrayStorage<4, 256, 256>;

fn connected() -> (Pair<S, S, 1024>, StreamId) {
    let mut p = Pair::new(Config::client(), S::new(), Config::server(), S::new());
    p.step();
    let id = p.client.open().unwrap();
    p.step();
    assert_eq!(p.server.accept(), Ok(id));
    (p, id)
}

#[test]
fn read_waker_fires_on_data_and_only_once_per_registration() {
    let (mut p, id) = connected();
    let (count, waker) = counter();
    p.server.register_read_waker(id, &waker).unwrap();
    p.client.write(id, b"abc").unwrap();
    p.step();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    p.client.write(id, b"def").unwrap();
    p.step();
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken again without re-registering");
}

#[test]
fn write_waker_fires_when_room_frees() {
    let (mut p, id) = connected();
    let (count, waker) = counter();
    while p.client.write(id, &[0u8; 64]).is_ok() {}
    p.client.register_write_waker(id, &waker).unwrap();
    p.step();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
}

#[test]
fn both_wakers_fire_on_reset_and_session_end() {
    let (mut p, id) = connected();
    let (reads, rw) = counter();
    let (writes, ww) = counter();
    p.server.register_read_waker(id, &rw).unwrap();
    p.server.register_write_waker(id, &ww).unwrap();
    p.client.reset(id, ErrorCode::CANCEL).unwrap();
    p.step();
    assert_eq!((reads.0.load(Ordering::SeqCst), writes.0.load(Ordering::SeqCst)), (1, 1));

    let (mut p, id) = connected();
    let (reads, rw) = counter();
    p.client.register_read_waker(id, &rw).unwrap();
    p.client.handle_eof(p.now);
    assert_eq!(reads.0.load(Ordering::SeqCst), 1);
    assert_eq!(p.client.register_read_waker(StreamId(99), &rw), Err(braid::StreamError::UnknownStream));
}

#[test]
fn waking_one_direction_keeps_the_other_directions_waker() {
    let (mut p, id) = connected();
    let (reads, rw) = counter();
    let (writes, ww) = counter();
    p.client.register_read_waker(id, &rw).unwrap();
    while p.client.write(id, &[0u8; 64]).is_ok() {}
    p.client.register_write_waker(id, &ww).unwrap();
    p.step(); // room frees: the writer is woken, the reader's waker stays
    assert_eq!(writes.0.load(Ordering::SeqCst), 1);
    p.server.write(id, b"data").unwrap();
    p.step();
    assert_eq!(reads.0.load(Ordering::SeqCst), 1, "the reader's waker was dropped");
}
