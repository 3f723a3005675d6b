//! `ironbpf verify` end to end: its exit codes (0 accepted, 1 refused,
//! 2 bad usage or unreadable input), its text, and the shape of its JSON
//! records with `--kernel` (an `ironbpf` and a `kernel` object with the
//! same fields). Tests that need the kernel skip where it cannot be used.

use std::path::PathBuf;
use std::process::{Command, Output};

use ironbpf_kernel::available_for_test;
use serde_json::Value;

fn corpus(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/ebpf-samples")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn ironbpf(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ironbpf");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn records(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Whether `shared/corpus/ebpf-samples` (beside the repository) is here; when it is not,
/// prints `skipped: ../shared not found` and the test checks nothing.
fn shared_present(test: &str) -> bool {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ebpf-samples");
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
fn exit_codes_follow_ironbpfs_verdict() {
    if !shared_present("exit_codes_follow_ironbpfs_verdict") {
        return;
    }
    // The unchecked lookup result: refused, at the dereference.
    let refused = ironbpf(&["verify", "--type", "xdp", &corpus("build/nullmapref.o")]);
    let text = stdout(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ironbpf verifier: refused with EACCES at insn 7: R0 invalid mem access 'map_value_or_null'"),
        "{text}"
    );
    assert!(
        text.contains("--- ironbpf's verifier log (log level 1) ---"),
        "{text}"
    );
    // Division by a register the kernel patches at run time: accepted.
    let ok = ironbpf(&[
        "verify",
        "--type",
        "socket_filter",
        &corpus("build/divzero.o"),
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("ironbpf verifier: accepted"));
}

#[test]
fn bad_usage_and_unreadable_input_exit_2() {
    if !shared_present("bad_usage_and_unreadable_input_exit_2") {
        return;
    }
    let missing = ironbpf(&["verify", "/nonexistent/prog.o"]);
    assert_eq!(missing.status.code(), Some(2));
    let level = ironbpf(&["verify", "--log-level", "3", &corpus("build/divzero.o")]);
    assert_eq!(level.status.code(), Some(2));
    let folder = ironbpf(&["verify", &corpus("build")]);
    assert_eq!(folder.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&folder.stderr).contains("needs --kernel"));
}

#[test]
fn json_with_the_kernel_has_both_verdicts_in_one_shape() {
    if !shared_present("json_with_the_kernel_has_both_verdicts_in_one_shape") {
        return;
    }
    if !available_for_test("json_with_the_kernel_has_both_verdicts_in_one_shape") {
        return;
    }
    let j = ironbpf(&[
        "verify",
        "--json",
        "--kernel",
        "--log-level",
        "2",
        "--type",
        "xdp",
        &corpus("build/nullmapref.o"),
    ]);
    assert_eq!(j.status.code(), Some(1));
    let r = &records(&j)[0];
    for side in ["ironbpf", "kernel"] {
        for key in [
            "verdict",
            "error_insn",
            "first_error_line",
            "processed_insns",
            "verification_time_usec",
            "log",
        ] {
            assert!(r[side].get(key).is_some(), "{side} lacks {key}: {r}");
        }
        assert_eq!(r[side]["verdict"], "refused", "{side}");
        assert_eq!(r[side]["error_insn"], 7, "{side}");
        assert_eq!(
            r[side]["first_error_line"], "R0 invalid mem access 'map_value_or_null'",
            "{side}"
        );
    }
    assert_eq!(r["log_level"], 2);
    assert!(r["kernel"]["log"].as_str().unwrap().contains("R1=ctx()"));
    assert!(r["kernel_release"].as_str().is_some_and(|s| !s.is_empty()));
}

#[test]
fn unpriv_refuses_what_privileged_accepts() {
    if !shared_present("unpriv_refuses_what_privileged_accepts") {
        return;
    }
    if !available_for_test("unpriv_refuses_what_privileged_accepts") {
        return;
    }
    if std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
        .is_ok_and(|s| s.trim() != "0")
    {
        eprintln!("skipped: unpriv_refuses_what_privileged_accepts: kernel.unprivileged_bpf_disabled is not 0");
        return;
    }
    // exposeptr.o reads stack bytes it never wrote: allowed only with CAP_PERFMON.
    let obj = corpus("build/exposeptr.o");
    let p = ironbpf(&[
        "verify",
        "--json",
        "--kernel",
        "--type",
        "socket_filter",
        &obj,
    ]);
    assert_eq!(p.status.code(), Some(0), "{}", stdout(&p));
    let r = &records(&p)[0];
    assert_eq!(r["kernel"]["verdict"], "accepted");
    assert_eq!(r["ironbpf"]["verdict"], "accepted");
    let u = ironbpf(&[
        "verify",
        "--json",
        "--kernel",
        "--unpriv",
        "--type",
        "socket_filter",
        &obj,
    ]);
    assert_eq!(u.status.code(), Some(1), "{}", stdout(&u));
    let r = &records(&u)[0];
    assert_eq!(r["privileged"], false);
    assert_eq!(r["kernel"]["verdict"], "refused");
    assert_eq!(r["ironbpf"]["verdict"], "refused");
    assert_eq!(r["kernel"]["error_insn"], r["ironbpf"]["error_insn"]);
}

#[test]
fn a_folder_with_the_kernel_reports_agreement() {
    if !shared_present("a_folder_with_the_kernel_reports_agreement") {
        return;
    }
    if !available_for_test("a_folder_with_the_kernel_reports_agreement") {
        return;
    }
    let o = ironbpf(&["verify", "--kernel", &corpus("linux")]);
    let text = stdout(&o);
    let summary = text
        .lines()
        .find(|l| l.contains(" agreed, ") && l.contains("verdicts agree on"))
        .unwrap_or_else(|| panic!("no summary line: {text}"));
    let n: Vec<usize> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .take(2)
        .collect();
    let disagreements = text.lines().filter(|l| l.starts_with("DISAGREE ")).count();
    assert_eq!(n[1], disagreements, "{text}");
    assert_eq!(
        o.status.code(),
        Some(if disagreements == 0 { 0 } else { 1 })
    );
    assert!(text.contains("the kernel's verifier judged "), "{text}");
}
