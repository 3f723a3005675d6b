//! The scalar print format (`print_scalar_ranges`, `tnum_strn` and the bare
//! constant of `print_reg_state`), against values the 6.18 kernel printed:
//! each line of `data/kernel_scalars.txt` is parsed into a `Scalar` (omitted
//! fields at their defaults) and must print back to the same text.

use ironbpf_verifier::alu::scalar_load;
use ironbpf_verifier::scalar::Scalar;

mod common;
use common::parse;

#[test]
fn prints_every_kernel_value_back_the_same() {
    let data = include_str!("data/kernel_scalars.txt");
    let mut n = 0;
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let s = parse(line);
        assert_eq!(s.to_log_string(), line, "from {s:?}");
        n += 1;
    }
    assert!(n > 500, "only {n} kernel values");
}

#[test]
fn the_print_rules() {
    // Constants: signed decimal within [-32768, 32767], else %#llx.
    assert_eq!(Scalar::constant(0).to_log_string(), "0");
    assert_eq!(Scalar::constant(32767).to_log_string(), "32767");
    assert_eq!(Scalar::constant(32768).to_log_string(), "0x8000");
    assert_eq!(
        Scalar::constant((-32768i64) as u64).to_log_string(),
        "-32768"
    );
    assert_eq!(
        Scalar::constant((-32769i64) as u64).to_log_string(),
        "0xffffffffffff7fff"
    );
    assert_eq!(Scalar::constant(u64::MAX).to_log_string(), "-1");
    // Unknown: nothing inside.
    assert_eq!(Scalar::unknown().to_log_string(), "scalar()");
    // A byte load: equal values of one sign share an `=`; umin=0 is a default.
    assert_eq!(
        scalar_load(1, false).to_log_string(),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
    );
    assert_eq!(
        scalar_load(4, false).to_log_string(),
        "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"
    );
    // Unsigned values are decimal up to 65535; a signed one only to 32767.
    let mut s = Scalar::unknown();
    s.umax = 65535;
    s.smax = 65535;
    assert_eq!(s.to_log_string(), "scalar(smax=umax=0xffff)");
    s.smax = i64::MAX;
    assert_eq!(s.to_log_string(), "scalar(umax=65535)");
    // Negative s32 values beyond S16 print as their u32 bits, and do not
    // merge with a positive value of the same bits.
    let mut s = Scalar::unknown();
    s.s32_min = -0x10000;
    s.u32_min = 0xffff_0000;
    assert_eq!(s.to_log_string(), "scalar(smin32=umin32=0xffff0000)");
    let mut s = Scalar::unknown();
    s.smin = -5;
    s.umin = (-5i64) as u64;
    assert_eq!(s.to_log_string(), "scalar(smin=-5,umin=0xfffffffffffffffb)");
    // With an id (CORE's): `id=N` first.
    let mut out = String::new();
    scalar_load(1, false).write_value(&mut out, 3);
    assert_eq!(
        out,
        "scalar(id=3,smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
    );
    let mut out = String::new();
    Scalar::unknown().write_value(&mut out, 2);
    assert_eq!(out, "scalar(id=2)");
}
