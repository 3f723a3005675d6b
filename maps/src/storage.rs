//! Storage attached to kernel objects: `BPF_MAP_TYPE_CGROUP_STORAGE`,
//! `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE` (`kernel/bpf/local_storage.c`) and
//! the local storages `BPF_MAP_TYPE_SK_STORAGE`, `BPF_MAP_TYPE_INODE_STORAGE`,
//! `BPF_MAP_TYPE_TASK_STORAGE`, `BPF_MAP_TYPE_CGRP_STORAGE`
//! (`kernel/bpf/bpf_local_storage.c` and its users), with the kernel's
//! creation checks and host semantics.
//!
//! Cgroup storage: an element exists only while a program using the map is
//! attached to a cgroup; the host can read and overwrite it but not create
//! or delete it (`ENOENT`, `EINVAL`). Keys are a `u64` cgroup id, or
//! `struct bpf_cgroup_storage_key { u64 cgroup_inode_id; u32 attach_type; }`
//! (16 bytes). The engine creates an element when it attaches a program
//! ([`CgroupStorage::attach`]) and gives the program its pointer
//! ([`CgroupStorage::storage_ptr`], what `bpf_get_local_storage` returns).
//! Elements are listed newest first.
//!
//! Local storage: the key is an fd of this process naming the owner (a
//! socket for sk_storage, any file for inode_storage, a pidfd for
//! task_storage, a cgroup directory for cgrp_storage), resolved as the
//! kernel resolves it (`EBADF`, `ENOTSOCK`); the element belongs to the
//! owner, identified by the socket's cookie, the file's (device, inode),
//! the pidfd's pid, or the cgroup directory's inode. Departure: the kernel
//! frees an element with its owner; ironbpf keeps it until deleted. The
//! helpers (`bpf_sk_storage_get`/`delete`, `bpf_task_storage_get`...) call
//! [`LocalStorage::storage_get`] and [`LocalStorage::storage_delete`] with
//! the owner's id.

use crate::bytes::{head, ne_i32, put};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::RwLock;

use crate::slab::round8;
use crate::spec::{check_flags, nonzero};
use crate::*;

/// `sizeof(struct bpf_local_storage_elem)` on x86-64, which the largest
/// value leaves room for.
const LOCAL_STORAGE_ELEM_SIZE: u32 = 128;
/// `BPF_LOCAL_STORAGE_MAX_VALUE_SIZE`: `U16_MAX - sizeof(elem)` (smaller than
/// the kmalloc bound).
pub const BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: u32 = u16::MAX as u32 - LOCAL_STORAGE_ELEM_SIZE;
/// `bpf_sk_storage_get`'s flag: create the element if absent.
pub const BPF_LOCAL_STORAGE_GET_F_CREATE: u64 = 1;

/// A value whose address stays put until every guard that saw it is gone.
struct Value(Box<[u8]>);

fn retire(v: Option<Value>) {
    if let Some(v) = v {
        crossbeam_epoch::pin().defer(move || drop(v));
    }
}

// ---------------------------------------------------------------------------
// cgroup storage
// ---------------------------------------------------------------------------

/// `BPF_MAP_TYPE_CGROUP_STORAGE` and `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE`.
pub struct CgroupStorage {
    spec: MapSpec,
    ncpus: usize,
    /// Newest first: (key bytes, value; one `round8(value_size)` slot per
    /// CPU when per-CPU).
    elems: RwLock<Vec<(Vec<u8>, Value)>>,
    access: Access,
}

impl CgroupStorage {
    pub(crate) fn new(spec: &MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let percpu = spec.map_type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
        if spec.key_size != 8 && spec.key_size != 16 {
            return Err(MapError::inval(format!(
                "key_size {} is invalid for a {} map: it must be 8 (cgroup id) or 16 (struct bpf_cgroup_storage_key) (the kernel says EINVAL)",
                spec.key_size,
                map_type_name(spec.map_type)
            )));
        }
        nonzero(spec, "value_size", spec.value_size)?;
        let max = if percpu {
            BPF_LOCAL_STORAGE_MAX_VALUE_SIZE.min(crate::spec::PCPU_MIN_UNIT_SIZE as u32)
        } else {
            BPF_LOCAL_STORAGE_MAX_VALUE_SIZE
        };
        if spec.value_size > max {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "value_size {} is above {max}, the largest {} value (the kernel says E2BIG)",
                    spec.value_size,
                    map_type_name(spec.map_type)
                ),
            ));
        }
        check_flags(spec, BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        if spec.map_flags & BPF_F_RDONLY_PROG != 0 && spec.map_flags & BPF_F_WRONLY_PROG != 0 {
            return Err(MapError::inval(
                "map_flags has both BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG (the kernel says EINVAL)",
            ));
        }
        if spec.max_entries != 0 {
            return Err(MapError::inval(format!(
                "max_entries {} is invalid for a {} map: storage is per cgroup, max_entries must be 0 (the kernel says EINVAL)",
                spec.max_entries,
                map_type_name(spec.map_type)
            )));
        }
        Ok(CgroupStorage {
            spec: spec.clone(),
            ncpus: if percpu { ncpus } else { 1 },
            elems: RwLock::new(Vec::new()),
            access: Access::new(spec.map_flags),
        })
    }

    fn percpu(&self) -> bool {
        self.spec.map_type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    }

    fn slot(&self) -> usize {
        if self.percpu() {
            round8(self.spec.value_size as usize)
        } else {
            self.spec.value_size as usize
        }
    }

    /// The key of a cgroup (and attach type, for 16-byte keys).
    pub fn key_of(&self, cgroup_id: u64, attach_type: u32) -> Vec<u8> {
        let mut k = cgroup_id.to_ne_bytes().to_vec();
        if self.spec.key_size == 16 {
            k.extend_from_slice(&attach_type.to_ne_bytes());
            k.extend_from_slice(&[0; 4]);
        }
        k
    }

    fn find<'a>(elems: &'a [(Vec<u8>, Value)], key: &[u8]) -> Option<&'a Value> {
        elems.iter().find(|(k, _)| k[..] == key[..]).map(|(_, v)| v)
    }

    /// Creates the zeroed storage of a cgroup when the engine attaches a
    /// program using this map to it (the kernel's
    /// `bpf_cgroup_storage_alloc` + `_link`); an existing one is kept.
    pub fn attach(&self, cgroup_id: u64, attach_type: u32) {
        let key = self.key_of(cgroup_id, attach_type);
        let mut e = self.elems.write().unwrap_or_else(|e| e.into_inner());
        if Self::find(&e, &key).is_none() {
            let v = vec![0u8; self.slot() * self.ncpus].into_boxed_slice();
            e.insert(0, (key, Value(v)));
        }
    }

    /// Frees a cgroup's storage when the last program using it detaches.
    pub fn detach(&self, cgroup_id: u64, attach_type: u32) {
        let key = self.key_of(cgroup_id, attach_type);
        let mut e = self.elems.write().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = e.iter().position(|(k, _)| *k == key) {
            let (_, v) = e.remove(i);
            drop(e);
            retire(Some(v));
        }
    }

    /// What `bpf_get_local_storage` returns to a program running for this
    /// cgroup on `cpu`: its value (this CPU's copy when per-CPU).
    pub fn storage_ptr(&self, cgroup_id: u64, attach_type: u32, cpu: usize) -> Option<NonNull<u8>> {
        let key = self.key_of(cgroup_id, attach_type);
        let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
        let v = Self::find(&e, &key)?;
        let off = if self.percpu() {
            cpu.min(self.ncpus - 1) * self.slot()
        } else {
            0
        };
        NonNull::new(v.0.get(off..)?.as_ptr() as *mut u8)
    }

    fn key<'k>(&self, key: &'k [u8]) -> Result<&'k [u8], MapError> {
        check_len("key", key.len(), self.spec.key_size as usize)?;
        Ok(head(key, self.spec.key_size as usize))
    }
}

impl Map for CgroupStorage {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        self.ncpus
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let key = self.key(key)?;
        let n = self.value_size_user();
        check_len("value", value_out.len(), n)?;
        let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
        let v = Self::find(&e, key).ok_or_else(|| {
            MapError::noent(
                "no program using this map is attached to that cgroup (the kernel says ENOENT)",
            )
        })?;
        put(value_out, head(&v.0, n));
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        let key = self.key(key)?;
        let ok = if self.percpu() {
            flags == BPF_ANY || flags == BPF_EXIST
        } else {
            flags & !(BPF_F_LOCK | BPF_EXIST) == 0
        };
        if !ok {
            return Err(MapError::inval(format!(
                "update flags {flags:#x}: cgroup storage takes only BPF_ANY or BPF_EXIST, elements are made by attaching (the kernel says EINVAL)"
            )));
        }
        let n = self.value_size_user();
        check_len("value", value.len(), n)?;
        let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
        let v = Self::find(&e, key).ok_or_else(|| {
            MapError::noent("no program using this map is attached to that cgroup: the host cannot create cgroup storage (the kernel says ENOENT)")
        })?;
        // SAFETY: the value lives while the read lock is held; programs
        // write it through their pointers without locks, as in the kernel.
        unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), v.0.as_ptr() as *mut u8, n) };
        Ok(())
    }

    fn update_on_cpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), MapError> {
        let _ = (key, value, flags, cpu);
        Err(MapError::inval(
            "bpf_map_update_elem on cgroup storage: programs use bpf_get_local_storage (the verifier refuses the call)",
        ))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let _ = key;
        Err(MapError::inval(
            "cgroup storage cannot be deleted: it goes with the program's attachment (the kernel says EINVAL)",
        ))
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        let ks = self.spec.key_size as usize;
        check_len("next key", next_out.len(), ks)?;
        let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
        let next = match key {
            None => e.first(),
            Some(k) => {
                let k = self.key(k)?;
                let i = e
                    .iter()
                    .position(|(x, _)| x[..] == k[..])
                    .ok_or_else(|| MapError::noent("the key is absent (the kernel says ENOENT)"))?;
                e.get(i + 1)
            }
        };
        let (k, _) =
            next.ok_or_else(|| MapError::noent("no more keys (the kernel says ENOENT)"))?;
        put(next_out, k);
        Ok(())
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    /// No pointer by key: programs reach cgroup storage through
    /// `bpf_get_local_storage` ([`CgroupStorage::storage_ptr`]).
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }

    /// O(cgroups attached).
    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
        let slot = self.slot() as u64;
        let vs = self.spec.value_size as usize;
        e.iter().find_map(|(_, v)| {
            let base = v.0.as_ptr() as u64;
            let cpu = addr.checked_sub(base)? / slot.max(1);
            if cpu >= self.ncpus as u64 {
                return None;
            }
            let start = base + cpu * slot;
            (addr.checked_add(len)? <= start + vs as u64).then(|| value_mem_region(start, vs, true))
        })
    }

    fn len(&self) -> usize {
        self.elems.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

// ---------------------------------------------------------------------------
// local storage: sk, inode, task, cgrp
// ---------------------------------------------------------------------------

/// The owner of a local storage element, as the key fd names it.
fn owner_of_fd(map_type: u32, fd: i32) -> Result<u64, MapError> {
    let bad = |why: &str| {
        MapError::new(
            libc::EBADF,
            format!("key fd {fd} {why} (the kernel says EBADF)"),
        )
    };
    if fd < 0 {
        return Err(bad("is negative"));
    }
    match map_type {
        BPF_MAP_TYPE_SK_STORAGE => Ok(crate::sock::socket_of_fd(fd as u32)?.cookie),
        BPF_MAP_TYPE_TASK_STORAGE => {
            // A pidfd's fdinfo names its pid; no other file has that line.
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
                .map_err(|_| bad("is not an open file descriptor of this process"))?;
            let pid = info
                .lines()
                .find_map(|l| l.strip_prefix("Pid:"))
                .and_then(|p| p.trim().parse::<i64>().ok())
                .ok_or_else(|| bad("is not a pidfd"))?;
            if pid <= 0 {
                return Err(MapError::new(
                    libc::ESRCH,
                    format!("pidfd {fd} names a task that has exited (the kernel says ESRCH)"),
                ));
            }
            Ok(pid as u64)
        }
        _ => {
            // SAFETY: fstat writes one `stat` into `st`.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            if unsafe { libc::fstat(fd, &mut st) } != 0 {
                return Err(bad("is not an open file descriptor of this process"));
            }
            if map_type == BPF_MAP_TYPE_CGRP_STORAGE {
                // SAFETY: fstatfs writes one `statfs` into `sf`.
                let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
                let cgroupfs = unsafe { libc::fstatfs(fd, &mut sf) } == 0
                    && (sf.f_type == libc::CGROUP2_SUPER_MAGIC
                        || sf.f_type == libc::CGROUP_SUPER_MAGIC)
                    && st.st_mode & libc::S_IFMT == libc::S_IFDIR;
                if !cgroupfs {
                    return Err(bad("is not a cgroup directory"));
                }
                return Ok((st.st_dev << 32) ^ st.st_ino);
            }
            Ok((st.st_dev << 32) ^ st.st_ino)
        }
    }
}

/// `BPF_MAP_TYPE_SK_STORAGE`, `INODE_STORAGE`, `TASK_STORAGE`,
/// `CGRP_STORAGE`: one value per owner object, created on demand.
pub struct LocalStorage {
    spec: MapSpec,
    elems: RwLock<BTreeMap<u64, Value>>,
    access: Access,
}

impl LocalStorage {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        // bpf_local_storage_map_alloc_check.
        let f = spec.map_flags;
        if f & !(BPF_F_NO_PREALLOC | BPF_F_CLONE) != 0
            || f & BPF_F_NO_PREALLOC == 0
            || spec.max_entries != 0
            || spec.key_size != 4
            || spec.value_size == 0
            || spec.btf_key_type_id == 0
            || spec.btf_value_type_id == 0
        {
            return Err(MapError::inval(format!(
                "a {} map needs map_flags BPF_F_NO_PREALLOC (BPF_F_CLONE allowed, got {f:#x}), max_entries 0 (got {}), key_size 4 (got {}), a nonzero value_size, and BTF key and value types (got ids {} and {}) (the kernel says EINVAL)",
                map_type_name(spec.map_type),
                spec.max_entries,
                spec.key_size,
                spec.btf_key_type_id,
                spec.btf_value_type_id
            )));
        }
        if spec.value_size > BPF_LOCAL_STORAGE_MAX_VALUE_SIZE {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "value_size {} is above {BPF_LOCAL_STORAGE_MAX_VALUE_SIZE} (the kernel says E2BIG)",
                    spec.value_size
                ),
            ));
        }
        Ok(LocalStorage {
            spec: spec.clone(),
            elems: RwLock::new(BTreeMap::new()),
            access: Access::new(spec.map_flags),
        })
    }

    fn fd_of(&self, key: &[u8]) -> Result<i32, MapError> {
        check_len("key", key.len(), 4)?;
        Ok(ne_i32(key))
    }

    fn owner(&self, key: &[u8]) -> Result<u64, MapError> {
        owner_of_fd(self.spec.map_type, self.fd_of(key)?)
    }

    /// `bpf_*_storage_get(map, owner, value, flags)`: the owner's element,
    /// created (from `init`, or zeroed) when `BPF_LOCAL_STORAGE_GET_F_CREATE`
    /// is set. `None` for unknown flags or an absent element without the
    /// create flag, as the kernel returns NULL.
    pub fn storage_get(&self, owner: u64, init: Option<&[u8]>, flags: u64) -> Option<NonNull<u8>> {
        if flags & !BPF_LOCAL_STORAGE_GET_F_CREATE != 0 {
            return None;
        }
        let vs = self.spec.value_size as usize;
        {
            let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
            if let Some(v) = e.get(&owner) {
                return NonNull::new(v.0.as_ptr() as *mut u8);
            }
        }
        if flags & BPF_LOCAL_STORAGE_GET_F_CREATE == 0 {
            return None;
        }
        let mut v = vec![0u8; vs].into_boxed_slice();
        if let Some(init) = init {
            let n = init.len().min(vs);
            put(&mut v, head(init, n));
        }
        let mut e = self.elems.write().unwrap_or_else(|e| e.into_inner());
        let v = e.entry(owner).or_insert(Value(v));
        NonNull::new(v.0.as_ptr() as *mut u8)
    }

    /// `bpf_*_storage_delete(map, owner)`: 0, or `ENOENT` without an element.
    pub fn storage_delete(&self, owner: u64) -> Result<(), MapError> {
        let old = self
            .elems
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&owner);
        match old {
            Some(v) => {
                retire(Some(v));
                Ok(())
            }
            None => Err(MapError::noent(
                "the owner has no element in this map (ENOENT)",
            )),
        }
    }

    /// The owner id a key fd names (a socket's cookie, a task's pid...), what
    /// the helpers pass to [`LocalStorage::storage_get`].
    pub fn owner_of(&self, fd: i32) -> Result<u64, MapError> {
        owner_of_fd(self.spec.map_type, fd)
    }
}

impl Map for LocalStorage {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let owner = self.owner(key)?;
        let vs = self.spec.value_size as usize;
        check_len("value", value_out.len(), vs)?;
        let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
        let v = e.get(&owner).ok_or_else(|| {
            MapError::noent("the key's owner has no element in this map (the kernel says ENOENT)")
        })?;
        put(value_out, head(&v.0, vs));
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        let owner = self.owner(key)?;
        if flags & !BPF_F_LOCK > BPF_EXIST {
            return Err(MapError::inval(format!(
                "update flags {flags:#x}: only BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)"
            )));
        }
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        let mut e = self.elems.write().unwrap_or_else(|e| e.into_inner());
        let present = e.contains_key(&owner);
        if present && flags == BPF_NOEXIST {
            return Err(MapError::new(
                libc::EEXIST,
                "the owner has an element and the flag is BPF_NOEXIST (the kernel says EEXIST)",
            ));
        }
        if !present && flags == BPF_EXIST {
            return Err(MapError::noent(
                "the owner has no element and the flag is BPF_EXIST (the kernel says ENOENT)",
            ));
        }
        let old = e.insert(owner, Value(head(value, vs).to_vec().into_boxed_slice()));
        drop(e);
        retire(old);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let owner = self.owner(key)?;
        self.storage_delete(owner).map_err(|_| {
            MapError::noent("the key's owner has no element in this map (the kernel says ENOENT)")
        })
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        let _ = (key, next_out);
        self.access.read("get_next_key")?;
        Err(MapError::new(
            ENOTSUPP,
            format!(
                "a {} map cannot be walked by key: its keys are fds (the kernel says ENOTSUPP)",
                map_type_name(self.spec.map_type)
            ),
        ))
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    /// No pointer by key: programs use the `*_storage_get` helpers
    /// ([`LocalStorage::storage_get`]).
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }

    /// O(elements).
    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        let vs = self.spec.value_size as u64;
        let e = self.elems.read().unwrap_or_else(|e| e.into_inner());
        e.values().find_map(|v| {
            let start = v.0.as_ptr() as u64;
            (addr >= start && addr.checked_add(len)? <= start + vs)
                .then(|| value_mem_region(start, vs as usize, true))
        })
    }

    fn len(&self) -> usize {
        self.elems.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
