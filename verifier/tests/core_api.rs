//! What `verify` gives its callers besides the verdict: the facts a JIT can
//! use, the statistics, the log at each level, and rejections that name
//! the instruction, register and condition. No kernel needed.

use ironbpf_progtype::desc::ProgTypeDesc;
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify_with_desc, RejectionKind, VerifyOptions, VerifyOutcome};

fn run(asm: &str, level: u32, privileged: bool) -> VerifyOutcome {
    let slots = ironbpf_isa::assemble(asm).expect("assembles");
    let mut opts = VerifyOptions::new(ProgTypeId::SocketFilter);
    opts.log_level = level;
    opts.privileged = privileged;
    let desc = ProgTypeDesc::builtin(ProgTypeId::SocketFilter)
        .cloned()
        .expect("socket_filter has a built-in descriptor");
    verify_with_desc(&slots, &opts, Some(&desc))
}

#[test]
fn facts_name_dead_branches_constants_and_unreached_code() {
    let out = run("r1 = 5\nif r1 > 3 goto +1\nr0 = 1\nr0 = 2\nexit", 0, true);
    let p = out.result.expect("accepted");
    assert_eq!(p.branch_always()[1], Some(true), "5 > 3 always jumps");
    assert!(!p.reached()[2], "the fall-through is dead");
    assert!(p.reached()[3] && p.reached()[4]);
    assert_eq!(p.const_result()[0], Some(5));
    assert_eq!(p.const_result()[3], Some(2));
    assert_eq!(p.subprog_starts(), vec![0]);
}

#[test]
fn a_value_that_differs_between_paths_is_not_constant() {
    let out = run(
        "r2 = *(u32 *)(r1 +0)\nr0 = 1\nif r2 > 3 goto +1\nr0 = 2\nr3 = r0\nr0 = 0\nexit",
        0,
        true,
    );
    let p = out.result.expect("accepted");
    assert_eq!(p.branch_always()[2], None, "both edges are possible");
    assert_eq!(p.const_result()[4], None, "r3 is 1 or 2");
    assert_eq!(p.const_result()[5], Some(0));
}

#[test]
fn stack_depth_is_reported_per_subprogram() {
    let out = run(
        "*(u64 *)(r10 -24) = 0\ncall pc+2\nr0 = 0\nexit\n*(u32 *)(r10 -4) = 0\nr0 = 0\nexit",
        4,
        true,
    );
    let p = out.result.expect("accepted");
    assert_eq!(p.stack_depths(), vec![24, 8]);
    assert_eq!(p.subprog_starts(), vec![0, 4]);
    assert!(out.log.contains("stack depth 24+8\n"), "{}", out.log);
    assert!(out.log.contains("verification time "), "{}", out.log);
}

#[test]
fn level_0_has_no_log_and_level_1_success_only_the_stats() {
    let out = run("r0 = 0\nexit", 0, true);
    assert_eq!(out.log, "");
    let out = run("r0 = 0\nexit", 1, true);
    assert_eq!(
        out.log,
        "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
    );
    assert_eq!(out.stats.processed_insns, 2);
}

#[test]
fn a_rejection_names_the_insn_the_register_and_the_errno() {
    let out = run("r0 = r2\nexit", 1, true);
    let r = out.result.expect_err("refused");
    assert_eq!(r.insn, Some(0));
    assert_eq!(r.message, "R2 !read_ok");
    assert_eq!(r.errno, 13);
    assert_eq!(r.kind, RejectionKind::UninitRegister { reg: 2 });
    assert!(out.log.ends_with("R2 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"), "{}", out.log);
}

#[test]
fn structure_errors_come_before_any_state() {
    let out = run("r0 = 0\nexit\nr0 = 1\nexit", 2, true);
    let r = out.result.expect_err("refused");
    assert_eq!(r.message, "unreachable insn 2");
    assert_eq!(r.errno, 22);
    assert_eq!(r.kind, RejectionKind::Unreachable { pc: 2 });
    assert_eq!(
        out.log,
        "func#0 @0\nunreachable insn 2\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
    );
}

#[test]
fn unprivileged_programs_are_limited_to_4096_insns_and_no_loops() {
    let mut asm = String::new();
    for _ in 0..4096 {
        asm.push_str("r0 = 0\n");
    }
    asm.push_str("exit");
    let out = run(&asm, 1, false);
    let r = out.result.expect_err("too long");
    assert_eq!(r.errno, 7, "E2BIG");
    assert_eq!(out.log, "", "refused before the verifier runs");
    assert!(run(&asm, 1, true).result.is_ok());
    let out = run("r0 = 0\nr0 += 1\nif r0 < 4 goto -2\nexit", 1, false);
    assert_eq!(
        out.result.expect_err("loop").kind,
        RejectionKind::BackEdge { from: 2, to: 1 }
    );
}

#[test]
fn map_references_outside_the_map_list_are_refused_by_index() {
    let out = run("r1 = map[idx:3]\nr0 = 0\nexit", 1, true);
    let r = out.result.expect_err("no such map");
    assert_eq!(r.kind, RejectionKind::BadMapReference { pc: 0, index: 3 });
    assert!(r.message.contains("fd_idx 3"), "{}", r.message);
}

#[test]
fn the_jump_sequence_limit_stops_runaway_branching() {
    // 8193 independent branches on unknown values, none pruned before the
    // stack of pending branches overflows.
    let mut asm = String::from("r2 = *(u32 *)(r1 +0)\nr0 = 0\n");
    for _ in 0..8200 {
        asm.push_str("if r2 == 7 goto +0\n");
    }
    asm.push_str("exit");
    let out = run(&asm, 0, true);
    let r = out.result.expect_err("too many pending branches");
    assert_eq!(r.kind, RejectionKind::JumpSequence { count: 8193 });
    assert_eq!(r.message, "The sequence of 8193 jumps is too complex.");
}

#[test]
fn callbacks_need_btf_func_info() {
    // bpf_loop(4, cb, NULL, 0) without func_info: the kernel refuses the
    // callback's address (prog_callbacks.rs checks callbacks with BTF).
    let out = run(
        "r1 = 4\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ncb:\nr0 = *(u64 *)(r10 +8)\nexit",
        1,
        true,
    );
    let r = out.result.expect_err("refused");
    assert_eq!(r.insn, Some(1));
    assert_eq!(r.message, "missing btf func_info");
}
