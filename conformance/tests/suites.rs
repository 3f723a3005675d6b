//! The conformance suites in ../shared/conformance, on the interpreter.

use ironbpf_conformance::runner::{
    collect_files, run_file, ErrorText, FileReport, InterpEngine, Summary, Verdict,
};
use std::path::{Path, PathBuf};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance")
        .join(rel)
}

fn run_dir(rel: &str, mode: ErrorText) -> Vec<FileReport> {
    let files = collect_files(&[shared(rel)]).expect("the shared suite is present");
    let engine = InterpEngine::default();
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
fn bpf_conformance_all_313_pass() {
    if !shared_present("bpf_conformance_all_313_pass") {
        return;
    }
    let reports = run_dir("bpf_conformance", ErrorText::Exact);
    assert_eq!(reports.len(), 313);
    assert_eq!(failures(&reports), Vec::<String>::new());
    assert_eq!(Summary::of(&reports).to_string(), "313 passed, 0 failed");
}

#[test]
fn ubpf_suite_passes() {
    if !shared_present("ubpf_suite_passes") {
        return;
    }
    let reports = run_dir("ubpf", ErrorText::Exact);
    assert_eq!(failures(&reports), Vec::<String>::new());
}

#[test]
fn ubpf_error_files_are_all_refused_or_stopped() {
    if !shared_present("ubpf_error_files_are_all_refused_or_stopped") {
        return;
    }
    let reports = run_dir("ubpf/errors", ErrorText::Any);
    assert_eq!(reports.len(), 25);
    assert_eq!(failures(&reports), Vec::<String>::new());
}

#[test]
fn negative_files_behave_as_they_say() {
    if !shared_present("negative_files_behave_as_they_say") {
        return;
    }
    let reports = run_dir("bpf_conformance/negative", ErrorText::Exact);
    for r in &reports {
        let name = r.path.file_name().unwrap().to_str().unwrap();
        if name.starts_with("unused-") {
            // One instruction with a reserved field set: refused at load.
            match &r.verdict {
                Verdict::Pass => {}
                v => panic!("{name}: expected a refusal at load, got {v:?}"),
            }
        }
    }
    let verdict = |name: &str| {
        reports
            .iter()
            .find(|r| r.path.file_name().unwrap() == name)
            .unwrap_or_else(|| panic!("{name} is in the suite"))
            .verdict
            .clone()
    };
    // The deliberately wrong expectation is reported as a mismatch.
    assert!(
        matches!(verdict("incorrect_return_value_high_bits.data"), Verdict::Fail(ref m) if m.contains("expected r0 = 0x8977665544332211, got r0 = 0x8877665544332211")),
        "{:?}",
        verdict("incorrect_return_value_high_bits.data")
    );
    // Assembler self-tests whose expected error we must produce.
    for name in [
        "invalid_register.data",
        "invalid_lock.data",
        "invalid_lock2.data",
        "error.data",
    ] {
        assert_eq!(verdict(name), Verdict::Pass, "{name}");
    }
    // Assembler self-tests that expect a result from a program that does not
    // assemble: reported as failures naming the assembler's complaint.
    for name in [
        "invalid_imm32_dec_range.data",
        "invalid_imm32_hex_range.data",
        "invalid_label.data",
        "invalid_mnemonic.data",
        "invalid_offset.data",
        "invalid_offset_range.data",
        "invalid_operand_count.data",
    ] {
        assert!(
            matches!(verdict(name), Verdict::Fail(ref m) if m.starts_with("assembler error")),
            "{name}: {:?}",
            verdict(name)
        );
    }
    // Files with nothing to run are skipped with the reason.
    for name in ["empty.data", "empty_instructions.data"] {
        assert!(matches!(verdict(name), Verdict::Skip(_)), "{name}");
    }
}
