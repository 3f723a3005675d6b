//! Kernel maps: creation and every element operation, with the kernel's errno
//! on failure.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::sys::{self, ptr};
use crate::KernelError;

/// What `BPF_MAP_CREATE` takes.
#[derive(Debug, Clone, Default)]
pub struct MapCreate {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: String,
    /// For map-in-map: a map of the inner kind.
    pub inner_map_fd: Option<i32>,
    pub btf_fd: Option<i32>,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    /// Bloom filter hash count, arena address...
    pub map_extra: u64,
}

impl MapCreate {
    pub fn new(map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        MapCreate {
            map_type,
            key_size,
            value_size,
            max_entries,
            ..Default::default()
        }
    }
}

/// A map that lives in the kernel; closed on drop.
#[derive(Debug)]
pub struct KernelMap {
    fd: OwnedFd,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// The bytes a value takes in a syscall buffer: `value_size`, or for
    /// per-CPU maps `value_size` rounded up to 8 times the possible CPUs.
    pub value_len: usize,
}

/// Whether values of `map_type` are per CPU (hash, array, LRU hash, cgroup storage).
fn is_percpu(map_type: u32) -> bool {
    matches!(map_type, 5 | 6 | 10 | 21)
}

/// A batch operation's outcome: how many elements it handled, and the errno
/// it ended with (`ENOENT` when it reached the end), which the kernel returns
/// together with a partial count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    pub count: u32,
    pub errno: Option<i32>,
}

impl KernelMap {
    pub fn create(spec: &MapCreate) -> Result<KernelMap, KernelError> {
        let mut attr = sys::MapCreateAttr {
            map_type: spec.map_type,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            map_flags: spec.map_flags,
            inner_map_fd: spec.inner_map_fd.unwrap_or(0) as u32,
            map_name: sys::object_name(&spec.name),
            btf_fd: spec.btf_fd.unwrap_or(0) as u32,
            btf_key_type_id: spec.btf_key_type_id,
            btf_value_type_id: spec.btf_value_type_id,
            map_extra: spec.map_extra,
            ..Default::default()
        };
        let fd = sys::bpf_fd(sys::BPF_MAP_CREATE, &mut attr).map_err(|e| {
            KernelError::new("BPF_MAP_CREATE", e).with_context(format!("map {:?}", spec.name))
        })?;
        let value_len = if is_percpu(spec.map_type) {
            spec.value_size.next_multiple_of(8) as usize * possible_cpus()
        } else {
            spec.value_size as usize
        };
        Ok(KernelMap {
            fd,
            map_type: spec.map_type,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            value_len,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    fn elem(&self, cmd: u32, key: Option<&[u8]>, value: u64, flags: u64) -> Result<(), i32> {
        let mut attr = sys::MapElemAttr {
            map_fd: self.raw_fd() as u32,
            key: key.map_or(0, |k| ptr(k.as_ptr())),
            value,
            flags,
            ..Default::default()
        };
        sys::bpf(cmd, &mut attr).map(|_| ())
    }

    /// The kernel reads `key_size` bytes of a key and reads or writes
    /// `value_len` bytes of a value: refuse shorter buffers (EINVAL) before
    /// handing it their addresses.
    fn check_key(&self, key: &[u8]) -> Result<(), i32> {
        if key.len() < self.key_size as usize {
            Err(libc::EINVAL)
        } else {
            Ok(())
        }
    }

    fn check_value(&self, value: &[u8]) -> Result<(), i32> {
        if value.len() < self.value_len {
            Err(libc::EINVAL)
        } else {
            Ok(())
        }
    }

    /// The key argument: none for the keyless kinds (queue, stack, bloom filter).
    fn key_arg<'k>(&self, key: &'k [u8]) -> Result<Option<&'k [u8]>, i32> {
        self.check_key(key)?;
        Ok((self.key_size != 0).then_some(key))
    }

    /// `BPF_MAP_LOOKUP_ELEM` into `value` (at least [`KernelMap::value_len`]
    /// bytes). Returns the errno.
    pub fn lookup(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<(), i32> {
        let k = self.key_arg(key)?;
        self.check_value(value)?;
        self.elem(sys::BPF_MAP_LOOKUP_ELEM, k, ptr(value.as_mut_ptr()), flags)
    }

    /// `BPF_MAP_UPDATE_ELEM` with `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST` or `BPF_F_LOCK`.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), i32> {
        let k = self.key_arg(key)?;
        self.check_value(value)?;
        self.elem(sys::BPF_MAP_UPDATE_ELEM, k, ptr(value.as_ptr()), flags)
    }

    pub fn delete(&self, key: &[u8]) -> Result<(), i32> {
        let k = self.key_arg(key)?;
        self.elem(sys::BPF_MAP_DELETE_ELEM, k, 0, 0)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key`, or the first key when `key` is `None`.
    pub fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), i32> {
        if next.len() < self.key_size as usize {
            return Err(libc::EINVAL);
        }
        if let Some(k) = key {
            self.check_key(k)?;
        }
        self.elem(sys::BPF_MAP_GET_NEXT_KEY, key, ptr(next.as_mut_ptr()), 0)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`; with an empty key it is the pop of a queue or stack.
    pub fn lookup_and_delete(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<(), i32> {
        let k = self.key_arg(key)?;
        self.check_value(value)?;
        self.elem(
            sys::BPF_MAP_LOOKUP_AND_DELETE_ELEM,
            k,
            ptr(value.as_mut_ptr()),
            flags,
        )
    }

    /// Push onto a queue or stack, or add to a bloom filter (an update with no key).
    pub fn push(&self, value: &[u8], flags: u64) -> Result<(), i32> {
        self.update(&[], value, flags)
    }

    /// Peek at a queue or stack, or test a bloom filter (a lookup with no key).
    pub fn peek(&self, value: &mut [u8]) -> Result<(), i32> {
        self.lookup(&[], value, 0)
    }

    /// Pop from a queue or stack.
    pub fn pop(&self, value: &mut [u8]) -> Result<(), i32> {
        self.lookup_and_delete(&[], value, 0)
    }

    /// `BPF_MAP_FREEZE`: no more writes from userspace.
    pub fn freeze(&self) -> Result<(), i32> {
        let mut attr = sys::MapFdAttr {
            map_fd: self.raw_fd() as u32,
        };
        sys::bpf(sys::BPF_MAP_FREEZE, &mut attr).map(|_| ())
    }

    #[allow(clippy::too_many_arguments)] // one per field of the batch attr
    fn batch(
        &self,
        cmd: u32,
        in_batch: Option<&[u8]>,
        out_batch: Option<&mut [u8]>,
        keys: *mut u8,
        values: *mut u8,
        count: u32,
        elem_flags: u64,
    ) -> BatchResult {
        let mut attr = sys::MapBatchAttr {
            in_batch: in_batch.map_or(0, |b| ptr(b.as_ptr())),
            out_batch: out_batch.map_or(0, |b| ptr(b.as_mut_ptr())),
            keys: ptr(keys),
            values: ptr(values),
            count,
            map_fd: self.raw_fd() as u32,
            elem_flags,
            flags: 0,
        };
        let r = sys::bpf(cmd, &mut attr);
        BatchResult {
            count: attr.count,
            errno: r.err(),
        }
    }

    /// The kernel reads and writes `count` packed keys and values and a
    /// batch position (a u32 bucket for hash maps, a key for the others):
    /// refuse buffers that could not hold them before handing pointers to it.
    fn check_batch_buffers(
        &self,
        position: &[Option<usize>],
        keys: usize,
        values: Option<usize>,
        count: u32,
    ) -> Result<(), i32> {
        let position_len = if matches!(self.map_type, 1 | 5 | 9 | 10 | 13) {
            4
        } else {
            self.key_size as usize
        };
        let short = position.iter().flatten().any(|&len| len < position_len)
            || keys < self.key_size as usize * count as usize
            || values.is_some_and(|v| v < self.value_len * count as usize);
        if short {
            Err(libc::EINVAL)
        } else {
            Ok(())
        }
    }

    #[allow(clippy::too_many_arguments)] // one per field of the batch attr
    fn read_batch(
        &self,
        cmd: u32,
        in_batch: Option<&[u8]>,
        out_batch: &mut [u8],
        keys: &mut [u8],
        values: &mut [u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.check_batch_buffers(
            &[in_batch.map(|b| b.len()), Some(out_batch.len())],
            keys.len(),
            Some(values.len()),
            count,
        )?;
        Ok(self.batch(
            cmd,
            in_batch,
            Some(out_batch),
            keys.as_mut_ptr(),
            values.as_mut_ptr(),
            count,
            elem_flags,
        ))
    }

    /// `BPF_MAP_LOOKUP_BATCH`: up to `count` elements starting from the
    /// position `in_batch` (none: the start); the position to continue from is
    /// written to `out_batch` (4 bytes for hash maps, a key for the others).
    pub fn lookup_batch(
        &self,
        in_batch: Option<&[u8]>,
        out_batch: &mut [u8],
        keys: &mut [u8],
        values: &mut [u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.read_batch(
            sys::BPF_MAP_LOOKUP_BATCH,
            in_batch,
            out_batch,
            keys,
            values,
            count,
            elem_flags,
        )
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
    pub fn lookup_and_delete_batch(
        &self,
        in_batch: Option<&[u8]>,
        out_batch: &mut [u8],
        keys: &mut [u8],
        values: &mut [u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.read_batch(
            sys::BPF_MAP_LOOKUP_AND_DELETE_BATCH,
            in_batch,
            out_batch,
            keys,
            values,
            count,
            elem_flags,
        )
    }

    /// `BPF_MAP_UPDATE_BATCH`: `count` keys and values, packed. The kernel
    /// only reads them.
    pub fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.check_batch_buffers(&[], keys.len(), Some(values.len()), count)?;
        Ok(self.batch(
            sys::BPF_MAP_UPDATE_BATCH,
            None,
            None,
            keys.as_ptr() as *mut u8,
            values.as_ptr() as *mut u8,
            count,
            elem_flags,
        ))
    }

    /// `BPF_MAP_DELETE_BATCH`: `count` keys, packed. The kernel only reads them.
    pub fn delete_batch(
        &self,
        keys: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.check_batch_buffers(&[], keys.len(), None, count)?;
        Ok(self.batch(
            sys::BPF_MAP_DELETE_BATCH,
            None,
            None,
            keys.as_ptr() as *mut u8,
            std::ptr::null_mut(),
            count,
            elem_flags,
        ))
    }

    /// `BPF_OBJ_GET_INFO_BY_FD` on this map.
    pub fn info(&self) -> Result<crate::sys::MapInfoRaw, KernelError> {
        let mut info = crate::sys::MapInfoRaw::default();
        let mut attr = sys::InfoByFdAttr {
            bpf_fd: self.raw_fd() as u32,
            info_len: std::mem::size_of::<crate::sys::MapInfoRaw>() as u32,
            info: ptr(&mut info as *mut _),
        };
        sys::bpf(sys::BPF_OBJ_GET_INFO_BY_FD, &mut attr)
            .map_err(|e| KernelError::new("BPF_OBJ_GET_INFO_BY_FD", e))?;
        Ok(info)
    }
}

/// The number of possible CPUs, which sizes per-CPU map values in
/// userspace (the maps crate reads it for its own per-CPU maps).
pub use ironbpf_maps::host_possible_cpus as possible_cpus;
