//! braid's conformance and simulation harnesses.
//!
//! - [`sim`]: deterministic simulation of two sessions over a seeded, faulty link.
//! - [`peer`]: a scripted raw peer for one real `braid::Session` (frame
//!   builders, the [`peer::Harness`], exact-answer expectations, an audit
//!   of a session's whole output), used by the spec conformance suite in
//!   `tests/` (one file per section of spec.md) and usable by any other
//!   suite.
//! - [`hostile`]: a table of attacks (floods, oversized frames, peers that
//!   never read or take all they were promised) played against one real
//!   session each, with bounds on work and memory, while a healthy pair
//!   runs alongside; `hostile::run_all()` plays them all.
//! - [`link`]: the serial link layer (spec.md §14) under test: a scripted
//!   raw link peer, and two linked sessions over a seeded faulty line.
//! - [`coverage`]: which numbered requirements of spec.md the tests cite;
//!   `coverage::summary()` gives the counts (`tests/coverage.rs` fails
//!   when a requirement has no test).

pub mod coverage;
pub mod hostile;
pub mod link;
pub mod peer;
pub mod sim;
