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

/// A callee that saves an even number of r6-r9 (with r10 kept in place,
/// nothing else is pushed) and calls a helper: the helper is Rust code
/// that needs rsp 16-byte aligned, so the call pads the frame. Before the
/// pad, two saved registers put rsp 8 bytes off and the trusted run died
/// of SIGSEGV in the runtime.
#[test]
fn a_callee_that_saves_any_number_of_registers_can_call_a_helper() {
    let bodies = [
        "",
        "r6 = 1\n",
        "r6 = 1\nr7 = 2\n",
        "r6 = 1\nr7 = 2\nr8 = 3\n",
        "r6 = 1\nr7 = 2\nr8 = 3\nr9 = 4\n",
    ];
    for (saved, body) in bodies.iter().enumerate() {
        // Nested once more, so that both alignments of the caller occur.
        let src = format!(
            "call f\nexit\nf: {body}call bpf_ktime_get_ns\ncall g\nr0 = 5\nexit\n\
             g: {body}call bpf_get_prandom_u32\nr0 = 6\nexit"
        );
        let prog = assemble_program(&src).expect("assembles");
        let vm = Interpreter::new(&prog, &HelperRegistry::standard(), Options::default())
            .expect("loads");
        assert_eq!(vm.run_with_memory(&mut []).expect("runs"), 5);
        let checked = JitProgram::checked(vm.clone()).expect("compiles");
        assert_eq!(
            checked.run_with_memory(&mut []).expect("runs"),
            5,
            "checked, {saved} saved"
        );
        // SAFETY: the program touches no memory and ends.
        let trusted = unsafe { JitProgram::trusted(vm) }.expect("compiles");
        assert_eq!(
            trusted.run_with_memory(&mut []).expect("runs"),
            5,
            "trusted, {saved} saved"
        );
    }
}
