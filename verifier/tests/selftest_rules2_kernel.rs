//! Core verifier rules that the kernel's selftest objects showed ironbpf
//! getting wrong (session 9), each as a small program of our own loaded in
//! the running kernel and verified by ironbpf: both must give the same
//! verdict and, where the kernel refuses, the same error line at the same
//! instruction.
//! - a constant string argument (`ARG_PTR_TO_CONST_STR`) is checked in the
//!   frozen read-only map's contents (`check_reg_const_str`);
//! - `rX += const` / `rX -= const` keeps rX linked to its copies with the
//!   constant as a delta, 64- and 32-bit (`BPF_ADD_CONST`);
//! - `dst & K` / `dst | K` with dst in [-1, 0] is explored for each of the
//!   two values (`maybe_fork_scalars`);
//! - a narrow fill of a spilled scalar that fits keeps its link;
//! - the value of a sockmap update is a socket (`resolve_map_arg_type`);
//! - a ctx pointer passed to a helper carries no offset, fixed or variable
//!   (`check_func_arg_reg_off`);
//! - a zero-sized helper access to the stack is bounds-checked too;
//! - a packet pointer found past `pkt_end` decides its next comparison
//!   with it, until it moves (`mark_pkt_end`, `is_pkt_ptr_branch_taken`);
//! - a map pointer reads the kernel's struct of its map
//!   (`check_ptr_to_map_access`);
//! - a tcp iterator program may call bpf_getsockopt on the socket it
//!   visits (`bpf_iter_get_func_proto`);
//! - a writable tracepoint's buffer is read and written at constant
//!   non-negative offsets (`check_tp_buffer_access`).
//!
//! Skips with a `skipped:` line where bpf(2) cannot be used (fails instead
//! under IRONBPF_REQUIRE_KERNEL=1).

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use kernel_case::*;

mod kernel_case;

/// A socket filter `text` with `maps`, checked in the kernel and in
/// ironbpf: `refused` is `None` when both accept, else where both refuse.
fn check(name: &str, text: &str, maps: &[Map], refused: Option<(usize, &str)>) {
    check_as(name, ProgTypeId::SocketFilter, text, maps, refused);
}

/// As [`check`], for a program of type `pt`.
fn check_as(name: &str, pt: ProgTypeId, text: &str, maps: &[Map], refused: Option<(usize, &str)>) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let mut opts = VerifyOptions::new(pt);
    opts.log_level = 1;
    let kmaps = create_maps(name, maps, &mut opts);
    let fds: Vec<i32> = kmaps.iter().map(|m| m.raw_fd()).collect();
    let out = load_program(&ProgLoad {
        prog_type: pt.kernel_id(),
        insns: &words,
        name: "rules2",
        log_level: 1,
        fd_array: &fds,
        ..Default::default()
    });
    let ours = verify(&insns, &opts);
    assert_verdicts(name, &out, &ours, Verdict::at(refused));
}

/// A frozen read-only array of one 8-byte value (a `.rodata`).
fn rodata(bytes: &[u8; 8]) -> Map {
    Map {
        map_type: 2,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        map_flags: BPF_F_RDONLY_PROG,
        frozen: Some(bytes.to_vec()),
    }
}

/// `bpf_strncmp(fp-8, 4, rodata + OFF)`; the call is insn 7.
fn strncmp_rodata(off: u32) -> String {
    format!(
        "r1 = 0\n\
         *(u64 *)(r10 -8) = r1\n\
         r1 = r10\n\
         r1 += -8\n\
         r2 = 4\n\
         r3 = map[idx:0][0]+{off}\n\
         call bpf_strncmp\n\
         r0 = 0\n\
         exit"
    )
}

#[test]
fn a_constant_string_in_frozen_rodata_is_accepted() {
    check(
        "a_constant_string_in_frozen_rodata_is_accepted",
        &strncmp_rodata(0),
        &[rodata(b"abc\0defg")],
        None,
    );
}

#[test]
fn a_constant_string_without_its_nul_is_refused() {
    check(
        "a_constant_string_without_its_nul_is_refused",
        &strncmp_rodata(4),
        &[rodata(b"abc\0defg")],
        Some((7, "string is not zero-terminated")),
    );
}

/// r1 = r0 (in [0, 255]) plus `ADD`; if r1 s>= 0, r0 s> 9 is decided
/// when the link tells r0 >= 10: else the scalar r2 is dereferenced at 7.
fn linked_delta(add: &str, cmp: &str) -> String {
    format!(
        "call bpf_get_prandom_u32\n\
         r0 &= 255\n\
         r1 = r0\n\
         {add}\n\
         if {cmp} s< 0x0 goto +3\n\
         if r0 s> 0x9 goto +2\n\
         r2 = 0\n\
         r0 = *(u64 *)(r2 +0)\n\
         r0 = 0\n\
         exit"
    )
}

#[test]
fn a_negative_delta_links_the_copy_to_its_source() {
    check(
        "a_negative_delta_links_the_copy_to_its_source",
        &linked_delta("r1 += -10", "r1"),
        &[],
        None,
    );
}

#[test]
fn a_subtracted_constant_links_the_copy_to_its_source() {
    check(
        "a_subtracted_constant_links_the_copy_to_its_source",
        &linked_delta("r1 -= 10", "r1"),
        &[],
        None,
    );
}

#[test]
fn a_32bit_subtraction_links_the_copy_to_its_source() {
    check(
        "a_32bit_subtraction_links_the_copy_to_its_source",
        &linked_delta("w1 -= 10", "w1"),
        &[],
        None,
    );
}

#[test]
fn a_delta_one_short_leaves_the_path_reachable() {
    check(
        "a_delta_one_short_leaves_the_path_reachable",
        &linked_delta("r1 += -9", "r1"),
        &[],
        Some((7, "R2 invalid mem access 'scalar'")),
    );
}

/// `r0 s>>= 63` leaves -1 or 0; `r0 |= 2` is then -1 or 2, each decided
/// by a branch when the two values are explored apart.
const ARSH_OR: &str = "call bpf_get_prandom_u32\n\
    r0 s>>= 63\n\
    r0 |= 2\n\
    if r0 == 0x2 goto +3\n\
    if r0 s< 0x0 goto +2\n\
    r2 = 0\n\
    r0 = *(u64 *)(r2 +0)\n\
    r0 = 0\n\
    exit";

#[test]
fn or_after_an_arithmetic_shift_explores_both_values() {
    check(
        "or_after_an_arithmetic_shift_explores_both_values",
        ARSH_OR,
        &[],
        None,
    );
}

#[test]
fn and_after_a_32bit_arithmetic_shift_explores_both_values() {
    // -1 & 6 is 6, 0 & 6 is 0: never 1..5.
    check(
        "and_after_a_32bit_arithmetic_shift_explores_both_values",
        "call bpf_get_prandom_u32\n\
         w0 s>>= 31\n\
         w0 &= 6\n\
         if w0 == 0x0 goto +3\n\
         if w0 == 0x6 goto +2\n\
         r2 = 0\n\
         r0 = *(u64 *)(r2 +0)\n\
         r0 = 0\n\
         exit",
        &[],
        None,
    );
}

/// r0 masked by `MASK`, spilled as 4 bytes, filled back with `FILL` into
/// r1: if r1 == 0 decides r0 == 0 only while the two stay linked.
fn spill_fill(mask: &str, fill: &str) -> String {
    format!(
        "call bpf_get_prandom_u32\n\
         r0 &= {mask}\n\
         *(u32 *)(r10 -8) = r0\n\
         r1 = *({fill} *)(r10 -8)\n\
         if r1 != 0x0 goto +3\n\
         if r0 == 0x0 goto +2\n\
         r2 = 0\n\
         r0 = *(u64 *)(r2 +0)\n\
         r0 = 0\n\
         exit"
    )
}

#[test]
fn a_fill_as_wide_as_its_spill_keeps_the_link() {
    check(
        "a_fill_as_wide_as_its_spill_keeps_the_link",
        &spill_fill("255", "u32"),
        &[],
        None,
    );
}

#[test]
fn a_narrow_fill_of_a_value_that_fits_keeps_the_link() {
    check(
        "a_narrow_fill_of_a_value_that_fits_keeps_the_link",
        &spill_fill("255", "u8"),
        &[],
        None,
    );
}

#[test]
fn a_fill_narrower_than_the_value_breaks_the_link() {
    check(
        "a_fill_narrower_than_the_value_breaks_the_link",
        &spill_fill("65535", "u8"),
        &[],
        Some((7, "R2 invalid mem access 'scalar'")),
    );
}

/// `bpf_map_update_elem(sockmap, &0, VALUE, 0)` in a tc program, where r6
/// is `skb->sk`, null-checked after VALUE is set up in r3; the call is
/// insn 8 + the number of VALUE's instructions.
fn sockmap_update(value: &str) -> String {
    format!(
        "r6 = *(u64 *)(r1 +168)\n\
         {value}\n\
         if r6 == 0x0 goto +7\n\
         *(u32 *)(r10 -4) = 0\n\
         r1 = map[idx:0]\n\
         r2 = r10\n\
         r2 += -4\n\
         r4 = 0\n\
         call bpf_map_update_elem\n\
         r0 = 0\n\
         exit"
    )
}

fn sockmap() -> Map {
    Map {
        map_type: 15,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        map_flags: 0,
        frozen: None,
    }
}

#[test]
fn a_sockmap_update_takes_a_socket_as_its_value() {
    check_as(
        "a_sockmap_update_takes_a_socket_as_its_value",
        ProgTypeId::SchedCls,
        &sockmap_update("r3 = r6"),
        &[sockmap()],
        None,
    );
}

#[test]
fn a_sockmap_update_refuses_a_value_on_the_stack() {
    check_as(
        "a_sockmap_update_refuses_a_value_on_the_stack",
        ProgTypeId::SchedCls,
        &sockmap_update("r3 = r10\nr3 += -8\n*(u64 *)(r10 -8) = 0"),
        &[sockmap()],
        Some((
            11,
            "R3 type=fp expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
        )),
    );
}

#[test]
fn a_ctx_pointer_with_a_variable_offset_is_refused_by_a_helper() {
    check_as(
        "a_ctx_pointer_with_a_variable_offset_is_refused_by_a_helper",
        ProgTypeId::SchedCls,
        "r2 = *(u32 *)(r1 +0)\n\
         r2 &= 8\n\
         r1 += r2\n\
         call bpf_get_hash_recalc\n\
         r0 = 0\n\
         exit",
        &[],
        Some((3, "variable ctx access var_off=(0x0; 0x8) disallowed")),
    );
}

#[test]
fn a_ctx_pointer_with_a_fixed_offset_is_refused_by_a_helper() {
    check_as(
        "a_ctx_pointer_with_a_fixed_offset_is_refused_by_a_helper",
        ProgTypeId::SchedCls,
        "r1 += 8\n\
         call bpf_get_hash_recalc\n\
         r0 = 0\n\
         exit",
        &[],
        Some((1, "dereference of modified ctx ptr R1 off=8 disallowed")),
    );
}

/// `bpf_probe_read_kernel(fp + r1, 0, 0)` with r1 in [-16, -16 + MASK]:
/// the call is insn 8.
fn zero_sized_stack_write(mask: u32) -> String {
    format!(
        "r0 = 0\n\
         *(u64 *)(r10 -16) = r0\n\
         *(u64 *)(r10 -8) = r0\n\
         call bpf_get_prandom_u32\n\
         r1 = r0\n\
         r1 &= {mask}\n\
         r1 += -16\n\
         r1 += r10\n\
         r2 = 0\n\
         r3 = 0\n\
         call bpf_probe_read_kernel\n\
         r0 = 0\n\
         exit"
    )
}

#[test]
fn a_zero_sized_stack_access_inside_the_frame_is_accepted() {
    check_as(
        "a_zero_sized_stack_access_inside_the_frame_is_accepted",
        ProgTypeId::Kprobe,
        &zero_sized_stack_write(15),
        &[],
        None,
    );
}

#[test]
fn a_zero_sized_stack_access_past_the_frame_is_refused() {
    check_as(
        "a_zero_sized_stack_access_past_the_frame_is_refused",
        ProgTypeId::Kprobe,
        &zero_sized_stack_write(63),
        &[],
        Some((
            10,
            "invalid variable-offset write to stack R1 var_off=(0x0; 0xffffffffffffffff) off=0 size=0",
        )),
    );
}

/// r4 = data + 8 found past the end, then `MID`, then compared again: the
/// load at insn 8 (outside the checked range) is reached only when the
/// second comparison is not decided.
fn beyond_pkt_end(mid: &str) -> String {
    format!(
        "r2 = *(u32 *)(r1 +76)\n\
         r3 = *(u32 *)(r1 +80)\n\
         r4 = r2\n\
         r4 += 8\n\
         if r4 > r3 goto +1\n\
         goto +3\n\
         {mid}\n\
         if r4 > r3 goto +1\n\
         r0 = *(u8 *)(r2 +100)\n\
         r0 = 0\n\
         exit"
    )
}

#[test]
fn a_packet_pointer_past_the_end_decides_its_next_comparison() {
    check_as(
        "a_packet_pointer_past_the_end_decides_its_next_comparison",
        ProgTypeId::SchedCls,
        &beyond_pkt_end("r0 = 0"),
        &[],
        None,
    );
}

#[test]
fn a_moved_packet_pointer_is_no_longer_past_the_end() {
    check_as(
        "a_moved_packet_pointer_is_no_longer_past_the_end",
        ProgTypeId::SchedCls,
        &beyond_pkt_end("r4 += -8"),
        &[],
        Some((8, "R2 offset is outside of the packet")),
    );
}

fn array() -> Map {
    Map {
        map_type: 2,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        map_flags: 0,
        frozen: None,
    }
}

#[test]
fn a_map_pointer_reads_its_struct() {
    check(
        "a_map_pointer_reads_its_struct",
        "r1 = map[idx:0]\nr0 = *(u8 *)(r1 +0)\nr0 = 0\nexit",
        &[array()],
        None,
    );
}

#[test]
fn a_map_pointer_refuses_a_negative_offset() {
    check(
        "a_map_pointer_refuses_a_negative_offset",
        "r1 = map[idx:0]\nr0 = *(u64 *)(r1 -8)\nr0 = 0\nexit",
        &[array()],
        Some((2, "R1 is bpf_array invalid negative access: off=-8")),
    );
}

#[test]
fn a_map_pointer_refuses_a_write() {
    check(
        "a_map_pointer_refuses_a_write",
        "r1 = map[idx:0]\nr0 = 0\n*(u64 *)(r1 +0) = r0\nexit",
        &[array()],
        Some((3, "only read from bpf_array is supported")),
    );
}

/// A tracing program attached to the iterator `target` (`bpf_iter_tcp`,
/// `bpf_iter_task`...), checked in the kernel and in ironbpf.
fn check_iter(name: &str, target: &str, text: &str, refused: Option<(usize, &str)>) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let vm = match ironbpf_verifier::vmlinux::vmlinux() {
        Ok(v) => v,
        Err(e) => {
            assert!(
                std::env::var("IRONBPF_REQUIRE_KERNEL").is_err(),
                "{name}: {e}"
            );
            eprintln!("skipped: {name}: {e}");
            return;
        }
    };
    let id = vm
        .find(target, ironbpf_btf::kind::FUNC)
        .unwrap_or_else(|| panic!("{name}: {target} in vmlinux BTF"));
    let insns = assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let iter = ironbpf_progtype::AttachType::TraceIter;
    let mut opts = VerifyOptions::new(ProgTypeId::Tracing);
    opts.log_level = 1;
    opts.attach_type = Some(iter);
    opts.attach_btf = Some(target.to_string());
    opts.attach_btf_id = Some(id);
    let out = load_program(&ProgLoad {
        prog_type: ProgTypeId::Tracing.kernel_id(),
        expected_attach_type: iter.kernel_id(),
        attach_btf_id: id,
        insns: &words,
        name: "rules2",
        log_level: 1,
        ..Default::default()
    });
    let ours = verify(&insns, &opts);
    assert_verdicts(name, &out, &ours, Verdict::at(refused));
}

/// `bpf_getsockopt(ctx->sk_common, SOL_TCP, TCP_CONGESTION, fp-16, 16)`
/// when the iterator gives a socket; the call is insn 8.
const ITER_GETSOCKOPT: &str = "r6 = *(u64 *)(r1 +8)\n\
    if r6 == 0x0 goto +7\n\
    r1 = r6\n\
    r2 = 6\n\
    r3 = 13\n\
    r4 = r10\n\
    r4 += -16\n\
    r5 = 16\n\
    call bpf_getsockopt\n\
    r0 = 0\n\
    exit";

#[test]
fn a_tcp_iterator_may_get_a_socket_option() {
    check_iter(
        "a_tcp_iterator_may_get_a_socket_option",
        "bpf_iter_tcp",
        ITER_GETSOCKOPT,
        None,
    );
}

#[test]
fn another_iterator_may_not_get_a_socket_option() {
    check_iter(
        "another_iterator_may_not_get_a_socket_option",
        "bpf_iter_udp",
        ITER_GETSOCKOPT,
        Some((
            8,
            "program of this type cannot use helper bpf_getsockopt#57",
        )),
    );
}

#[test]
fn a_writable_tracepoint_buffer_is_read_and_written() {
    check_as(
        "a_writable_tracepoint_buffer_is_read_and_written",
        ProgTypeId::RawTracepointWritable,
        "r6 = *(u64 *)(r1 +0)\n\
         r0 = *(u64 *)(r6 +8)\n\
         *(u32 *)(r6 +16) = r0\n\
         r0 = 0\n\
         exit",
        &[],
        None,
    );
}

#[test]
fn a_writable_tracepoint_buffer_refuses_a_negative_offset() {
    check_as(
        "a_writable_tracepoint_buffer_refuses_a_negative_offset",
        ProgTypeId::RawTracepointWritable,
        "r6 = *(u64 *)(r1 +0)\n\
         r0 = *(u64 *)(r6 -8)\n\
         r0 = 0\n\
         exit",
        &[],
        Some((1, "R6 invalid tracepoint buffer access: off=-8, size=8")),
    );
}
