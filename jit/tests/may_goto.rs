//! `may_goto` in the JIT, against the interpreter, in the three modes:
//! each call frame has a budget of `BPF_MAX_LOOPS` (8,388,608)
//! fall-throughs, then the jump; a bpf-to-bpf call gives the callee a full
//! budget of its own and the caller finds its own as it left it. Loops
//! that exhaust the budget, a callee exhausting its own while the caller
//! continues, two levels of calls, `may_goto` with helper calls and the
//! stack (the other entries into the code), and the instruction budget
//! stopping a `may_goto` loop at the interpreter's instruction.

use ironbpf_isa::assemble_program;
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use ironbpf_vm::interp::MAY_GOTO_BUDGET;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

/// Enough instructions for a few exhausted budgets of 3-4 instructions per
/// iteration.
const BIG_BUDGET: u64 = 400_000_000;

/// r0 of `asm` (or its error) on the interpreter and on the JIT in the
/// checked, trusted and verified modes, which must all agree; returns the
/// interpreter's.
fn agree(name: &str, asm: &str, budget: u64) -> Result<u64, String> {
    let prog = assemble_program(asm).unwrap_or_else(|e| panic!("{name}: {e}"));
    let helpers = HelperRegistry::standard();
    let opts = Options {
        budget,
        ..Options::default()
    };
    let vm = Interpreter::new(&prog, &helpers, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let run = |e: &dyn Engine| {
        let mut mem = [0u8; 16];
        e.run_memory(&mut mem).map_err(|e| e.to_string())
    };
    let want = run(&vm);
    let checked = JitProgram::checked(vm.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        run(&checked),
        want,
        "{name}: checked JIT against interpreter"
    );
    // Only the checked mode runs programs that fail.
    let want = Ok(want?);
    // SAFETY: every program here touches only its stack and terminates
    // (each loop is bounded by may_goto), which the verifier confirms
    // below.
    let trusted =
        unsafe { JitProgram::trusted(vm.clone()) }.unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        run(&trusted),
        want,
        "{name}: trusted JIT against interpreter"
    );
    let proof = verify(prog.slots(), &VerifyOptions::new(ProgTypeId::SocketFilter))
        .result
        .unwrap_or_else(|e| panic!("{name}: the verifier refuses it: {}", e.message));
    let verified = JitProgram::verified(vm, &proof).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        run(&verified),
        want,
        "{name}: verified JIT against interpreter"
    );
    want
}

#[test]
fn an_endless_loop_runs_the_frames_budget_then_jumps() {
    let r = agree(
        "endless",
        "r0 = 0\nl: may_goto out\nr0 += 1\ngoto l\nout: exit",
        BIG_BUDGET,
    );
    assert_eq!(r, Ok(MAY_GOTO_BUDGET));
}

#[test]
fn a_spent_budget_stays_spent() {
    // After the first loop spent the budget, every may_goto jumps at once.
    let r = agree(
        "spent twice",
        "r0 = 0\nr1 = 0\na: may_goto b\nr0 += 1\ngoto a\nb: may_goto c\nr1 += 1\ngoto b\n\
         c: r0 <<= 32\nr0 += r1\nexit",
        BIG_BUDGET,
    );
    assert_eq!(r, Ok(MAY_GOTO_BUDGET << 32));
}

#[test]
fn a_loop_bounded_by_a_counter_does_not_touch_the_jump() {
    let r = agree(
        "bounded",
        "r0 = 0\nr1 = 0\nl: may_goto out\nr1 += 1\nif r1 > 100 goto out\nr0 += r1\ngoto l\nout: exit",
        BIG_BUDGET,
    );
    assert_eq!(r, Ok(5050));
}

/// main spends 10 of its budget, calls `sub`, which exhausts a budget of its
/// own, then main loops until its budget (8,388,598 left) is spent.
const CALLEE_EXHAUSTS: &str = "\
r6 = 0
a: may_goto b
r6 += 1
if r6 < 10 goto a
b: call sub
r7 = r0
r8 = 0
c: may_goto d
r8 += 1
goto c
d: r0 = r7
r0 <<= 32
r0 += r8
exit
sub: r0 = 0
s: may_goto t
r0 += 1
goto s
t: exit";

#[test]
fn a_callee_exhausts_its_own_budget_and_the_caller_continues_with_its() {
    let r = agree("callee exhausts", CALLEE_EXHAUSTS, BIG_BUDGET);
    assert_eq!(r, Ok(MAY_GOTO_BUDGET << 32 | (MAY_GOTO_BUDGET - 10)));
}

/// Two levels: `f` spends 5, calls `g` (which exhausts its budget), then
/// spends the rest of its own; main spends 3 before calling `f` and the
/// rest after it.
const TWO_LEVELS: &str = "\
r6 = 0
a: may_goto b
r6 += 1
if r6 < 3 goto a
b: call f
r7 = r0
r8 = 0
c: may_goto d
r8 += 1
goto c
d: r0 = r7
r0 <<= 32
r0 += r8
exit
f: r6 = 0
fa: may_goto fb
r6 += 1
if r6 < 5 goto fa
fb: call g
r7 = r0
r8 = 0
fc: may_goto fd
r8 += 1
goto fc
fd: r0 = r8
r0 -= r7
exit
g: r0 = 0
ga: may_goto gb
r0 += 1
goto ga
gb: exit";

#[test]
fn every_level_of_calls_has_a_budget_of_its_own() {
    let r = agree("two levels", TWO_LEVELS, BIG_BUDGET);
    // f: (budget - 5) - budget, as a u64; main: budget - 3.
    let f = (MAY_GOTO_BUDGET - 5).wrapping_sub(MAY_GOTO_BUDGET);
    assert_eq!(r, Ok((f << 32).wrapping_add(MAY_GOTO_BUDGET - 3)));
}

#[test]
fn calls_in_a_may_goto_loop_do_not_spend_the_callers_budget() {
    // Each call's callee spends a little; main's budget counts its own
    // may_gotos only: 8,388,608 iterations, each calling `sub`.
    let r = agree(
        "calls in the loop",
        "r6 = 0\nl: may_goto out\ncall sub\nr6 += r0\ngoto l\nout: r0 = r6\nexit\n\
         sub: r0 = 0\ns: may_goto t\nr0 += 1\nif r0 < 2 goto s\nt: exit",
        BIG_BUDGET,
    );
    assert_eq!(r, Ok(2 * MAY_GOTO_BUDGET));
}

#[test]
fn may_goto_with_the_stack_and_helper_calls() {
    // The stack (checked code's r10 tests), a helper call (the runtime's
    // trampoline: trusted code then enters through the trampoline, not the
    // direct entry) and may_goto in one loop.
    let r = agree(
        "stack and helper",
        "*(u64 *)(r10 -8) = 0\nr6 = 0\nl: may_goto out\nr1 = *(u64 *)(r10 -8)\nr1 += 1\n\
         *(u64 *)(r10 -8) = r1\nr6 += 1\nif r6 > 1000 goto out\ncall bpf_ktime_get_ns\ngoto l\n\
         out: r0 = *(u64 *)(r10 -8)\nexit",
        BIG_BUDGET,
    );
    assert_eq!(r, Ok(1001));
}

#[test]
fn the_instruction_budget_stops_a_may_goto_loop_where_the_interpreter_does() {
    for budget in [10, 11, 12, 13, 1000, 1001, 1002] {
        let r = agree(
            "instruction budget",
            "r0 = 0\nl: may_goto out\nr0 += 1\ngoto l\nout: exit",
            budget,
        );
        assert!(r.is_err(), "budget {budget}: {r:?}");
    }
    // Exactly enough for the whole loop and its exit: 1 + 3 * 8,388,608 +
    // the last may_goto and the exit.
    let whole = 1 + 3 * MAY_GOTO_BUDGET + 2;
    let prog = "r0 = 0\nl: may_goto out\nr0 += 1\ngoto l\nout: exit";
    assert_eq!(agree("exact budget", prog, whole), Ok(MAY_GOTO_BUDGET));
    assert!(agree("one short", prog, whole - 1).is_err());
}

#[test]
fn may_goto_to_the_next_instruction_and_backwards_into_itself() {
    // `may_goto +0` is a no-op either way.
    let r = agree(
        "may_goto +0",
        "r0 = 7\nmay_goto +0\nr0 += 1\nexit",
        BIG_BUDGET,
    );
    assert_eq!(r, Ok(8));
    // A may_goto whose fall-through is itself via a `goto`: the loop body
    // is the may_goto alone.
    let r = agree(
        "tight loop",
        "r0 = 1\nl: may_goto out\ngoto l\nout: exit",
        BIG_BUDGET,
    );
    assert_eq!(r, Ok(1));
}

#[test]
fn the_jit_compiles_may_goto_in_every_mode() {
    let prog = assemble_program(CALLEE_EXHAUSTS).expect("it assembles");
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
    let checked = JitProgram::checked(vm.clone()).expect("checked compiles");
    let text = ironbpf_jit::disasm::per_insn(checked.code())
        .iter()
        .flatten()
        .map(|i| i.text.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("sub qword ptr [rsp+8],1"),
        "the decrement of the frame's budget slot:\n{text}"
    );
}
