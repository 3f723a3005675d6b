//! The helper prototypes against the kernel's verifier.
//!
//! Each probe is a tiny program, generated from what
//! [`ironbpf_helpers::catalog`] predicts, loaded into the running kernel
//! with [`ironbpf_kernel::load_program`]; the verifier's verdict (its log's
//! message) is compared with the prediction. Groups:
//!
//! - **availability**: every helper id from 1 to one past the last, from
//!   every loadable program type and the attach types that change its set:
//!   offered, or refused with `program of this type cannot use helper` /
//!   `invalid func`. The call's arguments are built from the prototype
//!   (a map of a compatible type, stack buffers of the right size, the
//!   ctx, a callback...) where ironbpf can build them;
//! - **templates**: those calls with valid arguments are accepted (a wrong
//!   prototype shows up as a refused template);
//! - **arguments**: for every argument of every helper whose template the
//!   kernel accepts, the argument replaced by each of: scalar 0, a non-zero
//!   constant, the ctx, an initialised stack buffer of the right size, an
//!   uninitialised one, one a byte short, a map pointer, a map value, a
//!   packet pointer; the prototype predicts accept or refuse;
//! - **gpl**: every helper from a program whose licence is not GPL;
//! - **sleep/allowed**: every offered helper is refused with `helper call
//!   might sleep in a non-sleepable prog` or `helper call is not allowed
//!   in probe` exactly where predicted;
//! - **privilege**: the socket filter and cgroup skb helper sets loaded by
//!   a thread without `CAP_BPF`/`CAP_PERFMON`/`CAP_SYS_ADMIN` and by one
//!   with `CAP_BPF` only;
//! - **maps**: every map-taking helper with every map type the kernel
//!   creates without BTF (`check_map_func_compatibility`).
//!
//! [`run`] returns per-group counts and every disagreement, with the
//! program type, helper, argument and the kernel's message.

use ironbpf_helpers::catalog::{self, func_proto, Privilege, ProtoEnv, ProtoRefusal};
use ironbpf_helpers::map_compat::{self, MapType};
use ironbpf_helpers::proto::{flags, ArgBase, ArgType, Proto, RetType};
use ironbpf_isa::RawInsn;
use ironbpf_kernel::{load_program, KernelBtf, KernelMap, MapCreate, ProgLoad};
use ironbpf_progtype::{AttachType, ProgTypeId};
use std::collections::HashMap;
use std::fmt;

/// `BPF_F_SLEEPABLE`.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// `BPF_F_RDONLY_PROG`.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_NO_PREALLOC`.
const BPF_F_NO_PREALLOC: u32 = 1;
/// One past the last helper id of Linux 6.18.
pub const FIRST_INVALID_ID: u32 = 212;

/// A program type as the probes load it: the type, the attach type, the
/// BTF function or type it attaches to, and whether it is sleepable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeContext {
    /// A short name (`"sched_cls"`, `"cgroup_sock_addr/connect4"`, `"lsm.s"`).
    pub name: &'static str,
    /// The program type.
    pub prog_type: ProgTypeId,
    /// The expected attach type given to the kernel.
    pub attach: Option<AttachType>,
    /// The vmlinux BTF name it attaches to (a function, or a
    /// `btf_trace_*` typedef).
    pub attach_btf: Option<&'static str>,
    /// Loaded with `BPF_F_SLEEPABLE`.
    pub sleepable: bool,
}

const fn cx(name: &'static str, prog_type: ProgTypeId, attach: Option<AttachType>) -> ProbeContext {
    ProbeContext {
        name,
        prog_type,
        attach,
        attach_btf: None,
        sleepable: false,
    }
}

const fn cxb(
    name: &'static str,
    prog_type: ProgTypeId,
    attach: AttachType,
    btf: &'static str,
    sleepable: bool,
) -> ProbeContext {
    ProbeContext {
        name,
        prog_type,
        attach: Some(attach),
        attach_btf: Some(btf),
        sleepable,
    }
}

/// Every program type the kernel loads without a target program or a
/// struct_ops map, with the attach types that change its helpers.
/// (lirc_mode2 is missing: this kernel is built without it; struct_ops and
/// ext need a map or a program to attach to.)
pub const CONTEXTS: &[ProbeContext] = {
    use AttachType as A;
    use ProgTypeId as P;
    &[
        cx("socket_filter", P::SocketFilter, None),
        cx("kprobe", P::Kprobe, None),
        cx("kprobe/multi", P::Kprobe, Some(A::TraceKprobeMulti)),
        cx("kprobe/session", P::Kprobe, Some(A::TraceKprobeSession)),
        cx("kprobe/uprobe_multi", P::Kprobe, Some(A::TraceUprobeMulti)),
        cx("sched_cls", P::SchedCls, None),
        cx("sched_act", P::SchedAct, None),
        cx("tracepoint", P::Tracepoint, None),
        cx("xdp", P::Xdp, None),
        cx("xdp/devmap", P::Xdp, Some(A::XdpDevmap)),
        cx("perf_event", P::PerfEvent, None),
        cx("cgroup_skb", P::CgroupSkb, None),
        cx("cgroup_skb/egress", P::CgroupSkb, Some(A::CgroupInetEgress)),
        cx("cgroup_sock", P::CgroupSock, None),
        cx(
            "cgroup_sock/post_bind4",
            P::CgroupSock,
            Some(A::CgroupInet4PostBind),
        ),
        cx(
            "cgroup_sock/release",
            P::CgroupSock,
            Some(A::CgroupInetSockRelease),
        ),
        cx("lwt_in", P::LwtIn, None),
        cx("lwt_out", P::LwtOut, None),
        cx("lwt_xmit", P::LwtXmit, None),
        cx("sock_ops", P::SockOps, None),
        cx("sk_skb", P::SkSkb, None),
        cx("sk_skb/verdict", P::SkSkb, Some(A::SkSkbStreamVerdict)),
        cx("cgroup_device", P::CgroupDevice, Some(A::CgroupDevice)),
        cx("cgroup_device/0", P::CgroupDevice, None),
        cx("sk_msg", P::SkMsg, None),
        cx("raw_tracepoint", P::RawTracepoint, None),
        cx(
            "cgroup_sock_addr/bind4",
            P::CgroupSockAddr,
            Some(A::CgroupInet4Bind),
        ),
        cx(
            "cgroup_sock_addr/connect4",
            P::CgroupSockAddr,
            Some(A::CgroupInet4Connect),
        ),
        cx(
            "cgroup_sock_addr/connect6",
            P::CgroupSockAddr,
            Some(A::CgroupInet6Connect),
        ),
        cx(
            "cgroup_sock_addr/sendmsg4",
            P::CgroupSockAddr,
            Some(A::CgroupUdp4Sendmsg),
        ),
        cx(
            "cgroup_sock_addr/recvmsg4",
            P::CgroupSockAddr,
            Some(A::CgroupUdp4Recvmsg),
        ),
        cx(
            "cgroup_sock_addr/getpeername4",
            P::CgroupSockAddr,
            Some(A::CgroupInet4Getpeername),
        ),
        cx(
            "cgroup_sock_addr/getsockname6",
            P::CgroupSockAddr,
            Some(A::CgroupInet6Getsockname),
        ),
        cx(
            "cgroup_sock_addr/unix_connect",
            P::CgroupSockAddr,
            Some(A::CgroupUnixConnect),
        ),
        cx(
            "cgroup_sock_addr/unix_recvmsg",
            P::CgroupSockAddr,
            Some(A::CgroupUnixRecvmsg),
        ),
        cx("lwt_seg6local", P::LwtSeg6local, None),
        cx("sk_reuseport", P::SkReuseport, None),
        cx(
            "sk_reuseport/migrate",
            P::SkReuseport,
            Some(A::SkReuseportSelectOrMigrate),
        ),
        cx("flow_dissector", P::FlowDissector, None),
        cx("cgroup_sysctl", P::CgroupSysctl, Some(A::CgroupSysctl)),
        cx("raw_tracepoint_writable", P::RawTracepointWritable, None),
        cx(
            "cgroup_sockopt/get",
            P::CgroupSockopt,
            Some(A::CgroupGetsockopt),
        ),
        cx(
            "cgroup_sockopt/set",
            P::CgroupSockopt,
            Some(A::CgroupSetsockopt),
        ),
        cxb(
            "fentry",
            P::Tracing,
            A::TraceFentry,
            "bpf_fentry_test1",
            false,
        ),
        cxb(
            "fexit",
            P::Tracing,
            A::TraceFexit,
            "bpf_fentry_test1",
            false,
        ),
        cxb(
            "fmod_ret",
            P::Tracing,
            A::ModifyReturn,
            "bpf_modify_return_test",
            false,
        ),
        cxb(
            "tp_btf",
            P::Tracing,
            A::TraceRawTp,
            "btf_trace_sched_switch",
            false,
        ),
        cxb(
            "iter/task",
            P::Tracing,
            A::TraceIter,
            "bpf_iter_task",
            false,
        ),
        cxb("lsm", P::Lsm, A::LsmMac, "bpf_lsm_file_open", false),
        cxb("lsm.s", P::Lsm, A::LsmMac, "bpf_lsm_file_open", true),
        ProbeContext {
            name: "syscall",
            prog_type: P::Syscall,
            attach: None,
            attach_btf: None,
            sleepable: true,
        },
        cx("sk_lookup", P::SkLookup, Some(A::SkLookup)),
        cx("netfilter", P::Netfilter, Some(A::Netfilter)),
    ]
};

/// What to probe.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Only these contexts (by [`ProbeContext::name`]); all when empty.
    pub contexts: Vec<String>,
    /// Probe the argument kinds of every helper; otherwise of every
    /// `arg_stride`-th one (pinned, so a slice is the same every run).
    pub arg_stride: usize,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            contexts: Vec::new(),
            arg_stride: 1,
        }
    }
}

/// One probe whose verdict differs from the prototypes' prediction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// The group.
    pub group: &'static str,
    /// The context's name.
    pub context: String,
    /// `bpf_` and the helper's name (or `unknown#N`).
    pub helper: String,
    /// The argument under test (1-based) and the kind given, if any.
    pub arg: Option<String>,
    /// What the prototypes predicted.
    pub expected: String,
    /// The kernel's verdict: its first error line, or `accepted`.
    pub kernel: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {} {}", self.group, self.context, self.helper)?;
        if let Some(a) = &self.arg {
            write!(f, " {a}")?;
        }
        write!(
            f,
            ": predicted {}, the kernel: {}",
            self.expected, self.kernel
        )
    }
}

/// The counts of one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Probes whose verdict the prototypes predicted.
    pub agreed: usize,
    /// Probes whose verdict they did not.
    pub disagreed: usize,
    /// Calls ironbpf could not build or whose verdict says nothing about
    /// the question (refused earlier for another reason), with why.
    pub inconclusive: usize,
}

/// The result of [`run`].
#[derive(Clone, Debug, Default)]
pub struct ProbeReport {
    /// Counts per group, in the order the module's documentation lists them.
    pub groups: Vec<(&'static str, GroupCounts)>,
    /// Every disagreement.
    pub disagreements: Vec<Disagreement>,
    /// Why some probes were inconclusive: reason and count.
    pub inconclusive: Vec<(String, usize)>,
    /// Contexts the kernel would not load at all, with its error.
    pub unloadable: Vec<(String, String)>,
}

impl ProbeReport {
    /// All probes.
    pub fn total(&self) -> usize {
        self.groups
            .iter()
            .map(|(_, c)| c.agreed + c.disagreed + c.inconclusive)
            .sum()
    }

    fn group(&mut self, name: &'static str) -> &mut GroupCounts {
        if let Some(i) = self.groups.iter().position(|(n, _)| *n == name) {
            return &mut self.groups[i].1;
        }
        self.groups.push((name, GroupCounts::default()));
        &mut self.groups.last_mut().expect("just pushed").1
    }

    fn tally(&mut self, group: &'static str, agreed: bool, d: impl FnOnce() -> Disagreement) {
        let g = self.group(group);
        if agreed {
            g.agreed += 1;
        } else {
            g.disagreed += 1;
            self.disagreements.push(d());
        }
    }

    fn inconclusive(&mut self, group: &'static str, why: String) {
        self.group(group).inconclusive += 1;
        match self.inconclusive.iter_mut().find(|(w, _)| *w == why) {
            Some((_, n)) => *n += 1,
            None => self.inconclusive.push((why, 1)),
        }
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, c) in &self.groups {
            writeln!(
                f,
                "{name:<13} {:>6} agreed {:>4} disagreed {:>5} inconclusive",
                c.agreed, c.disagreed, c.inconclusive
            )?;
        }
        writeln!(f, "{} probes", self.total())?;
        for (why, n) in &self.inconclusive {
            writeln!(f, "  inconclusive x{n}: {why}")?;
        }
        for (c, why) in &self.unloadable {
            writeln!(f, "  not loadable: {c}: {why}")?;
        }
        for d in &self.disagreements {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

/// Why the probes could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// bpf(2) is not usable here.
    #[error("the kernel cannot be probed: {0}")]
    Unavailable(String),
    /// A map the probes need could not be created.
    #[error("cannot create a {map} map for the probes: {why}")]
    Map {
        /// The map type's name.
        map: &'static str,
        /// The kernel's error.
        why: String,
    },
}

// ---------------------------------------------------------------------
// Instructions.

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    RawInsn::new(code, dst, src, off, imm).to_u64()
}
fn mov_imm(dst: u8, imm: i32) -> u64 {
    ins(0xb7, dst, 0, 0, imm)
}
fn mov_reg(dst: u8, src: u8) -> u64 {
    ins(0xbf, dst, src, 0, 0)
}
fn add_imm(dst: u8, imm: i32) -> u64 {
    ins(0x07, dst, 0, 0, imm)
}
fn st_dw(dst: u8, off: i16, imm: i32) -> u64 {
    ins(0x7a, dst, 0, off, imm)
}
fn ldx_dw(dst: u8, src: u8, off: i16) -> u64 {
    ins(0x79, dst, src, off, 0)
}
fn ldx_w(dst: u8, src: u8, off: i16) -> u64 {
    ins(0x61, dst, src, off, 0)
}
fn call(id: i32) -> u64 {
    ins(0x85, 0, 0, 0, id)
}
fn exit() -> u64 {
    ins(0x95, 0, 0, 0, 0)
}
/// `ld_imm64 dst, imm` with a pseudo source (1 map fd, 2 map value, 4 func).
fn ld_imm64(dst: u8, src: u8, imm: i32, imm2: i32) -> [u64; 2] {
    [ins(0x18, dst, src, 0, imm), ins(0, 0, 0, 0, imm2)]
}

// ---------------------------------------------------------------------
// Maps.

/// The map types a sleepable program may use (`check_map_prog_compatibility`).
const SLEEPABLE_MAPS: &[MapType] = &[
    MapType::Hash,
    MapType::LruHash,
    MapType::Array,
    MapType::PercpuHash,
    MapType::PercpuArray,
    MapType::LruPercpuHash,
    MapType::ArrayOfMaps,
    MapType::HashOfMaps,
    MapType::Ringbuf,
    MapType::UserRingbuf,
    MapType::InodeStorage,
    MapType::SkStorage,
    MapType::TaskStorage,
    MapType::CgrpStorage,
    MapType::Queue,
    MapType::Stack,
    MapType::Arena,
];

/// Local storage maps: made with BTF (key `int`, value `struct sval`).
fn is_storage(t: MapType) -> bool {
    matches!(
        t,
        MapType::SkStorage | MapType::InodeStorage | MapType::TaskStorage | MapType::CgrpStorage
    )
}

/// The maps the probes use, created once, by map type.
struct Maps {
    by_type: HashMap<u32, KernelMap>,
    /// A frozen read-only array whose value is a format string.
    rodata: Option<KernelMap>,
    values: Option<KernelMap>,
    btf: Option<KernelBtf>,
    btf_maps: HashMap<u32, KernelMap>,
    failed: HashMap<u32, String>,
}

/// Key size, value size, max entries and flags the kernel accepts for a
/// map type without BTF; `None` for types that need BTF or an inner map.
fn map_shape(t: MapType) -> Option<(u32, u32, u32, u32)> {
    use MapType::*;
    Some(match t {
        Hash | LruHash | PercpuHash | LruPercpuHash => (4, 8, 4, 0),
        Array | PercpuArray => (4, 8, 4, 0),
        ProgArray | PerfEventArray | CgroupArray | Devmap | Cpumap | Xskmap | Sockmap
        | Sockhash | DevmapHash | ReuseportSockarray => (4, 4, 4, 0),
        StackTrace => (4, 8, 4, 0),
        LpmTrie => (8, 8, 4, BPF_F_NO_PREALLOC),
        CgroupStorage | PercpuCgroupStorage => (8, 8, 0, 0),
        Queue | Stack => (0, 8, 4, 0),
        BloomFilter => (0, 8, 4, 0),
        Ringbuf | UserRingbuf => (0, 0, 4096, 0),
        _ => return None,
    })
}

impl Maps {
    fn new() -> Maps {
        Maps {
            by_type: HashMap::new(),
            rodata: None,
            values: None,
            btf: None,
            btf_maps: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    fn get(&mut self, t: MapType) -> Result<&KernelMap, String> {
        let id = t.kernel_id();
        if let Some(why) = self.failed.get(&id) {
            return Err(why.clone());
        }
        if !self.by_type.contains_key(&id) {
            let Some((k, v, n, fl)) = map_shape(t) else {
                let why = format!("a {} map needs BTF", t.name());
                self.failed.insert(id, why.clone());
                return Err(why);
            };
            match KernelMap::create(&MapCreate {
                map_flags: fl,
                ..MapCreate::new(id, k, v, n)
            }) {
                Ok(m) => {
                    self.by_type.insert(id, m);
                }
                Err(e) => {
                    let why = format!("cannot create a {} map: {e}", t.name());
                    self.failed.insert(id, why.clone());
                    return Err(why);
                }
            }
        }
        Ok(&self.by_type[&id])
    }

    /// A map whose value has BTF: a hash of `struct locked` (a spin lock at
    /// 4, a timer at 8) for `MapType::Hash`, or a local storage of `struct
    /// sval`.
    fn btf_map(&mut self, t: MapType) -> Result<i32, String> {
        if let Some(m) = self.btf_maps.get(&t.kernel_id()) {
            return Ok(m.raw_fd());
        }
        let btf = self.btf()?;
        let spec = if t == MapType::Hash {
            MapCreate {
                btf_fd: Some(btf),
                btf_key_type_id: 1,
                btf_value_type_id: 8,
                ..MapCreate::new(t.kernel_id(), 4, 24, 4)
            }
        } else {
            MapCreate {
                btf_fd: Some(btf),
                btf_key_type_id: 1,
                btf_value_type_id: 9,
                map_flags: BPF_F_NO_PREALLOC,
                ..MapCreate::new(t.kernel_id(), 4, 4, 0)
            }
        };
        let m = KernelMap::create(&spec)
            .map_err(|e| format!("cannot create a {} map with BTF: {e}", t.name()))?;
        let fd = m.raw_fd();
        self.btf_maps.insert(t.kernel_id(), m);
        Ok(fd)
    }

    /// The BTF of a program with a main function (type 3) and one callback
    /// (type 4), both `static int f(void)`, and the map value types above.
    fn btf(&mut self) -> Result<i32, String> {
        if let Some(b) = &self.btf {
            return Ok(b.raw_fd());
        }
        let mut strings = vec![0u8];
        let mut name = |n: &str| -> u32 {
            let off = strings.len() as u32;
            strings.extend_from_slice(n.as_bytes());
            strings.push(0);
            off
        };
        let (int, main, cb, lock, val, u64_, timer, a, b) = (
            name("int"),
            name("main"),
            name("cb"),
            name("bpf_spin_lock"),
            name("val"),
            name("unsigned long long"),
            name("bpf_timer"),
            name("a"),
            name("b"),
        );
        let (locked, cnt, lock_m, timer_m, sval) = (
            name("locked"),
            name("cnt"),
            name("lock"),
            name("timer"),
            name("sval"),
        );
        let mut types = Vec::new();
        let mut t = |words: &[u32]| {
            for w in words {
                types.extend_from_slice(&w.to_le_bytes());
            }
        };
        t(&[int, 1 << 24, 4, (1 << 24) | 32]); // [1] INT int, signed, 32 bits
        t(&[0, 13 << 24, 1]); // [2] FUNC_PROTO int (void)
        t(&[main, 12 << 24, 2]); // [3] FUNC main, static
        t(&[cb, 12 << 24, 2]); // [4] FUNC cb, static
        t(&[lock, (4 << 24) | 1, 4, val, 1, 0]); // [5] struct bpf_spin_lock { int val; }
        t(&[u64_, 1 << 24, 8, 64]); // [6] INT unsigned long long
        t(&[timer, (4 << 24) | 2, 16, a, 6, 0, b, 6, 64]); // [7] struct bpf_timer
                                                           // [8] struct locked { int cnt; struct bpf_spin_lock lock; struct bpf_timer timer; }
        t(&[
            locked,
            (4 << 24) | 3,
            24,
            cnt,
            1,
            0,
            lock_m,
            5,
            32,
            timer_m,
            7,
            64,
        ]);
        t(&[sval, (4 << 24) | 1, 4, cnt, 1, 0]); // [9] struct sval { int cnt; }
        let strings = strings.as_slice();
        let mut blob = Vec::new();
        blob.extend_from_slice(&0xeb9fu16.to_le_bytes());
        blob.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            blob.extend_from_slice(&w.to_le_bytes());
        }
        blob.extend_from_slice(&types);
        blob.extend_from_slice(strings);
        let b = KernelBtf::load(&blob).map_err(|(e, line)| format!("BTF: {e}: {line}"))?;
        let fd = b.raw_fd();
        self.btf = Some(b);
        Ok(fd)
    }

    /// An array with one 64-byte value, whose value the argument probes
    /// hand to helpers.
    fn values(&mut self) -> Result<i32, String> {
        if let Some(m) = &self.values {
            return Ok(m.raw_fd());
        }
        let m = KernelMap::create(&MapCreate::new(MapType::Array.kernel_id(), 4, 64, 1))
            .map_err(|e| format!("cannot create an array map: {e}"))?;
        let fd = m.raw_fd();
        self.values = Some(m);
        Ok(fd)
    }

    fn rodata(&mut self) -> Result<i32, ProbeError> {
        if let Some(m) = &self.rodata {
            return Ok(m.raw_fd());
        }
        let err = |why: String| ProbeError::Map {
            map: "read-only array",
            why,
        };
        let mut value = [0u8; 64];
        value[..3].copy_from_slice(b"%d\0");
        let m = KernelMap::create(&MapCreate {
            map_flags: BPF_F_RDONLY_PROG,
            ..MapCreate::new(MapType::Array.kernel_id(), 4, 64, 1)
        })
        .map_err(|e| err(e.to_string()))?;
        m.update(&0u32.to_ne_bytes(), &value, 0)
            .map_err(|e| err(format!("update: errno {e}")))?;
        m.freeze().map_err(|e| err(format!("freeze: errno {e}")))?;
        let fd = m.raw_fd();
        self.rodata = Some(m);
        Ok(fd)
    }
}

// ---------------------------------------------------------------------
// BTF of vmlinux: the ids of the functions and typedefs the tracing
// contexts attach to.

/// The ids of named FUNC and TYPEDEF types in /sys/kernel/btf/vmlinux.
fn vmlinux_btf_ids(names: &[&str]) -> Result<HashMap<String, u32>, String> {
    let data = std::fs::read("/sys/kernel/btf/vmlinux").map_err(|e| e.to_string())?;
    let u32_at = |off: usize| -> Option<u32> {
        data.get(off..off + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if data.get(0..2) != Some(&[0x9f, 0xeb]) {
        return Err("vmlinux BTF is not little-endian BTF".into());
    }
    let hdr_len = u32_at(4).ok_or("short BTF header")? as usize;
    let type_off = u32_at(8).ok_or("short BTF header")? as usize;
    let type_len = u32_at(12).ok_or("short BTF header")? as usize;
    let str_off = u32_at(16).ok_or("short BTF header")? as usize;
    let types = hdr_len + type_off;
    let strs = hdr_len + str_off;
    let name_at = |off: u32| -> &[u8] {
        let start = strs + off as usize;
        let rest = data.get(start..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    };
    let mut out = HashMap::new();
    let mut pos = types;
    let mut id = 1u32;
    while pos + 12 <= types + type_len {
        let name_off = u32_at(pos).ok_or("truncated type")?;
        let info = u32_at(pos + 4).ok_or("truncated type")?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        // FUNC (12) and TYPEDEF (8).
        if kind == 12 || kind == 8 {
            let n = name_at(name_off);
            if let Some(want) = names.iter().find(|w| w.as_bytes() == n) {
                out.insert(want.to_string(), id);
            }
        }
        let extra = match kind {
            1 => 4,             // INT
            3 => 12,            // ARRAY
            4 | 5 => vlen * 12, // STRUCT, UNION
            6 => vlen * 8,      // ENUM
            13 => vlen * 8,     // FUNC_PROTO
            14 => 4,            // VAR
            15 => vlen * 12,    // DATASEC
            17 => 4,            // DECL_TAG
            19 => vlen * 12,    // ENUM64
            0 | 2 | 7..=12 | 16 | 18 => 0,
            k => return Err(format!("unknown BTF kind {k} at type {id}")),
        };
        pos += 12 + extra;
        id += 1;
    }
    Ok(out)
}

// ---------------------------------------------------------------------
// Building calls.

/// An argument of a call under test: how the register is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `rN = 0`.
    Zero,
    /// `rN = 8`, a non-zero constant.
    Const,
    /// `rN = ctx`.
    Ctx,
    /// A pointer to an initialised stack buffer of the right size.
    StackInit,
    /// A pointer to an uninitialised stack buffer of the right size.
    StackUninit,
    /// A pointer to an initialised stack buffer one byte short.
    StackShort,
    /// A map (`ld_imm64` of a hash map).
    MapPtr,
    /// A pointer to a value of an array map (after the lookup's NULL check).
    MapValue,
    /// A packet pointer (`skb->data` / `xdp->data`, bounds checked).
    Packet,
}

impl ArgKind {
    /// Every kind, in the order the probes try them.
    pub const ALL: [ArgKind; 9] = [
        ArgKind::Zero,
        ArgKind::Const,
        ArgKind::Ctx,
        ArgKind::StackInit,
        ArgKind::StackUninit,
        ArgKind::StackShort,
        ArgKind::MapPtr,
        ArgKind::MapValue,
        ArgKind::Packet,
    ];

    fn name(self) -> &'static str {
        match self {
            ArgKind::Zero => "scalar 0",
            ArgKind::Const => "scalar 8",
            ArgKind::Ctx => "ctx",
            ArgKind::StackInit => "initialised stack",
            ArgKind::StackUninit => "uninitialised stack",
            ArgKind::StackShort => "stack one byte short",
            ArgKind::MapPtr => "map",
            ArgKind::MapValue => "map value",
            ArgKind::Packet => "packet",
        }
    }
}

/// The size in bytes of the memory a pointer argument must cover, given
/// the map it goes with.
fn mem_size(p: &Proto, i: usize, key: u32, value: u32) -> Option<u32> {
    let a = p.args[i];
    match a.base {
        ArgBase::PtrToMapKey => Some(key),
        ArgBase::PtrToMapValue => Some(value),
        ArgBase::PtrToMem if a.has(flags::FIXED_SIZE) => Some(a.size),
        ArgBase::PtrToMem => Some(8),
        ArgBase::PtrToDynptr => Some(16),
        _ => None,
    }
}

/// Where `__sk_buff::data`/`data_end` (or `xdp_md`'s) are, for packet
/// pointers.
fn packet_fields(pt: ProgTypeId) -> Option<(i16, i16)> {
    use ProgTypeId as P;
    match pt {
        P::SchedCls
        | P::SchedAct
        | P::CgroupSkb
        | P::SkSkb
        | P::LwtIn
        | P::LwtOut
        | P::LwtXmit
        | P::LwtSeg6local => Some((76, 80)),
        P::Xdp => Some((0, 4)),
        _ => None,
    }
}

/// Where the context holds a socket pointer (`__sk_buff::sk`,
/// `bpf_sock_ops::sk`, `sk_msg_md::sk`, `bpf_sock_addr::sk`,
/// `bpf_sockopt::sk`, `bpf_sk_lookup::sk`).
fn sk_field(pt: ProgTypeId) -> Option<i16> {
    use ProgTypeId as P;
    match pt {
        P::SchedCls | P::SchedAct | P::CgroupSkb => Some(168),
        P::SockOps => Some(184),
        P::SkMsg => Some(72),
        P::CgroupSockAddr => Some(64),
        P::CgroupSockopt | P::SkLookup => Some(0),
        _ => None,
    }
}

/// A generated call.
struct Call {
    insns: Vec<u64>,
    fds: Vec<i32>,
    /// Maps made for this call alone (a prog_array binds to the first
    /// program type that uses it).
    _own: Vec<KernelMap>,
    /// The program's BTF (its fd) and func_info records, for calls with a
    /// callback.
    btf: Option<(i32, Vec<u8>)>,
}

/// Builds the program that calls `id` with arguments from `proto`, with
/// argument `test` (0-based) replaced by `kind`. `Err`: a reason the call
/// cannot be built.
fn build_call(
    ctx: &ProbeContext,
    id: u32,
    proto: &Proto,
    map_type: Option<MapType>,
    test: Option<(usize, ArgKind)>,
    maps: &mut Maps,
) -> Result<Call, String> {
    let mut pre: Vec<u64> = vec![mov_reg(6, 1)];
    // The value every exit returns: 1 where the type's return-code check
    // wants it.
    let ret = exit_value(ctx.prog_type);
    let mut set: Vec<u64> = Vec::new();
    let mut fds = Vec::new();
    let mut stack_top: i32 = 0; // bytes of stack used, below r10
    let mut needs_callback = false;
    let mut dynptr_at: Option<i16> = None;
    let mut local_dynptr: Option<i16> = None;
    let mut need_locked_lookup = false;
    let mut need_value_lookup = false;
    let mut need_packet = false;
    let n = proto.arg_count();
    // The map this call goes with.
    let wants_map = proto
        .args
        .iter()
        .take(n)
        .any(|a| a.base == ArgBase::ConstMapPtr)
        || test.is_some_and(|(_, k)| k == ArgKind::MapPtr);
    let helper_name = catalog::helper(id).map_or("", |d| d.name);
    let chosen = match map_type {
        Some(t) => Some(t),
        None if wants_map => Some(match map_compat::maps_of_helper(helper_name) {
            Some(m) => m
                .iter()
                .copied()
                .find(|t| map_shape(*t).is_some() || is_storage(*t))
                .ok_or_else(|| format!("a {} map (it needs BTF)", m[0].name()))?,
            None => MapType::Hash,
        }),
        None => None,
    };
    // Timers and spin locks live in a map value with BTF, which tracing
    // and socket filter programs may not use (check_map_prog_compatibility).
    let locked = proto
        .args
        .iter()
        .take(n)
        .any(|a| matches!(a.base, ArgBase::PtrToTimer | ArgBase::PtrToSpinLock));
    if locked {
        use ProgTypeId as P;
        if matches!(
            ctx.prog_type,
            P::Kprobe
                | P::Tracepoint
                | P::PerfEvent
                | P::RawTracepoint
                | P::RawTracepointWritable
                | P::SocketFilter
        ) {
            return Err(format!(
                "a map with a spin lock or timer in a {} program",
                ctx.prog_type
            ));
        }
    }
    if ctx.sleepable {
        if let Some(t) = chosen {
            if !SLEEPABLE_MAPS.contains(&t) {
                return Err(format!("a {} map in a sleepable program", t.name()));
            }
        }
    }
    let (key_size, value_size) = match chosen.and_then(map_shape) {
        Some((k, v, _, _)) => (k, v),
        None => (4, 8),
    };
    let mut map_fd = None;
    let mut own = Vec::new();
    if let Some(t) = chosen {
        if t == MapType::ProgArray {
            let (k, v, n, _) = map_shape(t).ok_or("no prog_array shape")?;
            let m = KernelMap::create(&MapCreate::new(t.kernel_id(), k, v, n))
                .map_err(|e| format!("cannot create a prog_array map: {e}"))?;
            map_fd = Some(m.raw_fd());
            own.push(m);
        } else if is_storage(t) || (locked && t == MapType::Hash) {
            map_fd = Some(maps.btf_map(t)?);
        } else {
            map_fd = Some(maps.get(t)?.raw_fd());
        }
    }
    let (key_size, value_size) = match chosen {
        Some(t) if is_storage(t) => (4, 4),
        Some(MapType::Hash) if locked => (4, 24),
        _ => (key_size, value_size),
    };
    // A buffer one byte short sits at the very top of the stack, so that
    // the helper's access runs past the frame, not into another buffer.
    let mut short_at = None;
    if let Some((t, ArgKind::StackShort)) = test {
        let size = mem_size(proto, t, key_size, value_size).unwrap_or(8);
        let sz = size.saturating_sub(1).max(1);
        stack_top = ((sz + 7) & !7) as i32;
        short_at = Some(-(sz as i32));
        for w in 0..stack_top / 8 {
            pre.push(st_dw(10, (-(stack_top) + w * 8) as i16, 0));
        }
    }
    let mut alloc = |size: u32| -> i16 {
        let size = (size.max(1) as i32 + 7) & !7;
        stack_top += size;
        -(stack_top as i16)
    };
    let init_stack = |off: i16, size: u32, out: &mut Vec<u64>| {
        let words = (size.max(1) as i16 + 7) / 8;
        for w in 0..words {
            out.push(st_dw(10, off + w * 8, 0));
        }
    };
    for i in 0..n {
        let r = (i + 1) as u8;
        let a = proto.args[i];
        if let Some((t, kind)) = test {
            if t == i {
                let size = mem_size(proto, i, key_size, value_size).unwrap_or(8);
                match kind {
                    ArgKind::Zero => set.push(mov_imm(r, 0)),
                    ArgKind::Const => set.push(mov_imm(r, 8)),
                    ArgKind::Ctx => set.push(mov_reg(r, 6)),
                    ArgKind::StackShort => {
                        set.push(mov_reg(r, 10));
                        set.push(add_imm(r, short_at.unwrap_or(-1)));
                    }
                    ArgKind::StackInit | ArgKind::StackUninit => {
                        let padded = (size.max(1) + 7) & !7;
                        let off = alloc(padded);
                        if kind != ArgKind::StackUninit {
                            init_stack(off, padded, &mut pre);
                        }
                        set.push(mov_reg(r, 10));
                        set.push(add_imm(r, off as i32));
                    }
                    ArgKind::MapPtr => {
                        let fd = maps.get(MapType::Hash)?.raw_fd();
                        set.extend(ld_imm64(r, 1, fd, 0));
                    }
                    ArgKind::MapValue => {
                        need_value_lookup = true;
                        set.push(mov_reg(r, 9));
                    }
                    ArgKind::Packet => {
                        if packet_fields(ctx.prog_type).is_none() {
                            return Err(format!("{} has no packet", ctx.name));
                        }
                        need_packet = true;
                        set.push(mov_reg(r, 8));
                    }
                }
                continue;
            }
        }
        match a.base {
            ArgBase::DontCare => {}
            ArgBase::Anything => set.push(mov_imm(r, 0)),
            ArgBase::ConstMapPtr => {
                let fd = map_fd.ok_or("no map")?;
                set.extend(ld_imm64(r, 1, fd, 0));
            }
            ArgBase::PtrToMem if helper_name == "dynptr_from_mem" && i == 0 => {
                // check_helper_call: the data must be a map value.
                need_value_lookup = true;
                set.push(mov_reg(r, 9));
            }
            ArgBase::PtrToMapKey | ArgBase::PtrToMapValue | ArgBase::PtrToMem => {
                let size = mem_size(proto, i, key_size, value_size).unwrap_or(8);
                if size == 0 {
                    return Err("a zero-sized map key or value".into());
                }
                let off = alloc(size);
                init_stack(off, size, &mut pre);
                set.push(mov_reg(r, 10));
                set.push(add_imm(r, off as i32));
            }
            ArgBase::ConstSize | ArgBase::ConstSizeOrZero | ArgBase::ConstAllocSizeOrZero => {
                set.push(mov_imm(r, 8))
            }
            ArgBase::PtrToCtx => set.push(mov_reg(r, 6)),
            ArgBase::PtrToStack if a.has(flags::MAYBE_NULL) => set.push(mov_imm(r, 0)),
            ArgBase::PtrToFunc => {
                needs_callback = true;
                // Patched below: the callback is the last two instructions.
                set.extend(ld_imm64(r, 4, i32::MAX, 0));
            }
            ArgBase::PtrToConstStr => {
                let fd = maps.rodata().map_err(|e| e.to_string())?;
                fds.push(fd);
                set.extend(ld_imm64(r, 2, fd, 0));
            }
            ArgBase::PtrToSpinLock | ArgBase::PtrToTimer => {
                // r7 = a value of the BTF hash; the lock is at 4, the timer at 8.
                need_locked_lookup = true;
                set.push(mov_reg(r, 7));
                set.push(add_imm(
                    r,
                    if a.base == ArgBase::PtrToTimer { 8 } else { 4 },
                ));
            }
            ArgBase::PtrToRingbufMem => {
                // A record reserved first (r7), which the helper releases.
                let fd = maps.get(MapType::Ringbuf)?.raw_fd();
                pre.extend(ld_imm64(1, 1, fd, 0));
                pre.push(mov_imm(2, 8));
                pre.push(mov_imm(3, 0));
                pre.push(call(131)); // bpf_ringbuf_reserve
                pre.push(ins(0x55, 0, 0, 2, 0)); // if r0 != 0 goto +2
                pre.push(mov_imm(0, ret));
                pre.push(exit());
                pre.push(mov_reg(7, 0));
                set.push(mov_reg(r, 7));
            }
            ArgBase::PtrToDynptr if a.has(flags::DYNPTR_RINGBUF) && a.has(flags::RELEASE) => {
                // A ring buffer dynptr reserved first, which the helper
                // submits or discards.
                let fd = maps.get(MapType::Ringbuf)?.raw_fd();
                let off = alloc(16);
                pre.extend(ld_imm64(1, 1, fd, 0));
                pre.push(mov_imm(2, 8));
                pre.push(mov_imm(3, 0));
                pre.push(mov_reg(4, 10));
                pre.push(add_imm(4, off as i32));
                pre.push(call(198)); // bpf_ringbuf_reserve_dynptr
                set.push(mov_reg(r, 10));
                set.push(add_imm(r, off as i32));
            }
            ArgBase::PtrToDynptr if !a.has(flags::UNINIT) => {
                // A local dynptr over a map value, made after the lookup.
                need_value_lookup = true;
                let off = alloc(16);
                local_dynptr = Some(off);
                set.push(mov_reg(r, 10));
                set.push(add_imm(r, off as i32));
            }
            ArgBase::PtrToDynptr if a.has(flags::UNINIT) => {
                let off = alloc(16);
                dynptr_at = Some(off);
                set.push(mov_reg(r, 10));
                set.push(add_imm(r, off as i32));
            }
            ArgBase::PtrToBtfIdSockCommon | ArgBase::PtrToSockCommon
                if !a.has(flags::RELEASE) && sk_field(ctx.prog_type).is_some() =>
            {
                // The context's socket, NULL-checked in `pre` (r7).
                let off = sk_field(ctx.prog_type).unwrap_or(0);
                if !pre.contains(&ldx_dw(7, 6, off)) {
                    pre.push(ldx_dw(7, 6, off));
                    pre.push(ins(0x55, 7, 0, 2, 0)); // if r7 != 0 goto +2
                    pre.push(mov_imm(0, ret));
                    pre.push(exit());
                }
                set.push(mov_reg(r, 7));
            }
            ArgBase::PtrToBtfIdSockCommon if a.has(flags::MAYBE_NULL) => set.push(mov_imm(r, 0)),
            ArgBase::PtrToBtfId if a.has(flags::MAYBE_NULL) && !a.has(flags::RELEASE) => {
                set.push(mov_imm(r, 0))
            }
            ArgBase::PtrToBtfId if a.btf == Some("task_struct") && !a.has(flags::RELEASE) => {
                // The current task from bpf_get_current_task_btf (r7), a
                // trusted task_struct pointer.
                if !pre.contains(&call(158)) {
                    pre.push(call(158));
                    pre.push(mov_reg(7, 0));
                }
                set.push(mov_reg(r, 7));
            }
            ArgBase::PtrToStack => set.push(mov_imm(r, 0)),
            other => {
                return Err(format!("an argument of type {}", other.kernel_name()));
            }
        }
    }
    // r9 = a value of an array map; r8 = a packet pointer with 64 bytes.
    // The lookup and the packet check come first: their early exits must
    // not leave a reference taken in `pre` behind.
    let mut head = vec![pre[0]];
    if need_value_lookup {
        let fd = maps.values()?;
        head.push(st_dw(10, -8 - stack_top as i16, 0));
        let key = -8 - stack_top as i16;
        stack_top += 8;
        head.extend(ld_imm64(1, 1, fd, 0));
        head.push(mov_reg(2, 10));
        head.push(add_imm(2, key as i32));
        head.push(call(1));
        head.push(ins(0x55, 0, 0, 2, 0)); // if r0 != 0 goto +2
        head.push(mov_imm(0, ret));
        head.push(exit());
        head.push(mov_reg(9, 0));
        if let Some(off) = local_dynptr {
            head.push(mov_reg(1, 9));
            head.push(mov_imm(2, 8));
            head.push(mov_imm(3, 0));
            head.push(mov_reg(4, 10));
            head.push(add_imm(4, off as i32));
            head.push(call(197)); // bpf_dynptr_from_mem
        }
    }
    if need_locked_lookup {
        let fd = maps.btf_map(MapType::Hash)?;
        let key = -8 - stack_top as i16;
        stack_top += 8;
        head.push(st_dw(10, key, 0));
        head.extend(ld_imm64(1, 1, fd, 0));
        head.push(mov_reg(2, 10));
        head.push(add_imm(2, key as i32));
        head.push(call(1));
        head.push(ins(0x55, 0, 0, 2, 0)); // if r0 != 0 goto +2
        head.push(mov_imm(0, ret));
        head.push(exit());
        head.push(mov_reg(7, 0));
        if helper_name == "spin_unlock" {
            // Unlocking needs the lock held.
            head.push(mov_reg(1, 7));
            head.push(add_imm(1, 4));
            head.push(call(93));
        }
    }
    if need_packet {
        let (data, end) = packet_fields(ctx.prog_type).ok_or("no packet")?;
        head.push(ldx_w(8, 6, data));
        head.push(ldx_w(2, 6, end));
        head.push(mov_reg(3, 8));
        head.push(add_imm(3, 64));
        head.push(ins(0xbd, 3, 2, 2, 0)); // if r3 <= r2 goto +2
        head.push(mov_imm(0, ret));
        head.push(exit());
    }
    if stack_top > 512 {
        return Err("more than 512 bytes of stack".into());
    }
    let mut insns = head;
    insns.extend_from_slice(&pre[1..]);
    insns.extend(set);
    insns.push(call(id as i32));
    // Release what the helper acquired.
    let acquires = proto.ret_flags & flags::RELEASE != 0
        || (proto.ret == RetType::PtrToMem && proto.ret_flags & flags::RINGBUF != 0);
    if helper_name == "spin_lock" {
        // The lock must be released before the program ends.
        insns.push(mov_reg(1, 7));
        insns.push(add_imm(1, 4));
        insns.push(call(94));
    }
    if helper_name == "ringbuf_reserve_dynptr" {
        // The dynptr must be submitted or discarded, even when empty.
        let at = dynptr_at.ok_or("no dynptr")?;
        insns.push(mov_reg(1, 10));
        insns.push(add_imm(1, at as i32));
        insns.push(mov_imm(2, 0));
        insns.push(call(200));
    }
    if acquires {
        let release = match proto.ret {
            RetType::PtrToMem => 133, // bpf_ringbuf_discard
            RetType::PtrToSocket | RetType::PtrToSockCommon => 86, // bpf_sk_release
            _ => return Err("a call whose result must be released".into()),
        };
        insns.push(ins(0x15, 0, 0, 3, 0)); // if r0 == 0 goto +3
        insns.push(mov_reg(1, 0));
        insns.push(mov_imm(2, 0));
        insns.push(call(release));
    }
    insns.push(mov_imm(0, ret));
    insns.push(exit());
    if needs_callback {
        let cb = insns.len() as i32;
        for (i, slot) in insns.iter_mut().enumerate() {
            let raw = RawInsn::from_u64(*slot);
            if raw.code == 0x18 && raw.src == 4 && raw.imm == i32::MAX {
                *slot = ins(0x18, raw.dst, 4, 0, cb - i as i32 - 1);
            }
        }
        insns.push(mov_imm(0, 0));
        insns.push(exit());
        // The kernel wants BTF func_info for every subprogram.
        let btf = maps.btf()?;
        let mut info = Vec::new();
        for (off, ty) in [(0u32, 3u32), (cb as u32, 4)] {
            info.extend_from_slice(&off.to_le_bytes());
            info.extend_from_slice(&ty.to_le_bytes());
        }
        return Ok(Call {
            insns,
            fds,
            _own: own,
            btf: Some((btf, info)),
        });
    }
    Ok(Call {
        insns,
        fds,
        _own: own,
        btf: None,
    })
}

/// What the probes' programs return: 1 in the types whose return-code
/// check refuses 0 for some attach types, 0 elsewhere.
fn exit_value(pt: ProgTypeId) -> i32 {
    use ProgTypeId as P;
    match pt {
        P::CgroupSockAddr
        | P::CgroupSock
        | P::CgroupSkb
        | P::CgroupDevice
        | P::CgroupSysctl
        | P::CgroupSockopt
        | P::SkLookup => 1,
        _ => 0,
    }
}

// ---------------------------------------------------------------------
// Loading.

/// The verifier's verdict on a probe.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Accepted,
    /// Refused, with the log's first error line (or the errno when there is
    /// no log).
    Refused(String),
}

impl Verdict {
    fn text(&self) -> String {
        match self {
            Verdict::Accepted => "accepted".into(),
            Verdict::Refused(m) => m.clone(),
        }
    }
    fn says(&self, needle: &str) -> bool {
        matches!(self, Verdict::Refused(m) if m.contains(needle))
    }
}

/// How a refusal without a verifier log reads (the load failed before the
/// verifier ran: EPERM for a type this kernel will not load, say).
const NO_LOG: &str = "no verifier log: ";

struct Loader {
    btf_ids: HashMap<String, u32>,
}

impl Loader {
    fn load(&self, ctx: &ProbeContext, call: &Call, license: &str) -> Result<Verdict, String> {
        let attach_btf_id = match ctx.attach_btf {
            Some(n) => *self
                .btf_ids
                .get(n)
                .ok_or_else(|| format!("vmlinux has no BTF for {n}"))?,
            None => 0,
        };
        let out = load_program(&ProgLoad {
            prog_type: ctx.prog_type.kernel_id(),
            expected_attach_type: ctx.attach.map_or(0, |a| a.kernel_id()),
            insns: &call.insns,
            license,
            log_level: 1,
            prog_flags: if ctx.sleepable { BPF_F_SLEEPABLE } else { 0 },
            attach_btf_id,
            fd_array: &call.fds,
            prog_btf_fd: call.btf.as_ref().map(|(fd, _)| *fd),
            func_info: call.btf.as_ref().map_or(&[][..], |(_, i)| i),
            func_info_rec_size: if call.btf.is_some() { 8 } else { 0 },
            ..Default::default()
        });
        if out.accepted() {
            return Ok(Verdict::Accepted);
        }
        // The verifier's message is the last line before the statistics.
        let msg = out
            .log
            .lines()
            .rev()
            .find(|l| {
                !l.starts_with("processed ")
                    && !l.is_empty()
                    && !l.starts_with("verification time")
                    && !l.starts_with("stack depth")
            })
            .map(str::to_string);
        Ok(Verdict::Refused(msg.unwrap_or_else(|| {
            format!(
                "{NO_LOG}{}",
                out.result.err().map(|e| e.to_string()).unwrap_or_default()
            )
        })))
    }
}

/// What the availability probe expects.
fn availability(r: &Result<&'static Proto, ProtoRefusal>) -> &'static str {
    match r {
        Ok(_) | Err(ProtoRefusal::GplOnly { .. }) | Err(ProtoRefusal::MightSleep { .. }) => {
            "offered"
        }
        Err(ProtoRefusal::NotAllowed { .. }) => "program of this type cannot use helper",
        Err(ProtoRefusal::InvalidFunc { .. }) => "invalid func",
    }
}

fn kernel_availability(v: &Verdict) -> &'static str {
    if v.says("program of this type cannot use helper") {
        "program of this type cannot use helper"
    } else if v.says("invalid func") {
        "invalid func"
    } else {
        "offered"
    }
}

fn env_of(ctx: &ProbeContext, gpl: bool, privilege: Privilege) -> ProtoEnv {
    ProtoEnv {
        gpl,
        privilege,
        sleepable: ctx.sleepable,
    }
}

fn helper_label(id: u32) -> String {
    catalog::helper_name(id as i64)
        .map(str::to_string)
        .unwrap_or_else(|| format!("unknown#{id}"))
}

/// Whether the verifier accepts `kind` for argument `a` (the rest valid), as
/// the prototypes predict for a privileged loader (uninitialised stack
/// and pointer leaks allowed).
fn predict_arg(ctx: &ProbeContext, id: u32, p: &Proto, i: usize, kind: ArgKind) -> Option<bool> {
    let a: ArgType = p.args[i];
    let null_ok = a.has(flags::MAYBE_NULL);
    use ArgKind as K;
    let name = catalog::helper(id).map_or("", |d| d.name);
    // Checks of particular helpers (check_helper_call, check_func_arg).
    match (name, i) {
        // get_local_storage() doesn't support non-zero flags.
        ("get_local_storage", 1) => return Some(kind == K::Zero),
        // Unsupported reg type ... for bpf_dynptr_from_mem data.
        ("dynptr_from_mem", 0) => return Some(kind == K::MapValue),
        // bpf_loop marks nr_loops precise; a pointer there makes the
        // kernel stop with "verifier bug: backtracking misuse".
        ("loop", 0) => return Some(matches!(kind, K::Zero | K::Const)),
        // The map must be the one the timer lives in; the probe's is another.
        ("timer_init", 1) => return Some(false),
        // The format string decides how much data there must be.
        ("snprintf" | "trace_vprintk" | "seq_printf", 3 | 4) => return None,
        _ => {}
    }
    Some(match a.base {
        ArgBase::Anything => true,
        ArgBase::ConstMapPtr => {
            kind == K::MapPtr
                && map_compat::check(ctx.prog_type, ctx.attach, MapType::Hash.kernel_id(), id)
                    .is_ok()
        }
        ArgBase::PtrToCtx => kind == K::Ctx || (null_ok && kind == K::Zero),
        ArgBase::ConstSize => matches!(kind, K::Const),
        ArgBase::ConstSizeOrZero => matches!(kind, K::Const | K::Zero),
        ArgBase::ConstAllocSizeOrZero => matches!(kind, K::Const | K::Zero),
        ArgBase::PtrToMapKey | ArgBase::PtrToMapValue => match kind {
            K::Zero => null_ok,
            K::StackInit => true,
            // A privileged loader may pass uninitialised stack anywhere
            // (env->allow_uninit_stack).
            K::StackUninit => true,
            K::MapValue => true,
            K::Packet => p.pkt_access,
            _ => false,
        },
        // NULL is only accepted with a zero size, and the probes' sizes are
        // not zero.
        ArgBase::PtrToMem => match kind {
            K::StackInit | K::StackUninit | K::MapValue => true,
            K::Packet => p.pkt_access,
            _ => false,
        },
        ArgBase::PtrToStack => match kind {
            K::StackInit | K::StackUninit | K::StackShort => true,
            K::Zero => null_ok,
            _ => false,
        },
        ArgBase::PtrToFunc
        | ArgBase::PtrToConstStr
        | ArgBase::PtrToSpinLock
        | ArgBase::PtrToTimer
        | ArgBase::KptrXchgDest
        | ArgBase::PtrToRingbufMem
        | ArgBase::PtrToSocket
        | ArgBase::PtrToSockCommon
        | ArgBase::PtrToPercpuBtfId => null_ok && kind == K::Zero,
        ArgBase::PtrToBtfId | ArgBase::PtrToBtfIdSockCommon => null_ok && kind == K::Zero,
        ArgBase::PtrToDynptr => return None,
        ArgBase::DontCare => return None,
    })
}

/// Runs the probes. Needs bpf(2) with `CAP_BPF`, `CAP_PERFMON` and
/// `CAP_SYS_ADMIN`.
pub fn run(opts: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    ironbpf_kernel::probe().map_err(|e| ProbeError::Unavailable(e.to_string()))?;
    let wanted: Vec<&str> = CONTEXTS.iter().filter_map(|c| c.attach_btf).collect();
    let btf_ids = vmlinux_btf_ids(&wanted).unwrap_or_default();
    let loader = Loader { btf_ids };
    let mut maps = Maps::new();
    let mut report = ProbeReport::default();
    let contexts: Vec<&ProbeContext> = CONTEXTS
        .iter()
        .filter(|c| opts.contexts.is_empty() || opts.contexts.iter().any(|n| n == c.name))
        .collect();
    // Helpers whose template one context accepted: (helper, context) for the
    // argument probes.
    let mut arg_targets: Vec<(u32, &ProbeContext, &'static Proto)> = Vec::new();
    for ctx in &contexts {
        // A context the kernel does not load at all says nothing.
        let probe = Call {
            insns: vec![mov_imm(0, 0), exit()],
            fds: vec![],
            _own: vec![],
            btf: None,
        };
        let first = loader.load(ctx, &probe, "GPL");
        let base_ok = match &first {
            Ok(Verdict::Accepted) => true,
            Ok(Verdict::Refused(m)) => {
                // Return-code checks refuse r0 = 0 in some types; any
                // verifier message means the type loads.
                !m.starts_with(NO_LOG) && !m.contains("must provide btf_id")
            }
            Err(_) => false,
        };
        if !base_ok {
            let why = match first {
                Ok(v) => v.text(),
                Err(e) => e,
            };
            report.unloadable.push((ctx.name.to_string(), why));
            continue;
        }
        let env = env_of(ctx, true, Privilege::Perfmon);
        for id in 1..=FIRST_INVALID_ID {
            let predicted = func_proto(ctx.prog_type, ctx.attach, id as i64, &env);
            let label = helper_label(id);
            // Whether the type offers the helper is decided before any
            // argument is looked at: r1-r5 = 0 asks that alone.
            let verdict = match loader.load(ctx, &zero_call(id), "GPL") {
                Ok(v) => v,
                Err(e) => {
                    report.inconclusive("availability", e);
                    continue;
                }
            };
            let want = availability(&predicted);
            let got = kernel_availability(&verdict);
            report.tally("availability", want == got, || Disagreement {
                group: "availability",
                context: ctx.name.to_string(),
                helper: label.clone(),
                arg: None,
                expected: want.to_string(),
                kernel: verdict.text(),
            });
            // The checks after get_func_proto and before the arguments: the
            // prototype's `allowed` callback, then might_sleep.
            if matches!(predicted, Ok(_) | Err(ProtoRefusal::MightSleep { .. })) {
                const NOT_IN_PROBE: &str = "helper call is not allowed in probe";
                const SLEEPS: &str = "helper call might sleep in a non-sleepable prog";
                let allowed = catalog::call_check(ctx.prog_type, ctx.attach, ctx.attach_btf, id);
                let want = if allowed.as_ref().is_err_and(|m| m == NOT_IN_PROBE) {
                    Some(NOT_IN_PROBE)
                } else if matches!(predicted, Err(ProtoRefusal::MightSleep { .. })) {
                    Some(SLEEPS)
                } else {
                    None
                };
                let got = [NOT_IN_PROBE, SLEEPS].into_iter().find(|m| verdict.says(m));
                report.tally("sleep/allowed", want == got, || Disagreement {
                    group: "sleep/allowed",
                    context: ctx.name.to_string(),
                    helper: label.clone(),
                    arg: None,
                    expected: want.unwrap_or("neither refusal").to_string(),
                    kernel: verdict.text(),
                });
            }
            // The template: a call with valid arguments built from the
            // predicted prototype must pass (or fail the helper's own
            // check, `call_check`).
            if let Ok(p) = predicted {
                let call = match build_call(ctx, id, p, None, None, &mut maps) {
                    Ok(c) => c,
                    Err(why) => {
                        report.inconclusive("templates", format!("cannot build {why}"));
                        continue_gpl(&loader, ctx, id, &label, &mut report);
                        continue;
                    }
                };
                let v = match loader.load(ctx, &call, "GPL") {
                    Ok(v) => v,
                    Err(e) => {
                        report.inconclusive("templates", e);
                        continue_gpl(&loader, ctx, id, &label, &mut report);
                        continue;
                    }
                };
                let check = catalog::call_check(ctx.prog_type, ctx.attach, ctx.attach_btf, id);
                let (ok, expected) = match &check {
                    Ok(()) => (v == Verdict::Accepted, "accepted".to_string()),
                    Err(m) => (v.says(m), m.clone()),
                };
                report.tally("templates", ok, || Disagreement {
                    group: "templates",
                    context: ctx.name.to_string(),
                    helper: label.clone(),
                    arg: None,
                    expected,
                    kernel: v.text(),
                });
                if ok && check.is_ok() && p.arg_count() > 0 {
                    // The argument probes use one context per helper, one
                    // with packets where there is one.
                    let rank = |c: &ProbeContext| match c.prog_type {
                        ProgTypeId::SchedCls => 0,
                        ProgTypeId::Xdp => 1,
                        _ if packet_fields(c.prog_type).is_some() => 2,
                        _ => 3,
                    };
                    match arg_targets.iter().position(|(h, _, _)| *h == id) {
                        None => arg_targets.push((id, ctx, p)),
                        Some(i) if rank(ctx) < rank(arg_targets[i].1) => {
                            arg_targets[i] = (id, ctx, p)
                        }
                        Some(_) => {}
                    }
                }
            }
            continue_gpl(&loader, ctx, id, &label, &mut report);
        }
    }
    // Argument kinds.
    for (n, (id, ctx, p)) in arg_targets.iter().enumerate() {
        if n % opts.arg_stride.max(1) != 0 {
            continue;
        }
        let label = helper_label(*id);
        for i in 0..p.arg_count() {
            for kind in ArgKind::ALL {
                if p.args[i].has(flags::RELEASE) {
                    // The reference made for it would leak: every kind is
                    // refused, whatever the prototype says.
                    report.inconclusive(
                        "arguments",
                        "a released argument (its reference would leak)".into(),
                    );
                    continue;
                }
                let Some(want) = predict_arg(ctx, *id, p, i, kind) else {
                    report.inconclusive(
                        "arguments",
                        format!("no prediction for {}", p.args[i].base.kernel_name()),
                    );
                    continue;
                };
                // A short buffer only means something for memory.
                let call = match build_call(ctx, *id, p, None, Some((i, kind)), &mut maps) {
                    Ok(c) => c,
                    Err(why) => {
                        report.inconclusive("arguments", format!("cannot build {why}"));
                        continue;
                    }
                };
                let want = if kind == ArgKind::StackShort
                    && matches!(
                        p.args[i].base,
                        ArgBase::PtrToMem | ArgBase::PtrToMapKey | ArgBase::PtrToMapValue
                    ) {
                    false
                } else {
                    want
                };
                match loader.load(ctx, &call, "GPL") {
                    Ok(v) => {
                        let got = v == Verdict::Accepted;
                        report.tally("arguments", want == got, || Disagreement {
                            group: "arguments",
                            context: ctx.name.to_string(),
                            helper: label.clone(),
                            arg: Some(format!("arg{} ({}) = {}", i + 1, p.args[i], kind.name())),
                            expected: if want { "accepted" } else { "refused" }.into(),
                            kernel: v.text(),
                        });
                    }
                    Err(e) => report.inconclusive("arguments", e),
                }
            }
        }
    }
    // Map types.
    for (id, ctx, p) in &arg_targets {
        if !p.args.iter().any(|a| a.base == ArgBase::ConstMapPtr) {
            continue;
        }
        let label = helper_label(*id);
        for t in MapType::ALL {
            if map_shape(t).is_none() {
                continue;
            }
            let call = match build_call(ctx, *id, p, Some(t), None, &mut maps) {
                Ok(c) => c,
                Err(why) => {
                    report.inconclusive("maps", format!("cannot build {why}"));
                    continue;
                }
            };
            let want = map_compat::check(ctx.prog_type, ctx.attach, t.kernel_id(), *id);
            let v = match loader.load(ctx, &call, "GPL") {
                Ok(v) => v,
                Err(e) => {
                    report.inconclusive("maps", e);
                    continue;
                }
            };
            let got_refused =
                v.says("cannot pass map_type") || v.says("cannot update sockmap in this context");
            match &want {
                Err(_) if !got_refused && v != Verdict::Accepted => {
                    // Refused before the map check (the other arguments do
                    // not fit this map); says nothing.
                    report
                        .inconclusive("maps", "refused before check_map_func_compatibility".into());
                }
                _ => {
                    let agreed = want.is_err() == got_refused;
                    report.tally("maps", agreed, || Disagreement {
                        group: "maps",
                        context: ctx.name.to_string(),
                        helper: label.clone(),
                        arg: Some(format!("map_type {} ({})", t.kernel_id(), t.name())),
                        expected: match &want {
                            Ok(()) => "compatible".into(),
                            Err(e) => e.to_string(),
                        },
                        kernel: v.text(),
                    });
                }
            }
        }
    }
    privilege_probes(&contexts, &mut report);
    Ok(report)
}

/// The GPL probe of one helper in one context: the zero call from a
/// program whose licence is not GPL.
fn continue_gpl(
    loader: &Loader,
    ctx: &ProbeContext,
    id: u32,
    label: &str,
    report: &mut ProbeReport,
) {
    let env = env_of(ctx, false, Privilege::Perfmon);
    let pred = func_proto(ctx.prog_type, ctx.attach, id as i64, &env);
    let want_gpl = matches!(pred, Err(ProtoRefusal::GplOnly { .. }));
    match loader.load(ctx, &zero_call(id), "Proprietary") {
        Ok(v) => {
            let got_gpl = v.says("cannot call GPL-restricted function");
            report.tally("gpl", want_gpl == got_gpl, || Disagreement {
                group: "gpl",
                context: ctx.name.to_string(),
                helper: label.to_string(),
                arg: None,
                expected: if want_gpl { "GPL-only" } else { "not GPL-only" }.into(),
                kernel: v.text(),
            });
        }
        Err(e) => report.inconclusive("gpl", e),
    }
}

/// `r1..r5 = 0; call id; r0 = 0; exit`: enough to ask whether the type
/// offers the helper and whether it is GPL-only (both are decided before
/// any argument is looked at).
fn zero_call(id: u32) -> Call {
    let mut insns: Vec<u64> = (1..=5).map(|r| mov_imm(r, 0)).collect();
    insns.push(call(id as i32));
    insns.push(mov_imm(0, 0));
    insns.push(exit());
    Call {
        insns,
        fds: vec![],
        _own: vec![],
        btf: None,
    }
}

// ---------------------------------------------------------------------
// Privilege: a thread that drops capabilities.

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drops `caps` from the calling thread's effective set (capabilities are
/// per thread; the caller runs this on a thread it ends afterwards).
fn drop_caps(caps: &[u32]) -> Result<(), String> {
    const V3: u32 = 0x2008_0522;
    let mut hdr = CapHeader {
        version: V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData records for version 3, which `data` holds.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(format!("capget: {}", std::io::Error::last_os_error()));
    }
    for &c in caps {
        let (w, b) = ((c / 32) as usize, c % 32);
        data[w].effective &= !(1 << b);
    }
    hdr.version = V3;
    hdr.pid = 0;
    // SAFETY: capset reads two CapData records for version 3 from `data`.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn privilege_probes(contexts: &[&ProbeContext], report: &mut ProbeReport) {
    use ProgTypeId as P;
    // Socket filters and cgroup skb programs load without any capability;
    // networking types with CAP_BPF and CAP_NET_ADMIN, without CAP_PERFMON.
    let unprivileged: Vec<ProbeContext> = contexts
        .iter()
        .filter(|c| matches!(c.prog_type, P::SocketFilter | P::CgroupSkb) && c.attach.is_none())
        .map(|c| **c)
        .collect();
    let networking: Vec<ProbeContext> = contexts
        .iter()
        .filter(|c| {
            !matches!(
                c.prog_type,
                P::Kprobe
                    | P::Tracepoint
                    | P::PerfEvent
                    | P::RawTracepoint
                    | P::RawTracepointWritable
                    | P::Tracing
                    | P::Lsm
                    | P::Syscall
            )
        })
        .map(|c| **c)
        .collect();
    let levels: [(&str, Privilege, &[u32], Vec<ProbeContext>); 3] = [
        (
            "no capabilities",
            Privilege::Unprivileged,
            &[CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_NET_ADMIN],
            unprivileged.clone(),
        ),
        (
            "CAP_BPF",
            Privilege::Bpf,
            &[CAP_PERFMON, CAP_SYS_ADMIN, CAP_NET_ADMIN],
            unprivileged,
        ),
        (
            "CAP_BPF+CAP_NET_ADMIN",
            Privilege::Bpf,
            &[CAP_PERFMON, CAP_SYS_ADMIN],
            networking,
        ),
    ];
    for (label, level, caps, targets) in levels {
        let caps = caps.to_vec();
        let outcome = std::thread::spawn(
            move || -> Result<Vec<(ProbeContext, u32, Verdict)>, String> {
                drop_caps(&caps)?;
                let loader = Loader {
                    btf_ids: HashMap::new(),
                };
                let mut out = Vec::new();
                for ctx in &targets {
                    for id in 1..=FIRST_INVALID_ID {
                        let v = loader.load(ctx, &zero_call(id), "GPL")?;
                        out.push((*ctx, id, v));
                    }
                }
                Ok(out)
            },
        )
        .join();
        let results = match outcome {
            Ok(Ok(r)) => r,
            Ok(Err(why)) => {
                report.inconclusive("privilege", why);
                continue;
            }
            Err(_) => {
                report.inconclusive("privilege", "the probing thread panicked".into());
                continue;
            }
        };
        for (ctx, id, v) in results {
            if matches!(&v, Verdict::Refused(m) if m.starts_with(NO_LOG)) {
                report.inconclusive(
                    "privilege",
                    format!("{} does not load: {}", ctx.name, v.text()),
                );
                continue;
            }
            let env = env_of(&ctx, true, level);
            let want = availability(&func_proto(ctx.prog_type, ctx.attach, id as i64, &env));
            let got = kernel_availability(&v);
            report.tally("privilege", want == got, || Disagreement {
                group: "privilege",
                context: format!("{} ({label})", ctx.name),
                helper: helper_label(id),
                arg: None,
                expected: want.to_string(),
                kernel: v.text(),
            });
        }
    }
}
