//! Each runner (ironbpf's interpreter and the peers) gives the reference r0 on each
//! VM-suite program.

use ironbpf_benches::{
    check_r0, native_compiler, vm_expected, InterpRunner, JitRunner, NativeRunner, RbpfMode,
    RbpfRunner, Runner, VM_PROGRAMS,
};
use ironbpf_vm::JitMode;

fn check_all(make: impl Fn(&str) -> Box<dyn Runner>) {
    for program in VM_PROGRAMS {
        let expected = vm_expected(program.name).unwrap();
        let mut runner = make(program.name);
        check_r0(runner.as_mut(), expected).unwrap();
        // A second run on the same (possibly written) memory gives the same r0.
        check_r0(runner.as_mut(), expected).unwrap();
    }
}

#[test]
fn ironbpf_interpreter_runs_the_vm_suite() {
    check_all(|name| Box::new(InterpRunner::vm(name).unwrap()));
    let runner = InterpRunner::vm("prime").unwrap();
    assert_eq!(runner.runner_name(), "ironbpf-interp");
    assert!(runner.compile_time().is_some());
}

#[test]
fn native_runs_the_vm_suite() {
    assert!(!native_compiler().is_empty());
    check_all(|name| Box::new(NativeRunner::new(name).unwrap()));
}

#[test]
fn native_scalar_runs_the_vm_suite() {
    check_all(|name| Box::new(NativeRunner::scalar(name).unwrap()));
    assert_eq!(
        NativeRunner::scalar("prime").unwrap().runner_name(),
        "native-scalar"
    );
}

#[test]
fn ironbpf_jit_runs_the_vm_suite_trusted_and_checked_but_not_verified() {
    for mode in [JitMode::Trusted, JitMode::Checked] {
        check_all(|name| Box::new(JitRunner::vm(name, mode).unwrap()));
    }
    // The VM suite's programs take raw memory, which no program type's
    // verifier accepts as r1: the verified runner says so.
    let e = JitRunner::vm("simple", JitMode::Verified)
        .unwrap_err()
        .to_string();
    assert!(e.contains("kernel suite"), "{e}");
}

#[test]
fn rbpf_interpreter_runs_the_vm_suite() {
    check_all(|name| Box::new(RbpfRunner::new(name, RbpfMode::Interpreter).unwrap()));
}

#[test]
fn rbpf_jit_runs_the_vm_suite() {
    check_all(|name| Box::new(RbpfRunner::new(name, RbpfMode::Jit).unwrap()));
}

#[test]
fn unknown_programs_are_refused_by_every_runner() {
    assert!(InterpRunner::vm("no_such_program").is_err());
    assert!(NativeRunner::new("no_such_program").is_err());
    assert!(RbpfRunner::new("no_such_program", RbpfMode::Interpreter).is_err());
    assert!(RbpfRunner::new("no_such_program", RbpfMode::Jit).is_err());
}

#[test]
fn a_wrong_expectation_is_reported() {
    let mut runner = NativeRunner::new("simple").unwrap();
    let err = check_r0(&mut runner, 43).unwrap_err().to_string();
    assert!(err.contains("native") && err.contains("simple"), "{err}");
}

#[test]
fn peer_runners_name_themselves_as_reports_do() {
    use ironbpf_benches::{vm_peer_runner, VmPeer};
    for peer in VmPeer::ALL {
        let mut runner = vm_peer_runner(peer, "memory_a_plus_b").unwrap();
        assert_eq!(runner.runner_name(), peer.name());
        assert_eq!(runner.program(), "memory_a_plus_b");
        check_r0(runner.as_mut(), vm_expected("memory_a_plus_b").unwrap()).unwrap();
    }
}

#[test]
fn median_helper_times_and_checks() {
    use ironbpf_benches::median_ns_per_run;
    let mut runner = NativeRunner::new("switch").unwrap();
    let expected = vm_expected("switch").unwrap();
    let ns = median_ns_per_run(&mut runner, expected, 3, 10).unwrap();
    assert!(ns > 0.0);
    assert!(median_ns_per_run(&mut runner, expected ^ 1, 1, 1).is_err());
}

#[test]
fn measure_checks_r0_then_times() {
    use ironbpf_benches::measure;
    use std::time::Duration;
    let mut runner = InterpRunner::vm("switch").unwrap();
    let expected = vm_expected("switch").unwrap();
    let m = measure(&mut runner, expected, 3, Duration::from_millis(1)).unwrap();
    assert_eq!(m.samples, 3);
    assert!(m.iterations >= 1);
    assert!(0.0 < m.min_ns && m.min_ns <= m.median_ns && m.median_ns <= m.max_ns);
    let err = measure(&mut runner, expected ^ 1, 3, Duration::from_millis(1)).unwrap_err();
    assert!(err.to_string().contains("ironbpf-interp"), "{err}");
}

#[test]
fn only_the_jit_reports_a_compile_time_among_rbpf_runners() {
    let jit = RbpfRunner::new("simple", RbpfMode::Jit).unwrap();
    let interp = RbpfRunner::new("simple", RbpfMode::Interpreter).unwrap();
    assert!(jit.compile_time().is_some());
    assert!(interp.compile_time().is_none());
    assert!(NativeRunner::new("simple")
        .unwrap()
        .compile_time()
        .is_none());
}
