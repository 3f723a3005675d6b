//! BTF-typed contexts and `PTR_TO_BTF_ID` loads, as Linux 6.18 checks them.
//!
//! - `btf_ctx_access`: the context of a tracing (`tp_btf`, `fentry`,
//!   `fexit`, `fmod_ret`, `iter`) or LSM program is an array of u64
//!   arguments typed by the attach target's FUNC_PROTO in the running
//!   kernel's BTF (`btf_trace_<tp>` for `tp_btf`, with its first `void
//!   *__data` argument skipped; the FUNC itself for the others). Pointers
//!   to structs become `PTR_TO_BTF_ID` (trusted where `prog_args_trusted`
//!   says so), integers, enums and structs passed by value are scalars,
//!   and fexit, fmod_ret and LSM programs read the return value in the slot
//!   after the arguments.
//! - `check_ptr_to_btf_id_access` and `btf_struct_walk`: a read through a
//!   `PTR_TO_BTF_ID` gives a scalar or, for a pointer member, a
//!   `PTR_TO_BTF_ID` of the pointee whose trust follows the kernel's rules
//!   (the `<struct>__safe_trusted`, `__safe_rcu` ... types of vmlinux BTF
//!   list the fields that keep it).
//!
//! Not modelled: the `IS_ERR` marks of the `raw_tp_null_args` table (its
//! NULL marks are), `ctx_arg_info` buffers of iterators other
//! than their object argument (taken as `PTR_TO_BTF_ID_OR_NULL`), struct_ops
//! contexts, BTF of modules and of target programs (freplace).

use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::scalar::Scalar;
use crate::state::{btf_flag, RegState, RegType};
use crate::vmlinux::{vmlinux, Vmlinux};
use crate::{alu, Rejection};
use ironbpf_btf::{kind, kind_str, Btf};
use ironbpf_progtype::{AttachType, ProgTypeId};
use std::sync::Arc;

const EACCES: i32 = 13;
const EINVAL: i32 = 22;
const EPERM: i32 = 1;

/// `MAX_BPF_FUNC_ARGS`: the context of a tracing program has 12 slots.
const MAX_BPF_FUNC_ARGS: i64 = 12;

/// `raw_tp_null_args`: tracepoints with arguments that may be NULL, a
/// nibble per argument (bit 0 of nibble `n`: argument `n` may be NULL; the
/// `IS_ERR` bit, 1, is not modelled).
const RAW_TP_NULL_ARGS: &[(&str, u64)] = &[
    ("sched_pi_setprio", 0x10),
    ("sched_process_wait", 0x1),
    ("sched_stick_numa", 0x100),
    ("sched_swap_numa", 0x100),
    ("afs_make_fs_call", 0x10),
    ("afs_make_fs_calli", 0x10),
    ("afs_make_fs_call1", 0x10),
    ("afs_make_fs_call2", 0x10),
    ("afs_protocol_error", 0x1),
    ("afs_flock_ev", 0x10),
    ("cachefiles_lookup", 0x1 | 0x200),
    ("cachefiles_unlink", 0x1),
    ("cachefiles_rename", 0x1),
    ("cachefiles_prep_read", 0x1),
    ("cachefiles_mark_active", 0x1),
    ("cachefiles_mark_failed", 0x1),
    ("cachefiles_mark_inactive", 0x1),
    ("cachefiles_vfs_error", 0x1),
    ("cachefiles_io_error", 0x1),
    ("cachefiles_ondemand_open", 0x1),
    ("cachefiles_ondemand_copen", 0x1),
    ("cachefiles_ondemand_close", 0x1),
    ("cachefiles_ondemand_read", 0x1),
    ("cachefiles_ondemand_cread", 0x1),
    ("cachefiles_ondemand_fd_write", 0x1),
    ("cachefiles_ondemand_fd_release", 0x1),
    ("ext4_mballoc_discard", 0x10),
    ("ext4_mballoc_free", 0x10),
    ("fib_table_lookup", 0x100),
    ("posix_lock_inode", 0x10),
    ("fcntl_setlk", 0x10),
    ("locks_remove_posix", 0x10),
    ("flock_lock_inode", 0x10),
    ("break_lease_noblock", 0x10),
    ("break_lease_block", 0x10),
    ("break_lease_unblock", 0x10),
    ("generic_delete_lease", 0x10),
    ("time_out_leases", 0x10),
    ("host1x_cdma_push_gather", 0x10000),
    ("mm_khugepaged_scan_pmd", 0x10),
    ("mm_collapse_huge_page_isolate", 0x1),
    ("mm_khugepaged_scan_file", 0x10),
    ("mm_khugepaged_collapse_file", 0x10),
    ("mm_page_alloc", 0x1),
    ("mm_page_pcpu_drain", 0x1),
    ("mm_page_alloc_zone_locked", 0x1),
    ("netfs_failure", 0x10),
    ("device_pm_callback_start", 0x10),
    ("qdisc_dequeue", 0x1000),
    ("rxrpc_recvdata", 0x1),
    ("rxrpc_resend", 0x10),
    ("rxrpc_tq", 0x10),
    ("rxrpc_client", 0x1),
    ("signal_generate", 0x20),
    ("signal_deliver", 0x20),
    ("kfree_skb", 0x1000),
    ("xs_stream_read_data", 0x1),
    ("xprt_reserve_cong", 0x10),
    ("xprt_release_cong", 0x10),
    ("xprt_get_cong", 0x10),
    ("xprt_put_cong", 0x10),
    ("tcp_send_reset", 0x11),
    ("tcp_sendmsg_locked", 0x100),
    ("tegra_dma_tx_status", 0x100),
    ("tmigr_update_events", 0x1),
    ("writeback_dirty_folio", 0x10),
    ("folio_wait_writeback", 0x10),
    ("mr_integ_alloc", 0x2000),
    ("amdgpu_vm_bo_map", 0x1),
    ("amdgpu_vm_bo_unmap", 0x1),
    ("netfs_folioq", 0x1),
    ("xfs_defer_create_intent", 0x1),
    ("xfs_defer_cancel_list", 0x1),
    ("xfs_defer_pending_finish", 0x1),
    ("xfs_defer_pending_abort", 0x1),
    ("xfs_defer_relog_intent", 0x1),
    ("xfs_defer_isolate_paused", 0x1),
    ("xfs_defer_item_pause", 0x1),
    ("xfs_defer_item_unpause", 0x1),
    ("xfs_defer_add_item", 0x1),
    ("xfs_defer_cancel_item", 0x1),
    ("xfs_defer_finish_item", 0x1),
    ("xfs_ioc_free_eofblocks", 0x10),
];

/// Argument `arg` (from 0, the tracepoint's own arguments) of tracepoint
/// `tname` may be NULL.
fn raw_tp_arg_may_be_null(tname: &str, arg: usize) -> bool {
    let name = tname.strip_prefix("btf_trace_").unwrap_or(tname);
    RAW_TP_NULL_ARGS
        .iter()
        .find(|(n, _)| *n == name)
        .is_some_and(|&(_, mask)| arg < 16 && mask & (1u64 << (arg * 4)) != 0)
}

/// The kernel's `MAX_ERRNO`: LSM hooks return `[-MAX_ERRNO, 0]`.
const MAX_ERRNO: i32 = 4095;

/// The attach target of a BTF-typed program.
pub(crate) struct Target {
    pub vm: Arc<Vmlinux>,
    /// The FUNC_PROTO.
    pub proto: u32,
    /// The name the kernel's messages use (`attach_func_name`: the
    /// tracepoint's name for `tp_btf`, the function's otherwise).
    pub tname: String,
    /// A `btf_trace_*` typedef: the first argument is skipped.
    pub trace: bool,
}

/// What a walk of a struct found (`btf_struct_walk`'s `WALK_*`).
pub(crate) enum Walk {
    Scalar,
    /// A pointer member to a struct: the pointee's id, the member's name and
    /// the tag flags.
    Ptr {
        id: u32,
        field: String,
        flags: u8,
    },
    /// A pointer member to something that is not a struct.
    PtrUntrusted,
    /// A nested struct at the offset: walk it from 0.
    Struct {
        id: u32,
    },
}

/// Where a walk failed: the kernel's message and errno.
pub(crate) struct WalkErr {
    pub(crate) msg: String,
    pub(crate) errno: i32,
}

fn walk_err(errno: i32, msg: String) -> WalkErr {
    WalkErr { msg, errno }
}

/// The id of the type under the modifiers, or an error naming it.
fn skip_mods(btf: &Btf, id: u32) -> u32 {
    btf.skip_mods_and_typedefs(id).unwrap_or(id)
}

/// A type's size for `btf_ctx_arg_idx`: 8 for pointers, else the size
/// rounded up to 8.
fn arg_slot_bytes(btf: &Btf, id: u32) -> u64 {
    let t = skip_mods(btf, id);
    if btf.kind_of(t) == kind::PTR {
        8
    } else {
        u64::from(btf.get(t).map_or(0, |t| {
            if matches!(
                t.kind,
                kind::INT | kind::STRUCT | kind::UNION | kind::ENUM | kind::ENUM64 | kind::FLOAT
            ) {
                t.size_or_type
            } else {
                0
            }
        }))
        .next_multiple_of(8)
    }
}

/// `btf_struct_walk`: what is at `off..off+size` of struct `t`. `flags`
/// collects `PTR_UNTRUSTED` for walks through unions.
pub(crate) fn struct_walk(
    btf: &Btf,
    id: u32,
    off: u32,
    size: u32,
    flags: &mut u8,
) -> Result<Walk, WalkErr> {
    let mut tid = id;
    let mut off = off;
    'again: loop {
        if btf.is_modifier(tid) {
            tid = skip_mods(btf, tid);
        }
        let tname = btf.name(tid).to_string();
        let Some(t) = btf.get(tid) else {
            return Err(walk_err(EINVAL, format!("Type '{tname}' is not a struct")));
        };
        if !matches!(t.kind, kind::STRUCT | kind::UNION) {
            return Err(walk_err(EINVAL, format!("Type '{tname}' is not a struct")));
        }
        let vlen = t.members.len();
        if t.kind == kind::UNION && vlen != 1 && *flags & btf_flag::UNTRUSTED == 0 {
            // Walking unions yields untrusted pointers, but for unions of
            // one member (`__bpf_md_ptr`).
            *flags |= btf_flag::UNTRUSTED;
        }
        if u64::from(off) + u64::from(size) > u64::from(t.size_or_type) {
            // A flexible array at the end may be read past the size.
            let beyond = || {
                walk_err(
                    EACCES,
                    format!("access beyond struct {tname} at off {off} size {size}"),
                )
            };
            let Some(last) = t.members.last() else {
                return Err(beyond());
            };
            let mt = skip_mods(btf, last.type_id);
            let Some(arr) = btf.get(mt).filter(|a| a.kind == kind::ARRAY) else {
                return Err(beyond());
            };
            if arr.extra[2] != 0 {
                return Err(beyond());
            }
            let moff = Btf::member_bit_offset(t, last) / 8;
            if off < moff {
                return Err(beyond());
            }
            let et = skip_mods(btf, arr.extra[0]);
            if btf.kind_of(et) == kind::INT {
                return Ok(Walk::Scalar);
            }
            if !btf.is_struct(et) {
                return Err(beyond());
            }
            let esz = btf.get(et).map_or(0, |e| e.size_or_type);
            if esz == 0 {
                return Err(beyond());
            }
            off = (off - moff) % esz;
            tid = et;
            continue 'again;
        }
        for m in &t.members {
            let bit_off = Btf::member_bit_offset(t, m);
            let moff = bit_off / 8;
            if off + size <= moff {
                break;
            }
            let bits = Btf::member_bitfield_size(t, m);
            if bits != 0 {
                let end_bit = bit_off + bits;
                if off <= moff && end_bit.div_ceil(8) <= off + size {
                    return Ok(Walk::Scalar);
                }
                continue;
            }
            if off < moff {
                break;
            }
            let mname = btf.str_at(m.name_off).to_string();
            let Ok(res) = btf.resolve_size(m.type_id) else {
                return Err(walk_err(
                    14, // EFAULT
                    format!("field {mname} doesn't have size"),
                ));
            };
            let mut mid = if res.last_mod_target != 0 {
                res.last_mod_target
            } else {
                m.type_id
            };
            let mut mtype = res.type_id;
            let mut msize = res.size;
            let mtrue_end = moff + res.size;
            if off >= mtrue_end {
                continue;
            }
            let mut moff = moff;
            if btf.kind_of(mtype) == kind::ARRAY {
                if moff == mtrue_end {
                    continue;
                }
                msize /= res.nelems.max(1);
                let idx = (off - moff) / msize.max(1);
                moff += idx * msize;
                mtype = res.elem_id;
                mid = res.array_elem_id;
            }
            if btf.is_struct(mtype) {
                if off == moff {
                    return Ok(Walk::Struct { id: mid });
                }
                off -= moff;
                tid = mtype;
                continue 'again;
            }
            if btf.kind_of(mtype) == kind::PTR {
                if msize != size || off != moff {
                    return Err(walk_err(
                        EACCES,
                        format!(
                            "cannot access ptr member {mname} with moff {moff} in struct {tname} with off {off} size {size}"
                        ),
                    ));
                }
                let target = btf.get(mtype).map_or(0, |p| p.size_or_type);
                let mut tag = 0;
                if let Some(tt) = btf.get(target) {
                    if tt.kind == kind::TYPE_TAG && !tt.kind_flag {
                        tag = match btf.str_at(tt.name_off) {
                            "user" => btf_flag::USER,
                            "percpu" => btf_flag::PERCPU,
                            "rcu" => btf_flag::RCU,
                            _ => 0,
                        };
                    }
                }
                let sid = skip_mods(btf, target);
                if btf.is_struct(sid) {
                    return Ok(Walk::Ptr {
                        id: sid,
                        field: mname,
                        flags: tag,
                    });
                }
                return Ok(Walk::PtrUntrusted);
            }
            if off + size > mtrue_end && *flags & btf_flag::UNTRUSTED == 0 {
                return Err(walk_err(
                    EACCES,
                    format!(
                        "access beyond the end of member {mname} (mend:{mtrue_end}) in struct {tname} with off {off} size {size}"
                    ),
                ));
            }
            return Ok(Walk::Scalar);
        }
        return Err(walk_err(
            EINVAL,
            format!("struct {tname} doesn't have field at offset {off}"),
        ));
    }
}

/// `btf_nested_type_is_trusted`: whether the `<struct><suffix>` type of
/// vmlinux lists `field` as a pointer to `btf_id`.
fn nested_type_is(vm: &Vmlinux, reg_btf_id: u32, field: &str, btf_id: u32, suffix: &str) -> bool {
    let btf = &vm.btf;
    let Some(walk) = btf.get(reg_btf_id) else {
        return false;
    };
    let safe = format!("{}{suffix}", btf.name(reg_btf_id));
    if safe.len() >= 64 {
        return false;
    }
    let Some(sid) = vm.find(&safe, walk.kind) else {
        return false;
    };
    let Some(st) = btf.get(sid) else {
        return false;
    };
    st.members.iter().any(|m| {
        btf.get(m.type_id).is_some_and(|mt| {
            mt.kind == kind::PTR
                && skip_mods(btf, mt.size_or_type) == btf_id
                && btf.str_at(m.name_off) == field
        })
    })
}

impl Env<'_> {
    fn btf_reject(&self, errno: i32, kind: RejectionKind, msg: String) -> Rejection {
        self.reject_errno(errno, kind, msg)
    }

    /// The attach target of this program, from `attach_btf_id` or the
    /// `attach_btf` name, in the running kernel's BTF.
    pub(crate) fn attach_target(&self) -> Result<Target, String> {
        let vm = vmlinux()?;
        let trace_rawtp = self.opts.attach_type == Some(AttachType::TraceRawTp);
        let id = match (self.opts.attach_btf_id, self.opts.attach_btf.as_deref()) {
            (Some(id), _) => id,
            (None, Some(name)) => {
                let candidates: Vec<(String, u32)> = if trace_rawtp {
                    let full = if name.starts_with("btf_trace_") {
                        name.to_string()
                    } else {
                        format!("btf_trace_{name}")
                    };
                    vec![(full, kind::TYPEDEF)]
                } else if self.opts.prog_type == ProgTypeId::Lsm && !name.starts_with("bpf_lsm_") {
                    vec![(format!("bpf_lsm_{name}"), kind::FUNC)]
                } else if self.opts.attach_type == Some(AttachType::TraceIter)
                    && !name.starts_with("bpf_iter_")
                {
                    vec![(format!("bpf_iter_{name}"), kind::FUNC)]
                } else {
                    vec![(name.to_string(), kind::FUNC)]
                };
                let found = candidates.iter().find_map(|(n, k)| vm.find(n, *k));
                match found {
                    Some(id) => id,
                    None => {
                        return Err(format!(
                            "the attach target {name} is not in the kernel's BTF"
                        ))
                    }
                }
            }
            (None, None) => {
                return Err(
                    "the program has no attach target (attach_btf_id): the kernel refuses it with 'Tracing programs must provide btf_id'"
                        .into(),
                )
            }
        };
        let name = vm.name(id).to_string();
        let proto = vm
            .btf
            .func_proto_of(id)
            .map_err(|e| format!("attach target [{id}] {name}: {e}"))?;
        let trace = vm.btf.kind_of(id) == kind::TYPEDEF;
        let tname = if trace {
            name.strip_prefix("btf_trace_").unwrap_or(&name).to_string()
        } else {
            name
        };
        Ok(Target {
            vm,
            proto,
            tname,
            trace,
        })
    }

    /// Whether the context of this program is typed by its attach target's
    /// BTF (`btf_ctx_access`).
    pub(crate) fn ctx_is_btf_typed(&self) -> bool {
        matches!(self.opts.prog_type, ProgTypeId::Tracing | ProgTypeId::Lsm)
    }

    /// `prog_args_trusted`.
    fn prog_args_trusted(&self, t: &Target) -> bool {
        match self.opts.prog_type {
            ProgTypeId::Tracing => matches!(
                self.opts.attach_type,
                Some(AttachType::TraceRawTp | AttachType::TraceIter)
            ),
            // `bpf_lsm_is_trusted`: all hooks but those whose object is
            // being freed or not yet set up.
            ProgTypeId::Lsm => !matches!(
                t.tname.as_str(),
                "bpf_lsm_bpf_map_free"
                    | "bpf_lsm_bpf_prog_free"
                    | "bpf_lsm_bpf_token_free"
                    | "bpf_lsm_file_alloc_security"
                    | "bpf_lsm_file_free_security"
                    | "bpf_lsm_sk_alloc_security"
                    | "bpf_lsm_sk_free_security"
                    | "bpf_lsm_task_free"
            ),
            ProgTypeId::StructOps => true,
            _ => false,
        }
    }

    /// `tracing_prog_is_valid_access` / LSM's `btf_ctx_access`, and what
    /// `check_mem_access` makes of a read.
    pub(crate) fn check_btf_ctx_access(
        &mut self,
        off: i64,
        size: u32,
        write: bool,
        read_dst: Option<usize>,
        sign_extend: bool,
    ) -> VResult {
        let invalid = |me: &Self, lines: Vec<String>| -> Rejection {
            let mut msg = lines.join("\n");
            if !msg.is_empty() {
                msg.push('\n');
            }
            msg.push_str(&format!("invalid bpf_context access off={off} size={size}"));
            me.reject(
                RejectionKind::CtxAccess {
                    off,
                    size,
                    why: None,
                },
                msg,
            )
        };
        if self.opts.prog_type == ProgTypeId::Tracing
            && (!(0..8 * MAX_BPF_FUNC_ARGS).contains(&off)
                || write
                || size == 0
                || off % i64::from(size) != 0)
        {
            return Err(invalid(self, Vec::new()));
        }
        let target = match self.attach_target() {
            Ok(t) => t,
            Err(why) => {
                return Err(self.btf_reject(
                    EINVAL,
                    RejectionKind::Unsupported {
                        pc: self.pc,
                        what: "a BTF-typed context without its attach target",
                    },
                    format!("invalid bpf_context access off={off} size={size} ({why})"),
                ))
            }
        };
        let btf = &target.vm.btf;
        let tname = target.tname.clone();
        if off % 8 != 0 || off < 0 {
            return Err(invalid(
                self,
                vec![format!("func '{tname}' offset {off} is not multiple of 8")],
            ));
        }
        let Some(proto) = btf.get(target.proto) else {
            return Err(invalid(self, Vec::new()));
        };
        // `btf_ctx_arg_idx`, over the whole prototype.
        let all_args: Vec<u32> = proto.members.iter().map(|m| m.type_id).collect();
        let ret_type = proto.size_or_type;
        let mut arg = all_args.len() + 1;
        let mut end = 0u64;
        for (i, &a) in all_args.iter().enumerate() {
            end += arg_slot_bytes(btf, a);
            if (off as u64) < end {
                arg = i;
                break;
            }
        }
        if arg == all_args.len() + 1 {
            end += arg_slot_bytes(btf, ret_type);
            if (off as u64) < end {
                arg = all_args.len();
            }
        }
        let mut args: &[u32] = &all_args;
        let mut arg_names: Vec<&str> = proto
            .members
            .iter()
            .map(|m| btf.str_at(m.name_off))
            .collect();
        if target.trace {
            args = args.get(1..).unwrap_or(&[]);
            arg_names = arg_names.get(1..).map(|v| v.to_vec()).unwrap_or_default();
        }
        let nr_args = args.len();
        let missing = |me: &Self| {
            invalid(
                me,
                vec![format!(
                    "func '{tname}' doesn't have {}-th argument",
                    arg + 1
                )],
            )
        };
        if arg > nr_args {
            return Err(missing(self));
        }
        let mut is_retval = false;
        let tid = if arg == nr_args {
            match self.opts.attach_type {
                Some(AttachType::LsmMac)
                | Some(AttachType::LsmCgroup)
                | Some(AttachType::TraceFexit) => {
                    is_retval = self.opts.attach_type == Some(AttachType::LsmMac);
                    ret_type
                }
                Some(AttachType::ModifyReturn) => {
                    let r = skip_mods(btf, ret_type);
                    if !btf.is_small_int(r) {
                        return Err(invalid(
                            self,
                            vec![format!(
                                "ret type {} not allowed for fmod_ret",
                                kind_str(btf.kind_of(r))
                            )],
                        ));
                    }
                    r
                }
                _ => return Err(missing(self)),
            }
        } else {
            args.get(arg).copied().unwrap_or(0)
        };
        let t = skip_mods(btf, tid);
        let scalar = btf.is_small_int(t) || btf.is_any_enum(t) || btf.is_struct(t);
        let mut lines = Vec::new();
        let result: RegState = if scalar {
            let mut val = alu::scalar_load(size as u8, sign_extend);
            if is_retval {
                if let Some((lo, hi)) = self.lsm_retval_range(&target, btf) {
                    let mut s = Scalar::unknown();
                    s.s32_min = s.s32_min.max(lo);
                    s.s32_max = s.s32_max.min(hi);
                    s.smin = s.smin.max(i64::from(lo));
                    s.smax = s.smax.min(i64::from(hi));
                    s.sync();
                    val = s;
                    if size < 8 {
                        if sign_extend {
                            val.coerce_to_size_sx(size as u8);
                        } else {
                            val.coerce_to_size(size as u8);
                        }
                    }
                }
            }
            RegState::scalar(val)
        } else {
            if btf.kind_of(t) != kind::PTR {
                return Err(invalid(
                    self,
                    vec![format!(
                        "func '{tname}' arg{arg} '{}' has type {}. Only pointer access is allowed",
                        btf.name(t),
                        kind_str(btf.kind_of(t))
                    )],
                ));
            }
            if size != 8 {
                return Err(invalid(
                    self,
                    vec![format!("func '{tname}' size {size} must be 8")],
                ));
            }
            let pointee = btf.get(t).map_or(0, |p| p.size_or_type);
            let under = skip_mods(btf, pointee);
            if under == 0 || btf.kind_of(under) == kind::INT {
                // A pointer to void or to an integer is a scalar.
                RegState::unknown()
            } else {
                let mut flags = 0u8;
                if self.prog_args_trusted(&target) {
                    flags |= btf_flag::TRUSTED;
                }
                let mut maybe_null = arg_names
                    .get(arg)
                    .is_some_and(|n| n.ends_with("__nullable"));
                // tp_btf: the tracepoints whose arguments the kernel
                // knows may be NULL (`raw_tp_null_args`).
                if self.opts.attach_type == Some(AttachType::TraceRawTp)
                    && raw_tp_arg_may_be_null(&target.tname, arg)
                {
                    maybe_null = true;
                }
                // An iterator's object argument is `PTR_TO_BTF_ID_OR_NULL`
                // (its `ctx_arg_info`); the meta argument is not.
                if self.opts.attach_type == Some(AttachType::TraceIter) && arg >= 1 {
                    maybe_null = true;
                }
                if let Some(tt) = btf.get(pointee) {
                    if tt.kind == kind::TYPE_TAG && !tt.kind_flag {
                        match btf.str_at(tt.name_off) {
                            "user" => flags |= btf_flag::USER,
                            "percpu" => flags |= btf_flag::PERCPU,
                            _ => {}
                        }
                    }
                }
                if !btf.is_struct(under) {
                    return Err(invalid(
                        self,
                        vec![format!(
                            "func '{tname}' arg{arg} type {} is not a struct",
                            kind_str(btf.kind_of(under))
                        )],
                    ));
                }
                lines.push(format!(
                    "func '{tname}' arg{arg} has btf_id {under} type {} '{}'",
                    kind_str(btf.kind_of(under)),
                    btf.name(under)
                ));
                RegState {
                    maybe_null,
                    btf_id: under,
                    btf_flags: flags,
                    ..RegState::pointer(RegType::BtfId)
                }
            }
        };
        if self.log_on() {
            for l in &lines {
                self.log.push_str(l);
                self.log.push('\n');
            }
        }
        if let Some(d) = read_dst {
            let mut r = result;
            if r.maybe_null {
                r.id = self.new_id();
            }
            *self.cur.reg_mut(d) = r;
        }
        Ok(())
    }

    /// `bpf_lsm_get_retval_range`: an int LSM hook returns `[-MAX_ERRNO, 0]`,
    /// a bool one `[0, 1]`; `None` for void hooks.
    fn lsm_retval_range(&self, t: &Target, btf: &Btf) -> Option<(i32, i32)> {
        let ret = btf.get(t.proto)?.size_or_type;
        let r = skip_mods(btf, ret);
        let rt = btf.get(r)?;
        if rt.kind != kind::INT {
            return None;
        }
        // BTF_INT_BOOL is bit 2 of the encoding byte.
        if (rt.extra[0] >> 24) & 4 != 0 {
            Some((0, 1))
        } else {
            Some((-MAX_ERRNO, 0))
        }
    }

    /// A context field that holds a kernel pointer (`info->reg_type =
    /// PTR_TO_BTF_ID | PTR_TRUSTED` in the program type's
    /// `is_valid_access`): netfilter's `state` (`struct nf_hook_state`) and
    /// `skb` (`struct sk_buff`). Of unknown type (id 0) for any other.
    pub(crate) fn ctx_btf_pointer(&self, off: i64) -> RegState {
        let name = match (self.opts.prog_type, off) {
            (ProgTypeId::Netfilter, 0) => "nf_hook_state",
            (ProgTypeId::Netfilter, 8) => "sk_buff",
            _ => "",
        };
        let id = vmlinux()
            .ok()
            .filter(|_| !name.is_empty())
            .and_then(|v| v.struct_id(name));
        match id {
            Some(btf_id) => RegState {
                btf_id,
                btf_flags: btf_flag::TRUSTED,
                ..RegState::pointer(RegType::BtfId)
            },
            None => RegState::pointer(RegType::BtfId),
        }
    }

    /// `check_ptr_to_btf_id_access`: a load or store at `off` (the
    /// register's fixed offset included) through `PTR_TO_BTF_ID` register
    /// `r`.
    pub(crate) fn check_ptr_to_btf_id_access(
        &mut self,
        r: usize,
        off: i64,
        size: u32,
        write: bool,
        read_dst: Option<usize>,
        sign_extend: bool,
    ) -> VResult {
        let reg = *self.cur.reg(r);
        if reg.btf_flags & btf_flag::ALLOC != 0 {
            // An object of the program's BTF (obj_new.rs).
            return self.alloc_obj_access(r, off, size, write, read_dst, sign_extend);
        }
        let vm = match vmlinux() {
            Ok(v) => v,
            Err(why) => {
                return Err(self.btf_reject(
                    EINVAL,
                    RejectionKind::Unsupported {
                        pc: self.pc,
                        what: "PTR_TO_BTF_ID without the kernel's BTF",
                    },
                    format!("R{r} is a BTF pointer, but {why}"),
                ))
            }
        };
        let btf = &vm.btf;
        if reg.btf_id == 0 {
            // A BTF pointer whose type ironbpf does not know (a helper
            // result of an unknown struct): refused, saying so, rather than
            // walked as void.
            return Err(self.btf_reject(
                EINVAL,
                RejectionKind::Unsupported {
                    pc: self.pc,
                    what: "a BTF pointer of unknown type",
                },
                format!(
                    "R{r} {} access at off={off} size={size}: ironbpf's verifier does not know the BTF type of this pointer",
                    reg.type_str()
                ),
            ));
        }
        let tname = btf.name(reg.btf_id).to_string();
        let bad = |me: &Self, errno: i32, msg: String| {
            me.btf_reject(
                errno,
                RejectionKind::InvalidMemAccess {
                    reg: r as u8,
                    reg_type: me.cur.reg(r).type_str(),
                },
                msg,
            )
        };
        if !self.opts.privileged {
            return Err(bad(
                self,
                EPERM,
                format!("'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"),
            ));
        }
        if !self.opts.gpl {
            return Err(bad(
                self,
                EINVAL,
                format!("Cannot access kernel 'struct {tname}' from non-GPL compatible program"),
            ));
        }
        if off < 0 {
            return Err(bad(
                self,
                EACCES,
                format!("R{r} is ptr_{tname} invalid negative access: off={off}"),
            ));
        }
        if !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
            return Err(bad(
                self,
                EACCES,
                format!(
                    "R{r} is ptr_{tname} invalid variable offset: off={off}, var_off={}",
                    reg.val.var_off
                ),
            ));
        }
        if reg.btf_flags & btf_flag::USER != 0 {
            return Err(bad(
                self,
                EACCES,
                format!("R{r} is ptr_{tname} access user memory: off={off}"),
            ));
        }
        if reg.btf_flags & btf_flag::PERCPU != 0 {
            return Err(bad(
                self,
                EACCES,
                format!("R{r} is ptr_{tname} access percpu memory: off={off}"),
            ));
        }
        if write {
            // `env->ops->btf_struct_access`: tc and xdp programs may write
            // the `mark` of a conntrack entry (`nf_conntrack_btf_struct_access`);
            // no other program type writes kernel structs.
            let nf_conn_ops = matches!(
                self.opts.prog_type,
                ProgTypeId::SchedCls | ProgTypeId::SchedAct | ProgTypeId::Xdp
            );
            if !nf_conn_ops || !matches!(tname.as_str(), "nf_conn" | "nf_conn___init") {
                return Err(bad(self, EACCES, "only read is supported".into()));
            }
            let mark = vm
                .struct_id("nf_conn")
                .and_then(|c| btf.member_by_name(c, "mark"))
                .map(|(_, bits, _)| i64::from(bits / 8));
            let Some(mark) = mark.filter(|&m| m == off) else {
                return Err(bad(
                    self,
                    EACCES,
                    format!("no write support to nf_conn at off {off}"),
                ));
            };
            let end = mark + 4;
            if off + i64::from(size) > end {
                return Err(bad(
                    self,
                    EACCES,
                    format!("write access at off {off} with size {size} beyond the member of nf_conn ended at {end}"),
                ));
            }
            return Ok(());
        }
        // `btf_struct_access`: walk into nested structs until a scalar or
        // a pointer.
        let mut id = reg.btf_id;
        let mut woff = off as u32;
        let mut tag_flags = 0u8;
        let walked = loop {
            match struct_walk(btf, id, woff, size, &mut tag_flags) {
                Ok(Walk::Struct { id: next }) => {
                    id = next;
                    woff = 0;
                }
                Ok(w) => break w,
                Err(e) => return Err(bad(self, e.errno, e.msg)),
            }
        };
        let new = match walked {
            Walk::Scalar => RegState::scalar(alu::scalar_load(size as u8, sign_extend)),
            Walk::PtrUntrusted => {
                // `PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED` of no size.
                RegState {
                    rdonly: true,
                    btf_flags: btf_flag::UNTRUSTED,
                    ..RegState::pointer(RegType::Mem)
                }
            }
            Walk::Ptr {
                id: next,
                field,
                flags,
            } => {
                let mut flag = tag_flags | flags;
                let mut maybe_null = false;
                let trusted = reg.ref_obj_id != 0
                    || (reg.btf_flags & btf_flag::TRUSTED != 0
                        && reg.btf_flags & !btf_flag::TRUSTED == 0);
                let rcu = reg.btf_flags & btf_flag::RCU != 0;
                const CLEAR: u8 = btf_flag::TRUSTED | btf_flag::RCU;
                if reg.btf_flags & btf_flag::UNTRUSTED != 0 {
                    flag = btf_flag::UNTRUSTED;
                } else if trusted || rcu {
                    let is = |suffix: &str| nested_type_is(&vm, reg.btf_id, &field, next, suffix);
                    if is("__safe_trusted") {
                        flag |= btf_flag::TRUSTED;
                    } else if is("__safe_trusted_or_null") {
                        flag |= btf_flag::TRUSTED;
                        maybe_null = true;
                    } else if self.in_rcu_cs() && !reg.maybe_null {
                        let rcu_or_null = is("__safe_rcu_or_null");
                        if is("__safe_rcu") {
                            flag |= btf_flag::RCU;
                        } else if flag & btf_flag::RCU != 0 || rcu_or_null {
                            flag |= btf_flag::RCU;
                            maybe_null = true;
                            if rcu_or_null && flag & btf_flag::UNTRUSTED != 0 {
                                flag &= !btf_flag::UNTRUSTED;
                            }
                        } else if flag & (btf_flag::PERCPU | btf_flag::USER) != 0 {
                            // kept as it is
                        } else {
                            // Linux 6.18: a field of a trusted or RCU
                            // object that no `__safe_*` type lists is
                            // untrusted (`untrusted_ptr_mm_struct`).
                            flag &= !CLEAR;
                            flag |= btf_flag::UNTRUSTED;
                        }
                    } else {
                        flag = btf_flag::UNTRUSTED;
                    }
                } else {
                    // Linux 6.18 (checked on the running kernel): a
                    // pointer walked from a plain `ptr_` (neither trusted
                    // nor RCU, e.g. bpf_skc_to_tcp_sock's result) is
                    // untrusted too (`untrusted_ptr_cgroup` for
                    // `tcp_sock->sk_cgrp_data.cgroup`).
                    flag &= !CLEAR;
                    // Not measured for fentry/fexit (their loads fail
                    // with EPERM on the reference machine): they keep the
                    // compat plain pointer.
                    let tracing_arg = matches!(
                        self.opts.attach_type,
                        Some(
                            AttachType::TraceFentry
                                | AttachType::TraceFexit
                                | AttachType::ModifyReturn
                        )
                    );
                    if !tracing_arg {
                        flag |= btf_flag::UNTRUSTED;
                    }
                }
                let mut n = RegState {
                    maybe_null,
                    btf_id: next,
                    btf_flags: flag,
                    ..RegState::pointer(RegType::BtfId)
                };
                if maybe_null {
                    n.id = self.new_id();
                }
                n
            }
            Walk::Struct { .. } => RegState::unknown(),
        };
        if let Some(d) = read_dst {
            *self.cur.reg_mut(d) = new;
        }
        Ok(())
    }

    /// `check_reg_type` for a `PTR_TO_BTF_ID` register passed as an
    /// `ARG_PTR_TO_BTF_ID` of BTF struct `want` (`None`: any): the register
    /// must be a plain, trusted or RCU pointer (`btf_ptr_types`) whose type
    /// is `want` or has it at offset 0, nested (`btf_struct_ids_match`).
    pub(crate) fn check_btf_arg(&self, r: usize, want: Option<&str>) -> VResult {
        self.check_btf_arg_of(r, want, "ptr_, trusted_ptr_, rcu_ptr_")
    }

    /// [`Env::check_btf_arg`] for `ARG_PTR_TO_BTF_ID_SOCK_COMMON`, whose
    /// compatible types list the sockets first (`btf_id_sock_common_types`).
    pub(crate) fn check_sock_common_btf_arg(&self, r: usize) -> VResult {
        self.check_btf_arg_of(
            r,
            Some("sock_common"),
            "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
        )
    }

    /// [`Env::check_btf_arg`] for an `ARG_PTR_TO_BTF_ID` whose compatible
    /// register types the log lists as `expected`.
    pub(crate) fn check_btf_arg_of(&self, r: usize, want: Option<&str>, expected: &str) -> VResult {
        let reg = *self.cur.reg(r);
        let unsafe_flags = btf_flag::UNTRUSTED | btf_flag::USER | btf_flag::PERCPU;
        if reg.btf_flags & unsafe_flags != 0 {
            let got = reg.type_str();
            return Err(self.reject(
                RejectionKind::ArgType {
                    reg: r as u8,
                    got: got.clone(),
                    expected: expected.into(),
                },
                format!("R{r} type={got} expected={expected}"),
            ));
        }
        let Some(want) = want else { return Ok(()) };
        let vm = match vmlinux() {
            Ok(v) => v,
            Err(why) => {
                return Err(self.btf_reject(
                    EINVAL,
                    RejectionKind::Unsupported {
                        pc: self.pc,
                        what: "PTR_TO_BTF_ID without the kernel's BTF",
                    },
                    format!("R{r} is a BTF pointer, but {why}"),
                ))
            }
        };
        let btf = &vm.btf;
        let Some(need) = vm.struct_id(want) else {
            return Ok(());
        };
        let mut id = reg.btf_id;
        let mut off = reg.off.max(0) as u32;
        let matched = loop {
            if off == 0 && skip_mods(btf, id) == need {
                break true;
            }
            let mut f = 0;
            match struct_walk(btf, id, off, 1, &mut f) {
                Ok(Walk::Struct { id: next }) => {
                    if skip_mods(btf, next) == need {
                        break true;
                    }
                    id = next;
                    off = 0;
                }
                _ => break false,
            }
        };
        if reg.off < 0 || !matched {
            return Err(self.reject(
                RejectionKind::ArgType {
                    reg: r as u8,
                    got: btf.name(reg.btf_id).to_string(),
                    expected: want.to_string(),
                },
                format!(
                    "R{r} is of type {} but {want} is expected",
                    btf.name(reg.btf_id)
                ),
            ));
        }
        Ok(())
    }

    /// `in_rcu_cs`: in a `bpf_rcu_read_lock` section, or a non-sleepable
    /// program (always under RCU).
    fn in_rcu_cs(&self) -> bool {
        self.in_rcu_section()
    }

    /// A helper's `RET_PTR_TO_BTF_ID` result: the id of its `ret_btf_id`
    /// struct in vmlinux BTF and its trust (`RET_PTR_TO_BTF_ID_TRUSTED`).
    pub(crate) fn helper_btf_ret(&self, ret_btf: Option<&str>, trusted: bool) -> (u32, u8) {
        let id = ret_btf
            .and_then(|n| vmlinux().ok().and_then(|v| v.struct_id(n)))
            .unwrap_or(0);
        (id, if trusted { btf_flag::TRUSTED } else { 0 })
    }
}
