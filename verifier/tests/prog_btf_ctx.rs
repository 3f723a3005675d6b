//! BTF-typed contexts and `PTR_TO_BTF_ID` loads (`btf_ctx_access`,
//! `btf_struct_access`) against the running kernel: small tp_btf and
//! raw_tp programs that read `struct task_struct` fields through the
//! tracepoint's arguments and through `bpf_get_current_task_btf`, loaded
//! in the kernel (with `attach_btf_id` from /sys/kernel/btf/vmlinux) and
//! verified by ironbpf; both must give the same verdict, the same error
//! instruction and error lines, and the same register types in the level-2
//! log. Skips with a `skipped:` line where bpf(2) or vmlinux BTF cannot be
//! used (fails instead under IRONBPF_REQUIRE_KERNEL=1).
//!
//! This kernel runs as a virtual machine guest and refuses every fentry and
//! fexit load with EPERM and an empty log, so those cases are written by
//! hand from the kernel's rules (`prog_args_trusted`, `btf_ctx_arg_idx`,
//! the return value's slot) and say so.

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{is_trailer_line, last_error_lines, load_program, ProgLoad};
use ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_verifier::vmlinux::{vmlinux, Vmlinux};
use ironbpf_verifier::{verify, VerifyOptions};
use std::sync::Arc;

fn require() -> bool {
    std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1")
}

/// vmlinux BTF, or `None` (a `skipped:` line) where there is none.
fn vm(test: &str) -> Option<Arc<Vmlinux>> {
    match vmlinux() {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(!require(), "{test}: {e}");
            eprintln!("skipped: {test}: {e}");
            None
        }
    }
}

/// Byte offset of `field` in `struct sname` (a direct member).
fn field_off(v: &Vmlinux, sname: &str, field: &str) -> u32 {
    let id = v
        .struct_id(sname)
        .unwrap_or_else(|| panic!("struct {sname} in vmlinux BTF"));
    let (_, bits, _) = v
        .btf
        .member_by_name(id, field)
        .unwrap_or_else(|| panic!("{sname}.{field} in vmlinux BTF"));
    bits / 8
}

/// A program, where it attaches, and what both verifiers must say.
struct Case<'a> {
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
    /// The vmlinux BTF name of the target (`btf_trace_sched_switch`).
    target: Option<&'a str>,
    text: String,
    /// `None`: accepted; `Some((insn, lines))`: refused there with these
    /// last error lines.
    refused: Option<(usize, Vec<String>)>,
    /// Register types the level-2 logs must both show (`R2=trusted_ptr_task_struct()`).
    log_has: Vec<String>,
    /// Loaded with `BPF_F_SLEEPABLE`.
    sleepable: bool,
}

fn target_id(v: &Vmlinux, name: &str) -> u32 {
    let k = if name.starts_with("btf_trace_") {
        ironbpf_btf::kind::TYPEDEF
    } else {
        ironbpf_btf::kind::FUNC
    };
    v.find(name, k)
        .unwrap_or_else(|| panic!("{name} in vmlinux BTF"))
}

/// ironbpf's outcome at level 2.
fn ours(v: &Vmlinux, c: &Case) -> ironbpf_verifier::VerifyOutcome {
    let insns = assemble(&c.text).unwrap_or_else(|e| panic!("{e}\n{}", c.text));
    let mut opts = VerifyOptions::new(c.prog_type);
    opts.attach_type = c.attach;
    opts.attach_btf = c.target.map(str::to_string);
    opts.attach_btf_id = c.target.map(|t| target_id(v, t));
    opts.log_level = 2;
    opts.sleepable = c.sleepable;
    verify(&insns, &opts)
}

fn check_ours(name: &str, v: &Vmlinux, c: &Case) {
    let out = ours(v, c);
    match (&c.refused, &out.result) {
        (None, Ok(_)) => {}
        (None, Err(r)) => panic!("{name}: ironbpf refused it: {r}\n{}", out.log),
        (Some(_), Ok(_)) => panic!("{name}: ironbpf accepted it\n{}", out.log),
        (Some((insn, lines)), Err(r)) => {
            assert_eq!(r.insn, Some(*insn), "{name}: ironbpf's log:\n{}", out.log);
            let got: Vec<&str> = r
                .message
                .lines()
                .take_while(|l| !is_trailer_line(l))
                .collect();
            let want: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(got, want, "{name}: ironbpf's log:\n{}", out.log);
        }
    }
    for want in &c.log_has {
        assert!(
            out.log.contains(want.as_str()),
            "{name}: ironbpf's log lacks {want}:\n{}",
            out.log
        );
    }
}

/// Loads `c` in the kernel at level 2 and checks it against `c`, then
/// ironbpf.
fn check(name: &str, c: &Case) {
    let Some(v) = vm(name) else { return };
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(&c.text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let req = ProgLoad {
        prog_type: c.prog_type.kernel_id(),
        expected_attach_type: c.attach.map_or(0, |a| a.kernel_id()),
        attach_btf_id: c.target.map_or(0, |t| target_id(&v, t)),
        insns: &words,
        name: "btfctx",
        log_level: 2,
        prog_flags: if c.sleepable { 1 << 4 } else { 0 },
        ..Default::default()
    };
    let k = load_program(&req);
    if std::env::var("BTFCTX_SHOW").is_ok() {
        eprintln!(
            "--- {name}: kernel {:?}\n{}",
            k.result.as_ref().err(),
            k.log
        );
        eprintln!("--- ironbpf\n{}", ours(&v, c).log);
    }
    match &c.refused {
        None => assert!(
            k.result.is_ok(),
            "{name}: the kernel refused it:\n{}",
            k.log
        ),
        Some((insn, lines)) => {
            assert!(
                k.result.is_err(),
                "{name}: the kernel accepted it:\n{}",
                k.log
            );
            let want: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(
                last_error_lines(&k.log, lines.len()),
                want,
                "{name}: the kernel's log:\n{}",
                k.log
            );
            assert_eq!(
                k.error_insn,
                Some(*insn),
                "{name}: the kernel's log:\n{}",
                k.log
            );
        }
    }
    for want in &c.log_has {
        assert!(
            k.log.contains(want.as_str()),
            "{name}: the kernel's log lacks {want}:\n{}",
            k.log
        );
    }
    check_ours(name, &v, c);
}

fn tp(target: &'static str, text: String) -> Case<'static> {
    Case {
        prog_type: ProgTypeId::Tracing,
        attach: Some(AttachType::TraceRawTp),
        target: Some(target),
        text,
        refused: None,
        log_has: Vec::new(),
        sleepable: false,
    }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn offs(v: &Vmlinux) -> (u32, u32, u32) {
    (
        field_off(v, "task_struct", "pid"),
        field_off(v, "task_struct", "real_parent"),
        field_off(v, "task_struct", "mm"),
    )
}

#[test]
fn a_tp_btf_argument_is_a_trusted_task_struct_whose_pid_is_a_scalar() {
    let name = "a_tp_btf_argument_is_a_trusted_task_struct_whose_pid_is_a_scalar";
    let Some(v) = vm(name) else { return };
    let (pid, _, _) = offs(&v);
    let mut c = tp(
        "btf_trace_sched_switch",
        format!("r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{pid})\nr0 = 0\nexit"),
    );
    c.log_has = lines(&[
        "func 'sched_switch' arg1 has btf_id",
        "R2=trusted_ptr_task_struct()",
        "R0=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))",
    ]);
    check(name, &c);
}

#[test]
fn walking_a_trusted_task_gives_rcu_for_real_parent_and_untrusted_for_mm() {
    let name = "walking_a_trusted_task_gives_rcu_for_real_parent_and_untrusted_for_mm";
    let Some(v) = vm(name) else { return };
    let (pid, rp, mm) = offs(&v);
    let mut c = tp(
        "btf_trace_sched_switch",
        format!(
            "r2 = *(u64 *)(r1 +16)\nr3 = *(u64 *)(r2 +{rp})\nr0 = *(u32 *)(r3 +{pid})\nr4 = *(u64 *)(r2 +{mm})\nr0 = 0\nexit"
        ),
    );
    c.log_has = lines(&["R3=rcu_ptr_task_struct()", "R4=untrusted_ptr_mm_struct()"]);
    check(name, &c);
}

#[test]
fn a_char_pointer_field_is_untrusted_read_only_memory_read_without_bounds() {
    let name = "a_char_pointer_field_is_untrusted_read_only_memory_read_without_bounds";
    let Some(v) = vm(name) else { return };
    let fname = field_off(&v, "linux_binprm", "filename");
    let mut c = tp(
        "btf_trace_sched_process_exec",
        format!(
            "r2 = *(u64 *)(r1 +16)\nr3 = *(u64 *)(r2 +{fname})\nr0 = *(u8 *)(r3 +0)\nr0 = 0\nexit"
        ),
    );
    c.log_has = lines(&[
        "R2=trusted_ptr_linux_binprm()",
        "R3=rdonly_untrusted_mem(sz=0)",
    ]);
    check(name, &c);
}

#[test]
fn a_write_through_a_btf_pointer_is_refused() {
    let name = "a_write_through_a_btf_pointer_is_refused";
    let Some(v) = vm(name) else { return };
    let (pid, _, _) = offs(&v);
    let mut c = tp(
        "btf_trace_sched_switch",
        format!("r2 = *(u64 *)(r1 +8)\n*(u32 *)(r2 +{pid}) = 1\nr0 = 0\nexit"),
    );
    c.refused = Some((1, lines(&["only read is supported"])));
    check(name, &c);
}

#[test]
fn a_tracepoint_has_no_argument_past_its_last() {
    let name = "a_tracepoint_has_no_argument_past_its_last";
    let mut c = tp(
        "btf_trace_sched_switch",
        "r2 = *(u64 *)(r1 +32)\nr0 = 0\nexit".into(),
    );
    c.refused = Some((
        0,
        lines(&[
            "func 'sched_switch' doesn't have 5-th argument",
            "invalid bpf_context access off=32 size=8",
        ]),
    ));
    check(name, &c);
}

#[test]
fn a_pointer_argument_is_read_whole() {
    let name = "a_pointer_argument_is_read_whole";
    let mut c = tp(
        "btf_trace_sched_switch",
        "r2 = *(u32 *)(r1 +8)\nr0 = 0\nexit".into(),
    );
    c.refused = Some((
        0,
        lines(&[
            "func 'sched_switch' size 4 must be 8",
            "invalid bpf_context access off=8 size=4",
        ]),
    ));
    check(name, &c);
}

#[test]
fn a_scalar_argument_is_read_at_any_size() {
    let name = "a_scalar_argument_is_read_at_any_size";
    let mut c = tp(
        "btf_trace_sched_switch",
        "r2 = *(u8 *)(r1 +0)\nr3 = *(u32 *)(r1 +24)\nr0 = 0\nexit".into(),
    );
    c.log_has =
        lines(&["R2=scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"]);
    check(name, &c);
}

#[test]
fn a_context_write_in_tp_btf_is_refused() {
    let name = "a_context_write_in_tp_btf_is_refused";
    let mut c = tp(
        "btf_trace_sched_switch",
        "*(u64 *)(r1 +0) = 0\nr0 = 0\nexit".into(),
    );
    c.refused = Some((0, lines(&["invalid bpf_context access off=0 size=8"])));
    check(name, &c);
}

#[test]
fn an_access_beyond_the_struct_is_refused() {
    let name = "an_access_beyond_the_struct_is_refused";
    let Some(v) = vm(name) else { return };
    let id = v.struct_id("task_struct").expect("task_struct");
    let size = v.btf.size_of(id).expect("size") as u32;
    let mut c = tp(
        "btf_trace_sched_switch",
        format!("r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{size})\nr0 = 0\nexit"),
    );
    c.refused = Some((
        1,
        vec![format!(
            "access beyond struct task_struct at off {size} size 4"
        )],
    ));
    check(name, &c);
}

#[test]
fn a_pointer_member_is_read_whole() {
    let name = "a_pointer_member_is_read_whole";
    let Some(v) = vm(name) else { return };
    let (_, rp, _) = offs(&v);
    let mut c = tp(
        "btf_trace_sched_switch",
        format!("r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{rp})\nr0 = 0\nexit"),
    );
    c.refused = Some((
        1,
        vec![format!(
            "cannot access ptr member real_parent with moff {rp} in struct task_struct with off {rp} size 4"
        )],
    ));
    check(name, &c);
}

#[test]
fn a_negative_offset_into_a_btf_pointer_is_refused() {
    let name = "a_negative_offset_into_a_btf_pointer_is_refused";
    let mut c = tp(
        "btf_trace_sched_switch",
        "r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 -8)\nr0 = 0\nexit".into(),
    );
    c.refused = Some((
        1,
        lines(&["R2 is ptr_task_struct invalid negative access: off=-8"]),
    ));
    check(name, &c);
}

#[test]
fn a_variable_offset_into_a_btf_pointer_is_refused() {
    let name = "a_variable_offset_into_a_btf_pointer_is_refused";
    let mut c = tp(
        "btf_trace_sched_switch",
        "r2 = *(u64 *)(r1 +8)\nr3 = *(u8 *)(r1 +0)\nr2 += r3\nr0 = *(u32 *)(r2 +0)\nr0 = 0\nexit"
            .into(),
    );
    c.refused = Some((
        3,
        lines(&["R2 is ptr_task_struct invalid variable offset: off=0, var_off=(0x0; 0xff)"]),
    ));
    check(name, &c);
}

#[test]
fn get_current_task_btf_gives_a_trusted_task_struct() {
    let name = "get_current_task_btf_gives_a_trusted_task_struct";
    let Some(v) = vm(name) else { return };
    let (pid, _, _) = offs(&v);
    let text = format!("call bpf_get_current_task_btf\nr0 = *(u32 *)(r0 +{pid})\nr0 = 0\nexit");
    let mut c = tp("btf_trace_sched_switch", text.clone());
    c.log_has = lines(&["R0=trusted_ptr_task_struct()"]);
    check(name, &c);
    // raw_tp (BPF_PROG_TYPE_RAW_TRACEPOINT) has no BTF context but may
    // call the helper too.
    let mut c = Case {
        prog_type: ProgTypeId::RawTracepoint,
        attach: None,
        target: None,
        text,
        refused: None,
        log_has: lines(&["R0=trusted_ptr_task_struct()"]),
        sleepable: false,
    };
    check(name, &c);
    // It needs no null check, and adding a known zero keeps it readable.
    c.text = format!(
        "call bpf_get_current_task_btf\nr1 = 0\nr0 += r1\nr0 = *(u32 *)(r0 +{pid})\nr0 = 0\nexit"
    );
    check(name, &c);
}

#[test]
fn a_btf_pointer_in_a_non_gpl_program_is_refused() {
    // Checked by hand: the license is not passed to the kernel here.
    let name = "a_btf_pointer_in_a_non_gpl_program_is_refused";
    let Some(v) = vm(name) else { return };
    let (pid, _, _) = offs(&v);
    let insns = assemble(&format!(
        "r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{pid})\nr0 = 0\nexit"
    ))
    .expect("asm");
    let mut opts = VerifyOptions::new(ProgTypeId::Tracing);
    opts.attach_type = Some(AttachType::TraceRawTp);
    opts.attach_btf = Some("btf_trace_sched_switch".into());
    opts.gpl = false;
    let out = verify(&insns, &opts);
    let r = out.result.expect_err("refused");
    assert_eq!(r.insn, Some(1));
    assert_eq!(
        r.message,
        "Cannot access kernel 'struct task_struct' from non-GPL compatible program"
    );
}

#[test]
fn an_iterator_object_argument_may_be_null() {
    let name = "an_iterator_object_argument_may_be_null";
    let Some(v) = vm(name) else { return };
    let (pid, _, _) = offs(&v);
    let text =
        format!("r2 = *(u64 *)(r1 +8)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 +{pid})\nr0 = 0\nexit");
    let c = Case {
        prog_type: ProgTypeId::Tracing,
        attach: Some(AttachType::TraceIter),
        target: Some("bpf_iter_task"),
        text,
        refused: None,
        log_has: lines(&["R2=trusted_ptr_or_null_task_struct(id=1)"]),
        sleepable: false,
    };
    check(name, &c);
    let c = Case {
        text: format!("r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{pid})\nr0 = 0\nexit"),
        refused: Some((1, lines(&["R2 invalid mem access 'trusted_ptr_or_null_'"]))),
        log_has: Vec::new(),
        ..c
    };
    check(name, &c);
}

#[test]
fn an_lsm_hook_argument_is_trusted_and_its_return_value_is_an_errno() {
    // This VM guest refuses LSM loads with EPERM and an empty log, as it
    // does fentry: written by hand from `prog_args_trusted` (LSM
    // arguments are trusted) and `bpf_lsm_get_retval_range` (an int hook
    // returns [-MAX_ERRNO, 0]).
    let name = "an_lsm_hook_argument_is_trusted_and_its_return_value_is_an_errno";
    let Some(v) = vm(name) else { return };
    let c = Case {
        prog_type: ProgTypeId::Lsm,
        attach: Some(AttachType::LsmMac),
        target: Some("bpf_lsm_file_open"),
        text: "r2 = *(u64 *)(r1 +0)\nr3 = *(u64 *)(r1 +8)\nr0 = 0\nexit".into(),
        refused: None,
        log_has: lines(&[
            "R2=trusted_ptr_file()",
            "R3=scalar(smin=smin32=-4095,smax=smax32=0)",
            "func 'bpf_lsm_file_open' arg0 has btf_id",
        ]),
        sleepable: false,
    };
    check_ours(name, &v, &c);
}

/// `bpf_get_task_stack(task, buf, size, flags)` with `task` from `src`.
fn task_stack(src: &str) -> String {
    format!("{src}\nr2 = r10\nr2 += -16\nr3 = 16\nr4 = 0\ncall bpf_get_task_stack\nr0 = 0\nexit")
}

#[test]
fn a_task_struct_argument_takes_a_task_and_refuses_other_structs() {
    let name = "a_task_struct_argument_takes_a_task_and_refuses_other_structs";
    let Some(v) = vm(name) else { return };
    let (_, _, mm) = offs(&v);
    check(
        name,
        &tp("btf_trace_sched_switch", task_stack("r1 = *(u64 *)(r1 +8)")),
    );
    check(
        name,
        &tp(
            "btf_trace_sched_switch",
            task_stack("call bpf_get_current_task_btf\nr1 = r0"),
        ),
    );
    let mut c = tp(
        "btf_trace_sched_process_exec",
        task_stack("r1 = *(u64 *)(r1 +16)"),
    );
    c.refused = Some((
        5,
        lines(&["R1 is of type linux_binprm but task_struct is expected"]),
    ));
    check(name, &c);
    let mut c = tp(
        "btf_trace_sched_switch",
        task_stack(&format!("r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{mm})")),
    );
    c.refused = Some((
        6,
        lines(&["R1 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_"]),
    ));
    check(name, &c);
}

#[test]
fn nested_structs_and_arrays_are_walked_as_the_kernel_walks_them() {
    let name = "nested_structs_and_arrays_are_walked_as_the_kernel_walks_them";
    let Some(v) = vm(name) else { return };
    let comm = field_off(&v, "task_struct", "comm");
    let se = field_off(&v, "task_struct", "se");
    let vr = field_off(&v, "sched_entity", "vruntime");
    // comm[3] (a char array), se.vruntime (a nested struct's u64), and an
    // 8-byte read inside comm (an int array is scratch space).
    let mut c = tp(
        "btf_trace_sched_switch",
        format!(
            "r2 = *(u64 *)(r1 +8)\nr0 = *(u8 *)(r2 +{})\nr0 = *(u64 *)(r2 +{})\nr0 = *(u64 *)(r2 +{comm})\nr0 = 0\nexit",
            comm + 3,
            se + vr
        ),
    );
    check(name, &c);
    // A read across the end of comm into the next member.
    let comm_len = 16;
    c.text = format!(
        "r2 = *(u64 *)(r1 +8)\nr0 = *(u64 *)(r2 +{})\nr0 = 0\nexit",
        comm + comm_len - 4
    );
    let mut ok = true;
    // Only where comm is followed by a member that does not start at its end.
    if let Some(id) = v.struct_id("task_struct") {
        let t = v.btf.get(id).expect("type");
        let next = t
            .members
            .iter()
            .map(|m| ironbpf_btf::Btf::member_bit_offset(t, m) / 8)
            .find(|&o| o >= comm + comm_len);
        ok = next.is_some();
    }
    if ok {
        c.refused = Some((
            1,
            vec![format!(
                "access beyond the end of member comm (mend:{}) in struct task_struct with off {} size 8",
                comm + comm_len,
                comm + comm_len - 4
            )],
        ));
        check(name, &c);
    }
}

#[test]
fn a_sleepable_program_walking_a_trusted_pointer_gets_untrusted_pointers() {
    let name = "a_sleepable_program_walking_a_trusted_pointer_gets_untrusted_pointers";
    let Some(v) = vm(name) else { return };
    let (pid, rp, _) = offs(&v);
    // iter.s/task: not in an RCU read section, so task->real_parent
    // (RCU-safe only inside one) is untrusted.
    let c = Case {
        prog_type: ProgTypeId::Tracing,
        attach: Some(AttachType::TraceIter),
        target: Some("bpf_iter_task"),
        text: format!(
            "r2 = *(u64 *)(r1 +8)\nif r2 == 0 goto +2\nr3 = *(u64 *)(r2 +{rp})\nr0 = *(u32 *)(r3 +{pid})\nr0 = 0\nexit"
        ),
        refused: None,
        log_has: lines(&["R3=untrusted_ptr_task_struct()"]),
        sleepable: true,
    };
    check(name, &c);
}

#[test]
fn pruning_tells_btf_pointers_of_different_structs_apart() {
    let name = "pruning_tells_btf_pointers_of_different_structs_apart";
    let Some(v) = vm(name) else { return };
    let (pid, _, _) = offs(&v);
    let bprm = v.struct_id("linux_binprm").expect("linux_binprm");
    let bprm_size = v.btf.size_of(bprm).expect("size");
    assert!(
        u64::from(pid) + 4 > bprm_size,
        "pid is past linux_binprm's end"
    );
    // The fall-through path reaches the join with a task_struct in r2
    // (100 moves on the way, as many as `add_new_state` wants before it
    // keeps a state); the jump's path brings a linux_binprm there, which
    // must be refused, not taken as equivalent (`regsafe` compares the
    // BTF type and its flags).
    let pad = "r4 = 0\n".repeat(100);
    let mut c = tp(
        "btf_trace_sched_process_exec",
        format!(
            "r2 = *(u64 *)(r1 +16)\nr3 = *(u32 *)(r1 +8)\nif r3 == 0 goto +101\nr2 = *(u64 *)(r1 +0)\n{pad}r0 = *(u32 *)(r2 +{pid})\nr0 = 0\nexit"
        ),
    );
    c.refused = Some((
        104,
        vec![format!(
            "access beyond struct linux_binprm at off {pid} size 4"
        )],
    ));
    check(name, &c);
}
