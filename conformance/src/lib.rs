//! braid's conformance and simulation harnesses.
