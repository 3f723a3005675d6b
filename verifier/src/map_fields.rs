//! Accesses to the special fields of map values (`crate::btf_record`), as
//! Linux 6.18 checks them:
//!
//! - `check_map_access`: a load, store or helper buffer that overlaps a
//!   field is refused (`bpf_spin_lock cannot be accessed directly by
//!   load/store`), except the whole 8 bytes of a kptr by `BPF_MEM`
//!   instructions;
//! - `check_map_kptr_access`: a kptr load gives a `PTR_TO_BTF_ID` of the
//!   kptr's type, `_or_null`, untrusted (`__kptr_untrusted`, or outside an
//!   RCU section) or RCU-protected (`__kptr` of an RCU-protected type);
//!   a referenced kptr is written only through `bpf_kptr_xchg`;
//! - `ARG_PTR_TO_TIMER` (`process_timer_func`) and `ARG_KPTR_XCHG_DEST`
//!   (`process_kptr_func`): the argument points at the field.

use crate::btf_record::{FieldKind, SpecialField};
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::state::{btf_flag, RegState, RegType};
use crate::vmlinux::vmlinux;

const EINVAL: i32 = 22;
const EACCES: i32 = 13;

/// The kernel structs whose `__kptr`s are RCU-protected
/// (`rcu_protected_types`).
fn rcu_protected(name: &str) -> bool {
    matches!(
        name,
        "prog_test_ref_kfunc" | "cgroup" | "bpf_cpumask" | "task_struct" | "bpf_crypto_ctx"
    )
}

/// `BPF_LDX`, `BPF_ST`, `BPF_STX` (instruction classes).
const BPF_LDX: u8 = 1;
const BPF_ST: u8 = 2;
const BPF_STX: u8 = 3;
/// `BPF_MEM` (instruction mode).
const BPF_MEM: u8 = 0x60;

impl Env<'_> {
    fn field_reject(&self, errno: i32, what: &'static str, msg: String) -> crate::Rejection {
        self.reject_errno(errno, RejectionKind::Unsupported { pc: self.pc, what }, msg)
    }

    /// `check_map_access`'s special-field part for `size` bytes at `off`
    /// (the register's fixed offset included) of map value `r`; `direct`:
    /// a load or store (else a helper's buffer). Gives the kptr field the
    /// access is of, if any.
    pub(crate) fn check_map_fields(
        &self,
        r: usize,
        off: i64,
        size: i64,
        direct: bool,
    ) -> VResult<Option<SpecialField>> {
        let reg = *self.cur.reg(r);
        let Some(map) = self.maps.get(reg.map as usize) else {
            return Ok(None);
        };
        if map.record.fields.is_empty() {
            return Ok(None);
        }
        let lo = reg.val.smin.saturating_add(off);
        let hi = (reg.val.umax as i64)
            .saturating_add(off)
            .saturating_add(size);
        let mut kptr = None;
        for f in &map.record.fields {
            let (p, end) = (i64::from(f.offset), i64::from(f.offset) + i64::from(f.size));
            if !(lo < end && p < hi) {
                continue;
            }
            let name = f.kind.name();
            if !f.kind.is_kptr() {
                return Err(self.field_reject(
                    EACCES,
                    "special fields of map values",
                    format!("{name} cannot be accessed directly by load/store"),
                ));
            }
            if !direct {
                return Err(self.field_reject(
                    EACCES,
                    "special fields of map values",
                    format!("{name} cannot be accessed indirectly by helper"),
                ));
            }
            if !reg.val.var_off.is_const() {
                return Err(self.field_reject(
                    EACCES,
                    "special fields of map values",
                    format!("{name} access cannot have variable offset"),
                ));
            }
            let at = off + reg.val.var_off.value as i64;
            if p != at {
                return Err(self.field_reject(
                    EACCES,
                    "special fields of map values",
                    format!("{name} access misaligned expected={p} off={at}"),
                ));
            }
            if size != 8 {
                return Err(self.field_reject(
                    EACCES,
                    "special fields of map values",
                    format!("{name} access size must be BPF_DW"),
                ));
            }
            kptr = Some(f.clone());
        }
        Ok(kptr)
    }

    /// `check_map_kptr_access`: the load or store of kptr `field`; `dst`
    /// is a load's destination, `src` a store's register.
    pub(crate) fn map_kptr_access(
        &mut self,
        field: &SpecialField,
        dst: Option<usize>,
        src: Option<usize>,
        imm: Option<i32>,
    ) -> VResult {
        let code = self.insns.get(self.pc).map_or(0, |i| i.code);
        let (class, mode) = (code & 0x07, code & 0xe0);
        if mode != BPF_MEM {
            return Err(self.field_reject(
                EACCES,
                "kptr fields of map values",
                "kptr in map can only be accessed using BPF_MEM instruction mode".into(),
            ));
        }
        if class != BPF_LDX && field.kind == FieldKind::KptrRef {
            return Err(self.field_reject(
                EACCES,
                "kptr fields of map values",
                "store to referenced kptr disallowed".into(),
            ));
        }
        if class != BPF_LDX && field.kind == FieldKind::Uptr {
            return Err(self.field_reject(
                EACCES,
                "kptr fields of map values",
                "store to uptr disallowed".into(),
            ));
        }
        match class {
            BPF_LDX => {
                let Some(d) = dst else { return Ok(()) };
                let mut loaded = self.kptr_load_reg(field)?;
                // A maybe-null pointer gets the id its null check reaches.
                loaded.id = self.new_id();
                *self.cur.reg_mut(d) = loaded;
                Ok(())
            }
            BPF_STX => {
                let Some(s) = src else { return Ok(()) };
                let v = *self.cur.reg(s);
                if v.is_null() {
                    return Ok(());
                }
                self.kptr_store_check(field, s, &v)
            }
            BPF_ST => {
                if imm.is_some_and(|i| i != 0) {
                    return Err(self.field_reject(
                        EACCES,
                        "kptr fields of map values",
                        format!(
                            "BPF_ST imm must be 0 when storing to kptr at off={}",
                            field.offset
                        ),
                    ));
                }
                Ok(())
            }
            _ => Err(self.field_reject(
                EACCES,
                "kptr fields of map values",
                "kptr in map can only be accessed using BPF_LDX/BPF_STX/BPF_ST".into(),
            )),
        }
    }

    /// The register a load of kptr `field` gives (`mark_btf_ld_reg` with
    /// `btf_ld_kptr_type`).
    fn kptr_load_reg(&self, field: &SpecialField) -> VResult<RegState> {
        if field.kind == FieldKind::Uptr {
            // mark_uptr_ld_reg: user memory of the struct's size.
            return Ok(RegState {
                maybe_null: true,
                mem_size: field.target_size,
                ..RegState::pointer(RegType::Mem)
            });
        }
        if let Some(r) = self.local_kptr_load(field) {
            // A kptr to an allocated object (obj_new.rs).
            return r;
        }
        let btf_id = self.kptr_btf_id(field)?;
        let rcu_safe = field.kind == FieldKind::KptrPercpu
            || (field.kind == FieldKind::KptrRef && rcu_protected(&field.kptr_struct));
        let btf_flags = if rcu_safe && self.in_rcu_section() {
            if field.kind == FieldKind::KptrPercpu {
                btf_flag::RCU | btf_flag::PERCPU
            } else {
                btf_flag::RCU
            }
        } else {
            btf_flag::UNTRUSTED
        };
        Ok(RegState {
            maybe_null: true,
            btf_id,
            btf_flags,
            ..RegState::pointer(RegType::BtfId)
        })
    }

    /// The kernel's BTF id of the struct kptr `field` points to; a struct
    /// only the program's BTF has (an allocated object) is refused.
    pub(crate) fn kptr_btf_id(&self, field: &SpecialField) -> VResult<u32> {
        if field.kind == FieldKind::Uptr {
            return Err(self.field_reject(
                EINVAL,
                "uptr fields of map values",
                format!(
                    "insn {}: the uptr at off={} points to user memory, which ironbpf's verifier does not model",
                    self.pc, field.offset
                ),
            ));
        }
        let id = vmlinux().ok().and_then(|v| v.struct_id(&field.kptr_struct));
        id.ok_or_else(|| {
            self.field_reject(
                EINVAL,
                "kptrs to allocated objects",
                format!(
                    "insn {}: the kptr at off={} points to struct {}, a type of the program's BTF (an allocated object), which ironbpf's verifier does not model",
                    self.pc, field.offset, field.kptr_struct
                ),
            )
        })
    }

    /// `map_kptr_match_type`: a pointer stored into an unreferenced kptr
    /// is a BTF pointer to its struct at offset 0.
    fn kptr_store_check(&self, field: &SpecialField, s: usize, v: &RegState) -> VResult {
        let want = self.kptr_btf_id(field)?;
        let perm = btf_flag::TRUSTED | btf_flag::RCU | btf_flag::UNTRUSTED;
        let ok = v.ty == RegType::BtfId
            && v.btf_flags & !perm == 0
            && v.off == 0
            && v.val.var_off.is_const()
            && v.val.var_off.value == 0
            && v.btf_id == want;
        if ok {
            return Ok(());
        }
        let reg_name = if v.ty == RegType::BtfId {
            crate::vmlinux::type_name(v.btf_id)
        } else {
            String::new()
        };
        let targ = &field.kptr_struct;
        let mut msg = format!(
            "invalid kptr access, R{s} type={}{reg_name} expected=ptr_{targ}",
            v.type_str()
        );
        if field.kind == FieldKind::KptrUnref {
            msg.push_str(&format!(" or untrusted_ptr_{targ}"));
        }
        Err(self.field_reject(EACCES, "kptr fields of map values", msg))
    }

    /// `check_map_field_pointer`: argument `r` (a map value pointer)
    /// points at the value's field of `kind` (`bpf_timer`, `bpf_wq`).
    pub(crate) fn check_map_field_pointer(&self, r: usize, kind: FieldKind) -> VResult {
        let reg = *self.cur.reg(r);
        let name = kind.name();
        if !reg.val.var_off.is_const() {
            return Err(self.field_reject(
                EINVAL,
                "special fields of map values",
                format!(
                    "R{r} doesn't have constant offset. {name} has to be at the constant offset"
                ),
            ));
        }
        let Some(map) = self.maps.get(reg.map as usize) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("R{r} points into map {} that is not known", reg.map),
            ));
        };
        if !map.record.has_btf {
            return Err(self.field_reject(
                EINVAL,
                "special fields of map values",
                format!("map '{}' has to have BTF in order to use {name}", map.name),
            ));
        }
        let Some(f) = map.record.first(kind) else {
            return Err(self.field_reject(
                EINVAL,
                "special fields of map values",
                format!("map '{}' has no valid {name}", map.name),
            ));
        };
        let at = reg.val.var_off.value as i64 + i64::from(reg.off);
        if at != i64::from(f.offset) {
            return Err(self.field_reject(
                EINVAL,
                "special fields of map values",
                format!(
                    "off {at} doesn't point to 'struct {name}' that is at {}",
                    f.offset
                ),
            ));
        }
        Ok(())
    }

    /// `ARG_CONST_MAP_PTR` after a timer argument: the map must be the
    /// timer's (`meta->map_ptr`).
    pub(crate) fn timer_map_match(&self, timer_map: Option<u32>, r: usize) -> VResult {
        let reg = *self.cur.reg(r);
        match timer_map {
            Some(m) if m != reg.map => {
                let uid = |m: u32| {
                    if (m as usize) < self.opts.maps.len() {
                        0
                    } else {
                        m
                    }
                };
                Err(self.field_reject(
                    EINVAL,
                    "special fields of map values",
                    format!(
                        "timer pointer in R1 map_uid={} doesn't match map pointer in R{r} map_uid={}",
                        uid(m),
                        uid(reg.map)
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// `process_kptr_func`: argument `r` of `bpf_kptr_xchg` points at a
    /// referenced kptr of a map value; gives the field.
    pub(crate) fn process_kptr_func(&self, r: usize) -> VResult<SpecialField> {
        let reg = *self.cur.reg(r);
        let Some(map) = self.maps.get(reg.map as usize) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("R{r} points into map {} that is not known", reg.map),
            ));
        };
        if !map.record.has_btf {
            return Err(self.field_reject(
                EINVAL,
                "kptr fields of map values",
                format!(
                    "map '{}' has to have BTF in order to use bpf_kptr_xchg",
                    map.name
                ),
            ));
        }
        if !map.record.fields.iter().any(|f| f.kind.is_kptr()) {
            return Err(self.field_reject(
                EINVAL,
                "kptr fields of map values",
                format!("R{r} has no valid kptr"),
            ));
        }
        if !reg.val.var_off.is_const() {
            return Err(self.field_reject(
                EINVAL,
                "kptr fields of map values",
                format!("R{r} doesn't have constant offset. kptr has to be at the constant offset"),
            ));
        }
        let at = reg.val.var_off.value as i64 + i64::from(reg.off);
        // A uptr is not exchanged: only kptrs are looked for.
        let kptr = map.record.kptr_at(at).filter(|f| f.kind != FieldKind::Uptr);
        let Some(f) = kptr else {
            return Err(self.field_reject(
                EACCES,
                "kptr fields of map values",
                format!("off={at} doesn't point to kptr"),
            ));
        };
        if !matches!(f.kind, FieldKind::KptrRef | FieldKind::KptrPercpu) {
            return Err(self.field_reject(
                EACCES,
                "kptr fields of map values",
                format!("off={at} kptr isn't referenced kptr"),
            ));
        }
        Ok(f.clone())
    }

    /// What `bpf_kptr_xchg` returns: the kptr's old value, a referenced
    /// `PTR_TO_BTF_ID` of its struct, `_or_null` (the caller acquires the
    /// reference).
    pub(crate) fn kptr_xchg_ret(&self, field: &SpecialField) -> VResult<RegState> {
        if let Some(r0) = self.local_kptr_xchg_ret(field) {
            // An allocated object (obj_new.rs).
            return Ok(r0);
        }
        let btf_id = self.kptr_btf_id(field)?;
        let btf_flags = if field.kind == FieldKind::KptrPercpu {
            btf_flag::PERCPU
        } else {
            0
        };
        Ok(RegState {
            maybe_null: true,
            btf_id,
            btf_flags,
            ..RegState::pointer(RegType::BtfId)
        })
    }
}

/// `is_tracing_prog_type`.
fn is_tracing_prog_type(name: &str) -> bool {
    matches!(
        name,
        "kprobe" | "tracepoint" | "perf_event" | "raw_tracepoint" | "raw_tracepoint_writable"
    )
}

/// The special-field part of `check_map_prog_compatibility`, for every map
/// an `ld_imm64` of the program refers to (`resolve_pseudo_ldimm64`, before
/// any instruction is explored): the program types that may not use a
/// value's lock, timer or graph root.
pub(crate) fn check_map_prog_compat(
    insns: &[ironbpf_isa::RawInsn],
    opts: &crate::VerifyOptions,
) -> Result<(), crate::Rejection> {
    let prog = opts.prog_type.name();
    let tracing = is_tracing_prog_type(prog);
    let mut pc = 0;
    while let Some(i) = insns.get(pc) {
        if i.code != 0x18 {
            pc += 1;
            continue;
        }
        // BPF_PSEUDO_MAP_IDX and BPF_PSEUDO_MAP_IDX_VALUE (the maps by index).
        let map = matches!(i.src, 5 | 6)
            .then(|| opts.maps.get(i.imm as usize))
            .flatten();
        pc += 2;
        let Some(m) = map else { continue };
        let rec = &m.record;
        let msg = if tracing && (rec.has(FieldKind::ListHead) || rec.has(FieldKind::RbRoot)) {
            "tracing progs cannot use bpf_{list_head,rb_root} yet"
        } else if rec.has(FieldKind::SpinLock) || rec.has(FieldKind::ResSpinLock) {
            if prog == "socket_filter" {
                "socket filter progs cannot use bpf_spin_lock yet"
            } else if tracing {
                "tracing progs cannot use bpf_spin_lock yet"
            } else {
                continue;
            }
        } else if tracing && rec.has(FieldKind::Timer) {
            "tracing progs cannot use bpf_timer yet"
        } else if tracing && rec.has(FieldKind::Workqueue) {
            "tracing progs cannot use bpf_wq yet"
        } else {
            continue;
        };
        return Err(crate::Rejection {
            insn: None,
            message: msg.into(),
            errno: EINVAL,
            kind: RejectionKind::MapIncompatible {
                map_type: m.map_type,
            },
            path: Vec::new(),
        });
    }
    Ok(())
}
