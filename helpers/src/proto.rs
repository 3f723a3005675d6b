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
    /// socket_filter: `__sk_buff` programs that only read.
    pub const SOCKET_FILTER: u32 = 1 << 1;
    /// sched_cls and sched_act (tc): `__sk_buff` with write access.
    pub const TC: u32 = 1 << 2;
    /// xdp.
    pub const XDP: u32 = 1 << 3;
    /// cgroup_skb.
    pub const CGROUP_SKB: u32 = 1 << 4;
    /// `__sk_buff` programs that only read: socket filters and cgroup skb.
    pub const SKB: u32 = SOCKET_FILTER | CGROUP_SKB;
    /// Networking programs of every kind.
    pub const NET: u32 = SKB | TC | XDP;

    /// The family of a kernel program type (`BPF_PROG_TYPE_*`); 0 for types
    /// in none of them (and for 0, an unknown type).
    pub const fn of_prog_type(prog_type: u32) -> u32 {
        match prog_type {
            1 => SOCKET_FILTER,
            3 | 4 => TC,
            6 => XDP,
            8 => CGROUP_SKB,
            2 | 5 | 7 | 17 | 26 => TRACING,
            _ => 0,
        }
    }

    /// The families' names, as `ironbpf helpers` prints them.
    pub fn names(mask: u32) -> String {
        if mask == ALL {
            return "all".into();
        }
        let mut v = Vec::new();
        for (bit, name) in [
            (TRACING, "tracing"),
            (SOCKET_FILTER, "socket_filter"),
            (CGROUP_SKB, "cgroup_skb"),
            (TC, "tc"),
            (XDP, "xdp"),
        ] {
            if mask & bit != 0 {
                v.push(name);
            }
        }
        v.join(",")
    }
}

/// A prototype: what the verifier checks of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proto {
    pub ret: RetType,
    pub args: [ArgType; 5],
    /// The arguments' names, as the uapi documentation names them.
    pub arg_names: [&'static str; 5],
    /// Only GPL-compatible programs may call it.
    pub gpl_only: bool,
    /// It may change packet data pointers (`bpf_helper_changes_pkt_data`):
    /// the verifier invalidates packet pointers after the call.
    pub changes_pkt_data: bool,
    /// The program families that may call it ([`progs`]).
    pub prog_types: u32,
}

impl Proto {
    /// A prototype from named arguments (at most five), callable by the
    /// program families `prog_types`.
    pub const fn new(ret: RetType, args: &[(&'static str, ArgType)], prog_types: u32) -> Proto {
        let mut a = [X; 5];
        let mut n = [""; 5];
        let mut i = 0;
        while i < args.len() && i < 5 {
            a[i] = args[i].1;
            n[i] = args[i].0;
            i += 1;
        }
        Proto {
            ret,
            args: a,
            arg_names: n,
            gpl_only: false,
            changes_pkt_data: false,
            prog_types,
        }
    }

    /// Only GPL-compatible programs may call it.
    pub const fn gpl(self) -> Proto {
        Proto {
            gpl_only: true,
            ..self
        }
    }

    /// It changes packet data pointers.
    pub const fn pkt(self) -> Proto {
        Proto {
            changes_pkt_data: true,
            ..self
        }
    }

    /// How many arguments the helper takes.
    pub fn arg_count(&self) -> usize {
        self.args
            .iter()
            .take_while(|a| a.base != ArgBase::DontCare)
            .count()
    }

    /// The C type of the return value, as the uapi documentation writes it.
    pub fn c_ret(&self) -> &'static str {
        match self.ret {
            RetType::Integer => "long",
            RetType::Void => "void",
            _ => "void *",
        }
    }

    /// The prototype in the kernel's C style, with the verifier's argument
    /// types: `long bpf_map_update_elem(map: ARG_CONST_MAP_PTR, ...)`.
    pub fn signature(&self, name: &str) -> String {
        let args: Vec<String> = (0..self.arg_count())
            .map(|i| format!("{}: {}", self.arg_names[i], self.args[i]))
            .collect();
        let ret = self.c_ret();
        let sep = if ret.ends_with('*') { "" } else { " " };
        let args = if args.is_empty() {
            "void".to_string()
        } else {
            args.join(", ")
        };
        format!("{ret}{sep}{name}({args})")
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

/// Argument types by their kernel names, for prototypes written outside
/// this crate.
pub mod args {
    use super::flags::*;
    use super::{ArgBase, ArgType};
    /// `ARG_DONTCARE`.
    pub const X: ArgType = ArgType::new(ArgBase::DontCare, 0);
    /// `ARG_ANYTHING`.
    pub const ANY: ArgType = ArgType::new(ArgBase::Anything, 0);
    /// `ARG_CONST_MAP_PTR`.
    pub const MAP: ArgType = ArgType::new(ArgBase::ConstMapPtr, 0);
    /// `ARG_PTR_TO_MAP_KEY`.
    pub const KEY: ArgType = ArgType::new(ArgBase::PtrToMapKey, 0);
    /// `ARG_PTR_TO_MAP_VALUE`.
    pub const VALUE: ArgType = ArgType::new(ArgBase::PtrToMapValue, 0);
    /// `ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE`.
    pub const VALUE_OUT: ArgType = ArgType::new(ArgBase::PtrToMapValue, UNINIT | WRITE);
    /// `ARG_PTR_TO_CTX`.
    pub const CTX: ArgType = ArgType::new(ArgBase::PtrToCtx, 0);
    /// `ARG_PTR_TO_MEM | MEM_RDONLY`.
    pub const MEM_RO: ArgType = ArgType::new(ArgBase::PtrToMem, RDONLY);
    /// `ARG_PTR_TO_MEM | MEM_RDONLY | PTR_MAYBE_NULL`.
    pub const MEM_RO_OR_NULL: ArgType = ArgType::new(ArgBase::PtrToMem, RDONLY | MAYBE_NULL);
    /// `ARG_PTR_TO_UNINIT_MEM` (`ARG_PTR_TO_MEM | MEM_UNINIT | MEM_WRITE`).
    pub const MEM_OUT: ArgType = ArgType::new(ArgBase::PtrToMem, UNINIT | WRITE);
    /// `ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_UNINIT | MEM_WRITE`.
    pub const MEM_OUT_OR_NULL: ArgType =
        ArgType::new(ArgBase::PtrToMem, UNINIT | WRITE | MAYBE_NULL);
    /// `ARG_CONST_SIZE`.
    pub const SIZE: ArgType = ArgType::new(ArgBase::ConstSize, 0);
    /// `ARG_CONST_SIZE_OR_ZERO`.
    pub const SIZE0: ArgType = ArgType::new(ArgBase::ConstSizeOrZero, 0);
    /// `ARG_CONST_ALLOC_SIZE_OR_ZERO`.
    pub const ALLOC_SIZE0: ArgType = ArgType::new(ArgBase::ConstAllocSizeOrZero, 0);
    /// `ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`.
    pub const RINGBUF_MEM: ArgType = ArgType::new(ArgBase::PtrToRingbufMem, RELEASE);
    /// `ARG_PTR_TO_FUNC`.
    pub const FUNC: ArgType = ArgType::new(ArgBase::PtrToFunc, 0);
    /// `ARG_PTR_TO_STACK_OR_NULL`.
    pub const STACK_OR_NULL: ArgType = ArgType::new(ArgBase::PtrToStack, MAYBE_NULL);
    /// `ARG_PTR_TO_CONST_STR`.
    pub const CONST_STR: ArgType = ArgType::new(ArgBase::PtrToConstStr, 0);
    /// `ARG_PTR_TO_SPIN_LOCK`.
    pub const SPIN_LOCK: ArgType = ArgType::new(ArgBase::PtrToSpinLock, 0);
    /// `ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED`, 8 bytes.
    pub const LONG_OUT: ArgType = ArgType {
        base: ArgBase::PtrToMem,
        flags: UNINIT | WRITE | FIXED_SIZE | ALIGNED,
        size: 8,
    };
}

use args::*;
use progs::{ALL, NET, SKB, TC, TRACING, XDP};
use RetType::{Integer as INT, PtrToMapValueOrNull, PtrToRingbufMemOrNull, Void};

const fn p(ret: RetType, a: &[(&'static str, ArgType)], prog_types: u32) -> Proto {
    Proto::new(ret, a, prog_types)
}

/// The kernel's prototypes of the helpers ironbpf knows, by name (without
/// the `bpf_` prefix). The ids come from the uapi helper list
/// ([`ironbpf_isa::disasm::helper_id`]). The program families are those
/// whose `*_func_proto` on Linux 6.18 offers the helper (checked against
/// the kernel by `tests/kernel_protos.rs`).
pub const PROTOS: &[(&str, Proto)] = &[
    // Maps.
    (
        "map_lookup_elem",
        p(PtrToMapValueOrNull, &[("map", MAP), ("key", KEY)], ALL),
    ),
    (
        "map_update_elem",
        p(
            INT,
            &[("map", MAP), ("key", KEY), ("value", VALUE), ("flags", ANY)],
            ALL,
        ),
    ),
    (
        "map_delete_elem",
        p(INT, &[("map", MAP), ("key", KEY)], ALL),
    ),
    (
        "map_push_elem",
        p(INT, &[("map", MAP), ("value", VALUE), ("flags", ANY)], ALL),
    ),
    (
        "map_pop_elem",
        p(INT, &[("map", MAP), ("value", VALUE_OUT)], ALL),
    ),
    (
        "map_peek_elem",
        p(INT, &[("map", MAP), ("value", VALUE_OUT)], ALL),
    ),
    (
        "map_lookup_percpu_elem",
        p(
            PtrToMapValueOrNull,
            &[("map", MAP), ("key", KEY), ("cpu", ANY)],
            ALL,
        ),
    ),
    (
        "for_each_map_elem",
        p(
            INT,
            &[
                ("map", MAP),
                ("callback_fn", FUNC),
                ("callback_ctx", STACK_OR_NULL),
                ("flags", ANY),
            ],
            ALL,
        ),
    ),
    (
        "ringbuf_output",
        p(
            INT,
            &[
                ("ringbuf", MAP),
                ("data", MEM_RO),
                ("size", SIZE0),
                ("flags", ANY),
            ],
            ALL,
        ),
    ),
    (
        "ringbuf_reserve",
        p(
            PtrToRingbufMemOrNull,
            &[("ringbuf", MAP), ("size", ALLOC_SIZE0), ("flags", ANY)],
            ALL,
        ),
    ),
    (
        "ringbuf_submit",
        p(Void, &[("data", RINGBUF_MEM), ("flags", ANY)], ALL),
    ),
    (
        "ringbuf_discard",
        p(Void, &[("data", RINGBUF_MEM), ("flags", ANY)], ALL),
    ),
    (
        "ringbuf_query",
        p(INT, &[("ringbuf", MAP), ("flags", ANY)], ALL),
    ),
    (
        "perf_event_output",
        p(
            INT,
            &[
                ("ctx", CTX),
                ("map", MAP),
                ("flags", ANY),
                ("data", MEM_RO),
                ("size", SIZE0),
            ],
            TRACING | NET,
        ),
    ),
    (
        "tail_call",
        p(
            Void,
            &[("ctx", CTX), ("prog_array_map", MAP), ("index", ANY)],
            ALL,
        ),
    ),
    // Memory of the host.
    (
        "probe_read",
        p(
            INT,
            &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)],
            TRACING,
        )
        .gpl(),
    ),
    (
        "probe_read_str",
        p(
            INT,
            &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)],
            TRACING,
        )
        .gpl(),
    ),
    (
        "probe_read_user",
        p(
            INT,
            &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)],
            ALL,
        )
        .gpl(),
    ),
    (
        "probe_read_user_str",
        p(
            INT,
            &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)],
            ALL,
        )
        .gpl(),
    ),
    (
        "probe_read_kernel",
        p(
            INT,
            &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)],
            ALL,
        )
        .gpl(),
    ),
    (
        "probe_read_kernel_str",
        p(
            INT,
            &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)],
            ALL,
        )
        .gpl(),
    ),
    // Time, randomness, where the program runs.
    ("ktime_get_ns", p(INT, &[], ALL)),
    ("ktime_get_boot_ns", p(INT, &[], ALL)),
    ("ktime_get_coarse_ns", p(INT, &[], NET)),
    ("ktime_get_tai_ns", p(INT, &[], ALL)),
    ("jiffies64", p(INT, &[], ALL)),
    ("get_prandom_u32", p(INT, &[], ALL)),
    ("get_smp_processor_id", p(INT, &[], ALL)),
    ("get_numa_node_id", p(INT, &[], ALL)),
    // Printing.
    (
        "trace_printk",
        p(
            INT,
            &[
                ("fmt", MEM_RO),
                ("fmt_size", SIZE),
                ("arg1", ANY),
                ("arg2", ANY),
                ("arg3", ANY),
            ],
            ALL,
        )
        .gpl(),
    ),
    (
        "trace_vprintk",
        p(
            INT,
            &[
                ("fmt", MEM_RO),
                ("fmt_size", SIZE),
                ("data", MEM_RO_OR_NULL),
                ("data_len", SIZE0),
            ],
            ALL,
        )
        .gpl(),
    ),
    (
        "snprintf",
        p(
            INT,
            &[
                ("str", MEM_OUT_OR_NULL),
                ("str_size", SIZE0),
                ("fmt", CONST_STR),
                ("data", MEM_RO_OR_NULL),
                ("data_len", SIZE0),
            ],
            ALL,
        )
        .gpl(),
    ),
    // The current task.
    ("get_current_pid_tgid", p(INT, &[], ALL)),
    ("get_current_uid_gid", p(INT, &[], ALL)),
    (
        "get_current_comm",
        p(INT, &[("buf", MEM_OUT), ("size_of_buf", SIZE)], ALL),
    ),
    ("get_current_task", p(INT, &[], ALL).gpl()),
    ("get_current_cgroup_id", p(INT, &[], ALL)),
    (
        "get_ns_current_pid_tgid",
        p(
            INT,
            &[
                ("dev", ANY),
                ("ino", ANY),
                ("nsdata", MEM_OUT),
                ("size", SIZE),
            ],
            ALL,
        ),
    ),
    // Strings and loops.
    (
        "strtol",
        p(
            INT,
            &[
                ("buf", MEM_RO),
                ("buf_len", SIZE),
                ("flags", ANY),
                ("res", LONG_OUT),
            ],
            ALL,
        ),
    ),
    (
        "strtoul",
        p(
            INT,
            &[
                ("buf", MEM_RO),
                ("buf_len", SIZE),
                ("flags", ANY),
                ("res", LONG_OUT),
            ],
            ALL,
        ),
    ),
    (
        "strncmp",
        p(
            INT,
            &[("s1", MEM_RO), ("s1_sz", SIZE), ("s2", CONST_STR)],
            ALL,
        ),
    ),
    (
        "loop",
        p(
            INT,
            &[
                ("nr_loops", ANY),
                ("callback_fn", FUNC),
                ("callback_ctx", STACK_OR_NULL),
                ("flags", ANY),
            ],
            ALL,
        ),
    ),
    ("spin_lock", p(Void, &[("lock", SPIN_LOCK)], ALL)),
    ("spin_unlock", p(Void, &[("lock", SPIN_LOCK)], ALL)),
    // Checksums.
    (
        "csum_diff",
        p(
            INT,
            &[
                ("from", MEM_RO_OR_NULL),
                ("from_size", SIZE0),
                ("to", MEM_RO_OR_NULL),
                ("to_size", SIZE0),
                ("seed", ANY),
            ],
            TC | XDP,
        ),
    ),
    ("csum_update", p(INT, &[("skb", CTX), ("csum", ANY)], TC)),
    ("csum_level", p(INT, &[("skb", CTX), ("level", ANY)], TC)),
    (
        "l3_csum_replace",
        p(
            INT,
            &[
                ("skb", CTX),
                ("offset", ANY),
                ("from", ANY),
                ("to", ANY),
                ("size", ANY),
            ],
            TC,
        )
        .pkt(),
    ),
    (
        "l4_csum_replace",
        p(
            INT,
            &[
                ("skb", CTX),
                ("offset", ANY),
                ("from", ANY),
                ("to", ANY),
                ("flags", ANY),
            ],
            TC,
        )
        .pkt(),
    ),
    // Socket buffers.
    (
        "skb_load_bytes",
        p(
            INT,
            &[
                ("skb", CTX),
                ("offset", ANY),
                ("to", MEM_OUT),
                ("len", SIZE),
            ],
            SKB | TC,
        ),
    ),
    (
        "skb_load_bytes_relative",
        p(
            INT,
            &[
                ("skb", CTX),
                ("offset", ANY),
                ("to", MEM_OUT),
                ("len", SIZE),
                ("start_header", ANY),
            ],
            SKB | TC,
        ),
    ),
    (
        "skb_store_bytes",
        p(
            INT,
            &[
                ("skb", CTX),
                ("offset", ANY),
                ("from", MEM_RO),
                ("len", SIZE),
                ("flags", ANY),
            ],
            TC,
        )
        .pkt(),
    ),
    (
        "skb_pull_data",
        p(INT, &[("skb", CTX), ("len", ANY)], TC).pkt(),
    ),
    ("get_socket_cookie", p(INT, &[("skb", CTX)], SKB | TC)),
    ("get_socket_uid", p(INT, &[("skb", CTX)], SKB | TC)),
    ("get_hash_recalc", p(INT, &[("skb", CTX)], TC)),
    ("set_hash_invalid", p(Void, &[("skb", CTX)], TC)),
    ("set_hash", p(INT, &[("skb", CTX), ("hash", ANY)], TC)),
    ("get_cgroup_classid", p(INT, &[("skb", CTX)], ALL)),
    ("get_route_realm", p(INT, &[("skb", CTX)], TC)),
    (
        "skb_change_tail",
        p(INT, &[("skb", CTX), ("len", ANY), ("flags", ANY)], TC).pkt(),
    ),
    (
        "skb_change_head",
        p(INT, &[("skb", CTX), ("len", ANY), ("flags", ANY)], TC).pkt(),
    ),
    (
        "skb_vlan_push",
        p(
            INT,
            &[("skb", CTX), ("vlan_proto", ANY), ("vlan_tci", ANY)],
            TC,
        )
        .pkt(),
    ),
    ("skb_vlan_pop", p(INT, &[("skb", CTX)], TC).pkt()),
    (
        "redirect",
        p(INT, &[("ifindex", ANY), ("flags", ANY)], TC | XDP),
    ),
    (
        "redirect_map",
        p(INT, &[("map", MAP), ("key", ANY), ("flags", ANY)], XDP),
    ),
    // XDP.
    (
        "xdp_adjust_head",
        p(INT, &[("xdp_md", CTX), ("delta", ANY)], XDP).pkt(),
    ),
    (
        "xdp_adjust_tail",
        p(INT, &[("xdp_md", CTX), ("delta", ANY)], XDP).pkt(),
    ),
    (
        "xdp_adjust_meta",
        p(INT, &[("xdp_md", CTX), ("delta", ANY)], XDP).pkt(),
    ),
    ("xdp_get_buff_len", p(INT, &[("xdp_md", CTX)], XDP)),
    (
        "xdp_load_bytes",
        p(
            INT,
            &[
                ("xdp_md", CTX),
                ("offset", ANY),
                ("buf", MEM_OUT),
                ("len", SIZE),
            ],
            XDP,
        ),
    ),
    (
        "xdp_store_bytes",
        p(
            INT,
            &[
                ("xdp_md", CTX),
                ("offset", ANY),
                ("buf", MEM_RO),
                ("len", SIZE),
            ],
            XDP,
        ),
    ),
    // Tracing programs' context.
    ("get_func_ip", p(INT, &[("ctx", CTX)], TRACING)),
    ("get_attach_cookie", p(INT, &[("ctx", CTX)], TRACING)),
];

/// The prototype of the helper with that name (without `bpf_`).
pub fn proto_by_name(name: &str) -> Option<&'static Proto> {
    let name = name.strip_prefix("bpf_").unwrap_or(name);
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
        assert_eq!(
            proto_by_name("map_update_elem")
                .unwrap()
                .signature("bpf_map_update_elem"),
            "long bpf_map_update_elem(map: ARG_CONST_MAP_PTR, key: ARG_PTR_TO_MAP_KEY, value: ARG_PTR_TO_MAP_VALUE, flags: ARG_ANYTHING)"
        );
        assert_eq!(
            p.signature("bpf_map_lookup_elem"),
            "void *bpf_map_lookup_elem(map: ARG_CONST_MAP_PTR, key: ARG_PTR_TO_MAP_KEY)"
        );
        assert_eq!(
            proto_by_name("ktime_get_ns")
                .unwrap()
                .signature("bpf_ktime_get_ns"),
            "long bpf_ktime_get_ns(void)"
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

    #[test]
    fn families_of_program_types() {
        assert_eq!(progs::of_prog_type(6), progs::XDP);
        assert_eq!(progs::of_prog_type(3), progs::TC);
        assert_eq!(progs::of_prog_type(0), 0);
        assert_eq!(progs::names(progs::TC | progs::XDP), "tc,xdp");
        assert_eq!(progs::names(progs::ALL), "all");
    }
}
