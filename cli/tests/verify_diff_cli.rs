//! `ironbpf diff --verifier` end to end: its closing lines, its exit code
//! (1 when the verifiers disagree on any program), and the replay of one
//! disagreeing program by its seed alone.

use std::process::{Command, Output};

use ironbpf_kernel::available_for_test;

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

/// The numbers of `N agreed, M disagreed`.
fn agreed_disagreed(text: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.ends_with(" disagreed") && l.contains(" agreed, "))
        .unwrap_or_else(|| panic!("no `N agreed, M disagreed` line:\n{text}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

#[test]
fn verifier_diff_reports_and_replays() {
    if !available_for_test("verifier_diff_reports_and_replays") {
        return;
    }
    if std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
        .is_ok_and(|s| s.trim() != "0")
    {
        if std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1") {
            panic!("kernel.unprivileged_bpf_disabled must be 0 for the unprivileged programs");
        }
        eprintln!(
            "skipped: verifier_diff_reports_and_replays: kernel.unprivileged_bpf_disabled is not 0"
        );
        return;
    }
    let o = ironbpf(&[
        "diff",
        "--verifier",
        "--random",
        "200",
        "--seed",
        "7",
        "--list",
        "1000",
    ]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let (agreed, disagreed) = agreed_disagreed(&text);
    assert_eq!(agreed + disagreed, 200, "{text}");
    assert_eq!(
        o.status.code(),
        Some(if disagreed == 0 { 0 } else { 1 }),
        "{text}"
    );
    let last = text.lines().last().unwrap_or("");
    assert!(
        last.starts_with("same insn ")
            && last.contains("same message ")
            && last.contains("same log "),
        "{last}"
    );
    let listed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("DISAGREE seed "))
        .collect();
    assert_eq!(listed.len() as u64, disagreed, "{text}");
    assert!(text.contains("per rule:"), "{text}");
    // The first disagreement again, alone, from its seed.
    if let Some(first) = listed.first() {
        let seed = first["DISAGREE seed ".len()..].split(' ').next().unwrap();
        let again = ironbpf(&["diff", "--verifier", "--random", "1", "--seed", seed]);
        let t = String::from_utf8_lossy(&again.stdout).into_owned();
        assert_eq!(agreed_disagreed(&t), (0, 1), "{t}");
        let replayed = t.lines().find(|l| l.starts_with("DISAGREE seed ")).unwrap();
        assert_eq!(replayed, *first);
    }
}
