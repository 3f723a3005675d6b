//! The exploration loop (`do_check`): one path at a time, a stack of
//! pending branches, dead edges skipped with `is_branch_taken`, both edges
//! refined, states remembered at prune points and paths cut when an
//! explored state covers them, and the kernel's level-1/level-2 log.

use crate::cfg::{libc_errno::*, Cfg};
/// No space left: the log outgrew its cap.
const ENOSPC: i32 = 28;
use crate::error::RejectionKind;
use crate::scalar::Scalar;
use crate::state::*;
use crate::{branch, Rejection, Stats, VerifiedProgram, VerifyOptions};
use ironbpf_isa::{AluOp, Insn, IsaError, JmpOp, LdImm64Src, Operand, RawInsn, Width};
use ironbpf_progtype::desc::ProgTypeDesc;
use std::collections::HashMap;

/// `BPF_COMPLEXITY_LIMIT_INSNS`.
pub const BPF_COMPLEXITY_LIMIT_INSNS: u64 = 1_000_000;
/// Where the log's map addresses start: map `i` is at `FAKE_MAP_BASE +
/// (i << 12)`, a kernel-looking address the log normalisers recognise.
const FAKE_MAP_BASE: u64 = 0xffff_8881_0000_0000;
/// A map's value starts this far into its stand-in address.
const FAKE_MAP_VALUE_OFF: u64 = 0x100;
/// `BPF_COMPLEXITY_LIMIT_JMP_SEQ`.
pub const BPF_COMPLEXITY_LIMIT_JMP_SEQ: usize = 8192;
/// ironbpf's cap on the states it remembers at prune points. The kernel
/// has none for privileged programs, but its rule for adding one (two
/// jumps and eight insns since the last) keeps a program under the 1M
/// insn limit below 125,000; the cap only bounds the memory of a program
/// that would otherwise reach it some other way.
pub const MAX_STORED_STATES: u64 = 131_072;
/// ironbpf's cap on the verifier log: 256 MiB (the kernel's own cap is the
/// caller's buffer). Past it, as the kernel does with a full buffer, the
/// verifier goes on to its verdict and then refuses with ENOSPC.
pub const MAX_LOG_BYTES: usize = 256 << 20;

pub(crate) type VResult<T = ()> = Result<T, Rejection>;

/// A branch waiting to be explored (`struct bpf_verifier_stack_elem`).
struct Pending {
    st: VState,
    insn: usize,
    prev: usize,
    log_pos: usize,
    parent: Option<usize>,
    /// The length of [`Env::path`] when the branch was queued (the jump's
    /// own index included).
    path_len: usize,
    /// [`Env::hist_cnt`] then (the kernel copies the history).
    hist_cnt: usize,
}

/// A remembered state at a prune point (`struct bpf_verifier_state_list`).
pub(crate) struct Explored {
    /// The state before its instruction (precision marks are added to it
    /// later by backtracking).
    pub st: VState,
    /// Its position in [`Env::path`] (the path index of its instruction).
    pub pos: usize,
    /// Its instruction.
    pub pc: usize,
    /// Paths still being explored below it (0: every continuation is safe).
    branches: u32,
    hits: u32,
    misses: u32,
    evicted: bool,
    /// Its dead stack slots were made `STACK_INVALID` (`cleaned`).
    pub(crate) cleaned: bool,
    /// The remembered state the path came through before this one.
    pub parent: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ConstTrack {
    Unseen,
    Const(u64),
    Varies,
}

/// The verifier's environment (`struct bpf_verifier_env`).
pub(crate) struct Env<'a> {
    pub insns: &'a [RawInsn],
    pub decoded: Vec<Option<Result<Insn, IsaError>>>,
    pub opts: &'a VerifyOptions,
    /// The program's maps, then the inner-map template of each (at
    /// `maps.len() + i` for map `i`), so registers name either by index.
    pub maps: Vec<crate::MapInfo>,
    pub desc: Option<&'a ProgTypeDesc>,
    pub cfg: Cfg,
    pub log: String,
    pub cur: VState,
    pub pc: usize,
    pub id_gen: u32,
    pub scratch: Scratch,
    /// Everything since the start of a path or a pop is to be printed.
    pub scratch_all: bool,
    pub stack_depth: Vec<u32>,
    pending: Vec<Pending>,
    pub(crate) explored: Vec<Explored>,
    by_insn: HashMap<usize, Vec<usize>>,
    /// The last remembered state on the current path.
    pub(crate) cur_parent: Option<usize>,
    /// What the jump history keeps per path position (sorted), for
    /// backtracking (`crate::precision`).
    pub(crate) hist: Vec<(usize, crate::precision::Hist)>,
    /// The kernel's jump-history entries of the current state since its
    /// last checkpoint (`jmp_history_cnt`): one per executed insn that is
    /// a jump point or left a [`Hist`](crate::precision::Hist) entry. Past
    /// 40 a checkpoint is forced.
    pub(crate) hist_cnt: usize,
    /// The path position last counted in `hist_cnt` (one entry per insn).
    hist_counted: Option<usize>,
    /// `jmp_point`: the insns whose execution the kernel's history records.
    jmp_point: Vec<bool>,
    /// `nospec`: a speculative path was found unsafe at this insn (a
    /// barrier goes before it; later speculative paths stop there).
    nospec: Vec<bool>,
    /// `nospec_result`: a barrier goes after this insn (a stack store,
    /// unprivileged); a speculative path ends once it ran it.
    nospec_result: Vec<bool>,
    processed: u64,
    jmps_processed: u64,
    prev_jmps: u64,
    prev_insns: u64,
    pub prev_log_pos: usize,
    pub prev_insn_print_pos: usize,
    stats: Stats,
    reached: Vec<bool>,
    consts: Vec<ConstTrack>,
    /// Whether some path was cut off by pruning. Its registers were only
    /// compared where live and precise, so its constants may differ from the
    /// explored state's: `consts` then holds only for input-independent
    /// results (see `finish`).
    pruned: bool,
    taken: Vec<(bool, bool)>,
    pub safe_access: Vec<bool>,
    /// Per slot: some path read through a pointer the kernel reads with
    /// probe loads (`PTR_TO_BTF_ID`, untrusted memory), which may be NULL
    /// or point at nothing: such an access is never unchecked.
    pub probe_access: Vec<bool>,
    /// Registers live before each instruction (of its own frame).
    pub(crate) live: Vec<u16>,
    /// The stack slots each call chain's instructions may still read
    /// (`crate::stack_live`).
    pub(crate) stack_live: crate::stack_live::StackLiveness,
    /// States remembered and not forgotten.
    stored: u64,
    /// Bytes of every remembered state (the arena keeps them all).
    arena_bytes: u64,
    /// Bytes of the states on the branch stack.
    pending_bytes: u64,
    /// The log outgrew [`MAX_LOG_BYTES`]: no more lines are written.
    pub log_full: bool,
    /// The last instruction returned from a callee.
    pub returned: bool,
    /// The instruction indices of the current path from the entry, in the
    /// order executed; a rejection carries it as [`Rejection::path`].
    pub path: Vec<u32>,
    /// The subprograms' BTF facts (global functions), `crate::global_func`.
    pub(crate) funcs: crate::global_func::FuncTable,
    /// The loops' components and their visits (`crate::scc`).
    pub(crate) scc: crate::scc::SccTracker,
}

impl<'a> Env<'a> {
    pub(crate) fn new(
        insns: &'a [RawInsn],
        opts: &'a VerifyOptions,
        desc: Option<&'a ProgTypeDesc>,
        cfg: Cfg,
        log: String,
    ) -> Env<'a> {
        let n = insns.len();
        let mut decoded = vec![None; n];
        for (pc, d) in decoded.iter_mut().enumerate() {
            if let (Some(false), Some(slots)) = (cfg.ldimm_tail.get(pc), insns.get(pc..)) {
                *d = Some(Insn::decode(slots, pc));
            }
        }
        let mut log = log;
        let live = crate::liveness::live_regs_before(
            &crate::may_goto::for_liveness(insns, &decoded),
            opts,
        );
        let scc = crate::scc::SccTracker::new(insns, &cfg.ldimm_tail);
        if opts.log_level & 2 != 0 {
            log.push_str("Live regs before insn:\n");
            for (pc, d) in decoded.iter().enumerate() {
                // Decoded from insns[pc], so it exists.
                let Some(raw) = insns.get(pc) else { continue };
                let text = match d {
                    Some(Ok(i)) => crate::callbacks::pseudo_func_line(pc, i)
                        .or_else(|| crate::kfunc::log_line(pc, i, raw.code))
                        .unwrap_or_else(|| ironbpf_isa::format_log_line(pc, i, raw.code)),
                    // A malformed may_goto is listed as the kernel prints it.
                    Some(Err(_)) => match crate::may_goto::refused_line(pc, raw) {
                        Some(l) => l,
                        None => continue,
                    },
                    None => continue,
                };
                let regs: String = (0..10)
                    .map(|r| {
                        if live.get(pc).is_some_and(|l| l & (1 << r) != 0) {
                            char::from(b'0' + r as u8)
                        } else {
                            '.'
                        }
                    })
                    .collect();
                let text = text.split_once(": ").map_or(text.as_str(), |(_, t)| t);
                // The instruction's loop component, if any, then its index.
                match scc.scc.get(pc).copied().unwrap_or(0) {
                    0 => log.push_str("    "),
                    s => log.push_str(&format!("{s:>3} ")),
                }
                log.push_str(&format!("{pc:>3}: {regs} {text}\n"));
            }
        }
        let nsub = cfg.subprogs.len();
        let stack_live =
            crate::stack_live::StackLiveness::new(&decoded, &cfg.subprogs, &cfg.prune_point);
        let mut main = FuncState::new(0, 0, 0);
        main.regs[1] = RegState::pointer(RegType::Ctx);
        let mut maps = opts.maps.clone();
        for i in 0..opts.maps.len() {
            // The inner map's template has no name (bpf_map_meta_alloc
            // copies none): its values print without `map=`.
            let inner = opts
                .inner_maps
                .get(i)
                .cloned()
                .flatten()
                .map(|m| crate::MapInfo {
                    name: String::new(),
                    ..m
                });
            maps.push(inner.unwrap_or(crate::MapInfo {
                name: String::new(),
                map_type: 0,
                key_size: 0,
                value_size: 0,
                max_entries: 0,
                map_flags: 0,
                frozen_readonly: false,
                record: Default::default(),
            }));
        }
        Env {
            insns,
            decoded,
            opts,
            maps,
            desc,
            cfg,
            log,
            cur: VState {
                frames: vec![main],
                refs: Vec::new(),
                may_goto_depth: 0,
                active_rcu_lock: false,
                active_preempt_locks: 0,
                active_irqs: Vec::new(),
                active_locks: Vec::new(),
                speculative: false,
            },
            pc: 0,
            id_gen: 0,
            scratch: Scratch::default(),
            scratch_all: true,
            stack_depth: vec![0; nsub],
            pending: Vec::new(),
            explored: Vec::new(),
            by_insn: HashMap::new(),
            cur_parent: None,
            hist: Vec::new(),
            hist_cnt: 0,
            hist_counted: None,
            jmp_point: jmp_points(insns),
            nospec: vec![false; insns.len()],
            nospec_result: vec![false; insns.len()],
            processed: 0,
            jmps_processed: 0,
            prev_jmps: 0,
            prev_insns: 0,
            prev_log_pos: 0,
            prev_insn_print_pos: 0,
            stats: Stats::default(),
            reached: vec![false; n],
            consts: vec![ConstTrack::Unseen; n],
            pruned: false,
            taken: vec![(false, false); n],
            safe_access: vec![false; n],
            probe_access: vec![false; n],
            stack_live,
            live,
            stored: 0,
            arena_bytes: 0,
            pending_bytes: 0,
            log_full: false,
            returned: false,
            path: Vec::new(),
            funcs: Default::default(),
            scc,
        }
    }

    /// A fresh exploration from `start` with `frame` (`do_check_common`
    /// for a global function): the previous pass's states are freed
    /// (`free_states`); the counters and the log go on.
    pub(crate) fn reset_for_subprog(&mut self, start: usize, frame: FuncState) {
        self.cur = VState {
            frames: vec![frame],
            refs: Vec::new(),
            may_goto_depth: 0,
            active_rcu_lock: false,
            active_preempt_locks: 0,
            active_irqs: Vec::new(),
            active_locks: Vec::new(),
            speculative: false,
        };
        self.pc = start;
        self.pending.clear();
        self.explored.clear();
        self.by_insn.clear();
        // The kernel frees the states but not its count of them
        // (`explored_states_size`), which peak_states reads.
        (self.cur_parent, self.prev_log_pos) = (None, 0);
        self.hist.clear();
        (self.hist_cnt, self.hist_counted) = (0, None);
        self.path.clear();
        self.scc.reset();
        (self.scratch, self.scratch_all, self.returned) = (Scratch::default(), true, false);
    }

    /// Logging at level 1 or 2.
    pub fn log_on(&self) -> bool {
        self.opts.log_level & 3 != 0 && !self.log_full
    }

    /// Logging at level 2.
    pub fn log2(&self) -> bool {
        self.opts.log_level & 2 != 0 && !self.log_full
    }

    /// A rejection at the current instruction, errno `EACCES`.
    pub fn reject(&self, kind: RejectionKind, message: String) -> Rejection {
        Rejection {
            insn: Some(self.pc),
            message,
            errno: EACCES,
            kind,
            path: Vec::new(),
        }
    }

    /// A rejection with another errno.
    pub fn reject_errno(&self, errno: i32, kind: RejectionKind, message: String) -> Rejection {
        Rejection {
            errno,
            ..self.reject(kind, message)
        }
    }

    /// A fresh id (`++env->id_gen`).
    pub fn new_id(&mut self) -> u32 {
        self.id_gen += 1;
        self.id_gen
    }

    /// The type string of register `r` in the current frame.
    pub fn type_str(&self, r: usize) -> String {
        self.cur.reg(r).type_str()
    }

    /// `check_reg_arg(..., SRC_OP)`: `R%d !read_ok`.
    pub fn check_src(&mut self, r: usize) -> VResult {
        self.scratch.reg(r);
        if self.cur.reg(r).ty == RegType::NotInit {
            return Err(self.reject(
                RejectionKind::UninitRegister { reg: r as u8 },
                format!("R{r} !read_ok"),
            ));
        }
        Ok(())
    }

    /// `check_reg_arg(..., DST_OP)`: r10 is read-only.
    pub fn check_dst(&mut self, r: usize) -> VResult {
        self.scratch.reg(r);
        if r == 10 {
            return Err(self.reject(
                RejectionKind::FramePointerWrite,
                "frame pointer is read only".into(),
            ));
        }
        Ok(())
    }

    /// Whether the value in `r` is a pointer an unprivileged program may not
    /// leak (`is_pointer_value`).
    pub fn is_pointer_value(&self, r: usize) -> bool {
        !self.opts.privileged && self.cur.reg(r).is_pointer()
    }

    fn print_state_line(&mut self, all: bool) {
        let mut s = String::new();
        let fr = self.cur.cur();
        let scratch = self.scratch.with_all_precise(!self.opts.privileged);
        fr.write(&mut s, all, &scratch, &self.maps);
        // The references and held locks in the order taken.
        self.cur.push_refs(&mut s);
        s.push('\n');
        self.log.push_str(&s);
    }

    /// `print_insn_state`: the scratched registers after the last
    /// instruction, at column 40 of its line or on a line of their own.
    pub fn print_insn_state(&mut self) {
        if !self.log_on() {
            return;
        }
        let all = self.scratch_all;
        if self.prev_log_pos != 0 && self.prev_log_pos == self.log.len() {
            self.log.pop();
            let pos = self.prev_insn_print_pos;
            let w = (pos + 4).max(40).div_ceil(8) * 8 - pos - 1;
            for _ in 0..w {
                self.log.push(' ');
            }
            self.log.push(';');
        } else {
            self.log.push_str(&format!("{}:", self.pc));
        }
        self.print_state_line(all);
        self.scratch = Scratch::default();
        self.scratch_all = false;
    }

    fn scratched(&self) -> bool {
        self.scratch_all || self.scratch.any()
    }

    /// `push_stack`: queue the other edge of a branch.
    pub fn push_branch(&mut self, st: VState, insn: usize) -> VResult {
        if let Some(e) = self.cur_parent.and_then(|p| self.explored.get_mut(p)) {
            e.branches += 1;
        }
        self.pending_bytes += st.footprint() as u64;
        self.note_memory();
        self.pending.push(Pending {
            st,
            insn,
            prev: self.pc,
            log_pos: self.log.len(),
            parent: self.cur_parent,
            // A state forked to run the current ALU insn again (an `and`
            // of a -1/0 value) resumes before it: its path holds it once.
            // (A jump to itself is two steps, as the kernel's history has.)
            hist_cnt: self.hist_cnt,
            path_len: if insn == self.pc
                && matches!(self.decoded.get(insn), Some(Some(Ok(Insn::Alu { .. }))))
            {
                self.path.len().saturating_sub(1)
            } else {
                self.path.len()
            },
        });
        if self.pending.len() > BPF_COMPLEXITY_LIMIT_JMP_SEQ {
            let n = self.pending.len();
            return Err(self.reject_errno(
                E2BIG,
                RejectionKind::JumpSequence { count: n },
                format!("The sequence of {n} jumps is too complex."),
            ));
        }
        Ok(())
    }

    /// The peak of the states' bytes, for [`Stats::peak_memory_bytes`].
    fn note_memory(&mut self) {
        let now = self.arena_bytes + self.pending_bytes + self.cur.footprint() as u64;
        self.stats.peak_memory_bytes = self.stats.peak_memory_bytes.max(now);
    }

    fn update_branch_counts(&mut self, mut node: Option<usize>) {
        while let Some(i) = node {
            let Some(e) = self.explored.get_mut(i) else {
                break;
            };
            e.branches = e.branches.saturating_sub(1);
            if e.branches > 0 {
                break;
            }
            if let Some(line) = self.scc.exit(i) {
                if self.log2() {
                    self.log.push_str(&line);
                }
            }
            let Some(e) = self.explored.get_mut(i) else {
                break;
            };
            if e.evicted {
                e.evicted = false;
                self.stored -= 1;
            }
            node = e.parent;
        }
    }

    /// Runs the loop. `Ok` when every path reached a safe exit; a
    /// rejection carries the failing path.
    pub(crate) fn do_check(&mut self) -> VResult {
        let res = self.do_check_loop().map_err(|mut rej| {
            rej.path = std::mem::take(&mut self.path);
            rej
        });
        if self.log_full && res.is_ok() {
            // The kernel, too, refuses a program whose log did not fit.
            return Err(self.reject_errno(
                ENOSPC,
                RejectionKind::Other,
                format!(
                    "ironbpf's verifier log outgrew its cap of {} MiB (MAX_LOG_BYTES); verify at log level 1, or without a log",
                    MAX_LOG_BYTES >> 20
                ),
            ));
        }
        res
    }

    fn do_check_loop(&mut self) -> VResult {
        let mut prev_insn: Option<usize> = None;
        let mut from_pop = false;
        loop {
            let pc = self.pc;
            self.path.push(pc as u32);
            self.processed += 1;
            if self.processed > BPF_COMPLEXITY_LIMIT_INSNS {
                let p = self.processed;
                return Err(self.reject_errno(
                    E2BIG,
                    RejectionKind::TooComplex { processed: p },
                    format!("BPF program is too large. Processed {p} insn"),
                ));
            }
            if !self.log_full && self.log.len() > MAX_LOG_BYTES {
                self.log_full = true;
                let mut cut = MAX_LOG_BYTES;
                while !self.log.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.log.truncate(cut);
            }
            if self.cfg.prune_point.get(pc) == Some(&true) && self.is_state_visited(pc)? {
                if self.log_on() {
                    let s = if from_pop {
                        format!(
                            "\nfrom {} to {}{}: safe\n",
                            prev_insn.unwrap_or(0),
                            pc,
                            self.spec_suffix()
                        )
                    } else {
                        format!("{pc}: safe\n")
                    };
                    self.log.push_str(&s);
                }
                if self.pop(&mut prev_insn)? {
                    from_pop = true;
                    continue;
                }
                return Ok(());
            }
            if self.log2() && from_pop {
                let s = format!(
                    "\nfrom {} to {}{}:",
                    prev_insn.unwrap_or(0),
                    pc,
                    self.spec_suffix()
                );
                self.log.push_str(&s);
                self.print_state_line(true);
            }
            if self.log_on() {
                if self.scratched() {
                    self.print_insn_state();
                }
                self.prev_log_pos = self.log.len();
                let line = self.insn_line(pc);
                self.log.push_str(&line);
                self.log.push('\n');
                self.prev_insn_print_pos = self.log.len() - self.prev_log_pos;
                self.prev_log_pos = self.log.len();
            }
            if self.cur.speculative && self.nospec.get(pc) == Some(&true) {
                // A barrier before the insn stops the CPU's speculation (the
                // insn is printed first, as the kernel's log has it).
                self.scratch_all = true;
                if self.pop(&mut prev_insn)? {
                    from_pop = true;
                    continue;
                }
                return Ok(());
            }
            if let Some(r) = self.reached.get_mut(pc) {
                *r = true;
            }
            if self.jmp_point.get(pc) == Some(&true) {
                self.count_hist_entry();
            }
            // Past the program or on an ld_imm64's second slot.
            let insn = match self.decoded.get(pc) {
                Some(Some(Ok(i))) => *i,
                Some(Some(Err(e))) => return Err(self.decode_error(e)),
                _ => {
                    return Err(self.reject_errno(
                        EINVAL,
                        RejectionKind::JumpIntoLdImm64 {
                            from: prev_insn.unwrap_or(0),
                            ldimm64: pc.saturating_sub(1),
                        },
                        format!("invalid insn idx {pc}"),
                    ))
                }
            };
            prev_insn = Some(pc);
            self.stack_live.begin(&self.cur, pc);
            let next = match self.step(&insn) {
                Ok(_) if self.cur.speculative && self.nospec_result.get(pc) == Some(&true) => None,
                Ok(n) => n,
                // error_recoverable_with_nospec: on a speculative path the
                // kernel puts a barrier before the insn and ends the path.
                Err(rej)
                    if self.cur.speculative && matches!(rej.errno, EPERM | EACCES | EINVAL) =>
                {
                    if let Some(n) = self.nospec.get_mut(pc) {
                        *n = true;
                    }
                    if self.log_on() {
                        self.log.push_str(&rej.message);
                        self.log.push('\n');
                    }
                    None
                }
                Err(e) => return Err(e),
            };
            self.stack_live.commit(&self.cur);
            match next {
                Some(n) => {
                    self.track_const(pc, &insn);
                    self.pc = n;
                    // Back from a callee, the next state is printed as
                    // after a pop (`do_print_state`).
                    from_pop = std::mem::take(&mut self.returned);
                }
                None => {
                    // A path ended at an exit.
                    self.scratch_all = true;
                    if self.pop(&mut prev_insn)? {
                        from_pop = true;
                        continue;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// `pop_stack`: the next pending branch, `false` when none is left.
    fn pop(&mut self, prev_insn: &mut Option<usize>) -> VResult<bool> {
        let parent = self.cur_parent;
        self.update_branch_counts(parent);
        let log = if self.log2() {
            Some(&mut self.log)
        } else {
            None
        };
        self.stack_live.update(&self.cur, log);
        let Some(p) = self.pending.pop() else {
            return Ok(false);
        };
        self.pending_bytes = self.pending_bytes.saturating_sub(p.st.footprint() as u64);
        if self.log_on() && !self.log2() {
            self.log.truncate(p.log_pos);
        }
        self.cur = p.st;
        self.pc = p.insn;
        self.path.truncate(p.path_len);
        let keep = self.hist.partition_point(|(pos, _)| *pos < p.path_len);
        self.hist.truncate(keep);
        self.hist_cnt = p.hist_cnt;
        self.hist_counted = None;
        *prev_insn = Some(p.prev);
        self.cur_parent = p.parent;
        self.scratch_all = true;
        self.scratch = Scratch::default();
        Ok(true)
    }

    /// The log line of the instruction at `pc`: `5: (85) call bpf_map_lookup_elem#1`.
    ///
    /// A map reference prints as the kernel prints it after
    /// `resolve_pseudo_ldimm64`: the address of the map (or of its value
    /// plus the offset), here a stand-in kernel address per map index. An
    /// instruction the decoder refuses for a reserved field prints as the
    /// kernel's disassembler shows it, the reserved field ignored.
    #[allow(
        clippy::indexing_slicing,
        reason = "pc is an instruction of the program: the CFG checked every jump target"
    )]
    pub fn insn_line(&self, pc: usize) -> String {
        use ironbpf_isa::LdImm64Src;
        match self.decoded[pc] {
            Some(Ok(Insn::LdImm64 {
                dst,
                src: src @ (LdImm64Src::MapIdx | LdImm64Src::MapIdxValue),
                imm,
                next_imm,
            })) => {
                let mut addr = FAKE_MAP_BASE.wrapping_add((imm as u32 as u64) << 12);
                if src == LdImm64Src::MapIdxValue {
                    addr = addr
                        .wrapping_add(FAKE_MAP_VALUE_OFF)
                        .wrapping_add(next_imm as u32 as u64);
                }
                format!("{pc}: (18) r{} = {addr:#x}", dst.index())
            }
            Some(Ok(
                ref i @ Insn::LdImm64 {
                    src: LdImm64Src::Func,
                    ..
                },
            )) => crate::callbacks::pseudo_func_line(pc, i).unwrap_or_default(),
            Some(Ok(ref i)) => crate::kfunc::log_line(pc, i, self.insns[pc].code)
                .unwrap_or_else(|| ironbpf_isa::format_log_line(pc, i, self.insns[pc].code)),
            _ => {
                let raw = self.insns[pc];
                if let Some(line) = crate::may_goto::refused_line(pc, &raw) {
                    return line;
                }
                let variants = [
                    RawInsn { off: 0, ..raw },
                    RawInsn { src: 0, ..raw },
                    RawInsn { imm: 0, ..raw },
                    RawInsn {
                        off: 0,
                        src: 0,
                        ..raw
                    },
                    RawInsn {
                        off: 0,
                        imm: 0,
                        ..raw
                    },
                    RawInsn { dst: 0, ..raw },
                    RawInsn {
                        dst: 0,
                        off: 0,
                        ..raw
                    },
                ];
                for v in variants {
                    let mut slots = vec![v];
                    slots.extend_from_slice(self.insns.get(pc + 1..pc + 2).unwrap_or(&[]));
                    if let Ok(i) = Insn::decode(&slots, pc) {
                        if !matches!(i, Insn::LdImm64 { .. }) {
                            return ironbpf_isa::format_log_line(pc, &i, raw.code);
                        }
                    }
                }
                format!("{pc}: ({:02x}) invalid insn", raw.code)
            }
        }
    }

    fn track_const(&mut self, pc: usize, insn: &Insn) {
        let Some(d) = insn.writes() else { return };
        let v = self.cur.reg(d.index()).const_value();
        let Some(t) = self.consts.get_mut(pc) else {
            return;
        };
        *t = match (*t, v) {
            (ConstTrack::Unseen, Some(v)) => ConstTrack::Const(v),
            (ConstTrack::Const(a), Some(v)) if a == v => ConstTrack::Const(a),
            _ => ConstTrack::Varies,
        };
    }

    /// The kernel's message for an instruction the decoder refused.
    #[allow(
        clippy::indexing_slicing,
        reason = "self.pc is the instruction the decoder refused, one of the program's"
    )]
    fn decode_error(&self, e: &IsaError) -> Rejection {
        use ironbpf_isa::IsaErrorKind as K;
        if let Some(rej) = self.reject_bad_may_goto(&self.insns[self.pc]) {
            return rej;
        }
        let code = self.insns[self.pc].code;
        let class = code & 7;
        let opc = code & 0xf0;
        let what: &'static str = match class {
            0x04 | 0x07 => match opc {
                0x80 => "BPF_NEG",
                0xd0 => "BPF_END",
                0xb0 => "BPF_MOV",
                _ => "BPF_ALU",
            },
            0x05 | 0x06 => match opc {
                0x00 => "BPF_JA",
                0x80 => "BPF_CALL",
                0x90 => "BPF_EXIT",
                _ => "BPF_JMP/JMP32",
            },
            0x02 => "BPF_ST",
            0x03 => "BPF_STX",
            0x01 => "BPF_LDX",
            _ => "BPF_LD_[ABS|IND]",
        };
        let msg = match &e.kind {
            K::UnknownOpcode { code } => format!("unknown opcode {code:02x}"),
            K::BadImm { imm, .. }
                if (class == 4 || class == 7) && (opc == 0x30 || opc == 0x90) && *imm == 0 =>
            {
                "div by zero".into()
            }
            K::BadImm { imm, .. }
                if (class == 4 || class == 7) && matches!(opc, 0x60 | 0x70 | 0xc0) =>
            {
                format!("invalid shift {imm}")
            }
            K::BadImm { .. } if class == 3 => format!(
                "BPF_ATOMIC uses invalid atomic opcode {:02x}",
                self.insns[self.pc].imm
            ),
            K::BadImm { .. } if class == 4 || class == 7 => {
                format!("invalid BPF_ALU opcode {:x}", opc)
            }
            K::BadRegister { reg, .. } => format!("R{reg} is invalid"),
            _ => format!("{what} uses reserved fields"),
        };
        let kind = match &e.kind {
            K::UnknownOpcode { code } => RejectionKind::UnknownOpcode {
                pc: self.pc,
                code: *code,
            },
            _ => RejectionKind::ReservedField { pc: self.pc, what },
        };
        self.reject_errno(EINVAL, kind, msg)
    }

    /// One instruction; the next pc, or `None` at a path's end.
    fn step(&mut self, insn: &Insn) -> VResult<Option<usize>> {
        // What precision tracking needs around the instruction (its marks
        // are no-ops for an unprivileged loader; the history entries are
        // kept for every loader, as the kernel's jump history is).
        let mut size_args = 0u16;
        let stack_slot = match *insn {
            Insn::Alu {
                op: ironbpf_isa::AluOp::Add | ironbpf_isa::AluOp::Sub,
                dst,
                src: Operand::Reg(src),
                ..
            } => {
                // `pointer += scalar` makes the scalar precise first.
                let (d, s) = (*self.cur.reg(dst.index()), *self.cur.reg(src.index()));
                if d.is_pointer() && s.is_scalar() {
                    self.mark_chain_precision(src.index());
                } else if d.is_scalar() && s.is_pointer() {
                    self.mark_chain_precision(dst.index());
                }
                None
            }
            Insn::Load { src, off, .. } => self.stack_slot_of(src.index(), off),
            Insn::Store { dst, off, .. } | Insn::StoreReg { dst, off, .. } => {
                self.stack_slot_of(dst.index(), off)
            }
            Insn::Atomic { dst, off, .. } => self.stack_slot_of(dst.index(), off),
            Insn::Call(ironbpf_isa::CallTarget::Helper(id)) => {
                // Size arguments are made precise as they are checked
                // (check_func_arg), so that a refusal of a later argument
                // logs them as the kernel does.
                // bpf_tail_call's constant index (`record_func_key`).
                if id == 12 && self.cur.reg(3).const_value().is_some() {
                    size_args |= 1 << 3;
                }
                None
            }
            _ => None,
        };
        let was_spill = stack_slot.is_some_and(|(fr, spi)| {
            self.cur
                .frames
                .get(fr as usize)
                .and_then(|f| f.stack.get(spi as usize))
                .is_some_and(|s| s.is_spill())
        });
        let restores = match *insn {
            Insn::Load { size, src, off, .. } => {
                self.fill_restores_spill(src.index(), off, size.bytes() as u32)
            }
            _ => false,
        };
        let next = self.step_insn(insn)?;
        if let Some((frame, spi)) = stack_slot {
            let spill_now = self
                .cur
                .frames
                .get(frame as usize)
                .and_then(|f| f.stack.get(spi as usize))
                .is_some_and(|s| s.is_spill());
            let flag = match insn {
                Insn::Load { .. } => restores,
                Insn::Atomic { .. } => was_spill || spill_now,
                _ => spill_now,
            };
            if flag {
                self.push_hist(crate::precision::Hist::Stack { frame, spi });
            }
        }
        for r in 1..=5 {
            if size_args & (1 << r) != 0 {
                self.mark_chain_precision_before_call(r);
            }
        }
        Ok(next)
    }

    /// The frame and slot a load or store through `base + off` touches,
    /// when `base` is a stack pointer at a constant offset.
    /// Whether a load of `size` bytes at `base + off` from the stack
    /// restores a spilled register, which backtracking follows into the
    /// slot (`check_stack_read_fixed_off` keeps `INSN_F_STACK_ACCESS`): a
    /// whole 8-byte spill read whole; a narrower read of a spilled scalar
    /// from the slot's lowest byte (`bpf_stack_narrow_access_ok`); or a
    /// read of spilled bytes only of a spilled constant 0. Any other read
    /// gives a fresh value.
    fn fill_restores_spill(&self, base: usize, off: i16, size: u32) -> bool {
        let r = self.cur.reg(base);
        if r.ty != RegType::Stack || !r.val.var_off.is_const() {
            return false;
        }
        let at = r.off as i64 + r.val.var_off.value as i64 + off as i64;
        if !(-512..0).contains(&at) {
            return false;
        }
        let (spi, _) = crate::state::byte_pos(at);
        let Some(s) = self
            .cur
            .frames
            .get(r.frameno as usize)
            .and_then(|f| f.stack.get(spi))
        else {
            return false;
        };
        if !s.is_spill() {
            return false;
        }
        let spill_size = 1 + s.ty[..BPF_REG_SIZE - 1]
            .iter()
            .rev()
            .take_while(|t| **t == crate::state::SlotType::Spill)
            .count() as u32;
        if size == BPF_REG_SIZE as u32 && spill_size == BPF_REG_SIZE as u32 {
            return true;
        }
        if !s.spilled.is_scalar() {
            return false;
        }
        if size <= spill_size && at % BPF_REG_SIZE as i64 == 0 {
            return true;
        }
        let slot = (-at - 1) as usize;
        let spilled_bytes = (0..size as usize)
            .filter(|i| {
                s.ty.get(slot.wrapping_sub(*i) % BPF_REG_SIZE)
                    == Some(&crate::state::SlotType::Spill)
            })
            .count() as u32;
        spilled_bytes == size && s.spilled.const_value() == Some(0)
    }

    fn stack_slot_of(&self, base: usize, off: i16) -> Option<(u32, u32)> {
        let r = self.cur.reg(base);
        if r.ty != RegType::Stack || !r.val.var_off.is_const() {
            return None;
        }
        let at = r.off as i64 + r.val.var_off.value as i64 + off as i64;
        if !(-512..0).contains(&at) {
            return None;
        }
        Some((r.frameno, ((-at - 1) / BPF_REG_SIZE as i64) as u32))
    }

    /// One instruction, without the precision bookkeeping.
    fn step_insn(&mut self, insn: &Insn) -> VResult<Option<usize>> {
        let pc = self.pc;
        match *insn {
            Insn::Alu { .. } | Insn::Neg { .. } | Insn::MovSx { .. } | Insn::Endian { .. } => {
                self.check_alu(insn)?;
                Ok(Some(pc + 1))
            }
            Insn::LdImm64 { .. } => {
                self.check_ld_imm(insn)?;
                Ok(Some(pc + 2))
            }
            Insn::LdAbs { .. } | Insn::LdInd { .. } => self.check_ld_abs(insn),
            Insn::Load { .. }
            | Insn::Store { .. }
            | Insn::StoreReg { .. }
            | Insn::Atomic { .. } => {
                self.check_mem_insn(insn)?;
                Ok(Some(pc + 1))
            }
            Insn::Ja { off } => {
                self.jmps_processed += 1;
                Ok(Some((pc as i64 + off as i64 + 1) as usize))
            }
            Insn::Gotol { imm } => {
                self.jmps_processed += 1;
                Ok(Some((pc as i64 + imm as i64 + 1) as usize))
            }
            Insn::MayGoto { off } => {
                self.jmps_processed += 1;
                self.check_may_goto(off)
            }
            Insn::Jmp {
                op,
                width,
                dst,
                src,
                off,
            } => {
                self.jmps_processed += 1;
                self.check_cond_jmp(op, width, dst.index(), src, off)
            }
            Insn::Call(_) | Insn::Callx { .. } => {
                self.jmps_processed += 1;
                self.check_call(insn)
            }
            Insn::Exit => {
                self.jmps_processed += 1;
                self.check_exit()
            }
        }
    }

    /// `check_cond_jmp_op`.
    fn check_cond_jmp(
        &mut self,
        op: JmpOp,
        width: Width,
        dst: usize,
        src: Operand,
        off: i16,
    ) -> VResult<Option<usize>> {
        let pc = self.pc;
        let is32 = width == Width::W32;
        let target = (pc as i64 + off as i64 + 1) as usize;
        let src_reg = match src {
            Operand::Reg(r) => {
                let r = r.index();
                self.check_src(r)?;
                if self.is_pointer_value(r) {
                    return Err(self.reject(
                        RejectionKind::PointerComparison { reg: r as u8 },
                        format!("R{r} pointer comparison prohibited"),
                    ));
                }
                Some(r)
            }
            Operand::Imm(_) => None,
        };
        self.check_src(dst)?;
        let a = *self.cur.reg(dst);
        let b = match (src, src_reg) {
            (_, Some(r)) => *self.cur.reg(r),
            (Operand::Imm(imm), None) => {
                if is32 {
                    RegState::constant(imm as u32 as u64)
                } else {
                    RegState::constant(imm as i64 as u64)
                }
            }
            _ => unreachable!("an operand is a register or an immediate"),
        };
        let pred = self.branch_taken(op, is32, &a, &b);
        if pred.is_some() {
            // The outcome depends on the operands' values: they matter.
            if a.is_scalar() {
                self.mark_chain_precision(dst);
            }
            if let Some(r) = src_reg {
                if b.is_scalar() {
                    self.mark_chain_precision(r);
                }
            }
        }
        // The scalars linked to the operands (`collect_linked_regs`),
        // refined with them; backtracking follows them together. A decided
        // branch refines nothing and records none.
        let linked = if pred.is_none() {
            self.collect_linked(&a, src_reg.map(|_| &b))
        } else {
            Vec::new()
        };
        if self.tracks_precision() && linked.len() > 1 {
            let entries: Vec<crate::precision::LinkedEntry> = linked
                .iter()
                .map(|e| match *e {
                    LinkedReg::Reg { frame, r } => crate::precision::LinkedEntry {
                        frame: frame as u8,
                        is_reg: true,
                        index: r as u8,
                    },
                    LinkedReg::Slot { frame, spi } => crate::precision::LinkedEntry {
                        frame: frame as u8,
                        is_reg: false,
                        index: spi as u8,
                    },
                })
                .collect();
            self.push_hist(crate::precision::Hist::Linked(
                crate::precision::pack_linked(&entries),
            ));
        }
        match pred {
            Some(true) => {
                if let Some(t) = self.taken.get_mut(pc) {
                    t.0 = true;
                }
                self.push_speculative(pc + 1, dst, src_reg)?;
                self.print_insn_state();
                return Ok(Some(target));
            }
            Some(false) => {
                if let Some(t) = self.taken.get_mut(pc) {
                    t.1 = true;
                }
                self.push_speculative(target, dst, src_reg)?;
                self.print_insn_state();
                return Ok(Some(pc + 1));
            }
            None => {}
        }
        if let Some(t) = self.taken.get_mut(pc) {
            *t = (true, true);
        }
        // Both edges: the taken edge is queued, the fall-through goes on.
        let mut other = self.cur.clone();
        let mut other_alive = true;
        let mut this_alive = true;
        if let Some(sr) = src_reg {
            // `ptr == ptr`, `ptr != ptr`: where one may be null and the
            // other cannot, on the equal edge the first is not null either
            // (mark_ptr_not_null_reg, that register alone).
            if !is32
                && a.is_pointer()
                && b.is_pointer()
                && a.maybe_null != b.maybe_null
                && a.ty != RegType::BtfId
                && b.ty != RegType::BtfId
            {
                let equal = match op {
                    JmpOp::Jeq => Some(&mut other),
                    JmpOp::Jne => Some(&mut self.cur),
                    _ => None,
                };
                if let Some(st) = equal {
                    let r = if b.maybe_null { sr } else { dst };
                    let n = self.opts.maps.len() as u32;
                    let maps = &self.opts.maps;
                    let reg = st.reg_mut(r);
                    if reg.ty == RegType::MapValue {
                        match maps.get(reg.map as usize).map(|m| m.map_type) {
                            Some(12 | 13) => {
                                reg.ty = RegType::ConstPtrToMap;
                                reg.map += n;
                            }
                            Some(
                                crate::calls::BPF_MAP_TYPE_SOCKMAP
                                | crate::calls::BPF_MAP_TYPE_SOCKHASH,
                            ) => {
                                reg.ty = RegType::Socket;
                                reg.map = 0;
                            }
                            _ => {}
                        }
                    }
                    reg.maybe_null = false;
                }
            }
        }
        if a.is_scalar() && src_reg == Some(dst) {
            // `if rX op rX`: the kernel's two operands alias one register.
            match branch::refine_same(op, is32, &a.val, true) {
                Some(x) => set_linked(&mut other, dst, x, &linked),
                None => other_alive = false,
            }
            match branch::refine_same(op, is32, &a.val, false) {
                Some(x) => set_linked(&mut self.cur, dst, x, &linked),
                None => this_alive = false,
            }
        } else if a.is_scalar() && b.is_scalar() {
            let this_r = branch::refine(op, is32, &a.val, &b.val, false);
            let other_r = branch::refine(op, is32, &a.val, &b.val, true);
            match other_r {
                Some((x, y)) => {
                    set_linked(&mut other, dst, x, &linked);
                    if let Some(r) = src_reg {
                        set_linked(&mut other, r, y, &linked);
                    }
                }
                None => other_alive = false,
            }
            match this_r {
                Some((x, y)) => {
                    set_linked(&mut self.cur, dst, x, &linked);
                    if let Some(r) = src_reg {
                        set_linked(&mut self.cur, r, y, &linked);
                    }
                }
                None => this_alive = false,
            }
        } else if src_reg.is_none()
            && !is32
            && b.const_value() == Some(0)
            && matches!(op, JmpOp::Jeq | JmpOp::Jne)
            && a.maybe_null
        {
            // The null check: `if rX == 0` (mark_ptr_or_null_regs).
            let id = a.id;
            let eq = op == JmpOp::Jeq;
            let n = self.opts.maps.len() as u32;
            let mim = (a.ty == RegType::MapValue
                && self
                    .opts
                    .maps
                    .get(a.map as usize)
                    .is_some_and(|m| matches!(m.map_type, 12 | 13)))
            .then_some((a.map, n + a.map));
            // mark_ptr_or_null_reg: a sockmap or sockhash lookup found
            // non-null is a PTR_TO_SOCKET.
            let sock = a.ty == RegType::MapValue
                && self.opts.maps.get(a.map as usize).is_some_and(|m| {
                    matches!(
                        m.map_type,
                        crate::calls::BPF_MAP_TYPE_SOCKMAP | crate::calls::BPF_MAP_TYPE_SOCKHASH
                    )
                });
            if sock {
                let non_null = if eq { &mut self.cur } else { &mut other };
                non_null.for_each_reg(|r| {
                    if r.id == id && r.maybe_null && r.ty == RegType::MapValue {
                        r.ty = RegType::Socket;
                        r.map = 0;
                    }
                });
            }
            let keep_id = self.may_point_to_spin_lock(&a);
            mark_ptr_or_null_in(&mut self.cur, id, !eq, mim, keep_id);
            mark_ptr_or_null_in(&mut other, id, eq, mim, keep_id);
        } else if let Some(r) = src_reg {
            if !self.match_pkt_pointers(op, dst, r, &mut other) && self.is_pointer_value(dst) {
                return Err(self.reject(
                    RejectionKind::PointerComparison { reg: dst as u8 },
                    format!("R{dst} pointer comparison prohibited"),
                ));
            }
        } else if self.is_pointer_value(dst) {
            return Err(self.reject(
                RejectionKind::PointerComparison { reg: dst as u8 },
                format!("R{dst} pointer comparison prohibited"),
            ));
        }
        if other_alive {
            self.push_branch(other, target)?;
        }
        if self.log_on() {
            self.print_insn_state();
        }
        if !this_alive {
            return Ok(None);
        }
        Ok(Some(pc + 1))
    }

    fn branch_taken(&self, op: JmpOp, is32: bool, a: &RegState, b: &RegState) -> Option<bool> {
        let pkt_any = |r: &RegState| {
            matches!(
                r.ty,
                RegType::Packet | RegType::PacketMeta | RegType::PacketEnd
            )
        };
        if pkt_any(a) && pkt_any(b) && !is32 {
            return pkt_ptr_branch_taken(op, a, b);
        }
        if a.is_scalar() && b.is_scalar() {
            return branch::is_branch_taken(op, is32, &a.val, &b.val);
        }
        let (p, s) = if a.is_pointer() && b.is_scalar() {
            (a, b)
        } else if b.is_pointer() && a.is_scalar() {
            (b, a)
        } else {
            return None;
        };
        if s.const_value() != Some(0) || is32 {
            return None;
        }
        // `reg_not_null`: a trusted BTF pointer (`is_trusted_reg`: referenced,
        // or PTR_TRUSTED and no other flag) and memory that is not
        // PTR_UNTRUSTED are not NULL either.
        let trusted_btf = p.ty == RegType::BtfId
            && (p.ref_obj_id != 0 || (p.btf_flags == crate::state::btf_flag::TRUSTED && !p.rdonly));
        let trusted_mem =
            p.ty == RegType::Mem && p.btf_flags & crate::state::btf_flag::UNTRUSTED == 0;
        let not_null = !p.maybe_null
            && (trusted_btf
                || trusted_mem
                || matches!(
                    p.ty,
                    RegType::Socket
                        | RegType::TcpSock
                        | RegType::MapValue
                        | RegType::MapKey
                        | RegType::SockCommon
                        | RegType::ConstPtrToMap
                ));
        if !not_null {
            return None;
        }
        match op {
            JmpOp::Jeq => Some(false),
            JmpOp::Jne => Some(true),
            _ => None,
        }
    }

    /// `try_match_pkt_pointers`: `pkt + N` against `pkt_end` gives every
    /// packet pointer with the same id a readable range of N.
    fn match_pkt_pointers(
        &mut self,
        op: JmpOp,
        dst: usize,
        src: usize,
        other: &mut VState,
    ) -> bool {
        let a = *self.cur.reg(dst);
        let b = *self.cur.reg(src);
        // Normalise to `pkt op pkt_end`: `data` is the end of `data_meta`
        // pointers when it is `data` itself (no offset).
        let init_pkt = |r: &RegState| {
            r.ty == RegType::Packet
                && r.off == 0
                && r.val.var_off.is_const()
                && r.val.var_off.value == 0
        };
        let ends = |p: &RegState, e: &RegState| {
            (p.ty == RegType::Packet && e.ty == RegType::PacketEnd)
                || (p.ty == RegType::PacketMeta && init_pkt(e))
        };
        let (pkt, pkt_reg, op) = if ends(&a, &b) {
            (a, dst, op)
        } else if ends(&b, &a) {
            (b, src, branch::flip(op))
        } else {
            return a.ty.is_pkt() && b.ty.is_pkt();
        };
        // `mark_pkt_end`: on the edge where `pkt' > pkt_end` (or `>=`) holds,
        // the packet register itself is past the end (or at it).
        let mark = |st: &mut VState, beyond: bool| {
            let r = st.reg_mut(pkt_reg);
            if r.ty == RegType::Packet {
                r.range = if beyond { BEYOND_PKT_END } else { AT_PKT_END };
            }
        };
        match op {
            JmpOp::Jgt => mark(other, true),
            JmpOp::Jge => mark(other, false),
            JmpOp::Jlt => mark(&mut self.cur, false),
            JmpOp::Jle => mark(&mut self.cur, true),
            _ => {}
        }
        // `pkt' > pkt_end` falls through with `off` bytes readable;
        // `pkt' < pkt_end` (right-open: pkt' itself is readable) jumps with
        // `off + 1`. A zero offset right-open proves nothing.
        let off = pkt.off;
        let open = off.checked_add(1).filter(|_| off != 0).unwrap_or(-1);
        match op {
            JmpOp::Jgt => find_good_pkt_pointers(&mut self.cur, &pkt, off),
            JmpOp::Jge => find_good_pkt_pointers(&mut self.cur, &pkt, open),
            JmpOp::Jlt => find_good_pkt_pointers(other, &pkt, open),
            JmpOp::Jle => find_good_pkt_pointers(other, &pkt, off),
            _ => {}
        }
        true
    }

    /// `is_state_visited`: whether an explored state at `pc` covers the
    /// current one (prune), else remember the current state.
    #[allow(
        clippy::indexing_slicing,
        reason = "pc is a prune point of the program (the per-insn tables have n entries) and \
                  by_insn holds indices of self.explored, which only grows during a verification"
    )]
    fn is_state_visited(&mut self, pc: usize) -> VResult<bool> {
        // The kernel's hash bucket of (pc, callsite): its states of other
        // insns count in max_states_per_insn but are skipped.
        let key = self.bucket(pc);
        let seen = self.by_insn.get(&key).map_or(0, |l| l.len()) as u64;
        let list: Vec<usize> = self
            .by_insn
            .get(&key)
            .map(|l| {
                l.iter()
                    .copied()
                    .filter(|&i| self.explored[i].pc == pc)
                    .collect()
            })
            .unwrap_or_default();
        // A callback's call site and a may_goto always keep their state
        // (`force_checkpoint`).
        let calls_cb = self.calls_callback(pc);
        let may_goto = crate::may_goto::is_may_goto(&self.insns[pc]);
        let iter_next = crate::kfunc::is_iter_next(&self.insns[pc]);
        // A long jump history forces a checkpoint too (the kernel's
        // `jmp_history_cnt > 40`), loop heuristics notwithstanding.
        let long_hist = self.hist_cnt > 40;
        let mut add = calls_cb
            || may_goto
            || iter_next
            || long_hist
            || (self.jmps_processed - self.prev_jmps >= 2 && self.processed - self.prev_insns >= 8);
        let all_precise = !self.tracks_precision();
        self.clean_live_states(pc, &list);
        let mut evict = Vec::new();
        // Newest first, as the kernel walks its list (`list_add` puts a new
        // state at the head): which state is asked first decides which one
        // is hit and which ones count a miss, so their eviction.
        for i in list.into_iter().rev() {
            let e = &self.explored[i];
            if e.branches == 0 {
                // A state of a loop whose visit has back-edges pending
                // lacks marks: compared RANGE_WITHIN, a hit is a back-edge.
                let looping = self.incomplete_read_marks(i, pc);
                if states_equal(
                    &e.st,
                    &self.cur,
                    false,
                    Some((self.live.as_slice(), pc)),
                    all_precise || looping,
                ) {
                    if looping {
                        self.note_backedge(i, pc);
                    }
                    return Ok(self.evict_then_hit(&evict, i, pc));
                }
            } else if may_goto
                && e.st.may_goto_depth != self.cur.may_goto_depth
                && states_equal(
                    &e.st,
                    &self.cur,
                    false,
                    Some((self.live.as_slice(), pc)),
                    true,
                )
            {
                // Another may_goto iteration within the ranges of one
                // being explored (`RANGE_WITHIN`): the loop is cut here,
                // a back-edge of its component's visit.
                self.note_backedge(i, pc);
                return Ok(self.evict_then_hit(&evict, i, pc));
            } else if iter_next {
                // Another iteration of an open-coded iterator loop: the
                // loop converged when a state still being explored covers
                // this one with every scalar's range and the iterator is
                // active (`is_iter_next_insn`); never an infinite loop.
                if self.iter_next_active()
                    && states_equal(
                        &e.st,
                        &self.cur,
                        false,
                        Some((self.live.as_slice(), pc)),
                        true,
                    )
                {
                    return Ok(self.evict_then_hit(&evict, i, pc));
                }
            } else if calls_cb {
                // Another iteration of a callback: covered when an explored
                // iteration covers it with every scalar's range
                // (`RANGE_WITHIN`); never an infinite loop.
                if states_equal(
                    &e.st,
                    &self.cur,
                    false,
                    Some((self.live.as_slice(), pc)),
                    true,
                ) {
                    return Ok(self.evict_then_hit(&evict, i, pc));
                }
            } else if e.st.may_goto_depth == self.cur.may_goto_depth
                && states_maybe_looping(&e.st, &self.cur)
                && states_equal(&e.st, &self.cur, true, None, all_precise)
                && !crate::iter::active_depths_differ(&e.st, &self.cur)
                // Last: the walk up the parent chain is as long as the path
                // has states (tens of thousands in a long loop), and asked
                // of every unfinished state here it made verification
                // quadratic (fuzz/regressions/soundness/timeout-d2b54acc).
                && is_ancestor(&self.explored, self.cur_parent, i)
            {
                let none = Scratch::default();
                let mut cur = String::new();
                self.cur.cur().write(&mut cur, true, &none, &self.maps);
                let mut old = String::new();
                e.st.cur().write(&mut old, true, &none, &self.maps);
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::InfiniteLoop { pc },
                    format!(
                        "infinite loop detected at insn {pc}\ncur state:{cur}\nold state:{old}"
                    ),
                ));
            } else if !may_goto
                && !long_hist
                && self.jmps_processed - self.prev_jmps < 20
                && self.processed - self.prev_insns < 100
            {
                // In a loop: not too many states (`skip_inf_loop_check`).
                add = false;
            }
            // A state that keeps missing is unlikely to help: forget it
            // (the kernel's miss_cnt > hit_cnt * 3 + 3), keeping it in the
            // arena for the parent chains. A forced checkpoint still being
            // explored gets 64 (so that loops can converge).
            let e = &mut self.explored[i];
            let n = if (calls_cb || may_goto) && e.branches > 0 {
                64
            } else {
                3
            };
            if add {
                e.misses += 1;
                if e.misses > e.hits * n + n {
                    evict.push(i);
                }
            }
        }
        self.evict_states(&evict, pc);
        // Counted on a miss only, as the kernel does.
        self.stats.max_states_per_insn = self.stats.max_states_per_insn.max(seen);
        // BPF_COMPLEXITY_LIMIT_STATES, for unprivileged programs only.
        if !self.opts.privileged && seen > 64 {
            return Ok(false);
        }
        if !add {
            return Ok(false);
        }
        if self.stored >= MAX_STORED_STATES {
            let n = self.stored;
            return Err(self.reject_errno(
                E2BIG,
                RejectionKind::TooComplex {
                    processed: self.processed,
                },
                format!(
                    "ironbpf's verifier holds {n} states, its cap (MAX_STORED_STATES); the program is too complex to verify"
                ),
            ));
        }
        self.prev_jmps = self.jmps_processed;
        self.prev_insns = self.processed;
        let idx = self.explored.len();
        self.explored.push(Explored {
            st: self.cur.clone(),
            pos: self.path.len().saturating_sub(1),
            pc,
            branches: 1,
            hits: 0,
            misses: 0,
            evicted: false,
            cleaned: false,
            parent: self.cur_parent,
        });
        let list = self.by_insn.entry(key).or_default();
        list.push(idx);
        self.stats.total_states += 1;
        self.stored += 1;
        self.arena_bytes += self.cur.footprint() as u64;
        self.note_memory();
        self.stats.peak_states = self
            .stats
            .peak_states
            .max(self.stored + self.scc.live_backedges);
        self.maybe_enter_scc(idx, pc);
        self.cur_parent = Some(idx);
        // clear_jmp_history: the new state's history starts here.
        (self.hist_cnt, self.hist_counted) = (0, None);
        Ok(false)
    }

    /// Marks the current insn `nospec_result`.
    pub(crate) fn note_nospec_result(&mut self) {
        if let Some(n) = self.nospec_result.get_mut(self.pc) {
            *n = true;
        }
    }

    /// ` (speculative execution)` after a popped speculative path's `from`.
    fn spec_suffix(&self) -> &'static str {
        if self.cur.speculative {
            " (speculative execution)"
        } else {
            ""
        }
    }

    /// `sanitize_speculative_path`: without CAP_PERFMON the edge a decided
    /// branch does not take is explored too, as the CPU may run it
    /// speculatively, with the compared registers unknown.
    fn push_speculative(&mut self, next: usize, dst: usize, src: Option<usize>) -> VResult {
        if self.opts.privileged {
            return Ok(());
        }
        let mut st = self.cur.clone();
        st.speculative = true;
        for r in std::iter::once(dst).chain(src) {
            if let Some(reg) = st.cur_mut().regs.get_mut(r) {
                *reg = RegState::unknown();
            }
        }
        self.push_branch(st, next)
    }

    /// One jump-history entry for the insn being executed (`push_jmp_history`
    /// merges an insn's entries into one).
    pub(crate) fn count_hist_entry(&mut self) {
        let pos = self.path.len().saturating_sub(1);
        if self.hist_counted != Some(pos) {
            self.hist_counted = Some(pos);
            self.hist_cnt += 1;
        }
    }

    /// Forgets the states of `pc` that kept missing (`sl->in_free_list`).
    #[allow(
        clippy::indexing_slicing,
        reason = "`evict` holds indices of self.explored, which only grows during a verification"
    )]
    fn evict_states(&mut self, evict: &[usize], pc: usize) {
        if evict.is_empty() {
            return;
        }
        for &i in evict {
            // Freed now if fully explored, else when its last branch ends.
            if self.explored[i].branches == 0 {
                self.stored -= 1;
            } else {
                self.explored[i].evicted = true;
            }
        }
        let key = self.bucket(pc);
        if let Some(l) = self.by_insn.get_mut(&key) {
            l.retain(|i| !evict.contains(i));
        }
    }

    /// A hit on `i` after the states in `evict` missed once too often: the
    /// kernel unlinks each as it misses, so they go even though a later
    /// state covers the current one.
    fn evict_then_hit(&mut self, evict: &[usize], i: usize, pc: usize) -> bool {
        self.evict_states(evict, pc);
        self.prune_hit(i, pc)
    }

    /// The current state is covered by remembered state `i` at `pc`: the
    /// path ends here (`goto hit`), the old state's precision marks go to
    /// the current path. Always `true`.
    #[allow(
        clippy::indexing_slicing,
        reason = "i is an index of self.explored and pc a prune point (the per-insn tables have n entries)"
    )]
    fn prune_hit(&mut self, i: usize, pc: usize) -> bool {
        self.explored[i].hits += 1;
        self.pruned = true;
        self.reached[pc] = true;
        self.propagate_precision(i);
        true
    }

    /// `clean_live_states`: the fully explored states at `pc` of the current
    /// call chain, whose loops are done, forget the stack slots no
    /// continuation reads (`crate::stack_live`): they become
    /// `STACK_INVALID`, which matches anything. Once per state. (Dead
    /// registers are left out of every comparison instead.)
    #[allow(
        clippy::indexing_slicing,
        reason = "`list` holds indices of self.explored, which only grows during a verification"
    )]
    fn clean_live_states(&mut self, pc: usize, list: &[usize]) {
        for &i in list {
            let e = &self.explored[i];
            if e.branches != 0
                || e.cleaned
                || e.st.frames.len() != self.cur.frames.len()
                || e.st
                    .frames
                    .iter()
                    .zip(&self.cur.frames)
                    .any(|(a, b)| a.callsite != b.callsite)
                || self.incomplete_read_marks(i, pc)
            {
                continue;
            }
            let insns = self.insns;
            let calls_cb = |site: usize| {
                insns.get(site).is_some_and(|i| {
                    (i.code == 0x85
                        && i.src == 0
                        && crate::callbacks::is_sync_callback_helper(i.imm))
                        || crate::obj_new::is_rbtree_add_insn(i)
                })
            };
            let alive = self.stack_live.alive(&self.explored[i].st, pc, calls_cb);
            let e = &mut self.explored[i];
            for (k, f) in e.st.frames.iter_mut().enumerate() {
                let mask = alive.get(k).copied().unwrap_or(u64::MAX);
                for (spi, slot) in f.stack.iter_mut().enumerate() {
                    if spi >= 64 || mask & (1u64 << spi) == 0 {
                        *slot = StackSlot::invalid();
                    }
                }
            }
            e.cleaned = true;
        }
    }

    /// Whether the instruction at `pc` writes a value that does not depend on
    /// any register or memory (`mov dst, imm` and a plain `ld_imm64`). After
    /// pruning only those constants are sound: a pruned path matched an
    /// explored state on its live, precise registers only, so an imprecise
    /// scalar may have held another value on it.
    fn result_is_input_free(&self, pc: usize) -> bool {
        let Some(slots) = self.insns.get(pc..) else {
            return false;
        };
        match Insn::decode(slots.get(..slots.len().min(2)).unwrap_or_default(), pc) {
            Ok(Insn::Alu {
                op: AluOp::Mov,
                src: Operand::Imm(_),
                ..
            }) => true,
            Ok(Insn::LdImm64 { src, .. }) => src == LdImm64Src::Imm,
            _ => false,
        }
    }

    /// The states remembered at `pc` in the current frame's bucket (most
    /// recent last).
    pub(crate) fn explored_at(&self, pc: usize) -> Option<Vec<usize>> {
        self.by_insn.get(&self.bucket(pc)).map(|l| {
            l.iter()
                .copied()
                .filter(|&i| self.explored.get(i).is_some_and(|e| e.pc == pc))
                .collect()
        })
    }

    /// `explored_state`'s bucket: `(pc ^ callsite) % len`, the callsite of
    /// the current frame (`BPF_MAIN_FUNC`, -1, for the outermost), as the
    /// kernel's unsigned arithmetic makes it.
    fn bucket(&self, pc: usize) -> usize {
        let callsite = if self.cur.frames.len() > 1 {
            self.cur.cur().callsite as i32
        } else {
            -1
        };
        let len = (self.insns.len() as u32).max(1);
        (((pc as i32) ^ callsite) as u32 % len) as usize
    }

    /// Paths still being explored below remembered state `i`.
    pub(crate) fn explored_branches(&self, i: usize) -> u32 {
        self.explored.get(i).map_or(0, |e| e.branches)
    }

    /// `update_peak_states` with the loops' live back-edges.
    pub(crate) fn note_peak_states(&mut self) {
        let now = self.stored + self.scc.live_backedges;
        self.stats.peak_states = self.stats.peak_states.max(now);
    }

    /// Whether some path reached `pc`.
    pub(crate) fn was_reached(&self, pc: usize) -> bool {
        self.reached.get(pc).copied().unwrap_or(false)
    }

    /// The figures and facts after the loop.
    pub(crate) fn finish(&mut self) -> (Stats, VerifiedProgram) {
        self.note_memory();
        let mut stats = self.stats.clone();
        stats.processed_insns = self.processed;
        stats.stack_depths = self.stack_depth.clone();
        let n = self.insns.len();
        let prog = VerifiedProgram {
            reached: self.reached.clone(),
            safe_access: self
                .safe_access
                .iter()
                .zip(&self.probe_access)
                .map(|(&safe, &probe)| safe && !probe)
                .collect(),
            const_result: self
                .consts
                .iter()
                .enumerate()
                .map(|(pc, c)| match c {
                    ConstTrack::Const(v) if !self.pruned || self.result_is_input_free(pc) => {
                        Some(*v)
                    }
                    _ => None,
                })
                .collect(),
            branch_always: (0..n)
                .map(|i| match self.taken.get(i) {
                    Some((true, false)) => Some(true),
                    Some((false, true)) => Some(false),
                    _ => None,
                })
                .collect(),
            stack_depths: self.stack_depth.clone(),
            subprog_starts: self.cfg.subprogs.clone(),
            digest: VerifiedProgram::digest_of(self.insns),
        };
        (stats, prog)
    }
}

/// Whether the remembered state `target` is `node` or one of its parents.
pub(crate) fn is_ancestor_of(explored: &[Explored], node: Option<usize>, target: usize) -> bool {
    is_ancestor(explored, node, target)
}

fn is_ancestor(explored: &[Explored], mut node: Option<usize>, target: usize) -> bool {
    while let Some(i) = node {
        if i == target {
            return true;
        }
        node = explored.get(i).and_then(|e| e.parent);
    }
    false
}

/// The kernel's jump points (`mark_jmp_point` in `check_cfg`): a branch's
/// target, an unconditional jump's target, the insn after any call, a
/// bpf-to-bpf call's (or a callback reference's) callee entry, and a call
/// that runs a callback synchronously.
fn jmp_points(insns: &[RawInsn]) -> Vec<bool> {
    let n = insns.len();
    let mut jp = vec![false; n];
    let mut mark = |t: i64| {
        if let Some(p) = usize::try_from(t).ok().and_then(|t| jp.get_mut(t)) {
            *p = true;
        }
    };
    let mut pc = 0usize;
    while let Some(i) = insns.get(pc) {
        let t = pc as i64;
        let class = i.code & 7;
        let op = i.code & 0xf0;
        let size = if i.code == 0x18 { 2 } else { 1 };
        if i.code == 0x18 && i.src == 4 {
            // A callback's reference: visited as a call.
            mark(t + 2);
            mark(t + i.imm as i64 + 1);
        } else if class == 0x05 || class == 0x06 {
            match op {
                0x90 => {}
                0x80 => {
                    mark(t + 1);
                    if i.src == 1 {
                        mark(t + i.imm as i64 + 1);
                    }
                    if i.src == 0 && crate::callbacks::is_sync_callback_helper(i.imm) {
                        mark(t);
                    }
                }
                0x00 => {
                    // ja / gotol (BPF_JMP32 | BPF_JA takes imm).
                    let off = if class == 0x06 {
                        i.imm as i64
                    } else {
                        i.off as i64
                    };
                    mark(t + off + 1);
                }
                _ => mark(t + i.off as i64 + 1),
            }
        }
        pc += size;
    }
    jp
}

/// A scalar linked to a conditional jump's operand (`struct linked_reg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkedReg {
    Reg { frame: usize, r: usize },
    Slot { frame: usize, spi: usize },
}

/// At most this many linked scalars are kept per jump (`LINKED_REGS_MAX`).
const LINKED_REGS_MAX: usize = 6;

impl Env<'_> {
    /// `collect_linked_regs` for the jump's source operand (when it is a
    /// register) and then its destination: from the innermost frame out,
    /// the live registers (before the frame's instruction) and the spilled
    /// slots whose scalar shares the operand's id. Past the cap, a scalar
    /// loses its id (it is no longer linked).
    fn collect_linked(&mut self, dst: &RegState, src: Option<&RegState>) -> Vec<LinkedReg> {
        let mut out = Vec::new();
        let ids = [
            src.filter(|s| s.is_scalar()).map(|s| s.id),
            dst.is_scalar().then_some(dst.id),
        ];
        let last = self.cur.frames.len() - 1;
        let pc = self.pc;
        for id in ids.into_iter().flatten() {
            let id = id & !BPF_ADD_CONST;
            if id == 0 {
                continue;
            }
            for k in (0..=last).rev() {
                let at = if k == last {
                    pc
                } else {
                    self.cur.frames.get(k + 1).map_or(pc, |f| f.callsite)
                };
                let live = self.live.get(at).copied().unwrap_or(u16::MAX);
                let Some(f) = self.cur.frames.get_mut(k) else {
                    continue;
                };
                let mut take = |reg: &mut RegState, e: LinkedReg| {
                    if !reg.is_scalar() || reg.id & !BPF_ADD_CONST != id {
                        return;
                    }
                    if out.len() < LINKED_REGS_MAX {
                        out.push(e);
                    } else {
                        reg.id = 0;
                    }
                };
                for (j, reg) in f.regs.iter_mut().enumerate().take(10) {
                    if live & (1 << j) != 0 {
                        take(reg, LinkedReg::Reg { frame: k, r: j });
                    }
                }
                for (spi, s) in f.stack.iter_mut().enumerate() {
                    if s.is_spill() {
                        take(&mut s.spilled, LinkedReg::Slot { frame: k, spi });
                    }
                }
            }
        }
        out
    }
}

/// Sets register `r` to the refined scalar `v`, and the scalars linked to
/// it (`sync_linked_regs` over the jump's `linked`): a copy (same id, same
/// delta) becomes a copy of `r`; one at another delta from the same base
/// (`BPF_ADD_CONST`) becomes `r` plus the difference of the deltas,
/// keeping its own id and delta.
fn set_linked(st: &mut VState, r: usize, v: Scalar, linked: &[LinkedReg]) {
    st.reg_mut(r).val = v;
    let known = *st.reg(r);
    let base = known.id & !BPF_ADD_CONST;
    if base == 0 {
        return;
    }
    let fi = st.frames.len() - 1;
    let sync = |reg: &mut RegState| {
        if !reg.is_scalar() || reg.id & !BPF_ADD_CONST != base {
            return;
        }
        // A 32-bit delta and a 64-bit one do not add up: no refinement.
        if (reg.id | known.id) & BPF_ADD_CONST == BPF_ADD_CONST {
            return;
        }
        let no_delta = reg.id & BPF_ADD_CONST == 0 && known.id & BPF_ADD_CONST == 0;
        if no_delta || reg.off == known.off {
            *reg = known;
            return;
        }
        let delta = i64::from(reg.off) - i64::from(known.off);
        let mut val = crate::alu::scalar_alu(
            AluOp::Add,
            true,
            &known.val,
            &Scalar::constant(delta as u64),
        );
        // Both values are 32-bit when either came from a 32-bit add.
        if (reg.id | known.id) & BPF_ADD_CONST32 != 0 {
            val.zext32();
            val.sync();
        }
        *reg = RegState {
            val,
            id: reg.id,
            off: reg.off,
            ..known
        };
    };
    for e in linked {
        let reg = match *e {
            LinkedReg::Reg { frame, r: j } if !(frame == fi && j == r) => {
                st.frames.get_mut(frame).and_then(|f| f.regs.get_mut(j))
            }
            LinkedReg::Slot { frame, spi } => st
                .frames
                .get_mut(frame)
                .and_then(|f| f.stack.get_mut(spi))
                .filter(|s| s.is_spill())
                .map(|s| &mut s.spilled),
            LinkedReg::Reg { .. } => None,
        };
        if let Some(reg) = reg {
            sync(reg);
        }
    }
}

/// `mark_ptr_or_null_regs`: every register with `id` becomes the scalar 0
/// (`is_null`) or loses `PTR_MAYBE_NULL`; a non-null value of a map of maps
/// (`map_in_map`: the map index of its inner-map template) is that map.
pub(crate) fn mark_ptr_or_null_in(
    st: &mut VState,
    id: u32,
    is_null: bool,
    map_in_map: Option<(u32, u32)>,
    keep_id: bool,
) {
    if id == 0 {
        return;
    }
    let mut released = None;
    st.for_each_reg(|r| {
        if r.id != id || !r.maybe_null {
            return;
        }
        if is_null {
            // Only the object itself, not a slice sharing its reference
            // (`bpf_dynptr_data`'s), goes with the NULL branch.
            if r.ref_obj_id != 0 && r.ref_obj_id == id {
                released = Some(r.ref_obj_id);
            }
            *r = RegState::constant(0);
        } else {
            r.maybe_null = false;
            // A value with a bpf_spin_lock keeps the id naming its
            // element (reg_may_point_to_spin_lock).
            if !keep_id {
                r.id = 0;
            }
            if let Some((outer, inner)) = map_in_map {
                if r.ty == RegType::MapValue && r.map == outer {
                    r.ty = RegType::ConstPtrToMap;
                    r.map = inner;
                }
            }
        }
    });
    if let Some(rid) = released {
        st.remove_ref(rid);
    }
}

/// `find_good_pkt_pointers`: packet pointers with `pkt`'s id get `range`.
/// `is_pkt_ptr_branch_taken`: a packet pointer known to be past the end
/// (or at it) decides its comparison with `pkt_end`.
fn pkt_ptr_branch_taken(op: JmpOp, a: &RegState, b: &RegState) -> Option<bool> {
    let (pkt, op) = if b.ty == RegType::PacketEnd {
        (a, op)
    } else if a.ty == RegType::PacketEnd {
        (b, branch::flip(op))
    } else {
        return None;
    };
    if pkt.range >= 0 {
        return None;
    }
    match op {
        JmpOp::Jle | JmpOp::Jgt if pkt.range == BEYOND_PKT_END => Some(op == JmpOp::Jgt),
        JmpOp::Jlt | JmpOp::Jge if pkt.range == BEYOND_PKT_END || pkt.range == AT_PKT_END => {
            Some(op == JmpOp::Jge)
        }
        _ => None,
    }
}

fn find_good_pkt_pointers(st: &mut VState, pkt: &RegState, range: i32) {
    if range < 0 {
        return;
    }
    if pkt.val.umax.saturating_add(pkt.off.max(0) as u64) > 0xffff {
        return;
    }
    let (ty, id) = (pkt.ty, pkt.id);
    st.for_each_reg(|r| {
        if r.ty == ty && r.id == id && r.range < range {
            r.range = range;
        }
    });
}

/// Maps ids of an old state to ids of the current one (`check_ids`).
#[derive(Default)]
struct IdMap(Vec<(u32, u32)>, u32);

impl IdMap {
    /// `check_scalar_ids`: a scalar without an id gets a fresh one of its
    /// own, so two unlinked scalars cannot map onto one linked pair.
    fn check_scalar(&mut self, old: u32, cur: u32) -> bool {
        let mut fresh = || {
            self.1 += 1;
            // Above every id the verifier hands out and clear of the
            // BPF_ADD_CONST bits, which real ids carry.
            0x2000_0000 | self.1
        };
        let old = if old == 0 { fresh() } else { old };
        let cur = if cur == 0 { fresh() } else { cur };
        self.check(old, cur)
    }

    fn check(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 && cur == 0 {
            return true;
        }
        if old == 0 || cur == 0 {
            return false;
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

fn range_within(old: &Scalar, cur: &Scalar) -> bool {
    old.umin <= cur.umin
        && old.umax >= cur.umax
        && old.smin <= cur.smin
        && old.smax >= cur.smax
        && old.u32_min <= cur.u32_min
        && old.u32_max >= cur.u32_max
        && old.s32_min <= cur.s32_min
        && old.s32_max >= cur.s32_max
}

/// `states_maybe_looping`: the current frame's registers are bit for bit
/// those of the old state (the kernel compares them with `memcmp` up to
/// `frameno`: ids as they are, not mapped, precision left out). Only then
/// is the exact `states_equal` asked whether the loop is infinite; a loop
/// whose body gives its scalars fresh ids (`r7 = r6` after `r6 += 1`)
/// never is, and runs to the insn limit as in the kernel.
fn states_maybe_looping(old: &VState, cur: &VState) -> bool {
    if old.frames.len() != cur.frames.len() {
        return false;
    }
    let strip = |r: &RegState| {
        let mut r = *r;
        r.precise = false;
        r.frameno = 0;
        r
    };
    old.cur()
        .regs
        .iter()
        .zip(cur.cur().regs.iter())
        .all(|(a, b)| strip(a) == strip(b))
}

/// `regs_exact` for scalars: the same value, ids mapped.
fn scalar_exact(old: &RegState, cur: &RegState, ids: &mut IdMap) -> bool {
    old.ty == cur.ty && old.val == cur.val && old.off == cur.off && ids.check(old.id, cur.id)
}

/// `regsafe`: every continuation safe from `old` is safe from `cur`. An
/// imprecise scalar in `old` matches any scalar (`all_precise`: an
/// unprivileged program's scalars all are precise).
fn regsafe(
    old: &RegState,
    cur: &RegState,
    ids: &mut IdMap,
    exact: bool,
    all_precise: bool,
) -> bool {
    if exact {
        return old.ty == cur.ty
            && old.val == cur.val
            && old.off == cur.off
            && old.maybe_null == cur.maybe_null
            && old.range == cur.range
            && old.map == cur.map
            && (old.btf_id, old.btf_flags) == (cur.btf_id, cur.btf_flags)
            && ids.check(old.id, cur.id)
            && ids.check(old.ref_obj_id, cur.ref_obj_id);
    }
    if old.ty == RegType::NotInit {
        return true;
    }
    if cur.ty == RegType::NotInit || old.ty != cur.ty {
        return false;
    }
    if old.ty == RegType::Scalar {
        if scalar_exact(old, cur, ids) {
            return true;
        }
        if !old.precise && !all_precise {
            return true;
        }
        // A link with a delta is only the same link at the same delta.
        if old.id & BPF_ADD_CONST != cur.id & BPF_ADD_CONST
            || (old.id & BPF_ADD_CONST != 0 && old.off != cur.off)
        {
            return false;
        }
        return ids.check_scalar(old.id, cur.id)
            && range_within(&old.val, &cur.val)
            && old.val.var_off.contains(cur.val.var_off);
    }
    old.maybe_null == cur.maybe_null
        && old.rdonly == cur.rdonly
        && old.ringbuf == cur.ringbuf
        && old.off == cur.off
        && old.map == cur.map
        && old.mem_size == cur.mem_size
        // A slice's dynptr type, dynptr and stack buffer, exactly.
        && old.dynptr == cur.dynptr
        && old.frameno == cur.frameno
        && old.subprog == cur.subprog
        && (old.btf_id, old.btf_flags) == (cur.btf_id, cur.btf_flags)
        && (if old.range < 0 || cur.range < 0 {
            // AT_PKT_END / BEYOND_PKT_END only match themselves.
            old.range == cur.range
        } else {
            old.range <= cur.range
        })
        && range_within(&old.val, &cur.val)
        && old.val.var_off.contains(cur.val.var_off)
        && ids.check(old.id, cur.id)
        && ids.check(old.ref_obj_id, cur.ref_obj_id)
}

/// `scalar_reg_for_stack`: a full 8-byte scalar spill is that scalar; eight
/// bytes of `STACK_MISC` (or never written, when uninitialised stack may be
/// read) are an unknown imprecise scalar; anything else is not a scalar.
fn scalar_for_stack(s: &StackSlot, allow_uninit: bool) -> Option<RegState> {
    if s.ty.iter().all(|t| *t == SlotType::Spill) && s.spilled.is_scalar() {
        return Some(s.spilled);
    }
    let misc = |t: &SlotType| *t == SlotType::Misc || (allow_uninit && *t == SlotType::Invalid);
    if s.ty.iter().all(misc) {
        return Some(RegState::unknown());
    }
    None
}

/// `stacksafe`: byte by byte, an old slot never written (or, with
/// uninitialised stack readable, holding `STACK_MISC`) matches anything;
/// otherwise the bytes must agree (`STACK_MISC` covers `STACK_ZERO`) and a
/// spilled register must be `regsafe`.
fn stacksafe(
    old: &FuncState,
    cur: &FuncState,
    ids: &mut IdMap,
    exact: bool,
    allow_uninit: bool,
    all_precise: bool,
) -> bool {
    if exact {
        return old.stack.len() == cur.stack.len()
            && old.stack.iter().zip(&cur.stack).all(|(a, b)| {
                a.ty == b.ty
                    && (!a.is_spill() || regsafe(&a.spilled, &b.spilled, ids, true, all_precise))
                    && (a.ty[0] != SlotType::Iter
                        || (crate::iter::iter_slot_safe(&a.spilled, &b.spilled)
                            && ids.check(a.spilled.ref_obj_id, b.spilled.ref_obj_id)))
                    && (a.ty[0] != SlotType::Dynptr
                        || (crate::dynptr::dynptr_slot_safe(&a.spilled, &b.spilled)
                            && ids.check(a.spilled.ref_obj_id, b.spilled.ref_obj_id)))
            });
    }
    for (spi, os) in old.stack.iter().enumerate() {
        if os.ty[0] == SlotType::Iter {
            // STACK_ITER: the same iterator, its depth aside.
            let Some(cs) = cur.stack.get(spi) else {
                return false;
            };
            if cs.ty[0] != SlotType::Iter
                || !crate::iter::iter_slot_safe(&os.spilled, &cs.spilled)
                || !ids.check(os.spilled.ref_obj_id, cs.spilled.ref_obj_id)
            {
                return false;
            }
            continue;
        }
        let mut j = 0;
        while j < BPF_REG_SIZE {
            let Some(&ot) = os.ty.get(j) else {
                break;
            };
            if ot == SlotType::Invalid || (allow_uninit && ot == SlotType::Misc) {
                j += 1;
                continue;
            }
            let Some(cs) = cur.stack.get(spi) else {
                return false;
            };
            if let (Some(o), Some(c)) = (
                scalar_for_stack(os, allow_uninit),
                scalar_for_stack(cs, allow_uninit),
            ) {
                if !regsafe(&o, &c, ids, false, all_precise) {
                    return false;
                }
                break;
            }
            let Some(&ct) = cs.ty.get(j) else {
                return false;
            };
            if !(ot == ct || ot == SlotType::Misc && ct == SlotType::Zero) {
                return false;
            }
            if j == BPF_REG_SIZE - 1
                && os.is_spill()
                && !regsafe(&os.spilled, &cs.spilled, ids, false, all_precise)
            {
                return false;
            }
            // STACK_DYNPTR: the same dynptr slot, references that match.
            if j == BPF_REG_SIZE - 1
                && ot == SlotType::Dynptr
                && !(crate::dynptr::dynptr_slot_safe(&os.spilled, &cs.spilled)
                    && ids.check(os.spilled.ref_obj_id, cs.spilled.ref_obj_id))
            {
                return false;
            }
            j += 1;
        }
    }
    true
}

/// `states_equal`: `old` (fully explored, or an ancestor when `exact`)
/// covers `cur`. Registers of the current frame outside `live` (never read
/// before being written again) are not compared. Without precision
/// tracking (`all_precise`) every scalar compares as precise; with it,
/// uninitialised stack is readable (privileged) and compares as
/// `STACK_MISC`.
/// `live`: the registers live before each instruction and the state's
/// instruction; a frame's dead registers (before its instruction, or an
/// outer frame's before its call site: `frame_insn_idx`) are not compared
/// (`func_states_equal`). `None`: every register is.
fn states_equal(
    old: &VState,
    cur: &VState,
    exact: bool,
    live: Option<(&[u16], usize)>,
    all_precise: bool,
) -> bool {
    // A speculative path never prunes one the CPU runs for real.
    if old.speculative && !cur.speculative {
        return false;
    }
    if old.frames.len() != cur.frames.len()
        || old.refs.len() != cur.refs.len()
        || old.active_rcu_lock != cur.active_rcu_lock
        || old.active_preempt_locks != cur.active_preempt_locks
        || old.active_irqs.len() != cur.active_irqs.len()
    {
        return false;
    }
    let mut ids = IdMap::default();
    for (a, b) in old
        .refs
        .iter()
        .zip(&cur.refs)
        .chain(old.active_irqs.iter().zip(&cur.active_irqs))
    {
        if !ids.check(a.id, b.id) {
            return false;
        }
    }
    // The held locks: the same kinds and maps, elements with matching ids.
    if old.active_locks.len() != cur.active_locks.len() {
        return false;
    }
    for (a, b) in old.active_locks.iter().zip(&cur.active_locks) {
        if a.map != b.map
            || a.res != b.res
            || a.refs_before != b.refs_before
            || !ids.check(a.id, b.id)
        {
            return false;
        }
    }
    let allow_uninit = !all_precise;
    let last = old.frames.len() - 1;
    for (k, (fo, fc)) in old.frames.iter().zip(&cur.frames).enumerate() {
        // More bpf_loop iterations unrolled in the old state: not covered.
        if fo.callsite != fc.callsite || fo.callback_depth > fc.callback_depth {
            return false;
        }
        let mask = live.map_or(u16::MAX, |(regs, pc)| {
            let at = if k == last {
                pc
            } else {
                old.frames.get(k + 1).map_or(pc, |f| f.callsite)
            };
            regs.get(at).copied().unwrap_or(u16::MAX)
        });
        for (r, (ro, rc)) in fo.regs.iter().zip(&fc.regs).enumerate() {
            if r < 10 && mask & (1 << r) == 0 {
                continue;
            }
            if !regsafe(ro, rc, &mut ids, exact, all_precise) {
                return false;
            }
        }
        if !stacksafe(fo, fc, &mut ids, exact, allow_uninit, all_precise) {
            return false;
        }
    }
    true
}

/// One step of a replayed path: the instruction, the frame it ran in and
/// the verifier state before and after it.
#[derive(Clone, Debug)]
pub struct TraceStep {
    /// The instruction index.
    pub insn: u32,
    /// The call frame (0: the main program) the instruction ran in.
    pub frame: u32,
    /// The state before the instruction.
    pub before: VState,
    /// The state after it; `None` at the failing (last) instruction.
    pub after: Option<VState>,
}

/// Why a path could not be replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The program fails its structure checks, so no path exists.
    #[error("the program fails its structure checks: {0}")]
    Structure(String),
    /// The path does not start at instruction 0.
    #[error("the path does not start at insn 0 (it starts at insn {0})")]
    BadStart(u32),
    /// The path leaves an instruction for one its step cannot reach.
    #[error("insn {from} cannot be followed by insn {to} on this path")]
    Diverged {
        /// The instruction where the path and the replay part.
        from: u32,
        /// Where the path goes next.
        to: u32,
    },
    /// An instruction before the last one was refused.
    #[error("insn {insn} is refused before the path's end: {message}")]
    EarlyRejection {
        /// The refused instruction.
        insn: u32,
        /// The verifier's message.
        message: String,
    },
}

/// Re-runs exploration along exactly `path` (a [`Rejection::path`]), with
/// pruning and logging off, taking at each conditional jump the edge the
/// path takes, and records each step's state. Nothing of this runs unless
/// called. `keep` bounds how many of the last steps keep their states
/// (`usize::MAX`: all), for the million-instruction paths of programs too
/// complex to verify.
pub fn replay_path(
    insns: &[RawInsn],
    opts: &VerifyOptions,
    desc: Option<&ProgTypeDesc>,
    path: &[u32],
    keep: usize,
) -> Result<Vec<TraceStep>, ReplayError> {
    let mut quiet = opts.clone();
    quiet.log_level = 0;
    let mut log = String::new();
    let cfg = crate::cfg::check(insns, &quiet, &mut log)
        .map_err(|r| ReplayError::Structure(r.to_string()))?;
    if let Some(&first) = path.first() {
        if first != 0 {
            return Err(ReplayError::BadStart(first));
        }
    }
    let mut env = Env::new(insns, &quiet, desc, cfg, String::new());
    let mut out = Vec::new();
    let first_kept = path.len().saturating_sub(keep);
    for (i, &pc) in path.iter().enumerate() {
        env.pc = pc as usize;
        let frame = env.cur.frames.len().saturating_sub(1) as u32;
        let before = (i >= first_kept).then(|| env.cur.clone());
        let last = i + 1 == path.len();
        if last {
            if let Some(before) = before {
                out.push(TraceStep {
                    insn: pc,
                    frame,
                    before,
                    after: None,
                });
            }
            break;
        }
        let Some(&want) = path.get(i + 1) else {
            break;
        };
        let want = want as usize;
        let insn = match env.decoded.get(pc as usize) {
            Some(Some(Ok(i))) => *i,
            _ => {
                return Err(ReplayError::EarlyRejection {
                    insn: pc,
                    message: "not a valid instruction".into(),
                })
            }
        };
        let queued = env.pending.len();
        let next = env.step(&insn).map_err(|r| ReplayError::EarlyRejection {
            insn: pc,
            message: r.message.clone(),
        })?;
        env.returned = false;
        if next != Some(want) {
            // The path takes the queued edge.
            let pos = env
                .pending
                .get(queued..)
                .unwrap_or_default()
                .iter()
                .rposition(|p| p.insn == want)
                .ok_or(ReplayError::Diverged {
                    from: pc,
                    to: want as u32,
                })?;
            let p = env.pending.remove(queued + pos);
            env.cur = p.st;
        }
        env.pending.truncate(queued);
        if let Some(before) = before {
            out.push(TraceStep {
                insn: pc,
                frame,
                before,
                after: Some(env.cur.clone()),
            });
        }
    }
    Ok(out)
}
