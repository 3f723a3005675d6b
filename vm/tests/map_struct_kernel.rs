//! Reads of the kernel's struct behind a map pointer (`map->max_entries`,
//! `array->elem_size`, `htab->n_buckets`), which the kernel's verifier lets
//! privileged programs make: in ironbpf a map handle is the address of a
//! read-only image of that struct, so the same program gives the same
//! values on the interpreter, the checked JIT and the verified JIT as in
//! the kernel's `BPF_PROG_TEST_RUN`. Once, a verified program reading
//! `*(u32 *)(map + 0)` faulted in ironbpf's checked interpreter (the fuzz
//! target `soundness` found it).
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1; the ironbpf half always runs.

use ironbpf_isa::assemble_program;
use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad, TestRun};
use ironbpf_maps::{MapSet, MapSpec};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, MapInfo, VerifyOptions};
use ironbpf_vm::object::MapResolver;
use ironbpf_vm::testrun::{self, TestRun as OurRun};
use ironbpf_vm::{progtype, Engine, HelperRegistry, Interpreter, JitProgram, Options, VmError};
use std::sync::Arc;

/// (type, key, value, max entries, flags) of map[idx:0..].
const MAPS: &[(u32, u32, u32, u32, u32)] = &[
    (2, 4, 12, 5, 0),        // array: elem_size 16, index_mask 7
    (1, 6, 20, 100, 0),      // hash: n_buckets 128, elem_size 80
    (6, 4, 3, 1, 0),         // percpu array: elem_size 8, index_mask 0
    (9, 8, 8, 1000, 0),      // lru hash
    (5, 4, 40, 3, 1),        // percpu hash, BPF_F_NO_PREALLOC
    (27, 0, 0, 4096 * 4, 0), // ringbuf: struct bpf_ringbuf_map's map
];

/// (map index, offset, size) of the reads compared: struct bpf_map's
/// map_type, key_size, value_size, max_entries, map_flags, the kind's own
/// fields, and a byte of the struct's first member.
fn reads() -> Vec<(u32, i16, u8)> {
    let mut v = Vec::new();
    for m in 0..MAPS.len() as u32 {
        for off in [64, 68, 72, 76, 88] {
            v.push((m, off, 4));
        }
        v.push((m, 0, 1));
    }
    v.extend([(0, 296, 4), (0, 300, 4), (2, 296, 4), (2, 300, 4)]);
    v.extend([
        (1, 824, 4),
        (1, 828, 4),
        (3, 824, 4),
        (3, 828, 4),
        (4, 828, 4),
    ]);
    v
}

fn program(map: u32, off: i16, size: u8) -> String {
    let w = match size {
        1 => "u8",
        2 => "u16",
        4 => "u32",
        _ => "u64",
    };
    format!("r1 = map[idx:{map}]\nr0 = *({w} *)(r1 {off:+})\nexit")
}

fn our_maps() -> Arc<MapSet> {
    let set = Arc::new(MapSet::new());
    for &(t, k, v, n, f) in MAPS {
        let mut spec = MapSpec::new(t, k, v, n);
        spec.map_flags = f;
        set.create(&spec)
            .unwrap_or_else(|e| panic!("map type {t}: {e}"));
    }
    set
}

fn infos() -> Vec<MapInfo> {
    MAPS.iter()
        .enumerate()
        .map(|(i, &(t, k, v, n, f))| MapInfo {
            name: format!("m{i}"),
            map_type: t,
            key_size: k,
            value_size: v,
            max_entries: n,
            map_flags: f,
            frozen_readonly: false,
            record: Default::default(),
        })
        .collect()
}

/// r0 on the interpreter, the checked JIT and the verified JIT; they must
/// agree.
fn ours(set: &Arc<MapSet>, asm: &str) -> Result<u64, VmError> {
    let prog = assemble_program(asm).expect("assembles");
    let resolver = MapResolver(set.clone());
    let vm = Interpreter::with_resolver(
        &prog,
        &HelperRegistry::standard(),
        Options::default(),
        Some(&resolver),
    )?;
    let mut opts = VerifyOptions::new(ProgTypeId::Xdp);
    opts.maps = infos();
    let proof = verify(prog.slots(), &opts)
        .result
        .unwrap_or_else(|e| panic!("ironbpf's verifier refuses\n{asm}\n{}", e.message));
    let pkt = [0u8; 64];
    let interp = testrun::run(&vm, &progtype::XDP, &OurRun::packet(&pkt), Some(&resolver))?.r0;
    let checked = JitProgram::checked(vm.clone())?;
    let verified = JitProgram::verified(vm, &proof)?;
    for (name, jit) in [("checked", &checked), ("verified", &verified)] {
        let mut p = pkt.to_vec();
        let mut ctx = vec![0u8; progtype::XDP.ctx_size as usize];
        let r0 = jit.run_ctx(&progtype::XDP, &mut ctx, Some(&mut p), Some(&resolver))?;
        assert_eq!(r0, interp, "{name} JIT against the interpreter\n{asm}");
    }
    Ok(interp)
}

#[test]
fn map_struct_fields_read_as_in_the_kernel() {
    let set = our_maps();
    let mut mine = Vec::new();
    for (m, off, size) in reads() {
        let asm = program(m, off, size);
        let r0 = ours(&set, &asm).unwrap_or_else(|e| panic!("{asm}\n{e}"));
        mine.push(((m, off, size), r0));
    }
    // Known values, whatever the kernel: the array's max_entries and
    // elem_size, the hash's n_buckets.
    let get = |k: (u32, i16, u8)| mine.iter().find(|(r, _)| *r == k).map(|(_, v)| *v);
    assert_eq!(get((0, 76, 4)), Some(5));
    assert_eq!(get((0, 296, 4)), Some(16));
    assert_eq!(get((1, 824, 4)), Some(128));

    if !ironbpf_kernel::available_for_test("map_struct_fields_read_as_in_the_kernel") {
        return;
    }
    let kmaps: Vec<KernelMap> = MAPS
        .iter()
        .map(|&(t, k, v, n, f)| {
            KernelMap::create(&MapCreate {
                map_flags: f,
                ..MapCreate::new(t, k, v, n)
            })
            .unwrap_or_else(|e| panic!("kernel map type {t}: {e}"))
        })
        .collect();
    let fds: Vec<i32> = kmaps.iter().map(|m| m.raw_fd()).collect();
    let mut differ = Vec::new();
    for ((m, off, size), r0) in &mine {
        let asm = program(*m, *off, *size);
        let words: Vec<u64> = assemble_program(&asm)
            .expect("assembles")
            .slots()
            .iter()
            .map(|s| s.to_u64())
            .collect();
        let out = load_program(&ProgLoad {
            prog_type: progtype::XDP.kernel_id(),
            insns: &words,
            fd_array: &fds,
            ..Default::default()
        });
        let prog = out.result.unwrap_or_else(|e| {
            panic!(
                "the kernel refuses\n{asm}\n{e}: {}",
                out.first_error_line.unwrap_or_default()
            )
        });
        let k = prog
            .test_run(&TestRun {
                data: &[0u8; 64],
                ..Default::default()
            })
            .expect("test run")
            .retval;
        if u64::from(k) != *r0 {
            differ.push(format!(
                "map {m} (type {}) +{off} size {size}: kernel {k:#x}, ironbpf {r0:#x}",
                MAPS[*m as usize].0
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
