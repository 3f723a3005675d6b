//! The embedding API end to end: host helpers the verifier checks, maps
//! shared by host and instances across threads, and the failures that must
//! leave the host running (a panicking helper, an endless loop).

use ironbpf_vm::embed::{Arg, Call, Error, Linker, MapSpec, Program, ProgramType, Runtime};
use ironbpf_vm::VmError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BPF_MAP_TYPE_ARRAY: u32 = 2;

fn runtimes() -> [Runtime; 2] {
    [Runtime::interpreter(), Runtime::jit()]
}

/// A type with an 8-byte context: u32 `a` at 0, u32 `b` at 4.
fn ab_type() -> ProgramType {
    ProgramType::new("ab", 8)
        .field_ro("a", 0, 4)
        .field_ro("b", 4, 4)
}

fn rejected(r: Result<ironbpf_vm::embed::Instance, Error>) -> (Option<usize>, String) {
    match r {
        Err(Error::Rejected { insn, message, .. }) => (insn, message),
        Err(e) => panic!("expected a verifier refusal, got {e}"),
        Ok(_) => panic!("expected a verifier refusal, the program was accepted"),
    }
}

#[test]
fn both_engines_give_the_same_results_with_host_helpers() {
    let src = "r6 = r1\n r1 = *(u32 *)(r6 + 0)\n r2 = *(u32 *)(r6 + 4)\n call 1000\n\
               r1 = r0\n r1 &= 0xffff\n r2 = *(u32 *)(r6 + 0)\n call 1001\n exit";
    let mut linker = Linker::new();
    linker
        .func(
            "mix",
            1000,
            &[Arg::Scalar, Arg::Scalar],
            |_: &mut Call<'_>, a: u64, b: u64| {
                a.wrapping_mul(0x9e37_79b9).wrapping_add(b) ^ (b << 7)
            },
        )
        .unwrap()
        .func(
            "sub",
            1001,
            &[Arg::Scalar, Arg::Scalar],
            |_: &mut Call<'_>, a: u64, b: u64| a.wrapping_sub(b),
        )
        .unwrap();
    let prog = Program::from_asm(src, ab_type()).unwrap();
    let interp = linker.instantiate(&Runtime::interpreter(), &prog).unwrap();
    let jit = linker.instantiate(&Runtime::jit(), &prog).unwrap();
    // SAFETY: the program is verified, and straight-line.
    let trusted = linker
        .instantiate(&unsafe { Runtime::jit_trusted() }, &prog)
        .unwrap();
    assert_eq!(
        (
            interp.engine_name(),
            jit.engine_name(),
            trusted.engine_name()
        ),
        ("interp", "jit-checked", "jit")
    );
    let mut distinct = std::collections::HashSet::new();
    for a in [0u32, 1, 7, 0xffff, 0x8000_0000, u32::MAX] {
        for b in [0u32, 3, 0x1234_5678, u32::MAX] {
            let mut ctx = [a.to_le_bytes(), b.to_le_bytes()].concat();
            let r_i = interp.run(&mut ctx).unwrap();
            let r_j = jit.run(&mut ctx).unwrap();
            let r_t = trusted.run(&mut ctx).unwrap();
            assert_eq!((r_i, r_i), (r_j, r_t), "a={a:#x} b={b:#x}");
            let m = (a as u64).wrapping_mul(0x9e37_79b9).wrapping_add(b as u64) ^ ((b as u64) << 7);
            assert_eq!(r_i, (m & 0xffff).wrapping_sub(a as u64));
            distinct.insert(r_i);
        }
    }
    assert!(distinct.len() > 20, "the inputs exercise the program");
}

#[test]
fn the_verifier_checks_every_call_to_a_host_helper() {
    let mut linker = Linker::new();
    linker
        .func("num", 1000, &[Arg::Scalar], |_: &mut Call<'_>, a: u64| a)
        .unwrap()
        .func(
            "hash8",
            1001,
            &[Arg::Bytes(8)],
            |cx: &mut Call<'_>, p: u64| cx.read_u64(p).unwrap_or(0).rotate_left(5),
        )
        .unwrap()
        .func("size", 1002, &[Arg::Map], |cx: &mut Call<'_>, m: u64| {
            cx.map(m).map_or(0, |m| m.spec().max_entries as u64)
        })
        .unwrap();
    linker
        .map("m", MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 3))
        .unwrap();
    let rt = Runtime::interpreter();
    let ty = ab_type;
    let build = |src: &str| Program::from_asm(src, ty()).unwrap().with_maps(&["m"]);

    // A number where the helper reads memory.
    let (insn, msg) = rejected(linker.instantiate(&rt, &build("r1 = 5\n call 1001\n exit")));
    assert_eq!(insn, Some(1));
    assert!(msg.starts_with("R1 type=scalar expected=fp, pkt"), "{msg}");
    // The context where the helper reads 8 bytes of memory.
    let (insn, msg) = rejected(linker.instantiate(&rt, &build("call 1001\n exit")));
    assert_eq!(insn, Some(0));
    assert!(msg.starts_with("R1 type=ctx expected=fp, pkt"), "{msg}");
    // Only 4 bytes of stack above the pointer.
    let (insn, msg) = rejected(linker.instantiate(
        &rt,
        &build("r1 = 0\n *(u64 *)(r10 - 8) = r1\n r1 = r10\n r1 += -4\n call 1001\n exit"),
    ));
    assert_eq!(insn, Some(4), "{msg}");
    // A number where the helper takes a map.
    let (insn, msg) = rejected(linker.instantiate(&rt, &build("r1 = 5\n call 1002\n exit")));
    assert_eq!(
        (insn, msg.as_str()),
        (Some(1), "R1 type=scalar expected=map_ptr")
    );
    // A helper nobody registered.
    let (insn, msg) = rejected(linker.instantiate(&rt, &build("r1 = 5\n call 1003\n exit")));
    assert_eq!(insn, Some(1));
    assert!(msg.contains("#1003") && msg.contains("num#1000"), "{msg}");
    // A kernel helper the custom type was not given.
    let (insn, msg) = rejected(linker.instantiate(&rt, &build("call 5\n exit")));
    assert_eq!(insn, Some(0));
    assert!(
        msg.contains("bpf_ktime_get_ns#5") && msg.contains("allow_kernel_helpers"),
        "{msg}"
    );

    // The same helpers, called as their prototypes say, run.
    let ok = build(
        "r1 = 0x0102030405060708 ll\n *(u64 *)(r10 - 8) = r1\n r1 = r10\n r1 += -8\n call 1001\n\
         r6 = r0\n r1 = map[idx:0]\n call 1002\n r0 += r6\n exit",
    );
    for rt in runtimes() {
        let inst = linker.instantiate(&rt, &ok).unwrap();
        assert_eq!(
            inst.run(&mut [0; 8]).unwrap(),
            0x0102030405060708u64.rotate_left(5) + 3
        );
    }
}

#[test]
fn the_linker_refuses_helpers_it_cannot_check() {
    let mut linker = Linker::new();
    let e = linker
        .func(
            "two",
            1000,
            &[Arg::Scalar],
            |_: &mut Call<'_>, a: u64, b: u64| a + b,
        )
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("takes 2 arguments") && e.to_string().contains("lists 1"),
        "{e}"
    );
    let e = linker
        .func("mine", 5, &[], |_: &mut Call<'_>| 0)
        .err()
        .unwrap();
    assert!(e.to_string().contains("bpf_ktime_get_ns"), "{e}");
    let e = linker
        .func(
            "buf",
            1000,
            &[Arg::Buf, Arg::Scalar],
            |_: &mut Call<'_>, _: u64, _: u64| 0,
        )
        .err()
        .unwrap();
    assert!(e.to_string().contains("Arg::Len"), "{e}");
    linker.func("a", 1000, &[], |_: &mut Call<'_>| 0).unwrap();
    assert!(linker.func("b", 1000, &[], |_: &mut Call<'_>| 0).is_err());
}

#[test]
fn a_panicking_host_helper_ends_the_run_with_an_error_naming_it() {
    let mut linker = Linker::new();
    linker
        .func(
            "explode",
            1000,
            &[Arg::Scalar],
            |_: &mut Call<'_>, a: u64| {
                if a == 13 {
                    panic!("unlucky number {a}");
                }
                a * 2
            },
        )
        .unwrap();
    let prog = Program::from_asm("r1 = *(u32 *)(r1 + 0)\n call 1000\n exit", ab_type()).unwrap();
    for rt in runtimes() {
        let inst = linker.instantiate(&rt, &prog).unwrap();
        let mut ctx = [13, 0, 0, 0, 0, 0, 0, 0];
        let err = inst.run(&mut ctx).unwrap_err();
        let Some(VmError::HelperFailed { name, message, .. }) = err.vm_error() else {
            panic!("{err}");
        };
        assert_eq!((err.insn(), name.as_str()), (Some(1), "explode"));
        assert!(
            message.contains("panicked (unlucky number 13)"),
            "{message}"
        );
        assert!(
            err.to_string()
                .starts_with("insn 1: helper explode (id 1000) failed"),
            "{err}"
        );
        // The host, and the same instance, go on.
        let mut ctx = [21, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(inst.run(&mut ctx).unwrap(), 42);
    }
}

#[test]
fn a_plugin_that_loops_forever_ends_in_an_error() {
    let linker = Linker::new();
    let looping = Program::from_asm("r0 = 0\n goto -1", ab_type()).unwrap();
    // The verifier refuses it...
    let (insn, msg) = rejected(linker.instantiate(&Runtime::interpreter(), &looping));
    assert!(
        insn.is_some() && msg.contains("infinite loop"),
        "{insn:?} {msg}"
    );
    // ...and unverified it runs only checked, with a budget, which stops it.
    let e = linker
        .instantiate_unverified(&unsafe { Runtime::jit_trusted() }, &looping)
        .unwrap_err();
    assert!(e.to_string().contains("trusted JIT"), "{e}");
    let e = linker
        .instantiate_unverified(&Runtime::jit().budget(u64::MAX), &looping)
        .unwrap_err();
    assert!(e.to_string().contains("finite instruction budget"), "{e}");
    for rt in runtimes() {
        let inst = linker
            .instantiate_unverified(&rt.budget(100_000), &looping)
            .unwrap();
        assert!(!inst.is_verified());
        let err = inst.run(&mut [0; 8]).unwrap_err();
        assert!(
            matches!(
                err.vm_error(),
                Some(VmError::BudgetExhausted {
                    budget: 100_000,
                    ..
                })
            ),
            "{err}"
        );
        assert!(err.insn().is_some());
    }
    // The host goes on running programs.
    let ok = Program::from_asm("r0 = 7\n exit", ab_type()).unwrap();
    assert_eq!(
        linker
            .instantiate(&Runtime::jit(), &ok)
            .unwrap()
            .run(&mut [0; 8])
            .unwrap(),
        7
    );
}

#[test]
fn maps_are_shared_by_the_host_and_every_instance() {
    let linker = Linker::new();
    let map = linker
        .map("box", MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 1))
        .unwrap();
    let ty = || {
        ProgramType::new("t", 8)
            .allow_kernel_helpers(&["map_lookup_elem"])
            .unwrap()
    };
    // One program adds r1's first word to the value, the other returns it.
    let add = Program::from_asm(
        "r6 = *(u32 *)(r1 + 0)\n r1 = 0\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n\
         r1 = map[idx:0]\n call 1\n if r0 == 0 goto +1\n lock *(u64 *)(r0 + 0) += r6\n r0 = 0\n exit",
        ty().field_ro("n", 0, 4),
    )
    .unwrap()
    .with_maps(&["box"]);
    let get = Program::from_asm("r1 = map[idx:0][0]+0\n r0 = *(u64 *)(r1 + 0)\n exit", ty())
        .unwrap()
        .with_maps(&["box"]);
    map.update(&0u32.to_ne_bytes(), &100u64.to_ne_bytes(), 0)
        .unwrap();
    let adder = linker.instantiate(&Runtime::interpreter(), &add).unwrap();
    let getter = linker.instantiate(&Runtime::jit(), &get).unwrap();
    adder.run(&mut [5, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(getter.run(&mut [0; 8]).unwrap(), 105);
    let mut v = [0u8; 8];
    map.lookup(&0u32.to_ne_bytes(), &mut v, 0).unwrap();
    assert_eq!(u64::from_ne_bytes(v), 105);
    // A program naming a map the linker lacks is refused at link time.
    let e = linker
        .instantiate(&Runtime::jit(), &get.clone().with_maps(&["nope"]))
        .unwrap_err();
    assert!(e.to_string().contains("\"nope\""), "{e}");
}

/// 8 threads run one instance, each run bumping a map counter with an
/// atomic add and a host counter through a host helper, for `secs`; the
/// host reads the map all along. No update may be lost.
fn concurrent_counts(rt: Runtime, secs: u64) {
    const THREADS: usize = 8;
    let host_count = Arc::new(AtomicU64::new(0));
    let mut linker = Linker::new();
    let hc = host_count.clone();
    linker
        .func("tick", 1000, &[], move |_: &mut Call<'_>| {
            hc.fetch_add(1, Ordering::Relaxed)
        })
        .unwrap();
    let map = linker
        .map("count", MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 1))
        .unwrap();
    let ty = ProgramType::new("t", 8)
        .allow_kernel_helpers(&["map_lookup_elem"])
        .unwrap();
    let prog = Program::from_asm(
        "r1 = 0\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n r1 = map[idx:0]\n call 1\n\
         if r0 == 0 goto +2\n r1 = 1\n lock *(u64 *)(r0 + 0) += r1\n call 1000\n r0 = 0\n exit",
        ty,
    )
    .unwrap()
    .with_maps(&["count"]);
    let inst = linker.instantiate(&rt, &prog).unwrap();
    let read = || {
        let mut v = [0u8; 8];
        map.lookup(&0u32.to_ne_bytes(), &mut v, 0).unwrap();
        u64::from_ne_bytes(v)
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (runs, samples) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                // Half the threads share one instance, the other half each
                // make their own from the same linker: all share the map.
                let inst = if t < THREADS / 2 {
                    inst.clone()
                } else {
                    linker.instantiate(&rt, &prog).unwrap()
                };
                s.spawn(move || {
                    let mut n = 0u64;
                    let mut ctx = [0u8; 8];
                    while Instant::now() < deadline {
                        for _ in 0..256 {
                            assert_eq!(inst.run(&mut ctx).unwrap(), 0);
                        }
                        n += 256;
                    }
                    n
                })
            })
            .collect();
        // The host reads the shared map while the programs run: the count
        // never goes down.
        let mut samples = 0u64;
        let mut last = 0;
        while Instant::now() < deadline {
            let v = read();
            assert!(v >= last, "the counter went from {last} down to {v}");
            last = v;
            samples += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        let runs: Vec<u64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        (runs, samples)
    });
    let total: u64 = runs.iter().sum();
    println!(
        "{}: {THREADS} threads, {secs} s: {total} runs ({runs:?}), map {}, host helper {}, {samples} host reads",
        inst.engine_name(),
        read(),
        host_count.load(Ordering::Relaxed)
    );
    assert!(runs.iter().all(|&n| n > 0));
    assert_eq!(read(), total, "the map lost updates");
    assert_eq!(
        host_count.load(Ordering::Relaxed),
        total,
        "the host helper lost calls"
    );
}

#[test]
fn eight_threads_lose_no_updates_for_1s_interp() {
    concurrent_counts(Runtime::interpreter(), 1);
}

#[test]
fn eight_threads_lose_no_updates_for_1s_jit() {
    concurrent_counts(Runtime::jit(), 1);
}

#[test]
fn eight_threads_lose_no_updates_for_1s_trusted_jit() {
    // SAFETY: the counting program is verified, straight-line and touches
    // only its stack and the map value the lookup gave.
    concurrent_counts(unsafe { Runtime::jit_trusted() }, 1);
}

fn long() -> bool {
    let on = std::env::var("IRONBPF_LONG_TESTS").is_ok_and(|v| v == "1");
    if !on {
        println!("not run: the 10 s run needs IRONBPF_LONG_TESTS=1 (CI sets it; the 1 s run always runs)");
    }
    on
}

#[test]
fn eight_threads_lose_no_updates_for_10s_interp() {
    if long() {
        concurrent_counts(Runtime::interpreter(), 10);
    }
}

#[test]
fn eight_threads_lose_no_updates_for_10s_jit() {
    if long() {
        concurrent_counts(Runtime::jit(), 10);
    }
}

#[test]
fn instances_and_linkers_are_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<ironbpf_vm::embed::Instance>();
    both::<Linker>();
    both::<Program>();
    both::<Runtime>();
}

/// The README's snippet for embedders, as written there.
#[test]
fn the_readme_snippet_runs() -> Result<(), Error> {
    let ty = ProgramType::new("hook", 8)
        .field_ro("user", 0, 4)
        .returns(0, 1);
    let mut linker = Linker::new();
    linker.func(
        "quota",
        1000,
        &[Arg::Scalar],
        |_: &mut Call<'_>, user: u64| user * 100,
    )?;
    let prog = Program::from_asm("r1 = *(u32 *)(r1 + 0)\n call 1000\n r0 &= 1\n exit", ty)?;
    let plugin = linker.instantiate(&Runtime::jit(), &prog)?; // verified here
    let verdict = plugin.run(&mut [7, 0, 0, 0, 0, 0, 0, 0])?;
    assert_eq!(verdict, 0);
    Ok(())
}

#[test]
fn a_custom_type_with_packet_fields_gets_bounds_checked_packet_access() {
    // struct frame { u32 data; u32 data_end; u32 len; }
    let ty = ProgramType::new("frame", 12)
        .field_packet("data", 0)
        .field_packet_end("data_end", 4)
        .field_ro("len", 8, 4);
    let linker = Linker::new();
    // Returns the packet's second byte, after the bounds check the
    // verifier demands; 255 for a shorter packet.
    let checked = "r2 = *(u32 *)(r1 + 0)\n r3 = *(u32 *)(r1 + 4)\n r4 = r2\n r4 += 2\n\
                   r0 = 255\n if r4 > r3 goto +2\n r0 = *(u8 *)(r2 + 1)\n *(u8 *)(r2 + 0) = r0\n exit";
    let prog = Program::from_asm(checked, ty.clone()).unwrap();
    for rt in runtimes() {
        let inst = linker.instantiate(&rt, &prog).unwrap();
        let mut pkt = [1u8, 2, 3];
        let (r0, _) = inst.run_with_packet(&mut [0; 12], Some(&mut pkt)).unwrap();
        assert_eq!((r0, pkt), (2, [2, 2, 3]), "the program wrote the packet");
        let (r0, _) = inst.run_with_packet(&mut [0; 12], Some(&mut [9])).unwrap();
        assert_eq!(r0, 255);
    }
    let unchecked = "r2 = *(u32 *)(r1 + 0)\n r0 = *(u8 *)(r2 + 1)\n exit";
    let (insn, msg) = rejected(linker.instantiate(
        &Runtime::interpreter(),
        &Program::from_asm(unchecked, ty.clone()).unwrap(),
    ));
    assert_eq!(insn, Some(1));
    assert!(msg.starts_with("invalid access to packet"), "{msg}");
    // A store to a read-only field is refused.
    let store = "r2 = 1\n *(u32 *)(r1 + 8) = r2\n r0 = 0\n exit";
    let (insn, msg) = rejected(linker.instantiate(
        &Runtime::interpreter(),
        &Program::from_asm(store, ty).unwrap(),
    ));
    assert_eq!(
        (insn, msg.as_str()),
        (Some(1), "invalid bpf_context access off=8 size=4")
    );
}

#[test]
fn buffers_with_lengths_and_output_buffers_reach_the_host() {
    let mut linker = Linker::new();
    linker
        .func(
            "sum",
            1000,
            &[Arg::Buf, Arg::Len],
            |cx: &mut Call<'_>, p: u64, n: u64| {
                cx.read(p, n)
                    .map_or(u64::MAX, |b| b.iter().map(|&x| x as u64).sum())
            },
        )
        .unwrap()
        .func(
            "fill",
            1001,
            &[Arg::BytesOut(8)],
            |cx: &mut Call<'_>, p: u64| {
                cx.write(p, &0x1122_3344_5566_7788u64.to_le_bytes())
                    .is_err() as u64
            },
        )
        .unwrap();
    // fill(fp-8); then sum(fp-8, len) with len the context's first byte,
    // bounded to 8 for the verifier.
    let src = "r6 = *(u8 *)(r1 + 0)\n r1 = r10\n r1 += -8\n call 1001\n r6 &= 7\n\
               r1 = r10\n r1 += -8\n r2 = r6\n call 1000\n exit";
    let prog = Program::from_asm(src, ab_type()).unwrap();
    for rt in runtimes() {
        let inst = linker.instantiate(&rt, &prog).unwrap();
        for n in 0..8u8 {
            let want: u64 = [0x88u64, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22][..n as usize]
                .iter()
                .sum();
            assert_eq!(
                inst.run(&mut [n, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
                want,
                "n={n}"
            );
        }
    }
    // Without the bound the length could run past the buffer.
    let unbounded = "r6 = *(u32 *)(r1 + 0)\n r1 = 0\n *(u64 *)(r10 - 8) = r1\n\
                     r1 = r10\n r1 += -8\n r2 = r6\n call 1000\n exit";
    let (insn, msg) = rejected(linker.instantiate(
        &Runtime::interpreter(),
        &Program::from_asm(unbounded, ab_type()).unwrap(),
    ));
    assert_eq!(insn, Some(6), "{msg}");
}

#[test]
fn programs_come_from_bytes_instructions_and_assembly_alike() {
    // r0 = *(u32 *)(r1 + 4); r0 += 1; exit
    let bytes = [
        0x61, 0x10, 4, 0, 0, 0, 0, 0, 0x07, 0x00, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
    ];
    let asm = "r0 = *(u32 *)(r1 + 4)\n r0 += 1\n exit";
    let slots = ironbpf_isa::asm::assemble(asm).unwrap();
    let progs = [
        Program::from_bytes(&bytes, ab_type()).unwrap(),
        Program::from_insns(slots, ab_type()),
        Program::from_asm(asm, ab_type()).unwrap(),
    ];
    assert_eq!(progs[0].insns(), progs[1].insns());
    let linker = Linker::new();
    for p in &progs {
        let inst = linker.instantiate(&Runtime::jit(), p).unwrap();
        assert_eq!(inst.run(&mut [0, 0, 0, 0, 41, 0, 0, 0]).unwrap(), 42);
    }
    let e = Program::from_bytes(&bytes[..20], ab_type()).unwrap_err();
    assert!(matches!(e, Error::Load(_)), "{e}");
    let e = Program::from_asm("r0 = frob\n exit", ab_type()).unwrap_err();
    assert!(matches!(e, Error::Load(_)), "{e}");
}

/// The plugin_host example's setup, for its plugin in asm and in C.
fn request_linker(log: Arc<std::sync::Mutex<Vec<u64>>>) -> (Linker, ProgramType) {
    let ty = ProgramType::new("request", 16)
        .field_ro("user", 0, 4)
        .field_ro("size", 4, 4)
        .field_rw("verdict", 8, 4)
        .returns(0, 1);
    let mut linker = Linker::new();
    linker
        .func("quota", 1000, &[Arg::Scalar], |_: &mut Call<'_>, u: u64| {
            u * 100
        })
        .unwrap()
        .func(
            "audit",
            1001,
            &[Arg::Bytes(8)],
            move |cx: &mut Call<'_>, p: u64| {
                log.lock().unwrap().push(cx.read_u64(p).unwrap());
                0
            },
        )
        .unwrap();
    (linker, ty)
}

#[test]
fn a_c_plugin_of_a_custom_type_matches_its_asm_twin() {
    let c_obj = include_bytes!("../examples/data/plugin.o");
    let asm = include_str!("../examples/data/plugin.s");
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (linker, ty) = request_linker(log.clone());
    let from_c = Program::from_elf_with_type(c_obj, Some("decide"), ty.clone()).unwrap();
    let from_asm = Program::from_asm(asm, ty.clone()).unwrap();
    // Without a type, the section name says nothing.
    assert!(matches!(
        Program::from_elf(c_obj, None),
        Err(Error::Load(_))
    ));
    let mut results = Vec::new();
    for rt in runtimes() {
        for prog in [&from_c, &from_asm] {
            let inst = linker.instantiate(&rt, prog).unwrap();
            for (user, size) in [(1u32, 50u32), (1, 500), (7, 500), (0, 1)] {
                let mut ctx = [user.to_le_bytes(), size.to_le_bytes(), [9; 4], [0; 4]].concat();
                let r0 = inst.run(&mut ctx).unwrap();
                results.push((r0, ctx[8..12].to_vec()));
            }
        }
    }
    let want: Vec<(u64, Vec<u8>)> = [0u64, 1, 0, 1]
        .iter()
        .map(|&d| (d, vec![d as u8, 0, 0, 0]))
        .collect();
    for chunk in results.chunks(4) {
        assert_eq!(chunk, want.as_slice());
    }
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 16);
    assert_eq!(
        log[..4],
        [1 | 50 << 32, 1 | 500 << 32, 7 | 500 << 32, 1 << 32]
    );
    assert!(log.chunks(4).all(|c| c == &log[..4]));
}

#[test]
fn panics_on_some_threads_leave_the_other_runs_alone() {
    let mut linker = Linker::new();
    linker
        .func(
            "fragile",
            1000,
            &[Arg::Scalar],
            |_: &mut Call<'_>, a: u64| {
                assert!(a % 500 != 7, "fragile got {a}");
                a + 1
            },
        )
        .unwrap();
    let prog = Program::from_asm("r1 = *(u32 *)(r1 + 0)\n call 1000\n exit", ab_type()).unwrap();
    for rt in runtimes() {
        let inst = linker.instantiate(&rt, &prog).unwrap();
        let outcomes: Vec<(u64, u64)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4u32)
                .map(|t| {
                    let inst = inst.clone();
                    s.spawn(move || {
                        let (mut ok, mut failed) = (0, 0);
                        for i in 0..2000u32 {
                            let a = t * 2000 + i;
                            let mut ctx = [a.to_le_bytes(), [0; 4]].concat();
                            match inst.run(&mut ctx) {
                                Ok(r0) if r0 == a as u64 + 1 => ok += 1,
                                Ok(r0) => panic!("a={a}: r0={r0}"),
                                Err(e) => {
                                    assert!(a % 500 == 7, "a={a}: {e}");
                                    assert!(e.to_string().contains("host helper fragile panicked"));
                                    failed += 1;
                                }
                            }
                        }
                        (ok, failed)
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(outcomes, vec![(1996, 4); 4], "{}", inst.engine_name());
    }
}

#[test]
fn a_helper_given_the_context_reads_it() {
    let mut linker = Linker::new();
    linker
        .func("second", 1000, &[Arg::Ctx], |cx: &mut Call<'_>, c: u64| {
            cx.read(c + 4, 4).map_or(u64::MAX, |b| b[0] as u64)
        })
        .unwrap();
    let prog = Program::from_asm("call 1000\n exit", ab_type()).unwrap();
    for rt in runtimes() {
        let inst = linker.instantiate(&rt, &prog).unwrap();
        assert_eq!(inst.run(&mut [0, 0, 0, 0, 77, 0, 0, 0]).unwrap(), 77);
    }
    // A moved context pointer is refused, as the kernel refuses it.
    let moved = Program::from_asm("r1 += 4\n call 1000\n exit", ab_type()).unwrap();
    let (insn, msg) = rejected(linker.instantiate(&Runtime::jit(), &moved));
    assert_eq!(insn, Some(1));
    assert!(
        msg.contains("dereference of modified ctx ptr R1 off=4"),
        "{msg}"
    );
}

#[test]
fn a_helper_can_trap_and_cannot_be_fooled_by_unverified_pointers() {
    let mut linker = Linker::new();
    linker
        .func(
            "checked_div",
            1000,
            &[Arg::Scalar, Arg::Scalar],
            |cx: &mut Call<'_>, a: u64, b: u64| {
                if b == 0 {
                    return cx.trap(format!("division of {a} by zero"));
                }
                a / b
            },
        )
        .unwrap()
        .func(
            "peek",
            1001,
            &[Arg::Bytes(8)],
            |cx: &mut Call<'_>, p: u64| {
                // The helper ignores the fault; the run still ends with it.
                cx.read_u64(p).unwrap_or(0)
            },
        )
        .unwrap();
    let div = Program::from_asm(
        "r2 = *(u32 *)(r1 + 4)\n r1 = *(u32 *)(r1 + 0)\n call 1000\n exit",
        ab_type(),
    )
    .unwrap();
    for rt in runtimes() {
        let inst = linker.instantiate(&rt, &div).unwrap();
        assert_eq!(inst.run(&mut [84, 0, 0, 0, 2, 0, 0, 0]).unwrap(), 42);
        let err = inst.run(&mut [84, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(err.insn(), Some(2));
        assert!(
            err.to_string()
                .contains("checked_div (id 1000) failed: division of 84 by zero"),
            "{err}"
        );
    }
    // Unverified, a program may hand the helper any number as a pointer:
    // the helper's read is checked against the run's memory.
    let forged = Program::from_asm("r1 = 0x1000\n call 1001\n exit", ab_type()).unwrap();
    assert!(
        linker.instantiate(&Runtime::jit(), &forged).is_err(),
        "the verifier refuses it"
    );
    for rt in runtimes() {
        let inst = linker.instantiate_unverified(&rt, &forged).unwrap();
        let err = inst.run(&mut [0; 8]).unwrap_err();
        let Some(VmError::HelperFailed { name, message, .. }) = err.vm_error() else {
            panic!("{err}");
        };
        assert_eq!(name, "peek");
        assert!(message.contains("0x1000"), "{message}");
    }
}

#[test]
fn unprivileged_verification_keeps_addresses_and_loops_out() {
    let mut linker = Linker::new();
    linker
        .func("num", 1000, &[Arg::Scalar], |_: &mut Call<'_>, a: u64| a)
        .unwrap();
    let leak = Program::from_asm("r1 = r10\n call 1000\n r0 = 0\n exit", ab_type()).unwrap();
    assert!(linker.instantiate(&Runtime::jit(), &leak).is_ok());
    let (insn, msg) = rejected(linker.instantiate(&Runtime::jit().unprivileged(), &leak));
    assert_eq!(
        (insn, msg.as_str()),
        (Some(1), "R1 leaks addr into helper function")
    );
    // A bounded loop: fine for a privileged loader, refused otherwise.
    let looped = Program::from_asm(
        "r0 = 0\n r1 = 10\n r0 += 1\n r1 -= 1\n if r1 != 0 goto -3\n exit",
        ab_type(),
    )
    .unwrap();
    let inst = linker
        .instantiate(&Runtime::interpreter(), &looped)
        .unwrap();
    assert_eq!(inst.run(&mut [0; 8]).unwrap(), 10);
    let (insn, msg) = rejected(linker.instantiate(&Runtime::interpreter().unprivileged(), &looped));
    assert!(
        insn.is_some() && msg.contains("back-edge"),
        "{insn:?} {msg}"
    );
}
