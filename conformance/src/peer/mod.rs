//! A scripted raw peer for one real [`braid::Session`].
//!
//! The peer speaks the wire protocol in raw bytes: frames are built with
//! the builders of [`frames`] (with the engine's codec where the frame is
//! valid, by hand where it is not), fed to the session in chunks of a
//! chosen size, and everything the session sends back is parsed into
//! [`Out`] frames so tests can assert the exact frames, events and close
//! reason. Time is virtual ([`Harness::now`], [`Harness::advance`]).
//!
//! ```
//! use braid::{Config, ErrorCode, ProtocolError, StreamId};
//! use braid_conformance::peer::*;
//!
//! // A server past the handshake; the peer opens stream 1 with "hi".
//! let mut h = Harness::server(WHOLE);
//! h.open_accepted(1, b"hi");
//! // An RST on stream 0 is a session error PROTOCOL_ERROR (spec.md [S-4.1]).
//! let d = h.step(&raw(ty::RST, 0, 0, &[0, 0, 0, 6]));
//! expect_protocol_error(&mut h, &d, ProtocolError::NeedsStream, ErrorCode::PROTOCOL_ERROR, 1);
//! ```
//!
//! - [`frames`]: frame builders (well-formed and malformed).
//! - [`Harness`]: the session under test, its clock and its output.
//! - [`expect_protocol_error`] and friends: the exact answer to a violation.
//! - [`Case`], [`cases!`](crate::cases) and [`same_outcome_in_every_chunking`]:
//!   input cases that are also checked fed one byte at a time.
//! - [`audit_output`]: every output-only sender rule, over a whole output.
//! - [`every_frame_kind`]: a session driven to send every kind of frame.
#![warn(missing_docs)]

mod audit;
mod cases;
mod expect;
pub mod frames;
mod harness;
mod scenarios;

pub use audit::{audit_output, Violation};
pub use cases::{same_outcome_in_every_chunking, Case, CHUNKINGS, WHOLE};
pub use expect::{
    expect_alive, expect_deaf_and_mute, expect_protocol_error, expect_protocol_error_with_remote,
};
pub use frames::*;
pub use harness::{
    parse_frames, small_session_window, split_frames, Drained, Harness, Out, Store, Transcript, CAPACITY,
    CREDIT, RX, TX, WINDOW,
};
pub use scenarios::every_frame_kind;

use braid::Storage;

/// Run [`audit_output`] over everything `h`'s session sent, with the peer's
/// SETTINGS if they arrived, and fail listing every violation.
///
/// # Panics
/// If the session broke an output-only sender rule.
pub fn expect_sender_rules<S: Storage>(h: &Harness<S>) {
    let v = audit_output(&h.sent, h.s.role(), h.s.peer_settings());
    assert!(
        v.is_empty(),
        "sender rules broken:\n{}",
        v.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    );
}
