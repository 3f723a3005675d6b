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
        Ok(KernelMap {
            fd,
            map_type: spec.map_type,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
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

    fn check_key(&self, key: &[u8]) -> Result<(), i32> {
        if key.len() < self.key_size as usize {
            Err(libc::EINVAL)
        } else {
            Ok(())
        }
    }

    /// `BPF_MAP_LOOKUP_ELEM` into `value` (which must hold a whole value, for
    /// per-CPU maps one per possible CPU rounded up to 8 bytes). Returns the errno.
    pub fn lookup(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<(), i32> {
        self.check_key(key)?;
        let k = if self.key_size == 0 { None } else { Some(key) };
        self.elem(sys::BPF_MAP_LOOKUP_ELEM, k, ptr(value.as_mut_ptr()), flags)
    }

    /// `BPF_MAP_UPDATE_ELEM` with `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST` or `BPF_F_LOCK`.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), i32> {
        self.check_key(key)?;
        let k = if self.key_size == 0 { None } else { Some(key) };
        self.elem(sys::BPF_MAP_UPDATE_ELEM, k, ptr(value.as_ptr()), flags)
    }

    pub fn delete(&self, key: &[u8]) -> Result<(), i32> {
        self.check_key(key)?;
        let k = if self.key_size == 0 { None } else { Some(key) };
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
        let k = if self.key_size == 0 { None } else { Some(key) };
        self.elem(
            sys::BPF_MAP_LOOKUP_AND_DELETE_ELEM,
            k,
            ptr(value.as_mut_ptr()),
            flags,
        )
    }

    /// Push onto a queue or stack (an update with no key).
    pub fn push(&self, value: &[u8], flags: u64) -> Result<(), i32> {
        self.elem(sys::BPF_MAP_UPDATE_ELEM, None, ptr(value.as_ptr()), flags)
    }

    /// Peek at a queue or stack (a lookup with no key).
    pub fn peek(&self, value: &mut [u8]) -> Result<(), i32> {
        self.elem(sys::BPF_MAP_LOOKUP_ELEM, None, ptr(value.as_mut_ptr()), 0)
    }

    /// Pop from a queue or stack.
    pub fn pop(&self, value: &mut [u8]) -> Result<(), i32> {
        self.elem(
            sys::BPF_MAP_LOOKUP_AND_DELETE_ELEM,
            None,
            ptr(value.as_mut_ptr()),
            0,
        )
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
        keys: *const u8,
        values: *const u8,
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

    /// `BPF_MAP_LOOKUP_BATCH`: up to `count` elements starting from the
    /// position `in_batch` (none: the start); the position to continue from is
    /// written to `out_batch` (key-sized for hash maps, 4 bytes for arrays).
    pub fn lookup_batch(
        &self,
        in_batch: Option<&[u8]>,
        out_batch: &mut [u8],
        keys: &mut [u8],
        values: &mut [u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.check_batch_buffers(keys.len(), values.len(), count, self.value_size as usize)?;
        Ok(self.batch(
            sys::BPF_MAP_LOOKUP_BATCH,
            in_batch,
            Some(out_batch),
            keys.as_ptr(),
            values.as_ptr(),
            count,
            elem_flags,
        ))
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
        self.check_batch_buffers(keys.len(), values.len(), count, self.value_size as usize)?;
        Ok(self.batch(
            sys::BPF_MAP_LOOKUP_AND_DELETE_BATCH,
            in_batch,
            Some(out_batch),
            keys.as_ptr(),
            values.as_ptr(),
            count,
            elem_flags,
        ))
    }

    /// `BPF_MAP_UPDATE_BATCH`: `count` keys and values, packed.
    pub fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.check_batch_buffers(keys.len(), values.len(), count, self.value_size as usize)?;
        Ok(self.batch(
            sys::BPF_MAP_UPDATE_BATCH,
            None,
            None,
            keys.as_ptr(),
            values.as_ptr(),
            count,
            elem_flags,
        ))
    }

    /// `BPF_MAP_DELETE_BATCH`: `count` keys, packed.
    pub fn delete_batch(
        &self,
        keys: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> Result<BatchResult, i32> {
        self.check_batch_buffers(keys.len(), 0, count, 0)?;
        Ok(self.batch(
            sys::BPF_MAP_DELETE_BATCH,
            None,
            None,
            keys.as_ptr(),
            std::ptr::null(),
            count,
            elem_flags,
        ))
    }

    /// The kernel writes `count` keys and values; refuse buffers that could not
    /// hold them before handing pointers to it. Per-CPU values are the caller's
    /// to size (`value_size` rounded to 8, times the possible CPUs).
    fn check_batch_buffers(
        &self,
        keys: usize,
        values: usize,
        count: u32,
        value_size: usize,
    ) -> Result<(), i32> {
        if keys < self.key_size as usize * count as usize || values < value_size * count as usize {
            Err(libc::EINVAL)
        } else {
            Ok(())
        }
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

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`), which
/// sizes per-CPU map values in userspace.
pub fn possible_cpus() -> usize {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    let mut n = 0;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    n = n.max(b + 1).max(a + 1);
                }
            }
            None => {
                if let Ok(a) = part.parse::<usize>() {
                    n = n.max(a + 1);
                }
            }
        }
    }
    n.max(1)
}
