//! Compiles the VM suite's C programs for the host, for the `native` runner.
//!
//! Each `programs/vm/NAME.c` is built with `-O2 -fno-builtin` (the same flags as the
//! BPF build, less the target) into its own static library, with `bpf_main` renamed to
//! `ironbpf_native_NAME`, and again with `-fno-vectorize -fno-slp-vectorize` (clang)
//! or `-fno-tree-vectorize` (gcc) as `ironbpf_native_scalar_NAME`, for the
//! `native-scalar` runner: the limit of a compiler that does not vectorise, as a JIT
//! does not. The compiler is clang-19 when it is installed, else the
//! system C compiler; `IRONBPF_NATIVE_CC` tells the crate which one it was.

use std::path::Path;
use std::process::Command;

const PROGRAMS: &[&str] = &[
    "simple",
    "memory_a_plus_b",
    "log2_int",
    "prime",
    "memcpy",
    "strcmp_full",
    "strcmp_fail",
    "switch",
];

fn clang19_present() -> bool {
    Command::new("clang-19")
        .arg("--version")
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false)
}

fn main() {
    let dir = Path::new("programs/vm");
    println!("cargo:rerun-if-changed=programs/vm");
    println!("cargo:rerun-if-changed=build.rs");

    let use_clang = clang19_present();
    let mut compiler_name = String::from("clang-19");
    for name in PROGRAMS {
        for scalar in [false, true] {
            let mut build = cc::Build::new();
            if use_clang {
                build.compiler("clang-19");
            }
            let symbol = if scalar {
                format!("ironbpf_native_scalar_{name}")
            } else {
                format!("ironbpf_native_{name}")
            };
            build
                .file(dir.join(format!("{name}.c")))
                .include(dir)
                .opt_level(2)
                .debug(false)
                .flag("-fno-builtin")
                .define("bpf_main", symbol.as_str())
                .warnings(true);
            if scalar {
                if use_clang {
                    build.flag("-fno-vectorize").flag("-fno-slp-vectorize");
                } else {
                    build.flag_if_supported("-fno-tree-vectorize");
                }
            }
            if !use_clang {
                let tool = build.get_compiler();
                compiler_name = tool
                    .path()
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "cc".to_string());
            }
            build.compile(&symbol);
        }
    }
    println!("cargo:rustc-env=IRONBPF_NATIVE_CC={compiler_name}");
}
