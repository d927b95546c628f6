//! braid's conformance and simulation harnesses.
//!
//! - [`peer`]: a scripted raw peer for one real `braid::Session` (frame
//!   builders, the [`peer::Harness`], exact-answer expectations, an audit
//!   of a session's whole output), used by the spec conformance suite in
//!   `tests/` (one file per section of spec.md) and usable by any other
//!   suite.
//! - [`coverage`]: which numbered requirements of spec.md the tests cite;
//!   `coverage::summary()` gives the counts (`tests/coverage.rs` fails
//!   when a requirement has no test).

pub mod coverage;
pub mod peer;
