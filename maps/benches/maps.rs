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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
