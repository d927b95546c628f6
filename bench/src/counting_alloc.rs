//! A global allocator that counts: [`std::alloc::System`] plus atomic
//! counters of allocation calls, bytes requested, and the net change of
//! heap bytes in use.
//!
//! Counted are `alloc`, `alloc_zeroed` and `realloc` (each a call that may
//! hand out new memory); `dealloc` only lowers the net figure
//! ([`net_bytes`]). The counters are process-wide, so a measurement must not
//! run other threads that allocate meanwhile.
//!
//! Counting is on by default; [`set_enabled`]`(false)` turns it off (every
//! call then skips the shared atomics), so that timed benchmarks with many
//! threads allocating do not pay for contended counters. While it is off
//! nothing is counted: a measurement turns it on, [`reset`]s, and reads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Allocation calls since the last [`reset`].
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
/// Bytes requested by those calls (the new size, for `realloc`).
static BYTES: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated minus bytes freed since the last [`reset`] (for
/// `realloc`, the new size minus the old).
static NET: AtomicI64 = AtomicI64::new(0);
/// Allocations made minus allocations freed since the last [`reset`].
static NET_LIVE: AtomicI64 = AtomicI64::new(0);
/// Whether the counters are updated at all.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// [`System`] with counters; installed as the `#[global_allocator]` in `main.rs`.
pub struct CountingAlloc;

/// Allocations and bytes counted since the last [`reset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`).
    pub allocations: u64,
    /// Bytes those calls requested.
    pub bytes: u64,
}

/// Zero the counters.
pub fn reset() {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    BYTES.store(0, Ordering::SeqCst);
    NET.store(0, Ordering::SeqCst);
    NET_LIVE.store(0, Ordering::SeqCst);
}

/// Turn counting on (the default) or off. While off, allocations and frees
/// are not counted at all, so [`net_bytes`] is only meaningful over a span
/// during which counting stayed on.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::SeqCst);
}

/// Heap bytes in use now minus heap bytes in use at the last [`reset`]
/// (counting on throughout): allocated minus freed, process-wide.
pub fn net_bytes() -> i64 {
    NET.load(Ordering::SeqCst)
}

/// Live heap blocks now minus live heap blocks at the last [`reset`]
/// (counting on throughout). Each block also costs the system allocator a
/// header (8 to 16 bytes with glibc) that [`net_bytes`] does not include.
pub fn net_allocations() -> i64 {
    NET_LIVE.load(Ordering::SeqCst)
}

/// The counters now.
pub fn counts() -> Counts {
    Counts { allocations: ALLOCATIONS.load(Ordering::SeqCst), bytes: BYTES.load(Ordering::SeqCst) }
}

/// Count one call handing out `size` bytes, of which `net` are new in use;
/// `new_block` is false for a `realloc` (the block count stays).
fn count(size: usize, net: i64, new_block: bool) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
    NET.fetch_add(net, Ordering::Relaxed);
    if new_block {
        NET_LIVE.fetch_add(1, Ordering::Relaxed);
    }
}

/// Count a block of `size` bytes given back.
fn uncount(size: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        NET.fetch_sub(size as i64, Ordering::Relaxed);
        NET_LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counting touches only atomics
// and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), layout.size() as i64, true);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), layout.size() as i64, true);
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size, new_size as i64 - layout.size() as i64, false);
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        uncount(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_allocations_and_bytes() {
        // Other test threads may allocate too, so only a lower bound holds.
        reset();
        let v = std::hint::black_box(vec![1u8; 1000]);
        let after = counts();
        drop(v);
        assert!(after.allocations >= 1, "{after:?}");
        assert!(after.bytes >= 1000, "{after:?}");
    }
}
