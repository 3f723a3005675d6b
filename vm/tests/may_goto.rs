//! `may_goto` at run time, against the running kernel's
//! `BPF_PROG_TEST_RUN`: the programs of the clang-19 fixture
//! `verifier/tests/fixtures/may_goto/can_loop.c` (`can_loop` and
//! `cond_break` loops) on ironbpf's interpreter and in the kernel.
//!
//! The kernel on x86-64 runs the timed variant of may_goto: an endless
//! loop stops after about 250 ms (measured here: 470 to 840 million
//! iterations of `while (can_loop) n++`), a count no deterministic runtime
//! can reproduce. ironbpf runs the kernel's counted variant, its
//! interpreter's: 8,388,608 (`BPF_MAX_LOOPS`) fall-throughs per call of a
//! subprogram, then the jump. Programs whose result does not depend on the
//! budget must agree exactly; the endless loop gives exactly
//! `BPF_MAX_LOOPS` in ironbpf and, in the kernel, at least the two counts
//! of 65,535 the timed variant runs before it first looks at the clock.
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::TestRun;
use ironbpf_vm::interp::MAY_GOTO_BUDGET;
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{HelperRegistry, Options};
use std::path::Path;

fn fixture() -> ironbpf_loader::Object {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../verifier/tests/fixtures/may_goto/can_loop.o");
    ironbpf_loader::load_file(&path, &Default::default()).expect("the fixture loads")
}

/// The packet of every run (the programs do not read it).
fn packet() -> Vec<u8> {
    vec![0u8; 64]
}

/// r0 of `name` on the interpreter, with an instruction budget large
/// enough for two endless loops (2 x 8,388,608 iterations of three
/// instructions).
fn ours(loaded: &LoadedObject, name: &str) -> u64 {
    let opts = Options {
        budget: 200_000_000,
        ..Options::default()
    };
    let (vm, pt) = loaded.interpreter(name, opts).expect("interpreter");
    let pt = pt.expect("xdp");
    let mut ctx = vec![0u8; pt.ctx_size as usize];
    let mut pkt = packet();
    vm.run_ctx(pt, &mut ctx, Some(&mut pkt), Some(loaded.resolver()))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The name the loader gives the object's `.bss` map.
fn bss_name(obj: &ironbpf_loader::Object) -> String {
    obj.maps
        .iter()
        .map(|m| m.name.clone())
        .find(|n| n.ends_with(".bss"))
        .expect("the fixture has a .bss map")
}

/// `unsigned int counts[2]` of the fixture's `.bss`.
fn counts_of(v: &[u8; 8]) -> [u64; 2] {
    [
        u32::from_ne_bytes(v[..4].try_into().unwrap()) as u64,
        u32::from_ne_bytes(v[4..].try_into().unwrap()) as u64,
    ]
}

#[test]
fn can_loop_programs_return_what_they_return_in_the_kernel() {
    let obj = fixture();
    let loaded = LoadedObject::new(obj.clone(), &HelperRegistry::new()).expect("object");
    // Budget-independent results, worked out from the C source.
    let expected = [
        ("sum_to_100", 4950u64),
        ("fill_stack", (0..16u64).map(|i| i * 3).sum()),
    ];
    for (name, want) in expected {
        assert_eq!(ours(&loaded, name), want, "{name} on the interpreter");
    }
    let endless = ours(&loaded, "endless");
    assert_eq!(
        endless, MAY_GOTO_BUDGET,
        "an endless can_loop loop runs BPF_MAX_LOOPS iterations"
    );
    let bss = bss_name(&obj);
    assert_eq!(ours(&loaded, "calls_with_budget"), 0);
    let map = loaded.map(&bss).expect("the .bss map");
    let mut v = [0u8; 8];
    map.lookup(&0u32.to_ne_bytes(), &mut v, 0)
        .expect(".bss value");
    let counts = counts_of(&v);
    assert_eq!(
        counts, [MAY_GOTO_BUDGET; 2],
        "each call of spin() has a budget of its own"
    );
    if !ironbpf_kernel::available_for_test(
        "can_loop_programs_return_what_they_return_in_the_kernel",
    ) {
        return;
    }
    let kobj = KernelObject::create(&obj).expect("the kernel takes the object's maps");
    for (name, want) in expected {
        let p = obj
            .programs
            .iter()
            .find(|p| p.name == name)
            .expect("program");
        let load = kobj.load_program(p, 1);
        let prog = load
            .result
            .unwrap_or_else(|e| panic!("{name}: the kernel refused it: {e}\n{}", load.log));
        let run = prog
            .test_run(&TestRun {
                data: &packet(),
                ..Default::default()
            })
            .expect("test run");
        assert_eq!(run.retval as u64, want, "{name} in the kernel");
    }
    let p = obj
        .programs
        .iter()
        .find(|p| p.name == "calls_with_budget")
        .expect("program");
    let prog = kobj
        .load_program(p, 1)
        .result
        .expect("calls_with_budget loads");
    prog.test_run(&TestRun {
        data: &packet(),
        ..Default::default()
    })
    .expect("test run");
    let mut v = [0u8; 8];
    kobj.map(&bss)
        .expect("the kernel's .bss map")
        .lookup(&0u32.to_ne_bytes(), &mut v, 0)
        .expect(".bss value");
    let k = counts_of(&v);
    println!("spin() twice: {k:?} iterations in the kernel, {counts:?} in ironbpf");
    assert!(
        k.iter().all(|&n| n >= 2 * 0xffff),
        "in the kernel too each call of spin() has its own budget: {k:?}"
    );
    let p = obj
        .programs
        .iter()
        .find(|p| p.name == "endless")
        .expect("program");
    let prog = kobj.load_program(p, 1).result.expect("endless loads");
    let run = prog
        .test_run(&TestRun {
            data: &[0u8; 64],
            ..Default::default()
        })
        .expect("test run");
    println!(
        "endless can_loop loop: {} iterations in the kernel (timed may_goto), {endless} in ironbpf",
        run.retval
    );
    assert!(
        run.retval >= 2 * 0xffff,
        "the kernel's timed may_goto runs at least 2 x 65535 iterations, got {}",
        run.retval
    );
}

#[test]
fn the_checked_jit_runs_the_can_loop_programs_as_the_interpreter_does() {
    let loaded = LoadedObject::new(fixture(), &HelperRegistry::new()).expect("object");
    let opts = Options {
        budget: 200_000_000,
        ..Options::default()
    };
    for name in ["sum_to_100", "fill_stack", "endless"] {
        let (jit, pt) = loaded
            .engine(name, opts, true)
            .expect("the JIT compiles it");
        let pt = pt.expect("xdp");
        let mut ctx = vec![0u8; pt.ctx_size as usize];
        let mut pkt = packet();
        let r = ironbpf_vm::engine::run_ctx_into(
            jit.as_ref(),
            pt,
            None,
            &mut ctx,
            Some(&mut pkt),
            Some(loaded.resolver()),
            None,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            r,
            ours(&loaded, name),
            "{name}: the JIT against the interpreter"
        );
    }
}
