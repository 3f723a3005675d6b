//! Programs the fuzz targets found (fuzz/regressions/), replayed as normal
//! tests: what the verifier says about each, and that it stays within its
//! limits.
//!
//! The time the slow inputs take is guarded where time can be measured:
//! `fuzz/run.sh` replays them with a per-input timeout before each run of
//! the `verifier` and `soundness` targets.
//!
//! The kernel comparison skips (printing `skipped: ...`) when bpf(2) is not
//! permitted, unless IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_kernel::{load_program, parse_log_stats, ProgLoad, BPF_LOG_STATS};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, MapInfo, VerifyOptions, MAX_LOG_BYTES};

/// `BPF_COMPLEXITY_LIMIT_INSNS`.
const LIMIT: u64 = 1_000_000;

/// The program of `fuzz/regressions/soundness/timeout-d2b54acc…`, as the
/// generator made it (51 slots, one hex word each, little-endian bytes):
/// insns 9-11 loop forever (`if r5 >= r5 goto -3`, r5 known), adding 31 to
/// w2 on each pass, so no two passes' states are equal and the verifier
/// stops at the 1M-insn limit with 16,668 states on the one path. Asking of
/// each of them whether it is an ancestor of the current state (a walk up
/// the parent chain) made it take 68 s of CPU in the fuzz build.
const TIMEOUT_D2B54ACC: &str = "bf16000000000000 18060000f8ffffff 0000000004000000 \
b705000001000000 d405000020000000 18020000ffff5f61 000000003f000000 18000000ffffff5f \
0000000000000000 0400000000000000 040200001f000000 3d55fdff00000000 18020000ffffffff \
00000000ffe8e8e8 4502100001000000 450216001f000000 45021c001f000000 450201001f000000 \
450208001f000000 45020f001f000000 c50216001f000000 4500000000000000 0700000000000000 \
0400000000000000 0405000000000000 0400000000000000 0400000000000000 0400000000000000 \
87090000ffffffff 18000000ffffffff 0000000000000000 0400000000000000 0400000000000000 \
0400000000000000 0400000000000000 0400000000000000 0400000000000000 0400000000000000 \
0400000000000000 0400000000000000 0400000000000000 0400000000000000 0400000000000000 \
0400000000000000 0400000000000000 0400000000000000 0400000000000000 0400000000000000 \
0400000000000000 b700000002000000 9500000000000000";

fn slots(hex: &str) -> Vec<ironbpf_isa::RawInsn> {
    let bytes: Vec<u8> = hex
        .split_whitespace()
        .flat_map(|w| {
            (0..w.len())
                .step_by(2)
                .map(move |i| u8::from_str_radix(&w[i..i + 2], 16).expect("hex"))
        })
        .collect();
    ironbpf_isa::slots_from_bytes(&bytes).expect("whole slots")
}

/// The maps the fuzz targets give every program (fuzz/src/lib.rs `MAPS`):
/// an array and a hash map, 4-byte keys, 16-byte values.
fn fuzz_maps() -> Vec<MapInfo> {
    [(2u32, 4u32, 16u32, 4u32), (1, 4, 16, 8)]
        .iter()
        .enumerate()
        .map(
            |(i, &(map_type, key_size, value_size, max_entries))| MapInfo {
                name: format!("m{i}"),
                map_type,
                key_size,
                value_size,
                max_entries,
                map_flags: 0,
                frozen_readonly: false,
                record: Default::default(),
            },
        )
        .collect()
}

#[test]
fn endless_loop_with_fresh_states_is_refused_at_the_limit_as_by_the_kernel() {
    let prog = slots(TIMEOUT_D2B54ACC);
    assert_eq!(prog.len(), 51);
    let mut opts = VerifyOptions::new(ProgTypeId::Xdp);
    opts.log_level = 1 | BPF_LOG_STATS;
    opts.maps = fuzz_maps();
    let ours = verify(&prog, &opts);
    let oline = ours
        .result
        .as_ref()
        .err()
        .map(|r| r.message.lines().next().unwrap_or("").to_string())
        .unwrap_or_default();
    println!(
        "ironbpf: `{oline}`, processed {}, total_states {}, max_states_per_insn {}",
        ours.stats.processed_insns, ours.stats.total_states, ours.stats.max_states_per_insn
    );
    assert!(
        oline.starts_with("BPF program is too large. Processed 1000001 insn"),
        "ironbpf said `{oline}`"
    );
    assert_eq!(ours.stats.processed_insns, LIMIT + 1);
    if !ironbpf_kernel::available_for_test(
        "endless_loop_with_fresh_states_is_refused_at_the_limit_as_by_the_kernel",
    ) {
        return;
    }
    let words: Vec<u64> = prog.iter().map(|s| s.to_u64()).collect();
    let k = load_program(&ProgLoad {
        prog_type: ProgTypeId::Xdp.kernel_id(),
        insns: &words,
        log_level: 1 | BPF_LOG_STATS,
        license: "GPL",
        ..Default::default()
    });
    let ks = parse_log_stats(&k.log);
    let kline = k.first_error_line.clone().unwrap_or_default();
    println!("kernel: `{kline}`, processed {:?}", ks.processed_insns);
    assert!(!k.accepted(), "the kernel accepted it");
    assert_eq!(kline, oline, "the error lines differ");
    assert_eq!(ks.processed_insns, Some(ours.stats.processed_insns));
}

/// `fuzz/regressions/verifier/crash-80562c24…`, minimised (from 307 bytes
/// of generator input to these 7 instructions; the file now holds them as
/// a raw-slots input: SocketFilter, privileged, log level 1): r4 grows by
/// one on each pass of a loop on an unknown w0, so the verifier runs to the
/// 1M-insn limit, and at level 1 the log holds the whole failing path,
/// about 100 MiB. In session 5 the fuzz target took a log that size for a
/// crash; the verifier now stops writing at MAX_LOG_BYTES.
const CRASH_80562C24: &str = "bf16000000000000 81a0fcff00000000 6162000000000000 \
bf24000000000000 0704000001000000 d600feff00000000 9500000000000000";

#[test]
fn level1_log_of_a_loop_to_the_limit_stays_under_the_log_cap() {
    let prog = slots(CRASH_80562C24);
    let mut opts = VerifyOptions::new(ProgTypeId::SocketFilter);
    opts.log_level = 1;
    opts.maps = fuzz_maps();
    let out = verify(&prog, &opts);
    let Err(rej) = &out.result else {
        panic!("the verifier accepted a loop to the 1M-insn limit")
    };
    println!(
        "`{}` at insn {:?}, processed {}, log {} bytes",
        rej.message,
        rej.insn,
        out.stats.processed_insns,
        out.log.len()
    );
    assert!(rej
        .message
        .starts_with("BPF program is too large. Processed 1000001 insn"));
    assert_eq!(out.stats.processed_insns, LIMIT + 1);
    assert!(
        out.log.len() <= MAX_LOG_BYTES + (64 << 10),
        "the log is {} bytes, past MAX_LOG_BYTES",
        out.log.len()
    );
    // The log shows the path: the loop's instructions and the refusal.
    assert!(out.log.contains("if w0 s<= 0x0 goto pc-2"));
    // The refusal, then the statistics line, end the log.
    let tail: Vec<&str> = out.log.lines().rev().take(2).collect();
    assert!(
        tail.len() == 2
            && tail[1].starts_with("BPF program is too large. Processed 1000001 insn")
            && tail[0].starts_with("processed 1000001 insns"),
        "the log ends with {tail:?}"
    );
}
