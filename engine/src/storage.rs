//! Where streams live: fixed arrays chosen at compile time
//! ([`ArrayStorage`]), or growable vectors with the `alloc` feature
//! ([`VecStorage`]). The session's logic is the same code over either.

use crate::stream::{Slot, Stream};

pub(crate) mod sealed {
    use super::*;

    /// The operations the session needs from a store. Sealed: the stores
    /// braid ships are the ones the invariants were proven against.
    pub trait StorageOps {
        /// Most streams alive at once.
        fn capacity(&self) -> usize;
        /// Receive buffer bytes per stream.
        fn rx_capacity(&self) -> usize;
        /// Send buffer bytes per stream.
        fn tx_capacity(&self) -> usize;
        /// Slots currently allocated (an upper bound on indexes in use).
        fn slot_bound(&self) -> usize;
        /// The stream in `slot` (which must be occupied).
        fn stream(&self, slot: Slot) -> &Stream;
        /// The stream in `slot`, mutably.
        fn stream_mut(&mut self, slot: Slot) -> &mut Stream;
        /// The stream and its receive and send buffers.
        fn parts(&mut self, slot: Slot) -> (&mut Stream, &mut [u8], &mut [u8]);
        /// The receive buffer of `slot`.
        fn rx(&self, slot: Slot) -> &[u8];
        /// The live stream with `id`.
        fn find(&self, id: u32) -> Option<Slot>;
        /// A fresh slot for stream `id`, or `None` when full.
        fn insert(&mut self, id: u32) -> Option<Slot>;
        /// Free `slot`.
        fn remove(&mut self, slot: Slot);
        /// Make room in `slot`'s buffers for `rx_len` received and `tx_len`
        /// unsent bytes in all, up to the store's capacities. Fixed stores
        /// always have it; growable ones allocate here, never elsewhere.
        fn reserve(&mut self, _slot: Slot, _rx_len: usize, _tx_len: usize) {}
        /// Give back the memory of `slot`'s empty buffers (growable stores).
        fn trim(&mut self, _slot: Slot) {}
        /// The read and write wakers of `slot`.
        #[cfg(feature = "wakers")]
        fn wakers(&mut self, slot: Slot) -> &mut [Option<core::task::Waker>; 2];
    }
}

/// Storage for a session's streams: the number of streams and the bytes of
/// buffering per stream. Implemented by [`ArrayStorage`] and, with the
/// `alloc` feature, [`VecStorage`].
pub trait Storage: sealed::StorageOps {}

/// Fixed storage for `N` streams with `RX` receive and `TX` send bytes each,
/// all inline: a `static` or a stack value, no allocator.
///
/// `RX` bounds the window this side can announce: the engine announces at
/// most `RX - max_open_metadata` bytes per stream so that a stream's
/// metadata and a full window always fit.
///
/// ```
/// // 4 streams with 256-byte buffers each way: about 2.5 KiB in all.
/// let storage = braid::ArrayStorage::<4, 256, 256>::new();
/// # let _ = storage;
/// ```
pub struct ArrayStorage<const N: usize, const RX: usize, const TX: usize> {
    streams: [Stream; N],
    rx: [[u8; RX]; N],
    tx: [[u8; TX]; N],
    #[cfg(feature = "wakers")]
    wakers: [[Option<core::task::Waker>; 2]; N],
}

impl<const N: usize, const RX: usize, const TX: usize> ArrayStorage<N, RX, TX> {
    /// Empty storage; `const`, so it can initialise a `static`.
    ///
    /// Everything in it is zero (or `None`): a compiler builds it with a
    /// `memset` right where it ends up (a `static`, or a session built in
    /// place, as `braid-embedded`'s resources are) instead of in a
    /// temporary on the stack that is then copied, which for fixed storage
    /// would be as large as the storage itself.
    #[must_use]
    pub const fn new() -> Self {
        ArrayStorage {
            streams: [Stream::EMPTY; N],
            rx: [[0; RX]; N],
            tx: [[0; TX]; N],
            #[cfg(feature = "wakers")]
            wakers: [const { [const { None }; 2] }; N],
        }
    }
}

impl<const N: usize, const RX: usize, const TX: usize> Default for ArrayStorage<N, RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const RX: usize, const TX: usize> Storage for ArrayStorage<N, RX, TX> {}

impl<const N: usize, const RX: usize, const TX: usize> sealed::StorageOps for ArrayStorage<N, RX, TX> {
    fn capacity(&self) -> usize {
        N
    }
    fn rx_capacity(&self) -> usize {
        RX
    }
    fn tx_capacity(&self) -> usize {
        TX
    }
    fn slot_bound(&self) -> usize {
        N
    }
    fn stream(&self, slot: Slot) -> &Stream {
        &self.streams[slot as usize]
    }
    fn stream_mut(&mut self, slot: Slot) -> &mut Stream {
        &mut self.streams[slot as usize]
    }
    fn parts(&mut self, slot: Slot) -> (&mut Stream, &mut [u8], &mut [u8]) {
        let i = slot as usize;
        (&mut self.streams[i], &mut self.rx[i], &mut self.tx[i])
    }
    fn rx(&self, slot: Slot) -> &[u8] {
        &self.rx[slot as usize]
    }
    fn find(&self, id: u32) -> Option<Slot> {
        self.streams.iter().position(|s| s.id == id && s.is_live()).map(|i| i as Slot)
    }
    fn insert(&mut self, id: u32) -> Option<Slot> {
        let i = self.streams.iter().position(|s| s.id == 0)?;
        self.streams[i] = Stream::EMPTY;
        self.streams[i].id = id;
        Some(i as Slot)
    }
    fn remove(&mut self, slot: Slot) {
        self.streams[slot as usize] = Stream::EMPTY;
    }
    #[cfg(feature = "wakers")]
    fn wakers(&mut self, slot: Slot) -> &mut [Option<core::task::Waker>; 2] {
        &mut self.wakers[slot as usize]
    }
}

#[cfg(feature = "alloc")]
pub use vec_storage::VecStorage;

#[cfg(feature = "alloc")]
mod vec_storage {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Growable storage (feature `alloc`): slots are created as streams open,
    /// up to `max_streams`; each stream's buffers start empty and grow (by
    /// doubling, from 512 bytes) as data needs them, up to `rx_len` and
    /// `tx_len`. A buffer is never shrunk behind the application's back, so
    /// a busy stream stops allocating once warm;
    /// [`Session::trim_buffers`](crate::Session::trim_buffers) gives the
    /// memory of empty buffers back. A freed slot keeps its (emptied)
    /// buffers for the next stream that takes it, so streams that come and
    /// go do not allocate each time; `trim_buffers` frees those too.
    pub struct VecStorage {
        streams: Vec<Stream>,
        buffers: Vec<(Vec<u8>, Vec<u8>)>,
        #[cfg(feature = "wakers")]
        wakers: Vec<[Option<core::task::Waker>; 2]>,
        free: Vec<Slot>,
        index: BTreeMap<u32, Slot>,
        max_streams: usize,
        rx_len: usize,
        tx_len: usize,
    }

    impl VecStorage {
        /// Storage for up to `max_streams` streams with up to `rx_len`
        /// receive and `tx_len` send bytes each. Nothing is allocated until
        /// streams open and carry data.
        #[must_use]
        pub fn new(max_streams: usize, rx_len: usize, tx_len: usize) -> Self {
            VecStorage {
                streams: Vec::new(),
                buffers: Vec::new(),
                #[cfg(feature = "wakers")]
                wakers: Vec::new(),
                free: Vec::new(),
                index: BTreeMap::new(),
                max_streams: max_streams.min(u32::MAX as usize - 1),
                rx_len,
                tx_len,
            }
        }

        /// Bytes held by stream buffers right now (the streams' state and
        /// the id index come on top).
        #[must_use]
        pub fn buffer_bytes(&self) -> usize {
            self.buffers.iter().map(|(rx, tx)| rx.len() + tx.len()).sum()
        }
    }

    impl Storage for VecStorage {}

    /// The smallest buffer a stream gets once it needs one.
    const MIN_BUFFER: usize = 512;

    /// Grow `buf` (and re-lay `ring` at its start) to hold `needed` bytes,
    /// doubling from [`MIN_BUFFER`], at most `max`.
    fn grow(ring: &mut crate::ring::Ring, buf: &mut Vec<u8>, needed: usize, max: usize) {
        let needed = needed.min(max);
        if needed <= buf.len() {
            return;
        }
        let size = needed.max(MIN_BUFFER).checked_next_power_of_two().unwrap_or(max).min(max);
        let mut bigger = vec![0u8; size];
        let kept = ring.peek(buf, 0, &mut bigger);
        *buf = bigger;
        *ring = crate::ring::Ring::linear(kept);
    }

    impl sealed::StorageOps for VecStorage {
        fn capacity(&self) -> usize {
            self.max_streams
        }
        fn rx_capacity(&self) -> usize {
            self.rx_len
        }
        fn tx_capacity(&self) -> usize {
            self.tx_len
        }
        fn slot_bound(&self) -> usize {
            self.streams.len()
        }
        fn stream(&self, slot: Slot) -> &Stream {
            &self.streams[slot as usize]
        }
        fn stream_mut(&mut self, slot: Slot) -> &mut Stream {
            &mut self.streams[slot as usize]
        }
        fn parts(&mut self, slot: Slot) -> (&mut Stream, &mut [u8], &mut [u8]) {
            let i = slot as usize;
            let (rx, tx) = &mut self.buffers[i];
            (&mut self.streams[i], rx, tx)
        }
        fn rx(&self, slot: Slot) -> &[u8] {
            &self.buffers[slot as usize].0
        }
        fn find(&self, id: u32) -> Option<Slot> {
            let slot = *self.index.get(&id)?;
            self.streams[slot as usize].is_live().then_some(slot)
        }
        fn insert(&mut self, id: u32) -> Option<Slot> {
            let slot = match self.free.pop() {
                Some(slot) => slot,
                None if self.streams.len() < self.max_streams => {
                    self.streams.push(Stream::EMPTY);
                    self.buffers.push((Vec::new(), Vec::new()));
                    #[cfg(feature = "wakers")]
                    self.wakers.push([None, None]);
                    (self.streams.len() - 1) as Slot
                }
                None => return None,
            };
            let s = &mut self.streams[slot as usize];
            *s = Stream::EMPTY;
            s.id = id;
            self.index.insert(id, slot);
            Some(slot)
        }
        fn remove(&mut self, slot: Slot) {
            let s = &mut self.streams[slot as usize];
            self.index.remove(&s.id);
            *s = Stream::EMPTY;
            // The buffers stay for the slot's next stream (its rings start
            // empty); `trim` gives them back.
            self.free.push(slot);
        }
        fn reserve(&mut self, slot: Slot, rx_len: usize, tx_len: usize) {
            let i = slot as usize;
            let s = &mut self.streams[i];
            let (rx, tx) = &mut self.buffers[i];
            grow(&mut s.rx, rx, rx_len, self.rx_len);
            grow(&mut s.tx, tx, tx_len, self.tx_len);
        }
        fn trim(&mut self, slot: Slot) {
            let i = slot as usize;
            let s = &self.streams[i];
            let (rx, tx) = &mut self.buffers[i];
            if s.rx.is_empty() {
                *rx = Vec::new();
            }
            if s.tx.is_empty() {
                *tx = Vec::new();
            }
        }
        #[cfg(feature = "wakers")]
        fn wakers(&mut self, slot: Slot) -> &mut [Option<core::task::Waker>; 2] {
            &mut self.wakers[slot as usize]
        }
    }
}
