//! A global allocator that counts: [`std::alloc::System`] plus atomic
//! counters of allocation calls and bytes requested.
//!
//! Counted are `alloc`, `alloc_zeroed` and `realloc` (each a call that may
//! hand out new memory); `dealloc` is not. The counters are process-wide, so
//! a measurement must not run other threads that allocate meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocation calls since the last [`reset`].
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
/// Bytes requested by those calls (the new size, for `realloc`).
static BYTES: AtomicU64 = AtomicU64::new(0);

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
}

/// The counters now.
pub fn counts() -> Counts {
    Counts { allocations: ALLOCATIONS.load(Ordering::SeqCst), bytes: BYTES.load(Ordering::SeqCst) }
}

fn count(size: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counting touches only atomics
// and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
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
