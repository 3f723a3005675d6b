//! `ironbpf diff`: random programs on our engine and on the kernel,
//! compared on r0, the packet after the run, and acceptance; with
//! `--descriptors`, the program-type descriptors' context and return rules
//! probed against the kernel's verifier.

use crate::cmd_test::JitModeArg;
use crate::Failure;
use clap::{Args, ValueEnum};
use ironbpf_conformance::diff::{run_random_with, VmXdp, XdpEngine, XdpOutcome};
use ironbpf_vm::Options;
use serde_json::json;
use std::io::IsTerminal;

#[derive(Clone, Copy, ValueEnum)]
pub enum DiffEngine {
    /// The checked interpreter
    Interp,
    /// The x86-64 JIT (its mode from --mode)
    Jit,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Against {
    /// The running kernel, through BPF_PROG_LOAD and BPF_PROG_TEST_RUN
    Kernel,
    /// Our interpreter
    Interp,
    /// Our JIT in checked mode
    Jit,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf diff --random 5000 --seed 1\n  ironbpf diff --random 100000 --seed 1 --against kernel\n  ironbpf diff --descriptors\n  ironbpf diff --descriptors --type cgroup_sock_addr --group return\n  ironbpf diff --verifier --random 10000 --seed 1\n  ironbpf diff --verifier --random 1 --seed 4242 --log-level 2"
)]
pub struct DiffArgs {
    /// How many random programs to generate and compare
    #[arg(long, default_value_t = 1000)]
    random: u64,
    /// The first seed; program i uses seed + i, so any program can be replayed alone
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Our engine
    #[arg(long, value_enum, default_value = "interp")]
    engine: DiffEngine,
    /// The reference
    #[arg(long, value_enum, default_value = "kernel")]
    against: Against,
    /// The JIT's mode, with --engine jit (verified: a program ironbpf's verifier refuses runs on neither engine and is counted with the verifier's reason)
    #[arg(long, value_enum, default_value = "checked")]
    mode: JitModeArg,
    /// With --engine jit: constant blinding, as the kernel's bpf_jit_harden (no immediate of the program in the code)
    #[arg(long)]
    harden: bool,
    /// Generate unverified programs (out-of-bounds accesses, endless loops, misaligned atomics), run with a budget of 20,000 instructions: both engines must stop at the same instruction with the same error (with --mode verified, only programs the verifier accepts run, to their end)
    #[arg(long)]
    unverified: bool,
    /// Show the most common reasons the reference refused programs
    #[arg(long)]
    reasons: bool,

    // --- `--verifier`: the verifier differential (conformance::vgen) ---
    /// Compare verdicts instead of runs: random safe and rule-breaking programs (six program
    /// types, privileged and unprivileged) through the kernel's verifier and ironbpf's
    #[arg(long)]
    verifier: bool,
    /// With --verifier: the log level both verifiers log at (1 or 2) for the log comparison
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    log_level: u32,
    /// With --verifier: how many disagreements to list (one line each); the first few are shown in full
    #[arg(long, default_value_t = 100)]
    list: usize,
    /// With --verifier: check each refused rule-breaking program's explanation (category,
    /// failing insn, root cause) against what the generator broke; no kernel needed
    #[arg(long, requires = "verifier")]
    explain: bool,
    /// With --verifier: soundness instead of the kernel comparison: generate programs until
    /// ironbpf's verifier accepted --random of them, run each in the checked interpreter on
    /// random inputs (maps, context, packets of random length) and count memory violations;
    /// no kernel needed
    #[arg(long, requires = "verifier")]
    soundness: bool,
    /// With --soundness: runs per accepted program, each on new input
    #[arg(long, default_value_t = 4, requires = "soundness")]
    runs: u32,
    /// Probe the program-type descriptors and helper prototypes against the
    /// kernel instead: every context offset, size and access kind, return
    /// values, per type and attach type; every helper's availability,
    /// argument kinds, GPL and privilege rules
    #[arg(long)]
    descriptors: bool,
    /// With --descriptors: only the configurations whose label (`type` or
    /// `type/attach_type`) contains this
    #[arg(long = "type", requires = "descriptors")]
    prog_type: Option<String>,
    /// With --descriptors: only this probe group
    #[arg(long, value_enum, requires = "descriptors")]
    group: Option<ProbeGroup>,
    /// JSON lines on stdout: one record per case (random program, probe,
    /// or violation), then one summary record (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Prints one JSON line.
fn emit(v: serde_json::Value) {
    println!("{v}");
}

/// Nanoseconds since `t`, as the integer every JSON record uses.
fn ns_since(t: std::time::Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// An engine's outcome on one random program, as JSON.
fn outcome_json(o: &XdpOutcome) -> serde_json::Value {
    match o {
        XdpOutcome::Ran {
            retval,
            packet,
            maps,
        } => {
            let maps: Vec<serde_json::Value> = maps
                .iter()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| json!({"key": k, "value": hex(v)}))
                        .collect()
                })
                .collect();
            json!({"result": "ran", "r0": retval, "packet": hex(packet), "maps": maps, "why": null})
        }
        XdpOutcome::Refused(w) => {
            json!({"result": "refused", "r0": null, "packet": null, "maps": null, "why": w})
        }
        XdpOutcome::Failed(w) => {
            json!({"result": "failed", "r0": null, "packet": null, "maps": null, "why": w})
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeGroup {
    /// Context accesses (`is_valid_access`)
    Ctx,
    /// Return values (`check_return_code`)
    Return,
    /// Helper prototypes: availability per type, argument kinds, GPL,
    /// privilege, map types (`get_func_proto`, `check_func_arg`)
    Helpers,
}

/// `ironbpf diff --descriptors`: runs the probe groups, lists every
/// disagreement and the configurations the kernel would not load, and ends
/// with the counts per group and `N agreed, M disagreed`.
fn run_descriptors(args: &DiffArgs) -> Result<(), Failure> {
    use ironbpf_conformance::descriptors::{self, Groups};
    ironbpf_kernel::probe()
        .map_err(|u| Failure::usage(format!("--descriptors needs the kernel: {}", u.reason)))?;
    let groups = Groups {
        ctx: args.group.is_none_or(|g| g == ProbeGroup::Ctx),
        returns: args.group.is_none_or(|g| g == ProbeGroup::Return),
    };
    let helpers = args.group.is_none_or(|g| g == ProbeGroup::Helpers) && args.prog_type.is_none();
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut done = 0u64;
    let report = descriptors::run(groups, args.prog_type.as_deref(), |r| {
        done += 1;
        if args.json {
            emit(json!({
                "mode": "descriptors", "record": "case", "group": r.group,
                "subject": r.subject, "probe": r.probe,
                "ironbpf": if r.predicted { "accepts" } else { "refuses" },
                "kernel": if r.kernel { "accepts" } else { "refuses" },
                "outcome": if r.agreed() { "agree" } else { "disagree" },
                "kernel_message": r.kernel_message,
            }));
        }
        if tty && done.is_multiple_of(2000) {
            eprint!("\r{done} probes ({})   ", r.subject);
        }
    });
    if tty {
        eprintln!();
    }
    if report.results.is_empty() && report.unloadable.is_empty() {
        return Err(Failure::usage(format!(
            "no program type matches {:?}; the labels are names like `sched_cls` or `cgroup_sock_addr/cgroup_inet4_bind`",
            args.prog_type.as_deref().unwrap_or("")
        )));
    }
    if args.json {
        return descriptors_json(&report, helpers, started);
    }
    for r in report.results.iter().filter(|r| !r.agreed()) {
        println!(
            "DISAGREE {} {}: {}: ironbpf {}, kernel {}{}",
            r.group,
            r.subject,
            r.probe,
            if r.predicted { "accepts" } else { "refuses" },
            if r.kernel { "accepts" } else { "refuses" },
            r.kernel_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
    }
    for (label, why) in &report.unloadable {
        println!("not probed: {label}: the kernel does not load it: {why}");
    }
    let mut configs: Vec<&str> = report.results.iter().map(|r| r.subject.as_str()).collect();
    configs.dedup();
    println!(
        "probed {} configurations (program type, or type/expected attach type)",
        configs.len()
    );
    let summary = descriptors::summarize(&report.results);
    let (mut agreed, mut disagreed) = (0, 0);
    for g in &summary {
        println!(
            "{}: {} probes, {} agreed, {} disagreed (the kernel accepted {})",
            g.group,
            g.probes,
            g.agreed,
            g.disagreed(),
            g.kernel_accepted
        );
        agreed += g.agreed;
        disagreed += g.disagreed();
    }
    if helpers {
        let report = ironbpf_conformance::probe_helpers::run(
            &ironbpf_conformance::probe_helpers::ProbeOptions::default(),
        )
        .map_err(|e| Failure::usage(e.to_string()))?;
        for d in &report.disagreements {
            println!("DISAGREE helpers {d}");
        }
        for (label, why) in &report.unloadable {
            println!("not probed: helpers in {label}: the kernel does not load it: {why}");
        }
        for (name, c) in &report.groups {
            println!(
                "helpers/{name}: {} probes, {} agreed, {} disagreed ({} inconclusive: the probe could not be built or says nothing, not counted)",
                c.agreed + c.disagreed + c.inconclusive,
                c.agreed,
                c.disagreed,
                c.inconclusive
            );
            agreed += c.agreed;
            disagreed += c.disagreed;
        }
    }
    println!("{agreed} agreed, {disagreed} disagreed");
    if disagreed == 0 {
        Ok(())
    } else {
        Err(Failure::failed(String::new()))
    }
}

/// `diff --descriptors --json`: the configurations not probed, the helper
/// probes' disagreements, then the summary record.
fn descriptors_json(
    report: &ironbpf_conformance::descriptors::RunReport,
    helpers: bool,
    started: std::time::Instant,
) -> Result<(), Failure> {
    for (label, why) in &report.unloadable {
        emit(json!({"mode": "descriptors", "record": "not probed", "subject": label, "why": why}));
    }
    let mut groups = Vec::new();
    let (mut agreed, mut disagreed) = (0u64, 0u64);
    for g in &ironbpf_conformance::descriptors::summarize(&report.results) {
        groups.push(json!({
            "group": g.group, "probes": g.probes, "agreed": g.agreed,
            "disagreed": g.disagreed(), "kernel_accepted": g.kernel_accepted,
            "inconclusive": 0,
        }));
        agreed += g.agreed as u64;
        disagreed += g.disagreed() as u64;
    }
    if helpers {
        let h = ironbpf_conformance::probe_helpers::run(
            &ironbpf_conformance::probe_helpers::ProbeOptions::default(),
        )
        .map_err(|e| Failure::usage(e.to_string()))?;
        for d in &h.disagreements {
            emit(
                json!({"mode": "descriptors", "record": "case", "group": "helpers",
                "outcome": "disagree", "detail": d.to_string()}),
            );
        }
        for (label, why) in &h.unloadable {
            emit(json!({"mode": "descriptors", "record": "not probed",
                "subject": format!("helpers in {label}"), "why": why}));
        }
        for (name, c) in &h.groups {
            groups.push(json!({
                "group": format!("helpers/{name}"),
                "probes": c.agreed + c.disagreed + c.inconclusive, "agreed": c.agreed,
                "disagreed": c.disagreed, "kernel_accepted": null,
                "inconclusive": c.inconclusive,
            }));
            agreed += c.agreed as u64;
            disagreed += c.disagreed as u64;
        }
    }
    emit(json!({
        "mode": "descriptors", "record": "summary", "agreed": agreed, "disagreed": disagreed,
        "groups": groups, "duration_ns": ns_since(started),
    }));
    if disagreed == 0 {
        Ok(())
    } else {
        Err(Failure::failed(String::new()))
    }
}

fn outcome(o: &XdpOutcome) -> String {
    match o {
        XdpOutcome::Ran {
            retval,
            packet,
            maps,
        } => {
            let maps: Vec<String> = maps
                .iter()
                .map(|m| {
                    let m: Vec<String> =
                        m.iter().map(|(k, v)| format!("{k}: {}", hex(v))).collect();
                    format!("{{{}}}", m.join(", "))
                })
                .collect();
            format!(
                "r0 (low 32 bits) = {retval:#x}, packet = {}, maps = [{}]",
                hex(packet),
                maps.join(", ")
            )
        }
        XdpOutcome::Refused(w) => format!("refused: {w}"),
        XdpOutcome::Failed(w) => format!("failed: {w}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn run(args: DiffArgs) -> Result<(), Failure> {
    if args.descriptors {
        return run_descriptors(&args);
    }
    if args.verifier && args.explain {
        if args.json {
            return Err(Failure::usage(
                "--json is not available with --explain yet: drop --json for the text report",
            ));
        }
        return crate::cmd_verify::run_explain_diff(args.random, args.seed, args.list);
    }
    if args.verifier && args.soundness {
        return run_soundness(&args);
    }
    if args.verifier {
        return run_verifier(&args);
    }
    let (gen, options): (fn(u64) -> _, Options) = if args.unverified {
        (
            ironbpf_conformance::jitdiff::generate_unverified,
            ironbpf_conformance::jitdiff::unverified_options(),
        )
    } else {
        (ironbpf_conformance::gen::generate, Options::default())
    };
    if args.unverified && matches!(args.against, Against::Kernel) {
        return Err(Failure::usage(
            "--unverified programs are for our engines: the kernel refuses them; use --against interp",
        ));
    }
    if args.harden && !matches!(args.engine, DiffEngine::Jit) {
        return Err(Failure::usage(
            "--harden blinds the JIT's constants: add --engine jit",
        ));
    }
    let ours: Box<dyn XdpEngine> = match args.engine {
        DiffEngine::Interp => Box::new(VmXdp::interp(options)),
        DiffEngine::Jit => Box::new(VmXdp::jit(args.mode.mode(), options).hardened(args.harden)),
    };
    let verified_only =
        matches!(args.engine, DiffEngine::Jit) && matches!(args.mode, JitModeArg::Verified);
    // Verified code runs without an instruction budget: the verifier bounded
    // every loop (a `may_goto` loop may run 8,388,608 times), so the reference
    // must not stop a program the verified JIT is right to finish.
    let ref_options = if verified_only {
        Options {
            budget: u64::MAX,
            ..options
        }
    } else {
        options
    };
    let reference: Box<dyn XdpEngine> = match args.against {
        Against::Interp => Box::new(VmXdp::interp(ref_options)),
        Against::Jit => Box::new(VmXdp::jit(ironbpf_vm::JitMode::Checked, ref_options)),
        Against::Kernel => {
            Box::new(ironbpf_conformance::kernel::KernelXdp::new().map_err(Failure::usage)?)
        }
    };
    let reference = if verified_only {
        Box::new(VerifiedOnly(reference))
    } else {
        reference
    };
    let tty = std::io::stderr().is_terminal();
    let total = args.random;
    let started = std::time::Instant::now();
    let (mut refused, mut disagreed) = (0usize, 0usize);
    let summary = run_random_with(
        gen,
        ours.as_ref(),
        reference.as_ref(),
        total,
        args.seed,
        |done, s| {
            if args.json {
                // What this case added to the totals says its outcome.
                let seed = args.seed.wrapping_add(done - 1);
                let mut rec = json!({
                    "mode": "random", "record": "case", "seed": seed,
                    "ours": ours.name(), "reference": reference.name(),
                    "outcome": "agree", "insns": null, "packet": null,
                    "ours_outcome": null, "reference_outcome": null,
                });
                if s.disagreed.len() > disagreed {
                    if let Some(d) = s.disagreed.last() {
                        rec["outcome"] = json!("disagree");
                        rec["insns"] = json!(d
                            .case
                            .insns
                            .iter()
                            .map(ironbpf_isa::disasm::disasm_insn)
                            .collect::<Vec<_>>());
                        rec["packet"] = json!(hex(&d.case.packet));
                        rec["ours_outcome"] = outcome_json(&d.ours);
                        rec["reference_outcome"] = outcome_json(&d.reference);
                        rec["reproduced"] = json!(d.reproduced);
                    }
                } else if s.refused > refused {
                    rec["outcome"] = json!("refused by the reference");
                }
                emit(rec);
                (refused, disagreed) = (s.refused, s.disagreed.len());
            }
            if tty && (done % 500 == 0 || done == total) {
                eprint!("\r{done}/{total}: {s}   ");
            }
        },
    );
    if tty {
        eprintln!();
    }
    if args.json {
        let reasons: Vec<_> = summary
            .refusal_reasons
            .iter()
            .map(|(why, n)| json!({"reason": why, "count": n}))
            .collect();
        emit(json!({
            "mode": "random", "record": "summary", "programs": total, "seed": args.seed,
            "ours": ours.name(), "reference": reference.name(),
            "agreed": summary.agreed, "disagreed": summary.disagreed.len(),
            "refused_by_reference": summary.refused, "refusal_reasons": reasons,
            "duration_ns": ns_since(started),
        }));
        return if summary.disagreed.is_empty() {
            Ok(())
        } else {
            Err(Failure::failed(String::new()))
        };
    }
    for d in &summary.disagreed {
        println!(
            "DISAGREE seed {} ({} insns after shrinking; replay with --random 1 --seed {}):",
            d.case.seed,
            d.case.insns.len(),
            d.case.seed
        );
        let mut pc = 0;
        for i in &d.case.insns {
            println!("  {pc}: {}", ironbpf_isa::disasm::disasm_insn(i));
            pc += i.slots();
        }
        println!("  packet: {}", hex(&d.case.packet));
        for (i, m) in d.case.maps.iter().enumerate() {
            let m: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {}", hex(v))).collect();
            println!("  map[idx:{i}] before the run: {{{}}}", m.join(", "));
        }
        println!("  {}: {}", ours.name(), outcome(&d.ours));
        println!("  {}: {}", reference.name(), outcome(&d.reference));
        if !d.reproduced {
            println!(
                "  not reproduced: the shrunk program agreed when run once more, so an engine's result \
                 depends on more than the program and its input (addresses, state left by earlier runs)"
            );
        }
    }
    if args.reasons && !summary.refusal_reasons.is_empty() {
        println!("why the reference refused programs:");
        for (why, n) in summary.refusal_reasons.iter().take(10) {
            println!("  {n:>7}  {why}");
        }
    }
    println!("{summary}");
    if summary.disagreed.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(String::new()))
    }
}

// ---------------------------------------------------------------------------
// diff --verifier

/// How many disagreements are shown with their program and both logs.
const SHOWN_IN_FULL: usize = 3;

fn verdict_line(accepted: bool, insn: Option<usize>, line: Option<&str>) -> String {
    if accepted {
        "accepted".into()
    } else {
        format!(
            "refused at insn {}: {}",
            insn.map_or("?".to_string(), |i| i.to_string()),
            line.unwrap_or("")
        )
    }
}

/// A case with its rule, its program and both logs.
fn print_in_full(c: &ironbpf_conformance::vgen::VCase) {
    let p = &c.program;
    if let Some(b) = &p.broken {
        println!(
            "  breaks {} at insn {}{}; the kernel is expected to say `{}`",
            b.rule,
            b.insn,
            b.cause
                .map_or(String::new(), |c| format!(" (caused at insn {c})")),
            b.expect
        );
    }
    let mut pc = 0;
    for line in p.text.lines() {
        if line.ends_with(':') {
            println!("  {line}");
            continue;
        }
        println!("  {pc:>4}: {line}");
        pc += if line.contains("map[") || line.ends_with(" ll") {
            2
        } else {
            1
        };
    }
    println!("  --- the kernel's log ---");
    for l in c.kernel.log.lines() {
        println!("  | {l}");
    }
    println!("  --- ironbpf's log ---");
    for l in c.ours.log.lines() {
        println!("  | {l}");
    }
}

/// `ironbpf diff --verifier --soundness`: prints each violation with its
/// seed, then the `N accepted, M runs, V violations` line.
fn run_soundness(args: &DiffArgs) -> Result<(), Failure> {
    use ironbpf_conformance::soundness::{run_soundness, SoundnessOptions};
    let tty = std::io::stderr().is_terminal();
    let opts = SoundnessOptions {
        runs: args.runs,
        ..SoundnessOptions::default()
    };
    let total = args.random;
    let started = std::time::Instant::now();
    let mut shown = 0;
    let summary = run_soundness(total, args.seed, &opts, |s| {
        while let Some(v) = s.violations.get(shown) {
            if args.json {
                emit(json!({
                    "mode": "soundness", "record": "case", "outcome": "violation",
                    "seed": v.seed, "type": v.prog_type.name(), "run": v.run,
                    "input": v.input, "error": v.error, "detail": v.to_string(),
                }));
            } else {
                println!("{v}");
            }
            shown += 1;
        }
        if tty && s.generated % 1000 == 0 {
            eprint!(
                "\r{}/{total} accepted, {} violations   ",
                s.accepted,
                s.violations.len()
            );
        }
    })
    .map_err(Failure::usage)?;
    if tty {
        eprintln!();
    }
    if args.json {
        emit(json!({
            "mode": "soundness", "record": "summary", "generated": summary.generated,
            "accepted": summary.accepted, "runs": summary.runs,
            "budget_stops": summary.budget_stops, "violations": summary.violations.len(),
            "duration_ns": ns_since(started),
        }));
    } else {
        println!("{summary}");
    }
    if summary.violations.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(String::new()))
    }
}

fn run_verifier(args: &DiffArgs) -> Result<(), Failure> {
    use ironbpf_conformance::vgen::{run_verifier_diff, KernelOracle};
    let oracle = KernelOracle::new().map_err(Failure::usage)?;
    if let Err(why) = oracle.unprivileged_available() {
        return Err(Failure::usage(format!(
            "the unprivileged half of the generated programs cannot be loaded: {why}"
        )));
    }
    let tty = std::io::stderr().is_terminal();
    let total = args.random;
    let started = std::time::Instant::now();
    let (mut agreed, mut kept) = (0u64, 0usize);
    let summary = run_verifier_diff(
        &oracle,
        total,
        args.seed,
        args.log_level,
        args.list,
        |done, s| {
            if args.json {
                let seed = args.seed.wrapping_add(done - 1);
                // The generator is deterministic: the seed gives the program again.
                let p = ironbpf_conformance::vgen::generate(seed);
                let mut rec = json!({
                    "mode": "verifier", "record": "case", "seed": seed,
                    "outcome": if s.agreed > agreed { "agree" } else { "disagree" },
                    "type": p.prog_type.name(), "privileged": p.privileged,
                    "rule": p.broken.as_ref().map_or("safe", |b| b.rule.name()),
                    "kernel": null, "ironbpf": null,
                });
                if s.disagreed.len() > kept {
                    if let Some(c) = s.disagreed.last() {
                        rec["kernel"] = json!({"accepted": c.kernel.accepted,
                            "error_insn": c.kernel.error_insn, "first_error_line": c.kernel.error_line});
                        rec["ironbpf"] = json!({"accepted": c.ours.accepted,
                            "error_insn": c.ours.error_insn, "first_error_line": c.ours.error_line});
                    }
                }
                emit(rec);
                (agreed, kept) = (s.agreed, s.disagreed.len());
            }
            if tty && (done % 500 == 0 || done == total) {
                eprint!("\r{done}/{total}: {} agreed   ", s.agreed);
            }
        },
    )
    .map_err(Failure::usage)?;
    if tty {
        eprintln!();
    }
    if args.json {
        let per_rule: Vec<_> = summary
            .per_rule
            .iter()
            .map(|(rule, c)| {
                json!({"rule": rule, "programs": c.programs, "kernel_refused": c.kernel_refused,
                    "kernel_as_meant": c.kernel_as_meant, "ironbpf_refused": c.ironbpf_refused,
                    "agreed": c.agreed, "same_insn": c.same_insn, "same_message": c.same_message})
            })
            .collect();
        emit(json!({
            "mode": "verifier", "record": "summary", "programs": summary.total,
            "kernel_release": summary.release, "agreed": summary.agreed,
            "disagreed": summary.disagreed_count(), "kernel_refused": summary.kernel_refused,
            "ironbpf_refused": summary.ironbpf_refused, "same_message": summary.same_message,
            "same_log": summary.same_log, "per_rule": per_rule,
            "kernel_departures": summary.kernel_departures.len(),
            "duration_ns": ns_since(started),
        }));
        return if summary.disagreed_count() == 0 {
            Ok(())
        } else {
            Err(Failure::failed(String::new()))
        };
    }
    for (n, c) in summary.disagreed.iter().enumerate() {
        let p = &c.program;
        let rule = p.broken.as_ref().map_or("safe", |b| b.rule.name());
        println!(
            "DISAGREE seed {} ({rule}, {}, {}; replay with --verifier --random 1 --seed {}): kernel {}; ironbpf {}",
            p.seed,
            p.prog_type,
            if p.privileged { "privileged" } else { "unprivileged" },
            p.seed,
            verdict_line(c.kernel.accepted, c.kernel.error_insn, c.kernel.error_line.as_deref()),
            verdict_line(c.ours.accepted, c.ours.error_insn, c.ours.error_line.as_deref()),
        );
        if n < SHOWN_IN_FULL {
            print_in_full(c);
        }
    }
    for (seed, v) in &summary.kernel_departures {
        println!("KNOWN KERNEL DEPARTURE seed {seed} (replay with --verifier --random 1 --seed {seed}): the kernel accepted it, ironbpf refused it, and it breaks memory safety when run: {v}");
    }
    let more = summary.disagreed_count() as usize - summary.disagreed.len();
    if more > 0 {
        println!("... and {more} more disagreements (raise --list to see them)");
    }
    for c in &summary.message_misses {
        let p = &c.program;
        let rule = p.broken.as_ref().map_or("safe", |b| b.rule.name());
        println!(
            "DIFFERENT MESSAGE seed {} ({rule}): kernel {}; ironbpf {}",
            p.seed,
            verdict_line(
                c.kernel.accepted,
                c.kernel.error_insn,
                c.kernel.error_line.as_deref()
            ),
            verdict_line(
                c.ours.accepted,
                c.ours.error_insn,
                c.ours.error_line.as_deref()
            ),
        );
        if summary.total <= SHOWN_IN_FULL as u64 {
            print_in_full(c);
        }
    }
    // A replay of a few seeds: the logs that differ, in full.
    if summary.total <= SHOWN_IN_FULL as u64 {
        for c in &summary.log_misses {
            if c.same_message() || c.kernel.accepted {
                println!("DIFFERENT LOG seed {}", c.program.seed);
                print_in_full(c);
            }
        }
    }
    println!("per rule: programs, kernel refused, kernel as meant, ironbpf refused, agreed, same insn (- where the kernel names none), same message");
    for (rule, c) in &summary.per_rule {
        let same_insn = if c.insn_comparable == 0 {
            "-".to_string()
        } else {
            c.same_insn.to_string()
        };
        println!(
            "  {rule:<26} {:>7} {:>7} {:>7} {:>7} {:>7} {same_insn:>7} {:>7}",
            c.programs,
            c.kernel_refused,
            c.kernel_as_meant,
            c.ironbpf_refused,
            c.agreed,
            c.same_message
        );
    }
    if !summary.generator_misses.is_empty() {
        println!(
            "{} programs where the kernel's verdict is not the one the generator meant, e.g.:",
            summary.generator_misses.len()
        );
        for (seed, why) in summary.generator_misses.iter().take(5) {
            println!("  seed {seed}: {why}");
        }
    }
    println!("{summary}");
    if summary.disagreed_count() == 0 {
        Ok(())
    } else {
        Err(Failure::failed(String::new()))
    }
}

/// The reference of a diff of the verified JIT: a program ironbpf's
/// verifier refuses is not run on either engine (the verified JIT has no
/// code for it) and is counted as refused, with the verifier's reason.
struct VerifiedOnly(Box<dyn XdpEngine>);

impl XdpEngine for VerifiedOnly {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn run(&self, case: &ironbpf_conformance::gen::GenProgram) -> XdpOutcome {
        match ironbpf_conformance::diff::verify_case(case) {
            Ok(_) => self.0.run(case),
            Err(why) => XdpOutcome::Refused(why),
        }
    }
}
