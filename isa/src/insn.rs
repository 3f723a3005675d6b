//! The typed instruction: [`Insn`], decoded from and encoded back to [`RawInsn`]
//! slots bit-exactly.

use crate::error::{IsaError, IsaErrorKind};
use crate::opcode::*;
use std::fmt;

/// One 8-byte instruction slot as it sits in memory (RFC 9669 §3): opcode,
/// destination and source registers (4 bits each), signed 16-bit offset and
/// signed 32-bit immediate. Always little-endian on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RawInsn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl RawInsn {
    /// Builds a slot from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        RawInsn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// Decodes the 8 little-endian bytes of one slot.
    pub fn from_bytes(b: [u8; 8]) -> Self {
        RawInsn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The 8 little-endian bytes of this slot.
    pub fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The slot as the 64-bit word that bpf_conformance's `-- raw` sections
    /// and uBPF's tests print (`0x00000000000001b7` is `mov r1, 0`).
    pub fn from_u64(word: u64) -> Self {
        Self::from_bytes(word.to_le_bytes())
    }

    /// The inverse of [`RawInsn::from_u64`].
    pub fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }
}

/// Splits a byte buffer into instruction slots. Its length must be a
/// multiple of 8.
pub fn slots_from_bytes(bytes: &[u8]) -> Result<Vec<RawInsn>, IsaError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(IsaError::new(
            bytes.len() / 8,
            IsaErrorKind::TruncatedProgram { len: bytes.len() },
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            RawInsn::from_bytes(b)
        })
        .collect())
}

/// The bytes of a sequence of slots.
pub fn slots_to_bytes(slots: &[RawInsn]) -> Vec<u8> {
    slots.iter().flat_map(|s| s.to_bytes()).collect()
}

/// A register, `r0` to `r10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// The read-only frame pointer.
    pub const R10: Reg = Reg(10);

    /// The register numbered `n`, if `n <= 10`.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// Its number, 0 to 10.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Its number as the 4-bit field.
    pub const fn num(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operand width: the ALU/JMP32 classes work on the low 32 bits (and ALU
/// results are zero-extended), ALU64/JMP on all 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    W32,
    W64,
}

/// The second operand of ALU and conditional jump instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// `BPF_X`: a register.
    Reg(Reg),
    /// `BPF_K`: the immediate, sign-extended to 64 bits for 64-bit operations.
    Imm(i32),
}

/// A load or store size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    /// Its width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The C type name used by the kernel's log: `u8` ... `u64`.
    pub const fn c_type(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }

    /// The signed C type name: `s8` ... `s64`.
    pub const fn c_stype(self) -> &'static str {
        match self {
            Size::B => "s8",
            Size::H => "s16",
            Size::W => "s32",
            Size::DW => "s64",
        }
    }

    const fn code(self) -> u8 {
        match self {
            Size::B => BPF_B,
            Size::H => BPF_H,
            Size::W => BPF_W,
            Size::DW => BPF_DW,
        }
    }

    const fn from_code(code: u8) -> Size {
        match code & 0x18 {
            BPF_B => Size::B,
            BPF_H => Size::H,
            BPF_W => Size::W,
            _ => Size::DW,
        }
    }
}

/// A two-operand ALU operation. `Div`/`Mod` are unsigned; `SDiv`/`SMod`
/// (ISA v4, `off = 1`) are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    Mod,
    SMod,
    Xor,
    Mov,
    Arsh,
}

impl AluOp {
    /// All of them, for generators and tests.
    pub const ALL: [AluOp; 14] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];

    const fn code_and_off(self) -> (u8, i16) {
        match self {
            AluOp::Add => (BPF_ADD, 0),
            AluOp::Sub => (BPF_SUB, 0),
            AluOp::Mul => (BPF_MUL, 0),
            AluOp::Div => (BPF_DIV, 0),
            AluOp::SDiv => (BPF_DIV, 1),
            AluOp::Or => (BPF_OR, 0),
            AluOp::And => (BPF_AND, 0),
            AluOp::Lsh => (BPF_LSH, 0),
            AluOp::Rsh => (BPF_RSH, 0),
            AluOp::Mod => (BPF_MOD, 0),
            AluOp::SMod => (BPF_MOD, 1),
            AluOp::Xor => (BPF_XOR, 0),
            AluOp::Mov => (BPF_MOV, 0),
            AluOp::Arsh => (BPF_ARSH, 0),
        }
    }

    /// The operator in the kernel's log syntax (`+=`, `s/=`, ...).
    pub const fn symbol(self) -> &'static str {
        match self {
            AluOp::Add => "+=",
            AluOp::Sub => "-=",
            AluOp::Mul => "*=",
            AluOp::Div => "/=",
            AluOp::SDiv => "s/=",
            AluOp::Or => "|=",
            AluOp::And => "&=",
            AluOp::Lsh => "<<=",
            AluOp::Rsh => ">>=",
            AluOp::Mod => "%=",
            AluOp::SMod => "s%=",
            AluOp::Xor => "^=",
            AluOp::Mov => "=",
            AluOp::Arsh => "s>>=",
        }
    }
}

/// A conditional jump's comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JmpOp {
    Jeq,
    Jgt,
    Jge,
    Jset,
    Jne,
    Jsgt,
    Jsge,
    Jlt,
    Jle,
    Jslt,
    Jsle,
}

impl JmpOp {
    /// All of them, for generators and tests.
    pub const ALL: [JmpOp; 11] = [
        JmpOp::Jeq,
        JmpOp::Jgt,
        JmpOp::Jge,
        JmpOp::Jset,
        JmpOp::Jne,
        JmpOp::Jsgt,
        JmpOp::Jsge,
        JmpOp::Jlt,
        JmpOp::Jle,
        JmpOp::Jslt,
        JmpOp::Jsle,
    ];

    const fn code(self) -> u8 {
        match self {
            JmpOp::Jeq => BPF_JEQ,
            JmpOp::Jgt => BPF_JGT,
            JmpOp::Jge => BPF_JGE,
            JmpOp::Jset => BPF_JSET,
            JmpOp::Jne => BPF_JNE,
            JmpOp::Jsgt => BPF_JSGT,
            JmpOp::Jsge => BPF_JSGE,
            JmpOp::Jlt => BPF_JLT,
            JmpOp::Jle => BPF_JLE,
            JmpOp::Jslt => BPF_JSLT,
            JmpOp::Jsle => BPF_JSLE,
        }
    }

    /// The comparison in the kernel's log syntax (`==`, `s>`, `&`, ...).
    pub const fn symbol(self) -> &'static str {
        match self {
            JmpOp::Jeq => "==",
            JmpOp::Jgt => ">",
            JmpOp::Jge => ">=",
            JmpOp::Jset => "&",
            JmpOp::Jne => "!=",
            JmpOp::Jsgt => "s>",
            JmpOp::Jsge => "s>=",
            JmpOp::Jlt => "<",
            JmpOp::Jle => "<=",
            JmpOp::Jslt => "s<",
            JmpOp::Jsle => "s<=",
        }
    }
}

/// A byte-order operation (`BPF_END`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// `le16`/`le32`/`le64` (class ALU, `BPF_TO_LE`).
    ToLe,
    /// `be16`/`be32`/`be64` (class ALU, `BPF_TO_BE`).
    ToBe,
    /// `bswap16`/`bswap32`/`bswap64` (class ALU64, ISA v4).
    Swap,
}

/// An atomic operation (`BPF_STX | BPF_ATOMIC`, its kind in the imm field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    /// Exchange: `src = xchg(mem, src)`.
    Xchg,
    /// Compare and exchange: `r0 = cmpxchg(mem, r0, src)`.
    CmpXchg,
    /// `dst = load_acquire(mem)` (Linux 6.15+): the ordering form of `ldx`.
    LoadAcquire,
    /// `store_release(mem, src)` (Linux 6.15+).
    StoreRelease,
}

impl AtomicOp {
    /// The imm field encoding.
    pub const fn imm(self) -> i32 {
        match self {
            AtomicOp::Add => BPF_ADD as i32,
            AtomicOp::Or => BPF_OR as i32,
            AtomicOp::And => BPF_AND as i32,
            AtomicOp::Xor => BPF_XOR as i32,
            AtomicOp::FetchAdd => BPF_ADD as i32 | BPF_FETCH,
            AtomicOp::FetchOr => BPF_OR as i32 | BPF_FETCH,
            AtomicOp::FetchAnd => BPF_AND as i32 | BPF_FETCH,
            AtomicOp::FetchXor => BPF_XOR as i32 | BPF_FETCH,
            AtomicOp::Xchg => BPF_XCHG,
            AtomicOp::CmpXchg => BPF_CMPXCHG,
            AtomicOp::LoadAcquire => BPF_LOAD_ACQ,
            AtomicOp::StoreRelease => BPF_STORE_REL,
        }
    }

    fn from_imm(imm: i32) -> Option<AtomicOp> {
        Some(match imm {
            x if x == BPF_ADD as i32 => AtomicOp::Add,
            x if x == BPF_OR as i32 => AtomicOp::Or,
            x if x == BPF_AND as i32 => AtomicOp::And,
            x if x == BPF_XOR as i32 => AtomicOp::Xor,
            x if x == BPF_ADD as i32 | BPF_FETCH => AtomicOp::FetchAdd,
            x if x == BPF_OR as i32 | BPF_FETCH => AtomicOp::FetchOr,
            x if x == BPF_AND as i32 | BPF_FETCH => AtomicOp::FetchAnd,
            x if x == BPF_XOR as i32 | BPF_FETCH => AtomicOp::FetchXor,
            BPF_XCHG => AtomicOp::Xchg,
            BPF_CMPXCHG => AtomicOp::CmpXchg,
            BPF_LOAD_ACQ => AtomicOp::LoadAcquire,
            BPF_STORE_REL => AtomicOp::StoreRelease,
            _ => return None,
        })
    }

    /// The read-modify-write arithmetic of the four classic operations, if any.
    pub const fn alu(self) -> Option<AluOp> {
        match self {
            AtomicOp::Add | AtomicOp::FetchAdd => Some(AluOp::Add),
            AtomicOp::Or | AtomicOp::FetchOr => Some(AluOp::Or),
            AtomicOp::And | AtomicOp::FetchAnd => Some(AluOp::And),
            AtomicOp::Xor | AtomicOp::FetchXor => Some(AluOp::Xor),
            _ => None,
        }
    }

    /// Whether the old value is written back to the source register
    /// (or r0 for cmpxchg).
    pub const fn fetches(self) -> bool {
        matches!(
            self,
            AtomicOp::FetchAdd
                | AtomicOp::FetchOr
                | AtomicOp::FetchAnd
                | AtomicOp::FetchXor
                | AtomicOp::Xchg
                | AtomicOp::CmpXchg
        )
    }
}

/// What the two-slot `ld_imm64` loads (its `src_reg` pseudo source).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LdImm64Src {
    /// src 0: the 64-bit constant.
    Imm,
    /// `BPF_PSEUDO_MAP_FD` (1): imm is a map fd; loads the map pointer.
    MapFd,
    /// `BPF_PSEUDO_MAP_VALUE` (2): imm is a map fd, next_imm the value offset.
    MapValue,
    /// `BPF_PSEUDO_BTF_ID` (3): imm is a BTF id of a kernel variable,
    /// next_imm the fd of the module BTF holding it (0 for vmlinux).
    BtfId,
    /// `BPF_PSEUDO_FUNC` (4): imm is the relative instruction offset of a
    /// subprogram; loads its address.
    Func,
    /// `BPF_PSEUDO_MAP_IDX` (5): imm indexes the program's map array.
    MapIdx,
    /// `BPF_PSEUDO_MAP_IDX_VALUE` (6): imm indexes the map array, next_imm
    /// the value offset.
    MapIdxValue,
}

impl LdImm64Src {
    fn from_src(src: u8) -> Option<Self> {
        Some(match src {
            0 => LdImm64Src::Imm,
            BPF_PSEUDO_MAP_FD => LdImm64Src::MapFd,
            BPF_PSEUDO_MAP_VALUE => LdImm64Src::MapValue,
            BPF_PSEUDO_BTF_ID => LdImm64Src::BtfId,
            BPF_PSEUDO_FUNC => LdImm64Src::Func,
            BPF_PSEUDO_MAP_IDX => LdImm64Src::MapIdx,
            BPF_PSEUDO_MAP_IDX_VALUE => LdImm64Src::MapIdxValue,
            _ => return None,
        })
    }

    /// The `src_reg` value.
    pub const fn src(self) -> u8 {
        match self {
            LdImm64Src::Imm => 0,
            LdImm64Src::MapFd => BPF_PSEUDO_MAP_FD,
            LdImm64Src::MapValue => BPF_PSEUDO_MAP_VALUE,
            LdImm64Src::BtfId => BPF_PSEUDO_BTF_ID,
            LdImm64Src::Func => BPF_PSEUDO_FUNC,
            LdImm64Src::MapIdx => BPF_PSEUDO_MAP_IDX,
            LdImm64Src::MapIdxValue => BPF_PSEUDO_MAP_IDX_VALUE,
        }
    }
}

/// The target of a `call` instruction (`BPF_JMP | BPF_CALL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// src 0: a helper function by id.
    Helper(i32),
    /// `BPF_PSEUDO_CALL`: a bpf-to-bpf call, imm relative to the next insn.
    Local(i32),
    /// `BPF_PSEUDO_KFUNC_CALL`: a kernel function by BTF id; `off` names the
    /// module BTF (an index into fd_array, 0 for vmlinux).
    Kfunc { btf_id: i32, off: i16 },
}

/// One decoded instruction. `ld_imm64` covers two slots; every other
/// instruction one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// `dst op= src` for the two-operand ALU operations.
    Alu {
        op: AluOp,
        width: Width,
        dst: Reg,
        src: Operand,
    },
    /// `dst = -dst`.
    Neg { width: Width, dst: Reg },
    /// `dst = (s8/s16/s32) src`: sign-extending move (ISA v4; `bits` is 8,
    /// 16, or 32 for the 64-bit form only).
    MovSx {
        width: Width,
        dst: Reg,
        src: Reg,
        bits: u8,
    },
    /// Byte swap: `le16 dst`, `be32 dst`, `bswap64 dst`...
    Endian { kind: Endian, bits: u8, dst: Reg },
    /// `dst = imm64` and its pseudo forms. `imm` is the first slot's imm,
    /// `next_imm` the second's.
    LdImm64 {
        dst: Reg,
        src: LdImm64Src,
        imm: i32,
        next_imm: i32,
    },
    /// Legacy packet load: `r0 = ntohX(*(skb->data + imm))`.
    LdAbs { size: Size, imm: i32 },
    /// Legacy packet load: `r0 = ntohX(*(skb->data + src + imm))`.
    LdInd { size: Size, src: Reg, imm: i32 },
    /// `dst = *(size *)(src + off)`; sign-extending for `BPF_MEMSX`.
    Load {
        size: Size,
        sign_extend: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = imm`.
    Store {
        size: Size,
        dst: Reg,
        off: i16,
        imm: i32,
    },
    /// `*(size *)(dst + off) = src`.
    StoreReg {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// An atomic operation on `*(size *)(dst + off)` with `src`.
    Atomic {
        op: AtomicOp,
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `goto +off`.
    Ja { off: i16 },
    /// `gotol +imm` (`BPF_JMP32 | BPF_JA`, ISA v4).
    Gotol { imm: i32 },
    /// `may_goto +off` (`BPF_JMP | BPF_JCOND`, src_reg `BPF_MAY_GOTO`):
    /// falls through while the loop budget lasts, else jumps (libbpf's
    /// `can_loop` and `cond_break`).
    MayGoto { off: i16 },
    /// `if dst op src goto +off`.
    Jmp {
        op: JmpOp,
        width: Width,
        dst: Reg,
        src: Operand,
        off: i16,
    },
    /// `call`: a helper, a subprogram or a kfunc.
    Call(CallTarget),
    /// `callx reg`: call the helper whose id (uBPF) or address the register
    /// holds. The register sits in the dst field, as LLVM encodes it.
    Callx { reg: Reg },
    /// `exit`.
    Exit,
}

/// Where a jump-like instruction goes, relative to the next instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Branch {
    /// Always: `ja`, `gotol`.
    Always(i32),
    /// Maybe (conditional jump): falls through otherwise.
    Cond(i32),
    /// A bpf-to-bpf call or a `BPF_PSEUDO_FUNC` reference to a subprogram.
    Subprog(i32),
}

impl Insn {
    /// How many slots this instruction takes: 2 for `ld_imm64`, else 1.
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The 64-bit constant of an `ld_imm64 src 0`.
    pub fn imm64(imm: i32, next_imm: i32) -> u64 {
        (imm as u32 as u64) | ((next_imm as u32 as u64) << 32)
    }

    /// The control-flow edge this instruction adds, if any.
    pub fn branch(&self) -> Option<Branch> {
        match *self {
            Insn::Ja { off } => Some(Branch::Always(off as i32)),
            Insn::Gotol { imm } => Some(Branch::Always(imm)),
            Insn::Jmp { off, .. } | Insn::MayGoto { off } => Some(Branch::Cond(off as i32)),
            Insn::Call(CallTarget::Local(imm)) => Some(Branch::Subprog(imm)),
            Insn::LdImm64 {
                src: LdImm64Src::Func,
                imm,
                ..
            } => Some(Branch::Subprog(imm)),
            _ => None,
        }
    }

    /// Decodes the instruction that starts at `slots[0]`; `pc` is its
    /// index in the program, for errors. `ld_imm64` reads `slots[1]` too.
    pub fn decode(slots: &[RawInsn], pc: usize) -> Result<Insn, IsaError> {
        let Some(&raw) = slots.first() else {
            return Err(IsaError::new(pc, IsaErrorKind::EmptyProgram));
        };
        let err = |kind| IsaError::new(pc, kind);
        let reserved = |field: &'static str, value: i64| {
            Err(err(IsaErrorKind::ReservedField {
                code: raw.code,
                field,
                value,
            }))
        };
        let dst = Reg::new(raw.dst).ok_or_else(|| {
            err(IsaErrorKind::BadRegister {
                field: "dst",
                reg: raw.dst,
            })
        });
        let src = Reg::new(raw.src).ok_or_else(|| {
            err(IsaErrorKind::BadRegister {
                field: "src",
                reg: raw.src,
            })
        });
        let unknown = || Err(err(IsaErrorKind::UnknownOpcode { code: raw.code }));
        let code = raw.code;
        match class(code) {
            BPF_ALU | BPF_ALU64 => {
                let width = if class(code) == BPF_ALU64 {
                    Width::W64
                } else {
                    Width::W32
                };
                let is_x = code & BPF_X != 0;
                let opc = code & 0xf0;
                match opc {
                    BPF_NEG => {
                        if is_x {
                            return unknown();
                        }
                        if raw.src != 0 {
                            return reserved("src", raw.src as i64);
                        }
                        if raw.off != 0 {
                            return reserved("off", raw.off as i64);
                        }
                        if raw.imm != 0 {
                            return reserved("imm", raw.imm as i64);
                        }
                        Ok(Insn::Neg { width, dst: dst? })
                    }
                    BPF_END => {
                        let kind = match (width, is_x) {
                            (Width::W32, false) => Endian::ToLe,
                            (Width::W32, true) => Endian::ToBe,
                            (Width::W64, false) => Endian::Swap,
                            (Width::W64, true) => return unknown(),
                        };
                        if raw.src != 0 {
                            return reserved("src", raw.src as i64);
                        }
                        if raw.off != 0 {
                            return reserved("off", raw.off as i64);
                        }
                        if !matches!(raw.imm, 16 | 32 | 64) {
                            return Err(err(IsaErrorKind::BadImm {
                                code,
                                imm: raw.imm as i64,
                                why: "the byte-swap width must be 16, 32 or 64",
                            }));
                        }
                        Ok(Insn::Endian {
                            kind,
                            bits: raw.imm as u8,
                            dst: dst?,
                        })
                    }
                    0xe0 | 0xf0 => unknown(),
                    _ => {
                        let op = match (opc, raw.off) {
                            (BPF_DIV, 1) => AluOp::SDiv,
                            (BPF_MOD, 1) => AluOp::SMod,
                            (BPF_ADD, _) => AluOp::Add,
                            (BPF_SUB, _) => AluOp::Sub,
                            (BPF_MUL, _) => AluOp::Mul,
                            (BPF_DIV, _) => AluOp::Div,
                            (BPF_OR, _) => AluOp::Or,
                            (BPF_AND, _) => AluOp::And,
                            (BPF_LSH, _) => AluOp::Lsh,
                            (BPF_RSH, _) => AluOp::Rsh,
                            (BPF_MOD, _) => AluOp::Mod,
                            (BPF_XOR, _) => AluOp::Xor,
                            (BPF_MOV, _) => AluOp::Mov,
                            (BPF_ARSH, _) => AluOp::Arsh,
                            _ => return unknown(),
                        };
                        // movsx: BPF_MOV | BPF_X with off 8, 16 (or 32 in ALU64).
                        if op == AluOp::Mov && is_x && raw.off != 0 {
                            let ok = match width {
                                Width::W64 => matches!(raw.off, 8 | 16 | 32),
                                Width::W32 => matches!(raw.off, 8 | 16),
                            };
                            if !ok {
                                return Err(err(IsaErrorKind::BadOffset {
                                    code,
                                    off: raw.off,
                                    why:
                                        "a sign-extending move takes off 8, 16 or (64-bit only) 32",
                                }));
                            }
                            if raw.imm != 0 {
                                return reserved("imm", raw.imm as i64);
                            }
                            return Ok(Insn::MovSx {
                                width,
                                dst: dst?,
                                src: src?,
                                bits: raw.off as u8,
                            });
                        }
                        if raw.off != 0 && !matches!(op, AluOp::SDiv | AluOp::SMod) {
                            return reserved("off", raw.off as i64);
                        }
                        let src = if is_x {
                            if raw.imm != 0 {
                                return reserved("imm", raw.imm as i64);
                            }
                            Operand::Reg(src?)
                        } else {
                            if raw.src != 0 {
                                return reserved("src", raw.src as i64);
                            }
                            Operand::Imm(raw.imm)
                        };
                        Ok(Insn::Alu {
                            op,
                            width,
                            dst: dst?,
                            src,
                        })
                    }
                }
            }
            BPF_JMP | BPF_JMP32 => {
                let width = if class(code) == BPF_JMP {
                    Width::W64
                } else {
                    Width::W32
                };
                let is_x = code & BPF_X != 0;
                match code & 0xf0 {
                    BPF_JA => {
                        if is_x {
                            return unknown();
                        }
                        if raw.dst != 0 {
                            return reserved("dst", raw.dst as i64);
                        }
                        if raw.src != 0 {
                            return reserved("src", raw.src as i64);
                        }
                        match width {
                            Width::W64 => {
                                if raw.imm != 0 {
                                    return reserved("imm", raw.imm as i64);
                                }
                                Ok(Insn::Ja { off: raw.off })
                            }
                            Width::W32 => {
                                if raw.off != 0 {
                                    return reserved("off", raw.off as i64);
                                }
                                Ok(Insn::Gotol { imm: raw.imm })
                            }
                        }
                    }
                    BPF_CALL => {
                        if width == Width::W32 {
                            return unknown();
                        }
                        if is_x {
                            if raw.src != 0 {
                                return reserved("src", raw.src as i64);
                            }
                            if raw.off != 0 {
                                return reserved("off", raw.off as i64);
                            }
                            if raw.imm != 0 {
                                return reserved("imm", raw.imm as i64);
                            }
                            return Ok(Insn::Callx { reg: dst? });
                        }
                        if raw.dst != 0 {
                            return reserved("dst", raw.dst as i64);
                        }
                        let target = match raw.src {
                            0 => CallTarget::Helper(raw.imm),
                            BPF_PSEUDO_CALL => CallTarget::Local(raw.imm),
                            BPF_PSEUDO_KFUNC_CALL => {
                                return Ok(Insn::Call(CallTarget::Kfunc {
                                    btf_id: raw.imm,
                                    off: raw.off,
                                }))
                            }
                            s => return reserved("src", s as i64),
                        };
                        if raw.off != 0 {
                            return reserved("off", raw.off as i64);
                        }
                        Ok(Insn::Call(target))
                    }
                    BPF_EXIT => {
                        if width == Width::W32 || is_x {
                            return unknown();
                        }
                        for (field, v) in [
                            ("dst", raw.dst as i64),
                            ("src", raw.src as i64),
                            ("off", raw.off as i64),
                            ("imm", raw.imm as i64),
                        ] {
                            if v != 0 {
                                return reserved(field, v);
                            }
                        }
                        Ok(Insn::Exit)
                    }
                    BPF_JCOND if width == Width::W64 && !is_x => {
                        // The kernel names the src field first: a JCOND
                        // with another src is no may_goto at all.
                        if raw.src != BPF_MAY_GOTO {
                            return reserved("src", raw.src as i64);
                        }
                        if raw.dst != 0 {
                            return reserved("dst", raw.dst as i64);
                        }
                        if raw.imm != 0 {
                            return reserved("imm", raw.imm as i64);
                        }
                        Ok(Insn::MayGoto { off: raw.off })
                    }
                    0xe0 | 0xf0 => unknown(),
                    opc => {
                        let op = JmpOp::ALL
                            .into_iter()
                            .find(|o| o.code() == opc)
                            .ok_or_else(|| err(IsaErrorKind::UnknownOpcode { code }))?;
                        let src = if is_x {
                            if raw.imm != 0 {
                                return reserved("imm", raw.imm as i64);
                            }
                            Operand::Reg(src?)
                        } else {
                            if raw.src != 0 {
                                return reserved("src", raw.src as i64);
                            }
                            Operand::Imm(raw.imm)
                        };
                        Ok(Insn::Jmp {
                            op,
                            width,
                            dst: dst?,
                            src,
                            off: raw.off,
                        })
                    }
                }
            }
            BPF_LD => {
                let size = Size::from_code(code);
                match code & 0xe0 {
                    BPF_IMM if size == Size::DW => {
                        let pseudo = LdImm64Src::from_src(raw.src)
                            .ok_or_else(|| err(IsaErrorKind::BadLdImm64Src { src: raw.src }))?;
                        if raw.off != 0 {
                            return reserved("off", raw.off as i64);
                        }
                        let Some(next) = slots.get(1) else {
                            return Err(err(IsaErrorKind::IncompleteLdImm64));
                        };
                        for (field, v) in [
                            ("opcode", next.code as i64),
                            ("dst", next.dst as i64),
                            ("src", next.src as i64),
                            ("off", next.off as i64),
                        ] {
                            if v != 0 {
                                return Err(IsaError::new(
                                    pc + 1,
                                    IsaErrorKind::BadLdImm64SecondSlot { field, value: v },
                                ));
                            }
                        }
                        let dst = dst?;
                        // The kernel wants imm of the second slot zero for
                        // every pseudo source but the plain constant, the
                        // two map-value forms (which carry the value offset)
                        // and the BTF id (which carries the fd of a module's
                        // BTF, `check_pseudo_btf_id`).
                        if !matches!(
                            pseudo,
                            LdImm64Src::Imm
                                | LdImm64Src::MapValue
                                | LdImm64Src::MapIdxValue
                                | LdImm64Src::BtfId
                        ) && next.imm != 0
                        {
                            return Err(IsaError::new(
                                pc + 1,
                                IsaErrorKind::BadLdImm64SecondSlot {
                                    field: "imm",
                                    value: next.imm as i64,
                                },
                            ));
                        }
                        Ok(Insn::LdImm64 {
                            dst,
                            src: pseudo,
                            imm: raw.imm,
                            next_imm: next.imm,
                        })
                    }
                    BPF_ABS | BPF_IND if size != Size::DW => {
                        if raw.dst != 0 {
                            return reserved("dst", raw.dst as i64);
                        }
                        if raw.off != 0 {
                            return reserved("off", raw.off as i64);
                        }
                        if code & 0xe0 == BPF_ABS {
                            if raw.src != 0 {
                                return reserved("src", raw.src as i64);
                            }
                            Ok(Insn::LdAbs { size, imm: raw.imm })
                        } else {
                            Ok(Insn::LdInd {
                                size,
                                src: src?,
                                imm: raw.imm,
                            })
                        }
                    }
                    _ => unknown(),
                }
            }
            BPF_LDX => {
                let size = Size::from_code(code);
                let sign_extend = match code & 0xe0 {
                    BPF_MEM => false,
                    BPF_MEMSX if size != Size::DW => true,
                    _ => return unknown(),
                };
                if raw.imm != 0 {
                    return reserved("imm", raw.imm as i64);
                }
                Ok(Insn::Load {
                    size,
                    sign_extend,
                    dst: dst?,
                    src: src?,
                    off: raw.off,
                })
            }
            BPF_ST => {
                if code & 0xe0 != BPF_MEM {
                    return unknown();
                }
                if raw.src != 0 {
                    return reserved("src", raw.src as i64);
                }
                Ok(Insn::Store {
                    size: Size::from_code(code),
                    dst: dst?,
                    off: raw.off,
                    imm: raw.imm,
                })
            }
            _ => {
                // BPF_STX
                let size = Size::from_code(code);
                match code & 0xe0 {
                    BPF_MEM => {
                        if raw.imm != 0 {
                            return reserved("imm", raw.imm as i64);
                        }
                        Ok(Insn::StoreReg {
                            size,
                            dst: dst?,
                            src: src?,
                            off: raw.off,
                        })
                    }
                    BPF_ATOMIC => {
                        let op = AtomicOp::from_imm(raw.imm).ok_or_else(|| {
                            err(IsaErrorKind::BadImm {
                                code,
                                imm: raw.imm as i64,
                                why: "not an atomic operation (add, or, and, xor, with or without fetch; xchg; cmpxchg; load_acquire; store_release)",
                            })
                        })?;
                        let ordering_only =
                            matches!(op, AtomicOp::LoadAcquire | AtomicOp::StoreRelease);
                        if !ordering_only && !matches!(size, Size::W | Size::DW) {
                            return Err(err(IsaErrorKind::BadImm {
                                code,
                                imm: raw.imm as i64,
                                why: "read-modify-write atomics are 32 or 64 bits wide",
                            }));
                        }
                        Ok(Insn::Atomic {
                            op,
                            size,
                            dst: dst?,
                            src: src?,
                            off: raw.off,
                        })
                    }
                    _ => unknown(),
                }
            }
        }
    }

    /// Encodes the instruction into its one or two slots.
    pub fn encode(&self) -> Vec<RawInsn> {
        let mut out = Vec::with_capacity(2);
        self.encode_into(&mut out);
        out
    }

    /// Appends the instruction's slots to `out`.
    pub fn encode_into(&self, out: &mut Vec<RawInsn>) {
        let wclass = |w: Width, c32: u8, c64: u8| if w == Width::W64 { c64 } else { c32 };
        let r = match *self {
            Insn::Alu {
                op,
                width,
                dst,
                src,
            } => {
                let (opc, off) = op.code_and_off();
                let class = wclass(width, BPF_ALU, BPF_ALU64);
                match src {
                    Operand::Reg(s) => RawInsn::new(opc | BPF_X | class, dst.0, s.0, off, 0),
                    Operand::Imm(imm) => RawInsn::new(opc | BPF_K | class, dst.0, 0, off, imm),
                }
            }
            Insn::Neg { width, dst } => {
                RawInsn::new(BPF_NEG | wclass(width, BPF_ALU, BPF_ALU64), dst.0, 0, 0, 0)
            }
            Insn::MovSx {
                width,
                dst,
                src,
                bits,
            } => RawInsn::new(
                BPF_MOV | BPF_X | wclass(width, BPF_ALU, BPF_ALU64),
                dst.0,
                src.0,
                bits as i16,
                0,
            ),
            Insn::Endian { kind, bits, dst } => {
                let code = match kind {
                    Endian::ToLe => BPF_END | BPF_TO_LE | BPF_ALU,
                    Endian::ToBe => BPF_END | BPF_TO_BE | BPF_ALU,
                    Endian::Swap => BPF_END | BPF_ALU64,
                };
                RawInsn::new(code, dst.0, 0, 0, bits as i32)
            }
            Insn::LdImm64 {
                dst,
                src,
                imm,
                next_imm,
            } => {
                out.push(RawInsn::new(
                    BPF_LD | BPF_IMM | BPF_DW,
                    dst.0,
                    src.src(),
                    0,
                    imm,
                ));
                RawInsn::new(0, 0, 0, 0, next_imm)
            }
            Insn::LdAbs { size, imm } => RawInsn::new(BPF_LD | BPF_ABS | size.code(), 0, 0, 0, imm),
            Insn::LdInd { size, src, imm } => {
                RawInsn::new(BPF_LD | BPF_IND | size.code(), 0, src.0, 0, imm)
            }
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => {
                let mode = if sign_extend { BPF_MEMSX } else { BPF_MEM };
                RawInsn::new(BPF_LDX | mode | size.code(), dst.0, src.0, off, 0)
            }
            Insn::Store {
                size,
                dst,
                off,
                imm,
            } => RawInsn::new(BPF_ST | BPF_MEM | size.code(), dst.0, 0, off, imm),
            Insn::StoreReg {
                size,
                dst,
                src,
                off,
            } => RawInsn::new(BPF_STX | BPF_MEM | size.code(), dst.0, src.0, off, 0),
            Insn::Atomic {
                op,
                size,
                dst,
                src,
                off,
            } => RawInsn::new(
                BPF_STX | BPF_ATOMIC | size.code(),
                dst.0,
                src.0,
                off,
                op.imm(),
            ),
            Insn::Ja { off } => RawInsn::new(BPF_JMP | BPF_JA, 0, 0, off, 0),
            Insn::Gotol { imm } => RawInsn::new(BPF_JMP32 | BPF_JA, 0, 0, 0, imm),
            Insn::MayGoto { off } => RawInsn::new(BPF_JMP | BPF_JCOND, 0, BPF_MAY_GOTO, off, 0),
            Insn::Jmp {
                op,
                width,
                dst,
                src,
                off,
            } => {
                let class = wclass(width, BPF_JMP32, BPF_JMP);
                match src {
                    Operand::Reg(s) => RawInsn::new(op.code() | BPF_X | class, dst.0, s.0, off, 0),
                    Operand::Imm(imm) => {
                        RawInsn::new(op.code() | BPF_K | class, dst.0, 0, off, imm)
                    }
                }
            }
            Insn::Call(CallTarget::Helper(imm)) => RawInsn::new(BPF_JMP | BPF_CALL, 0, 0, 0, imm),
            Insn::Call(CallTarget::Local(imm)) => {
                RawInsn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, imm)
            }
            Insn::Call(CallTarget::Kfunc { btf_id, off }) => {
                RawInsn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, off, btf_id)
            }
            Insn::Callx { reg } => RawInsn::new(BPF_JMP | BPF_CALL | BPF_X, reg.0, 0, 0, 0),
            Insn::Exit => RawInsn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        };
        out.push(r);
    }

    /// The registers this instruction reads, as a bit set over r0..r10.
    /// Calls read r1-r5 (helpers may take fewer; the verifier knows the
    /// prototype) and `exit` reads r0.
    pub fn reads(&self) -> u16 {
        let bit = |r: Reg| 1u16 << r.0;
        let op = |o: Operand| match o {
            Operand::Reg(r) => bit(r),
            Operand::Imm(_) => 0,
        };
        match *self {
            Insn::Alu {
                op: AluOp::Mov,
                src,
                ..
            } => op(src),
            Insn::Alu { dst, src, .. } => bit(dst) | op(src),
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => bit(dst),
            Insn::MovSx { src, .. } => bit(src),
            Insn::LdImm64 { .. } | Insn::Ja { .. } | Insn::Gotol { .. } | Insn::MayGoto { .. } => 0,
            Insn::LdAbs { .. } => bit(Reg::R6),
            Insn::LdInd { src, .. } => bit(Reg::R6) | bit(src),
            Insn::Load { src, .. } => bit(src),
            Insn::Store { dst, .. } => bit(dst),
            Insn::StoreReg { dst, src, .. } => bit(dst) | bit(src),
            Insn::Atomic {
                op: AtomicOp::LoadAcquire,
                src,
                ..
            } => bit(src),
            Insn::Atomic {
                op: AtomicOp::CmpXchg,
                dst,
                src,
                ..
            } => bit(dst) | bit(src) | bit(Reg::R0),
            Insn::Atomic { dst, src, .. } => bit(dst) | bit(src),
            Insn::Jmp { dst, src, .. } => bit(dst) | op(src),
            Insn::Call(_) => 0,
            Insn::Callx { reg } => bit(reg),
            Insn::Exit => bit(Reg::R0),
        }
    }

    /// The register this instruction writes, if any (calls write r0 and
    /// clobber r1-r5: see [`Insn::is_call`]).
    pub fn writes(&self) -> Option<Reg> {
        match *self {
            Insn::Alu { dst, .. }
            | Insn::Neg { dst, .. }
            | Insn::MovSx { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::LdImm64 { dst, .. }
            | Insn::Load { dst, .. } => Some(dst),
            Insn::LdAbs { .. } | Insn::LdInd { .. } => Some(Reg::R0),
            Insn::Atomic {
                op: AtomicOp::LoadAcquire,
                dst,
                ..
            } => Some(dst),
            Insn::Atomic {
                op: AtomicOp::CmpXchg,
                ..
            } => Some(Reg::R0),
            Insn::Atomic { op, src, .. } if op.fetches() => Some(src),
            Insn::Call(_) | Insn::Callx { .. } => Some(Reg::R0),
            _ => None,
        }
    }

    /// Whether this is a call of any kind.
    pub const fn is_call(&self) -> bool {
        matches!(self, Insn::Call(_) | Insn::Callx { .. })
    }
}
