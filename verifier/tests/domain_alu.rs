//! Soundness of the scalar transfer functions and of `reg_bounds_sync`:
//! every concrete value an abstract input allows must give a concrete result
//! the abstract output allows.
//!
//! Inputs are abstractions of small sets of concrete values: exhaustively
//! every interval of an 8-value window placed at the interesting places of
//! the 64-bit and 32-bit number lines (0, the s32/u32/s64/u64 wrap points),
//! and randomly sampled sets (pinned, printed seeds) of values anywhere.

use ironbpf_isa::{AluOp, Endian};
use ironbpf_verifier::alu::{
    scalar_alu, scalar_bswap, scalar_imm, scalar_load, scalar_movsx, scalar_neg,
};
use ironbpf_verifier::scalar::Scalar;
use ironbpf_verifier::tnum::Tnum;

/// The most precise abstraction of a finite set: every field from the set
/// itself (the tnum is the bitwise join), then synced.
pub fn abstract_of(xs: &[u64]) -> Scalar {
    let and = xs.iter().fold(u64::MAX, |a, &x| a & x);
    let or = xs.iter().fold(0, |a, &x| a | x);
    let mut s = Scalar {
        var_off: Tnum::new(and, and ^ or),
        smin: xs.iter().map(|&x| x as i64).min().unwrap_or(0),
        smax: xs.iter().map(|&x| x as i64).max().unwrap_or(0),
        umin: xs.iter().copied().min().unwrap_or(0),
        umax: xs.iter().copied().max().unwrap_or(0),
        s32_min: xs.iter().map(|&x| x as i32).min().unwrap_or(0),
        s32_max: xs.iter().map(|&x| x as i32).max().unwrap_or(0),
        u32_min: xs.iter().map(|&x| x as u32).min().unwrap_or(0),
        u32_max: xs.iter().map(|&x| x as u32).max().unwrap_or(0),
    };
    s.sync();
    s
}

/// The concrete semantics of an ALU instruction (RFC 9669: division by zero
/// gives 0, modulo by zero leaves dst, shifts are masked to the width;
/// ALU32 works on the low halves and zero-extends).
pub fn concrete(op: AluOp, is64: bool, x: u64, y: u64) -> u64 {
    if is64 {
        match op {
            AluOp::Add => x.wrapping_add(y),
            AluOp::Sub => x.wrapping_sub(y),
            AluOp::Mul => x.wrapping_mul(y),
            AluOp::Div => x.checked_div(y).unwrap_or(0),
            AluOp::SDiv => {
                if y == 0 {
                    0
                } else {
                    (x as i64).wrapping_div(y as i64) as u64
                }
            }
            AluOp::Mod => x.checked_rem(y).unwrap_or(x),
            AluOp::SMod => {
                if y == 0 {
                    x
                } else {
                    (x as i64).wrapping_rem(y as i64) as u64
                }
            }
            AluOp::Or => x | y,
            AluOp::And => x & y,
            AluOp::Xor => x ^ y,
            AluOp::Lsh => x << (y & 63),
            AluOp::Rsh => x >> (y & 63),
            AluOp::Arsh => ((x as i64) >> (y & 63)) as u64,
            AluOp::Mov => y,
        }
    } else {
        let (a, b) = (x as u32, y as u32);
        u64::from(match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::Div => a.checked_div(b).unwrap_or(0),
            AluOp::SDiv => {
                if b == 0 {
                    0
                } else {
                    (a as i32).wrapping_div(b as i32) as u32
                }
            }
            AluOp::Mod => a.checked_rem(b).unwrap_or(a),
            AluOp::SMod => {
                if b == 0 {
                    a
                } else {
                    (a as i32).wrapping_rem(b as i32) as u32
                }
            }
            AluOp::Or => a | b,
            AluOp::And => a & b,
            AluOp::Xor => a ^ b,
            AluOp::Lsh => a << (b & 31),
            AluOp::Rsh => a >> (b & 31),
            AluOp::Arsh => ((a as i32) >> (b & 31)) as u32,
            AluOp::Mov => b,
        })
    }
}

/// The places on the number line where the domains' corner cases live.
const BASES: [u64; 9] = [
    0,
    0x7c,
    0x7fff_fffc,
    0xffff_fffc,
    0x1_0000_0000 - 2,
    0x7fff_ffff_ffff_fffc,
    0xffff_ffff_ffff_fffc,
    0xffff_ffff_7fff_fffc,
    0x0000_0001_ffff_fffc,
];

fn windows() -> Vec<Vec<u64>> {
    let mut v = Vec::new();
    for &b in &BASES {
        for lo in 0..8u64 {
            for hi in lo..8u64 {
                v.push((lo..=hi).map(|k| b.wrapping_add(k)).collect());
            }
        }
    }
    v
}

fn check_alu(op: AluOp, is64: bool, xs: &[u64], ys: &[u64], a: &Scalar, b: &Scalar) {
    let r = scalar_alu(op, is64, a, b);
    if let Err(e) = r.sanity_check() {
        panic!("{op:?} is64={is64}: {a:?} op {b:?} = {r:?}: {e}");
    }
    for &x in xs {
        for &y in ys {
            let z = concrete(op, is64, x, y);
            assert!(
                r.contains_value(z),
                "{op:?} is64={is64}: {x:#x} op {y:#x} = {z:#x} is not in {} (from {} and {})",
                r.to_log_string(),
                a.to_log_string(),
                b.to_log_string()
            );
        }
    }
}

#[test]
fn abstraction_of_a_set_holds_the_set() {
    for w in windows() {
        let s = abstract_of(&w);
        s.sanity_check().unwrap();
        for &x in &w {
            assert!(s.contains_value(x), "{x:#x} not in {s:?}");
        }
    }
}

#[test]
fn every_alu_op_is_sound_on_every_window_pair() {
    let ws = windows();
    let abs: Vec<Scalar> = ws.iter().map(|w| abstract_of(w)).collect();
    // All pairs of windows would be 324^2 per op; every window against
    // every window from a thinned set keeps it exhaustive in the first
    // operand and covers every base in the second.
    let second: Vec<usize> = (0..ws.len()).step_by(5).collect();
    for op in AluOp::ALL {
        for is64 in [true, false] {
            for i in 0..ws.len() {
                for &j in &second {
                    check_alu(op, is64, &ws[i], &ws[j], &abs[i], &abs[j]);
                }
            }
        }
    }
}

#[test]
fn shifts_by_every_constant_amount_are_sound() {
    let ws = windows();
    for op in [AluOp::Lsh, AluOp::Rsh, AluOp::Arsh] {
        for is64 in [true, false] {
            for k in 0..64u64 {
                let b = Scalar::constant(k);
                for w in &ws {
                    check_alu(op, is64, w, &[k], &abstract_of(w), &b);
                }
            }
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A value near a random corner, or anywhere.
    fn value(&mut self) -> u64 {
        let r = self.next();
        match r % 4 {
            0 => self.next(),
            1 => BASES[(r >> 8) as usize % BASES.len()].wrapping_add(self.next() % 16),
            2 => self.next() >> (self.next() % 64),
            _ => (self.next() % 512).wrapping_sub(256),
        }
    }
    fn set(&mut self) -> Vec<u64> {
        let n = 1 + self.next() % 6;
        let base = self.value();
        (0..n)
            .map(|_| {
                if self.next().is_multiple_of(2) {
                    base.wrapping_add(self.next() % 64)
                } else {
                    self.value()
                }
            })
            .collect()
    }
}

#[test]
fn every_alu_op_is_sound_on_random_sets() {
    const SEED: u64 = 0xa1u64 << 56 | 0x5eed;
    eprintln!("domain_alu: seed {SEED:#x}");
    let mut rng = Rng(SEED);
    for _ in 0..20_000 {
        let (xs, ys) = (rng.set(), rng.set());
        let (a, b) = (abstract_of(&xs), abstract_of(&ys));
        for op in AluOp::ALL {
            for is64 in [true, false] {
                check_alu(op, is64, &xs, &ys, &a, &b);
            }
        }
        // Immediates as the kernel's fake register.
        let imm = rng.next() as i32;
        let bimm = scalar_imm(imm);
        for op in AluOp::ALL {
            for is64 in [true, false] {
                check_alu(op, is64, &xs, &[i64::from(imm) as u64], &a, &bimm);
            }
        }
    }
}

#[test]
fn neg_movsx_bswap_and_loads_are_sound() {
    const SEED: u64 = 0xbee5_0000_0042;
    eprintln!("domain_alu: seed {SEED:#x}");
    let mut rng = Rng(SEED);
    let mut sets = windows();
    for _ in 0..5_000 {
        sets.push(rng.set());
    }
    for xs in &sets {
        let a = abstract_of(xs);
        for is64 in [true, false] {
            let r = scalar_neg(is64, &a);
            r.sanity_check().unwrap();
            for &x in xs {
                let z = if is64 {
                    x.wrapping_neg()
                } else {
                    u64::from((x as u32).wrapping_neg())
                };
                assert!(
                    r.contains_value(z),
                    "neg is64={is64} {x:#x} -> {z:#x} not in {r:?}"
                );
            }
        }
        for (is64, bits) in [(true, 8u8), (true, 16), (true, 32), (false, 8), (false, 16)] {
            let r = scalar_movsx(is64, bits, &a);
            r.sanity_check().unwrap();
            for &x in xs {
                let s: i64 = match bits {
                    8 => i64::from(x as i8),
                    16 => i64::from(x as i16),
                    _ => i64::from(x as i32),
                };
                let z = if is64 { s as u64 } else { u64::from(s as u32) };
                assert!(
                    r.contains_value(z),
                    "movsx is64={is64} s{bits} {x:#x} -> {z:#x} not in {} from {}",
                    r.to_log_string(),
                    a.to_log_string()
                );
            }
        }
        for (endian, width) in [
            (Endian::ToLe, 16u32),
            (Endian::ToLe, 32),
            (Endian::ToLe, 64),
            (Endian::ToBe, 16),
            (Endian::ToBe, 32),
            (Endian::ToBe, 64),
            (Endian::Swap, 16),
            (Endian::Swap, 32),
            (Endian::Swap, 64),
        ] {
            let r = scalar_bswap(endian, width, &a);
            r.sanity_check().unwrap();
            for &x in xs {
                let z = match (endian, width) {
                    (Endian::ToLe, 16) => u64::from(x as u16),
                    (Endian::ToLe, 32) => u64::from(x as u32),
                    (Endian::ToLe, _) => x,
                    (_, 16) => u64::from((x as u16).swap_bytes()),
                    (_, 32) => u64::from((x as u32).swap_bytes()),
                    _ => x.swap_bytes(),
                };
                assert!(
                    r.contains_value(z),
                    "{endian:?}{width} {x:#x} -> {z:#x} not in {r:?}"
                );
            }
        }
    }
    for size in [1u8, 2, 4, 8] {
        for sx in [false, true] {
            let r = scalar_load(size, sx);
            r.sanity_check().unwrap();
            for _ in 0..2000 {
                let raw = rng.next();
                let z = match (size, sx) {
                    (8, _) => raw,
                    (s, false) => raw & ((1u64 << (s * 8)) - 1),
                    (1, true) => raw as i8 as i64 as u64,
                    (2, true) => raw as i16 as i64 as u64,
                    (_, true) => raw as i32 as i64 as u64,
                };
                assert!(
                    r.contains_value(z),
                    "load size {size} sx={sx}: {z:#x} not in {r:?}"
                );
            }
        }
    }
}

#[test]
fn sync_keeps_every_value_of_arbitrary_states() {
    // Random bounds and tnums, each checked against the candidates that
    // satisfy them before the sync: the sync may only drop impossible ones.
    const SEED: u64 = 0x5c_0000_0000_0007;
    eprintln!("domain_alu: seed {SEED:#x}");
    let mut rng = Rng(SEED);
    let mut checked = 0u64;
    for _ in 0..30_000 {
        let pts: Vec<u64> = (0..24).map(|_| rng.value()).collect();
        let pick = |rng: &mut Rng| pts[(rng.next() % 24) as usize];
        let (u1, u2) = (pick(&mut rng), pick(&mut rng));
        let (s1, s2) = (pick(&mut rng) as i64, pick(&mut rng) as i64);
        let (a1, a2) = (pick(&mut rng) as u32, pick(&mut rng) as u32);
        let (b1, b2) = (pick(&mut rng) as i32, pick(&mut rng) as i32);
        let mut s = Scalar::unknown();
        if rng.next().is_multiple_of(2) {
            s.umin = u1.min(u2);
            s.umax = u1.max(u2);
        }
        if rng.next().is_multiple_of(2) {
            s.smin = s1.min(s2);
            s.smax = s1.max(s2);
        }
        if rng.next().is_multiple_of(2) {
            s.u32_min = a1.min(a2);
            s.u32_max = a1.max(a2);
        }
        if rng.next().is_multiple_of(2) {
            s.s32_min = b1.min(b2);
            s.s32_max = b1.max(b2);
        }
        if rng.next().is_multiple_of(2) {
            let m = rng.next() | rng.next();
            s.var_off = Tnum::new(pick(&mut rng) & !m, m);
        }
        let before = s;
        let mut after = s;
        after.sync();
        for &x in &pts {
            if before.contains_value(x) {
                checked += 1;
                assert!(
                    after.contains_value(x),
                    "sync dropped {x:#x}: {before:?} -> {after:?}"
                );
                assert!(
                    after.sanity_check().is_ok(),
                    "a state holding {x:#x} fails the check: {after:?}"
                );
            }
        }
    }
    assert!(checked > 10_000, "too few members checked: {checked}");
}

#[test]
fn every_alu_op_is_sound_on_every_6_bit_range_and_constant() {
    // Exhaustive at 6 bits: every range [lo, hi] within 0..64, placed at 0
    // and just below the s32 wrap point, against every constant 0..64.
    for base in [0u64, 0x7fff_ffc0] {
        for lo in 0..64u64 {
            for hi in lo..64u64 {
                let xs: Vec<u64> = (lo..=hi).map(|k| base + k).collect();
                let a = Scalar::urange(base + lo, base + hi);
                for y in 0..64u64 {
                    let b = Scalar::constant(y);
                    for op in AluOp::ALL {
                        for is64 in [true, false] {
                            check_alu(op, is64, &xs, &[y], &a, &b);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn unary_ops_are_sound_on_every_8_bit_range() {
    // Exhaustive at 8 bits for the one-operand ops: every range within
    // 0..256, at 0 and shifted to the s8/s16/s32 sign boundaries.
    for base in [0u64, 0x7f80, 0x7fff_ff80, 0xffff_ff80] {
        for lo in 0..256u64 {
            for hi in (lo..256u64).step_by(3) {
                let xs: Vec<u64> = (lo..=hi).map(|k| base + k).collect();
                let a = Scalar::urange(base + lo, base + hi);
                for is64 in [true, false] {
                    let r = scalar_neg(is64, &a);
                    for &x in &xs {
                        let z = if is64 {
                            x.wrapping_neg()
                        } else {
                            u64::from((x as u32).wrapping_neg())
                        };
                        assert!(r.contains_value(z), "neg {x:#x}");
                    }
                }
                for (is64, bits) in [(true, 8u8), (true, 16), (true, 32), (false, 8), (false, 16)] {
                    let r = scalar_movsx(is64, bits, &a);
                    for &x in &xs {
                        let s: i64 = match bits {
                            8 => i64::from(x as i8),
                            16 => i64::from(x as i16),
                            _ => i64::from(x as i32),
                        };
                        let z = if is64 { s as u64 } else { u64::from(s as u32) };
                        assert!(
                            r.contains_value(z),
                            "movsx{bits} is64={is64} {x:#x} -> {z:#x} not in {}",
                            r.to_log_string()
                        );
                    }
                }
                for width in [16u32, 32] {
                    let le = scalar_bswap(Endian::ToLe, width, &a);
                    let be = scalar_bswap(Endian::ToBe, width, &a);
                    for &x in &xs {
                        let (t, s) = if width == 16 {
                            (u64::from(x as u16), u64::from((x as u16).swap_bytes()))
                        } else {
                            (u64::from(x as u32), u64::from((x as u32).swap_bytes()))
                        };
                        assert!(
                            le.contains_value(t) && be.contains_value(s),
                            "end{width} {x:#x}"
                        );
                    }
                }
            }
        }
    }
}
