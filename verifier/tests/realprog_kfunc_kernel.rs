//! kfunc rules that real programs (the kernel's BPF selftests and bcc's
//! libbpf-tools, measured outside the repo) showed ironbpf getting wrong,
//! each as a small program of our own, verified by ironbpf and loaded in
//! the running kernel: both must give the expected verdict and, where they
//! refuse, the same last error line at the same instruction.
//! - the bits iterator (`bpf_iter_bits_new/next/destroy`) is an ordinary
//!   open-coded iterator;
//! - `bpf_cast_to_kern_ctx` turns the context into a trusted pointer to the
//!   kernel's context struct (`struct sk_buff` for tc);
//! - `bpf_rdonly_cast` gives an untrusted pointer to a struct, or with type
//!   id 0 read-only untrusted memory whose offsets are not tracked;
//! - the session kfuncs are for kprobe/uprobe sessions only, and
//!   `bpf_session_cookie` returns a writable u64;
//! - `bpf_throw` ends the path (an exceptional exit), which may not leave
//!   a reference or an RCU read section behind;
//! - `bpf_preempt_disable/enable` sections: balanced, closed before the
//!   exit, and nothing that sleeps inside;
//! - tc and xdp programs may write the `mark` of a conntrack entry
//!   (`bpf_skb_ct_lookup`), and no other field;
//! - a netfilter context's `state` and `skb` are trusted pointers to
//!   `struct nf_hook_state` and `struct sk_buff`;
//! - css_task iterators only in lsm, iter and sleepable programs;
//! - a trusted BTF pointer is never NULL, so comparing it with 0 decides
//!   the branch (`reg_not_null`); untrusted memory may be NULL.
//!
//! `call @name` is the kfunc's id in vmlinux BTF, `{type:NAME}` a struct's
//! id, `{off:STRUCT.FIELD}` a field's byte offset. Skips with a `skipped:` line where bpf(2) or vmlinux BTF cannot be
//! used (fails instead under IRONBPF_REQUIRE_KERNEL=1).

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_verifier::vmlinux::vmlinux;
use kernel_case::*;

mod kernel_case;
use ironbpf_verifier::{verify, VerifyOptions};

fn require() -> bool {
    std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1")
}

/// How the program is loaded.
#[derive(Clone, Copy)]
enum Ty {
    Tc,
    SocketFilter,
    /// Sleepable.
    Syscall,
    /// `kprobe.session`.
    KprobeSession,
    /// A plain kprobe.
    Kprobe,
    /// Netfilter.
    Netfilter,
}

impl Ty {
    fn opts(self) -> VerifyOptions {
        let (t, attach, sleepable) = match self {
            Ty::Tc => (ProgTypeId::SchedCls, None, false),
            Ty::SocketFilter => (ProgTypeId::SocketFilter, None, false),
            Ty::Syscall => (ProgTypeId::Syscall, None, true),
            Ty::KprobeSession => (
                ProgTypeId::Kprobe,
                Some(AttachType::TraceKprobeSession),
                false,
            ),
            Ty::Kprobe => (ProgTypeId::Kprobe, None, false),
            Ty::Netfilter => (ProgTypeId::Netfilter, Some(AttachType::Netfilter), false),
        };
        let mut o = VerifyOptions::new(t);
        o.attach_type = attach;
        o.sleepable = sleepable;
        o.log_level = 1;
        o
    }
}

/// Both verdicts: accepted (`None`) or refused at `insn` with `line` last.
fn check(name: &str, ty: Ty, text: &str, refused: Option<(usize, &str)>) {
    let v = match vmlinux() {
        Ok(v) => v,
        Err(e) => {
            assert!(!require(), "{e}");
            eprintln!("skipped: {e}");
            return;
        }
    };
    let text = resolve(&v, text);
    let insns = assemble(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    let o = ty.opts();
    let ours = verify(&insns, &o);
    assert_ours(name, &ours, Verdict::at(refused));
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let k = load_program(&ProgLoad {
        prog_type: o.prog_type.kernel_id(),
        expected_attach_type: o.attach_type.map_or(0, |a| a.kernel_id()),
        insns: &words,
        name: "realprog_kfunc",
        log_level: 1,
        prog_flags: if o.sleepable { BPF_F_SLEEPABLE } else { 0 },
        ..Default::default()
    });
    assert_kernel(name, &k, Verdict::at(refused));
}

/// `bpf_for_each(bits, v, &word, 1)`, reading each element.
const BITS_LOOP: &str = "r1 = 5
    *(u64 *)(r10 -24) = r1
    r1 = r10
    r1 += -16
    r2 = r10
    r2 += -24
    w3 = 1
    call @bpf_iter_bits_new
    r1 = r10
    r1 += -16
    call @bpf_iter_bits_next
    if r0 == 0x0 goto +2
    r0 = *(u32 *)(r0 +0)
    goto -6
    r1 = r10
    r1 += -16
    call @bpf_iter_bits_destroy
    r0 = 0
    exit";

#[test]
fn a_bits_iterator_loop_is_accepted() {
    check(
        "a_bits_iterator_loop_is_accepted",
        Ty::Syscall,
        BITS_LOOP,
        None,
    );
}

#[test]
fn a_bits_iterator_element_is_read_only() {
    let text = BITS_LOOP.replace("r0 = *(u32 *)(r0 +0)", "*(u32 *)(r0 +0) = r0");
    check(
        "a_bits_iterator_element_is_read_only",
        Ty::Syscall,
        &text,
        Some((12, "R0 cannot write into rdonly_mem")),
    );
}

#[test]
fn a_bits_iterator_left_undestroyed_leaks() {
    let text = "r1 = 5
        *(u64 *)(r10 -24) = r1
        r1 = r10
        r1 += -16
        r2 = r10
        r2 += -24
        w3 = 1
        call @bpf_iter_bits_new
        r0 = 0
        exit";
    check(
        "a_bits_iterator_left_undestroyed_leaks",
        Ty::Syscall,
        text,
        Some((
            9,
            "BPF_EXIT instruction in main prog would lead to reference leak",
        )),
    );
}

#[test]
fn cast_to_kern_ctx_gives_a_trusted_sk_buff() {
    // skb->len through the kernel's struct, then the pointer is passed on
    // as a trusted argument would be.
    let text = "call @bpf_cast_to_kern_ctx
        r0 = *(u32 *)(r0 +112)
        r0 = 0
        exit";
    check(
        "cast_to_kern_ctx_gives_a_trusted_sk_buff",
        Ty::Tc,
        text,
        None,
    );
}

#[test]
fn cast_to_kern_ctx_needs_the_context() {
    let text = "r1 = r10
        r1 += -8
        call @bpf_cast_to_kern_ctx
        r0 = 0
        exit";
    check(
        "cast_to_kern_ctx_needs_the_context",
        Ty::Tc,
        text,
        Some((2, "arg#0 expected pointer to ctx, but got fp")),
    );
}

#[test]
fn cast_to_kern_ctx_refuses_a_moved_context() {
    let text = "r1 += 8
        call @bpf_cast_to_kern_ctx
        r0 = 0
        exit";
    check(
        "cast_to_kern_ctx_refuses_a_moved_context",
        Ty::Tc,
        text,
        Some((1, "dereference of modified ctx ptr R1 off=8 disallowed")),
    );
}

#[test]
fn the_kernel_sk_buff_is_not_writable() {
    let text = "call @bpf_cast_to_kern_ctx
        r1 = 0
        *(u32 *)(r0 +112) = r1
        r0 = 0
        exit";
    check(
        "the_kernel_sk_buff_is_not_writable",
        Ty::Tc,
        text,
        Some((2, "only read is supported")),
    );
}

#[test]
fn rdonly_cast_to_a_struct_reads_untrusted() {
    let text = "r1 = 0
        w2 = {type:task_struct}
        call @bpf_rdonly_cast
        r0 = *(u64 *)(r0 +0)
        r0 = 0
        exit";
    check(
        "rdonly_cast_to_a_struct_reads_untrusted",
        Ty::SocketFilter,
        text,
        None,
    );
}

#[test]
fn rdonly_cast_to_a_struct_is_not_writable() {
    let text = "r1 = 0
        w2 = {type:task_struct}
        call @bpf_rdonly_cast
        r1 = 0
        *(u64 *)(r0 +16) = r1
        r0 = 0
        exit";
    check(
        "rdonly_cast_to_a_struct_is_not_writable",
        Ty::SocketFilter,
        text,
        Some((4, "only read is supported")),
    );
}

#[test]
fn rdonly_cast_to_void_reads_any_offset_without_tracking_it() {
    // A loop walking the memory, bounded by a counter: the pointer's
    // offset is not tracked, so it does not keep the states apart.
    let text = "r1 = 0
        w2 = 0
        call @bpf_rdonly_cast
        r6 = 0
        r1 = *(u8 *)(r0 +30000)
        r0 += 1
        r6 += 1
        if r6 < 0x1000 goto -4
        r0 = 0
        exit";
    check(
        "rdonly_cast_to_void_reads_any_offset_without_tracking_it",
        Ty::SocketFilter,
        text,
        None,
    );
}

#[test]
fn rdonly_cast_to_void_is_not_writable() {
    let text = "r1 = 0
        w2 = 0
        call @bpf_rdonly_cast
        r1 = 0
        *(u8 *)(r0 +0) = r1
        r0 = 0
        exit";
    check(
        "rdonly_cast_to_void_is_not_writable",
        Ty::SocketFilter,
        text,
        Some((4, "R0 cannot write into rdonly_untrusted_mem")),
    );
}

#[test]
fn rdonly_cast_needs_a_struct_or_void() {
    // The id of vmlinux's `int`.
    let Ok(v) = vmlinux() else {
        assert!(!require(), "no vmlinux BTF");
        eprintln!("skipped: no vmlinux BTF");
        return;
    };
    let int = v
        .find("int", ironbpf_btf::kind::INT)
        .expect("int in vmlinux");
    let text = format!(
        "r1 = 0
        w2 = {int}
        call @bpf_rdonly_cast
        r0 = 0
        exit"
    );
    check(
        "rdonly_cast_needs_a_struct_or_void",
        Ty::SocketFilter,
        &text,
        Some((
            2,
            "kfunc bpf_rdonly_cast type ID argument must be of a struct or void",
        )),
    );
}

#[test]
fn rdonly_cast_needs_a_known_type_id() {
    let text = "r1 = 0
        w2 = 0x7ffffff0
        call @bpf_rdonly_cast
        r0 = 0
        exit";
    check(
        "rdonly_cast_needs_a_known_type_id",
        Ty::SocketFilter,
        text,
        Some((
            2,
            "Unknown type ID 2147483632 passed to kfunc bpf_rdonly_cast",
        )),
    );
}

#[test]
fn the_session_cookie_is_a_writable_u64() {
    let text = "call @bpf_session_cookie
        r1 = 7
        *(u64 *)(r0 +0) = r1
        call @bpf_session_is_return
        r0 = 0
        exit";
    check(
        "the_session_cookie_is_a_writable_u64",
        Ty::KprobeSession,
        text,
        None,
    );
}

#[test]
fn the_session_kfuncs_are_for_sessions_only() {
    let text = "call @bpf_session_is_return
        r0 = 0
        exit";
    check(
        "the_session_kfuncs_are_for_sessions_only",
        Ty::Kprobe,
        text,
        Some((
            0,
            "calling kernel function bpf_session_is_return is not allowed",
        )),
    );
}

#[test]
fn bpf_throw_ends_the_path() {
    // The instructions after the throw are never reached: r2 is not read.
    let text = "r1 = 0
        call @bpf_throw
        r0 = r2
        exit";
    check("bpf_throw_ends_the_path", Ty::Tc, text, None);
}

#[test]
fn bpf_throw_may_not_leak_a_reference() {
    let text = "r1 = 5
        *(u64 *)(r10 -24) = r1
        r1 = r10
        r1 += -16
        r2 = r10
        r2 += -24
        w3 = 1
        call @bpf_iter_bits_new
        r1 = 0
        call @bpf_throw
        r0 = 0
        exit";
    check(
        "bpf_throw_may_not_leak_a_reference",
        Ty::Syscall,
        text,
        Some((9, "bpf_throw would lead to reference leak")),
    );
}

#[test]
fn bpf_throw_may_not_leave_an_rcu_section() {
    let text = "call @bpf_rcu_read_lock
        r1 = 0
        call @bpf_throw
        r0 = 0
        exit";
    check(
        "bpf_throw_may_not_leave_an_rcu_section",
        Ty::Syscall,
        text,
        Some((
            2,
            "bpf_throw cannot be used inside bpf_rcu_read_lock-ed region",
        )),
    );
}

#[test]
fn a_balanced_preemption_section_is_accepted() {
    let text = "call @bpf_preempt_disable
        call @bpf_preempt_disable
        call @bpf_preempt_enable
        call @bpf_preempt_enable
        r0 = 0
        exit";
    check(
        "a_balanced_preemption_section_is_accepted",
        Ty::Tc,
        text,
        None,
    );
}

#[test]
fn preemption_enabled_without_a_disable_is_refused() {
    let text = "call @bpf_preempt_disable
        call @bpf_preempt_enable
        call @bpf_preempt_enable
        r0 = 0
        exit";
    check(
        "preemption_enabled_without_a_disable_is_refused",
        Ty::Tc,
        text,
        Some((
            2,
            "unmatched attempt to enable preemption (kernel function bpf_preempt_enable)",
        )),
    );
}

#[test]
fn the_program_may_not_exit_with_preemption_disabled() {
    let text = "call @bpf_preempt_disable
        r0 = 0
        exit";
    check(
        "the_program_may_not_exit_with_preemption_disabled",
        Ty::Tc,
        text,
        Some((
            2,
            "BPF_EXIT instruction in main prog cannot be used inside bpf_preempt_disable-ed region",
        )),
    );
}

#[test]
fn bpf_throw_may_not_leave_preemption_disabled() {
    let text = "call @bpf_preempt_disable
        r1 = 0
        call @bpf_throw
        r0 = 0
        exit";
    check(
        "bpf_throw_may_not_leave_preemption_disabled",
        Ty::Tc,
        text,
        Some((
            2,
            "bpf_throw cannot be used inside bpf_preempt_disable-ed region",
        )),
    );
}

#[test]
fn no_sleepable_kfunc_with_preemption_disabled() {
    let text = "call @bpf_preempt_disable
        r1 = r10
        r1 += -8
        w2 = 8
        r3 = 0
        r4 = 0
        call @bpf_copy_from_user_str
        call @bpf_preempt_enable
        r0 = 0
        exit";
    check(
        "no_sleepable_kfunc_with_preemption_disabled",
        Ty::Syscall,
        text,
        Some((
            6,
            "kernel func bpf_copy_from_user_str is sleepable within non-preemptible region",
        )),
    );
}

#[test]
fn no_sleepable_helper_with_preemption_disabled() {
    let text = "call @bpf_preempt_disable
        r1 = r10
        r1 += -8
        w2 = 8
        r3 = 0
        call bpf_copy_from_user
        call @bpf_preempt_enable
        r0 = 0
        exit";
    check(
        "no_sleepable_helper_with_preemption_disabled",
        Ty::Syscall,
        text,
        Some((
            5,
            "sleepable helper bpf_copy_from_user#148 in non-preemptible region",
        )),
    );
}

#[test]
fn a_sleepable_string_copy_is_checked_like_any_kfunc() {
    let text = "r1 = r10
        r1 += -8
        w2 = 8
        r3 = 0
        r4 = 0
        call @bpf_copy_from_user_str
        r0 = 0
        exit";
    check(
        "a_sleepable_string_copy_is_checked_like_any_kfunc",
        Ty::Syscall,
        text,
        None,
    );
}

/// Looks up a conntrack entry (a zeroed IPv4 tuple at fp-16, options at
/// fp-32), stores 1 at `STORE` in it and releases it.
const CT_MARK: &str = "r2 = 0
    *(u64 *)(r10 -16) = r2
    *(u32 *)(r10 -8) = r2
    *(u64 *)(r10 -32) = r2
    *(u64 *)(r10 -24) = r2
    r2 = r10
    r2 += -16
    w3 = 12
    r4 = r10
    r4 += -32
    w5 = 16
    call @bpf_skb_ct_lookup
    if r0 == 0x0 goto +4
    r1 = 1
    *(u32 *)(r0 +STORE) = r1
    r1 = r0
    call @bpf_ct_release
    r0 = 0
    exit";

#[test]
fn tc_may_write_a_conntrack_mark() {
    let text = CT_MARK.replace("STORE", "{off:nf_conn.mark}");
    check("tc_may_write_a_conntrack_mark", Ty::Tc, &text, None);
}

#[test]
fn tc_may_write_no_other_conntrack_field() {
    let Ok(v) = vmlinux() else {
        assert!(!require(), "no vmlinux BTF");
        eprintln!("skipped: no vmlinux BTF");
        return;
    };
    let sid = v.struct_id("nf_conn").expect("nf_conn in vmlinux");
    let (_, bits, _) = v.btf.member_by_name(sid, "mark").expect("mark");
    // The four bytes after `mark`.
    let off = bits / 8 + 4;
    let line = format!("no write support to nf_conn at off {off}");
    let text = CT_MARK.replace("STORE", &off.to_string());
    check(
        "tc_may_write_no_other_conntrack_field",
        Ty::Tc,
        &text,
        Some((14, &line)),
    );
}

#[test]
fn a_netfilter_context_holds_kernel_structs() {
    let text = "r2 = *(u64 *)(r1 +0)
        r3 = *(u8 *)(r2 +{off:nf_hook_state.pf})
        r2 = *(u64 *)(r1 +8)
        r3 = *(u32 *)(r2 +{off:sk_buff.len})
        r0 = 1
        exit";
    check(
        "a_netfilter_context_holds_kernel_structs",
        Ty::Netfilter,
        text,
        None,
    );
}

#[test]
fn a_netfilter_state_is_read_only() {
    let text = "r2 = *(u64 *)(r1 +0)
        r3 = 0
        *(u8 *)(r2 +0) = r3
        r0 = 1
        exit";
    check(
        "a_netfilter_state_is_read_only",
        Ty::Netfilter,
        text,
        Some((2, "only read is supported")),
    );
}

#[test]
fn a_css_task_iterator_needs_a_sleepable_program() {
    let text = "r1 = r10
        r1 += -16
        r2 = 0
        w3 = 0
        call @bpf_iter_css_task_new
        r0 = 0
        exit";
    check(
        "a_css_task_iterator_needs_a_sleepable_program",
        Ty::Tc,
        text,
        Some((
            4,
            "css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs",
        )),
    );
}

#[test]
fn copy_from_user_task_str_refuses_an_untrusted_task() {
    // KF_TRUSTED_ARGS in 6.18 (7.x drops the flag, trusted being the
    // default): an untrusted task from bpf_rdonly_cast is refused.
    let text = "r1 = 0
        w2 = {type:task_struct}
        call @bpf_rdonly_cast
        r4 = r0
        r1 = r10
        r1 += -8
        w2 = 8
        r3 = 0
        r5 = 0
        call @bpf_copy_from_user_task_str
        r0 = 0
        exit";
    check(
        "copy_from_user_task_str_refuses_an_untrusted_task",
        Ty::Syscall,
        text,
        Some((9, "R4 must be referenced or trusted")),
    );
}

#[test]
fn a_trusted_btf_pointer_is_not_null() {
    // The NULL branch is never explored: r9 is not read.
    let text = "call @bpf_cast_to_kern_ctx
        if r0 != 0x0 goto +1
        r0 = *(u64 *)(r9 +0)
        r0 = 0
        exit";
    check("a_trusted_btf_pointer_is_not_null", Ty::Tc, text, None);
}

#[test]
fn untrusted_memory_may_be_null() {
    let text = "r1 = 0
        w2 = 0
        call @bpf_rdonly_cast
        if r0 != 0x0 goto +1
        r0 = *(u64 *)(r9 +0)
        r0 = 0
        exit";
    check(
        "untrusted_memory_may_be_null",
        Ty::SocketFilter,
        text,
        Some((4, "R9 !read_ok")),
    );
}
