//! The ELF loader on mutated objects: an error or an object, never a panic,
//! and bounded time and memory (the loader's limits).
#![no_main]
use ironbpf_loader::{inspect_bytes, load_bytes, LoadOptions};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn options() -> &'static LoadOptions {
    static OPTS: OnceLock<LoadOptions> = OnceLock::new();
    OPTS.get_or_init(|| {
        // No host lookups: an empty kernel configuration and no target BTF
        // (CO-RE relocations are then errors, which is what we want here;
        // IRONBPF_FUZZ_BTF points at a target BTF to fuzz CO-RE too).
        let dir = std::env::temp_dir().join(format!("ironbpf-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let config = dir.join("config");
        let _ = std::fs::write(&config, "CONFIG_BPF=y\nCONFIG_HZ=250\n");
        LoadOptions {
            target_btf: Some(
                std::env::var_os("IRONBPF_FUZZ_BTF")
                    .map(Into::into)
                    .unwrap_or_else(|| dir.join("no-btf")),
            ),
            prog_type_override: Some(6),
            kconfig_path: Some(config),
            kconfig_values: Vec::new(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let opts = options();
    if let Ok(obj) = load_bytes(data, opts) {
        for p in &obj.programs {
            assert_eq!(
                p.insns.len() % 8,
                0,
                "program {} has a partial slot",
                p.name
            );
            let _ = ironbpf_isa::Program::from_bytes(&p.insns);
        }
    }
    let _ = inspect_bytes(data, opts);
});
