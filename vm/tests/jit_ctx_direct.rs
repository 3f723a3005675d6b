//! XDP runs of trusted and verified JIT code that never calls the runtime
//! (`Engine::run_ctx` on a `JitProgram`): no region table or run state is
//! built, the code is entered directly with the context's bounds and packet
//! pointer fields. They must give what the interpreter gives: the packet
//! pointers, 4-byte packet loads that are not context loads, bpf-to-bpf
//! calls (whose frames the code keeps), the stack, and a verified program's
//! first frame zeroed as far as its proven depth.

use ironbpf_isa::assemble_program;
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use ironbpf_vm::{progtype, Engine, HelperRegistry, Interpreter, JitProgram, Options};

fn engines(src: &str) -> (Interpreter, JitProgram, JitProgram) {
    let prog = assemble_program(src).expect("assembles");
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
    let proof = verify(prog.slots(), &VerifyOptions::new(ProgTypeId::Xdp))
        .result
        .unwrap_or_else(|e| panic!("the verifier refuses it: {}", e.message));
    let verified = JitProgram::verified(vm.clone(), &proof).expect("compiles");
    // SAFETY: the verifier accepted this very program just above.
    let trusted = unsafe { JitProgram::trusted(vm.clone()) }.expect("compiles");
    (vm, verified, trusted)
}

fn run(engine: &impl Engine, packet: &[u8]) -> (u64, Vec<u8>) {
    let mut pkt = packet.to_vec();
    let mut ctx = vec![0u8; progtype::XDP.ctx_size as usize];
    let r0 = engine
        .run_ctx(&progtype::XDP, &mut ctx, Some(&mut pkt), None)
        .expect("the run ends normally");
    (r0, pkt)
}

/// Reads the packet's u32 at 4 (through a copy of `data`), adds the u16 at
/// 0 in a subprogram that gets a stack pointer, and writes the sum's low
/// byte to the packet's byte 8; 1 for a short packet.
const PARSE: &str = "\
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 12
if r4 > r3 goto short
r6 = r2
r5 = *(u32 *)(r6 + 4)
*(u64 *)(r10 - 16) = r5
r1 = r10
r1 += -16
r2 = r6
call add
*(u8 *)(r6 + 8) = r0
exit
short: r0 = 1
exit
add: r3 = *(u64 *)(r1 + 0)
r4 = *(u16 *)(r2 + 0)
r0 = r3
r0 += r4
exit";

#[test]
fn packet_pointers_calls_and_the_stack_agree_with_the_interpreter() {
    let (vm, verified, trusted) = engines(PARSE);
    assert!(!verified.code().calls_exec());
    let packet: Vec<u8> = (1..=16).collect();
    let want = run(&vm, &packet);
    assert_eq!(want.0, 0x0201 + 0x0807_0605, "the interpreter's sum");
    for _ in 0..3 {
        assert_eq!(run(&verified, &packet), want, "verified JIT");
        assert_eq!(run(&trusted, &packet), want, "trusted JIT");
    }
    // A short packet takes the other exit.
    assert_eq!(run(&verified, &[0u8; 8]).0, 1);
    assert_eq!(run(&trusted, &[0u8; 8]).0, 1);
}

/// Writes all 64 words of its frame (a verified program whose depth is 512).
const DIRTY: &str = "\
r1 = -1
r2 = r10
r3 = 0
loop: r2 += -8
*(u64 *)(r2 + 0) = r1
r3 += 1
if r3 < 64 goto loop
r0 = 2
exit";

/// Reads the first frame's top word before writing it (privileged programs
/// may read uninitialized stack): every run must see 0, as the
/// interpreter's zeroed frame gives, whatever a run before left there.
const READ_UNINIT: &str = "\
r0 = *(u64 *)(r10 - 8)
*(u64 *)(r10 - 8) = r10
exit";

#[test]
fn the_first_frame_reads_as_zero_after_another_program_dirtied_it() {
    let (_, dirty, dirty_trusted) = engines(DIRTY);
    let (vm, read, read_trusted) = engines(READ_UNINIT);
    let packet = [0u8; 16];
    assert_eq!(run(&vm, &packet).0, 0);
    for _ in 0..2 {
        assert_eq!(run(&dirty, &packet).0, 2);
        assert_eq!(run(&read, &packet).0, 0, "verified JIT after a dirty frame");
        assert_eq!(run(&dirty_trusted, &packet).0, 2);
        assert_eq!(
            run(&read_trusted, &packet).0,
            0,
            "trusted JIT after a dirty frame"
        );
        assert_eq!(run(&read, &packet).0, 0, "verified JIT after its own run");
    }
}

/// r6-r9 survive calls whose callees write some of them, and a callee's
/// frame reads as zero although the callee before it left -1 there.
const CALLS: &str = "\
r6 = 11
r7 = 22
r8 = 33
r9 = 44
call dirty
call read
r0 += r6
r0 += r7
r0 += r8
r0 += r9
exit
dirty: r6 = -1
r9 = -1
*(u64 *)(r10 - 8) = r6
*(u64 *)(r10 - 40) = r9
r0 = 0
exit
read: r0 = *(u64 *)(r10 - 8)
r1 = *(u64 *)(r10 - 40)
r0 += r1
r7 = 5
exit";

#[test]
fn calls_keep_the_callee_saved_registers_and_zero_the_callee_frame() {
    let (vm, verified, trusted) = engines(CALLS);
    let packet = [0u8; 16];
    assert_eq!(run(&vm, &packet).0, 110, "the interpreter");
    for _ in 0..2 {
        assert_eq!(run(&verified, &packet).0, 110, "verified JIT");
        assert_eq!(run(&trusted, &packet).0, 110, "trusted JIT");
    }
}

/// Spills the context pointer and fills it back before reading `data_end`
/// through the copy, and reads the packet's u32 at 4 through `data`.
const SPILL: &str = "\
*(u64 *)(r10 - 8) = r1
r6 = *(u64 *)(r10 - 8)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 8
if r4 > r3 goto short
r0 = *(u32 *)(r2 + 4)
exit
short: r0 = 1
exit";

#[test]
fn code_compiled_for_the_xdp_context_reads_its_fields_and_runs_on_it_only() {
    for src in [PARSE, SPILL, CALLS] {
        let prog = assemble_program(src).expect("assembles");
        let vm =
            Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
        let proof = verify(prog.slots(), &VerifyOptions::new(ProgTypeId::Xdp))
            .result
            .unwrap_or_else(|e| panic!("the verifier refuses it: {}", e.message));
        let jit = JitProgram::verified_for(
            vm.clone(),
            &proof,
            &progtype::XDP,
            ironbpf_vm::JitOptions::default(),
        )
        .expect("compiles");
        let packet: Vec<u8> = (1..=16).collect();
        let want = run(&vm, &packet);
        for _ in 0..2 {
            assert_eq!(run(&jit, &packet), want, "{src}");
        }
        assert_eq!(run(&jit, &[0u8; 6]).0, run(&vm, &[0u8; 6]).0, "{src}");
        // Another context layout, and plain memory, are refused.
        let mut ctx = vec![0u8; progtype::SCHED_CLS.ctx_size as usize];
        let mut pkt = packet.clone();
        let err = jit
            .run_ctx(&progtype::SCHED_CLS, &mut ctx, Some(&mut pkt), None)
            .expect_err("another context type");
        assert!(err.to_string().contains("another program type"), "{err}");
        let err = jit.run_with_memory(&mut pkt).expect_err("plain memory");
        assert!(err.to_string().contains("plain memory"), "{err}");
    }
}

#[test]
fn the_quick_path_runs_after_a_first_run_on_the_type_and_declines_checked_code() {
    let (vm, verified, _) = engines(PARSE);
    let packet: Vec<u8> = (1..=16).collect();
    let want = run(&vm, &packet);
    let mut ctx = vec![0u8; progtype::XDP.ctx_size as usize];
    let mut pkt = packet.clone();
    // Nothing is known of the type yet: it declines without running.
    assert_eq!(
        verified.run_ctx_quick(&progtype::XDP, &mut ctx, Some(&mut pkt)),
        None
    );
    assert_eq!(pkt, packet, "nothing ran");
    assert_eq!(run(&verified, &packet), want);
    let mut pkt = packet.clone();
    assert_eq!(
        verified.run_ctx_quick(&progtype::XDP, &mut ctx, Some(&mut pkt)),
        Some(want.0)
    );
    assert_eq!(pkt, want.1, "the run's store is in the caller's packet");
    // Checked code goes through the runtime.
    let checked = JitProgram::checked(vm).expect("compiles");
    assert_eq!(run(&checked, &packet), want);
    let mut pkt = packet.clone();
    assert_eq!(
        checked.run_ctx_quick(&progtype::XDP, &mut ctx, Some(&mut pkt)),
        None
    );
}
