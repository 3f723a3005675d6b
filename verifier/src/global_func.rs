//! Global functions, as Linux 6.18 verifies them: a subprogram whose BTF
//! FUNC has global linkage is verified once, from its own entry, with its
//! arguments typed by its prototype (`btf_prepare_func_args`,
//! `do_check_subprogs`); a call to it checks the caller's registers against
//! that prototype (`btf_check_subprog_call`) and leaves an unknown scalar in
//! r0 without descending into the callee. Without `func_info` every
//! subprogram is static, verified inline at each call.
//!
//! The order is the kernel's: the main program first, then, pass after pass,
//! every global function some verified code called. At log level 1 a
//! successful pass leaves nothing in the log (`bpf_vlog_reset`) but the
//! `Func#N ('name') is safe for any args that match its prototype` lines.

use crate::cfg::libc_errno::*;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::mem::Access;
use crate::state::*;
use crate::{Rejection, VerifyOptions};
use ironbpf_btf::{kind, kind_str, Btf};
use ironbpf_isa::RawInsn;
use ironbpf_progtype::ProgTypeId;

/// `EOPNOTSUPP`.
const EOPNOTSUPP: i32 = 95;
/// `MAX_BPF_FUNC_REG_ARGS`.
const MAX_BPF_FUNC_REG_ARGS: usize = 5;
/// `BTF_FUNC_GLOBAL`.
const BTF_FUNC_GLOBAL: u32 = 1;

/// One `struct bpf_func_info` record: the subprogram starting at `insn`
/// (an instruction index) is the BTF FUNC `type_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfoRec {
    /// The subprogram's first instruction.
    pub insn: usize,
    /// Its BTF FUNC type.
    pub type_id: u32,
}

/// What an argument of a function's prototype becomes
/// (`struct bpf_subprog_arg_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// `ARG_PTR_TO_CTX`: a pointer to the program type's context struct.
    Ctx,
    /// `ARG_ANYTHING`: an int or enum.
    Scalar,
    /// `ARG_PTR_TO_MEM` of the pointee's size, `PTR_MAYBE_NULL` unless
    /// tagged `arg:nonnull`.
    Mem { size: u32, nullable: bool },
    /// `ARG_PTR_TO_BTF_ID` of vmlinux struct `btf_id`: `PTR_TRUSTED`
    /// (`arg:trusted`, `PTR_MAYBE_NULL` with `arg:nullable`) or
    /// `PTR_UNTRUSTED` (`arg:untrusted`: the caller may pass anything).
    BtfId {
        btf_id: u32,
        trusted: bool,
        nullable: bool,
    },
    /// `ARG_PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED` of size 0: an
    /// `arg:untrusted` pointer to void or a primitive type.
    UntrustedMem,
    /// `ARG_PTR_TO_DYNPTR | MEM_RDONLY`: a `struct bpf_dynptr *`
    /// (crate::dynptr).
    Dynptr,
}

/// What the verifier knows of one subprogram from its BTF
/// (`struct bpf_func_info_aux` and the `bpf_subprog_info` fields).
#[derive(Clone, Debug, Default)]
pub(crate) struct SubInfo {
    pub name: String,
    pub type_id: u32,
    pub global: bool,
    /// The prepared arguments (`args_cached`).
    pub args: Option<Vec<ArgKind>>,
    pub unreliable: bool,
    pub called: bool,
    pub verified: bool,
    /// Some helper it (or a function it calls) calls changes packet data.
    pub changes_pkt_data: bool,
    /// Some helper it (or a function it calls) might sleep.
    pub might_sleep: bool,
    /// The main program's exception callback (`is_exception_cb`).
    pub exception_cb: bool,
}

/// The subprograms' BTF facts; empty without `func_info`.
#[derive(Clone, Debug, Default)]
pub(crate) struct FuncTable {
    pub subs: Vec<SubInfo>,
    /// Per `bpf_loop` call: still fit for inlining, and its callback
    /// (`struct bpf_loop_inline_state`).
    pub loop_inline: std::collections::HashMap<usize, (bool, usize)>,
    /// The asynchronous callbacks (`is_async_cb`, timer.rs): roots of
    /// their own call chains for the stack-depth check.
    pub async_cbs: std::collections::BTreeSet<usize>,
}

impl FuncTable {
    /// Subprogram `sub` has global linkage.
    pub fn is_global(&self, sub: usize) -> bool {
        self.subs.get(sub).is_some_and(|s| s.global)
    }
}

fn whole_program_err(errno: i32, message: String) -> Rejection {
    Rejection {
        insn: None,
        message,
        errno,
        kind: RejectionKind::Other,
        path: Vec::new(),
    }
}

/// What may end a subprogram other than its `exit`: an LD_ABS / LD_IND
/// whose load fails, a tail call that succeeds (`has_ld_abs`,
/// `has_tail_call` of `struct bpf_subprog_info`).
#[derive(Clone, Copy, Debug, Default)]
struct AbnormalExits {
    ld_abs: bool,
    tail_call: bool,
}

/// [`AbnormalExits`] per subprogram, as `check_subprogs` marks them.
fn abnormal_exits(insns: &[RawInsn], subprogs: &[usize]) -> Vec<AbnormalExits> {
    let mut out = vec![AbnormalExits::default(); subprogs.len()];
    for (pc, i) in insns.iter().enumerate() {
        let s = match subprogs.binary_search(&pc) {
            Ok(s) => s,
            Err(s) => s.saturating_sub(1),
        };
        let Some(e) = out.get_mut(s) else {
            continue;
        };
        // BPF_LD | BPF_ABS and BPF_LD | BPF_IND, of any size.
        if i.code & 0x07 == 0 && matches!(i.code & 0xe0, 0x20 | 0x40) {
            e.ld_abs = true;
        }
        if i.code == 0x85 && i.src == 0 && i.imm == crate::calls::BPF_FUNC_TAIL_CALL {
            e.tail_call = true;
        }
    }
    out
}

/// `check_abnormal_return`: without func_info no subprogram but the main
/// one may leave other than by its `exit`.
fn check_abnormal_return(exits: &[AbnormalExits]) -> Result<(), Rejection> {
    for e in exits.iter().skip(1) {
        if e.ld_abs {
            return Err(whole_program_err(
                EINVAL,
                "LD_ABS is not allowed in subprogs without BTF".into(),
            ));
        }
        if e.tail_call {
            return Err(whole_program_err(
                EINVAL,
                "tail_call is not allowed in subprogs without BTF".into(),
            ));
        }
    }
    Ok(())
}

/// The return type of FUNC `func` is an int of at most 8 bytes or an enum
/// (`btf_type_is_small_int`, `btf_is_any_enum`), modifiers skipped.
fn returns_scalar(btf: &Btf, func: u32) -> bool {
    let Some(proto) = btf.get(func).and_then(|f| btf.get(f.size_or_type)) else {
        return false;
    };
    let ret = skip_modifiers(btf, proto.size_or_type);
    match btf.get(ret).filter(|_| ret != 0) {
        Some(t) if t.kind == kind::INT => t.size_or_type <= 8,
        Some(t) => matches!(t.kind, kind::ENUM | kind::ENUM64),
        None => false,
    }
}

/// `check_btf_func_early` and `check_btf_func`: the records name FUNC
/// types, one per subprogram, at the subprograms' starts; a subprogram
/// that may end by LD_ABS or a tail call returns an int.
fn check_btf_func(
    btf: &Btf,
    recs: &[FuncInfoRec],
    subprogs: &[usize],
    exits: &[AbnormalExits],
) -> Result<Vec<SubInfo>, Rejection> {
    let mut prev: Option<usize> = None;
    let mut subs = Vec::with_capacity(recs.len());
    for (i, r) in recs.iter().enumerate() {
        if i == 0 && r.insn != 0 {
            return Err(whole_program_err(
                EINVAL,
                format!("nonzero insn_off {} for the first func info record", r.insn),
            ));
        }
        if let Some(p) = prev {
            if r.insn <= p {
                return Err(whole_program_err(
                    EINVAL,
                    format!(
                        "same or smaller insn offset ({}) than previous func info record ({p})",
                        r.insn
                    ),
                ));
            }
        }
        prev = Some(r.insn);
        let t = btf.get(r.type_id).filter(|_| r.type_id != 0);
        let Some(t) = t.filter(|t| t.kind == kind::FUNC) else {
            return Err(whole_program_err(
                EINVAL,
                format!("invalid type id {}", r.type_id),
            ));
        };
        subs.push(SubInfo {
            name: btf.str_at(t.name_off).to_string(),
            type_id: r.type_id,
            global: t.vlen == BTF_FUNC_GLOBAL,
            ..SubInfo::default()
        });
    }
    if recs.len() != subprogs.len() {
        return Err(whole_program_err(
            EINVAL,
            "number of funcs in func_info doesn't match number of subprogs".into(),
        ));
    }
    for (i, (r, &start)) in recs.iter().zip(subprogs).enumerate() {
        if r.insn != start {
            return Err(whole_program_err(
                EINVAL,
                "func_info BTF section doesn't match subprog layout in BPF program".into(),
            ));
        }
        let e = exits.get(i).copied().unwrap_or_default();
        if i == 0 || returns_scalar(btf, r.type_id) {
            continue;
        }
        if e.ld_abs {
            return Err(whole_program_err(
                EINVAL,
                "LD_ABS is only allowed in functions that return 'int'.".into(),
            ));
        }
        if e.tail_call {
            return Err(whole_program_err(
                EINVAL,
                "tail_call is only allowed in functions that return 'int'.".into(),
            ));
        }
    }
    Ok(subs)
}

/// The kernel's canonical context struct per program type
/// (`include/linux/bpf_types.h`), as `btf_is_prog_ctx_type` compares it.
/// `None` where it is not a named struct (the argument is then a plain
/// pointer).
fn ctx_struct_name(t: ProgTypeId) -> Option<&'static str> {
    use ProgTypeId as P;
    Some(match t {
        P::SocketFilter
        | P::SchedCls
        | P::SchedAct
        | P::CgroupSkb
        | P::LwtIn
        | P::LwtOut
        | P::LwtXmit
        | P::LwtSeg6local
        | P::SkSkb
        | P::FlowDissector => "__sk_buff",
        P::Xdp => "xdp_md",
        P::CgroupSock => "bpf_sock",
        P::CgroupSockAddr => "bpf_sock_addr",
        P::SockOps => "bpf_sock_ops",
        P::CgroupDevice => "bpf_cgroup_dev_ctx",
        P::SkMsg => "sk_msg_md",
        P::RawTracepoint | P::RawTracepointWritable => "bpf_raw_tracepoint_args",
        P::CgroupSysctl => "bpf_sysctl",
        P::CgroupSockopt => "bpf_sockopt",
        // bpf_user_pt_regs_t is `struct pt_regs` on x86-64.
        P::Kprobe => "pt_regs",
        P::PerfEvent => "bpf_perf_event_data",
        P::SkLookup => "bpf_sk_lookup",
        P::Netfilter => "bpf_nf_ctx",
        P::SkReuseport => "sk_reuseport_md",
        _ => return None,
    })
}

fn is_modifier(k: u32) -> bool {
    matches!(
        k,
        kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG
    )
}

/// The kind of type `id` (0 for `void` and missing types).
fn kind_of(btf: &Btf, id: u32) -> u32 {
    if id == 0 {
        return 0;
    }
    btf.get(id).map_or(0, |t| t.kind)
}

/// Follows modifiers (typedefs included) from `id`.
fn skip_modifiers(btf: &Btf, mut id: u32) -> u32 {
    for _ in 0..32 {
        match btf.get(id) {
            Some(t) if id != 0 && is_modifier(t.kind) => id = t.size_or_type,
            _ => break,
        }
    }
    id
}

/// `btf_is_prog_ctx_type` for the pointer type `ptr`.
fn is_prog_ctx_type(btf: &Btf, ptr: u32, prog_type: ProgTypeId) -> bool {
    let Some(want) = ctx_struct_name(prog_type) else {
        return false;
    };
    let mut id = btf.get(ptr).map_or(0, |t| t.size_or_type);
    if prog_type == ProgTypeId::Kprobe {
        // The typedef itself is accepted before typedefs are skipped.
        for _ in 0..32 {
            match btf.get(id) {
                Some(t) if id != 0 && t.kind == kind::TYPEDEF => {
                    if btf.str_at(t.name_off) == "bpf_user_pt_regs_t" {
                        return true;
                    }
                    break;
                }
                Some(t) if id != 0 && is_modifier(t.kind) => id = t.size_or_type,
                _ => break,
            }
        }
    }
    let id = skip_modifiers(btf, id);
    if kind_of(btf, id) != kind::STRUCT {
        return false;
    }
    // The kernel compares the name with the context type's before
    // resolving its typedef: kprobe's `bpf_user_pt_regs_t` names a local
    // struct too (the workaround for old kernels).
    btf.name(id) == want
        || (prog_type == ProgTypeId::Kprobe && btf.name(id) == "bpf_user_pt_regs_t")
}

/// The subprograms each subprogram calls directly, and whether it calls a
/// helper that changes packet data or might sleep.
fn call_effects(insns: &[RawInsn], subprogs: &[usize], opts: &VerifyOptions, subs: &mut [SubInfo]) {
    let sub_of = |pc: usize| match subprogs.binary_search(&pc) {
        Ok(i) => i,
        Err(i) => i.saturating_sub(1),
    };
    let n = subs.len();
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pc = 0;
    while let Some(&i) = insns.get(pc) {
        let s = sub_of(pc);
        if i.code == 0x85 && s < n {
            match i.src {
                0 => {
                    if let (Ok(p), Some(sub)) =
                        (crate::calls::offered_proto(i.imm, opts), subs.get_mut(s))
                    {
                        sub.changes_pkt_data |= p.changes_pkt_data;
                        sub.might_sleep |= p.might_sleep;
                    }
                }
                // A sleepable kfunc (check_cfg's mark_subprog_might_sleep).
                2 if i.off == 0 => {
                    let sleepable = crate::kfunc::meta_of(i.imm as u32).is_ok_and(|m| {
                        m.entry
                            .and_then(|e| e.flags)
                            .is_some_and(|f| f & crate::kfunc_table::KF_SLEEPABLE != 0)
                    });
                    if let (true, Some(sub)) = (sleepable, subs.get_mut(s)) {
                        sub.might_sleep = true;
                    }
                }
                1 => {
                    let t = (pc as i64 + i.imm as i64 + 1) as usize;
                    if let Some(c) = callees.get_mut(s) {
                        c.push(sub_of(t));
                    }
                }
                _ => {}
            }
        }
        pc += if i.code == 0x18 { 2 } else { 1 };
    }
    // To a fixed point over the call graph (`merge_callee_effects`).
    loop {
        let mut changed = false;
        for (s, cs) in callees.iter().enumerate() {
            for &c in cs {
                let Some((pkt, sleep)) = subs.get(c).map(|c| (c.changes_pkt_data, c.might_sleep))
                else {
                    continue;
                };
                let Some(me) = subs.get_mut(s) else {
                    continue;
                };
                if (pkt && !me.changes_pkt_data) || (sleep && !me.might_sleep) {
                    me.changes_pkt_data |= pkt;
                    me.might_sleep |= sleep;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// The subprograms' table from the options' BTF and func_info, with the
/// kernel's refusals of a func_info that does not fit the program.
pub(crate) fn build_table(
    insns: &[RawInsn],
    subprogs: &[usize],
    opts: &VerifyOptions,
) -> Result<FuncTable, Rejection> {
    let exits = abnormal_exits(insns, subprogs);
    let Some(btf) = opts.btf.as_deref().filter(|_| !opts.func_info.is_empty()) else {
        check_abnormal_return(&exits)?;
        return Ok(FuncTable::default());
    };
    let mut subs = check_btf_func(btf, &opts.func_info, subprogs, &exits)?;
    call_effects(insns, subprogs, opts, &mut subs);
    // The exception callback is presumed called (do_check_subprogs): it is
    // verified as a global function of its own.
    if let Some(cb) = crate::exception::find_callback_insn(opts)? {
        let idx = subprogs.binary_search(&cb).ok();
        if let Some(s) = idx.and_then(|i| subs.get_mut(i)) {
            s.called = true;
            s.exception_cb = true;
        }
    }
    Ok(FuncTable {
        subs,
        ..FuncTable::default()
    })
}

/// A `btf_prepare_func_args` failure: the errno (the message, if any, is
/// already in the log).
type PrepResult<T> = Result<T, i32>;

impl Env<'_> {
    fn bpf_log(&mut self, line: String) {
        if self.opts.log_level != 0 {
            self.log.push_str(&line);
            self.log.push('\n');
        }
    }

    /// `btf_prepare_func_args`: the verifier's types for the arguments of
    /// subprogram `sub`'s prototype. A static function's failures are
    /// silent; a global function's are logged.
    pub(crate) fn prepare_func_args(&mut self, sub: usize) -> PrepResult<Vec<ArgKind>> {
        let Some(info) = self.funcs.subs.get(sub).cloned() else {
            return Err(EINVAL);
        };
        if let Some(a) = &info.args {
            return Ok(a.clone());
        }
        let Some(btf) = self.opts.btf.clone() else {
            return Err(EINVAL);
        };
        let is_global = info.global;
        let tname = info.name.clone();
        let fn_t = btf.get(info.type_id).cloned().ok_or(EFAULT)?;
        let proto_id = fn_t.size_or_type;
        let Some(proto) = btf
            .get(proto_id)
            .filter(|t| proto_id != 0 && t.kind == kind::FUNC_PROTO)
            .cloned()
        else {
            self.bpf_log(format!("Invalid type of function {tname}()"));
            return Err(EFAULT);
        };
        let nargs = proto.members.len();
        if nargs > MAX_BPF_FUNC_REG_ARGS {
            if !is_global {
                return Err(EINVAL);
            }
            self.bpf_log(format!(
                "Global function {tname}() with {nargs} > {MAX_BPF_FUNC_REG_ARGS} args. Buggy compiler."
            ));
            return Err(EINVAL);
        }
        let ret = skip_modifiers(&btf, proto.size_or_type);
        if !matches!(kind_of(&btf, ret), kind::INT | kind::ENUM | kind::ENUM64) {
            if !is_global {
                return Err(EINVAL);
            }
            self.bpf_log(format!(
                "Global function {tname}() doesn't return scalar. Only those are supported."
            ));
            return Err(EINVAL);
        }
        // `arg:` decl tags on the parameters (`__arg_ctx`, `__arg_nonnull`).
        let tags: Vec<(i64, String)> = btf
            .types
            .iter()
            .filter(|t| {
                t.kind == kind::DECL_TAG
                    && t.size_or_type == info.type_id
                    && btf.str_at(t.name_off).starts_with("arg:")
            })
            .map(|t| {
                let name = btf.str_at(t.name_off)["arg:".len()..].to_string();
                (t.extra[0] as i32 as i64, name)
            })
            .collect();
        let mut args = Vec::with_capacity(nargs);
        for (i, m) in proto.members.iter().enumerate() {
            let (mut tag_ctx, mut tag_nonnull, mut any_tag) = (false, false, false);
            let (mut tag_trusted, mut tag_untrusted, mut tag_nullable) = (false, false, false);
            for (_, tag) in tags.iter().filter(|(c, _)| *c == i as i64) {
                if !is_global {
                    self.bpf_log(format!(
                        "arg#{i} type tag is not supported in static functions"
                    ));
                    return Err(EOPNOTSUPP);
                }
                any_tag = true;
                match tag.as_str() {
                    "ctx" => tag_ctx = true,
                    "nonnull" => tag_nonnull = true,
                    "trusted" => tag_trusted = true,
                    "untrusted" => tag_untrusted = true,
                    "nullable" => tag_nullable = true,
                    "arena" => {
                        // Arena arguments are not modelled: refuse rather
                        // than guess.
                        self.bpf_log(format!(
                            "arg#{i} of {tname}() is tagged arg:{tag}, which ironbpf's verifier does not model"
                        ));
                        return Err(EOPNOTSUPP);
                    }
                    _ => {
                        self.bpf_log(format!("arg#{i} has unsupported set of tags"));
                        return Err(EOPNOTSUPP);
                    }
                }
            }
            let t = skip_modifiers(&btf, m.type_id);
            let k = kind_of(&btf, t);
            if k == kind::PTR && tag_ctx {
                if tag_nonnull {
                    self.bpf_log(format!("arg#{i} has invalid combination of tags"));
                    return Err(EINVAL);
                }
                self.validate_prog_ctx_type(&btf, t, i)?;
                args.push(ArgKind::Ctx);
                continue;
            }
            // btf_is_dynptr_ptr: a pointer to struct bpf_dynptr.
            if k == kind::PTR && {
                let pointee = skip_modifiers(&btf, btf.get(t).map_or(0, |x| x.size_or_type));
                kind_of(&btf, pointee) == kind::STRUCT && btf.name(pointee) == "bpf_dynptr"
            } {
                if any_tag {
                    self.bpf_log(format!("arg#{i} has invalid combination of tags"));
                    return Err(EINVAL);
                }
                args.push(ArgKind::Dynptr);
                continue;
            }
            if k != kind::PTR && any_tag {
                self.bpf_log(format!(
                    "arg#{i} has pointer tag, but is not a pointer type"
                ));
                return Err(EINVAL);
            }
            if k == kind::PTR && tag_trusted {
                if tag_nonnull || tag_untrusted {
                    self.bpf_log(format!("arg#{i} has invalid combination of tags"));
                    return Err(EINVAL);
                }
                let btf_id = self.ptr_to_btf_id(&btf, t, i)?;
                args.push(ArgKind::BtfId {
                    btf_id,
                    trusted: true,
                    nullable: tag_nullable,
                });
                continue;
            }
            if k == kind::PTR && tag_untrusted {
                if tag_nonnull || tag_nullable || tag_ctx {
                    self.bpf_log(format!(
                        "arg#{i} untrusted cannot be combined with any other tags"
                    ));
                    return Err(EINVAL);
                }
                let pointee = skip_modifiers(&btf, btf.get(t).map_or(0, |x| x.size_or_type));
                if matches!(
                    kind_of(&btf, pointee),
                    0 | kind::INT | kind::ENUM | kind::ENUM64 | kind::FLOAT
                ) {
                    args.push(ArgKind::UntrustedMem);
                    continue;
                }
                let btf_id = self.ptr_to_btf_id(&btf, t, i)?;
                args.push(ArgKind::BtfId {
                    btf_id,
                    trusted: false,
                    nullable: false,
                });
                continue;
            }
            if tag_nullable {
                // A nullable generic pointer (without arg:trusted) is not
                // modelled: refuse rather than guess.
                self.bpf_log(format!(
                    "arg#{i} of {tname}() is tagged arg:nullable without arg:trusted, which ironbpf's verifier does not model"
                ));
                return Err(EOPNOTSUPP);
            }
            let t = skip_modifiers(&btf, m.type_id);
            let k = kind_of(&btf, t);
            if k == kind::PTR {
                if is_prog_ctx_type(&btf, t, self.opts.prog_type) {
                    args.push(ArgKind::Ctx);
                    continue;
                }
                if is_global {
                    let pointee = skip_modifiers(&btf, btf.get(t).map_or(0, |x| x.size_or_type));
                    let pk = kind_of(&btf, pointee);
                    let size = match pk {
                        0 | kind::FUNC_PROTO | kind::FWD | kind::FUNC => None,
                        _ => btf.size_of(pointee).ok(),
                    };
                    let Some(size) = size.and_then(|s| u32::try_from(s).ok()) else {
                        self.bpf_log(format!(
                            "arg#{i} reference type('{} {}') size cannot be determined: -22",
                            kind_str(pk),
                            btf.name(pointee)
                        ));
                        return Err(EINVAL);
                    };
                    args.push(ArgKind::Mem {
                        size,
                        nullable: !tag_nonnull,
                    });
                    continue;
                }
            }
            if matches!(k, kind::INT | kind::ENUM | kind::ENUM64) {
                args.push(ArgKind::Scalar);
                continue;
            }
            if !is_global {
                return Err(EINVAL);
            }
            self.bpf_log(format!(
                "Arg#{i} type {} in {tname}() is not supported yet.",
                kind_str(k)
            ));
            return Err(EINVAL);
        }
        if let Some(s) = self.funcs.subs.get_mut(sub) {
            s.args = Some(args.clone());
        }
        Ok(args)
    }

    /// `btf_get_ptr_to_btf_id`: the vmlinux type the pointee of `ptr` (a
    /// local type, maybe a `___flavor`) stands for, as CO-RE matches it:
    /// the same kind and essential name.
    fn ptr_to_btf_id(&mut self, btf: &Btf, ptr: u32, i: usize) -> PrepResult<u32> {
        let pointee = skip_modifiers(btf, btf.get(ptr).map_or(0, |x| x.size_or_type));
        let k = kind_of(btf, pointee);
        let name = btf.name(pointee).to_string();
        let essential = name.split("___").next().unwrap_or(&name).to_string();
        let vm = crate::vmlinux::vmlinux().map_err(|e| {
            self.bpf_log(e);
            EINVAL
        })?;
        let found = (!essential.is_empty())
            .then(|| vm.find(&essential, k))
            .flatten();
        match found {
            Some(id) => Ok(id),
            None => {
                self.bpf_log(format!(
                    "arg#{i} reference type('{} {name}') has no matches",
                    kind_str(k)
                ));
                Err(ENOENT)
            }
        }
    }

    /// `btf_validate_prog_ctx_type` for an `arg:ctx` pointer `ptr`:
    /// `void *`, a pointer to the program type's context struct, or one of
    /// the program types' special cases (`u64 *` for raw tracepoints,
    /// fentry/fexit, lsm and struct_ops; `struct bpf_iter__*` for
    /// iterators; anything for tracepoint, syscall and ext programs).
    fn validate_prog_ctx_type(&mut self, btf: &Btf, ptr: u32, i: usize) -> PrepResult<()> {
        use ironbpf_progtype::AttachType as A;
        use ProgTypeId as P;
        let prog_type = self.opts.prog_type;
        let mut id = btf.get(ptr).map_or(0, |t| t.size_or_type);
        if matches!(prog_type, P::Kprobe | P::PerfEvent) {
            for _ in 0..32 {
                match btf.get(id) {
                    Some(t) if id != 0 && t.kind == kind::TYPEDEF => {
                        if btf.str_at(t.name_off) == "bpf_user_pt_regs_t" {
                            return Ok(());
                        }
                        break;
                    }
                    Some(t) if id != 0 && is_modifier(t.kind) => id = t.size_or_type,
                    _ => break,
                }
            }
        }
        let id = skip_modifiers(btf, id);
        if id == 0 {
            return Ok(());
        }
        let name = btf.name(id).to_string();
        if name.is_empty() {
            self.bpf_log(format!("arg#{i} type doesn't have a name"));
            return Err(EINVAL);
        }
        let is_struct = kind_of(btf, id) == kind::STRUCT;
        let is_u64 =
            kind_of(btf, id) == kind::INT && btf.get(id).is_some_and(|t| t.size_or_type == 8);
        // bpf_user_pt_regs_t is `struct pt_regs` on x86-64.
        let special = match prog_type {
            P::Kprobe | P::PerfEvent => is_struct && name == "pt_regs",
            P::RawTracepoint | P::RawTracepointWritable | P::Lsm | P::StructOps => is_u64,
            P::Tracing => match self.opts.attach_type {
                Some(A::TraceRawTp) => (is_struct && name == "bpf_raw_tracepoint_args") || is_u64,
                Some(A::TraceIter) => is_struct && name.starts_with("bpf_iter__"),
                Some(A::TraceFentry | A::TraceFexit | A::ModifyReturn) => is_u64,
                _ => false,
            },
            P::Tracepoint | P::Syscall | P::Ext => true,
            _ => false,
        };
        if special {
            return Ok(());
        }
        let Some(want) = ctx_struct_name(prog_type) else {
            self.bpf_log(format!("arg#{i} should be void pointer"));
            return Err(EINVAL);
        };
        if !is_struct || name != want {
            self.bpf_log(format!("arg#{i} should be `struct {want} *`"));
            return Err(EINVAL);
        }
        Ok(())
    }

    /// `btf_check_subprog_call`: the caller's r1-r5 against `sub`'s
    /// prototype. The reasons are logged; `Err` carries the errno.
    pub(crate) fn btf_check_subprog_call(&mut self, sub: usize) -> PrepResult<()> {
        // `sub` is a subprogram the CFG found; a table without it is the
        // kernel's empty table (no func_info).
        if self.funcs.subs.get(sub).is_none_or(|s| s.unreliable) {
            return Err(EINVAL);
        }
        let r = self.btf_check_func_arg_match(sub);
        if let (Err(_), Some(s)) = (r, self.funcs.subs.get_mut(sub)) {
            s.unreliable = true;
        }
        r
    }

    /// `btf_check_func_arg_match`.
    fn btf_check_func_arg_match(&mut self, sub: usize) -> PrepResult<()> {
        let args = self.prepare_func_args(sub)?;
        for (i, a) in args.iter().enumerate() {
            let r = i + 1;
            let reg = *self.cur.reg(r);
            match a {
                ArgKind::Scalar => {
                    if !reg.is_scalar() {
                        self.bpf_log(format!("R{r} is not a scalar"));
                        return Err(EINVAL);
                    }
                }
                ArgKind::Ctx => {
                    if reg.ty == RegType::Ctx {
                        if reg.off != 0 {
                            self.bpf_log(format!(
                                "dereference of modified ctx ptr R{r} off={} disallowed",
                                reg.off
                            ));
                            return Err(EACCES);
                        }
                        if !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
                            self.bpf_log(format!(
                                "variable ctx access var_off={} disallowed",
                                reg.val.var_off
                            ));
                            return Err(EACCES);
                        }
                    } else {
                        self.bpf_log(format!("arg#{i} expects pointer to ctx"));
                        return Err(EINVAL);
                    }
                }
                ArgKind::Dynptr => {
                    // check_func_arg_reg_off: a stack pointer may carry
                    // an offset, any other pointer none; then an
                    // initialised dynptr of any type, not changed.
                    if reg.is_pointer() && reg.ty != RegType::Stack {
                        if let Err(rej) = self.check_unmodified_ptr(r, &reg.type_str(), false) {
                            self.bpf_log(rej.message);
                            return Err(EACCES);
                        }
                    }
                    let arg = crate::dynptr::DynptrArg {
                        rdonly: true,
                        ..Default::default()
                    };
                    if let Err(rej) = self.process_dynptr_func(r, arg, 0) {
                        self.bpf_log(rej.message);
                        return Err(EINVAL);
                    }
                }
                ArgKind::UntrustedMem | ArgKind::BtfId { trusted: false, .. } => {
                    // Anything goes: the callee only reads it, with probing
                    // loads.
                }
                ArgKind::BtfId {
                    btf_id, nullable, ..
                } => {
                    if reg.is_null() && *nullable {
                        continue;
                    }
                    if reg.ty != RegType::BtfId || (reg.maybe_null && !*nullable) {
                        let got = reg.type_str();
                        self.bpf_log(format!(
                            "R{r} type={got} expected=ptr_, trusted_ptr_, rcu_ptr_"
                        ));
                        return Err(EACCES);
                    }
                    let want = crate::vmlinux::type_name(*btf_id);
                    if let Err(rej) =
                        self.check_btf_arg_of(r, Some(&want), "ptr_, trusted_ptr_, rcu_ptr_")
                    {
                        self.bpf_log(rej.message);
                        return Err(EACCES);
                    }
                }
                ArgKind::Mem { size, nullable } => {
                    if reg.is_null() {
                        // The kernel marks the NULL it relies on precise.
                        self.mark_chain_precision(r);
                        if !nullable {
                            self.bpf_log(format!("arg#{i} is expected to be non-NULL"));
                            return Err(EINVAL);
                        }
                        continue;
                    }
                    let saved = reg;
                    self.cur.reg_mut(r).maybe_null = false;
                    let res = self
                        .check_helper_mem(r, *size as i64, Access::Read, true, None)
                        .and_then(|()| {
                            self.check_helper_mem(r, *size as i64, Access::Write, true, None)
                        });
                    *self.cur.reg_mut(r) = saved;
                    if let Err(rej) = res {
                        self.bpf_log(rej.message);
                        return Err(EINVAL);
                    }
                    if !nullable && reg.maybe_null {
                        self.bpf_log(format!("arg#{i} is expected to be non-NULL"));
                        return Err(EINVAL);
                    }
                }
            }
        }
        Ok(())
    }

    /// The part of `check_func_call` before a new frame: the BTF check of
    /// the arguments and, for a global function, the whole call. `true`
    /// when the call was to a global function (the caller goes on at the
    /// next instruction).
    pub(crate) fn check_global_call(&mut self, sub: usize) -> VResult<bool> {
        let is_global = self.funcs.is_global(sub);
        let err = if self.funcs.subs.is_empty() {
            Err(EINVAL)
        } else {
            self.btf_check_subprog_call(sub)
        };
        if err == Err(EFAULT) {
            return Err(self.reject_errno(
                EFAULT,
                RejectionKind::Other,
                format!("BTF of func#{sub} is invalid"),
            ));
        }
        // A global `sub` is in the table (`is_global` looked it up).
        let Some((name, might_sleep, changes_pkt_data)) = self
            .funcs
            .subs
            .get(sub)
            .filter(|_| is_global)
            .map(|s| (s.name.clone(), s.might_sleep, s.changes_pkt_data))
        else {
            return Ok(false);
        };
        // check_func_call: not inside an RCU, preempt- or IRQ-disabled
        // section either.
        let in_section =
            self.cur.active_rcu_lock || self.cur.active_preempt_locks != 0 || self.in_irq_section();
        if might_sleep && (in_section || !self.opts.sleepable) {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Other,
                "global functions that may sleep are not allowed in non-sleepable context,\ni.e., in a RCU/IRQ/preempt-disabled section, or in\na non-sleepable BPF program context".into(),
            ));
        }
        if let Err(errno) = err {
            return Err(self.reject_errno(
                errno,
                RejectionKind::Other,
                format!("Caller passes invalid args into func#{sub} ('{name}')"),
            ));
        }
        if self.log_on() {
            self.log.push_str(&format!(
                "Func#{sub} ('{name}') is global and assumed valid.\n"
            ));
        }
        if changes_pkt_data {
            self.clear_all_pkt_pointers();
        }
        if let Some(s) = self.funcs.subs.get_mut(sub) {
            s.called = true;
        }
        for r in 1..=5 {
            *self.cur.reg_mut(r) = RegState::not_init();
            self.scratch.reg(r);
        }
        *self.cur.reg_mut(0) = RegState::unknown();
        self.scratch.reg(0);
        Ok(true)
    }

    /// The first frame of global function `sub` (`do_check_common` for a
    /// subprogram): its arguments from its prototype.
    fn global_entry_frame(&mut self, sub: usize) -> PrepResult<FuncState> {
        let args = self.prepare_func_args(sub)?;
        let mut f = FuncState::new(0, 0, sub);
        for (i, a) in args.iter().enumerate() {
            // At most MAX_BPF_FUNC_REG_ARGS (5) arguments: r1-r5.
            let Some(reg) = f.regs.get_mut(i + 1) else {
                return Err(EFAULT);
            };
            *reg = match a {
                ArgKind::Ctx => RegState::pointer(RegType::Ctx),
                ArgKind::Scalar => RegState::unknown(),
                ArgKind::BtfId {
                    btf_id,
                    trusted,
                    nullable,
                } => {
                    let id = if *nullable { self.new_id() } else { 0 };
                    RegState {
                        maybe_null: *nullable,
                        btf_id: *btf_id,
                        btf_flags: if *trusted {
                            btf_flag::TRUSTED
                        } else {
                            btf_flag::UNTRUSTED
                        },
                        id,
                        ..RegState::pointer(RegType::BtfId)
                    }
                }
                // The kernel gives it the dynptr type it prints as skb.
                ArgKind::Dynptr => RegState {
                    id: self.new_id(),
                    dynptr: crate::dynptr::DynptrInfo {
                        ty: crate::dynptr::DynptrType::Skb,
                        first_slot: true,
                        ..crate::dynptr::DynptrInfo::NONE
                    },
                    ..RegState::pointer(RegType::ConstPtrToDynptr)
                },
                ArgKind::UntrustedMem => RegState {
                    rdonly: true,
                    mem_size: 0,
                    btf_flags: btf_flag::UNTRUSTED,
                    ..RegState::pointer(RegType::Mem)
                },
                ArgKind::Mem { size, nullable } => {
                    let id = if *nullable { self.new_id() } else { 0 };
                    RegState {
                        maybe_null: *nullable,
                        mem_size: *size,
                        id,
                        ..RegState::pointer(RegType::Mem)
                    }
                }
            };
        }
        Ok(f)
    }

    /// The exception callback takes one argument, an integer (the cookie
    /// `bpf_throw` was given).
    fn exception_cb_args_ok(&self, sub: usize) -> bool {
        self.funcs
            .subs
            .get(sub)
            .and_then(|s| s.args.as_deref())
            .is_some_and(|a| a == [ArgKind::Scalar])
    }

    /// `check_return_code` at the exit of a global function's own
    /// verification: r0 must be a scalar, any scalar.
    pub(crate) fn check_global_exit(&mut self) -> VResult {
        let r0 = *self.cur.reg(0);
        if !r0.is_scalar() {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Other,
                format!(
                    "At subprogram exit the register R0 is not a scalar value ({})",
                    r0.type_str()
                ),
            ));
        }
        Ok(())
    }
}

/// `do_check_main` then `do_check_subprogs`, with the kernel's log resets:
/// at level 1 a passing pass leaves nothing in the log.
/// `env.funcs` must have been set from [`build_table`].
pub(crate) fn do_check_all(env: &mut Env<'_>) -> VResult {
    let level1 = env.opts.log_level & 3 == 1;
    if !env.funcs.subs.is_empty() {
        // The main program's prototype is read (and any complaint about
        // it logged); the main program is verified with r1 = ctx anyway.
        if env.prepare_func_args(0).is_err() {
            if let Some(main) = env.funcs.subs.first_mut() {
                main.unreliable = true;
            }
        }
    }
    // A helper call that calls a callback is where the callback's
    // iterations converge: a prune point (`mark_calls_callback`).
    for pc in 0..env.insns.len() {
        if env.calls_callback(pc) && env.cfg.ldimm_tail.get(pc) == Some(&false) {
            if let Some(p) = env.cfg.prune_point.get_mut(pc) {
                *p = true;
            }
        }
    }
    env.do_check()?;
    if level1 {
        env.log.clear();
    }
    if env.funcs.subs.is_empty() {
        return Ok(());
    }
    loop {
        let mut new = 0;
        for sub in 1..env.funcs.subs.len() {
            let Some(s) = env.funcs.subs.get(sub) else {
                continue;
            };
            if !s.global || !s.called || s.verified {
                continue;
            }
            let name = s.name.clone();
            if env.log_on() {
                env.log
                    .push_str(&format!("Validating {name}() func#{sub}...\n"));
            }
            let exception_cb = s.exception_cb;
            let frame = match env.global_entry_frame(sub) {
                Ok(_) if exception_cb && !env.exception_cb_args_ok(sub) => {
                    return Err(Rejection {
                        insn: None,
                        message: "exception cb only supports single integer argument".into(),
                        errno: EINVAL,
                        kind: RejectionKind::Other,
                        path: Vec::new(),
                    });
                }
                Ok(f) => f,
                Err(errno) => {
                    return Err(Rejection {
                        insn: None,
                        message: format!(
                            "func#{sub} ('{name}') has a prototype the kernel refuses"
                        ),
                        errno,
                        kind: RejectionKind::Other,
                        path: Vec::new(),
                    })
                }
            };
            let Some(&start) = env.cfg.subprogs.get(sub) else {
                return Err(Rejection::internal(
                    None,
                    format_args!(
                        "func#{sub} is in the function table but not in the CFG's subprograms"
                    ),
                ));
            };
            env.reset_for_subprog(start, frame);
            env.do_check()?;
            if level1 {
                env.log.clear();
            }
            if env.log_on() {
                env.log.push_str(&format!(
                    "Func#{sub} ('{name}') is safe for any args that match its prototype\n"
                ));
            }
            if let Some(s) = env.funcs.subs.get_mut(sub) {
                s.verified = true;
            }
            new += 1;
        }
        if new == 0 {
            return Ok(());
        }
    }
}

impl VerifyOptions {
    /// Gives the verifier an object's BTF (the raw `.BTF` a loader passes
    /// as `prog_btf_fd`) and one program's func_info, as `(first
    /// instruction, FUNC type id)` per subprogram. A blob that does not
    /// parse is left out, as a loader falls back to loading without BTF.
    pub fn set_btf(
        &mut self,
        raw: Option<&[u8]>,
        func_info: impl IntoIterator<Item = (usize, u32)>,
    ) {
        self.btf = raw
            .and_then(|b| Btf::parse(b).ok())
            .map(std::sync::Arc::new);
        self.func_info = if self.btf.is_some() {
            func_info
                .into_iter()
                .map(|(insn, type_id)| FuncInfoRec { insn, type_id })
                .collect()
        } else {
            Vec::new()
        };
    }
}
