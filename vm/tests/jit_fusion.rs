//! The JIT's fused pairs: `rX = rY ; rX += K|rZ` as one `lea` and
//! `wX = wY ; wX &= 0xff|0xffff` as one `movzx`, with the second slot
//! emitting nothing. Their results must be the interpreter's for values that
//! carry into the high half, negative immediates and set high bits, and the
//! code must hold the fused forms.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

const PROGRAM: &str = "\
r1 = *(u64 *)(r1 + 0)
r2 = r1
r2 += -5
w3 = w1
w3 &= 255
w4 = w1
w4 &= 65535
r5 = r1
r5 += r3
r6 = r5
r6 += 2147483647
r0 = r2
r0 ^= r3
r0 <<= 7
r0 ^= r4
r0 += r5
r0 ^= r6
exit";

fn expected(x: u64) -> u64 {
    let r2 = x.wrapping_sub(5);
    let r3 = x & 0xff;
    let r4 = x & 0xffff;
    let r5 = x.wrapping_add(r3);
    let r6 = r5.wrapping_add(0x7fff_ffff);
    ((((r2 ^ r3) << 7) ^ r4).wrapping_add(r5)) ^ r6
}

#[test]
fn fused_pairs_compute_what_the_interpreter_does_and_compile_to_one_insn() {
    let prog = assemble_program(PROGRAM).expect("it assembles");
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
    let checked = JitProgram::checked(vm.clone()).expect("it compiles");
    // SAFETY: straight-line code that reads 8 bytes of its memory only.
    let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("it compiles");
    for x in [
        0u64,
        4,
        0xff,
        0x1ff,
        0xffff_ffff,
        0x8000_0000_0000_00fe,
        u64::MAX,
        0x1234_5678_9abc_def0,
    ] {
        let run = |e: &dyn Engine| {
            let mut mem = x.to_le_bytes();
            e.run_memory(&mut mem).expect("it runs")
        };
        assert_eq!(run(&vm), expected(x), "interp, x = {x:#x}");
        assert_eq!(run(&checked), expected(x), "checked JIT, x = {x:#x}");
        assert_eq!(run(&trusted), expected(x), "trusted JIT, x = {x:#x}");
    }
    for jit in [&checked, &trusted] {
        let per = ironbpf_jit::disasm::per_insn(jit.code());
        let text = |pc: usize| {
            per[pc]
                .iter()
                .map(|i| i.text.clone())
                .collect::<Vec<_>>()
                .join("; ")
        };
        // Slots 1-2, 7-8 and 9-10: lea, then nothing; 3-4 and 5-6: movzx.
        for (first, what) in [
            (1, "lea"),
            (3, "movzx"),
            (5, "movzx"),
            (7, "lea"),
            (9, "lea"),
        ] {
            assert!(
                text(first).starts_with(what) && per[first].len() == 1,
                "{} slot {first}: {}",
                jit.mode(),
                text(first)
            );
            assert!(
                per[first + 1].is_empty(),
                "{} slot {}: {}",
                jit.mode(),
                first + 1,
                text(first + 1)
            );
        }
    }
}
