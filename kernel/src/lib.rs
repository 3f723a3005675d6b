//! The real Linux kernel as ironbpf's oracle, through `bpf(2)`.
//!
//! Everything goes through the raw syscall ([`sys`]); nothing shells out to
//! bpftool. The crate offers:
//! - [`probe`]: can this process use BPF, and precisely why not;
//! - [`KernelMap`]: map creation, element and batch operations with the kernel's errnos;
//! - [`load_program`]: a load at any log level, growing the log buffer, giving the
//!   verdict, the errno, the log, the processed instructions and the verification time;
//! - [`KernelProg`]: `BPF_PROG_TEST_RUN`, and the xlated and jited images read back;
//! - [`KernelBtf`]: BTF loads;
//! - [`conformance`]: bpf_conformance-style programs (r1 = memory, r2 = its length,
//!   64-bit r0) run in the kernel;
//! - [`object`]: a whole ELF object from `ironbpf-loader`, with its maps and BTF, loaded as libbpf would.
//!
//! ```no_run
//! use ironbpf_kernel::{load_program, ProgLoad, TestRun, BPF_PROG_TYPE_SOCKET_FILTER};
//! if ironbpf_kernel::probe().is_ok() {
//!     let insns = [0x2a_0000_00b7u64, 0x95]; // r0 = 42; exit
//!     let out = load_program(&ProgLoad { prog_type: BPF_PROG_TYPE_SOCKET_FILTER, insns: &insns, ..Default::default() });
//!     let prog = out.result.unwrap();
//!     let run = prog.test_run(&TestRun { data: &[0u8; 14], ..Default::default() }).unwrap();
//!     assert_eq!(run.retval, 42);
//! }
//! ```

pub mod conformance;
mod error;
mod map;
pub mod object;
mod probe;
mod prog;
pub mod sys;

pub use error::{errno_name, errno_text, KernelError};
pub use map::{possible_cpus, BatchResult, KernelMap, MapCreate};
pub use probe::{available_for_test, probe, probe_btf, Unavailable};
pub use prog::{
    first_error_line, is_trailer_line, kernel_release, last_error_lines, load_program,
    load_program_unprivileged, parse_log, parse_log_stats, parse_stats, prog_flags_for_section,
    with_effective_caps, KernelBtf, KernelProg, LoadOutcome, LogStats, ParsedLog, ProgInfo,
    ProgLoad, TestRun, TestRunOutput, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, BPF_LOG_LEVEL1,
    BPF_LOG_LEVEL2, BPF_LOG_STATS, CAP_NET_ADMIN_BIT, MAX_LOG_SIZE,
};

// The program types the crate's own probes and callers name, from
// `ironbpf-progtype` (the one place their numbers live).
use ironbpf_progtype::ProgTypeId;
pub const BPF_PROG_TYPE_SOCKET_FILTER: u32 = ProgTypeId::SocketFilter.kernel_id();
pub const BPF_PROG_TYPE_KPROBE: u32 = ProgTypeId::Kprobe.kernel_id();
pub const BPF_PROG_TYPE_SCHED_CLS: u32 = ProgTypeId::SchedCls.kernel_id();
pub const BPF_PROG_TYPE_SCHED_ACT: u32 = ProgTypeId::SchedAct.kernel_id();
pub const BPF_PROG_TYPE_TRACEPOINT: u32 = ProgTypeId::Tracepoint.kernel_id();
pub const BPF_PROG_TYPE_XDP: u32 = ProgTypeId::Xdp.kernel_id();
pub const BPF_PROG_TYPE_PERF_EVENT: u32 = ProgTypeId::PerfEvent.kernel_id();
pub const BPF_PROG_TYPE_CGROUP_SKB: u32 = ProgTypeId::CgroupSkb.kernel_id();
pub const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = ProgTypeId::RawTracepoint.kernel_id();

pub const BPF_MAP_TYPE_HASH: u32 = 1;
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
