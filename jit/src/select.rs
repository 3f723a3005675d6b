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

/// A decision tree of conditional jumps on one register whose value is
/// known to be small, compiled as one indirect jump through a table.
///
/// clang compiles a dense `switch` for BPF (which has no indirect jump) as
/// a binary search: `if w4 s> 0x1f goto ..; if w4 s> 0xf goto ..; ...`, six
/// unpredictable branches for 64 cases, where native code takes one
/// indirect jump. The tree is found at a conditional jump right after
/// `wX &= K` (`rX &= K`), so that `X` is in `0..=K`; for each of those
/// values the tree is walked to the first slot that is not one of its
/// jumps, and the root jumps there directly. The tree's own jumps are
/// still compiled (other jumps may land in them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JumpTable {
    /// The tree's first jump, the slot the table replaces.
    pub root: usize,
    /// The BPF register the tree tests.
    pub reg: u8,
    /// Per value `0..=K`, the slot the tree sends it to.
    pub leaves: Vec<usize>,
}

/// The largest mask a table is made for (1024 entries of 8 bytes).
const MAX_TABLE_MASK: i64 = 1023;

/// Whether the conditional jump `j` on an immediate is taken when `reg`
/// holds `v`; `None` for any other instruction.
fn taken(j: &JitInsn, reg: u8, v: u64) -> Option<bool> {
    let class = j.code & 0x07;
    if !matches!(class, 0x05 | 0x06) || j.code & 0x08 != 0 || j.dst != reg {
        return None;
    }
    let (a, b, sa, sb) = if class == 0x05 {
        (v, j.imm as u64, v as i64, j.imm)
    } else {
        let (a, b) = (v as u32, j.imm as u32);
        (
            u64::from(a),
            u64::from(b),
            i64::from(a as i32),
            i64::from(b as i32),
        )
    };
    Some(match j.code & 0xf0 {
        0x10 => a == b,
        0x20 => a > b,
        0x30 => a >= b,
        0x40 => a & b != 0,
        0x50 => a != b,
        0x60 => sa > sb,
        0x70 => sa >= sb,
        0xa0 => a < b,
        0xb0 => a <= b,
        0xc0 => sa < sb,
        0xd0 => sa <= sb,
        _ => return None,
    })
}

/// The decision trees worth a table: at least 4 distinct destinations and a
/// path of at least 3 jumps. `targets` is [`jump_targets`]'s; the caller
/// adds the leaves to it (they become the table's targets).
pub(crate) fn jump_tables(insns: &[JitInsn], targets: &[bool]) -> Vec<JumpTable> {
    let mut out = Vec::new();
    for root in 1..insns.len() {
        let (Some(and), Some(j)) = (insns.get(root - 1), insns.get(root)) else {
            continue;
        };
        // `wX &= K` or `rX &= K` (K >= 0), then a jump on X that nothing
        // else lands on (another path would bring another value).
        let masked = matches!(and.code, 0x54 | 0x57) && (0..=MAX_TABLE_MASK).contains(&and.imm);
        if !masked || targets.get(root).copied().unwrap_or(true) || taken(j, and.dst, 0).is_none() {
            continue;
        }
        let reg = and.dst;
        let mut leaves = Vec::with_capacity(and.imm as usize + 1);
        let mut deepest = 0;
        let mut ok = true;
        for v in 0..=and.imm as u64 {
            let mut pc = root;
            let mut depth = 0;
            while let Some(t) = insns.get(pc).and_then(|j| taken(j, reg, v)) {
                depth += 1;
                // A tree has no cycles; this bounds a malformed one.
                if depth > 64 {
                    ok = false;
                    break;
                }
                pc = match (t, insns.get(pc)) {
                    (true, Some(j)) => usize::try_from(j.off).unwrap_or(usize::MAX),
                    _ => pc + 1,
                };
            }
            if !ok || pc >= insns.len() {
                ok = false;
                break;
            }
            deepest = deepest.max(depth);
            leaves.push(pc);
        }
        if !ok || deepest < 3 {
            continue;
        }
        let mut distinct = leaves.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() >= 4 {
            out.push(JumpTable { root, reg, leaves });
        }
    }
    out
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

    #[test]
    fn a_search_tree_after_a_mask_is_a_jump_table() {
        // 0: w4 &= 7; a binary search on w4 (signed compares, as clang
        // writes them).
        let p = [
            insn(0x54, 4, 0, 0, 7),  // 0: w4 &= 7
            insn(0x66, 4, 0, 4, 3),  // 1: if w4 s> 3 goto 4
            insn(0x66, 4, 0, 6, 1),  // 2: if w4 s> 1 goto 6
            insn(0x16, 4, 0, 7, 0),  // 3: if w4 == 0 goto 7
            insn(0x66, 4, 0, 9, 5),  // 4: if w4 s> 5 goto 9
            insn(0x05, 0, 0, 10, 0), // 5: goto 10
            insn(0x05, 0, 0, 8, 0),  // 6: goto 8
            insn(0xb7, 0, 0, 0, 1),  // 7: r0 = 1
            insn(0xb7, 0, 0, 0, 2),  // 8: r0 = 2
            insn(0xb7, 0, 0, 0, 3),  // 9: r0 = 3
            insn(0x95, 0, 0, 0, 0),  // 10: exit
        ];
        let t = jump_targets(&p);
        let tables = jump_tables(&p, &t);
        assert_eq!(tables.len(), 1, "{tables:?}");
        let jt = &tables[0];
        assert_eq!((jt.root, jt.reg), (1, 4));
        // 0 -> 3 taken -> 7; 1 -> 3 not taken -> 4 (not s> 5) -> 5 (a
        // goto: the leaf); 2, 3 -> 6; 4, 5 -> 4 not taken -> 5; 6, 7 -> 9.
        assert_eq!(jt.leaves, [7, 5, 6, 6, 5, 5, 9, 9]);
    }

    #[test]
    fn a_tree_without_a_mask_before_it_or_that_is_a_target_is_not() {
        let mut p = vec![
            insn(0xb7, 4, 0, 0, 7),  // 0: r4 = 7 (no mask)
            insn(0x66, 4, 0, 4, 3),  // 1: if w4 s> 3 goto 4
            insn(0x66, 4, 0, 6, 1),  // 2: if w4 s> 1 goto 6
            insn(0x16, 4, 0, 7, 0),  // 3: if w4 == 0 goto 7
            insn(0x66, 4, 0, 9, 5),  // 4: if w4 s> 5 goto 9
            insn(0x05, 0, 0, 10, 0), // 5: goto 10
            insn(0x05, 0, 0, 8, 0),  // 6: goto 8
            insn(0xb7, 0, 0, 0, 1),  // 7
            insn(0xb7, 0, 0, 0, 2),  // 8
            insn(0xb7, 0, 0, 0, 3),  // 9
            insn(0x95, 0, 0, 0, 0),  // 10: exit
        ];
        assert!(jump_tables(&p, &jump_targets(&p)).is_empty());
        p[0] = insn(0x54, 4, 0, 0, 7);
        assert_eq!(jump_tables(&p, &jump_targets(&p)).len(), 1);
        p[10] = insn(0x05, 0, 0, 1, 0); // 10: goto 1 (the root is a target)
        assert!(jump_tables(&p, &jump_targets(&p)).is_empty());
    }
}

/// A byte-copy loop as clang compiles `for (i = ...; i != n; i++) dst[i] =
/// src[i]` with both arrays at constant offsets from one base register:
///
/// ```text
/// L:   a = b + i              (the engine's fused mov + add)
///      v = *(u8 *)(a + o1)
///      a += k
///      *(u8 *)(a + o2) = v
///      i += 1
///      if i == n goto out ; goto L      or      if i != n goto L
/// ```
///
/// with a, b, i, v (and n's register) distinct BPF registers below r10.
/// Each iteration copies the byte at `b + i + o1` to `b + i + delta + o1`,
/// `delta = k + o2 - o1`. Copying `w` bytes at once gives the same memory
/// as `w` iterations whenever no store of those iterations writes a byte a
/// later one of them reads: `delta <= 0` or `delta >= w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CopyLoop {
    /// The loop's first slot (the fused mov + add): the back edge's target.
    pub head: usize,
    /// The slot whose taken jump closes the loop (the `goto`, or the
    /// `if i != n`): budgeted code charges there.
    pub back: usize,
    pub base: u8,
    pub index: u8,
    /// n: a register (`Ok`) or an immediate, sign-extended (`Err`).
    pub bound: Result<u8, i64>,
    /// The source's offset from `b + i` (o1).
    pub src_off: i64,
    /// The destination's offset from `b + i` (k + o2).
    pub dst_off: i64,
}

impl CopyLoop {
    /// Whether copying `w` bytes at once keeps the loop's meaning.
    pub(crate) fn copies_by(&self, w: i64) -> bool {
        let delta = self.dst_off - self.src_off;
        delta <= 0 || delta >= w
    }
}

/// The [`CopyLoop`] starting at `pc`, if there is one: no slot inside it
/// but `pc` a jump target.
pub(crate) fn copy_loop(insns: &[JitInsn], targets: &[bool], pc: usize) -> Option<CopyLoop> {
    let at = |k: usize| insns.get(pc + k).copied();
    let head = at(0)?;
    if head.code != OP_MOV_ADD64_X {
        return None;
    }
    let (ld, add, st, inc, br) = (at(2)?, at(3)?, at(4)?, at(5)?, at(6)?);
    // a = b + i or a = i + b: the counter is the one incremented.
    let (a, b, i) = if inc.dst == head.src {
        (head.dst, head.aux, head.src)
    } else {
        (head.dst, head.src, head.aux)
    };
    let shape = ld.code == 0x71
        && ld.src == a
        && add.code == 0x07
        && add.dst == a
        && st.code == 0x73
        && st.dst == a
        && st.src == ld.dst
        && inc.code == 0x07
        && inc.dst == i
        && inc.imm == 1;
    if !shape {
        return None;
    }
    let v = ld.dst;
    // The loop's end: `if i == n goto out ; goto pc`, or `if i != n goto pc`.
    let back = match br.code {
        0x15 | 0x1d if br.off as usize == pc + 8 => {
            let g = at(7)?;
            if g.code != 0x05 || g.off as usize != pc {
                return None;
            }
            pc + 7
        }
        0x55 | 0x5d if br.off as usize == pc => pc + 6,
        _ => return None,
    };
    if br.dst != i {
        return None;
    }
    let bound = if br.code & 0x08 != 0 {
        Ok(br.src)
    } else {
        Err(br.imm)
    };
    let mut regs = vec![a, b, i, v];
    if let Ok(n) = bound {
        regs.push(n);
    }
    let distinct = regs.iter().all(|&r| r < 10)
        && regs
            .iter()
            .enumerate()
            .all(|(x, r)| !regs.iter().skip(x + 1).any(|q| q == r));
    if !distinct {
        return None;
    }
    if (pc + 1..=back).any(|p| targets.get(p).copied().unwrap_or(true)) {
        return None;
    }
    Some(CopyLoop {
        head: pc,
        back,
        base: b,
        index: i,
        bound,
        src_off: i64::from(ld.off),
        dst_off: add.imm.checked_add(i64::from(st.off))?,
    })
}
