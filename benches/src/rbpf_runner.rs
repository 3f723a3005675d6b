//! The `rbpf` runners: the rbpf crate's interpreter and its x86-64 JIT on the VM suite.
//!
//! `EbpfVmRaw` gives r1 = the input memory, which is the VM suite's contract.

use crate::vm_suite::{vm_program, VmMemory};
use crate::{BenchError, Runner};

/// Which of rbpf's engines runs the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbpfMode {
    /// rbpf's interpreter (checks every memory access).
    Interpreter,
    /// rbpf's x86-64 JIT (no runtime memory checks).
    Jit,
}

/// Runs one VM-suite program with rbpf, on its own copy of the program's input memory.
pub struct RbpfRunner {
    program: &'static str,
    mode: RbpfMode,
    vm: rbpf::EbpfVmRaw<'static>,
    mem: VmMemory,
    compile_time: Option<std::time::Duration>,
}

impl std::fmt::Debug for RbpfRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbpfRunner")
            .field("program", &self.program)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn rbpf_error(program: &str, stage: &'static str, err: std::io::Error) -> BenchError {
    BenchError::Rbpf {
        program: program.to_string(),
        stage,
        message: err.to_string(),
    }
}

impl RbpfRunner {
    /// Prepares the VM-suite program `name` for rbpf in `mode`.
    ///
    /// rbpf's own verifier checks the instructions. For [`RbpfMode::Jit`] the program is
    /// first run once by rbpf's interpreter on the same input: its bounds-checked
    /// accesses stand in for the memory checks the JIT does not make, and its r0 must
    /// equal the JIT's at run time.
    pub fn new(name: &str, mode: RbpfMode) -> Result<Self, BenchError> {
        let prog = vm_program(name)?;
        let mut vm =
            rbpf::EbpfVmRaw::new(Some(prog.insns)).map_err(|e| rbpf_error(prog.name, "load", e))?;
        let mut mem = VmMemory::for_program(prog.name);
        let mut compile_time = None;
        if mode == RbpfMode::Jit {
            vm.execute_program(mem.as_mut_slice())
                .map_err(|e| rbpf_error(prog.name, "interpreter pre-run", e))?;
            let started = std::time::Instant::now();
            vm.jit_compile()
                .map_err(|e| rbpf_error(prog.name, "jit_compile", e))?;
            compile_time = Some(started.elapsed());
            mem = VmMemory::for_program(prog.name);
        }
        Ok(RbpfRunner {
            program: prog.name,
            mode,
            vm,
            mem,
            compile_time,
        })
    }

    /// The engine this runner uses.
    pub fn mode(&self) -> RbpfMode {
        self.mode
    }
}

impl Runner for RbpfRunner {
    fn runner_name(&self) -> &'static str {
        match self.mode {
            RbpfMode::Interpreter => "rbpf-interp",
            RbpfMode::Jit => "rbpf-jit",
        }
    }

    fn program(&self) -> &str {
        self.program
    }

    /// `jit_compile`'s time for [`RbpfMode::Jit`]; the interpreter has no such step.
    fn compile_time(&self) -> Option<std::time::Duration> {
        self.compile_time
    }

    fn run(&mut self) -> Result<u64, BenchError> {
        match self.mode {
            RbpfMode::Interpreter => self
                .vm
                .execute_program(self.mem.as_mut_slice())
                .map_err(|e| rbpf_error(self.program, "execute_program", e)),
            RbpfMode::Jit => {
                // SAFETY: the JIT code makes no memory checks. It is our own VM-suite
                // program, on the very input `new` ran it on under rbpf's bounds-checked
                // interpreter (the programs are deterministic, so the same addresses are
                // touched), and rbpf's verifier accepted it; `mem` is borrowed mutably
                // for the call, so nothing aliases it.
                unsafe { self.vm.execute_program_jit(self.mem.as_mut_slice()) }
                    .map_err(|e| rbpf_error(self.program, "execute_program_jit", e))
            }
        }
    }
}
