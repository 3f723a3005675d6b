//! The kernel suite on its runners: the kernel (`BPF_PROG_TEST_RUN`) and ironbpf's
//! interpreter give the reference return value of each program.
//!
//! The kernel's tests print `skipped: <reason>` without a usable kernel unless
//! `IRONBPF_REQUIRE_KERNEL=1`.

use ironbpf_benches::{
    check_r0, kernel_expected, InterpRunner, JitRunner, KernelRunner, Runner, KERNEL_PROGRAMS,
};
use ironbpf_vm::JitMode;

#[test]
fn the_kernel_runs_the_kernel_suite() {
    if !ironbpf_kernel::available_for_test("the_kernel_runs_the_kernel_suite") {
        return;
    }
    for p in KERNEL_PROGRAMS {
        let expected = kernel_expected(p.name).unwrap();
        let mut runner = KernelRunner::new(p.name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runner.runner_name(), "kernel");
        check_r0(&mut runner, expected).unwrap();
        // The kernel's own loop: the same r0, and a time per run.
        let (r0, ns) = runner.run_repeat(100).unwrap();
        assert_eq!(r0, expected, "{}", p.name);
        assert!(ns > 0.0, "{}", p.name);
        assert!(runner.compile_time().is_some());
        assert!(
            runner.processed_insns().is_some_and(|n| n > 0),
            "{}",
            p.name
        );
    }
}

#[test]
fn ironbpf_interpreter_runs_the_whole_kernel_suite() {
    // The map programs included: their maps live in ironbpf's runtime.
    for p in KERNEL_PROGRAMS {
        let expected = kernel_expected(p.name).unwrap();
        let mut runner = InterpRunner::kernel(p.name).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        check_r0(&mut runner, expected).unwrap();
        check_r0(&mut runner, expected).unwrap();
    }
}

#[test]
fn unknown_kernel_programs_are_refused() {
    assert!(InterpRunner::kernel("no_such_program").is_err());
    assert!(KernelRunner::new("no_such_program").is_err());
}

#[test]
fn the_verified_jit_runs_every_kernel_program_the_verifier_accepts() {
    // ironbpf-jit-verified: ironbpf's verifier, then code from its proof. A
    // program the verifier refuses is named and not run; every other gives
    // the reference r0.
    let (mut ran, mut refused) = (Vec::new(), Vec::new());
    for p in KERNEL_PROGRAMS {
        let expected = kernel_expected(p.name).unwrap();
        match JitRunner::kernel(p.name, JitMode::Verified) {
            Ok(mut runner) => {
                assert_eq!(runner.runner_name(), "ironbpf-jit-verified");
                check_r0(&mut runner, expected).unwrap_or_else(|e| panic!("{}: {e}", p.name));
                check_r0(&mut runner, expected).unwrap_or_else(|e| panic!("{}: {e}", p.name));
                ran.push(p.name);
            }
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("ironbpf's verifier refuses it"),
                    "{}: {e}",
                    p.name
                );
                refused.push(p.name);
            }
        }
    }
    println!("verified JIT ran {ran:?}; the verifier refused {refused:?}");
    // Today's verifier accepts 7 of the 9 (dispatch64 and hash_lookup hit its
    // 1,000,000-instruction limit): the floor.
    assert!(ran.len() >= 7, "ran only {ran:?}");
}

#[test]
fn the_trusted_and_checked_jit_run_the_whole_kernel_suite() {
    for p in KERNEL_PROGRAMS {
        let expected = kernel_expected(p.name).unwrap();
        for mode in [JitMode::Trusted, JitMode::Checked] {
            let mut runner =
                JitRunner::kernel(p.name, mode).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            check_r0(&mut runner, expected).unwrap_or_else(|e| panic!("{} {mode}: {e}", p.name));
            check_r0(&mut runner, expected).unwrap_or_else(|e| panic!("{} {mode}: {e}", p.name));
        }
    }
}
