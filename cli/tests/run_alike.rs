//! `ironbpf run` and `ironbpf kernel run` on the same input give the same
//! answer: the same default packet without `--data`, the same results for
//! a given `struct xdp_md` (metadata, a short linear part, the loopback
//! device), and a refusal where the kernel refuses the context.

use std::path::PathBuf;
use std::process::{Command, Output};

use ironbpf_kernel::available_for_test;
use serde_json::Value;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
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

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A `struct xdp_md` of six u32 fields.
fn xdp_md(fields: [u32; 6]) -> Vec<u8> {
    fields.iter().flat_map(|f| f.to_ne_bytes()).collect()
}

#[test]
fn without_data_run_uses_the_default_packet_and_says_so() {
    let obj = example("xdp_firewall.o");
    let out = ironbpf(&["run", &obj, "--prog", "xdp_firewall"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with(
            "xdp_firewall (xdp) on 64 bytes of data (the default packet), interpreter\n"
        ),
        "{text}"
    );
    let v = json(&ironbpf(&["run", &obj, "--prog", "xdp_firewall", "--json"]));
    assert_eq!(v["data_in"].as_str().map(str::len), Some(128), "{v}");
    assert!(v["duration_ns"].is_u64(), "an integer: {v}");
    assert_eq!(v["verified"], true);
}

#[test]
fn run_and_kernel_run_agree_on_xdp_contexts() {
    if !available_for_test("run_and_kernel_run_agree_on_xdp_contexts") {
        return;
    }
    let obj = example("xdp_firewall.o");
    let dir = std::env::temp_dir().join(format!("ironbpf-run-alike-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // (what, the context bytes, whether the kernel runs it)
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("all zero: a linear part of 0 bytes", vec![0; 24], true),
        ("12 bytes, zero-filled", vec![0; 12], true),
        ("the whole packet", xdp_md([0, 64, 0, 0, 0, 0]), true),
        ("the loopback device", xdp_md([0, 64, 0, 1, 0, 0]), true),
        ("8 bytes of metadata", xdp_md([8, 64, 0, 0, 0, 0]), true),
        ("14 linear bytes", xdp_md([0, 14, 0, 0, 0, 0]), true),
        ("data_meta set", xdp_md([0, 64, 4, 0, 0, 0]), false),
        ("egress_ifindex set", xdp_md([0, 64, 0, 0, 0, 1]), false),
        (
            "a queue without a device",
            xdp_md([0, 64, 0, 0, 1, 0]),
            false,
        ),
        ("misaligned metadata", xdp_md([6, 64, 0, 0, 0, 0]), false),
        ("data_end past the data", xdp_md([0, 65, 0, 0, 0, 0]), false),
        ("a zero tail past the struct", vec![0; 28], true),
    ];
    for (i, (what, ctx, runs)) in cases.iter().enumerate() {
        let f = dir.join(format!("{i}.ctx"));
        std::fs::write(&f, ctx).unwrap();
        let f = f.to_string_lossy();
        let args = ["--prog", "xdp_firewall", "--ctx", &f, "--json"];
        let k = ironbpf(&[&["kernel", "run", &obj][..], &args].concat());
        let o = ironbpf(&[&["run", &obj][..], &args].concat());
        assert_eq!(k.status.success(), *runs, "{what}: the kernel");
        assert_eq!(
            o.status.success(),
            *runs,
            "{what}: ironbpf: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if !runs {
            assert_eq!(o.status.code(), Some(1), "{what}");
            continue;
        }
        let (k, o) = (json(&k), json(&o));
        for field in ["r0", "data_out", "ctx_out"] {
            assert_eq!(k[field], o[field], "{what}: {field}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn repeat_zero_is_refused_by_both() {
    let obj = example("xdp_firewall.o");
    for cmd in [&["run"][..], &["kernel", "run"]] {
        let args = [cmd, &[&obj, "--repeat", "0"]].concat();
        let out = ironbpf(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--repeat"), "{err}");
    }
}

#[test]
fn the_budget_option_stops_a_run_and_is_named_in_the_error() {
    let obj = example("xdp_firewall.o");
    // The firewall runs more than 5 instructions on the default packet.
    let out = ironbpf(&[
        "run",
        &obj,
        "--prog",
        "xdp_firewall",
        "--budget",
        "5",
        "--no-verify",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the instruction budget of 5 instructions is exhausted")
            && err.contains("raise it with --budget N"),
        "{err}"
    );
}

#[test]
fn a_type_that_conflicts_with_the_section_is_refused() {
    let obj = example("xdp_firewall.o");
    let out = ironbpf(&["run", &obj, "--prog", "xdp_firewall", "--type", "sched_cls"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("which makes it a xdp program"), "{err}");
    let same = ironbpf(&["run", &obj, "--prog", "xdp_firewall", "--type", "xdp"]);
    assert!(same.status.success());
    // kernel run refuses it alike, before it asks the kernel.
    let k = ironbpf(&[
        "kernel",
        "run",
        &obj,
        "--prog",
        "xdp_firewall",
        "--type",
        "sched_cls",
    ]);
    let kerr = String::from_utf8_lossy(&k.stderr);
    assert_eq!(k.status.code(), Some(2), "{kerr}");
    assert_eq!(kerr, err, "the same message");
}

fn corpus(rel: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/ebpf-samples")
        .join(rel);
    if p.exists() {
        Some(p.to_string_lossy().into_owned())
    } else {
        println!("skipped: ../shared not found ({})", p.display());
        None
    }
}

#[test]
fn lwt_programs_run_and_agree_with_the_kernel() {
    if !available_for_test("lwt_programs_run_and_agree_with_the_kernel") {
        return;
    }
    let Some(obj) = corpus("linux/lwt_len_hist_kern.o") else {
        return;
    };
    for t in ["lwt_in", "lwt_out", "lwt_xmit"] {
        let out = ironbpf(&["compare", "--json", "--type", t, &obj]);
        let r = json(&out);
        assert_eq!(r["type"], t, "{r}");
        assert_eq!(r["outcome"], "agree", "{t}: {r}");
        assert!(
            r["ironbpf"]["run"]["r0"].is_u64(),
            "{t}: ironbpf ran it: {r}"
        );
        assert_eq!(r["ironbpf"]["run"]["r0"], r["kernel"]["run"]["r0"], "{t}");
        let run = json(&ironbpf(&["run", "--json", "--type", t, &obj]));
        assert_eq!(run["type"], t);
        assert_eq!(
            run["maps_changed"].as_array().map(Vec::len),
            Some(1),
            "{run}"
        );
    }
}

#[test]
fn kprobe_programs_run_on_the_registers_given_and_compare_says_why_not() {
    let Some(obj) = corpus("linux/tracex2_kern.o") else {
        return;
    };
    let out = ironbpf(&[
        "run",
        &obj,
        "--prog",
        "bpf_prog2",
        "--regs",
        "rdx=5,di=0x1234",
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["type"], "kprobe");
    assert_eq!(v["data_in"], "", "a kprobe has no data");
    let ctx = v["ctx_out"].as_str().unwrap();
    assert_eq!(ctx.len(), 2 * 168, "pt_regs");
    assert_eq!(&ctx[2 * 96..2 * 104], "0500000000000000", "rdx");
    assert_eq!(&ctx[2 * 112..2 * 120], "3412000000000000", "rdi");
    let text = ironbpf(&["run", &obj, "--prog", "bpf_prog2"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with("bpf_prog2 (kprobe) on its 168-byte context, interpreter"),
        "{text}"
    );
    let bad = ironbpf(&["run", &obj, "--prog", "bpf_prog2", "--regs", "xmm0=1"]);
    assert_eq!(bad.status.code(), Some(2));
    if !available_for_test("kprobe_programs_run_on_the_registers_given_and_compare_says_why_not") {
        return;
    }
    let cmp = ironbpf(&["compare", "--json", "--prog", "bpf_prog2", &obj]);
    let r = json(&cmp);
    assert_eq!(r["outcome"], "not compared", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("the kernel test-runs no kprobe"),
        "{r}"
    );
}

/// Two programs of one object share a map: `bump` writes it, `peek` reads
/// it. Compared together, each starts from the map as loaded on both sides,
/// so `peek` gives 10 in both (the kernel's map kept `bump`'s 101 writes
/// before each program got its own).
#[test]
fn a_whole_object_compare_gives_each_program_the_maps_as_loaded() {
    if !available_for_test("a_whole_object_compare_gives_each_program_the_maps_as_loaded") {
        return;
    }
    let obj = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/shared_counter.o"
    );
    let out = ironbpf(&["compare", "--json", obj]);
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2);
    for (r, want) in recs.iter().zip([1, 10]) {
        assert_eq!(r["outcome"], "agree", "{r}");
        assert_eq!(r["kernel"]["run"]["r0"], want, "{r}");
    }
    assert!(out.status.success());
}

/// `struct __sk_buff` at `off` set to the u32 `v`, in a 192-byte context.
fn skb_with(fields: &[(usize, u32)]) -> Vec<u8> {
    let mut c = vec![0u8; 192];
    for &(off, v) in fields {
        c[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    c
}

#[test]
fn run_and_kernel_run_agree_on_skb_contexts() {
    if !available_for_test("run_and_kernel_run_agree_on_skb_contexts") {
        return;
    }
    // The fixture writes queue_mapping, mark and cb[0]; ironbpf's verifier
    // is not what this test is about, so it runs unverified.
    let obj = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tc_queue_mapping.o"
    );
    let dir = std::env::temp_dir().join(format!("ironbpf-run-skb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("12 zero bytes", vec![0; 12], true),
        ("the whole struct, zero", vec![0; 192], true),
        ("a zero tail past the struct", vec![0; 200], true),
        ("mark and priority", skb_with(&[(8, 7), (32, 9)]), true),
        (
            "cb and the loopback device",
            skb_with(&[(52, 0xabcd), (40, 1)]),
            true,
        ),
        ("wire_len above the length", skb_with(&[(160, 1000)]), true),
        ("wire_len below the length", skb_with(&[(160, 10)]), false),
        ("len set", skb_with(&[(0, 5)]), false),
        ("vlan_tci set", skb_with(&[(24, 3)]), false),
        ("too many gso_segs", skb_with(&[(164, 70000)]), false),
    ];
    for (i, (what, ctx, runs)) in cases.iter().enumerate() {
        let f = dir.join(format!("{i}.ctx"));
        std::fs::write(&f, ctx).unwrap();
        let f = f.to_string_lossy();
        let k = ironbpf(&["kernel", "run", obj, "--ctx", &f, "--json"]);
        let o = ironbpf(&["run", obj, "--no-verify", "--ctx", &f, "--json"]);
        assert_eq!(k.status.success(), *runs, "{what}: the kernel");
        assert_eq!(
            o.status.success(),
            *runs,
            "{what}: ironbpf: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if *runs {
            let (k, o) = (json(&k), json(&o));
            for field in ["r0", "data_out", "ctx_out"] {
                assert_eq!(k[field], o[field], "{what}: {field}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
