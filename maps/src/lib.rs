//! Userspace BPF maps with the Linux kernel's semantics.
//!
//! Every map kind a program can use (`array`, `percpu_array`, `hash`,
//! `percpu_hash`, `lru_hash`, `lru_percpu_hash`, `lpm_trie`, `queue`, `stack`,
//! `bloom_filter`, `ringbuf`, `user_ringbuf`, `perf_event_array`,
//! `prog_array`, `array_of_maps`, `hash_of_maps`, `cgroup_array`,
//! `stack_trace`, `devmap`, `devmap_hash`, `cpumap`, `xskmap`, `sockmap`,
//! `sockhash`, `reuseport_sockarray`, `cgroup_storage`,
//! `percpu_cgroup_storage`, `sk_storage`, `inode_storage`, `task_storage`,
//! `cgrp_storage`, and global data) is created from a [`MapSpec`] with the
//! kernel's numeric `BPF_MAP_TYPE_*` id and refused with the kernel's errno
//! where the kernel refuses it (`struct_ops` and `arena` are refused with
//! `EOPNOTSUPP`). Operations return the kernel's results and errnos (checked
//! against `bpf(2)` by `tests/kernel_diff.rs` and
//! `tests/kernel_diff_objects.rs`). Maps are thread-safe; per-CPU maps are
//! indexed by the CPU slot the engine gives each running thread.
//!
//! Kinds whose values or keys are kernel objects model them in userspace,
//! as each module documents: devmap values are ifindexes of this host's
//! interfaces, cpumap keys possible CPUs, xskmap, sockmap, sockhash and
//! reuseport values socket fds of this process, cgroup_array values cgroup
//! v2 directory fds, local storage keys fds of their owners (sockets,
//! files, pidfds, cgroup directories), checked as the kernel checks them.
//! The kernel ties an entry's life to its object (a closed socket leaves
//! its sockmap); ironbpf does not see objects go and keeps the entry.
//! Program fds inside devmap and cpumap values are refused from the host;
//! the engine attaches programs with `update_with_prog`.
//!
//! A program gets raw pointers to values ([`Map::lookup_ptr`]). Such a
//! pointer stays valid while the program holds the epoch [`Guard`] it passed
//! in, even if another thread deletes the element meanwhile: deleted hash
//! elements are reused only after every guard that could see them is gone,
//! as the kernel's RCU grace period does.
//!
//! ```
//! use ironbpf_maps::{create_map, MapSpec, BPF_MAP_TYPE_HASH, BPF_ANY, BPF_NOEXIST};
//!
//! let spec = MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 16);
//! let map = create_map(&spec).unwrap();
//! map.update(&7u32.to_ne_bytes(), &42u64.to_ne_bytes(), BPF_ANY).unwrap();
//! let err = map.update(&7u32.to_ne_bytes(), &0u64.to_ne_bytes(), BPF_NOEXIST).unwrap_err();
//! assert_eq!(err.errno, libc::EEXIST);
//! let mut v = [0u8; 8];
//! map.lookup(&7u32.to_ne_bytes(), &mut v, 0).unwrap();
//! assert_eq!(u64::from_ne_bytes(v), 42);
//!
//! // A program's view: a pointer into the value, valid while the guard lives.
//! let guard = ironbpf_maps::pin();
//! let p = map.lookup_ptr(&7u32.to_ne_bytes(), 0, &guard).unwrap();
//! assert!(map.value_region(p.as_ptr() as u64, 8).is_some());
//! ```

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::any::Any;
use std::ptr::NonNull;
use std::sync::{Arc, RwLock};

pub use crossbeam_epoch::{pin, Guard};
use ironbpf_isa::abi::{MemoryRegion, RegionKind, RegionResolver};

mod array;
mod bloom;
mod bytes;
mod error;
mod fdarray;
mod hash;
mod image;
mod lpm;
mod lru;
mod perf;
mod queue;
mod redirect;
mod reuseport;
mod ringbuf;
mod slab;
mod sock;
mod sockmap;
mod spec;
mod stackmap;
mod storage;

pub use array::ArrayMap;
pub use bloom::BloomFilter;
pub use error::{errno_name, MapError, ENOTSUPP};
pub use fdarray::FdMap;
pub use hash::HashMap;
pub use image::{map_image, MAP_IMAGE_SIZE, MAX_MAPS_PER_SET};
pub use lpm::LpmTrie;
pub use perf::{PerfEventArray, PerfRecord};
pub use queue::QueueStack;
pub use redirect::{
    host_has_ifindex, redirect_map, CpuMap, DevMap, RedirectDecision, XskMap, BPF_F_BROADCAST,
    BPF_F_EXCLUDE_INGRESS, BPF_REDIRECT_ACTION_MASK, CPUMAP_MAX_QSIZE, NR_CPUS, XDP_ABORTED,
    XDP_REDIRECT,
};
pub use reuseport::ReuseportArray;
pub use ringbuf::{
    libbpf_ringbuf_size, RingBuf, RingBufRecord, UserRingBuf, BPF_MAX_USER_RINGBUF_SAMPLES,
};
pub use sock::{socket_of_fd, SockInfo};
pub use sockmap::{SockEntry, SockMap, BPF_F_INGRESS, SK_DROP, SK_PASS};
pub use spec::{host_possible_cpus, map_type_name, MapSpec};
pub use stackmap::{
    perf_event_max_stack, StackTraceMap, BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID,
    BPF_F_SKIP_FIELD_MASK, BPF_F_USER_STACK,
};
pub use storage::{
    CgroupStorage, LocalStorage, BPF_LOCAL_STORAGE_GET_F_CREATE, BPF_LOCAL_STORAGE_MAX_VALUE_SIZE,
};

/// `BPF_MAP_TYPE_*`: the kernel's map type ids.
pub const BPF_MAP_TYPE_UNSPEC: u32 = 0;
pub const BPF_MAP_TYPE_HASH: u32 = 1;
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
pub const BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
pub const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
pub const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
pub const BPF_MAP_TYPE_STACK_TRACE: u32 = 7;
pub const BPF_MAP_TYPE_CGROUP_ARRAY: u32 = 8;
pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
pub const BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
pub const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
pub const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
pub const BPF_MAP_TYPE_DEVMAP: u32 = 14;
pub const BPF_MAP_TYPE_SOCKMAP: u32 = 15;
pub const BPF_MAP_TYPE_CPUMAP: u32 = 16;
pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;
pub const BPF_MAP_TYPE_SOCKHASH: u32 = 18;
pub const BPF_MAP_TYPE_CGROUP_STORAGE: u32 = 19;
pub const BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: u32 = 20;
pub const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: u32 = 21;
pub const BPF_MAP_TYPE_QUEUE: u32 = 22;
pub const BPF_MAP_TYPE_STACK: u32 = 23;
pub const BPF_MAP_TYPE_SK_STORAGE: u32 = 24;
pub const BPF_MAP_TYPE_DEVMAP_HASH: u32 = 25;
pub const BPF_MAP_TYPE_STRUCT_OPS: u32 = 26;
pub const BPF_MAP_TYPE_RINGBUF: u32 = 27;
pub const BPF_MAP_TYPE_INODE_STORAGE: u32 = 28;
pub const BPF_MAP_TYPE_TASK_STORAGE: u32 = 29;
pub const BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;
pub const BPF_MAP_TYPE_USER_RINGBUF: u32 = 31;
pub const BPF_MAP_TYPE_CGRP_STORAGE: u32 = 32;
pub const BPF_MAP_TYPE_ARENA: u32 = 33;
/// One past the last map type this kernel (6.18) knows (`BPF_MAP_TYPE_ARENA` is 33).
pub const MAX_BPF_MAP_TYPE: u32 = 34;

/// Update flags (`BPF_ANY`, ...), also `elem_flags` of batch operations.
pub const BPF_ANY: u64 = 0;
pub const BPF_NOEXIST: u64 = 1;
pub const BPF_EXIST: u64 = 2;
pub const BPF_F_LOCK: u64 = 4;

/// `map_flags` at creation.
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
pub const BPF_F_RDONLY: u32 = 1 << 3;
pub const BPF_F_WRONLY: u32 = 1 << 4;
pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
pub const BPF_F_CLONE: u32 = 1 << 9;
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
pub const BPF_F_INNER_MAP: u32 = 1 << 12;
/// `BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG`.
pub const BPF_F_ACCESS_MASK: u32 =
    BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

/// Ring buffer flags and `bpf_ringbuf_query` selectors.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
pub const BPF_RB_AVAIL_DATA: u64 = 0;
pub const BPF_RB_RING_SIZE: u64 = 1;
pub const BPF_RB_CONS_POS: u64 = 2;
pub const BPF_RB_PROD_POS: u64 = 3;
/// Ring buffer record header bits and size.
pub const BPF_RINGBUF_BUSY_BIT: u32 = 1 << 31;
pub const BPF_RINGBUF_DISCARD_BIT: u32 = 1 << 30;
pub const BPF_RINGBUF_HDR_SZ: u32 = 8;
/// `bpf_perf_event_output`'s flag for "the current CPU's buffer".
pub const BPF_F_CURRENT_CPU: u64 = 0xffff_ffff;
/// The index mask of `bpf_perf_event_output`'s flags.
pub const BPF_F_INDEX_MASK: u64 = 0xffff_ffff;

/// A map's lookup as a function pointer and its object
/// ([`Map::direct_lookup`]).
///
/// `func(obj, key)` gives what `lookup_ptr(key, 0, guard)` gives, as an
/// address (0 for none). Its contract, for the caller: `obj` is the value
/// of this struct and the map that gave it is alive; `key` points at
/// `key_size` readable bytes; and the calling thread holds an epoch
/// [`Guard`] (from [`pin`]) from before the call until it is done with the
/// address returned, as for `lookup_ptr`.
#[derive(Clone, Copy, Debug)]
pub struct DirectLookup {
    /// The lookup.
    pub func: unsafe extern "C" fn(obj: *const u8, key: *const u8) -> u64,
    /// The map, as `func` reads it.
    pub obj: *const u8,
}

/// A batch operation's progress: how many elements were done, and the token
/// to pass as `in_batch` to continue (`None` when the walk is over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOut {
    /// Elements copied (and deleted, for lookup_and_delete).
    pub count: u32,
    /// The `out_batch` token: a key for array-like maps, a 4-byte position
    /// for hash maps.
    pub out_batch: Vec<u8>,
}

/// A BPF map. All methods are thread-safe. Host-side methods follow the
/// `bpf(2)` commands (`BPF_MAP_LOOKUP_ELEM`, ...): per-CPU values are
/// `round_up(value_size, 8) * ncpus` bytes, and `BPF_F_RDONLY`,
/// `BPF_F_WRONLY` and freezing are checked. Program-side methods (`*_ptr`,
/// [`Map::update_on_cpu`], `prog_*`) follow the helpers
/// (`bpf_map_lookup_elem`, ...): per-CPU values are one CPU's copy, and the
/// syscall access checks do not apply (a program may write a frozen map).
pub trait Map: Send + Sync + Any {
    /// The spec the map was created from (with `max_entries` as the kernel
    /// adjusts it, e.g. rounded to a multiple of CPUs for a per-CPU LRU).
    fn spec(&self) -> &MapSpec;

    /// The number of CPU slots of per-CPU values.
    fn possible_cpus(&self) -> usize;

    /// `BPF_MAP_LOOKUP_ELEM`: copies the value of `key` into `value_out`
    /// ([`Map::value_size_user`] bytes). Queue/stack/bloom: peek.
    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError>;

    /// `BPF_MAP_UPDATE_ELEM` with `BPF_ANY`, `BPF_NOEXIST` or `BPF_EXIST`.
    /// Queue/stack/bloom: push.
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError>;

    /// `BPF_MAP_DELETE_ELEM`.
    fn delete(&self, key: &[u8]) -> Result<(), MapError>;

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key`, or the first key when
    /// `key` is `None` or absent; `ENOENT` after the last.
    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError>;

    /// A program's `bpf_map_delete_elem`: [`Map::delete`] without the
    /// syscall's access checks (`BPF_F_RDONLY`, `BPF_F_WRONLY` and freezing
    /// bind the host only; a program may delete from a frozen map).
    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.delete(key)
    }

    /// A program's `bpf_map_push_elem` (queue, stack, bloom filter), without
    /// the syscall's access checks.
    fn prog_push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.update_on_cpu(&[], value, flags, 0)
    }

    /// A program's `bpf_map_pop_elem` (queue, stack): the value into
    /// `value_out`, or `ENOENT` when empty.
    fn prog_pop(&self, value_out: &mut [u8]) -> Result<(), MapError> {
        let _ = value_out;
        Err(MapError::inval(format!(
            "bpf_map_pop_elem is for queue and stack maps, not {} (the verifier refuses the call)",
            map_type_name(self.spec().map_type)
        )))
    }

    /// A program's `bpf_map_peek_elem`: a queue's or stack's next value into
    /// `value_out`; for a bloom filter `value_out` holds the value to test
    /// (0: maybe present, `ENOENT`: absent).
    fn prog_peek(&self, value_out: &mut [u8]) -> Result<(), MapError> {
        let _ = value_out;
        Err(MapError::inval(format!(
            "bpf_map_peek_elem is for queue, stack and bloom filter maps, not {} (the verifier refuses the call)",
            map_type_name(self.spec().map_type)
        )))
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`; for queue/stack `key` is empty and
    /// this is pop.
    fn lookup_and_delete(
        &self,
        key: &[u8],
        value_out: &mut [u8],
        flags: u64,
    ) -> Result<(), MapError> {
        let _ = (key, value_out);
        // bpf(2)'s checks come first: unknown flags, then read and write
        // access, then any flag at all for a kind without lookup_and_delete.
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::inval(format!(
                "lookup_and_delete flags {flags:#x}: only BPF_F_LOCK is defined (the kernel says EINVAL)"
            )));
        }
        let f = self.spec().map_flags;
        if f & (BPF_F_RDONLY | BPF_F_WRONLY) != 0 || self.is_frozen() {
            return Err(MapError::new(
                libc::EPERM,
                "lookup_and_delete needs read and write access: the map is BPF_F_RDONLY, BPF_F_WRONLY or frozen (the kernel says EPERM)",
            ));
        }
        if flags != 0 {
            return Err(MapError::inval(format!(
                "lookup_and_delete flags {flags:#x}: BPF_F_LOCK needs a value with a bpf_spin_lock (the kernel says EINVAL)"
            )));
        }
        Err(MapError::new(
            ENOTSUPP,
            format!(
                "lookup_and_delete is not supported by a {} map (the kernel says ENOTSUPP)",
                map_type_name(self.spec().map_type)
            ),
        ))
    }

    /// `BPF_MAP_FREEZE`: host updates and deletes fail with `EPERM` from now
    /// on; so does a second freeze (the frozen map has lost write access).
    fn freeze(&self) -> Result<(), MapError>;

    /// Whether [`Map::freeze`] was called.
    fn is_frozen(&self) -> bool;

    /// What a program's `bpf_map_lookup_elem` returns: a pointer to the value
    /// of `key` (to CPU `cpu`'s copy for per-CPU maps), valid while `guard`
    /// lives. `None` for absent keys and for kinds without values.
    fn lookup_ptr(&self, key: &[u8], cpu: usize, guard: &Guard) -> Option<NonNull<u8>>;

    /// [`Map::lookup_ptr`] on CPU 0 as a plain function that JIT code
    /// calls with no dynamic dispatch and no guard argument (the kernel's
    /// JIT, likewise, calls a map's own lookup directly). `None`, the
    /// default, for kinds without one.
    fn direct_lookup(&self) -> Option<DirectLookup> {
        None
    }

    /// A program's `bpf_map_update_elem`: like [`Map::update`] but `value`
    /// is one CPU's value (`value_size` bytes) for per-CPU maps; a new
    /// per-CPU element gets zeroes on the other CPUs. Queue/stack/bloom: push.
    fn update_on_cpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), MapError> {
        let _ = cpu;
        self.update(key, value, flags)
    }

    /// Whether `[addr, addr + len)` lies inside one live value of this map;
    /// the region returned is that value (one CPU's copy). Its cost is
    /// documented per kind: O(1) for arrays, O(log slots) for hash kinds.
    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion>;

    /// The number of elements present now (queue/stack: queued values).
    fn len(&self) -> usize;

    /// Whether the map holds no element.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `BPF_MAP_LOOKUP_BATCH` (and `BPF_MAP_LOOKUP_AND_DELETE_BATCH` when
    /// `delete`): copies up to `max_count` elements after the `in_batch`
    /// position (`None`: from the start) into `keys` and `values`. At the end
    /// of the map the error is `ENOENT` and the `BatchOut` in it is lost, so
    /// the count done before the end is returned in `Err((count, error))`.
    fn lookup_batch(
        &self,
        in_batch: Option<&[u8]>,
        keys: &mut [u8],
        values: &mut [u8],
        max_count: u32,
        elem_flags: u64,
        delete: bool,
    ) -> Result<BatchOut, (BatchOut, MapError)> {
        let _ = (in_batch, keys, values, max_count, elem_flags);
        Err((
            BatchOut {
                count: 0,
                out_batch: Vec::new(),
            },
            MapError::new(
                ENOTSUPP,
                format!(
                    "{} is not supported by a {} map",
                    if delete {
                        "lookup_and_delete_batch"
                    } else {
                        "lookup_batch"
                    },
                    map_type_name(self.spec().map_type)
                ),
            ),
        ))
    }

    /// `BPF_MAP_UPDATE_BATCH`: updates `count` elements in order, stopping
    /// at the first failure; returns how many were done with the error.
    fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<u32, (u32, MapError)> {
        let _ = (keys, values, count, elem_flags);
        Err((
            0,
            MapError::new(
                ENOTSUPP,
                format!(
                    "update_batch is not supported by a {} map",
                    map_type_name(self.spec().map_type)
                ),
            ),
        ))
    }

    /// `BPF_MAP_DELETE_BATCH`: deletes `count` keys in order, stopping at
    /// the first failure.
    fn delete_batch(
        &self,
        keys: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<u32, (u32, MapError)> {
        let _ = (keys, count, elem_flags);
        Err((
            0,
            MapError::new(
                ENOTSUPP,
                format!(
                    "delete_batch is not supported by a {} map",
                    map_type_name(self.spec().map_type)
                ),
            ),
        ))
    }

    /// The map as `Any`, to downcast to [`RingBuf`], [`ArrayMap`], ...
    fn as_any(&self) -> &dyn Any;

    /// Bytes of a value as `bpf(2)` exchanges it: `value_size`, or
    /// `round_up(value_size, 8) * possible_cpus` for per-CPU maps.
    fn value_size_user(&self) -> usize {
        let s = self.spec();
        if s.is_percpu() {
            slab::round8(s.value_size as usize) * self.possible_cpus()
        } else {
            s.value_size as usize
        }
    }
}

/// Creates a map with one CPU slot per possible host CPU.
pub fn create_map(spec: &MapSpec) -> Result<Arc<dyn Map>, MapError> {
    create_map_with_cpus(spec, host_possible_cpus())
}

/// Creates a map whose per-CPU kinds have `possible_cpus` slots.
pub fn create_map_with_cpus(
    spec: &MapSpec,
    possible_cpus: usize,
) -> Result<Arc<dyn Map>, MapError> {
    let ncpus = possible_cpus.max(1);
    spec::check_common(spec)?;
    let map: Arc<dyn Map> = match spec.map_type {
        BPF_MAP_TYPE_ARRAY | BPF_MAP_TYPE_PERCPU_ARRAY => Arc::new(ArrayMap::new(spec, ncpus)?),
        BPF_MAP_TYPE_HASH
        | BPF_MAP_TYPE_PERCPU_HASH
        | BPF_MAP_TYPE_LRU_HASH
        | BPF_MAP_TYPE_LRU_PERCPU_HASH => Arc::new(HashMap::new(spec, ncpus)?),
        BPF_MAP_TYPE_LPM_TRIE => Arc::new(LpmTrie::new(spec)?),
        BPF_MAP_TYPE_QUEUE | BPF_MAP_TYPE_STACK => Arc::new(QueueStack::new(spec)?),
        BPF_MAP_TYPE_BLOOM_FILTER => Arc::new(BloomFilter::new(spec)?),
        BPF_MAP_TYPE_RINGBUF => Arc::new(RingBuf::new(spec)?),
        BPF_MAP_TYPE_USER_RINGBUF => Arc::new(UserRingBuf::new(spec)?),
        BPF_MAP_TYPE_STACK_TRACE => Arc::new(StackTraceMap::new(spec)?),
        BPF_MAP_TYPE_REUSEPORT_SOCKARRAY => Arc::new(ReuseportArray::new(spec)?),
        BPF_MAP_TYPE_PERF_EVENT_ARRAY => Arc::new(PerfEventArray::new(spec, ncpus)?),
        BPF_MAP_TYPE_PROG_ARRAY
        | BPF_MAP_TYPE_ARRAY_OF_MAPS
        | BPF_MAP_TYPE_HASH_OF_MAPS
        | BPF_MAP_TYPE_CGROUP_ARRAY => Arc::new(FdMap::new(spec, ncpus)?),
        BPF_MAP_TYPE_DEVMAP | BPF_MAP_TYPE_DEVMAP_HASH => Arc::new(DevMap::new(spec)?),
        BPF_MAP_TYPE_CPUMAP => Arc::new(CpuMap::new(spec, ncpus)?),
        BPF_MAP_TYPE_XSKMAP => Arc::new(XskMap::new(spec)?),
        BPF_MAP_TYPE_SOCKMAP | BPF_MAP_TYPE_SOCKHASH => Arc::new(SockMap::new(spec)?),
        BPF_MAP_TYPE_CGROUP_STORAGE | BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE => {
            Arc::new(CgroupStorage::new(spec, ncpus)?)
        }
        BPF_MAP_TYPE_SK_STORAGE
        | BPF_MAP_TYPE_INODE_STORAGE
        | BPF_MAP_TYPE_TASK_STORAGE
        | BPF_MAP_TYPE_CGRP_STORAGE => Arc::new(LocalStorage::new(spec)?),
        t if t != BPF_MAP_TYPE_UNSPEC && t < MAX_BPF_MAP_TYPE => {
            return Err(MapError::new(
                libc::EOPNOTSUPP,
                format!(
                    "map_type {t} ({}) is a kernel map kind that ironbpf does not provide",
                    map_type_name(t)
                ),
            ))
        }
        t => {
            return Err(MapError::inval(format!(
                "map_type {t} is unknown to the kernel (the kernel says EINVAL)"
            )))
        }
    };
    spec::check_name(spec)?;
    Ok(map)
}

/// Creates a global-data map (`.data`, `.rodata`, `.bss`, `.data.*`...): a
/// one-element `BPF_F_MMAPABLE` array holding `init`. A read-only section
/// (`.rodata*`) gets `BPF_F_RDONLY_PROG` and is frozen, so host updates fail
/// with `EPERM` and the verifier refuses program writes.
pub fn create_global_data(
    name: &str,
    init: &[u8],
    read_only: bool,
) -> Result<Arc<ArrayMap>, MapError> {
    let mut spec = MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, init.len() as u32, 1);
    spec.map_flags = BPF_F_MMAPABLE | if read_only { BPF_F_RDONLY_PROG } else { 0 };
    spec.name = name
        .chars()
        .take(15)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    spec::check_common(&spec)?;
    spec::check_name(&spec)?;
    let map = ArrayMap::new(&spec, 1)?;
    map.update(&0u32.to_ne_bytes(), init, BPF_ANY)?;
    if read_only {
        map.freeze()?;
    }
    Ok(Arc::new(map))
}

/// The maps of one program set: ids, a shared CPU count, and one
/// [`RegionResolver`] over every map's values for checked execution.
pub struct MapSet {
    possible_cpus: usize,
    maps: RwLock<Vec<Arc<dyn Map>>>,
    /// The read-only images of the kernel structs behind the maps, which
    /// the handles point at; reserved at the first map.
    images: std::sync::OnceLock<image::ImageArena>,
}

impl Default for MapSet {
    fn default() -> Self {
        Self::new()
    }
}

impl MapSet {
    /// The handle programs see for map `id` (what `ld_imm64 rX = map[id]`
    /// loads): the host address of the map's read-only image of the
    /// kernel's struct ([`map_image`]), so that a program reading
    /// `map->max_entries` reads real memory. Helpers turn it back into the
    /// map with [`MapSet::by_handle`]. `None` when the set has no map `id`.
    pub fn handle(&self, id: u32) -> Option<u64> {
        if (id as usize) >= self.len() {
            return None;
        }
        let arena = self.images.get()?;
        Some(arena.base() + u64::from(id) * MAP_IMAGE_SIZE)
    }

    /// The id of the map `handle` names, if it names one of this set's: a
    /// subtraction and a shift.
    pub fn id_of(&self, handle: u64) -> Option<u32> {
        let id = self.images.get()?.slot_of(handle)?;
        ((id as usize) < self.len()).then_some(id)
    }

    /// The map a handle names, if it names one of this set's.
    pub fn by_handle(&self, handle: u64) -> Option<Arc<dyn Map>> {
        self.get(self.images.get()?.slot_of(handle)?)
    }

    /// An empty set with one CPU slot per possible host CPU.
    pub fn new() -> Self {
        Self::with_possible_cpus(host_possible_cpus())
    }

    /// An empty set whose per-CPU maps have `n` CPU slots (at least 1).
    pub fn with_possible_cpus(n: usize) -> Self {
        MapSet {
            possible_cpus: n.max(1),
            maps: RwLock::new(Vec::new()),
            images: std::sync::OnceLock::new(),
        }
    }

    /// The CPU slots of this set's per-CPU maps.
    pub fn possible_cpus(&self) -> usize {
        self.possible_cpus
    }

    /// Creates a map and adds it; returns its id (its index in the set).
    pub fn create(&self, spec: &MapSpec) -> Result<(u32, Arc<dyn Map>), MapError> {
        let map = create_map_with_cpus(spec, self.possible_cpus)?;
        Ok((self.insert(map.clone())?, map))
    }

    /// Adds an existing map; returns its id. Fails past
    /// [`MAX_MAPS_PER_SET`] maps, or when the address space for the maps'
    /// images cannot be reserved.
    pub fn insert(&self, map: Arc<dyn Map>) -> Result<u32, MapError> {
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        let id = u32::try_from(maps.len())
            .ok()
            .filter(|&id| id < MAX_MAPS_PER_SET)
            .ok_or_else(|| {
                MapError::new(
                    libc::E2BIG,
                    format!("a map set holds at most {MAX_MAPS_PER_SET} maps"),
                )
            })?;
        let arena = match self.images.get() {
            Some(a) => a,
            None => {
                let a = image::ImageArena::new()?;
                self.images.get_or_init(|| a)
            }
        };
        // Written before the map is visible, so before any handle to it.
        arena.write(id, &map_image(map.spec(), id));
        maps.push(map);
        Ok(id)
    }

    /// The map with id `id`.
    pub fn get(&self, id: u32) -> Option<Arc<dyn Map>> {
        self.maps
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id as usize)
            .cloned()
    }

    /// The number of maps.
    pub fn len(&self) -> usize {
        self.maps.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the set has no map.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RegionResolver for MapSet {
    /// A map's image ([`MapSet::handle`]), read-only; else asks each map in
    /// turn: O(maps × the per-kind cost).
    fn resolve(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        if let Some(arena) = self.images.get() {
            if let Some(id) = arena.slot_containing(addr, len) {
                return ((id as usize) < self.len()).then(|| MemoryRegion {
                    start: arena.base() + u64::from(id) * MAP_IMAGE_SIZE,
                    len: MAP_IMAGE_SIZE,
                    kind: RegionKind::MapStruct,
                    writable: false,
                });
            }
        }
        let maps = self.maps.read().unwrap_or_else(|e| e.into_inner());
        maps.iter().find_map(|m| m.value_region(addr, len))
    }
}

pub(crate) fn value_mem_region(start: u64, len: usize, writable: bool) -> MemoryRegion {
    MemoryRegion {
        start,
        len: len as u64,
        kind: RegionKind::MapValue,
        writable,
    }
}

/// Checks the `flags` of a host update as `bpf(2)` does before the map
/// sees them: `BPF_F_LOCK` needs a spin lock in the value.
pub(crate) fn check_update_lock(flags: u64) -> Result<(), MapError> {
    if flags & BPF_F_LOCK != 0 {
        return Err(MapError::inval("BPF_F_LOCK needs a value with a bpf_spin_lock, which needs BTF (the kernel says EINVAL)"));
    }
    Ok(())
}

pub(crate) fn frozen_err(what: &str) -> MapError {
    MapError::new(
        libc::EPERM,
        format!("{what} refused: the map is frozen (the kernel says EPERM)"),
    )
}

pub(crate) fn check_len(what: &str, got: usize, want: usize) -> Result<(), MapError> {
    if got < want {
        return Err(MapError::new(
            libc::EFAULT,
            format!("{what} buffer has {got} bytes, the map needs {want}"),
        ));
    }
    Ok(())
}

/// The syscall-side permissions of a map: `BPF_F_RDONLY`/`BPF_F_WRONLY`
/// and the frozen state, checked before anything else as `bpf(2)` does.
pub(crate) struct Access {
    flags: u32,
    frozen: std::sync::atomic::AtomicBool,
}

impl Access {
    pub(crate) fn new(flags: u32) -> Self {
        Access {
            flags,
            frozen: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn read(&self, what: &str) -> Result<(), MapError> {
        if self.flags & BPF_F_WRONLY != 0 {
            return Err(MapError::new(
                libc::EPERM,
                format!(
                    "{what} refused: the map was created with BPF_F_WRONLY (the kernel says EPERM)"
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn write(&self, what: &str) -> Result<(), MapError> {
        if self.flags & BPF_F_RDONLY != 0 {
            return Err(MapError::new(
                libc::EPERM,
                format!(
                    "{what} refused: the map was created with BPF_F_RDONLY (the kernel says EPERM)"
                ),
            ));
        }
        if self.is_frozen() {
            return Err(frozen_err(what));
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_ELEM`'s checks, in the kernel's order: unknown flags
    /// (`EINVAL`), read access (`EPERM`), then `BPF_F_LOCK`, which needs a
    /// spin lock in the value, which needs BTF (`EINVAL`).
    pub(crate) fn lookup(&self, flags: u64, what: &str) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::inval(format!(
                "{what} flags {flags:#x}: only BPF_F_LOCK is defined (the kernel says EINVAL)"
            )));
        }
        self.read(what)?;
        check_update_lock(flags)
    }

    pub(crate) fn freeze(&self) -> Result<(), MapError> {
        self.write("freeze")?;
        if self.frozen.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return Err(MapError::new(
                libc::EBUSY,
                "the map is already frozen (the kernel says EBUSY)",
            ));
        }
        Ok(())
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Checks the `elem_flags` of a batch operation: only `BPF_F_LOCK`, which
/// needs a spin lock.
pub(crate) fn check_batch_flags(elem_flags: u64) -> Result<(), MapError> {
    if elem_flags & !BPF_F_LOCK != 0 {
        return Err(MapError::inval(format!(
            "batch elem_flags {elem_flags:#x}: only BPF_F_LOCK is defined (the kernel says EINVAL)"
        )));
    }
    check_update_lock(elem_flags)
}

/// The kernel's `generic_map_lookup_batch`: walks with get_next_key from
/// the key in `in_batch`; `out_batch` is the last key copied.
pub(crate) fn generic_lookup_batch(
    map: &dyn Map,
    in_batch: Option<&[u8]>,
    keys: &mut [u8],
    values: &mut [u8],
    max_count: u32,
    elem_flags: u64,
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
    check_batch_flags(elem_flags).map_err(none)?;
    if max_count == 0 {
        return Ok(BatchOut {
            count: 0,
            out_batch: Vec::new(),
        });
    }
    let ks = map.spec().key_size as usize;
    let vs = map.value_size_user();
    check_len("keys", keys.len(), ks * max_count as usize).map_err(none)?;
    check_len("values", values.len(), vs * max_count as usize).map_err(none)?;
    let mut prev: Option<Vec<u8>> = in_batch.map(|b| b.to_vec());
    if let Some(p) = &prev {
        check_len("in_batch", p.len(), ks).map_err(none)?;
    }
    let mut key = vec![0u8; ks];
    let mut cp = 0usize;
    let mut err = None;
    while cp < max_count as usize {
        if let Err(e) = map.get_next_key(prev.as_deref(), &mut key) {
            err = Some(e);
            break;
        }
        match map.lookup(&key, crate::bytes::chunk_mut(values, cp, vs), 0) {
            Ok(()) => {
                crate::bytes::put(crate::bytes::chunk_mut(keys, cp, ks), &key);
                cp += 1;
            }
            Err(e) if e.errno == libc::ENOENT => {}
            Err(e) => return Err(none(e)),
        }
        prev = Some(key.clone());
    }
    let out = BatchOut {
        count: cp as u32,
        out_batch: if cp > 0 {
            prev.unwrap_or_default()
        } else {
            Vec::new()
        },
    };
    match err {
        Some(e) => Err((out, e)),
        None => Ok(out),
    }
}

/// The kernel's `generic_map_update_batch`.
pub(crate) fn generic_update_batch(
    map: &dyn Map,
    keys: &[u8],
    values: &[u8],
    count: u32,
    elem_flags: u64,
) -> Result<u32, (u32, MapError)> {
    check_batch_flags(elem_flags).map_err(|e| (0, e))?;
    let ks = map.spec().key_size as usize;
    let vs = map.value_size_user();
    check_len("keys", keys.len(), ks * count as usize).map_err(|e| (0, e))?;
    check_len("values", values.len(), vs * count as usize).map_err(|e| (0, e))?;
    for i in 0..count as usize {
        map.update(
            crate::bytes::chunk(keys, i, ks),
            crate::bytes::chunk(values, i, vs),
            elem_flags,
        )
        .map_err(|e| (i as u32, e))?;
    }
    Ok(count)
}

/// The kernel's `generic_map_delete_batch`.
pub(crate) fn generic_delete_batch(
    map: &dyn Map,
    keys: &[u8],
    count: u32,
    elem_flags: u64,
) -> Result<u32, (u32, MapError)> {
    check_batch_flags(elem_flags).map_err(|e| (0, e))?;
    let ks = map.spec().key_size as usize;
    check_len("keys", keys.len(), ks * count as usize).map_err(|e| (0, e))?;
    for i in 0..count as usize {
        map.delete(crate::bytes::chunk(keys, i, ks))
            .map_err(|e| (i as u32, e))?;
    }
    Ok(count)
}

/// Reads a 4-byte array index from a key.
pub(crate) fn index_of(key: &[u8]) -> Result<u32, MapError> {
    let b: [u8; 4] = key
        .get(..4)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| {
            MapError::new(
                libc::EFAULT,
                format!("key has {} bytes, an array key has 4", key.len()),
            )
        })?;
    Ok(u32::from_ne_bytes(b))
}
