//! ALU instructions on registers (`check_alu_op`): moves, scalar arithmetic
//! through the scalar domain, and pointer arithmetic
//! (`adjust_ptr_min_max_vals`) with the kernel's refusals.

use crate::alu;
use crate::cfg::libc_errno::*;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::scalar::Scalar;
use crate::state::*;
use ironbpf_isa::{AluOp, Insn, Operand, Width};

/// `BPF_MAX_VAR_OFF`.
pub const BPF_MAX_VAR_OFF: i64 = 1 << 29;

/// `bpf_alu_string`.
pub fn alu_string(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div | AluOp::SDiv => "/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod | AluOp::SMod => "%=",
        AluOp::Xor => "^=",
        AluOp::Mov => "=",
        AluOp::Arsh => "s>>=",
    }
}

impl Env<'_> {
    /// `check_alu_op`.
    pub(crate) fn check_alu(&mut self, insn: &Insn) -> VResult {
        match *insn {
            Insn::Neg { width, dst } => {
                let d = dst.index();
                self.check_src(d)?;
                if self.is_pointer_value(d) {
                    return Err(self.reject(
                        RejectionKind::PointerArithmetic {
                            reg: d as u8,
                            ptr_type: self.type_str(d),
                        },
                        format!("R{d} pointer arithmetic prohibited"),
                    ));
                }
                self.check_dst(d)?;
                let r = *self.cur.reg(d);
                let v = if r.is_scalar() {
                    alu::scalar_neg(width == Width::W64, &r.val)
                } else {
                    Scalar::unknown()
                };
                *self.cur.reg_mut(d) = RegState::scalar(v);
                Ok(())
            }
            Insn::Endian { kind, bits, dst } => {
                let d = dst.index();
                self.check_src(d)?;
                if self.is_pointer_value(d) {
                    return Err(self.reject(
                        RejectionKind::PointerArithmetic {
                            reg: d as u8,
                            ptr_type: self.type_str(d),
                        },
                        format!("R{d} pointer arithmetic prohibited"),
                    ));
                }
                self.check_dst(d)?;
                let r = *self.cur.reg(d);
                let v = if r.is_scalar() {
                    alu::scalar_bswap(kind, bits as u32, &r.val)
                } else {
                    Scalar::unknown()
                };
                *self.cur.reg_mut(d) = RegState::scalar(v);
                Ok(())
            }
            Insn::MovSx {
                width,
                dst,
                src,
                bits,
            } => {
                let (d, s) = (dst.index(), src.index());
                self.check_src(s)?;
                self.check_dst(d)?;
                let sr = *self.cur.reg(s);
                if sr.is_pointer() {
                    if !self.opts.privileged {
                        return Err(self.reject(
                            RejectionKind::PointerLeak {
                                reg: s as u8,
                                into: "a sign-extended register",
                            },
                            format!("R{s} sign-extension part of pointer"),
                        ));
                    }
                    *self.cur.reg_mut(d) = RegState::unknown();
                    return Ok(());
                }
                let v = alu::scalar_movsx(width == Width::W64, bits, &sr.val);
                // A value the sign extension leaves as it is stays linked
                // to its source (`no_sext` in check_alu_op), as a move does.
                let no_sext = sr.val.umax < 1u64 << (bits - 1);
                let id = if no_sext {
                    self.scalar_id_before_mov(s)
                } else {
                    0
                };
                let mut r = RegState::scalar(v);
                r.id = id;
                *self.cur.reg_mut(d) = r;
                Ok(())
            }
            Insn::Alu {
                op: AluOp::Mov,
                width,
                dst,
                src,
            } => {
                let d = dst.index();
                match src {
                    Operand::Reg(s) => {
                        let s = s.index();
                        self.check_src(s)?;
                        self.check_dst(d)?;
                        let sr = *self.cur.reg(s);
                        if width == Width::W64 {
                            self.scalar_id_before_mov(s);
                            *self.cur.reg_mut(d) = *self.cur.reg(s);
                        } else if sr.is_pointer() {
                            if !self.opts.privileged {
                                return Err(self.reject(
                                    RejectionKind::PointerLeak {
                                        reg: s as u8,
                                        into: "a 32-bit register",
                                    },
                                    format!("R{s} partial copy of pointer"),
                                ));
                            }
                            *self.cur.reg_mut(d) = RegState::unknown();
                        } else {
                            // A source no wider than 32 bits is the same
                            // value after the move: the two stay linked.
                            let id = if sr.val.umax <= u64::from(u32::MAX) {
                                self.scalar_id_before_mov(s)
                            } else {
                                0
                            };
                            let mut v = sr.val;
                            v.zext32();
                            v.sync();
                            let mut r = RegState::scalar(v);
                            r.id = id;
                            *self.cur.reg_mut(d) = r;
                        }
                    }
                    Operand::Imm(imm) => {
                        self.check_dst(d)?;
                        let v = alu::scalar_mov_imm(width == Width::W64, imm);
                        *self.cur.reg_mut(d) = RegState::scalar(v);
                    }
                }
                Ok(())
            }
            Insn::Alu {
                op,
                width,
                dst,
                src,
            } => {
                let d = dst.index();
                if let Operand::Reg(s) = src {
                    self.check_src(s.index())?;
                }
                self.check_src(d)?;
                if let Operand::Imm(imm) = src {
                    if matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod) && imm == 0
                    {
                        return Err(self.reject_errno(
                            EINVAL,
                            RejectionKind::DivByZero,
                            "div by zero".into(),
                        ));
                    }
                    let size = if width == Width::W64 { 64 } else { 32 };
                    if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh)
                        && !(0..size).contains(&imm)
                    {
                        return Err(self.reject_errno(
                            EINVAL,
                            RejectionKind::InvalidShift { shift: imm },
                            format!("invalid shift {imm}"),
                        ));
                    }
                }
                self.check_dst(d)?;
                self.adjust_reg_min_max_vals(op, width, d, src)
            }
            _ => Ok(()),
        }
    }

    /// `adjust_reg_min_max_vals`.
    fn adjust_reg_min_max_vals(
        &mut self,
        op: AluOp,
        width: Width,
        d: usize,
        src: Operand,
    ) -> VResult {
        let dr = *self.cur.reg(d);
        let (sr, src_is_reg) = match src {
            Operand::Reg(s) => (*self.cur.reg(s.index()), true),
            Operand::Imm(imm) => (
                RegState::constant(if width == Width::W64 {
                    imm as i64 as u64
                } else {
                    imm as u32 as u64
                }),
                false,
            ),
        };
        if src_is_reg && sr.is_pointer() {
            if dr.is_pointer() {
                if op == AluOp::Sub && self.opts.privileged {
                    *self.cur.reg_mut(d) = RegState::unknown();
                    return Ok(());
                }
                return Err(self.reject(
                    RejectionKind::PointerArithmetic {
                        reg: d as u8,
                        ptr_type: dr.type_str(),
                    },
                    format!("R{d} pointer {} pointer prohibited", alu_string(op)),
                ));
            }
            // scalar += pointer
            return self.adjust_ptr(op, width, d, &sr, &dr, true);
        }
        if dr.is_pointer() {
            return self.adjust_ptr(op, width, d, &dr, &sr, false);
        }
        let is64 = width == Width::W64;
        let mut dr = dr;
        if matches!(op, AluOp::And | AluOp::Or) && sr.val.var_off.is_const() {
            self.maybe_fork_scalars(d, &mut dr)?;
        }
        // Where the kernel does not track the op (division, modulo, a
        // shift by a register), the result is unknown in all 64 bits, even
        // for a 32-bit op: `adjust_scalar_min_max_vals` returns before its
        // zero-extension (`w6 s%= 5 ; R6=scalar()` in the 6.18 log).
        let v = if alu::is_safe_to_compute(op, is64, &sr.val) {
            alu::scalar_alu(op, is64, &dr.val, &sr.val)
        } else {
            Scalar::unknown()
        };
        let mut out = RegState::scalar(v);
        // `rX += const` / `rX -= const` keeps rX linked to the registers
        // it was copied from, with the constant as its delta (`off`);
        // every other op breaks the link.
        let src_const = if is64 {
            sr.val.var_off.is_const().then_some(sr.val.var_off.value)
        } else {
            sr.val
                .var_off
                .subreg()
                .is_const()
                .then_some(sr.val.var_off.value as u32 as u64)
        };
        if let (true, AluOp::Add | AluOp::Sub, true, Some(val)) =
            (self.opts.privileged, op, dr.id != 0, src_const)
        {
            let delta = if !is64 {
                (dr.val.umax <= u64::from(u32::MAX)).then_some(val as u32 as i32)
            } else {
                i32::try_from(val as i64).ok()
            };
            let delta = match (delta, op) {
                (Some(x), AluOp::Sub) => x.checked_neg(),
                (x, _) => x,
            };
            if let (Some(off), 0) = (delta, dr.id & BPF_ADD_CONST) {
                out.id = dr.id
                    | if is64 {
                        BPF_ADD_CONST64
                    } else {
                        BPF_ADD_CONST32
                    };
                out.off = off;
            }
        }
        *self.cur.reg_mut(d) = out;
        Ok(())
    }

    /// `maybe_fork_scalars`: a `dst & K` or `dst | K` whose dst is -1 or 0
    /// (in 64 bits, else in its low 32: what `x s>>= 63` leaves) goes on
    /// with dst = -1, and the same instruction is queued with dst = 0.
    fn maybe_fork_scalars(&mut self, d: usize, dr: &mut RegState) -> VResult {
        let v = dr.val;
        let alu32 = if v.smin == -1 && v.smax == 0 {
            false
        } else if v.s32_min == -1 && v.s32_max == 0 {
            true
        } else {
            return Ok(());
        };
        let mut branch = self.cur.clone();
        let zero = &mut branch.reg_mut(d).val;
        if alu32 {
            zero.mark_32_known(0);
            dr.val.mark_32_known(u32::MAX);
        } else {
            *zero = Scalar::constant(0);
            dr.val = Scalar::constant(u64::MAX);
        }
        *self.cur.reg_mut(d) = *dr;
        self.push_branch(branch, self.pc)
    }

    /// `assign_scalar_id_before_mov`: the id a move shares with the scalar
    /// in `s`, given a fresh one when it has none and is not a constant.
    pub(crate) fn scalar_id_before_mov(&mut self, s: usize) -> u32 {
        let sr = *self.cur.reg(s);
        if !sr.is_scalar() {
            return 0;
        }
        if sr.id & BPF_ADD_CONST != 0 {
            // A register that already went through `rX += const` cannot
            // carry a second delta: the move unlinks it.
            let r = self.cur.reg_mut(s);
            r.id = 0;
            r.off = 0;
        }
        if self.cur.reg(s).id == 0 && !sr.val.var_off.is_const() {
            let id = self.new_id();
            self.cur.reg_mut(s).id = id;
        }
        self.cur.reg(s).id
    }

    /// `check_reg_sane_offset`.
    fn check_sane_offset(&self, r: &RegState, ptr_type: &str, is_off_reg: bool) -> VResult {
        let known = r.val.var_off.is_const();
        let val = r.val.var_off.value as i64;
        let smin = r.val.smin;
        let fail = |msg: String| {
            Err(self.reject_errno(
                EACCES,
                RejectionKind::PointerArithmetic {
                    reg: 0,
                    ptr_type: ptr_type.into(),
                },
                msg,
            ))
        };
        if known && !(-BPF_MAX_VAR_OFF + 1..BPF_MAX_VAR_OFF).contains(&val) {
            return fail(format!(
                "math between {ptr_type} pointer and {val} is not allowed"
            ));
        }
        if !is_off_reg && !(-BPF_MAX_VAR_OFF + 1..BPF_MAX_VAR_OFF).contains(&(r.off as i64)) {
            return fail(format!(
                "{ptr_type} pointer offset {} is not allowed",
                r.off
            ));
        }
        if smin == i64::MIN {
            return fail(format!(
                "math between {ptr_type} pointer and register with unbounded min value is not allowed"
            ));
        }
        if !(-BPF_MAX_VAR_OFF + 1..BPF_MAX_VAR_OFF).contains(&smin) {
            return fail(format!(
                "value {smin} makes {ptr_type} pointer be out of bounds"
            ));
        }
        Ok(())
    }

    /// `adjust_ptr_min_max_vals`: `d = ptr op off`.
    fn adjust_ptr(
        &mut self,
        op: AluOp,
        width: Width,
        d: usize,
        ptr: &RegState,
        off: &RegState,
        scalar_plus_ptr: bool,
    ) -> VResult {
        let ts = ptr.type_str();
        if width != Width::W64 {
            if op == AluOp::Sub && self.opts.privileged {
                *self.cur.reg_mut(d) = RegState::unknown();
                return Ok(());
            }
            return Err(self.reject(
                RejectionKind::PointerArithmetic {
                    reg: d as u8,
                    ptr_type: ts,
                },
                format!("R{d} 32-bit pointer arithmetic prohibited"),
            ));
        }
        if ptr.maybe_null {
            return Err(self.reject(
                RejectionKind::PointerArithmetic {
                    reg: d as u8,
                    ptr_type: ts.clone(),
                },
                format!("R{d} pointer arithmetic on {ts} prohibited, null-check it first"),
            ));
        }
        let known = off.val.var_off.is_const();
        let smin_val = off.val.smin;
        let allowed = match ptr.ty {
            RegType::Ctx
            | RegType::MapValue
            | RegType::MapKey
            | RegType::Stack
            | RegType::PacketMeta
            | RegType::Packet
            | RegType::TpBuffer
            | RegType::BtfId
            | RegType::Mem
            | RegType::Func => true,
            RegType::FlowKeys => known,
            RegType::ConstPtrToMap => known && smin_val == 0 && op == AluOp::Add,
            _ => false,
        };
        if !allowed {
            return Err(self.reject(
                RejectionKind::PointerArithmetic {
                    reg: d as u8,
                    ptr_type: ts.clone(),
                },
                format!("R{d} pointer arithmetic on {ts} prohibited"),
            ));
        }
        let o = off.val;
        let inconsistent =
            (known && (o.smin != o.smax || o.umin != o.umax)) || o.smin > o.smax || o.umin > o.umax;
        if ptr.ty == RegType::Mem && ptr.btf_flags & btf_flag::UNTRUSTED != 0 {
            // Loads through untrusted memory are probing loads: the kernel
            // does not track its offsets (bpf_rdonly_cast to void).
            *self.cur.reg_mut(d) = if inconsistent {
                RegState::unknown()
            } else {
                *ptr
            };
            return Ok(());
        }
        self.check_sane_offset(off, &ts, true)?;
        self.check_sane_offset(ptr, &ts, false)?;
        if (known && (o.smin != o.smax || o.umin != o.umax)) || o.smin > o.smax || o.umin > o.umax {
            *self.cur.reg_mut(d) = RegState::unknown();
            return Ok(());
        }
        let mut dst = *ptr;
        dst.val.mark_32_unbounded();
        let p = ptr.val;
        match op {
            AluOp::Add => {
                let fixed = ptr.off as i64 + smin_val;
                if known && fixed == fixed as i32 as i64 {
                    dst.off = fixed as i32;
                    dst.val = p;
                    dst.val.mark_32_unbounded();
                    // AT_PKT_END / BEYOND_PKT_END are about the pointer
                    // itself, not about the moved one.
                    if dst.range < 0 {
                        dst.range = 0;
                    }
                } else {
                    dst.val.smin = p.smin.checked_add(o.smin).unwrap_or(i64::MIN);
                    dst.val.smax = p.smax.checked_add(o.smax).unwrap_or(i64::MAX);
                    if p.smin.checked_add(o.smin).is_none() || p.smax.checked_add(o.smax).is_none()
                    {
                        dst.val.smin = i64::MIN;
                        dst.val.smax = i64::MAX;
                    }
                    match (p.umin.checked_add(o.umin), p.umax.checked_add(o.umax)) {
                        (Some(a), Some(b)) => {
                            dst.val.umin = a;
                            dst.val.umax = b;
                        }
                        _ => {
                            dst.val.umin = 0;
                            dst.val.umax = u64::MAX;
                        }
                    }
                    dst.val.var_off = p.var_off.add(o.var_off);
                    if ptr.ty.is_pkt() {
                        dst.id = self.new_id();
                        dst.range = 0;
                    }
                }
            }
            AluOp::Sub => {
                if scalar_plus_ptr {
                    return Err(self.reject(
                        RejectionKind::PointerArithmetic {
                            reg: d as u8,
                            ptr_type: ts,
                        },
                        format!("R{d} tried to subtract pointer from scalar"),
                    ));
                }
                if ptr.ty == RegType::Stack {
                    return Err(self.reject(
                        RejectionKind::PointerArithmetic {
                            reg: d as u8,
                            ptr_type: ts,
                        },
                        format!("R{d} subtraction from stack pointer prohibited"),
                    ));
                }
                let fixed = ptr.off as i64 - smin_val;
                if known && fixed == fixed as i32 as i64 {
                    dst.off = fixed as i32;
                    dst.val = p;
                    dst.val.mark_32_unbounded();
                    // AT_PKT_END / BEYOND_PKT_END are about the pointer
                    // itself, not about the moved one.
                    if dst.range < 0 {
                        dst.range = 0;
                    }
                } else {
                    match (p.smin.checked_sub(o.smax), p.smax.checked_sub(o.smin)) {
                        (Some(a), Some(b)) => {
                            dst.val.smin = a;
                            dst.val.smax = b;
                        }
                        _ => {
                            dst.val.smin = i64::MIN;
                            dst.val.smax = i64::MAX;
                        }
                    }
                    if p.umin < o.umax {
                        dst.val.umin = 0;
                        dst.val.umax = u64::MAX;
                    } else {
                        dst.val.umin = p.umin - o.umax;
                        dst.val.umax = p.umax - o.umin;
                    }
                    dst.val.var_off = p.var_off.sub(o.var_off);
                    if ptr.ty.is_pkt() {
                        dst.id = self.new_id();
                        dst.range = 0;
                    }
                }
            }
            AluOp::And | AluOp::Or | AluOp::Xor => {
                return Err(self.reject(
                    RejectionKind::PointerArithmetic {
                        reg: d as u8,
                        ptr_type: ts,
                    },
                    format!(
                        "R{d} bitwise operator {} on pointer prohibited",
                        alu_string(op)
                    ),
                ));
            }
            _ => {
                return Err(self.reject(
                    RejectionKind::PointerArithmetic {
                        reg: d as u8,
                        ptr_type: ts,
                    },
                    format!(
                        "R{d} pointer arithmetic with {} operator prohibited",
                        alu_string(op)
                    ),
                ));
            }
        }
        self.check_sane_offset(&dst, &ts, false)?;
        dst.val.sync();
        if !self.opts.privileged {
            self.sanitize_check_bounds(d, &dst)?;
        }
        *self.cur.reg_mut(d) = dst;
        Ok(())
    }

    /// `sanitize_check_bounds`: unprivileged pointers stay within their
    /// object, and stack pointers keep a constant offset.
    fn sanitize_check_bounds(&self, d: usize, dst: &RegState) -> VResult {
        match dst.ty {
            RegType::Stack => {
                if !dst.val.var_off.is_const() {
                    return Err(self.reject(
                        RejectionKind::PointerArithmetic {
                            reg: d as u8,
                            ptr_type: dst.type_str(),
                        },
                        format!(
                            "R{d} variable stack access prohibited for !root, var_off={} off={}",
                            dst.val.var_off, dst.off
                        ),
                    ));
                }
                let off = dst.off as i64 + dst.val.var_off.value as i64;
                if !(-(MAX_BPF_STACK as i64)..=0).contains(&off) {
                    return Err(self.reject(
                        RejectionKind::StackOutOfBounds { off, size: 1 },
                        format!(
                            "R{d} stack pointer arithmetic goes out of range, prohibited for !root"
                        ),
                    ));
                }
            }
            RegType::MapValue => {
                let vs = self
                    .opts
                    .maps
                    .get(dst.map as usize)
                    .map(|m| m.value_size as i64)
                    .unwrap_or(0);
                let lo = dst.off as i64 + dst.val.smin;
                let hi = dst.off as i64 + dst.val.umax as i64;
                if lo < 0 || hi > vs || dst.val.umax > vs as u64 {
                    return Err(self.reject(
                        RejectionKind::OutOfBounds {
                            reg: d as u8,
                            region: "map value",
                            off: lo,
                            size: 0,
                            limit: vs,
                        },
                        format!("R{d} pointer arithmetic of map value goes out of range, prohibited for !root"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
