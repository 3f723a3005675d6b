//! The explanations of the verifier's rejections against what the
//! generator broke (`ironbpf diff --verifier --explain`): for each
//! rule-breaking program of [`crate::vgen`] that ironbpf's verifier
//! refuses, the explanation must name the rule's category, the failing
//! instruction, and the instruction the generator recorded as the cause
//! (or the failing one, for rules whose violation is the instruction
//! itself).

use crate::vgen::{generate, Broken, Rule, VProgram};
use ironbpf_progtype::desc::ProgTypeDesc;
use ironbpf_verifier::explain::{explain, Explanation};
use std::collections::BTreeMap;
use std::fmt;

/// The category each rule's explanation must have.
pub fn expected_category(rule: Rule) -> &'static str {
    use Rule::*;
    match rule {
        UncheckedMapValue | NullPointerArith => "null-pointer",
        PacketOffByOne => "packet-bounds",
        UninitStackRead | UninitRegRead | UninitReturn | UninitHelperKey => "uninitialized",
        LeakIntoMap | LeakAsReturn | PointerCompare => "pointer-leak",
        PointerMul => "pointer-arithmetic",
        HelperArgType | HelperShortKey | HelperBadSize => "helper-argument",
        HelperNotAllowed | HelperUnknown => "helper-availability",
        InfiniteLoop | BackEdge => "loop",
        CtxOutOfRange | CtxReadOnlyWrite | CtxStoreImm => "context-access",
        MisalignedStack | MisalignedStrict => "alignment",
        MapValueOutOfBounds | MapValueVarOffset | MapValueIndexOffByOne => "map-value-bounds",
        StackVarOffset
        | StackOutOfBounds
        | PartialPointerFill
        | CombinedStackTooLarge
        | FramePointerWrite => "stack",
        ScalarDeref => "invalid-dereference",
        BadReturnValue => "return-value",
        JumpOutOfRange | JumpIntoLdImm64 | UnreachableCode | FallOffEnd => "program-structure",
        DivByZeroImm | ReservedFields | UnknownOpcode => "invalid-instruction",
        CallUnpriv => "privilege",
        ReadOnlyMapWrite => "map-access",
    }
}

/// The root-cause instruction the explanation must name: the one the
/// generator recorded as the cause, else the failing instruction (the
/// violation is the instruction itself: a constant offset, a store of a
/// pointer, a misaligned access).
pub fn expected_root(b: &Broken) -> usize {
    b.cause.unwrap_or(b.insn)
}

/// One program's check.
#[derive(Clone, Debug)]
pub struct ExplainCase {
    /// The program.
    pub seed: u64,
    /// Its rule.
    pub rule: Rule,
    /// The category is the rule's.
    pub category_right: bool,
    /// The root cause is the generator's.
    pub root_right: bool,
    /// The failing instruction is the verifier's (and the generator's, when
    /// the two agree).
    pub insn_right: bool,
    /// The explanation.
    pub explanation: Explanation,
    /// What the generator expected (category, root).
    pub expected: (&'static str, usize),
}

/// Counts per rule: rejected programs, category right, root right.
#[derive(Clone, Debug, Default)]
pub struct RuleTally {
    /// Programs of the rule ironbpf refused.
    pub rejected: u64,
    /// Explanations with the rule's category.
    pub category_right: u64,
    /// Explanations naming the expected root cause.
    pub root_right: u64,
}

/// The whole run.
#[derive(Clone, Debug, Default)]
pub struct ExplainSummary {
    /// Programs generated.
    pub programs: u64,
    /// Of them, rule-breaking.
    pub broken: u64,
    /// Rule-breaking programs ironbpf's verifier refused (the ones checked).
    pub rejected: u64,
    /// Explanations with the rule's category.
    pub category_right: u64,
    /// Explanations naming the expected root cause.
    pub root_right: u64,
    /// Explanations naming the failing instruction the rejection has.
    pub insn_right: u64,
    /// Per rule.
    pub per_rule: BTreeMap<Rule, RuleTally>,
    /// The first misses (category or root cause wrong), up to the limit.
    pub misses: Vec<ExplainCase>,
}

impl ExplainSummary {
    fn pct(n: u64, of: u64) -> f64 {
        if of == 0 {
            0.0
        } else {
            100.0 * n as f64 / of as f64
        }
    }
    /// Category right, in percent of the rejected programs.
    pub fn category_pct(&self) -> f64 {
        Self::pct(self.category_right, self.rejected)
    }
    /// Root cause right, in percent.
    pub fn root_pct(&self) -> f64 {
        Self::pct(self.root_right, self.rejected)
    }
}

impl fmt::Display for ExplainSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} programs, {} rule-breaking, {} refused by ironbpf and explained; failing insn right {:.1}%; category right {:.1}%, root cause right {:.1}%",
            self.programs,
            self.broken,
            self.rejected,
            Self::pct(self.insn_right, self.rejected),
            self.category_pct(),
            self.root_pct()
        )
    }
}

/// Checks one generated program; `None` when it breaks no rule or
/// ironbpf's verifier accepts it.
pub fn check_program(p: &VProgram) -> Option<ExplainCase> {
    let b = p.broken.as_ref()?;
    let opts = p.verify_options(0);
    let desc = ProgTypeDesc::builtin(p.prog_type);
    let out = ironbpf_verifier::verify_with_desc(&p.insns, &opts, desc);
    let rej = out.result.err()?;
    let e = explain(&p.insns, &opts, desc, &rej, &[]);
    let cat = expected_category(b.rule);
    let root = expected_root(b);
    let insn_right = e.at.as_ref().map(|s| s.insn) == rej.insn.or(Some(b.insn))
        || e.at.as_ref().map(|s| s.insn) == Some(b.insn);
    Some(ExplainCase {
        seed: p.seed,
        rule: b.rule,
        category_right: e.category == cat,
        root_right: e.root_cause.as_ref().map(|c| c.site.insn) == Some(root),
        insn_right,
        explanation: e,
        expected: (cat, root),
    })
}

/// Generates `count` programs from `seed` on and checks the explanation of
/// each rejected rule-breaking one; keeps the first `keep_misses` misses.
pub fn run_explain_diff(
    count: u64,
    seed: u64,
    keep_misses: usize,
    mut progress: impl FnMut(u64, &ExplainSummary),
) -> ExplainSummary {
    let mut s = ExplainSummary::default();
    for i in 0..count {
        let p = generate(seed.wrapping_add(i));
        s.programs += 1;
        if p.broken.is_some() {
            s.broken += 1;
        }
        if let Some(c) = check_program(&p) {
            s.rejected += 1;
            s.category_right += u64::from(c.category_right);
            s.root_right += u64::from(c.root_right);
            s.insn_right += u64::from(c.insn_right);
            let t = s.per_rule.entry(c.rule).or_default();
            t.rejected += 1;
            t.category_right += u64::from(c.category_right);
            t.root_right += u64::from(c.root_right);
            if !(c.category_right && c.root_right) && s.misses.len() < keep_misses {
                s.misses.push(c);
            }
        }
        progress(i + 1, &s);
    }
    s
}
