//! `ironbpf compare` runs programs that the kernel test-runs without a
//! packet (raw_tracepoint, syscall) on a zeroed context on both sides, and
//! loads `xdp.frags` and `syscall` sections with libbpf's flags
//! (BPF_F_XDP_HAS_FRAGS, BPF_F_SLEEPABLE), so the kernel accepts them.

use std::process::{Command, Output};

use ironbpf_kernel::available_for_test;
use serde_json::Value;

fn ironbpf(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ironbpf");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

#[test]
fn raw_tracepoint_syscall_and_frags_programs_are_run_and_agree() {
    if !available_for_test("raw_tracepoint_syscall_and_frags_programs_are_run_and_agree") {
        return;
    }
    let obj = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ctx_runs.o");
    let out = ironbpf(&["compare", "--json", obj]);
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 3, "{recs:?}");
    // The raw tracepoint's arguments are zero: 7. The syscall program
    // returns 11 and writes its struct; the xdp.frags program sees the
    // default 64-byte packet: 64 + 1000.
    for (name, r0) in [
        ("args_plus_seven", 7),
        ("fill_args", 11),
        ("whole_len", 1064),
    ] {
        let r = recs.iter().find(|r| r["program"] == name).expect(name);
        assert_eq!(r["outcome"], "agree", "{r}");
        assert_eq!(r["kernel"]["verdict"], "accepted", "{r}");
        assert_eq!(r["kernel"]["run"]["r0"], r0, "{r}");
        assert_eq!(r["ironbpf"]["run"]["r0"], r0, "{r}");
    }
    assert!(out.status.success());
}
