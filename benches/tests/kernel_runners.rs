//! The kernel suite on its runners: the kernel (`BPF_PROG_TEST_RUN`) and ironbpf's
//! interpreter give the reference return value of each program.
//!
//! The kernel's tests print `skipped: <reason>` without a usable kernel unless
//! `IRONBPF_REQUIRE_KERNEL=1`.

use ironbpf_benches::{
    check_r0, kernel_expected, InterpRunner, KernelRunner, Runner, KERNEL_PROGRAMS,
};

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
