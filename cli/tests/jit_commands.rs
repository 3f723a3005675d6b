//! `ironbpf jit` (x86 beside each BPF instruction) and `--engine jit` on
//! `ironbpf run` and `ironbpf test`, the way a user sees them.

use std::process::Command;

fn ironbpf(args: &[&str]) -> (i32, String, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
fn jit_maps_every_instruction_to_its_x86_bytes() {
    for mode in ["checked", "trusted"] {
        let (code, out, err) = ironbpf(&[
            "jit",
            "examples/xdp_firewall.o",
            "--prog",
            "xdp_firewall",
            "--mode",
            mode,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["mode"], mode);
        let insns = v["insns"].as_array().unwrap();
        assert!(insns.len() > 10);
        let body = v["body_size"].as_u64().unwrap();
        let mut end = 0;
        for i in insns {
            let (off, len) = (
                i["x86_offset"].as_u64().unwrap(),
                i["x86_len"].as_u64().unwrap(),
            );
            assert!(off >= end && off + len <= body, "{i}");
            end = off + len;
            let bytes: u64 = i["x86"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["bytes"].as_str().unwrap().split(' ').count() as u64)
                .sum();
            assert_eq!(
                bytes, len,
                "the disassembly covers the instruction's bytes: {i}"
            );
        }
        assert_eq!(insns[0]["bpf"], "w0 = 0");
        assert!(insns[0]["x86"][0]["asm"]
            .as_str()
            .unwrap()
            .starts_with("xor"));
    }
    let (code, out, _) = ironbpf(&["jit", "examples/xdp_firewall.o"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("xdp_firewall: checked mode, "), "{out}");
}

#[test]
fn run_on_the_jit_gives_the_interpreters_result() {
    let run = |engine: &str| {
        let (code, out, err) = ironbpf(&[
            "run",
            "examples/xdp_trace.o",
            "--data",
            "examples/telnet.pkt",
            "--engine",
            engine,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let mut v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["duration_ns"] = serde_json::Value::Null;
        v
    };
    let (a, mut b) = (run("interp"), run("jit"));
    assert_eq!(b["engine"], "jit-checked");
    b["engine"] = a["engine"].clone();
    assert_eq!(a["trace"].as_array().unwrap().len(), 1);
    let strip = |mut v: serde_json::Value| {
        // The trace line carries a timestamp.
        v["trace"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(a), strip(b));
}

#[test]
fn test_on_the_jit_passes_the_ubpf_suite_in_both_modes() {
    if !shared_present("test_on_the_jit_passes_the_ubpf_suite_in_both_modes") {
        return;
    }
    for mode in ["checked", "trusted"] {
        let (code, out, err) = ironbpf(&[
            "test",
            "--engine",
            "jit",
            "--mode",
            mode,
            "../shared/conformance/ubpf",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.ends_with("45 passed, 0 failed\n"), "{out}");
    }
}
