//! Time: a clock for both runners and a timer for the async one.

use braid::Instant;
use core::future::Future;

/// A monotonic clock: braid's [`Instant`] is microseconds since any fixed
/// point (boot, say).
///
/// With embassy-time:
///
/// ```ignore
/// struct EmbassyTime;
/// impl braid_embedded::Clock for EmbassyTime {
///     fn now(&self) -> braid::Instant {
///         braid::Instant::from_micros(embassy_time::Instant::now().as_micros())
///     }
/// }
/// ```
pub trait Clock {
    /// The time now. It must never go backwards.
    fn now(&self) -> Instant;
}

/// A clock that can also sleep, for the async runner.
///
/// With embassy-time:
///
/// ```ignore
/// impl braid_embedded::Timer for EmbassyTime {
///     async fn sleep_until(&self, deadline: braid::Instant) {
///         embassy_time::Timer::at(embassy_time::Instant::from_micros(deadline.as_micros())).await
///     }
/// }
/// ```
///
/// The runner drops the sleep when something else needs it first, so the
/// future must be cancel-safe (every timer future is).
pub trait Timer: Clock {
    /// Complete once [`now`](Clock::now) has reached `deadline` (at once if
    /// it already has).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<T: Timer + ?Sized> Timer for &T {
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        (**self).sleep_until(deadline)
    }
}
