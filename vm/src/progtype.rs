//! Program types, as the `ironbpf-progtype` crate describes them: the
//! context layout a program sees (the uapi struct: `struct xdp_md`,
//! `struct __sk_buff`, ...), which fields it may read or write at which
//! sizes (the kernel's `is_valid_access`), and which fields are really
//! pointers (`data`, `data_end`, `data_meta`). The verifier, both engines
//! and the CLI read the same descriptor; an embedder builds its own
//! [`ProgType`] value and passes it by reference.
//!
//! In userspace the context is the uapi struct itself. A load of a packet
//! pointer field yields the real 64-bit address, as the kernel's rewritten
//! (`convert_ctx_access`) load does; other pointer fields (`sk`...) read as
//! the bytes the caller put there (0: NULL).

use std::ops::Deref;

pub use ironbpf_progtype::{
    AccessKind, AccessRule, AttachType, CtxAccess, CtxField, CtxRefusal, CtxYield, ProgTypeDesc,
    ProgTypeId,
};

/// A program type's descriptor (the name the vm API has always used).
pub type ProgType = ProgTypeDesc;

/// A built-in descriptor by name, usable where a `&ProgType` is wanted
/// (`&progtype::XDP`).
#[derive(Debug, Clone, Copy)]
pub struct Builtin(pub ProgTypeId);

impl Deref for Builtin {
    type Target = ProgTypeDesc;
    fn deref(&self) -> &ProgTypeDesc {
        // Every id named below has a built-in descriptor (the progtype
        // crate's tests check that each kernel type but `unspec` has one).
        ProgTypeDesc::builtin(self.0).unwrap_or_else(|| unreachable!("{} has a descriptor", self.0))
    }
}

/// `BPF_PROG_TYPE_SOCKET_FILTER`: `struct __sk_buff`.
pub static SOCKET_FILTER: Builtin = Builtin(ProgTypeId::SocketFilter);
/// `BPF_PROG_TYPE_KPROBE`: `struct pt_regs`.
pub static KPROBE: Builtin = Builtin(ProgTypeId::Kprobe);
/// `BPF_PROG_TYPE_SCHED_CLS` (tc): `struct __sk_buff`.
pub static SCHED_CLS: Builtin = Builtin(ProgTypeId::SchedCls);
/// `BPF_PROG_TYPE_SCHED_ACT`: `struct __sk_buff`.
pub static SCHED_ACT: Builtin = Builtin(ProgTypeId::SchedAct);
/// `BPF_PROG_TYPE_TRACEPOINT`: the tracepoint's record.
pub static TRACEPOINT: Builtin = Builtin(ProgTypeId::Tracepoint);
/// `BPF_PROG_TYPE_XDP`: `struct xdp_md`.
pub static XDP: Builtin = Builtin(ProgTypeId::Xdp);
/// `BPF_PROG_TYPE_PERF_EVENT`: `struct bpf_perf_event_data`.
pub static PERF_EVENT: Builtin = Builtin(ProgTypeId::PerfEvent);
/// `BPF_PROG_TYPE_CGROUP_SKB`: `struct __sk_buff`.
pub static CGROUP_SKB: Builtin = Builtin(ProgTypeId::CgroupSkb);
/// `BPF_PROG_TYPE_RAW_TRACEPOINT`: `struct bpf_raw_tracepoint_args`.
pub static RAW_TRACEPOINT: Builtin = Builtin(ProgTypeId::RawTracepoint);

/// The built-in types this crate can run: those whose context is a uapi
/// struct (the BTF-typed ones need their target's BTF).
pub fn all() -> impl Iterator<Item = &'static ProgTypeDesc> {
    ProgTypeDesc::all_builtin().iter().filter(|d| !d.btf_ctx)
}

/// The names of [`all`], for messages.
pub fn names() -> Vec<&'static str> {
    all().map(|d| d.name.as_str()).collect()
}

/// The built-in program type with that name or alias (`"tc"` is sched_cls).
pub fn by_name(name: &str) -> Option<&'static ProgTypeDesc> {
    ProgTypeDesc::by_name(name).filter(|d| !d.btf_ctx)
}

/// The built-in program type with that kernel `BPF_PROG_TYPE_*` value.
pub fn by_kernel_id(id: u32) -> Option<&'static ProgTypeDesc> {
    ProgTypeId::from_kernel_id(id).and_then(ProgTypeDesc::builtin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_name_alias_and_kernel_id() {
        assert_eq!(by_name("xdp").unwrap().id, Some(ProgTypeId::Xdp));
        assert_eq!(by_name("tc").unwrap().name, "sched_cls");
        assert_eq!(
            by_kernel_id(ProgTypeId::SocketFilter.kernel_id())
                .unwrap()
                .name,
            "socket_filter"
        );
        assert_eq!(XDP.ctx_size, 24);
        assert!(names().contains(&"cgroup_sock_addr"));
    }
}
