//! Runs one VM-suite program on ironbpf's JIT (or a peer) in a loop for a
//! profiler (`perf record`, `valgrind --tool=callgrind`):
//! `jit_spin PROGRAM [trusted|checked|rbpf-jit|native|native-scalar] [RUNS]`.

use ironbpf_benches::{vm_expected, vm_peer_runner, BenchError, JitRunner, Runner, VmPeer};
use ironbpf_vm::JitMode;

fn main() -> Result<(), BenchError> {
    let args: Vec<String> = std::env::args().collect();
    let program = args.get(1).map_or("simple", String::as_str);
    let mode = match args.get(2).map(String::as_str) {
        Some("checked") => JitMode::Checked,
        _ => JitMode::Trusted,
    };
    let runs: u64 = args
        .get(3)
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000_000);
    let expected = vm_expected(program)?;
    let mut runner: Box<dyn Runner> = match args.get(2).map(String::as_str) {
        Some("rbpf-jit") => vm_peer_runner(VmPeer::RbpfJit, program)?,
        Some("native") => vm_peer_runner(VmPeer::Native, program)?,
        Some("native-scalar") => vm_peer_runner(VmPeer::NativeScalar, program)?,
        _ => Box::new(JitRunner::vm(program, mode)?),
    };
    let started = std::time::Instant::now();
    for _ in 0..runs {
        let r0 = runner.run()?;
        if r0 != expected {
            eprintln!("r0 = {r0:#x}, expected {expected:#x}");
            std::process::exit(1);
        }
    }
    let ns = started.elapsed().as_nanos() as f64 / runs as f64;
    println!(
        "{program} {}: {ns:.1} ns per run over {runs} runs",
        runner.runner_name()
    );
    Ok(())
}
