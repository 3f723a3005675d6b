//! The embedding API's one error type.

use crate::VmError;
use std::fmt;
use thiserror::Error;

/// A source line of the program, from the ELF object's line info (BTF
/// `.BTF.ext`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// The source file.
    pub file: String,
    /// The line number (1-based).
    pub line: u32,
    /// The text of the line, as the compiler recorded it.
    pub text: String,
}

impl fmt::Display for SourceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: `{}`", self.file, self.line, self.text.trim())
    }
}

fn at(insn: &Option<usize>, line: &Option<SourceLine>) -> String {
    match (insn, line) {
        (Some(i), Some(l)) => format!("insn {i} ({l}): "),
        (Some(i), None) => format!("insn {i}: "),
        (None, Some(l)) => format!("{l}: "),
        (None, None) => String::new(),
    }
}

/// Why a program could not be loaded, linked, verified or run.
#[derive(Clone, Debug, Error)]
pub enum Error {
    /// The program's bytes, ELF object or assembly could not be read.
    #[error("cannot load the program: {0}")]
    Load(String),
    /// A helper or map definition the linker refuses (an id already taken,
    /// a map whose shape differs from the program's), or a program that
    /// names a map or helper the linker does not have.
    #[error("cannot link the program: {0}")]
    Link(String),
    /// The verifier refused the program.
    #[error("{}the verifier refused the program: {message}", at(insn, line))]
    Rejected {
        /// The instruction at fault, when the refusal names one.
        insn: Option<usize>,
        /// Its source line, when the object has line info.
        line: Option<SourceLine>,
        /// The verifier's error line (the kernel's wording).
        message: String,
        /// The verifier's log of the failing path (the kernel's format).
        log: String,
    },
    /// The run stopped with an error (a fault, the budget, a host helper
    /// that failed or panicked). The host and every other instance go on.
    #[error("{error}{}", line.as_ref().map_or(String::new(), |l| format!(" (at {l})")))]
    Run {
        /// The instruction that stopped the run, when known.
        insn: Option<usize>,
        /// Its source line, when the object has line info.
        line: Option<SourceLine>,
        /// The engine's error (it names the instruction too).
        error: Box<VmError>,
    },
}

impl Error {
    /// The instruction index the error is about, if any.
    pub fn insn(&self) -> Option<usize> {
        match self {
            Error::Rejected { insn, .. } | Error::Run { insn, .. } => *insn,
            _ => None,
        }
    }

    /// The engine's error, for a run that stopped ([`Error::Run`]).
    pub fn vm_error(&self) -> Option<&VmError> {
        match self {
            Error::Run { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The source line the error is about, if the object has line info.
    pub fn line(&self) -> Option<&SourceLine> {
        match self {
            Error::Rejected { line, .. } | Error::Run { line, .. } => line.as_ref(),
            _ => None,
        }
    }
}

/// The instruction a [`VmError`] names.
pub(crate) fn pc_of(e: &VmError) -> Option<usize> {
    use VmError::*;
    match e {
        UnknownHelper { pc, .. }
        | HelperNotAllowed { pc, .. }
        | Unsupported { pc, .. }
        | MemoryFault { pc, .. }
        | CtxAccess { pc, .. }
        | MisalignedAtomic { pc, .. }
        | BudgetExhausted { pc, .. }
        | CallDepth { pc, .. }
        | HelperFailed { pc, .. }
        | BadCallx { pc, .. } => Some(*pc),
        Invalid(_) | Setup(_) | SpinLockHeldAtExit { .. } => None,
    }
}
