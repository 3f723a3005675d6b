//! `ironbpf kernel ...`: the running kernel as the reference, through
//! bpf(2): its verifier's verdict and log, BPF_PROG_TEST_RUN, the probe, and
//! the program as the kernel rewrote (xlated) and compiled (jited) it.
//!
//! The helpers here (opening an object, choosing programs, loading them and
//! describing the kernel's answer) are shared with `ironbpf verify` and
//! `ironbpf compare`.

use crate::cmd_run::{hex, verdict_name, RunInput};
use crate::Failure;
use clap::{Args, Subcommand};
use ironbpf_isa::disasm::{format_log_line_with, DisasmOptions};
use ironbpf_isa::{CallTarget, Insn, RawInsn};
use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::{KernelProg, LoadOutcome, TestRun, BPF_LOG_STATS};
use ironbpf_loader::{Inspection, LoadOptions, Program};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum KernelCommand {
    /// Load programs into the kernel: its verifier's verdict, errno, log, processed instructions, verification time
    Verify(KernelVerifyArgs),
    /// Run a program in the kernel (BPF_PROG_TEST_RUN): r0, output data, duration
    Run(KernelRunArgs),
    /// Can this process use the kernel's BPF? If not, why not
    Probe(ProbeArgs),
    /// The program after the kernel verifier's rewrites, in kernel syntax
    Xlated(DumpArgs),
    /// The kernel JIT's machine code, as hex bytes
    Jited(DumpArgs),
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf kernel verify ../shared/corpus/ebpf-samples/linux/sockex1_kern.o\n  ironbpf kernel verify prog.o --prog xdp_main --log-level 2\n  ironbpf kernel verify --type xdp ../shared/corpus/ebpf-samples/build/nullmapref.o --json"
)]
pub struct KernelVerifyArgs {
    /// A BPF ELF object (clang -target bpf)
    object: PathBuf,
    /// The program (its function name); every program of the object when omitted
    #[arg(long)]
    prog: Option<String>,
    /// The program type for sections whose name does not say it (xdp, socket_filter, sched_cls, ...)
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// The verifier log's level: 1 (the path to each verdict) or 2 (every instruction's state)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    log_level: u32,
    /// One JSON record per program (one per line), with the whole log
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    after_help = "Without --data or --data-hex, programs that take a packet get ironbpf's default packet \
                  (64 bytes: Ethernet, IPv4, TCP SYN), the one `ironbpf compare` uses.\n\n\
                  Examples:\n  ironbpf kernel run examples/xdp_firewall.o --prog xdp_firewall --data examples/telnet.pkt\n  \
                  ironbpf kernel run ../shared/corpus/ebpf-samples/linux/sockex1_kern.o --repeat 1000\n  \
                  ironbpf kernel run prog.o --prog count --data-hex 0011223344 --json"
)]
pub struct KernelRunArgs {
    /// A BPF ELF object (clang -target bpf)
    object: PathBuf,
    /// The program to run (its function name); optional when the object has one
    #[arg(long)]
    prog: Option<String>,
    #[command(flatten)]
    input: RunInput,
    /// The program type for sections whose name does not say it (xdp, socket_filter, sched_cls, ...)
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// One JSON record
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    after_help = "Exit code 0 when the kernel can be used, 1 when not.\n\n\
                  Examples:\n  ironbpf kernel probe\n  ironbpf kernel probe --json"
)]
pub struct ProbeArgs {
    /// One JSON record
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(after_help = "Examples:\n  \
                  ironbpf kernel xlated ../shared/corpus/ebpf-samples/linux/sockex1_kern.o --prog bpf_prog1\n  \
                  ironbpf kernel jited ../shared/corpus/ebpf-samples/linux/sockex1_kern.o --prog bpf_prog1\n  \
                  ironbpf kernel jited prog.o --prog xdp_main --json")]
pub struct DumpArgs {
    /// A BPF ELF object (clang -target bpf)
    object: PathBuf,
    /// The program (its function name); optional when the object has one
    #[arg(long)]
    prog: Option<String>,
    /// The program type for sections whose name does not say it (xdp, socket_filter, sched_cls, ...)
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// One JSON record
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: KernelCommand) -> Result<(), Failure> {
    match cmd {
        KernelCommand::Verify(a) => verify(a),
        KernelCommand::Run(a) => test_run(a),
        KernelCommand::Probe(a) => probe(a),
        KernelCommand::Xlated(a) => dump(a, false),
        KernelCommand::Jited(a) => dump(a, true),
    }
}

// ---------------------------------------------------------------------------
// Shared with `verify` and `compare`.

/// Loader options with `--type` given by name.
pub fn load_options(prog_type: Option<&str>) -> Result<LoadOptions, Failure> {
    let mut opts = crate::cmd_prog::load_options();
    if let Some(t) = prog_type {
        let id = crate::cmd_prog::ironbpf_kernel_prog_type(t)
            .ok_or_else(|| Failure::usage(format!("unknown program type `{t}`")))?;
        opts.prog_type_override = Some(id);
    }
    Ok(opts)
}

/// Reads an object, setting aside the programs that cannot be loaded by
/// themselves (see [`ironbpf_loader::inspect_file`]).
pub fn inspect(path: &Path, prog_type: Option<&str>) -> Result<Inspection, Failure> {
    ironbpf_loader::inspect_file(path, &load_options(prog_type)?)
        .map_err(|e| crate::cmd_prog::load_failure(path, e))
}

/// The programs to work on: the one named, the only one, or (`all`) every
/// program the loader loaded.
pub fn pick<'a>(
    ins: &'a Inspection,
    path: &Path,
    name: Option<&str>,
    all: bool,
) -> Result<Vec<&'a Program>, Failure> {
    let progs = &ins.object.programs;
    let names = || {
        progs
            .iter()
            .map(|p| p.name.as_str())
            .chain(ins.refused.iter().map(|r| r.name.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => {
            if let Some(p) = progs.iter().find(|p| p.name == n) {
                return Ok(vec![p]);
            }
            if let Some(r) = ins.refused.iter().find(|r| r.name == n) {
                return Err(Failure::failed(format!(
                    "{}: program `{n}` cannot be loaded: {}",
                    path.display(),
                    r.error
                )));
            }
            Err(Failure::usage(format!(
                "{}: no program `{n}`; it has: {}",
                path.display(),
                names()
            )))
        }
        None if all || progs.len() <= 1 => {
            if progs.is_empty() {
                let why = ins
                    .refused
                    .first()
                    .map(|r| format!(": {}", r.error))
                    .unwrap_or_default();
                return Err(Failure::failed(format!(
                    "{}: no program can be loaded{why}",
                    path.display()
                )));
            }
            Ok(progs.iter().collect())
        }
        None => Err(Failure::usage(format!(
            "{} has {} programs: choose one with --prog ({})",
            path.display(),
            progs.len(),
            names()
        ))),
    }
}

/// Fails with the probe's reason when the kernel cannot be used.
pub fn require_kernel() -> Result<(), Failure> {
    ironbpf_kernel::probe()
        .map_err(|why| Failure::usage(format!("the kernel cannot be used: {why}")))
}

/// The object's BTF and maps in the kernel.
pub fn kernel_object(ins: &Inspection, path: &Path) -> Result<KernelObject, Failure> {
    KernelObject::create(&ins.object).map_err(|e| {
        Failure::failed(format!(
            "{}: the kernel refused the object's maps: {e}",
            path.display()
        ))
    })
}

/// What the kernel made of a program load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelVerdict {
    /// Loaded.
    Accepted,
    /// Its verifier refused the program.
    Refused,
    /// The load failed before the verifier judged the program: the
    /// attributes, the attach target, the program type.
    LoadFailed,
}

impl KernelVerdict {
    pub fn name(self) -> &'static str {
        match self {
            KernelVerdict::Accepted => "accepted",
            KernelVerdict::Refused => "refused",
            KernelVerdict::LoadFailed => "load failed",
        }
    }
}

/// First error lines that are about the load's setting (what the program
/// attaches to, which kernel it is for), not about the program's code.
const SETUP_ERRORS: &[&str] = &[
    "must provide btf_id",
    "attach_btf_id",
    "attach to",
    "attach_to",
    "Cannot replace",
    "not supported",
    "unknown prog type",
    "kernel version",
    "is not a function",
    "missing btf",
    "invalid prog type",
];

/// Accepted, refused by the verifier, or failed before it judged the code.
/// A refusal is the verifier's when it walked the program (the log's
/// `processed N insns`) or when its log names what is wrong with the code;
/// an empty log means the syscall refused the request itself, and so does
/// a log of statistics alone with `processed 0 insns` (EPERM for a tracing
/// program the machine cannot attach, ENOTSUPP for a struct_ops program
/// without its target).
pub fn kernel_verdict(out: &LoadOutcome) -> KernelVerdict {
    if out.accepted() {
        return KernelVerdict::Accepted;
    }
    let says_why = error_line(out).is_some_and(|l| !l.is_empty());
    if out.processed_insns == Some(0) && !says_why {
        return KernelVerdict::LoadFailed;
    }
    if out.processed_insns.is_some() {
        return KernelVerdict::Refused;
    }
    match &error_line(out) {
        Some(line) if !SETUP_ERRORS.iter().any(|s| line.contains(s)) => KernelVerdict::Refused,
        _ => KernelVerdict::LoadFailed,
    }
}

/// The log's error line, without the statistics the kernel glues onto a
/// message that lacks its newline (`expected prog array map for tail
/// callverification time 25 usec`).
pub fn error_line(out: &LoadOutcome) -> Option<String> {
    out.first_error_line.as_ref().map(|l| {
        let cut = ["verification time ", "processed "]
            .iter()
            .filter_map(|m| l.find(m).filter(|&i| i > 0))
            .min();
        match cut {
            Some(i) => l[..i].trim_end().to_string(),
            None => l.clone(),
        }
    })
}

/// The errno of a failed load, as `EACCES (Permission denied)`.
pub fn errno_of(out: &LoadOutcome) -> Option<(i32, String)> {
    out.result.as_ref().err().map(|e| {
        (
            e.errno,
            format!(
                "{} ({})",
                ironbpf_kernel::errno_name(e.errno),
                ironbpf_kernel::errno_text(e.errno)
            ),
        )
    })
}

/// A load's outcome as JSON; the log only when asked for.
pub fn outcome_json(out: &LoadOutcome, log: bool) -> Value {
    let errno = errno_of(out);
    let mut v = json!({
        "verdict": kernel_verdict(out).name(),
        "errno": errno.as_ref().map(|e| e.0),
        "error": errno.as_ref().map(|e| e.1.clone()),
        "processed_insns": out.processed_insns,
        "verification_time_usec": out.verification_time_usec,
        "error_insn": out.error_insn,
        "first_error_line": error_line(out),
        "load_time_usec": out.load_time.as_micros() as u64,
    });
    if log {
        v["log"] = json!(out.log);
        v["log_truncated"] = json!(out.log_truncated);
    }
    v
}

/// One line: `accepted, 15 insns processed, verification 28 us` or
/// `refused (EACCES (Permission denied)) at insn 5: R0 invalid mem access 'scalar'`.
pub fn outcome_line(out: &LoadOutcome) -> String {
    let verdict = kernel_verdict(out);
    let mut s = verdict.name().to_string();
    if let Some((_, e)) = errno_of(out) {
        s.push_str(&format!(" with {e}"));
    }
    if let Some(i) = out.error_insn {
        s.push_str(&format!(" at insn {i}"));
    }
    if verdict != KernelVerdict::Accepted {
        match error_line(out) {
            Some(l) => s.push_str(&format!(": {l}")),
            None => s.push_str(": the kernel's log is empty"),
        }
    }
    if let Some(n) = out.processed_insns {
        s.push_str(&format!(", {n} insns processed"));
    }
    if let Some(t) = out.verification_time_usec {
        s.push_str(&format!(", verification {t} us"));
    }
    s
}

/// A program's headline: `name (type, N insns)`.
pub fn describe(p: &Program) -> String {
    format!(
        "{} ({}, {} insns)",
        p.name,
        p.type_description(),
        p.insns.len() / 8
    )
}

/// The packet every run without `--data` gets: Ethernet (02:00:00:00:00:02
/// to 02:00:00:00:00:01), IPv4 10.0.0.2 -> 10.0.0.1, TCP 12345 -> 80 SYN,
/// 10 bytes of payload; 64 bytes, checksums correct.
pub fn default_packet() -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]);
    let ip_start = p.len();
    p.extend_from_slice(&[
        0x45, 0, 0, 50, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
    ]);
    let tcp_start = p.len();
    p.extend_from_slice(&[
        0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    p.extend_from_slice(b"ironbpf!\r\n");
    let ip_sum = checksum(&p[ip_start..tcp_start], 0);
    p[ip_start + 10..ip_start + 12].copy_from_slice(&ip_sum.to_be_bytes());
    let tcp_len = (p.len() - tcp_start) as u32;
    let mut pseudo = 0u32;
    for w in p[ip_start + 12..ip_start + 20].chunks(2) {
        pseudo += u16::from_be_bytes([w[0], w[1]]) as u32;
    }
    pseudo += 6 + tcp_len;
    let tcp_sum = checksum(&p[tcp_start..], pseudo);
    p[tcp_start + 16..tcp_start + 18].copy_from_slice(&tcp_sum.to_be_bytes());
    p
}

/// The Internet checksum of `bytes`, starting from the partial sum `sum`.
fn checksum(bytes: &[u8], mut sum: u32) -> u16 {
    for w in bytes.chunks(2) {
        sum += u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Program types whose kernel test run takes a packet (`data_in`).
pub fn takes_packet(prog_type: u32) -> bool {
    ironbpf_vm::progtype::by_kernel_id(prog_type).is_some_and(|d| d.test_run_packet)
}

/// Loads `p` with the verifier's statistics and a log at `log_level` (0: a
/// log only if it is refused).
pub fn load(kobj: &KernelObject, p: &Program, log_level: u32) -> LoadOutcome {
    kobj.load_program(p, log_level | BPF_LOG_STATS)
}

/// Loads `p` for running or dumping; a refusal is a failure.
fn load_accepted(kobj: &KernelObject, p: &Program, path: &Path) -> Result<KernelProg, Failure> {
    let out = load(kobj, p, 0);
    let line = outcome_line(&out);
    out.result.map_err(|_| {
        Failure::failed(format!(
            "{}: the kernel did not load program `{}`: {line}",
            path.display(),
            p.name
        ))
    })
}

// ---------------------------------------------------------------------------
// kernel verify

fn verify(args: KernelVerifyArgs) -> Result<(), Failure> {
    let ins = inspect(&args.object, args.prog_type.as_deref())?;
    require_kernel()?;
    let progs = pick(&ins, &args.object, args.prog.as_deref(), true)?;
    let kobj = kernel_object(&ins, &args.object)?;
    let mut refused = 0;
    for p in &progs {
        let out = load(&kobj, p, args.log_level);
        if !out.accepted() {
            refused += 1;
        }
        if args.json {
            println!(
                "{}",
                json!({
                    "object": args.object.display().to_string(), "program": p.name,
                    "section": p.section, "type": p.prog_type_name, "insns": p.insns.len() / 8,
                    "log_level": args.log_level, "kernel": outcome_json(&out, true),
                })
            );
        } else {
            println!("{}: {}", args.object.display(), describe(p));
            println!("kernel verifier: {}", outcome_line(&out));
            println!("load time: {:.1} ms", out.load_time.as_secs_f64() * 1e3);
            print_log(&out, args.log_level, "kernel verifier log");
        }
    }
    // Programs the loader set aside, when every program was asked for.
    if args.prog.is_none() {
        for r in &ins.refused {
            refused += 1;
            if args.json {
                println!(
                    "{}",
                    json!({
                        "object": args.object.display().to_string(), "program": r.name,
                        "section": r.section, "type": r.prog_type_name,
                        "loader_error": r.error.to_string(),
                    })
                );
            } else {
                println!(
                    "{}: {} (section {}): not loaded: {}",
                    args.object.display(),
                    r.name,
                    r.section,
                    r.error
                );
            }
        }
    }
    if refused > 0 {
        return Err(Failure::failed(if progs.len() + ins.refused.len() > 1 {
            format!(
                "{refused} of {} programs were not loaded",
                progs.len() + ins.refused.len()
            )
        } else {
            String::new()
        }));
    }
    Ok(())
}

/// The kernel's log between marked lines, saying whose it is.
pub fn print_log(out: &LoadOutcome, level: u32, title: &str) {
    println!("--- {title} (log level {level}) ---");
    print!("{}", out.log);
    if !out.log.is_empty() && !out.log.ends_with('\n') {
        println!();
    }
    if out.log_truncated {
        println!(
            "[the log did not fit in {} MiB and was cut]",
            ironbpf_kernel::MAX_LOG_SIZE >> 20
        );
    }
    println!("--- end of {title} ---");
}

// ---------------------------------------------------------------------------
// kernel run

fn test_run(args: KernelRunArgs) -> Result<(), Failure> {
    let ins = inspect(&args.object, args.prog_type.as_deref())?;
    require_kernel()?;
    let p = pick(&ins, &args.object, args.prog.as_deref(), false)?[0];
    crate::cmd_prog::check_type(p, args.prog_type.as_deref())?;
    let kobj = kernel_object(&ins, &args.object)?;
    let prog = load_accepted(&kobj, p, &args.object)?;
    let given = args.input.data()?;
    let default_data = given.is_none() && takes_packet(p.prog_type);
    let data = given.unwrap_or_else(|| {
        if default_data {
            default_packet()
        } else {
            Vec::new()
        }
    });
    let ctx = args.input.ctx()?;
    let repeat = args.input.repeat;
    let out = prog
        .test_run(&TestRun {
            data: &data,
            ctx: ctx.as_deref(),
            repeat,
            ..Default::default()
        })
        .map_err(|e| {
            let hint = match e.errno {
                // ENOTSUPP, EOPNOTSUPP
                524 | 95 => format!(
                    ": the kernel has no test run for {} programs",
                    p.prog_type_name
                ),
                22 if data.is_empty() && ctx.is_none() => {
                    ": the program type may need --data or --ctx".to_string()
                }
                _ => String::new(),
            };
            Failure::failed(format!("program `{}`: {e}{hint}", p.name))
        })?;
    let verdict = ironbpf_vm::progtype::by_kernel_id(p.prog_type)
        .and_then(|pt| verdict_name(pt, out.retval as u64));
    let changed = out.data_out != data;
    if args.json {
        println!(
            "{}",
            json!({
                "program": p.name, "type": p.prog_type_name, "engine": "kernel",
                "r0": out.retval, "verdict": verdict, "repeat": repeat,
                "duration_ns": out.duration_ns, "data_in": hex(&data),
                "data_out": hex(&out.data_out), "data_changed": changed,
                "ctx_out": hex(&out.ctx_out),
            })
        );
    } else {
        println!(
            "{} ({}) on {} bytes of data{}, kernel (BPF_PROG_TEST_RUN)",
            p.name,
            p.prog_type_name,
            data.len(),
            if default_data {
                " (the default packet)"
            } else {
                ""
            }
        );
        match verdict {
            Some(v) => println!("r0 = {} ({v})", out.retval),
            None => println!("r0 = {} ({:#x})", out.retval, out.retval),
        }
        println!(
            "duration: {} ns per run (the kernel's mean of {repeat})",
            out.duration_ns
        );
        if changed {
            println!(
                "data out ({} bytes): {}",
                out.data_out.len(),
                hex(&out.data_out)
            );
        } else {
            println!("data out: unchanged");
        }
        if ctx.is_some() {
            println!(
                "ctx out ({} bytes): {}",
                out.ctx_out.len(),
                hex(&out.ctx_out)
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// kernel probe

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn probe(args: ProbeArgs) -> Result<(), Failure> {
    let usable = ironbpf_kernel::probe();
    let btf = ironbpf_kernel::probe_btf();
    let release = read_trim("/proc/sys/kernel/osrelease");
    let jit = read_trim("/proc/sys/net/core/bpf_jit_enable");
    let unpriv = read_trim("/proc/sys/kernel/unprivileged_bpf_disabled");
    if args.json {
        println!(
            "{}",
            json!({
                "usable": usable.is_ok(),
                "reason": usable.as_ref().err().map(|e| e.reason.clone()),
                "kernel": release,
                "btf": btf.is_ok(),
                "btf_reason": btf.as_ref().err().map(|e| e.reason.clone()),
                "jit_enable": jit,
                "unprivileged_bpf_disabled": unpriv,
            })
        );
    } else {
        match &usable {
            Ok(()) => println!("kernel BPF: usable (map create, program load and test run work)"),
            Err(why) => println!("kernel BPF: not usable: {why}"),
        }
        println!("kernel: {}", release.as_deref().unwrap_or("?"));
        match &btf {
            Ok(()) => {
                println!("kernel BTF: /sys/kernel/btf/vmlinux (CO-RE and BTF-typed programs work)")
            }
            Err(why) => println!("kernel BTF: missing: {why}"),
        }
        println!(
            "JIT: net.core.bpf_jit_enable = {}",
            jit.as_deref().unwrap_or("? (unreadable)")
        );
        println!(
            "kernel.unprivileged_bpf_disabled = {}",
            unpriv.as_deref().unwrap_or("?")
        );
    }
    match usable {
        Ok(()) => Ok(()),
        Err(_) => Err(Failure::failed(String::new())),
    }
}

// ---------------------------------------------------------------------------
// kernel xlated / jited

fn dump(args: DumpArgs, jited: bool) -> Result<(), Failure> {
    let ins = inspect(&args.object, args.prog_type.as_deref())?;
    require_kernel()?;
    let p = pick(&ins, &args.object, args.prog.as_deref(), false)?[0];
    let kobj = kernel_object(&ins, &args.object)?;
    let prog = load_accepted(&kobj, p, &args.object)?;
    let kerr =
        |e: ironbpf_kernel::KernelError| Failure::failed(format!("program `{}`: {e}", p.name));
    if jited {
        let code = prog.jited().map_err(kerr)?;
        if args.json {
            println!(
                "{}",
                json!({"program": p.name, "type": p.prog_type_name, "jited_len": code.len(), "jited": hex(&code)})
            );
            return Ok(());
        }
        if code.is_empty() {
            return Err(Failure::failed(format!(
                "program `{}` has no JIT image: the kernel runs it in its interpreter (net.core.bpf_jit_enable = {})",
                p.name,
                read_trim("/proc/sys/net/core/bpf_jit_enable").unwrap_or_else(|| "?".into())
            )));
        }
        println!(
            "{}: {} bytes of machine code ({})",
            describe(p),
            code.len(),
            std::env::consts::ARCH
        );
        for (i, chunk) in code.chunks(16).enumerate() {
            let bytes: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            println!("{:6x}:  {}", i * 16, bytes.join(" "));
        }
        return Ok(());
    }
    let bytes = prog.xlated().map_err(kerr)?;
    let lines = xlated_lines(&bytes);
    if args.json {
        println!(
            "{}",
            json!({"program": p.name, "type": p.prog_type_name, "xlated_len": bytes.len(),
                   "insns": lines, "xlated": hex(&bytes)})
        );
    } else {
        println!(
            "{}: {} insns after the kernel's rewrites",
            describe(p),
            bytes.len() / 8
        );
        for l in lines {
            println!("{l}");
        }
    }
    Ok(())
}

/// Helper calls in an xlated image hold the helper's address relative to
/// `__bpf_call_base`; names them from /proc/kallsyms where it shows addresses.
struct Kallsyms {
    base: u64,
    by_addr: std::collections::HashMap<u64, String>,
}

impl Kallsyms {
    fn read() -> Option<Kallsyms> {
        let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
        let mut base = None;
        let mut by_addr = std::collections::HashMap::new();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(a), Some(kind), Some(name)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            if !matches!(kind, "t" | "T") {
                continue;
            }
            let Ok(addr) = u64::from_str_radix(a, 16) else {
                continue;
            };
            if addr == 0 {
                return None; // kptr_restrict hides the addresses
            }
            if name == "__bpf_call_base" {
                base = Some(addr);
            }
            by_addr.entry(addr).or_insert_with(|| name.to_string());
        }
        Some(Kallsyms {
            base: base?,
            by_addr,
        })
    }

    fn name(&self, imm: i32) -> Option<&str> {
        let addr = self.base.wrapping_add(imm as i64 as u64);
        self.by_addr.get(&addr).map(String::as_str)
    }
}

/// The xlated image in the kernel log's syntax, one instruction a line. An
/// instruction our decoder does not know (the kernel's internal forms) is
/// shown as its raw fields.
pub fn xlated_lines(bytes: &[u8]) -> Vec<String> {
    let slots: Vec<RawInsn> = bytes
        .chunks_exact(8)
        .map(|c| RawInsn::from_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let opts = DisasmOptions {
        map_ids: true,
        ..Default::default()
    };
    let mut syms: Option<Option<Kallsyms>> = None;
    let mut out = Vec::new();
    let mut pc = 0;
    while pc < slots.len() {
        let raw = slots[pc];
        match Insn::decode(&slots[pc..], pc) {
            Ok(insn) => {
                let line = match insn {
                    Insn::Call(CallTarget::Helper(imm))
                        if ironbpf_isa::disasm::helper_name(imm).is_none() =>
                    {
                        let k = syms.get_or_insert_with(Kallsyms::read);
                        match k.as_ref().and_then(|k| k.name(imm)) {
                            Some(name) => format!("{pc}: ({:02x}) call {name}#{imm}", raw.code),
                            None => format_log_line_with(pc, &insn, raw.code, &opts),
                        }
                    }
                    _ => format_log_line_with(pc, &insn, raw.code, &opts),
                };
                out.push(line);
                pc += insn.slots();
            }
            Err(_) => {
                out.push(format!(
                    "{pc}: ({:02x}) dst r{} src r{} off {} imm {:#x}  (a kernel-internal form)",
                    raw.code, raw.dst, raw.src, raw.off, raw.imm
                ));
                pc += 1;
            }
        }
    }
    out
}
