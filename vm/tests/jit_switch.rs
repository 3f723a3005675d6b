//! The JIT's jump tables: a binary search on a masked register (clang's
//! `switch` for BPF, which has no indirect jump) is compiled where no
//! budget is charged as one indirect jump through a table of the tree's
//! destinations. Each value must reach the case the tree sends it to, as
//! the interpreter does, whatever the bits above the mask; jumps into the
//! middle of the tree still work; and the trusted code must hold the
//! indirect jump at the tree's root.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

/// A switch on `v & 7` with six cases (2 and 3 share one, 6 and 7 take
/// the default), as a tree of signed compares; r0 = a case's own value of
/// v. `entry` decides whether the program jumps into the tree's second
/// level for odd `v >> 8` (so that the tree is also entered past its root).
fn program(mask: &str, entry: bool) -> String {
    let side = if entry {
        "r5 = r2\nr5 >>= 8\nr5 &= 1\nif r5 != 0 goto second\n"
    } else {
        ""
    };
    format!(
        "r2 = *(u64 *)(r1 + 0)\nr4 = r2\n{side}r4 &= {mask}\n\
         if w4 s> 3 goto high\n\
         second:\n\
         if w4 s> 1 goto two_three\n\
         if w4 == 0 goto zero\n\
         r0 = r2\nr0 *= 3\nexit\n\
         two_three:\nr0 = r2\nr0 ^= 0x55\nexit\n\
         zero:\nr0 = 1000\nexit\n\
         high:\n\
         if w4 s> 5 goto default\n\
         if w4 == 4 goto four\n\
         r0 = r2\nr0 <<= 5\nexit\n\
         four:\nr0 = r2\nr0 += 44\nexit\n\
         default:\nr0 = 7\nexit"
    )
}

fn is_jmp_r11(text: &str) -> bool {
    text.split_whitespace().eq(["jmp", "r11"])
}

fn run(e: &dyn Engine, v: u64) -> u64 {
    let mut mem = v.to_le_bytes();
    e.run_memory(&mut mem).expect("it runs")
}

#[test]
fn a_switch_tree_after_a_mask_jumps_through_a_table_to_the_interpreters_case() {
    for entry in [false, true] {
        let src = program("7", entry);
        let prog = assemble_program(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let vm =
            Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
        // SAFETY: straight-line code that reads 8 bytes of its memory only.
        let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
        let checked = JitProgram::checked(vm.clone()).expect("compiles");
        let mut cases = std::collections::BTreeSet::new();
        for hi in [0u64, 0x100, 0x1234_5600, 0xffff_ffff_ffff_ff00] {
            for lo in 0..16u64 {
                let v = hi | lo;
                let want = run(&vm, v);
                cases.insert(want);
                assert_eq!(run(&trusted, v), want, "trusted, v={v:#x}\n{src}");
                assert_eq!(run(&checked, v), want, "checked, v={v:#x}\n{src}");
            }
        }
        assert!(
            cases.len() > 20,
            "the cases give distinct results: {cases:?}"
        );
        // The root (slot 3 without the side entry, 7 with it) is the
        // table's indirect jump.
        let root = if entry { 7 } else { 3 };
        let per = ironbpf_jit::disasm::per_insn(trusted.code());
        let text: Vec<String> = per[root].iter().map(|i| i.text.clone()).collect();
        assert!(
            text.iter().any(|t| is_jmp_r11(t)),
            "slot {root} compiled to {text:?}\n{src}"
        );
    }
}

#[test]
fn a_tree_whose_values_are_not_masked_stays_compares() {
    // r4 &= 7 replaced by a shift: the register's range is unknown.
    let src = program("7", false).replace("r4 &= 7", "r4 >>= 61");
    let prog = assemble_program(&src).expect("assembles");
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
    // SAFETY: straight-line code that reads 8 bytes of its memory only.
    let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
    for v in [0u64, 1 << 61, 3 << 61, 5 << 61, 7 << 61, u64::MAX] {
        assert_eq!(run(&trusted, v), run(&vm, v), "v={v:#x}");
    }
    let per = ironbpf_jit::disasm::per_insn(trusted.code());
    assert!(per[3].iter().all(|i| !is_jmp_r11(&i.text)));
}
