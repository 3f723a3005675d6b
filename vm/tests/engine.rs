//! The engine API: the interpreter and the checked JIT give the same r0,
//! the same memory effects and the same errors at the same instructions;
//! the budget is exact; helpers, callbacks, tail calls and packets whose
//! bounds move work under the JIT.

use ironbpf_helpers::HelperRegistry;
use ironbpf_isa::assemble_program;
use ironbpf_maps::{FdMap, MapSet, MapSpec};
use ironbpf_vm::object::MapResolver;
use ironbpf_vm::testrun::{self, TestRun};
use ironbpf_vm::{progtype, Engine, Interpreter, JitProgram, Options, VmError};
use std::sync::Arc;

fn maps(specs: &[(u32, u32, u32, u32)]) -> Arc<MapSet> {
    let set = Arc::new(MapSet::new());
    for &(t, k, v, n) in specs {
        set.create(&MapSpec::new(t, k, v, n)).unwrap();
    }
    set
}

fn interp(asm: &str, maps: &Arc<MapSet>, options: Options) -> Interpreter {
    let prog = assemble_program(asm).unwrap_or_else(|e| panic!("{e}\n{asm}"));
    Interpreter::with_resolver(
        &prog,
        &HelperRegistry::standard(),
        options,
        Some(&MapResolver(maps.clone())),
    )
    .unwrap_or_else(|e| panic!("{e}\n{asm}"))
}

fn jit(asm: &str, maps: &Arc<MapSet>, options: Options) -> JitProgram {
    JitProgram::checked(interp(asm, maps, options)).unwrap()
}

fn packet() -> Vec<u8> {
    let mut pkt = vec![0u8; 64];
    pkt[12] = 0x08;
    for (i, b) in pkt[14..].iter_mut().enumerate() {
        *b = i as u8;
    }
    pkt
}

fn run_xdp(e: &dyn Engine, maps: &Arc<MapSet>) -> Result<testrun::TestRunOutput, VmError> {
    testrun::run(
        e,
        &progtype::XDP,
        &TestRun::packet(&packet()),
        Some(&MapResolver(maps.clone())),
    )
}

/// The error with host addresses (which differ between the runs' buffers)
/// masked.
fn masked(e: &VmError) -> String {
    if let VmError::MemoryFault { pc, insn, fault } = e {
        // Which region is nearest depends on where the buffers are.
        return format!(
            "insn {pc} ({insn}): invalid {} of {}",
            fault.access, fault.len
        );
    }
    let t = e.to_string();
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        out.push_str(if digits >= 8 {
            "0x?"
        } else {
            &rest[i..i + 2 + digits]
        });
        rest = &rest[i + 2 + digits..];
    }
    out.push_str(rest);
    // Distances from a far address to the nearest buffer, too.
    out.split(' ')
        .map(|w| {
            if w.len() >= 10 && w.chars().all(|c| c.is_ascii_digit()) {
                "?"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `asm` on both engines with fresh maps each, and checks they agree
/// on r0, the packet and the context, or on the error; returns the JIT's.
fn both(asm: &str, specs: &[(u32, u32, u32, u32)], options: Options) -> Result<u64, VmError> {
    let m1 = maps(specs);
    let a = run_xdp(&interp(asm, &m1, options), &m1);
    let m2 = maps(specs);
    let b = run_xdp(&jit(asm, &m2, options), &m2);
    match (&a, &b) {
        (Ok(x), Ok(y)) => {
            assert_eq!(x.r0, y.r0, "r0\n{asm}");
            assert_eq!(x.data_out, y.data_out, "packet\n{asm}");
            assert_eq!(x.ctx_out, y.ctx_out, "context\n{asm}");
        }
        (Err(x), Err(y)) => assert_eq!(masked(x), masked(y), "error\n{asm}"),
        _ => panic!(
            "interp: {a:?}\njit: {b:?}\n{asm}",
            a = a.as_ref().map(|o| o.r0),
            b = b.as_ref().map(|o| o.r0)
        ),
    }
    b.map(|o| o.r0)
}

fn straight_line(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n - 1 {
        s.push_str(&format!("r0 = {i}\n"));
    }
    s.push_str("exit\n");
    s
}

#[test]
fn the_budget_counts_every_slot_up_to_exit() {
    let options = |budget| Options {
        budget,
        ..Options::default()
    };
    // 22 straight-line instructions: a budget of 5 stops them at exit.
    let asm = straight_line(22);
    for (budget, ok) in [(5, false), (21, false), (22, true)] {
        let r = both(&asm, &[], options(budget));
        match r {
            Ok(r0) => assert!(ok && r0 == 20, "budget {budget}: r0 = {r0}"),
            Err(VmError::BudgetExhausted { pc, budget: b }) => {
                assert!(!ok, "budget {budget}");
                assert_eq!((pc, b), (21, budget), "stopped at exit, naming the budget");
            }
            Err(e) => panic!("budget {budget}: {e}"),
        }
    }
    // An ld_imm64 counts two slots.
    let asm = "r0 = 0x100000000 ll\nexit\n";
    assert!(both(asm, &[], options(2)).is_err());
    assert_eq!(both(asm, &[], options(3)).unwrap(), 1 << 32);
    // An endless loop stops at the same jump on both engines.
    let asm = "r0 = 0\nloop:\nr0 += 1\nif r0 != 0 goto loop\nexit\n";
    let err = both(asm, &[], options(1001)).unwrap_err();
    assert!(
        matches!(err, VmError::BudgetExhausted { pc: 2, .. }),
        "{err}"
    );
    // Calls charge the slots before them and after the return.
    let asm = "call f\nr0 += 1\nexit\nf:\nr0 = 5\nexit\n";
    assert_eq!(both(asm, &[], options(5)).unwrap(), 6);
    let err = both(asm, &[], options(4)).unwrap_err();
    assert!(
        matches!(err, VmError::BudgetExhausted { pc: 2, .. }),
        "{err}"
    );
}

#[test]
fn faults_name_the_same_instruction_on_both_engines() {
    let o = Options::default();
    // Past the packet's end; below the stack; a write to a read-only
    // context field; a misaligned atomic; recursion too deep.
    let cases = [
        "r2 = *(u32 *)(r1 +0)\nr0 = *(u8 *)(r2 +64)\nexit\n",
        "r0 = *(u64 *)(r10 -520)\nexit\n",
        "r0 = 0\n*(u32 *)(r1 +0) = r0\nexit\n",
        "r0 = 1\n*(u64 *)(r10 -8) = r0\nr1 = 1\nlock *(u64 *)(r10 -6) += r1\nexit\n",
        "call f\nexit\nf:\ncall f\nexit\n",
        "r0 = 0x1000 ll\nr0 = *(u64 *)(r0 +0)\nexit\n",
    ];
    for asm in cases {
        let err = both(asm, &[], o).unwrap_err();
        match err {
            VmError::MemoryFault { .. }
            | VmError::CtxAccess { .. }
            | VmError::MisalignedAtomic { .. }
            | VmError::CallDepth { .. } => {}
            e => panic!("{e}\n{asm}"),
        }
    }
}

#[test]
fn context_pointers_division_and_atomics_agree() {
    let o = Options::default();
    // The packet's length (64), plus 64 / 0 = 0, plus 64 % 0 = 64, plus
    // INT64_MIN s/ -1 = INT64_MIN.
    let asm = "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr0 = r3\nr0 -= r2\nr4 = 0\nr5 = r0\nr5 /= r4\nr6 = r0\nr6 %= r4\n\
               r0 += r5\nr0 += r6\nr7 = 0x8000000000000000 ll\nr8 = -1\nr7 s/= r8\nr0 += r7\nexit\n";
    assert_eq!(both(asm, &[], o).unwrap(), 128 | 1 << 63);
    // Atomics on the stack: fetch_or and xchg give the old value.
    let asm = "r0 = 5\n*(u64 *)(r10 -8) = r0\nr1 = 3\nr1 = atomic64_fetch_or((u64 *)(r10 -8), r1)\n\
               r2 = 100\nr2 = atomic64_xchg((u64 *)(r10 -8), r2)\nr0 = *(u64 *)(r10 -8)\nr0 += r1\nr0 += r2\nexit\n";
    if assemble_program(asm).is_ok() {
        assert_eq!(both(asm, &[], o).unwrap(), 100 + 5 + 7);
    }
}

#[test]
fn helpers_callbacks_and_packet_moves_run_under_the_jit() {
    let o = Options::default();
    // bpf_loop: the callback runs in a frame below the caller's.
    let asm = "*(u64 *)(r10 -8) = 0\nr1 = 10\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\n\
               r1 = *(u64 *)(r10 -8)\nr0 <<= 32\nr0 += r1\nexit\n\
               cb:\nr3 = *(u64 *)(r2 +0)\nr3 += r1\n*(u64 *)(r2 +0) = r3\nr0 = 0\nexit\n";
    assert_eq!(both(asm, &[], o).unwrap(), 10 << 32 | 45);
    // bpf_xdp_adjust_head: the packet's new bounds are the ones checked.
    let asm = "r6 = r1\nr2 = -4\ncall bpf_xdp_adjust_head\nif r0 != 0 goto out\nr2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr1 = r2\nr1 += 1\nif r1 > r3 goto out\nr1 = 0xee\n*(u8 *)(r2 +0) = r1\nr0 = r3\nr0 -= r2\nout:\nexit\n";
    assert_eq!(both(asm, &[], o).unwrap(), 68);
    // After the head moves in by 10, the byte before the new start faults.
    let asm = "r6 = r1\nr2 = 10\ncall bpf_xdp_adjust_head\nr2 = *(u32 *)(r6 +0)\nr0 = *(u8 *)(r2 -1)\nexit\n";
    let err = both(asm, &[], o).unwrap_err();
    assert!(matches!(err, VmError::MemoryFault { pc: 4, .. }), "{err}");
    // An inline map lookup, then a write through the value pointer.
    let asm = "*(u32 *)(r10 -4) = 1\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +4\n\
               r1 = 41\n*(u64 *)(r0 +0) = r1\nr0 = *(u64 *)(r0 +0)\nr0 += 1\nexit\n";
    assert_eq!(both(asm, &[(2, 4, 8, 4)], o).unwrap(), 42);
    // A write one byte past the value faults on both.
    let asm = "*(u32 *)(r10 -4) = 3\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +2\n\
               r1 = 41\n*(u8 *)(r0 +8) = r1\nr0 = 0\nexit\n";
    assert!(both(asm, &[(2, 4, 8, 4)], o).is_err());
}

#[test]
fn callbacks_reenter_the_compiled_code_nest_and_share_the_budget() {
    let o = Options::default();
    // A loop inside a loop's callback: 3 * 4 inner calls.
    let asm = "*(u64 *)(r10 -8) = 0\nr1 = 3\nr2 = subprog[outer]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\nr0 = *(u64 *)(r10 -8)\nexit\n\
               outer:\nr6 = r2\nr1 = 4\nr2 = subprog[inner]\nr3 = r6\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\n\
               inner:\nr1 = *(u64 *)(r2 +0)\nr1 += 1\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit\n";
    assert_eq!(both(asm, &[], o).unwrap(), 12);
    // An endless callback exhausts the run's budget at the same jump.
    let asm = "r1 = 1\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit\ncb:\nr0 = 0\nloop:\nr0 += 1\ngoto loop\n";
    let small = Options { budget: 1000, ..o };
    let err = both(asm, &[], small).unwrap_err();
    assert!(
        matches!(err, VmError::BudgetExhausted { pc: 9, .. }),
        "{err}"
    );
    // A callback's fault is the run's error, naming the callback's insn.
    let asm = "r1 = 1\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit\ncb:\nr0 = *(u64 *)(r2 +0)\nexit\n";
    let err = both(asm, &[], o).unwrap_err();
    assert!(matches!(err, VmError::MemoryFault { pc: 7, .. }), "{err}");
    // Callbacks nested past eight frames.
    let asm = "r1 = 1\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ncb:\nr1 = 1\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\n";
    assert!(both(asm, &[], o).is_err());
}

#[test]
fn tail_calls_run_the_stored_program_on_its_engine() {
    let set = maps(&[(3, 4, 4, 4)]);
    let fd_map = set.get(0).unwrap();
    let fd = fd_map.as_any().downcast_ref::<FdMap>().unwrap();
    let o = Options::default();
    // Slot 1: a JIT program; slot 2: an interpreted one.
    let target = jit("r0 = *(u32 *)(r1 +12)\nr0 += 1000\nexit\n", &set, o);
    fd.update_object(&1u32.to_ne_bytes(), 1, Some(Arc::new(target)), 0)
        .unwrap();
    let target = interp("r0 = 2000\nexit\n", &set, o);
    fd.update_object(&2u32.to_ne_bytes(), 2, Some(Arc::new(target)), 0)
        .unwrap();
    for (slot, want) in [(1, 1001), (2, 2000), (3, 99)] {
        let caller = format!("r2 = map[idx:0]\nr3 = {slot}\ncall bpf_tail_call\nr0 = 99\nexit\n");
        let caller = jit(&caller, &set, o);
        assert_eq!(run_xdp(&caller, &set).unwrap().r0, want, "slot {slot}");
    }
}

#[test]
fn code_memory_is_never_writable_and_executable() {
    let set = maps(&[]);
    let j = jit("r0 = 1\nexit\n", &set, Options::default());
    let base = j.code().base();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let line = maps
        .lines()
        .find(|l| {
            let (range, _) = l.split_once(' ').unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            let (lo, hi) = (
                u64::from_str_radix(lo, 16).unwrap(),
                u64::from_str_radix(hi, 16).unwrap(),
            );
            (lo..hi).contains(&base)
        })
        .expect("the code is mapped");
    let perms = line.split_whitespace().nth(1).unwrap();
    assert_eq!(&perms[..3], "r-x", "{line}");
}
