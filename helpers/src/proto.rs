//! Helper prototypes, as the kernel's `struct bpf_func_proto`: the return
//! type, the five argument types with their flags, GPL-only, `pkt_access`,
//! `might_sleep`, `allow_fastcall`, the BTF types of pointer arguments and
//! results, and (for helpers an embedder adds) the program families that
//! may call it. The kernel's own helpers and which program type gets which
//! prototype are in [`crate::catalog`]; the verifier checks calls against
//! them; the runtime's implementations sit beside them in the helper
//! table, so the two cannot disagree.

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
    /// `ARG_PTR_TO_RINGBUF_MEM` (`ARG_PTR_TO_MEM | MEM_RINGBUF`): a record
    /// from `bpf_ringbuf_reserve`.
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
    /// `ARG_PTR_TO_BTF_ID_SOCK_COMMON`: a BTF pointer to any socket kind.
    PtrToBtfIdSockCommon,
    /// `ARG_PTR_TO_PERCPU_BTF_ID` (`ARG_PTR_TO_BTF_ID | MEM_PERCPU`): a
    /// per-CPU kernel variable.
    PtrToPercpuBtfId,
    /// `ARG_PTR_TO_SOCK_COMMON`.
    PtrToSockCommon,
    /// `ARG_PTR_TO_SOCKET`: a full socket from a lookup.
    PtrToSocket,
    /// `ARG_PTR_TO_SPIN_LOCK`.
    PtrToSpinLock,
    /// `ARG_PTR_TO_TIMER`.
    PtrToTimer,
    /// `ARG_PTR_TO_DYNPTR`.
    PtrToDynptr,
    /// `ARG_KPTR_XCHG_DEST`: a kptr field of a map value (or allocated object).
    KptrXchgDest,
}

impl ArgBase {
    /// The kernel's name (`ARG_PTR_TO_MEM`).
    pub const fn kernel_name(self) -> &'static str {
        match self {
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
            ArgBase::PtrToBtfIdSockCommon => "ARG_PTR_TO_BTF_ID_SOCK_COMMON",
            ArgBase::PtrToPercpuBtfId => "ARG_PTR_TO_PERCPU_BTF_ID",
            ArgBase::PtrToSockCommon => "ARG_PTR_TO_SOCK_COMMON",
            ArgBase::PtrToSocket => "ARG_PTR_TO_SOCKET",
            ArgBase::PtrToSpinLock => "ARG_PTR_TO_SPIN_LOCK",
            ArgBase::PtrToTimer => "ARG_PTR_TO_TIMER",
            ArgBase::PtrToDynptr => "ARG_PTR_TO_DYNPTR",
            ArgBase::KptrXchgDest => "ARG_KPTR_XCHG_DEST",
        }
    }

    /// Whether the argument is a pointer to memory the helper reads or
    /// writes through (and so pairs with a size or is fixed-size).
    pub const fn is_mem(self) -> bool {
        matches!(self, ArgBase::PtrToMem)
    }
}

/// Type flags of arguments and results (the kernel's `enum bpf_type_flag`).
pub mod flags {
    /// `PTR_MAYBE_NULL`: NULL is accepted (`*_OR_NULL`); for a result, the
    /// program must test it against NULL.
    pub const MAYBE_NULL: u32 = 1 << 0;
    /// `MEM_RDONLY`: the memory is only read (a result: read-only memory).
    pub const RDONLY: u32 = 1 << 1;
    /// `MEM_RINGBUF`: memory of a ring buffer record.
    pub const RINGBUF: u32 = 1 << 2;
    /// `MEM_USER`: user memory.
    pub const USER: u32 = 1 << 3;
    /// `MEM_PERCPU`: a per-CPU pointer.
    pub const PERCPU: u32 = 1 << 4;
    /// `OBJ_RELEASE`: the argument is a reference the helper releases (a
    /// result: the helper hands over a reference).
    pub const RELEASE: u32 = 1 << 5;
    /// `PTR_UNTRUSTED`.
    pub const UNTRUSTED: u32 = 1 << 6;
    /// `MEM_UNINIT`: the memory need not be initialised (the helper fills it).
    pub const UNINIT: u32 = 1 << 7;
    /// `DYNPTR_TYPE_LOCAL`: a dynptr to the program's own memory.
    pub const DYNPTR_LOCAL: u32 = 1 << 8;
    /// `DYNPTR_TYPE_RINGBUF`: a dynptr to a ring buffer record.
    pub const DYNPTR_RINGBUF: u32 = 1 << 9;
    /// `MEM_FIXED_SIZE`: the size is fixed (`arg_size`), not the next argument.
    pub const FIXED_SIZE: u32 = 1 << 10;
    /// `MEM_ALLOC`: memory from the program's allocator.
    pub const ALLOC: u32 = 1 << 11;
    /// `PTR_TRUSTED`: a pointer the verifier trusts (a result of a helper
    /// that hands out valid kernel objects).
    pub const TRUSTED: u32 = 1 << 12;
    /// `MEM_RCU`.
    pub const RCU: u32 = 1 << 13;
    /// `MEM_WRITE`: the helper writes the memory.
    pub const WRITE: u32 = 1 << 14;
    /// `MEM_ALIGNED`: the memory must be aligned to its size.
    pub const ALIGNED: u32 = 1 << 15;

    /// Every flag with its kernel name, in the order the kernel declares them.
    pub const NAMES: &[(u32, &str)] = &[
        (MAYBE_NULL, "PTR_MAYBE_NULL"),
        (RDONLY, "MEM_RDONLY"),
        (RINGBUF, "MEM_RINGBUF"),
        (USER, "MEM_USER"),
        (PERCPU, "MEM_PERCPU"),
        (RELEASE, "OBJ_RELEASE"),
        (UNTRUSTED, "PTR_UNTRUSTED"),
        (UNINIT, "MEM_UNINIT"),
        (DYNPTR_LOCAL, "DYNPTR_TYPE_LOCAL"),
        (DYNPTR_RINGBUF, "DYNPTR_TYPE_RINGBUF"),
        (FIXED_SIZE, "MEM_FIXED_SIZE"),
        (ALLOC, "MEM_ALLOC"),
        (TRUSTED, "PTR_TRUSTED"),
        (RCU, "MEM_RCU"),
        (WRITE, "MEM_WRITE"),
        (ALIGNED, "MEM_ALIGNED"),
    ];
}

/// An argument type: its base and flags; `size` for `MEM_FIXED_SIZE`;
/// `btf` names the BTF type (`struct task_struct` is `"task_struct"`) of
/// an `ARG_PTR_TO_BTF_ID` argument (the kernel's `arg_btf_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArgType {
    /// The base type.
    pub base: ArgBase,
    /// [`flags`] bits.
    pub flags: u32,
    /// The size in bytes of a `MEM_FIXED_SIZE` argument (`arg_size`).
    pub size: u32,
    /// The BTF type of a BTF pointer argument (`arg_btf_id`).
    pub btf: Option<&'static str>,
}

impl ArgType {
    /// An argument type with no size and no BTF type.
    pub const fn new(base: ArgBase, flags: u32) -> Self {
        ArgType {
            base,
            flags,
            size: 0,
            btf: None,
        }
    }

    /// This type with more flags.
    pub const fn with(self, more: u32) -> Self {
        ArgType {
            flags: self.flags | more,
            ..self
        }
    }

    /// This type pointing at the BTF type `name`.
    pub const fn btf(self, name: &'static str) -> Self {
        ArgType {
            btf: Some(name),
            ..self
        }
    }

    /// Whether a flag is set.
    pub const fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.kernel_name())?;
        for &(flag, name) in flags::NAMES {
            if self.has(flag) {
                write!(f, " | {name}")?;
            }
        }
        if self.has(flags::FIXED_SIZE) {
            write!(f, " ({} bytes)", self.size)?;
        }
        if let Some(b) = self.btf {
            write!(f, " <{b}>")?;
        }
        Ok(())
    }
}

/// The base of a helper's return type (`enum bpf_return_type`); its flags
/// are [`Proto::ret_flags`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetType {
    /// `RET_INTEGER`: a scalar.
    Integer,
    /// `RET_VOID`: nothing (r0 is unreadable afterwards).
    Void,
    /// `RET_PTR_TO_MAP_VALUE`: a value of the map in argument 1.
    PtrToMapValue,
    /// `RET_PTR_TO_SOCKET`.
    PtrToSocket,
    /// `RET_PTR_TO_TCP_SOCK`.
    PtrToTcpSock,
    /// `RET_PTR_TO_SOCK_COMMON`.
    PtrToSockCommon,
    /// `RET_PTR_TO_MEM`: memory of a size the verifier knows (with
    /// `MEM_RINGBUF`, a ring buffer record of the size in argument 2; with
    /// `MEM_ALLOC`, a dynptr's data).
    PtrToMem,
    /// `RET_PTR_TO_MEM_OR_BTF_ID`: a per-CPU kernel variable.
    PtrToMemOrBtfId,
    /// `RET_PTR_TO_BTF_ID`: a kernel object of the BTF type `ret_btf_id`.
    PtrToBtfId,
}

impl RetType {
    /// The kernel's name of the base (`RET_PTR_TO_MAP_VALUE`).
    pub const fn kernel_name(self) -> &'static str {
        match self {
            RetType::Integer => "RET_INTEGER",
            RetType::Void => "RET_VOID",
            RetType::PtrToMapValue => "RET_PTR_TO_MAP_VALUE",
            RetType::PtrToSocket => "RET_PTR_TO_SOCKET",
            RetType::PtrToTcpSock => "RET_PTR_TO_TCP_SOCK",
            RetType::PtrToSockCommon => "RET_PTR_TO_SOCK_COMMON",
            RetType::PtrToMem => "RET_PTR_TO_MEM",
            RetType::PtrToMemOrBtfId => "RET_PTR_TO_MEM_OR_BTF_ID",
            RetType::PtrToBtfId => "RET_PTR_TO_BTF_ID",
        }
    }
}

/// Families of program types for the helpers an embedder adds
/// ([`Proto::prog_types`]); the kernel's own helpers are offered per
/// program type by [`crate::catalog::func_proto`].
pub mod progs {
    use ironbpf_progtype::ProgTypeId;

    /// Every program type.
    pub const ALL: u32 = u32::MAX;
    /// kprobe, tracepoint, perf_event, raw_tracepoint(_writable), tracing.
    pub const TRACING: u32 = 1 << 0;
    /// socket_filter: `__sk_buff` programs that only read.
    pub const SOCKET_FILTER: u32 = 1 << 1;
    /// sched_cls and sched_act (tc): `__sk_buff` with write access.
    pub const TC: u32 = 1 << 2;
    /// xdp.
    pub const XDP: u32 = 1 << 3;
    /// cgroup_skb.
    pub const CGROUP_SKB: u32 = 1 << 4;
    /// Every other program type.
    pub const OTHER: u32 = 1 << 5;
    /// `__sk_buff` programs that only read: socket filters and cgroup skb.
    pub const SKB: u32 = SOCKET_FILTER | CGROUP_SKB;
    /// Networking programs of every kind.
    pub const NET: u32 = SKB | TC | XDP;

    /// The family of a program type.
    pub const fn of(prog_type: ProgTypeId) -> u32 {
        use ProgTypeId as P;
        match prog_type {
            P::SocketFilter => SOCKET_FILTER,
            P::SchedCls | P::SchedAct => TC,
            P::Xdp => XDP,
            P::CgroupSkb => CGROUP_SKB,
            P::Kprobe
            | P::Tracepoint
            | P::PerfEvent
            | P::RawTracepoint
            | P::RawTracepointWritable
            | P::Tracing => TRACING,
            _ => OTHER,
        }
    }

    /// The family of a kernel program type number; 0 for a number the
    /// kernel does not have.
    pub const fn of_prog_type(prog_type: u32) -> u32 {
        match ProgTypeId::from_kernel_id(prog_type) {
            Some(p) => of(p),
            None => 0,
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
            (OTHER, "other"),
        ] {
            if mask & bit != 0 {
                v.push(name);
            }
        }
        v.join(",")
    }
}

/// A prototype: what the verifier checks of a call (`struct bpf_func_proto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proto {
    /// The return type's base.
    pub ret: RetType,
    /// The return type's [`flags`].
    pub ret_flags: u32,
    /// The BTF type of a `RET_PTR_TO_BTF_ID` result (`ret_btf_id`).
    pub ret_btf_id: Option<&'static str>,
    /// The argument types (`arg1_type`..`arg5_type`, with `arg_btf_id` and
    /// `arg_size`).
    pub args: [ArgType; 5],
    /// The arguments' names, as the uapi documentation names them.
    pub arg_names: [&'static str; 5],
    /// Only GPL-compatible programs may call it (`gpl_only`).
    pub gpl_only: bool,
    /// It may be given packet pointers as memory (`pkt_access`).
    pub pkt_access: bool,
    /// It may sleep: only sleepable programs may call it (`might_sleep`).
    pub might_sleep: bool,
    /// The JIT may inline it without spilling caller-saved registers
    /// (`allow_fastcall`).
    pub allow_fastcall: bool,
    /// It may change packet data pointers (`bpf_helper_changes_pkt_data`):
    /// the verifier invalidates packet pointers after the call.
    pub changes_pkt_data: bool,
    /// The kernel's name of this prototype (`bpf_get_cgroup_classid_curr_proto`
    /// is `"get_cgroup_classid_curr"`), where a helper has several.
    pub variant: &'static str,
    /// For a helper an embedder adds: the program families that may call it
    /// ([`progs`]). The kernel's helpers are offered per program type by
    /// [`crate::catalog::func_proto`] and carry [`progs::ALL`] here.
    pub prog_types: u32,
}

impl Proto {
    /// A prototype from named arguments (at most five), callable by the
    /// program families `prog_types`.
    #[allow(
        clippy::indexing_slicing,
        reason = "a const fn cannot use iterators; i < 5 and i < args.len() hold at each index"
    )]
    pub const fn new(ret: RetType, args: &[(&'static str, ArgType)], prog_types: u32) -> Proto {
        let mut a = [args::X; 5];
        let mut n = [""; 5];
        let mut i = 0;
        while i < args.len() && i < 5 {
            a[i] = args[i].1;
            n[i] = args[i].0;
            i += 1;
        }
        Proto {
            ret,
            ret_flags: 0,
            ret_btf_id: None,
            args: a,
            arg_names: n,
            gpl_only: false,
            pkt_access: false,
            might_sleep: false,
            allow_fastcall: false,
            changes_pkt_data: false,
            variant: "",
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

    /// It accepts packet pointers as memory (`pkt_access`).
    pub const fn pkt_access(self) -> Proto {
        Proto {
            pkt_access: true,
            ..self
        }
    }

    /// It may sleep (`might_sleep`).
    pub const fn sleeps(self) -> Proto {
        Proto {
            might_sleep: true,
            ..self
        }
    }

    /// `allow_fastcall`.
    pub const fn fastcall(self) -> Proto {
        Proto {
            allow_fastcall: true,
            ..self
        }
    }

    /// The result carries these [`flags`].
    pub const fn ret_with(self, more: u32) -> Proto {
        Proto {
            ret_flags: self.ret_flags | more,
            ..self
        }
    }

    /// The result points at the BTF type `name`.
    pub const fn ret_btf(self, name: &'static str) -> Proto {
        Proto {
            ret_btf_id: Some(name),
            ..self
        }
    }

    /// This prototype's kernel name (without `bpf_` and `_proto`).
    pub const fn named(self, variant: &'static str) -> Proto {
        Proto { variant, ..self }
    }

    /// The argument (0-based) whose constant value is the size of the
    /// memory the helper returns (`ARG_CONST_ALLOC_SIZE_OR_ZERO`, the
    /// verifier's `meta.mem_size`): `bpf_ringbuf_reserve`'s size,
    /// `bpf_dynptr_data`'s len. Other results' sizes come from the map
    /// (`RET_PTR_TO_MAP_VALUE`: its value size) or from BTF
    /// (`ret_btf_id`, `RET_PTR_TO_MEM_OR_BTF_ID`).
    pub fn ret_size_arg(&self) -> Option<usize> {
        self.args
            .iter()
            .position(|a| a.base == ArgBase::ConstAllocSizeOrZero)
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

    /// The return type in the kernel's terms, with its flags:
    /// `RET_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL`.
    pub fn ret_string(&self) -> String {
        let mut s = self.ret.kernel_name().to_string();
        for &(flag, name) in flags::NAMES {
            if self.ret_flags & flag != 0 {
                s.push_str(" | ");
                s.push_str(name);
            }
        }
        if let Some(b) = self.ret_btf_id {
            s.push_str(&format!(" <{b}>"));
        }
        s
    }

    /// The prototype in the kernel's C style, with the verifier's argument
    /// types: `long bpf_map_update_elem(map: ARG_CONST_MAP_PTR, ...)`.
    pub fn signature(&self, name: &str) -> String {
        let args: Vec<String> = self
            .arg_names
            .iter()
            .zip(self.args.iter())
            .take(self.arg_count())
            .map(|(n, a)| format!("{n}: {a}"))
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
    /// `RET_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL (ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.ret_string())?;
        for (i, a) in self.args.iter().take(self.arg_count()).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

/// Argument types by their kernel names (the composites of
/// include/linux/bpf.h), for prototypes written in and outside this crate.
pub mod args {
    use super::flags::*;
    use super::{ArgBase as B, ArgType};
    const fn t(base: B, flags: u32) -> ArgType {
        ArgType::new(base, flags)
    }
    /// `ARG_DONTCARE`.
    pub const X: ArgType = t(B::DontCare, 0);
    /// `ARG_ANYTHING`.
    pub const ANY: ArgType = t(B::Anything, 0);
    /// `ARG_CONST_MAP_PTR`.
    pub const MAP: ArgType = t(B::ConstMapPtr, 0);
    /// `ARG_PTR_TO_MAP_KEY`.
    pub const KEY: ArgType = t(B::PtrToMapKey, 0);
    /// `ARG_PTR_TO_MAP_VALUE`.
    pub const VALUE: ArgType = t(B::PtrToMapValue, 0);
    /// `ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE`.
    pub const VALUE_OUT: ArgType = t(B::PtrToMapValue, UNINIT | WRITE);
    /// `ARG_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL`.
    pub const VALUE_OR_NULL: ArgType = t(B::PtrToMapValue, MAYBE_NULL);
    /// `ARG_PTR_TO_CTX`.
    pub const CTX: ArgType = t(B::PtrToCtx, 0);
    /// `ARG_PTR_TO_CTX_OR_NULL`.
    pub const CTX_OR_NULL: ArgType = t(B::PtrToCtx, MAYBE_NULL);
    /// `ARG_PTR_TO_MEM`: memory the helper reads and may write.
    pub const MEM: ArgType = t(B::PtrToMem, 0);
    /// `ARG_PTR_TO_MEM | MEM_WRITE`: initialised memory the helper writes.
    pub const MEM_RW: ArgType = t(B::PtrToMem, WRITE);
    /// `ARG_PTR_TO_MEM | MEM_RDONLY`.
    pub const MEM_RO: ArgType = t(B::PtrToMem, RDONLY);
    /// `ARG_PTR_TO_MEM | MEM_RDONLY | PTR_MAYBE_NULL`.
    pub const MEM_RO_OR_NULL: ArgType = t(B::PtrToMem, RDONLY | MAYBE_NULL);
    /// `ARG_PTR_TO_UNINIT_MEM` (`ARG_PTR_TO_MEM | MEM_UNINIT | MEM_WRITE`).
    pub const MEM_OUT: ArgType = t(B::PtrToMem, UNINIT | WRITE);
    /// `ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_UNINIT | MEM_WRITE`.
    pub const MEM_OUT_OR_NULL: ArgType = t(B::PtrToMem, UNINIT | WRITE | MAYBE_NULL);
    /// `ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_WRITE`.
    pub const MEM_RW_OR_NULL: ArgType = t(B::PtrToMem, WRITE | MAYBE_NULL);
    /// `ARG_CONST_SIZE`.
    pub const SIZE: ArgType = t(B::ConstSize, 0);
    /// `ARG_CONST_SIZE_OR_ZERO`.
    pub const SIZE0: ArgType = t(B::ConstSizeOrZero, 0);
    /// `ARG_CONST_ALLOC_SIZE_OR_ZERO`.
    pub const ALLOC_SIZE0: ArgType = t(B::ConstAllocSizeOrZero, 0);
    /// `ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`.
    pub const RINGBUF_MEM: ArgType = t(B::PtrToRingbufMem, RINGBUF | RELEASE);
    /// `ARG_PTR_TO_FUNC`.
    pub const FUNC: ArgType = t(B::PtrToFunc, 0);
    /// `ARG_PTR_TO_STACK_OR_NULL`.
    pub const STACK_OR_NULL: ArgType = t(B::PtrToStack, MAYBE_NULL);
    /// `ARG_PTR_TO_CONST_STR`.
    pub const CONST_STR: ArgType = t(B::PtrToConstStr, 0);
    /// `ARG_PTR_TO_SPIN_LOCK`.
    pub const SPIN_LOCK: ArgType = t(B::PtrToSpinLock, 0);
    /// `ARG_PTR_TO_TIMER`.
    pub const TIMER: ArgType = t(B::PtrToTimer, 0);
    /// `ARG_PTR_TO_SOCK_COMMON`.
    pub const SOCK_COMMON: ArgType = t(B::PtrToSockCommon, 0);
    /// `ARG_PTR_TO_SOCKET`.
    pub const SOCKET: ArgType = t(B::PtrToSocket, 0);
    /// `ARG_PTR_TO_SOCKET_OR_NULL`.
    pub const SOCKET_OR_NULL: ArgType = t(B::PtrToSocket, MAYBE_NULL);
    /// `ARG_PTR_TO_BTF_ID_SOCK_COMMON`.
    pub const BTF_SOCK_COMMON: ArgType = t(B::PtrToBtfIdSockCommon, 0);
    /// `ARG_PTR_TO_BTF_ID_SOCK_COMMON | PTR_MAYBE_NULL`.
    pub const BTF_SOCK_COMMON_OR_NULL: ArgType = t(B::PtrToBtfIdSockCommon, MAYBE_NULL);
    /// `ARG_PTR_TO_BTF_ID` (name the type with [`ArgType::btf`]).
    pub const BTF: ArgType = t(B::PtrToBtfId, 0);
    /// `ARG_PTR_TO_BTF_ID_OR_NULL`.
    pub const BTF_OR_NULL: ArgType = t(B::PtrToBtfId, MAYBE_NULL);
    /// `ARG_PTR_TO_PERCPU_BTF_ID`.
    pub const PERCPU_BTF: ArgType = t(B::PtrToPercpuBtfId, PERCPU);
    /// `ARG_KPTR_XCHG_DEST`.
    pub const KPTR_DEST: ArgType = t(B::KptrXchgDest, 0);
    /// `ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_LOCAL | MEM_UNINIT`.
    pub const DYNPTR_LOCAL_OUT: ArgType = t(B::PtrToDynptr, DYNPTR_LOCAL | UNINIT);
    /// `ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | MEM_UNINIT`.
    pub const DYNPTR_RINGBUF_OUT: ArgType = t(B::PtrToDynptr, DYNPTR_RINGBUF | UNINIT);
    /// `ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | OBJ_RELEASE`.
    pub const DYNPTR_RINGBUF_RELEASE: ArgType = t(B::PtrToDynptr, DYNPTR_RINGBUF | RELEASE);
    /// `ARG_PTR_TO_DYNPTR | MEM_RDONLY`: an initialised dynptr of any kind.
    pub const DYNPTR_RO: ArgType = t(B::PtrToDynptr, RDONLY);
    /// `ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED`, 8 bytes.
    pub const LONG_OUT: ArgType = ArgType {
        base: B::PtrToMem,
        flags: UNINIT | WRITE | FIXED_SIZE | ALIGNED,
        size: 8,
        btf: None,
    };
    /// `ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED` of
    /// `size` bytes.
    pub const fn fixed_out(size: u32) -> ArgType {
        ArgType { size, ..LONG_OUT }
    }
}
