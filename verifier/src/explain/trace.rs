//! Walking a replayed failing path backwards: where a register got its
//! value (following copies, spills and fills, calls and returns), which
//! branch last narrowed a scalar, and which conditional jumps on the path
//! could have gone either way.

use crate::check::TraceStep;
use crate::state::RegType;
use ironbpf_isa::{AluOp, CallTarget, Insn, Operand, Width};

/// The decoded program, one entry per slot (`None`: the second slot of an
/// `ld_imm64` or an instruction that does not decode).
pub(crate) struct Prog {
    pub decoded: Vec<Option<Insn>>,
}

impl Prog {
    pub fn insn(&self, pc: u32) -> Option<&Insn> {
        self.decoded.get(pc as usize).and_then(|i| i.as_ref())
    }
}

/// A value's origin: the step where it arose and what happened there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The instruction at this step wrote it.
    Written(usize),
    /// A call at this step clobbered it (r1-r5 after a helper call, r6-r9
    /// of a callee).
    Clobbered(usize),
    /// Nothing on the path wrote it (uninitialised since the entry of the
    /// frame that the first step of the walk was in).
    Never,
}

fn is_call(i: &Insn) -> bool {
    matches!(
        i,
        Insn::Call(CallTarget::Helper(_) | CallTarget::Kfunc { .. })
    )
}

fn is_local_call(i: &Insn) -> bool {
    matches!(i, Insn::Call(CallTarget::Local(_)) | Insn::Callx { .. })
}

/// The last step before `k` that gave `reg` of `frame` its value (without
/// following copies).
pub(crate) fn def_of(prog: &Prog, steps: &[TraceStep], k: usize, reg: usize) -> Origin {
    let Some(start) = steps.get(k) else {
        return Origin::Never;
    };
    let mut frame = start.frame;
    let mut j = k;
    while j > 0 {
        j -= 1;
        let Some(s) = steps.get(j) else {
            continue;
        };
        let Some(insn) = prog.insn(s.insn) else {
            continue;
        };
        if s.frame == frame {
            if is_call(insn) && reg <= 5 {
                return if reg == 0 {
                    Origin::Written(j)
                } else {
                    Origin::Clobbered(j)
                };
            }
            if is_local_call(insn) {
                // The callee ran after this step: its return is the
                // definition of r0 (handled at the exit below), and r1-r5
                // are clobbered by the return.
                if (1..=5).contains(&reg) {
                    return Origin::Clobbered(j);
                }
                continue;
            }
            if insn.writes().map(|r| r.index()) == Some(reg) {
                return Origin::Written(j);
            }
        } else if s.frame == frame + 1 && matches!(insn, Insn::Exit) && reg == 0 {
            // The callee's exit set r0: follow r0 in the callee.
            return Origin::Written(j);
        } else if s.frame + 1 == frame && is_local_call(insn) {
            // Walked back past the call that made this frame: r1-r5 come
            // from the caller's, r6-r9 are not set in a new frame.
            if (1..=5).contains(&reg) {
                frame = s.frame;
                continue;
            }
            return Origin::Clobbered(j);
        }
    }
    Origin::Never
}

/// The step where the value in `reg` at step `k` arose, following register
/// copies (`rX = rY`), stack spills and fills, and a callee's return value.
/// Returns the step and the register there.
pub(crate) fn origin(prog: &Prog, steps: &[TraceStep], k: usize, reg: usize) -> Origin {
    let (mut k, mut reg) = (k, reg);
    let mut last = Origin::Never;
    for _ in 0..steps.len().min(10_000) {
        let o = def_of(prog, steps, k, reg);
        let Origin::Written(j) = o else {
            // A copy of r10, or of r1 at the entry (the context): the copy
            // is where the value arose.
            return if o == Origin::Never { last } else { o };
        };
        last = o;
        let Some(step) = steps.get(j) else {
            return o;
        };
        let Some(insn) = prog.insn(step.insn) else {
            return o;
        };
        match *insn {
            Insn::Alu {
                op: AluOp::Mov,
                width: Width::W64,
                src: Operand::Reg(s),
                ..
            } => {
                k = j;
                reg = s.index();
            }
            Insn::Load { src, off, .. } if src.index() == 10 => {
                // A fill: the store that spilled it.
                let before = &step.before;
                let slot_spilled = spilled_at(before, step.frame, off as i64);
                if !slot_spilled {
                    return o;
                }
                match store_to(prog, steps, j, off) {
                    Some((js, s)) => {
                        k = js;
                        reg = s;
                        // Continue from the store: the value there is the
                        // source register's before the store.
                        let d = def_of(prog, steps, js, s);
                        match d {
                            Origin::Written(_) => {}
                            other => return other,
                        }
                    }
                    None => return o,
                }
            }
            Insn::Exit if step.frame > 0 => {
                k = j;
                reg = 0;
            }
            _ => return o,
        }
    }
    Origin::Never
}

fn spilled_at(st: &crate::state::VState, frame: u32, off: i64) -> bool {
    let Some(fr) = st.frames.get(frame as usize) else {
        return false;
    };
    if !(-512..0).contains(&off) {
        return false;
    }
    let (spi, _) = crate::state::byte_pos(off);
    fr.stack.get(spi).is_some_and(|s| s.is_spill())
}

/// The last register store to `r10 + off` in the same frame before step
/// `k`: its step and source register.
fn store_to(prog: &Prog, steps: &[TraceStep], k: usize, off: i16) -> Option<(usize, usize)> {
    let frame = steps.get(k)?.frame;
    for (j, s) in steps.iter().enumerate().take(k).rev() {
        if s.frame != frame {
            continue;
        }
        match prog.insn(s.insn) {
            Some(Insn::StoreReg {
                dst, src, off: o, ..
            }) if dst.index() == 10 && *o == off => {
                return Some((j, src.index()));
            }
            Some(Insn::Store { dst, off: o, .. }) if dst.index() == 10 && *o == off => {
                return None;
            }
            _ => {}
        }
    }
    None
}

/// The last conditional jump before step `k` (and after step `from`) in
/// `reg`'s frame that compared `reg` and lowered its unsigned maximum on
/// the edge the path took; `None` when no branch bounded it.
pub(crate) fn narrowing_branch(
    prog: &Prog,
    steps: &[TraceStep],
    from: usize,
    k: usize,
    reg: usize,
) -> Option<usize> {
    let frame = steps.get(k)?.frame;
    for j in (from..k).rev() {
        let Some(s) = steps.get(j) else {
            continue;
        };
        if s.frame != frame {
            continue;
        }
        let insn = prog.insn(s.insn)?;
        if let Insn::Jmp { dst, src, .. } = insn {
            let uses = dst.index() == reg || matches!(src, Operand::Reg(r) if r.index() == reg);
            if uses {
                let after = s.after.as_ref()?;
                let b = s.before.reg(reg);
                let a = after.reg(reg);
                if b.is_scalar()
                    && a.is_scalar()
                    && (a.val.umax < b.val.umax || a.val.u32_max < b.val.u32_max)
                {
                    return Some(j);
                }
            }
        }
        if insn.writes().map(|r| r.index()) == Some(reg) && j < k {
            // Written again before: an earlier branch bounded another value.
            if !matches!(insn, Insn::Jmp { .. }) {
                return None;
            }
        }
    }
    None
}

/// Whether the conditional jump of step `j` could have gone either way
/// (its outcome was not decided by the registers' values).
pub(crate) fn forked(prog: &Prog, s: &TraceStep) -> bool {
    let Some(Insn::Jmp {
        op,
        width,
        dst,
        src,
        ..
    }) = prog.insn(s.insn)
    else {
        return false;
    };
    let a = s.before.reg(dst.index());
    let is32 = *width == Width::W32;
    let b = match src {
        Operand::Reg(r) => *s.before.reg(r.index()),
        Operand::Imm(imm) => crate::state::RegState::constant(if is32 {
            *imm as u32 as u64
        } else {
            *imm as i64 as u64
        }),
    };
    if a.is_scalar() && b.is_scalar() {
        return crate::branch::is_branch_taken(*op, is32, &a.val, &b.val).is_none();
    }
    // A null check or a packet comparison.
    a.maybe_null || b.maybe_null || a.ty.is_pkt() || b.ty.is_pkt() || a.ty == RegType::PacketEnd
}

/// The last conditional jump before step `k` that compared a packet
/// pointer with the packet's end.
pub(crate) fn packet_check(prog: &Prog, steps: &[TraceStep], k: usize) -> Option<usize> {
    for (j, s) in steps.iter().enumerate().take(k).rev() {
        if let Some(Insn::Jmp {
            dst,
            src: Operand::Reg(r),
            ..
        }) = prog.insn(s.insn)
        {
            let a = s.before.reg(dst.index());
            let b = s.before.reg(r.index());
            let pkt =
                |x: &crate::state::RegState| matches!(x.ty, RegType::Packet | RegType::PacketMeta);
            let end = |x: &crate::state::RegState| x.ty == RegType::PacketEnd;
            if (pkt(a) && (end(b) || pkt(b))) || (pkt(b) && end(a)) {
                return Some(j);
            }
        }
    }
    None
}

/// The last step before `k` (in the frame of step `k`) that added a
/// non-constant scalar to the pointer in `reg`, following the pointer's
/// copies back; the step and the index register.
pub(crate) fn variable_add(
    prog: &Prog,
    steps: &[TraceStep],
    k: usize,
    reg: usize,
) -> Option<(usize, usize)> {
    let (mut k, mut reg) = (k, reg);
    for _ in 0..64 {
        let Origin::Written(j) = def_of(prog, steps, k, reg) else {
            return None;
        };
        let s = steps.get(j)?;
        match prog.insn(s.insn)? {
            Insn::Alu {
                op: AluOp::Add | AluOp::Sub,
                src: Operand::Reg(x),
                ..
            } => {
                let xr = s.before.reg(x.index());
                let dr = s.before.reg(reg);
                if dr.is_pointer() && xr.is_scalar() && !xr.val.var_off.is_const() {
                    return Some((j, x.index()));
                }
                if xr.is_pointer() && dr.is_scalar() && !dr.val.var_off.is_const() {
                    return Some((j, reg));
                }
                k = j;
            }
            Insn::Alu {
                op: AluOp::Add | AluOp::Sub,
                src: Operand::Imm(_),
                ..
            } => k = j,
            Insn::Alu {
                op: AluOp::Mov,
                width: Width::W64,
                src: Operand::Reg(x),
                ..
            } => {
                k = j;
                reg = x.index();
            }
            _ => return None,
        }
    }
    None
}
