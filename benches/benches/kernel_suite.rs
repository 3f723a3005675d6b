//! criterion benches of the kernel suite: each XDP program in the kernel
//! (`BPF_PROG_TEST_RUN` with `repeat`, timed by the kernel) and on ironbpf's
//! interpreter (timed here), after checking r0 against the reference.
//!
//! Without a usable kernel (root or CAP_BPF + CAP_NET_ADMIN) the kernel's benches are
//! skipped with the reason; programs our interpreter cannot run yet (the map
//! programs) are skipped with its reason. Filter as usual:
//! `cargo bench -p ironbpf-benches --bench kernel_suite -- loop1024`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use ironbpf_benches::{
    check_r0, kernel_expected, InterpRunner, KernelRunner, Runner, KERNEL_PROGRAMS,
};

fn kernel_suite(c: &mut Criterion) {
    let kernel = ironbpf_kernel::probe();
    if let Err(why) = &kernel {
        eprintln!("skipped: the kernel's benches: {why}");
    }
    for program in KERNEL_PROGRAMS {
        let expected = kernel_expected(program.name).expect("reference r0");
        let mut group = c.benchmark_group(format!("kernel/{}", program.name));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sampling_mode(SamplingMode::Flat);
        if kernel.is_ok() {
            let mut runner = KernelRunner::new(program.name).expect("the kernel loads the suite");
            if let Err(err) = check_r0(&mut runner, expected) {
                panic!("not timing a wrong result: {err}");
            }
            group.bench_function(BenchmarkId::from_parameter("kernel"), |b| {
                // The kernel loops and times: its mean per run times the runs asked for.
                b.iter_custom(|iters| {
                    let repeat = u32::try_from(iters).unwrap_or(u32::MAX);
                    let (r0, ns) = runner.test_run(repeat).expect("test run");
                    assert_eq!(r0, expected, "kernel r0");
                    Duration::from_nanos(ns * iters)
                });
            });
        }
        match InterpRunner::kernel(program.name) {
            Ok(mut runner) => {
                if let Err(err) = check_r0(&mut runner, expected) {
                    panic!("not timing a wrong result: {err}");
                }
                group.bench_function(BenchmarkId::from_parameter("ironbpf-interp"), |b| {
                    b.iter(|| runner.run().expect("run"));
                });
            }
            Err(why) => eprintln!(
                "skipped: ironbpf-interp on {}: {}",
                program.name,
                why.detail()
            ),
        }
        group.finish();
    }
}

criterion_group!(benches, kernel_suite);
criterion_main!(benches);
