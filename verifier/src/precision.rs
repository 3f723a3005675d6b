//! Precision tracking (`mark_chain_precision`, `backtrack_insn`): when a
//! scalar's exact value decides a safety check (a pointer offset, a branch
//! known taken, a helper's size argument), the verifier walks the current
//! path backwards from that instruction, finding the registers and stack
//! slots the value came from, and marks them precise in the remembered
//! states (checkpoints) along the path. Pruning then compares only precise
//! scalars; an imprecise one in a remembered state matches any scalar.
//!
//! The path is [`Env::path`] (every instruction executed from the entry),
//! so the kernel's per-state jump history is not needed to find the
//! previous instruction; what the history adds (a load that was a fill of
//! a spilled register, the registers linked to a conditional jump's
//! operands) is kept beside it in [`Env::hist`]. Where backtracking does
//! not follow the kernel in detail (bpf-to-bpf calls and exits, callbacks,
//! legacy packet loads, atomics into a register being tracked), it falls
//! back to the kernel's own big hammer, `mark_all_scalars_precise`, which
//! is always sound: more precise scalars only prune less.

use crate::check::Env;
use crate::state::{RegType, BPF_REG_SIZE};
use ironbpf_isa::{AtomicOp, CallTarget, Insn, Operand};

/// What the kernel's jump history keeps for one executed instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hist {
    /// A store that spilled a register into, or a load that filled one
    /// from, stack slot `spi` of frame `frame` (`INSN_F_STACK_ACCESS`).
    Stack { frame: u32, spi: u32 },
    /// A conditional jump whose operands share their id with these
    /// registers and stack slots (`linked_regs`, packed as the kernel's
    /// `linked_regs_pack`: see [`pack_linked`]).
    Linked(u64),
}

/// One linked scalar: its frame, and a register number or a slot index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinkedEntry {
    pub frame: u8,
    pub is_reg: bool,
    pub index: u8,
}

/// Up to six entries in 64 bits: a 3-bit count, then 10 bits per entry
/// (3 of frame, 1 of "is a register", 6 of register or slot index).
pub(crate) fn pack_linked(entries: &[LinkedEntry]) -> u64 {
    let mut v = 0u64;
    let n = entries.len().min(6);
    for (i, e) in entries.iter().take(n).enumerate() {
        let bits =
            u64::from(e.frame & 7) | (u64::from(e.is_reg) << 3) | (u64::from(e.index & 63) << 4);
        v |= bits << (3 + 10 * i);
    }
    v | n as u64
}

fn unpack_linked(v: u64) -> impl Iterator<Item = LinkedEntry> {
    let n = (v & 7) as usize;
    (0..n.min(6)).map(move |i| {
        let bits = v >> (3 + 10 * i);
        LinkedEntry {
            frame: (bits & 7) as u8,
            is_reg: bits & 8 != 0,
            index: ((bits >> 4) & 63) as u8,
        }
    })
}

/// The call frames backtracking can follow (`MAX_CALL_FRAMES`).
const FRAMES: usize = 8;

/// `r1`-`r5`, the arguments (`BPF_REGMASK_ARGS`).
const ARGS: u16 = 0b11_1110;

/// The registers and stack slots still to be found, per call frame, and
/// the frame the instruction being walked back ran in
/// (`struct backtrack_state`).
#[derive(Clone, Copy, Debug, Default)]
struct Bt {
    frame: usize,
    regs: [u16; FRAMES],
    stack: [u64; FRAMES],
}

#[allow(
    clippy::indexing_slicing,
    reason = "frame stays below FRAMES: at() clamps it, and the walk moves it down only \
              from above 0 and up only below FRAMES - 1"
)]
impl Bt {
    /// Backtracking from frame `frame` with registers `regs` and slots
    /// `stack` of it.
    fn at(frame: usize, regs: u16, stack: u64) -> Bt {
        let mut bt = Bt {
            frame: frame.min(FRAMES - 1),
            ..Bt::default()
        };
        bt.regs[bt.frame] = regs;
        bt.stack[bt.frame] = stack;
        bt
    }
    /// `bt_subprog_exit` after a static call walked back: the callee's
    /// registers (only arguments by then) go to the caller's frame.
    fn exit_subprog(&mut self) {
        if self.frame == 0 {
            return;
        }
        let args = self.regs[self.frame];
        self.regs[self.frame] = 0;
        self.frame -= 1;
        self.regs[self.frame] |= args;
    }
    /// Nothing left in any frame (`bt_empty`).
    fn empty(&self) -> bool {
        self.regs.iter().all(|m| *m == 0) && self.stack.iter().all(|m| *m == 0)
    }
    /// The current frame's registers (`bt_reg_mask`).
    fn regs(&self) -> u16 {
        self.regs[self.frame]
    }
    /// The current frame's slots (`bt_stack_mask`).
    fn stack(&self) -> u64 {
        self.stack[self.frame]
    }
    fn has(&self, r: usize) -> bool {
        self.regs() & (1 << r) != 0
    }
    fn set(&mut self, r: usize) {
        if r < 10 {
            self.regs[self.frame] |= 1 << r;
        }
    }
    fn clear(&mut self, r: usize) {
        self.regs[self.frame] &= !(1 << r);
    }
    /// `bt_is_frame_slot_set`.
    fn has_slot(&self, fr: usize, spi: usize) -> bool {
        spi < 64 && self.stack.get(fr).is_some_and(|m| m & (1u64 << spi) != 0)
    }
    /// `bt_set_frame_slot`; `false` where the slot cannot be tracked.
    fn set_slot(&mut self, fr: usize, spi: usize) -> bool {
        match self.stack.get_mut(fr) {
            Some(m) if spi < 64 => {
                *m |= 1u64 << spi;
                true
            }
            _ => false,
        }
    }
    fn clear_slot(&mut self, fr: usize, spi: usize) {
        if let Some(m) = self.stack.get_mut(fr) {
            if spi < 64 {
                *m &= !(1u64 << spi);
            }
        }
    }
    /// The linked registers and slots of a conditional jump, all needed
    /// once one of them is (`bt_sync_linked_regs`).
    fn sync_linked(&mut self, hist: Option<Hist>) {
        let Some(Hist::Linked(packed)) = hist else {
            return;
        };
        let is_set = |bt: &Bt, e: LinkedEntry| {
            let fr = e.frame as usize;
            if e.is_reg {
                bt.regs.get(fr).is_some_and(|m| m & (1 << e.index) != 0)
            } else {
                bt.has_slot(fr, e.index as usize)
            }
        };
        if !unpack_linked(packed).any(|e| is_set(self, e)) {
            return;
        }
        for e in unpack_linked(packed) {
            let fr = e.frame as usize;
            if e.is_reg {
                if let Some(m) = self.regs.get_mut(fr) {
                    *m |= 1 << e.index;
                }
            } else {
                self.set_slot(fr, e.index as usize);
            }
        }
    }
}

/// `fmt_reg_mask`: `r1,r6`.
fn fmt_regs(m: u16) -> String {
    (0..10)
        .filter(|r| m & (1 << r) != 0)
        .map(|r| format!("r{r}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `fmt_stack_mask`: `-8,-16`.
fn fmt_stack(m: u64) -> String {
    (0..64)
        .filter(|s| m & (1u64 << s) != 0)
        .map(|s| format!("{}", -((s as i64 + 1) * BPF_REG_SIZE as i64)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Backtracking cannot follow this instruction (`-ENOTSUPP`).
struct NotSupported;

impl Env<'_> {
    /// Precision is tracked at all: a privileged loader (`bpf_capable`);
    /// without it every scalar is precise from the start.
    pub(crate) fn tracks_precision(&self) -> bool {
        self.opts.privileged
    }

    /// The history entry of the instruction at path position `pos`.
    fn hist_at(&self, pos: usize) -> Option<Hist> {
        let i = self.hist.partition_point(|(p, _)| *p < pos);
        match self.hist.get(i) {
            Some((p, h)) if *p == pos => Some(*h),
            _ => None,
        }
    }

    /// Records the history entry of the instruction being executed.
    pub(crate) fn push_hist(&mut self, h: Hist) {
        self.count_hist_entry();
        let pos = self.path.len().saturating_sub(1);
        match self.hist.last_mut() {
            Some((p, old)) if *p == pos => *old = h,
            _ => self.hist.push((pos, h)),
        }
    }

    /// `mark_chain_precision(env, regno)` for a scalar register of the
    /// current frame, called while the current instruction is processed.
    pub(crate) fn mark_chain_precision(&mut self, reg: usize) {
        if !self.tracks_precision() || !self.cur.reg(reg).is_scalar() {
            return;
        }
        let bt = Bt::at(self.cur.frames.len() - 1, 1 << reg, 0);
        self.backtrack_from(bt);
    }

    /// `mark_chain_precision` for a helper's argument register, after the
    /// call cleared it: the argument was checked to be a scalar.
    pub(crate) fn mark_chain_precision_before_call(&mut self, reg: usize) {
        if !self.tracks_precision() {
            return;
        }
        self.backtrack_from(Bt::at(self.cur.frames.len() - 1, 1 << reg, 0));
    }

    /// `bt_set_frame_slot` + `mark_chain_precision_batch`: the spilled
    /// scalar in stack slot `spi` of frame `frame` (the current one or a
    /// caller's), while the current instruction is processed.
    pub(crate) fn mark_stack_chain_precision(&mut self, frame: usize, spi: usize) {
        if !self.tracks_precision() {
            return;
        }
        let mut bt = Bt::at(self.cur.frames.len() - 1, 0, 0);
        if frame > bt.frame || !bt.set_slot(frame, spi) {
            self.mark_all_scalars_precise();
            return;
        }
        self.backtrack_from(bt);
    }

    /// `propagate_precision`: after the current state was found covered by
    /// the remembered state `old`, the registers and slots precise there
    /// are made precise along the current path too.
    pub(crate) fn propagate_precision(&mut self, old: usize) {
        let Some(e) = self.explored.get(old) else {
            return;
        };
        let st = &e.st;
        // A cleaned state's dead registers are NOT_INIT in the kernel
        // (clean_func_state): live before each frame's insn only.
        let live_at = |k: usize| -> u16 {
            if !e.cleaned {
                return u16::MAX;
            }
            let at = st.frames.get(k + 1).map_or(e.pc, |f| f.callsite);
            self.live.get(at).copied().unwrap_or(u16::MAX)
        };
        // Without CAP_BPF every scalar is precise: the kernel lists them,
        // then has nothing to walk (`!env->bpf_capable`).
        let all = !self.tracks_precision();
        // Frame by frame from the innermost, a log line each.
        let last = st.frames.len() - 1;
        let mut bt = Bt::at(self.cur.frames.len() - 1, 0, 0);
        let mut lines = String::new();
        let mut untracked = false;
        for (fr, f) in st.frames.iter().enumerate().rev() {
            let mut line = String::new();
            let live = live_at(fr);
            for (r, reg) in f.regs.iter().enumerate().take(10) {
                if reg.is_scalar() && (reg.precise || all) && live & (1 << r) != 0 {
                    match bt.regs.get_mut(fr) {
                        Some(m) => *m |= 1 << r,
                        None => untracked = true,
                    }
                    line.push_str(&if line.is_empty() {
                        format!("frame {fr}: propagating r{r}")
                    } else {
                        format!(",r{r}")
                    });
                }
            }
            for (spi, s) in f.stack.iter().enumerate() {
                if s.is_spill() && s.spilled.is_scalar() && (s.spilled.precise || all) {
                    if !bt.set_slot(fr, spi) {
                        untracked = true;
                    }
                    let off = -((spi as i64 + 1) * BPF_REG_SIZE as i64);
                    line.push_str(&if line.is_empty() {
                        format!("frame {fr}: propagating fp{off}")
                    } else {
                        format!(",fp{off}")
                    });
                }
            }
            if !line.is_empty() {
                lines.push_str(&line);
                lines.push('\n');
            }
        }
        if self.log2() {
            self.log.push_str(&lines);
        }
        if all {
            return;
        }
        if untracked || last != bt.frame {
            self.mark_all_scalars_precise();
            return;
        }
        if !bt.empty() {
            self.backtrack_from(bt);
        }
    }

    /// `__mark_chain_precision` from the current instruction with `bt`.
    #[allow(
        clippy::indexing_slicing,
        reason = "positions stay in self.path (last_pos starts at its last entry and only \
                  decreases, first_pos <= last_pos is checked before each step); states are \
                  indices of self.explored, which only grows during a verification; \
                  frames[frame] exists once the get_mut above found it"
    )]
    fn backtrack_from(&mut self, mut bt: Bt) {
        if self.path.is_empty() {
            return;
        }
        let mut state = self.cur_parent;
        let mut last_pos = self.path.len() - 1;
        let mut first_pos = state.map_or(0, |p| self.explored[p].pos);
        let mut subseq: i64 = -1;
        let mut skip_first = true;
        loop {
            if self.log2() {
                let s = format!(
                    "mark_precise: frame{}: last_idx {} first_idx {} subseq_idx {subseq} \n",
                    bt.frame, self.path[last_pos], self.path[first_pos]
                );
                self.log.push_str(&s);
            }
            let mut pos = last_pos;
            loop {
                if skip_first {
                    skip_first = false;
                } else if self.backtrack_insn(pos, &mut bt).is_err() {
                    self.mark_all_scalars_precise();
                    return;
                }
                if bt.empty() {
                    return;
                }
                if pos == first_pos {
                    break;
                }
                pos -= 1;
            }
            let Some(st) = state else { break };
            // The remembered state before `first_pos`: mark what is left,
            // frame by frame from the one the walk is in. A state with
            // fewer frames than that is before a callback's entry, whose
            // frame boundary is not followed here: force instead.
            if self.explored[st].st.frames.len() <= bt.frame {
                self.mark_all_scalars_precise();
                return;
            }
            for fr in (0..=bt.frame).rev() {
                let f = &mut self.explored[st].st.frames[fr];
                for r in 0..10 {
                    if bt.regs[fr] & (1 << r) == 0 {
                        continue;
                    }
                    let reg = &mut f.regs[r];
                    if reg.ty != RegType::Scalar || reg.precise {
                        bt.regs[fr] &= !(1 << r);
                    } else {
                        reg.precise = true;
                    }
                }
                for spi in 0..64usize {
                    if !bt.has_slot(fr, spi) {
                        continue;
                    }
                    match f.stack.get_mut(spi) {
                        Some(s) if s.is_spill() && s.spilled.is_scalar() => {
                            if s.spilled.precise {
                                bt.clear_slot(fr, spi);
                            } else {
                                s.spilled.precise = true;
                            }
                        }
                        _ => bt.clear_slot(fr, spi),
                    }
                }
                if self.log2() {
                    let mut s = format!(
                        "mark_precise: frame{fr}: parent state regs={} stack={}: ",
                        fmt_regs(bt.regs[fr]),
                        fmt_stack(bt.stack[fr])
                    );
                    let all = crate::state::Scratch::default();
                    self.explored[st].st.frames[fr].write(&mut s, true, &all, &self.maps);
                    self.explored[st].st.push_refs(&mut s);
                    s.push('\n');
                    self.log.push_str(&s);
                }
            }
            if bt.empty() {
                return;
            }
            subseq = self.path[first_pos] as i64;
            if first_pos == 0 {
                break;
            }
            last_pos = first_pos - 1;
            state = self.explored[st].parent;
            first_pos = state.map_or(0, |p| self.explored[p].pos);
            if first_pos > last_pos {
                break;
            }
        }
        if !bt.empty() {
            self.mark_all_scalars_precise();
        }
    }

    /// `backtrack_insn`: what the instruction at path position `pos` needs
    /// precise before it, given what is needed after it.
    fn backtrack_insn(&mut self, pos: usize, bt: &mut Bt) -> Result<(), NotSupported> {
        let idx = *self.path.get(pos).ok_or(NotSupported)? as usize;
        // The instruction run after this one on the path (`subseq_idx`).
        let subseq = self.path.get(pos + 1).map(|&i| i as usize);
        let insn = match self.decoded.get(idx) {
            Some(Some(Ok(i))) => *i,
            _ => return Err(NotSupported),
        };
        if self.log2() {
            let line = self.insn_line(idx);
            let text = line.split_once(": ").map_or(line.as_str(), |(_, t)| t);
            let s = format!(
                "mark_precise: frame{}: regs={} stack={} before {idx}: {text}\n",
                bt.frame,
                fmt_regs(bt.regs()),
                fmt_stack(bt.stack())
            );
            self.log.push_str(&s);
        }
        let hist = self.hist_at(pos);
        bt.sync_linked(hist);
        match insn {
            Insn::Alu { op, dst, src, .. } => {
                let d = dst.index();
                if !bt.has(d) {
                    return Ok(());
                }
                let mov = op == ironbpf_isa::AluOp::Mov;
                match src {
                    Operand::Reg(s) => {
                        if mov {
                            bt.clear(d);
                        }
                        if s.index() != 10 {
                            bt.set(s.index());
                        }
                    }
                    Operand::Imm(_) => {
                        if mov {
                            bt.clear(d);
                        }
                    }
                }
            }
            Insn::MovSx { dst, src, .. } => {
                if bt.has(dst.index()) {
                    bt.clear(dst.index());
                    if src.index() != 10 {
                        bt.set(src.index());
                    }
                }
            }
            Insn::Neg { .. } | Insn::Endian { .. } => {}
            Insn::Load { dst, .. } => {
                let d = dst.index();
                if !bt.has(d) {
                    return Ok(());
                }
                bt.clear(d);
                if let Some(Hist::Stack { frame, spi }) = hist {
                    if !bt.set_slot(frame as usize, spi as usize) {
                        return Err(NotSupported);
                    }
                }
            }
            Insn::Store { dst, .. } | Insn::StoreReg { dst, .. } => {
                if bt.has(dst.index()) {
                    return Err(NotSupported);
                }
                let Some(Hist::Stack { frame, spi }) = hist else {
                    return Ok(());
                };
                let (frame, spi) = (frame as usize, spi as usize);
                if !bt.has_slot(frame, spi) {
                    return Ok(());
                }
                bt.clear_slot(frame, spi);
                if let Insn::StoreReg { src, .. } = insn {
                    bt.set(src.index());
                }
            }
            Insn::Atomic { op, dst, src, .. } => {
                // A fetching atomic writes its source register (r0 for
                // cmpxchg) with the old memory value: when that register
                // is tracked, or the slot it works on, follow the kernel's
                // hammer rather than guess (sound: more precision).
                let fetched = match op {
                    AtomicOp::CmpXchg => Some(0),
                    AtomicOp::LoadAcquire => Some(src.index()),
                    o if o.fetches() => Some(src.index()),
                    _ => None,
                };
                if bt.has(dst.index()) || fetched.is_some_and(|r| bt.has(r)) {
                    return Err(NotSupported);
                }
                if let Some(Hist::Stack { frame, spi }) = hist {
                    if bt.has_slot(frame as usize, spi as usize) {
                        return Err(NotSupported);
                    }
                }
            }
            Insn::LdImm64 { dst, .. } => {
                bt.clear(dst.index());
            }
            Insn::LdAbs { .. } | Insn::LdInd { .. } => {
                if bt.has(0) {
                    return Err(NotSupported);
                }
            }
            Insn::Call(CallTarget::Helper(_))
            | Insn::Call(CallTarget::Kfunc { btf_id: 1.., .. }) => {
                if subseq.is_some_and(|n| n != idx + 1) {
                    // Walked back out of a callback the helper or kfunc
                    // ran (bpf_loop, ...): not followed here.
                    if !bt.empty() {
                        return Err(NotSupported);
                    }
                    return Ok(());
                }
                // A helper or kfunc sets r0 and clobbers r1-r5.
                bt.clear(0);
                if bt.regs() & ARGS != 0 {
                    return Err(NotSupported);
                }
            }
            Insn::Call(CallTarget::Local(imm))
                if self
                    .funcs
                    .is_global(self.cfg.subprog_of((idx as i64 + imm as i64 + 1) as usize)) =>
            {
                // A global function is not entered: it clobbers r1-r5 and
                // sets r0, as a helper does.
                bt.clear(0);
                if bt.regs() & ARGS != 0 {
                    return Err(NotSupported);
                }
            }
            Insn::Call(CallTarget::Local(_)) => {
                // Walked back from a static subprogram's first instruction
                // to its call: what is still needed are arguments, which
                // the caller set (r0, r6-r9 and slots of the callee's frame
                // would be a value from nowhere).
                if bt.regs() & !ARGS != 0 || bt.stack() != 0 || bt.frame == 0 {
                    return Err(NotSupported);
                }
                bt.exit_subprog();
            }
            Insn::Exit => {
                // Walked back from the instruction after a call into the
                // callee's exit: the return value (r0) is the callee's,
                // r6-r9 and the caller's slots stay with the caller. An
                // exit into a callback's caller is not followed here.
                let into_call = subseq
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|c| self.decoded.get(c))
                    .is_some_and(|d| matches!(d, Some(Ok(Insn::Call(CallTarget::Local(_))))));
                if !into_call {
                    if !bt.empty() {
                        return Err(NotSupported);
                    }
                    return Ok(());
                }
                if bt.regs() & ARGS != 0 || bt.frame + 1 >= FRAMES {
                    return Err(NotSupported);
                }
                let r0 = bt.has(0);
                bt.clear(0);
                bt.frame += 1;
                if r0 {
                    bt.set(0);
                }
            }
            Insn::Call(_) | Insn::Callx { .. } => {
                // Crossing a frame boundary: not followed here.
                if !bt.empty() {
                    return Err(NotSupported);
                }
            }
            Insn::Jmp { dst, src, .. } => {
                if let Operand::Reg(s) = src {
                    if bt.has(dst.index()) || bt.has(s.index()) {
                        bt.set(s.index());
                        bt.set(dst.index());
                    }
                }
            }
            Insn::Ja { .. } | Insn::Gotol { .. } | Insn::MayGoto { .. } => {}
        }
        bt.sync_linked(hist);
        Ok(())
    }

    /// `mark_all_scalars_precise`: every scalar of every remembered state
    /// on the current path becomes precise (the current state's need not).
    pub(crate) fn mark_all_scalars_precise(&mut self) {
        let log2 = self.log2();
        let mut node = self.cur_parent;
        let mut lines = String::new();
        if log2 {
            lines.push_str(&format!(
                "mark_precise: frame{}: falling back to forcing all scalars precise\n",
                self.cur.frames.len() - 1
            ));
        }
        while let Some(i) = node {
            let Some(e) = self.explored.get_mut(i) else {
                break;
            };
            let st = &mut e.st;
            for (fi, f) in st.frames.iter_mut().enumerate() {
                for (r, reg) in f.regs.iter_mut().enumerate().take(10) {
                    if reg.ty == RegType::Scalar && !reg.precise {
                        reg.precise = true;
                        if log2 {
                            lines.push_str(&format!(
                                "force_precise: frame{fi}: forcing r{r} to be precise\n"
                            ));
                        }
                    }
                }
                for (spi, s) in f.stack.iter_mut().enumerate() {
                    if s.is_spill() && s.spilled.ty == RegType::Scalar && !s.spilled.precise {
                        s.spilled.precise = true;
                        if log2 {
                            lines.push_str(&format!(
                                "force_precise: frame{fi}: forcing fp{} to be precise\n",
                                -((spi as i64 + 1) * BPF_REG_SIZE as i64)
                            ));
                        }
                    }
                }
            }
            node = e.parent;
        }
        self.log.push_str(&lines);
    }
}
