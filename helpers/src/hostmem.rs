//! Fault-safe reads of host memory at arbitrary addresses, for the
//! `bpf_probe_read_*` helpers: the kernel reads through its exception
//! tables; ironbpf asks the kernel to copy with `process_vm_readv` on its
//! own process, which fails instead of faulting when a page is not mapped.
//! Nothing here dereferences the address itself.

const PAGE: u64 = 4096;

/// Copies `dst.len()` bytes from host address `addr`; `false` if any of
/// them is not readable (then `dst` holds what came before the hole).
pub fn read(addr: u64, dst: &mut [u8]) -> bool {
    if dst.is_empty() {
        return true;
    }
    if addr.checked_add(dst.len() as u64).is_none() {
        return false;
    }
    let mut done = 0usize;
    while let Some(rest) = dst.get_mut(done..).filter(|r| !r.is_empty()) {
        let n = copy(addr + done as u64, rest);
        if n == 0 {
            return false;
        }
        done += n;
    }
    true
}

/// One `process_vm_readv`: the number of bytes copied (0 on a fault).
fn copy(addr: u64, dst: &mut [u8]) -> usize {
    let local = libc::iovec {
        iov_base: dst.as_mut_ptr() as *mut libc::c_void,
        iov_len: dst.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: dst.len(),
    };
    // SAFETY: the local iovec describes `dst`, writable for its length; the
    // remote one is only read by the kernel, which checks it.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n <= 0 {
        0
    } else {
        n as usize
    }
}

/// Copies a NUL-terminated string from host address `addr` into `dst`, as
/// the kernel's `strncpy_from_*_nofault` does: at most `dst.len() - 1`
/// bytes and a NUL. Returns the bytes written with the NUL, or `None` if
/// the string runs into unreadable memory before its NUL or the limit.
/// Bytes after the NUL are left as they were.
pub fn read_str(addr: u64, dst: &mut [u8]) -> Option<usize> {
    let Some((last, body)) = dst.split_last_mut() else {
        return Some(0);
    };
    let max = body.len();
    let mut got = 0usize;
    // Read page by page, so that a string ending before an unmapped page
    // is read whole. `body` is written in disjoint, in-order chunks.
    let mut rest = &mut body[..];
    while !rest.is_empty() {
        let a = addr.checked_add(got as u64)?;
        let in_page = (PAGE - a % PAGE) as usize;
        let n = in_page.min(max - got);
        let mut chunk = vec![0u8; n];
        if !read(a, &mut chunk) {
            return None;
        }
        let (out, after) = std::mem::take(&mut rest).split_at_mut(n);
        if let Some(z) = chunk.iter().position(|&b| b == 0) {
            for (d, c) in out.iter_mut().zip(&chunk).take(z + 1) {
                *d = *c;
            }
            return Some(got + z + 1);
        }
        out.copy_from_slice(&chunk);
        got += n;
        rest = after;
    }
    *last = 0;
    Some(max + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mapped_memory_and_refuses_holes() {
        let data = *b"hello\0world";
        let mut out = [0u8; 11];
        assert!(read(data.as_ptr() as u64, &mut out));
        assert_eq!(out, data);
        assert!(!read(0, &mut out));
        assert!(!read(8, &mut out[..1]));
        assert!(!read(u64::MAX - 3, &mut out));
        let mut s = [0xaau8; 16];
        assert_eq!(read_str(data.as_ptr() as u64, &mut s), Some(6));
        assert_eq!(&s[..7], b"hello\0\xaa");
        let mut s = [0u8; 4];
        assert_eq!(read_str(data.as_ptr() as u64, &mut s), Some(4));
        assert_eq!(&s, b"hel\0");
        assert_eq!(read_str(16, &mut s), None);
    }
}
