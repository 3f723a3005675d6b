//! The built-in descriptors: every Linux 6.18 program type, its context
//! rules as the kernel's `*_is_valid_access` functions have them
//! (net/core/filter.c, kernel/bpf/cgroup.c, kernel/trace/bpf_trace.c,
//! net/netfilter/nf_bpf_link.c, kernel/bpf/syscall.c), written out as data,
//! and its return rule as `check_return_code` has it. Checked against the
//! kernel by `ironbpf diff --descriptors`.

use std::sync::OnceLock;

use crate::desc::*;
use crate::{AttachType as A, ProgTypeId as P};

/// The descriptors, built once.
pub(crate) fn all() -> &'static [ProgTypeDesc] {
    static ALL: OnceLock<Vec<ProgTypeDesc>> = OnceLock::new();
    ALL.get_or_init(build)
}

fn r(sizes: Sizes) -> Option<AccessRule> {
    Some(AccessRule::sizes(sizes))
}

fn base(id: P, ctx_struct: &str, ctx_size: u32, fields: Vec<CtxField>) -> ProgTypeDesc {
    let mut d = ProgTypeDesc::custom(id.name(), ctx_size);
    d.id = Some(id);
    d.kernel_id = id.kernel_id();
    d.ctx_struct = ctx_struct.to_string();
    d.fields = fields;
    let has_packet = d.fields_yielding(CtxYield::PtrToPacket).next().is_some();
    d.has_packet = has_packet;
    d
}

fn attach(mut d: ProgTypeDesc, types: &[A], required: bool, default: Option<A>) -> ProgTypeDesc {
    d.attach_types = types.to_vec();
    d.attach_required = required;
    d.default_attach = default;
    d
}

fn aliases(mut d: ProgTypeDesc, names: &[&str]) -> ProgTypeDesc {
    d.aliases = names.iter().map(|s| s.to_string()).collect();
    d
}

const ZERO_ONE: Option<RetRange> = Some(RetRange::new(0, 1));

// ---- struct __sk_buff -------------------------------------------------

/// `bpf_skb_is_valid_access`: the rules every `__sk_buff` type starts from.
fn skb_base() -> Vec<CtxField> {
    let d = |name: &'static str, off| CtxField::new(name, off, 4, r(UP_TO_4), r(SIZE_4));
    let w4 =
        |name: &'static str, off, len| CtxField::new(name, off, len, r(SIZE_4), r(SIZE_4)).elem(4);
    let any = AccessRule::sizes(ANY_SIZE).within();
    vec![
        d("len", 0),
        d("pkt_type", 4),
        d("mark", 8),
        d("queue_mapping", 12),
        d("protocol", 16),
        d("vlan_present", 20),
        d("vlan_tci", 24),
        d("vlan_proto", 28),
        d("priority", 32),
        d("ingress_ifindex", 36),
        d("ifindex", 40),
        d("tc_index", 44),
        CtxField::new("cb", 48, 20, Some(any.clone()), Some(any)).elem(4),
        d("hash", 68),
        d("tc_classid", 72),
        w4("data", 76, 4),
        w4("data_end", 80, 4),
        d("napi_id", 84),
        d("family", 88),
        w4("remote_ip4", 92, 4),
        w4("local_ip4", 96, 4),
        w4("remote_ip6", 100, 16),
        w4("local_ip6", 116, 16),
        d("remote_port", 132),
        d("local_port", 136),
        w4("data_meta", 140, 4),
        CtxField::none("flow_keys", 144, 8),
        CtxField::new("tstamp", 152, 8, r(SIZE_8), r(SIZE_8)).elem(8),
        d("wire_len", 160),
        d("gso_segs", 164),
        CtxField::ro("sk", 168, 8, SIZE_8)
            .yields(CtxYield::PtrToSockCommonOrNull)
            .elem(8),
        d("gso_size", 176),
        CtxField::none("tstamp_type", 180, 1),
        CtxField::none("padding", 181, 3),
        CtxField::ro("hwtstamp", 184, 8, SIZE_8).elem(8),
    ]
}

const SK_FIELDS: &[&str] = &[
    "family",
    "remote_ip4",
    "local_ip4",
    "remote_ip6",
    "local_ip6",
    "remote_port",
    "local_port",
];

fn deny(fields: &mut [CtxField], names: &[&str]) {
    for f in fields.iter_mut().filter(|f| names.contains(&&*f.name)) {
        f.read = None;
        f.write = None;
    }
}

fn writable_only(fields: &mut [CtxField], names: &[&str]) {
    for f in fields.iter_mut().filter(|f| !names.contains(&&*f.name)) {
        f.write = None;
    }
}

fn field<'a>(fields: &'a mut [CtxField], name: &str) -> &'a mut CtxField {
    fields
        .iter_mut()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("built-in table names a field `{name}` it lacks"))
}

fn packet_yields(fields: &mut [CtxField]) {
    field(fields, "data").yields = CtxYield::PtrToPacket;
    field(fields, "data_end").yields = CtxYield::PtrToPacketEnd;
    field(fields, "data_meta").yields = CtxYield::PtrToPacketMeta;
}

fn skb_type(id: P, fields: Vec<CtxField>) -> ProgTypeDesc {
    let mut d = base(id, "__sk_buff", 192, fields);
    // Socket filters cannot read `data`, but they run on a packet all the
    // same (through `ld_abs` and the skb helpers).
    d.has_packet = true;
    d.test_run_packet = id != P::SkSkb;
    d
}

/// `sk_filter_is_valid_access`.
fn socket_filter() -> ProgTypeDesc {
    let mut f = skb_base();
    deny(&mut f, &["tc_classid", "data", "data_meta", "data_end"]);
    deny(&mut f, SK_FIELDS);
    deny(&mut f, &["tstamp", "wire_len", "hwtstamp"]);
    writable_only(&mut f, &["cb"]);
    aliases(skb_type(P::SocketFilter, f), &["socket"])
}

/// `tc_cls_act_is_valid_access`.
fn tc(id: P) -> ProgTypeDesc {
    let mut f = skb_base();
    writable_only(
        &mut f,
        &[
            "mark",
            "tc_index",
            "priority",
            "tc_classid",
            "cb",
            "tstamp",
            "queue_mapping",
        ],
    );
    packet_yields(&mut f);
    deny(&mut f, SK_FIELDS);
    *field(&mut f, "tstamp_type") = CtxField::ro("tstamp_type", 180, 1, 1).elem(1);
    let mut d = skb_type(id, f);
    d.skb_at_l2 = true;
    if id == P::SchedCls {
        d = attach(
            d,
            &[A::TcxIngress, A::TcxEgress, A::NetkitPrimary, A::NetkitPeer],
            false,
            None,
        );
        aliases(d, &["tc", "classifier"])
    } else {
        aliases(d, &["action"])
    }
}

/// `cg_skb_is_valid_access`.
fn cgroup_skb() -> ProgTypeDesc {
    let mut f = skb_base();
    deny(&mut f, &["tc_classid", "data_meta", "wire_len"]);
    for name in ["data", "data_end"] {
        if let Some(rd) = &mut field(&mut f, name).read {
            rd.privileged = true;
        }
    }
    writable_only(&mut f, &["mark", "priority", "cb", "tstamp"]);
    if let Some(w) = &mut field(&mut f, "tstamp").write {
        w.privileged = true;
    }
    packet_yields(&mut f);
    let mut d = skb_type(P::CgroupSkb, f);
    d.ret = ZERO_ONE;
    d.ret_by_attach = vec![(A::CgroupInetEgress, Some(RetRange::new(0, 3)))];
    attach(
        d,
        &[A::CgroupInetIngress, A::CgroupInetEgress],
        false,
        Some(A::CgroupInetIngress),
    )
}

/// `lwt_is_valid_access` (lwt_in, lwt_out, lwt_xmit, lwt_seg6local).
fn lwt(id: P) -> ProgTypeDesc {
    let mut f = skb_base();
    deny(
        &mut f,
        &["tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp"],
    );
    deny(&mut f, SK_FIELDS);
    writable_only(&mut f, &["mark", "priority", "cb"]);
    packet_yields(&mut f);
    skb_type(id, f)
}

/// `sk_skb_is_valid_access`.
fn sk_skb() -> ProgTypeDesc {
    let mut f = skb_base();
    deny(
        &mut f,
        &["tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp"],
    );
    writable_only(&mut f, &["tc_index", "priority"]);
    deny(&mut f, &["mark"]);
    packet_yields(&mut f);
    attach(
        skb_type(P::SkSkb, f),
        &[A::SkSkbStreamParser, A::SkSkbStreamVerdict, A::SkSkbVerdict],
        false,
        None,
    )
}

/// `flow_dissector_is_valid_access`: only `data`, `data_end` and
/// `flow_keys`, read whole.
fn flow_dissector() -> ProgTypeDesc {
    let f = vec![
        CtxField::ro("data", 76, 4, SIZE_4).yields(CtxYield::PtrToPacket),
        CtxField::ro("data_end", 80, 4, SIZE_4).yields(CtxYield::PtrToPacketEnd),
        CtxField::ro("flow_keys", 144, 8, SIZE_8)
            .yields(CtxYield::PtrToFlowKeys)
            .elem(8),
    ];
    let d = skb_type(P::FlowDissector, f);
    attach(d, &[A::FlowDissector], false, None)
}

// ---- xdp_md -------------------------------------------------------------

/// `xdp_is_valid_access`: 4-byte reads only; `egress_ifindex` only in
/// devmap programs; no writes (offloaded programs aside).
fn xdp() -> ProgTypeDesc {
    let ro = |name: &'static str, off| CtxField::ro(name, off, 4, SIZE_4);
    let f = vec![
        ro("data", 0).yields(CtxYield::PtrToPacket),
        ro("data_end", 4).yields(CtxYield::PtrToPacketEnd),
        ro("data_meta", 8).yields(CtxYield::PtrToPacketMeta),
        ro("ingress_ifindex", 12),
        ro("rx_queue_index", 16),
        CtxField::new(
            "egress_ifindex",
            20,
            4,
            Some(AccessRule::sizes(SIZE_4).only_for(&[A::XdpDevmap])),
            None,
        ),
    ];
    let mut d = base(P::Xdp, "xdp_md", 24, f);
    d.test_run_packet = true;
    attach(d, &[A::Xdp, A::XdpDevmap, A::XdpCpumap], false, None)
}

// ---- struct bpf_sock (cgroup_sock) ---------------------------------------

/// `sock_filter_is_valid_access`: `bpf_sock_is_valid_access` plus
/// `__sock_filter_check_attach_type`.
fn cgroup_sock() -> ProgTypeDesc {
    let create = [A::CgroupInetSockCreate, A::CgroupInetSockRelease];
    let rw = |name: &'static str, off| {
        CtxField::new(
            name,
            off,
            4,
            Some(AccessRule::sizes(SIZE_4).only_for(&create)),
            Some(AccessRule::sizes(SIZE_4).only_for(&create)),
        )
    };
    let narrow = |name: &'static str, off, len, only: &[A]| {
        let rule = AccessRule::sizes(UP_TO_4);
        let rule = if only.is_empty() {
            rule
        } else {
            rule.only_for(only)
        };
        CtxField::new(name, off, len, Some(rule), None).elem(4)
    };
    let f = vec![
        rw("bound_dev_if", 0),
        narrow("family", 4, 1, &[]),
        CtxField::none("family", 5, 3),
        narrow("type", 8, 1, &[]),
        CtxField::none("type", 9, 3),
        narrow("protocol", 12, 1, &[]),
        CtxField::none("protocol", 13, 3),
        rw("mark", 16),
        rw("priority", 20),
        narrow("src_ip4", 24, 4, &[A::CgroupInet4PostBind]),
        narrow("src_ip6", 28, 16, &[A::CgroupInet6PostBind]),
        narrow(
            "src_port",
            44,
            1,
            &[A::CgroupInet4PostBind, A::CgroupInet6PostBind],
        ),
        CtxField::none("src_port", 45, 3),
        CtxField::new("dst_port", 48, 2, r(UP_TO_4), None).elem(2),
        CtxField::none("padding", 50, 2),
        narrow("dst_ip4", 52, 4, &[]),
        narrow("dst_ip6", 56, 16, &[]),
        narrow("state", 72, 1, &[]),
        CtxField::none("state", 73, 3),
        narrow("rx_queue_mapping", 76, 1, &[]),
        CtxField::none("rx_queue_mapping", 77, 3),
    ];
    let mut d = base(P::CgroupSock, "bpf_sock", 80, f);
    d.ret = ZERO_ONE;
    attach(
        d,
        &[
            A::CgroupInetSockCreate,
            A::CgroupInetSockRelease,
            A::CgroupInet4PostBind,
            A::CgroupInet6PostBind,
        ],
        true,
        Some(A::CgroupInetSockCreate),
    )
}

// ---- struct bpf_sock_addr -------------------------------------------------

const SOCK_ADDR_ATTACH: &[A] = &[
    A::CgroupInet4Bind,
    A::CgroupInet6Bind,
    A::CgroupInet4Connect,
    A::CgroupInet6Connect,
    A::CgroupUnixConnect,
    A::CgroupInet4Getpeername,
    A::CgroupInet6Getpeername,
    A::CgroupUnixGetpeername,
    A::CgroupInet4Getsockname,
    A::CgroupInet6Getsockname,
    A::CgroupUnixGetsockname,
    A::CgroupUdp4Sendmsg,
    A::CgroupUdp6Sendmsg,
    A::CgroupUnixSendmsg,
    A::CgroupUdp4Recvmsg,
    A::CgroupUdp6Recvmsg,
    A::CgroupUnixRecvmsg,
];

/// `sock_addr_is_valid_access`.
fn cgroup_sock_addr() -> ProgTypeDesc {
    let v4 = [
        A::CgroupInet4Bind,
        A::CgroupInet4Connect,
        A::CgroupInet4Getpeername,
        A::CgroupInet4Getsockname,
        A::CgroupUdp4Sendmsg,
        A::CgroupUdp4Recvmsg,
    ];
    let v6 = [
        A::CgroupInet6Bind,
        A::CgroupInet6Connect,
        A::CgroupInet6Getpeername,
        A::CgroupInet6Getsockname,
        A::CgroupUdp6Sendmsg,
        A::CgroupUdp6Recvmsg,
    ];
    // Narrow reads, whole 4-byte writes; the ip6 arrays also take aligned
    // 8-byte reads and writes (`bpf_ctx_wide_access_ok`).
    let addr = |name: &'static str, off, len, only: &[A], wide: bool| {
        let (rs, ws) = if wide {
            (ANY_SIZE, SIZE_4 | SIZE_8)
        } else {
            (UP_TO_4, SIZE_4)
        };
        let mut rd = AccessRule::sizes(rs);
        let mut wr = AccessRule::sizes(ws);
        if wide {
            rd.within = true;
            wr.within = true;
        }
        if !only.is_empty() {
            rd = rd.only_for(only);
            wr = wr.only_for(only);
        }
        CtxField::new(name, off, len, Some(rd), Some(wr)).elem(4)
    };
    let ro4 = |name: &'static str, off| CtxField::ro(name, off, 4, SIZE_4);
    let f = vec![
        ro4("user_family", 0),
        addr("user_ip4", 4, 4, &v4, false),
        addr("user_ip6", 8, 16, &v6, true),
        addr("user_port", 24, 4, &[], false),
        ro4("family", 28),
        ro4("type", 32),
        ro4("protocol", 36),
        addr("msg_src_ip4", 40, 4, &[A::CgroupUdp4Sendmsg], false),
        addr("msg_src_ip6", 44, 16, &[A::CgroupUdp6Sendmsg], true),
        CtxField::none("padding", 60, 4),
        CtxField::ro("sk", 64, 8, SIZE_8)
            .yields(CtxYield::PtrToSocket)
            .elem(8),
    ];
    let mut d = base(P::CgroupSockAddr, "bpf_sock_addr", 72, f);
    d.ret = ZERO_ONE;
    let one = Some(RetRange::new(1, 1));
    d.ret_by_attach = vec![
        (A::CgroupUdp4Recvmsg, one),
        (A::CgroupUdp6Recvmsg, one),
        (A::CgroupUnixRecvmsg, one),
        (A::CgroupInet4Getpeername, one),
        (A::CgroupInet6Getpeername, one),
        (A::CgroupUnixGetpeername, one),
        (A::CgroupInet4Getsockname, one),
        (A::CgroupInet6Getsockname, one),
        (A::CgroupUnixGetsockname, one),
        (A::CgroupInet4Bind, Some(RetRange::new(0, 3))),
        (A::CgroupInet6Bind, Some(RetRange::new(0, 3))),
    ];
    attach(d, SOCK_ADDR_ATTACH, true, None)
}

// ---- struct bpf_sock_ops --------------------------------------------------

/// `sock_ops_is_valid_access`: 4-byte reads by default; `reply` and
/// `sk_txhash` writable.
fn sock_ops() -> ProgTypeDesc {
    let rw4 = |name: &'static str, off| CtxField::new(name, off, 1, r(SIZE_4), r(SIZE_4));
    let ro = |name: &'static str, off, len, s| CtxField::ro(name, off, len, s);
    let f = vec![
        ro("op", 0, 4, SIZE_4),
        rw4("reply", 4),
        ro("args", 5, 159, SIZE_4),
        rw4("sk_txhash", 164),
        ro("sk_txhash", 165, 3, SIZE_4),
        ro("bytes_received", 168, 16, SIZE_8).elem(8),
        ro("sk", 184, 8, SIZE_8)
            .yields(CtxYield::PtrToSocketOrNull)
            .elem(8),
        ro("skb_data", 192, 8, SIZE_8)
            .yields(CtxYield::PtrToPacket)
            .elem(8),
        ro("skb_data_end", 200, 8, SIZE_8)
            .yields(CtxYield::PtrToPacketEnd)
            .elem(8),
        ro("skb_len", 208, 4, SIZE_4),
        ro("skb_tcp_flags", 212, 1, UP_TO_4).elem(4),
        ro("skb_tcp_flags", 213, 3, SIZE_4),
        ro("skb_hwtstamp", 216, 8, SIZE_8).elem(8),
    ];
    let mut d = base(P::SockOps, "bpf_sock_ops", 224, f);
    d.ret = ZERO_ONE;
    aliases(attach(d, &[A::CgroupSockOps], false, None), &["sockops"])
}

// ---- struct sk_msg_md -----------------------------------------------------

/// `sk_msg_is_valid_access`: read-only; pointers as 8 bytes, the rest as 4.
fn sk_msg() -> ProgTypeDesc {
    let ro4 = |name: &'static str, off, len| CtxField::ro(name, off, len, SIZE_4);
    let ptr = |name: &'static str, off, y| CtxField::ro(name, off, 1, SIZE_8).yields(y).elem(8);
    let f = vec![
        ptr("data", 0, CtxYield::PtrToPacket),
        ptr("data_end", 8, CtxYield::PtrToPacketEnd),
        ro4("family", 16, 4),
        ro4("remote_ip4", 20, 4),
        ro4("local_ip4", 24, 4),
        ro4("remote_ip6", 28, 16),
        ro4("local_ip6", 44, 16),
        ro4("remote_port", 60, 4),
        ro4("local_port", 64, 4),
        ro4("size", 68, 4),
        ptr("sk", 72, CtxYield::PtrToSocket),
    ];
    attach(
        base(P::SkMsg, "sk_msg_md", 80, f),
        &[A::SkMsgVerdict],
        false,
        None,
    )
}

// ---- struct sk_reuseport_md -----------------------------------------------

/// `sk_reuseport_is_valid_access`.
fn sk_reuseport() -> ProgTypeDesc {
    let ptr = |name: &'static str, off, y| CtxField::ro(name, off, 1, SIZE_8).yields(y).elem(8);
    let f = vec![
        ptr("data", 0, CtxYield::PtrToPacket),
        ptr("data_end", 8, CtxYield::PtrToPacketEnd),
        CtxField::ro("len", 16, 4, UP_TO_4).elem(4),
        CtxField::ro("eth_protocol", 20, 4, 2 | 4).elem(4),
        CtxField::ro("ip_protocol", 24, 4, UP_TO_4).elem(4),
        CtxField::ro("bind_inany", 28, 4, UP_TO_4).elem(4),
        CtxField::ro("hash", 32, 1, SIZE_4),
        ptr("sk", 40, CtxYield::PtrToSocket),
        ptr("migrating_sk", 48, CtxYield::PtrToSockCommonOrNull),
    ];
    attach(
        base(P::SkReuseport, "sk_reuseport_md", 56, f),
        &[A::SkReuseportSelect, A::SkReuseportSelectOrMigrate],
        true,
        None,
    )
}

// ---- struct bpf_sk_lookup -------------------------------------------------

/// `sk_lookup_is_valid_access`.
fn sk_lookup() -> ProgTypeDesc {
    let n4 = |name: &'static str, off, len| CtxField::ro(name, off, len, UP_TO_4).elem(4);
    let f = vec![
        CtxField::ro("sk", 0, 1, SIZE_8)
            .yields(CtxYield::PtrToSocketOrNull)
            .elem(8),
        n4("family", 8, 4),
        n4("protocol", 12, 4),
        n4("remote_ip4", 16, 4),
        n4("remote_ip6", 20, 16),
        CtxField::ro("remote_port", 36, 2, UP_TO_4).elem(2),
        CtxField::ro("padding", 38, 2, 1 | 2).elem(2),
        n4("local_ip4", 40, 4),
        n4("local_ip6", 44, 16),
        n4("local_port", 60, 4),
        n4("ingress_ifindex", 64, 4),
    ];
    let mut d = base(P::SkLookup, "bpf_sk_lookup", 72, f);
    d.ret = ZERO_ONE;
    attach(d, &[A::SkLookup], true, None)
}

// ---- kernel/bpf/cgroup.c ----------------------------------------------------

/// `sysctl_is_valid_access`.
fn cgroup_sysctl() -> ProgTypeDesc {
    let f = vec![
        CtxField::ro("write", 0, 4, UP_TO_4).elem(4),
        CtxField::new("file_pos", 4, 4, r(UP_TO_4), r(SIZE_4)).elem(4),
    ];
    let mut d = base(P::CgroupSysctl, "bpf_sysctl", 8, f);
    d.ret = ZERO_ONE;
    attach(d, &[A::CgroupSysctl], false, None)
}

/// `cg_sockopt_is_valid_access`.
fn cgroup_sockopt() -> ProgTypeDesc {
    let get = [A::CgroupGetsockopt];
    let set = [A::CgroupSetsockopt];
    let ptr = |name: &'static str, off, y| CtxField::ro(name, off, 8, SIZE_8).yields(y).elem(8);
    let f = vec![
        ptr("sk", 0, CtxYield::PtrToSocket),
        ptr("optval", 8, CtxYield::PtrToPacket),
        ptr("optval_end", 16, CtxYield::PtrToPacketEnd),
        CtxField::new(
            "level",
            24,
            1,
            r(SIZE_4),
            Some(AccessRule::sizes(SIZE_4).only_for(&set)),
        ),
        CtxField::ro("level", 25, 3, SIZE_4),
        CtxField::new(
            "optname",
            28,
            1,
            r(SIZE_4),
            Some(AccessRule::sizes(SIZE_4).only_for(&set)),
        ),
        CtxField::ro("optname", 29, 3, SIZE_4),
        CtxField::new("optlen", 32, 1, r(SIZE_4), r(SIZE_4)),
        CtxField::ro("optlen", 33, 3, SIZE_4),
        CtxField::new(
            "retval",
            36,
            4,
            Some(AccessRule::sizes(SIZE_4).only_for(&get)),
            Some(AccessRule::sizes(SIZE_4).only_for(&get)),
        ),
    ];
    let mut d = base(P::CgroupSockopt, "bpf_sockopt", 40, f);
    d.ret = ZERO_ONE;
    attach(d, &[A::CgroupGetsockopt, A::CgroupSetsockopt], true, None)
}

/// `cgroup_dev_is_valid_access`.
fn cgroup_device() -> ProgTypeDesc {
    let f = vec![
        CtxField::ro("access_type", 0, 4, UP_TO_4).elem(4),
        CtxField::ro("major", 4, 4, SIZE_4),
        CtxField::ro("minor", 8, 4, SIZE_4),
    ];
    let mut d = base(P::CgroupDevice, "bpf_cgroup_dev_ctx", 12, f);
    d.ret = ZERO_ONE;
    attach(d, &[A::CgroupDevice], false, None)
}

// ---- kernel/trace/bpf_trace.c -----------------------------------------------

/// `kprobe_prog_is_valid_access`: `struct pt_regs` (x86-64), read-only.
fn kprobe() -> ProgTypeDesc {
    let f = vec![CtxField::ro("regs", 0, 168, ANY_SIZE).elem(8)];
    let mut d = base(P::Kprobe, "pt_regs", 168, f);
    d.ret_by_attach = vec![
        (A::TraceKprobeSession, ZERO_ONE),
        (A::TraceUprobeSession, ZERO_ONE),
    ];
    attach(
        d,
        &[
            A::TraceKprobeMulti,
            A::TraceUprobeMulti,
            A::TraceKprobeSession,
            A::TraceUprobeSession,
        ],
        false,
        None,
    )
}

/// `tp_prog_is_valid_access`: the record after its 8-byte common header,
/// up to `PERF_MAX_TRACE_SIZE`, read-only.
fn tracepoint() -> ProgTypeDesc {
    let f = vec![
        CtxField::none("common", 0, 8),
        CtxField::ro("record", 8, 8192 - 8, ANY_SIZE).elem(8),
    ];
    let mut d = base(P::Tracepoint, "", 8192, f);
    // `tp_prog_is_valid_access` compares the signed offset with
    // `sizeof(void *)`, an unsigned value: negative offsets pass that test
    // and every later one, so the kernel accepts aligned negative reads.
    d.negative = Some(AccessRule::sizes(ANY_SIZE));
    aliases(d, &["tp"])
}

/// `pe_prog_is_valid_access`: `struct bpf_perf_event_data`.
fn perf_event() -> ProgTypeDesc {
    let f = vec![
        CtxField::ro("regs", 0, 168, SIZE_8).elem(8),
        CtxField::ro("sample_period", 168, 8, ANY_SIZE).elem(8),
        CtxField::ro("addr", 176, 8, ANY_SIZE).elem(8),
    ];
    attach(
        base(P::PerfEvent, "bpf_perf_event_data", 184, f),
        &[A::PerfEvent],
        false,
        None,
    )
}

/// `raw_tp_prog_is_valid_access`: 12 u64 arguments, read-only.
fn raw_tracepoint() -> ProgTypeDesc {
    let f = vec![CtxField::ro("args", 0, 96, ANY_SIZE).elem(8)];
    aliases(
        base(P::RawTracepoint, "bpf_raw_tracepoint_args", 96, f),
        &["raw_tp"],
    )
}

/// `raw_tp_writable_prog_is_valid_access`: argument 0 is the writable
/// buffer, read whole.
fn raw_tracepoint_writable() -> ProgTypeDesc {
    let f = vec![
        CtxField::ro("args", 0, 1, SIZE_8)
            .yields(CtxYield::PtrToTpBuffer)
            .elem(8),
        CtxField::ro("args", 1, 95, ANY_SIZE).elem(8),
    ];
    aliases(
        base(P::RawTracepointWritable, "bpf_raw_tracepoint_args", 96, f),
        &["raw_tp.w"],
    )
}

// ---- the rest ---------------------------------------------------------------

/// `nf_is_valid_access`: two pointers to kernel structs, read whole.
fn netfilter() -> ProgTypeDesc {
    let f = vec![
        CtxField::ro("state", 0, 8, SIZE_8)
            .yields(CtxYield::PtrToBtfId)
            .elem(8),
        CtxField::ro("skb", 8, 8, SIZE_8)
            .yields(CtxYield::PtrToBtfId)
            .elem(8),
    ];
    let mut d = base(P::Netfilter, "bpf_nf_ctx", 16, f);
    d.ret = ZERO_ONE;
    attach(d, &[A::Netfilter], true, None)
}

/// `syscall_prog_is_valid_access`: the caller's buffer, up to 64 KiB - 1,
/// read and written at any aligned size. Programs must be sleepable.
fn syscall() -> ProgTypeDesc {
    let f = vec![CtxField::new("buffer", 0, u16::MAX as u32, r(ANY_SIZE), r(ANY_SIZE)).elem(1)];
    base(P::Syscall, "", u16::MAX as u32, f)
}

/// A BTF-typed type: names, attach types and return rules; its context
/// comes from the attach target's BTF.
fn btf_typed(id: P, attach_types: &[A]) -> ProgTypeDesc {
    let mut d = base(id, "", 0, Vec::new());
    d.btf_ctx = true;
    attach(d, attach_types, true, None)
}

fn tracing() -> ProgTypeDesc {
    let mut d = btf_typed(
        P::Tracing,
        &[
            A::TraceRawTp,
            A::TraceFentry,
            A::TraceFexit,
            A::ModifyReturn,
            A::TraceIter,
        ],
    );
    let zero = Some(RetRange::new(0, 0));
    d.ret_by_attach = vec![
        (A::TraceFentry, zero),
        (A::TraceFexit, zero),
        (A::TraceRawTp, None),
        (A::ModifyReturn, None),
        (A::TraceIter, ZERO_ONE),
    ];
    aliases(d, &["fentry", "fexit", "tp_btf", "iter", "fmod_ret"])
}

fn lsm() -> ProgTypeDesc {
    let mut d = btf_typed(P::Lsm, &[A::LsmMac, A::LsmCgroup]);
    // LSM hooks: the hook's own errno range, from BTF (`[-4095, 0]` for
    // the int hooks); lsm_cgroup: [0, 1] ([1, 1] on void hooks).
    d.ret_from_btf = true;
    d.ret_by_attach = vec![(A::LsmCgroup, ZERO_ONE)];
    d
}

fn struct_ops() -> ProgTypeDesc {
    let mut d = btf_typed(P::StructOps, &[A::StructOps]);
    d.attach_required = false;
    d.ret_from_btf = true;
    d
}

fn ext() -> ProgTypeDesc {
    let mut d = btf_typed(P::Ext, &[]);
    d.aliases = vec!["freplace".into()];
    d
}

fn lirc_mode2() -> ProgTypeDesc {
    // `lirc_mode2_is_valid_access`: one u32, the sample, read-only.
    let f = vec![CtxField::ro("sample", 0, 4, SIZE_4)];
    attach(base(P::LircMode2, "", 4, f), &[A::LircMode2], false, None)
}

fn build() -> Vec<ProgTypeDesc> {
    vec![
        socket_filter(),
        kprobe(),
        tc(P::SchedCls),
        tc(P::SchedAct),
        tracepoint(),
        xdp(),
        perf_event(),
        cgroup_skb(),
        cgroup_sock(),
        lwt(P::LwtIn),
        lwt(P::LwtOut),
        lwt(P::LwtXmit),
        sock_ops(),
        sk_skb(),
        cgroup_device(),
        sk_msg(),
        raw_tracepoint(),
        cgroup_sock_addr(),
        lwt(P::LwtSeg6local),
        lirc_mode2(),
        sk_reuseport(),
        flow_dissector(),
        cgroup_sysctl(),
        raw_tracepoint_writable(),
        cgroup_sockopt(),
        tracing(),
        struct_ops(),
        ext(),
        lsm(),
        sk_lookup(),
        syscall(),
        netfilter(),
    ]
}
