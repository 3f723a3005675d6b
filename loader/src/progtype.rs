//! Program type from the section name: a thin use of `ironbpf-progtype`,
//! which holds libbpf's `SEC()` table (with the `?` "do not autoload"
//! prefix) and the prefixes of the old `samples/bpf/bpf_load.c`.

use ironbpf_progtype::sec::{self, SectionMatch};
use ironbpf_progtype::ProgTypeId;

/// `BPF_PROG_TYPE_*` values of the kernel UAPI, by name (from
/// [`ProgTypeId`], the one place their numbers live).
pub mod prog_type {
    use ironbpf_progtype::ProgTypeId as P;

    pub const SOCKET_FILTER: u32 = P::SocketFilter.kernel_id();
    pub const KPROBE: u32 = P::Kprobe.kernel_id();
    pub const SCHED_CLS: u32 = P::SchedCls.kernel_id();
    pub const SCHED_ACT: u32 = P::SchedAct.kernel_id();
    pub const TRACEPOINT: u32 = P::Tracepoint.kernel_id();
    pub const XDP: u32 = P::Xdp.kernel_id();
    pub const PERF_EVENT: u32 = P::PerfEvent.kernel_id();
    pub const CGROUP_SKB: u32 = P::CgroupSkb.kernel_id();
    pub const CGROUP_SOCK: u32 = P::CgroupSock.kernel_id();
    pub const LWT_IN: u32 = P::LwtIn.kernel_id();
    pub const LWT_OUT: u32 = P::LwtOut.kernel_id();
    pub const LWT_XMIT: u32 = P::LwtXmit.kernel_id();
    pub const SOCK_OPS: u32 = P::SockOps.kernel_id();
    pub const SK_SKB: u32 = P::SkSkb.kernel_id();
    pub const CGROUP_DEVICE: u32 = P::CgroupDevice.kernel_id();
    pub const SK_MSG: u32 = P::SkMsg.kernel_id();
    pub const RAW_TRACEPOINT: u32 = P::RawTracepoint.kernel_id();
    pub const CGROUP_SOCK_ADDR: u32 = P::CgroupSockAddr.kernel_id();
    pub const LWT_SEG6LOCAL: u32 = P::LwtSeg6local.kernel_id();
    pub const LIRC_MODE2: u32 = P::LircMode2.kernel_id();
    pub const SK_REUSEPORT: u32 = P::SkReuseport.kernel_id();
    pub const FLOW_DISSECTOR: u32 = P::FlowDissector.kernel_id();
    pub const CGROUP_SYSCTL: u32 = P::CgroupSysctl.kernel_id();
    pub const RAW_TRACEPOINT_WRITABLE: u32 = P::RawTracepointWritable.kernel_id();
    pub const CGROUP_SOCKOPT: u32 = P::CgroupSockopt.kernel_id();
    pub const TRACING: u32 = P::Tracing.kernel_id();
    pub const STRUCT_OPS: u32 = P::StructOps.kernel_id();
    pub const EXT: u32 = P::Ext.kernel_id();
    pub const LSM: u32 = P::Lsm.kernel_id();
    pub const SK_LOOKUP: u32 = P::SkLookup.kernel_id();
    pub const SYSCALL: u32 = P::Syscall.kernel_id();
    pub const NETFILTER: u32 = P::Netfilter.kernel_id();
}

/// The kernel's name of a program type (`"xdp"`, `"socket_filter"`, ...), `"unknown"` if out of range.
pub fn prog_type_name(t: u32) -> &'static str {
    ProgTypeId::from_kernel_id(t).map_or("unknown", |p| p.name())
}

/// The program type whose kernel name is `name` (accepts the libbpf/bpftool aliases too:
/// `tc`, `classifier`, `socket`, `tp`, `raw_tp`, `sockops`, `fentry`...).
pub fn prog_type_from_name(name: &str) -> Option<u32> {
    sec::prog_type_by_name(name).map(|p| p.kernel_id())
}

/// What the section name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionKind {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub attach_to: Option<String>,
    /// `false` for libbpf's `SEC("?...")`: not loaded by default.
    pub autoload: bool,
}

impl From<SectionMatch> for SectionKind {
    fn from(m: SectionMatch) -> Self {
        SectionKind {
            prog_type: m.prog_type.kernel_id(),
            expected_attach_type: m.expected_attach_type.map_or(0, |a| a.kernel_id()),
            attach_to: m.attach_to,
            autoload: m.autoload,
        }
    }
}

/// Infers the program type of a section name; `None` if neither convention applies.
#[cfg(test)]
pub fn infer(section: &str) -> Option<SectionKind> {
    infer_libbpf(section).or_else(|| infer_legacy(section))
}

/// libbpf's `SEC()` conventions.
pub fn infer_libbpf(section: &str) -> Option<SectionKind> {
    sec::section(section).map(SectionKind::from)
}

/// The prefixes of the old `samples/bpf/bpf_load.c`.
pub fn infer_legacy(section: &str) -> Option<SectionKind> {
    sec::legacy_section(section).map(SectionKind::from)
}

#[cfg(test)]
mod tests {
    use super::prog_type::*;
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
        assert_eq!(
            infer("cgroup_skb/egress").unwrap().expected_attach_type,
            ironbpf_progtype::AttachType::CgroupInetEgress.kernel_id()
        );
        let t = infer("tracepoint/syscalls/sys_enter_open").unwrap();
        assert_eq!(t.attach_to.as_deref(), Some("syscalls/sys_enter_open"));
        assert_eq!(
            infer("fentry/tcp_connect").unwrap().expected_attach_type,
            ironbpf_progtype::AttachType::TraceFentry.kernel_id()
        );
        assert_eq!(infer("classifier").unwrap().prog_type, SCHED_CLS);
        assert_eq!(infer("tail-3"), None);
        assert_eq!(infer("test"), None);
        assert_eq!(prog_type_name(XDP), "xdp");
        assert_eq!(prog_type_from_name("sched_cls"), Some(SCHED_CLS));
        assert_eq!(prog_type_from_name("tc"), Some(SCHED_CLS));
        let q = infer("?tc").unwrap();
        assert_eq!((q.prog_type, q.autoload), (SCHED_CLS, false));
    }
}
