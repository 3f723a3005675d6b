//! `BPF_MAP_TYPE_LPM_TRIE`: keys are `u32 prefixlen` (host order) followed
//! by `key_size - 4` data bytes (network order); lookup returns the value of
//! the longest stored prefix that matches, update and delete work on exact
//! prefixes. `BPF_F_NO_PREALLOC` is required, as in the kernel.
//!
//! `get_next_key` follows the kernel's post-order walk of the trie: of two
//! prefixes where one contains the other, the longer comes first; otherwise
//! the one with a 0 at the first differing bit. Lookup costs one hash probe
//! per distinct stored prefix length. Values live in a [`Slab`], so program
//! pointers are stable and [`Map::value_region`] is O(log slots).

use crate::bytes::{head, head_mut, put};
use std::cmp::Ordering as CmpOrdering;
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::slab::{Slab, FREE, LIVE, RETIRED};
use crate::spec::{check_flags, KMALLOC_MAX_SIZE};
use crate::*;

const LPM_DATA_SIZE_MAX: u32 = 256;

/// A prefix, ordered as the kernel's trie walk visits it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Prefix {
    len: u32,
    data: Box<[u8]>,
}

fn bit(d: &[u8], i: u32) -> u8 {
    (byte(d, (i / 8) as usize) >> (7 - i % 8)) & 1
}

/// Byte `i` of `d`, 0 past its end (prefixes are checked to fit their key).
fn byte(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}

impl Ord for Prefix {
    fn cmp(&self, o: &Self) -> CmpOrdering {
        let m = self.len.min(o.len);
        let full = (m / 8) as usize;
        if let Some(i) = (0..full).find(|&i| byte(&self.data, i) != byte(&o.data, i)) {
            let x = byte(&self.data, i) ^ byte(&o.data, i);
            let b = x.leading_zeros();
            return bit(&self.data, i as u32 * 8 + b).cmp(&bit(&o.data, i as u32 * 8 + b));
        }
        for i in (full as u32 * 8)..m {
            let (a, b) = (bit(&self.data, i), bit(&o.data, i));
            if a != b {
                return a.cmp(&b);
            }
        }
        o.len.cmp(&self.len)
    }
}

impl PartialOrd for Prefix {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}

struct Inner {
    by_order: BTreeMap<Prefix, u32>,
    /// Stored prefix lengths and how many prefixes have each.
    lens: BTreeMap<u32, u32>,
    free: Vec<u32>,
    fresh: u32,
}

struct Core {
    slab: Slab,
    inner: Mutex<Inner>,
}

/// A longest-prefix-match trie.
pub struct LpmTrie {
    spec: MapSpec,
    max_prefixlen: u32,
    core: Arc<Core>,
    access: Access,
}

impl LpmTrie {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        let bad = |what: String| Err(MapError::inval(format!("{what} (the kernel says EINVAL)")));
        if spec.max_entries == 0 {
            return bad("max_entries 0 is invalid for an lpm_trie map".into());
        }
        if spec.map_flags & BPF_F_NO_PREALLOC == 0 {
            return bad("an lpm_trie map needs BPF_F_NO_PREALLOC in map_flags".into());
        }
        check_flags(
            spec,
            BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK,
        )?;
        if spec.key_size < 5 || spec.key_size > 4 + LPM_DATA_SIZE_MAX {
            return bad(format!("key_size {} is invalid for an lpm_trie map: 4 bytes of prefixlen plus 1 to 256 data bytes", spec.key_size));
        }
        // LPM_VAL_SIZE_MAX: KMALLOC_MAX_SIZE less the largest data and the
        // 24-byte node header (two child pointers, prefixlen, flags).
        let val_max = KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX as u64 - 24;
        if spec.value_size == 0 || spec.value_size as u64 > val_max {
            return bad(format!(
                "value_size {} is invalid for an lpm_trie map: 1 to {val_max}",
                spec.value_size
            ));
        }
        let slab = Slab::new(
            spec.key_size as usize,
            spec.value_size as usize,
            1,
            spec.max_entries.min(64) as usize,
        );
        Ok(LpmTrie {
            spec: spec.clone(),
            max_prefixlen: (spec.key_size - 4) * 8,
            core: Arc::new(Core {
                slab,
                inner: Mutex::new(Inner {
                    by_order: BTreeMap::new(),
                    lens: BTreeMap::new(),
                    free: Vec::new(),
                    fresh: 0,
                }),
            }),
            access: Access::new(spec.map_flags),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.core.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn parse(&self, key: &[u8]) -> Result<(u32, Box<[u8]>), MapError> {
        let ks = self.spec.key_size as usize;
        check_len("key", key.len(), ks)?;
        Ok((index_of(key)?, key.get(4..ks).unwrap_or_default().into()))
    }

    /// The prefix `len` bits of `data`, the rest zeroed.
    fn masked(&self, len: u32, data: &[u8]) -> Prefix {
        let mut d: Box<[u8]> = data.into();
        for (i, b) in d.iter_mut().enumerate() {
            let lo = i as u32 * 8;
            if lo >= len {
                *b = 0;
            } else if len - lo < 8 {
                *b &= 0xffu8 << (8 - (len - lo));
            }
        }
        Prefix { len, data: d }
    }

    /// The slot of the longest stored prefix matching `key`.
    fn longest_match(&self, inner: &Inner, key: &[u8]) -> Option<u32> {
        let (plen, data) = self.parse(key).ok()?;
        // trie_lookup_elem: a key longer than the trie's prefixes matches
        // nothing (checked against the kernel by tests/kernel_diff.rs).
        if plen > self.max_prefixlen {
            return None;
        }
        for (&len, _) in inner.lens.range(..=plen).rev() {
            if let Some(&s) = inner.by_order.get(&self.masked(len, &data)) {
                return Some(s);
            }
        }
        None
    }

    fn exact(&self, key: &[u8]) -> Result<Prefix, MapError> {
        let (plen, data) = self.parse(key)?;
        if plen > self.max_prefixlen {
            return Err(MapError::inval(format!(
                "prefixlen {plen} is above the trie's {} bits (the kernel says EINVAL)",
                self.max_prefixlen
            )));
        }
        Ok(self.masked(plen, &data))
    }

    /// Keeps the key as given (bits past the prefix included): the kernel
    /// returns it so from get_next_key.
    fn write_key(&self, slot: u32, key: &[u8]) {
        self.core
            .slab
            .write_key(slot as usize, head(key, self.spec.key_size as usize));
    }
}

impl Map for LpmTrie {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        check_len("value", value_out.len(), self.spec.value_size as usize)?;
        let inner = self.inner();
        let s = self.longest_match(&inner, key).ok_or_else(|| {
            MapError::noent("no stored prefix matches the key (the kernel says ENOENT)")
        })?;
        self.core.slab.read_value(
            s as usize,
            head_mut(value_out, self.spec.value_size as usize),
        );
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        self.update_on_cpu(key, value, flags, 0)
    }

    /// A program's update: no syscall access checks.
    fn update_on_cpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        _cpu: usize,
    ) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::inval(format!("update flags {flags:#x} are not BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)")));
        }
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        let p = self.exact(key)?;
        let mut inner = self.inner();
        if let Some(&s) = inner.by_order.get(&p) {
            if flags == BPF_NOEXIST {
                return Err(MapError::new(
                    libc::EEXIST,
                    "BPF_NOEXIST: the prefix exists (the kernel says EEXIST)",
                ));
            }
            self.write_key(s, key);
            self.core.slab.write_value(s as usize, head(value, vs));
            return Ok(());
        }
        if flags == BPF_EXIST {
            return Err(MapError::noent(
                "BPF_EXIST: the prefix does not exist (the kernel says ENOENT)",
            ));
        }
        if inner.by_order.len() >= self.spec.max_entries as usize {
            return Err(MapError::new(
                libc::ENOSPC,
                format!(
                    "the trie is full: max_entries {} (the kernel says ENOSPC)",
                    self.spec.max_entries
                ),
            ));
        }
        let s = match inner.free.pop() {
            Some(s) => s,
            None => {
                let s = inner.fresh;
                if !self.core.slab.ensure(s as usize) {
                    return Err(MapError::new(
                        libc::ENOMEM,
                        "no memory for a new prefix (ENOMEM)",
                    ));
                }
                inner.fresh += 1;
                s
            }
        };
        self.write_key(s, key);
        self.core.slab.write_value(s as usize, head(value, vs));
        self.core
            .slab
            .state(s as usize)
            .store(LIVE, Ordering::Release);
        *inner.lens.entry(p.len).or_insert(0) += 1;
        inner.by_order.insert(p, s);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        self.prog_delete(key)
    }

    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        let p = self.exact(key)?;
        let guard = pin();
        let mut inner = self.inner();
        let s = inner
            .by_order
            .remove(&p)
            .ok_or_else(|| MapError::noent("the prefix does not exist (the kernel says ENOENT)"))?;
        if let Some(c) = inner.lens.get_mut(&p.len) {
            *c -= 1;
            if *c == 0 {
                inner.lens.remove(&p.len);
            }
        }
        drop(inner);
        self.core
            .slab
            .state(s as usize)
            .store(RETIRED, Ordering::Release);
        let core = self.core.clone();
        guard.defer(move || {
            core.slab.state(s as usize).store(FREE, Ordering::Release);
            core.inner
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .free
                .push(s);
        });
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        let ks = self.spec.key_size as usize;
        check_len("next key", next_out.len(), ks)?;
        let inner = self.inner();
        let start = match key.map(|k| self.parse(k)) {
            Some(Ok((plen, data))) if plen <= self.max_prefixlen => {
                let p = self.masked(plen, &data);
                if inner.by_order.contains_key(&p) {
                    Some(p)
                } else {
                    None
                }
            }
            Some(Err(e)) => return Err(e),
            _ => None,
        };
        let next = match &start {
            Some(p) => inner
                .by_order
                .range((std::ops::Bound::Excluded(p), std::ops::Bound::Unbounded))
                .next(),
            None => inner.by_order.iter().next(),
        };
        let (_, &s) = next.ok_or_else(|| {
            MapError::noent("no next key: the walk is over (the kernel says ENOENT)")
        })?;
        put(next_out, self.core.slab.key(s as usize));
        Ok(())
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    fn lookup_ptr(&self, key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        let inner = self.inner();
        let s = self.longest_match(&inner, key)?;
        NonNull::new(self.core.slab.value_ptr(s as usize))
    }

    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        let (_, start) = self.core.slab.value_region(addr, len)?;
        Some(value_mem_region(
            start,
            self.spec.value_size as usize,
            self.spec.map_flags & BPF_F_RDONLY_PROG == 0,
        ))
    }

    fn len(&self) -> usize {
        self.inner().by_order.len()
    }

    fn lookup_batch(
        &self,
        in_batch: Option<&[u8]>,
        keys: &mut [u8],
        values: &mut [u8],
        max_count: u32,
        elem_flags: u64,
        delete: bool,
    ) -> Result<BatchOut, (BatchOut, MapError)> {
        if delete {
            return Err((
                BatchOut { count: 0, out_batch: Vec::new() },
                MapError::new(ENOTSUPP, "lookup_and_delete_batch is not supported by lpm_trie maps (the kernel says ENOTSUPP)"),
            ));
        }
        generic_lookup_batch(self, in_batch, keys, values, max_count, elem_flags)
    }

    fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<u32, (u32, MapError)> {
        self.access.write("update_batch").map_err(|e| (0, e))?;
        generic_update_batch(self, keys, values, count, elem_flags)
    }

    fn delete_batch(
        &self,
        keys: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<u32, (u32, MapError)> {
        self.access.write("delete_batch").map_err(|e| (0, e))?;
        generic_delete_batch(self, keys, count, elem_flags)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
