//! ironbpf's helper table: the kernel's helpers that make sense in
//! userspace, each under the kernel's id and name, with the kernel's
//! prototype ([`crate::proto::PROTOS`]) and its program types, and an
//! implementation with the kernel's results and errnos.
//!
//! [`HostEnv`] holds what the helpers read from or write to the host: the
//! identity of the "current task" (the host process, overridable), the
//! `trace_printk` sink, the program's recorded redirect, the CPU slot.
//!
//! ```
//! use ironbpf_helpers::std_helpers::{register_std_helpers, HostEnv, ProgFamily};
//! use ironbpf_helpers::HelperRegistry;
//! use std::sync::Arc;
//! let env = Arc::new(HostEnv::default());
//! let mut reg = HelperRegistry::new();
//! register_std_helpers(&mut reg, env.clone(), ProgFamily::Xdp, None);
//! assert_eq!(reg.get(5).unwrap().name(), "bpf_ktime_get_ns");
//! ```

use crate::abi::{HelperCtx, HelperError, HelperRegistry};
use crate::format::bprintf;
use ironbpf_maps::{Map, MapSet, PerfEventArray, RingBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Which flavour of the network helpers a program gets (the kernel gives
/// `bpf_redirect` different code for XDP and for tc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgFamily {
    /// XDP programs.
    Xdp,
    /// Socket filters, cgroup skb programs (an skb seen from its network header).
    SkbL3,
    /// tc programs (an skb seen from its MAC header).
    SkbL2,
    /// Tracing programs (kprobe, tracepoint, perf event, raw tracepoint).
    Tracing,
}

/// A redirect the program asked for (`bpf_redirect`, `bpf_redirect_map`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// To interface `ifindex`, with the helper's flags.
    Ifindex { ifindex: u32, flags: u64 },
    /// To slot `key` of map `map_id` (its id in the object's map set).
    Map { map_id: u32, key: u32, flags: u64 },
}

/// What helpers see of the host, and what they leave for it.
pub struct HostEnv {
    /// `bpf_get_current_pid_tgid`: `tgid << 32 | pid`; `None`: the host process's.
    pub pid_tgid: Option<u64>,
    /// `bpf_get_current_uid_gid`: `gid << 32 | uid`; `None`: the host process's.
    pub uid_gid: Option<u64>,
    /// `bpf_get_current_comm`; `None`: the host process's name.
    pub comm: Option<String>,
    /// The CPU slot the program runs on (`bpf_get_smp_processor_id`).
    pub cpu: u32,
    /// `bpf_trace_printk` lines, as trace_pipe shows their message part.
    pub trace: Mutex<Vec<String>>,
    /// The last redirect the program asked for.
    pub redirect: Mutex<Option<Redirect>>,
    /// `bpf_get_prandom_u32`'s state (xorshift; seeded from the clock).
    prandom: AtomicU64,
    /// The next `bpf_get_socket_cookie` value.
    cookie: AtomicU64,
}

impl Default for HostEnv {
    fn default() -> Self {
        let seed = now(libc::CLOCK_MONOTONIC) | 1;
        HostEnv {
            pid_tgid: None,
            uid_gid: None,
            comm: None,
            cpu: 0,
            trace: Mutex::new(Vec::new()),
            redirect: Mutex::new(None),
            prandom: AtomicU64::new(seed),
            cookie: AtomicU64::new(1),
        }
    }
}

impl HostEnv {
    /// The trace_printk lines so far, taken.
    pub fn take_trace(&self) -> Vec<String> {
        std::mem::take(&mut *self.trace.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The redirect the program asked for, taken.
    pub fn take_redirect(&self) -> Option<Redirect> {
        self.redirect
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// Nanoseconds of `clock`.
fn now(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn neg(errno: i32) -> u64 {
    (-(errno as i64)) as u64
}

/// Reads `len` bytes of host memory at `addr`, or `None` if any of them is
/// not mapped readable: `process_vm_readv` on this process reports a fault
/// as an error instead of a signal.
pub fn read_host(addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    if len == 0 {
        return Some(out);
    }
    let local = libc::iovec {
        iov_base: out.as_mut_ptr() as *mut libc::c_void,
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: the kernel writes at most `len` bytes into `out`, which we own;
    // it reads the remote range itself and fails cleanly where unmapped.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (n == len as isize).then_some(out)
}

/// A NUL-terminated host string at `addr`, at most `max - 1` bytes read
/// before the NUL; `None` on a fault before the NUL.
fn read_host_str(addr: u64, max: usize) -> Option<Vec<u8>> {
    let mut s = Vec::new();
    while s.len() + 1 < max {
        // Up to the end of the page, so that a readable string that ends
        // before an unmapped page is read.
        let a = addr + s.len() as u64;
        let chunk = ((4096 - (a % 4096)) as usize).min(max - 1 - s.len());
        let bytes = read_host(a, chunk)?;
        match bytes.iter().position(|&b| b == 0) {
            Some(z) => {
                s.extend_from_slice(&bytes[..z]);
                return Some(s);
            }
            None => s.extend_from_slice(&bytes),
        }
    }
    Some(s)
}

fn map_of(maps: &Option<Arc<MapSet>>, handle: u64) -> Result<Arc<dyn Map>, HelperError> {
    maps.as_ref()
        .and_then(|m| m.by_handle(handle))
        .ok_or_else(|| HelperError::Failed(format!("r = {handle:#x} is not a map of this program")))
}

fn ones_add(a: u32, b: u32) -> u32 {
    let (s, c) = a.overflowing_add(b);
    s.wrapping_add(c as u32)
}

/// The kernel's `csum_partial` on x86-64: a 64-bit ones' complement sum of
/// little-endian 8-byte words (the tail zero-padded), folded to 32 bits.
fn csum_partial(bytes: &[u8], seed: u32) -> u32 {
    let mut t = seed as u64;
    for c in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        let (s, carry) = t.overflowing_add(u64::from_le_bytes(w));
        t = s + carry as u64;
    }
    (t.wrapping_add(t.rotate_right(32)) >> 32) as u32
}

/// `csum_from32to16`: a 32-bit sum folded to 16 bits.
fn csum_from32to16(sum: u32) -> u16 {
    (sum.wrapping_add(sum.rotate_right(16)) >> 16) as u16
}

fn fold(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    ((s & 0xffff) + (s >> 16)) as u16
}

/// The helpers ironbpf provides, by name (the kernel's, without `bpf_`).
pub const IMPLEMENTED: &[&str] = &[
    "map_lookup_elem",
    "map_update_elem",
    "map_delete_elem",
    "map_push_elem",
    "map_pop_elem",
    "map_peek_elem",
    "map_lookup_percpu_elem",
    "probe_read",
    "probe_read_str",
    "probe_read_user",
    "probe_read_kernel",
    "probe_read_user_str",
    "probe_read_kernel_str",
    "ktime_get_ns",
    "ktime_get_boot_ns",
    "ktime_get_coarse_ns",
    "ktime_get_tai_ns",
    "jiffies64",
    "get_prandom_u32",
    "get_smp_processor_id",
    "get_numa_node_id",
    "trace_printk",
    "snprintf",
    "get_current_pid_tgid",
    "get_current_uid_gid",
    "get_current_comm",
    "get_current_task",
    "get_current_cgroup_id",
    "strtol",
    "strtoul",
    "strncmp",
    "csum_diff",
    "ringbuf_output",
    "ringbuf_reserve",
    "ringbuf_submit",
    "ringbuf_discard",
    "ringbuf_query",
    "perf_event_output",
    "skb_load_bytes",
    "skb_store_bytes",
    "l3_csum_replace",
    "l4_csum_replace",
    "skb_load_bytes_relative",
    "redirect",
    "redirect_map",
    "get_socket_cookie",
    "get_socket_uid",
    "get_hash_recalc",
    "set_hash_invalid",
    "set_hash",
    "get_cgroup_classid",
    "get_route_realm",
    "skb_pull_data",
    "csum_update",
    "csum_level",
    "xdp_get_buff_len",
    "xdp_load_bytes",
    "xdp_store_bytes",
    "get_func_ip",
];

/// `strtol`/`strtoul`'s parser (`__bpf_strtoull`): the bytes consumed, the
/// magnitude and whether a `-` came first; or the errno.
fn strtoull(buf: &[u8], flags: u64) -> Result<(usize, u64, bool), i32> {
    let mut base = (flags & 0x1f) as u32;
    if buf.is_empty() || !matches!(base, 0 | 8 | 10 | 16) || flags & !0x1f != 0 {
        return Err(libc::EINVAL);
    }
    let mut i = 0;
    while i < buf.len() && matches!(buf[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = i < buf.len() && buf[i] == b'-';
    if negative {
        i += 1;
    }
    if i == buf.len() {
        return Err(libc::EINVAL);
    }
    // The kernel parses a NUL-terminated copy of at most 63 bytes.
    let rest = &buf[i..buf.len().min(i + 63)];
    let at = |j: usize| rest.get(j).copied().unwrap_or(0);
    let mut j = 0;
    if base == 0 {
        base = if at(0) == b'0' {
            if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() {
                16
            } else {
                8
            }
        } else {
            10
        };
    }
    if base == 16 && at(0) == b'0' && at(1).eq_ignore_ascii_case(&b'x') {
        j = 2;
    }
    let start = j;
    let mut v: u64 = 0;
    let mut overflow = false;
    while j < rest.len() {
        let d = match rest[j] {
            c @ b'0'..=b'9' => (c - b'0') as u32,
            c @ b'a'..=b'f' => (c - b'a' + 10) as u32,
            c @ b'A'..=b'F' => (c - b'A' + 10) as u32,
            _ => break,
        };
        if d >= base {
            break;
        }
        match v
            .checked_mul(base as u64)
            .and_then(|x| x.checked_add(d as u64))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        j += 1;
    }
    if overflow {
        return Err(libc::ERANGE);
    }
    if j == start {
        return Err(libc::EINVAL);
    }
    Ok((i + j, v, negative))
}

/// Registers every helper of [`IMPLEMENTED`] for a program of `family`;
/// the map helpers work on `maps` (an object's maps), when given.
pub fn register_std_helpers(
    reg: &mut HelperRegistry,
    env: Arc<HostEnv>,
    family: ProgFamily,
    maps: Option<Arc<MapSet>>,
) {
    if let Some(m) = &maps {
        crate::map_calls::register_map_helpers(reg, m.clone());
    }
    let ms = maps.clone();
    reg.register_fn(
        195,
        "bpf_map_lookup_percpu_elem",
        move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&ms, a[0])?;
            let key = ctx.read(a[1], map.spec().key_size as u64)?;
            if !map.spec().is_percpu() || a[2] as usize >= map.possible_cpus() {
                return Ok(0);
            }
            let guard = ironbpf_maps::pin();
            Ok(map
                .lookup_ptr(&key, a[2] as usize, &guard)
                .map_or(0, |p| p.as_ptr() as u64))
        },
    );

    // Reads of host memory.
    let probe = |ctx: &mut HelperCtx<'_>, a: [u64; 5]| -> Result<u64, HelperError> {
        let len = a[1] as usize;
        match read_host(a[2], len) {
            Some(bytes) => {
                ctx.write(a[0], &bytes)?;
                Ok(0)
            }
            None => {
                ctx.write(a[0], &vec![0u8; len])?;
                Ok(neg(libc::EFAULT))
            }
        }
    };
    let probe_str = |ctx: &mut HelperCtx<'_>, a: [u64; 5]| -> Result<u64, HelperError> {
        let size = a[1] as usize;
        if size == 0 {
            return Ok(0);
        }
        match read_host_str(a[2], size) {
            Some(mut s) => {
                s.push(0);
                ctx.write(a[0], &s)?;
                Ok(s.len() as u64)
            }
            None => {
                ctx.write(a[0], &vec![0u8; size])?;
                Ok(neg(libc::EFAULT))
            }
        }
    };
    for (id, name) in [
        (4, "bpf_probe_read"),
        (112, "bpf_probe_read_user"),
        (113, "bpf_probe_read_kernel"),
    ] {
        reg.register_fn(id, name, probe);
    }
    for (id, name) in [
        (45, "bpf_probe_read_str"),
        (114, "bpf_probe_read_user_str"),
        (115, "bpf_probe_read_kernel_str"),
    ] {
        reg.register_fn(id, name, probe_str);
    }

    // Time, randomness, CPU.
    reg.register_fn(5, "bpf_ktime_get_ns", |_, _| Ok(now(libc::CLOCK_MONOTONIC)));
    reg.register_fn(125, "bpf_ktime_get_boot_ns", |_, _| {
        Ok(now(libc::CLOCK_BOOTTIME))
    });
    reg.register_fn(160, "bpf_ktime_get_coarse_ns", |_, _| {
        Ok(now(libc::CLOCK_MONOTONIC_COARSE))
    });
    reg.register_fn(208, "bpf_ktime_get_tai_ns", |_, _| Ok(now(libc::CLOCK_TAI)));
    // jiffies at the kernel's usual HZ of 250, counted from boot plus the
    // kernel's INITIAL_JIFFIES offset (-300 s).
    reg.register_fn(118, "bpf_jiffies64", |_, _| {
        Ok((now(libc::CLOCK_BOOTTIME) / 4_000_000)
            .wrapping_add((-300i64 * 250) as u64 & 0xffff_ffff))
    });
    let e = env.clone();
    reg.register_fn(7, "bpf_get_prandom_u32", move |_, _| {
        let mut x = e.prandom.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        e.prandom.store(x, Ordering::Relaxed);
        Ok(x >> 32)
    });
    let e = env.clone();
    reg.register_fn(8, "bpf_get_smp_processor_id", move |_, _| Ok(e.cpu as u64));
    reg.register_fn(42, "bpf_get_numa_node_id", |_, _| Ok(0));

    // Formatting.
    let e = env.clone();
    reg.register_fn(6, "bpf_trace_printk", move |ctx: &mut HelperCtx<'_>, a| {
        let fmt = ctx.read(a[0], a[1])?;
        if fmt.last() != Some(&0) {
            return Ok(neg(libc::EINVAL));
        }
        match bprintf(&fmt, &a[2..5], &|p, n| read_host(p, n)) {
            Ok(text) => {
                let len = text.len();
                e.trace
                    .lock()
                    .unwrap_or_else(|x| x.into_inner())
                    .push(String::from_utf8_lossy(&text).into_owned());
                Ok(len as u64)
            }
            Err(errno) => Ok(neg(errno)),
        }
    });
    reg.register_fn(165, "bpf_snprintf", |ctx: &mut HelperCtx<'_>, a| {
        let fmt = ctx.read_cstr(a[2], 4096)?;
        let mut fmt0 = fmt.clone();
        fmt0.push(0);
        let (data, n) = (a[3], a[4]);
        if n % 8 != 0 || n / 8 > 12 || (n > 0 && data == 0) {
            return Ok(neg(libc::EINVAL));
        }
        let raw = ctx.read(data, n)?;
        let args: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
            .collect();
        match bprintf(&fmt0, &args, &|p, n| read_host(p, n)) {
            Ok(mut text) => {
                let total = text.len() + 1;
                let size = a[1] as usize;
                if size > 0 {
                    text.truncate(size - 1);
                    text.push(0);
                    ctx.write(a[0], &text)?;
                }
                Ok(total as u64)
            }
            Err(errno) => {
                if a[1] > 0 {
                    ctx.write(a[0], &[0])?;
                }
                Ok(neg(errno))
            }
        }
    });

    // The current task: the host process, or what the embedder set.
    let e = env.clone();
    reg.register_fn(14, "bpf_get_current_pid_tgid", move |_, _| {
        Ok(e.pid_tgid.unwrap_or_else(|| {
            // SAFETY: getpid and gettid have no preconditions.
            let (pid, tid) = unsafe { (libc::getpid() as u64, libc::gettid() as u64) };
            pid << 32 | tid
        }))
    });
    let e = env.clone();
    reg.register_fn(15, "bpf_get_current_uid_gid", move |_, _| {
        Ok(e.uid_gid.unwrap_or_else(|| {
            // SAFETY: getuid and getgid have no preconditions.
            let (uid, gid) = unsafe { (libc::getuid() as u64, libc::getgid() as u64) };
            gid << 32 | uid
        }))
    });
    let e = env.clone();
    reg.register_fn(
        16,
        "bpf_get_current_comm",
        move |ctx: &mut HelperCtx<'_>, a| {
            let size = a[1] as usize;
            let comm = match &e.comm {
                Some(c) => c.clone().into_bytes(),
                None => std::fs::read("/proc/self/comm")
                    .unwrap_or_default()
                    .trim_ascii_end()
                    .to_vec(),
            };
            let mut out = vec![0u8; size];
            let n = comm.len().min(15).min(size.saturating_sub(1));
            out[..n].copy_from_slice(&comm[..n]);
            ctx.write(a[0], &out)?;
            Ok(0)
        },
    );
    // No kernel task exists in userspace: the pointer is NULL, which a
    // program must check before it reads through it anyway.
    reg.register_fn(35, "bpf_get_current_task", |_, _| Ok(0));
    reg.register_fn(80, "bpf_get_current_cgroup_id", |_, _| {
        // The cgroup v2 id is the inode number of the process's cgroup directory.
        let path = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let rel = path
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/")
            .to_string();
        let dir = format!("/sys/fs/cgroup{}", rel.trim_end());
        Ok(std::fs::metadata(dir)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or(0))
    });

    // Strings.
    reg.register_fn(105, "bpf_strtol", |ctx: &mut HelperCtx<'_>, a| {
        let buf = ctx.read(a[0], a[1])?;
        Ok(match strtoull(&buf, a[2]) {
            Err(e) => neg(e),
            Ok((n, v, negative)) => {
                let r = if negative {
                    (v as i64).wrapping_neg()
                } else {
                    v as i64
                };
                if (negative && r > 0) || (!negative && r < 0) {
                    neg(libc::ERANGE)
                } else {
                    ctx.write(a[3], &r.to_ne_bytes())?;
                    n as u64
                }
            }
        })
    });
    reg.register_fn(106, "bpf_strtoul", |ctx: &mut HelperCtx<'_>, a| {
        let buf = ctx.read(a[0], a[1])?;
        Ok(match strtoull(&buf, a[2]) {
            Err(e) => neg(e),
            Ok((_, _, true)) => neg(libc::EINVAL),
            Ok((n, v, false)) => {
                ctx.write(a[3], &v.to_ne_bytes())?;
                n as u64
            }
        })
    });
    reg.register_fn(182, "bpf_strncmp", |ctx: &mut HelperCtx<'_>, a| {
        let s1 = ctx.read(a[0], a[1])?;
        let s2 = ctx.read_cstr(a[2], a[1] + 1)?;
        for (i, &c1) in s1.iter().enumerate() {
            let c2 = s2.get(i).copied().unwrap_or(0);
            if c1 != c2 {
                return Ok(if c1 < c2 { u64::MAX } else { 1 });
            }
            if c1 == 0 {
                break;
            }
        }
        Ok(0)
    });

    // Checksums.
    // Linux 6.13 on: the diff folded to 16 bits, any sizes (the verifier
    // bounds them), computed as csum_partial(to, seed) - csum_partial(from).
    reg.register_fn(28, "bpf_csum_diff", |ctx: &mut HelperCtx<'_>, a| {
        let (from_size, to_size, seed) = (a[1], a[3], a[4] as u32);
        let from = ctx.read(a[0], from_size)?;
        let to = ctx.read(a[2], to_size)?;
        let ret = match (from_size > 0, to_size > 0) {
            (true, true) => ones_add(csum_partial(&to, seed), !csum_partial(&from, 0)),
            (false, true) => csum_partial(&to, seed),
            (true, false) => !csum_partial(&from, !seed),
            (false, false) => seed,
        };
        Ok(csum_from32to16(ret) as u64)
    });

    // Ring buffers and perf buffers.
    let ms = maps.clone();
    reg.register_fn(
        130,
        "bpf_ringbuf_output",
        move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&ms, a[0])?;
            let rb = map
                .as_any()
                .downcast_ref::<RingBuf>()
                .ok_or_else(|| HelperError::Failed("not a ringbuf".into()))?;
            let data = ctx.read(a[1], a[2])?;
            Ok(match rb.output(&data, a[3]) {
                Ok(()) => 0,
                Err(e) => neg(e.errno),
            })
        },
    );
    let ms = maps.clone();
    reg.register_fn(131, "bpf_ringbuf_reserve", move |_, a| {
        let map = map_of(&ms, a[0])?;
        let rb = map
            .as_any()
            .downcast_ref::<RingBuf>()
            .ok_or_else(|| HelperError::Failed("not a ringbuf".into()))?;
        Ok(rb.reserve(a[1], a[2]).map_or(0, |p| p.as_ptr() as u64))
    });
    for (id, name, discard) in [
        (132, "bpf_ringbuf_submit", false),
        (133, "bpf_ringbuf_discard", true),
    ] {
        let ms = maps.clone();
        reg.register_fn(id, name, move |_, a| {
            let sample = std::ptr::NonNull::new(a[0] as *mut u8)
                .ok_or_else(|| HelperError::Failed("the record pointer is NULL".into()))?;
            let set = ms
                .as_ref()
                .ok_or_else(|| HelperError::Failed("the program has no ring buffer".into()))?;
            for id in 0..set.len() as u32 {
                if let Some(rb) = set
                    .get(id)
                    .as_ref()
                    .and_then(|m| m.as_any().downcast_ref::<RingBuf>())
                {
                    if rb.owns(sample) {
                        if discard {
                            rb.discard(sample, a[1]);
                        } else {
                            rb.submit(sample, a[1]);
                        }
                        return Ok(0);
                    }
                }
            }
            Err(HelperError::Failed(format!(
                "{:#x} is not a record this program reserved",
                a[0]
            )))
        });
    }
    let ms = maps.clone();
    reg.register_fn(134, "bpf_ringbuf_query", move |_, a| {
        let map = map_of(&ms, a[0])?;
        let rb = map
            .as_any()
            .downcast_ref::<RingBuf>()
            .ok_or_else(|| HelperError::Failed("not a ringbuf".into()))?;
        Ok(rb.query(a[1]))
    });
    let (ms, e) = (maps.clone(), env.clone());
    reg.register_fn(
        25,
        "bpf_perf_event_output",
        move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&ms, a[1])?;
            let pa = map
                .as_any()
                .downcast_ref::<PerfEventArray>()
                .ok_or_else(|| HelperError::Failed("not a perf_event_array".into()))?;
            let data = ctx.read(a[3], a[4])?;
            Ok(match pa.output(a[2], e.cpu, &data) {
                Ok(()) => 0,
                Err(err) => neg(err.errno),
            })
        },
    );

    // Packets.
    let l2 = family == ProgFamily::SkbL2;
    reg.register_fn(26, "bpf_skb_load_bytes", |ctx: &mut HelperCtx<'_>, a| {
        let (off, len) = (a[1] as u32 as u64, a[3]);
        let ok = ctx
            .packet()
            .filter(|p| off <= i32::MAX as u64 && off + len <= p.len);
        match ok {
            Some(p) => {
                let bytes = ctx.read(p.start + off, len)?;
                ctx.write(a[2], &bytes)?;
                Ok(0)
            }
            None => {
                ctx.write(a[2], &vec![0u8; len as usize])?;
                Ok(neg(libc::EFAULT))
            }
        }
    });
    reg.register_fn(
        68,
        "bpf_skb_load_bytes_relative",
        move |ctx: &mut HelperCtx<'_>, a| {
            let (off, len, start) = (a[1] as u32 as u64, a[3], a[4]);
            let Some(p) = ctx.packet() else {
                return Ok(neg(libc::EFAULT));
            };
            // Where the headers are, in the packet region (the MAC header of an
            // skb seen from L3 lies before it, outside ironbpf's region).
            let net = if l2 { 14 } else { 0 };
            let base: Option<u64> = match start {
                0 if l2 => Some(0),
                1 => Some(net),
                _ => None,
            };
            match base.filter(|b| b + off + len <= p.len) {
                Some(b) => {
                    let bytes = ctx.read(p.start + b + off, len)?;
                    ctx.write(a[2], &bytes)?;
                    Ok(0)
                }
                None => {
                    ctx.write(a[2], &vec![0u8; len as usize])?;
                    Ok(neg(libc::EFAULT))
                }
            }
        },
    );
    reg.register_fn(9, "bpf_skb_store_bytes", |ctx: &mut HelperCtx<'_>, a| {
        let (off, len, flags) = (a[1] as u32 as u64, a[3], a[4]);
        if flags & !(1 | 2) != 0 {
            return Ok(neg(libc::EINVAL));
        }
        let Some(p) = ctx.packet().filter(|p| off <= 0xffff && off + len <= p.len) else {
            return Ok(neg(libc::EFAULT));
        };
        let bytes = ctx.read(a[2], len)?;
        ctx.write(p.start + off, &bytes)?;
        Ok(0)
    });
    reg.register_fn(10, "bpf_l3_csum_replace", |ctx: &mut HelperCtx<'_>, a| {
        let (off, from, to, flags) = (a[1] as u32 as u64, a[2], a[3], a[4]);
        if flags & !0xf != 0 {
            return Ok(neg(libc::EINVAL));
        }
        let Some(p) = ctx
            .packet()
            .filter(|p| off <= 0xffff && off & 1 == 0 && off + 2 <= p.len)
        else {
            return Ok(neg(libc::EFAULT));
        };
        let at = p.start + off;
        let old = u16::from_ne_bytes(ctx.read(at, 2)?.try_into().expect("2 bytes"));
        let new = match flags & 0xf {
            0 if from != 0 => return Ok(neg(libc::EINVAL)),
            0 => fold(ones_add(to as u32, !old as u32)),
            2 => !fold(ones_add(
                ones_add(!old as u32, !(from as u16) as u32),
                to as u16 as u32,
            )),
            4 => !fold(ones_add(ones_add(!old as u32, !(from as u32)), to as u32)),
            _ => return Ok(neg(libc::EINVAL)),
        };
        let new = if flags & 0xf == 0 { !new } else { new };
        ctx.write(at, &new.to_ne_bytes())?;
        Ok(0)
    });
    reg.register_fn(11, "bpf_l4_csum_replace", |ctx: &mut HelperCtx<'_>, a| {
        let (off, from, to, flags) = (a[1] as u32 as u64, a[2], a[3], a[4]);
        const MANGLED_0: u64 = 1 << 5;
        const KNOWN: u64 = 0xf | (1 << 4) | MANGLED_0 | (1 << 6) | (1 << 7);
        if flags & !KNOWN != 0 {
            return Ok(neg(libc::EINVAL));
        }
        let Some(p) = ctx
            .packet()
            .filter(|p| off <= 0xffff && off & 1 == 0 && off + 2 <= p.len)
        else {
            return Ok(neg(libc::EFAULT));
        };
        let at = p.start + off;
        let old = u16::from_ne_bytes(ctx.read(at, 2)?.try_into().expect("2 bytes"));
        if flags & MANGLED_0 != 0 && old == 0 {
            return Ok(0);
        }
        let mut new = match flags & 0xf {
            0 if from != 0 => return Ok(neg(libc::EINVAL)),
            0 => !fold(ones_add(to as u32, !old as u32)),
            2 => !fold(ones_add(
                ones_add(!old as u32, !(from as u16) as u32),
                to as u16 as u32,
            )),
            4 => !fold(ones_add(ones_add(!old as u32, !(from as u32)), to as u32)),
            _ => return Ok(neg(libc::EINVAL)),
        };
        if flags & MANGLED_0 != 0 && new == 0 {
            new = 0xffff;
        }
        ctx.write(at, &new.to_ne_bytes())?;
        Ok(0)
    });
    reg.register_fn(39, "bpf_skb_pull_data", |ctx: &mut HelperCtx<'_>, a| {
        // The test-run skb is all linear: pulling within it succeeds.
        Ok(match ctx.packet() {
            Some(p) if a[1] <= p.len => 0,
            _ => neg(libc::ENOMEM),
        })
    });
    // The test-run skb is CHECKSUM_NONE: no checksum to update or query.
    reg.register_fn(40, "bpf_csum_update", |_, _| Ok(neg(524)));
    reg.register_fn(135, "bpf_csum_level", |_, a| {
        Ok(match a[1] {
            // BPF_CSUM_LEVEL_QUERY: only CHECKSUM_UNNECESSARY has a level.
            0 => neg(libc::EACCES),
            1..=3 => 0,
            _ => neg(libc::EINVAL),
        })
    });
    reg.register_fn(188, "bpf_xdp_get_buff_len", |ctx: &mut HelperCtx<'_>, _| {
        Ok(ctx.packet().map_or(0, |p| p.len))
    });
    for (id, name, store) in [
        (189, "bpf_xdp_load_bytes", false),
        (190, "bpf_xdp_store_bytes", true),
    ] {
        reg.register_fn(id, name, move |ctx: &mut HelperCtx<'_>, a| {
            let (off, len) = (a[1] as u32 as u64, a[3]);
            if off > 0xffff || len > 0xffff {
                return Ok(neg(libc::EFAULT));
            }
            let Some(p) = ctx.packet().filter(|p| off + len <= p.len) else {
                return Ok(neg(libc::EINVAL));
            };
            if store {
                let bytes = ctx.read(a[2], len)?;
                ctx.write(p.start + off, &bytes)?;
            } else {
                let bytes = ctx.read(p.start + off, len)?;
                ctx.write(a[2], &bytes)?;
            }
            Ok(0)
        });
    }

    // Redirects, recorded as the program's verdict.
    let e = env.clone();
    reg.register_fn(23, "bpf_redirect", move |_, a| {
        let (ifindex, flags) = (a[0] as u32, a[1]);
        if family == ProgFamily::Xdp {
            if flags != 0 {
                return Ok(0); // XDP_ABORTED
            }
            *e.redirect.lock().unwrap_or_else(|x| x.into_inner()) =
                Some(Redirect::Ifindex { ifindex, flags });
            return Ok(4); // XDP_REDIRECT
        }
        // BPF_F_INGRESS is the only flag.
        if flags & !1 != 0 {
            return Ok(2); // TC_ACT_SHOT
        }
        *e.redirect.lock().unwrap_or_else(|x| x.into_inner()) =
            Some(Redirect::Ifindex { ifindex, flags });
        Ok(7) // TC_ACT_REDIRECT
    });
    let (e, ms) = (env.clone(), maps.clone());
    reg.register_fn(51, "bpf_redirect_map", move |_, a| {
        let map = map_of(&ms, a[0])?;
        let key = a[1] as u32;
        // The low bits of flags are the action when the slot is empty.
        if key >= map.spec().max_entries {
            return Ok(a[2] & 3);
        }
        let map_id = (a[0] - ironbpf_maps::MAP_HANDLE_BASE) as u32;
        *e.redirect.lock().unwrap_or_else(|x| x.into_inner()) = Some(Redirect::Map {
            map_id,
            key,
            flags: a[2],
        });
        Ok(4) // XDP_REDIRECT
    });

    // Socket and skb metadata, as the kernel's test run gives them.
    let e = env.clone();
    reg.register_fn(46, "bpf_get_socket_cookie", move |_, _| {
        Ok(e.cookie.fetch_add(1, Ordering::Relaxed))
    });
    reg.register_fn(47, "bpf_get_socket_uid", |_, _| {
        // SAFETY: geteuid has no preconditions.
        Ok(unsafe { libc::geteuid() } as u64)
    });
    reg.register_fn(34, "bpf_get_hash_recalc", |ctx: &mut HelperCtx<'_>, _| {
        // The kernel hashes the flow with a per-boot random key; ironbpf
        // hashes the packet's first 64 bytes with a fixed one.
        let Some(p) = ctx.packet() else { return Ok(0) };
        let bytes = ctx.read(p.start, p.len.min(64))?;
        let mut h: u32 = 0x811c_9dc5;
        for b in bytes {
            h = (h ^ b as u32).wrapping_mul(0x0100_0193);
        }
        Ok(h as u64)
    });
    reg.register_fn(41, "bpf_set_hash_invalid", |_, _| Ok(0));
    reg.register_fn(48, "bpf_set_hash", |_, _| Ok(0));
    reg.register_fn(17, "bpf_get_cgroup_classid", |_, _| Ok(0));
    reg.register_fn(24, "bpf_get_route_realm", |_, _| Ok(0));
    // Tracing programs run on no kernel function here.
    reg.register_fn(173, "bpf_get_func_ip", |_, _| Ok(0));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_follows_the_kernel() {
        assert_eq!(strtoull(b"  -42xyz", 0), Ok((5, 42, true)));
        assert_eq!(strtoull(b"0x1f", 0), Ok((4, 31, false)));
        assert_eq!(strtoull(b"0x1f", 16), Ok((4, 31, false)));
        assert_eq!(strtoull(b"017", 0), Ok((3, 15, false)));
        assert_eq!(
            strtoull(b"0x", 0),
            Ok((1, 0, false)),
            "0 then a non-digit x"
        );
        assert_eq!(strtoull(b"xyz", 10), Err(libc::EINVAL));
        assert_eq!(strtoull(b"99999999999999999999", 10), Err(libc::ERANGE));
        assert_eq!(strtoull(b"12", 7), Err(libc::EINVAL), "base 7");
        assert_eq!(strtoull(b"  ", 10), Err(libc::EINVAL));
    }

    #[test]
    fn host_reads_fault_cleanly() {
        let x = 0x1122_3344u32;
        assert_eq!(
            read_host(&x as *const u32 as u64, 4),
            Some(x.to_ne_bytes().to_vec())
        );
        assert_eq!(read_host(8, 4), None);
        assert_eq!(
            read_host_str(c"hi".as_ptr() as u64, 16),
            Some(b"hi".to_vec())
        );
        assert_eq!(
            read_host_str(c"hello".as_ptr() as u64, 4),
            Some(b"hel".to_vec())
        );
        assert_eq!(read_host_str(16, 4), None);
    }

    #[test]
    fn every_implemented_helper_is_registered_under_its_kernel_id() {
        let mut reg = HelperRegistry::new();
        register_std_helpers(
            &mut reg,
            Arc::new(HostEnv::default()),
            ProgFamily::SkbL2,
            Some(Arc::new(MapSet::new())),
        );
        for name in IMPLEMENTED {
            let id = ironbpf_isa::disasm::helper_id(name)
                .unwrap_or_else(|| panic!("{name}: no kernel id"));
            let h = reg
                .get(id as i64)
                .unwrap_or_else(|| panic!("{name} (id {id}) is not registered"));
            assert_eq!(h.name(), format!("bpf_{name}"));
            assert!(
                crate::proto::proto_by_name(name).is_some(),
                "{name} has no prototype"
            );
        }
        assert!(IMPLEMENTED.len() >= 59);
    }
}
