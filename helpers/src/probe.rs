//! `bpf_probe_read_{user,kernel}` and their `_str` forms (and the legacy
//! `bpf_probe_read`, `bpf_probe_read_str`): reads of host memory at any
//! address. In userspace the host process's memory is both "kernel" and
//! "user" memory; the reads go through [`crate::hostmem`], so an unmapped
//! address gives `-EFAULT` (and a zeroed destination), never a crash. The
//! `_kernel` reads refuse addresses in the never-mapped low 64 KiB with
//! `-ERANGE`, as the kernel refuses NULL and every user address.

use crate::abi::errno::{neg, EFAULT, ERANGE};
use crate::abi::{HelperCtx, HelperError, HelperRegistry};
use crate::hostmem;
use crate::table::def;
use ironbpf_isa::abi::Access;

/// Addresses below this never map (`vm.mmap_min_addr`'s usual 64 KiB):
/// the `_kernel` reads refuse them with `-ERANGE`, as the kernel refuses
/// every address outside its own half (NULL pointers, above all).
pub const KERNEL_MIN_ADDR: u64 = 0x10000;

/// Which memory a read means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Space {
    Kernel,
    User,
}

/// `bpf_probe_read_*`: `size` bytes from `src` into the program's `dst`.
fn probe_read(ctx: &mut HelperCtx<'_>, a: [u64; 5], space: Space) -> Result<u64, HelperError> {
    let (dst, size, src) = (a[0], a[1] as u32 as u64, a[2]);
    ctx.check(dst, size, Access::Store)?;
    if space == Space::Kernel && src < KERNEL_MIN_ADDR {
        ctx.zero(dst, size)?;
        return Ok(neg(ERANGE));
    }
    let mut buf = vec![0u8; size as usize];
    if hostmem::read(src, &mut buf) {
        ctx.write(dst, &buf)?;
        Ok(0)
    } else {
        ctx.zero(dst, size)?;
        Ok(neg(EFAULT))
    }
}

/// `bpf_probe_read_*_str`: a NUL-terminated string of at most `size - 1`
/// bytes and its NUL; returns the bytes written with the NUL. Bytes past
/// the NUL are left alone, as the kernel leaves them.
fn probe_read_str(ctx: &mut HelperCtx<'_>, a: [u64; 5], space: Space) -> Result<u64, HelperError> {
    let (dst, size, src) = (a[0], a[1] as u32 as u64, a[2]);
    ctx.check(dst, size, Access::Store)?;
    if size == 0 {
        return Ok(0);
    }
    if space == Space::Kernel && src < KERNEL_MIN_ADDR {
        ctx.zero(dst, size)?;
        return Ok(neg(ERANGE));
    }
    let mut buf = vec![0u8; size as usize];
    match hostmem::read_str(src, &mut buf) {
        Some(n) => {
            ctx.write(dst, buf.get(..n).unwrap_or(&buf))?;
            Ok(n as u64)
        }
        None => {
            ctx.zero(dst, size)?;
            Ok(neg(EFAULT))
        }
    }
}

pub(crate) fn register(reg: &mut HelperRegistry) {
    // The legacy reads take a low (user) address as a user read, as x86's
    // bpf_probe_read_compat does.
    for (name, space) in [
        ("probe_read", Space::User),
        ("probe_read_user", Space::User),
        ("probe_read_kernel", Space::Kernel),
    ] {
        def(reg, name, move |ctx, a| probe_read(ctx, a, space));
    }
    for (name, space) in [
        ("probe_read_str", Space::User),
        ("probe_read_user_str", Space::User),
        ("probe_read_kernel_str", Space::Kernel),
    ] {
        def(reg, name, move |ctx, a| probe_read_str(ctx, a, space));
    }
}
