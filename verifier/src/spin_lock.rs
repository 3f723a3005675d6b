//! `bpf_spin_lock()` and `bpf_spin_unlock()` on the `struct bpf_spin_lock`
//! field of a map value, as Linux 6.18 checks them (`process_spin_lock`,
//! the lock state of `struct bpf_verifier_state`).
//!
//! - The argument must point at the value's lock: a constant offset, a
//!   map with BTF, a value with a `bpf_spin_lock`, the field's offset.
//! - The lock is the map and the `id` of the pointer (a lookup's result
//!   keeps its id after the null check when its value has a lock), so the
//!   unlock must be of the same element.
//! - While it is held, the only calls allowed are `bpf_spin_unlock`,
//!   static subprograms and a few kfuncs (the list and rbtree API, the
//!   numeric iterator, the resilient locks); the main program may not
//!   exit, tail-call nor use `BPF_LD_[ABS|IND]`.
//!
//! The resilient locks (`bpf_res_spin_lock()` and `bpf_res_spin_unlock()`
//! kfuncs on a `struct bpf_res_spin_lock`) follow the same rules, except
//! that several may be held (not the same twice: `AA deadlock`), they are
//! released last taken first, and the lock may fail: the call forks a path
//! where it returned an error in [-4095, -1] without the lock, while the
//! other holds it with r0 = 0.

use crate::btf_record::FieldKind;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::state::{RegState, RegType};

const EINVAL: i32 = 22;

/// A held lock (a `REF_TYPE_LOCK` or `REF_TYPE_RES_LOCK` reference state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeldLock {
    /// The map whose value holds it (index in the verifier's maps).
    pub map: u32,
    /// The `id` of the pointer it was taken through.
    pub id: u32,
    /// A `bpf_res_spin_lock` (taken by the kfunc `bpf_res_spin_lock`).
    pub res: bool,
    /// How many of the references (`VState::refs`) were acquired before
    /// it: the kernel keeps locks and references in one array, in the
    /// order they were taken, which the log's `refs=` and pruning follow.
    pub refs_before: usize,
}

impl HeldLock {
    /// The same lock (whatever was acquired around it).
    pub fn same(&self, o: &HeldLock) -> bool {
        self.map == o.map && self.id == o.id && self.res == o.res
    }
}

/// [`HeldLock::map`] of a lock in an allocated object (the kernel's lock
/// pointer is then the program's BTF, and the register's id tells
/// objects apart).
pub const ALLOC_LOCK: u32 = u32::MAX;

/// The kfuncs a locked region may call (`kfunc_spin_allowed`).
fn kfunc_spin_allowed(name: &str) -> bool {
    matches!(
        name,
        "bpf_list_push_front_impl"
            | "bpf_list_push_back_impl"
            | "bpf_list_pop_front"
            | "bpf_list_pop_back"
            | "bpf_list_front"
            | "bpf_list_back"
            | "bpf_rbtree_add_impl"
            | "bpf_rbtree_remove"
            | "bpf_rbtree_first"
            | "bpf_rbtree_root"
            | "bpf_rbtree_left"
            | "bpf_rbtree_right"
            | "bpf_refcount_acquire_impl"
            | "bpf_iter_num_new"
            | "bpf_iter_num_next"
            | "bpf_iter_num_destroy"
            | "bpf_res_spin_lock"
            | "bpf_res_spin_unlock"
            | "bpf_res_spin_lock_irqsave"
            | "bpf_res_spin_unlock_irqrestore"
    )
}

/// `BPF_FUNC_spin_unlock`.
const BPF_FUNC_SPIN_UNLOCK: i32 = 94;

impl Env<'_> {
    fn lock_reject(&self, msg: String) -> crate::Rejection {
        self.reject_errno(
            EINVAL,
            RejectionKind::Unsupported {
                pc: self.pc,
                what: "bpf_spin_lock",
            },
            msg,
        )
    }

    /// `do_check`'s rule for a call inside a locked region: a helper
    /// other than `bpf_spin_unlock` (`helper`), or a kfunc not in
    /// `kfunc_spin_allowed` (`kfunc`: its BTF id and the call's `off`).
    pub(crate) fn lock_call_check(
        &self,
        helper: Option<i32>,
        kfunc: Option<(i32, i16)>,
    ) -> VResult {
        if self.cur.active_locks.is_empty() {
            return Ok(());
        }
        let refused = match (helper, kfunc) {
            (Some(id), _) => id != BPF_FUNC_SPIN_UNLOCK,
            (None, Some((btf_id, off))) => {
                off != 0
                    || !u32::try_from(btf_id)
                        .is_ok_and(|id| kfunc_spin_allowed(&crate::vmlinux::type_name(id)))
            }
            (None, None) => false,
        };
        if refused {
            return Err(
                self.lock_reject("function calls are not allowed while holding a lock".into())
            );
        }
        Ok(())
    }

    /// `check_func_call`: no global function may be called with a lock
    /// held.
    pub(crate) fn lock_global_call_check(&self, subprog: usize) -> VResult {
        if !self.cur.active_locks.is_empty() && self.funcs.is_global(subprog) {
            return Err(self.lock_reject(
                "global function calls are not allowed while holding a lock,\nuse static function instead"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `check_resource_leak`'s lock part, at an exit named `prefix`
    /// (`BPF_EXIT instruction in main prog`, `BPF_LD_[ABS|IND]`).
    pub(crate) fn lock_exit_check(&self, prefix: &str) -> VResult {
        if !self.cur.active_locks.is_empty() {
            return Err(self.lock_reject(format!(
                "{prefix} cannot be used inside bpf_spin_lock-ed region"
            )));
        }
        Ok(())
    }

    /// `reg_may_point_to_spin_lock`: a map value whose value has a lock
    /// keeps its id after the null check (the id names the element).
    pub(crate) fn may_point_to_spin_lock(&self, reg: &RegState) -> bool {
        if reg.ty == RegType::BtfId {
            // An allocated object with a lock (obj_new.rs).
            return self.alloc_has_lock(reg);
        }
        reg.ty == RegType::MapValue
            && self.maps.get(reg.map as usize).is_some_and(|m| {
                m.record.has(FieldKind::SpinLock) || m.record.has(FieldKind::ResSpinLock)
            })
    }

    /// `process_spin_lock` for argument `r` of `bpf_spin_lock`
    /// (`is_lock`) or `bpf_spin_unlock`, or of the resilient lock kfuncs
    /// (`res`); the caller checked that `r` is a map value pointer.
    pub(crate) fn process_spin_lock(&mut self, r: usize, is_lock: bool, res: bool) -> VResult {
        let reg = *self.cur.reg(r);
        let (lock_str, kind) = if res {
            ("bpf_res_spin", FieldKind::ResSpinLock)
        } else {
            ("bpf_spin", FieldKind::SpinLock)
        };
        if !reg.val.var_off.is_const() {
            return Err(self.lock_reject(format!(
                "R{r} doesn't have constant offset. {lock_str}_lock has to be at the constant offset"
            )));
        }
        // The lock of an allocated object (obj_new.rs), or of a map value.
        let alloc_rec = if reg.ty == RegType::BtfId {
            Some(self.alloc_record(&reg))
        } else {
            None
        };
        let map_rec;
        let rec = match &alloc_rec {
            Some(rec) => rec,
            None => {
                let Some(map) = self.maps.get(reg.map as usize) else {
                    return Err(crate::Rejection::internal(
                        Some(self.pc),
                        format_args!("R{r} points into map {} that is not known", reg.map),
                    ));
                };
                if !map.record.has_btf {
                    return Err(self.lock_reject(format!(
                        "map '{}' has to have BTF in order to use {lock_str}_lock",
                        map.name
                    )));
                }
                map_rec = &map.record;
                map_rec
            }
        };
        let Some(field) = rec.first(kind) else {
            let what = match alloc_rec {
                Some(_) => "local 'kptr'".to_string(),
                None => format!(
                    "map '{}'",
                    self.maps
                        .get(reg.map as usize)
                        .map_or("", |m| m.name.as_str())
                ),
            };
            return Err(self.lock_reject(format!("{what} has no valid {lock_str}_lock")));
        };
        let off = reg.val.var_off.value as i64 + i64::from(reg.off);
        if off != i64::from(field.offset) {
            return Err(self.lock_reject(format!(
                "off {off} doesn't point to 'struct {lock_str}_lock' that is at {}",
                field.offset
            )));
        }
        let this = HeldLock {
            map: if alloc_rec.is_some() {
                ALLOC_LOCK
            } else {
                reg.map
            },
            id: reg.id,
            res,
            refs_before: self.cur.refs.len(),
        };
        let held = &self.cur.active_locks;
        if is_lock {
            if !res && held.iter().any(|l| !l.res) {
                return Err(self.lock_reject("Locking two bpf_spin_locks are not allowed".into()));
            }
            if res && held.iter().any(|l| l.same(&this)) {
                return Err(
                    self.lock_reject("Acquiring the same lock again, AA deadlock detected".into())
                );
            }
            self.cur.active_locks.push(this);
        } else {
            if held.is_empty() {
                return Err(self.lock_reject(format!("{lock_str}_unlock without taking a lock")));
            }
            if !held.iter().any(|l| l.same(&this)) {
                return Err(self.lock_reject(format!("{lock_str}_unlock of different lock")));
            }
            if !held.last().is_some_and(|l| l.same(&this)) {
                return Err(self.lock_reject(format!("{lock_str}_unlock cannot be out of order")));
            }
            self.cur.active_locks.pop();
            // Nodes seen under the lock are no longer safe (obj_new.rs).
            self.invalidate_non_owning_refs();
        }
        Ok(())
    }

    /// The kfuncs `bpf_res_spin_lock` and `bpf_res_spin_unlock`, whole
    /// (`check_kfunc_call` with `KF_ARG_PTR_TO_RES_SPIN_LOCK`). `false`:
    /// `name` is not one of them.
    pub(crate) fn res_spin_lock_kfunc(&mut self, name: &str) -> VResult<bool> {
        let is_lock = match name {
            "bpf_res_spin_lock" => true,
            "bpf_res_spin_unlock" => false,
            _ => return Ok(false),
        };
        if is_lock {
            // The failed acquisition: the next instruction without the
            // lock, r0 an error (s32 in [-MAX_ERRNO, -1]), r1-r5 clobbered.
            let mut failed = self.cur.clone();
            for r in 1..=5 {
                *failed.reg_mut(r) = RegState::not_init();
            }
            let mut v = crate::scalar::Scalar::unknown();
            v.smin = -4095;
            v.smax = -1;
            v.s32_min = -4095;
            v.s32_max = -1;
            v.sync();
            *failed.reg_mut(0) = RegState::scalar(v);
            self.push_branch(failed, self.pc + 1)?;
        }
        let reg = *self.cur.reg(1);
        if reg.ty != RegType::MapValue || reg.maybe_null {
            return Err(
                self.lock_reject("arg#0 doesn't point to map value or allocated object".into())
            );
        }
        self.process_spin_lock(1, is_lock, true)?;
        for r in 1..=5 {
            *self.cur.reg_mut(r) = RegState::not_init();
            self.scratch.reg(r);
        }
        *self.cur.reg_mut(0) = if is_lock {
            RegState::constant(0)
        } else {
            RegState::not_init()
        };
        self.scratch.reg(0);
        Ok(true)
    }
}
