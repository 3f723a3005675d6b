//! Program types guessed from the ctx argument, as veristat guesses them: a
//! program whose section name says nothing gets the type its entry
//! function's first argument names in BTF (`struct xdp_md *` → xdp), says
//! that the type is a guess, and `--type` (`prog_type_override`) overrides
//! it. A program with nothing to guess from is refused with the reason.
//!
//! The objects are real corpus objects (cilium/ebpf's examples) with their
//! section renamed in place, in the ELF section names and in the BTF strings
//! that `.BTF.ext` names it by, so that only the name changes.

mod common;

use ironbpf_loader::{inspect_bytes, load_bytes, prog_type, LoadError, LoadOptions};

/// The object at `rel` with every string `from` (a whole NUL-terminated
/// string, or the tail of `.rel<from>`, which ELF string tables share with
/// the section's own name) renamed `to`, of the same length.
fn renamed(rel: &str, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(common::corpus_dir().join(rel)).unwrap();
    let pat = format!("{from}\0").into_bytes();
    let mut hits = 0;
    for i in 1..bytes.len().saturating_sub(pat.len()) {
        let starts = bytes[i - 1] == 0 || (i >= 4 && &bytes[i - 4..i] == b".rel");
        if starts && bytes[i..i + pat.len()] == pat[..] {
            bytes[i..i + to.len()].copy_from_slice(to.as_bytes());
            hits += 1;
        }
    }
    assert!(hits >= 2, "{rel}: `{from}` found {hits} times");
    bytes
}

#[test]
fn an_xdp_md_argument_makes_an_xdp_program() {
    let bytes = renamed("cilium-examples/xdp_bpf_bpfel.o", "xdp", "zzz");
    let obj = load_bytes(&bytes, &LoadOptions::default()).expect("the type is guessed");
    let p = &obj.programs[0];
    assert_eq!(p.section, "zzz");
    assert_eq!((p.prog_type, p.prog_type_name), (prog_type::XDP, "xdp"));
    assert_eq!(
        p.expected_attach_type,
        ironbpf_progtype::AttachType::Xdp.kernel_id()
    );
    assert_eq!(p.type_guessed_from.as_deref(), Some("struct xdp_md"));
    assert_eq!(
        p.type_description(),
        "xdp, guessed from its ctx argument struct xdp_md"
    );
    // The rest of the object is what the section's own name gives.
    let orig = ironbpf_loader::load_file(
        &common::corpus_dir().join("cilium-examples/xdp_bpf_bpfel.o"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(p.insns, orig.programs[0].insns);
    assert_eq!(p.func_info, orig.programs[0].func_info);
    assert_eq!(orig.programs[0].type_guessed_from, None);
}

#[test]
fn a_sk_buff_argument_makes_a_tc_program_and_type_overrides_the_guess() {
    let bytes = renamed("cilium-examples/tcx_bpf_bpfel.o", "tc", "zz");
    let obj = load_bytes(&bytes, &LoadOptions::default()).unwrap();
    assert_eq!(obj.programs.len(), 2);
    for p in &obj.programs {
        assert_eq!(p.prog_type, prog_type::SCHED_CLS, "{}", p.name);
        assert_eq!(p.type_guessed_from.as_deref(), Some("struct __sk_buff"));
    }
    let opts = LoadOptions {
        prog_type_override: Some(prog_type::CGROUP_SKB),
        ..Default::default()
    };
    let obj = load_bytes(&bytes, &opts).unwrap();
    for p in &obj.programs {
        assert_eq!(p.prog_type, prog_type::CGROUP_SKB, "{}", p.name);
        assert_eq!(p.type_guessed_from, None, "a given type is no guess");
    }
}

#[test]
fn a_sock_ops_argument_gets_its_attach_type() {
    let bytes = renamed(
        "cilium-examples/tcprtt_sockops_bpf_bpfel.o",
        "sockops",
        "zzzzzzz",
    );
    let obj = load_bytes(&bytes, &LoadOptions::default()).unwrap();
    let p = &obj.programs[0];
    assert_eq!(p.prog_type, prog_type::SOCK_OPS);
    assert_eq!(
        p.expected_attach_type,
        ironbpf_progtype::AttachType::CgroupSockOps.kernel_id()
    );
    assert_eq!(p.type_guessed_from.as_deref(), Some("struct bpf_sock_ops"));
}

/// The refusal's reason, for the program of `rel` that has no type.
fn why_refused(rel: &str) -> String {
    let bytes = std::fs::read(common::corpus_dir().join(rel)).unwrap();
    let ins = inspect_bytes(&bytes, &LoadOptions::default()).unwrap();
    let r = ins
        .refused
        .first()
        .unwrap_or_else(|| panic!("{rel}: none refused"));
    match &r.error {
        LoadError::UnknownProgramType { why, .. } => {
            let text = r.error.to_string();
            assert!(
                text.ends_with("give the type explicitly (--type TYPE)"),
                "{text}"
            );
            why.clone()
        }
        other => panic!("{rel}: refused with {other}"),
    }
}

#[test]
fn programs_with_nothing_to_guess_from_say_why() {
    assert!(
        why_refused("suricata/filter.o").starts_with("the object has no BTF"),
        "a legacy object"
    );
    assert_eq!(
        why_refused("build/badmapptr.o"),
        "its ctx argument is `void *`, which names no program type"
    );
    assert_eq!(
        why_refused("build/twomaps.o"),
        "its ctx argument is `struct ctx *`, which names no program type"
    );
    assert_eq!(
        why_refused("build/badhelpercall.o"),
        "function func takes no argument in its BTF, so no ctx argument names the type"
    );
}
