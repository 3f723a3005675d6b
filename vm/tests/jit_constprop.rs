//! The JIT's own constant propagation against state pruning: a program
//! whose two paths join with different values in a register the verifier
//! never needs precise, so that it prunes the second path against the
//! first and sees one constant where runs see two. The verified (and
//! trusted) JIT must compute what the interpreter computes on both paths,
//! and the proof of one program must not compile another.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{progtype, Engine, HelperRegistry, Interpreter, JitProgram, Options};

/// r7 = 6 when the packet's first byte is 0, else 7; written to the
/// packet's byte 1. The join at `r7 = r6` is a prune point where r6 (1 or
/// 2) is not precise: no branch or pointer depends on it.
const PROGRAM: &str = "\
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 8
if r4 > r3 goto +9
r5 = *(u8 *)(r2 + 0)
r6 = 1
if r5 == 0 goto +1
r6 = 2
r7 = r6
r7 += 5
*(u8 *)(r2 + 1) = r7
r0 = 2
exit
r0 = 1
exit";

/// The slot of `r7 += 5`.
const ADD: usize = 10;

fn verify(slots: &[ironbpf_isa::RawInsn]) -> (ironbpf_verifier::VerifiedProgram, String) {
    let mut o = ironbpf_verifier::VerifyOptions::new(ironbpf_progtype::ProgTypeId::Xdp);
    o.log_level = 2;
    let out = ironbpf_verifier::verify(slots, &o);
    let log = out.log.clone();
    (out.result.expect("the verifier accepts it"), log)
}

fn run(engine: &dyn Engine, first: u8) -> (u64, u8) {
    let mut pkt = vec![first, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut ctx = vec![0u8; progtype::XDP.ctx_size as usize];
    let r0 = ironbpf_vm::engine::run_ctx_into(
        engine,
        &progtype::XDP,
        None,
        &mut ctx,
        Some(&mut pkt),
        None,
        None,
    )
    .expect("the run ends normally");
    (r0, pkt[1])
}

#[test]
fn a_constant_of_one_explored_path_is_not_folded_after_pruning() {
    let prog = assemble_program(PROGRAM).unwrap();
    let (proof, log) = verify(prog.slots());
    assert!(
        log.contains("safe"),
        "the verifier no longer prunes the second path at the join; this test needs a program it prunes:\n{log}"
    );
    let interp = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).unwrap();
    let insns = JitProgram::jit_insns(&interp);
    let consts = ironbpf_jit::constprop::const_results(&insns);
    assert_eq!(consts[6], Some(1), "r6 = 1 is a constant");
    assert_eq!(consts[ADD], None, "r7 is 6 on one path and 7 on the other");
    let verified = JitProgram::verified(interp.clone(), &proof).unwrap();
    // SAFETY: the verifier accepted the program just above.
    let trusted = unsafe { JitProgram::trusted(interp.clone()) }.unwrap();
    for (first, want) in [(0u8, 6u8), (1, 7), (200, 7)] {
        assert_eq!(run(&interp, first), (2, want), "interpreter, byte {first}");
        assert_eq!(
            run(&verified, first),
            (2, want),
            "verified JIT, byte {first}"
        );
        assert_eq!(run(&trusted, first), (2, want), "trusted JIT, byte {first}");
    }
}

#[test]
fn a_proof_of_other_instructions_is_refused() {
    let prog = assemble_program(PROGRAM).unwrap();
    let (proof, _) = verify(prog.slots());
    assert!(proof.proves(prog.slots()));
    // The same length, one immediate changed.
    let other = assemble_program(&PROGRAM.replace("r6 = 2", "r6 = 3")).unwrap();
    assert_eq!(other.slots().len(), prog.slots().len());
    assert!(!proof.proves(other.slots()));
    let interp = Interpreter::new(&other, &HelperRegistry::new(), Options::default()).unwrap();
    let err = JitProgram::verified(interp, &proof)
        .unwrap_err()
        .to_string();
    assert!(err.contains("proof"), "{err}");
    // Another length.
    let short = assemble_program("r0 = 2\nexit").unwrap();
    let interp = Interpreter::new(&short, &HelperRegistry::new(), Options::default()).unwrap();
    assert!(JitProgram::verified(interp, &proof).is_err());
}
