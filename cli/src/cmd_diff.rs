//! `ironbpf diff`: random programs on our engine and on the kernel,
//! compared on r0, the packet after the run, and acceptance.

use crate::cmd_test::JitModeArg;
use crate::Failure;
use clap::{Args, ValueEnum};
use ironbpf_conformance::diff::{run_random_with, VmXdp, XdpEngine, XdpOutcome};
use ironbpf_vm::Options;
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
    after_help = "Examples:\n  ironbpf diff --random 5000 --seed 1\n  ironbpf diff --random 100000 --seed 1 --against kernel"
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
    /// The JIT's mode, with --engine jit
    #[arg(long, value_enum, default_value = "checked")]
    mode: JitModeArg,
    /// Generate unverified programs (out-of-bounds accesses, endless loops, misaligned atomics), run with a budget of 20,000 instructions: both engines must stop at the same instruction with the same error
    #[arg(long)]
    unverified: bool,
    /// Show the most common reasons the reference refused programs
    #[arg(long)]
    reasons: bool,
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
    let ours: Box<dyn XdpEngine> = match args.engine {
        DiffEngine::Interp => Box::new(VmXdp::interp(options)),
        DiffEngine::Jit => Box::new(VmXdp::jit(args.mode.mode(), options)),
    };
    let reference: Box<dyn XdpEngine> = match args.against {
        Against::Interp => Box::new(VmXdp::interp(options)),
        Against::Jit => Box::new(VmXdp::jit(ironbpf_vm::JitMode::Checked, options)),
        Against::Kernel => {
            Box::new(ironbpf_conformance::kernel::KernelXdp::new().map_err(Failure::usage)?)
        }
    };
    let tty = std::io::stderr().is_terminal();
    let total = args.random;
    let summary = run_random_with(
        gen,
        ours.as_ref(),
        reference.as_ref(),
        total,
        args.seed,
        |done, s| {
            if tty && (done % 500 == 0 || done == total) {
                eprint!("\r{done}/{total}: {s}   ");
            }
        },
    );
    if tty {
        eprintln!();
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
