//! The checks before abstract interpretation, in the kernel's order:
//! subprogram discovery (`add_subprog_and_kfunc`), jumps and subprogram
//! ends (`check_subprogs`), then (after the BTF func_info,
//! `global_func::build_table`) `ld_imm64` and opcode sanity
//! (`resolve_pseudo_ldimm64`), and the depth-first walk of the control-flow
//! graph (`check_cfg`) for unreachable instructions and, unprivileged,
//! back-edges.

use crate::error::RejectionKind;
use crate::{Rejection, VerifyOptions};
use ironbpf_isa::RawInsn;

/// `BPF_MAX_SUBPROGS`.
pub const BPF_MAX_SUBPROGS: usize = 256;

const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_JMP: u8 = 0x05;
const BPF_JMP32: u8 = 0x06;
const LD_IMM64: u8 = 0x18;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;
const BPF_JA: u8 = 0x00;

/// What the structure checks learned: the subprogram starts (sorted,
/// `[0]` = 0) and, per slot, whether it is the second slot of an `ld_imm64`.
#[derive(Clone, Debug, Default)]
pub struct Cfg {
    /// Start instruction of each subprogram.
    pub subprogs: Vec<usize>,
    /// Per slot: the second half of an `ld_imm64`.
    pub ldimm_tail: Vec<bool>,
    /// Per slot: a prune point (a jump target or the instruction after a
    /// conditional jump or call), where states are remembered.
    pub prune_point: Vec<bool>,
}

impl Cfg {
    /// The subprogram holding instruction `pc`.
    pub fn subprog_of(&self, pc: usize) -> usize {
        match self.subprogs.binary_search(&pc) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
    /// One past the last instruction of subprogram `i`.
    pub fn subprog_end(&self, i: usize) -> usize {
        self.subprogs
            .get(i + 1)
            .copied()
            .unwrap_or(self.ldimm_tail.len())
    }
}

fn class(code: u8) -> u8 {
    code & 0x07
}

fn op(code: u8) -> u8 {
    code & 0xf0
}

fn is_pseudo_call(i: &RawInsn) -> bool {
    i.code == (BPF_JMP | BPF_CALL) && i.src == 1
}

fn is_pseudo_func(i: &RawInsn) -> bool {
    i.code == LD_IMM64 && i.src == 4
}

fn is_kfunc_call(i: &RawInsn) -> bool {
    i.code == (BPF_JMP | BPF_CALL) && i.src == 2
}

/// The target of a jump at `pc` (not calls or exits), if it is one.
pub fn jump_target(insns: &[RawInsn], pc: usize) -> Option<i64> {
    let i = *insns.get(pc)?;
    let c = class(i.code);
    if c != BPF_JMP && c != BPF_JMP32 {
        return None;
    }
    let o = op(i.code);
    if o == BPF_CALL || o == BPF_EXIT {
        return None;
    }
    if c == BPF_JMP32 && o == BPF_JA {
        return Some(pc as i64 + i.imm as i64 + 1);
    }
    Some(pc as i64 + i.off as i64 + 1)
}

fn reject(insn: Option<usize>, errno: i32, message: String, kind: RejectionKind) -> Rejection {
    Rejection {
        insn,
        message,
        errno,
        kind,
        path: Vec::new(),
    }
}

/// Runs the structure checks; `log` receives the `func#N @off` lines at
/// level 2. The kernel checks the BTF func_info between
/// [`check_subprogs`] and [`check_insns`], as `verify_with_desc` does.
pub fn check(insns: &[RawInsn], opts: &VerifyOptions, log: &mut String) -> Result<Cfg, Rejection> {
    let subprogs = find_subprogs(insns, opts, log)?;
    check_insns(insns, opts, subprogs)
}

/// [`add_subprogs`] then [`check_subprogs`].
pub fn find_subprogs(
    insns: &[RawInsn],
    opts: &VerifyOptions,
    log: &mut String,
) -> Result<Vec<usize>, Rejection> {
    let subprogs = add_subprogs(insns, opts, log)?;
    check_subprogs(insns, &subprogs)?;
    Ok(subprogs)
}

/// The size limits and `add_subprog_and_kfunc`: the sorted subprogram
/// starts (`[0]` = 0). `log` receives the `func#N @off` lines at level 2.
pub fn add_subprogs(
    insns: &[RawInsn],
    opts: &VerifyOptions,
    log: &mut String,
) -> Result<Vec<usize>, Rejection> {
    let n = insns.len();
    let limit = if opts.privileged { 1_000_000 } else { 4096 };
    if n == 0 {
        return Err(reject(
            None,
            libc_errno::EINVAL,
            "the program has no instructions".into(),
            RejectionKind::Empty,
        ));
    }
    if n > limit {
        return Err(reject(
            None,
            libc_errno::E2BIG,
            format!("the program has {n} instructions; at most {limit} are allowed"),
            RejectionKind::TooManyInsns { count: n, limit },
        ));
    }
    // add_subprog_and_kfunc
    let mut subprogs = vec![0usize];
    for (pc, i) in insns.iter().enumerate() {
        if !is_pseudo_call(i) && !is_pseudo_func(i) && !is_kfunc_call(i) {
            continue;
        }
        if !opts.privileged {
            return Err(reject(
                Some(pc),
                libc_errno::EPERM,
                "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN".into(),
                RejectionKind::NeedsPrivilege { pc, what: "bpf-to-bpf calls" },
            ));
        }
        if is_kfunc_call(i) {
            crate::kfunc::add_kfunc_call(pc, i, opts)?;
            continue;
        }
        let target = pc as i64 + i.imm as i64 + 1;
        if target < 0 || target >= n as i64 {
            return Err(reject(
                Some(pc),
                libc_errno::EINVAL,
                "call to invalid destination".into(),
                RejectionKind::JumpOutOfRange {
                    from: pc,
                    to: target,
                },
            ));
        }
        if !subprogs.contains(&(target as usize)) {
            subprogs.push(target as usize);
        }
    }
    // The exception callback named by the main FUNC's decl tag is a
    // subprogram even when nothing calls it.
    if let Some(cb) = crate::exception::find_callback_insn(opts)? {
        if cb >= n {
            return Err(reject(
                None,
                libc_errno::EINVAL,
                "call to invalid destination".into(),
                RejectionKind::JumpOutOfRange {
                    from: 0,
                    to: cb as i64,
                },
            ));
        }
        if !subprogs.contains(&cb) {
            subprogs.push(cb);
        }
    }
    subprogs.sort_unstable();
    if subprogs.len() > BPF_MAX_SUBPROGS {
        return Err(reject(
            None,
            libc_errno::E2BIG,
            "too many subprograms".into(),
            RejectionKind::TooManySubprogs {
                count: subprogs.len(),
            },
        ));
    }
    if opts.log_level & 2 != 0 {
        for (k, s) in subprogs.iter().enumerate() {
            log.push_str(&format!("func#{k} @{s}\n"));
        }
    }
    Ok(subprogs)
}

/// `check_subprogs`: each subprogram's jumps stay within it and its last
/// instruction is an exit or a jump.
pub fn check_subprogs(insns: &[RawInsn], subprogs: &[usize]) -> Result<(), Rejection> {
    let n = insns.len();
    for (k, &start) in subprogs.iter().enumerate() {
        let end = subprogs.get(k + 1).copied().unwrap_or(n);
        for pc in start..end {
            if let Some(t) = jump_target(insns, pc) {
                if t < start as i64 || t >= end as i64 {
                    return Err(reject(
                        Some(pc),
                        libc_errno::EINVAL,
                        format!("jump out of range from insn {pc} to {t}"),
                        RejectionKind::JumpOutOfRange { from: pc, to: t },
                    ));
                }
            }
        }
        // `end` is past `start` (the starts are sorted and distinct).
        let Some(last) = insns.get(end.wrapping_sub(1)).map(|i| i.code) else {
            return Err(Rejection::internal(
                None,
                format_args!("func#{k} at insn {start} ends at {end}, outside the program"),
            ));
        };
        if last != (BPF_JMP | BPF_EXIT)
            && last != (BPF_JMP | BPF_JA)
            && last != (BPF_JMP32 | BPF_JA)
        {
            return Err(reject(
                Some(end - 1),
                libc_errno::EINVAL,
                "last insn is not an exit or jmp".into(),
                RejectionKind::FallsOffEnd {
                    subprog: k,
                    last: end - 1,
                },
            ));
        }
    }
    Ok(())
}

/// `resolve_pseudo_ldimm64`'s instruction checks and `check_cfg`, for the
/// subprograms [`add_subprogs`] found.
pub fn check_insns(
    insns: &[RawInsn],
    opts: &VerifyOptions,
    subprogs: Vec<usize>,
) -> Result<Cfg, Rejection> {
    let n = insns.len();
    // resolve_pseudo_ldimm64 (the map references are checked in do_check)
    let mut ldimm_tail = vec![false; n];
    let mut pc = 0;
    while let Some(&i) = insns.get(pc) {
        if class(i.code) == BPF_LDX
            && ((i.code & 0xe0) != 0x60 && (i.code & 0xe0) != 0x80 || i.imm != 0)
        {
            return Err(reject(
                Some(pc),
                libc_errno::EINVAL,
                "BPF_LDX uses reserved fields".into(),
                RejectionKind::ReservedField {
                    pc,
                    what: "BPF_LDX",
                },
            ));
        }
        if i.code == LD_IMM64 {
            if !insns
                .get(pc + 1)
                .is_some_and(|t| t.code == 0 && t.dst == 0 && t.src == 0 && t.off == 0)
            {
                return Err(reject(
                    Some(pc),
                    libc_errno::EINVAL,
                    "invalid bpf_ld_imm64 insn".into(),
                    RejectionKind::BadLdImm64 { pc },
                ));
            }
            if i.src > 6 {
                return Err(reject(
                    Some(pc),
                    libc_errno::EINVAL,
                    "unrecognized bpf_ld_imm64 insn".into(),
                    RejectionKind::BadLdImm64 { pc },
                ));
            }
            // check_pseudo_btf_id: a kernel variable by its vmlinux BTF id
            // (crate::ksym); only what the kernel refuses here, before
            // any instruction, is refused here.
            if i.src == 3 {
                let fd = insns.get(pc + 1).map_or(0, |t| t.imm);
                if let Err(e) = crate::ksym::pseudo_btf_id(pc, i.imm, fd) {
                    if e.insn.is_none() {
                        return Err(e);
                    }
                }
            }
            // add_used_map: check_map_prog_compatibility for each map an
            // ld_imm64 names by index (the index itself is checked in
            // do_check).
            if matches!(i.src, 5 | 6) {
                let map = usize::try_from(i.imm).ok().and_then(|m| opts.maps.get(m));
                if let Some(m) = map {
                    if let Err(e) =
                        ironbpf_helpers::map_compat::check_prog(m.map_type, opts.sleepable)
                    {
                        return Err(reject(
                            Some(pc),
                            libc_errno::EINVAL,
                            e.to_string(),
                            RejectionKind::MapIncompatible {
                                map_type: m.map_type,
                            },
                        ));
                    }
                }
            }
            if let Some(tail) = ldimm_tail.get_mut(pc + 1) {
                *tail = true;
            }
            pc += 2;
            continue;
        }
        if !opcode_in_table(i.code) {
            return Err(reject(
                Some(pc),
                libc_errno::EINVAL,
                format!("unknown opcode {:02x}", i.code),
                RejectionKind::UnknownOpcode { pc, code: i.code },
            ));
        }
        pc += 1;
    }
    // check_cfg: iterative DFS from insn 0, calls and func refs push their
    // targets too.
    let mut state = vec![0u8; n]; // 0 unseen, 1 on stack, 2 done
    let mut prune_point = vec![false; n];
    // For each ld_imm64 second slot, the first jump found landing on it.
    let mut jumped_into_tail: Vec<Option<usize>> = vec![None; n];
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)]; // (insn, next edge index)
    if let Some(entry) = state.first_mut() {
        *entry = 1;
    }
    // Then from the exception callback, which nothing calls, if the walk
    // from insn 0 did not reach it.
    let mut exception_cb = crate::exception::find_callback_insn(opts).ok().flatten();
    loop {
        if stack.is_empty() {
            match exception_cb.take() {
                Some(cb) if state.get(cb) == Some(&0) => {
                    if let Some(s) = state.get_mut(cb) {
                        *s = 1;
                    }
                    stack.push((cb, 0));
                }
                _ => break,
            }
        }
        let Some(&mut (t, ref mut e)) = stack.last_mut() else {
            break;
        };
        let succ = successors(insns, t);
        if *e == 0 && insns.get(t).is_some_and(self_prune_point) {
            if let Some(p) = prune_point.get_mut(t) {
                *p = true;
            }
        }
        if let Some(&(w, is_jump_target)) = succ.get(*e) {
            *e += 1;
            if w < 0 || w >= n as i64 {
                return Err(reject(
                    Some(t),
                    libc_errno::EINVAL,
                    format!("jump out of range from insn {t} to {w}"),
                    RejectionKind::JumpOutOfRange { from: t, to: w },
                ));
            }
            let w = w as usize;
            // Every table has n entries and w < n (checked above).
            let (Some(&tail), Some(into_tail), Some(prune), Some(seen)) = (
                ldimm_tail.get(w),
                jumped_into_tail.get_mut(w),
                prune_point.get_mut(w),
                state.get_mut(w),
            ) else {
                return Err(Rejection::internal(
                    Some(t),
                    format_args!("the CFG's tables have no entry for insn {w} of {n}"),
                ));
            };
            // The kernel walks a jumped-into second slot as an instruction
            // of its own (it falls through) and names the ld_imm64 only
            // after the walk, in its check for unreachable instructions.
            if tail && into_tail.is_none() {
                *into_tail = Some(t);
            }
            if is_jump_target {
                *prune = true;
            }
            match *seen {
                0 => {
                    *seen = 1;
                    stack.push((w, 0));
                }
                1 if !opts.privileged => {
                    return Err(reject(
                        Some(t),
                        libc_errno::EINVAL,
                        format!("back-edge from insn {t} to {w}"),
                        RejectionKind::BackEdge { from: t, to: w },
                    ));
                }
                _ => {}
            }
        } else {
            if let Some(done) = state.get_mut(t) {
                *done = 2;
            }
            stack.pop();
        }
    }
    for (pc, (&seen, &tail)) in state.iter().zip(&ldimm_tail).enumerate() {
        if seen != 2 && !tail {
            return Err(reject(
                Some(pc),
                libc_errno::EINVAL,
                format!("unreachable insn {pc}"),
                RejectionKind::Unreachable { pc },
            ));
        }
        if let Some(from) = jumped_into_tail.get(pc + 1).copied().flatten() {
            return Err(reject(
                Some(pc),
                libc_errno::EINVAL,
                format!("jump into the middle of ldimm64 insn {pc}"),
                RejectionKind::JumpIntoLdImm64 { from, ldimm64: pc },
            ));
        }
    }
    Ok(Cfg {
        subprogs,
        ldimm_tail,
        prune_point,
    })
}

/// Conditional jumps and bpf-to-bpf calls are prune points themselves.
fn self_prune_point(i: &RawInsn) -> bool {
    let c = class(i.code);
    if is_pseudo_call(i) || crate::kfunc::is_iter_next(i) {
        return true;
    }
    (c == BPF_JMP || c == BPF_JMP32) && !matches!(op(i.code), BPF_CALL | BPF_EXIT | BPF_JA)
}

/// The CFG successors of `t`: (target, whether it is a branch target or the
/// fall-through of a branch, i.e. a prune point).
fn successors(insns: &[RawInsn], t: usize) -> Vec<(i64, bool)> {
    // `t` is an instruction the walk reached (in range): none otherwise.
    let Some(&i) = insns.get(t) else {
        return Vec::new();
    };
    let next = t as i64 + if i.code == LD_IMM64 { 2 } else { 1 };
    let c = class(i.code);
    if is_pseudo_func(&i) {
        return vec![(next, true), (t as i64 + i.imm as i64 + 1, true)];
    }
    if c != BPF_JMP && c != BPF_JMP32 {
        return vec![(next, false)];
    }
    match op(i.code) {
        BPF_EXIT => vec![],
        BPF_CALL => {
            if is_pseudo_call(&i) {
                vec![(next, true), (t as i64 + i.imm as i64 + 1, true)]
            } else {
                // After every call (visit_func_call_insn).
                vec![(next, true)]
            }
        }
        BPF_JA => vec![(jump_target(insns, t).unwrap_or(next), true)],
        _ => vec![(next, false), (jump_target(insns, t).unwrap_or(next), true)],
    }
}

/// `bpf_opcode_in_insntable`: the opcodes the kernel's interpreter knows.
fn opcode_in_table(code: u8) -> bool {
    let c = class(code);
    let o = op(code);
    match c {
        0x04 | 0x07 => match o {
            0x80 => code & 0x08 == 0,
            0xd0 => c == 0x04 || code & 0x08 == 0,
            0xe0 | 0xf0 => false,
            _ => true,
        },
        0x05 => match o {
            // BPF_JCOND: may_goto only, with an immediate.
            BPF_CALL | BPF_EXIT | BPF_JA | 0xe0 => code & 0x08 == 0,
            0xf0 => false,
            _ => true,
        },
        0x06 => match o {
            BPF_CALL | BPF_EXIT | 0xe0 | 0xf0 => false,
            BPF_JA => code & 0x08 == 0,
            _ => true,
        },
        BPF_LD => matches!(code, 0x18 | 0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50),
        BPF_LDX => matches!(code, 0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91),
        0x02 => matches!(code, 0x62 | 0x6a | 0x72 | 0x7a),
        0x03 => matches!(code, 0x63 | 0x6b | 0x73 | 0x7b | 0xc3 | 0xdb | 0xcb | 0xd3),
        _ => false,
    }
}

/// The errnos the verifier returns.
pub mod libc_errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// Permission denied: the verifier's usual answer.
    pub const EACCES: i32 = 13;
    /// Bad address (internal errors).
    pub const EFAULT: i32 = 14;
    /// Invalid argument: malformed programs.
    pub const EINVAL: i32 = 22;
    /// Argument list too long: too many instructions or states.
    pub const E2BIG: i32 = 7;
    /// Operation not supported.
    pub const ENOTSUPP: i32 = 524;
    /// No such file or directory: a name the BTF lacks.
    pub const ENOENT: i32 = 2;
    /// File exists: a BTF tag given twice.
    pub const EEXIST: i32 = 17;
}
