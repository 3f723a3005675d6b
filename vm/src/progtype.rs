//! Program types as data, as the kernel's `bpf_verifier_ops` are: the
//! context layout a program sees (the uapi struct: `struct xdp_md`,
//! `struct __sk_buff`, ...), which fields it may read or write at which
//! sizes, and which fields are really pointers (`data`, `data_end`,
//! `data_meta`). The verifier, both engines and the CLI read the same
//! descriptor; an embedder can define its own.
//!
//! In userspace the context is the uapi struct itself. A load of a pointer
//! field yields the real 64-bit address, as the kernel's rewritten
//! (`convert_ctx_access`) load does.

/// What a context field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxFieldKind {
    /// A plain number, stored in the context buffer.
    Scalar,
    /// The packet start (`PTR_TO_PACKET`).
    PacketData,
    /// One past the packet end (`PTR_TO_PACKET_END`).
    PacketEnd,
    /// The start of the packet metadata (`PTR_TO_PACKET_META`).
    PacketMeta,
}

/// One field of a context struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxField {
    pub name: &'static str,
    pub off: u32,
    pub size: u32,
    pub kind: CtxFieldKind,
    /// The program may store to it.
    pub writable: bool,
}

impl CtxField {
    const fn scalar(name: &'static str, off: u32, size: u32, writable: bool) -> Self {
        CtxField {
            name,
            off,
            size,
            kind: CtxFieldKind::Scalar,
            writable,
        }
    }
    const fn ptr(name: &'static str, off: u32, kind: CtxFieldKind) -> Self {
        CtxField {
            name,
            off,
            size: 4,
            kind,
            writable: false,
        }
    }
}

/// A program type.
#[derive(Debug)]
pub struct ProgType {
    /// The name libbpf and bpftool use (`xdp`, `socket_filter`, ...).
    pub name: &'static str,
    /// The kernel's `BPF_PROG_TYPE_*` value.
    pub kernel_id: u32,
    /// The size of the uapi context struct.
    pub ctx_size: u32,
    /// Its fields that a program may access.
    pub fields: &'static [CtxField],
    /// Whether programs of this type see packet data.
    pub has_packet: bool,
}

impl ProgType {
    /// The field covering `[off, off + size)`, if one does wholly.
    /// Whether the kernel's test run gives this type's skb with `data` at
    /// the MAC header (tc programs) rather than at the network header
    /// (socket filters, cgroup skb programs): where classic packet loads'
    /// `SKF_NET_OFF` and `SKF_LL_OFF` count from.
    pub fn skb_at_l2(&self) -> bool {
        matches!(self.kernel_id, 3 | 4)
    }

    pub fn field(&self, off: u64, size: u64) -> Option<&CtxField> {
        self.fields
            .iter()
            .find(|f| off >= f.off as u64 && off + size <= (f.off + f.size) as u64)
    }
}

use CtxFieldKind::*;

/// `BPF_PROG_TYPE_XDP`: `struct xdp_md`.
pub static XDP: ProgType = ProgType {
    name: "xdp",
    kernel_id: 6,
    ctx_size: 24,
    fields: &[
        CtxField::ptr("data", 0, PacketData),
        CtxField::ptr("data_end", 4, PacketEnd),
        CtxField::ptr("data_meta", 8, PacketMeta),
        CtxField::scalar("ingress_ifindex", 12, 4, false),
        CtxField::scalar("rx_queue_index", 16, 4, false),
        CtxField::scalar("egress_ifindex", 20, 4, false),
    ],
    has_packet: true,
};

/// The fields of `struct __sk_buff` that socket and tc programs share.
const SKB_FIELDS: &[CtxField] = &[
    CtxField::scalar("len", 0, 4, false),
    CtxField::scalar("pkt_type", 4, 4, false),
    CtxField::scalar("mark", 8, 4, true),
    CtxField::scalar("queue_mapping", 12, 4, false),
    CtxField::scalar("protocol", 16, 4, false),
    CtxField::scalar("vlan_present", 20, 4, false),
    CtxField::scalar("vlan_tci", 24, 4, false),
    CtxField::scalar("vlan_proto", 28, 4, false),
    CtxField::scalar("priority", 32, 4, true),
    CtxField::scalar("ingress_ifindex", 36, 4, false),
    CtxField::scalar("ifindex", 40, 4, false),
    CtxField::scalar("tc_index", 44, 4, true),
    CtxField::scalar("cb", 48, 20, true),
    CtxField::scalar("hash", 68, 4, false),
    CtxField::scalar("tc_classid", 72, 4, true),
    CtxField::ptr("data", 76, PacketData),
    CtxField::ptr("data_end", 80, PacketEnd),
    CtxField::scalar("napi_id", 84, 4, false),
    CtxField::scalar("family", 88, 4, false),
    CtxField::scalar("remote_ip4", 92, 4, false),
    CtxField::scalar("local_ip4", 96, 4, false),
    CtxField::scalar("remote_ip6", 100, 16, false),
    CtxField::scalar("local_ip6", 116, 16, false),
    CtxField::scalar("remote_port", 132, 4, false),
    CtxField::scalar("local_port", 136, 4, false),
    CtxField::ptr("data_meta", 140, PacketMeta),
    CtxField::scalar("tstamp", 152, 8, true),
    CtxField::scalar("wire_len", 160, 4, false),
    CtxField::scalar("gso_segs", 164, 4, false),
    CtxField::scalar("gso_size", 176, 4, false),
    CtxField::scalar("hwtstamp", 184, 8, false),
];

/// `BPF_PROG_TYPE_SOCKET_FILTER`: `struct __sk_buff`.
pub static SOCKET_FILTER: ProgType = ProgType {
    name: "socket_filter",
    kernel_id: 1,
    ctx_size: 192,
    fields: SKB_FIELDS,
    has_packet: true,
};

/// `BPF_PROG_TYPE_SCHED_CLS` (tc): `struct __sk_buff`.
pub static SCHED_CLS: ProgType = ProgType {
    name: "sched_cls",
    kernel_id: 3,
    ctx_size: 192,
    fields: SKB_FIELDS,
    has_packet: true,
};

/// `BPF_PROG_TYPE_SCHED_ACT` (tc action): `struct __sk_buff`.
pub static SCHED_ACT: ProgType = ProgType {
    name: "sched_act",
    kernel_id: 4,
    ctx_size: 192,
    fields: SKB_FIELDS,
    has_packet: true,
};

/// `BPF_PROG_TYPE_CGROUP_SKB`: `struct __sk_buff`.
pub static CGROUP_SKB: ProgType = ProgType {
    name: "cgroup_skb",
    kernel_id: 8,
    ctx_size: 192,
    fields: SKB_FIELDS,
    has_packet: true,
};

/// `BPF_PROG_TYPE_KPROBE`: `struct pt_regs` (x86-64, 21 registers), read-only.
pub static KPROBE: ProgType = ProgType {
    name: "kprobe",
    kernel_id: 2,
    ctx_size: 168,
    fields: &[CtxField::scalar("regs", 0, 168, false)],
    has_packet: false,
};

/// `BPF_PROG_TYPE_TRACEPOINT`: the tracepoint's raw record, read-only.
pub static TRACEPOINT: ProgType = ProgType {
    name: "tracepoint",
    kernel_id: 5,
    ctx_size: 4096,
    fields: &[CtxField::scalar("record", 0, 4096, false)],
    has_packet: false,
};

/// `BPF_PROG_TYPE_PERF_EVENT`: `struct bpf_perf_event_data`, read-only.
pub static PERF_EVENT: ProgType = ProgType {
    name: "perf_event",
    kernel_id: 7,
    ctx_size: 184,
    fields: &[CtxField::scalar("regs_and_sample", 0, 184, false)],
    has_packet: false,
};

/// `BPF_PROG_TYPE_RAW_TRACEPOINT`: an array of u64 arguments, read-only.
pub static RAW_TRACEPOINT: ProgType = ProgType {
    name: "raw_tracepoint",
    kernel_id: 17,
    ctx_size: 96,
    fields: &[CtxField::scalar("args", 0, 96, false)],
    has_packet: false,
};

/// Every built-in program type.
pub static ALL: &[&ProgType] = &[
    &SOCKET_FILTER,
    &KPROBE,
    &SCHED_CLS,
    &SCHED_ACT,
    &TRACEPOINT,
    &XDP,
    &PERF_EVENT,
    &CGROUP_SKB,
    &RAW_TRACEPOINT,
];

/// The built-in program type with that name.
pub fn by_name(name: &str) -> Option<&'static ProgType> {
    ALL.iter().copied().find(|p| p.name == name)
}

/// The built-in program type with that kernel `BPF_PROG_TYPE_*` value.
pub fn by_kernel_id(id: u32) -> Option<&'static ProgType> {
    ALL.iter().copied().find(|p| p.kernel_id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lie_inside_the_context_and_do_not_overlap() {
        for p in ALL {
            let mut end = 0;
            for f in p.fields {
                assert!(f.off >= end, "{}: {} overlaps", p.name, f.name);
                end = f.off + f.size;
                assert!(end <= p.ctx_size, "{}: {} past the end", p.name, f.name);
            }
        }
    }

    #[test]
    fn lookup_by_name_and_kernel_id() {
        assert_eq!(by_name("xdp").unwrap().kernel_id, 6);
        assert_eq!(by_kernel_id(1).unwrap().name, "socket_filter");
        assert!(XDP.field(0, 4).is_some());
        assert!(XDP.field(2, 4).is_none());
    }
}
