//! `ironbpf verify --kernel FOLDER`'s cost figures: one line (or, with
//! `--json`, one record) per program with ironbpf's processed insns and
//! states beside the kernel's, the distribution of the ratios at the end,
//! and veristat's CSV for each side. Skips where the kernel or ../shared
//! is missing.

use std::path::PathBuf;
use std::process::Command;

use ironbpf_kernel::available_for_test;
use serde_json::Value;

fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/ebpf-samples")
        .join(rel)
}

#[test]
fn corpus_cost_per_program_with_ratios_and_csv() {
    let dir = corpus("linux");
    if !dir.exists() {
        println!(
            "skipped: ../shared not found ({} is missing)",
            dir.display()
        );
        return;
    }
    if !available_for_test("corpus_cost_per_program_with_ratios_and_csv") {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("ironbpf-verify-cost-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let (ours_csv, kernel_csv) = (tmp.join("ironbpf.csv"), tmp.join("kernel.csv"));
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .arg("verify")
        .arg("--kernel")
        .arg(&dir)
        .arg("--json")
        .arg("--csv")
        .arg(&ours_csv)
        .arg("--kernel-csv")
        .arg(&kernel_csv)
        .output()
        .expect("run ironbpf");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let recs: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(recs.len() > 40, "one record per program: {stdout}");
    for r in &recs {
        for side in ["ironbpf", "kernel"] {
            let p = r[side]["processed_insns"].as_u64();
            assert!(p.is_some_and(|n| n > 0), "{side} processed insns: {r}");
            assert!(r[side]["total_states"].is_u64(), "{r}");
            assert!(r[side]["peak_states"].is_u64(), "{r}");
            assert!(r[side]["verification_time_usec"].is_u64(), "{r}");
        }
        assert_eq!(r["ironbpf"]["verdict"], r["kernel"]["verdict"], "{r}");
        let ratio = r["insn_ratio"].as_f64().expect("insn_ratio");
        let want = r["ironbpf"]["processed_insns"].as_f64().unwrap()
            / r["kernel"]["processed_insns"].as_f64().unwrap();
        assert!((ratio - want).abs() < 1e-9, "{r}");
        assert!(
            r["ironbpf"]["peak_memory_bytes"].as_u64().unwrap() > 0,
            "{r}"
        );
    }
    // The distribution, on stderr with --json.
    let dist = stderr
        .lines()
        .find(|l| l.starts_with("processed insns, ironbpf/kernel over "))
        .unwrap_or_else(|| panic!("no distribution line: {stderr}"));
    assert!(
        dist.contains(&format!("over {} programs", recs.len())),
        "{dist}"
    );
    assert!(
        stderr.contains("verification time, ironbpf/kernel: median "),
        "{stderr}"
    );
    for (path, side) in [(&ours_csv, "ironbpf"), (&kernel_csv, "kernel")] {
        let csv = std::fs::read_to_string(path).expect("csv written");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("file_name,prog_name,verdict,duration,total_insns,total_states,peak_states,max_states_per_insn")
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), recs.len(), "{side}: {csv}");
        for (row, r) in rows.iter().zip(&recs) {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f[1], r["program"].as_str().unwrap(), "{row}");
            assert_eq!(
                f[4].parse::<u64>().ok(),
                r[side]["processed_insns"].as_u64(),
                "{side}: {row}"
            );
            assert!(matches!(f[2], "success" | "failure"), "{row}");
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
