//! The callback of `bpf_timer_set_callback()`, verified as Linux 6.18
//! verifies asynchronous callbacks (`push_async_cb`,
//! `set_timer_callback_state`): a path of its own, queued at the call, that
//! starts the callback in a fresh state (one frame, no references, no
//! lock), with `r1` the timer's map, `r2` a pointer to its key and `r3` to
//! its value; the callback must return 0 (`At async callback return the
//! register R0 ...`), and may not leave a lock, a reference or an RCU section open.

use crate::calls::invalid_r0_range;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::state::{FuncState, RegState, RegType, VState};

const EINVAL: i32 = 22;

impl Env<'_> {
    /// Queues the timer callback `sub` of a timer of map `map`.
    pub(crate) fn push_timer_callback(&mut self, sub: usize, map: Option<u32>) -> VResult {
        let Some(map) = map else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("bpf_timer_set_callback without the timer's map"),
            ));
        };
        let Some(&start) = self.cfg.subprogs.get(sub) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("callback func#{sub} is not among the CFG's subprograms"),
            ));
        };
        self.funcs.async_cbs.insert(sub);
        let mut frame = FuncState::new(0, self.pc, sub);
        let of_map = |ty| RegState {
            map,
            ..RegState::pointer(ty)
        };
        frame.regs[1] = of_map(RegType::ConstPtrToMap);
        frame.regs[2] = of_map(RegType::MapKey);
        // The value pointer gets an id of its own, as the kernel's log
        // shows (`R3=map_value(id=1,...)`).
        frame.regs[3] = RegState {
            id: self.new_id(),
            ..of_map(RegType::MapValue)
        };
        frame.in_async_callback_fn = true;
        let st = VState {
            frames: vec![frame],
            refs: Vec::new(),
            may_goto_depth: 0,
            active_rcu_lock: false,
            active_preempt_locks: 0,
            active_locks: Vec::new(),
            speculative: false,
            active_irqs: Vec::new(),
        };
        // The callback's state has no parent: the caller's states do not
        // wait for it.
        let parent = self.cur_parent.take();
        let pushed = self.push_branch(st, start);
        self.cur_parent = parent;
        pushed
    }

    /// The exit of an asynchronous callback (`check_return_code` with
    /// `in_async_callback_fn`): r0 is the scalar 0.
    pub(crate) fn async_callback_exit(&self) -> VResult {
        let r0 = *self.cur.reg(0);
        let kind = RejectionKind::ReturnValue { min: 0, max: 0 };
        if !r0.is_scalar() {
            return Err(self.reject_errno(
                EINVAL,
                kind,
                format!(
                    "At async callback return the register R0 is not a known value ({})",
                    r0.type_str()
                ),
            ));
        }
        if r0.val.smin != 0 || r0.val.smax != 0 {
            return Err(self.reject_errno(
                EINVAL,
                kind,
                invalid_r0_range("async callback return", r0.val.smin, r0.val.smax, 0, 0),
            ));
        }
        Ok(())
    }
}
