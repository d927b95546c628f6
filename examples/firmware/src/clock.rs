//! A free-running clock from SysTick: an exception every millisecond
//! counts milliseconds, and the current value register gives the
//! microseconds in between.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;

/// The core clock SysTick counts: QEMU's lm3s6965evb runs its Cortex-M3
/// at 12 MHz (emulated time follows the host's clock).
pub const CORE_HZ: u32 = 12_000_000;
const TICKS_PER_MS: u32 = CORE_HZ / 1_000;
const TICKS_PER_US: u32 = CORE_HZ / 1_000_000;

/// Milliseconds since [`SysTickClock::start`] (wraps after 49 days; the
/// clock widens it, see `now`).
static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// braid's clock over SysTick. Zero-sized: the state is in `MILLIS`.
#[derive(Clone, Copy)]
pub struct SysTickClock(());

impl SysTickClock {
    /// Start SysTick (1 kHz interrupt from the core clock) and return the
    /// clock.
    pub fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(TICKS_PER_MS - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        SysTickClock(())
    }

    /// Milliseconds since start.
    pub fn millis(self) -> u32 {
        MILLIS.load(Ordering::Relaxed)
    }

    /// Milliseconds since start and microseconds into the current one.
    fn read(self) -> (u32, u32) {
        loop {
            let ms = MILLIS.load(Ordering::Relaxed);
            let current = SYST::get_current();
            // SysTick counts down; if it wrapped after `ms` was read, its
            // exception has run already (it preempts at once) and `ms`
            // changed: read again.
            if MILLIS.load(Ordering::Relaxed) == ms {
                let into = (TICKS_PER_MS - 1 - current.min(TICKS_PER_MS - 1)) / TICKS_PER_US;
                return (ms, into);
            }
        }
    }
}

/// The high word of the millisecond count, kept across `u32` wraps by the
/// main loop calling `now` at least every 49 days.
static EPOCHS: AtomicU32 = AtomicU32::new(0);
static LAST_MS: AtomicU32 = AtomicU32::new(0);

impl braid_embedded::Clock for SysTickClock {
    fn now(&self) -> braid::Instant {
        let (ms, into) = self.read();
        if ms < LAST_MS.load(Ordering::Relaxed) {
            EPOCHS.fetch_add(1, Ordering::Relaxed);
        }
        LAST_MS.store(ms, Ordering::Relaxed);
        let ms = (u64::from(EPOCHS.load(Ordering::Relaxed)) << 32) | u64::from(ms);
        braid::Instant::from_micros(ms * 1_000 + u64::from(into))
    }
}
