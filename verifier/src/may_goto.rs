//! `may_goto` (`BPF_JMP | BPF_JCOND`, src_reg `BPF_MAY_GOTO`; libbpf's
//! `can_loop` and `cond_break`) as Linux 6.18 verifies it.
//!
//! At run time the instruction falls through while a loop budget lasts and
//! jumps once it is spent; the verifier cannot know which, so
//! `check_cond_jmp_op` explores both: the jump target at once, the
//! fall-through queued with the state's `may_goto_depth` one higher, its
//! imprecise scalars that changed since the previous visit of the same
//! `may_goto` on this path widened to unknown (`widen_imprecise_scalars`),
//! so that iterations converge.
//!
//! Every `may_goto` is a prune point that always keeps its state
//! (`mark_force_checkpoint`). A later visit whose `may_goto_depth` differs
//! from a state still being explored at the same instruction is covered
//! when every scalar's range lies within the old one's (`RANGE_WITHIN`):
//! the loop is cut there, the kernel's "loop" hit; the same depth is what
//! the infinite-loop check requires.
//!
//! After verification `do_misc_fixups` gives each subprogram with a
//! `may_goto` a hidden loop counter below its stack: 16 bytes on x86-64
//! (6.18's JIT has the timed variant, a count and a start time; the
//! interpreter and JITs without it take 8), which the `stack depth` line
//! of the statistics shows. [`MAY_GOTO_STACK_EXTRA`] is the x86-64 figure,
//! the one this machine's kernel prints.
//!
//! Not modelled: the kernel's strongly-connected-component bookkeeping
//! (the `SCC enter`/`SCC backedge`/`SCC exit` lines of the level-2 log and
//! the precision it propagates along a loop's back-edges when the loop is
//! left); the hit's precision is propagated at once instead.

use crate::cfg::libc_errno::*;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::state::*;
use ironbpf_isa::RawInsn;

/// `BPF_JMP | BPF_JCOND`.
pub const MAY_GOTO_CODE: u8 = 0xe5;
/// The stack bytes `do_misc_fixups` adds below a subprogram that has a
/// `may_goto` on x86-64 (the timed variant: a count and a start time).
pub const MAY_GOTO_STACK_EXTRA: u32 = 16;
/// `BPF_MAX_LOOPS`: the iterations the counted variant allows a
/// subprogram's `may_goto`s per call before they jump (the kernel's
/// interpreter; ironbpf's engines run this variant, deterministic where
/// the x86-64 JIT's timed one stops after about 250 ms).
pub const BPF_MAX_LOOPS: u64 = 8 * 1024 * 1024;

/// `is_may_goto_insn`: the kernel looks at the opcode and src_reg only, so
/// a `may_goto` with a stray dst or imm is still a forced checkpoint
/// before `check_cond_jmp_op` refuses it.
pub(crate) fn is_may_goto(i: &RawInsn) -> bool {
    i.code == MAY_GOTO_CODE && i.src == ironbpf_isa::opcode::BPF_MAY_GOTO
}

/// The log line of a `BPF_JCOND` the decoder refused: the kernel's
/// disassembler prints one with another src_reg as a conditional jump
/// whose operator it has no name for.
pub(crate) fn refused_line(pc: usize, i: &RawInsn) -> Option<String> {
    if i.code != MAY_GOTO_CODE {
        return None;
    }
    if i.src == ironbpf_isa::opcode::BPF_MAY_GOTO {
        return Some(format!("{pc}: (e5) may_goto pc{:+}", i.off));
    }
    Some(format!(
        "{pc}: (e5) if r{} (null) {:#x} goto pc{:+}",
        i.dst, i.imm as u32, i.off
    ))
}

/// The kernel's refusal of a `BPF_JCOND` whose fields are not those of
/// `may_goto` (it names the imm, whichever field is wrong).
pub(crate) fn invalid_message(i: &RawInsn) -> Option<String> {
    (i.code == MAY_GOTO_CODE).then(|| format!("invalid may_goto imm {}", i.imm))
}

/// The decoded program as the liveness analysis sees it: the kernel's
/// `compute_live_registers` takes a malformed `BPF_JCOND` for the
/// conditional jump it looks like (both edges) before `do_check` refuses
/// it. A copy only when there is one.
pub(crate) fn for_liveness<'d>(
    insns: &[RawInsn],
    decoded: &'d [Option<Result<ironbpf_isa::Insn, ironbpf_isa::IsaError>>],
) -> std::borrow::Cow<'d, [Option<Result<ironbpf_isa::Insn, ironbpf_isa::IsaError>>]> {
    let bad = |pc: usize| {
        insns.get(pc).is_some_and(|i| i.code == MAY_GOTO_CODE)
            && matches!(decoded.get(pc), Some(Some(Err(_))))
    };
    if !(0..decoded.len()).any(bad) {
        return std::borrow::Cow::Borrowed(decoded);
    }
    let mut v = decoded.to_vec();
    for (pc, d) in v.iter_mut().enumerate() {
        if let (true, Some(raw)) = (bad(pc), insns.get(pc)) {
            *d = Some(Ok(ironbpf_isa::Insn::MayGoto { off: raw.off }));
        }
    }
    std::borrow::Cow::Owned(v)
}

/// `check_ids` over one comparison (`idmap_scratch`).
#[derive(Default)]
struct Ids(Vec<(u32, u32)>);

impl Ids {
    fn check(&mut self, old: u32, cur: u32) -> bool {
        if (old == 0) != (cur == 0) {
            return false;
        }
        if old == 0 {
            return true;
        }
        for &(o, c) in &self.0 {
            if o == old {
                return c == cur;
            }
            if c == cur {
                return false;
            }
        }
        self.0.push((old, cur));
        true
    }
}

/// `regs_exact`: every field before the ids equal (precision is not one
/// of them), the ids consistently mapped.
fn regs_exact(old: &RegState, cur: &RegState, ids: &mut Ids) -> bool {
    let strip = |r: &RegState| RegState {
        precise: false,
        id: 0,
        ref_obj_id: 0,
        frameno: 0,
        ..*r
    };
    strip(old) == strip(cur)
        && ids.check(old.id, cur.id)
        && ids.check(old.ref_obj_id, cur.ref_obj_id)
}

/// `maybe_widen_reg`.
fn maybe_widen(old: &RegState, cur: &mut RegState, ids: &mut Ids) {
    if !old.is_scalar() || !cur.is_scalar() {
        return;
    }
    if old.precise || cur.precise || regs_exact(old, cur, ids) {
        return;
    }
    *cur = RegState::unknown();
}

/// `widen_imprecise_scalars`: each scalar register and spilled scalar of
/// `cur` that is imprecise in both states and not exactly the old value
/// becomes unknown.
pub(crate) fn widen_imprecise_scalars(old: &VState, cur: &mut VState) {
    let mut ids = Ids::default();
    for (fo, fc) in old.frames.iter().zip(cur.frames.iter_mut()).rev() {
        for (o, c) in fo.regs.iter().zip(fc.regs.iter_mut()) {
            maybe_widen(o, c, &mut ids);
        }
        for (so, sc) in fo.stack.iter().zip(fc.stack.iter_mut()) {
            if so.is_spill() && sc.is_spill() {
                maybe_widen(&so.spilled, &mut sc.spilled, &mut ids);
            }
        }
    }
}

/// `same_callsites`: the two states are in the same call chain.
fn same_callsites(a: &VState, b: &VState) -> bool {
    a.frames.len() == b.frames.len()
        && a.frames
            .iter()
            .zip(&b.frames)
            .all(|(x, y)| x.callsite == y.callsite)
}

impl Env<'_> {
    /// `check_cond_jmp_op` for `BPF_JCOND`: the fall-through queued one
    /// `may_goto` deeper (widened against the previous visit on this
    /// path), the jump target explored now.
    pub(crate) fn check_may_goto(&mut self, off: i16) -> VResult<Option<usize>> {
        let pc = self.pc;
        let prev = self.find_prev_entry(pc);
        let mut queued = self.cur.clone();
        queued.may_goto_depth += 1;
        if let Some(old) = prev.and_then(|p| self.explored.get(p)) {
            widen_imprecise_scalars(&old.st, &mut queued);
        }
        self.push_branch(queued, pc + 1)?;
        Ok(Some((pc as i64 + off as i64 + 1) as usize))
    }

    /// `find_prev_entry`: the nearest state remembered at `pc` above the
    /// current path's last one, still being explored (a previous iteration
    /// of this loop), in the same call chain.
    fn find_prev_entry(&self, pc: usize) -> Option<usize> {
        let list = self.explored_at(pc)?;
        let start = self
            .cur_parent
            .and_then(|p| self.explored.get(p))
            .and_then(|e| e.parent);
        list.iter().rev().copied().find(|&i| {
            self.explored_branches(i) > 0
                && self
                    .explored
                    .get(i)
                    .is_some_and(|e| same_callsites(&e.st, &self.cur))
                && crate::check::is_ancestor_of(&self.explored, start, i)
        })
    }

    /// The refusal of a malformed `BPF_JCOND` at the current instruction.
    pub(crate) fn reject_bad_may_goto(&self, raw: &RawInsn) -> Option<crate::Rejection> {
        invalid_message(raw).map(|m| {
            self.reject_errno(
                EINVAL,
                RejectionKind::ReservedField {
                    pc: self.pc,
                    what: "BPF_JCOND",
                },
                m,
            )
        })
    }

    /// `do_misc_fixups`' hidden loop counter: [`MAY_GOTO_STACK_EXTRA`]
    /// bytes more in each subprogram where a `may_goto` was reached. A
    /// privileged program's `may_goto +0` is removed before, as a nop
    /// (`opt_remove_nops`).
    pub(crate) fn add_may_goto_stack(&mut self) {
        let privileged = self.opts.privileged;
        let mut subs: Vec<usize> = (0..self.insns.len())
            .filter(|&pc| {
                self.insns.get(pc).is_some_and(|i| {
                    is_may_goto(i) && self.was_reached(pc) && !(privileged && i.off == 0)
                })
            })
            .map(|pc| self.cfg.subprog_of(pc))
            .collect();
        subs.sort_unstable();
        subs.dedup();
        for s in subs {
            if let Some(d) = self.stack_depth.get_mut(s) {
                *d += MAY_GOTO_STACK_EXTRA;
            }
        }
    }
}
