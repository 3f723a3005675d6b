//! Replays of the jit_vs_interp fuzz target's crashes
//! (`fuzz/regressions/jit_vs_interp/`, which `fuzz/run.sh` replays under
//! the fuzzer too): the JIT and the interpreter must give the same result,
//! or the same error at the same instruction, run after run.

use ironbpf_helpers::HelperRegistry;
use ironbpf_isa::assemble_program;
use ironbpf_maps::{MapSet, MapSpec};
use ironbpf_vm::object::MapResolver;
use ironbpf_vm::{progtype, Engine, Interpreter, JitProgram, Options, VmError};
use std::sync::Arc;

fn interp(asm: &str, maps: &Arc<MapSet>) -> Interpreter {
    let prog = assemble_program(asm).unwrap_or_else(|e| panic!("{e}\n{asm}"));
    let opts = Options {
        budget: 20_000,
        check_registers: false,
        ..Options::default()
    };
    Interpreter::with_resolver(
        &prog,
        &HelperRegistry::standard(),
        opts,
        Some(&MapResolver(maps.clone())),
    )
    .unwrap_or_else(|e| panic!("{e}\n{asm}"))
}

/// An XDP run on `ctx` and `pkt`, map values resolved in `maps`.
fn run(
    engine: &dyn Engine,
    maps: &Arc<MapSet>,
    ctx: &mut [u8],
    pkt: &mut [u8],
) -> Result<u64, VmError> {
    let resolver = MapResolver(maps.clone());
    ironbpf_vm::engine::run_ctx_into(
        engine,
        &progtype::XDP,
        None,
        ctx,
        Some(pkt),
        Some(&resolver),
        None,
    )
}

/// crash-76192cbafb0f9a0df4a40e45c7e2091dd85fb9d0 (bytes 5c b2 b2): r6 =
/// r1; call bpf_spin_lock(ctx); r0 = 2; exit. The interpreter's run left
/// the lock taken in a thread-local list, so the JIT's run after it (and
/// every later run on the thread) failed with "already held" at the call:
/// the engines disagreed, and a lock word in a map value would have stayed
/// taken for other threads. A lock held at exit is now released as the
/// run ends and reported, by every engine, on every run.
#[test]
fn a_spin_lock_held_at_exit_is_released_and_reported_by_every_engine() {
    let asm = "r6 = r1\ncall 93\nr0 = 2\nexit";
    let maps = Arc::new(MapSet::new());
    let vm = interp(asm, &maps);
    let jit = JitProgram::checked(vm.clone()).unwrap();
    let mut ctx = [0u8; 64];
    let mut pkt = [0u8; 14];
    let lock = ctx.as_ptr() as u64;
    for round in 0..3 {
        for engine in [&vm as &dyn Engine, &jit] {
            let r = run(engine, &maps, &mut ctx, &mut pkt);
            assert_eq!(
                r,
                Err(VmError::SpinLockHeldAtExit { addr: lock }),
                "{} on run {round}",
                engine.name()
            );
            assert_eq!(
                ctx[..4],
                [0; 4],
                "{}: the lock word is released",
                engine.name()
            );
        }
    }
    let msg = run(&vm, &maps, &mut ctx, &mut pkt).unwrap_err().to_string();
    assert!(msg.contains("bpf_spin_unlock"), "{msg}");
}

/// The same lock in a map value, left taken by one run: the next run (on
/// another thread, which the thread-local list did not cover) takes it
/// instead of spinning forever, and a run that unlocks is clean.
#[test]
fn a_map_value_lock_left_taken_does_not_hang_the_next_run() {
    let maps = Arc::new(MapSet::new());
    maps.create(&MapSpec::new(2, 4, 16, 1)).unwrap();
    let lookup = "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\n\
                  call bpf_map_lookup_elem\nif r0 == 0 goto +LBL\nr6 = r0\nr1 = r6\ncall bpf_spin_lock\n";
    let leaks = format!("{}r0 = 1\nexit\n", lookup.replace("LBL", "2"));
    let clean = format!(
        "{}r1 = r6\ncall bpf_spin_unlock\nr0 = 7\nexit\n",
        lookup.replace("LBL", "3")
    );
    let leaks = interp(&leaks, &maps);
    let clean = interp(&clean, &maps);
    let clean_jit = JitProgram::checked(clean.clone()).unwrap();
    let mut ctx = [0u8; 64];
    let mut pkt = [0u8; 14];
    let r = run(&leaks, &maps, &mut ctx, &mut pkt);
    assert!(
        matches!(r, Err(VmError::SpinLockHeldAtExit { .. })),
        "{r:?}"
    );
    let h = std::thread::spawn(move || {
        let mut ctx = [0u8; 64];
        let mut pkt = [0u8; 14];
        (
            run(&clean, &maps, &mut ctx, &mut pkt),
            run(&clean_jit, &maps, &mut ctx, &mut pkt),
        )
    });
    assert_eq!(h.join().unwrap(), (Ok(7), Ok(7)));
}
