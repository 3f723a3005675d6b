//! A whole program: decoded instructions with their slot indices, its
//! subprograms, and the structural checks the kernel makes before any
//! abstract interpretation (`check_subprogs` and `check_cfg`'s jump checks).

use crate::error::{IsaError, IsaErrorKind};
use crate::insn::{slots_from_bytes, Branch, Insn, RawInsn, Reg};
use crate::opcode::BPF_COMPLEXITY_LIMIT_INSNS;

/// An instruction and the slot index (`pc`) where it starts. Jump offsets
/// and error messages count slots, as the kernel does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodedInsn {
    pub pc: usize,
    pub insn: Insn,
}

/// A subprogram: the main program (starting at 0) or a bpf-to-bpf call or
/// `BPF_PSEUDO_FUNC` target. Slots `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subprog {
    pub start: usize,
    pub end: usize,
}

/// A decoded, structurally valid program.
#[derive(Clone, Debug)]
pub struct Program {
    slots: Vec<RawInsn>,
    insns: Vec<DecodedInsn>,
    /// For each slot, the index into `insns` of the instruction starting
    /// there, or `u32::MAX` for the second slot of an `ld_imm64`.
    insn_at_slot: Vec<u32>,
    subprogs: Vec<Subprog>,
}

impl Program {
    /// Decodes and checks the raw bytes of a program (8 bytes a slot).
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, IsaError> {
        Self::from_slots(slots_from_bytes(bytes)?)
    }

    /// Decodes and checks a program given as slots, with the kernel's limit
    /// of 1,000,000 instructions.
    pub fn from_slots(slots: Vec<RawInsn>) -> Result<Program, IsaError> {
        Self::from_slots_with_limit(slots, BPF_COMPLEXITY_LIMIT_INSNS)
    }

    /// Decodes and checks a program, refusing more than `max_insns` slots.
    pub fn from_slots_with_limit(
        slots: Vec<RawInsn>,
        max_insns: usize,
    ) -> Result<Program, IsaError> {
        if slots.is_empty() {
            return Err(IsaError::new(0, IsaErrorKind::EmptyProgram));
        }
        if slots.len() > max_insns {
            return Err(IsaError::new(
                max_insns,
                IsaErrorKind::TooManyInstructions {
                    len: slots.len(),
                    max: max_insns,
                },
            ));
        }
        let mut insns = Vec::with_capacity(slots.len());
        let mut insn_at_slot = vec![u32::MAX; slots.len()];
        let mut pc = 0;
        while pc < slots.len() {
            let insn = Insn::decode(slots.get(pc..).unwrap_or_default(), pc)?;
            if let Some(at) = insn_at_slot.get_mut(pc) {
                *at = insns.len() as u32;
            }
            insns.push(DecodedInsn { pc, insn });
            pc += insn.slots();
        }
        let mut prog = Program {
            slots,
            insns,
            insn_at_slot,
            subprogs: Vec::new(),
        };
        prog.check_jumps_and_subprogs()?;
        Ok(prog)
    }

    /// The instruction slots, as given.
    pub fn slots(&self) -> &[RawInsn] {
        &self.slots
    }

    /// The decoded instructions in order.
    pub fn insns(&self) -> &[DecodedInsn] {
        &self.insns
    }

    /// The instruction starting at slot `pc`, if one does (not the second
    /// slot of an `ld_imm64`, not past the end).
    pub fn insn_at(&self, pc: usize) -> Option<&DecodedInsn> {
        let i = *self.insn_at_slot.get(pc)?;
        self.insns.get(i as usize)
    }

    /// The subprograms, the main program first, in slot order.
    pub fn subprogs(&self) -> &[Subprog] {
        &self.subprogs
    }

    /// The subprogram containing slot `pc`.
    pub fn subprog_of(&self, pc: usize) -> usize {
        self.subprogs.partition_point(|s| s.start <= pc) - 1
    }

    /// The raw bytes of the program.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::insn::slots_to_bytes(&self.slots)
    }

    fn target(&self, pc: usize, rel: i32) -> Result<usize, IsaError> {
        let t = pc as i64 + 1 + rel as i64;
        if t < 0 || t >= self.slots.len() as i64 {
            return Err(IsaError::new(
                pc,
                IsaErrorKind::JumpOutOfRange {
                    target: t,
                    last: self.slots.len() - 1,
                },
            ));
        }
        let t = t as usize;
        if self.insn_at_slot.get(t).is_none_or(|&i| i == u32::MAX) {
            return Err(IsaError::new(
                pc,
                IsaErrorKind::JumpIntoLdImm64 { ldimm64: t - 1 },
            ));
        }
        Ok(t)
    }

    fn check_jumps_and_subprogs(&mut self) -> Result<(), IsaError> {
        let mut starts = vec![0usize];
        for d in &self.insns {
            if let Some(Branch::Subprog(rel)) = d.insn.branch() {
                starts.push(self.target(d.pc, rel)?);
            }
        }
        starts.sort_unstable();
        starts.dedup();
        let len = self.slots.len();
        self.subprogs = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| Subprog {
                start,
                end: starts.get(i + 1).copied().unwrap_or(len),
            })
            .collect();
        for d in &self.insns {
            match d.insn.branch() {
                Some(Branch::Always(rel)) | Some(Branch::Cond(rel)) => {
                    let t = self.target(d.pc, rel)?;
                    let sp = self
                        .subprogs
                        .get(self.subprog_of(d.pc))
                        .copied()
                        .unwrap_or(Subprog { start: 0, end: len });
                    if t < sp.start || t >= sp.end {
                        // The kernel's words: "jump out of range from insn %d to %d".
                        return Err(IsaError::new(
                            d.pc,
                            IsaErrorKind::JumpOutOfRange {
                                target: t as i64,
                                last: sp.end - 1,
                            },
                        ));
                    }
                }
                _ => {}
            }
        }
        for (i, sp) in self.subprogs.iter().enumerate() {
            // The last slot may be the second half of an ld_imm64: then the
            // subprogram certainly falls off its end.
            let last = self.insn_at(sp.end - 1).map(|d| d.insn);
            if !matches!(
                last,
                Some(Insn::Exit) | Some(Insn::Ja { .. }) | Some(Insn::Gotol { .. })
            ) {
                let what = if i == 0 {
                    "the program".to_string()
                } else {
                    format!("subprogram {i} (insns {} to {})", sp.start, sp.end - 1)
                };
                return Err(IsaError::new(
                    sp.end - 1,
                    IsaErrorKind::FallsOffEnd { what },
                ));
            }
        }
        Ok(())
    }

    /// Checks what the kernel verifier checks of registers before anything
    /// else: no instruction writes r10, and no register is read on any path
    /// before it was written. `entry_regs` is the set (bit per register) of
    /// registers holding a value when the main program starts: r1 (the
    /// context) and r10 in the kernel; r1, r2 and r10 for bpf_conformance.
    /// Subprograms start with r1-r5 and r10; after a call r0 holds the result
    /// and r1-r5 are clobbered.
    pub fn check_registers(&self, entry_regs: u16) -> Result<(), IsaError> {
        const FP: u16 = 1 << 10;
        const ARGS: u16 = 0b11_1110;
        for d in &self.insns {
            if d.insn.writes() == Some(Reg::R10) {
                return Err(IsaError::new(d.pc, IsaErrorKind::WritesFramePointer));
            }
        }
        // A forward must-be-initialised analysis: the set at an instruction
        // is the intersection over its predecessors; worklist to a fixpoint.
        let n = self.slots.len();
        let mut init_in: Vec<Option<u16>> = vec![None; n];
        let mut work: Vec<usize> = Vec::new();
        for (i, sp) in self.subprogs.iter().enumerate() {
            if let Some(at) = init_in.get_mut(sp.start) {
                *at = Some(if i == 0 { entry_regs | FP } else { ARGS | FP });
            }
            work.push(sp.start);
        }
        let mut succs = Vec::with_capacity(2);
        while let Some(pc) = work.pop() {
            let Some(d) = self.insn_at(pc) else { continue };
            let have = init_in.get(pc).copied().flatten().unwrap_or(0);
            let reads = d.insn.reads();
            let missing = reads & !have;
            if missing != 0 {
                return Err(IsaError::new(
                    pc,
                    IsaErrorKind::UninitializedRead {
                        reg: missing.trailing_zeros() as u8,
                    },
                ));
            }
            let mut out = have;
            if d.insn.is_call() {
                out &= !ARGS;
            }
            if let Some(w) = d.insn.writes() {
                out |= 1 << w.index();
            }
            succs.clear();
            let next = pc + d.insn.slots();
            match d.insn {
                Insn::Exit => {}
                Insn::Ja { off } => succs.push((pc as i64 + 1 + off as i64) as usize),
                Insn::Gotol { imm } => succs.push((pc as i64 + 1 + imm as i64) as usize),
                Insn::Jmp { off, .. } | Insn::MayGoto { off } => {
                    succs.push(next);
                    succs.push((pc as i64 + 1 + off as i64) as usize);
                }
                _ => succs.push(next),
            }
            for &s in &succs {
                let Some(at) = init_in.get_mut(s) else {
                    continue;
                };
                let merged = match *at {
                    None => out,
                    Some(old) => old & out,
                };
                if *at != Some(merged) {
                    *at = Some(merged);
                    work.push(s);
                }
            }
        }
        Ok(())
    }
}
