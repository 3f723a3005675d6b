//! criterion bench of the JIT's compile time on the corpus (../shared/corpus or
//! $IRONBPF_CORPUS): checked and trusted mode on every program the loader and the
//! interpreter take, then the median per BPF slot over the programs (the issue's
//! bar is 1 µs). `cargo bench -p ironbpf-benches --bench jit_compile`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ironbpf_benches::jit_compile::{compile_object, median_per_slot};
use ironbpf_benches::verifier_suite::{corpus_objects, default_corpus_dir};
use ironbpf_jit::{Facts, Mode};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{HelperRegistry, JitProgram, Options};

fn jit_compile(c: &mut Criterion) {
    let objects = corpus_objects(&default_corpus_dir()).expect("the corpus");
    let mut rows = Vec::new();
    for obj in &objects {
        rows.extend(compile_object(obj, 5).0);
    }
    eprintln!(
        "{} programs: median per slot checked {:.0} ns, trusted {:.0} ns",
        rows.len(),
        median_per_slot(&rows, |r| r.checked_per_slot()).unwrap_or(f64::NAN),
        median_per_slot(&rows, |r| r.trusted_per_slot()).unwrap_or(f64::NAN),
    );
    // criterion on the three largest programs, for a steady per-program figure.
    rows.sort_by_key(|r| std::cmp::Reverse(r.slots));
    let mut group = c.benchmark_group("jit_compile");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    for row in rows.iter().take(3) {
        let (rel, name) = row.label.split_once(':').expect("object:program");
        let obj = objects.iter().find(|o| o.rel == rel).expect("the object");
        let object =
            ironbpf_loader::load_file(&obj.path, &ironbpf_loader::LoadOptions::default()).unwrap();
        let loaded = LoadedObject::new(object, &HelperRegistry::new()).unwrap();
        let (vm, _) = loaded.interpreter(name, Options::default()).unwrap();
        let insns = JitProgram::jit_insns(&vm);
        group.bench_function(BenchmarkId::new("checked", &row.label), |b| {
            b.iter(|| {
                ironbpf_jit::compile(&insns, Mode::Checked, u64::MAX, &Facts::none()).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, jit_compile);
criterion_main!(benches);
