//! Explaining a rejection: from a [`Rejection`] (its
//! [`RejectionKind`](crate::RejectionKind) names the rule, the register and
//! the offsets) and the failing path replayed with
//! [`replay_path`](crate::replay_path), an [`Explanation`]: a stable error
//! code and category, the failing instruction with its source line, the
//! register or stack slot and the state that fails the condition in words,
//! the root-cause instruction traced back along the path, the branches of
//! the path that matter, and a concrete suggestion in the program's terms.
//!
//! Source lines come from the caller (the loader's BTF line info, one
//! entry per instruction slot), so the verifier does not depend on the
//! loader; without them every part of the account but the source lines is
//! still there. [`render`] prints it as plain text or in the layout kernels
//! from 7.3 on print after the log; [`dot`] draws the control-flow graph
//! with the failing path.

mod catalog;
pub mod dot;
mod explainer;
pub mod render;
mod trace;

pub use catalog::{describe_code, CodeInfo, CODES};
pub use explainer::explain_with_trace;

use crate::{Rejection, VerifyOptions};
use ironbpf_isa::RawInsn;
use ironbpf_progtype::desc::ProgTypeDesc;

/// One line of source, from BTF line info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// The source file's name.
    pub file: String,
    /// The line number (1-based).
    pub line: u32,
    /// The column (1-based; 0 when unknown).
    pub column: u32,
    /// The text of the line.
    pub text: String,
}

impl std::fmt::Display for SourceLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.text.trim())
    }
}

/// An instruction named in an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The instruction index (slot).
    pub insn: usize,
    /// Its text as the kernel's log prints it (`r1 = *(u32 *)(r0 +0)`).
    pub text: String,
    /// Its source line, when the caller passed line info.
    pub source: Option<SourceLine>,
}

impl Site {
    /// `line 42` when the source line is known, else `insn 7`.
    pub fn place(&self) -> String {
        match &self.source {
            Some(s) => format!("line {}", s.line),
            None => format!("insn {}", self.insn),
        }
    }
}

/// The instruction where the failing state arose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Where.
    pub site: Site,
    /// What it did, in words (`the lookup whose result is never checked
    /// for NULL`).
    pub what: String,
}

/// One conditional jump of the failing path, with the direction taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathBranch {
    /// The jump.
    pub site: Site,
    /// Whether the path took the jump (`true`) or fell through.
    pub taken: bool,
    /// The instruction the path went on at.
    pub next: usize,
    /// The condition that held on the path, in words (`r4 > r3`,
    /// `!(r0 == 0)`).
    pub condition: String,
    /// How many times in a row the path took this jump this way (a loop's
    /// iterations are listed once).
    pub repeats: u32,
}

/// The account of one rejection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The stable error code (`E-NULL-DEREF`), listed in docs/errors.md.
    pub code: &'static str,
    /// The category (`null-pointer`, `packet-bounds`...).
    pub category: &'static str,
    /// A one-line title (`possible NULL dereference`).
    pub title: String,
    /// The kernel's error line.
    pub message: String,
    /// The failing instruction (`None` for whole-program errors).
    pub at: Option<Site>,
    /// The register or stack slot at fault (`r0`, `fp-8`).
    pub subject: Option<String>,
    /// The state that fails the condition, in words.
    pub reason: String,
    /// The subject register's state at the failing instruction as the
    /// kernel's log prints it (`R0=map_value_or_null(id=1,...)`), when the
    /// subject is a register and the path was replayed.
    pub state: Option<String>,
    /// The root cause, traced back along the path.
    pub root_cause: Option<Cause>,
    /// The path's conditional jumps that could have gone either way, in
    /// order, with the direction taken (at most the last 8).
    pub path: Vec<PathBranch>,
    /// The failing path's instructions just before the failing one (up to
    /// 5), for context.
    pub context: Vec<Site>,
    /// What change would satisfy the verifier.
    pub suggestion: String,
    /// The failing path, every instruction (as [`Rejection::path`]).
    pub full_path: Vec<u32>,
}

/// Explains `rej` (refused for `insns` with `opts` and `desc`): replays its
/// path and traces the root cause. `lines` has the source line of each
/// instruction slot (empty when the program has no line info).
pub fn explain(
    insns: &[RawInsn],
    opts: &VerifyOptions,
    desc: Option<&ProgTypeDesc>,
    rej: &Rejection,
    lines: &[Option<SourceLine>],
) -> Explanation {
    // A path past the complexity limit is long: the last steps suffice.
    const KEEP: usize = 20_000;
    let steps = if rej.path.is_empty() {
        Vec::new()
    } else {
        crate::replay_path(insns, opts, desc, &rej.path, KEEP).unwrap_or_default()
    };
    explain_with_trace(insns, &opts.maps, rej, &steps, lines)
}

/// Per-slot source lines from sparse line-info records (`(insn, line)`
/// pairs in any order): each slot gets the record at or before it.
pub fn lines_per_insn(n: usize, records: &[(usize, SourceLine)]) -> Vec<Option<SourceLine>> {
    let mut recs: Vec<&(usize, SourceLine)> = records.iter().collect();
    recs.sort_by_key(|r| r.0);
    let mut out = vec![None; n];
    let mut it = recs.iter().peekable();
    let mut cur: Option<SourceLine> = None;
    for (i, slot) in out.iter_mut().enumerate() {
        while let Some(r) = it.peek() {
            if r.0 <= i {
                cur = Some(r.1.clone());
                it.next();
            } else {
                break;
            }
        }
        *slot = cur.clone();
    }
    out
}
