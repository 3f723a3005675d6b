//! `BPF_MAP_TYPE_STACK_TRACE`: call stacks by id, filled by programs with
//! `bpf_get_stackid` and read by the host (`kernel/bpf/stackmap.c`).
//!
//! The host can look stacks up (the stored addresses, zero-filled to
//! `value_size`), delete them and walk their ids; it cannot store one
//! (`EINVAL`). A program's `bpf_get_stackid` is [`StackTraceMap::get_stackid`]:
//! the engine passes the stack it collected, and the id is the kernel's,
//! `jhash2(addresses, 0) & (n_buckets - 1)` with `n_buckets =
//! roundup_pow_of_two(max_entries)`, with the kernel's flags
//! (`BPF_F_SKIP_FIELD_MASK`, `BPF_F_FAST_STACK_CMP`, `BPF_F_REUSE_STACKID`;
//! `EEXIST` on a collision without reuse, `ENOMEM` once `max_entries`
//! stacks are held). Maps made with `BPF_F_STACK_BUILD_ID` are created with
//! the kernel's checks, but ironbpf does not resolve addresses to build ids:
//! `get_stackid` on them is refused.

use crate::bytes::{put, tail_mut, zero};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::RwLock;

use crate::spec::check_flags;
use crate::*;

/// `bpf_get_stackid` flags.
pub const BPF_F_SKIP_FIELD_MASK: u64 = 0xff;
/// Collect the user stack instead of the kernel's.
pub const BPF_F_USER_STACK: u64 = 1 << 8;
/// Compare stacks by hash only.
pub const BPF_F_FAST_STACK_CMP: u64 = 1 << 9;
/// Replace a different stack that hashed to the same id.
pub const BPF_F_REUSE_STACKID: u64 = 1 << 10;
/// `sizeof(struct bpf_stack_build_id)`.
const BUILD_ID_ELEM: u32 = 32;

/// The host's `kernel.perf_event_max_stack` (127 by default): the deepest
/// stack a map may hold.
pub fn perf_event_max_stack() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_stack")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(127)
}

struct Bucket {
    hash: u32,
    ips: Vec<u64>,
}

/// A stack trace map.
pub struct StackTraceMap {
    spec: MapSpec,
    n_buckets: u64,
    buckets: RwLock<BTreeMap<u32, Bucket>>,
    access: Access,
}

impl StackTraceMap {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        // Not the program access flags: the verifier has no use for them
        // on a map programs never read.
        check_flags(
            spec,
            BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_STACK_BUILD_ID,
        )?;
        let vs = spec.value_size;
        if spec.max_entries == 0 || spec.key_size != 4 || vs < 8 || !vs.is_multiple_of(8) {
            return Err(MapError::inval(format!(
                "a stack_trace map needs max_entries > 0 (got {}), key_size 4 (got {}) and a value_size that is a nonzero multiple of 8 (got {vs}) (the kernel says EINVAL)",
                spec.max_entries, spec.key_size
            )));
        }
        let max_stack = perf_event_max_stack();
        if spec.map_flags & BPF_F_STACK_BUILD_ID != 0 {
            if !vs.is_multiple_of(BUILD_ID_ELEM) || vs / BUILD_ID_ELEM > max_stack {
                return Err(MapError::inval(format!(
                    "value_size {vs} with BPF_F_STACK_BUILD_ID must be a multiple of {BUILD_ID_ELEM} for at most perf_event_max_stack {max_stack} frames (the kernel says EINVAL)"
                )));
            }
        } else if vs / 8 > max_stack {
            return Err(MapError::inval(format!(
                "value_size {vs} holds {} frames, more than perf_event_max_stack {max_stack} (the kernel says EINVAL)",
                vs / 8
            )));
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
        Ok(StackTraceMap {
            spec: spec.clone(),
            n_buckets: (spec.max_entries as u64).next_power_of_two(),
            buckets: RwLock::new(BTreeMap::new()),
            access: Access::new(spec.map_flags),
        })
    }

    fn id_of(&self, key: &[u8]) -> Result<u32, MapError> {
        index_of(key)
    }

    /// `bpf_get_stackid(ctx, map, flags)` given the stack the engine
    /// collected (innermost frame first): skips `flags & 0xff` frames, keeps
    /// at most `value_size / 8`, and stores the rest under its id. Returns
    /// the id, or `EINVAL` (unknown flags, a build-id map), `EEXIST`
    /// (another stack holds the id and `BPF_F_REUSE_STACKID` is not set),
    /// `ENOMEM` (`max_entries` stacks are held), `EFAULT` (nothing left
    /// after the skip, as the kernel's empty callchain).
    pub fn get_stackid(&self, stack: &[u64], flags: u64) -> Result<u32, MapError> {
        if flags
            & !(BPF_F_SKIP_FIELD_MASK
                | BPF_F_USER_STACK
                | BPF_F_FAST_STACK_CMP
                | BPF_F_REUSE_STACKID)
            != 0
        {
            return Err(MapError::inval(format!(
                "bpf_get_stackid flags {flags:#x}: unknown bits (the kernel says EINVAL)"
            )));
        }
        if self.spec.map_flags & BPF_F_STACK_BUILD_ID != 0 {
            return Err(MapError::inval(
                "bpf_get_stackid on a BPF_F_STACK_BUILD_ID map: ironbpf does not resolve build ids",
            ));
        }
        let skip = (flags & BPF_F_SKIP_FIELD_MASK) as usize;
        let depth = (self.spec.value_size / 8) as usize;
        let ips: Vec<u64> = stack.iter().skip(skip).take(depth).copied().collect();
        if ips.is_empty() {
            return Err(MapError::new(
                libc::EFAULT,
                format!(
                    "the stack has {} frames and {skip} are skipped: nothing to store (the kernel says EFAULT)",
                    stack.len()
                ),
            ));
        }
        let words: Vec<u8> = ips.iter().flat_map(|ip| ip.to_ne_bytes()).collect();
        let hash = crate::bloom::jhash2(&words, 0);
        let id = (hash as u64 & (self.n_buckets - 1)) as u32;
        let mut b = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = b.get(&id) {
            if old.hash == hash && (flags & BPF_F_FAST_STACK_CMP != 0 || old.ips == ips) {
                return Ok(id);
            }
            if flags & BPF_F_REUSE_STACKID == 0 {
                return Err(MapError::new(
                    libc::EEXIST,
                    format!("stack id {id} holds another stack and BPF_F_REUSE_STACKID is not set (the kernel says EEXIST)"),
                ));
            }
        } else if b.len() >= self.spec.max_entries as usize {
            return Err(MapError::new(
                libc::ENOMEM,
                format!(
                    "all {} preallocated stacks are in use (the kernel says ENOMEM)",
                    self.spec.max_entries
                ),
            ));
        }
        b.insert(id, Bucket { hash, ips });
        Ok(id)
    }
}

impl Map for StackTraceMap {
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
        let id = self.id_of(key)?;
        let b = self.buckets.read().unwrap_or_else(|e| e.into_inner());
        let bucket = b.get(&id).ok_or_else(|| {
            MapError::noent(format!(
                "stack id {id} holds no stack (the kernel says ENOENT)"
            ))
        })?;
        zero(value_out, vs);
        for (i, ip) in bucket.ips.iter().enumerate() {
            put(tail_mut(value_out, i * 8), &ip.to_ne_bytes());
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: the stack is copied out and its id
    /// freed (the kernel's `bpf_stackmap_extract`).
    fn lookup_and_delete(
        &self,
        key: &[u8],
        value_out: &mut [u8],
        flags: u64,
    ) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::inval(format!(
                "lookup_and_delete flags {flags:#x}: only BPF_F_LOCK is defined (the kernel says EINVAL)"
            )));
        }
        if self.spec.map_flags & (BPF_F_RDONLY | BPF_F_WRONLY) != 0 || self.is_frozen() {
            return Err(MapError::new(
                libc::EPERM,
                "lookup_and_delete needs read and write access: the map is BPF_F_RDONLY, BPF_F_WRONLY or frozen (the kernel says EPERM)",
            ));
        }
        check_update_lock(flags)?;
        let vs = self.spec.value_size as usize;
        check_len("value", value_out.len(), vs)?;
        let id = self.id_of(key)?;
        let bucket = self
            .buckets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
            .ok_or_else(|| {
                MapError::noent(format!(
                    "stack id {id} holds no stack (the kernel says ENOENT)"
                ))
            })?;
        zero(value_out, vs);
        for (i, ip) in bucket.ips.iter().enumerate() {
            put(tail_mut(value_out, i * 8), &ip.to_ne_bytes());
        }
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        let _ = (key, value);
        Err(MapError::inval(
            "stacks are stored by programs (bpf_get_stackid), not by the host (the kernel says EINVAL)",
        ))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let id = self.id_of(key)?;
        if id as u64 >= self.n_buckets {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "stack id {id} is past the {} buckets (the kernel says E2BIG)",
                    self.n_buckets
                ),
            ));
        }
        self.buckets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| {
                MapError::noent(format!(
                    "stack id {id} holds no stack (the kernel says ENOENT)"
                ))
            })
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        check_len("next key", next_out.len(), 4)?;
        let b = self.buckets.read().unwrap_or_else(|e| e.into_inner());
        // An absent or out-of-range key restarts from the first id.
        let from = match key {
            None => 0,
            Some(k) => {
                let id = self.id_of(k)?;
                if b.contains_key(&id) {
                    id as u64 + 1
                } else {
                    0
                }
            }
        };
        let next = b
            .range(from.min(u32::MAX as u64 + 1) as u32..)
            .next()
            .filter(|_| from <= u32::MAX as u64)
            .map(|(id, _)| *id)
            .ok_or_else(|| MapError::noent("no more stack ids (the kernel says ENOENT)"))?;
        put(next_out, &next.to_ne_bytes());
        Ok(())
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    /// Programs read stacks through the host, never by pointer (the
    /// verifier refuses lookups in a stack map).
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }

    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }

    fn len(&self) -> usize {
        self.buckets.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_stackid_stores_dedups_and_collides_as_the_kernel() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_STACK_TRACE, 4, 16, 1024)).unwrap();
        let st = m.as_any().downcast_ref::<StackTraceMap>().unwrap();
        let a = st.get_stackid(&[0x10, 0x20, 0x30], 0).unwrap();
        // The same stack gets the same id; only value_size / 8 frames count.
        assert_eq!(st.get_stackid(&[0x10, 0x20, 0x99], 0).unwrap(), a);
        let mut v = [0u8; 16];
        m.lookup(&a.to_ne_bytes(), &mut v, 0).unwrap();
        assert_eq!(u64::from_ne_bytes(v[..8].try_into().unwrap()), 0x10);
        assert_eq!(u64::from_ne_bytes(v[8..].try_into().unwrap()), 0x20);
        // Skipping one frame is another stack.
        let b = st.get_stackid(&[0x10, 0x20, 0x30], 1).unwrap();
        m.lookup(&b.to_ne_bytes(), &mut v, 0).unwrap();
        assert_eq!(u64::from_ne_bytes(v[..8].try_into().unwrap()), 0x20);
        assert_eq!(st.get_stackid(&[1], 1).unwrap_err().errno, libc::EFAULT);
        assert_eq!(
            st.get_stackid(&[1], 1 << 11).unwrap_err().errno,
            libc::EINVAL
        );
        assert_eq!(
            m.update(&a.to_ne_bytes(), &v, 0).unwrap_err().errno,
            libc::EINVAL
        );
        m.delete(&a.to_ne_bytes()).unwrap();
        assert_eq!(m.delete(&a.to_ne_bytes()).unwrap_err().errno, libc::ENOENT);
        assert_eq!(
            m.delete(&4096u32.to_ne_bytes()).unwrap_err().errno,
            libc::E2BIG
        );
        // Two buckets: distinct stacks fill both ids or collide.
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_STACK_TRACE, 4, 16, 2)).unwrap();
        let st = m.as_any().downcast_ref::<StackTraceMap>().unwrap();
        let mut ids = std::collections::BTreeSet::new();
        let mut outcomes = Vec::new();
        for s in 0..16u64 {
            outcomes.push(st.get_stackid(&[s], 0).map_err(|e| e.errno));
            if let Ok(id) = outcomes.last().unwrap() {
                ids.insert(*id);
            }
        }
        assert!(ids.len() <= 2);
        assert!(outcomes
            .iter()
            .any(|o| *o == Err(libc::EEXIST) || *o == Err(libc::ENOMEM)));
    }
}
