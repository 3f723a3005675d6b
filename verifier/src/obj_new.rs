//! Objects the program allocates, and the linked lists and rbtrees that
//! hold them, as Linux 6.18's verifier checks them.
//!
//! - `bpf_obj_new_impl(type_id__k, NULL)` gives a `PTR_TO_BTF_ID |
//!   MEM_ALLOC` of a struct of the program's BTF, or NULL, holding a
//!   reference; `bpf_obj_drop_impl` releases it. `bpf_percpu_obj_new_impl`
//!   and its drop do the same for per-CPU objects of scalars (`MEM_PERCPU`,
//!   no direct loads). `bpf_refcount_acquire_impl` takes a new reference
//!   on an object whose struct has a `struct bpf_refcount`.
//! - The graph roots (`struct bpf_list_head`, `struct bpf_rb_root`) live in
//!   map values or global data with a `bpf_spin_lock` beside them, and
//!   name their nodes with a `__contains(type, member)` decl tag
//!   (`crate::btf_record`). Every list and rbtree kfunc takes the root
//!   with that lock held (`check_reg_allocation_locked`), and its node at
//!   the member the tag names.
//! - Pushing a node (`bpf_list_push_{front,back}_impl`,
//!   `bpf_rbtree_add_impl`) releases its reference: the registers that
//!   held it become non-owning references (`NON_OWN_REF`), valid until the
//!   lock is released (`invalidate_non_owning_refs` at `bpf_spin_unlock`).
//!   `bpf_list_front`/`back` and `bpf_rbtree_first`/`root`/`left`/`right`
//!   give non-owning references too; `bpf_list_pop_*` and
//!   `bpf_rbtree_remove` give owning ones (a new reference).
//! - `bpf_rbtree_add_impl`'s `less` is verified as a synchronous callback
//!   (`set_rbtree_add_callback_state`): two non-owning node pointers in,
//!   0 or 1 out.
//! - Loads and stores through an allocated object walk its program BTF
//!   struct (`btf_struct_access`): any scalar member may be written, none of
//!   its special fields touched, and a pointer member reads as a scalar.
//!
//! Register names come from the program's BTF, which the log printer
//! reaches through [`prog_type_name`]: the BTF of the verification under
//! way on this thread.
//!
//! Not modelled: locks inside allocated objects (a list head in an
//! allocated object can be pushed to only under such a lock, so ironbpf
//! refuses it as the kernel refuses a lock it cannot match), and
//! allocated objects stashed in map values through `bpf_kptr_xchg`.

use crate::btf_record::{BtfRecord, FieldKind, SpecialField};
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::kfunc::{is_scalar, is_scalar_struct, skip, suffix, KfuncMeta};
use crate::kfunc_table::{KF_ACQUIRE, KF_RELEASE, KF_RET_NULL, KF_TRUSTED_ARGS};
use crate::state::{btf_flag, FuncState, RegState, RegType, MAX_CALL_FRAMES};
use ironbpf_btf::{kind, kind_str, Btf};
use ironbpf_isa::RawInsn;
use std::cell::RefCell;
use std::sync::Arc;

const EACCES: i32 = 13;
const EINVAL: i32 = 22;
const EFAULT: i32 = 14;
const E2BIG: i32 = 7;

/// `BPF_GLOBAL_PERCPU_MA_MAX_SIZE`.
const PERCPU_MAX_SIZE: u32 = 512;

thread_local! {
    /// The program BTF of the verification running on this thread, for
    /// the names of allocated objects in the log.
    static PROG_BTF: RefCell<Option<Arc<Btf>>> = const { RefCell::new(None) };
}

/// Makes `btf` the BTF that [`prog_type_name`] reads.
pub(crate) fn set_prog_btf(btf: Option<Arc<Btf>>) {
    PROG_BTF.with(|b| *b.borrow_mut() = btf);
}

/// The name of type `id` of the program's BTF (empty when unknown), as the
/// log prints an allocated object (`ptr_node_data`).
pub fn prog_type_name(id: u32) -> String {
    PROG_BTF.with(|b| {
        b.borrow()
            .as_ref()
            .map(|btf| btf.name(id).to_string())
            .unwrap_or_default()
    })
}

/// The special fields of struct `id` of the program's BTF
/// (`btf_find_struct_meta`): a struct with a lock, a graph root or node,
/// a refcount or a kptr among its fields (nested ones too); `None` for a
/// struct of plain members.
pub(crate) fn struct_meta(btf: &Btf, id: u32) -> Option<BtfRecord> {
    if btf.kind_of(id) != kind::STRUCT {
        return None;
    }
    let mut rec = BtfRecord::parse(btf, id).ok()?;
    rec.fields.retain(|f| {
        !matches!(
            f.kind,
            FieldKind::Timer | FieldKind::Workqueue | FieldKind::TaskWork | FieldKind::Uptr
        )
    });
    rec.fields.iter().any(|f| !f.kind.is_kptr()).then_some(rec)
}

/// The kfuncs of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum G {
    ObjNew,
    PercpuObjNew,
    ObjDrop,
    PercpuObjDrop,
    RefcountAcquire,
    PushFront,
    PushBack,
    PopFront,
    PopBack,
    Front,
    Back,
    RbAdd,
    RbRemove,
    RbFirst,
    RbRoot,
    RbLeft,
    RbRight,
}

impl G {
    fn of(name: &str) -> Option<G> {
        Some(match name {
            "bpf_obj_new_impl" => G::ObjNew,
            "bpf_percpu_obj_new_impl" => G::PercpuObjNew,
            "bpf_obj_drop_impl" => G::ObjDrop,
            "bpf_percpu_obj_drop_impl" => G::PercpuObjDrop,
            "bpf_refcount_acquire_impl" => G::RefcountAcquire,
            "bpf_list_push_front_impl" => G::PushFront,
            "bpf_list_push_back_impl" => G::PushBack,
            "bpf_list_pop_front" => G::PopFront,
            "bpf_list_pop_back" => G::PopBack,
            "bpf_list_front" => G::Front,
            "bpf_list_back" => G::Back,
            "bpf_rbtree_add_impl" => G::RbAdd,
            "bpf_rbtree_remove" => G::RbRemove,
            "bpf_rbtree_first" => G::RbFirst,
            "bpf_rbtree_root" => G::RbRoot,
            "bpf_rbtree_left" => G::RbLeft,
            "bpf_rbtree_right" => G::RbRight,
            _ => return None,
        })
    }

    /// A push: the node's reference goes to the list or tree.
    fn inserts(self) -> bool {
        matches!(self, G::PushFront | G::PushBack | G::RbAdd)
    }
}

/// Whether `i` is a call of the kfunc `bpf_rbtree_add_impl` (a
/// synchronous callback's call site, `is_sync_callback_calling_kfunc`).
pub(crate) fn is_rbtree_add_insn(i: &RawInsn) -> bool {
    i.code == 0x85 && i.src == 2 && i.off == 0 && i.imm > 0 && is_rbtree_add_kfunc(i.imm)
}

/// Whether kfunc `btf_id` of vmlinux is `bpf_rbtree_add_impl`.
pub(crate) fn is_rbtree_add_kfunc(btf_id: i32) -> bool {
    u32::try_from(btf_id).is_ok_and(|id| crate::vmlinux::type_name(id) == "bpf_rbtree_add_impl")
}

/// How a pointer argument is classified (`enum kfunc_ptr_arg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    Alloc,
    Refcounted,
    ListHead,
    ListNode,
    RbRoot,
    RbNode,
    Callback,
}

/// What the arguments tell the rest of the call.
#[derive(Default)]
struct Meta {
    k_const: Option<u64>,
    ref_obj_id: u32,
    release_regno: usize,
    /// The node type of the object argument (`arg_btf_id`).
    arg_btf_id: u32,
    /// The graph root argument's field.
    root: Option<SpecialField>,
    /// The `less` callback's subprogram.
    subprog: Option<usize>,
    /// `bpf_refcount_acquire_impl` of an owning reference
    /// (`arg_owning_ref`): the object cannot be gone, the result is not
    /// NULL.
    arg_owning_ref: bool,
}

/// An allocated object owned by the program (`PTR_TO_BTF_ID | MEM_ALLOC`
/// exactly).
fn is_owning(r: &RegState) -> bool {
    r.ty == RegType::BtfId && !r.maybe_null && !r.rdonly && r.btf_flags == btf_flag::ALLOC
}

/// `is_trusted_reg`: referenced, or with no type flags but `MEM_ALLOC`,
/// `PTR_TRUSTED` and `NON_OWN_REF` (and one of them).
fn is_trusted(r: &RegState) -> bool {
    const OK: u8 = btf_flag::ALLOC | btf_flag::TRUSTED | btf_flag::NON_OWN;
    if r.ref_obj_id != 0 {
        return true;
    }
    let sock = matches!(
        r.ty,
        RegType::Socket | RegType::SockCommon | RegType::TcpSock
    );
    let safe = !r.rdonly && !r.maybe_null && r.btf_flags & !OK == 0;
    (sock && safe) || (r.ty == RegType::BtfId && safe && r.btf_flags & OK != 0)
}

/// `type_is_ptr_alloc_obj`: owning or not, per-CPU or not.
fn is_alloc(r: &RegState) -> bool {
    r.ty == RegType::BtfId && r.btf_flags & btf_flag::ALLOC != 0
}

impl Env<'_> {
    fn g_err(&self, errno: i32, msg: String) -> crate::Rejection {
        self.reject_errno(errno, RejectionKind::Other, msg)
    }

    fn g_arg(
        &self,
        errno: i32,
        r: usize,
        kfunc: &str,
        expected: &str,
        msg: String,
    ) -> crate::Rejection {
        self.reject_errno(
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

    /// The special fields of what `reg` points into (`reg_btf_record`): a
    /// map value's record, or an allocated object's struct meta.
    fn reg_record(&self, reg: &RegState) -> Option<BtfRecord> {
        if reg.ty == RegType::MapValue {
            return self.maps.get(reg.map as usize).map(|m| m.record.clone());
        }
        if is_alloc(reg) {
            let btf = self.opts.btf.as_deref()?;
            return struct_meta(btf, reg.btf_id);
        }
        None
    }

    /// The special fields of allocated object `reg` (none when its struct
    /// has no struct meta).
    pub(crate) fn alloc_record(&self, reg: &RegState) -> BtfRecord {
        self.reg_record(reg).unwrap_or_default()
    }

    /// `reg_may_point_to_spin_lock` for a BTF pointer: an allocated
    /// object whose struct has a lock.
    pub(crate) fn alloc_has_lock(&self, reg: &RegState) -> bool {
        is_alloc(reg) && {
            let rec = self.alloc_record(reg);
            rec.has(FieldKind::SpinLock) || rec.has(FieldKind::ResSpinLock)
        }
    }

    /// `ARG_PTR_TO_SPIN_LOCK` inside an rbtree's `less` callback, which
    /// runs with the tree's lock held.
    pub(crate) fn rbtree_cb_spin_lock_check(&self) -> VResult {
        if self.in_rbtree_cb() {
            return Err(self.g_err(EACCES, "can't spin_{lock,unlock} in rbtree cb".into()));
        }
        Ok(())
    }

    /// `in_rbtree_lock_required_cb`: the current frame is the `less`
    /// callback of `bpf_rbtree_add_impl`.
    fn in_rbtree_cb(&self) -> bool {
        if self.cur.frames.len() < 2 || !self.cur.cur().in_callback_fn {
            return false;
        }
        let site = self.cur.cur().callsite;
        self.insns.get(site).is_some_and(is_rbtree_add_insn)
    }

    /// `check_kfunc_call` for the allocated-object, list and rbtree kfuncs.
    /// `Ok(false)`: `m` is not one of them.
    pub(crate) fn graph_kfunc_call(&mut self, m: &KfuncMeta, flags: u32) -> VResult<bool> {
        let Some(g) = G::of(&m.name) else {
            return Ok(false);
        };
        if let Some(btf) = &self.opts.btf {
            set_prog_btf(Some(btf.clone()));
        }
        let mut meta = Meta::default();
        self.graph_kfunc_args(m, g, flags, &mut meta)?;
        let name = m.name.as_str();
        let btf_id = self.insns.get(self.pc).map_or(0, |i| i.imm);
        if g == G::RbAdd {
            let sub = meta.subprog.unwrap_or(0);
            if let Err(mut e) = self.push_rbtree_less_callback(sub, meta.root.as_ref()) {
                e.message.push_str(&format!(
                    "\nkfunc {name}#{btf_id} failed callback verification"
                ));
                return Err(e);
            }
        }
        if meta.release_regno != 0 {
            let rid = self.cur.reg(meta.release_regno).ref_obj_id;
            if !self.cur.refs.iter().any(|r| r.id == rid) {
                return Err(self.g_err(
                    EINVAL,
                    format!("kfunc {name}#{btf_id} reference has not been acquired before"),
                ));
            }
            self.release_reference(rid);
        }
        if g.inserts() {
            let rid = self.cur.reg(2).ref_obj_id;
            self.ref_convert_owning_non_owning(rid, name, btf_id)?;
            if !self.cur.refs.iter().any(|r| r.id == rid) {
                return Err(self.g_err(
                    EINVAL,
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
        let r0 = self.graph_kfunc_ret(g, flags, &meta)?;
        *self.cur.reg_mut(0) = r0;
        Ok(true)
    }

    /// `check_kfunc_args` for these kfuncs, in the kernel's order.
    fn graph_kfunc_args(&mut self, m: &KfuncMeta, g: G, flags: u32, meta: &mut Meta) -> VResult {
        let btf = &m.vm.btf;
        let name = m.name.as_str();
        let release = flags & KF_RELEASE != 0;
        for (i, (aname, atype)) in m.args.iter().enumerate().take(5) {
            let regno = i + 1;
            let reg = *self.cur.reg(regno);
            self.scratch.reg(regno);
            let t = skip(btf, *atype);
            if suffix(aname, "__ign") {
                continue;
            }
            if is_scalar(btf, t) {
                if reg.ty != RegType::Scalar {
                    return Err(self.g_arg(
                        EINVAL,
                        regno,
                        name,
                        "scalar",
                        format!("R{regno} is not a scalar"),
                    ));
                }
                if suffix(aname, "__k") {
                    if !reg.val.var_off.is_const() {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "a known constant",
                            format!("R{regno} must be a known constant"),
                        ));
                    }
                    self.mark_chain_precision(regno);
                    meta.k_const = Some(reg.val.var_off.value);
                }
                continue;
            }
            if btf.kind_of(t) != kind::PTR {
                return Err(self.g_arg(
                    EINVAL,
                    regno,
                    name,
                    "a pointer or a scalar",
                    format!("Unrecognized arg#{i} type {}", kind_str(btf.kind_of(t))),
                ));
            }
            if reg.is_null() || reg.maybe_null {
                return Err(self.g_arg(
                    EACCES,
                    regno,
                    name,
                    "a pointer that is not NULL",
                    format!("Possibly NULL pointer passed to trusted arg{i}"),
                ));
            }
            if reg.ref_obj_id != 0 {
                if release && meta.ref_obj_id != 0 {
                    return Err(self.g_err(
                        EFAULT,
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
            let ref_t = skip(btf, btf.get(t).map_or(0, |p| p.size_or_type));
            let ref_tname = btf.name(ref_t);
            let arg = if suffix(aname, "__alloc") {
                Arg::Alloc
            } else if suffix(aname, "__refcounted_kptr") {
                Arg::Refcounted
            } else if btf.is_struct(ref_t) && ref_tname == "bpf_list_head" {
                Arg::ListHead
            } else if btf.is_struct(ref_t) && ref_tname == "bpf_list_node" {
                Arg::ListNode
            } else if btf.is_struct(ref_t) && ref_tname == "bpf_rb_root" {
                Arg::RbRoot
            } else if btf.is_struct(ref_t) && ref_tname == "bpf_rb_node" {
                Arg::RbNode
            } else {
                let btf_like = matches!(
                    reg.ty,
                    RegType::BtfId | RegType::Socket | RegType::SockCommon | RegType::TcpSock
                );
                if btf_like {
                    return Err(self.g_arg(
                        EINVAL,
                        regno,
                        name,
                        "a pointer to a struct",
                        format!(
                            "kernel function {name} args#{i} pointer type {} {ref_tname} is not supported",
                            kind_str(btf.kind_of(ref_t))
                        ),
                    ));
                }
                if btf.kind_of(ref_t) != kind::FUNC_PROTO {
                    return Err(self.kunsupported_graph(name, i));
                }
                Arg::Callback
            };
            if arg == Arg::Alloc && (release || flags & KF_TRUSTED_ARGS != 0) && !is_trusted(&reg) {
                // A release kfunc's arguments are trusted ones
                // (`is_kfunc_trusted_args`).
                return Err(self.g_arg(
                    EINVAL,
                    regno,
                    name,
                    "a referenced or trusted pointer",
                    format!("R{regno} must be referenced or trusted"),
                ));
            }
            self.graph_arg_reg_off(regno, release && reg.ref_obj_id != 0)?;
            match arg {
                Arg::Alloc => {
                    let percpu = reg.ty == RegType::BtfId
                        && !reg.rdonly
                        && reg.btf_flags == btf_flag::ALLOC | btf_flag::PERCPU;
                    if is_owning(&reg) {
                        if g != G::ObjDrop {
                            return Err(self.g_arg(
                                EINVAL,
                                regno,
                                name,
                                "a per-CPU allocated object",
                                format!("arg#{i} expected for bpf_obj_drop_impl()"),
                            ));
                        }
                    } else if percpu {
                        if g != G::PercpuObjDrop {
                            return Err(self.g_arg(
                                EINVAL,
                                regno,
                                name,
                                "an allocated object that is not per-CPU",
                                format!("arg#{i} expected for bpf_percpu_obj_drop_impl()"),
                            ));
                        }
                    } else {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "an allocated object",
                            format!("arg#{i} expected pointer to allocated object"),
                        ));
                    }
                    if reg.ref_obj_id == 0 {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "a referenced allocated object",
                            "allocated object must be referenced".into(),
                        ));
                    }
                    meta.arg_btf_id = reg.btf_id;
                }
                Arg::ListHead | Arg::RbRoot => {
                    let map_value = reg.ty == RegType::MapValue && !reg.rdonly;
                    if !map_value && !is_owning(&reg) {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "a map value or an allocated object",
                            format!("arg#{i} expected pointer to map value or allocated object"),
                        ));
                    }
                    if is_owning(&reg) && reg.ref_obj_id == 0 {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "a referenced allocated object",
                            "allocated object must be referenced".into(),
                        ));
                    }
                    let k = if arg == Arg::ListHead {
                        FieldKind::ListHead
                    } else {
                        FieldKind::RbRoot
                    };
                    self.graph_root_arg(regno, k, meta)?;
                }
                Arg::ListNode => {
                    if !is_owning(&reg) {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "an allocated object",
                            format!("arg#{i} expected pointer to allocated object"),
                        ));
                    }
                    if reg.ref_obj_id == 0 {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "a referenced allocated object",
                            "allocated object must be referenced".into(),
                        ));
                    }
                    self.graph_node_arg(regno, FieldKind::ListHead, FieldKind::ListNode, meta)?;
                }
                Arg::RbNode => {
                    if g == G::RbAdd {
                        if !is_owning(&reg) {
                            return Err(self.g_arg(
                                EINVAL,
                                regno,
                                name,
                                "an allocated object",
                                format!("arg#{i} expected pointer to allocated object"),
                            ));
                        }
                        if reg.ref_obj_id == 0 {
                            return Err(self.g_arg(
                                EINVAL,
                                regno,
                                name,
                                "a referenced allocated object",
                                "allocated object must be referenced".into(),
                            ));
                        }
                    } else {
                        let non_own =
                            reg.ty == RegType::BtfId && reg.btf_flags & btf_flag::NON_OWN != 0;
                        if !non_own && reg.ref_obj_id == 0 {
                            return Err(self.g_arg(
                                EINVAL,
                                regno,
                                name,
                                "a non-owning or refcounted node",
                                format!("{name} can only take non-owning or refcounted bpf_rb_node pointer"),
                            ));
                        }
                        if self.in_rbtree_cb() {
                            return Err(
                                self.g_err(EINVAL, format!("{name} not allowed in rbtree cb"))
                            );
                        }
                    }
                    self.graph_node_arg(regno, FieldKind::RbRoot, FieldKind::RbNode, meta)?;
                }
                Arg::Callback => {
                    if reg.ty != RegType::Func {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "a function",
                            format!("arg{i} expected pointer to func"),
                        ));
                    }
                    meta.subprog = Some(reg.subprog as usize);
                }
                Arg::Refcounted => {
                    if !is_alloc(&reg) {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "an allocated object",
                            format!("arg#{i} is neither owning or non-owning ref"),
                        ));
                    }
                    let Some(rec) = self.reg_record(&reg) else {
                        return Err(
                            self.g_err(EFAULT, "verifier bug: Couldn't find btf_record".into())
                        );
                    };
                    if !rec.has(FieldKind::Refcount) {
                        return Err(self.g_arg(
                            EINVAL,
                            regno,
                            name,
                            "an object with a bpf_refcount",
                            format!("arg#{i} doesn't point to a type with bpf_refcount field"),
                        ));
                    }
                    meta.arg_btf_id = reg.btf_id;
                    meta.arg_owning_ref = reg.btf_flags & btf_flag::NON_OWN == 0;
                }
            }
        }
        if release && meta.release_regno == 0 {
            return Err(self.g_arg(
                EINVAL,
                1,
                name,
                "a referenced pointer",
                format!("release kernel function {name} expects refcounted PTR_TO_BTF_ID"),
            ));
        }
        Ok(())
    }

    fn kunsupported_graph(&self, name: &str, i: usize) -> crate::Rejection {
        self.reject_errno(
            EINVAL,
            RejectionKind::Unsupported {
                pc: self.pc,
                what: "allocated objects",
            },
            format!("insn {}: arg#{i} of {name} is of a kind ironbpf's verifier does not check for this kfunc", self.pc),
        )
    }

    /// `check_func_arg_reg_off` for a kfunc argument; `release`: the
    /// reference this call releases.
    fn graph_arg_reg_off(&self, regno: usize, release: bool) -> VResult {
        let reg = *self.cur.reg(regno);
        let ts = reg.type_str();
        let var_off = |me: &Self| -> VResult {
            if !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
                return Err(me.g_err(
                    EACCES,
                    format!(
                        "variable {ts} access var_off={} disallowed",
                        reg.val.var_off
                    ),
                ));
            }
            if reg.off < 0 {
                return Err(me.g_err(
                    EACCES,
                    format!(
                        "negative offset {ts} ptr R{regno} off={} disallowed",
                        reg.off
                    ),
                ));
            }
            Ok(())
        };
        if release {
            if reg.off != 0 {
                return Err(self.g_err(
                    EINVAL,
                    format!("R{regno} must have zero offset when passed to release func or trusted arg to kfunc"),
                ));
            }
            return var_off(self);
        }
        let free = matches!(
            reg.ty,
            RegType::Stack
                | RegType::Packet
                | RegType::PacketMeta
                | RegType::MapKey
                | RegType::MapValue
                | RegType::Mem
                | RegType::Scalar
        );
        if free {
            return Ok(());
        }
        let f = reg.btf_flags;
        let fixed_ok = reg.ty == RegType::BtfId
            && !reg.rdonly
            && matches!(f, 0 | btf_flag::ALLOC | btf_flag::TRUSTED | btf_flag::RCU)
            || (reg.ty == RegType::BtfId
                && (f == btf_flag::ALLOC | btf_flag::NON_OWN
                    || f == btf_flag::ALLOC | btf_flag::NON_OWN | btf_flag::RCU));
        if !fixed_ok && reg.off != 0 {
            return Err(self.g_err(
                EACCES,
                format!(
                    "dereference of modified {ts} ptr R{regno} off={} disallowed",
                    reg.off
                ),
            ));
        }
        var_off(self)
    }

    /// `__process_kf_arg_ptr_to_graph_root`: the root at a constant
    /// offset, a field of that kind there, its lock held.
    fn graph_root_arg(&mut self, regno: usize, k: FieldKind, meta: &mut Meta) -> VResult {
        let reg = *self.cur.reg(regno);
        let head = k.name();
        if !reg.val.var_off.is_const() {
            return Err(self.g_err(
                EINVAL,
                format!("R{regno} doesn't have constant offset. {head} has to be at the constant offset"),
            ));
        }
        let rec = self.reg_record(&reg).unwrap_or_default();
        let off = i64::from(reg.off) + reg.val.var_off.value as i64;
        let Some(field) = rec
            .fields
            .iter()
            .find(|f| f.kind == k && i64::from(f.offset) == off)
            .cloned()
        else {
            return Err(self.g_err(EINVAL, format!("{head} not found at offset={}", off as u32)));
        };
        let lock_off = rec
            .fields
            .iter()
            .find(|f| matches!(f.kind, FieldKind::SpinLock | FieldKind::ResSpinLock))
            .map_or(-(EINVAL as i64), |f| i64::from(f.offset));
        let must_hold = format!("bpf_spin_lock at off={lock_off} must be held for {head}");
        if self.cur.active_locks.is_empty() {
            return Err(self.g_err(EINVAL, must_hold));
        }
        // check_reg_allocation_locked: the lock of this map value (or
        // allocation), taken through a pointer of the same id.
        let lock_map = if reg.ty == RegType::MapValue {
            reg.map
        } else {
            crate::spin_lock::ALLOC_LOCK
        };
        let held = self
            .cur
            .active_locks
            .iter()
            .any(|l| l.map == lock_map && l.id == reg.id);
        if !held {
            return Err(self.g_err(
                EINVAL,
                format!("held lock and object are not in the same allocation\n{must_hold}"),
            ));
        }
        meta.root = Some(field);
        Ok(())
    }

    /// `__process_kf_arg_ptr_to_graph_node`: the node at a constant
    /// offset, a node field there, of the type and at the member the
    /// root's `__contains` names.
    fn graph_node_arg(
        &mut self,
        regno: usize,
        root_kind: FieldKind,
        k: FieldKind,
        meta: &mut Meta,
    ) -> VResult {
        let reg = *self.cur.reg(regno);
        let node = k.name();
        if !reg.val.var_off.is_const() {
            return Err(self.g_err(
                EINVAL,
                format!("R{regno} doesn't have constant offset. {node} has to be at the constant offset"),
            ));
        }
        let node_off = i64::from(reg.off) + reg.val.var_off.value as i64;
        let rec = self.reg_record(&reg).unwrap_or_default();
        if !rec
            .fields
            .iter()
            .any(|f| f.kind == k && i64::from(f.offset) == node_off)
        {
            return Err(self.g_err(
                EINVAL,
                format!("{node} not found at offset={}", node_off as u32),
            ));
        }
        let Some(graph) = meta.root.as_ref().and_then(|f| f.graph.clone()) else {
            return Err(self.g_err(
                EFAULT,
                format!(
                    "verifier bug: the {} argument was not checked before the {node}",
                    root_kind.name()
                ),
            ));
        };
        let prog_btf = self.opts.btf.clone();
        let reg_name = prog_btf
            .as_deref()
            .map(|b| b.name(reg.btf_id).to_string())
            .unwrap_or_default();
        if reg.btf_id != graph.value_id {
            return Err(self.g_err(
                EINVAL,
                format!(
                    "operation on {} expects arg#1 {node} at offset={} in struct {}, but arg is at offset={node_off} in struct {reg_name}",
                    root_kind.name(),
                    graph.node_offset,
                    graph.value_name
                ),
            ));
        }
        meta.arg_btf_id = reg.btf_id;
        if node_off != i64::from(graph.node_offset) {
            return Err(self.g_err(
                EINVAL,
                format!(
                    "arg#1 offset={node_off}, but expected {node} at offset={} in struct {}",
                    graph.node_offset, graph.value_name
                ),
            ));
        }
        Ok(())
    }

    /// `ref_set_non_owning`: `NON_OWN_REF`, and `MEM_RCU` for a struct
    /// with a refcount (it may outlive the lock).
    fn set_non_owning(&self, r: &mut RegState) {
        r.btf_flags |= btf_flag::NON_OWN;
        let refcounted = self
            .opts
            .btf
            .as_deref()
            .and_then(|b| struct_meta(b, r.btf_id))
            .is_some_and(|m| m.has(FieldKind::Refcount));
        if refcounted {
            r.btf_flags |= btf_flag::RCU;
        }
    }

    /// `ref_convert_owning_non_owning`: every register holding reference
    /// `rid` becomes a non-owning reference to the same object.
    fn ref_convert_owning_non_owning(&mut self, rid: u32, name: &str, btf_id: i32) -> VResult {
        if !self.cur.refs.iter().any(|r| r.id == rid) {
            return Err(self.g_err(
                EFAULT,
                format!(
                    "verifier bug: ref_obj_id {rid} not found\nkfunc {name}#{btf_id} conversion of owning ref to non-owning failed"
                ),
            ));
        }
        // Every register holding the reference points at the same object.
        let mut sample = None;
        self.cur.for_each_reg(|r| {
            if r.ref_obj_id == rid && sample.is_none() {
                sample = Some(*r);
            }
        });
        let Some(mut converted) = sample else {
            return Ok(());
        };
        self.set_non_owning(&mut converted);
        let add = converted.btf_flags;
        self.cur.for_each_reg(|r| {
            if r.ref_obj_id == rid {
                r.ref_obj_id = 0;
                r.btf_flags |= add;
            }
        });
        Ok(())
    }

    /// `invalidate_non_owning_refs`, at the release of a lock: the
    /// non-owning references become unknown scalars (`mark_reg_invalid`;
    /// uninitialised for an unprivileged loader).
    pub(crate) fn invalidate_non_owning_refs(&mut self) {
        let privileged = self.opts.privileged;
        self.cur.for_each_reg(|r| {
            if r.ty == RegType::BtfId && r.btf_flags & btf_flag::NON_OWN != 0 {
                *r = if privileged {
                    RegState::unknown()
                } else {
                    RegState::not_init()
                };
            }
        });
    }

    /// The result (`check_special_kfunc` and the end of
    /// `check_kfunc_call`).
    fn graph_kfunc_ret(&mut self, g: G, flags: u32, meta: &Meta) -> VResult<RegState> {
        let mut r0 = match g {
            G::ObjNew | G::PercpuObjNew => self.obj_new_ret(g, meta)?,
            G::RefcountAcquire => RegState {
                btf_id: meta.arg_btf_id,
                btf_flags: btf_flag::ALLOC,
                ..RegState::pointer(RegType::BtfId)
            },
            G::PopFront
            | G::PopBack
            | G::Front
            | G::Back
            | G::RbRemove
            | G::RbFirst
            | G::RbRoot
            | G::RbLeft
            | G::RbRight => {
                // mark_reg_graph_node: the node member of the root's type.
                let Some(graph) = meta.root.as_ref().and_then(|f| f.graph.clone()) else {
                    return Err(self.g_err(
                        EFAULT,
                        "verifier bug: no graph root for the node result".into(),
                    ));
                };
                RegState {
                    btf_id: graph.value_id,
                    btf_flags: btf_flag::ALLOC,
                    off: graph.node_offset as i32,
                    ..RegState::pointer(RegType::BtfId)
                }
            }
            G::ObjDrop | G::PercpuObjDrop => return Ok(RegState::not_init()),
            G::PushFront | G::PushBack | G::RbAdd => return Ok(RegState::unknown()),
        };
        let ret_null =
            flags & KF_RET_NULL != 0 && !(g == G::RefcountAcquire && meta.arg_owning_ref);
        if ret_null {
            r0.maybe_null = true;
            r0.id = self.new_id();
        }
        if flags & KF_ACQUIRE != 0 {
            let id = self.acquire_reference();
            if ret_null {
                r0.id = id;
            }
            r0.ref_obj_id = id;
        } else {
            self.set_non_owning(&mut r0);
        }
        if r0.id == 0 && self.alloc_has_lock(&r0) {
            r0.id = self.new_id();
        }
        Ok(r0)
    }

    /// `bpf_obj_new_impl` and `bpf_percpu_obj_new_impl`: a struct of the
    /// program's BTF, by the constant type id.
    fn obj_new_ret(&self, g: G, meta: &Meta) -> VResult<RegState> {
        let v = meta.k_const.unwrap_or(0);
        let Ok(id) = u32::try_from(v) else {
            return Err(self.g_err(
                EINVAL,
                "local type ID argument must be in range [0, U32_MAX]".into(),
            ));
        };
        let Some(btf) = self.opts.btf.as_deref() else {
            return Err(self.g_err(
                EINVAL,
                "bpf_obj_new/bpf_percpu_obj_new requires prog BTF".into(),
            ));
        };
        let Some(t) = btf.get(id).filter(|t| t.kind == kind::STRUCT) else {
            return Err(self.g_err(
                EINVAL,
                "bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct".into(),
            ));
        };
        let mut flags = btf_flag::ALLOC;
        if g == G::PercpuObjNew {
            if t.size_or_type > PERCPU_MAX_SIZE {
                return Err(self.g_err(
                    EINVAL,
                    format!(
                        "bpf_percpu_obj_new type size ({}) is greater than {PERCPU_MAX_SIZE}",
                        t.size_or_type as i32
                    ),
                ));
            }
            if !is_scalar_struct(btf, id, 0) {
                return Err(self.g_err(
                    EINVAL,
                    "bpf_percpu_obj_new type ID argument must be of a struct of scalars".into(),
                ));
            }
            if struct_meta(btf, id).is_some() {
                return Err(self.g_err(
                    EINVAL,
                    "bpf_percpu_obj_new type ID argument must not contain special fields".into(),
                ));
            }
            flags |= btf_flag::PERCPU;
        }
        Ok(RegState {
            btf_id: id,
            btf_flags: flags,
            ..RegState::pointer(RegType::BtfId)
        })
    }

    /// `push_callback_call` with `set_rbtree_add_callback_state`: the
    /// `less` callback is entered in a new frame with two non-owning
    /// pointers to nodes of the root's type.
    fn push_rbtree_less_callback(&mut self, sub: usize, root: Option<&SpecialField>) -> VResult {
        let Some(graph) = root.and_then(|f| f.graph.clone()) else {
            return Err(self.g_err(EFAULT, "verifier bug: rbtree_add without its root".into()));
        };
        let _ = self.btf_check_subprog_call(sub);
        let depth = self.cur.frames.len();
        if depth >= MAX_CALL_FRAMES {
            return Err(self.reject_errno(
                E2BIG,
                RejectionKind::CallTooDeep { frames: depth + 1 },
                format!("the call stack of {} frames is too deep", depth + 1),
            ));
        }
        let mut callee = FuncState::new(depth as u32, self.pc, sub);
        callee.in_callback_fn = true;
        let mut node = RegState {
            btf_id: graph.value_id,
            btf_flags: btf_flag::ALLOC,
            off: graph.node_offset as i32,
            ..RegState::pointer(RegType::BtfId)
        };
        self.set_non_owning(&mut node);
        callee.regs[1] = node;
        callee.regs[2] = node;
        let mut st = self.cur.clone();
        st.cur_mut().callback_depth += 1;
        st.frames.push(callee);
        self.cur.cur_mut().callback_depth = 0;
        let Some(&start) = self.cfg.subprogs.get(sub) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("callback func#{sub} is not among the CFG's subprograms"),
            ));
        };
        self.push_branch(st, start)?;
        self.scratch_all = true;
        Ok(())
    }

    /// `check_ptr_to_btf_access` and `btf_struct_access` for an allocated
    /// object: `off` is the register's fixed offset plus the
    /// instruction's.
    pub(crate) fn alloc_obj_access(
        &mut self,
        r: usize,
        off: i64,
        size: u32,
        write: bool,
        read_dst: Option<usize>,
        sign_extend: bool,
    ) -> VResult {
        let reg = *self.cur.reg(r);
        let Some(btf) = self.opts.btf.clone() else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("an allocated object without the program's BTF"),
            ));
        };
        let tname = btf.name(reg.btf_id).to_string();
        let bad = |me: &Self, errno: i32, msg: String| {
            me.reject_errno(
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
                1,
                format!("'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"),
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
        if reg.btf_flags & btf_flag::PERCPU != 0 {
            return Err(bad(
                self,
                EACCES,
                format!("R{r} is ptr_{tname} access percpu memory: off={off}"),
            ));
        }
        if let Some(meta) = struct_meta(&btf, reg.btf_id) {
            let (lo, hi) = (off, off + i64::from(size));
            if let Some(f) = meta
                .fields
                .iter()
                .find(|f| lo < i64::from(f.offset) + i64::from(f.size) && i64::from(f.offset) < hi)
            {
                return Err(bad(
                    self,
                    EACCES,
                    format!("direct access to {} is disallowed", f.kind.name()),
                ));
            }
        }
        let mut id = reg.btf_id;
        let mut woff = off as u32;
        let mut tag_flags = 0u8;
        loop {
            match crate::btf_access::struct_walk(&btf, id, woff, size, &mut tag_flags) {
                Ok(crate::btf_access::Walk::Struct { id: next }) => {
                    id = next;
                    woff = 0;
                }
                Ok(_) => break,
                Err(e) => return Err(bad(self, e.errno, e.msg)),
            }
        }
        // A scalar, or a pointer member: local types never give pointers
        // back.
        if !write {
            if let Some(d) = read_dst {
                *self.cur.reg_mut(d) =
                    RegState::scalar(crate::alu::scalar_load(size as u8, sign_extend));
            }
        }
        Ok(())
    }

    /// `map_kptr_match_type` for a local kptr: `bpf_kptr_xchg`'s new
    /// value is an allocated object of the kptr's struct, at offset 0.
    pub(crate) fn local_kptr_xchg_arg(&self, r: usize, field: &SpecialField) -> VResult {
        let reg = *self.cur.reg(r);
        let want = field.kptr_local.unwrap_or(0);
        let mut perm = btf_flag::ALLOC;
        if field.kind == FieldKind::KptrPercpu {
            perm |= btf_flag::PERCPU;
        }
        let alloc = reg.ty == RegType::BtfId && reg.btf_flags & btf_flag::ALLOC != 0;
        let reg_name = if !alloc {
            crate::vmlinux::type_name(reg.btf_id)
        } else {
            prog_type_name(reg.btf_id)
        };
        let targ = &field.kptr_struct;
        let bad = || {
            let mut m = format!(
                "invalid kptr access, R{r} type={}{reg_name} expected=ptr_{targ}",
                reg.type_str()
            );
            if field.kind == FieldKind::KptrUnref {
                m.push_str(&format!(" or untrusted_ptr_{targ}"));
            }
            self.g_err(EACCES, m)
        };
        if !alloc || reg.rdonly || reg.btf_flags & !perm != 0 {
            return Err(bad());
        }
        if !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
            return Err(self.g_err(
                EACCES,
                format!(
                    "variable {} access var_off={} disallowed",
                    reg.type_str(),
                    reg.val.var_off
                ),
            ));
        }
        if reg.off < 0 {
            return Err(self.g_err(
                EACCES,
                format!(
                    "negative offset {} ptr R{r} off={} disallowed",
                    reg.type_str(),
                    reg.off
                ),
            ));
        }
        if reg.off != 0 || reg.btf_id != want {
            return Err(bad());
        }
        Ok(())
    }

    /// `bpf_kptr_xchg`'s result for a local kptr: the old allocated
    /// object or NULL (`MEM_ALLOC`, per-CPU for a `__percpu_kptr`).
    pub(crate) fn local_kptr_xchg_ret(&self, field: &SpecialField) -> Option<RegState> {
        let id = field.kptr_local?;
        if let Some(btf) = &self.opts.btf {
            set_prog_btf(Some(btf.clone()));
        }
        let mut f = btf_flag::ALLOC;
        if field.kind == FieldKind::KptrPercpu {
            f |= btf_flag::PERCPU;
        }
        Some(RegState {
            maybe_null: true,
            btf_id: id,
            btf_flags: f,
            ..RegState::pointer(RegType::BtfId)
        })
    }

    /// A load of a local kptr (`btf_ld_kptr_type` for a program-BTF
    /// struct): inside an RCU read section (a non-sleepable program always
    /// is) an RCU-protected allocated object, `_or_null`, non-owning when
    /// its struct is a list or rbtree node (measured on the running
    /// kernel). `None`: `field` is not a local kptr.
    pub(crate) fn local_kptr_load(&self, field: &SpecialField) -> Option<VResult<RegState>> {
        let id = field.kptr_local?;
        let btf = self.opts.btf.clone()?;
        if field.kind != FieldKind::KptrRef || !self.in_rcu_section() {
            return Some(Err(self.reject_errno(
                EINVAL,
                RejectionKind::Unsupported {
                    pc: self.pc,
                    what: "untrusted pointers to allocated objects",
                },
                format!(
                    "insn {}: the kptr at off={} loads an untrusted pointer to struct {}, a type of the program's BTF, which ironbpf's verifier does not model",
                    self.pc, field.offset, field.kptr_struct
                ),
            )));
        }
        set_prog_btf(Some(btf.clone()));
        let mut f = btf_flag::RCU | btf_flag::ALLOC;
        let node = struct_meta(&btf, id)
            .is_some_and(|m| m.has(FieldKind::ListNode) || m.has(FieldKind::RbNode));
        if node {
            f |= btf_flag::NON_OWN;
        }
        Some(Ok(RegState {
            maybe_null: true,
            btf_id: id,
            btf_flags: f,
            ..RegState::pointer(RegType::BtfId)
        }))
    }
}
