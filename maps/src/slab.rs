//! Element storage with stable addresses: slots in chunks that never move and
//! are freed only when the map is dropped.
//!
//! Chunk `k` holds `base << k.saturating_sub(1)` slots (`base`, `base`,
//! `2 base`, `4 base`, ...), so slot `i` is found with a shift, and at most
//! 33 chunks exist. Each slot is `[state: u64][value][key]`; the value starts
//! 8-byte aligned. A slot's state says whether it holds a live element
//! (`LIVE`), a deleted one that a program may still be reading (`RETIRED`,
//! reclaimed once every epoch guard that could see it is gone) or nothing
//! (`FREE`). [`Slab::value_region`] answers "is `[addr, addr + len)` inside
//! a value" in O(number of chunks) = O(log slots) comparisons and one atomic
//! load.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

pub(crate) const FREE: u64 = 0;
pub(crate) const LIVE: u64 = 1;
pub(crate) const RETIRED: u64 = 2;

const MAX_CHUNKS: usize = 34;

pub(crate) fn round8(n: usize) -> usize {
    (n + 7) & !7
}

pub(crate) struct Slab {
    /// Bytes per slot: 8 (state) + value area + key area, a multiple of 8.
    slot_size: usize,
    /// Bytes of the value area (all CPUs' copies for per-CPU maps).
    value_area: usize,
    /// Bytes a program may touch in one CPU's copy (the map's value_size).
    value_size: usize,
    /// Distance between CPU copies (value_size rounded up to 8).
    cpu_stride: usize,
    key_size: usize,
    base: usize,
    chunks: [AtomicPtr<u8>; MAX_CHUNKS],
    /// Slots made available so far (sum of allocated chunk sizes).
    capacity: AtomicUsize,
    grow: Mutex<()>,
}

// SAFETY: the chunk memory is plain bytes owned by the slab; every access to
// it goes through raw pointers whose synchronisation the map kinds provide
// (locks for keys and host copies, atomics for slot states), as the kernel
// does for its element memory.
unsafe impl Send for Slab {}
// SAFETY: see `Send`.
unsafe impl Sync for Slab {}

impl Slab {
    pub(crate) fn new(key_size: usize, value_size: usize, ncpus: usize, expected: usize) -> Self {
        let cpu_stride = round8(value_size);
        let value_area = cpu_stride * ncpus.max(1);
        let slot_size = 8 + value_area + round8(key_size);
        let base = expected.clamp(1, 64).next_power_of_two();
        Slab {
            slot_size,
            value_area,
            value_size,
            cpu_stride,
            key_size,
            base,
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            capacity: AtomicUsize::new(0),
            grow: Mutex::new(()),
        }
    }

    fn chunk_slots(&self, k: usize) -> usize {
        if k == 0 {
            self.base
        } else {
            self.base << (k - 1)
        }
    }

    fn chunk_start(&self, k: usize) -> usize {
        if k == 0 {
            0
        } else {
            self.base << (k - 1)
        }
    }

    fn locate(&self, slot: usize) -> (usize, usize) {
        if slot < self.base {
            (0, slot)
        } else {
            let k = (usize::BITS - (slot / self.base).leading_zeros()) as usize;
            (k, slot - self.chunk_start(k))
        }
    }

    /// The number of slots usable now.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Acquire)
    }

    /// Makes sure slot `slot` exists; false if memory is exhausted.
    pub(crate) fn ensure(&self, slot: usize) -> bool {
        if slot < self.capacity() {
            return true;
        }
        let _g = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        while slot >= self.capacity.load(Ordering::Acquire) {
            let cap = self.capacity.load(Ordering::Acquire);
            let (k, _) = self.locate(cap);
            if k >= MAX_CHUNKS {
                return false;
            }
            let n = self.chunk_slots(k);
            let Some(bytes) = n.checked_mul(self.slot_size) else {
                return false;
            };
            let Ok(layout) = Layout::from_size_align(bytes, 64) else {
                return false;
            };
            // SAFETY: the layout has a non-zero size (n >= 1, slot_size >= 8).
            let p = unsafe { alloc_zeroed(layout) };
            if p.is_null() {
                return false;
            }
            #[allow(clippy::indexing_slicing, reason = "k < MAX_CHUNKS, checked above")]
            self.chunks[k].store(p, Ordering::Release);
            self.capacity.store(cap + n, Ordering::Release);
        }
        true
    }

    /// The start of slot `slot`, which must be below `capacity()`.
    #[inline]
    fn slot_ptr(&self, slot: usize) -> *mut u8 {
        let (k, off) = self.locate(slot);
        #[allow(
            clippy::indexing_slicing,
            reason = "locate gives k < MAX_CHUNKS for a slot below capacity"
        )]
        let base = self.chunks[k].load(Ordering::Acquire);
        debug_assert!(!base.is_null());
        // SAFETY: slot < capacity, so chunk k is allocated with at least off+1 slots.
        unsafe { base.add(off * self.slot_size) }
    }

    #[inline]
    pub(crate) fn state(&self, slot: usize) -> &AtomicU64 {
        // SAFETY: the first 8 bytes of a slot are its state word, 8-aligned
        // (chunks are 64-aligned and slot_size is a multiple of 8), and live
        // as long as the slab.
        unsafe { &*(self.slot_ptr(slot) as *const AtomicU64) }
    }

    /// The value area of a slot (all CPUs' copies).
    #[inline]
    pub(crate) fn value_ptr(&self, slot: usize) -> *mut u8 {
        // SAFETY: the value area follows the 8-byte state inside the slot.
        unsafe { self.slot_ptr(slot).add(8) }
    }

    /// One CPU's copy of a slot's value.
    #[inline]
    pub(crate) fn cpu_value_ptr(&self, slot: usize, cpu: usize) -> *mut u8 {
        // SAFETY: callers pass cpu < ncpus, so the copy lies in the value area.
        unsafe { self.value_ptr(slot).add(cpu * self.cpu_stride) }
    }

    #[inline]
    pub(crate) fn key_ptr(&self, slot: usize) -> *mut u8 {
        // SAFETY: the key area follows the value area inside the slot.
        unsafe { self.slot_ptr(slot).add(8 + self.value_area) }
    }

    /// A live slot's state, key and the given CPU's value, locating the
    /// slot once (the readers' hot path). `cpu` must be below the slab's CPUs.
    #[inline]
    pub(crate) fn lookup_parts(&self, slot: usize, cpu: usize) -> (&AtomicU64, &[u8], *mut u8) {
        let p = self.slot_ptr(slot);
        // SAFETY: as in `state`, `key` and `cpu_value_ptr`, from the same
        // slot start.
        unsafe {
            (
                &*(p as *const AtomicU64),
                std::slice::from_raw_parts(p.add(8 + self.value_area), self.key_size),
                p.add(8 + cpu * self.cpu_stride),
            )
        }
    }

    /// The key stored in a slot.
    pub(crate) fn key(&self, slot: usize) -> &[u8] {
        // SAFETY: key_ptr points at key_size bytes inside the slot; keys are
        // written only while the slot is not LIVE and its index entry absent.
        unsafe { std::slice::from_raw_parts(self.key_ptr(slot), self.key_size) }
    }

    pub(crate) fn write_key(&self, slot: usize, key: &[u8]) {
        // SAFETY: the slot is owned by the caller (popped from a free list),
        // the source is key_size bytes and does not overlap the slab.
        unsafe { std::ptr::copy_nonoverlapping(key.as_ptr(), self.key_ptr(slot), self.key_size) }
    }

    /// Copies `src` (at most the value area) into the value area of `slot`.
    pub(crate) fn write_value(&self, slot: usize, src: &[u8]) {
        let n = src.len().min(self.value_area);
        // SAFETY: n bytes fit in the slot's value area; the source is the
        // caller's buffer, distinct from the slab.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.value_ptr(slot), n) }
    }

    /// Copies the value area of `slot` into `dst` (at most its length).
    pub(crate) fn read_value(&self, slot: usize, dst: &mut [u8]) {
        let n = dst.len().min(self.value_area);
        // SAFETY: as in write_value, in the other direction.
        unsafe { std::ptr::copy_nonoverlapping(self.value_ptr(slot), dst.as_mut_ptr(), n) }
    }

    /// Zeroes the value area of `slot`.
    pub(crate) fn zero_value(&self, slot: usize) {
        // SAFETY: the value area is value_area bytes inside the slot.
        unsafe { std::ptr::write_bytes(self.value_ptr(slot), 0, self.value_area) }
    }

    /// The slot whose value holds `[addr, addr + len)` and is not free, with
    /// the start of the CPU copy it lies in. Cost: one comparison per
    /// allocated chunk (at most 34) and one atomic load.
    pub(crate) fn value_region(&self, addr: u64, len: u64) -> Option<(usize, u64)> {
        let addr = addr as usize;
        let len = len as usize;
        let cap = self.capacity();
        let mut k = 0;
        while self.chunk_start(k) < cap && k < MAX_CHUNKS {
            #[allow(clippy::indexing_slicing, reason = "the loop stops at MAX_CHUNKS")]
            let base = self.chunks[k].load(Ordering::Acquire) as usize;
            let bytes = self.chunk_slots(k) * self.slot_size;
            if addr >= base && addr < base + bytes {
                let off = addr - base;
                let idx = off / self.slot_size;
                let in_slot = off % self.slot_size;
                if in_slot < 8 || in_slot - 8 >= self.value_area {
                    return None;
                }
                let in_value = in_slot - 8;
                let cpu_off = in_value % self.cpu_stride;
                if cpu_off + len > self.value_size {
                    return None;
                }
                let slot = self.chunk_start(k) + idx;
                if self.state(slot).load(Ordering::Acquire) == FREE {
                    return None;
                }
                return Some((slot, (addr - cpu_off) as u64));
            }
            k += 1;
        }
        None
    }

    pub(crate) fn value_size(&self) -> usize {
        self.value_size
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        for k in 0..MAX_CHUNKS {
            let bytes = self.chunk_slots(k) * self.slot_size;
            let Some(chunk) = self.chunks.get_mut(k) else {
                break;
            };
            let p = *chunk.get_mut();
            // The layout was valid at allocation, so it is now.
            if let (false, Ok(layout)) = (p.is_null(), Layout::from_size_align(bytes, 64)) {
                // SAFETY: p was allocated in `ensure` with this very layout
                // and nothing can reach it once the slab is dropped.
                unsafe { dealloc(p, layout) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_keep_their_address_across_growth_and_regions_are_exact() {
        let s = Slab::new(4, 12, 1, 2);
        assert!(s.ensure(0));
        let p0 = s.value_ptr(0) as usize;
        assert!(s.ensure(1000));
        assert_eq!(s.value_ptr(0) as usize, p0);
        for i in [0usize, 1, 2, 3, 5, 63, 64, 999] {
            let (k, off) = s.locate(i);
            assert_eq!(s.chunk_start(k) + off, i);
            assert!(off < s.chunk_slots(k));
        }
        let v = s.value_ptr(999) as u64;
        assert_eq!(s.value_region(v, 12), None, "free slot");
        s.state(999).store(LIVE, Ordering::Release);
        assert_eq!(s.value_region(v, 12), Some((999, v)));
        assert_eq!(s.value_region(v + 4, 8), Some((999, v)));
        assert_eq!(s.value_region(v + 4, 9), None, "runs past value_size");
        assert_eq!(s.value_region(v - 8, 8), None, "the state word");
        assert_eq!(s.value_region(v + 12, 1), None, "padding");
    }
}
