//! ALU transfer functions on scalars, as the kernel's
//! `adjust_scalar_min_max_vals` computes them (plus `BPF_MOV`, `movsx`,
//! `BPF_NEG`, `BPF_END` and narrow loads from `check_alu_op` and
//! `check_mem_access`).
//!
//! Which ops are tracked follows `is_safe_to_compute_dst_reg_range`: add, sub,
//! neg, mul, and, or, xor always; shifts only by a known amount below the
//! width; div, sdiv, mod and smod give a fully unknown register (not even
//! zero-extended for ALU32, as in the kernel). A 32-bit op computes the low
//! half and then zero-extends (`zext_32_to_64`).

use crate::scalar::Scalar;
use crate::tnum::Tnum;
use ironbpf_isa::AluOp;

fn src_is_const(is64: bool, src: &Scalar) -> bool {
    if is64 {
        src.var_off.is_const() && src.smin == src.smax && src.umin == src.umax
    } else {
        src.var_off.subreg_is_const() && src.s32_min == src.s32_max && src.u32_min == src.u32_max
    }
}

/// `is_safe_to_compute_dst_reg_range`: whether the kernel tracks `op`'s
/// result for this source, or gives up and marks the register unknown.
pub fn is_safe_to_compute(op: AluOp, is64: bool, src: &Scalar) -> bool {
    match op {
        AluOp::Add | AluOp::Sub | AluOp::And | AluOp::Xor | AluOp::Or | AluOp::Mul => true,
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => {
            let bitness = if is64 { 64 } else { 32 };
            src_is_const(is64, src) && src.umax < bitness
        }
        _ => false,
    }
}

fn add32(dst: &mut Scalar, src: &Scalar) {
    match (
        dst.s32_min.checked_add(src.s32_min),
        dst.s32_max.checked_add(src.s32_max),
    ) {
        (Some(a), Some(b)) => {
            dst.s32_min = a;
            dst.s32_max = b;
        }
        _ => {
            dst.s32_min = i32::MIN;
            dst.s32_max = i32::MAX;
        }
    }
    let (lo, min_ov) = dst.u32_min.overflowing_add(src.u32_min);
    let (hi, max_ov) = dst.u32_max.overflowing_add(src.u32_max);
    if !min_ov && max_ov {
        dst.u32_min = 0;
        dst.u32_max = u32::MAX;
    } else {
        dst.u32_min = lo;
        dst.u32_max = hi;
    }
}

fn add64(dst: &mut Scalar, src: &Scalar) {
    match (
        dst.smin.checked_add(src.smin),
        dst.smax.checked_add(src.smax),
    ) {
        (Some(a), Some(b)) => {
            dst.smin = a;
            dst.smax = b;
        }
        _ => {
            dst.smin = i64::MIN;
            dst.smax = i64::MAX;
        }
    }
    let (lo, min_ov) = dst.umin.overflowing_add(src.umin);
    let (hi, max_ov) = dst.umax.overflowing_add(src.umax);
    if !min_ov && max_ov {
        dst.umin = 0;
        dst.umax = u64::MAX;
    } else {
        dst.umin = lo;
        dst.umax = hi;
    }
}

fn sub32(dst: &mut Scalar, src: &Scalar) {
    match (
        dst.s32_min.checked_sub(src.s32_max),
        dst.s32_max.checked_sub(src.s32_min),
    ) {
        (Some(a), Some(b)) => {
            dst.s32_min = a;
            dst.s32_max = b;
        }
        _ => {
            dst.s32_min = i32::MIN;
            dst.s32_max = i32::MAX;
        }
    }
    let (lo, min_uf) = dst.u32_min.overflowing_sub(src.u32_max);
    let (hi, max_uf) = dst.u32_max.overflowing_sub(src.u32_min);
    if min_uf && !max_uf {
        dst.u32_min = 0;
        dst.u32_max = u32::MAX;
    } else {
        dst.u32_min = lo;
        dst.u32_max = hi;
    }
}

fn sub64(dst: &mut Scalar, src: &Scalar) {
    match (
        dst.smin.checked_sub(src.smax),
        dst.smax.checked_sub(src.smin),
    ) {
        (Some(a), Some(b)) => {
            dst.smin = a;
            dst.smax = b;
        }
        _ => {
            dst.smin = i64::MIN;
            dst.smax = i64::MAX;
        }
    }
    let (lo, min_uf) = dst.umin.overflowing_sub(src.umax);
    let (hi, max_uf) = dst.umax.overflowing_sub(src.umin);
    if min_uf && !max_uf {
        dst.umin = 0;
        dst.umax = u64::MAX;
    } else {
        dst.umin = lo;
        dst.umax = hi;
    }
}

fn mul32(dst: &mut Scalar, src: &Scalar) {
    match (
        dst.u32_max.checked_mul(src.u32_max),
        dst.u32_min.checked_mul(src.u32_min),
    ) {
        (Some(hi), Some(lo)) => {
            dst.u32_min = lo;
            dst.u32_max = hi;
        }
        _ => {
            dst.u32_min = 0;
            dst.u32_max = u32::MAX;
        }
    }
    let p = [
        dst.s32_min.checked_mul(src.s32_min),
        dst.s32_min.checked_mul(src.s32_max),
        dst.s32_max.checked_mul(src.s32_min),
        dst.s32_max.checked_mul(src.s32_max),
    ];
    if p.iter().all(Option::is_some) {
        let v = p.map(|x| x.unwrap_or_default());
        dst.s32_min = v.iter().copied().min().unwrap_or(i32::MIN);
        dst.s32_max = v.iter().copied().max().unwrap_or(i32::MAX);
    } else {
        dst.s32_min = i32::MIN;
        dst.s32_max = i32::MAX;
    }
}

fn mul64(dst: &mut Scalar, src: &Scalar) {
    match (
        dst.umax.checked_mul(src.umax),
        dst.umin.checked_mul(src.umin),
    ) {
        (Some(hi), Some(lo)) => {
            dst.umin = lo;
            dst.umax = hi;
        }
        _ => {
            dst.umin = 0;
            dst.umax = u64::MAX;
        }
    }
    let p = [
        dst.smin.checked_mul(src.smin),
        dst.smin.checked_mul(src.smax),
        dst.smax.checked_mul(src.smin),
        dst.smax.checked_mul(src.smax),
    ];
    if p.iter().all(Option::is_some) {
        let v = p.map(|x| x.unwrap_or_default());
        dst.smin = v.iter().copied().min().unwrap_or(i64::MIN);
        dst.smax = v.iter().copied().max().unwrap_or(i64::MAX);
    } else {
        dst.smin = i64::MIN;
        dst.smax = i64::MAX;
    }
}

/// The s32 range from the u32 one when it does not cross the sign bit.
fn s32_from_u32(dst: &mut Scalar) {
    if (dst.u32_min as i32) <= (dst.u32_max as i32) {
        dst.s32_min = dst.u32_min as i32;
        dst.s32_max = dst.u32_max as i32;
    } else {
        dst.s32_min = i32::MIN;
        dst.s32_max = i32::MAX;
    }
}

/// The s64 range from the u64 one when it does not cross the sign bit.
fn s64_from_u64(dst: &mut Scalar) {
    if (dst.umin as i64) <= (dst.umax as i64) {
        dst.smin = dst.umin as i64;
        dst.smax = dst.umax as i64;
    } else {
        dst.smin = i64::MIN;
        dst.smax = i64::MAX;
    }
}

#[derive(Clone, Copy)]
enum Bit {
    And,
    Or,
    Xor,
}

/// `scalar32_min_max_{and,or,xor}`, with `var_off` already updated.
fn bitop32(op: Bit, dst: &mut Scalar, src: &Scalar, src_known: bool, dst_known: bool) {
    let t = dst.var_off.subreg();
    if src_known && dst_known {
        dst.mark_32_known(t.value as u32);
        return;
    }
    match op {
        Bit::And => {
            dst.u32_min = t.value as u32;
            dst.u32_max = dst.u32_max.min(src.u32_max);
        }
        Bit::Or => {
            dst.u32_min = dst.u32_min.max(src.u32_min);
            dst.u32_max = (t.value | t.mask) as u32;
        }
        Bit::Xor => {
            dst.u32_min = t.value as u32;
            dst.u32_max = (t.value | t.mask) as u32;
        }
    }
    s32_from_u32(dst);
}

/// `scalar_min_max_{and,or,xor}`, with `var_off` already updated.
fn bitop64(op: Bit, dst: &mut Scalar, src: &Scalar, src_known: bool, dst_known: bool) {
    let t = dst.var_off;
    if src_known && dst_known {
        *dst = Scalar::constant(t.value);
        return;
    }
    match op {
        Bit::And => {
            dst.umin = t.value;
            dst.umax = dst.umax.min(src.umax);
        }
        Bit::Or => {
            dst.umin = dst.umin.max(src.umin);
            dst.umax = t.value | t.mask;
        }
        Bit::Xor => {
            dst.umin = t.value;
            dst.umax = t.value | t.mask;
        }
    }
    s64_from_u64(dst);
    dst.update_bounds();
}

fn bitop(op: Bit, dst: &mut Scalar, src: &Scalar) {
    let src32 = src.var_off.subreg_is_const();
    let dst32 = dst.var_off.subreg_is_const();
    let src64 = src.var_off.is_const();
    let dst64 = dst.var_off.is_const();
    dst.var_off = match op {
        Bit::And => dst.var_off.and(src.var_off),
        Bit::Or => dst.var_off.or(src.var_off),
        Bit::Xor => dst.var_off.xor(src.var_off),
    };
    bitop32(op, dst, src, src32, dst32);
    bitop64(op, dst, src, src64, dst64);
}

fn lsh32_bounds(dst: &mut Scalar, umin_val: u64, umax_val: u64) {
    dst.s32_min = i32::MIN;
    dst.s32_max = i32::MAX;
    if umax_val > 31 || u64::from(dst.u32_max) > 1u64 << (31 - umax_val) {
        dst.u32_min = 0;
        dst.u32_max = u32::MAX;
    } else {
        dst.u32_min <<= umin_val;
        dst.u32_max <<= umax_val;
    }
}

fn lsh64_bounds(dst: &mut Scalar, umin_val: u64, umax_val: u64) {
    // `<< 32` then `s>> 32` is the compilers' sign extension of a subreg:
    // the shifted value's sign is the low half's.
    let exact32 = umin_val == 32 && umax_val == 32;
    if exact32 {
        dst.smax = i64::from(dst.s32_max) << 32;
        dst.smin = i64::from(dst.s32_min) << 32;
    } else {
        dst.smax = i64::MAX;
        dst.smin = i64::MIN;
    }
    if umax_val > 63 || dst.umax > 1u64 << (63 - umax_val) {
        dst.umin = 0;
        dst.umax = u64::MAX;
    } else {
        dst.umin <<= umin_val;
        dst.umax <<= umax_val;
    }
}

fn shift_amount(v: u64) -> u8 {
    (v & 63) as u8
}

fn lsh(is64: bool, dst: &mut Scalar, src: &Scalar) {
    if is64 {
        let (umin_val, umax_val) = (src.umin, src.umax);
        lsh64_bounds(dst, umin_val, umax_val);
        lsh32_bounds(dst, umin_val, umax_val);
        dst.var_off = dst.var_off.lshift(shift_amount(umin_val));
        dst.update_bounds();
    } else {
        let (umin_val, umax_val) = (u64::from(src.u32_min), u64::from(src.u32_max));
        let sub = dst.var_off.subreg();
        lsh32_bounds(dst, umin_val, umax_val);
        dst.var_off = sub.lshift(shift_amount(umin_val)).subreg();
        dst.mark_64_unbounded();
        dst.update_32_bounds();
    }
}

fn rsh(is64: bool, dst: &mut Scalar, src: &Scalar) {
    if is64 {
        let (umin_val, umax_val) = (src.umin, src.umax);
        dst.smin = i64::MIN;
        dst.smax = i64::MAX;
        dst.var_off = dst.var_off.rshift(shift_amount(umin_val));
        dst.umin = dst.umin.checked_shr(umax_val as u32).unwrap_or(0);
        dst.umax = dst.umax.checked_shr(umin_val as u32).unwrap_or(0);
        dst.mark_32_unbounded();
        dst.update_bounds();
    } else {
        let (umin_val, umax_val) = (src.u32_min, src.u32_max);
        let sub = dst.var_off.subreg();
        dst.s32_min = i32::MIN;
        dst.s32_max = i32::MAX;
        dst.var_off = sub.rshift(shift_amount(u64::from(umin_val)));
        dst.u32_min = dst.u32_min.checked_shr(umax_val).unwrap_or(0);
        dst.u32_max = dst.u32_max.checked_shr(umin_val).unwrap_or(0);
        dst.mark_64_unbounded();
        dst.update_32_bounds();
    }
}

fn arsh(is64: bool, dst: &mut Scalar, src: &Scalar) {
    if is64 {
        let s = (src.umin & 63) as u32;
        dst.smin >>= s;
        dst.smax >>= s;
        dst.var_off = dst.var_off.arshift(s as u8, 64);
        dst.umin = 0;
        dst.umax = u64::MAX;
        dst.mark_32_unbounded();
        dst.update_bounds();
    } else {
        let s = src.u32_min & 31;
        dst.s32_min >>= s;
        dst.s32_max >>= s;
        dst.var_off = dst.var_off.subreg().arshift(s as u8, 32);
        dst.u32_min = 0;
        dst.u32_max = u32::MAX;
        dst.mark_64_unbounded();
        dst.update_32_bounds();
    }
}

/// `dst = dst <op> src` on scalars, 64-bit (`BPF_ALU64`) or 32-bit
/// (`BPF_ALU`), as `adjust_scalar_min_max_vals` (and, for `Mov`,
/// `check_alu_op`'s register move) computes it. The result is synced.
pub fn scalar_alu(op: AluOp, is64: bool, dst: &Scalar, src: &Scalar) -> Scalar {
    if op == AluOp::Mov {
        let mut r = *src;
        if !is64 {
            r.zext32();
            r.sync();
        }
        return r;
    }
    if !is_safe_to_compute(op, is64, src) {
        return Scalar::unknown();
    }
    let mut d = *dst;
    match op {
        AluOp::Add => {
            add32(&mut d, src);
            add64(&mut d, src);
            d.var_off = d.var_off.add(src.var_off);
        }
        AluOp::Sub => {
            sub32(&mut d, src);
            sub64(&mut d, src);
            d.var_off = d.var_off.sub(src.var_off);
        }
        AluOp::Mul => {
            d.var_off = d.var_off.mul(src.var_off);
            mul32(&mut d, src);
            mul64(&mut d, src);
        }
        AluOp::And => bitop(Bit::And, &mut d, src),
        AluOp::Or => bitop(Bit::Or, &mut d, src),
        AluOp::Xor => bitop(Bit::Xor, &mut d, src),
        AluOp::Lsh => lsh(is64, &mut d, src),
        AluOp::Rsh => rsh(is64, &mut d, src),
        AluOp::Arsh => arsh(is64, &mut d, src),
        _ => return Scalar::unknown(),
    }
    if !is64 {
        d.zext32();
    }
    d.sync();
    d
}

/// `maybe_fork_scalars` (Linux 6.18): an `and`/`or` with a constant on a
/// register known to be 0 or -1 (`[-1, 0]` as an s64, else as an s32) splits
/// the path in two before the instruction, so that each has a constant.
/// Returns the register for the path that goes on (-1) and for the path the
/// kernel pushes to run the same instruction again later (0); `None` when the
/// instruction does not fork.
pub fn maybe_fork_scalars(op: AluOp, dst: &Scalar, src: &Scalar) -> Option<(Scalar, Scalar)> {
    if !matches!(op, AluOp::And | AluOp::Or) || !src.var_off.is_const() {
        return None;
    }
    if dst.smin == -1 && dst.smax == 0 {
        Some((Scalar::constant(u64::MAX), Scalar::constant(0)))
    } else if dst.s32_min == -1 && dst.s32_max == 0 {
        let mut on = *dst;
        on.mark_32_known(u32::MAX);
        let mut pushed = *dst;
        pushed.mark_32_known(0);
        Some((on, pushed))
    } else {
        None
    }
}

/// `dst = -dst` (`BPF_NEG`), tracked as `0 - dst` since Linux 6.13.
pub fn scalar_neg(is64: bool, dst: &Scalar) -> Scalar {
    let mut d = Scalar::constant(0);
    sub32(&mut d, dst);
    sub64(&mut d, dst);
    d.var_off = dst.var_off.neg();
    if !is64 {
        d.zext32();
    }
    d.sync();
    d
}

/// `BPF_END`: the byte swaps `le16/32/64`, `be16/32/64` (`BPF_ALU`) and
/// `bswap16/32/64` (`BPF_ALU64`), on a little-endian host as the kernel's
/// oracle is: `le` truncates (zero-extends the low `width_bits`), `be` and
/// `bswap` reverse the low `width_bits / 8` bytes. The tnum's bytes move with
/// the value's; the ranges are recomputed from the tnum.
pub fn scalar_bswap(endian: ironbpf_isa::Endian, width_bits: u32, dst: &Scalar) -> Scalar {
    let t = dst.var_off;
    let swap = |v: u64| -> u64 {
        match width_bits {
            16 => u64::from((v as u16).swap_bytes()),
            32 => u64::from((v as u32).swap_bytes()),
            _ => v.swap_bytes(),
        }
    };
    let var_off = match endian {
        ironbpf_isa::Endian::ToLe => {
            // A truncation on a little-endian host: `coerce_reg_to_size`,
            // which keeps ranges that fit.
            // `le64` changes nothing but is synced all the same.
            let mut r = *dst;
            r.coerce_to_size((width_bits / 8) as u8);
            r.sync();
            return r;
        }
        ironbpf_isa::Endian::ToBe | ironbpf_isa::Endian::Swap => {
            Tnum::new(swap(t.value), swap(t.mask))
        }
    };
    let mut r = Scalar::unknown();
    r.var_off = var_off;
    r.sync();
    r
}

/// `dst = (s8/s16/s32) src` (`movsx`, `BPF_MOV` with `off` 8, 16 or 32),
/// 64-bit (`coerce_reg_to_size_sx`) or 32-bit (`w = (s8/s16) w`,
/// `coerce_subreg_to_size_sx`, then zero-extended).
pub fn scalar_movsx(is64: bool, from_bits: u8, src: &Scalar) -> Scalar {
    let mut r = *src;
    let size = from_bits / 8;
    if is64 {
        r.coerce_to_size_sx(size);
    } else {
        r.coerce_subreg_to_size_sx(size);
        r.zext32();
    }
    r.sync();
    r
}

/// What an unknown `size_bytes`-byte load gives: zero-extended
/// (`coerce_reg_to_size`) or, for `BPF_MEMSX`, sign-extended
/// (`coerce_reg_to_size_sx`). A full 8-byte load is fully unknown.
pub fn scalar_load(size_bytes: u8, sign_extend: bool) -> Scalar {
    let mut r = Scalar::unknown();
    if size_bytes >= 8 {
        return r;
    }
    if sign_extend {
        r.coerce_to_size_sx(size_bytes);
    } else {
        r.coerce_to_size(size_bytes);
    }
    r
}

/// `dst = imm` (`BPF_MOV | BPF_K`): the immediate sign-extended for
/// `BPF_ALU64`, zero-extended from 32 bits for `BPF_ALU`.
pub fn scalar_mov_imm(is64: bool, imm: i32) -> Scalar {
    if is64 {
        Scalar::constant(i64::from(imm) as u64)
    } else {
        Scalar::constant(u64::from(imm as u32))
    }
}

/// The scalar for an instruction's immediate operand (`BPF_K` ALU ops and
/// jumps): the kernel's fake register `__mark_reg_known(imm)`, the
/// immediate sign-extended to 64 bits.
pub fn scalar_imm(imm: i32) -> Scalar {
    Scalar::constant(i64::from(imm) as u64)
}
