//! `ironbpf bench`: where ironbpf stands against its peers and the kernel.
//!
//! Three suites:
//! - `vm`: the VM suite on ironbpf's interpreter, native code, rbpf's interpreter and
//!   rbpf's JIT;
//! - `kernel`: the kernel suite (XDP) on ironbpf's interpreter and in the kernel
//!   through `BPF_PROG_TEST_RUN` with `repeat`;
//! - `verifier`: verification time of the kernel, PREVAIL and ironbpf's verifier
//!   on the shared corpus.
//!
//! Every runner runs each program once first and its r0 is compared with the
//! program's reference result, which every other runner must also give; a runner
//! that disagrees is reported as such and never timed; one that cannot run a
//! program has a row that says why.

use crate::Failure;
use clap::{Args, ValueEnum};
use ironbpf_benches::jit_compile::{compile_object, median_per_slot};
use ironbpf_benches::verifier_suite::{
    corpus_objects, corpus_prog_type, default_corpus_dir, verify_object, Verdict,
    VerifierMeasurement, VerifierRow,
};
use ironbpf_benches::{
    kernel_expected, measure, vm_expected, vm_peer_runner, InterpRunner, JitRunner, KernelRunner,
    Measurement, Runner, VmPeer, KERNEL_PROGRAMS, VM_PROGRAMS,
};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    /// bpftime's userspace-runtime programs (r1 = input memory): interpreters, JIT, native
    Vm,
    /// XDP programs on a packet: ironbpf's interpreter against BPF_PROG_TEST_RUN
    Kernel,
    /// Verification time of the kernel and PREVAIL on ../shared/corpus/ebpf-samples
    Verifier,
    /// The JIT's compile time on the same corpus (median per BPF instruction slot)
    JitCompile,
    /// Every suite
    All,
}

#[derive(Args)]
#[command(after_help = "\
Examples:
  ironbpf bench --suite vm
  ironbpf bench --suite all --json > bench.json

Every runner's r0 is checked against the program's reference result (which all
runners must give) before any of its timings count. Times are the median over
--samples batches, each as many runs as fit in --sample-ms of the thread's CPU
time (time spent off the CPU on a shared machine is not counted); min and max are
the fastest and slowest batch. The kernel's times are its own (BPF_PROG_TEST_RUN
with repeat, whose timer also stops when the thread is rescheduled). \"compile\"
is rbpf-jit's compile time, the kernel's load time (verification and JIT),
ironbpf-interp's pre-decoding and the JIT's pre-decoding and code generation (with
the checked run before trusting, or ironbpf's verifier for the verified runner).
Suite jit-compile: the JIT's compile time per BPF slot on the corpus programs.
The \"jit:\" lines are the issue-13 ratios of this run against their bars. The kernel suite and the
kernel's verifier need root (or CAP_BPF and CAP_NET_ADMIN).")]
pub struct BenchArgs {
    /// Which suite to run
    #[arg(long, value_enum, default_value = "all")]
    suite: Suite,
    /// Batches per runner and program (the median, min and max are over these)
    #[arg(long, default_value_t = 21)]
    samples: usize,
    /// Time budget of one batch, in milliseconds
    #[arg(long, default_value_t = 25)]
    sample_ms: u64,
    /// Verifications of each program a verifier accepts (refusals are verified once)
    #[arg(long, default_value_t = 5)]
    verifier_samples: usize,
    /// The corpus of the verifier suite [default: ../shared/corpus/ebpf-samples, or $IRONBPF_CORPUS]
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// One JSON record per suite, program and runner (and summary records), one per line
    #[arg(long)]
    json: bool,
    /// The JIT runners' code with its constants blinded, as the kernel's bpf_jit_harden (fresh keys per program)
    #[arg(long)]
    harden: bool,
}

/// What became of one runner on one program.
enum Outcome {
    /// r0 agreed with the reference and the runner was timed.
    Timed(Measurement),
    /// The runner could not run the program, or gave another r0: not timed.
    NotTimed(String),
    /// The runner does not exist yet.
    NotBuilt(&'static str),
}

/// One runner on one program of the VM or kernel suite.
struct RunRecord {
    suite: &'static str,
    program: &'static str,
    runner: &'static str,
    outcome: Outcome,
    compile: Option<Duration>,
    r0: Option<u64>,
    expected: u64,
}

const JIT_STATUS: &str = "not built yet: ironbpf has no JIT crate yet";

/// Progress on stderr, on a terminal only.
struct Progress {
    tty: bool,
}

impl Progress {
    fn show(&self, text: &str) {
        if self.tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        }
    }
    fn clear(&self) {
        if self.tty {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

type MakeRunner = Box<dyn Fn(&str) -> Result<Box<dyn Runner>, String>>;

/// Runs one program on every runner: first one run each to check r0, then timing.
#[allow(clippy::too_many_arguments)]
fn bench_program(
    suite: &'static str,
    program: &'static str,
    expected: u64,
    runners: &[(&'static str, Option<MakeRunner>)],
    args: &BenchArgs,
    progress: &Progress,
    position: &str,
    out: &mut Vec<RunRecord>,
) {
    let budget = Duration::from_millis(args.sample_ms);
    for (name, make) in runners {
        progress.show(&format!("{suite} {position} {program}: {name}"));
        let Some(make) = make else {
            out.push(RunRecord {
                suite,
                program,
                runner: name,
                outcome: Outcome::NotBuilt(JIT_STATUS),
                compile: None,
                r0: None,
                expected,
            });
            continue;
        };
        let mut record = RunRecord {
            suite,
            program,
            runner: name,
            outcome: Outcome::NotTimed(String::new()),
            compile: None,
            r0: None,
            expected,
        };
        record.outcome = match make(program) {
            Err(why) => Outcome::NotTimed(why),
            Ok(mut runner) => {
                record.compile = runner.compile_time();
                match runner.run() {
                    Err(e) => Outcome::NotTimed(e.detail()),
                    Ok(r0) => {
                        record.r0 = Some(r0);
                        if r0 != expected {
                            Outcome::NotTimed(format!(
                                "r0 = {r0:#x}, but the reference gives {expected:#x}"
                            ))
                        } else {
                            match measure(runner.as_mut(), expected, args.samples, budget) {
                                Ok(m) => Outcome::Timed(m),
                                Err(e) => Outcome::NotTimed(e.detail()),
                            }
                        }
                    }
                }
            }
        };
        out.push(record);
    }
    // Every runner that ran must agree with every other: name the disagreement.
    let ran: Vec<(&str, u64)> = out
        .iter()
        .filter(|r| r.suite == suite && r.program == program)
        .filter_map(|r| r.r0.map(|v| (r.runner, v)))
        .collect();
    for r in out
        .iter_mut()
        .filter(|r| r.suite == suite && r.program == program)
    {
        if let (Some(mine), Outcome::NotTimed(why)) = (r.r0, &mut r.outcome) {
            let others: Vec<String> = ran
                .iter()
                .filter(|(n, _)| *n != r.runner)
                .map(|(n, v)| format!("{n} {v:#x}"))
                .collect();
            if !others.is_empty() && mine != r.expected {
                why.push_str(&format!("; the other runners gave {}", others.join(", ")));
            }
        }
    }
}

/// The JIT runners' compile options: `--harden`'s constant blinding.
fn jit_options(args: &BenchArgs) -> ironbpf_vm::JitOptions {
    ironbpf_vm::JitOptions {
        harden: args.harden,
        blinding_seed: None,
    }
}

fn vm_suite(args: &BenchArgs, progress: &Progress, out: &mut Vec<RunRecord>) {
    let jit_opts = jit_options(args);
    let mut runners: Vec<(&'static str, Option<MakeRunner>)> = vec![
        (
            "ironbpf-interp",
            Some(Box::new(|p: &str| {
                InterpRunner::vm(p)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
        (
            "ironbpf-jit",
            Some(Box::new(move |p: &str| {
                JitRunner::vm_with(p, ironbpf_vm::JitMode::Trusted, jit_opts)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
        (
            "ironbpf-jit-checked",
            Some(Box::new(move |p: &str| {
                JitRunner::vm_with(p, ironbpf_vm::JitMode::Checked, jit_opts)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
    ];
    for peer in VmPeer::ALL {
        runners.push((
            peer.name(),
            Some(Box::new(move |p: &str| {
                vm_peer_runner(peer, p).map_err(|e| e.detail())
            })),
        ));
    }
    for (i, p) in VM_PROGRAMS.iter().enumerate() {
        let expected = vm_expected(p.name).expect("every VM-suite program has a reference");
        let position = format!("{}/{}", i + 1, VM_PROGRAMS.len());
        bench_program(
            "vm", p.name, expected, &runners, args, progress, &position, out,
        );
    }
}

fn kernel_suite(args: &BenchArgs, progress: &Progress, out: &mut Vec<RunRecord>) {
    let jit_opts = jit_options(args);
    let runners: Vec<(&'static str, Option<MakeRunner>)> = vec![
        (
            "ironbpf-interp",
            Some(Box::new(|p: &str| {
                InterpRunner::kernel(p)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
        (
            "ironbpf-jit",
            Some(Box::new(move |p: &str| {
                JitRunner::kernel_with(p, ironbpf_vm::JitMode::Trusted, jit_opts)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
        (
            "ironbpf-jit-checked",
            Some(Box::new(move |p: &str| {
                JitRunner::kernel_with(p, ironbpf_vm::JitMode::Checked, jit_opts)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
        (
            "ironbpf-jit-verified",
            Some(Box::new(move |p: &str| {
                JitRunner::kernel_with(p, ironbpf_vm::JitMode::Verified, jit_opts)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
        (
            "kernel",
            Some(Box::new(|p: &str| {
                KernelRunner::new(p)
                    .map(|r| Box::new(r) as Box<dyn Runner>)
                    .map_err(|e| e.detail())
            })),
        ),
    ];
    for (i, p) in KERNEL_PROGRAMS.iter().enumerate() {
        let expected = kernel_expected(p.name).expect("every kernel-suite program has a reference");
        let position = format!("{}/{}", i + 1, KERNEL_PROGRAMS.len());
        bench_program(
            "kernel", p.name, expected, &runners, args, progress, &position, out,
        );
    }
}

fn verifier_suite(
    args: &BenchArgs,
    progress: &Progress,
    out: &mut Vec<VerifierRow>,
) -> Result<Option<String>, Failure> {
    let dir = args.corpus.clone().unwrap_or_else(default_corpus_dir);
    let objects = corpus_objects(&dir).map_err(|e| {
        Failure::usage(format!(
            "{e} (give the corpus folder with --corpus or $IRONBPF_CORPUS)"
        ))
    })?;
    let kernel = ironbpf_kernel::probe();
    for (i, obj) in objects.iter().enumerate() {
        progress.show(&format!("verifier {}/{} {}", i + 1, objects.len(), obj.rel));
        out.extend(verify_object(obj, args.verifier_samples, kernel.is_ok()));
    }
    Ok(kernel.err().map(|why| why.reason))
}

/// ironbpf's verifier on one program of the verifier suite.
struct OursVerified {
    /// Accepted (`false`: refused, with `why`).
    accepted: bool,
    /// Median wall time of one verification (the accepted programs are
    /// verified `samples` times, the refused once, as the peers are).
    median_ns: f64,
    /// The refusal, or why the program could not be put to the verifier.
    why: Option<String>,
    /// It could not be put to the verifier at all.
    failed: bool,
}

/// ironbpf's verifier on each row of the verifier suite, loading each object
/// with the program type its project gives it (as the peers' rows do).
fn ironbpf_verifier_rows(
    rows: &[VerifierRow],
    dir: &std::path::Path,
    samples: usize,
) -> Vec<Option<OursVerified>> {
    let mut objects: std::collections::HashMap<String, Option<ironbpf_loader::Object>> =
        Default::default();
    rows.iter()
        .map(|r| {
            // `object:section/function`.
            let rest = r.label.strip_prefix(&format!("{}:", r.object))?;
            let (section, function) = rest.rsplit_once('/')?;
            let obj = objects
                .entry(r.object.clone())
                .or_insert_with(|| {
                    let mut opts = crate::cmd_prog::load_options();
                    opts.prog_type_override = corpus_prog_type(&r.object);
                    ironbpf_loader::load_file(&dir.join(&r.object), &opts).ok()
                })
                .as_ref()?;
            let p = obj
                .programs
                .iter()
                .find(|p| p.section == section && p.name == function)?;
            let mut times = Vec::new();
            let mut verdict = None;
            for _ in 0..samples.max(1) {
                // The statistics lines only, as the kernel's side is loaded
                // (`BPF_LOG_STATS`): both verifiers do the same work, and
                // neither formats a path log.
                match crate::gate::verify_program(obj, p, 0) {
                    Err(e) => {
                        return Some(OursVerified {
                            accepted: false,
                            median_ns: f64::NAN,
                            why: Some(e),
                            failed: true,
                        })
                    }
                    Ok(v) => {
                        times.push(v.took.as_nanos() as f64);
                        let why = v.refusal();
                        let refused = why.is_some();
                        verdict = Some(why);
                        if refused {
                            break;
                        }
                    }
                }
            }
            times.sort_by(f64::total_cmp);
            let why = verdict.flatten();
            Some(OursVerified {
                accepted: why.is_none(),
                median_ns: times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
                why,
                failed: false,
            })
        })
        .collect()
}

/// The best peer on a program: the fastest timed runner that is neither ours nor
/// native code (which no runtime can beat; it is the baseline).
fn best_peer(rows: &[RunRecord], suite: &str, program: &str) -> Option<(&'static str, f64)> {
    rows.iter()
        .filter(|r| r.suite == suite && r.program == program)
        .filter(|r| !r.runner.starts_with("ironbpf") && !r.runner.starts_with("native"))
        .filter_map(|r| match &r.outcome {
            Outcome::Timed(m) => Some((r.runner, m.median_ns)),
            _ => None,
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The best runner present on a program, for the "vs best" column: the
/// fastest timed runner that is not ironbpf's own, native code included (it
/// is the best when it is the fastest).
fn best_runner(rows: &[RunRecord], suite: &str, program: &str) -> Option<(&'static str, f64)> {
    rows.iter()
        .filter(|r| r.suite == suite && r.program == program)
        .filter(|r| !r.runner.starts_with("ironbpf"))
        .filter_map(|r| match &r.outcome {
            Outcome::Timed(m) => Some((r.runner, m.median_ns)),
            _ => None,
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// A reason on one table row: its first line, at most `max` characters.
fn one_line(why: &str, max: usize) -> String {
    shorten(why.lines().next().unwrap_or("").trim(), max)
}

fn timed(rows: &[RunRecord], suite: &str, program: &str, runner: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.suite == suite && r.program == program && r.runner == runner)
        .and_then(|r| match &r.outcome {
            Outcome::Timed(m) => Some(m.median_ns),
            _ => None,
        })
}

/// The geometric mean over the programs where both ran of `other / ours`: how many
/// times faster ours is (below 1: slower). With the number of programs.
fn geomean_speedup(
    rows: &[RunRecord],
    suite: &str,
    ours: &str,
    other: &str,
) -> Option<(f64, usize)> {
    let mut logs = Vec::new();
    let mut programs: Vec<&str> = rows
        .iter()
        .filter(|r| r.suite == suite)
        .map(|r| r.program)
        .collect();
    programs.dedup();
    for p in programs {
        if let (Some(o), Some(t)) = (timed(rows, suite, p, ours), timed(rows, suite, p, other)) {
            logs.push((t / o).ln());
        }
    }
    if logs.is_empty() {
        None
    } else {
        Some((
            (logs.iter().sum::<f64>() / logs.len() as f64).exp(),
            logs.len(),
        ))
    }
}

/// The VM suite's loop programs (all but the two straight-line ones).
const VM_LOOPS: [&str; 6] = [
    "log2_int",
    "prime",
    "memcpy",
    "strcmp_full",
    "strcmp_fail",
    "switch",
];

/// The geometric mean of `a / b` (median times) over `programs` where both
/// ran, with how many did.
fn geomean_ratio(
    rows: &[RunRecord],
    suite: &str,
    programs: &[&str],
    a: &str,
    b: &str,
) -> Option<(f64, usize)> {
    let logs: Vec<f64> = programs
        .iter()
        .filter_map(|p| Some((timed(rows, suite, p, a)? / timed(rows, suite, p, b)?).ln()))
        .collect();
    (!logs.is_empty()).then(|| {
        (
            (logs.iter().sum::<f64>() / logs.len() as f64).exp(),
            logs.len(),
        )
    })
}

/// The issue-13 figures of one run: (what, value, programs, bar).
fn jit_figures(
    rows: &[RunRecord],
    compile: Option<(f64, usize)>,
) -> Vec<(String, f64, usize, f64)> {
    let mut out = Vec::new();
    let vm_all: Vec<&str> = VM_PROGRAMS.iter().map(|p| p.name).collect();
    for p in &vm_all {
        if let (Some(a), Some(b)) = (
            timed(rows, "vm", p, "ironbpf-jit"),
            timed(rows, "vm", p, "rbpf-jit"),
        ) {
            out.push((format!("vm {p}: ironbpf-jit / rbpf-jit"), a / b, 1, 1.0));
        }
    }
    let mut push = |what: &str, r: Option<(f64, usize)>, bar: f64| {
        if let Some((v, n)) = r {
            out.push((what.to_string(), v, n, bar));
        }
    };
    push(
        "vm loops geomean: ironbpf-jit / rbpf-jit",
        geomean_ratio(rows, "vm", &VM_LOOPS, "ironbpf-jit", "rbpf-jit"),
        0.6,
    );
    push(
        "vm loops geomean: ironbpf-jit / native-scalar",
        geomean_ratio(rows, "vm", &VM_LOOPS, "ironbpf-jit", "native-scalar"),
        1.5,
    );
    push(
        "vm simple: ironbpf-jit / native",
        geomean_ratio(rows, "vm", &["simple"], "ironbpf-jit", "native"),
        2.0,
    );
    push(
        "vm geomean: ironbpf-jit-checked / ironbpf-jit",
        geomean_ratio(rows, "vm", &vm_all, "ironbpf-jit-checked", "ironbpf-jit"),
        1.3,
    );
    push(
        "vm geomean: ironbpf-jit-checked / rbpf-jit",
        geomean_ratio(rows, "vm", &vm_all, "ironbpf-jit-checked", "rbpf-jit"),
        1.0,
    );
    let mut per: Vec<f64> = KERNEL_PROGRAMS
        .iter()
        .filter_map(|p| {
            Some(
                timed(rows, "kernel", p.name, "ironbpf-jit-verified")?
                    / timed(rows, "kernel", p.name, "kernel")?,
            )
        })
        .collect();
    per.sort_by(f64::total_cmp);
    if !per.is_empty() {
        out.push((
            "kernel median: ironbpf-jit-verified / kernel".into(),
            per[per.len() / 2],
            per.len(),
            1.0,
        ));
    }
    if let Some((v, n)) = compile {
        out.push((
            "jit compile time, median per BPF slot over the corpus programs (ns, checked mode)"
                .into(),
            v,
            n,
            1000.0,
        ));
    }
    out
}

/// The JIT's compile time on the corpus: (median ns per slot in checked
/// mode, programs).
fn jit_compile_suite(args: &BenchArgs, progress: &Progress) -> Result<(f64, usize), Failure> {
    let dir = args.corpus.clone().unwrap_or_else(default_corpus_dir);
    let objects = corpus_objects(&dir).map_err(|e| {
        Failure::usage(format!(
            "{e} (give the corpus folder with --corpus or $IRONBPF_CORPUS)"
        ))
    })?;
    let mut rows = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        progress.show(&format!(
            "jit compile {}/{} {}",
            i + 1,
            objects.len(),
            obj.rel
        ));
        rows.extend(compile_object(obj, 5).0);
    }
    let median = median_per_slot(&rows, |r| r.checked_per_slot())
        .ok_or_else(|| Failure::failed("the JIT compiled no corpus program"))?;
    Ok((median, rows.len()))
}

/// A duration in ns, µs or ms with three significant digits.
fn human_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "-".into()
    } else if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn verdict_cell(m: &Option<VerifierMeasurement>) -> String {
    match m {
        None => "no such program".into(),
        Some(m) => match &m.verdict {
            Verdict::Accepted => format!(
                "{} ({}–{})",
                human_ns(m.median_ns),
                human_ns(m.min_ns),
                human_ns(m.max_ns)
            ),
            Verdict::Refused(_) => "refused".into(),
            Verdict::Failed(_) => "not verified".into(),
        },
    }
}

fn accepted_ns(m: &Option<VerifierMeasurement>) -> Option<f64> {
    m.as_ref()
        .filter(|m| m.verdict == Verdict::Accepted)
        .map(|m| m.median_ns)
}

fn verdicts_agree(row: &VerifierRow) -> Option<bool> {
    let name = |m: &Option<VerifierMeasurement>| {
        m.as_ref()
            .filter(|m| !matches!(m.verdict, Verdict::Failed(_)))
            .map(|m| m.verdict.name())
    };
    match (name(&row.kernel), name(&row.prevail)) {
        (Some(k), Some(p)) => Some(k == p),
        _ => None,
    }
}

/// Totals of one verifier: (accepted, refused, not verified, total time of the accepted).
fn verifier_totals(
    rows: &[VerifierRow],
    pick: impl Fn(&VerifierRow) -> &Option<VerifierMeasurement>,
) -> (usize, usize, usize, f64) {
    let mut t = (0, 0, 0, 0.0);
    for r in rows {
        match pick(r).as_ref().map(|m| (&m.verdict, m.median_ns)) {
            Some((Verdict::Accepted, ns)) => {
                t.0 += 1;
                t.3 += ns;
            }
            Some((Verdict::Refused(_), _)) => t.1 += 1,
            Some((Verdict::Failed(_), _)) => t.2 += 1,
            None => {}
        }
    }
    t
}

/// Over the programs both verifiers accepted: (count, kernel total, prevail total).
fn common_totals(rows: &[VerifierRow]) -> (usize, f64, f64) {
    rows.iter()
        .filter_map(|r| Some((accepted_ns(&r.kernel)?, accepted_ns(&r.prevail)?)))
        .fold((0, 0.0, 0.0), |(n, k, p), (kn, pn)| (n + 1, k + kn, p + pn))
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

fn print_runs_table(rows: &[RunRecord]) {
    println!(
        "{:<7} {:<16} {:<20} {:>10} {:>21} {:<20} {:>10}  r0",
        "suite", "program", "runner", "median", "min – max", "vs best", "compile"
    );
    for r in rows {
        let compile = r.compile.map(|d| human_ns(d.as_nanos() as f64));
        match &r.outcome {
            Outcome::Timed(m) => {
                let vs = best_runner(rows, r.suite, r.program)
                    .map(|(name, best)| format!("{:.2}x {name}", m.median_ns / best))
                    .unwrap_or_else(|| "-".into());
                let range = format!("{} – {}", human_ns(m.min_ns), human_ns(m.max_ns));
                println!(
                    "{:<7} {:<16} {:<20} {:>10} {:>21} {:<20} {:>10}  ok",
                    r.suite,
                    r.program,
                    r.runner,
                    human_ns(m.median_ns),
                    range,
                    vs,
                    compile.unwrap_or_else(|| "-".into()),
                );
            }
            Outcome::NotTimed(why) => {
                let r0 = match r.r0 {
                    Some(v) if v != r.expected => "r0 DIFFERS: ",
                    _ => "",
                };
                println!(
                    "{:<7} {:<16} {:<20} {:>10} {:>21} {:<20} {:>10}  not timed: {r0}{}",
                    r.suite,
                    r.program,
                    r.runner,
                    "-",
                    "-",
                    "-",
                    compile.unwrap_or_else(|| "-".into()),
                    one_line(why, 100)
                );
            }
            Outcome::NotBuilt(why) => {
                println!(
                    "{:<7} {:<16} {:<20} {:>10} {:>21} {:<20} {:>10}  not built: {}",
                    r.suite,
                    r.program,
                    r.runner,
                    "-",
                    "-",
                    "-",
                    "-",
                    one_line(why, 100)
                );
            }
        }
    }
    println!(
        "vs best: the runner's median over the fastest runner on the same program that is not ironbpf's (native code included), named after the ratio"
    );
}

fn print_verifier_table(rows: &[VerifierRow], ours: &[Option<OursVerified>]) {
    println!(
        "{:<80} {:>30} {:>8} {:>30} {:>9} {:>12} {:>9}",
        "verifier suite: object:section/function",
        "kernel: median (min–max)",
        "insns",
        "prevail: median (min–max)",
        "prevail/k",
        "ironbpf",
        "ironbpf/k"
    );
    for (i, r) in rows.iter().enumerate() {
        let o = ours.get(i).and_then(|o| o.as_ref());
        let (ours_cell, ours_ratio) = match o {
            None => ("-".to_string(), String::new()),
            Some(o) if o.failed => ("not verified".to_string(), String::new()),
            Some(o) if !o.accepted => ("refused".to_string(), String::new()),
            Some(o) => (
                human_ns(o.median_ns),
                match accepted_ns(&r.kernel) {
                    Some(k) if k > 0.0 => format!("{:.2}x", o.median_ns / k),
                    _ => String::new(),
                },
            ),
        };
        let insns = r
            .kernel
            .as_ref()
            .and_then(|m| m.processed_insns)
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let ratio = match (accepted_ns(&r.kernel), accepted_ns(&r.prevail)) {
            (Some(k), Some(p)) if k > 0.0 => format!("{:.1}x", p / k),
            _ => String::new(),
        };
        println!(
            "{:<80} {:>30} {:>8} {:>30} {:>9} {:>12} {:>9}",
            shorten(&r.label, 80),
            verdict_cell(&r.kernel),
            insns,
            verdict_cell(&r.prevail),
            ratio,
            ours_cell,
            ours_ratio
        );
        for (who, m) in [("kernel", &r.kernel), ("prevail", &r.prevail)] {
            if let Some(reason) = m.as_ref().and_then(|m| m.verdict.reason()) {
                let what = if matches!(m.as_ref().map(|m| &m.verdict), Some(Verdict::Failed(_))) {
                    "not verified"
                } else {
                    "refused"
                };
                println!("    {who} {what}: {}", shorten(reason, 150));
            }
        }
        if let Some(why) = o.and_then(|o| o.why.as_deref()) {
            let what = if o.is_some_and(|o| o.failed) {
                "not verified"
            } else {
                "refused"
            };
            println!("    ironbpf {what}: {}", shorten(why, 150));
        }
    }
}

/// The summary line of ironbpf's verifier on the suite, beside the kernel's.
fn print_ours_verifier(rows: &[VerifierRow], ours: &[Option<OursVerified>]) {
    let (mut acc, mut refused, mut failed, mut total) = (0, 0, 0, 0.0);
    let (mut both, mut k_both, mut o_both) = (0, 0.0, 0.0);
    let mut ratios: Vec<f64> = Vec::new();
    let mut disagree = Vec::new();
    for (r, o) in rows.iter().zip(ours) {
        let Some(o) = o else { continue };
        match (o.failed, o.accepted) {
            (true, _) => failed += 1,
            (false, true) => {
                acc += 1;
                total += o.median_ns;
            }
            (false, false) => refused += 1,
        }
        if let (Some(k), false) = (accepted_ns(&r.kernel), o.failed) {
            if o.accepted {
                both += 1;
                k_both += k;
                o_both += o.median_ns;
                if k > 0.0 {
                    ratios.push(o.median_ns / k);
                }
            } else {
                disagree.push(r.label.as_str());
            }
        }
    }
    let checked = ours.iter().filter(|o| o.is_some()).count();
    println!(
        "ironbpf-verifier: {checked} of the {} programs loaded by ironbpf's loader: accepted {acc} ({} in total), refused {refused}, could not check {failed}",
        rows.len(),
        human_ns(total)
    );
    if both > 0 {
        println!(
            "ironbpf-verifier: on the {both} programs it and the kernel accepted: kernel {}, ironbpf {} in total ({:.1}x the kernel's time; the biggest programs weigh most)",
            human_ns(k_both),
            human_ns(o_both),
            o_both / k_both
        );
        ratios.sort_by(f64::total_cmp);
        if let Some(m) = ratios.get(ratios.len() / 2) {
            println!(
                "ironbpf-verifier: per program, ironbpf's time / the kernel's: median {m:.2} (min {:.2}, max {:.2}, over {} programs)",
                ratios.first().copied().unwrap_or(f64::NAN),
                ratios.last().copied().unwrap_or(f64::NAN),
                ratios.len()
            );
        }
    }
    for l in &disagree {
        println!("ironbpf-verifier: refused {l}, which the kernel accepted");
    }
}

fn run_json(r: &RunRecord, rows: &[RunRecord]) -> Value {
    let best = best_peer(rows, r.suite, r.program);
    let best_any = best_runner(rows, r.suite, r.program);
    let (status, error, m) = match &r.outcome {
        Outcome::Timed(m) => ("timed", None, Some(m)),
        Outcome::NotTimed(why) => ("not timed", Some(why.as_str()), None),
        Outcome::NotBuilt(why) => ("not built", Some(*why), None),
    };
    json!({
        "kind": "run", "suite": r.suite, "program": r.program, "runner": r.runner,
        "status": status, "error": error,
        "median_ns": m.map(|m| m.median_ns), "min_ns": m.map(|m| m.min_ns),
        "max_ns": m.map(|m| m.max_ns), "samples": m.map(|m| m.samples),
        "runs_per_sample": m.map(|m| m.iterations),
        "best_peer": best.map(|b| b.0),
        "ratio_to_best_peer": m.and_then(|m| best.map(|b| m.median_ns / b.1)),
        "best_runner": best_any.map(|b| b.0),
        "ratio_to_best": m.and_then(|m| best_any.map(|b| m.median_ns / b.1)),
        "compile_ns": r.compile.map(|d| d.as_nanos() as u64),
        "r0": r.r0, "expected_r0": r.expected,
        "r0_agrees": r.r0.map(|v| v == r.expected),
    })
}

fn verifier_json(r: &VerifierRow, runner: &str, m: &Option<VerifierMeasurement>) -> Value {
    let best = [&r.kernel, &r.prevail]
        .into_iter()
        .filter_map(accepted_ns)
        .min_by(f64::total_cmp);
    match m {
        None => json!({
            "kind": "verify", "suite": "verifier", "program": r.label, "object": r.object,
            "runner": runner, "status": "no such program",
            "error": format!("{runner}'s loader does not list this program"),
        }),
        Some(m) => {
            let accepted = m.verdict == Verdict::Accepted;
            json!({
                "kind": "verify", "suite": "verifier", "program": r.label, "object": r.object,
                "runner": runner, "status": m.verdict.name(), "error": m.verdict.reason(),
                "median_ns": accepted.then_some(m.median_ns),
                "min_ns": accepted.then_some(m.min_ns),
                "max_ns": accepted.then_some(m.max_ns),
                "samples": m.samples,
                "ratio_to_best_peer": if accepted { best.map(|b| m.median_ns / b) } else { None },
                "processed_insns": m.processed_insns,
                "load_ns": m.load_ns,
                "verdicts_agree": verdicts_agree(r),
            })
        }
    }
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let progress = Progress {
        tty: std::io::stderr().is_terminal(),
    };
    let mut runs = Vec::new();
    let mut verifier_rows = Vec::new();
    let mut kernel_unusable = None;
    if matches!(args.suite, Suite::Vm | Suite::All) {
        vm_suite(&args, &progress, &mut runs);
    }
    if matches!(args.suite, Suite::Kernel | Suite::All) {
        kernel_suite(&args, &progress, &mut runs);
    }
    if matches!(args.suite, Suite::Verifier | Suite::All) {
        kernel_unusable = verifier_suite(&args, &progress, &mut verifier_rows)?;
    }
    let ours_verified = if verifier_rows.is_empty() {
        Vec::new()
    } else {
        progress.show("verifier: ironbpf-verifier");
        let dir = args.corpus.clone().unwrap_or_else(default_corpus_dir);
        ironbpf_verifier_rows(&verifier_rows, &dir, args.verifier_samples)
    };
    let compile = if matches!(args.suite, Suite::JitCompile | Suite::All) {
        Some(jit_compile_suite(&args, &progress)?)
    } else {
        None
    };
    let figures = jit_figures(&runs, compile);
    progress.clear();
    let wall = started.elapsed();

    let vm_geomean = geomean_speedup(&runs, "vm", "ironbpf-interp", "rbpf-interp");
    let kernel_geomean = geomean_speedup(&runs, "kernel", "ironbpf-interp", "kernel");
    let (k_acc, k_ref, k_fail, k_total) = verifier_totals(&verifier_rows, |r| &r.kernel);
    let (p_acc, p_ref, p_fail, p_total) = verifier_totals(&verifier_rows, |r| &r.prevail);
    let (common, common_k, common_p) = common_totals(&verifier_rows);

    if args.json {
        let mut lines = Vec::new();
        for r in &runs {
            lines.push(run_json(r, &runs));
        }
        for (r, o) in verifier_rows.iter().zip(&ours_verified) {
            lines.push(verifier_json(r, "kernel", &r.kernel));
            lines.push(verifier_json(r, "prevail", &r.prevail));
            lines.push(match o {
                Some(o) => json!({
                    "kind": "verify", "suite": "verifier", "program": r.label, "object": r.object,
                    "runner": "ironbpf-verifier",
                    "status": if o.failed { "not verified" } else if o.accepted { "accepted" } else { "refused" },
                    "error": o.why,
                    "median_ns": o.median_ns.is_finite().then_some(o.median_ns),
                }),
                None => json!({
                    "kind": "verify", "suite": "verifier", "program": r.label, "object": r.object,
                    "runner": "ironbpf-verifier", "status": "not loaded",
                    "error": "ironbpf's loader does not load this program",
                    "median_ns": null,
                }),
            });
        }
        if let Some((g, n)) = vm_geomean {
            lines.push(json!({
                "kind": "summary", "suite": "vm", "what": "geomean speedup of ironbpf-interp over rbpf-interp",
                "value": g, "programs": n,
            }));
        }
        if let Some((g, n)) = kernel_geomean {
            lines.push(json!({
                "kind": "summary", "suite": "kernel", "what": "geomean speedup of ironbpf-interp over the kernel (below 1: the kernel is faster)",
                "value": g, "programs": n,
            }));
        }
        if !verifier_rows.is_empty() {
            lines.push(json!({
                "kind": "summary", "suite": "verifier", "programs": verifier_rows.len(),
                "kernel": {"accepted": k_acc, "refused": k_ref, "not_verified": k_fail, "accepted_total_ns": k_total, "unusable": kernel_unusable},
                "prevail": {"accepted": p_acc, "refused": p_ref, "not_verified": p_fail, "accepted_total_ns": p_total},
                "both_accepted": {"programs": common, "kernel_total_ns": common_k, "prevail_total_ns": common_p},
            }));
        }
        for (what, value, n, bar) in &figures {
            lines.push(json!({
                "kind": "summary", "suite": "jit", "what": what, "value": value,
                "programs": n, "bar": bar, "meets_bar": value <= bar,
            }));
        }
        lines.push(json!({"kind": "summary", "what": "wall time", "seconds": wall.as_secs_f64()}));
        let mut stdout = std::io::stdout().lock();
        for l in lines {
            let _ = writeln!(stdout, "{l}");
        }
    } else {
        if !runs.is_empty() {
            print_runs_table(&runs);
        }
        if !verifier_rows.is_empty() {
            if !runs.is_empty() {
                println!();
            }
            print_verifier_table(&verifier_rows, &ours_verified);
            print_ours_verifier(&verifier_rows, &ours_verified);
        }
        println!();
        if let Some((g, n)) = vm_geomean {
            println!(
                "vm: ironbpf-interp vs rbpf-interp (the best peer interpreter), geometric mean over {n} programs: {g:.2}x faster"
            );
        }
        if let Some((g, n)) = kernel_geomean {
            println!(
                "kernel: ironbpf-interp vs the kernel (BPF_PROG_TEST_RUN, JIT), geometric mean over the {n} programs both ran: the kernel is {:.2}x faster",
                1.0 / g
            );
        }
        if !verifier_rows.is_empty() {
            println!(
                "verifier: {} programs; kernel accepted {k_acc} ({} in total), refused {k_ref}, could not verify {k_fail}; prevail accepted {p_acc} ({} in total), refused {p_ref}, could not verify {p_fail}",
                verifier_rows.len(),
                human_ns(k_total),
                human_ns(p_total)
            );
            if common > 0 {
                println!(
                    "verifier: on the {common} programs both accepted: kernel {}, prevail {} ({:.1}x the kernel's time)",
                    human_ns(common_k),
                    human_ns(common_p),
                    common_p / common_k
                );
            }
            if let Some(why) = &kernel_unusable {
                println!("verifier: the kernel could not be used: {why}");
            }
        }
        for (what, value, n, bar) in &figures {
            println!(
                "jit: {what}: {value:.2} over {n} program(s) (bar {bar}: {})",
                if value <= bar { "met" } else { "not met" }
            );
        }
        println!("wall time: {:.1} s", wall.as_secs_f64());
    }
    if runs
        .iter()
        .any(|r| r.runner.starts_with("ironbpf") && r.r0.is_some_and(|v| v != r.expected))
    {
        return Err(Failure::failed("ironbpf disagreed with a reference result"));
    }
    Ok(())
}
