//! The verifier's differential generator: random programs over six program
//! types, privileged and unprivileged, that are either safe or break
//! exactly one of the verifier's rules, and the drivers that put each
//! program to the kernel's verifier and to ironbpf's.
//!
//! A program is assembled from kernel-syntax text: a prologue (`r9 = ctx`,
//! scalars in r6 and r7), random filler that every verifier accepts
//! (scalar arithmetic on r6/r7, spills and fills of the stack below
//! fp-64, short forward branches), then either safe pieces (a map lookup
//! with its null check, a bounds-checked packet read, a context read, a
//! helper call, a bounded loop, a pointer spill and fill, a map update, a
//! bpf-to-bpf call) or one rule-breaking piece, whose
//! [`Broken`] record says which [`Rule`] is broken, the instruction where
//! the verifier must stop (`insn`), the instruction that made the violation
//! possible (`cause`: the lookup whose result is not checked, the bounds
//! check that is one byte short...), and the text the kernel's error line
//! must contain.
//!
//! Generation is a pure function of the seed ([`generate`]): replaying a
//! seed gives the same program on every machine. About 40% of the programs
//! are safe; the rest break one of the [`Rule::ALL`] rules, each with the
//! program types and privilege it applies to.
//!
//! [`KernelOracle`] loads programs into the running kernel with the
//! [`VGEN_MAPS`] (created once, passed through `fd_array`); unprivileged
//! programs are loaded from a thread whose effective capabilities are
//! dropped (CAP_NET_ADMIN kept for cgroup_skb), which needs
//! `kernel.unprivileged_bpf_disabled=0`. [`check_kernel`] says whether the
//! kernel judged a program as the generator meant; [`run_verifier_diff`]
//! compares the kernel's verdict, error instruction, error line and log
//! with ironbpf's ([`ironbpf_verify`]) and counts per rule.

use crate::gen::Rng;
use ironbpf_isa::asm::assemble;
use ironbpf_isa::RawInsn;
use ironbpf_kernel::{
    kernel_release, load_program, load_program_unprivileged, KernelMap, LoadOutcome, MapCreate,
    ProgLoad, BPF_LOG_STATS, CAP_NET_ADMIN_BIT,
};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{MapInfo, VerifyOptions};
use std::collections::BTreeMap;
use std::fmt;

/// The program types the generator covers (each has a descriptor).
pub const VGEN_PROG_TYPES: [ProgTypeId; 6] = [
    ProgTypeId::SocketFilter,
    ProgTypeId::SchedCls,
    ProgTypeId::Xdp,
    ProgTypeId::CgroupSkb,
    ProgTypeId::Kprobe,
    ProgTypeId::Tracepoint,
];

/// A map every generated program may reference (`map[idx:N]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMap {
    pub name: &'static str,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub map_flags: u32,
}

/// `BPF_F_RDONLY_PROG`: programs may read the map's values, not write them.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// The maps of every generated program, by index: an array, a hash, and an
/// array programs may only read.
pub const VGEN_MAPS: [VMap; 3] = [
    VMap {
        name: "vgen_array",
        map_type: 2,
        key_size: 4,
        value_size: 16,
        max_entries: 4,
        map_flags: 0,
    },
    VMap {
        name: "vgen_hash",
        map_type: 1,
        key_size: 4,
        value_size: 24,
        max_entries: 8,
        map_flags: 0,
    },
    VMap {
        name: "vgen_rdonly",
        map_type: 2,
        key_size: 4,
        value_size: 16,
        max_entries: 4,
        map_flags: BPF_F_RDONLY_PROG,
    },
];

macro_rules! rules {
    ($($(#[$m:meta])* $v:ident => $name:expr,)*) => {
        /// One rule of the verifier that a generated program breaks.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $($(#[$m])* $v,)* }
        impl Rule {
            /// Every rule.
            pub const ALL: &'static [Rule] = &[$(Rule::$v,)*];
            /// A short kebab-case name for reports.
            pub const fn name(self) -> &'static str {
                match self { $(Rule::$v => $name,)* }
            }
        }
    };
}

rules! {
    /// `bpf_map_lookup_elem`'s result dereferenced without a null check.
    UncheckedMapValue => "unchecked-map-value",
    /// Arithmetic on `map_value_or_null` before the null check.
    NullPointerArith => "null-pointer-arith",
    /// A packet read one byte past what the bounds check proved.
    PacketOffByOne => "packet-off-by-one",
    /// A read of stack bytes never written (unprivileged).
    UninitStackRead => "uninit-stack-read",
    /// A read of a register never written (or clobbered by a call).
    UninitRegRead => "uninit-reg-read",
    /// `r0` not written before `exit`.
    UninitReturn => "uninit-r0-at-exit",
    /// A pointer stored into a map value (unprivileged).
    LeakIntoMap => "pointer-leak-into-map",
    /// A pointer returned (unprivileged).
    LeakAsReturn => "pointer-leak-as-return",
    /// A pointer compared with a constant (unprivileged).
    PointerCompare => "pointer-compare",
    /// A pointer multiplied.
    PointerMul => "pointer-mul",
    /// A scalar where a helper wants a map pointer.
    HelperArgType => "helper-arg-type",
    /// A map key buffer shorter than the key.
    HelperShortKey => "helper-short-key",
    /// A helper told a buffer is larger than it is.
    HelperBadSize => "helper-bad-size",
    /// A helper the program type may not call.
    HelperNotAllowed => "helper-not-allowed",
    /// A helper id that does not exist.
    HelperUnknown => "helper-unknown",
    /// A loop that never ends (privileged).
    InfiniteLoop => "infinite-loop",
    /// A back-edge (unprivileged: loops are not allowed at all).
    BackEdge => "back-edge",
    /// A context read beyond the context.
    CtxOutOfRange => "ctx-out-of-range",
    /// A register store into a read-only context field.
    CtxReadOnlyWrite => "ctx-read-only-write",
    /// A `BPF_ST` (immediate) store into the context.
    CtxStoreImm => "ctx-store-imm",
    /// A misaligned stack access (always strict).
    MisalignedStack => "misaligned-stack",
    /// A misaligned map value access under `BPF_F_STRICT_ALIGNMENT`.
    MisalignedStrict => "misaligned-strict",
    /// A constant offset past the end of a map value.
    MapValueOutOfBounds => "map-value-out-of-bounds",
    /// A variable offset into a map value that may pass its end.
    MapValueVarOffset => "map-value-var-offset",
    /// A variable index into a map value whose bounds check allows one too many.
    MapValueIndexOffByOne => "map-value-index-off-by-one",
    /// A variable offset into the stack that may pass its bounds.
    StackVarOffset => "stack-var-offset",
    /// A fixed offset beyond the 512-byte stack.
    StackOutOfBounds => "stack-out-of-bounds",
    /// A scalar dereferenced.
    ScalarDeref => "scalar-deref",
    /// A cgroup_skb program returning outside [0, 1].
    BadReturnValue => "bad-return-value",
    /// A jump past the program's end.
    JumpOutOfRange => "jump-out-of-range",
    /// A jump into the second slot of an `ld_imm64`.
    JumpIntoLdImm64 => "jump-into-ld-imm64",
    /// Instructions no path reaches.
    UnreachableCode => "unreachable-code",
    /// The last instruction falls off the end.
    FallOffEnd => "fall-off-end",
    /// A write to r10.
    FramePointerWrite => "frame-pointer-write",
    /// A division or modulo by the constant zero.
    DivByZeroImm => "div-by-zero-imm",
    /// An instruction with reserved fields set.
    ReservedFields => "reserved-fields",
    /// An opcode that does not exist.
    UnknownOpcode => "unknown-opcode",
    /// A bpf-to-bpf call (unprivileged: needs CAP_BPF).
    CallUnpriv => "bpf-call-unprivileged",
    /// A store into the value of a map created `BPF_F_RDONLY_PROG`.
    ReadOnlyMapWrite => "read-only-map-write",
    /// Part of a spilled pointer read back from the stack.
    PartialPointerFill => "partial-pointer-fill",
    /// A map key on stack bytes never written (unprivileged).
    UninitHelperKey => "uninit-helper-key",
    /// Two frames whose stacks together pass 512 bytes.
    CombinedStackTooLarge => "combined-stack-too-large",
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a rule-breaking program breaks, where, and what the kernel says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    pub rule: Rule,
    /// The instruction where the verifier must stop (slot index).
    pub insn: usize,
    /// The instruction that made the violation possible, when another one
    /// did (the lookup whose result is not checked, the short bounds check,
    /// the call that clobbered the register).
    pub cause: Option<usize>,
    /// Text the kernel's error line contains for this violation.
    pub expect: String,
    /// A line the kernel's log has before the error line, when the error
    /// line is a summary (`R2 offset is outside of the packet` after
    /// `invalid access to packet, off=.. size=..`).
    pub detail: Option<String>,
}

/// One generated program.
#[derive(Clone, Debug)]
pub struct VProgram {
    pub seed: u64,
    pub prog_type: ProgTypeId,
    /// Loaded with CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN (false: all dropped,
    /// but CAP_NET_ADMIN for cgroup_skb).
    pub privileged: bool,
    /// `BPF_F_STRICT_ALIGNMENT`.
    pub strict_alignment: bool,
    /// The kernel-syntax text it was assembled from.
    pub text: String,
    pub insns: Vec<RawInsn>,
    /// `None` for a program that breaks no rule.
    pub broken: Option<Broken>,
}

impl VProgram {
    /// The options ironbpf's verifier gets for it.
    pub fn verify_options(&self, log_level: u32) -> VerifyOptions {
        let mut o = VerifyOptions::new(self.prog_type);
        // The kernel's `expected_attach_type` 0 is BPF_CGROUP_INET_INGRESS,
        // which is what a cgroup_skb program then checks its return against.
        if self.prog_type == ProgTypeId::CgroupSkb {
            o.attach_type = ironbpf_progtype::AttachType::from_kernel_id(0);
        }
        o.privileged = self.privileged;
        o.strict_alignment = self.strict_alignment;
        o.log_level = log_level;
        o.maps = vgen_map_infos();
        o
    }
}

/// The [`VGEN_MAPS`] as ironbpf's verifier sees them.
pub fn vgen_map_infos() -> Vec<MapInfo> {
    VGEN_MAPS
        .iter()
        .map(|m| MapInfo {
            name: m.name.into(),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            map_flags: m.map_flags,
            frozen_readonly: false,
            record: Default::default(),
        })
        .collect()
}

/// Text lines with the slot index of each instruction kept as they are
/// added, so a piece can say "the violation is this instruction".
struct Text {
    lines: Vec<String>,
    slots: usize,
    labels: usize,
}

impl Text {
    /// Adds one instruction; returns its slot index.
    fn ins(&mut self, t: impl Into<String>) -> usize {
        let t = t.into();
        let at = self.slots;
        self.slots += if t.contains("map[") || t.ends_with(" ll") {
            2
        } else {
            1
        };
        self.lines.push(t);
        at
    }
    fn label(&mut self) -> String {
        self.labels += 1;
        format!("L{}", self.labels)
    }
    fn place(&mut self, l: &str) {
        self.lines.push(format!("{l}:"));
    }
}

/// The `__sk_buff`/`xdp_md` offsets of the packet pointers for a type.
fn packet_fields(t: ProgTypeId) -> Option<(i16, i16)> {
    match t {
        ProgTypeId::Xdp => Some((0, 4)),
        ProgTypeId::SchedCls => Some((76, 80)),
        _ => None,
    }
}

/// A context field every verifier lets the type read: (offset, size).
fn ctx_read_field(t: ProgTypeId, rng: &mut Rng) -> (i16, &'static str) {
    match t {
        // __sk_buff: len, mark, protocol, priority.
        ProgTypeId::SocketFilter | ProgTypeId::SchedCls | ProgTypeId::CgroupSkb => {
            (rng.pick(&[0, 8, 16, 32]), "u32")
        }
        // xdp_md: data, data_end, data_meta, ingress_ifindex.
        // xdp_md: ingress_ifindex, rx_queue_index (data, data_end and
        // data_meta are pointers).
        ProgTypeId::Xdp => (rng.pick(&[12, 16]), "u32"),
        // struct pt_regs: 21 words.
        ProgTypeId::Kprobe => (8 * rng.below(21) as i16, "u64"),
        // A tracepoint's record: anything aligned from 8 (past the common
        // fields' first word) below PERF_MAX_TRACE_SIZE.
        _ => (8 + 8 * rng.below(16) as i16, "u64"),
    }
}

/// The size of the context, as the verifier bounds reads of it.
fn ctx_end(t: ProgTypeId) -> i16 {
    match t {
        ProgTypeId::SocketFilter | ProgTypeId::SchedCls | ProgTypeId::CgroupSkb => 192,
        ProgTypeId::Xdp => 24,
        ProgTypeId::Kprobe => 168,
        // PERF_MAX_TRACE_SIZE.
        _ => 8192,
    }
}

/// Whether unprivileged loaders may load this type here (socket filters;
/// cgroup_skb with CAP_NET_ADMIN kept).
fn unpriv_ok(t: ProgTypeId) -> bool {
    matches!(t, ProgTypeId::SocketFilter | ProgTypeId::CgroupSkb)
}

/// Generates the program for `seed`.
pub fn generate(seed: u64) -> VProgram {
    let mut rng = Rng::new(seed ^ 0x7665_7269_6669_6572);
    // About 60% break a rule (the kernel must refuse at least 30%).
    let rule = if rng.chance(2, 5) {
        None
    } else {
        Some(rng.pick(Rule::ALL))
    };
    let (types, privs): (Vec<ProgTypeId>, &[bool]) = match rule {
        Some(Rule::UninitStackRead | Rule::LeakIntoMap | Rule::LeakAsReturn)
        | Some(Rule::PointerCompare | Rule::BackEdge | Rule::CallUnpriv)
        | Some(Rule::UninitHelperKey) => (
            VGEN_PROG_TYPES
                .iter()
                .copied()
                .filter(|&t| unpriv_ok(t))
                .collect(),
            &[false],
        ),
        // Tracing programs may get a private stack (Linux 6.13+), which
        // lifts the combined limit.
        Some(Rule::CombinedStackTooLarge) => (
            VGEN_PROG_TYPES
                .iter()
                .copied()
                .filter(|t| !matches!(t, ProgTypeId::Kprobe | ProgTypeId::Tracepoint))
                .collect(),
            &[true],
        ),
        Some(Rule::InfiniteLoop | Rule::MapValueVarOffset | Rule::StackVarOffset)
        | Some(Rule::MapValueIndexOffByOne) => (VGEN_PROG_TYPES.to_vec(), &[true]),
        Some(Rule::PacketOffByOne) => (vec![ProgTypeId::Xdp, ProgTypeId::SchedCls], &[true]),
        Some(Rule::BadReturnValue) => (vec![ProgTypeId::CgroupSkb], &[true, false]),
        _ => (VGEN_PROG_TYPES.to_vec(), &[true, true, false]),
    };
    let mut privileged = rng.pick(privs);
    let prog_type = if privileged {
        rng.pick(&types)
    } else {
        let u: Vec<ProgTypeId> = types.iter().copied().filter(|&t| unpriv_ok(t)).collect();
        if u.is_empty() {
            privileged = true;
            rng.pick(&types)
        } else {
            rng.pick(&u)
        }
    };
    let strict_alignment = match rule {
        Some(r) => r == Rule::MisalignedStrict,
        None => rng.chance(1, 10),
    };
    let mut g = G {
        rng: &mut rng,
        t: Text {
            lines: Vec::new(),
            slots: 0,
            labels: 0,
        },
        prog_type,
        privileged,
        spilled: Vec::new(),
        subprogs: Vec::new(),
        strict_alignment,
    };
    let broken = g.body(rule);
    // Subprograms go after the main program's last instruction.
    let subprogs = std::mem::take(&mut g.subprogs);
    for line in subprogs {
        if let Some(l) = line.strip_suffix(':') {
            g.t.place(l);
        } else {
            g.t.ins(line);
        }
    }
    let text = g.t.lines.join("\n") + "\n";
    let mut insns = match assemble(&text) {
        Ok(i) => i,
        // Every template assembles; the unit tests hold each rule to it.
        Err(e) => panic!("vgen seed {seed}: the generated text does not assemble: {e}\n{text}"),
    };
    if let Some(b) = &broken {
        patch(&mut insns, b);
    }
    VProgram {
        seed,
        prog_type,
        privileged,
        strict_alignment,
        text,
        insns,
        broken,
    }
}

/// Rules the assembler will not write: raw fields set afterwards on the
/// instruction at `b.insn`.
fn patch(insns: &mut [RawInsn], b: &Broken) {
    let at = if b.rule == Rule::JumpIntoLdImm64 {
        b.cause.unwrap_or(b.insn)
    } else {
        b.insn
    };
    let Some(i) = insns.get_mut(at) else {
        return;
    };
    match b.rule {
        // A `goto +0` placeholder aimed past the end.
        Rule::JumpOutOfRange => {
            if let Some(t) = b
                .expect
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse::<i64>().ok())
            {
                i.off = (t - b.insn as i64 - 1) as i16;
            }
        }
        // The label sits after the ld_imm64: aim one slot short, at its
        // second half.
        Rule::JumpIntoLdImm64 => i.off -= 1,
        // `r0 = 0` with a source register.
        Rule::ReservedFields => i.src = 1,
        // ALU64 op 0xe0, which no instruction has.
        Rule::UnknownOpcode => i.code = 0xe7,
        _ => {}
    }
}

struct G<'a> {
    rng: &'a mut Rng,
    t: Text,
    prog_type: ProgTypeId,
    privileged: bool,
    /// Filler stack slots (fp-72..fp-128) written on every path so far.
    spilled: Vec<i16>,
    /// Lines of the subprograms, placed after the main program.
    subprogs: Vec<String>,
    /// `BPF_F_STRICT_ALIGNMENT`: variable offsets allow only byte loads.
    strict_alignment: bool,
}

impl G<'_> {
    /// Scalar work that every verifier accepts, on r6 and r7 and the stack
    /// below fp-64. `depth` > 0 inside a branch's body, where writes to the
    /// stack do not count as done on every path.
    fn filler(&mut self, n: usize, depth: u32) {
        for _ in 0..n {
            let r = self.rng.pick(&["r6", "r7"]);
            let o = if r == "r6" { "r7" } else { "r6" };
            let w = r.replace('r', "w");
            let imm = self.rng.imm32();
            match self.rng.below(13) {
                0 => self.t.ins(format!("{r} += {imm}")),
                1 => self.t.ins(format!("{r} ^= {imm}")),
                2 => self.t.ins(format!("{w} *= {imm}")),
                3 => self.t.ins(format!("{r} <<= {}", self.rng.below(64))),
                4 => self.t.ins(format!("{r} s>>= {}", self.rng.below(64))),
                5 => self.t.ins(format!("{r} = {o}")),
                6 => self.t.ins(format!("{r} /= {}", self.rng.below(1000) + 1)),
                7 => self.t.ins(format!("{w} &= {imm}")),
                8 | 9 => {
                    let slot = -8 * (9 + self.rng.below(8) as i16);
                    if depth == 0 && !self.spilled.contains(&slot) {
                        self.spilled.push(slot);
                    }
                    self.t.ins(format!("*(u64 *)(r10 {slot}) = {r}"))
                }
                10 if !self.spilled.is_empty() => {
                    let slot = self.rng.pick(&self.spilled.clone());
                    let size = self.rng.pick(&["u64", "u32", "u8"]);
                    self.t.ins(format!("{r} = *({size} *)(r10 {slot})"))
                }
                11 => {
                    let o2 = o;
                    match self.rng.below(6) {
                        0 => self
                            .t
                            .ins(format!("{r} = (s{}){o2}", self.rng.pick(&[8, 16, 32]))),
                        1 => self
                            .t
                            .ins(format!("{r} = bswap{} {r}", self.rng.pick(&[16, 32, 64]))),
                        2 => self
                            .t
                            .ins(format!("{r} = be{} {r}", self.rng.pick(&[16, 32, 64]))),
                        3 => self.t.ins(format!("{w} = -{w}")),
                        4 => self.t.ins(format!("{w} s%= {}", self.rng.below(100) + 1)),
                        _ => self.t.ins(format!("{w} >>= {}", self.rng.below(32))),
                    }
                }
                _ if depth < 2 => {
                    let l = self.t.label();
                    let op = self.rng.pick(&[">", "<", "==", "!=", "s>", "s<=", "&"]);
                    let reg = if self.rng.chance(1, 3) { w.as_str() } else { r };
                    self.t.ins(format!("if {reg} {op} {imm} goto {l}"));
                    let k = 1 + self.rng.below(2) as usize;
                    self.filler(k, depth + 1);
                    self.t.place(&l);
                    0
                }
                _ => self.t.ins(format!("{r} -= {o}")),
            };
        }
    }

    /// A return value every type accepts, then `exit`.
    fn ret(&mut self) -> usize {
        let v = self.rng.below(2);
        self.t.ins(format!("r0 = {v}"));
        self.t.ins("exit")
    }

    fn some_filler(&mut self) {
        let n = self.rng.below(6) as usize;
        self.filler(n, 0);
    }

    /// `r2 = fp-4` holding key 0..3; r1 = the map.
    fn key_and_map(&mut self, map: usize) {
        let k = self.rng.below(4);
        self.t.ins(format!("*(u32 *)(r10 -4) = {k}"));
        self.t.ins("r2 = r10");
        self.t.ins("r2 += -4");
        self.t.ins(format!("r1 = map[idx:{map}]"));
    }

    fn body(&mut self, rule: Option<Rule>) -> Option<Broken> {
        // Prologue.
        self.t.ins("r9 = r1");
        let a = self.rng.imm32();
        let b = self.rng.imm32();
        self.t.ins(format!("r6 = {a}"));
        self.t.ins(format!("r7 = {b}"));
        self.some_filler();
        let Some(rule) = rule else {
            let pieces = 1 + self.rng.below(3);
            for _ in 0..pieces {
                self.safe_piece();
                self.some_filler();
            }
            self.ret();
            return None;
        };
        let broken = self.broken_piece(rule);
        Some(broken)
    }

    /// Lookup, null check, a byte of the value as an index checked against
    /// `limit` (`if r1 > limit goto out`), the index added to the value
    /// pointer, then a load of `size` bytes there. Returns (the bounds
    /// check, the load). `out` is placed by the caller.
    fn checked_index(&mut self, map: usize, limit: i16, size: &str, out: &str) -> (usize, usize) {
        self.key_and_map(map);
        self.t.ins("call bpf_map_lookup_elem");
        self.t.ins(format!("if r0 == 0 goto {out}"));
        self.t.ins("r1 = *(u8 *)(r0 +0)");
        let check = if self.rng.chance(1, 2) {
            self.t.ins(format!("if r1 > {limit} goto {out}"))
        } else {
            self.t.ins(format!("if w1 > {limit} goto {out}"))
        };
        self.t.ins("r0 += r1");
        let load = self.t.ins(format!("r2 = *({size} *)(r0 +0)"));
        (check, load)
    }

    fn safe_piece(&mut self) {
        match self.rng.below(10) {
            9 if self.privileged => {
                // A variable index into a map value, bounded by a check.
                let map = self.rng.below(2) as usize;
                let vs = VGEN_MAPS[map].value_size as i16;
                let (size, n) = if self.strict_alignment {
                    ("u8", 1)
                } else {
                    self.rng.pick(&[("u8", 1i16), ("u16", 2), ("u32", 4)])
                };
                let limit = vs - n - self.rng.below(4) as i16;
                let out = self.t.label();
                self.checked_index(map, limit, size, &out);
                self.t.ins("r6 ^= r2");
                self.t.place(&out);
            }
            6 => {
                // A stack pointer spilled, filled and written through.
                self.t.ins("r1 = r10");
                self.t.ins("r1 += -16");
                self.t.ins("*(u64 *)(r10 -24) = r1");
                self.t.ins("r2 = *(u64 *)(r10 -24)");
                self.t.ins("*(u64 *)(r2 +0) = r6");
                self.t.ins("r1 = *(u32 *)(r10 -16)");
                self.t.ins("r7 ^= r1");
            }
            7 => {
                // bpf_map_update_elem with the whole value initialised.
                let map = self.rng.below(2) as usize;
                let vs = VGEN_MAPS[map].value_size as i16;
                for k in 0..vs / 8 {
                    self.t.ins(format!("*(u64 *)(r10 {}) = r6", -48 + 8 * k));
                }
                self.key_and_map(map);
                self.t.ins("r3 = r10");
                self.t.ins("r3 += -48");
                self.t.ins("r4 = 0");
                self.t.ins("call bpf_map_update_elem");
                self.t.ins("r7 += r0");
            }
            8 if self.privileged => {
                // A bpf-to-bpf call with an argument.
                let name = format!("sub{}", self.subprogs.len());
                self.t.ins("r1 = r6");
                self.t.ins(format!("call {name}"));
                self.t.ins("r7 ^= r0");
                let k = self.rng.imm32();
                self.subprogs.extend([
                    format!("{name}:"),
                    "r0 = r1".into(),
                    format!("r0 += {k}"),
                    "exit".into(),
                ]);
            }
            0 => {
                let map = self.rng.below(2) as usize;
                let vs = VGEN_MAPS[map].value_size as i16;
                self.key_and_map(map);
                self.t.ins("call bpf_map_lookup_elem");
                let l = self.t.label();
                self.t.ins(format!("if r0 == 0 goto {l}"));
                let off = 8 * self.rng.below(vs as u64 / 8) as i16;
                if self.rng.chance(1, 2) {
                    self.t.ins(format!("r1 = *(u64 *)(r0 +{off})"));
                    self.t.ins("r6 += r1");
                } else {
                    self.t.ins(format!("*(u64 *)(r0 +{off}) = r7"));
                }
                self.t.place(&l);
            }
            1 if packet_fields(self.prog_type).is_some() && self.privileged => {
                let (d, e) = packet_fields(self.prog_type).unwrap_or((0, 4));
                let n = 1 + self.rng.below(32) as i16;
                self.t.ins(format!("r2 = *(u32 *)(r9 +{d})"));
                self.t.ins(format!("r3 = *(u32 *)(r9 +{e})"));
                self.t.ins("r4 = r2");
                self.t.ins(format!("r4 += {n}"));
                let l = self.t.label();
                self.t.ins(format!("if r4 > r3 goto {l}"));
                self.t.ins(format!("r1 = *(u8 *)(r2 +{})", n - 1));
                self.t.ins("r7 ^= r1");
                self.t.place(&l);
            }
            2 => {
                let (off, size) = ctx_read_field(self.prog_type, self.rng);
                self.t.ins(format!("r1 = *({size} *)(r9 +{off})"));
                self.t.ins("r6 -= r1");
            }
            3 if self.privileged => {
                let n = 2 + self.rng.below(6);
                self.t.ins("r1 = 0");
                let l = self.t.label();
                self.t.place(&l);
                self.t.ins("r1 += 1");
                self.t.ins("r6 += r1");
                self.t.ins(format!("if r1 < {n} goto {l}"));
            }
            _ => {
                self.t.ins("call bpf_get_prandom_u32");
                self.t.ins("r7 += r0");
            }
        }
    }

    fn broken_piece(&mut self, rule: Rule) -> Broken {
        let mut cause = None;
        let mut detail = None;
        let (insn, expect) = match rule {
            Rule::UncheckedMapValue => {
                // The hash map: a lookup of a constant key below an array's
                // max_entries is known non-null since Linux 6.13.
                let map = 1;
                self.key_and_map(map);
                cause = Some(self.t.ins("call bpf_map_lookup_elem"));
                self.some_filler();
                let v = if self.rng.chance(1, 2) {
                    self.t.ins("r1 = *(u32 *)(r0 +0)")
                } else {
                    self.t.ins("*(u64 *)(r0 +0) = r6")
                };
                (v, "R0 invalid mem access 'map_value_or_null'".to_string())
            }
            Rule::NullPointerArith => {
                let map = 1;
                self.key_and_map(map);
                cause = Some(self.t.ins("call bpf_map_lookup_elem"));
                let v = self.t.ins(format!("r0 += {}", 1 + self.rng.below(8)));
                (
                    v,
                    "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first"
                        .into(),
                )
            }
            Rule::PacketOffByOne => {
                let (d, e) = packet_fields(self.prog_type).unwrap_or((0, 4));
                let size = self.rng.pick(&[1i16, 2, 4, 8]);
                let n = size + 8 * self.rng.below(6) as i16;
                let ty = match size {
                    1 => "u8",
                    2 => "u16",
                    4 => "u32",
                    _ => "u64",
                };
                self.t.ins(format!("r2 = *(u32 *)(r9 +{d})"));
                self.t.ins(format!("r3 = *(u32 *)(r9 +{e})"));
                self.t.ins("r4 = r2");
                self.t.ins(format!("r4 += {n}"));
                let l = self.t.label();
                cause = Some(self.t.ins(format!("if r4 > r3 goto {l}")));
                let off = n - size + 1;
                let v = self.t.ins(format!("r1 = *({ty} *)(r2 +{off})"));
                self.t.place(&l);
                detail = Some(format!("invalid access to packet, off={off} size={size}"));
                (v, "R2 offset is outside of the packet".into())
            }
            Rule::UninitStackRead => {
                let slot = -8 * (1 + self.rng.below(8) as i16);
                // A deeper slot written first, so that the slot read is
                // inside the allocated stack (the kernel words a read past
                // the allocated stack differently).
                self.t.ins("*(u64 *)(r10 -128) = r6");
                let v = self.t.ins(format!("r1 = *(u64 *)(r10 {slot})"));
                (v, format!("invalid read from stack off {slot}+0 size 8"))
            }
            Rule::UninitRegRead => {
                let r = 1 + self.rng.below(5);
                let from_call = r == 1 || self.rng.chance(1, 2);
                if from_call {
                    cause = Some(self.t.ins("call bpf_get_prandom_u32"));
                    self.some_filler();
                } else {
                    cause = Some(0);
                }
                let v = match self.rng.below(3) {
                    0 => self.t.ins(format!("r6 += r{r}")),
                    1 => self.t.ins(format!("*(u64 *)(r10 -8) = r{r}")),
                    _ => self.t.ins(format!("r0 = r{r}")),
                };
                (v, format!("R{r} !read_ok"))
            }
            Rule::UninitReturn => {
                let v = self.t.ins("exit");
                (v, "R0 !read_ok".into())
            }
            Rule::LeakIntoMap => {
                let map = self.rng.below(2) as usize;
                self.key_and_map(map);
                self.t.ins("call bpf_map_lookup_elem");
                let l = self.t.label();
                self.t.ins(format!("if r0 == 0 goto {l}"));
                let p = self.rng.pick(&["r9", "r10", "r0"]);
                let v = self.t.ins(format!("*(u64 *)(r0 +0) = {p}"));
                self.t.place(&l);
                (v, format!("{} leaks addr into map", p.to_uppercase()))
            }
            Rule::LeakAsReturn => {
                let p = self.rng.pick(&["r9", "r10"]);
                cause = Some(self.t.ins(format!("r0 = {p}")));
                self.some_filler();
                let v = self.t.ins("exit");
                (v, "R0 leaks addr as return value".into())
            }
            Rule::PointerCompare => {
                let l = self.t.label();
                let v = self
                    .t
                    .ins(format!("if r9 > {} goto {l}", self.rng.below(100)));
                self.t.ins("r6 += 1");
                self.t.place(&l);
                (v, "R9 pointer comparison prohibited".into())
            }
            Rule::PointerMul => {
                self.t.ins("r1 = r10");
                let v = self.t.ins(format!("r1 *= {}", 2 + self.rng.below(4)));
                (
                    v,
                    "R1 pointer arithmetic with *= operator prohibited".into(),
                )
            }
            Rule::HelperArgType => {
                self.t.ins("*(u32 *)(r10 -4) = 0");
                self.t.ins("r2 = r10");
                self.t.ins("r2 += -4");
                cause = Some(self.t.ins(format!("r1 = {}", self.rng.below(100))));
                let v = self.t.ins("call bpf_map_lookup_elem");
                (v, "R1 type=scalar expected=map_ptr".into())
            }
            Rule::HelperShortKey => {
                let map = self.rng.below(2) as usize;
                let off = -(1 + self.rng.below(3) as i16);
                self.t.ins(format!("*(u8 *)(r10 {off}) = 0"));
                self.t.ins("r2 = r10");
                cause = Some(self.t.ins(format!("r2 += {off}")));
                self.t.ins(format!("r1 = map[idx:{map}]"));
                let v = self.t.ins("call bpf_map_lookup_elem");
                (v, format!("invalid read from stack R2 off={off} size=4"))
            }
            Rule::HelperBadSize => {
                let size = 16 + 8 * self.rng.below(4) as i16;
                self.t.ins("*(u64 *)(r10 -8) = 0");
                let v = match self.prog_type {
                    ProgTypeId::Kprobe | ProgTypeId::Tracepoint => {
                        self.t.ins("r1 = r10");
                        self.t.ins("r1 += -8");
                        cause = Some(self.t.ins(format!("r2 = {size}")));
                        self.t.ins("r3 = 0");
                        self.t.ins("call bpf_probe_read_kernel")
                    }
                    ProgTypeId::Xdp => {
                        self.t.ins("r1 = r9");
                        self.t.ins("r2 = 0");
                        self.t.ins("r3 = r10");
                        self.t.ins("r3 += -8");
                        cause = Some(self.t.ins(format!("r4 = {size}")));
                        self.t.ins("call bpf_xdp_load_bytes")
                    }
                    _ => {
                        self.t.ins("r1 = r9");
                        self.t.ins("r2 = 0");
                        self.t.ins("r3 = r10");
                        self.t.ins("r3 += -8");
                        cause = Some(self.t.ins(format!("r4 = {size}")));
                        self.t.ins("call bpf_skb_load_bytes")
                    }
                };
                let reg = match self.prog_type {
                    ProgTypeId::Kprobe | ProgTypeId::Tracepoint => 1,
                    _ => 3,
                };
                (
                    v,
                    format!("invalid write to stack R{reg} off=-8 size={size}"),
                )
            }
            Rule::HelperNotAllowed => {
                let (name, id) = if self.prog_type == ProgTypeId::Xdp {
                    ("bpf_skb_load_bytes", 26)
                } else {
                    ("bpf_xdp_adjust_head", 44)
                };
                self.t.ins("r1 = r9");
                self.t.ins("r2 = 0");
                let v = self.t.ins(format!("call {id}"));
                (
                    v,
                    format!("program of this type cannot use helper {name}#{id}"),
                )
            }
            Rule::HelperUnknown => {
                let id = 1000 + self.rng.below(100_000);
                let v = self.t.ins(format!("call {id}"));
                (v, format!("invalid func unknown#{id}"))
            }
            Rule::InfiniteLoop => {
                // The same state at the loop head twice: found at once
                // (a loop whose state changes would run to the 1M limit).
                let l = self.t.label();
                self.t.place(&l);
                // `L: goto L`: the kernel sees the same state at the same
                // pruning point twice. (A conditional jump inside the loop
                // moves the instruction the kernel names, depending on
                // whether it knows the jump's outcome.)
                let v = self.t.ins(format!("goto {l}"));
                (v, format!("infinite loop detected at insn {v}"))
            }
            Rule::BackEdge => {
                self.t.ins("r1 = 0");
                let l = self.t.label();
                self.t.place(&l);
                let head = self.t.ins("r1 += 1");
                let v = self
                    .t
                    .ins(format!("if r1 < {} goto {l}", 2 + self.rng.below(8)));
                (v, format!("back-edge from insn {v} to {head}"))
            }
            Rule::CtxOutOfRange => {
                let end = ctx_end(self.prog_type);
                let (size, ty) = if self.prog_type == ProgTypeId::Kprobe
                    || self.prog_type == ProgTypeId::Tracepoint
                {
                    (8, "u64")
                } else {
                    (4, "u32")
                };
                let off = end + size * self.rng.below(8) as i16;
                let v = self.t.ins(format!("r1 = *({ty} *)(r9 +{off})"));
                (
                    v,
                    format!("invalid bpf_context access off={off} size={size}"),
                )
            }
            Rule::CtxReadOnlyWrite => {
                // __sk_buff.len, xdp_md.data, pt_regs and tracepoint words: never writable.
                let (off, size, ty) = match self.prog_type {
                    ProgTypeId::Kprobe | ProgTypeId::Tracepoint => {
                        (8 * self.rng.below(8) as i16, 8, "u64")
                    }
                    _ => (0, 4, "u32"),
                };
                let v = self.t.ins(format!("*({ty} *)(r9 +{off}) = r6"));
                (
                    v,
                    format!("invalid bpf_context access off={off} size={size}"),
                )
            }
            Rule::CtxStoreImm => {
                // Linux 6.18 checks these as any other context write.
                let (off, size, ty) = match self.prog_type {
                    ProgTypeId::Kprobe | ProgTypeId::Tracepoint => (8, 8, "u64"),
                    _ => (0, 4, "u32"),
                };
                let v = self.t.ins(format!("*({ty} *)(r9 +{off}) = 0"));
                (
                    v,
                    format!("invalid bpf_context access off={off} size={size}"),
                )
            }
            Rule::MisalignedStack => {
                let off = -(8 * (1 + self.rng.below(7) as i16)) + 1 + self.rng.below(3) as i16;
                let v = self.t.ins(format!("*(u32 *)(r10 {off}) = r6"));
                (v, format!("misaligned stack access off 0+0+{off} size 4"))
            }
            Rule::MisalignedStrict => {
                let map = self.rng.below(2) as usize;
                self.key_and_map(map);
                self.t.ins("call bpf_map_lookup_elem");
                let l = self.t.label();
                self.t.ins(format!("if r0 == 0 goto {l}"));
                let off = 1 + 2 * self.rng.below(3) as i16;
                let v = self.t.ins(format!("r1 = *(u32 *)(r0 +{off})"));
                self.t.place(&l);
                (v, format!("misaligned value access off 0+0+{off} size 4"))
            }
            Rule::MapValueOutOfBounds => {
                let map = self.rng.below(2) as usize;
                let vs = VGEN_MAPS[map].value_size as i16;
                self.key_and_map(map);
                self.t.ins("call bpf_map_lookup_elem");
                let l = self.t.label();
                self.t.ins(format!("if r0 == 0 goto {l}"));
                let off = vs - 8 + 1 + self.rng.below(16) as i16;
                let v = self.t.ins(format!("r1 = *(u64 *)(r0 +{off})"));
                self.t.place(&l);
                detail = Some(format!(
                    "invalid access to map value, value_size={vs} off={off} size=8"
                ));
                (
                    v,
                    "R0 min value is outside of the allowed memory range".into(),
                )
            }
            Rule::MapValueIndexOffByOne => {
                let map = self.rng.below(2) as usize;
                let vs = VGEN_MAPS[map].value_size as i16;
                let (size, n) = self.rng.pick(&[("u8", 1i16), ("u16", 2), ("u32", 4)]);
                let out = self.t.label();
                // One more than the last index the load may start at.
                let limit = vs - n + 1;
                let (check, load) = self.checked_index(map, limit, size, &out);
                self.t.place(&out);
                cause = Some(check);
                detail = Some(format!(
                    "invalid access to map value, value_size={vs} off={limit} size={n}"
                ));
                (
                    load,
                    "R0 max value is outside of the allowed memory range".into(),
                )
            }
            Rule::MapValueVarOffset => {
                let map = self.rng.below(2) as usize;
                self.key_and_map(map);
                self.t.ins("call bpf_map_lookup_elem");
                let l = self.t.label();
                self.t.ins(format!("if r0 == 0 goto {l}"));
                self.t.ins("r1 = *(u8 *)(r0 +0)");
                cause = Some(self.t.ins("r0 += r1"));
                let v = self.t.ins("r2 = *(u8 *)(r0 +0)");
                self.t.place(&l);
                (
                    v,
                    "R0 max value is outside of the allowed memory range".into(),
                )
            }
            Rule::StackVarOffset => {
                self.t.ins("call bpf_get_prandom_u32");
                let mask = self.rng.pick(&[0x7fu64, 0xff, 0x3ff]);
                self.t.ins(format!("r0 &= {mask}"));
                self.t.ins("r2 = r10");
                self.t.ins("r2 += -64");
                cause = Some(self.t.ins("r2 += r0"));
                let v = self.t.ins("*(u8 *)(r2 +0) = 0");
                (v, "invalid variable-offset write to stack R2".into())
            }
            Rule::StackOutOfBounds => {
                let off = -(520 + 8 * self.rng.below(8) as i16);
                let v = self.t.ins(format!("*(u64 *)(r10 {off}) = r6"));
                (v, format!("invalid write to stack R10 off={off} size=8"))
            }
            Rule::ScalarDeref => {
                let c = 8 * self.rng.below(1000);
                cause = Some(self.t.ins(format!("r1 = {c}")));
                let v = self.t.ins("r0 = *(u64 *)(r1 +0)");
                (v, "R1 invalid mem access 'scalar'".into())
            }
            Rule::BadReturnValue => {
                let val = 2 + self.rng.below(100);
                cause = Some(self.t.ins(format!("r0 = {val}")));
                let v = self.t.ins("exit");
                (
                    v,
                    format!("At program exit the register R0 has smin={val} smax={val} should have been in [0, 1]"),
                )
            }
            Rule::JumpOutOfRange => {
                let v = self.t.ins("goto +0");
                self.ret();
                let target = self.t.slots + self.rng.below(50) as usize;
                (v, format!("jump out of range from insn {v} to {target}"))
            }
            Rule::JumpIntoLdImm64 => {
                let l = self.t.label();
                cause = Some(self.t.ins(format!("if r6 > 5 goto {l}")));
                // The target is the ld_imm64's second slot: the label sits
                // after it, and `patch` aims the jump one slot short of it.
                // The kernel names the ld_imm64.
                let ld = self.t.ins(format!("r1 = {} ll", self.rng.imm64()));
                self.t.place(&l);
                self.t.ins("r6 += r1");
                (ld, format!("jump into the middle of ldimm64 insn {ld}"))
            }
            Rule::UnreachableCode => {
                self.ret();
                let dead = self.t.slots;
                self.t.ins("r0 = 2");
                let v = self.t.ins("exit");
                let _ = v;
                (dead, format!("unreachable insn {dead}"))
            }
            Rule::FallOffEnd => {
                self.t.ins("r0 = 0");
                let v = self.t.ins("r6 += 1");
                (v, "last insn is not an exit or jmp".into())
            }
            Rule::FramePointerWrite => {
                let v = match self.rng.below(3) {
                    0 => self.t.ins("r10 = 0"),
                    1 => self.t.ins("r10 += 8"),
                    _ => self.t.ins("r10 = *(u64 *)(r10 -8)"),
                };
                (v, "frame pointer is read only".into())
            }
            Rule::DivByZeroImm => {
                let op = self.rng.pick(&["w6 /= 0", "r6 /= 0", "w7 %= 0", "r7 %= 0"]);
                let v = self.t.ins(op);
                (v, "div by zero".into())
            }
            Rule::ReservedFields => {
                let v = self.t.ins("r0 = 0");
                (v, "BPF_MOV uses reserved fields".into())
            }
            Rule::ReadOnlyMapWrite => {
                self.key_and_map(2);
                self.t.ins("call bpf_map_lookup_elem");
                let l = self.t.label();
                self.t.ins(format!("if r0 == 0 goto {l}"));
                let off = 8 * self.rng.below(2) as i16;
                let v = if self.rng.chance(1, 2) {
                    self.t.ins(format!("*(u64 *)(r0 +{off}) = r6"))
                } else {
                    self.t.ins(format!("*(u32 *)(r0 +{off}) = 7"))
                };
                self.t.place(&l);
                (v, "write into map forbidden".into())
            }
            Rule::PartialPointerFill => {
                let p = self.rng.pick(&["r9", "r10"]);
                self.t.ins(format!("*(u64 *)(r10 -8) = {p}"));
                let v = self.t.ins("r1 = *(u32 *)(r10 -8)");
                (v, "invalid size of register fill".into())
            }
            Rule::UninitHelperKey => {
                // A deeper slot written first (see UninitStackRead).
                self.t.ins("*(u64 *)(r10 -128) = r6");
                let map = self.rng.below(2) as usize;
                let off = -4 - 4 * self.rng.below(4) as i16;
                self.t.ins("r2 = r10");
                cause = Some(self.t.ins(format!("r2 += {off}")));
                self.t.ins(format!("r1 = map[idx:{map}]"));
                let v = self.t.ins("call bpf_map_lookup_elem");
                (v, format!("invalid read from stack R2 off {off}+0 size 4"))
            }
            Rule::CombinedStackTooLarge => {
                let main = 256 + 8 * self.rng.below(32) as i16;
                let sub = 520 - main + 8 * self.rng.below(8) as i16;
                // The kernel names no instruction: the call is where the
                // frames stack up, the store where the first one deepens.
                cause = Some(self.t.ins(format!("*(u64 *)(r10 -{main}) = r6")));
                let v = self.t.ins("call sub_deep");
                self.subprogs.extend([
                    "sub_deep:".to_string(),
                    format!("*(u64 *)(r10 -{sub}) = r1"),
                    "r0 = 0".into(),
                    "exit".into(),
                ]);
                // The kernel rounds each frame's depth up to 16 bytes.
                let r16 = |d: i16| (d + 15) / 16 * 16;
                (
                    v,
                    format!(
                        "combined stack size of 2 calls is {}. Too large",
                        r16(main) + r16(sub)
                    ),
                )
            }
            Rule::CallUnpriv => {
                let v = self.t.ins("call sub_unpriv");
                self.t.ins("r6 += r0");
                self.subprogs
                    .extend(["sub_unpriv:".to_string(), "r0 = 1".into(), "exit".into()]);
                (
                    v,
                    "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN".into(),
                )
            }
            Rule::UnknownOpcode => {
                let v = self.t.ins("r0 = 0");
                (v, "unknown opcode e7".into())
            }
        };
        // What follows the violation: a proper end, unless the rule is the end.
        if !matches!(
            rule,
            Rule::UninitReturn
                | Rule::LeakAsReturn
                | Rule::BadReturnValue
                | Rule::JumpOutOfRange
                | Rule::InfiniteLoop
                | Rule::UnreachableCode
                | Rule::FallOffEnd
        ) {
            self.some_filler();
            self.ret();
        }
        Broken {
            rule,
            insn,
            cause,
            expect,
            detail,
        }
    }
}

/// What the kernel's verifier said about one program.
#[derive(Clone, Debug)]
pub struct KernelVerdict {
    pub accepted: bool,
    /// The errno of a refusal.
    pub errno: Option<i32>,
    /// The line that says why (refusals only).
    pub error_line: Option<String>,
    /// The instruction the refusal is at: the last instruction the log
    /// printed, or for the checks made before the walk (the CFG's), the
    /// instruction the error line names.
    pub error_insn: Option<usize>,
    pub log: String,
    pub stats: ironbpf_kernel::LogStats,
}

/// The instruction an error line names (`... at insn 5`, `from insn 3 to
/// 9`, `unreachable insn 7`, `ldimm64 insn 4`), for the errors the kernel
/// finds before it walks the program and so prints no instruction for.
pub fn insn_named_in(line: &str) -> Option<usize> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find(|w| w[0] == "insn").and_then(|w| {
        w[1].trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()
    })
}

/// Errors the kernel finds in the whole program, before its walk (the
/// CFG and structure checks) or after it (the combined stack of a call
/// chain): the instruction they are at is the one the line names, if any,
/// not the last one the log printed (at level 2 the walk is all printed).
const WHOLE_PROGRAM_ERRORS: &[&str] = &[
    "combined stack size of ",
    "last insn is not an exit or jmp",
    "unknown opcode ",
    "jump out of range from insn ",
    "back-edge from insn ",
    "unreachable insn ",
    "jump into the middle of ldimm64 insn ",
    "loading/calling other bpf or kernel functions are allowed for",
];

fn kernel_verdict(out: LoadOutcome) -> KernelVerdict {
    let accepted = out.accepted();
    let line = out.first_error_line.as_deref().unwrap_or("");
    let whole_program = WHOLE_PROGRAM_ERRORS.iter().any(|p| line.starts_with(p));
    let error_insn = if accepted {
        None
    } else if whole_program {
        insn_named_in(line)
    } else {
        out.error_insn.or_else(|| insn_named_in(line))
    };
    KernelVerdict {
        accepted,
        errno: out.result.as_ref().err().map(|e| e.errno),
        error_line: out.first_error_line,
        error_insn,
        log: out.log,
        stats: out.stats,
    }
}

/// The kernel as the verifier's oracle: the [`VGEN_MAPS`] created once and
/// shared by every program it loads.
pub struct KernelOracle {
    maps: Vec<KernelMap>,
    /// `uname -r`: recorded with every comparison.
    pub release: String,
}

/// `BPF_F_STRICT_ALIGNMENT`.
const BPF_F_STRICT_ALIGNMENT: u32 = 1;

impl KernelOracle {
    /// Creates the maps; fails with the probe's reason when the kernel
    /// cannot be used.
    pub fn new() -> Result<Self, String> {
        ironbpf_kernel::probe().map_err(|e| format!("the kernel cannot be used: {e}"))?;
        let maps = VGEN_MAPS
            .iter()
            .map(|m| {
                let mut c = MapCreate::new(m.map_type, m.key_size, m.value_size, m.max_entries);
                c.name = m.name.into();
                c.map_flags = m.map_flags;
                KernelMap::create(&c).map_err(|e| format!("cannot create map {}: {e}", m.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KernelOracle {
            maps,
            release: kernel_release(),
        })
    }

    /// Whether unprivileged loads work here (`kernel.unprivileged_bpf_disabled`
    /// is 0): `Err` says why not.
    pub fn unprivileged_available(&self) -> Result<(), String> {
        let insns: [u64; 2] = [0xb7, 0x95];
        let out = load_program_unprivileged(
            &ProgLoad {
                prog_type: ProgTypeId::SocketFilter.kernel_id(),
                insns: &insns,
                ..Default::default()
            },
            0,
        )
        .map_err(|e| e.to_string())?;
        match out.result {
            Ok(_) => Ok(()),
            Err(e) => {
                let sysctl = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
                    .unwrap_or_default();
                Err(format!(
                    "an unprivileged socket filter `r0 = 0; exit` is refused ({e}); kernel.unprivileged_bpf_disabled = {} (it must be 0: `sysctl kernel.unprivileged_bpf_disabled=0`, possible while it is 2)",
                    sysctl.trim()
                ))
            }
        }
    }

    /// Loads `p` with a log at `log_level` (1 or 2) and the stats lines.
    pub fn verify(&self, p: &VProgram, log_level: u32) -> Result<KernelVerdict, String> {
        let fds: Vec<i32> = self.maps.iter().map(|m| m.raw_fd()).collect();
        let words: Vec<u64> = p.insns.iter().map(|s| s.to_u64()).collect();
        let req = ProgLoad {
            prog_type: p.prog_type.kernel_id(),
            insns: &words,
            name: "vgen",
            log_level: log_level | BPF_LOG_STATS,
            prog_flags: if p.strict_alignment {
                BPF_F_STRICT_ALIGNMENT
            } else {
                0
            },
            fd_array: &fds,
            ..Default::default()
        };
        let out = if p.privileged {
            load_program(&req)
        } else {
            let keep = if p.prog_type == ProgTypeId::CgroupSkb {
                CAP_NET_ADMIN_BIT
            } else {
                0
            };
            load_program_unprivileged(&req, keep).map_err(|e| e.to_string())?
        };
        // EPERM with an empty log: the syscall refused the unprivileged
        // load itself (the verifier's own EPERMs come with a log).
        if !p.privileged
            && out.log.trim().is_empty()
            && out.result.as_ref().is_err_and(|e| e.errno == libc_eperm())
        {
            return Err(format!(
                "seed {}: the unprivileged load was refused with EPERM before verification: {}",
                p.seed,
                self.unprivileged_available().err().unwrap_or_default()
            ));
        }
        Ok(kernel_verdict(out))
    }
}

const fn libc_eperm() -> i32 {
    1
}

/// Whether the kernel's verdict is the one the generator meant: safe
/// programs accepted; rule-breaking ones refused at the recorded
/// instruction with the expected text. `Err` says what differs.
pub fn check_kernel(p: &VProgram, k: &KernelVerdict) -> Result<(), String> {
    match (&p.broken, k.accepted) {
        (None, true) => Ok(()),
        (None, false) => Err(format!(
            "a safe program was refused at insn {:?}: {}",
            k.error_insn,
            k.error_line.as_deref().unwrap_or("")
        )),
        (Some(b), true) => Err(format!("{} was accepted", b.rule)),
        (Some(b), false) => {
            let line = k.error_line.as_deref().unwrap_or("");
            if !line.contains(&b.expect) {
                return Err(format!(
                    "{}: expected `{}`, the kernel said `{line}` at insn {:?}",
                    b.rule, b.expect, k.error_insn
                ));
            }
            if let Some(d) = &b.detail {
                if !k.log.contains(d.as_str()) {
                    return Err(format!(
                        "{}: the kernel's log lacks `{d}` before `{line}`",
                        b.rule
                    ));
                }
            }
            // Some whole-program errors name no instruction.
            if k.error_insn.is_some() && k.error_insn != Some(b.insn) {
                return Err(format!(
                    "{}: expected the refusal at insn {}, the kernel refused at {:?} (`{line}`)",
                    b.rule, b.insn, k.error_insn
                ));
            }
            Ok(())
        }
    }
}

/// What ironbpf's verifier said about one program, in the kernel's terms.
#[derive(Clone, Debug)]
pub struct OurVerdict {
    pub accepted: bool,
    pub error_line: Option<String>,
    pub error_insn: Option<usize>,
    pub log: String,
}

/// Verifies `p` with ironbpf's verifier at `log_level` (with the stats lines).
pub fn ironbpf_verify(p: &VProgram, log_level: u32) -> OurVerdict {
    let out = ironbpf_verifier::verify(&p.insns, &p.verify_options(log_level | BPF_LOG_STATS));
    match out.result {
        Ok(_) => OurVerdict {
            accepted: true,
            error_line: None,
            error_insn: None,
            log: out.log,
        },
        Err(r) => OurVerdict {
            accepted: false,
            error_line: Some(r.message),
            error_insn: r.insn,
            log: out.log,
        },
    }
}

/// A log with what differs between two loads of the same program taken
/// out: the `verification time` line and the map addresses `ld_imm64`
/// prints (`r1 = 0xffff8881099cc800` becomes `r1 = 0xMAP`).
pub fn normalize_log(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    for line in log.lines() {
        let line = match line.find("verification time ") {
            Some(0) => continue,
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = line;
        while let Some(i) = rest.find("0xffff") {
            out.push_str(&rest[..i]);
            let tail = &rest[i + 2..];
            let n = tail.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
            if n == 16 {
                out.push_str("0xMAP");
            } else {
                out.push_str(&rest[i..i + 2 + n]);
            }
            rest = &tail[n..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// One program on both verifiers.
#[derive(Clone, Debug)]
pub struct VCase {
    pub program: VProgram,
    pub kernel: KernelVerdict,
    pub ours: OurVerdict,
}

impl VCase {
    /// Both accepted, or both refused.
    pub fn same_verdict(&self) -> bool {
        self.kernel.accepted == self.ours.accepted
    }
    /// Both refused, and the kernel names the instruction (some errors
    /// found before the walk, such as `last insn is not an exit or jmp`,
    /// name none).
    pub fn insn_comparable(&self) -> bool {
        !self.kernel.accepted && !self.ours.accepted && self.kernel.error_insn.is_some()
    }
    /// Both refused at the same instruction, which the kernel names.
    pub fn same_insn(&self) -> bool {
        self.insn_comparable()
            && !self.kernel.accepted
            && !self.ours.accepted
            && self.kernel.error_insn == self.ours.error_insn
    }
    /// Both refused with the same error line; where ironbpf's message has
    /// two lines (a line on the state, then the error: `invalid access to
    /// map value, ...` then `R0 max value is outside of the allowed memory
    /// range`), the kernel's log must end with the same two.
    pub fn same_message(&self) -> bool {
        if self.kernel.accepted || self.ours.accepted {
            return false;
        }
        let ours: Vec<&str> = self
            .ours
            .error_line
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .take_while(|l| !ironbpf_kernel::is_trailer_line(l))
            .collect();
        if ours.len() <= 1 || self.kernel.log.is_empty() {
            return self.kernel.error_line.as_deref().map(str::trim) == ours.first().copied();
        }
        ironbpf_kernel::last_error_lines(&self.kernel.log, ours.len()) == ours
    }
    /// The same log, once [`normalize_log`] took out addresses and times.
    pub fn same_log(&self) -> bool {
        normalize_log(&self.kernel.log) == normalize_log(&self.ours.log)
    }
}

/// Counts for one rule (or `safe`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleCounts {
    pub programs: u64,
    pub kernel_refused: u64,
    /// The kernel's verdict is the one the generator meant (see [`check_kernel`]).
    pub kernel_as_meant: u64,
    pub ironbpf_refused: u64,
    pub agreed: u64,
    /// Refused by both where the kernel names the instruction (the rules
    /// refused before the walk, such as `last insn is not an exit or jmp`,
    /// have none: their `same_insn` means nothing).
    pub insn_comparable: u64,
    pub same_insn: u64,
    pub same_message: u64,
}

/// The outcome of a verifier differential run.
#[derive(Clone, Debug, Default)]
pub struct VDiffSummary {
    /// `uname -r` of the kernel compared with.
    pub release: String,
    pub total: u64,
    pub agreed: u64,
    pub kernel_refused: u64,
    pub ironbpf_refused: u64,
    /// Refused by both.
    pub both_refused: u64,
    /// Of those refused by both where the kernel names the instruction:
    /// how many, and how many at the same instruction.
    pub insn_comparable: u64,
    pub same_insn: u64,
    /// Of those refused by both: the same message.
    pub same_message: u64,
    /// Of all programs: the same normalised log.
    pub same_log: u64,
    /// Per rule name (`safe` for the programs that break none).
    pub per_rule: BTreeMap<String, RuleCounts>,
    /// The programs whose verdicts differ.
    pub disagreed: Vec<VCase>,
    /// Kernel verdicts that are not what the generator meant: (seed, why).
    pub generator_misses: Vec<(u64, String)>,
    /// Programs both refused with different error lines or at different
    /// instructions: at most two per rule, to show what still differs.
    pub message_misses: Vec<VCase>,
    /// Programs whose logs differ (the first two per rule).
    pub log_misses: Vec<VCase>,
    /// Programs the kernel accepted and ironbpf refused that break memory
    /// safety when run (see [`crate::soundness::violation_of`]): the
    /// kernel's error, not ironbpf's. (seed, the violation.)
    pub kernel_departures: Vec<(u64, String)>,
}

fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

impl VDiffSummary {
    /// Adds one compared program.
    pub fn add(&mut self, c: VCase, keep_disagreements: usize) {
        self.total += 1;
        let rule = c
            .program
            .broken
            .as_ref()
            .map_or("safe", |b| b.rule.name())
            .to_string();
        let as_meant = check_kernel(&c.program, &c.kernel);
        let e = self.per_rule.entry(rule).or_default();
        e.programs += 1;
        e.kernel_refused += u64::from(!c.kernel.accepted);
        e.ironbpf_refused += u64::from(!c.ours.accepted);
        e.kernel_as_meant += u64::from(as_meant.is_ok());
        e.agreed += u64::from(c.same_verdict());
        e.insn_comparable += u64::from(c.insn_comparable());
        e.same_insn += u64::from(c.same_insn());
        e.same_message += u64::from(c.same_message());
        if let Err(why) = as_meant {
            self.generator_misses.push((c.program.seed, why));
        }
        self.kernel_refused += u64::from(!c.kernel.accepted);
        self.ironbpf_refused += u64::from(!c.ours.accepted);
        self.both_refused += u64::from(!c.kernel.accepted && !c.ours.accepted);
        self.insn_comparable += u64::from(c.insn_comparable());
        self.same_insn += u64::from(c.same_insn());
        self.same_message += u64::from(c.same_message());
        self.same_log += u64::from(c.same_log());
        let both = !c.kernel.accepted && !c.ours.accepted;
        if both
            && keep_disagreements > 0
            && (!c.same_message() || (c.insn_comparable() && !c.same_insn()))
        {
            let name = c.program.broken.as_ref().map(|b| b.rule);
            let shown = self
                .message_misses
                .iter()
                .filter(|m| m.program.broken.as_ref().map(|b| b.rule) == name)
                .count();
            if shown < 2 {
                self.message_misses.push(c.clone());
            }
        }
        if keep_disagreements > 0 && !c.same_log() {
            let name = c.program.broken.as_ref().map(|b| b.rule);
            let shown = self
                .log_misses
                .iter()
                .filter(|m| m.program.broken.as_ref().map(|b| b.rule) == name)
                .count();
            if shown < 2 {
                self.log_misses.push(c.clone());
            }
        }
        if c.same_verdict() {
            self.agreed += 1;
        } else if let Some(v) = kernel_departure(&c) {
            self.kernel_departures.push((c.program.seed, v));
        } else if self.disagreed.len() < keep_disagreements {
            self.disagreed.push(c);
        }
    }

    /// Programs whose verdicts differ, but for the known kernel departures.
    pub fn disagreed_count(&self) -> u64 {
        self.total - self.agreed - self.kernel_departures.len() as u64
    }
}

/// Runs on random inputs per program the kernel accepted and ironbpf
/// refused, to find whether it breaks memory safety.
const DEPARTURE_RUNS: u32 = 32;

/// Whether `c` is a kernel departure: the kernel accepted what ironbpf
/// refused, and the program does break memory safety in the checked
/// interpreter (the kernel accepted an unsafe program; ironbpf was right
/// to refuse it). `Some` holds the violation.
pub fn kernel_departure(c: &VCase) -> Option<String> {
    if !c.kernel.accepted || c.ours.accepted {
        return None;
    }
    let p = &c.program;
    crate::soundness::violation_of(
        &p.insns,
        p.prog_type,
        &vgen_map_infos(),
        p.seed,
        DEPARTURE_RUNS,
    )
    .ok()
    .flatten()
    .map(|v| v.to_string())
}

impl fmt::Display for VDiffSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kernel {}: {} programs, the kernel refused {} ({:.1}%), ironbpf refused {}",
            self.release,
            self.total,
            self.kernel_refused,
            pct(self.kernel_refused, self.total),
            self.ironbpf_refused
        )?;
        if self.kernel_departures.is_empty() {
            writeln!(
                f,
                "{} agreed, {} disagreed",
                self.agreed,
                self.disagreed_count()
            )?;
        } else {
            writeln!(
                f,
                "{} agreed, {} disagreed, {} known kernel departures (the kernel accepted a program that breaks memory safety when run; ironbpf refused it)",
                self.agreed,
                self.disagreed_count(),
                self.kernel_departures.len()
            )?;
        }
        write!(
            f,
            "same insn {:.1}% (of the {} both refused where the kernel names one), same message {:.1}% (of the {} both refused), same log {:.1}% (of all {})",
            pct(self.same_insn, self.insn_comparable),
            self.insn_comparable,
            pct(self.same_message, self.both_refused),
            self.both_refused,
            pct(self.same_log, self.total),
            self.total
        )
    }
}

/// Generates `n` programs from `seed` (program i is `generate(seed + i)`),
/// verifies each with the kernel and with ironbpf at `log_level`, and
/// counts. `progress` is called after each program. At most
/// `keep_disagreements` disagreeing cases are kept in full.
pub fn run_verifier_diff(
    oracle: &KernelOracle,
    n: u64,
    seed: u64,
    log_level: u32,
    keep_disagreements: usize,
    mut progress: impl FnMut(u64, &VDiffSummary),
) -> Result<VDiffSummary, String> {
    let mut s = VDiffSummary {
        release: oracle.release.clone(),
        ..Default::default()
    };
    for i in 0..n {
        let program = generate(seed.wrapping_add(i));
        let kernel = oracle.verify(&program, log_level)?;
        let ours = ironbpf_verify(&program, log_level);
        s.add(
            VCase {
                program,
                kernel,
                ours,
            },
            keep_disagreements,
        );
        progress(i + 1, &s);
    }
    Ok(s)
}
