//! The checked interpreter.
//!
//! A program is pre-decoded once into a dense array of fixed-size [`Op`]s:
//! immediates sign-extended, jump targets made absolute, `ld_imm64` folded
//! into one op, the ISA v4 forms that share an opcode (sdiv/smod, movsx)
//! given opcodes of their own, and helpers resolved. The run loop then
//! dispatches on one byte, through the jump table that `match` compiles to.
//! Every load, store and atomic is checked against the run's memory
//! regions: the current call chain's stack first, then the region table,
//! then the resolver for map values.

use crate::error::VmError;
use crate::progtype::{AccessKind, AttachType, CtxAccess, CtxYield, ProgType};
use ironbpf_helpers::{
    Callbacks, Helper, HelperCtx, HelperError, HelperRegistry, RunState, FUNC_HANDLE_BASE,
};
use ironbpf_isa::abi::{
    Access, AccessFault, MemoryRegion, RegionKind, RegionResolver, RegionTable,
};
use ironbpf_isa::opcode::*;
use ironbpf_isa::{AtomicOp, CallTarget, Insn, LdImm64Src, Program, RawInsn, Reg};
use ironbpf_maps::{Map, MapSet};
use std::sync::Arc;

/// Options of a run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Instructions a run may execute before it is stopped; `u64::MAX` for
    /// no limit.
    pub budget: u64,
    /// Registers holding a value at entry (bit per register; r10 is always
    /// set). The kernel passes r1 only; bpf_conformance passes r1 and r2.
    pub entry_regs: u16,
    /// Refuse programs that may read a register before writing it, as the
    /// kernel verifier does.
    pub check_registers: bool,
    /// The CPU slot runs use: what `bpf_get_smp_processor_id` returns and
    /// which copy of per-CPU map values they see.
    pub cpu: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            budget: 10_000_000,
            entry_regs: 0b10,
            check_registers: true,
            cpu: 0,
        }
    }
}

// Opcodes of our own for forms that share a real opcode, taken from
// encodings no valid instruction uses (class LD with mode MEM and above).
const OP_SDIV32_K: u8 = 0x60;
const OP_SDIV32_X: u8 = 0x68;
const OP_SDIV64_K: u8 = 0x70;
const OP_SDIV64_X: u8 = 0x78;
const OP_SMOD32_K: u8 = 0x80;
const OP_SMOD32_X: u8 = 0x88;
const OP_SMOD64_K: u8 = 0x90;
const OP_SMOD64_X: u8 = 0x98;
const OP_MOVSX32_8: u8 = 0xa0;
const OP_MOVSX32_16: u8 = 0xa8;
const OP_MOVSX64_8: u8 = 0xb0;
const OP_MOVSX64_16: u8 = 0xb8;
const OP_MOVSX64_32: u8 = 0xc0;
const OP_CALL_LOCAL: u8 = 0xc8;
/// `call bpf_map_lookup_elem` on an object's maps, done inline: no helper
/// dispatch, no copy of the key, one epoch guard per run.
const OP_MAP_LOOKUP: u8 = 0xe8;
/// `r1 = map[...]` (ld_imm64) fused with the inline lookup that follows it.
const OP_LDMAP_LOOKUP: u8 = 0xf0;
const OP_LDIMM64: u8 = 0x18;
// Superinstructions for pairs that compilers emit all the time (see `fuse`).
/// `rX = rY; rX += imm`.
const OP_MOV_ADD64_K: u8 = 0xd0;
/// `rX = rY; rX += rZ` (Z in `aux`).
const OP_MOV_ADD64_X: u8 = 0xd8;
/// `wX = wY; wX &= imm`.
const OP_MOV_AND32_K: u8 = 0xe0;
/// The second slot of an `ld_imm64`: never reached.
const OP_NONE: u8 = 0x00;
// Atomics by kind (the size is in the op's `src2` field... no: in the code).
const OP_ATOMIC_W: u8 = BPF_STX | BPF_ATOMIC | BPF_W;
const OP_ATOMIC_DW: u8 = BPF_STX | BPF_ATOMIC | BPF_DW;

/// One pre-decoded instruction.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Op {
    pub(crate) code: u8,
    pub(crate) dst: u8,
    pub(crate) src: u8,
    /// For atomics: the operation.
    pub(crate) aux: u8,
    /// The memory offset; for jumps and calls the absolute target; for
    /// helper calls the index into the resolved helper table.
    pub(crate) off: i32,
    /// The immediate, sign-extended; the whole constant for `ld_imm64`.
    pub(crate) imm: i64,
}

/// Resolves what the engine cannot know by itself: `ld_imm64` map
/// references (to the addresses the maps runtime gives them).
pub trait LdImm64Resolver {
    /// The 64-bit value that `ld_imm64` with this pseudo source loads.
    fn resolve(&self, pc: usize, src: LdImm64Src, imm: i32, next_imm: i32) -> Result<u64, VmError>;

    /// The maps that the handles this resolver gives name, when they are
    /// `ironbpf-maps` handles ([`MapSet::handle`]): the interpreter then
    /// looks them up inline.
    fn map_set(&self) -> Option<Arc<MapSet>> {
        None
    }
}

/// A map as the inline lookup sees it.
#[derive(Clone)]
pub(crate) struct InlineMap {
    pub(crate) map: Arc<dyn Map>,
    pub(crate) key_size: u64,
    pub(crate) value_size: u64,
    pub(crate) writable: bool,
    /// A map of maps: its lookup gives an inner map's handle, which the
    /// helper knows how to make.
    pub(crate) via_helper: bool,
}

/// Classic BPF's negative packet offsets (`SKF_NET_OFF`, `SKF_LL_OFF`).
pub(crate) const SKF_NET_OFF: i64 = -0x100000;
pub(crate) const SKF_LL_OFF: i64 = -0x200000;
pub(crate) const ETH_HLEN: i64 = 14;

/// A program ready to run in the interpreter.
#[derive(Clone)]
pub struct Interpreter {
    pub(crate) ops: Vec<Op>,
    insns: Vec<Option<Insn>>,
    pub(crate) helpers: Vec<Arc<dyn Helper>>,
    pub(crate) helper_ids: Vec<i64>,
    pub(crate) registry: HelperRegistry,
    options: Options,
    /// Whether any instruction reads r10 or calls a subprogram; if none
    /// does, runs need no stack.
    pub(crate) uses_stack: bool,
    /// The maps `OP_MAP_LOOKUP` reads, by id.
    pub(crate) maps: Vec<InlineMap>,
    /// The handle of map 0: map `i`'s is `MAP_IMAGE_SIZE * i` past it.
    pub(crate) map_base: u64,
    /// The maps that map handles name, for the map helpers.
    pub(crate) map_set: Option<Arc<MapSet>>,
    /// For each slot, whether a subprogram starts there (callbacks may
    /// only enter at one).
    pub(crate) subprog_start: Vec<bool>,
    /// The program's instruction slots as given (what a verifier's proof
    /// must be of, see `JitProgram::verified`).
    pub(crate) slots: Vec<RawInsn>,
}

/// The memory a run may touch beyond its stack.
#[derive(Clone)]
pub struct RunMemory<'a> {
    pub regions: RegionTable,
    pub resolver: Option<&'a dyn RegionResolver>,
    /// The context, if the table has a [`RegionKind::Context`] region.
    pub ctx: Option<CtxView<'a>>,
    /// The [`RunState::packet_gen`] whose packet bounds the table and the
    /// context view hold (0: the run's first).
    pub packet_gen: u64,
}

impl RunMemory<'_> {
    /// This memory with the packet bounds of `state.packet`: the packet
    /// and metadata regions and the context's pointer fields.
    pub(crate) fn with_packet(&self, state: &RunState) -> Self {
        let mut m = self.clone();
        m.packet_gen = state.packet_gen;
        let Some(p) = state.packet else {
            return m;
        };
        for kind in [RegionKind::Packet, RegionKind::PacketMeta] {
            while let Some(r) = m.regions.regions().iter().find(|r| r.kind == kind).copied() {
                m.regions.remove(r.start);
            }
        }
        for (start, end, kind) in [
            (p.data, p.data_end, RegionKind::Packet),
            (p.data_meta, p.data, RegionKind::PacketMeta),
        ] {
            let _ = m.regions.insert(MemoryRegion {
                start,
                len: end - start,
                kind,
                writable: true,
            });
        }
        if let Some(c) = &mut m.ctx {
            c.data = p.data;
            c.data_end = p.data_end;
            c.data_meta = p.data_meta;
        }
        m
    }
}

/// How the context region is to be read: its program type's fields, and
/// the addresses that its pointer fields stand for.
#[derive(Clone, Copy, Debug)]
pub struct CtxView<'a> {
    /// The program type whose `is_valid_access` judges each access.
    pub prog_type: &'a ProgType,
    /// The program's expected attach type (`None`: the type's default).
    pub attach_type: Option<AttachType>,
    pub start: u64,
    pub data: u64,
    pub data_end: u64,
    pub data_meta: u64,
}

pub(crate) const STACK_BYTES: usize = MAX_BPF_STACK * MAX_CALL_FRAMES;

thread_local! {
    /// One stack per thread, reused by its runs.
    pub(crate) static STACK: std::cell::Cell<Option<Box<[u64]>>> = const { std::cell::Cell::new(None) };
}

pub(crate) fn fresh_box() -> Box<[u64]> {
    vec![0u64; STACK_BYTES / 8].into_boxed_slice()
}

/// Zeroes the first frame (the top 512 bytes) of a run's stack buffer.
pub(crate) fn zero_first_frame(buf: &mut [u64]) {
    if let Some(frame) = buf.get_mut((STACK_BYTES - MAX_BPF_STACK) / 8..) {
        frame.fill(0);
    }
}

struct Frame {
    ret: usize,
    saved: [u64; 4],
    fp: u64,
    /// The caller's `may_goto` budget, restored at the callee's exit.
    may_goto: u64,
}

/// `may_goto`'s budget per subprogram call: the kernel's counted variant
/// (`BPF_MAX_LOOPS`, what its interpreter runs; the x86-64 JIT's timed one
/// stops after about 250 ms instead, which no deterministic runtime can
/// match). Each call of a subprogram, callbacks included, starts afresh.
pub const MAY_GOTO_BUDGET: u64 = ironbpf_verifier::may_goto::BPF_MAX_LOOPS;

/// Where a run's stack is: the current call chain may touch
/// `[lo, top)`; the frame being entered is `[lo, lo + 512)`.
#[derive(Clone, Copy)]
pub(crate) struct StackView {
    pub(crate) lo: u64,
    pub(crate) top: u64,
    /// Frames that enclosing runs use (a callback runs below its caller).
    pub(crate) depth: usize,
}

/// What a callback into the program needs, for both engines: the
/// subprogram `func` names (checked to be one), a zeroed frame below the
/// caller's (checked to fit the call chain's 8), and the run's memory with
/// the helper's extra region (a `bpf_loop` context, a map value) added.
pub(crate) fn callback_frame<'a, 'm>(
    interp: &Interpreter,
    memory: &'a RunMemory<'m>,
    caller: &StackView,
    func: u64,
    extra: Option<MemoryRegion>,
) -> Result<(usize, StackView, std::borrow::Cow<'a, RunMemory<'m>>), HelperError> {
    let target = func.wrapping_sub(FUNC_HANDLE_BASE);
    if !interp
        .subprog_start
        .get(target as usize)
        .copied()
        .unwrap_or(false)
    {
        return Err(HelperError::Failed(format!(
            "the callback {func:#x} is not a subprogram of this program (pass one with `rX = subprog[...]`)"
        )));
    }
    if caller.depth + 1 > MAX_CALL_FRAMES || caller.top == 0 {
        return Err(HelperError::Failed(format!(
            "the callback would nest calls more than {MAX_CALL_FRAMES} frames deep"
        )));
    }
    let lo = caller.lo - MAX_BPF_STACK as u64;
    // SAFETY: [lo, lo + 512) is a frame of the run's stack buffer, below
    // every frame in use (depth + 1 <= 8 frames fit the buffer).
    unsafe { std::ptr::write_bytes(lo as *mut u8, 0, MAX_BPF_STACK) };
    let memory = match extra {
        Some(r) => {
            let mut m = memory.clone();
            m.regions
                .insert(r)
                .map_err(|o| HelperError::Failed(format!("the callback's memory overlaps {o}")))?;
            std::borrow::Cow::Owned(m)
        }
        None => std::borrow::Cow::Borrowed(memory),
    };
    let stack = StackView {
        lo,
        top: caller.top,
        depth: caller.depth + 1,
    };
    Ok((target as usize, stack, memory))
}

/// A callback's way back into the program: runs a subprogram in a new
/// frame below the caller's.
struct Nested<'a, 'm> {
    interp: &'a Interpreter,
    memory: &'a RunMemory<'m>,
    stack: StackView,
    spent: u64,
    error: Option<VmError>,
}

impl Callbacks for Nested<'_, '_> {
    fn call(
        &mut self,
        state: &mut RunState,
        func: u64,
        args: [u64; 5],
        extra: Option<MemoryRegion>,
    ) -> Result<u64, HelperError> {
        let (target, stack, memory) =
            callback_frame(self.interp, self.memory, &self.stack, func, extra)?;
        let memory = &*memory;
        match self
            .interp
            .run_on(target, &args, memory, state, stack, &mut self.spent)
        {
            Ok(r0) => Ok(r0),
            Err(e) => {
                let summary = e.to_string();
                self.error = Some(e);
                Err(HelperError::Callback(summary))
            }
        }
    }
}

impl Interpreter {
    /// The handle `r1 = map[...]` loads for map `i` of the program (what
    /// [`Interpreter::inline_map`] takes).
    pub(crate) fn map_handle(&self, i: usize) -> u64 {
        self.map_base + i as u64 * ironbpf_maps::MAP_IMAGE_SIZE
    }

    /// The program's map that `handle` names (handles are the addresses
    /// of the maps' images, [`ironbpf_maps::MAP_IMAGE_SIZE`] apart).
    pub(crate) fn inline_map(&self, handle: u64) -> Option<&InlineMap> {
        let off = handle.checked_sub(self.map_base)?;
        if off % ironbpf_maps::MAP_IMAGE_SIZE != 0 {
            return None;
        }
        self.maps
            .get(usize::try_from(off / ironbpf_maps::MAP_IMAGE_SIZE).ok()?)
    }

    /// Prepares `prog` for running: checks it as the kernel would before
    /// verification, and resolves helpers. `ld_imm64` with a pseudo source
    /// other than a constant is refused; use [`Interpreter::with_resolver`].
    pub fn new(
        prog: &Program,
        helpers: &HelperRegistry,
        options: Options,
    ) -> Result<Interpreter, VmError> {
        Self::with_resolver(prog, helpers, options, None)
    }

    /// Like [`Interpreter::new`], resolving `ld_imm64` pseudo sources through
    /// `resolver`.
    pub fn with_resolver(
        prog: &Program,
        helpers: &HelperRegistry,
        options: Options,
        resolver: Option<&dyn LdImm64Resolver>,
    ) -> Result<Interpreter, VmError> {
        if options.check_registers {
            prog.check_registers(options.entry_regs)?;
        }
        let n = prog.slots().len();
        let mut ops = vec![Op::default(); n];
        let mut insns = vec![None; n];
        let mut table: Vec<Arc<dyn Helper>> = Vec::new();
        let mut table_ids: Vec<i64> = Vec::new();
        // Lookups go inline when the maps are ironbpf-maps' and helper 1 is
        // the standard one (an embedder's own helper 1 is called as given).
        let standard_lookup = helpers
            .get(1)
            .is_some_and(|h| h.name() == "bpf_map_lookup_elem");
        let inline_maps: Vec<InlineMap> = match resolver.and_then(|r| r.map_set()) {
            Some(set) if standard_lookup => (0..set.len() as u32)
                .filter_map(|i| set.get(i))
                .map(|map| InlineMap {
                    key_size: map.spec().key_size as u64,
                    value_size: map.spec().value_size as u64,
                    writable: map.spec().map_flags & ironbpf_maps::BPF_F_RDONLY_PROG == 0,
                    via_helper: matches!(
                        map.spec().map_type,
                        ironbpf_maps::BPF_MAP_TYPE_ARRAY_OF_MAPS
                            | ironbpf_maps::BPF_MAP_TYPE_HASH_OF_MAPS
                    ),
                    map,
                })
                .collect(),
            _ => Vec::new(),
        };
        for d in prog.insns() {
            let pc = d.pc;
            let Some(&raw) = prog.slots().get(pc) else {
                continue;
            };
            if let Some(slot) = insns.get_mut(pc) {
                *slot = Some(d.insn);
            }
            let rel = |r: i64| (pc as i64 + 1 + r) as i32;
            let mut op = Op {
                code: raw.code,
                dst: raw.dst,
                src: raw.src,
                aux: 0,
                off: raw.off as i32,
                imm: raw.imm as i64,
            };
            match d.insn {
                Insn::Alu { op: a, width, .. } => {
                    use ironbpf_isa::AluOp::*;
                    let x = raw.code & BPF_X != 0;
                    let w64 = width == ironbpf_isa::Width::W64;
                    op.code = match (a, w64, x) {
                        (SDiv, false, false) => OP_SDIV32_K,
                        (SDiv, false, true) => OP_SDIV32_X,
                        (SDiv, true, false) => OP_SDIV64_K,
                        (SDiv, true, true) => OP_SDIV64_X,
                        (SMod, false, false) => OP_SMOD32_K,
                        (SMod, false, true) => OP_SMOD32_X,
                        (SMod, true, false) => OP_SMOD64_K,
                        (SMod, true, true) => OP_SMOD64_X,
                        _ => raw.code,
                    };
                }
                Insn::MovSx { width, bits, .. } => {
                    op.code = match (width == ironbpf_isa::Width::W64, bits) {
                        (false, 8) => OP_MOVSX32_8,
                        (false, _) => OP_MOVSX32_16,
                        (true, 8) => OP_MOVSX64_8,
                        (true, 16) => OP_MOVSX64_16,
                        (true, _) => OP_MOVSX64_32,
                    };
                }
                Insn::LdImm64 {
                    src, imm, next_imm, ..
                } => {
                    op.code = OP_LDIMM64;
                    op.imm = match (src, resolver) {
                        (LdImm64Src::Imm, _) => Insn::imm64(imm, next_imm) as i64,
                        // A callback: a handle the helpers give back to the
                        // engine (Program checked the target is a subprogram).
                        (LdImm64Src::Func, _) => {
                            (FUNC_HANDLE_BASE + (pc as i64 + 1 + imm as i64) as u64) as i64
                        }
                        (_, Some(r)) => r.resolve(pc, src, imm, next_imm)? as i64,
                        (_, None) => {
                            return Err(VmError::Unsupported {
                                pc,
                                what: format!(
                                    "ld_imm64 with pseudo source {src:?} (it needs the program's maps or functions)"
                                ),
                            })
                        }
                    };
                }
                Insn::Ja { off } => op.off = rel(off as i64),
                Insn::Gotol { imm } => op.off = rel(imm as i64),
                Insn::Jmp { off, .. } | Insn::MayGoto { off } => op.off = rel(off as i64),
                Insn::Call(CallTarget::Local(imm)) => {
                    op.code = OP_CALL_LOCAL;
                    op.off = rel(imm as i64);
                }
                Insn::Call(CallTarget::Helper(1)) if !inline_maps.is_empty() => {
                    op.code = OP_MAP_LOOKUP;
                }
                Insn::Call(CallTarget::Helper(id)) => {
                    let id = id as i64;
                    let Some(h) = helpers.get(id) else {
                        if let Some((name, t)) = helpers.refused(id) {
                            return Err(VmError::HelperNotAllowed {
                                pc,
                                id,
                                name: name.to_string(),
                                prog_type: crate::progtype::by_kernel_id(t)
                                    .map_or_else(|| t.to_string(), |p| p.name.clone()),
                            });
                        }
                        return Err(VmError::UnknownHelper { pc, id });
                    };
                    op.off = match table_ids.iter().position(|&x| x == id) {
                        Some(i) => i as i32,
                        None => {
                            table.push(h.clone());
                            table_ids.push(id);
                            (table.len() - 1) as i32
                        }
                    };
                }
                Insn::Call(CallTarget::Kfunc { btf_id, .. }) => {
                    return Err(VmError::Unsupported {
                        pc,
                        what: format!("a kfunc call (BTF id {btf_id})"),
                    })
                }
                Insn::Atomic { op: a, size, .. } => match a {
                    // On x86-64 every plain load is an acquire and every
                    // plain store a release: these are ordinary accesses.
                    AtomicOp::LoadAcquire => {
                        op.code = BPF_LDX | BPF_MEM | (raw.code & 0x18);
                    }
                    AtomicOp::StoreRelease => {
                        op.code = BPF_STX | BPF_MEM | (raw.code & 0x18);
                    }
                    _ => {
                        op.aux = atomic_index(a);
                        let _ = size;
                    }
                },
                _ => {}
            }
            if let Some(slot) = ops.get_mut(pc) {
                *slot = op;
            }
        }
        fuse(prog, &mut ops);
        Ok(Interpreter {
            slots: prog.slots().to_vec(),
            ops,
            insns,
            helpers: table,
            helper_ids: table_ids,
            uses_stack: prog.insns().iter().any(|d| {
                d.insn.reads() & (1 << 10) != 0
                    || matches!(
                        d.insn,
                        Insn::Call(CallTarget::Local(_))
                            | Insn::LdImm64 {
                                src: LdImm64Src::Func,
                                ..
                            }
                    )
            }),
            registry: helpers.clone(),
            options,
            maps: inline_maps,
            map_base: resolver
                .and_then(|r| r.map_set())
                .and_then(|s| s.handle(0))
                .unwrap_or(0),
            map_set: resolver.and_then(|r| r.map_set()),
            subprog_start: {
                let mut v = vec![false; n];
                for sp in prog.subprogs() {
                    if let Some(start) = v.get_mut(sp.start) {
                        *start = true;
                    }
                }
                v
            },
        })
    }

    /// The options this program runs with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Runs with `mem` as the input memory: r1 = its address, r2 = its
    /// length (bpf_conformance's convention; r1 = r2 = 0 for an empty one).
    pub fn run_with_memory(&self, mem: &mut [u8]) -> Result<u64, VmError> {
        crate::engine::run_with_memory(self, mem)
    }

    /// Runs the program as a program of type `prog_type`: r1 points to `ctx`
    /// (the type's uapi context struct, at least `ctx_size` bytes; its
    /// pointer fields read as the bounds of `packet`). Packet bytes and
    /// writable context fields may be changed by the run. The packet has no
    /// room around it: helpers that move its bounds may only shrink it (see
    /// [`crate::testrun`] for runs with the kernel's headroom).
    pub fn run_ctx(
        &self,
        prog_type: &ProgType,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
        resolver: Option<&dyn RegionResolver>,
    ) -> Result<u64, VmError> {
        crate::engine::run_ctx_into(self, prog_type, None, ctx, packet, resolver, None)
    }

    /// Like [`Interpreter::run_ctx`], for a program loaded with an expected
    /// attach type that changes its context rules (`xdp_devmap` programs
    /// may read `egress_ifindex`, say).
    pub fn run_ctx_attach(
        &self,
        prog_type: &ProgType,
        attach_type: Option<AttachType>,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
        resolver: Option<&dyn RegionResolver>,
    ) -> Result<u64, VmError> {
        crate::engine::run_ctx_into(self, prog_type, attach_type, ctx, packet, resolver, None)
    }

    /// Like [`Interpreter::run_ctx`], and gives back the run's final state:
    /// the redirect verdict, the packet's bounds.
    pub fn run_ctx_state(
        &self,
        prog_type: &ProgType,
        ctx: &mut [u8],
        packet: Option<&mut [u8]>,
        resolver: Option<&dyn RegionResolver>,
    ) -> Result<(u64, RunState), VmError> {
        let mut state = RunState::default();
        let r0 = crate::engine::run_ctx_into(
            self,
            prog_type,
            None,
            ctx,
            packet,
            resolver,
            Some(&mut state),
        )?;
        Ok((r0, state))
    }

    /// The state a run of this program on `memory` starts with: the program
    /// type from its context view, the CPU slot from the options, and the
    /// packet as the table's packet region has it (`packet: None`, see
    /// [`Packet::of_region`]).
    #[inline]
    pub fn new_state(&self, memory: &RunMemory<'_>, ctx: u64) -> RunState {
        RunState {
            prog_type: memory.ctx.map_or(0, |c| c.prog_type.kernel_id()),
            cpu: self.options.cpu,
            ctx,
            ..RunState::default()
        }
    }

    /// Runs the program with r1-r5 set to `args`, touching only the stack and
    /// `memory`'s regions.
    ///
    /// # Safety
    ///
    /// Every region of `memory` (and every map value its resolver gives)
    /// must be live for the whole run, and writable ones must not be read or
    /// written through any Rust reference during it: the program reads and
    /// writes them. The safe entry points ([`Interpreter::run_with_memory`],
    /// [`Interpreter::run_ctx`], [`crate::testrun::run`]) build the table
    /// from slices they borrow mutably across the call.
    #[inline]
    pub unsafe fn run(&self, args: &[u64; 5], memory: &RunMemory<'_>) -> Result<u64, VmError> {
        let mut state = self.new_state(memory, args[0]);
        self.run_with_state(args, memory, &mut state)
    }

    /// Like [`Interpreter::run`], with the run's state given: helpers read
    /// and change it (a packet with room to grow into, the verdict of a
    /// redirect).
    ///
    /// # Safety
    ///
    /// As for [`Interpreter::run`]; and if `state.packet` is set, its buffer
    /// must be live and writable for the run, as `memory`'s regions, and
    /// `memory` must hold its bounds (or `memory.packet_gen` differ from
    /// `state.packet_gen`).
    pub unsafe fn run_with_state(
        &self,
        args: &[u64; 5],
        memory: &RunMemory<'_>,
        state: &mut RunState,
    ) -> Result<u64, VmError> {
        crate::engine::Engine::run_with_state(self, args, memory, state)
    }

    pub(crate) fn run_top(
        &self,
        args: &[u64; 5],
        memory: &RunMemory<'_>,
        state: &mut RunState,
        spent: &mut u64,
    ) -> Result<u64, VmError> {
        if !self.uses_stack {
            // Nothing reads r10 and nothing calls: no pointer to the stack
            // can exist, so the run needs none.
            let none = StackView {
                lo: 1,
                top: 0,
                depth: 0,
            };
            return self.run_on(0, args, memory, state, none, spent);
        }
        // The stack is reused across runs on a thread (a nested run, from a
        // helper that runs another program, gets a fresh one); only the
        // frames a run enters are zeroed.
        let mut buf = STACK.with(|c| c.take()).unwrap_or_else(fresh_box);
        let top = buf.as_mut_ptr() as u64 + STACK_BYTES as u64;
        zero_first_frame(&mut buf);
        let stack = StackView {
            lo: top - MAX_BPF_STACK as u64,
            top,
            depth: 0,
        };
        let result = self.run_on(0, args, memory, state, stack, spent);
        STACK.with(|c| c.set(Some(buf)));
        result
    }

    /// Runs from `entry` in the frame `stack.lo..` until its `exit`.
    /// `spent` is the budget used by the run before this call, and after it
    /// when it returns normally.
    #[allow(
        clippy::indexing_slicing,
        reason = "the dispatch loop: registers are masked to 0..15 into the 16-entry file, and pc stays inside `ops` (Program checked every jump and call target at load, and no path falls off the end)"
    )]
    fn run_on<'m>(
        &self,
        entry: usize,
        args: &[u64; 5],
        base_memory: &RunMemory<'m>,
        state: &mut RunState,
        stack: StackView,
        spent: &mut u64,
    ) -> Result<u64, VmError> {
        // After a helper moves the packet's bounds, the run reads them from
        // a copy of the memory with the new regions and context pointers.
        let mut owned: Option<RunMemory<'m>> = None;
        let mut memory: &RunMemory<'m> = base_memory;
        if state.packet_gen != memory.packet_gen {
            memory = owned.insert(base_memory.with_packet(state));
        }
        // Without a stack, [stack_lo, stack_top) is empty: every address
        // fails the stack test.
        let (mut stack_lo, stack_top) = if stack.top == 0 {
            (1, 0)
        } else {
            (stack.lo, stack.top)
        };
        let mut regs = [0u64; 16];
        regs[1..6].copy_from_slice(args);
        regs[10] = if stack_top == 0 {
            0
        } else {
            stack_lo + MAX_BPF_STACK as u64
        };
        let mut frames: Vec<Frame> = Vec::new();
        let mut may_goto_left = MAY_GOTO_BUDGET;
        let ops = &self.ops[..];
        let mut pc: usize = entry;
        // The budget is charged per straight-line run of slots, when control
        // leaves it (a taken branch, a call, a return): the hot path of
        // straight-line code pays nothing for it.
        let budget = self.options.budget;
        let mut executed: u64 = *spent;
        let mut last: usize = entry;

        macro_rules! fault {
            ($addr:expr, $len:expr, $access:expr) => {{
                return Err(self.fault(
                    pc - 1,
                    $addr,
                    $len,
                    $access,
                    memory,
                    (stack_lo, stack_top),
                ));
            }};
        }
        // The map value the last inline lookup returned, tested inline too;
        // the epoch guard that keeps it valid lives until the run ends.
        let mut value_cache: (u64, u64, bool) = (1, 0, false);
        let mut guard: Option<ironbpf_maps::Guard> = None;
        // The first non-context region (the packet or input memory) is
        // tested inline, right after the stack.
        let hot = |memory: &RunMemory<'_>| {
            memory
                .regions
                .regions()
                .iter()
                .find(|r| r.kind != RegionKind::Context)
                .map_or((1, 0, false), |r| (r.start, r.end(), r.writable))
        };
        let (mut hot_lo, mut hot_hi, mut hot_writable) = hot(memory);
        macro_rules! fast_ok {
            ($a:expr, $l:expr, $access:expr) => {{
                let a: u64 = $a;
                let l: u64 = $l;
                let e = a.wrapping_add(l);
                (a >= stack_lo && e <= stack_top && a <= e)
                    || (a >= hot_lo && e <= hot_hi && a <= e && (hot_writable || $access == Access::Load))
                    || (a >= value_cache.0 && e <= value_cache.1 && a <= e && (value_cache.2 || $access == Access::Load))
                    || matches!(memory.regions.find(a, l),
                        Some(r) if r.kind != RegionKind::Context && (r.writable || $access == Access::Load))
            }};
        }
        macro_rules! slow {
            ($a:expr, $l:expr, $access:expr) => {
                self.slow_access(pc - 1, $a, $l, $access, memory, (stack_lo, stack_top))?
            };
        }
        macro_rules! check {
            ($addr:expr, $len:expr, $access:expr) => {{
                let a: u64 = $addr;
                let l: u64 = $len;
                if !fast_ok!(a, l, $access) {
                    if let Some(_) = slow!(a, l, $access) {
                        fault!(a, l, $access)
                    }
                }
                a
            }};
        }
        macro_rules! load {
            ($op:expr, $t:ty, $conv:expr) => {{
                let a = regs[$op.src as usize & 15].wrapping_add($op.off as i64 as u64);
                let l = std::mem::size_of::<$t>() as u64;
                // SAFETY (both reads): `fast_ok!` or `slow!` proved that
                // [a, a + l) lies in the stack or in a live region of this run.
                if fast_ok!(a, l, Access::Load) {
                    $conv(unsafe { std::ptr::read_unaligned(a as *const $t) })
                } else {
                    match slow!(a, l, Access::Load) {
                        Some(v) => v,
                        None => $conv(unsafe { std::ptr::read_unaligned(a as *const $t) }),
                    }
                }
            }};
        }
        macro_rules! store {
            ($op:expr, $t:ty, $v:expr) => {{
                let a = regs[$op.dst as usize & 15].wrapping_add($op.off as i64 as u64);
                let l = std::mem::size_of::<$t>() as u64;
                if !fast_ok!(a, l, Access::Store) {
                    slow!(a, l, Access::Store);
                }
                let v = $v as $t;
                // SAFETY: `fast_ok!` or `slow!` proved [a, a + size) lies in
                // the stack or in a live, writable region of this run.
                unsafe { std::ptr::write_unaligned(a as *mut $t, v) }
            }};
        }

        macro_rules! map_lookup {
            () => {{
                let Some(m) = self.inline_map(regs[1]) else {
                    return Err(VmError::HelperFailed {
                        pc: pc - 1,
                        id: 1,
                        name: "bpf_map_lookup_elem".into(),
                        message: format!("r1 = {:#x} is not a map of this program", regs[1]),
                    });
                };
                let k = regs[2];
                if !fast_ok!(k, m.key_size, Access::Load) {
                    slow!(k, m.key_size, Access::Load);
                }
                // SAFETY: the check above proved [k, k + key_size) lies
                // in the stack or a live region of this run.
                let key =
                    unsafe { std::slice::from_raw_parts(k as *const u8, m.key_size as usize) };
                let guard = guard.get_or_insert_with(ironbpf_maps::pin);
                regs[0] = match m.map.lookup_ptr(key, 0, guard) {
                    Some(p) => {
                        let v = p.as_ptr() as u64;
                        value_cache = (v, v + m.value_size, m.writable);
                        v
                    }
                    None => 0,
                };
            }};
        }
        macro_rules! transfer {
            ($to:expr) => {{
                executed += (pc - last) as u64;
                if executed > budget {
                    return Err(VmError::BudgetExhausted { pc: pc - 1, budget });
                }
                pc = $to;
                last = pc;
            }};
        }
        macro_rules! jump_if {
            ($op:expr, $cond:expr) => {{
                if $cond {
                    transfer!($op.off as usize)
                } else if $op.aux != 0 {
                    // Fused with the `ja` that follows: take it right here.
                    let to = ops[pc].off as usize;
                    pc += 1;
                    transfer!(to)
                }
            }};
        }

        macro_rules! call_helper {
            ($h:expr, $id:expr) => {{
                let h: &dyn Helper = $h;
                let before = executed + (pc - last) as u64;
                let mut now = before;
                let view = StackView {
                    lo: stack_lo,
                    top: stack_top,
                    depth: stack.depth + frames.len() + 1,
                };
                let (r, nested) = self.call_helper(h, &regs, memory, state, view, &mut now);
                executed += now - before;
                match r {
                    Ok(v) => regs[0] = v,
                    Err(HelperError::Stop { r0 }) => return Ok(r0),
                    Err(HelperError::TailCall) => {
                        if stack.depth == 0 && frames.is_empty() {
                            // The caller runs the next program.
                            *spent = executed + (pc - last) as u64;
                            return Ok(0);
                        }
                        state.tail_call = None;
                        return Err(VmError::Unsupported {
                            pc: pc - 1,
                            what: "a tail call from a subprogram or a callback".into(),
                        });
                    }
                    Err(e @ HelperError::Callback(_)) => {
                        return Err(nested.unwrap_or_else(|| helper_failed(pc - 1, $id, h, e)))
                    }
                    Err(e) => return Err(helper_failed(pc - 1, $id, h, e)),
                }
                if state.packet_gen != memory.packet_gen {
                    memory = owned.insert(base_memory.with_packet(state));
                    (hot_lo, hot_hi, hot_writable) = hot(memory);
                }
            }};
        }

        loop {
            let op = ops[pc];
            pc += 1;
            let d = op.dst as usize & 15;
            let s = op.src as usize & 15;
            let imm = op.imm as u64;
            match op.code {
                // ALU64, immediate and register.
                0x07 => regs[d] = regs[d].wrapping_add(imm),
                0x0f => regs[d] = regs[d].wrapping_add(regs[s]),
                0x17 => regs[d] = regs[d].wrapping_sub(imm),
                0x1f => regs[d] = regs[d].wrapping_sub(regs[s]),
                0x27 => regs[d] = regs[d].wrapping_mul(imm),
                0x2f => regs[d] = regs[d].wrapping_mul(regs[s]),
                0x37 => regs[d] = regs[d].checked_div(imm).unwrap_or(0),
                0x3f => regs[d] = regs[d].checked_div(regs[s]).unwrap_or(0),
                0x47 => regs[d] |= imm,
                0x4f => regs[d] |= regs[s],
                0x57 => regs[d] &= imm,
                0x5f => regs[d] &= regs[s],
                0x67 => regs[d] = regs[d].wrapping_shl(imm as u32),
                0x6f => regs[d] = regs[d].wrapping_shl(regs[s] as u32),
                0x77 => regs[d] = regs[d].wrapping_shr(imm as u32),
                0x7f => regs[d] = regs[d].wrapping_shr(regs[s] as u32),
                0x87 => regs[d] = regs[d].wrapping_neg(),
                0x97 => regs[d] = regs[d].checked_rem(imm).unwrap_or(regs[d]),
                0x9f => regs[d] = regs[d].checked_rem(regs[s]).unwrap_or(regs[d]),
                0xa7 => regs[d] ^= imm,
                0xaf => regs[d] ^= regs[s],
                0xb7 => regs[d] = imm,
                0xbf => regs[d] = regs[s],
                0xc7 => regs[d] = (regs[d] as i64).wrapping_shr(imm as u32) as u64,
                0xcf => regs[d] = (regs[d] as i64).wrapping_shr(regs[s] as u32) as u64,
                0xd7 => {
                    regs[d] = match imm {
                        16 => (regs[d] as u16).swap_bytes() as u64,
                        32 => (regs[d] as u32).swap_bytes() as u64,
                        _ => regs[d].swap_bytes(),
                    }
                }
                OP_SDIV64_K => regs[d] = sdiv64(regs[d], imm),
                OP_SDIV64_X => regs[d] = sdiv64(regs[d], regs[s]),
                OP_SMOD64_K => regs[d] = smod64(regs[d], imm),
                OP_SMOD64_X => regs[d] = smod64(regs[d], regs[s]),
                OP_MOVSX64_8 => regs[d] = regs[s] as i8 as i64 as u64,
                OP_MOVSX64_16 => regs[d] = regs[s] as i16 as i64 as u64,
                OP_MOVSX64_32 => regs[d] = regs[s] as i32 as i64 as u64,

                // ALU (32-bit): operate on the low halves, zero-extend.
                0x04 => regs[d] = (regs[d] as u32).wrapping_add(imm as u32) as u64,
                0x0c => regs[d] = (regs[d] as u32).wrapping_add(regs[s] as u32) as u64,
                0x14 => regs[d] = (regs[d] as u32).wrapping_sub(imm as u32) as u64,
                0x1c => regs[d] = (regs[d] as u32).wrapping_sub(regs[s] as u32) as u64,
                0x24 => regs[d] = (regs[d] as u32).wrapping_mul(imm as u32) as u64,
                0x2c => regs[d] = (regs[d] as u32).wrapping_mul(regs[s] as u32) as u64,
                0x34 => regs[d] = (regs[d] as u32).checked_div(imm as u32).unwrap_or(0) as u64,
                0x3c => regs[d] = (regs[d] as u32).checked_div(regs[s] as u32).unwrap_or(0) as u64,
                0x44 => regs[d] = (regs[d] as u32 | imm as u32) as u64,
                0x4c => regs[d] = (regs[d] as u32 | regs[s] as u32) as u64,
                0x54 => regs[d] = (regs[d] as u32 & imm as u32) as u64,
                0x5c => regs[d] = (regs[d] as u32 & regs[s] as u32) as u64,
                0x64 => regs[d] = (regs[d] as u32).wrapping_shl(imm as u32) as u64,
                0x6c => regs[d] = (regs[d] as u32).wrapping_shl(regs[s] as u32) as u64,
                0x74 => regs[d] = (regs[d] as u32).wrapping_shr(imm as u32) as u64,
                0x7c => regs[d] = (regs[d] as u32).wrapping_shr(regs[s] as u32) as u64,
                0x84 => regs[d] = (regs[d] as u32).wrapping_neg() as u64,
                0x94 => {
                    let a = regs[d] as u32;
                    regs[d] = a.checked_rem(imm as u32).unwrap_or(a) as u64
                }
                0x9c => {
                    let a = regs[d] as u32;
                    regs[d] = a.checked_rem(regs[s] as u32).unwrap_or(a) as u64
                }
                0xa4 => regs[d] = (regs[d] as u32 ^ imm as u32) as u64,
                0xac => regs[d] = (regs[d] as u32 ^ regs[s] as u32) as u64,
                0xb4 => regs[d] = imm as u32 as u64,
                0xbc => regs[d] = regs[s] as u32 as u64,
                0xc4 => regs[d] = (regs[d] as i32).wrapping_shr(imm as u32) as u32 as u64,
                0xcc => regs[d] = (regs[d] as i32).wrapping_shr(regs[s] as u32) as u32 as u64,
                // le16/le32/le64 on a little-endian host truncate.
                0xd4 => {
                    regs[d] = match imm {
                        16 => regs[d] as u16 as u64,
                        32 => regs[d] as u32 as u64,
                        _ => regs[d],
                    }
                }
                0xdc => {
                    regs[d] = match imm {
                        16 => (regs[d] as u16).to_be() as u64,
                        32 => (regs[d] as u32).to_be() as u64,
                        _ => regs[d].to_be(),
                    }
                }
                OP_SDIV32_K => regs[d] = sdiv32(regs[d], imm),
                OP_SDIV32_X => regs[d] = sdiv32(regs[d], regs[s]),
                OP_SMOD32_K => regs[d] = smod32(regs[d], imm),
                OP_SMOD32_X => regs[d] = smod32(regs[d], regs[s]),
                OP_MOVSX32_8 => regs[d] = regs[s] as i8 as i32 as u32 as u64,
                OP_MOVSX32_16 => regs[d] = regs[s] as i16 as i32 as u32 as u64,

                OP_MOV_ADD64_K => {
                    regs[d] = regs[s].wrapping_add(imm);
                    pc += 1;
                }
                OP_MOV_ADD64_X => {
                    regs[d] = regs[s].wrapping_add(regs[op.aux as usize & 15]);
                    pc += 1;
                }
                OP_MOV_AND32_K => {
                    regs[d] = (regs[s] as u32 & imm as u32) as u64;
                    pc += 1;
                }
                OP_LDIMM64 => {
                    regs[d] = imm;
                    pc += 1;
                }

                // Loads.
                0x61 => regs[d] = load!(op, u32, |v: u32| v as u64),
                0x69 => regs[d] = load!(op, u16, |v: u16| v as u64),
                0x71 => regs[d] = load!(op, u8, |v: u8| v as u64),
                0x79 => regs[d] = load!(op, u64, |v: u64| v),
                0x81 => regs[d] = load!(op, i32, |v: i32| v as i64 as u64),
                0x89 => regs[d] = load!(op, i16, |v: i16| v as i64 as u64),
                0x91 => regs[d] = load!(op, i8, |v: i8| v as i64 as u64),
                // Stores of an immediate and of a register.
                0x62 => store!(op, u32, imm),
                0x6a => store!(op, u16, imm),
                0x72 => store!(op, u8, imm),
                0x7a => store!(op, u64, imm),
                0x63 => store!(op, u32, regs[s]),
                0x6b => store!(op, u16, regs[s]),
                0x73 => store!(op, u8, regs[s]),
                0x7b => store!(op, u64, regs[s]),
                OP_ATOMIC_W | OP_ATOMIC_DW => {
                    let size = if op.code == OP_ATOMIC_W { 4 } else { 8 };
                    let a = check!(
                        regs[d].wrapping_add(op.off as i64 as u64),
                        size,
                        Access::Atomic
                    );
                    if a % size != 0 {
                        return Err(VmError::MisalignedAtomic {
                            pc: pc - 1,
                            addr: a,
                            size,
                        });
                    }
                    atomic(op.aux, size, a, &mut regs, s);
                }

                // Legacy packet loads: out of bounds ends the program with 0.
                0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50 => {
                    match ld_packet(op.code, regs[s], op.imm, memory, state) {
                        Ok(Some(v)) => regs[0] = v,
                        Ok(None) => return Ok(0),
                        Err(what) => return Err(VmError::Unsupported { pc: pc - 1, what }),
                    }
                }

                // Jumps.
                0x05 | 0x06 => transfer!(op.off as usize),
                // may_goto: falls through while the budget lasts.
                0xe5 => jump_if!(op, {
                    let spent = may_goto_left == 0;
                    may_goto_left = may_goto_left.saturating_sub(1);
                    spent
                }),
                0x15 => jump_if!(op, regs[d] == imm),
                0x1d => jump_if!(op, regs[d] == regs[s]),
                0x25 => jump_if!(op, regs[d] > imm),
                0x2d => jump_if!(op, regs[d] > regs[s]),
                0x35 => jump_if!(op, regs[d] >= imm),
                0x3d => jump_if!(op, regs[d] >= regs[s]),
                0x45 => jump_if!(op, regs[d] & imm != 0),
                0x4d => jump_if!(op, regs[d] & regs[s] != 0),
                0x55 => jump_if!(op, regs[d] != imm),
                0x5d => jump_if!(op, regs[d] != regs[s]),
                0x65 => jump_if!(op, (regs[d] as i64) > imm as i64),
                0x6d => jump_if!(op, (regs[d] as i64) > regs[s] as i64),
                0x75 => jump_if!(op, (regs[d] as i64) >= imm as i64),
                0x7d => jump_if!(op, (regs[d] as i64) >= regs[s] as i64),
                0xa5 => jump_if!(op, regs[d] < imm),
                0xad => jump_if!(op, regs[d] < regs[s]),
                0xb5 => jump_if!(op, regs[d] <= imm),
                0xbd => jump_if!(op, regs[d] <= regs[s]),
                0xc5 => jump_if!(op, (regs[d] as i64) < imm as i64),
                0xcd => jump_if!(op, (regs[d] as i64) < regs[s] as i64),
                0xd5 => jump_if!(op, (regs[d] as i64) <= imm as i64),
                0xdd => jump_if!(op, (regs[d] as i64) <= regs[s] as i64),
                // JMP32: compare the low halves.
                0x16 => jump_if!(op, regs[d] as u32 == imm as u32),
                0x1e => jump_if!(op, regs[d] as u32 == regs[s] as u32),
                0x26 => jump_if!(op, regs[d] as u32 > imm as u32),
                0x2e => jump_if!(op, regs[d] as u32 > regs[s] as u32),
                0x36 => jump_if!(op, regs[d] as u32 >= imm as u32),
                0x3e => jump_if!(op, regs[d] as u32 >= regs[s] as u32),
                0x46 => jump_if!(op, regs[d] as u32 & imm as u32 != 0),
                0x4e => jump_if!(op, regs[d] as u32 & regs[s] as u32 != 0),
                0x56 => jump_if!(op, regs[d] as u32 != imm as u32),
                0x5e => jump_if!(op, regs[d] as u32 != regs[s] as u32),
                0x66 => jump_if!(op, (regs[d] as i32) > imm as i32),
                0x6e => jump_if!(op, (regs[d] as i32) > regs[s] as i32),
                0x76 => jump_if!(op, (regs[d] as i32) >= imm as i32),
                0x7e => jump_if!(op, (regs[d] as i32) >= regs[s] as i32),
                0xa6 => jump_if!(op, (regs[d] as u32) < imm as u32),
                0xae => jump_if!(op, (regs[d] as u32) < regs[s] as u32),
                0xb6 => jump_if!(op, regs[d] as u32 <= imm as u32),
                0xbe => jump_if!(op, regs[d] as u32 <= regs[s] as u32),
                0xc6 => jump_if!(op, (regs[d] as i32) < imm as i32),
                0xce => jump_if!(op, (regs[d] as i32) < regs[s] as i32),
                0xd6 => jump_if!(op, regs[d] as i32 <= imm as i32),
                0xde => jump_if!(op, regs[d] as i32 <= regs[s] as i32),

                // Calls and exit.
                OP_LDMAP_LOOKUP | OP_MAP_LOOKUP => {
                    if op.code == OP_LDMAP_LOOKUP {
                        regs[1] = imm;
                        // Past the call: a fault names the call, pc - 1.
                        pc += 2;
                    }
                    let via_helper = self.inline_map(regs[1]).is_some_and(|m| m.via_helper);
                    if via_helper {
                        let Some(h) = self.registry.get(1) else {
                            return Err(VmError::UnknownHelper { pc: pc - 1, id: 1 });
                        };
                        call_helper!(h.as_ref(), 1);
                    } else {
                        map_lookup!();
                    }
                }
                0x85 => {
                    let h = &self.helpers[op.off as usize];
                    let id = self.helper_ids[op.off as usize];
                    call_helper!(h.as_ref(), id);
                }
                0x8d => {
                    let id = regs[d];
                    let Some(h) = i64::try_from(id).ok().and_then(|i| self.registry.get(i)) else {
                        return Err(VmError::BadCallx {
                            pc: pc - 1,
                            reg: op.dst,
                            value: id,
                        });
                    };
                    call_helper!(h.as_ref(), id as i64);
                }
                OP_CALL_LOCAL => {
                    if stack.depth + frames.len() + 1 >= MAX_CALL_FRAMES {
                        return Err(VmError::CallDepth {
                            pc: pc - 1,
                            max: MAX_CALL_FRAMES,
                        });
                    }
                    frames.push(Frame {
                        ret: pc,
                        saved: [regs[6], regs[7], regs[8], regs[9]],
                        fp: regs[10],
                        may_goto: std::mem::replace(&mut may_goto_left, MAY_GOTO_BUDGET),
                    });
                    regs[10] -= MAX_BPF_STACK as u64;
                    stack_lo -= MAX_BPF_STACK as u64;
                    // A fresh frame reads as zeros, whatever ran there before.
                    // SAFETY: [stack_lo, stack_lo + 512) is a frame of the
                    // run's stack buffer (the depth check keeps it inside).
                    unsafe { std::ptr::write_bytes(stack_lo as *mut u8, 0, MAX_BPF_STACK) };
                    transfer!(op.off as usize);
                }
                0x95 => match frames.pop() {
                    None => {
                        // The final exit is charged like any transfer.
                        executed += (pc - last) as u64;
                        if executed > budget {
                            return Err(VmError::BudgetExhausted { pc: pc - 1, budget });
                        }
                        *spent = executed;
                        return Ok(regs[0]);
                    }
                    Some(f) => {
                        transfer!(f.ret);
                        regs[6..10].copy_from_slice(&f.saved);
                        regs[10] = f.fp;
                        may_goto_left = f.may_goto;
                        stack_lo += MAX_BPF_STACK as u64;
                    }
                },
                _ => {
                    // OP_NONE (the second half of ld_imm64) and anything the
                    // decoder refused: the program checks make them
                    // unreachable, but a wrong answer must not be silent.
                    debug_assert_ne!(op.code, OP_NONE);
                    return Err(VmError::Unsupported {
                        pc: pc - 1,
                        what: format!("pre-decoded opcode {:#04x}", op.code),
                    });
                }
            }
        }
    }

    /// Calls a helper with r1-r5; `spent` is the budget used so far, and
    /// after the call (callbacks run instructions). A failed callback's
    /// error comes back beside the helper's.
    pub(crate) fn call_helper(
        &self,
        h: &dyn Helper,
        regs: &[u64; 16],
        memory: &RunMemory<'_>,
        state: &mut RunState,
        stack: StackView,
        spent: &mut u64,
    ) -> (Result<u64, HelperError>, Option<VmError>) {
        let mut nested = Nested {
            interp: self,
            memory,
            stack,
            spent: *spent,
            error: None,
        };
        // SAFETY: the run's regions and stack are live for the run (the
        // contract of `Interpreter::run`), and so for this call.
        let mut ctx =
            unsafe { HelperCtx::new(&memory.regions, (stack.lo, stack.top), memory.resolver) }
                .with_state(state)
                .with_callbacks(&mut nested);
        if let Some(maps) = &self.map_set {
            ctx = ctx.with_maps(maps);
        }
        let r = h.call(&mut ctx, [regs[1], regs[2], regs[3], regs[4], regs[5]]);
        *spent = nested.spent;
        (r, nested.error)
    }

    /// The slow path of a memory access: the context (whose pointer
    /// fields yield addresses), map values through the resolver, or a fault.
    /// `Ok(Some(v))`: a load of a context pointer field, whose value is `v`;
    /// `Ok(None)`: access the memory directly.
    #[cold]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn slow_access(
        &self,
        pc: usize,
        addr: u64,
        len: u64,
        access: Access,
        memory: &RunMemory<'_>,
        stack: (u64, u64),
    ) -> Result<Option<u64>, VmError> {
        if let Some(r) = memory.regions.find(addr, len) {
            if r.kind == RegionKind::Context {
                if let Some(ctx) = &memory.ctx {
                    return self.ctx_access(pc, ctx, addr - r.start, len, access);
                }
            }
            if r.writable || access == Access::Load {
                return Ok(None);
            }
        } else if let Some(r) = memory.resolver.and_then(|res| res.resolve(addr, len)) {
            if r.writable || access == Access::Load {
                return Ok(None);
            }
        } else if access == Access::Load && ironbpf_helpers::fib::socket_region(addr, len).is_some()
        {
            // A socket a lookup helper handed out (read-only).
            return Ok(None);
        }
        Err(self.fault(pc, addr, len, access, memory, stack))
    }

    /// A context access, judged by the program type's `is_valid_access`
    /// as the kernel's verifier judges it; loads of the packet pointer
    /// fields yield the packet's bounds.
    fn ctx_access(
        &self,
        pc: usize,
        ctx: &CtxView<'_>,
        off: u64,
        len: u64,
        access: Access,
    ) -> Result<Option<u64>, VmError> {
        let pt = ctx.prog_type;
        let kind = match access {
            Access::Load => AccessKind::Load,
            Access::Store => AccessKind::StoreReg,
            Access::Atomic => AccessKind::Atomic,
        };
        let ok = pt
            .is_valid_access(&access_of(off, len, kind, ctx))
            .map_err(|why| VmError::CtxAccess {
                pc,
                prog_type: pt.name.clone(),
                off,
                size: len,
                why: pt.explain_refusal(&access_of(off, len, kind, ctx), why),
            })?;
        Ok(match ok.yields {
            CtxYield::PtrToPacket => Some(ctx.data),
            CtxYield::PtrToPacketEnd => Some(ctx.data_end),
            CtxYield::PtrToPacketMeta => Some(ctx.data_meta),
            _ => None,
        })
    }

    pub(crate) fn fault(
        &self,
        pc: usize,
        addr: u64,
        len: u64,
        access: Access,
        memory: &RunMemory<'_>,
        stack: (u64, u64),
    ) -> VmError {
        let mut table = memory.regions.clone();
        if stack.1 > stack.0 {
            let _ = table.insert(MemoryRegion {
                start: stack.0,
                len: stack.1 - stack.0,
                kind: RegionKind::Stack,
                writable: true,
            });
        }
        let in_region = table.find(addr, len).copied();
        let fault = AccessFault {
            addr,
            len,
            access,
            nearest: in_region.or_else(|| table.nearest(addr)),
        };
        VmError::MemoryFault {
            pc,
            insn: self
                .insns
                .get(pc)
                .copied()
                .flatten()
                .map(|i| crate::describe(&i))
                .unwrap_or_default(),
            fault,
        }
    }
}

/// The question `is_valid_access` answers for an access at `off`.
fn access_of(off: u64, len: u64, kind: AccessKind, ctx: &CtxView<'_>) -> CtxAccess {
    CtxAccess {
        off: off as i64,
        size: len as u32,
        kind,
        attach_type: ctx.attach_type,
        privileged: true,
    }
}

pub(crate) fn helper_failed(pc: usize, id: i64, h: &dyn Helper, e: HelperError) -> VmError {
    VmError::HelperFailed {
        pc,
        id,
        name: h.name().to_string(),
        message: e.to_string(),
    }
}

/// Peephole fusion over the pre-decoded program. A pair is fused only when
/// nothing jumps to its second instruction, so the second op is never
/// entered on its own; it stays in place (a fused op skips it). Budget
/// accounting counts slots, so it is unchanged. Only ALU pairs (which
/// cannot fault) are fused, so every fault still names its own insn; and a
/// conditional jump followed by `ja` gets `aux = 1`: when not taken it
/// takes the `ja` without a second dispatch.
#[allow(
    clippy::indexing_slicing,
    reason = "every index is below n (`i + 1 < n`, `i + 2 < n` tested before use), a branch target tested in 0..=n into n + 1 entries, or a subprogram's first slot"
)]
fn fuse(prog: &Program, ops: &mut [Op]) {
    let n = ops.len();
    let mut target = vec![false; n + 1];
    for d in prog.insns() {
        if let Some(b) = d.insn.branch() {
            let rel = match b {
                ironbpf_isa::Branch::Always(r)
                | ironbpf_isa::Branch::Cond(r)
                | ironbpf_isa::Branch::Subprog(r) => r,
            };
            let t = d.pc as i64 + 1 + rel as i64;
            if (0..=n as i64).contains(&t) {
                target[t as usize] = true;
            }
        }
    }
    for sp in prog.subprogs() {
        target[sp.start] = true;
    }
    let mut i = 0;
    while i + 1 < n {
        let (a, b) = (ops[i], ops[i + 1]);
        if a.code == OP_LDIMM64
            && a.dst == 1
            && i + 2 < n
            && ops[i + 2].code == OP_MAP_LOOKUP
            && !target[i + 2]
        {
            // r1 = map[...] ; call bpf_map_lookup_elem (inline): the call
            // is the one that can fail, and its pc is the one reported.
            ops[i].code = OP_LDMAP_LOOKUP;
            i += 3;
            continue;
        }
        if target[i + 1] || a.code == OP_LDIMM64 {
            i += 1;
            continue;
        }
        let same_dst = a.dst == b.dst;
        match (a.code, b.code) {
            // mov64 rX, rY ; add64 rX, imm
            (0xbf, 0x07) if same_dst => {
                ops[i] = Op {
                    code: OP_MOV_ADD64_K,
                    imm: b.imm,
                    ..a
                };
                i += 2;
            }
            // mov64 rX, rY ; add64 rX, rZ (Z != X)
            (0xbf, 0x0f) if same_dst && b.src != b.dst => {
                ops[i] = Op {
                    code: OP_MOV_ADD64_X,
                    aux: b.src,
                    ..a
                };
                i += 2;
            }
            // mov32 wX, wY ; and32 wX, imm
            (0xbc, 0x54) if same_dst => {
                ops[i] = Op {
                    code: OP_MOV_AND32_K,
                    imm: b.imm,
                    ..a
                };
                i += 2;
            }
            // if ... goto A ; goto B
            (c, 0x05)
                if matches!(c & 0x07, 0x05 | 0x06) && !matches!(c & 0xf0, 0x00 | 0x80 | 0x90) =>
            {
                ops[i].aux = 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// `ld_abs`/`ld_ind` (`code`, with `x` the source register's value and
/// `imm`), for both engines: the loaded value, `None` when the load is out
/// of bounds (the program then ends with r0 = 0, as the kernel's
/// bpf_skb_load_helper_* make it), or why it cannot run.
pub(crate) fn ld_packet(
    code: u8,
    x: u64,
    imm: i64,
    memory: &RunMemory<'_>,
    state: &RunState,
) -> Result<Option<u64>, String> {
    let size: u64 = match code & 0x18 {
        BPF_W => 4,
        BPF_H => 2,
        _ => 1,
    };
    // The offset is a 32-bit int, as the kernel's bpf_skb_load_helper_*
    // take it.
    let base = if code & 0xe0 == BPF_IND { x as u32 } else { 0 };
    let k = base.wrapping_add(imm as u32) as i32 as i64;
    let Some(pkt) = memory
        .regions
        .regions()
        .iter()
        .find(|r| r.kind == ironbpf_isa::abi::RegionKind::Packet)
    else {
        return Err("ld_abs/ld_ind without a packet".to_string());
    };
    // Non-negative offsets count from skb->data (the packet region's
    // start). Negative ones are classic BPF's SKF_NET_OFF + k (from the
    // network header) and SKF_LL_OFF + k (from the MAC header); anything
    // below SKF_LL_OFF fails, and so does SKF_AD_OFF (-0x1000) + k, which
    // counts from the network header too and lands far past the packet.
    // With an skb's headers known, the kernel's rule
    // (bpf_internal_load_pointer_neg_helper): the MAC or network header
    // plus k, anywhere from the buffer's head to the packet's end, so a
    // socket filter, whose data starts after the MAC header, still reads
    // it.
    let headers = state
        .packet
        .filter(|p| p.kind == ironbpf_helpers::PacketKind::Skb);
    let a = match headers.and_then(|p| Some((p, p.mac_header?, p.network_header?))) {
        Some((p, mac, net)) if k < 0 => {
            let from = if k >= SKF_NET_OFF {
                Some(net.wrapping_add((k - SKF_NET_OFF) as u64))
            } else if k >= SKF_LL_OFF {
                Some(mac.wrapping_add((k - SKF_LL_OFF) as u64))
            } else {
                None
            };
            match from {
                Some(a) if a >= p.hard_start && a.saturating_add(size) <= p.data_end => a,
                _ => return Ok(None),
            }
        }
        _ => {
            let l2 = memory.ctx.is_some_and(|c| c.prog_type.skb_at_l2);
            let net = if l2 { ETH_HLEN } else { 0 };
            let off = if k >= 0 {
                k
            } else if k >= SKF_NET_OFF {
                net + (k - SKF_NET_OFF)
            } else if k >= SKF_LL_OFF {
                net - ETH_HLEN + (k - SKF_LL_OFF)
            } else {
                -1
            };
            if off < 0 || off as u64 + size > pkt.len {
                return Ok(None);
            }
            pkt.start + off as u64
        }
    };
    // SAFETY: [a, a + size) lies inside the packet region, or (negative
    // offsets of an skb) between the buffer's head and the packet's end,
    // which the run's Packet describes as one live buffer.
    Ok(Some(unsafe {
        match size {
            4 => u32::from_be(std::ptr::read_unaligned(a as *const u32)) as u64,
            2 => u16::from_be(std::ptr::read_unaligned(a as *const u16)) as u64,
            _ => std::ptr::read(a as *const u8) as u64,
        }
    }))
}

fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

fn sdiv32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        0
    } else {
        (a as i32).wrapping_div(b as i32) as u32 as u64
    }
}

fn smod32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        a as u32 as u64
    } else {
        (a as i32).wrapping_rem(b as i32) as u32 as u64
    }
}

fn atomic_index(op: AtomicOp) -> u8 {
    match op {
        AtomicOp::Add => 0,
        AtomicOp::Or => 1,
        AtomicOp::And => 2,
        AtomicOp::Xor => 3,
        AtomicOp::FetchAdd => 4,
        AtomicOp::FetchOr => 5,
        AtomicOp::FetchAnd => 6,
        AtomicOp::FetchXor => 7,
        AtomicOp::Xchg => 8,
        AtomicOp::CmpXchg => 9,
        AtomicOp::LoadAcquire | AtomicOp::StoreRelease => 10,
    }
}

/// Performs a read-modify-write atomic at `addr`, which the caller has
/// checked to be in a writable region and aligned to `size`.
#[allow(
    clippy::indexing_slicing,
    reason = "`s` is a register number masked to 0..15 by every caller, into the 16-entry file"
)]
pub(crate) fn atomic(kind: u8, size: u64, addr: u64, regs: &mut [u64; 16], s: usize) {
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
    let v = regs[s];
    if size == 8 {
        // SAFETY: the address is checked in bounds of live, writable memory
        // of this run and aligned to 8; other threads may access it only
        // atomically or through programs, as with the kernel.
        let a = unsafe { AtomicU64::from_ptr(addr as *mut u64) };
        let old = match kind {
            0 | 4 => a.fetch_add(v, SeqCst),
            1 | 5 => a.fetch_or(v, SeqCst),
            2 | 6 => a.fetch_and(v, SeqCst),
            3 | 7 => a.fetch_xor(v, SeqCst),
            8 => a.swap(v, SeqCst),
            _ => match a.compare_exchange(regs[0], v, SeqCst, SeqCst) {
                Ok(x) | Err(x) => x,
            },
        };
        match kind {
            4..=8 => regs[s] = old,
            9 => regs[0] = old,
            _ => {}
        }
    } else {
        // SAFETY: as above, aligned to 4.
        let a = unsafe { AtomicU32::from_ptr(addr as *mut u32) };
        let v = v as u32;
        let old = match kind {
            0 | 4 => a.fetch_add(v, SeqCst),
            1 | 5 => a.fetch_or(v, SeqCst),
            2 | 6 => a.fetch_and(v, SeqCst),
            3 | 7 => a.fetch_xor(v, SeqCst),
            8 => a.swap(v, SeqCst),
            _ => match a.compare_exchange(regs[0] as u32, v, SeqCst, SeqCst) {
                Ok(x) | Err(x) => x,
            },
        };
        // 32-bit fetches zero-extend into the 64-bit register.
        match kind {
            4..=8 => regs[s] = old as u64,
            9 => regs[0] = old as u64,
            _ => {}
        }
    }
}

// The JIT compiles these pre-decoded ops: their opcodes must be its own.
const _: () = {
    use ironbpf_jit::op;
    assert!(OP_SDIV32_K == op::OP_SDIV32_K && OP_SDIV32_X == op::OP_SDIV32_X);
    assert!(OP_SDIV64_K == op::OP_SDIV64_K && OP_SDIV64_X == op::OP_SDIV64_X);
    assert!(OP_SMOD32_K == op::OP_SMOD32_K && OP_SMOD32_X == op::OP_SMOD32_X);
    assert!(OP_SMOD64_K == op::OP_SMOD64_K && OP_SMOD64_X == op::OP_SMOD64_X);
    assert!(OP_MOVSX32_8 == op::OP_MOVSX32_8 && OP_MOVSX32_16 == op::OP_MOVSX32_16);
    assert!(OP_MOVSX64_8 == op::OP_MOVSX64_8 && OP_MOVSX64_16 == op::OP_MOVSX64_16);
    assert!(OP_MOVSX64_32 == op::OP_MOVSX64_32 && OP_CALL_LOCAL == op::OP_CALL_LOCAL);
    assert!(OP_MAP_LOOKUP == op::OP_MAP_LOOKUP && OP_LDMAP_LOOKUP == op::OP_LDMAP_LOOKUP);
    assert!(OP_LDIMM64 == op::OP_LDIMM64 && OP_NONE == op::OP_NONE);
    assert!(OP_MOV_ADD64_K == op::OP_MOV_ADD64_K && OP_MOV_ADD64_X == op::OP_MOV_ADD64_X);
    assert!(OP_MOV_AND32_K == op::OP_MOV_AND32_K);
    assert!(OP_ATOMIC_W == op::OP_ATOMIC_W && OP_ATOMIC_DW == op::OP_ATOMIC_DW);
};

/// Register numbers as the registers they name, for callers building
/// entry-register masks.
pub fn reg_mask(regs: &[Reg]) -> u16 {
    regs.iter().fold(0, |m, r| m | 1 << r.index())
}
