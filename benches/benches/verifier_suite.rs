//! criterion benches of the verifier suite: the kernel's verifier and PREVAIL on a
//! few objects of the shared corpus (`../shared/corpus/ebpf-samples`, or
//! `$IRONBPF_CORPUS`), one benchmark per verifier and object: the verification of
//! every program of the object that verifier accepts. ironbpf's own verifier is
//! timed on the same corpus by `verifier/benches/corpus.rs`.
//!
//! The kernel's time is its own `verification time` (microsecond resolution);
//! PREVAIL's is its unmarshalling, CFG and analysis. The whole corpus is timed by
//! `ironbpf bench --suite verifier`; these objects are a quick regression check.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use ironbpf_benches::verifier_suite::{
    corpus_objects, default_corpus_dir, KernelCorpusObject, PrevailCorpusObject, Verdict,
};

/// Small to medium objects from each of the corpus's projects.
const OBJECTS: &[&str] = &[
    "build/bounded_loop.o",
    "build/packet_access.o",
    "linux/sockex2_kern.o",
    "linux/xdp_router_ipv4_kern.o",
    "linux/tcp_clamp_kern.o",
    "prototype-kernel/xdp_ddos01_blacklist_kern.o",
    "suricata/xdp_filter.o",
    "cilium-examples/xdp_bpf_bpfel.o",
];

fn verifier_suite(c: &mut Criterion) {
    let dir = default_corpus_dir();
    let objects = match corpus_objects(&dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: the verifier suite: {e}");
            return;
        }
    };
    let kernel = ironbpf_kernel::probe();
    if let Err(why) = &kernel {
        eprintln!("skipped: the kernel's verifier: {why}");
    }
    for obj in objects.iter().filter(|o| OBJECTS.contains(&o.rel.as_str())) {
        let mut group = c.benchmark_group(format!("verifier/{}", obj.rel));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(2))
            .sampling_mode(SamplingMode::Flat);
        if kernel.is_ok() {
            match KernelCorpusObject::open(obj) {
                Ok(k) => {
                    let accepted: Vec<usize> = (0..k.programs().len())
                        .filter(|&i| k.verify(i).verdict == Verdict::Accepted)
                        .collect();
                    group.bench_function(BenchmarkId::from_parameter("kernel"), |b| {
                        b.iter_custom(|iters| {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                for &i in &accepted {
                                    total += k.verify(i).time;
                                }
                            }
                            total
                        });
                    });
                }
                Err(e) => eprintln!("skipped: kernel on {}: {e}", obj.rel),
            }
        }
        match PrevailCorpusObject::open(obj) {
            Ok(p) => {
                let accepted: Vec<usize> = (0..p.programs().len())
                    .filter(|&i| p.verify(i).verdict == Verdict::Accepted)
                    .collect();
                group.bench_function(BenchmarkId::from_parameter("prevail"), |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            for &i in &accepted {
                                total += p.verify(i).time;
                            }
                        }
                        total
                    });
                });
            }
            Err(e) => eprintln!("skipped: prevail on {}: {e}", obj.rel),
        }
        group.finish();
    }
}

criterion_group!(benches, verifier_suite);
criterion_main!(benches);
