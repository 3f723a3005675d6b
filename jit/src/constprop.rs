//! Constant propagation over the pre-decoded program, computed by the JIT
//! itself: a forward data-flow over the control-flow graph whose value at
//! each slot is the meet over every path that reaches it, so that a result
//! it calls constant is that constant on every run, whatever the input.
//!
//! This replaces the verifier's path-sensitive constants, which are not
//! sound after state pruning: a pruned path matched an explored state on
//! its live, precise registers only, so an imprecise scalar may have held
//! another value on it. Here nothing is pruned and no path is assumed
//! dead: the analysis needs no proof, and trusted code uses it too.
//!
//! The lattice per register is "unknown" or one 64-bit constant; an
//! unreached slot has no state. Entry points (slot 0, every bpf-to-bpf
//! call target, and every slot the previous one cannot fall into, which
//! includes every subprogram start and so every callback entry) start with
//! every register unknown. Across a helper call, `callx`, `ld_abs`/`ld_ind`
//! or an inline map lookup r0-r5 become unknown and r6-r10 are kept; a
//! bpf-to-bpf call keeps r6-r10 (the callee's frame saves them) and makes
//! r0-r5 unknown. Loads make their destination unknown; atomics make their
//! source, their destination and r0 unknown. Any opcode the analysis does
//! not know makes every register unknown.

use crate::op::*;
use crate::JitInsn;

/// One register's value: `None` unknown, `Some(v)` the constant `v`.
type Val = Option<u64>;
/// r0-r10 at one point; `None` for a point no path reaches.
type State = [Val; 11];

/// How many sweeps the analysis makes before giving up (every result is
/// then unknown, which is always sound). A sweep lowers at least one
/// register of one join point, so programs converge in a few sweeps; the
/// cap only bounds pathological inputs.
const MAX_SWEEPS: usize = 64;

/// For each slot, the value of the instruction's destination register
/// after it when the instruction is an ALU operation (or `ld_imm64`) whose
/// result is the same constant on every path that reaches it.
#[allow(
    clippy::indexing_slicing,
    reason = "every index is a slot below n (the loops' bound) or a jump target tested `< n`, into vectors of n entries; `slot[t]` of a target is set, targets being join points"
)]
pub fn const_results(insns: &[JitInsn]) -> Vec<Option<u64>> {
    let n = insns.len();
    let mut out = vec![None; n];
    if n == 0 {
        return out;
    }
    // Join points: slots with an incoming jump or call edge, and entries.
    let mut join = vec![false; n];
    let mut entry = vec![false; n];
    entry[0] = true;
    for (pc, i) in insns.iter().enumerate() {
        if pc + 1 < n && !falls_through(i) {
            entry[pc + 1] = true;
        }
        if let Some(t) = jump_target(i) {
            if t < n {
                if i.code == OP_CALL_LOCAL {
                    entry[t] = true;
                } else {
                    join[t] = true;
                }
            }
        }
    }
    // The in-state of each join point (entries start with all unknown),
    // stored only for join points: `slot[pc]` indexes `at`.
    let mut slot = vec![u32::MAX; n];
    let mut at: Vec<Option<State>> = Vec::new();
    for pc in 0..n {
        join[pc] |= entry[pc];
        if join[pc] {
            slot[pc] = at.len() as u32;
            at.push(entry[pc].then_some([None; 11]));
        }
    }
    let mut converged = false;
    for _ in 0..MAX_SWEEPS {
        let mut changed_back = false;
        let mut cur: Option<State> = None;
        for pc in 0..n {
            if join[pc] {
                let k = slot[pc] as usize;
                if let Some(c) = cur {
                    meet_into(&mut at[k], &c);
                }
                cur = at[k];
            }
            let Some(mut st) = cur else {
                continue;
            };
            let i = insns[pc];
            if let Some(t) = jump_target(&i).filter(|&t| t < n) {
                if i.code != OP_CALL_LOCAL && meet_into(&mut at[slot[t] as usize], &st) && t <= pc {
                    changed_back = true;
                }
            }
            transfer(&i, &mut st);
            cur = if falls_through(&i) { Some(st) } else { None };
        }
        if !changed_back {
            converged = true;
            break;
        }
    }
    if !converged {
        return out;
    }
    // The converged states: one last sweep records the results.
    let mut cur: Option<State> = None;
    for pc in 0..n {
        if join[pc] {
            let k = slot[pc] as usize;
            if let Some(c) = cur {
                meet_into(&mut at[k], &c);
            }
            cur = at[k];
        }
        let Some(mut st) = cur else {
            continue;
        };
        let i = insns[pc];
        transfer(&i, &mut st);
        if produces_result(i.code) {
            out[pc] = st[i.dst as usize % 11];
        }
        cur = if falls_through(&i) { Some(st) } else { None };
    }
    out
}

/// `into` = `into` meet `s`; whether `into` changed.
fn meet_into(into: &mut Option<State>, s: &State) -> bool {
    match into {
        None => {
            *into = Some(*s);
            true
        }
        Some(cur) => {
            let mut changed = false;
            for (a, b) in cur.iter_mut().zip(s) {
                if a.is_some() && a != b {
                    *a = None;
                    changed = true;
                }
            }
            changed
        }
    }
}

fn is_jmp_class(code: u8) -> bool {
    matches!(code & 0x07, 0x05 | 0x06) && !matches!(code & 0xf0, 0x80 | 0x90)
}

/// The target of a jump (conditional or not) or a bpf-to-bpf call.
fn jump_target(i: &JitInsn) -> Option<usize> {
    if is_jmp_class(i.code) || i.code == OP_CALL_LOCAL {
        usize::try_from(i.off).ok()
    } else {
        None
    }
}

/// Whether control may go on to the next slot.
fn falls_through(i: &JitInsn) -> bool {
    !matches!(i.code, 0x05 | 0x06 | 0x95)
}

/// Whether the slot computes its destination from registers and its
/// immediate only, the forms whose known result the emitter may load as a
/// constant (the fused forms compute their first half at their slot).
fn produces_result(code: u8) -> bool {
    code == OP_LDIMM64 || pure_alu(code)
}

/// Whether the instruction only computes its destination register from
/// registers and its immediate (so that a known result may replace it):
/// the ALU and ALU64 classes and the engine's own ALU forms.
pub(crate) fn pure_alu(code: u8) -> bool {
    matches!(code & 0x07, 0x04 | 0x07)
        || matches!(
            code,
            OP_SDIV32_K
                | OP_SDIV32_X
                | OP_SDIV64_K
                | OP_SDIV64_X
                | OP_SMOD32_K
                | OP_SMOD32_X
                | OP_SMOD64_K
                | OP_SMOD64_X
                | OP_MOVSX32_8
                | OP_MOVSX32_16
                | OP_MOVSX64_8
                | OP_MOVSX64_16
                | OP_MOVSX64_32
                | OP_MOV_ADD64_K
                | OP_MOV_ADD64_X
                | OP_MOV_AND32_K
        )
}

/// The state after `i`, on the path that goes on to the next slot (for a
/// call: after it returns).
#[allow(
    clippy::indexing_slicing,
    reason = "registers are taken modulo 11 into the 11-entry state"
)]
fn transfer(i: &JitInsn, st: &mut State) {
    let d = i.dst as usize % 11;
    let s = i.src as usize % 11;
    let code = i.code;
    if produces_result(code) {
        st[d] = eval(i, st[d], st[s]);
        return;
    }
    match code {
        OP_NONE => {}
        // Stores and jumps write no register.
        c if matches!(c & 0x07, 0x02 | 0x03) && !matches!(c, OP_ATOMIC_W | OP_ATOMIC_DW) => {}
        c if is_jmp_class(c) => {}
        0x95 => {}
        // Loads.
        0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91 => st[d] = None,
        OP_ATOMIC_W | OP_ATOMIC_DW => {
            st[s] = None;
            st[d] = None;
            st[0] = None;
        }
        // r1 = map[...] fused with the inline lookup two slots on.
        OP_LDMAP_LOOKUP => st[d] = Some(i.imm as u64),
        // Helper calls, callx, inline lookups, bpf-to-bpf calls, ld_abs and
        // ld_ind: r0-r5 are the call's, r6-r10 kept.
        0x85 | 0x8d | OP_MAP_LOOKUP | OP_CALL_LOCAL | 0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50 => {
            st[..6].fill(None)
        }
        _ => st.fill(None),
    }
}

/// The result of the ALU form `i` with dst = `a` and src = `b`, when both
/// operands it reads are known; the interpreter's semantics exactly.
fn eval(i: &JitInsn, a: Val, b: Val) -> Val {
    let imm = i.imm as u64;
    let code = i.code;
    // Forms that read no register.
    match code {
        OP_LDIMM64 => return Some(imm),
        0xb7 => return Some(imm),
        0xb4 => return Some(imm as u32 as u64),
        _ => {}
    }
    // Forms that read src only.
    match code {
        0xbf | OP_MOV_ADD64_K | OP_MOV_ADD64_X => return b,
        0xbc | OP_MOV_AND32_K => return b.map(|b| b as u32 as u64),
        OP_MOVSX32_8 => return b.map(|b| b as i8 as i32 as u32 as u64),
        OP_MOVSX32_16 => return b.map(|b| b as i16 as i32 as u32 as u64),
        OP_MOVSX64_8 => return b.map(|b| b as i8 as i64 as u64),
        OP_MOVSX64_16 => return b.map(|b| b as i16 as i64 as u64),
        OP_MOVSX64_32 => return b.map(|b| b as i32 as i64 as u64),
        _ => {}
    }
    let a = a?;
    // Byte swaps read dst only (0xdc's source bit means big-endian).
    match code {
        0xd4 => {
            return Some(match imm {
                16 => a as u16 as u64,
                32 => a as u32 as u64,
                _ => a,
            })
        }
        0xd7 | 0xdc => {
            return Some(match imm {
                16 => (a as u16).swap_bytes() as u64,
                32 => (a as u32).swap_bytes() as u64,
                _ => a.swap_bytes(),
            })
        }
        0x84 => return Some((a as u32).wrapping_neg() as u64),
        0x87 => return Some(a.wrapping_neg()),
        _ => {}
    }
    // The second operand: the immediate or src.
    let x = code & 0x08 != 0;
    let o = if x { b? } else { imm };
    match code {
        OP_SDIV64_K | OP_SDIV64_X => {
            return Some(if o == 0 {
                0
            } else {
                (a as i64).wrapping_div(o as i64) as u64
            })
        }
        OP_SMOD64_K | OP_SMOD64_X => {
            return Some(if o == 0 {
                a
            } else {
                (a as i64).wrapping_rem(o as i64) as u64
            })
        }
        OP_SDIV32_K | OP_SDIV32_X => {
            return Some(if o as u32 == 0 {
                0
            } else {
                (a as i32).wrapping_div(o as i32) as u32 as u64
            })
        }
        OP_SMOD32_K | OP_SMOD32_X => {
            return Some(if o as u32 == 0 {
                a as u32 as u64
            } else {
                (a as i32).wrapping_rem(o as i32) as u32 as u64
            })
        }
        _ => {}
    }
    let w64 = code & 0x07 == 0x07;
    let r = match (code & 0xf0, w64) {
        (0x00, true) => a.wrapping_add(o),
        (0x10, true) => a.wrapping_sub(o),
        (0x20, true) => a.wrapping_mul(o),
        (0x30, true) => a.checked_div(o).unwrap_or(0),
        (0x40, true) => a | o,
        (0x50, true) => a & o,
        (0x60, true) => a.wrapping_shl(o as u32),
        (0x70, true) => a.wrapping_shr(o as u32),
        (0x90, true) => a.checked_rem(o).unwrap_or(a),
        (0xa0, true) => a ^ o,
        (0xc0, true) => (a as i64).wrapping_shr(o as u32) as u64,
        (op, false) => {
            let (a, o) = (a as u32, o as u32);
            (match op {
                0x00 => a.wrapping_add(o),
                0x10 => a.wrapping_sub(o),
                0x20 => a.wrapping_mul(o),
                0x30 => a.checked_div(o).unwrap_or(0),
                0x40 => a | o,
                0x50 => a & o,
                0x60 => a.wrapping_shl(o),
                0x70 => a.wrapping_shr(o),
                0x90 => a.checked_rem(o).unwrap_or(a),
                0xa0 => a ^ o,
                0xc0 => (a as i32).wrapping_shr(o) as u32,
                _ => return None,
            }) as u64
        }
        _ => return None,
    };
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u8, dst: u8, src: u8, off: i32, imm: i64) -> JitInsn {
        JitInsn {
            code,
            dst,
            src,
            aux: 0,
            off,
            imm,
        }
    }

    #[test]
    fn straight_line_constants_fold() {
        // r1 = 5; r1 *= 3; w2 = w1; r2 += -1; r0 = r2; exit
        let p = [
            ins(0xb7, 1, 0, 0, 5),
            ins(0x27, 1, 0, 0, 3),
            ins(0xbc, 2, 1, 0, 0),
            ins(0x07, 2, 0, 0, -1),
            ins(0xbf, 0, 2, 0, 0),
            ins(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(
            const_results(&p),
            vec![Some(5), Some(15), Some(15), Some(14), Some(14), None]
        );
    }

    #[test]
    fn a_join_of_two_values_is_unknown() {
        // 0: r2 = *(u8 *)(r1 + 0)   input
        // 1: r3 = 1
        // 2: if r2 == 0 goto 4
        // 3: r3 = 2
        // 4: r3 += 1                1 + 1 or 2 + 1: unknown
        // 5: r4 = 7                 the same on both paths
        // 6: r4 += r3               unknown
        // 7: exit
        let p = [
            ins(0x71, 2, 1, 0, 0),
            ins(0xb7, 3, 0, 0, 1),
            ins(0x15, 2, 0, 4, 0),
            ins(0xb7, 3, 0, 0, 2),
            ins(0x07, 3, 0, 0, 1),
            ins(0xb7, 4, 0, 0, 7),
            ins(0x0f, 4, 3, 0, 0),
            ins(0x95, 0, 0, 0, 0),
        ];
        let c = const_results(&p);
        assert_eq!(c[0], None, "a load is unknown");
        assert_eq!(c[4], None, "r3 is 2 or 3 after the join");
        assert_eq!(c[5], Some(7));
        assert_eq!(c[6], None);
    }

    #[test]
    fn a_loop_counter_is_not_constant() {
        // 0: r1 = 0
        // 1: r1 += 1       1 on the first pass, 2 on the next: unknown
        // 2: if r1 < 10 goto 1
        // 3: r0 = r1
        // 4: exit
        let p = [
            ins(0xb7, 1, 0, 0, 0),
            ins(0x07, 1, 0, 0, 1),
            ins(0xa5, 1, 0, 1, 10),
            ins(0xbf, 0, 1, 0, 0),
            ins(0x95, 0, 0, 0, 0),
        ];
        let c = const_results(&p);
        assert_eq!(c[0], Some(0));
        assert_eq!(c[1], None);
        assert_eq!(c[3], None);
    }

    #[test]
    fn calls_clobber_r0_to_r5_and_keep_r6_to_r9() {
        // 0: r1 = 1; 1: r6 = 2; 2: call helper 7; 3: r1 += 1 (unknown);
        // 4: r6 += 1 (3); 5: call local 8; 6: r6 += 1 (4); r2 = r1 ...
        let p = [
            ins(0xb7, 1, 0, 0, 1),
            ins(0xb7, 6, 0, 0, 2),
            ins(0x85, 0, 0, 0, 7),
            ins(0x07, 1, 0, 0, 1),
            ins(0x07, 6, 0, 0, 1),
            ins(OP_CALL_LOCAL, 0, 1, 8, 0),
            ins(0x07, 6, 0, 0, 1),
            ins(0x95, 0, 0, 0, 0),
            // The subprogram: its entry knows nothing of its callers.
            ins(0x07, 6, 0, 0, 1),
            ins(0xb7, 0, 0, 0, 0),
            ins(0x95, 0, 0, 0, 0),
        ];
        let c = const_results(&p);
        assert_eq!(c[3], None, "r1 after a helper call");
        assert_eq!(c[4], Some(3), "r6 survives a helper call");
        assert_eq!(c[6], Some(4), "r6 survives a bpf-to-bpf call");
        assert_eq!(c[8], None, "a subprogram starts with nothing known");
        assert_eq!(c[9], Some(0));
    }

    #[test]
    fn atomics_make_their_registers_unknown() {
        // r2 = 1; r0 = 5; r0 = atomic_cmpxchg(r10 - 8, r0, r2); r0 += 1;
        // r2 += 1
        let mut cmpxchg = ins(OP_ATOMIC_DW, 10, 2, -8, 0);
        cmpxchg.aux = 9;
        let p = [
            ins(0xb7, 2, 0, 0, 1),
            ins(0xb7, 0, 0, 0, 5),
            cmpxchg,
            ins(0x07, 0, 0, 0, 1),
            ins(0x07, 2, 0, 0, 1),
            ins(0x95, 0, 0, 0, 0),
        ];
        let c = const_results(&p);
        assert_eq!(c[3], None);
        assert_eq!(c[4], None);
    }

    #[test]
    fn division_and_shift_edge_cases_follow_the_interpreter() {
        let one = |code: u8, a: u64, imm: i64| {
            let p = [
                ins(0x18, 1, 0, 0, a as i64),
                ins(0x00, 0, 0, 0, 0),
                ins(code, 1, 0, 0, imm),
                ins(0x95, 0, 0, 0, 0),
            ];
            const_results(&p)[2].unwrap()
        };
        assert_eq!(one(0x37, 7, 0), 0, "div by 0");
        assert_eq!(one(0x97, 7, 0), 7, "mod by 0 keeps dst");
        assert_eq!(one(0x94, u64::MAX, 0), u32::MAX as u64, "mod32 by 0");
        assert_eq!(one(OP_SDIV64_K, i64::MIN as u64, -1), i64::MIN as u64);
        assert_eq!(one(OP_SMOD64_K, i64::MIN as u64, -1), 0);
        assert_eq!(one(OP_SMOD32_K, u64::MAX, 0), u32::MAX as u64);
        assert_eq!(one(0x67, 1, 65), 2, "shifts are masked to 63");
        assert_eq!(one(0x64, 1, 33), 2, "and to 31");
        assert_eq!(one(0xc4, 0x8000_0000, 4), 0xf800_0000);
        assert_eq!(one(0xdc, 0x1234, 16), 0x3412);
        assert_eq!(one(0xd4, 0x1_2345_6789, 32), 0x2345_6789);
        assert_eq!(one(0x37, 10, -1), 0, "64-bit div by a sign-extended imm");
    }
}
