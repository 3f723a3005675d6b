//! [`Runtime`]: which engine runs programs and with what budget; and
//! [`Instance`]: a linked, verified program ready to run on many threads.

use super::error::{pc_of, Error};
use super::program::line_of;
use crate::engine::run_ctx_into;
use crate::progtype::{AttachType, ProgTypeDesc};
use crate::testrun::{self, TestRun, TestRunOutput};
use crate::{Engine, RunState, VmError};
use ironbpf_loader::LineInfo;
use ironbpf_maps::{Map, MapSet};
use std::sync::Arc;

/// Which engine runs the programs and how: the interpreter or the JIT
/// (x86-64, checked mode: every memory access tested, the budget charged,
/// with the interpreter's results and errors), an instruction budget, a
/// CPU slot.
#[derive(Clone, Copy, Debug)]
pub struct Runtime {
    pub(crate) jit: bool,
    pub(crate) trusted: bool,
    pub(crate) privileged: bool,
    pub(crate) budget: u64,
    pub(crate) cpu: u32,
    pub(crate) harden: bool,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::interpreter()
    }
}

impl Runtime {
    /// The interpreter, with a budget of 10 million instructions a run.
    pub fn interpreter() -> Runtime {
        Runtime {
            jit: false,
            trusted: false,
            privileged: true,
            budget: crate::Options::default().budget,
            cpu: 0,
            harden: false,
        }
    }

    /// The JIT in checked mode, with a budget of 10 million instructions.
    pub fn jit() -> Runtime {
        Runtime {
            jit: true,
            ..Self::interpreter()
        }
    }

    /// The JIT in trusted mode: no run-time checks at all (no access
    /// tests, no budget), for verified programs only
    /// ([`super::Linker::instantiate_unverified`] refuses it).
    ///
    /// # Safety
    ///
    /// The verifier's proof is all that keeps a program inside its stack,
    /// context, packet and map values, and finite: a program it wrongly
    /// accepted could read or write any memory of the host. ironbpf's
    /// verifier re-implements the kernel's and is checked against it, but
    /// the caller takes on the risk of a verifier bug.
    pub unsafe fn jit_trusted() -> Runtime {
        Runtime {
            jit: true,
            trusted: true,
            budget: u64::MAX,
            ..Self::interpreter()
        }
    }

    /// Instructions one run may execute before it is stopped with an error
    /// (`u64::MAX`: no limit, for verified programs only).
    pub fn budget(mut self, budget: u64) -> Runtime {
        self.budget = budget;
        self
    }

    /// Verifies programs as the kernel verifies an unprivileged loader's
    /// (no CAP_BPF): among the rest, no pointer may reach a host helper's
    /// [`super::Arg::Scalar`] argument or the return value, and no loop
    /// (back-edge) is allowed. By default programs are verified as a
    /// loader with CAP_BPF and CAP_PERFMON (bounded loops, pointers passed
    /// as numbers).
    pub fn unprivileged(mut self) -> Runtime {
        self.privileged = false;
        self
    }

    /// The CPU slot runs use (`bpf_get_smp_processor_id`, per-CPU maps).
    pub fn cpu(mut self, cpu: u32) -> Runtime {
        self.cpu = cpu;
        self
    }

    /// The JIT's code with its constants blinded, as the kernel's
    /// `bpf_jit_harden` does: no immediate of the program appears in the
    /// code (each is emitted as `imm ^ key` and `key`, fresh keys per
    /// program), at the cost of two more instructions per immediate.
    /// Results are unchanged; the interpreter ignores it.
    pub fn harden(mut self) -> Runtime {
        self.harden = true;
        self
    }

    /// Whether the JIT's constants are blinded ([`Runtime::harden`]).
    pub fn is_hardened(&self) -> bool {
        self.harden
    }

    /// Whether it is the trusted JIT ([`Runtime::jit_trusted`]).
    pub fn is_trusted(&self) -> bool {
        self.trusted
    }

    /// Whether it is the JIT.
    pub fn is_jit(&self) -> bool {
        self.jit
    }
}

pub(crate) struct Inner {
    pub(crate) engine: Box<dyn Engine>,
    pub(crate) desc: Arc<ProgTypeDesc>,
    pub(crate) attach: Option<AttachType>,
    pub(crate) maps: Arc<MapSet>,
    pub(crate) lines: Vec<LineInfo>,
    pub(crate) name: String,
    pub(crate) verified: bool,
}

/// A program linked to a [`super::Linker`]'s helpers and maps, verified
/// (unless made by [`super::Linker::instantiate_unverified`]) and prepared
/// on an engine. Cloning is cheap (a reference count); an instance is
/// `Send + Sync`, and any number of threads may run it at once: each run
/// has its own registers and stack, and shares only the maps.
#[derive(Clone)]
pub struct Instance {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Instance({} on {}, type {})",
            self.inner.name,
            self.inner.engine.name(),
            self.inner.desc.name
        )
    }
}

impl Instance {
    fn err(&self, e: VmError) -> Error {
        let insn = pc_of(&e);
        Error::Run {
            insn,
            line: insn.and_then(|i| line_of(&self.inner.lines, i)),
            error: Box::new(e),
        }
    }

    /// Runs the program with r1 pointing to `ctx`, the program type's
    /// context struct (at least its size); the program may change the
    /// fields its type lets it write. Returns r0.
    pub fn run(&self, ctx: &mut [u8]) -> Result<u64, Error> {
        self.run_with_packet(ctx, None).map(|(r0, _)| r0)
    }

    /// Like [`Instance::run`], for a type with packet fields
    /// ([`super::ProgramType::field_packet`]): their loads give `packet`'s
    /// bounds, and the program may read and write its bytes. Returns r0
    /// and the run's final state (the redirect verdict, packet bounds a
    /// helper moved).
    pub fn run_with_packet(
        &self,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
    ) -> Result<(u64, RunState), Error> {
        let mut state = RunState::default();
        let r0 = run_ctx_into(
            self.inner.engine.as_ref(),
            &self.inner.desc,
            self.inner.attach,
            ctx,
            packet,
            Some(self.inner.maps.as_ref()),
            Some(&mut state),
        )
        .map_err(|e| self.err(e))?;
        Ok((r0, state))
    }

    /// Runs an XDP or skb program on the packet `data` (from its Ethernet
    /// header) as the kernel's `BPF_PROG_TEST_RUN` lays it out: with its
    /// headroom, the context the kernel builds, the packet as the program
    /// left it.
    pub fn test_run(&self, data: &[u8]) -> Result<TestRunOutput, Error> {
        let run = TestRun {
            data,
            attach_type: self.inner.attach,
            ..TestRun::default()
        };
        testrun::run(
            self.inner.engine.as_ref(),
            &self.inner.desc,
            &run,
            Some(self.inner.maps.as_ref()),
        )
        .map_err(|e| self.err(e))
    }

    /// The map with linker id `id` (the host usually asks the linker by
    /// name: [`super::Linker::get_map`]).
    pub fn map_by_id(&self, id: u32) -> Option<Arc<dyn Map>> {
        self.inner.maps.get(id)
    }

    /// The engine's name: `interp`, `jit-checked` or `jit` (trusted).
    pub fn engine_name(&self) -> &'static str {
        self.inner.engine.name()
    }

    /// Whether the verifier accepted the program (false for
    /// [`super::Linker::instantiate_unverified`]).
    pub fn is_verified(&self) -> bool {
        self.inner.verified
    }

    /// The program type's descriptor.
    pub fn program_type(&self) -> &ProgTypeDesc {
        &self.inner.desc
    }
}
