//! The JIT against the interpreter: checked mode on every program gives the
//! same r0, packet, map contents and canaries, or the same error at the
//! same instruction; trusted mode likewise, on the programs that the
//! checked interpreter ran cleanly.
#![no_main]
use arbitrary::Unstructured;
use ironbpf_fuzz::{gen_program, nondeterministic, packet, xdp_object, Guarded, MAPS};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{progtype, Engine, HelperRegistry, Interpreter, JitProgram, Options, VmError};
use libfuzzer_sys::fuzz_target;

/// What two engines must agree on: r0 (or the error's kind and
/// instruction), the packet after the run, and every map value.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<u64, String>,
    packet: Vec<u8>,
    maps: Vec<Vec<Option<Vec<u8>>>>,
}

fn error_at(e: &VmError) -> String {
    let pc = match e {
        VmError::UnknownHelper { pc, .. }
        | VmError::HelperNotAllowed { pc, .. }
        | VmError::Unsupported { pc, .. }
        | VmError::MemoryFault { pc, .. }
        | VmError::CtxAccess { pc, .. }
        | VmError::MisalignedAtomic { pc, .. }
        | VmError::BudgetExhausted { pc, .. }
        | VmError::CallDepth { pc, .. }
        | VmError::HelperFailed { pc, .. }
        | VmError::BadCallx { pc, .. } => Some(*pc),
        VmError::Invalid(_) | VmError::Setup(_) | VmError::SpinLockHeldAtExit { .. } => None,
    };
    let kind = format!("{e:?}");
    let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
    format!("{kind} at insn {pc:?}")
}

/// A value that is most likely a host address (the engines' stacks and
/// hash map elements sit at different addresses in different runs).
fn addr_like(v: u64) -> bool {
    (0x1000_0000_0000..0x8000_0000_0000).contains(&v)
}

fn run(
    engine: &dyn Engine,
    loaded: &LoadedObject,
    pkt: &[u8],
    bufs: &mut (Guarded, Guarded),
) -> Outcome {
    // Every engine starts from the same (empty) maps, context and packet,
    // at the same addresses.
    for (i, &(t, _, _, n)) in MAPS.iter().enumerate() {
        let m = loaded.map(&format!("m{i}")).expect("the object's map");
        for k in 0..n {
            if t == 2 {
                let _ = m.update(&k.to_ne_bytes(), &[0u8; 16], 0);
            } else {
                let _ = m.delete(&k.to_ne_bytes());
            }
        }
    }
    let (ctx, packet) = bufs;
    ctx.reset(&[0u8; 64]);
    packet.reset(pkt);
    let r = ironbpf_vm::engine::run_ctx_into(
        engine,
        &progtype::XDP,
        None,
        ctx.inner(),
        Some(packet.inner()),
        Some(loaded.resolver()),
        None,
    );
    ctx.check(&format!("{}: the context", engine.name()));
    packet.check(&format!("{}: the packet", engine.name()));
    let maps = MAPS
        .iter()
        .enumerate()
        .map(|(i, &(_, _, vs, n))| {
            let m = loaded.map(&format!("m{i}")).expect("the object's map");
            (0..n + 2)
                .map(|k| {
                    let mut v = vec![0u8; vs as usize];
                    m.lookup(&k.to_ne_bytes(), &mut v, 0).ok().map(|_| v)
                })
                .collect()
        })
        .collect();
    Outcome {
        result: r
            .map(|r0| if addr_like(r0) { 0xadd7 } else { r0 })
            .map_err(|e| error_at(&e)),
        packet: packet.inner().to_vec(),
        maps,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(insns) = gen_program(&mut u, 96) else {
        return;
    };
    let Ok(pkt) = packet(&mut u) else { return };
    if nondeterministic(&insns) {
        return;
    }
    let mut bufs = (Guarded::new(&[0u8; 64]), Guarded::new(&pkt));
    let Ok(loaded) = LoadedObject::new(xdp_object(&insns), &HelperRegistry::new()) else {
        return;
    };
    let opts = Options {
        budget: 20_000,
        check_registers: false,
        ..Options::default()
    };
    let Ok((vm, _)) = loaded.interpreter("prog", opts) else {
        return;
    };
    let vm: Interpreter = vm;
    let want = run(&vm, &loaded, &pkt, &mut bufs);
    let checked = match JitProgram::checked(vm.clone()) {
        Ok(j) => j,
        Err(e) => panic!("the JIT cannot compile a program the interpreter takes: {e}"),
    };
    let got = run(&checked, &loaded, &pkt, &mut bufs);
    assert_eq!(got, want, "jit-checked differs from the interpreter");
    if want.result.is_ok() {
        // SAFETY: the checked interpreter ran this program to its end on
        // the same context, packet and map contents at the same addresses,
        // touching only its regions, and the program calls no helper whose
        // result changes between runs: the trusted run takes the same path.
        let trusted =
            unsafe { JitProgram::trusted(vm) }.expect("the JIT compiles it in trusted mode");
        let got = run(&trusted, &loaded, &pkt, &mut bufs);
        assert_eq!(got, want, "jit (trusted) differs from the interpreter");
    }
});
