//! kfunc calls (`BPF_PSEUDO_KFUNC_CALL`, `src_reg` 2, `imm` the function's
//! id in vmlinux BTF), as Linux 6.18 checks them: `add_kfunc_call` before
//! exploration, then `check_kfunc_call` and `check_kfunc_args` at each
//! call.
//!
//! The prototype comes from the running kernel's BTF (the FUNC's
//! FUNC_PROTO: argument names and types, return type); which program types
//! may call a kfunc and its `KF_*` flags come from [`crate::kfunc_table`].
//! Arguments are checked as the kernel classifies them
//! (`get_kfunc_ptr_arg_type`): scalars (`__k` constants), `PTR_TO_BTF_ID`
//! of the right struct with the trust `KF_TRUSTED_ARGS` and `KF_RCU` ask
//! for, memory of the pointee's size or with a `__sz` length, open-coded
//! iterators on the stack (`crate::iter`); `__ign`, `__nullable` and
//! `__uninit` are honoured. `KF_ACQUIRE` results are references that must
//! be released (`KF_RELEASE`) before the exit, `KF_RET_NULL` results need a
//! NULL check, and `bpf_rcu_read_lock`/`unlock` open and close RCU read
//! sections (`crate::rcu`).
//!
//! Allocated objects, linked lists and rbtrees have rules of their own,
//! in `crate::obj_new`; dynptr arguments (`struct bpf_dynptr *`) follow
//! `crate::dynptr`.
//!
//! Not modelled, and refused with a message naming what: kfuncs whose
//! flags ironbpf has not recorded, kfuncs with rules of their own
//! (arena, spin locks, IRQ sections, workqueues, callbacks) and
//! module kfuncs (`off` != 0, which need `fd_array`).

use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::kfunc_table::{self as table, *};
use crate::mem::Access;
use crate::state::{btf_flag, RegState, RegType};
use crate::vmlinux::{vmlinux, Vmlinux};
use crate::{Rejection, VerifyOptions};
use ironbpf_btf::{kind, kind_str, Btf};
use ironbpf_isa::{CallTarget, Insn, RawInsn};
use ironbpf_progtype::{AttachType, ProgTypeId};
use std::sync::Arc;

const EACCES: i32 = 13;
const EINVAL: i32 = 22;
const EFAULT: i32 = 14;

/// `MAX_BPF_FUNC_REG_ARGS`.
const MAX_ARGS: usize = 5;

/// A kfunc's prototype from vmlinux BTF.
pub(crate) struct KfuncMeta {
    pub vm: Arc<Vmlinux>,
    pub name: String,
    /// `(name, type id)` of each parameter.
    pub args: Vec<(String, u32)>,
    /// The return type id (0: void).
    pub ret: u32,
    /// The table's entry.
    pub entry: Option<&'static Kfunc>,
}

/// kfuncs that follow rules of their own in the kernel (special_kfunc_list
/// and the graph, dynptr, arena, lock and cast kfuncs): ironbpf refuses
/// them rather than check them as ordinary kfuncs.
fn special(name: &str) -> Option<&'static str> {
    let prefixes: &[(&str, &str)] = &[
        ("bpf_obj_", "allocated objects"),
        ("bpf_percpu_obj_", "allocated objects"),
        ("bpf_refcount_", "allocated objects"),
        ("bpf_list_", "linked lists"),
        ("bpf_rbtree_", "rbtrees"),
        ("bpf_arena_", "arena memory"),
        ("bpf_wq_", "workqueues"),
        ("bpf_res_spin_", "resilient spin locks"),
    ];
    prefixes
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|&(_, what)| what)
}

/// The main program names an exception callback: its BTF FUNC carries a
/// `exception_callback:<name>` decl tag (`bpf_find_exception_callback_insn_off`).
fn has_exception_cb(opts: &VerifyOptions) -> bool {
    let (Some(btf), Some(main)) = (opts.btf.as_deref(), opts.func_info.first()) else {
        return false;
    };
    btf.types.iter().any(|t| {
        t.kind == kind::DECL_TAG
            && t.size_or_type == main.type_id
            && t.extra[0] == u32::MAX
            && btf.str_at(t.name_off).starts_with("exception_callback:")
    })
}

/// The parameter named `name` ends in `suffix` (`__k`, `__sz`...), and has
/// more than the suffix (`__kfunc_param_match_suffix`).
pub(crate) fn suffix(name: &str, sfx: &str) -> bool {
    name.len() > sfx.len() && name.ends_with(sfx)
}

/// `btf_type_is_scalar`: an integer or an enum.
pub(crate) fn is_scalar(btf: &Btf, t: u32) -> bool {
    matches!(btf.kind_of(t), kind::INT | kind::ENUM | kind::ENUM64)
}

/// `__btf_type_is_scalar_struct`: a struct or union of scalars, arrays of
/// scalars and such structs or unions, nested at most three deep.
pub(crate) fn is_scalar_struct(btf: &Btf, t: u32, depth: u32) -> bool {
    let Some(ty) = btf.get(t) else { return false };
    if !matches!(ty.kind, kind::STRUCT | kind::UNION) {
        return false;
    }
    ty.members.iter().all(|m| {
        let mt = btf.skip_mods_and_typedefs(m.type_id).unwrap_or(m.type_id);
        if btf.is_struct(mt) {
            return depth < 3 && is_scalar_struct(btf, mt, depth + 1);
        }
        if btf.kind_of(mt) == kind::ARRAY {
            let elem = btf.get(mt).map_or(0, |a| a.extra[0]);
            return is_scalar(btf, btf.skip_mods_and_typedefs(elem).unwrap_or(elem));
        }
        is_scalar(btf, mt)
    })
}

/// Skips modifiers and typedefs.
pub(crate) fn skip(btf: &Btf, id: u32) -> u32 {
    btf.skip_mods_and_typedefs(id).unwrap_or(id)
}

/// The kernel's `btf_type_str` name of a kind, for messages.
fn kstr(btf: &Btf, id: u32) -> &'static str {
    if id == 0 {
        return "UNKNOWN";
    }
    kind_str(btf.kind_of(id))
}

/// The prototype of the kfunc with BTF id `id`, or why there is none
/// (`add_kfunc_call`'s checks).
pub(crate) fn meta_of(id: u32) -> Result<KfuncMeta, (i32, String)> {
    let vm = vmlinux().map_err(|e| (EINVAL, e))?;
    let btf = &vm.btf;
    if btf.kind_of(id) != kind::FUNC {
        return Err((EINVAL, format!("kernel btf_id {id} is not a function")));
    }
    let proto = btf.get(id).map_or(0, |f| f.size_or_type);
    let Some(p) = btf.get(proto).filter(|p| p.kind == kind::FUNC_PROTO) else {
        return Err((
            EINVAL,
            format!("kernel function btf_id {id} does not have a valid func_proto"),
        ));
    };
    let name = btf.name(id).to_string();
    let args = p
        .members
        .iter()
        .map(|m| (btf.str_at(m.name_off).to_string(), m.type_id))
        .collect();
    let ret = p.size_or_type;
    let entry = table::lookup(&name);
    Ok(KfuncMeta {
        vm: vm.clone(),
        name,
        args,
        ret,
        entry,
    })
}

/// Whether program type of `opts` may call the kfunc (`Some(false)`: the
/// kernel refuses it; `None`: not probed for this program type).
fn allowed(opts: &VerifyOptions, m: &KfuncMeta) -> Option<bool> {
    let bit = table::type_bit(opts.prog_type, opts.attach_type)?;
    if let Some(ok) = table::attach_filter(&m.name, opts.prog_type, opts.attach_type) {
        return Some(ok);
    }
    Some(m.entry.is_some_and(|e| e.types & bit != 0))
}

/// `add_kfunc_call`, during `add_subprog_and_kfunc`: the call names a
/// function of vmlinux BTF with a prototype, from a GPL program.
pub(crate) fn add_kfunc_call(
    pc: usize,
    i: &RawInsn,
    opts: &VerifyOptions,
) -> Result<(), Rejection> {
    let rej = |errno, message: String, kind| Rejection {
        insn: Some(pc),
        message,
        errno,
        kind,
        path: Vec::new(),
    };
    if i.off != 0 {
        return Err(rej(
            EINVAL,
            format!("insn {pc}: the kfunc call names module BTF (off {}), which ironbpf's verifier cannot read without the load's fd_array", i.off),
            RejectionKind::Unsupported { pc, what: "module kfuncs" },
        ));
    }
    if i.imm == 0 {
        // A weak kfunc the kernel lacks: checked if reached (lib.rs).
        return Ok(());
    }
    if !opts.gpl {
        return Err(rej(
            EINVAL,
            "cannot call kernel function from non-GPL compatible program".into(),
            RejectionKind::GplOnly { id: i.imm },
        ));
    }
    match meta_of(i.imm as u32) {
        Ok(_) => Ok(()),
        Err((_, why)) if vmlinux().is_err() => Err(rej(
            EINVAL,
            format!("insn {pc}: a kfunc call needs the kernel's BTF: {why}"),
            RejectionKind::Unsupported {
                pc,
                what: "kfunc calls without the kernel's BTF",
            },
        )),
        Err((errno, msg)) => Err(rej(
            errno,
            msg,
            RejectionKind::KfuncNotAllowed {
                pc,
                name: String::new(),
            },
        )),
    }
}

/// The arguments a kfunc call reads, for liveness: its parameter count, 5
/// where the call would be refused (`get_call_summary`).
pub(crate) fn arg_count(id: i32, opts: &VerifyOptions) -> usize {
    match meta_of(id as u32) {
        Ok(m) if allowed(opts, &m) == Some(true) => m.args.len().min(MAX_ARGS),
        _ => MAX_ARGS,
    }
}

/// The log line of a kfunc call: the kernel names it by its BTF name
/// (`call bpf_task_acquire#65836`, `call #0` for a missing weak kfunc).
pub(crate) fn log_line(pc: usize, insn: &Insn, code: u8) -> Option<String> {
    let Insn::Call(CallTarget::Kfunc { btf_id, off }) = *insn else {
        return None;
    };
    if off != 0 {
        return None;
    }
    let name = if btf_id == 0 {
        String::new()
    } else {
        vmlinux()
            .map(|v| v.name(btf_id as u32).to_string())
            .unwrap_or_else(|_| "kernel-function".into())
    };
    Some(format!("{pc}: ({code:02x}) call {name}#{btf_id}"))
}

/// What the arguments tell the rest of the call (`bpf_kfunc_call_arg_meta`).
#[derive(Default)]
struct ArgMeta {
    ref_obj_id: u32,
    release_regno: usize,
    r0_size: Option<u64>,
    r0_rdonly: bool,
    /// The iterator argument's stack slot and frame, for `next`.
    iter: Option<(usize, usize)>,
    /// The value of the `__k` argument (`arg_constant`).
    k_const: Option<u64>,
    /// `bpf_cast_to_kern_ctx`: the kernel's context struct.
    kern_ctx: u32,
    /// The initialised dynptr argument (crate::dynptr).
    dynptr: crate::dynptr::KfuncDynptr,
}

impl Env<'_> {
    fn kreject(&self, errno: i32, kind: RejectionKind, msg: String) -> Rejection {
        self.reject_errno(errno, kind, msg)
    }

    fn karg(&self, errno: i32, r: usize, kfunc: &str, expected: &str, msg: String) -> Rejection {
        self.kreject(
            errno,
            RejectionKind::KfuncArg {
                reg: r as u8,
                kfunc: kfunc.to_string(),
                got: self.cur.reg(r).type_str(),
                expected: expected.to_string(),
            },
            msg,
        )
    }

    fn kunsupported(&self, what: &'static str, detail: String) -> Rejection {
        self.kreject(
            EINVAL,
            RejectionKind::Unsupported { pc: self.pc, what },
            format!("insn {}: {detail}", self.pc),
        )
    }

    /// `check_kfunc_call`. `Ok(true)`: the call ended the path
    /// (`bpf_throw`, an exceptional exit).
    pub(crate) fn check_kfunc_call(&mut self, btf_id: i32, off: i16) -> VResult<bool> {
        if btf_id == 0 {
            // Skipped here; the kernel fails such a call in its fixup pass
            // if it is reached (see lib.rs).
            return Ok(false);
        }
        if off != 0 {
            return Err(self.kunsupported(
                "module kfuncs",
                "kfuncs of module BTF need the load's fd_array".into(),
            ));
        }
        let m = match meta_of(btf_id as u32) {
            Ok(m) => m,
            Err((errno, msg)) => {
                return Err(self.kreject(
                    errno,
                    RejectionKind::KfuncNotAllowed {
                        pc: self.pc,
                        name: String::new(),
                    },
                    msg,
                ))
            }
        };
        let name = m.name.clone();
        match allowed(self.opts, &m) {
            None => {
                return Err(self.kunsupported(
                    "kfunc calls from this program type",
                    format!(
                        "ironbpf has not probed which kfuncs {} programs may call, so it refuses the call to {name}",
                        self.opts.prog_type.name()
                    ),
                ))
            }
            Some(false) => {
                return Err(self.kreject(
                    EACCES,
                    RejectionKind::KfuncNotAllowed {
                        pc: self.pc,
                        name: name.clone(),
                    },
                    format!("calling kernel function {name} is not allowed"),
                ))
            }
            Some(true) => {}
        }
        // bpf_res_spin_lock and bpf_res_spin_unlock (spin_lock.rs).
        if self.res_spin_lock_kfunc(&name)? {
            return Ok(false);
        }
        // Allocated objects, linked lists and rbtrees (obj_new.rs).
        if let Some(flags) = m.entry.and_then(|e| e.flags) {
            if self.graph_kfunc_call(&m, flags)? {
                return Ok(false);
            }
        }
        if let Some(what) = special(&name) {
            return Err(self.kunsupported(
                what,
                format!("the kfunc {name} follows the kernel's rules for {what}, which ironbpf's verifier does not model, so it refuses the call"),
            ));
        }
        let Some(flags) = m.entry.and_then(|e| e.flags) else {
            return Err(self.kunsupported(
                "kfuncs whose KF_ flags ironbpf has not recorded",
                format!("ironbpf's verifier does not know the KF_ flags of the kfunc {name}, so it refuses the call"),
            ));
        };
        if flags & KF_SLEEPABLE != 0 && !self.opts.sleepable {
            return Err(self.kreject(
                EACCES,
                RejectionKind::KfuncNotAllowed {
                    pc: self.pc,
                    name: name.clone(),
                },
                format!("program must be sleepable to call sleepable kfunc {name}"),
            ));
        }
        let mut meta = ArgMeta::default();
        self.check_kfunc_args(&m, flags, &mut meta)?;
        if name == "bpf_throw" && !has_exception_cb(self.opts) {
            // With the default exception callback the cookie becomes the
            // program's return value.
            self.throw_return_code()?;
        }
        if name == "bpf_session_cookie" {
            // The session's u64 cookie, writable.
            meta.r0_size = Some(8);
            meta.r0_rdonly = false;
        }
        self.rcu_kfunc(&name, flags)?;
        if flags & KF_RCU_PROTECTED != 0 && !self.in_rcu_section() {
            return Err(self.kreject(
                EACCES,
                RejectionKind::RcuSection { pc: self.pc },
                format!("kernel func {name} requires RCU critical section protection"),
            ));
        }
        if meta.release_regno != 0 {
            let rid = self.cur.reg(meta.release_regno).ref_obj_id;
            if !self.cur.refs.iter().any(|r| r.id == rid) {
                return Err(self.kreject(
                    EINVAL,
                    RejectionKind::KfuncArg {
                        reg: meta.release_regno as u8,
                        kfunc: name.clone(),
                        got: self.type_str(meta.release_regno),
                        expected: "an acquired reference".into(),
                    },
                    format!("kfunc {name}#{btf_id} reference has not been acquired before"),
                ));
            }
            self.release_reference(rid);
        }
        for r in 1..=5 {
            *self.cur.reg_mut(r) = RegState::not_init();
            self.scratch.reg(r);
        }
        self.scratch.reg(0);
        let r0 = self.kfunc_ret(&m, flags, &meta)?;
        *self.cur.reg_mut(0) = r0;
        if flags & KF_ITER_NEXT != 0 {
            self.process_iter_next_call(meta.iter)?;
        }
        if name == "bpf_xdp_pull_data" {
            // is_kfunc_pkt_changing: packet pointers and packet slices of
            // dynptrs are stale.
            self.clear_all_pkt_pointers();
        }
        if name == "bpf_throw" {
            self.throw_exit()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `check_css_task_iter_allowlist`.
    fn css_task_iter_allowed(&self) -> bool {
        match self.opts.prog_type {
            ProgTypeId::Lsm => true,
            ProgTypeId::Tracing if self.opts.attach_type == Some(AttachType::TraceIter) => true,
            _ => self.opts.sleepable,
        }
    }

    /// `check_return_code(env, BPF_REG_1, "R1")` for `bpf_throw`'s cookie.
    fn throw_return_code(&self) -> VResult {
        let r1 = *self.cur.reg(1);
        if self.is_pointer_value(1) {
            return Err(self.kreject(
                EACCES,
                RejectionKind::PointerLeak {
                    reg: 1,
                    into: "the return value",
                },
                "R1 leaks addr as return value".into(),
            ));
        }
        let Some(rr) = self
            .desc
            .and_then(|d| d.return_range(self.opts.attach_type))
        else {
            return Ok(());
        };
        let kind = RejectionKind::ReturnValue {
            min: rr.min,
            max: rr.max,
        };
        if !r1.is_scalar() {
            return Err(self.kreject(
                EINVAL,
                kind,
                format!(
                    "At program exit the register R1 is not a known value ({})",
                    r1.type_str()
                ),
            ));
        }
        let v = r1.val;
        let within = if rr.on_64bit {
            rr.min <= v.smin && v.smax <= rr.max
        } else {
            rr.min <= v.s32_min as i64 && v.s32_max as i64 <= rr.max
        };
        if !within {
            let m = crate::calls::invalid_r0_range("program exit", v.smin, v.smax, rr.min, rr.max)
                .replacen("register R0", "register R1", 1);
            return Err(self.kreject(EINVAL, kind, m));
        }
        Ok(())
    }

    /// The exceptional exit after `bpf_throw` (`process_bpf_exit_full`
    /// with `exception_exit`): no callback may throw, and no reference
    /// (of any frame) nor RCU read section may be left open.
    fn throw_exit(&self) -> VResult {
        // An asynchronous callback (timer.rs) is a callback too.
        let async_cb = self.cur.frames.iter().any(|f| f.in_async_callback_fn);
        if async_cb || self.cur.frames.iter().skip(1).any(|f| f.in_callback_fn) {
            return Err(self.kreject(
                EINVAL,
                RejectionKind::Other,
                format!(
                    "bpf_throw kfunc (insn {}) cannot be called from callback subprog {}",
                    self.pc,
                    self.cur.cur().subprog
                ),
            ));
        }
        if let Some(first) = self.cur.refs.first().copied() {
            let mut m = String::new();
            for r in &self.cur.refs {
                m.push_str(&format!(
                    "Unreleased reference id={} alloc_insn={}\n",
                    r.id, r.insn
                ));
            }
            m.push_str("bpf_throw would lead to reference leak");
            return Err(self.kreject(
                EINVAL,
                RejectionKind::UnreleasedReference {
                    id: first.id,
                    insn: first.insn,
                },
                m,
            ));
        }
        self.section_exit("bpf_throw")
    }

    /// `check_kfunc_args`.
    fn check_kfunc_args(&mut self, m: &KfuncMeta, flags: u32, meta: &mut ArgMeta) -> VResult {
        let btf = &m.vm.btf;
        let name = &m.name;
        let nargs = m.args.len();
        if nargs > MAX_ARGS {
            return Err(self.kreject(
                EINVAL,
                RejectionKind::Other,
                format!("Function {name} has {nargs} > {MAX_ARGS} args"),
            ));
        }
        let release = flags & KF_RELEASE != 0;
        let mut i = 0;
        while i < nargs {
            let Some((aname, atype)) = m.args.get(i).map(|(n, t)| (n.as_str(), *t)) else {
                break;
            };
            let regno = i + 1;
            let reg = *self.cur.reg(regno);
            self.scratch.reg(regno);
            let t = skip(btf, atype);
            if suffix(aname, "__ign") {
                i += 1;
                continue;
            }
            if is_scalar(btf, t) {
                if reg.ty != RegType::Scalar {
                    return Err(self.karg(
                        EINVAL,
                        regno,
                        name,
                        "scalar",
                        format!("R{regno} is not a scalar"),
                    ));
                }
                if suffix(aname, "__k") {
                    if !reg.val.var_off.is_const() {
                        return Err(self.karg(
                            EINVAL,
                            regno,
                            name,
                            "a known constant",
                            format!("R{regno} must be a known constant"),
                        ));
                    }
                    self.mark_chain_precision(regno);
                    meta.k_const = Some(reg.val.var_off.value);
                } else if aname == "rdonly_buf_size" || aname == "rdwr_buf_size" {
                    if !reg.val.var_off.is_const() {
                        return Err(self.karg(
                            EINVAL,
                            regno,
                            name,
                            "a known constant",
                            format!("R{regno} is not a const"),
                        ));
                    }
                    meta.r0_size = Some(reg.val.var_off.value);
                    meta.r0_rdonly = aname == "rdonly_buf_size";
                    self.mark_chain_precision(regno);
                }
                i += 1;
                continue;
            }
            if btf.kind_of(t) != kind::PTR {
                return Err(self.karg(
                    EINVAL,
                    regno,
                    name,
                    "a pointer or a scalar",
                    format!("Unrecognized arg#{i} type {}", kstr(btf, t)),
                ));
            }
            let nullable = suffix(aname, "__nullable");
            // Only trusted arguments (KF_TRUSTED_ARGS, KF_RCU, a release)
            // may not be NULL here; `bpf_dynptr_slice`'s `buffer__opt`
            // may.
            let trusted = flags & (KF_TRUSTED_ARGS | KF_RCU) != 0 || release;
            if trusted && (reg.is_null() || reg.maybe_null) && !nullable {
                return Err(self.karg(
                    EACCES,
                    regno,
                    name,
                    "a pointer that is not NULL",
                    format!("Possibly NULL pointer passed to trusted arg{i}"),
                ));
            }
            if reg.ref_obj_id != 0 {
                if release && meta.ref_obj_id != 0 {
                    return Err(self.kreject(
                        EFAULT,
                        RejectionKind::Other,
                        format!(
                            "verifier internal error: more than one arg with ref_obj_id R{regno} {} {}",
                            reg.ref_obj_id, meta.ref_obj_id
                        ),
                    ));
                }
                meta.ref_obj_id = reg.ref_obj_id;
                if release {
                    meta.release_regno = regno;
                }
            }
            let pointee = btf.get(t).map_or(0, |p| p.size_or_type);
            let ref_t = skip(btf, pointee);
            let ref_tname = btf.name(ref_t).to_string();
            // get_kfunc_ptr_arg_type
            if nullable && reg.is_null() {
                i += 1;
                continue;
            }
            if name == "bpf_cast_to_kern_ctx" {
                // KF_ARG_PTR_TO_CTX
                if reg.ty != RegType::Ctx {
                    return Err(self.karg(
                        EINVAL,
                        regno,
                        name,
                        "the program's context",
                        format!(
                            "arg#{i} expected pointer to ctx, but got {}",
                            reg.type_str()
                        ),
                    ));
                }
                self.check_ctx_arg_off(regno)?;
                meta.kern_ctx =
                    m.vm.kern_ctx_type(self.opts.prog_type.kernel_id())
                        .map_err(|t| {
                            self.kreject(
                                EINVAL,
                                RejectionKind::Other,
                                format!("kern ctx type id {t} is not a struct"),
                            )
                        })?;
                i += 1;
                continue;
            }
            let prog_ctx = reg.ty == RegType::Ctx
                && btf.is_struct(ref_t)
                && m.vm
                    .prog_ctx_type(self.opts.prog_type.kernel_id())
                    .is_ok_and(|c| btf.name(c) == ref_tname);
            if prog_ctx {
                // KF_ARG_PTR_TO_CTX (`btf_is_prog_ctx_type`): the
                // program's own context, as it is.
                self.check_ctx_arg_off(regno)?;
                i += 1;
                continue;
            }
            if ref_tname == "bpf_dynptr" {
                // KF_ARG_PTR_TO_DYNPTR (crate::dynptr).
                self.dynptr_kfunc_arg(name, i, aname, release, &mut meta.dynptr)?;
                i += 1;
                continue;
            }
            let iter_arg = i == 0 && flags & (KF_ITER_NEW | KF_ITER_NEXT | KF_ITER_DESTROY) != 0;
            if iter_arg {
                if name == "bpf_iter_css_task_new" && !self.css_task_iter_allowed() {
                    return Err(self.kreject(
                        EINVAL,
                        RejectionKind::Iterator { reg: regno as u8 },
                        "css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs"
                            .into(),
                    ));
                }
                let at = self.process_iter_arg(m, flags, i, &ref_tname)?;
                if flags & KF_ITER_NEW == 0 {
                    // `next`'s result shares the iterator's reference.
                    meta.ref_obj_id = self.iter_ref(at);
                }
                meta.iter = Some(at);
                i += 1;
                continue;
            }
            let btf_like = matches!(
                reg.ty,
                RegType::BtfId | RegType::Socket | RegType::SockCommon | RegType::TcpSock
            );
            if suffix(aname, "__irq_flag") && name.starts_with("bpf_local_irq_") {
                // KF_ARG_PTR_TO_IRQ_FLAG
                self.process_irq_flag(i, name == "bpf_local_irq_save")?;
                i += 1;
                continue;
            }
            if suffix(aname, "__map") || suffix(aname, "__str") || suffix(aname, "__irq_flag") {
                return Err(self.kunsupported(
                    "kfunc map, string and IRQ-flag arguments",
                    format!("arg#{i} ({aname}) of {name}: ironbpf's verifier does not model this argument kind, so it refuses the call"),
                ));
            }
            if btf_like {
                if !btf.is_struct(ref_t) {
                    return Err(self.karg(
                        EINVAL,
                        regno,
                        name,
                        "a pointer to a struct",
                        format!(
                            "kernel function {name} args#{i} pointer type {} {ref_tname} is not supported",
                            kstr(btf, ref_t)
                        ),
                    ));
                }
                self.kfunc_btf_arg(m, flags, i, ref_t, &ref_tname, meta)?;
                i += 1;
                continue;
            }
            if btf.kind_of(ref_t) == kind::FUNC_PROTO {
                return Err(self.kunsupported(
                    "kfunc callbacks",
                    format!("arg#{i} of {name} is a callback, which ironbpf's verifier does not verify for kfuncs, so it refuses the call"),
                ));
            }
            let size_arg = m.args.get(i + 1).filter(|(n, at)| {
                is_scalar(btf, skip(btf, *at)) && (suffix(n, "__sz") || suffix(n, "__szk"))
            });
            let mem_size = size_arg.is_some();
            let void = ref_t == 0;
            if !is_scalar(btf, ref_t) && !is_scalar_struct(btf, ref_t, 0) && (!mem_size || !void) {
                return Err(self.karg(
                    EINVAL,
                    regno,
                    name,
                    "memory",
                    format!(
                        "arg#{i} pointer type {} {ref_tname} must point to {}scalar, or struct with scalar",
                        kstr(btf, ref_t),
                        if mem_size { "void, " } else { "" }
                    ),
                ));
            }
            if reg.ty == RegType::Ctx {
                self.check_ctx_arg_off(regno)?;
            }
            if let Some((sname, _)) = size_arg {
                let szk = suffix(sname, "__szk");
                if name.starts_with("bpf_dynptr_slice") && reg.ty == RegType::Stack {
                    // The slice may be this stack buffer (`reg->buf`).
                    let size = self.cur.reg(regno + 1).val.var_off.value;
                    let off = reg.off as i64 + reg.val.var_off.value as i64;
                    meta.dynptr.buf = Some((reg.frameno as u16, off as i16, size as u32));
                }
                self.kfunc_mem_size(name, i, szk, suffix(aname, "__opt"))?;
                if szk {
                    // arg_constant
                    meta.k_const = Some(self.cur.reg(regno + 1).val.var_off.value);
                }
                i += 2;
                continue;
            }
            let size = btf.resolve_size(ref_t).map(|r| r.size).map_err(|e| {
                self.karg(
                    EINVAL,
                    regno,
                    name,
                    "memory of a known size",
                    format!(
                        "arg#{i} reference type('{} {ref_tname}') size cannot be determined: {e}",
                        kstr(btf, ref_t)
                    ),
                )
            })?;
            // check_mem_reg: NULL is no memory to check.
            if !reg.is_null() {
                self.check_helper_mem(regno, size as i64, Access::Read, true, None)?;
                self.check_helper_mem(regno, size as i64, Access::Write, true, None)?;
            }
            i += 1;
        }
        if release && meta.release_regno == 0 {
            return Err(self.kreject(
                EINVAL,
                RejectionKind::KfuncArg {
                    reg: 1,
                    kfunc: name.clone(),
                    got: self.type_str(1),
                    expected: "a referenced pointer".into(),
                },
                format!("release kernel function {name} expects refcounted PTR_TO_BTF_ID"),
            ));
        }
        Ok(())
    }

    /// `check_func_arg_reg_off` for a context pointer.
    fn check_ctx_arg_off(&self, r: usize) -> VResult {
        let reg = self.cur.reg(r);
        if reg.off != 0 {
            return Err(self.reject(
                RejectionKind::ModifiedCtx {
                    reg: r as u8,
                    off: reg.off as i64,
                },
                format!(
                    "dereference of modified ctx ptr R{r} off={} disallowed",
                    reg.off
                ),
            ));
        }
        Ok(())
    }

    /// A `KF_ARG_PTR_TO_BTF_ID` argument: trust, offset and struct type
    /// (`process_kf_arg_ptr_to_btf_id`).
    fn kfunc_btf_arg(
        &mut self,
        m: &KfuncMeta,
        flags: u32,
        i: usize,
        ref_t: u32,
        ref_tname: &str,
        meta: &ArgMeta,
    ) -> VResult {
        let btf = &m.vm.btf;
        let name = &m.name;
        let regno = i + 1;
        let reg = *self.cur.reg(regno);
        // Any flag but PTR_TRUSTED is an unsafe modifier; MAYBE_NULL was
        // refused above.
        let unsafe_mods = reg.rdonly || reg.btf_flags & !btf_flag::TRUSTED != 0;
        let rcu = reg.btf_flags & btf_flag::RCU != 0;
        let sock = matches!(
            reg.ty,
            RegType::Socket | RegType::SockCommon | RegType::TcpSock
        );
        let trusted = reg.ref_obj_id != 0
            || (sock && !unsafe_mods)
            || (reg.btf_flags & btf_flag::TRUSTED != 0 && !unsafe_mods);
        if flags & (KF_TRUSTED_ARGS | KF_RCU) != 0 && !trusted {
            if flags & KF_RCU == 0 {
                return Err(self.karg(
                    EINVAL,
                    regno,
                    name,
                    "a referenced or trusted pointer",
                    format!("R{regno} must be referenced or trusted"),
                ));
            }
            if !rcu {
                return Err(self.karg(
                    EINVAL,
                    regno,
                    name,
                    "a trusted or RCU pointer",
                    format!("R{regno} must be a rcu pointer"),
                ));
            }
        }
        // check_func_arg_reg_off
        let releasing = flags & KF_RELEASE != 0 && reg.ref_obj_id != 0;
        if releasing && reg.off != 0 {
            return Err(self.karg(
                EINVAL,
                regno,
                name,
                "the pointer the kfunc returned",
                format!("R{regno} must have zero offset when passed to release func or trusted arg to kfunc"),
            ));
        }
        if !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
            let t = reg.type_str();
            return Err(self.karg(
                EACCES,
                regno,
                name,
                "a pointer with a constant offset",
                format!("variable {t} access var_off={} disallowed", reg.val.var_off),
            ));
        }
        if reg.off < 0 {
            return Err(self.karg(
                EACCES,
                regno,
                name,
                "a pointer with a non-negative offset",
                format!(
                    "negative offset {} ptr R{regno} off={} disallowed",
                    reg.type_str(),
                    reg.off
                ),
            ));
        }
        if reg.ty == RegType::BtfId && unsafe_mods && !rcu {
            let mut base = RegState {
                btf_flags: reg.btf_flags & btf_flag::TRUSTED,
                ..reg
            };
            base.rdonly = false;
            base.maybe_null = false;
            return Err(self.karg(
                EINVAL,
                regno,
                name,
                "a trusted pointer",
                format!(
                    "arg#{i} is {} expected {} or socket",
                    reg.type_str(),
                    base.type_str()
                ),
            ));
        }
        // The register's struct: its BTF id, or the kernel struct of a
        // socket pointer (reg2btf_ids).
        let reg_id = match reg.ty {
            RegType::BtfId => reg.btf_id,
            RegType::Socket => m.vm.struct_id("sock").unwrap_or(0),
            RegType::SockCommon => m.vm.struct_id("sock_common").unwrap_or(0),
            _ => m.vm.struct_id("tcp_sock").unwrap_or(0),
        };
        let reg_id = skip(btf, reg_id);
        let strict = releasing;
        let mut id = reg_id;
        let mut off = reg.off.max(0) as u32;
        let same = loop {
            if off == 0 && id == ref_t {
                break true;
            }
            if strict {
                break false;
            }
            // btf_struct_ids_match: the first member, nested.
            let Some(st) = btf.get(id).filter(|s| s.kind == kind::STRUCT) else {
                break false;
            };
            let Some(first) = st.members.first() else {
                break false;
            };
            if off != 0 {
                break false;
            }
            let mt = skip(btf, first.type_id);
            if btf.kind_of(mt) != kind::STRUCT || Btf::member_bit_offset(st, first) != 0 {
                break false;
            }
            id = mt;
            off = 0;
        };
        let projection = matches!(
            (ref_tname, btf.name(reg_id)),
            ("__sk_buff", "sk_buff") | ("xdp_md", "xdp_buff")
        );
        if !same && !projection {
            return Err(self.karg(
                EINVAL,
                regno,
                name,
                &format!("a pointer to struct {ref_tname}"),
                format!(
                    "kernel function {name} args#{i} expected pointer to {} {ref_tname} but R{regno} has a pointer to {} {}",
                    kstr(btf, ref_t),
                    kstr(btf, reg_id),
                    btf.name(reg_id)
                ),
            ));
        }
        let _ = meta;
        Ok(())
    }

    /// A memory argument and its `__sz` length (`check_kfunc_mem_size_reg`),
    /// or `__szk` constant size; a NULL `__opt` buffer is not checked.
    fn kfunc_mem_size(&mut self, name: &str, i: usize, szk: bool, opt: bool) -> VResult {
        let (buf, size_r) = (i + 1, i + 2);
        self.scratch.reg(size_r);
        let sreg = *self.cur.reg(size_r);
        let pair = |me: &Self, e: Rejection| -> Rejection {
            let mut e = e;
            e.message.push_str(&format!(
                "\narg#{i} arg#{} memory, len pair leads to invalid memory access",
                i + 1
            ));
            let _ = me;
            e
        };
        if sreg.ty != RegType::Scalar {
            return Err(self.karg(
                EINVAL,
                size_r,
                name,
                "scalar",
                format!("R{size_r} is not a scalar"),
            ));
        }
        if opt && self.cur.reg(buf).is_null() {
            // No buffer: the verdict rests on its being NULL.
            self.mark_chain_precision(buf);
        } else {
            let v = sreg.val;
            // check_mem_size_reg, for a read and then for a write.
            for t in [Access::Read, Access::Write] {
                if v.smin < 0 {
                    let e = self.karg(
                        EACCES,
                        size_r,
                        name,
                        "a non-negative size",
                        format!(
                            "R{size_r} min value is negative, either use unsigned or 'var &= const'"
                        ),
                    );
                    return Err(pair(self, e));
                }
                if v.umax >= 1 << 29 {
                    let e = self.karg(
                        EACCES,
                        size_r,
                        name,
                        "a bounded size",
                        format!(
                            "R{size_r} unbounded memory access, use 'var &= const' or 'if (var < const)'"
                        ),
                    );
                    return Err(pair(self, e));
                }
                if let Err(e) = self.check_helper_mem(buf, v.umax as i64, t, true, None) {
                    return Err(pair(self, e));
                }
                self.mark_chain_precision(size_r);
            }
        }
        if szk {
            if !sreg.val.var_off.is_const() {
                return Err(self.karg(
                    EINVAL,
                    size_r,
                    name,
                    "a known constant",
                    format!("R{size_r} must be a known constant"),
                ));
            }
            self.mark_chain_precision(size_r);
        }
        Ok(())
    }

    /// The return value (the end of `check_kfunc_call`).
    fn kfunc_ret(&mut self, m: &KfuncMeta, flags: u32, meta: &ArgMeta) -> VResult<RegState> {
        let btf = &m.vm.btf;
        match m.name.as_str() {
            "bpf_dynptr_slice" | "bpf_dynptr_slice_rdwr" => {
                // crate::dynptr; PTR_MAYBE_NULL as KF_RET_NULL gives it.
                let mut r0 = self.dynptr_slice_ret(&m.name, meta.k_const, &meta.dynptr)?;
                if flags & KF_RET_NULL != 0 {
                    r0.maybe_null = true;
                    r0.id = self.new_id();
                }
                return Ok(r0);
            }
            "bpf_cast_to_kern_ctx" => {
                return Ok(RegState {
                    btf_id: meta.kern_ctx,
                    btf_flags: btf_flag::TRUSTED,
                    ..RegState::pointer(RegType::BtfId)
                })
            }
            "bpf_rdonly_cast" => return self.rdonly_cast_ret(btf, meta.k_const.unwrap_or(0)),
            _ => {}
        }
        let t = skip(btf, m.ret);
        let acquire = flags & KF_ACQUIRE != 0;
        let struct_ptr = btf.kind_of(t) == kind::PTR && {
            let p = skip(btf, btf.get(t).map_or(0, |p| p.size_or_type));
            btf.is_struct(p)
        };
        if acquire && !struct_ptr {
            return Err(self.kreject(
                EINVAL,
                RejectionKind::Other,
                "acquire kernel function does not return PTR_TO_BTF_ID".into(),
            ));
        }
        if t == 0 {
            return Ok(RegState::not_init());
        }
        if is_scalar(btf, t) {
            return Ok(RegState::unknown());
        }
        if btf.kind_of(t) != kind::PTR {
            return Ok(RegState::unknown());
        }
        let pointee_raw = btf.get(t).map_or(0, |p| p.size_or_type);
        let pointee = skip(btf, pointee_raw);
        let mut r0 = if pointee == 0 {
            // `void *` is a scalar.
            return Ok(RegState::unknown());
        } else if !btf.is_struct(pointee) {
            let mut size = meta.r0_size;
            let mut rdonly = meta.r0_rdonly;
            if size.is_none() {
                if let Ok(r) = btf.resolve_size(pointee) {
                    size = Some(u64::from(r.size));
                    rdonly = true;
                }
            }
            let Some(size) = size.filter(|s| *s != 0) else {
                return Err(self.kreject(
                    EINVAL,
                    RejectionKind::Other,
                    format!(
                        "kernel function {} returns pointer type {} {} is not supported",
                        m.name,
                        kstr(btf, pointee),
                        btf.name(pointee)
                    ),
                ));
            };
            RegState {
                rdonly,
                mem_size: size as u32,
                ref_obj_id: meta.ref_obj_id,
                ..RegState::pointer(RegType::Mem)
            }
        } else {
            let mut f = 0;
            if m.name == "bpf_get_kmem_cache" {
                f |= btf_flag::UNTRUSTED;
            } else if flags & KF_RCU_PROTECTED != 0 {
                f |= btf_flag::RCU;
            }
            if flags & KF_ITER_NEXT != 0 {
                // An element of an RCU-protected iterator is an RCU
                // pointer, of any other a trusted one.
                let rcu_iter = meta.iter.is_some_and(|(fi, spi)| {
                    self.cur
                        .frames
                        .get(fi)
                        .and_then(|f| f.stack.get(spi))
                        .is_some_and(|s| s.spilled.btf_flags & btf_flag::RCU != 0)
                });
                f |= if rcu_iter {
                    btf_flag::RCU
                } else {
                    btf_flag::TRUSTED
                };
            }
            RegState {
                btf_id: pointee,
                btf_flags: f,
                ..RegState::pointer(RegType::BtfId)
            }
        };
        if flags & KF_RET_NULL != 0 {
            r0.maybe_null = true;
            r0.id = self.new_id();
        }
        if acquire {
            let id = self.acquire_reference();
            if flags & KF_RET_NULL != 0 {
                r0.id = id;
            }
            r0.ref_obj_id = id;
        }
        Ok(r0)
    }
}

impl Env<'_> {
    /// `bpf_rdonly_cast(obj, btf_id)`: an untrusted pointer to vmlinux
    /// struct `btf_id`, or with id 0 (`void`) read-only untrusted memory of
    /// no known size (loads of any offset, turned into probing loads).
    fn rdonly_cast_ret(&self, btf: &Btf, id: u64) -> VResult<RegState> {
        if id == 0 {
            return Ok(RegState {
                rdonly: true,
                mem_size: 0,
                btf_flags: btf_flag::UNTRUSTED,
                ..RegState::pointer(RegType::Mem)
            });
        }
        let known = u32::try_from(id).ok().filter(|&t| btf.get(t).is_some());
        let Some(t) = known else {
            return Err(self.kreject(
                EINVAL,
                RejectionKind::Other,
                format!(
                    "Unknown type ID {} passed to kfunc bpf_rdonly_cast",
                    id as i64
                ),
            ));
        };
        if !btf.is_struct(t) {
            return Err(self.kreject(
                EINVAL,
                RejectionKind::Other,
                "kfunc bpf_rdonly_cast type ID argument must be of a struct or void".into(),
            ));
        }
        Ok(RegState {
            btf_id: t,
            btf_flags: btf_flag::UNTRUSTED,
            ..RegState::pointer(RegType::BtfId)
        })
    }
}

/// Whether `insn` is a call of a kfunc with `KF_ITER_NEXT` (a forced
/// checkpoint, `is_iter_next_insn`).
pub(crate) fn is_iter_next(i: &RawInsn) -> bool {
    if i.code != 0x85 || i.src != 2 || i.off != 0 || i.imm == 0 {
        return false;
    }
    vmlinux().is_ok_and(|v| {
        table::lookup(v.name(i.imm as u32))
            .and_then(|k| k.flags)
            .is_some_and(|f| f & KF_ITER_NEXT != 0)
    })
}

/// `fixup_kfunc_call`: a call with BTF id 0 (a weak kfunc the kernel
/// lacks) must be dead code, removed before the fixups.
pub(crate) fn check_weak_kfuncs(insns: &[RawInsn], reached: &[bool]) -> VResult {
    for (pc, i) in insns.iter().enumerate() {
        if i.code == 0x85 && i.src == 2 && i.imm == 0 && reached.get(pc) == Some(&true) {
            return Err(Rejection {
                insn: Some(pc),
                message: "invalid kernel function call not eliminated in verifier pass".into(),
                errno: EINVAL,
                kind: RejectionKind::KfuncNotAllowed {
                    pc,
                    name: String::new(),
                },
                path: Vec::new(),
            });
        }
    }
    Ok(())
}
