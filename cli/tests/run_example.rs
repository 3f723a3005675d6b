//! `ironbpf run` on the bundled examples: r0, the trace_printk output, and
//! the map changes, the way a user sees them (`--json`), and `--map` filling
//! a map before the run.

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

#[test]
fn run_reports_r0_trace_and_map_changes() {
    let (code, out, err) = ironbpf(&[
        "run",
        "examples/xdp_trace.o",
        "--data",
        "examples/telnet.pkt",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["r0"], 2);
    assert_eq!(v["verdict"], "XDP_PASS");
    let trace = v["trace"].as_array().unwrap();
    assert_eq!(trace.len(), 1);
    assert!(
        trace[0]
            .as_str()
            .unwrap()
            .ends_with("bpf_trace_printk: ip proto 6, 54 bytes"),
        "{trace:?}"
    );
    let changes = v["maps_changed"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["map"], "per_protocol");
    assert_eq!(changes[0]["key"], "06000000");
    assert_eq!(changes[0]["before"], serde_json::Value::Null);
    assert_eq!(changes[0]["after"], "0100000000000000");
}

#[test]
fn map_fills_a_map_before_the_run() {
    let (code, out, err) = ironbpf(&[
        "run",
        "examples/xdp_trace.o",
        "--data",
        "examples/telnet.pkt",
        "--map",
        "per_protocol=[[6, 41]]",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let changes = v["maps_changed"].as_array().unwrap();
    assert_eq!(changes[0]["before"], "2900000000000000");
    assert_eq!(changes[0]["after"], "2a00000000000000", "41 + 1");
    // A map that does not exist is named with the ones that do.
    let (code, _, err) = ironbpf(&[
        "run",
        "examples/xdp_trace.o",
        "--data",
        "examples/telnet.pkt",
        "--map",
        "nope=[]",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no map `nope`; it has: per_protocol"), "{err}");
    // A key too large for the map's 4-byte keys.
    let (code, _, err) = ironbpf(&[
        "run",
        "examples/xdp_trace.o",
        "--data",
        "examples/telnet.pkt",
        "--map",
        "per_protocol=[[4294967296, 1]]",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("pair 0: key 4294967296 does not fit in 4 bytes"),
        "{err}"
    );
}

#[test]
fn map_dump_and_create() {
    let (code, out, err) = ironbpf(&[
        "map",
        "dump",
        "examples/xdp_trace.o",
        "--map",
        "per_protocol=[[17, 5]]",
        "--run",
        "xdp_trace",
        "--data",
        "examples/telnet.pkt",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["r0"], 2);
    let m = &v["maps"][0];
    assert_eq!(m["name"], "per_protocol");
    assert_eq!(m["type"], "hash");
    let entries = m["entries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        2,
        "the filled UDP entry and the TCP entry the run added"
    );
    let (code, out, _) = ironbpf(&[
        "map",
        "create",
        "array",
        "--key-size",
        "8",
        "--value-size",
        "8",
        "--max-entries",
        "4",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["errno"], "EINVAL");
    let (code, out, _) = ironbpf(&[
        "map",
        "create",
        "lpm_trie",
        "--key-size",
        "8",
        "--value-size",
        "8",
        "--max-entries",
        "16",
        "--flags",
        "1",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("\"created\":true"), "{out}");
    // The same, as text.
    let (code, out, _) = ironbpf(&[
        "map",
        "dump",
        "examples/xdp_trace.o",
        "--map",
        "per_protocol=[[17, 5]]",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("per_protocol (hash, key 4 B, value 8 B, max_entries"),
        "{out}"
    );
    assert!(
        out.contains("1 entry\n  11000000 -> 0500000000000000\n"),
        "{out}"
    );
    let (code, out, err) = ironbpf(&[
        "map",
        "create",
        "hash",
        "--key-size",
        "4",
        "--value-size",
        "8",
        "--max-entries",
        "16",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("created a hash map: key 4 B, value 8 B"),
        "{out}"
    );
}

/// The redirect and socket map kinds are created with the kernel's checks:
/// a devmap of 8-byte values is made, a cpumap larger than NR_CPUS and a
/// sockmap with a 3-byte value are refused with the kernel's errnos.
#[test]
fn map_create_takes_the_object_map_kinds() {
    let (code, out, err) = ironbpf(&[
        "map",
        "create",
        "devmap",
        "--key-size",
        "4",
        "--value-size",
        "8",
        "--max-entries",
        "4",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("created a devmap map: key 4 B, value 8 B"),
        "{out}"
    );
    let (code, out, _) = ironbpf(&[
        "map",
        "create",
        "cpumap",
        "--key-size",
        "4",
        "--value-size",
        "4",
        "--max-entries",
        "257",
        "--json",
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("\"errno\":\"E2BIG\""), "{out}");
    let (code, out, _) = ironbpf(&[
        "map",
        "create",
        "sockmap",
        "--key-size",
        "4",
        "--value-size",
        "3",
        "--max-entries",
        "4",
        "--json",
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("\"errno\":\"EINVAL\""), "{out}");
}
