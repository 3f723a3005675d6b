//! The kernel crate against the running kernel. Each test skips (with a
//! `skipped:` line naming the reason) where bpf(2) cannot be used, and fails
//! instead when IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_isa::RawInsn;
use ironbpf_kernel::conformance::{run_conformance, ConformanceOutcome};
use ironbpf_kernel::*;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

fn words(p: &[RawInsn]) -> Vec<u64> {
    p.iter().map(|i| i.to_u64()).collect()
}

#[test]
fn load_test_run_and_read_back() {
    if !available_for_test("load_test_run_and_read_back") {
        return;
    }
    // r0 = 7; r0 += 35; exit
    let p = words(&[
        insn(0xb7, 0, 0, 0, 7),
        insn(0x07, 0, 0, 0, 35),
        insn(0x95, 0, 0, 0, 0),
    ]);
    let out = load_program(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &p,
        name: "t",
        ..Default::default()
    });
    assert_eq!(out.processed_insns, Some(3), "log: {}", out.log);
    assert!(
        out.verification_time_usec.is_some(),
        "the stats level gives the verification time: {}",
        out.log
    );
    let prog = out.result.expect("accepted");
    let run = prog
        .test_run(&TestRun {
            data: &[0u8; 14],
            repeat: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(run.retval, 42);
    let info = prog.info().unwrap();
    assert_eq!(info.prog_type, BPF_PROG_TYPE_SOCKET_FILTER);
    assert_eq!(info.name, "t");
    assert_eq!(info.verified_insns, 3);
    let xlated = prog.xlated().unwrap();
    assert_eq!(xlated.len(), 24, "three instructions come back");
    let jited = prog.jited().unwrap();
    assert!(!jited.is_empty(), "the kernel JIT is always on");
}

#[test]
fn a_refusal_gives_errno_log_and_error_line() {
    if !available_for_test("a_refusal_gives_errno_log_and_error_line") {
        return;
    }
    // r0 = *(u32 *)(r1 + 4096): outside the socket filter's context.
    let p = words(&[insn(0x61, 0, 1, 4096, 0), insn(0x95, 0, 0, 0, 0)]);
    let out = load_program(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &p,
        ..Default::default()
    });
    let err = out.result.as_ref().unwrap_err();
    assert_eq!(err.errno, libc::EACCES);
    assert_eq!(
        out.first_error_line.as_deref(),
        Some("invalid bpf_context access off=4096 size=4"),
        "{}",
        out.log
    );
    assert_eq!(out.error_insn, Some(0));
    // Level 2 without stats still produces a log and the verdict.
    let out2 = load_program(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &p,
        log_level: BPF_LOG_LEVEL2,
        ..Default::default()
    });
    assert!(out2.log.contains("invalid bpf_context access"));
}

#[test]
fn the_log_buffer_grows_to_hold_a_long_log() {
    if !available_for_test("the_log_buffer_grows_to_hold_a_long_log") {
        return;
    }
    // 4000 instructions at level 2 make a log far beyond the first 64 KiB buffer.
    let mut p = vec![insn(0xb7, 0, 0, 0, 0)];
    for _ in 0..4000 {
        p.push(insn(0x07, 0, 0, 0, 1));
    }
    p.push(insn(0x95, 0, 0, 0, 0));
    let out = load_program(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &words(&p),
        log_level: BPF_LOG_LEVEL2 | BPF_LOG_STATS,
        ..Default::default()
    });
    assert!(
        out.accepted(),
        "{}",
        out.first_error_line.unwrap_or_default()
    );
    assert!(out.log.len() > 64 * 1024, "log of {} bytes", out.log.len());
    assert!(!out.log_truncated);
    assert_eq!(out.processed_insns, Some(4002));
}

#[test]
fn map_operations_return_the_kernels_errnos() {
    if !available_for_test("map_operations_return_the_kernels_errnos") {
        return;
    }
    let m = KernelMap::create(&MapCreate::new(BPF_MAP_TYPE_HASH, 4, 8, 2)).unwrap();
    let k = |i: u32| i.to_ne_bytes();
    let v = |i: u64| i.to_ne_bytes();
    m.update(&k(1), &v(10), 0).unwrap();
    assert_eq!(
        m.update(&k(1), &v(11), 1),
        Err(libc::EEXIST),
        "BPF_NOEXIST on a present key"
    );
    assert_eq!(
        m.update(&k(2), &v(20), 2),
        Err(libc::ENOENT),
        "BPF_EXIST on an absent key"
    );
    m.update(&k(2), &v(20), 0).unwrap();
    assert_eq!(m.update(&k(3), &v(30), 0), Err(libc::E2BIG), "full");
    let mut out = [0u8; 8];
    m.lookup(&k(2), &mut out, 0).unwrap();
    assert_eq!(u64::from_ne_bytes(out), 20);
    let mut next = [0u8; 4];
    m.get_next_key(None, &mut next).unwrap();
    let first = u32::from_ne_bytes(next);
    m.get_next_key(Some(&next.clone()), &mut next).unwrap();
    let second = u32::from_ne_bytes(next);
    assert_eq!([first.min(second), first.max(second)], [1, 2]);
    assert_eq!(
        m.get_next_key(Some(&next.clone()), &mut next),
        Err(libc::ENOENT)
    );
    // Batch: read both, then delete both.
    let mut keys = [0u8; 8];
    let mut values = [0u8; 16];
    let mut out_batch = [0u8; 4];
    let r = m
        .lookup_batch(None, &mut out_batch, &mut keys, &mut values, 2, 0)
        .unwrap();
    assert_eq!(r.count, 2);
    let r = m.delete_batch(&keys, 2, 0).unwrap();
    assert_eq!((r.count, r.errno), (2, None));
    assert_eq!(m.delete(&k(1)), Err(libc::ENOENT));
    let info = m.info().unwrap();
    assert_eq!(
        (info.map_type, info.key_size, info.value_size),
        (BPF_MAP_TYPE_HASH, 4, 8)
    );
    // Buffers too short for what the kernel would read or write are refused
    // before the syscall: a per-CPU value is one 8-byte slot per possible CPU.
    let pc = KernelMap::create(&MapCreate::new(6, 4, 4, 1)).unwrap();
    assert_eq!(pc.value_len, 8 * possible_cpus());
    let mut short = vec![0u8; 4];
    assert_eq!(pc.lookup(&k(0), &mut short, 0), Err(libc::EINVAL));
    let mut whole = vec![0u8; pc.value_len];
    pc.lookup(&k(0), &mut whole, 0).unwrap();
    assert_eq!(
        m.update(&[1, 0], &v(1), 0),
        Err(libc::EINVAL),
        "a 2-byte key for 4-byte keys"
    );
    // Creation checks.
    let e = KernelMap::create(&MapCreate::new(BPF_MAP_TYPE_ARRAY, 8, 8, 1)).unwrap_err();
    assert_eq!(e.errno, libc::EINVAL, "arrays take 4-byte keys only");
}

#[test]
fn conformance_programs_get_memory_and_return_64_bits() {
    if !available_for_test("conformance_programs_get_memory_and_return_64_bits") {
        return;
    }
    // r0 = *(u64 *)(r1 + 0); r0 += r2; *(u8 *)(r1 + 1) = 0xee; exit
    let p = [
        insn(0x79, 0, 1, 0, 0),
        insn(0x0f, 0, 2, 0, 0),
        insn(0x72, 1, 0, 1, 0xee),
        insn(0x95, 0, 0, 0, 0),
    ];
    let mem = 0x1122_3344_5566_7788u64.to_le_bytes();
    let out = run_conformance(&p, &mem).unwrap();
    let mut after = mem;
    after[1] = 0xee;
    assert_eq!(
        out,
        ConformanceOutcome::Ran {
            r0: 0x1122_3344_5566_7788 + 8,
            memory: after.to_vec()
        }
    );
    // A local call whose result has high bits set.
    let p = [
        insn(0x85, 0, 1, 0, 1), // call +1
        insn(0x95, 0, 0, 0, 0),
        insn(0x18, 0, 0, 0, 0x0000_0001), // r0 = 0x1_0000_0001
        insn(0, 0, 0, 0, 1),
        insn(0x95, 0, 0, 0, 0),
    ];
    assert_eq!(
        run_conformance(&p, &[]).unwrap(),
        ConformanceOutcome::Ran {
            r0: 0x1_0000_0001,
            memory: vec![]
        }
    );
    // A refusal names the verifier's reason.
    let p = [insn(0xbf, 0, 3, 0, 0), insn(0x95, 0, 0, 0, 0)];
    match run_conformance(&p, &[]).unwrap() {
        ConformanceOutcome::Refused { line, .. } => assert_eq!(line, "R3 !read_ok"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn probe_agrees_with_a_load() {
    match probe() {
        Ok(()) => {
            let p = [0xb7u64, 0x95];
            let out = load_program(&ProgLoad {
                prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
                insns: &p,
                ..Default::default()
            });
            assert!(out.accepted());
        }
        Err(why) => {
            assert!(why.reason.starts_with("bpf(2)"), "{why}");
            assert!(!kernel_required());
        }
    }
}

fn kernel_required() -> bool {
    std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1")
}

/// An object's ring buffers are created as libbpf creates them: a size
/// that is not a power-of-2 number of pages (`max_entries 8`, which the
/// kernel alone refuses) is rounded up to one.
#[test]
fn object_ring_buffers_are_sized_as_libbpf_sizes_them() {
    if !available_for_test("object_ring_buffers_are_sized_as_libbpf_sizes_them") {
        return;
    }
    let def = |name: &str, map_type: u32, max_entries: u32| ironbpf_loader::MapDef {
        name: name.into(),
        map_type,
        key_size: 0,
        value_size: 0,
        max_entries,
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
    };
    let obj = |maps| ironbpf_loader::Object {
        programs: Vec::new(),
        maps,
        license: "GPL".into(),
        kern_version: None,
        btf: None,
    };
    let small = obj(vec![
        def("rb", ironbpf_maps::BPF_MAP_TYPE_RINGBUF, 8),
        def("urb", ironbpf_maps::BPF_MAP_TYPE_USER_RINGBUF, 3 * 4096),
    ]);
    let k = object::KernelObject::create(&small).expect("libbpf's sizes");
    assert_eq!(k.maps.len(), 2);
    // The kernel itself refuses the size the object gives.
    let raw = KernelMap::create(&MapCreate::new(ironbpf_maps::BPF_MAP_TYPE_RINGBUF, 0, 0, 8));
    assert!(raw.is_err(), "the kernel takes a ring buffer of 8 bytes");
    // A size left unset stays unset, for the kernel to refuse.
    let unset = obj(vec![def("rb", ironbpf_maps::BPF_MAP_TYPE_RINGBUF, 0)]);
    assert!(object::KernelObject::create(&unset).is_err());
}

#[test]
fn section_names_give_libbpf_s_prog_flags() {
    assert_eq!(prog_flags_for_section("xdp"), 0);
    assert_eq!(prog_flags_for_section("xdp.frags"), BPF_F_XDP_HAS_FRAGS);
    assert_eq!(
        prog_flags_for_section("?xdp.frags/devmap"),
        BPF_F_XDP_HAS_FRAGS
    );
    assert_eq!(prog_flags_for_section("xdp.fragsx"), 0);
    assert_eq!(prog_flags_for_section("syscall"), BPF_F_SLEEPABLE);
    assert_eq!(prog_flags_for_section("lsm.s/file_open"), BPF_F_SLEEPABLE);
    assert_eq!(
        prog_flags_for_section("uprobe.s//bin/sh:main"),
        BPF_F_SLEEPABLE
    );
    assert_eq!(prog_flags_for_section("lsm/file_open"), 0);
    assert_eq!(prog_flags_for_section("fentry/do_sys_open"), 0);
}
