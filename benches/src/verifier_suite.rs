//! The verifier suite: how long verifiers take on real objects, the shared corpus of
//! compiled programs (`../shared/corpus/ebpf-samples`, every `.o` outside `invalid/`).
//!
//! Two verifiers are timed, program by program:
//!
//! - **the kernel** ([`KernelCorpusObject`]): the object read by `ironbpf-loader`, its
//!   maps created, each program loaded with `BPF_LOG_STATS`; the time is the log's
//!   `verification time N usec` (measured by the kernel), with `processed N insns`
//!   beside it and the wall time of the load;
//! - **PREVAIL** ([`PrevailCorpusObject`]): the `prevail` crate (a Rust port of
//!   PREVAIL) with its own ELF loader and Linux platform, as its command-line tool
//!   runs it; the time is its unmarshalling, CFG construction and fixpoint analysis,
//!   not the ELF parsing.
//!
//! ironbpf's own verifier is timed beside them by `ironbpf bench --suite verifier`
//! (the `ironbpf-verifier` rows) and by the criterion bench `verifier/benches/corpus.rs`.
//!
//! A program a verifier refuses is a [`Verdict::Refused`] with the verifier's reason:
//! reports list it as refused and never add its time to the passes'. A program a
//! verifier could not be asked about (the object did not load, a map could not be
//! created, the verifier crashed) is a [`Verdict::Failed`].
//!
//! Programs are named as `object:section/function`. The kernel sees the programs
//! `ironbpf-loader` finds (libbpf's rules: entry points, with their subprograms
//! linked in); PREVAIL sees the ones its loader finds. A program only one of them
//! lists is reported for that one, the other says it has no such program.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::BPF_LOG_STATS;
use ironbpf_loader::{LoadOptions, Object};

use crate::BenchError;

/// `BPF_PROG_TYPE_SOCKET_FILTER`, `_SCHED_CLS`, `_XDP`, `_LWT_OUT`.
const SOCKET_FILTER: u32 = 1;
const SCHED_CLS: u32 = 3;
const XDP: u32 = 6;
const LWT_OUT: u32 = 11;

/// Corpus objects whose section names follow no convention a loader knows (PREVAIL's
/// `build/` tests in `.text`, iproute2 `tc` programs, AF_PACKET socket filters), with
/// the program type their projects load them as. The kernel needs a type; PREVAIL
/// picks its own from the section name.
pub const CORPUS_PROG_TYPES: &[(&str, u32)] = &[
    ("build/", XDP),
    ("linux/lwt_len_hist_kern.o", LWT_OUT),
    ("linux/tc_l2_redirect_kern.o", SCHED_CLS),
    ("linux/tcbpf1_kern.o", SCHED_CLS),
    ("linux/test_cgrp2_tc_kern.o", SCHED_CLS),
    ("linux/xdp2skb_meta_kern.o", SCHED_CLS),
    ("ovs/datapath.o", SCHED_CLS),
    ("prototype-kernel/tc_bench01_redirect_kern.o", SCHED_CLS),
    ("prototype-kernel/xdp_vlan01_kern.o", SCHED_CLS),
    ("suricata/", SOCKET_FILTER),
];

/// The program type to give the programs of sections without a conventional name in
/// the corpus object `rel` (a path relative to the corpus), if it needs one.
pub fn corpus_prog_type(rel: &str) -> Option<u32> {
    CORPUS_PROG_TYPES
        .iter()
        .find(|(name, _)| {
            if name.ends_with('/') {
                rel.starts_with(name)
            } else {
                rel == *name
            }
        })
        .map(|(_, t)| *t)
}

/// The corpus folder: `$IRONBPF_CORPUS` if set, else `../shared/corpus/ebpf-samples`
/// beside the repository this crate was built from.
pub fn default_corpus_dir() -> PathBuf {
    match std::env::var_os("IRONBPF_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ebpf-samples"),
    }
}

/// One object of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusObject {
    /// Path relative to the corpus folder (`linux/sockex1_kern.o`).
    pub rel: String,
    /// Full path.
    pub path: PathBuf,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Every `.o` under `dir` outside `invalid/`, sorted by path.
pub fn corpus_objects(dir: &Path) -> Result<Vec<CorpusObject>, BenchError> {
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|e| BenchError::Corpus {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .filter(|p| !p.starts_with(dir.join("invalid")))
        .map(|p| CorpusObject {
            rel: p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned(),
            path: p,
        })
        .collect())
}

/// A verifier's answer on one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The program passed.
    Accepted,
    /// The verifier refused the program, for this reason (its first error line).
    Refused(String),
    /// The verifier could not be asked: the object did not load, a map could not be
    /// created, the verifier crashed.
    Failed(String),
}

impl Verdict {
    /// `accepted`, `refused` or `failed`, as reports spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused(_) => "refused",
            Verdict::Failed(_) => "failed",
        }
    }

    /// The reason of a refusal or failure.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Accepted => None,
            Verdict::Refused(r) | Verdict::Failed(r) => Some(r),
        }
    }
}

/// One verification of one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// The verification time: the kernel's `verification time` (microsecond
    /// resolution), PREVAIL's analysis time.
    pub time: Duration,
    /// The kernel's `processed N insns`.
    pub processed_insns: Option<u64>,
    /// The wall time of the whole `BPF_PROG_LOAD` (verification, rewrites, JIT).
    pub load_time: Option<Duration>,
}

impl Verification {
    fn failed(reason: impl Into<String>) -> Self {
        Verification {
            verdict: Verdict::Failed(reason.into()),
            time: Duration::ZERO,
            processed_insns: None,
            load_time: None,
        }
    }
}

/// A program's name in reports: `object:section/function`.
pub fn program_label(object: &str, section: &str, function: &str) -> String {
    format!("{object}:{section}/{function}")
}

/// A corpus object read by `ironbpf-loader`, with its maps created in the kernel.
pub struct KernelCorpusObject {
    object: Option<Object>,
    kernel: Result<KernelObject, String>,
    names: Vec<(String, String)>,
}

impl KernelCorpusObject {
    /// Reads the object and creates its maps. An object that does not load is an
    /// error; maps that cannot be created make every program [`Verdict::Refused`]
    /// (the kernel refused the map).
    pub fn open(obj: &CorpusObject) -> Result<Self, String> {
        let opts = LoadOptions {
            prog_type_override: corpus_prog_type(&obj.rel),
            ..LoadOptions::default()
        };
        let loaded = ironbpf_loader::load_file(&obj.path, &opts)
            .map_err(|e| format!("ironbpf-loader: {e}"))?;
        let kernel = KernelObject::create(&loaded).map_err(|e| e.to_string());
        let names = loaded
            .programs
            .iter()
            .map(|p| (p.section.clone(), p.name.clone()))
            .collect();
        Ok(KernelCorpusObject {
            object: Some(loaded),
            kernel,
            names,
        })
    }

    /// The programs, as (section, function).
    pub fn programs(&self) -> &[(String, String)] {
        &self.names
    }

    /// Loads program `index` once and returns the verifier's verdict and figures.
    pub fn verify(&self, index: usize) -> Verification {
        let Some(prog) = self.object.as_ref().and_then(|o| o.programs.get(index)) else {
            return Verification::failed("no such program");
        };
        let kernel = match &self.kernel {
            Ok(k) => k,
            Err(e) => {
                return Verification {
                    verdict: Verdict::Refused(format!("map creation: {e}")),
                    time: Duration::ZERO,
                    processed_insns: None,
                    load_time: None,
                }
            }
        };
        let out = kernel.load_program(prog, BPF_LOG_STATS);
        let verdict = match &out.result {
            Ok(_) => Verdict::Accepted,
            Err(e) => Verdict::Refused(match kernel_refusal_line(&out.log) {
                Some(line) => format!("{line} ({})", ironbpf_kernel::errno_name(e.errno)),
                None => e.to_string(),
            }),
        };
        Verification {
            verdict,
            time: Duration::from_micros(out.verification_time_usec.unwrap_or(0)),
            processed_insns: out.processed_insns,
            load_time: Some(out.load_time),
        }
    }
}

/// The line of a kernel verifier log that says why the program was refused: the last
/// line that is neither a statistic nor a source line (`; ...`) the verifier prints
/// after it, without a `verification time` the kernel sometimes glues to it.
fn kernel_refusal_line(log: &str) -> Option<String> {
    log.lines()
        .map(|l| match l.find("verification time ") {
            Some(at) if at > 0 => &l[..at],
            _ => l,
        })
        .map(str::trim)
        .rev()
        .find(|l| {
            !(l.is_empty()
                || l.starts_with(';')
                || l.starts_with("processed ")
                || l.starts_with("verification time ")
                || l.starts_with("stack depth ")
                || l.starts_with("mark_precise"))
        })
        .map(str::to_string)
}

/// A corpus object read by PREVAIL's ELF loader.
pub struct PrevailCorpusObject {
    programs: Vec<prevail::spec::type_descriptors::RawProgram>,
    /// Sections PREVAIL's loader refused, as (section, function, reason).
    rejected: Vec<(String, String, String)>,
    names: Vec<(String, String)>,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

fn prevail_options() -> prevail::spec::config::EbpfVerifierOptions {
    // As PREVAIL's command-line tool: map fds mocked (no kernel), the rest default.
    prevail::spec::config::EbpfVerifierOptions {
        mock_map_fds: true,
        verbosity_opts: prevail::spec::config::VerbosityOptions {
            simplify: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

impl PrevailCorpusObject {
    /// Reads the object with PREVAIL's loader. Sections it refuses are kept, to be
    /// reported as refused.
    pub fn open(obj: &CorpusObject) -> Result<Self, String> {
        let path = obj.path.to_string_lossy().into_owned();
        let loaded = catch_unwind(AssertUnwindSafe(|| {
            let mut platform = prevail::linux::linux_platform::LinuxPlatform::new();
            let mut elf = prevail::elf_loader::ElfObject::new(&path, prevail_options())
                .map_err(|e| e.to_string())?;
            let programs = elf.get_programs("", "", &mut platform).unwrap_or_default();
            let rejected = elf
                .list_programs(&mut platform)
                .iter()
                .filter(|p| p.reject_load)
                .map(|p| {
                    (
                        p.section_name.clone(),
                        p.function_name.clone(),
                        p.reject_load_reason.clone(),
                    )
                })
                .collect::<Vec<_>>();
            Ok::<_, String>((programs, rejected))
        }))
        .map_err(|p| format!("prevail's ELF loader panicked: {}", panic_message(&*p)))?;
        let (programs, rejected) = loaded.map_err(|e| format!("prevail's ELF loader: {e}"))?;
        let names = programs
            .iter()
            .map(|p| (p.section_name.clone(), p.function_name.clone()))
            .chain(rejected.iter().map(|(s, f, _)| (s.clone(), f.clone())))
            .collect();
        Ok(PrevailCorpusObject {
            programs,
            rejected,
            names,
        })
    }

    /// The programs, as (section, function): the loaded ones, then those in sections
    /// PREVAIL's loader refused.
    pub fn programs(&self) -> &[(String, String)] {
        &self.names
    }

    /// Verifies program `index` once.
    pub fn verify(&self, index: usize) -> Verification {
        if let Some((_, _, reason)) = index
            .checked_sub(self.programs.len())
            .and_then(|i| self.rejected.get(i))
        {
            return Verification {
                verdict: Verdict::Refused(format!("prevail's ELF loader: {reason}")),
                time: Duration::ZERO,
                processed_insns: None,
                load_time: None,
            };
        }
        let Some(raw) = self.programs.get(index) else {
            return Verification::failed("no such program");
        };
        let result = catch_unwind(AssertUnwindSafe(|| prevail_verify(raw)));
        match result {
            Ok(v) => v,
            Err(p) => Verification::failed(format!("prevail panicked: {}", panic_message(&*p))),
        }
    }
}

/// PREVAIL's pipeline on one program, as its command-line tool runs it.
fn prevail_verify(raw: &prevail::spec::type_descriptors::RawProgram) -> Verification {
    use prevail::crab::ebpf_domain::DomainContext;
    use prevail::crab::var_registry::VariableRegistry;

    let opts = prevail_options();
    let mut platform = prevail::linux::linux_platform::LinuxPlatform::new();
    platform.map_descriptors = raw.info.map_descriptors.clone();
    platform.set_program_type(&raw.info.program_type);
    let mut info = raw.info.clone();
    let refused = |why: String, started: Instant| Verification {
        verdict: Verdict::Refused(why),
        time: started.elapsed(),
        processed_insns: None,
        load_time: None,
    };
    let started = Instant::now();
    let mut notes = Vec::new();
    let seq =
        match prevail::ir::unmarshal::unmarshal(&raw.prog, &mut notes, &info, &platform, &opts) {
            Ok(seq) => seq,
            Err(e) => return refused(format!("unmarshaling error: {e}"), started),
        };
    let program =
        match prevail::ir::program::Program::from_sequence(&seq, &mut info, &platform, &opts) {
            Ok(p) => p,
            Err(e) => return refused(format!("invalid control flow: {e}"), started),
        };
    let ctx = DomainContext {
        program_info: &info,
        program: &program,
        runtime: &opts.runtime,
        options: &opts,
        platform: &platform,
    };
    let mut registry = VariableRegistry::new();
    let result = prevail::fwd_analyzer::analyze(&program, &ctx, &mut registry);
    let time = started.elapsed();
    let verdict = if result.failed {
        Verdict::Refused(
            result
                .find_first_error()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "failed without a first error".to_string()),
        )
    } else {
        Verdict::Accepted
    };
    Verification {
        verdict,
        time,
        processed_insns: None,
        load_time: None,
    }
}

/// The figures of one verifier on one program over several verifications.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifierMeasurement {
    /// The verdict (of the first verification; a verifier is deterministic).
    pub verdict: Verdict,
    /// Median, min and max verification time in nanoseconds, over the samples of an
    /// accepted program (one sample for a refused one).
    pub median_ns: f64,
    /// Fastest sample.
    pub min_ns: f64,
    /// Slowest sample.
    pub max_ns: f64,
    /// Number of verifications.
    pub samples: usize,
    /// The kernel's `processed N insns`.
    pub processed_insns: Option<u64>,
    /// Median wall time of the whole load (kernel only), in nanoseconds.
    pub load_ns: Option<f64>,
}

/// Verifies with `verify` once, and `samples - 1` more times if the program passed
/// (refusals are not timed), and summarises.
pub fn measure_verifier(
    samples: usize,
    mut verify: impl FnMut() -> Verification,
) -> VerifierMeasurement {
    let first = verify();
    let mut times = vec![first.time.as_nanos() as f64];
    let mut loads: Vec<f64> = first
        .load_time
        .iter()
        .map(|d| d.as_nanos() as f64)
        .collect();
    if first.verdict == Verdict::Accepted {
        for _ in 1..samples.max(1) {
            let again = verify();
            times.push(again.time.as_nanos() as f64);
            loads.extend(again.load_time.map(|d| d.as_nanos() as f64));
        }
    }
    times.sort_by(f64::total_cmp);
    loads.sort_by(f64::total_cmp);
    VerifierMeasurement {
        verdict: first.verdict,
        median_ns: times[times.len() / 2],
        min_ns: times[0],
        max_ns: times[times.len() - 1],
        samples: times.len(),
        processed_insns: first.processed_insns,
        load_ns: loads.get(loads.len() / 2).copied(),
    }
}

/// One program of the verifier suite with each verifier's figures (`None`: that
/// verifier's loader does not list the program).
#[derive(Debug, Clone)]
pub struct VerifierRow {
    /// `object:section/function`.
    pub label: String,
    /// The object, relative to the corpus.
    pub object: String,
    /// The kernel's figures.
    pub kernel: Option<VerifierMeasurement>,
    /// PREVAIL's figures.
    pub prevail: Option<VerifierMeasurement>,
}

/// Runs both verifiers over every program of `obj`, `samples` times each for the
/// programs they accept. Object-level failures become [`Verdict::Failed`] rows.
pub fn verify_object(obj: &CorpusObject, samples: usize, kernel_usable: bool) -> Vec<VerifierRow> {
    let mut rows: BTreeMap<(String, String), VerifierRow> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    fn row<'a>(
        rows: &'a mut BTreeMap<(String, String), VerifierRow>,
        order: &mut Vec<(String, String)>,
        obj: &CorpusObject,
        section: &str,
        function: &str,
    ) -> &'a mut VerifierRow {
        let key = (section.to_string(), function.to_string());
        if !rows.contains_key(&key) {
            order.push(key.clone());
        }
        rows.entry(key).or_insert_with(|| VerifierRow {
            label: program_label(&obj.rel, section, function),
            object: obj.rel.clone(),
            kernel: None,
            prevail: None,
        })
    }
    let failed = |why: String| VerifierMeasurement {
        verdict: Verdict::Failed(why),
        median_ns: f64::NAN,
        min_ns: f64::NAN,
        max_ns: f64::NAN,
        samples: 0,
        processed_insns: None,
        load_ns: None,
    };
    let mut kernel_results = Vec::new();
    let mut object_failures: Vec<(&str, String)> = Vec::new();
    match KernelCorpusObject::open(obj) {
        Ok(k) => {
            for (i, (section, function)) in k.programs().iter().enumerate() {
                let m = if kernel_usable {
                    measure_verifier(samples, || k.verify(i))
                } else {
                    failed("the kernel cannot be used (see the probe's reason)".into())
                };
                kernel_results.push((section.clone(), function.clone(), m));
            }
        }
        Err(e) => object_failures.push(("kernel", e)),
    }
    let mut prevail_results = Vec::new();
    match PrevailCorpusObject::open(obj) {
        Ok(p) => {
            for (i, (section, function)) in p.programs().iter().enumerate() {
                let m = measure_verifier(samples, || p.verify(i));
                prevail_results.push((section.clone(), function.clone(), m));
            }
        }
        Err(e) => object_failures.push(("prevail", e)),
    }
    for (section, function, m) in kernel_results {
        row(&mut rows, &mut order, obj, &section, &function).kernel = Some(m);
    }
    // PREVAIL names some programs after their section rather than their function:
    // where a section holds exactly one program each side leaves unmatched by name,
    // they are the same program.
    let unmatched = |names: &[(String, String)], others: &[(String, String)], section: &str| {
        names
            .iter()
            .filter(|(s, f)| s == section && !others.iter().any(|(s2, f2)| s2 == s && f2 == f))
            .cloned()
            .collect::<Vec<_>>()
    };
    let kernel_names: Vec<(String, String)> = rows.keys().cloned().collect();
    let prevail_names: Vec<(String, String)> = prevail_results
        .iter()
        .map(|(s, f, _)| (s.clone(), f.clone()))
        .collect();
    for (section, function, m) in prevail_results {
        let mut key = (section.clone(), function.clone());
        if !kernel_names.contains(&key) {
            let k = unmatched(&kernel_names, &prevail_names, &section);
            if k.len() == 1 && unmatched(&prevail_names, &kernel_names, &section).len() == 1 {
                key = k[0].clone();
            }
        }
        row(&mut rows, &mut order, obj, &key.0, &key.1).prevail = Some(m);
    }
    if order.is_empty() && !object_failures.is_empty() {
        // Neither loader listed a program: one row for the object.
        row(&mut rows, &mut order, obj, "*", "*").label = format!("{}:*", obj.rel);
    }
    for (who, why) in object_failures {
        for key in &order {
            let r = rows.get_mut(key).expect("row");
            let slot = if who == "kernel" {
                &mut r.kernel
            } else {
                &mut r.prevail
            };
            if slot.is_none() {
                *slot = Some(failed(why.clone()));
            }
        }
    }
    order
        .into_iter()
        .map(|k| rows.remove(&k).expect("row"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prog_type_table_matches_folders_and_files() {
        assert_eq!(corpus_prog_type("build/loop.o"), Some(XDP));
        assert_eq!(corpus_prog_type("suricata/lb.o"), Some(SOCKET_FILTER));
        assert_eq!(corpus_prog_type("ovs/datapath.o"), Some(SCHED_CLS));
        assert_eq!(corpus_prog_type("linux/sockex1_kern.o"), None);
    }

    #[test]
    fn refusal_lines_skip_source_lines_and_statistics() {
        let log = "0: R1=ctx()\ninvalid indirect read from stack R2 off -24+0 size 8\n\
                   ; return x; @ loop.c:18\nprocessed 12 insns (limit 1000000)\n";
        assert_eq!(
            kernel_refusal_line(log).as_deref(),
            Some("invalid indirect read from stack R2 off -24+0 size 8")
        );
        let glued =
            "expected prog array map for tail callverification time 17 usec\nstack depth 0\n";
        assert_eq!(
            kernel_refusal_line(glued).as_deref(),
            Some("expected prog array map for tail call")
        );
        assert_eq!(kernel_refusal_line(""), None);
    }

    #[test]
    fn refusals_are_sampled_once() {
        let mut calls = 0;
        let m = measure_verifier(5, || {
            calls += 1;
            Verification {
                verdict: Verdict::Refused("no".into()),
                time: Duration::from_micros(3),
                processed_insns: Some(7),
                load_time: None,
            }
        });
        assert_eq!((calls, m.samples), (1, 1));
        assert_eq!(m.verdict.name(), "refused");
        assert_eq!(m.verdict.reason(), Some("no"));
    }

    #[test]
    fn passes_are_sampled_and_summarised() {
        let mut t = 0;
        let m = measure_verifier(5, || {
            t += 1;
            Verification {
                verdict: Verdict::Accepted,
                time: Duration::from_micros(t),
                processed_insns: Some(7),
                load_time: Some(Duration::from_micros(10 * t)),
            }
        });
        assert_eq!(m.samples, 5);
        assert_eq!((m.min_ns, m.median_ns, m.max_ns), (1e3, 3e3, 5e3));
        assert_eq!(m.load_ns, Some(30e3));
        assert_eq!(m.processed_insns, Some(7));
    }
}
