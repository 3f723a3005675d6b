//! The JIT on the conformance suites in ../shared/conformance, in both
//! modes, and against the interpreter on random programs (verified-style
//! and unverified ones).

use ironbpf_conformance::diff::{run_random_with, VmXdp};
use ironbpf_conformance::runner::{
    collect_files, run_file, ErrorText, FileReport, JitEngine, Verdict,
};
use ironbpf_conformance::{gen, jitdiff};
use ironbpf_vm::{JitMode, Options};
use std::path::{Path, PathBuf};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance")
        .join(rel)
}

fn run_dir(rel: &str, mode: ErrorText, jit: JitMode) -> Vec<FileReport> {
    let files = collect_files(&[shared(rel)]).expect("the shared suite is present");
    let engine = JitEngine::new(jit);
    files.iter().map(|f| run_file(f, &engine, mode)).collect()
}

fn failures(reports: &[FileReport]) -> Vec<String> {
    reports
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Pass))
        .map(|r| format!("{}: {:?}", r.path.display(), r.verdict))
        .collect()
}

/// Whether `shared/conformance` (beside the repository) is here; when it is not,
/// prints `skipped: ../shared not found` and the test checks nothing.
fn shared_present(test: &str) -> bool {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    if dir.exists() {
        return true;
    }
    println!(
        "skipped: ../shared not found ({} is missing; {test} reads it)",
        dir.display()
    );
    false
}

#[test]
fn every_suite_passes_on_the_jit_in_both_modes() {
    if !shared_present("every_suite_passes_on_the_jit_in_both_modes") {
        return;
    }
    for jit in [JitMode::Checked, JitMode::Trusted] {
        let r = run_dir("bpf_conformance", ErrorText::Exact, jit);
        assert_eq!(r.len(), 313, "{jit}");
        assert_eq!(failures(&r), Vec::<String>::new(), "{jit}");
        let r = run_dir("ubpf", ErrorText::Exact, jit);
        assert_eq!(r.len(), 45, "{jit}");
        assert_eq!(failures(&r), Vec::<String>::new(), "{jit}");
        let r = run_dir("ubpf/errors", ErrorText::Any, jit);
        assert_eq!(r.len(), 25, "{jit}");
        assert_eq!(failures(&r), Vec::<String>::new(), "{jit}");
    }
}

/// Pinned seeds: `ironbpf diff --engine jit --against interp --random N
/// --seed 1 [--unverified]` runs the same programs at any N.
const SEED: u64 = 1;

#[test]
fn the_checked_jit_agrees_with_the_interpreter_on_random_programs() {
    let o = Options::default();
    let s = run_random_with(
        gen::generate,
        &VmXdp::jit(JitMode::Checked, o),
        &VmXdp::interp(o),
        1000,
        SEED,
        |_, _| {},
    );
    println!("generated programs, seed {SEED}: {s}");
    assert!(s.disagreed.is_empty(), "{:#?}", s.disagreed);
    assert!(s.agreed > 900, "{s}");
    let s = run_random_with(
        gen::generate,
        &VmXdp::jit(JitMode::Trusted, o),
        &VmXdp::interp(o),
        300,
        SEED,
        |_, _| {},
    );
    assert!(s.disagreed.is_empty(), "{:#?}", s.disagreed);
}

#[test]
fn the_checked_jit_stops_unverified_programs_where_the_interpreter_does() {
    let o = jitdiff::unverified_options();
    let (jit, interp) = (VmXdp::jit(JitMode::Checked, o), VmXdp::interp(o));
    let s = run_random_with(
        jitdiff::generate_unverified,
        &jit,
        &interp,
        1000,
        SEED,
        |_, _| {},
    );
    println!("unverified programs, seed {SEED}: {s}");
    assert!(s.disagreed.is_empty(), "{:#?}", s.disagreed);
    // The generator does what it is for: faults and budget stops, not only
    // clean runs.
    let mut budget = 0;
    let mut faults = 0;
    for seed in SEED..SEED + 300 {
        let case = jitdiff::generate_unverified(seed);
        match ironbpf_conformance::diff::XdpEngine::run(&interp, &case) {
            ironbpf_conformance::diff::XdpOutcome::Failed(e) if e.contains("budget") => budget += 1,
            ironbpf_conformance::diff::XdpOutcome::Failed(_) => faults += 1,
            _ => {}
        }
    }
    println!("of 300: {budget} budget stops, {faults} other run-time errors");
    assert!(
        budget >= 10 && faults >= 30,
        "{budget} budget stops, {faults} faults"
    );
}
