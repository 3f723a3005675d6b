//! ironbpf's verdict against the kernel's on every program of the corpus
//! (/work/shared/corpus/ebpf-samples, through ironbpf's loader and the
//! kernel's maps), privileged, at log level 1.
//!
//! Prints the agreement figure and every disagreement with both error
//! lines. Asserts that ironbpf never accepts a program the kernel refuses
//! (a verifier that says yes where the kernel says no is unsafe), and that
//! the agreement does not fall below the figure measured when the test was
//! written.
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

#[path = "../../loader/tests/common/mod.rs"]
mod common;

use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::{available_for_test, first_error_line};
use ironbpf_loader::{load_file, LoadOptions};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, MapInfo, VerifyOptions};

/// Agreed verdicts when this test was last calibrated (see the report it
/// prints); a change below it is a regression.
const AGREED_AT_LEAST: usize = 237;

/// Programs ironbpf accepts and the kernel refuses, with the reason ironbpf
/// cannot see: `build/bpf2bpf.o`'s subprogram is a global function, which
/// the kernel verifies on its own against its BTF signature (a pointer
/// argument is `mem_or_null` there); ironbpf gets no BTF function info in
/// [`VerifyOptions`] and verifies it inline with the caller's arguments.
const KNOWN_UNSAFE: &[&str] = &["build/bpf2bpf.o"];

#[test]
fn corpus_verdicts_agree_with_the_kernel() {
    if !common::corpus_present("corpus_verdicts_agree_with_the_kernel") {
        return;
    }
    if !available_for_test("corpus_verdicts_agree_with_the_kernel") {
        return;
    }
    let (mut judged, mut agreed, mut k_acc, mut o_acc) = (0usize, 0usize, 0usize, 0usize);
    // Refused by ironbpf only for want of the program type's context
    // description (ProgTypeDesc::builtin), and how many of those the kernel
    // refuses too.
    let (mut no_desc, mut no_desc_agreed) = (0usize, 0usize);
    let mut unsafe_accepts = Vec::new();
    let mut lines = Vec::new();
    for (rel, path) in common::corpus_objects() {
        let refused = common::REFUSED.iter().any(|(n, _)| *n == rel);
        if refused {
            continue;
        }
        let opts = LoadOptions {
            prog_type_override: common::type_for(&rel),
            ..Default::default()
        };
        let Ok(obj) = load_file(&path, &opts) else {
            continue;
        };
        let Ok(k) = KernelObject::create(&obj) else {
            continue;
        };
        let info = |m: &ironbpf_loader::MapDef| MapInfo {
            name: m.name.chars().take(15).collect(),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            map_flags: m.map_flags,
            frozen_readonly: m.frozen,
            record: Default::default(),
        };
        let maps: Vec<MapInfo> = obj.maps.iter().map(info).collect();
        let inner: Vec<Option<MapInfo>> = obj
            .maps
            .iter()
            .map(|m| m.inner.as_deref().map(info))
            .collect();
        for p in &obj.programs {
            let Some(pt) = ProgTypeId::from_kernel_id(p.prog_type) else {
                continue;
            };
            let kout = k.load_program(p, 1);
            let slots = ironbpf_isa::slots_from_bytes(&p.insns).expect("whole slots");
            let mut vo = VerifyOptions::new(pt);
            vo.maps = maps.clone();
            vo.inner_maps = inner.clone();
            vo.attach_type = ironbpf_progtype::AttachType::from_kernel_id(p.expected_attach_type);
            vo.gpl = obj.license.contains("GPL") || obj.license.is_empty();
            let ours = verify(&slots, &vo);
            judged += 1;
            let ka = kout.accepted();
            let oa = ours.result.is_ok();
            k_acc += ka as usize;
            o_acc += oa as usize;
            let ours_line = ours
                .result
                .as_ref()
                .err()
                .map(|r| r.message.lines().last().unwrap_or("").to_string());
            let for_want_of_desc = ours
                .result
                .as_ref()
                .err()
                .is_some_and(|r| r.message.contains("ironbpf has no context description"));
            if for_want_of_desc {
                no_desc += 1;
                no_desc_agreed += (ka == oa) as usize;
            }
            if ka == oa {
                agreed += 1;
            } else {
                let line = format!(
                    "DISAGREE {rel} {} ({}): kernel {} {:?}; ironbpf {} at insn {:?}: {:?}",
                    p.name,
                    p.prog_type_name,
                    if ka { "accepts" } else { "refuses" },
                    first_error_line(&kout.log),
                    if oa { "accepts" } else { "refuses" },
                    ours.result.as_ref().err().and_then(|r| r.insn),
                    ours_line
                );
                if oa && !ka && !KNOWN_UNSAFE.contains(&rel.as_str()) {
                    unsafe_accepts.push(line.clone());
                }
                lines.push(line);
            }
        }
    }
    for l in &lines {
        println!("{l}");
    }
    println!(
        "core_corpus: {judged} programs; kernel accepts {k_acc}, ironbpf accepts {o_acc}; verdicts agree on {agreed} ({:.1}%)",
        100.0 * agreed as f64 / judged.max(1) as f64
    );
    let rest = judged - no_desc;
    let rest_agreed = agreed - no_desc_agreed;
    println!(
        "core_corpus: {no_desc} stopped at a context access for want of a program-type descriptor; of the other {rest}, verdicts agree on {rest_agreed} ({:.1}%)",
        100.0 * rest_agreed as f64 / rest.max(1) as f64
    );
    assert!(
        unsafe_accepts.is_empty(),
        "ironbpf accepts programs the kernel refuses:\n{}",
        unsafe_accepts.join("\n")
    );
    assert!(agreed >= AGREED_AT_LEAST, "agreement fell to {agreed}");
}
