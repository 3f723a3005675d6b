//! The XDP redirect maps: `BPF_MAP_TYPE_DEVMAP`, `BPF_MAP_TYPE_DEVMAP_HASH`,
//! `BPF_MAP_TYPE_CPUMAP` and `BPF_MAP_TYPE_XSKMAP`, with the kernel's
//! creation checks and host-side semantics (`kernel/bpf/devmap.c`,
//! `kernel/bpf/cpumap.c`, `net/xdp/xskmap.c`).
//!
//! The kernel objects behind the values are modelled in userspace:
//! - a devmap value (`struct bpf_devmap_val`: `u32 ifindex`, then optionally
//!   a program fd in, a program id out) names a network interface of the
//!   host, checked with `if_indextoname` as the kernel checks it with
//!   `dev_get_by_index` (`EINVAL` for an unknown ifindex). The kernel
//!   forgets an entry whose device goes away; ironbpf keeps it.
//! - a cpumap value (`struct bpf_cpumap_val`: `u32 qsize`, then the program)
//!   names a possible CPU by its key, with the kernel's limits on qsize; no
//!   kthread and no queue exist behind it.
//! - an xskmap value is an AF_XDP socket fd of this process, checked as the
//!   kernel checks it (`EBADF`, `ENOTSOCK`, `EOPNOTSUPP` for another family);
//!   the socket is remembered by its inode, and the kernel's removal of the
//!   entry when the socket closes is not modelled.
//! - a program fd in a devmap or cpumap value (`bpf_prog.fd > 0`) cannot be
//!   resolved from the host: ironbpf refuses it with `EINVAL`, which is what
//!   the kernel says for an fd that is not a program of the right type. The
//!   engine attaches programs with [`DevMap::update_with_prog`] /
//!   [`CpuMap::update_with_prog`], which record the program's id the way a
//!   kernel lookup reports it.
//!
//! A program's `bpf_map_lookup_elem` gets a read-only pointer to the value
//! (the kernel sets `BPF_F_RDONLY_PROG` on devmaps); for an xskmap it gets a
//! pointer to the socket's `struct bpf_xdp_sock` (its `queue_id`, 0 here).
//! `bpf_redirect_map` is [`redirect_map`].

use crate::bytes::{head, put};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::RwLock;

use crate::spec::{check_flags, exactly, nonzero};
use crate::*;

/// `bpf_redirect_map` flags: `BPF_F_BROADCAST` (devmaps only) sends to every
/// entry; with `BPF_F_EXCLUDE_INGRESS`, not to the receiving device.
pub const BPF_F_BROADCAST: u64 = 1 << 3;
/// See [`BPF_F_BROADCAST`].
pub const BPF_F_EXCLUDE_INGRESS: u64 = 1 << 4;
/// The XDP action a successful `bpf_redirect_map` returns.
pub const XDP_REDIRECT: u64 = 4;
/// The XDP action for refused flags.
pub const XDP_ABORTED: u64 = 0;
/// The low bits of `bpf_redirect_map`'s flags: the action returned when the
/// key holds nothing.
pub const BPF_REDIRECT_ACTION_MASK: u64 = 3;
/// The largest cpumap queue (`qsize`) the kernel accepts.
pub const CPUMAP_MAX_QSIZE: u32 = 16384;
/// `NR_CPUS` of the kernel ironbpf follows (`CONFIG_NR_CPUS=256` on x86-64
/// distribution kernels): a cpumap's largest `max_entries`.
pub const NR_CPUS: u32 = 256;

/// One entry: the value as a lookup reports it (8 bytes; the first
/// `value_size` are exchanged), the socket inode for an xskmap, and the
/// object the engine attached.
struct Entry {
    val: [u8; 8],
    ino: u64,
    object: Option<Arc<dyn Any + Send + Sync>>,
}

enum Table {
    /// devmap, cpumap, xskmap: one slot per index.
    Array(Vec<Option<Box<Entry>>>),
    /// devmap_hash: the entries by key, and the kernel's bucket lists
    /// (`key & (n_buckets - 1)`, newest first) for `get_next_key`'s order.
    Hash {
        n_buckets: u64,
        entries: BTreeMap<u32, Box<Entry>>,
        buckets: BTreeMap<u64, Vec<u32>>,
    },
}

/// The slot table shared by the redirect maps. Replaced entries are freed
/// only once every epoch guard that could see them is gone, so a program's
/// pointer stays valid while it holds its guard.
struct Slots {
    table: RwLock<Table>,
}

impl Slots {
    fn array(n: u32) -> Self {
        let mut v = Vec::new();
        v.resize_with(n as usize, || None);
        Slots {
            table: RwLock::new(Table::Array(v)),
        }
    }

    fn hash(max_entries: u32) -> Self {
        Slots {
            table: RwLock::new(Table::Hash {
                n_buckets: (max_entries as u64).next_power_of_two(),
                entries: BTreeMap::new(),
                buckets: BTreeMap::new(),
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    fn retire(old: Option<Box<Entry>>) {
        if let Some(old) = old {
            crossbeam_epoch::pin().defer(move || drop(old));
        }
    }

    /// The value of `k`, if present.
    fn get(&self, k: u32) -> Option<([u8; 8], u64)> {
        match &*self.read() {
            Table::Array(v) => v.get(k as usize)?.as_ref().map(|e| (e.val, e.ino)),
            Table::Hash { entries, .. } => entries.get(&k).map(|e| (e.val, e.ino)),
        }
    }

    fn object(&self, k: u32) -> Option<Arc<dyn Any + Send + Sync>> {
        match &*self.read() {
            Table::Array(v) => v.get(k as usize)?.as_ref()?.object.clone(),
            Table::Hash { entries, .. } => entries.get(&k)?.object.clone(),
        }
    }

    fn ptr(&self, k: u32) -> Option<NonNull<u8>> {
        let t = self.read();
        let e = match &*t {
            Table::Array(v) => v.get(k as usize)?.as_ref()?,
            Table::Hash { entries, .. } => entries.get(&k)?,
        };
        NonNull::new(e.val.as_ptr() as *mut u8)
    }

    /// Stores into array slot `k` (which the caller checked), or clears it.
    fn set_array(&self, k: u32, e: Option<Entry>) {
        let old = match &mut *self.write() {
            Table::Array(v) => v
                .get_mut(k as usize)
                .and_then(|slot| std::mem::replace(slot, e.map(Box::new))),
            Table::Hash { .. } => None,
        };
        Self::retire(old);
    }

    fn clear_array(&self, k: u32) -> bool {
        let old = match &mut *self.write() {
            Table::Array(v) => v.get_mut(k as usize).and_then(Option::take),
            Table::Hash { .. } => None,
        };
        let had = old.is_some();
        Self::retire(old);
        had
    }

    fn len(&self) -> usize {
        match &*self.read() {
            Table::Array(v) => v.iter().filter(|e| e.is_some()).count(),
            Table::Hash { entries, .. } => entries.len(),
        }
    }

    fn region(&self, addr: u64, len: u64, size: u64) -> Option<MemoryRegion> {
        let t = self.read();
        let hit = |e: &Entry| {
            let start = e.val.as_ptr() as u64;
            (addr >= start && addr.checked_add(len)? <= start + size)
                .then(|| value_mem_region(start, size as usize, false))
        };
        match &*t {
            Table::Array(v) => v.iter().flatten().find_map(|e| hit(e)),
            Table::Hash { entries, .. } => entries.values().find_map(|e| hit(e)),
        }
    }
}

/// `get_next_key` of the array kinds (devmap, cpumap, xskmap): every index
/// exists, whether or not it holds something.
fn array_next_key(
    max_entries: u32,
    key: Option<&[u8]>,
    next_out: &mut [u8],
) -> Result<(), MapError> {
    check_len("next key", next_out.len(), 4)?;
    let i = match key {
        None => u32::MAX,
        Some(k) => index_of(k)?,
    };
    let next = if i >= max_entries {
        0
    } else if i == max_entries - 1 {
        return Err(MapError::noent(format!(
            "index {i} is the last one (the kernel says ENOENT)"
        )));
    } else {
        i + 1
    };
    put(next_out, &next.to_ne_bytes());
    Ok(())
}

fn update_flags(flags: u64) -> Result<(), MapError> {
    if flags > BPF_EXIST {
        return Err(MapError::inval(format!(
            "update flags {flags:#x}: only BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)"
        )));
    }
    Ok(())
}

fn past_end(i: u32, max: u32, errno: i32) -> MapError {
    MapError::new(
        errno,
        format!(
            "index {i} is past max_entries {max} (the kernel says {})",
            errno_name(errno)
        ),
    )
}

fn word(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, crate::bytes::ne_u32)
}

/// Whether `ifindex` names a network interface of this host (the kernel's
/// `dev_get_by_index` in the caller's network namespace).
pub fn host_has_ifindex(ifindex: u32) -> bool {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `name` has the IF_NAMESIZE bytes if_indextoname may write.
    !unsafe { libc::if_indextoname(ifindex, name.as_mut_ptr()) }.is_null()
}

fn prog_fd_refused(what: &str, fd: i32) -> MapError {
    MapError::inval(format!(
        "{what} value names program fd {fd}: ironbpf cannot take a program from a host fd (attach it with update_with_prog); the kernel says EINVAL unless the fd is a loaded XDP program of the right attach type"
    ))
}

// ---------------------------------------------------------------------------
// devmap, devmap_hash
// ---------------------------------------------------------------------------

/// `BPF_MAP_TYPE_DEVMAP` and `BPF_MAP_TYPE_DEVMAP_HASH`: network devices by
/// index or by key, for `bpf_redirect_map`.
pub struct DevMap {
    spec: MapSpec,
    slots: Slots,
    access: Access,
}

impl DevMap {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        // dev_map_alloc_check.
        nonzero(spec, "max_entries", spec.max_entries)?;
        exactly(spec, "key_size", spec.key_size, 4)?;
        if spec.value_size != 4 && spec.value_size != 8 {
            return Err(MapError::inval(format!(
                "value_size {} is invalid for a {} map: it must be 4 (ifindex) or 8 (ifindex and program fd) (the kernel says EINVAL)",
                spec.value_size,
                map_type_name(spec.map_type)
            )));
        }
        check_flags(spec, BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)?;
        let hash = spec.map_type == BPF_MAP_TYPE_DEVMAP_HASH;
        if hash && spec.max_entries > 1 << 31 {
            return Err(MapError::inval(format!(
                "max_entries {} is above 2^31: the bucket count would overflow (the kernel says EINVAL)",
                spec.max_entries
            )));
        }
        let mut spec = spec.clone();
        // Lookups point into the device's value: programs may not write it.
        spec.map_flags |= BPF_F_RDONLY_PROG;
        Ok(DevMap {
            slots: if hash {
                Slots::hash(spec.max_entries)
            } else {
                Slots::array(spec.max_entries)
            },
            access: Access::new(spec.map_flags),
            spec,
        })
    }

    fn is_hash(&self) -> bool {
        self.spec.map_type == BPF_MAP_TYPE_DEVMAP_HASH
    }

    /// Stores `ifindex` with the program the engine attaches (its id is what
    /// a lookup reports in the second word), with the kernel's update
    /// checks. `prog_id` 0 means no program.
    pub fn update_with_prog(
        &self,
        key: u32,
        ifindex: u32,
        prog_id: u32,
        object: Option<Arc<dyn Any + Send + Sync>>,
        flags: u64,
    ) -> Result<(), MapError> {
        let mut val = [0u8; 8];
        put(&mut val, &ifindex.to_ne_bytes());
        val[4..].copy_from_slice(&prog_id.to_ne_bytes());
        self.store(key, val, object, flags)
    }

    fn check_dev(&self, ifindex: u32) -> Result<(), MapError> {
        if !host_has_ifindex(ifindex) {
            return Err(MapError::inval(format!(
                "ifindex {ifindex} names no network interface of this host (the kernel says EINVAL)"
            )));
        }
        Ok(())
    }

    fn store(
        &self,
        key: u32,
        val: [u8; 8],
        object: Option<Arc<dyn Any + Send + Sync>>,
        flags: u64,
    ) -> Result<(), MapError> {
        let ifindex = word(&val, 0);
        if !self.is_hash() {
            // __dev_map_update_elem: flags, index, then NOEXIST (every slot
            // exists), then the device; ifindex 0 empties the slot.
            update_flags(flags)?;
            if key >= self.spec.max_entries {
                return Err(past_end(key, self.spec.max_entries, libc::E2BIG));
            }
            if flags == BPF_NOEXIST {
                return Err(MapError::new(
                    libc::EEXIST,
                    "BPF_NOEXIST on a devmap: every index exists (the kernel says EEXIST)",
                ));
            }
            if ifindex == 0 {
                self.slots.set_array(key, None);
                return Ok(());
            }
            self.check_dev(ifindex)?;
            self.slots.set_array(
                key,
                Some(Entry {
                    val,
                    ino: 0,
                    object,
                }),
            );
            return Ok(());
        }
        // __dev_map_hash_update_elem.
        if flags > BPF_EXIST || ifindex == 0 {
            return Err(MapError::inval(format!(
                "update flags {flags:#x}, ifindex {ifindex}: a devmap_hash takes BPF_ANY, BPF_NOEXIST or BPF_EXIST and a nonzero ifindex (the kernel says EINVAL)"
            )));
        }
        let mut t = self.slots.write();
        let Table::Hash {
            n_buckets,
            entries,
            buckets,
        } = &mut *t
        else {
            unreachable!("a devmap_hash has a hash table")
        };
        let present = entries.contains_key(&key);
        if present && flags & BPF_NOEXIST != 0 {
            return Err(MapError::new(
                libc::EEXIST,
                format!(
                    "key {key} is present and the flag is BPF_NOEXIST (the kernel says EEXIST)"
                ),
            ));
        }
        self.check_dev(ifindex)?;
        if !present && entries.len() >= self.spec.max_entries as usize {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "the map is full: max_entries {} (the kernel says E2BIG)",
                    self.spec.max_entries
                ),
            ));
        }
        let b = key as u64 & (*n_buckets - 1);
        let list = buckets.entry(b).or_default();
        list.retain(|&k| k != key);
        list.insert(0, key);
        let old = entries.insert(
            key,
            Box::new(Entry {
                val,
                ino: 0,
                object,
            }),
        );
        drop(t);
        Slots::retire(old);
        Ok(())
    }

    /// The program the engine attached to `key`'s device, if any.
    pub fn object(&self, key: u32) -> Option<Arc<dyn Any + Send + Sync>> {
        self.slots.object(key)
    }

    /// The ifindex stored under `key` (what a redirect sends to).
    pub fn ifindex(&self, key: u32) -> Option<u32> {
        self.slots.get(key).map(|(v, _)| word(&v, 0))
    }

    /// Every (key, ifindex) present, in the order `BPF_F_BROADCAST` visits
    /// them (index order; bucket order for devmap_hash).
    pub fn entries(&self) -> Vec<(u32, u32)> {
        match &*self.slots.read() {
            Table::Array(v) => v
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, word(&e.val, 0))))
                .collect(),
            Table::Hash {
                entries, buckets, ..
            } => buckets
                .values()
                .flatten()
                .filter_map(|k| entries.get(k).map(|e| (*k, word(&e.val, 0))))
                .collect(),
        }
    }
}

impl Map for DevMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let vs = self.spec.value_size as usize;
        check_len("value", value_out.len(), vs)?;
        let k = index_of(key)?;
        let (val, _) = self.slots.get(k).ok_or_else(|| {
            MapError::noent(format!("key {k} holds no device (the kernel says ENOENT)"))
        })?;
        put(value_out, head(&val, vs));
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        let k = index_of(key)?;
        let mut val = [0u8; 8];
        put(&mut val, head(value, vs));
        let fd = word(&val, 4) as i32;
        // The program fd is looked at after the flags, the index and the
        // device; a devmap with ifindex 0 and a program fd is EINVAL.
        if fd > 0 {
            if !self.is_hash() {
                update_flags(flags)?;
                if k >= self.spec.max_entries {
                    return Err(past_end(k, self.spec.max_entries, libc::E2BIG));
                }
                if flags == BPF_NOEXIST {
                    return Err(MapError::new(
                        libc::EEXIST,
                        "BPF_NOEXIST on a devmap: every index exists (the kernel says EEXIST)",
                    ));
                }
            } else {
                if flags > BPF_EXIST || word(&val, 0) == 0 {
                    return Err(MapError::inval(format!(
                        "update flags {flags:#x}, ifindex {}: a devmap_hash takes BPF_ANY, BPF_NOEXIST or BPF_EXIST and a nonzero ifindex (the kernel says EINVAL)",
                        word(&val, 0)
                    )));
                }
                if flags & BPF_NOEXIST != 0 && self.slots.get(k).is_some() {
                    return Err(MapError::new(
                        libc::EEXIST,
                        format!("key {k} is present and the flag is BPF_NOEXIST (the kernel says EEXIST)"),
                    ));
                }
            }
            if word(&val, 0) != 0 {
                self.check_dev(word(&val, 0))?;
            }
            return Err(prog_fd_refused("devmap", fd));
        }
        val[4..].fill(0);
        self.store(k, val, None, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let k = index_of(key)?;
        if !self.is_hash() {
            if k >= self.spec.max_entries {
                return Err(past_end(k, self.spec.max_entries, libc::EINVAL));
            }
            // Emptying an empty slot succeeds, as in the kernel.
            self.slots.clear_array(k);
            return Ok(());
        }
        let mut t = self.slots.write();
        let Table::Hash {
            n_buckets,
            entries,
            buckets,
        } = &mut *t
        else {
            unreachable!("a devmap_hash has a hash table")
        };
        let old = entries.remove(&k).ok_or_else(|| {
            MapError::noent(format!("key {k} is absent (the kernel says ENOENT)"))
        })?;
        let b = k as u64 & (*n_buckets - 1);
        if let Some(list) = buckets.get_mut(&b) {
            list.retain(|&x| x != k);
            if list.is_empty() {
                buckets.remove(&b);
            }
        }
        drop(t);
        Slots::retire(Some(old));
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        if !self.is_hash() {
            return array_next_key(self.spec.max_entries, key, next_out);
        }
        check_len("next key", next_out.len(), 4)?;
        let t = self.slots.read();
        let Table::Hash {
            n_buckets,
            entries,
            buckets,
        } = &*t
        else {
            unreachable!("a devmap_hash has a hash table")
        };
        let mut from = 0u64;
        if let Some(k) = key {
            let k = index_of(k)?;
            if entries.contains_key(&k) {
                let b = k as u64 & (n_buckets - 1);
                let list = buckets.get(&b).map(|l| &l[..]).unwrap_or_default();
                let pos = list.iter().position(|&x| x == k);
                if let Some(&n) = pos.and_then(|p| list.get(p + 1)) {
                    put(next_out, &n.to_ne_bytes());
                    return Ok(());
                }
                from = b + 1;
            }
        }
        match buckets.range(from..).find_map(|(_, l)| l.first()) {
            Some(first) => {
                put(next_out, &first.to_ne_bytes());
                Ok(())
            }
            None => Err(MapError::noent("no more keys (the kernel says ENOENT)")),
        }
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    fn lookup_ptr(&self, key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        self.slots.ptr(index_of(key).ok()?)
    }

    /// O(entries): a scan of the stored values.
    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        self.slots.region(addr, len, self.spec.value_size as u64)
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

// ---------------------------------------------------------------------------
// cpumap
// ---------------------------------------------------------------------------

/// `BPF_MAP_TYPE_CPUMAP`: per-CPU redirect targets keyed by CPU number,
/// valued by queue size.
pub struct CpuMap {
    spec: MapSpec,
    slots: Slots,
    access: Access,
    possible_cpus: usize,
}

impl CpuMap {
    pub(crate) fn new(spec: &MapSpec, possible_cpus: usize) -> Result<Self, MapError> {
        nonzero(spec, "max_entries", spec.max_entries)?;
        exactly(spec, "key_size", spec.key_size, 4)?;
        if spec.value_size != 4 && spec.value_size != 8 {
            return Err(MapError::inval(format!(
                "value_size {} is invalid for a cpumap: it must be 4 (qsize) or 8 (qsize and program fd) (the kernel says EINVAL)",
                spec.value_size
            )));
        }
        // Only BPF_F_NUMA_NODE: not even the access flags (the kernel's
        // cpu_map_alloc).
        check_flags(spec, BPF_F_NUMA_NODE)?;
        if spec.max_entries > NR_CPUS {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "max_entries {} is above NR_CPUS {NR_CPUS} (the kernel says E2BIG)",
                    spec.max_entries
                ),
            ));
        }
        Ok(CpuMap {
            spec: spec.clone(),
            slots: Slots::array(spec.max_entries),
            access: Access::new(spec.map_flags),
            possible_cpus,
        })
    }

    /// Stores `qsize` for CPU `key` with the program the engine attaches
    /// (`prog_id` 0: none), with the kernel's update checks.
    pub fn update_with_prog(
        &self,
        key: u32,
        qsize: u32,
        prog_id: u32,
        object: Option<Arc<dyn Any + Send + Sync>>,
        flags: u64,
    ) -> Result<(), MapError> {
        self.check_update(key, qsize, flags)?;
        self.put(key, qsize, prog_id, object);
        Ok(())
    }

    fn check_update(&self, key: u32, qsize: u32, flags: u64) -> Result<(), MapError> {
        update_flags(flags)?;
        if key >= self.spec.max_entries {
            return Err(past_end(key, self.spec.max_entries, libc::E2BIG));
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::new(
                libc::EEXIST,
                "BPF_NOEXIST on a cpumap: every CPU slot exists (the kernel says EEXIST)",
            ));
        }
        if qsize > CPUMAP_MAX_QSIZE {
            return Err(MapError::new(
                libc::EOVERFLOW,
                format!("qsize {qsize} is above the limit {CPUMAP_MAX_QSIZE} (the kernel says EOVERFLOW)"),
            ));
        }
        if key as usize >= self.possible_cpus {
            return Err(MapError::new(
                libc::ENODEV,
                format!(
                    "CPU {key} is not a possible CPU of this host ({} possible; the kernel says ENODEV)",
                    self.possible_cpus
                ),
            ));
        }
        Ok(())
    }

    fn put(&self, key: u32, qsize: u32, prog_id: u32, object: Option<Arc<dyn Any + Send + Sync>>) {
        if qsize == 0 {
            self.slots.set_array(key, None);
            return;
        }
        let mut val = [0u8; 8];
        put(&mut val, &qsize.to_ne_bytes());
        val[4..].copy_from_slice(&prog_id.to_ne_bytes());
        self.slots.set_array(
            key,
            Some(Entry {
                val,
                ino: 0,
                object,
            }),
        );
    }

    /// The queue size stored for CPU `key`, if any.
    pub fn qsize(&self, key: u32) -> Option<u32> {
        self.slots.get(key).map(|(v, _)| word(&v, 0))
    }

    /// The program the engine attached to CPU `key`'s entry.
    pub fn object(&self, key: u32) -> Option<Arc<dyn Any + Send + Sync>> {
        self.slots.object(key)
    }
}

impl Map for CpuMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let vs = self.spec.value_size as usize;
        check_len("value", value_out.len(), vs)?;
        let k = index_of(key)?;
        let (val, _) = self.slots.get(k).ok_or_else(|| {
            MapError::noent(format!("CPU {k} has no entry (the kernel says ENOENT)"))
        })?;
        put(value_out, head(&val, vs));
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        let k = index_of(key)?;
        let qsize = word(value, 0);
        let fd = if vs == 8 { word(value, 4) as i32 } else { 0 };
        self.check_update(k, qsize, flags)?;
        if qsize != 0 && fd > 0 {
            // The kernel fails the entry's allocation when the program fd
            // is not an XDP program of attach type BPF_XDP_CPUMAP.
            return Err(MapError::new(
                libc::ENOMEM,
                format!(
                    "cpumap value names program fd {fd}: ironbpf cannot take a program from a host fd (attach it with update_with_prog); the kernel says ENOMEM unless the fd is a loaded XDP program of attach type BPF_XDP_CPUMAP"
                ),
            ));
        }
        self.put(k, qsize, 0, None);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let k = index_of(key)?;
        if k >= self.spec.max_entries {
            return Err(past_end(k, self.spec.max_entries, libc::EINVAL));
        }
        self.slots.clear_array(k);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        array_next_key(self.spec.max_entries, key, next_out)
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    fn lookup_ptr(&self, key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        self.slots.ptr(index_of(key).ok()?)
    }

    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        self.slots.region(addr, len, self.spec.value_size as u64)
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

// ---------------------------------------------------------------------------
// xskmap
// ---------------------------------------------------------------------------

/// `BPF_MAP_TYPE_XSKMAP`: AF_XDP sockets by index.
pub struct XskMap {
    spec: MapSpec,
    slots: Slots,
    access: Access,
}

impl XskMap {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        nonzero(spec, "max_entries", spec.max_entries)?;
        exactly(spec, "key_size", spec.key_size, 4)?;
        exactly(spec, "value_size", spec.value_size, 4)?;
        check_flags(spec, BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)?;
        Ok(XskMap {
            spec: spec.clone(),
            slots: Slots::array(spec.max_entries),
            access: Access::new(spec.map_flags),
        })
    }

    /// The inode of the socket stored under `key`, if any.
    pub fn socket_inode(&self, key: u32) -> Option<u64> {
        self.slots.get(key).map(|(_, ino)| ino)
    }
}

impl Map for XskMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    /// The kernel gives no socket back to the host: `EOPNOTSUPP`.
    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let _ = (key, value_out);
        Err(MapError::new(
            libc::EOPNOTSUPP,
            "an xskmap's sockets cannot be looked up from the host (the kernel says EOPNOTSUPP)",
        ))
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        check_len("value", value.len(), 4)?;
        let k = index_of(key)?;
        update_flags(flags)?;
        if k >= self.spec.max_entries {
            return Err(past_end(k, self.spec.max_entries, libc::E2BIG));
        }
        let sock = crate::sock::socket_of_fd(word(value, 0))?;
        if sock.domain != libc::AF_XDP {
            return Err(MapError::new(
                libc::EOPNOTSUPP,
                format!(
                    "fd {} is a socket of family {}, not AF_XDP (the kernel says EOPNOTSUPP)",
                    word(value, 0),
                    sock.domain
                ),
            ));
        }
        let old = self.slots.get(k);
        match old {
            Some((_, ino)) if ino == sock.ino => return Ok(()),
            Some(_) if flags == BPF_NOEXIST => {
                return Err(MapError::new(
                    libc::EEXIST,
                    format!("index {k} holds another socket and the flag is BPF_NOEXIST (the kernel says EEXIST)"),
                ))
            }
            None if flags == BPF_EXIST => {
                return Err(MapError::noent(format!(
                    "index {k} is empty and the flag is BPF_EXIST (the kernel says ENOENT)"
                )))
            }
            _ => {}
        }
        // struct bpf_xdp_sock { u32 queue_id; }: 0 for a socket ironbpf
        // does not see bound.
        self.slots.set_array(
            k,
            Some(Entry {
                val: [0; 8],
                ino: sock.ino,
                object: None,
            }),
        );
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let k = index_of(key)?;
        if k >= self.spec.max_entries {
            return Err(past_end(k, self.spec.max_entries, libc::EINVAL));
        }
        self.slots.clear_array(k);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        array_next_key(self.spec.max_entries, key, next_out)
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    fn lookup_ptr(&self, key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        self.slots.ptr(index_of(key).ok()?)
    }

    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        self.slots.region(addr, len, 4)
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What `bpf_redirect_map` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectDecision {
    /// The XDP action the helper returns: `XDP_REDIRECT`, the fallback in
    /// the flags' low bits when the key holds nothing, or `XDP_ABORTED` for
    /// unknown flags.
    pub action: u64,
    /// Whether a redirect is pending (the kernel's `bpf_redirect_info`
    /// names the map, the key and the flags).
    pub redirect: bool,
}

/// `bpf_redirect_map` on a devmap, devmap_hash, cpumap or xskmap, as the
/// kernel's `__bpf_xdp_redirect_map`: flags outside the action bits (and,
/// for devmaps, `BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS`) abort; the key is
/// truncated to 32 bits; an empty slot returns the flags' low two bits
/// unless broadcasting. Other map kinds are refused with `EINVAL` (the
/// verifier refuses the call).
pub fn redirect_map(map: &dyn Map, key: u64, flags: u64) -> Result<RedirectDecision, MapError> {
    let t = map.spec().map_type;
    let extra = match t {
        BPF_MAP_TYPE_DEVMAP | BPF_MAP_TYPE_DEVMAP_HASH => BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS,
        BPF_MAP_TYPE_CPUMAP | BPF_MAP_TYPE_XSKMAP => 0,
        _ => {
            return Err(MapError::inval(format!(
                "bpf_redirect_map needs a devmap, devmap_hash, cpumap or xskmap, not a {} map (the verifier refuses the call)",
                map_type_name(t)
            )))
        }
    };
    if flags & !(BPF_REDIRECT_ACTION_MASK | extra) != 0 {
        return Ok(RedirectDecision {
            action: XDP_ABORTED,
            redirect: false,
        });
    }
    let guard = crossbeam_epoch::pin();
    let present = map
        .lookup_ptr(&(key as u32).to_ne_bytes(), 0, &guard)
        .is_some();
    if !present && flags & BPF_F_BROADCAST == 0 {
        return Ok(RedirectDecision {
            action: flags & BPF_REDIRECT_ACTION_MASK,
            redirect: false,
        });
    }
    Ok(RedirectDecision {
        action: XDP_REDIRECT,
        redirect: true,
    })
}
