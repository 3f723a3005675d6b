//! The format language of `bpf_trace_printk` and `bpf_snprintf`, checked
//! and rendered as the kernel's `bpf_bprintf_prepare` and `vsnprintf` do:
//! `%%`, `%c`, `%s`, `%d %i %u %x %X` with `l`/`ll`, the flags `0 + - space`
//! and a width (no precision), and the pointer forms `%p %px %pK %pI4 %pi4
//! %pI6 %pi6`. Anything else, a non-printable byte, or more conversions than
//! arguments is refused with `-EINVAL`, as the kernel refuses it.

/// How a `%s` or `%pI4`-style argument is read: the helper's memory reader
/// (host memory, faults give `None`).
pub type ReadMem<'a> = &'a dyn Fn(u64, usize) -> Option<Vec<u8>>;

/// Renders `fmt` with `args` (one u64 per conversion). Returns the text
/// (without a NUL) or the errno.
pub fn bprintf(fmt: &[u8], args: &[u64], read: ReadMem<'_>) -> Result<Vec<u8>, i32> {
    let mut out = Vec::new();
    let mut next_arg = 0usize;
    let mut i = 0usize;
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    while i < fmt.len() && fmt[i] != 0 {
        let c = fmt[i];
        if !(c.is_ascii_graphic() || c.is_ascii_whitespace() || c == b' ') {
            return Err(libc::EINVAL);
        }
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            out.push(b'%');
            i += 2;
            continue;
        }
        if next_arg >= args.len() {
            return Err(libc::EINVAL);
        }
        let arg = args[next_arg];
        next_arg += 1;
        i += 1;
        // Flags and width.
        let (mut zero, mut plus, mut left, mut space) = (false, false, false, false);
        loop {
            match at(i) {
                b'0' => zero = true,
                b'+' => plus = true,
                b'-' => left = true,
                b' ' => space = true,
                _ => break,
            }
            i += 1;
        }
        let mut width = 0usize;
        if (b'1'..=b'9').contains(&at(i)) {
            while at(i).is_ascii_digit() {
                width = width
                    .saturating_mul(10)
                    .saturating_add((at(i) - b'0') as usize);
                i += 1;
            }
        }
        let pad = |s: Vec<u8>, out: &mut Vec<u8>, numeric: bool| {
            let n = s.len();
            if n >= width {
                out.extend(s);
            } else if left {
                out.extend(s);
                out.extend(std::iter::repeat_n(b' ', width - n));
            } else if zero && numeric {
                // Zeros go after the sign.
                let (sign, digits) = match s.first() {
                    Some(b'-' | b'+' | b' ') => (&s[..1], &s[1..]),
                    _ => (&s[..0], &s[..]),
                };
                out.extend(sign);
                out.extend(std::iter::repeat_n(b'0', width - n));
                out.extend(digits);
            } else {
                out.extend(std::iter::repeat_n(b' ', width - n));
                out.extend(s);
            }
        };
        match at(i) {
            b'p' => {
                i += 1;
                let ext = at(i);
                let text: Vec<u8> = match ext {
                    b'x' | b'K' => {
                        i += 1;
                        // %pK hides kernel pointers from unprivileged readers;
                        // as root it prints them like %px.
                        format!("{arg:016x}").into_bytes()
                    }
                    b'I' | b'i' => {
                        let v = at(i + 1);
                        if v != b'4' && v != b'6' {
                            return Err(libc::EINVAL);
                        }
                        i += 2;
                        let n = if v == b'4' { 4 } else { 16 };
                        match read(arg, n) {
                            None => b"(efault)".to_vec(),
                            Some(b) if v == b'4' && ext == b'I' => {
                                format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]).into_bytes()
                            }
                            Some(b) if v == b'4' => {
                                format!("{:03}.{:03}.{:03}.{:03}", b[0], b[1], b[2], b[3])
                                    .into_bytes()
                            }
                            Some(b) if ext == b'I' => b
                                .chunks(2)
                                .map(|w| format!("{:02x}{:02x}", w[0], w[1]))
                                .collect::<Vec<_>>()
                                .join(":")
                                .into_bytes(),
                            Some(b) => b
                                .iter()
                                .map(|x| format!("{x:02x}"))
                                .collect::<String>()
                                .into_bytes(),
                        }
                    }
                    // A bare %p: the kernel prints a hashed pointer, which
                    // differs per boot; ironbpf prints the value.
                    _ => format!("{arg:016x}").into_bytes(),
                };
                pad(text, &mut out, false);
            }
            b'c' => {
                i += 1;
                pad(vec![arg as u8], &mut out, false);
            }
            b's' => {
                i += 1;
                // Read up to the NUL, at most the kernel's buffer.
                let mut s = Vec::new();
                let mut addr = arg;
                while s.len() < 512 {
                    match read(addr, 1) {
                        Some(b) if b[0] != 0 => s.push(b[0]),
                        _ => break,
                    }
                    addr += 1;
                }
                pad(s, &mut out, false);
            }
            _ => {
                let mut long = 0;
                while at(i) == b'l' && long < 2 {
                    long += 1;
                    i += 1;
                }
                let conv = at(i);
                i += 1;
                let v = if long == 0 { arg as u32 as u64 } else { arg };
                let text = match conv {
                    b'd' | b'i' => {
                        let sv = if long == 0 {
                            v as u32 as i32 as i64
                        } else {
                            v as i64
                        };
                        let sign = if sv < 0 {
                            "-"
                        } else if plus {
                            "+"
                        } else if space {
                            " "
                        } else {
                            ""
                        };
                        format!("{sign}{}", sv.unsigned_abs())
                    }
                    b'u' => format!("{v}"),
                    b'x' => format!("{v:x}"),
                    b'X' => format!("{v:X}"),
                    _ => return Err(libc::EINVAL),
                };
                pad(text.into_bytes(), &mut out, true);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_mem(_: u64, _: usize) -> Option<Vec<u8>> {
        None
    }

    #[test]
    fn conversions_as_the_kernel_renders_them() {
        let f = |fmt: &str, args: &[u64]| {
            String::from_utf8(bprintf(fmt.as_bytes(), args, &no_mem).unwrap()).unwrap()
        };
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
        assert_eq!(f("%c%c 100%%", &[b'o' as u64, b'k' as u64]), "ok 100%");
        assert_eq!(
            bprintf(b"%d %d", &[1], &no_mem),
            Err(libc::EINVAL),
            "more conversions than arguments"
        );
        assert_eq!(bprintf(b"%f", &[1], &no_mem), Err(libc::EINVAL));
        assert_eq!(
            bprintf(b"%.3d", &[1], &no_mem),
            Err(libc::EINVAL),
            "no precision"
        );
        assert_eq!(
            bprintf(b"\x01", &[], &no_mem),
            Err(libc::EINVAL),
            "not printable"
        );
        let mem = |a: u64, n: usize| {
            (a == 0x1000).then(|| [10u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1][..n].to_vec())
        };
        assert_eq!(
            String::from_utf8(bprintf(b"%pI4 %pi4", &[0x1000, 0x1000], &mem).unwrap()).unwrap(),
            "10.0.0.1 010.000.000.001"
        );
        assert_eq!(
            String::from_utf8(bprintf(b"%pI6", &[0x1000], &mem).unwrap()).unwrap(),
            "0a00:0001:0000:0000:0000:0000:0000:0001"
        );
    }
}
