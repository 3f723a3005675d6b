//! The verified JIT (code shaped by ironbpf's verifier's proof: dead code
//! dropped, decided branches resolved, constants folded, no checks) against
//! the interpreter on the diff generator's XDP programs that the verifier
//! accepts. The seeds are pinned and printed.

use ironbpf_conformance::diff::{compare, verify_case, DiffVerdict, VmXdp};
use ironbpf_conformance::gen;
use ironbpf_vm::{JitMode, Options};

const FIRST_SEED: u64 = 1;
const CASES: u64 = 1500;

#[test]
fn the_verified_jit_agrees_with_the_interpreter_on_verified_programs() {
    let o = Options::default();
    let (jit, interp) = (VmXdp::jit(JitMode::Verified, o), VmXdp::interp(o));
    let (mut verified, mut agreed, mut disagreed) = (0, 0, Vec::new());
    for seed in FIRST_SEED..FIRST_SEED + CASES {
        let case = gen::generate(seed);
        if verify_case(&case).is_err() {
            continue;
        }
        verified += 1;
        match compare(&jit, &interp, &case) {
            DiffVerdict::Agreed => agreed += 1,
            DiffVerdict::RefusedByReference(_) => {}
            DiffVerdict::Disagreed { ours, reference } => disagreed.push(format!(
                "seed {seed}: jit-verified {ours:?}, interp {reference:?}"
            )),
        }
    }
    println!(
        "seeds {FIRST_SEED}..{}: {verified} of {CASES} verified, {agreed} agreed, {} disagreed",
        FIRST_SEED + CASES,
        disagreed.len()
    );
    assert_eq!(disagreed, Vec::<String>::new());
    // The generator's programs are written to verify: most must, or this
    // test compares nothing.
    assert!(verified * 2 > CASES, "only {verified} of {CASES} verified");
    assert_eq!(agreed, verified);
}
