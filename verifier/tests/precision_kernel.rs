//! Precision tracking across frames and through the stack, checked against
//! the running kernel: small programs of our own, verified at log level 2
//! by both, must give the same log (its `mark_precise:` walk included)
//! and the same processed-instruction count. Each is a case ironbpf once
//! got wrong on a real program: it forced every scalar precise where the
//! walk crossed a subprogram's exit (Katran's balancer_ingress, 2.2x the
//! kernel's instructions), marked every scalar for a constant map key,
//! and followed a narrow fill into its slot where the kernel does not.
//!
//! Skips with a `skipped:` line where bpf(2) cannot be used (fails instead
//! under IRONBPF_REQUIRE_KERNEL=1).

mod kernel_case;

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use kernel_case::{assert_same_log, create_maps, Map};

/// An array of 4 u64 values: map[idx:0].
const ARRAY: Map = Map {
    map_type: 2,
    key_size: 4,
    value_size: 8,
    max_entries: 4,
    map_flags: 0,
    frozen: None,
};

/// Verifies `text` (a sched_cls program; `map[idx:0]` is [`ARRAY`]) in
/// both at log level 2 and compares the logs and the processed counts.
fn check(name: &str, text: &str) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let mut o = VerifyOptions::new(ProgTypeId::SchedCls);
    o.log_level = 2;
    let kmaps = create_maps(name, &[ARRAY], &mut o);
    o.maps[0].name = "m".into();
    let fds: Vec<i32> = kmaps.iter().map(|m| m.raw_fd()).collect();
    let k = load_program(&ProgLoad {
        prog_type: ProgTypeId::SchedCls.kernel_id(),
        insns: &words,
        name: "precision",
        log_level: 2,
        fd_array: &fds,
        ..Default::default()
    });
    let ours = verify(&insns, &o);
    assert!(k.accepted(), "{name}: the kernel refused it:\n{}", k.log);
    assert!(
        ours.result.is_ok(),
        "{name}: ironbpf refused it:\n{}",
        ours.log
    );
    assert!(
        ours.log.contains("mark_precise: "),
        "{name}: nothing was backtracked:\n{}",
        ours.log
    );
    assert_same_log(name, &k.log, &ours.log);
}

/// A subprogram's return value offsets a stack pointer: the walk goes
/// back through the callee's exit into its frame, to the constants of its
/// two paths, and the second path's return is pruned against the first
/// only where the value is the same.
#[test]
fn the_walk_follows_a_return_value_into_the_callee() {
    check(
        "return value",
        "r6 = r1
        r1 = 0
        *(u64 *)(r10 -8) = r1
        *(u64 *)(r10 -16) = r1
        r1 = r6
        call sub
        r1 = r10
        r1 += -16
        r1 += r0
        r0 = *(u64 *)(r1 +0)
        exit
        sub: r2 = *(u32 *)(r1 +0)
        r0 = 0
        if r2 > 100 goto +1
        r0 = 8
        exit",
    );
}

/// An argument a subprogram uses as an offset: the walk leaves the callee
/// at its entry and carries r1 on into the caller.
#[test]
fn the_walk_follows_an_argument_out_of_the_callee() {
    check(
        "argument",
        "r6 = r1
        r2 = *(u32 *)(r6 +0)
        r1 = 0
        if r2 > 7 goto +1
        r1 = 8
        call sub
        exit
        sub: r2 = 0
        *(u64 *)(r10 -8) = r2
        *(u64 *)(r10 -16) = r2
        r2 = r10
        r2 += -16
        r2 += r1
        r0 = *(u64 *)(r2 +0)
        exit",
    );
}

/// A constant key of an array lookup: only its slot and what stored it
/// are made precise (`get_constant_map_key`), not every scalar.
#[test]
fn a_constant_map_key_marks_its_own_slot() {
    check(
        "constant key",
        "r6 = r1
        r7 = *(u32 *)(r6 +0)
        r1 = 2
        *(u32 *)(r10 -8) = r1
        *(u64 *)(r10 -16) = r7
        r2 = r10
        r2 += -8
        r1 = map[idx:0]
        call bpf_map_lookup_elem
        r1 = *(u64 *)(r0 +0)
        r0 = 0
        exit",
    );
}

/// A one-byte load from the upper half of a slot holding a spilled u32:
/// a fresh value, which the walk does not follow into the slot; one from
/// its lowest byte restores part of the spill, which it does.
#[test]
fn a_narrow_fill_is_followed_into_its_slot_only_from_its_lowest_byte() {
    check(
        "narrow fill",
        "r6 = r1
        r1 = 3
        *(u64 *)(r10 -8) = r1
        *(u64 *)(r10 -16) = r1
        r2 = *(u32 *)(r6 +0)
        *(u32 *)(r10 -16) = r2
        r3 = *(u8 *)(r10 -12)
        r3 &= 8
        r4 = r10
        r4 += -16
        r4 += r3
        r0 = *(u8 *)(r4 +0)
        r3 = *(u8 *)(r10 -16)
        r3 &= 7
        r4 = r10
        r4 += -16
        r4 += r3
        r0 = *(u8 *)(r4 +0)
        r0 = 0
        exit",
    );
}

/// A variable-offset read of bytes that are all STACK_ZERO (a misaligned
/// store of 0 makes them so) loads 0 (`mark_reg_stack_read`), and prints
/// the slots it scratched.
#[test]
fn a_variable_offset_read_of_zeroes_loads_zero() {
    check(
        "zero read",
        "r6 = r1
        *(u64 *)(r10 -16) = 0
        *(u32 *)(r10 -12) = 0
        r2 = *(u32 *)(r6 +0)
        r2 &= 3
        r3 = r10
        r3 += -12
        r3 += r2
        r0 = *(u8 *)(r3 +0)
        r3 += r0
        r0 = *(u8 *)(r3 +0)
        exit",
    );
}
