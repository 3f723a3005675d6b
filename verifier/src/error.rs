//! The conditions a program can fail, each with the register, offset or
//! state that broke it; [`crate::Rejection::message`] carries the kernel's
//! words for the same failure.

use ironbpf_progtype::desc::CtxRefusal;

/// The failed safety condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    /// The program has no instructions.
    Empty,
    /// More instructions than the loader may load (1M privileged, 4096 not).
    TooManyInsns { count: usize, limit: usize },
    /// Something only a privileged loader may do.
    NeedsPrivilege { pc: usize, what: &'static str },
    /// Something ironbpf's verifier does not model; refused rather than
    /// guessed.
    Unsupported { pc: usize, what: &'static str },
    /// A jump or call leaves its subprogram or the program.
    JumpOutOfRange { from: usize, to: i64 },
    /// More than 256 subprograms.
    TooManySubprogs { count: usize },
    /// A subprogram's last instruction falls through.
    FallsOffEnd { subprog: usize, last: usize },
    /// A field the encoding reserves is not zero.
    ReservedField { pc: usize, what: &'static str },
    /// A malformed `ld_imm64`.
    BadLdImm64 { pc: usize },
    /// An opcode the kernel does not know.
    UnknownOpcode { pc: usize, code: u8 },
    /// A jump lands on the second slot of an `ld_imm64`.
    JumpIntoLdImm64 { from: usize, ldimm64: usize },
    /// A loop, where loops are not allowed (unprivileged).
    BackEdge { from: usize, to: usize },
    /// An instruction no path reaches.
    Unreachable { pc: usize },
    /// A register read before it was written (`!read_ok`).
    UninitRegister { reg: u8 },
    /// A write to r10.
    FramePointerWrite,
    /// Arithmetic the pointer's type does not allow.
    PointerArithmetic { reg: u8, ptr_type: String },
    /// A pointer value would escape to where an unprivileged program could
    /// read it.
    PointerLeak { reg: u8, into: &'static str },
    /// An unprivileged comparison of pointers.
    PointerComparison { reg: u8 },
    /// A load or store through a register that may not be dereferenced.
    InvalidMemAccess { reg: u8, reg_type: String },
    /// An access past the end of its region (`value_size`, packet range...).
    OutOfBounds {
        reg: u8,
        region: &'static str,
        off: i64,
        size: i64,
        limit: i64,
    },
    /// A variable offset whose minimum may be negative.
    NegativeMin { reg: u8 },
    /// A variable offset with no useful upper bound.
    Unbounded { reg: u8 },
    /// A read of stack bytes never written.
    UninitStack { off: i64, size: i64 },
    /// A stack access outside `[-512, 0)`.
    StackOutOfBounds { off: i64, size: i64 },
    /// A pointer spilled or filled with a partial size, or a spilled
    /// pointer overwritten in part.
    BadSpill { off: i64 },
    /// A context access the program type refuses.
    CtxAccess {
        off: i64,
        size: u32,
        why: Option<CtxRefusal>,
    },
    /// A context pointer moved from the context's start.
    ModifiedCtx { reg: u8, off: i64 },
    /// An access not aligned as strict alignment requires.
    Misaligned { reg: u8, off: i64, size: u32 },
    /// A helper id the kernel does not know.
    UnknownHelper { id: i32 },
    /// A helper the program type may not call.
    HelperNotAllowed { id: i32 },
    /// A GPL-only helper from a non-GPL program.
    GplOnly { id: i32 },
    /// A helper argument of the wrong type.
    ArgType {
        reg: u8,
        got: String,
        expected: String,
    },
    /// A helper size argument that is negative, zero or unbounded.
    ArgSize { reg: u8 },
    /// A helper argument that must be a known constant.
    ArgNotConst { reg: u8 },
    /// Too many nested bpf-to-bpf calls.
    CallTooDeep { frames: usize },
    /// The stacks of a call chain exceed 512 bytes.
    StackTooLarge { calls: usize, size: u32 },
    /// r0 at exit is outside the program type's legal range.
    ReturnValue { min: i64, max: i64 },
    /// More than 1M instructions processed.
    TooComplex { processed: u64 },
    /// More than 8192 pending branches.
    JumpSequence { count: usize },
    /// A loop state repeats exactly.
    InfiniteLoop { pc: usize },
    /// A reference acquired and not released at exit.
    UnreleasedReference { id: u32, insn: usize },
    /// A division or modulo by the immediate zero.
    DivByZero,
    /// A shift by at least the operand's width.
    InvalidShift { shift: i32 },
    /// A map reference the program's map list does not have.
    BadMapReference { pc: usize, index: i64 },
    /// A map of the wrong type for the helper or instruction.
    MapIncompatible { map_type: u32 },
    /// A kfunc the program may not call here (not a kfunc, not for this
    /// program type, sleepable from a non-sleepable program).
    KfuncNotAllowed { pc: usize, name: String },
    /// A kfunc argument of the wrong type or trust.
    KfuncArg {
        reg: u8,
        kfunc: String,
        got: String,
        expected: String,
    },
    /// An RCU read section broken: nested, unmatched, left open at exit,
    /// or something that may sleep inside it.
    RcuSection { pc: usize },
    /// An open-coded iterator used before `new`, after `destroy`, twice
    /// initialised or not on the stack.
    Iterator { reg: u8 },
    /// A dynptr used before it is made, after its release, of the wrong
    /// type, overwritten while it holds a reference, or not on the stack.
    Dynptr { reg: u8 },
    /// Another condition, named by the message.
    Other,
}

impl crate::Rejection {
    /// A table the verifier built itself (the CFG, the subprogram and
    /// instruction tables, a state's frames) lacks an entry the verifier
    /// had proven present: a bug in ironbpf's verifier, not in the program.
    /// Refused as the kernel refuses on its own `verifier bug` lines, with
    /// `EFAULT`, instead of a panic; `what` names the table and the index.
    pub(crate) fn internal(insn: Option<usize>, what: std::fmt::Arguments<'_>) -> Self {
        crate::Rejection {
            insn,
            message: format!("verifier bug: {what} (please report it to ironbpf with the program)"),
            errno: crate::cfg::libc_errno::EFAULT,
            kind: RejectionKind::Other,
            path: Vec::new(),
        }
    }
}
