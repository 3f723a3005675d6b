//! kfunc calls, references through kfuncs, RCU read sections and
//! open-coded iterators against the running kernel: small programs written
//! with the assembler (a kfunc is called as `call @bpf_task_acquire`, the
//! id filled in from /sys/kernel/btf/vmlinux), loaded in the kernel at log
//! level 2 and verified by ironbpf. Both must give the same verdict; a
//! refusal the same instruction and the same error lines; an acceptance a
//! processed-instruction count within 2x of the kernel's (the ratio is
//! printed). Each case also says what is expected, so that ironbpf is
//! checked where bpf(2) cannot be used (the kernel part then prints
//! `skipped:`, and fails instead under IRONBPF_REQUIRE_KERNEL=1).
//!
//! Program types: tp_btf (tracing, `sched_switch`), sched_cls, xdp and
//! syscall (sleepable). fentry loads give EPERM in this VM, so none are
//! here.

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{is_trailer_line, last_error_lines, load_program, ProgLoad};
use ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_verifier::vmlinux::{vmlinux, Vmlinux};
use ironbpf_verifier::{verify, VerifyOptions};
use kernel_case::resolve;

mod kernel_case;

fn require() -> bool {
    std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1")
}

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    TpBtf,
    Tc,
    Xdp,
    Syscall,
}

struct Case {
    name: &'static str,
    ty: Ty,
    text: String,
    /// `None`: accepted; `Some((insn, lines))`: refused at `insn` (`None`
    /// for refusals before exploration) with these last error lines.
    refused: Option<(Option<usize>, Vec<&'static str>)>,
    /// Lines both level-2 logs contain.
    log_has: Vec<&'static str>,
}

fn ok(name: &'static str, ty: Ty, text: String, log_has: Vec<&'static str>) -> Case {
    Case {
        name,
        ty,
        text,
        refused: None,
        log_has,
    }
}

fn bad(
    name: &'static str,
    ty: Ty,
    text: String,
    insn: Option<usize>,
    lines: Vec<&'static str>,
) -> Case {
    Case {
        name,
        ty,
        text,
        refused: Some((insn, lines)),
        log_has: Vec::new(),
    }
}

fn opts_for(v: &Vmlinux, ty: Ty) -> VerifyOptions {
    let mut o = match ty {
        Ty::TpBtf => {
            let mut o = VerifyOptions::new(ProgTypeId::Tracing);
            o.attach_type = Some(AttachType::TraceRawTp);
            o.attach_btf = Some("btf_trace_sched_switch".into());
            o.attach_btf_id = v.find("btf_trace_sched_switch", ironbpf_btf::kind::TYPEDEF);
            o
        }
        Ty::Tc => VerifyOptions::new(ProgTypeId::SchedCls),
        Ty::Xdp => VerifyOptions::new(ProgTypeId::Xdp),
        Ty::Syscall => {
            let mut o = VerifyOptions::new(ProgTypeId::Syscall);
            o.sleepable = true;
            o
        }
    };
    o.log_level = 2;
    o
}

fn kernel_load(v: &Vmlinux, c: &Case, words: &[u64]) -> ironbpf_kernel::LoadOutcome {
    let o = opts_for(v, c.ty);
    load_program(&ProgLoad {
        prog_type: o.prog_type.kernel_id(),
        expected_attach_type: o.attach_type.map_or(0, |a| a.kernel_id()),
        attach_btf_id: o.attach_btf_id.unwrap_or(0),
        insns: words,
        name: "kfunc",
        log_level: 2,
        prog_flags: if o.sleepable { 1 << 4 } else { 0 },
        ..Default::default()
    })
}

/// Checks every case against ironbpf and, where it can be loaded, the
/// kernel; returns (cases, kernel-compared, processed ratios).
fn run(cases: &[Case]) -> (usize, usize, Vec<f64>) {
    let v = match vmlinux() {
        Ok(v) => v,
        Err(e) => {
            assert!(!require(), "{e}");
            eprintln!("skipped: {e}");
            return (0, 0, Vec::new());
        }
    };
    let kernel = ironbpf_kernel::available_for_test("prog_kfunc");
    let mut compared = 0;
    let mut ratios = Vec::new();
    for c in cases {
        let text = resolve(&v, &c.text);
        let insns = assemble(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", c.name));
        let out = verify(&insns, &opts_for(&v, c.ty));
        let show = std::env::var("KFUNC_SHOW").is_ok_and(|s| s == c.name || s == "all");
        if show {
            eprintln!("--- {} ironbpf\n{}", c.name, out.log);
        }
        match (&c.refused, &out.result) {
            (None, Ok(_)) => {}
            (None, Err(r)) => panic!("{}: ironbpf refused it: {r}\n{}", c.name, out.log),
            (Some(_), Ok(_)) => panic!("{}: ironbpf accepted it\n{}", c.name, out.log),
            (Some((insn, lines)), Err(r)) => {
                if insn.is_some() {
                    assert_eq!(r.insn, *insn, "{}: ironbpf's log:\n{}", c.name, out.log);
                }
                let got: Vec<&str> = r
                    .message
                    .lines()
                    .take_while(|l| !is_trailer_line(l))
                    .collect();
                let n = got.len().saturating_sub(lines.len());
                assert_eq!(
                    &got[n..],
                    &lines[..],
                    "{}: ironbpf's log:\n{}",
                    c.name,
                    out.log
                );
            }
        }
        for want in &c.log_has {
            assert!(
                out.log.contains(want),
                "{}: ironbpf's log lacks {want}:\n{}",
                c.name,
                out.log
            );
        }
        if !kernel {
            continue;
        }
        let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
        let k = kernel_load(&v, c, &words);
        if show {
            eprintln!("--- {} kernel\n{}", c.name, k.log);
        }
        match &c.refused {
            None => {
                assert!(
                    k.accepted(),
                    "{}: the kernel refused it:\n{}",
                    c.name,
                    k.log
                );
                let (ko, ours) = (k.processed_insns.unwrap_or(0), out.stats.processed_insns);
                let ratio = ours as f64 / ko.max(1) as f64;
                let (ks, os) = (k.stats.total_states.unwrap_or(0), out.stats.total_states);
                eprintln!(
                    "{}: processed {ours} insns, the kernel {ko} (ratio {ratio:.2}); total_states {os}, the kernel {ks}",
                    c.name
                );
                assert!(
                    os <= 2 * ks.max(1) && ks <= 2 * os.max(1),
                    "{}: {os} states, the kernel {ks}\n{}\n--- kernel\n{}",
                    c.name,
                    out.log,
                    k.log
                );
                assert!(
                    (0.5..=2.0).contains(&ratio),
                    "{}: processed {ours} insns, the kernel {ko}\n{}\n--- kernel\n{}",
                    c.name,
                    out.log,
                    k.log
                );
                ratios.push(ratio);
            }
            Some((insn, lines)) => {
                assert!(
                    !k.accepted(),
                    "{}: the kernel accepted it:\n{}",
                    c.name,
                    k.log
                );
                assert_eq!(
                    last_error_lines(&k.log, lines.len()),
                    *lines,
                    "{}: the kernel's log:\n{}",
                    c.name,
                    k.log
                );
                if insn.is_some() {
                    assert_eq!(
                        k.error_insn, *insn,
                        "{}: the kernel's log:\n{}",
                        c.name, k.log
                    );
                }
            }
        }
        for want in &c.log_has {
            assert!(
                k.log.contains(want),
                "{}: the kernel's log lacks {want}:\n{}",
                c.name,
                k.log
            );
        }
        compared += 1;
    }
    (cases.len(), compared, ratios)
}

fn report(what: &str, (n, compared, ratios): (usize, usize, Vec<f64>)) {
    let mut r = ratios.clone();
    r.sort_by(|a, b| a.total_cmp(b));
    let med = r.get(r.len() / 2).copied().unwrap_or(0.0);
    eprintln!(
        "{what}: {n} programs, {compared} compared with the kernel (verdict, insn and message identical); processed-insns ratio median {med:.2} over {} accepted",
        r.len()
    );
}

#[test]
fn kfunc_calls_prototypes_and_program_types_match_the_kernel() {
    let cases = vec![
        bad(
            "not_a_function",
            Ty::Tc,
            "call kernel-function#1\nr0 = 0\nexit".into(),
            None,
            vec!["kernel btf_id 1 is not a function"],
        ),
        bad(
            "not_a_kfunc",
            Ty::Tc,
            "call @do_unlinkat\nr0 = 0\nexit".into(),
            Some(0),
            vec!["calling kernel function do_unlinkat is not allowed"],
        ),
        bad(
            "cpumask_not_for_tc",
            Ty::Tc,
            "call @bpf_cpumask_create\nr0 = 0\nexit".into(),
            Some(0),
            vec!["calling kernel function bpf_cpumask_create is not allowed"],
        ),
        bad(
            "cgroup_from_id_leaks_in_xdp",
            Ty::Xdp,
            "r1 = 1\ncall @bpf_cgroup_from_id\nr0 = 0\nexit".into(),
            Some(3),
            vec![
                "Unreleased reference id=2 alloc_insn=1",
                "BPF_EXIT instruction in main prog would lead to reference leak",
            ],
        ),
        bad(
            "scalar_arg_gets_ctx",
            Ty::TpBtf,
            "call @bpf_task_from_pid\nr0 = 0\nexit".into(),
            Some(0),
            vec!["R1 is not a scalar"],
        ),
        bad(
            "struct_arg_gets_scalar",
            Ty::TpBtf,
            "r1 = 5\ncall @bpf_task_acquire\nr0 = 0\nexit".into(),
            Some(1),
            vec!["arg#0 pointer type STRUCT task_struct must point to scalar, or struct with scalar"],
        ),
        bad(
            "struct_arg_gets_stack",
            Ty::TpBtf,
            "r1 = r10\nr1 += -8\ncall @bpf_task_acquire\nr0 = 0\nexit".into(),
            Some(2),
            vec!["arg#0 pointer type STRUCT task_struct must point to scalar, or struct with scalar"],
        ),
        bad(
            "null_to_trusted_arg",
            Ty::TpBtf,
            "r1 = 0\ncall @bpf_task_acquire\nr0 = 0\nexit".into(),
            Some(1),
            vec!["Possibly NULL pointer passed to trusted arg0"],
        ),
        bad(
            "untrusted_to_rcu_kfunc",
            Ty::TpBtf,
            "r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{task_struct.last_wakee})\ncall @bpf_task_acquire\nr0 = 0\nexit".into(),
            Some(2),
            vec!["R1 must be a rcu pointer"],
        ),
        bad(
            "wrong_struct",
            Ty::TpBtf,
            "r1 = *(u64 *)(r1 +8)\ncall @bpf_cgroup_acquire\nr0 = 0\nexit".into(),
            Some(1),
            vec!["kernel function bpf_cgroup_acquire args#0 expected pointer to STRUCT cgroup but R1 has a pointer to STRUCT task_struct"],
        ),
        ok(
            "task_under_cgroup_of_from_id",
            Ty::TpBtf,
            "r6 = *(u64 *)(r1 +8)\nr1 = 1\ncall @bpf_cgroup_from_id\nif r0 == 0 goto +6\nr7 = r0\nr1 = r6\nr2 = r0\ncall @bpf_task_under_cgroup\nr1 = r7\ncall @bpf_cgroup_release\nr0 = 0\nexit".into(),
            vec!["call bpf_cgroup_from_id#"],
        ),
        ok(
            "weak_kfunc_in_dead_code",
            Ty::Tc,
            "r0 = 0\nif r0 == 0 goto +1\ncall kernel-function#0\nr0 = 0\nexit".into(),
            vec![],
        ),
        bad(
            "weak_kfunc_reached",
            Ty::Tc,
            "call kernel-function#0\nr0 = 0\nexit".into(),
            None,
            vec!["invalid kernel function call not eliminated in verifier pass"],
        ),
    ];
    report("kfunc calls", run(&cases));
}

#[test]
fn references_through_kfuncs_match_the_kernel() {
    let cases = vec![
        ok(
            "task_acquire_release",
            Ty::TpBtf,
            "r1 = *(u64 *)(r1 +8)\ncall @bpf_task_acquire\nif r0 == 0 goto +2\nr1 = r0\ncall @bpf_task_release\nr0 = 0\nexit".into(),
            vec![
                "1: (85) call bpf_task_acquire#",
                "R0=ptr_or_null_task_struct(id=2,ref_obj_id=2) refs=2",
                "R0=ptr_task_struct(ref_obj_id=2) refs=2",
            ],
        ),
        bad(
            "task_acquire_leaks",
            Ty::TpBtf,
            "r1 = *(u64 *)(r1 +8)\ncall @bpf_task_acquire\nr0 = 0\nexit".into(),
            Some(3),
            vec![
                "Unreleased reference id=2 alloc_insn=1",
                "BPF_EXIT instruction in main prog would lead to reference leak",
            ],
        ),
        bad(
            "release_without_null_check",
            Ty::TpBtf,
            "r1 = *(u64 *)(r1 +8)\ncall @bpf_task_acquire\nr1 = r0\ncall @bpf_task_release\nr0 = 0\nexit".into(),
            Some(3),
            vec!["Possibly NULL pointer passed to trusted arg0"],
        ),
        bad(
            "release_of_unacquired",
            Ty::TpBtf,
            "r1 = *(u64 *)(r1 +8)\ncall @bpf_task_release\nr0 = 0\nexit".into(),
            Some(1),
            vec!["release kernel function bpf_task_release expects refcounted PTR_TO_BTF_ID"],
        ),
        ok(
            "task_from_pid_in_tc",
            Ty::Tc,
            "r1 = 1\ncall @bpf_task_from_pid\nif r0 == 0 goto +2\nr1 = r0\ncall @bpf_task_release\nr0 = 0\nexit".into(),
            vec!["R0=ptr_or_null_task_struct(id=2,ref_obj_id=2) refs=2"],
        ),
        bad(
            "released_pointer_is_dead",
            Ty::Tc,
            "r1 = 1\ncall @bpf_task_from_pid\nif r0 == 0 goto +4\nr6 = r0\nr1 = r0\ncall @bpf_task_release\nr0 = *(u32 *)(r6 +0)\nr0 = 0\nexit".into(),
            Some(6),
            vec!["R6 invalid mem access 'scalar'"],
        ),
        ok(
            "cgroup_ancestor_chain",
            Ty::TpBtf,
            "r1 = 1\ncall @bpf_cgroup_from_id\nif r0 == 0 goto +9\nr6 = r0\nr1 = r0\nr2 = 1\ncall @bpf_cgroup_ancestor\nif r0 == 0 goto +2\nr1 = r0\ncall @bpf_cgroup_release\nr1 = r6\ncall @bpf_cgroup_release\nr0 = 0\nexit".into(),
            vec![],
        ),
        ok(
            "cpumask_create_set_release",
            Ty::TpBtf,
            "call @bpf_cpumask_create\nif r0 == 0 goto +6\nr6 = r0\nr1 = 0\nr2 = r0\ncall @bpf_cpumask_set_cpu\nr1 = r6\ncall @bpf_cpumask_release\nr0 = 0\nexit".into(),
            vec![],
        ),
        bad(
            "acquired_pointer_with_offset_released",
            Ty::Tc,
            "r1 = 1\ncall @bpf_task_from_pid\nif r0 == 0 goto +3\nr1 = r0\nr1 += 8\ncall @bpf_task_release\nr0 = 0\nexit".into(),
            Some(5),
            vec!["R1 must have zero offset when passed to release func or trusted arg to kfunc"],
        ),
    ];
    report("references", run(&cases));
}

#[test]
fn rcu_read_sections_match_the_kernel() {
    let lock = "call @bpf_rcu_read_lock";
    let unlock = "call @bpf_rcu_read_unlock";
    let cases = vec![
        ok(
            "lock_unlock",
            Ty::Tc,
            format!("{lock}\n{unlock}\nr0 = 0\nexit"),
            vec![],
        ),
        bad(
            "exit_inside",
            Ty::Tc,
            format!("{lock}\nr0 = 0\nexit"),
            Some(2),
            vec!["BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region"],
        ),
        bad(
            "nested",
            Ty::TpBtf,
            format!("{lock}\n{lock}\n{unlock}\n{unlock}\nr0 = 0\nexit"),
            Some(1),
            vec!["nested rcu read lock (kernel function bpf_rcu_read_lock)"],
        ),
        bad(
            "unmatched_unlock",
            Ty::Xdp,
            format!("{unlock}\nr0 = 0\nexit"),
            Some(0),
            vec!["unmatched rcu read unlock (kernel function bpf_rcu_read_unlock)"],
        ),
        bad(
            "unlocked_on_one_path",
            Ty::Tc,
            format!("call 7\nr6 = r0\n{lock}\nif r6 == 0 goto +1\n{unlock}\nr0 = 0\nexit"),
            Some(6),
            vec!["BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region"],
        ),
        ok(
            "rcu_pointer_acquired_inside",
            Ty::Syscall,
            format!("{lock}\ncall 158\nr1 = *(u64 *)(r0 +{{task_struct.real_parent}})\nif r1 == 0 goto +4\ncall @bpf_task_acquire\nif r0 == 0 goto +2\nr1 = r0\ncall @bpf_task_release\n{unlock}\nr0 = 0\nexit"),
            vec![],
        ),
        bad(
            "sleepable_helper_inside",
            Ty::Syscall,
            format!("{lock}\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\n{unlock}\nr0 = 0\nexit"),
            Some(5),
            vec!["sleepable helper bpf_copy_from_user#148 in rcu_read_lock region"],
        ),
        bad(
            "rcu_field_after_unlock",
            Ty::Syscall,
            format!("{lock}\ncall 158\nr6 = *(u64 *)(r0 +{{task_struct.real_parent}})\n{unlock}\nif r6 == 0 goto +2\nr1 = r6\ncall @bpf_task_acquire\nr0 = 0\nexit"),
            Some(6),
            vec!["R1 must be a rcu pointer"],
        ),
    ];
    report("rcu", run(&cases));
}

fn for_loop(n: i32, body: &str, destroy: bool) -> String {
    // r6 sums the elements of bpf_for(i, 0, n).
    let body_len = body.lines().count() as i32;
    let mut s = format!(
        "r6 = 0\nr1 = r10\nr1 += -8\nr2 = 0\nr3 = {n}\ncall @bpf_iter_num_new\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_next\nif r0 == 0 goto +{}\nr1 = *(u32 *)(r0 +0)\n{body}\ngoto -{}\n",
        body_len + 2,
        body_len + 6
    );
    if destroy {
        s.push_str("r1 = r10\nr1 += -8\ncall @bpf_iter_num_destroy\n");
    }
    s.push_str("r0 = 0\nexit");
    s
}

/// bpf_for_each(task, ...) summing the pids, between `pre` and `post`.
fn task_loop(pre: &str, post: &str) -> String {
    let mut s = String::new();
    if !pre.is_empty() {
        s.push_str(pre);
        s.push('\n');
    }
    s.push_str("r6 = 0\nr1 = r10\nr1 += -24\nr2 = 0\nr3 = 0\ncall @bpf_iter_task_new\nr1 = r10\nr1 += -24\ncall @bpf_iter_task_next\nif r0 == 0 goto +3\nr1 = *(u32 *)(r0 +{task_struct.pid})\nr6 += r1\ngoto -7\nr1 = r10\nr1 += -24\ncall @bpf_iter_task_destroy\n");
    if !post.is_empty() {
        s.push_str(post);
        s.push('\n');
    }
    s.push_str("r0 = 0\nexit");
    s
}

#[test]
fn open_coded_iterators_match_the_kernel() {
    let cases = vec![
        ok(
            "bpf_for_sum",
            Ty::Tc,
            for_loop(10, "r6 += r1", true),
            vec![
                "fp-8=iter_num(ref_id=1,state=active,depth=0) refs=1",
                "fp-8=iter_num(ref_id=1,state=drained,depth=0) refs=1",
                "fp-8=iter_num(ref_id=1,state=active,depth=1) refs=1",
            ],
        ),
        ok(
            "bpf_for_bounded_index",
            Ty::Xdp,
            for_loop(100, "if r1 > 7 goto +2\nr1 <<= 3\nr6 += r1", true),
            vec![],
        ),
        ok(
            "nested_bpf_for",
            Ty::Tc,
            "r6 = 0\nr1 = r10\nr1 += -8\nr2 = 0\nr3 = 3\ncall @bpf_iter_num_new\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_next\nif r0 == 0 goto +15\nr1 = r10\nr1 += -16\nr2 = 0\nr3 = 4\ncall @bpf_iter_num_new\nr1 = r10\nr1 += -16\ncall @bpf_iter_num_next\nif r0 == 0 goto +2\nr6 += 1\ngoto -6\nr1 = r10\nr1 += -16\ncall @bpf_iter_num_destroy\ngoto -19\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_destroy\nr0 = 0\nexit".into(),
            vec!["fp-16=iter_num(ref_id=3,state=active,depth=0) refs=1,3"],
        ),
        ok(
            "bpf_repeat",
            Ty::Xdp,
            "r6 = 0\nr1 = r10\nr1 += -8\nr2 = 0\nr3 = 5\ncall @bpf_iter_num_new\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_next\nif r0 == 0 goto +2\nr6 += 1\ngoto -6\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_destroy\nr0 = 2\nexit".into(),
            vec![],
        ),
        ok(
            "bpf_for_in_tp_btf",
            Ty::TpBtf,
            for_loop(1000, "r1 &= 7\nr6 += r1", true),
            vec![],
        ),
        ok(
            "bpf_for_each_task",
            Ty::TpBtf,
            task_loop("", ""),
            vec!["R0=rcu_ptr_task_struct(id=4)", "fp-24=iter_task(ref_id=1,state=active,depth=3) refs=1"],
        ),
        bad(
            "task_iterator_needs_rcu_when_sleepable",
            Ty::Syscall,
            task_loop("", ""),
            Some(5),
            vec!["kernel func bpf_iter_task_new requires RCU critical section protection"],
        ),
        ok(
            "task_iterator_in_rcu_section",
            Ty::Syscall,
            task_loop("call @bpf_rcu_read_lock", "call @bpf_rcu_read_unlock"),
            vec![],
        ),
        bad(
            "task_iterator_after_unlock",
            Ty::Syscall,
            "call @bpf_rcu_read_lock\nr1 = r10\nr1 += -24\nr2 = 0\nr3 = 0\ncall @bpf_iter_task_new\ncall @bpf_rcu_read_unlock\nr1 = r10\nr1 += -24\ncall @bpf_iter_task_next\nr1 = r10\nr1 += -24\ncall @bpf_iter_task_destroy\nr0 = 0\nexit".into(),
            Some(9),
            vec!["expected an RCU CS when using bpf_iter_task_next"],
        ),
        bad(
            "iterator_leaks",
            Ty::Tc,
            for_loop(10, "r6 += r1", false),
            None,
            vec!["BPF_EXIT instruction in main prog would lead to reference leak"],
        ),
        bad(
            "next_before_new",
            Ty::Tc,
            "r1 = r10\nr1 += -8\ncall @bpf_iter_num_next\nr0 = 0\nexit".into(),
            Some(2),
            vec!["expected an initialized iter_num as arg #0"],
        ),
        bad(
            "new_twice",
            Ty::Tc,
            "r1 = r10\nr1 += -8\nr2 = 0\nr3 = 10\ncall @bpf_iter_num_new\nr1 = r10\nr1 += -8\nr2 = 0\nr3 = 10\ncall @bpf_iter_num_new\nr0 = 0\nexit".into(),
            Some(9),
            vec!["expected uninitialized iter_num as arg #0"],
        ),
        bad(
            "iterator_read_as_data",
            Ty::Tc,
            "r1 = r10\nr1 += -8\nr2 = 0\nr3 = 10\ncall @bpf_iter_num_new\nr1 = *(u64 *)(r10 -8)\nr0 = 0\nexit".into(),
            Some(5),
            vec!["invalid read from stack off -8+0 size 8"],
        ),
        bad(
            "iterator_not_on_stack",
            Ty::Tc,
            "r2 = 0\nr3 = 10\ncall @bpf_iter_num_new\nr0 = 0\nexit".into(),
            Some(2),
            vec!["arg#0 expected pointer to an iterator on stack"],
        ),
        bad(
            "element_after_destroy",
            Ty::Tc,
            "r1 = r10\nr1 += -8\nr2 = 0\nr3 = 10\ncall @bpf_iter_num_new\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_next\nif r0 == 0 goto +5\nr6 = r0\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_destroy\nr0 = *(u32 *)(r6 +0)\nr1 = r10\nr1 += -8\ncall @bpf_iter_num_destroy\nr0 = 0\nexit".into(),
            Some(13),
            vec!["R6 invalid mem access 'scalar'"],
        ),
    ];
    report("iterators", run(&cases));
}
