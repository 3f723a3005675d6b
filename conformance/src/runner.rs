//! Runs bpf_conformance-format test files on an engine and judges the
//! outcome against what each file expects.

use crate::data::{parse_data_file, DataFile};
use crate::ubpf_helpers::ubpf_test_helpers;
use ironbpf_isa::{Program, RawInsn};
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitMode, JitProgram, Options};
use std::fmt;
use std::path::{Path, PathBuf};

/// What an engine did with a test program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineOutcome {
    /// The program ran and returned r0.
    Returned(u64),
    /// The program was refused before it ran.
    Refused(String),
    /// The program started and was stopped with an error.
    Failed(String),
    /// The engine could not judge the program (the kernel refused a program
    /// its verifier cannot prove safe, no kernel, ...): not a failure.
    Skipped(String),
}

/// An engine that runs bpf_conformance programs: r1 = input memory, r2 =
/// its length, the result is r0.
pub trait TestEngine {
    /// The engine's name, for reports.
    fn name(&self) -> &str;
    /// Runs `slots` on a copy of `mem`.
    fn run(&self, slots: &[RawInsn], mem: &[u8]) -> EngineOutcome;
}

/// The checked interpreter, with uBPF's test helpers registered.
pub struct InterpEngine {
    helpers: HelperRegistry,
    options: Options,
}

impl Default for InterpEngine {
    fn default() -> Self {
        InterpEngine {
            helpers: ubpf_test_helpers(),
            options: Options {
                // bpf_conformance passes r1 (memory) and r2 (its length).
                entry_regs: 0b110,
                ..Options::default()
            },
        }
    }
}

impl TestEngine for InterpEngine {
    fn name(&self) -> &str {
        "interp"
    }

    fn run(&self, slots: &[RawInsn], mem: &[u8]) -> EngineOutcome {
        let prog = match Program::from_slots(slots.to_vec()) {
            Ok(p) => p,
            Err(e) => return EngineOutcome::Refused(format!("invalid program: {e}")),
        };
        let vm = match Interpreter::new(&prog, &self.helpers, self.options) {
            Ok(vm) => vm,
            Err(e) => return EngineOutcome::Refused(e.to_string()),
        };
        // An 8-byte aligned copy, so that atomics on it may be aligned.
        let mut backing = vec![0u8; mem.len() + 8];
        let start = backing.as_ptr().align_offset(8).min(8);
        let bytes = &mut backing[start..start + mem.len()];
        bytes.copy_from_slice(mem);
        match vm.run_with_memory(bytes) {
            Ok(r0) => EngineOutcome::Returned(r0),
            Err(e) => EngineOutcome::Failed(e.to_string()),
        }
    }
}

/// The JIT, with uBPF's test helpers registered, in checked or trusted
/// mode.
///
/// Trusted code checks nothing, and no verifier vouches for these programs
/// yet: in trusted mode each program first runs on the checked interpreter
/// on a copy of the same memory, and only a program that ran cleanly there
/// is run trusted (one that failed is reported with the interpreter's
/// error, as a verifier would refuse it).
pub struct JitEngine {
    helpers: HelperRegistry,
    options: Options,
    mode: JitMode,
    harden: bool,
}

impl JitEngine {
    /// The JIT in `mode`.
    pub fn new(mode: JitMode) -> JitEngine {
        let interp = InterpEngine::default();
        JitEngine {
            helpers: interp.helpers,
            options: interp.options,
            mode,
            harden: false,
        }
    }

    /// The same engine, its constants blinded when `on`
    /// (`JitOptions::harden`).
    pub fn hardened(self, on: bool) -> JitEngine {
        JitEngine { harden: on, ..self }
    }
}

/// An 8-byte aligned copy of `mem`, so that atomics on it may be aligned.
fn aligned_copy(mem: &[u8]) -> (Vec<u8>, usize) {
    let mut backing = vec![0u8; mem.len() + 8];
    let start = backing.as_ptr().align_offset(8).min(8);
    backing[start..start + mem.len()].copy_from_slice(mem);
    (backing, start)
}

impl TestEngine for JitEngine {
    fn name(&self) -> &str {
        match self.mode {
            JitMode::Checked => "jit-checked",
            JitMode::Trusted => "jit",
            JitMode::Verified => "jit-verified",
        }
    }

    fn run(&self, slots: &[RawInsn], mem: &[u8]) -> EngineOutcome {
        let prog = match Program::from_slots(slots.to_vec()) {
            Ok(p) => p,
            Err(e) => return EngineOutcome::Refused(format!("invalid program: {e}")),
        };
        let vm = match Interpreter::new(&prog, &self.helpers, self.options) {
            Ok(vm) => vm,
            Err(e) => return EngineOutcome::Refused(e.to_string()),
        };
        let opts = ironbpf_vm::JitOptions {
            harden: self.harden,
            blinding_seed: None,
        };
        let jit = match self.mode {
            JitMode::Checked => JitProgram::checked_with(vm, opts),
            JitMode::Verified => {
                return EngineOutcome::Refused(
                    "the verified JIT needs the verifier's proof of a program of a known type; these tests run on raw memory (use checked or trusted)".into(),
                )
            }
            JitMode::Trusted => {
                let (mut backing, start) = aligned_copy(mem);
                if let Err(e) = vm.run_with_memory(&mut backing[start..start + mem.len()]) {
                    return EngineOutcome::Failed(e.to_string());
                }
                // SAFETY: the program just ran to its end on the checked
                // interpreter on the same input, touching only its memory
                // and stack; runs are deterministic on it.
                unsafe { JitProgram::trusted_with(vm, opts) }
            }
        };
        let jit = match jit {
            Ok(j) => j,
            Err(e) => return EngineOutcome::Refused(e.to_string()),
        };
        let (mut backing, start) = aligned_copy(mem);
        match jit.run_with_memory(&mut backing[start..start + mem.len()]) {
            Ok(r0) => EngineOutcome::Returned(r0),
            Err(e) => EngineOutcome::Failed(e.to_string()),
        }
    }
}

/// How `-- error` expectations are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ErrorText {
    /// The engine's message must contain the expected text (ignoring case),
    /// or match the `-- error pattern` regex.
    #[default]
    Exact,
    /// Any clean refusal or run-time error passes: for suites written
    /// against another runtime's wording, such as uBPF's.
    Any,
}

/// The verdict on one test file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Failed, with what was expected and what happened.
    Fail(String),
    /// Not judged, with the reason.
    Skip(String),
}

/// One file's verdict.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub verdict: Verdict,
}

/// Totals of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    /// Adds up reports.
    pub fn of(reports: &[FileReport]) -> Summary {
        let mut s = Summary::default();
        for r in reports {
            match r.verdict {
                Verdict::Pass => s.passed += 1,
                Verdict::Fail(_) => s.failed += 1,
                Verdict::Skip(_) => s.skipped += 1,
            }
        }
        s
    }
}

impl fmt::Display for Summary {
    /// `N passed, M failed` and `, K skipped` where anything was skipped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// The `.data` files named by `paths`: files as given, folders by their
/// `*.data` files (not recursing), each folder's files sorted.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "data") && f.is_file())
                .collect();
            v.sort();
            out.extend(v);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    Ok(out)
}

/// Runs one file.
pub fn run_file(path: &Path, engine: &dyn TestEngine, mode: ErrorText) -> FileReport {
    let verdict = match std::fs::read_to_string(path) {
        Err(e) => Verdict::Fail(format!("cannot read the file: {e}")),
        Ok(text) => match parse_data_file(&text) {
            Err(e) => Verdict::Fail(format!("cannot parse the file: {e}")),
            Ok(df) => judge(&df, engine, mode),
        },
    };
    FileReport {
        path: path.to_path_buf(),
        verdict,
    }
}

/// Judges a parsed test file on `engine`.
pub fn judge(df: &DataFile, engine: &dyn TestEngine, mode: ErrorText) -> Verdict {
    let expects_error = df.error.is_some() || df.error_pattern.is_some();
    // An assembler test: asm and raw, nothing to run.
    if let (Some(asm), Some(raw), None, false) = (&df.asm, &df.raw, df.result, expects_error) {
        return match crate::conf_asm::assemble(asm) {
            Err(e) => Verdict::Fail(format!("the asm does not assemble: {e}")),
            Ok(got) if &got == raw => Verdict::Pass,
            Ok(got) => Verdict::Fail(assembler_mismatch(raw, &got)),
        };
    }
    let slots = match df.program() {
        Err(e) => {
            return expect_error(df, mode, &format!("assembler error: {e}"), None);
        }
        Ok(None) => {
            return Verdict::Skip("the file has no -- asm or -- raw section: nothing to run".into())
        }
        Ok(Some(s)) => s,
    };
    let mem = df.mem.clone().unwrap_or_default();
    match engine.run(&slots, &mem) {
        EngineOutcome::Skipped(why) => Verdict::Skip(why),
        EngineOutcome::Refused(msg) | EngineOutcome::Failed(msg) if expects_error => {
            expect_error(df, mode, &msg, Some(()))
        }
        EngineOutcome::Refused(msg) => Verdict::Fail(format!("refused at load: {msg}")),
        EngineOutcome::Failed(msg) => Verdict::Fail(format!("stopped with an error: {msg}")),
        EngineOutcome::Returned(r0) => match (df.result, expects_error) {
            (_, true) => Verdict::Fail(format!(
                "expected the error {:?}, but the program ran and returned {r0:#x}",
                df.error
                    .as_deref()
                    .or(df.error_pattern.as_deref())
                    .unwrap_or_default()
            )),
            (Some(want), false) if want == r0 => Verdict::Pass,
            (Some(want), false) => {
                Verdict::Fail(format!("expected r0 = {want:#x}, got r0 = {r0:#x}"))
            }
            (None, false) => Verdict::Skip(format!(
                "the file gives no -- result to compare with (r0 = {r0:#x})"
            )),
        },
    }
}

fn expect_error(df: &DataFile, mode: ErrorText, msg: &str, _ran: Option<()>) -> Verdict {
    if df.error.is_none() && df.error_pattern.is_none() {
        return Verdict::Fail(msg.to_string());
    }
    if mode == ErrorText::Any {
        return Verdict::Pass;
    }
    if let Some(want) = &df.error {
        if msg.to_lowercase().contains(&want.trim().to_lowercase()) {
            return Verdict::Pass;
        }
        return Verdict::Fail(format!("expected the error {:?}, got: {msg}", want.trim()));
    }
    let pat = df.error_pattern.as_deref().unwrap_or_default().trim();
    match regex::Regex::new(pat) {
        Ok(re) if re.is_match(msg) => Verdict::Pass,
        Ok(_) => Verdict::Fail(format!(
            "expected an error matching /{pat}/, got: {msg} (use --error-text any for suites written against another runtime's wording)"
        )),
        Err(e) => Verdict::Fail(format!("the -- error pattern /{pat}/ is not a valid regex: {e}")),
    }
}

fn assembler_mismatch(want: &[RawInsn], got: &[RawInsn]) -> String {
    if want.len() != got.len() {
        return format!(
            "the asm assembles to {} instructions, the raw section has {}",
            got.len(),
            want.len()
        );
    }
    let i = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
    format!(
        "instruction {i}: the asm assembles to {:#018x}, the raw section says {:#018x}",
        got[i].to_u64(),
        want[i].to_u64()
    )
}
