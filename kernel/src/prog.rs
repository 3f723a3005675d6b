//! Program load with the verifier's log, test runs, and reading back what the
//! kernel made of the program (xlated instructions, jited image).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::sys::{self, ptr};
use crate::KernelError;

/// `BPF_LOG_LEVEL1`, `BPF_LOG_LEVEL2` (every instruction's state) and
/// `BPF_LOG_STATS` (the `processed N insns` and `verification time` lines).
pub const BPF_LOG_LEVEL1: u32 = 1;
pub const BPF_LOG_LEVEL2: u32 = 2;
pub const BPF_LOG_STATS: u32 = 4;

/// `BPF_F_XDP_HAS_FRAGS`: an XDP program that handles multi-buffer frames
/// (libbpf's `SEC("xdp.frags")`).
pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// `BPF_F_SLEEPABLE`: a program that may sleep (libbpf's `.s` sections
/// and `SEC("syscall")`).
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;

/// The sections libbpf loads with [`BPF_F_SLEEPABLE`] (its `SEC_SLEEPABLE`
/// entries): each name alone or followed by `/target`.
const SLEEPABLE_SECTIONS: &[&str] = &[
    "syscall",
    "uprobe.s",
    "uretprobe.s",
    "uprobe.multi.s",
    "uretprobe.multi.s",
    "usdt.s",
    "fentry.s",
    "fmod_ret.s",
    "fexit.s",
    "lsm.s",
    "iter.s",
    "struct_ops.s",
];

/// The `prog_flags` libbpf loads a program of section `section` with
/// (with or without the `?` prefix): [`BPF_F_XDP_HAS_FRAGS`] for
/// `xdp.frags`, `xdp.frags/devmap` and `xdp.frags/cpumap`,
/// [`BPF_F_SLEEPABLE`] for its sleepable sections (`syscall`, `lsm.s/...`,
/// `uprobe.s/...`).
pub fn prog_flags_for_section(section: &str) -> u32 {
    let name = section.strip_prefix('?').unwrap_or(section);
    let base = name.split('/').next().unwrap_or(name);
    let mut flags = 0;
    if base == "xdp.frags" {
        flags |= BPF_F_XDP_HAS_FRAGS;
    }
    if SLEEPABLE_SECTIONS.contains(&base) {
        flags |= BPF_F_SLEEPABLE;
    }
    flags
}

/// The first log buffer; it doubles (or grows to the size the kernel asks for)
/// while the kernel says it was too small, up to [`MAX_LOG_SIZE`].
const FIRST_LOG_SIZE: usize = 64 * 1024;
/// The kernel's own cap on `log_size` (`UINT_MAX >> 2`) is larger than any
/// test needs; 256 MiB holds a level-2 log of a million instructions' states
/// only in part, and the truncation is then reported.
pub const MAX_LOG_SIZE: usize = 256 * 1024 * 1024;

/// What `BPF_PROG_LOAD` takes. Maps are referenced from `insns` by fd
/// (`BPF_PSEUDO_MAP_FD`) or through `fd_array` (`BPF_PSEUDO_MAP_IDX`).
#[derive(Debug, Clone)]
pub struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    /// The program as 64-bit instruction slots in host byte order.
    pub insns: &'a [u64],
    pub license: &'a str,
    pub name: &'a str,
    /// 0 (no log unless the load fails, then level 1), 1, 2, with or without
    /// [`BPF_LOG_STATS`].
    pub log_level: u32,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_btf_fd: Option<i32>,
    /// `struct bpf_func_info` records (8 bytes each: insn_off, type_id).
    pub func_info: &'a [u8],
    pub func_info_rec_size: u32,
    /// `struct bpf_line_info` records (16 bytes each).
    pub line_info: &'a [u8],
    pub line_info_rec_size: u32,
    pub attach_btf_id: u32,
    pub attach_btf_obj_fd: Option<i32>,
    /// Map fds for `BPF_PSEUDO_MAP_IDX`/`BPF_PSEUDO_MAP_IDX_VALUE` and kfunc BTF fds.
    pub fd_array: &'a [i32],
}

impl Default for ProgLoad<'_> {
    fn default() -> Self {
        ProgLoad {
            prog_type: ironbpf_progtype::ProgTypeId::Unspec.kernel_id(),
            expected_attach_type: 0,
            insns: &[],
            license: "GPL",
            name: "",
            log_level: BPF_LOG_LEVEL1 | BPF_LOG_STATS,
            kern_version: 0,
            prog_flags: 0,
            prog_btf_fd: None,
            func_info: &[],
            func_info_rec_size: 8,
            line_info: &[],
            line_info_rec_size: 16,
            attach_btf_id: 0,
            attach_btf_obj_fd: None,
            fd_array: &[],
        }
    }
}

/// The kernel's answer to a load.
#[derive(Debug)]
pub struct LoadOutcome {
    /// The loaded program, or the errno of the refusal.
    pub result: Result<KernelProg, KernelError>,
    /// The whole verifier log.
    pub log: String,
    /// The log did not fit in [`MAX_LOG_SIZE`].
    pub log_truncated: bool,
    /// From the log's `processed N insns` line (needs [`BPF_LOG_STATS`] or a rejection).
    pub processed_insns: Option<u64>,
    /// From the log's `verification time N usec` line (needs [`BPF_LOG_STATS`]).
    pub verification_time_usec: Option<u64>,
    /// The line that says why a refused program was refused.
    pub first_error_line: Option<String>,
    /// The instruction index the refusal points at, when the log names one.
    pub error_insn: Option<usize>,
    /// Every statistics line of the log (`processed ...`, `verification
    /// time`, `stack depth`), parsed.
    pub stats: LogStats,
    /// Wall time of the `bpf(BPF_PROG_LOAD)` calls (all of them, when the log grew).
    pub load_time: Duration,
}

impl LoadOutcome {
    pub fn accepted(&self) -> bool {
        self.result.is_ok()
    }
}

/// Loads a program, growing the log buffer until the whole log fits.
pub fn load_program(req: &ProgLoad<'_>) -> LoadOutcome {
    let license = std::ffi::CString::new(req.license.replace('\0', "")).unwrap_or_default();
    let mut size = FIRST_LOG_SIZE;
    let mut total = Duration::ZERO;
    loop {
        let mut log = vec![0u8; if req.log_level == 0 { 0 } else { size }];
        let mut attr = sys::ProgLoadAttr {
            prog_type: req.prog_type,
            insn_cnt: req.insns.len() as u32,
            insns: ptr(req.insns.as_ptr()),
            license: ptr(license.as_ptr()),
            log_level: req.log_level,
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                ptr(log.as_mut_ptr())
            },
            kern_version: req.kern_version,
            prog_flags: req.prog_flags,
            prog_name: sys::object_name(req.name),
            expected_attach_type: req.expected_attach_type,
            prog_btf_fd: req.prog_btf_fd.unwrap_or(0) as u32,
            attach_btf_id: req.attach_btf_id,
            attach_prog_fd: req.attach_btf_obj_fd.unwrap_or(0) as u32,
            fd_array: if req.fd_array.is_empty() {
                0
            } else {
                ptr(req.fd_array.as_ptr())
            },
            ..Default::default()
        };
        if req.prog_btf_fd.is_some() {
            if !req.func_info.is_empty() && req.func_info_rec_size > 0 {
                attr.func_info_rec_size = req.func_info_rec_size;
                attr.func_info = ptr(req.func_info.as_ptr());
                attr.func_info_cnt = (req.func_info.len() / req.func_info_rec_size as usize) as u32;
            }
            if !req.line_info.is_empty() && req.line_info_rec_size > 0 {
                attr.line_info_rec_size = req.line_info_rec_size;
                attr.line_info = ptr(req.line_info.as_ptr());
                attr.line_info_cnt = (req.line_info.len() / req.line_info_rec_size as usize) as u32;
            }
        }
        let start = std::time::Instant::now();
        let r = sys::bpf_fd(sys::BPF_PROG_LOAD, &mut attr);
        total += start.elapsed();
        let truncated = matches!(r, Err(libc::ENOSPC)) && !log.is_empty();
        if truncated && size < MAX_LOG_SIZE {
            // The kernel (6.4 and later) says how much it needed.
            let want = (attr.log_true_size as usize).max(size * 2);
            size = want.min(MAX_LOG_SIZE);
            continue;
        }
        if r.is_err() && req.log_level == 0 {
            // A refusal without a log says nothing; ask again with one.
            let mut again = req.clone();
            again.log_level = BPF_LOG_LEVEL1;
            let mut out = load_program(&again);
            out.load_time += total;
            return out;
        }
        let text = log_text(&log);
        let stats = parse_stats(&text);
        let log_stats = parse_log_stats(&text);
        let result = r
            .map(|fd| KernelProg {
                fd,
                prog_type: req.prog_type,
            })
            .map_err(|e| {
                KernelError::new("BPF_PROG_LOAD", e).with_context(format!("program {:?}", req.name))
            });
        let (first_error_line, error_insn) = if result.is_err() {
            let line = first_error_line(&text);
            let insn = line.as_ref().and_then(|_| error_insn(&text));
            (line, insn)
        } else {
            (None, None)
        };
        return LoadOutcome {
            result,
            log: text,
            log_truncated: truncated,
            processed_insns: stats.0,
            verification_time_usec: stats.1,
            first_error_line,
            error_insn,
            stats: log_stats,
            load_time: total,
        };
    }
}

fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `processed N insns` and `verification time N usec` from a log.
pub fn parse_stats(log: &str) -> (Option<u64>, Option<u64>) {
    let mut processed = None;
    let mut time = None;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("processed ") {
            processed = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("verification time ") {
            time = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    (processed, time)
}

/// The statistics the verifier prints at the end of its log:
/// `processed N insns (limit L) max_states_per_insn M total_states T
/// peak_states P mark_read R`, `verification time N usec` and
/// `stack depth A+B+...` (one figure per subprogram). A field is `None`
/// when the log does not print it (the stats lines need [`BPF_LOG_STATS`]
/// or a rejection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    pub processed_insns: Option<u64>,
    /// The complexity limit (1000000 privileged, 4096 unprivileged).
    pub insn_limit: Option<u64>,
    pub max_states_per_insn: Option<u64>,
    pub total_states: Option<u64>,
    pub peak_states: Option<u64>,
    pub mark_read: Option<u64>,
    pub verification_time_usec: Option<u64>,
    /// The stack depth of each subprogram, in bytes, main program first.
    pub stack_depths: Vec<u32>,
}

/// Parses the statistics lines of a verifier log (see [`LogStats`]).
pub fn parse_log_stats(log: &str) -> LogStats {
    let mut st = LogStats::default();
    for line in log.lines() {
        // The error line may lack its newline, and the next statistic then
        // sticks to it: look for the keywords anywhere in the line.
        if let Some(i) = line.find("processed ") {
            let rest = &line[i + "processed ".len()..];
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.get(1) == Some(&"insns") {
                st.processed_insns = words.first().and_then(|n| n.parse().ok());
                let num = |key: &str| {
                    words
                        .iter()
                        .position(|w| *w == key)
                        .and_then(|k| words.get(k + 1))
                        .and_then(|n| n.trim_end_matches(')').parse().ok())
                };
                st.insn_limit = num("(limit");
                st.max_states_per_insn = num("max_states_per_insn");
                st.total_states = num("total_states");
                st.peak_states = num("peak_states");
                st.mark_read = num("mark_read");
            }
        }
        if let Some(i) = line.find("verification time ") {
            st.verification_time_usec = line[i + "verification time ".len()..]
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok());
        }
        if let Some(rest) = line.strip_prefix("stack depth ") {
            st.stack_depths = rest
                .trim()
                .split('+')
                .filter_map(|n| n.trim().parse().ok())
                .collect();
        }
    }
    st
}

/// Everything a verifier log says about its verdict: the statistics, and
/// for a refusal the error line and the instruction it is at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedLog {
    pub stats: LogStats,
    /// The line that says why the program was refused (see
    /// [`first_error_line`]); `None` for an empty log.
    pub error_line: Option<String>,
    /// The last instruction the log printed (`N: (op) ...`) before the
    /// error line.
    pub error_insn: Option<usize>,
}

/// Parses a refusal's log (for an accepted program's log, `error_line` is
/// its last line and means nothing: look at the verdict first).
pub fn parse_log(log: &str) -> ParsedLog {
    let error_line = first_error_line(log);
    let error_insn = error_line.as_ref().and_then(|_| error_insn(log));
    ParsedLog {
        stats: parse_log_stats(log),
        error_line,
        error_insn,
    }
}

/// The running kernel's release (`uname -r`), to record beside every
/// comparison with it: the verifier's behaviour changes between releases.
pub fn kernel_release() -> String {
    // SAFETY: utsname is plain bytes; uname fills it and NUL-terminates
    // each field.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `_LINUX_CAPABILITY_VERSION_3`: capget/capset with two 32-bit words.
const CAP_VERSION_3: u32 = 0x2008_0522;

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

/// `CAP_NET_ADMIN`, as a bit of a `keep_caps` mask.
pub const CAP_NET_ADMIN_BIT: u64 = 1 << 12;

/// Clears the calling thread's effective capability set but `keep` (the permitted set
/// is kept; capabilities are per thread in Linux, so other threads keep
/// theirs).
fn drop_effective_caps(keep: u64) -> Result<(), i32> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData records for version 3 into `data`,
    // which has room for them; `hdr` is a valid header.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM));
    }
    data[0].effective &= keep as u32;
    data[1].effective &= (keep >> 32) as u32;
    // SAFETY: as above; capset only reads them.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM));
    }
    Ok(())
}

/// Loads a program as an unprivileged user would: in a new thread whose
/// effective capabilities (CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON,
/// CAP_NET_ADMIN...) are all dropped, so the verifier runs with
/// `allow_ptr_leaks`, `bypass_spec_v1` and friends off. The kernel accepts
/// such loads only when `kernel.unprivileged_bpf_disabled` is 0, and only of
/// socket filters (and cgroup_skb programs when `keep_caps` keeps
/// CAP_NET_ADMIN, bit 12); otherwise the outcome is the kernel's `EPERM`.
/// `keep_caps` is a mask of the capabilities (bit N = capability N) left in
/// the effective set. The maps in `fd_array` may have been created with
/// privileges.
pub fn load_program_unprivileged(
    req: &ProgLoad<'_>,
    keep_caps: u64,
) -> Result<LoadOutcome, KernelError> {
    with_effective_caps(keep_caps, || load_program(req))
}

/// Runs `f` in a new thread whose effective capabilities are only those of
/// `keep_caps` (bit N = capability N), for loads an unprivileged user would
/// make (see [`load_program_unprivileged`]); the calling thread keeps its
/// own.
pub fn with_effective_caps<R: Send>(
    keep_caps: u64,
    f: impl FnOnce() -> R + Send,
) -> Result<R, KernelError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            drop_effective_caps(keep_caps).map_err(|e| {
                KernelError::new("capset", e)
                    .with_context("dropping the effective capabilities for an unprivileged load")
            })?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| {
            Err(KernelError::new("capset", libc::EFAULT)
                .with_context("the unprivileged load's thread panicked"))
        })
    })
}

/// Lines the verifier prints after the error, which are not the error.
fn is_trailer(line: &str) -> bool {
    let l = line.trim();
    l.is_empty()
        || l.starts_with("processed ")
        || l.starts_with("verification time ")
        || l.starts_with("stack depth ")
        || l.starts_with("mark_precise")
        || l.starts_with("-- END PROG LOAD LOG --")
        || l.starts_with("Live regs before insn")
        // The two states `infinite loop detected` prints after itself.
        || l.starts_with("cur state:")
        || l.starts_with("old state:")
        // Source lines the log interleaves from line info.
        || l.starts_with("; ")
}

/// The line that says why the program was refused: the last line of the log
/// that is not one of the statistics lines after it.
pub fn first_error_line(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .map(|l| match l.find("verification time ") {
            // The error line does not always end in a newline, and the
            // statistics line then sticks to it.
            Some(i) if i > 0 => &l[..i],
            _ => l,
        })
        .find(|l| !is_trailer(l))
        .map(|l| l.trim().to_string())
}

/// The last `n` lines of the log that are not statistics or state lines
/// after the error, in log order: the error line and the `n - 1` lines
/// before it (where the kernel says why in two lines, such as
/// `invalid access to map value, ...` then `R0 max value is outside of the
/// allowed memory range`). Fewer when the log is shorter.
pub fn last_error_lines(log: &str, n: usize) -> Vec<String> {
    let mut lines: Vec<String> = log
        .lines()
        .rev()
        .map(|l| match l.find("verification time ") {
            Some(i) if i > 0 => &l[..i],
            _ => l,
        })
        .skip_while(|l| is_trailer(l))
        .take(n)
        .map(|l| l.trim().to_string())
        .collect();
    lines.reverse();
    lines
}

/// Whether a log line is one the verifier prints after its error line
/// (statistics, the two states of `infinite loop detected`, source lines):
/// the lines [`first_error_line`] skips.
pub fn is_trailer_line(line: &str) -> bool {
    is_trailer(line)
}

/// The instruction the verifier was at when it gave up: the last `N: (op) ...`
/// line of the log.
fn error_insn(log: &str) -> Option<usize> {
    log.lines().rev().find_map(|l| {
        let (n, rest) = l.split_once(": (")?;
        if rest.len() >= 3 && rest.as_bytes()[2] == b')' {
            n.trim().parse().ok()
        } else {
            None
        }
    })
}

/// A loaded program; unloaded when dropped (and nothing else holds it).
#[derive(Debug)]
pub struct KernelProg {
    fd: OwnedFd,
    pub prog_type: u32,
}

/// Input of `BPF_PROG_TEST_RUN`.
#[derive(Debug, Clone, Default)]
pub struct TestRun<'a> {
    pub data: &'a [u8],
    /// Room for the output data; 0 means `data.len() + 256` (XDP may grow the packet).
    pub data_out_size: usize,
    pub ctx: Option<&'a [u8]>,
    /// Room for the output context; 0 means room for any context struct when one is given (the kernel cuts it to the struct's size), none otherwise.
    pub ctx_out_size: usize,
    /// 0 or 1: run once.
    pub repeat: u32,
    pub flags: u32,
    pub cpu: u32,
}

/// What a test run gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value (`r0`, truncated to 32 bits by the kernel).
    pub retval: u32,
    pub data_out: Vec<u8>,
    pub ctx_out: Vec<u8>,
    /// Mean nanoseconds per run over `repeat` runs, as the kernel measured it.
    pub duration_ns: u32,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says about a program.
#[derive(Debug, Clone)]
pub struct ProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub name: String,
    pub xlated_len: u32,
    pub jited_len: u32,
    pub verified_insns: u32,
    pub map_ids: Vec<u32>,
    pub run_time_ns: u64,
    pub run_cnt: u64,
}

impl KernelProg {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// `BPF_PROG_TEST_RUN`.
    pub fn test_run(&self, run: &TestRun<'_>) -> Result<TestRunOutput, KernelError> {
        let out_size = if run.data_out_size == 0 {
            run.data.len() + 256
        } else {
            run.data_out_size
        };
        let mut data_out = vec![0u8; out_size];
        let ctx_in = run.ctx.unwrap_or(&[]);
        // Room for the whole context struct whatever part of it was given
        // (the kernel fails with ENOSPC, after the run, when ctx_out is
        // smaller than the struct); cut to the struct's size below.
        let ctx_out_size = if run.ctx_out_size == 0 {
            if ctx_in.is_empty() {
                0
            } else {
                ctx_in.len().max(1024)
            }
        } else {
            run.ctx_out_size
        };
        let mut ctx_out = vec![0u8; ctx_out_size];
        let mut attr = sys::TestRunAttr {
            prog_fd: self.raw_fd() as u32,
            data_size_in: run.data.len() as u32,
            data_size_out: data_out.len() as u32,
            data_in: if run.data.is_empty() {
                0
            } else {
                ptr(run.data.as_ptr())
            },
            data_out: if data_out.is_empty() {
                0
            } else {
                ptr(data_out.as_mut_ptr())
            },
            repeat: run.repeat,
            ctx_size_in: ctx_in.len() as u32,
            ctx_size_out: ctx_out.len() as u32,
            ctx_in: if ctx_in.is_empty() {
                0
            } else {
                ptr(ctx_in.as_ptr())
            },
            ctx_out: if ctx_out.is_empty() {
                0
            } else {
                ptr(ctx_out.as_mut_ptr())
            },
            flags: run.flags,
            cpu: run.cpu,
            ..Default::default()
        };
        sys::bpf(sys::BPF_PROG_TEST_RUN, &mut attr)
            .map_err(|e| KernelError::new("BPF_PROG_TEST_RUN", e))?;
        data_out.truncate(attr.data_size_out as usize);
        ctx_out.truncate(attr.ctx_size_out as usize);
        Ok(TestRunOutput {
            retval: attr.retval,
            data_out,
            ctx_out,
            duration_ns: attr.duration,
        })
    }

    /// `BPF_PROG_TEST_RUN` of a program that takes a context and no data
    /// (`raw_tracepoint`: the tracepoint's arguments; `syscall`: the
    /// caller's struct): one run on `ctx`, with no data, no repeat and no
    /// `ctx_out`, which those types refuse (EINVAL). A `syscall` program's
    /// writes to its context come back in `ctx`, as the kernel copies it
    /// back to `ctx_in`; `raw_tracepoint`'s do not. Returns the retval.
    pub fn test_run_ctx(&self, ctx: &mut [u8]) -> Result<u32, KernelError> {
        let mut attr = sys::TestRunAttr {
            prog_fd: self.raw_fd() as u32,
            ctx_size_in: ctx.len() as u32,
            ctx_in: if ctx.is_empty() {
                0
            } else {
                ptr(ctx.as_mut_ptr())
            },
            ..Default::default()
        };
        sys::bpf(sys::BPF_PROG_TEST_RUN, &mut attr)
            .map_err(|e| KernelError::new("BPF_PROG_TEST_RUN", e))?;
        Ok(attr.retval)
    }

    fn raw_info(&self, info: &mut sys::ProgInfoRaw) -> Result<(), KernelError> {
        let mut attr = sys::InfoByFdAttr {
            bpf_fd: self.raw_fd() as u32,
            info_len: std::mem::size_of::<sys::ProgInfoRaw>() as u32,
            info: ptr(info as *mut _),
        };
        sys::bpf(sys::BPF_OBJ_GET_INFO_BY_FD, &mut attr)
            .map(|_| ())
            .map_err(|e| KernelError::new("BPF_OBJ_GET_INFO_BY_FD", e))
    }

    pub fn info(&self) -> Result<ProgInfo, KernelError> {
        let mut info = sys::ProgInfoRaw::default();
        self.raw_info(&mut info)?;
        let mut map_ids = vec![0u32; info.nr_map_ids as usize];
        if !map_ids.is_empty() {
            let mut again = sys::ProgInfoRaw {
                nr_map_ids: map_ids.len() as u32,
                map_ids: ptr(map_ids.as_mut_ptr()),
                ..Default::default()
            };
            self.raw_info(&mut again)?;
        }
        let end = info.name.iter().position(|&b| b == 0).unwrap_or(16);
        Ok(ProgInfo {
            prog_type: info.prog_type,
            id: info.id,
            tag: info.tag,
            name: String::from_utf8_lossy(&info.name[..end]).into_owned(),
            xlated_len: info.xlated_prog_len,
            jited_len: info.jited_prog_len,
            verified_insns: info.verified_insns,
            map_ids,
            run_time_ns: info.run_time_ns,
            run_cnt: info.run_cnt,
        })
    }

    /// The instructions after the verifier's rewrites (as `bpftool prog dump xlated`).
    pub fn xlated(&self) -> Result<Vec<u8>, KernelError> {
        let mut info = sys::ProgInfoRaw::default();
        self.raw_info(&mut info)?;
        let mut buf = vec![0u8; info.xlated_prog_len as usize];
        let mut again = sys::ProgInfoRaw {
            xlated_prog_len: buf.len() as u32,
            xlated_prog_insns: ptr(buf.as_mut_ptr()),
            ..Default::default()
        };
        self.raw_info(&mut again)?;
        buf.truncate(again.xlated_prog_len as usize);
        Ok(buf)
    }

    /// The kernel JIT's machine code (as `bpftool prog dump jited`).
    pub fn jited(&self) -> Result<Vec<u8>, KernelError> {
        let mut info = sys::ProgInfoRaw::default();
        self.raw_info(&mut info)?;
        let mut buf = vec![0u8; info.jited_prog_len as usize];
        let mut again = sys::ProgInfoRaw {
            jited_prog_len: buf.len() as u32,
            jited_prog_insns: ptr(buf.as_mut_ptr()),
            ..Default::default()
        };
        self.raw_info(&mut again)?;
        buf.truncate(again.jited_prog_len as usize);
        Ok(buf)
    }
}

/// A BTF blob loaded into the kernel (`BPF_BTF_LOAD`).
#[derive(Debug)]
pub struct KernelBtf {
    fd: OwnedFd,
}

impl KernelBtf {
    /// Loads raw BTF (the `.BTF` section's bytes). On refusal, the error
    /// carries the kernel's BTF log line.
    pub fn load(btf: &[u8]) -> Result<KernelBtf, (KernelError, String)> {
        let mut log = vec![0u8; 64 * 1024];
        let mut attr = sys::BtfLoadAttr {
            btf: ptr(btf.as_ptr()),
            btf_size: btf.len() as u32,
            ..Default::default()
        };
        match sys::bpf_fd(sys::BPF_BTF_LOAD, &mut attr) {
            Ok(fd) => Ok(KernelBtf { fd }),
            Err(_) => {
                // Again with a log, to say why.
                attr.btf_log_buf = ptr(log.as_mut_ptr());
                attr.btf_log_size = log.len() as u32;
                attr.btf_log_level = 1;
                match sys::bpf_fd(sys::BPF_BTF_LOAD, &mut attr) {
                    Ok(fd) => Ok(KernelBtf { fd }),
                    Err(e) => {
                        let text = log_text(&log);
                        let line = first_error_line(&text).unwrap_or_default();
                        Err((KernelError::new("BPF_BTF_LOAD", e), line))
                    }
                }
            }
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_and_stats_from_a_refusal_log() {
        let log = "0: R1=ctx() R10=fp0\n0: (b7) r0 = 0\n1: (61) r2 = *(u32 *)(r1 +4096)\n\
                   invalid bpf_context access off=4096 size=4\n\
                   processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(
            first_error_line(log).as_deref(),
            Some("invalid bpf_context access off=4096 size=4")
        );
        assert_eq!(error_insn(log), Some(1));
        assert_eq!(parse_stats(log), (Some(2), None));
        let ok = "processed 5 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n\
                  verification time 12 usec\nstack depth 8\n";
        assert_eq!(parse_stats(ok), (Some(5), Some(12)));
        let glued = "; for (i = 0; i < n; i++) @ loop.c:18\n5: (07) r1 += 1\nR1 invalid mem access 'scalar'verification time 17 usec\n\
                     stack depth 0\n";
        assert_eq!(
            first_error_line(glued).as_deref(),
            Some("R1 invalid mem access 'scalar'")
        );
        let source_last =
            "infinite loop detected at insn 3\n; i++ @ loop.c:18\nprocessed 9 insns\n";
        assert_eq!(
            first_error_line(source_last).as_deref(),
            Some("infinite loop detected at insn 3")
        );
    }

    /// Real 6.18 logs captured on this machine (`ironbpf kernel verify
    /// --type xdp` on the corpus's nullmapref.o and bpf2bpf.o): the kernel
    /// prints `stack depth` before `processed` when it refuses.
    #[test]
    fn log_stats_of_real_refusals() {
        let nullmapref = "6: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1,map=test_map,ks=4,vs=4)\n\
            ; *value = 1; @ nullmapref.c:23\n\
            7: (63) *(u32 *)(r0 +0) = r6\n\
            R0 invalid mem access 'map_value_or_null'\n\
            verification time 142 usec\n\
            stack depth 8\n\
            processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let st = parse_log_stats(nullmapref);
        assert_eq!(
            st,
            LogStats {
                processed_insns: Some(7),
                insn_limit: Some(1_000_000),
                max_states_per_insn: Some(0),
                total_states: Some(0),
                peak_states: Some(0),
                mark_read: Some(0),
                verification_time_usec: Some(142),
                stack_depths: vec![8],
            }
        );
        assert_eq!(
            first_error_line(nullmapref).as_deref(),
            Some("R0 invalid mem access 'map_value_or_null'")
        );
        assert_eq!(error_insn(nullmapref), Some(7));
        let bpf2bpf = "48: (79) r1 = *(u64 *)(r10 -8)        ; R1=mem_or_null(id=2,sz=4) R10=fp0 fp-8=mem_or_null(id=2,sz=4)\n\
            49: (61) r1 = *(u32 *)(r1 +0)\n\
            R1 invalid mem access 'mem_or_null'\n\
            verification time 491 usec\n\
            stack depth 88+72+72\n\
            processed 50 insns (limit 1000000) max_states_per_insn 0 total_states 4 peak_states 4 mark_read 0\n";
        let st = parse_log_stats(bpf2bpf);
        assert_eq!(st.stack_depths, vec![88, 72, 72]);
        assert_eq!(st.processed_insns, Some(50));
        assert_eq!(st.total_states, Some(4));
        assert_eq!(st.peak_states, Some(4));
        assert_eq!(error_insn(bpf2bpf), Some(49));
        assert_eq!(parse_log_stats("no stats here\n"), LogStats::default());
        let parsed = parse_log(bpf2bpf);
        assert_eq!(
            parsed.error_line.as_deref(),
            Some("R1 invalid mem access 'mem_or_null'")
        );
        assert_eq!(parsed.error_insn, Some(49));
        assert_eq!(parsed.stats, st);
        // `infinite loop detected` prints the two states after itself
        // (captured from vgen seed 115 on this machine).
        let looped = "4: (c7) r7 s>>= 29                    ; R7=0\n\
            5: (05) goto pc-1\n\
            5: (05) goto pc-1\n\
            5: (05) goto pc-1\n\
            infinite loop detected at insn 5\n\
            cur state: R1=ctx() R6=0 R7=0 R9=ctx() R10=fp0\n\
            old state: R1=ctx() R6=0 R7=0 R9=ctx() R10=fp0\n\
            verification time 58 usec\n\
            stack depth 0\n\
            processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n";
        let parsed = parse_log(looped);
        assert_eq!(
            parsed.error_line.as_deref(),
            Some("infinite loop detected at insn 5")
        );
        assert_eq!(parsed.error_insn, Some(5));
        assert_eq!(parsed.stats.processed_insns, Some(9));
        assert_eq!(parsed.stats.total_states, Some(1));
    }

    #[test]
    fn kernel_release_is_unames() {
        let r = kernel_release();
        assert!(r.chars().next().is_some_and(|c| c.is_ascii_digit()), "{r}");
    }
}
