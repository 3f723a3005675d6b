//! Pruning against the running kernel: for each program, the kernel's
//! statistics line (`processed N insns ... total_states T peak_states P`)
//! beside ironbpf's. Most cases must match the kernel's processed insns and
//! states exactly; the fuzzer's regression programs (whose exploration blew
//! up before the fix) must stay within 2x of the kernel's.
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_kernel::{load_program, parse_log_stats, KernelMap, MapCreate, ProgLoad, BPF_LOG_STATS};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, MapInfo, VerifyOptions};

/// How close ironbpf's figures must be to the kernel's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bar {
    /// The same processed insns and total states.
    Exact,
    /// Processed insns and total states within 2x either way.
    Within2x,
}

struct Case {
    name: &'static str,
    prog_type: ProgTypeId,
    bar: Bar,
    asm: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "fuzz/regressions/soundness/timeout-a4b91a95: a self-loop on an unknown u16",
            prog_type: ProgTypeId::Xdp,
            bar: Bar::Within2x,
            asm: "r6 = r1
r5 = *(u16 *)(r10 -68)
r2 = 0x5cffffffffffffff ll
if r2 < 0x7fffffff goto +1
if r5 < r5 goto -1
r0 = 0x1f ll
w0 += 0
w0 += 0
w0 += 0
w0 += 0
w0 += 0
w0 += 0
w0 += 0
w0 += 0
r0 = 2
exit",
        },
    ]
}

fn within_2x(ours: u64, theirs: u64) -> bool {
    let (a, b) = (ours.max(1), theirs.max(1));
    a <= 2 * b && b <= 2 * a
}

#[test]
fn pruning_matches_the_kernel() {
    if !ironbpf_kernel::available_for_test("pruning_matches_the_kernel") {
        return;
    }
    let amap = KernelMap::create(&MapCreate {
        map_type: 2,
        key_size: 4,
        value_size: 16,
        max_entries: 4,
        name: "amap".into(),
        ..Default::default()
    })
    .expect("array map");
    let hmap = KernelMap::create(&MapCreate {
        map_type: 1,
        key_size: 4,
        value_size: 16,
        max_entries: 8,
        name: "hmap".into(),
        ..Default::default()
    })
    .expect("hash map");
    let fds = [amap.raw_fd(), hmap.raw_fd()];
    let info = |name: &str, map_type: u32, max_entries: u32| MapInfo {
        name: name.into(),
        map_type,
        key_size: 4,
        value_size: 16,
        max_entries,
        map_flags: 0,
        frozen_readonly: false,
    };
    let maps = vec![info("amap", 2, 4), info("hmap", 1, 8)];
    let mut failures = Vec::new();
    for c in cases() {
        let slots = ironbpf_isa::assemble(c.asm)
            .unwrap_or_else(|e| panic!("{}: does not assemble: {e}", c.name));
        let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
        let k = load_program(&ProgLoad {
            prog_type: c.prog_type.kernel_id(),
            insns: &words,
            log_level: 1 | BPF_LOG_STATS,
            license: "GPL",
            fd_array: &fds,
            ..Default::default()
        });
        let ks = parse_log_stats(&k.log);
        let mut opts = VerifyOptions::new(c.prog_type);
        opts.log_level = 1 | BPF_LOG_STATS;
        opts.maps = maps.clone();
        let ours = verify(&slots, &opts);
        let (kp, kt) = (
            ks.processed_insns.unwrap_or(0),
            ks.total_states.unwrap_or(0),
        );
        let (op, ot) = (ours.stats.processed_insns, ours.stats.total_states);
        println!(
            "{}: kernel {} processed {kp} insns, total_states {kt}, peak_states {}; ironbpf {} processed {op} insns, total_states {ot}, peak_states {}",
            c.name,
            if k.accepted() { "accepted" } else { "refused" },
            ks.peak_states.unwrap_or(0),
            if ours.result.is_ok() { "accepted" } else { "refused" },
            ours.stats.peak_states,
        );
        if k.accepted() != ours.result.is_ok() {
            failures.push(format!("{}: verdicts differ\nkernel log:\n{}", c.name, k.log));
            continue;
        }
        let ok = match c.bar {
            Bar::Exact => op == kp && ot == kt,
            Bar::Within2x => within_2x(op, kp) && within_2x(ot, kt),
        };
        if !ok {
            failures.push(format!(
                "{} ({:?}): kernel processed {kp} insns and {kt} states, ironbpf {op} and {ot}",
                c.name, c.bar
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
