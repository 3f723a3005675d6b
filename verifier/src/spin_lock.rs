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

use crate::btf_record::FieldKind;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::state::{RegState, RegType};

const EINVAL: i32 = 22;

/// A held `bpf_spin_lock` (the `REF_TYPE_LOCK` reference state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeldLock {
    /// The map whose value holds it (index in the verifier's maps).
    pub map: u32,
    /// The `id` of the pointer it was taken through.
    pub id: u32,
}

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
        if self.cur.active_lock.is_none() {
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
        if self.cur.active_lock.is_some() && self.funcs.is_global(subprog) {
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
        if self.cur.active_lock.is_some() {
            return Err(self.lock_reject(format!(
                "{prefix} cannot be used inside bpf_spin_lock-ed region"
            )));
        }
        Ok(())
    }

    /// `reg_may_point_to_spin_lock`: a map value whose value has a lock
    /// keeps its id after the null check (the id names the element).
    pub(crate) fn may_point_to_spin_lock(&self, reg: &RegState) -> bool {
        reg.ty == RegType::MapValue
            && self.maps.get(reg.map as usize).is_some_and(|m| {
                m.record.has(FieldKind::SpinLock) || m.record.has(FieldKind::ResSpinLock)
            })
    }

    /// `process_spin_lock` for argument `r` of `bpf_spin_lock`
    /// (`is_lock`) or `bpf_spin_unlock`; the caller checked that `r` is a
    /// map value pointer.
    pub(crate) fn process_spin_lock(&mut self, r: usize, is_lock: bool) -> VResult {
        let reg = *self.cur.reg(r);
        if !reg.val.var_off.is_const() {
            return Err(self.lock_reject(format!(
                "R{r} doesn't have constant offset. bpf_spin_lock has to be at the constant offset"
            )));
        }
        let Some(map) = self.maps.get(reg.map as usize) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("R{r} points into map {} that is not known", reg.map),
            ));
        };
        if !map.record.has_btf {
            return Err(self.lock_reject(format!(
                "map '{}' has to have BTF in order to use bpf_spin_lock",
                map.name
            )));
        }
        let Some(field) = map.record.first(FieldKind::SpinLock) else {
            return Err(self.lock_reject(format!("map '{}' has no valid bpf_spin_lock", map.name)));
        };
        let off = reg.val.var_off.value as i64 + i64::from(reg.off);
        if off != i64::from(field.offset) {
            return Err(self.lock_reject(format!(
                "off {off} doesn't point to 'struct bpf_spin_lock' that is at {}",
                field.offset
            )));
        }
        let this = HeldLock {
            map: reg.map,
            id: reg.id,
        };
        if is_lock {
            if self.cur.active_lock.is_some() {
                return Err(self.lock_reject("Locking two bpf_spin_locks are not allowed".into()));
            }
            self.cur.active_lock = Some(this);
        } else {
            match self.cur.active_lock {
                None => {
                    return Err(self.lock_reject("bpf_spin_unlock without taking a lock".into()));
                }
                Some(held) if held != this => {
                    return Err(self.lock_reject("bpf_spin_unlock of different lock".into()));
                }
                Some(_) => self.cur.active_lock = None,
            }
        }
        Ok(())
    }
}
