//! Memory figures the firmware reports about itself: the stack's
//! high-water mark (stack painting) and the static memory in use (linker
//! symbols of cortex-m-rt's `link.x`).
//!
//! # Stack painting
//!
//! The stack is everything between the end of the static data
//! (`_stack_end`, after `.data`, `.bss` and `.uninit`) and the top of RAM
//! (`_stack_start`); it grows down. First thing in `main`, [`paint`] fills
//! every word below the current stack pointer with [`PATTERN`], in a few
//! assembly instructions that use no stack themselves. Later, [`stack_peak`]
//! scans up from the bottom for the first word that no longer holds the
//! pattern: everything from there to the top was used at some point, by
//! the main loop, the SysTick exception or anything nested. `main` notes
//! the peak of its setup and paints again before its loop, so the report
//! gives both the overall peak and the main loop's.
//!
//! Two caveats, as with every painting method: a frame that reserves room
//! it never writes (a buffer only partly filled) is undercounted by the
//! unwritten part below its lowest written word, and a word that happens to
//! be written with the pattern itself would be missed (unlikely with a
//! value like this one).

use core::ptr::{addr_of, read_volatile};

/// What unused stack words hold.
pub const PATTERN: u32 = 0xC0DE_57AC;

extern "C" {
    /// The lowest stack address (cortex-m-rt): the end of static data.
    static _stack_end: u32;
    /// The initial stack pointer (cortex-m-rt): the top of RAM.
    static _stack_start: u32;
    /// Start of `.data` in RAM: where static memory begins.
    static __sdata: u32;
    /// End of `.data`.
    static __edata: u32;
    /// Where `.data`'s initial values are stored in flash: the end of
    /// `.vector_table`, `.text` and `.rodata`.
    static __sidata: u32;
}

fn stack_bottom() -> usize {
    // Only the address is taken (never the value): no `unsafe` needed.
    addr_of!(_stack_end) as usize
}

fn stack_top() -> usize {
    addr_of!(_stack_start) as usize
}

/// Fill the free stack (below the stack pointer) with [`PATTERN`]. Call it
/// once, first thing in `main`.
pub fn paint() {
    let bottom = stack_bottom();
    // SAFETY: writes only the words from `_stack_end` (4-aligned, checked by
    // link.x) up to, not including, the current stack pointer: memory that
    // belongs to the stack but holds nothing live, since the stack grows
    // down and nothing runs below the stack pointer during this loop (the
    // loop itself uses no stack: `nostack`). No interrupt is enabled yet.
    unsafe {
        core::arch::asm!(
            "mov {end}, sp",
            "2:",
            "cmp {p}, {end}",
            "bhs 3f",
            "str {pat}, [{p}], #4",
            "b 2b",
            "3:",
            p = inout(reg) bottom => _,
            end = out(reg) _,
            pat = in(reg) PATTERN,
            options(nostack),
        );
    }
}

/// The deepest the stack has been since [`paint`], in bytes, and the
/// stack's size.
pub fn stack_peak() -> (usize, usize) {
    let (bottom, top) = (stack_bottom(), stack_top());
    let mut p = bottom;
    // SAFETY: `p` stays word-aligned within the stack region [bottom, top),
    // which is RAM; reading a word there has no side effect. Volatile so
    // that the compiler assumes nothing about memory it did not write.
    while p < top && unsafe { read_volatile(p as *const u32) } == PATTERN {
        p += 4;
    }
    (top - p, top - bottom)
}

/// Static RAM in use: `.data`, `.bss` and `.uninit`, i.e. from the start
/// of `.data` to the bottom of the stack.
pub fn static_ram() -> usize {
    stack_bottom() - addr_of!(__sdata) as usize
}

/// Flash in use: the vector table, `.text`, `.rodata` (flash starts at 0
/// on this chip) and `.data`'s initial values.
pub fn flash() -> usize {
    addr_of!(__sidata) as usize + (addr_of!(__edata) as usize - addr_of!(__sdata) as usize)
}
