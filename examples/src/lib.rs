//! # braid-examples: the library behind the examples
//!
//! The crate is mostly runnable programs (`src/bin`); this library holds
//! what more than one of its consumers needs:
//!
//! - [`qemu`]: the host side of the example firmware (`examples/firmware`)
//!   running on QEMU's emulated Cortex-M3, used by the firmware test
//!   (`tests/firmware_qemu.rs`) and by braid-bench's `embedded` group.

pub mod qemu;
