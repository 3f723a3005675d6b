//! The format language of `bpf_trace_printk`, `bpf_trace_vprintk` and
//! `bpf_snprintf`, checked as the kernel's `bpf_bprintf_prepare` checks it
//! and rendered as its `bstr_printf` renders it.
//!
//! Accepted: `%%`; the flags `0 + - space` and a width (no precision, no
//! `*`); `%d %i %u %x %X` with `l` or `ll`; `%c`; `%s` (and `%pks`, `%pus`)
//! followed by the end, a space or punctuation; `%p` bare or as `%px %pK
//! %ps %pS %pB` and `%pI4 %pi4 %pI6 %pi6`. Anything else, a byte that is
//! neither printable ASCII nor a space, or more conversions than arguments
//! is refused with `EINVAL`. The arguments are prepared in a 512-byte
//! buffer as the kernel prepares them (strings are copied into it), so
//! a format that overflows it fails with `ENOSPC` and a long string is cut
//! where the kernel cuts it.
//!
//! Pointers: `%px` prints the value; `%p` and `%pK` (with
//! `kptr_restrict = 0`) print a hash of it, as the kernel does, keyed per
//! process (the kernel keys it per boot, so the digits differ; the shape,
//! sixteen hex digits of which the first eight are zeros, is the same);
//! NULL and error pointers print as they are. `%ps`/`%pS`/`%pB` print
//! `0x` and the address in hex, as the kernel does for an address that is
//! no kernel symbol (ironbpf knows none).

use std::sync::OnceLock;

/// `MAX_BPRINTF_BIN_ARGS`: the buffer the arguments are prepared in.
const BIN_ARGS: usize = 512;

/// Where the renderer reads what `%s` and `%pI4` point to: host memory,
/// fault-safe.
pub trait FormatMemory {
    /// A NUL-terminated string at `addr`, copied into a buffer of `cap`
    /// bytes as `strncpy_from_kernel_nofault` copies it: the bytes without
    /// the NUL (at most `cap - 1`), or `None` on a fault.
    fn read_str(&self, addr: u64, cap: usize) -> Option<Vec<u8>>;
    /// `len` bytes at `addr`, or `None` on a fault.
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
}

/// Host memory through [`crate::hostmem`].
pub struct HostMemory;

impl FormatMemory for HostMemory {
    fn read_str(&self, addr: u64, cap: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; cap];
        let n = crate::hostmem::read_str(addr, &mut buf)?;
        buf.truncate(n.saturating_sub(1));
        Some(buf)
    }
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        crate::hostmem::read(addr, &mut buf).then_some(buf)
    }
}

/// An argument as `bpf_bprintf_prepare` leaves it for `bstr_printf`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Prepared {
    /// An `int` (`%d` and friends without `l`).
    Int(u32),
    /// A `long`, a `long long` or a pointer printed from its value.
    Long(u64),
    /// A `%c`.
    Char(u8),
    /// A string copied in: `%s`, `%pks`, `%pus`, and `%pI4`-style
    /// addresses the kernel formats in advance.
    Str(Vec<u8>),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_punct(c: u8) -> bool {
    c.is_ascii_punctuation()
}

/// `bpf_bprintf_prepare`: checks `fmt` (up to its NUL) against `args` and
/// prepares the arguments; the errno on refusal.
fn prepare(fmt: &[u8], args: &[u64], mem: &dyn FormatMemory) -> Result<Vec<Prepared>, i64> {
    use crate::abi::errno::{EINVAL, ENOSPC};
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    // The prepared arguments' size, as the kernel packs them.
    let mut used = 0usize;
    let mut i = 0usize;
    while i < fmt.len() {
        let c = at(i);
        if !(c.is_ascii_graphic() || c == b' ' || is_space(c)) {
            return Err(EINVAL);
        }
        if c != b'%' {
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            i += 2;
            continue;
        }
        let Some(&arg) = args.get(out.len()) else {
            return Err(EINVAL);
        };
        i += 1;
        while matches!(at(i), b'0' | b'+' | b'-' | b' ') {
            i += 1;
        }
        if (b'1'..=b'9').contains(&at(i)) {
            while at(i).is_ascii_digit() {
                i += 1;
            }
        }
        let long = |out: &mut Vec<Prepared>, used: &mut usize, v: Prepared, size: usize| {
            *used = used.next_multiple_of(4);
            if BIN_ARGS.saturating_sub(*used) < size {
                return Err(ENOSPC);
            }
            *used += size;
            out.push(v);
            Ok(())
        };
        let string = |out: &mut Vec<Prepared>, used: &mut usize, addr: u64| {
            if *used >= BIN_ARGS {
                return Err(ENOSPC);
            }
            let s = mem.read_str(addr, BIN_ARGS - *used).unwrap_or_default();
            *used += s.len() + 1;
            out.push(Prepared::Str(s));
            Ok(())
        };
        match at(i) {
            b'p' => {
                let next = at(i + 1);
                if matches!(next, b'k' | b'u') && at(i + 2) == b's' {
                    i += 3;
                    if at(i) != 0 && !is_space(at(i)) && !is_punct(at(i)) {
                        return Err(EINVAL);
                    }
                    string(&mut out, &mut used, arg)?;
                    continue;
                }
                if next == 0
                    || is_space(next)
                    || is_punct(next)
                    || matches!(next, b'K' | b'x' | b's' | b'S')
                {
                    // Skips the character after `p` too, as the kernel does.
                    long(&mut out, &mut used, Prepared::Long(arg), 8)?;
                    i += 2;
                    continue;
                }
                if next == b'B' {
                    let s = format!("{:#x}", arg).into_bytes();
                    used += s.len() + 1;
                    out.push(Prepared::Str(s));
                    i += 2;
                    continue;
                }
                if !matches!(next, b'i' | b'I') || !matches!(at(i + 2), b'4' | b'6') {
                    return Err(EINVAL);
                }
                let v6 = at(i + 2) == b'6';
                let n = if v6 { 16 } else { 4 };
                if BIN_ARGS.saturating_sub(used) < n {
                    return Err(ENOSPC);
                }
                // Zeros for an address that cannot be read, as the kernel
                // formats it (and for a short read from a host's memory).
                let mut b = mem.read(arg, n).unwrap_or_default();
                b.resize(n, 0);
                let q = |k: usize| b.get(k).copied().unwrap_or(0);
                let s = match (next, v6) {
                    (b'I', false) => format!("{}.{}.{}.{}", q(0), q(1), q(2), q(3)),
                    (_, false) => format!("{:03}.{:03}.{:03}.{:03}", q(0), q(1), q(2), q(3)),
                    (b'I', true) => b
                        .chunks(2)
                        .map(|w| match w {
                            [x, y] => format!("{x:02x}{y:02x}"),
                            _ => String::new(),
                        })
                        .collect::<Vec<_>>()
                        .join(":"),
                    (_, true) => b.iter().map(|x| format!("{x:02x}")).collect(),
                };
                used += s.len() + 1;
                out.push(Prepared::Str(s.into_bytes()));
                i += 3;
            }
            b's' => {
                if at(i + 1) != 0 && !is_space(at(i + 1)) && !is_punct(at(i + 1)) {
                    return Err(EINVAL);
                }
                string(&mut out, &mut used, arg)?;
                i += 1;
            }
            b'c' => {
                if used >= BIN_ARGS {
                    return Err(ENOSPC);
                }
                used += 1;
                out.push(Prepared::Char(arg as u8));
                i += 1;
            }
            _ => {
                let mut size = 4;
                for _ in 0..2 {
                    if at(i) == b'l' {
                        size = 8;
                        i += 1;
                    }
                }
                if !matches!(at(i), b'i' | b'd' | b'u' | b'x' | b'X') {
                    return Err(EINVAL);
                }
                let v = if size == 8 {
                    Prepared::Long(arg)
                } else {
                    Prepared::Int(arg as u32)
                };
                long(&mut out, &mut used, v, size)?;
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The per-process key of `%p`'s pointer hashing.
fn ptr_key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| {
        let mut k = [0u8; 8];
        // SAFETY: k is a valid 8-byte buffer.
        unsafe { libc::getrandom(k.as_mut_ptr() as *mut libc::c_void, 8, 0) };
        u64::from_ne_bytes(k) | 1
    })
}

/// `%p`'s hash: 32 bits, so that it cannot be mistaken for an address.
fn hash_ptr(p: u64) -> u64 {
    let mut x = p ^ ptr_key();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x & 0xffff_ffff
}

/// `kptr_restrict` as `%pK` reads it.
fn kptr_restrict() -> u8 {
    static V: OnceLock<u8> = OnceLock::new();
    *V.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/kptr_restrict")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    })
}

#[derive(Clone, Copy, Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
}

/// The kernel's `number()` for the flags a BPF format may carry.
fn number(out: &mut Vec<u8>, spec: Spec, digits: String, negative: bool, signed: bool) {
    let sign = if !signed {
        ""
    } else if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let len = sign.len() + digits.len();
    let pad = spec.width.unwrap_or(0).saturating_sub(len);
    let zero = spec.zero && !spec.left;
    if !spec.left && !zero {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
    out.extend(sign.bytes());
    if zero {
        out.extend(std::iter::repeat_n(b'0', pad));
    }
    out.extend(digits.bytes());
    if spec.left {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
}

/// Strings and characters: padded with spaces only.
fn padded(out: &mut Vec<u8>, spec: Spec, s: &[u8]) {
    let pad = spec.width.unwrap_or(0).saturating_sub(s.len());
    if !spec.left {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
    out.extend_from_slice(s);
    if spec.left {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
}

/// `pointer_string()`: hex, sixteen digits zero-padded unless a width is
/// given.
fn pointer_string(out: &mut Vec<u8>, mut spec: Spec, v: u64) {
    if spec.width.is_none() {
        spec.width = Some(16);
        spec.zero = true;
    }
    number(out, spec, format!("{v:x}"), false, false);
}

/// `bstr_printf`: renders `fmt` with the prepared arguments.
fn render(fmt: &[u8], args: &[Prepared]) -> Vec<u8> {
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut next = args.iter();
    let mut i = 0;
    while i < fmt.len() {
        let c = at(i);
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if at(i) == b'%' {
            out.push(b'%');
            i += 1;
            continue;
        }
        let mut spec = Spec::default();
        loop {
            match at(i) {
                b'-' => spec.left = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if at(i).is_ascii_digit() {
            let mut w = 0usize;
            while at(i).is_ascii_digit() {
                w = (w * 10 + (at(i) - b'0') as usize).min((1 << 23) - 1);
                i += 1;
            }
            spec.width = Some(w);
        }
        let arg = next.next();
        let long_of = |a: Option<&Prepared>| match a {
            Some(Prepared::Long(v)) => *v,
            Some(Prepared::Int(v)) => *v as u64,
            Some(Prepared::Char(c)) => *c as u64,
            _ => 0,
        };
        match at(i) {
            b'p' => {
                i += 1;
                let ext = at(i);
                let alnum = ext.is_ascii_alphanumeric();
                while at(i).is_ascii_alphanumeric() {
                    i += 1;
                }
                if let Some(Prepared::Str(s)) = arg {
                    padded(&mut out, spec, s);
                    continue;
                }
                let v = long_of(arg);
                let is_err_or_null = v == 0 || v >= (-4095i64) as u64;
                match ext {
                    b'x' => pointer_string(&mut out, spec, v),
                    b's' | b'S' => padded(&mut out, spec, format!("{v:#x}").as_bytes()),
                    b'K' if kptr_restrict() >= 2 => pointer_string(&mut out, spec, 0),
                    b'K' if kptr_restrict() == 1 => {
                        // SAFETY: getuid takes no pointers.
                        let root = unsafe { libc::getuid() } == 0;
                        pointer_string(&mut out, spec, if root { v } else { 0 })
                    }
                    _ if !alnum || ext == b'K' => {
                        let shown = if is_err_or_null { v } else { hash_ptr(v) };
                        pointer_string(&mut out, spec, shown)
                    }
                    _ => pointer_string(&mut out, spec, v),
                }
            }
            b's' => {
                i += 1;
                match arg {
                    Some(Prepared::Str(s)) => padded(&mut out, spec, s),
                    _ => padded(&mut out, spec, b""),
                }
            }
            b'c' => {
                i += 1;
                padded(&mut out, spec, &[long_of(arg) as u8]);
            }
            _ => {
                let mut long = false;
                while at(i) == b'l' {
                    long = true;
                    i += 1;
                }
                let conv = at(i);
                i += 1;
                let v = long_of(arg);
                let v = if long { v } else { v as u32 as u64 };
                match conv {
                    b'd' | b'i' => {
                        let sv = if long {
                            v as i64
                        } else {
                            v as u32 as i32 as i64
                        };
                        number(&mut out, spec, sv.unsigned_abs().to_string(), sv < 0, true)
                    }
                    b'u' => number(&mut out, spec, v.to_string(), false, false),
                    b'x' => number(&mut out, spec, format!("{v:x}"), false, false),
                    b'X' => number(&mut out, spec, format!("{v:X}"), false, false),
                    _ => {}
                }
            }
        }
    }
    out
}

/// Checks and renders `fmt` (up to its first NUL, if any) with `args` (one
/// u64 per conversion, at most as many as the helper passes), reading `%s`
/// and `%pI4` operands through `mem`. Returns the whole text (the caller
/// truncates it to its buffer) or the errno.
pub fn bprintf(fmt: &[u8], args: &[u64], mem: &dyn FormatMemory) -> Result<Vec<u8>, i64> {
    let fmt = fmt.split(|&b| b == 0).next().unwrap_or(fmt);
    let prepared = prepare(fmt, args, mem)?;
    Ok(render(fmt, &prepared))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem;
    impl FormatMemory for Mem {
        fn read_str(&self, addr: u64, cap: usize) -> Option<Vec<u8>> {
            let s: &[u8] = match addr {
                0x1000 => b"hello",
                0x2000 => b"x",
                _ => return None,
            };
            Some(s[..s.len().min(cap - 1)].to_vec())
        }
        fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
            (addr == 0x3000)
                .then(|| [10u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1][..len].to_vec())
        }
    }

    fn f(fmt: &str, args: &[u64]) -> String {
        String::from_utf8(bprintf(fmt.as_bytes(), args, &Mem).unwrap()).unwrap()
    }

    #[test]
    fn conversions_as_the_kernel_renders_them() {
        assert_eq!(f("a %d b", &[u64::MAX]), "a -1 b");
        assert_eq!(f("%u %x %X", &[u64::MAX, 255, 255]), "4294967295 ff FF");
        assert_eq!(
            f("%ld %llu %lx", &[u64::MAX, u64::MAX, 1 << 40]),
            "-1 18446744073709551615 10000000000"
        );
        assert_eq!(
            f("[%5d|%-5d|%05d|%+d]", &[42, 42, (-42i64) as u64, 7]),
            "[   42|42   |-0042|+7]"
        );
        assert_eq!(f("[% d|%+u|%-05x]", &[5, 5, 255]), "[ 5|5|ff   ]");
        assert_eq!(f("%c%c 100%%", &[b'o' as u64, b'k' as u64]), "ok 100%");
        assert_eq!(
            f("<%s> <%7s> <%-3s>", &[0x1000, 0x1000, 0x2000]),
            "<hello> <  hello> <x  >"
        );
        assert_eq!(f("<%s>", &[0xdead]), "<>", "a fault prints nothing");
        assert_eq!(
            f("%pI4 %pi4", &[0x3000, 0x3000]),
            "10.0.0.1 010.000.000.001"
        );
        assert_eq!(
            f("%pI6", &[0x3000]),
            "0a00:0001:0000:0000:0000:0000:0000:0001"
        );
        assert_eq!(f("%pi6", &[0x3000]), "0a000001000000000000000000000001");
        assert_eq!(
            f("%px %px", &[0x1234, 0]),
            "0000000000001234 0000000000000000"
        );
        assert_eq!(f("%ps", &[0x1234]), "0x1234");
        let hashed = f("%p", &[0x1234]);
        assert_eq!(hashed.len(), 16);
        assert!(hashed.starts_with("00000000"), "{hashed}");
        assert_eq!(f("%p", &[0]), "0000000000000000");
    }

    #[test]
    fn refusals_as_the_kernel_refuses() {
        let e = |fmt: &str, args: &[u64]| bprintf(fmt.as_bytes(), args, &Mem).unwrap_err();
        assert_eq!(e("%d %d", &[1]), 22, "more conversions than arguments");
        assert_eq!(e("%f", &[1]), 22);
        assert_eq!(e("%.3d", &[1]), 22, "no precision");
        assert_eq!(e("%*d", &[1, 2]), 22, "no * width");
        assert_eq!(e("%hd", &[1]), 22);
        assert_eq!(e("%lld%lllx", &[1, 2]), 22);
        assert_eq!(
            e("%sa", &[0x1000]),
            22,
            "%s needs a space or punctuation after it"
        );
        assert_eq!(e("%pZ", &[1]), 22);
        assert_eq!(e("\x01", &[]), 22, "not printable");
        assert_eq!(e("\u{e9}", &[]), 22, "not ASCII");
        assert!(bprintf(b"%s.", &[0x1000], &Mem).is_ok());
        assert!(bprintf(b"tab\tnewline\n", &[], &Mem).is_ok());
        assert_eq!(f("stops at NUL\0%d", &[]), "stops at NUL");
    }

    #[test]
    fn the_argument_buffer_overflows_as_in_the_kernel() {
        // Twelve strings of 42 characters and their NULs fill 516 bytes.
        let long = [b'a'; 100];
        struct Long<'a>(&'a [u8]);
        impl FormatMemory for Long<'_> {
            fn read_str(&self, _: u64, cap: usize) -> Option<Vec<u8>> {
                Some(self.0[..self.0.len().min(cap - 1)].to_vec())
            }
            fn read(&self, _: u64, _: usize) -> Option<Vec<u8>> {
                None
            }
        }
        let fmt = "%s ".repeat(6);
        let out = bprintf(fmt.as_bytes(), &[0; 6], &Long(&long)).unwrap();
        // 5 * 101 bytes used, the sixth string gets 7 bytes: 6 characters.
        assert_eq!(out.len(), 5 * 100 + 6 + 6);
        assert_eq!(
            bprintf(b"%s %s %s %s %s %s %d", &[0; 7], &Long(&long)),
            Err(28)
        );
    }
}
