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
        Insn::Call(CallTarget::Kfunc { btf_id, .. }) => {
            let args = crate::kfunc::arg_count(btf_id, opts);
            (((1u16 << (args + 1)) - 1) & !1, CALLER_SAVED)
        }
        Insn::Call(_) | Insn::Callx { .. } => (CALLER_SAVED & !1, CALLER_SAVED),
        // It may end the program (a packet too short), so the kernel counts
        // every register as read.
        Insn::LdAbs { .. } | Insn::LdInd { .. } => (0x3ff, CALLER_SAVED),
        _ => (insn.reads(), insn.writes().map_or(0, |r| 1 << r.index())),
    }
}

/// The live registers (bit per register) before each slot.
pub fn live_regs_before(
    decoded: &[Option<Result<Insn, IsaError>>],
    opts: &crate::VerifyOptions,
) -> Vec<u16> {
    backward_liveness(decoded, |insn| {
        let (u, d) = use_def(insn, opts);
        (u64::from(u), u64::from(d))
    })
    .into_iter()
    .map(|m| m as u16)
    .collect()
}

/// The backward data-flow both liveness passes share: a bit set live before
/// each slot, from what each instruction uses and defines (`use_def`) and
/// what is live at its successors, iterated to a fixed point.
fn backward_liveness(
    decoded: &[Option<Result<Insn, IsaError>>],
    use_def: impl Fn(&Insn) -> (u64, u64),
) -> Vec<u64> {
    let n = decoded.len();
    let succs = |pc: usize| -> Vec<usize> {
        let Some(Some(Ok(insn))) = decoded.get(pc) else {
            return Vec::new();
        };
        let next = pc + insn.slots();
        let rel = |off: i64| (pc as i64 + off + 1) as usize;
        let v = match *insn {
            Insn::Exit => vec![],
            Insn::Ja { off } => vec![rel(off as i64)],
            Insn::Gotol { imm } => vec![rel(imm as i64)],
            Insn::Jmp { off, .. } | Insn::MayGoto { off } => vec![next, rel(off as i64)],
            _ => vec![next],
        };
        v.into_iter().filter(|&s| s < n).collect()
    };
    let mut live = vec![0u64; n];
    let mut changed = true;
    while changed {
        changed = false;
        for (pc, slot) in decoded.iter().enumerate().rev() {
            let Some(Ok(insn)) = slot else {
                continue;
            };
            // succs keeps the successors below n, the length of live.
            let out = succs(pc)
                .iter()
                .fold(0u64, |a, &s| a | live.get(s).copied().unwrap_or(0));
            let (u, d) = use_def(insn);
            let inn = u | (out & !d);
            if let Some(l) = live.get_mut(pc) {
                if inn != *l {
                    *l = inn;
                    changed = true;
                }
            }
        }
    }
    live
}
