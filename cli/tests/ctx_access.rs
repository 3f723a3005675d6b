//! Context accesses as the kernel's verifier allows them, end to end: a tc
//! program that writes `__sk_buff.queue_mapping` (as Cilium's programs do)
//! runs in `ironbpf run` and agrees with the kernel in `ironbpf compare`;
//! and `ironbpf diff --descriptors` agrees with the kernel on a type's
//! context and return rules.

use std::process::{Command, Output};

use ironbpf_kernel::available_for_test;
use serde_json::Value;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tc_queue_mapping.o"
);

const PACKET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/telnet.pkt");

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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn tc_program_writing_queue_mapping_runs() {
    let out = ironbpf(&["run", FIXTURE, "--data", PACKET, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    // queue_mapping read back as 3, the mark as 0x42: 3 * 10 + 1.
    assert_eq!(v["r0"], 31, "{v}");
    assert_eq!(
        v["verdict"],
        serde_json::Value::Null,
        "31 is no TC_ACT_* value"
    );
}

#[test]
fn tc_program_writing_queue_mapping_agrees_with_the_kernel() {
    if !available_for_test("tc_program_writing_queue_mapping_agrees_with_the_kernel") {
        return;
    }
    let out = ironbpf(&["compare", "--json", FIXTURE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recs: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["kernel"]["verdict"], "accepted", "{r}");
    assert_eq!(r["outcome"], "agree", "{r}");
    assert_eq!(r["kernel"]["run"]["r0"], 31, "{r}");
    assert_eq!(r["ironbpf"]["run"]["r0"], 31, "{r}");
}

#[test]
fn diff_descriptors_reports_agreement() {
    if !available_for_test("diff_descriptors_reports_agreement") {
        return;
    }
    let out = ironbpf(&["diff", "--descriptors", "--type", "xdp"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let last = stdout.lines().last().unwrap_or_default();
    let (agreed, rest) = last.split_once(" agreed, ").expect(last);
    assert_eq!(rest, "0 disagreed", "{stdout}");
    assert!(agreed.parse::<usize>().unwrap() > 1000, "{stdout}");
    assert!(stdout.contains("ctx: "), "{stdout}");
    assert!(stdout.contains("return: "), "{stdout}");
}
