//! Helpers of every program type: clocks, randomness, where the program
//! runs, the current task, printing, strings, `bpf_loop` and spin locks.

use crate::abi::errno::{neg, E2BIG, EINVAL, ERANGE};
use crate::abi::{HelperCtx, HelperError, HelperRegistry};
use crate::env::{clock_ns, HelperEnv, TraceRecord};
use crate::format::{bprintf, HostMemory};
use crate::table::def;
use ironbpf_isa::abi::Access;
use std::cell::Cell;
use std::sync::Arc;

/// `BPF_MAX_LOOPS`: the most iterations `bpf_loop` runs.
pub const BPF_MAX_LOOPS: u64 = 1 << 23;
/// `MAX_BPRINTF_BUF`: the buffer `bpf_trace_printk` formats into.
pub const MAX_BPRINTF_BUF: usize = 1024;
/// `MAX_BPRINTF_VARARGS`: the most arguments of `bpf_snprintf` and
/// `bpf_trace_vprintk`.
pub const MAX_BPRINTF_VARARGS: u64 = 12;

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// The next number of this thread's generator (xorshift64*, seeded from
/// the kernel's random pool), as `bpf_get_prandom_u32`'s per-CPU state.
fn prandom_u32() -> u32 {
    RNG.with(|s| {
        let mut x = s.get();
        if x == 0 {
            let mut seed = [0u8; 8];
            // SAFETY: seed is a valid 8-byte buffer.
            unsafe { libc::getrandom(seed.as_mut_ptr() as *mut libc::c_void, 8, 0) };
            x = u64::from_ne_bytes(seed) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    })
}

/// The NUMA node of the CPU this thread runs on.
fn numa_node() -> u64 {
    let (mut cpu, mut node) = (0u32, 0u32);
    // SAFETY: getcpu writes two u32s through valid pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getcpu,
            &mut cpu as *mut u32,
            &mut node as *mut u32,
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if r == 0 {
        node as u64
    } else {
        0
    }
}

/// `bpf_trace_printk` and `bpf_trace_vprintk`: format, log, and return the
/// length `bstr_printf` reports (the whole text, even past the 1024-byte
/// buffer the log keeps).
fn trace_printk(
    env: &HelperEnv,
    ctx: &mut HelperCtx<'_>,
    fmt_addr: u64,
    fmt_size: u64,
    args: &[u64],
) -> Result<u64, HelperError> {
    let fmt = ctx.read(fmt_addr, fmt_size as u32 as u64)?;
    if !fmt.contains(&0) {
        return Ok(neg(EINVAL));
    }
    let text = match bprintf(&fmt, args, &HostMemory) {
        Ok(t) => t,
        Err(e) => return Ok(neg(e)),
    };
    let cpu = ctx.state_ref().map_or(0, |s| s.cpu);
    let mut message = text.clone();
    message.truncate(MAX_BPRINTF_BUF - 1);
    env.trace().push(TraceRecord {
        pid: env.pid_tgid().0,
        comm: env.comm(),
        cpu,
        timestamp_ns: clock_ns(libc::CLOCK_MONOTONIC),
        message,
    });
    Ok(text.len() as u64)
}

/// Reads `data_len` bytes of u64 arguments, as `bpf_snprintf` and
/// `bpf_trace_vprintk` take them; `None` for an invalid length.
fn vargs(ctx: &HelperCtx<'_>, data: u64, data_len: u64) -> Result<Option<Vec<u64>>, HelperError> {
    let data_len = data_len as u32 as u64;
    if !data_len.is_multiple_of(8)
        || data_len > MAX_BPRINTF_VARARGS * 8
        || (data_len != 0 && data == 0)
    {
        return Ok(None);
    }
    let bytes = ctx.read(data, data_len)?;
    Ok(Some(
        bytes
            .chunks_exact(8)
            .filter_map(|c| c.try_into().ok().map(u64::from_ne_bytes))
            .collect(),
    ))
}

/// The kernel's `isspace` (its ctype table counts 0xa0 as a space).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

/// `__bpf_strtoull`: the characters consumed, the value and its sign, or
/// the errno.
pub fn strtoull(buf: &[u8], flags: u64) -> Result<(usize, u64, bool), i64> {
    let mut base = (flags & 0x1f) as u32;
    if buf.is_empty() || !matches!(base, 0 | 8 | 10 | 16) || flags & !0x1f != 0 {
        return Err(EINVAL);
    }
    let mut i = buf.iter().take_while(|&&c| is_space(c)).count();
    let negative = buf.get(i) == Some(&b'-');
    if negative {
        i += 1;
    }
    // At most 63 characters are parsed, as the kernel copies them into a
    // 64-byte buffer; a NUL ends them too.
    let rest = match buf.get(i..) {
        Some(r) if !r.is_empty() => r,
        _ => return Err(EINVAL),
    };
    let rest = rest.get(..63).unwrap_or(rest);
    let rest = rest.split(|&b| b == 0).next().unwrap_or(rest);
    let at = |k: usize| rest.get(k).copied().unwrap_or(0);
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
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(d) = (at(j) as char).to_digit(16).filter(|&d| d < base) {
        match value
            .checked_mul(base as u64)
            .and_then(|v| v.checked_add(d as u64))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        j += 1;
    }
    if overflow {
        return Err(ERANGE);
    }
    if j == start {
        return Err(EINVAL);
    }
    Ok((i + j, value, negative))
}

/// `bpf_strtol`'s result: the characters consumed and the value, or the
/// errno.
pub fn strtol(buf: &[u8], flags: u64) -> Result<(usize, i64), i64> {
    let (n, v, negative) = strtoull(buf, flags)?;
    if negative {
        if (v.wrapping_neg() as i64) > 0 {
            return Err(ERANGE);
        }
        Ok((n, v.wrapping_neg() as i64))
    } else {
        if (v as i64) < 0 {
            return Err(ERANGE);
        }
        Ok((n, v as i64))
    }
}

/// `bpf_strtoul`'s result.
pub fn strtoul(buf: &[u8], flags: u64) -> Result<(usize, u64), i64> {
    let (n, v, negative) = strtoull(buf, flags)?;
    if negative {
        return Err(EINVAL);
    }
    Ok((n, v))
}

pub(crate) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    // bpf_get_local_storage: the storage of the current cgroup in a cgroup
    // storage map (this CPU's copy for the per-CPU kind), created zeroed
    // when first asked for, as attaching the program creates it in the
    // kernel. (The kernel's test run gives each run a fresh, zeroed
    // storage that it does not link into the map; a comparison that
    // starts from fresh maps sees the same values.)
    let e = env.clone();
    def(reg, "get_local_storage", move |ctx, a| {
        let map = ctx.maps()?.by_handle(a[0]).ok_or_else(|| {
            HelperError::Failed(format!("r1 = {:#x} is not a map of this program", a[0]))
        })?;
        let storage = map
            .as_any()
            .downcast_ref::<ironbpf_maps::CgroupStorage>()
            .ok_or_else(|| {
                HelperError::Failed(format!(
                    "map {:?} is not a cgroup storage map",
                    map.spec().name
                ))
            })?;
        let cpu = ctx.state_ref().map_or(0, |s| s.cpu as usize);
        let cgroup = e.cgroup_id();
        storage.attach(cgroup, 0);
        storage
            .storage_ptr(cgroup, 0, cpu)
            .map(|p| p.as_ptr() as u64)
            .ok_or_else(|| HelperError::Failed("the cgroup's storage is gone".into()))
    });

    // Clocks.
    def(reg, "ktime_get_ns", |_, _| {
        Ok(clock_ns(libc::CLOCK_MONOTONIC))
    });
    def(reg, "ktime_get_boot_ns", |_, _| {
        Ok(clock_ns(libc::CLOCK_BOOTTIME))
    });
    def(reg, "ktime_get_coarse_ns", |_, _| {
        Ok(clock_ns(libc::CLOCK_MONOTONIC_COARSE))
    });
    def(reg, "ktime_get_tai_ns", |_, _| {
        Ok(clock_ns(libc::CLOCK_TAI))
    });
    let e = env.clone();
    def(reg, "jiffies64", move |_, _| {
        Ok(e.jiffies().at(clock_ns(libc::CLOCK_MONOTONIC)))
    });

    // Randomness and where the program runs.
    def(reg, "get_prandom_u32", |_, _| Ok(prandom_u32() as u64));
    def(reg, "get_smp_processor_id", |ctx, _| {
        Ok(ctx.state_ref().map_or(0, |s| s.cpu) as u64)
    });
    def(reg, "get_numa_node_id", |_, _| Ok(numa_node()));

    // The current task.
    let e = env.clone();
    def(reg, "get_current_pid_tgid", move |_, _| {
        let (pid, tgid) = e.pid_tgid();
        Ok((tgid as u64) << 32 | pid as u64)
    });
    let e = env.clone();
    def(reg, "get_current_uid_gid", move |_, _| {
        let (uid, gid) = e.uid_gid();
        Ok((gid as u64) << 32 | uid as u64)
    });
    let e = env.clone();
    def(reg, "get_current_comm", move |ctx, a| {
        // strscpy_pad: the name cut to size - 1 bytes, NUL-padded.
        let size = a[1] as u32 as usize;
        ctx.check(a[0], size as u64, Access::Store)?;
        if size == 0 {
            return Ok(0);
        }
        let mut buf = vec![0u8; size];
        // At most size - 1 bytes of the name; the rest stays NUL.
        for (d, c) in buf.iter_mut().zip(e.comm().iter()).take(size - 1) {
            *d = *c;
        }
        ctx.write(a[0], &buf)?;
        Ok(0)
    });
    let e = env.clone();
    def(reg, "get_current_cgroup_id", move |_, _| Ok(e.cgroup_id()));
    // No kernel task_struct exists in userspace: NULL, which a program
    // must check before it reads through the pointer anyway.
    def(reg, "get_current_task", |_, _| Ok(0));
    // A program run by ironbpf is attached to no kernel function and
    // carries no attach cookie: both read as 0, as in the kernel for a
    // program attached without a cookie.
    def(reg, "get_func_ip", |_, _| Ok(0));
    def(reg, "get_attach_cookie", |_, _| Ok(0));
    let e = env.clone();
    def(reg, "get_ns_current_pid_tgid", move |ctx, a| {
        let (dev, ino, out, size) = (a[0], a[1], a[2], a[3] as u32 as u64);
        ctx.check(out, size, Access::Store)?;
        // The kernel's dev_t is 32 bits; the namespace must be the task's.
        if size != 8 || dev > u32::MAX as u64 || (dev, ino) != e.pidns() {
            ctx.zero(out, size)?;
            return Ok(neg(EINVAL));
        }
        let (pid, tgid) = e.pid_tgid();
        let mut v = pid.to_ne_bytes().to_vec();
        v.extend_from_slice(&tgid.to_ne_bytes());
        ctx.write(out, &v)?;
        Ok(0)
    });

    // Printing.
    let e = env.clone();
    def(reg, "trace_printk", move |ctx, a| {
        trace_printk(&e, ctx, a[0], a[1], &[a[2], a[3], a[4]])
    });
    let e = env.clone();
    def(reg, "trace_vprintk", move |ctx, a| {
        let Some(args) = vargs(ctx, a[2], a[3])? else {
            return Ok(neg(EINVAL));
        };
        trace_printk(&e, ctx, a[0], a[1], &args)
    });
    def(reg, "snprintf", |ctx, a| {
        let (out, size) = (a[0], a[1] as u32 as u64);
        let Some(args) = vargs(ctx, a[3], a[4])? else {
            return Ok(neg(EINVAL));
        };
        // The verifier proved the format a NUL-terminated read-only string.
        let fmt = ctx.read_cstr(a[2], 1 << 16)?;
        let text = match bprintf(&fmt, &args, &HostMemory) {
            Ok(t) => t,
            Err(e) => return Ok(neg(e)),
        };
        if size > 0 {
            let mut bytes: Vec<u8> = text.iter().copied().take(size as usize - 1).collect();
            bytes.push(0);
            ctx.write(out, &bytes)?;
        }
        Ok(text.len() as u64 + 1)
    });

    // Strings.
    def(reg, "strtol", |ctx, a| {
        let buf = ctx.read(a[0], a[1] as u32 as u64)?;
        ctx.check(a[3], 8, Access::Store)?;
        let (ret, v) = match strtol(&buf, a[2]) {
            Ok((n, v)) => (n as u64, v),
            Err(e) => (neg(e), 0),
        };
        ctx.write(a[3], &v.to_ne_bytes())?;
        Ok(ret)
    });
    def(reg, "strtoul", |ctx, a| {
        let buf = ctx.read(a[0], a[1] as u32 as u64)?;
        ctx.check(a[3], 8, Access::Store)?;
        let (ret, v) = match strtoul(&buf, a[2]) {
            Ok((n, v)) => (n as u64, v),
            Err(e) => (neg(e), 0),
        };
        ctx.write(a[3], &v.to_ne_bytes())?;
        Ok(ret)
    });
    def(reg, "strncmp", |ctx, a| {
        let n = a[1] as u32 as u64;
        let s1 = ctx.read(a[0], n)?;
        let s2 = ctx.read_cstr(a[2], n)?;
        for (i, &c1) in s1.iter().enumerate() {
            let c2 = s2.get(i).copied().unwrap_or(0);
            if c1 != c2 {
                return Ok(if c1 < c2 { -1i64 as u64 } else { 1 });
            }
            if c1 == 0 {
                break;
            }
        }
        Ok(0)
    });

    // Loops.
    def(reg, "loop", |ctx, a| {
        let (nr, func, cb_ctx, flags) = (a[0] as u32 as u64, a[1], a[2], a[3]);
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        if nr > BPF_MAX_LOOPS {
            return Ok(neg(E2BIG));
        }
        for i in 0..nr {
            // 0: go on, 1: stop (the verifier allows no other value).
            if ctx.call_function(func, [i, cb_ctx, 0, 0, 0], None)? != 0 {
                return Ok(i + 1);
            }
        }
        Ok(nr)
    });

    // Spin locks in map values.
    def(reg, "spin_lock", |ctx, a| {
        let addr = a[0];
        ctx.check(addr, 4, Access::Atomic)?;
        if addr % 4 != 0 {
            return Err(HelperError::Failed(format!(
                "the lock at {addr:#x} is not 4-byte aligned"
            )));
        }
        // The run's own locks (`RunState::spin_locks_held`): a second lock
        // of one is refused instead of spinning forever (the kernel's
        // verifier refuses it).
        if ctx.state()?.spin_locks_held.contains(&addr) {
            return Err(HelperError::Failed(format!(
                "the lock at {addr:#x} is already held by this program: a second bpf_spin_lock would never return (the kernel's verifier refuses it)"
            )));
        }
        // SAFETY: checked to be 4 aligned, writable bytes of the run.
        let l = unsafe { std::sync::atomic::AtomicU32::from_ptr(addr as *mut u32) };
        let mut spins = 0u32;
        while l
            .compare_exchange_weak(
                0,
                1,
                std::sync::atomic::Ordering::Acquire,
                std::sync::atomic::Ordering::Relaxed,
            )
            .is_err()
        {
            spins += 1;
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        ctx.state()?.spin_locks_held.push(addr);
        Ok(0)
    });
    def(reg, "spin_unlock", |ctx, a| {
        let addr = a[0];
        ctx.check(addr, 4, Access::Atomic)?;
        if addr % 4 != 0 {
            return Err(HelperError::Failed(format!(
                "the lock at {addr:#x} is not 4-byte aligned"
            )));
        }
        ctx.state()?.spin_locks_held.retain(|&x| x != addr);
        // SAFETY: checked to be 4 aligned, writable bytes of the run.
        let l = unsafe { std::sync::atomic::AtomicU32::from_ptr(addr as *mut u32) };
        l.store(0, std::sync::atomic::Ordering::Release);
        Ok(0)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_follows_the_kernel() {
        assert_eq!(strtol(b"123", 0), Ok((3, 123)));
        assert_eq!(strtol(b"  -42xyz", 10), Ok((5, -42)));
        assert_eq!(strtol(b"0x1f", 0), Ok((4, 31)));
        assert_eq!(strtol(b"0x1f", 16), Ok((4, 31)));
        assert_eq!(strtol(b"1f", 16), Ok((2, 31)));
        assert_eq!(strtol(b"017", 0), Ok((3, 15)));
        assert_eq!(strtol(b"0x", 0), Ok((1, 0)), "0 in octal, x not a digit");
        assert_eq!(strtol(b"0xg", 16), Err(EINVAL));
        assert_eq!(strtol(b"abc", 10), Err(EINVAL));
        assert_eq!(strtol(b"   ", 10), Err(EINVAL));
        assert_eq!(strtol(b"1", 2), Err(EINVAL), "base 2 is not allowed");
        assert_eq!(strtol(b"1", 0x20), Err(EINVAL), "flags beyond the base");
        assert_eq!(strtol(b"9223372036854775807", 10), Ok((19, i64::MAX)));
        assert_eq!(strtol(b"9223372036854775808", 10), Err(ERANGE));
        assert_eq!(strtol(b"-9223372036854775808", 10), Ok((20, i64::MIN)));
        assert_eq!(strtol(b"-9223372036854775809", 10), Err(ERANGE));
        assert_eq!(strtol(b"99999999999999999999", 10), Err(ERANGE));
        assert_eq!(strtoul(b"18446744073709551615", 10), Ok((20, u64::MAX)));
        assert_eq!(strtoul(b"-1", 10), Err(EINVAL));
        assert_eq!(
            strtol(b"12\x0034", 10),
            Ok((2, 12)),
            "a NUL ends the number"
        );
    }
}
