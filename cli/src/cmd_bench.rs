//! `ironbpf bench`: where ironbpf stands against its peers and the kernel.
//!
//! Every runner's r0 is checked against the program's reference result
//! before any of its timings count; a runner that disagrees is reported as
//! such, never timed.

use crate::Failure;
use clap::{Args, ValueEnum};
use ironbpf_benches::{
    iterations_for, vm_expected, vm_peer_runner, BenchError, Runner, VmMemory, VmPeer, VM_PROGRAMS,
};
use ironbpf_isa::Program;
use ironbpf_vm::{HelperRegistry, Interpreter, Options};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    /// bpftime's userspace-runtime programs (r1 = input memory)
    Vm,
    /// Every suite
    All,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf bench --suite vm\n  ironbpf bench --suite all --json > bench.json"
)]
pub struct BenchArgs {
    /// Which suite to run
    #[arg(long, value_enum, default_value = "all")]
    suite: Suite,
    /// Samples per runner and program (the median, min and max are over these)
    #[arg(long, default_value_t = 11)]
    samples: usize,
    /// Time budget of one sample, in milliseconds
    #[arg(long, default_value_t = 20)]
    sample_ms: u64,
    /// One JSON record per runner and program
    #[arg(long)]
    json: bool,
}

/// Our interpreter on a VM-suite program, in checked mode.
struct OursInterp {
    name: &'static str,
    vm: Interpreter,
    mem: VmMemory,
}

impl OursInterp {
    fn new(name: &'static str, bin: &[u8]) -> Result<Self, String> {
        let prog = Program::from_bytes(bin).map_err(|e| e.to_string())?;
        let vm = Interpreter::new(
            &prog,
            &HelperRegistry::new(),
            Options {
                budget: u64::MAX,
                ..Options::default()
            },
        )
        .map_err(|e| e.to_string())?;
        Ok(OursInterp {
            name,
            vm,
            mem: VmMemory::for_program(name),
        })
    }
}

impl Runner for OursInterp {
    fn runner_name(&self) -> &'static str {
        "ironbpf-interp"
    }
    fn program(&self) -> &str {
        self.name
    }
    fn run(&mut self) -> Result<u64, BenchError> {
        self.vm
            .run_with_memory(self.mem.as_mut_slice())
            .map_err(|e| BenchError::UnknownProgram {
                suite: "ironbpf-interp run failed",
                name: format!("{}: {e}", self.name),
            })
    }
}

/// One runner's figures on one program.
struct Row {
    suite: &'static str,
    program: String,
    runner: String,
    median_ns: f64,
    min_ns: f64,
    max_ns: f64,
    r0_ok: Result<(), String>,
}

fn measure(
    runner: &mut dyn Runner,
    expected: u64,
    samples: usize,
    budget: Duration,
) -> Result<(f64, f64, f64), String> {
    let r0 = runner.run().map_err(|e| e.to_string())?;
    if r0 != expected {
        return Err(format!("r0 = {r0:#x}, expected {expected:#x}"));
    }
    let iters = iterations_for(runner, budget).map_err(|e| e.to_string())?;
    let mut v = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        for _ in 0..iters {
            runner.run().map_err(|e| e.to_string())?;
        }
        v.push(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    v.sort_by(f64::total_cmp);
    Ok((v[v.len() / 2], v[0], v[v.len() - 1]))
}

/// A runner by name, or why it could not be set up.
type NamedRunner = (String, Result<Box<dyn Runner>, String>);

fn vm_suite(args: &BenchArgs, rows: &mut Vec<Row>) -> Result<(), Failure> {
    let budget = Duration::from_millis(args.sample_ms);
    for p in VM_PROGRAMS {
        let expected = vm_expected(p.name).map_err(|e| Failure::failed(e.to_string()))?;
        let mut runners: Vec<NamedRunner> = vec![(
            "ironbpf-interp".into(),
            OursInterp::new(p.name, p.insns).map(|r| Box::new(r) as Box<dyn Runner>),
        )];
        for peer in VmPeer::ALL {
            runners.push((
                peer.name().into(),
                vm_peer_runner(peer, p.name).map_err(|e| e.to_string()),
            ));
        }
        for (name, r) in runners {
            let res = r.and_then(|mut r| measure(r.as_mut(), expected, args.samples, budget));
            let (median_ns, min_ns, max_ns, r0_ok) = match res {
                Ok((m, lo, hi)) => (m, lo, hi, Ok(())),
                Err(e) => (f64::NAN, f64::NAN, f64::NAN, Err(e)),
            };
            rows.push(Row {
                suite: "vm",
                program: p.name.to_string(),
                runner: name,
                median_ns,
                min_ns,
                max_ns,
                r0_ok,
            });
        }
    }
    Ok(())
}

/// The best peer on a program: the fastest runner that is not ours and
/// not native code (which no runtime can beat; it is the baseline).
fn best_peer(rows: &[Row], suite: &str, program: &str) -> Option<f64> {
    rows.iter()
        .filter(|r| r.suite == suite && r.program == program && r.r0_ok.is_ok())
        .filter(|r| !r.runner.starts_with("ironbpf") && r.runner != "native")
        .map(|r| r.median_ns)
        .min_by(f64::total_cmp)
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let mut rows = Vec::new();
    vm_suite(&args, &mut rows)?;
    if args.json {
        for r in &rows {
            let peer = best_peer(&rows, r.suite, &r.program);
            println!(
                "{}",
                serde_json::json!({
                    "suite": r.suite, "program": r.program, "runner": r.runner,
                    "median_ns": r.median_ns, "min_ns": r.min_ns, "max_ns": r.max_ns,
                    "ratio_to_best_peer": peer.map(|p| r.median_ns / p),
                    "r0_agrees": r.r0_ok.is_ok(), "error": r.r0_ok.as_ref().err(),
                })
            );
        }
    } else {
        println!(
            "{:<6} {:<16} {:<16} {:>14} {:>27} {:>9}  r0",
            "suite", "program", "runner", "median ns", "min – max ns", "vs peer"
        );
        for r in &rows {
            let peer = best_peer(&rows, r.suite, &r.program);
            match &r.r0_ok {
                Ok(()) => println!(
                    "{:<6} {:<16} {:<16} {:>14.1} {:>13.1} – {:<11.1} {:>9}  ok",
                    r.suite,
                    r.program,
                    r.runner,
                    r.median_ns,
                    r.min_ns,
                    r.max_ns,
                    peer.map(|p| format!("{:.2}x", r.median_ns / p))
                        .unwrap_or_default()
                ),
                Err(e) => println!(
                    "{:<6} {:<16} {:<16} not timed: {e}",
                    r.suite, r.program, r.runner
                ),
            }
        }
    }
    // The headline: our interpreter against the best peer interpreter,
    // geometric mean of speedups over the VM suite.
    let mut logs = Vec::new();
    for p in VM_PROGRAMS {
        let ours = rows
            .iter()
            .find(|r| r.program == p.name && r.runner == "ironbpf-interp" && r.r0_ok.is_ok());
        let peer = rows
            .iter()
            .filter(|r| {
                r.program == p.name
                    && r.runner.ends_with("-interp")
                    && !r.runner.starts_with("ironbpf")
                    && r.r0_ok.is_ok()
            })
            .map(|r| r.median_ns)
            .min_by(f64::total_cmp);
        if let (Some(o), Some(pe)) = (ours, peer) {
            logs.push((pe / o.median_ns).ln());
        }
    }
    if !logs.is_empty() && !args.json {
        let g = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
        println!("ironbpf-interp vs the best peer interpreter, geometric mean over the VM suite: {g:.2}x faster");
    }
    if rows
        .iter()
        .any(|r| r.r0_ok.is_err() && r.runner.starts_with("ironbpf"))
    {
        return Err(Failure::failed("ironbpf disagreed with a reference result"));
    }
    Ok(())
}
