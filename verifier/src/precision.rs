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
    /// registers and stack slots of the current frame (`linked_regs`).
    Linked { regs: u16, stack: u64 },
}

/// The registers and stack slots still to be found, for one frame
/// (`struct backtrack_state`).
#[derive(Clone, Copy, Debug, Default)]
struct Bt {
    regs: u16,
    stack: u64,
}

impl Bt {
    fn empty(&self) -> bool {
        self.regs == 0 && self.stack == 0
    }
    fn has(&self, r: usize) -> bool {
        self.regs & (1 << r) != 0
    }
    fn set(&mut self, r: usize) {
        if r < 10 {
            self.regs |= 1 << r;
        }
    }
    fn clear(&mut self, r: usize) {
        self.regs &= !(1 << r);
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
        let bt = Bt {
            regs: 1 << reg,
            stack: 0,
        };
        self.backtrack_from(bt);
    }

    /// `mark_chain_precision` for a helper's argument register, after the
    /// call cleared it: the argument was checked to be a scalar.
    pub(crate) fn mark_chain_precision_before_call(&mut self, reg: usize) {
        if !self.tracks_precision() {
            return;
        }
        self.backtrack_from(Bt {
            regs: 1 << reg,
            stack: 0,
        });
    }

    /// `bt_set_frame_slot` + `mark_chain_precision_batch`: the spilled
    /// scalar in stack slot `spi` of frame `frame`, while the current
    /// instruction is processed. Only the current frame's slots are walked
    /// back; a caller's slot takes the big hammer.
    pub(crate) fn mark_stack_chain_precision(&mut self, frame: usize, spi: usize) {
        if !self.tracks_precision() {
            return;
        }
        if frame + 1 != self.cur.frames.len() || spi >= 64 {
            self.mark_all_scalars_precise();
            return;
        }
        self.backtrack_from(Bt {
            regs: 0,
            stack: 1u64 << spi,
        });
    }

    /// `propagate_precision`: after the current state was found covered by
    /// the remembered state `old`, the registers and slots precise there
    /// are made precise along the current path too.
    pub(crate) fn propagate_precision(&mut self, old: usize) {
        if !self.tracks_precision() {
            return;
        }
        let Some(st) = self.explored.get(old).map(|e| &e.st) else {
            return;
        };
        // Only the innermost frame is walked precisely; precise values in
        // the callers' frames of a remembered state mean the callers'
        // paths are not followed here: force them.
        let last = st.frames.len() - 1;
        let mut bt = Bt::default();
        let mut line = String::new();
        let mut outer = false;
        for (fr, f) in st.frames.iter().enumerate() {
            for (r, reg) in f.regs.iter().enumerate().take(10) {
                if reg.is_scalar() && reg.precise {
                    if fr == last {
                        bt.set(r);
                    } else {
                        outer = true;
                    }
                    if self.log2() {
                        if line.is_empty() {
                            line = format!("frame {fr}: propagating r{r}");
                        } else {
                            line.push_str(&format!(",r{r}"));
                        }
                    }
                }
            }
            for (spi, s) in f.stack.iter().enumerate() {
                if s.is_spill() && s.spilled.is_scalar() && s.spilled.precise {
                    if fr == last && spi < 64 {
                        bt.stack |= 1u64 << spi;
                    } else {
                        outer = true;
                    }
                    if self.log2() {
                        let off = -((spi as i64 + 1) * BPF_REG_SIZE as i64);
                        if line.is_empty() {
                            line = format!("frame {fr}: propagating fp{off}");
                        } else {
                            line.push_str(&format!(",fp{off}"));
                        }
                    }
                }
            }
        }
        if !line.is_empty() {
            self.log.push_str(&line);
            self.log.push('\n');
        }
        if outer {
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
        let frame = self.cur.frames.len() - 1;
        let mut state = self.cur_parent;
        let mut last_pos = self.path.len() - 1;
        let mut first_pos = state.map_or(0, |p| self.explored[p].pos);
        let mut subseq: i64 = -1;
        let mut skip_first = true;
        loop {
            if self.log2() {
                let s = format!(
                    "mark_precise: frame{frame}: last_idx {} first_idx {} subseq_idx {subseq} \n",
                    self.path[last_pos], self.path[first_pos]
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
            // The remembered state before `first_pos`: mark what is left.
            // One with fewer frames is before the entry of a callback,
            // whose frame boundary is not followed here: force instead.
            let Some(f) = self.explored[st].st.frames.get_mut(frame) else {
                self.mark_all_scalars_precise();
                return;
            };
            for r in 0..10 {
                if !bt.has(r) {
                    continue;
                }
                let reg = &mut f.regs[r];
                if reg.ty != RegType::Scalar || reg.precise {
                    bt.clear(r);
                } else {
                    reg.precise = true;
                }
            }
            for spi in 0..64usize {
                if bt.stack & (1u64 << spi) == 0 {
                    continue;
                }
                match f.stack.get_mut(spi) {
                    Some(s) if s.is_spill() && s.spilled.is_scalar() => {
                        if s.spilled.precise {
                            bt.stack &= !(1u64 << spi);
                        } else {
                            s.spilled.precise = true;
                        }
                    }
                    _ => bt.stack &= !(1u64 << spi),
                }
            }
            if self.log2() {
                let mut s = format!(
                    "mark_precise: frame{frame}: parent state regs={} stack={}: ",
                    fmt_regs(bt.regs),
                    fmt_stack(bt.stack)
                );
                let all = crate::state::Scratch::default();
                self.explored[st].st.frames[frame].write(&mut s, true, &all, &self.maps);
                s.push('\n');
                self.log.push_str(&s);
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
        let insn = match self.decoded.get(idx) {
            Some(Some(Ok(i))) => *i,
            _ => return Err(NotSupported),
        };
        if self.log2() {
            let frame = self.cur.frames.len() - 1;
            let line = self.insn_line(idx);
            let text = line.split_once(": ").map_or(line.as_str(), |(_, t)| t);
            let s = format!(
                "mark_precise: frame{frame}: regs={} stack={} before {idx}: {text}\n",
                fmt_regs(bt.regs),
                fmt_stack(bt.stack)
            );
            self.log.push_str(&s);
        }
        let hist = self.hist_at(pos);
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
                if let Some(Hist::Stack { spi, .. }) = hist {
                    if spi < 64 {
                        bt.stack |= 1u64 << spi;
                    } else {
                        return Err(NotSupported);
                    }
                }
            }
            Insn::Store { dst, .. } | Insn::StoreReg { dst, .. } => {
                if bt.has(dst.index()) {
                    return Err(NotSupported);
                }
                let Some(Hist::Stack { spi, .. }) = hist else {
                    return Ok(());
                };
                if spi >= 64 || bt.stack & (1u64 << spi) == 0 {
                    return Ok(());
                }
                bt.stack &= !(1u64 << spi);
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
                if let Some(Hist::Stack { spi, .. }) = hist {
                    if spi < 64 && bt.stack & (1u64 << spi) != 0 {
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
                // A helper or kfunc sets r0 and clobbers r1-r5.
                bt.clear(0);
                if bt.regs & 0b11_1110 != 0 {
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
                if bt.regs & 0b11_1110 != 0 {
                    return Err(NotSupported);
                }
            }
            Insn::Call(_) | Insn::Callx { .. } | Insn::Exit => {
                // Crossing a frame boundary: not followed here.
                if !bt.empty() {
                    return Err(NotSupported);
                }
            }
            Insn::Jmp { dst, src, .. } => {
                if let Some(Hist::Linked { regs, stack }) = hist {
                    if bt.regs & regs != 0 || bt.stack & stack != 0 {
                        bt.regs |= regs;
                        bt.stack |= stack;
                    }
                }
                if let Operand::Reg(s) = src {
                    if bt.has(dst.index()) || bt.has(s.index()) {
                        bt.set(s.index());
                        bt.set(dst.index());
                    }
                }
            }
            Insn::Ja { .. } | Insn::Gotol { .. } | Insn::MayGoto { .. } => {}
        }
        Ok(())
    }

    /// `mark_all_scalars_precise`: every scalar of every remembered state
    /// on the current path becomes precise (the current state's need not).
    pub(crate) fn mark_all_scalars_precise(&mut self) {
        let log2 = self.log2();
        let mut node = self.cur_parent;
        let mut lines = String::new();
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
