//! `ironbpf test`: bpf_conformance-format files on an engine.

use crate::{style, Failure};
use clap::{Args, ValueEnum};
use ironbpf_conformance::data::parse_data_file;
use ironbpf_conformance::kernel::KernelEngine;
use ironbpf_conformance::runner::EngineOutcome;
use ironbpf_conformance::runner::{
    collect_files, run_file, ErrorText, FileReport, InterpEngine, JitEngine, Summary, TestEngine,
    Verdict,
};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// The checked interpreter
    Interp,
    /// The x86-64 JIT (its mode from --mode)
    Jit,
    /// The running kernel (BPF_PROG_LOAD and BPF_PROG_TEST_RUN); programs its verifier refuses are skipped with its reason
    Kernel,
}

/// The JIT's mode.
#[derive(Clone, Copy, ValueEnum, Default)]
pub enum JitModeArg {
    /// Every memory access checked and the instruction budget charged, with the interpreter's errors
    #[default]
    Checked,
    /// No checks (only a program the checked interpreter ran cleanly on the same input is run so)
    Trusted,
    /// ironbpf's verifier first (a program it refuses is reported so, not run), then no checks, shaped by its proof
    Verified,
}

impl JitModeArg {
    pub fn mode(self) -> ironbpf_vm::JitMode {
        match self {
            JitModeArg::Checked => ironbpf_vm::JitMode::Checked,
            JitModeArg::Trusted => ironbpf_vm::JitMode::Trusted,
            JitModeArg::Verified => ironbpf_vm::JitMode::Verified,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ErrorTextArg {
    /// The error must contain the file's `-- error` text (or match its `-- error pattern`)
    Exact,
    /// Any clean refusal or run-time error passes (for suites written against another runtime's wording)
    Any,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf test ../shared/conformance/bpf_conformance/*.data\n  ironbpf test --error-text any ../shared/conformance/ubpf/errors"
)]
pub struct TestArgs {
    /// Test files or folders of *.data files
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The engine to run the programs on
    #[arg(long, value_enum, default_value = "interp")]
    engine: EngineArg,
    /// The JIT's mode, with --engine jit
    #[arg(long, value_enum, default_value = "checked")]
    mode: JitModeArg,
    /// With --engine jit: constant blinding, as the kernel's bpf_jit_harden (no immediate of the program in the code)
    #[arg(long)]
    harden: bool,
    /// How `-- error` expectations are matched
    #[arg(long, value_enum, default_value = "exact")]
    error_text: ErrorTextArg,
    /// Print every file's verdict, not only failures and skips
    #[arg(long, short)]
    verbose: bool,
    /// One JSON record per file, then the summary
    #[arg(long)]
    json: bool,
    /// Run each file on both the interpreter and the kernel and report every disagreement
    #[arg(long, conflicts_with = "engine")]
    compare: bool,
}

pub fn run(args: TestArgs) -> Result<(), Failure> {
    if let Some(p) = args.paths.iter().find(|p| !p.exists()) {
        return Err(Failure::usage(format!(
            "{}: No such file or directory",
            p.display()
        )));
    }
    let files = collect_files(&args.paths).map_err(Failure::usage)?;
    if files.is_empty() {
        // Folders are read one level deep (the suites keep their negative
        // and error cases in subfolders that need other options): point
        // at the subfolders that hold files.
        let mut subs: Vec<String> = args
            .paths
            .iter()
            .filter(|p| p.is_dir())
            .flat_map(|p| std::fs::read_dir(p).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|d| {
                d.is_dir() && collect_files(std::slice::from_ref(d)).is_ok_and(|f| !f.is_empty())
            })
            .map(|d| d.display().to_string())
            .collect();
        subs.sort();
        return Err(Failure::usage(if subs.is_empty() {
            "no *.data files found in the given paths".to_string()
        } else {
            format!(
                "no *.data files found in the given paths (folders are not searched below their own files); these subfolders hold some: {}",
                subs.join(", ")
            )
        }));
    }
    let engine: Box<dyn TestEngine> = match args.engine {
        EngineArg::Interp => Box::new(InterpEngine::default()),
        EngineArg::Jit if matches!(args.mode, JitModeArg::Verified) => {
            Box::new(VerifiedJitEngine::new(args.harden))
        }
        EngineArg::Jit => Box::new(JitEngine::new(args.mode.mode()).hardened(args.harden)),
        _ if args.harden => {
            return Err(Failure::usage(
                "--harden blinds the JIT's constants: add --engine jit",
            ))
        }
        EngineArg::Kernel => Box::new(KernelEngine::new().map_err(Failure::usage)?),
    };
    if args.compare {
        return compare(&files, &args);
    }
    let mode = match args.error_text {
        ErrorTextArg::Exact => ErrorText::Exact,
        ErrorTextArg::Any => ErrorText::Any,
    };
    let mut reports: Vec<FileReport> = Vec::with_capacity(files.len());
    for f in &files {
        let r = run_file(f, engine.as_ref(), mode);
        if args.json {
            let (verdict, detail) = match &r.verdict {
                Verdict::Pass => ("pass", String::new()),
                Verdict::Fail(d) => ("fail", d.clone()),
                Verdict::Skip(d) => ("skip", d.clone()),
            };
            println!(
                "{}",
                serde_json::json!({"file": r.path.display().to_string(), "engine": engine.name(), "verdict": verdict, "detail": detail})
            );
        } else {
            match &r.verdict {
                Verdict::Pass if args.verbose => println!("ok   {}", r.path.display()),
                Verdict::Pass => {}
                Verdict::Fail(d) => println!("{} {}: {d}", style::fail(), r.path.display()),
                Verdict::Skip(d) => println!("{} {}: {d}", style::skip(), r.path.display()),
            }
        }
        reports.push(r);
    }
    let summary = Summary::of(&reports);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"passed": summary.passed, "failed": summary.failed, "skipped": summary.skipped})
        );
    }
    // With --json, stdout holds only JSON lines: the summary goes to stderr.
    if args.json {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    if summary.failed > 0 {
        Err(Failure::failed(String::new()))
    } else {
        Ok(())
    }
}

/// `--compare`: the interpreter and the kernel on each file's program and
/// memory. Where both run, r0 must be equal; where the kernel refuses, the
/// file is counted with the kernel's reason.
fn compare(files: &[PathBuf], args: &TestArgs) -> Result<(), Failure> {
    let interp = InterpEngine::default();
    let kernel = KernelEngine::new().map_err(Failure::usage)?;
    let (mut agreed, mut disagreed, mut refused, mut unrunnable) = (0usize, 0usize, 0usize, 0usize);
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| crate::cmd_prog::unreadable(f, &e))?;
        let df = match parse_data_file(&text) {
            Ok(df) => df,
            Err(e) => {
                let line = format!(
                    "{} {}: cannot parse the file: {e}",
                    style::fail(),
                    f.display()
                );
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"file": f.display().to_string(), "verdict": "unparsable", "interp": e.to_string(), "kernel": e.to_string()})
                    );
                } else {
                    println!("{line}");
                }
                disagreed += 1;
                continue;
            }
        };
        let slots = match df.program() {
            Ok(Some(s)) => s,
            _ => {
                unrunnable += 1;
                continue;
            }
        };
        let mem = df.mem.clone().unwrap_or_default();
        let ours = interp.run(&slots, &mem);
        let theirs = kernel.run(&slots, &mem);
        let verdict = match (&ours, &theirs) {
            (_, EngineOutcome::Skipped(why)) => {
                refused += 1;
                if args.verbose && !args.json {
                    println!("{} {}: {why}", style::skip(), f.display());
                }
                "refused"
            }
            (EngineOutcome::Returned(a), EngineOutcome::Returned(b)) if a == b => {
                agreed += 1;
                "agree"
            }
            _ => {
                disagreed += 1;
                if !args.json {
                    println!(
                        "{} {}: interp: {}; kernel: {}",
                        style::fail(),
                        f.display(),
                        show(&ours),
                        show(&theirs)
                    );
                }
                "disagree"
            }
        };
        if args.json {
            println!(
                "{}",
                serde_json::json!({"file": f.display().to_string(), "verdict": verdict, "interp": show(&ours), "kernel": show(&theirs)})
            );
        }
    }
    let mut summary = Vec::new();
    if unrunnable > 0 {
        summary.push(format!("{unrunnable} files have no program to run (assembler tests, or programs that do not assemble)"));
    }
    summary.push(format!(
        "{agreed} agreed, {disagreed} disagreed, {refused} refused by the kernel"
    ));
    if args.json {
        println!(
            "{}",
            serde_json::json!({"agreed": agreed, "disagreed": disagreed, "refused": refused, "unrunnable": unrunnable})
        );
    }
    for line in summary {
        // With --json, stdout holds only JSON lines.
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    if disagreed > 0 {
        Err(Failure::failed(String::new()))
    } else {
        Ok(())
    }
}

fn show(o: &EngineOutcome) -> String {
    match o {
        EngineOutcome::Returned(r0) => format!("r0 = {r0:#x}"),
        EngineOutcome::Refused(w) => format!("refused: {w}"),
        EngineOutcome::Failed(w) => format!("failed: {w}"),
        EngineOutcome::Skipped(w) => w.clone(),
    }
}

/// The verified JIT on bpf_conformance programs. A test's program expects
/// r1 = its memory and r2 = the length, which no program type gives: it is
/// wrapped as the kernel engine wraps it (`ironbpf_kernel::conformance::wrap`:
/// r1 = the value of a one-entry array map holding the memory, r2 = its
/// length, r0 stored in a second map at every exit), as XDP, and verified
/// by ironbpf's verifier with those two maps. A program the verifier
/// refuses is skipped with its reason, as the kernel engine skips what the
/// kernel refuses; one it accepts is compiled from the proof and run on an
/// empty packet with the memory in the first map's value.
struct VerifiedJitEngine {
    helpers: ironbpf_vm::HelperRegistry,
    harden: bool,
}

impl VerifiedJitEngine {
    fn new(harden: bool) -> VerifiedJitEngine {
        VerifiedJitEngine {
            helpers: ironbpf_conformance::ubpf_helpers::ubpf_test_helpers(),
            harden,
        }
    }
}

/// The two maps' values of a wrapped conformance program, at fixed
/// addresses for the whole run: map 0 the memory, map 1 the result.
struct ConfMaps {
    memory: (u64, u64),
    result: (u64, u64),
}

impl ConfMaps {
    fn value(&self, idx: i32) -> Option<(u64, u64)> {
        match idx {
            0 => Some(self.memory),
            1 => Some(self.result),
            _ => None,
        }
    }
}

impl ironbpf_vm::LdImm64Resolver for ConfMaps {
    fn resolve(
        &self,
        pc: usize,
        src: ironbpf_isa::LdImm64Src,
        imm: i32,
        next_imm: i32,
    ) -> Result<u64, ironbpf_vm::VmError> {
        match (src, self.value(imm)) {
            (ironbpf_isa::LdImm64Src::MapIdxValue, Some((start, len)))
                if (next_imm as u32 as u64) < len =>
            {
                Ok(start + next_imm as u32 as u64)
            }
            _ => Err(ironbpf_vm::VmError::Setup(format!(
                "instruction {pc}: a conformance program may name only the values of its memory (map 0) and result (map 1) maps; it names {src:?} {imm}"
            ))),
        }
    }
}

impl ironbpf_isa::abi::RegionResolver for ConfMaps {
    fn resolve(&self, addr: u64, len: u64) -> Option<ironbpf_isa::abi::MemoryRegion> {
        [self.memory, self.result]
            .into_iter()
            .find(|&(start, n)| {
                addr >= start && addr.checked_add(len).is_some_and(|e| e <= start + n)
            })
            .map(|(start, n)| ironbpf_isa::abi::MemoryRegion {
                start,
                len: n,
                kind: ironbpf_isa::abi::RegionKind::MapValue,
                writable: true,
            })
    }
}

impl TestEngine for VerifiedJitEngine {
    fn name(&self) -> &str {
        "jit-verified"
    }

    fn run(&self, slots: &[ironbpf_isa::RawInsn], mem: &[u8]) -> EngineOutcome {
        if slots.iter().any(|i| i.code == 0x18 && i.src != 0) {
            return EngineOutcome::Skipped(
                "the program names maps of its own; a conformance test has only its memory".into(),
            );
        }
        // The kernel's layout: the memory in a value rounded up to 8 bytes.
        let value_size = mem.len().max(1).next_multiple_of(8);
        let mut memory = vec![0u64; value_size / 8];
        let mut result = [0u64; 1];
        // SAFETY: `memory` holds `value_size` >= mem.len() bytes, and u64s
        // have no invalid byte patterns.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(memory.as_mut_ptr().cast::<u8>(), value_size) };
        bytes[..mem.len()].copy_from_slice(mem);
        let maps = ConfMaps {
            memory: (memory.as_mut_ptr() as u64, value_size as u64),
            result: (result.as_mut_ptr() as u64, 8),
        };
        // Wrapped with map 0 and map 1 as the "fds" of BPF_PSEUDO_MAP_VALUE
        // (2), which then become indices (BPF_PSEUDO_MAP_IDX_VALUE, 6): the
        // program itself has no ld_imm64 with a pseudo source (above).
        let with_memory = (!mem.is_empty()).then_some((0, mem.len() as u32));
        let wrapped = match ironbpf_kernel::conformance::wrap(slots, with_memory, 1) {
            Ok(w) => w,
            Err(e) => return EngineOutcome::Refused(format!("cannot wrap the program: {e}")),
        };
        let wrapped: Vec<ironbpf_isa::RawInsn> = wrapped
            .into_iter()
            .map(|i| {
                if i.code == 0x18 && i.src == 2 {
                    ironbpf_isa::RawInsn { src: 6, ..i }
                } else {
                    i
                }
            })
            .collect();
        let mut o = ironbpf_verifier::VerifyOptions::new(ironbpf_progtype::ProgTypeId::Xdp);
        o.log_level = 0;
        let map = |name: &str, value_size: usize| ironbpf_verifier::MapInfo {
            name: name.into(),
            map_type: ironbpf_maps::BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: value_size as u32,
            max_entries: 1,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        };
        o.maps = vec![map("conf_mem", value_size), map("conf_result", 8)];
        let proof = match ironbpf_verifier::verify(&wrapped, &o).result {
            Ok(p) => p,
            Err(rej) => {
                return EngineOutcome::Skipped(format!("ironbpf's verifier refuses it: {rej}"))
            }
        };
        let prog = match ironbpf_isa::Program::from_slots(wrapped) {
            Ok(p) => p,
            Err(e) => return EngineOutcome::Refused(format!("invalid program: {e}")),
        };
        let vm = match ironbpf_vm::Interpreter::with_resolver(
            &prog,
            &self.helpers,
            ironbpf_vm::Options::default(),
            Some(&maps),
        ) {
            Ok(vm) => vm,
            Err(e) => return EngineOutcome::Refused(e.to_string()),
        };
        let opts = ironbpf_vm::JitOptions {
            harden: self.harden,
            blinding_seed: None,
        };
        let jit = match ironbpf_vm::JitProgram::verified_with(vm, &proof, opts) {
            Ok(j) => j,
            Err(e) => return EngineOutcome::Refused(e.to_string()),
        };
        let xdp = &ironbpf_vm::progtype::XDP;
        let mut ctx = vec![0u8; xdp.ctx_size as usize];
        // An empty Ethernet header, as the kernel engine runs it.
        let mut packet = [0u8; 14];
        let r = ironbpf_vm::engine::run_ctx_into(
            &jit,
            xdp,
            None,
            &mut ctx,
            Some(&mut packet),
            Some(&maps),
            None,
        );
        match r {
            // The epilogue stored the whole r0 in the result map.
            Ok(_) => EngineOutcome::Returned(result[0]),
            Err(e) => EngineOutcome::Failed(e.to_string()),
        }
    }
}
