//! The dynptr helpers run (helpers/src/dynptr.rs): programs of
//! verifier/tests/fixtures/dynptr/dynptr_run.c give the same r0 on
//! ironbpf's interpreter and JIT as in the kernel's test run (a local
//! dynptr written and read back, its helpers' errors; a ring buffer record
//! reserved, written through the dynptr and a slice, submitted).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../verifier/tests/fixtures/dynptr/dynptr_run.o")
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

fn r0(args: &[&str]) -> u64 {
    let o = ironbpf(args);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    v["r0"]
        .as_u64()
        .unwrap_or_else(|| panic!("{args:?}: no r0 in {v}"))
}

/// `(program, r0)`: the local dynptr reads back byte 8 of the written word
/// and its helpers fail with -E2BIG (read past the end), -EINVAL (write
/// flags) and -EINVAL (from_mem flags, leaving a NULL dynptr whose data is
/// NULL): 8 - 70 - 2200 - 22000 as a u32; the record's slice is given (2).
const CASES: &[(&str, u64)] = &[("local_roundtrip", 0xffff_a13a), ("rb_write_submit", 2)];

#[test]
fn dynptr_helpers_run_as_in_the_kernel() {
    let obj = fixture();
    for &(prog, want) in CASES {
        for engine in ["interp", "jit"] {
            let got = r0(&["run", &obj, "--prog", prog, "--engine", engine, "--json"]);
            assert_eq!(got, want, "{prog} on the {engine}");
        }
        if ironbpf_kernel::available_for_test(prog) {
            let k = r0(&["kernel", "run", &obj, "--prog", prog, "--json"]);
            assert_eq!(k, want, "{prog} in the kernel");
        }
    }
}
