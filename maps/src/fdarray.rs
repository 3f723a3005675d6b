//! `BPF_MAP_TYPE_PROG_ARRAY`, `BPF_MAP_TYPE_ARRAY_OF_MAPS`,
//! `BPF_MAP_TYPE_HASH_OF_MAPS` and `BPF_MAP_TYPE_CGROUP_ARRAY`: maps whose
//! values are other objects
//! (programs for tail calls, inner maps). From the host, an update stores an
//! object id (the kernel takes an fd and stores the object; a lookup gives
//! back its id), and the engine attaches the object itself with
//! [`FdMap::update_object`]. Programs never get a pointer into these values:
//! a program's lookup in a map-in-map yields the inner map, which the engine
//! gets with [`FdMap::object`].

use crate::bytes::{head, ne_u32, put};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::{Arc, RwLock};

use crate::spec::{check_flags, exactly, nonzero};
use crate::*;

/// What a slot holds: the id the host gave, and the object behind it when
/// the engine attached one.
#[derive(Clone)]
pub struct FdEntry {
    pub id: u32,
    pub object: Option<Arc<dyn Any + Send + Sync>>,
}

enum Slots {
    Array(Vec<Option<FdEntry>>),
    /// Keyed by the key bytes; iteration in key-byte order.
    Hash(BTreeMap<Vec<u8>, FdEntry>),
}

/// A program array, a map of maps or a cgroup array.
///
/// A cgroup array's host update takes a cgroup v2 directory fd, as the
/// kernel does (`EBADF` for anything else, a cgroup v1 directory included),
/// and stores the cgroup's id (its directory's inode number, what
/// `bpf_get_current_cgroup_id` reports) as the slot's object, an
/// `Arc<u64>` ([`FdMap::object`]); the host cannot read it back
/// (`ENOTSUPP`).
pub struct FdMap {
    spec: MapSpec,
    slots: RwLock<Slots>,
    access: Access,
}

impl FdMap {
    pub(crate) fn new(spec: &MapSpec, _ncpus: usize) -> Result<Self, MapError> {
        let hash = spec.map_type == BPF_MAP_TYPE_HASH_OF_MAPS;
        // fd_array_map_alloc_check / fd_htab_map_alloc_check, then the
        // array's or the hash's own checks.
        exactly(spec, "value_size", spec.value_size, 4)?;
        if hash {
            check_flags(
                spec,
                BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED,
            )?;
            nonzero(spec, "max_entries", spec.max_entries)?;
            nonzero(spec, "key_size", spec.key_size)?;
            if spec.key_size as u64 + 4 >= crate::spec::KMALLOC_MAX_SIZE - 48 {
                return Err(MapError::new(
                    libc::E2BIG,
                    format!(
                        "key_size {} is too large for one element (the kernel says E2BIG)",
                        spec.key_size
                    ),
                ));
            }
        } else {
            if spec.map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) != 0 {
                return Err(MapError::inval(format!(
                    "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG are invalid for a {} map: programs cannot write its values anyway (the kernel says EINVAL)",
                    map_type_name(spec.map_type)
                )));
            }
            nonzero(spec, "max_entries", spec.max_entries)?;
            exactly(spec, "key_size", spec.key_size, 4)?;
            check_flags(spec, BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        }
        if spec.map_type != BPF_MAP_TYPE_PROG_ARRAY && spec.map_type != BPF_MAP_TYPE_CGROUP_ARRAY {
            check_inner(spec)?;
        }
        if hash && spec.max_entries > 1 << 31 {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "max_entries {} is above 2^31 (the kernel says E2BIG)",
                    spec.max_entries
                ),
            ));
        }
        let slots = if hash {
            Slots::Hash(BTreeMap::new())
        } else {
            Slots::Array(vec![None; spec.max_entries as usize])
        };
        Ok(FdMap {
            spec: spec.clone(),
            slots: RwLock::new(slots),
            access: Access::new(spec.map_flags),
        })
    }

    /// The template inner maps must match (`array_of_maps`, `hash_of_maps`).
    pub fn inner_spec(&self) -> Option<&MapSpec> {
        self.spec.inner.as_deref()
    }

    fn read_slots(&self) -> std::sync::RwLockReadGuard<'_, Slots> {
        self.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_slots(&self) -> std::sync::RwLockWriteGuard<'_, Slots> {
        self.slots.write().unwrap_or_else(|e| e.into_inner())
    }

    fn key<'k>(&self, key: &'k [u8]) -> Result<&'k [u8], MapError> {
        check_len("key", key.len(), self.spec.key_size as usize)?;
        Ok(head(key, self.spec.key_size as usize))
    }

    /// Stores `id` and the object behind it under `key`, with `BPF_ANY`,
    /// `BPF_NOEXIST` or `BPF_EXIST`.
    pub fn update_object(
        &self,
        key: &[u8],
        id: u32,
        object: Option<Arc<dyn Any + Send + Sync>>,
        flags: u64,
    ) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::inval(format!("update flags {flags:#x}: only BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)")));
        }
        let key = self.key(key)?;
        let entry = FdEntry { id, object };
        match &mut *self.write_slots() {
            Slots::Array(v) => {
                // bpf_fd_array_map_update_elem: every slot exists, and only
                // BPF_ANY is accepted, before the index is looked at.
                if flags != BPF_ANY {
                    return Err(MapError::inval(format!(
                        "update flags {flags:#x}: a {} takes only BPF_ANY (the kernel says EINVAL)",
                        map_type_name(self.spec.map_type)
                    )));
                }
                let i = index_of(key)?;
                if i >= self.spec.max_entries {
                    return Err(MapError::new(
                        libc::E2BIG,
                        format!(
                            "index {i} is past max_entries {} (the kernel says E2BIG)",
                            self.spec.max_entries
                        ),
                    ));
                }
                if let Some(slot) = v.get_mut(i as usize) {
                    *slot = Some(entry);
                }
            }
            Slots::Hash(h) => {
                let present = h.contains_key(key);
                if flags == BPF_NOEXIST && present {
                    return Err(MapError::new(
                        libc::EEXIST,
                        "the key is present and the flag is BPF_NOEXIST (the kernel says EEXIST)",
                    ));
                }
                if flags == BPF_EXIST && !present {
                    return Err(MapError::noent(
                        "the key is absent and the flag is BPF_EXIST (the kernel says ENOENT)",
                    ));
                }
                if !present && h.len() >= self.spec.max_entries as usize {
                    return Err(MapError::new(
                        libc::E2BIG,
                        format!(
                            "the map is full: max_entries {} (the kernel says E2BIG)",
                            self.spec.max_entries
                        ),
                    ));
                }
                h.insert(key.to_vec(), entry);
            }
        }
        Ok(())
    }

    /// The object stored under `key` (a program for a tail call, an inner map).
    pub fn object(&self, key: &[u8]) -> Option<Arc<dyn Any + Send + Sync>> {
        let key = self.key(key).ok()?;
        match &*self.read_slots() {
            Slots::Array(v) => v
                .get(index_of(key).ok()? as usize)?
                .as_ref()?
                .object
                .clone(),
            Slots::Hash(h) => h.get(key)?.object.clone(),
        }
    }

    fn entry_id(&self, key: &[u8]) -> Result<u32, MapError> {
        let key = self.key(key)?;
        let slots = self.read_slots();
        let found = match &*slots {
            Slots::Array(v) => {
                let i = index_of(key)?;
                v.get(i as usize).and_then(|e| e.as_ref()).map(|e| e.id)
            }
            Slots::Hash(h) => h.get(key).map(|e| e.id),
        };
        found.ok_or_else(|| {
            MapError::noent("no object is stored under this key (the kernel says ENOENT)")
        })
    }
}

/// The cgroup v2 directory an fd names, by its id (the directory's inode),
/// refused as `cgroup_get_from_fd` refuses: `EBADF` for an fd that is not
/// open, not a cgroup directory, or a cgroup v1 one.
fn cgroup2_id_of_fd(fd: u32) -> Result<u64, MapError> {
    let bad = |why: &str| {
        MapError::new(
            libc::EBADF,
            format!("fd {fd} {why} (the kernel says EBADF)"),
        )
    };
    if fd > i32::MAX as u32 {
        return Err(bad("is not an open file descriptor of this process"));
    }
    // SAFETY: fstatfs and fstat each write one struct into theirs.
    let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd as i32, &mut st) } != 0
        || unsafe { libc::fstatfs(fd as i32, &mut sf) } != 0
    {
        return Err(bad("is not an open file descriptor of this process"));
    }
    if sf.f_type != libc::CGROUP2_SUPER_MAGIC || st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(bad("is not a cgroup v2 directory"));
    }
    Ok(st.st_ino)
}

/// `bpf_map_meta_alloc`: the inner map template of a map of maps.
fn check_inner(spec: &MapSpec) -> Result<(), MapError> {
    let Some(inner) = &spec.inner else {
        // The kernel reads inner_map_fd 0, which in a process is stdin: a
        // file, but not a map.
        return Err(MapError::inval(format!(
            "a {} map needs an inner map template (inner_map_fd names no map; the kernel says EINVAL)",
            map_type_name(spec.map_type)
        )));
    };
    match inner.map_type {
        BPF_MAP_TYPE_ARRAY_OF_MAPS | BPF_MAP_TYPE_HASH_OF_MAPS => Err(MapError::inval(
            "the inner map is itself a map of maps: maps nest one level only (the kernel says EINVAL)",
        )),
        BPF_MAP_TYPE_PROG_ARRAY => Err(MapError::new(
            ENOTSUPP,
            "a prog_array cannot be an inner map (the kernel says ENOTSUPP)",
        )),
        _ => Ok(()),
    }
}

impl Map for FdMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    /// Gives the stored object's id, as the kernel gives a program's or a
    /// map's id for an fd it stored.
    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        if self.spec.map_type == BPF_MAP_TYPE_CGROUP_ARRAY {
            return Err(MapError::new(
                ENOTSUPP,
                "a cgroup_array's cgroups cannot be read back from the host (the kernel says ENOTSUPP)",
            ));
        }
        check_len("value", value_out.len(), 4)?;
        let id = self.entry_id(key)?;
        put(value_out, &id.to_ne_bytes());
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        check_len("value", value.len(), 4)?;
        let id = ne_u32(value);
        if self.spec.map_type == BPF_MAP_TYPE_CGROUP_ARRAY {
            // bpf_fd_array_map_update_elem: flags, index, then the fd.
            if flags != BPF_ANY {
                return Err(MapError::inval(format!(
                    "update flags {flags:#x}: a cgroup_array takes only BPF_ANY (the kernel says EINVAL)"
                )));
            }
            let i = index_of(self.key(key)?)?;
            if i >= self.spec.max_entries {
                return Err(MapError::new(
                    libc::E2BIG,
                    format!(
                        "index {i} is past max_entries {} (the kernel says E2BIG)",
                        self.spec.max_entries
                    ),
                ));
            }
            let cgroup_id = cgroup2_id_of_fd(id)?;
            // The id is 64 bits: the entry's u32 holds its low half, the
            // object the whole of it (an `Arc<u64>`).
            return self.update_object(key, cgroup_id as u32, Some(Arc::new(cgroup_id)), flags);
        }
        self.update_object(key, id, None, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let key = self.key(key)?;
        match &mut *self.write_slots() {
            Slots::Array(v) => {
                let i = index_of(key)?;
                if i >= self.spec.max_entries {
                    return Err(MapError::new(
                        libc::E2BIG,
                        format!(
                            "index {i} is past max_entries {} (the kernel says E2BIG)",
                            self.spec.max_entries
                        ),
                    ));
                }
                match v.get_mut(i as usize).and_then(Option::take) {
                    Some(_) => Ok(()),
                    None => Err(MapError::noent(format!(
                        "index {i} holds nothing (the kernel says ENOENT)"
                    ))),
                }
            }
            Slots::Hash(h) => match h.remove(key) {
                Some(_) => Ok(()),
                None => Err(MapError::noent(
                    "the key is absent (the kernel says ENOENT)",
                )),
            },
        }
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        let ks = self.spec.key_size as usize;
        check_len("next key", next_out.len(), ks)?;
        match &*self.read_slots() {
            Slots::Array(_) => {
                let next = match key {
                    None => 0,
                    Some(k) => {
                        let i = index_of(self.key(k)?)?;
                        if i >= self.spec.max_entries {
                            0
                        } else if i == self.spec.max_entries - 1 {
                            return Err(MapError::noent(format!("index {i} is the last one")));
                        } else {
                            i + 1
                        }
                    }
                };
                put(next_out, &next.to_ne_bytes());
            }
            Slots::Hash(h) => {
                let next = match key {
                    None => h.keys().next(),
                    Some(k) => {
                        let k = self.key(k)?;
                        if h.contains_key(k) {
                            h.range::<[u8], _>((
                                std::ops::Bound::Excluded(k),
                                std::ops::Bound::Unbounded,
                            ))
                            .next()
                            .map(|(k, _)| k)
                        } else {
                            // An absent key restarts from the first, as the kernel's hash does.
                            h.keys().next()
                        }
                    }
                };
                let next = next.ok_or_else(|| MapError::noent("no more keys"))?;
                put(next_out, next);
            }
        }
        Ok(())
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

    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }

    fn len(&self) -> usize {
        match &*self.read_slots() {
            Slots::Array(v) => v.iter().filter(|e| e.is_some()).count(),
            Slots::Hash(h) => h.len(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prog_array_stores_ids_and_objects() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4)).unwrap();
        let k = 1u32.to_ne_bytes();
        let mut v = [0u8; 4];
        assert_eq!(m.lookup(&k, &mut v, 0).unwrap_err().errno, libc::ENOENT);
        m.update(&k, &77u32.to_ne_bytes(), BPF_ANY).unwrap();
        m.lookup(&k, &mut v, 0).unwrap();
        assert_eq!(u32::from_ne_bytes(v), 77);
        // Only BPF_ANY, as the kernel's fd arrays (checked by tests/kernel_diff.rs).
        assert_eq!(
            m.update(&k, &1u32.to_ne_bytes(), BPF_NOEXIST)
                .unwrap_err()
                .errno,
            libc::EINVAL
        );
        assert_eq!(
            m.update(&9u32.to_ne_bytes(), &1u32.to_ne_bytes(), BPF_ANY)
                .unwrap_err()
                .errno,
            libc::E2BIG
        );
        let fd = m.as_any().downcast_ref::<FdMap>().unwrap();
        fd.update_object(&2u32.to_ne_bytes(), 5, Some(Arc::new("prog")), BPF_ANY)
            .unwrap();
        let obj = fd.object(&2u32.to_ne_bytes()).unwrap();
        assert_eq!(obj.downcast_ref::<&str>(), Some(&"prog"));
        m.delete(&k).unwrap();
        assert_eq!(m.delete(&k).unwrap_err().errno, libc::ENOENT);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn maps_of_maps_need_an_inner_template() {
        let e = create_map(&MapSpec::new(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4))
            .err()
            .unwrap();
        assert_eq!(e.errno, libc::EINVAL);
        let mut spec = MapSpec::new(BPF_MAP_TYPE_HASH_OF_MAPS, 8, 4, 2);
        spec.inner = Some(Box::new(MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 1)));
        let m = create_map(&spec).unwrap();
        m.update(&[1; 8], &3u32.to_ne_bytes(), BPF_ANY).unwrap();
        m.update(&[2; 8], &4u32.to_ne_bytes(), BPF_ANY).unwrap();
        assert_eq!(
            m.update(&[3; 8], &5u32.to_ne_bytes(), BPF_ANY)
                .unwrap_err()
                .errno,
            libc::E2BIG
        );
        let mut k = [0u8; 8];
        m.get_next_key(None, &mut k).unwrap();
        assert_eq!(k, [1; 8]);
        m.get_next_key(Some(&[1; 8]), &mut k).unwrap();
        assert_eq!(k, [2; 8]);
        assert_eq!(
            m.get_next_key(Some(&[2; 8]), &mut k).unwrap_err().errno,
            libc::ENOENT
        );
    }
}
