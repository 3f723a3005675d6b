//! Rules that the kernel's BPF selftests showed ironbpf getting wrong,
//! each as a small program of our own loaded in the running kernel and
//! verified by ironbpf: both must give the same verdict and, where the
//! kernel refuses, the same error line at the same instruction.
//! - a helper's memory argument in a map value obeys the map's
//!   `BPF_F_RDONLY_PROG` / `BPF_F_WRONLY_PROG` (`check_map_access_type`,
//!   `verifier_array_access.c`, `verifier_const.c`);
//! - atomic instructions check alignment as if strict (`verifier_xadd.c`),
//!   and load-acquire / store-release do not reach packets
//!   (`verifier_load_acquire.c`, `verifier_store_release.c`);
//! - a tail call from a subprogram returns to its caller, packet pointers
//!   invalidated; from the main program it changes nothing
//!   (`verifier_sock.c`); none inside an RCU section (`tailcall_fail.c`);
//! - LD_ABS / LD_IND and tail calls in subprograms need BTF, and a
//!   subprogram with them must return an int; a failed LD_ABS returns 0
//!   from a subprogram (`verifier_ld_ind.c`, `exceptions.c`);
//! - the loader gives the kernel an object's BTF even when it declares
//!   kfuncs (`verifier_bpf_fastcall.c` and others lost their func_info);
//! - `bpf_get_smp_processor_id` is below `nr_cpu_ids`
//!   (`do_refine_retval_range`);
//! - the func_info is checked before the control flow (`bpf_check`);
//! - a sleepable program may use only some map types, not a prog_array
//!   (`check_map_prog_compatibility`, `tailcall_sleepable.c`);
//! - `bpf_probe_read_*_str` and `bpf_get_stack` return at most their size
//!   or an errno (`do_refine_retval_range`);
//! - a callback's return widens only scalars imprecise in both states
//!   (`verifier_iterating_callbacks.c` bpf_loop_iter_limit_*).
//!
//! Skips with a `skipped:` line where bpf(2) cannot be used (fails instead
//! under IRONBPF_REQUIRE_KERNEL=1).

mod btf_builder;
mod kernel_case;

use btf_builder::funcs::*;
use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use kernel_case::*;
use std::sync::Arc;

struct Case {
    prog_type: ProgTypeId,
    text: &'static str,
    maps: Vec<Map>,
    /// One per subprogram, in order; empty: loaded without BTF.
    funcs: Vec<Func>,
    verdict: Verdict<'static>,
}

fn check(name: &str, c: &Case) {
    check_with(name, c, false);
}

/// [`check`], loaded with `BPF_F_SLEEPABLE` when `sleepable`.
fn check_with(name: &str, c: &Case, sleepable: bool) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(&kfuncs_resolved(c.text)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let mut opts = VerifyOptions::new(c.prog_type);
    opts.log_level = 1;
    opts.sleepable = sleepable;
    let kmaps = create_maps(name, &c.maps, &mut opts);
    let fds: Vec<i32> = kmaps.iter().map(|m| m.raw_fd()).collect();
    let Described {
        blob,
        kbtf,
        recs,
        func_info,
    } = describe(name, &c.funcs, &starts_with_callbacks(&insns));
    let out = load_program(&ProgLoad {
        prog_type: c.prog_type.kernel_id(),
        insns: &words,
        name: "selftest_rule",
        log_level: 1,
        fd_array: &fds,
        prog_btf_fd: kbtf.as_ref().map(|b| b.raw_fd()),
        func_info: &func_info,
        prog_flags: if sleepable { BPF_F_SLEEPABLE } else { 0 },
        ..Default::default()
    });
    if !c.funcs.is_empty() {
        opts.btf = Some(Arc::new(
            ironbpf_btf::Btf::parse(&blob).expect("the test's BTF parses"),
        ));
        opts.func_info = recs;
    }
    let ours = verify(&insns, &opts);
    assert_verdicts(name, &out, &ours, c.verdict);
}

/// The subprogram starts: the targets of bpf-to-bpf calls and of
/// `BPF_PSEUDO_FUNC` ld_imm64s (callbacks).
fn starts_with_callbacks(insns: &[ironbpf_isa::RawInsn]) -> Vec<usize> {
    let mut s = subprog_starts(insns);
    for (pc, i) in insns.iter().enumerate() {
        if i.code == 0x18 && i.src == 4 {
            s.push((pc as i64 + i.imm as i64 + 1) as usize);
        }
    }
    s.sort_unstable();
    s.dedup();
    s
}

/// `call @name` as a call of the kfunc `name` of the running kernel's BTF.
fn kfuncs_resolved(text: &str) -> String {
    if !text.contains("call @") {
        return text.to_string();
    }
    resolve(
        &ironbpf_verifier::vmlinux::vmlinux().expect("the kernel's BTF"),
        text,
    )
}

/// A one-entry array of 48-byte values with `flags`.
fn array(flags: u32) -> Map {
    Map {
        map_type: 2,
        key_size: 4,
        value_size: 48,
        max_entries: 1,
        map_flags: flags,
        frozen: None,
    }
}

/// Looks up key 0 of map 0 (an array) with the ctx kept in r6; `USE`
/// follows with the value in r0, skipped when it is null.
fn with_value(then: &str) -> &'static str {
    Box::leak(
        format!(
            "r6 = r1\n\
             *(u32 *)(r10 -4) = 0\n\
             r2 = r10\n\
             r2 += -4\n\
             r1 = map[idx:0]\n\
             call bpf_map_lookup_elem\n\
             if r0 == 0x0 goto out\n\
             {then}\n\
             out:\n\
             r0 = 0\n\
             exit"
        )
        .into_boxed_str(),
    )
}

/// `bpf_skb_load_bytes(skb, 0, value, 8)`: the helper writes the value.
const SKB_LOAD_INTO_VALUE: &str = "r1 = r6\nr2 = 0\nr3 = r0\nr4 = 8\ncall bpf_skb_load_bytes";
/// `bpf_csum_diff(value, 4, NULL, 0, 0)`: the helper reads the value.
const CSUM_FROM_VALUE: &str = "r1 = r0\nr2 = 4\nr3 = 0\nr4 = 0\nr5 = 0\ncall bpf_csum_diff";

#[test]
fn a_helper_may_not_write_into_a_read_only_map_value() {
    check(
        "a_helper_may_not_write_into_a_read_only_map_value",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: with_value(SKB_LOAD_INTO_VALUE),
            maps: vec![array(BPF_F_RDONLY_PROG)],
            funcs: vec![],
            verdict: Verdict::RefusedAt(12, "write into map forbidden, value_size=48 off=0 size=8"),
        },
    );
}

#[test]
fn a_helper_may_read_a_read_only_map_value() {
    check(
        "a_helper_may_read_a_read_only_map_value",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: with_value(CSUM_FROM_VALUE),
            maps: vec![array(BPF_F_RDONLY_PROG)],
            funcs: vec![],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn a_helper_may_not_read_a_write_only_map_value() {
    check(
        "a_helper_may_not_read_a_write_only_map_value",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: with_value(CSUM_FROM_VALUE),
            maps: vec![array(BPF_F_WRONLY_PROG)],
            funcs: vec![],
            verdict: Verdict::RefusedAt(13, "read from map forbidden, value_size=48 off=0 size=4"),
        },
    );
}

#[test]
fn a_helper_may_write_into_a_write_only_map_value() {
    check(
        "a_helper_may_write_into_a_write_only_map_value",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: with_value(SKB_LOAD_INTO_VALUE),
            maps: vec![array(BPF_F_WRONLY_PROG)],
            funcs: vec![],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn a_write_only_map_value_is_no_key_to_look_up() {
    // The value of a write-only map, 8 bytes in, as the key of a lookup
    // in the same map: the helper reads the key.
    check(
        "a_write_only_map_value_is_no_key_to_look_up",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: with_value("r2 = r0\nr2 += 8\nr1 = map[idx:0]\ncall bpf_map_lookup_elem"),
            maps: vec![array(BPF_F_WRONLY_PROG)],
            funcs: vec![],
            verdict: Verdict::RefusedAt(12, "read from map forbidden, value_size=48 off=8 size=4"),
        },
    );
}

#[test]
fn bpf_strtol_may_not_store_into_frozen_rodata() {
    // `bpf_strtol(buf, 3, 0, &rodata_long)`: a `const volatile long` of a
    // frozen `.rodata`.
    let mut rodata = array(BPF_F_RDONLY_PROG);
    rodata.value_size = 8;
    rodata.frozen = Some(42u64.to_le_bytes().to_vec());
    check(
        "bpf_strtol_may_not_store_into_frozen_rodata",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "*(u32 *)(r10 -4) = 0x3438\n\
                r1 = r10\n\
                r1 += -4\n\
                r2 = 3\n\
                r3 = 0\n\
                r4 = map[idx:0][0]+0\n\
                call bpf_strtol\n\
                r0 = 0\n\
                exit",
            maps: vec![rodata],
            funcs: vec![],
            verdict: Verdict::RefusedAt(7, "write into map forbidden, value_size=8 off=0 size=8"),
        },
    );
}

#[test]
fn a_read_only_map_value_is_no_memory_for_a_global_function() {
    // A global function may write through its `int *`: the caller's
    // pointer must be writable (check_mem_reg checks a read and a write).
    check(
        "a_read_only_map_value_is_no_memory_for_a_global_function",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: Box::leak(
                format!(
                    "{}\nwrite_int:\nr0 = 0\nexit",
                    with_value("r1 = r0\ncall write_int")
                )
                .into_boxed_str(),
            ),
            maps: vec![array(BPF_F_RDONLY_PROG)],
            funcs: vec![global("prog", &[P::Ctx]), global("f", &[P::PtrInt])],
            verdict: Verdict::RefusedAt(9, "Caller passes invalid args into func#1 ('f')"),
        },
    );
}

/// A one-entry hash map of 8-byte keys and values.
fn hash8() -> Map {
    Map {
        map_type: 1,
        key_size: 8,
        value_size: 8,
        max_entries: 1,
        map_flags: 0,
        frozen: None,
    }
}

#[test]
fn an_atomic_add_into_a_map_value_is_aligned_as_if_strict() {
    check(
        "an_atomic_add_into_a_map_value_is_aligned_as_if_strict",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "*(u64 *)(r10 -8) = 0\n\
                r2 = r10\n\
                r2 += -8\n\
                r1 = map[idx:0]\n\
                call bpf_map_lookup_elem\n\
                if r0 != 0x0 goto +1\n\
                exit\n\
                r1 = 1\n\
                lock *(u32 *)(r0 +3) += w1\n\
                r0 = 0\n\
                exit",
            maps: vec![hash8()],
            funcs: vec![],
            verdict: Verdict::RefusedAt(9, "misaligned value access off 0+0+3 size 4"),
        },
    );
}

#[test]
fn an_aligned_atomic_add_into_a_map_value_is_accepted() {
    check(
        "an_aligned_atomic_add_into_a_map_value_is_accepted",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "*(u64 *)(r10 -8) = 0\n\
                r2 = r10\n\
                r2 += -8\n\
                r1 = map[idx:0]\n\
                call bpf_map_lookup_elem\n\
                if r0 != 0x0 goto +1\n\
                exit\n\
                r1 = 1\n\
                lock *(u32 *)(r0 +4) += w1\n\
                r2 = *(u32 *)(r0 +3)\n\
                r0 = 0\n\
                exit",
            maps: vec![hash8()],
            funcs: vec![],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn an_atomic_add_on_the_stack_is_aligned() {
    check(
        "an_atomic_add_on_the_stack_is_aligned",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "r0 = 1\n\
                *(u64 *)(r10 -8) = r0\n\
                lock *(u32 *)(r10 -7) += w0\n\
                r0 = *(u64 *)(r10 -8)\n\
                exit",
            maps: vec![],
            funcs: vec![],
            verdict: Verdict::RefusedAt(2, "misaligned stack access off 0+0+-7 size 4"),
        },
    );
}

#[test]
fn a_load_acquire_from_a_map_value_is_aligned_as_if_strict() {
    check(
        "a_load_acquire_from_a_map_value_is_aligned_as_if_strict",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "*(u64 *)(r10 -8) = 0\n\
                r2 = r10\n\
                r2 += -8\n\
                r1 = map[idx:0]\n\
                call bpf_map_lookup_elem\n\
                if r0 != 0x0 goto +1\n\
                exit\n\
                w1 = load_acquire((u32 *)(r0 +2))\n\
                r0 = 0\n\
                exit",
            maps: vec![hash8()],
            funcs: vec![],
            verdict: Verdict::RefusedAt(8, "misaligned value access off 0+0+2 size 4"),
        },
    );
}

/// `static void f(void)` / `static int f(void)`.
const fn stat_ret(name: &'static str, ret: P) -> Func {
    Func {
        name,
        linkage: STATIC,
        ret,
        params: &[],
        tags: &[],
    }
}

const MAIN: Func = global("prog", &[P::Ctx]);

/// The main program calls `sub`, whose body is `SUB`, and exits with 0.
fn calling(sub: &str) -> &'static str {
    Box::leak(format!("call sub\nr0 = 0\nexit\nsub:\n{sub}").into_boxed_str())
}

const TAIL_CALL_SUB: &str = "r2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call\nr0 = 1\nexit";

/// The main program calls `sub`; where sub returns 0 it reads r9, which
/// was never written.
fn early_exit(sub: &str) -> &'static str {
    Box::leak(
        format!("call sub\nif r0 != 0x0 goto +1\nr0 = r9\nr0 = 0\nexit\nsub:\n{sub}")
            .into_boxed_str(),
    )
}

#[test]
fn load_acquire_and_store_release_do_not_reach_packets() {
    const PKT: &str = "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr1 = r2\nr1 += 16\n\
                       if r1 > r3 goto +3\nr4 = 0\n";
    for (i, (access, verdict)) in [
        (
            "r0 = load_acquire((u64 *)(r2 +0))",
            Verdict::RefusedAt(6, "BPF_ATOMIC loads from R2 pkt is not allowed"),
        ),
        // A store is checked as a strictly aligned store first (with the
        // packet's NET_IP_ALIGN of 2), its pointer's type after.
        (
            "store_release((u64 *)(r2 +6), r4)",
            Verdict::RefusedAt(6, "BPF_ATOMIC stores into R2 pkt is not allowed"),
        ),
        (
            "store_release((u64 *)(r2 +0), r4)",
            Verdict::RefusedAt(6, "misaligned packet access off 2+0+0+0 size 8"),
        ),
        // The pointer's type is checked before the access: no misaligned
        // packet access (NET_IP_ALIGN) is reported for it.
        (
            "r2 = load_acquire((u64 *)(r2 +1))",
            Verdict::RefusedAt(6, "BPF_ATOMIC loads from R2 pkt is not allowed"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let text: &'static str =
            Box::leak(format!("{PKT}{access}\nr0 = 0\nr0 = 0\nexit").into_boxed_str());
        check(
            &format!("load_acquire_and_store_release_do_not_reach_packets_{i}"),
            &Case {
                prog_type: ProgTypeId::Xdp,
                text,
                maps: vec![],
                funcs: vec![],
                verdict,
            },
        );
    }
}

/// A one-entry program array.
fn prog_array() -> Map {
    Map {
        map_type: 3,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        map_flags: 0,
        frozen: None,
    }
}

/// A tc program that checks 4 bytes of packet at r6, then runs `MIDDLE`
/// (r1 the ctx) and stores through r6.
fn packet_then(middle: &str, tail: &str) -> &'static str {
    Box::leak(
        format!(
            "r2 = *(u32 *)(r1 +76)\n\
             r3 = *(u32 *)(r1 +80)\n\
             r6 = r2\n\
             r2 += 4\n\
             if r2 > r3 goto out\n\
             {middle}\n\
             *(u32 *)(r6 +0) = 42\n\
             out:\n\
             r0 = 0\n\
             exit\n\
             {tail}"
        )
        .into_boxed_str(),
    )
}

#[test]
fn a_failed_tail_call_from_the_main_program_keeps_packet_pointers() {
    // A tail call that succeeds does not come back: after it, the call
    // failed and changed nothing.
    check(
        "a_failed_tail_call_from_the_main_program_keeps_packet_pointers",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: packet_then("r2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call", ""),
            maps: vec![prog_array()],
            funcs: vec![],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn a_static_function_with_a_tail_call_invalidates_packet_pointers() {
    // From a subprogram a successful tail call returns to the caller.
    check(
        "a_static_function_with_a_tail_call_invalidates_packet_pointers",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: packet_then(
                "call tc_sub",
                "tc_sub:\nr2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
            ),
            maps: vec![prog_array()],
            funcs: vec![MAIN, stat("tc_sub", &[P::Ctx])],
            verdict: Verdict::RefusedAt(6, "R6 invalid mem access 'scalar'"),
        },
    );
}

#[test]
fn a_failed_tail_call_in_a_static_function_keeps_packet_pointers() {
    check(
        "a_failed_tail_call_in_a_static_function_keeps_packet_pointers",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "r2 = *(u32 *)(r1 +76)\n\
                r3 = *(u32 *)(r1 +80)\n\
                r4 = r2\n\
                r4 += 4\n\
                if r4 > r3 goto out\n\
                call sub\n\
                out:\n\
                r0 = 0\n\
                exit\n\
                sub:\n\
                r6 = r2\n\
                r2 = map[idx:0]\n\
                r3 = 0\n\
                call bpf_tail_call\n\
                *(u32 *)(r6 +0) = 42\n\
                r0 = 0\n\
                exit",
            maps: vec![prog_array()],
            funcs: vec![MAIN, stat("sub", &[P::Ctx, P::PtrVoid])],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn a_tail_call_in_a_static_function_returns_any_int() {
    // The function returns 1 unless its tail call succeeds.
    check(
        "a_tail_call_in_a_static_function_returns_any_int",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: early_exit(TAIL_CALL_SUB),
            maps: vec![prog_array()],
            funcs: vec![MAIN, stat_ret("sub", P::Int)],
            verdict: Verdict::RefusedAt(2, "R9 !read_ok"),
        },
    );
}

#[test]
fn a_global_function_with_a_tail_call_invalidates_packet_pointers() {
    check(
        "a_global_function_with_a_tail_call_invalidates_packet_pointers",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: packet_then(
                "call tc_sub",
                "tc_sub:\nr2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
            ),
            maps: vec![prog_array()],
            funcs: vec![MAIN, global("tail_call", &[P::Ctx])],
            verdict: Verdict::RefusedAt(6, "R6 invalid mem access 'scalar'"),
        },
    );
}

const LD_ABS_SUB: &str = "r6 = r1\nr0 = *(u32 *)skb[0]\nr0 = 1\nexit";
const LD_IND_SUB: &str = "r6 = r1\nr7 = 0\nr0 = *(u32 *)skb[r7 + 0]\nr0 = 1\nexit";

#[test]
fn ld_abs_in_a_subprog_needs_btf() {
    for (i, sub) in [LD_ABS_SUB, LD_IND_SUB].into_iter().enumerate() {
        check(
            &format!("ld_abs_in_a_subprog_needs_btf_{i}"),
            &Case {
                prog_type: ProgTypeId::SocketFilter,
                text: calling(sub),
                maps: vec![],
                funcs: vec![],
                verdict: Verdict::RefusedWhole("LD_ABS is not allowed in subprogs without BTF"),
            },
        );
    }
}

#[test]
fn ld_abs_in_a_void_subprog_is_refused() {
    for (i, sub) in [LD_ABS_SUB, LD_IND_SUB].into_iter().enumerate() {
        check(
            &format!("ld_abs_in_a_void_subprog_is_refused_{i}"),
            &Case {
                prog_type: ProgTypeId::SocketFilter,
                text: calling(sub),
                maps: vec![],
                funcs: vec![MAIN, stat_ret("sub", P::Void)],
                verdict: Verdict::RefusedWhole(
                    "LD_ABS is only allowed in functions that return 'int'.",
                ),
            },
        );
    }
}

#[test]
fn ld_abs_in_an_int_subprog_is_accepted() {
    for (i, sub) in [LD_ABS_SUB, LD_IND_SUB].into_iter().enumerate() {
        check(
            &format!("ld_abs_in_an_int_subprog_is_accepted_{i}"),
            &Case {
                prog_type: ProgTypeId::SocketFilter,
                text: calling(sub),
                maps: vec![],
                funcs: vec![MAIN, stat_ret("sub", P::Int)],
                verdict: Verdict::Accepted,
            },
        );
    }
}

#[test]
fn ld_abs_in_a_subprog_may_return_zero() {
    for (i, sub) in [LD_ABS_SUB, LD_IND_SUB].into_iter().enumerate() {
        check(
            &format!("ld_abs_in_a_subprog_may_return_zero_{i}"),
            &Case {
                prog_type: ProgTypeId::SocketFilter,
                text: early_exit(sub),
                maps: vec![],
                funcs: vec![MAIN, stat_ret("sub", P::Int)],
                verdict: Verdict::RefusedAt(2, "R9 !read_ok"),
            },
        );
    }
}

#[test]
fn a_tail_call_in_a_subprog_needs_btf() {
    check(
        "a_tail_call_in_a_subprog_needs_btf",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: calling(TAIL_CALL_SUB),
            maps: vec![prog_array()],
            funcs: vec![],
            verdict: Verdict::RefusedWhole("tail_call is not allowed in subprogs without BTF"),
        },
    );
}

#[test]
fn a_tail_call_in_a_void_subprog_is_refused() {
    check(
        "a_tail_call_in_a_void_subprog_is_refused",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: calling(TAIL_CALL_SUB),
            maps: vec![prog_array()],
            funcs: vec![MAIN, stat_ret("sub", P::Void)],
            verdict: Verdict::RefusedWhole(
                "tail_call is only allowed in functions that return 'int'.",
            ),
        },
    );
}

#[test]
fn ld_abs_may_not_leave_a_reference_held() {
    // A ring buffer record reserved, then a packet load that may end the
    // program before the record is discarded.
    let ringbuf = Map {
        map_type: 27,
        key_size: 0,
        value_size: 0,
        max_entries: 4096,
        map_flags: 0,
        frozen: None,
    };
    check(
        "ld_abs_may_not_leave_a_reference_held",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "r6 = r1\n\
                r1 = map[idx:0]\n\
                r2 = 8\n\
                r3 = 0\n\
                call bpf_ringbuf_reserve\n\
                r7 = r0\n\
                r0 = *(u8 *)skb[0]\n\
                if r7 == 0x0 goto +3\n\
                r1 = r7\n\
                r2 = 0\n\
                call bpf_ringbuf_discard\n\
                r0 = 0\n\
                exit",
            maps: vec![ringbuf],
            funcs: vec![],
            verdict: Verdict::RefusedAt(7, "BPF_LD_[ABS|IND] would lead to reference leak"),
        },
    );
}

#[test]
fn ld_abs_needs_the_skb_itself_in_r6() {
    for (i, (text, insn, line)) in [
        (
            "r6 = r1\nr6 += 8\nr0 = *(u8 *)skb[0]\nr0 = 0\nexit",
            2,
            "dereference of modified ctx ptr R6 off=8 disallowed",
        ),
        // R6 is checked before the index register.
        (
            "r6 = 0\nr0 = *(u32 *)skb[r7 + 0]\nr0 = 0\nexit",
            1,
            "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        check(
            &format!("ld_abs_needs_the_skb_itself_in_r6_{i}"),
            &Case {
                prog_type: ProgTypeId::SocketFilter,
                text,
                maps: vec![],
                funcs: vec![],
                verdict: Verdict::RefusedAt(insn, line),
            },
        );
    }
}

#[test]
fn a_tail_call_in_a_subprogram_may_leave_the_callers_reference_held() {
    // check_reference_leak looks at the main program's frame only: the
    // caller still holds its ring buffer record when the subprogram
    // returns, tail call or not, and discards it.
    let ringbuf = Map {
        map_type: 27,
        key_size: 0,
        value_size: 0,
        max_entries: 4096,
        map_flags: 0,
        frozen: None,
    };
    check(
        "a_tail_call_in_a_subprogram_may_leave_the_callers_reference_held",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "r6 = r1\n\
                r1 = map[idx:0]\n\
                r2 = 8\n\
                r3 = 0\n\
                call bpf_ringbuf_reserve\n\
                if r0 == 0x0 goto out\n\
                r7 = r0\n\
                r1 = r6\n\
                call sub\n\
                r1 = r7\n\
                r2 = 0\n\
                call bpf_ringbuf_discard\n\
                out:\n\
                r0 = 0\n\
                exit\n\
                sub:\n\
                r2 = map[idx:1]\n\
                r3 = 0\n\
                call bpf_tail_call\n\
                r0 = 0\n\
                exit",
            maps: vec![ringbuf, prog_array()],
            funcs: vec![MAIN, stat("sub", &[P::Ctx])],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn a_tail_call_may_not_leave_an_rcu_read_section_open() {
    for (i, (text, verdict)) in [
        (
            "r6 = r1\ncall @bpf_rcu_read_lock\nr1 = r6\nr2 = map[idx:0]\nr3 = 0\n\
             call bpf_tail_call\ncall @bpf_rcu_read_unlock\nr0 = 0\nexit",
            Verdict::RefusedAt(
                6,
                "tail_call cannot be used inside bpf_rcu_read_lock-ed region",
            ),
        ),
        (
            "r6 = r1\ncall @bpf_rcu_read_lock\ncall @bpf_rcu_read_unlock\nr1 = r6\n\
             r2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
            Verdict::Accepted,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        check(
            &format!("a_tail_call_may_not_leave_an_rcu_read_section_open_{i}"),
            &Case {
                prog_type: ProgTypeId::SchedCls,
                text,
                maps: vec![prog_array()],
                funcs: vec![],
                verdict,
            },
        );
    }
}

#[test]
fn an_object_calling_kfuncs_gives_the_kernel_its_btf() {
    // The loader rewrites the extern FUNCs of `.ksyms` as libbpf does;
    // as clang wrote them the kernel refuses the whole BTF ("Invalid func
    // linkage"), so every program of the object would load without
    // func_info ("missing btf func_info" at its first callback).
    if !ironbpf_kernel::available_for_test("an_object_calling_kfuncs_gives_the_kernel_its_btf") {
        return;
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../loader/tests/fixtures/externs.o");
    let obj = ironbpf_loader::load_file(&path, &ironbpf_loader::LoadOptions::default())
        .unwrap_or_else(|e| panic!("externs.o: {e}"));
    let blob = obj.btf.expect("externs.o has BTF");
    if let Err((e, line)) = ironbpf_kernel::KernelBtf::load(&blob) {
        panic!("the kernel refused the BTF of externs.o: {e}: {line}");
    }
    assert!(ironbpf_btf::Btf::parse(&blob).is_ok());
}

#[test]
fn the_cpu_number_is_never_negative() {
    // do_refine_retval_range: bpf_get_smp_processor_id's r0 is in
    // [0, nr_cpu_ids - 1], so the branch to the bad load is dead.
    check(
        "the_cpu_number_is_never_negative",
        &Case {
            prog_type: ProgTypeId::SchedCls,
            text: "call bpf_get_smp_processor_id\n\
                if r0 s< 0x0 goto +2\n\
                r0 = 0\n\
                exit\n\
                r0 = *(u64 *)(r0 +0)\n\
                exit",
            maps: vec![],
            funcs: vec![],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn the_cpu_number_is_below_nr_cpu_ids() {
    // value[cpu + off], byte-sized, in a value of nr_cpu_ids + 8 bytes:
    // the last CPU reaches the last byte with off = 8, one past it with 9.
    let nr = ironbpf_verifier::host_nr_cpu_ids();
    let value_size = nr + 8;
    for off in [8, 9] {
        let text = format!(
            "call bpf_get_smp_processor_id\n\
             r7 = r0\n\
             *(u32 *)(r10 -4) = 0\n\
             r2 = r10\n\
             r2 += -4\n\
             r1 = map[idx:0]\n\
             call bpf_map_lookup_elem\n\
             if r0 == 0x0 goto +2\n\
             r0 += r7\n\
             r1 = *(u8 *)(r0 +{off})\n\
             r0 = 0\n\
             exit"
        );
        let mut value = array(0);
        value.value_size = value_size;
        check(
            &format!("the_cpu_number_is_below_nr_cpu_ids_{off}"),
            &Case {
                prog_type: ProgTypeId::SchedCls,
                text: Box::leak(text.into_boxed_str()),
                maps: vec![value],
                funcs: vec![],
                verdict: if off == 8 {
                    Verdict::Accepted
                } else {
                    Verdict::RefusedAt(10, "R0 max value is outside of the allowed memory range")
                },
            },
        );
    }
}

/// The main program calls `sub` and exits; an unreachable `r0 = 2; exit`
/// follows (insn 3), a `check_cfg` error.
fn calling_with_dead_code(sub: &str) -> &'static str {
    Box::leak(format!("call sub\nr0 = 0\nexit\nr0 = 2\nexit\nsub:\n{sub}").into_boxed_str())
}

#[test]
fn the_func_info_is_checked_before_the_control_flow() {
    // check_btf_info runs before check_cfg: the subprogram's LD_ABS is
    // refused, not the unreachable instruction.
    check(
        "the_func_info_is_checked_before_the_control_flow_0",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            text: calling_with_dead_code(LD_ABS_SUB),
            maps: vec![],
            funcs: vec![],
            verdict: Verdict::RefusedWhole("LD_ABS is not allowed in subprogs without BTF"),
        },
    );
    check(
        "the_func_info_is_checked_before_the_control_flow_1",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            text: calling_with_dead_code(LD_ABS_SUB),
            maps: vec![],
            funcs: vec![MAIN, stat_ret("sub", P::Void)],
            verdict: Verdict::RefusedWhole(
                "LD_ABS is only allowed in functions that return 'int'.",
            ),
        },
    );
    // Without the BTF error the control flow's comes.
    check(
        "the_func_info_is_checked_before_the_control_flow_2",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            text: calling_with_dead_code(LD_ABS_SUB),
            maps: vec![],
            funcs: vec![MAIN, stat_ret("sub", P::Int)],
            verdict: Verdict::RefusedWhole("unreachable insn 3"),
        },
    );
}

#[test]
fn a_sleepable_program_may_not_use_a_prog_array() {
    // check_map_prog_compatibility, when the ld_imm64 names the map: a
    // whole-program refusal before the control flow is walked.
    let text = "r1 = map[idx:0]\nr0 = 0\nexit";
    for (i, (prog_type, map, sleepable, verdict)) in [
        (
            ProgTypeId::Syscall,
            prog_array(),
            true,
            Verdict::RefusedWhole(
                "Sleepable programs can only use array, hash, ringbuf and local storage maps",
            ),
        ),
        (ProgTypeId::SchedCls, prog_array(), false, Verdict::Accepted),
        (ProgTypeId::Syscall, array(0), true, Verdict::Accepted),
    ]
    .into_iter()
    .enumerate()
    {
        check_with(
            &format!("a_sleepable_program_may_not_use_a_prog_array_{i}"),
            &Case {
                prog_type,
                text,
                maps: vec![map],
                funcs: vec![],
                verdict,
            },
            sleepable,
        );
    }
}

/// `static int cb(int index, void *ctx)`.
const LOOP_CB: fn(&'static str) -> Func = |name| stat(name, &[P::Int, P::PtrVoid]);

/// verifier_iterating_callbacks.c's bpf_loop_iter_limit_ok (`nr_loops` 1)
/// and _overflow (2): `choice_arr[ctx.i]` after the callback increments
/// `ctx.i` once per iteration, in a 2-byte value.
fn iter_limit(nr_loops: u32) -> &'static str {
    Box::leak(
        format!(
            "r1 = 0\n\
             *(u64 *)(r10 -8) = r1\n\
             *(u64 *)(r10 -16) = r1\n\
             r3 = r10\n\
             r3 += -16\n\
             w1 = {nr_loops}\n\
             r2 = subprog[cb]\n\
             r4 = 0\n\
             call bpf_loop\n\
             r1 = map[idx:0][0]+0\n\
             r2 = *(u64 *)(r10 -16)\n\
             r1 += r2\n\
             r0 = *(u8 *)(r1 +0)\n\
             exit\n\
             cb:\n\
             r1 = *(u64 *)(r2 +0)\n\
             r1 += 1\n\
             *(u64 *)(r2 +0) = r1\n\
             w0 = 0\n\
             exit"
        )
        .into_boxed_str(),
    )
}

#[test]
fn a_bpf_loop_callbacks_count_stays_precise_in_the_caller() {
    // The caller's path marks ctx.i precise at the bpf_loop call before
    // the callback runs; the callback's return keeps it (maybe_widen_reg
    // looks at the old state's mark too), so the value is 1, not unknown.
    for (i, (nr, verdict)) in [
        (1, Verdict::Accepted),
        (
            2,
            Verdict::RefusedAt(14, "R1 min value is outside of the allowed memory range"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut value = array(0);
        value.value_size = 2;
        check(
            &format!("a_bpf_loop_callbacks_count_stays_precise_in_the_caller_{i}"),
            &Case {
                prog_type: ProgTypeId::RawTracepoint,
                text: iter_limit(nr),
                maps: vec![value],
                funcs: vec![MAIN, LOOP_CB("cb")],
                verdict,
            },
        );
    }
}

#[test]
fn nested_bpf_loop_callbacks_reach_only_possible_counts() {
    // verifier_iterating_callbacks.c's bpf_loop_iter_limit_nested: two
    // bpf_loop(1) calls of a callback that itself calls bpf_loop(1) twice;
    // the counts stay precise, so the `r0 /= 0` for impossible ones is
    // never reached.
    let mut value = array(0);
    value.value_size = 2;
    check(
        "nested_bpf_loop_callbacks_reach_only_possible_counts",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            text: "r1 = 0\n\
                *(u64 *)(r10 -8) = r1\n\
                *(u64 *)(r10 -16) = r1\n\
                *(u64 *)(r10 -24) = r1\n\
                *(u64 *)(r10 -32) = r1\n\
                r3 = r10\n\
                r3 += -16\n\
                w1 = 1\n\
                r2 = subprog[level1]\n\
                r4 = 0\n\
                call bpf_loop\n\
                r3 = r10\n\
                r3 += -32\n\
                w1 = 1\n\
                r2 = subprog[level1]\n\
                r4 = 0\n\
                call bpf_loop\n\
                r1 = *(u64 *)(r10 -16)\n\
                r2 = *(u64 *)(r10 -32)\n\
                w3 = w2\n\
                w3 += w1\n\
                r3 &= 1\n\
                r4 = map[idx:0][0]+0\n\
                r4 += r3\n\
                r3 = *(u8 *)(r4 +0)\n\
                if r2 == 111 goto ok\n\
                if r2 == 101 goto ok\n\
                if r2 == 11 goto ok\n\
                if r2 < 2 goto ok\n\
                if r1 == 111 goto ok\n\
                if r1 == 101 goto ok\n\
                if r1 < 2 goto ok\n\
                if r1 == 11 goto ok\n\
                r0 /= 0\n\
                ok:\n\
                w1 *= 1000\n\
                w1 += w2\n\
                w3 /= 10\n\
                w1 += w3\n\
                w0 = w1\n\
                exit\n\
                level1:\n\
                r6 = r2\n\
                r1 = *(u64 *)(r6 +0)\n\
                r1 += 1\n\
                *(u64 *)(r6 +0) = r1\n\
                w1 = 1\n\
                r2 = subprog[level2a]\n\
                r3 = r6\n\
                r4 = 0\n\
                call bpf_loop\n\
                w1 = 1\n\
                r2 = subprog[level2b]\n\
                r3 = r6\n\
                r4 = 0\n\
                call bpf_loop\n\
                w0 = 0\n\
                exit\n\
                level2a:\n\
                r1 = *(u64 *)(r2 +0)\n\
                r1 += 100\n\
                *(u64 *)(r2 +0) = r1\n\
                w0 = 0\n\
                exit\n\
                level2b:\n\
                r1 = *(u64 *)(r2 +0)\n\
                r1 += 10\n\
                *(u64 *)(r2 +0) = r1\n\
                w0 = 0\n\
                exit",
            maps: vec![value],
            funcs: vec![
                MAIN,
                LOOP_CB("level1"),
                LOOP_CB("level2a"),
                LOOP_CB("level2b"),
            ],
            verdict: Verdict::Accepted,
        },
    );
}

#[test]
fn a_string_read_returns_at_most_its_buffer_size() {
    // do_refine_retval_range: bpf_probe_read_kernel_str's r0 is in
    // [-MAX_ERRNO, size]: the branch past 16 is dead, past 15 is not.
    for (i, (limit, verdict)) in [
        (16, Verdict::Accepted),
        (15, Verdict::RefusedAt(9, "R0 invalid mem access 'scalar'")),
        (-4096, Verdict::Accepted),
    ]
    .into_iter()
    .enumerate()
    {
        let (cmp, other) = if limit > 0 {
            (
                format!("if r0 s> {limit} goto +3"),
                "if r0 s< -4095 goto +2",
            )
        } else {
            (format!("if r0 s<= {limit} goto +3"), "if r0 s> 16 goto +2")
        };
        let text = format!(
            "r1 = r10\n\
             r1 += -16\n\
             r2 = 16\n\
             r3 = 0\n\
             call bpf_probe_read_kernel_str\n\
             {cmp}\n\
             {other}\n\
             r0 = 0\n\
             exit\n\
             r0 = *(u64 *)(r0 +0)\n\
             exit"
        );
        check(
            &format!("a_string_read_returns_at_most_its_buffer_size_{i}"),
            &Case {
                prog_type: ProgTypeId::Kprobe,
                text: Box::leak(text.into_boxed_str()),
                maps: vec![],
                funcs: vec![],
                verdict,
            },
        );
    }
}
