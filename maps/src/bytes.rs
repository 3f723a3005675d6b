//! Byte-slice helpers that cannot panic: the map kinds check every length
//! a caller gives (`check_len`) before they copy, and these keep a short
//! buffer from ever becoming a panic if a check is missed.

/// Copies `src` into the start of `dst`, as much of it as fits.
pub(crate) fn put(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
}

/// The first `n` bytes of `b` (all of `b` if it is shorter).
pub(crate) fn head(b: &[u8], n: usize) -> &[u8] {
    b.get(..n).unwrap_or(b)
}

/// The first `n` bytes of `b`, writable (all of `b` if it is shorter).
pub(crate) fn head_mut(b: &mut [u8], n: usize) -> &mut [u8] {
    let n = n.min(b.len());
    b.get_mut(..n).unwrap_or_default()
}

/// The bytes of `b` from `from` on (empty past its end).
pub(crate) fn tail(b: &[u8], from: usize) -> &[u8] {
    b.get(from..).unwrap_or_default()
}

/// Zeroes the first `n` bytes of `b`.
pub(crate) fn zero(b: &mut [u8], n: usize) {
    head_mut(b, n).fill(0);
}

fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    put(&mut a, b);
    a
}

/// The native-endian `u32` in `b`'s first 4 bytes (zero-padded if shorter).
pub(crate) fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes(array(b))
}

/// The native-endian `i32` in `b`'s first 4 bytes.
pub(crate) fn ne_i32(b: &[u8]) -> i32 {
    i32::from_ne_bytes(array(b))
}

/// The native-endian `u64` in `b`'s first 8 bytes.
pub(crate) fn ne_u64(b: &[u8]) -> u64 {
    u64::from_ne_bytes(array(b))
}

/// The little-endian `u32` in `b`'s first 4 bytes.
pub(crate) fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(array(b))
}

/// The bytes of `b` from `from` on, writable (empty past its end).
pub(crate) fn tail_mut(b: &mut [u8], from: usize) -> &mut [u8] {
    b.get_mut(from..).unwrap_or_default()
}

/// Record `i` of `n` bytes in a batch buffer (empty past its end; batch
/// operations check the buffer's length first).
pub(crate) fn chunk(b: &[u8], i: usize, n: usize) -> &[u8] {
    b.get(i * n..(i + 1) * n).unwrap_or_default()
}

/// Record `i` of `n` bytes in a batch buffer, writable.
pub(crate) fn chunk_mut(b: &mut [u8], i: usize, n: usize) -> &mut [u8] {
    b.get_mut(i * n..(i + 1) * n).unwrap_or_default()
}
