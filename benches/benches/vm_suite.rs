//! criterion benches of the VM suite: ironbpf's interpreter (checked mode) and the peer
//! runners: the programs compiled for the host (`native`), rbpf's interpreter and
//! rbpf's x86-64 JIT.
//!
//! Each runner's r0 is checked against the reference before it is timed. Sample sizes
//! are small because the 1 MiB programs take milliseconds per run in an interpreter.
//! Filter as usual: `cargo bench -p ironbpf-benches -- memcpy`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use ironbpf_benches::{
    check_r0, native_compiler, vm_expected, InterpRunner, NativeRunner, RbpfMode, RbpfRunner,
    Runner, VM_PROGRAMS,
};

fn runners(name: &str) -> Vec<Box<dyn Runner>> {
    vec![
        Box::new(InterpRunner::vm(name).expect("ironbpf interpreter")),
        Box::new(NativeRunner::new(name).expect("native runner")),
        Box::new(RbpfRunner::new(name, RbpfMode::Interpreter).expect("rbpf interpreter")),
        Box::new(RbpfRunner::new(name, RbpfMode::Jit).expect("rbpf JIT")),
    ]
}

fn vm_suite(c: &mut Criterion) {
    eprintln!("native programs built by {}", native_compiler());
    for program in VM_PROGRAMS {
        let expected = vm_expected(program.name).expect("reference r0");
        let mut group = c.benchmark_group(format!("vm/{}", program.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sampling_mode(SamplingMode::Flat);
        for mut runner in runners(program.name) {
            if let Err(err) = check_r0(runner.as_mut(), expected) {
                panic!("not timing a wrong result: {err}");
            }
            let id = BenchmarkId::from_parameter(runner.runner_name());
            group.bench_function(id, |b| {
                b.iter(|| runner.run().expect("run"));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, vm_suite);
criterion_main!(benches);
