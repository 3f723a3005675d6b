//! Prints the median time of one run (ns) of every VM-suite program on every peer,
//! after checking each peer's r0 against the reference.
//!
//! `cargo run --release -p ironbpf-benches --example peer_medians`

use std::time::Duration;

use ironbpf_benches::{
    check_r0, iterations_for, median_ns_per_run, native_compiler, vm_expected, vm_peer_runner,
    BenchError, VmPeer, VM_PROGRAMS,
};

fn main() -> Result<(), BenchError> {
    println!("native compiler: {}", native_compiler());
    print!("{:<16}", "program");
    for peer in VmPeer::ALL {
        print!("{:>16}", peer.name());
    }
    println!();
    for program in VM_PROGRAMS {
        let expected = vm_expected(program.name)?;
        print!("{:<16}", program.name);
        for peer in VmPeer::ALL {
            let mut runner = vm_peer_runner(peer, program.name)?;
            check_r0(runner.as_mut(), expected)?;
            let iterations = iterations_for(runner.as_mut(), Duration::from_millis(20))?;
            let ns = median_ns_per_run(runner.as_mut(), expected, 11, iterations)?;
            print!("{ns:>16.1}");
        }
        println!();
    }
    Ok(())
}
