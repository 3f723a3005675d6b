//! Linux 6.18's stack liveness (which slots a remembered state still
//! needs), checked against the running kernel: small programs of our own,
//! verified at log level 2 by both, must give the same log, its
//! `(0) frame 0 insn N +live -8` / `+written` lines and its pruning
//! (`safe`) included, and the same processed-instruction count.
//!
//! Skips with a `skipped:` line where bpf(2) cannot be used (fails instead
//! under IRONBPF_REQUIRE_KERNEL=1).

mod kernel_case;

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, MapInfo, VerifyOptions};

/// `BPF_MAP_TYPE_PROG_ARRAY`.
const PROG_ARRAY: u32 = 3;

/// Verifies `text` (a sched_cls program; `map[idx:0]` is a prog array) in
/// both and compares the level-2 logs line by line.
fn check(name: &str, text: &str) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let km = KernelMap::create(&MapCreate::new(PROG_ARRAY, 4, 4, 4))
        .unwrap_or_else(|e| panic!("{name}: map: {e}"));
    let k = load_program(&ProgLoad {
        prog_type: ProgTypeId::SchedCls.kernel_id(),
        insns: &words,
        name: "stack_live",
        log_level: 2,
        fd_array: &[km.raw_fd()],
        ..Default::default()
    });
    let mut o = VerifyOptions::new(ProgTypeId::SchedCls);
    o.log_level = 2;
    o.maps = vec![MapInfo {
        name: "m".into(),
        map_type: PROG_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        map_flags: 0,
        frozen_readonly: false,
        record: Default::default(),
    }];
    let ours = verify(&insns, &o);
    assert!(k.accepted(), "{name}: the kernel refused it:\n{}", k.log);
    assert!(
        ours.result.is_ok(),
        "{name}: ironbpf refused it:\n{}",
        ours.log
    );
    kernel_case::assert_same_log(name, &k.log, &ours.log);
}

/// Two paths leave different strings in slots that nothing reads after
/// the join: the second path is pruned there, as in the kernel.
#[test]
fn a_dead_slot_does_not_keep_a_state_apart() {
    check(
        "dead slot",
        "r6 = r1
        call bpf_get_prandom_u32
        if r0 > 5 goto +3
        r1 = 1
        *(u64 *)(r10 -16) = r1
        goto +2
        r1 = 2
        *(u64 *)(r10 -16) = r1
        r1 = 0
        *(u64 *)(r10 -8) = r1
        r0 = *(u64 *)(r10 -8)
        exit",
    );
}

/// A slot read after the join keeps the two states apart.
#[test]
fn a_live_slot_keeps_states_apart() {
    check(
        "live slot",
        "r6 = r1
        call bpf_get_prandom_u32
        if r0 > 5 goto +3
        r1 = 1
        *(u64 *)(r10 -16) = r1
        goto +2
        r1 = 2
        *(u64 *)(r10 -16) = r1
        r0 = *(u64 *)(r10 -16)
        exit",
    );
}

/// Slots written and read around `leave`, an instruction that may end the
/// program instead of going on.
fn around_a_way_out(leave: &str) -> String {
    format!(
        "r6 = r1
        r1 = 0
        *(u64 *)(r10 -16) = r1
        *(u64 *)(r10 -24) = r1
        call bpf_get_prandom_u32
        if r0 > 5 goto +1
        r1 = r6
        r1 = r6
        {leave}
        r1 = 0
        *(u64 *)(r10 -8) = r1
        r0 = *(u64 *)(r10 -16)
        exit"
    )
}

/// What is written after a tail call is not written on every path from
/// before it (the tail call may leave the program): its `+written` marks
/// stop there, while reads after it stay live before it.
#[test]
fn a_tail_call_stops_the_written_marks() {
    check(
        "tail call",
        &around_a_way_out("r2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call"),
    );
}

/// `LD_ABS` may leave the program too.
#[test]
fn ld_abs_stops_the_written_marks() {
    check("ld_abs", &around_a_way_out("r0 = *(u8 *)skb[0]"));
}

/// A helper reads only the bytes it is given: the string a
/// `bpf_trace_printk` printed is dead after it, and a later path with
/// another string is pruned.
#[test]
fn a_printed_string_is_dead_after_the_print() {
    check(
        "trace_printk",
        "r6 = r1
        call bpf_get_prandom_u32
        r1 = 0x6c6c6568
        if r0 > 5 goto +1
        r1 = 0x6c726f77
        *(u64 *)(r10 -8) = r1
        r1 = r10
        r1 += -8
        r2 = 8
        call bpf_trace_printk
        r1 = 0
        *(u64 *)(r10 -16) = r1
        r0 = *(u64 *)(r10 -16)
        exit",
    );
}
