//! Input cases and the chunking check.
//!
//! A *case* drives a session with the peer's input fed in chunks of a given
//! size, asserts the outcome, and hands the harness back. Every case is run
//! fed whole by its own test, and [`same_outcome_in_every_chunking`] runs
//! each again fed one byte at a time and in chunks of 2 and 7, and compares
//! everything observable (spec.md [S-3.3]).

use super::audit::audit_output;
use super::harness::Harness;

/// A case: drive a session with input fed in chunks of the given size,
/// assert the outcome, and hand the session back for comparison.
pub type Case = fn(usize) -> Harness;

/// Feed every step in one piece.
pub const WHOLE: usize = usize::MAX;

/// The chunk sizes every case is fed in besides [`WHOLE`].
pub const CHUNKINGS: [usize; 3] = [1, 2, 7];

/// Run each case fed whole and in every chunk size of [`CHUNKINGS`], and
/// check that the close reason, the events, the bytes sent and the final
/// state are the same every time; also run [`audit_output`] over what the
/// session sent.
///
/// # Panics
/// On the first case whose outcome depends on the chunking, that breaks a
/// sender rule, or that fails.
pub fn same_outcome_in_every_chunking(cases: &[(&str, Case)]) {
    for (name, case) in cases {
        let h = case(WHOLE);
        let v = audit_output(&h.sent, h.s.role(), h.s.peer_settings());
        assert!(v.is_empty(), "{name}: {}", v.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
        let whole = h.transcript();
        for chunk in CHUNKINGS {
            let split = case(chunk).transcript();
            assert_eq!(split.close, whole.close, "{name}: close reason, chunks of {chunk}");
            assert_eq!(split.events, whole.events, "{name}: events, chunks of {chunk}");
            assert_eq!(split.sent, whole.sent, "{name}: bytes sent, chunks of {chunk}");
            assert_eq!(split.state, whole.state, "{name}: state, chunks of {chunk}");
        }
    }
}

/// Declare a file's cases: `cases! { test_name => case_fn, … }` defines a
/// `CASES` table (name, [`Case`]) for [`same_outcome_in_every_chunking`]
/// and one `#[test]` per case that runs it fed whole.
///
/// The requirement a case checks is cited on the case function itself
/// (`/// Checks [S-x.y].`), which the coverage check reads.
#[macro_export]
macro_rules! cases {
    ($($name:ident => $case:ident),* $(,)?) => {
        /// Every case of this file by name, for the chunking test.
        const CASES: &[(&str, $crate::peer::Case)] = &[$((stringify!($name), $case)),*];

        $(
            #[test]
            fn $name() {
                let _ = $case($crate::peer::WHOLE);
            }
        )*
    };
}
