//! Soundness: a program the verifier accepts runs in the checked
//! interpreter without a memory fault, a refused context access, a
//! misaligned atomic, a call-depth overflow, an exhausted budget or a
//! bpf_spin_lock held at exit.
#![no_main]
use arbitrary::Unstructured;
use ironbpf_fuzz::{gen_program, map_infos, packet, xdp_object};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::testrun::{self, TestRun};
use ironbpf_vm::{progtype, HelperRegistry, Options, VmError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(insns) = gen_program(&mut u, 96) else {
        return;
    };
    let Ok(pkt) = packet(&mut u) else { return };
    let mut opts = VerifyOptions::new(ProgTypeId::Xdp);
    opts.log_level = 0;
    opts.maps = map_infos();
    let out = verify(&insns, &opts);
    if out.result.is_err() {
        return;
    }
    let Ok(loaded) = LoadedObject::new(xdp_object(&insns), &HelperRegistry::new()) else {
        return;
    };
    let Ok((vm, _)) = loaded.interpreter("prog", Options::default()) else {
        // A helper the verifier allows that userspace does not implement.
        return;
    };
    let r = testrun::run(
        &vm,
        &progtype::XDP,
        &TestRun::packet(&pkt),
        Some(loaded.resolver()),
    );
    if let Err(e) = r {
        let unsound = matches!(
            e,
            VmError::MemoryFault { .. }
                | VmError::CtxAccess { .. }
                | VmError::MisalignedAtomic { .. }
                | VmError::CallDepth { .. }
                | VmError::BadCallx { .. }
                | VmError::BudgetExhausted { .. }
                // The kernel's verifier refuses a program that can exit
                // holding a bpf_spin_lock.
                | VmError::SpinLockHeldAtExit { .. }
        );
        if unsound {
            panic!(
                "the verifier accepted a program that fails in the checked interpreter: {e}\n{}",
                ironbpf_isa::Program::from_slots(insns.clone())
                    .map(|p| ironbpf_isa::disasm_program(&p))
                    .unwrap_or_default()
            );
        }
    }
});
