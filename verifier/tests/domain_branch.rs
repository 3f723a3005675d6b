//! Soundness of `is_branch_taken` and of the branch refinement, for every
//! `JmpOp` on JMP and JMP32: a decided branch must be decided for every pair
//! of concrete values, and neither edge's refinement may drop a pair that
//! takes that edge.

use ironbpf_isa::JmpOp;
use ironbpf_verifier::branch::{eval, is_branch_taken, refine, refine_unchecked};
use ironbpf_verifier::scalar::Scalar;
use ironbpf_verifier::tnum::Tnum;

fn abstract_of(xs: &[u64]) -> Scalar {
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

const BASES: [u64; 8] = [
    0,
    0x7c,
    0x7fff_fffc,
    0xffff_fffc,
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
    // Sets with holes, for the tnum-driven decisions (jset, jeq).
    for &b in &BASES {
        for bits in [0b101u64, 0b1010, 0b1001, 0b110, 0b10001] {
            v.push(vec![b, b | bits, b & !bits]);
        }
    }
    v
}

fn check(op: JmpOp, is32: bool, xs: &[u64], ys: &[u64], a: &Scalar, b: &Scalar) {
    let decided = is_branch_taken(op, is32, a, b);
    let mut seen = [false, false];
    for &x in xs {
        for &y in ys {
            let t = eval(op, is32, x, y);
            seen[usize::from(t)] = true;
            if let Some(d) = decided {
                assert_eq!(
                    d,
                    t,
                    "{op:?} is32={is32}: decided {d} but {x:#x} vs {y:#x} gives {t} ({} vs {})",
                    a.to_log_string(),
                    b.to_log_string()
                );
            }
        }
    }
    for taken in [false, true] {
        let (ra, rb) = refine_unchecked(op, is32, a, b, taken);
        let checked = refine(op, is32, a, b, taken);
        if seen[usize::from(taken)] {
            let Some((ca, cb)) = checked else {
                panic!(
                    "{op:?} is32={is32} taken={taken}: refine says impossible, but pairs take it"
                );
            };
            assert_eq!((ca, cb), (ra, rb));
        }
        for &x in xs {
            for &y in ys {
                if eval(op, is32, x, y) == taken {
                    assert!(
                        ra.contains_value(x) && rb.contains_value(y),
                        "{op:?} is32={is32} taken={taken}: {x:#x} vs {y:#x} dropped: {} / {} from {} / {}",
                        ra.to_log_string(),
                        rb.to_log_string(),
                        a.to_log_string(),
                        b.to_log_string()
                    );
                }
            }
        }
    }
}

#[test]
fn every_jump_is_sound_on_window_pairs() {
    let ws = windows();
    let abs: Vec<Scalar> = ws.iter().map(|w| abstract_of(w)).collect();
    let second: Vec<usize> = (0..ws.len()).step_by(3).collect();
    for op in JmpOp::ALL {
        for is32 in [false, true] {
            for i in 0..ws.len() {
                for &j in &second {
                    check(op, is32, &ws[i], &ws[j], &abs[i], &abs[j]);
                }
            }
        }
    }
}

#[test]
fn every_jump_is_sound_against_constants() {
    // `if rX op imm`: the second operand is the sign-extended immediate.
    let ws = windows();
    let imms: Vec<i32> = vec![
        0,
        1,
        2,
        4,
        5,
        7,
        8,
        -1,
        -2,
        0x7c,
        0x7f,
        i32::MIN,
        i32::MAX,
        0x7fff_fffd,
        -4,
    ];
    for op in JmpOp::ALL {
        for is32 in [false, true] {
            for w in &ws {
                let a = abstract_of(w);
                for &imm in &imms {
                    let y = i64::from(imm) as u64;
                    check(op, is32, w, &[y], &a, &Scalar::constant(y));
                    check(op, is32, &[y], w, &Scalar::constant(y), &a);
                }
            }
        }
    }
}

#[test]
fn every_jump_is_sound_on_random_sets() {
    const SEED: u64 = 0x0b4a_9c11_0000_0003;
    eprintln!("domain_branch: seed {SEED:#x}");
    let mut s = SEED;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..20_000 {
        let set = |next: &mut dyn FnMut() -> u64| -> Vec<u64> {
            let base = match next() % 3 {
                0 => next(),
                1 => BASES[(next() % 8) as usize],
                _ => next() >> (next() % 64),
            };
            (0..1 + next() % 5)
                .map(|_| base.wrapping_add(next() % 32))
                .collect()
        };
        let xs = set(&mut next);
        let ys = set(&mut next);
        let (a, b) = (abstract_of(&xs), abstract_of(&ys));
        for op in JmpOp::ALL {
            for is32 in [false, true] {
                check(op, is32, &xs, &ys, &a, &b);
            }
        }
    }
}

#[test]
fn decisions_the_kernel_makes() {
    let r = Scalar::urange(0, 255);
    let c = |v: u64| Scalar::constant(v);
    assert_eq!(is_branch_taken(JmpOp::Jgt, false, &r, &c(255)), Some(false));
    assert_eq!(is_branch_taken(JmpOp::Jle, false, &r, &c(255)), Some(true));
    assert_eq!(is_branch_taken(JmpOp::Jgt, false, &r, &c(254)), None);
    assert_eq!(is_branch_taken(JmpOp::Jeq, false, &r, &c(256)), Some(false));
    assert_eq!(is_branch_taken(JmpOp::Jne, false, &r, &c(300)), Some(true));
    assert_eq!(
        is_branch_taken(JmpOp::Jset, false, &r, &c(0x100)),
        Some(false)
    );
    assert_eq!(
        is_branch_taken(JmpOp::Jsgt, false, &r, &c(u64::MAX)),
        Some(true)
    );
    // JMP32 looks at the low halves only.
    let hi = Scalar::constant(0x1_0000_0005);
    assert_eq!(is_branch_taken(JmpOp::Jeq, true, &hi, &c(5)), Some(true));
    assert_eq!(is_branch_taken(JmpOp::Jeq, false, &hi, &c(5)), Some(false));
    // The refinement of `r < 10` on [0, 255].
    let (t, _) = refine(JmpOp::Jlt, false, &r, &c(10), true).unwrap();
    assert_eq!(
        t.to_log_string(),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=9,var_off=(0x0; 0xf))"
    );
    let (f, _) = refine(JmpOp::Jlt, false, &r, &c(10), false).unwrap();
    assert_eq!(
        f.to_log_string(),
        "scalar(smin=umin=smin32=umin32=10,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
    );
    // An empty state fails the kernel's sanity check with its message.
    let mut empty = Scalar::unknown();
    empty.umin = 5;
    empty.umax = 4;
    assert_eq!(
        empty.sanity_check().unwrap_err(),
        "range bounds violation u64=[0x5, 0x4] s64=[0x8000000000000000, 0x7fffffffffffffff] \
         u32=[0x0, 0xffffffff] s32=[0x80000000, 0x7fffffff] var_off=(0x0, 0xffffffffffffffff)"
    );
    // Constants are decided before any refinement.
    assert_eq!(
        is_branch_taken(JmpOp::Jeq, false, &c(1), &c(2)),
        Some(false)
    );
}

#[test]
fn every_jump_is_sound_on_every_5_bit_range_against_every_5_bit_constant() {
    // Exhaustive at 5 bits, at 0 and just below the u32 and s32 wrap points
    // (where JMP32 and the signed compares turn).
    for base in [0u64, 0xffff_fff0, 0x7fff_fff0] {
        for lo in 0..32u64 {
            for hi in lo..32u64 {
                let xs: Vec<u64> = (lo..=hi).map(|k| base.wrapping_add(k)).collect();
                let a = Scalar::urange(base + lo, base + hi);
                for k in 0..32u64 {
                    let y = base.wrapping_add(k);
                    let b = Scalar::constant(y);
                    for op in JmpOp::ALL {
                        for is32 in [false, true] {
                            check(op, is32, &xs, &[y], &a, &b);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn same_register_jumps_are_sound() {
    // `if rX op rX`: every value that takes an edge stays on it.
    use ironbpf_verifier::branch::reg_set_min_max_same_reg;
    for w in windows() {
        let a = abstract_of(&w);
        for op in JmpOp::ALL {
            for is32 in [false, true] {
                let e = reg_set_min_max_same_reg(op, is32, &a);
                for &x in &w {
                    let r = if eval(op, is32, x, x) {
                        &e.taken
                    } else {
                        &e.fallthrough
                    };
                    assert!(
                        r.contains_value(x),
                        "{op:?} is32={is32} {x:#x} dropped: {}",
                        r.to_log_string()
                    );
                }
            }
        }
    }
}
