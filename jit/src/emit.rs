//! Instruction selection: one pass over the pre-decoded program, stubs for
//! the cold paths collected and emitted after the body, then the shared
//! trampolines.
//!
//! Register mapping (System V): r0 rax, r1 rdi, r2 rsi, r3 rdx, r4 rcx,
//! r5 r8, r6 rbx, r7 r13, r8 r14, r9 r15, r10 rbp; r12 holds the
//! [`JitCtx`]; r9 holds the budget account in checked mode; r10 and r11
//! are scratch. r6-r10 are callee-saved on both
//! sides, so helper calls need not save them.

use crate::op::*;
use crate::select::{JumpTable, Skipped};
use crate::{
    err, off, status, CompileOptions, Facts, InlineArray, JitCode, JitError, JitInsn, LookupCall,
    Mode,
};
use dynasmrt::x64::Assembler;
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi};

/// The x86 register of BPF register `r` (taken modulo 11).
const fn x86(r: u8) -> u8 {
    match r % 11 {
        0 => 0,
        1 => 7,
        2 => 6,
        3 => 2,
        4 => 1,
        5 => 8,
        6 => 3,
        7 => 13,
        8 => 14,
        9 => 15,
        _ => 5,
    }
}
const RCX: u8 = 1;
const FRAME: i32 = 512;
const MAX_CALL_FRAMES: i32 = 8;
/// `may_goto`'s budget per call frame (the kernel's `BPF_MAX_LOOPS`, what
/// the interpreter counts down from).
const MAY_GOTO_BUDGET: i32 = 8 * 1024 * 1024;
/// Where a frame's `may_goto` budget lives in a program that has one: the
/// machine-stack slot right above the return address of the x86 call that
/// entered the BPF function (rsp is the same everywhere in a function's
/// body: every push inside it is popped before the next instruction).
const MAY_GOTO_SLOT: i32 = 8;
const OP_MAY_GOTO: u8 = 0xe5;

/// A cold path, emitted after the body.
enum Stub {
    /// The slow memory path of an access: on CONTINUE back to `ok`; a
    /// load's VALUE goes to `load_dst` and on to `after`.
    Slow {
        label: DynamicLabel,
        ok: DynamicLabel,
        after: DynamicLabel,
        info: i32,
        load_dst: Option<u8>,
    },
    /// Checked code's second inline test (the stack, or for r10-based
    /// accesses the hot region), out of the straight path: r11 = base +
    /// off, then on to `ok` or `slow`.
    Second {
        label: DynamicLabel,
        base: u8,
        off: i32,
        len: i32,
        ok: DynamicLabel,
        slow: DynamicLabel,
        stack_second: bool,
        cnt: i32,
    },
    /// Trusted code's 4-byte load in the context (r10 = its offset there):
    /// a packet pointer field reads its address from the run's table into
    /// `dst` and goes on to `after`; any other field back to `ok`.
    CtxLoad {
        label: DynamicLabel,
        ok: DynamicLabel,
        after: DynamicLabel,
        dst: u8,
    },
    /// A `may_goto` whose frame's budget is spent: the slot, which the
    /// decrement took below 0, back to 0; the budget charge; the jump.
    MayGoto {
        label: DynamicLabel,
        pc: usize,
        target: usize,
    },
    /// A taken branch's budget charge, then the jump.
    Taken {
        label: DynamicLabel,
        pc: usize,
        target: usize,
    },
    /// A division's cold paths: `big`, the 64-bit `div` (rdx is 0 there)
    /// and back; `zero`, the division by zero (r11 = 0, or the dividend
    /// in rax for a remainder) and on to `done`.
    Div {
        big: DynamicLabel,
        back: DynamicLabel,
        zero: Option<DynamicLabel>,
        done: DynamicLabel,
        rem: bool,
    },
    /// An error the code raises: kind, pc (the address is in r11).
    Fail {
        label: DynamicLabel,
        kind: u64,
        pc: usize,
    },
}

#[derive(Clone, Copy)]
enum Cond {
    Eq,
    Ne,
    A,
    Ae,
    B,
    Be,
    G,
    Ge,
    L,
    Le,
    Set,
    /// `jset` not taken.
    Clear,
}

impl Cond {
    fn invert(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::A => Cond::Be,
            Cond::Be => Cond::A,
            Cond::Ae => Cond::B,
            Cond::B => Cond::Ae,
            Cond::G => Cond::Le,
            Cond::Le => Cond::G,
            Cond::Ge => Cond::L,
            Cond::L => Cond::Ge,
            Cond::Set => Cond::Clear,
            Cond::Clear => Cond::Set,
        }
    }
}

struct Emitter<'a> {
    a: Assembler,
    insns: &'a [JitInsn],
    /// The verifier's facts (verified mode; empty otherwise).
    facts: &'a Facts,
    /// The array maps whose lookups are inline (trusted and verified).
    arrays: &'a [InlineArray],
    /// The maps whose lookups are direct calls (trusted and verified).
    lookups: &'a [LookupCall],
    /// Some lookup is a direct call.
    direct_lookups: bool,
    /// Per slot: the destination's value after it when it is the same
    /// constant on every path ([`crate::constprop`]).
    consts: Vec<Option<u64>>,
    /// Per slot: some jump, call or jump table lands on it
    /// ([`crate::select`]).
    targets: Vec<bool>,
    /// The decision trees compiled as jump tables, by root slot.
    tables: Vec<JumpTable>,
    /// Each table's label and its destinations, emitted after the stubs.
    table_code: Vec<(DynamicLabel, Vec<usize>)>,
    labels: Vec<DynamicLabel>,
    stubs: Vec<Stub>,
    checked: bool,
    /// Verified code: r1-r5 are unreadable after every call, as the
    /// verifier proved.
    verified: bool,
    budgeted: bool,
    /// The CPU has BMI2 (shlx/shrx/sarx for shifts by a register).
    bmi2: bool,
    /// Constant blinding ([`CompileOptions::harden`]): the keys, drawn
    /// one per immediate from a generator seeded per program.
    blind: Option<Blinder>,
    /// Some instruction calls the instruction trampoline.
    calls_exec: bool,
    /// Some instruction reads or writes the run's context through r12
    /// (trusted code: the context test of 4-byte loads, bpf-to-bpf calls).
    uses_ctx: bool,
    /// Checked code that reads the run's context or may stop with an
    /// error (a tested access, a budget charge, a bpf-to-bpf call, an
    /// atomic's alignment test): code without any of these is trusted
    /// code in all but name, and gets the direct entry too.
    checked_needs_ctx: bool,
    /// Registers (bit per BPF register) the program never reads before
    /// writing them ([`CompileOptions::written_before_read`]): the direct
    /// entry need not zero them.
    written_before_read: u16,
    /// The slot whose result the fused instruction before it computed
    /// (`mov` + `add` as one `lea`, `mov32` + `and32 0xff` as one `movzx`):
    /// it emits nothing.
    done_by_previous: Option<usize>,
    /// Slots below this one were computed by a fused rotate
    /// ([`Emitter::rotate`]): they emit nothing.
    skip_to: usize,
    /// [`Emitter::callee_writes`] by call target: the registers written.
    callee_cache: Vec<(usize, u16)>,
    /// No instruction writes r10: it is the top of the current frame
    /// throughout, and checked code need not test `r10 - 512..r10`.
    r10_fixed: bool,
    /// Checked code: the x86 register (that of a BPF register among r6-r9
    /// the program never names, callee-saved for the runtime's calls)
    /// holding minus the hot region's start for the whole run, so that the
    /// inline test is `lea r10, [base + it + off] ; cmp r10, count`. Set
    /// by the entry, and again wherever the runtime may have moved the
    /// region or the register's BPF value was reloaded (after the
    /// instruction trampoline and bpf-to-bpf calls).
    hot_reg: Option<u8>,
    /// Checked code: the per-size counts of the hot region's inline test
    /// (by their offset in the context) that live in registers the program
    /// leaves free too, the most used first; set where
    /// [`Emitter::hot_reg`] is.
    cnt_regs: Vec<(i32, u8)>,
    /// Some instruction is a `may_goto`: every entry into a BPF function
    /// (the entries, bpf-to-bpf calls) pushes a full budget for its frame
    /// at [`MAY_GOTO_SLOT`]. Code without one has no slot.
    may_goto: bool,
    /// bpf-to-bpf calls keep the run's frame bookkeeping (depth, the
    /// current frame's bounds) in the context, which checked code tests
    /// and the runtime reads: off in trusted and verified code that never
    /// calls the runtime.
    frame_books: bool,
    /// Verified code: per slot, the base register of a load as the
    /// context-pointer analysis ([`crate::ctxptr`]) sees it.
    ctx_bases: Vec<Option<crate::ctxptr::CtxVal>>,
    /// Verified code: the packet pointer fields' context offsets the code
    /// may assume ([`CompileOptions::ctx_ptr_fields`]).
    ctx_fields: Option<[u64; 3]>,
    error_exit: DynamicLabel,
    /// A `ud2`: where a jump to a slot outside the program would go (none
    /// does: targets are checked before compiling).
    trap: DynamicLabel,
    stop_exit: DynamicLabel,
    slow_mem: DynamicLabel,
    exec_rt: DynamicLabel,
    zero_frame: DynamicLabel,
}

/// Compiles `insns` (one per slot, as the engine pre-decoded them) in
/// `mode`. In checked mode with a `budget` below 2^62, the code charges every
/// control transfer and stops when more than `budget` slots have run.
pub fn compile(
    insns: &[JitInsn],
    mode: Mode,
    budget: u64,
    facts: &Facts,
) -> Result<JitCode, JitError> {
    compile_with(
        insns,
        &CompileOptions {
            mode,
            budget,
            facts,
            ..CompileOptions::default()
        },
    )
}

/// [`compile`], with the program's plain array maps: in trusted and
/// verified code, a lookup fused with its `r1 = map[...]`
/// (`OP_LDMAP_LOOKUP` two slots before) in one of them is computed inline.
pub fn compile_with_arrays(
    insns: &[JitInsn],
    mode: Mode,
    budget: u64,
    facts: &Facts,
    arrays: &[InlineArray],
) -> Result<JitCode, JitError> {
    compile_with(
        insns,
        &CompileOptions {
            mode,
            budget,
            facts,
            arrays,
            ..CompileOptions::default()
        },
    )
}

/// [`compile`] with every option ([`CompileOptions`]).
pub fn compile_with(insns: &[JitInsn], opts: &CompileOptions<'_>) -> Result<JitCode, JitError> {
    match compile_inner(insns, opts, false)? {
        Some(code) => Ok(code),
        // An instruction the scan did not expect went to the runtime, which
        // reads the frame bookkeeping of bpf-to-bpf calls: with it.
        None => compile_inner(insns, opts, true)?.ok_or(JitError::Unsupported {
            pc: 0,
            what: "code that calls the runtime without the frame bookkeeping",
        }),
    }
}

/// Whether some instruction of trusted or verified code may go through
/// the instruction trampoline (helper calls, `callx`, map lookups,
/// `ld_abs`/`ld_ind`, the fetching `or`/`and`/`xor`), whose runtime reads
/// the frames of bpf-to-bpf calls from the run's context.
fn may_call_runtime(insns: &[JitInsn]) -> bool {
    insns.iter().any(|i| {
        matches!(
            i.code,
            0x85 | 0x8d | OP_MAP_LOOKUP | 0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50
        ) || matches!(i.code, OP_ATOMIC_W | OP_ATOMIC_DW) && matches!(i.aux, 5..=7)
    })
}

/// `compile_with`; `None` when the code went to the runtime without the
/// frame bookkeeping, which `force_books` turns on.
fn compile_inner(
    insns: &[JitInsn],
    opts: &CompileOptions<'_>,
    force_books: bool,
) -> Result<Option<JitCode>, JitError> {
    let CompileOptions {
        mode,
        budget,
        facts,
        arrays,
        lookups,
        harden,
        blinding_seed,
        written_before_read,
        ctx_ptr_fields,
    } = *opts;
    let n = insns.len();
    if n >= 1 << 22 {
        return Err(JitError::TooLarge(n));
    }
    let verified = mode == Mode::Verified;
    let none = Facts::none();
    let facts = if verified { facts } else { &none };
    if !facts.is_empty() && facts.len() != n {
        return Err(JitError::FactsMismatch {
            facts: facts.len(),
            len: n,
        });
    }
    for (pc, i) in insns.iter().enumerate() {
        let is_jump = matches!(i.code & 0x07, 0x05 | 0x06) && !matches!(i.code & 0xf0, 0x80 | 0x90)
            || i.code == OP_CALL_LOCAL;
        if is_jump && (i.off < 0 || i.off as usize >= n) {
            return Err(JitError::BadTarget {
                pc,
                target: i.off as i64,
                len: n,
            });
        }
    }
    let mut a = Assembler::new().map_err(|e| JitError::Memory(e.to_string()))?;
    let labels = (0..n).map(|_| a.new_dynamic_label()).collect();
    let error_exit = a.new_dynamic_label();
    let trap = a.new_dynamic_label();
    let stop_exit = a.new_dynamic_label();
    let slow_mem = a.new_dynamic_label();
    let exec_rt = a.new_dynamic_label();
    let zero_frame = a.new_dynamic_label();
    let checked = mode == Mode::Checked;
    let budgeted = checked && budget < 1 << 62;
    let mut targets = crate::select::jump_targets(insns);
    // Jump tables skip the tree's jumps, whose transfers a budget counts;
    // in verified code, every destination must be code the proof reached.
    let tables: Vec<JumpTable> = if budgeted {
        Vec::new()
    } else {
        crate::select::jump_tables(insns, &targets)
            .into_iter()
            .filter(|t| !verified || t.leaves.iter().all(|&l| facts.reached(l)))
            .collect()
    };
    for t in &tables {
        for &l in &t.leaves {
            if let Some(x) = targets.get_mut(l) {
                *x = true;
            }
        }
    }
    let mut e = Emitter {
        a,
        insns,
        facts,
        arrays,
        lookups,
        direct_lookups: false,
        verified,
        consts: crate::constprop::const_results(insns),
        targets,
        tables,
        table_code: Vec::new(),
        labels,
        stubs: Vec::new(),
        checked,
        // A budget past 2^62 slots is never reached (centuries of running):
        // such code is not charged, which keeps the account's arithmetic
        // far from overflow.
        budgeted,
        bmi2: std::is_x86_feature_detected!("bmi2"),
        blind: harden.then(|| Blinder::new(blinding_seed.unwrap_or_else(fresh_seed))),
        calls_exec: false,
        uses_ctx: false,
        checked_needs_ctx: false,
        written_before_read,
        done_by_previous: None,
        skip_to: 0,
        callee_cache: Vec::new(),
        r10_fixed: !insns.iter().any(writes_r10),
        may_goto: insns.iter().any(|i| i.code == OP_MAY_GOTO),
        hot_reg: None,
        cnt_regs: Vec::new(),
        frame_books: checked || force_books || may_call_runtime(insns),
        ctx_bases: if verified {
            crate::ctxptr::load_bases(insns)
        } else {
            Vec::new()
        },
        ctx_fields: if verified { ctx_ptr_fields } else { None },
        error_exit,
        trap,
        stop_exit,
        slow_mem,
        exec_rt,
        zero_frame,
    };
    if checked {
        (e.hot_reg, e.cnt_regs) = hot_registers(insns);
    }
    // Checked code: loop heads (targets of backward jumps) start on a
    // 32-byte boundary, so that the loop's place in the code does not
    // decide how fast its tests run.
    let mut loop_head = vec![false; if checked { n } else { 0 }];
    for (pc, i) in insns.iter().enumerate() {
        let jump = matches!(i.code & 0x07, 0x05 | 0x06) && !matches!(i.code & 0xf0, 0x80 | 0x90);
        if jump && (i.off as usize) <= pc {
            if let Some(h) = loop_head.get_mut(i.off as usize) {
                *h = true;
            }
        }
    }
    let mut insn_offsets = Vec::with_capacity(n);
    for (pc, insn) in insns.iter().enumerate() {
        if loop_head.get(pc).copied().unwrap_or(false) {
            dynasm!(e.a ; .arch x64 ; .align 32);
        }
        insn_offsets.push(e.a.offset().0);
        let l = e.label(pc);
        dynasm!(e.a ; .arch x64 ; =>l);
        if verified && !facts.reached(pc) {
            // Dead code: not compiled. No reached instruction falls into it
            // (the verifier's proof); should one do so, it traps here
            // rather than run on. The second slot of an `ld_imm64` is
            // never reached itself and is no entry.
            let falls_in = pc == 0 || facts.reached(pc - 1);
            if falls_in && insn.code != OP_NONE {
                dynasm!(e.a ; .arch x64 ; ud2);
            }
            continue;
        }
        e.insn(pc);
    }
    let body_end = e.a.offset().0;
    e.emit_stubs();
    e.emit_tables();
    let entry = e.emit_runtime();
    let first = e.labels.first().copied();
    // Checked code that tests nothing and raises nothing is trusted code
    // in all but name: it gets the direct entry too.
    let can_fault = checked && e.checked_needs_ctx;
    let direct = (!e.calls_exec && !can_fault).then(|| e.emit_direct_entry(first));
    // Trusted and verified code that addresses the run's context (the
    // context test of 4-byte loads, bpf-to-bpf calls): a direct entry that
    // takes the caller's JitCtx instead of building an empty one.
    let direct_ctx =
        (direct.is_some() && !checked && e.uses_ctx).then(|| e.emit_direct_ctx_entry(first));
    let budgeted = e.budgeted;
    let calls_exec = e.calls_exec;
    let direct_lookups = e.direct_lookups;
    let e_books_missing = e.calls_exec && !e.frame_books;
    let buf =
        e.a.finalize()
            .map_err(|_| JitError::Memory("dynasmrt could not finalize the code".into()))?;
    let entry_fn = buf.ptr(entry) as usize;
    let direct_fn = direct.map(|d| buf.ptr(d) as usize);
    let direct_ctx_fn = direct_ctx.map(|d| buf.ptr(d) as usize);
    let base_addr = buf.ptr(dynasmrt::AssemblyOffset(0)) as usize;
    if e_books_missing {
        return Ok(None);
    }
    Ok(Some(JitCode {
        buf,
        hardened: harden,
        insn_offsets,
        body_end,
        mode,
        budgeted,
        calls_exec,
        direct_lookups,
        entry_fn,
        direct_fn,
        direct_ctx_fn,
        base_addr,
    }))
}

/// The BPF registers (bit r for r) the program names, and so may read or
/// write: every instruction's dst and src fields, and what some read or
/// write without naming it (r0 of atomics, the arguments and frame of
/// bpf-to-bpf calls, r6 of `ld_abs`/`ld_ind`).
fn used_regs(insns: &[JitInsn]) -> u16 {
    let mut used = 0u16;
    for i in insns {
        used |= 1 << (i.dst % 11) | 1 << (i.src % 11);
        if i.code == OP_MOV_ADD64_X {
            used |= 1 << (i.aux % 11);
        }
        if matches!(i.code, OP_ATOMIC_W | OP_ATOMIC_DW) {
            used |= 1;
        }
        if i.code == OP_CALL_LOCAL {
            // Arguments r1-r5; the callee's frame is below r10.
            used |= 0x3f | 1 << 10;
        }
        if matches!(i.code, 0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50) {
            // ld_abs/ld_ind: the context in r6, r0-r5 written.
            used |= 0x7f;
        }
    }
    used
}

/// The offset in the context of the count the hot region's inline test
/// of an access of `len` bytes compares with: a load's, or a store's and
/// an atomic's.
/// The bytes the fast path of a byte-copy loop moves at once
/// ([`Emitter::copy_loop_fast_path`]).
const COPY_CHUNK: i64 = 32;

fn hot_cnt_offset(len: i32, load: bool) -> i32 {
    let k = match len {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    };
    if load {
        off::HOT_CNT_LOAD + 8 * k
    } else {
        off::HOT_CNT_STORE + 8 * k
    }
}

/// Checked code's registers for the hot region's inline test, among the
/// x86 registers of r6-r9 the program never names (callee-saved for the
/// runtime's functions): one for minus the region's start, the others for
/// the counts its accesses not based on r10 compare with, the most used
/// first.
fn hot_registers(insns: &[JitInsn]) -> (Option<u8>, Vec<(i32, u8)>) {
    let used = used_regs(insns);
    let mut free = [9u8, 8, 7, 6]
        .into_iter()
        .filter(|&r| used & (1 << r) == 0)
        .map(x86);
    let Some(hot) = free.next() else {
        return (None, Vec::new());
    };
    let mut uses: Vec<(i32, usize)> = Vec::new();
    for i in insns {
        let len = match i.code & 0x18 {
            0x00 => 4,
            0x08 => 2,
            0x10 => 1,
            _ => 8,
        };
        let (base, load) = match i.code {
            0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91 => (i.src, true),
            0x62 | 0x6a | 0x72 | 0x7a | 0x63 | 0x6b | 0x73 | 0x7b => (i.dst, false),
            OP_ATOMIC_W if !matches!(i.aux, 5..=7) => (i.dst, false),
            OP_ATOMIC_DW if !matches!(i.aux, 5..=7) => (i.dst, false),
            _ => continue,
        };
        if base == 10 {
            continue;
        }
        let o = hot_cnt_offset(len, load);
        match uses.iter_mut().find(|(c, _)| *c == o) {
            Some(u) => u.1 += 1,
            None => uses.push((o, 1)),
        }
    }
    uses.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let cnt = uses
        .into_iter()
        .zip(free)
        .map(|((o, _), r)| (o, r))
        .collect();
    (Some(hot), cnt)
}

/// Sets checked code's hot-region registers ([`hot_registers`]) from the
/// context.
fn load_hot_registers(a: &mut Assembler, hot: Option<u8>, cnt: &[(i32, u8)]) {
    let Some(h) = hot else {
        return;
    };
    dynasm!(a ; .arch x64
        ; mov Rq(h), [r12 + off::HOT_LO]
        ; neg Rq(h)
    );
    for &(o, r) in cnt {
        dynasm!(a ; .arch x64 ; mov Rq(r), [r12 + o]);
    }
}

/// Whether the instruction may write r10 (conservatively: any with r10 as
/// destination that is not a store or a jump, and fetching atomics whose
/// source is r10).
fn writes_r10(i: &JitInsn) -> bool {
    let atomic = matches!(i.code, OP_ATOMIC_W | OP_ATOMIC_DW);
    (i.dst == 10 && !matches!(i.code & 0x07, 0x02 | 0x03 | 0x05 | 0x06)) || (atomic && i.src == 10)
}

/// Whether `[base]` encodes without a displacement: rbp and r13 as a base
/// always take one (their no-displacement encoding means rip-relative).
fn no_disp_base(base: u8) -> bool {
    base & 7 != 5
}

fn fits_i32(v: i64) -> bool {
    v == v as i32 as i64
}

/// The source register a blinded instruction's register form names: not a
/// BPF register; the emitter reads it as x86 r11.
const BLINDED_SRC: u8 = 0xff;

/// The blinding keys of one program: SplitMix64 from a per-program seed,
/// one fresh key per immediate (the kernel's `bpf_jit_blind_insn` draws one
/// per instruction too).
struct Blinder {
    state: u64,
}

impl Blinder {
    fn new(seed: u64) -> Blinder {
        Blinder { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A key for the 32-bit immediate `imm`: neither 0 nor `imm`, so that
    /// neither `imm ^ key` nor `key` is `imm`.
    fn key32(&mut self, imm: u32) -> u32 {
        loop {
            let k = self.next() as u32;
            if k != 0 && k != imm {
                return k;
            }
        }
    }

    /// A key for the 64-bit `v`: no 32-bit half of `v ^ key` or of `key`
    /// equals a half of `v`.
    fn key64(&mut self, v: u64) -> u64 {
        let halves = |x: u64| [x as u32, (x >> 32) as u32];
        loop {
            let k = self.next();
            let hidden = halves(v);
            let shown = [halves(v ^ k), halves(k)];
            if shown.iter().flatten().all(|h| !hidden.contains(h)) {
                return k;
            }
        }
    }
}

/// A seed no two programs share and nobody predicts: std's per-process
/// random SipHash keys (drawn from the OS), with a counter and the time.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

impl Emitter<'_> {
    /// The label of slot `pc`'s code.
    fn label(&self, pc: usize) -> DynamicLabel {
        self.labels.get(pc).copied().unwrap_or(self.trap)
    }

    fn insn(&mut self, pc: usize) {
        let Some(&i) = self.insns.get(pc) else {
            return;
        };
        if self.done_by_previous.take() == Some(pc) {
            // The fused form at pc - 1 computed this slot's result too.
            return;
        }
        if pc < self.skip_to {
            // A rotate at an earlier slot computed this one's result.
            return;
        }
        if i.code == OP_MOV_ADD64_X {
            self.copy_loop_fast_path(pc);
        }
        if let Some(end) = self.rotate(pc) {
            self.skip_to = end;
            return;
        }
        let d = x86(i.dst);
        // A result the same on every path (the JIT's own constant
        // propagation, sound in every mode; the verifier's path-sensitive
        // constants are not used: they do not hold after pruning).
        if let Some(v) = self
            .consts
            .get(pc)
            .copied()
            .flatten()
            .filter(|_| crate::constprop::pure_alu(i.code))
        {
            self.mov_const(d, v);
            return;
        }
        // Constant blinding: an instruction with an immediate becomes its
        // register form on r11, which holds the immediate rebuilt from two
        // blinded halves.
        let i = if self.blind.is_some() {
            self.blind_insn(i)
        } else {
            i
        };
        let s = if i.src == BLINDED_SRC { 11 } else { x86(i.src) };
        let imm = i.imm;
        let imm32 = imm as i32;
        match i.code {
            OP_NONE => {}
            // ALU64.
            0x07 => self.alu64_k(0, d, imm32),
            0x0f => dynasm!(self.a ; .arch x64 ; add Rq(d), Rq(s)),
            0x17 => self.alu64_k(1, d, imm32),
            0x1f => dynasm!(self.a ; .arch x64 ; sub Rq(d), Rq(s)),
            0x27 if imm32 == imm32 as i8 as i32 => {
                dynasm!(self.a ; .arch x64 ; imul Rq(d), Rq(d), BYTE imm32 as i8)
            }
            0x27 => dynasm!(self.a ; .arch x64 ; imul Rq(d), Rq(d), DWORD imm32),
            0x2f => dynasm!(self.a ; .arch x64 ; imul Rq(d), Rq(s)),
            0x47 => self.alu64_k(2, d, imm32),
            0x4f => dynasm!(self.a ; .arch x64 ; or Rq(d), Rq(s)),
            0x57 => self.alu64_k(3, d, imm32),
            0x5f => dynasm!(self.a ; .arch x64 ; and Rq(d), Rq(s)),
            0xa7 => self.alu64_k(4, d, imm32),
            0xaf => dynasm!(self.a ; .arch x64 ; xor Rq(d), Rq(s)),
            0x87 => dynasm!(self.a ; .arch x64 ; neg Rq(d)),
            0xb7 => {
                if imm == 0 {
                    dynasm!(self.a ; .arch x64 ; xor Rd(d), Rd(d));
                } else {
                    dynasm!(self.a ; .arch x64 ; mov Rq(d), imm32);
                }
            }
            // mov + add: one lea, and nothing for the add's slot.
            OP_MOV_ADD64_X => {
                let t = x86(i.aux);
                dynasm!(self.a ; .arch x64 ; lea Rq(d), [Rq(s) + Rq(t)]);
                self.done_by_previous = Some(pc + 1);
            }
            OP_MOV_ADD64_K if self.blind.is_none() => {
                if let Some(load) = self.load_through_lea(pc, i) {
                    // The load reads [s + imm + off] itself; the lea's
                    // register is dead after it.
                    self.skip_to = pc + 3;
                    self.load(pc + 2, load, x86(load.dst), s);
                    return;
                }
                dynasm!(self.a ; .arch x64 ; lea Rq(d), [Rq(s) + imm32]);
                self.done_by_previous = Some(pc + 1);
            }
            0xbf | OP_MOV_ADD64_K => {
                if d != s {
                    dynasm!(self.a ; .arch x64 ; mov Rq(d), Rq(s));
                }
            }
            0x67 => dynasm!(self.a ; .arch x64 ; shl Rq(d), (imm32 & 63) as i8),
            0x77 => dynasm!(self.a ; .arch x64 ; shr Rq(d), (imm32 & 63) as i8),
            0xc7 => dynasm!(self.a ; .arch x64 ; sar Rq(d), (imm32 & 63) as i8),
            0x6f => self.shift_x(0, true, d, s),
            0x7f => self.shift_x(1, true, d, s),
            0xcf => self.shift_x(2, true, d, s),
            0x37 => self.divmod(d, None, imm, true, false, false),
            0x3f => self.divmod(d, Some(s), 0, true, false, false),
            0x97 => self.divmod(d, None, imm, true, false, true),
            0x9f => self.divmod(d, Some(s), 0, true, false, true),
            OP_SDIV64_K => self.divmod(d, None, imm, true, true, false),
            OP_SDIV64_X => self.divmod(d, Some(s), 0, true, true, false),
            OP_SMOD64_K => self.divmod(d, None, imm, true, true, true),
            OP_SMOD64_X => self.divmod(d, Some(s), 0, true, true, true),
            0xd7 | 0xdc => self.bswap(d, imm32),
            0xd4 => match imm32 {
                16 => dynasm!(self.a ; .arch x64 ; movzx Rd(d), Rw(d)),
                32 => dynasm!(self.a ; .arch x64 ; mov Rd(d), Rd(d)),
                _ => {}
            },
            OP_MOVSX64_8 => dynasm!(self.a ; .arch x64 ; movsx Rq(d), Rb(s)),
            OP_MOVSX64_16 => dynasm!(self.a ; .arch x64 ; movsx Rq(d), Rw(s)),
            OP_MOVSX64_32 => dynasm!(self.a ; .arch x64 ; movsxd Rq(d), Rd(s)),
            // ALU32: the 32-bit forms zero-extend by themselves.
            0x04 => self.alu_k(0, false, d, imm32),
            0x0c => dynasm!(self.a ; .arch x64 ; add Rd(d), Rd(s)),
            0x14 => self.alu_k(1, false, d, imm32),
            0x1c => dynasm!(self.a ; .arch x64 ; sub Rd(d), Rd(s)),
            0x24 if imm32 == imm32 as i8 as i32 => {
                dynasm!(self.a ; .arch x64 ; imul Rd(d), Rd(d), BYTE imm32 as i8)
            }
            0x24 => dynasm!(self.a ; .arch x64 ; imul Rd(d), Rd(d), DWORD imm32),
            0x2c => dynasm!(self.a ; .arch x64 ; imul Rd(d), Rd(s)),
            0x44 => self.alu_k(2, false, d, imm32),
            0x4c => dynasm!(self.a ; .arch x64 ; or Rd(d), Rd(s)),
            0x54 => self.alu_k(3, false, d, imm32),
            0x5c => dynasm!(self.a ; .arch x64 ; and Rd(d), Rd(s)),
            0xa4 => self.alu_k(4, false, d, imm32),
            0xac => dynasm!(self.a ; .arch x64 ; xor Rd(d), Rd(s)),
            0x84 => dynasm!(self.a ; .arch x64 ; neg Rd(d)),
            0xb4 => {
                if imm32 == 0 {
                    dynasm!(self.a ; .arch x64 ; xor Rd(d), Rd(d));
                } else {
                    dynasm!(self.a ; .arch x64 ; mov Rd(d), imm32);
                }
            }
            // mov32 + and32 0xff / 0xffff: one zero extension.
            OP_MOV_AND32_K if imm32 == 0xff => {
                dynasm!(self.a ; .arch x64 ; movzx Rd(d), Rb(s));
                self.done_by_previous = Some(pc + 1);
            }
            OP_MOV_AND32_K if imm32 == 0xffff => {
                dynasm!(self.a ; .arch x64 ; movzx Rd(d), Rw(s));
                self.done_by_previous = Some(pc + 1);
            }
            0xbc | OP_MOV_AND32_K => dynasm!(self.a ; .arch x64 ; mov Rd(d), Rd(s)),
            0x64 => dynasm!(self.a ; .arch x64 ; shl Rd(d), (imm32 & 31) as i8),
            0x74 => dynasm!(self.a ; .arch x64 ; shr Rd(d), (imm32 & 31) as i8),
            0xc4 => dynasm!(self.a ; .arch x64 ; sar Rd(d), (imm32 & 31) as i8),
            0x6c => self.shift_x(0, false, d, s),
            0x7c => self.shift_x(1, false, d, s),
            0xcc => self.shift_x(2, false, d, s),
            0x34 => self.divmod(d, None, imm, false, false, false),
            0x3c => self.divmod(d, Some(s), 0, false, false, false),
            0x94 => self.divmod(d, None, imm, false, false, true),
            0x9c => self.divmod(d, Some(s), 0, false, false, true),
            OP_SDIV32_K => self.divmod(d, None, imm, false, true, false),
            OP_SDIV32_X => self.divmod(d, Some(s), 0, false, true, false),
            OP_SMOD32_K => self.divmod(d, None, imm, false, true, true),
            OP_SMOD32_X => self.divmod(d, Some(s), 0, false, true, true),
            OP_MOVSX32_8 => dynasm!(self.a ; .arch x64 ; movsx Rd(d), Rb(s)),
            OP_MOVSX32_16 => dynasm!(self.a ; .arch x64 ; movsx Rd(d), Rw(s)),
            OP_LDIMM64 | OP_LDMAP_LOOKUP if self.blind.is_some() => self.mov_const(d, imm as u64),
            OP_LDIMM64 | OP_LDMAP_LOOKUP => {
                if imm as u64 <= u32::MAX as u64 {
                    dynasm!(self.a ; .arch x64 ; mov Rd(d), imm as u32 as i32);
                } else if fits_i32(imm) {
                    dynasm!(self.a ; .arch x64 ; mov Rq(d), imm32);
                } else {
                    dynasm!(self.a ; .arch x64 ; mov Rq(d), QWORD imm);
                }
            }
            // Loads, stores, atomics.
            0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91 => self.load(pc, i, d, s),
            0x62 | 0x6a | 0x72 | 0x7a | 0x63 | 0x6b | 0x73 | 0x7b => self.store(pc, i, d, s),
            OP_ATOMIC_W | OP_ATOMIC_DW if matches!(i.aux, 5..=7) => self.exec(pc),
            OP_ATOMIC_W | OP_ATOMIC_DW => self.atomic(pc, i, d, s),
            // Jumps.
            OP_MAY_GOTO => self.may_goto(pc, i.off as usize),
            0x05 | 0x06 => {
                let t = i.off as usize;
                self.charge(pc, Some(t));
                let l = self.label(t);
                dynasm!(self.a ; .arch x64 ; jmp =>l);
            }
            c if matches!(c & 0x07, 0x05 | 0x06) && !matches!(c & 0xf0, 0x80 | 0x90) => {
                match self.facts.branch(pc) {
                    // Decided by the verifier: a jump, or nothing.
                    Some(true) => {
                        let l = self.label(i.off as usize);
                        dynasm!(self.a ; .arch x64 ; jmp =>l);
                    }
                    Some(false) => {}
                    None => self.branch(pc, i, d, s),
                }
            }
            OP_CALL_LOCAL => self.call_local(pc, i.off as usize),
            OP_MAP_LOOKUP if !self.checked => self.map_lookup(pc),
            0x95 => {
                self.charge(pc, None);
                dynasm!(self.a ; .arch x64 ; ret);
            }
            // Helpers, callx, inline lookups, ld_abs/ld_ind and anything
            // unexpected: the runtime executes them (and names the
            // unexpected ones in its error).
            _ => self.exec(pc),
        }
    }

    /// A 64-bit rotate as compilers write it, `t = x ; t >>= k ; x <<= 64 - k ;
    /// x |= t` (0 < k < 64, no slot after the first a jump target, none
    /// folded to a constant, no blinding): `rol x, 64 - k`, and `t = x >> k`
    /// as well unless `t` is dead after it. Returns the slot after the
    /// four.
    fn rotate(&mut self, pc: usize) -> Option<usize> {
        if self.blind.is_some() {
            return None;
        }
        let [a, b, c, d] = [0, 1, 2, 3].map(|k| self.insns.get(pc + k).copied());
        let (a, b, c, d) = (a?, b?, c?, d?);
        let k = b.imm;
        let shape = a.code == 0xbf
            && a.dst != a.src
            && b.code == 0x77
            && b.dst == a.dst
            && (1..64).contains(&k)
            && c.code == 0x67
            && c.dst == a.src
            && c.imm == 64 - k
            && d.code == 0x4f
            && d.dst == a.src
            && d.src == a.dst
            && a.dst < 10
            && a.src < 10;
        if !shape {
            return None;
        }
        // Here t is a.dst and x is a.src: t = x; t >>= k; x <<= 64-k; x |= t.
        let (t, x) = (a.dst, a.src);
        let plain = (pc + 1..pc + 4).all(|p| !self.targets.get(p).copied().unwrap_or(true))
            && (pc..pc + 4).all(|p| self.consts.get(p).copied().flatten().is_none());
        if !plain {
            return None;
        }
        let (xt, xx) = (x86(t), x86(x));
        if self.live_after(t, pc + 4) {
            dynasm!(self.a ; .arch x64
                ; mov Rq(xt), Rq(xx)
                ; shr Rq(xt), k as i8
            );
        }
        dynasm!(self.a ; .arch x64 ; rol Rq(xx), (64 - k) as i8);
        Some(pc + 4)
    }

    /// A byte-copy loop ([`crate::select::CopyLoop`]) starting at `pc`:
    /// before its first slot's code, a path that copies
    /// [`COPY_CHUNK`] bytes at once (two 16-byte moves) and adds as many
    /// to the counter, taken while none of those iterations would leave
    /// the loop and (checked code) all their accesses are in the hot
    /// region and the budget covers them; otherwise the loop's own code
    /// runs one iteration, which faults, charges and leaves as it always
    /// did. The loop's other registers (the address, the byte) are written
    /// by every iteration before they are read, and the last iteration
    /// before the loop ends is always a byte one: they end as they would.
    fn copy_loop_fast_path(&mut self, pc: usize) {
        const W: i64 = COPY_CHUNK;
        if self.blind.is_some() {
            return;
        }
        let Some(c) = crate::select::copy_loop(self.insns, &self.targets, pc) else {
            return;
        };
        let fits = |v: i64| i32::try_from(v).is_ok() && i32::try_from(v + W).is_ok();
        if !c.copies_by(W) || !fits(c.src_off) || !fits(c.dst_off) {
            return;
        }
        let (b, i) = (x86(c.base), x86(c.index));
        let (so, d_o) = (c.src_off as i32, c.dst_off as i32);
        let fast = self.a.new_dynamic_label();
        let bytes = self.a.new_dynamic_label();
        dynasm!(self.a ; .arch x64 ; =>fast);
        // The next W iterations all go round again: n - i is not in 1..=W.
        match c.bound {
            Ok(n) => dynasm!(self.a ; .arch x64 ; mov r11, Rq(x86(n))),
            Err(n) if fits_i32(n) => dynasm!(self.a ; .arch x64 ; mov r11, n as i32),
            Err(n) => dynasm!(self.a ; .arch x64 ; mov r11, QWORD n),
        }
        dynasm!(self.a ; .arch x64
            ; sub r11, Rq(i)
            ; sub r11, 1
            ; cmp r11, W as i32
            ; jb =>bytes
        );
        let cost = (c.back + 1 - c.head) as i64;
        if self.budgeted {
            // Each iteration's charge at the back edge passes: the last
            // one's test, r9 + (W - 1) * cost + back + 1 <= 0.
            let limit = -((c.back as i64 + 1) + (W - 1) * cost);
            dynasm!(self.a ; .arch x64 ; mov r11, QWORD limit ; cmp r9, r11 ; jg =>bytes);
        }
        if self.checked {
            for (o, load) in [(so, true), (d_o, false)] {
                // Both ends' 8-byte accesses in the hot region: all of it.
                let cnt = hot_cnt_offset(8, load);
                dynasm!(self.a ; .arch x64 ; lea r10, [Rq(b) + Rq(i) + o]);
                match self.hot_reg {
                    Some(h) => dynasm!(self.a ; .arch x64 ; add r10, Rq(h)),
                    None => dynasm!(self.a ; .arch x64 ; sub r10, [r12 + off::HOT_LO]),
                }
                for step in [0, W as i32 - 8] {
                    if step != 0 {
                        dynasm!(self.a ; .arch x64 ; add r10, step);
                    }
                    match self.cnt_regs.iter().find(|(o, _)| *o == cnt) {
                        Some(&(_, r)) => dynasm!(self.a ; .arch x64 ; cmp r10, Rq(r)),
                        None => dynasm!(self.a ; .arch x64 ; cmp r10, [r12 + cnt]),
                    }
                    dynasm!(self.a ; .arch x64 ; jae =>bytes);
                }
            }
        }
        dynasm!(self.a ; .arch x64
            ; movdqu xmm0, [Rq(b) + Rq(i) + so]
            ; movdqu xmm1, [Rq(b) + Rq(i) + so + 16]
            ; movdqu [Rq(b) + Rq(i) + d_o], xmm0
            ; movdqu [Rq(b) + Rq(i) + d_o + 16], xmm1
            ; add Rq(i), W as i32
        );
        if self.budgeted {
            dynasm!(self.a ; .arch x64 ; add r9, (W * cost) as i32);
        }
        dynasm!(self.a ; .arch x64 ; jmp =>fast ; =>bytes);
    }

    /// `t = s ; t += k` (fused at `pc`) then a load through `t` at
    /// `pc + 2`, with `t` dead after the load (or the load's own
    /// destination): the load as it reads, from `s` at offset `k + off`,
    /// so that the pair is one instruction (`movzx ebx, [r8 + 100000h]`
    /// instead of a `lea` into a register nothing reads again).
    fn load_through_lea(&self, pc: usize, mov_add: JitInsn) -> Option<JitInsn> {
        let l = *self.insns.get(pc + 2)?;
        let (t, s) = (mov_add.dst, mov_add.src);
        let is_load = matches!(l.code, 0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91);
        if !is_load || l.src != t || t == s || t >= 10 {
            return None;
        }
        if self.targets.get(pc + 1).copied().unwrap_or(true)
            || self.targets.get(pc + 2).copied().unwrap_or(true)
        {
            return None;
        }
        let off = i32::try_from(mov_add.imm).ok()?.checked_add(l.off)?;
        if l.dst != t && self.live_after(t, pc + 3) {
            return None;
        }
        // A load the context analysis placed in the context keeps its base
        // (its offset is `t`'s, not `s`'s).
        if let Some(Some(crate::ctxptr::CtxVal::Ctx(_))) = self.ctx_bases.get(pc + 2) {
            return None;
        }
        Some(JitInsn { src: s, off, ..l })
    }

    /// Whether BPF register `r` may be read from slot `from` on before it
    /// is written, by a local forward scan of the straight-line code there
    /// (a jump target, jump, call or anything not understood ends it:
    /// live).
    fn live_after(&self, r: u8, from: usize) -> bool {
        for p in from..(from + 64).min(self.insns.len()) {
            if p > from && self.targets.get(p).copied().unwrap_or(true) {
                return true;
            }
            let Some(i) = self.insns.get(p) else {
                return true;
            };
            let reads_src = |i: &JitInsn| i.src == r;
            match i.code {
                0x95 => return r == 0,
                // mov64/mov32 reg, mov imm, ld_imm64: write dst, read src
                // (reg forms) only.
                0xbf | 0xbc => {
                    if reads_src(i) {
                        return true;
                    }
                    if i.dst == r {
                        return false;
                    }
                }
                0xb7 | 0xb4 | OP_LDIMM64 => {
                    if i.dst == r {
                        return false;
                    }
                }
                // The engine's fused moves: read src (and aux), write dst.
                OP_MOV_ADD64_X | OP_MOV_ADD64_K | OP_MOV_AND32_K => {
                    if reads_src(i) || (i.code == OP_MOV_ADD64_X && i.aux == r) {
                        return true;
                    }
                    if i.dst == r {
                        return false;
                    }
                }
                // Loads: read the base (src), write dst.
                0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91 => {
                    if reads_src(i) {
                        return true;
                    }
                    if i.dst == r {
                        return false;
                    }
                }
                // Other ALU and ALU64 operations of the real encodings:
                // read dst (and src in the register forms).
                c if matches!(c & 0x07, 0x04 | 0x07) => {
                    if i.dst == r || (c & 0x08 != 0 && reads_src(i)) {
                        return true;
                    }
                }
                // Stores read dst and src.
                0x62 | 0x6a | 0x72 | 0x7a | 0x63 | 0x6b | 0x73 | 0x7b => {
                    if i.dst == r || reads_src(i) {
                        return true;
                    }
                }
                _ => return true,
            }
        }
        true
    }

    /// Trusted and verified code's map lookup: inline for a plain array,
    /// a direct call for a map with its own lookup function, the runtime
    /// for the rest (maps of maps, lookups not fused with their map).
    fn map_lookup(&mut self, pc: usize) {
        if let Some(m) = self.inline_array(pc) {
            // r0 = key < max_entries ? base + key * stride : 0, the key
            // the u32 at r2 (rsi).
            dynasm!(self.a ; .arch x64
                ; mov r11d, DWORD [rsi]
                ; xor eax, eax
                ; cmp r11d, m.max_entries as i32
                ; jae >skip
                ; imul r11, r11, m.stride as i32
                ; mov rax, QWORD m.base as i64
                ; add rax, r11
                ; skip:
            );
        } else if let Some(m) = self.lookup_call(pc) {
            self.direct_lookup(pc, m);
        } else {
            self.exec(pc);
        }
    }

    /// The array map of the lookup at `pc`, when its `r1 = map[...]` is
    /// fused with it and the map is one of [`Emitter::arrays`].
    fn inline_array(&self, pc: usize) -> Option<InlineArray> {
        let handle = self.fused_map(pc)?;
        self.arrays
            .iter()
            .find(|m| m.handle == handle && m.stride <= i32::MAX as u32)
            .copied()
    }

    /// The direct-call map of the lookup at `pc`, when its `r1 = map[...]`
    /// is fused with it and the map is one of [`Emitter::lookups`].
    fn lookup_call(&self, pc: usize) -> Option<LookupCall> {
        let handle = self.fused_map(pc)?;
        self.lookups.iter().find(|m| m.handle == handle).copied()
    }

    /// The map handle of the `r1 = map[...]` fused with the lookup at `pc`
    /// (`OP_LDMAP_LOOKUP` two slots before).
    fn fused_map(&self, pc: usize) -> Option<u64> {
        let ld = self.insns.get(pc.checked_sub(2)?)?;
        (ld.code == OP_LDMAP_LOOKUP && ld.dst == 1).then_some(ld.imm as u64)
    }

    /// r0 = `m.func(m.obj, r2)`: a call out of the code with the C calling
    /// convention. r1-r5 keep their values (as the interpreter's inline
    /// lookup leaves them) where they are live after it, r9 (the budget
    /// account) always; rsp is 16-byte aligned at the call, as at every
    /// call out of the code.
    fn direct_lookup(&mut self, pc: usize, m: LookupCall) {
        // The runs of code that calls out pin the maps' epoch (as those of
        // code that calls the trampoline build the full run state).
        self.calls_exec = true;
        self.direct_lookups = true;
        let mut saved: Vec<u8> = (1..=5)
            .filter(|&r| !self.verified && self.live_after(r, pc + 1))
            .map(x86)
            .collect();
        saved.push(9);
        // At every BPF instruction rsp is 8 bytes off 16-byte alignment
        // (the entry's and bpf-to-bpf calls' return addresses): an odd
        // number of pushes realigns it.
        let pad = saved.len().is_multiple_of(2);
        for &x in &saved {
            dynasm!(self.a ; .arch x64 ; push Rq(x));
        }
        if pad {
            dynasm!(self.a ; .arch x64 ; sub rsp, 8);
        }
        dynasm!(self.a ; .arch x64
            ; mov rdi, QWORD m.obj as i64
            ; mov rax, QWORD m.func as i64
            ; call rax
        );
        if pad {
            dynasm!(self.a ; .arch x64 ; add rsp, 8);
        }
        for &x in saved.iter().rev() {
            dynasm!(self.a ; .arch x64 ; pop Rq(x));
        }
    }

    /// dst = `v`, in the shortest form.
    fn mov_const(&mut self, d: u8, v: u64) {
        if v != 0 && self.blind.is_some() {
            return self.blinded_mov64(d, v);
        }
        if v == 0 {
            dynasm!(self.a ; .arch x64 ; xor Rd(d), Rd(d));
        } else if v <= u32::MAX as u64 {
            dynasm!(self.a ; .arch x64 ; mov Rd(d), v as u32 as i32);
        } else if fits_i32(v as i64) {
            dynasm!(self.a ; .arch x64 ; mov Rq(d), v as i64 as i32);
        } else {
            dynasm!(self.a ; .arch x64 ; mov Rq(d), QWORD v as i64);
        }
    }

    fn alu64_k(&mut self, which: u8, d: u8, imm: i32) {
        self.alu_k(which, true, d, imm)
    }

    /// The register form of `i` on [`BLINDED_SRC`] (x86 r11), after
    /// emitting r11 = its immediate from two blinded halves; `i` itself
    /// when it has no immediate to hide (none, 0, or one the emitter does
    /// not encode: byte-swap widths, shifts without BMI2, whose count it
    /// then takes as an 8-bit immediate of 6 bits at most).
    fn blind_insn(&mut self, i: JitInsn) -> JitInsn {
        let class = i.code & 0x07;
        let op = i.code & 0xf0;
        let k_form = i.code & 0x08 == 0;
        let alu = matches!(class, 0x04 | 0x07)
            && k_form
            && !matches!(op, 0x80 | 0xd0)
            && (self.bmi2 || !matches!(op, 0x60 | 0x70 | 0xc0));
        let signed_div = matches!(
            i.code,
            OP_SDIV32_K | OP_SDIV64_K | OP_SMOD32_K | OP_SMOD64_K
        );
        let jump = matches!(class, 0x05 | 0x06) && k_form && !matches!(op, 0x00 | 0x80 | 0x90);
        if i.imm == 0 || !(alu || signed_div || jump) {
            return i;
        }
        // The 64-bit forms take the immediate sign-extended, the 32-bit
        // forms its low half.
        let w64 = match i.code {
            OP_SDIV64_K | OP_SMOD64_K => true,
            OP_SDIV32_K | OP_SMOD32_K => false,
            _ => matches!(class, 0x05 | 0x07),
        };
        self.blinded_mov32(11, i.imm as i32, w64);
        JitInsn {
            code: i.code | 0x08,
            src: BLINDED_SRC,
            imm: 0,
            ..i
        }
    }

    /// x86 register `x` = `imm` (sign-extended to 64 bits when `w64`, else
    /// zero-extended), emitted as `mov x, imm ^ key ; xor x, key` with a
    /// fresh key: neither immediate is `imm`.
    fn blinded_mov32(&mut self, x: u8, imm: i32, w64: bool) {
        let Some(b) = self.blind.as_mut() else {
            return;
        };
        let k = b.key32(imm as u32);
        let masked = (imm as u32 ^ k) as i32;
        let k = k as i32;
        if w64 {
            dynasm!(self.a ; .arch x64 ; mov Rq(x), DWORD masked ; xor Rq(x), DWORD k);
        } else {
            dynasm!(self.a ; .arch x64 ; mov Rd(x), DWORD masked ; xor Rd(x), DWORD k);
        }
    }

    /// BPF's register `d` (its x86 register) = `v`, blinded: the 32-bit
    /// forms when `v` is a zero- or sign-extended 32-bit value, else
    /// `mov d, v ^ key ; mov r11, key ; xor d, r11` with a 64-bit key.
    fn blinded_mov64(&mut self, d: u8, v: u64) {
        if v <= u32::MAX as u64 {
            return self.blinded_mov32(d, v as u32 as i32, false);
        }
        if fits_i32(v as i64) {
            return self.blinded_mov32(d, v as i64 as i32, true);
        }
        let Some(b) = self.blind.as_mut() else {
            return;
        };
        let k = b.key64(v);
        let masked = (v ^ k) as i64;
        let k = k as i64;
        dynasm!(self.a ; .arch x64
            ; mov Rq(d), QWORD masked
            ; mov r11, QWORD k
            ; xor Rq(d), r11
        );
    }

    /// add/sub/or/and/xor with an immediate: the sign-extended 8-bit form
    /// when the immediate fits it (3-4 bytes instead of 6-7).
    fn alu_k(&mut self, which: u8, w64: bool, d: u8, imm: i32) {
        macro_rules! pick {
            ($op:ident) => {
                match (w64, imm == imm as i8 as i32) {
                    (true, true) => dynasm!(self.a ; .arch x64 ; $op Rq(d), BYTE imm as i8),
                    (true, false) => dynasm!(self.a ; .arch x64 ; $op Rq(d), DWORD imm),
                    (false, true) => dynasm!(self.a ; .arch x64 ; $op Rd(d), BYTE imm as i8),
                    (false, false) => dynasm!(self.a ; .arch x64 ; $op Rd(d), DWORD imm),
                }
            };
        }
        match which {
            0 => pick!(add),
            1 => pick!(sub),
            2 => pick!(or),
            3 => pick!(and),
            4 => pick!(xor),
            _ => {
                if w64 {
                    dynasm!(self.a ; .arch x64 ; cmp Rq(d), DWORD imm);
                } else {
                    dynasm!(self.a ; .arch x64 ; cmp Rd(d), DWORD imm);
                }
            }
        }
    }

    /// Shifts by a register: x86 takes the count in cl (BPF's r4), and
    /// masks it to 63 or 31 as BPF does.
    fn shift_x(&mut self, kind: u8, w64: bool, d: u8, s: u8) {
        if self.bmi2 {
            // shlx/shrx/sarx mask the count as BPF does (63 or 31), take it
            // from any register and leave the flags alone.
            match (kind, w64) {
                (0, true) => dynasm!(self.a ; .arch x64 ; shlx Rq(d), Rq(d), Rq(s)),
                (1, true) => dynasm!(self.a ; .arch x64 ; shrx Rq(d), Rq(d), Rq(s)),
                (_, true) => dynasm!(self.a ; .arch x64 ; sarx Rq(d), Rq(d), Rq(s)),
                (0, false) => dynasm!(self.a ; .arch x64 ; shlx Rd(d), Rd(d), Rd(s)),
                (1, false) => dynasm!(self.a ; .arch x64 ; shrx Rd(d), Rd(d), Rd(s)),
                (_, false) => dynasm!(self.a ; .arch x64 ; sarx Rd(d), Rd(d), Rd(s)),
            }
            return;
        }
        // The register shifted: d itself, or r11 when d is rcx.
        let t = if d == RCX { 11 } else { d };
        if s != RCX || d == RCX {
            dynasm!(self.a ; .arch x64 ; mov r10, rcx);
        }
        if d == RCX {
            dynasm!(self.a ; .arch x64 ; mov r11, rcx);
        }
        if s != RCX {
            dynasm!(self.a ; .arch x64 ; mov rcx, Rq(s));
        }
        match (kind, w64) {
            (0, true) => dynasm!(self.a ; .arch x64 ; shl Rq(t), cl),
            (1, true) => dynasm!(self.a ; .arch x64 ; shr Rq(t), cl),
            (_, true) => dynasm!(self.a ; .arch x64 ; sar Rq(t), cl),
            (0, false) => dynasm!(self.a ; .arch x64 ; shl Rd(t), cl),
            (1, false) => dynasm!(self.a ; .arch x64 ; shr Rd(t), cl),
            (_, false) => dynasm!(self.a ; .arch x64 ; sar Rd(t), cl),
        }
        if d == RCX {
            dynasm!(self.a ; .arch x64 ; mov rcx, r11);
        } else if s != RCX {
            dynasm!(self.a ; .arch x64 ; mov rcx, r10);
        }
    }

    fn bswap(&mut self, d: u8, bits: i32) {
        match bits {
            16 => dynasm!(self.a ; .arch x64 ; ror Rw(d), 8 ; movzx Rd(d), Rw(d)),
            32 => dynasm!(self.a ; .arch x64 ; bswap Rd(d)),
            _ => dynasm!(self.a ; .arch x64 ; bswap Rq(d)),
        }
    }

    /// Division and remainder with BPF's rules: by zero the quotient is 0
    /// and the remainder the dividend; signed by -1 wraps (x86's idiv would
    /// trap on INT_MIN / -1). Unsigned 64-bit division of operands that
    /// both fit in 32 bits uses the 32-bit `div`, several times faster; the
    /// 64-bit `div` and the division by zero are out of line.
    fn divmod(&mut self, d: u8, s: Option<u8>, imm: i64, w64: bool, signed: bool, rem: bool) {
        if !signed {
            return self.udivmod(d, s, imm, w64, rem);
        }
        let a = &mut self.a;
        match (s, w64) {
            (Some(s), true) => dynasm!(a ; .arch x64 ; mov r11, Rq(s)),
            (Some(s), false) => dynasm!(a ; .arch x64 ; mov r11d, Rd(s)),
            (None, true) => dynasm!(a ; .arch x64 ; mov r11, imm as i32),
            (None, false) => dynasm!(a ; .arch x64 ; mov r11d, imm as i32),
        }
        dynasm!(a ; .arch x64 ; mov r10, rax ; push rdx);
        if w64 {
            dynasm!(a ; .arch x64 ; mov rax, Rq(d) ; test r11, r11 ; jz >zero);
        } else {
            dynasm!(a ; .arch x64 ; mov eax, Rd(d) ; test r11d, r11d ; jz >zero);
        }
        if w64 {
            dynasm!(a ; .arch x64 ; cmp r11, -1 ; je >minus1 ; cqo ; idiv r11);
        } else {
            dynasm!(a ; .arch x64 ; cmp r11d, -1 ; je >minus1 ; cdq ; idiv r11d);
        }
        if rem {
            dynasm!(a ; .arch x64 ; mov r11, rdx ; jmp >done);
        } else {
            dynasm!(a ; .arch x64 ; mov r11, rax ; jmp >done);
        }
        dynasm!(a ; .arch x64 ; minus1:);
        match (rem, w64) {
            (true, _) => dynasm!(a ; .arch x64 ; xor r11d, r11d),
            (false, true) => dynasm!(a ; .arch x64 ; neg rax ; mov r11, rax),
            (false, false) => dynasm!(a ; .arch x64 ; neg eax ; mov r11d, eax),
        }
        dynasm!(a ; .arch x64 ; jmp >done);
        dynasm!(a ; .arch x64 ; zero:);
        if rem {
            // rax holds the dividend (zero-extended in the 32-bit forms).
            dynasm!(a ; .arch x64 ; mov r11, rax);
        } else {
            dynasm!(a ; .arch x64 ; xor r11d, r11d);
        }
        dynasm!(a ; .arch x64 ; done: ; pop rdx ; mov rax, r10 ; mov Rq(d), r11);
    }

    /// Unsigned division and remainder (see [`Emitter::divmod`]): r11 the
    /// divisor, rax the dividend, the result in r11, then r0 and r3 (rax,
    /// rdx) restored and the result moved to dst.
    fn udivmod(&mut self, d: u8, s: Option<u8>, imm: i64, w64: bool, rem: bool) {
        // A constant divisor: by zero the result is known; otherwise no
        // zero test.
        let k = match (s, w64) {
            (None, true) => Some(imm as u64),
            (None, false) => Some(imm as u32 as u64),
            _ => None,
        };
        if k == Some(0) {
            match (rem, w64) {
                (true, true) => {}
                (true, false) => dynasm!(self.a ; .arch x64 ; mov Rd(d), Rd(d)),
                (false, _) => dynasm!(self.a ; .arch x64 ; xor Rd(d), Rd(d)),
            }
            return;
        }
        let zero = self.a.new_dynamic_label();
        let big = self.a.new_dynamic_label();
        let back = self.a.new_dynamic_label();
        let done = self.a.new_dynamic_label();
        let a = &mut self.a;
        match (s, w64) {
            (Some(s), true) => dynasm!(a ; .arch x64 ; mov r11, Rq(s)),
            (Some(s), false) => dynasm!(a ; .arch x64 ; mov r11d, Rd(s)),
            (None, true) => dynasm!(a ; .arch x64 ; mov r11, imm as i32),
            (None, false) => dynasm!(a ; .arch x64 ; mov r11d, imm as i32),
        }
        dynasm!(a ; .arch x64 ; mov r10, rax ; push rdx);
        if w64 {
            dynasm!(a ; .arch x64 ; mov rax, Rq(d));
        } else {
            dynasm!(a ; .arch x64 ; mov eax, Rd(d));
        }
        if k.is_none() {
            if w64 {
                dynasm!(a ; .arch x64 ; test r11, r11 ; jz =>zero);
            } else {
                dynasm!(a ; .arch x64 ; test r11d, r11d ; jz =>zero);
            }
        }
        if w64 && k.is_none_or(|k| k <= u32::MAX as u64) {
            // Both below 2^32: the 32-bit div gives the same quotient and
            // remainder, zero-extended.
            dynasm!(a ; .arch x64
                ; mov rdx, rax
                ; or rdx, r11
                ; shr rdx, 32
                ; jnz =>big
                ; div r11d
            );
        } else if w64 {
            dynasm!(a ; .arch x64 ; xor edx, edx ; div r11);
        } else {
            dynasm!(a ; .arch x64 ; xor edx, edx ; div r11d);
        }
        dynasm!(a ; .arch x64 ; =>back);
        if rem {
            dynasm!(a ; .arch x64 ; mov r11, rdx);
        } else {
            dynasm!(a ; .arch x64 ; mov r11, rax);
        }
        dynasm!(a ; .arch x64 ; =>done ; pop rdx ; mov rax, r10 ; mov Rq(d), r11);
        self.stubs.push(Stub::Div {
            big,
            back,
            zero: k.is_none().then_some(zero),
            done,
            rem,
        });
    }

    /// Checked mode: r11 = the address; falls through to the access when
    /// it is in the current call chain's stack or the hot region, else
    /// goes to a slow-path stub. Returns (ok, after) labels: `ok` must be
    /// defined right before the access, `after` right after it.
    fn check(
        &mut self,
        pc: usize,
        len: i32,
        access: u8,
        load_dst: Option<u8>,
        base: u8,
        off: i32,
    ) -> (DynamicLabel, DynamicLabel) {
        let ok = self.a.new_dynamic_label();
        let after = self.a.new_dynamic_label();
        let slow = self.a.new_dynamic_label();
        if base == 10 && self.r10_fixed && (-FRAME..=-len).contains(&off) {
            // Inside the current frame, whatever the run: no test.
            return (ok, after);
        }
        self.checked_needs_ctx = true;
        // The hot region's test: the start offset from hot_lo below the
        // count of offsets an access of this size may start at.
        let cnt = hot_cnt_offset(len, access == 0);
        // An access through r10 tests the stack inline and the hot region
        // in a stub; any other, the hot region inline and the stack in the
        // stub (the answer is the same either way). The address is
        // computed into r10 for the inline test; the stub puts it in r11
        // for the stub's test and the slow path.
        let x86_base = x86(base);
        let second = self.a.new_dynamic_label();
        match (base == 10, self.hot_reg) {
            (false, Some(h)) => {
                // The start offset from hot_lo in one lea: the register
                // holds -hot_lo.
                if off == 0 {
                    dynasm!(self.a ; .arch x64 ; lea r10, [Rq(x86_base) + Rq(h)]);
                } else {
                    dynasm!(self.a ; .arch x64 ; lea r10, [Rq(x86_base) + Rq(h) + off]);
                }
                match self.cnt_regs.iter().find(|(o, _)| *o == cnt) {
                    Some(&(_, c)) => dynasm!(self.a ; .arch x64 ; cmp r10, Rq(c)),
                    None => dynasm!(self.a ; .arch x64 ; cmp r10, [r12 + cnt]),
                }
                dynasm!(self.a ; .arch x64 ; jae =>second);
            }
            (stack, _) => {
                if off == 0 {
                    dynasm!(self.a ; .arch x64 ; mov r10, Rq(x86_base));
                } else {
                    dynasm!(self.a ; .arch x64 ; lea r10, [Rq(x86_base) + off]);
                }
                if stack {
                    dynasm!(self.a ; .arch x64
                        ; sub r10, [r12 + off::STACK_LO]
                        ; add r10, len
                        ; jc =>second
                        ; cmp r10, [r12 + off::STACK_LEN]
                        ; ja =>second
                    );
                } else {
                    dynasm!(self.a ; .arch x64
                        ; sub r10, [r12 + off::HOT_LO]
                        ; cmp r10, [r12 + cnt]
                        ; jae =>second
                    );
                }
            }
        }
        self.stubs.push(Stub::Second {
            label: second,
            base: x86_base,
            off,
            len,
            ok,
            slow,
            stack_second: base != 10,
            cnt,
        });
        self.stubs.push(Stub::Slow {
            label: slow,
            ok,
            after,
            info: ((pc as i32) << 8) | (len << 2) | access as i32,
            load_dst,
        });
        (ok, after)
    }

    fn load(&mut self, pc: usize, i: JitInsn, d: u8, s: u8) {
        let len: i32 = match i.code & 0x18 {
            0x00 => 4,
            0x08 => 2,
            0x10 => 1,
            _ => 8,
        };
        let sx = i.code & 0xe0 == 0x80;
        let o = i.off;
        if !self.checked && i.src != 10 && len == 4 {
            use crate::ctxptr::CtxVal;
            match (self.ctx_bases.get(pc).copied().flatten(), self.ctx_fields) {
                // The verifier's types: this load never reads the context.
                (Some(CtxVal::NotCtx), _) => return self.load_direct(len, sx, d, s, o),
                // It always reads the context at `at`: a packet pointer
                // field's address, or the field itself.
                (Some(CtxVal::Ctx(c)), Some(fields)) if !sx => {
                    let at = c.wrapping_add(i64::from(o));
                    match fields.iter().position(|&f| f as i64 == at) {
                        Some(k) => {
                            self.uses_ctx = true;
                            let slot = off::PTR_VAL + 8 * k as i32;
                            dynasm!(self.a ; .arch x64 ; mov Rq(d), [r12 + slot]);
                        }
                        None => self.load_direct(len, sx, d, s, o),
                    }
                    return;
                }
                _ => {}
            }
            // Trusted: a 4-byte load (the size of every context pointer
            // field) that may read the context goes to the runtime, which
            // turns its pointer fields into addresses.
            self.uses_ctx = true;
            let ok = self.a.new_dynamic_label();
            let after = self.a.new_dynamic_label();
            let slow = self.a.new_dynamic_label();
            self.addr_to_r11(s, o);
            dynasm!(self.a ; .arch x64
                ; mov r10, r11
                ; sub r10, [r12 + off::CTX_LO]
                ; cmp r10, [r12 + off::CTX_LEN]
                ; jb =>slow
                ; =>ok
            );
            self.stubs.push(Stub::CtxLoad {
                label: slow,
                ok,
                after,
                dst: d,
            });
            self.load_at_r11(len, sx, d);
            dynasm!(self.a ; .arch x64 ; =>after);
            return;
        }
        if self.checked {
            let (ok, after) = self.check(pc, len, 0, Some(d), i.src, o);
            dynasm!(self.a ; .arch x64 ; =>ok);
            self.load_direct(len, sx, d, s, o);
            dynasm!(self.a ; .arch x64 ; =>after);
        } else {
            self.load_direct(len, sx, d, s, o);
        }
    }

    /// dst = the `len` bytes at [s + o] (zero- or sign-extended).
    fn load_direct(&mut self, len: i32, sx: bool, d: u8, s: u8, o: i32) {
        if o == 0 && no_disp_base(s) {
            match (len, sx) {
                (1, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(d), BYTE [Rq(s)]),
                (2, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(d), WORD [Rq(s)]),
                (4, false) => dynasm!(self.a ; .arch x64 ; mov Rd(d), DWORD [Rq(s)]),
                (1, true) => dynasm!(self.a ; .arch x64 ; movsx Rq(d), BYTE [Rq(s)]),
                (2, true) => dynasm!(self.a ; .arch x64 ; movsx Rq(d), WORD [Rq(s)]),
                (4, true) => dynasm!(self.a ; .arch x64 ; movsxd Rq(d), DWORD [Rq(s)]),
                _ => dynasm!(self.a ; .arch x64 ; mov Rq(d), QWORD [Rq(s)]),
            }
            return;
        }
        match (len, sx) {
            (1, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(d), BYTE [Rq(s) + o]),
            (2, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(d), WORD [Rq(s) + o]),
            (4, false) => dynasm!(self.a ; .arch x64 ; mov Rd(d), DWORD [Rq(s) + o]),
            (1, true) => dynasm!(self.a ; .arch x64 ; movsx Rq(d), BYTE [Rq(s) + o]),
            (2, true) => dynasm!(self.a ; .arch x64 ; movsx Rq(d), WORD [Rq(s) + o]),
            (4, true) => dynasm!(self.a ; .arch x64 ; movsxd Rq(d), DWORD [Rq(s) + o]),
            _ => dynasm!(self.a ; .arch x64 ; mov Rq(d), QWORD [Rq(s) + o]),
        }
    }

    /// r11 = base + o.
    fn addr_to_r11(&mut self, base: u8, o: i32) {
        if o == 0 {
            dynasm!(self.a ; .arch x64 ; mov r11, Rq(base));
        } else {
            dynasm!(self.a ; .arch x64 ; lea r11, [Rq(base) + o]);
        }
    }

    fn load_at_r11(&mut self, len: i32, sx: bool, d: u8) {
        match (len, sx) {
            (1, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(d), BYTE [r11]),
            (2, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(d), WORD [r11]),
            (4, false) => dynasm!(self.a ; .arch x64 ; mov Rd(d), DWORD [r11]),
            (1, true) => dynasm!(self.a ; .arch x64 ; movsx Rq(d), BYTE [r11]),
            (2, true) => dynasm!(self.a ; .arch x64 ; movsx Rq(d), WORD [r11]),
            (4, true) => dynasm!(self.a ; .arch x64 ; movsxd Rq(d), DWORD [r11]),
            _ => dynasm!(self.a ; .arch x64 ; mov Rq(d), QWORD [r11]),
        }
    }

    fn store(&mut self, pc: usize, i: JitInsn, d: u8, s: u8) {
        let len: i32 = match i.code & 0x18 {
            0x00 => 4,
            0x08 => 2,
            0x10 => 1,
            _ => 8,
        };
        let reg = i.code & 0x07 == 0x03;
        let imm = i.imm as i32;
        let o = i.off;
        if self.checked {
            let (ok, after) = self.check(pc, len, 1, None, i.dst, o);
            dynasm!(self.a ; .arch x64 ; =>ok);
            self.store_direct(len, reg, d, s, o, imm);
            dynasm!(self.a ; .arch x64 ; =>after);
        } else {
            self.store_direct(len, reg, d, s, o, imm);
        }
    }

    /// The `len` bytes at [d + o] = src (`reg`) or the immediate.
    fn store_direct(&mut self, len: i32, reg: bool, d: u8, s: u8, o: i32, imm: i32) {
        if !reg && imm != 0 && self.blind.is_some() {
            // Blinded: the immediate rebuilt in r10 (free once the access
            // is checked), then stored from there.
            self.blinded_mov32(10, imm, len == 8);
            return self.store_direct(len, true, d, 10, o, 0);
        }
        if o == 0 && no_disp_base(d) {
            match (len, reg) {
                (1, true) => dynasm!(self.a ; .arch x64 ; mov BYTE [Rq(d)], Rb(s)),
                (2, true) => dynasm!(self.a ; .arch x64 ; mov WORD [Rq(d)], Rw(s)),
                (4, true) => dynasm!(self.a ; .arch x64 ; mov DWORD [Rq(d)], Rd(s)),
                (_, true) => dynasm!(self.a ; .arch x64 ; mov QWORD [Rq(d)], Rq(s)),
                (1, false) => dynasm!(self.a ; .arch x64 ; mov BYTE [Rq(d)], imm as i8),
                (2, false) => dynasm!(self.a ; .arch x64 ; mov WORD [Rq(d)], imm as i16),
                (4, false) => dynasm!(self.a ; .arch x64 ; mov DWORD [Rq(d)], imm),
                (_, false) => dynasm!(self.a ; .arch x64 ; mov QWORD [Rq(d)], imm),
            }
            return;
        }
        match (len, reg) {
            (1, true) => dynasm!(self.a ; .arch x64 ; mov BYTE [Rq(d) + o], Rb(s)),
            (2, true) => dynasm!(self.a ; .arch x64 ; mov WORD [Rq(d) + o], Rw(s)),
            (4, true) => dynasm!(self.a ; .arch x64 ; mov DWORD [Rq(d) + o], Rd(s)),
            (_, true) => dynasm!(self.a ; .arch x64 ; mov QWORD [Rq(d) + o], Rq(s)),
            (1, false) => dynasm!(self.a ; .arch x64 ; mov BYTE [Rq(d) + o], imm as i8),
            (2, false) => dynasm!(self.a ; .arch x64 ; mov WORD [Rq(d) + o], imm as i16),
            (4, false) => dynasm!(self.a ; .arch x64 ; mov DWORD [Rq(d) + o], imm),
            (_, false) => dynasm!(self.a ; .arch x64 ; mov QWORD [Rq(d) + o], imm),
        }
    }

    /// Atomics with the lock prefix (xchg locks by itself); cmpxchg
    /// compares with r0, which is rax as x86 wants it.
    fn atomic(&mut self, pc: usize, i: JitInsn, d: u8, s: u8) {
        self.checked_needs_ctx = true;
        let w64 = i.code == OP_ATOMIC_DW;
        let o = i.off;
        dynasm!(self.a ; .arch x64 ; lea r11, [Rq(d) + o]);
        if self.checked {
            let len = if w64 { 8 } else { 4 };
            let (ok, after) = self.check(pc, len, 2, None, i.dst, o);
            dynasm!(self.a ; .arch x64 ; =>ok);
            let mis = self.a.new_dynamic_label();
            dynasm!(self.a ; .arch x64 ; test r11, len - 1 ; jnz =>mis);
            self.stubs.push(Stub::Fail {
                label: mis,
                kind: if w64 {
                    err::MISALIGNED_DW
                } else {
                    err::MISALIGNED_W
                },
                pc,
            });
            self.atomic_op(i.aux, w64, s);
            dynasm!(self.a ; .arch x64 ; =>after);
        } else {
            self.atomic_op(i.aux, w64, s);
        }
    }

    fn atomic_op(&mut self, aux: u8, w64: bool, s: u8) {
        let a = &mut self.a;
        match (aux, w64) {
            (0, true) => dynasm!(a ; .arch x64 ; lock add QWORD [r11], Rq(s)),
            (1, true) => dynasm!(a ; .arch x64 ; lock or QWORD [r11], Rq(s)),
            (2, true) => dynasm!(a ; .arch x64 ; lock and QWORD [r11], Rq(s)),
            (3, true) => dynasm!(a ; .arch x64 ; lock xor QWORD [r11], Rq(s)),
            (4, true) => dynasm!(a ; .arch x64 ; lock xadd QWORD [r11], Rq(s)),
            (8, true) => dynasm!(a ; .arch x64 ; xchg QWORD [r11], Rq(s)),
            (_, true) => dynasm!(a ; .arch x64 ; lock cmpxchg QWORD [r11], Rq(s)),
            (0, false) => dynasm!(a ; .arch x64 ; lock add DWORD [r11], Rd(s)),
            (1, false) => dynasm!(a ; .arch x64 ; lock or DWORD [r11], Rd(s)),
            (2, false) => dynasm!(a ; .arch x64 ; lock and DWORD [r11], Rd(s)),
            (3, false) => dynasm!(a ; .arch x64 ; lock xor DWORD [r11], Rd(s)),
            (4, false) => dynasm!(a ; .arch x64 ; lock xadd DWORD [r11], Rd(s)),
            (8, false) => dynasm!(a ; .arch x64 ; xchg DWORD [r11], Rd(s)),
            // A 32-bit cmpxchg that succeeds leaves rax's upper half: r0
            // must be the zero-extended old value either way.
            (_, false) => dynasm!(a ; .arch x64 ; lock cmpxchg DWORD [r11], Rd(s) ; mov eax, eax),
        }
    }

    /// Charges the budget for a transfer at `pc` (the slots of the
    /// straight-line run it ends) and, for a known target, starts the next
    /// run there. The account lives in r9 while the code runs (in
    /// [`JitCtx::spent`](crate::JitCtx::spent) across calls into the
    /// runtime); uses r11.
    fn charge(&mut self, pc: usize, target: Option<usize>) {
        if !self.budgeted {
            return;
        }
        self.checked_needs_ctx = true;
        let fail = self.a.new_dynamic_label();
        self.stubs.push(Stub::Fail {
            label: fail,
            kind: err::BUDGET,
            pc,
        });
        // r9 holds the account minus the budget while the code runs: the
        // run has overrun when r9 + pc + 1 > 0, one fused compare and
        // branch with no memory operand.
        let end = (pc + 1) as i32;
        dynasm!(self.a ; .arch x64
            ; cmp r9, DWORD -end
            ; jg =>fail
        );
        let delta = match target {
            Some(t) => pc as i64 + 1 - t as i64,
            None => pc as i64 + 1,
        } as i32;
        if delta == delta as i8 as i32 {
            dynasm!(self.a ; .arch x64 ; add r9, BYTE delta as i8);
        } else {
            dynasm!(self.a ; .arch x64 ; add r9, DWORD delta);
        }
    }

    /// `may_goto`: falls through while the frame's budget lasts, taking one
    /// from it; jumps (charged as any taken branch) once it is 0, where it
    /// stays. The slot's decrement borrows exactly when it was 0.
    fn may_goto(&mut self, pc: usize, target: usize) {
        let spent = self.a.new_dynamic_label();
        self.stubs.push(Stub::MayGoto {
            label: spent,
            pc,
            target,
        });
        dynasm!(self.a ; .arch x64
            ; sub QWORD [rsp + MAY_GOTO_SLOT], 1
            ; jc =>spent
        );
    }

    fn branch(&mut self, pc: usize, i: JitInsn, d: u8, s: u8) {
        if let Some(t) = self.tables.iter().find(|t| t.root == pc) {
            // The register is in 0..=K (masked just before): entry v of
            // the table, 4 bytes each, is value v's destination less the
            // table's address. One indirect jump, as a C compiler's table
            // is: a jump into a table of jumps made two transfers per value,
            // and switch's time went from 1.1x to 2-5x native's, by how
            // well the predictor happened to learn the pair.
            let x = x86(t.reg);
            let leaves = t.leaves.clone();
            let table = self.a.new_dynamic_label();
            dynasm!(self.a ; .arch x64
                ; lea r11, [=>table]
                ; movsxd r10, DWORD [r11 + Rq(x) * 4]
                ; add r11, r10
                ; jmp r11
            );
            self.table_code.push((table, leaves));
            return;
        }
        // A jump over one register write, without a budget to charge: the
        // write's value computed first, then the compare and a `cmov`
        // (see `crate::select`); the skipped slot emits nothing.
        if !self.budgeted && self.blind.is_none() {
            if let Some((dst, skipped)) =
                crate::select::cond_move(self.insns, &self.targets, &self.consts, pc)
            {
                let x = x86(dst);
                let from = match skipped {
                    Skipped::Reg64(r) => x86(r),
                    Skipped::Reg32(r) => {
                        let r = x86(r);
                        dynasm!(self.a ; .arch x64 ; mov r11d, Rd(r));
                        11
                    }
                    Skipped::Const(v) => {
                        self.mov_const(11, v);
                        11
                    }
                    Skipped::AluK { which, w64, imm } => {
                        dynasm!(self.a ; .arch x64 ; mov r11, Rq(x));
                        self.alu_k(which, w64, 11, imm);
                        11
                    }
                };
                let cond = self.compare(i, d, s).invert();
                self.cmov(cond, x, from);
                self.done_by_previous = Some(pc + 1);
                return;
            }
        }
        let cond = self.compare(i, d, s);
        self.jump_tail(pc, i, cond);
    }

    /// The jump tables: per entry its destination's offset from the
    /// table's start, as an i32 (every slot's code is emitted by now, so
    /// each destination's offset is known). A destination with no code
    /// (which the tree's analysis does not produce) goes to a `ud2` right
    /// after the table.
    fn emit_tables(&mut self) {
        for (label, leaves) in std::mem::take(&mut self.table_code) {
            dynasm!(self.a ; .arch x64 ; .align 4 ; =>label);
            let base = self.a.offset().0 as i64;
            let after = base + 4 * leaves.len() as i64;
            let mut missing = false;
            for leaf in leaves {
                let l = self.label(leaf);
                let at = match self.a.labels().resolve_dynamic(l) {
                    Ok(o) => o.0 as i64,
                    Err(_) => {
                        missing = true;
                        after
                    }
                };
                self.a.push_i32((at - base) as i32);
            }
            if missing {
                dynasm!(self.a ; .arch x64 ; ud2);
            }
        }
    }

    /// `dst = src` when `cond` holds (flags from [`Emitter::compare`]),
    /// all 64 bits.
    fn cmov(&mut self, cond: Cond, dst: u8, src: u8) {
        let a = &mut self.a;
        match cond {
            Cond::Eq | Cond::Clear => dynasm!(a ; .arch x64 ; cmove Rq(dst), Rq(src)),
            Cond::Ne | Cond::Set => dynasm!(a ; .arch x64 ; cmovne Rq(dst), Rq(src)),
            Cond::A => dynasm!(a ; .arch x64 ; cmova Rq(dst), Rq(src)),
            Cond::Ae => dynasm!(a ; .arch x64 ; cmovae Rq(dst), Rq(src)),
            Cond::B => dynasm!(a ; .arch x64 ; cmovb Rq(dst), Rq(src)),
            Cond::Be => dynasm!(a ; .arch x64 ; cmovbe Rq(dst), Rq(src)),
            Cond::G => dynasm!(a ; .arch x64 ; cmovg Rq(dst), Rq(src)),
            Cond::Ge => dynasm!(a ; .arch x64 ; cmovge Rq(dst), Rq(src)),
            Cond::L => dynasm!(a ; .arch x64 ; cmovl Rq(dst), Rq(src)),
            Cond::Le => dynasm!(a ; .arch x64 ; cmovle Rq(dst), Rq(src)),
        }
    }

    /// The compare (or `test`) of a conditional jump; the condition under
    /// which it jumps.
    fn compare(&mut self, i: JitInsn, d: u8, s: u8) -> Cond {
        let w64 = i.code & 0x07 == 0x05;
        let x = i.code & 0x08 != 0;
        let imm = i.imm as i32;
        let cond = match i.code & 0xf0 {
            0x10 => Cond::Eq,
            0x20 => Cond::A,
            0x30 => Cond::Ae,
            0x40 => Cond::Set,
            0x50 => Cond::Ne,
            0x60 => Cond::G,
            0x70 => Cond::Ge,
            0xa0 => Cond::B,
            0xb0 => Cond::Be,
            0xc0 => Cond::L,
            _ => Cond::Le,
        };
        match (matches!(cond, Cond::Set), w64, x) {
            (false, true, true) => dynasm!(self.a ; .arch x64 ; cmp Rq(d), Rq(s)),
            // `cmp r, 0` and `test r, r` set the same flags.
            (false, true, false) if imm == 0 => dynasm!(self.a ; .arch x64 ; test Rq(d), Rq(d)),
            (false, false, true) => dynasm!(self.a ; .arch x64 ; cmp Rd(d), Rd(s)),
            (false, false, false) if imm == 0 => dynasm!(self.a ; .arch x64 ; test Rd(d), Rd(d)),
            (false, true, false) => self.alu_k(5, true, d, imm),
            (false, false, false) => self.alu_k(5, false, d, imm),
            (true, true, true) => dynasm!(self.a ; .arch x64 ; test Rq(d), Rq(s)),
            (true, true, false) => dynasm!(self.a ; .arch x64 ; test Rq(d), imm),
            (true, false, true) => dynasm!(self.a ; .arch x64 ; test Rd(d), Rd(s)),
            (true, false, false) => dynasm!(self.a ; .arch x64 ; test Rd(d), imm),
        }
        cond
    }

    /// The conditional jump after [`Emitter::compare`].
    fn jump_tail(&mut self, pc: usize, i: JitInsn, cond: Cond) {
        let mut cond = cond;
        let mut target = i.off as usize;
        // `if c goto +1; goto T`, the shape of compiled loops: one branch
        // `if !c goto T` for the path that loops (without a budget to
        // charge, which counts the two transfers apart).
        let next = self.insns.get(pc + 1).copied();
        let fused = !self.budgeted
            && target == pc + 2
            && next.is_some_and(|n| matches!(n.code, 0x05 | 0x06));
        if let (true, Some(n)) = (fused, next) {
            cond = cond.invert();
            target = n.off as usize;
        }
        if self.budgeted && target <= pc {
            // A loop's back-edge, mostly taken: the charge inline behind the
            // inverted branch, one taken jump per iteration instead of two
            // through a stub.
            let skip = self.a.new_dynamic_label();
            self.jcc(cond.invert(), skip);
            self.charge(pc, Some(target));
            let l = self.label(target);
            dynasm!(self.a ; .arch x64 ; jmp =>l ; =>skip);
            return;
        }
        let to = if self.budgeted {
            let l = self.a.new_dynamic_label();
            self.stubs.push(Stub::Taken {
                label: l,
                pc,
                target,
            });
            l
        } else {
            self.label(target)
        };
        self.jcc(cond, to);
        if fused {
            let l = self.label(pc + 2);
            dynasm!(self.a ; .arch x64 ; jmp =>l);
        }
    }

    /// A jump to `to` when `cond` holds (the flags of the compare before).
    fn jcc(&mut self, cond: Cond, to: DynamicLabel) {
        let a = &mut self.a;
        match cond {
            Cond::Eq => dynasm!(a ; .arch x64 ; je =>to),
            Cond::Ne | Cond::Set => dynasm!(a ; .arch x64 ; jne =>to),
            Cond::A => dynasm!(a ; .arch x64 ; ja =>to),
            Cond::Ae => dynasm!(a ; .arch x64 ; jae =>to),
            Cond::B => dynasm!(a ; .arch x64 ; jb =>to),
            Cond::Be => dynasm!(a ; .arch x64 ; jbe =>to),
            Cond::G => dynasm!(a ; .arch x64 ; jg =>to),
            Cond::Ge => dynasm!(a ; .arch x64 ; jge =>to),
            Cond::L => dynasm!(a ; .arch x64 ; jl =>to),
            Cond::Le => dynasm!(a ; .arch x64 ; jle =>to),
            Cond::Clear => dynasm!(a ; .arch x64 ; je =>to),
        }
    }

    /// A bpf-to-bpf call: r6-r10 saved on the machine stack, a fresh zeroed
    /// 512-byte frame, an x86 call; `exit` is `ret`.
    /// The callee-saved x86 registers of r6-r9 that the function entered at
    /// `target` writes itself: every slot reachable from `target` through
    /// fall-throughs and jumps (not into its own calls, which save theirs)
    /// is looked at, so that any control flow is covered.
    fn callee_writes(&mut self, target: usize) -> Vec<u8> {
        if let Some(&(_, w)) = self.callee_cache.iter().find(|&&(t, _)| t == target) {
            return Self::saved_of(w);
        }
        let n = self.insns.len();
        let mut seen = vec![false; n];
        let mut work = vec![target];
        let mut written = 0u16;
        while let Some(pc) = work.pop() {
            let Some(i) = self.insns.get(pc).copied() else {
                continue;
            };
            match seen.get_mut(pc) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            match i.code & 0x07 {
                // ALU, ALU64, ld_imm64 and the engine's own ALU-like codes,
                // loads.
                0x00 | 0x01 | 0x04 | 0x07 => written |= 1 << (i.dst % 11),
                _ => {}
            }
            if matches!(i.code, OP_ATOMIC_W | OP_ATOMIC_DW) {
                written |= 1 << (i.src % 11) | 1;
            }
            let jump = matches!(i.code & 0x07, 0x05 | 0x06)
                && !matches!(i.code & 0xf0, 0x80 | 0x90)
                && i.code != OP_CALL_LOCAL;
            if jump {
                if let Ok(t) = usize::try_from(i.off) {
                    work.push(t);
                }
            }
            if !matches!(i.code, 0x05 | 0x06 | 0x95) {
                work.push(pc + 1);
            }
        }
        self.callee_cache.push((target, written));
        Self::saved_of(written)
    }

    fn saved_of(written: u16) -> Vec<u8> {
        [(6u8, 3u8), (7, 13), (8, 14), (9, 15)]
            .into_iter()
            .filter(|&(r, _)| written & (1 << r) != 0)
            .map(|(_, x)| x)
            .collect()
    }

    /// Trusted and verified code's bpf-to-bpf call: only the registers of
    /// r6-r9 the callee writes are saved, r10 moves down a frame and back
    /// (no instruction writes it); the callee's frame is zeroed as deep as
    /// the proof says the callee reaches (all 512 bytes without a proof);
    /// the context keeps the frame bookkeeping only for code that calls
    /// the runtime.
    fn call_local_unchecked(&mut self, target: usize) {
        let saved = self.callee_writes(target);
        let keep_rbp = !self.r10_fixed;
        if self.frame_books {
            self.uses_ctx = true;
            dynasm!(self.a ; .arch x64 ; add QWORD [r12 + off::DEPTH], 1);
        }
        for &x in &saved {
            dynasm!(self.a ; .arch x64 ; push Rq(x));
        }
        if keep_rbp {
            dynasm!(self.a ; .arch x64 ; push rbp);
        }
        // The callee may call the runtime (Rust code, which needs rsp 16-byte
        // aligned at its calls): an odd number of 8-byte slots besides the
        // return address keeps the caller's alignment.
        let pad = self.frame_books && (saved.len() + usize::from(keep_rbp)).is_multiple_of(2);
        if pad {
            dynasm!(self.a ; .arch x64 ; sub rsp, 8);
        }
        dynasm!(self.a ; .arch x64 ; sub rbp, FRAME);
        if self.frame_books {
            dynasm!(self.a ; .arch x64
                ; sub QWORD [r12 + off::STACK_LO], FRAME
                ; add QWORD [r12 + off::STACK_LEN], FRAME
            );
        }
        match self.facts.stack_depth_at(target) {
            Some(0) => {}
            Some(d) if d <= FRAME as u32 => {
                dynasm!(self.a ; .arch x64 ; xorps xmm0, xmm0);
                for k in 1..=(d as i32 + 15) / 16 {
                    dynasm!(self.a ; .arch x64 ; movups [rbp - 16 * k], xmm0);
                }
            }
            _ => {
                let z = self.zero_frame;
                dynasm!(self.a ; .arch x64 ; call =>z);
            }
        }
        if self.may_goto {
            dynasm!(self.a ; .arch x64 ; sub rsp, 8 ; push MAY_GOTO_BUDGET);
        }
        let l = self.label(target);
        dynasm!(self.a ; .arch x64 ; call =>l);
        if self.may_goto {
            dynasm!(self.a ; .arch x64 ; add rsp, 16);
        }
        if self.frame_books {
            dynasm!(self.a ; .arch x64
                ; add QWORD [r12 + off::STACK_LO], FRAME
                ; sub QWORD [r12 + off::STACK_LEN], FRAME
            );
        }
        if pad {
            dynasm!(self.a ; .arch x64 ; add rsp, 8);
        }
        if keep_rbp {
            dynasm!(self.a ; .arch x64 ; pop rbp);
        } else {
            dynasm!(self.a ; .arch x64 ; add rbp, FRAME);
        }
        for &x in saved.iter().rev() {
            dynasm!(self.a ; .arch x64 ; pop Rq(x));
        }
        if self.frame_books {
            dynasm!(self.a ; .arch x64 ; sub QWORD [r12 + off::DEPTH], 1);
        }
    }

    fn call_local(&mut self, pc: usize, target: usize) {
        if !self.checked {
            return self.call_local_unchecked(target);
        }
        self.uses_ctx = true;
        self.checked_needs_ctx = true;
        if self.checked {
            let fail = self.a.new_dynamic_label();
            self.stubs.push(Stub::Fail {
                label: fail,
                kind: err::CALL_DEPTH,
                pc,
            });
            dynasm!(self.a ; .arch x64
                ; cmp QWORD [r12 + off::DEPTH], MAX_CALL_FRAMES - 1
                ; jae =>fail
            );
        }
        self.charge(pc, Some(target));
        let l = self.label(target);
        let z = self.zero_frame;
        dynasm!(self.a ; .arch x64
            ; add QWORD [r12 + off::DEPTH], 1
            ; push rbx
            ; push r13
            ; push r14
            ; push r15
            ; push rbp
            ; sub rbp, FRAME
            ; sub QWORD [r12 + off::STACK_LO], FRAME
            ; add QWORD [r12 + off::STACK_LEN], FRAME
            ; call =>z
        );
        // The callee's own may_goto budget (the caller's stays in its
        // slot): 16 bytes, which keep rsp's alignment.
        if self.may_goto {
            dynasm!(self.a ; .arch x64 ; sub rsp, 8 ; push MAY_GOTO_BUDGET);
        }
        dynasm!(self.a ; .arch x64 ; call =>l);
        if self.may_goto {
            dynasm!(self.a ; .arch x64 ; add rsp, 16);
        }
        dynasm!(self.a ; .arch x64
            ; add QWORD [r12 + off::STACK_LO], FRAME
            ; sub QWORD [r12 + off::STACK_LEN], FRAME
            ; pop rbp
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop rbx
            ; sub QWORD [r12 + off::DEPTH], 1
        );
        // The callee's runtime calls may have moved the hot region; the
        // pops restored the caller's value of the register.
        self.load_hot_reg();
        if self.budgeted {
            dynasm!(self.a ; .arch x64 ; sub r9, (pc + 1) as i32);
        }
    }

    /// Checked code's hot-region register ([`Emitter::hot_reg`]) = minus
    /// the hot region's start.
    fn load_hot_reg(&mut self) {
        load_hot_registers(&mut self.a, self.hot_reg, &self.cnt_regs);
    }

    fn exec(&mut self, pc: usize) {
        self.calls_exec = true;
        self.checked_needs_ctx = true;
        let l = self.exec_rt;
        dynasm!(self.a ; .arch x64 ; mov r10d, pc as i32 ; call =>l);
    }

    fn emit_stubs(&mut self) {
        let stubs = std::mem::take(&mut self.stubs);
        let slow_mem = self.slow_mem;
        let error_exit = self.error_exit;
        for stub in stubs {
            match stub {
                Stub::Slow {
                    label,
                    ok,
                    after,
                    info,
                    load_dst,
                } => {
                    dynasm!(self.a ; .arch x64
                        ; =>label
                        ; mov r10d, info
                        ; call =>slow_mem
                        ; test r10, r10
                        ; jz =>ok
                    );
                    match load_dst {
                        Some(d) => dynasm!(self.a ; .arch x64
                            ; mov Rq(d), [r12 + off::SLOW_VALUE]
                            ; jmp =>after
                        ),
                        None => dynasm!(self.a ; .arch x64 ; jmp =>ok),
                    }
                }
                Stub::Second {
                    label,
                    base,
                    off,
                    len,
                    ok,
                    slow,
                    stack_second,
                    cnt,
                } => {
                    dynasm!(self.a ; .arch x64 ; =>label ; lea r11, [Rq(base) + off] ; mov r10, r11);
                    if stack_second {
                        dynasm!(self.a ; .arch x64
                            ; sub r10, [r12 + off::STACK_LO]
                            ; add r10, len
                            ; jc =>slow
                            ; cmp r10, [r12 + off::STACK_LEN]
                            ; jbe =>ok
                            ; jmp =>slow
                        );
                    } else {
                        dynasm!(self.a ; .arch x64
                            ; sub r10, [r12 + off::HOT_LO]
                            ; cmp r10, [r12 + cnt]
                            ; jb =>ok
                            ; jmp =>slow
                        );
                    }
                }
                Stub::CtxLoad {
                    label,
                    ok,
                    after,
                    dst,
                } => {
                    dynasm!(self.a ; .arch x64 ; =>label);
                    for k in 0..3 {
                        let next = self.a.new_dynamic_label();
                        dynasm!(self.a ; .arch x64
                            ; cmp r10, [r12 + off::PTR_OFF + 8 * k]
                            ; jne =>next
                            ; mov Rq(dst), [r12 + off::PTR_VAL + 8 * k]
                            ; jmp =>after
                            ; =>next
                        );
                    }
                    dynasm!(self.a ; .arch x64 ; jmp =>ok);
                }
                Stub::MayGoto { label, pc, target } => {
                    dynasm!(self.a ; .arch x64
                        ; =>label
                        ; mov QWORD [rsp + MAY_GOTO_SLOT], 0
                    );
                    self.charge(pc, Some(target));
                    let l = self.label(target);
                    dynasm!(self.a ; .arch x64 ; jmp =>l);
                }
                Stub::Taken { label, pc, target } => {
                    dynasm!(self.a ; .arch x64 ; =>label);
                    self.charge(pc, Some(target));
                    let l = self.label(target);
                    dynasm!(self.a ; .arch x64 ; jmp =>l);
                }
                Stub::Div {
                    big,
                    back,
                    zero,
                    done,
                    rem,
                } => {
                    // rdx = (rax | r11) >> 32 is not 0 here: clear it.
                    dynasm!(self.a ; .arch x64
                        ; =>big
                        ; xor edx, edx
                        ; div r11
                        ; jmp =>back
                    );
                    if let Some(zero) = zero {
                        dynasm!(self.a ; .arch x64 ; =>zero);
                        if rem {
                            // rax holds the dividend (zero-extended in the
                            // 32-bit forms).
                            dynasm!(self.a ; .arch x64 ; mov r11, rax);
                        } else {
                            dynasm!(self.a ; .arch x64 ; xor r11d, r11d);
                        }
                        dynasm!(self.a ; .arch x64 ; jmp =>done);
                    }
                }
                Stub::Fail { label, kind, pc } => {
                    dynasm!(self.a ; .arch x64
                        ; =>label
                        ; mov QWORD [r12 + off::ERR_KIND], kind as i32
                        ; mov QWORD [r12 + off::ERR_PC], pc as i32
                        ; mov [r12 + off::ERR_ADDR], r11
                        ; jmp =>error_exit
                    );
                }
            }
        }
        // Budget charges inside `Taken` stubs add more fail stubs.
        if !self.stubs.is_empty() {
            self.emit_stubs();
        }
    }

    /// The direct entry of trusted and verified code that never calls the
    /// runtime: `fn(r1, r2, r10) -> r0` (System V: rdi, rsi and rbp are
    /// BPF's r1, r2 and r10 already). The code still addresses a
    /// [`JitCtx`](crate::JitCtx) through r12 (the context test of 4-byte
    /// loads reads `ctx_len`, bpf-to-bpf calls count their depth and
    /// frames), so the entry gives it one on the machine stack with no
    /// context region; nothing else of it is read, as such code calls no
    /// trampoline and raises no error. r0 and r3-r9 start at 0, as in
    /// every run, but for those the program never reads before writing
    /// ([`CompileOptions::written_before_read`]). With nothing to save or
    /// set up, the entry is a jump into the code.
    fn emit_direct_entry(&mut self, first: Option<DynamicLabel>) -> dynasmrt::AssemblyOffset {
        let used = used_regs(self.insns);
        let uses = |r: usize| used & (1 << r) != 0;
        // Registers to zero: those the program names and may read before
        // writing them.
        let zero: Vec<u8> = [0usize, 3, 4, 5, 6, 7, 8, 9]
            .into_iter()
            .filter(|&r| uses(r) && self.written_before_read & (1 << r) == 0)
            .map(|r| x86(r as u8))
            .collect();
        // Callee-saved x86 registers the code may change: r6-r10's and r12.
        let mut saved: Vec<u8> = [(6, 3u8), (7, 13), (8, 14), (9, 15), (10, 5)]
            .into_iter()
            .filter(|&(r, _)| uses(r))
            .map(|(_, x)| x)
            .collect();
        if self.uses_ctx {
            saved.push(12);
        }
        // rsp is 8 past a 16-byte boundary at entry: with the pushes and
        // the context frame, aligned again at the call. Code that does not
        // address the context calls nothing itself: no alignment needed.
        let ctx_frame: i32 = if self.uses_ctx { 368 } else { 0 };
        let pad: i32 = if self.uses_ctx && (saved.len() as i32 * 8 + ctx_frame) % 16 == 0 {
            8
        } else {
            0
        };
        let may_goto = self.may_goto;
        let a = &mut self.a;
        if saved.is_empty()
            && ctx_frame + pad == 0
            && zero.is_empty()
            && !may_goto
            && first.is_some()
        {
            // Nothing to save, set up or zero, and no may_goto budget slot
            // to push: the entry is slot 0's code, which starts the buffer;
            // its `exit` returns to the caller.
            return dynasmrt::AssemblyOffset(0);
        }
        let entry = a.offset();
        if saved.is_empty() && ctx_frame + pad == 0 && !may_goto {
            // Nothing to save or set up: the entry zeroes what it must and
            // jumps into the code, whose `exit` returns to the caller.
            for &x in &zero {
                dynasm!(a ; .arch x64 ; xor Rd(x), Rd(x));
            }
            match first {
                Some(l) => dynasm!(a ; .arch x64 ; jmp =>l),
                None => dynasm!(a ; .arch x64 ; ret),
            }
            return entry;
        }
        for &x in &saved {
            dynasm!(a ; .arch x64 ; push Rq(x));
        }
        if ctx_frame + pad != 0 {
            dynasm!(a ; .arch x64 ; sub rsp, ctx_frame + pad);
        }
        if self.uses_ctx {
            dynasm!(a ; .arch x64
                ; mov r12, rsp
                ; mov QWORD [r12 + off::CTX_LO], 0
                ; mov QWORD [r12 + off::CTX_LEN], 0
                ; mov QWORD [r12 + off::DEPTH], 0
            );
        }
        if uses(10) {
            dynasm!(a ; .arch x64 ; mov rbp, rdx);
        }
        for &x in &zero {
            dynasm!(a ; .arch x64 ; xor Rd(x), Rd(x));
        }
        if let Some(l) = first {
            // The frame's may_goto budget: 16 bytes, which keep rsp's
            // alignment.
            if may_goto {
                dynasm!(a ; .arch x64 ; sub rsp, 8 ; push MAY_GOTO_BUDGET);
            }
            dynasm!(a ; .arch x64 ; call =>l);
            if may_goto {
                dynasm!(a ; .arch x64 ; add rsp, 16);
            }
        }
        if ctx_frame + pad != 0 {
            dynasm!(a ; .arch x64 ; add rsp, ctx_frame + pad);
        }
        for &x in saved.iter().rev() {
            dynasm!(a ; .arch x64 ; pop Rq(x));
        }
        dynasm!(a ; .arch x64 ; ret);
        entry
    }

    /// The direct entry of trusted and verified code that reads the run's
    /// [`JitCtx`](crate::JitCtx) through r12 (its context region and packet
    /// pointer fields, the frame bookkeeping of bpf-to-bpf calls) but calls
    /// no trampoline: rdi = r1, rsi = the caller's JitCtx, rdx = r10. It
    /// saves the callee-saved registers the code may change and zeroes the
    /// registers the program may read before writing them (r2 included,
    /// whose x86 register brought the JitCtx); nothing else is loaded.
    fn emit_direct_ctx_entry(&mut self, first: Option<DynamicLabel>) -> dynasmrt::AssemblyOffset {
        let used = used_regs(self.insns);
        let uses = |r: usize| used & (1 << r) != 0;
        let zero: Vec<u8> = [0usize, 2, 3, 4, 5, 6, 7, 8, 9]
            .into_iter()
            .filter(|&r| uses(r) && self.written_before_read & (1 << r) == 0)
            .map(|r| x86(r as u8))
            .collect();
        let mut saved: Vec<u8> = [(6, 3u8), (7, 13), (8, 14), (9, 15), (10, 5)]
            .into_iter()
            .filter(|&(r, _)| uses(r))
            .map(|(_, x)| x)
            .collect();
        saved.push(12);
        let may_goto = self.may_goto;
        let a = &mut self.a;
        let entry = a.offset();
        for &x in &saved {
            dynasm!(a ; .arch x64 ; push Rq(x));
        }
        dynasm!(a ; .arch x64 ; mov r12, rsi);
        if uses(10) {
            dynasm!(a ; .arch x64 ; mov rbp, rdx);
        }
        for &x in &zero {
            dynasm!(a ; .arch x64 ; xor Rd(x), Rd(x));
        }
        if let Some(l) = first {
            if may_goto {
                dynasm!(a ; .arch x64 ; sub rsp, 8 ; push MAY_GOTO_BUDGET);
            }
            dynasm!(a ; .arch x64 ; call =>l);
            if may_goto {
                dynasm!(a ; .arch x64 ; add rsp, 16);
            }
        }
        for &x in saved.iter().rev() {
            dynasm!(a ; .arch x64 ; pop Rq(x));
        }
        dynasm!(a ; .arch x64 ; ret);
        entry
    }

    /// The trampolines and the entry; returns the entry's offset.
    fn emit_runtime(&mut self) -> dynasmrt::AssemblyOffset {
        let (error_exit, stop_exit, slow_mem, exec_rt, zero_frame) = (
            self.error_exit,
            self.stop_exit,
            self.slow_mem,
            self.exec_rt,
            self.zero_frame,
        );
        let trap = self.trap;
        let may_goto = self.may_goto;
        let hot_reg = self.hot_reg;
        let cnt_regs = std::mem::take(&mut self.cnt_regs);
        let a = &mut self.a;
        dynasm!(a ; .arch x64 ; =>trap ; ud2);
        // slow_mem: r10 = info, r11 = address; returns the status in r10,
        // r11 kept; an error unwinds.
        dynasm!(a ; .arch x64
            ; =>slow_mem
            ; mov [r12], rax
            ; mov [r12 + 8], rdi
            ; mov [r12 + 16], rsi
            ; mov [r12 + 24], rdx
            ; mov [r12 + 32], rcx
            ; mov [r12 + 40], r8
            ; mov [r12 + off::SCRATCH], r11
            ; add r9, [r12 + off::BUDGET]
            ; mov [r12 + off::SPENT], r9
            ; mov rdi, r12
            ; mov rsi, r10
            ; mov rdx, r11
            ; call QWORD [r12 + off::SLOW]
            ; mov r10, rax
            ; mov r11, [r12 + off::SCRATCH]
            ; mov r9, [r12 + off::SPENT]
            ; sub r9, [r12 + off::BUDGET]
            ; mov rax, [r12]
            ; mov rdi, [r12 + 8]
            ; mov rsi, [r12 + 16]
            ; mov rdx, [r12 + 24]
            ; mov rcx, [r12 + 32]
            ; mov r8, [r12 + 40]
            ; cmp r10, status::ERROR as i32
            ; je =>error_exit
            ; ret
        );
        // exec_rt: r10 = pc; all of r0-r10 go to the runtime and come back.
        dynasm!(a ; .arch x64
            ; =>exec_rt
            ; mov [r12], rax
            ; mov [r12 + 8], rdi
            ; mov [r12 + 16], rsi
            ; mov [r12 + 24], rdx
            ; mov [r12 + 32], rcx
            ; mov [r12 + 40], r8
            ; mov [r12 + 48], rbx
            ; mov [r12 + 56], r13
            ; mov [r12 + 64], r14
            ; mov [r12 + 72], r15
            ; mov [r12 + 80], rbp
            ; add r9, [r12 + off::BUDGET]
            ; mov [r12 + off::SPENT], r9
            ; mov rdi, r12
            ; mov rsi, r10
            ; call QWORD [r12 + off::EXEC]
            ; mov r10, rax
            ; mov r9, [r12 + off::SPENT]
            ; sub r9, [r12 + off::BUDGET]
            ; mov rax, [r12]
            ; mov rdi, [r12 + 8]
            ; mov rsi, [r12 + 16]
            ; mov rdx, [r12 + 24]
            ; mov rcx, [r12 + 32]
            ; mov r8, [r12 + 40]
            ; mov rbx, [r12 + 48]
            ; mov r13, [r12 + 56]
            ; mov r14, [r12 + 64]
            ; mov r15, [r12 + 72]
        );
        // A helper may have moved the hot region (the packet).
        load_hot_registers(a, hot_reg, &cnt_regs);
        dynasm!(a ; .arch x64
            ; test r10, r10
            ; jnz >stop_or_error
            ; ret
            ; stop_or_error:
            ; cmp r10, status::STOP as i32
            ; je =>stop_exit
            ; jmp =>error_exit
        );
        // zero_frame: [rbp - 512, rbp) = 0.
        dynasm!(a ; .arch x64 ; =>zero_frame ; xorps xmm0, xmm0);
        for k in 0..32 {
            let o = -FRAME + 16 * k;
            dynasm!(a ; .arch x64 ; movups [rbp + o], xmm0);
        }
        dynasm!(a ; .arch x64 ; ret);
        // The entry: rdi = ctx, rsi = the code to call.
        let entry = a.offset();
        dynasm!(a ; .arch x64
            ; push rbx
            ; push rbp
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; mov r12, rdi
            ; push QWORD [r12 + off::SAVED_RSP]
            ; mov [r12 + off::SAVED_RSP], rsp
            ; mov r11, rsi
            ; mov rax, [r12]
            ; mov rdi, [r12 + 8]
            ; mov rsi, [r12 + 16]
            ; mov rdx, [r12 + 24]
            ; mov rcx, [r12 + 32]
            ; mov r8, [r12 + 40]
            ; mov rbx, [r12 + 48]
            ; mov r13, [r12 + 56]
            ; mov r14, [r12 + 64]
            ; mov r15, [r12 + 72]
            ; mov rbp, [r12 + 80]
            ; mov r9, [r12 + off::SPENT]
            ; sub r9, [r12 + off::BUDGET]
        );
        load_hot_registers(a, hot_reg, &cnt_regs);
        // The frame's may_goto budget: 16 bytes, which keep rsp's
        // alignment.
        if may_goto {
            dynasm!(a ; .arch x64 ; sub rsp, 8 ; push MAY_GOTO_BUDGET);
        }
        dynasm!(a ; .arch x64 ; call r11);
        if may_goto {
            dynasm!(a ; .arch x64 ; add rsp, 16);
        }
        dynasm!(a ; .arch x64
            ; mov [r12 + off::RET], rax
            ; add r9, [r12 + off::BUDGET]
            ; mov [r12 + off::SPENT], r9
            ; xor eax, eax
            ; epilogue:
            ; pop QWORD [r12 + off::SAVED_RSP]
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbp
            ; pop rbx
            ; ret
            ; =>error_exit
            ; mov rsp, [r12 + off::SAVED_RSP]
            ; mov eax, status::ERROR as i32
            ; jmp <epilogue
            ; =>stop_exit
            ; mov rsp, [r12 + off::SAVED_RSP]
            ; xor eax, eax
            ; jmp <epilogue
        );
        entry
    }
}
