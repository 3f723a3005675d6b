//! Runs one kernel-suite program on ironbpf's JIT in a loop for a profiler
//! (`perf record`): `kernel_spin PROGRAM [verified|trusted|checked] [RUNS]`.

use ironbpf_benches::{kernel_expected, BenchError, JitRunner, Runner};
use ironbpf_vm::JitMode;

fn main() -> Result<(), BenchError> {
    let args: Vec<String> = std::env::args().collect();
    let program = args.get(1).map_or("parse_tcp", String::as_str);
    let mode = match args.get(2).map(String::as_str) {
        Some("checked") => JitMode::Checked,
        Some("trusted") => JitMode::Trusted,
        _ => JitMode::Verified,
    };
    let runs: u64 = args
        .get(3)
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000_000);
    let expected = kernel_expected(program)?;
    let mut runner = JitRunner::kernel(program, mode)?;
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
