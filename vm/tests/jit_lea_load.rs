//! `t = s ; t += k ; d = *(size *)(t + off)` with `t` dead after the load
//! compiles to one load from `s + k + off` (strcmp's `b[i]`). The result,
//! and in checked mode the fault of a load outside the memory, must be the
//! interpreter's; where `t` is read again the `lea` stays.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options, VmError};

fn vm(src: &str) -> Interpreter {
    let prog = assemble_program(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads")
}

fn outcome(e: &dyn Engine) -> Result<u64, String> {
    let mut mem: Vec<u8> = (0..256u32).map(|i| (i * 37 + 11) as u8).collect();
    e.run_memory(&mut mem).map_err(|e| match e {
        VmError::MemoryFault { pc, fault, .. } => format!(
            "fault pc {pc}: {:?} of {} at +{:?}",
            fault.access,
            fault.len,
            fault.nearest.map(|r| fault.addr.wrapping_sub(r.start))
        ),
        other => format!("{other:?}"),
    })
}

/// The x86 code of slot `pc`.
fn code_of(p: &JitProgram, pc: usize) -> Vec<String> {
    ironbpf_jit::disasm::per_insn(p.code())[pc]
        .iter()
        .map(|i| i.text.clone())
        .collect()
}

#[test]
fn a_load_through_a_dead_lea_reads_the_same_bytes() {
    let mut folded = 0;
    for size in ["u8", "u16", "u32", "u64"] {
        for (k, off) in [
            (0i64, 0i64),
            (16, 0),
            (100, 8),
            (-8, 40),
            (200, 48),
            (250, 0),
        ] {
            // r3 dead after the load (written next), or the load's own
            // destination, or read again (the lea stays).
            for after in ["r3 = 7\nr0 += r3", "", "r0 += r3"] {
                let dst = if after.is_empty() { "r3" } else { "r0" };
                let src = format!(
                    "r2 = r1\nr2 += 8\nr3 = r2\nr3 += {k}\n{dst} = *({size} *)(r3 {off:+})\n\
                     r0 = {dst}\n{after}\nexit"
                )
                .replace("\n\nexit", "\nexit");
                let vm = vm(&src);
                let want = outcome(&vm);
                let checked = JitProgram::checked(vm.clone()).expect("compiles");
                assert_eq!(outcome(&checked), want, "checked\n{src}");
                if want.is_ok() {
                    // SAFETY: the load is inside the 256-byte memory
                    // (checked by the interpreter's clean run above).
                    let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
                    assert_eq!(outcome(&trusted), want, "trusted\n{src}");
                    // Slot 2 is the fused mov + add.
                    let lea = code_of(&trusted, 2)
                        .iter()
                        .any(|t| t.starts_with("lea") && t.contains("rdx,"));
                    assert_eq!(
                        lea,
                        after == "r0 += r3",
                        "{:?}\n{src}",
                        code_of(&trusted, 2)
                    );
                    folded += usize::from(!lea);
                }
            }
        }
    }
    assert!(folded > 20, "{folded} loads folded");
}
