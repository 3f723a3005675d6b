//! Calls: helpers checked against their prototypes (`check_helper_call`,
//! `check_func_arg`), bpf-to-bpf calls in new frames (`check_func_call`,
//! `prepare_func_exit`), tail calls, and the exit's return-value check
//! (`check_return_code`).

use crate::cfg::libc_errno::*;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::mem::Access;
use crate::ptr::BPF_MAX_VAR_OFF;
use crate::scalar::Scalar;
use crate::state::*;
use ironbpf_helpers::catalog::{self, Privilege, ProtoEnv, ProtoRefusal};
use ironbpf_helpers::proto::{flags, ArgBase, ArgType, Proto, RetType};
use ironbpf_isa::{CallTarget, Insn};
use ironbpf_progtype::ProgTypeId;

/// `BPF_MAX_VAR_SIZ`.
const BPF_MAX_VAR_SIZ: u64 = 1 << 29;
/// `BPF_FUNC_tail_call`.
pub(crate) const BPF_FUNC_TAIL_CALL: i32 = 12;
/// `BPF_FUNC_get_local_storage`.
const BPF_FUNC_GET_LOCAL_STORAGE: i32 = 81;
/// `BPF_FUNC_map_lookup_elem`.
const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;
/// The kernel's `MAX_ERRNO`.
const MAX_ERRNO: i64 = 4095;

/// The kernel's `ProtoEnv` for these options: the licence, the loader's
/// capabilities and `BPF_F_SLEEPABLE`.
pub fn proto_env(opts: &crate::VerifyOptions) -> ProtoEnv {
    ProtoEnv {
        gpl: opts.gpl,
        privilege: if opts.privileged {
            Privilege::Perfmon
        } else {
            Privilege::Unprivileged
        },
        sleepable: opts.sleepable,
    }
}

/// The prototype of helper `id` for the program, as the kernel's
/// `get_func_proto` answers for its type and attach type
/// ([`catalog::func_proto`]): the refusal carries the kernel's message
/// (`invalid func unknown#N`, `program of this type cannot use helper
/// bpf_x#N`, the GPL and sleepable checks).
pub fn helper_proto(id: i32, opts: &crate::VerifyOptions) -> Result<&Proto, ProtoRefusal> {
    if let Some((_, _, p)) = opts.extra_helpers.iter().find(|h| h.0 == id) {
        return Ok(p);
    }
    if let Some(p) = iter_target_proto(id, opts) {
        return Ok(p);
    }
    catalog::func_proto(
        opts.prog_type,
        opts.attach_type,
        id as i64,
        &proto_env(opts),
    )
}

/// `bpf_iter_get_func_proto`: what an iterator's target adds for the
/// programs attached to it. The tcp iterator (`bpf_iter_tcp`) gives
/// `bpf_setsockopt` and `bpf_getsockopt` on the socket it visits.
fn iter_target_proto(id: i32, opts: &crate::VerifyOptions) -> Option<&'static Proto> {
    const BPF_FUNC_SETSOCKOPT: i32 = 49;
    const BPF_FUNC_GETSOCKOPT: i32 = 57;
    if opts.prog_type != ProgTypeId::Tracing
        || opts.attach_type != Some(ironbpf_progtype::AttachType::TraceIter)
        || opts.attach_btf.as_deref() != Some("bpf_iter_tcp")
    {
        return None;
    }
    catalog::proto_named(match id {
        BPF_FUNC_SETSOCKOPT => "sk_setsockopt",
        BPF_FUNC_GETSOCKOPT => "sk_getsockopt",
        _ => return None,
    })
}

/// [`helper_proto`] without the sleepable check: what the program type
/// offers (`get_func_proto` alone, as liveness and the checks made before
/// the sleepable one see it).
pub fn offered_proto(id: i32, opts: &crate::VerifyOptions) -> Result<&Proto, ProtoRefusal> {
    if let Some((_, _, p)) = opts.extra_helpers.iter().find(|h| h.0 == id) {
        return Ok(p);
    }
    if let Some(p) = iter_target_proto(id, opts) {
        return Ok(p);
    }
    let env = ProtoEnv {
        sleepable: true,
        ..proto_env(opts)
    };
    catalog::func_proto(opts.prog_type, opts.attach_type, id as i64, &env)
}

/// Whether the program type may give helpers packet pointers as memory
/// (`may_access_direct_pkt_data` with a call's meta): the types with
/// direct packet access, for helpers marked `pkt_access`; cgroup sockopt
/// programs always.
fn helper_pkt_access(prog_type: ProgTypeId, p: &Proto) -> bool {
    use ProgTypeId as P;
    match prog_type {
        P::LwtIn
        | P::LwtOut
        | P::LwtSeg6local
        | P::SkReuseport
        | P::FlowDissector
        | P::CgroupSkb
        | P::SchedCls
        | P::SchedAct
        | P::Xdp
        | P::LwtXmit
        | P::SkSkb
        | P::SkMsg => p.pkt_access,
        P::CgroupSockopt => true,
        _ => false,
    }
}

/// `is_ptr_cast_function`: helpers whose result shares the reference of
/// their socket argument.
fn is_ptr_cast_function(name: &str) -> bool {
    matches!(
        name,
        "bpf_tcp_sock"
            | "bpf_sk_fullsock"
            | "bpf_skc_to_tcp_sock"
            | "bpf_skc_to_tcp6_sock"
            | "bpf_skc_to_udp6_sock"
            | "bpf_skc_to_mptcp_sock"
            | "bpf_skc_to_tcp_timewait_sock"
            | "bpf_skc_to_tcp_request_sock"
    )
}

/// What `check_func_arg` learns for later arguments and the return value
/// (`struct bpf_call_arg_meta`).
#[derive(Default)]
pub(crate) struct Meta {
    map: Option<u32>,
    const_key: Option<u64>,
    raw_access: Option<(usize, i64)>,
    mem_size: Option<u64>,
    release_ref: Option<u32>,
    /// The reference of an argument (`meta.ref_obj_id`).
    ref_obj_id: u32,
    /// The callback subprogram (`meta.subprogno`).
    callback: Option<usize>,
    /// The map of a `bpf_timer` argument (`meta.map_ptr`, map_fields.rs).
    timer_map: Option<u32>,
    /// The kptr of `bpf_kptr_xchg`'s destination (`meta.kptr_field`).
    kptr_field: Option<crate::btf_record::SpecialField>,
    /// The dynptr argument (crate::dynptr).
    dynptr: crate::dynptr::HelperDynptr,
}

impl Env<'_> {
    /// A `call`: helper, subprogram, kfunc or `callx`.
    pub(crate) fn check_call(&mut self, insn: &Insn) -> VResult<Option<usize>> {
        match *insn {
            Insn::Call(CallTarget::Helper(id)) => {
                self.lock_call_check(Some(id), None)?;
                self.check_helper_call(id)?;
                if id == BPF_FUNC_TAIL_CALL && self.cur.frames.len() > 1 {
                    return self.tail_call_exit();
                }
                Ok(Some(self.pc + 1))
            }
            Insn::Call(CallTarget::Local(imm)) => {
                let target = (self.pc as i64 + imm as i64 + 1) as usize;
                self.lock_global_call_check(self.cfg.subprog_of(target))?;
                // The BTF check of the arguments comes first; a global
                // function is not descended into.
                if self.check_global_call(self.cfg.subprog_of(target))? {
                    return Ok(Some(self.pc + 1));
                }
                self.check_func_call(target)?;
                Ok(Some(target))
            }
            Insn::Call(CallTarget::Kfunc { btf_id, off }) => {
                self.lock_call_check(None, Some((btf_id, off)))?;
                // `bpf_throw` ends the path.
                if self.check_kfunc_call(btf_id, off)? {
                    return Ok(None);
                }
                Ok(Some(self.pc + 1))
            }
            _ => Err(self.reject_errno(
                EINVAL,
                RejectionKind::Unsupported {
                    pc: self.pc,
                    what: "callx calls",
                },
                format!(
                    "insn {}: callx calls are not supported by ironbpf's verifier",
                    self.pc
                ),
            )),
        }
    }

    fn helper_name(id: i32) -> String {
        ironbpf_isa::helper_name(id)
            .unwrap_or("unknown")
            .to_string()
    }

    /// `check_helper_call`.
    fn check_helper_call(&mut self, id: i32) -> VResult {
        let name = match self.opts.extra_helpers.iter().find(|h| h.0 == id) {
            Some(h) => h.1.clone(),
            None => Self::helper_name(id),
        };
        // The prototype is asked for as if sleepable, so that the `allowed`
        // check comes before the sleepable one, as in the kernel.
        let p = match offered_proto(id, self.opts) {
            Ok(p) => p,
            Err(e) => {
                let kind = match e {
                    ProtoRefusal::InvalidFunc { .. } => RejectionKind::UnknownHelper { id },
                    ProtoRefusal::NotAllowed { .. } => RejectionKind::HelperNotAllowed { id },
                    ProtoRefusal::GplOnly { .. } => RejectionKind::GplOnly { id },
                    ProtoRefusal::MightSleep { .. } => RejectionKind::HelperNotAllowed { id },
                };
                return Err(self.reject_errno(EINVAL, kind, e.to_string()));
            }
        };
        let uid = id as u32;
        let is_func_ip = name == "bpf_get_func_ip";
        let attach_btf = self.opts.attach_btf.clone();
        let call_check = |opts: &crate::VerifyOptions| {
            catalog::call_check(opts.prog_type, opts.attach_type, attach_btf.as_deref(), uid)
        };
        if !is_func_ip {
            if let Err(m) = call_check(self.opts) {
                return Err(self.reject_errno(EINVAL, RejectionKind::HelperNotAllowed { id }, m));
            }
        }
        if p.might_sleep && !self.opts.sleepable {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::HelperNotAllowed { id },
                "helper call might sleep in a non-sleepable prog".into(),
            ));
        }
        self.rcu_helper(&name, id, p.might_sleep)?;
        let mut meta = Meta::default();
        for i in 0..5 {
            self.check_func_arg(i, p, &name, &mut meta)?;
        }
        if id == BPF_FUNC_TAIL_CALL {
            let m = meta.map.and_then(|m| self.maps.get(m as usize));
            if m.is_some_and(|m| m.map_type != 3) {
                let t = m.map(|m| m.map_type).unwrap_or(0);
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::MapIncompatible { map_type: t },
                    "expected prog array map for tail call".into(),
                ));
            }
        }
        if is_func_ip {
            if let Err(m) = call_check(self.opts) {
                // ENOTSUPP
                return Err(self.reject_errno(524, RejectionKind::HelperNotAllowed { id }, m));
            }
        }
        // MEM_UNINIT buffers on the stack are written byte by byte.
        if let Some((r, size)) = meta.raw_access {
            let reg = *self.cur.reg(r);
            if reg.ty == RegType::Stack && reg.val.var_off.is_const() {
                let fi = (reg.frameno as usize).min(self.cur.frames.len() - 1);
                let base = reg.off as i64 + reg.val.var_off.value as i64;
                // Slices that may be this buffer change (crate::dynptr).
                self.invalidate_buf_slices(fi, Some((base, base + size)));
                for i in 0..size {
                    let (spi, j) = byte_pos(base + i);
                    // check_helper_mem checked the buffer within the stack.
                    let Some(s) = self
                        .cur
                        .frames
                        .get_mut(fi)
                        .and_then(|f| f.stack.get_mut(spi))
                    else {
                        return Err(crate::Rejection::internal(
                            Some(self.pc),
                            format_args!("frame {fi} has no stack slot {spi} for R{r}'s buffer"),
                        ));
                    };
                    // Each byte is a one-byte store (check_mem_access):
                    // unprivileged, one to a slot whose byte 0 is not MISC
                    // or ZERO gets a barrier after the call (nospec_result).
                    let barrier = !self.opts.privileged
                        && !matches!(s.ty.first(), Some(SlotType::Misc | SlotType::Zero));
                    if s.is_spill() {
                        s.scrub_spilled_slot();
                        s.spilled = RegState::not_init();
                    }
                    if let Some(t) = s.ty.get_mut(j) {
                        *t = SlotType::Misc;
                    }
                    self.scratch.slot(spi);
                    if barrier {
                        self.note_nospec_result();
                    }
                }
            }
        }
        if let Some(rid) = meta.release_ref {
            self.release_reference(rid);
        }
        // The dynptr a helper releases; what bpf_dynptr_from_mem and
        // bpf_dynptr_write ask of theirs (crate::dynptr).
        let dynptr_changes_pkt = self.dynptr_helper_post(&name, &mut meta.dynptr)?;
        if id == BPF_FUNC_TAIL_CALL && self.cur.frames.len() == 1 {
            // check_reference_leak: a tail call never returns to release.
            // In a subprogram it returns to the caller, which still may.
            if let Some(r) = self.cur.refs.first().copied() {
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::UnreleasedReference {
                        id: r.id,
                        insn: r.insn,
                    },
                    format!(
                        "Unreleased reference id={} alloc_insn={}\ntail_call would lead to reference leak",
                        r.id, r.insn
                    ),
                ));
            }
        }
        if id == BPF_FUNC_TAIL_CALL && self.cur.active_rcu_lock {
            // check_resource_leak's section checks, in every frame.
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::RcuSection { pc: self.pc },
                "tail_call cannot be used inside bpf_rcu_read_lock-ed region".into(),
            ));
        }
        if id == BPF_FUNC_GET_LOCAL_STORAGE {
            // get_local_storage() cannot fail, so it takes no flags.
            let flags = self.cur.reg(2);
            if !(flags.is_scalar() && flags.val.var_off.is_const() && flags.val.var_off.value == 0)
            {
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::Other,
                    "get_local_storage() doesn't support non-zero flags".into(),
                ));
            }
        }
        if let Some(sub) = meta.callback {
            self.push_callback_call(id, sub)?;
        }
        for r in 1..=5 {
            *self.cur.reg_mut(r) = RegState::not_init();
            self.scratch.reg(r);
        }
        self.scratch.reg(0);
        let maybe_null = p.ret_flags & flags::MAYBE_NULL != 0;
        // is_acquire_function: a lookup in a sockmap or sockhash takes a
        // reference on the socket it finds.
        let sock_lookup = id == BPF_FUNC_MAP_LOOKUP_ELEM
            && meta
                .map
                .and_then(|m| self.maps.get(m as usize))
                .is_some_and(|m| {
                    matches!(m.map_type, BPF_MAP_TYPE_SOCKMAP | BPF_MAP_TYPE_SOCKHASH)
                });
        let acquires =
            p.ret_flags & flags::RELEASE != 0 || p.ret_flags & flags::RINGBUF != 0 || sock_lookup;
        let unsupported = |what: &'static str, detail: String| (what, detail);
        let mut r0 = match p.ret {
            RetType::Integer => RegState::unknown(),
            RetType::Void => RegState::not_init(),
            RetType::PtrToMapValue => {
                let Some(mi) = meta.map else {
                    return Err(self.reject_errno(
                        EINVAL,
                        RejectionKind::Other,
                        "kernel subsystem misconfigured verifier".into(),
                    ));
                };
                // The map argument's check found map mi in the program's maps.
                let Some(m) = self.maps.get(mi as usize) else {
                    return Err(crate::Rejection::internal(
                        Some(self.pc),
                        format_args!("map index {mi} is not among the program's maps"),
                    ));
                };
                let elide = id == BPF_FUNC_MAP_LOOKUP_ELEM
                    && can_elide_value_nullness(m)
                    && meta.const_key.is_some_and(|k| k < m.max_entries as u64);
                RegState {
                    map: mi,
                    maybe_null: maybe_null && !elide,
                    ..RegState::pointer(RegType::MapValue)
                }
            }
            // A slice of the dynptr in R1 (crate::dynptr).
            RetType::PtrToMem if name == "bpf_dynptr_data" => {
                self.dynptr_data_ret(&meta.dynptr, meta.mem_size.unwrap_or(0))
            }
            RetType::PtrToMem if p.ret_flags & flags::RINGBUF != 0 => RegState {
                maybe_null,
                ringbuf: true,
                mem_size: meta.mem_size.unwrap_or(0) as u32,
                ..RegState::pointer(RegType::Mem)
            },
            RetType::PtrToSocket => RegState {
                maybe_null,
                ..RegState::pointer(RegType::Socket)
            },
            RetType::PtrToSockCommon => RegState {
                maybe_null,
                ..RegState::pointer(RegType::SockCommon)
            },
            RetType::PtrToTcpSock => RegState {
                maybe_null,
                ..RegState::pointer(RegType::TcpSock)
            },
            RetType::PtrToBtfId if p.ret_flags & flags::RELEASE == 0 => {
                let (btf_id, btf_flags) =
                    self.helper_btf_ret(p.ret_btf_id, p.ret_flags & flags::TRUSTED != 0);
                RegState {
                    maybe_null,
                    btf_id,
                    btf_flags,
                    ..RegState::pointer(RegType::BtfId)
                }
            }
            RetType::PtrToBtfId if meta.kptr_field.is_some() => match &meta.kptr_field {
                Some(f) => self.kptr_xchg_ret(f)?,
                None => RegState::unknown(),
            },
            RetType::PtrToMem | RetType::PtrToMemOrBtfId | RetType::PtrToBtfId => {
                let (what, detail) = unsupported(
                    "helper results of this type",
                    format!(
                        "insn {}: {name}#{id} returns {}, which ironbpf's verifier does not model, so it refuses the call",
                        self.pc,
                        p.ret_string()
                    ),
                );
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::Unsupported { pc: self.pc, what },
                    detail,
                ));
            }
        };
        if r0.maybe_null || self.may_point_to_spin_lock(&r0) {
            // The kernel gives the maybe-null value an id (a value with a
            // bpf_spin_lock one, naming its element); an acquired
            // reference then gets another, which replaces it.
            r0.id = self.new_id();
        }
        if is_ptr_cast_function(&name) {
            r0.ref_obj_id = meta.ref_obj_id;
        } else if acquires {
            let rid = self.acquire_reference();
            r0.id = rid;
            r0.ref_obj_id = rid;
        }
        // do_refine_retval_range.
        let kernel_helper = !self.opts.extra_helpers.iter().any(|h| h.0 == id);
        if kernel_helper && matches!(p.ret, RetType::Integer) {
            match name.as_str() {
                // The CPU number is below nr_cpu_ids.
                "bpf_get_smp_processor_id" => {
                    let max = u64::from(self.opts.nr_cpu_ids.max(1) - 1);
                    r0.val = Scalar::urange(0, max);
                }
                // At most the buffer's size (its upper bound), or an
                // errno.
                "bpf_get_stack"
                | "bpf_get_task_stack"
                | "bpf_probe_read_str"
                | "bpf_probe_read_kernel_str"
                | "bpf_probe_read_user_str" => {
                    let max = meta.mem_size.unwrap_or(0);
                    let mut v = Scalar::unknown();
                    v.smax = max as i64;
                    v.s32_max = max as i32;
                    v.smin = -MAX_ERRNO;
                    v.s32_min = -MAX_ERRNO as i32;
                    v.sync();
                    r0.val = v;
                }
                _ => {}
            }
        }
        *self.cur.reg_mut(0) = r0;
        if let Some(m) = meta.map.and_then(|m| self.maps.get(m as usize)) {
            let map_type = m.map_type;
            if let Err(e) = ironbpf_helpers::map_compat::check(
                self.opts.prog_type,
                self.opts.attach_type,
                map_type,
                uid,
            ) {
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::MapIncompatible { map_type },
                    e.to_string(),
                ));
            }
        }
        // A tail call that fails changes nothing; one that succeeds does not
        // come back, but from a subprogram it returns to the caller
        // ([`Self::tail_call_exit`]), whose packet pointers it may change.
        if (p.changes_pkt_data || dynptr_changes_pkt) && id != BPF_FUNC_TAIL_CALL {
            self.clear_all_pkt_pointers();
        }
        Ok(())
    }

    /// `clear_all_pkt_pointers`: after a call that may change packet data,
    /// no packet pointer of any frame, in a register or spilled, is one
    /// any more (`mark_reg_invalid`).
    pub(crate) fn clear_all_pkt_pointers(&mut self) {
        let privileged = self.opts.privileged;
        self.cur.for_each_reg(|r| {
            // Slices of skb and xdp dynptrs point into the packet too.
            if matches!(
                r.ty,
                RegType::Packet | RegType::PacketMeta | RegType::PacketEnd
            ) || (r.ty == RegType::Mem && r.dynptr.ty.is_pkt())
            {
                *r = if privileged {
                    RegState::unknown()
                } else {
                    RegState::not_init()
                };
            }
        });
    }

    /// A `bpf_tail_call` in a subprogram: the failed call goes on at the
    /// next instruction (queued, unchanged); the successful one returns the
    /// other program's int to the caller, packet pointers changed.
    fn tail_call_exit(&mut self) -> VResult<Option<usize>> {
        self.scratch.reg(0);
        let failed = self.cur.clone();
        self.push_branch(failed, self.pc + 1)?;
        self.clear_all_pkt_pointers();
        *self.cur.reg_mut(0) = RegState::unknown();
        self.check_exit()
    }

    pub(crate) fn acquire_reference(&mut self) -> u32 {
        let id = self.new_id();
        self.cur.refs.push(RefState { id, insn: self.pc });
        id
    }

    pub(crate) fn release_reference(&mut self, rid: u32) {
        self.cur.remove_ref(rid);
        self.cur.for_each_reg(|r| {
            if r.ref_obj_id == rid {
                *r = RegState::unknown();
            }
        });
    }

    /// `resolve_map_arg_type`: the value of a sockmap or sockhash update is
    /// a socket; a bloom filter's peek reads its value.
    fn resolve_map_arg_type(&self, arg: ArgType, name: &str, meta: &Meta) -> VResult<ArgType> {
        const BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;
        let Some(m) = meta.map.and_then(|m| self.maps.get(m as usize)) else {
            return Err(self.reject_errno(
                EFAULT,
                RejectionKind::Other,
                "verifier bug: invalid map_ptr to access map->type".into(),
            ));
        };
        match m.map_type {
            BPF_MAP_TYPE_SOCKMAP | BPF_MAP_TYPE_SOCKHASH => {
                if arg.flags != 0 {
                    return Err(self.reject_errno(
                        EINVAL,
                        RejectionKind::Other,
                        "invalid arg_type for sockmap/sockhash".into(),
                    ));
                }
                Ok(ArgType::new(ArgBase::PtrToBtfIdSockCommon, 0))
            }
            BPF_MAP_TYPE_BLOOM_FILTER if name == "bpf_map_peek_elem" => {
                Ok(ArgType::new(ArgBase::PtrToMapValue, 0))
            }
            _ => Ok(arg),
        }
    }

    /// `check_func_arg_reg_off`: memory pointers may carry offsets into a
    /// helper; a BTF pointer a fixed one; every other pointer (ctx,
    /// sockets, map pointers...) none at all.
    fn check_func_arg_reg_off(&self, r: usize) -> VResult {
        let reg = *self.cur.reg(r);
        let fixed_off_ok = match reg.ty {
            RegType::Stack
            | RegType::Packet
            | RegType::PacketMeta
            | RegType::MapKey
            | RegType::MapValue
            | RegType::Mem
            | RegType::Scalar
            | RegType::NotInit => return Ok(()),
            RegType::BtfId => true,
            _ => false,
        };
        self.check_unmodified_ptr(r, &reg.type_str(), fixed_off_ok)
    }

    fn arg_err(&self, r: usize, arg: &ArgType, expected: &[&str]) -> crate::Rejection {
        let got = self.type_str(r);
        let _ = arg;
        self.reject(
            RejectionKind::ArgType {
                reg: r as u8,
                got: got.clone(),
                expected: expected.join(", "),
            },
            format!("R{r} type={got} expected={}", expected.join(", ")),
        )
    }

    /// `check_func_arg` for argument `i` (register `i + 1`).
    fn check_func_arg(&mut self, i: usize, p: &Proto, name: &str, meta: &mut Meta) -> VResult {
        let Some(&arg) = p.args.get(i) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("{name} has no argument {i} in its prototype"),
            ));
        };
        let r = i + 1;
        if arg.base == ArgBase::DontCare {
            return Ok(());
        }
        self.check_src(r)?;
        let reg = *self.cur.reg(r);
        if arg.base == ArgBase::Anything {
            if self.is_pointer_value(r) {
                return Err(self.reject(
                    RejectionKind::PointerLeak {
                        reg: r as u8,
                        into: "a helper",
                    },
                    format!("R{r} leaks addr into helper function"),
                ));
            }
            return Ok(());
        }
        // Before the type check, as the kernel does.
        if matches!(reg.ty, RegType::Packet | RegType::PacketMeta)
            && !helper_pkt_access(self.opts.prog_type, p)
        {
            return Err(self.reject_errno(
                EACCES,
                RejectionKind::ArgType {
                    reg: r as u8,
                    got: reg.type_str(),
                    expected: "memory other than the packet".into(),
                },
                "helper access to the packet is not allowed".into(),
            ));
        }
        let arg = if arg.base == ArgBase::PtrToMapValue {
            self.resolve_map_arg_type(arg, name, meta)?
        } else {
            arg
        };
        if arg.has(flags::MAYBE_NULL) && reg.is_null() {
            // A NULL memory argument (bpf_csum_diff's buffers: a zero-byte
            // access from NULL) or bpf_kptr_xchg's NULL new value: its
            // being 0 is what lets it through, so the kernel makes it
            // precise. A NULL stack or callback-context argument is not.
            if arg.base == ArgBase::PtrToMem || arg.has(flags::RELEASE) {
                self.mark_chain_precision(r);
            }
            return Ok(());
        }
        // check_reg_type
        const MEM: &[&str] = &[
            "fp",
            "pkt",
            "pkt_meta",
            "map_key",
            "map_value",
            "mem",
            "ringbuf_mem",
            "buf",
            "trusted_ptr_",
        ];
        let mem_like = matches!(
            reg.ty,
            RegType::Stack
                | RegType::Packet
                | RegType::PacketMeta
                | RegType::MapKey
                | RegType::MapValue
                | RegType::Mem
        ) && (!reg.rdonly || arg.has(flags::RDONLY));
        let null_bad = reg.maybe_null && !arg.has(flags::MAYBE_NULL);
        let ok = !null_bad
            && match arg.base {
                ArgBase::ConstMapPtr => reg.ty == RegType::ConstPtrToMap,
                ArgBase::PtrToMapKey | ArgBase::PtrToMapValue | ArgBase::PtrToMem => mem_like,
                ArgBase::ConstSize | ArgBase::ConstSizeOrZero | ArgBase::ConstAllocSizeOrZero => {
                    reg.is_scalar()
                }
                ArgBase::PtrToCtx => reg.ty == RegType::Ctx,
                ArgBase::PtrToRingbufMem => reg.ty == RegType::Mem && reg.ringbuf,
                ArgBase::PtrToFunc => reg.ty == RegType::Func,
                ArgBase::PtrToStack => reg.ty == RegType::Stack,
                ArgBase::PtrToConstStr | ArgBase::PtrToTimer => reg.ty == RegType::MapValue,
                // spin_lock_types: an allocated object's lock too (obj_new.rs).
                ArgBase::PtrToSpinLock => {
                    reg.ty == RegType::MapValue
                        || (reg.ty == RegType::BtfId
                            && reg.btf_flags == crate::state::btf_flag::ALLOC)
                }
                ArgBase::PtrToSockCommon | ArgBase::PtrToBtfIdSockCommon => {
                    matches!(
                        reg.ty,
                        RegType::SockCommon | RegType::Socket | RegType::TcpSock
                    ) || (arg.base == ArgBase::PtrToBtfIdSockCommon && reg.ty == RegType::BtfId)
                }
                ArgBase::PtrToSocket => reg.ty == RegType::Socket,
                ArgBase::PtrToBtfId | ArgBase::PtrToPercpuBtfId => reg.ty == RegType::BtfId,
                ArgBase::PtrToDynptr => {
                    matches!(reg.ty, RegType::Stack | RegType::ConstPtrToDynptr)
                }
                ArgBase::KptrXchgDest => reg.ty == RegType::MapValue,
                ArgBase::DontCare | ArgBase::Anything => true,
            };
        if !ok {
            let expected: &[&str] = match arg.base {
                ArgBase::ConstMapPtr => &["map_ptr"],
                ArgBase::PtrToMapKey | ArgBase::PtrToMapValue | ArgBase::PtrToMem => MEM,
                ArgBase::ConstSize | ArgBase::ConstSizeOrZero | ArgBase::ConstAllocSizeOrZero => {
                    &["scalar"]
                }
                ArgBase::PtrToCtx => &["ctx"],
                ArgBase::PtrToRingbufMem => &["ringbuf_mem"],
                ArgBase::PtrToFunc => &["func"],
                ArgBase::PtrToStack => &["fp"],
                ArgBase::PtrToConstStr | ArgBase::PtrToTimer => &["map_value"],
                ArgBase::PtrToSpinLock => &["map_value", "ptr_"],
                ArgBase::PtrToSockCommon => &["sock_common", "sock", "tcp_sock", "xdp_sock"],
                ArgBase::PtrToBtfIdSockCommon => &[
                    "sock_common",
                    "sock",
                    "tcp_sock",
                    "xdp_sock",
                    "ptr_",
                    "trusted_ptr_",
                ],
                ArgBase::PtrToSocket => &["sock"],
                // btf_ptr_types
                ArgBase::PtrToBtfId => &["ptr_", "trusted_ptr_", "rcu_ptr_"],
                ArgBase::PtrToPercpuBtfId => {
                    &["percpu_ptr_", "percpu_rcu_ptr_", "percpu_trusted_ptr_"]
                }
                ArgBase::PtrToDynptr => &["fp", "dynptr_ptr"],
                ArgBase::KptrXchgDest => &["map_value", "ptr_"],
                ArgBase::DontCare | ArgBase::Anything => &[],
            };
            return Err(self.arg_err(r, &arg, expected));
        }
        self.check_func_arg_reg_off(r)?;
        if arg.base == ArgBase::PtrToDynptr {
            // crate::dynptr
            return self.dynptr_helper_arg(r, arg.flags, &mut meta.dynptr);
        }
        // Arguments whose checks need what this verifier does not track
        // (BTF types, special fields of map values, dynptr and kptr
        // state): refused, naming the helper and the argument, rather
        // than accepted unchecked.
        let untracked = match arg.base {
            // BTF pointers: checked against the kernel's BTF (btf_access.rs).
            ArgBase::PtrToBtfId => {
                // A pointer to release may not be null (check_reg_type).
                if reg.maybe_null && arg.has(flags::RELEASE) {
                    return Err(self.reject(
                        RejectionKind::ArgType {
                            reg: r as u8,
                            got: reg.type_str(),
                            expected: "a pointer that is not null".into(),
                        },
                        format!("Possibly NULL pointer passed to helper arg{r}"),
                    ));
                }
                // bpf_kptr_xchg's pointer: of the kptr's struct; an
                // allocated object for a local kptr (obj_new.rs).
                if let Some(f) = meta.kptr_field.clone().filter(|f| f.kptr_local.is_some()) {
                    self.local_kptr_xchg_arg(r, &f)?;
                } else {
                    let kptr = meta.kptr_field.as_ref().map(|f| f.kptr_struct.clone());
                    self.check_btf_arg(r, kptr.as_deref().or(arg.btf))?;
                }
                None
            }
            ArgBase::PtrToBtfIdSockCommon if reg.ty == RegType::BtfId => {
                self.check_sock_common_btf_arg(r)?;
                None
            }
            ArgBase::PtrToPercpuBtfId => Some("the BTF type of pointers"),
            ArgBase::PtrToSpinLock => {
                // Not in an rbtree's less callback (obj_new.rs).
                self.rbtree_cb_spin_lock_check()?;
                self.process_spin_lock(r, name == "bpf_spin_lock", false)?;
                None
            }
            ArgBase::PtrToTimer => {
                self.check_map_field_pointer(r, crate::btf_record::FieldKind::Timer)?;
                meta.timer_map = Some(reg.map);
                None
            }
            ArgBase::KptrXchgDest => {
                meta.kptr_field = Some(self.process_kptr_func(r)?);
                None
            }
            _ => None,
        };
        if let Some(what) = untracked {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Unsupported { pc: self.pc, what },
                format!(
                    "insn {}: R{r} ({}, {}) of {name}: ironbpf's verifier does not track {what}, so it refuses the call",
                    self.pc,
                    p.arg_names.get(i).copied().unwrap_or_default(),
                    arg
                ),
            ));
        }
        if reg.ref_obj_id != 0 {
            meta.ref_obj_id = reg.ref_obj_id;
        }
        if arg.has(flags::ALIGNED) && reg.ty == RegType::Stack {
            let off = reg.off as i64 + reg.val.var_off.value as i64;
            if !reg.val.var_off.is_const() || off.rem_euclid(arg.size.max(1) as i64) != 0 {
                return Err(self.reject_errno(
                    EACCES,
                    RejectionKind::ArgType {
                        reg: r as u8,
                        got: reg.type_str(),
                        expected: format!("a stack pointer aligned to {} bytes", arg.size),
                    },
                    format!(
                        "misaligned stack access off {}+{}+0 size {}",
                        reg.val.var_off, reg.off, arg.size
                    ),
                ));
            }
        }
        if arg.has(flags::RELEASE) {
            if reg.ref_obj_id == 0 {
                return Err(self.reject(
                    RejectionKind::ArgType {
                        reg: r as u8,
                        got: reg.type_str(),
                        expected: "a referenced pointer".into(),
                    },
                    format!("R{r} must be referenced when passed to release function"),
                ));
            }
            if reg.off != 0 || !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
                return Err(self.reject(
                    RejectionKind::ArgType {
                        reg: r as u8,
                        got: reg.type_str(),
                        expected: "the pointer the helper returned".into(),
                    },
                    format!("R{r} must have zero offset when passed to release func"),
                ));
            }
            meta.release_ref = Some(reg.ref_obj_id);
        }
        let access = if arg.has(flags::WRITE) {
            Access::Write
        } else {
            Access::Read
        };
        match arg.base {
            ArgBase::ConstMapPtr => {
                self.timer_map_match(meta.timer_map, r)?;
                meta.map = Some(reg.map)
            }
            ArgBase::PtrToMapKey => {
                let Some(m) = meta.map.and_then(|m| self.maps.get(m as usize)).cloned() else {
                    return Err(self.reject(
                        RejectionKind::Other,
                        "invalid map_ptr to access map->key".into(),
                    ));
                };
                self.check_helper_mem(r, m.key_size as i64, Access::Read, false, None)?;
                if can_elide_value_nullness(&m) {
                    let key = self.constant_map_key(r, m.key_size);
                    meta.const_key = key.map(|(v, _)| v);
                    if let Some((_, Some((frame, spi)))) = key {
                        // The null check is elided on a spilled constant:
                        // the kernel marks that slot's chain precise so no
                        // path with another key is pruned against this one.
                        // Zero bytes (STACK_ZERO) are exact already.
                        self.mark_stack_chain_precision(frame, spi);
                    }
                }
            }
            ArgBase::PtrToMapValue => {
                let Some(m) = meta.map.and_then(|m| self.maps.get(m as usize)).cloned() else {
                    return Err(self.reject(
                        RejectionKind::Other,
                        "invalid map_ptr to access map->value".into(),
                    ));
                };
                let raw = arg.has(flags::UNINIT);
                self.check_helper_mem(
                    r,
                    m.value_size as i64,
                    access,
                    false,
                    raw.then_some(&mut *meta),
                )?;
            }
            ArgBase::PtrToMem if arg.has(flags::FIXED_SIZE) => {
                let raw = arg.has(flags::UNINIT);
                self.check_helper_mem(
                    r,
                    arg.size as i64,
                    access,
                    false,
                    raw.then_some(&mut *meta),
                )?;
            }
            ArgBase::ConstSize | ArgBase::ConstSizeOrZero => {
                // A size follows the buffer it sizes in every prototype.
                let Some(&prev) = i.checked_sub(1).and_then(|k| p.args.get(k)) else {
                    return Err(crate::Rejection::internal(
                        Some(self.pc),
                        format_args!("argument {i} of {name} is a size with no buffer before it"),
                    ));
                };
                let zero_ok = arg.base == ArgBase::ConstSizeOrZero;
                let v = reg.val;
                if v.smin < 0 {
                    return Err(self.reject(
                        RejectionKind::ArgSize { reg: r as u8 },
                        format!(
                            "R{r} min value is negative, either use unsigned or 'var &= const'"
                        ),
                    ));
                }
                if v.umin == 0 && !zero_ok {
                    return Err(self.reject(
                        RejectionKind::ArgSize { reg: r as u8 },
                        format!("R{r} invalid zero-sized read: u64=[{},{}]", v.umin, v.umax),
                    ));
                }
                if v.umax >= BPF_MAX_VAR_SIZ {
                    return Err(self.reject(
                        RejectionKind::ArgSize { reg: r as u8 },
                        format!("R{r} unbounded memory access, use 'var &= const' or 'if (var < const)'"),
                    ));
                }
                let acc = if prev.has(flags::WRITE) {
                    Access::Write
                } else {
                    Access::Read
                };
                let raw = prev.has(flags::UNINIT) && v.var_off.is_const();
                meta.mem_size = Some(v.umax);
                self.check_helper_mem(
                    r - 1,
                    v.umax as i64,
                    acc,
                    zero_ok,
                    raw.then_some(&mut *meta),
                )?;
                // check_mem_size_reg: the size is precise once checked.
                self.mark_chain_precision(r);
            }
            ArgBase::PtrToFunc
                if matches!(
                    name,
                    "bpf_loop"
                        | "bpf_for_each_map_elem"
                        | "bpf_find_vma"
                        | "bpf_user_ringbuf_drain"
                ) =>
            {
                meta.callback = Some(reg.subprog as usize);
            }
            ArgBase::PtrToFunc if name == "bpf_timer_set_callback" => {
                // An asynchronous callback: a path of its own (timer.rs).
                self.push_timer_callback(reg.subprog as usize, meta.timer_map)?;
            }
            ArgBase::PtrToFunc => {
                // Refused rather than accepted unchecked: the kernel
                // verifies the callback's body as a loop, which this
                // verifier does not do yet.
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::Unsupported {
                        pc: self.pc,
                        what: "callbacks",
                    },
                    format!(
                        "insn {}: R{r} is a callback (func#{}): ironbpf's verifier does not verify callback bodies yet, so it refuses the call",
                        self.pc, reg.subprog
                    ),
                ));
            }
            ArgBase::ConstAllocSizeOrZero => {
                if !reg.val.var_off.is_const() {
                    return Err(self.reject(
                        RejectionKind::ArgNotConst { reg: r as u8 },
                        format!("R{r} is not a known constant'"),
                    ));
                }
                meta.mem_size = Some(reg.val.var_off.value);
                self.mark_chain_precision(r);
            }
            ArgBase::PtrToConstStr => self.check_reg_const_str(r)?,
            _ => {}
        }
        Ok(())
    }

    /// `check_reg_const_str`: the pointer in `r` is a constant offset into
    /// the value of a frozen read-only array of one entry, and the value
    /// holds a NUL between that offset and its end.
    fn check_reg_const_str(&self, r: usize) -> VResult {
        const BPF_MAP_TYPE_ARRAY: u32 = 2;
        let reg = *self.cur.reg(r);
        let Some(m) = self.maps.get(reg.map as usize) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!(
                    "R{r} points to map {} that the program does not have",
                    reg.map
                ),
            ));
        };
        if !m.frozen_readonly {
            return Err(self.reject(
                RejectionKind::ArgType {
                    reg: r as u8,
                    got: reg.type_str(),
                    expected: "a read-only map value".into(),
                },
                format!("R{r} does not point to a readonly map'"),
            ));
        }
        if !reg.val.var_off.is_const() {
            return Err(self.reject(
                RejectionKind::ArgNotConst { reg: r as u8 },
                format!("R{r} is not a constant address'"),
            ));
        }
        if m.map_type != BPF_MAP_TYPE_ARRAY {
            return Err(self.reject(
                RejectionKind::Other,
                "no direct value access support for this map type".into(),
            ));
        }
        let vs = i64::from(m.value_size);
        self.check_mem_region(r, reg.off as i64, vs - reg.off as i64, vs, false)?;
        // array_map_direct_value_addr: one entry only, offset inside it.
        let map_off = (reg.off as i64).wrapping_add(reg.val.var_off.value as i64);
        if m.max_entries != 1 || map_off < 0 || map_off >= vs {
            let errno = if m.max_entries != 1 { ENOTSUPP } else { EINVAL };
            return Err(self.reject_errno(
                errno,
                RejectionKind::Other,
                "direct value access on string failed".into(),
            ));
        }
        let bytes = (reg.map as usize)
            .lt(&self.opts.maps.len())
            .then(|| self.opts.frozen_values.get(reg.map as usize))
            .flatten()
            .and_then(|v| v.as_deref());
        let Some(bytes) = bytes else {
            // The embedder did not say what the map holds.
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Unsupported {
                    pc: self.pc,
                    what: "constant strings",
                },
                format!("R{r}: ironbpf's verifier does not know the contents of read-only maps, so it cannot check the string is NUL-terminated"),
            ));
        };
        // Bytes past what the embedder gave are zero, as in a fresh map.
        let tail = bytes
            .get(map_off as usize..)
            .unwrap_or_default()
            .iter()
            .take((vs - map_off) as usize);
        let short = (bytes.len() as i64) < vs;
        if !short && !tail.clone().any(|b| *b == 0) {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Other,
                "string is not zero-terminated".into(),
            ));
        }
        Ok(())
    }

    /// `get_constant_map_key`: the key on the stack, if a known constant
    /// (privileged loaders only): `key_size` zero bytes (`STACK_ZERO`) from
    /// the key's first byte to its slot's top, or a spilled constant scalar
    /// of exactly `key_size` bytes starting there.
    /// With a spilled constant, its frame and slot come with it: the
    /// caller marks them precise.
    fn constant_map_key(&self, r: usize, key_size: u32) -> Option<(u64, Option<(usize, usize)>)> {
        if !self.opts.privileged {
            return None;
        }
        let reg = self.cur.reg(r);
        if reg.ty != RegType::Stack || !reg.val.var_off.is_const() {
            return None;
        }
        let off = reg.off as i64 + reg.val.var_off.value as i64;
        let fr = self.cur.frames.get(reg.frameno as usize)?;
        let (spi, j) = byte_pos(off);
        let slot = fr.stack.get(spi)?;
        // Bytes from the key's first one (index j) up to the slot's top
        // (index 0), as the kernel counts them.
        let run = |t: SlotType| {
            let bytes = slot.ty.get(..=j).unwrap_or_default();
            bytes.iter().rev().take_while(|x| **x == t).count()
        };
        if run(SlotType::Zero) as u32 >= key_size {
            return Some((0, None));
        }
        if !slot.is_spill() || !slot.spilled.is_scalar() {
            return None;
        }
        if run(SlotType::Spill) as u32 != key_size {
            return None;
        }
        let v = slot.spilled.const_value()?;
        Some((v, Some((reg.frameno as usize, spi))))
    }

    /// `check_helper_mem_access`: `size` bytes at the pointer in `r`.
    pub(crate) fn check_helper_mem(
        &mut self,
        r: usize,
        size: i64,
        t: Access,
        zero_ok: bool,
        raw: Option<&mut Meta>,
    ) -> VResult {
        let reg = *self.cur.reg(r);
        match reg.ty {
            RegType::Packet | RegType::PacketMeta => {
                self.check_packet_access(r, reg.off as i64, size, zero_ok)
            }
            RegType::MapKey => {
                if t == Access::Write {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!("R{r} cannot write into {}", reg.type_str()),
                    ));
                }
                let ks = self
                    .opts
                    .maps
                    .get(reg.map as usize)
                    .map(|m| m.key_size)
                    .unwrap_or(0);
                self.check_mem_region(r, reg.off as i64, size, ks as i64, false)
            }
            RegType::MapValue => {
                let vs = self
                    .opts
                    .maps
                    .get(reg.map as usize)
                    .map(|m| m.value_size)
                    .unwrap_or(0);
                self.check_map_access_type(r, reg.off as i64, size, t)?;
                self.check_mem_region(r, reg.off as i64, size, vs as i64, zero_ok)?;
                self.check_map_fields(r, reg.off as i64, size, false)
                    .map(|_| ())
            }
            RegType::Mem => {
                if reg.rdonly && t == Access::Write {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!("R{r} cannot write into {}", reg.type_str()),
                    ));
                }
                self.check_mem_region(r, reg.off as i64, size, reg.mem_size as i64, zero_ok)
            }
            RegType::Stack => self.check_stack_range(r, size, t, zero_ok, raw),
            _ => {
                if zero_ok && size == 0 && reg.is_null() {
                    return Ok(());
                }
                Err(self.reject(
                    RejectionKind::ArgType {
                        reg: r as u8,
                        got: reg.type_str(),
                        expected: "fp".into(),
                    },
                    format!("R{r} type={} expected=fp", reg.type_str()),
                ))
            }
        }
    }

    /// `check_stack_range_initialized`.
    fn check_stack_range(
        &mut self,
        r: usize,
        size: i64,
        t: Access,
        zero_ok: bool,
        raw: Option<&mut Meta>,
    ) -> VResult {
        let reg = *self.cur.reg(r);
        // A zero-sized access is checked too: its offsets must be in the
        // stack, and a variable one's range initialized.
        let _ = zero_ok;
        self.check_stack_bounds(r, reg.off as i64, size, t, "helper")?;
        let (min_off, max_off) = if reg.val.var_off.is_const() {
            let m = reg.val.var_off.value as i64 + reg.off as i64;
            (m, m)
        } else {
            if !self.opts.privileged {
                return Err(self.reject(
                    RejectionKind::PointerArithmetic {
                        reg: r as u8,
                        ptr_type: "fp".into(),
                    },
                    format!(
                        "R{r} variable offset stack access prohibited for !root, var_off={}",
                        reg.val.var_off
                    ),
                ));
            }
            (reg.val.smin + reg.off as i64, reg.val.smax + reg.off as i64)
        };
        if let Some(meta) = raw {
            if reg.val.var_off.is_const() {
                // No helper writes over a dynptr (crate::dynptr).
                let fi = (reg.frameno as usize).min(self.cur.frames.len() - 1);
                self.raw_write_over_dynptr(fi, min_off, max_off + size)?;
                meta.raw_access = Some((r, size));
                return Ok(());
            }
        }
        let fi = (reg.frameno as usize).min(self.cur.frames.len() - 1);
        let clobber = t == Access::Write;
        let allow_uninit = self.opts.privileged;
        // Every slot of the range may be read (written or not).
        let pc = self.pc;
        self.stack_live.mark_read(
            &self.cur,
            fi,
            pc,
            crate::stack_live::slots_of(min_off, max_off + size),
        );
        for a in min_off..max_off + size {
            let (spi, j) = byte_pos(a);
            // check_stack_range_initialized's bounds check kept a in the stack.
            let Some(s) = self
                .cur
                .frames
                .get_mut(fi)
                .and_then(|f| f.stack.get_mut(spi))
            else {
                return Err(crate::Rejection::internal(
                    Some(self.pc),
                    format_args!("frame {fi} has no stack slot {spi} for R{r}'s access"),
                ));
            };
            let Some(t) = s.ty.get_mut(j) else {
                continue;
            };
            match *t {
                SlotType::Misc => continue,
                SlotType::Zero => {
                    if clobber {
                        *t = SlotType::Misc;
                    }
                    continue;
                }
                SlotType::Invalid if allow_uninit => {
                    if clobber {
                        *t = SlotType::Misc;
                    }
                    continue;
                }
                _ => {}
            }
            if s.is_spill() && (s.spilled.is_scalar() || allow_uninit) {
                if clobber {
                    s.spilled = RegState::unknown();
                    s.scrub_spilled_slot();
                }
                continue;
            }
            let msg = if reg.val.var_off.is_const() {
                format!(
                    "invalid read from stack R{r} off {min_off}+{} size {size}",
                    a - min_off
                )
            } else {
                format!(
                    "invalid read from stack R{r} var_off {}+{} size {size}",
                    reg.val.var_off,
                    a - min_off
                )
            };
            return Err(self.reject(RejectionKind::UninitStack { off: a, size }, msg));
        }
        Ok(())
    }

    /// `check_func_call`: a bpf-to-bpf call enters a new frame.
    fn check_func_call(&mut self, target: usize) -> VResult {
        let depth = self.cur.frames.len();
        if depth >= MAX_CALL_FRAMES {
            return Err(self.reject_errno(
                E2BIG,
                RejectionKind::CallTooDeep { frames: depth + 1 },
                format!("the call stack of {} frames is too deep", depth + 1),
            ));
        }
        let sub = self.cfg.subprog_of(target);
        let mut callee = FuncState::new(depth as u32, self.pc, sub);
        for (r, arg) in callee.regs.iter_mut().enumerate().take(6).skip(1) {
            *arg = *self.cur.reg(r);
        }
        for r in 0..=5 {
            *self.cur.reg_mut(r) = RegState::not_init();
        }
        if self.log_on() {
            let mut s = String::from("caller:\n");
            let all = Scratch::default();
            self.cur.cur().write(&mut s, true, &all, &self.maps);
            self.cur.push_refs(&mut s);
            s.push_str("\ncallee:\n");
            callee.write(&mut s, true, &all, &self.maps);
            self.cur.push_refs(&mut s);
            s.push('\n');
            self.log.push_str(&s);
        }
        self.cur.frames.push(callee);
        self.scratch_all = true;
        Ok(())
    }

    /// `exit`: return to the caller, or end the path with the return-value
    /// check.
    pub(crate) fn check_exit(&mut self) -> VResult<Option<usize>> {
        if self.cur.frames.len() > 1 {
            // The caller reads r0 if it needs it: no check here.
            let r0 = *self.cur.reg(0);
            let callee_no = (self.cur.frames.len() - 1) as u32;
            if r0.ty == RegType::Stack && r0.frameno == callee_no {
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::PointerLeak {
                        reg: 0,
                        into: "the caller",
                    },
                    "cannot return stack pointer to the caller".into(),
                ));
            }
            // A callback returns to the helper call, which queues the
            // next iteration; its r0 stays in the callback.
            // What the callee read of the stacks goes to its call site.
            let log = if self.log2() {
                Some(&mut self.log)
            } else {
                None
            };
            self.stack_live.update(&self.cur, log);
            let in_callback = self.in_callback_fn();
            if in_callback {
                self.check_callback_exit()?;
            }
            // Slices into the callee's stack die with it (crate::dynptr).
            self.dynptr_frame_exit(self.cur.frames.len() - 1);
            let r0 = *self.cur.reg(0);
            // An exit from a callee: the state has its caller's frame too.
            let Some(callee) = self.cur.frames.pop() else {
                return Err(crate::Rejection::internal(
                    Some(self.pc),
                    format_args!("an exit from a callee with no frame"),
                ));
            };
            let back = if in_callback {
                callee.callsite
            } else {
                callee.callsite + 1
            };
            if self.log_on() {
                let mut s = String::from("returning from callee:\n");
                let all = Scratch::default();
                callee.write(&mut s, true, &all, &self.maps);
                self.cur.push_refs(&mut s);
                s.push_str(&format!("\nto caller at {back}:\n"));
                let mut caller = self.cur.cur().clone();
                if !in_callback {
                    caller.regs[0] = r0;
                }
                caller.write(&mut s, true, &all, &self.maps);
                self.cur.push_refs(&mut s);
                s.push('\n');
                self.log.push_str(&s);
            }
            if !in_callback {
                *self.cur.reg_mut(0) = r0;
            } else {
                self.widen_after_callback(back);
            }
            self.scratch_all = false;
            self.scratch = Scratch::default();
            self.returned = true;
            return Ok(Some(back));
        }
        self.lock_exit_check("BPF_EXIT instruction in main prog")?;
        if let Some(r) = self.cur.refs.first().copied() {
            // check_reference_leak fails the load with EINVAL.
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::UnreleasedReference {
                    id: r.id,
                    insn: r.insn,
                },
                format!(
                    "Unreleased reference id={} alloc_insn={}\nBPF_EXIT instruction in main prog would lead to reference leak",
                    r.id, r.insn
                ),
            ));
        }
        self.rcu_exit()?;
        self.check_src(0)?;
        if self.is_pointer_value(0) {
            return Err(self.reject(
                RejectionKind::PointerLeak {
                    reg: 0,
                    into: "the return value",
                },
                "R0 leaks addr as return value".into(),
            ));
        }
        if self.cur.cur().in_async_callback_fn {
            return self.async_callback_exit().map(|()| None);
        }
        if self.cur.cur().subprog != 0 {
            // A global function verified on its own returns any scalar.
            return self.check_global_exit().map(|()| None);
        }
        let range = self
            .desc
            .and_then(|d| d.return_range(self.opts.attach_type));
        if let Some(rr) = range {
            let r0 = *self.cur.reg(0);
            if !r0.is_scalar() {
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::ReturnValue {
                        min: rr.min,
                        max: rr.max,
                    },
                    format!(
                        "At program exit the register R0 is not a known value ({})",
                        r0.type_str()
                    ),
                ));
            }
            // The range is checked on r0's value: it must be exact.
            self.mark_chain_precision(0);
            let v = r0.val;
            let within = if rr.on_64bit {
                rr.min <= v.smin && v.smax <= rr.max
            } else {
                rr.min <= v.s32_min as i64 && v.s32_max as i64 <= rr.max
            };
            if !within {
                let m = invalid_r0_range("program exit", v.smin, v.smax, rr.min, rr.max);
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::ReturnValue {
                        min: rr.min,
                        max: rr.max,
                    },
                    m,
                ));
            }
        }
        Ok(None)
    }

    /// `check_max_stack_depth`: the frames of every call chain, each rounded
    /// up to 32 bytes, fit in 512.
    #[allow(
        clippy::indexing_slicing,
        reason = "callees and stack_depth have an entry per subprogram of the CFG, and \
                  subprog_of and the edges give only those"
    )]
    pub(crate) fn check_max_stack_depth(&self) -> VResult {
        let n = self.cfg.subprogs.len();
        // Static call graph edges.
        let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (pc, &i) in self.insns.iter().enumerate() {
            if i.code == 0x85 && i.src == 1 {
                let t = (pc as i64 + i.imm as i64 + 1) as usize;
                let from = self.cfg.subprog_of(pc);
                let to = self.cfg.subprog_of(t);
                if !callees[from].contains(&to) {
                    callees[from].push(to);
                }
            }
        }
        // round_up_stack_depth with the JIT on (as on the kernels we
        // compare with): 16 bytes.
        let round = |d: u32| d.div_ceil(16) * 16;
        // Depth-first over chains from each root: the asynchronous
        // callbacks, last first, then the main program (popped last).
        let mut stack: Vec<(usize, usize, u32, usize)> = std::iter::once(0)
            .chain(self.funcs.async_cbs.iter().copied())
            .map(|root| (root, 0, round(self.stack_depth[root]), 1))
            .collect();
        while let Some((sub, edge, depth, frames)) = stack.pop() {
            if depth > MAX_BPF_STACK as u32 {
                return Err(crate::Rejection {
                    insn: None,
                    message: format!("combined stack size of {frames} calls is {depth}. Too large"),
                    errno: EACCES,
                    kind: RejectionKind::StackTooLarge {
                        calls: frames,
                        size: depth,
                    },
                    path: Vec::new(),
                });
            }
            if edge < callees[sub].len() {
                stack.push((sub, edge + 1, depth, frames));
                let c = callees[sub][edge];
                if frames >= MAX_CALL_FRAMES {
                    return Err(crate::Rejection {
                        insn: None,
                        message: format!("the call stack of {} frames is too deep !", frames + 1),
                        errno: E2BIG,
                        kind: RejectionKind::CallTooDeep { frames: frames + 1 },
                        path: Vec::new(),
                    });
                }
                stack.push((c, 0, depth + round(self.stack_depth[c]), frames + 1));
            }
        }
        let _ = BPF_MAX_VAR_OFF;
        let _ = Scalar::unknown;
        Ok(())
    }
}

/// The kernel's `verbose_invalid_scalar` line: R0's signed bounds where
/// they are known, at `at` ("program exit", "callback return"), and the
/// range they should have been in.
pub(crate) fn invalid_r0_range(at: &str, smin: i64, smax: i64, min: i64, max: i64) -> String {
    let mut m = format!("At {at} the register R0 has");
    if smin > i64::MIN {
        m.push_str(&format!(" smin={smin}"));
    }
    if smax < i64::MAX {
        m.push_str(&format!(" smax={smax}"));
    }
    if smin == i64::MIN && smax == i64::MAX {
        m.push_str(" unknown scalar value");
    }
    m.push_str(&format!(" should have been in [{min}, {max}]"));
    m
}

/// `can_elide_value_nullness`: a lookup of a constant key below
/// max_entries in an array (plain or per-CPU) cannot fail; not so in an
/// inner map template with `BPF_F_INNER_MAP`, whose maps may be smaller.
fn can_elide_value_nullness(m: &crate::MapInfo) -> bool {
    const BPF_F_INNER_MAP: u32 = 1 << 12;
    matches!(m.map_type, 2 | 6) && m.map_flags & BPF_F_INNER_MAP == 0
}

/// `BPF_MAP_TYPE_SOCKMAP`.
pub(crate) const BPF_MAP_TYPE_SOCKMAP: u32 = 15;
/// `BPF_MAP_TYPE_SOCKHASH`.
pub(crate) const BPF_MAP_TYPE_SOCKHASH: u32 = 18;
