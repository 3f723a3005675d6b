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
    /// With --kernel: write ironbpf's figures per program as veristat's CSV (file_name, prog_name,
    /// verdict, duration, total_insns, total_states, peak_states, max_states_per_insn), to diff
    /// with `veristat -C`
    #[arg(long, requires = "kernel")]
    csv: Option<PathBuf>,
    /// With --kernel: the kernel's figures as veristat's CSV, in the same layout as --csv
    #[arg(long, requires = "kernel")]
    kernel_csv: Option<PathBuf>,
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
    btf: Option<&[u8]>,
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
    // Sleepable as libbpf loads the section (and the kernel side is loaded).
    o.sleepable =
        ironbpf_kernel::prog_flags_for_section(&p.section) & ironbpf_kernel::BPF_F_SLEEPABLE != 0;
    // A BTF-typed program's target, by its id in the kernel's BTF (the
    // loader resolved it there) and by name for the helpers some hooks
    // may call.
    o.attach_btf_id = p.attach_btf_id;
    o.attach_btf = p
        .attach_btf_id
        .map(ironbpf_verifier::vmlinux::type_name)
        .filter(|n| !n.is_empty());
    let info = |m: &MapDef| MapInfo {
        name: m.name.clone(),
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        map_flags: m.map_flags,
        frozen_readonly: m.frozen,
        record: Default::default(),
    };
    o.maps = maps.iter().map(info).collect();
    // A map of maps' lookups give its inner map's values.
    // The kernel's inner map template (`inner_map_meta`) has no name, so
    // its log prints none.
    o.inner_maps = maps
        .iter()
        .map(|m| {
            m.inner.as_deref().map(|i| MapInfo {
                name: String::new(),
                ..info(i)
            })
        })
        .collect();
    // What a frozen .rodata/.kconfig map holds when the kernel freezes it:
    // the verifier reads constants from it, as bpf_map_direct_read does.
    o.frozen_values = maps
        .iter()
        .map(|m| m.initial_value.clone().filter(|_| m.frozen))
        .collect();
    // The object's BTF and the program's func_info, as the kernel gets them.
    o.set_btf(btf, p.func_info.iter().map(|f| (f.insn, f.type_id)));
    // The special fields of the values (bpf_spin_lock, bpf_timer, kptrs).
    let value_types: Vec<u32> = maps.iter().map(|m| m.btf_value_type_id).collect();
    let inner_types: Vec<u32> = maps
        .iter()
        .map(|m| m.inner.as_deref().map_or(0, |i| i.btf_value_type_id))
        .collect();
    o.set_map_value_types(&value_types, &inner_types);
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
        "total_states": out.stats.total_states,
        "peak_states": out.stats.peak_states,
        "max_states_per_insn": out.stats.max_states_per_insn,
        "verification_time_usec": out.stats.verification_time_usec,
        "peak_memory_bytes": out.stats.peak_memory_bytes,
        "call_time_usec": took.as_micros() as u64,
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
    let _ = took;
    s.push_str(&format!(
        ", {} insns processed, {} states (peak {}, at most {} per insn), verification {} us, peak memory {}",
        out.stats.processed_insns,
        out.stats.total_states,
        out.stats.peak_states,
        out.stats.max_states_per_insn,
        out.stats.verification_time_usec,
        human_bytes(out.stats.peak_memory_bytes)
    ));
    s
}

/// `12.3 KiB`.
fn human_bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1 << 20 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    }
}

/// One side's verification cost: the figures of the kernel's statistics
/// lines (`processed N insns ... max_states_per_insn M total_states T
/// peak_states P`, `verification time X usec`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cost {
    pub processed_insns: u64,
    pub total_states: u64,
    pub peak_states: u64,
    pub max_states_per_insn: u64,
    pub time_usec: u64,
}

impl Cost {
    pub(crate) fn ours(s: &Stats) -> Cost {
        Cost {
            processed_insns: s.processed_insns,
            total_states: s.total_states,
            peak_states: s.peak_states,
            max_states_per_insn: s.max_states_per_insn,
            time_usec: s.verification_time_usec,
        }
    }

    /// `None` when the kernel's log has no `processed` line (a load that
    /// failed before its verifier ran).
    pub(crate) fn kernel(o: &LoadOutcome) -> Option<Cost> {
        let st = &o.stats;
        Some(Cost {
            processed_insns: st.processed_insns?,
            total_states: st.total_states.unwrap_or(0),
            peak_states: st.peak_states.unwrap_or(0),
            max_states_per_insn: st.max_states_per_insn.unwrap_or(0),
            time_usec: st.verification_time_usec.unwrap_or(0),
        })
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "processed_insns": self.processed_insns,
            "total_states": self.total_states,
            "peak_states": self.peak_states,
            "max_states_per_insn": self.max_states_per_insn,
            "verification_time_usec": self.time_usec,
        })
    }

    fn text(&self) -> String {
        format!(
            "{} insns, {} states (peak {}, max/insn {}), {} us",
            self.processed_insns,
            self.total_states,
            self.peak_states,
            self.max_states_per_insn,
            self.time_usec
        )
    }
}

/// One program's cost on both sides.
#[derive(Clone, Debug)]
pub(crate) struct CostRow {
    pub object: String,
    pub program: String,
    pub ours_ok: bool,
    pub kernel_ok: bool,
    pub ours: Cost,
    pub kernel: Cost,
}

/// `a / b`, with a zero counted as one (a verification that took under a
/// microsecond, a program refused before its first insn).
fn ratio(a: u64, b: u64) -> f64 {
    a.max(1) as f64 / b.max(1) as f64
}

impl CostRow {
    pub(crate) fn insn_ratio(&self) -> f64 {
        ratio(self.ours.processed_insns, self.kernel.processed_insns)
    }
    pub(crate) fn time_ratio(&self) -> f64 {
        ratio(self.ours.time_usec, self.kernel.time_usec)
    }
    pub(crate) fn within_2x(&self) -> bool {
        let r = self.insn_ratio();
        (0.5..=2.0).contains(&r)
    }
    /// The per-program line: `insns 1234 / 1234 (1.00x), states 56 / 56,
    /// time 95 / 120 us (0.79x)`, ironbpf's figure first.
    pub(crate) fn line(&self) -> String {
        format!(
            "{}: {}: ironbpf {} {}; kernel {} {}; insns {:.2}x, time {:.2}x",
            self.object,
            self.program,
            if self.ours_ok { "accepted" } else { "refused" },
            self.ours.text(),
            if self.kernel_ok {
                "accepted"
            } else {
                "refused"
            },
            self.kernel.text(),
            self.insn_ratio(),
            self.time_ratio()
        )
    }
    pub(crate) fn json(&self) -> Value {
        json!({
            "insn_ratio": self.insn_ratio(),
            "time_ratio": self.time_ratio(),
            "ironbpf": self.ours.json(),
            "kernel": self.kernel.json(),
        })
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The distribution of the ratios ironbpf/kernel over `rows`: processed
/// insns (min, median, max, how many within 2x), verification time (median),
/// and each program outside 2x.
pub(crate) fn cost_summary(rows: &[CostRow]) -> Vec<String> {
    if rows.is_empty() {
        return vec!["cost: no program has figures on both sides".to_string()];
    }
    let mut ins: Vec<f64> = rows.iter().map(CostRow::insn_ratio).collect();
    let mut times: Vec<f64> = rows.iter().map(CostRow::time_ratio).collect();
    let med = median(&mut ins);
    let within = rows.iter().filter(|r| r.within_2x()).count();
    let (ours_t, k_t): (u64, u64) = rows.iter().fold((0, 0), |(a, b), r| {
        (a + r.ours.time_usec, b + r.kernel.time_usec)
    });
    let mut out = vec![
        format!(
            "processed insns, ironbpf/kernel over {} programs: min {:.2}, median {:.2}, max {:.2}; {within} of {} within 2x",
            rows.len(),
            ins[0],
            med,
            ins[ins.len() - 1],
            rows.len()
        ),
        format!(
            "verification time, ironbpf/kernel: median {:.2} (total {ours_t} us against {k_t} us)",
            median(&mut times)
        ),
    ];
    for r in rows.iter().filter(|r| !r.within_2x()) {
        out.push(format!("outside 2x: {}", r.line()));
    }
    out
}

/// veristat's CSV (`veristat -o csv`), its header names, so that `veristat
/// -C kernel.csv ironbpf.csv` diffs the two: file_name (File), prog_name
/// (Program), verdict (Verdict: success or failure), duration (Duration
/// (us)), total_insns (Insns), total_states (States), peak_states (Peak
/// states), max_states_per_insn.
pub(crate) fn veristat_csv(rows: &[(String, String, bool, Cost)]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from(
        "file_name,prog_name,verdict,duration,total_insns,total_states,peak_states,max_states_per_insn\n",
    );
    for (file, prog, ok, c) in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            field(file),
            field(prog),
            if *ok { "success" } else { "failure" },
            c.time_usec,
            c.processed_insns,
            c.total_states,
            c.peak_states,
            c.max_states_per_insn
        ));
    }
    out
}

/// Writes the two CSVs `--csv` and `--kernel-csv` ask for.
pub(crate) fn write_csvs(
    ours: Option<&PathBuf>,
    kernel: Option<&PathBuf>,
    rows: &[CostRow],
) -> Result<(), Failure> {
    let base = |o: &str| {
        std::path::Path::new(o)
            .file_name()
            .map_or(o.to_string(), |f| f.to_string_lossy().into_owned())
    };
    for (path, mine) in [(ours, true), (kernel, false)] {
        let Some(path) = path else { continue };
        let recs: Vec<(String, String, bool, Cost)> = rows
            .iter()
            .map(|r| {
                let (ok, c) = if mine {
                    (r.ours_ok, r.ours)
                } else {
                    (r.kernel_ok, r.kernel)
                };
                (base(&r.object), r.program.clone(), ok, c)
            })
            .collect();
        std::fs::write(path, veristat_csv(&recs)).map_err(|e| {
            Failure::usage(format!("{}: cannot write the CSV: {e}", path.display()))
        })?;
    }
    Ok(())
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
        let opts = options(
            p,
            &obj.maps,
            &obj.license,
            args.log_level,
            args.unpriv,
            obj.btf.as_deref(),
        )
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
                if let Some(k) = Cost::kernel(t) {
                    rec["kernel"]["stats"] = k.json();
                    rec["cost"] = cost_row(&args.object, p, &ours, t, k).json();
                }
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
            if let Some(k) = Cost::kernel(t) {
                let row = cost_row(&args.object, p, &ours, t, k);
                println!(
                    "cost, ironbpf against the kernel: {} against {} processed insns ({:.2}x), {} against {} states, {} against {} peak states, {} against {} us ({:.2}x)",
                    row.ours.processed_insns,
                    k.processed_insns,
                    row.insn_ratio(),
                    row.ours.total_states,
                    k.total_states,
                    row.ours.peak_states,
                    k.peak_states,
                    row.ours.time_usec,
                    k.time_usec,
                    row.time_ratio()
                );
            }
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

fn cost_row(
    object: &std::path::Path,
    p: &Program,
    ours: &VerifyOutcome,
    theirs: &LoadOutcome,
    k: Cost,
) -> CostRow {
    CostRow {
        object: object.display().to_string(),
        program: p.name.clone(),
        ours_ok: ours.result.is_ok(),
        kernel_ok: theirs.accepted(),
        ours: Cost::ours(&ours.stats),
        kernel: k,
    }
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
        "ironbpf verifier stats: verification time {} usec, peak memory {} bytes, processed {} insns, max_states_per_insn {}, total_states {}, peak_states {}, mark_read {}, stack depth {}",
        s.verification_time_usec,
        s.peak_memory_bytes,
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
        "verification_time_usec": s.verification_time_usec,
        "peak_memory_bytes": s.peak_memory_bytes,
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
    let mut rows: Vec<CostRow> = Vec::new();
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
                        ins.object.btf.as_deref(),
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
            if let Some(k) = Cost::kernel(&out) {
                let row = cost_row(f, p, &ours, &out, k);
                if args.json {
                    let mut rec = row.json();
                    rec["object"] = json!(row.object);
                    rec["program"] = json!(row.program);
                    rec["type"] = json!(p.prog_type_name);
                    rec["ironbpf"]["verdict"] = json!(if o_ok { "accepted" } else { "refused" });
                    rec["ironbpf"]["peak_memory_bytes"] = json!(ours.stats.peak_memory_bytes);
                    rec["kernel"]["verdict"] = json!(if k_ok { "accepted" } else { "refused" });
                    println!("{rec}");
                } else {
                    println!("{}", row.line());
                }
                rows.push(row);
            }
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
    let mut summary = Vec::new();
    for d in &disagreements {
        summary.push(format!("DISAGREE {d}"));
    }
    summary.push(format!(
        "corpus {} (kernel {}): {} objects, {programs} programs; the loader could not load {not_loaded} more",
        args.object.display(),
        ironbpf_kernel::kernel_release(),
        files.len()
    ));
    summary.push(format!(
        "the kernel's verifier judged {judged} ({k_accepted} accepted, {} refused); {load_failed} failed to load before it",
        judged - k_accepted
    ));
    summary.push(format!(
        "{agreed} agreed, {} disagreed: verdicts agree on {:.1}%; of the {both_refused} both refused, same insn {:.1}%, same message {:.1}%",
        judged - agreed,
        pct(agreed, judged),
        pct(same_insn, both_refused),
        pct(same_msg, both_refused)
    ));
    summary.extend(cost_summary(&rows));
    for line in &summary {
        // With --json, stdout holds only the records.
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    write_csvs(args.csv.as_ref(), args.kernel_csv.as_ref(), &rows)?;
    if agreed == judged {
        Ok(())
    } else {
        Err(Failure::failed(String::new()))
    }
}
