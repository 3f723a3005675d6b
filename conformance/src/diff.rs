//! Differential testing: the same generated XDP program on two engines
//! (the interpreter and the kernel, by default), compared on r0, the packet
//! after the run, and whether each accepted the program. A disagreement is
//! shrunk to a minimal program that still disagrees.

use crate::gen::{generate, GenProgram};
use ironbpf_isa::{Branch, Insn, Program};
use ironbpf_vm::{progtype, HelperRegistry, Interpreter, Options};

/// What one engine did with an XDP program and its packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XdpOutcome {
    /// It ran: the low 32 bits of r0 (all that test-run returns) and the
    /// packet bytes afterwards.
    Ran { retval: u32, packet: Vec<u8> },
    /// It refused the program (the verifier, or our load checks).
    Refused(String),
    /// It started and failed.
    Failed(String),
}

/// An engine that runs XDP programs on a packet.
pub trait XdpEngine {
    /// The engine's name for reports.
    fn name(&self) -> &str;
    /// Runs `insns` on a copy of `packet`.
    fn run(&self, insns: &[Insn], packet: &[u8]) -> XdpOutcome;
}

/// The checked interpreter as an XDP engine.
#[derive(Default)]
pub struct InterpXdp {
    helpers: HelperRegistry,
}

impl XdpEngine for InterpXdp {
    fn name(&self) -> &str {
        "interp"
    }

    fn run(&self, insns: &[Insn], packet: &[u8]) -> XdpOutcome {
        let slots = insns.iter().flat_map(|i| i.encode()).collect();
        let prog = match Program::from_slots(slots) {
            Ok(p) => p,
            Err(e) => return XdpOutcome::Refused(e.to_string()),
        };
        let vm = match Interpreter::new(&prog, &self.helpers, Options::default()) {
            Ok(vm) => vm,
            Err(e) => return XdpOutcome::Refused(e.to_string()),
        };
        let mut ctx = vec![0u8; progtype::XDP.ctx_size as usize];
        let mut pkt = packet.to_vec();
        match vm.run_ctx(&progtype::XDP, &mut ctx, Some(&mut pkt), None) {
            Ok(r0) => XdpOutcome::Ran {
                retval: r0 as u32,
                packet: pkt,
            },
            Err(e) => XdpOutcome::Failed(e.to_string()),
        }
    }
}

/// The verdict on one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffVerdict {
    Agreed,
    /// The reference engine refused it: not comparable.
    RefusedByReference(String),
    /// The engines disagree.
    Disagreed {
        ours: XdpOutcome,
        reference: XdpOutcome,
    },
}

/// Runs `insns` on both engines and compares.
pub fn compare(
    ours: &dyn XdpEngine,
    reference: &dyn XdpEngine,
    insns: &[Insn],
    packet: &[u8],
) -> DiffVerdict {
    let r = reference.run(insns, packet);
    if let XdpOutcome::Refused(why) = &r {
        return DiffVerdict::RefusedByReference(why.clone());
    }
    let o = ours.run(insns, packet);
    if o == r {
        DiffVerdict::Agreed
    } else {
        DiffVerdict::Disagreed {
            ours: o,
            reference: r,
        }
    }
}

/// A disagreement, with the program shrunk as far as it still disagrees.
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub seed: u64,
    pub insns: Vec<Insn>,
    pub packet: Vec<u8>,
    pub ours: XdpOutcome,
    pub reference: XdpOutcome,
}

/// Totals of a differential run.
#[derive(Clone, Debug, Default)]
pub struct DiffSummary {
    pub agreed: usize,
    pub disagreed: Vec<Disagreement>,
    pub refused: usize,
    /// The reference's refusal reasons, with counts, most common first.
    pub refusal_reasons: Vec<(String, usize)>,
}

impl std::fmt::Display for DiffSummary {
    /// `N agreed, M disagreed, K refused by the kernel`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} agreed, {} disagreed, {} refused by the kernel",
            self.agreed,
            self.disagreed.len(),
            self.refused
        )
    }
}

/// Generates `count` programs from `seed` on and compares them; `progress`
/// is called after each.
pub fn run_random(
    ours: &dyn XdpEngine,
    reference: &dyn XdpEngine,
    count: u64,
    seed: u64,
    mut progress: impl FnMut(u64, &DiffSummary),
) -> DiffSummary {
    let mut s = DiffSummary::default();
    let mut reasons: std::collections::HashMap<String, usize> = Default::default();
    for i in 0..count {
        let GenProgram {
            seed: ps,
            insns,
            packet,
        } = generate(seed.wrapping_add(i));
        match compare(ours, reference, &insns, &packet) {
            DiffVerdict::Agreed => s.agreed += 1,
            DiffVerdict::RefusedByReference(why) => {
                s.refused += 1;
                *reasons.entry(why).or_default() += 1;
            }
            DiffVerdict::Disagreed { .. } => {
                let small = shrink(ours, reference, insns, &packet);
                let (o, r) = match compare(ours, reference, &small, &packet) {
                    DiffVerdict::Disagreed { ours, reference } => (ours, reference),
                    _ => unreachable_outcomes(),
                };
                s.disagreed.push(Disagreement {
                    seed: ps,
                    insns: small,
                    packet,
                    ours: o,
                    reference: r,
                });
            }
        }
        progress(i + 1, &s);
    }
    let mut v: Vec<_> = reasons.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    s.refusal_reasons = v;
    s
}

/// `shrink` keeps only programs that still disagree, so comparing the
/// result again disagrees; should the engines be nondeterministic, report
/// both as failed rather than panic.
fn unreachable_outcomes() -> (XdpOutcome, XdpOutcome) {
    let why = "the disagreement did not reproduce: an engine is nondeterministic".to_string();
    (XdpOutcome::Failed(why.clone()), XdpOutcome::Failed(why))
}

/// Removes instruction `k`, fixing the offsets of jumps and calls that
/// cross it; a jump that targeted `k` now lands on what followed it.
pub fn remove_insn(insns: &[Insn], k: usize) -> Vec<Insn> {
    // Slot positions of each instruction.
    let mut pos = Vec::with_capacity(insns.len() + 1);
    let mut p = 0i64;
    for i in insns {
        pos.push(p);
        p += i.slots() as i64;
    }
    pos.push(p);
    let removed = insns[k].slots() as i64;
    let kpos = pos[k];
    let mut out = Vec::with_capacity(insns.len() - 1);
    for (i, insn) in insns.iter().enumerate() {
        if i == k {
            continue;
        }
        let from = pos[i];
        let fix = |rel: i64| -> i64 {
            let to = from + 1 + rel;
            let crosses_fwd = from < kpos && to > kpos;
            let crosses_back = from > kpos && to <= kpos;
            if crosses_fwd {
                rel - removed
            } else if crosses_back {
                rel + removed
            } else {
                rel
            }
        };
        out.push(match (*insn, insn.branch()) {
            (Insn::Ja { .. }, Some(Branch::Always(rel))) => Insn::Ja {
                off: fix(rel as i64) as i16,
            },
            (Insn::Gotol { .. }, Some(Branch::Always(rel))) => Insn::Gotol {
                imm: fix(rel as i64) as i32,
            },
            (
                Insn::Jmp {
                    op,
                    width,
                    dst,
                    src,
                    ..
                },
                Some(Branch::Cond(rel)),
            ) => Insn::Jmp {
                op,
                width,
                dst,
                src,
                off: fix(rel as i64) as i16,
            },
            (Insn::Call(ironbpf_isa::CallTarget::Local(_)), Some(Branch::Subprog(rel))) => {
                Insn::Call(ironbpf_isa::CallTarget::Local(fix(rel as i64) as i32))
            }
            (other, _) => other,
        });
    }
    out
}

/// Greedily removes instructions while the program still disagrees.
pub fn shrink(
    ours: &dyn XdpEngine,
    reference: &dyn XdpEngine,
    mut insns: Vec<Insn>,
    packet: &[u8],
) -> Vec<Insn> {
    loop {
        let mut changed = false;
        let mut k = insns.len();
        while k > 0 {
            k -= 1;
            if matches!(insns[k], Insn::Exit) {
                continue;
            }
            let cand = remove_insn(&insns, k);
            let slots: Vec<_> = cand.iter().flat_map(|i| i.encode()).collect();
            let valid = Program::from_slots(slots).is_ok_and(|p| p.check_registers(0b10).is_ok());
            if valid
                && matches!(
                    compare(ours, reference, &cand, packet),
                    DiffVerdict::Disagreed { .. }
                )
            {
                insns = cand;
                changed = true;
                k = k.min(insns.len());
            }
        }
        if !changed {
            return insns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbpf_isa::{AluOp, JmpOp, Operand, Reg, Width};

    #[test]
    fn removing_an_insn_keeps_jumps_on_their_targets() {
        let mov = |imm| Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst: Reg::R0,
            src: Operand::Imm(imm),
        };
        let prog = vec![
            mov(0),
            Insn::Jmp {
                op: JmpOp::Jeq,
                width: Width::W64,
                dst: Reg::R0,
                src: Operand::Imm(0),
                off: 2,
            },
            mov(1),
            mov(2),
            mov(3),
            Insn::Exit,
        ];
        let out = remove_insn(&prog, 2);
        assert_eq!(
            out[1],
            Insn::Jmp {
                op: JmpOp::Jeq,
                width: Width::W64,
                dst: Reg::R0,
                src: Operand::Imm(0),
                off: 1
            }
        );
        assert_eq!(out[2], mov(2));
        assert_eq!(out[3], mov(3));
    }

    /// An engine that disagrees whenever the program has a `neg`.
    struct NegHater;
    impl XdpEngine for NegHater {
        fn name(&self) -> &str {
            "neg-hater"
        }
        fn run(&self, insns: &[Insn], packet: &[u8]) -> XdpOutcome {
            if insns.iter().any(|i| matches!(i, Insn::Neg { .. })) {
                XdpOutcome::Failed("neg".into())
            } else {
                InterpXdp::default().run(insns, packet)
            }
        }
    }

    #[test]
    fn the_interpreter_agrees_with_itself_and_shrinking_finds_the_culprit() {
        let interp = InterpXdp::default();
        let s = run_random(&interp, &interp, 300, 7, |_, _| {});
        assert_eq!((s.agreed, s.disagreed.len(), s.refused), (300, 0, 0));
        let s = run_random(&NegHater, &interp, 300, 7, |_, _| {});
        assert!(!s.disagreed.is_empty());
        for d in &s.disagreed {
            // Shrunk to the neg and what the program needs around it.
            assert!(d.insns.iter().any(|i| matches!(i, Insn::Neg { .. })));
            assert!(d.insns.len() <= 12, "{:?}", d.insns);
        }
    }
}
