//! Every corpus object that ironbpf's loader loads goes into the running
//! kernel through [`KernelObject`]: its BTF, its maps as the loader defined
//! them, and each program with the loader's type and instructions. The
//! kernel's verdict on each program is recorded (the kernel on this machine
//! is the truth); what is asserted is that the setup never fails for a
//! reason of ours, that the maps the kernel holds are the ones the object
//! defines, and that an accepted program uses exactly the maps its
//! instructions refer to.

#[path = "../../loader/tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};

use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::{available_for_test, errno_name, BPF_LOG_STATS};
use ironbpf_loader::{
    load_file, LoadOptions, Object, Program, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
};

/// Objects whose maps the kernel refuses, and why: the definitions break a
/// rule the kernel has always had, so libbpf could not create them either.
const MAPS_REFUSED: &[(&str, &str)] = &[
    // PREVAIL's test of a map key the size of a pointer: an array's key is a u32.
    ("build/exposeptr2.o", "map \"map\""),
    // `__type(value, struct event)` on a perf event array, whose values are
    // u32 perf event fds.
    (
        "cilium-examples/uretprobe_bpf_x86_bpfel.o",
        "map \"events\"",
    ),
];

/// The map indices `p`'s `ld_imm64`s refer to.
fn referenced_maps(p: &Program) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 8 <= p.insns.len() {
        let code = p.insns[i];
        let src = p.insns[i + 1] >> 4;
        if code == 0x18 {
            if src == BPF_PSEUDO_MAP_IDX || src == BPF_PSEUDO_MAP_IDX_VALUE {
                let imm = i32::from_le_bytes(p.insns[i + 4..i + 8].try_into().unwrap());
                out.insert(imm as usize);
            }
            i += 16;
        } else {
            i += 8;
        }
    }
    out
}

/// The kernel's maps are the object's: type, key and value sizes, entries.
fn check_maps(rel: &str, obj: &Object, k: &KernelObject) -> Vec<u32> {
    assert_eq!(k.maps.len(), obj.maps.len(), "{rel}: map count");
    let mut ids = Vec::new();
    for (def, (name, map)) in obj.maps.iter().zip(&k.maps) {
        assert_eq!(&def.name, name, "{rel}");
        let info = map
            .info()
            .unwrap_or_else(|e| panic!("{rel}: map {name}: {e}"));
        assert_eq!(info.map_type, def.map_type, "{rel}: map {name}: type");
        assert_eq!(info.key_size, def.key_size, "{rel}: map {name}: key size");
        assert_eq!(
            info.value_size, def.value_size,
            "{rel}: map {name}: value size"
        );
        if !(def.map_type == 4 && def.max_entries == 0) {
            // (A perf event array without a size gets one slot per CPU.)
            assert_eq!(
                info.max_entries, def.max_entries,
                "{rel}: map {name}: max_entries"
            );
        }
        ids.push(info.id);
    }
    ids
}

#[derive(Default)]
struct Tally {
    objects: usize,
    objects_refused_by_loader: usize,
    objects_maps_refused: usize,
    maps: usize,
    btf_loaded: usize,
    btf_refused: usize,
    accepted: usize,
    refused: usize,
    by_errno: BTreeMap<String, usize>,
    by_type: BTreeMap<&'static str, (usize, usize)>,
}

#[test]
fn corpus_objects_load_into_the_kernel() {
    if !common::corpus_present("corpus_objects_load_into_the_kernel") {
        return;
    }
    if !available_for_test("corpus_objects_load_into_the_kernel") {
        return;
    }
    let objects = common::corpus_objects();
    assert_eq!(objects.len(), 124);
    let mut t = Tally::default();
    let mut maps_refused = Vec::new();
    let mut verdicts = Vec::new();
    let mut programs_without_maps = 0;
    for (rel, path) in &objects {
        let refused = common::REFUSED.iter().any(|(n, _)| n == rel);
        let opts = LoadOptions {
            prog_type_override: common::type_for(rel)
                .or(refused.then_some(ironbpf_loader::prog_type::XDP)),
            ..Default::default()
        };
        let obj = match load_file(path, &opts) {
            Ok(o) => o,
            Err(e) => {
                assert!(refused, "{rel}: the loader refused it: {e}");
                t.objects_refused_by_loader += 1;
                continue;
            }
        };
        t.objects += 1;
        let k = match KernelObject::create(&obj) {
            Ok(k) => k,
            Err(e) => {
                let why = MAPS_REFUSED
                    .iter()
                    .find(|(n, _)| n == rel)
                    .unwrap_or_else(|| panic!("{rel}: the kernel refused the object: {e}"));
                assert_eq!(e.errno, libc::EINVAL, "{rel}: {e}");
                assert!(e.to_string().contains(why.1), "{rel}: {e}");
                maps_refused.push(rel.clone());
                programs_without_maps += obj.programs.len();
                t.objects_maps_refused += 1;
                continue;
            }
        };
        match (&obj.btf, &k.btf, &k.btf_error) {
            (Some(_), Some(_), _) => t.btf_loaded += 1,
            (Some(_), None, Some(_)) => t.btf_refused += 1,
            (None, None, None) => {}
            other => panic!(
                "{rel}: BTF state {:?}",
                (other.0.is_some(), other.1.is_some())
            ),
        }
        let ids = check_maps(rel, &obj, &k);
        t.maps += ids.len();
        for p in &obj.programs {
            let out = k.load_program(p, BPF_LOG_STATS);
            let entry = t.by_type.entry(p.prog_type_name).or_default();
            match &out.result {
                Ok(prog) => {
                    t.accepted += 1;
                    entry.0 += 1;
                    let info = prog.info().unwrap();
                    assert_eq!(info.prog_type, p.prog_type, "{rel}: {}", p.name);
                    let want: BTreeSet<u32> =
                        referenced_maps(p).into_iter().map(|i| ids[i]).collect();
                    let got: BTreeSet<u32> = info.map_ids.iter().copied().collect();
                    assert_eq!(
                        got, want,
                        "{rel}: {}: the maps the kernel holds for it",
                        p.name
                    );
                    assert!(info.xlated_len > 0, "{rel}: {}", p.name);
                    verdicts.push(format!(
                        "{rel}: {} ({}): accepted, {} insns processed",
                        p.name,
                        p.prog_type_name,
                        out.processed_insns.unwrap_or(0)
                    ));
                }
                Err(e) => {
                    t.refused += 1;
                    entry.1 += 1;
                    *t.by_errno.entry(errno_name(e.errno)).or_default() += 1;
                    verdicts.push(format!(
                        "{rel}: {} ({}): refused, {}: {}",
                        p.name,
                        p.prog_type_name,
                        errno_name(e.errno),
                        out.first_error_line.as_deref().unwrap_or("(empty log)")
                    ));
                }
            }
        }
    }
    for v in &verdicts {
        println!("{v}");
    }
    println!(
        "kernel corpus: {} objects loaded by ironbpf ({} refused by its loader); {} with their maps in the kernel ({} maps, checked against the definitions; {} objects whose maps the kernel refuses: {:?}); BTF loaded for {}, refused for {}",
        t.objects,
        t.objects_refused_by_loader,
        t.objects - t.objects_maps_refused,
        t.maps,
        t.objects_maps_refused,
        maps_refused,
        t.btf_loaded,
        t.btf_refused
    );
    println!(
        "programs: {} accepted, {} refused ({:?}); by type (accepted, refused): {:?}",
        t.accepted, t.refused, t.by_errno, t.by_type
    );
    assert_eq!(t.objects_refused_by_loader, common::REFUSED.len());
    assert_eq!(maps_refused.len(), MAPS_REFUSED.len());
    // Every program of every object whose maps exist reached the kernel.
    assert_eq!(t.accepted + t.refused, 240 - programs_without_maps);
    assert!(t.maps > 0);
    // The kernel accepts most of the corpus; a collapse means a setup bug.
    assert!(t.accepted > 180, "only {} programs accepted", t.accepted);
}
