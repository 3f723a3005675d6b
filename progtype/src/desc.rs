//! The descriptor of a program type: what the kernel's `bpf_verifier_ops`
//! (`is_valid_access`) and `check_return_code` say about it.
//!
//! This is the contract the verifier and both engines code against. The
//! built-in descriptors of every Linux 6.18 program type are defined once in
//! this crate ([`ProgTypeDesc::builtin`]); an embedder builds its own
//! [`ProgTypeDesc`] at run time from [`CtxField`]s and [`AccessRule`]s.
//!
//! The rules are data: a context is a list of fields, each a range of start
//! offsets with a rule for loads and one for stores (which sizes, whether the
//! access must stay inside the field, which attach types and whether a
//! privileged loader is needed), and what a load yields. The kernel's
//! `switch (off)` in each `*_is_valid_access` becomes that list; the lookup
//! is by the access's start offset, as the kernel's is.

use std::borrow::Cow;

use crate::{AttachType, ProgTypeId};

/// How the program touches the context (the kernel's `enum bpf_access_type`
/// plus the instruction class, since the kernel treats atomics apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// `BPF_LDX` (`BPF_READ`).
    Load,
    /// `BPF_STX` of a register (`BPF_WRITE`).
    StoreReg,
    /// `BPF_ST` of an immediate (`BPF_WRITE`; since Linux 6.3 the kernel
    /// checks it as it checks a store of a register).
    StoreImm,
    /// An atomic read-modify-write (always refused by the kernel for ctx:
    /// `BPF_ATOMIC stores into R1 ctx is not allowed`).
    Atomic,
}

impl AccessKind {
    /// Whether the kernel sees this as a `BPF_WRITE`.
    pub fn is_write(self) -> bool {
        !matches!(self, AccessKind::Load)
    }
}

/// The question `is_valid_access` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxAccess {
    /// Byte offset into the context (the instruction's off plus the
    /// register's fixed offset).
    pub off: i64,
    /// Access size in bytes: 1, 2, 4 or 8.
    pub size: u32,
    /// Load, store of a register, store of an immediate or atomic.
    pub kind: AccessKind,
    /// The program's `expected_attach_type`, where the type has one
    /// (`None`: the type's [`ProgTypeDesc::default_attach`]).
    pub attach_type: Option<AttachType>,
    /// Whether the loader is privileged (CAP_BPF/CAP_PERFMON/CAP_NET_ADMIN
    /// as the type requires): some fields are readable only then.
    pub privileged: bool,
}

impl CtxAccess {
    /// A privileged access with the type's default attach type.
    pub fn new(off: i64, size: u32, kind: AccessKind) -> Self {
        CtxAccess {
            off,
            size,
            kind,
            attach_type: None,
            privileged: true,
        }
    }
}

/// What a context load yields, in the verifier's register types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtxYield {
    /// `SCALAR_VALUE`.
    Scalar,
    /// `PTR_TO_PACKET` (`data`).
    PtrToPacket,
    /// `PTR_TO_PACKET_END` (`data_end`).
    PtrToPacketEnd,
    /// `PTR_TO_PACKET_META` (`data_meta`).
    PtrToPacketMeta,
    /// `PTR_TO_SOCK_COMMON_OR_NULL` (`__sk_buff.sk`, `migrating_sk`).
    PtrToSockCommonOrNull,
    /// `PTR_TO_SOCKET` (`bpf_sock_addr.sk`, `sk_msg_md.sk`...), non-null.
    PtrToSocket,
    /// `PTR_TO_SOCKET_OR_NULL` (`bpf_sock_ops.sk`, `bpf_sk_lookup.sk`).
    PtrToSocketOrNull,
    /// `PTR_TO_FLOW_KEYS` (`__sk_buff.flow_keys` in flow dissectors).
    PtrToFlowKeys,
    /// `PTR_TO_TP_BUFFER` (raw_tracepoint_writable's buffer).
    PtrToTpBuffer,
    /// `PTR_TO_BTF_ID` of a kernel struct (netfilter's `skb`, `state`).
    PtrToBtfId,
}

impl CtxYield {
    /// Whether the load gives a pointer rather than a number.
    pub fn is_pointer(self) -> bool {
        self != CtxYield::Scalar
    }
}

/// A successful `is_valid_access`: what the verifier needs to go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxAccessOk {
    /// The register type a load gives (`Scalar` for stores).
    pub yields: CtxYield,
    /// The size of the whole field, for narrow loads (`ctx_field_size`):
    /// a 1-byte load of a 4-byte field has `field_size` 4.
    pub field_size: u32,
    /// The field's offset (the start of the field the access lies in).
    pub field_off: u32,
}

/// Why `is_valid_access` said no; the verifier prints the kernel's
/// `invalid bpf_context access off=%d size=%d` either way, but tools and
/// explanations want the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CtxRefusal {
    /// Outside the context struct.
    #[error("the offset lies outside the context struct")]
    OutOfRange,
    /// Not aligned to its size (the kernel requires `off % size == 0`).
    #[error("the access is not aligned to its size")]
    Misaligned,
    /// A size the field cannot be accessed at (narrow load not allowed).
    #[error("the field cannot be accessed at this size")]
    BadSize,
    /// The field may not be written.
    #[error("the field is read-only")]
    ReadOnly,
    /// The field may not be read.
    #[error("the field is write-only")]
    WriteOnly,
    /// The field is not available to this attach type.
    #[error("the field is not available to this attach type")]
    NotForAttachType,
    /// The field needs a privileged loader.
    #[error("the field needs a privileged (CAP_BPF) loader")]
    Privileged,
    /// Atomics into the context are refused.
    #[error("atomic operations on the context are not allowed")]
    BadInstruction,
    /// No field of this program type lies there (padding, a reserved
    /// field, or one the type may not touch).
    #[error("no field of this program type's context may be accessed there")]
    NoField,
    /// The access runs past the end of the field it starts in.
    #[error("the access runs past the end of the field")]
    PastField,
}

/// The legal return values (`check_return_code`), as a signed range on r0
/// (the kernel checks the whole 64-bit register for most types, the 32-bit
/// subregister for LSM hooks: see [`RetRange::on_64bit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetRange {
    /// The smallest legal value.
    pub min: i64,
    /// The largest legal value.
    pub max: i64,
    /// Whether the kernel checks the 64-bit register rather than w0.
    pub on_64bit: bool,
}

impl RetRange {
    /// `[min, max]` on the 64-bit register.
    pub const fn new(min: i64, max: i64) -> Self {
        RetRange {
            min,
            max,
            on_64bit: true,
        }
    }

    /// Whether `r0` is legal.
    pub fn contains(&self, r0: u64) -> bool {
        let v = if self.on_64bit {
            r0 as i64
        } else {
            r0 as u32 as i32 as i64
        };
        v >= self.min && v <= self.max
    }
}

/// Sizes as a bit set: the bit for size `s` is `s` itself (1, 2, 4, 8).
pub type Sizes = u8;
/// Only whole 4-byte accesses.
pub const SIZE_4: Sizes = 4;
/// Only whole 8-byte accesses.
pub const SIZE_8: Sizes = 8;
/// Narrow loads of a 4-byte field (1, 2 or 4 bytes).
pub const UP_TO_4: Sizes = 1 | 2 | 4;
/// Narrow loads of an 8-byte field, or any size.
pub const ANY_SIZE: Sizes = 1 | 2 | 4 | 8;

/// When one direction (load or store) of a field is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRule {
    /// The sizes allowed ([`Sizes`]).
    pub sizes: Sizes,
    /// Whether `off + size` must stay inside the field (`cb[]`).
    pub within: bool,
    /// The attach types that may access it (`None`: all).
    pub attach: Option<Vec<AttachType>>,
    /// Whether a privileged (CAP_BPF) loader is needed.
    pub privileged: bool,
}

impl AccessRule {
    /// Any attach type, unprivileged, these sizes.
    pub fn sizes(sizes: Sizes) -> Self {
        AccessRule {
            sizes,
            within: false,
            attach: None,
            privileged: false,
        }
    }

    /// This rule, only for these attach types.
    pub fn only_for(mut self, attach: &[AttachType]) -> Self {
        self.attach = Some(attach.to_vec());
        self
    }

    /// This rule, the access staying inside the field.
    pub fn within(mut self) -> Self {
        self.within = true;
        self
    }
}

/// One field of a context struct, as `is_valid_access` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxField {
    /// The uapi name (`"data"`, `"cb"`, `"remote_ip6"`...).
    pub name: Cow<'static, str>,
    /// The first start offset the rule covers.
    pub off: u32,
    /// How many start offsets from `off` it covers (usually the field's
    /// size; 1 where the kernel matches one exact offset).
    pub len: u32,
    /// The kernel's `ctx_field_size` for narrow loads: the element size.
    pub elem: u32,
    /// What a load yields.
    pub yields: CtxYield,
    /// Loads (`None`: refused).
    pub read: Option<AccessRule>,
    /// Stores (`None`: refused).
    pub write: Option<AccessRule>,
}

impl CtxField {
    /// A field with these rules.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        off: u32,
        len: u32,
        read: Option<AccessRule>,
        write: Option<AccessRule>,
    ) -> Self {
        CtxField {
            name: name.into(),
            off,
            len,
            elem: len.clamp(1, 4),
            yields: CtxYield::Scalar,
            read,
            write,
        }
    }

    /// A field no access may touch (padding, reserved).
    pub fn none(name: impl Into<Cow<'static, str>>, off: u32, len: u32) -> Self {
        Self::new(name, off, len, None, None)
    }

    /// A read-only field of these load sizes.
    pub fn ro(name: impl Into<Cow<'static, str>>, off: u32, len: u32, sizes: Sizes) -> Self {
        Self::new(name, off, len, Some(AccessRule::sizes(sizes)), None)
    }

    /// This field, yielding `y` on loads.
    pub fn yields(mut self, y: CtxYield) -> Self {
        self.yields = y;
        self
    }

    /// This field, with `elem` as its narrow-load unit.
    pub fn elem(mut self, elem: u32) -> Self {
        self.elem = elem;
        self
    }

    /// The offset one past the last start offset it covers.
    pub fn end(&self) -> u32 {
        self.off + self.len
    }
}

/// A program type's descriptor: everything the verifier and the engines
/// need to know about it. Built-in ones come from [`ProgTypeDesc::builtin`];
/// an embedder fills one in.
#[derive(Clone, Debug)]
pub struct ProgTypeDesc {
    /// The kernel type it is, or `None` for an embedder's own type.
    pub id: Option<ProgTypeId>,
    /// The kernel's number of [`ProgTypeDesc::id`] (0 for none), as a
    /// plain field for code that keys tables by it; set by the
    /// constructors, and [`ProgTypeDesc::kernel_id`] derives it from `id`.
    pub kernel_id: u32,
    /// The name libbpf and bpftool use (`xdp`, `sched_cls`...).
    pub name: String,
    /// Other names it goes by (`tc`, `classifier`...).
    pub aliases: Vec<String>,
    /// The uapi struct of its context (`"__sk_buff"`), if it has one.
    pub ctx_struct: String,
    /// The size of the uapi context struct (`struct xdp_md`, ...): every
    /// offset at or past it is out of range.
    pub ctx_size: u32,
    /// Whether accesses must be aligned to their size (`off % size == 0`);
    /// a few `is_valid_access` functions do not check it.
    pub aligned: bool,
    /// The rule for negative offsets (`None`: out of range). Only the
    /// tracepoint type has one, from a signed/unsigned comparison in the
    /// kernel.
    pub negative: Option<AccessRule>,
    /// The fields, looked up by the access's start offset; the first whose
    /// range holds it decides. Offsets no field holds are refused.
    pub fields: Vec<CtxField>,
    /// The `expected_attach_type`s the kernel accepts at load (empty: the
    /// type takes none).
    pub attach_types: Vec<AttachType>,
    /// Whether the kernel refuses a load whose `expected_attach_type` is
    /// not one of [`ProgTypeDesc::attach_types`].
    pub attach_required: bool,
    /// The attach type the kernel assumes when none is given (the kernel's
    /// `bpf_prog_load_fixup_attach_type`, or the value 0 stands for).
    pub default_attach: Option<AttachType>,
    /// The legal return range when no attach type changes it (`None`: any).
    pub ret: Option<RetRange>,
    /// Attach types whose return rule differs from [`ProgTypeDesc::ret`].
    pub ret_by_attach: Vec<(AttachType, Option<RetRange>)>,
    /// Whether the real return rule comes from BTF (LSM hooks, struct_ops
    /// members): then [`ProgTypeDesc::ret`] is only what is known without it.
    pub ret_from_btf: bool,
    /// Whether the context is BTF-typed (tracing, lsm, struct_ops, ext):
    /// its fields come from the attach target, not from this descriptor.
    pub btf_ctx: bool,
    /// Whether the kernel's test run hands the program an skb whose `data`
    /// is at the MAC header (tc programs) rather than at the network header.
    pub skb_at_l2: bool,
    /// Whether the kernel's `BPF_PROG_TEST_RUN` runs it on a packet
    /// (`data_in`): the skb types but sk_skb, xdp and flow_dissector.
    pub test_run_packet: bool,
    /// Whether the type runs on a packet (through `data`/`data_end`
    /// fields, or the skb helpers and `ld_abs` for socket filters).
    pub has_packet: bool,
}

impl ProgTypeDesc {
    /// An embedder's type: no fields yet, any return value.
    pub fn custom(name: impl Into<String>, ctx_size: u32) -> Self {
        ProgTypeDesc {
            id: None,
            kernel_id: 0,
            name: name.into(),
            aliases: Vec::new(),
            ctx_struct: String::new(),
            ctx_size,
            aligned: true,
            negative: None,
            fields: Vec::new(),
            attach_types: Vec::new(),
            attach_required: false,
            default_attach: None,
            ret: None,
            ret_by_attach: Vec::new(),
            ret_from_btf: false,
            btf_ctx: false,
            skb_at_l2: false,
            test_run_packet: false,
            has_packet: false,
        }
    }

    /// The built-in descriptor of a kernel program type (`None` for
    /// `unspec`).
    pub fn builtin(id: ProgTypeId) -> Option<&'static ProgTypeDesc> {
        crate::builtin::all().iter().find(|d| d.id == Some(id))
    }

    /// The built-in descriptor called `name` or one of its aliases
    /// (`"tc"` is sched_cls).
    pub fn by_name(name: &str) -> Option<&'static ProgTypeDesc> {
        crate::builtin::all()
            .iter()
            .find(|d| d.name == name || d.aliases.iter().any(|a| a == name))
    }

    /// Every built-in descriptor, in the kernel's order.
    pub fn all_builtin() -> &'static [ProgTypeDesc] {
        crate::builtin::all()
    }

    /// The kernel's `BPF_PROG_TYPE_*` number (0, `unspec`, for an
    /// embedder's own type), for bpf(2) and for tables keyed by it.
    pub fn kernel_id(&self) -> u32 {
        self.id.map_or(0, |id| id.kernel_id())
    }

    /// The field called `name` that loads may read (its first rule).
    pub fn field_named(&self, name: &str) -> Option<&CtxField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field whose range holds the start offset `off`.
    pub fn field_at(&self, off: u32) -> Option<&CtxField> {
        self.fields.iter().find(|f| off >= f.off && off < f.end())
    }

    /// The fields whose loads yield `y` (the packet pointers, say).
    pub fn fields_yielding(&self, y: CtxYield) -> impl Iterator<Item = &CtxField> {
        self.fields
            .iter()
            .filter(move |f| f.yields == y && f.read.is_some())
    }

    /// The attach type an access is judged under.
    pub fn effective_attach(&self, attach: Option<AttachType>) -> Option<AttachType> {
        attach.or(self.default_attach)
    }

    /// The kernel's `is_valid_access` for this type.
    pub fn is_valid_access(&self, access: &CtxAccess) -> Result<CtxAccessOk, CtxRefusal> {
        if access.kind == AccessKind::Atomic {
            return Err(CtxRefusal::BadInstruction);
        }
        let size = access.size;
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(CtxRefusal::BadSize);
        }
        if access.off < 0 {
            return self.negative_access(access);
        }
        if access.off >= self.ctx_size as i64 {
            return Err(CtxRefusal::OutOfRange);
        }
        let off = access.off as u32;
        if self.aligned && !off.is_multiple_of(size) {
            return Err(CtxRefusal::Misaligned);
        }
        let f = self.field_at(off).ok_or(CtxRefusal::NoField)?;
        let rule = match (access.kind.is_write(), &f.read, &f.write) {
            (_, None, None) => return Err(CtxRefusal::NoField),
            (false, Some(r), _) => r,
            (false, None, _) => return Err(CtxRefusal::WriteOnly),
            (true, _, Some(w)) => w,
            (true, _, None) => return Err(CtxRefusal::ReadOnly),
        };
        if let Some(list) = &rule.attach {
            let at = self.effective_attach(access.attach_type);
            if !at.is_some_and(|t| list.contains(&t)) {
                return Err(CtxRefusal::NotForAttachType);
            }
        }
        if rule.privileged && !access.privileged {
            return Err(CtxRefusal::Privileged);
        }
        if rule.sizes & size as u8 == 0 {
            return Err(CtxRefusal::BadSize);
        }
        if rule.within && off + size > f.end() {
            return Err(CtxRefusal::PastField);
        }
        let field_size = size.max(f.elem.max(1));
        // uapi fields are naturally aligned: the field a narrow load lies
        // in starts at the offset rounded down to the field's size, as the
        // kernel's `convert_ctx_accesses` computes it.
        let field_off = off & !(field_size.next_power_of_two() - 1);
        Ok(CtxAccessOk {
            yields: if access.kind.is_write() {
                CtxYield::Scalar
            } else {
                f.yields
            },
            field_size,
            field_off,
        })
    }

    /// A sentence on why `access` was refused with `why`, naming the
    /// field, the sizes it takes or the attach types it needs.
    pub fn explain_refusal(&self, access: &CtxAccess, why: CtxRefusal) -> String {
        let strukt = if self.ctx_struct.is_empty() {
            format!("the {} context", self.name)
        } else {
            format!("struct {}", self.ctx_struct)
        };
        let field = (access.off >= 0)
            .then(|| self.field_at(access.off as u32))
            .flatten();
        let verb = if access.kind.is_write() {
            "stored"
        } else {
            "loaded"
        };
        let rule = field.and_then(|f| {
            if access.kind.is_write() {
                f.write.as_ref()
            } else {
                f.read.as_ref()
            }
        });
        match (why, field) {
            (CtxRefusal::OutOfRange, _) => format!(
                "offset {} lies outside {strukt} ({} bytes)",
                access.off, self.ctx_size
            ),
            (CtxRefusal::Misaligned, _) => format!(
                "a {}-byte access must start at a multiple of {} (offset {})",
                access.size, access.size, access.off
            ),
            (CtxRefusal::BadInstruction, _) => {
                "atomic operations on the context are refused by the kernel's verifier".into()
            }
            (CtxRefusal::BadSize, Some(f)) => format!(
                "field `{}` of {strukt} can be {verb} only as {} bytes",
                f.name,
                rule.map_or_else(|| "no".into(), |r| size_list(r.sizes))
            ),
            (CtxRefusal::ReadOnly, Some(f)) => {
                format!("field `{}` of {strukt} is read-only for {} programs", f.name, self.name)
            }
            (CtxRefusal::WriteOnly, Some(f)) => {
                format!("field `{}` of {strukt} is write-only for {} programs", f.name, self.name)
            }
            (CtxRefusal::NotForAttachType, Some(f)) => {
                let names: Vec<&str> = rule
                    .and_then(|r| r.attach.as_ref())
                    .map(|l| l.iter().map(|a| a.name()).collect())
                    .unwrap_or_default();
                format!(
                    "field `{}` of {strukt} may be {verb} only by programs loaded with expected attach type {}",
                    f.name,
                    names.join(" or ")
                )
            }
            (CtxRefusal::Privileged, Some(f)) => format!(
                "field `{}` of {strukt} may be {verb} only by a privileged (CAP_BPF) loader",
                f.name
            ),
            (CtxRefusal::PastField, Some(f)) => format!(
                "a {}-byte access at offset {} runs past the end of field `{}` (offset {}, {} bytes)",
                access.size,
                access.off,
                f.name,
                f.off,
                f.len
            ),
            (CtxRefusal::NoField, Some(f)) => format!(
                "`{}` (offset {}) of {strukt} may not be accessed by {} programs",
                f.name, access.off, self.name
            ),
            (_, _) => format!(
                "no field of {strukt} may be accessed at offset {} by {} programs",
                access.off, self.name
            ),
        }
    }

    fn negative_access(&self, access: &CtxAccess) -> Result<CtxAccessOk, CtxRefusal> {
        let Some(rule) = &self.negative else {
            return Err(CtxRefusal::OutOfRange);
        };
        if access.kind.is_write() {
            return Err(CtxRefusal::ReadOnly);
        }
        if self.aligned && access.off % access.size as i64 != 0 {
            return Err(CtxRefusal::Misaligned);
        }
        if rule.sizes & access.size as u8 == 0 {
            return Err(CtxRefusal::BadSize);
        }
        Ok(CtxAccessOk {
            yields: CtxYield::Scalar,
            field_size: access.size,
            field_off: access.off as u32,
        })
    }

    /// The legal return range (`check_return_code`), `None` where any value
    /// is accepted.
    pub fn return_range(&self, attach_type: Option<AttachType>) -> Option<RetRange> {
        if let Some(at) = self.effective_attach(attach_type) {
            if let Some((_, r)) = self.ret_by_attach.iter().find(|(a, _)| *a == at) {
                return *r;
            }
        }
        self.ret
    }

    /// The attach types worth checking apart: every one if the type needs
    /// one to load, else the default (`None`) and those that the context
    /// fields or the return rule name.
    pub fn rule_attach_types(&self) -> Vec<Option<AttachType>> {
        if self.attach_required {
            return self.attach_types.iter().map(|a| Some(*a)).collect();
        }
        let mut named: Vec<AttachType> = self.ret_by_attach.iter().map(|(a, _)| *a).collect();
        for f in &self.fields {
            for r in [&f.read, &f.write].into_iter().flatten() {
                named.extend(r.attach.iter().flatten().copied());
            }
        }
        let mut out = vec![None];
        for a in &self.attach_types {
            if named.contains(a) && Some(*a) != self.default_attach {
                out.push(Some(*a));
            }
        }
        out
    }
}

/// "4", "1, 2 or 4".
fn size_list(sizes: Sizes) -> String {
    let v: Vec<String> = [1u8, 2, 4, 8]
        .iter()
        .filter(|s| sizes & **s != 0)
        .map(|s| s.to_string())
        .collect();
    match v.len() {
        0 => "no".into(),
        1 => v[0].clone(),
        n => format!("{} or {}", v[..n - 1].join(", "), v[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(
        t: ProgTypeId,
        off: i64,
        size: u32,
        kind: AccessKind,
    ) -> Result<CtxAccessOk, CtxRefusal> {
        ProgTypeDesc::builtin(t)
            .unwrap()
            .is_valid_access(&CtxAccess::new(off, size, kind))
    }

    #[test]
    fn issue_9_table() {
        use AccessKind::*;
        use ProgTypeId::*;
        assert_eq!(verdict(SocketFilter, 76, 4, Load), Err(CtxRefusal::NoField));
        assert_eq!(verdict(SocketFilter, 88, 4, Load), Err(CtxRefusal::NoField));
        assert_eq!(
            verdict(SocketFilter, 8, 4, StoreReg),
            Err(CtxRefusal::ReadOnly)
        );
        assert!(verdict(SchedCls, 12, 4, StoreReg).is_ok());
        assert_eq!(verdict(SchedCls, 1, 2, Load), Err(CtxRefusal::Misaligned));
        let sk = verdict(SchedCls, 168, 8, Load).unwrap();
        assert_eq!(sk.yields, CtxYield::PtrToSockCommonOrNull);
        assert_eq!(verdict(Xdp, 12, 1, Load), Err(CtxRefusal::BadSize));
        assert_eq!(verdict(Xdp, 20, 4, Load), Err(CtxRefusal::NotForAttachType));
        let devmap = CtxAccess {
            attach_type: Some(AttachType::XdpDevmap),
            ..CtxAccess::new(20, 4, Load)
        };
        assert!(ProgTypeDesc::builtin(Xdp)
            .unwrap()
            .is_valid_access(&devmap)
            .is_ok());
        assert_eq!(verdict(Tracepoint, 0, 8, Load), Err(CtxRefusal::NoField));
        assert!(verdict(Tracepoint, 4096, 8, Load).is_ok());
        let cg = ProgTypeDesc::builtin(CgroupSkb).unwrap();
        assert!(!cg.return_range(None).unwrap().contains(5));
        assert!(cg
            .return_range(Some(AttachType::CgroupInetEgress))
            .unwrap()
            .contains(3));
    }

    #[test]
    fn narrow_loads_name_their_field() {
        use ProgTypeId::*;
        let ok = verdict(SchedCls, 50, 2, AccessKind::Load).unwrap();
        assert_eq!((ok.field_off, ok.field_size), (48, 4));
        let ok = verdict(SchedCls, 9, 1, AccessKind::Load).unwrap();
        assert_eq!((ok.field_off, ok.field_size), (8, 4));
        assert_eq!(
            verdict(SchedCls, 8, 4, AccessKind::Atomic),
            Err(CtxRefusal::BadInstruction)
        );
    }

    #[test]
    fn every_kernel_type_has_a_descriptor_with_sorted_fields() {
        for &id in ProgTypeId::ALL {
            if id == ProgTypeId::Unspec {
                assert!(ProgTypeDesc::builtin(id).is_none());
                continue;
            }
            let d = ProgTypeDesc::builtin(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(d.name, id.name());
            let mut end = 0;
            for f in &d.fields {
                assert!(
                    f.off >= end,
                    "{id}: {} overlaps the field before it",
                    f.name
                );
                end = f.end();
                assert!(end <= d.ctx_size, "{id}: {} runs past the context", f.name);
            }
        }
    }

    #[test]
    fn refusals_explain_themselves() {
        let d = ProgTypeDesc::builtin(ProgTypeId::Xdp).unwrap();
        let a = CtxAccess::new(0, 2, AccessKind::Load);
        let why = d.is_valid_access(&a).unwrap_err();
        assert_eq!(
            d.explain_refusal(&a, why),
            "field `data` of struct xdp_md can be loaded only as 4 bytes"
        );
        let a = CtxAccess::new(20, 4, AccessKind::Load);
        let why = d.is_valid_access(&a).unwrap_err();
        assert!(d.explain_refusal(&a, why).contains("xdp_devmap"));
    }

    #[test]
    fn an_embedder_builds_a_type_at_run_time() {
        let mut d = ProgTypeDesc::custom("my_hook", 16);
        d.fields.push(CtxField::new(
            String::from("counter"),
            0,
            8,
            Some(AccessRule::sizes(SIZE_8)),
            Some(AccessRule::sizes(SIZE_8)),
        ));
        d.ret = Some(RetRange::new(0, 0));
        assert!(d
            .is_valid_access(&CtxAccess::new(0, 8, AccessKind::StoreReg))
            .is_ok());
        assert_eq!(
            d.is_valid_access(&CtxAccess::new(8, 8, AccessKind::Load)),
            Err(CtxRefusal::NoField)
        );
        assert_eq!(d.return_range(None), Some(RetRange::new(0, 0)));
    }
}
