//! A program whose section names no type gets the one its ctx argument's
//! BTF type suggests, and every command says it was guessed: `prog list`,
//! `verify` and `compare` (where the kernel, given the guessed type, agrees).
//!
//! The object is cilium/ebpf's XDP example with its section `xdp` renamed
//! `zzz` in place (in the section names and the BTF strings `.BTF.ext`
//! names it by).

use std::process::{Command, Output};

fn renamed_object() -> std::path::PathBuf {
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/ebpf-samples/cilium-examples/xdp_bpf_bpfel.o"
    );
    let mut b = std::fs::read(src).unwrap();
    let mut hits = 0;
    for i in 4..b.len() - 4 {
        if &b[i..i + 4] == b"xdp\0" && (b[i - 1] == 0 || &b[i - 4..i] == b".rel") {
            b[i..i + 3].copy_from_slice(b"zzz");
            hits += 1;
        }
    }
    assert_eq!(hits, 2, "the section's name and its BTF string");
    // One file per call: the tests run at once, and rewriting a file another
    // test's ironbpf is reading would hand it a truncated object.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("ironbpf-guessed-{}-{n}.o", std::process::id()));
    std::fs::write(&path, b).unwrap();
    path
}

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
fn prog_list_says_the_type_was_guessed() {
    let obj = renamed_object();
    let obj = obj.to_str().unwrap();
    let out = ironbpf(&["prog", "list", obj]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("xdp_prog_func")
            && text.contains("type guessed from its ctx argument struct xdp_md"),
        "{text}"
    );
    let out = ironbpf(&["prog", "list", obj, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["programs"][0]["type"], "xdp");
    assert_eq!(v["programs"][0]["type_guessed_from"], "struct xdp_md");
    // --type overrides the guess.
    let out = ironbpf(&["prog", "list", obj, "--json", "--type", "sched_cls"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["programs"][0]["type"], "sched_cls");
    assert_eq!(
        v["programs"][0]["type_guessed_from"],
        serde_json::Value::Null
    );
}

#[test]
fn compare_runs_the_guessed_type_on_both_sides() {
    if !ironbpf_kernel::available_for_test("compare_runs_the_guessed_type_on_both_sides") {
        return;
    }
    let obj = renamed_object();
    let out = ironbpf(&["compare", "--json", obj.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "xdp");
    assert_eq!(v["type_guessed_from"], "struct xdp_md");
    assert_eq!(v["outcome"], "agree", "{v}");
    let out = ironbpf(&["compare", obj.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(xdp, guessed from its ctx argument struct xdp_md, 33 insns): agree"),
        "{text}"
    );
}
