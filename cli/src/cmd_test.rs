//! `ironbpf test`: bpf_conformance-format files on an engine.

use crate::{style, Failure};
use clap::{Args, ValueEnum};
use ironbpf_conformance::data::parse_data_file;
use ironbpf_conformance::kernel::KernelEngine;
use ironbpf_conformance::runner::EngineOutcome;
use ironbpf_conformance::runner::{
    collect_files, run_file, ErrorText, FileReport, InterpEngine, JitEngine, Summary, TestEngine,
    Verdict,
};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// The checked interpreter
    Interp,
    /// The x86-64 JIT (its mode from --mode)
    Jit,
    /// The running kernel (BPF_PROG_LOAD and BPF_PROG_TEST_RUN); programs its verifier refuses are skipped with its reason
    Kernel,
}

/// The JIT's mode.
#[derive(Clone, Copy, ValueEnum, Default)]
pub enum JitModeArg {
    /// Every memory access checked and the instruction budget charged, with the interpreter's errors
    #[default]
    Checked,
    /// No checks (only a program the checked interpreter ran cleanly on the same input is run so)
    Trusted,
}

impl JitModeArg {
    pub fn mode(self) -> ironbpf_vm::JitMode {
        match self {
            JitModeArg::Checked => ironbpf_vm::JitMode::Checked,
            JitModeArg::Trusted => ironbpf_vm::JitMode::Trusted,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ErrorTextArg {
    /// The error must contain the file's `-- error` text (or match its `-- error pattern`)
    Exact,
    /// Any clean refusal or run-time error passes (for suites written against another runtime's wording)
    Any,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf test ../shared/conformance/bpf_conformance/*.data\n  ironbpf test --error-text any ../shared/conformance/ubpf/errors"
)]
pub struct TestArgs {
    /// Test files or folders of *.data files
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The engine to run the programs on
    #[arg(long, value_enum, default_value = "interp")]
    engine: EngineArg,
    /// The JIT's mode, with --engine jit
    #[arg(long, value_enum, default_value = "checked")]
    mode: JitModeArg,
    /// How `-- error` expectations are matched
    #[arg(long, value_enum, default_value = "exact")]
    error_text: ErrorTextArg,
    /// Print every file's verdict, not only failures and skips
    #[arg(long, short)]
    verbose: bool,
    /// One JSON record per file, then the summary
    #[arg(long)]
    json: bool,
    /// Run each file on both the interpreter and the kernel and report every disagreement
    #[arg(long, conflicts_with = "engine")]
    compare: bool,
}

pub fn run(args: TestArgs) -> Result<(), Failure> {
    if let Some(p) = args.paths.iter().find(|p| !p.exists()) {
        return Err(Failure::usage(format!(
            "{}: No such file or directory",
            p.display()
        )));
    }
    let files = collect_files(&args.paths).map_err(Failure::usage)?;
    if files.is_empty() {
        return Err(Failure::usage("no *.data files found in the given paths"));
    }
    let engine: Box<dyn TestEngine> = match args.engine {
        EngineArg::Interp => Box::new(InterpEngine::default()),
        EngineArg::Jit => Box::new(JitEngine::new(args.mode.mode())),
        EngineArg::Kernel => Box::new(KernelEngine::new().map_err(Failure::usage)?),
    };
    if args.compare {
        return compare(&files, &args);
    }
    let mode = match args.error_text {
        ErrorTextArg::Exact => ErrorText::Exact,
        ErrorTextArg::Any => ErrorText::Any,
    };
    let mut reports: Vec<FileReport> = Vec::with_capacity(files.len());
    for f in &files {
        let r = run_file(f, engine.as_ref(), mode);
        if args.json {
            let (verdict, detail) = match &r.verdict {
                Verdict::Pass => ("pass", String::new()),
                Verdict::Fail(d) => ("fail", d.clone()),
                Verdict::Skip(d) => ("skip", d.clone()),
            };
            println!(
                "{}",
                serde_json::json!({"file": r.path.display().to_string(), "engine": engine.name(), "verdict": verdict, "detail": detail})
            );
        } else {
            match &r.verdict {
                Verdict::Pass if args.verbose => println!("ok   {}", r.path.display()),
                Verdict::Pass => {}
                Verdict::Fail(d) => println!("{} {}: {d}", style::fail(), r.path.display()),
                Verdict::Skip(d) => println!("{} {}: {d}", style::skip(), r.path.display()),
            }
        }
        reports.push(r);
    }
    let summary = Summary::of(&reports);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"passed": summary.passed, "failed": summary.failed, "skipped": summary.skipped})
        );
    }
    // With --json, stdout holds only JSON lines: the summary goes to stderr.
    if args.json {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    if summary.failed > 0 {
        Err(Failure::failed(String::new()))
    } else {
        Ok(())
    }
}

/// `--compare`: the interpreter and the kernel on each file's program and
/// memory. Where both run, r0 must be equal; where the kernel refuses, the
/// file is counted with the kernel's reason.
fn compare(files: &[PathBuf], args: &TestArgs) -> Result<(), Failure> {
    let interp = InterpEngine::default();
    let kernel = KernelEngine::new().map_err(Failure::usage)?;
    let (mut agreed, mut disagreed, mut refused, mut unrunnable) = (0usize, 0usize, 0usize, 0usize);
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| crate::cmd_prog::unreadable(f, &e))?;
        let df = match parse_data_file(&text) {
            Ok(df) => df,
            Err(e) => {
                let line = format!(
                    "{} {}: cannot parse the file: {e}",
                    style::fail(),
                    f.display()
                );
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"file": f.display().to_string(), "verdict": "unparsable", "interp": e.to_string(), "kernel": e.to_string()})
                    );
                } else {
                    println!("{line}");
                }
                disagreed += 1;
                continue;
            }
        };
        let slots = match df.program() {
            Ok(Some(s)) => s,
            _ => {
                unrunnable += 1;
                continue;
            }
        };
        let mem = df.mem.clone().unwrap_or_default();
        let ours = interp.run(&slots, &mem);
        let theirs = kernel.run(&slots, &mem);
        let verdict = match (&ours, &theirs) {
            (_, EngineOutcome::Skipped(why)) => {
                refused += 1;
                if args.verbose && !args.json {
                    println!("{} {}: {why}", style::skip(), f.display());
                }
                "refused"
            }
            (EngineOutcome::Returned(a), EngineOutcome::Returned(b)) if a == b => {
                agreed += 1;
                "agree"
            }
            _ => {
                disagreed += 1;
                if !args.json {
                    println!(
                        "{} {}: interp: {}; kernel: {}",
                        style::fail(),
                        f.display(),
                        show(&ours),
                        show(&theirs)
                    );
                }
                "disagree"
            }
        };
        if args.json {
            println!(
                "{}",
                serde_json::json!({"file": f.display().to_string(), "verdict": verdict, "interp": show(&ours), "kernel": show(&theirs)})
            );
        }
    }
    let mut summary = Vec::new();
    if unrunnable > 0 {
        summary.push(format!("{unrunnable} files have no program to run (assembler tests, or programs that do not assemble)"));
    }
    summary.push(format!(
        "{agreed} agreed, {disagreed} disagreed, {refused} refused by the kernel"
    ));
    if args.json {
        println!(
            "{}",
            serde_json::json!({"agreed": agreed, "disagreed": disagreed, "refused": refused, "unrunnable": unrunnable})
        );
    }
    for line in summary {
        // With --json, stdout holds only JSON lines.
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    if disagreed > 0 {
        Err(Failure::failed(String::new()))
    } else {
        Ok(())
    }
}

fn show(o: &EngineOutcome) -> String {
    match o {
        EngineOutcome::Returned(r0) => format!("r0 = {r0:#x}"),
        EngineOutcome::Refused(w) => format!("refused: {w}"),
        EngineOutcome::Failed(w) => format!("failed: {w}"),
        EngineOutcome::Skipped(w) => w.clone(),
    }
}
