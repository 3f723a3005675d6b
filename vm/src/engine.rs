//! One engine API for the interpreter and the JIT.
//!
//! An [`Engine`] is a program prepared for running: the [`Interpreter`]
//! (pre-decoded ops, run by a dispatch loop) or a [`JitProgram`] (the same
//! pre-decoded ops compiled to x86-64 by `ironbpf-jit`, in checked or
//! trusted mode). Both take the same inputs and give the same results and
//! errors; the safe entry points ([`Engine::run_with_memory`],
//! [`Engine::run_ctx`], [`crate::testrun::run`]) build the run's memory
//! from slices, and only [`Engine::run_with_state`] takes a region table
//! built from raw addresses, behind `unsafe`.
//!
//! The instruction budget ([`Options::budget`]) counts slots executed (an
//! `ld_imm64` counts two), charged when control leaves a straight-line run
//! (a taken jump, a call, an `exit`); a run is stopped at the first such
//! transfer after which more than `budget` slots have executed, with
//! [`VmError::BudgetExhausted`] naming that instruction. Both engines charge
//! the same slots at the same instructions.
//!
//! Under the JIT, whatever needs Rust (helper calls, `callx`, inline map
//! lookups, `ld_abs`/`ld_ind`, the fetching `or`/`and`/`xor` atomics) goes
//! through the JIT's trampoline to the runtime here, which runs it with the
//! interpreter's code; callbacks that helpers make (`bpf_loop`,
//! `bpf_for_each_map_elem`) re-enter the compiled code at their
//! subprogram, in a frame below the caller's, sharing the run's budget.

use crate::error::VmError;
use crate::interp::{
    atomic, fresh_box, helper_failed, ld_packet, zero_first_frame, CtxView, Interpreter, Options,
    RunMemory, StackView, STACK, STACK_BYTES,
};
use crate::progtype::ProgType;
use ironbpf_helpers::{Callbacks, HelperCtx, HelperError, RunState};
use ironbpf_isa::abi::{Access, MemoryRegion, RegionKind, RegionResolver, RegionTable};
use ironbpf_isa::opcode::{MAX_BPF_STACK, MAX_CALL_FRAMES};
use ironbpf_jit::{err, status, Facts, JitCode, JitCtx, JitInsn, Mode};
use ironbpf_progtype::desc::CtxYield;
use ironbpf_progtype::AttachType;

/// A program ready to run on some engine.
pub trait Engine: Send + Sync {
    /// The engine's name for reports: `interp`, `jit`, `jit-checked`.
    fn name(&self) -> &'static str;

    /// The pre-decoded program (its options, helpers and maps).
    fn interpreter(&self) -> &Interpreter;

    /// The options the program runs with.
    fn options(&self) -> &Options {
        self.interpreter().options()
    }

    /// Runs this program alone from its first instruction (a tail call it
    /// takes is left in `state.tail_call`); `spent` is the budget used
    /// before, and after when the run returns normally.
    ///
    /// # Safety
    ///
    /// As for [`Engine::run_with_state`].
    unsafe fn run_one(
        &self,
        args: &[u64; 5],
        memory: &RunMemory<'_>,
        state: &mut RunState,
        spent: &mut u64,
    ) -> Result<u64, VmError>;

    /// Runs the program with r1-r5 = `args` and then the programs its tail
    /// calls name.
    ///
    /// # Safety
    ///
    /// Every region of `memory` (and every map value its resolver gives)
    /// must be live for the whole run, and writable ones must not be read or
    /// written through any Rust reference during it. If `state.packet` is
    /// set, its buffer must be live and writable for the run too, and
    /// `memory` must hold its bounds (or `memory.packet_gen` differ from
    /// `state.packet_gen`).
    unsafe fn run_with_state(
        &self,
        args: &[u64; 5],
        memory: &RunMemory<'_>,
        state: &mut RunState,
    ) -> Result<u64, VmError> {
        let mut spent = 0;
        let r = match self.run_one(args, memory, state, &mut spent) {
            Ok(r0) if state.tail_call.is_none() => Ok(r0),
            Ok(_) => run_tail_calls(memory, state, &mut spent),
            Err(e) => Err(e),
        };
        // SAFETY: the run's memory is live until this returns (the contract
        // above), so the lock words it took still are.
        match unsafe { state.release_spin_locks() } {
            Some(addr) if r.is_ok() => Err(VmError::SpinLockHeldAtExit { addr }),
            _ => r,
        }
    }

    /// Runs with `mem` as the input memory: r1 = its address, r2 = its
    /// length (bpf_conformance's convention; r1 = r2 = 0 for an empty one).
    fn run_with_memory(&self, mem: &mut [u8]) -> Result<u64, VmError>
    where
        Self: Sized,
    {
        self.run_memory(mem)
    }

    /// [`Engine::run_with_memory`] through a `dyn Engine`: the default is
    /// compiled for each engine, so that the whole run (region table, state,
    /// the engine's entry) inlines into one function with no dynamic call.
    fn run_memory(&self, mem: &mut [u8]) -> Result<u64, VmError> {
        memory_run(self, mem)
    }

    /// [`run_ctx_into`]'s shortcut for engines that can run on a context
    /// without a region table or run state: `None`, having run nothing,
    /// when this engine cannot (the default).
    fn run_ctx_lean(
        &self,
        _prog_type: &ProgType,
        _ctx: &mut [u8],
        _packet: Option<&mut [u8]>,
    ) -> Option<Result<u64, VmError>> {
        None
    }

    /// Runs as a program of type `prog_type` on `ctx` and `packet` (see
    /// [`Interpreter::run_ctx`]).
    fn run_ctx(
        &self,
        prog_type: &ProgType,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
        resolver: Option<&dyn RegionResolver>,
    ) -> Result<u64, VmError>
    where
        Self: Sized,
    {
        run_ctx_into(self, prog_type, None, ctx, packet, resolver, None)
    }
}

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn interpreter(&self) -> &Interpreter {
        self
    }

    unsafe fn run_one(
        &self,
        args: &[u64; 5],
        memory: &RunMemory<'_>,
        state: &mut RunState,
        spent: &mut u64,
    ) -> Result<u64, VmError> {
        self.run_top(args, memory, state, spent)
    }
}

/// The programs that tail calls name, one after the other, on the engine
/// each was stored as, until one returns without a tail call.
#[cold]
unsafe fn run_tail_calls(
    memory: &RunMemory<'_>,
    state: &mut RunState,
    spent: &mut u64,
) -> Result<u64, VmError> {
    loop {
        let Some(tc) = state.tail_call.take() else {
            return Err(VmError::Setup("no tail call is pending".into()));
        };
        let next: &dyn Engine = if let Some(i) = tc.prog.downcast_ref::<Interpreter>() {
            i
        } else if let Some(j) = tc.prog.downcast_ref::<JitProgram>() {
            j
        } else if let Some(b) = tc.prog.downcast_ref::<Box<dyn Engine>>() {
            b.as_ref()
        } else {
            return Err(VmError::Setup(
                "the program array holds an object that is not an ironbpf engine (Interpreter, JitProgram or Box<dyn Engine>)".into(),
            ));
        };
        // SAFETY: the same memory and state as the caller's run.
        let r0 = unsafe { next.run_one(&[tc.ctx, 0, 0, 0, 0], memory, state, spent)? };
        if state.tail_call.is_none() {
            return Ok(r0);
        }
    }
}

/// [`Engine::run_with_memory`] on any engine.
pub fn run_with_memory(engine: &dyn Engine, mem: &mut [u8]) -> Result<u64, VmError> {
    engine.run_memory(mem)
}

#[inline(always)]
fn memory_run<E: Engine + ?Sized>(engine: &E, mem: &mut [u8]) -> Result<u64, VmError> {
    // Built in place: the table is the largest part of a short run's setup.
    let mut memory = RunMemory {
        regions: RegionTable::new(),
        resolver: None,
        ctx: None,
        packet_gen: 0,
    };
    let (r1, r2) = if mem.is_empty() {
        (0, 0)
    } else {
        let region = MemoryRegion {
            start: mem.as_mut_ptr() as u64,
            len: mem.len() as u64,
            kind: RegionKind::Memory,
            writable: true,
        };
        memory
            .regions
            .insert(region)
            .map_err(|r| VmError::Setup(format!("input memory overlaps {r}")))?;
        (mem.as_mut_ptr() as u64, mem.len() as u64)
    };
    let mut state = engine.interpreter().new_state(&memory, r1);
    // SAFETY: the table holds only `mem`, borrowed mutably for the run.
    unsafe { engine.run_with_state(&[r1, r2, 0, 0, 0], &memory, &mut state) }
}

/// [`Engine::run_ctx`] on any engine, leaving the final state in `out` if
/// given.
pub fn run_ctx_into(
    engine: &dyn Engine,
    prog_type: &ProgType,
    attach_type: Option<AttachType>,
    ctx: &mut [u8],
    packet: Option<&mut [u8]>,
    resolver: Option<&dyn RegionResolver>,
    out: Option<&mut RunState>,
) -> Result<u64, VmError> {
    if ctx.len() < prog_type.ctx_size as usize {
        return Err(VmError::Setup(format!(
            "the {} context is {} bytes; it must be at least {} (its uapi struct)",
            prog_type.name,
            ctx.len(),
            prog_type.ctx_size
        )));
    }
    let mut packet = packet;
    if out.is_none() {
        if let Some(r) = engine.run_ctx_lean(prog_type, ctx, packet.as_deref_mut()) {
            return r;
        }
    }
    let mut regions = RegionTable::new();
    let ctx_start = ctx.as_mut_ptr() as u64;
    let region = |start: u64, len: usize, kind| MemoryRegion {
        start,
        len: len as u64,
        kind,
        writable: true,
    };
    regions
        .insert(region(ctx_start, ctx.len(), RegionKind::Context))
        .map_err(|r| VmError::Setup(format!("the context overlaps {r}")))?;
    let (data, data_end) = match packet {
        Some(p) if !p.is_empty() => {
            let start = p.as_mut_ptr() as u64;
            regions
                .insert(region(start, p.len(), RegionKind::Packet))
                .map_err(|r| VmError::Setup(format!("the packet overlaps {r}")))?;
            (start, start + p.len() as u64)
        }
        _ => (0, 0),
    };
    let memory = RunMemory {
        regions,
        resolver,
        ctx: Some(CtxView {
            prog_type,
            attach_type,
            start: ctx_start,
            data,
            data_end,
            data_meta: data,
        }),
        packet_gen: 0,
    };
    let mut state = engine.interpreter().new_state(&memory, ctx_start);
    // SAFETY: the table holds only `ctx` and `packet`, borrowed mutably for
    // the whole run; a resolver gives map values, which live as long as
    // their maps.
    let r0 = unsafe { engine.run_with_state(&[ctx_start, 0, 0, 0, 0], &memory, &mut state) };
    if let Some(out) = out {
        *out = state;
    }
    r0
}

/// A program compiled to x86-64: checked (every access tested, the budget
/// charged), trusted (no checks, see [`JitProgram::trusted`]) or verified
/// (no checks, shaped by the verifier's proof, see [`JitProgram::verified`]).
pub struct JitProgram {
    interp: Interpreter,
    code: JitCode,
    /// The last context type whose pointer fields trusted code was found
    /// able to convert (null: none yet).
    ctx_checked: std::sync::atomic::AtomicPtr<ProgType>,
    /// Verified code: the main function's stack depth in the proof (the
    /// bytes below r10 it may touch), the part of the first frame a run
    /// zeroes.
    main_stack_depth: Option<u32>,
    /// The first context type a direct context run met, and its packet
    /// pointer fields' offsets ([`ptr_field_offsets`]).
    ctx_ptr_offs: std::sync::OnceLock<(usize, [u64; 3])>,
    /// Verified code compiled for one context layout
    /// ([`JitProgram::verified_for`]): its packet pointer fields' offsets.
    /// It runs only on contexts with those.
    compiled_ctx: Option<[u64; 3]>,
    /// The context type [`JitProgram::run_ctx_quick`] may run on (null:
    /// none yet): trusted or verified code that never calls the runtime,
    /// after a full run on this type found it good.
    quick_type: std::sync::atomic::AtomicPtr<ProgType>,
    /// The direct entry [`JitProgram::run_memory_direct`] calls: code with
    /// a direct entry, no stack and no compiled context layout (`None`:
    /// none of that), found once so that its hot path loads one pointer.
    mem_direct: Option<ironbpf_jit::DirectFn>,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JitProgram({:?})", self.code)
    }
}

/// How the JIT compiles a program, beyond its mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitOptions {
    /// Constant blinding, as the kernel's `bpf_jit_harden`: no immediate
    /// of the program appears in the code (see
    /// [`ironbpf_jit::CompileOptions::harden`]); results are unchanged.
    pub harden: bool,
    /// The blinding keys' seed; `None` (the default) draws a fresh one per
    /// program. A fixed seed is for tests that compare code.
    pub blinding_seed: Option<u64>,
}

impl JitOptions {
    /// Constant blinding on, with fresh keys per program.
    pub fn hardened() -> JitOptions {
        JitOptions {
            harden: true,
            blinding_seed: None,
        }
    }
}

impl JitProgram {
    /// Compiles `interp`'s program in checked mode: safe for any program,
    /// with the interpreter's errors.
    pub fn checked(interp: Interpreter) -> Result<JitProgram, VmError> {
        Self::checked_with(interp, JitOptions::default())
    }

    /// [`JitProgram::checked`] with `opts` (constant blinding).
    pub fn checked_with(interp: Interpreter, opts: JitOptions) -> Result<JitProgram, VmError> {
        Self::compile_with(interp, Mode::Checked, &Facts::none(), opts)
    }

    /// Compiles `interp`'s program with no checks at all.
    ///
    /// # Safety
    ///
    /// Every run of the program must touch only its stack (one frame per
    /// call, at most 8 deep), the run's regions and map values, and must
    /// terminate: a verifier must have proven it. Nothing is checked at run
    /// time.
    pub unsafe fn trusted(interp: Interpreter) -> Result<JitProgram, VmError> {
        // SAFETY: the caller's contract is this function's.
        unsafe { Self::trusted_with(interp, JitOptions::default()) }
    }

    /// [`JitProgram::trusted`] with `opts` (constant blinding).
    ///
    /// # Safety
    ///
    /// As for [`JitProgram::trusted`].
    pub unsafe fn trusted_with(
        interp: Interpreter,
        opts: JitOptions,
    ) -> Result<JitProgram, VmError> {
        Self::compile_with(interp, Mode::Trusted, &Facts::none(), opts)
    }

    /// Compiles `interp`'s program for the verifier's proof `proof` of it:
    /// no runtime checks, the instructions no path reaches left out, the
    /// branches the verifier decided resolved and the constant ALU results
    /// folded.
    ///
    /// `proof` must be what `ironbpf_verifier::verify` returned for this
    /// very program (the same instructions, program type and maps): it is
    /// the verifier's word that every run is safe. Only the verifier makes
    /// a `VerifiedProgram`, and a proof of other instructions (another
    /// length or other bytes) is refused.
    pub fn verified(
        interp: Interpreter,
        proof: &ironbpf_jit::VerifiedProgram,
    ) -> Result<JitProgram, VmError> {
        Self::verified_with(interp, proof, JitOptions::default())
    }

    /// [`JitProgram::verified`] with `opts` (constant blinding).
    pub fn verified_with(
        interp: Interpreter,
        proof: &ironbpf_jit::VerifiedProgram,
        opts: JitOptions,
    ) -> Result<JitProgram, VmError> {
        if !proof.proves(&interp.slots) {
            return Err(VmError::Setup(format!(
                "the verifier's proof covers {} slots of other instructions; the program has {} slots: verify this very program and pass its proof",
                proof.len(),
                interp.slots.len()
            )));
        }
        let mut p = Self::compile_with(interp, Mode::Verified, &Facts::from_verified(proof), opts)?;
        p.main_stack_depth = proof.stack_depths().first().copied();
        Ok(p)
    }

    /// [`JitProgram::verified_with`] for runs on contexts of `prog_type`
    /// only (the type the proof was made for): a load the verifier's
    /// typing rules show reads the context at a known offset reads its
    /// field (a packet pointer field's address) with no runtime test, and
    /// one that cannot read the context loads directly, as the kernel's
    /// rewritten context accesses do. A run on another context type or on
    /// plain memory is refused.
    pub fn verified_for(
        interp: Interpreter,
        proof: &ironbpf_jit::VerifiedProgram,
        prog_type: &ProgType,
        opts: JitOptions,
    ) -> Result<JitProgram, VmError> {
        if !proof.proves(&interp.slots) {
            return Err(VmError::Setup(format!(
                "the verifier's proof covers {} slots of other instructions; the program has {} slots: verify this very program and pass its proof",
                proof.len(),
                interp.slots.len()
            )));
        }
        let fields = ptr_field_offsets(prog_type);
        let mut p = Self::compile_for(
            interp,
            Mode::Verified,
            &Facts::from_verified(proof),
            opts,
            Some(fields),
        )?;
        p.main_stack_depth = proof.stack_depths().first().copied();
        Ok(p)
    }

    /// Refuses a run of code compiled for a context layout
    /// ([`JitProgram::verified_for`]) on another layout (`None`: plain
    /// memory).
    fn check_compiled_ctx(&self, prog_type: Option<&ProgType>) -> Result<(), VmError> {
        let Some(want) = self.compiled_ctx else {
            return Ok(());
        };
        let Some(t) = prog_type else {
            return Err(VmError::Setup(
                "this verified code was compiled for a program type's context; run it on a context (run_ctx), not on plain memory".into(),
            ));
        };
        let got = match self.ctx_ptr_offs.get() {
            Some(&(p, o)) if p == t as *const ProgType as usize => o,
            _ => ptr_field_offsets(t),
        };
        if got != want {
            return Err(VmError::Setup(format!(
                "this verified code was compiled for another program type's context, whose packet pointer fields are not where the {} context has them",
                t.name
            )));
        }
        Ok(())
    }

    /// The engine's pre-decoded program as the JIT takes it (for compile
    /// benches and tools that call `ironbpf_jit::compile` themselves).
    pub fn jit_insns(interp: &Interpreter) -> Vec<JitInsn> {
        interp
            .ops
            .iter()
            .map(|o| JitInsn {
                code: o.code,
                dst: o.dst,
                src: o.src,
                aux: o.aux,
                off: o.off,
                imm: o.imm,
            })
            .collect()
    }

    fn compile_with(
        interp: Interpreter,
        mode: Mode,
        facts: &Facts,
        opts: JitOptions,
    ) -> Result<JitProgram, VmError> {
        Self::compile_for(interp, mode, facts, opts, None)
    }

    fn compile_for(
        interp: Interpreter,
        mode: Mode,
        facts: &Facts,
        opts: JitOptions,
        ctx_fields: Option<[u64; 3]>,
    ) -> Result<JitProgram, VmError> {
        let insns = Self::jit_insns(&interp);
        let arrays = inline_arrays(&interp);
        let lookups = lookup_calls(&interp);
        let code = ironbpf_jit::compile_with(
            &insns,
            &ironbpf_jit::CompileOptions {
                mode,
                budget: interp.options().budget,
                facts,
                arrays: &arrays,
                lookups: &lookups,
                harden: opts.harden,
                blinding_seed: opts.blinding_seed,
                // The load check refused any program that may read a
                // register outside `entry_regs` before writing it.
                written_before_read: if interp.options().check_registers {
                    !interp.options().entry_regs & 0x3ff
                } else {
                    0
                },
                ctx_ptr_fields: ctx_fields,
            },
        )
        .map_err(|e| VmError::Setup(format!("the JIT cannot compile the program: {e}")))?;
        let mem_direct = if interp.uses_stack || ctx_fields.is_some() {
            None
        } else {
            code.direct_entry()
        };
        Ok(JitProgram {
            interp,
            code,
            mem_direct,
            ctx_checked: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
            main_stack_depth: None,
            ctx_ptr_offs: std::sync::OnceLock::new(),
            compiled_ctx: ctx_fields,
            quick_type: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
        })
    }

    /// The compiled code (for disassembly).
    pub fn code(&self) -> &JitCode {
        &self.code
    }

    /// The mode it was compiled in.
    pub fn mode(&self) -> Mode {
        self.code.mode()
    }

    /// Whether its immediates are blinded ([`JitOptions::harden`]).
    pub fn hardened(&self) -> bool {
        self.code.hardened()
    }
}

impl Engine for JitProgram {
    fn name(&self) -> &'static str {
        match self.code.mode() {
            Mode::Checked => "jit-checked",
            Mode::Trusted => "jit",
            Mode::Verified => "jit-verified",
        }
    }

    fn interpreter(&self) -> &Interpreter {
        &self.interp
    }

    /// Code that never calls the runtime's trampoline runs on input memory
    /// without a region table or run state ([`JitProgram::run_lean`]); code
    /// with a direct entry and no stack is called straight from here (the
    /// rest is out of line, so that this inlines into the caller).
    #[inline(always)]
    fn run_memory(&self, mem: &mut [u8]) -> Result<u64, VmError> {
        match self.run_memory_direct(mem) {
            Some(r0) => Ok(r0),
            None => self.run_memory_slow(mem),
        }
    }

    /// Trusted and verified code that never calls the runtime runs
    /// without a region table or run state ([`JitProgram::run_ctx_direct`]):
    /// it reads nothing of them.
    fn run_ctx(
        &self,
        prog_type: &ProgType,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
        resolver: Option<&dyn RegionResolver>,
    ) -> Result<u64, VmError> {
        if self.code.mode() != Mode::Checked && !self.code.calls_exec() && self.code.has_direct() {
            return self.run_ctx_direct(prog_type, ctx, packet);
        }
        run_ctx_into(self, prog_type, None, ctx, packet, resolver, None)
    }

    fn run_ctx_lean(
        &self,
        prog_type: &ProgType,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
    ) -> Option<Result<u64, VmError>> {
        if self.code.mode() != Mode::Checked && !self.code.calls_exec() && self.code.has_direct() {
            return Some(self.run_ctx_direct(prog_type, ctx, packet));
        }
        None
    }

    unsafe fn run_one(
        &self,
        args: &[u64; 5],
        memory: &RunMemory<'_>,
        state: &mut RunState,
        spent: &mut u64,
    ) -> Result<u64, VmError> {
        if !self.interp.uses_stack {
            return self.run_jit(0, args, memory, state, None, spent);
        }
        let mut buf = STACK.with(|c| c.take()).unwrap_or_else(fresh_box);
        let top = buf.as_mut_ptr() as u64 + STACK_BYTES as u64;
        zero_first_frame(&mut buf);
        let stack = StackView {
            lo: top - MAX_BPF_STACK as u64,
            top,
            depth: 0,
        };
        let r = self.run_jit(0, args, memory, state, Some(stack), spent);
        STACK.with(|c| c.set(Some(buf)));
        r
    }
}

/// The program's maps whose lookups trusted and verified code calls
/// directly ([`ironbpf_maps::Map::direct_lookup`]: the hash maps).
fn lookup_calls(interp: &Interpreter) -> Vec<ironbpf_jit::LookupCall> {
    let mut out = Vec::new();
    for (i, m) in interp.maps.iter().enumerate() {
        if m.via_helper {
            continue;
        }
        if let Some(d) = m.map.direct_lookup() {
            out.push(ironbpf_jit::LookupCall {
                handle: interp.map_handle(i),
                func: d.func as usize as u64,
                obj: d.obj as u64,
            });
        }
    }
    out
}

/// The program's plain array maps whose lookups trusted and verified code
/// may compute inline: entry k's value at base + k * stride, which each
/// map's own lookups confirm at its first, second and last entries.
fn inline_arrays(interp: &Interpreter) -> Vec<ironbpf_jit::InlineArray> {
    let guard = ironbpf_maps::pin();
    let mut out = Vec::new();
    for (i, m) in interp.maps.iter().enumerate() {
        let spec = m.map.spec();
        if m.via_helper || spec.map_type != ironbpf_maps::BPF_MAP_TYPE_ARRAY || spec.key_size != 4 {
            continue;
        }
        let at = |k: u32| {
            m.map
                .lookup_ptr(&k.to_le_bytes(), 0, &guard)
                .map(|p| p.as_ptr() as u64)
        };
        let n = spec.max_entries;
        let Some(base) = at(0) else { continue };
        let stride = if n >= 2 {
            match at(1).and_then(|p| p.checked_sub(base)) {
                Some(s) => s,
                None => continue,
            }
        } else {
            0
        };
        let last = u64::from(n.saturating_sub(1));
        if n == 0
            || stride > u64::from(u32::MAX)
            || at(n - 1) != Some(base + last * stride)
            || at(n).is_some()
        {
            continue;
        }
        out.push(ironbpf_jit::InlineArray {
            handle: interp.map_handle(i),
            base,
            stride: stride as u32,
            max_entries: n,
        });
    }
    out
}

/// The runtime's side of one JIT run, behind [`JitCtx::runtime`].
struct JitRun<'r, 'm> {
    prog: &'r JitProgram,
    base: &'r RunMemory<'m>,
    /// The memory with the packet bounds a helper moved.
    owned: Option<RunMemory<'m>>,
    state: &'r mut RunState,
    stack_top: u64,
    error: Option<VmError>,
    /// The map value the last inline lookup returned.
    value_cache: (u64, u64, bool),
    guard: Option<ironbpf_maps::Guard>,
}

enum Flow {
    Continue,
    Stop(u64),
}

fn hot_of(memory: &RunMemory<'_>) -> (u64, u64, u64) {
    memory
        .regions
        .regions()
        .iter()
        .find(|r| r.kind != RegionKind::Context)
        .map_or((0, 0, 0), |r| {
            (r.start, r.len, if r.writable { r.len } else { 0 })
        })
}

impl JitProgram {
    /// Runs from slot `entry` in the frame `stack.lo..` (None: no stack)
    /// until its `exit`; `spent` as in [`Engine::run_one`].
    unsafe fn run_jit(
        &self,
        entry: usize,
        args: &[u64; 5],
        base: &RunMemory<'_>,
        state: &mut RunState,
        stack: Option<StackView>,
        spent: &mut u64,
    ) -> Result<u64, VmError> {
        if self.compiled_ctx.is_some() {
            self.check_compiled_ctx(base.ctx.map(|c| c.prog_type))?;
        }
        let moved = state.packet_gen != base.packet_gen;
        let (ctx_lo, ctx_len) = match base.ctx {
            None => (0, 0),
            Some(_) => base
                .regions
                .regions()
                .iter()
                .find(|r| r.kind == RegionKind::Context)
                .map_or((0, 0), |r| (r.start, r.len)),
        };
        // Trusted code sends only 4-byte loads to the context's slow path
        // (checked once per context type, remembered).
        let ctx_type = base
            .ctx
            .map_or(std::ptr::null(), |c| c.prog_type as *const ProgType);
        let known = self.ctx_checked.load(std::sync::atomic::Ordering::Relaxed) as *const ProgType;
        if ctx_type == known {
        } else if let Some(f) = base.ctx.and_then(|c| {
            c.prog_type.fields.iter().find(|f| {
                matches!(
                    f.yields,
                    CtxYield::PtrToPacket | CtxYield::PtrToPacketEnd | CtxYield::PtrToPacketMeta
                ) && f.read.is_some()
                    && f.len != 4
            })
        }) {
            if self.code.mode() != Mode::Checked {
                return Err(VmError::Unsupported {
                    pc: 0,
                    what: format!(
                        "trusted JIT code on a {} context, whose pointer field `{}` is {} bytes (the trusted JIT converts 4-byte pointer fields only)",
                        base.ctx.map_or("", |c| c.prog_type.name.as_str()),
                        f.name,
                        f.len
                    ),
                });
            }
        } else {
            self.ctx_checked.store(
                ctx_type as *mut ProgType,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        // Built in place (a moved packet's memory is rare and large).
        let mut run = JitRun {
            prog: self,
            base,
            owned: None,
            state,
            stack_top: stack.map_or(0, |s| s.top),
            error: None,
            value_cache: (1, 0, false),
            // Direct lookups' values stay valid while the run is pinned
            // ([`ironbpf_maps::DirectLookup`]'s contract).
            guard: self.code.direct_lookups().then(ironbpf_maps::pin),
        };
        if moved {
            run.owned = Some(base.with_packet(run.state));
        }
        let (hot_lo, hot_len_load, hot_len_store) = hot_of(run.memory());
        let mut regs = [0u64; 11];
        regs[1..6].copy_from_slice(args);
        let (stack_lo, stack_len) = match stack {
            Some(s) => {
                regs[10] = s.lo + MAX_BPF_STACK as u64;
                (s.lo, s.top - s.lo)
            }
            None => (0, 0),
        };
        let mut ctx = JitCtx {
            regs,
            ret: 0,
            saved_rsp: 0,
            stack_lo,
            stack_len,
            hot_lo,
            hot_len_load,
            hot_len_store,
            // The account starts a straight-line run at `entry`.
            spent: *spent as i64 - entry as i64,
            budget: self.interp.options().budget,
            depth: stack.map_or(0, |s| s.depth as u64),
            slow_value: 0,
            scratch: 0,
            err_kind: err::NONE,
            err_pc: 0,
            err_addr: 0,
            slow: jit_slow,
            exec: jit_exec,
            runtime: &mut run as *mut JitRun<'_, '_> as *mut std::ffi::c_void,
            ctx_lo,
            ctx_len,
            ptr_off: [u64::MAX; 3],
            ptr_val: [0; 3],
            hot_cnt_load: [0; 4],
            hot_cnt_store: [0; 4],
        };
        ctx.set_hot(hot_lo, hot_len_load, hot_len_store);
        if self.code.mode() != Mode::Checked {
            if let Some(c) = run.memory().ctx {
                set_ptr_fields(&mut ctx, &c);
            }
        }
        // SAFETY: ctx is valid for the call, the stack (if any) is the
        // run's 8-frame buffer with r10 at the top of its first frame, and
        // the memory the hot fields describe is live (the caller's
        // contract). Trusted code was compiled only through the unsafe
        // `JitProgram::trusted`, whose caller vouched for the program.
        let st = unsafe { self.code.enter(&mut ctx, entry) };
        if st == status::CONTINUE {
            if self.code.budgeted() {
                *spent = ctx.spent as u64;
            }
            return Ok(ctx.ret);
        }
        Err(jit_error(&ctx, run.error.take()))
    }

    /// Whether trusted code may run on a context of `prog_type`: it converts
    /// 4-byte packet pointer fields only (checked once per context type,
    /// remembered).
    fn ctx_type_ok(&self, prog_type: &ProgType) -> Result<(), VmError> {
        let ctx_type = prog_type as *const ProgType;
        let known = self.ctx_checked.load(std::sync::atomic::Ordering::Relaxed) as *const ProgType;
        if ctx_type == known {
            return Ok(());
        }
        if let Some(f) = prog_type.fields.iter().find(|f| {
            matches!(
                f.yields,
                CtxYield::PtrToPacket | CtxYield::PtrToPacketEnd | CtxYield::PtrToPacketMeta
            ) && f.read.is_some()
                && f.len != 4
        }) {
            if self.code.mode() != Mode::Checked {
                return Err(VmError::Unsupported {
                    pc: 0,
                    what: format!(
                        "trusted JIT code on a {} context, whose pointer field `{}` is {} bytes (the trusted JIT converts 4-byte pointer fields only)",
                        prog_type.name, f.name, f.len
                    ),
                });
            }
            return Ok(());
        }
        self.ctx_checked.store(
            ctx_type as *mut ProgType,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }

    /// [`Engine::run_ctx`] of trusted or verified code that never calls the
    /// runtime (no helper, no `ld_abs`, no callback), which has a direct
    /// entry: the code reads only the context's bounds and its packet
    /// pointer fields' addresses, and the frame bookkeeping of bpf-to-bpf
    /// calls, so no region table, run state or runtime is built. The
    /// stack's first frame is zeroed as for every run (a verified
    /// program's own depth of it: the proof says the main function
    /// touches no more).
    #[inline]
    fn run_ctx_direct(
        &self,
        prog_type: &ProgType,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
    ) -> Result<u64, VmError> {
        if ctx.len() < prog_type.ctx_size as usize {
            return Err(VmError::Setup(format!(
                "the {} context is {} bytes; it must be at least {} (its uapi struct)",
                prog_type.name,
                ctx.len(),
                prog_type.ctx_size
            )));
        }
        self.ctx_type_ok(prog_type)?;
        let offs = match self.ctx_ptr_offs.get() {
            Some(&(t, o)) if t == prog_type as *const ProgType as usize => o,
            _ => self.ctx_ptr_offs_slow(prog_type),
        };
        if self.compiled_ctx.is_some_and(|w| w != offs) {
            self.check_compiled_ctx(Some(prog_type))?;
        }
        // Everything run_ctx_quick needs to know of this type is known: the
        // code may run on it, and its offsets are the cached ones.
        if matches!(self.ctx_ptr_offs.get(), Some(&(t, _)) if t == prog_type as *const ProgType as usize)
        {
            self.quick_type.store(
                prog_type as *const ProgType as *mut ProgType,
                std::sync::atomic::Ordering::Release,
            );
        }
        Ok(self.ctx_run(ctx, packet, &offs))
    }

    /// [`Engine::run_ctx`]'s fast path alone, for hosts that run a small
    /// program on a context very often (as `BPF_PROG_TEST_RUN` with
    /// `repeat` does): trusted or verified code that never calls the
    /// runtime, on a context type it already ran on, runs straight from
    /// here and gives r0 (unconverted: an XDP action is its low 32 bits).
    /// `None`, having run nothing, for any other code or a first run on a
    /// type: run it with [`Engine::run_ctx`]. Nothing here returns an
    /// error, so a caller's hot path holds no [`VmError`].
    #[inline]
    pub fn run_ctx_quick(
        &self,
        prog_type: &ProgType,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
    ) -> Option<u64> {
        if ctx.len() < prog_type.ctx_size as usize
            || !std::ptr::eq(
                self.quick_type.load(std::sync::atomic::Ordering::Acquire),
                prog_type,
            )
        {
            return None;
        }
        let (_, offs) = self.ctx_ptr_offs.get()?;
        Some(self.ctx_run(ctx, packet, offs))
    }

    /// The run of [`JitProgram::run_ctx_direct`] once the context is known
    /// good for the code.
    #[inline(always)]
    fn ctx_run(&self, ctx: &mut [u8], packet: Option<&mut [u8]>, offs: &[u64; 3]) -> u64 {
        let (data, data_end) = match packet {
            Some(p) if !p.is_empty() => {
                let start = p.as_mut_ptr() as u64;
                (start, start + p.len() as u64)
            }
            _ => (0, 0),
        };
        let c = (ctx.as_mut_ptr() as u64, ctx.len() as u64);
        if !self.interp.uses_stack {
            return self.ctx_call(c, offs, [data, data_end, data], 0);
        }
        let mut b = STACK.with(|c| c.take()).unwrap_or_else(fresh_box);
        let top = b.as_mut_ptr() as u64 + STACK_BYTES as u64;
        match self.main_stack_depth {
            Some(d) => {
                let words = (d as usize).div_ceil(8).min(MAX_BPF_STACK / 8);
                if let Some(f) = b.get_mut(STACK_BYTES / 8 - words..) {
                    f.fill(0);
                }
            }
            None => zero_first_frame(&mut b),
        }
        let r0 = self.ctx_call(c, offs, [data, data_end, data], top);
        STACK.with(|c| c.set(Some(b)));
        r0
    }

    #[cold]
    fn ctx_ptr_offs_slow(&self, prog_type: &ProgType) -> [u64; 3] {
        let o = ptr_field_offsets(prog_type);
        let _ = self
            .ctx_ptr_offs
            .set((prog_type as *const ProgType as usize, o));
        o
    }

    /// The direct call of [`JitProgram::run_ctx_direct`]: r1 = the context
    /// `ctx` (start, length), r10 = `top` (0: no stack); the JitCtx, for
    /// code that reads one, holds only what such code reads.
    #[inline(always)]
    fn ctx_call(&self, ctx: (u64, u64), offs: &[u64; 3], vals: [u64; 3], top: u64) -> u64 {
        if !self.code.has_direct_ctx() {
            // The code reads no JitCtx at all.
            // SAFETY: trusted or verified code that never calls the runtime
            // (`run_ctx_lean` checked it) and has a direct entry; r1 is the
            // context, r10 the top of the thread's 8-frame stack buffer with
            // its first frame zeroed as far as the program reads it (or 0:
            // no stack); the context and the packet are borrowed mutably
            // for the run.
            return unsafe { self.code.call_direct(ctx.0, 0, top) }.unwrap_or(0);
        }
        let mut m = std::mem::MaybeUninit::<JitCtx>::uninit();
        let p = m.as_mut_ptr();
        let stack_lo = if top == 0 {
            0
        } else {
            top - MAX_BPF_STACK as u64
        };
        let stack_len = if top == 0 { 0 } else { MAX_BPF_STACK as u64 };
        // SAFETY: `p` points to the JitCtx-sized `m`; each field is written
        // through a raw pointer, no reference to the partly written struct
        // is made.
        unsafe {
            std::ptr::addr_of_mut!((*p).stack_lo).write(stack_lo);
            std::ptr::addr_of_mut!((*p).stack_len).write(stack_len);
            std::ptr::addr_of_mut!((*p).depth).write(0);
            std::ptr::addr_of_mut!((*p).ctx_lo).write(ctx.0);
            std::ptr::addr_of_mut!((*p).ctx_len).write(ctx.1);
            std::ptr::addr_of_mut!((*p).ptr_off).write(*offs);
            std::ptr::addr_of_mut!((*p).ptr_val).write(vals);
        }
        // SAFETY: as above; the code's context direct entry reads only the
        // fields written above (`call_direct_ctx`).
        unsafe { self.code.call_direct_ctx(ctx.0, p, top) }.unwrap_or(0)
    }

    /// [`Engine::run_with_memory`]'s fast path alone, for hosts that call
    /// a small program very often: code with a direct entry (trusted or
    /// verified code, or checked code that cannot fault) and no stack runs
    /// straight from here with r1, r2 = `mem`'s address and length, and
    /// gives r0. `None`, having run nothing, for any other code: run it
    /// with [`Engine::run_with_memory`]. Nothing here returns an error,
    /// so a caller's hot path holds no [`VmError`].
    #[inline(always)]
    pub fn run_memory_direct(&self, mem: &mut [u8]) -> Option<u64> {
        let f = self.mem_direct?;
        let (r1, r2) = if mem.is_empty() {
            (0, 0)
        } else {
            (mem.as_mut_ptr() as u64, mem.len() as u64)
        };
        // SAFETY: `f` is the code's direct entry (trusted or verified code,
        // compiled only through the unsafe `JitProgram::trusted` or from
        // the verifier's proof, or checked code that cannot fault, that
        // calls no trampoline), kept only for a program that uses no stack
        // and was compiled for no context layout; `self.code`, which maps
        // it, lives as long as `self`; r1, r2 are `mem`, borrowed mutably
        // here.
        Some(unsafe { f(r1, r2, 0) })
    }

    /// The program bound once to one buffer, for a host that runs it many
    /// times on memory it rewrites in place (a shared region, a ring
    /// slot): [`MemoryCall::run`] gives what [`Engine::run_with_memory`]
    /// gives, with the tests of the program and the buffer done here once.
    /// Code with a direct entry and no stack then runs with the call into
    /// the code alone; checked code that calls no trampoline, with its
    /// run context built here once.
    pub fn bind_memory<'a>(&'a self, mem: &'a mut [u8]) -> Result<MemoryCall<'a>, VmError> {
        self.check_compiled_ctx(None)?;
        let ptr = mem.as_mut_ptr();
        let len = mem.len();
        let r1 = if len == 0 { 0 } else { ptr as u64 };
        let kind = if let Some(f) = self.mem_direct {
            Bound::Direct(f)
        } else if self.code.has_direct() || self.code.calls_exec() {
            Bound::Engine
        } else {
            let mut regs = [0u64; 11];
            regs[1] = r1;
            regs[2] = len as u64;
            let mut stack = None;
            let mut frame = (0, 0);
            if self.interp.uses_stack {
                let mut b = fresh_box();
                let top = b.as_mut_ptr() as u64 + STACK_BYTES as u64;
                frame = (top - MAX_BPF_STACK as u64, MAX_BPF_STACK as u64);
                regs[10] = top;
                stack = Some(b);
            }
            let ctx = self.lean_ctx(regs, (r1, len as u64), frame, std::ptr::null_mut());
            Bound::Lean(Box::new(LeanCall {
                ctx,
                regs,
                stack,
                run: LeanRun {
                    prog: self,
                    error: None,
                },
            }))
        };
        Ok(MemoryCall {
            prog: self,
            kind,
            r1,
            ptr,
            len,
            _mem: std::marker::PhantomData,
        })
    }

    /// [`Engine::run_memory`] past its inline fast path.
    #[inline(never)]
    fn run_memory_slow(&self, mem: &mut [u8]) -> Result<u64, VmError> {
        self.check_compiled_ctx(None)?;
        if self.code.has_direct() {
            let (r1, r2) = if mem.is_empty() {
                (0, 0)
            } else {
                (mem.as_mut_ptr() as u64, mem.len() as u64)
            };
            return Ok(self.run_direct(r1, r2));
        }
        if self.code.calls_exec() {
            memory_run(self, mem)
        } else {
            self.run_lean(mem)
        }
    }

    /// Trusted or verified code that never calls the runtime, on input
    /// memory: a direct call into the code (the stack, if the program uses
    /// one, zeroed as for every run).
    #[inline]
    fn run_direct(&self, r1: u64, r2: u64) -> u64 {
        if !self.interp.uses_stack {
            // SAFETY: the code has a direct entry (trusted or verified code,
            // compiled only through the unsafe `JitProgram::trusted` or from
            // the verifier's proof, or checked code that cannot fault, that
            // calls no trampoline); the program
            // uses no stack, and r1, r2 are the caller's live memory.
            return unsafe { self.code.call_direct(r1, r2, 0) }.unwrap_or(0);
        }
        let mut b = STACK.with(|c| c.take()).unwrap_or_else(fresh_box);
        let top = b.as_mut_ptr() as u64 + STACK_BYTES as u64;
        zero_first_frame(&mut b);
        // SAFETY: as above, with r10 the top of the thread's 8-frame stack
        // buffer, its first frame zeroed.
        let r0 = unsafe { self.code.call_direct(r1, r2, top) }.unwrap_or(0);
        STACK.with(|c| c.set(Some(b)));
        r0
    }

    /// The JitCtx of a lean run ([`JitProgram::run_lean`]): registers
    /// `regs`, the input memory `mem` (address, length) as the hot region,
    /// the first frame `stack` (lowest address, length; 0, 0 for none), and
    /// `runtime`, the run's `LeanRun`.
    fn lean_ctx(
        &self,
        regs: [u64; 11],
        mem: (u64, u64),
        stack: (u64, u64),
        runtime: *mut std::ffi::c_void,
    ) -> JitCtx {
        let mut ctx = JitCtx {
            regs,
            ret: 0,
            saved_rsp: 0,
            stack_lo: stack.0,
            stack_len: stack.1,
            hot_lo: mem.0,
            hot_len_load: mem.1,
            hot_len_store: mem.1,
            spent: 0,
            budget: self.interp.options().budget,
            depth: 0,
            slow_value: 0,
            scratch: 0,
            err_kind: err::NONE,
            err_pc: 0,
            err_addr: 0,
            slow: lean_slow,
            exec: lean_exec,
            runtime,
            ctx_lo: 0,
            ctx_len: 0,
            ptr_off: [u64::MAX; 3],
            ptr_val: [0; 3],
            hot_cnt_load: [0; 4],
            hot_cnt_store: [0; 4],
        };
        ctx.set_hot(mem.0, mem.1, mem.1);
        ctx
    }

    /// A run on input memory of code that never calls the instruction
    /// trampoline: no region table, run state or runtime is built; only the
    /// slow memory path (a checked access outside the stack and the memory)
    /// builds the one-region table it needs, to name the fault.
    fn run_lean(&self, mem: &mut [u8]) -> Result<u64, VmError> {
        let (r1, r2) = if mem.is_empty() {
            (0, 0)
        } else {
            (mem.as_mut_ptr() as u64, mem.len() as u64)
        };
        if self.code.has_direct() {
            return Ok(self.run_direct(r1, r2));
        }
        let mut lean = LeanRun {
            prog: self,
            error: None,
        };
        let mut regs = [0u64; 11];
        regs[1] = r1;
        regs[2] = r2;
        let mut buf = None;
        let (mut stack_lo, mut stack_len) = (0, 0);
        if self.interp.uses_stack {
            let mut b = STACK.with(|c| c.take()).unwrap_or_else(fresh_box);
            let top = b.as_mut_ptr() as u64 + STACK_BYTES as u64;
            zero_first_frame(&mut b);
            stack_lo = top - MAX_BPF_STACK as u64;
            stack_len = MAX_BPF_STACK as u64;
            regs[10] = top;
            buf = Some(b);
        }
        let mut ctx = self.lean_ctx(
            regs,
            (r1, r2),
            (stack_lo, stack_len),
            &mut lean as *mut LeanRun<'_> as *mut std::ffi::c_void,
        );
        // SAFETY: ctx is valid for the call; the stack (if any) is the
        // thread's 8-frame buffer with r10 at the top of its first frame,
        // and the hot region is `mem`, borrowed mutably for the run. The
        // code never calls the instruction trampoline (`calls_exec` is
        // false), and its slow path is `lean_slow`, which reads `lean`.
        // Trusted code was compiled only through the unsafe
        // `JitProgram::trusted` (or from the verifier's proof).
        let st = unsafe { self.code.enter(&mut ctx, 0) };
        if let Some(b) = buf {
            STACK.with(|c| c.set(Some(b)));
        }
        if st == status::CONTINUE {
            return Ok(ctx.ret);
        }
        Err(jit_error(&ctx, lean.error.take()))
    }
}

/// A program bound to one input memory ([`JitProgram::bind_memory`]):
/// it borrows the program and the buffer for as long as it lives, so
/// the buffer can change only through [`MemoryCall::memory`] between
/// runs.
pub struct MemoryCall<'a> {
    prog: &'a JitProgram,
    kind: Bound<'a>,
    /// The program's r1: the buffer's address, 0 for an empty one.
    r1: u64,
    /// The buffer, kept as its raw parts so that the code's accesses and
    /// `memory`'s slice derive from one pointer.
    ptr: *mut u8,
    len: usize,
    _mem: std::marker::PhantomData<&'a mut [u8]>,
}

/// How a [`MemoryCall`] runs its program.
enum Bound<'a> {
    /// The code's direct entry, `fn(r1, r2, 0) -> r0`: no stack, no checks
    /// that can fail.
    Direct(ironbpf_jit::DirectFn),
    /// Checked code that calls no trampoline: its lean run's context, kept
    /// from run to run.
    Lean(Box<LeanCall<'a>>),
    /// Anything else: [`Engine::run_with_memory`] on every run.
    Engine,
}

/// The state of a bound lean run: its JitCtx (the runtime pointer set on
/// every run, so that it derives from that run's borrow), the registers
/// each run starts with, its stack buffer and its `LeanRun`.
struct LeanCall<'a> {
    ctx: JitCtx,
    regs: [u64; 11],
    stack: Option<Box<[u64]>>,
    run: LeanRun<'a>,
}

impl std::fmt::Debug for MemoryCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Bound::Direct(_) => "direct",
            Bound::Lean(_) => "lean",
            Bound::Engine => "engine",
        };
        f.debug_struct("MemoryCall")
            .field("kind", &kind)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl MemoryCall<'_> {
    /// Runs the program once on the bound memory and gives r0, or the
    /// error [`Engine::run_with_memory`] gives.
    #[inline(always)]
    pub fn run(&mut self) -> Result<u64, VmError> {
        match &mut self.kind {
            // SAFETY: `f` is the direct entry that `bind_memory` took from
            // the program (trusted or verified code, or checked code that
            // cannot fault, that calls no trampoline, uses no stack and was
            // compiled for no context layout); the program, whose code
            // maps it, is borrowed for `'a`; r1 and `len` are the address
            // and length of the buffer borrowed mutably for `'a`, reachable
            // only through `self`, which this call borrows mutably.
            Bound::Direct(f) => Ok(unsafe { f(self.r1, self.len as u64, 0) }),
            Bound::Lean(c) => Self::run_lean(self.prog, c),
            Bound::Engine => self.run_engine(),
        }
    }

    // Out of line, as `run_lean`, so that `run` stays the direct call
    // and two tests in the caller's loop.
    #[inline(never)]
    fn run_engine(&mut self) -> Result<u64, VmError> {
        // SAFETY: as in `memory`.
        let mem = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) };
        self.prog.run_memory(mem)
    }

    #[inline(never)]
    fn run_lean(prog: &JitProgram, c: &mut LeanCall<'_>) -> Result<u64, VmError> {
        c.ctx.regs = c.regs;
        c.ctx.spent = 0;
        c.ctx.depth = 0;
        c.ctx.err_kind = err::NONE;
        c.ctx.runtime = &mut c.run as *mut LeanRun<'_> as *mut std::ffi::c_void;
        if let Some(b) = &mut c.stack {
            zero_first_frame(b);
        }
        // SAFETY: as in `JitProgram::run_lean`: `ctx` is valid for the
        // call, with the stack (if any) the call's own 8-frame buffer,
        // r10 at the top of its first frame, zeroed; the hot region is the
        // bound buffer, borrowed mutably for `'a` and reachable only
        // through the `MemoryCall`, which this call borrows mutably; the
        // code never calls the instruction trampoline, and its slow path
        // is `lean_slow`, which reads `c.run`.
        let st = unsafe { prog.code.enter(&mut c.ctx, 0) };
        if st == status::CONTINUE {
            return Ok(c.ctx.ret);
        }
        Err(Self::lean_error(c))
    }

    #[cold]
    #[inline(never)]
    fn lean_error(c: &mut LeanCall<'_>) -> VmError {
        jit_error(&c.ctx, c.run.error.take())
    }

    /// The bound memory, to rewrite the input between runs (its address
    /// and length stay those the program is given).
    pub fn memory(&mut self) -> &mut [u8] {
        // SAFETY: `ptr`, `len` are the parts of the slice `bind_memory`
        // borrowed mutably for `'a`; only `self` reaches it, and the
        // returned slice borrows `self` mutably, so no run overlaps it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// The error a run that stopped with [`status::ERROR`] raised: the
/// generated code's own, or the one the runtime recorded.
fn jit_error(ctx: &JitCtx, recorded: Option<VmError>) -> VmError {
    let pc = ctx.err_pc as usize;
    match ctx.err_kind {
        err::BUDGET => VmError::BudgetExhausted {
            pc,
            budget: ctx.budget,
        },
        err::CALL_DEPTH => VmError::CallDepth {
            pc,
            max: MAX_CALL_FRAMES,
        },
        err::MISALIGNED_W | err::MISALIGNED_DW => VmError::MisalignedAtomic {
            pc,
            addr: ctx.err_addr,
            size: if ctx.err_kind == err::MISALIGNED_W {
                4
            } else {
                8
            },
        },
        _ => recorded.unwrap_or_else(|| {
            VmError::Setup("the JIT stopped with an error it did not record".into())
        }),
    }
}

/// The runtime of a [`JitProgram::run_lean`] run.
struct LeanRun<'a> {
    prog: &'a JitProgram,
    error: Option<VmError>,
}

/// The slow memory path of a lean run: the run's memory is its hot region,
/// so an access that reaches here is outside the stack and the memory; the
/// interpreter's slow path names the fault.
unsafe extern "sysv64" fn lean_slow(ctx: *mut JitCtx, info: u64, addr: u64) -> u64 {
    // SAFETY: the generated code passes the ctx of the lean run in
    // progress, whose `runtime` is that run's `LeanRun`, alive until the
    // run returns.
    let ctx = unsafe { &mut *ctx };
    let lean = unsafe { &mut *(ctx.runtime as *mut LeanRun<'_>) };
    let pc = (info >> 8) as usize;
    let len = (info >> 2) & 63;
    let access = access_of(info & 3);
    let mut regions = RegionTable::new();
    if ctx.hot_len_load != 0 {
        let _ = regions.insert(MemoryRegion {
            start: ctx.hot_lo,
            len: ctx.hot_len_load,
            kind: RegionKind::Memory,
            writable: ctx.hot_len_store != 0,
        });
    }
    let memory = RunMemory {
        regions,
        resolver: None,
        ctx: None,
        packet_gen: 0,
    };
    let stack = (ctx.stack_lo, ctx.stack_lo + ctx.stack_len);
    let interp = &lean.prog.interp;
    match interp.slow_access(pc, addr, len, access, &memory, stack) {
        Ok(None) => status::CONTINUE,
        Ok(Some(v)) if access == Access::Load => {
            ctx.slow_value = v;
            status::VALUE
        }
        Ok(Some(_)) => {
            lean.error = Some(interp.fault(pc, addr, len, access, &memory, stack));
            ctx.err_kind = err::RUNTIME;
            status::ERROR
        }
        Err(e) => {
            lean.error = Some(e);
            ctx.err_kind = err::RUNTIME;
            status::ERROR
        }
    }
}

/// Never called: lean runs are for code with no trampoline calls.
unsafe extern "sysv64" fn lean_exec(ctx: *mut JitCtx, pc: u64) -> u64 {
    // SAFETY: as in `lean_slow`.
    let ctx = unsafe { &mut *ctx };
    let lean = unsafe { &mut *(ctx.runtime as *mut LeanRun<'_>) };
    lean.error = Some(VmError::Setup(format!(
        "insn {pc}: the JIT's lean run reached the instruction trampoline"
    )));
    ctx.err_kind = err::RUNTIME;
    status::ERROR
}

/// The context offsets of `prog_type`'s readable packet pointer fields
/// (`data`, `data_end`, `data_meta`; `u64::MAX` for none), as
/// [`JitCtx::ptr_off`] holds them.
fn ptr_field_offsets(prog_type: &ProgType) -> [u64; 3] {
    let mut off = [u64::MAX; 3];
    for f in prog_type.fields.iter().filter(|f| f.read.is_some()) {
        let k = match f.yields {
            CtxYield::PtrToPacket => 0,
            CtxYield::PtrToPacketEnd => 1,
            CtxYield::PtrToPacketMeta => 2,
            _ => continue,
        };
        if let Some(o) = off.get_mut(k) {
            *o = f.off as u64;
        }
    }
    off
}

/// Trusted and verified code read the packet pointer fields of the context
/// from the run's table: their offsets and the addresses they stand for.
fn set_ptr_fields(ctx: &mut JitCtx, c: &CtxView<'_>) {
    ctx.ptr_off = [u64::MAX; 3];
    for f in c.prog_type.fields.iter().filter(|f| f.read.is_some()) {
        let (k, v) = match f.yields {
            CtxYield::PtrToPacket => (0, c.data),
            CtxYield::PtrToPacketEnd => (1, c.data_end),
            CtxYield::PtrToPacketMeta => (2, c.data_meta),
            _ => continue,
        };
        if let (Some(o), Some(a)) = (ctx.ptr_off.get_mut(k), ctx.ptr_val.get_mut(k)) {
            *o = f.off as u64;
            *a = v;
        }
    }
}

fn access_of(bits: u64) -> Access {
    match bits {
        0 => Access::Load,
        1 => Access::Store,
        _ => Access::Atomic,
    }
}

impl<'m> JitRun<'_, 'm> {
    fn memory(&self) -> &RunMemory<'m> {
        self.owned.as_ref().unwrap_or(self.base)
    }

    /// What the interpreter's checks do past its inline stack and hot
    /// tests: the inline lookup's map value, then its slow path.
    fn slow(
        &self,
        ctx: &JitCtx,
        pc: usize,
        addr: u64,
        len: u64,
        access: Access,
    ) -> Result<Option<u64>, VmError> {
        let (lo, hi, w) = self.value_cache;
        let e = addr.wrapping_add(len);
        if addr >= lo && e <= hi && addr <= e && (w || access == Access::Load) {
            return Ok(None);
        }
        let stack = (ctx.stack_lo, ctx.stack_lo + ctx.stack_len);
        self.prog
            .interp
            .slow_access(pc, addr, len, access, self.memory(), stack)
    }

    /// The whole check, inline tests included, for accesses the runtime
    /// performs itself.
    fn check(
        &self,
        ctx: &JitCtx,
        pc: usize,
        addr: u64,
        len: u64,
        access: Access,
    ) -> Result<(), VmError> {
        let in_range = |lo: u64, n: u64| {
            addr.wrapping_sub(lo)
                .checked_add(len)
                .is_some_and(|x| x <= n)
        };
        let hot_len = if access == Access::Load {
            ctx.hot_len_load
        } else {
            ctx.hot_len_store
        };
        if in_range(ctx.stack_lo, ctx.stack_len) || in_range(ctx.hot_lo, hot_len) {
            return Ok(());
        }
        match self.slow(ctx, pc, addr, len, access)? {
            None => Ok(()),
            Some(_) => Err(self.prog.interp.fault(
                pc,
                addr,
                len,
                access,
                self.memory(),
                (ctx.stack_lo, ctx.stack_lo + ctx.stack_len),
            )),
        }
    }

    /// Executes the instruction at `pc` as the interpreter does.
    fn exec(&mut self, ctx: &mut JitCtx, pc: usize, regs: &mut [u64; 16]) -> Result<Flow, VmError> {
        use ironbpf_jit::op::*;
        let interp = &self.prog.interp;
        let op = op_at(interp, pc)?;
        match op.code {
            OP_MAP_LOOKUP => {
                let via_helper = interp.inline_map(regs[1]).is_some_and(|m| m.via_helper);
                if via_helper {
                    return self.call_helper(ctx, pc, regs, None);
                }
                let Some(m) = interp.inline_map(regs[1]) else {
                    return Err(VmError::HelperFailed {
                        pc,
                        id: 1,
                        name: "bpf_map_lookup_elem".into(),
                        message: format!("r1 = {:#x} is not a map of this program", regs[1]),
                    });
                };
                let k = regs[2];
                self.check(ctx, pc, k, m.key_size, Access::Load)?;
                // SAFETY: the check above proved [k, k + key_size) lies in
                // the stack or a live region of this run.
                let key =
                    unsafe { std::slice::from_raw_parts(k as *const u8, m.key_size as usize) };
                let guard = self.guard.get_or_insert_with(ironbpf_maps::pin);
                regs[0] = match m.map.lookup_ptr(key, 0, guard) {
                    Some(p) => {
                        let v = p.as_ptr() as u64;
                        self.value_cache = (v, v + m.value_size, m.writable);
                        v
                    }
                    None => 0,
                };
                Ok(Flow::Continue)
            }
            0x85 => self.call_helper(ctx, pc, regs, Some(op.off as usize)),
            0x8d => self.call_helper(ctx, pc, regs, None),
            0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50 => {
                self.ld_packet(pc, op.code, op.src, op.imm, regs)
            }
            OP_ATOMIC_W | OP_ATOMIC_DW => {
                let size = if op.code == OP_ATOMIC_W { 4 } else { 8 };
                let a = reg(regs, op.dst).wrapping_add(op.off as i64 as u64);
                self.check(ctx, pc, a, size, Access::Atomic)?;
                if !a.is_multiple_of(size) {
                    return Err(VmError::MisalignedAtomic { pc, addr: a, size });
                }
                atomic(op.aux, size, a, regs, op.src as usize & 15);
                Ok(Flow::Continue)
            }
            _ => Err(VmError::Unsupported {
                pc,
                what: format!("pre-decoded opcode {:#04x}", op.code),
            }),
        }
    }

    /// A helper call: `index` into the resolved table, or (None) helper 1
    /// for an inline lookup of a map of maps, or `callx`'s register.
    fn call_helper(
        &mut self,
        ctx: &mut JitCtx,
        pc: usize,
        regs: &mut [u64; 16],
        index: Option<usize>,
    ) -> Result<Flow, VmError> {
        let interp = &self.prog.interp;
        let op = op_at(interp, pc)?;
        let resolved = |i: usize| interp.helpers.get(i).zip(interp.helper_ids.get(i).copied());
        let (h, id) = match (op.code, index.and_then(resolved)) {
            (0x85, Some(found)) => found,
            (0x85, None) => return Err(VmError::UnknownHelper { pc, id: op.imm }),
            (0x8d, _) => {
                let id = reg(regs, op.dst);
                match i64::try_from(id).ok().and_then(|i| interp.registry.get(i)) {
                    Some(h) => (h, id as i64),
                    None => {
                        return Err(VmError::BadCallx {
                            pc,
                            reg: op.dst,
                            value: id,
                        })
                    }
                }
            }
            _ => match interp.registry.get(1) {
                Some(h) => (h, 1),
                None => {
                    return Err(VmError::UnknownHelper { pc, id: 1 });
                }
            },
        };
        let h = h.clone();
        // The slots run so far, as the interpreter counts them at a call.
        let before = (ctx.spent + pc as i64 + 1) as u64;
        let mut now = before;
        let view = StackView {
            lo: ctx.stack_lo,
            top: self.stack_top,
            depth: ctx.depth as usize + 1,
        };
        let memory = match &self.owned {
            Some(m) => m,
            None => self.base,
        };
        let mut nested = JitNested {
            prog: self.prog,
            memory,
            stack: view,
            spent: now,
            error: None,
        };
        // SAFETY: the run's regions and stack are live for the run (the
        // contract of `Engine::run_with_state`), and so for this call.
        let mut hctx =
            unsafe { HelperCtx::new(&memory.regions, (view.lo, view.top), memory.resolver) }
                .with_state(self.state)
                .with_callbacks(&mut nested);
        if let Some(maps) = &interp.map_set {
            hctx = hctx.with_maps(maps);
        }
        let r = h.call(&mut hctx, [regs[1], regs[2], regs[3], regs[4], regs[5]]);
        now = nested.spent;
        let nested = nested.error;
        ctx.spent += (now - before) as i64;
        match r {
            Ok(v) => regs[0] = v,
            Err(HelperError::Stop { r0 }) => return Ok(Flow::Stop(r0)),
            Err(HelperError::TailCall) => {
                if ctx.depth == 0 {
                    // The caller runs the next program.
                    ctx.spent = now as i64;
                    return Ok(Flow::Stop(0));
                }
                self.state.tail_call = None;
                return Err(VmError::Unsupported {
                    pc,
                    what: "a tail call from a subprogram or a callback".into(),
                });
            }
            Err(e @ HelperError::Callback(_)) => {
                return Err(nested.unwrap_or_else(|| helper_failed(pc, id, h.as_ref(), e)))
            }
            Err(e) => return Err(helper_failed(pc, id, h.as_ref(), e)),
        }
        if self.state.packet_gen != self.memory().packet_gen {
            self.owned = Some(self.base.with_packet(self.state));
            let (lo, load, store) = hot_of(self.memory());
            ctx.set_hot(lo, load, store);
            if self.prog.code.mode() != Mode::Checked {
                if let Some(c) = self.memory().ctx {
                    set_ptr_fields(ctx, &c);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// `ld_abs`/`ld_ind`, with the interpreter's code.
    fn ld_packet(
        &self,
        pc: usize,
        code: u8,
        src: u8,
        imm: i64,
        regs: &mut [u64; 16],
    ) -> Result<Flow, VmError> {
        match ld_packet(code, reg(regs, src), imm, self.memory(), &*self.state) {
            Ok(Some(v)) => {
                regs[0] = v;
                Ok(Flow::Continue)
            }
            Ok(None) => Ok(Flow::Stop(0)),
            Err(what) => Err(VmError::Unsupported { pc, what }),
        }
    }
}

/// A callback's way back into the compiled program: runs a subprogram in a
/// new frame below the caller's, as the interpreter does.
struct JitNested<'a, 'm> {
    prog: &'a JitProgram,
    memory: &'a RunMemory<'m>,
    stack: StackView,
    spent: u64,
    error: Option<VmError>,
}

impl Callbacks for JitNested<'_, '_> {
    fn call(
        &mut self,
        state: &mut RunState,
        func: u64,
        args: [u64; 5],
        extra: Option<MemoryRegion>,
    ) -> Result<u64, HelperError> {
        let (target, stack, memory) = crate::interp::callback_frame(
            &self.prog.interp,
            self.memory,
            &self.stack,
            func,
            extra,
        )?;
        let memory = &*memory;
        // SAFETY: the caller's run memory and stack, and the helper's extra
        // region, live across the callback.
        let r = unsafe {
            self.prog
                .run_jit(target, &args, memory, state, Some(stack), &mut self.spent)
        };
        r.map_err(|e| {
            let summary = e.to_string();
            self.error = Some(e);
            HelperError::Callback(summary)
        })
    }
}

/// Register `r` (masked to 0..15) of a trampoline's register file.
fn reg(regs: &[u64; 16], r: u8) -> u64 {
    regs.get(usize::from(r & 15)).copied().unwrap_or_default()
}

/// The pre-decoded op at `pc`, where the generated code says it is.
fn op_at(interp: &Interpreter, pc: usize) -> Result<crate::interp::Op, VmError> {
    interp
        .ops
        .get(pc)
        .copied()
        .ok_or_else(|| VmError::Unsupported {
            pc,
            what: format!(
                "the JIT's trampoline names instruction {pc}; the program has {}",
                interp.ops.len()
            ),
        })
}

/// The slow memory path the generated code calls.
unsafe extern "sysv64" fn jit_slow(ctx: *mut JitCtx, info: u64, addr: u64) -> u64 {
    // SAFETY: the generated code passes the ctx of the run in progress,
    // whose `runtime` is that run's `JitRun`, alive until the run returns.
    let ctx = unsafe { &mut *ctx };
    let run = unsafe { &mut *(ctx.runtime as *mut JitRun<'_, '_>) };
    let pc = (info >> 8) as usize;
    let len = (info >> 2) & 63;
    let access = access_of(info & 3);
    match run.slow(ctx, pc, addr, len, access) {
        Ok(None) => status::CONTINUE,
        Ok(Some(v)) if access == Access::Load => {
            ctx.slow_value = v;
            status::VALUE
        }
        Ok(Some(_)) => {
            let stack = (ctx.stack_lo, ctx.stack_lo + ctx.stack_len);
            run.error = Some(
                run.prog
                    .interp
                    .fault(pc, addr, len, access, run.memory(), stack),
            );
            ctx.err_kind = err::RUNTIME;
            status::ERROR
        }
        Err(e) => {
            run.error = Some(e);
            ctx.err_kind = err::RUNTIME;
            status::ERROR
        }
    }
}

/// The instruction trampoline's target.
unsafe extern "sysv64" fn jit_exec(ctx: *mut JitCtx, pc: u64) -> u64 {
    // SAFETY: as in `jit_slow`.
    let ctx = unsafe { &mut *ctx };
    let run = unsafe { &mut *(ctx.runtime as *mut JitRun<'_, '_>) };
    let mut regs = [0u64; 16];
    regs[..11].copy_from_slice(&ctx.regs);
    let r = run.exec(ctx, pc as usize, &mut regs);
    ctx.regs.copy_from_slice(&regs[..11]);
    match r {
        Ok(Flow::Continue) => status::CONTINUE,
        Ok(Flow::Stop(r0)) => {
            ctx.ret = r0;
            status::STOP
        }
        Err(e) => {
            run.error = Some(e);
            ctx.err_kind = err::RUNTIME;
            status::ERROR
        }
    }
}
