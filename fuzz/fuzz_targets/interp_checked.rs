//! Arbitrary programs in the checked interpreter: an error or a result,
//! never a panic; nothing written outside the run's regions (canaries
//! around the input memory and the packet); the budget ends every run.
#![no_main]
use arbitrary::Unstructured;
use ironbpf_fuzz::{gen_program, packet, xdp_object, Guarded};
use ironbpf_isa::{slots_from_bytes, Program};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::testrun::{self, TestRun};
use ironbpf_vm::{progtype, HelperRegistry, Interpreter, Options};
use libfuzzer_sys::fuzz_target;

const BUDGET: u64 = 50_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    if mode & 1 == 0 {
        // Raw slots on input memory, no maps.
        let n = rest.len().min(64 * 8) / 8 * 8;
        let Ok(slots) = slots_from_bytes(&rest[..n]) else {
            return;
        };
        let Ok(prog) = Program::from_slots(slots) else {
            return;
        };
        let opts = Options {
            budget: BUDGET,
            entry_regs: 0b110,
            check_registers: mode & 2 == 0,
            cpu: 0,
        };
        let Ok(vm) = Interpreter::new(&prog, &HelperRegistry::standard(), opts) else {
            return;
        };
        let mut mem = Guarded::new(&rest[n..]);
        let _ = vm.run_with_memory(mem.inner());
        mem.check("input memory");
        return;
    }
    let Ok(insns) = gen_program(&mut u, 96) else {
        return;
    };
    let Ok(pkt) = packet(&mut u) else { return };
    let Ok(loaded) = LoadedObject::new(xdp_object(&insns), &HelperRegistry::new()) else {
        return;
    };
    let opts = Options {
        budget: BUDGET,
        check_registers: mode & 2 == 0,
        ..Options::default()
    };
    let Ok((vm, _)) = loaded.interpreter("prog", opts) else {
        return;
    };
    if mode & 4 == 0 {
        // As BPF_PROG_TEST_RUN lays it out (headroom, tailroom, helpers
        // that move the packet's bounds).
        let _ = testrun::run(
            &vm,
            &progtype::XDP,
            &TestRun::packet(&pkt),
            Some(loaded.resolver()),
        );
    } else {
        let mut ctx = Guarded::new(&[0u8; 64]);
        let mut p = Guarded::new(&pkt);
        let _ = ironbpf_vm::engine::run_ctx_into(
            &vm,
            &progtype::XDP,
            None,
            ctx.inner(),
            Some(p.inner()),
            Some(loaded.resolver()),
            None,
        );
        ctx.check("the context");
        p.check("the packet");
    }
});
