//! `.kconfig` and `.ksyms` externs, resolved as libbpf resolves them
//! (fixtures/externs.c): values from a configuration file or given by the
//! caller, laid out in a frozen `.kconfig` map, missing weak ones zero,
//! missing strong ones an error for the program that uses them.

use ironbpf_loader::{inspect_file, load_file, LoadError, LoadOptions, MapKind};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn options(config: &str, values: &[(&str, &str)]) -> LoadOptions {
    // One file per call: the tests run in parallel.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("ironbpf-externs-{}-{n}.config", std::process::id()));
    std::fs::write(&path, config).unwrap();
    LoadOptions {
        kconfig_path: Some(path),
        kconfig_values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn kconfig_values_are_laid_out_as_libbpf_lays_them_out() {
    let config = std::fs::read_to_string(fixture("externs.config")).unwrap();
    let obj = load_file(
        &fixture("externs.o"),
        &options(&config, &[("CONFIG_HZ", "300")]),
    )
    .unwrap();
    let (idx, map) = obj
        .maps
        .iter()
        .enumerate()
        .find(|(_, m)| m.name == ".kconfig")
        .expect("a .kconfig map");
    assert_eq!(map.kind, MapKind::GlobalData(".kconfig".into()));
    assert!(map.frozen, "read-only, as libbpf makes it");
    assert_eq!((map.key_size, map.max_entries), (4, 1));
    let v = map.initial_value.as_ref().unwrap();
    // By alignment, then name: NR_CPUS (8), HZ, IPV6, LINUX_KERNEL_VERSION
    // (4), BPF_SYSCALL, DEFAULT_HOSTNAME[8], IRONBPF_NOT_THERE (1).
    assert_eq!(v.len(), 30);
    assert_eq!(&v[0..8], &0x40u64.to_le_bytes(), "CONFIG_NR_CPUS=0x40");
    assert_eq!(
        &v[8..12],
        &300u32.to_le_bytes(),
        "CONFIG_HZ given by the caller"
    );
    assert_eq!(
        &v[12..16],
        &2u32.to_le_bytes(),
        "CONFIG_IPV6=m as a tristate"
    );
    let version = u32::from_le_bytes(v[16..20].try_into().unwrap());
    assert!(
        version >= 6 << 16,
        "LINUX_KERNEL_VERSION of this kernel: {version:#x}"
    );
    assert_eq!(v[20], 1, "CONFIG_BPF_SYSCALL=y");
    assert_eq!(&v[21..29], b"hostnam\0", "a string cut to its char[8]");
    assert_eq!(v[29], 0, "a value the configuration says is not set");
    // Each reference is a load of its offset in that map.
    let prog = obj.programs.iter().find(|p| p.name == "externs").unwrap();
    let insns = &prog.insns;
    let refs: Vec<(u8, i32, i32)> = insns
        .chunks(8)
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0][0] == 0x18 && w[0][1] >> 4 == 6)
        .map(|w| {
            (
                w[0][1] >> 4,
                i32::from_le_bytes(w[0][4..8].try_into().unwrap()),
                i32::from_le_bytes(w[1][4..8].try_into().unwrap()),
            )
        })
        .collect();
    assert!(refs.len() >= 7, "{refs:?}");
    assert!(refs.iter().all(|&(_, m, _)| m == idx as i32), "{refs:?}");
    let mut offs: Vec<i32> = refs.iter().map(|r| r.2).collect();
    offs.sort_unstable();
    offs.dedup();
    assert_eq!(offs, [0, 8, 12, 16, 20, 21, 29]);
}

#[test]
fn a_missing_value_refuses_the_program_that_reads_it() {
    let opts = options("CONFIG_BPF_SYSCALL=y\n", &[]);
    let err = load_file(&fixture("externs.o"), &opts).unwrap_err();
    let (LoadError::Relocation { .. } | LoadError::Extern { .. }) = &err else {
        panic!("{err}");
    };
    let text = err.to_string();
    assert!(
        text.contains("extern CONFIG_HZ: not found in the kernel configuration"),
        "{text}"
    );
    // The object's other program does not read it, and still loads.
    let ins = inspect_file(&fixture("externs.o"), &opts).unwrap();
    assert_eq!(ins.refused.len(), 1);
    assert_eq!(ins.refused[0].name, "externs");
    assert_eq!(ins.object.programs.len(), 1);
    assert_eq!(ins.object.programs[0].name, "kfuncs");
}

#[test]
fn a_value_that_does_not_fit_its_type_is_an_error_naming_it() {
    for (value, why) in [
        ("abc", "not a number"),
        ("0x100000000", "does not fit in a signed 4-byte integer"),
    ] {
        let err = load_file(&fixture("externs.o"), &options("", &[("CONFIG_HZ", value)]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("extern CONFIG_HZ: kconfig value `{value}`: {why}")
        );
    }
    let err = load_file(
        &fixture("externs.o"),
        &options("CONFIG_HZ=1\nCONFIG_BPF_SYSCALL=m\n", &[]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("CONFIG_BPF_SYSCALL: kconfig value `m`: a module (m) cannot be a bool"),
        "{err}"
    );
}

/// The call instructions of a program: (src_reg, imm, off).
fn calls(insns: &[u8]) -> Vec<(u8, i32, i16)> {
    insns
        .chunks(8)
        .filter(|i| i[0] == 0x85)
        .map(|i| {
            (
                i[1] >> 4,
                i32::from_le_bytes(i[4..8].try_into().unwrap()),
                i16::from_le_bytes(i[2..4].try_into().unwrap()),
            )
        })
        .collect()
}

#[test]
fn kfunc_calls_are_resolved_against_vmlinux_btf() {
    let vmlinux = std::path::Path::new("/sys/kernel/btf/vmlinux");
    if !vmlinux.exists() {
        println!("skipped: kfunc_calls_are_resolved_against_vmlinux_btf: no /sys/kernel/btf/vmlinux on this machine");
        return;
    }
    let obj = load_file(&fixture("externs.o"), &LoadOptions::default()).unwrap();
    let prog = obj.programs.iter().find(|p| p.name == "kfuncs").unwrap();
    let c = calls(&prog.insns);
    assert_eq!(c.len(), 2, "{c:?}");
    // The weak kfunc the kernel lacks: a call by id 0, and its address a NULL.
    assert_eq!(c[0], (2, 0, 0), "{c:?}");
    // bpf_dynptr_from_xdp: BPF_PSEUDO_KFUNC_CALL by its vmlinux id, off 0.
    assert_eq!((c[1].0, c[1].2), (2, 0), "{c:?}");
    assert!(c[1].1 > 0, "{c:?}");
    let first = &prog.insns[..16];
    assert_eq!((first[0], first[1] >> 4), (0x18, 0), "a plain ld_imm64");
    assert!(first[4..8].iter().chain(&first[12..16]).all(|&b| b == 0));
}

#[test]
fn a_kfunc_the_target_lacks_refuses_only_the_program_that_calls_it() {
    // The fixtures' own target BTF has no kfuncs at all.
    let opts = LoadOptions {
        target_btf: Some(fixture("target.btf")),
        ..Default::default()
    };
    let ins = inspect_file(&fixture("externs.o"), &opts).unwrap();
    assert_eq!(ins.refused.len(), 1);
    assert_eq!(ins.refused[0].name, "kfuncs");
    assert_eq!(
        ins.refused[0].error.to_string(),
        "extern bpf_dynptr_from_xdp: kfunc: no function of this name in the target (vmlinux) BTF"
    );
    assert_eq!(ins.object.programs[0].name, "externs");
}
