//! The failing path a rejection carries (`Rejection::path`) is the path the
//! kernel's level-2 log shows for the failing branch, and `replay_path`
//! walks it to the failing state.
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad};
use ironbpf_progtype::desc::ProgTypeDesc;
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::state::RegType;
use ironbpf_verifier::{replay_path, verify_with_desc, MapInfo, VerifyOptions};

/// The failing path as a level-2 log shows it: the instruction lines in
/// order, cut back to the branch at each `from X to Y:`.
fn path_from_log(log: &str) -> Vec<u32> {
    let mut path: Vec<u32> = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("from ") {
            let Some((x, _)) = rest.split_once(" to ") else {
                continue;
            };
            let Ok(x) = x.trim().parse::<u32>() else {
                continue;
            };
            if let Some(p) = path.iter().rposition(|&i| i == x) {
                path.truncate(p + 1);
            }
            continue;
        }
        let Some((idx, rest)) = line.split_once(": (") else {
            continue;
        };
        if rest.len() >= 3 && rest.as_bytes()[2] == b')' {
            if let Ok(i) = idx.parse::<u32>() {
                path.push(i);
            }
        }
    }
    path
}

const CASES: &[(&str, &str)] = &[
    (
        "null deref after one branch",
        "r6 = *(u32 *)(r1 +0)\nr2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nif r6 > 10 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r0 +0)\nexit",
    ),
    (
        "the second of two branches fails",
        "r6 = *(u32 *)(r1 +0)\nif r6 == 1 goto +2\nr0 = 0\nexit\nif r6 > 0 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r6 +0)\nexit",
    ),
    (
        "a bpf-to-bpf call on the path",
        "r6 = *(u32 *)(r1 +0)\ncall pc+4\nif r6 > 3 goto +1\nexit\nr0 = *(u64 *)(r6 +0)\nexit\nr0 = 1\nexit",
    ),
];

#[test]
fn rejection_path_is_the_kernels_level2_path() {
    if !ironbpf_kernel::available_for_test("rejection_path_is_the_kernels_level2_path") {
        return;
    }
    let hmap = KernelMap::create(&MapCreate {
        map_type: 1,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        name: "hmap".into(),
        ..Default::default()
    })
    .expect("hash map");
    let fds = [hmap.raw_fd()];
    let maps = vec![MapInfo {
        name: "hmap".into(),
        map_type: 1,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        map_flags: 0,
        frozen_readonly: false,
        record: Default::default(),
    }];
    let pt = ProgTypeId::SocketFilter;
    let desc = ProgTypeDesc::builtin(pt).cloned().expect("descriptor");
    for (name, asm) in CASES {
        let slots = ironbpf_isa::assemble(asm).unwrap_or_else(|e| panic!("{name}: {e}"));
        let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
        let k = load_program(&ProgLoad {
            prog_type: pt.kernel_id(),
            insns: &words,
            log_level: 2,
            fd_array: &fds,
            ..Default::default()
        });
        assert!(!k.accepted(), "{name}: the kernel accepted it");
        let want = path_from_log(&k.log);
        for level in [0, 1, 2] {
            let mut opts = VerifyOptions::new(pt);
            opts.log_level = level;
            opts.maps = maps.clone();
            let out = verify_with_desc(&slots, &opts, Some(&desc));
            let rej = out.result.expect_err("ours refuses it too");
            assert_eq!(
                rej.path, want,
                "{name} (level {level}): our path differs from the kernel's\n{}",
                k.log
            );
            let steps = replay_path(&slots, &opts, Some(&desc), &rej.path, usize::MAX)
                .unwrap_or_else(|e| panic!("{name}: replay: {e}"));
            assert_eq!(steps.len(), want.len(), "{name}: one step per path insn");
            assert!(steps.last().unwrap().after.is_none());
            assert_eq!(steps.last().unwrap().insn as usize, rej.insn.unwrap());
        }
    }
}

#[test]
fn replay_ends_in_the_failing_state() {
    let slots = ironbpf_isa::assemble(CASES[0].1).unwrap();
    let mut opts = VerifyOptions::new(ProgTypeId::SocketFilter);
    opts.log_level = 0;
    opts.maps = vec![MapInfo {
        name: "hmap".into(),
        map_type: 1,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        map_flags: 0,
        frozen_readonly: false,
        record: Default::default(),
    }];
    let desc = ProgTypeDesc::builtin(ProgTypeId::SocketFilter).cloned();
    let out = verify_with_desc(&slots, &opts, desc.as_ref());
    let rej = out.result.expect_err("r0 may be null");
    // 0..=6, the taken edge of `if r6 > 10` to 9.
    assert_eq!(rej.path, vec![0, 1, 2, 3, 4, 6, 7, 10]);
    let steps = replay_path(&slots, &opts, desc.as_ref(), &rej.path, usize::MAX).unwrap();
    let last = steps.last().unwrap();
    let r0 = last.before.reg(0);
    assert_eq!(r0.ty, RegType::MapValue);
    assert!(r0.maybe_null, "r0 is still map_value_or_null at the load");
    // Only the last two kept.
    let tail = replay_path(&slots, &opts, desc.as_ref(), &rej.path, 2).unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0].insn, 7);
    // A path that leaves the program's edges is refused by name.
    let bad = replay_path(&slots, &opts, desc.as_ref(), &[0, 1, 5], usize::MAX);
    assert!(bad.is_err());
}
