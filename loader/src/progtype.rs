//! Program type from the section name, following libbpf's `SEC()` conventions, with the prefix
//! matching of the old `samples/bpf/bpf_load.c` as a fallback.

/// `BPF_PROG_TYPE_*` values of the kernel UAPI.
pub mod prog_type {
    pub const SOCKET_FILTER: u32 = 1;
    pub const KPROBE: u32 = 2;
    pub const SCHED_CLS: u32 = 3;
    pub const SCHED_ACT: u32 = 4;
    pub const TRACEPOINT: u32 = 5;
    pub const XDP: u32 = 6;
    pub const PERF_EVENT: u32 = 7;
    pub const CGROUP_SKB: u32 = 8;
    pub const CGROUP_SOCK: u32 = 9;
    pub const LWT_IN: u32 = 10;
    pub const LWT_OUT: u32 = 11;
    pub const LWT_XMIT: u32 = 12;
    pub const SOCK_OPS: u32 = 13;
    pub const SK_SKB: u32 = 14;
    pub const CGROUP_DEVICE: u32 = 15;
    pub const SK_MSG: u32 = 16;
    pub const RAW_TRACEPOINT: u32 = 17;
    pub const CGROUP_SOCK_ADDR: u32 = 18;
    pub const LWT_SEG6LOCAL: u32 = 19;
    pub const LIRC_MODE2: u32 = 20;
    pub const SK_REUSEPORT: u32 = 21;
    pub const FLOW_DISSECTOR: u32 = 22;
    pub const CGROUP_SYSCTL: u32 = 23;
    pub const RAW_TRACEPOINT_WRITABLE: u32 = 24;
    pub const CGROUP_SOCKOPT: u32 = 25;
    pub const TRACING: u32 = 26;
    pub const STRUCT_OPS: u32 = 27;
    pub const EXT: u32 = 28;
    pub const LSM: u32 = 29;
    pub const SK_LOOKUP: u32 = 30;
    pub const SYSCALL: u32 = 31;
    pub const NETFILTER: u32 = 32;
}

const NAMES: [&str; 33] = [
    "unspec",
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
    "netfilter",
];

/// The kernel's name of a program type (`"xdp"`, `"socket_filter"`, ...), `"unknown"` if out of range.
pub fn prog_type_name(t: u32) -> &'static str {
    NAMES.get(t as usize).copied().unwrap_or("unknown")
}

/// The program type whose kernel name is `name` (accepts the libbpf/bpftool aliases too).
pub fn prog_type_from_name(name: &str) -> Option<u32> {
    let alias = match name {
        "socket" => Some(prog_type::SOCKET_FILTER),
        "tc" | "classifier" => Some(prog_type::SCHED_CLS),
        "action" => Some(prog_type::SCHED_ACT),
        "tp" => Some(prog_type::TRACEPOINT),
        "raw_tp" => Some(prog_type::RAW_TRACEPOINT),
        "sockops" => Some(prog_type::SOCK_OPS),
        "fentry" | "fexit" | "tp_btf" => Some(prog_type::TRACING),
        _ => None,
    };
    alias.or_else(|| NAMES.iter().position(|n| *n == name).map(|p| p as u32))
}

/// What the section name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionKind {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub attach_to: Option<String>,
}

use prog_type::*;

/// (name, takes "/target" suffix, prog type, expected attach type)
const TABLE: &[(&str, bool, u32, u32)] = &[
    ("socket", false, SOCKET_FILTER, 0),
    ("sk_reuseport/migrate", false, SK_REUSEPORT, 40),
    ("sk_reuseport", false, SK_REUSEPORT, 39),
    ("kprobe.multi", true, KPROBE, 42),
    ("kretprobe.multi", true, KPROBE, 42),
    ("uprobe.multi", true, KPROBE, 48),
    ("uretprobe.multi", true, KPROBE, 48),
    ("kprobe.session", true, KPROBE, 56),
    ("kprobe", true, KPROBE, 0),
    ("kretprobe", true, KPROBE, 0),
    ("uprobe", true, KPROBE, 0),
    ("uprobe.s", true, KPROBE, 0),
    ("uretprobe", true, KPROBE, 0),
    ("uretprobe.s", true, KPROBE, 0),
    ("ksyscall", true, KPROBE, 0),
    ("kretsyscall", true, KPROBE, 0),
    ("usdt", true, KPROBE, 0),
    ("tc/ingress", false, SCHED_CLS, 46),
    ("tc/egress", false, SCHED_CLS, 47),
    ("tcx/ingress", false, SCHED_CLS, 46),
    ("tcx/egress", false, SCHED_CLS, 47),
    ("netkit/primary", false, SCHED_CLS, 54),
    ("netkit/peer", false, SCHED_CLS, 55),
    ("tc", false, SCHED_CLS, 0),
    ("classifier", false, SCHED_CLS, 0),
    ("action", false, SCHED_ACT, 0),
    ("tracepoint", true, TRACEPOINT, 0),
    ("tp", true, TRACEPOINT, 0),
    ("raw_tracepoint.w", true, RAW_TRACEPOINT_WRITABLE, 0),
    ("raw_tp.w", true, RAW_TRACEPOINT_WRITABLE, 0),
    ("raw_tracepoint", true, RAW_TRACEPOINT, 0),
    ("raw_tp", true, RAW_TRACEPOINT, 0),
    ("tp_btf", true, TRACING, 23),
    ("fentry", true, TRACING, 24),
    ("fentry.s", true, TRACING, 24),
    ("fmod_ret", true, TRACING, 26),
    ("fmod_ret.s", true, TRACING, 26),
    ("fexit", true, TRACING, 25),
    ("fexit.s", true, TRACING, 25),
    ("freplace", true, EXT, 0),
    ("lsm", true, LSM, 27),
    ("lsm.s", true, LSM, 27),
    ("lsm_cgroup", true, LSM, 43),
    ("iter", true, TRACING, 28),
    ("iter.s", true, TRACING, 28),
    ("syscall", false, SYSCALL, 0),
    ("xdp.frags/devmap", false, XDP, 33),
    ("xdp/devmap", false, XDP, 33),
    ("xdp.frags/cpumap", false, XDP, 35),
    ("xdp/cpumap", false, XDP, 35),
    ("xdp.frags", false, XDP, 37),
    ("xdp", false, XDP, 37),
    ("perf_event", false, PERF_EVENT, 0),
    ("lwt_in", false, LWT_IN, 0),
    ("lwt_out", false, LWT_OUT, 0),
    ("lwt_xmit", false, LWT_XMIT, 0),
    ("lwt_seg6local", false, LWT_SEG6LOCAL, 0),
    ("sockops", false, SOCK_OPS, 3),
    ("sk_skb/stream_parser", false, SK_SKB, 4),
    ("sk_skb/stream_verdict", false, SK_SKB, 5),
    ("sk_skb/verdict", false, SK_SKB, 38),
    ("sk_skb", false, SK_SKB, 0),
    ("sk_msg", false, SK_MSG, 7),
    ("lirc_mode2", false, LIRC_MODE2, 16),
    ("flow_dissector", false, FLOW_DISSECTOR, 17),
    ("cgroup_skb/ingress", false, CGROUP_SKB, 0),
    ("cgroup_skb/egress", false, CGROUP_SKB, 1),
    ("cgroup/skb", false, CGROUP_SKB, 0),
    ("cgroup/sock_create", false, CGROUP_SOCK, 2),
    ("cgroup/sock_release", false, CGROUP_SOCK, 34),
    ("cgroup/sock", false, CGROUP_SOCK, 2),
    ("cgroup/post_bind4", false, CGROUP_SOCK, 12),
    ("cgroup/post_bind6", false, CGROUP_SOCK, 13),
    ("cgroup/bind4", false, CGROUP_SOCK_ADDR, 8),
    ("cgroup/bind6", false, CGROUP_SOCK_ADDR, 9),
    ("cgroup/connect4", false, CGROUP_SOCK_ADDR, 10),
    ("cgroup/connect6", false, CGROUP_SOCK_ADDR, 11),
    ("cgroup/connect_unix", false, CGROUP_SOCK_ADDR, 49),
    ("cgroup/sendmsg4", false, CGROUP_SOCK_ADDR, 14),
    ("cgroup/sendmsg6", false, CGROUP_SOCK_ADDR, 15),
    ("cgroup/sendmsg_unix", false, CGROUP_SOCK_ADDR, 50),
    ("cgroup/recvmsg4", false, CGROUP_SOCK_ADDR, 19),
    ("cgroup/recvmsg6", false, CGROUP_SOCK_ADDR, 20),
    ("cgroup/recvmsg_unix", false, CGROUP_SOCK_ADDR, 51),
    ("cgroup/getpeername4", false, CGROUP_SOCK_ADDR, 29),
    ("cgroup/getpeername6", false, CGROUP_SOCK_ADDR, 30),
    ("cgroup/getpeername_unix", false, CGROUP_SOCK_ADDR, 52),
    ("cgroup/getsockname4", false, CGROUP_SOCK_ADDR, 31),
    ("cgroup/getsockname6", false, CGROUP_SOCK_ADDR, 32),
    ("cgroup/getsockname_unix", false, CGROUP_SOCK_ADDR, 53),
    ("cgroup/sysctl", false, CGROUP_SYSCTL, 18),
    ("cgroup/getsockopt", false, CGROUP_SOCKOPT, 21),
    ("cgroup/setsockopt", false, CGROUP_SOCKOPT, 22),
    ("cgroup/dev", false, CGROUP_DEVICE, 6),
    ("struct_ops", true, STRUCT_OPS, 0),
    ("struct_ops.s", true, STRUCT_OPS, 0),
    ("sk_lookup", false, SK_LOOKUP, 36),
    ("netfilter", false, NETFILTER, 45),
];

/// Prefixes of the old `samples/bpf/bpf_load.c` (and iproute2-era objects): matched as plain
/// prefixes, so `socket1`, `xdp_prog`, `kprobe/0` and `cgroup/sock1` resolve.
const LEGACY_PREFIXES: &[(&str, u32, u32)] = &[
    ("socket", SOCKET_FILTER, 0),
    ("kprobe/", KPROBE, 0),
    ("kretprobe/", KPROBE, 0),
    ("tracepoint/", TRACEPOINT, 0),
    ("raw_tracepoint/", RAW_TRACEPOINT, 0),
    ("xdp", XDP, 37),
    ("perf_event", PERF_EVENT, 0),
    ("cgroup/skb", CGROUP_SKB, 0),
    ("cgroup/sock", CGROUP_SOCK, 2),
    ("sockops", SOCK_OPS, 3),
    ("sk_skb", SK_SKB, 0),
    ("sk_msg", SK_MSG, 7),
];

/// Infers the program type of a section name; `None` if neither convention applies.
#[cfg(test)]
pub fn infer(section: &str) -> Option<SectionKind> {
    infer_libbpf(section).or_else(|| infer_legacy(section))
}

/// libbpf's `SEC()` conventions.
pub fn infer_libbpf(section: &str) -> Option<SectionKind> {
    for &(name, plus, pt, eat) in TABLE {
        let rest = if section == name {
            Some("")
        } else {
            section
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('/'))
                .filter(|_| plus)
        };
        if let Some(rest) = rest {
            return Some(SectionKind {
                prog_type: pt,
                expected_attach_type: eat,
                attach_to: (!rest.is_empty()).then(|| rest.to_string()),
            });
        }
    }
    None
}

/// The prefixes of the old `samples/bpf/bpf_load.c`.
pub fn infer_legacy(section: &str) -> Option<SectionKind> {
    for &(prefix, pt, eat) in LEGACY_PREFIXES {
        if let Some(rest) = section.strip_prefix(prefix) {
            let attach_to = prefix.ends_with('/') && !rest.is_empty();
            return Some(SectionKind {
                prog_type: pt,
                expected_attach_type: eat,
                attach_to: attach_to.then(|| rest.to_string()),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libbpf_and_legacy_names() {
        assert_eq!(infer("xdp").unwrap().prog_type, XDP);
        assert_eq!(infer("xdp_redirect_map").unwrap().prog_type, XDP);
        let k = infer("kprobe/sys_write").unwrap();
        assert_eq!(
            (k.prog_type, k.attach_to.as_deref()),
            (KPROBE, Some("sys_write"))
        );
        assert_eq!(infer("socket1").unwrap().prog_type, SOCKET_FILTER);
        assert_eq!(infer("cgroup/sock1").unwrap().prog_type, CGROUP_SOCK);
        assert_eq!(infer("cgroup_skb/egress").unwrap().expected_attach_type, 1);
        let t = infer("tracepoint/syscalls/sys_enter_open").unwrap();
        assert_eq!(t.attach_to.as_deref(), Some("syscalls/sys_enter_open"));
        assert_eq!(
            infer("fentry/tcp_connect").unwrap().expected_attach_type,
            24
        );
        assert_eq!(infer("classifier").unwrap().prog_type, SCHED_CLS);
        assert_eq!(infer("tail-3"), None);
        assert_eq!(infer("test"), None);
        assert_eq!(prog_type_name(6), "xdp");
        assert_eq!(prog_type_from_name("sched_cls"), Some(3));
        assert_eq!(prog_type_from_name("tc"), Some(3));
    }
}
