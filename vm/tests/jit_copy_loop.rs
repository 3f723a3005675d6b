//! The JIT's byte-copy loops: clang's `dst[i] = src[i]` loop over one base
//! register gets a path that moves 32 bytes at a time while none of those
//! iterations would leave the loop. It must leave memory, r0 and every
//! error exactly as the interpreter does: for overlapping copies (the
//! destination 1 to 40 bytes after or before the source), any count and
//! start, both loop ends clang writes, a register bound, and, in checked
//! mode, a copy that runs out of its memory or its budget part way.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options, VmError};

/// r1 = the memory. Copies bytes `start..n` of `r1 + src` to `r1 + src +
/// delta`, then returns r2 (the counter), r3 (the last address) and r4
/// (the last byte) folded together, so that the loop's registers count.
fn program(src: i64, delta: i64, start: u64, n: u64, tail: Tail) -> String {
    let k = delta + src;
    let head = format!("r2 = {start}\nr6 = {n}\nloop:\nr3 = r1\nr3 += r2\n");
    let body = format!("r4 = *(u8 *)(r3 + {src})\nr3 += {k}\n*(u8 *)(r3 + 0) = r4\nr2 += 1\n");
    let end = match tail {
        Tail::EqImm | Tail::Swapped => format!("if r2 == {n} goto out\ngoto loop\n"),
        Tail::NeImm => format!("if r2 != {n} goto loop\n"),
        Tail::NeReg => "if r2 != r6 goto loop\n".to_string(),
    };
    let head = if tail == Tail::Swapped {
        head.replace("r3 = r1\nr3 += r2", "r3 = r2\nr3 += r1")
    } else {
        head
    };
    format!(
        "{head}{body}{end}out:\nr0 = r2\nr0 <<= 20\nr3 -= r1\nr0 ^= r3\nr4 <<= 40\nr0 ^= r4\nexit"
    )
}

/// [`program`] with r7-r9 in use too, so that checked code has no free
/// register for the hot region's start and counts (they are read from the
/// run's context instead).
fn busy(text: &str) -> String {
    text.replacen("r2 = ", "r7 = 3\nr8 = 5\nr9 = 9\nr2 = ", 1)
        .replace("exit", "r0 += r7\nr0 += r8\nr0 += r9\nexit")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    EqImm,
    NeImm,
    NeReg,
    /// `r3 = r2 ; r3 += r1`: the counter first.
    Swapped,
}

fn memory(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256 + 1) as u8).collect()
}

fn vm(src: &str, budget: u64) -> Interpreter {
    let prog = assemble_program(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let opts = Options {
        budget,
        ..Options::default()
    };
    Interpreter::new(&prog, &HelperRegistry::new(), opts).expect("loads")
}

fn outcome(e: &dyn Engine, len: usize) -> (Result<u64, String>, Vec<u8>) {
    let mut mem = memory(len);
    let r = e.run_memory(&mut mem).map_err(|e| kind(&e));
    (r, mem)
}

/// The error as the differential compares it: its kind and pc, not its
/// text.
fn kind(e: &VmError) -> String {
    match e {
        VmError::BudgetExhausted { pc, budget } => format!("budget pc {pc} of {budget}"),
        // The byte's offset in the memory, which each run allocates anew.
        VmError::MemoryFault { pc, fault, .. } => format!(
            "fault pc {pc}: {:?} of {} at +{:?}",
            fault.access,
            fault.len,
            fault.nearest.map(|r| fault.addr.wrapping_sub(r.start))
        ),
        other => format!("{other:?}"),
    }
}

fn has_fast_path(p: &JitProgram) -> bool {
    ironbpf_jit::disasm::per_insn(p.code())
        .iter()
        .flatten()
        .any(|i| i.text.starts_with("movdqu"))
}

#[test]
fn overlapping_and_distant_copies_leave_the_interpreters_memory() {
    let len = 512;
    let mut fast = 0;
    for delta in (-40i64..=40).chain([-200, 100, 200]) {
        let src = if delta < 0 { 250 } else { 8 };
        for (start, n) in [(0u64, 100u64), (3, 70), (0, 32), (0, 33), (5, 6), (0, 31)] {
            for tail in [Tail::EqImm, Tail::NeImm, Tail::NeReg, Tail::Swapped] {
                let text = program(src, delta, start, n, tail);
                let vm = vm(&text, u64::MAX);
                let want = outcome(&vm, len);
                assert!(want.0.is_ok(), "{want:?}\n{text}");
                // SAFETY: the copy stays inside the 512-byte memory
                // (source and destination within 8..=450 for these
                // counts) and ends.
                let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
                let checked = JitProgram::checked(vm.clone()).expect("compiles");
                assert_eq!(outcome(&trusted, len), want, "trusted\n{text}");
                assert_eq!(outcome(&checked, len), want, "checked\n{text}");
                if has_fast_path(&trusted) {
                    fast += 1;
                    assert!(
                        !(1..32).contains(&delta),
                        "a copy 1-31 bytes ahead of its source keeps its byte loop\n{text}"
                    );
                }
            }
        }
    }
    assert!(fast > 100, "the fast path compiled for {fast} programs");
}

#[test]
fn a_checked_copy_that_leaves_its_memory_faults_at_the_same_byte() {
    // 300 bytes from offset 8 to offset 208, in 32-byte turns that end at
    // 240 + 32k: the memory ends before the copy does, in some cases one
    // byte before a turn's end (367, 399), in others right at it (400).
    for len in [367usize, 399, 400, 401, 407, 430] {
        for (tail, crowded) in [Tail::EqImm, Tail::NeImm, Tail::NeReg, Tail::Swapped]
            .into_iter()
            .flat_map(|t| [(t, false), (t, true)])
        {
            let text = program(8, 200, 0, 300, tail);
            let text = if crowded { busy(&text) } else { text };
            let vm = vm(&text, u64::MAX);
            let want = outcome(&vm, len);
            assert!(want.0.is_err(), "{want:?}");
            let checked = JitProgram::checked(vm.clone()).expect("compiles");
            assert!(has_fast_path(&checked), "{text}");
            assert_eq!(outcome(&checked, len), want, "len {len}\n{text}");
        }
    }
}

#[test]
fn a_checked_copy_runs_out_of_budget_at_the_same_instruction() {
    for text in [
        program(8, 200, 0, 150, Tail::EqImm),
        busy(&program(8, 200, 0, 150, Tail::NeImm)),
    ] {
        budgets_stop_it_alike(&text);
    }
}

fn budgets_stop_it_alike(text: &str) {
    // Set-up, 8 slots per iteration (7 for the last), the tail: about
    // 1210 slots in all.
    let full = 1230;
    let mut stopped = 0;
    for budget in 1..=full {
        let vm = vm(text, budget);
        let want = outcome(&vm, 512);
        if want.0.is_err() {
            stopped += 1;
        }
        let checked = JitProgram::checked(vm.clone()).expect("compiles");
        assert!(has_fast_path(&checked), "{text}");
        assert_eq!(outcome(&checked, 512), want, "budget {budget}\n{text}");
    }
    assert!(stopped > 1000, "{stopped} budgets stop the run");
}
