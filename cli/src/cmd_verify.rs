//! `ironbpf verify`: ironbpf's verifier does not exist yet, so this says so,
//! and shows the kernel's verdict and log as the reference, marked as the
//! kernel's. The exit code follows the kernel's verdict.

use crate::cmd_kernel::{
    describe, inspect, kernel_object, load, outcome_json, outcome_line, pick, print_log,
};
use crate::Failure;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

/// What ironbpf's side says until its verifier lands.
pub const NOT_IMPLEMENTED: &str = "ironbpf's verifier is not yet implemented";

#[derive(Args)]
#[command(
    after_help = "ironbpf's own verifier is not implemented yet: the verdict shown is the running kernel's, \
                  for reference, and the exit code follows it (0 accepted, 1 refused, 2 no kernel to ask).\n\n\
                  Examples:\n  ironbpf verify ../shared/corpus/ebpf-samples/linux/sockex1_kern.o\n  \
                  ironbpf verify --type xdp ../shared/corpus/ebpf-samples/build/nullmapref.o --log-level 2\n  \
                  ironbpf verify prog.o --prog xdp_main --json"
)]
pub struct VerifyArgs {
    /// A BPF ELF object (clang -target bpf)
    object: PathBuf,
    /// The program (its function name); every program of the object when omitted
    #[arg(long)]
    prog: Option<String>,
    /// The program type for sections whose name does not say it (xdp, socket_filter, sched_cls, ...)
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// The kernel verifier log's level: 1 (the path to each verdict) or 2 (every instruction's state)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    log_level: u32,
    /// One JSON record per program (one per line)
    #[arg(long)]
    json: bool,
}

pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let ins = inspect(&args.object, args.prog_type.as_deref())?;
    let progs = pick(&ins, &args.object, args.prog.as_deref(), true)?;
    if let Err(why) = ironbpf_kernel::probe() {
        if !args.json {
            for p in &progs {
                println!("{}: {}", args.object.display(), describe(p));
                println!("ironbpf verifier: not yet implemented");
            }
        }
        return Err(Failure::usage(format!(
            "no verdict: {NOT_IMPLEMENTED}, and the kernel, which would give the reference verdict, cannot be used: {why}"
        )));
    }
    let kobj = kernel_object(&ins, &args.object)?;
    let mut refused = 0;
    for (i, p) in progs.iter().enumerate() {
        let out = load(&kobj, p, args.log_level);
        if !out.accepted() {
            refused += 1;
        }
        if args.json {
            println!(
                "{}",
                json!({
                    "object": args.object.display().to_string(), "program": p.name,
                    "section": p.section, "type": p.prog_type_name, "insns": p.insns.len() / 8,
                    "ironbpf": {"verdict": "not implemented", "message": NOT_IMPLEMENTED},
                    "kernel": outcome_json(&out, true),
                    "log_level": args.log_level,
                })
            );
            continue;
        }
        if i > 0 {
            println!();
        }
        println!("{}: {}", args.object.display(), describe(p));
        println!("ironbpf verifier: not yet implemented: ironbpf gives no verdict of its own");
        println!("kernel verifier (reference): {}", outcome_line(&out));
        print_log(
            &out,
            args.log_level,
            "the kernel's verifier log, for reference",
        );
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
            format!("{refused} of {total} programs were refused or not loaded")
        } else {
            String::new()
        }));
    }
    Ok(())
}
