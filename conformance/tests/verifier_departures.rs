//! Where the kernel's verifier departs from the ISA (see
//! docs/kernel-departures.md): each case is kept so that a change in the
//! kernel shows, and so that ironbpf does not copy the fault. Skips with a
//! `skipped:` line where bpf(2) cannot be used (fails instead under
//! IRONBPF_REQUIRE_KERNEL=1).

use ironbpf_conformance::diff::{compare, DiffVerdict, InterpXdp};
use ironbpf_conformance::gen::{generate, DIFF_MAPS, DIFF_VALUE_SIZE};
use ironbpf_conformance::kernel::KernelXdp;
use ironbpf_conformance::soundness::{gen_verify_options, violation_of};
use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad, BPF_LOG_STATS};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::verify;

/// The atomic-fetch case of issue 10: `ironbpf diff --random 1000000 --seed
/// 20261202` once disagreed at seed 21232152. Linux 6.18 pruned a path at
/// `r5 = atomic_fetch_and((u32 *)(r10 -8), r5)` against a state where the
/// slot held the spilled constant 19 (`fp-8=mmmmP19`): precision was not
/// carried back from r5 through the fetch to the stack slot, so a path
/// where the slot held 0 was taken for one where it held 19, the branch on
/// r5 that follows was judged always taken, and the packet store after it
/// was treated as dead (and removed) though it runs. The build this
/// machine runs (6.18.44, checked 2026-12-02) carries the precision back:
/// its level-2 log walks `regs=r5` to `stack=-8` at the fetch, and seed
/// 21232152 runs the same in the kernel and in ironbpf. The test pins that;
/// should the departure come back, it says so.
#[test]
fn the_kernel_carries_precision_back_through_an_atomic_fetch_from_the_stack() {
    let name = "the_kernel_carries_precision_back_through_an_atomic_fetch_from_the_stack";
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let case = generate(21232152);
    let slots: Vec<_> = case.insns.iter().flat_map(|i| i.encode()).collect();
    let maps: Vec<KernelMap> = DIFF_MAPS
        .iter()
        .map(|&(t, m)| KernelMap::create(&MapCreate::new(t, 4, DIFF_VALUE_SIZE as u32, m)).unwrap())
        .collect();
    let fds: Vec<i32> = maps.iter().map(|m| m.raw_fd()).collect();
    let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
    let load = load_program(&ProgLoad {
        prog_type: ProgTypeId::Xdp.kernel_id(),
        insns: &words,
        name: "departure",
        log_level: 2 | BPF_LOG_STATS,
        fd_array: &fds,
        ..Default::default()
    });
    assert!(
        load.result.is_ok(),
        "the kernel refuses seed 21232152: {:?}",
        load.first_error_line
    );
    let lines: Vec<&str> = load.log.lines().collect();
    let fetch = "regs=r5 stack= before 82: (c3) r5 = atomic_fetch_and((u32 *)(r10 -8), r5)";
    let at = lines
        .iter()
        .position(|l| l.ends_with(fetch))
        .expect("the kernel's log backtracks r5 through the atomic fetch at insn 82");
    assert!(
        lines[at + 1].contains("regs= stack=-8 before 81:"),
        "the kernel no longer carries precision from r5 back to the stack slot it was fetched from (the departure of issue 10 is back, see docs/kernel-departures.md): {}",
        lines[at + 1]
    );
    let kernel = KernelXdp::new().unwrap();
    match compare(&InterpXdp, &kernel, &case) {
        DiffVerdict::Agreed => {}
        other => panic!("seed 21232152 runs differently in the kernel again: {other:?}"),
    }
    // ironbpf accepts it too, and it runs clean on random inputs.
    let ours = verify(&slots, &gen_verify_options(0));
    assert!(ours.result.is_ok(), "{:?}", ours.result.err());
}

/// The departure's pattern, small: a 32-bit constant spilled to the stack
/// (19 on the path walked first, 0 on the other, which a test run takes:
/// its `rx_queue_index` is 0), fetched back by an
/// atomic, and a branch on the fetched value that guards an unchecked
/// packet store. On the 0 path the store runs, so the program is unsafe:
/// both verifiers must refuse it there, which needs the 19 path's state to
/// hold the slot as precise. ironbpf's checked interpreter confirms the
/// store runs out of the packet.
#[test]
fn an_atomic_fetch_of_a_spilled_constant_keeps_the_slot_precise() {
    let name = "an_atomic_fetch_of_a_spilled_constant_keeps_the_slot_precise";
    let text = "r6 = r1
r2 = *(u32 *)(r6 +0)
r7 = r2
r0 = *(u32 *)(r6 +16)
r1 = 0
if r0 == 0 goto +1
r1 = 19
*(u32 *)(r10 -8) = r1
r5 = 255
r5 = atomic_fetch_and((u32 *)(r10 -8), r5)
if r5 & 0x9 goto +1
*(u8 *)(r7 +4000) = 1
r0 = 2
exit";
    let insns = assemble(text).unwrap();
    let mut opts = ironbpf_verifier::VerifyOptions::new(ProgTypeId::Xdp);
    opts.privileged = true;
    opts.log_level = 1;
    let ours = verify(&insns, &opts);
    let rej = ours
        .result
        .expect_err("ironbpf must refuse the store the 0 path runs");
    assert_eq!(rej.insn, Some(11), "{}", ours.log);
    let v = violation_of(&insns, ProgTypeId::Xdp, &[], 1, 16)
        .unwrap()
        .expect("the store past the packet faults when run");
    assert!(v.input.contains("packet"), "{v}");
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let words: Vec<u64> = insns.iter().map(|s| s.to_u64()).collect();
    let load = load_program(&ProgLoad {
        prog_type: ProgTypeId::Xdp.kernel_id(),
        insns: &words,
        name: "departure",
        log_level: 1,
        ..Default::default()
    });
    assert!(
        load.result.is_err(),
        "the kernel accepts an unchecked packet store behind a branch on an atomic fetch of a spilled constant (the departure of issue 10, see docs/kernel-departures.md):\n{}",
        load.log
    );
    assert_eq!(load.error_insn, Some(11), "{}", load.log);
    assert_eq!(
        load.first_error_line.as_deref(),
        rej.message.lines().last(),
        "{}",
        load.log
    );
}
