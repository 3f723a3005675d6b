//! Instruction-selection patterns that look past one instruction.
//!
//! Compiled C often sets a register on one side of a branch only:
//! `r0 = 1; if r6 > r3 goto +1; r0 = 0` is clang's `r0 = r6 > r3` (BPF has
//! no `setcc`). As branches these mispredict about half the time on
//! unpredictable data (the `log2_int` bench runs five of them per value);
//! as a `cmov` they cost one cycle. [`cond_move`] finds the shape: a
//! conditional jump over exactly one instruction that writes one register
//! and cannot fault, to the next one or to where a `ja` after it goes.

use crate::op::*;
use crate::JitInsn;

/// Which slots some jump or bpf-to-bpf call lands on. A subprogram that a
/// callback enters starts after an `exit` or `ja` (the program check
/// refuses a subprogram that falls off its end), so it is never the slot
/// right after a conditional jump, the only slot [`cond_move`] asks about.
pub(crate) fn jump_targets(insns: &[JitInsn]) -> Vec<bool> {
    let mut t = vec![false; insns.len()];
    for i in insns {
        if is_jump_or_call(i.code) {
            if let Some(slot) = usize::try_from(i.off).ok().and_then(|o| t.get_mut(o)) {
                *slot = true;
            }
        }
    }
    t
}

fn is_jump_or_call(code: u8) -> bool {
    (matches!(code & 0x07, 0x05 | 0x06) && !matches!(code & 0xf0, 0x80 | 0x90))
        || code == OP_CALL_LOCAL
}

/// What the slot a conditional jump skips does to its destination, when
/// it is simple enough to compute before the jump's compare and commit
/// with a `cmov`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skipped {
    /// dst = this constant (after the 32-bit zero extension).
    Const(u64),
    /// dst = src (64-bit move).
    Reg64(u8),
    /// dst = src's low half, zero-extended.
    Reg32(u8),
    /// dst = dst OP imm: `which` as the emitter's `alu_k` numbers it
    /// (0 add, 1 sub, 2 or, 3 and, 4 xor), 64- or 32-bit.
    AluK { which: u8, w64: bool, imm: i32 },
}

/// For the conditional jump at `pc`: when it jumps over exactly one slot
/// (its target is `pc + 2`, or the target of a `ja` at `pc + 2`, which is
/// still compiled) that nothing else jumps to and that writes one
/// register (not r10) without reading memory or faulting, that register
/// and what the slot computes. `consts` is the JIT's constant propagation
/// (a slot whose result is a constant on every path is that constant).
pub(crate) fn cond_move(
    insns: &[JitInsn],
    targets: &[bool],
    consts: &[Option<u64>],
    pc: usize,
) -> Option<(u8, Skipped)> {
    let j = insns.get(pc)?;
    // Over one slot to the next, or to where the `ja` after that slot goes
    // too (`if c goto T; x = ..; goto T`, a rotated loop's back edge).
    let to_next = i64::from(j.off) == (pc + 2) as i64;
    let to_same = insns
        .get(pc + 2)
        .is_some_and(|g| matches!(g.code, 0x05 | 0x06) && g.off == j.off);
    if !(to_next || to_same) || targets.get(pc + 1).copied().unwrap_or(true) {
        return None;
    }
    let s = insns.get(pc + 1)?;
    if s.dst >= 10 {
        return None;
    }
    if let Some(v) = consts
        .get(pc + 1)
        .copied()
        .flatten()
        .filter(|_| crate::constprop::pure_alu(s.code))
    {
        return Some((s.dst, Skipped::Const(v)));
    }
    let imm = s.imm as i32;
    let alu = |which, w64| Some((s.dst, Skipped::AluK { which, w64, imm }));
    match s.code {
        0xb7 => Some((s.dst, Skipped::Const(imm as i64 as u64))),
        0xb4 => Some((s.dst, Skipped::Const(imm as u32 as u64))),
        0xbf if s.src <= 10 => Some((s.dst, Skipped::Reg64(s.src))),
        0xbc if s.src <= 10 => Some((s.dst, Skipped::Reg32(s.src))),
        0x07 => alu(0, true),
        0x17 => alu(1, true),
        0x47 => alu(2, true),
        0x57 => alu(3, true),
        0xa7 => alu(4, true),
        0x04 => alu(0, false),
        0x14 => alu(1, false),
        0x44 => alu(2, false),
        0x54 => alu(3, false),
        0xa4 => alu(4, false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u8, dst: u8, src: u8, off: i32, imm: i64) -> JitInsn {
        JitInsn {
            code,
            dst,
            src,
            off,
            imm,
            aux: 0,
        }
    }

    #[test]
    fn a_jump_over_one_move_is_a_conditional_move() {
        // 0: w0 = 1; 1: if r6 > r3 goto 3; 2: w0 = 0; 3: exit
        let p = [
            insn(0xb4, 0, 0, 0, 1),
            insn(0x2d, 6, 3, 3, 0),
            insn(0xb4, 0, 0, 0, 0),
            insn(0x95, 0, 0, 0, 0),
        ];
        let t = jump_targets(&p);
        assert_eq!(t, [false, false, false, true]);
        let none = vec![None; p.len()];
        assert_eq!(cond_move(&p, &t, &none, 1), Some((0, Skipped::Const(0))));
    }

    #[test]
    fn a_skipped_slot_that_is_a_target_or_writes_memory_is_not() {
        let p = [
            insn(0x15, 1, 0, 2, 0),   // 0: if r1 == 0 goto 2
            insn(0x2d, 6, 3, 3, 0),   // 1: if r6 > r3 goto 3
            insn(0xb4, 0, 0, 0, 0),   // 2: w0 = 0 (a target of 0)
            insn(0x15, 1, 0, 5, 0),   // 3: if r1 == 0 goto 5
            insn(0x7b, 10, 1, -8, 0), // 4: *(u64 *)(r10 - 8) = r1
            insn(0x95, 0, 0, 0, 0),   // 5: exit
        ];
        let t = jump_targets(&p);
        let none = vec![None; p.len()];
        assert_eq!(cond_move(&p, &t, &none, 1), None);
        assert_eq!(cond_move(&p, &t, &none, 3), None);
        assert_eq!(cond_move(&p, &t, &none, 0), None, "jumps over two slots");
    }

    #[test]
    fn a_jump_to_where_the_following_ja_goes_is_a_conditional_move_too() {
        let p = [
            insn(0xb4, 5, 0, 0, 1), // 0: w5 = 1
            insn(0x25, 6, 0, 0, 3), // 1: if r6 > 3 goto 0
            insn(0xb4, 5, 0, 0, 0), // 2: w5 = 0
            insn(0x05, 0, 0, 0, 0), // 3: goto 0
            insn(0x05, 0, 0, 1, 0), // 4: goto 1
        ];
        let t = jump_targets(&p);
        let none = vec![None; p.len()];
        assert_eq!(cond_move(&p, &t, &none, 1), Some((5, Skipped::Const(0))));
        let q = [
            p[0],
            p[1],
            p[2],
            insn(0x05, 0, 0, 4, 0),
            insn(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(
            cond_move(&q, &jump_targets(&q), &none, 1),
            None,
            "the ja goes elsewhere"
        );
    }
}
