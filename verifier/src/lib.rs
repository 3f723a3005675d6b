//! ironbpf's verifier: abstract interpretation of a BPF program as the Linux
//! 6.18 verifier does it, with the kernel's verdicts, error texts and log.
//!
//! The scalar domain (the kernel's `tnum` and the four ranges kept in sync)
//! lives in [`tnum`], [`scalar`], [`alu`] and [`branch`]; the rest of the
//! crate is built on it: [`cfg`](mod@cfg) (the structure checks before any state:
//! subprograms, jumps, opcodes, the CFG walk), [`state`] (registers, stack
//! slots, frames and how the log prints them), the exploration loop with
//! its branch stack and state pruning (`check`), [`ptr`] (ALU and pointer
//! arithmetic), [`mem`] (loads, stores and atomics per pointer type),
//! [`calls`] (helpers, bpf-to-bpf calls, tail calls, the exit check) and
//! [`liveness`] (live registers, for pruning and the level-2 table). The
//! entry point is [`verify`]: it takes the raw instruction slots (map
//! references already rewritten to `BPF_PSEUDO_MAP_IDX` /
//! `BPF_PSEUDO_MAP_IDX_VALUE` indexes into [`VerifyOptions::maps`]) and
//! answers with the verdict, the log the kernel would have printed and the
//! statistics line's figures.
//!
//! Helper calls are checked against the prototype the program type gets
//! (`ironbpf_helpers::catalog::func_proto`, with the kernel's refusals), the
//! per-helper checks of `catalog::call_check` and the map/helper
//! compatibility of `ironbpf_helpers::map_compat`.
//!
//! BTF-typed contexts (tracing and LSM programs) and `PTR_TO_BTF_ID`
//! loads are checked against the running kernel's BTF
//! ([`vmlinux`], `btf_access`): `btf_ctx_access`, `btf_struct_walk` and
//! the trusted/untrusted/RCU flags of Linux 6.18.
//!
//! Global functions (a BTF FUNC of global linkage in
//! [`VerifyOptions::func_info`]) are verified once against their prototype
//! ([`global_func`]); the callbacks of `bpf_loop` and
//! `bpf_for_each_map_elem` are verified as the kernel iterates them
//! (`callbacks`).
//!
//! kfunc calls (`BPF_PSEUDO_KFUNC_CALL`) are checked against their
//! prototype in vmlinux BTF, the program types that may call them (a
//! table probed from the kernel, [`kfunc_table`]) and their `KF_*` flags:
//! references acquired and released through kfuncs, RCU read sections
//! (`bpf_rcu_read_lock`/`unlock`) and open-coded iterators
//! (`bpf_iter_num`, `bpf_iter_task`, `bpf_iter_css`: `bpf_for`,
//! `bpf_repeat`) with the kernel's loop convergence; dynptrs
//! ([`dynptr`]: local, ring buffer, skb and xdp ones on the stack, their
//! helpers and kfuncs, slices and clones, `bpf_user_ringbuf_drain`'s).
//!
//! Not modelled, and refused with a message saying so rather than guessed:
//! kfuncs with rules of their own (allocated objects, lists and rbtrees,
//! arena, casts, locks) or whose flags are not recorded, module
//! kfuncs, module variables by BTF id (vmlinux ones: `ksym`), the callbacks of `bpf_timer` and
//! `bpf_find_vma`, socket field layouts,
//! constant strings, per-CPU BTF helper arguments, `bpf_spin_lock`/`bpf_timer` fields,
//! kptrs, and helper results that are BTF-typed references or
//! per-CPU memory. Not
//! modelled and not refused: BTF beyond function prototypes (map values
//! have no special fields; `arg:` decl tags are refused), the contents of
//! read-only maps (loads from them are unknown scalars), precision
//! tracking and stack liveness (pruning is weaker than the kernel's, so
//! state counts and, on some programs, processed counts differ), and the
//! unprivileged Spectre sanitation.

// A rejection carries its failing path (`Rejection::path`), which puts it
// over clippy's 128-byte bound for an `Err`; it is only built on the
// failing path, once per verification.
#![allow(clippy::result_large_err)]
// No panic on any program (issue 14): a table lookup the verifier proved
// in range uses `get` with a `verifier bug` refusal (`Rejection::internal`),
// or allows the lint on its one item with the reason it holds.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod alu;
pub mod branch;
mod btf_access;
pub mod btf_record;
mod callbacks;
pub mod calls;
pub mod cfg;
mod check;
pub mod dynptr;
pub mod error;
mod exception;
pub mod explain;
pub mod global_func;
mod irq;
mod iter;
mod kfunc;
pub mod kfunc_table;
mod ksym;
pub mod liveness;
mod map_fields;
pub mod may_goto;
pub mod mem;
pub(crate) mod obj_new;
mod precision;
pub mod ptr;
mod rcu;
pub mod scalar;
mod scc;
mod sock_access;
pub mod spin_lock;
mod stack_live;
pub mod state;
mod struct_ops;
mod timer;
pub mod tnum;
pub mod vmlinux;

pub use check::{replay_path, ReplayError, TraceStep, MAX_LOG_BYTES};

pub use error::RejectionKind;
pub use global_func::FuncInfoRec;

use ironbpf_isa::RawInsn;
use ironbpf_progtype::desc::ProgTypeDesc;
use ironbpf_progtype::{AttachType, ProgTypeId};

/// A map the program refers to, as the kernel knows it from `BPF_MAP_CREATE`
/// (what `struct bpf_map` gives the verifier).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// The map's name (printed as `map=<name>` in the log).
    pub name: String,
    /// `BPF_MAP_TYPE_*` (see `ironbpf_maps::map_type_name`).
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` creation flags (`BPF_F_RDONLY_PROG`, `BPF_F_WRONLY_PROG`...).
    pub map_flags: u32,
    /// The map was frozen and is read-only to programs (a `.rodata` map):
    /// loads from its values are constants and stores are refused.
    pub frozen_readonly: bool,
    /// The special fields of the value (`bpf_spin_lock`, `bpf_timer`,
    /// kptrs...), from its BTF type: see [`btf_record::BtfRecord::parse`].
    /// The default is a value without BTF.
    pub record: btf_record::BtfRecord,
}

/// How to verify: what `BPF_PROG_LOAD`'s attributes and the loader's
/// capabilities tell the kernel.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// `prog_type`.
    pub prog_type: ProgTypeId,
    /// `expected_attach_type`, where the type has one.
    pub attach_type: Option<AttachType>,
    /// `log_level`: 0, 1 or 2, with bit 4 (`BPF_LOG_STATS`) for the stats
    /// lines.
    pub log_level: u32,
    /// Whether the loader has CAP_BPF and CAP_PERFMON (`bpf_capable`,
    /// `allow_ptr_leaks`, `bypass_spec_v1`): loops, 1M instructions, pointer
    /// leaks and uninitialised stack reads are allowed then.
    pub privileged: bool,
    /// `BPF_F_STRICT_ALIGNMENT`.
    pub strict_alignment: bool,
    /// The license is GPL-compatible (GPL-only helpers may be called).
    pub gpl: bool,
    /// `BPF_F_SLEEPABLE`: helpers that might sleep may be called.
    pub sleepable: bool,
    /// The name of the BTF function or hook the program attaches to
    /// (`attach_btf_id`), for the helpers only some hooks may call
    /// (`bpf_d_path`, `bpf_ima_*`).
    pub attach_btf: Option<String>,
    /// The maps, indexed by `BPF_PSEUDO_MAP_IDX` / the fd_array slot.
    pub maps: Vec<MapInfo>,
    /// For a map of maps (`array_of_maps`, `hash_of_maps`) at index `i` of
    /// [`VerifyOptions::maps`], `inner_maps[i]` is its inner-map template
    /// (what a lookup gives after its null check); empty or `None`
    /// elsewhere.
    pub inner_maps: Vec<Option<MapInfo>>,
    /// An embedder's own helpers, `(id, name, prototype)`: a call to one of
    /// these ids is checked against its prototype, whatever the program
    /// type, before the kernel's table is asked.
    pub extra_helpers: Vec<(i32, String, ironbpf_helpers::proto::Proto)>,
    /// `attach_btf_id`: the id in the running kernel's vmlinux BTF of what
    /// a BTF-typed program (tp_btf, fentry, fexit, fmod_ret, lsm, iter)
    /// attaches to. Without it the target is looked up by
    /// [`VerifyOptions::attach_btf`]'s name.
    pub attach_btf_id: Option<u32>,
    /// The program's BTF (`prog_btf_fd`), for the prototypes of its
    /// functions; `None`: loaded without BTF.
    pub btf: Option<std::sync::Arc<ironbpf_btf::Btf>>,
    /// `func_info`: one record per subprogram, in order, naming its BTF
    /// FUNC. Without it (or without [`VerifyOptions::btf`]) every
    /// subprogram is static, as the kernel treats them; with it, a FUNC
    /// of global linkage is verified once against its prototype.
    pub func_info: Vec<FuncInfoRec>,
    /// The contents of the maps that are frozen and read-only to programs
    /// (`BPF_F_RDONLY_PROG`, then `BPF_MAP_FREEZE`: `.rodata`, `.kconfig`),
    /// by index into [`VerifyOptions::maps`]: a load at a constant offset
    /// of such an array map's value is the constant stored there, as the
    /// kernel's `bpf_map_direct_read` reads it, so branches on `const
    /// volatile` settings are decided. `None` or missing: the contents are
    /// unknown and such loads are unknown scalars.
    pub frozen_values: Vec<Option<Vec<u8>>>,
    /// The kernel's `nr_cpu_ids`: `bpf_get_smp_processor_id` returns a
    /// number below it. [`VerifyOptions::new`] takes this machine's
    /// ([`host_nr_cpu_ids`]); an embedder that runs programs on other CPU
    /// slots must give at least the highest slot plus one.
    pub nr_cpu_ids: u32,
}

/// This machine's `nr_cpu_ids`: one more than the highest CPU of
/// `/sys/devices/system/cpu/possible` (`0-3`, `0-3,8-11`...), read once.
/// Where that file cannot be read, the number of CPUs the process may use,
/// or 1.
pub fn host_nr_cpu_ids() -> u32 {
    static N: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .ok()
            .and_then(|s| parse_cpu_list_max(&s))
            .and_then(|max| max.checked_add(1))
            .or_else(|| {
                std::thread::available_parallelism()
                    .ok()
                    .and_then(|n| u32::try_from(n.get()).ok())
            })
            .unwrap_or(1)
    })
}

/// The highest CPU of a kernel CPU list (`0-3,8-11` -> 11).
fn parse_cpu_list_max(s: &str) -> Option<u32> {
    s.trim()
        .split(',')
        .filter_map(|part| part.rsplit('-').next()?.trim().parse::<u32>().ok())
        .max()
}

impl VerifyOptions {
    /// Privileged options for a program type, level-1 log, no maps.
    pub fn new(prog_type: ProgTypeId) -> Self {
        VerifyOptions {
            prog_type,
            attach_type: None,
            log_level: 1,
            privileged: true,
            strict_alignment: false,
            gpl: true,
            sleepable: false,
            attach_btf: None,
            maps: Vec::new(),
            inner_maps: Vec::new(),
            extra_helpers: Vec::new(),
            attach_btf_id: None,
            btf: None,
            func_info: Vec::new(),
            frozen_values: Vec::new(),
            nr_cpu_ids: host_nr_cpu_ids(),
        }
    }
}

/// Why the program was refused: the instruction, the kernel's error line and
/// errno, and the failed condition with the register and state that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The instruction at fault (`None` for whole-program errors such as the
    /// size limit).
    pub insn: Option<usize>,
    /// The kernel's error line, exactly as its log prints it (no newline).
    pub message: String,
    /// The errno `BPF_PROG_LOAD` would fail with (`EACCES`, `EINVAL`, `E2BIG`...).
    pub errno: i32,
    /// The failed condition.
    pub kind: RejectionKind,
    /// The instruction indices of the failing path from the program's entry,
    /// in the order executed (bpf-to-bpf calls included), ending with the
    /// failing instruction; empty for rejections before exploration (the
    /// CFG and structure checks) and after it (the stack-depth check).
    pub path: Vec<u32>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.insn {
            Some(i) => write!(f, "insn {i}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Rejection {}

/// The figures of the kernel's statistics lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `processed N insns`.
    pub processed_insns: u64,
    /// `max_states_per_insn`.
    pub max_states_per_insn: u64,
    /// `total_states`.
    pub total_states: u64,
    /// `peak_states`.
    pub peak_states: u64,
    /// `mark_read`.
    pub mark_read: u64,
    /// `stack depth A+B+...`: one value per subprogram.
    pub stack_depths: Vec<u32>,
    /// `verification time N usec`: the wall time of the whole verification
    /// (structure checks, exploration, the log's end), as the kernel
    /// measures its `bpf_check`.
    pub verification_time_usec: u64,
    /// The most bytes the verifier's states held at once: every remembered
    /// state (kept for the parent chains until the end), the branch stack
    /// and the state being explored, counted from their sizes (the kernel
    /// prints no such figure).
    pub peak_memory_bytes: u64,
}

/// What the verifier proved, per instruction, for engines that want to use
/// it (a JIT can drop bounds checks on proven accesses and skip dead
/// branches).
///
/// Only the verifier makes one (its fields are private, there is no
/// `Default`): holding a `VerifiedProgram` is holding the verifier's word
/// that the program it was made for is safe. [`VerifiedProgram::proves`]
/// tells whether it was made for given instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProgram {
    /// Per instruction slot: whether any explored path reached it.
    reached: Vec<bool>,
    /// Per slot: for a load/store, the access was proven in bounds on every
    /// path that reached it.
    safe_access: Vec<bool>,
    /// Per slot: the destination register's value after the instruction when
    /// it was the same constant on every path explored.
    const_result: Vec<Option<u64>>,
    /// Per slot: for a conditional jump, `Some(true)` when it was always
    /// taken, `Some(false)` when never, `None` when both or unreached.
    branch_always: Vec<Option<bool>>,
    /// Stack depth of each subprogram, in bytes (rounded up to 8 as the
    /// kernel reports it).
    stack_depths: Vec<u32>,
    /// The start instruction of each subprogram (`func#N @off`).
    subprog_starts: Vec<usize>,
    /// [`VerifiedProgram::digest_of`] the instructions verified.
    digest: u64,
}

impl VerifiedProgram {
    /// Per instruction slot: whether any explored path reached it.
    pub fn reached(&self) -> &[bool] {
        &self.reached
    }

    /// Per slot: for a load or store, whether the access was proven in
    /// bounds on every path that reached it.
    pub fn safe_access(&self) -> &[bool] {
        &self.safe_access
    }

    /// Per slot: the destination register's value after the instruction
    /// when it was the same constant on every path explored. After state
    /// pruning only input-free constants (`mov dst, imm`, a plain
    /// `ld_imm64`) are kept: a pruned path matched an explored state on
    /// precise registers only. Engines that fold constants should compute
    /// their own (the JIT does).
    pub fn const_result(&self) -> &[Option<u64>] {
        &self.const_result
    }

    /// Per slot, for a conditional jump: `Some(true)` always taken,
    /// `Some(false)` never, `None` both or unreached.
    pub fn branch_always(&self) -> &[Option<bool>] {
        &self.branch_always
    }

    /// The stack depth of each subprogram, in bytes (rounded up to 8 as the
    /// kernel reports it).
    pub fn stack_depths(&self) -> &[u32] {
        &self.stack_depths
    }

    /// The start instruction of each subprogram (`func#N @off`).
    pub fn subprog_starts(&self) -> &[usize] {
        &self.subprog_starts
    }

    /// How many instruction slots the proof covers.
    pub fn len(&self) -> usize {
        self.reached.len()
    }

    /// Whether the proof covers no slot (never, for an accepted program).
    pub fn is_empty(&self) -> bool {
        self.reached.is_empty()
    }

    /// Whether this is the proof of `insns`: the same number of slots and
    /// the same bytes (by a 64-bit FNV-1a digest, which tells apart two
    /// programs given by mistake, not an adversary's collision).
    pub fn proves(&self, insns: &[RawInsn]) -> bool {
        insns.len() == self.len() && Self::digest_of(insns) == self.digest
    }

    /// The digest [`VerifiedProgram::proves`] compares: FNV-1a over the
    /// slots' bytes.
    pub(crate) fn digest_of(insns: &[RawInsn]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for i in insns {
            for b in i.to_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
}

/// The verdict, the log and the statistics of one verification.
#[derive(Clone, Debug)]
pub struct VerifyOutcome {
    /// The program and its facts, or why it was refused.
    pub result: Result<VerifiedProgram, Rejection>,
    /// The log as the kernel prints it at `log_level` (empty at 0).
    pub log: String,
    /// The statistics.
    pub stats: Stats,
}

/// Verifies a program as Linux 6.18 would at `BPF_PROG_LOAD`, with the
/// built-in descriptor of [`VerifyOptions::prog_type`] for context accesses
/// and the return-value check.
pub fn verify(insns: &[RawInsn], opts: &VerifyOptions) -> VerifyOutcome {
    verify_with_desc(insns, opts, ProgTypeDesc::builtin(opts.prog_type))
}

/// [`verify`] with an explicit program-type descriptor (an embedder's own
/// type, or a built-in one). Without one, every context access is refused
/// with a message saying so.
pub fn verify_with_desc(
    insns: &[RawInsn],
    opts: &VerifyOptions,
    desc: Option<&ProgTypeDesc>,
) -> VerifyOutcome {
    let start = std::time::Instant::now();
    let mut log = String::new();
    // The structure checks in the kernel's order: the subprograms
    // (`add_subprog_and_kfunc`, `check_subprogs`), the func_info against
    // them (`check_btf_info`, before anything is explored), then the
    // instructions and the control flow (`resolve_pseudo_ldimm64`,
    // `check_cfg`).
    let (cfg, funcs) = match structure_checks(insns, opts, &mut log) {
        Ok(c) => c,
        Err((rej, subprog_cnt)) => {
            // The size limits are refused before the verifier runs: no log.
            let no_log = matches!(
                rej.kind,
                RejectionKind::TooManyInsns { .. } | RejectionKind::Empty
            );
            let stats = Stats {
                stack_depths: vec![0; subprog_cnt],
                ..Stats::default()
            };
            if opts.log_level != 0 && !no_log {
                log.push_str(&rej.message);
                log.push('\n');
                finish_log(&mut log, opts, &stats, start);
            }
            return VerifyOutcome {
                result: Err(rej),
                log: if no_log { String::new() } else { log },
                stats,
            };
        }
    };
    let mut env = check::Env::new(insns, opts, desc, cfg, log);
    env.funcs = funcs;
    // The main program, then the global functions it calls; at level 1
    // the log of each pass that passed is dropped, as the kernel does.
    let mut res = global_func::do_check_all(&mut env);
    let level = opts.log_level & 3;
    if res.is_ok() {
        res = exception::find_callback_insn(opts)
            .and_then(|cb| exception::check_direct_calls(insns, cb));
    }
    if res.is_ok() {
        res = env.check_max_stack_depth();
    }
    if res.is_ok() {
        env.add_loop_inline_stack();
        env.add_may_goto_stack();
    }
    let (mut stats, prog) = env.finish();
    if res.is_ok() {
        res = kfunc::check_weak_kfuncs(insns, prog.reached());
    }
    if res.is_ok() && opts.privileged {
        // opt_remove_dead_code: a subprogram no path reached is removed
        // before the statistics are printed, its stack depth with it.
        let starts = &prog.subprog_starts;
        stats.stack_depths = stats
            .stack_depths
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let lo = starts.get(*i).copied().unwrap_or(0);
                let hi = starts.get(i + 1).copied().unwrap_or(insns.len());
                *i == 0
                    || prog
                        .reached()
                        .get(lo..hi)
                        .is_some_and(|r| r.iter().any(|&x| x))
            })
            .map(|(_, d)| *d)
            .collect();
    }
    stats.verification_time_usec = start.elapsed().as_micros() as u64;
    let mut log = std::mem::take(&mut env.log);
    match &res {
        Ok(()) => {}
        Err(rej) => {
            if level != 0 {
                log.push_str(&rej.message);
                // The kernel prints this one without a newline, so the
                // statistics line sticks to it.
                if rej.message != "expected prog array map for tail call"
                    && !rej.message.ends_with("cannot call exception cb directly")
                {
                    log.push('\n');
                }
            }
        }
    }
    if opts.log_level != 0 {
        finish_log(&mut log, opts, &stats, start);
    }
    VerifyOutcome {
        result: res.map(|()| prog),
        log,
        stats,
    }
}

/// [`cfg::add_subprogs`], [`cfg::check_subprogs`],
/// [`global_func::build_table`] and [`cfg::check_insns`], in this order;
/// a refusal comes with the number of subprograms known by then, for the
/// `stack depth` line (none before they are all found).
fn structure_checks(
    insns: &[RawInsn],
    opts: &VerifyOptions,
    log: &mut String,
) -> Result<(cfg::Cfg, global_func::FuncTable), (Rejection, usize)> {
    let subprogs = cfg::add_subprogs(insns, opts, log).map_err(|r| (r, 0))?;
    let cnt = subprogs.len();
    cfg::check_subprogs(insns, &subprogs).map_err(|r| (r, cnt))?;
    let funcs = global_func::build_table(insns, &subprogs, opts).map_err(|r| (r, cnt))?;
    // check_attach_btf_id: for struct_ops, the type and member implemented.
    struct_ops::check(opts).map_err(|r| (r, cnt))?;
    let cfg = cfg::check_insns(insns, opts, subprogs).map_err(|r| (r, cnt))?;
    map_fields::check_map_prog_compat(insns, opts).map_err(|r| (r, cnt))?;
    Ok((cfg, funcs))
}

/// The statistics lines (`print_verification_stats`).
fn finish_log(log: &mut String, opts: &VerifyOptions, stats: &Stats, start: std::time::Instant) {
    use std::fmt::Write;
    if opts.log_level & 4 != 0 {
        let _ = writeln!(
            log,
            "verification time {} usec",
            start.elapsed().as_micros()
        );
        let depths: Vec<String> = if stats.stack_depths.is_empty() {
            vec!["0".into()]
        } else {
            stats.stack_depths.iter().map(|d| d.to_string()).collect()
        };
        let _ = writeln!(log, "stack depth {}", depths.join("+"));
    }
    let _ = writeln!(
        log,
        "processed {} insns (limit {}) max_states_per_insn {} total_states {} peak_states {} mark_read {}",
        stats.processed_insns,
        check::BPF_COMPLEXITY_LIMIT_INSNS,
        stats.max_states_per_insn,
        stats.total_states,
        stats.peak_states,
        stats.mark_read
    );
}
