//! The `kernel` runner: a kernel-suite program loaded into the running kernel (its maps
//! created as libbpf would) and run through `BPF_PROG_TEST_RUN`.
//!
//! [`Runner::run_repeat`] hands the loop to the kernel (`repeat`) and reports the
//! kernel's own time per run (`duration`), so the syscall's cost is not in the figure.
//! Needs root or CAP_BPF + CAP_NET_ADMIN; without them [`KernelRunner::new`] says why.

use std::time::Duration;

use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::{KernelProg, TestRun, BPF_LOG_STATS};

use crate::kernel_suite::{kernel_packet, kernel_program};
use crate::{BenchError, Runner};

/// One kernel-suite program, loaded into the kernel.
#[derive(Debug)]
pub struct KernelRunner {
    program: &'static str,
    prog: KernelProg,
    /// Keeps the program's maps alive.
    _object: KernelObject,
    packet: Vec<u8>,
    load_time: Duration,
    verification_time_usec: Option<u64>,
    processed_insns: Option<u64>,
}

fn kernel_error(program: &str, stage: &'static str, message: impl ToString) -> BenchError {
    BenchError::Kernel {
        program: program.to_string(),
        stage,
        message: message.to_string(),
    }
}

impl KernelRunner {
    /// Loads the kernel-suite program `name` (with `BPF_LOG_STATS`, to read the
    /// verifier's figures) and checks that the kernel can be used at all.
    pub fn new(name: &str) -> Result<Self, BenchError> {
        let p = kernel_program(name)?;
        ironbpf_kernel::probe().map_err(|why| kernel_error(p.name, "probe", why))?;
        let obj = ironbpf_loader::load_bytes(p.object, &ironbpf_loader::LoadOptions::default())
            .map_err(|e| kernel_error(p.name, "load object", e))?;
        let prog = obj
            .programs
            .iter()
            .find(|q| q.name == p.name)
            .ok_or_else(|| kernel_error(p.name, "load object", "no program of that name"))?;
        let object =
            KernelObject::create(&obj).map_err(|e| kernel_error(p.name, "create maps", e))?;
        let outcome = object.load_program(prog, BPF_LOG_STATS);
        let load_time = outcome.load_time;
        let verification_time_usec = outcome.verification_time_usec;
        let processed_insns = outcome.processed_insns;
        let kprog = outcome.result.map_err(|e| {
            let why = outcome
                .first_error_line
                .clone()
                .unwrap_or_else(|| outcome.log.clone());
            kernel_error(p.name, "load program", format!("{e}: {why}"))
        })?;
        Ok(KernelRunner {
            program: p.name,
            prog: kprog,
            _object: object,
            packet: kernel_packet(p.name)?,
            load_time,
            verification_time_usec,
            processed_insns,
        })
    }

    /// The verifier's `verification time` for this program, in microseconds.
    pub fn verification_time_usec(&self) -> Option<u64> {
        self.verification_time_usec
    }

    /// The verifier's `processed N insns`.
    pub fn processed_insns(&self) -> Option<u64> {
        self.processed_insns
    }

    /// One `BPF_PROG_TEST_RUN` of `repeat` runs: the return value and the kernel's
    /// time per run in nanoseconds.
    pub fn test_run(&self, repeat: u32) -> Result<(u64, u64), BenchError> {
        let out = self
            .prog
            .test_run(&TestRun {
                data: &self.packet,
                repeat: repeat.max(1),
                ..Default::default()
            })
            .map_err(|e| kernel_error(self.program, "test run", e))?;
        Ok((u64::from(out.retval), u64::from(out.duration_ns)))
    }
}

impl Runner for KernelRunner {
    fn runner_name(&self) -> &'static str {
        "kernel"
    }

    fn program(&self) -> &str {
        self.program
    }

    fn run(&mut self) -> Result<u64, BenchError> {
        self.test_run(1).map(|(r0, _)| r0)
    }

    /// The kernel runs the program `repeat` times on the same packet and reports the
    /// mean time of one run, measured in the kernel. It returns the last run's r0 only;
    /// the programs are deterministic, and [`crate::measure`] checks r0 on every batch.
    fn run_repeat(&mut self, repeat: u32) -> Result<(u64, f64), BenchError> {
        let (r0, ns) = self.test_run(repeat)?;
        Ok((r0, ns as f64))
    }

    /// The wall time of `BPF_PROG_LOAD`: verification and the kernel's JIT.
    fn compile_time(&self) -> Option<Duration> {
        Some(self.load_time)
    }
}
