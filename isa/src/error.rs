//! Errors of decoding and validating instructions. Each names the
//! instruction index (`pc`) and the field at fault.

use thiserror::Error;

/// An instruction that cannot be decoded or a program that cannot be run as
/// written. `pc` is the slot index of the instruction at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("insn {pc}: {kind}")]
pub struct IsaError {
    /// The instruction (slot) index.
    pub pc: usize,
    /// What is wrong with it.
    pub kind: IsaErrorKind,
}

impl IsaError {
    /// An error at instruction `pc`.
    pub fn new(pc: usize, kind: IsaErrorKind) -> Self {
        IsaError { pc, kind }
    }
}

/// What is wrong, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IsaErrorKind {
    #[error("the program is empty")]
    EmptyProgram,
    #[error(
        "the program is {len} bytes long, not a multiple of 8 (every instruction slot is 8 bytes)"
    )]
    TruncatedProgram { len: usize },
    #[error("the program has {len} instructions; at most {max} are allowed")]
    TooManyInstructions { len: usize, max: usize },
    #[error("unknown opcode {code:#04x}")]
    UnknownOpcode { code: u8 },
    #[error("opcode {code:#04x} uses reserved fields: `{field}` must be 0 but is {value}")]
    ReservedField {
        code: u8,
        field: &'static str,
        value: i64,
    },
    #[error("invalid {field} register r{reg}: registers are r0 to r10")]
    BadRegister { field: &'static str, reg: u8 },
    #[error("opcode {code:#04x}: invalid immediate {imm}: {why}")]
    BadImm {
        code: u8,
        imm: i64,
        why: &'static str,
    },
    #[error("opcode {code:#04x}: invalid offset {off}: {why}")]
    BadOffset {
        code: u8,
        off: i16,
        why: &'static str,
    },
    #[error("invalid ld_imm64 source {src}: pseudo sources are 0 (constant), 1 (map fd), 2 (map value), 3 (BTF id), 4 (function), 5 (map index), 6 (map value by index)")]
    BadLdImm64Src { src: u8 },
    #[error("incomplete ld_imm64: the program ends after its first slot")]
    IncompleteLdImm64,
    #[error("invalid second slot of ld_imm64: its `{field}` must be 0 but is {value}")]
    BadLdImm64SecondSlot { field: &'static str, value: i64 },
    #[error("jump out of range: target insn {target} is outside the program (insns 0 to {last})")]
    JumpOutOfRange { target: i64, last: usize },
    #[error("jump into the middle of the ld_imm64 at insn {ldimm64}")]
    JumpIntoLdImm64 { ldimm64: usize },
    #[error("the last insn of {what} is not an exit or jump: execution would fall off its end")]
    FallsOffEnd { what: String },
    #[error("writes r10, the read-only frame pointer")]
    WritesFramePointer,
    #[error("reads r{reg} before anything wrote it on some path from the entry (the kernel says \"R{reg} !read_ok\"): invalid read of an uninitialized register")]
    UninitializedRead { reg: u8 },
    #[error("call to unknown helper {id}: no helper with that id is registered")]
    UnknownHelper { id: i64 },
}
