//! The helper prototypes and per-type helper sets against the running
//! kernel's verifier (`ironbpf_conformance::probe_helpers`): fails on any
//! disagreement and prints the counts per group. The argument-kind probes
//! run on every 4th helper unless IRONBPF_HELPER_PROBES=all; every other
//! group runs in full.

use ironbpf_conformance::probe_helpers::{run, ProbeOptions};

#[test]
fn helper_prototypes_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("helper_prototypes_agree_with_the_kernel") {
        return;
    }
    let all = std::env::var("IRONBPF_HELPER_PROBES").as_deref() == Ok("all");
    let opts = ProbeOptions {
        arg_stride: if all { 1 } else { 4 },
        ..Default::default()
    };
    let report = run(&opts).expect("the probes run");
    println!("{report}");
    assert!(report.total() > 10_000, "only {} probes ran", report.total());
    assert!(
        report.disagreements.is_empty(),
        "{} disagreements:\n{report}",
        report.disagreements.len()
    );
}
