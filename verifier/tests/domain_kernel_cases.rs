//! Cases read off the 6.18 kernel's level-2 logs (kernel_regstate's
//! generated programs, seeds named below) where both the register before an
//! instruction and after it were printed: the domain must give the kernel's
//! text. They pin the 6.18 behaviours that older kernels (and a first
//! reading of verifier.c) do not have, without needing bpf(2).

use ironbpf_isa::{AluOp, Endian, JmpOp};
use ironbpf_verifier::alu::{
    maybe_fork_scalars, scalar_alu, scalar_bswap, scalar_imm, scalar_movsx,
};
use ironbpf_verifier::branch::{is_branch_taken, reg_set_min_max};
use ironbpf_verifier::scalar::Scalar;
use ironbpf_verifier::tnum::Tnum;

mod common;
use common::parse;

#[test]
fn lsh_by_32_takes_the_s32_bounds_whatever_their_sign() {
    // seed 0x9999 (body 90) program 654, `r5 <<= 32`.
    let r5 = parse("scalar(smin=0xffffffff80000000,smax=0xffffffff80008000,umin=0xffffffff80000000,umax=0xffffffff80008000,smax32=umax32=0x80008000,umin32=0x80000000,var_off=(0xffffffff80000000; 0xffff))");
    let r = scalar_alu(AluOp::Lsh, true, &r5, &scalar_imm(32));
    assert_eq!(
        r.to_log_string(),
        "scalar(smax=0x8000800000000000,umin=0x8000000000000000,umax=0x8000800000000000,smin32=0,smax32=umax32=0,var_off=(0x8000000000000000; 0xffff00000000))"
    );
}

#[test]
fn jset_fall_through_ranges_come_from_the_tnum() {
    // seed 0x5ca1ab1ed00df00d program 18, `if r0 & 0x1e goto pc+2`.
    let r0 = parse("scalar(smax=9)");
    let c = scalar_imm(0x1e);
    assert_eq!(is_branch_taken(JmpOp::Jset, false, &r0, &c), None);
    let e = reg_set_min_max(JmpOp::Jset, false, &r0, &c);
    assert_eq!(
        e.fallthrough.0.to_log_string(),
        "scalar(smax=0x7fffffffffffffe1,umax=0xffffffffffffffe1,smax32=0x7fffffe1,umax32=0xffffffe1,var_off=(0x0; 0xffffffffffffffe1))"
    );
    // The taken edge learns nothing from a constant of two bits.
    assert_eq!(e.taken.0.to_log_string(), "scalar(smax=9)");
    assert!(e.violations.is_empty());
}

#[test]
fn an_edge_the_tnum_excludes_gets_the_kernels_constant() {
    // seed 0x6666 program 1376, `if r0 > 0xea goto pc+2`: no value of the
    // tnum is in [214, 234], and the kernel goes on with R0=207.
    let r0 = parse("scalar(smin=0xf0000000000000d6,smax=0xfffffff6000000f,umin=smin32=umin32=214,umax=0xffffffff6000000f,smax32=umax32=0x6000000f,var_off=(0x0; 0xffffffff6000000f))");
    let c = scalar_imm(0xea);
    assert_eq!(is_branch_taken(JmpOp::Jgt, false, &r0, &c), None);
    let e = reg_set_min_max(JmpOp::Jgt, false, &r0, &c);
    assert_eq!(e.fallthrough.0.to_log_string(), "207");
}

#[test]
fn movsx_keeps_what_the_low_half_knows() {
    // seed 0x5ca1ab1ed00df00d program 31, `r3 = (s32)r3`.
    let r3 = parse(
        "scalar(smin=0,smax=umax=umax32=0xffffff25,smax32=0x7fffff25,var_off=(0x0; 0xffffff25))",
    );
    assert_eq!(
        scalar_movsx(true, 32, &r3).to_log_string(),
        "scalar(smin=0xffffffff80000000,smax=smax32=0x7fffff25,umax=0xffffffffffffff25,umax32=0xffffff25)"
    );
    // program 16, `r7 = (s16)r2`: [-1, 0] sign-extends to itself.
    let r2 = parse("scalar(smin=smin32=-1,smax=smax32=0)");
    assert_eq!(
        scalar_movsx(true, 16, &r2).to_log_string(),
        "scalar(smin=smin32=-1,smax=smax32=0)"
    );
}

#[test]
fn and_or_with_a_constant_fork_a_zero_or_minus_one_register() {
    // seed 0x1111 program 193, `w0 &= w5` with w5 = 553: the kernel goes
    // on with w0 = -1 (R0=553) and comes back to the same instruction with
    // w0 = 0 (`from 16 to 16`).
    let w0 = parse("scalar(smin=smin32=-1,smax=smax32=0)");
    let c = Scalar::constant(553);
    let (on, pushed) = maybe_fork_scalars(AluOp::And, &w0, &c).expect("forks");
    assert_eq!(
        scalar_alu(AluOp::And, false, &on, &c).to_log_string(),
        "553"
    );
    assert_eq!(
        scalar_alu(AluOp::And, false, &pushed, &c).to_log_string(),
        "0"
    );
    assert!(maybe_fork_scalars(AluOp::Xor, &w0, &c).is_none());
    assert!(maybe_fork_scalars(AluOp::And, &Scalar::urange(0, 1), &c).is_none());
}

#[test]
fn byte_swaps_are_tracked() {
    // seed 0x5ca1ab1ed00df00d program 6, `r8 = be64 r8` on 0xffffff80.
    let r8 = Scalar::constant(0xffff_ff80);
    assert_eq!(
        scalar_bswap(Endian::ToBe, 64, &r8).to_log_string(),
        "0x80ffffff00000000"
    );
    // program 0, `r2 = bswap16 r2` on an unknown.
    assert_eq!(
        scalar_bswap(Endian::Swap, 16, &Scalar::unknown()).to_log_string(),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=0xffff,var_off=(0x0; 0xffff))"
    );
}

#[test]
fn an_empty_refinement_is_logged_and_unbounded() {
    // seed 0x9999 (body 90) program 55, `if r3 != r7 goto pc+3`: the
    // fall-through's r7, as the kernel's message describes it, then r7 as
    // the kernel printed it next.
    let mut r7 = Scalar {
        var_off: Tnum::new(0, 0xffff_ffff_0000_0000),
        smin: 0x8000_0000_0000_000fu64 as i64,
        smax: 0x7fff_ffff_0000_0000,
        umin: 0xf,
        umax: 0xffff_ffff_0000_0000,
        s32_min: 0xf,
        s32_max: 0,
        u32_min: 0xf,
        u32_max: 0,
    };
    assert_eq!(
        r7.check_or_unbound("false_reg2").as_deref(),
        Some("verifier bug: REG INVARIANTS VIOLATION (false_reg2): range bounds violation u64=[0xf, 0xffffffff00000000] s64=[0x800000000000000f, 0x7fffffff00000000] u32=[0xf, 0x0] s32=[0xf, 0x0] var_off=(0x0, 0xffffffff00000000)")
    );
    assert_eq!(
        r7.to_log_string(),
        "scalar(var_off=(0x0; 0xffffffff00000000))"
    );
    // Not synced again: the kernel prints it as it is, a state its own check
    // would still refuse (the low half is a known 0, the u32 range is not).
    assert!(r7.sanity_check().is_err());
}
