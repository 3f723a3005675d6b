//! Programs of real objects with maps, on ironbpf's runtime: the map
//! helpers, map references by index, and global data.

use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{HelperRegistry, Options};
use std::path::Path;

fn object(rel: &str) -> ironbpf_loader::Object {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    ironbpf_loader::load_file(&path, &Default::default()).expect("the object loads")
}

/// Ethernet + IPv4 + TCP, 54 bytes.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 54];
    p[12] = 0x08;
    p[14] = 0x45;
    p[26..30].copy_from_slice(&[10, 0, 0, 1]);
    p[34..36].copy_from_slice(&40000u16.to_be_bytes());
    p[36..38].copy_from_slice(&23u16.to_be_bytes());
    p
}

#[test]
fn hash_counters_create_and_count_their_keys() {
    let loaded = LoadedObject::new(
        object("benches/programs/kernel/hash_counters.o"),
        &HelperRegistry::new(),
    )
    .unwrap();
    let (vm, pt) = loaded
        .interpreter("hash_counters", Options::default())
        .unwrap();
    let pt = pt.expect("xdp");
    let mut first = None;
    for run in 1..=3u64 {
        let mut ctx = vec![0u8; pt.ctx_size as usize];
        let mut pkt = packet();
        let r0 = vm
            .run_ctx(pt, &mut ctx, Some(&mut pkt), Some(loaded.resolver()))
            .unwrap();
        assert!(
            r0 > 1,
            "r0 = {r0}: an insert failed or the packet was short"
        );
        assert_eq!(
            *first.get_or_insert(r0),
            r0,
            "the result does not depend on the counters"
        );
        let map = loaded.map("flow_counters").unwrap();
        assert_eq!(map.len(), 16, "sixteen keys");
        let mut key = vec![0u8; 4];
        map.get_next_key(None, &mut key).unwrap();
        let mut v = [0u8; 8];
        map.lookup(&key, &mut v, 0).unwrap();
        assert_eq!(
            u64::from_ne_bytes(v),
            run,
            "each run adds one to every counter"
        );
    }
}

#[test]
fn an_unknown_program_and_a_bad_map_index_are_named() {
    let loaded = LoadedObject::new(
        object("benches/programs/kernel/hash_counters.o"),
        &HelperRegistry::new(),
    )
    .unwrap();
    let err = loaded
        .interpreter("nope", Options::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("no program \"nope\""), "{err}");
    use ironbpf_vm::LdImm64Resolver;
    let err = loaded
        .resolve(7, ironbpf_isa::LdImm64Src::MapIdx, 3, 0)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("instruction 7: map index 3 is past the object's 1 maps"),
        "{err}"
    );
}

#[test]
fn an_inline_lookup_with_a_bad_key_pointer_names_the_call() {
    use ironbpf_vm::{progtype, Interpreter};
    let loaded = LoadedObject::new(
        object("benches/programs/kernel/hash_counters.o"),
        &HelperRegistry::new(),
    )
    .unwrap();
    // r2 = 8; r1 = map[idx:0]; call bpf_map_lookup_elem; exit
    let prog = ironbpf_isa::assemble_program("r2 = 8\nr1 = map[idx:0]\ncall 1\nexit\n").unwrap();
    let vm = Interpreter::with_resolver(&prog, loaded.helpers(), Options::default(), Some(&loaded))
        .unwrap();
    let pt = &progtype::XDP;
    let mut ctx = vec![0u8; pt.ctx_size as usize];
    let mut pkt = packet();
    let err = vm
        .run_ctx(pt, &mut ctx, Some(&mut pkt), Some(loaded.resolver()))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("insn 3 (call bpf_map_lookup_elem#1): invalid load of 4 bytes at 0x8"),
        "{text}"
    );
    assert!(
        text.contains("0x8"),
        "the message names the address: {text}"
    );
}

/// A map definition for [`object_with_a_missing_map_kind`].
fn map_def(name: &str, map_type: u32, key: u32, value: u32, max: u32) -> ironbpf_loader::MapDef {
    ironbpf_loader::MapDef {
        name: name.into(),
        map_type,
        key_size: key,
        value_size: value,
        max_entries: max,
        map_flags: 0,
        pinning: 0,
        numa_node: 0,
        inner: None,
        init_slots: Vec::new(),
        initial_value: None,
        frozen: false,
        kind: ironbpf_loader::MapKind::Btf,
        btf_key_type_id: 0,
        btf_value_type_id: 0,
    }
}

fn xdp_program(name: &str, asm: &str) -> ironbpf_loader::Program {
    let prog = ironbpf_isa::assemble_program(asm).unwrap();
    ironbpf_loader::Program {
        name: name.into(),
        section: "xdp".into(),
        prog_type: ironbpf_loader::prog_type::XDP,
        prog_type_name: "xdp",
        expected_attach_type: 0,
        attach_to: None,
        attach_btf_id: None,
        insns: ironbpf_isa::slots_to_bytes(prog.slots()),
        func_info: Vec::new(),
        line_info: Vec::new(),
        core_relocs_applied: 0,
        core_relocs_poisoned: 0,
        autoload: true,
        type_guessed_from: None,
    }
}

/// An object with a map of a kind ironbpf's runtime lacks (`arena`, map
/// type 33), used by one program only, and an array another program uses.
fn object_with_a_missing_map_kind() -> ironbpf_loader::Object {
    ironbpf_loader::Object {
        programs: vec![
            xdp_program(
                "uses_arena",
                "r1 = map[idx:0]\nr0 = 2\nexit\n",
            ),
            // *(u32 *)(array[0]) += 1; return the new count.
            xdp_program(
                "counts",
                "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = map[idx:1]\ncall 1\n\
                 if r0 == 0 goto +4\nr1 = *(u32 *)(r0 + 0)\nr1 += 1\n*(u32 *)(r0 + 0) = r1\nr0 = r1\nexit\n",
            ),
        ],
        maps: vec![
            map_def("arena_map", 33, 0, 0, 16),
            map_def("counter", ironbpf_maps::BPF_MAP_TYPE_ARRAY, 4, 4, 1),
        ],
        license: "GPL".into(),
        kern_version: None,
        btf: None,
    }
}

#[test]
fn a_missing_map_kind_refuses_only_the_program_that_uses_it() {
    let loaded = LoadedObject::new(object_with_a_missing_map_kind(), &HelperRegistry::new())
        .expect("the object loads although one of its maps cannot be created");
    let missing = loaded.unavailable_maps();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].0, "arena_map");
    assert!(missing[0].1.contains("arena"), "{}", missing[0].1);
    // The program that does not touch it runs, with the map index it was linked with.
    let (vm, pt) = loaded.interpreter("counts", Options::default()).unwrap();
    let pt = pt.unwrap();
    for run in 1..=2u64 {
        let mut ctx = vec![0u8; pt.ctx_size as usize];
        let mut pkt = packet();
        let r0 = vm
            .run_ctx(pt, &mut ctx, Some(&mut pkt), Some(loaded.resolver()))
            .unwrap();
        assert_eq!(r0, run, "the counter counts");
    }
    // The one that uses it is refused, naming itself and the map.
    let err = loaded
        .interpreter("uses_arena", Options::default())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains(
            "program uses_arena uses map \"arena_map\", which ironbpf's runtime cannot create"
        ) && err.contains("arena"),
        "{err}"
    );
    // Host operations on the missing map fail with the reason, not a panic.
    let m = loaded.map("arena_map").unwrap();
    let e = m.lookup(&[], &mut [], 0).unwrap_err();
    assert_eq!(e.errno, 95, "EOPNOTSUPP");
}

#[test]
fn ring_buffers_get_libbpf_s_sizes() {
    let rb = map_def("rb", ironbpf_maps::BPF_MAP_TYPE_RINGBUF, 0, 0, 8);
    assert_eq!(ironbpf_vm::object::map_spec(&rb, 4).max_entries, 4096);
    let urb = map_def("urb", ironbpf_maps::BPF_MAP_TYPE_USER_RINGBUF, 0, 0, 8192);
    assert_eq!(ironbpf_vm::object::map_spec(&urb, 4).max_entries, 8192);
    let hash = map_def("h", 1, 4, 4, 8);
    assert_eq!(ironbpf_vm::object::map_spec(&hash, 4).max_entries, 8);
}
