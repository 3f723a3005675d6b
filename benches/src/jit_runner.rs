//! The `ironbpf-jit` and `ironbpf-jit-checked` runners: ironbpf's x86-64 JIT, in
//! trusted mode (no checks) and in checked mode (every access checked, the budget
//! charged), on both suites, with the same programs, inputs and options as
//! [`crate::InterpRunner`].
//!
//! Trusted code checks nothing and ironbpf has no verifier yet: a trusted runner
//! first runs the program once in checked mode on the same input and compiles it
//! trusted only if that run ended cleanly with the program's reference r0.

use std::time::{Duration, Instant};

use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{Engine, JitMode, JitProgram};

use crate::interp_runner::{interp_error, Input};
use crate::kernel_suite::kernel_expected;
use crate::{vm_expected, BenchError, InterpRunner, Runner};

/// ironbpf's JIT on one program of the VM or the kernel suite.
pub struct JitRunner {
    program: &'static str,
    jit: JitProgram,
    input: Input,
    prepare_time: Duration,
    loaded: Option<LoadedObject>,
}

impl std::fmt::Debug for JitRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitRunner")
            .field("program", &self.program)
            .field("mode", &self.jit.mode())
            .finish_non_exhaustive()
    }
}

impl JitRunner {
    /// The VM-suite program `name` in `mode`.
    pub fn vm(name: &str, mode: JitMode) -> Result<Self, BenchError> {
        let expected = vm_expected(name)?;
        Self::from_interp(InterpRunner::vm(name)?, mode, expected)
    }

    /// The kernel-suite program `name` in `mode`.
    pub fn kernel(name: &str, mode: JitMode) -> Result<Self, BenchError> {
        let expected = kernel_expected(name)?;
        Self::from_interp(InterpRunner::kernel(name)?, mode, expected)
    }

    fn from_interp(r: InterpRunner, mode: JitMode, expected: u64) -> Result<Self, BenchError> {
        let started = Instant::now();
        let program = r.program;
        let checked =
            JitProgram::checked(r.vm.clone()).map_err(|e| interp_error(program, "compile", e))?;
        let mut runner = JitRunner {
            program,
            jit: checked,
            input: r.input,
            prepare_time: r.prepare_time,
            loaded: r.loaded,
        };
        if mode == JitMode::Trusted {
            let r0 = runner.run()?;
            if r0 != expected {
                return Err(BenchError::Interp {
                    program: program.to_string(),
                    stage: "check before trusting",
                    message: format!(
                        "the checked JIT returned r0 = {r0:#x}, expected {expected:#x}: not run trusted"
                    ),
                });
            }
            // SAFETY: this program just ran to its end in checked mode on this very
            // input (a copy the runner keeps) with the reference result; the suite's
            // programs are deterministic on their input.
            runner.jit = unsafe { JitProgram::trusted(r.vm) }
                .map_err(|e| interp_error(program, "compile", e))?;
        }
        runner.prepare_time += started.elapsed();
        Ok(runner)
    }
}

impl Runner for JitRunner {
    fn runner_name(&self) -> &'static str {
        match self.jit.mode() {
            JitMode::Trusted => "ironbpf-jit",
            JitMode::Checked => "ironbpf-jit-checked",
        }
    }

    fn program(&self) -> &str {
        self.program
    }

    fn run(&mut self) -> Result<u64, BenchError> {
        let result = match &mut self.input {
            Input::Memory(mem) => self.jit.run_with_memory(mem.as_mut_slice()),
            Input::Xdp {
                prog_type,
                ctx,
                packet,
            } => self
                .jit
                .run_ctx(
                    prog_type,
                    ctx,
                    Some(packet),
                    self.loaded.as_ref().map(|l| l.resolver()),
                )
                .map(|r0| u64::from(r0 as u32)),
        };
        result.map_err(|e| interp_error(self.program, "run", e))
    }

    /// Decoding, pre-decoding and code generation (and, trusted, the checked run).
    fn compile_time(&self) -> Option<Duration> {
        Some(self.prepare_time)
    }
}
