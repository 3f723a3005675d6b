//! What a map is made from, and the checks `BPF_MAP_CREATE` makes before the
//! map kind looks at it.

use crate::*;

/// The attributes of `BPF_MAP_CREATE` that shape a map.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapSpec {
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub map_flags: u32,
    /// Kind-specific: the number of hash functions of a bloom filter.
    pub map_extra: u64,
    /// At most 15 characters from `[A-Za-z0-9_.]`.
    pub name: String,
    /// The template of the inner maps of `array_of_maps` / `hash_of_maps`.
    pub inner: Option<Box<MapSpec>>,
    /// `btf_key_type_id`: the key's BTF type (0: none). Only the local
    /// storages (`sk_storage`, ...) look at it: they require one. The
    /// types themselves are the loader's to check.
    pub btf_key_type_id: u32,
    /// `btf_value_type_id`: the value's BTF type (0: none); see
    /// [`MapSpec::btf_key_type_id`].
    pub btf_value_type_id: u32,
}

impl MapSpec {
    /// A spec with no flags, no name and no inner map.
    pub fn new(map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        MapSpec {
            map_type,
            key_size,
            value_size,
            max_entries,
            ..Default::default()
        }
    }

    /// Whether values are per CPU.
    pub fn is_percpu(&self) -> bool {
        matches!(
            self.map_type,
            BPF_MAP_TYPE_PERCPU_ARRAY
                | BPF_MAP_TYPE_PERCPU_HASH
                | BPF_MAP_TYPE_LRU_PERCPU_HASH
                | BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
        )
    }
}

/// The kernel's name of a map type (`"hash"`, `"percpu_array"`, ...).
pub fn map_type_name(t: u32) -> &'static str {
    const NAMES: [&str; 34] = [
        "unspec",
        "hash",
        "array",
        "prog_array",
        "perf_event_array",
        "percpu_hash",
        "percpu_array",
        "stack_trace",
        "cgroup_array",
        "lru_hash",
        "lru_percpu_hash",
        "lpm_trie",
        "array_of_maps",
        "hash_of_maps",
        "devmap",
        "sockmap",
        "cpumap",
        "xskmap",
        "sockhash",
        "cgroup_storage",
        "reuseport_sockarray",
        "percpu_cgroup_storage",
        "queue",
        "stack",
        "sk_storage",
        "devmap_hash",
        "struct_ops",
        "ringbuf",
        "inode_storage",
        "task_storage",
        "bloom_filter",
        "user_ringbuf",
        "cgrp_storage",
        "arena",
    ];
    NAMES.get(t as usize).copied().unwrap_or("unknown")
}

/// The number of possible CPUs of this host (`/sys/devices/system/cpu/possible`),
/// which is what the kernel sizes per-CPU values by.
pub fn host_possible_cpus() -> usize {
    fn parse(s: &str) -> Option<usize> {
        let mut max = None;
        for part in s.trim().split(',') {
            let last = part.rsplit('-').next()?.trim().parse::<usize>().ok()?;
            max = Some(max.map_or(last, |m: usize| m.max(last)));
        }
        max.map(|m| m + 1)
    }
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| parse(&s))
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// The checks `map_create` makes for every kind before the kind sees the
/// request: `map_extra` and contradictory access flags.
pub(crate) fn check_common(spec: &MapSpec) -> Result<(), MapError> {
    if spec.map_extra != 0 && spec.map_type != BPF_MAP_TYPE_BLOOM_FILTER && spec.map_type != 33 {
        return Err(MapError::inval(format!(
            "map_extra {:#x} is only for bloom filters and arenas, not a {} map (the kernel says EINVAL)",
            spec.map_extra,
            map_type_name(spec.map_type)
        )));
    }
    let f = spec.map_flags;
    if f & BPF_F_RDONLY != 0 && f & BPF_F_WRONLY != 0 {
        return Err(MapError::inval(
            "map_flags has both BPF_F_RDONLY and BPF_F_WRONLY (the kernel says EINVAL)",
        ));
    }
    // Cgroup storage makes this check itself, after its size checks.
    let own_check = matches!(
        spec.map_type,
        BPF_MAP_TYPE_CGROUP_STORAGE | BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    );
    if !own_check && f & BPF_F_RDONLY_PROG != 0 && f & BPF_F_WRONLY_PROG != 0 {
        return Err(MapError::inval(
            "map_flags has both BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG (the kernel says EINVAL)",
        ));
    }
    Ok(())
}

/// The name check, which `map_create` makes only once the kind has accepted
/// the request (so a bad name loses to the kind's own errno).
pub(crate) fn check_name(spec: &MapSpec) -> Result<(), MapError> {
    if spec.name.len() >= 16 {
        return Err(MapError::inval(format!(
            "name {:?} has {} bytes; at most 15 fit (the kernel says EINVAL)",
            spec.name,
            spec.name.len()
        )));
    }
    if let Some((i, c)) = spec
        .name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
    {
        return Err(MapError::inval(format!(
            "name {:?}: character {c:?} at byte {i} is not one of [A-Za-z0-9_.] (the kernel says EINVAL)",
            spec.name
        )));
    }
    Ok(())
}

/// Refuses `map_flags` bits outside `allowed`, naming them.
pub(crate) fn check_flags(spec: &MapSpec, allowed: u32) -> Result<(), MapError> {
    let bad = spec.map_flags & !allowed;
    if bad != 0 {
        return Err(MapError::inval(format!(
            "map_flags {:#x}: bits {bad:#x} are not valid for a {} map (the kernel says EINVAL)",
            spec.map_flags,
            map_type_name(spec.map_type)
        )));
    }
    Ok(())
}

/// Refuses a zero field.
pub(crate) fn nonzero(spec: &MapSpec, field: &str, v: u32) -> Result<(), MapError> {
    if v == 0 {
        return Err(MapError::inval(format!(
            "{field} 0 is invalid for a {} map (the kernel says EINVAL)",
            map_type_name(spec.map_type)
        )));
    }
    Ok(())
}

/// Refuses `field` unless it equals `want`.
pub(crate) fn exactly(spec: &MapSpec, field: &str, v: u32, want: u32) -> Result<(), MapError> {
    if v != want {
        return Err(MapError::inval(format!(
            "{field} {v} is invalid for a {} map: it must be {want} (the kernel says EINVAL)",
            map_type_name(spec.map_type)
        )));
    }
    Ok(())
}

/// KMALLOC_MAX_SIZE on x86-64 (order-10 pages): the largest single allocation.
pub(crate) const KMALLOC_MAX_SIZE: u64 = 1 << 22;
/// PCPU_MIN_UNIT_SIZE: the largest per-CPU value.
pub(crate) const PCPU_MIN_UNIT_SIZE: u64 = 32 << 10;
