//! The `ironbpf-jit` and `ironbpf-jit-checked` runners: ironbpf's x86-64 JIT, in
//! trusted mode (no checks) and in checked mode (every access checked, the budget
//! charged), on both suites, with the same programs, inputs and options as
//! [`crate::InterpRunner`].
//!
//! Trusted code checks nothing: a trusted runner first runs the program once in
//! checked mode on the same input and compiles it trusted only if that run ended
//! cleanly with the program's reference r0. The `ironbpf-jit-verified` runner (kernel
//! suite) runs ironbpf's verifier on the program and compiles it from the proof; a
//! program the verifier refuses is not run.

use std::time::{Duration, Instant};

use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{Engine, JitMode, JitOptions, JitProgram};

use crate::interp_runner::{interp_error, Input};
use crate::kernel_suite::{kernel_expected, kernel_program};
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
        Self::vm_with(name, mode, JitOptions::default())
    }

    /// [`JitRunner::vm`] compiled with `opts` (constant blinding).
    pub fn vm_with(name: &str, mode: JitMode, opts: JitOptions) -> Result<Self, BenchError> {
        let expected = vm_expected(name)?;
        Self::from_interp(InterpRunner::vm(name)?, mode, expected, opts)
    }

    /// The kernel-suite program `name` in `mode` (verified: after ironbpf's verifier
    /// accepted it; its time is in the compile time).
    pub fn kernel(name: &str, mode: JitMode) -> Result<Self, BenchError> {
        Self::kernel_with(name, mode, JitOptions::default())
    }

    /// [`JitRunner::kernel`] compiled with `opts` (constant blinding).
    pub fn kernel_with(name: &str, mode: JitMode, opts: JitOptions) -> Result<Self, BenchError> {
        let expected = kernel_expected(name)?;
        if mode != JitMode::Verified {
            return Self::from_interp(InterpRunner::kernel(name)?, mode, expected, opts);
        }
        let r = InterpRunner::kernel(name)?;
        let program = r.program;
        let started = Instant::now();
        let proof = verify_kernel_program(name)?;
        let jit = match &r.input {
            Input::Xdp { prog_type, .. } => JitProgram::verified_for(r.vm, &proof, prog_type, opts),
            Input::Memory(_) => JitProgram::verified_with(r.vm, &proof, opts),
        }
        .map_err(|e| interp_error(program, "compile", e))?;
        Ok(JitRunner {
            program,
            jit,
            input: r.input,
            prepare_time: r.prepare_time + started.elapsed(),
            loaded: r.loaded,
        })
    }

    fn from_interp(
        r: InterpRunner,
        mode: JitMode,
        expected: u64,
        opts: JitOptions,
    ) -> Result<Self, BenchError> {
        let started = Instant::now();
        let program = r.program;
        if mode == JitMode::Verified {
            return Err(BenchError::Interp {
                program: program.to_string(),
                stage: "compile",
                message: "the verified JIT needs a program of a known type that ironbpf's verifier accepts; the VM suite's programs run on raw memory (the verified runner runs on the kernel suite)".into(),
            });
        }
        let checked = JitProgram::checked_with(r.vm.clone(), opts)
            .map_err(|e| interp_error(program, "compile", e))?;
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
            runner.jit = unsafe { JitProgram::trusted_with(r.vm, opts) }
                .map_err(|e| interp_error(program, "compile", e))?;
        }
        runner.prepare_time += started.elapsed();
        Ok(runner)
    }
}

impl JitRunner {
    #[inline(never)]
    fn run_xdp(&mut self) -> Result<u64, BenchError> {
        let Input::Xdp {
            prog_type,
            ctx,
            packet,
        } = &mut self.input
        else {
            return Err(BenchError::Interp {
                program: self.program.to_string(),
                stage: "run",
                message: "not an XDP input".into(),
            });
        };
        self.jit
            .run_ctx(
                prog_type,
                ctx,
                Some(packet),
                self.loaded.as_ref().map(|l| l.resolver()),
            )
            .map(|r0| u64::from(r0 as u32))
            .map_err(|e| interp_error(self.program, "run", e))
    }

    /// An XDP run: [`JitProgram::run_ctx_quick`] first, then the full
    /// context run for a first run on the type or code that calls the
    /// runtime.
    #[inline(never)]
    fn run_xdp_quick(&mut self) -> Result<u64, BenchError> {
        if let Input::Xdp {
            prog_type,
            ctx,
            packet,
        } = &mut self.input
        {
            if let Some(r0) = self.jit.run_ctx_quick(prog_type, ctx, Some(packet)) {
                return Ok(u64::from(r0 as u32));
            }
        }
        self.run_xdp()
    }

    /// A memory program whose code has no direct entry (checked code
    /// that checks something, or a program that uses the stack).
    #[inline(never)]
    fn run_memory(&mut self) -> Result<u64, BenchError> {
        let Input::Memory(mem) = &mut self.input else {
            return self.run_xdp();
        };
        self.jit
            .run_with_memory(mem.as_mut_slice())
            .map_err(|e| interp_error(self.program, "run", e))
    }
}

impl Runner for JitRunner {
    fn runner_name(&self) -> &'static str {
        match self.jit.mode() {
            JitMode::Trusted => "ironbpf-jit",
            JitMode::Checked => "ironbpf-jit-checked",
            JitMode::Verified => "ironbpf-jit-verified",
        }
    }

    fn program(&self) -> &str {
        self.program
    }

    // Inline, as the native runner's: which of the two the compiler
    // inlined into `run_repeat` on its own differed by binary (in the CLI
    // the native run was inlined and this one was not, 2.4x native on
    // `simple`; in the examples neither, 1.9x).
    #[inline]
    fn run(&mut self) -> Result<u64, BenchError> {
        // The VM suite's path is the host's call of a memory program and
        // nothing else: the XDP runs and the errors are out of line, so
        // that this function's frame is as small as the native runner's.
        // (Inlined here, the XDP path's JitCtx made it 0x178 bytes and six
        // saved registers, which cost `simple` 0.5 ns a run.)
        match &mut self.input {
            Input::Memory(mem) => match self.jit.run_memory_direct(mem.as_mut_slice()) {
                Some(r0) => Ok(r0),
                None => self.run_memory(),
            },
            Input::Xdp { .. } => self.run_xdp_quick(),
        }
    }

    /// A memory program is bound to its input once
    /// ([`JitProgram::bind_memory`]), as a host calling it many times on
    /// one buffer would: for code with a direct entry the timed loop is
    /// then the call alone, as the native runner's is a call of the C
    /// function. XDP programs time [`Runner::run`].
    fn run_repeat(&mut self, repeat: u32) -> Result<(u64, f64), BenchError> {
        let (runner, program) = (self.runner_name(), self.program);
        if let Input::Memory(mem) = &mut self.input {
            let mut call = self
                .jit
                .bind_memory(mem.as_mut_slice())
                .map_err(|e| interp_error(program, "bind", e))?;
            return crate::time_runs(repeat, runner, program, || {
                call.run().map_err(|e| interp_error(program, "run", e))
            });
        }
        crate::time_runs(repeat, runner, program, || self.run())
    }

    /// Decoding, pre-decoding and code generation (and, trusted, the checked run;
    /// verified, the verification).
    fn compile_time(&self) -> Option<Duration> {
        Some(self.prepare_time)
    }
}

/// ironbpf's verifier on the kernel-suite program `name`, with its object's maps, as
/// the kernel would load it (privileged, GPL).
fn verify_kernel_program(name: &str) -> Result<ironbpf_verifier::VerifiedProgram, BenchError> {
    let p = kernel_program(name)?;
    let err = |stage: &'static str, message: String| BenchError::Interp {
        program: p.name.to_string(),
        stage,
        message,
    };
    let obj = ironbpf_loader::load_bytes(p.object, &ironbpf_loader::LoadOptions::default())
        .map_err(|e| err("load object", e.to_string()))?;
    let prog = obj
        .programs
        .iter()
        .find(|q| q.name == p.name)
        .ok_or_else(|| err("load object", "no program of that name".into()))?;
    let prog_type =
        ironbpf_progtype::ProgTypeId::from_kernel_id(prog.prog_type).ok_or_else(|| {
            err(
                "verify",
                format!("program type {} is unknown", prog.prog_type),
            )
        })?;
    let mut opts = ironbpf_verifier::VerifyOptions::new(prog_type);
    opts.attach_type = ironbpf_progtype::AttachType::from_kernel_id(prog.expected_attach_type);
    opts.log_level = 0;
    let info = |m: &ironbpf_loader::MapDef| ironbpf_verifier::MapInfo {
        name: m.name.clone(),
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        map_flags: m.map_flags,
        frozen_readonly: m.frozen,
        record: Default::default(),
    };
    opts.maps = obj.maps.iter().map(info).collect();
    opts.inner_maps = obj
        .maps
        .iter()
        .map(|m| m.inner.as_deref().map(info))
        .collect();
    let slots =
        ironbpf_isa::slots_from_bytes(&prog.insns).map_err(|e| err("verify", e.to_string()))?;
    ironbpf_verifier::verify(&slots, &opts)
        .result
        .map_err(|rej| err("verify", format!("ironbpf's verifier refuses it: {rej}")))
}
