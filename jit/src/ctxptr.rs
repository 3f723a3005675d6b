//! Which loads of verified code read the context: a forward data-flow over
//! the pre-decoded program that follows the context pointer (r1 at entry)
//! through copies, constant offsets, 8-byte spills and fills and
//! bpf-to-bpf call arguments.
//!
//! It relies on the verifier's typing rules, so verified code alone uses
//! it: only a register the verifier types `PTR_TO_CTX` may be dereferenced
//! as the context, and such a register can only come from r1 at entry by
//! `mov`, `add`/`sub` of a constant, an 8-byte spill and fill, or a call
//! argument (any other ALU operation on a pointer is refused or makes a
//! scalar, which no load may dereference; helpers and loads from other
//! memory give no context pointer).
//!
//! Per register the value is: not a context pointer, the context pointer
//! plus a known constant on every path, or unknown (either). A register
//! filled from memory is unknown once any instruction may have stored a
//! context pointer with 8 bytes (the analysis reruns with that assumption
//! when it finds one). Slots the walk from slot 0 and the call targets does
//! not reach (callback entries) have no state: their loads keep the
//! runtime's context test.

use crate::op::*;
use crate::JitInsn;

/// One register's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CtxVal {
    /// Not a pointer into the context on any path.
    NotCtx,
    /// The context's start plus this constant on every path.
    Ctx(i64),
    /// Either.
    Unknown,
}

impl CtxVal {
    fn join(self, o: CtxVal) -> CtxVal {
        if self == o {
            self
        } else {
            CtxVal::Unknown
        }
    }

    fn may_be_ctx(self) -> bool {
        self != CtxVal::NotCtx
    }
}

type State = [CtxVal; 11];

/// How many passes over the worklist the analysis makes before giving up
/// (every load then keeps its test).
const MAX_STEPS: usize = 1 << 20;

/// Per slot, the value of the base register of the load at that slot
/// (`None` where no state reached it or the analysis gave up).
pub(crate) fn load_bases(insns: &[JitInsn]) -> Vec<Option<CtxVal>> {
    match run(insns, false) {
        Some((bases, false)) => bases,
        Some((_, true)) => run(insns, true).map_or_else(|| vec![None; insns.len()], |(b, _)| b),
        None => vec![None; insns.len()],
    }
}

fn reg(i: u8) -> usize {
    usize::from(i % 11)
}

fn is_jump(code: u8) -> bool {
    matches!(code & 0x07, 0x05 | 0x06) && !matches!(code & 0xf0, 0x80 | 0x90)
}

/// The states at each slot; whether an 8-byte store of a possible context
/// pointer was seen (with `spilled` false, the result is then void).
#[allow(
    clippy::indexing_slicing,
    reason = "states has n entries and every index is a slot checked `< n`; register indices are taken modulo 11 into 11-entry arrays"
)]
fn run(insns: &[JitInsn], spilled: bool) -> Option<(Vec<Option<CtxVal>>, bool)> {
    let n = insns.len();
    let mut states: Vec<Option<State>> = vec![None; n];
    let mut work: Vec<usize> = Vec::new();
    let mut found_spill = false;
    let push = |states: &mut Vec<Option<State>>, work: &mut Vec<usize>, t: usize, s: &State| {
        if t >= n {
            return;
        }
        let new = match &states[t] {
            None => *s,
            Some(old) => {
                let mut j = *old;
                for (a, b) in j.iter_mut().zip(s.iter()) {
                    *a = a.join(*b);
                }
                if j == *old {
                    return;
                }
                j
            }
        };
        states[t] = Some(new);
        work.push(t);
    };
    if n == 0 {
        return Some((Vec::new(), false));
    }
    let mut entry = [CtxVal::NotCtx; 11];
    entry[1] = CtxVal::Ctx(0);
    push(&mut states, &mut work, 0, &entry);
    let mut steps = 0;
    while let Some(pc) = work.pop() {
        steps += 1;
        if steps > MAX_STEPS {
            return None;
        }
        let Some(mut s) = states[pc] else { continue };
        let i = insns[pc];
        let (d, src) = (reg(i.dst), reg(i.src));
        let filled = if spilled {
            CtxVal::Unknown
        } else {
            CtxVal::NotCtx
        };
        match i.code {
            0xbf | OP_MOV_ADD64_K | OP_MOV_ADD64_X => s[d] = s[src],
            0x07 | 0x17 => {
                let k = if i.code == 0x07 {
                    i.imm
                } else {
                    i.imm.wrapping_neg()
                };
                if let CtxVal::Ctx(c) = s[d] {
                    s[d] = CtxVal::Ctx(c.wrapping_add(k));
                }
            }
            0x0f | 0x1f => {
                s[d] = if s[d].may_be_ctx() || s[src].may_be_ctx() {
                    CtxVal::Unknown
                } else {
                    CtxVal::NotCtx
                };
            }
            0x79 => s[d] = filled,
            0x61 | 0x69 | 0x71 | 0x81 | 0x89 | 0x91 => s[d] = CtxVal::NotCtx,
            0x7b => {
                if s[src].may_be_ctx() {
                    found_spill = true;
                }
            }
            0x62 | 0x6a | 0x72 | 0x7a | 0x63 | 0x6b | 0x73 => {}
            OP_ATOMIC_W | OP_ATOMIC_DW => {
                if s[src].may_be_ctx() {
                    found_spill = true;
                }
                // The fetching forms and xchg load into src, cmpxchg into
                // r0.
                match i.aux {
                    4..=8 => s[src] = filled,
                    9 => s[0] = filled,
                    _ => {}
                }
            }
            0x85 | 0x8d | OP_MAP_LOOKUP | 0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50 => {
                for r in s.iter_mut().take(6) {
                    *r = CtxVal::NotCtx;
                }
            }
            OP_CALL_LOCAL => {
                let mut callee = [CtxVal::NotCtx; 11];
                callee[1..6].copy_from_slice(&s[1..6]);
                if let Ok(t) = usize::try_from(i.off) {
                    push(&mut states, &mut work, t, &callee);
                }
                s[0] = CtxVal::Unknown;
                for r in s.iter_mut().take(6).skip(1) {
                    *r = CtxVal::NotCtx;
                }
            }
            0x95 => continue,
            0x05 | 0x06 => {
                if let Ok(t) = usize::try_from(i.off) {
                    push(&mut states, &mut work, t, &s);
                }
                continue;
            }
            c if is_jump(c) => {
                if let Ok(t) = usize::try_from(i.off) {
                    push(&mut states, &mut work, t, &s);
                }
            }
            // Every other instruction that names a destination writes a
            // scalar there (ALU and ALU32 operations, constants, map
            // addresses); `OP_NONE` (an `ld_imm64`'s second slot) and the
            // remaining store-class codes write nothing.
            OP_NONE => {}
            c if matches!(c & 0x07, 0x02 | 0x03) => {}
            _ => s[d] = CtxVal::NotCtx,
        }
        s[10] = CtxVal::NotCtx;
        push(&mut states, &mut work, pc + 1, &s);
    }
    let bases = insns
        .iter()
        .zip(states.iter())
        .map(|(i, st)| st.map(|s| s[reg(i.src)]))
        .collect();
    Some((bases, found_spill && !spilled))
}
