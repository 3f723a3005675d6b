//! Live registers before each instruction (`compute_live_registers`), a
//! backward data-flow over the control-flow graph; the kernel prints the
//! result as the `Live regs before insn:` table at log level 2.

use ironbpf_isa::{CallTarget, Insn, IsaError};

const CALLER_SAVED: u16 = 0b11_1111; // r0-r5

/// Registers read and written by one instruction, as the kernel counts
/// them for liveness (calls read their arguments and clobber r0-r5).
/// A helper the program type does not offer reads r1-r5, as the kernel's
/// `get_call_summary` assumes.
fn use_def(insn: &Insn, opts: &crate::VerifyOptions) -> (u16, u16) {
    match *insn {
        Insn::Call(CallTarget::Helper(id)) => {
            // `get_helper_proto` here does not check sleepability.
            let args = crate::calls::offered_proto(id, opts).map_or(5, |p| p.arg_count());
            (((1u16 << (args + 1)) - 1) & !1, CALLER_SAVED)
        }
        Insn::Call(_) | Insn::Callx { .. } => (CALLER_SAVED & !1, CALLER_SAVED),
        Insn::LdAbs { .. } | Insn::LdInd { .. } => (insn.reads(), CALLER_SAVED),
        _ => (insn.reads(), insn.writes().map_or(0, |r| 1 << r.index())),
    }
}

/// The live registers (bit per register) before each slot.
pub fn live_regs_before(
    decoded: &[Option<Result<Insn, IsaError>>],
    opts: &crate::VerifyOptions,
) -> Vec<u16> {
    let n = decoded.len();
    let succs = |pc: usize| -> Vec<usize> {
        let Some(Ok(insn)) = &decoded[pc] else {
            return Vec::new();
        };
        let next = pc + insn.slots();
        let rel = |off: i64| (pc as i64 + off + 1) as usize;
        let v = match *insn {
            Insn::Exit => vec![],
            Insn::Ja { off } => vec![rel(off as i64)],
            Insn::Gotol { imm } => vec![rel(imm as i64)],
            Insn::Jmp { off, .. } => vec![next, rel(off as i64)],
            _ => vec![next],
        };
        v.into_iter().filter(|&s| s < n).collect()
    };
    let mut live = vec![0u16; n];
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let Some(Ok(insn)) = &decoded[pc] else {
                continue;
            };
            let out = succs(pc).iter().fold(0u16, |a, &s| a | live[s]);
            let (u, d) = use_def(insn, opts);
            let inn = u | (out & !d);
            if inn != live[pc] {
                live[pc] = inn;
                changed = true;
            }
        }
    }
    live
}
