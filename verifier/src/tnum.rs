//! The kernel's tracked numbers (`tnum`, kernel/bpf/tnum.c): what is known
//! about each bit of a 64-bit value. A bit whose `mask` bit is set is
//! unknown; otherwise it equals the `value` bit. `value & mask` is always 0.
//!
//! Every operation here over-approximates: for all concrete `x` in `a` and
//! `y` in `b`, `op(x, y)` is in `a.op(b)`. The operations follow the kernel's
//! definitions so that the results (and hence the verifier's log) are the
//! same bit for bit.

use std::fmt;

/// A tracked number: known bits in `value`, unknown bits in `mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tnum {
    /// The known bits' values (0 where `mask` is 1).
    pub value: u64,
    /// The unknown bits.
    pub mask: u64,
}

impl Tnum {
    /// Nothing is known: `(0x0; 0xffffffffffffffff)`.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// A tnum from its two words (the caller keeps `value & mask == 0`).
    pub const fn new(value: u64, mask: u64) -> Tnum {
        Tnum { value, mask }
    }

    /// A fully known value (`tnum_const`).
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value of `[min, max]` (`tnum_range`):
    /// the bits above the highest bit where `min` and `max` differ are known.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum::new(min & !delta, delta)
    }

    /// All bits known (`tnum_is_const`).
    pub fn is_const(self) -> bool {
        self.mask == 0
    }

    /// No bit known (`tnum_is_unknown`).
    pub fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// Whether the concrete value `v` is one this tnum allows.
    pub fn contains_value(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Shift left by a known amount (`tnum_lshift`; the amount is taken mod 64).
    pub fn lshift(self, shift: u8) -> Tnum {
        let s = u32::from(shift) & 63;
        Tnum::new(self.value << s, self.mask << s)
    }

    /// Logical shift right by a known amount (`tnum_rshift`).
    pub fn rshift(self, shift: u8) -> Tnum {
        let s = u32::from(shift) & 63;
        Tnum::new(self.value >> s, self.mask >> s)
    }

    /// Arithmetic shift right by a known amount, at 32 or 64 bits
    /// (`tnum_arshift`). At 32 bits only the low half is shifted (sign bit
    /// 31) and the result is zero-extended.
    pub fn arshift(self, min_shift: u8, insn_bitness: u8) -> Tnum {
        if insn_bitness == 32 {
            let s = u32::from(min_shift) & 31;
            Tnum::new(
                u64::from(((self.value as i32) >> s) as u32),
                u64::from(((self.mask as i32) >> s) as u32),
            )
        } else {
            let s = u32::from(min_shift) & 63;
            Tnum::new(
                ((self.value as i64) >> s) as u64,
                ((self.mask as i64) >> s) as u64,
            )
        }
    }

    /// Addition (`tnum_add`): the carries that unknown bits may cause are unknown.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum::new(sv & !mu, mu)
    }

    /// Subtraction (`tnum_sub`).
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum::new(dv & !mu, mu)
    }

    /// Two's complement negation (`tnum_neg`: `0 - a`).
    #[allow(clippy::should_implement_trait)]
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// Bitwise and (`tnum_and`).
    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum::new(v, alpha & beta & !v)
    }

    /// Bitwise or (`tnum_or`).
    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum::new(v, mu & !v)
    }

    /// Bitwise exclusive or (`tnum_xor`).
    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// Multiplication (`tnum_mul`) as Linux 6.18 computes it: long
    /// multiplication over the bits of `a` from the bottom, adding the
    /// (shifted) `b` where the bit is a known 1, and the union of "added"
    /// and "not added" where it is unknown (the refinement of the CGO'22
    /// algorithm merged for 6.18).
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let mut acc = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc = acc.add(b);
            } else if a.mask & 1 != 0 {
                acc = acc.union(acc.add(b));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        acc
    }

    /// Multiplication as the CGO'22 paper (and Linux 5.19 to 6.17) computes
    /// it: the product of the known parts plus the accumulated unknown parts.
    pub fn mul_cgo22(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum::new(0, b.mask));
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum::new(0, b.value | b.mask));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// The smallest value of the tnum greater than `z` (`tnum_step`), or
    /// `None` when there is none.
    pub fn step(self, z: u64) -> Option<u64> {
        let y = z.checked_add(1)?;
        if self.contains_value(y) {
            return Some(y);
        }
        // The smallest member above y agrees with y on the bits above some
        // bit i, has a 1 at i where y has a 0, and the least possible bits
        // below i. The lowest such i gives the smallest member.
        for i in 0..64u32 {
            let bit = 1u64 << i;
            let above = if i == 63 { 0 } else { !((bit << 1) - 1) };
            let below = bit - 1;
            if y & bit != 0 {
                continue;
            }
            if (self.value | self.mask) & bit == 0 {
                continue;
            }
            if (y ^ self.value) & !self.mask & above != 0 {
                continue;
            }
            return Some((y & above) | bit | (self.value & below));
        }
        None
    }

    /// What both tnums know (`tnum_intersect`). When they disagree on a
    /// known bit the result says 1 there, as the kernel's does.
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// The smallest tnum holding every value of both (`tnum_union`).
    pub fn union(self, b: Tnum) -> Tnum {
        let v = self.value & b.value;
        let mu = (self.value ^ b.value) | self.mask | b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// Whether some value is in both (no known bit disagrees).
    pub fn overlaps(self, b: Tnum) -> bool {
        let mu = self.mask | b.mask;
        self.value & !mu == b.value & !mu
    }

    /// Truncated to its low `size_bytes` bytes (`tnum_cast`); sizes of 8 or
    /// more leave it whole.
    pub fn cast(self, size_bytes: u8) -> Tnum {
        if size_bytes >= 8 {
            return self;
        }
        let m = (1u64 << (u32::from(size_bytes) * 8)) - 1;
        Tnum::new(self.value & m, self.mask & m)
    }

    /// The low 32 bits (`tnum_subreg`).
    pub fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The high 32 bits with the low half known zero (`tnum_clear_subreg`).
    pub fn clear_subreg(self) -> Tnum {
        self.rshift(32).lshift(32)
    }

    /// The high half of `self` with the low half of `sub` (`tnum_with_subreg`).
    pub fn with_subreg(self, sub: Tnum) -> Tnum {
        self.clear_subreg().or(sub.subreg())
    }

    /// The high half of `self` with a known low half `v` (`tnum_const_subreg`).
    pub fn const_subreg(self, v: u32) -> Tnum {
        self.with_subreg(Tnum::constant(u64::from(v)))
    }

    /// The low 32 bits are all known (`tnum_subreg_is_const`).
    pub fn subreg_is_const(self) -> bool {
        self.subreg().mask == 0
    }

    /// Every value is a multiple of `size` (a power of two; 0 counts as
    /// aligned) (`tnum_is_aligned`).
    pub fn is_aligned(self, size: u64) -> bool {
        if size == 0 {
            return true;
        }
        (self.value | self.mask) & (size - 1) == 0
    }

    /// Every value of `other` is a value of `self` (`tnum_in(self, other)`).
    pub fn contains(self, other: Tnum) -> bool {
        if other.mask & !self.mask != 0 {
            return false;
        }
        self.value == other.value & !self.mask
    }

    /// The bits as a 64-character string of `0`, `1` and `x` (`tnum_sbin`).
    pub fn to_bin_string(self) -> String {
        (0..64)
            .rev()
            .map(|i| {
                if (self.mask >> i) & 1 != 0 {
                    'x'
                } else if (self.value >> i) & 1 != 0 {
                    '1'
                } else {
                    '0'
                }
            })
            .collect()
    }
}

impl Default for Tnum {
    fn default() -> Self {
        Tnum::UNKNOWN
    }
}

/// `(0x0; 0xff)`, as the kernel's log prints `var_off` (`tnum_strn`: both
/// words with `%#llx`, so zero is `0x0`).
impl fmt::Display for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:#x}; {:#x})", self.value, self.mask)
    }
}
