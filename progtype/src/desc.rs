//! The descriptor of a program type: what the kernel's `bpf_verifier_ops`
//! (`is_valid_access`, `convert_ctx_access`) and `check_return_code` say
//! about it.
//!
//! This is the contract the verifier and both engines code against. The
//! built-in descriptors of every Linux 6.18 program type are defined once in
//! this crate; an embedder builds its own [`ProgTypeDesc`] at run time.
//!
//! NOTE (session 3 skeleton): the types below are the agreed interface; the
//! per-type rules are being filled in on the descriptors branch.

use crate::{AttachType, ProgTypeId};

/// How the program touches the context (the kernel's `enum bpf_access_type`
/// plus the instruction class, since the kernel treats `BPF_ST` and atomics
/// apart from `BPF_STX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// `BPF_LDX` (`BPF_READ`).
    Load,
    /// `BPF_STX` of a register (`BPF_WRITE`).
    StoreReg,
    /// `BPF_ST` of an immediate (`BPF_WRITE`, refused by the kernel for ctx).
    StoreImm,
    /// An atomic read-modify-write (refused by the kernel for ctx).
    Atomic,
}

/// The question `is_valid_access` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxAccess {
    /// Byte offset into the context (the instruction's off plus the
    /// register's fixed offset).
    pub off: i64,
    /// Access size in bytes: 1, 2, 4 or 8.
    pub size: u32,
    pub kind: AccessKind,
    /// The program's `expected_attach_type`, where the type has one.
    pub attach_type: Option<AttachType>,
    /// Whether the loader is privileged (CAP_BPF/CAP_PERFMON/CAP_NET_ADMIN
    /// as the type requires): some fields are readable only then.
    pub privileged: bool,
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
    /// `PTR_TO_SOCK_COMMON_OR_NULL` (`__sk_buff.sk`, `bpf_sock_ops.sk`...).
    PtrToSockCommonOrNull,
    /// `PTR_TO_SOCKET` (`bpf_sk_lookup.sk`, ...), non-null.
    PtrToSocket,
    /// `PTR_TO_SOCKET_OR_NULL`.
    PtrToSocketOrNull,
    /// `PTR_TO_FLOW_KEYS` (`__sk_buff.flow_keys` in flow dissectors).
    PtrToFlowKeys,
    /// `PTR_TO_TP_BUFFER` (raw_tracepoint_writable's buffer).
    PtrToTpBuffer,
    /// `PTR_TO_CTX`-typed pointers to other kernel structs, by BTF later.
    PtrToBtfId,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtxRefusal {
    /// Outside the context struct.
    OutOfRange,
    /// Not aligned to its size (the kernel requires `off % size == 0`).
    Misaligned,
    /// A size the field cannot be read at (narrow load not allowed).
    BadSize,
    /// The field may not be written.
    ReadOnly,
    /// The field may not be read.
    WriteOnly,
    /// The field is reserved or not available to this attach type.
    NotForAttachType,
    /// The field needs a privileged loader.
    Privileged,
    /// Stores of immediates or atomics into the context are refused.
    BadInstruction,
}

/// The legal return values (`check_return_code`), as a signed range on the
/// low 32 bits of r0 (the kernel checks the 32-bit subregister for most
/// types, the whole register for some: see [`RetRange::on_64bit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetRange {
    pub min: i64,
    pub max: i64,
    /// Whether the kernel checks the 64-bit register rather than w0.
    pub on_64bit: bool,
}

/// A program type's descriptor. The method signatures below are the
/// contract; the fields and the rules behind them belong to this crate.
#[derive(Clone, Debug)]
pub struct ProgTypeDesc {
    /// The kernel type it is, or `None` for an embedder's own type.
    pub id: Option<ProgTypeId>,
    /// The name libbpf and bpftool use (`xdp`, `sched_cls`...).
    pub name: String,
    /// The size of the uapi context struct (`struct xdp_md`, ...).
    pub ctx_size: u32,
}

impl ProgTypeDesc {
    /// The built-in descriptor of a kernel program type.
    pub fn builtin(id: ProgTypeId) -> Option<&'static ProgTypeDesc> {
        let _ = id;
        None
    }

    /// The kernel's `is_valid_access` for this type.
    pub fn is_valid_access(&self, access: &CtxAccess) -> Result<CtxAccessOk, CtxRefusal> {
        if access.off < 0 || access.off as u64 + access.size as u64 > self.ctx_size as u64 {
            return Err(CtxRefusal::OutOfRange);
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
        let _ = attach_type;
        None
    }
}
