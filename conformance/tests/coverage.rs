//! The coverage check: every numbered requirement of spec.md is cited by a
//! test of this crate, and every id a test names exists. See
//! `braid_conformance::coverage` for the rules. Run with `--nocapture` to
//! see the summary, the ignored tests and the table of requirements.

use braid_conformance::coverage::{read_sources, requirements, summary, table, tests_dir, SPEC};

/// Fails listing every requirement without a test, every unknown id, and
/// every misplaced citation; prints the ignored tests (engine bugs, slow
/// tests) in any case.
#[test]
fn every_requirement_has_a_test() {
    let c = summary();
    eprintln!("{c}");
    if std::env::var_os("COVERAGE_TABLE").is_some() {
        eprintln!("{}", table(&read_sources(&tests_dir()).unwrap_or_default()));
    }
    assert!(c.requirements > 0, "no requirement found in spec.md");
    assert!(c.is_complete(), "spec coverage is incomplete:\n{c}");
    assert_eq!(c.tested, c.requirements);
}

/// The spec's numbering is consistent: each requirement follows a
/// sentence with MUST, each MUST sentence has an id, ids are numbered in
/// order within their section, and cross-references name defined ids.
#[test]
fn the_spec_numbers_its_requirements_consistently() {
    let (reqs, problems) = requirements(SPEC);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(!reqs.is_empty());
}
