//! The kernel's `enum bpf_prog_type` and `enum bpf_attach_type`, by name.
//! These are the only places where their numbers appear.

macro_rules! kernel_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr => $text:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in the kernel's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The kernel's number for this value.
            pub const fn kernel_id(self) -> u32 {
                match self {
                    $($name::$variant => $value,)*
                }
            }

            /// The value with this kernel number, if the kernel has one.
            pub const fn from_kernel_id(id: u32) -> Option<Self> {
                match id {
                    $($value => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The lower-case name the kernel's sources and bpftool use
            /// (`"sched_cls"`, `"cgroup_inet_ingress"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The value whose [`name`](Self::name) is `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

kernel_enum! {
    /// `enum bpf_prog_type` (include/uapi/linux/bpf.h).
    ProgTypeId {
        Unspec = 0 => "unspec",
        SocketFilter = 1 => "socket_filter",
        Kprobe = 2 => "kprobe",
        SchedCls = 3 => "sched_cls",
        SchedAct = 4 => "sched_act",
        Tracepoint = 5 => "tracepoint",
        Xdp = 6 => "xdp",
        PerfEvent = 7 => "perf_event",
        CgroupSkb = 8 => "cgroup_skb",
        CgroupSock = 9 => "cgroup_sock",
        LwtIn = 10 => "lwt_in",
        LwtOut = 11 => "lwt_out",
        LwtXmit = 12 => "lwt_xmit",
        SockOps = 13 => "sock_ops",
        SkSkb = 14 => "sk_skb",
        CgroupDevice = 15 => "cgroup_device",
        SkMsg = 16 => "sk_msg",
        RawTracepoint = 17 => "raw_tracepoint",
        CgroupSockAddr = 18 => "cgroup_sock_addr",
        LwtSeg6local = 19 => "lwt_seg6local",
        LircMode2 = 20 => "lirc_mode2",
        SkReuseport = 21 => "sk_reuseport",
        FlowDissector = 22 => "flow_dissector",
        CgroupSysctl = 23 => "cgroup_sysctl",
        RawTracepointWritable = 24 => "raw_tracepoint_writable",
        CgroupSockopt = 25 => "cgroup_sockopt",
        Tracing = 26 => "tracing",
        StructOps = 27 => "struct_ops",
        Ext = 28 => "ext",
        Lsm = 29 => "lsm",
        SkLookup = 30 => "sk_lookup",
        Syscall = 31 => "syscall",
        Netfilter = 32 => "netfilter",
    }
}

kernel_enum! {
    /// `enum bpf_attach_type` (include/uapi/linux/bpf.h), as Linux 6.18 has it.
    AttachType {
        CgroupInetIngress = 0 => "cgroup_inet_ingress",
        CgroupInetEgress = 1 => "cgroup_inet_egress",
        CgroupInetSockCreate = 2 => "cgroup_inet_sock_create",
        CgroupSockOps = 3 => "cgroup_sock_ops",
        SkSkbStreamParser = 4 => "sk_skb_stream_parser",
        SkSkbStreamVerdict = 5 => "sk_skb_stream_verdict",
        CgroupDevice = 6 => "cgroup_device",
        SkMsgVerdict = 7 => "sk_msg_verdict",
        CgroupInet4Bind = 8 => "cgroup_inet4_bind",
        CgroupInet6Bind = 9 => "cgroup_inet6_bind",
        CgroupInet4Connect = 10 => "cgroup_inet4_connect",
        CgroupInet6Connect = 11 => "cgroup_inet6_connect",
        CgroupInet4PostBind = 12 => "cgroup_inet4_post_bind",
        CgroupInet6PostBind = 13 => "cgroup_inet6_post_bind",
        CgroupUdp4Sendmsg = 14 => "cgroup_udp4_sendmsg",
        CgroupUdp6Sendmsg = 15 => "cgroup_udp6_sendmsg",
        LircMode2 = 16 => "lirc_mode2",
        FlowDissector = 17 => "flow_dissector",
        CgroupSysctl = 18 => "cgroup_sysctl",
        CgroupUdp4Recvmsg = 19 => "cgroup_udp4_recvmsg",
        CgroupUdp6Recvmsg = 20 => "cgroup_udp6_recvmsg",
        CgroupGetsockopt = 21 => "cgroup_getsockopt",
        CgroupSetsockopt = 22 => "cgroup_setsockopt",
        TraceRawTp = 23 => "trace_raw_tp",
        TraceFentry = 24 => "trace_fentry",
        TraceFexit = 25 => "trace_fexit",
        ModifyReturn = 26 => "modify_return",
        LsmMac = 27 => "lsm_mac",
        TraceIter = 28 => "trace_iter",
        CgroupInet4Getpeername = 29 => "cgroup_inet4_getpeername",
        CgroupInet6Getpeername = 30 => "cgroup_inet6_getpeername",
        CgroupInet4Getsockname = 31 => "cgroup_inet4_getsockname",
        CgroupInet6Getsockname = 32 => "cgroup_inet6_getsockname",
        XdpDevmap = 33 => "xdp_devmap",
        CgroupInetSockRelease = 34 => "cgroup_inet_sock_release",
        XdpCpumap = 35 => "xdp_cpumap",
        SkLookup = 36 => "sk_lookup",
        Xdp = 37 => "xdp",
        SkSkbVerdict = 38 => "sk_skb_verdict",
        SkReuseportSelect = 39 => "sk_reuseport_select",
        SkReuseportSelectOrMigrate = 40 => "sk_reuseport_select_or_migrate",
        PerfEvent = 41 => "perf_event",
        TraceKprobeMulti = 42 => "trace_kprobe_multi",
        LsmCgroup = 43 => "lsm_cgroup",
        StructOps = 44 => "struct_ops",
        Netfilter = 45 => "netfilter",
        TcxIngress = 46 => "tcx_ingress",
        TcxEgress = 47 => "tcx_egress",
        TraceUprobeMulti = 48 => "trace_uprobe_multi",
        CgroupUnixConnect = 49 => "cgroup_unix_connect",
        CgroupUnixSendmsg = 50 => "cgroup_unix_sendmsg",
        CgroupUnixRecvmsg = 51 => "cgroup_unix_recvmsg",
        CgroupUnixGetpeername = 52 => "cgroup_unix_getpeername",
        CgroupUnixGetsockname = 53 => "cgroup_unix_getsockname",
        NetkitPrimary = 54 => "netkit_primary",
        NetkitPeer = 55 => "netkit_peer",
        TraceKprobeSession = 56 => "trace_kprobe_session",
        TraceUprobeSession = 57 => "trace_uprobe_session",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for &t in ProgTypeId::ALL {
            assert_eq!(ProgTypeId::from_kernel_id(t.kernel_id()), Some(t));
            assert_eq!(ProgTypeId::from_name(t.name()), Some(t));
        }
        for &a in AttachType::ALL {
            assert_eq!(AttachType::from_kernel_id(a.kernel_id()), Some(a));
        }
        assert_eq!(ProgTypeId::from_kernel_id(33), None);
        assert_eq!(ProgTypeId::SchedCls.name(), "sched_cls");
    }
}
