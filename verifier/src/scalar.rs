//! A `SCALAR_VALUE` register's knowledge as the kernel keeps it: a tnum and
//! four ranges (signed and unsigned, 64 and 32 bits), kept consistent with
//! each other by [`Scalar::sync`] (the kernel's `reg_bounds_sync`).
//!
//! A concrete 64-bit value `x` is a member of a `Scalar` when `var_off`
//! allows it, `umin <= x <= umax`, `smin <= x as i64 <= smax`, and its low 32
//! bits are within the two 32-bit ranges.

use crate::tnum::Tnum;
use std::fmt::Write as _;

/// What is known about a scalar register (the scalar fields of the kernel's
/// `struct bpf_reg_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// Bit-level knowledge.
    pub var_off: Tnum,
    /// `smin_value`.
    pub smin: i64,
    /// `smax_value`.
    pub smax: i64,
    /// `umin_value`.
    pub umin: u64,
    /// `umax_value`.
    pub umax: u64,
    /// `s32_min_value`.
    pub s32_min: i32,
    /// `s32_max_value`.
    pub s32_max: i32,
    /// `u32_min_value`.
    pub u32_min: u32,
    /// `u32_max_value`.
    pub u32_max: u32,
}

impl Default for Scalar {
    fn default() -> Self {
        Scalar::unknown()
    }
}

impl Scalar {
    /// Any value (`__mark_reg_unknown`'s scalar part).
    pub fn unknown() -> Scalar {
        Scalar {
            var_off: Tnum::UNKNOWN,
            smin: i64::MIN,
            smax: i64::MAX,
            umin: 0,
            umax: u64::MAX,
            s32_min: i32::MIN,
            s32_max: i32::MAX,
            u32_min: 0,
            u32_max: u32::MAX,
        }
    }

    /// Exactly `v` (`__mark_reg_known`).
    pub fn constant(v: u64) -> Scalar {
        Scalar {
            var_off: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32_min: v as i32,
            s32_max: v as i32,
            u32_min: v as u32,
            u32_max: v as u32,
        }
    }

    /// The values of an unsigned range `[min, max]`, synced.
    pub fn urange(min: u64, max: u64) -> Scalar {
        let mut s = Scalar::unknown();
        s.umin = min;
        s.umax = max;
        s.sync();
        s
    }

    /// The values of a signed range `[min, max]`, synced.
    pub fn srange(min: i64, max: i64) -> Scalar {
        let mut s = Scalar::unknown();
        s.smin = min;
        s.smax = max;
        s.sync();
        s
    }

    /// The values a tnum allows, synced.
    pub fn from_tnum(t: Tnum) -> Scalar {
        let mut s = Scalar::unknown();
        s.var_off = t;
        s.sync();
        s
    }

    /// The value, when the tnum knows every bit (the kernel's test for a
    /// constant register, `tnum_is_const(var_off)`).
    pub fn const_value(&self) -> Option<u64> {
        self.var_off.is_const().then_some(self.var_off.value)
    }

    /// The low 32 bits' value when they are all known
    /// (`tnum_subreg_is_const`).
    pub fn const_subreg(&self) -> Option<u32> {
        self.var_off
            .subreg_is_const()
            .then_some(self.var_off.value as u32)
    }

    /// Whether the kernel's `is_reg_const` holds: the whole register (or its
    /// low half for 32-bit compares) is known.
    pub fn is_const(&self, is32: bool) -> bool {
        if is32 {
            self.var_off.subreg_is_const()
        } else {
            self.var_off.is_const()
        }
    }

    /// The constant `is_reg_const` found (`reg_const_value`): the low half,
    /// zero-extended, for 32-bit compares.
    pub fn const_of_width(&self, is32: bool) -> u64 {
        if is32 {
            u64::from(self.var_off.value as u32)
        } else {
            self.var_off.value
        }
    }

    /// Whether the concrete value `x` is one this scalar allows.
    pub fn contains_value(&self, x: u64) -> bool {
        let lo = x as u32;
        self.var_off.contains_value(x)
            && self.umin <= x
            && x <= self.umax
            && self.smin <= x as i64
            && x as i64 <= self.smax
            && self.u32_min <= lo
            && lo <= self.u32_max
            && self.s32_min <= lo as i32
            && lo as i32 <= self.s32_max
    }

    /// The 64-bit ranges set to "anything" (`__mark_reg64_unbounded`).
    pub fn mark_64_unbounded(&mut self) {
        self.smin = i64::MIN;
        self.smax = i64::MAX;
        self.umin = 0;
        self.umax = u64::MAX;
    }

    /// The 32-bit ranges set to "anything" (`__mark_reg32_unbounded`).
    pub fn mark_32_unbounded(&mut self) {
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
    }

    /// The low half becomes the known `v`, the high half untouched
    /// (`__mark_reg32_known`).
    pub fn mark_32_known(&mut self, v: u32) {
        self.var_off = self.var_off.const_subreg(v);
        self.s32_min = v as i32;
        self.s32_max = v as i32;
        self.u32_min = v;
        self.u32_max = v;
    }

    /// Tighten the 32-bit ranges from the low half of the tnum
    /// (`__update_reg32_bounds`).
    pub fn update_32_bounds(&mut self) {
        let t = self.var_off.subreg();
        let smin_t = (t.value | (t.mask & 0x8000_0000)) as u32 as i32;
        let smax_t = (t.value | (t.mask & 0x7fff_ffff)) as u32 as i32;
        self.s32_min = self.s32_min.max(smin_t);
        self.s32_max = self.s32_max.min(smax_t);
        self.u32_min = self.u32_min.max(t.value as u32);
        self.u32_max = self.u32_max.min((t.value | t.mask) as u32);
    }

    /// Tighten the 64-bit ranges from the tnum (`__update_reg64_bounds`).
    pub fn update_64_bounds(&mut self) {
        let t = self.var_off;
        let smin_t = (t.value | (t.mask & (1u64 << 63))) as i64;
        let smax_t = (t.value | (t.mask & (i64::MAX as u64))) as i64;
        self.smin = self.smin.max(smin_t);
        self.smax = self.smax.min(smax_t);
        self.umin = self.umin.max(t.value);
        self.umax = self.umax.min(t.value | t.mask);
        // When the u64 range and the tnum have a single value in common,
        // the register is that constant.
        // The kernel's tnum_step saturates at the tnum's largest value, so
        // on a state that holds no value at all (an edge that cannot be
        // taken, which is_branch_taken did not see) this picks a constant
        // too, as 6.18 does (kernel_regstate, seeds 0x5555 and 0x6666).
        let tmax = t.value | t.mask;
        let umin_in = t.contains_value(self.umin);
        let step = |z: u64| t.step(z).unwrap_or(tmax);
        let next = step(self.umin);
        let known = if umin_in {
            (next > self.umax).then_some(self.umin)
        } else if next == tmax {
            Some(tmax)
        } else if next <= self.umax && step(next) > self.umax {
            Some(next)
        } else {
            None
        };
        if let Some(v) = known {
            *self = Scalar::constant(v);
        }
    }

    /// Both of the above (`__update_reg_bounds`).
    pub fn update_bounds(&mut self) {
        self.update_32_bounds();
        self.update_64_bounds();
    }

    /// The 32-bit ranges learnt from the 64-bit ones and from each other
    /// (`__reg32_deduce_bounds`).
    fn deduce_32_bounds(&mut self) {
        // The high halves of the u64 range are equal: its low halves bound
        // the low 32 bits.
        if self.umin >> 32 == self.umax >> 32 {
            self.u32_min = self.u32_min.max(self.umin as u32);
            self.u32_max = self.u32_max.min(self.umax as u32);
            if (self.umin as i32) <= (self.umax as i32) {
                self.s32_min = self.s32_min.max(self.umin as i32);
                self.s32_max = self.s32_max.min(self.umax as i32);
            }
        }
        if self.smin >> 32 == self.smax >> 32 {
            if (self.smin as u32) <= (self.smax as u32) {
                self.u32_min = self.u32_min.max(self.smin as u32);
                self.u32_max = self.u32_max.min(self.smax as u32);
            }
            if (self.smin as i32) <= (self.smax as i32) {
                self.s32_min = self.s32_min.max(self.smin as i32);
                self.s32_max = self.s32_max.min(self.smax as i32);
            }
        }
        // The high halves are two consecutive numbers and the low halves go
        // from negative to non-negative: the low halves form one s32 range
        // across the carry.
        if ((self.umin >> 32) as u32).wrapping_add(1) == (self.umax >> 32) as u32
            && (self.umin as i32) < 0
            && (self.umax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.umin as i32);
            self.s32_max = self.s32_max.min(self.umax as i32);
        }
        if ((self.smin >> 32) as u32).wrapping_add(1) == (self.smax >> 32) as u32
            && (self.smin as i32) < 0
            && (self.smax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.smin as i32);
            self.s32_max = self.s32_max.min(self.smax as i32);
        }
        // A u32 range that does not cross the sign bit is an s32 range.
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.s32_min.max(self.u32_min as i32);
            self.s32_max = self.s32_max.min(self.u32_max as i32);
        }
        // An s32 range that does not cross the sign bit is a u32 range.
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            self.u32_min = self.u32_min.max(self.s32_min as u32);
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if self.u32_max < self.s32_min as u32 {
            // The s32 range is two u32 ranges, [s32_min, U32_MAX] and
            // [0, s32_max]; the u32 range lies below the first: only the
            // second remains.
            self.s32_min = self.u32_min as i32;
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if (self.s32_max as u32) < self.u32_min {
            // ... or above the second: only the first remains.
            self.s32_max = self.u32_max as i32;
            self.u32_min = self.u32_min.max(self.s32_min as u32);
        }
    }

    /// The signed and unsigned 64-bit ranges learnt from each other
    /// (`__reg64_deduce_bounds`).
    fn deduce_64_bounds(&mut self) {
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        } else {
            // The s64 range crosses the sign boundary: it is two u64 ranges,
            // [smin, U64_MAX] and [0, smax]. If the u64 range lies in one of
            // them, the other is gone.
            if self.umax < self.smin as u64 {
                self.smin = self.umin as i64;
                self.umax = self.umax.min(self.smax as u64);
            } else if (self.smax as u64) < self.umin {
                self.smax = self.umax as i64;
                self.umin = self.umin.max(self.smin as u64);
            }
        }
    }

    /// The 64-bit ranges learnt from the 32-bit ones
    /// (`__reg_deduce_mixed_bounds`).
    fn deduce_mixed_bounds(&mut self) {
        let new_umin = (self.umin & !0xffff_ffff) | u64::from(self.u32_min);
        let new_umax = (self.umax & !0xffff_ffff) | u64::from(self.u32_max);
        self.umin = self.umin.max(new_umin);
        self.umax = self.umax.min(new_umax);
        let new_smin = ((self.smin as u64 & !0xffff_ffff) | u64::from(self.u32_min)) as i64;
        let new_smax = ((self.smax as u64 & !0xffff_ffff) | u64::from(self.u32_max)) as i64;
        self.smin = self.smin.max(new_smin);
        self.smax = self.smax.min(new_smax);
        // After a sign-extending load the high half is all zeroes or all
        // ones: a non-negative s32 range is then the whole 64-bit range.
        if self.s32_min >= 0 && self.smin >= i64::from(i32::MIN) && self.smax <= i64::from(i32::MAX)
        {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
            self.umin = self.s32_min as u64;
            self.umax = self.s32_max as u64;
            self.var_off = self
                .var_off
                .intersect(Tnum::range(self.smin as u64, self.smax as u64));
        }
    }

    /// `__reg_deduce_bounds`.
    pub fn deduce_bounds(&mut self) {
        self.deduce_32_bounds();
        self.deduce_64_bounds();
        self.deduce_mixed_bounds();
    }

    /// The tnum learnt from the unsigned ranges (`__reg_bound_offset`).
    pub fn bound_offset(&mut self) {
        let var64 = self.var_off.intersect(Tnum::range(self.umin, self.umax));
        let var32 = var64.subreg().intersect(Tnum::range(
            u64::from(self.u32_min),
            u64::from(self.u32_max),
        ));
        self.var_off = var64.clear_subreg().or(var32);
    }

    /// Make the five views agree (`reg_bounds_sync`): bounds from the tnum,
    /// bounds from each other, the tnum from the bounds, and bounds from the
    /// tnum again. The deduction runs three times: the 6.18 kernel's printed
    /// states (kernel_regstate, 4,500 generated programs) need a third pass
    /// where a 64-bit bound learnt in the second (an s64 range crossing the
    /// sign boundary) tightens the u32 range.
    pub fn sync(&mut self) {
        self.update_bounds();
        self.deduce_bounds();
        self.deduce_bounds();
        self.deduce_bounds();
        self.bound_offset();
        self.update_bounds();
    }

    /// The kernel's `reg_bounds_sanity_check`: a range with min > max, or a
    /// constant tnum (whole or low half) that the ranges disagree with, is a
    /// state no value can be in. The message is the kernel's description
    /// followed by the state, as in its `REG INVARIANTS VIOLATION` line.
    pub fn sanity_check(&self) -> Result<(), String> {
        let msg = if self.umin > self.umax
            || self.smin > self.smax
            || self.u32_min > self.u32_max
            || self.s32_min > self.s32_max
        {
            Some("range bounds violation")
        } else if self.var_off.is_const()
            && (self.umin != self.var_off.value
                || self.umax != self.var_off.value
                || self.smin != self.var_off.value as i64
                || self.smax != self.var_off.value as i64)
        {
            Some("const tnum out of sync with range bounds")
        } else if self.var_off.subreg_is_const() && {
            let v = self.var_off.value as u32;
            self.u32_min != v
                || self.u32_max != v
                || self.s32_min != v as i32
                || self.s32_max != v as i32
        } {
            Some("const subreg tnum out of sync with range bounds")
        } else {
            None
        };
        match msg {
            None => Ok(()),
            Some(m) => Err(format!(
                "{m} u64=[{:#x}, {:#x}] s64=[{:#x}, {:#x}] u32=[{:#x}, {:#x}] s32=[{:#x}, {:#x}] var_off=({:#x}, {:#x})",
                self.umin,
                self.umax,
                self.smin,
                self.smax,
                self.u32_min,
                self.u32_max,
                self.s32_min,
                self.s32_max,
                self.var_off.value,
                self.var_off.mask
            )),
        }
    }

    /// What 6.18 does when [`Scalar::sanity_check`] fails outside its
    /// `BPF_F_TEST_REG_INVARIANTS` test mode: the log gets a
    /// `verifier bug: REG INVARIANTS VIOLATION (<ctx>): ...` line (returned
    /// here, without the newline) and the register keeps its tnum with every
    /// range reset (`__mark_reg_unbounded`). `None` when the state is sane.
    pub fn check_or_unbound(&mut self, ctx: &str) -> Option<String> {
        let msg = self.sanity_check().err()?;
        self.mark_64_unbounded();
        self.mark_32_unbounded();
        Some(format!(
            "verifier bug: REG INVARIANTS VIOLATION ({ctx}): {msg}"
        ))
    }

    /// The low half becomes the whole register, zero-extended, as after a
    /// 32-bit ALU instruction (`zext_32_to_64`: the tnum's low half and
    /// `__reg_assign_32_into_64`).
    pub fn zext32(&mut self) {
        self.var_off = self.var_off.subreg();
        self.umin = u64::from(self.u32_min);
        self.umax = u64::from(self.u32_max);
        if self.s32_min >= 0 && self.s32_max >= 0 {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
        } else {
            self.smin = 0;
            self.smax = i64::from(u32::MAX);
        }
    }

    /// Truncated to the low `size` bytes, zero-extended (`coerce_reg_to_size`:
    /// a narrow load, or a narrow value read back from a stack spill).
    pub fn coerce_to_size(&mut self, size: u8) {
        if size >= 8 {
            return;
        }
        self.var_off = self.var_off.cast(size);
        let mask = (1u64 << (u32::from(size) * 8)) - 1;
        if self.umin & !mask == self.umax & !mask {
            self.umin &= mask;
            self.umax &= mask;
        } else {
            self.umin = 0;
            self.umax = mask;
        }
        self.smin = self.umin as i64;
        self.smax = self.umax as i64;
        if size < 4 {
            self.mark_32_unbounded();
        }
        self.sync();
    }

    /// The whole register sign-extended from its low `size` bytes (1, 2 or
    /// 4) (`coerce_reg_to_size_sx`: `movsx` and sign-extending loads).
    pub fn coerce_to_size_sx(&mut self, size: u8) {
        let bits = u32::from(size) * 8;
        let sext = |v: u64| -> i64 {
            match size {
                1 => v as i8 as i64,
                2 => v as i16 as i64,
                _ => v as i32 as i64,
            }
        };
        if let Some(v) = self.const_value() {
            *self = Scalar::constant(sext(v) as u64);
            return;
        }
        let top_max = ((self.smax as u64) >> bits) << bits;
        let top_min = ((self.smin as u64) >> bits) << bits;
        if top_max == top_min {
            let a = sext(self.smax as u64);
            let b = sext(self.smin as u64);
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.smin = lo;
                self.s32_min = lo as i32;
                self.smax = hi;
                self.s32_max = hi as i32;
                self.umin = lo as u64;
                self.u32_min = lo as u32;
                self.umax = hi as u64;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(lo as u64, hi as u64);
                return;
            }
        }
        // The low half as an s32 is already the sign extension of its low
        // `size` bytes (always so for size 4): the 64-bit result, as an s64,
        // is the s32 value, and the low half does not change.
        let (nmin, nmax) = match size {
            1 => (i32::from(i8::MIN), i32::from(i8::MAX)),
            2 => (i32::from(i16::MIN), i32::from(i16::MAX)),
            _ => (i32::MIN, i32::MAX),
        };
        if self.s32_min >= nmin && self.s32_max <= nmax {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
            self.umin = 0;
            self.umax = u64::MAX;
            self.var_off = Tnum::UNKNOWN;
            return;
        }
        // set_sext64_default_val
        let (lo, hi) = match size {
            1 => (i64::from(i8::MIN), i64::from(i8::MAX)),
            2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
            _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
        };
        self.smin = lo;
        self.s32_min = lo as i32;
        self.smax = hi;
        self.s32_max = hi as i32;
        self.umin = 0;
        self.u32_min = 0;
        self.umax = u64::MAX;
        self.u32_max = u32::MAX;
        self.var_off = Tnum::UNKNOWN;
    }

    /// The low half sign-extended from its low `size` bytes (1 or 2), the high
    /// half left for the caller's zero extension
    /// (`coerce_subreg_to_size_sx`: 32-bit `movsx`).
    pub fn coerce_subreg_to_size_sx(&mut self, size: u8) {
        let bits = u32::from(size) * 8;
        let sext = |v: u32| -> i32 {
            match size {
                1 => v as i8 as i32,
                _ => v as i16 as i32,
            }
        };
        if let Some(v) = self.const_value() {
            let c = sext(v as u32);
            // tnum_const((s8)val): the sign extends through all 64 bits.
            self.var_off = Tnum::constant(i64::from(c) as u64);
            self.s32_min = c;
            self.s32_max = c;
            self.u32_min = c as u32;
            self.u32_max = c as u32;
            return;
        }
        let top_max = ((self.s32_max as u32) >> bits) << bits;
        let top_min = ((self.s32_min as u32) >> bits) << bits;
        if top_max == top_min {
            let a = sext(self.s32_max as u32);
            let b = sext(self.s32_min as u32);
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.s32_min = lo;
                self.s32_max = hi;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(i64::from(lo) as u64, i64::from(hi) as u64).subreg();
                return;
            }
        }
        let (lo, hi) = match size {
            1 => (i32::from(i8::MIN), i32::from(i8::MAX)),
            _ => (i32::from(i16::MIN), i32::from(i16::MAX)),
        };
        self.s32_min = lo;
        self.s32_max = hi;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
        self.var_off = Tnum::UNKNOWN.subreg();
    }

    /// The attributes inside `scalar(...)` as the kernel prints them
    /// (`print_scalar_ranges` then `var_off=`): ranges at their defaults are
    /// left out, equal values of the same sign share one `=`
    /// (`smin=smin32=0,smax=umax=smax32=umax32=255`), numbers in
    /// [-32768, 65535] are decimal and others `%#llx`. Nothing is written for
    /// a fully unknown scalar. No leading separator.
    pub fn write_attrs(&self, out: &mut String) {
        self.write_attrs_sep(out, "");
    }

    /// [`Scalar::write_attrs`] starting with `first_sep` before the first
    /// attribute (e.g. `","` after an `id=N`).
    pub fn write_attrs_sep(&self, out: &mut String, first_sep: &str) {
        struct M {
            name: &'static str,
            val: u64,
            omit: bool,
        }
        let s32v = |v: i32| -> u64 {
            if is_snum_decimal(i64::from(v)) {
                i64::from(v) as u64
            } else {
                u64::from(v as u32)
            }
        };
        let mut m = [
            M {
                name: "smin",
                val: self.smin as u64,
                omit: self.smin == i64::MIN,
            },
            M {
                name: "smax",
                val: self.smax as u64,
                omit: self.smax == i64::MAX,
            },
            M {
                name: "umin",
                val: self.umin,
                omit: self.umin == 0,
            },
            M {
                name: "umax",
                val: self.umax,
                omit: self.umax == u64::MAX,
            },
            M {
                name: "smin32",
                val: s32v(self.s32_min),
                omit: self.s32_min == i32::MIN,
            },
            M {
                name: "smax32",
                val: s32v(self.s32_max),
                omit: self.s32_max == i32::MAX,
            },
            M {
                name: "umin32",
                val: u64::from(self.u32_min),
                omit: self.u32_min == 0,
            },
            M {
                name: "umax32",
                val: u64::from(self.u32_max),
                omit: self.u32_max == u32::MAX,
            },
        ];
        let mut sep = first_sep;
        for i in 0..m.len() {
            let Some((mi, rest)) = m.get_mut(i..).and_then(|s| s.split_first_mut()) else {
                break;
            };
            if mi.omit {
                continue;
            }
            let signed1 = mi.name.starts_with('s');
            let neg1 = signed1 && (mi.val as i64) < 0;
            out.push_str(sep);
            out.push_str(mi.name);
            out.push('=');
            sep = ",";
            // m[i + 2], m[i + 4], ...: the pairs the kernel's print_scalar_ranges compares.
            for mj in rest.iter_mut().skip(1).step_by(2) {
                if !mj.omit && mj.val == mi.val {
                    let neg2 = mj.name.starts_with('s') && (mj.val as i64) < 0;
                    if neg2 == neg1 {
                        mj.omit = true;
                        out.push_str(mj.name);
                        out.push('=');
                    }
                }
            }
            if signed1 {
                write_snum(out, mi.val);
            } else {
                write_unum(out, mi.val);
            }
        }
        if !self.var_off.is_unknown() {
            let _ = write!(out, "{sep}var_off={}", self.var_off);
        }
    }

    /// The register's value as the log prints it after `R<n>=` (without the
    /// `P` precision mark, which is the caller's): the bare constant, or
    /// `scalar(...)` with `id=N` first when `id` is not 0.
    pub fn write_value(&self, out: &mut String, id: u32) {
        if let Some(v) = self.const_value() {
            write_snum(out, v);
            return;
        }
        out.push_str("scalar(");
        if id != 0 {
            let _ = write!(out, "id={id}");
            self.write_attrs_sep(out, ",");
        } else {
            self.write_attrs(out);
        }
        out.push(')');
    }

    /// [`Scalar::write_value`] into a new string, without an id.
    pub fn to_log_string(&self) -> String {
        let mut s = String::new();
        self.write_value(&mut s, 0);
        s
    }
}

/// The kernel's `is_snum_decimal`: within [S16_MIN, S16_MAX].
fn is_snum_decimal(v: i64) -> bool {
    (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v)
}

/// `verbose_snum`: signed decimal when small, else `%#llx` of the bits.
pub fn write_snum(out: &mut String, v: u64) {
    if is_snum_decimal(v as i64) {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v:#x}");
    }
}

/// `verbose_unum`: decimal up to U16_MAX, else `%#llx`.
pub fn write_unum(out: &mut String, v: u64) {
    if v <= u64::from(u16::MAX) {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{v:#x}");
    }
}
