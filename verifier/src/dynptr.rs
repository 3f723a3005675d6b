//! Dynptrs (`struct bpf_dynptr`), as Linux 6.18's verifier checks them.
//!
//! A dynptr lives in two stack slots (`BPF_DYNPTR_NR_SLOTS`), both marked
//! `STACK_DYNPTR`; the first (the higher address's slot index, `spi`) and
//! the second (`spi - 1`) each keep the dynptr's type, its id and, for a
//! ring buffer record, the reference it holds. The log prints it once, at
//! the first slot: `fp-16=dynptr_ringbuf(id=1,ref_id=2,dynptr_id=1)` (the
//! kernel's `dynptr_id=` shows the first-slot flag it shares a union with).
//!
//! - Made by an argument `ARG_PTR_TO_DYNPTR | MEM_UNINIT` (helpers
//!   `bpf_dynptr_from_mem`, `bpf_ringbuf_reserve_dynptr`; kfuncs'
//!   `__uninit` arguments: `bpf_dynptr_from_skb`/`_xdp`/`_skb_meta`,
//!   `bpf_dynptr_clone`): the 16 bytes are written as two 8-byte stores
//!   (so a referenced dynptr there is refused: `cannot overwrite referenced
//!   dynptr`), then marked. A ring buffer dynptr acquires a reference; a
//!   clone shares its parent's.
//! - Used by any other dynptr argument: the slots must hold a whole dynptr
//!   (`Expected an initialized dynptr as arg #N`) of the argument's type
//!   (`Expected a dynptr of type ringbuf as arg #N`).
//! - Released by `bpf_ringbuf_submit_dynptr`/`_discard_dynptr`: the
//!   reference goes, with every slice of it and every clone. One never
//!   released is a leak at exit (`Unreleased reference id=N
//!   alloc_insn=M`).
//! - A store over a slot destroys the dynptr (and the slices taken from
//!   it), unless it holds a reference: then the store is refused. Reads of
//!   its bytes are refused as reads of uninitialised stack, and helpers
//!   may not write into them (`potential write to dynptr at off=-16
//!   disallowed`).
//! - Slices: `bpf_dynptr_data` gives `PTR_TO_MEM` of its constant length
//!   or NULL (sharing a ring buffer dynptr's reference),
//!   `bpf_dynptr_slice`/`_rdwr` `PTR_TO_MEM` of the `__szk` size, typed by
//!   the dynptr (`DYNPTR_TYPE_SKB`, `_XDP`), or NULL; slices of packet
//!   dynptrs die where packet pointers do (helpers and kfuncs that change
//!   packet data, `bpf_dynptr_write` to an skb dynptr). A slice given a
//!   stack buffer may be that buffer (`buf=fp[0]-20+4`): a store into it
//!   (an instruction's or a helper's) or the return of its frame ends the
//!   slice.

use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::mem::{Access, Value};
use crate::state::{byte_pos, RegState, RegType, SlotType, StackSlot, BPF_REG_SIZE};
use ironbpf_progtype::desc::AccessKind;
use std::fmt::Write;

const EINVAL: i32 = 22;
const EACCES: i32 = 13;
const EFAULT: i32 = 14;

/// `BPF_DYNPTR_NR_SLOTS`.
const NR_SLOTS: usize = 2;
/// `BPF_DYNPTR_SIZE`.
const DYNPTR_SIZE: i64 = 16;

/// `enum bpf_dynptr_type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DynptrType {
    /// `BPF_DYNPTR_TYPE_INVALID`: not a dynptr (or not a slice).
    #[default]
    Invalid,
    /// `BPF_DYNPTR_TYPE_LOCAL`: the program's memory (a map value).
    Local,
    /// `BPF_DYNPTR_TYPE_RINGBUF`: a ring buffer record, a reference.
    Ringbuf,
    /// `BPF_DYNPTR_TYPE_SKB`: an skb's packet.
    Skb,
    /// `BPF_DYNPTR_TYPE_XDP`: an XDP buffer.
    Xdp,
    /// `BPF_DYNPTR_TYPE_SKB_META`: an skb's metadata area.
    SkbMeta,
}

impl DynptrType {
    /// `dynptr_type_str`.
    pub fn name(self) -> &'static str {
        match self {
            DynptrType::Invalid => "<invalid>",
            DynptrType::Local => "local",
            DynptrType::Ringbuf => "ringbuf",
            DynptrType::Skb => "skb",
            DynptrType::Xdp => "xdp",
            DynptrType::SkbMeta => "skb_meta",
        }
    }

    /// `dynptr_type_refcounted`: the dynptr holds a reference.
    pub fn refcounted(self) -> bool {
        self == DynptrType::Ringbuf
    }

    /// A slice of it points into a packet (`reg_is_dynptr_slice_pkt`).
    pub fn is_pkt(self) -> bool {
        matches!(
            self,
            DynptrType::Skb | DynptrType::Xdp | DynptrType::SkbMeta
        )
    }
}

/// What a register or stack slot knows of a dynptr (`reg->dynptr`,
/// `reg->dynptr_id` and the slice's stack buffer `reg->buf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DynptrInfo {
    /// A dynptr slot's or `CONST_PTR_TO_DYNPTR`'s type; a slice's
    /// `DYNPTR_TYPE_*` flag.
    pub ty: DynptrType,
    /// The slot is the dynptr's first (`first_slot`).
    pub first_slot: bool,
    /// A slice's dynptr (`dynptr_id`): the id of the dynptr's slots.
    pub dynptr_id: u32,
    /// A `bpf_dynptr_slice` result's stack buffer: its frame, offset and
    /// size (`reg->buf`), when the buffer is on the stack.
    pub buf: Option<(u16, i16, u32)>,
}

impl DynptrInfo {
    /// No dynptr.
    pub const NONE: DynptrInfo = DynptrInfo {
        ty: DynptrType::Invalid,
        first_slot: false,
        dynptr_id: 0,
        buf: None,
    };

    /// The `buf=fp[0]-20+4` attribute of a slice with a stack buffer.
    pub fn buf_str(&self) -> Option<String> {
        self.buf
            .map(|(f, off, size)| format!("buf=fp[{f}]{off}+{size}"))
    }
}

/// The log's print of a dynptr at its first slot `spi` (`print_verifier_state`).
pub(crate) fn write_dynptr_slot(out: &mut String, spi: usize, s: Option<&StackSlot>) {
    let Some(s) = s else { return };
    let r = &s.spilled;
    let _ = write!(
        out,
        " fp{}=dynptr_{}(",
        -(spi as i64 + 1) * BPF_REG_SIZE as i64,
        r.dynptr.ty.name()
    );
    let mut attrs = Vec::new();
    if r.id != 0 {
        attrs.push(format!("id={}", r.id));
    }
    if r.ref_obj_id != 0 {
        attrs.push(format!("ref_id={}", r.ref_obj_id));
    }
    if r.dynptr.first_slot {
        // The kernel prints `dynptr_id`, which shares its bytes with
        // `first_slot`.
        attrs.push("dynptr_id=1".into());
    }
    out.push_str(&attrs.join(","));
    out.push(')');
}

/// `stacksafe` for the slots of a dynptr: the same type and the same slot
/// of it (the caller checks that the references correspond).
pub(crate) fn dynptr_slot_safe(old: &RegState, cur: &RegState) -> bool {
    old.dynptr.ty == cur.dynptr.ty && old.dynptr.first_slot == cur.dynptr.first_slot
}

/// How an argument takes a dynptr (`ARG_PTR_TO_DYNPTR` and its flags).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DynptrArg {
    /// `MEM_UNINIT`: the argument makes a dynptr.
    pub uninit: bool,
    /// `MEM_RDONLY`: the dynptr is not changed.
    pub rdonly: bool,
    /// `DYNPTR_TYPE_*`: the type it makes or needs (`Invalid`: any).
    pub ty: DynptrType,
    /// `OBJ_RELEASE`: the helper releases it.
    pub release: bool,
}

/// What a helper's dynptr argument tells the rest of the call.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HelperDynptr {
    /// The register of a dynptr to release (`meta.release_regno`).
    pub release_regno: Option<usize>,
    /// The register of the (one) dynptr argument.
    pub regno: Option<usize>,
    /// Its dynptr id and reference, taken before the call clobbers it.
    pub id: u32,
    pub ref_obj_id: u32,
}

/// What a kfunc's initialised dynptr argument tells the rest of the call
/// (`meta->initialized_dynptr`), and a slice's stack buffer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KfuncDynptr {
    pub id: u32,
    pub ty: DynptrType,
    pub ref_obj_id: u32,
    pub buf: Option<(u16, i16, u32)>,
}

/// The dynptr type a helper's argument flags name.
fn helper_arg_type(flags: u32) -> DynptrType {
    use ironbpf_helpers::proto::flags as f;
    if flags & f::DYNPTR_RINGBUF != 0 {
        DynptrType::Ringbuf
    } else if flags & f::DYNPTR_LOCAL != 0 {
        DynptrType::Local
    } else {
        DynptrType::Invalid
    }
}

impl Env<'_> {
    fn dynptr_reject(&self, errno: i32, reg: usize, msg: String) -> crate::Rejection {
        self.reject_errno(errno, RejectionKind::Dynptr { reg: reg as u8 }, msg)
    }

    /// The frame a stack pointer in `regno` points into.
    fn dynptr_frame(&self, regno: usize) -> usize {
        (self.cur.reg(regno).frameno as usize).min(self.cur.frames.len().saturating_sub(1))
    }

    /// `dynptr_get_spi` (`stack_slot_obj_get_spi`): the first slot of the
    /// dynptr `regno` points to; `Ok(None)` when its slots lie beyond the
    /// frame's allocated stack (`-ERANGE`); `Err(message)` for an offset
    /// that cannot hold one.
    fn dynptr_spi(&self, regno: usize) -> Result<Option<(usize, usize)>, String> {
        let reg = *self.cur.reg(regno);
        if !reg.val.var_off.is_const() {
            return Err("dynptr has to be at a constant offset".into());
        }
        let off = reg.off as i64 + reg.val.var_off.value as i64;
        if off % BPF_REG_SIZE as i64 != 0 || off >= 0 {
            return Err(format!("cannot pass in dynptr at an offset={off}"));
        }
        let (spi, _) = byte_pos(off);
        if spi + 1 < NR_SLOTS {
            return Err(format!("cannot pass in dynptr at an offset={off}"));
        }
        let fi = self.dynptr_frame(regno);
        let allocated = self.cur.frames.get(fi).map_or(0, |f| f.stack.len());
        Ok((spi < allocated).then_some((fi, spi)))
    }

    fn slot(&self, fi: usize, spi: usize) -> Option<&StackSlot> {
        self.cur.frames.get(fi).and_then(|f| f.stack.get(spi))
    }

    fn slot_mut(&mut self, fi: usize, spi: usize) -> Option<&mut StackSlot> {
        self.cur
            .frames
            .get_mut(fi)
            .and_then(|f| f.stack.get_mut(spi))
    }

    /// The stack-slot bits of a dynptr at first slot `spi`.
    fn dynptr_bits(spi: usize) -> u64 {
        [spi, spi.wrapping_sub(1)]
            .iter()
            .filter(|&&s| s < 64)
            .fold(0, |m, &s| m | 1u64 << s)
    }

    /// `mark_reg_invalid`: a register whose object went away.
    fn invalid_reg(&self) -> RegState {
        if self.opts.privileged {
            RegState::unknown()
        } else {
            RegState::not_init()
        }
    }

    /// `destroy_if_dynptr_stack_slot`: a write into slot `spi` of frame
    /// `fi` ends the dynptr there (both its slots, and its slices), unless
    /// the dynptr holds a reference.
    pub(crate) fn destroy_if_dynptr_slot(&mut self, fi: usize, spi: usize) -> VResult {
        let Some(s) = self.slot(fi, spi) else {
            return Ok(());
        };
        if s.ty[0] != SlotType::Dynptr {
            return Ok(());
        }
        let spi = if s.spilled.dynptr.first_slot {
            spi
        } else {
            spi + 1
        };
        let Some(first) = self.slot(fi, spi).map(|s| s.spilled) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("the dynptr at slot {spi} of frame {fi} has no first slot"),
            ));
        };
        if first.dynptr.ty.refcounted() {
            return Err(self.dynptr_reject(EINVAL, 0, "cannot overwrite referenced dynptr".into()));
        }
        self.scratch.slot(spi);
        self.scratch.slot(spi.wrapping_sub(1));
        let id = first.id;
        let dead = self.invalid_reg();
        self.cur.for_each_reg(|r| {
            if r.ty == RegType::Mem && r.dynptr.dynptr_id == id {
                *r = dead;
            }
        });
        for k in [spi, spi.wrapping_sub(1)] {
            if let Some(s) = self.slot_mut(fi, k) {
                *s = StackSlot::invalid();
            }
        }
        Ok(())
    }

    /// Slices whose stack buffer (`reg->buf`) overlaps `[lo, hi)` of frame
    /// `fi` (all of it: `None`) may be that memory, which changed or went
    /// away: they are invalid.
    pub(crate) fn invalidate_buf_slices(&mut self, fi: usize, range: Option<(i64, i64)>) {
        let dead = self.invalid_reg();
        self.cur.for_each_reg(|r| {
            let Some((f, off, size)) = r.dynptr.buf.filter(|_| r.ty == RegType::Mem) else {
                return;
            };
            let (b_lo, b_hi) = (i64::from(off), i64::from(off) + i64::from(size));
            let hit = f as usize == fi && range.is_none_or(|(lo, hi)| lo < b_hi && b_lo < hi);
            if hit {
                *r = dead;
            }
        });
    }

    /// A frame returns: slices into its stack are gone with it.
    pub(crate) fn dynptr_frame_exit(&mut self, fi: usize) {
        self.invalidate_buf_slices(fi, None);
    }

    /// The writes of a store into `[lo, hi)` of frame `fi`'s stack end
    /// the slices that may be that memory, and destroy the dynptrs there
    /// first (`check_stack_write_fixed_off`, `check_stack_write_var_off`).
    pub(crate) fn dynptr_store(&mut self, fi: usize, lo: i64, hi: i64) -> VResult {
        self.invalidate_buf_slices(fi, Some((lo, hi)));
        let mut last = usize::MAX;
        for a in lo..hi {
            if a >= 0 {
                break;
            }
            let (spi, _) = byte_pos(a);
            if spi != last {
                self.destroy_if_dynptr_slot(fi, spi)?;
                last = spi;
            }
        }
        Ok(())
    }

    /// A helper's raw-mode (`MEM_UNINIT`) buffer on the stack may not
    /// overlap a dynptr (`check_stack_range_initialized`).
    pub(crate) fn raw_write_over_dynptr(&self, fi: usize, min_off: i64, end: i64) -> VResult {
        let Some(f) = self.cur.frames.get(fi) else {
            return Ok(());
        };
        for a in min_off..end {
            if a >= 0 {
                break;
            }
            if f.byte_type(a) == SlotType::Dynptr {
                return Err(self.reject_errno(
                    EACCES,
                    RejectionKind::Dynptr { reg: 0 },
                    format!("potential write to dynptr at off={a} disallowed"),
                ));
            }
        }
        Ok(())
    }

    /// `is_dynptr_reg_valid_init` and its `first_slot` check: the slots of
    /// `(fi, spi)` hold a whole dynptr from its first slot.
    fn dynptr_valid_init(&self, fi: usize, spi: usize) -> bool {
        let (Some(a), Some(b)) = (
            self.slot(fi, spi),
            spi.checked_sub(1).and_then(|k| self.slot(fi, k)),
        ) else {
            return false;
        };
        a.spilled.dynptr.first_slot
            && a.ty.iter().all(|t| *t == SlotType::Dynptr)
            && b.ty.iter().all(|t| *t == SlotType::Dynptr)
    }

    /// `process_dynptr_func`: the dynptr argument in `regno`, made or used.
    pub(crate) fn process_dynptr_func(
        &mut self,
        regno: usize,
        arg: DynptrArg,
        clone_ref_obj_id: u32,
    ) -> VResult {
        let reg = *self.cur.reg(regno);
        let argno = regno - 1;
        if reg.ty != RegType::Stack && reg.ty != RegType::ConstPtrToDynptr {
            return Err(self.dynptr_reject(
                EINVAL,
                regno,
                format!("arg#{argno} expected pointer to stack or const struct bpf_dynptr"),
            ));
        }
        if arg.uninit {
            // is_dynptr_reg_valid_uninit: a const dynptr, or an offset
            // that cannot hold one, is not uninitialised stack.
            let spi = if reg.ty == RegType::ConstPtrToDynptr {
                Err(String::new())
            } else {
                self.dynptr_spi(regno)
            };
            if let Err(m) = spi {
                let mut msg = m;
                if !msg.is_empty() {
                    msg.push('\n');
                }
                msg.push_str("Dynptr has to be an uninitialized dynptr");
                return Err(self.dynptr_reject(EINVAL, regno, msg));
            }
            // The 16 bytes are written as two 8-byte stores.
            for i in (0..DYNPTR_SIZE).step_by(BPF_REG_SIZE) {
                self.check_mem_access(
                    regno,
                    i,
                    8,
                    Access::Write,
                    Value::None,
                    false,
                    AccessKind::StoreImm,
                )?;
            }
            return self.mark_stack_slots_dynptr(regno, arg.ty, clone_ref_obj_id);
        }
        if reg.ty == RegType::ConstPtrToDynptr && !arg.rdonly {
            return Err(self.dynptr_reject(
                EINVAL,
                regno,
                "cannot pass pointer to const bpf_dynptr, the helper mutates it".into(),
            ));
        }
        let invalid = format!("Expected an initialized dynptr as arg #{argno}");
        let (fi, spi, have) = if reg.ty == RegType::ConstPtrToDynptr {
            (0, 0, reg.dynptr.ty)
        } else {
            match self.dynptr_spi(regno) {
                Ok(Some((fi, spi))) if self.dynptr_valid_init(fi, spi) => {
                    let t = self
                        .slot(fi, spi)
                        .map_or(DynptrType::Invalid, |s| s.spilled.dynptr.ty);
                    (fi, spi, t)
                }
                Ok(_) => return Err(self.dynptr_reject(EINVAL, regno, invalid)),
                Err(m) => return Err(self.dynptr_reject(EINVAL, regno, format!("{m}\n{invalid}"))),
            }
        };
        if arg.ty != DynptrType::Invalid && have != arg.ty {
            return Err(self.dynptr_reject(
                EINVAL,
                regno,
                format!(
                    "Expected a dynptr of type {} as arg #{argno}",
                    arg.ty.name()
                ),
            ));
        }
        if reg.ty == RegType::Stack {
            // mark_dynptr_read
            let pc = self.pc;
            self.stack_live
                .mark_read(&self.cur, fi, pc, Self::dynptr_bits(spi));
            self.scratch.slot(spi);
            self.scratch.slot(spi - 1);
        }
        Ok(())
    }

    /// `mark_stack_slots_dynptr`: the two slots `regno` points to become a
    /// dynptr of type `ty`, with a new id (and a reference for a ring
    /// buffer record, or its parent's for a clone).
    fn mark_stack_slots_dynptr(&mut self, regno: usize, ty: DynptrType, clone_ref: u32) -> VResult {
        let Ok(Some((fi, spi))) = self.dynptr_spi(regno) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("R{regno}'s dynptr slots were not allocated by its stores"),
            ));
        };
        self.destroy_if_dynptr_slot(fi, spi)?;
        self.destroy_if_dynptr_slot(fi, spi - 1)?;
        if ty == DynptrType::Invalid {
            return Err(self.dynptr_reject(
                EINVAL,
                regno,
                "verifier internal error: no dynptr type for an uninitialized dynptr argument"
                    .into(),
            ));
        }
        let id = self.new_id();
        let ref_obj_id = if ty.refcounted() {
            if clone_ref != 0 {
                clone_ref
            } else {
                self.acquire_reference()
            }
        } else {
            0
        };
        for (k, first) in [(spi, true), (spi - 1, false)] {
            let st = RegState {
                id,
                ref_obj_id,
                dynptr: DynptrInfo {
                    ty,
                    first_slot: first,
                    ..DynptrInfo::NONE
                },
                ..RegState::pointer(RegType::ConstPtrToDynptr)
            };
            if let Some(s) = self.slot_mut(fi, k) {
                s.ty = [SlotType::Dynptr; BPF_REG_SIZE];
                s.spilled = st;
            }
            self.scratch.slot(k);
        }
        Ok(())
    }

    /// `invalidate_dynptr`: the slots of the dynptr at first slot `spi`
    /// are ordinary stack again.
    fn invalidate_dynptr(&mut self, fi: usize, spi: usize) {
        for k in [spi, spi.wrapping_sub(1)] {
            if let Some(s) = self.slot_mut(fi, k) {
                *s = StackSlot::invalid();
            }
            self.scratch.slot(k);
        }
        self.stack_live.mark_write(fi, Self::dynptr_bits(spi));
    }

    /// `unmark_stack_slots_dynptr`: a helper released the dynptr `regno`
    /// points to; a ring buffer record's reference goes, with its slices
    /// and its clones.
    fn unmark_stack_slots_dynptr(&mut self, regno: usize) -> VResult {
        let Ok(Some((fi, spi))) = self.dynptr_spi(regno) else {
            return Err(crate::Rejection::internal(
                Some(self.pc),
                format_args!("R{regno}'s dynptr to release is not on the stack"),
            ));
        };
        let Some(first) = self.slot(fi, spi).map(|s| s.spilled) else {
            return Ok(());
        };
        if !first.dynptr.ty.refcounted() {
            self.invalidate_dynptr(fi, spi);
            return Ok(());
        }
        let rid = first.ref_obj_id;
        self.release_reference(rid);
        let n = self.cur.frames.get(fi).map_or(0, |f| f.stack.len());
        for i in 1..n {
            let Some(s) = self.slot(fi, i) else { continue };
            if s.spilled.ref_obj_id != rid {
                continue;
            }
            if s.ty[0] != SlotType::Dynptr {
                return Err(self.dynptr_reject(
                    EFAULT,
                    regno,
                    "verifier internal error: misconfigured ref_obj_id".into(),
                ));
            }
            if s.spilled.dynptr.first_slot {
                self.invalidate_dynptr(fi, i);
            }
        }
        Ok(())
    }

    /// The dynptr id, type and reference of the dynptr `regno` points to
    /// (`dynptr_id`, `dynptr_get_type`, `dynptr_ref_obj_id`).
    pub(crate) fn dynptr_of(&self, regno: usize) -> (u32, DynptrType, u32) {
        let reg = self.cur.reg(regno);
        if reg.ty == RegType::ConstPtrToDynptr {
            return (reg.id, reg.dynptr.ty, reg.ref_obj_id);
        }
        match self.dynptr_spi(regno) {
            Ok(Some((fi, spi))) => self.slot(fi, spi).map_or((0, DynptrType::Invalid, 0), |s| {
                (s.spilled.id, s.spilled.dynptr.ty, s.spilled.ref_obj_id)
            }),
            _ => (0, DynptrType::Invalid, 0),
        }
    }

    /// `check_func_arg` for an `ARG_PTR_TO_DYNPTR` argument of a helper in
    /// register `r` (after its type and offset checks).
    pub(crate) fn dynptr_helper_arg(
        &mut self,
        r: usize,
        flags: u32,
        meta: &mut HelperDynptr,
    ) -> VResult {
        use ironbpf_helpers::proto::flags as f;
        let arg = DynptrArg {
            uninit: flags & f::UNINIT != 0,
            rdonly: flags & f::RDONLY != 0,
            ty: helper_arg_type(flags),
            release: flags & f::RELEASE != 0,
        };
        let reg = *self.cur.reg(r);
        if arg.release {
            // Only a dynptr on the stack can be released.
            if reg.ty == RegType::Stack {
                let held = match self.dynptr_spi(r) {
                    Ok(Some((fi, spi))) => self
                        .slot(fi, spi)
                        .is_some_and(|s| s.spilled.ref_obj_id != 0),
                    _ => false,
                };
                if !held {
                    return Err(self.dynptr_reject(
                        EINVAL,
                        r,
                        format!("arg {r} is an unacquired reference"),
                    ));
                }
            } else {
                return Err(self.dynptr_reject(
                    EINVAL,
                    r,
                    "cannot release unowned const bpf_dynptr".into(),
                ));
            }
            meta.release_regno = Some(r);
        }
        meta.regno = Some(r);
        self.process_dynptr_func(r, arg, 0)
    }

    /// What follows the arguments of a helper with a dynptr argument in
    /// `check_helper_call`: the release of a submitted or discarded ring
    /// buffer dynptr; `bpf_dynptr_from_mem` takes a map value only.
    /// Returns whether the call changes packet data (`bpf_dynptr_write`
    /// into an skb dynptr).
    pub(crate) fn dynptr_helper_post(
        &mut self,
        name: &str,
        meta: &mut HelperDynptr,
    ) -> VResult<bool> {
        if let Some(r) = meta.regno.filter(|_| meta.release_regno.is_none()) {
            let (id, _, rid) = self.dynptr_of(r);
            meta.id = id;
            meta.ref_obj_id = rid;
        }
        if let Some(r) = meta.release_regno {
            self.unmark_stack_slots_dynptr(r)?;
        }
        match name {
            "bpf_dynptr_from_mem" => {
                let r1 = self.cur.reg(1);
                if r1.ty != RegType::MapValue {
                    return Err(self.reject_errno(
                        EACCES,
                        RejectionKind::Dynptr { reg: 1 },
                        format!(
                            "Unsupported reg type {} for bpf_dynptr_from_mem data",
                            r1.type_str()
                        ),
                    ));
                }
                Ok(false)
            }
            "bpf_dynptr_write" => Ok(meta
                .regno
                .is_some_and(|r| self.dynptr_of(r).1 == DynptrType::Skb)),
            _ => Ok(false),
        }
    }

    /// `bpf_dynptr_data`'s result: memory of `size` bytes in the dynptr
    /// argument, or NULL, sharing its reference.
    pub(crate) fn dynptr_data_ret(&self, meta: &HelperDynptr, size: u64) -> RegState {
        RegState {
            maybe_null: true,
            mem_size: size as u32,
            ref_obj_id: meta.ref_obj_id,
            dynptr: DynptrInfo {
                dynptr_id: meta.id,
                ..DynptrInfo::NONE
            },
            ..RegState::pointer(RegType::Mem)
        }
    }

    /// `check_kfunc_args`' `KF_ARG_PTR_TO_DYNPTR`: argument `i` of the
    /// kfunc `name`, named `aname`.
    pub(crate) fn dynptr_kfunc_arg(
        &mut self,
        name: &str,
        i: usize,
        aname: &str,
        release: bool,
        meta: &mut KfuncDynptr,
    ) -> VResult {
        let regno = i + 1;
        let reg = *self.cur.reg(regno);
        // check_func_arg_reg_off: a stack pointer may carry an offset, a
        // const dynptr none.
        if reg.ty != RegType::Stack && reg.ty != RegType::Scalar && reg.ty != RegType::NotInit {
            let fixed_ok = false;
            let _ = release;
            self.check_unmodified_ptr(regno, &reg.type_str(), fixed_ok)?;
        }
        let uninit = aname.len() > "__uninit".len() && aname.ends_with("__uninit");
        let mut arg = DynptrArg {
            uninit,
            rdonly: reg.ty == RegType::ConstPtrToDynptr,
            ..DynptrArg::default()
        };
        let mut clone_ref = 0;
        match name {
            "bpf_dynptr_from_skb" => arg.ty = DynptrType::Skb,
            "bpf_dynptr_from_xdp" => arg.ty = DynptrType::Xdp,
            "bpf_dynptr_from_skb_meta" => arg.ty = DynptrType::SkbMeta,
            "bpf_dynptr_clone" if uninit => {
                if meta.ty == DynptrType::Invalid {
                    return Err(self.dynptr_reject(
                        EFAULT,
                        regno,
                        "verifier internal error: no dynptr type for parent of clone".into(),
                    ));
                }
                arg.ty = meta.ty;
                clone_ref = meta.ref_obj_id;
            }
            _ => {}
        }
        self.process_dynptr_func(regno, arg, clone_ref)?;
        if !uninit {
            let (id, ty, rid) = self.dynptr_of(regno);
            meta.id = id;
            meta.ty = ty;
            meta.ref_obj_id = rid;
        }
        Ok(())
    }

    /// `bpf_dynptr_slice` and `bpf_dynptr_slice_rdwr`'s result: memory of
    /// the `__szk` size typed by the dynptr (read-only for `slice`), or
    /// NULL.
    pub(crate) fn dynptr_slice_ret(
        &mut self,
        name: &str,
        size: Option<u64>,
        meta: &KfuncDynptr,
    ) -> VResult<RegState> {
        let Some(size) = size else {
            return Err(self.reject_errno(
                EFAULT,
                RejectionKind::Other,
                "verifier internal error: bpf_dynptr_slice(_rdwr) no constant size".into(),
            ));
        };
        let rdonly = name == "bpf_dynptr_slice";
        if !rdonly && !self.may_write_packet() {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Dynptr { reg: 1 },
                "the prog does not allow writes to packet data".into(),
            ));
        }
        if meta.id == 0 {
            return Err(self.reject_errno(
                EFAULT,
                RejectionKind::Other,
                "verifier internal error: no dynptr id".into(),
            ));
        }
        Ok(RegState {
            rdonly,
            mem_size: size as u32,
            // A slice of a record goes with the record.
            ref_obj_id: meta.ref_obj_id,
            dynptr: DynptrInfo {
                ty: meta.ty,
                dynptr_id: meta.id,
                buf: meta.buf,
                ..DynptrInfo::NONE
            },
            ..RegState::pointer(RegType::Mem)
        })
    }
}
