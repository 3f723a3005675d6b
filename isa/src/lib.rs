//! ironbpf-isa: the eBPF instruction set (RFC 9669, ISA v4, and what Linux
//! accepts beyond it: atomics, `ld_imm64` pseudo sources, kfunc calls,
//! `ld_abs`/`ld_ind`).
//!
//! It decodes raw 8-byte slots into the typed [`Insn`] enum and encodes them
//! back bit-exactly, refusing invalid encodings with an [`IsaError`] that
//! names the instruction index and the field at fault. [`Program`] checks a
//! whole program's control flow (jumps in range, never into the middle of an
//! `ld_imm64`, no falling off a subprogram's end).
//!
//! [`disasm`] prints instructions as the kernel's verifier log does
//! (`0: (b7) r0 = 42`); [`asm`] reads that syntax and LLVM's (`llvm-objdump`
//! listings, labels) back into slots.
//!
//! ```
//! use ironbpf_isa::{Insn, Program, RawInsn};
//! // r0 = 42; exit
//! let bytes = [0xb7, 0x00, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
//! let prog = Program::from_bytes(&bytes).unwrap();
//! assert_eq!(prog.insns().len(), 2);
//! assert_eq!(prog.insns()[1].insn, Insn::Exit);
//! assert_eq!(RawInsn::from_bytes(bytes[..8].try_into().unwrap()).imm, 42);
//! assert_eq!(ironbpf_isa::disasm_program(&prog), "0: (b7) r0 = 42\n1: (95) exit\n");
//! let slots = ironbpf_isa::assemble("r0 = 42\nexit").unwrap();
//! assert_eq!(slots, prog.slots());
//! ```

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod abi;
pub mod asm;
pub mod disasm;
pub mod error;
pub mod insn;
pub mod opcode;
pub mod program;

pub use asm::{assemble, assemble_insn, assemble_program, AsmError, AsmErrorKind};
pub use disasm::{
    disasm_insn, disasm_insn_with, disasm_program, disasm_program_with, format_log_line,
    format_log_line_with, helper_id, helper_name, DisasmOptions,
};
pub use error::{IsaError, IsaErrorKind};
pub use insn::{
    slots_from_bytes, slots_to_bytes, AluOp, AtomicOp, Branch, CallTarget, Endian, Insn, JmpOp,
    LdImm64Src, Operand, RawInsn, Reg, Size, Width,
};
pub use program::{DecodedInsn, Program, Subprog};
