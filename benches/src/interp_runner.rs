//! The `ironbpf-interp` runner: ironbpf's own interpreter, in checked mode, on both
//! suites.
//!
//! - VM suite: the `.bin` instructions run with r1 = the program's input memory
//!   (`Interpreter::run_with_memory`), with no instruction budget (the 1 MiB programs
//!   execute tens of millions of instructions).
//! - Kernel suite: the object's XDP program (through `ironbpf-loader`) runs on an
//!   `xdp_md` context whose `data`/`data_end` are the bounds of the suite's packet
//!   (`Interpreter::run_ctx`), with the default options (the kernel's register checks
//!   and a 10 million instruction budget). As the kernel's `bpf_prog_run_xdp`, the
//!   verdict is the low 32 bits of r0.

use std::time::{Duration, Instant};

use ironbpf_isa::Program;
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{progtype, HelperRegistry, Interpreter, Options, ProgType};

use crate::kernel_suite::{kernel_packet, kernel_program};
use crate::vm_suite::{vm_program, VmMemory};
use crate::{BenchError, Runner};

pub(crate) enum Input {
    /// VM suite: r1 = this memory.
    Memory(VmMemory),
    /// Kernel suite: an XDP context over this packet.
    Xdp {
        prog_type: &'static ProgType,
        ctx: Vec<u8>,
        packet: Vec<u8>,
    },
}

/// ironbpf's checked interpreter on one program of the VM or the kernel suite.
pub struct InterpRunner {
    pub(crate) program: &'static str,
    pub(crate) vm: Interpreter,
    pub(crate) input: Input,
    pub(crate) prepare_time: Duration,
    /// The object's maps, for programs that use them.
    pub(crate) loaded: Option<LoadedObject>,
}

impl std::fmt::Debug for InterpRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterpRunner")
            .field("program", &self.program)
            .field("prepare_time", &self.prepare_time)
            .finish_non_exhaustive()
    }
}

pub(crate) fn interp_error(
    program: &str,
    stage: &'static str,
    message: impl ToString,
) -> BenchError {
    BenchError::Interp {
        program: program.to_string(),
        stage,
        message: message.to_string(),
    }
}

impl InterpRunner {
    /// Prepares the VM-suite program `name`: decoded, checked and pre-decoded for the
    /// interpreter, with its own copy of the input memory.
    pub fn vm(name: &str) -> Result<Self, BenchError> {
        let prog = vm_program(name)?;
        let started = Instant::now();
        let code =
            Program::from_bytes(prog.insns).map_err(|e| interp_error(prog.name, "decode", e))?;
        let vm = Interpreter::new(
            &code,
            &HelperRegistry::new(),
            Options {
                budget: u64::MAX,
                ..Options::default()
            },
        )
        .map_err(|e| interp_error(prog.name, "prepare", e))?;
        let prepare_time = started.elapsed();
        Ok(InterpRunner {
            loaded: None,
            program: prog.name,
            vm,
            input: Input::Memory(VmMemory::for_program(prog.name)),
            prepare_time,
        })
    }

    /// Prepares the kernel-suite program `name` from its committed object.
    ///
    /// The object's maps are created in ironbpf's runtime (`LoadedObject`), so
    /// that the programs that use maps (`hash_counters`, `array_sum`) run too.
    pub fn kernel(name: &str) -> Result<Self, BenchError> {
        let p = kernel_program(name)?;
        let obj = ironbpf_loader::load_bytes(p.object, &ironbpf_loader::LoadOptions::default())
            .map_err(|e| interp_error(p.name, "load object", e))?;
        let prog = obj
            .programs
            .iter()
            .find(|q| q.name == p.name)
            .ok_or_else(|| interp_error(p.name, "load object", "no program of that name"))?;
        let prog_type = progtype::by_kernel_id(prog.prog_type).ok_or_else(|| {
            interp_error(
                p.name,
                "prepare",
                format!(
                    "program type {} has no context descriptor",
                    prog.prog_type_name
                ),
            )
        })?;
        let started = Instant::now();
        let name = prog.name.clone();
        // The object's maps in ironbpf's runtime, with the map helpers.
        let loaded = LoadedObject::new(obj, &HelperRegistry::new())
            .map_err(|e| interp_error(p.name, "create maps", e))?;
        let (vm, _) = loaded
            .interpreter(&name, Options::default())
            .map_err(|e| interp_error(p.name, "prepare", format!("cannot run it: {e}")))?;
        let prepare_time = started.elapsed();
        Ok(InterpRunner {
            loaded: Some(loaded),
            program: p.name,
            vm,
            input: Input::Xdp {
                prog_type,
                ctx: vec![0u8; prog_type.ctx_size as usize],
                packet: kernel_packet(p.name)?,
            },
            prepare_time,
        })
    }
}

impl Runner for InterpRunner {
    fn runner_name(&self) -> &'static str {
        "ironbpf-interp"
    }

    fn program(&self) -> &str {
        self.program
    }

    fn run(&mut self) -> Result<u64, BenchError> {
        let result = match &mut self.input {
            Input::Memory(mem) => self.vm.run_with_memory(mem.as_mut_slice()),
            Input::Xdp {
                prog_type,
                ctx,
                packet,
            } => self
                .vm
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

    /// Decoding, the kernel-like load checks and pre-decoding into the interpreter's ops.
    fn compile_time(&self) -> Option<Duration> {
        Some(self.prepare_time)
    }
}
