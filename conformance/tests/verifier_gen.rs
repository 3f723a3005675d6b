//! The verifier generator: its programs are deterministic from the seed,
//! it makes every rule-breaking kind and safe programs, and, against the
//! kernel, at least 30% of its programs are refused and each program gets
//! the verdict the generator meant: safe ones accepted, each rule-breaking
//! one refused for its rule (the expected error text) at the recorded
//! instruction.

use ironbpf_conformance::vgen::{
    check_kernel, generate, insn_named_in, normalize_log, KernelOracle, Rule,
};
use std::collections::BTreeMap;

/// Seeds are pinned: the same programs on every run.
const SEEDS: std::ops::Range<u64> = 0..3000;

#[test]
fn programs_are_deterministic_from_the_seed() {
    for seed in 0..300 {
        let a = generate(seed);
        let b = generate(seed);
        assert_eq!(a.insns, b.insns, "seed {seed}");
        assert_eq!(a.text, b.text, "seed {seed}");
        assert_eq!(a.broken, b.broken, "seed {seed}");
        assert_eq!(
            (a.prog_type, a.privileged, a.strict_alignment),
            (b.prog_type, b.privileged, b.strict_alignment),
            "seed {seed}"
        );
    }
    let distinct: std::collections::HashSet<Vec<u64>> = (0..300)
        .map(|s| generate(s).insns.iter().map(|i| i.to_u64()).collect())
        .collect();
    assert!(
        distinct.len() > 290,
        "only {} distinct programs of 300",
        distinct.len()
    );
}

#[test]
fn every_rule_and_every_type_is_generated() {
    let mut rules = BTreeMap::new();
    let mut types = BTreeMap::new();
    let mut safe = 0;
    let mut unpriv = 0;
    for seed in SEEDS {
        let p = generate(seed);
        // The text's instructions are the program's slots (ld_imm64 takes two).
        let slots: usize = p
            .text
            .lines()
            .filter(|l| !l.ends_with(':'))
            .map(|l| {
                if l.contains("map[") || l.ends_with(" ll") {
                    2
                } else {
                    1
                }
            })
            .sum();
        assert_eq!(slots, p.insns.len(), "seed {seed}:\n{}", p.text);
        *types.entry(p.prog_type).or_insert(0) += 1;
        unpriv += u32::from(!p.privileged);
        match &p.broken {
            Some(b) => {
                *rules.entry(b.rule).or_insert(0) += 1;
                assert!(
                    b.insn < p.insns.len(),
                    "seed {seed}: insn {} out of the program",
                    b.insn
                );
            }
            None => safe += 1,
        }
    }
    for r in Rule::ALL {
        assert!(
            rules.get(r).copied().unwrap_or(0) >= 20,
            "rule {r} generated {:?} times",
            rules.get(r)
        );
    }
    assert_eq!(types.len(), 6, "{types:?}");
    assert!(safe >= 600, "{safe} safe programs of {}", SEEDS.end);
    assert!(
        unpriv >= 300,
        "{unpriv} unprivileged programs of {}",
        SEEDS.end
    );
}

#[test]
fn log_normalisation_and_named_insns() {
    let a = "4: (18) r1 = 0xffff8881099cc800       ; R1=map_ptr(map=vgen_array,ks=4,vs=16)\nverification time 142 usec\nprocessed 7 insns\n";
    let b = "4: (18) r1 = 0xffff888100000000       ; R1=map_ptr(map=vgen_array,ks=4,vs=16)\nverification time 9 usec\nprocessed 7 insns\n";
    assert_eq!(normalize_log(a), normalize_log(b));
    assert_ne!(normalize_log(a), normalize_log("processed 8 insns\n"));
    // A constant that is not an address stays.
    assert!(normalize_log("r1 = 0xffff\n").contains("0xffff"));
    assert_eq!(
        insn_named_in("jump out of range from insn 9 to 70"),
        Some(9)
    );
    assert_eq!(insn_named_in("unreachable insn 12"), Some(12));
    assert_eq!(insn_named_in("infinite loop detected at insn 4"), Some(4));
    assert_eq!(insn_named_in("last insn is not an exit or jmp"), None);
}

/// The kernel's verdict on every program of [`SEEDS`] is the one the
/// generator meant, and it refuses at least 30% of them.
#[test]
fn the_kernel_refuses_each_rule_as_recorded() {
    if !ironbpf_kernel::available_for_test("the_kernel_refuses_each_rule_as_recorded") {
        return;
    }
    let k = KernelOracle::new().expect("the kernel oracle");
    if let Err(why) = k.unprivileged_available() {
        if std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1") {
            panic!("unprivileged loads are needed: {why}");
        }
        eprintln!("skipped: the_kernel_refuses_each_rule_as_recorded: {why}");
        return;
    }
    let mut refused = 0u64;
    let mut misses = Vec::new();
    let mut as_meant: BTreeMap<&str, u32> = BTreeMap::new();
    for seed in SEEDS {
        let p = generate(seed);
        let v = k.verify(&p, 1).expect("a load");
        refused += u64::from(!v.accepted);
        match check_kernel(&p, &v) {
            Ok(()) => {
                *as_meant
                    .entry(p.broken.as_ref().map_or("safe", |b| b.rule.name()))
                    .or_default() += 1
            }
            Err(why) => misses.push(format!(
                "seed {seed} ({}, privileged {}): {why}",
                p.prog_type, p.privileged
            )),
        }
    }
    let n = SEEDS.end - SEEDS.start;
    eprintln!(
        "kernel {}: refused {refused} of {n}; as meant per rule: {as_meant:?}",
        k.release
    );
    assert!(
        misses.is_empty(),
        "{} programs not judged as meant:\n{}",
        misses.len(),
        misses.join("\n")
    );
    assert!(
        refused * 10 >= n * 3,
        "the kernel refused only {refused} of {n}"
    );
    for r in Rule::ALL {
        assert!(
            as_meant.get(r.name()).copied().unwrap_or(0) > 0,
            "no program breaking {r} was refused as meant"
        );
    }
}
