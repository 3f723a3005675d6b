//! The kernel suite's committed objects load through ironbpf-loader: one XDP program
//! named after the file, its maps, and map references as BPF_PSEUDO_MAP_IDX.

use ironbpf_benches::KERNEL_PROGRAMS;
use ironbpf_loader::{load_file, LoadOptions, BPF_PSEUDO_MAP_IDX};

/// BPF_PROG_TYPE_XDP in the kernel's uapi.
const BPF_PROG_TYPE_XDP: u32 = ironbpf_loader::prog_type::XDP;

#[test]
fn every_kernel_program_loads_with_its_maps() {
    for p in KERNEL_PROGRAMS {
        let obj = load_file(&p.object_path(), &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert_eq!(obj.license, "GPL", "{}", p.name);
        let prog = obj
            .programs
            .iter()
            .find(|q| q.name == p.name)
            .unwrap_or_else(|| panic!("{}: no program of that name", p.name));
        assert_eq!(prog.prog_type, BPF_PROG_TYPE_XDP, "{}", p.name);
        assert_eq!(prog.insns.len() % 8, 0);
        let map_refs: Vec<i32> = prog
            .insns
            .chunks_exact(8)
            .filter(|i| i[0] == 0x18 && i[1] >> 4 == BPF_PSEUDO_MAP_IDX)
            .map(|i| i32::from_le_bytes([i[4], i[5], i[6], i[7]]))
            .collect();
        let expected_maps: &[(&str, u32, u32)] = match p.name {
            "hash_counters" => &[("flow_counters", 1, 1024)],
            "hash_lookup" => &[("lookup_table", 1, 1024)],
            "array_sum" => &[("values", 2, 256)],
            _ => &[],
        };
        assert_eq!(obj.maps.len(), expected_maps.len(), "{}", p.name);
        for (map, (name, map_type, max_entries)) in obj.maps.iter().zip(expected_maps) {
            assert_eq!(&map.name, name);
            assert_eq!((map.map_type, map.max_entries), (*map_type, *max_entries));
            assert_eq!((map.key_size, map.value_size), (4, 8));
        }
        assert_eq!(map_refs.is_empty(), expected_maps.is_empty(), "{}", p.name);
        assert!(
            map_refs.iter().all(|&idx| idx == 0),
            "{}: {map_refs:?}",
            p.name
        );
    }
}

#[test]
fn call_chain_links_its_subprograms() {
    let p = KERNEL_PROGRAMS
        .iter()
        .find(|p| p.name == "call_chain")
        .unwrap();
    let obj = load_file(&p.object_path(), &LoadOptions::default()).unwrap();
    let prog = &obj
        .programs
        .iter()
        .find(|q| q.name == "call_chain")
        .unwrap();
    // The entry function plus the six step functions: more than the entry alone, and
    // every pseudo call lands inside the program.
    let n = prog.insns.len() / 8;
    let mut calls = 0;
    for (i, insn) in prog.insns.chunks_exact(8).enumerate() {
        if insn[0] == 0x85 && insn[1] >> 4 == 1 {
            calls += 1;
            let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]);
            let target = i as i64 + 1 + i64::from(imm);
            assert!((0..n as i64).contains(&target), "call at {i} to {target}");
        }
    }
    assert_eq!(calls, 6);
}
