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
