//! ironbpf-jit: x86-64 machine code for eBPF programs, generated with
//! dynasm.
//!
//! The compiler takes a program already pre-decoded by the engine that
//! owns its semantics ([`JitInsn`]: immediates sign-extended, jump targets
//! absolute, `ld_imm64` folded, the ISA v4 forms that share an opcode given
//! opcodes of their own, see [`op`]) and emits one function per program.
//! Registers r0-r10 live in x86 registers for the whole run; the run's
//! state is a `#[repr(C)]` [`JitCtx`] that r12 points to and that the
//! generated code and the runtime both read.
//!
//! Three modes ([`Mode`]): **checked** tests every load, store and atomic
//! inline against the run's hot region (packet or input memory; one
//! compare against a per-size count) or, for r10-based accesses, the
//! current call chain's stack, tests the other in a cold stub, and calls
//! out to the runtime's slow path for the rest (context fields, map
//! values, faults); r10-based accesses inside the current frame are not
//! tested when no instruction writes r10. It charges the instruction
//! budget at every control transfer (taken jumps, calls, exits: a fused
//! compare-and-branch on r9) so that it stops at the instruction where
//! the interpreter stops, with the interpreter's error. The inline test of
//! an access not based on r10 is `lea` + `cmp` on registers when the
//! program leaves some of r6-r9 free (minus the region's start and the
//! per-size counts live in theirs), and checked code with nothing to test
//! gets the direct entry. **Trusted**
//! emits no checks: only programs proven safe may run in it. **Verified**
//! is trusted code shaped by a verifier's proof ([`Facts`], from
//! `ironbpf_verifier::VerifiedProgram`): instructions no path reaches are
//! not compiled, and branches the verifier found always or never taken
//! become a jump or nothing. In every mode, ALU results that are the same
//! constant on every path are loaded as that constant: the JIT's own
//! constant propagation ([`constprop`], a meet over all paths, sound
//! without a proof) finds them. One test stays in trusted code: a 4-byte
//! load not based on r10 that falls in the context region reads a packet
//! pointer field (`data`, `data_end`) as the address it stands for, from
//! the run's table. Verified code keeps it only where its own
//! context-pointer analysis (the verifier's typing rules, `ctxptr`) cannot
//! tell: a load that cannot read the context loads directly, and, with
//! [`CompileOptions::ctx_ptr_fields`], one of a known context offset reads
//! the field as the kernel's rewritten access does. bpf-to-bpf calls in
//! trusted and verified code save only the r6-r9 the callee writes and
//! zero the callee's frame only as deep as the proof says; a 64-bit rotate
//! written as two shifts and an `or` is one `rol`; a load through a
//! register just set to another plus a constant, and dead after the load,
//! reads from the other at the summed offset.
//!
//! Patterns over several instructions (`select`): a jump over one
//! register write is a `cmov` and a binary search on a masked register
//! one indirect jump through a table of i32 offsets, where no budget is
//! charged; clang's byte-copy loop (`dst[i] = src[i]`, both off one base
//! register) gets, in every mode, a path that moves 32 bytes a turn while
//! none of those iterations would leave the loop and the copy does not
//! overlap forward by less than 32 (checked code: while both ends are in
//! the hot region and the budget covers the turn); otherwise the loop's
//! own code runs one iteration, which faults, charges and leaves as the
//! interpreter does.
//!
//! `may_goto` has a budget per call frame (8,388,608, the kernel's
//! `BPF_MAX_LOOPS`, as the interpreter counts) in a machine-stack slot
//! that every entry and bpf-to-bpf call pushes, only in programs that
//! have a `may_goto`.
//!
//! Whatever needs the runtime's Rust code (helper calls, `callx`, inline
//! map lookups, `ld_abs`/`ld_ind`, the fetching atomics `or`/`and`/`xor`)
//! goes through one trampoline, [`JitCtx::exec`], which is handed the BPF
//! pc and the registers and executes that instruction with the
//! interpreter's semantics.
//!
//! Code memory is written while mapped read-write and then made
//! read-execute (never both), by dynasmrt's `ExecutableBuffer`, which also
//! unmaps it on drop.
//!
//! Constant blinding ([`CompileOptions::harden`], the kernel's
//! `bpf_jit_harden`), in any mode: an instruction with an immediate is
//! compiled as its register form on r11, which holds the immediate rebuilt
//! as `mov r11, imm ^ key ; xor r11, key` with a fresh key per immediate;
//! stores of immediates go through r10, `ld_imm64` and folded constants
//! are rebuilt in their destination. No immediate the program chose
//! appears in its code, so none can smuggle in instruction bytes.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod constprop;
mod ctxptr;
pub mod disasm;
mod emit;
mod select;

pub use emit::{compile, compile_with, compile_with_arrays};
/// The verifier's proof the verified mode compiles from.
pub use ironbpf_verifier::VerifiedProgram;

use thiserror::Error;

/// The engine's opcodes for forms that share a real opcode, and its fused
/// superinstructions, taken from encodings no valid instruction uses. They
/// equal `ironbpf-vm`'s pre-decoded opcodes (the vm crate asserts it).
pub mod op {
    pub const OP_NONE: u8 = 0x00;
    pub const OP_LDIMM64: u8 = 0x18;
    pub const OP_SDIV32_K: u8 = 0x60;
    pub const OP_SDIV32_X: u8 = 0x68;
    pub const OP_SDIV64_K: u8 = 0x70;
    pub const OP_SDIV64_X: u8 = 0x78;
    pub const OP_SMOD32_K: u8 = 0x80;
    pub const OP_SMOD32_X: u8 = 0x88;
    pub const OP_SMOD64_K: u8 = 0x90;
    pub const OP_SMOD64_X: u8 = 0x98;
    pub const OP_MOVSX32_8: u8 = 0xa0;
    pub const OP_MOVSX32_16: u8 = 0xa8;
    pub const OP_MOVSX64_8: u8 = 0xb0;
    pub const OP_MOVSX64_16: u8 = 0xb8;
    pub const OP_MOVSX64_32: u8 = 0xc0;
    pub const OP_CALL_LOCAL: u8 = 0xc8;
    pub const OP_MOV_ADD64_K: u8 = 0xd0;
    pub const OP_MOV_ADD64_X: u8 = 0xd8;
    pub const OP_MOV_AND32_K: u8 = 0xe0;
    pub const OP_MAP_LOOKUP: u8 = 0xe8;
    pub const OP_LDMAP_LOOKUP: u8 = 0xf0;
    pub const OP_ATOMIC_W: u8 = 0xc3;
    pub const OP_ATOMIC_DW: u8 = 0xdb;
}

/// One pre-decoded instruction, as the engine's decoder produced it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitInsn {
    /// The opcode: a real one or one of [`op`]'s.
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    /// Atomics: the operation (0 add, 1 or, 2 and, 3 xor, 4-7 their fetch
    /// forms, 8 xchg, 9 cmpxchg); other fused forms' extra operand.
    pub aux: u8,
    /// The memory offset; for jumps and local calls the absolute target.
    pub off: i32,
    /// The immediate, sign-extended; the whole constant of `ld_imm64`.
    pub imm: i64,
}

/// How much the generated code checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Every memory access checked, the budget charged, call depth bounded:
    /// for programs nobody proved safe.
    Checked,
    /// No checks at all: for programs a verifier accepted.
    Trusted,
    /// No checks, and the verifier's facts used: dead code dropped, decided
    /// branches resolved, constants folded.
    Verified,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Checked => "checked",
            Mode::Trusted => "trusted",
            Mode::Verified => "verified",
        })
    }
}

/// What a verifier proved about each instruction slot, for the verified
/// mode. Only [`Facts::from_verified`] makes facts that prove something;
/// [`Facts::none`] proves nothing (every slot is then compiled as in
/// trusted mode).
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Per slot: some path reaches it (unreached slots are not compiled).
    reached: Vec<bool>,
    /// Per slot: the memory access is proven in bounds.
    access_in_bounds: Vec<bool>,
    /// Per slot, for a conditional jump: always (`Some(true)`) or never
    /// (`Some(false)`) taken.
    branch_always: Vec<Option<bool>>,
    /// The start slot of each subprogram and its stack depth in bytes (the
    /// most of its frame below r10 any path touches, read or written).
    subprog_depths: Vec<(usize, u32)>,
}

impl Facts {
    /// No facts: every check stays.
    pub fn none() -> Facts {
        Facts::default()
    }

    /// The facts of a verification: what `ironbpf_verifier` proved about
    /// each slot of the program it accepted. The verifier's constants are
    /// not taken: they are path-sensitive and do not hold after pruning;
    /// the JIT folds the constants of its own propagation
    /// ([`constprop`]) instead.
    pub fn from_verified(v: &ironbpf_verifier::VerifiedProgram) -> Facts {
        Facts {
            reached: v.reached().to_vec(),
            access_in_bounds: v.safe_access().to_vec(),
            branch_always: v.branch_always().to_vec(),
            subprog_depths: v
                .subprog_starts()
                .iter()
                .copied()
                .zip(v.stack_depths().iter().copied())
                .collect(),
        }
    }

    /// The proven stack depth of the subprogram that starts at slot
    /// `start` (None where nothing is known).
    pub fn stack_depth_at(&self, start: usize) -> Option<u32> {
        self.subprog_depths
            .iter()
            .find(|&&(s, _)| s == start)
            .map(|&(_, d)| d)
    }

    /// The subprograms' start slots, as the proof gives them (empty
    /// without one).
    pub fn subprog_starts(&self) -> impl Iterator<Item = usize> + '_ {
        self.subprog_depths.iter().map(|&(s, _)| s)
    }

    /// How many slots the facts cover (0 for [`Facts::none`]).
    pub fn len(&self) -> usize {
        self.reached.len()
    }

    /// Whether the facts cover no slot.
    pub fn is_empty(&self) -> bool {
        self.reached.is_empty()
    }

    /// Per slot: whether the memory access is proven in bounds (false
    /// where nothing is known).
    pub fn access_in_bounds(&self, pc: usize) -> bool {
        self.access_in_bounds.get(pc).copied().unwrap_or(false)
    }

    fn reached(&self, pc: usize) -> bool {
        self.reached.get(pc).copied().unwrap_or(true)
    }

    fn branch(&self, pc: usize) -> Option<bool> {
        self.branch_always.get(pc).copied().flatten()
    }
}

/// Everything [`compile_with`] takes besides the program.
#[derive(Clone, Copy, Debug)]
pub struct CompileOptions<'a> {
    /// How much the code checks.
    pub mode: Mode,
    /// The instruction budget checked code charges (slots; at or above
    /// 2^62 it is not charged).
    pub budget: u64,
    /// The verifier's facts (verified mode).
    pub facts: &'a Facts,
    /// The program's plain array maps, whose lookups trusted and verified
    /// code computes inline.
    pub arrays: &'a [InlineArray],
    /// The program's maps whose lookups trusted and verified code calls
    /// directly ([`LookupCall`]).
    pub lookups: &'a [LookupCall],
    /// Constant blinding, as the kernel's `bpf_jit_harden`: every
    /// immediate of the program (ALU and jump operands, store values, the
    /// whole constant of `ld_imm64`, and the constants the JIT folds from
    /// them) is emitted as `imm ^ key` and `key`, with a fresh key per
    /// immediate, and rebuilt in a register at run time, so that no
    /// immediate the program chose appears in the code. Memory and jump
    /// offsets, byte-swap widths and (on CPUs without BMI2) shift counts
    /// stay as they are, as in the kernel.
    pub harden: bool,
    /// The seed of the blinding keys: `None` draws a fresh one for each
    /// program (what hardening is for); a fixed seed gives the same code
    /// every time, for tests.
    pub blinding_seed: Option<u64>,
    /// Registers (bit r for BPF register r) the program is known to write
    /// before it reads them on every path (the engine's load check, the
    /// kernel's `R0 !read_ok`): the direct entry then leaves them as they
    /// are instead of zeroing them. 0 (the default) zeroes every register
    /// the program names.
    pub written_before_read: u16,
    /// Verified code for one program type: the context offsets of its
    /// packet pointer fields (`data`, `data_end`, `data_meta`; `u64::MAX`
    /// for none), as [`JitCtx::ptr_off`] will hold them at run time. A
    /// 4-byte load that the verifier's typing rules show reads the context
    /// at a known offset then reads the field's address from
    /// [`JitCtx::ptr_val`] (or the field itself) with no test, and one
    /// that cannot read the context loads directly. The code must then
    /// run only on contexts of that layout. `None`: every 4-byte load not
    /// based on r10 tests the context region.
    pub ctx_ptr_fields: Option<[u64; 3]>,
}

static NO_FACTS: Facts = Facts {
    reached: Vec::new(),
    access_in_bounds: Vec::new(),
    branch_always: Vec::new(),
    subprog_depths: Vec::new(),
};

impl Default for CompileOptions<'_> {
    /// Checked mode, no budget, no facts, no arrays, no blinding.
    fn default() -> Self {
        CompileOptions {
            mode: Mode::Checked,
            budget: u64::MAX,
            facts: &NO_FACTS,
            arrays: &[],
            lookups: &[],
            harden: false,
            blinding_seed: None,
            written_before_read: 0,
            ctx_ptr_fields: None,
        }
    }
}

/// A plain array map whose lookups trusted and verified code computes
/// inline, as the kernel's `array_map_gen_lookup` does: the value of key
/// `k` is at `base + k * stride` for `k < max_entries`, else the lookup
/// gives 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineArray {
    /// The map's handle, the value `r1 = map[...]` loads.
    pub handle: u64,
    /// The address of entry 0's value.
    pub base: u64,
    /// The bytes from one entry's value to the next.
    pub stride: u32,
    /// The number of entries.
    pub max_entries: u32,
}

/// A map whose lookups trusted and verified code calls directly, as the
/// kernel's JIT calls a hash map's own `map_lookup_elem`: no trampoline,
/// no dispatch. `func(obj, key)` (the C calling convention) gives the
/// value's address or 0; the run keeps its thread pinned to the maps'
/// epoch, which the returned address needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupCall {
    /// The map's handle, the value `r1 = map[...]` loads.
    pub handle: u64,
    /// The lookup's address.
    pub func: u64,
    /// Its first argument, the map.
    pub obj: u64,
}

/// Why a program could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JitError {
    /// dynasmrt could not map or protect code memory.
    #[error("cannot map code memory: {0}")]
    Memory(String),
    /// A jump or call whose target is outside the program.
    #[error("insn {pc}: jump target {target} is outside the program of {len} instructions")]
    BadTarget { pc: usize, target: i64, len: usize },
    /// Verified mode with facts for another program.
    #[error(
        "the verifier's facts cover {facts} slots; the program has {len}: they are not its proof"
    )]
    FactsMismatch { facts: usize, len: usize },
    /// The program is larger than the code generator's pc encoding allows.
    #[error("the program has {0} instructions; the JIT compiles at most 4,194,304")]
    TooLarge(usize),
    /// An instruction the code generator has no translation for yet.
    #[error("insn {pc}: the JIT does not compile {what} yet; run the program on the interpreter")]
    Unsupported { pc: usize, what: &'static str },
}

/// Statuses the runtime's functions return to the generated code.
pub mod status {
    /// Go on (for the slow memory path: access the memory directly).
    pub const CONTINUE: u64 = 0;
    /// The slow memory path produced the loaded value in
    /// [`super::JitCtx::slow_value`] (a context pointer field).
    pub const VALUE: u64 = 1;
    /// Stop the run normally with r0 = [`super::JitCtx::ret`].
    pub const STOP: u64 = 2;
    /// Stop the run with the error the runtime recorded.
    pub const ERROR: u64 = 3;
}

/// Errors the generated code raises itself, in [`JitCtx::err_kind`].
pub mod err {
    /// No error raised by the generated code.
    pub const NONE: u64 = 0;
    /// The instruction budget is exhausted at `err_pc`.
    pub const BUDGET: u64 = 1;
    /// A bpf-to-bpf call at `err_pc` nests too deep.
    pub const CALL_DEPTH: u64 = 2;
    /// The atomic at `err_pc` is misaligned: `err_addr`, 4 bytes.
    pub const MISALIGNED_W: u64 = 3;
    /// The atomic at `err_pc` is misaligned: `err_addr`, 8 bytes.
    pub const MISALIGNED_DW: u64 = 4;
    /// The runtime recorded the error (a slow path or `exec`).
    pub const RUNTIME: u64 = 5;
}

/// The slow memory path: `info` = pc << 8 | len << 2 | access (0 load, 1
/// store, 2 atomic), `addr` the address. Returns a [`status`]: CONTINUE to
/// access memory, VALUE for a loaded value in `slow_value`, ERROR.
pub type SlowFn = unsafe extern "sysv64" fn(ctx: *mut JitCtx, info: u64, addr: u64) -> u64;
/// Executes the instruction at `pc` with r0-r10 in [`JitCtx::regs`];
/// returns a [`status`]: CONTINUE, STOP or ERROR.
pub type ExecFn = unsafe extern "sysv64" fn(ctx: *mut JitCtx, pc: u64) -> u64;

/// The state of one run, shared by the generated code (through r12) and
/// the runtime. Field offsets are part of the generated code: the layout
/// is `#[repr(C)]` and asserted by a test.
#[repr(C)]
#[derive(Debug)]
pub struct JitCtx {
    /// r0-r10: set before entry (r1-r5 arguments, r10 the frame pointer);
    /// written by the trampolines before every call into the runtime, and
    /// read back after it.
    pub regs: [u64; 11],
    /// r0 when the run stopped.
    pub ret: u64,
    /// The stack pointer to unwind to on an error (one per entry; the
    /// entry saves the enclosing one).
    pub saved_rsp: u64,
    /// The lowest address of the current frame (checked mode).
    pub stack_lo: u64,
    /// The bytes from `stack_lo` to the top of the run's stack.
    pub stack_len: u64,
    /// The hot region (packet or input memory): its start...
    pub hot_lo: u64,
    /// ... its length for loads...
    pub hot_len_load: u64,
    /// ... and for stores and atomics (0 when read-only).
    pub hot_len_store: u64,
    /// The budget account: slots executed minus the pc where the current
    /// straight-line run started.
    pub spent: i64,
    /// The instruction budget (slots).
    pub budget: u64,
    /// Frames in use below the current one (bpf-to-bpf calls and
    /// callbacks).
    pub depth: u64,
    /// The value a slow-path load produced.
    pub slow_value: u64,
    /// A scratch slot of the trampolines.
    pub scratch: u64,
    /// An error raised by the generated code: one of [`err`].
    pub err_kind: u64,
    /// The pc it names.
    pub err_pc: u64,
    /// The address it names.
    pub err_addr: u64,
    /// The slow memory path.
    pub slow: SlowFn,
    /// The instruction trampoline's target.
    pub exec: ExecFn,
    /// The runtime's own state for the run, opaque to the generated code.
    pub runtime: *mut std::ffi::c_void,
    /// The context region, whose pointer fields a load must read through
    /// the runtime (it yields the addresses they stand for, as the kernel's
    /// `convert_ctx_access` rewrite does): trusted code sends loads in
    /// `[ctx_lo, ctx_lo + ctx_len)` to the slow path. 0, 0 for none.
    pub ctx_lo: u64,
    pub ctx_len: u64,
    /// Trusted and verified code: the context offsets of its packet pointer
    /// fields (`data`, `data_end`, `data_meta`; `u64::MAX` for none)...
    pub ptr_off: [u64; 3],
    /// ... and the addresses their 4-byte loads yield, read inline instead
    /// of through the runtime.
    pub ptr_val: [u64; 3],
    /// Checked code's inline hot-region test, per access size (1, 2, 4, 8
    /// bytes): how many start offsets from `hot_lo` a load of that size may
    /// have (`hot_len_load + 1 - size`, 0 when the region is smaller)...
    pub hot_cnt_load: [u64; 4],
    /// ... and a store or atomic (from `hot_len_store`). Set them with
    /// [`JitCtx::set_hot`].
    pub hot_cnt_store: [u64; 4],
}

impl JitCtx {
    /// Sets the hot region: its start, its length for loads and for stores
    /// (0: read-only), and the per-size counts the inline test reads.
    #[inline]
    pub fn set_hot(&mut self, lo: u64, len_load: u64, len_store: u64) {
        self.hot_lo = lo;
        self.hot_len_load = len_load;
        self.hot_len_store = len_store;
        let cnt = |len: u64| {
            [
                len,
                len.saturating_sub(1),
                len.saturating_sub(3),
                len.saturating_sub(7),
            ]
        };
        self.hot_cnt_load = cnt(len_load);
        self.hot_cnt_store = cnt(len_store);
    }
}

/// Field offsets, as the generated code uses them.
pub(crate) mod off {
    pub const RET: i32 = 88;
    pub const SAVED_RSP: i32 = 96;
    pub const STACK_LO: i32 = 104;
    pub const STACK_LEN: i32 = 112;
    pub const HOT_LO: i32 = 120;
    pub const SPENT: i32 = 144;
    pub const BUDGET: i32 = 152;
    pub const DEPTH: i32 = 160;
    pub const SLOW_VALUE: i32 = 168;
    pub const SCRATCH: i32 = 176;
    pub const ERR_KIND: i32 = 184;
    pub const ERR_PC: i32 = 192;
    pub const ERR_ADDR: i32 = 200;
    pub const SLOW: i32 = 208;
    pub const EXEC: i32 = 216;
    pub const CTX_LO: i32 = 232;
    pub const CTX_LEN: i32 = 240;
    pub const PTR_OFF: i32 = 248;
    pub const PTR_VAL: i32 = 272;
    pub const HOT_CNT_LOAD: i32 = 296;
    pub const HOT_CNT_STORE: i32 = 328;
}

/// The direct entry of [`JitCode::call_direct`]: `fn(r1, r2, r10) -> r0`.
pub type DirectFn = unsafe extern "sysv64" fn(u64, u64, u64) -> u64;

/// A compiled program: its code, where each BPF instruction's code starts,
/// and the entry trampoline.
pub struct JitCode {
    buf: dynasmrt::ExecutableBuffer,
    /// Compiled with constant blinding.
    hardened: bool,
    /// Per BPF slot: the offset of its first x86 byte.
    insn_offsets: Vec<usize>,
    /// Where the program's instructions end (stubs and trampolines follow).
    body_end: usize,
    mode: Mode,
    budgeted: bool,
    calls_exec: bool,
    direct_lookups: bool,
    /// The entry trampoline's address and the code's base address, taken
    /// once so that a run does not look them up.
    entry_fn: usize,
    /// The direct entry (trusted and verified code that calls no
    /// trampoline), see [`JitCode::call_direct`].
    direct_fn: Option<usize>,
    /// The direct entry that takes the caller's [`JitCtx`], see
    /// [`JitCode::call_direct_ctx`].
    direct_ctx_fn: Option<usize>,
    base_addr: usize,
}

impl std::fmt::Debug for JitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "JitCode {{ mode: {}{}, {} bytes for {} slots }}",
            self.mode,
            if self.hardened { ", hardened" } else { "" },
            self.buf.len(),
            self.insn_offsets.len()
        )
    }
}

impl JitCode {
    /// The mode it was compiled in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the immediates are blinded ([`CompileOptions::harden`]).
    pub fn hardened(&self) -> bool {
        self.hardened
    }

    /// Whether the code charges an instruction budget.
    pub fn budgeted(&self) -> bool {
        self.budgeted
    }

    /// Whether some instruction goes through [`JitCtx::exec`] (helper calls,
    /// `callx`, inline map lookups, `ld_abs`/`ld_ind`, fetching `or`/`and`/
    /// `xor`), or calls out of the code to a map's lookup
    /// ([`JitCode::direct_lookups`]): code that does neither needs the
    /// runtime only for its slow memory path, and no run state.
    pub fn calls_exec(&self) -> bool {
        self.calls_exec
    }

    /// Whether the code calls a map's lookup directly ([`LookupCall`]):
    /// its runs must keep the thread pinned to the maps' epoch.
    pub fn direct_lookups(&self) -> bool {
        self.direct_lookups
    }

    /// All the code bytes (body, stubs, trampolines).
    pub fn code(&self) -> &[u8] {
        &self.buf
    }

    /// The address the code is mapped at.
    pub fn base(&self) -> u64 {
        self.buf.ptr(dynasmrt::AssemblyOffset(0)) as u64
    }

    /// Per BPF slot, the offset of its first x86 byte (the second slot of
    /// an `ld_imm64` has an empty range).
    pub fn insn_offsets(&self) -> &[usize] {
        &self.insn_offsets
    }

    /// The offset where the instructions' code ends.
    pub fn body_end(&self) -> usize {
        self.body_end
    }

    /// The x86 bytes of BPF slot `pc` (none past the program's end).
    pub fn insn_code(&self, pc: usize) -> &[u8] {
        let Some(&start) = self.insn_offsets.get(pc) else {
            return &[];
        };
        let end = self
            .insn_offsets
            .get(pc + 1)
            .copied()
            .unwrap_or(self.body_end);
        self.buf.get(start..end).unwrap_or_default()
    }

    /// Runs the code from BPF slot `pc` (0 or the start of a subprogram)
    /// until its `exit`. Returns a [`status`]: CONTINUE (r0 in `ctx.ret`)
    /// or ERROR.
    ///
    /// # Safety
    ///
    /// `ctx` must be valid for the whole call, with `regs[10]` the top of a
    /// frame of a stack at least as deep as the program can nest (8 frames
    /// of 512 bytes), the function pointers set, and `hot_*`/`stack_*`
    /// describing live memory. In trusted mode the program must be one that
    /// touches only live memory and terminates: the code checks nothing.
    #[inline]
    pub unsafe fn enter(&self, ctx: *mut JitCtx, pc: usize) -> u64 {
        let entry: unsafe extern "sysv64" fn(*mut JitCtx, *const u8) -> u64 =
            std::mem::transmute(self.entry_fn);
        // Slot 0's code starts the buffer; a slot past the end has none
        // (the caller broke the contract: refuse rather than run).
        let start = match (pc, self.insn_offsets.get(pc)) {
            (0, _) => 0,
            (_, Some(&o)) => o,
            (_, None) => return status::ERROR,
        };
        let target = (self.base_addr + start) as *const u8;
        entry(ctx, target)
    }
}

impl JitCode {
    /// Whether [`JitCode::call_direct`] is available: trusted or verified
    /// code that never calls the runtime, or checked code with nothing to
    /// check (no access outside its own frame, no instruction budget, no
    /// call, no atomic): code that cannot fault whatever the input.
    #[inline]
    pub fn has_direct(&self) -> bool {
        self.direct_fn.is_some()
    }

    /// Runs the program from slot 0 with r1 = `r1`, r2 = `r2`, r10 =
    /// `r10` and every other register 0, straight from Rust into the code:
    /// no [`JitCtx`] is built (the entry makes the little the code reads
    /// on the machine stack). Returns r0, or `None` when the code has no
    /// direct entry ([`JitCode::has_direct`]).
    ///
    /// # Safety
    ///
    /// As for [`JitCode::enter`] in trusted mode: the program must touch
    /// only live memory (`r10` the top of a zeroed frame of a stack at
    /// least as deep as the program nests, 8 frames of 512 bytes, or 0 for
    /// a program that uses no stack) and must terminate.
    #[inline]
    pub unsafe fn call_direct(&self, r1: u64, r2: u64, r10: u64) -> Option<u64> {
        let f = self.direct_fn?;
        // SAFETY: `f` is the address of the direct entry this code was
        // compiled with, a System V function of three integers returning
        // one, mapped executable for as long as `self` lives.
        let direct: unsafe extern "sysv64" fn(u64, u64, u64) -> u64 = std::mem::transmute(f);
        Some(direct(r1, r2, r10))
    }

    /// The direct entry itself ([`JitCode::call_direct`]), for a host that
    /// keeps it beside its own tests so that its hot path loads one
    /// pointer; `None` when the code has none ([`JitCode::has_direct`]).
    /// Calling it has [`JitCode::call_direct`]'s safety conditions, and
    /// `self` must outlive every call.
    #[inline]
    pub fn direct_entry(&self) -> Option<DirectFn> {
        let f = self.direct_fn?;
        // SAFETY: `f` is the address of the direct entry this code was
        // compiled with, a System V function of three integers returning
        // one; the caller keeps `self` (and so the mapping) alive while it
        // calls it.
        Some(unsafe { std::mem::transmute::<usize, DirectFn>(f) })
    }

    /// Whether [`JitCode::call_direct_ctx`] is available: trusted or
    /// verified code that calls no trampoline but reads the run's
    /// [`JitCtx`] (its context region and packet pointer fields, or the
    /// frame bookkeeping of bpf-to-bpf calls). Code with a direct entry
    /// and no such entry reads no JitCtx at all: [`JitCode::call_direct`]
    /// runs it.
    #[inline]
    pub fn has_direct_ctx(&self) -> bool {
        self.direct_ctx_fn.is_some()
    }

    /// Runs the program from slot 0 with r1 = `r1`, r10 = `r10` and every
    /// other register 0, straight from Rust into the code, which reads
    /// `ctx`'s `ctx_lo`, `ctx_len`, `ptr_off`, `ptr_val` and keeps its
    /// `depth`, `stack_lo`, `stack_len` as bpf-to-bpf calls nest. Returns
    /// r0, or `None` when the code has no such entry
    /// ([`JitCode::has_direct_ctx`]).
    ///
    /// # Safety
    ///
    /// As for [`JitCode::call_direct`], and `ctx` must be valid for the
    /// whole call.
    #[inline]
    pub unsafe fn call_direct_ctx(&self, r1: u64, ctx: *mut JitCtx, r10: u64) -> Option<u64> {
        let f = self.direct_ctx_fn?;
        // SAFETY: `f` is the address of the context direct entry this code
        // was compiled with, a System V function of three integers
        // returning one, mapped executable for as long as `self` lives.
        let direct: unsafe extern "sysv64" fn(u64, *mut JitCtx, u64) -> u64 =
            std::mem::transmute(f);
        Some(direct(r1, ctx, r10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn the_context_layout_is_what_the_code_reads() {
        assert_eq!(offset_of!(JitCtx, regs), 0);
        assert_eq!(offset_of!(JitCtx, ret) as i32, off::RET);
        assert_eq!(offset_of!(JitCtx, saved_rsp) as i32, off::SAVED_RSP);
        assert_eq!(offset_of!(JitCtx, stack_lo) as i32, off::STACK_LO);
        assert_eq!(offset_of!(JitCtx, stack_len) as i32, off::STACK_LEN);
        assert_eq!(offset_of!(JitCtx, hot_lo) as i32, off::HOT_LO);
        assert_eq!(offset_of!(JitCtx, hot_len_load), 128);
        assert_eq!(offset_of!(JitCtx, hot_len_store), 136);
        assert_eq!(offset_of!(JitCtx, spent) as i32, off::SPENT);
        assert_eq!(offset_of!(JitCtx, budget) as i32, off::BUDGET);
        assert_eq!(offset_of!(JitCtx, depth) as i32, off::DEPTH);
        assert_eq!(offset_of!(JitCtx, slow_value) as i32, off::SLOW_VALUE);
        assert_eq!(offset_of!(JitCtx, scratch) as i32, off::SCRATCH);
        assert_eq!(offset_of!(JitCtx, err_kind) as i32, off::ERR_KIND);
        assert_eq!(offset_of!(JitCtx, err_pc) as i32, off::ERR_PC);
        assert_eq!(offset_of!(JitCtx, err_addr) as i32, off::ERR_ADDR);
        assert_eq!(offset_of!(JitCtx, slow) as i32, off::SLOW);
        assert_eq!(offset_of!(JitCtx, exec) as i32, off::EXEC);
        assert_eq!(offset_of!(JitCtx, ctx_lo) as i32, off::CTX_LO);
        assert_eq!(offset_of!(JitCtx, ctx_len) as i32, off::CTX_LEN);
        assert_eq!(offset_of!(JitCtx, ptr_off) as i32, off::PTR_OFF);
        assert_eq!(offset_of!(JitCtx, ptr_val) as i32, off::PTR_VAL);
        assert_eq!(offset_of!(JitCtx, hot_cnt_load) as i32, off::HOT_CNT_LOAD);
        assert_eq!(offset_of!(JitCtx, hot_cnt_store) as i32, off::HOT_CNT_STORE);
    }
}
