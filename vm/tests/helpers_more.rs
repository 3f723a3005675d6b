//! The helpers that need more of the engine than a call: callbacks into the
//! program (`bpf_loop`, `bpf_for_each_map_elem`), tail calls, packets whose
//! bounds move (`bpf_xdp_adjust_*`), spin locks, and the rest of the table.

use ironbpf_helpers::{HelperEnv, HelperRegistry, TaskInfo};
use ironbpf_isa::assemble_program;
use ironbpf_maps::{FdMap, MapSet, MapSpec};
use ironbpf_vm::object::MapResolver;
use ironbpf_vm::testrun::{self, TestRun};
use ironbpf_vm::{progtype, Interpreter, Options, ProgType, VmError};
use std::sync::Arc;

fn maps(specs: &[(u32, u32, u32, u32)]) -> Arc<MapSet> {
    let set = Arc::new(MapSet::new());
    for &(t, k, v, n) in specs {
        set.create(&MapSpec::new(t, k, v, n)).unwrap();
    }
    set
}

fn vm_with(
    asm: &str,
    maps: &Arc<MapSet>,
    helpers: &HelperRegistry,
    options: Options,
) -> Interpreter {
    let prog = assemble_program(asm).unwrap_or_else(|e| panic!("{e}\n{asm}"));
    Interpreter::with_resolver(&prog, helpers, options, Some(&MapResolver(maps.clone())))
        .unwrap_or_else(|e| panic!("{e}\n{asm}"))
}

fn vm(asm: &str, maps: &Arc<MapSet>) -> Interpreter {
    vm_with(asm, maps, &HelperRegistry::standard(), Options::default())
}

/// Runs on a 64-byte packet as the kernel's test run would.
fn run_pt(
    vm: &Interpreter,
    pt: &'static ProgType,
    maps: &Arc<MapSet>,
) -> Result<testrun::TestRunOutput, VmError> {
    let mut pkt = vec![0u8; 64];
    pkt[12] = 0x08;
    for (i, b) in pkt[14..].iter_mut().enumerate() {
        *b = i as u8;
    }
    testrun::run(
        vm,
        pt,
        &TestRun::packet(&pkt),
        Some(&MapResolver(maps.clone())),
    )
}

fn run(asm: &str, maps: &Arc<MapSet>) -> u64 {
    run_pt(&vm(asm, maps), &progtype::XDP, maps)
        .unwrap_or_else(|e| panic!("{e}\n{asm}"))
        .r0
}

#[test]
fn bpf_loop_calls_back_until_told_to_stop() {
    let set = maps(&[]);
    // Sum the indexes into the context's slot on the stack; stop at `stop`.
    let prog = |n: i64, stop: u64, flags: u64| {
        format!(
            "*(u64 *)(r10 -8) = 0\nr1 = {n}\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = {flags}\ncall bpf_loop\n\
             r1 = *(u64 *)(r10 -8)\nr0 <<= 32\nr0 += r1\nexit\n\
             cb:\nr3 = *(u64 *)(r2 +0)\nr3 += r1\n*(u64 *)(r2 +0) = r3\nr0 = 0\nif r1 < {stop} goto +1\nr0 = 1\nexit\n"
        )
    };
    assert_eq!(
        run(&prog(10, 100, 0), &set),
        10 << 32 | 45,
        "ten calls, 0 + ... + 9"
    );
    assert_eq!(
        run(&prog(10, 3, 0), &set),
        4 << 32 | 6,
        "stopped after index 3: four calls"
    );
    assert_eq!(run(&prog(0, 3, 0), &set), 0);
    assert_eq!(
        run(&prog(3, 100, 1), &set) >> 32,
        0xffff_ffea,
        "flags: -EINVAL"
    );
    assert_eq!(
        run(&prog((1 << 23) + 1, 3, 0), &set) as i64 >> 32,
        -7,
        "more than 1 << 23 loops: -E2BIG"
    );
    // r1 is a u32: the high half is ignored.
    assert_eq!(run(&prog(1 << 32 | 2, 100, 0), &set), 2 << 32 | 1);
}

#[test]
fn callbacks_nest_and_share_the_budget() {
    let set = maps(&[]);
    // A loop inside a loop's callback: 3 * 4 inner calls.
    let asm = "*(u64 *)(r10 -8) = 0\nr1 = 3\nr2 = subprog[outer]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\nr0 = *(u64 *)(r10 -8)\nexit\n\
               outer:\nr6 = r2\nr1 = 4\nr2 = subprog[inner]\nr3 = r6\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\n\
               inner:\nr1 = *(u64 *)(r2 +0)\nr1 += 1\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit\n";
    assert_eq!(run(asm, &set), 12);
    // An endless callback exhausts the run's budget, not a fresh one.
    let asm = "r1 = 1\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit\ncb:\nr0 = 0\nloop:\nr0 += 1\ngoto loop\n";
    let err = run_pt(&vm(asm, &set), &progtype::XDP, &set).unwrap_err();
    assert!(matches!(err, VmError::BudgetExhausted { .. }), "{err}");
    // A callback's fault is the run's error, naming the callback's insn.
    let asm = "r1 = 1\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit\ncb:\nr0 = *(u64 *)(r2 +0)\nexit\n";
    let err = run_pt(&vm(asm, &set), &progtype::XDP, &set).unwrap_err();
    assert!(matches!(err, VmError::MemoryFault { pc: 7, .. }), "{err}");
    // A callback that is not a subprogram.
    let asm = "r1 = 1\nr2 = 7\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit\n";
    let err = run_pt(&vm(asm, &set), &progtype::XDP, &set).unwrap_err();
    assert!(err.to_string().contains("not a subprogram"), "{err}");
}

#[test]
fn for_each_map_elem_walks_arrays_and_hashes() {
    // Sum key + value over the elements; count them in r0.
    let walk = "*(u64 *)(r10 -8) = 0\nr1 = map[idx:0]\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_for_each_map_elem\n\
                r1 = *(u64 *)(r10 -8)\nr0 <<= 32\nr0 += r1\nexit\n\
                cb:\nr5 = *(u32 *)(r2 +0)\nr6 = *(u64 *)(r3 +0)\nr6 += r5\n*(u64 *)(r3 +0) = r6\nr7 = *(u64 *)(r4 +0)\nr7 += r6\n*(u64 *)(r4 +0) = r7\nr0 = 0\nexit\n";
    for map_type in [2u32, 1] {
        let set = maps(&[(map_type, 4, 8, 8)]);
        let m = set.get(0).unwrap();
        for k in [1u32, 3, 6] {
            m.update(&k.to_ne_bytes(), &(k as u64 * 10).to_ne_bytes(), 0)
                .unwrap();
        }
        let r0 = run(walk, &set);
        let (n, sum) = (r0 >> 32, r0 & 0xffff_ffff);
        if map_type == 2 {
            assert_eq!(n, 8, "every slot of the array");
        } else {
            assert_eq!(n, 3, "every key of the hash");
        }
        let keys = if map_type == 2 { 28 } else { 1 + 3 + 6 };
        assert_eq!(
            sum,
            keys + 100,
            "type {map_type}: keys + values, values written back"
        );
        let mut v = [0u8; 8];
        m.lookup(&3u32.to_ne_bytes(), &mut v, 0).unwrap();
        assert_eq!(u64::from_ne_bytes(v), 33, "the callback wrote the value");
    }
    // Returning 1 stops the walk; that element counts.
    let set = maps(&[(2, 4, 8, 8)]);
    let asm =
        "r1 = map[idx:0]\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_for_each_map_elem\nexit\n\
               cb:\nr0 = 0\nr5 = *(u32 *)(r2 +0)\nif r5 != 2 goto +1\nr0 = 1\nexit\n";
    assert_eq!(run(asm, &set), 3);
    let asm = "r1 = map[idx:0]\nr2 = subprog[cb]\nr3 = 0\nr4 = 1\ncall bpf_for_each_map_elem\nexit\ncb:\nr0 = 0\nexit\n";
    assert_eq!(run(asm, &set) as i64, -22, "flags: -EINVAL");
    // The key is the callback's to read, not to write.
    let asm = "r1 = map[idx:0]\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_for_each_map_elem\nexit\ncb:\n*(u32 *)(r2 +0) = 1\nr0 = 0\nexit\n";
    let err = run_pt(&vm(asm, &set), &progtype::XDP, &set).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn tail_calls_replace_the_program() {
    let set = maps(&[(3, 4, 4, 4), (2, 4, 8, 1)]);
    let progs = set.get(0).unwrap();
    let fd = progs.as_any().downcast_ref::<FdMap>().unwrap();
    let target = vm("r0 = *(u32 *)(r1 +12)\nr0 += 1000\nexit\n", &set);
    fd.update_object(&1u32.to_ne_bytes(), 1, Some(Arc::new(target)), 0)
        .unwrap();
    // Slot 1 holds a program: it runs with the caller's context and its r0
    // is the result. Slot 2 is empty: the call falls through.
    let caller = "r6 = r1\nr1 = r6\nr2 = map[idx:0]\nr3 = 2\ncall bpf_tail_call\nr1 = r6\nr2 = map[idx:0]\nr3 = 1\ncall bpf_tail_call\nr0 = 99\nexit\n";
    assert_eq!(run(caller, &set), 1001, "ingress_ifindex 1, plus 1000");
    let caller = "r2 = map[idx:0]\nr3 = 9\ncall bpf_tail_call\nr0 = 99\nexit\n";
    assert_eq!(
        run(caller, &set),
        99,
        "an index past the array falls through"
    );
    // A program that tail-calls itself: 33 tail calls, then the call fails.
    let counting = "r6 = r1\n*(u32 *)(r10 -4) = 0\nr1 = map[idx:1]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +6\n\
                    r1 = 1\nlock *(u64 *)(r0 +0) += r1\nr1 = r6\nr2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call\nr0 = 7\nexit\n";
    let me = vm(counting, &set);
    fd.update_object(&0u32.to_ne_bytes(), 2, Some(Arc::new(me.clone())), 0)
        .unwrap();
    assert_eq!(run_pt(&me, &progtype::XDP, &set).unwrap().r0, 7);
    let mut v = [0u8; 8];
    set.get(1)
        .unwrap()
        .lookup(&0u32.to_ne_bytes(), &mut v, 0)
        .unwrap();
    assert_eq!(u64::from_ne_bytes(v), 34, "the first run and 33 tail calls");
}

#[test]
fn xdp_adjust_moves_the_packet_and_its_pointers() {
    let set = maps(&[]);
    // Grow the head by 4, write a marker through the new data pointer,
    // return the new length.
    let asm = "r6 = r1\nr2 = -4\ncall bpf_xdp_adjust_head\nif r0 != 0 goto out\nr2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr1 = r2\nr1 += 1\nif r1 > r3 goto out\nr1 = 0xee\n*(u8 *)(r2 +0) = r1\nr0 = r3\nr0 -= r2\nout:\nexit\n";
    let out = run_pt(&vm(asm, &set), &progtype::XDP, &set).unwrap();
    assert_eq!(out.r0, 68);
    assert_eq!(out.data_out.len(), 68);
    assert_eq!(&out.data_out[..5], &[0xee, 0, 0, 0, 0]);
    // A packet handed as a plain slice has no headroom: growing fails,
    // shrinking moves `data` and the region with it.
    let vm1 = vm(asm, &set);
    let mut ctx = vec![0u8; 24];
    let mut pkt = vec![0u8; 64];
    assert_eq!(
        vm1.run_ctx(&progtype::XDP, &mut ctx, Some(&mut pkt), None)
            .unwrap() as i64,
        -22
    );
    let shrink = "r6 = r1\nr2 = 10\ncall bpf_xdp_adjust_head\nr1 = r6\nr2 = -10\ncall bpf_xdp_adjust_head\nr1 = r6\nr2 = 10\ncall bpf_xdp_adjust_head\n\
                  r2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr0 = r3\nr0 -= r2\nif r0 != 54 goto +1\nr1 = *(u8 *)(r2 -1)\nexit\n";
    let err = vm(shrink, &set)
        .run_ctx(&progtype::XDP, &mut ctx, Some(&mut pkt), None)
        .unwrap_err();
    assert!(
        matches!(err, VmError::MemoryFault { pc: 14, .. }),
        "54 bytes left, and the byte before the new start is no longer the packet's: {err}"
    );
    // Tail and metadata.
    let tail = "r6 = r1\nr2 = 36\ncall bpf_xdp_adjust_tail\nr7 = r0\nr1 = r6\nr2 = -8\ncall bpf_xdp_adjust_meta\nr7 <<= 8\nr7 |= r0\n\
                r2 = *(u32 *)(r6 +8)\nr3 = *(u32 *)(r6 +0)\nr1 = r2\nr1 += 8\nif r1 > r3 goto +2\nr1 = 0x5a5a5a5a5a5a5a5a ll\n*(u64 *)(r2 +0) = r1\nr0 = r7\nexit\n";
    let out = run_pt(&vm(tail, &set), &progtype::XDP, &set).unwrap();
    assert_eq!(out.r0, 0);
    assert_eq!(
        out.data_out.len(),
        8 + 100,
        "metadata first, then the grown packet"
    );
    assert_eq!(&out.data_out[..8], &[0x5a; 8]);
    assert_eq!(&out.data_out[72..], &[0u8; 36], "grown bytes are zeroed");
    assert_eq!(
        run_pt(
            &vm("r2 = -3\ncall bpf_xdp_adjust_meta\nexit\n", &set),
            &progtype::XDP,
            &set
        )
        .unwrap()
        .r0 as i64,
        -13,
        "metadata in words only: -EACCES"
    );
}

#[test]
fn spin_locks_in_map_values() {
    let set = maps(&[(2, 4, 16, 1)]);
    let asm = "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +9\nr6 = r0\nr1 = r6\ncall bpf_spin_lock\n\
               r1 = *(u64 *)(r6 +8)\nr1 += 5\n*(u64 *)(r6 +8) = r1\nr1 = r6\ncall bpf_spin_unlock\nr0 = *(u64 *)(r6 +8)\nexit\n";
    assert_eq!(run(asm, &set), 5);
    assert_eq!(run(asm, &set), 10, "unlocked after the first run");
    // Taking a lock twice would never return: refused.
    let asm = "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +5\nr6 = r0\nr1 = r6\ncall bpf_spin_lock\nr1 = r6\ncall bpf_spin_lock\nexit\n";
    let err = run_pt(&vm(asm, &set), &progtype::XDP, &set).unwrap_err();
    assert!(err.to_string().contains("already held"), "{err}");
}

#[test]
fn trace_vprintk_and_namespaced_ids() {
    let env = Arc::new(HelperEnv::host());
    let helpers = HelperRegistry::standard_with(env.clone());
    let set = maps(&[]);
    let mut asm = String::new();
    for (i, c) in b"a=%d b=%s c=%c d=%x\0".chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        asm += &format!(
            "r1 = {:#x} ll\n*(u64 *)(r10 {}) = r1\n",
            u64::from_le_bytes(w),
            -32 + 8 * i as i32
        );
    }
    asm += "r1 = 0x6968 ll\n*(u64 *)(r10 -40) = r1\n*(u64 *)(r10 -72) = -1\nr1 = r10\nr1 += -40\n*(u64 *)(r10 -64) = r1\n*(u64 *)(r10 -56) = 122\n*(u64 *)(r10 -48) = 255\n\
            r1 = r10\nr1 += -32\nr2 = 21\nr3 = r10\nr3 += -72\nr4 = 32\ncall bpf_trace_vprintk\nexit\n";
    let r0 = run_pt(
        &vm_with(&asm, &set, &helpers, Options::default()),
        &progtype::XDP,
        &set,
    )
    .unwrap()
    .r0;
    assert_eq!(
        env.trace().messages(),
        vec!["a=-1 b=hi c=z d=ff".to_string()]
    );
    assert_eq!(r0, 18);
    let line = env.trace().take()[0].trace_pipe_line();
    assert!(
        line.contains("bpf_trace_printk: a=-1 b=hi c=z d=ff"),
        "{line}"
    );
    // bpf_get_ns_current_pid_tgid: the pid namespace named by dev/ino.
    env.set_task(Some(TaskInfo {
        pid: 12,
        tgid: 10,
        uid: 0,
        gid: 0,
        comm: b"t".to_vec(),
        cgroup_id: 0,
        pidns: (4, 0xeffffffc),
    }));
    let asm = |dev: u64, ino: u64| {
        format!("*(u64 *)(r10 -8) = -1\nr1 = {dev}\nr2 = {ino:#x} ll\nr3 = r10\nr3 += -8\nr4 = 8\ncall bpf_get_ns_current_pid_tgid\nr1 = *(u64 *)(r10 -8)\nr0 += r1\nexit\n")
    };
    let kprobe = |src: &str| {
        let vm = vm_with(src, &set, &helpers, Options::default());
        let mut ctx = vec![0u8; 168];
        vm.run_ctx(&progtype::KPROBE, &mut ctx, None, None).unwrap()
    };
    assert_eq!(
        kprobe(&asm(4, 0xeffffffc)),
        10 << 32 | 12,
        "pid 12 in tgid 10"
    );
    assert_eq!(
        kprobe(&asm(5, 0xeffffffc)) as i64,
        -22,
        "another namespace: -EINVAL, zeroed"
    );
    assert_eq!(kprobe("r1 = r1\ncall bpf_get_attach_cookie\nexit\n"), 0);
}

#[test]
fn the_cpu_slot_and_perf_output_with_packet_bytes() {
    let set = maps(&[(4, 4, 4, 8)]);
    let helpers = HelperRegistry::standard();
    let opts = Options {
        cpu: 3,
        ..Options::default()
    };
    let vm3 = vm_with(
        "call bpf_get_smp_processor_id\nexit\n",
        &set,
        &helpers,
        opts,
    );
    let mut ctx = vec![0u8; 24];
    let mut pkt = vec![0u8; 16];
    assert_eq!(
        vm3.run_ctx(&progtype::XDP, &mut ctx, Some(&mut pkt), None)
            .unwrap(),
        3
    );
    // Opened slot 3 gets the record: 8 data bytes and the packet's first 4
    // (BPF_F_CTXLEN_MASK), from CPU 3 (BPF_F_CURRENT_CPU).
    let perf = set.get(0).unwrap();
    let pa = perf
        .as_any()
        .downcast_ref::<ironbpf_maps::PerfEventArray>()
        .unwrap();
    pa.open(3, 33).unwrap();
    let asm = "*(u64 *)(r10 -8) = 77\nr2 = map[idx:0]\nr3 = 0x4ffffffff ll\nr4 = r10\nr4 += -8\nr5 = 8\ncall bpf_perf_event_output\nexit\n";
    let vm = vm_with(asm, &set, &helpers, opts);
    let run = TestRun {
        cpu: 3,
        ..TestRun::packet(&[9u8; 20])
    };
    let out = testrun::run(&vm, &progtype::XDP, &run, Some(&MapResolver(set.clone()))).unwrap();
    assert_eq!(out.r0, 0);
    let recs = pa.read();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].index, 3);
    let mut want = 77u64.to_ne_bytes().to_vec();
    want.extend_from_slice(&[9; 4]);
    assert_eq!(recs[0].data, want);
}

#[test]
fn skb_change_tail_and_head_resize_the_packet() {
    let set = maps(&[]);
    // Grow the tail to 100 bytes, push 14 bytes of head: skb->len follows,
    // the new bytes are zeroes, the old ones shift.
    let asm = "r6 = r1\nr2 = 100\nr3 = 0\ncall bpf_skb_change_tail\nr7 = r0\nr1 = r6\nr2 = 14\nr3 = 0\ncall bpf_skb_change_head\nr7 |= r0\n\
               r0 = *(u32 *)(r6 +0)\nr7 <<= 32\nr0 |= r7\nexit\n";
    let out = run_pt(&vm(asm, &set), &progtype::SCHED_CLS, &set).unwrap();
    assert_eq!(out.r0, 114, "both succeed; len 14 + 100");
    assert_eq!(out.data_out.len(), 114);
    assert_eq!(&out.data_out[..14], &[0u8; 14]);
    assert_eq!(
        out.data_out[14 + 12],
        0x08,
        "the old Ethernet header follows"
    );
    assert_eq!(&out.data_out[14 + 64..], &[0u8; 36]);
    // Below the network header, or flags: -EINVAL.
    let asm = "r2 = 13\nr3 = 0\ncall bpf_skb_change_tail\nexit\n";
    assert_eq!(
        run_pt(&vm(asm, &set), &progtype::SCHED_CLS, &set)
            .unwrap()
            .r0 as i64,
        -22
    );
    let asm = "r2 = 1\nr3 = 1\ncall bpf_skb_change_head\nexit\n";
    assert_eq!(
        run_pt(&vm(asm, &set), &progtype::SCHED_CLS, &set)
            .unwrap()
            .r0 as i64,
        -22
    );
}

#[test]
fn a_program_type_gets_the_kernels_helpers_for_it() {
    let prog = assemble_program("r2 = 0\ncall bpf_xdp_adjust_head\nexit\n").unwrap();
    let helpers = HelperRegistry::standard().for_prog_type(progtype::SCHED_CLS.kernel_id());
    let err = Interpreter::new(&prog, &helpers, Options::default())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "insn 1: program of type sched_cls cannot use helper bpf_xdp_adjust_head#44 (the kernel's verifier refuses it too)"
    );
    let xdp = HelperRegistry::standard().for_prog_type(progtype::XDP.kernel_id());
    assert!(Interpreter::new(&prog, &xdp, Options::default()).is_ok());
}

#[test]
fn vlan_tags_carried_and_in_the_frame() {
    let set = maps(&[]);
    // Push tag 5 (carried with the skb), then tag 7: 5 moves into the frame.
    let asm = "r6 = r1\nr2 = 0x0081\nr3 = 5\ncall bpf_skb_vlan_push\nr1 = r6\nr2 = 0x0081\nr3 = 7\ncall bpf_skb_vlan_push\n\
               r0 = *(u32 *)(r6 +24)\nr1 = *(u32 *)(r6 +20)\nr0 <<= 8\nr0 |= r1\nexit\n";
    let out = run_pt(&vm(asm, &set), &progtype::SCHED_CLS, &set).unwrap();
    assert_eq!(out.r0, 7 << 8 | 1, "tag 7 is carried");
    assert_eq!(out.data_out.len(), 68);
    assert_eq!(&out.data_out[12..18], &[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
    // Pop: the carried tag goes, then the frame's becomes the carried one.
    let asm = "r6 = r1\nr2 = 0x0081\nr3 = 5\ncall bpf_skb_vlan_push\nr1 = r6\nr2 = 0x0081\nr3 = 7\ncall bpf_skb_vlan_push\n\
               r1 = r6\ncall bpf_skb_vlan_pop\nr0 = *(u32 *)(r6 +24)\nexit\n";
    let out = run_pt(&vm(asm, &set), &progtype::SCHED_CLS, &set).unwrap();
    assert_eq!(out.r0, 5);
    assert_eq!(out.data_out.len(), 64, "the frame is untagged again");
}

#[test]
fn maps_of_maps_give_their_inner_maps() {
    // Map 0: an array of maps; map 1: the inner array, stored in slot 2 by
    // its id in the set.
    let set = Arc::new(MapSet::new());
    let mut outer = MapSpec::new(12, 4, 4, 4);
    outer.inner = Some(Box::new(MapSpec::new(2, 4, 8, 1)));
    set.create(&outer).unwrap();
    let (inner_id, inner) = set.create(&MapSpec::new(2, 4, 8, 1)).unwrap();
    inner
        .update(&0u32.to_ne_bytes(), &77u64.to_ne_bytes(), 0)
        .unwrap();
    set.get(0)
        .unwrap()
        .update(&2u32.to_ne_bytes(), &inner_id.to_ne_bytes(), 0)
        .unwrap();
    let lookup = |slot: u32| {
        format!(
            "*(u32 *)(r10 -4) = {slot}\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +5\n\
             *(u32 *)(r10 -8) = 0\nr1 = r0\nr2 = r10\nr2 += -8\ncall bpf_map_lookup_elem\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nexit\n"
        )
    };
    assert_eq!(run(&lookup(2), &set), 77, "through the inner map");
    assert_eq!(run(&lookup(1), &set), 0, "an empty slot is NULL");
}

/// The helpers Cilium's programs call, through the interpreter (their
/// kernel differential tests are in conformance/tests/helpers_cilium.rs).
#[test]
fn cilium_helpers_run_in_the_interpreter() {
    let world = ironbpf_helpers::World::from_json(
        r#"{"interfaces": [{"ifindex": 2, "mac": "02:00:00:00:00:01", "forwarding": true,
                            "addresses": ["10.1.0.1/24"]}],
            "neighbours": [{"ip": "10.1.0.2", "dev": 2, "mac": "02:00:00:00:00:02"}],
            "sockets": [{"protocol": "tcp", "state": "listen", "local": "0.0.0.0:80"},
                        {"protocol": "udp", "state": "listen", "local": "10.1.0.1:53"}]}"#,
    )
    .unwrap();
    let env = Arc::new(HelperEnv::host());
    env.set_world(world);
    let helpers = HelperRegistry::standard_with(env);
    let none = maps(&[]);
    let tc = |asm: &str| {
        run_pt(
            &vm_with(asm, &none, &helpers, Options::default()),
            &progtype::SCHED_CLS,
            &none,
        )
        .unwrap_or_else(|e| panic!("{e}\n{asm}"))
    };
    // change_type writes skb->pkt_type; 4 is past PACKET_OTHERHOST.
    let r = tc("r6 = r1\nr2 = 3\ncall bpf_skb_change_type\nr0 = *(u32 *)(r6 +4)\nexit\n");
    assert_eq!(r.r0, 3);
    assert_eq!(
        tc("r2 = 4\ncall bpf_skb_change_type\nexit\n").r0 as i64,
        -22
    );
    // change_proto to IPv6 makes 20 bytes of room after the MAC header.
    let r = tc("r2 = 0xdd86\nr3 = 0\ncall bpf_skb_change_proto\nexit\n");
    assert_eq!(r.r0, 0);
    assert_eq!(r.data_out.len(), 84);
    assert_eq!(&r.data_out[14..34], &[0; 20]);
    assert_eq!(r.data_out[34], 0, "the old IPv4 header follows the room");
    // adjust_room shrinks at the network header.
    let r = tc("r2 = -8\nr3 = 0\nr4 = 0\ncall bpf_skb_adjust_room\nexit\n");
    assert_eq!((r.r0, r.data_out.len()), (0, 56));
    // A tunnel key set is read back, its local end as the remote one.
    let r = tc(
        "r6 = r1\n*(u64 *)(r10 -48) = 7\n*(u64 *)(r10 -40) = 0\n*(u64 *)(r10 -32) = 0\n\
                *(u64 *)(r10 -24) = 0\n*(u64 *)(r10 -16) = 0\n*(u32 *)(r10 -8) = 0\n\
                *(u32 *)(r10 -20) = 0x0a000002\n\
                r1 = r6\nr2 = r10\nr2 += -48\nr3 = 44\nr4 = 0\ncall bpf_skb_set_tunnel_key\n\
                r1 = r6\nr2 = r10\nr2 += -48\nr3 = 44\nr4 = 0\ncall bpf_skb_get_tunnel_key\n\
                r1 = *(u32 *)(r10 -44)\nr0 <<= 32\nr0 |= r1\nexit\n",
    );
    assert_eq!(r.r0, 0x0a00_0002);
    assert!(r.state.tunnel.is_some());
    // Tunnel options ride on that key: 8 bytes set, 8 read back.
    let r = tc(
        "r6 = r1\n*(u64 *)(r10 -48) = 0\n*(u64 *)(r10 -40) = 0\n*(u64 *)(r10 -32) = 0\n\
                *(u64 *)(r10 -24) = 0\n*(u64 *)(r10 -16) = 0\n*(u32 *)(r10 -8) = 0\n\
                r1 = r6\nr2 = r10\nr2 += -48\nr3 = 44\nr4 = 0\ncall bpf_skb_set_tunnel_key\n\
                r1 = 0x0102030405060708 ll\n*(u64 *)(r10 -64) = r1\n\
                r1 = r6\nr2 = r10\nr2 += -64\nr3 = 8\ncall bpf_skb_set_tunnel_opt\n\
                *(u64 *)(r10 -64) = 0\n\
                r1 = r6\nr2 = r10\nr2 += -64\nr3 = 8\ncall bpf_skb_get_tunnel_opt\n\
                r1 = *(u64 *)(r10 -64)\nr0 += r1\nexit\n",
    );
    assert_eq!(
        r.r0,
        0x0102_0304_0506_0708 + 8,
        "the options and their length"
    );
    // redirect_neigh records the redirect.
    let r = tc("r1 = 2\nr2 = 0\nr3 = 0\nr4 = 0\ncall bpf_redirect_neigh\nexit\n");
    assert_eq!(r.r0, 7);
    assert_eq!(
        r.state.redirect,
        Some(ironbpf_helpers::Redirect::Neigh {
            ifindex: 2,
            nexthop: None
        })
    );
    // fib_lookup answers from the world: 10.1.0.2 on eth0, its MAC.
    let r = tc(
        "r6 = r1\n*(u64 *)(r10 -64) = 2\n*(u64 *)(r10 -56) = 2\n*(u64 *)(r10 -48) = 0\n\
                *(u64 *)(r10 -40) = 0\n*(u64 *)(r10 -32) = 0x0200010a\n*(u64 *)(r10 -24) = 0\n\
                *(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -8) = 0\n\
                r1 = r6\nr2 = r10\nr2 += -64\nr3 = 64\nr4 = 0\ncall bpf_fib_lookup\n\
                r1 = *(u8 *)(r10 -1)\nr0 <<= 8\nr0 |= r1\nexit\n",
    );
    assert_eq!(r.r0, 0x02, "SUCCESS, and dmac's last byte is 2");
    // The socket lookups find the world's listener and bound socket; a
    // found socket reads as a struct bpf_sock and is released.
    for (call, port, state) in [
        ("bpf_sk_lookup_tcp", 80u16, 10u64),
        ("bpf_skc_lookup_tcp", 80, 10),
        ("bpf_sk_lookup_udp", 53, 7),
    ] {
        let tuple = u64::from_le_bytes([10, 9, 9, 9, 10, 1, 0, 1]);
        let ports = u32::from_le_bytes([0x30, 0x39, (port >> 8) as u8, port as u8]);
        let r = tc(&format!(
            "r6 = r1\nr1 = {tuple:#x} ll\n*(u64 *)(r10 -16) = r1\n*(u32 *)(r10 -8) = {ports:#x}\n\
             r1 = r6\nr2 = r10\nr2 += -16\nr3 = 12\nr4 = -1\nr5 = 0\ncall {call}\n\
             if r0 == 0 goto +4\nr6 = *(u32 *)(r0 +72)\nr1 = r0\ncall bpf_sk_release\nr0 = r6\nexit\n"
        ));
        assert_eq!(r.r0, state, "{call}");
        assert!(r.state.sockets_held.is_empty(), "{call}: released");
    }
}

#[test]
fn clone_redirect_sends_a_copy_and_keeps_the_packet() {
    let set = maps(&[]);
    // The default world: lo (ifindex 1), up. (conformance/tests/clone_redirect.rs
    // compares these answers with the kernel's.)
    for (ifindex, flags, want) in [(1, 0, 0i64), (1, 1, 0), (1, 2, -22), (9, 0, -22)] {
        let asm = format!("r2 = {ifindex}\nr3 = {flags}\ncall bpf_clone_redirect\nexit\n");
        let out = run_pt(&vm(&asm, &set), &progtype::SCHED_CLS, &set).unwrap();
        assert_eq!(out.r0 as i64, want, "ifindex {ifindex} flags {flags}");
        assert_eq!(out.data_out.len(), 64, "the original goes on unchanged");
    }
}

#[test]
fn dynptr_helpers_over_a_map_value_and_a_ring_buffer_record() {
    // helpers/src/dynptr.rs. Map 0: an array of one 64-byte value (a local
    // dynptr's memory); map 1: a ring buffer. A word written at offset 8
    // through the dynptr reads back through it and through its slice;
    // records reserved as dynptrs are submitted and discarded.
    let m = maps(&[(2, 4, 64, 1), (27, 0, 0, 4096)]);
    let asm = "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\n\
               if r0 == 0 goto fail\n\
               r1 = r0\nr2 = 64\nr3 = 0\nr4 = r10\nr4 += -24\ncall bpf_dynptr_from_mem\n\
               r1 = 0x1122334455667788 ll\n*(u64 *)(r10 -32) = r1\n\
               r1 = r10\nr1 += -24\nr2 = 8\nr3 = r10\nr3 += -32\nr4 = 8\nr5 = 0\ncall bpf_dynptr_write\n\
               r1 = r10\nr1 += -40\nr2 = 8\nr3 = r10\nr3 += -24\nr4 = 8\nr5 = 0\ncall bpf_dynptr_read\n\
               r6 = *(u64 *)(r10 -40)\n\
               r1 = r10\nr1 += -24\nr2 = 8\nr3 = 1\ncall bpf_dynptr_data\n\
               if r0 == 0 goto fail\nr7 = *(u8 *)(r0 +0)\n\
               r1 = map[idx:1]\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += -56\ncall bpf_ringbuf_reserve_dynptr\n\
               r1 = r10\nr1 += -56\nr2 = 0\ncall bpf_ringbuf_submit_dynptr\n\
               r1 = map[idx:1]\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += -56\ncall bpf_ringbuf_reserve_dynptr\n\
               r1 = r10\nr1 += -56\nr2 = 0\ncall bpf_ringbuf_discard_dynptr\n\
               r0 = r6\nr0 += r7\nexit\n\
               fail:\nr0 = 1\nexit\n";
    assert_eq!(run(asm, &m), 0x1122_3344_5566_7788 + 0x88);
}
