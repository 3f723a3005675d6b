//! Differential testing: the same generated XDP program on two engines
//! (the interpreter and the kernel, by default), compared on r0, the packet
//! after the run, and whether each accepted the program. A disagreement is
//! shrunk to a minimal program that still disagrees.

use crate::gen::{generate, GenProgram, DIFF_MAPS, DIFF_MAP_HASH, DIFF_VALUE_SIZE};
use ironbpf_helpers::abi::{HelperCtx, HelperError};
use ironbpf_isa::abi::{MemoryRegion, RegionResolver};
use ironbpf_isa::{Branch, Insn, LdImm64Src, Program};
use ironbpf_maps::{create_map, Map, MapSpec};
use ironbpf_vm::{
    progtype, Engine, HelperRegistry, Interpreter, JitMode, JitProgram, LdImm64Resolver, Options,
    VmError,
};
use std::sync::Arc;

/// The final contents of one map: (key, value) pairs in key order.
pub type MapContents = Vec<(u32, Vec<u8>)>;

/// What one engine did with an XDP program, its packet and its maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XdpOutcome {
    /// It ran: the low 32 bits of r0 (all that test-run returns), the
    /// packet bytes afterwards, and the contents of each map afterwards.
    Ran {
        retval: u32,
        packet: Vec<u8>,
        maps: Vec<MapContents>,
    },
    /// It refused the program (the verifier, or our load checks).
    Refused(String),
    /// It started and failed.
    Failed(String),
}

/// An engine that runs XDP programs on a packet, with the [`DIFF_MAPS`]
/// created and filled as the case says.
pub trait XdpEngine {
    /// The engine's name for reports.
    fn name(&self) -> &str;
    /// Runs `case.insns` on a copy of `case.packet`, with fresh maps.
    fn run(&self, case: &GenProgram) -> XdpOutcome;
}

/// The base of the values that `ld_imm64 r1 = map[idx:N]` loads in our
/// engine: a map handle, which programs only pass to helpers.
const MAP_HANDLE_BASE: u64 = 0xffff_c000_0000_0000;

/// The maps of one run, as the interpreter sees them.
struct RunMaps(Vec<Arc<dyn Map>>);

impl RegionResolver for RunMaps {
    fn resolve(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        self.0.iter().find_map(|m| m.value_region(addr, len))
    }
}

impl LdImm64Resolver for RunMaps {
    fn resolve(
        &self,
        pc: usize,
        src: LdImm64Src,
        imm: i32,
        _next_imm: i32,
    ) -> Result<u64, VmError> {
        match src {
            LdImm64Src::MapIdx if (imm as usize) < self.0.len() => Ok(MAP_HANDLE_BASE + imm as u64),
            _ => Err(VmError::Setup(format!(
                "instruction {pc}: the diff engine resolves only map[idx:0..{}] (got {src:?} {imm})",
                self.0.len()
            ))),
        }
    }
}

/// Creates the [`DIFF_MAPS`] with the case's initial contents.
fn diff_maps(case: &GenProgram) -> Result<Vec<Arc<dyn Map>>, String> {
    DIFF_MAPS
        .iter()
        .zip(&case.maps)
        .map(|(&(kind, max), init)| {
            let map = create_map(&MapSpec::new(kind, 4, DIFF_VALUE_SIZE as u32, max))
                .map_err(|e| e.to_string())?;
            for (k, v) in init {
                map.update(&k.to_ne_bytes(), v, 0)
                    .map_err(|e| e.to_string())?;
            }
            Ok(map)
        })
        .collect()
}

/// The initial contents of every diff map, as a case gives them.
type MapsInit = Vec<Vec<(u32, [u8; DIFF_VALUE_SIZE])>>;

thread_local! {
    /// The maps of the last [`VmXdp`] run on this thread, with the initial
    /// contents they were made from.
    static LAST_MAPS: std::cell::RefCell<Option<(MapsInit, Arc<RunMaps>)>> = const { std::cell::RefCell::new(None) };
}

/// Gives `maps`, made from the same initial contents as `case`'s, those
/// contents again. Programs only read and write values (they add and
/// delete no keys), so every key is still where it was: each value is
/// rewritten in place and no element moves. Maps are never reused across
/// other contents: deleting a hash element retires its slot, and when the
/// slot is reclaimed (freed from "a program may still read it" to free)
/// depends on the epoch collector's timing, so an out-of-bounds access
/// that lands in it would be allowed in one engine's run and refused in
/// the other's.
fn reset_maps(maps: &RunMaps, case: &GenProgram) -> Result<(), String> {
    for ((map, &(kind, max)), init) in maps.0.iter().zip(&DIFF_MAPS).zip(&case.maps) {
        for k in 0..max {
            let key = k.to_ne_bytes();
            match init.iter().find(|(ik, _)| *ik == k) {
                Some((_, v)) => map.update(&key, v, 0).map_err(|e| e.to_string())?,
                None if kind == DIFF_MAP_HASH => {}
                None => map
                    .update(&key, &[0u8; DIFF_VALUE_SIZE], 0)
                    .map_err(|e| e.to_string())?,
            }
        }
    }
    Ok(())
}

/// Every key below max_entries that the map holds, with its value.
pub fn contents(
    max_entries: u32,
    mut lookup: impl FnMut(&[u8; 4], &mut [u8]) -> bool,
) -> MapContents {
    (0..max_entries)
        .filter_map(|k| {
            let mut v = vec![0u8; DIFF_VALUE_SIZE];
            lookup(&k.to_ne_bytes(), &mut v).then_some((k, v))
        })
        .collect()
}

/// The checked interpreter as an XDP engine, with `bpf_map_lookup_elem` on
/// ironbpf-maps maps.
#[derive(Default)]
pub struct InterpXdp;

impl XdpEngine for InterpXdp {
    fn name(&self) -> &str {
        "interp"
    }

    fn run(&self, case: &GenProgram) -> XdpOutcome {
        VmXdp::interp(Options::default()).run(case)
    }
}

/// Which of our engines an XDP run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmKind {
    Interp,
    Jit(JitMode),
}

/// One of our engines as an XDP engine, with the run options given (a
/// small budget for generators of endless loops).
///
/// The trusted JIT checks nothing and no verifier vouches for generated
/// programs yet: each program first runs on the checked interpreter on a
/// copy of the same input, and only one that ran cleanly there runs
/// trusted (one that failed is reported with the interpreter's outcome).
#[derive(Clone, Copy, Debug)]
pub struct VmXdp {
    pub kind: VmKind,
    pub options: Options,
    /// The JIT's constant blinding (`JitOptions::harden`).
    pub harden: bool,
}

impl VmXdp {
    /// The interpreter.
    pub fn interp(options: Options) -> VmXdp {
        VmXdp {
            kind: VmKind::Interp,
            options,
            harden: false,
        }
    }

    /// The JIT in `mode`.
    pub fn jit(mode: JitMode, options: Options) -> VmXdp {
        VmXdp {
            kind: VmKind::Jit(mode),
            options,
            harden: false,
        }
    }

    /// The same engine, the JIT's constants blinded when `on`.
    pub fn hardened(self, on: bool) -> VmXdp {
        VmXdp { harden: on, ..self }
    }
}

impl XdpEngine for VmXdp {
    fn name(&self) -> &str {
        match self.kind {
            VmKind::Interp => "interp",
            VmKind::Jit(JitMode::Checked) => "jit-checked",
            VmKind::Jit(JitMode::Trusted) => "jit",
            VmKind::Jit(JitMode::Verified) => "jit-verified",
        }
    }

    fn run(&self, case: &GenProgram) -> XdpOutcome {
        if self.kind == VmKind::Jit(JitMode::Trusted) {
            let pre = VmXdp::interp(self.options).run(case);
            if !matches!(pre, XdpOutcome::Ran { .. }) {
                return pre;
            }
        }
        self.run_here(case)
    }
}

/// ironbpf's verifier on a case, as an XDP program with the diff's maps:
/// its proof, or why it refuses (the verified JIT runs only what it proves).
pub fn verify_case(case: &GenProgram) -> Result<ironbpf_verifier::VerifiedProgram, String> {
    let slots: Vec<_> = case.insns.iter().flat_map(|i| i.encode()).collect();
    let mut o = ironbpf_verifier::VerifyOptions::new(ironbpf_progtype::ProgTypeId::Xdp);
    o.log_level = 0;
    o.maps = DIFF_MAPS
        .iter()
        .enumerate()
        .map(|(i, &(map_type, max_entries))| ironbpf_verifier::MapInfo {
            name: format!("diff_map{i}"),
            map_type,
            key_size: 4,
            value_size: DIFF_VALUE_SIZE as u32,
            max_entries,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        })
        .collect();
    ironbpf_verifier::verify(&slots, &o)
        .result
        .map_err(|r| format!("ironbpf's verifier refuses it: {r}"))
}

impl VmXdp {
    fn run_here(&self, case: &GenProgram) -> XdpOutcome {
        // The maps of the last case on this thread are reused, their
        // contents reset, when that case started from the same contents
        // (the engines compared on one case, and the shrunk variants of
        // it): they then see their values at the same addresses (an
        // unverified program may compute with them). Other contents get
        // new maps (see `reset_maps`).
        let maps = LAST_MAPS.with(|l| {
            let mut l = l.borrow_mut();
            match l.as_ref() {
                Some((init, m)) if *init == case.maps && reset_maps(m, case).is_ok() => {
                    Ok(m.clone())
                }
                _ => diff_maps(case).map(|m| {
                    let m = Arc::new(RunMaps(m));
                    *l = Some((case.maps.clone(), m.clone()));
                    m
                }),
            }
        });
        let maps = match maps {
            Ok(m) => m,
            Err(e) => return XdpOutcome::Failed(format!("cannot create the maps: {e}")),
        };
        let r = self.run_on(case, &maps);
        match r {
            Ok(r) => self.outcome(r, &maps),
            Err(o) => o,
        }
    }

    fn run_on(
        &self,
        case: &GenProgram,
        maps: &Arc<RunMaps>,
    ) -> Result<(Result<u64, VmError>, Vec<u8>), XdpOutcome> {
        let mut helpers = HelperRegistry::new();
        let lookup_maps = maps.clone();
        helpers.register_fn(
            1,
            "bpf_map_lookup_elem",
            move |ctx: &mut HelperCtx<'_>, args: [u64; 5]| {
                let map = args[0]
                    .checked_sub(MAP_HANDLE_BASE)
                    .and_then(|i| lookup_maps.0.get(i as usize))
                    .ok_or_else(|| {
                        HelperError::Failed(format!("r1 = {:#x} is not a map", args[0]))
                    })?;
                let key = ctx.read(args[1], map.spec().key_size as u64)?;
                // Nothing deletes elements during a diff run, so a value's
                // address stays valid after the guard is dropped.
                let guard = ironbpf_maps::pin();
                Ok(map
                    .lookup_ptr(&key, 0, &guard)
                    .map_or(0, |p| p.as_ptr() as u64))
            },
        );
        let slots = case.insns.iter().flat_map(|i| i.encode()).collect();
        let prog = match Program::from_slots(slots) {
            Ok(p) => p,
            Err(e) => return Err(XdpOutcome::Refused(e.to_string())),
        };
        let vm =
            match Interpreter::with_resolver(&prog, &helpers, self.options, Some(maps.as_ref())) {
                Ok(vm) => vm,
                Err(e) => return Err(XdpOutcome::Refused(e.to_string())),
            };
        let vm: Box<dyn Engine> = match self.kind {
            VmKind::Interp => Box::new(vm),
            VmKind::Jit(JitMode::Verified) => {
                let proof = verify_case(case).map_err(XdpOutcome::Refused)?;
                match JitProgram::verified_with(vm, &proof, self.jit_options()) {
                    Ok(j) => Box::new(j),
                    Err(e) => return Err(XdpOutcome::Refused(e.to_string())),
                }
            }
            VmKind::Jit(JitMode::Checked) => match JitProgram::checked_with(vm, self.jit_options())
            {
                Ok(j) => Box::new(j),
                Err(e) => return Err(XdpOutcome::Refused(e.to_string())),
            },
            // SAFETY: `run` ran this program to its end on the checked
            // interpreter on the same packet and maps first; runs are
            // deterministic on them.
            VmKind::Jit(JitMode::Trusted) => {
                match unsafe { JitProgram::trusted_with(vm, self.jit_options()) } {
                    Ok(j) => Box::new(j),
                    Err(e) => return Err(XdpOutcome::Refused(e.to_string())),
                }
            }
        };
        // The context and the packet sit at the same addresses in every run
        // on this thread, so that a program that computes with their
        // addresses does the same on every engine.
        Ok(BUFFERS.with(|b| {
            let (ctx, pkt) = &mut *b.borrow_mut();
            ctx.fill(0);
            let n = case.packet.len().min(pkt.len());
            pkt[..n].copy_from_slice(&case.packet[..n]);
            let r = ironbpf_vm::engine::run_ctx_into(
                vm.as_ref(),
                &progtype::XDP,
                None,
                &mut ctx[..progtype::XDP.ctx_size as usize],
                Some(&mut pkt[..n]),
                Some(maps.as_ref()),
                None,
            );
            (r, pkt[..n].to_vec())
        }))
    }
}

/// A context buffer and a packet buffer.
type Buffers = (Box<[u8]>, Box<[u8]>);

thread_local! {
    /// The context and packet buffers of [`VmXdp`] runs.
    static BUFFERS: std::cell::RefCell<Buffers> =
        std::cell::RefCell::new((vec![0u8; 64].into_boxed_slice(), vec![0u8; 4096].into_boxed_slice()));
}

impl VmXdp {
    fn jit_options(&self) -> ironbpf_vm::JitOptions {
        ironbpf_vm::JitOptions {
            harden: self.harden,
            blinding_seed: None,
        }
    }

    fn outcome(&self, (r, pkt): (Result<u64, VmError>, Vec<u8>), maps: &RunMaps) -> XdpOutcome {
        match r {
            Ok(r0) => XdpOutcome::Ran {
                retval: leaked_map_value(r0, maps).unwrap_or(r0 as u32),
                packet: pkt,
                maps: maps
                    .0
                    .iter()
                    .zip(DIFF_MAPS)
                    .map(|(m, (_, max))| contents(max, |k, v| m.lookup(k, v, 0).is_ok()))
                    .collect(),
            },
            Err(e) => XdpOutcome::Failed(error_kind(&e)),
        }
    }
}

/// A returned map value pointer (an unverified program may return one),
/// as two runs can compare it: the maps are allocated anew for each run,
/// so its address differs. `0xfeed_M0OO`: map `M`, offset `OO` in the
/// value.
fn leaked_map_value(r0: u64, maps: &RunMaps) -> Option<u32> {
    maps.0.iter().enumerate().find_map(|(i, m)| {
        m.value_region(r0, 1)
            .map(|r| 0xfeed_0000 | (i as u32) << 12 | ((r0 - r.start) as u32 & 0xfff))
    })
}

/// An error as two runs of the same program can be compared: the kind, the
/// instruction and what it did, with the host addresses (which differ
/// between runs, whose buffers are allocated anew) taken out. A fault's
/// address is given relative to the region it is near (within 64 KiB), or
/// not at all.
pub fn error_kind(e: &VmError) -> String {
    match e {
        VmError::MemoryFault { pc, insn, fault } => {
            let near = fault.nearest.filter(|r| {
                fault.addr >= r.start.saturating_sub(1 << 16)
                    && fault.addr <= r.end().saturating_add(1 << 16)
            });
            let at = match near {
                Some(r) => format!("at {}{:+}", r.kind, fault.addr.wrapping_sub(r.start) as i64),
                None => "far from every region".to_string(),
            };
            format!(
                "insn {pc} ({insn}): invalid {} of {} bytes {at}",
                fault.access, fault.len
            )
        }
        VmError::MisalignedAtomic { pc, addr, size } => {
            format!(
                "insn {pc}: misaligned atomic of {size} bytes (address % 8 = {})",
                addr % 8
            )
        }
        other => {
            let hex = regex::Regex::new("0x[0-9a-f]{6,}").expect("a valid regex");
            let dec = regex::Regex::new("[0-9]{10,}").expect("a valid regex");
            // Which region is nearest to a far address depends on where
            // the buffers were allocated.
            let nearest = regex::Regex::new(": [^:]*nearest region.*$").expect("a valid regex");
            let t = other.to_string();
            let t = nearest.replace(&t, "");
            dec.replace_all(&hex.replace_all(&t, "0x?"), "?")
                .into_owned()
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
pub fn compare(ours: &dyn XdpEngine, reference: &dyn XdpEngine, case: &GenProgram) -> DiffVerdict {
    let r = reference.run(case);
    if let XdpOutcome::Refused(why) = &r {
        return DiffVerdict::RefusedByReference(why.clone());
    }
    let o = ours.run(case);
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
    /// The case, its program shrunk.
    pub case: GenProgram,
    /// Both engines' outcomes in the last run that disagreed (the
    /// shrunk program's).
    pub ours: XdpOutcome,
    pub reference: XdpOutcome,
    /// Whether running the shrunk program once more disagreed again: false
    /// means an engine's result depends on more than the case (memory
    /// layout, state left by earlier runs).
    pub reproduced: bool,
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
    /// `N agreed, M disagreed, K refused by the reference`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} agreed, {} disagreed, {} refused by the reference",
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
    progress: impl FnMut(u64, &DiffSummary),
) -> DiffSummary {
    run_random_with(generate, ours, reference, count, seed, progress)
}

/// [`run_random`] with programs from `gen` (e.g.
/// [`crate::jitdiff::generate_unverified`]).
pub fn run_random_with(
    gen: fn(u64) -> GenProgram,
    ours: &dyn XdpEngine,
    reference: &dyn XdpEngine,
    count: u64,
    seed: u64,
    mut progress: impl FnMut(u64, &DiffSummary),
) -> DiffSummary {
    let mut s = DiffSummary::default();
    let mut reasons: std::collections::HashMap<String, usize> = Default::default();
    for i in 0..count {
        let case = gen(seed.wrapping_add(i));
        match compare(ours, reference, &case) {
            DiffVerdict::Agreed => s.agreed += 1,
            DiffVerdict::RefusedByReference(why) => {
                s.refused += 1;
                *reasons.entry(why).or_default() += 1;
            }
            DiffVerdict::Disagreed {
                ours: o,
                reference: r,
            } => {
                let (small, o, r) = shrink_keeping_outcomes(ours, reference, case, o, r);
                // Replayed once more: a disagreement that goes away on its
                // own is an engine depending on something outside the case
                // (addresses, earlier runs), which the report must say.
                let reproduced = matches!(
                    compare(ours, reference, &small),
                    DiffVerdict::Disagreed { .. }
                );
                s.disagreed.push(Disagreement {
                    case: small,
                    ours: o,
                    reference: r,
                    reproduced,
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
pub fn shrink(ours: &dyn XdpEngine, reference: &dyn XdpEngine, case: GenProgram) -> GenProgram {
    let none = || XdpOutcome::Failed(String::new());
    shrink_keeping_outcomes(ours, reference, case, none(), none()).0
}

/// [`shrink`], also giving the outcomes of the last comparison that
/// disagreed (`ours` and `reference` are the original program's).
pub fn shrink_keeping_outcomes(
    ours: &dyn XdpEngine,
    reference: &dyn XdpEngine,
    mut case: GenProgram,
    mut ours_out: XdpOutcome,
    mut ref_out: XdpOutcome,
) -> (GenProgram, XdpOutcome, XdpOutcome) {
    loop {
        let mut changed = false;
        let mut k = case.insns.len();
        while k > 0 {
            k -= 1;
            if k < case.prologue || matches!(case.insns[k], Insn::Exit) {
                continue;
            }
            let cand = GenProgram {
                insns: remove_insn(&case.insns, k),
                ..case.clone()
            };
            let slots: Vec<_> = cand.insns.iter().flat_map(|i| i.encode()).collect();
            let valid = Program::from_slots(slots).is_ok_and(|p| p.check_registers(0b10).is_ok());
            if !valid {
                continue;
            }
            if let DiffVerdict::Disagreed {
                ours: o,
                reference: r,
            } = compare(ours, reference, &cand)
            {
                case = cand;
                (ours_out, ref_out) = (o, r);
                changed = true;
                k = k.min(case.insns.len());
            }
        }
        if !changed {
            return (case, ours_out, ref_out);
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
            crate::gen::if_r0_zero(2),
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
        fn run(&self, case: &GenProgram) -> XdpOutcome {
            if case.insns.iter().any(|i| matches!(i, Insn::Neg { .. })) {
                XdpOutcome::Failed("neg".into())
            } else {
                InterpXdp.run(case)
            }
        }
    }

    #[test]
    fn the_interpreter_agrees_with_itself_and_shrinking_finds_the_culprit() {
        let interp = InterpXdp;
        let s = run_random(&interp, &interp, 300, 7, |_, _| {});
        assert_eq!((s.agreed, s.disagreed.len(), s.refused), (300, 0, 0));
        let s = run_random(&NegHater, &interp, 300, 7, |_, _| {});
        assert!(!s.disagreed.is_empty());
        for d in &s.disagreed {
            // Shrunk to the prologue (kept whole), the neg, and what the
            // program needs around it.
            assert!(d.case.insns.iter().any(|i| matches!(i, Insn::Neg { .. })));
            assert!(
                d.case.insns.len() <= d.case.prologue + 6,
                "{:?}",
                d.case.insns
            );
            assert!(d.reproduced);
            assert_eq!(d.ours, XdpOutcome::Failed("neg".into()));
        }
    }

    /// An engine that fails every run after its `n`th, whatever the case:
    /// the kind of engine whose disagreement goes away on a replay.
    struct FailsFrom {
        runs: std::cell::Cell<u32>,
        n: u32,
    }
    impl XdpEngine for FailsFrom {
        fn name(&self) -> &str {
            "fails-from"
        }
        fn run(&self, case: &GenProgram) -> XdpOutcome {
            self.runs.set(self.runs.get() + 1);
            if self.runs.get() == self.n {
                XdpOutcome::Failed("once".into())
            } else {
                InterpXdp.run(case)
            }
        }
    }

    #[test]
    fn a_disagreement_that_does_not_replay_keeps_the_outcomes_seen_and_says_so() {
        let flaky = FailsFrom {
            runs: std::cell::Cell::new(0),
            n: 3,
        };
        let s = run_random(&flaky, &InterpXdp, 5, 7, |_, _| {});
        assert_eq!(s.disagreed.len(), 1, "{s}");
        let d = &s.disagreed[0];
        assert_eq!(d.case.seed, 9);
        assert!(!d.reproduced);
        assert_eq!(d.ours, XdpOutcome::Failed("once".into()));
        assert!(
            matches!(d.reference, XdpOutcome::Ran { .. }),
            "{:?}",
            d.reference
        );
    }
}
