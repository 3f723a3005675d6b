//! The JIT's compile time on the shared corpus of compiled objects: each program
//! the loader and the interpreter take is pre-decoded once, then compiled by
//! `ironbpf_jit::compile` `samples` times (objects whose sections do not name a
//! program type are loaded as socket filters: the type does not change the code); a row is the median of those times.
//! The figure of merit is the median over the programs of the time per BPF
//! instruction slot (the bar: at most 1 µs).

use std::time::Instant;

use ironbpf_jit::{Facts, Mode};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{HelperRegistry, JitProgram, Options};

use crate::verifier_suite::CorpusObject;

/// One program's compile time.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileRow {
    /// `object:program`.
    pub label: String,
    /// Its instruction slots.
    pub slots: usize,
    /// Median compile time in checked mode, ns.
    pub checked_ns: f64,
    /// Median compile time in trusted mode, ns.
    pub trusted_ns: f64,
}

impl CompileRow {
    /// Checked-mode nanoseconds per slot.
    pub fn checked_per_slot(&self) -> f64 {
        self.checked_ns / self.slots.max(1) as f64
    }

    /// Trusted-mode nanoseconds per slot.
    pub fn trusted_per_slot(&self) -> f64 {
        self.trusted_ns / self.slots.max(1) as f64
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times the JIT on every program of `obj` the loader and the interpreter take:
/// the rows, and for each program that could not be prepared, why.
pub fn compile_object(obj: &CorpusObject, samples: usize) -> (Vec<CompileRow>, Vec<String>) {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    // The program type does not change the code: an object whose sections do
    // not say it is loaded as socket filters.
    let load = |o: &ironbpf_loader::LoadOptions| ironbpf_loader::load_file(&obj.path, o);
    let fallback = ironbpf_loader::LoadOptions {
        prog_type_override: Some(1),
        ..Default::default()
    };
    let object = match load(&ironbpf_loader::LoadOptions::default()).or_else(|_| load(&fallback)) {
        Ok(o) => o,
        Err(e) => {
            skipped.push(format!("{}: {e}", obj.rel));
            return (rows, skipped);
        }
    };
    let names: Vec<String> = object.programs.iter().map(|p| p.name.clone()).collect();
    let loaded = match LoadedObject::new(object, &HelperRegistry::new()) {
        Ok(l) => l,
        Err(e) => {
            skipped.push(format!("{}: {e}", obj.rel));
            return (rows, skipped);
        }
    };
    for name in names {
        let label = format!("{}:{name}", obj.rel);
        let vm = match loaded.interpreter(&name, Options::default()) {
            Ok((vm, _)) => vm,
            Err(e) => {
                skipped.push(format!("{label}: {e}"));
                continue;
            }
        };
        let insns = JitProgram::jit_insns(&vm);
        let time = |mode: Mode| -> Result<f64, String> {
            let mut t = Vec::with_capacity(samples.max(1));
            for _ in 0..samples.max(1) {
                let started = Instant::now();
                let code = ironbpf_jit::compile(&insns, mode, u64::MAX, &Facts::none())
                    .map_err(|e| e.to_string())?;
                t.push(started.elapsed().as_nanos() as f64);
                drop(code);
            }
            Ok(median(t))
        };
        match (time(Mode::Checked), time(Mode::Trusted)) {
            (Ok(checked_ns), Ok(trusted_ns)) => rows.push(CompileRow {
                label,
                slots: insns.len(),
                checked_ns,
                trusted_ns,
            }),
            (Err(e), _) | (_, Err(e)) => skipped.push(format!("{label}: {e}")),
        }
    }
    (rows, skipped)
}

/// The median over `rows` of the per-slot time `f` picks, ns.
pub fn median_per_slot(rows: &[CompileRow], f: impl Fn(&CompileRow) -> f64) -> Option<f64> {
    (!rows.is_empty()).then(|| median(rows.iter().map(f).collect()))
}
