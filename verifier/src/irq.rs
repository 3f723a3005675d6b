//! IRQ-disabled sections: `bpf_local_irq_save(&flags)` and
//! `bpf_local_irq_restore(&flags)`, as Linux 6.18 checks them
//! (`process_irq_flag`).
//!
//! - The argument (`flags__irq_flag`) must point to the stack at a
//!   constant, slot-aligned offset (`arg#0 doesn't point to an irq flag on
//!   stack`).
//! - Saving needs a slot that holds no flag yet (`expected uninitialized
//!   irq flag as arg#0`); it writes the 8 bytes, marks them
//!   `STACK_IRQ_FLAG` and acquires an IRQ state with a fresh id, which
//!   becomes the active one (`active_irq_id`).
//! - Restoring needs the 8 bytes still a flag (`expected an initialized
//!   irq flag as arg#0`; a store into the slot destroys it) and the flag of
//!   the active IRQ state: sections close in reverse order (`cannot
//!   restore irq state out of order, expected id=N acquired at
//!   insn_idx=M`). The slot is then invalid again.
//! - Inside a section, sleepable kfuncs and helpers are refused, and the
//!   main program may not exit (`rcu.rs`, `section_exit`).
//!
//! ironbpf keeps a flag slot as a `STACK_ITER` slot whose iterator type is
//! 0 (no iterator has that type): it compares in `states_equal` as an
//! iterator slot does (same id), reads of it are refused, and stores turn
//! it back into ordinary stack. The IRQ states are `VState::active_irqs`,
//! the last one active.

use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::mem::Access;
use crate::state::{byte_pos, RefState, RegState, RegType, SlotType, StackSlot, BPF_REG_SIZE};

const EINVAL: i32 = 22;
const EACCES: i32 = 13;

/// A stack slot holding an IRQ flag (all its bytes are).
pub(crate) fn is_irq_flag_slot(s: &StackSlot) -> bool {
    s.ty.iter().all(|&t| t == SlotType::Iter) && s.spilled.btf_id == 0 && s.spilled.ref_obj_id != 0
}

impl Env<'_> {
    fn irq_reject(&self, errno: i32, msg: String) -> crate::Rejection {
        self.reject_errno(errno, RejectionKind::RcuSection { pc: self.pc }, msg)
    }

    /// `irq_flag_get_spi`: the slot the flag pointer in `regno` names,
    /// `Ok(None)` when it lies beyond the frame's allocated stack
    /// (`-ERANGE`).
    fn irq_flag_spi(&self, regno: usize) -> VResult<Option<(usize, usize)>> {
        let reg = *self.cur.reg(regno);
        if !reg.val.var_off.is_const() {
            return Err(self.irq_reject(EINVAL, "irq_flag has to be at a constant offset".into()));
        }
        let off = reg.off as i64 + reg.val.var_off.value as i64;
        if off % BPF_REG_SIZE as i64 != 0 || off >= 0 {
            return Err(self.irq_reject(
                EINVAL,
                format!("cannot pass in irq_flag at an offset={off}"),
            ));
        }
        let (spi, _) = byte_pos(off);
        let fi = (reg.frameno as usize).min(self.cur.frames.len().saturating_sub(1));
        let allocated = self.cur.frames.get(fi).is_some_and(|f| spi < f.stack.len());
        Ok(allocated.then_some((fi, spi)))
    }

    /// `process_irq_flag` for argument `i` of `bpf_local_irq_save`
    /// (`save`) or `bpf_local_irq_restore`.
    pub(crate) fn process_irq_flag(&mut self, i: usize, save: bool) -> VResult {
        let regno = i + 1;
        if self.cur.reg(regno).ty != RegType::Stack {
            return Err(self.irq_reject(
                EINVAL,
                format!("arg#{i} doesn't point to an irq flag on stack"),
            ));
        }
        if save {
            self.irq_save(regno, i)
        } else {
            self.irq_restore(regno, i)
        }
    }

    fn irq_save(&mut self, regno: usize, i: usize) -> VResult {
        let uninit = match self.irq_flag_spi(regno) {
            Ok(None) => true,
            Ok(Some((fi, spi))) => self
                .cur
                .frames
                .get(fi)
                .and_then(|f| f.stack.get(spi))
                .is_none_or(|s| !s.ty.contains(&SlotType::Iter) || s.spilled.btf_id != 0),
            Err(rej) => {
                // The kernel logs the offset's problem, then this line.
                return Err(self.irq_reject(
                    EINVAL,
                    format!(
                        "{}\nexpected uninitialized irq flag as arg#{i}",
                        rej.message
                    ),
                ));
            }
        };
        if !uninit {
            return Err(self.irq_reject(
                EINVAL,
                format!("expected uninitialized irq flag as arg#{i}"),
            ));
        }
        // check_mem_access of an 8-byte write, which allocates the slot.
        let reg = *self.cur.reg(regno);
        self.check_stack_bounds(
            regno,
            reg.off as i64,
            BPF_REG_SIZE as i64,
            Access::Write,
            "write",
        )?;
        let off = reg.off as i64 + reg.val.var_off.value as i64;
        let fi = (reg.frameno as usize).min(self.cur.frames.len().saturating_sub(1));
        let need = (-off) as usize;
        let Some(subprog) = self.cur.frames.get(fi).map(|f| f.subprog) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("the irq flag's frame {fi} is missing"),
            ));
        };
        if let Some(f) = self.cur.frames.get_mut(fi) {
            f.grow_stack(need);
        }
        if let Some(sd) = self.stack_depth.get_mut(subprog) {
            *sd = (*sd).max(need.next_multiple_of(BPF_REG_SIZE) as u32);
        }
        let id = self.new_id();
        self.cur.active_irqs.push(RefState { id, insn: self.pc });
        let (spi, _) = byte_pos(off);
        let mut st = RegState::pointer(RegType::Stack);
        st.ref_obj_id = id;
        st.btf_id = 0;
        if let Some(slot) = self
            .cur
            .frames
            .get_mut(fi)
            .and_then(|f| f.stack.get_mut(spi))
        {
            slot.ty = [SlotType::Iter; BPF_REG_SIZE];
            slot.spilled = st;
        }
        self.scratch.slot(spi);
        self.stack_live
            .mark_write(fi, crate::stack_live::slots_of(off, off + 1));
        Ok(())
    }

    fn irq_restore(&mut self, regno: usize, i: usize) -> VResult {
        let invalid = format!("expected an initialized irq flag as arg#{i}");
        let at = match self.irq_flag_spi(regno) {
            Ok(Some(at)) => at,
            Ok(None) => return Err(self.irq_reject(EINVAL, invalid)),
            Err(rej) => {
                return Err(self.irq_reject(EINVAL, format!("{}\n{invalid}", rej.message)));
            }
        };
        let (fi, spi) = at;
        let Some(id) = self
            .cur
            .frames
            .get(fi)
            .and_then(|f| f.stack.get(spi))
            .filter(|s| is_irq_flag_slot(s))
            .map(|s| s.spilled.ref_obj_id)
        else {
            return Err(self.irq_reject(EINVAL, invalid));
        };
        // release_irq_state: only the active (last) state may be released.
        let Some(active) = self.cur.active_irqs.last().copied() else {
            return Err(self.irq_reject(EINVAL, invalid));
        };
        if active.id != id {
            return Err(self.irq_reject(
                EACCES,
                format!(
                    "cannot restore irq state out of order, expected id={} acquired at insn_idx={}",
                    active.id, active.insn
                ),
            ));
        }
        self.cur.active_irqs.pop();
        // The flag is read, then its slot forgotten (`mark_irq_flag_read`,
        // `unmark_stack_slot_irq_flag`).
        let (pc, bit) = (self.pc, 1u64.checked_shl(spi as u32).unwrap_or(0));
        self.stack_live.mark_read(&self.cur, fi, pc, bit);
        self.stack_live.mark_write(fi, bit);
        if let Some(slot) = self
            .cur
            .frames
            .get_mut(fi)
            .and_then(|f| f.stack.get_mut(spi))
        {
            *slot = StackSlot::invalid();
        }
        self.scratch.slot(spi);
        Ok(())
    }

    /// Inside an IRQ-disabled section (`active_irq_id`).
    pub(crate) fn in_irq_section(&self) -> bool {
        !self.cur.active_irqs.is_empty()
    }
}
