//! Checked code keeps the hot region's start and counts in the registers a
//! program leaves free (those of r6-r9). Programs on r0-r5 only, so that
//! the registers are taken: in-bounds loops, every size of load, store and
//! atomic, faults just past the end and before the start, accesses through
//! a pointer into the stack (the stub's second test), and accesses after a
//! bpf-to-bpf call (whose pops restore the registers) must give the
//! interpreter's result, or its error at the same instruction.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

/// r0 (or the error) on the interpreter and the checked JIT, which must
/// agree, with the memory each leaves; returns the interpreter's.
fn agree(name: &str, asm: &str, len: usize) -> Result<u64, String> {
    let prog = assemble_program(asm).unwrap_or_else(|e| panic!("{name}: {e}"));
    // r1 the memory, r2 its length.
    let opts = Options {
        entry_regs: 0b110,
        ..Options::default()
    };
    let vm = Interpreter::new(&prog, &HelperRegistry::standard(), opts)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let checked = JitProgram::checked(vm.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The inline test adds minus the region's start from r9's register.
    let text: String = ironbpf_jit::disasm::per_insn(checked.code())
        .iter()
        .flatten()
        .map(|i| i.text.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    assert!(
        text.contains("+r15]"),
        "{name}: no hot-region register:\n{text}"
    );
    // One buffer for both runs, so that the addresses in errors agree.
    let mut mem = vec![0u8; len];
    let mut run = |e: &dyn Engine| {
        for (i, b) in mem.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let r = e.run_memory(&mut mem).map_err(|e| e.to_string());
        (r, mem.clone())
    };
    let want = run(&vm);
    assert_eq!(
        run(&checked),
        want,
        "{name}: checked JIT against interpreter"
    );
    want.0
}

#[test]
fn in_bounds_loops_of_every_size() {
    // Sum the memory as bytes, halves, words and double words, then store
    // and add atomically into it.
    let asm = "\
r0 = 0
r3 = 0
l8: r4 = r1
r4 += r3
r5 = *(u8 *)(r4 +0)
r0 += r5
r3 += 1
if r3 < r2 goto l8
r3 = 0
l16: r4 = r1
r4 += r3
r5 = *(u16 *)(r4 +0)
r0 += r5
r5 = *(s16 *)(r4 +0)
r0 += r5
r3 += 2
if r3 < r2 goto l16
r3 = 0
l32: r4 = r1
r4 += r3
r5 = *(u32 *)(r4 +0)
r0 += r5
*(u32 *)(r4 +0) = r0
lock *(u32 *)(r4 +0) += r5
r3 += 4
if r3 < r2 goto l32
r3 = 0
l64: r4 = r1
r4 += r3
r5 = *(u64 *)(r4 +0)
r0 ^= r5
*(u64 *)(r4 +0) = r3
lock *(u64 *)(r4 +0) += r0
r3 += 8
if r3 < r2 goto l64
exit";
    assert!(agree("every size", asm, 64).is_ok());
}

#[test]
fn faults_past_the_end_and_before_the_start_name_the_same_instruction() {
    for (name, access) in [
        ("load past the end", "r0 = *(u64 *)(r1 +60)"),
        ("byte past the end", "r0 = *(u8 *)(r1 +64)"),
        ("store past the end", "*(u32 *)(r1 +61) = r2"),
        ("store before the start", "*(u8 *)(r1 -1) = r2"),
        ("atomic past the end", "lock *(u64 *)(r1 +64) += r2"),
        ("load far away", "r0 = *(u64 *)(r1 +4096)"),
    ] {
        let asm = format!("r0 = 0\nr3 = *(u64 *)(r1 +0)\n{access}\nr0 += r3\nexit");
        let r = agree(name, &asm, 64);
        assert!(r.is_err(), "{name}: {r:?}");
    }
}

#[test]
fn a_pointer_into_the_stack_passes_the_second_test() {
    let asm = "\
*(u64 *)(r10 -8) = r2
r3 = r10
r3 += -8
r4 = *(u64 *)(r3 +0)
r5 = *(u64 *)(r1 +0)
*(u64 *)(r3 +0) = r5
r0 = *(u64 *)(r10 -8)
r0 += r4
exit";
    assert!(agree("stack pointer", asm, 16).is_ok());
    // And one just past the frame's top faults as in the interpreter.
    let r = agree(
        "stack pointer past the top",
        "r3 = r10\nr0 = *(u64 *)(r3 +0)\nexit",
        16,
    );
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn accesses_after_a_call_use_the_callers_registers() {
    let asm = "\
r0 = *(u32 *)(r1 +0)
*(u64 *)(r10 -8) = r1
call f
r1 = *(u64 *)(r10 -8)
r3 = *(u32 *)(r1 +4)
r0 += r3
*(u32 *)(r1 +8) = r0
r3 = *(u8 *)(r1 +15)
r0 += r3
exit
f: r2 = *(u16 *)(r1 +2)
*(u16 *)(r1 +12) = r2
r0 = r2
exit";
    assert!(agree("call", asm, 16).is_ok());
    // The callee faults.
    let asm = "r0 = *(u32 *)(r1 +0)\ncall f\nexit\nf: r0 = *(u64 *)(r1 +9)\nexit";
    assert!(agree("callee faults", asm, 16).is_err());
}

#[test]
fn accesses_after_a_helper_call_use_the_reloaded_registers() {
    // The instruction trampoline reloads the registers from the context:
    // the hot-region ones are set again after it.
    let asm = "\
r0 = *(u32 *)(r1 +0)
*(u64 *)(r10 -8) = r1
*(u64 *)(r10 -16) = r0
call bpf_ktime_get_ns
r1 = *(u64 *)(r10 -8)
r0 = *(u64 *)(r10 -16)
r3 = *(u32 *)(r1 +4)
r0 += r3
*(u32 *)(r1 +8) = r0
r3 = *(u8 *)(r1 +16)
exit";
    let r = agree("helper", asm, 16);
    assert!(r.is_err(), "the last load is one past the end: {r:?}");
}

#[test]
fn checked_code_with_nothing_to_check_runs_through_the_direct_entry() {
    let direct = |asm: &str| {
        let prog = assemble_program(asm).expect("it assembles");
        // No instruction budget (none to charge).
        let opts = Options {
            budget: u64::MAX,
            ..Options::default()
        };
        let vm = Interpreter::new(&prog, &HelperRegistry::standard(), opts).expect("loads");
        let checked = JitProgram::checked(vm.clone()).expect("compiles");
        let mut mem = [0u8; 8];
        assert_eq!(
            checked.run_memory(&mut mem).map_err(|e| e.to_string()),
            vm.run_memory(&mut mem).map_err(|e| e.to_string()),
            "{asm}"
        );
        checked.code().has_direct()
    };
    // ALU work and the frame only: nothing can fault.
    assert!(direct(
        "r0 = 42\n*(u64 *)(r10 -8) = r0\nr0 = *(u64 *)(r10 -8)\nr0 *= 3\nexit"
    ));
    // A memory access, an atomic, a call: tests that may fail.
    assert!(!direct("r0 = *(u8 *)(r1 +0)\nexit"));
    assert!(!direct(
        "*(u64 *)(r10 -8) = 0\nr0 = 1\nlock *(u64 *)(r10 -8) += r0\nr0 = 0\nexit"
    ));
    assert!(!direct("call f\nexit\nf: r0 = 1\nexit"));
    // With an instruction budget, the exit is charged.
    let prog = assemble_program("r0 = 1\nexit").expect("it assembles");
    let opts = Options {
        budget: 1000,
        ..Options::default()
    };
    let vm = Interpreter::new(&prog, &HelperRegistry::standard(), opts).expect("loads");
    assert!(!JitProgram::checked(vm)
        .expect("compiles")
        .code()
        .has_direct());
}
