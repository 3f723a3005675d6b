//! From a rejection and its replayed path to an [`Explanation`]: the code,
//! the subject and its state in words, the root cause and the suggestion,
//! one analysis per kind of rejection.

use super::catalog::describe_code;
use super::trace::{self, Origin, Prog};
use super::{Cause, Explanation, PathBranch, Site, SourceLine};
use crate::check::TraceStep;
use crate::error::RejectionKind as K;
use crate::state::{RegState, RegType};
use crate::Rejection;
use ironbpf_isa::{CallTarget, Insn, RawInsn};

struct Cx<'a> {
    insns: &'a [RawInsn],
    maps: &'a [crate::MapInfo],
    prog: Prog,
    rej: &'a Rejection,
    steps: &'a [TraceStep],
    lines: &'a [Option<SourceLine>],
}

/// What one analysis finds.
struct Found {
    code: &'static str,
    subject: Option<String>,
    reason: String,
    cause: Option<(usize, String)>,
    suggestion: String,
}

impl Found {
    fn new(code: &'static str) -> Found {
        Found {
            code,
            subject: None,
            reason: String::new(),
            cause: None,
            suggestion: String::new(),
        }
    }
}

/// [`super::explain`] with the path already replayed (`steps` from
/// [`crate::replay_path`]; empty when there is no path, as for the
/// structure checks).
pub fn explain_with_trace(
    insns: &[RawInsn],
    maps: &[crate::MapInfo],
    rej: &Rejection,
    steps: &[TraceStep],
    lines: &[Option<SourceLine>],
) -> Explanation {
    let decoded = (0..insns.len())
        .map(|pc| insns.get(pc..).and_then(|s| Insn::decode(s, pc).ok()))
        .collect::<Vec<_>>();
    // The second slot of an ld_imm64 decodes as garbage: blank it.
    let mut decoded = decoded;
    let mut pc = 0;
    while pc < decoded.len() {
        if matches!(decoded.get(pc), Some(Some(Insn::LdImm64 { .. }))) && pc + 1 < decoded.len() {
            if let Some(tail) = decoded.get_mut(pc + 1) {
                *tail = None;
            }
            pc += 2;
        } else {
            pc += 1;
        }
    }
    let cx = Cx {
        insns,
        maps,
        prog: Prog { decoded },
        rej,
        steps,
        lines,
    };
    let at_insn = rej.insn.or_else(|| kind_insn(&rej.kind)).or_else(|| {
        // A call chain's stack: the first bpf-to-bpf call stacks the frames.
        matches!(rej.kind, K::StackTooLarge { .. })
            .then(|| {
                cx.prog
                    .decoded
                    .iter()
                    .position(|i| matches!(i, Some(Insn::Call(CallTarget::Local(_)))))
            })
            .flatten()
    });
    let mut f = cx.analyse();
    if f.reason.is_empty() {
        f.reason = rej.message.lines().last().unwrap_or("").to_string();
    }
    #[allow(
        clippy::indexing_slicing,
        reason = "the catalog's CODES is a constant table with entries"
    )]
    let info = describe_code(f.code).unwrap_or(&super::catalog::CODES[0]);
    let at = at_insn.map(|i| cx.site(i));
    let root_cause = f.cause.map(|(i, what)| Cause {
        site: cx.site(i),
        what,
    });
    let path = cx.branches(root_cause.as_ref().map(|c| c.site.insn));
    if f.code == "E-REF-LEAK" {
        // The last branch after the acquire is the one that skips the
        // release.
        let acq = root_cause.as_ref().map_or(0, |c| c.site.insn);
        if let Some(b) = path.iter().rev().find(|b| b.site.insn > acq) {
            f.suggestion.push_str(&format!(
                "; this path leaves through the branch at {} ({}, {}) without releasing it",
                b.site.place(),
                b.condition,
                if b.taken { "taken" } else { "not taken" }
            ));
        }
    }
    let context = cx.context();
    let state = f
        .subject
        .as_deref()
        .and_then(|s| s.strip_prefix('r'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&r| r <= 10)
        .and_then(|r| {
            let st = &steps.last()?.before;
            let mut out = format!("R{r}=");
            st.reg(r)
                .write(&mut out, st.frames.len().saturating_sub(1) as u32, maps);
            Some(out)
        });
    let title = match &f.subject {
        Some(s) => format!("{} ({s})", info.title),
        None => info.title.to_string(),
    };
    Explanation {
        code: info.code,
        category: info.category,
        title,
        message: rej.message.lines().last().unwrap_or("").to_string(),
        at,
        subject: f.subject,
        reason: f.reason,
        state,
        root_cause,
        path,
        context,
        suggestion: f.suggestion,
        full_path: rej.path.clone(),
    }
}

/// The instruction a whole-program rejection is about, from its kind.
fn kind_insn(k: &K) -> Option<usize> {
    match *k {
        K::NeedsPrivilege { pc, .. }
        | K::Unsupported { pc, .. }
        | K::ReservedField { pc, .. }
        | K::BadLdImm64 { pc }
        | K::UnknownOpcode { pc, .. }
        | K::Unreachable { pc }
        | K::InfiniteLoop { pc }
        | K::BadMapReference { pc, .. } => Some(pc),
        K::JumpOutOfRange { from, .. } | K::BackEdge { from, .. } => Some(from),
        K::JumpIntoLdImm64 { ldimm64, .. } => Some(ldimm64),
        K::FallsOffEnd { last, .. } => Some(last),
        _ => None,
    }
}

/// `R2` in the kernel's message: the first `R<n>` word.
fn msg_reg(msg: &str) -> Option<usize> {
    for w in msg.split(|c: char| !c.is_ascii_alphanumeric()) {
        if let Some(n) = w.strip_prefix('R') {
            if let Ok(r) = n.parse::<usize>() {
                if r <= 10 {
                    return Some(r);
                }
            }
        }
    }
    None
}

/// The variable a source line assigns (`val` in `val = bpf_map_lookup_elem(...)`).
fn assigned_var(src: &SourceLine) -> Option<String> {
    let t = src.text.trim();
    let eq = t.find('=')?;
    if t[eq + 1..].starts_with('=') || eq == 0 {
        return None;
    }
    let lhs = t[..eq].trim_end();
    let name: String = lhs
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!name.is_empty() && !name.chars().next().is_some_and(|c| c.is_ascii_digit())).then_some(name)
}

fn scalar_words(r: &RegState) -> String {
    if let Some(v) = r.const_value() {
        return format!("the constant {}", v as i64);
    }
    let v = &r.val;
    if v.smin >= 0 {
        format!("a number in [{}, {}]", v.umin, v.umax)
    } else {
        format!("a number in [{}, {}]", v.smin, v.smax)
    }
}

fn reg_words(r: &RegState) -> String {
    match r.ty {
        RegType::NotInit => "not initialised".into(),
        RegType::Scalar => scalar_words(r),
        _ => {
            let mut s = format!("a pointer ({})", r.type_str());
            if r.off != 0 {
                s.push_str(&format!(" at offset {}", r.off));
            }
            if !r.val.var_off.is_const() {
                s.push_str(&format!(
                    " plus a variable part in [{}, {}]",
                    r.val.umin, r.val.umax
                ));
            }
            s
        }
    }
}

impl Cx<'_> {
    fn site(&self, insn: usize) -> Site {
        let text = match self.prog.decoded.get(insn).and_then(|i| i.as_ref()) {
            Some(i) => {
                // Decoded from insns[insn], so it exists.
                let code = self.insns.get(insn).map_or(0, |r| r.code);
                let l = ironbpf_isa::format_log_line(insn, i, code);
                l.split_once(") ").map_or(l.clone(), |(_, t)| t.to_string())
            }
            None => "(not an instruction)".into(),
        };
        Site {
            insn,
            text,
            source: self.lines.get(insn).cloned().flatten(),
        }
    }

    fn place(&self, insn: usize) -> String {
        self.site(insn).place()
    }

    fn insn(&self, pc: usize) -> Option<&Insn> {
        self.prog.decoded.get(pc).and_then(|i| i.as_ref())
    }

    /// The failing step (the last of the replay).
    fn last(&self) -> Option<usize> {
        self.steps.len().checked_sub(1)
    }

    fn before(&self) -> Option<&crate::state::VState> {
        self.steps.last().map(|s| &s.before)
    }

    fn at(&self) -> usize {
        self.rej
            .insn
            .or_else(|| kind_insn(&self.rej.kind))
            .unwrap_or(0)
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "j is an index the trace module found by searching self.steps"
    )]
    fn step_insn(&self, j: usize) -> usize {
        self.steps[j].insn as usize
    }

    fn helper_at(&self, pc: usize) -> Option<String> {
        match self.insn(pc)? {
            Insn::Call(CallTarget::Helper(id)) => {
                Some(ironbpf_helpers::catalog::helper_name(*id as i64).map_or(
                    format!("helper #{id}"),
                    |n| {
                        if n.starts_with("bpf_") {
                            n.to_string()
                        } else {
                            format!("bpf_{n}")
                        }
                    },
                ))
            }
            Insn::Call(CallTarget::Local(_)) => Some("the bpf-to-bpf call".into()),
            _ => None,
        }
    }

    /// The origin of `reg` at the failing step, as an instruction index.
    fn origin_insn(&self, reg: usize) -> Option<(usize, Origin)> {
        let k = self.last()?;
        let o = trace::origin(&self.prog, self.steps, k, reg);
        match o {
            Origin::Written(j) | Origin::Clobbered(j) => Some((self.step_insn(j), o)),
            Origin::Never => None,
        }
    }

    /// The instruction that last wrote `reg` before the failing step (no
    /// copies followed).
    fn def_insn(&self, reg: usize) -> Option<usize> {
        let k = self.last()?;
        match trace::def_of(&self.prog, self.steps, k, reg) {
            Origin::Written(j) | Origin::Clobbered(j) => Some(self.step_insn(j)),
            Origin::Never => None,
        }
    }

    fn analyse(&self) -> Found {
        let at = self.at();
        let here = self.place(at);
        let msg = self.rej.message.as_str();
        match &self.rej.kind {
            K::InvalidMemAccess { reg, reg_type } if reg_type.contains("_or_null") => {
                self.null_pointer("E-NULL-DEREF", *reg as usize, "dereferenced")
            }
            K::PointerArithmetic { reg, ptr_type } if ptr_type.contains("_or_null") => {
                self.null_pointer("E-NULL-ARITH", *reg as usize, "used in arithmetic")
            }
            K::InvalidMemAccess { .. } if msg.starts_with("write into map forbidden") => {
                let mut f = Found::new("E-MAP-READONLY");
                f.subject = msg_reg(msg).map(|r| format!("r{r}"));
                f.reason = "the map value is read-only to programs (the map was created with BPF_F_RDONLY_PROG, or it is a frozen .rodata map)".into();
                f.cause = Some((at, "writes into the read-only map value".into()));
                f.suggestion = format!("do not write the value at {here}: keep what you write in another map or drop BPF_F_RDONLY_PROG from the map's flags");
                f
            }
            K::InvalidMemAccess { reg, reg_type } => self.bad_deref(*reg as usize, reg_type),
            K::OutOfBounds {
                reg,
                region,
                off,
                size,
                limit,
            } => {
                if *region == "packet" {
                    self.packet_bounds(*reg as usize, *off, *size, *limit)
                } else {
                    self.region_bounds(*reg as usize, region, *off, *size, *limit)
                }
            }
            K::NegativeMin { reg } | K::Unbounded { reg } => {
                let r = *reg as usize;
                let ty = self.before().map(|b| b.reg(r).ty);
                let region = match ty {
                    Some(RegType::Packet | RegType::PacketMeta) => "packet",
                    Some(RegType::MapValue) => "map value",
                    _ => "memory",
                };
                if region == "packet" {
                    let mut f = self.variable_offset(r, region, None);
                    f.code = "E-PKT-NEG-OFFSET";
                    f
                } else {
                    self.variable_offset(r, region, None)
                }
            }
            K::UninitStack { off, size } => self.uninit_stack(*off, *size),
            K::UninitRegister { reg } => self.uninit_reg(*reg as usize),
            K::StackOutOfBounds { off, size } => {
                if matches!(self.insn(at), Some(Insn::Call(_))) {
                    self.helper_mem(*off, *size)
                } else {
                    self.stack_bounds(*off, *size)
                }
            }
            K::BadSpill { off } => {
                let mut f = Found::new("E-STACK-SPILL");
                f.subject = Some(format!("fp{off}"));
                f.reason = format!("the 8-byte slot at fp{off} holds a spilled pointer, and this instruction reads or overwrites only part of it");
                f.cause = Some((at, "accesses part of a spilled pointer".into()));
                f.suggestion = format!(
                    "access the slot at fp{off} with 8-byte loads and stores only (a pointer is spilled whole), or keep the value in another slot"
                );
                f
            }
            K::ArgType { reg, got, expected } => {
                let r = *reg as usize;
                let mut f = Found::new("E-HELPER-ARG-TYPE");
                f.subject = Some(format!("r{r}"));
                let helper = self.helper_at(at).unwrap_or_else(|| "the helper".into());
                f.reason =
                    format!("argument {r} of {helper} must be {expected}, but r{r} is {got} here");
                let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
                f.cause = Some((ci, format!("sets r{r} to {got}")));
                f.suggestion = if expected.contains("map_ptr") {
                    format!("pass the map itself in r{r} (`&my_map`, a `r{r} = map[...]` ld_imm64) when calling {helper} at {here}")
                } else {
                    format!("pass {expected} in r{r} to {helper} at {here}")
                };
                f
            }
            K::ArgSize { reg } => {
                let r = *reg as usize;
                let mut f = Found::new("E-HELPER-ARG-SIZE");
                f.subject = Some(format!("r{r}"));
                let w = self
                    .before()
                    .map_or("unknown".into(), |b| reg_words(b.reg(r)));
                f.reason =
                    format!("the size in r{r} must be a positive, bounded number; it is {w} here");
                let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
                f.cause = Some((ci, format!("sets the size r{r}")));
                f.suggestion = format!(
                    "bound the size before {here}: `if (len == 0 || len > sizeof(buf)) return 0;`"
                );
                f
            }
            K::ArgNotConst { reg } => {
                let r = *reg as usize;
                let mut f = Found::new("E-HELPER-ARG-CONST");
                f.subject = Some(format!("r{r}"));
                f.reason = format!("r{r} must be a constant the verifier knows");
                let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
                f.cause = Some((ci, format!("sets r{r} to a value that is not constant")));
                f.suggestion = format!("pass a literal constant in r{r} at {here}");
                f
            }
            K::MapIncompatible { map_type } => {
                let mut f = Found::new("E-HELPER-MAP-TYPE");
                f.reason = format!(
                    "a map of type {} cannot be used with this helper or instruction",
                    ironbpf_maps::map_type_name(*map_type)
                );
                f.cause = Some((at, "passes the map".into()));
                f.suggestion = format!(
                    "use a map type this helper accepts at {here} (see the helper's documentation)"
                );
                f
            }
            K::PointerLeak { reg, into } => {
                let r = *reg as usize;
                let mut f = Found::new("E-PTR-LEAK");
                f.subject = Some(format!("r{r}"));
                let w = self
                    .before()
                    .map_or("a pointer".into(), |b| reg_words(b.reg(r)));
                f.reason = format!(
                    "r{r} is {w}, and an unprivileged program may not let it escape into {into}"
                );
                if *into == "the return value" {
                    let ci = self.def_insn(0).unwrap_or(at);
                    f.cause = Some((ci, "puts a pointer in r0".into()));
                    f.suggestion = "return a number (0, 1, a length), not a pointer; unprivileged programs may not leak addresses".into();
                } else {
                    f.cause = Some((at, format!("lets the pointer in r{r} escape into {into}")));
                    f.suggestion = format!("at {here}, store a number (a value read through the pointer, a length) instead of the pointer, or load the program with CAP_BPF and CAP_PERFMON");
                }
                f
            }
            K::PointerComparison { reg } => {
                let mut f = Found::new("E-PTR-COMPARE");
                f.subject = Some(format!("r{reg}"));
                f.reason = format!("r{reg} holds a pointer; unprivileged programs may only compare pointers with NULL or packet pointers with each other");
                f.cause = Some((at, "compares a pointer".into()));
                f.suggestion = format!("compare the value the pointer points to, not the pointer, at {here}; or load with CAP_BPF");
                f
            }
            K::PointerArithmetic { reg, ptr_type } => {
                let mut f = Found::new("E-PTR-ARITH");
                f.subject = Some(format!("r{reg}"));
                f.reason = format!(
                    "r{reg} is a {ptr_type} pointer, and this arithmetic is not allowed on it"
                );
                f.cause = Some((at, "computes on the pointer".into()));
                f.suggestion = "only add or subtract a bounded number to a pointer; compute on the values it points to instead".into();
                f
            }
            K::CtxAccess { off, size, why } => {
                let write = matches!(
                    self.insn(at),
                    Some(Insn::Store { .. } | Insn::StoreReg { .. } | Insn::Atomic { .. })
                );
                let ro = matches!(why, Some(ironbpf_progtype::desc::CtxRefusal::ReadOnly));
                let mut f = Found::new(if write || ro {
                    "E-CTX-WRITE"
                } else {
                    "E-CTX-ACCESS"
                });
                f.subject = Some(format!("ctx+{off}"));
                let why_s = why.as_ref().map_or(String::new(), |w| format!(": {w}"));
                f.reason = format!(
                    "the program type does not allow a {}{size}-byte {} of its context at offset {off}{why_s}",
                    "",
                    if write { "write" } else { "read" },
                );
                f.cause = Some((
                    at,
                    format!(
                        "{} the context at offset {off}",
                        if write { "writes" } else { "reads" }
                    ),
                ));
                f.suggestion = if write {
                    format!("this program type may not write the context field at offset {off} ({here}): keep the value in a local variable or a map, or use the helper that changes it (bpf_skb_change_*, bpf_xdp_adjust_*)")
                } else {
                    format!("read a field the program type's context struct has, at its own size, at {here} (offset {off} size {size} is not one)")
                };
                f
            }
            K::ModifiedCtx { reg, off } => {
                let r = *reg as usize;
                let mut f = Found::new("E-CTX-MODIFIED");
                f.subject = Some(format!("r{r}"));
                f.reason = format!("r{r} points {off} bytes past the context's start; context fields are read from the context pointer itself with a constant offset");
                let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
                f.cause = Some((ci, "moves the context pointer".into()));
                f.suggestion = format!("read `ctx->field` from the unmodified context pointer at {here} instead of moving the pointer first");
                f
            }
            K::Misaligned { reg, off, size } => {
                let mut f = Found::new("E-ALIGN");
                f.subject = Some(format!("r{reg}"));
                f.reason = format!("a {size}-byte access at offset {off} is not aligned to {size} bytes (stack accesses always, other memory under strict alignment)");
                f.cause = Some((at, format!("accesses {size} bytes at offset {off}")));
                f.suggestion = format!("use an offset that is a multiple of {size} at {here}, or read the bytes one at a time (or with __builtin_memcpy)");
                f
            }
            K::ReturnValue { min, max } => {
                let mut f = Found::new("E-RETURN-RANGE");
                f.subject = Some("r0".into());
                let w = self
                    .before()
                    .map_or("out of range".into(), |b| reg_words(b.reg(0)));
                f.reason = format!(
                    "at exit r0 is {w}; this program type must return a value in [{min}, {max}]"
                );
                let (ci, _) = self.origin_insn(0).unwrap_or((at, Origin::Never));
                f.cause = Some((ci, "sets the return value".into()));
                f.suggestion = format!(
                    "return a value in [{min}, {max}] on every path (the value set at {})",
                    self.place(ci)
                );
                f
            }
            K::InfiniteLoop { pc } => {
                let mut f = Found::new("E-LOOP-INFINITE");
                f.reason = format!("the path comes back to insn {pc} with exactly the state it had before: the loop can never end");
                let back = self
                    .rej
                    .path
                    .len()
                    .checked_sub(2)
                    .and_then(|i| self.rej.path.get(i))
                    .map(|&i| i as usize)
                    .unwrap_or(*pc);
                f.cause = Some((
                    back,
                    format!("jumps back to insn {pc} with nothing changed"),
                ));
                f.suggestion = format!("make the loop at {} advance a bounded counter each time round (`for (i = 0; i < N; i++)`), or use bpf_loop()", self.place(back));
                f
            }
            K::BackEdge { from, to } => {
                let mut f = Found::new("E-LOOP-BACK-EDGE");
                f.reason = format!(
                    "insn {from} jumps back to insn {to}, and this loader may not load loops"
                );
                f.cause = Some((*from, format!("jumps back to insn {to}")));
                f.suggestion = format!("unroll the loop at {} (`#pragma unroll` with a constant count), or load the program with CAP_BPF", self.place(*from));
                f
            }
            K::TooComplex { processed } => self.too_complex(*processed),
            K::JumpSequence { count } => {
                let mut f = Found::new("E-COMPLEXITY");
                f.reason = format!("{count} branches wait to be explored at once");
                f.cause = Some((at, "one branch too many".into()));
                f.suggestion = "reduce the number of branches on one path (move work into a bpf-to-bpf function or a tail call)".into();
                f
            }
            K::UnreleasedReference { id, insn } => {
                let mut f = Found::new("E-REF-LEAK");
                f.subject = Some(format!("ref id={id}"));
                f.reason =
                    format!("the reference acquired at insn {insn} is still held at this exit");
                f.cause = Some((*insn, "acquires the reference".into()));
                f.suggestion = format!("release what {} acquires on every path before returning (bpf_ringbuf_submit() or bpf_ringbuf_discard() for a ringbuf record, bpf_sk_release() for a socket)", self.place(*insn));
                f
            }
            K::StackTooLarge { calls, size } => {
                let mut f = Found::new("E-STACK-SIZE");
                f.reason = format!(
                    "{calls} frames on one call chain use {size} bytes of stack; the limit is 512"
                );
                if let Some(d) = self.deepest_stack_access() {
                    f.cause = Some((d, "uses the deepest stack slot of the main program".into()));
                }
                f.suggestion = "make the functions' stack smaller (move large buffers into a per-CPU array map) or call fewer of them in a chain".into();
                f
            }
            K::CallTooDeep { frames } => {
                let mut f = Found::new("E-CFG-CALL-DEPTH");
                f.reason = format!("{frames} nested bpf-to-bpf calls; the limit is 8");
                f.suggestion =
                    "nest fewer function calls (mark small helpers __always_inline)".into();
                f
            }
            K::FramePointerWrite => {
                let mut f = Found::new("E-FP-WRITE");
                f.subject = Some("r10".into());
                f.reason = "r10 is the frame pointer and may not be written".into();
                f.cause = Some((at, "writes r10".into()));
                f.suggestion =
                    format!("copy r10 into another register and change that one at {here}");
                f
            }
            K::JumpOutOfRange { from, to } => {
                let mut f = Found::new("E-CFG-JUMP-RANGE");
                f.reason = format!(
                    "insn {from} jumps to insn {to}, outside its subprogram or the program"
                );
                f.cause = Some((*from, format!("jumps to insn {to}")));
                f.suggestion = "fix the jump's offset (a hand-written or patched program) so it lands inside the same function".into();
                f
            }
            K::JumpIntoLdImm64 { from, ldimm64 } => {
                let mut f = Found::new("E-CFG-INTO-LDIMM64");
                f.reason = format!("insn {from} jumps to the second half of the 16-byte ld_imm64 at insn {ldimm64}");
                f.cause = Some((*from, format!("jumps into the ld_imm64 at insn {ldimm64}")));
                f.suggestion = format!(
                    "aim the jump at insn {ldimm64} or {}, not between its two slots",
                    ldimm64 + 2
                );
                f
            }
            K::Unreachable { pc } => {
                let mut f = Found::new("E-CFG-UNREACHABLE");
                f.reason = format!("no path from the entry reaches insn {pc}");
                f.cause = Some((*pc, "is never reached".into()));
                f.suggestion =
                    "remove the dead code (or the jump that skips it was meant to go elsewhere)"
                        .into();
                f
            }
            K::FallsOffEnd { last, .. } => {
                let mut f = Found::new("E-CFG-FALL-OFF");
                f.reason = format!(
                    "the function's last instruction (insn {last}) neither exits nor jumps"
                );
                f.cause = Some((*last, "is the last instruction".into()));
                f.suggestion = "end every function with an exit (return) or a jump".into();
                f
            }
            K::TooManySubprogs { count } => {
                let mut f = Found::new("E-CFG-SUBPROGS");
                f.reason = format!("{count} subprograms; the limit is 256");
                f.suggestion = "inline small functions (__always_inline)".into();
                f
            }
            K::Empty => {
                let mut f = Found::new("E-PROG-EMPTY");
                f.reason = "the program has no instructions".into();
                f.suggestion = "check that the section holds the program's code".into();
                f
            }
            K::TooManyInsns { count, limit } => {
                let mut f = Found::new("E-PROG-TOO-LARGE");
                f.reason = format!("{count} instructions; the limit is {limit}");
                f.suggestion =
                    "split the program (tail calls) or load it with CAP_BPF (1M instructions)"
                        .into();
                f
            }
            K::ReservedField { what, .. } => {
                let mut f = Found::new("E-INSN-RESERVED");
                f.reason = format!("a {what} instruction has a field set that must be zero");
                f.cause = Some((at, "has reserved fields set".into()));
                f.suggestion = "emit the instruction with its unused fields zero (a compiler or assembler bug)".into();
                f
            }
            K::BadLdImm64 { .. } => {
                let mut f = Found::new("E-INSN-LDIMM64");
                f.reason =
                    "the ld_imm64 instruction is malformed (its second slot, or its source)".into();
                f.cause = Some((at, "is the malformed ld_imm64".into()));
                f.suggestion = "emit ld_imm64 as two slots whose second has only imm set".into();
                f
            }
            K::UnknownOpcode { code, .. } => {
                let mut f = Found::new("E-INSN-OPCODE");
                f.reason = format!("opcode {code:#04x} does not exist");
                f.cause = Some((at, "has the unknown opcode".into()));
                f.suggestion =
                    "compile for an instruction set this kernel knows (-mcpu=v3 or v4)".into();
                f
            }
            K::DivByZero => {
                let mut f = Found::new("E-INSN-DIV-ZERO");
                f.reason = "the divisor is the constant 0".into();
                f.cause = Some((at, "divides by 0".into()));
                f.suggestion = format!("divide by a non-zero constant at {here}, or by a register (BPF defines x/0 as 0)");
                f
            }
            K::InvalidShift { shift } => {
                let mut f = Found::new("E-INSN-SHIFT");
                f.reason = format!("a shift by {shift} is not below the operand's width");
                f.cause = Some((at, format!("shifts by {shift}")));
                f.suggestion = "shift by less than 32 (32-bit) or 64 (64-bit)".into();
                f
            }
            K::KfuncNotAllowed { name, .. } => {
                let mut f = Found::new("E-KFUNC-NOT-ALLOWED");
                let what = if name.is_empty() {
                    "this kernel function".to_string()
                } else {
                    name.clone()
                };
                f.reason = format!(
                    "{what} may not be called from this program: {}",
                    self.rej.message.lines().last().unwrap_or("")
                );
                f.cause = Some((at, format!("calls {what}")));
                f.suggestion = "call a kfunc this program type offers, or load the program as a type (sleepable where the kfunc sleeps) that offers it".into();
                f
            }
            K::KfuncArg {
                reg,
                kfunc,
                got,
                expected,
            } => {
                let r = *reg as usize;
                let mut f = Found::new("E-KFUNC-ARG");
                f.subject = Some(format!("r{r}"));
                f.reason =
                    format!("argument {r} of {kfunc} must be {expected}, but r{r} is {got} here");
                let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
                f.cause = Some((ci, format!("sets r{r} to {got}")));
                f.suggestion = format!("pass {expected} in r{r} to {kfunc} at {here} (check a pointer that may be NULL first; release only what an acquire kfunc returned)");
                f
            }
            K::RcuSection { .. } => {
                let mut f = Found::new("E-RCU-SECTION");
                f.reason = format!(
                    "the RCU read section is broken here: {}",
                    self.rej.message.lines().last().unwrap_or("")
                );
                f.cause = Some((at, "breaks the RCU read section".into()));
                f.suggestion = "pair every bpf_rcu_read_lock() with one bpf_rcu_read_unlock() on every path, without nesting, and call nothing that sleeps in between".into();
                f
            }
            K::Iterator { reg } => {
                let r = *reg as usize;
                let mut f = Found::new("E-ITER-STATE");
                f.subject = Some(format!("r{r}"));
                f.reason = format!(
                    "the iterator r{r} points to is in the wrong state: {}",
                    self.rej.message.lines().last().unwrap_or("")
                );
                f.cause = Some((at, "uses the iterator".into()));
                f.suggestion = "call bpf_iter_<type>_new() once on an aligned stack slot, then next until NULL, then destroy, on the same slot (bpf_for does this)".into();
                f
            }
            K::Dynptr { reg } => {
                let r = *reg as usize;
                let mut f = Found::new("E-DYNPTR-STATE");
                if r != 0 {
                    f.subject = Some(format!("r{r}"));
                }
                f.reason = format!(
                    "the dynptr is in the wrong state here: {}",
                    self.rej.message.lines().last().unwrap_or("")
                );
                f.cause = Some((at, "uses the dynptr".into()));
                f.suggestion = "make each dynptr once on an aligned 16-byte stack slot, use it only while it lives, release every ring buffer dynptr (submit or discard) on every path, and do not store over it".into();
                f
            }
            K::NeedsPrivilege { what, .. } => {
                let mut f = Found::new("E-PRIV-REQUIRED");
                f.reason = format!("{what} needs a privileged loader (CAP_BPF)");
                f.cause = Some((at, format!("uses {what}")));
                f.suggestion =
                    "load the program with CAP_BPF (and CAP_PERFMON), or avoid the operation"
                        .into();
                f
            }
            K::Unsupported { what, .. } => {
                let mut f = Found::new("E-UNSUPPORTED");
                f.reason =
                    format!("ironbpf's verifier does not model {what} (the kernel may accept it)");
                f.cause = Some((at, format!("uses {what}")));
                f.suggestion =
                    "verify this program with the kernel (`ironbpf verify --kernel`)".into();
                f
            }
            K::BadMapReference { index, .. } => {
                let mut f = Found::new("E-MAP-REF");
                f.reason = format!("map reference {index} is not one of the program's maps");
                f.cause = Some((at, "refers to the map".into()));
                f.suggestion = "refer to a map the object defines (check the relocation)".into();
                f
            }
            K::UnknownHelper { id } => {
                let mut f = Found::new("E-HELPER-UNKNOWN");
                f.reason = format!("helper #{id} does not exist in this kernel");
                f.cause = Some((at, format!("calls helper #{id}")));
                f.suggestion =
                    "call a helper this kernel has (bpftool feature probe lists them)".into();
                f
            }
            K::HelperNotAllowed { id } => {
                let mut f = Found::new("E-HELPER-NOT-ALLOWED");
                let name = self.helper_at(at).unwrap_or(format!("helper #{id}"));
                f.reason = format!("{name} is not available to this program type");
                f.cause = Some((at, format!("calls {name}")));
                f.suggestion = format!("use a helper this program type may call instead of {name} at {here}, or change the program type (section name)");
                f
            }
            K::GplOnly { id } => {
                let mut f = Found::new("E-HELPER-GPL");
                let name = self.helper_at(at).unwrap_or(format!("helper #{id}"));
                f.reason =
                    format!("{name} is GPL-only and the program's license is not GPL-compatible");
                f.cause = Some((at, format!("calls {name}")));
                f.suggestion = "declare a GPL-compatible license (`char LICENSE[] SEC(\"license\") = \"GPL\";`)".into();
                f
            }
            K::Other => {
                let mut f = Found::new("E-OTHER");
                f.cause = self.rej.insn.map(|i| (i, "is refused".into()));
                f.suggestion = "see the kernel's message above".into();
                f
            }
        }
    }

    fn null_pointer(&self, code: &'static str, r: usize, verb: &str) -> Found {
        let at = self.at();
        let mut f = Found::new(code);
        f.subject = Some(format!("r{r}"));
        let origin = self.origin_insn(r);
        let call = origin.and_then(|(i, _)| self.helper_at(i).map(|h| (i, h)));
        match call {
            Some((ci, h)) => {
                let cs = self.site(ci);
                f.reason = format!("r{r} may be NULL here: it holds the result of {h} ({}), and no check on this path proves it is not NULL before it is {verb}", cs.place());
                f.cause = Some((
                    ci,
                    format!(
                        "{h} may return NULL; its result is never compared with NULL before {}",
                        self.place(at)
                    ),
                ));
                let var = cs.source.as_ref().and_then(assigned_var);
                f.suggestion = match (&cs.source, var) {
                    (Some(s), Some(v)) => format!("check `{v}` for NULL after line {}: `if (!{v}) return 0;`, before it is {verb} at {}", s.line, self.place(at)),
                    (Some(s), None) => format!("check the result of {h} for NULL after line {}: `if (!ptr) return 0;`", s.line),
                    _ => format!("check r0 for NULL right after {h} at insn {ci}: `if r0 == 0 goto <exit>` before {}", self.place(at)),
                };
            }
            None => {
                f.reason = format!("r{r} may be NULL here and is {verb} without a NULL check");
                f.cause = Some((at, format!("uses r{r} without a NULL check")));
                f.suggestion = format!("compare r{r} with NULL before {}", self.place(at));
            }
        }
        f
    }

    fn packet_bounds(&self, r: usize, off: i64, size: i64, limit: i64) -> Found {
        let at = self.at();
        let here = self.place(at);
        let mut f = Found::new("E-PKT-BOUNDS");
        f.subject = Some(format!("r{r}"));
        let end = off + size;
        let check = self
            .last()
            .and_then(|k| trace::packet_check(&self.prog, self.steps, k));
        if limit > 0 {
            f.reason =
                format!("the access reaches byte {end} of a packet proven {limit} bytes long");
        } else {
            f.reason = format!("the access needs {end} bytes of packet, and no check against data_end proves any byte readable for r{r} on this path");
        }
        match check {
            Some(j) if limit > 0 => {
                let ci = self.step_insn(j);
                f.cause = Some((ci, format!("this bounds check proves only {limit} bytes")));
                f.suggestion = format!("the check at {} proves {limit} bytes but the access at {here} needs {end}: check `data + {end} > data_end` there (or access within the first {limit} bytes)", self.place(ci));
            }
            _ => {
                f.cause = Some((at, "reads the packet with no bounds check before it".into()));
                f.suggestion = format!("before {here}, check `if (data + {end} > data_end) return XDP_PASS;` (or TC_ACT_OK / 0) on the packet pointer");
            }
        }
        f
    }

    fn region_bounds(&self, r: usize, region: &str, off: i64, size: i64, limit: i64) -> Found {
        let reg = self.before().map(|b| *b.reg(r));
        let variable = reg.is_some_and(|x| !x.val.var_off.is_const());
        if variable {
            return self.variable_offset(r, region, Some((off, size, limit)));
        }
        let at = self.at();
        let mut f = Found::new(if region == "map value" {
            "E-MAP-BOUNDS"
        } else {
            "E-MEM-BOUNDS"
        });
        f.subject = Some(format!("r{r}"));
        f.reason = format!("the access of {size} bytes at offset {off} reaches byte {} of a {region} of {limit} bytes", off + size);
        f.cause = Some((
            at,
            format!("accesses offset {off} of the {limit}-byte {region}"),
        ));
        f.suggestion = format!("keep the access within the {limit} bytes of the {region} at {}: the last {size}-byte field starts at offset {}", self.place(at), (limit - size).max(0));
        f
    }

    fn variable_offset(&self, r: usize, region: &str, oob: Option<(i64, i64, i64)>) -> Found {
        let at = self.at();
        let here = self.place(at);
        let map = region == "map value";
        let mut f = Found::new(if map { "E-MAP-BOUNDS" } else { "E-MEM-BOUNDS" });
        f.subject = Some(format!("r{r}"));
        let reg = self
            .before()
            .map(|b| *b.reg(r))
            .unwrap_or_else(RegState::unknown);
        let neg = matches!(self.rej.kind, K::NegativeMin { .. });
        let unbounded = matches!(self.rej.kind, K::Unbounded { .. });
        // The largest index the access allows.
        let insn_off = match self.insn(at) {
            Some(Insn::Load { off, .. } | Insn::Store { off, .. } | Insn::StoreReg { off, .. }) => {
                *off as i64
            }
            _ => 0,
        };
        let fixed = reg.off as i64 + insn_off;
        let access = match self.insn(at) {
            Some(
                Insn::Load { size, .. }
                | Insn::Store { size, .. }
                | Insn::StoreReg { size, .. }
                | Insn::Atomic { size, .. },
            ) => size.bytes() as i64,
            _ => 1,
        };
        let value_size = (map && reg.ty == RegType::MapValue)
            .then(|| self.maps.get(reg.map as usize).map(|m| m.value_size as i64))
            .flatten();
        let ok = oob
            .map(|(_, size, limit)| limit - size - fixed)
            .or(value_size.map(|vs| vs - access - fixed));
        f.reason = match oob {
            Some((o, size, limit)) => format!(
                "r{r} points into a {region} of {limit} bytes at offset {fixed} plus an index in [{}, {}]; the {size}-byte access may reach byte {} (the index may be at most {})",
                reg.val.umin,
                reg.val.umax,
                o + size,
                ok.unwrap_or(0)
            ),
            None if neg => format!("r{r} points into a {region} with an index whose minimum may be negative ({})", reg.val.smin),
            None => format!("r{r} points into a {region} with an index that has no useful upper bound ({})", reg.val.umax),
        };
        let bound = match ok {
            Some(ok) => format!("`if (idx > {ok}) return 0;`"),
            None if neg => "`if (idx < 0) return 0;` (or make the index unsigned)".into(),
            None => "`if (idx >= N) return 0;` with N the number of elements".into(),
        };
        let add = self
            .last()
            .and_then(|k| trace::variable_add(&self.prog, self.steps, k, r));
        match add {
            Some((j, idx)) => {
                let ai = self.step_insn(j);
                let narrowed = trace::narrowing_branch(&self.prog, self.steps, 0, j, idx);
                match narrowed {
                    Some(b) if !unbounded => {
                        let bi = self.step_insn(b);
                        let after = self
                            .steps
                            .get(b)
                            .and_then(|s| s.after.as_ref())
                            .map(|s| *s.reg(idx));
                        let umax = after.map_or(reg.val.umax, |a| a.val.umax);
                        f.cause = Some((
                            bi,
                            format!("this bound check lets the index r{idx} reach {umax}"),
                        ));
                        f.suggestion = match ok {
                            Some(ok) => format!("tighten the check at {}: the index may be at most {ok} for the access at {here} (`if (idx > {ok}) return 0;`)", self.place(bi)),
                            None => format!("tighten the check at {}: {bound}", self.place(bi)),
                        };
                    }
                    _ => {
                        if map {
                            f.code = "E-MAP-VAR-UNBOUNDED";
                        } else {
                            f.code = "E-MEM-UNBOUNDED";
                        }
                        if neg {
                            f.code = if map {
                                "E-MAP-NEG-INDEX"
                            } else {
                                "E-MEM-NEG-INDEX"
                            };
                        }
                        f.cause = Some((
                            ai,
                            format!(
                                "adds the index r{idx} ({}) with no bound check before it",
                                self.steps
                                    .get(j)
                                    .map_or(String::new(), |s| scalar_words(s.before.reg(idx)))
                            ),
                        ));
                        f.suggestion = format!(
                            "bound the index before the add at {}: {bound}",
                            self.place(ai)
                        );
                    }
                }
            }
            None => {
                if neg {
                    f.code = if map {
                        "E-MAP-NEG-INDEX"
                    } else {
                        "E-MEM-NEG-INDEX"
                    };
                } else if unbounded {
                    f.code = if map {
                        "E-MAP-VAR-UNBOUNDED"
                    } else {
                        "E-MEM-UNBOUNDED"
                    };
                }
                f.cause = Some((at, "accesses with the variable offset".into()));
                f.suggestion = format!("bound the index before {here}: {bound}");
            }
        }
        f
    }

    fn uninit_stack(&self, off: i64, size: i64) -> Found {
        let at = self.at();
        let here = self.place(at);
        let mut f = Found::new("E-UNINIT-STACK");
        f.subject = Some(format!("fp{off}"));
        f.reason = format!("the {size} bytes at fp{off} were never written on this path");
        if matches!(self.insn(at), Some(Insn::Call(_))) {
            let helper = self.helper_at(at).unwrap_or_else(|| "the helper".into());
            let r = msg_reg(&self.rej.message).unwrap_or(1);
            let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
            f.reason = format!("{helper} reads {size} bytes at fp{off} through r{r}, and they were never written on this path");
            f.cause = Some((
                ci,
                format!("points r{r} at the buffer at fp{off}, which is never initialised"),
            ));
            f.suggestion = format!("initialise the buffer before the call at {here}: `__builtin_memset(&buf, 0, sizeof(buf));` or `= {{}}` where it is declared");
        } else {
            f.cause = Some((
                at,
                format!("reads fp{off}, which no instruction on this path wrote"),
            ));
            f.suggestion = format!("initialise the variable at fp{off} (at its declaration, `= 0` / `= {{}}`) before it is read at {here}");
        }
        f
    }

    fn uninit_reg(&self, r: usize) -> Found {
        let at = self.at();
        let here = self.place(at);
        let mut f = Found::new("E-UNINIT-REG");
        f.subject = Some(format!("r{r}"));
        let exit = matches!(self.insn(at), Some(Insn::Exit));
        let origin = self
            .last()
            .map(|k| trace::def_of(&self.prog, self.steps, k, r));
        match origin {
            Some(Origin::Clobbered(j)) => {
                let ci = self.step_insn(j);
                let what = self.helper_at(ci).unwrap_or_else(|| "the call".into());
                let local = matches!(self.insn(ci), Some(Insn::Call(CallTarget::Local(_))));
                if local && r >= 6 {
                    f.reason = format!(
                        "r{r} is not set in a new function's frame (only r1-r5 carry arguments)"
                    );
                    f.cause = Some((ci, format!("calls the function, whose r{r} starts unset")));
                    f.suggestion = format!("pass the value as an argument (r1-r5) or set r{r} in the function before {here}");
                } else {
                    f.reason = format!("r{r} was clobbered by {what} at {} (calls clobber r1-r5) and is read after it", self.place(ci));
                    f.cause = Some((ci, format!("clobbers r{r}")));
                    f.suggestion = format!("keep the value in r6-r9 or on the stack across the call at {}, or set r{r} again before {here}", self.place(ci));
                }
            }
            _ if exit && r == 0 => {
                f.code = "E-UNINIT-RETURN";
                f.reason = "no instruction on this path sets r0, the return value".into();
                f.cause = Some((at, "exits without a return value".into()));
                f.suggestion =
                    format!("set r0 (return a value) on every path before the exit at {here}");
            }
            Some(Origin::Written(j)) => {
                let ci = self.step_insn(j);
                f.reason = format!("r{r} holds no value here");
                f.cause = Some((ci, format!("leaves r{r} without a value")));
                f.suggestion = format!("set r{r} before {here}");
            }
            _ => {
                let entry = self
                    .steps
                    .iter()
                    .rev()
                    .take_while(|s| s.frame >= self.steps.last().map_or(0, |l| l.frame))
                    .last()
                    .map_or(0, |s| s.insn as usize);
                f.reason = format!("r{r} is never written on this path from the function's entry");
                f.cause = Some((entry, format!("starts the function without r{r}")));
                f.suggestion = format!("set r{r} before it is read at {here}");
            }
        }
        f
    }

    fn helper_mem(&self, off: i64, size: i64) -> Found {
        let at = self.at();
        let here = self.place(at);
        let mut f = Found::new("E-HELPER-MEM-SIZE");
        let helper = self.helper_at(at).unwrap_or_else(|| "the helper".into());
        let r = msg_reg(&self.rej.message).unwrap_or(1);
        f.subject = Some(format!("r{r}"));
        let b = self.before();
        let ptr = b.map(|b| *b.reg(r));
        let avail = ptr.map_or(-off, |p| -(p.off as i64 + p.val.smin.min(0)));
        let size_reg =
            (r + 1..=5).find(|&s| b.is_some_and(|b| b.reg(s).const_value() == Some(size as u64)));
        match size_reg.filter(|&s| s == r + 1) {
            Some(s) => {
                let (ci, _) = self.origin_insn(s).unwrap_or((at, Origin::Never));
                f.reason = format!("{helper} is told (r{s}) to use {size} bytes at fp{off}, but the buffer r{r} points to has only {avail} bytes to the frame's top");
                f.cause = Some((ci, format!("sets the size r{s} to {size}")));
                f.suggestion = format!("pass at most {avail} bytes (sizeof the buffer) in r{s} at {}, or make the buffer {size} bytes", self.place(ci));
            }
            None => {
                let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
                f.reason = format!("{helper} uses {size} bytes at r{r}, but r{r} points to fp{off} with only {avail} bytes to the frame's top");
                f.cause = Some((ci, format!("points r{r} at a buffer of {avail} bytes")));
                f.suggestion = format!("pass a buffer of at least {size} bytes (the map's key or value size) in r{r} to {helper} at {here}");
            }
        }
        f
    }

    fn stack_bounds(&self, off: i64, size: i64) -> Found {
        let at = self.at();
        let here = self.place(at);
        let mut f = Found::new("E-STACK-BOUNDS");
        let base = match self.insn(at) {
            Some(Insn::Load { src, .. }) => Some(src.index()),
            Some(
                Insn::Store { dst, .. } | Insn::StoreReg { dst, .. } | Insn::Atomic { dst, .. },
            ) => Some(dst.index()),
            _ => msg_reg(&self.rej.message),
        };
        let r = base.unwrap_or(10);
        f.subject = Some(format!("r{r}"));
        f.reason =
            format!("the {size}-byte access at fp{off} is outside the stack frame [-512, 0)");
        if r == 10 {
            f.cause = Some((at, format!("accesses fp{off}")));
            f.suggestion = format!("keep the function's stack use within 512 bytes at {here} (move large buffers into a per-CPU array map)");
            return f;
        }
        let add = self
            .last()
            .and_then(|k| trace::variable_add(&self.prog, self.steps, k, r));
        match add {
            Some((j, idx)) => {
                let ai = self.step_insn(j);
                f.reason = format!("r{r} points into the stack with a variable index (r{idx}), and the access may leave the frame");
                f.cause = Some((
                    ai,
                    format!("adds the index r{idx} with no bound that keeps it in the buffer"),
                ));
                f.suggestion = format!(
                    "bound the index before the add at {}: `if (i >= sizeof(buf)) return 0;`",
                    self.place(ai)
                );
            }
            None => {
                let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
                f.cause = Some((ci, format!("sets r{r} outside the frame")));
                f.suggestion =
                    format!("keep the pointer in r{r} within the 512-byte stack frame at {here}");
            }
        }
        f
    }

    fn bad_deref(&self, r: usize, reg_type: &str) -> Found {
        let at = self.at();
        let here = self.place(at);
        let scalar = reg_type == "scalar";
        let mut f = Found::new(if scalar {
            "E-DEREF-SCALAR"
        } else {
            "E-DEREF-INVALID"
        });
        f.subject = Some(format!("r{r}"));
        let w = self
            .before()
            .map_or(reg_type.to_string(), |b| reg_words(b.reg(r)));
        f.reason = format!("r{r} is {w}, which may not be dereferenced");
        let (ci, _) = self.origin_insn(r).unwrap_or((at, Origin::Never));
        f.cause = Some((ci, format!("sets r{r} to {w}")));
        f.suggestion = if scalar {
            format!("dereference a pointer the verifier knows (the context, a map value after its NULL check, the stack, a checked packet pointer) at {here}; to read kernel memory use bpf_probe_read_kernel()")
        } else {
            format!("r{r} ({reg_type}) cannot be read or written directly at {here}: pass it to the helpers made for it")
        };
        f
    }

    fn too_complex(&self, processed: u64) -> Found {
        let mut f = Found::new("E-COMPLEXITY");
        f.reason = format!("the verifier processed {processed} instructions without finishing");
        // The most frequent backward jump on the path's tail: the loop.
        let mut counts: std::collections::HashMap<(u32, u32), usize> = Default::default();
        let p = &self.rej.path;
        for w in p.windows(2) {
            let &[from, to] = w else { continue };
            if to <= from {
                *counts.entry((from, to)).or_default() += 1;
            }
        }
        if let Some((&(from, to), _)) = counts.iter().max_by_key(|(k, n)| (**n, k.0)) {
            f.code = "E-LOOP-UNBOUNDED";
            f.reason = format!("the loop from insn {from} back to insn {to} ran until the verifier gave up ({processed} instructions): it cannot prove the loop ends");
            f.cause = Some((
                from as usize,
                format!("jumps back to insn {to} each time round"),
            ));
            f.suggestion = format!("bound the loop at {} by a constant the verifier sees (`for (i = 0; i < 64 && i < n; i++)`), keep the counter in a register (not re-read from memory each time), or use bpf_loop()", self.place(from as usize));
        } else {
            f.cause = self
                .rej
                .insn
                .map(|i| (i, "is where the verifier gave up".into()));
            f.suggestion = "reduce the number of paths (fewer branches in sequence, bpf-to-bpf functions, tail calls)".into();
        }
        f
    }

    /// The main program's deepest `r10` access.
    fn deepest_stack_access(&self) -> Option<usize> {
        let mut best: Option<(i16, usize)> = None;
        for (pc, i) in self.prog.decoded.iter().enumerate() {
            if matches!(i, Some(Insn::Call(CallTarget::Local(_)))) && best.is_some() {
                break;
            }
            let off = match i {
                Some(Insn::Store { dst, off, .. } | Insn::StoreReg { dst, off, .. })
                    if dst.index() == 10 =>
                {
                    *off
                }
                Some(Insn::Load { src, off, .. }) if src.index() == 10 => *off,
                Some(Insn::Exit) => break,
                _ => continue,
            };
            if best.is_none_or(|(b, _)| off < b) {
                best = Some((off, pc));
            }
        }
        best.map(|(_, pc)| pc)
    }

    /// The path's conditional jumps that could have gone either way, and
    /// the root cause's.
    fn branches(&self, cause: Option<usize>) -> Vec<PathBranch> {
        let mut out = Vec::new();
        for (j, s) in self.steps.iter().enumerate() {
            let Some(next) = self.steps.get(j + 1) else {
                break;
            };
            let pc = s.insn as usize;
            if !matches!(self.insn(pc), Some(Insn::Jmp { .. })) {
                continue;
            }
            if !(trace::forked(&self.prog, s) || Some(pc) == cause) {
                continue;
            }
            let site = self.site(pc);
            let taken = next.insn as usize != pc + 1;
            let cond = site
                .text
                .strip_prefix("if ")
                .and_then(|t| t.split_once(" goto"))
                .map_or(site.text.clone(), |(c, _)| c.to_string());
            let condition = if taken { cond } else { format!("!({cond})") };
            if let Some(prev) = out.last_mut() {
                let prev: &mut PathBranch = prev;
                if prev.site.insn == pc && prev.taken == taken {
                    prev.repeats += 1;
                    continue;
                }
            }
            out.push(PathBranch {
                site,
                taken,
                next: next.insn as usize,
                condition,
                repeats: 1,
            });
        }
        // The last 8, keeping the root cause's.
        if out.len() > 8 {
            let keep_cause = out
                .iter()
                .position(|b| Some(b.site.insn) == cause)
                .filter(|&i| i < out.len() - 8);
            let tail = out.split_off(out.len() - 8);
            let mut v = Vec::new();
            if let Some(b) = keep_cause.and_then(|i| out.get(i)) {
                v.push(b.clone());
            }
            v.extend(tail);
            out = v;
        }
        out
    }

    fn context(&self) -> Vec<Site> {
        let p = &self.rej.path;
        let n = p.len();
        p.get(n.saturating_sub(6)..n.saturating_sub(1))
            .unwrap_or_default()
            .iter()
            .map(|&i| self.site(i as usize))
            .collect()
    }
}
