//! Helper prototypes, as the kernel's `struct bpf_func_proto`: the return
//! type, the five argument types, GPL-only, and which program types may
//! call the helper. The verifier checks calls against them; the runtime's
//! implementations sit beside them in the helper table, so the two cannot
//! disagree.

use std::fmt;

/// The base of an argument type (`enum bpf_arg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgBase {
    /// `ARG_DONTCARE`: the helper takes fewer arguments.
    DontCare,
    /// `ARG_ANYTHING`: any initialised value.
    Anything,
    /// `ARG_CONST_MAP_PTR`: a map (`CONST_PTR_TO_MAP`).
    ConstMapPtr,
    /// `ARG_PTR_TO_MAP_KEY`: `key_size` readable bytes.
    PtrToMapKey,
    /// `ARG_PTR_TO_MAP_VALUE`: `value_size` bytes.
    PtrToMapValue,
    /// `ARG_PTR_TO_MEM`: memory whose size is the next argument (or fixed).
    PtrToMem,
    /// `ARG_CONST_SIZE`: the size of the previous memory argument, > 0.
    ConstSize,
    /// `ARG_CONST_SIZE_OR_ZERO`: the size of the previous memory argument.
    ConstSizeOrZero,
    /// `ARG_PTR_TO_CTX`: the program's context.
    PtrToCtx,
    /// `ARG_PTR_TO_RINGBUF_MEM`: a record from `bpf_ringbuf_reserve`.
    PtrToRingbufMem,
    /// `ARG_CONST_ALLOC_SIZE_OR_ZERO`: a constant allocation size.
    ConstAllocSizeOrZero,
    /// `ARG_PTR_TO_FUNC`: a subprogram (callback).
    PtrToFunc,
    /// `ARG_PTR_TO_STACK`: a pointer into the stack.
    PtrToStack,
    /// `ARG_PTR_TO_CONST_STR`: a NUL-terminated string in a read-only map.
    PtrToConstStr,
    /// `ARG_PTR_TO_BTF_ID`: a kernel object of a BTF type.
    PtrToBtfId,
    /// `ARG_PTR_TO_SOCK_COMMON`.
    PtrToSockCommon,
    /// `ARG_PTR_TO_SPIN_LOCK`.
    PtrToSpinLock,
    /// `ARG_PTR_TO_TIMER`.
    PtrToTimer,
    /// `ARG_PTR_TO_DYNPTR`.
    PtrToDynptr,
}

/// Flags of an argument type (the kernel's type flags).
pub mod flags {
    /// `PTR_MAYBE_NULL`: NULL is accepted (`*_OR_NULL`).
    pub const MAYBE_NULL: u16 = 1 << 0;
    /// `MEM_RDONLY`: the helper only reads the memory.
    pub const RDONLY: u16 = 1 << 1;
    /// `MEM_UNINIT`: the memory need not be initialised (the helper fills it).
    pub const UNINIT: u16 = 1 << 2;
    /// `MEM_WRITE`: the helper writes the memory.
    pub const WRITE: u16 = 1 << 3;
    /// `MEM_FIXED_SIZE`: the size is fixed (`arg_size`), not the next argument.
    pub const FIXED_SIZE: u16 = 1 << 4;
    /// `MEM_ALIGNED`: the memory must be aligned to its size.
    pub const ALIGNED: u16 = 1 << 5;
    /// `OBJ_RELEASE`: the argument is a reference the helper releases.
    pub const RELEASE: u16 = 1 << 6;
}

/// An argument type: its base and flags; `size` for `MEM_FIXED_SIZE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArgType {
    pub base: ArgBase,
    pub flags: u16,
    pub size: u32,
}

impl ArgType {
    const fn new(base: ArgBase, flags: u16) -> Self {
        ArgType {
            base,
            flags,
            size: 0,
        }
    }

    /// Whether a flag is set.
    pub const fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = match self.base {
            ArgBase::DontCare => "ARG_DONTCARE",
            ArgBase::Anything => "ARG_ANYTHING",
            ArgBase::ConstMapPtr => "ARG_CONST_MAP_PTR",
            ArgBase::PtrToMapKey => "ARG_PTR_TO_MAP_KEY",
            ArgBase::PtrToMapValue => "ARG_PTR_TO_MAP_VALUE",
            ArgBase::PtrToMem => "ARG_PTR_TO_MEM",
            ArgBase::ConstSize => "ARG_CONST_SIZE",
            ArgBase::ConstSizeOrZero => "ARG_CONST_SIZE_OR_ZERO",
            ArgBase::PtrToCtx => "ARG_PTR_TO_CTX",
            ArgBase::PtrToRingbufMem => "ARG_PTR_TO_RINGBUF_MEM",
            ArgBase::ConstAllocSizeOrZero => "ARG_CONST_ALLOC_SIZE_OR_ZERO",
            ArgBase::PtrToFunc => "ARG_PTR_TO_FUNC",
            ArgBase::PtrToStack => "ARG_PTR_TO_STACK",
            ArgBase::PtrToConstStr => "ARG_PTR_TO_CONST_STR",
            ArgBase::PtrToBtfId => "ARG_PTR_TO_BTF_ID",
            ArgBase::PtrToSockCommon => "ARG_PTR_TO_SOCK_COMMON",
            ArgBase::PtrToSpinLock => "ARG_PTR_TO_SPIN_LOCK",
            ArgBase::PtrToTimer => "ARG_PTR_TO_TIMER",
            ArgBase::PtrToDynptr => "ARG_PTR_TO_DYNPTR",
        };
        f.write_str(base)?;
        for (flag, name) in [
            (flags::MAYBE_NULL, "PTR_MAYBE_NULL"),
            (flags::RDONLY, "MEM_RDONLY"),
            (flags::UNINIT, "MEM_UNINIT"),
            (flags::WRITE, "MEM_WRITE"),
            (flags::FIXED_SIZE, "MEM_FIXED_SIZE"),
            (flags::ALIGNED, "MEM_ALIGNED"),
            (flags::RELEASE, "OBJ_RELEASE"),
        ] {
            if self.has(flag) {
                write!(f, " | {name}")?;
            }
        }
        if self.has(flags::FIXED_SIZE) {
            write!(f, " ({} bytes)", self.size)?;
        }
        Ok(())
    }
}

/// A helper's return type (`enum bpf_return_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetType {
    /// `RET_INTEGER`: a scalar.
    Integer,
    /// `RET_VOID`: nothing (r0 is unreadable afterwards).
    Void,
    /// `RET_PTR_TO_MAP_VALUE_OR_NULL`: a value of the map in argument 1.
    PtrToMapValueOrNull,
    /// `RET_PTR_TO_RINGBUF_MEM_OR_NULL`: a ring buffer record of the size in
    /// argument 2, which must be submitted or discarded.
    PtrToRingbufMemOrNull,
    /// `RET_PTR_TO_SOCKET_OR_NULL`.
    PtrToSocketOrNull,
    /// `RET_PTR_TO_BTF_ID_OR_NULL`.
    PtrToBtfIdOrNull,
    /// `RET_PTR_TO_MEM_OR_BTF_ID`: a per-CPU kernel variable.
    PtrToMemOrBtfId,
}

impl fmt::Display for RetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RetType::Integer => "RET_INTEGER",
            RetType::Void => "RET_VOID",
            RetType::PtrToMapValueOrNull => "RET_PTR_TO_MAP_VALUE_OR_NULL",
            RetType::PtrToRingbufMemOrNull => "RET_PTR_TO_RINGBUF_MEM_OR_NULL",
            RetType::PtrToSocketOrNull => "RET_PTR_TO_SOCKET_OR_NULL",
            RetType::PtrToBtfIdOrNull => "RET_PTR_TO_BTF_ID_OR_NULL",
            RetType::PtrToMemOrBtfId => "RET_PTR_TO_MEM_OR_BTF_ID",
        })
    }
}

/// Families of program types that share helper sets, as the kernel's
/// `*_func_proto` functions group them.
pub mod progs {
    /// Every program type (the kernel's `bpf_base_func_proto`).
    pub const ALL: u32 = u32::MAX;
    /// kprobe, tracepoint, perf_event, raw_tracepoint, tracing.
    pub const TRACING: u32 = 1 << 0;
    /// socket_filter, cgroup_skb, sk_skb: `__sk_buff` programs.
    pub const SKB: u32 = 1 << 1;
    /// sched_cls and sched_act (tc): `__sk_buff` with write access.
    pub const TC: u32 = 1 << 2;
    /// xdp.
    pub const XDP: u32 = 1 << 3;
    /// Networking programs of every kind.
    pub const NET: u32 = SKB | TC | XDP;
}

/// A prototype: what the verifier checks of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proto {
    pub ret: RetType,
    pub args: [ArgType; 5],
    /// Only GPL-compatible programs may call it.
    pub gpl_only: bool,
    /// It may change packet data pointers (`bpf_helper_changes_pkt_data`):
    /// the verifier invalidates packet pointers after the call.
    pub changes_pkt_data: bool,
    /// The program families that may call it ([`progs`]).
    pub prog_types: u32,
}

impl Proto {
    /// How many arguments the helper takes.
    pub fn arg_count(&self) -> usize {
        self.args
            .iter()
            .take_while(|a| a.base != ArgBase::DontCare)
            .count()
    }
}

impl fmt::Display for Proto {
    /// `RET_INTEGER (ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.ret)?;
        for (i, a) in self.args.iter().take(self.arg_count()).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

// Shorthands for the table below.
use flags::*;
const X: ArgType = ArgType::new(ArgBase::DontCare, 0);
const ANY: ArgType = ArgType::new(ArgBase::Anything, 0);
const MAP: ArgType = ArgType::new(ArgBase::ConstMapPtr, 0);
const KEY: ArgType = ArgType::new(ArgBase::PtrToMapKey, 0);
const VALUE: ArgType = ArgType::new(ArgBase::PtrToMapValue, 0);
const VALUE_OUT: ArgType = ArgType::new(ArgBase::PtrToMapValue, UNINIT | WRITE);
const CTX: ArgType = ArgType::new(ArgBase::PtrToCtx, 0);
const MEM_RO: ArgType = ArgType::new(ArgBase::PtrToMem, RDONLY);
const MEM_RO_OR_NULL: ArgType = ArgType::new(ArgBase::PtrToMem, RDONLY | MAYBE_NULL);
const MEM_OUT: ArgType = ArgType::new(ArgBase::PtrToMem, UNINIT | WRITE);
const MEM_OUT_OR_NULL: ArgType = ArgType::new(ArgBase::PtrToMem, UNINIT | WRITE | MAYBE_NULL);
const SIZE: ArgType = ArgType::new(ArgBase::ConstSize, 0);
const SIZE0: ArgType = ArgType::new(ArgBase::ConstSizeOrZero, 0);
const ALLOC_SIZE0: ArgType = ArgType::new(ArgBase::ConstAllocSizeOrZero, 0);
const RINGBUF_MEM: ArgType = ArgType::new(ArgBase::PtrToRingbufMem, RELEASE);
const FUNC: ArgType = ArgType::new(ArgBase::PtrToFunc, 0);
const STACK_OR_NULL: ArgType = ArgType::new(ArgBase::PtrToStack, MAYBE_NULL);
const CONST_STR: ArgType = ArgType::new(ArgBase::PtrToConstStr, 0);
const LONG_OUT: ArgType = ArgType {
    base: ArgBase::PtrToMem,
    flags: UNINIT | WRITE | FIXED_SIZE | ALIGNED,
    size: 8,
};

const fn p(ret: RetType, args: [ArgType; 5], gpl_only: bool, prog_types: u32) -> Proto {
    Proto {
        ret,
        args,
        gpl_only,
        changes_pkt_data: false,
        prog_types,
    }
}

const fn pkt(proto: Proto) -> Proto {
    Proto {
        changes_pkt_data: true,
        ..proto
    }
}

use progs::{ALL, NET, SKB, TC, TRACING, XDP};
use RetType::{Integer as INT, PtrToMapValueOrNull, PtrToRingbufMemOrNull, Void};

/// The kernel's prototypes of the helpers ironbpf knows, by name (without
/// the `bpf_` prefix). The ids come from the uapi helper list
/// ([`ironbpf_isa::disasm::helper_id`]).
pub const PROTOS: &[(&str, Proto)] = &[
    (
        "map_lookup_elem",
        p(PtrToMapValueOrNull, [MAP, KEY, X, X, X], false, ALL),
    ),
    (
        "map_update_elem",
        p(INT, [MAP, KEY, VALUE, ANY, X], false, ALL),
    ),
    ("map_delete_elem", p(INT, [MAP, KEY, X, X, X], false, ALL)),
    ("map_push_elem", p(INT, [MAP, VALUE, ANY, X, X], false, ALL)),
    (
        "map_pop_elem",
        p(INT, [MAP, VALUE_OUT, X, X, X], false, ALL),
    ),
    (
        "map_peek_elem",
        p(INT, [MAP, VALUE_OUT, X, X, X], false, ALL),
    ),
    (
        "map_lookup_percpu_elem",
        p(PtrToMapValueOrNull, [MAP, KEY, ANY, X, X], false, ALL),
    ),
    (
        "probe_read",
        p(INT, [MEM_OUT, SIZE0, ANY, X, X], true, TRACING),
    ),
    (
        "probe_read_str",
        p(INT, [MEM_OUT, SIZE0, ANY, X, X], true, TRACING),
    ),
    (
        "probe_read_user",
        p(INT, [MEM_OUT, SIZE0, ANY, X, X], true, TRACING),
    ),
    (
        "probe_read_kernel",
        p(INT, [MEM_OUT, SIZE0, ANY, X, X], true, ALL),
    ),
    (
        "probe_read_user_str",
        p(INT, [MEM_OUT, SIZE0, ANY, X, X], true, TRACING),
    ),
    (
        "probe_read_kernel_str",
        p(INT, [MEM_OUT, SIZE0, ANY, X, X], true, ALL),
    ),
    ("ktime_get_ns", p(INT, [X; 5], false, ALL)),
    ("ktime_get_boot_ns", p(INT, [X; 5], false, ALL)),
    ("ktime_get_coarse_ns", p(INT, [X; 5], false, ALL)),
    ("ktime_get_tai_ns", p(INT, [X; 5], false, ALL)),
    ("jiffies64", p(INT, [X; 5], false, ALL)),
    ("get_prandom_u32", p(INT, [X; 5], false, ALL)),
    ("get_smp_processor_id", p(INT, [X; 5], false, ALL)),
    ("get_numa_node_id", p(INT, [X; 5], false, ALL)),
    (
        "trace_printk",
        p(INT, [MEM_RO, SIZE, ANY, ANY, ANY], true, ALL),
    ),
    (
        "snprintf",
        p(
            INT,
            [MEM_OUT_OR_NULL, SIZE0, CONST_STR, MEM_RO_OR_NULL, SIZE0],
            false,
            ALL,
        ),
    ),
    ("get_current_pid_tgid", p(INT, [X; 5], false, TRACING)),
    ("get_current_uid_gid", p(INT, [X; 5], false, TRACING)),
    (
        "get_current_comm",
        p(INT, [MEM_OUT, SIZE, X, X, X], false, TRACING),
    ),
    ("get_current_task", p(INT, [X; 5], true, TRACING)),
    ("get_current_cgroup_id", p(INT, [X; 5], false, TRACING)),
    (
        "strtol",
        p(INT, [MEM_RO, SIZE, ANY, LONG_OUT, X], false, ALL),
    ),
    (
        "strtoul",
        p(INT, [MEM_RO, SIZE, ANY, LONG_OUT, X], false, ALL),
    ),
    (
        "strncmp",
        p(INT, [MEM_RO, SIZE, CONST_STR, X, X], false, ALL),
    ),
    (
        "loop",
        p(INT, [ANY, FUNC, STACK_OR_NULL, ANY, X], false, ALL),
    ),
    (
        "for_each_map_elem",
        p(INT, [MAP, FUNC, STACK_OR_NULL, ANY, X], false, ALL),
    ),
    (
        "csum_diff",
        p(
            INT,
            [MEM_RO_OR_NULL, SIZE0, MEM_RO_OR_NULL, SIZE0, ANY],
            false,
            NET,
        ),
    ),
    (
        "ringbuf_output",
        p(INT, [MAP, MEM_RO, SIZE0, ANY, X], false, ALL),
    ),
    (
        "ringbuf_reserve",
        p(
            PtrToRingbufMemOrNull,
            [MAP, ALLOC_SIZE0, ANY, X, X],
            false,
            ALL,
        ),
    ),
    (
        "ringbuf_submit",
        p(Void, [RINGBUF_MEM, ANY, X, X, X], false, ALL),
    ),
    (
        "ringbuf_discard",
        p(Void, [RINGBUF_MEM, ANY, X, X, X], false, ALL),
    ),
    ("ringbuf_query", p(INT, [MAP, ANY, X, X, X], false, ALL)),
    (
        "perf_event_output",
        p(INT, [CTX, MAP, ANY, MEM_RO, SIZE0], false, TRACING | NET),
    ),
    ("tail_call", p(Void, [CTX, MAP, ANY, X, X], false, ALL)),
    (
        "skb_load_bytes",
        p(INT, [CTX, ANY, MEM_OUT, SIZE, X], false, SKB | TC),
    ),
    (
        "skb_store_bytes",
        pkt(p(INT, [CTX, ANY, MEM_RO, SIZE, ANY], false, TC)),
    ),
    (
        "l3_csum_replace",
        pkt(p(INT, [CTX, ANY, ANY, ANY, ANY], false, TC)),
    ),
    (
        "l4_csum_replace",
        pkt(p(INT, [CTX, ANY, ANY, ANY, ANY], false, TC)),
    ),
    (
        "xdp_adjust_head",
        pkt(p(INT, [CTX, ANY, X, X, X], false, XDP)),
    ),
    (
        "xdp_adjust_tail",
        pkt(p(INT, [CTX, ANY, X, X, X], false, XDP)),
    ),
    (
        "xdp_adjust_meta",
        pkt(p(INT, [CTX, ANY, X, X, X], false, XDP)),
    ),
    ("redirect", p(INT, [ANY, ANY, X, X, X], false, TC | XDP)),
    (
        "redirect_map",
        p(INT, [MAP, ANY, ANY, X, X], false, TC | XDP),
    ),
    (
        "get_socket_cookie",
        p(INT, [CTX, X, X, X, X], false, SKB | TC),
    ),
    ("get_socket_uid", p(INT, [CTX, X, X, X, X], false, SKB | TC)),
    ("get_hash_recalc", p(INT, [CTX, X, X, X, X], false, TC)),
    ("set_hash_invalid", p(Void, [CTX, X, X, X, X], false, TC)),
    ("set_hash", p(INT, [CTX, ANY, X, X, X], false, TC)),
    ("get_cgroup_classid", p(INT, [CTX, X, X, X, X], false, TC)),
    ("get_route_realm", p(INT, [CTX, X, X, X, X], false, TC)),
    ("skb_pull_data", pkt(p(INT, [CTX, ANY, X, X, X], false, TC))),
    (
        "skb_change_tail",
        pkt(p(INT, [CTX, ANY, ANY, X, X], false, TC)),
    ),
    (
        "skb_change_head",
        pkt(p(INT, [CTX, ANY, ANY, X, X], false, TC)),
    ),
    (
        "skb_vlan_push",
        pkt(p(INT, [CTX, ANY, ANY, X, X], false, TC)),
    ),
    ("skb_vlan_pop", pkt(p(INT, [CTX, X, X, X, X], false, TC))),
    ("csum_update", p(INT, [CTX, ANY, X, X, X], false, TC)),
    ("csum_level", p(INT, [CTX, ANY, X, X, X], false, TC)),
    (
        "skb_load_bytes_relative",
        p(INT, [CTX, ANY, MEM_OUT, SIZE, ANY], false, SKB | TC),
    ),
    ("xdp_get_buff_len", p(INT, [CTX, X, X, X, X], false, XDP)),
    (
        "xdp_load_bytes",
        p(INT, [CTX, ANY, MEM_OUT, SIZE, X], false, XDP),
    ),
    (
        "xdp_store_bytes",
        p(INT, [CTX, ANY, MEM_RO, SIZE, X], false, XDP),
    ),
    ("get_func_ip", p(INT, [CTX, X, X, X, X], false, TRACING)),
    (
        "get_attach_cookie",
        p(INT, [CTX, X, X, X, X], false, TRACING),
    ),
];

/// The prototype of the helper with that name (without `bpf_`).
pub fn proto_by_name(name: &str) -> Option<&'static Proto> {
    PROTOS.iter().find(|(n, _)| *n == name).map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prototype_names_a_kernel_helper() {
        for (name, _) in PROTOS {
            assert!(
                ironbpf_isa::disasm::helper_id(&format!("bpf_{name}")).is_some()
                    || ironbpf_isa::disasm::helper_id(name).is_some(),
                "{name} is not in the kernel's helper list"
            );
        }
    }

    #[test]
    fn prototypes_print_in_kernel_terms() {
        let p = proto_by_name("map_lookup_elem").unwrap();
        assert_eq!(
            p.to_string(),
            "RET_PTR_TO_MAP_VALUE_OR_NULL (ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY)"
        );
        let p = proto_by_name("strtol").unwrap();
        assert_eq!(p.arg_count(), 4);
        assert_eq!(
            p.args[3].to_string(),
            "ARG_PTR_TO_MEM | MEM_UNINIT | MEM_WRITE | MEM_FIXED_SIZE | MEM_ALIGNED (8 bytes)"
        );
    }

    #[test]
    fn sizes_follow_memory_arguments() {
        // The verifier pairs ARG_PTR_TO_MEM with the ARG_CONST_SIZE* after it.
        for (name, p) in PROTOS {
            for i in 0..5 {
                let a = p.args[i];
                if a.base == ArgBase::PtrToMem && !a.has(flags::FIXED_SIZE) {
                    let next = p.args.get(i + 1).map(|n| n.base);
                    assert!(
                        matches!(next, Some(ArgBase::ConstSize | ArgBase::ConstSizeOrZero)),
                        "{name}: argument {} has no size after it",
                        i + 1
                    );
                }
            }
        }
    }
}
