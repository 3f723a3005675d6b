//! The helper prototypes and per-type helper sets against the running
//! kernel's verifier (`ironbpf_conformance::probe_helpers`): fails on any
//! disagreement and prints the counts per group. The whole set (about 30
//! thousand probes) takes a few seconds, so it always runs in full.

use ironbpf_conformance::probe_helpers::{run, ProbeOptions};

#[test]
fn helper_prototypes_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("helper_prototypes_agree_with_the_kernel") {
        return;
    }
    let report = run(&ProbeOptions::default()).expect("the probes run");
    println!("{report}");
    assert!(
        report.total() > 10_000,
        "only {} probes ran",
        report.total()
    );
    assert!(
        report.disagreements.is_empty(),
        "{} disagreements:\n{report}",
        report.disagreements.len()
    );
}
