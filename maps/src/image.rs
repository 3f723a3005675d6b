//! What a map pointer points at: a read-only image of the kernel's struct
//! behind the map (`struct bpf_array`, `struct bpf_htab`, ...), one per map
//! of a [`MapSet`](crate::MapSet).
//!
//! The kernel's verifier lets privileged programs read the fields of the
//! struct behind `CONST_PTR_TO_MAP` (`check_ptr_to_map_access`:
//! `map->max_entries`, `array->elem_size`...). A map handle is therefore a
//! real host address here, that of this image, so that such a read works
//! in every engine, the verified JIT's unchecked loads included.
//!
//! The layout is Linux 6.18's on x86-64 (offsets read from its BTF,
//! `bpf_map` through `bpf_array` and `bpf_htab`). Fields that are kernel
//! pointers (`ops`, `inner_map_meta`, `btf`...) read as 0, and fields that
//! change as the map is used in the kernel (reference counts, the hash's
//! element count) keep the value they have in a fresh map.
//!
//! The images of one set live in one anonymous mapping so that a handle
//! turns back into an id with a subtraction and a shift. It is reserved
//! whole (`MAP_NORESERVE`) and its pages are only backed once written: a set
//! of 3 maps costs one page. Written by hand because no crate gives a
//! fixed-address, lazily backed, growable slab of plain bytes.

use crate::spec::MapSpec;
use crate::MapError;
use std::ptr::NonNull;

/// Bytes per image: at least the largest struct the verifier lets a
/// program read through a map pointer (`struct bpf_htab`, 896 bytes), and a
/// power of two so that a handle's slot is a shift away.
pub const MAP_IMAGE_SIZE: u64 = 1024;
const MAP_IMAGE_SHIFT: u32 = 10;

/// How many maps one set can hold: the reserved address space is this many
/// images (64 MiB of addresses, of which only the pages written are backed).
pub const MAX_MAPS_PER_SET: u32 = 1 << 16;

// `struct bpf_map` (Linux 6.18, x86-64).
const OFF_MAP_TYPE: usize = 64;
const OFF_KEY_SIZE: usize = 68;
const OFF_VALUE_SIZE: usize = 72;
const OFF_MAX_ENTRIES: usize = 76;
const OFF_MAP_EXTRA: usize = 80;
const OFF_MAP_FLAGS: usize = 88;
const OFF_ID: usize = 92;
const OFF_NUMA_NODE: usize = 104;
const OFF_BTF_KEY_TYPE_ID: usize = 108;
const OFF_BTF_VALUE_TYPE_ID: usize = 112;
const OFF_NAME: usize = 136;
/// `struct bpf_map` is 296 bytes; the kind's own fields follow it.
const BPF_MAP_SIZE: usize = 296;
// `struct bpf_array`: `elem_size`, `index_mask`.
const OFF_ARRAY_ELEM_SIZE: usize = BPF_MAP_SIZE;
const OFF_ARRAY_INDEX_MASK: usize = BPF_MAP_SIZE + 4;
// `struct bpf_htab`: `n_buckets`, `elem_size`.
const OFF_HTAB_N_BUCKETS: usize = 824;
const OFF_HTAB_ELEM_SIZE: usize = 828;
/// `sizeof(struct htab_elem)` before the key.
const HTAB_ELEM_HEADER: u32 = 48;

/// The image of one map: the bytes a program reading `*(map + off)` sees.
pub fn map_image(spec: &MapSpec, id: u32) -> [u8; MAP_IMAGE_SIZE as usize] {
    let mut b = [0u8; MAP_IMAGE_SIZE as usize];
    let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    put(OFF_MAP_TYPE, &spec.map_type.to_ne_bytes());
    put(OFF_KEY_SIZE, &spec.key_size.to_ne_bytes());
    put(OFF_VALUE_SIZE, &spec.value_size.to_ne_bytes());
    put(OFF_MAX_ENTRIES, &spec.max_entries.to_ne_bytes());
    put(OFF_MAP_EXTRA, &spec.map_extra.to_ne_bytes());
    put(OFF_MAP_FLAGS, &spec.map_flags.to_ne_bytes());
    // The kernel's map ids start at 1; this set's at 0.
    put(OFF_ID, &id.wrapping_add(1).to_ne_bytes());
    // NUMA_NO_NODE: the map was created without BPF_F_NUMA_NODE.
    put(OFF_NUMA_NODE, &(-1i32).to_ne_bytes());
    put(OFF_BTF_KEY_TYPE_ID, &spec.btf_key_type_id.to_ne_bytes());
    put(OFF_BTF_VALUE_TYPE_ID, &spec.btf_value_type_id.to_ne_bytes());
    let name = spec.name.as_bytes();
    let n = name.len().min(15);
    put(OFF_NAME, &name[..n]);
    let round8 = |v: u32| v.div_ceil(8).saturating_mul(8);
    let pow2 = |v: u32| (v.max(1) as u64).next_power_of_two();
    use crate::*;
    match spec.map_type {
        BPF_MAP_TYPE_ARRAY
        | BPF_MAP_TYPE_PERCPU_ARRAY
        | BPF_MAP_TYPE_PROG_ARRAY
        | BPF_MAP_TYPE_PERF_EVENT_ARRAY
        | BPF_MAP_TYPE_CGROUP_ARRAY
        | BPF_MAP_TYPE_ARRAY_OF_MAPS => {
            // array_map_alloc: elem_size = round_up(value_size, 8) and the
            // index mask of the next power of two.
            put(OFF_ARRAY_ELEM_SIZE, &round8(spec.value_size).to_ne_bytes());
            let mask = (pow2(spec.max_entries) - 1) as u32;
            put(OFF_ARRAY_INDEX_MASK, &mask.to_ne_bytes());
        }
        BPF_MAP_TYPE_HASH
        | BPF_MAP_TYPE_PERCPU_HASH
        | BPF_MAP_TYPE_LRU_HASH
        | BPF_MAP_TYPE_LRU_PERCPU_HASH
        | BPF_MAP_TYPE_HASH_OF_MAPS => {
            let n_buckets = pow2(spec.max_entries).min(u32::MAX as u64) as u32;
            put(OFF_HTAB_N_BUCKETS, &n_buckets.to_ne_bytes());
            // htab_map_alloc: the element header, the key rounded to 8, and
            // either the value rounded to 8 or a per-CPU pointer.
            let percpu = matches!(
                spec.map_type,
                BPF_MAP_TYPE_PERCPU_HASH | BPF_MAP_TYPE_LRU_PERCPU_HASH
            );
            let value = if percpu { 8 } else { round8(spec.value_size) };
            let elem = HTAB_ELEM_HEADER
                .saturating_add(round8(spec.key_size))
                .saturating_add(value);
            put(OFF_HTAB_ELEM_SIZE, &elem.to_ne_bytes());
        }
        _ => {}
    }
    b
}

/// The reserved address range holding one set's images.
pub(crate) struct ImageArena {
    base: NonNull<u8>,
}

// SAFETY: the arena is plain bytes; writes happen only through `write`,
// under the set's write lock, into a slot no handle names yet, and programs
// only read.
unsafe impl Send for ImageArena {}
// SAFETY: as above.
unsafe impl Sync for ImageArena {}

impl ImageArena {
    const LEN: usize = (MAX_MAPS_PER_SET as usize) << MAP_IMAGE_SHIFT;

    pub(crate) fn new() -> Result<Self, MapError> {
        // SAFETY: an anonymous private mapping at an address the kernel
        // picks; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(MapError::new(
                libc::ENOMEM,
                format!(
                    "cannot reserve {} MiB of addresses for the map set's map structs: {}",
                    Self::LEN >> 20,
                    std::io::Error::last_os_error()
                ),
            ));
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| {
            MapError::new(
                libc::ENOMEM,
                "mmap returned a null address for the map structs",
            )
        })?;
        Ok(ImageArena { base })
    }

    pub(crate) fn base(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    /// Writes map `id`'s image. The caller holds the set's write lock and
    /// has not handed out `id`'s handle yet.
    pub(crate) fn write(&self, id: u32, image: &[u8; MAP_IMAGE_SIZE as usize]) {
        if id >= MAX_MAPS_PER_SET {
            return;
        }
        // SAFETY: slot `id` lies inside the mapping (id < MAX_MAPS_PER_SET);
        // no program reads it yet, since its handle is not out.
        unsafe {
            let dst = self.base.as_ptr().add((id as usize) << MAP_IMAGE_SHIFT);
            std::ptr::copy_nonoverlapping(image.as_ptr(), dst, image.len());
        }
    }

    /// The slot `handle` names, when it is the start of one.
    pub(crate) fn slot_of(&self, handle: u64) -> Option<u32> {
        let off = handle.checked_sub(self.base())?;
        if off & (MAP_IMAGE_SIZE - 1) != 0 {
            return None;
        }
        u32::try_from(off >> MAP_IMAGE_SHIFT)
            .ok()
            .filter(|&i| i < MAX_MAPS_PER_SET)
    }

    /// The slot whose image holds `[addr, addr + len)`.
    pub(crate) fn slot_containing(&self, addr: u64, len: u64) -> Option<u32> {
        let off = addr.checked_sub(self.base())?;
        let slot = off >> MAP_IMAGE_SHIFT;
        let in_slot = off & (MAP_IMAGE_SIZE - 1);
        if slot >= MAX_MAPS_PER_SET as u64 || len > MAP_IMAGE_SIZE - in_slot {
            return None;
        }
        Some(slot as u32)
    }
}

impl Drop for ImageArena {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of that length; every engine
        // run holds the set alive (an `Arc<MapSet>`) while it can read it.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), Self::LEN);
        }
    }
}
