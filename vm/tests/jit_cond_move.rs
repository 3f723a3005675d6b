//! The JIT's conditional moves: a conditional jump over one register write
//! (`w0 = 1; if r2 > r3 goto +1; w0 = 0`, clang's `setcc`), or to where a
//! `goto` after that write goes, is compiled as a compare and a `cmov`
//! where no budget is charged. Every condition, both widths, register and
//! immediate operands and each kind of skipped write must give the
//! interpreter's result on values around the signed and unsigned edges,
//! and the trusted code must hold the `cmov` and no jump for the slot.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

const CONDS: [&str; 11] = [
    "==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&",
];

/// The skipped writes, each with the form its register takes in the jump.
const WRITES: [&str; 9] = [
    "w0 = 0",
    "r0 = -7",
    "w0 = -7",
    "r0 = r3",
    "w0 = w3",
    "r0 += 100",
    "w0 += -3",
    "r0 &= 0xf0f0",
    "w0 ^= 0x7fffffff",
];

const VALUES: [u64; 7] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x8000_0000_0000_0001,
    u64::MAX,
];

/// The program: x in r2, y in r3, r0 starts with high bits set; then the
/// jump (`rhs` a register or an immediate) over `write`, either to the next
/// slot or to where the following `goto` goes.
fn program(cond: &str, w32: bool, rhs: &str, write: &str, via_goto: bool) -> String {
    let r = if w32 { "w2" } else { "r2" };
    let tail = if via_goto {
        format!("if {r} {cond} {rhs} goto out\n{write}\ngoto out\nr0 = 99\nout:\nexit")
    } else {
        format!("if {r} {cond} {rhs} goto +1\n{write}\nexit")
    };
    format!(
        "r2 = *(u64 *)(r1 + 0)\nr3 = *(u64 *)(r1 + 8)\nr0 = r2\nr0 ^= r3\nr0 += 0x12345\n{tail}"
    )
}

fn run(e: &dyn Engine, x: u64, y: u64) -> u64 {
    let mut mem = [0u8; 16];
    mem[..8].copy_from_slice(&x.to_le_bytes());
    mem[8..].copy_from_slice(&y.to_le_bytes());
    e.run_memory(&mut mem).expect("it runs")
}

#[test]
fn conditional_moves_give_the_interpreters_results_and_compile_to_cmov() {
    let mut programs = 0;
    for cond in CONDS {
        for w32 in [false, true] {
            for rhs in ["r3", "w3", "0x7fffffff", "-1", "0"] {
                // A 32-bit jump compares w registers, a 64-bit one r.
                if (rhs == "r3" && w32) || (rhs == "w3" && !w32) {
                    continue;
                }
                for write in WRITES {
                    for via_goto in [false, true] {
                        let src = program(cond, w32, rhs, write, via_goto);
                        let prog = assemble_program(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
                        let vm =
                            Interpreter::new(&prog, &HelperRegistry::new(), Options::default())
                                .expect("loads");
                        // SAFETY: straight-line code that reads 16 bytes of its memory only.
                        let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
                        let checked = JitProgram::checked(vm.clone()).expect("compiles");
                        for x in VALUES {
                            for y in VALUES {
                                let want = run(&vm, x, y);
                                assert_eq!(
                                    run(&trusted, x, y),
                                    want,
                                    "trusted, x={x:#x} y={y:#x}\n{src}"
                                );
                                assert_eq!(
                                    run(&checked, x, y),
                                    want,
                                    "checked, x={x:#x} y={y:#x}\n{src}"
                                );
                            }
                        }
                        let per = ironbpf_jit::disasm::per_insn(trusted.code());
                        let jump: Vec<String> = per[5].iter().map(|i| i.text.clone()).collect();
                        assert!(
                            jump.iter().any(|t| t.starts_with("cmov"))
                                && !jump.iter().any(|t| t.starts_with('j')),
                            "slot 5 of\n{src}\ncompiled to {jump:?}"
                        );
                        assert!(
                            per[6].is_empty(),
                            "the skipped slot emits nothing: {:?}",
                            per[6]
                        );
                        programs += 1;
                    }
                }
            }
        }
    }
    assert_eq!(programs, 11 * 2 * 4 * 9 * 2);
}

#[test]
fn a_skipped_write_that_another_jump_lands_on_stays_a_branch() {
    // Slot 6 (`w0 = 0`) is also the target of slot 4: it must stay code.
    let src = "r2 = *(u64 *)(r1 + 0)\nr3 = *(u64 *)(r1 + 8)\nr0 = 5\nr0 += 1\n\
               if r3 == 7 goto +1\nif r2 > r3 goto +1\nw0 = 0\nexit";
    let prog = assemble_program(src).expect("assembles");
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
    // SAFETY: straight-line code that reads 16 bytes of its memory only.
    let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
    for (x, y) in [(9, 7), (1, 7), (9, 3), (1, 3)] {
        assert_eq!(run(&trusted, x, y), run(&vm, x, y), "x={x} y={y}");
    }
    let per = ironbpf_jit::disasm::per_insn(trusted.code());
    assert!(!per[6].is_empty(), "slot 6 is compiled");
}
