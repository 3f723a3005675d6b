//! RCU read sections: `bpf_rcu_read_lock()` and `bpf_rcu_read_unlock()`,
//! as Linux 6.18 tracks them (`active_rcu_lock` of the verifier state).
//!
//! - A lock inside a section is refused (`nested rcu read lock`), an
//!   unlock outside one too (`unmatched rcu read unlock`).
//! - A `KF_RCU_PROTECTED` kfunc (the task and css iterators) needs a
//!   section in a sleepable program (`requires RCU critical section
//!   protection`).
//! - Inside a section, sleepable kfuncs and helpers that might sleep are
//!   refused; `MEM_RCU` pointers are valid only there: the unlock makes
//!   every `MEM_RCU` pointer untrusted (and drops its `_or_null`).
//! - The main program may not exit inside a section (`BPF_EXIT
//!   instruction in main prog cannot be used inside bpf_rcu_read_lock-ed
//!   region`).
//! - Loads through trusted or RCU pointers give RCU pointers when in a
//!   section (or in any non-sleepable program, which always runs under
//!   RCU): `in_rcu_cs`.
//!
//! Preemption-disabled sections (`bpf_preempt_disable()` and
//! `bpf_preempt_enable()`, counted in `active_preempt_locks`) follow the
//! same rules, with their own messages: an enable without a disable is
//! refused, sleepable kfuncs and helpers that might sleep are refused
//! inside, and neither an exit from the main program nor `bpf_throw` may
//! leave one open.

use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::kfunc_table::KF_SLEEPABLE;
use crate::state::btf_flag;

const EINVAL: i32 = 22;
const EACCES: i32 = 13;

impl Env<'_> {
    /// `in_rcu_cs`: in an RCU read section, or not sleepable (always under
    /// RCU).
    pub(crate) fn in_rcu_section(&self) -> bool {
        self.cur.active_rcu_lock || !self.cur.active_locks.is_empty() || !self.opts.sleepable
    }

    /// The RCU and preemption part of `check_kfunc_call`, after the
    /// arguments.
    pub(crate) fn rcu_kfunc(&mut self, name: &str, flags: u32) -> VResult {
        self.preempt_kfunc(name, flags)?;
        let lock = name == "bpf_rcu_read_lock";
        let unlock = name == "bpf_rcu_read_unlock";
        let kind = RejectionKind::RcuSection { pc: self.pc };
        if self.cur.active_rcu_lock {
            if lock {
                return Err(self.reject_errno(
                    EINVAL,
                    kind,
                    format!("nested rcu read lock (kernel function {name})"),
                ));
            }
            if unlock {
                // Nodes seen in the section are gone (obj_new.rs).
                self.invalidate_non_owning_refs();
                // Pointers valid only in the section lose their RCU
                // protection (stack iterators keep theirs).
                let unprotect = |r: &mut crate::state::RegState| {
                    if r.btf_flags & btf_flag::RCU != 0 {
                        r.btf_flags &= !btf_flag::RCU;
                        r.btf_flags |= btf_flag::UNTRUSTED;
                        r.maybe_null = false;
                    }
                };
                self.cur.for_each_reg(unprotect);
                // Iterators of RCU-protected objects too (their slots are
                // STACK_ITER, not spills).
                for fr in &mut self.cur.frames {
                    for s in &mut fr.stack {
                        if s.ty[0] == crate::state::SlotType::Iter {
                            unprotect(&mut s.spilled);
                        }
                    }
                }
                self.cur.active_rcu_lock = false;
            } else if flags & KF_SLEEPABLE != 0 {
                return Err(self.reject_errno(
                    EACCES,
                    kind,
                    format!("kernel func {name} is sleepable within rcu_read_lock region"),
                ));
            }
        } else if lock {
            self.cur.active_rcu_lock = true;
        } else if unlock {
            return Err(self.reject_errno(
                EINVAL,
                kind,
                format!("unmatched rcu read unlock (kernel function {name})"),
            ));
        }
        Ok(())
    }

    /// The preemption part of `check_kfunc_call`.
    fn preempt_kfunc(&mut self, name: &str, flags: u32) -> VResult {
        let kind = RejectionKind::RcuSection { pc: self.pc };
        if self.cur.active_rcu_lock && flags & KF_SLEEPABLE != 0 {
            // rcu_kfunc reports it.
            return Ok(());
        }
        if self.cur.active_preempt_locks > 0 && flags & KF_SLEEPABLE != 0 {
            return Err(self.reject_errno(
                EACCES,
                kind,
                format!("kernel func {name} is sleepable within non-preemptible region"),
            ));
        }
        if self.in_irq_section() && flags & KF_SLEEPABLE != 0 && self.cur.active_preempt_locks == 0
        {
            return Err(self.reject_errno(
                EACCES,
                kind,
                format!("kernel func {name} is sleepable within IRQ-disabled region"),
            ));
        }
        match name {
            "bpf_preempt_disable" => self.cur.active_preempt_locks += 1,
            "bpf_preempt_enable" => {
                if self.cur.active_preempt_locks == 0 {
                    return Err(self.reject_errno(
                        EINVAL,
                        kind,
                        format!("unmatched attempt to enable preemption (kernel function {name})"),
                    ));
                }
                self.cur.active_preempt_locks -= 1;
            }
            _ => {}
        }
        Ok(())
    }

    /// A helper that might sleep, called inside an RCU read section or a
    /// preemption-disabled one.
    pub(crate) fn rcu_helper(&self, name: &str, id: i32, might_sleep: bool) -> VResult {
        if self.cur.active_preempt_locks > 0 && might_sleep && !self.cur.active_rcu_lock {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::RcuSection { pc: self.pc },
                format!("sleepable helper {name}#{id} in non-preemptible region"),
            ));
        }
        if self.cur.active_rcu_lock && might_sleep {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::RcuSection { pc: self.pc },
                format!("sleepable helper {name}#{id} in rcu_read_lock region"),
            ));
        }
        if self.in_irq_section() && might_sleep {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::RcuSection { pc: self.pc },
                format!("sleepable helper {name}#{id} in IRQ-disabled region"),
            ));
        }
        Ok(())
    }

    /// The main program's exit inside an RCU read section or a
    /// preemption-disabled one (`check_resource_leak`).
    pub(crate) fn rcu_exit(&self) -> VResult {
        self.section_exit("BPF_EXIT instruction in main prog")
    }

    /// The sections `check_resource_leak` checks after the references, at
    /// an exit named `prefix` (`BPF_EXIT instruction in main prog`,
    /// `bpf_throw`).
    pub(crate) fn section_exit(&self, prefix: &str) -> VResult {
        let region = if self.in_irq_section() {
            "bpf_local_irq_save"
        } else if self.cur.active_rcu_lock {
            "bpf_rcu_read_lock"
        } else if self.cur.active_preempt_locks > 0 {
            "bpf_preempt_disable"
        } else {
            return Ok(());
        };
        Err(self.reject_errno(
            EINVAL,
            RejectionKind::RcuSection { pc: self.pc },
            format!("{prefix} cannot be used inside {region}-ed region"),
        ))
    }
}
