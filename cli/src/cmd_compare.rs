//! `ironbpf compare`: every program of some objects on ironbpf's side and
//! the kernel's, side by side.
//!
//! ironbpf's side is the loader, ironbpf's verifier, and, for the program
//! types the interpreter runs and that both verifiers accepted, a run on the
//! default packet. The kernel's side is its verifier's verdict
//! with the first error line and the statistics, the JIT image's size, and a
//! test run on the same packet where the type has one.
//!
//! The verdicts are compared first: both verifiers refused it (agree), or
//! one accepted what the other refused (disagree). Then the run: both sides
//! ran, and r0 (the low 32 bits, all that the kernel's test run returns)
//! and the packet afterwards are equal (agree) or not (disagree). A program
//! that the kernel accepted and ironbpf refused or faulted on is a
//! disagreement too. An error is a
//! program that could not be put to both sides for reasons other than a
//! verifier's: the loader refused it, the kernel refused its maps, or the
//! load failed before the kernel's verifier judged the code.

use crate::cmd_kernel::{
    default_packet, errno_of, kernel_verdict, load, load_options, outcome_line, takes_packet,
    KernelVerdict,
};
use crate::cmd_run::hex;
use crate::cmd_verify::{cost_summary, write_csvs, Cost, CostRow};
use crate::Failure;
use clap::Args;
use ironbpf_isa::Program as Code;
use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::{LoadOutcome, ProgLoad, TestRun, BPF_LOG_LEVEL1};
use ironbpf_loader::{LoadOptions, Program};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::progtype::{self, CtxYield, ProgType};
use ironbpf_vm::{HelperRegistry, Options, VmError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

#[derive(Args)]
#[command(
    after_help = "For each program: ironbpf's side (loader; ironbpf's verifier; a run on the \
                  default packet for xdp, socket_filter, sched_cls, sched_act, cgroup_skb and lwt programs, on a \
                  zeroed context (96 bytes of arguments, a 512-byte struct) for raw_tracepoint and syscall programs, \
                  both verifiers accepted) next to the kernel's (verdict, first error line, processed instructions, \
                  verification time, JIT size, test run). With several programs the last line is \
                  `P programs: A agree, D disagree, E errors`; the programs that cannot be compared yet \
                  are counted, by reason, just above it. Each program starts from the object's maps as loaded, on both sides. Exit code 1 when any program disagrees or is an error.\n\n\
                  Examples:\n  ironbpf compare ../shared/corpus/ebpf-samples\n  \
                  ironbpf compare ../shared/corpus/ebpf-samples/linux/sockex1_kern.o\n  \
                  ironbpf compare --type xdp ../shared/corpus/ebpf-samples/build --json > build.jsonl\n  \
                  ironbpf compare ../shared/corpus/ebpf-samples --type build=xdp --type suricata=socket_filter --type linux=sched_cls"
)]
pub struct CompareArgs {
    /// Objects, or folders searched recursively for *.o
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Only the programs with this name
    #[arg(long)]
    prog: Option<String>,
    /// The program type for sections whose name does not say it (xdp, socket_filter, sched_cls, ...);
    /// PATH=TYPE gives it to the objects under PATH only (repeat it; the longest matching PATH wins)
    #[arg(long = "type", value_name = "[PATH=]TYPE")]
    prog_type: Vec<String>,
    /// One JSON record per program (one per line); the summary goes to stderr
    #[arg(long)]
    json: bool,
    /// Objects compared at once (default: the number of CPUs; give 1 for verification times
    /// that other objects' work does not disturb)
    #[arg(long)]
    jobs: Option<usize>,
    /// Write ironbpf's verifier figures per program as veristat's CSV (file_name, prog_name,
    /// verdict, duration, total_insns, total_states, peak_states, max_states_per_insn: the
    /// columns File, Program, Verdict, Duration (us), Insns, States, Peak states), to diff with
    /// `veristat -C KERNEL.csv IRONBPF.csv`
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// The kernel's figures as veristat's CSV, in the same layout as --csv
    #[arg(long, value_name = "FILE")]
    kernel_csv: Option<PathBuf>,
}

/// How a program's two sides compare.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Agree,
    Disagree(String),
    Error(String),
    /// Nothing can be compared yet; the reason's category and its text.
    NotCompared(Skip, String),
}

/// Why a program could not be compared yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Skip {
    /// Of a type ironbpf's interpreter does not run, or without a test run.
    NoRun,
    /// The interpreter cannot run it yet (helpers, maps, kfuncs).
    Unsupported,
    /// Its results depend on random numbers the two sides draw apart.
    Random,
    /// Its section name does not say its type and no `--type` gave one.
    NoType,
    /// It returns an address: each side's r0 is a pointer into its own
    /// memory.
    Pointer,
}

impl Skip {
    fn describe(self) -> &'static str {
        match self {
            Skip::NoRun => "of a program type that is not run on both sides",
            Skip::Unsupported => {
                "accepted by the kernel, but ironbpf's interpreter cannot run them yet (helpers, maps, kfuncs)"
            }
            Skip::Random => "not comparable: they call bpf_get_prandom_u32",
            Skip::NoType => "of a type the section name does not say (give it with --type)",
            Skip::Pointer => {
                "not comparable: they return an address, which each side takes from its own memory"
            }
        }
    }
}

impl Outcome {
    fn word(&self) -> &'static str {
        match self {
            Outcome::Agree => "agree",
            Outcome::Disagree(_) => "disagree",
            Outcome::Error(_) => "error",
            Outcome::NotCompared(..) => "not compared",
        }
    }
    fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Agree => None,
            Outcome::Disagree(r) | Outcome::Error(r) | Outcome::NotCompared(_, r) => Some(r),
        }
    }
}

/// A run on one side.
#[derive(Clone, Debug)]
struct RunResult {
    r0: u64,
    data_out: Vec<u8>,
    /// The kernel's mean duration per run.
    duration_ns: Option<u32>,
    /// The program changed the packet (the part it sees).
    changed: bool,
    /// Where `data_out` starts in the packet (ironbpf's run of an skb program
    /// that sees the packet from its L3 header, as the kernel's test run
    /// gives it, holds only that part).
    offset: usize,
}

/// ironbpf's side.
#[derive(Default)]
struct Ours {
    loader_error: Option<String>,
    /// ironbpf's verifier's verdict, or why it could not judge the program.
    verdict: Option<Result<crate::gate::Verdict, String>>,
    run: Option<Result<RunResult, String>>,
}

/// The kernel's side.
struct Theirs {
    /// `None`: the object's maps could not be created, so no load.
    load: Option<LoadOutcome>,
    jited_len: Option<u32>,
    xlated_len: Option<u32>,
    run: Option<Result<RunResult, String>>,
}

struct Record {
    object: String,
    program: String,
    section: String,
    prog_type: String,
    /// The ctx argument the type was guessed from, when the section did not say it.
    type_guessed_from: Option<String>,
    insns: usize,
    ours: Ours,
    theirs: Option<Theirs>,
    outcome: Outcome,
}

/// How many bytes at the packet's front a program type does not see in the
/// kernel's test run (the Ethernet header, for the skb types that run at
/// L3), read back from the kernel's `len` field. (ironbpf's side lays the
/// packet out as the kernel does: `vm::testrun`.)
#[derive(Clone)]
struct KernelCtx {
    skip: usize,
}

/// Loads `r0 = *(u32 *)(r1 + off); exit` as `pt` and test-runs it on
/// `packet`: the value the kernel's test run gives that context field.
fn probe_field(pt: &ProgType, off: u32, packet: &[u8]) -> Option<u32> {
    let insns = [0x61 | (0x10 << 8) | ((off as u64 & 0xffff) << 16), 0x95];
    let out = ironbpf_kernel::load_program(&ProgLoad {
        prog_type: pt.kernel_id(),
        insns: &insns,
        log_level: 0,
        name: "ctx_probe",
        ..Default::default()
    });
    let prog = out.result.ok()?;
    prog.test_run(&TestRun {
        data: packet,
        ..Default::default()
    })
    .ok()
    .map(|r| r.retval)
}

fn probe_ctx(pt: &ProgType, packet: &[u8]) -> KernelCtx {
    let len = pt
        .field_named("len")
        .filter(|f| f.yields == CtxYield::Scalar && f.read.is_some())
        .and_then(|f| probe_field(pt, f.off, packet));
    let skip = match len {
        Some(len) if (len as usize) <= packet.len() => packet.len() - len as usize,
        _ => 0,
    };
    KernelCtx { skip }
}

/// What both sides share across objects.
struct Shared {
    packet: Vec<u8>,
    ctx: Mutex<HashMap<u32, KernelCtx>>,
    /// `--type`: (PATH or none, type id).
    types: Vec<(Option<String>, u32)>,
    prog: Option<String>,
}

impl Shared {
    /// The loader options for an object: the type of the longest `--type`
    /// PATH it lies under, else the bare `--type`.
    fn opts(&self, path: &Path, shown: &str) -> LoadOptions {
        let full = path.display().to_string();
        let under = |p: &str| {
            let p = p.trim_end_matches('/');
            [shown, full.as_str()]
                .iter()
                .any(|s| *s == p || s.starts_with(&format!("{p}/")))
        };
        let best = self
            .types
            .iter()
            .filter(|(p, _)| p.as_deref().is_none_or(under))
            .max_by_key(|(p, _)| p.as_ref().map_or(0, |p| p.len() + 1));
        LoadOptions {
            prog_type_override: best.map(|(_, t)| *t),
            ..crate::cmd_prog::load_options()
        }
    }

    fn kernel_ctx(&self, pt: &ProgType) -> KernelCtx {
        if let Some(c) = self.ctx.lock().expect("ctx cache").get(&pt.kernel_id()) {
            return c.clone();
        }
        let c = probe_ctx(pt, &self.packet);
        self.ctx
            .lock()
            .expect("ctx cache")
            .insert(pt.kernel_id(), c.clone());
        c
    }
}

/// The program types ironbpf's interpreter runs in a comparison.
fn runnable(prog_type: u32) -> Option<&'static ProgType> {
    progtype::by_kernel_id(prog_type).filter(|pt| ironbpf_vm::testrun::runs(pt))
}

/// ironbpf's run of an accepted program; `Err((skip, why))` when it cannot
/// run it yet, `Ok(Err(why))` when it refused or faulted.
fn run_ours(
    obj: &ironbpf_loader::Object,
    p: &Program,
    pt: &'static ProgType,
    kctx: &KernelCtx,
    packet: &[u8],
) -> Result<Result<RunResult, String>, String> {
    if let Err(e) = Code::from_bytes(&p.insns) {
        return Ok(Err(format!("refused: {e}")));
    }
    // The object's maps, fresh, in ironbpf's runtime, with its helper table.
    let loaded = match LoadedObject::new(obj.clone(), &HelperRegistry::new()) {
        Ok(l) => l,
        Err(e) => return Err(e.to_string()),
    };
    // Both verifiers accepted the program (run_ours runs no other), so no
    // register is read before it is written on any path that can run: the
    // interpreter's own check, which is not path-sensitive and also judges
    // code the verifiers proved dead, is left out.
    let options = Options {
        check_registers: false,
        ..Options::default()
    };
    let vm = match loaded.interpreter(&p.name, options).map(|(vm, _)| vm) {
        Ok(vm) => vm,
        Err(e @ (VmError::UnknownHelper { .. } | VmError::Unsupported { .. })) => {
            return Err(e.to_string())
        }
        Err(e) => return Ok(Err(format!("refused: {e}"))),
    };
    // The packet laid out as the kernel's test run lays it out (XDP
    // headroom, the skb from its MAC or network header), so that helpers
    // that move the packet's bounds behave as in the kernel.
    let mut run = ironbpf_vm::testrun::TestRun::packet(packet);
    // The expected attach type changes some context rules (0: none).
    run.attach_type = (p.expected_attach_type != 0)
        .then(|| progtype::AttachType::from_kernel_id(p.expected_attach_type))
        .flatten();
    match ironbpf_vm::testrun::run(&vm, pt, &run, Some(loaded.resolver())) {
        Ok(out) => {
            let pkt = out.data_out.get(kctx.skip..).unwrap_or(&[]).to_vec();
            Ok(Ok(RunResult {
                r0: out.r0,
                changed: pkt != packet[kctx.skip..],
                offset: kctx.skip,
                data_out: pkt,
                duration_ns: None,
            }))
        }
        Err(e @ (VmError::Unsupported { .. } | VmError::HelperFailed { .. })) => Err(e.to_string()),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// Runs `f` with the calling thread on CPU 0, where ironbpf's runs put the
/// program (`bpf_get_smp_processor_id`, per-CPU map slots), so that the
/// kernel's test run, which runs on the caller's CPU, sees the same one;
/// the thread's CPUs are given back afterwards. Where CPU 0 is not the
/// thread's to use, `f` runs where it is (and the results may differ by
/// CPU).
fn on_cpu0<T>(f: impl FnOnce() -> T) -> T {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: zeroed cpu_set_t values are valid empty sets; CPU_SET writes
    // bit 0 of one we own; sched_getaffinity and sched_setaffinity read or
    // write only the sets we pass, of the size we give.
    unsafe {
        let mut before: libc::cpu_set_t = std::mem::zeroed();
        let saved = libc::sched_getaffinity(0, size, &mut before) == 0;
        let mut cpu0: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut cpu0);
        let moved = saved && libc::sched_setaffinity(0, size, &cpu0) == 0;
        let out = f();
        if moved {
            libc::sched_setaffinity(0, size, &before);
        }
        out
    }
}

/// The kernel's test run: once for the results, then 100 times for the
/// duration. The program sees the packet from byte `skip` on.
fn run_kernel(
    prog: &ironbpf_kernel::KernelProg,
    packet: &[u8],
    skip: usize,
) -> Result<RunResult, String> {
    let once = on_cpu0(|| {
        prog.test_run(&TestRun {
            data: packet,
            ..Default::default()
        })
    })
    .map_err(|e| e.to_string())?;
    let timed = prog
        .test_run(&TestRun {
            data: packet,
            repeat: 100,
            ..Default::default()
        })
        .ok();
    Ok(RunResult {
        r0: once.retval as u64,
        changed: once.data_out.get(skip..) != packet.get(skip..),
        offset: 0,
        data_out: once.data_out,
        duration_ns: timed.map(|t| t.duration_ns),
    })
}

/// For the program types the kernel test-runs on a context alone (no
/// packet): the context's length compare gives both sides, all zeros.
/// raw_tracepoint: the most arguments a tracepoint has (`MAX_BPF_FUNC_ARGS`
/// u64s, the most the kernel takes); syscall: 512 bytes, enough for the
/// structs programs read (the kernel refuses a shorter context than the
/// program reads, EINVAL).
fn ctx_run_len(prog_type: u32) -> Option<usize> {
    use progtype::ProgTypeId;
    match ProgTypeId::from_kernel_id(prog_type)? {
        ProgTypeId::RawTracepoint => Some(12 * 8),
        ProgTypeId::Syscall => Some(512),
        _ => None,
    }
}

/// The kernel's test run of a program that takes a context and no packet;
/// `data_out` holds the context after the run for a syscall program (whose
/// writes the kernel copies back), nothing for a raw_tracepoint one.
fn run_kernel_ctx(
    prog: &ironbpf_kernel::KernelProg,
    prog_type: u32,
    len: usize,
) -> Result<RunResult, String> {
    let mut ctx = vec![0u8; len];
    let retval = on_cpu0(|| prog.test_run_ctx(&mut ctx)).map_err(|e| e.to_string())?;
    let syscall = is_syscall(prog_type);
    Ok(RunResult {
        r0: retval as u64,
        changed: syscall && ctx.iter().any(|&b| b != 0),
        offset: 0,
        data_out: if syscall { ctx } else { Vec::new() },
        duration_ns: None,
    })
}

/// Whether kernel program type `prog_type` is `syscall`.
fn is_syscall(prog_type: u32) -> bool {
    prog_type == progtype::ProgTypeId::Syscall.kernel_id()
}

/// ironbpf's run of an accepted raw_tracepoint or syscall program on a
/// zeroed context of `len` bytes, as [`run_kernel_ctx`] runs it.
fn run_ours_ctx(
    obj: &ironbpf_loader::Object,
    p: &Program,
    len: usize,
) -> Result<Result<RunResult, String>, String> {
    let Some(pt) = progtype::by_kernel_id(p.prog_type) else {
        return Err(format!("program type {} has no descriptor", p.prog_type));
    };
    let loaded =
        LoadedObject::new(obj.clone(), &HelperRegistry::new()).map_err(|e| e.to_string())?;
    // Both verifiers accepted it: see run_ours.
    let options = Options {
        check_registers: false,
        ..Options::default()
    };
    let vm = match loaded.interpreter(&p.name, options).map(|(vm, _)| vm) {
        Ok(vm) => vm,
        Err(e @ (VmError::UnknownHelper { .. } | VmError::Unsupported { .. })) => {
            return Err(e.to_string())
        }
        Err(e) => return Ok(Err(format!("refused: {e}"))),
    };
    // The buffer holds the descriptor's whole context (a syscall program's
    // may be up to 64 KiB); the part the kernel was given is compared.
    let mut ctx = vec![0u8; len.max(pt.ctx_size as usize)];
    let attach = (p.expected_attach_type != 0)
        .then(|| progtype::AttachType::from_kernel_id(p.expected_attach_type))
        .flatten();
    match vm.run_ctx_attach(pt, attach, &mut ctx, None, Some(loaded.resolver())) {
        Ok(r0) => {
            let syscall = is_syscall(p.prog_type);
            Ok(Ok(RunResult {
                r0,
                changed: syscall && ctx.iter().any(|&b| b != 0),
                offset: 0,
                data_out: if syscall {
                    ctx.get(..len).unwrap_or(&ctx).to_vec()
                } else {
                    Vec::new()
                },
                duration_ns: None,
            }))
        }
        Err(e @ (VmError::Unsupported { .. } | VmError::HelperFailed { .. })) => Err(e.to_string()),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// Both sides of one program of an object whose maps are in the kernel.
fn compare_program(
    sh: &Shared,
    kobj: &KernelObject,
    obj: &ironbpf_loader::Object,
    p: &Program,
) -> (Ours, Theirs, Outcome) {
    let mut out = load(kobj, p, 0);
    if !out.accepted() && out.error_insn.is_none() && !out.log.is_empty() {
        // The statistics-only log names the error but not the instruction.
        let again = load(kobj, p, BPF_LOG_LEVEL1);
        if !again.accepted() {
            out = again;
        }
    }
    let mut theirs = Theirs {
        load: None,
        jited_len: None,
        xlated_len: None,
        run: None,
    };
    let mut ours = Ours {
        verdict: Some(verify_at_stats_level(obj, p)),
        ..Ours::default()
    };
    let our_refusal = match &ours.verdict {
        Some(Ok(v)) => v.refusal(),
        _ => None,
    };
    let verdict = kernel_verdict(&out);
    let kernel_line =
        || crate::cmd_kernel::error_line(&out).unwrap_or_else(|| "no reason given".into());
    let outcome = match verdict {
        KernelVerdict::LoadFailed => Outcome::Error(format!(
            "the kernel's load failed before its verifier judged the code: {}",
            outcome_line(&out)
        )),
        KernelVerdict::Refused => match (&ours.verdict, &our_refusal) {
            (Some(Ok(_)), Some(_)) => Outcome::Agree,
            (Some(Ok(_)), None) => Outcome::Disagree(format!(
                "the kernel's verifier refused it ({}), ironbpf's verifier accepted it",
                kernel_line()
            )),
            (Some(Err(e)), _) => Outcome::Error(format!(
                "the kernel's verifier refused it ({}); ironbpf's verifier cannot check it: {e}",
                kernel_line()
            )),
            (None, _) => unreachable!("the verdict is set above"),
        },
        KernelVerdict::Accepted if our_refusal.is_some() => Outcome::Disagree(format!(
            "ironbpf's verifier refused it ({}), the kernel's accepted it",
            our_refusal.as_deref().unwrap_or_default()
        )),
        KernelVerdict::Accepted => {
            let prog = out.result.as_ref().expect("accepted");
            if let Ok(info) = prog.info() {
                theirs.jited_len = Some(info.jited_len);
                theirs.xlated_len = Some(info.xlated_len);
            }
            let kctx = runnable(p.prog_type).map(|pt| sh.kernel_ctx(pt));
            let map_prog = xdp_map_prog(p);
            if takes_packet(p.prog_type) && map_prog.is_none() {
                let skip = kctx.as_ref().map_or(0, |c| c.skip);
                theirs.run = Some(run_kernel(prog, &sh.packet, skip));
            }
            let ctx_len = ctx_run_len(p.prog_type);
            if let Some(n) = ctx_len {
                theirs.run = Some(run_kernel_ctx(prog, p.prog_type, n));
            }
            match (runnable(p.prog_type).zip(kctx), &theirs.run) {
                (_, Some(Err(e))) if ctx_len.is_some() => {
                    Outcome::Error(format!("the kernel's test run failed: {e}"))
                }
                (_, Some(Ok(k))) if ctx_len.is_some() => {
                    let run = run_ours_ctx(obj, p, ctx_len.unwrap_or_default());
                    run_outcome(run, k, 0, &mut ours.run)
                }
                _ if map_prog.is_some() => Outcome::NotCompared(
                    Skip::NoRun,
                    format!(
                        "xdp programs for a {} (section `{}`) run only on frames a {0} entry redirects: the kernel's test run refuses them (EINVAL)",
                        map_prog.unwrap_or_default(),
                        p.section
                    ),
                ),
                (Some(_), Some(Ok(_))) if calls_helper(p, PRANDOM_U32) => Outcome::NotCompared(
                    Skip::Random,
                    "not comparable: calls bpf_get_prandom_u32, whose numbers the kernel and ironbpf draw apart".to_string(),
                ),
                (None, _) => Outcome::NotCompared(
                    Skip::NoRun,
                    format!(
                        "{} programs are not run on both sides (ironbpf runs xdp, socket_filter, sched_cls, sched_act, cgroup_skb and lwt_in/out/xmit on a packet, raw_tracepoint and syscall on a zeroed context; the kernel test-runs no kprobe, tracepoint or perf_event program)",
                        p.prog_type_name
                    ),
                ),
                (Some(_), Some(Err(e))) => Outcome::Error(format!("the kernel's test run failed: {e}")),
                (Some(_), None) => unreachable!("runnable types take a packet"),
                (Some((pt, kctx)), Some(Ok(k))) => {
                    let run = run_ours(obj, p, pt, &kctx, &sh.packet);
                    run_outcome(run, k, kctx.skip, &mut ours.run)
                }
            }
        }
    };
    theirs.load = Some(out);
    (ours, theirs, outcome)
}

/// ironbpf's verifier with the log the kernel's side was asked for
/// (statistics only: `load(kobj, p, 0)`), so that the two verification
/// times are measured alike; the verdict and the refusal come from the
/// rejection, not the log.
fn verify_at_stats_level(
    obj: &ironbpf_loader::Object,
    p: &Program,
) -> Result<crate::gate::Verdict, String> {
    let slots = ironbpf_isa::slots_from_bytes(&p.insns).map_err(|e| e.to_string())?;
    let opts =
        crate::cmd_verify::options(p, &obj.maps, &obj.license, 0, false, obj.btf.as_deref())?;
    let start = Instant::now();
    let outcome = ironbpf_verifier::verify(&slots, &opts);
    Ok(crate::gate::Verdict {
        outcome,
        took: start.elapsed(),
    })
}

/// For an xdp program whose expected attach type is `BPF_XDP_DEVMAP` or
/// `BPF_XDP_CPUMAP`: which map kind runs it.
fn xdp_map_prog(p: &Program) -> Option<&'static str> {
    use progtype::AttachType;
    if p.prog_type != progtype::ProgTypeId::Xdp.kernel_id() {
        return None;
    }
    match AttachType::from_kernel_id(p.expected_attach_type) {
        Some(AttachType::XdpDevmap) => Some("devmap"),
        Some(AttachType::XdpCpumap) => Some("cpumap"),
        _ => None,
    }
}

/// The outcome of ironbpf's run `run` against the kernel's `k` (the first
/// `skip` bytes of the packets not compared); the run is kept in `kept`.
/// `Err`: ironbpf could not run the program at all.
fn run_outcome(
    run: Result<Result<RunResult, String>, String>,
    k: &RunResult,
    skip: usize,
    kept: &mut Option<Result<RunResult, String>>,
) -> Outcome {
    match run {
        Err(why) => Outcome::NotCompared(
            Skip::Unsupported,
            format!("ironbpf cannot run it yet: {why}"),
        ),
        Ok(Ok(r)) if is_own_address(r.r0) => {
            let why = format!(
                "not comparable: r0 is an address ({:#x} lies in ironbpf's own memory; the kernel's r0, {:#x}, in the kernel's)",
                r.r0, k.r0
            );
            *kept = Some(Ok(r));
            Outcome::NotCompared(Skip::Pointer, why)
        }
        Ok(r) => {
            let o = judge(&r, k, skip);
            *kept = Some(r);
            o
        }
    }
}

/// Whether `v` is an address in this process's memory (a mapping of
/// `/proc/self/maps`): a program that returns a pointer (to its stack, its
/// context, a map value) gives each side's own address, which no
/// comparison can match.
fn is_own_address(v: u64) -> bool {
    // Small values are numbers: nothing is mapped in the first 64 KiB
    // (vm.mmap_min_addr).
    if v < 0x1_0000 {
        return false;
    }
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return false;
    };
    maps.lines().any(|l| {
        let range = l.split_whitespace().next().unwrap_or("");
        let mut ends = range.split('-').map(|h| u64::from_str_radix(h, 16));
        matches!((ends.next(), ends.next()), (Some(Ok(a)), Some(Ok(b))) if (a..b).contains(&v))
    })
}

/// `bpf_get_prandom_u32`'s helper id.
const PRANDOM_U32: i32 = 7;

/// Whether the program (with its subprograms) calls helper `id`.
fn calls_helper(p: &Program, id: i32) -> bool {
    p.insns.chunks_exact(8).any(|s| {
        // `call imm` with src_reg 0: a helper call.
        s[0] == 0x85 && s[1] >> 4 == 0 && i32::from_le_bytes([s[4], s[5], s[6], s[7]]) == id
    })
}

/// Agree when r0's low 32 bits and the packet the program saw are equal.
fn judge(ours: &Result<RunResult, String>, k: &RunResult, skip: usize) -> Outcome {
    let o = match ours {
        Ok(o) => o,
        Err(e) => {
            return Outcome::Disagree(format!(
                "the kernel ran it (r0 = {}), ironbpf did not: {e}",
                k.r0
            ))
        }
    };
    let mut diffs = Vec::new();
    if o.r0 as u32 as u64 != k.r0 {
        diffs.push(format!(
            "r0: ironbpf {} ({:#x}), kernel {} ({:#x})",
            o.r0, o.r0, k.r0, k.r0
        ));
    }
    let theirs = k.data_out.get(skip..).unwrap_or(&[]);
    if o.data_out != theirs {
        let first = o
            .data_out
            .iter()
            .zip(theirs)
            .position(|(a, b)| a != b)
            .unwrap_or(o.data_out.len().min(theirs.len()));
        diffs.push(format!(
            "packet: ironbpf {} bytes, kernel {} bytes, first difference at byte {}",
            o.data_out.len(),
            theirs.len(),
            first + skip
        ));
    }
    if diffs.is_empty() {
        Outcome::Agree
    } else {
        Outcome::Disagree(diffs.join("; "))
    }
}

/// Every program of one object.
fn compare_object(sh: &Shared, path: &Path, shown: &str) -> Vec<Record> {
    let ins = match ironbpf_loader::inspect_file(path, &sh.opts(path, shown)) {
        Ok(i) => i,
        Err(e) => {
            return vec![Record {
                object: shown.to_string(),
                program: "-".into(),
                section: "-".into(),
                prog_type: "-".into(),
                type_guessed_from: None,
                insns: 0,
                ours: Ours {
                    loader_error: Some(e.to_string()),
                    verdict: None,
                    run: None,
                },
                theirs: None,
                outcome: Outcome::Error(format!("the loader refused the object: {e}")),
            }]
        }
    };
    let wanted = |name: &str| sh.prog.as_deref().is_none_or(|n| n == name);
    let mut records = Vec::new();
    let progs: Vec<&Program> = ins
        .object
        .programs
        .iter()
        .filter(|p| wanted(&p.name))
        .collect();
    if !progs.is_empty() {
        for p in progs {
            // Each program gets the object's maps as they are after
            // loading, on both sides: the kernel's are created anew for
            // it (ironbpf's are, in run_ours), so no program sees what
            // another wrote and the result does not depend on the order.
            let kobj = KernelObject::create(&ins.object);
            let mut rec = Record {
                object: shown.to_string(),
                program: p.name.clone(),
                section: p.section.clone(),
                prog_type: p.prog_type_name.to_string(),
                type_guessed_from: p.type_guessed_from.clone(),
                insns: p.insns.len() / 8,
                ours: Ours::default(),
                theirs: None,
                outcome: Outcome::Agree,
            };
            match &kobj {
                Ok(k) => {
                    let (ours, theirs, outcome) = compare_program(sh, k, &ins.object, p);
                    rec.ours = ours;
                    rec.theirs = Some(theirs);
                    rec.outcome = outcome;
                }
                Err(e) => {
                    rec.theirs = Some(Theirs {
                        load: None,
                        jited_len: None,
                        xlated_len: None,
                        run: None,
                    });
                    rec.outcome =
                        Outcome::Error(format!("the kernel refused the object's maps: {e}"));
                }
            }
            records.push(rec);
        }
    }
    for r in ins.refused.iter().filter(|r| wanted(&r.name)) {
        records.push(Record {
            object: shown.to_string(),
            program: r.name.clone(),
            section: r.section.clone(),
            prog_type: if matches!(
                r.error,
                ironbpf_loader::LoadError::UnknownProgramType { .. }
            ) {
                "unknown".into()
            } else {
                r.prog_type_name.to_string()
            },
            type_guessed_from: None,
            insns: r.insns,
            ours: Ours {
                loader_error: Some(r.error.to_string()),
                verdict: None,
                run: None,
            },
            theirs: None,
            outcome: match r.error {
                ironbpf_loader::LoadError::UnknownProgramType { ref why, .. } => Outcome::NotCompared(
                    Skip::NoType,
                    format!(
                        "section `{}` does not say the program type, and {why}: give it with --type TYPE or --type PATH=TYPE",
                        r.section
                    ),
                ),
                _ => Outcome::Error(format!("ironbpf's loader refused it: {}", r.error)),
            },
        });
    }
    records
}

/// The objects under `paths`: files as given, folders searched for *.o.
fn collect(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, Failure> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "o") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for root in paths {
        if root.is_dir() {
            let mut found = Vec::new();
            walk(root, &mut found)
                .map_err(|e| Failure::usage(format!("{}: {e}", root.display())))?;
            if found.is_empty() {
                return Err(Failure::usage(format!(
                    "{}: no *.o files in this folder",
                    root.display()
                )));
            }
            for f in found {
                let shown = f
                    .strip_prefix(root)
                    .map(|r| r.display().to_string())
                    .unwrap_or_else(|_| f.display().to_string());
                files.push((f, shown));
            }
        } else if root.exists() {
            files.push((root.clone(), root.display().to_string()));
        } else {
            return Err(Failure::usage(format!(
                "{}: No such file or directory",
                root.display()
            )));
        }
    }
    Ok(files)
}

/// `--type [PATH=]TYPE` values.
fn parse_types(values: &[String]) -> Result<Vec<(Option<String>, u32)>, Failure> {
    values
        .iter()
        .map(|v| {
            let (path, name) = match v.rsplit_once('=') {
                Some((p, t)) => (Some(p.to_string()), t),
                None => (None, v.as_str()),
            };
            let id = load_options(Some(name))?
                .prog_type_override
                .expect("a type was given");
            Ok((path, id))
        })
        .collect()
}

pub fn run(args: CompareArgs) -> Result<(), Failure> {
    // The inputs first: a path that does not exist is bad input whatever
    // the kernel allows.
    let files = collect(&args.paths)?;
    crate::cmd_kernel::require_kernel()?;
    let sh = Shared {
        packet: default_packet(),
        ctx: Mutex::new(HashMap::new()),
        types: parse_types(&args.prog_type)?,
        prog: args.prog.clone(),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    let progress = std::io::stderr().is_terminal();
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Vec<Record>)>();
    let mut all: Vec<Record> = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(files.len()) {
            let tx = tx.clone();
            let (sh, files, next) = (&sh, &files, &next);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, shown)) = files.get(i) else {
                    break;
                };
                let recs = compare_object(sh, path, shown);
                if tx.send((i, recs)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Print in the files' order as the results come in.
        let mut pending: HashMap<usize, Vec<Record>> = HashMap::new();
        let mut printed = 0;
        let mut first = true;
        for (i, recs) in rx {
            pending.insert(i, recs);
            while let Some(recs) = pending.remove(&printed) {
                if progress {
                    eprint!("\r\x1b[K");
                }
                for r in &recs {
                    if args.json {
                        println!("{}", record_json(r));
                    } else {
                        if !first {
                            println!();
                        }
                        print_record(r);
                    }
                    first = false;
                }
                let _ = std::io::stdout().flush();
                all.extend(recs);
                printed += 1;
                if progress && printed < files.len() {
                    eprint!(
                        "[{printed}/{}] {}",
                        files.len(),
                        files.get(printed).map(|f| f.1.as_str()).unwrap_or("")
                    );
                }
            }
        }
        if progress {
            eprint!("\r\x1b[K");
        }
    });
    if all.is_empty() {
        return Err(Failure::usage(match &args.prog {
            Some(n) => format!("no program `{n}` in the objects given"),
            None => "the objects given hold no programs".to_string(),
        }));
    }
    let rows: Vec<CostRow> = all.iter().filter_map(cost_row).collect();
    write_csvs(args.csv.as_ref(), args.kernel_csv.as_ref(), &rows)?;
    let count = |w: &str| all.iter().filter(|r| r.outcome.word() == w).count();
    let (agree, disagree, errors) = (count("agree"), count("disagree"), count("error"));
    let mut summary = Vec::new();
    if all.len() > 1 {
        let mut lists = |word: &str, title: &str| {
            let rs: Vec<&Record> = all.iter().filter(|r| r.outcome.word() == word).collect();
            if !rs.is_empty() {
                summary.push(format!("{title} ({}):", rs.len()));
                for r in rs {
                    summary.push(format!(
                        "  {}: {}: {}",
                        r.object,
                        r.program,
                        r.outcome.reason().unwrap_or_default()
                    ));
                }
            }
        };
        lists("disagree", "disagreements");
        lists("error", "errors");
        let mut skipped: Vec<(Skip, usize)> = Vec::new();
        for r in &all {
            if let Outcome::NotCompared(k, _) = r.outcome {
                match skipped.iter_mut().find(|(s, _)| *s == k) {
                    Some((_, n)) => *n += 1,
                    None => skipped.push((k, 1)),
                }
            }
        }
        skipped.sort();
        let n: usize = skipped.iter().map(|(_, n)| n).sum();
        if n > 0 {
            summary.push(format!(
                "not compared yet ({n}): {}",
                skipped
                    .iter()
                    .map(|(k, n)| format!("{n} {}", k.describe()))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        summary.extend(cost_summary(&rows));
        summary.push(format!(
            "time: {:.1} s for {} objects",
            start.elapsed().as_secs_f64(),
            files.len()
        ));
        summary.push(format!(
            "{} programs: {agree} agree, {disagree} disagree, {errors} errors",
            all.len()
        ));
    }
    for line in &summary {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    if disagree + errors > 0 {
        return Err(Failure::failed(String::new()));
    }
    Ok(())
}

/// The program's cost on both sides, when both verifiers judged it.
fn cost_row(r: &Record) -> Option<CostRow> {
    let Some(Ok(v)) = &r.ours.verdict else {
        return None;
    };
    let o = r.theirs.as_ref()?.load.as_ref()?;
    if kernel_verdict(o) == KernelVerdict::LoadFailed {
        return None;
    }
    Some(CostRow {
        object: r.object.clone(),
        program: r.program.clone(),
        ours_ok: v.refusal().is_none(),
        kernel_ok: o.accepted(),
        ours: Cost::ours(&v.outcome.stats),
        kernel: Cost::kernel(o)?,
    })
}

fn run_text(r: &Option<Result<RunResult, String>>) -> String {
    match r {
        None => "-".to_string(),
        Some(Err(e)) => format!("failed: {e}"),
        Some(Ok(k)) => {
            let mut s = format!(
                "r0 = {}, packet {}",
                k.r0,
                if k.changed { "changed" } else { "unchanged" }
            );
            if let Some(d) = k.duration_ns {
                s.push_str(&format!(", {d} ns/run"));
            }
            s
        }
    }
}

fn print_record(r: &Record) {
    println!(
        "{}: {} ({}{}, {} insns): {}",
        r.object,
        r.program,
        r.prog_type,
        r.type_guessed_from
            .as_ref()
            .map(|c| format!(", guessed from its ctx argument {c}"))
            .unwrap_or_default(),
        r.insns,
        r.outcome.word()
    );
    let row = |what: &str, ours: &str, theirs: &str| {
        println!("  {what:<10} {ours:<56} {theirs}");
    };
    row("", "ironbpf", "kernel");
    let k = r.theirs.as_ref();
    let kload = k.and_then(|t| t.load.as_ref());
    match &r.ours.loader_error {
        Some(_) => row("load", "refused by the loader (below)", "not loaded"),
        None => row(
            "load",
            "loaded",
            &match kload {
                Some(o) => {
                    let v = kernel_verdict(o);
                    match errno_of(o) {
                        Some((_, e)) => format!("{} with {e}", v.name()),
                        None => v.name().to_string(),
                    }
                }
                None => "-".to_string(),
            },
        ),
    }
    if r.ours.loader_error.is_none() {
        if let Some(o) = kload {
            let stats = match Cost::kernel(o) {
                Some(c) => format!(
                    "{} insns processed, {} states (peak {}), {} us",
                    c.processed_insns, c.total_states, c.peak_states, c.time_usec
                ),
                None => "-".to_string(),
            };
            let (ours_stats, ours_error) = match &r.ours.verdict {
                None => ("-".to_string(), None),
                Some(Err(e)) => ("cannot check it".to_string(), Some(e.clone())),
                Some(Ok(v)) => (
                    format!(
                        "{} {} insns processed, {} states (peak {}), {} us",
                        if v.refusal().is_some() {
                            "refused,"
                        } else {
                            "accepted,"
                        },
                        v.outcome.stats.processed_insns,
                        v.outcome.stats.total_states,
                        v.outcome.stats.peak_states,
                        v.outcome.stats.verification_time_usec
                    ),
                    v.refusal(),
                ),
            };
            row("verifier", &ours_stats, &stats);
            if !o.accepted() || ours_error.is_some() {
                let at = o
                    .error_insn
                    .map(|i| format!("insn {i}: "))
                    .unwrap_or_default();
                row(
                    "error",
                    ours_error.as_deref().unwrap_or("-"),
                    &format!(
                        "{at}{}",
                        crate::cmd_kernel::error_line(o)
                            .as_deref()
                            .unwrap_or("(empty log)")
                    ),
                );
            }
        }
        if let Some(t) = k {
            if let Some(j) = t.jited_len {
                row(
                    "jited",
                    "-",
                    &format!("{j} bytes (xlated {} insns)", t.xlated_len.unwrap_or(0) / 8),
                );
            }
            if t.run.is_some() || r.ours.run.is_some() {
                row("run", &run_text(&r.ours.run), &run_text(&t.run));
            }
        }
    }
    if let Some(reason) = r.outcome.reason() {
        println!("  => {}: {reason}", r.outcome.word());
    }
}

fn side_run_json(r: &Option<Result<RunResult, String>>) -> Value {
    match r {
        None => Value::Null,
        Some(Err(e)) => json!({"error": e}),
        Some(Ok(k)) => json!({
            "r0": k.r0, "data_out": hex(&k.data_out), "data_out_offset": k.offset,
            "packet_changed": k.changed, "duration_ns": k.duration_ns,
        }),
    }
}

fn record_json(r: &Record) -> Value {
    let (verdict, stats, insn, line) = match (&r.ours.loader_error, &r.ours.verdict) {
        (Some(e), _) => ("not loaded", None, None, Some(e.clone())),
        (None, None) => ("not checked", None, None, None),
        (None, Some(Err(e))) => ("cannot check", None, None, Some(e.clone())),
        (None, Some(Ok(v))) => {
            let rej = v.outcome.result.as_ref().err();
            (
                if rej.is_some() { "refused" } else { "accepted" },
                Some(&v.outcome.stats),
                rej.and_then(|r| r.insn),
                rej.map(|r| r.message.clone()),
            )
        }
    };
    let ours = json!({
        "loader": r.ours.loader_error.as_deref().unwrap_or("ok"),
        "verdict": verdict,
        "processed_insns": stats.map(|s| s.processed_insns),
        "total_states": stats.map(|s| s.total_states),
        "peak_states": stats.map(|s| s.peak_states),
        "max_states_per_insn": stats.map(|s| s.max_states_per_insn),
        "verification_time_usec": stats.map(|s| s.verification_time_usec),
        "peak_memory_bytes": stats.map(|s| s.peak_memory_bytes),
        // The wall time of the whole `verify` call, as the CLI saw it.
        "call_time_usec": match &r.ours.verdict {
            Some(Ok(v)) => Some(v.took.as_micros() as u64),
            _ => None,
        },
        "error_insn": insn,
        "first_error_line": line,
        "run": side_run_json(&r.ours.run),
    });
    let theirs = match &r.theirs {
        None => Value::Null,
        Some(t) => match &t.load {
            None => json!({"verdict": "not loaded", "first_error_line": r.outcome.reason()}),
            Some(o) => {
                let mut v = crate::cmd_kernel::outcome_json(o, false);
                if let Some(c) = Cost::kernel(o) {
                    v["total_states"] = json!(c.total_states);
                    v["peak_states"] = json!(c.peak_states);
                    v["max_states_per_insn"] = json!(c.max_states_per_insn);
                }
                v["jited_len"] = json!(t.jited_len);
                v["xlated_insns"] = json!(t.xlated_len.map(|x| x / 8));
                v["run"] = side_run_json(&t.run);
                v
            }
        },
    };
    json!({
        "object": r.object, "program": r.program, "section": r.section, "type": r.prog_type,
        "type_guessed_from": r.type_guessed_from,
        "insns": r.insns, "outcome": r.outcome.word(), "reason": r.outcome.reason(),
        "ironbpf": ours, "kernel": theirs,
    })
}
