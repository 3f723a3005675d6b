//! fentry, fexit and fmod_ret contexts, written by hand from Linux 6.18's
//! rules: this machine's kernel runs as a virtual machine guest and refuses
//! every fentry/fexit/fmod_ret load with EPERM and an empty log, so it
//! cannot be asked. The rules (kernel/bpf/btf.c, `btf_ctx_access` and
//! `prog_args_trusted`): the context is the target function's arguments,
//! one u64 slot each; pointers to structs are `PTR_TO_BTF_ID` *without*
//! `PTR_TRUSTED` (only tp_btf, iter, LSM and struct_ops arguments are
//! trusted); fexit and fmod_ret read the return value in the slot after
//! the last argument; fentry has no such slot. Walking an untrusted-less
//! (plain) pointer gives plain pointers (the old compatible behaviour).
//! The targets are looked up by name in /sys/kernel/btf/vmlinux; the tests
//! skip with a `skipped:` line where it is missing (and fail under
//! IRONBPF_REQUIRE_KERNEL=1).

use ironbpf_isa::asm::assemble;
use ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_verifier::vmlinux::{vmlinux, Vmlinux};
use ironbpf_verifier::{verify, VerifyOptions, VerifyOutcome};
use std::sync::Arc;

fn vm(test: &str) -> Option<Arc<Vmlinux>> {
    match vmlinux() {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(
                std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() != Ok("1"),
                "{test}: {e}"
            );
            eprintln!("skipped: {test}: {e}");
            None
        }
    }
}

fn run(attach: AttachType, target: &str, text: &str) -> VerifyOutcome {
    let insns = assemble(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut opts = VerifyOptions::new(ProgTypeId::Tracing);
    opts.attach_type = Some(attach);
    opts.attach_btf = Some(target.into());
    opts.log_level = 2;
    verify(&insns, &opts)
}

fn refused(out: &VerifyOutcome) -> (usize, String) {
    let r = out
        .result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("accepted:\n{}", out.log));
    (r.insn.unwrap_or(usize::MAX), r.message.clone())
}

fn off(v: &Vmlinux, s: &str, f: &str) -> u32 {
    let id = v.struct_id(s).expect("struct");
    v.btf.member_by_name(id, f).expect("member").1 / 8
}

#[test]
fn fentry_arguments_are_plain_btf_pointers_and_integers() {
    let Some(v) = vm("fentry_arguments_are_plain_btf_pointers_and_integers") else {
        return;
    };
    // do_unlinkat(int dfd, struct filename *name).
    let refcnt = off(&v, "filename", "refcnt");
    let out = run(
        AttachType::TraceFentry,
        "do_unlinkat",
        &format!(
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r3 +{refcnt})\nr0 = 0\nexit"
        ),
    );
    assert!(out.result.is_ok(), "{}", out.log);
    assert!(
        out.log.contains("func 'do_unlinkat' arg1 has btf_id"),
        "{}",
        out.log
    );
    assert!(out.log.contains("R3=ptr_filename()"), "{}", out.log);
    assert!(!out.log.contains("trusted_ptr_filename"), "{}", out.log);
}

#[test]
fn fentry_has_no_return_value_slot_and_fexit_has_one() {
    if vm("fentry_has_no_return_value_slot_and_fexit_has_one").is_none() {
        return;
    }
    let text = "r2 = *(u64 *)(r1 +16)\nr0 = 0\nexit";
    let (insn, msg) = refused(&run(AttachType::TraceFentry, "do_unlinkat", text));
    assert_eq!(insn, 0);
    assert_eq!(
        msg,
        "func 'do_unlinkat' doesn't have 3-th argument\ninvalid bpf_context access off=16 size=8"
    );
    // fexit: the int the function returned, a scalar.
    let out = run(AttachType::TraceFexit, "do_unlinkat", text);
    assert!(out.result.is_ok(), "{}", out.log);
    assert!(out.log.contains("R2=scalar()"), "{}", out.log);
    // Past the return value there is nothing.
    let (insn, msg) = refused(&run(
        AttachType::TraceFexit,
        "do_unlinkat",
        "r2 = *(u64 *)(r1 +24)\nr0 = 0\nexit",
    ));
    assert_eq!(insn, 0);
    assert_eq!(
        msg,
        "func 'do_unlinkat' doesn't have 4-th argument\ninvalid bpf_context access off=24 size=8"
    );
}

#[test]
fn fmod_ret_reads_the_int_return_value() {
    if vm("fmod_ret_reads_the_int_return_value").is_none() {
        return;
    }
    let out = run(
        AttachType::ModifyReturn,
        "do_unlinkat",
        "r2 = *(u32 *)(r1 +16)\nr0 = 0\nexit",
    );
    assert!(out.result.is_ok(), "{}", out.log);
}

#[test]
fn walking_a_plain_fentry_pointer_gives_plain_pointers() {
    let Some(v) = vm("walking_a_plain_fentry_pointer_gives_plain_pointers") else {
        return;
    };
    // tcp_connect(struct sock *sk): sk->sk_socket is a plain ptr_socket.
    let sock = off(&v, "sock", "sk_socket");
    let out = run(
        AttachType::TraceFentry,
        "tcp_connect",
        &format!("r2 = *(u64 *)(r1 +0)\nr3 = *(u64 *)(r2 +{sock})\nr0 = 0\nexit"),
    );
    assert!(out.result.is_ok(), "{}", out.log);
    assert!(out.log.contains("R2=ptr_sock()"), "{}", out.log);
    assert!(out.log.contains("R3=ptr_socket()"), "{}", out.log);
}

#[test]
fn a_misaligned_context_read_names_the_function() {
    if vm("a_misaligned_context_read_names_the_function").is_none() {
        return;
    }
    let (insn, msg) = refused(&run(
        AttachType::TraceFentry,
        "do_unlinkat",
        "r2 = *(u32 *)(r1 +4)\nr0 = 0\nexit",
    ));
    assert_eq!(insn, 0);
    assert_eq!(
        msg,
        "func 'do_unlinkat' offset 4 is not multiple of 8\ninvalid bpf_context access off=4 size=4"
    );
}

#[test]
fn a_tracing_program_without_a_target_is_refused_with_a_reason() {
    let insns = assemble("r2 = *(u64 *)(r1 +0)\nr0 = 0\nexit").expect("asm");
    let mut opts = VerifyOptions::new(ProgTypeId::Tracing);
    opts.attach_type = Some(AttachType::TraceFentry);
    let out = verify(&insns, &opts);
    let r = out.result.expect_err("refused");
    assert_eq!(r.insn, Some(0));
    assert!(
        r.message.contains("attach_btf_id") || r.message.contains("BTF"),
        "{}",
        r.message
    );
}
