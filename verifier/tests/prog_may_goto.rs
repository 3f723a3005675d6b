//! `may_goto` against the running kernel: small assembled programs (an
//! endless `can_loop` loop, loops bounded by a counter or by the budget
//! only, a `cond_break` over the stack, `may_goto` in a subprogram, the
//! malformed encodings), each loaded at log levels 1 and 2 with the
//! statistics; the verdict, the failing instruction, the error line, the
//! processed instructions, the states and the `stack depth` line must agree
//! with the kernel's, and the whole log too, except for the kernel's
//! strongly-connected-component lines (`SCC enter (1)`, ...), which
//! ironbpf does not print (see `ironbpf_verifier::may_goto`).
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

mod btf_builder;

use ironbpf_kernel::{load_program, parse_log_stats, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};

struct Case {
    name: &'static str,
    asm: &'static str,
    /// Compare the whole level-2 log (else its verdict and figures).
    whole_log: bool,
}

const fn case(name: &'static str, asm: &'static str) -> Case {
    Case {
        name,
        asm,
        whole_log: true,
    }
}

const CASES: &[Case] = &[
    case(
        "endless can_loop loop",
        "r0 = 0\nl: may_goto out\nr0 += 1\ngoto l\nout: exit",
    ),
    case(
        "can_loop with a counter bound",
        "r0 = 0\nr1 = 0\nl: may_goto out\nr1 += 1\nif r1 > 100 goto out\nr0 += r1\ngoto l\nout: exit",
    ),
    case(
        "cond_break over a stack array",
        "*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -16) = 0\nr1 = 0\nl: may_goto out\nif r1 > 15 goto out\nr2 = r10\nr2 += -16\nr2 += r1\n*(u8 *)(r2 +0) = 1\nr1 += 1\ngoto l\nout: r0 = *(u64 *)(r10 -8)\nexit",
    ),
    case(
        "cond_break without the bound check reads out of the stack",
        "*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -16) = 0\nr1 = 0\nl: may_goto out\nr2 = r10\nr2 += -16\nr2 += r1\n*(u8 *)(r2 +0) = 1\nr1 += 1\ngoto l\nout: r0 = 0\nexit",
    ),
    case(
        "may_goto loop with a precise index",
        "r6 = r1\nr1 = 0\nl: may_goto out\nif r1 == 7 goto bad\nr1 += 1\ngoto l\nbad: r0 = *(u32 *)(r6 +0)\nout: r0 = 0\nexit",
    ),
    case(
        "may_goto loop keeps a pointer",
        "r2 = r10\nr2 += -8\n*(u64 *)(r10 -8) = 0\nl: may_goto out\nr3 = *(u64 *)(r2 +0)\nr3 += 1\n*(u64 *)(r2 +0) = r3\ngoto l\nout: r0 = *(u64 *)(r10 -8)\nexit",
    ),
    case(
        "forward may_goto",
        "r0 = 0\nmay_goto +1\nr0 = 1\nexit",
    ),
    case("may_goto +0", "r0 = 0\nmay_goto +0\nexit"),
    case(
        "two may_goto in a row",
        "r0 = 0\nl: may_goto out\nmay_goto out\nr0 += 1\ngoto l\nout: exit",
    ),
    case(
        "nested can_loop loops",
        "r0 = 0\nr1 = 0\nouter: may_goto done\nr1 += 1\nr2 = 0\ninner: may_goto next\nr2 += 1\nr0 += 1\nif r2 < 3 goto inner\nnext: if r1 < 3 goto outer\ndone: exit",
    ),
    case(
        "may_goto in a subprogram",
        "call f\nr0 = 0\nexit\nf: r0 = 0\nl: may_goto out\nr0 += 1\ngoto l\nout: exit",
    ),
    case(
        "may_goto in main and subprogram",
        "r6 = 0\nl: may_goto out\ncall f\nr6 += r0\ngoto l\nout: r0 = r6\nexit\nf: r0 = 1\nmay_goto +1\nr0 = 2\nexit",
    ),
    case(
        "endless loop without may_goto is still an infinite loop",
        "r0 = 0\nl: may_goto +0\ngoto l",
    ),
    // Not may_goto: the loops' component numbers in the listing (the
    // later loop completes first in Tarjan's walk and is 1).
    case(
        "two bounded loops in a row",
        "r1 = 0\na: r1 += 1\nif r1 < 3 goto a\nr2 = 0\nb: r2 += 1\nif r2 < 3 goto b\nr0 = 0\nexit",
    ),
    case(
        "uninitialised register after the loop",
        "r0 = 0\nl: may_goto out\nr3 = 1\ngoto l\nout: r0 = r3\nexit",
    ),
];

/// Malformed `BPF_JCOND` encodings, as raw words (`r0 = 0`, the jcond,
/// `r0 = 1`, `exit`).
const RAW: &[(&str, u8, u8, u8, i32)] = &[
    ("may_goto with a src_reg", 0xe5, 0, 1, 0),
    ("may_goto with a dst_reg", 0xe5, 1, 0, 0),
    ("may_goto with an imm", 0xe5, 0, 0, 5),
    ("jmp32 jcond", 0xe6, 0, 0, 0),
    ("jcond with BPF_X", 0xed, 0, 0, 0),
];

/// The log without what cannot agree: the `verification time` line and
/// the stack liveness listing.
fn comparable(log: &str) -> String {
    log.lines()
        .filter(|l| !l.starts_with("verification time"))
        .map(|l| format!("{l}\n"))
        .collect()
}

struct Outcome {
    agree: bool,
    report: String,
    ratio: Option<f64>,
}

fn compare(name: &str, slots: &[ironbpf_isa::RawInsn], whole_log: bool) -> Vec<Outcome> {
    let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
    let mut out = Vec::new();
    for level in [1u32, 2] {
        let k = load_program(&ProgLoad {
            prog_type: ProgTypeId::SocketFilter.kernel_id(),
            insns: &words,
            log_level: level | 4,
            ..Default::default()
        });
        let mut opts = VerifyOptions::new(ProgTypeId::SocketFilter);
        opts.log_level = level | 4;
        let ours = verify(slots, &opts);
        let k_err = ironbpf_kernel::first_error_line(&k.log);
        let verdict_ok = k.accepted() == ours.result.is_ok();
        let line_ok = k.accepted()
            || ours.result.as_ref().err().is_some_and(|r| {
                k_err
                    .as_deref()
                    .is_some_and(|k| r.message.lines().any(|l| l == k))
            });
        // The kernel crate takes the last instruction the log printed for
        // the failing one; an infinite loop's message names its own (the
        // loop head), which the message comparison checks.
        let names_its_insn = k_err
            .as_deref()
            .is_some_and(|e| e.starts_with("infinite loop detected at insn "));
        let insn_ok = k.accepted()
            || k.error_insn.is_none()
            || names_its_insn
            || ours.result.as_ref().err().and_then(|r| r.insn) == k.error_insn;
        let ks = parse_log_stats(&k.log);
        let figures = |log: &str| {
            log.lines()
                .filter(|l| l.starts_with("processed ") || l.starts_with("stack depth"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        };
        let figures_ok = figures(&k.log) == figures(&ours.log);
        let log_ok = !whole_log || level == 1 || comparable(&k.log) == comparable(&ours.log);
        let ratio = ks
            .processed_insns
            .filter(|&n| n > 0)
            .map(|n| ours.stats.processed_insns as f64 / n as f64);
        let agree = verdict_ok && line_ok && insn_ok && figures_ok && log_ok;
        out.push(Outcome {
            agree,
            ratio: (level == 1).then_some(ratio).flatten(),
            report: format!(
                "{name} (level {level}): verdict {verdict_ok} line {line_ok} insn {insn_ok} figures {figures_ok} log {log_ok}\n  kernel: accepted={} insn={:?} error={:?}\n  ours:   accepted={} insn={:?} error={:?}\n--- kernel log\n{}--- our log\n{}",
                k.accepted(),
                k.error_insn,
                k_err,
                ours.result.is_ok(),
                ours.result.as_ref().err().and_then(|r| r.insn),
                ours.result.as_ref().err().map(|r| r.message.clone()),
                k.log,
                ours.log
            ),
        });
    }
    out
}

#[test]
fn may_goto_agrees_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("may_goto_agrees_with_the_kernel") {
        return;
    }
    let mut all = Vec::new();
    for c in CASES {
        let slots = ironbpf_isa::assemble(c.asm)
            .unwrap_or_else(|e| panic!("{}: does not assemble: {e}", c.name));
        all.extend(compare(c.name, &slots, c.whole_log));
    }
    for &(name, code, dst, src, imm) in RAW {
        let slots = [
            ironbpf_isa::RawInsn::new(0xb7, 0, 0, 0, 0),
            ironbpf_isa::RawInsn::new(code, dst, src, 1, imm),
            ironbpf_isa::RawInsn::new(0xb7, 0, 0, 0, 1),
            ironbpf_isa::RawInsn::new(0x95, 0, 0, 0, 0),
        ];
        all.extend(compare(name, &slots, true));
    }
    let failures: Vec<&str> = all
        .iter()
        .filter(|o| !o.agree)
        .map(|o| o.report.as_str())
        .collect();
    let mut ratios: Vec<f64> = all.iter().filter_map(|o| o.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "prog_may_goto: {} of {} loads agree with the kernel; processed insns ironbpf/kernel: min {:.2} median {:.2} max {:.2}",
        all.len() - failures.len(),
        all.len(),
        ratios.first().copied().unwrap_or(0.0),
        ratios.get(ratios.len() / 2).copied().unwrap_or(0.0),
        ratios.last().copied().unwrap_or(0.0),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The programs of the clang-19 fixture `fixtures/may_goto/can_loop.c`,
/// loaded whole (maps, BTF, func and line info) into the kernel: verdict,
/// processed instructions, total states and stack depths as the kernel's.
#[test]
fn can_loop_fixture_agrees_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("can_loop_fixture_agrees_with_the_kernel") {
        return;
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/may_goto/can_loop.o");
    let obj = ironbpf_loader::load_file(&path, &Default::default()).expect("the fixture loads");
    let kobj =
        ironbpf_kernel::object::KernelObject::create(&obj).expect("the kernel takes its maps");
    let maps: Vec<ironbpf_verifier::MapInfo> = obj
        .maps
        .iter()
        .map(|m| ironbpf_verifier::MapInfo {
            name: m.name.clone(),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            map_flags: m.map_flags,
            frozen_readonly: m.frozen,
            record: Default::default(),
        })
        .collect();
    let mut failures = Vec::new();
    for p in &obj.programs {
        let k = kobj.load_program(p, 1 | 4);
        let slots = ironbpf_isa::slots_from_bytes(&p.insns).expect("whole slots");
        let mut opts = VerifyOptions::new(ProgTypeId::from_kernel_id(p.prog_type).expect("xdp"));
        opts.log_level = 1 | 4;
        opts.maps = maps.clone();
        let ours = verify(&slots, &opts);
        let ks = parse_log_stats(&k.log);
        let row = format!(
            "{}: kernel accepted={} insns={:?} states={:?} stack={:?}; ironbpf accepted={} insns={} states={} stack={:?}",
            p.name,
            k.accepted(),
            ks.processed_insns,
            ks.total_states,
            ks.stack_depths,
            ours.result.is_ok(),
            ours.stats.processed_insns,
            ours.stats.total_states,
            ours.stats.stack_depths
        );
        println!("{row}");
        if k.accepted() != ours.result.is_ok()
            || ks.processed_insns != Some(ours.stats.processed_insns)
            || ks.total_states != Some(ours.stats.total_states)
            || ks.stack_depths != ours.stats.stack_depths
        {
            failures.push(row);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
