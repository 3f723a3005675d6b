//! `ironbpf test`: bpf_conformance-format files on an engine.

use crate::{style, Failure};
use clap::{Args, ValueEnum};
use ironbpf_conformance::runner::{
    collect_files, run_file, ErrorText, FileReport, InterpEngine, Summary, TestEngine, Verdict,
};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// The checked interpreter
    Interp,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ErrorTextArg {
    /// The error must contain the file's `-- error` text (or match its `-- error pattern`)
    Exact,
    /// Any clean refusal or run-time error passes (for suites written against another runtime's wording)
    Any,
}

#[derive(Args)]
#[command(after_help = "Examples:\n  ironbpf test ../shared/conformance/bpf_conformance/*.data\n  ironbpf test --error-text any ../shared/conformance/ubpf/errors")]
pub struct TestArgs {
    /// Test files or folders of *.data files
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The engine to run the programs on
    #[arg(long, value_enum, default_value = "interp")]
    engine: EngineArg,
    /// How `-- error` expectations are matched
    #[arg(long, value_enum, default_value = "exact")]
    error_text: ErrorTextArg,
    /// Print every file's verdict, not only failures and skips
    #[arg(long, short)]
    verbose: bool,
    /// One JSON record per file, then the summary
    #[arg(long)]
    json: bool,
}

pub fn run(args: TestArgs) -> Result<(), Failure> {
    let files = collect_files(&args.paths).map_err(Failure::usage)?;
    if files.is_empty() {
        return Err(Failure::usage("no *.data files found in the given paths"));
    }
    let engine: Box<dyn TestEngine> = match args.engine {
        EngineArg::Interp => Box::new(InterpEngine::default()),
    };
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
    println!("{summary}");
    if summary.failed > 0 {
        Err(Failure::failed(String::new()))
    } else {
        Ok(())
    }
}
