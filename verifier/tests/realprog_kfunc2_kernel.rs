//! Rules the real-program set (session 9) showed ironbpf getting wrong,
//! each as a small program of our own loaded in the running kernel and
//! verified by ironbpf, with the same verdict and last error line:
//! - a struct_ops program loaded without `attach_btf_id` is refused with
//!   ENOTSUPP before any instruction (`check_struct_ops_btf_id`);
//! - the exception callback named by the main FUNC's
//!   `exception_callback:` decl tag must be unique and in func_info, and
//!   may not be called directly;
//! - `arg:ctx` of a global function takes the program types' special
//!   cases (`u64 *` for raw tracepoints, anything for tracepoints);
//! - a global function that calls a sleepable kfunc may not be called
//!   inside a preempt-disabled section;
//! - `arg:trusted` (with `arg:nullable`) and `arg:untrusted` arguments of
//!   global functions;
//! - bpf_find_vma's callback gets the VMA as a read-only BTF pointer;
//! - IRQ-disabled sections (`bpf_local_irq_save/restore`): the flag on
//!   the stack, restores in reverse order, no exit or sleeping inside.
//!
//! Skips with a `skipped:` line where bpf(2) cannot be used (fails instead
//! under IRONBPF_REQUIRE_KERNEL=1).

mod btf_builder;
mod kernel_case;

use btf_builder::{BtfBuilder, GLOBAL};
use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, KernelBtf, LoadOutcome, ProgLoad, BPF_F_SLEEPABLE};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, FuncInfoRec, VerifyOptions, VerifyOutcome};
use kernel_case::*;
use std::sync::Arc;

/// `ENOTSUPP`, the kernel's internal "not supported" errno.
const ENOTSUPP: i32 = 524;

/// A program with its BTF: `funcs` are (first instruction, FUNC type id).
struct Prog<'a> {
    prog_type: ProgTypeId,
    text: &'a str,
    btf: Option<Vec<u8>>,
    funcs: Vec<(usize, u32)>,
    sleepable: bool,
}

/// Loads `p` in the kernel and verifies it with ironbpf; `None` when the
/// kernel cannot be used.
fn run(name: &str, p: &Prog) -> Option<(LoadOutcome, VerifyOutcome)> {
    if !ironbpf_kernel::available_for_test(name) {
        return None;
    }
    let insns = assemble(&resolve_kfuncs(p.text)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let kbtf = p.btf.as_ref().map(|b| {
        KernelBtf::load(b).unwrap_or_else(|(e, l)| panic!("{name}: BTF refused: {e}: {l}"))
    });
    let mut func_info = Vec::new();
    for (insn, id) in &p.funcs {
        func_info.extend_from_slice(&(*insn as u32).to_ne_bytes());
        func_info.extend_from_slice(&id.to_ne_bytes());
    }
    let out = load_program(&ProgLoad {
        prog_type: p.prog_type.kernel_id(),
        insns: &words,
        name: "realprog2",
        // With the statistics, which the kernel glues to the lines it
        // prints without a newline.
        log_level: 1 | ironbpf_kernel::BPF_LOG_STATS,
        prog_btf_fd: kbtf.as_ref().map(|b| b.raw_fd()),
        func_info: &func_info,
        prog_flags: if p.sleepable { BPF_F_SLEEPABLE } else { 0 },
        ..Default::default()
    });
    let mut opts = VerifyOptions::new(p.prog_type);
    opts.log_level = 1;
    opts.sleepable = p.sleepable;
    if let Some(b) = &p.btf {
        opts.btf = Some(Arc::new(
            ironbpf_btf::Btf::parse(b).expect("the test's BTF parses"),
        ));
        opts.func_info = p
            .funcs
            .iter()
            .map(|&(insn, type_id)| FuncInfoRec { insn, type_id })
            .collect();
    }
    let ours = verify(&insns, &opts);
    Some((out, ours))
}

/// `call @name` as a call of the kfunc `name` of the running kernel's BTF.
fn resolve_kfuncs(text: &str) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    match ironbpf_verifier::vmlinux::vmlinux() {
        Ok(v) => resolve(&v, text),
        Err(e) => panic!("the kernel's BTF is needed: {e}"),
    }
}

fn check(name: &str, p: &Prog, verdict: Verdict) {
    if let Some((out, ours)) = run(name, p) {
        assert_verdicts(name, &out, &ours, verdict);
    }
}

#[test]
fn struct_ops_without_attach_btf_id_is_not_supported() {
    let name = "struct_ops_without_attach_btf_id_is_not_supported";
    let p = Prog {
        prog_type: ProgTypeId::StructOps,
        text: "r0 = 0\nexit",
        btf: None,
        funcs: Vec::new(),
        sleepable: false,
    };
    let Some((out, ours)) = run(name, &p) else {
        return;
    };
    // The kernel refuses before the first instruction and logs no reason.
    let kerr = out.result.as_ref().err().map(|e| e.errno);
    assert_eq!(
        kerr,
        Some(ENOTSUPP),
        "{name}: the kernel's log:\n{}",
        out.log
    );
    assert_eq!(out.processed_insns, Some(0), "{name}: {}", out.log);
    let rej = ours
        .result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("{name}: ironbpf accepted it:\n{}", ours.log));
    assert_eq!(rej.errno, ENOTSUPP, "{name}: {}", ours.log);
    assert_eq!(rej.insn, None);
    assert!(rej.message.contains("attach_btf_id"), "{}", rej.message);
    assert_eq!(ours.stats.processed_insns, 0);
}

/// BTF for `int main(void)` (the decl tags `tags` on it) and `int
/// cb(int cookie)`, global: (blob, main's id, cb's id).
fn exception_btf(tags: &[&str]) -> (Vec<u8>, u32, u32) {
    exception_btf_with(tags, true)
}

/// [`exception_btf`], the callback taking no argument unless `cookie`.
fn exception_btf_with(tags: &[&str], cookie: bool) -> (Vec<u8>, u32, u32) {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let main_proto = b.func_proto(int, &[]);
    let main = b.func("prog_main", main_proto, GLOBAL);
    let cb_params: &[(&str, u32)] = if cookie { &[("cookie", int)] } else { &[] };
    let cb_proto = b.func_proto(int, cb_params);
    let cb = b.func("exc_cb", cb_proto, GLOBAL);
    for t in tags {
        b.decl_tag(t, main, -1);
    }
    (b.build(), main, cb)
}

#[test]
fn exception_callback_missing_from_func_info() {
    // The tag names a FUNC that no func_info record (no subprogram) has.
    let (btf, main, _) = exception_btf(&["exception_callback:exc_cb"]);
    check(
        "exception_callback_missing_from_func_info",
        &Prog {
            prog_type: ProgTypeId::SchedCls,
            text: "r0 = 0\nexit",
            btf: Some(btf),
            funcs: vec![(0, main)],
            sleepable: false,
        },
        Verdict::RefusedWhole("exception callback type id not found in func_info"),
    );
}

#[test]
fn two_exception_callback_tags() {
    let (btf, main, _) = exception_btf(&["exception_callback:exc_cb", "exception_callback:other"]);
    check(
        "two_exception_callback_tags",
        &Prog {
            prog_type: ProgTypeId::SchedCls,
            text: "r0 = 0\nexit",
            btf: Some(btf),
            funcs: vec![(0, main)],
            sleepable: false,
        },
        Verdict::RefusedWhole("multiple exception callback tags for main subprog"),
    );
}

#[test]
fn exception_callback_called_directly() {
    // main calls the callback at insn 1; the callback returns its cookie.
    let (btf, main, cb) = exception_btf(&["exception_callback:exc_cb"]);
    check(
        "exception_callback_called_directly",
        &Prog {
            prog_type: ProgTypeId::SchedCls,
            text: "r1 = 0\ncall pc+2\nr0 = 0\nexit\nr0 = r1\nexit",
            btf: Some(btf),
            funcs: vec![(0, main), (4, cb)],
            sleepable: false,
        },
        Verdict::RefusedWhole("insn 1 cannot call exception cb directly"),
    );
}

#[test]
fn exception_callback_in_func_info_is_accepted() {
    // The callback is a subprogram of its own (a callback reference keeps
    // it in the program) and is never called directly.
    let (btf, main, cb) = exception_btf(&["exception_callback:exc_cb"]);
    check(
        "exception_callback_in_func_info_is_accepted",
        &Prog {
            prog_type: ProgTypeId::SchedCls,
            text: "r0 = 0\nexit\nr0 = r1\nexit",
            btf: Some(btf),
            funcs: vec![(0, main), (2, cb)],
            sleepable: false,
        },
        Verdict::Accepted,
    );
}

#[test]
fn exception_callback_without_argument() {
    // The callback is verified on its own, and must take the cookie.
    let (btf, main, cb) = exception_btf_with(&["exception_callback:exc_cb"], false);
    check(
        "exception_callback_without_argument",
        &Prog {
            prog_type: ProgTypeId::SchedCls,
            text: "r0 = 0\nexit\nr0 = 0\nexit",
            btf: Some(btf),
            funcs: vec![(0, main), (2, cb)],
            sleepable: false,
        },
        Verdict::RefusedWhole("exception cb only supports single integer argument"),
    );
}

/// BTF for `int main(void *ctx)` and the global `int sub(T *ctx
/// __arg_ctx)` with T an 8-byte unsigned int (`u64`) or `int`.
fn arg_ctx_btf(u64_ctx: bool) -> (Vec<u8>, u32, u32) {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let t = if u64_ctx {
        b.int("long long unsigned int", 8, false)
    } else {
        int
    };
    let pt = b.ptr(t);
    let pvoid = b.ptr(0);
    let main_proto = b.func_proto(int, &[("ctx", pvoid)]);
    let main = b.func("prog_main", main_proto, GLOBAL);
    let sub_proto = b.func_proto(int, &[("ctx", pt)]);
    let sub = b.func("sub", sub_proto, GLOBAL);
    b.decl_tag("arg:ctx", sub, 0);
    (b.build(), main, sub)
}

/// main passes its ctx to `sub`, which returns 0.
const PASS_CTX: &str = "call pc+2\nr0 = 0\nexit\nr0 = 0\nexit";

#[test]
fn arg_ctx_u64_array_of_raw_tracepoint() {
    let (btf, main, sub) = arg_ctx_btf(true);
    check(
        "arg_ctx_u64_array_of_raw_tracepoint",
        &Prog {
            prog_type: ProgTypeId::RawTracepoint,
            text: PASS_CTX,
            btf: Some(btf),
            funcs: vec![(0, main), (3, sub)],
            sleepable: false,
        },
        Verdict::Accepted,
    );
}

#[test]
fn arg_ctx_anything_for_tracepoint() {
    let (btf, main, sub) = arg_ctx_btf(false);
    check(
        "arg_ctx_anything_for_tracepoint",
        &Prog {
            prog_type: ProgTypeId::Tracepoint,
            text: PASS_CTX,
            btf: Some(btf),
            funcs: vec![(0, main), (3, sub)],
            sleepable: false,
        },
        Verdict::Accepted,
    );
}

#[test]
fn arg_ctx_int_pointer_of_raw_tracepoint_is_refused() {
    let (btf, main, sub) = arg_ctx_btf(false);
    check(
        "arg_ctx_int_pointer_of_raw_tracepoint_is_refused",
        &Prog {
            prog_type: ProgTypeId::RawTracepoint,
            text: PASS_CTX,
            btf: Some(btf),
            funcs: vec![(0, main), (3, sub)],
            sleepable: false,
        },
        Verdict::RefusedAt(0, "Caller passes invalid args into func#1 ('sub')"),
    );
}

#[test]
fn sleepable_kfunc_subprog_inside_preempt_disabled_section() {
    // A sleepable syscall program calls, with preemption disabled, a
    // global function whose body calls the sleepable kfunc
    // bpf_copy_from_user_str(dst, 1, NULL, 0) on a stack buffer.
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let pvoid = b.ptr(0);
    let main_proto = b.func_proto(int, &[("ctx", pvoid)]);
    let main = b.func("prog_main", main_proto, GLOBAL);
    let sub_proto = b.func_proto(int, &[]);
    let sub = b.func("sleeper", sub_proto, GLOBAL);
    let text = "call @bpf_preempt_disable\n\
        call pc+3\n\
        call @bpf_preempt_enable\n\
        r0 = 0\n\
        exit\n\
        *(u64 *)(r10 -8) = 0\n\
        r1 = r10\n\
        r1 += -8\n\
        r2 = 1\n\
        r3 = 0\n\
        r4 = 0\n\
        call @bpf_copy_from_user_str\n\
        r0 = 0\n\
        exit";
    check(
        "sleepable_kfunc_subprog_inside_preempt_disabled_section",
        &Prog {
            prog_type: ProgTypeId::Syscall,
            text,
            btf: Some(b.build()),
            funcs: vec![(0, main), (5, sub)],
            sleepable: true,
        },
        Verdict::RefusedAt(1, "a non-sleepable BPF program context"),
    );
}

/// A program without BTF.
fn plain(prog_type: ProgTypeId, text: &str) -> Prog<'_> {
    Prog {
        prog_type,
        text,
        btf: None,
        funcs: Vec::new(),
        sleepable: false,
    }
}

/// `bpf_local_irq_save(fp-8)`, three instructions.
const SAVE_8: &str = "r1 = r10\nr1 += -8\ncall @bpf_local_irq_save\n";
/// `bpf_local_irq_restore(fp-8)`, three instructions.
const RESTORE_8: &str = "r1 = r10\nr1 += -8\ncall @bpf_local_irq_restore\n";

#[test]
fn irq_save_then_restore() {
    let text = format!("{SAVE_8}{RESTORE_8}r0 = 0\nexit");
    check(
        "irq_save_then_restore",
        &plain(ProgTypeId::SchedCls, &text),
        Verdict::Accepted,
    );
}

#[test]
fn irq_exit_inside_section() {
    let text = format!("{SAVE_8}r0 = 0\nexit");
    check(
        "irq_exit_inside_section",
        &plain(ProgTypeId::SchedCls, &text),
        Verdict::RefusedAt(
            4,
            "BPF_EXIT instruction in main prog cannot be used inside bpf_local_irq_save-ed region",
        ),
    );
}

#[test]
fn irq_restore_out_of_order() {
    // Saved at fp-8 (insn 2), then fp-16 (insn 5): fp-8 is restored first.
    let text =
        format!("{SAVE_8}r1 = r10\nr1 += -16\ncall @bpf_local_irq_save\n{RESTORE_8}r0 = 0\nexit");
    check(
        "irq_restore_out_of_order",
        &plain(ProgTypeId::SchedCls, &text),
        Verdict::RefusedAt(
            8,
            "cannot restore irq state out of order, expected id=2 acquired at insn_idx=5",
        ),
    );
}

#[test]
fn irq_flag_overwritten_before_restore() {
    let text = format!("{SAVE_8}*(u64 *)(r10 -8) = 0\n{RESTORE_8}r0 = 0\nexit");
    check(
        "irq_flag_overwritten_before_restore",
        &plain(ProgTypeId::SchedCls, &text),
        Verdict::RefusedAt(6, "expected an initialized irq flag as arg#0"),
    );
}

#[test]
fn irq_flag_not_on_stack() {
    check(
        "irq_flag_not_on_stack",
        &plain(
            ProgTypeId::SchedCls,
            "call @bpf_local_irq_save\nr0 = 0\nexit",
        ),
        Verdict::RefusedAt(0, "arg#0 doesn't point to an irq flag on stack"),
    );
}

#[test]
fn irq_sleepable_helper_inside_section() {
    // A sleepable program calls bpf_copy_from_user(fp-16, 8, NULL) with
    // IRQs disabled.
    let text = format!(
        "{SAVE_8}r1 = r10\nr1 += -16\nr2 = 8\nr3 = 0\ncall bpf_copy_from_user\n{RESTORE_8}r0 = 0\nexit"
    );
    let p = Prog {
        sleepable: true,
        ..plain(ProgTypeId::Syscall, &text)
    };
    check(
        "irq_sleepable_helper_inside_section",
        &p,
        Verdict::RefusedAt(
            7,
            "sleepable helper bpf_copy_from_user#148 in IRQ-disabled region",
        ),
    );
}

/// BTF for the kprobe `int main(void *ctx)` and the global `int sub(struct
/// task_struct *task)` with the `arg:` tags `tags` on `task`.
fn task_arg_btf(tags: &[&str]) -> (Vec<u8>, u32, u32) {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let task = b.strukt("task_struct", 0, &[]);
    let ptask = b.ptr(task);
    let pvoid = b.ptr(0);
    let main_proto = b.func_proto(int, &[("ctx", pvoid)]);
    let main = b.func("prog_main", main_proto, GLOBAL);
    let sub_proto = b.func_proto(int, &[("task", ptask)]);
    let sub = b.func("sub", sub_proto, GLOBAL);
    for t in tags {
        b.decl_tag(&format!("arg:{t}"), sub, 0);
    }
    (b.build(), main, sub)
}

/// main passes `r1` (set by `first`, one instruction) to `sub` at insn 5.
fn task_arg_prog(first: &str) -> String {
    format!("{first}\nr1 = r0\ncall pc+2\nr0 = 0\nexit\nr0 = 0\nexit")
}

fn task_arg_case(name: &str, tags: &[&str], first: &str, verdict: Verdict) {
    let (btf, main, sub) = task_arg_btf(tags);
    let text = task_arg_prog(first);
    check(
        name,
        &Prog {
            prog_type: ProgTypeId::Kprobe,
            text: &text,
            btf: Some(btf),
            funcs: vec![(0, main), (5, sub)],
            sleepable: false,
        },
        verdict,
    );
}

#[test]
fn trusted_arg_takes_the_current_task() {
    task_arg_case(
        "trusted_arg_takes_the_current_task",
        &["trusted"],
        "call bpf_get_current_task_btf",
        Verdict::Accepted,
    );
}

#[test]
fn trusted_arg_refuses_a_scalar() {
    task_arg_case(
        "trusted_arg_refuses_a_scalar",
        &["trusted"],
        "r0 = 0",
        Verdict::RefusedAt(2, "Caller passes invalid args into func#1 ('sub')"),
    );
}

#[test]
fn trusted_nullable_arg_takes_null() {
    task_arg_case(
        "trusted_nullable_arg_takes_null",
        &["trusted", "nullable"],
        "r0 = 0",
        Verdict::Accepted,
    );
}

#[test]
fn untrusted_arg_takes_anything() {
    task_arg_case(
        "untrusted_arg_takes_anything",
        &["untrusted"],
        "r0 = 42",
        Verdict::Accepted,
    );
}

#[test]
fn untrusted_arg_with_another_tag() {
    task_arg_case(
        "untrusted_arg_with_another_tag",
        &["untrusted", "nullable"],
        "r0 = 0",
        Verdict::RefusedAt(2, "Caller passes invalid args into func#1 ('sub')"),
    );
}

/// A tc program: `skb->sk`, then `bpf_skc_to_tcp_sock` (a plain `ptr_`),
/// then `tcp->sk_socket->sk` (offsets 288 and 24) passed back to
/// `bpf_skc_to_tcp_sock`.
const WALK_PLAIN_PTR: &str = "r1 = *(u64 *)(r1 +168)\n\
    if r1 == 0x0 goto +8\n\
    call bpf_skc_to_tcp_sock\n\
    if r0 == 0x0 goto +6\n\
    r1 = *(u64 *)(r0 +288)\n\
    if r1 == 0x0 goto +4\n\
    r1 = *(u64 *)(r1 +24)\n\
    if r1 == 0x0 goto +2\n\
    call bpf_skc_to_tcp_sock\n\
    r0 = 0\n\
    r0 = 0\n\
    exit";

#[test]
fn pointer_walked_from_a_plain_btf_pointer_is_untrusted() {
    let name = "pointer_walked_from_a_plain_btf_pointer_is_untrusted";
    let Some((out, ours)) = run(name, &plain(ProgTypeId::SchedCls, WALK_PLAIN_PTR)) else {
        return;
    };
    // Both refuse the second call: its argument is an untrusted socket.
    assert!(!out.accepted(), "{name}: the kernel accepted it");
    assert_eq!(out.error_insn, Some(8), "{name}: {}", out.log);
    let rej = ours
        .result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("{name}: ironbpf accepted it:\n{}", ours.log));
    assert_eq!(rej.insn, Some(8), "{name}: {}", ours.log);
    assert!(last_line(rej).contains("untrusted_ptr_"), "{}", rej.message);
    assert_eq!(
        ironbpf_kernel::last_error_lines(&out.log, 1),
        [last_line(rej)],
        "{name}: {}",
        out.log
    );
}

#[test]
fn tp_btf_argument_the_kernel_marks_nullable() {
    // sched_pi_setprio(tsk, pi_task): pi_task may be NULL
    // (raw_tp_null_args); reading through it unchecked is refused.
    let name = "tp_btf_argument_the_kernel_marks_nullable";
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let vm = match ironbpf_verifier::vmlinux::vmlinux() {
        Ok(v) => v,
        Err(e) => panic!("{name}: the kernel's BTF is needed: {e}"),
    };
    let Some(id) = vm.find("btf_trace_sched_pi_setprio", ironbpf_btf::kind::TYPEDEF) else {
        println!("skipped: {name}: no sched_pi_setprio tracepoint in this kernel");
        return;
    };
    let insns = assemble("r1 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r1 +0)\nr0 = 0\nexit")
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let attach = ironbpf_progtype::AttachType::TraceRawTp;
    let out = load_program(&ProgLoad {
        prog_type: ProgTypeId::Tracing.kernel_id(),
        expected_attach_type: attach.kernel_id(),
        attach_btf_id: id,
        insns: &words,
        name: "realprog2",
        log_level: 1 | ironbpf_kernel::BPF_LOG_STATS,
        ..Default::default()
    });
    let mut opts = VerifyOptions::new(ProgTypeId::Tracing);
    opts.log_level = 1;
    opts.attach_type = Some(attach);
    opts.attach_btf_id = Some(id);
    let ours = verify(&insns, &opts);
    assert_verdicts(
        name,
        &out,
        &ours,
        Verdict::RefusedAt(1, "R1 invalid mem access 'trusted_ptr_or_null_'"),
    );
}

/// A kprobe calling `bpf_find_vma(current, 0, cb, NULL, 0)`; the static
/// callback (at insn 10) runs `body` with r2 = the VMA.
fn find_vma_case(name: &str, body: &str, verdict: Verdict) {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let pvoid = b.ptr(0);
    let main_proto = b.func_proto(int, &[("ctx", pvoid)]);
    let main = b.func("prog_main", main_proto, GLOBAL);
    let cb_proto = b.func_proto(int, &[("task", pvoid), ("vma", pvoid), ("data", pvoid)]);
    let cb = b.func("cb", cb_proto, btf_builder::STATIC);
    let text = format!(
        "call bpf_get_current_task_btf\nr1 = r0\nr2 = 0\nr3 = subprog[cb]\nr4 = 0\nr5 = 0\n\
         call bpf_find_vma\nr0 = 0\nexit\ncb:\n{body}"
    );
    check(
        name,
        &Prog {
            prog_type: ProgTypeId::Kprobe,
            text: &text,
            btf: Some(b.build()),
            funcs: vec![(0, main), (10, cb)],
            sleepable: false,
        },
        verdict,
    );
}

#[test]
fn find_vma_callback_reads_the_vma() {
    find_vma_case(
        "find_vma_callback_reads_the_vma",
        "r0 = *(u64 *)(r2 +0)\nr0 = 0\nexit",
        Verdict::Accepted,
    );
}

#[test]
fn find_vma_callback_may_not_write_the_vma() {
    find_vma_case(
        "find_vma_callback_may_not_write_the_vma",
        "r1 = 0\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit",
        Verdict::RefusedAt(11, "only read is supported"),
    );
}
