//! Soundness and precision of the tnum operations: exhaustively over every
//! tnum of the low 4 bits (81 tnums, every pair, every member of each), and
//! sampled over 64-bit tnums with a pinned seed.

use ironbpf_verifier::tnum::Tnum;

/// Every tnum whose unknown and known bits lie in the low `bits` bits.
fn all_tnums(bits: u32) -> Vec<Tnum> {
    let n = 1u64 << bits;
    let mut v = Vec::new();
    for mask in 0..n {
        for value in 0..n {
            if value & mask == 0 {
                v.push(Tnum::new(value, mask));
            }
        }
    }
    v
}

/// The members of a tnum with few unknown bits.
fn members(t: Tnum) -> Vec<u64> {
    let bits: Vec<u32> = (0..64).filter(|i| t.mask >> i & 1 == 1).collect();
    assert!(bits.len() <= 12, "too many members to list for {t}");
    (0..1u64 << bits.len())
        .map(|k| {
            let mut x = t.value;
            for (j, b) in bits.iter().enumerate() {
                if k >> j & 1 == 1 {
                    x |= 1 << b;
                }
            }
            x
        })
        .collect()
}

type BinOp = (&'static str, fn(Tnum, Tnum) -> Tnum, fn(u64, u64) -> u64);

fn binops() -> Vec<BinOp> {
    vec![
        ("add", Tnum::add, u64::wrapping_add),
        ("sub", Tnum::sub, u64::wrapping_sub),
        ("and", Tnum::and, |a, b| a & b),
        ("or", Tnum::or, |a, b| a | b),
        ("xor", Tnum::xor, |a, b| a ^ b),
        ("mul", Tnum::mul, u64::wrapping_mul),
        ("mul_cgo22", Tnum::mul_cgo22, u64::wrapping_mul),
    ]
}

#[test]
fn binary_ops_are_sound_on_every_4_bit_tnum() {
    let ts = all_tnums(4);
    assert_eq!(ts.len(), 81);
    for (name, f, concrete) in binops() {
        for &a in &ts {
            for &b in &ts {
                let r = f(a, b);
                assert_eq!(r.value & r.mask, 0, "{name}({a}, {b}) = {r} is malformed");
                for x in members(a) {
                    for y in members(b) {
                        let z = concrete(x, y);
                        assert!(
                            r.contains_value(z),
                            "{name}({a}, {b}) = {r} misses {x:#x} op {y:#x} = {z:#x}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn binary_ops_are_exact_on_constants() {
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..20_000 {
        let (x, y) = (next(), next());
        for (name, f, concrete) in binops() {
            let r = f(Tnum::constant(x), Tnum::constant(y));
            assert_eq!(r, Tnum::constant(concrete(x, y)), "{name}({x:#x}, {y:#x})");
        }
    }
}

#[test]
fn mul_differs_from_the_cgo22_algorithm_and_is_mostly_more_precise() {
    // 6.18's tnum_mul replaced the CGO'22 one. Over every pair of 4-bit
    // tnums, count how often each knows strictly more than the other.
    let ts = all_tnums(4);
    let (mut same, mut new_better, mut old_better, mut neither) = (0, 0, 0, 0);
    for &a in &ts {
        for &b in &ts {
            let new = a.mul(b);
            let old = a.mul_cgo22(b);
            if new == old {
                same += 1;
            } else if old.contains(new) {
                new_better += 1;
            } else if new.contains(old) {
                old_better += 1;
            } else {
                neither += 1;
            }
        }
    }
    eprintln!("tnum_mul vs CGO'22 on 4-bit pairs: same {same}, 6.18 better {new_better}, CGO'22 better {old_better}, incomparable {neither}");
    assert_eq!(same + new_better + old_better + neither, 81 * 81);
    assert!(
        new_better > 10 * (old_better + neither),
        "6.18's mul should mostly be the more precise"
    );
}

#[test]
fn shifts_casts_and_subregs_are_sound_on_sampled_64_bit_tnums() {
    const SEED: u64 = 0x7e57_ab1e_0000_0001;
    eprintln!("domain_tnum: seed {SEED:#x}");
    let mut s = SEED;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..20_000 {
        // A tnum with at most 8 unknown bits anywhere in the word.
        let mut mask = 0u64;
        for _ in 0..(next() % 9) {
            mask |= 1 << (next() % 64);
        }
        let t = Tnum::new(next() & !mask, mask);
        let sh = (next() % 64) as u8;
        let sh32 = sh & 31;
        for x in members(t) {
            assert!(t.lshift(sh).contains_value(x << sh), "{t} << {sh}");
            assert!(t.rshift(sh).contains_value(x >> sh), "{t} >> {sh}");
            assert!(
                t.arshift(sh, 64).contains_value(((x as i64) >> sh) as u64),
                "{t} s>> {sh}"
            );
            let a32 = u64::from(((x as u32 as i32) >> sh32) as u32);
            assert!(t.arshift(sh32, 32).contains_value(a32), "{t} s>>32 {sh32}");
            assert!(t.neg().contains_value(x.wrapping_neg()), "-{t}");
            for size in [1u8, 2, 4, 8] {
                let m = if size == 8 {
                    u64::MAX
                } else {
                    (1u64 << (size * 8)) - 1
                };
                assert!(t.cast(size).contains_value(x & m), "cast({t}, {size})");
            }
            assert!(t.subreg().contains_value(x & 0xffff_ffff));
            assert!(t.clear_subreg().contains_value(x & !0xffff_ffff));
            assert!(t.contains_value(x));
        }
    }
}

#[test]
fn range_intersect_union_and_in_are_the_kernels() {
    let ts = all_tnums(4);
    for min in 0..16u64 {
        for max in min..16u64 {
            let r = Tnum::range(min, max);
            for x in min..=max {
                assert!(r.contains_value(x), "range({min}, {max}) = {r} misses {x}");
            }
        }
    }
    assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
    assert_eq!(Tnum::range(0, 255), Tnum::new(0, 0xff));
    assert_eq!(Tnum::range(4, 7), Tnum::new(4, 3));
    assert_eq!(Tnum::range(5, 5), Tnum::constant(5));
    for &a in &ts {
        for &b in &ts {
            let i = a.intersect(b);
            let u = a.union(b);
            for x in 0..16u64 {
                if a.contains_value(x) && b.contains_value(x) {
                    assert!(i.contains_value(x), "{a} ∩ {b} = {i} misses {x}");
                }
                if a.contains_value(x) || b.contains_value(x) {
                    assert!(u.contains_value(x), "{a} ∪ {b} = {u} misses {x}");
                }
            }
            // tnum_in(a, b): every member of b is a member of a.
            let all_in = members(b).iter().all(|&x| a.contains_value(x));
            assert_eq!(a.contains(b), all_in, "tnum_in({a}, {b})");
            let overlap = (0..16u64).any(|x| a.contains_value(x) && b.contains_value(x));
            assert_eq!(a.overlaps(b), overlap, "overlap({a}, {b})");
        }
    }
}

#[test]
fn step_finds_the_next_member() {
    for t in all_tnums(5) {
        for z in 0..40u64 {
            let want = (z + 1..64).find(|&x| t.contains_value(x));
            assert_eq!(t.step(z), want, "step({t}, {z})");
        }
    }
    assert_eq!(Tnum::UNKNOWN.step(u64::MAX), None);
    assert_eq!(Tnum::constant(7).step(3), Some(7));
}

#[test]
fn is_aligned_and_the_print_format() {
    assert!(Tnum::new(0x10, 0x30).is_aligned(16));
    assert!(!Tnum::new(0x10, 0x31).is_aligned(2));
    assert!(Tnum::new(3, 0).is_aligned(0));
    assert_eq!(Tnum::new(0, 0xff).to_string(), "(0x0; 0xff)");
    assert_eq!(Tnum::UNKNOWN.to_string(), "(0x0; 0xffffffffffffffff)");
    assert_eq!(
        Tnum::new(0x80000000, 0x7fffff7f).to_string(),
        "(0x80000000; 0x7fffff7f)"
    );
    assert_eq!(
        Tnum::new(5, 2).to_bin_string(),
        format!("{}1x1", "0".repeat(61))
    );
}
