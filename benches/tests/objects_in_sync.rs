//! The committed objects match their C sources: each program is recompiled with the
//! flags of `programs/build.sh` and its code section compared with the committed one.
//! Skipped (with a message) where clang-19 / llvm-objcopy-19 are not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tool_present(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

/// Compiles `src` for BPF into `out_dir` and returns the bytes of `section`.
fn compile_section(src: &Path, extra: &[&str], section: &str, out_dir: &Path) -> Vec<u8> {
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let obj = out_dir.join(format!("{stem}.o"));
    let status = Command::new("clang-19")
        .args([
            "-O2", "-g", "-target", "bpf", "-mcpu=v4", "-Wall", "-Werror",
        ])
        .args(extra)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap();
    assert!(status.success(), "clang-19 failed on {}", src.display());
    section_bytes(&obj, section, out_dir)
}

fn section_bytes(obj: &Path, section: &str, out_dir: &Path) -> Vec<u8> {
    let name = obj.file_name().unwrap().to_string_lossy().into_owned();
    let bin = out_dir.join(format!("{name}.{section}.bin"));
    let status = Command::new("llvm-objcopy-19")
        .args(["-O", "binary", &format!("--only-section={section}")])
        .arg(obj)
        .arg(&bin)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "llvm-objcopy-19 failed on {}",
        obj.display()
    );
    std::fs::read(&bin).unwrap()
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ironbpf-benches-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn vm_bins_match_their_c() {
    if !tool_present("clang-19") || !tool_present("llvm-objcopy-19") {
        eprintln!("skipped: clang-19 or llvm-objcopy-19 not installed");
        return;
    }
    let dir = scratch_dir("vm");
    for p in ironbpf_benches::VM_PROGRAMS {
        let src = programs_dir().join("vm").join(format!("{}.c", p.name));
        let text = compile_section(&src, &["-fno-builtin"], ".text", &dir);
        assert_eq!(text, p.insns, "{}: run benches/programs/build.sh", p.name);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn kernel_objects_match_their_c() {
    if !tool_present("clang-19") || !tool_present("llvm-objcopy-19") {
        eprintln!("skipped: clang-19 or llvm-objcopy-19 not installed");
        return;
    }
    let dir = scratch_dir("kernel");
    let committed = dir.join("committed");
    std::fs::create_dir_all(&committed).unwrap();
    for p in ironbpf_benches::KERNEL_PROGRAMS {
        let src = programs_dir().join("kernel").join(format!("{}.c", p.name));
        for section in ["xdp", ".text"] {
            let fresh = compile_section(&src, &[], section, &dir);
            let old = section_bytes(&p.object_path(), section, &committed);
            assert_eq!(
                fresh, old,
                "{} {section}: run benches/programs/build.sh",
                p.name
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
