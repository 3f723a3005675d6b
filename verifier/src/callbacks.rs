//! Callbacks of the helpers that call a subprogram synchronously
//! (`bpf_loop`, `bpf_for_each_map_elem`, `bpf_find_vma`,
//! `bpf_user_ringbuf_drain`), as Linux 6.18 verifies them
//! (`push_callback_call`, `set_*_callback_state`): at the helper call a
//! branch is queued that enters the callback in a new frame with the
//! arguments the helper gives it; the callback's exit checks r0 against
//! `[0, 1]` and returns to the helper call itself, which queues the next
//! iteration until the call's state is covered by one already explored.
//!
//! A callback frame is recognised by its call site: a helper call, where a
//! bpf-to-bpf call's frame has a `call pc+N`.
//!
//! `bpf_loop` unrolls at most `nr_loops` iterations (`callback_depth`);
//! after a callback returns, the imprecise scalars that changed are
//! widened (`widen_imprecise_scalars`).
//!
//! Not modelled yet: backtracking that crosses from a callback's frame
//! into its caller's (the kernel walks the callback's instructions back
//! to the helper call; ironbpf marks every scalar precise instead, the
//! `force_precise` lines: same verdicts on the tests, other logs and
//! counts). `bpf_user_ringbuf_drain`'s callback gets its sample as a
//! `CONST_PTR_TO_DYNPTR` (crate::dynptr); the asynchronous callbacks
//! (`bpf_timer_set_callback`) are paths of their own (crate::timer).

use crate::cfg::libc_errno::*;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::state::*;

/// `BPF_FUNC_for_each_map_elem`.
pub(crate) const FOR_EACH_MAP_ELEM: i32 = 164;
/// `BPF_FUNC_find_vma`.
pub(crate) const FIND_VMA: i32 = 180;
/// `BPF_FUNC_loop`.
pub(crate) const LOOP: i32 = 181;
/// `BPF_FUNC_user_ringbuf_drain`.
pub(crate) const USER_RINGBUF_DRAIN: i32 = 209;

/// Helpers whose callback ironbpf verifies.
pub(crate) fn is_sync_callback_helper(id: i32) -> bool {
    matches!(id, FOR_EACH_MAP_ELEM | FIND_VMA | LOOP | USER_RINGBUF_DRAIN)
}

/// The log line of a `BPF_PSEUDO_FUNC` ld_imm64: the kernel prints its
/// raw immediate (`5: (18) r2 = 0x6`).
pub(crate) fn pseudo_func_line(pc: usize, insn: &ironbpf_isa::Insn) -> Option<String> {
    match *insn {
        ironbpf_isa::Insn::LdImm64 {
            dst,
            src: ironbpf_isa::LdImm64Src::Func,
            imm,
            next_imm,
        } => {
            let v = (imm as u32 as u64) | ((next_imm as u32 as u64) << 32);
            Some(format!("{pc}: (18) r{} = {v:#x}", dst.index()))
        }
        _ => None,
    }
}

impl Env<'_> {
    /// Whether the instruction at `pc` is a call of a helper that calls a
    /// callback (`bpf_calls_callback`).
    pub(crate) fn calls_callback(&self, pc: usize) -> bool {
        self.insns.get(pc).is_some_and(|i| {
            (i.code == 0x85 && i.src == 0 && is_sync_callback_helper(i.imm))
                || crate::obj_new::is_rbtree_add_insn(i)
        })
    }

    /// Whether the current frame is a callback's.
    pub(crate) fn in_callback_fn(&self) -> bool {
        self.cur.frames.len() > 1 && self.cur.cur().in_callback_fn
    }

    /// `check_ld_imm64` for `BPF_PSEUDO_FUNC`: callbacks need BTF
    /// func_info and must be static.
    pub(crate) fn check_pseudo_func(&self, sub: usize) -> VResult {
        if self.funcs.subs.is_empty() {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Other,
                "missing btf func_info".into(),
            ));
        }
        if self.funcs.is_global(sub) {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Other,
                "callback function not static".into(),
            ));
        }
        Ok(())
    }

    /// `push_callback_call` at helper `id` (its arguments checked, the
    /// caller's registers not yet clobbered): queue the callback's entry.
    pub(crate) fn push_callback_call(&mut self, id: i32, sub: usize) -> VResult {
        // A NULL callback_ctx is relied on: precise (the argument check).
        let ctx_reg = if id == FIND_VMA { 4 } else { 3 };
        if self.cur.reg(ctx_reg).is_null() {
            self.mark_chain_precision(ctx_reg);
        }
        if id == LOOP {
            self.update_loop_inline_state(sub);
            // The verifier relies on r1 to know when the loop is done.
            self.mark_chain_precision(1);
            let nr_loops = self.cur.reg(1).val.umax;
            if u64::from(self.cur.cur().callback_depth) >= nr_loops {
                self.cur.cur_mut().callback_depth = 0;
                if self.log2() {
                    let f = self.cur.frames.len() - 1;
                    self.log
                        .push_str(&format!("frame{f} bpf_loop iteration limit reached\n"));
                }
                return Ok(());
            }
        }
        // The BTF check is made (and its complaints logged) but only a
        // broken BTF stops the call.
        let _ = self.btf_check_subprog_call(sub);
        let depth = self.cur.frames.len();
        if depth >= MAX_CALL_FRAMES {
            return Err(self.reject_errno(
                E2BIG,
                RejectionKind::CallTooDeep { frames: depth + 1 },
                format!("the call stack of {} frames is too deep", depth + 1),
            ));
        }
        let caller = self.cur.cur().clone();
        let mut callee = FuncState::new(depth as u32, self.pc, sub);
        callee.in_callback_fn = true;
        match id {
            LOOP => {
                // callback_fn(u64 index, void *callback_ctx)
                callee.regs[1] = RegState::unknown();
                callee.regs[2] = caller.regs[3];
            }
            FOR_EACH_MAP_ELEM => {
                // callback_fn(map, key, value, callback_ctx)
                let map = caller.regs[1].map;
                callee.regs[1] = caller.regs[1];
                callee.regs[2] = RegState {
                    map,
                    ..RegState::pointer(RegType::MapKey)
                };
                // The kernel gives the value an id (the key none).
                let id = self.new_id();
                callee.regs[3] = RegState {
                    map,
                    id,
                    ..RegState::pointer(RegType::MapValue)
                };
                callee.regs[4] = caller.regs[3];
            }
            FIND_VMA => {
                // callback_fn(task, vma, callback_ctx)
                callee.regs[1] = caller.regs[1];
                // A plain PTR_TO_BTF_ID of the kernel's vm_area_struct.
                let vma = crate::vmlinux::vmlinux()
                    .ok()
                    .and_then(|v| v.struct_id("vm_area_struct"));
                let Some(vma) = vma else {
                    return Err(self.reject_errno(
                        EINVAL,
                        RejectionKind::Unsupported {
                            pc: self.pc,
                            what: "callbacks",
                        },
                        format!(
                            "insn {}: bpf_find_vma's callback gets a struct vm_area_struct, which the kernel's BTF (needed) does not have",
                            self.pc
                        ),
                    ));
                };
                callee.regs[2] = RegState {
                    btf_id: vma,
                    ..RegState::pointer(RegType::BtfId)
                };
                callee.regs[3] = caller.regs[4];
            }
            _ => {
                // USER_RINGBUF_DRAIN: callback_fn(const struct bpf_dynptr
                // *dynptr, void *ctx): a local dynptr of the sample, which
                // the callback may read but not release (crate::dynptr).
                let id = self.new_id();
                callee.regs[1] = RegState {
                    id,
                    dynptr: crate::dynptr::DynptrInfo {
                        ty: crate::dynptr::DynptrType::Local,
                        first_slot: true,
                        ..crate::dynptr::DynptrInfo::NONE
                    },
                    ..RegState::pointer(RegType::ConstPtrToDynptr)
                };
                callee.regs[2] = caller.regs[3];
            }
        }
        let mut st = self.cur.clone();
        st.cur_mut().callback_depth += 1;
        st.frames.push(callee);
        self.cur.cur_mut().callback_depth = 0;
        let Some(&start) = self.cfg.subprogs.get(sub) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("callback func#{sub} is not among the CFG's subprograms"),
            ));
        };
        self.push_branch(st, start)?;
        // The new frame's set-up scratches the whole state for the log.
        self.scratch_all = true;
        Ok(())
    }

    /// `widen_imprecise_scalars` after a callback returned to its call
    /// site: the imprecise scalars that changed since the nearest explored
    /// state at the call site on this path become unknown, so that the
    /// iterations converge.
    pub(crate) fn widen_after_callback(&mut self, callsite: usize) {
        let mut node = self.cur_parent;
        let mut prev = None;
        while let Some(i) = node {
            let Some(e) = self.explored.get(i) else {
                break;
            };
            if self.path.get(e.pos).copied() == Some(callsite as u32)
                && e.st.frames.len() == self.cur.frames.len()
            {
                prev = Some(i);
                break;
            }
            node = e.parent;
        }
        let Some(p) = prev else {
            return;
        };
        let Some(old) = self.explored.get(p).map(|e| e.st.clone()) else {
            return;
        };
        // maybe_widen_reg: a scalar precise in either state is kept (the
        // caller's path may have marked the old one precise after the
        // callback was queued).
        crate::may_goto::widen_imprecise_scalars(&old, &mut self.cur);
    }

    /// `update_loop_inline_state`: a `bpf_loop` call whose flags are
    /// always 0 and whose callback is always the same is inlined, which
    /// costs its subprogram 3 stack slots.
    fn update_loop_inline_state(&mut self, sub: usize) {
        let zero = self.cur.reg(4).is_null();
        if zero {
            self.mark_chain_precision(4);
        }
        let e = self.funcs.loop_inline.entry(self.pc).or_insert((zero, sub));
        e.0 = e.0 && zero && e.1 == sub;
    }

    /// `optimize_bpf_loop`'s stack: 24 more bytes in each subprogram with
    /// an inlined `bpf_loop` (after the stack-depth check, as the kernel
    /// adds them).
    pub(crate) fn add_loop_inline_stack(&mut self) {
        let mut subs: Vec<usize> = self
            .funcs
            .loop_inline
            .iter()
            .filter(|(_, (fit, _))| *fit)
            .map(|(pc, _)| self.cfg.subprog_of(*pc))
            .collect();
        subs.sort_unstable();
        subs.dedup();
        for s in subs {
            if let Some(d) = self.stack_depth.get_mut(s) {
                *d += 24;
            }
        }
    }

    /// The exit of a callback (`prepare_func_exit` with
    /// `in_callback_fn`): r0 a scalar in `[0, 1]`; back to the helper call.
    pub(crate) fn check_callback_exit(&mut self) -> VResult {
        let r0 = *self.cur.reg(0);
        if !r0.is_scalar() {
            return Err(self.reject(RejectionKind::Other, "R0 not a scalar value".into()));
        }
        self.mark_chain_precision(0);
        let v = r0.val;
        if v.smin < 0 || v.smax > 1 {
            let m = crate::calls::invalid_r0_range("callback return", v.smin, v.smax, 0, 1);
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::ReturnValue { min: 0, max: 1 },
                m,
            ));
        }
        Ok(())
    }
}
