//! Division of 64-bit time spans without 64-bit division.
//!
//! A 32-bit microcontroller has no 64-bit divide instruction: `u64 / u64`
//! becomes a call into the compiler's runtime (`__aeabi_uldivmod` on Arm),
//! about 0.9 KiB of flash for the few divisions the session makes of
//! microsecond counts. [`div_u64_by_u32`] gives the same quotient with
//! 32-bit divisions only (one instruction on a Cortex-M3 or M4, and a
//! multiplication when the divisor is a constant).

/// `n / d`, rounded down, exactly as `n / u64::from(d)`, but with 32-bit
/// divisions only. A quotient that fits 32 bits (`n < 2^32`) takes one;
/// a larger one two, then 32 steps of shifts and subtractions.
///
/// # Panics
/// When `d` is 0, as the division it stands for.
pub(crate) const fn div_u64_by_u32(n: u64, d: u32) -> u64 {
    let (hi, lo) = ((n >> 32) as u32, n as u32);
    if hi == 0 {
        return (lo / d) as u64;
    }
    let q_hi = hi / d;
    // Then (r * 2^32 + lo) / d with r < d, one quotient bit at a time
    // (restoring division): r stays below d, so `r << 1` loses at most
    // the bit it shifts out, and when it does the true value is at least
    // 2^32 > d, so d is subtracted, leaving again less than d.
    let mut r = hi % d;
    let mut q_lo = 0u32;
    let mut bit = 32;
    while bit > 0 {
        bit -= 1;
        let carry = r >> 31;
        r = (r << 1) | ((lo >> bit) & 1);
        q_lo <<= 1;
        if carry != 0 || r >= d {
            r = r.wrapping_sub(d);
            q_lo |= 1;
        }
    }
    ((q_hi as u64) << 32) | q_lo as u64
}

#[cfg(test)]
mod tests {
    use super::div_u64_by_u32;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        let ns = [0, 1, 999, 1000, 1001, u64::from(u32::MAX), 1 << 32, (1 << 32) + 1, u64::MAX - 1, u64::MAX];
        let ds = [1, 2, 3, 7, 8, 1000, 15_625, 1_000_000, 1 << 31, (1 << 31) + 1, u32::MAX - 1, u32::MAX];
        for n in ns {
            for d in ds {
                assert_eq!(div_u64_by_u32(n, d), n / u64::from(d), "{n} / {d}");
            }
        }
    }

    #[test]
    #[should_panic]
    fn by_zero_panics() {
        let _ = div_u64_by_u32(1 << 40, core::hint::black_box(0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn as_u64_division(n: u64, d in 1u32.., shift in 0u32..64) {
            // Quotients of every size: shifting n covers small ones too.
            let n = n >> shift;
            prop_assert_eq!(div_u64_by_u32(n, d), n / u64::from(d));
        }
    }
}
