//! The assembler against LLVM's own disassembly of real programs: every
//! instruction `llvm-objdump -d` prints for the compiled objects of the
//! shared corpus (`../shared/corpus/ebpf-samples`) must assemble from its
//! text to the bytes printed beside it.
//!
//! Skipped (with "skipped: <reason>") when llvm-objdump or the corpus is
//! missing.

use ironbpf_isa::{assemble_insn, slots_from_bytes, CallTarget, Insn};
use std::path::{Path, PathBuf};
use std::process::Command;

fn objdump() -> Option<&'static str> {
    ["llvm-objdump-19", "llvm-objdump"]
        .into_iter()
        .find(|tool| {
            Command::new(tool)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
}

fn objects(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && p.file_name().is_some_and(|n| n != "invalid") {
            objects(&p, out);
        } else if p.extension().is_some_and(|x| x == "o") {
            out.push(p);
        }
    }
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
fn llvm_listings_of_the_corpus_assemble_to_their_bytes() {
    if !shared_present("llvm_listings_of_the_corpus_assemble_to_their_bytes") {
        return;
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ebpf-samples");
    let Some(tool) = objdump() else {
        eprintln!("skipped: no llvm-objdump on this machine");
        return;
    };
    let mut files = Vec::new();
    objects(&corpus, &mut files);
    if files.is_empty() {
        eprintln!("skipped: no objects under {}", corpus.display());
        return;
    }
    files.sort();
    let (mut compared, mut pseudo_calls, mut undecodable) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for file in &files {
        let out = Command::new(tool).arg("-d").arg(file).output().unwrap();
        if !out.status.success() {
            continue;
        }
        let listing = String::from_utf8_lossy(&out.stdout);
        for line in listing.lines() {
            let mut parts = line.split('\t');
            let (Some(addr), Some(hex), Some(text)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if !addr.trim_end().ends_with(':') || text.starts_with('<') {
                continue;
            }
            let Ok(bytes) = hex
                .split_whitespace()
                .map(|b| u8::from_str_radix(b, 16))
                .collect::<Result<Vec<u8>, _>>()
            else {
                continue;
            };
            let slots = slots_from_bytes(&bytes).unwrap();
            let Ok(want) = Insn::decode(&slots, 0) else {
                undecodable += 1;
                continue;
            };
            let where_ = format!("{}:{}", file.display(), addr.trim());
            let got = match assemble_insn(text) {
                Ok(i) => i,
                Err(e) => {
                    failures.push(format!("{where_}: `{text}`: {e}"));
                    continue;
                }
            };
            // LLVM prints a bpf-to-bpf call like a helper call (`call -0x1`):
            // its text cannot say which it is.
            if let (Insn::Call(CallTarget::Local(a)), Insn::Call(CallTarget::Helper(b))) =
                (want, got)
            {
                assert_eq!(a, b, "{where_}");
                pseudo_calls += 1;
                continue;
            }
            if got != want {
                failures.push(format!(
                    "{where_}: `{text}` assembles to {got:?}, the bytes are {want:?}"
                ));
            }
            compared += 1;
        }
    }
    eprintln!(
        "{} objects: {compared} instructions assemble to LLVM's bytes; {pseudo_calls} bpf-to-bpf calls compared by offset; {undecodable} undecodable",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of the corpus's instructions do not assemble from LLVM's text:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(compared > 1000, "only {compared} instructions compared");
}
