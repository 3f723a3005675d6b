//! Which stack slots a remembered state still needs: Linux 6.18's
//! call-chain sensitive stack liveness (kernel/bpf/liveness.c), our own
//! implementation of its rules.
//!
//! While paths are explored, each instruction records, per call chain (the
//! call sites leading to its subprogram) and per frame, the stack slots it
//! may read (the union over its visits) and the slots it must write (the
//! intersection: a slot written on every visit, by an aligned 8-byte store
//! or an iterator/dynptr slot). When a path ends, or a subprogram returns,
//! a backward data-flow over the subprogram gives each instruction the
//! slots live before it:
//!
//! ```text
//! live_before(i) = (∪ live_before(s) for s in successors(i) − must_write(i)) ∪ may_read(i)
//! ```
//!
//! and what a callee reads or always writes of its callers' frames is
//! handed to the call instruction of the caller's chain. A state whose
//! every continuation has been explored is then compared only on its live
//! slots ("cleaned"): the others are `STACK_INVALID` and match anything.
//!
//! This is what lets the kernel prune states that differ only in slots no
//! continuation reads (stale strings of a `bpf_trace_printk`, a key buffer
//! after its lookup), and ironbpf's processed-instruction counts follow it.
//! The static analysis it replaces (every call read every slot) kept such
//! slots alive and explored up to 10x the kernel's instructions
//! (ovs/datapath.o tail-32 of the corpus).

use std::collections::HashMap;

use ironbpf_isa::{Insn, IsaError};

use crate::state::VState;

/// `MAX_CALL_FRAMES`.
const MAX_FRAMES: usize = 8;

/// The call sites of a state's frames up to `depth` (`callsites[i]`: the
/// call instruction that made frame `i + 1`), and at `depth` the start of
/// the subprogram the frame runs: `struct callchain`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
struct Callchain {
    depth: u8,
    sites: [u32; MAX_FRAMES],
}

impl Callchain {
    /// The chain of `st`'s frame `frame`.
    fn of(st: &VState, frame: usize, starts: &[usize]) -> Callchain {
        let mut c = Callchain {
            depth: frame as u8,
            ..Default::default()
        };
        for i in 0..=frame.min(MAX_FRAMES - 1) {
            let site = if i < frame {
                st.frames.get(i + 1).map_or(0, |f| f.callsite)
            } else {
                st.frames
                    .get(i)
                    .and_then(|f| starts.get(f.subprog))
                    .copied()
                    .unwrap_or(0)
            };
            if let Some(s) = c.sites.get_mut(i) {
                *s = site as u32;
            }
        }
        c
    }

    /// The subprogram start the chain ends in.
    fn start(&self) -> usize {
        self.sites.get(self.depth as usize).copied().unwrap_or(0) as usize
    }

    /// The call site of frame `i + 1` (`i < depth`).
    fn site(&self, i: usize) -> usize {
        self.sites.get(i).copied().unwrap_or(0) as usize
    }
}

/// `struct per_frame_masks`: bit `spi` for the slot `fp-8*(spi+1)`.
#[derive(Clone, Copy, Default, Debug)]
struct Masks {
    /// Slots this instruction may read.
    may_read: u64,
    /// Slots this instruction writes on every visit.
    must_write: u64,
    /// Slots written by it or on every path after it, in its subprogram.
    must_write_acc: u64,
    /// Slots that may be read by it or after it.
    live_before: u64,
}

/// `struct func_instance`: the marks of one call chain's subprogram.
struct Instance {
    chain: Callchain,
    /// The subprogram start of each frame of the chain, for the chain one
    /// frame up.
    starts: [u32; MAX_FRAMES],
    /// The subprogram's first instruction and its length.
    first: usize,
    len: usize,
    /// Per frame of the chain, per instruction of the subprogram.
    frames: Vec<Option<Vec<Masks>>>,
    /// Per instruction: visited, so `must_write` is an intersection now.
    must_write_set: Vec<bool>,
    updated: bool,
    must_write_dropped: bool,
}

impl Instance {
    fn masks(&self, frame: usize, pc: usize) -> Option<&Masks> {
        let rel = pc.checked_sub(self.first)?;
        self.frames.get(frame)?.as_ref()?.get(rel)
    }

    fn masks_mut(&mut self, frame: usize, pc: usize) -> Option<&mut Masks> {
        let rel = pc.checked_sub(self.first)?;
        if rel >= self.len {
            return None;
        }
        let len = self.len;
        let f = self.frames.get_mut(frame)?;
        f.get_or_insert_with(|| vec![Masks::default(); len])
            .get_mut(rel)
    }

    fn live_before(&self, frame: usize, pc: usize, spi: usize) -> bool {
        spi < 64
            && self
                .masks(frame, pc)
                .is_some_and(|m| m.live_before >> spi & 1 != 0)
    }
}

/// The stack liveness of one verification (`struct bpf_liveness`).
pub(crate) struct StackLiveness {
    /// Subprogram starts (`cfg.subprogs`).
    starts: Vec<usize>,
    /// Per instruction, its successors within its subprogram
    /// (`bpf_insn_successors`).
    succs: Vec<[Option<u32>; 2]>,
    /// Per subprogram, its reachable instructions in postorder.
    postorder: Vec<Vec<u32>>,
    /// Per instruction: a prune point (its changes are logged at level 2).
    prune_point: Vec<bool>,
    /// Per instruction: it may end the program instead of going on (a tail
    /// call, `LD_ABS`/`LD_IND`), so what is written after it is not
    /// written on every path from it. (Measured against Linux 6.18: its
    /// `+written` marks stop at these instructions.)
    may_leave: Vec<bool>,
    instances: Vec<Instance>,
    by_chain: HashMap<Callchain, usize>,
    /// The instruction whose writes are being gathered, and the instance
    /// they go to (`None` once a call or return changed the frames).
    write_pc: usize,
    write_instance: Option<usize>,
    write_acc: [u64; MAX_FRAMES],
    /// The instance of the current state's chain, cached.
    cur: Option<(Callchain, usize)>,
}

/// The slots `[lo, hi)` (offsets from the frame pointer) cover.
pub(crate) fn slots_of(lo: i64, hi: i64) -> u64 {
    let mut m = 0u64;
    let mut a = lo.max(-512);
    while a < hi.min(0) {
        let spi = (-a - 1) / 8;
        if (0..64).contains(&spi) {
            m |= 1u64 << spi;
        }
        a += 1;
    }
    m
}

impl StackLiveness {
    pub(crate) fn new(
        decoded: &[Option<Result<Insn, IsaError>>],
        starts: &[usize],
        prune_point: &[bool],
    ) -> Self {
        let n = decoded.len();
        let end_of = |pc: usize| -> usize {
            match starts.binary_search(&pc) {
                Ok(i) => starts.get(i + 1).copied().unwrap_or(n),
                Err(i) => starts.get(i).copied().unwrap_or(n),
            }
        };
        let mut succs = vec![[None, None]; n];
        for (pc, d) in decoded.iter().enumerate() {
            let Some(Ok(insn)) = d else { continue };
            let target = |off: i64| -> Option<u32> {
                let t = pc as i64 + off + 1;
                (t >= 0 && (t as usize) < n).then_some(t as u32)
            };
            let next = |k: usize| (pc + k < n).then_some((pc + k) as u32);
            let s = match *insn {
                Insn::Exit => [None, None],
                Insn::Ja { off } => [target(off as i64), None],
                Insn::Gotol { imm } => [target(imm as i64), None],
                Insn::Jmp { off, .. } | Insn::MayGoto { off } => [next(1), target(off as i64)],
                Insn::LdImm64 { .. } => [next(2), None],
                _ => [next(1), None],
            };
            // Successors stay in the subprogram (check_cfg refused the rest).
            let end = end_of(pc);
            let first = starts
                .get(starts.partition_point(|&s| s <= pc).saturating_sub(1))
                .copied()
                .unwrap_or(0);
            if let Some(slot) = succs.get_mut(pc) {
                *slot = s.map(|t| t.filter(|&t| (first..end).contains(&(t as usize))));
            }
        }
        let may_leave = decoded
            .iter()
            .map(|d| {
                matches!(
                    d,
                    Some(Ok(Insn::LdAbs { .. }
                        | Insn::LdInd { .. }
                        | Insn::Call(ironbpf_isa::CallTarget::Helper(12))))
                )
            })
            .collect();
        // The kernel's prune points also cover a callback's call and the
        // ld_imm64 of a callback (`mark_prune_point` in `visit_insn`).
        let mut prune_point = prune_point.to_vec();
        for (pc, d) in decoded.iter().enumerate() {
            let callback = match d {
                Some(Ok(Insn::Call(ironbpf_isa::CallTarget::Helper(id)))) => {
                    crate::callbacks::is_sync_callback_helper(*id)
                }
                Some(Ok(Insn::Call(ironbpf_isa::CallTarget::Kfunc { btf_id, off: 0 }))) => {
                    crate::obj_new::is_rbtree_add_kfunc(*btf_id)
                }
                Some(Ok(Insn::LdImm64 { src, .. })) => *src == ironbpf_isa::LdImm64Src::Func,
                _ => false,
            };
            if callback {
                if let Some(p) = prune_point.get_mut(pc) {
                    *p = true;
                }
            }
        }
        let postorder = starts
            .iter()
            .map(|&start| postorder_from(start, &succs))
            .collect();
        StackLiveness {
            starts: starts.to_vec(),
            succs,
            postorder,
            prune_point,
            may_leave,
            instances: Vec::new(),
            by_chain: HashMap::new(),
            write_pc: 0,
            write_instance: None,
            write_acc: [0; MAX_FRAMES],
            cur: None,
        }
    }

    /// `__lookup_instance`: the instance of `chain`, made on first use.
    fn instance(&mut self, chain: Callchain, starts: [u32; MAX_FRAMES]) -> usize {
        if let Some(&i) = self.by_chain.get(&chain) {
            return i;
        }
        let first = chain.start();
        let sub = self
            .starts
            .partition_point(|&s| s <= first)
            .saturating_sub(1);
        let end = self
            .starts
            .get(sub + 1)
            .copied()
            .unwrap_or(self.succs.len());
        let len = end.saturating_sub(first);
        let i = self.instances.len();
        self.instances.push(Instance {
            chain,
            starts,
            first,
            len,
            frames: vec![None; chain.depth as usize + 1],
            must_write_set: vec![false; len],
            updated: false,
            must_write_dropped: false,
        });
        self.by_chain.insert(chain, i);
        i
    }

    /// The instance of `st`'s frame `frame`.
    fn instance_of(&mut self, st: &VState, frame: usize) -> usize {
        let chain = Callchain::of(st, frame, &self.starts);
        if frame + 1 == st.frames.len() {
            if let Some((c, i)) = self.cur {
                if c == chain {
                    return i;
                }
            }
        }
        let mut starts = [0u32; MAX_FRAMES];
        for (k, s) in starts.iter_mut().enumerate().take(frame + 1) {
            *s = st
                .frames
                .get(k)
                .and_then(|f| self.starts.get(f.subprog))
                .copied()
                .unwrap_or(0) as u32;
        }
        let i = self.instance(chain, starts);
        if frame + 1 == st.frames.len() {
            self.cur = Some((chain, i));
        }
        i
    }

    fn cur_frame(st: &VState) -> usize {
        st.frames.len().saturating_sub(1)
    }

    /// `bpf_reset_stack_write_marks`: the instruction at `pc` of the
    /// current state starts; its writes are gathered until [`Self::commit`].
    pub(crate) fn begin(&mut self, st: &VState, pc: usize) {
        let i = self.instance_of(st, Self::cur_frame(st));
        self.write_pc = pc;
        self.write_instance = Some(i);
        self.write_acc = [0; MAX_FRAMES];
    }

    /// `bpf_mark_stack_write`: the current instruction writes `mask` of
    /// frame `frame`.
    pub(crate) fn mark_write(&mut self, frame: usize, mask: u64) {
        if let Some(a) = self.write_acc.get_mut(frame) {
            *a |= mask;
        }
    }

    /// `bpf_mark_stack_read`: the instruction at `pc` of the current state
    /// may read `mask` of frame `frame`.
    pub(crate) fn mark_read(&mut self, st: &VState, frame: usize, pc: usize, mask: u64) {
        if mask == 0 {
            return;
        }
        let i = self.instance_of(st, Self::cur_frame(st));
        self.mark_read_in(i, frame, pc, mask);
    }

    fn mark_read_in(&mut self, i: usize, frame: usize, pc: usize, mask: u64) {
        let Some(inst) = self.instances.get_mut(i) else {
            return;
        };
        let Some(m) = inst.masks_mut(frame, pc) else {
            return;
        };
        let new = m.may_read | mask;
        let grows = new != m.may_read && (new | m.live_before) != m.live_before;
        m.may_read = new;
        if grows {
            inst.updated = true;
        }
    }

    /// `bpf_commit_stack_write_marks`: the instruction ended; what it
    /// wrote on this visit narrows what it writes on every visit. Nothing
    /// is committed when the instruction called or returned (the kernel
    /// forgets its current chain then).
    pub(crate) fn commit(&mut self, st: &VState) {
        let Some(i) = self.write_instance.take() else {
            return;
        };
        if self.cur.is_none_or(|(c, ci)| {
            ci != i || c != Callchain::of(st, Self::cur_frame(st), &self.starts)
        }) {
            return;
        }
        let (pc, acc) = (self.write_pc, self.write_acc);
        self.commit_to(i, pc, acc);
    }

    fn commit_to(&mut self, i: usize, pc: usize, acc: [u64; MAX_FRAMES]) {
        let Some(inst) = self.instances.get_mut(i) else {
            return;
        };
        let Some(rel) = pc.checked_sub(inst.first).filter(|&r| r < inst.len) else {
            return;
        };
        let set = inst.must_write_set.get(rel).copied().unwrap_or(false);
        for (frame, &mask) in acc.iter().enumerate().take(inst.chain.depth as usize + 1) {
            if mask == 0 && !set {
                continue;
            }
            let Some(m) = inst.masks_mut(frame, pc) else {
                continue;
            };
            let old = m.must_write;
            let new = if set { mask & old } else { mask };
            if old != new {
                m.must_write = new;
                inst.updated = true;
            }
            if old & !new != 0 {
                inst.must_write_dropped = true;
            }
        }
        if let Some(s) = inst.must_write_set.get_mut(rel) {
            *s = true;
        }
    }

    /// `bpf_update_live_stack`: a path ended or a subprogram returns; the
    /// marks of `st`'s chains, innermost first, are propagated.
    /// At log level 2 (`log`), each change of an instruction's masks is
    /// logged as the kernel logs it.
    pub(crate) fn update(&mut self, st: &VState, mut log: Option<&mut String>) {
        self.cur = None;
        self.write_instance = None;
        for frame in (0..st.frames.len().min(MAX_FRAMES)).rev() {
            let i = self.instance_of(st, frame);
            if self.instances.get(i).is_some_and(|x| x.updated) {
                self.update_instance(i, log.as_deref_mut());
                if let Some(x) = self.instances.get_mut(i) {
                    x.updated = false;
                    x.must_write_dropped = false;
                }
            }
        }
        self.cur = None;
    }

    /// `update_instance`: the fixed point of `live_before` and
    /// `must_write_acc` over the subprogram, then the marks of the outer
    /// frames handed to the caller's chain at the call site.
    fn update_instance(&mut self, i: usize, mut log: Option<&mut String>) {
        let Some(inst) = self.instances.get_mut(i) else {
            return;
        };
        if inst.must_write_dropped {
            for m in inst.frames.iter_mut().flatten().flatten() {
                m.must_write_acc = 0;
            }
        }
        let sub = self
            .starts
            .partition_point(|&s| s <= inst.first)
            .saturating_sub(1);
        let Some(order) = self.postorder.get(sub) else {
            return;
        };
        let chain = fmt_chain(&inst.chain);
        let mut iterations = 0;
        loop {
            iterations += 1;
            let mut changed = false;
            for frame in 0..inst.frames.len() {
                let Some(Some(ms)) = inst.frames.get_mut(frame) else {
                    continue;
                };
                for &pc in order {
                    let pc = pc as usize;
                    let leaves = self.may_leave.get(pc) == Some(&true);
                    let step = update_insn(ms, inst.first, pc, &self.succs, leaves);
                    if let Some((changed_here, old, new)) = step {
                        changed |= changed_here;
                        let noted = old.may_read != 0
                            || old.must_write != 0
                            || pc == inst.first
                            || self.prune_point.get(pc) == Some(&true);
                        if let Some(l) = log.as_deref_mut().filter(|_| noted) {
                            let (f, c) = (frame, chain.as_str());
                            log_change(l, c, f, pc, "live", old.live_before, new.live_before);
                            let (o, n) = (old.must_write_acc, new.must_write_acc);
                            log_change(l, c, f, pc, "written", o, n);
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        if let Some(l) = log {
            l.push_str(&format!(
                "{chain} live stack update done in {iterations} iterations\n"
            ));
        }
        if inst.chain.depth == 0 {
            return;
        }
        // propagate_to_outer_instance
        let depth = inst.chain.depth as usize;
        let callsite = inst.chain.site(depth - 1);
        let first = inst.first;
        let mut up = inst.chain;
        up.depth -= 1;
        if let Some(s) = up.sites.get_mut(depth) {
            *s = 0;
        }
        let outer_start = inst.starts.get(depth - 1).copied().unwrap_or(0);
        if let Some(s) = up.sites.get_mut(depth - 1) {
            *s = outer_start;
        }
        let mut starts = inst.starts;
        if let Some(s) = starts.get_mut(depth) {
            *s = 0;
        }
        let entry: Vec<(usize, Masks)> = (0..depth)
            .filter_map(|f| inst.masks(f, first).map(|m| (f, *m)))
            .collect();
        let outer = self.instance(up, starts);
        let mut acc = [0u64; MAX_FRAMES];
        for &(f, m) in &entry {
            if let Some(a) = acc.get_mut(f) {
                *a |= m.must_write_acc;
            }
            self.mark_read_in(outer, f, callsite, m.live_before);
        }
        self.commit_to(outer, callsite, acc);
    }

    /// `bpf_stack_slot_alive` for every slot of every frame of `st` (a
    /// state at its instruction `pc`): bit `spi` of entry `k` is set when
    /// frame `k`'s slot may still be read. `calls_callback(site)`: the call
    /// at `site` is a helper's that calls a callback (the callback runs
    /// again: the slots live before the call count).
    pub(crate) fn alive(
        &mut self,
        st: &VState,
        pc: usize,
        calls_callback: impl Fn(usize) -> bool,
    ) -> Vec<u64> {
        let cur = Self::cur_frame(st);
        let insts: Vec<usize> = (0..=cur).map(|f| self.instance_of(st, f)).collect();
        let chain = Callchain::of(st, cur, &self.starts);
        (0..=cur)
            .map(|k| {
                let mut m = 0u64;
                for spi in 0..64 {
                    let inst = |f: usize| insts.get(f).and_then(|&i| self.instances.get(i));
                    let mut alive = inst(cur).is_some_and(|x| x.live_before(k, pc, spi));
                    for f in k..cur {
                        if alive {
                            break;
                        }
                        let site = chain.site(f);
                        let at = if calls_callback(site) { site } else { site + 1 };
                        alive = inst(f).is_some_and(|x| x.live_before(k, at, spi));
                    }
                    if alive {
                        m |= 1 << spi;
                    }
                }
                m
            })
            .collect()
    }
}

/// `update_insn`: one step of the data-flow at `pc` (an instruction of the
/// subprogram starting at `first`): whether its masks changed, with its
/// masks before and after; `None` for an instruction without successors
/// (left as it is).
fn update_insn(
    ms: &mut [Masks],
    first: usize,
    pc: usize,
    succs: &[[Option<u32>; 2]],
    leaves: bool,
) -> Option<(bool, Masks, Masks)> {
    let ss = succs.get(pc)?;
    let mut after = 0u64;
    let mut acc = u64::MAX;
    let mut any = false;
    for s in ss.iter().flatten() {
        let Some(m) = (*s as usize).checked_sub(first).and_then(|r| ms.get(r)) else {
            continue;
        };
        any = true;
        after |= m.live_before;
        acc &= m.must_write_acc;
    }
    if !any {
        return None;
    }
    let m = pc.checked_sub(first).and_then(|r| ms.get_mut(r))?;
    let old = *m;
    let acc = if leaves {
        m.must_write
    } else {
        acc | m.must_write
    };
    let before = (after & !m.must_write) | m.may_read;
    let changed = before != m.live_before || acc != m.must_write_acc;
    m.live_before = before;
    m.must_write_acc = acc;
    Some((changed, old, *m))
}

/// `(0,7)`: the call sites and the subprogram start of a chain.
fn fmt_chain(c: &Callchain) -> String {
    let sites: Vec<String> = (0..=c.depth as usize)
        .map(|i| c.sites.get(i).copied().unwrap_or(0).to_string())
        .collect();
    format!("({})", sites.join(","))
}

/// `-8,-16`: the slots of a mask as frame-pointer offsets.
fn fmt_mask(m: u64) -> String {
    let offs: Vec<String> = (0..64)
        .filter(|spi| m >> spi & 1 != 0)
        .map(|spi| format!("-{}", (spi + 1) * 8))
        .collect();
    offs.join(",")
}

/// `log_mask_change`: `(0) frame 0 insn 5 +live -8 -live -16`.
fn log_change(
    log: &mut String,
    chain: &str,
    frame: usize,
    pc: usize,
    what: &str,
    old: u64,
    new: u64,
) {
    let changed = old ^ new;
    if changed == 0 {
        return;
    }
    log.push_str(&format!("{chain} frame {frame} insn {pc} "));
    if new & changed != 0 {
        log.push_str(&format!("+{what} {} ", fmt_mask(new & changed)));
    }
    if !new & changed != 0 {
        log.push_str(&format!("-{what} {}", fmt_mask(!new & changed)));
    }
    log.push('\n');
}

/// The instructions reachable from `start` in the postorder the kernel's
/// `compute_postorder` gives: a stack walk that pushes every successor not
/// seen yet (the fall-through, then the jump target, so the target is
/// walked first) and emits an instruction when it is popped after its
/// successors. The data-flow's result does not depend on the order, but
/// the level-2 log's `+live` lines come in it.
fn postorder_from(start: usize, succs: &[[Option<u32>; 2]]) -> Vec<u32> {
    const DISCOVERED: u8 = 1;
    const EXPLORED: u8 = 2;
    let mut state = vec![0u8; succs.len()];
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(&top) = stack.last() {
        let Some(st) = state.get_mut(top) else {
            stack.pop();
            continue;
        };
        *st |= DISCOVERED;
        if *st & EXPLORED != 0 {
            out.push(top as u32);
            stack.pop();
            continue;
        }
        *st |= EXPLORED;
        for s in succs.get(top).into_iter().flatten().flatten() {
            let s = *s as usize;
            if let Some(ss) = state.get_mut(s).filter(|ss| **ss == 0) {
                *ss |= DISCOVERED;
                stack.push(s);
            }
        }
    }
    out
}
