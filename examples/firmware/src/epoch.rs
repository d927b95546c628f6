//! The link epoch: a number that differs on every boot, so that the host
//! can tell that the firmware restarted (spec.md §14.3).
//!
//! There is no RNG and no battery-backed clock here, so: a boot counter in
//! `.uninit` RAM (not zeroed by the startup code), guarded by a magic word.
//! It survives warm resets (watchdog, `SCB::sys_reset`), which keep SRAM.
//! After power-up the magic is wrong and the counter starts from whatever
//! SRAM held — on real chips a noisy power-up pattern, which only helps.
//! The counter is then mixed (a 32-bit finalizer) so that consecutive boots
//! give unrelated epochs. Under QEMU a cold start always gives the same
//! epoch: harmless, since the host it talks to starts fresh too. A product
//! would rather use a hardware RNG or a counter in flash/EEPROM.

use core::mem::MaybeUninit;

const MAGIC: u32 = 0xB0A1_D000;

#[link_section = ".uninit.BRAID_BOOT"]
static mut BOOT: MaybeUninit<[u32; 2]> = MaybeUninit::uninit();

/// Count this boot and return its epoch. Call once, before interrupts.
pub fn next() -> u32 {
    // SAFETY: called once from `main` before anything else could touch
    // `BOOT` (no interrupt uses it); `.uninit` RAM holds some bit pattern,
    // and every pattern is a valid `[u32; 2]`. Volatile: the compiler must
    // not assume what is there.
    let count = unsafe {
        let p = core::ptr::addr_of_mut!(BOOT).cast::<[u32; 2]>();
        let [magic, count] = core::ptr::read_volatile(p);
        let count = if magic == MAGIC { count.wrapping_add(1) } else { count };
        core::ptr::write_volatile(p, [MAGIC, count]);
        count
    };
    mix(count)
}

/// murmur3's 32-bit finalizer.
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x85EB_CA6B);
    x ^= x >> 13;
    x = x.wrapping_mul(0xC2B2_AE35);
    x ^ (x >> 16)
}
