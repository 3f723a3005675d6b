//! `JitProgram::bind_memory`: a program bound once to one buffer gives,
//! run after run, what `run_with_memory` gives on that buffer (r0, the
//! buffer's new bytes, the same error at the same instruction), whichever
//! way its code runs: the direct call, the lean checked run with its
//! context kept between runs, or the full engine run.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options, VmError};

fn interp_with(src: &str, options: Options) -> Interpreter {
    let prog = assemble_program(src).expect("assembles");
    Interpreter::new(&prog, &HelperRegistry::standard(), options).expect("loads")
}

fn interp(src: &str) -> Interpreter {
    interp_with(src, Options::default())
}

/// The bound run's result on `mem`, and `run_with_memory`'s on the same
/// bytes at the same address (errors name it), with the bytes each left.
fn both(jit: &JitProgram, mem: &[u8]) -> (Result<u64, String>, Vec<u8>) {
    let mut buf = mem.to_vec();
    let want = jit.run_with_memory(&mut buf).map_err(|e| e.to_string());
    let unbound = buf.clone();
    buf.copy_from_slice(mem);
    let got = {
        let mut call = jit.bind_memory(&mut buf).expect("binds");
        call.run().map_err(|e| e.to_string())
    };
    assert_eq!(got, want, "bound and unbound runs on {mem:?}");
    assert_eq!(buf, unbound, "the bytes each run left");
    (got, buf)
}

#[test]
fn a_checked_run_that_faults_reports_it_and_the_next_run_starts_clean() {
    // r0 = mem[mem[0]]: in bounds or not as the first byte says.
    let vm = interp("r2 = *(u8 *)(r1 + 0)\nr1 += r2\nr0 = *(u8 *)(r1 + 0)\nexit");
    let jit = JitProgram::checked(vm).expect("compiles");
    let mut mem = [1u8, 9, 8, 7];
    let mut call = jit.bind_memory(&mut mem).expect("binds");
    assert!(format!("{call:?}").contains("lean"), "{call:?}");
    assert_eq!(call.run().expect("in bounds"), 9);
    call.memory()[0] = 10;
    let err = call.run().expect_err("mem[10] is outside the 4 bytes");
    assert!(
        matches!(err, VmError::MemoryFault { pc: 2, .. }),
        "the fault names the load, insn 2: {err}"
    );
    // The fault left nothing behind in the kept context.
    call.memory()[0] = 3;
    assert_eq!(call.run().expect("in bounds again"), 7);
    drop(call);
    assert_eq!(mem, [3, 9, 8, 7]);
    for first in [0u8, 3, 4, 200] {
        let _ = both(&jit, &[first, 9, 8, 7]);
    }
}

#[test]
fn each_bound_run_starts_on_a_zeroed_stack() {
    // Counts in a stack slot: 1 on every run whose frame starts zeroed.
    let src = "r0 = *(u64 *)(r10 - 8)\nr0 += 1\n*(u64 *)(r10 - 8) = r0\n\
               r2 = *(u8 *)(r1 + 0)\nr0 += r2\nexit";
    let jit = JitProgram::checked(interp(src)).expect("compiles");
    let mut mem = [5u8];
    let mut call = jit.bind_memory(&mut mem).expect("binds");
    for _ in 0..3 {
        assert_eq!(call.run().expect("runs"), 6);
    }
    // SAFETY: touches its own frame and the first byte of its memory.
    let trusted = unsafe { JitProgram::trusted(interp(src)) }.expect("compiles");
    let mut call = trusted.bind_memory(&mut mem).expect("binds");
    for _ in 0..3 {
        assert_eq!(call.run().expect("runs"), 6);
    }
}

#[test]
fn the_budget_stops_every_bound_run_at_the_same_instruction() {
    let options = Options {
        budget: 50,
        ..Options::default()
    };
    let src = "r0 = 0\nr2 = *(u8 *)(r1 + 0)\nr0 += 1\nif r0 < r2 goto -2\nexit";
    let jit = JitProgram::checked(interp_with(src, options)).expect("compiles");
    let (r, _) = both(&jit, &[200]);
    let first = r.expect_err("200 rounds do not fit a budget of 50");
    let mut mem = [200u8];
    let mut call = jit.bind_memory(&mut mem).expect("binds");
    for _ in 0..3 {
        let e = call.run().expect_err("out of budget");
        assert!(
            matches!(e, VmError::BudgetExhausted { budget: 50, .. }),
            "{e}"
        );
        assert_eq!(e.to_string(), first);
    }
    call.memory()[0] = 5;
    assert_eq!(call.run().expect("5 rounds fit"), 5);
}

#[test]
fn direct_and_engine_runs_write_the_bound_buffer() {
    // No checks to make: the direct call.
    let src = "r0 = *(u8 *)(r1 + 0)\n*(u8 *)(r1 + 1) = r0\nexit";
    // SAFETY: reads byte 0 and writes byte 1 of its two-byte memory.
    let trusted = unsafe { JitProgram::trusted(interp(src)) }.expect("compiles");
    let mut mem = [4u8, 0];
    let mut call = trusted.bind_memory(&mut mem).expect("binds");
    assert!(format!("{call:?}").contains("direct"), "{call:?}");
    assert_eq!(call.run().expect("runs"), 4);
    assert_eq!(call.memory(), &[4, 4]);
    call.memory()[0] = 9;
    assert_eq!(call.run().expect("runs"), 9);
    drop(call);
    assert_eq!(mem, [9, 9]);
    // A helper call needs the runtime: every run is the engine's.
    let src = "r6 = r1\ncall 5\nr0 = *(u8 *)(r6 + 0)\nexit";
    let checked = JitProgram::checked(interp(src)).expect("compiles");
    let mut mem = [3u8];
    let mut call = checked.bind_memory(&mut mem).expect("binds");
    assert!(format!("{call:?}").contains("engine"), "{call:?}");
    assert_eq!(call.run().expect("runs"), 3);
    assert_eq!(both(&checked, &[8]).0, Ok(8));
    let _ = both(&checked, &[]);
}
