//! ironbpf's verifier on the generator's programs: on the rules where it
//! agrees with the kernel today it must keep agreeing (a ratchet: add a rule
//! to the lists when ironbpf gets it right, never remove one).
//!
//! Without the kernel, ironbpf's refusal is checked against what the
//! generator recorded (and the kernel confirmed, see `verifier_gen.rs`):
//! the instruction and the text of the error line. With the kernel, the
//! verdict and the whole error line are compared with the kernel's.

use ironbpf_conformance::vgen::{generate, ironbpf_verify, KernelOracle, Rule, VCase};

/// Pinned seeds.
const SEEDS: std::ops::Range<u64> = 0..2000;

/// Rules on which ironbpf gives the kernel's verdict, instruction and message.
const EXACT: &[Rule] = &[
    Rule::BackEdge,
    Rule::CallUnpriv,
    Rule::DivByZeroImm,
    Rule::FallOffEnd,
    Rule::FramePointerWrite,
    Rule::HelperArgType,
    Rule::HelperNotAllowed,
    Rule::HelperUnknown,
    Rule::JumpOutOfRange,
    Rule::NullPointerArith,
    Rule::PointerCompare,
    Rule::LeakAsReturn,
    Rule::LeakIntoMap,
    Rule::PointerMul,
    Rule::ReservedFields,
    Rule::ScalarDeref,
    Rule::StackOutOfBounds,
    Rule::StackVarOffset,
    Rule::UncheckedMapValue,
    Rule::UninitReturn,
    Rule::UninitRegRead,
    Rule::UnknownOpcode,
    Rule::UnreachableCode,
    Rule::ReadOnlyMapWrite,
    Rule::PartialPointerFill,
    Rule::CombinedStackTooLarge,
    Rule::BadReturnValue,
    Rule::CtxOutOfRange,
    Rule::CtxReadOnlyWrite,
    Rule::MisalignedStack,
    Rule::MisalignedStrict,
    Rule::CtxStoreImm,
    Rule::HelperBadSize,
    Rule::HelperShortKey,
    Rule::InfiniteLoop,
    Rule::JumpIntoLdImm64,
    Rule::MapValueOutOfBounds,
    Rule::MapValueVarOffset,
    Rule::PacketOffByOne,
    Rule::UninitStackRead,
    Rule::UninitHelperKey,
    Rule::MapValueIndexOffByOne,
];

/// Rules on which ironbpf refuses as the kernel does (its message may
/// differ): none today, every rule is in [`EXACT`].
const VERDICT: &[Rule] = &[];

/// Errors the kernel finds before it walks the program, naming no
/// instruction in its log.
const NO_INSN: &[Rule] = &[
    Rule::FallOffEnd,
    Rule::UnknownOpcode,
    Rule::CallUnpriv,
    Rule::CombinedStackTooLarge,
];

#[test]
fn ironbpf_refuses_as_the_generator_recorded() {
    let mut checked = 0;
    let mut bad = Vec::new();
    for seed in SEEDS {
        let p = generate(seed);
        let Some(b) = &p.broken else { continue };
        let exact = EXACT.contains(&b.rule);
        if !exact && !VERDICT.contains(&b.rule) {
            continue;
        }
        checked += 1;
        let o = ironbpf_verify(&p, 1);
        let line = o.error_line.as_deref().unwrap_or("");
        if o.accepted {
            bad.push(format!("seed {seed}: {} accepted", b.rule));
        } else if exact && !line.contains(&b.expect) {
            bad.push(format!(
                "seed {seed}: {}: `{line}`, expected `{}`",
                b.rule, b.expect
            ));
        } else if exact && !NO_INSN.contains(&b.rule) && o.error_insn != Some(b.insn) {
            bad.push(format!(
                "seed {seed}: {}: refused at insn {:?}, recorded at {}",
                b.rule, o.error_insn, b.insn
            ));
        }
    }
    assert!(checked > 800, "only {checked} programs checked");
    assert!(
        bad.is_empty(),
        "{} of {checked}:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn ironbpf_gives_the_kernels_verdict_and_message() {
    if !ironbpf_kernel::available_for_test("ironbpf_gives_the_kernels_verdict_and_message") {
        return;
    }
    let k = KernelOracle::new().expect("the kernel oracle");
    if let Err(why) = k.unprivileged_available() {
        if std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1") {
            panic!("unprivileged loads are needed: {why}");
        }
        eprintln!("skipped: ironbpf_gives_the_kernels_verdict_and_message: {why}");
        return;
    }
    let mut bad = Vec::new();
    let mut checked = 0;
    for seed in SEEDS {
        let program = generate(seed);
        let Some(rule) = program.broken.as_ref().map(|b| b.rule) else {
            continue;
        };
        let exact = EXACT.contains(&rule);
        if !exact && !VERDICT.contains(&rule) {
            continue;
        }
        checked += 1;
        let kernel = k.verify(&program, 1).expect("a load");
        let ours = ironbpf_verify(&program, 1);
        let c = VCase {
            program,
            kernel,
            ours,
        };
        let ok = c.same_verdict()
            && (!exact || (c.same_message() && (!c.insn_comparable() || c.same_insn())));
        if !ok {
            bad.push(format!(
                "seed {seed} ({rule}): kernel {:?} at {:?}, ironbpf {:?} at {:?}",
                c.kernel.error_line, c.kernel.error_insn, c.ours.error_line, c.ours.error_insn
            ));
        }
    }
    assert!(checked > 800, "only {checked} programs checked");
    assert!(
        bad.is_empty(),
        "{} of {checked}:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Every program the generator made safe (and the kernel accepts, see
/// `verifier_gen.rs`) is accepted by ironbpf too: the real program-type
/// descriptors and helper prototypes leave no safe program refused.
#[test]
fn ironbpf_accepts_the_generators_safe_programs() {
    let mut checked = 0;
    let mut bad = Vec::new();
    for seed in SEEDS {
        let p = generate(seed);
        if p.broken.is_some() {
            continue;
        }
        checked += 1;
        let o = ironbpf_verify(&p, 1);
        if !o.accepted {
            bad.push(format!(
                "seed {seed} ({}): refused at insn {:?}: {:?}",
                p.prog_type, o.error_insn, o.error_line
            ));
        }
    }
    assert!(checked > 500, "only {checked} safe programs checked");
    assert!(
        bad.is_empty(),
        "{} of {checked}:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
