//! What a program controls is bounded, as in the kernel: a loop that does
//! not end is refused at the 1M processed-insn limit (never run past it),
//! a loop whose state repeats is `infinite loop detected`, and both match
//! the kernel's verdict, error line and processed insns.
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_kernel::{load_program, parse_log_stats, ProgLoad, BPF_LOG_STATS};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};

/// `BPF_COMPLEXITY_LIMIT_INSNS`.
const LIMIT: u64 = 1_000_000;

struct Case {
    name: &'static str,
    asm: &'static str,
    /// The start of ironbpf's (and the kernel's) error line.
    error: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a counted loop past the limit",
            asm: "r1 = 0\nr1 += 1\nif r1 < 2000000 goto -2\nr0 = 2\nexit",
            error: "BPF program is too large. Processed 1000001 insn",
        },
        Case {
            // Each pass gives r6 and r7 a fresh id: the states differ bit for
            // bit, so the kernel does not call it an infinite loop.
            name: "a loop on an unknown value with fresh ids each pass",
            asm: "call bpf_get_prandom_u32\nr6 = r0\nr6 += 1\nr7 = r6\nif r7 != 0 goto -3\nr0 = 2\nexit",
            error: "",
        },
        Case {
            name: "a jump to itself whose state repeats",
            asm: "r0 = 2\nr1 = 0\nif r1 == 0 goto -1\nexit",
            error: "infinite loop detected at insn 2",
        },
    ]
}

#[test]
fn limits_match_the_kernel() {
    if !ironbpf_kernel::available_for_test("limits_match_the_kernel") {
        return;
    }
    let mut failures = Vec::new();
    for c in cases() {
        let slots = ironbpf_isa::assemble(c.asm)
            .unwrap_or_else(|e| panic!("{}: does not assemble: {e}", c.name));
        let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
        let k = load_program(&ProgLoad {
            prog_type: ProgTypeId::Xdp.kernel_id(),
            insns: &words,
            log_level: 1 | BPF_LOG_STATS,
            license: "GPL",
            ..Default::default()
        });
        let ks = parse_log_stats(&k.log);
        let mut opts = VerifyOptions::new(ProgTypeId::Xdp);
        opts.log_level = 1 | BPF_LOG_STATS;
        let ours = verify(&slots, &opts);
        let kline = k.first_error_line.clone().unwrap_or_default();
        let oline = ours
            .result
            .as_ref()
            .err()
            .map(|r| r.message.lines().next().unwrap_or("").to_string())
            .unwrap_or_default();
        println!(
            "{}: kernel {} ({kline}), processed {:?}; ironbpf {} ({oline}), processed {}",
            c.name,
            if k.accepted() { "accepted" } else { "refused" },
            ks.processed_insns,
            if ours.result.is_ok() {
                "accepted"
            } else {
                "refused"
            },
            ours.stats.processed_insns
        );
        assert!(
            ours.stats.processed_insns <= LIMIT + 1,
            "{}: ironbpf ran past the 1M limit",
            c.name
        );
        if std::env::var_os("PRUNE_LIMITS_LOG").is_some() {
            println!("ironbpf's log:\n{}", ours.log);
        }
        if k.accepted() != ours.result.is_ok() {
            failures.push(format!("{}: verdicts differ", c.name));
            continue;
        }
        let both_say_it = kline.starts_with(c.error) && oline.starts_with(c.error);
        if !c.error.is_empty() && !both_say_it {
            failures.push(format!(
                "{}: expected `{}`; kernel `{kline}`, ironbpf `{oline}`",
                c.name, c.error
            ));
        }
        if ks.processed_insns != Some(ours.stats.processed_insns) {
            failures.push(format!(
                "{}: kernel processed {:?} insns, ironbpf {}",
                c.name, ks.processed_insns, ours.stats.processed_insns
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
