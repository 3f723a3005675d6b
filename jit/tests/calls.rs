//! bpf-to-bpf calls in trusted and checked code save only the r6-r9 their
//! callee may write: the callee is every slot its entry reaches through
//! jumps and fall-throughs, so writes behind a jump past one of its exits
//! are seen, a callee that writes none saves none, and the caller's r6-r9
//! survive as the interpreter keeps them.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

const SHARED_TAIL: &str = "\
r6 = 7
r7 = 8
call f
call h
r0 = r6
r0 += r7
exit
f: goto w
r0 = 1
exit
w: r6 = 99
r0 = 0
exit
h: r1 = 3
r0 = r1
exit";

#[test]
fn a_callee_that_jumps_into_another_functions_code_has_its_writes_saved() {
    let prog = assemble_program(SHARED_TAIL).expect("assembles");
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
    assert_eq!(vm.run_with_memory(&mut []).expect("runs"), 15);
    let checked = JitProgram::checked(vm.clone()).expect("compiles");
    assert_eq!(checked.run_with_memory(&mut []).expect("runs"), 15);
    // SAFETY: the program touches no memory and ends.
    let trusted = unsafe { JitProgram::trusted(vm) }.expect("compiles");
    assert_eq!(trusted.run_with_memory(&mut []).expect("runs"), 15);
}
