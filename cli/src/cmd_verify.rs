//! `ironbpf verify`: ironbpf's verifier on the programs of an ELF object:
//! its verdict and log, and with `--kernel` the running kernel's beside it.
//! The exit code follows ironbpf's verdict: 0 every program accepted, 1 one
//! refused (or not loaded), 2 bad usage or an unreadable object.

use crate::cmd_kernel::{
    describe, error_line, inspect, kernel_object, kernel_verdict, load, outcome_json, outcome_line,
    pick, print_log, KernelVerdict,
};
use crate::Failure;
use clap::Args;
use ironbpf_kernel::{with_effective_caps, LoadOutcome, CAP_NET_ADMIN_BIT};
use ironbpf_loader::{MapDef, Program};
use ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_verifier::explain::{self as vexplain, Explanation, SourceLine};
use ironbpf_verifier::{verify, MapInfo, Stats, VerifyOptions, VerifyOutcome};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args)]
#[command(
    after_help = "Exit code: 0 every program accepted by ironbpf's verifier, 1 one refused or not loaded, \
                  2 bad usage or unreadable input.\n\n\
                  Examples:\n  ironbpf verify ../shared/corpus/ebpf-samples/linux/sockex1_kern.o\n  \
                  ironbpf verify --type xdp ../shared/corpus/ebpf-samples/build/nullmapref.o --log-level 2 --kernel\n  \
                  ironbpf verify prog.o --prog xdp_main --json --kernel\n  \
                  ironbpf verify --unpriv ../shared/corpus/ebpf-samples/linux/sockex1_kern.o"
)]
pub struct VerifyArgs {
    /// A BPF ELF object (clang -target bpf), or with --kernel a folder: every program of every
    /// object under it, ironbpf's verdict against the kernel's, with the agreement and each
    /// disagreement
    object: PathBuf,
    /// The program (its function name); every program of the object when omitted
    #[arg(long)]
    prog: Option<String>,
    /// The program type for sections whose name does not say it (xdp, socket_filter, sched_cls, ...)
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// The verifier log's level: 1 (the path to each verdict) or 2 (every instruction's state)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    log_level: u32,
    /// Verify as an unprivileged loader (no CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN); the kernel,
    /// with --kernel, is asked from a thread with those capabilities dropped
    #[arg(long)]
    unpriv: bool,
    /// Also load each program into the running kernel and show its verdict and log beside ironbpf's
    #[arg(long)]
    kernel: bool,
    /// One JSON record per program (one per line); a refused program's record carries the
    /// explanation as an `explanation` object
    #[arg(long)]
    json: bool,
    /// How to print the explanation after a refused program's log: ironbpf's plain account, or
    /// the layout kernels from 7.3 on print (`Verification failed: ...`, `Reason:`, `At:`,
    /// `Instruction context:`, `Causal path:`, `Suggestion:`)
    #[arg(long, value_enum, default_value = "plain")]
    explain_format: ExplainFormat,
    /// Write the control-flow graph (by subprogram, basic blocks with their instructions and
    /// source lines, the failing path highlighted) to this file: `.dot` as Graphviz text,
    /// `.svg` rendered with Graphviz's `dot`
    #[arg(long)]
    cfg: Option<PathBuf>,
}

/// The layout of the explanation.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// ironbpf's account: code, category, the failing insn and source line, why, the root
    /// cause, the path's branches, the suggestion
    Plain,
    /// The layout of Linux 7.3 and later
    Kernel73,
    /// No explanation
    None,
}

/// `BPF_F_STRICT_ALIGNMENT` is not in an ELF object: off, as libbpf loads.
pub(crate) fn options(
    p: &Program,
    maps: &[MapDef],
    license: &str,
    log_level: u32,
    unpriv: bool,
) -> Result<VerifyOptions, String> {
    let prog_type = ProgTypeId::from_kernel_id(p.prog_type).ok_or_else(|| {
        format!(
            "program {}: program type {} is unknown to ironbpf",
            p.name, p.prog_type
        )
    })?;
    let mut o = VerifyOptions::new(prog_type);
    o.attach_type = AttachType::from_kernel_id(p.expected_attach_type);
    o.log_level = log_level | ironbpf_kernel::BPF_LOG_STATS;
    o.privileged = !unpriv;
    o.gpl = gpl_compatible(license);
    let info = |m: &MapDef| MapInfo {
        name: m.name.clone(),
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        map_flags: m.map_flags,
        frozen_readonly: m.frozen,
    };
    o.maps = maps.iter().map(info).collect();
    // A map of maps' lookups give its inner map's values.
    o.inner_maps = maps.iter().map(|m| m.inner.as_deref().map(info)).collect();
    Ok(o)
}

/// The kernel's `license_is_gpl_compatible` list; an object without a
/// license section is loaded as GPL (as `ironbpf kernel verify` does).
fn gpl_compatible(license: &str) -> bool {
    license.is_empty()
        || matches!(
            license,
            "GPL"
                | "GPL v2"
                | "GPL and additional rights"
                | "Dual BSD/GPL"
                | "Dual MIT/GPL"
                | "Dual MPL/GPL"
        )
}

/// ironbpf's outcome as JSON, in the shape of the kernel's record.
fn ours_json(out: &VerifyOutcome, took: Duration) -> Value {
    let (verdict, insn, line) = match &out.result {
        Ok(_) => ("accepted", None, None),
        Err(r) => ("refused", r.insn, Some(r.message.clone())),
    };
    json!({
        "verdict": verdict,
        "error_insn": insn,
        "first_error_line": line,
        "errno": out.result.as_ref().err().map(|r| r.errno),
        "processed_insns": out.stats.processed_insns,
        "verification_time_usec": took.as_micros() as u64,
        "log": out.log,
    })
}

fn ours_line(out: &VerifyOutcome, took: Duration) -> String {
    let mut s = match &out.result {
        Ok(_) => "accepted".to_string(),
        Err(r) => {
            let mut s = format!("refused with {}", ironbpf_kernel::errno_name(r.errno));
            if let Some(i) = r.insn {
                s.push_str(&format!(" at insn {i}"));
            }
            s.push_str(&format!(": {}", r.message));
            s
        }
    };
    s.push_str(&format!(
        ", {} insns processed, verification {} us",
        out.stats.processed_insns,
        took.as_micros()
    ));
    s
}

pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    if args.object.is_dir() {
        return run_corpus(&args);
    }
    // An object that cannot be read or parsed is bad input (2), not a
    // refusal (1).
    let ins =
        inspect(&args.object, args.prog_type.as_deref()).map_err(|f| Failure::usage(f.message))?;
    let progs = pick(&ins, &args.object, args.prog.as_deref(), true)?;
    let kobj = if args.kernel {
        if let Err(why) = ironbpf_kernel::probe() {
            return Err(Failure::usage(format!(
                "--kernel: the kernel cannot be asked: {why}"
            )));
        }
        Some(kernel_object(&ins, &args.object)?)
    } else {
        None
    };
    let obj = &ins.object;
    let mut refused = 0;
    for (i, p) in progs.iter().enumerate() {
        let slots = ironbpf_isa::slots_from_bytes(&p.insns).map_err(|e| {
            Failure::usage(format!(
                "{}: program {}: {e}",
                args.object.display(),
                p.name
            ))
        })?;
        let opts = options(p, &obj.maps, &obj.license, args.log_level, args.unpriv)
            .map_err(|e| Failure::usage(format!("{}: {e}", args.object.display())))?;
        let start = Instant::now();
        let ours = verify(&slots, &opts);
        let took = start.elapsed();
        if ours.result.is_err() {
            refused += 1;
        }
        let lines = source_lines(p, slots.len());
        let explanation = ours.result.as_ref().err().map(|rej| {
            let desc = ironbpf_progtype::desc::ProgTypeDesc::builtin(opts.prog_type);
            vexplain::explain(&slots, &opts, desc, rej, &lines)
        });
        if let Some(path) = &args.cfg {
            let dot = vexplain::dot::cfg_dot(&slots, &lines, explanation.as_ref());
            let note = write_cfg(path, &dot, progs.len() > 1, &p.name)?;
            if !args.json {
                eprintln!("{note}");
            }
        }
        let theirs: Option<LoadOutcome> = match &kobj {
            None => None,
            Some(k) if args.unpriv => {
                let keep = if p.prog_type == ProgTypeId::CgroupSkb.kernel_id() {
                    CAP_NET_ADMIN_BIT
                } else {
                    0
                };
                Some(
                    with_effective_caps(keep, || load(k, p, args.log_level))
                        .map_err(|e| Failure::usage(format!("--kernel --unpriv: {e}")))?,
                )
            }
            Some(k) => Some(load(k, p, args.log_level)),
        };
        if args.json {
            let mut rec = json!({
                "object": args.object.display().to_string(), "program": p.name,
                "section": p.section, "type": p.prog_type_name, "insns": p.insns.len() / 8,
                "type_guessed_from": p.type_guessed_from,
                "privileged": !args.unpriv,
                "ironbpf": ours_json(&ours, took),
                "log_level": args.log_level,
                "stats": stats_json(&ours.stats),
            });
            if let Some(e) = &explanation {
                rec["explanation"] = explanation_json(e);
            }
            if let Some(t) = &theirs {
                rec["kernel"] = outcome_json(t, true);
                rec["kernel_release"] = json!(ironbpf_kernel::kernel_release());
            }
            println!("{rec}");
            continue;
        }
        if i > 0 {
            println!();
        }
        println!("{}: {}", args.object.display(), describe(p));
        println!("ironbpf verifier: {}", ours_line(&ours, took));
        if let Some(t) = &theirs {
            println!(
                "kernel verifier ({}): {}",
                ironbpf_kernel::kernel_release(),
                outcome_line(t)
            );
        }
        println!(
            "--- ironbpf's verifier log (log level {}) ---",
            args.log_level
        );
        print!("{}", ours.log);
        if !ours.log.is_empty() && !ours.log.ends_with('\n') {
            println!();
        }
        println!("--- end of ironbpf's verifier log ---");
        println!("{}", stats_line(&ours.stats));
        if let Some(e) = &explanation {
            match args.explain_format {
                ExplainFormat::Plain => {
                    println!("--- why ironbpf's verifier refused it ---");
                    print!("{}", vexplain::render::text(e));
                }
                ExplainFormat::Kernel73 => print!("{}", vexplain::render::kernel73(e)),
                ExplainFormat::None => {}
            }
        }
        if let Some(t) = &theirs {
            print_log(t, args.log_level, "the kernel's verifier log");
        }
    }
    if args.prog.is_none() {
        for r in &ins.refused {
            refused += 1;
            if args.json {
                println!(
                    "{}",
                    json!({
                        "object": args.object.display().to_string(), "program": r.name,
                        "section": r.section, "type": r.prog_type_name,
                        "ironbpf": {"verdict": "not loaded", "loader_error": r.error.to_string()},
                    })
                );
            } else {
                println!(
                    "\n{}: {} (section {}): not loaded: {}",
                    args.object.display(),
                    r.name,
                    r.section,
                    r.error
                );
            }
        }
    }
    if refused > 0 {
        let total = progs.len()
            + if args.prog.is_none() {
                ins.refused.len()
            } else {
                0
            };
        return Err(Failure::failed(if total > 1 {
            format!("ironbpf's verifier refused (or the loader did not load) {refused} of {total} programs")
        } else {
            String::new()
        }));
    }
    Ok(())
}

/// The source line of each instruction slot, from the loader's BTF line
/// info (empty without it).
fn source_lines(p: &Program, n: usize) -> Vec<Option<SourceLine>> {
    if p.line_info.is_empty() {
        return Vec::new();
    }
    let recs: Vec<(usize, SourceLine)> = p
        .line_info
        .iter()
        .map(|l| {
            (
                l.insn,
                SourceLine {
                    file: l.file.rsplit('/').next().unwrap_or(&l.file).to_string(),
                    line: l.line,
                    column: l.column,
                    text: l.source.clone(),
                },
            )
        })
        .collect();
    vexplain::lines_per_insn(n, &recs)
}

/// Writes the CFG: DOT text, or SVG through Graphviz. Returns what was done,
/// for stderr.
fn write_cfg(path: &std::path::Path, dot: &str, many: bool, prog: &str) -> Result<String, Failure> {
    let path = if many {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("cfg");
        let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("dot");
        path.with_file_name(format!("{stem}.{prog}.{ext}"))
    } else {
        path.to_path_buf()
    };
    let svg = path.extension().is_some_and(|e| e == "svg");
    if !svg {
        std::fs::write(&path, dot)
            .map_err(|e| Failure::usage(format!("--cfg {}: {e}", path.display())))?;
        return Ok(format!(
            "wrote the control-flow graph to {}",
            path.display()
        ));
    }
    use std::io::Write as _;
    let child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) => {
            let dp = path.with_extension("dot");
            std::fs::write(&dp, dot)
                .map_err(|e| Failure::usage(format!("--cfg {}: {e}", dp.display())))?;
            return Ok(format!(
                "--cfg {}: Graphviz's `dot` is not installed: install graphviz (apt-get install graphviz) to render SVG; wrote the graph as DOT to {}",
                path.display(),
                dp.display()
            ));
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| Failure::usage(format!("--cfg: writing to dot: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Failure::usage(format!("--cfg: dot: {e}")))?;
    if !out.status.success() {
        return Err(Failure::usage(format!(
            "--cfg {}: dot failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(format!(
        "wrote the control-flow graph to {}",
        path.display()
    ))
}

/// The statistics line after the log.
fn stats_line(s: &Stats) -> String {
    format!(
        "ironbpf verifier stats: processed {} insns, max_states_per_insn {}, total_states {}, peak_states {}, mark_read {}, stack depth {}",
        s.processed_insns,
        s.max_states_per_insn,
        s.total_states,
        s.peak_states,
        s.mark_read,
        s.stack_depths
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("+")
    )
}

fn stats_json(s: &Stats) -> Value {
    json!({
        "processed_insns": s.processed_insns,
        "max_states_per_insn": s.max_states_per_insn,
        "total_states": s.total_states,
        "peak_states": s.peak_states,
        "mark_read": s.mark_read,
        "stack_depths": s.stack_depths,
    })
}

fn source_json(s: &Option<SourceLine>) -> Value {
    match s {
        Some(s) => json!({"file": s.file, "line": s.line, "column": s.column, "text": s.text}),
        None => Value::Null,
    }
}

fn site_json(s: &vexplain::Site) -> Value {
    json!({"insn": s.insn, "text": s.text, "source": source_json(&s.source)})
}

/// The explanation as data.
pub fn explanation_json(e: &Explanation) -> Value {
    json!({
        "code": e.code,
        "category": e.category,
        "title": e.title,
        "message": e.message,
        "at": e.at.as_ref().map(site_json),
        "subject": e.subject,
        "reason": e.reason,
        "state": e.state,
        "root_cause": e.root_cause.as_ref().map(|c| json!({
            "insn": c.site.insn, "text": c.site.text, "source": source_json(&c.site.source), "what": c.what,
        })),
        "path": e.path.iter().map(|b| json!({
            "insn": b.site.insn, "text": b.site.text, "source": source_json(&b.site.source),
            "taken": b.taken, "next": b.next, "condition": b.condition, "repeats": b.repeats,
        })).collect::<Vec<_>>(),
        "context": e.context.iter().map(site_json).collect::<Vec<_>>(),
        "suggestion": e.suggestion,
        "path_insns": e.full_path.len(),
    })
}

/// `ironbpf diff --verifier --explain`: every refused rule-breaking
/// generated program's explanation against what the generator broke; ends
/// with `category right X%, root cause right Y%`.
pub fn run_explain_diff(count: u64, seed: u64, list: usize) -> Result<(), Failure> {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let s = ironbpf_conformance::explaindiff::run_explain_diff(count, seed, list, |done, s| {
        if tty && (done % 500 == 0 || done == count) {
            eprint!("\r{done}/{count}: {} explained   ", s.rejected);
        }
    });
    if tty {
        eprintln!();
    }
    for c in &s.misses {
        let e = &c.explanation;
        println!(
            "MISS seed {} ({}; replay with --verifier --explain --random 1 --seed {}): expected {} with root cause insn {}; got {} {} with root cause {}",
            c.seed,
            c.rule,
            c.seed,
            c.expected.0,
            c.expected.1,
            e.code,
            e.category,
            e.root_cause
                .as_ref()
                .map_or("none".to_string(), |r| format!("insn {}", r.site.insn))
        );
    }
    println!("per rule: refused, category right, root cause right");
    for (rule, t) in &s.per_rule {
        println!(
            "  {:<28} {:>7} {:>7} {:>7}",
            rule.name(),
            t.rejected,
            t.category_right,
            t.root_right
        );
    }
    println!("{s}");
    println!(
        "category right {:.1}%, root cause right {:.1}%",
        s.category_pct(),
        s.root_pct()
    );
    Ok(())
}

/// Every `*.o` under `dir`, sorted.
fn objects_under(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            objects_under(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "o") {
            out.push(e);
        }
    }
    Ok(())
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

/// `ironbpf verify --kernel FOLDER`: ironbpf's verdict against the kernel's
/// on every program the kernel's verifier judges (programs whose load
/// fails before the verifier, such as a missing attach target, and objects
/// the loader cannot read are counted apart).
fn run_corpus(args: &VerifyArgs) -> Result<(), Failure> {
    if !args.kernel {
        return Err(Failure::usage(format!(
            "{} is a folder: comparing a corpus needs --kernel (ironbpf verify --kernel {})",
            args.object.display(),
            args.object.display()
        )));
    }
    if let Err(why) = ironbpf_kernel::probe() {
        return Err(Failure::usage(format!(
            "--kernel: the kernel cannot be asked: {why}"
        )));
    }
    let mut files = Vec::new();
    objects_under(&args.object, &mut files)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.object.display())))?;
    let (mut judged, mut k_accepted, mut agreed, mut both_refused) = (0usize, 0, 0, 0);
    let (mut same_insn, mut same_msg, mut load_failed, mut not_loaded) = (0usize, 0, 0, 0);
    let mut programs = 0usize;
    let mut disagreements = Vec::new();
    for f in &files {
        let ins = match inspect(f, args.prog_type.as_deref()) {
            Ok(i) => i,
            Err(_) => {
                not_loaded += 1;
                continue;
            }
        };
        not_loaded += ins.refused.len();
        let Ok(kobj) = kernel_object(&ins, f) else {
            programs += ins.object.programs.len();
            load_failed += ins.object.programs.len();
            continue;
        };
        for p in &ins.object.programs {
            programs += 1;
            let out = if args.unpriv {
                match with_effective_caps(0, || load(&kobj, p, args.log_level)) {
                    Ok(o) => o,
                    Err(e) => return Err(Failure::usage(format!("--unpriv: {e}"))),
                }
            } else {
                load(&kobj, p, args.log_level)
            };
            let kv = kernel_verdict(&out);
            if kv == KernelVerdict::LoadFailed {
                load_failed += 1;
                continue;
            }
            judged += 1;
            let k_ok = kv == KernelVerdict::Accepted;
            k_accepted += usize::from(k_ok);
            let ours = match ironbpf_isa::slots_from_bytes(&p.insns)
                .map_err(|e| e.to_string())
                .and_then(|slots| {
                    options(
                        p,
                        &ins.object.maps,
                        &ins.object.license,
                        args.log_level,
                        args.unpriv,
                    )
                    .map(|o| verify(&slots, &o))
                }) {
                Ok(o) => o,
                Err(e) => {
                    disagreements.push(format!(
                        "{} {}: ironbpf could not verify it: {e}",
                        f.display(),
                        p.name
                    ));
                    continue;
                }
            };
            let o_ok = ours.result.is_ok();
            let kline = error_line(&out);
            if let Err(r) = &ours.result {
                if !k_ok {
                    both_refused += 1;
                    same_insn += usize::from(r.insn == out.error_insn);
                    same_msg += usize::from(kline.as_deref() == Some(r.message.as_str()));
                }
            }
            if o_ok == k_ok {
                agreed += 1;
            } else {
                let ours_says = match &ours.result {
                    Ok(_) => "accepted".to_string(),
                    Err(r) => format!("refused at insn {:?}: {}", r.insn, r.message),
                };
                let kernel_says = if k_ok {
                    "accepted".to_string()
                } else {
                    format!(
                        "refused at insn {:?}: {}",
                        out.error_insn,
                        kline.as_deref().unwrap_or("")
                    )
                };
                disagreements.push(format!(
                    "{} {} ({}): kernel {kernel_says}; ironbpf {ours_says}",
                    f.display(),
                    p.name,
                    p.prog_type_name
                ));
            }
        }
    }
    for d in &disagreements {
        println!("DISAGREE {d}");
    }
    println!(
        "corpus {} (kernel {}): {} objects, {programs} programs; the loader could not load {not_loaded} more",
        args.object.display(),
        ironbpf_kernel::kernel_release(),
        files.len()
    );
    println!(
        "the kernel's verifier judged {judged} ({k_accepted} accepted, {} refused); {load_failed} failed to load before it",
        judged - k_accepted
    );
    println!(
        "{agreed} agreed, {} disagreed: verdicts agree on {:.1}%; of the {both_refused} both refused, same insn {:.1}%, same message {:.1}%",
        judged - agreed,
        pct(agreed, judged),
        pct(same_insn, both_refused),
        pct(same_msg, both_refused)
    );
    if agreed == judged {
        Ok(())
    } else {
        Err(Failure::failed(String::new()))
    }
}
