//! Inputs the `loader_elf` fuzz target found crashing the loader
//! (`fuzz/regressions/loader_elf/`, minimised by `fuzz/run.sh`): each must
//! now load or fail with an error, never panic. And the limits on what a
//! file controls, each named in its error.

use ironbpf_loader::{inspect_bytes, load_bytes, LoadOptions};
use std::path::PathBuf;

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    let bytes = std::fs::read(e.path()).expect("a readable regression input");
                    (e.file_name().to_string_lossy().into_owned(), bytes)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn fuzz_options() -> LoadOptions {
    // As the fuzz target loads: no target BTF, a fixed kernel configuration.
    let dir = std::env::temp_dir().join(format!("ironbpf-loader-regr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = dir.join("config");
    std::fs::write(&config, "CONFIG_BPF=y\nCONFIG_HZ=250\n").expect("a config file");
    LoadOptions {
        target_btf: Some(dir.join("no-btf")),
        prog_type_override: Some(6),
        kconfig_path: Some(config),
        kconfig_values: Vec::new(),
    }
}

#[test]
fn loader_elf_regressions_load_or_fail_without_panicking() {
    let opts = fuzz_options();
    let inputs = regressions("loader_elf");
    for (name, bytes) in &inputs {
        let r = load_bytes(bytes, &opts);
        let i = inspect_bytes(bytes, &opts);
        eprintln!(
            "{name}: load {:?}, inspect {:?}",
            r.as_ref().map(|o| o.programs.len()),
            i.as_ref().map(|i| i.refused.len())
        );
    }
    eprintln!("{} regression inputs replayed", inputs.len());
}

#[test]
fn an_object_over_the_size_limit_is_refused_by_name() {
    let mut big = vec![0u8; (256 << 20) + 1];
    big[..4].copy_from_slice(b"\x7fELF");
    let e = load_bytes(&big, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("MAX_OBJECT_BYTES") && e.contains("268435457"),
        "{e}"
    );
}
