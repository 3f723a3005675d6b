//! The verifier on arbitrary programs: a verdict, never a panic, and never
//! past its limits (1M processed instructions, the jump-sequence limit, a
//! log of bounded size).
#![no_main]
use arbitrary::Unstructured;
use ironbpf_fuzz::{gen_program, map_infos};
use ironbpf_isa::slots_from_bytes;
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions, MAX_LOG_BYTES};
use libfuzzer_sys::fuzz_target;

/// The most log a verification may print: the verifier's own cap
/// (`MAX_LOG_BYTES`, below the kernel's `UINT_MAX >> 2`), plus the line that
/// crossed it and the note that the log stopped. A level-2 log of a program
/// that runs to the 1M-insn limit is tens of MiB, as the kernel's would be.
const LOG_CAP: usize = MAX_LOG_BYTES + (64 << 10);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let insns = if mode & 1 == 0 {
        let n = rest.len().min(512 * 8) / 8 * 8;
        let Ok(s) = slots_from_bytes(&rest[..n]) else {
            return;
        };
        s
    } else {
        let mut u = Unstructured::new(rest);
        let Ok(s) = gen_program(&mut u, 128) else {
            return;
        };
        s
    };
    let types = [
        ProgTypeId::Xdp,
        ProgTypeId::SocketFilter,
        ProgTypeId::SchedCls,
        ProgTypeId::Kprobe,
        ProgTypeId::Tracepoint,
    ];
    let mut opts = VerifyOptions::new(types[(mode as usize >> 1) % types.len()]);
    opts.privileged = mode & 0x10 == 0;
    opts.log_level = if mode & 0x20 != 0 { 2 } else { 1 };
    opts.maps = map_infos();
    let out = verify(&insns, &opts);
    assert!(
        out.stats.processed_insns <= 1_000_000 + 1,
        "processed {} instructions: past BPF_COMPLEXITY_LIMIT_INSNS",
        out.stats.processed_insns
    );
    assert!(
        out.log.len() <= LOG_CAP,
        "the log is {} bytes",
        out.log.len()
    );
    if let Ok(p) = &out.result {
        assert!(p.reached().len() <= insns.len());
    }
});
