//! `ironbpf run --record`: a tracepoint program runs on a record given by
//! field name, laid out by the tracepoint's format file.

use std::process::{Command, Output};

const OBJECT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/ebpf-samples/linux/xdp_monitor_kern.o"
);

/// The layout samples/bpf's xdp_monitor was written for (`err` at 20),
/// as a format file says it.
const FORMAT: &str = "name: xdp_redirect_err\nID: 1234\nformat:\n\
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
    \tfield:int prog_id;\toffset:8;\tsize:4;\tsigned:1;\n\
    \tfield:u32 act;\toffset:12;\tsize:4;\tsigned:0;\n\
    \tfield:int ifindex;\toffset:16;\tsize:4;\tsigned:1;\n\
    \tfield:int err;\toffset:20;\tsize:4;\tsigned:1;\n";

fn ironbpf(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ironbpf");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn format_file() -> std::path::PathBuf {
    // One file per call: the tests run at once, and rewriting a file another
    // test's ironbpf is reading would hand it a truncated format.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("ironbpf-tp-format-{}-{n}", std::process::id()));
    std::fs::write(&path, FORMAT).unwrap();
    path
}

#[test]
fn the_record_s_err_field_picks_the_counter() {
    let fmt = format_file();
    let fmt = fmt.to_str().unwrap();
    // err != 0 counts in slot 1, err == 0 in slot 0.
    for (err, key) in [(-22, "01000000"), (0, "00000000")] {
        let record = format!("{{\"err\": {err}, \"prog_id\": 7}}");
        let out = ironbpf(&[
            "run",
            OBJECT,
            "--prog",
            "trace_xdp_redirect_err",
            "--record",
            &record,
            "--tp-format",
            fmt,
            "--json",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let changes = v["maps_changed"].as_array().unwrap();
        assert_eq!(changes.len(), 1, "{v}");
        assert_eq!(changes[0]["map"], "redirect_err_cnt");
        assert_eq!(changes[0]["key"], key, "err {err}");
        // The record handed back: common_type is the event id, err where the format puts it.
        let ctx = v["ctx_out"].as_str().unwrap();
        assert_eq!(&ctx[..4], "d204", "common_type 1234");
        assert_eq!(&ctx[40..48], hex::encode_le(err), "err at offset 20");
    }
}

#[test]
fn bad_records_are_usage_errors_that_name_the_field() {
    let fmt = format_file();
    let fmt = fmt.to_str().unwrap();
    let out = ironbpf(&[
        "run",
        OBJECT,
        "--prog",
        "trace_xdp_redirect_err",
        "--record",
        r#"{"nope": 1}"#,
        "--tp-format",
        fmt,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no field `nope`") && stderr.contains("err"),
        "{stderr}"
    );
    // Not a tracepoint program.
    let out = ironbpf(&[
        "run",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tc_queue_mapping.o"
        ),
        "--record",
        "{}",
        "--tp-format",
        fmt,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a sched_cls program"));
}

mod hex {
    /// An i32 as the little-endian hex a record holds.
    pub fn encode_le(v: i32) -> String {
        v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}
