//! Benchmark programs, the runners ironbpf is measured against, and the verifier suite.
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
//! implementation. Every engine implements [`Runner`]: [`InterpRunner`] (ironbpf's
//! checked interpreter, on both suites), [`NativeRunner`] (the C compiled for the
//! host), [`RbpfRunner`] (the rbpf crate's interpreter and JIT) and, for the kernel
//! suite, [`KernelRunner`] (`BPF_PROG_TEST_RUN` with `repeat`). [`measure`] checks r0
//! before it times anything.
//!
//! The **verifier suite** ([`verifier_suite`]) times the kernel's verifier and PREVAIL
//! (the `prevail` crate) on the shared corpus of compiled objects.
//!
//! ```
//! use ironbpf_benches::{measure, vm_expected, NativeRunner};
//! use std::time::Duration;
//!
//! let mut native = NativeRunner::new("prime").unwrap();
//! let m = measure(&mut native, vm_expected("prime").unwrap(), 3, Duration::from_millis(1)).unwrap();
//! assert!(m.min_ns <= m.median_ns && m.median_ns <= m.max_ns);
//! ```

mod interp_runner;
pub mod jit_compile;
mod jit_runner;
mod kernel_runner;
pub mod kernel_suite;
mod native;
mod rbpf_runner;
pub mod verifier_suite;
pub mod vm_suite;

use std::time::{Duration, Instant};

pub use interp_runner::InterpRunner;
pub use jit_runner::JitRunner;
pub use kernel_runner::KernelRunner;
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
    /// ironbpf's interpreter refused or failed the program.
    #[error("ironbpf-interp, program `{program}`, {stage}: {message}")]
    Interp {
        /// Program name.
        program: String,
        /// What was being done: load object, decode, prepare, run.
        stage: &'static str,
        /// The engine's message (it names the instruction where it has one).
        message: String,
    },
    /// The runner gave different r0 values on repeated runs of the same input.
    #[error("{runner} returned r0 = {first:#x}, then {then:#x} for `{program}` on the same input")]
    Unstable {
        /// Runner name.
        runner: String,
        /// Program name.
        program: String,
        /// r0 of the first run.
        first: u64,
        /// r0 of a later run.
        then: u64,
    },
    /// The verifier suite's corpus could not be read.
    #[error("corpus {path}: {message}")]
    Corpus {
        /// The corpus folder.
        path: String,
        /// What went wrong.
        message: String,
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

impl BenchError {
    /// The error without the runner and program it names, for a report whose row
    /// already says both: `stage: message`.
    pub fn detail(&self) -> String {
        match self {
            BenchError::Rbpf { stage, message, .. }
            | BenchError::Interp { stage, message, .. }
            | BenchError::Kernel { stage, message, .. } => format!("{stage}: {message}"),
            other => other.to_string(),
        }
    }
}

/// A prepared program on one engine. `run` executes it once on the runner's own copy
/// of the program's input and returns r0; a bench driver times repeated calls through
/// [`Runner::run_repeat`].
pub trait Runner {
    /// The engine's name in reports: `ironbpf-interp`, `native`, `rbpf-interp`,
    /// `rbpf-jit`, `kernel`.
    fn runner_name(&self) -> &'static str;
    /// The program's name.
    fn program(&self) -> &str;
    /// Runs the program once and returns r0.
    fn run(&mut self) -> Result<u64, BenchError>;

    /// Runs the program `repeat` times (at least once) and returns the r0 they all gave
    /// and the time of one run in nanoseconds. The default times `run` in a loop with
    /// the thread's CPU clock ([`thread_cpu_ns`]: time the thread spent off the CPU on a
    /// shared machine is not counted, as the kernel's own test-run timer does not count
    /// it); [`KernelRunner`] hands the loop to the kernel (`BPF_PROG_TEST_RUN` with
    /// `repeat`) and reports the kernel's own figure.
    fn run_repeat(&mut self, repeat: u32) -> Result<(u64, f64), BenchError> {
        let (runner, program) = (self.runner_name(), self.program().to_string());
        time_runs(repeat, runner, &program, || self.run())
    }

    /// What preparing the program cost beyond reading it: rbpf-jit's compile time, the
    /// kernel's load (verification and JIT) time, ironbpf-interp's pre-decoding.
    /// `None` where the runner has no such step (native code).
    fn compile_time(&self) -> Option<Duration> {
        None
    }
}

/// [`Runner::run_repeat`]'s loop: `run` `repeat` times (at least once),
/// timed with the thread's CPU clock, every r0 checked against the first;
/// gives that r0 and the time of one run in nanoseconds. Runners whose
/// host API binds a program to its input once (`JitRunner`) time their
/// bound call through this, as the default times [`Runner::run`].
#[inline(always)]
pub fn time_runs(
    repeat: u32,
    runner: &str,
    program: &str,
    mut run: impl FnMut() -> Result<u64, BenchError>,
) -> Result<(u64, f64), BenchError> {
    let repeat = repeat.max(1);
    let started = thread_cpu_ns();
    let first = run()?;
    for _ in 1..repeat {
        let r0 = run()?;
        if r0 != first {
            return Err(BenchError::Unstable {
                runner: runner.to_string(),
                program: program.to_string(),
                first,
                then: r0,
            });
        }
    }
    Ok((
        first,
        thread_cpu_ns().saturating_sub(started) as f64 / f64::from(repeat),
    ))
}

/// The CPU time the calling thread has used, in nanoseconds
/// (`CLOCK_THREAD_CPUTIME_ID`); 0 if the clock cannot be read.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The peer runners of the VM suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmPeer {
    /// The C compiled for the host ([`NativeRunner`]).
    Native,
    /// The same C compiled without the vectoriser ([`NativeRunner::scalar`]).
    NativeScalar,
    /// rbpf's interpreter ([`RbpfRunner`] in [`RbpfMode::Interpreter`]).
    RbpfInterpreter,
    /// rbpf's x86-64 JIT ([`RbpfRunner`] in [`RbpfMode::Jit`]).
    RbpfJit,
}

impl VmPeer {
    /// Every VM-suite peer, in report order.
    pub const ALL: [VmPeer; 4] = [
        VmPeer::Native,
        VmPeer::NativeScalar,
        VmPeer::RbpfInterpreter,
        VmPeer::RbpfJit,
    ];

    /// The runner name reports use (the same as [`Runner::runner_name`]).
    pub fn name(self) -> &'static str {
        match self {
            VmPeer::Native => "native",
            VmPeer::NativeScalar => "native-scalar",
            VmPeer::RbpfInterpreter => "rbpf-interp",
            VmPeer::RbpfJit => "rbpf-jit",
        }
    }
}

/// Prepares the VM-suite program `program` on the peer `peer`.
pub fn vm_peer_runner(peer: VmPeer, program: &str) -> Result<Box<dyn Runner>, BenchError> {
    Ok(match peer {
        VmPeer::Native => Box::new(NativeRunner::new(program)?),
        VmPeer::NativeScalar => Box::new(NativeRunner::scalar(program)?),
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

/// The timings of one runner on one program: nanoseconds per run over `samples`
/// batches of `iterations` runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Median over the batches of the time of one run.
    pub median_ns: f64,
    /// The fastest batch's time of one run.
    pub min_ns: f64,
    /// The slowest batch's time of one run.
    pub max_ns: f64,
    /// Number of batches.
    pub samples: usize,
    /// Runs per batch.
    pub iterations: u32,
}

/// Checks r0 against `expected`, then times `samples` batches of as many runs as fit in
/// `budget` (estimated from one timed batch) and returns their median, min and max per
/// run. Every batch's r0 must stay `expected`: a runner that disagrees is never timed.
pub fn measure(
    runner: &mut dyn Runner,
    expected: u64,
    samples: usize,
    budget: Duration,
) -> Result<Measurement, BenchError> {
    check_r0(runner, expected)?;
    let wrong = |runner: &dyn Runner, actual: u64| BenchError::WrongResult {
        runner: runner.runner_name().to_string(),
        program: runner.program().to_string(),
        expected,
        actual,
    };
    // One batch of one run, then one of the estimated size, to warm caches and
    // estimate well even where the first run pays for page faults.
    let (_, one) = runner.run_repeat(1)?;
    let mut iterations = (budget.as_nanos() as f64 / one.max(1.0)).clamp(1.0, 1e9) as u32;
    let (r0, per_run) = runner.run_repeat(iterations)?;
    if r0 != expected {
        return Err(wrong(runner, r0));
    }
    iterations = (budget.as_nanos() as f64 / per_run.max(1.0)).clamp(1.0, 1e9) as u32;
    let mut per_run = Vec::with_capacity(samples.max(1));
    for _ in 0..samples.max(1) {
        let (r0, ns) = runner.run_repeat(iterations)?;
        if r0 != expected {
            return Err(wrong(runner, r0));
        }
        per_run.push(ns);
    }
    per_run.sort_by(f64::total_cmp);
    Ok(Measurement {
        median_ns: per_run[per_run.len() / 2],
        min_ns: per_run[0],
        max_ns: per_run[per_run.len() - 1],
        samples: per_run.len(),
        iterations,
    })
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
