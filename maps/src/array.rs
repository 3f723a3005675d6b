//! `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY` (and global data):
//! `max_entries` values in one zeroed block, indexed by a `u32` key.
//!
//! Element `i`'s copy for CPU `c` is at `base + (i * ncpus + c) * stride`
//! with `stride = round_up(value_size, 8)`, so [`Map::value_region`] is a
//! subtraction, a division and a comparison: O(1).

use crate::bytes::put;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

use crate::slab::round8;
use crate::spec::{check_flags, exactly, nonzero, PCPU_MIN_UNIT_SIZE};
use crate::*;

/// An array map (plain, per-CPU, or global data).
pub struct ArrayMap {
    spec: MapSpec,
    ncpus: usize,
    stride: usize,
    base: NonNull<u8>,
    layout: Layout,
    access: Access,
}

// SAFETY: the block is plain bytes owned by the map; concurrent access to
// values through raw pointers is the BPF memory model (the kernel's arrays
// are the same); host copies go through raw pointer copies.
unsafe impl Send for ArrayMap {}
// SAFETY: see `Send`.
unsafe impl Sync for ArrayMap {}

impl ArrayMap {
    pub(crate) fn new(spec: &MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let percpu = spec.map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
        nonzero(spec, "max_entries", spec.max_entries)?;
        exactly(spec, "key_size", spec.key_size, 4)?;
        nonzero(spec, "value_size", spec.value_size)?;
        check_flags(
            spec,
            BPF_F_NUMA_NODE
                | BPF_F_MMAPABLE
                | BPF_F_ACCESS_MASK
                | BPF_F_PRESERVE_ELEMS
                | BPF_F_INNER_MAP,
        )?;
        if percpu && spec.map_flags & BPF_F_NUMA_NODE != 0 {
            return Err(MapError::inval(
                "BPF_F_NUMA_NODE is invalid for a percpu_array map (the kernel says EINVAL)",
            ));
        }
        if spec.map_type != BPF_MAP_TYPE_ARRAY
            && spec.map_flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP) != 0
        {
            return Err(MapError::inval("BPF_F_MMAPABLE and BPF_F_INNER_MAP are only for array maps (the kernel says EINVAL)"));
        }
        if spec.map_flags & BPF_F_PRESERVE_ELEMS != 0 {
            return Err(MapError::inval(
                "BPF_F_PRESERVE_ELEMS is only for perf_event_array maps (the kernel says EINVAL)",
            ));
        }
        if spec.value_size > i32::MAX as u32 {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "value_size {} is above INT_MAX (the kernel says E2BIG)",
                    spec.value_size
                ),
            ));
        }
        if percpu && round8(spec.value_size as usize) as u64 > PCPU_MIN_UNIT_SIZE {
            return Err(MapError::new(
                libc::E2BIG,
                format!("value_size {} of a per-CPU value is above {PCPU_MIN_UNIT_SIZE} (the kernel says E2BIG)", spec.value_size),
            ));
        }
        let ncpus = if percpu { ncpus } else { 1 };
        let stride = round8(spec.value_size as usize);
        let too_big = || {
            MapError::new(
                libc::ENOMEM,
                format!(
                    "max_entries {} × value_size {}: the array cannot be allocated (ENOMEM)",
                    spec.max_entries, spec.value_size
                ),
            )
        };
        let bytes = (spec.max_entries as usize)
            .checked_mul(stride)
            .and_then(|b| b.checked_mul(ncpus))
            .filter(|&b| b < (1usize << 40))
            .ok_or_else(too_big)?;
        let layout = Layout::from_size_align(bytes.max(8), 4096).map_err(|_| too_big())?;
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc_zeroed(layout) };
        let base = NonNull::new(p).ok_or_else(too_big)?;
        Ok(ArrayMap {
            spec: spec.clone(),
            ncpus,
            stride,
            base,
            layout,
            access: Access::new(spec.map_flags),
        })
    }

    fn elem(&self, index: u32) -> *mut u8 {
        // SAFETY: callers check index < max_entries, so the element lies in the block.
        unsafe {
            self.base
                .as_ptr()
                .add(index as usize * self.stride * self.ncpus)
        }
    }

    /// The address of the whole value block (element 0, CPU 0): what a
    /// program's `ld_imm64 BPF_PSEUDO_MAP_VALUE` of global data points at.
    pub fn data_ptr(&self) -> NonNull<u8> {
        self.base
    }

    /// Bytes from element 0 to the end of the last value.
    pub fn data_len(&self) -> usize {
        self.spec.max_entries as usize * self.stride * self.ncpus
    }

    /// A copy of the bytes of element `index` for CPU `cpu` (`value_size` bytes).
    pub fn read_value(&self, index: u32, cpu: usize) -> Option<Vec<u8>> {
        if index >= self.spec.max_entries || cpu >= self.ncpus {
            return None;
        }
        let mut v = vec![0u8; self.spec.value_size as usize];
        // SAFETY: the element copy has value_size bytes inside the block.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.elem(index).add(cpu * self.stride),
                v.as_mut_ptr(),
                v.len(),
            )
        }
        Some(v)
    }
}

impl Drop for ArrayMap {
    fn drop(&mut self) {
        // SAFETY: base was allocated in `new` with `layout`.
        unsafe { dealloc(self.base.as_ptr(), self.layout) }
    }
}

impl Map for ArrayMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        self.ncpus
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let i = index_of(key)?;
        if i >= self.spec.max_entries {
            return Err(MapError::noent(format!(
                "index {i} is out of range: max_entries is {}",
                self.spec.max_entries
            )));
        }
        let n = self.value_size_user();
        check_len("value", value_out.len(), n)?;
        if self.ncpus == 1 {
            // SAFETY: value_size bytes of element i are in the block.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.elem(i),
                    value_out.as_mut_ptr(),
                    self.spec.value_size as usize,
                )
            }
        } else {
            // SAFETY: the per-CPU copies of element i are contiguous, n bytes.
            unsafe { std::ptr::copy_nonoverlapping(self.elem(i), value_out.as_mut_ptr(), n) }
        }
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        if flags & !BPF_F_LOCK > BPF_EXIST {
            return Err(MapError::inval(format!("update flags {flags:#x} are not BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)")));
        }
        let i = index_of(key)?;
        if i >= self.spec.max_entries {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "index {i} is out of range: max_entries is {} (the kernel says E2BIG)",
                    self.spec.max_entries
                ),
            ));
        }
        if flags & BPF_NOEXIST != 0 {
            return Err(MapError::new(
                libc::EEXIST,
                format!("BPF_NOEXIST: array element {i} always exists (the kernel says EEXIST)"),
            ));
        }
        let n = self.value_size_user();
        check_len("value", value.len(), n)?;
        // SAFETY: n bytes (one value, or every CPU's rounded copy) fit at element i.
        unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), self.elem(i), n) }
        Ok(())
    }

    /// A program's update: no syscall access checks (frozen and
    /// `BPF_F_RDONLY` maps stay writable by programs); `BPF_F_LOCK` is
    /// refused after the index checks, as `array_map_update_elem` does.
    fn update_on_cpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK > BPF_EXIST {
            return Err(MapError::inval(format!(
                "update flags {flags:#x} are not BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)"
            )));
        }
        let i = index_of(key)?;
        if i >= self.spec.max_entries {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "index {i} is out of range: max_entries is {} (the kernel says E2BIG)",
                    self.spec.max_entries
                ),
            ));
        }
        if flags & BPF_NOEXIST != 0 {
            return Err(MapError::new(
                libc::EEXIST,
                format!("BPF_NOEXIST: array element {i} always exists (the kernel says EEXIST)"),
            ));
        }
        check_update_lock(flags)?;
        // A plain array has one copy, whatever CPU the program runs on.
        let cpu = if self.ncpus == 1 { 0 } else { cpu };
        if cpu >= self.ncpus {
            return Err(MapError::inval(format!(
                "cpu {cpu} is not below possible_cpus {}",
                self.ncpus
            )));
        }
        let n = self.spec.value_size as usize;
        check_len("value", value.len(), n)?;
        // SAFETY: CPU cpu's copy of element i has value_size bytes in the block.
        unsafe {
            std::ptr::copy_nonoverlapping(value.as_ptr(), self.elem(i).add(cpu * self.stride), n)
        }
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        self.prog_delete(key)
    }

    fn prog_delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::inval(format!(
            "array elements cannot be deleted, {} map (the kernel says EINVAL)",
            map_type_name(self.spec.map_type)
        )))
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        check_len("next key", next_out.len(), 4)?;
        let next = match key {
            None => 0,
            Some(k) => {
                let i = index_of(k)?;
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
        Ok(())
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    fn lookup_ptr(&self, key: &[u8], cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        let i = index_of(key).ok()?;
        // A plain array has one copy, whatever CPU the program runs on.
        let cpu = if self.ncpus == 1 { 0 } else { cpu };
        if i >= self.spec.max_entries || cpu >= self.ncpus {
            return None;
        }
        // SAFETY: CPU cpu's copy of element i is inside the block.
        NonNull::new(unsafe { self.elem(i).add(cpu * self.stride) })
    }

    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        let base = self.base.as_ptr() as u64;
        let off = addr.checked_sub(base)?;
        if off >= self.data_len() as u64 {
            return None;
        }
        let in_copy = off % self.stride as u64;
        if in_copy.checked_add(len)? > self.spec.value_size as u64 {
            return None;
        }
        let writable = self.spec.map_flags & BPF_F_RDONLY_PROG == 0;
        Some(value_mem_region(
            addr - in_copy,
            self.spec.value_size as usize,
            writable,
        ))
    }

    fn len(&self) -> usize {
        self.spec.max_entries as usize
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
                MapError::new(ENOTSUPP, "lookup_and_delete_batch is not supported by array maps (the kernel says ENOTSUPP)"),
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

    fn as_any(&self) -> &dyn Any {
        self
    }
}
