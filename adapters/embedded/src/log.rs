//! `defmt` logging when the feature is on; nothing at all otherwise (no
//! formatting machinery in the firmware).

macro_rules! log_at {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        defmt::$level!($fmt $(, $arg)*);
        #[cfg(not(feature = "defmt"))]
        {
            $( let _ = &$arg; )*
        }
    }};
}

macro_rules! info {
    ($($t:tt)*) => { $crate::log::log_at!(info, $($t)*) };
}

macro_rules! log_warn {
    ($($t:tt)*) => { $crate::log::log_at!(warn, $($t)*) };
}

macro_rules! debug {
    ($($t:tt)*) => { $crate::log::log_at!(debug, $($t)*) };
}

pub(crate) use {debug, info, log_at, log_warn as warn};
