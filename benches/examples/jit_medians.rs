//! Prints the median time of one run (ns) of every VM-suite program on ironbpf's JIT
//! (trusted and checked) beside native, native-scalar and rbpf's JIT, after checking
//! each runner's r0 against the reference (thread CPU time, as `measure` takes it): a
//! quick look, not the bench.
//!
//! `cargo run --release -p ironbpf-benches --example jit_medians [PROGRAM...]`

use std::time::Duration;

use ironbpf_benches::{
    check_r0, measure, vm_expected, vm_peer_runner, BenchError, JitRunner, Runner, VmPeer,
    VM_PROGRAMS,
};
use ironbpf_vm::JitMode;

fn main() -> Result<(), BenchError> {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let names = ["jit", "jit-checked", "native", "native-scalar", "rbpf-jit"];
    print!("{:<16}", "program");
    for n in names {
        print!("{n:>14}");
    }
    println!();
    for program in VM_PROGRAMS {
        if !only.is_empty() && !only.iter().any(|o| o == program.name) {
            continue;
        }
        let expected = vm_expected(program.name)?;
        let runners: Vec<Box<dyn Runner>> = vec![
            Box::new(JitRunner::vm(program.name, JitMode::Trusted)?),
            Box::new(JitRunner::vm(program.name, JitMode::Checked)?),
            vm_peer_runner(VmPeer::Native, program.name)?,
            vm_peer_runner(VmPeer::NativeScalar, program.name)?,
            vm_peer_runner(VmPeer::RbpfJit, program.name)?,
        ];
        print!("{:<16}", program.name);
        for mut runner in runners {
            check_r0(runner.as_mut(), expected)?;
            let m = measure(runner.as_mut(), expected, 7, Duration::from_millis(10))?;
            let ns = m.median_ns;
            print!("{ns:>14.1}");
        }
        println!();
    }
    Ok(())
}
