//! `ironbpf`: run, test, assemble and inspect eBPF programs in userspace.
//!
//! Exit codes: 0 success, 1 the job ran and found failures (a failed test,
//! a refused program), 2 the command could not run (bad usage, unreadable
//! input).

mod cmd_asm;
mod cmd_bench;
mod cmd_compare;
mod cmd_diff;
mod cmd_helpers;
mod cmd_jit;
mod cmd_kernel;
mod cmd_map;
mod cmd_plugin;
mod cmd_prog;
mod cmd_run;
mod cmd_test;
mod cmd_verify;
mod gate;
mod style;
mod tp_record;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ironbpf",
    version,
    about = "A userspace eBPF runtime: interpreter, tests against the kernel, assembler and disassembler",
    after_help = "Examples:\n  ironbpf test ../shared/conformance/bpf_conformance\n  ironbpf test --error-text any ../shared/conformance/ubpf/errors\n  echo 'r0 = 42\nexit' | ironbpf asm - -o prog.bin\n  ironbpf disasm prog.bin"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// A value for objects' `.kconfig` externs (CONFIG_HZ=250, CONFIG_FOO=y), over the
    /// running kernel's configuration; repeatable. Applies to ironbpf's side and the kernel's.
    #[arg(long = "kconfig", value_name = "NAME=VALUE", global = true)]
    kconfig: Vec<String>,
    /// The routes, neighbours, interfaces and sockets that bpf_fib_lookup and the socket lookups
    /// read on ironbpf's side (JSON, see docs/world.md); default: a fresh namespace, only lo.
    #[arg(long = "world", value_name = "FILE", global = true)]
    world: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run bpf_conformance-format test files (files or folders of *.data)
    Test(cmd_test::TestArgs),
    /// Assemble kernel-syntax text into raw instruction bytes
    Asm(cmd_asm::AsmArgs),
    /// Disassemble raw instruction bytes into kernel-syntax text
    Disasm(cmd_asm::DisasmArgs),
    /// Compare random programs between our engine and the kernel (--verifier: the verifiers' verdicts)
    Diff(cmd_diff::DiffArgs),
    /// Speak bpf_conformance's plugin protocol (program on stdin, memory as argument, r0 out)
    ConformancePlugin(cmd_plugin::PluginArgs),
    /// Time ironbpf against its peers (rbpf, native code, the kernel)
    Bench(cmd_bench::BenchArgs),
    /// List the helper table: id, name, prototype, program types
    Helpers(cmd_helpers::HelpersArgs),
    /// Inspect the programs and maps of an ELF object
    #[command(subcommand)]
    Prog(cmd_prog::ProgCommand),
    /// Compile a program of an ELF object with the JIT and show its x86-64 code beside each BPF instruction
    Jit(cmd_jit::JitArgs),
    /// Run a program of an ELF object on a packet or context (BPF_PROG_TEST_RUN without root)
    Run(cmd_run::RunArgs),
    /// Maps in ironbpf's runtime as JSON: create, fill and dump them around a run
    #[command(subcommand)]
    Map(cmd_map::MapCommand),
    /// Verify the programs of an ELF object with ironbpf's verifier (--kernel: the kernel's verdict beside it)
    Verify(cmd_verify::VerifyArgs),
    /// The running kernel as the reference: verify, run, probe, xlated and jited images
    #[command(
        subcommand,
        after_help = "Examples:\n  ironbpf kernel probe\n  ironbpf kernel verify ../shared/corpus/ebpf-samples/linux/sockex1_kern.o --log-level 2\n  ironbpf kernel run ../shared/corpus/ebpf-samples/linux/sockex1_kern.o --repeat 1000 --json\n  ironbpf kernel xlated ../shared/corpus/ebpf-samples/linux/sockex1_kern.o"
    )]
    Kernel(cmd_kernel::KernelCommand),
    /// Compare every program of objects or folders between ironbpf and the kernel, side by side
    Compare(cmd_compare::CompareArgs),
}

/// A failure to report: its message and the exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Bad usage or unreadable input: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    /// The job ran and failed: exit code 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes
    // away (`ironbpf ... | head`) instead of failing on the write.
    // SAFETY: restoring the default disposition of SIGPIPE at the start of
    // main, before any thread exists, touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Err(f) = cmd_prog::set_kconfig(&cli.kconfig) {
        eprintln!("{}: {}", style::error_label(), f.message);
        return ExitCode::from(f.code);
    }
    if let Some(path) = &cli.world {
        let world = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|t| {
                ironbpf_helpers::World::from_json(&t)
                    .map_err(|e| format!("{}: {e}", path.display()))
            });
        match world {
            Ok(w) => ironbpf_helpers::env::set_default_world(w),
            Err(m) => {
                eprintln!("{}: --world {m}", style::error_label());
                return ExitCode::from(2);
            }
        }
    }
    let result = match cli.command {
        Command::Test(a) => cmd_test::run(a),
        Command::Asm(a) => cmd_asm::asm(a),
        Command::Disasm(a) => cmd_asm::disasm(a),
        Command::Run(a) => cmd_run::run(a),
        Command::Jit(a) => cmd_jit::run(a),
        Command::Map(c) => cmd_map::run(c),
        Command::Verify(a) => cmd_verify::run(a),
        Command::Kernel(c) => cmd_kernel::run(c),
        Command::Compare(a) => cmd_compare::run(a),
        Command::Prog(c) => cmd_prog::run(c),
        Command::Diff(a) => cmd_diff::run(a),
        Command::Bench(a) => cmd_bench::run(a),
        Command::Helpers(a) => cmd_helpers::run(a),
        Command::ConformancePlugin(a) => cmd_plugin::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}: {}", style::error_label(), f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
