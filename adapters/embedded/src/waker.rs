//! One waiting task per slot, and the small futures the runner is built
//! from: no allocator, no executor dependency.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// The tasks waiting on one condition: up to `K` of them are kept and all
/// woken together. A `K + 1`th displaces (and wakes) the oldest, which
/// then re-registers when polled: still correct, only busier.
pub(crate) struct WakerSlot<const K: usize = 4>([Option<Waker>; K]);

impl<const K: usize> WakerSlot<K> {
    pub(crate) const fn new() -> Self {
        WakerSlot([const { None }; K])
    }

    pub(crate) fn register(&mut self, waker: &Waker) {
        if self.0.iter().flatten().any(|w| w.will_wake(waker)) {
            return;
        }
        if let Some(free) = self.0.iter_mut().find(|w| w.is_none()) {
            *free = Some(waker.clone());
            return;
        }
        self.0.rotate_left(1);
        if let Some(old) = self.0[K - 1].replace(waker.clone()) {
            old.wake();
        }
    }

    pub(crate) fn wake(&mut self) {
        for w in &mut self.0 {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }
}

/// Which of two futures finished first.
pub(crate) enum Either<A, B> {
    First(A),
    Second(B),
}

/// Poll two futures until one completes; the other is dropped. Neither is
/// boxed: both live in the caller's future.
pub(crate) async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = core::pin::pin!(a);
    let mut b = core::pin::pin!(b);
    core::future::poll_fn(move |cx: &mut Context<'_>| {
        if let Poll::Ready(x) = Pin::as_mut(&mut a).poll(cx) {
            return Poll::Ready(Either::First(x));
        }
        if let Poll::Ready(x) = Pin::as_mut(&mut b).poll(cx) {
            return Poll::Ready(Either::Second(x));
        }
        Poll::Pending
    })
    .await
}
