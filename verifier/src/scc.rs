//! The strongly connected components of the instruction graph, as Linux
//! 6.18's `compute_scc` numbers them, and the bookkeeping of their visits
//! that the level-2 log shows (`SCC enter (1)`, `SCC backedge (1)`,
//! `SCC exit (1)`).
//!
//! A component gets a number (from 1, in the order Tarjan's algorithm
//! completes them, walking from each instruction in turn) when it has two
//! or more instructions or a jump to itself; the `Live regs before insn:`
//! listing prints it before the instruction.
//!
//! A verifier state in a loop belongs to a *callchain*: the call sites of
//! its frames down to the first frame whose instruction is in a component,
//! and that component. The first checkpoint of a path in a callchain is
//! its visit's entry; a loop hit (`may_goto` at another depth) is a
//! back-edge of the visit; when the entry's last branch ends, the visit is
//! left and its back-edges are freed (they count in `peak_states` while
//! they live).
//!
//! While a visit has back-edges, its fully explored states are compared
//! with every scalar's range (`RANGE_WITHIN`, `incomplete_read_marks`),
//! and a hit on one is a back-edge too.
//!
//! Not modelled: `propagate_backedges`' precision marks (the hit's
//! precision is propagated at once, `crate::may_goto`).

use ironbpf_isa::opcode::*;
use ironbpf_isa::RawInsn;

/// The successors of `pc` in the control-flow graph (`insn_successors`):
/// a call, helper or subprogram, goes on to the next instruction.
fn successors(insns: &[RawInsn], pc: usize) -> Vec<usize> {
    let Some(&i) = insns.get(pc) else {
        return Vec::new();
    };
    let c = class(i.code);
    let next = pc
        + if i.code == (BPF_LD | BPF_IMM | BPF_DW) {
            2
        } else {
            1
        };
    let rel = |off: i64| (pc as i64 + off + 1) as usize;
    let v = if c != BPF_JMP && c != BPF_JMP32 {
        vec![next]
    } else {
        match i.code & 0xf0 {
            BPF_EXIT => vec![],
            BPF_CALL => vec![next],
            BPF_JA if c == BPF_JMP32 => vec![rel(i.imm as i64)],
            BPF_JA => vec![rel(i.off as i64)],
            _ => vec![next, rel(i.off as i64)],
        }
    };
    v.into_iter().filter(|&s| s < insns.len()).collect()
}

/// `compute_scc`: the component number of each instruction, 0 outside
/// every loop. `skip[pc]` marks the second slots of `ld_imm64`.
#[allow(
    clippy::indexing_slicing,
    reason = "every vertex is an instruction index below n (successors drops targets past the \
              program), and pre, low, on_stack and scc have n entries"
)]
pub(crate) fn compute_scc(insns: &[RawInsn], skip: &[bool]) -> Vec<u32> {
    let n = insns.len();
    let mut pre = vec![0u32; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut scc = vec![0u32; n];
    let mut next_pre = 1u32;
    let mut next_scc = 1u32;
    for root in 0..n {
        if pre[root] != 0 || skip.get(root).copied().unwrap_or(false) {
            continue;
        }
        // (vertex, its successors, the next successor to look at)
        let mut dfs: Vec<(usize, Vec<usize>, usize)> = Vec::new();
        pre[root] = next_pre;
        low[root] = next_pre;
        next_pre += 1;
        stack.push(root);
        on_stack[root] = true;
        dfs.push((root, successors(insns, root), 0));
        while let Some((w, succ, k)) = dfs.last_mut() {
            let w = *w;
            if *k < succ.len() {
                let t = succ[*k];
                *k += 1;
                if pre[t] == 0 {
                    pre[t] = next_pre;
                    low[t] = next_pre;
                    next_pre += 1;
                    stack.push(t);
                    on_stack[t] = true;
                    dfs.push((t, successors(insns, t), 0));
                } else if on_stack[t] {
                    low[w] = low[w].min(pre[t]);
                }
                continue;
            }
            let self_loop = succ.contains(&w);
            dfs.pop();
            if let Some((parent, _, _)) = dfs.last() {
                low[*parent] = low[*parent].min(low[w]);
            }
            if low[w] != pre[w] {
                continue;
            }
            // w is the root of a component: pop it.
            let assign = stack.last() != Some(&w) || self_loop;
            // The component's vertices are on the stack, w deepest.
            while let Some(t) = stack.pop() {
                on_stack[t] = false;
                if assign {
                    scc[t] = next_scc;
                }
                if t == w {
                    break;
                }
            }
            if assign {
                next_scc += 1;
            }
        }
    }
    scc
}

/// One visit of a callchain (`struct bpf_scc_visit`).
#[derive(Clone, Debug)]
struct Visit {
    chain: Vec<u32>,
    /// The remembered state that entered it, while the visit lasts.
    entry: Option<usize>,
    backedges: u64,
}

/// The component of each instruction and the visits so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct SccTracker {
    pub scc: Vec<u32>,
    visits: Vec<Visit>,
    /// Back-edges not yet freed (`num_backedges`), for `peak_states`.
    pub live_backedges: u64,
}

/// `format_callchain`: `(callsite,...,scc)`; the kernel stops at a call
/// site 0 (it takes 0 for the end of the list), so a call from insn 0 and
/// what follows it are not printed.
fn format_chain(chain: &[u32]) -> String {
    let Some((scc, sites)) = chain.split_last() else {
        return String::from("()");
    };
    let mut out = String::from("(");
    for s in sites.iter().take_while(|&&s| s != 0) {
        out.push_str(&format!("{s},"));
    }
    out.push_str(&format!("{scc})"));
    out
}

impl SccTracker {
    pub(crate) fn new(insns: &[RawInsn], skip: &[bool]) -> SccTracker {
        SccTracker {
            scc: compute_scc(insns, skip),
            ..SccTracker::default()
        }
    }

    /// `compute_scc_callchain` of a state at `pc` whose frames were called
    /// from `callsites` (frame 1's call site first).
    pub(crate) fn callchain(&self, callsites: &[usize], pc: usize) -> Option<Vec<u32>> {
        let mut chain = Vec::new();
        for i in 0..=callsites.len() {
            let insn = callsites.get(i).copied().unwrap_or(pc);
            let s = self.scc.get(insn).copied().unwrap_or(0);
            if s != 0 {
                chain.push(s);
                return Some(chain);
            }
            if i < callsites.len() {
                chain.push(insn as u32);
            }
        }
        None
    }

    /// `maybe_enter_scc` for the state remembered as `idx`: the log line
    /// when it enters its callchain's visit.
    pub(crate) fn enter(&mut self, chain: Vec<u32>, idx: usize) -> Option<String> {
        let at = match self.visits.iter().position(|v| v.chain == chain) {
            Some(i) => i,
            None => {
                self.visits.push(Visit {
                    chain,
                    entry: None,
                    backedges: 0,
                });
                self.visits.len() - 1
            }
        };
        let v = self.visits.get_mut(at)?;
        if v.entry.is_some() {
            return None;
        }
        v.entry = Some(idx);
        Some(format!("SCC enter {}\n", format_chain(&v.chain)))
    }

    /// `add_scc_backedge`: a loop hit in `chain`'s visit.
    pub(crate) fn backedge(&mut self, chain: &[u32]) -> Option<String> {
        let v = self.visits.iter_mut().find(|v| v.chain == chain)?;
        v.backedges += 1;
        self.live_backedges += 1;
        Some(format!("SCC backedge {}\n", format_chain(&v.chain)))
    }

    /// Whether `chain`'s visit has back-edges.
    pub(crate) fn has_backedges(&self, chain: &[u32]) -> bool {
        self.visits
            .iter()
            .any(|v| v.chain == chain && v.backedges > 0)
    }

    /// `maybe_exit_scc` when remembered state `idx` has no branch left.
    pub(crate) fn exit(&mut self, idx: usize) -> Option<String> {
        let v = self.visits.iter_mut().find(|v| v.entry == Some(idx))?;
        v.entry = None;
        self.live_backedges -= v.backedges;
        v.backedges = 0;
        Some(format!("SCC exit {}\n", format_chain(&v.chain)))
    }

    /// Every visit left (a new pass over a global function).
    pub(crate) fn reset(&mut self) {
        self.visits.clear();
        self.live_backedges = 0;
    }
}

impl crate::check::Env<'_> {
    /// The call sites of the current state's frames, frame 1's first.
    fn callsites(st: &crate::state::VState) -> Vec<usize> {
        st.frames.iter().skip(1).map(|f| f.callsite).collect()
    }

    /// `maybe_enter_scc` for the state just remembered as `idx` at `pc`.
    pub(crate) fn maybe_enter_scc(&mut self, idx: usize, pc: usize) {
        let sites = Self::callsites(&self.cur);
        if let Some(chain) = self.scc.callchain(&sites, pc) {
            if let Some(line) = self.scc.enter(chain, idx) {
                if self.log2() {
                    self.log.push_str(&line);
                }
            }
        }
    }

    /// `incomplete_read_marks`: remembered state `idx` at `pc` is in a
    /// loop whose visit has back-edges not yet propagated.
    pub(crate) fn incomplete_read_marks(&self, idx: usize, pc: usize) -> bool {
        let Some(e) = self.explored.get(idx) else {
            return false;
        };
        let sites = Self::callsites(&e.st);
        self.scc
            .callchain(&sites, pc)
            .is_some_and(|c| self.scc.has_backedges(&c))
    }

    /// `add_scc_backedge`: the current state at `pc` was found covered by
    /// remembered state `idx` of the same loop.
    pub(crate) fn note_backedge(&mut self, idx: usize, pc: usize) {
        let Some(e) = self.explored.get(idx) else {
            return;
        };
        let sites = Self::callsites(&e.st);
        let Some(chain) = self.scc.callchain(&sites, pc) else {
            return;
        };
        if let Some(line) = self.scc.backedge(&chain) {
            if self.log2() {
                self.log.push_str(&line);
            }
            self.note_peak_states();
        }
    }
}
