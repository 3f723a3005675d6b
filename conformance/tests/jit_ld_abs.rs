//! ld_abs/ld_ind at classic BPF's negative offsets (SKF_LL_OFF = -0x200000,
//! SKF_NET_OFF = -0x100000, SKF_AD_OFF = -0x1000) and at ordinary ones, on
//! the interpreter and the JIT in every mode against the running kernel's
//! BPF_PROG_TEST_RUN, in a socket filter (data after the MAC header) and a
//! tc program (data at the MAC header). The JIT gave 0 for
//! `ld_ind [r7 + SKF_LL_OFF]` with r7 = 1 where the kernel and the
//! interpreter give the frame's byte 1.

use ironbpf_isa::assemble_program;
use ironbpf_kernel::{load_program, ProgLoad, TestRun};
use ironbpf_vm::{progtype, testrun, Engine, HelperRegistry, Interpreter, JitProgram, Options};

#[test]
fn negative_offsets_agree_with_the_kernel_on_every_engine() {
    if !ironbpf_kernel::available_for_test("negative_offsets_agree_with_the_kernel_on_every_engine")
    {
        return;
    }
    // Byte i of the frame is i + 1, so a read names the byte it got.
    let frame: Vec<u8> = (1..=80u8).collect();
    let loads = [
        // SKF_LL_OFF + k: the MAC header's byte k.
        "r7 = 1\nr0 = *(u8 *)skb[r7 + -2097152]",
        "r7 = 0\nr0 = *(u8 *)skb[r7 + -2097151]",
        "r0 = *(u8 *)skb[-2097139]",
        "r0 = *(u16 *)skb[-2097152]",
        "r0 = *(u32 *)skb[-2097140]",
        // SKF_NET_OFF + k: the network header's byte k.
        "r0 = *(u8 *)skb[-1048576]",
        "r7 = 3\nr0 = *(u16 *)skb[r7 + -1048576]",
        "r0 = *(u32 *)skb[-1048572]",
        // SKF_AD_OFF and below SKF_LL_OFF: nothing to read, r0 = 0.
        "r0 = *(u8 *)skb[-4096]",
        "r7 = 4\nr0 = *(u32 *)skb[r7 + -4096]",
        "r0 = *(u8 *)skb[-2097153]",
        // Past the frame's end.
        "r0 = *(u32 *)skb[-2097072]",
        "r0 = *(u8 *)skb[200]",
        // Ordinary offsets from the data.
        "r0 = *(u8 *)skb[0]",
        "r7 = 2\nr0 = *(u32 *)skb[r7 + 10]",
    ];
    let mut nonzero = 0;
    let mut checked = 0;
    for pt in [&progtype::SOCKET_FILTER, &progtype::SCHED_CLS] {
        for load in loads {
            let asm = format!("r6 = r1\nr0 = 0x7777\n{load}\nexit");
            let prog = assemble_program(&asm).unwrap();
            let words: Vec<u64> = prog.slots().iter().map(|s| s.to_u64()).collect();
            let out = load_program(&ProgLoad {
                prog_type: pt.kernel_id(),
                insns: &words,
                ..Default::default()
            });
            let kprog = out
                .result
                .unwrap_or_else(|e| panic!("{}: {load}: {e}: {}", pt.name, out.log));
            let theirs = kprog
                .test_run(&TestRun {
                    data: &frame,
                    ..Default::default()
                })
                .unwrap()
                .retval;
            let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).unwrap();
            let checked_jit = JitProgram::checked(vm.clone()).unwrap();
            // SAFETY: the kernel's verifier accepted this very program above.
            let trusted = unsafe { JitProgram::trusted(vm.clone()) }.unwrap();
            let engines: [&dyn Engine; 3] = [&vm, &checked_jit, &trusted];
            for engine in engines {
                let ours = testrun::run(engine, pt, &testrun::TestRun::packet(&frame), None)
                    .unwrap_or_else(|e| panic!("{} {}: {load}: {e}", engine.name(), pt.name))
                    .r0 as u32;
                assert_eq!(ours, theirs, "{} {}: {load}", engine.name(), pt.name);
                checked += 1;
            }
            nonzero += (theirs != 0) as usize;
        }
    }
    println!("{checked} runs agreed with the kernel; {nonzero} loads read a byte");
    assert!(nonzero >= 14, "only {nonzero} loads read a byte");
}
