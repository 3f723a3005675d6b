//! Global functions against the running kernel: small programs with a BTF
//! blob built here (FUNC, FUNC_PROTO, INT, PTR, STRUCT __sk_buff) and
//! func_info, loaded by the kernel and verified by ironbpf. The verdict,
//! the failing instruction, the error line and the whole log (level 1 and
//! level 2, without the `verification time` line) must agree.
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

mod btf_builder;

use btf_builder::funcs::*;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use std::sync::Arc;

struct Case {
    name: &'static str,
    /// Socket filter unless told.
    prog_type: u32,
    asm: &'static str,
    /// One per subprogram, in order; empty: no BTF at all.
    funcs: Vec<Func>,
}

fn case(name: &'static str, asm: &'static str, funcs: Vec<Func>) -> Case {
    Case {
        name,
        prog_type: 1,
        asm,
        funcs,
    }
}

const MAIN: Func = global("prog", &[P::Ctx]);

fn cases() -> Vec<Case> {
    vec![
        case(
            "global function with ctx and int",
            "r2 = 5\ncall f\nexit\nf:\nr0 = r2\nexit",
            vec![MAIN, global("f", &[P::Ctx, P::Int])],
        ),
        case(
            "static function with BTF is verified inline",
            "r2 = 5\ncall f\nexit\nf:\nr0 = r2\nexit",
            vec![MAIN, stat("f", &[P::Ctx, P::Int])],
        ),
        case(
            "no BTF: all subprograms are static",
            "r2 = 5\ncall f\nexit\nf:\nr0 = r2\nexit",
            vec![],
        ),
        case(
            "global function never called is not verified",
            "r0 = 0\nexit\nf:\nr0 = *(u64 *)(r1 +0)\nexit",
            vec![MAIN, global("f", &[P::Int])],
        ),
        case(
            "int argument not a scalar",
            "r2 = r10\ncall f\nexit\nf:\nr0 = r2\nexit",
            vec![MAIN, global("f", &[P::Ctx, P::Int])],
        ),
        case(
            "int argument not initialised",
            "call f\nexit\nf:\nr0 = r2\nexit",
            vec![MAIN, global("f", &[P::Ctx, P::Int])],
        ),
        case(
            "ctx argument not ctx",
            "r1 = 0\nr2 = 0\ncall f\nexit\nf:\nr0 = r2\nexit",
            vec![MAIN, global("f", &[P::Ctx, P::Int])],
        ),
        case(
            "ctx argument with an offset",
            "r1 += 4\nr2 = 0\ncall f\nexit\nf:\nr0 = r2\nexit",
            vec![MAIN, global("f", &[P::Ctx, P::Int])],
        ),
        case(
            "memory argument read without null check",
            "r1 = r10\nr1 += -8\n*(u64 *)(r10 -8) = 0\ncall f\nexit\nf:\nr0 = *(u32 *)(r1 +0)\nexit",
            vec![MAIN, global("f", &[P::PtrInt])],
        ),
        case(
            "memory argument read after null check",
            "r1 = r10\nr1 += -8\n*(u64 *)(r10 -8) = 0\ncall f\nexit\nf:\nr0 = 0\nif r1 == 0 goto +1\nr0 = *(u32 *)(r1 +0)\nexit",
            vec![MAIN, global("f", &[P::PtrInt])],
        ),
        case(
            "memory argument read past its size",
            "r1 = r10\nr1 += -8\n*(u64 *)(r10 -8) = 0\ncall f\nexit\nf:\nr0 = 0\nif r1 == 0 goto +1\nr0 = *(u32 *)(r1 +4)\nexit",
            vec![MAIN, global("f", &[P::PtrInt])],
        ),
        case(
            "memory argument NULL from the caller",
            "r1 = 0\ncall f\nexit\nf:\nr0 = 0\nif r1 == 0 goto +1\nr0 = *(u32 *)(r1 +0)\nexit",
            vec![MAIN, global("f", &[P::PtrInt])],
        ),
        case(
            "memory argument a non-zero scalar",
            "r1 = 5\ncall f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::PtrInt])],
        ),
        case(
            "memory argument stack too small",
            "r1 = r10\nr1 += -8\n*(u64 *)(r10 -8) = 0\ncall f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::PtrBig])],
        ),
        case(
            "memory argument from the stack, uninitialised",
            "r1 = r10\nr1 += -24\ncall f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::PtrBig])],
        ),
        case(
            "void pointer argument",
            "r1 = 0\ncall f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::PtrVoid])],
        ),
        case(
            "struct by value argument",
            "call f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::Struct])],
        ),
        case(
            "global function returns a pointer",
            "call f\nexit\nf:\nr0 = r1\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "global function's r0 unset",
            "call f\nexit\nf:\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "error inside the global function",
            "call f\nr0 = 0\nexit\nf:\nr0 = *(u64 *)(r10 -8)\nr2 = *(u32 *)(r1 +0)\nr0 = *(u64 *)(r2 +0)\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "caller's r0 is unknown after a global call",
            "call f\nr1 = r0\nr0 = 0\nif r1 != 7 goto +1\nr0 = *(u64 *)(r10 -8)\nexit\nf:\nr0 = 7\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "caller's r1-r5 are cleared after a global call",
            "r6 = r1\ncall f\nr0 = r1\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "global calls global",
            "call f\nexit\nf:\nr2 = 3\ncall g\nr0 += 1\nexit\ng:\nr0 = r2\nexit",
            vec![
                MAIN,
                global("f", &[P::Ctx]),
                global("g", &[P::Ctx, P::Int]),
            ],
        ),
        case(
            "global calls static calls global",
            "call f\nexit\nf:\nr2 = 3\ncall g\nexit\ng:\ncall h\nexit\nh:\nr0 = 1\nexit",
            vec![
                MAIN,
                global("f", &[P::Ctx]),
                stat("g", &[P::Ctx, P::Int]),
                global("h", &[P::Ctx]),
            ],
        ),
        case(
            "global function with no arguments",
            "call f\nexit\nf:\nr0 = 1\nexit",
            vec![MAIN, global("f", &[])],
        ),
        case(
            "global function reads an argument it does not have",
            "call f\nexit\nf:\nr0 = r1\nexit",
            vec![MAIN, global("f", &[])],
        ),
        case(
            "global function with six arguments",
            "call f\nexit\nf:\nr0 = 1\nexit",
            vec![
                MAIN,
                global("f", &[P::Int, P::Int, P::Int, P::Int, P::Int, P::Int]),
            ],
        ),
        case(
            "global function returning void pointer",
            "call f\nexit\nf:\nr0 = 1\nexit",
            vec![
                MAIN,
                Func {
                    name: "f",
                    linkage: GLOBAL,
                    ret: P::PtrVoid,
                    params: &[P::Ctx],
                    tags: &[],
                },
            ],
        ),
        case(
            "stack depth of a global function",
            "*(u64 *)(r10 -16) = 0\ncall f\nexit\nf:\n*(u64 *)(r10 -40) = 0\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "global function writes its memory argument",
            "r1 = r10\nr1 += -8\n*(u64 *)(r10 -8) = 0\ncall f\nr0 = *(u64 *)(r10 -8)\nexit\nf:\nr0 = 0\nif r1 == 0 goto +1\n*(u32 *)(r1 +0) = 1\nexit",
            vec![MAIN, global("f", &[P::PtrInt])],
        ),
        case(
            "precision is tracked across a global call",
            "r6 = 3\ncall f\nr0 = 0\nif r6 > 5 goto +1\nr0 = 1\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "precision of a global call's result",
            "call f\nr6 = r0\nr0 = 0\nif r6 > 5 goto +1\nr0 = 1\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, global("f", &[P::Ctx])],
        ),
        case(
            "arg:ctx on a void pointer",
            "call f\nexit\nf:\nr0 = *(u32 *)(r1 +0)\nexit",
            vec![MAIN, tagged(global("f", &[P::PtrVoid]), &[(0, "ctx")])],
        ),
        case(
            "arg:ctx given a stack pointer",
            "r1 = r10\nr1 += -8\ncall f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, tagged(global("f", &[P::PtrVoid]), &[(0, "ctx")])],
        ),
        case(
            "arg:ctx on an int pointer",
            "call f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, tagged(global("f", &[P::PtrInt]), &[(0, "ctx")])],
        ),
        case(
            "arg:ctx on the ctx struct",
            "call f\nexit\nf:\nr0 = *(u32 *)(r1 +0)\nexit",
            vec![MAIN, tagged(global("f", &[P::Ctx]), &[(0, "ctx")])],
        ),
        case(
            "arg:nonnull read without a null check",
            "r1 = r10\nr1 += -8\n*(u64 *)(r10 -8) = 0\ncall f\nexit\nf:\nr0 = *(u32 *)(r1 +0)\nexit",
            vec![MAIN, tagged(global("f", &[P::PtrInt]), &[(0, "nonnull")])],
        ),
        case(
            "arg:nonnull given NULL",
            "r1 = 0\ncall f\nexit\nf:\nr0 = *(u32 *)(r1 +0)\nexit",
            vec![MAIN, tagged(global("f", &[P::PtrInt]), &[(0, "nonnull")])],
        ),
        case(
            "arg:nonnull on an int",
            "r1 = 0\ncall f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, tagged(global("f", &[P::Int]), &[(0, "nonnull")])],
        ),
        case(
            "arg:ctx and arg:nonnull together",
            "call f\nexit\nf:\nr0 = 0\nexit",
            vec![
                MAIN,
                tagged(global("f", &[P::PtrVoid]), &[(0, "ctx"), (0, "nonnull")]),
            ],
        ),
        case(
            "unknown arg tag",
            "call f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, tagged(global("f", &[P::PtrVoid]), &[(0, "sparkly")])],
        ),
        case(
            "arg tag on a static function",
            "r2 = 1\ncall f\nexit\nf:\nr0 = 0\nexit",
            vec![MAIN, tagged(stat("f", &[P::Ctx, P::Int]), &[(1, "nonnull")])],
        ),
        case(
            "main with a void pointer",
            "r0 = 0\nexit",
            vec![global("prog", &[P::PtrVoid])],
        ),
        case(
            "func_info count mismatch",
            "call f\nexit\nf:\nr0 = 1\nexit",
            vec![MAIN],
        ),
    ]
}

/// The log without the `verification time` line (the one figure that
/// cannot agree) and the stack liveness lines.
fn comparable(log: &str) -> String {
    log.lines()
        .filter(|l| !l.starts_with("verification time"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn global_functions_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("global_functions_agree_with_the_kernel") {
        return;
    }
    let mut failures = Vec::new();
    let all = cases();
    let mut n = 0;
    for c in &all {
        let slots = ironbpf_isa::assemble(c.asm)
            .unwrap_or_else(|e| panic!("{}: does not assemble: {e}", c.name));
        let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
        let starts = subprog_starts(&slots);
        let Described {
            blob,
            kbtf,
            recs,
            func_info: fi,
        } = describe(c.name, &c.funcs, &starts);
        for level in [1u32, 2] {
            n += 1;
            let req = ProgLoad {
                prog_type: c.prog_type,
                insns: &words,
                log_level: level | 4,
                prog_btf_fd: kbtf.as_ref().map(|b| b.raw_fd()),
                func_info: &fi,
                ..Default::default()
            };
            let k = load_program(&req);
            let mut opts = VerifyOptions::new(ProgTypeId::from_kernel_id(c.prog_type).unwrap());
            opts.log_level = level | 4;
            if !c.funcs.is_empty() {
                opts.btf = Some(Arc::new(ironbpf_btf::Btf::parse(&blob).expect("our BTF")));
                opts.func_info = recs.clone();
            }
            let ours = verify(&slots, &opts);
            let k_err = ironbpf_kernel::first_error_line(&k.log);
            let verdict_ok = k.accepted() == ours.result.is_ok();
            let line_ok = k.accepted()
                || ours.result.as_ref().err().is_some_and(|r| {
                    k_err
                        .as_deref()
                        .is_some_and(|k| r.message.lines().any(|l| l == k))
                });
            let insn_ok = k.accepted()
                || k.error_insn.is_none()
                || ours.result.as_ref().err().and_then(|r| r.insn) == k.error_insn;
            let log_ok = comparable(&k.log) == comparable(&ours.log);
            if !(verdict_ok && line_ok && insn_ok && log_ok) {
                failures.push(format!(
                    "{} (level {level}):\n  kernel: accepted={} insn={:?} error={:?}\n  ours:   accepted={} insn={:?} error={:?}\n--- kernel log\n{}--- our log\n{}",
                    c.name,
                    k.accepted(),
                    k.error_insn,
                    k_err,
                    ours.result.is_ok(),
                    ours.result.as_ref().err().and_then(|r| r.insn),
                    ours.result.as_ref().err().map(|r| r.message.clone()),
                    k.log,
                    ours.log
                ));
            }
        }
    }
    println!(
        "prog_globals: {} of {n} loads agree with the kernel",
        n - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The log without the kernel's source-line annotations (`; code @
/// file.c:12`, from line_info, which ironbpf's log does not print yet).
fn without_line_info(log: &str) -> String {
    comparable(log)
        .lines()
        .filter(|l| !(l.starts_with("; ") && l.contains(" @ ")))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// bpf2bpf.o (section `test`, no program type in its name) calls two
/// global functions; the second dereferences its `int *` argument
/// without a NULL check, which the kernel refuses under every program
/// type that can load it. Verdict, instruction, message, the figures and
/// the whole level-1 and level-2 logs must match.
#[test]
fn bpf2bpf_object_agrees_with_the_kernel() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/ebpf-samples/build/bpf2bpf.o");
    if !path.exists() {
        println!("skipped: ../shared not found at {}", path.display());
        return;
    }
    if !ironbpf_kernel::available_for_test("bpf2bpf_object_agrees_with_the_kernel") {
        return;
    }
    for prog_type in [
        ProgTypeId::SocketFilter,
        ProgTypeId::SchedCls,
        ProgTypeId::Xdp,
    ] {
        let lopts = ironbpf_loader::LoadOptions {
            prog_type_override: Some(prog_type.kernel_id()),
            ..Default::default()
        };
        let obj = ironbpf_loader::load_file(&path, &lopts).expect("bpf2bpf.o loads");
        assert!(obj.btf.is_some(), "bpf2bpf.o has BTF");
        let kobj = ironbpf_kernel::object::KernelObject::create(&obj).expect("its maps and BTF");
        assert!(kobj.btf.is_some(), "the kernel takes bpf2bpf.o's BTF");
        for p in &obj.programs {
            assert!(
                p.func_info.len() >= 3,
                "{}: func_info for main, add1, add2",
                p.name
            );
            let slots = ironbpf_isa::slots_from_bytes(&p.insns).expect("whole insns");
            for level in [1u32, 2] {
                let k = kobj.load_program(p, level | 4);
                let mut opts = VerifyOptions::new(prog_type);
                opts.log_level = level | 4;
                opts.set_btf(
                    obj.btf.as_deref(),
                    p.func_info.iter().map(|f| (f.insn, f.type_id)),
                );
                let ours = verify(&slots, &opts);
                let what = format!("{} as {} at level {level}", p.name, prog_type.name());
                assert_eq!(k.accepted(), ours.result.is_ok(), "{what}: verdict");
                if let Err(r) = &ours.result {
                    assert_eq!(k.error_insn, r.insn, "{what}: insn");
                    assert_eq!(
                        k.first_error_line.as_deref(),
                        Some(r.message.as_str()),
                        "{what}: message"
                    );
                }
                assert_eq!(
                    k.processed_insns,
                    Some(ours.stats.processed_insns),
                    "{what}: processed"
                );
                assert_eq!(
                    without_line_info(&k.log),
                    without_line_info(&ours.log),
                    "{what}: log"
                );
                println!(
                    "bpf2bpf: {what}: both {} ({} insns processed)",
                    if k.accepted() { "accept" } else { "refuse" },
                    ours.stats.processed_insns
                );
            }
        }
    }
}
