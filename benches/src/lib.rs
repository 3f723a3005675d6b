//! Benchmark programs and the peer runners ironbpf is measured against.
//!
//! Two suites of programs, written in C under `benches/programs/` with their compiled
//! objects committed beside them (`benches/programs/build.sh` rebuilds them):
//!
//! - the **VM suite** ([`vm_suite`]): `u64 bpf_main(void *mem)` programs run with
//!   r1 = an input memory, after the suite bpftime used to compare userspace runtimes;
//! - the **kernel suite** ([`kernel_suite`]): XDP programs the Linux verifier accepts,
//!   run on a packet.
//!
//! Every program comes with its input and its expected r0 from a Rust reference
//! implementation. The runners that are not ironbpf's own implement [`Runner`]:
//! [`NativeRunner`] (the C compiled for the host), [`RbpfRunner`] (the rbpf crate's
//! interpreter and JIT) and, for the kernel suite, [`KernelRunner`]
//! (`BPF_PROG_TEST_RUN`). A bench driver checks r0 with [`check_r0`] before timing.
//!
//! ```
//! use ironbpf_benches::{check_r0, vm_expected, NativeRunner, Runner};
//!
//! let mut native = NativeRunner::new("prime").unwrap();
//! check_r0(&mut native, vm_expected("prime").unwrap()).unwrap();
//! let started = std::time::Instant::now();
//! native.run().unwrap();
//! let _one_run = started.elapsed();
//! ```

pub mod kernel_suite;
mod native;
mod rbpf_runner;
pub mod vm_suite;

use std::time::{Duration, Instant};

pub use kernel_suite::{
    kernel_expected, kernel_packet, kernel_program, KernelProgram, KERNEL_PROGRAMS,
};
pub use native::{native_compiler, NativeRunner};
pub use rbpf_runner::{RbpfMode, RbpfRunner};
pub use vm_suite::{vm_expected, vm_input, vm_program, VmMemory, VmProgram, VM_PROGRAMS};

/// Errors of the benchmark runners. Each names the program and what failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No program of that name in the suite.
    #[error("no program named `{name}` in the {suite} suite")]
    UnknownProgram {
        /// Which suite (or runner) was asked.
        suite: &'static str,
        /// The name asked for.
        name: String,
    },
    /// rbpf refused or failed the program.
    #[error("rbpf, program `{program}`, {stage}: {message}")]
    Rbpf {
        /// Program name.
        program: String,
        /// What rbpf was doing: load, jit_compile, execute_program, ...
        stage: &'static str,
        /// rbpf's message (it names the instruction index where it has one).
        message: String,
    },
    /// A runner returned another r0 than the reference implementation.
    #[error("{runner} returned r0 = {actual:#x} for `{program}`, expected {expected:#x}")]
    WrongResult {
        /// Runner name.
        runner: String,
        /// Program name.
        program: String,
        /// r0 from the reference implementation.
        expected: u64,
        /// r0 the runner returned.
        actual: u64,
    },
    /// The kernel could not be used or refused the program.
    #[error("kernel, program `{program}`, {stage}: {message}")]
    Kernel {
        /// Program name.
        program: String,
        /// What was being done: probe, load object, create map, load program, test run.
        stage: &'static str,
        /// The kernel crate's message (with the verifier log where there is one).
        message: String,
    },
}

/// A prepared program on one engine. `run` executes it once on the runner's own copy
/// of the program's input and returns r0; a bench driver times repeated calls.
pub trait Runner {
    /// The engine's name in reports: `native`, `rbpf-interp`, `rbpf-jit`, `kernel`.
    fn runner_name(&self) -> &'static str;
    /// The program's name.
    fn program(&self) -> &str;
    /// Runs the program once and returns r0.
    fn run(&mut self) -> Result<u64, BenchError>;
}

/// The peer runners of the VM suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmPeer {
    /// The C compiled for the host ([`NativeRunner`]).
    Native,
    /// rbpf's interpreter ([`RbpfRunner`] in [`RbpfMode::Interpreter`]).
    RbpfInterpreter,
    /// rbpf's x86-64 JIT ([`RbpfRunner`] in [`RbpfMode::Jit`]).
    RbpfJit,
}

impl VmPeer {
    /// Every VM-suite peer, in report order.
    pub const ALL: [VmPeer; 3] = [VmPeer::Native, VmPeer::RbpfInterpreter, VmPeer::RbpfJit];

    /// The runner name reports use (the same as [`Runner::runner_name`]).
    pub fn name(self) -> &'static str {
        match self {
            VmPeer::Native => "native",
            VmPeer::RbpfInterpreter => "rbpf-interp",
            VmPeer::RbpfJit => "rbpf-jit",
        }
    }
}

/// Prepares the VM-suite program `program` on the peer `peer`.
pub fn vm_peer_runner(peer: VmPeer, program: &str) -> Result<Box<dyn Runner>, BenchError> {
    Ok(match peer {
        VmPeer::Native => Box::new(NativeRunner::new(program)?),
        VmPeer::RbpfInterpreter => Box::new(RbpfRunner::new(program, RbpfMode::Interpreter)?),
        VmPeer::RbpfJit => Box::new(RbpfRunner::new(program, RbpfMode::Jit)?),
    })
}

/// Runs the program once and checks r0 against `expected`; timings count only after this.
pub fn check_r0(runner: &mut dyn Runner, expected: u64) -> Result<(), BenchError> {
    let actual = runner.run()?;
    if actual == expected {
        Ok(())
    } else {
        Err(BenchError::WrongResult {
            runner: runner.runner_name().to_string(),
            program: runner.program().to_string(),
            expected,
            actual,
        })
    }
}

/// Times `samples` batches of `iterations` runs each and returns the median time of
/// one run, in nanoseconds. r0 of each run must stay `expected`.
pub fn median_ns_per_run(
    runner: &mut dyn Runner,
    expected: u64,
    samples: usize,
    iterations: u32,
) -> Result<f64, BenchError> {
    let iterations = iterations.max(1);
    let mut per_run = Vec::with_capacity(samples.max(1));
    for _ in 0..samples.max(1) {
        let started = Instant::now();
        for _ in 0..iterations {
            let r0 = runner.run()?;
            if r0 != expected {
                return Err(BenchError::WrongResult {
                    runner: runner.runner_name().to_string(),
                    program: runner.program().to_string(),
                    expected,
                    actual: r0,
                });
            }
        }
        per_run.push(started.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    per_run.sort_by(f64::total_cmp);
    Ok(per_run[per_run.len() / 2])
}

/// How many runs of one program fit in `budget`, estimated from one timed run (at least 1).
pub fn iterations_for(runner: &mut dyn Runner, budget: Duration) -> Result<u32, BenchError> {
    let started = Instant::now();
    runner.run()?;
    let one = started.elapsed().max(Duration::from_nanos(1));
    Ok((budget.as_nanos() / one.as_nanos()).clamp(1, u128::from(u32::MAX)) as u32)
}
