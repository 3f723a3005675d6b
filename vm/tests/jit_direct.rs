//! `JitProgram::run_memory_direct`, the fast path hosts call for small
//! programs: it runs code with a direct entry and no stack and gives r0,
//! and runs nothing (None) for any other code, which `run_with_memory`
//! then runs in full.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

fn interp(src: &str) -> Interpreter {
    let prog = assemble_program(src).expect("assembles");
    Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads")
}

#[test]
fn the_direct_path_runs_what_it_can_and_declines_the_rest() {
    // Writes its input: r0 is the old first byte, the byte becomes 7.
    let vm = interp("r0 = *(u8 *)(r1 + 0)\n*(u8 *)(r1 + 0) = 7\nexit");
    // SAFETY: reads and writes the first byte of its memory only.
    let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
    let mut mem = [42u8, 0];
    assert_eq!(trusted.run_memory_direct(&mut mem), Some(42));
    assert_eq!(mem[0], 7, "the run's store is in the caller's memory");
    // Checked code that reads its memory has checks to make: no direct
    // entry, so the fast path declines without running.
    let checked = JitProgram::checked(vm).expect("compiles");
    let mut mem = [42u8, 0];
    assert_eq!(checked.run_memory_direct(&mut mem), None);
    assert_eq!(mem[0], 42, "nothing ran");
    assert_eq!(checked.run_with_memory(&mut mem).expect("runs"), 42);
    // A program that uses the stack needs a frame the fast path does not
    // make.
    let vm = interp("*(u64 *)(r10 - 8) = 5\nr0 = *(u64 *)(r10 - 8)\nexit");
    // SAFETY: touches its own stack frame only.
    let trusted = unsafe { JitProgram::trusted(vm) }.expect("compiles");
    assert_eq!(trusted.run_memory_direct(&mut []), None);
    assert_eq!(trusted.run_with_memory(&mut []).expect("runs"), 5);
}
