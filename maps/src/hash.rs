//! `BPF_MAP_TYPE_HASH`, `PERCPU_HASH`, `LRU_HASH` and `LRU_PERCPU_HASH`.
//!
//! Keys map to slots of a [`Slab`] through 16 lock-sharded hash tables.
//! Values never move: a program's pointer stays valid while its epoch guard
//! lives. A deleted element's slot is `RETIRED` and goes back to the free
//! list only once every guard pinned before the delete is dropped (the
//! kernel's RCU); the element count drops at once, so `E2BIG` comes exactly
//! when the kernel's does. LRU maps keep the kernel's node lists ([`Lru`])
//! over exactly `max_entries` slots and, like the kernel, reuse a node at
//! once (the memory stays valid; its content may change).
//!
//! `get_next_key` walks slots in index order: a missing key (or none) gives
//! the first element, the last gives `ENOENT`. Batch tokens are 4-byte slot
//! positions. [`Map::value_region`] costs O(log slots) (one comparison per
//! slab chunk).

use crate::bytes::{head, head_mut, put};
use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::lru::Lru;
use crate::slab::{round8, Slab, FREE, LIVE, RETIRED};
use crate::spec::{check_flags, nonzero, KMALLOC_MAX_SIZE, PCPU_MIN_UNIT_SIZE};
use crate::*;

const SHARDS: usize = 16;
/// `sizeof(struct htab_elem)` on x86-64.
const HTAB_ELEM_SIZE: u64 = 48;

/// A multiply-rotate hasher over 8-byte words (keys are short and trusted).
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            put(&mut b, rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type Shard = RwLock<StdHashMap<Box<[u8]>, u32, BuildHasherDefault<WordHasher>>>;

/// The readers' index: open addressing with linear probing over atomic
/// entries, read without a lock, as the kernel's RCU readers walk its
/// buckets. Programs' lookups go through it; writers keep it in step with
/// the shards (the authority for host operations) under `index_lock`, and
/// replace it whole, freed after an epoch, when tombstones pile up.
///
/// An entry is 0 (empty), [`TOMB`] (a deleted entry), or the key hash's
/// high half beside `slot + 1`.
struct Index {
    mask: usize,
    entries: Box<[AtomicU64]>,
}

const TOMB: u64 = u64::MAX;

impl Index {
    /// Entry `i` of the open-addressing table (`i` wraps at its size).
    fn at(&self, i: usize) -> &AtomicU64 {
        #[allow(
            clippy::indexing_slicing,
            reason = "the table has mask + 1 entries (a power of two), so i & mask is in it"
        )]
        &self.entries[i & self.mask]
    }

    fn with_capacity(n: usize) -> Index {
        let cap = (n * 2).next_power_of_two().max(16);
        Index {
            mask: cap - 1,
            entries: (0..cap).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn entry(h: u64, slot: u32) -> u64 {
        (h & 0xffff_ffff_0000_0000) | (slot as u64 + 1)
    }

    /// Adds `slot` for hash `h`; returns whether an empty entry was used.
    fn insert(&self, h: u64, slot: u32) -> bool {
        let mut i = h as usize & self.mask;
        loop {
            let e = self.at(i).load(Ordering::Relaxed);
            if e == 0 || e == TOMB {
                self.at(i).store(Self::entry(h, slot), Ordering::Release);
                return e == 0;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn remove(&self, h: u64, slot: u32) {
        let want = Self::entry(h, slot);
        let mut i = h as usize & self.mask;
        for _ in 0..=self.mask {
            let e = self.at(i).load(Ordering::Relaxed);
            if e == 0 {
                return;
            }
            if e == want {
                self.at(i).store(TOMB, Ordering::Release);
                return;
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// The writers' bookkeeping of the index: entries in use (tombstones
/// included) and live ones.
struct IndexUse {
    used: usize,
    live: usize,
}

/// A key of at most 8 bytes as one word, read without a byte copy (a copy
/// into a buffer then read whole stalls store forwarding).
#[inline]
fn small_word(key: &[u8]) -> u64 {
    match *key {
        [a, b, c, d] => u32::from_le_bytes([a, b, c, d]) as u64,
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => key.iter().rev().fold(0u64, |w, &b| (w << 8) | b as u64),
    }
}

/// Key equality, without a call to memcmp for the common sizes.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() <= 8 && a.len() == b.len() {
        small_word(a) == small_word(b)
    } else {
        a == b
    }
}

fn key_hash(key: &[u8]) -> u64 {
    if key.len() <= 8 {
        // The common keys (u32, u64, small structs): one multiply.
        let h = (small_word(key) ^ ((key.len() as u64) << 59) ^ 0x2545_f491_4f6c_dd1d)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        return h ^ (h >> 29);
    }
    let mut h = WordHasher(0x2545_f491_4f6c_dd1d);
    h.write(key);
    h.finish()
}

/// [`HashMap`]'s [`DirectLookup::func`]: `lookup_ptr(key, 0, _)`.
///
/// # Safety
/// As [`DirectLookup`] says: `obj` is a live `HashMap`'s
/// `direct_lookup().obj`, `key` points at its `key_size` readable bytes,
/// and the calling thread is pinned for as long as it uses the result.
unsafe extern "C" fn direct_lookup(obj: *const u8, key: *const u8) -> u64 {
    // SAFETY: by the contract, `obj` is a live HashMap's own address.
    let map = unsafe { &*(obj as *const HashMap) };
    // SAFETY: by the contract, `key` has key_size readable bytes.
    let key = unsafe { std::slice::from_raw_parts(key, map.spec.key_size as usize) };
    direct_find(map, key)
}

/// [`direct_lookup`] for maps whose `key_size` is `N`.
///
/// # Safety
/// As [`direct_lookup`]'s, and the map's `key_size` is `N`.
unsafe extern "C" fn direct_lookup_fixed<const N: usize>(obj: *const u8, key: *const u8) -> u64 {
    // SAFETY: by the contract, `obj` is a live HashMap's own address.
    let map = unsafe { &*(obj as *const HashMap) };
    // SAFETY: by the contract, `key` has key_size = N readable bytes (with
    // no alignment: read as bytes).
    let key: [u8; N] = unsafe { std::ptr::read_unaligned(key as *const [u8; N]) };
    direct_find(map, &key)
}

#[inline(always)]
fn direct_find(map: &HashMap, key: &[u8]) -> u64 {
    // SAFETY: the caller's pin protects the index (and the value it finds)
    // as a guard of our own would; `unprotected` only lends the lifetime.
    let guard = unsafe { crossbeam_epoch::unprotected() };
    match map.find_value(key, 0, guard) {
        Some((slot, value)) => {
            if map.lru.is_some() {
                map.touch(slot);
            }
            value as u64
        }
        None => 0,
    }
}

struct Core {
    slab: Slab,
    free: Mutex<FreeSlots>,
}

struct FreeSlots {
    list: Vec<u32>,
    fresh: u32,
}

impl Core {
    fn reclaim(&self, slot: u32) {
        self.slab
            .state(slot as usize)
            .store(FREE, Ordering::Release);
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .list
            .push(slot);
    }
}

/// A hash map of any of the four hash kinds.
pub struct HashMap {
    spec: MapSpec,
    ncpus: usize,
    percpu: bool,
    core: Arc<Core>,
    shards: Box<[Shard]>,
    count: AtomicU32,
    lru: Option<Mutex<Lru>>,
    refs: Box<[AtomicU8]>,
    access: Access,
    index: crossbeam_epoch::Atomic<Index>,
    index_lock: Mutex<IndexUse>,
}

fn shard_of(key: &[u8]) -> usize {
    let mut h = WordHasher(0x9e37_79b9_7f4a_7c15);
    h.write(key);
    (h.finish() >> 60) as usize % SHARDS
}

impl HashMap {
    pub(crate) fn new(spec: &MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let t = spec.map_type;
        let percpu = t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
        let lru = t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
        let percpu_lru = spec.map_flags & BPF_F_NO_COMMON_LRU != 0;
        let prealloc = spec.map_flags & BPF_F_NO_PREALLOC == 0;
        check_flags(
            spec,
            BPF_F_NO_PREALLOC
                | BPF_F_NO_COMMON_LRU
                | BPF_F_NUMA_NODE
                | BPF_F_ACCESS_MASK
                | BPF_F_ZERO_SEED,
        )?;
        if !lru && percpu_lru {
            return Err(MapError::inval(format!(
                "BPF_F_NO_COMMON_LRU is only for LRU maps, not {} (the kernel says EINVAL)",
                map_type_name(t)
            )));
        }
        if lru && !prealloc {
            return Err(MapError::new(
                ENOTSUPP,
                "BPF_F_NO_PREALLOC is not supported by LRU maps (the kernel says ENOTSUPP)",
            ));
        }
        if spec.map_flags & BPF_F_NUMA_NODE != 0 && (percpu || percpu_lru) {
            return Err(MapError::inval("BPF_F_NUMA_NODE is invalid for per-CPU maps and per-CPU LRU lists (the kernel says EINVAL)"));
        }
        nonzero(spec, "max_entries", spec.max_entries)?;
        nonzero(spec, "key_size", spec.key_size)?;
        nonzero(spec, "value_size", spec.value_size)?;
        if spec.key_size as u64 + spec.value_size as u64 >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE {
            return Err(MapError::new(
                libc::E2BIG,
                format!("key_size {} + value_size {} is too large for one element (the kernel says E2BIG)", spec.key_size, spec.value_size),
            ));
        }
        if percpu && round8(spec.value_size as usize) as u64 > PCPU_MIN_UNIT_SIZE {
            return Err(MapError::new(
                libc::E2BIG,
                format!("value_size {} of a per-CPU value is above {PCPU_MIN_UNIT_SIZE} (the kernel says E2BIG)", spec.value_size),
            ));
        }
        let mut spec = spec.clone();
        if percpu_lru {
            let n = ncpus as u64;
            let up = (spec.max_entries as u64).div_ceil(n) * n;
            spec.max_entries = if up > u32::MAX as u64 {
                (spec.max_entries as u64 / n * n) as u32
            } else {
                up as u32
            };
        }
        if spec.max_entries > 1 << 31 {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "max_entries {} is above 2^31 (the kernel says E2BIG)",
                    spec.max_entries
                ),
            ));
        }
        // The kernel's table has roundup_pow_of_two(max_entries) buckets of
        // 16 bytes and refuses one larger than U32_MAX bytes: at most 2^27
        // entries. (Without the check a hash map of 2^31 entries would take
        // 32 GiB of index here.)
        let buckets = (spec.max_entries as u64).next_power_of_two();
        if buckets > u32::MAX as u64 / 16 {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "max_entries {} needs {buckets} hash buckets of 16 bytes, more than the kernel's U32_MAX-byte table: at most 2^27 entries (the kernel says E2BIG)",
                    spec.max_entries
                ),
            ));
        }
        let vcpus = if percpu { ncpus } else { 1 };
        let slab = Slab::new(
            spec.key_size as usize,
            spec.value_size as usize,
            vcpus,
            spec.max_entries as usize,
        );
        let oom = || {
            MapError::new(
                libc::ENOMEM,
                format!(
                    "max_entries {}: the elements cannot be allocated (ENOMEM)",
                    spec.max_entries
                ),
            )
        };
        let (lru_state, refs) = if lru {
            if !slab.ensure(spec.max_entries as usize - 1) {
                return Err(oom());
            }
            (
                Some(Mutex::new(Lru::new(spec.max_entries, ncpus, percpu_lru))),
                (0..spec.max_entries).map(|_| AtomicU8::new(0)).collect(),
            )
        } else {
            (None, Box::default())
        };
        let index = Index::with_capacity(spec.max_entries as usize);
        Ok(HashMap {
            access: Access::new(spec.map_flags),
            spec,
            ncpus,
            percpu,
            core: Arc::new(Core {
                slab,
                free: Mutex::new(FreeSlots {
                    list: Vec::new(),
                    fresh: 0,
                }),
            }),
            shards: (0..SHARDS)
                .map(|_| RwLock::new(StdHashMap::default()))
                .collect(),
            count: AtomicU32::new(0),
            lru: lru_state,
            refs,
            index: crossbeam_epoch::Atomic::new(index),
            index_lock: Mutex::new(IndexUse { used: 0, live: 0 }),
        })
    }

    /// Makes `slot` findable by `key` in the readers' index.
    fn index_insert(&self, key: &[u8], slot: u32) {
        let mut u = self.index_lock.lock().unwrap_or_else(|e| e.into_inner());
        let guard = pin();
        // SAFETY: the index is replaced only under `index_lock`, which we
        // hold, and freed only after every guard that saw it is gone.
        let idx = unsafe { self.index.load(Ordering::Acquire, &guard).deref() };
        if idx.insert(key_hash(key), slot) {
            u.used += 1;
        }
        u.live += 1;
        if u.used * 4 > (idx.mask + 1) * 3 {
            // Too many tombstones: rebuild from the live entries.
            let fresh = Index::with_capacity((self.spec.max_entries as usize).max(u.live));
            let mut live = 0;
            for e in idx.entries.iter() {
                let e = e.load(Ordering::Relaxed);
                if e != 0 && e != TOMB {
                    let slot = (e & 0xffff_ffff) as u32 - 1;
                    fresh.insert(key_hash(self.slab().key(slot as usize)), slot);
                    live += 1;
                }
            }
            *u = IndexUse { used: live, live };
            let old = self
                .index
                .swap(crossbeam_epoch::Owned::new(fresh), Ordering::AcqRel, &guard);
            // SAFETY: `old` is unreachable from now on; readers that loaded
            // it hold guards, and it is freed only after they are gone.
            unsafe { guard.defer_destroy(old) };
        }
    }

    /// Removes `slot` (of `key`) from the readers' index.
    fn index_remove(&self, key: &[u8], slot: u32) {
        let mut u = self.index_lock.lock().unwrap_or_else(|e| e.into_inner());
        let guard = pin();
        // SAFETY: as in `index_insert`.
        let idx = unsafe { self.index.load(Ordering::Acquire, &guard).deref() };
        idx.remove(key_hash(key), slot);
        u.live -= 1;
    }

    /// The program's lookup: the readers' index, with no lock. Gives the
    /// slot and the address of `cpu`'s value in it. Inlined everywhere, so
    /// that a caller whose key has a constant length
    /// ([`direct_lookup_fixed`]) gets the hash and the comparison of that
    /// length only.
    #[inline(always)]
    fn find_value(&self, key: &[u8], cpu: usize, guard: &Guard) -> Option<(u32, *mut u8)> {
        // SAFETY: the index stays allocated while `guard` pins the epoch.
        let idx = unsafe { self.index.load(Ordering::Acquire, guard).deref() };
        let h = key_hash(key);
        let tag = h & 0xffff_ffff_0000_0000;
        let slab = self.slab();
        let mut i = h as usize & idx.mask;
        for _ in 0..=idx.mask {
            let e = idx.at(i).load(Ordering::Acquire);
            if e == 0 {
                return None;
            }
            if e != TOMB && e & 0xffff_ffff_0000_0000 == tag {
                let slot = (e & 0xffff_ffff) as u32 - 1;
                let (state, k, value) = slab.lookup_parts(slot as usize, cpu);
                if same_key(k, key) && state.load(Ordering::Acquire) == LIVE {
                    return Some((slot, value));
                }
            }
            i = (i + 1) & idx.mask;
        }
        None
    }

    /// Like [`find_value`](Self::find_value), for the slot only.
    #[allow(dead_code)]
    fn find(&self, key: &[u8], guard: &Guard) -> Option<u32> {
        // SAFETY: the index stays allocated while `guard` pins the epoch.
        let idx = unsafe { self.index.load(Ordering::Acquire, guard).deref() };
        let h = key_hash(key);
        let tag = h & 0xffff_ffff_0000_0000;
        let slab = self.slab();
        let mut i = h as usize & idx.mask;
        for _ in 0..=idx.mask {
            let e = idx.at(i).load(Ordering::Acquire);
            if e == 0 {
                return None;
            }
            if e != TOMB && e & 0xffff_ffff_0000_0000 == tag {
                let slot = (e & 0xffff_ffff) as u32 - 1;
                if slab.key(slot as usize) == key
                    && slab.state(slot as usize).load(Ordering::Acquire) == LIVE
                {
                    return Some(slot);
                }
            }
            i = (i + 1) & idx.mask;
        }
        None
    }

    /// Marks LRU node `slot` as referenced.
    fn touch(&self, slot: u32) {
        if let Some(r) = self.refs.get(slot as usize) {
            r.store(1, Ordering::Relaxed);
        }
    }

    fn slab(&self) -> &Slab {
        &self.core.slab
    }

    fn shard(&self, key: &[u8]) -> &Shard {
        #[allow(
            clippy::indexing_slicing,
            reason = "shard_of is taken modulo SHARDS, the array's length"
        )]
        &self.shards[shard_of(key)]
    }

    fn key_check<'k>(&self, key: &'k [u8]) -> Result<&'k [u8], MapError> {
        key.get(..self.spec.key_size as usize).ok_or_else(|| {
            MapError::new(
                libc::EFAULT,
                format!(
                    "key has {} bytes, the map's key_size is {}",
                    key.len(),
                    self.spec.key_size
                ),
            )
        })
    }

    /// A slot for a new element of a non-LRU map (the count is already taken).
    fn alloc_slot(&self) -> Option<u32> {
        let mut f = self.core.free.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = f.list.pop() {
            return Some(s);
        }
        let s = f.fresh;
        if !self.slab().ensure(s as usize) {
            return None;
        }
        f.fresh += 1;
        Some(s)
    }

    fn retire(&self, slot: u32, guard: &Guard) {
        self.slab()
            .state(slot as usize)
            .store(RETIRED, Ordering::Release);
        let core = self.core.clone();
        guard.defer(move || core.reclaim(slot));
    }

    fn write_user_value(&self, slot: u32, value: &[u8]) {
        self.slab()
            .write_value(slot as usize, head(value, self.value_size_user()));
    }

    /// A program's write of one CPU's value; other CPUs get zeroes when `fresh`.
    fn write_cpu_value(&self, slot: u32, value: &[u8], cpu: usize, fresh: bool) {
        let s = self.slab();
        if fresh && self.percpu {
            s.zero_value(slot as usize);
        }
        let n = self.spec.value_size as usize;
        // SAFETY: CPU cpu's copy has value_size bytes in the slot (cpu < ncpus checked by callers).
        unsafe {
            std::ptr::copy_nonoverlapping(value.as_ptr(), s.cpu_value_ptr(slot as usize, cpu), n)
        }
    }

    /// Programs' updates too: `BPF_F_LOCK` needs a spin lock, which needs
    /// BTF, so every flag above `BPF_EXIST` is `EINVAL`.
    fn check_update_flags(flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::inval(format!("update flags {flags:#x} are not BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)")));
        }
        Ok(())
    }

    fn flag_conflict(exists: bool, flags: u64) -> Result<(), MapError> {
        if exists && flags & 3 == BPF_NOEXIST {
            return Err(MapError::new(
                libc::EEXIST,
                "BPF_NOEXIST: the key exists (the kernel says EEXIST)",
            ));
        }
        if !exists && flags & 3 == BPF_EXIST {
            return Err(MapError::noent(
                "BPF_EXIST: the key does not exist (the kernel says ENOENT)",
            ));
        }
        Ok(())
    }

    /// The update of both host and program: `write` fills a slot's value.
    fn do_update(
        &self,
        key: &[u8],
        flags: u64,
        cpu: usize,
        write: &dyn Fn(u32, bool),
    ) -> Result<(), MapError> {
        Self::check_update_flags(flags)?;
        let key = self.key_check(key)?;
        if let Some(lru) = &self.lru {
            return self.lru_update(lru, key, flags, cpu, write);
        }
        let mut g = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        if let Some(&slot) = g.get(key) {
            Self::flag_conflict(true, flags)?;
            write(slot, false);
            return Ok(());
        }
        Self::flag_conflict(false, flags)?;
        let max = self.spec.max_entries;
        if self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < max).then_some(c + 1)
            })
            .is_err()
        {
            return Err(MapError::new(
                libc::E2BIG,
                format!("the map is full: max_entries {max} elements (the kernel says E2BIG)"),
            ));
        }
        let Some(slot) = self.alloc_slot() else {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return Err(MapError::new(
                libc::ENOMEM,
                "no memory for a new element (ENOMEM)",
            ));
        };
        self.slab().write_key(slot as usize, key);
        write(slot, true);
        self.slab()
            .state(slot as usize)
            .store(LIVE, Ordering::Release);
        g.insert(key.into(), slot);
        self.index_insert(key, slot);
        Ok(())
    }

    /// Removes node `n`'s element from the table if it is there (the LRU's
    /// `del_from_htab`).
    fn lru_del_node(&self, n: u32) -> bool {
        let s = self.slab();
        if s.state(n as usize).load(Ordering::Acquire) != LIVE {
            return false;
        }
        let key = s.key(n as usize);
        let mut g = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        if g.get(key) == Some(&n) {
            g.remove(key);
            self.index_remove(key, n);
            s.state(n as usize).store(FREE, Ordering::Release);
            self.count.fetch_sub(1, Ordering::AcqRel);
            true
        } else {
            false
        }
    }

    fn lru_update(
        &self,
        lru: &Mutex<Lru>,
        key: &[u8],
        flags: u64,
        cpu: usize,
        write: &dyn Fn(u32, bool),
    ) -> Result<(), MapError> {
        let mut l = lru.lock().unwrap_or_else(|e| e.into_inner());
        let mut del = |n| self.lru_del_node(n);
        let new = if self.percpu && flags & 3 == BPF_EXIST {
            None
        } else {
            Some(l.pop_free(&self.refs, cpu, &mut del).ok_or_else(|| {
                MapError::new(
                    libc::ENOMEM,
                    "the LRU has no free node (the kernel says ENOMEM)",
                )
            })?)
        };
        if let Some(n) = new {
            self.slab().write_key(n as usize, key);
        }
        let mut g = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        let old = g.get(key).copied();
        if let Err(e) = Self::flag_conflict(old.is_some(), flags) {
            drop(g);
            if let Some(n) = new {
                l.push_free(&self.refs, n);
            }
            return Err(e);
        }
        if self.percpu {
            if let Some(o) = old {
                self.touch(o);
                write(o, false);
                drop(g);
                if let Some(n) = new {
                    l.push_free(&self.refs, n);
                }
                return Ok(());
            }
        }
        // A node is popped unless BPF_EXIST on a per-CPU LRU, which has an
        // old element here.
        let Some(n) = new else {
            return Err(MapError::new(
                libc::ENOENT,
                "BPF_EXIST: the key is not in the map (the kernel says ENOENT)",
            ));
        };
        write(n, true);
        self.slab().state(n as usize).store(LIVE, Ordering::Release);
        g.insert(key.into(), n);
        if let Some(o) = old {
            self.index_remove(key, o);
        }
        self.index_insert(key, n);
        match old {
            Some(o) => {
                self.touch(n);
                self.slab().state(o as usize).store(FREE, Ordering::Release);
                drop(g);
                l.push_free(&self.refs, o);
            }
            None => {
                self.count.fetch_add(1, Ordering::AcqRel);
            }
        }
        Ok(())
    }

    /// Deletes `key`, copying its value out first when `out` is given.
    fn do_delete(&self, key: &[u8], out: Option<&mut [u8]>) -> Result<(), MapError> {
        let key = self.key_check(key)?;
        let guard = pin();
        let lru = self
            .lru
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
        let mut g = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = g.remove(key) else {
            return Err(MapError::noent(
                "the key does not exist (the kernel says ENOENT)",
            ));
        };
        self.index_remove(key, slot);
        if let Some(out) = out {
            self.slab()
                .read_value(slot as usize, head_mut(out, self.value_size_user()));
        }
        self.count.fetch_sub(1, Ordering::AcqRel);
        drop(g);
        match lru {
            Some(mut l) => {
                self.slab()
                    .state(slot as usize)
                    .store(FREE, Ordering::Release);
                l.push_free(&self.refs, slot);
            }
            None => self.retire(slot, &guard),
        }
        Ok(())
    }

    fn slot_of(&self, key: &[u8]) -> Option<u32> {
        self.shard(key)
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }

    fn next_live(&self, from: usize) -> Option<usize> {
        let s = self.slab();
        (from..s.capacity()).find(|&i| s.state(i).load(Ordering::Acquire) == LIVE)
    }
}

impl Map for HashMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        self.ncpus
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let key = self.key_check(key)?;
        check_len("value", value_out.len(), self.value_size_user())?;
        let g = self.shard(key).read().unwrap_or_else(|e| e.into_inner());
        let slot = *g
            .get(key)
            .ok_or_else(|| MapError::noent("the key does not exist (the kernel says ENOENT)"))?;
        self.slab()
            .read_value(slot as usize, head_mut(value_out, self.value_size_user()));
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        check_len("value", value.len(), self.value_size_user())?;
        self.do_update(key, flags, 0, &|slot, _fresh| {
            self.write_user_value(slot, value)
        })
    }

    fn update_on_cpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), MapError> {
        if cpu >= self.ncpus {
            return Err(MapError::inval(format!(
                "cpu {cpu} is not below possible_cpus {}",
                self.ncpus
            )));
        }
        check_len("value", value.len(), self.spec.value_size as usize)?;
        self.do_update(key, flags, cpu, &|slot, fresh| {
            self.write_cpu_value(slot, value, if self.percpu { cpu } else { 0 }, fresh)
        })
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        self.do_delete(key, None)
    }

    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.do_delete(key, None)
    }

    fn lookup_and_delete(
        &self,
        key: &[u8],
        value_out: &mut [u8],
        flags: u64,
    ) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::inval(format!("lookup_and_delete flags {flags:#x}: only BPF_F_LOCK is defined (the kernel says EINVAL)")));
        }
        self.access.read("lookup_and_delete")?;
        self.access.write("lookup_and_delete")?;
        check_update_lock(flags)?;
        check_len("value", value_out.len(), self.value_size_user())?;
        self.do_delete(key, Some(value_out))
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        let ks = self.spec.key_size as usize;
        check_len("next key", next_out.len(), ks)?;
        let _guard = pin();
        let from = match key {
            Some(k) => match self.slot_of(self.key_check(k)?) {
                Some(s) => s as usize + 1,
                None => 0,
            },
            None => 0,
        };
        let s = self.next_live(from).ok_or_else(|| {
            MapError::noent("no next key: the walk is over (the kernel says ENOENT)")
        })?;
        put(next_out, self.slab().key(s));
        Ok(())
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    fn lookup_ptr(&self, key: &[u8], cpu: usize, guard: &Guard) -> Option<NonNull<u8>> {
        if cpu >= self.ncpus {
            return None;
        }
        let cpu = if self.percpu { cpu } else { 0 };
        let (slot, value) = self.find_value(key.get(..self.spec.key_size as usize)?, cpu, guard)?;
        if self.lru.is_some() {
            self.touch(slot);
        }
        NonNull::new(value)
    }

    fn direct_lookup(&self) -> Option<DirectLookup> {
        let func = match self.spec.key_size {
            4 => direct_lookup_fixed::<4>,
            8 => direct_lookup_fixed::<8>,
            _ => direct_lookup,
        };
        Some(DirectLookup {
            func,
            obj: self as *const HashMap as *const u8,
        })
    }

    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        let (_, start) = self.slab().value_region(addr, len)?;
        Some(value_mem_region(
            start,
            self.slab().value_size(),
            self.spec.map_flags & BPF_F_RDONLY_PROG == 0,
        ))
    }

    fn len(&self) -> usize {
        self.count.load(Ordering::Acquire) as usize
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
        let none = |e| {
            (
                BatchOut {
                    count: 0,
                    out_batch: Vec::new(),
                },
                e,
            )
        };
        self.access.read("lookup_batch").map_err(none)?;
        if delete {
            self.access.write("lookup_and_delete_batch").map_err(none)?;
        }
        check_batch_flags(elem_flags).map_err(none)?;
        if max_count == 0 {
            return Ok(BatchOut {
                count: 0,
                out_batch: Vec::new(),
            });
        }
        let ks = self.spec.key_size as usize;
        let vs = self.value_size_user();
        check_len("keys", keys.len(), ks * max_count as usize).map_err(none)?;
        check_len("values", values.len(), vs * max_count as usize).map_err(none)?;
        let mut pos = match in_batch {
            Some(b) => index_of(b).map_err(none)? as usize,
            None => 0,
        };
        let mut cp = 0usize;
        let mut found = Vec::new();
        {
            let _guard = pin();
            while cp < max_count as usize {
                let Some(s) = self.next_live(pos) else {
                    pos = self.slab().capacity();
                    break;
                };
                let key = self.slab().key(s).to_vec();
                let g = self.shard(&key).read().unwrap_or_else(|e| e.into_inner());
                if g.get(&key[..]) == Some(&(s as u32)) {
                    self.slab()
                        .read_value(s, crate::bytes::chunk_mut(values, cp, vs));
                    crate::bytes::put(crate::bytes::chunk_mut(keys, cp, ks), &key);
                    found.push(key);
                    cp += 1;
                }
                pos = s + 1;
            }
        }
        if delete {
            for k in &found {
                let _ = self.do_delete(k, None);
            }
        }
        let at_end = self.next_live(pos).is_none();
        let out = BatchOut {
            count: cp as u32,
            out_batch: (pos as u32).to_ne_bytes().to_vec(),
        };
        if at_end {
            Err((
                out,
                MapError::noent("the walk reached the end of the map (the kernel says ENOENT)"),
            ))
        } else {
            Ok(out)
        }
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
