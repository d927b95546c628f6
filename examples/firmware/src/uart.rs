//! UART0 of the LM3S6965 (a PL011) as a blocking `embedded-io` pipe,
//! polled: no interrupts, no DMA.
//!
//! Register access is volatile and confined to [`Reg`]: the only `unsafe`
//! of this module. A PAC (the `lm3s6965` crate) would do the same through
//! generated code, but it is an old svd2rust output tied to cortex-m 0.6;
//! four registers do not justify it.
//!
//! This is enough for QEMU's `lm3s6965evb`, whose UART needs no clock
//! gating, pin muxing or baud rate. On the real chip, enable UART0's clock
//! (SYSCTL RCGC1) and GPIO port A's pins first, and set IBRD/FBRD.

use core::ptr::{read_volatile, write_volatile};

/// UART0's base address.
const UART0: usize = 0x4000_C000;
/// Data register: a write sends a byte; a read takes one, with the
/// error bits 8..=11 (framing, parity, break, overrun) of that byte.
const DR: usize = 0x000;
/// Flag register.
const FR: usize = 0x018;
/// Line control (high): word length, FIFO enable.
const LCRH: usize = 0x02C;
/// Control: UART, transmit and receive enable.
const CTL: usize = 0x030;

const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
const DR_ERRORS: u32 = 0xF00;
/// 8-bit words (WLEN = 0b11), FIFOs on: without them the receiver holds one byte.
const LCRH_8N1_FIFO: u32 = (0b11 << 5) | (1 << 4);
const CTL_UARTEN_TXE_RXE: u32 = (1 << 0) | (1 << 8) | (1 << 9);

/// One 32-bit register of UART0.
#[derive(Clone, Copy)]
struct Reg(usize);

impl Reg {
    fn read(self) -> u32 {
        // SAFETY: `self.0` is one of the offsets above, so the address is a
        // word-aligned UART0 register, mapped for the program's whole life;
        // reading it has no effect other than the device's (a DR read takes
        // a byte from the FIFO, which is what `Uart::read` wants).
        unsafe { read_volatile((UART0 + self.0) as *const u32) }
    }

    fn write(self, value: u32) {
        // SAFETY: as in `read`; the values written are the ones the data
        // sheet allows for these registers.
        unsafe { write_volatile((UART0 + self.0) as *mut u32, value) }
    }
}

/// A read found a byte received with a framing, parity, break or overrun
/// error (the byte is dropped; the link's CRC would have caught it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineError;

impl core::fmt::Display for LineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("UART line error")
    }
}

impl core::error::Error for LineError {}

impl embedded_io::Error for LineError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::InvalidData
    }
}

/// UART0, owned: [`Uart::take`] hands it out once.
pub struct Uart(());

impl Uart {
    /// Set UART0 up (8N1, FIFOs on, enabled) and return it; `None` after
    /// the first call.
    pub fn take() -> Option<Self> {
        static TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
        if TAKEN.swap(true, core::sync::atomic::Ordering::AcqRel) {
            return None;
        }
        Reg(CTL).write(0);
        Reg(LCRH).write(LCRH_8N1_FIFO);
        Reg(CTL).write(CTL_UARTEN_TXE_RXE);
        Some(Uart(()))
    }

    fn rx_empty() -> bool {
        Reg(FR).read() & FR_RXFE != 0
    }

    fn tx_full() -> bool {
        Reg(FR).read() & FR_TXFF != 0
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = LineError;
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, LineError> {
        Ok(!Self::rx_empty())
    }
}

impl embedded_io::Read for Uart {
    /// Wait for a byte, then take what the FIFO holds (up to `buf.len()`).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, LineError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while Self::rx_empty() {}
        let mut n = 0;
        while n < buf.len() && !Self::rx_empty() {
            let dr = Reg(DR).read();
            if dr & DR_ERRORS != 0 {
                if n == 0 {
                    return Err(LineError);
                }
                break;
            }
            buf[n] = dr as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    /// Wait for room, then fill the FIFO (up to `buf.len()`).
    fn write(&mut self, buf: &[u8]) -> Result<usize, LineError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while Self::tx_full() {}
        let mut n = 0;
        while n < buf.len() && !Self::tx_full() {
            Reg(DR).write(u32::from(buf[n]));
            n += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), LineError> {
        while Reg(FR).read() & FR_BUSY != 0 {}
        Ok(())
    }
}
