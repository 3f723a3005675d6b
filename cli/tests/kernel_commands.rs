//! `ironbpf verify`, `ironbpf kernel ...` and `ironbpf compare` end to end,
//! on objects of the shared corpus. Tests that need the kernel skip (with the
//! reason) where it cannot be used.

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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
fn help_carries_examples() {
    for cmd in [
        &["verify", "--help"][..],
        &["compare", "--help"],
        &["kernel", "verify", "--help"],
        &["kernel", "run", "--help"],
        &["kernel", "probe", "--help"],
        &["kernel", "xlated", "--help"],
        &["kernel", "jited", "--help"],
    ] {
        let o = ironbpf(cmd);
        assert!(o.status.success(), "{cmd:?}");
        let text = stdout(&o);
        assert!(text.contains("Examples:"), "{cmd:?}: {text}");
        assert!(text.contains("--json"), "{cmd:?}: {text}");
    }
}

#[test]
fn kernel_subcommands() {
    if !shared_present("kernel_subcommands") {
        return;
    }
    if !available_for_test("kernel_subcommands") {
        return;
    }
    let probe = ironbpf(&["kernel", "probe", "--json"]);
    assert!(probe.status.success());
    let p = &records(&probe)[0];
    assert_eq!(p["usable"], true);

    let sockex1 = corpus("linux/sockex1_kern.o");
    let v = ironbpf(&["kernel", "verify", "--json", &sockex1]);
    assert!(v.status.success(), "{}", stderr(&v));
    let r = &records(&v)[0];
    assert_eq!(r["kernel"]["verdict"], "accepted");
    assert!(r["kernel"]["verification_time_usec"].is_u64());
    assert!(r["kernel"]["processed_insns"].as_u64().unwrap() > 0);

    // The default packet, then one of our own.
    let run = ironbpf(&["kernel", "run", "--json", "--repeat", "10", &sockex1]);
    assert!(run.status.success(), "{}", stderr(&run));
    let r = &records(&run)[0];
    assert_eq!(r["r0"], 0);
    assert_eq!(r["data_in"].as_str().unwrap().len(), 128);
    assert_eq!(r["repeat"], 10);
    let xdp = corpus("build/tail_call.o");
    let run = ironbpf(&[
        "kernel",
        "run",
        &xdp,
        "--prog",
        "callee",
        "--data-hex",
        "0011223344556677889900112233445566",
    ]);
    let text = stdout(&run);
    assert!(run.status.success(), "{text}{}", stderr(&run));
    assert!(text.contains("r0 = 42"), "{text}");
    assert!(text.contains("on 17 bytes of data"), "{text}");

    let xl = ironbpf(&["kernel", "xlated", &sockex1]);
    let text = stdout(&xl);
    assert!(xl.status.success(), "{}", stderr(&xl));
    assert!(text.lines().nth(1).unwrap().starts_with("0: ("), "{text}");
    assert!(text.contains("map[id:"), "{text}");
    assert!(text.trim_end().ends_with("exit"), "{text}");

    let j = ironbpf(&["kernel", "jited", "--json", &sockex1]);
    assert!(j.status.success(), "{}", stderr(&j));
    let r = &records(&j)[0];
    let len = r["jited_len"].as_u64().unwrap();
    assert!(len > 0);
    assert_eq!(r["jited"].as_str().unwrap().len() as u64, 2 * len);

    // A refused program cannot run.
    let bad = ironbpf(&[
        "kernel",
        "run",
        "--type",
        "xdp",
        &corpus("build/nullmapref.o"),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("R0 invalid mem access"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn compare_one_program_and_a_folder() {
    if !shared_present("compare_one_program_and_a_folder") {
        return;
    }
    if !available_for_test("compare_one_program_and_a_folder") {
        return;
    }
    // One program: both sides ran and agree.
    let one = ironbpf(&[
        "compare",
        "--json",
        &corpus("build/tail_call.o"),
        "--prog",
        "callee",
    ]);
    assert!(one.status.success(), "{}", stderr(&one));
    let recs = records(&one);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["outcome"], "agree");
    assert_eq!(
        r["ironbpf"]["verdict"], "accepted",
        "ironbpf's verifier ran first"
    );
    assert_eq!(r["ironbpf"]["run"]["r0"], 42);
    assert_eq!(r["kernel"]["run"]["r0"], 42);
    assert_eq!(r["kernel"]["verdict"], "accepted");
    assert!(r["kernel"]["jited_len"].as_u64().unwrap() > 0);

    // A folder, typed by path: each program once, the summary line last.
    let dir = corpus("build");
    let all = ironbpf(&["compare", &dir, "--type", "xdp"]);
    let text = stdout(&all);
    let last = text.lines().last().unwrap();
    let (p, rest) = last.split_once(" programs: ").expect(last);
    let p: usize = p.parse().unwrap();
    let nums: Vec<usize> = rest
        .split(", ")
        .map(|part| part.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        rest,
        format!(
            "{} agree, {} disagree, {} errors",
            nums[0], nums[1], nums[2]
        )
    );
    assert!(p >= nums.iter().sum::<usize>());
    assert!(nums[0] >= 5, "{last}");
    // The loader's two refusals are errors and are listed.
    assert!(nums[2] >= 2, "{last}");
    assert!(text.contains("errors ("), "{text}");
    assert!(text.contains("  badrelo.o: func: ironbpf's loader refused it: section .text: relocation at offset 0x28"), "{text}");
    assert_eq!(all.status.code(), Some(1), "errors make the exit code 1");
}

#[test]
fn compare_runs_over_the_whole_corpus() {
    if !shared_present("compare_runs_over_the_whole_corpus") {
        return;
    }
    if !available_for_test("compare_runs_over_the_whole_corpus") {
        return;
    }
    let root = corpus("");
    let o = ironbpf(&["compare", "--json", &root]);
    let recs = records(&o);
    // 124 objects outside invalid/ (242 programs), and invalid/'s two *.o files.
    assert_eq!(recs.len(), 244, "{}", stderr(&o));
    for r in &recs {
        for key in ["object", "program", "type", "outcome", "ironbpf", "kernel"] {
            assert!(r.get(key).is_some(), "{r}");
        }
        let k = &r["kernel"];
        if !k.is_null() && k.get("processed_insns").is_some() && k["verdict"] != "load failed" {
            assert!(
                k["processed_insns"].is_u64() || k["verdict"] == "not loaded",
                "{r}"
            );
        }
    }
    let err = stderr(&o);
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("244 programs: "), "{err}");
    assert!(last.ends_with(" errors"), "{last}");
    // The bar of issue 15: no disagreement, and every program not compared
    // says why.
    assert!(last.contains(" agree, 0 disagree, "), "{err}");
    for r in &recs {
        if r["outcome"] == "not compared" {
            assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
        }
    }
    let random = recs
        .iter()
        .find(|r| r["object"] == "build/packet_access.o")
        .expect("packet_access.o");
    assert_eq!(random["outcome"], "not compared", "{random}");
    assert!(
        random["reason"]
            .as_str()
            .unwrap()
            .starts_with("not comparable: calls bpf_get_prandom_u32"),
        "{random}"
    );
}
