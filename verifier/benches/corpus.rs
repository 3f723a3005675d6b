//! ironbpf's verifier on every program of the ebpf-samples corpus
//! (../shared/corpus/ebpf-samples): one criterion benchmark per program,
//! named `verify/<object>/<program>`, privileged, log level 0 (so that the
//! figure is the exploration's, not the log's). Programs whose section
//! names do not say their type get the type the loader tests give them
//! (`NEEDS_TYPE`); objects the loader refuses are left out.
//!
//!     cargo bench -p ironbpf-verifier --bench corpus
//!     cargo bench -p ironbpf-verifier --bench corpus -- linux/sockex1
//!
//! Prints `skipped: ../shared not found` and measures nothing without the
//! corpus.

#[path = "../../loader/tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use ironbpf_loader::{load_file, LoadOptions};
use ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_verifier::{verify, MapInfo, VerifyOptions};

/// One program ready to verify.
struct Case {
    name: String,
    slots: Vec<ironbpf_isa::RawInsn>,
    opts: VerifyOptions,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (rel, path) in common::corpus_objects() {
        let opts = LoadOptions {
            prog_type_override: common::type_for(&rel),
            ..Default::default()
        };
        let Ok(obj) = load_file(&path, &opts) else {
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
        for p in &obj.programs {
            let Some(pt) = ProgTypeId::from_kernel_id(p.prog_type) else {
                continue;
            };
            let Ok(slots) = ironbpf_isa::slots_from_bytes(&p.insns) else {
                continue;
            };
            let mut o = VerifyOptions::new(pt);
            o.attach_type = AttachType::from_kernel_id(p.expected_attach_type);
            o.log_level = 0;
            o.maps = obj.maps.iter().map(info).collect();
            o.inner_maps = obj
                .maps
                .iter()
                .map(|m| m.inner.as_deref().map(info))
                .collect();
            out.push(Case {
                name: format!("verify/{}/{}", rel.trim_end_matches(".o"), p.name),
                slots,
                opts: o,
            });
        }
    }
    out
}

fn corpus(c: &mut Criterion) {
    if !common::corpus_present("bench corpus") {
        return;
    }
    let all = cases();
    println!("corpus bench: {} programs", all.len());
    let mut g = c.benchmark_group("corpus");
    g.sample_size(10);
    for case in &all {
        g.bench_function(&case.name, |b| b.iter(|| verify(&case.slots, &case.opts)));
    }
    g.finish();
}

criterion_group!(benches, corpus);
criterion_main!(benches);
