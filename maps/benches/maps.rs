//! Host-side lookup, update and delete per map kind, on ironbpf's maps and,
//! where bpf(2) is usable, on the kernel's (the syscall path: the figure a
//! host program pays; the program-side comparison is in benches/).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ironbpf_kernel::{KernelMap, MapCreate};
use ironbpf_maps::*;

const KINDS: &[(&str, u32, u32, u32)] = &[
    ("array", BPF_MAP_TYPE_ARRAY, 0, 4),
    ("percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY, 0, 4),
    ("hash", BPF_MAP_TYPE_HASH, 0, 4),
    ("percpu_hash", BPF_MAP_TYPE_PERCPU_HASH, 0, 4),
    ("lru_hash", BPF_MAP_TYPE_LRU_HASH, 0, 4),
    ("lru_percpu_hash", BPF_MAP_TYPE_LRU_PERCPU_HASH, 0, 4),
    ("lpm_trie", BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, 8),
];
const ENTRIES: u32 = 1024;

fn key(kind: u32, i: u32) -> Vec<u8> {
    if kind == BPF_MAP_TYPE_LPM_TRIE {
        let mut k = 32u32.to_ne_bytes().to_vec();
        k.extend_from_slice(&i.to_be_bytes());
        k
    } else {
        i.to_ne_bytes().to_vec()
    }
}

fn bench(c: &mut Criterion) {
    let kernel = ironbpf_kernel::probe().is_ok();
    for &(name, kind, flags, ks) in KINDS {
        let mut spec = MapSpec::new(kind, ks, 8, ENTRIES);
        spec.map_flags = flags;
        let ours = create_map(&spec).expect("map");
        let theirs = kernel.then(|| {
            KernelMap::create(&MapCreate {
                map_flags: flags,
                ..MapCreate::new(kind, ks, 8, ENTRIES)
            })
            .expect("kernel map")
        });
        let vlen = ours.value_size_user();
        let value = vec![7u8; vlen];
        let keys: Vec<Vec<u8>> = (0..ENTRIES).map(|i| key(kind, i)).collect();
        for k in &keys {
            ours.update(k, &value, BPF_ANY).unwrap();
            if let Some(m) = &theirs {
                m.update(k, &value, BPF_ANY).unwrap();
            }
        }
        let mut g = c.benchmark_group(format!("maps/{name}"));
        let mut out = vec![0u8; vlen];
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("lookup", "ironbpf"), |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                ours.lookup(black_box(&keys[i]), &mut out, 0).unwrap();
            })
        });
        g.bench_function(BenchmarkId::new("update", "ironbpf"), |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                ours.update(black_box(&keys[i]), &value, BPF_ANY).unwrap();
            })
        });
        if kind != BPF_MAP_TYPE_ARRAY && kind != BPF_MAP_TYPE_PERCPU_ARRAY {
            g.bench_function(BenchmarkId::new("delete+update", "ironbpf"), |b| {
                b.iter(|| {
                    i = (i + 1) % keys.len();
                    ours.delete(black_box(&keys[i])).unwrap();
                    ours.update(&keys[i], &value, BPF_ANY).unwrap();
                })
            });
        }
        // The program's side: what bpf_map_lookup_elem and
        // bpf_map_update_elem do (one CPU's value, no copy out).
        g.bench_function(BenchmarkId::new("lookup_ptr (program)", "ironbpf"), |b| {
            let guard = pin();
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(ours.lookup_ptr(black_box(&keys[i]), 0, &guard));
            })
        });
        g.bench_function(
            BenchmarkId::new("update_on_cpu (program)", "ironbpf"),
            |b| {
                b.iter(|| {
                    i = (i + 1) % keys.len();
                    ours.update_on_cpu(black_box(&keys[i]), &value[..8], BPF_ANY, 0)
                        .unwrap();
                })
            },
        );
        if let Some(m) = &theirs {
            g.bench_function(BenchmarkId::new("lookup", "kernel syscall"), |b| {
                b.iter(|| {
                    i = (i + 1) % keys.len();
                    m.lookup(black_box(&keys[i]), &mut out, 0).unwrap();
                })
            });
            g.bench_function(BenchmarkId::new("update", "kernel syscall"), |b| {
                b.iter(|| {
                    i = (i + 1) % keys.len();
                    m.update(black_box(&keys[i]), &value, BPF_ANY).unwrap();
                })
            });
        }
        g.finish();
    }
}

/// The kinds without keys, and the buffers: push/pop, push/peek,
/// output/consume.
fn bench_keyless(c: &mut Criterion) {
    let mut g = c.benchmark_group("maps/keyless");
    for (name, t) in [("queue", BPF_MAP_TYPE_QUEUE), ("stack", BPF_MAP_TYPE_STACK)] {
        let m = create_map(&MapSpec::new(t, 0, 8, ENTRIES)).unwrap();
        let mut out = [0u8; 8];
        g.bench_function(BenchmarkId::new("push+pop", name), |b| {
            b.iter(|| {
                m.update(&[], black_box(&[7u8; 8]), BPF_ANY).unwrap();
                m.lookup_and_delete(&[], &mut out, 0).unwrap();
            })
        });
    }
    let mut spec = MapSpec::new(BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, ENTRIES);
    spec.map_flags = BPF_F_ZERO_SEED;
    let bloom = create_map(&spec).unwrap();
    let mut n = 0u64;
    g.bench_function(BenchmarkId::new("push", "bloom_filter"), |b| {
        b.iter(|| {
            n += 1;
            bloom
                .update(&[], black_box(&n.to_ne_bytes()), BPF_ANY)
                .unwrap();
        })
    });
    g.bench_function(BenchmarkId::new("peek", "bloom_filter"), |b| {
        b.iter(|| {
            n += 1;
            let mut v = (n % 4096).to_ne_bytes();
            black_box(bloom.lookup(&[], &mut v, 0).is_ok());
        })
    });
    let ring = create_map(&MapSpec::new(BPF_MAP_TYPE_RINGBUF, 0, 0, 1 << 20)).unwrap();
    let rb = ring.as_any().downcast_ref::<RingBuf>().unwrap();
    g.bench_function(BenchmarkId::new("output+consume 64 B", "ringbuf"), |b| {
        b.iter(|| {
            rb.output(black_box(&[1u8; 64]), BPF_RB_NO_WAKEUP).unwrap();
            black_box(rb.next_record());
        })
    });
    g.bench_function(
        BenchmarkId::new("reserve+submit+consume 64 B", "ringbuf"),
        |b| {
            b.iter(|| {
                let p = rb.reserve(black_box(64), 0).unwrap();
                rb.submit(p, BPF_RB_NO_WAKEUP);
                black_box(rb.next_record());
            })
        },
    );
    let perf = create_map(&MapSpec::new(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1)).unwrap();
    perf.update(&0u32.to_ne_bytes(), &1u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    let pa = perf.as_any().downcast_ref::<PerfEventArray>().unwrap();
    g.bench_function(
        BenchmarkId::new("output+read 64 B", "perf_event_array"),
        |b| {
            b.iter(|| {
                pa.output(BPF_F_CURRENT_CPU, 0, black_box(&[1u8; 64]))
                    .unwrap();
                black_box(pa.read());
            })
        },
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = bench, bench_keyless
}
criterion_main!(benches);
