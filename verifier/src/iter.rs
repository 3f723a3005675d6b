//! Open-coded iterators (libbpf's `bpf_for`, `bpf_repeat`): the
//! `bpf_iter_<type>_new`/`_next`/`_destroy` kfuncs (`KF_ITER_NEW`,
//! `KF_ITER_NEXT`, `KF_ITER_DESTROY`) and their state on the stack, as
//! Linux 6.18 checks them.
//!
//! - `new` takes a pointer to uninitialised stack of the iterator
//!   struct's size and marks those slots `STACK_ITER`, holding a fresh
//!   reference (`mark_stack_slots_iter`); the log prints the first slot as
//!   `fp-8=iter_num(ref_id=1,state=active,depth=0)`.
//! - `next` and `destroy` need an initialised iterator of the same type;
//!   `destroy` releases its reference and frees the slots.
//! - `next` is a forced checkpoint. Each call forks the path
//!   (`process_iter_next_call`): the current state goes on with the
//!   iterator drained and r0 = NULL; a queued state continues with r0 not
//!   NULL, the iterator active and one level deeper, its imprecise scalars
//!   widened against the previous iteration. When a state at the `next`
//!   call is covered by one still being explored (every scalar's range
//!   within) and its iterator is active, the loop has converged and the
//!   path is pruned (`is_state_visited`).

use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::kfunc::KfuncMeta;
use crate::kfunc_table::{KF_ITER_DESTROY, KF_ITER_NEW, KF_RCU_PROTECTED};
use crate::mem::Access;
use crate::state::{btf_flag, byte_pos, RegState, RegType, SlotType, StackSlot, BPF_REG_SIZE};
use std::fmt::Write;

const EINVAL: i32 = 22;

/// `iter_type_str`: `num` for `struct bpf_iter_num`.
fn type_str(btf_id: u32) -> String {
    let n = crate::vmlinux::type_name(btf_id);
    n.strip_prefix("bpf_iter_").unwrap_or(&n).to_string()
}

/// The log's print of an iterator slot (`print_verifier_state`): only the
/// first slot, which holds the reference, is printed.
pub(crate) fn write_iter_slot(out: &mut String, spi: usize, s: &StackSlot) {
    let r = &s.spilled;
    if r.ref_obj_id == 0 {
        return;
    }
    if r.btf_id == 0 {
        // An IRQ flag (`crate::irq`): STACK_IRQ_FLAG bytes.
        let _ = write!(
            out,
            " fp{}=ffffffff",
            -(spi as i64 + 1) * BPF_REG_SIZE as i64
        );
        return;
    }
    let _ = write!(
        out,
        " fp{}=iter_{}(ref_id={},state={},depth={})",
        -(spi as i64 + 1) * BPF_REG_SIZE as i64,
        type_str(r.btf_id),
        r.ref_obj_id,
        if r.iter.drained { "drained" } else { "active" },
        r.iter.depth
    );
}

/// `stacksafe` for an iterator slot: the same type, state and reference
/// (the depth is not compared, so that loops converge).
pub(crate) fn iter_slot_safe(old: &RegState, cur: &RegState) -> bool {
    old.btf_id == cur.btf_id
        && old.iter.drained == cur.iter.drained
        && old.btf_flags == cur.btf_flags
}

/// `iter_active_depths_differ`: some active iterator is at another depth in
/// `cur` than in `old` (then a repeated state is no infinite loop).
pub(crate) fn active_depths_differ(old: &crate::state::VState, cur: &crate::state::VState) -> bool {
    old.frames.iter().zip(&cur.frames).any(|(fo, fc)| {
        fo.stack.iter().zip(&fc.stack).any(|(so, sc)| {
            so.ty[0] == SlotType::Iter
                && !so.spilled.iter.drained
                && so.spilled.iter.depth != sc.spilled.iter.depth
        })
    })
}

impl Env<'_> {
    fn iter_reject(&self, reg: u8, msg: String) -> crate::Rejection {
        self.reject_errno(EINVAL, RejectionKind::Iterator { reg }, msg)
    }

    /// `process_iter_arg` for the iterator argument (r1) of a kfunc with
    /// `KF_ITER_*`: the frame and first slot of the iterator.
    #[allow(
        clippy::indexing_slicing,
        reason = "fi is clamped to the current frames; spi - k is checked against nr_slots (bad_off) before \
                  use, and the stack was grown to cover the iterator's slots"
    )]
    pub(crate) fn process_iter_arg(
        &mut self,
        m: &KfuncMeta,
        flags: u32,
        i: usize,
        ref_tname: &str,
    ) -> VResult<(usize, usize)> {
        let regno = i + 1;
        let reg = *self.cur.reg(regno);
        if reg.ty != RegType::Stack {
            return Err(self.iter_reject(
                regno as u8,
                format!("arg#{i} expected pointer to an iterator on stack"),
            ));
        }
        let btf = &m.vm.btf;
        let Some(btf_id) =
            m.vm.struct_id(ref_tname)
                .filter(|_| ref_tname.starts_with("bpf_iter_"))
        else {
            return Err(self.iter_reject(
                regno as u8,
                format!("expected valid iter pointer as arg #{i}"),
            ));
        };
        let size = btf.get(btf_id).map_or(0, |t| t.size_or_type) as usize;
        let nr_slots = size / BPF_REG_SIZE;
        let tname = type_str(btf_id);
        // iter_get_spi
        if !reg.val.var_off.is_const() {
            return Err(self.iter_reject(regno as u8, "iter has to be at a constant offset".into()));
        }
        let off = reg.off as i64 + reg.val.var_off.value as i64;
        let bad_off = off % BPF_REG_SIZE as i64 != 0 || {
            let spi = (-off - 1) / BPF_REG_SIZE as i64;
            spi + 1 < nr_slots as i64
        };
        let fi = (reg.frameno as usize).min(self.cur.frames.len() - 1);
        if flags & KF_ITER_NEW != 0 {
            if bad_off {
                return Err(self.iter_reject(
                    regno as u8,
                    format!("cannot pass in iter at an offset={off}\nexpected uninitialized iter_{tname} as arg #{i}"),
                ));
            }
            let (spi, _) = byte_pos(off);
            let fr = &self.cur.frames[fi];
            let taken = (0..nr_slots).any(|k| {
                spi >= k
                    && fr
                        .stack
                        .get(spi - k)
                        .is_some_and(|s| s.ty.contains(&SlotType::Iter))
            });
            if taken {
                return Err(self.iter_reject(
                    regno as u8,
                    format!("expected uninitialized iter_{tname} as arg #{i}"),
                ));
            }
            // The slots are written as 8-byte stores.
            for k in 0..nr_slots {
                self.check_stack_bounds(
                    regno,
                    reg.off as i64 + (k * BPF_REG_SIZE) as i64,
                    BPF_REG_SIZE as i64,
                    Access::Write,
                    "write",
                )?;
            }
            let top = (off + size as i64).min(0);
            let need = (-off) as usize;
            self.cur.frames[fi].grow_stack(need);
            let sd = &mut self.stack_depth[self.cur.frames[fi].subprog];
            *sd = (*sd).max(need.next_multiple_of(BPF_REG_SIZE) as u32);
            let _ = top;
            let id = self.acquire_reference();
            let rcu_protected = flags & KF_RCU_PROTECTED != 0;
            let in_rcu = self.in_rcu_section();
            for k in 0..nr_slots {
                let mut st = RegState::pointer(RegType::Stack);
                if rcu_protected {
                    st.btf_flags = if in_rcu {
                        btf_flag::RCU
                    } else {
                        btf_flag::UNTRUSTED
                    };
                }
                st.ref_obj_id = if k == 0 { id } else { 0 };
                st.btf_id = btf_id;
                let slot = &mut self.cur.frames[fi].stack[spi - k];
                slot.ty = [SlotType::Iter; BPF_REG_SIZE];
                slot.spilled = st;
                self.scratch.slot(spi - k);
            }
            self.stack_live.mark_write(fi, iter_slots(spi, nr_slots));
            return Ok((fi, spi));
        }
        // next, destroy: an initialised iterator of this type.
        let invalid = || format!("expected an initialized iter_{tname} as arg #{i}");
        if bad_off {
            return Err(self.iter_reject(
                regno as u8,
                format!("cannot pass in iter at an offset={off}\n{}", invalid()),
            ));
        }
        let (spi, _) = byte_pos(off);
        let fr = &self.cur.frames[fi];
        let mut untrusted = false;
        let mut ok = spi + 1 >= nr_slots && spi < fr.stack.len();
        for k in 0..nr_slots {
            if !ok {
                break;
            }
            let s = &fr.stack[spi - k];
            let st = &s.spilled;
            if s.ty.iter().any(|t| *t != SlotType::Iter) {
                ok = false;
                break;
            }
            if st.btf_flags & btf_flag::UNTRUSTED != 0 {
                untrusted = true;
            }
            if (k == 0) != (st.ref_obj_id != 0) || st.btf_id != btf_id {
                ok = false;
            }
        }
        if ok && untrusted {
            return Err(self.iter_reject(
                regno as u8,
                format!("expected an RCU CS when using {}", m.name),
            ));
        }
        if !ok {
            return Err(self.iter_reject(regno as u8, invalid()));
        }
        let pc = self.pc;
        self.stack_live
            .mark_read(&self.cur, fi, pc, iter_slots(spi, nr_slots));
        if flags & KF_ITER_DESTROY != 0 {
            self.stack_live.mark_write(fi, iter_slots(spi, nr_slots));
            let rid = self.cur.frames[fi].stack[spi].spilled.ref_obj_id;
            self.release_reference(rid);
            for k in 0..nr_slots {
                let slot = &mut self.cur.frames[fi].stack[spi - k];
                *slot = StackSlot::invalid();
                self.scratch.slot(spi - k);
            }
        }
        Ok((fi, spi))
    }

    /// The reference of the iterator at `(frame, spi)` (the result of
    /// `next` shares it).
    pub(crate) fn iter_ref(&self, at: (usize, usize)) -> u32 {
        self.cur
            .frames
            .get(at.0)
            .and_then(|f| f.stack.get(at.1))
            .map_or(0, |s| s.spilled.ref_obj_id)
    }

    /// `process_iter_next_call`: fork the path into "one more element"
    /// (queued) and "drained" (current).
    #[allow(
        clippy::indexing_slicing,
        reason = "at is the (frame, slot) process_iter_arg validated for this call's r1"
    )]
    pub(crate) fn process_iter_next_call(&mut self, at: Option<(usize, usize)>) -> VResult {
        let Some((fi, spi)) = at else {
            return Ok(());
        };
        let cur_iter = self.cur.frames[fi].stack[spi].spilled;
        if !cur_iter.iter.drained {
            let mut queued = self.cur.clone();
            {
                let q = &mut queued.frames[fi].stack[spi].spilled;
                q.iter.depth += 1;
                q.iter.drained = false;
            }
            if let Some(prev) = self.prev_iter_entry() {
                widen_imprecise_scalars(&prev, &mut queued);
            }
            let r0 = queued.reg_mut(0);
            r0.maybe_null = false;
            self.push_branch(queued, self.pc + 1)?;
        }
        self.cur.frames[fi].stack[spi].spilled.iter.drained = true;
        *self.cur.reg_mut(0) = RegState::constant(0);
        self.scratch.slot(spi);
        Ok(())
    }

    /// `find_prev_entry`: the state of the previous iteration at this
    /// `next` call on the current path (the checkpoint made for this visit
    /// excluded).
    #[allow(
        clippy::indexing_slicing,
        reason = "parent links and cur_parent are indices of self.explored, which only grows"
    )]
    fn prev_iter_entry(&self) -> Option<crate::state::VState> {
        let first = self.cur_parent?;
        let mut node = self.explored[first].parent;
        while let Some(i) = node {
            let e = &self.explored[i];
            if self.path.get(e.pos).copied() == Some(self.pc as u32)
                && e.st.frames.len() == self.cur.frames.len()
                && e.st
                    .frames
                    .iter()
                    .zip(&self.cur.frames)
                    .all(|(a, b)| a.callsite == b.callsite)
            {
                return Some(e.st.clone());
            }
            node = e.parent;
        }
        None
    }

    /// Whether the kfunc call at `pc` is an iterator's `next` whose
    /// iterator (at r1) is active in the current state, for the loop
    /// convergence check of `is_state_visited`.
    #[allow(
        clippy::indexing_slicing,
        reason = "fi is clamped to the current frames; ty has BPF_REG_SIZE entries"
    )]
    pub(crate) fn iter_next_active(&self) -> bool {
        let r1 = self.cur.reg(1);
        if r1.ty != RegType::Stack || !r1.val.var_off.is_const() {
            return false;
        }
        let off = r1.off as i64 + r1.val.var_off.value as i64;
        if !(-512..0).contains(&off) {
            return false;
        }
        let (spi, _) = byte_pos(off);
        let fi = (r1.frameno as usize).min(self.cur.frames.len() - 1);
        self.cur.frames[fi]
            .stack
            .get(spi)
            .is_some_and(|s| s.ty[0] == SlotType::Iter && !s.spilled.iter.drained)
    }
}

/// `widen_imprecise_scalars`: scalars of `cur` that are not precise and
/// differ from `old`'s become unknown, so that the iterations converge.
fn widen_imprecise_scalars(old: &crate::state::VState, cur: &mut crate::state::VState) {
    let same = |o: &RegState, c: &RegState| {
        let strip = |r: &RegState| RegState {
            precise: false,
            id: 0,
            ..*r
        };
        strip(o) == strip(c)
    };
    let widen = |o: &RegState, c: &mut RegState| {
        if o.is_scalar() && c.is_scalar() && !o.precise && !c.precise && !same(o, c) {
            *c = RegState::unknown();
        }
    };
    for (fo, fc) in old.frames.iter().zip(cur.frames.iter_mut()) {
        for (o, c) in fo.regs.iter().zip(fc.regs.iter_mut()) {
            widen(o, c);
        }
        for (so, sc) in fo.stack.iter().zip(fc.stack.iter_mut()) {
            if so.is_spill() && sc.is_spill() {
                widen(&so.spilled, &mut sc.spilled);
            }
        }
    }
}

/// The stack-slot bits of an iterator of `nr_slots` slots whose first slot
/// is `spi` (it grows down to `spi - nr_slots + 1`).
fn iter_slots(spi: usize, nr_slots: usize) -> u64 {
    (0..nr_slots)
        .filter_map(|k| spi.checked_sub(k))
        .filter(|&s| s < 64)
        .fold(0, |m, s| m | 1u64 << s)
}
