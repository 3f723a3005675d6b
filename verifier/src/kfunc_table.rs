//! The kfuncs of Linux 6.18 that vmlinux BTF tags `bpf_kfunc`, with what
//! BTF does not say: which program types may call each one (the kernel
//! registers kfunc sets per program type), and its `KF_*` flags.
//!
//! - `types`: probed on the running kernel (a program of each type that
//!   calls the kfunc, refused with `calling kernel function %s is not
//!   allowed` or not). The kernel test `prog_kfunc_table` probes it again
//!   and fails, printing the new row, when the kernel disagrees. Program
//!   types not probed (lsm, struct_ops, ext, and tracing programs other
//!   than tp_btf) are not answered from this table.
//! - `flags`: written from the kernel's `BTF_ID_FLAGS` lines
//!   (kernel/bpf/helpers.c, cpumask.c); `None` for a kfunc whose flags
//!   ironbpf has not recorded, which its verifier refuses to check rather
//!   than guess.

use ironbpf_progtype::{AttachType, ProgTypeId};

/// `KF_ACQUIRE`: returns a referenced pointer.
pub const KF_ACQUIRE: u32 = 1 << 0;
/// `KF_RELEASE`: releases its referenced argument.
pub const KF_RELEASE: u32 = 1 << 1;
/// `KF_RET_NULL`: may return NULL.
pub const KF_RET_NULL: u32 = 1 << 2;
/// `KF_TRUSTED_ARGS`: pointer arguments must be trusted.
pub const KF_TRUSTED_ARGS: u32 = 1 << 4;
/// `KF_SLEEPABLE`: only sleepable programs may call it.
pub const KF_SLEEPABLE: u32 = 1 << 5;
/// `KF_DESTRUCTIVE`: needs CAP_SYS_BOOT.
pub const KF_DESTRUCTIVE: u32 = 1 << 6;
/// `KF_RCU`: pointer arguments must be trusted or RCU-protected.
pub const KF_RCU: u32 = 1 << 7;
/// `KF_ITER_NEW`: the constructor of an open-coded iterator.
pub const KF_ITER_NEW: u32 = 1 << 8;
/// `KF_ITER_NEXT`: the `next` method of an open-coded iterator.
pub const KF_ITER_NEXT: u32 = 1 << 9;
/// `KF_ITER_DESTROY`: the destructor of an open-coded iterator.
pub const KF_ITER_DESTROY: u32 = 1 << 10;
/// `KF_RCU_PROTECTED`: only inside an RCU read section.
pub const KF_RCU_PROTECTED: u32 = 1 << 11;
/// `KF_FASTCALL`.
pub const KF_FASTCALL: u32 = 1 << 12;

/// A probed program type, as a bit of [`Kfunc::types`].
macro_rules! probed {
    ($($bit:ident = $n:literal => $ty:ident $(, $at:ident)?;)*) => {
        $(#[doc = concat!("`", stringify!($ty), "` probed.")] pub const $bit: u32 = 1 << $n;)*
        /// Every probed program type: its bit, its type, the
        /// expected attach type it was loaded with, and the flags
        /// (`BPF_F_SLEEPABLE` for syscall programs).
        pub const PROBED: &[(u32, ProgTypeId, Option<AttachType>)] = &[
            $(($bit, ProgTypeId::$ty, probed!(@at $($at)?)),)*
        ];
    };
    (@at) => { None };
    (@at $at:ident) => { Some(AttachType::$at) };
}

probed! {
    T_SOCKET_FILTER = 0 => SocketFilter;
    T_KPROBE = 1 => Kprobe;
    T_SCHED_CLS = 2 => SchedCls;
    T_SCHED_ACT = 3 => SchedAct;
    T_TRACEPOINT = 4 => Tracepoint;
    T_XDP = 5 => Xdp;
    T_PERF_EVENT = 6 => PerfEvent;
    T_CGROUP_SKB = 7 => CgroupSkb;
    T_CGROUP_SOCK = 8 => CgroupSock, CgroupInetSockCreate;
    T_LWT_IN = 9 => LwtIn;
    T_SOCK_OPS = 10 => SockOps;
    T_SK_SKB = 11 => SkSkb;
    T_SK_MSG = 12 => SkMsg, SkMsgVerdict;
    T_RAW_TRACEPOINT = 13 => RawTracepoint;
    T_CGROUP_SOCK_ADDR = 14 => CgroupSockAddr, CgroupInet4Connect;
    T_FLOW_DISSECTOR = 15 => FlowDissector;
    T_CGROUP_SYSCTL = 16 => CgroupSysctl, CgroupSysctl;
    T_CGROUP_SOCKOPT = 17 => CgroupSockopt, CgroupGetsockopt;
    T_TRACING = 18 => Tracing, TraceRawTp;
    T_SK_LOOKUP = 19 => SkLookup, SkLookup;
    T_SYSCALL = 20 => Syscall;
    T_NETFILTER = 21 => Netfilter, Netfilter;
}

/// One kfunc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kfunc {
    /// Its name in vmlinux BTF.
    pub name: &'static str,
    /// Its `KF_*` flags; `None` where ironbpf has not recorded them.
    pub flags: Option<u32>,
    /// The probed program types that may call it ([`PROBED`] bits).
    pub types: u32,
}

/// The bit of a program type in [`Kfunc::types`], or `None` where the
/// table was not probed for it. The kernel registers kfunc sets per
/// program type (`bpf_prog_type_to_kfunc_hook`), so one probe answers
/// every attach type of it: tracing was probed as tp_btf and answers for
/// fentry, fexit, fmod_ret and iter programs too. The few kfuncs whose set
/// also filters by attach type are answered by [`attach_filter`].
pub fn type_bit(prog_type: ProgTypeId, _attach: Option<AttachType>) -> Option<u32> {
    PROBED
        .iter()
        .find_map(|&(bit, t, _)| (t == prog_type).then_some(bit))
}

/// The kfunc sets of vmlinux registered with a `filter` that looks at the
/// program's attach type: `Some(allowed)` for their kfuncs, `None` for
/// every other kfunc (the table's [`Kfunc::types`] answers).
/// - `bpf_sock_destroy` (`tracing_iter_filter`): tracing programs of
///   `BPF_TRACE_ITER` only;
/// - `bpf_session_cookie`, `bpf_session_is_return`
///   (`bpf_kprobe_multi_filter`): kprobe programs attached as kprobe or
///   uprobe sessions only.
pub fn attach_filter(
    name: &str,
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
) -> Option<bool> {
    match name {
        "bpf_sock_destroy" => {
            Some(prog_type == ProgTypeId::Tracing && attach == Some(AttachType::TraceIter))
        }
        "bpf_session_cookie" | "bpf_session_is_return" => Some(
            prog_type == ProgTypeId::Kprobe
                && matches!(
                    attach,
                    Some(AttachType::TraceKprobeSession | AttachType::TraceUprobeSession)
                ),
        ),
        _ => None,
    }
}

/// The kfunc named `name`.
pub fn lookup(name: &str) -> Option<&'static Kfunc> {
    KFUNCS
        .binary_search_by(|k| k.name.cmp(name))
        .ok()
        .and_then(|i| KFUNCS.get(i))
}

/// Every kfunc of Linux 6.18's vmlinux, sorted by name.
pub static KFUNCS: &[Kfunc] = &[
    Kfunc {
        name: "__bpf_trap",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bbr_cwnd_event",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bbr_init",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bbr_main",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bbr_min_tso_segs",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bbr_set_state",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bbr_sndbuf_expand",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bbr_ssthresh",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bbr_undo_cwnd",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_arena_alloc_pages",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_arena_free_pages",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_arena_reserve_pages",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_cast_to_kern_ctx",
        flags: Some(KF_FASTCALL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_cgroup_acquire",
        flags: Some(KF_ACQUIRE | KF_RCU | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cgroup_ancestor",
        flags: Some(KF_ACQUIRE | KF_RCU | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cgroup_from_id",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cgroup_read_xattr",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_cgroup_release",
        flags: Some(KF_RELEASE),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_copy_from_user_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_copy_from_user_str",
        flags: Some(KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_copy_from_user_str_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_copy_from_user_task_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(KF_SLEEPABLE | KF_TRUSTED_ARGS),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_copy_from_user_task_str",
        flags: Some(KF_SLEEPABLE | KF_TRUSTED_ARGS),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_copy_from_user_task_str_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(KF_SLEEPABLE | KF_TRUSTED_ARGS),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_cpumask_acquire",
        flags: Some(KF_ACQUIRE | KF_TRUSTED_ARGS),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_and",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_any_and_distribute",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_any_distribute",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_clear",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_clear_cpu",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_copy",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_create",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_empty",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_equal",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_first",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_first_and",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_first_zero",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_full",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_intersects",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_or",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_populate",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_release",
        flags: Some(KF_RELEASE),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_set_cpu",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_setall",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_subset",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_test_and_clear_cpu",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_test_and_set_cpu",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_test_cpu",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_weight",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_cpumask_xor",
        flags: Some(KF_RCU),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_crypto_ctx_acquire",
        flags: Some(KF_ACQUIRE | KF_RCU | KF_RET_NULL),
        types: T_SYSCALL,
    },
    Kfunc {
        name: "bpf_crypto_ctx_create",
        flags: Some(KF_ACQUIRE | KF_RET_NULL | KF_SLEEPABLE),
        types: T_SYSCALL,
    },
    Kfunc {
        name: "bpf_crypto_ctx_release",
        flags: Some(KF_RELEASE),
        types: T_SYSCALL,
    },
    Kfunc {
        name: "bpf_crypto_decrypt",
        flags: None,
        types: T_SCHED_CLS | T_SCHED_ACT | T_XDP,
    },
    Kfunc {
        name: "bpf_crypto_encrypt",
        flags: None,
        types: T_SCHED_CLS | T_SCHED_ACT | T_XDP,
    },
    Kfunc {
        name: "bpf_ct_change_status",
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_ct_change_timeout",
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_ct_insert_entry",
        flags: Some(KF_ACQUIRE | KF_RET_NULL | KF_RELEASE),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_ct_release",
        flags: Some(KF_RELEASE),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_ct_set_nat_info",
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_ct_set_status",
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_ct_set_timeout",
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_dynptr_adjust",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_clone",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_copy",
        // dynptrs (dynptr.rs): net/core/filter.c, kernel/bpf/helpers.c
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_from_skb",
        // dynptrs (dynptr.rs): net/core/filter.c, kernel/bpf/helpers.c
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SOCKET_FILTER
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_from_skb_meta",
        // dynptrs (dynptr.rs): net/core/filter.c, kernel/bpf/helpers.c
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SCHED_CLS | T_SCHED_ACT,
    },
    Kfunc {
        name: "bpf_dynptr_from_xdp",
        // dynptrs (dynptr.rs): net/core/filter.c, kernel/bpf/helpers.c
        flags: Some(0),
        types: T_XDP,
    },
    Kfunc {
        name: "bpf_dynptr_is_null",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_is_rdonly",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_memset",
        // dynptrs (dynptr.rs): net/core/filter.c, kernel/bpf/helpers.c
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_size",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_slice",
        flags: Some(KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_dynptr_slice_rdwr",
        flags: Some(KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_fentry_test1",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_get_dentry_xattr",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_get_file_xattr",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_get_kmem_cache",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_get_task_exe_file",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_iter_bits_destroy",
        flags: Some(KF_ITER_DESTROY),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_bits_new",
        flags: Some(KF_ITER_NEW),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_bits_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_css_destroy",
        flags: Some(KF_ITER_DESTROY),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_css_new",
        flags: Some(KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_css_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_css_task_destroy",
        flags: Some(KF_ITER_DESTROY),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_css_task_new",
        flags: Some(KF_ITER_NEW | KF_TRUSTED_ARGS),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_css_task_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_dmabuf_destroy",
        flags: Some(KF_ITER_DESTROY | KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_dmabuf_new",
        flags: Some(KF_ITER_NEW | KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_dmabuf_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL | KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_kmem_cache_destroy",
        flags: Some(KF_ITER_DESTROY | KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_kmem_cache_new",
        flags: Some(KF_ITER_NEW | KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_kmem_cache_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL | KF_SLEEPABLE),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_num_destroy",
        flags: Some(KF_ITER_DESTROY),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_num_new",
        flags: Some(KF_ITER_NEW),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_num_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_task_destroy",
        flags: Some(KF_ITER_DESTROY),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_task_new",
        flags: Some(KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_task_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_task_vma_destroy",
        flags: Some(KF_ITER_DESTROY),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_task_vma_new",
        flags: Some(KF_ITER_NEW | KF_RCU),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_iter_task_vma_next",
        flags: Some(KF_ITER_NEXT | KF_RET_NULL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_key_put",
        flags: None,
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_kfunc_call_memb_release",
        flags: None,
        types: T_SCHED_CLS | T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_kfunc_call_test_release",
        flags: None,
        types: T_SCHED_CLS | T_TRACEPOINT | T_PERF_EVENT | T_TRACING | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_list_back",
        flags: Some(KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_list_front",
        flags: Some(KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_list_pop_back",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_list_pop_front",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_list_push_back_impl",
        flags: Some(0),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_list_push_front_impl",
        flags: Some(0),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_local_irq_restore",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_local_irq_save",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_lookup_system_key",
        flags: None,
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_lookup_user_key",
        flags: None,
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_map_sum_elem_count",
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_modify_return_test",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_modify_return_test2",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_modify_return_test_tp",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_obj_drop_impl",
        flags: Some(KF_RELEASE),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_obj_new_impl",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_path_d_path",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_percpu_obj_drop_impl",
        flags: Some(KF_RELEASE),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_percpu_obj_new_impl",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_preempt_disable",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_preempt_enable",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_probe_read_kernel_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_probe_read_kernel_str_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_probe_read_user_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_probe_read_user_str_dynptr",
        // dynptrs (dynptr.rs): kernel/trace/bpf_trace.c
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_put_file",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_rbtree_add_impl",
        flags: Some(0),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_rbtree_first",
        flags: Some(KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_rbtree_left",
        flags: Some(KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_rbtree_remove",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_rbtree_right",
        flags: Some(KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_rbtree_root",
        flags: Some(KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_rcu_read_lock",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_rcu_read_unlock",
        flags: Some(0),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_rdonly_cast",
        flags: Some(KF_FASTCALL),
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_refcount_acquire_impl",
        flags: Some(KF_ACQUIRE | KF_RET_NULL | KF_RCU),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_remove_dentry_xattr",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_res_spin_lock",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_res_spin_lock_irqsave",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_res_spin_unlock",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_res_spin_unlock_irqrestore",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_send_signal_task",
        flags: Some(KF_TRUSTED_ARGS),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_session_cookie",
        flags: Some(0),
        types: 0,
    },
    Kfunc {
        name: "bpf_session_is_return",
        flags: Some(0),
        types: 0,
    },
    Kfunc {
        name: "bpf_set_dentry_xattr",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "bpf_sk_assign_tcp_reqsk",
        flags: None,
        types: T_SCHED_CLS,
    },
    Kfunc {
        name: "bpf_skb_ct_alloc",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_skb_ct_lookup",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_sock_addr_set_sun_path",
        flags: Some(0),
        types: T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT,
    },
    Kfunc {
        name: "bpf_sock_destroy",
        flags: Some(KF_TRUSTED_ARGS),
        types: 0,
    },
    Kfunc {
        name: "bpf_sock_ops_enable_tx_tstamp",
        flags: None,
        types: T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT,
    },
    Kfunc {
        name: "bpf_strcasecmp",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strchr",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strchrnul",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strcmp",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strcspn",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_stream_vprintk_impl",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strlen",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strnchr",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strnlen",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strnstr",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strrchr",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strspn",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_strstr",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_task_acquire",
        flags: Some(KF_ACQUIRE | KF_RCU | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_task_from_pid",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_task_from_vpid",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_task_get_cgroup1",
        flags: Some(KF_ACQUIRE | KF_RCU | KF_RET_NULL),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_task_release",
        flags: Some(KF_RELEASE),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_task_under_cgroup",
        flags: Some(KF_RCU),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_task_work_schedule_resume_impl",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_task_work_schedule_signal_impl",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_throw",
        flags: Some(0),
        types: T_SCHED_CLS
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_SOCK_OPS
            | T_CGROUP_SOCK_ADDR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SYSCALL,
    },
    Kfunc {
        name: "bpf_wq_init",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_wq_set_callback_impl",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_wq_start",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_xdp_ct_alloc",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_xdp_ct_lookup",
        flags: Some(KF_ACQUIRE | KF_RET_NULL),
        types: T_SCHED_CLS | T_XDP,
    },
    Kfunc {
        name: "bpf_xdp_get_xfrm_state",
        flags: None,
        types: T_XDP,
    },
    Kfunc {
        name: "bpf_xdp_metadata_rx_hash",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_xdp_metadata_rx_timestamp",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_xdp_metadata_rx_vlan_tag",
        flags: None,
        types: T_SOCKET_FILTER
            | T_KPROBE
            | T_SCHED_CLS
            | T_SCHED_ACT
            | T_TRACEPOINT
            | T_XDP
            | T_PERF_EVENT
            | T_CGROUP_SKB
            | T_CGROUP_SOCK
            | T_LWT_IN
            | T_SOCK_OPS
            | T_SK_SKB
            | T_SK_MSG
            | T_RAW_TRACEPOINT
            | T_CGROUP_SOCK_ADDR
            | T_FLOW_DISSECTOR
            | T_CGROUP_SYSCTL
            | T_CGROUP_SOCKOPT
            | T_TRACING
            | T_SK_LOOKUP
            | T_SYSCALL
            | T_NETFILTER,
    },
    Kfunc {
        name: "bpf_xdp_pull_data",
        // dynptrs (dynptr.rs): it changes packet data (net/core/filter.c)
        flags: Some(0),
        types: T_XDP,
    },
    Kfunc {
        name: "bpf_xdp_xfrm_state_release",
        flags: None,
        types: T_XDP,
    },
    Kfunc {
        name: "css_rstat_flush",
        flags: Some(KF_SLEEPABLE),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING,
    },
    Kfunc {
        name: "css_rstat_updated",
        flags: Some(0),
        types: T_TRACEPOINT | T_PERF_EVENT | T_TRACING,
    },
    Kfunc {
        name: "cubictcp_acked",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "cubictcp_cong_avoid",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "cubictcp_cwnd_event",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "cubictcp_init",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "cubictcp_recalc_ssthresh",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "cubictcp_state",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "tcp_cong_avoid_ai",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "tcp_reno_cong_avoid",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "tcp_reno_ssthresh",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "tcp_reno_undo_cwnd",
        flags: None,
        types: 0,
    },
    Kfunc {
        name: "tcp_slow_start",
        flags: None,
        types: 0,
    },
];
