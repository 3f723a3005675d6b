//! `ironbpf diff --json`: JSON lines only on stdout, a record per case and
//! one summary record, with integer seeds, counts and durations.

use std::process::Command;

fn lines(args: &[&str]) -> (Option<i32>, Vec<serde_json::Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ironbpf");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let recs = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (out.status.code(), recs)
}

#[test]
fn random_cases_then_a_summary() {
    // Seed 1, printed for a replay: ironbpf diff --random 20 --seed 1 --against interp --json
    let (code, recs) = lines(&[
        "diff",
        "--random",
        "20",
        "--seed",
        "1",
        "--against",
        "interp",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(recs.len(), 21);
    for (i, r) in recs[..20].iter().enumerate() {
        assert_eq!(r["mode"], "random");
        assert_eq!(r["record"], "case");
        assert_eq!(r["seed"].as_u64(), Some(1 + i as u64), "{r}");
        assert_eq!(
            r["outcome"], "agree",
            "the interpreter agrees with itself: {r}"
        );
    }
    let s = &recs[20];
    assert_eq!(s["record"], "summary");
    assert_eq!(s["programs"].as_u64(), Some(20));
    assert_eq!(s["agreed"].as_u64(), Some(20));
    assert_eq!(s["disagreed"].as_u64(), Some(0));
    assert!(s["duration_ns"].is_u64(), "an integer: {s}");
}

#[test]
fn soundness_gives_a_summary_with_integer_counts() {
    let (code, recs) = lines(&[
        "diff",
        "--verifier",
        "--soundness",
        "--random",
        "3",
        "--seed",
        "1",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    let s = recs.last().unwrap();
    assert_eq!(
        (s["mode"].as_str(), s["record"].as_str()),
        (Some("soundness"), Some("summary"))
    );
    assert_eq!(s["accepted"].as_u64(), Some(3));
    assert_eq!(s["violations"].as_u64(), Some(0));
    assert!(s["duration_ns"].is_u64());
}

#[test]
fn explain_has_no_json_yet_and_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(["diff", "--verifier", "--explain", "--random", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json is not available with --explain"));
}
