//! libbpf's `SEC()` names: which program type and expected attach type a
//! section name means, with the prefix matching of the old
//! `samples/bpf/bpf_load.c` as a fallback.

use crate::{AttachType as A, ProgTypeId as P};

/// What a section name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionMatch {
    /// The program type.
    pub prog_type: ProgTypeIdAlias,
    /// The `expected_attach_type` libbpf sets (`None`: it sets none).
    pub expected_attach_type: Option<A>,
    /// What follows the pattern's `/`, if anything (`sys_write` in
    /// `kprobe/sys_write`).
    pub attach_to: Option<String>,
    /// Whether libbpf loads it by default: a leading `?` in the section
    /// name (`SEC("?xdp")`) says "do not autoload".
    pub autoload: bool,
}

/// The program type of a [`SectionMatch`] (an alias kept so the field reads
/// as what it is).
pub type ProgTypeIdAlias = P;

/// One libbpf `SEC()` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecPattern {
    /// The section name, or its prefix before `/`.
    pub name: &'static str,
    /// Whether `name/<target>` matches too.
    pub takes_target: bool,
    /// The program type.
    pub prog_type: P,
    /// The `expected_attach_type` libbpf sets.
    pub attach: Option<A>,
}

const fn sec(
    name: &'static str,
    takes_target: bool,
    prog_type: P,
    attach: Option<A>,
) -> SecPattern {
    SecPattern {
        name,
        takes_target,
        prog_type,
        attach,
    }
}

/// libbpf's section table (`section_defs` in libbpf.c, as of libbpf 1.5),
/// the first match wins: longer names come before their prefixes.
pub const SECTIONS: &[SecPattern] = &[
    sec("socket", false, P::SocketFilter, None),
    sec(
        "sk_reuseport/migrate",
        false,
        P::SkReuseport,
        Some(A::SkReuseportSelectOrMigrate),
    ),
    sec(
        "sk_reuseport",
        false,
        P::SkReuseport,
        Some(A::SkReuseportSelect),
    ),
    sec("kprobe.multi", true, P::Kprobe, Some(A::TraceKprobeMulti)),
    sec(
        "kretprobe.multi",
        true,
        P::Kprobe,
        Some(A::TraceKprobeMulti),
    ),
    sec("uprobe.multi", true, P::Kprobe, Some(A::TraceUprobeMulti)),
    sec(
        "uretprobe.multi",
        true,
        P::Kprobe,
        Some(A::TraceUprobeMulti),
    ),
    sec("uprobe.multi.s", true, P::Kprobe, Some(A::TraceUprobeMulti)),
    sec(
        "uretprobe.multi.s",
        true,
        P::Kprobe,
        Some(A::TraceUprobeMulti),
    ),
    sec(
        "kprobe.session",
        true,
        P::Kprobe,
        Some(A::TraceKprobeSession),
    ),
    sec(
        "uprobe.session",
        true,
        P::Kprobe,
        Some(A::TraceUprobeSession),
    ),
    sec(
        "uprobe.session.s",
        true,
        P::Kprobe,
        Some(A::TraceUprobeSession),
    ),
    sec("kprobe", true, P::Kprobe, None),
    sec("kretprobe", true, P::Kprobe, None),
    sec("uprobe", true, P::Kprobe, None),
    sec("uprobe.s", true, P::Kprobe, None),
    sec("uretprobe", true, P::Kprobe, None),
    sec("uretprobe.s", true, P::Kprobe, None),
    sec("ksyscall", true, P::Kprobe, None),
    sec("kretsyscall", true, P::Kprobe, None),
    sec("usdt", true, P::Kprobe, None),
    sec("usdt.s", true, P::Kprobe, None),
    sec("tc/ingress", false, P::SchedCls, Some(A::TcxIngress)),
    sec("tc/egress", false, P::SchedCls, Some(A::TcxEgress)),
    sec("tcx/ingress", false, P::SchedCls, Some(A::TcxIngress)),
    sec("tcx/egress", false, P::SchedCls, Some(A::TcxEgress)),
    sec("netkit/primary", false, P::SchedCls, Some(A::NetkitPrimary)),
    sec("netkit/peer", false, P::SchedCls, Some(A::NetkitPeer)),
    sec("tc", false, P::SchedCls, None),
    sec("classifier", false, P::SchedCls, None),
    sec("action", false, P::SchedAct, None),
    sec("tracepoint", true, P::Tracepoint, None),
    sec("tp", true, P::Tracepoint, None),
    sec("raw_tracepoint.w", true, P::RawTracepointWritable, None),
    sec("raw_tp.w", true, P::RawTracepointWritable, None),
    sec("raw_tracepoint", true, P::RawTracepoint, None),
    sec("raw_tp", true, P::RawTracepoint, None),
    sec("tp_btf", true, P::Tracing, Some(A::TraceRawTp)),
    sec("fentry", true, P::Tracing, Some(A::TraceFentry)),
    sec("fentry.s", true, P::Tracing, Some(A::TraceFentry)),
    sec("fmod_ret", true, P::Tracing, Some(A::ModifyReturn)),
    sec("fmod_ret.s", true, P::Tracing, Some(A::ModifyReturn)),
    sec("fexit", true, P::Tracing, Some(A::TraceFexit)),
    sec("fexit.s", true, P::Tracing, Some(A::TraceFexit)),
    sec("freplace", true, P::Ext, None),
    sec("lsm", true, P::Lsm, Some(A::LsmMac)),
    sec("lsm.s", true, P::Lsm, Some(A::LsmMac)),
    sec("lsm_cgroup", true, P::Lsm, Some(A::LsmCgroup)),
    sec("iter", true, P::Tracing, Some(A::TraceIter)),
    sec("iter.s", true, P::Tracing, Some(A::TraceIter)),
    sec("syscall", false, P::Syscall, None),
    sec("xdp.frags/devmap", false, P::Xdp, Some(A::XdpDevmap)),
    sec("xdp/devmap", false, P::Xdp, Some(A::XdpDevmap)),
    sec("xdp.frags/cpumap", false, P::Xdp, Some(A::XdpCpumap)),
    sec("xdp/cpumap", false, P::Xdp, Some(A::XdpCpumap)),
    sec("xdp.frags", false, P::Xdp, Some(A::Xdp)),
    sec("xdp", false, P::Xdp, Some(A::Xdp)),
    sec("perf_event", false, P::PerfEvent, None),
    sec("lwt_in", false, P::LwtIn, None),
    sec("lwt_out", false, P::LwtOut, None),
    sec("lwt_xmit", false, P::LwtXmit, None),
    sec("lwt_seg6local", false, P::LwtSeg6local, None),
    sec("sockops", false, P::SockOps, Some(A::CgroupSockOps)),
    sec(
        "sk_skb/stream_parser",
        false,
        P::SkSkb,
        Some(A::SkSkbStreamParser),
    ),
    sec(
        "sk_skb/stream_verdict",
        false,
        P::SkSkb,
        Some(A::SkSkbStreamVerdict),
    ),
    sec("sk_skb/verdict", false, P::SkSkb, Some(A::SkSkbVerdict)),
    sec("sk_skb", false, P::SkSkb, None),
    sec("sk_msg", false, P::SkMsg, Some(A::SkMsgVerdict)),
    sec("lirc_mode2", false, P::LircMode2, Some(A::LircMode2)),
    sec(
        "flow_dissector",
        false,
        P::FlowDissector,
        Some(A::FlowDissector),
    ),
    sec(
        "cgroup_skb/ingress",
        false,
        P::CgroupSkb,
        Some(A::CgroupInetIngress),
    ),
    sec(
        "cgroup_skb/egress",
        false,
        P::CgroupSkb,
        Some(A::CgroupInetEgress),
    ),
    sec("cgroup/skb", false, P::CgroupSkb, None),
    sec(
        "cgroup/sock_create",
        false,
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
    ),
    sec(
        "cgroup/sock_release",
        false,
        P::CgroupSock,
        Some(A::CgroupInetSockRelease),
    ),
    sec(
        "cgroup/sock",
        false,
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
    ),
    sec(
        "cgroup/post_bind4",
        false,
        P::CgroupSock,
        Some(A::CgroupInet4PostBind),
    ),
    sec(
        "cgroup/post_bind6",
        false,
        P::CgroupSock,
        Some(A::CgroupInet6PostBind),
    ),
    sec(
        "cgroup/bind4",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Bind),
    ),
    sec(
        "cgroup/bind6",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Bind),
    ),
    sec(
        "cgroup/connect4",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Connect),
    ),
    sec(
        "cgroup/connect6",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Connect),
    ),
    sec(
        "cgroup/connect_unix",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUnixConnect),
    ),
    sec(
        "cgroup/sendmsg4",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Sendmsg),
    ),
    sec(
        "cgroup/sendmsg6",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Sendmsg),
    ),
    sec(
        "cgroup/sendmsg_unix",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUnixSendmsg),
    ),
    sec(
        "cgroup/recvmsg4",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Recvmsg),
    ),
    sec(
        "cgroup/recvmsg6",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Recvmsg),
    ),
    sec(
        "cgroup/recvmsg_unix",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUnixRecvmsg),
    ),
    sec(
        "cgroup/getpeername4",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getpeername),
    ),
    sec(
        "cgroup/getpeername6",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getpeername),
    ),
    sec(
        "cgroup/getpeername_unix",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetpeername),
    ),
    sec(
        "cgroup/getsockname4",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getsockname),
    ),
    sec(
        "cgroup/getsockname6",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getsockname),
    ),
    sec(
        "cgroup/getsockname_unix",
        false,
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetsockname),
    ),
    sec(
        "cgroup/sysctl",
        false,
        P::CgroupSysctl,
        Some(A::CgroupSysctl),
    ),
    sec(
        "cgroup/getsockopt",
        false,
        P::CgroupSockopt,
        Some(A::CgroupGetsockopt),
    ),
    sec(
        "cgroup/setsockopt",
        false,
        P::CgroupSockopt,
        Some(A::CgroupSetsockopt),
    ),
    sec("cgroup/dev", false, P::CgroupDevice, Some(A::CgroupDevice)),
    sec("struct_ops", true, P::StructOps, None),
    sec("struct_ops.s", true, P::StructOps, None),
    sec("sk_lookup", false, P::SkLookup, Some(A::SkLookup)),
    sec("netfilter", false, P::Netfilter, Some(A::Netfilter)),
];

/// Prefixes of the old `samples/bpf/bpf_load.c` (and iproute2-era
/// objects), matched as plain prefixes: `socket1`, `xdp_prog`, `kprobe/0`
/// and `cgroup/sock1` resolve.
pub const LEGACY_PREFIXES: &[SecPattern] = &[
    sec("socket", false, P::SocketFilter, None),
    sec("kprobe/", true, P::Kprobe, None),
    sec("kretprobe/", true, P::Kprobe, None),
    sec("tracepoint/", true, P::Tracepoint, None),
    sec("raw_tracepoint/", true, P::RawTracepoint, None),
    sec("xdp", false, P::Xdp, Some(A::Xdp)),
    sec("perf_event", false, P::PerfEvent, None),
    sec("cgroup/skb", false, P::CgroupSkb, None),
    sec(
        "cgroup/sock",
        false,
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
    ),
    sec("sockops", false, P::SockOps, Some(A::CgroupSockOps)),
    sec("sk_skb", false, P::SkSkb, None),
    sec("sk_msg", false, P::SkMsg, Some(A::SkMsgVerdict)),
    // tc loads any section it is given; the objects built for it (BCC's
    // libbpf-tools, Cilium's examples) name theirs `tc/<anything>`.
    sec("tc/", false, P::SchedCls, None),
];

fn strip_autoload(section: &str) -> (&str, bool) {
    match section.strip_prefix('?') {
        Some(rest) => (rest, false),
        None => (section, true),
    }
}

/// The program type libbpf's `SEC()` conventions give `section`.
pub fn section(section: &str) -> Option<SectionMatch> {
    let (name, autoload) = strip_autoload(section);
    SECTIONS.iter().find_map(|p| {
        let rest = if name == p.name {
            Some("")
        } else if p.takes_target {
            name.strip_prefix(p.name).and_then(|r| r.strip_prefix('/'))
        } else {
            None
        }?;
        Some(SectionMatch {
            prog_type: p.prog_type,
            expected_attach_type: p.attach,
            attach_to: (!rest.is_empty()).then(|| rest.to_string()),
            autoload,
        })
    })
}

/// The program type the old `bpf_load.c` prefixes give `section`.
pub fn legacy_section(section: &str) -> Option<SectionMatch> {
    let (name, autoload) = strip_autoload(section);
    LEGACY_PREFIXES.iter().find_map(|p| {
        let rest = name.strip_prefix(p.name)?;
        Some(SectionMatch {
            prog_type: p.prog_type,
            expected_attach_type: p.attach,
            attach_to: (p.takes_target && !rest.is_empty()).then(|| rest.to_string()),
            autoload,
        })
    })
}

/// [`section`], else [`legacy_section`].
pub fn infer(section_name: &str) -> Option<SectionMatch> {
    section(section_name).or_else(|| legacy_section(section_name))
}

/// The program type called `name`: its kernel name or an alias libbpf and
/// bpftool use (`tc`, `classifier`, `socket`, `tp`, `raw_tp`, `sockops`,
/// `fentry`...).
pub fn prog_type_by_name(name: &str) -> Option<P> {
    P::from_name(name).or_else(|| crate::desc::ProgTypeDesc::by_name(name).and_then(|d| d.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libbpf_and_legacy_names() {
        assert_eq!(infer("xdp").unwrap().prog_type, P::Xdp);
        assert_eq!(infer("xdp_redirect_map").unwrap().prog_type, P::Xdp);
        let k = infer("kprobe/sys_write").unwrap();
        assert_eq!(
            (k.prog_type, k.attach_to.as_deref()),
            (P::Kprobe, Some("sys_write"))
        );
        assert_eq!(infer("socket1").unwrap().prog_type, P::SocketFilter);
        assert_eq!(infer("cgroup/sock1").unwrap().prog_type, P::CgroupSock);
        assert_eq!(
            infer("cgroup_skb/egress").unwrap().expected_attach_type,
            Some(A::CgroupInetEgress)
        );
        let t = infer("tracepoint/syscalls/sys_enter_open").unwrap();
        assert_eq!(t.attach_to.as_deref(), Some("syscalls/sys_enter_open"));
        assert_eq!(
            infer("fentry/tcp_connect").unwrap().expected_attach_type,
            Some(A::TraceFentry)
        );
        assert_eq!(infer("classifier").unwrap().prog_type, P::SchedCls);
        assert_eq!(
            infer("tc/ingress").unwrap().expected_attach_type,
            Some(A::TcxIngress)
        );
        assert_eq!(infer("tail-3"), None);
        assert_eq!(infer("test"), None);
    }

    #[test]
    fn tc_sections_of_any_name_are_sched_cls() {
        for name in ["tc/entry", "tc/tail", "?tc/entry"] {
            let m = infer(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((m.prog_type, m.expected_attach_type), (P::SchedCls, None));
            assert_eq!(m.autoload, !name.starts_with('?'), "{name}");
        }
        // tc/ingress keeps its attach type; Cilium's names say no type.
        assert_eq!(
            infer("tc/ingress").unwrap().expected_attach_type,
            Some(A::TcxIngress)
        );
        for name in ["from-netdev", "from-container", "2/1", "tcx"] {
            assert_eq!(infer(name), None, "{name}");
        }
    }

    #[test]
    fn question_mark_means_no_autoload() {
        let m = section("?xdp").unwrap();
        assert_eq!((m.prog_type, m.autoload), (P::Xdp, false));
        assert!(section("xdp").unwrap().autoload);
        let m = section("?kprobe/do_sys_open").unwrap();
        assert_eq!(m.attach_to.as_deref(), Some("do_sys_open"));
    }

    #[test]
    fn aliases_name_the_same_type() {
        for (alias, t) in [
            ("tc", P::SchedCls),
            ("classifier", P::SchedCls),
            ("sched_cls", P::SchedCls),
            ("socket", P::SocketFilter),
            ("action", P::SchedAct),
            ("tp", P::Tracepoint),
            ("raw_tp", P::RawTracepoint),
            ("sockops", P::SockOps),
            ("fentry", P::Tracing),
            ("freplace", P::Ext),
        ] {
            assert_eq!(prog_type_by_name(alias), Some(t), "{alias}");
        }
        assert_eq!(prog_type_by_name("no_such_type"), None);
    }
}
