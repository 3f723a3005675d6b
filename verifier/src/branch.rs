//! Conditional jumps between two scalars: whether an edge can be taken at
//! all (`is_scalar_branch_taken`) and what each edge teaches about both
//! operands (`reg_set_min_max` / `regs_refine_cond_op`), as Linux 6.18 does.
//!
//! For a `BPF_K` jump the second operand is the immediate as a constant
//! scalar, sign-extended to 64 bits ([`crate::alu::scalar_imm`]), as the
//! kernel's fake register is.

use crate::scalar::Scalar;
use crate::tnum::Tnum;
use ironbpf_isa::JmpOp;

/// Whether the 6.18 `is_scalar_branch_taken` uses the tnums for `jeq`/`jne`
/// (two tnums with a known bit that disagrees cannot be equal). It does:
/// without it, kernel_regstate's seed 0x1111 explores 38 paths the kernel
/// does not.
const JEQ_USES_TNUM_OVERLAP: bool = true;

/// The operator that holds on the other edge (`rev_opcode`): the
/// fall-through of `a op b`. `jset`'s reverse, "no common bit", is not a
/// `JmpOp`; [`refine`] handles it internally.
pub fn reverse(op: JmpOp) -> Option<JmpOp> {
    Some(match op {
        JmpOp::Jeq => JmpOp::Jne,
        JmpOp::Jne => JmpOp::Jeq,
        JmpOp::Jgt => JmpOp::Jle,
        JmpOp::Jle => JmpOp::Jgt,
        JmpOp::Jge => JmpOp::Jlt,
        JmpOp::Jlt => JmpOp::Jge,
        JmpOp::Jsgt => JmpOp::Jsle,
        JmpOp::Jsle => JmpOp::Jsgt,
        JmpOp::Jsge => JmpOp::Jslt,
        JmpOp::Jslt => JmpOp::Jsge,
        JmpOp::Jset => return None,
    })
}

/// The operator with its operands swapped (`flip_opcode`): `a op b` iff
/// `b flip(op) a`.
pub fn flip(op: JmpOp) -> JmpOp {
    match op {
        JmpOp::Jgt => JmpOp::Jlt,
        JmpOp::Jlt => JmpOp::Jgt,
        JmpOp::Jge => JmpOp::Jle,
        JmpOp::Jle => JmpOp::Jge,
        JmpOp::Jsgt => JmpOp::Jslt,
        JmpOp::Jslt => JmpOp::Jsgt,
        JmpOp::Jsge => JmpOp::Jsle,
        JmpOp::Jsle => JmpOp::Jsge,
        other => other,
    }
}

/// The concrete semantics: whether `a op b` holds (on the low 32 bits for
/// `JMP32`). The ground truth the domain is checked against.
pub fn eval(op: JmpOp, is32: bool, a: u64, b: u64) -> bool {
    let (ua, ub, sa, sb) = if is32 {
        (
            u64::from(a as u32),
            u64::from(b as u32),
            i64::from(a as i32),
            i64::from(b as i32),
        )
    } else {
        (a, b, a as i64, b as i64)
    };
    match op {
        JmpOp::Jeq => ua == ub,
        JmpOp::Jne => ua != ub,
        JmpOp::Jgt => ua > ub,
        JmpOp::Jge => ua >= ub,
        JmpOp::Jlt => ua < ub,
        JmpOp::Jle => ua <= ub,
        JmpOp::Jsgt => sa > sb,
        JmpOp::Jsge => sa >= sb,
        JmpOp::Jslt => sa < sb,
        JmpOp::Jsle => sa <= sb,
        JmpOp::Jset => ua & ub != 0,
    }
}

struct View {
    t: Tnum,
    umin: u64,
    umax: u64,
    smin: i64,
    smax: i64,
}

fn view(r: &Scalar, is32: bool) -> View {
    if is32 {
        View {
            t: r.var_off.subreg(),
            umin: u64::from(r.u32_min),
            umax: u64::from(r.u32_max),
            smin: i64::from(r.s32_min),
            smax: i64::from(r.s32_max),
        }
    } else {
        View {
            t: r.var_off,
            umin: r.umin,
            umax: r.umax,
            smin: r.smin,
            smax: r.smax,
        }
    }
}

/// `is_scalar_branch_taken`: `Some(true)` when `a op b` holds for every pair
/// of values, `Some(false)` when for none, `None` when it depends.
pub fn is_branch_taken(op: JmpOp, is32: bool, a: &Scalar, b: &Scalar) -> Option<bool> {
    let v1 = view(a, is32);
    let v2 = view(b, is32);
    let ranges_disjoint = |v1: &View, v2: &View| {
        v1.umin > v2.umax || v1.umax < v2.umin || v1.smin > v2.smax || v1.smax < v2.smin
    };
    let sub_disjoint = |a: &Scalar, b: &Scalar| {
        !is32
            && (a.u32_min > b.u32_max
                || a.u32_max < b.u32_min
                || a.s32_min > b.s32_max
                || a.s32_max < b.s32_min)
    };
    match op {
        JmpOp::Jeq | JmpOp::Jne => {
            let eq = op == JmpOp::Jeq;
            if v1.t.is_const() && v2.t.is_const() {
                return Some((v1.t.value == v2.t.value) == eq);
            }
            if JEQ_USES_TNUM_OVERLAP && !v1.t.overlaps(v2.t) {
                return Some(!eq);
            }
            if ranges_disjoint(&v1, &v2) || sub_disjoint(a, b) {
                return Some(!eq);
            }
            None
        }
        JmpOp::Jset => {
            let (t1, t2) = if b.is_const(is32) {
                (v1.t, v2.t)
            } else if a.is_const(is32) {
                (v2.t, v1.t)
            } else {
                return None;
            };
            if (!t1.mask & t1.value) & t2.value != 0 {
                return Some(true);
            }
            if (t1.mask | t1.value) & t2.value == 0 {
                return Some(false);
            }
            None
        }
        JmpOp::Jgt => decide(v1.umin > v2.umax, v1.umax <= v2.umin),
        JmpOp::Jsgt => decide(v1.smin > v2.smax, v1.smax <= v2.smin),
        JmpOp::Jlt => decide(v1.umax < v2.umin, v1.umin >= v2.umax),
        JmpOp::Jslt => decide(v1.smax < v2.smin, v1.smin >= v2.smax),
        JmpOp::Jge => decide(v1.umin >= v2.umax, v1.umax < v2.umin),
        JmpOp::Jsge => decide(v1.smin >= v2.smax, v1.smax < v2.smin),
        JmpOp::Jle => decide(v1.umax <= v2.umin, v1.umin > v2.umax),
        JmpOp::Jsle => decide(v1.smax <= v2.smin, v1.smin > v2.smax),
    }
}

fn decide(always: bool, never: bool) -> Option<bool> {
    if always {
        Some(true)
    } else if never {
        Some(false)
    } else {
        None
    }
}

/// The condition one edge establishes: a `JmpOp`, or `jset`'s negation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    Op(JmpOp),
    NoCommonBit,
}

/// On the fall-through of a `jset` the 6.18 kernel's ranges are the refined
/// tnum's alone (what it printed for every such edge we compared, while the
/// taken edge keeps them): the ranges known before the jump are dropped,
/// then re-derived by the sync.
fn reset_bounds_to_tnum(r: &mut Scalar) {
    r.mark_64_unbounded();
    r.mark_32_unbounded();
}

/// `regs_refine_cond_op`: narrow both operands to the pairs where `cond`
/// holds. Not synced.
fn refine_cond(r1: &mut Scalar, r2: &mut Scalar, cond: Cond, is32: bool) {
    let (r1, r2, op) = match cond {
        Cond::Op(op @ (JmpOp::Jge | JmpOp::Jgt | JmpOp::Jsge | JmpOp::Jsgt)) => {
            (r2, r1, Cond::Op(flip(op)))
        }
        c => (r1, r2, c),
    };
    match op {
        Cond::Op(JmpOp::Jeq) => {
            if is32 {
                r1.u32_min = r1.u32_min.max(r2.u32_min);
                r1.u32_max = r1.u32_max.min(r2.u32_max);
                r1.s32_min = r1.s32_min.max(r2.s32_min);
                r1.s32_max = r1.s32_max.min(r2.s32_max);
                r2.u32_min = r1.u32_min;
                r2.u32_max = r1.u32_max;
                r2.s32_min = r1.s32_min;
                r2.s32_max = r1.s32_max;
                let t = r1.var_off.subreg().intersect(r2.var_off.subreg());
                r1.var_off = r1.var_off.with_subreg(t);
                r2.var_off = r2.var_off.with_subreg(t);
            } else {
                r1.umin = r1.umin.max(r2.umin);
                r1.umax = r1.umax.min(r2.umax);
                r1.smin = r1.smin.max(r2.smin);
                r1.smax = r1.smax.min(r2.smax);
                r2.umin = r1.umin;
                r2.umax = r1.umax;
                r2.smin = r1.smin;
                r2.smax = r1.smax;
                r1.var_off = r1.var_off.intersect(r2.var_off);
                r2.var_off = r1.var_off;
            }
        }
        Cond::Op(JmpOp::Jne) => {
            let (r1, r2) = if r2.is_const(is32) {
                (r1, r2)
            } else {
                (r2, r1)
            };
            if !r2.is_const(is32) {
                return;
            }
            let val = r2.const_of_width(is32);
            if is32 {
                if r1.u32_min == val as u32 {
                    r1.u32_min = r1.u32_min.wrapping_add(1);
                }
                if r1.u32_max == val as u32 {
                    r1.u32_max = r1.u32_max.wrapping_sub(1);
                }
                if r1.s32_min == val as i32 {
                    r1.s32_min = r1.s32_min.wrapping_add(1);
                }
                if r1.s32_max == val as i32 {
                    r1.s32_max = r1.s32_max.wrapping_sub(1);
                }
            } else {
                if r1.umin == val {
                    r1.umin = r1.umin.wrapping_add(1);
                }
                if r1.umax == val {
                    r1.umax = r1.umax.wrapping_sub(1);
                }
                if r1.smin == val as i64 {
                    r1.smin = r1.smin.wrapping_add(1);
                }
                if r1.smax == val as i64 {
                    r1.smax = r1.smax.wrapping_sub(1);
                }
            }
        }
        Cond::Op(JmpOp::Jset) => {
            let (r1, r2) = if r2.is_const(is32) {
                (r1, r2)
            } else {
                (r2, r1)
            };
            if !r2.is_const(is32) {
                return;
            }
            let val = r2.const_of_width(is32);
            // Only a single bit tells which bit is set.
            if !val.is_power_of_two() {
                return;
            }
            if is32 {
                let t = r1.var_off.subreg().or(Tnum::constant(val));
                r1.var_off = r1.var_off.with_subreg(t);
            } else {
                r1.var_off = r1.var_off.or(Tnum::constant(val));
            }
        }
        Cond::NoCommonBit => {
            let (r1, r2) = if r2.is_const(is32) {
                (r1, r2)
            } else {
                (r2, r1)
            };
            if !r2.is_const(is32) {
                return;
            }
            let val = r2.const_of_width(is32);
            if is32 {
                let t = r1.var_off.subreg().and(Tnum::constant(!val));
                r1.var_off = r1.var_off.with_subreg(t);
            } else {
                r1.var_off = r1.var_off.and(Tnum::constant(!val));
            }
            reset_bounds_to_tnum(r1);
        }
        Cond::Op(JmpOp::Jle) => {
            if is32 {
                r1.u32_max = r1.u32_max.min(r2.u32_max);
                r2.u32_min = r1.u32_min.max(r2.u32_min);
            } else {
                r1.umax = r1.umax.min(r2.umax);
                r2.umin = r1.umin.max(r2.umin);
            }
        }
        Cond::Op(JmpOp::Jlt) => {
            if is32 {
                r1.u32_max = r1.u32_max.min(r2.u32_max.wrapping_sub(1));
                r2.u32_min = r1.u32_min.wrapping_add(1).max(r2.u32_min);
            } else {
                r1.umax = r1.umax.min(r2.umax.wrapping_sub(1));
                r2.umin = r1.umin.wrapping_add(1).max(r2.umin);
            }
        }
        Cond::Op(JmpOp::Jsle) => {
            if is32 {
                r1.s32_max = r1.s32_max.min(r2.s32_max);
                r2.s32_min = r1.s32_min.max(r2.s32_min);
            } else {
                r1.smax = r1.smax.min(r2.smax);
                r2.smin = r1.smin.max(r2.smin);
            }
        }
        Cond::Op(JmpOp::Jslt) => {
            if is32 {
                r1.s32_max = r1.s32_max.min(r2.s32_max.wrapping_sub(1));
                r2.s32_min = r1.s32_min.wrapping_add(1).max(r2.s32_min);
            } else {
                r1.smax = r1.smax.min(r2.smax.wrapping_sub(1));
                r2.smin = r1.smin.wrapping_add(1).max(r2.smin);
            }
        }
        // Flipped away above.
        Cond::Op(JmpOp::Jge | JmpOp::Jgt | JmpOp::Jsge | JmpOp::Jsgt) => {}
    }
}

/// What the edge teaches, without the kernel's sanity check: both operands
/// narrowed to the pairs where the jump is `taken` (or not), each synced
/// (`reg_set_min_max` for one edge). When the edge is impossible the
/// result may be an empty state (min > max); the 6.18 kernel then fails
/// `reg_bounds_sanity_check` as a verifier bug, which is what a caller
/// that mimics it should do with [`Scalar::sanity_check`].
pub fn refine_unchecked(
    op: JmpOp,
    is32: bool,
    a: &Scalar,
    b: &Scalar,
    taken: bool,
) -> (Scalar, Scalar) {
    let cond = match (taken, reverse(op)) {
        (true, _) => Cond::Op(op),
        (false, Some(r)) => Cond::Op(r),
        (false, None) => Cond::NoCommonBit,
    };
    let mut r1 = *a;
    let mut r2 = *b;
    refine_cond(&mut r1, &mut r2, cond, is32);
    r1.sync();
    r2.sync();
    (r1, r2)
}

/// Both operands narrowed by one edge of `a op b` (taken or fall-through),
/// synced; `None` when [`Scalar::sanity_check`] fails on either (the edge
/// cannot happen). Like the kernel's, the sync can turn some impossible
/// edges into a constant that passes the check (see
/// [`Scalar::update_64_bounds`]); those come back as `Some`, and the 6.18
/// kernel explores them too.
pub fn refine(
    op: JmpOp,
    is32: bool,
    a: &Scalar,
    b: &Scalar,
    taken: bool,
) -> Option<(Scalar, Scalar)> {
    let (r1, r2) = refine_unchecked(op, is32, a, b, taken);
    if r1.sanity_check().is_err() || r2.sanity_check().is_err() {
        return None;
    }
    Some((r1, r2))
}

/// Both edges of a jump between two scalars as 6.18's `reg_set_min_max`
/// leaves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edges {
    /// `(dst, src)` on the taken edge.
    pub taken: (Scalar, Scalar),
    /// `(dst, src)` on the fall-through.
    pub fallthrough: (Scalar, Scalar),
    /// The `verifier bug: REG INVARIANTS VIOLATION (...)` lines the kernel
    /// logs, in its order (`true_reg1`, `true_reg2`, `false_reg1`,
    /// `false_reg2`), for registers whose refined state held no value; those
    /// registers keep their tnum with their ranges reset.
    pub violations: Vec<String>,
}

/// `reg_set_min_max` for a jump neither `is_branch_taken` decided: both
/// edges refined and synced, then sanity-checked as the kernel does, which
/// (outside `BPF_F_TEST_REG_INVARIANTS`) logs a violation and resets the
/// register's ranges rather than dropping the edge.
pub fn reg_set_min_max(op: JmpOp, is32: bool, a: &Scalar, b: &Scalar) -> Edges {
    let (mut f1, mut f2) = refine_unchecked(op, is32, a, b, false);
    let (mut t1, mut t2) = refine_unchecked(op, is32, a, b, true);
    let mut violations = Vec::new();
    for (reg, ctx) in [
        (&mut t1, "true_reg1"),
        (&mut t2, "true_reg2"),
        (&mut f1, "false_reg1"),
        (&mut f2, "false_reg2"),
    ] {
        if let Some(line) = reg.check_or_unbound(ctx) {
            violations.push(line);
        }
    }
    Edges {
        taken: (t1, t2),
        fallthrough: (f1, f2),
        violations,
    }
}

/// `regs_refine_cond_op` when both operands are the same register
/// (`if r3 < r3`): the kernel's two pointers alias one state, so each
/// statement reads what the previous one wrote (6.18 does not skip this
/// case; `r < r` narrows the range by one at each end).
fn refine_cond_same(r: &mut Scalar, cond: Cond, is32: bool) {
    let op = match cond {
        Cond::Op(op) => op,
        Cond::NoCommonBit => return,
    };
    // `>` and `s>` are flipped to `<` and `s<` with the operands swapped,
    // which for one register changes nothing. Only the strict comparisons
    // change anything; `==`, `<=`, `jset` and `!=` (on a register that is
    // not constant) leave it as it is.
    match op {
        JmpOp::Jlt | JmpOp::Jgt => {
            if is32 {
                r.u32_max = r.u32_max.min(r.u32_max.wrapping_sub(1));
                r.u32_min = r.u32_min.wrapping_add(1).max(r.u32_min);
            } else {
                r.umax = r.umax.min(r.umax.wrapping_sub(1));
                r.umin = r.umin.wrapping_add(1).max(r.umin);
            }
        }
        JmpOp::Jslt | JmpOp::Jsgt => {
            if is32 {
                r.s32_max = r.s32_max.min(r.s32_max.wrapping_sub(1));
                r.s32_min = r.s32_min.wrapping_add(1).max(r.s32_min);
            } else {
                r.smax = r.smax.min(r.smax.wrapping_sub(1));
                r.smin = r.smin.wrapping_add(1).max(r.smin);
            }
        }
        _ => {}
    }
}

/// [`refine`] for `if rX op rX`: the one register narrowed by one edge as
/// the kernel's aliased operands leave it (see [`reg_set_min_max_same_reg`]),
/// `None` when the edge cannot happen. Refining the two operands apart
/// narrows the range by one per iteration instead of two, which doubles
/// the exploration of a loop such as `if r5 < r5 goto -1`.
pub fn refine_same(op: JmpOp, is32: bool, a: &Scalar, taken: bool) -> Option<Scalar> {
    let cond = match (taken, reverse(op)) {
        (true, _) => Cond::Op(op),
        (false, Some(r)) => Cond::Op(r),
        (false, None) => Cond::NoCommonBit,
    };
    let mut r = *a;
    refine_cond_same(&mut r, cond, is32);
    r.sync();
    r.sync();
    r.sanity_check().ok()?;
    Some(r)
}

/// Both edges of a jump whose two operands are one register, as 6.18's
/// `reg_set_min_max` leaves them (the register synced twice, as the
/// kernel syncs "both" operands, and checked twice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SameRegEdges {
    /// The register on the taken edge.
    pub taken: Scalar,
    /// The register on the fall-through.
    pub fallthrough: Scalar,
    /// The `verifier bug: REG INVARIANTS VIOLATION (...)` lines, in order.
    pub violations: Vec<String>,
}

/// [`reg_set_min_max`] for `if rX op rX`, which the kernel does not decide
/// with `is_branch_taken` unless the register is a constant.
pub fn reg_set_min_max_same_reg(op: JmpOp, is32: bool, a: &Scalar) -> SameRegEdges {
    let edge = |taken: bool| {
        let cond = match (taken, reverse(op)) {
            (true, _) => Cond::Op(op),
            (false, Some(r)) => Cond::Op(r),
            (false, None) => Cond::NoCommonBit,
        };
        let mut r = *a;
        refine_cond_same(&mut r, cond, is32);
        r.sync();
        r.sync();
        r
    };
    let mut f = edge(false);
    let mut t = edge(true);
    let violations: Vec<String> = [
        t.check_or_unbound("true_reg1"),
        t.check_or_unbound("true_reg2"),
        f.check_or_unbound("false_reg1"),
        f.check_or_unbound("false_reg2"),
    ]
    .into_iter()
    .flatten()
    .collect();
    SameRegEdges {
        taken: t,
        fallthrough: f,
        violations,
    }
}
