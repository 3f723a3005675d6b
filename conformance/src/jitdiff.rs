//! Unverified programs for the JIT-against-interpreter differential: the
//! programs of [`crate::gen`], mutated so that they fault, loop forever or
//! nest calls too deep. The checked JIT must stop each at the same
//! instruction with the same error as the interpreter, and leave the packet
//! and the maps as the interpreter leaves them.
//!
//! Mutations keep every instruction's slot position (one instruction is
//! replaced by another of the same length), so jump offsets stay valid:
//! memory offsets pushed out of bounds or misaligned, base registers
//! replaced by scalars or by the context, bounds checks removed, and
//! instructions replaced by backward jumps (endless or long loops).

use crate::gen::{generate, GenProgram, Rng};
use ironbpf_isa::{Insn, JmpOp, Operand, Reg, Width};
use ironbpf_vm::Options;

/// The budget unverified programs run with: small, so that endless loops
/// end quickly, and the same on both engines.
pub const UNVERIFIED_BUDGET: u64 = 20_000;

/// The run options of the unverified differential.
pub fn unverified_options() -> Options {
    Options {
        budget: UNVERIFIED_BUDGET,
        ..Options::default()
    }
}

/// The program for `seed`: [`crate::gen::generate`]'s, mutated.
pub fn generate_unverified(seed: u64) -> GenProgram {
    let mut case = generate(seed);
    let mut rng = Rng::new(seed ^ 0x6a69_745f_6469_6666);
    let n = 1 + rng.below(3);
    for _ in 0..n {
        mutate(&mut case, &mut rng);
    }
    case
}

fn offset(rng: &mut Rng, off: i16) -> i16 {
    let delta: i16 = match rng.below(6) {
        0 => rng.pick(&[-8, 8, -1, 1, 4, -4]),
        1 => rng.pick(&[-64, 64, 128, -128]),
        2 => rng.pick(&[-512, 512, -520, 504]),
        3 => rng.pick(&[4096, -4096, 16384]),
        4 => rng.pick(&[2, 3, 5, 6, 7]),
        _ => rng.next_u64() as i16,
    };
    off.wrapping_add(delta)
}

fn base(rng: &mut Rng) -> Reg {
    // Scalars r0-r6, the packet (r7), its end (r8), the context (r9).
    Reg::new(rng.below(10) as u8).unwrap_or(Reg::R0)
}

fn mutate(case: &mut GenProgram, rng: &mut Rng) {
    let body = case.prologue..case.insns.len();
    if body.is_empty() {
        return;
    }
    // Slot positions, for backward jumps.
    let mut pos = Vec::with_capacity(case.insns.len());
    let mut p = 0usize;
    for i in &case.insns {
        pos.push(p);
        p += i.slots();
    }
    let k = body.start + rng.below(body.len() as u64) as usize;
    let insn = case.insns[k];
    let kind = rng.below(4);
    case.insns[k] = match (kind, insn) {
        (
            0,
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            },
        ) => Insn::Load {
            size,
            sign_extend,
            dst,
            src: if rng.chance(1, 3) { base(rng) } else { src },
            off: offset(rng, off),
        },
        (
            0,
            Insn::Store {
                size,
                dst,
                off,
                imm,
            },
        ) => Insn::Store {
            size,
            dst: if rng.chance(1, 3) {
                let r = base(rng);
                if r == Reg::R10 {
                    dst
                } else {
                    r
                }
            } else {
                dst
            },
            off: offset(rng, off),
            imm,
        },
        (
            0,
            Insn::StoreReg {
                size,
                dst,
                src,
                off,
            },
        ) => Insn::StoreReg {
            size,
            dst: if rng.chance(1, 3) { base(rng) } else { dst },
            src,
            off: offset(rng, off),
        },
        (
            0,
            Insn::Atomic {
                op,
                size,
                dst,
                src,
                off,
            },
        ) => Insn::Atomic {
            op,
            size,
            dst: if rng.chance(1, 4) { base(rng) } else { dst },
            src,
            off: offset(rng, off),
        },
        // A bounds check that never skips.
        (1, Insn::Jmp { .. }) => Insn::Ja { off: 0 },
        // A backward jump to an earlier instruction of the body: an endless
        // loop, or (conditional) one that may end.
        (2 | 3, i) if i.slots() == 1 && !matches!(i, Insn::Exit) => {
            let j = body.start + rng.below((k - body.start + 1) as u64) as usize;
            let off = pos[j] as i64 - pos[k] as i64 - 1;
            if kind == 2 {
                Insn::Ja { off: off as i16 }
            } else {
                Insn::Jmp {
                    op: rng.pick(&[JmpOp::Jne, JmpOp::Jgt, JmpOp::Jset, JmpOp::Jslt]),
                    width: if rng.chance(1, 2) {
                        Width::W64
                    } else {
                        Width::W32
                    },
                    dst: Reg::new(rng.below(7) as u8).unwrap_or(Reg::R0),
                    src: Operand::Imm(rng.imm32()),
                    off: off as i16,
                }
            }
        }
        // Anything else: an out-of-bounds store into the stack or the
        // packet, or a load through a scalar.
        (_, i)
            if i.slots() == 1
                && !matches!(
                    i,
                    Insn::Exit | Insn::Call(_) | Insn::Jmp { .. } | Insn::Ja { .. }
                ) =>
        {
            if rng.chance(1, 2) {
                Insn::StoreReg {
                    size: rng.pick(&[
                        ironbpf_isa::Size::B,
                        ironbpf_isa::Size::W,
                        ironbpf_isa::Size::DW,
                    ]),
                    dst: rng.pick(&[Reg::R10, Reg::R7, Reg::R9]),
                    src: Reg::new(rng.below(7) as u8).unwrap_or(Reg::R0),
                    off: offset(rng, 0),
                }
            } else {
                Insn::Load {
                    size: ironbpf_isa::Size::DW,
                    sign_extend: false,
                    dst: Reg::new(rng.below(7) as u8).unwrap_or(Reg::R0),
                    src: base(rng),
                    off: offset(rng, 0),
                }
            }
        }
        (_, i) => i,
    };
}
