//! `BPF_MAP_TYPE_BLOOM_FILTER`: push adds a value, peek answers "maybe
//! present" (0) or "surely absent" (`ENOENT`). The bit array size and the
//! hash (Bob Jenkins' lookup3 `jhash`/`jhash2`, seeded with `seed + i` for
//! hash function `i`) are the kernel's, so with `BPF_F_ZERO_SEED` the false
//! positives are the kernel's too; otherwise the seed is random, as there.

use crate::bytes::{head, le_u32, put, tail};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::spec::{check_flags, exactly, nonzero};
use crate::*;

/// A bloom filter.
pub struct BloomFilter {
    spec: MapSpec,
    bits: Box<[AtomicU64]>,
    mask: u32,
    nr_hash: u32,
    seed: u32,
    access: Access,
}

const JHASH_INITVAL: u32 = 0xdead_beef;

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn fin(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

fn word(k: &[u8]) -> u32 {
    le_u32(k)
}

/// lookup3's hash of bytes (the kernel's `jhash`).
pub(crate) fn jhash(key: &[u8], initval: u32) -> u32 {
    let len = key.len() as u32;
    let mut a = JHASH_INITVAL.wrapping_add(len).wrapping_add(initval);
    let (mut b, mut c) = (a, a);
    let mut k = key;
    while k.len() > 12 {
        a = a.wrapping_add(word(tail(k, 0)));
        b = b.wrapping_add(word(tail(k, 4)));
        c = c.wrapping_add(word(tail(k, 8)));
        mix(&mut a, &mut b, &mut c);
        k = tail(k, 12);
    }
    if k.is_empty() {
        return c;
    }
    let mut last = [0u8; 12];
    put(&mut last, k);
    a = a.wrapping_add(word(tail(&last, 0)));
    b = b.wrapping_add(word(tail(&last, 4)));
    c = c.wrapping_add(word(tail(&last, 8)));
    fin(&mut a, &mut b, &mut c);
    c
}

/// lookup3's hash of 32-bit words (the kernel's `jhash2`).
pub(crate) fn jhash2(key: &[u8], initval: u32) -> u32 {
    let n = key.len() / 4;
    let mut a = JHASH_INITVAL
        .wrapping_add((n as u32) << 2)
        .wrapping_add(initval);
    let (mut b, mut c) = (a, a);
    let mut k = head(key, n * 4);
    while k.len() > 12 {
        a = a.wrapping_add(word(tail(k, 0)));
        b = b.wrapping_add(word(tail(k, 4)));
        c = c.wrapping_add(word(tail(k, 8)));
        mix(&mut a, &mut b, &mut c);
        k = tail(k, 12);
    }
    match k.len() / 4 {
        3 => {
            c = c.wrapping_add(word(tail(k, 8)));
            b = b.wrapping_add(word(tail(k, 4)));
            a = a.wrapping_add(word(tail(k, 0)));
            fin(&mut a, &mut b, &mut c);
        }
        2 => {
            b = b.wrapping_add(word(tail(k, 4)));
            a = a.wrapping_add(word(tail(k, 0)));
            fin(&mut a, &mut b, &mut c);
        }
        1 => {
            a = a.wrapping_add(word(tail(k, 0)));
            fin(&mut a, &mut b, &mut c);
        }
        _ => {}
    }
    c
}

impl BloomFilter {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        // bloom_map_alloc_check, before the other checks.
        if spec.value_size as u64 > crate::spec::KMALLOC_MAX_SIZE {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "value_size {} is above KMALLOC_MAX_SIZE (the kernel says E2BIG)",
                    spec.value_size
                ),
            ));
        }
        exactly(spec, "key_size", spec.key_size, 0)?;
        nonzero(spec, "value_size", spec.value_size)?;
        nonzero(spec, "max_entries", spec.max_entries)?;
        check_flags(spec, BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_ACCESS_MASK)?;
        if spec.map_extra & !0xf != 0 {
            return Err(MapError::inval(format!(
                "map_extra {:#x}: a bloom filter takes only the number of hash functions, 0 to 15 (the kernel says EINVAL)",
                spec.map_extra
            )));
        }
        let nr_hash = match (spec.map_extra & 0xf) as u32 {
            0 => 5,
            n => n,
        };
        let nr_bits = (spec.max_entries as u64) * nr_hash as u64;
        let nr_bits = nr_bits
            .checked_mul(1)
            .filter(|&b| b <= u32::MAX as u64)
            .map(|b| (b as u32 / 5) as u64 * 7);
        let (mask, nbits) = match nr_bits {
            Some(b) if b <= 1 << 31 => {
                let b = if b <= 64 { 64 } else { b.next_power_of_two() };
                ((b - 1) as u32, b)
            }
            _ => (u32::MAX, 1u64 << 32),
        };
        let words = nbits.div_ceil(64) as usize;
        let mut bits = Vec::new();
        if bits.try_reserve_exact(words).is_err() {
            return Err(MapError::new(
                libc::ENOMEM,
                format!(
                    "max_entries {}: the bit array cannot be allocated (ENOMEM)",
                    spec.max_entries
                ),
            ));
        }
        bits.extend((0..words).map(|_| AtomicU64::new(0)));
        let seed = if spec.map_flags & BPF_F_ZERO_SEED != 0 {
            0
        } else {
            let mut s = [0u8; 4];
            // SAFETY: getrandom writes at most 4 bytes into the 4-byte buffer.
            let r = unsafe { libc::getrandom(s.as_mut_ptr().cast(), 4, 0) };
            if r == 4 {
                u32::from_ne_bytes(s)
            } else {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0x5eed)
            }
        };
        Ok(BloomFilter {
            spec: spec.clone(),
            bits: bits.into(),
            mask,
            nr_hash,
            seed,
            access: Access::new(spec.map_flags),
        })
    }

    fn hash(&self, value: &[u8], i: u32) -> u32 {
        let h = if value.len().is_multiple_of(4) {
            jhash2(value, self.seed.wrapping_add(i))
        } else {
            jhash(value, self.seed.wrapping_add(i))
        };
        h & self.mask
    }

    /// `bpf_map_push_elem`: adds `value`.
    pub fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags != BPF_ANY {
            return Err(MapError::inval(format!(
                "bloom filter push flags {flags:#x}: only BPF_ANY (the kernel says EINVAL)"
            )));
        }
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        for i in 0..self.nr_hash {
            let h = self.hash(head(value, vs), i);
            if let Some(w) = self.bits.get((h / 64) as usize) {
                w.fetch_or(1 << (h % 64), Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// `bpf_map_peek_elem`: 0 if `value` may have been added, `ENOENT` if not.
    pub fn peek(&self, value: &[u8]) -> Result<(), MapError> {
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        for i in 0..self.nr_hash {
            let h = self.hash(head(value, vs), i);
            let w = self.bits.get((h / 64) as usize);
            if w.is_none_or(|w| w.load(Ordering::Relaxed) & (1 << (h % 64)) == 0) {
                return Err(MapError::noent(
                    "the value is not in the bloom filter (ENOENT)",
                ));
            }
        }
        Ok(())
    }
}

impl Map for BloomFilter {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    /// Peek: `value_out` holds the value to test (the kernel reads it).
    fn lookup(&self, _key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "peek")?;
        self.peek(value_out)
    }

    fn update(&self, _key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("push")?;
        check_update_lock(flags)?;
        self.push(value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        self.prog_delete(key)
    }

    fn prog_delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::new(
            libc::EOPNOTSUPP,
            "a bloom filter cannot delete (the kernel says EOPNOTSUPP)",
        ))
    }

    fn prog_push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.push(value, flags)
    }

    fn prog_peek(&self, value_out: &mut [u8]) -> Result<(), MapError> {
        self.peek(value_out)
    }

    fn get_next_key(&self, _key: Option<&[u8]>, _next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        Err(MapError::new(
            libc::EOPNOTSUPP,
            "a bloom filter has no keys (the kernel says EOPNOTSUPP)",
        ))
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }

    fn update_on_cpu(
        &self,
        _key: &[u8],
        value: &[u8],
        flags: u64,
        _cpu: usize,
    ) -> Result<(), MapError> {
        self.push(value, flags)
    }

    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }

    fn len(&self) -> usize {
        0
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
