//! Prints the JIT's compile time on every corpus program and the median per slot:
//! `cargo run --release -p ironbpf-benches --example jit_compile_times`.

use ironbpf_benches::jit_compile::{compile_object, median_per_slot};
use ironbpf_benches::verifier_suite::{corpus_objects, default_corpus_dir};
use ironbpf_benches::BenchError;

fn main() -> Result<(), BenchError> {
    let objects = corpus_objects(&default_corpus_dir())?;
    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    for obj in &objects {
        let (r, s) = compile_object(obj, 5);
        rows.extend(r);
        skipped.extend(s);
    }
    if std::env::args().any(|a| a == "--skipped") {
        for s in &skipped {
            println!("not prepared: {s}");
        }
    }
    for r in &rows {
        println!(
            "{:<70} {:>6} slots  checked {:>8.0} ns ({:>5.0}/slot)  trusted {:>8.0} ns ({:>5.0}/slot)",
            r.label,
            r.slots,
            r.checked_ns,
            r.checked_per_slot(),
            r.trusted_ns,
            r.trusted_per_slot()
        );
    }
    println!(
        "{} programs ({} not prepared): median per slot checked {:.0} ns, trusted {:.0} ns",
        rows.len(),
        skipped.len(),
        median_per_slot(&rows, |r| r.checked_per_slot()).unwrap_or(f64::NAN),
        median_per_slot(&rows, |r| r.trusted_per_slot()).unwrap_or(f64::NAN),
    );
    Ok(())
}
