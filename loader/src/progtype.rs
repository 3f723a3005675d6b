//! Program type from the section name: a thin use of `ironbpf-progtype`,
//! which holds libbpf's `SEC()` table (with the `?` "do not autoload"
//! prefix) and the prefixes of the old `samples/bpf/bpf_load.c`.

use ironbpf_btf::{kind, Btf};
use ironbpf_progtype::sec::{self, SectionMatch};
use ironbpf_progtype::{AttachType, ProgTypeId};

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

/// One row of veristat's `guess_prog_type_by_ctx_name`: the context struct a
/// program type's entry function takes, by its UAPI name and by the kernel's
/// own name, and the type (with the expected attach type) it suggests.
struct CtxRow {
    uapi: &'static str,
    kern: Option<&'static str>,
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
}

const fn row(
    uapi: &'static str,
    kern: Option<&'static str>,
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
) -> CtxRow {
    CtxRow {
        uapi,
        kern,
        prog_type,
        attach,
    }
}

/// The context structs that name a program type. `__sk_buff` is shared by a
/// dozen types; like veristat, we take tc (`sched_cls`), the type that may
/// read and write the most of it.
const CTX_NAMES: &[CtxRow] = &[
    row("__sk_buff", Some("sk_buff"), ProgTypeId::SchedCls, None),
    row(
        "bpf_sock",
        Some("sock"),
        ProgTypeId::CgroupSock,
        Some(AttachType::CgroupInet4PostBind),
    ),
    row(
        "bpf_sock_addr",
        Some("bpf_sock_addr_kern"),
        ProgTypeId::CgroupSockAddr,
        Some(AttachType::CgroupInet4Bind),
    ),
    row(
        "bpf_sock_ops",
        Some("bpf_sock_ops_kern"),
        ProgTypeId::SockOps,
        Some(AttachType::CgroupSockOps),
    ),
    row(
        "sk_msg_md",
        Some("sk_msg"),
        ProgTypeId::SkMsg,
        Some(AttachType::SkMsgVerdict),
    ),
    row(
        "bpf_cgroup_dev_ctx",
        None,
        ProgTypeId::CgroupDevice,
        Some(AttachType::CgroupDevice),
    ),
    row(
        "bpf_sysctl",
        Some("bpf_sysctl_kern"),
        ProgTypeId::CgroupSysctl,
        Some(AttachType::CgroupSysctl),
    ),
    row(
        "bpf_sockopt",
        Some("bpf_sockopt_kern"),
        ProgTypeId::CgroupSockopt,
        Some(AttachType::CgroupSetsockopt),
    ),
    row(
        "sk_reuseport_md",
        Some("sk_reuseport_kern"),
        ProgTypeId::SkReuseport,
        Some(AttachType::SkReuseportSelectOrMigrate),
    ),
    row(
        "bpf_sk_lookup",
        Some("bpf_sk_lookup_kern"),
        ProgTypeId::SkLookup,
        Some(AttachType::SkLookup),
    ),
    row(
        "xdp_md",
        Some("xdp_buff"),
        ProgTypeId::Xdp,
        Some(AttachType::Xdp),
    ),
    row(
        "bpf_user_pt_regs_t",
        Some("pt_regs"),
        ProgTypeId::Kprobe,
        None,
    ),
    row(
        "bpf_perf_event_data",
        Some("bpf_perf_event_data_kern"),
        ProgTypeId::PerfEvent,
        None,
    ),
    // The kernel side of a raw tracepoint is a bare u64 array: only the UAPI name counts.
    row(
        "bpf_raw_tracepoint_args",
        None,
        ProgTypeId::RawTracepoint,
        None,
    ),
];

/// A program type guessed from the context argument, and the argument's type
/// as the source spells it (`struct __sk_buff`), for the messages that must
/// say the type is a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtxGuess {
    pub kind: SectionKind,
    pub ctx: String,
}

/// The program type suggested by the context struct `name`, as veristat's
/// `guess_prog_type_by_ctx_name` suggests it.
pub fn type_by_ctx_name(name: &str) -> Option<(ProgTypeId, Option<AttachType>)> {
    CTX_NAMES
        .iter()
        .find(|r| r.uapi == name || r.kern == Some(name))
        .map(|r| (r.prog_type, r.attach))
}

/// Guesses the program type of the entry function `func` from the BTF type
/// of its first argument (`struct xdp_md *ctx` makes it an XDP program), for
/// sections whose name says nothing. `Err` says, for the person who must
/// then give `--type`, why no guess could be made.
pub fn guess_from_ctx(btf: Option<&Btf>, func: &str, autoload: bool) -> Result<CtxGuess, String> {
    let Some(btf) = btf else {
        return Err(
            "the object has no BTF (an old object, built without -g) to guess it from the \
             program's ctx argument"
                .into(),
        );
    };
    let Some(fid) = btf.types.iter().enumerate().skip(1).find_map(|(i, t)| {
        (t.kind == kind::FUNC && btf.str_at(t.name_off) == func).then_some(i as u32)
    }) else {
        return Err(format!(
            "the object's BTF has no FUNC record for {func} to guess it from its ctx argument"
        ));
    };
    let proto = btf
        .get(fid)
        .and_then(|f| btf.get(f.size_or_type))
        .filter(|p| p.kind == kind::FUNC_PROTO);
    let Some(arg) = proto.and_then(|p| p.members.first()) else {
        return Err(format!(
            "function {func} takes no argument in its BTF, so no ctx argument names the type"
        ));
    };
    let skip_mods = |mut id: u32| {
        for _ in 0..32 {
            match btf.get(id) {
                Some(t)
                    if matches!(
                        t.kind,
                        kind::CONST | kind::VOLATILE | kind::RESTRICT | kind::TYPE_TAG
                    ) =>
                {
                    id = t.size_or_type
                }
                _ => break,
            }
        }
        id
    };
    let ptr = skip_mods(arg.type_id);
    let pointee = match btf.get(ptr) {
        Some(t) if t.kind == kind::PTR => skip_mods(t.size_or_type),
        _ => {
            return Err(format!(
                "the first argument of {func} is not a pointer, so it names no ctx type"
            ))
        }
    };
    // The pointee's name, then (through typedefs) the names it stands for.
    let mut id = pointee;
    let mut spelled = None;
    for _ in 0..32 {
        let Some(t) = btf.get(id) else { break };
        let name = btf.str_at(t.name_off);
        let shown = match t.kind {
            kind::STRUCT => format!("struct {name}"),
            kind::UNION => format!("union {name}"),
            kind::FWD if t.kind_flag => format!("union {name}"),
            kind::FWD => format!("struct {name}"),
            _ if name.is_empty() => "void".to_string(),
            _ => name.to_string(),
        };
        let first = spelled.get_or_insert_with(|| shown.clone()).clone();
        if let Some((p, a)) = type_by_ctx_name(name).filter(|_| !name.is_empty()) {
            return Ok(CtxGuess {
                kind: SectionKind {
                    prog_type: p.kernel_id(),
                    expected_attach_type: a.map_or(0, |a| a.kernel_id()),
                    attach_to: None,
                    autoload,
                },
                ctx: first,
            });
        }
        match t.kind {
            kind::TYPEDEF | kind::CONST | kind::VOLATILE | kind::RESTRICT | kind::TYPE_TAG => {
                id = t.size_or_type
            }
            _ => break,
        }
    }
    Err(format!(
        "its ctx argument is `{} *`, which names no program type",
        spelled.unwrap_or_else(|| "void".into())
    ))
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
