//! `BPF_MAP_TYPE_RINGBUF`: a power-of-two, page-aligned data area shared by
//! producers (programs: reserve/submit/discard/output) and one consumer.
//!
//! As in the kernel the data pages are mapped twice back to back, so a
//! record that wraps around the end is still contiguous. Each record starts
//! with an 8-byte header (`u32 len` with `BPF_RINGBUF_BUSY_BIT` while
//! reserved and `BPF_RINGBUF_DISCARD_BIT` once discarded, then `u32 pg_off`)
//! and takes `round_up(len + 8, 8)` bytes. Reserve fails (returns `None`)
//! when the record would pass the consumer position or the oldest record
//! still reserved. Positions are the kernel's: free-running 64-bit counters.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::slab::round8;
use crate::spec::{check_flags, exactly};
use crate::*;

/// `RINGBUF_MAX_RECORD_SZ`: the largest record a reserve accepts.
pub const RINGBUF_MAX_RECORD_SZ: u64 = (u32::MAX / 4) as u64;

/// The page of the first data page in the kernel's `struct bpf_ringbuf`.
const RINGBUF_DATA_PGOFF: usize = 3;

/// A record taken by the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingBufRecord {
    /// The producer position of the record's header.
    pub pos: u64,
    /// The sample bytes (the header's length).
    pub data: Vec<u8>,
}

/// A ring buffer.
pub struct RingBuf {
    spec: MapSpec,
    base: NonNull<u8>,
    size: u64,
    mask: u64,
    cons_pos: AtomicU64,
    prod_pos: AtomicU64,
    pending_pos: AtomicU64,
    producer: Mutex<()>,
    wake: Condvar,
    wake_lock: Mutex<()>,
    access: Access,
}

// SAFETY: the mapping is owned by the ring; producers are serialised by
// `producer`, record headers are accessed atomically, and sample bytes are
// written only by the holder of a reservation and read only after its
// header's busy bit is cleared (release/acquire on the header).
unsafe impl Send for RingBuf {}
// SAFETY: see `Send`.
unsafe impl Sync for RingBuf {}

impl RingBuf {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        check_flags(spec, BPF_F_NUMA_NODE)?;
        exactly(spec, "key_size", spec.key_size, 0)?;
        exactly(spec, "value_size", spec.value_size, 0)?;
        let n = spec.max_entries;
        if !n.is_power_of_two() || !n.is_multiple_of(4096) {
            return Err(MapError::inval(format!(
                "max_entries {n} is invalid for a ringbuf map: it must be a power of two and a multiple of the 4096-byte page (the kernel says EINVAL)"
            )));
        }
        let size = n as usize;
        let oom = |what: &str| {
            MapError::new(
                libc::ENOMEM,
                format!("ringbuf of {size} bytes: {what} failed (ENOMEM)"),
            )
        };
        // SAFETY: plain syscalls on a fresh memfd and a fresh reservation;
        // every result is checked, and on failure what was made is undone.
        let base = unsafe {
            let fd = libc::memfd_create(c"ironbpf-ringbuf".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(oom("memfd_create"));
            }
            if libc::ftruncate(fd, size as libc::off_t) != 0 {
                libc::close(fd);
                return Err(oom("ftruncate"));
            }
            let area = libc::mmap(
                std::ptr::null_mut(),
                2 * size,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if area == libc::MAP_FAILED {
                libc::close(fd);
                return Err(oom("mmap"));
            }
            let rw = libc::PROT_READ | libc::PROT_WRITE;
            let fixed = libc::MAP_SHARED | libc::MAP_FIXED;
            let a = libc::mmap(area, size, rw, fixed, fd, 0);
            let b = libc::mmap((area as *mut u8).add(size).cast(), size, rw, fixed, fd, 0);
            libc::close(fd);
            if a == libc::MAP_FAILED || b == libc::MAP_FAILED {
                libc::munmap(area, 2 * size);
                return Err(oom("the double mapping"));
            }
            area as *mut u8
        };
        Ok(RingBuf {
            spec: spec.clone(),
            base: NonNull::new(base).ok_or_else(|| oom("mmap"))?,
            size: size as u64,
            mask: size as u64 - 1,
            cons_pos: AtomicU64::new(0),
            prod_pos: AtomicU64::new(0),
            pending_pos: AtomicU64::new(0),
            producer: Mutex::new(()),
            wake: Condvar::new(),
            wake_lock: Mutex::new(()),
            access: Access::new(spec.map_flags),
        })
    }

    fn hdr(&self, pos: u64) -> &AtomicU32 {
        // SAFETY: (pos & mask) + 4 is inside the first mapping; headers are
        // 8-aligned (records are multiples of 8 and the base is page-aligned).
        unsafe { &*(self.base.as_ptr().add((pos & self.mask) as usize) as *const AtomicU32) }
    }

    /// `bpf_ringbuf_reserve`: room for `size` bytes, or `None` (bad flags,
    /// too large, or not enough free space).
    pub fn reserve(&self, size: u64, flags: u64) -> Option<NonNull<u8>> {
        if flags != 0 || size > RINGBUF_MAX_RECORD_SZ {
            return None;
        }
        let len = round8(size as usize + BPF_RINGBUF_HDR_SZ as usize) as u64;
        if len > self.size {
            return None;
        }
        let _g = self.producer.lock().unwrap_or_else(|e| e.into_inner());
        let cons = self.cons_pos.load(Ordering::Acquire);
        let prod = self.prod_pos.load(Ordering::Relaxed);
        let mut pend = self.pending_pos.load(Ordering::Relaxed);
        while pend < prod {
            let h = self.hdr(pend).load(Ordering::Acquire);
            if h & BPF_RINGBUF_BUSY_BIT != 0 {
                break;
            }
            pend += round8(
                ((h & !(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ)
                    as usize,
            ) as u64;
        }
        self.pending_pos.store(pend, Ordering::Relaxed);
        let new_prod = prod + len;
        if new_prod - cons > self.mask || new_prod - pend > self.mask {
            return None;
        }
        let off = (prod & self.mask) as usize;
        // pg_off is the kernel's: the header's page counted from the start
        // of its `struct bpf_ringbuf`, whose data pages follow a metadata
        // page, the consumer page and the producer page. A consumer never
        // reads it, but a reserved record's stale bytes may show it.
        // SAFETY: the header is inside the mapping (see hdr); pg_off follows it.
        unsafe {
            let p = self.base.as_ptr().add(off);
            (p.add(4) as *mut u32).write((off / 4096 + RINGBUF_DATA_PGOFF) as u32);
        }
        self.hdr(prod)
            .store(size as u32 | BPF_RINGBUF_BUSY_BIT, Ordering::Release);
        self.prod_pos.store(new_prod, Ordering::Release);
        // SAFETY: the sample follows the header; with the double mapping the
        // len bytes are contiguous even when they wrap.
        NonNull::new(unsafe { self.base.as_ptr().add(off + 8) })
    }

    fn commit(&self, sample: NonNull<u8>, flags: u64, discard: bool) {
        let hdr_addr = sample.as_ptr() as usize - 8;
        let off = (hdr_addr - self.base.as_ptr() as usize) as u64 & self.mask;
        let h = self.hdr(off);
        let mut v = h.load(Ordering::Relaxed) & !BPF_RINGBUF_BUSY_BIT;
        if discard {
            v |= BPF_RINGBUF_DISCARD_BIT;
        }
        h.store(v, Ordering::Release);
        if flags & BPF_RB_NO_WAKEUP == 0 {
            let _g = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
    }

    /// Whether `sample` is a pointer [`RingBuf::reserve`] returned.
    pub fn owns(&self, sample: NonNull<u8>) -> bool {
        let a = sample.as_ptr() as usize;
        let b = self.base.as_ptr() as usize;
        a >= b + 8 && a < b + self.size as usize + 8 && (a - b).is_multiple_of(8)
    }

    /// `bpf_ringbuf_submit`.
    pub fn submit(&self, sample: NonNull<u8>, flags: u64) {
        self.commit(sample, flags, false)
    }

    /// `bpf_ringbuf_discard`.
    pub fn discard(&self, sample: NonNull<u8>, flags: u64) {
        self.commit(sample, flags, true)
    }

    /// `bpf_ringbuf_output`: reserve, copy, submit; `EINVAL` for bad flags,
    /// `EAGAIN` when there is no room.
    pub fn output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::inval(format!(
                "ringbuf output flags {flags:#x} (the kernel says EINVAL)"
            )));
        }
        let p = self.reserve(data.len() as u64, 0).ok_or_else(|| {
            MapError::new(
                libc::EAGAIN,
                format!(
                    "no room for a {}-byte record (the kernel says EAGAIN)",
                    data.len()
                ),
            )
        })?;
        // SAFETY: the reservation has data.len() bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p.as_ptr(), data.len()) }
        self.submit(p, flags);
        Ok(())
    }

    /// `bpf_ringbuf_query`.
    pub fn query(&self, flags: u64) -> u64 {
        match flags {
            BPF_RB_AVAIL_DATA => {
                self.prod_pos.load(Ordering::Acquire) - self.cons_pos.load(Ordering::Acquire)
            }
            BPF_RB_RING_SIZE => self.size,
            BPF_RB_CONS_POS => self.cons_pos.load(Ordering::Acquire),
            BPF_RB_PROD_POS => self.prod_pos.load(Ordering::Acquire),
            _ => 0,
        }
    }

    /// Takes the next submitted record, skipping discarded ones; `None` if
    /// there is none yet (or the oldest is still reserved).
    pub fn next_record(&self) -> Option<RingBufRecord> {
        loop {
            let cons = self.cons_pos.load(Ordering::Acquire);
            if cons >= self.prod_pos.load(Ordering::Acquire) {
                return None;
            }
            let h = self.hdr(cons).load(Ordering::Acquire);
            if h & BPF_RINGBUF_BUSY_BIT != 0 {
                return None;
            }
            let len = h & !(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
            let rec = if h & BPF_RINGBUF_DISCARD_BIT == 0 {
                let mut data = vec![0u8; len as usize];
                // SAFETY: a submitted record of len bytes follows its header
                // contiguously (double mapping).
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.base.as_ptr().add((cons & self.mask) as usize + 8),
                        data.as_mut_ptr(),
                        len as usize,
                    )
                }
                Some(RingBufRecord { pos: cons, data })
            } else {
                None
            };
            self.cons_pos.store(
                cons + round8((len + BPF_RINGBUF_HDR_SZ) as usize) as u64,
                Ordering::Release,
            );
            if rec.is_some() {
                return rec;
            }
        }
    }

    /// Calls `f` on every record available now; returns how many.
    pub fn consume(&self, mut f: impl FnMut(&RingBufRecord)) -> usize {
        let mut n = 0;
        while let Some(r) = self.next_record() {
            f(&r);
            n += 1;
        }
        n
    }

    /// Waits until a submitted record is available or `timeout` passes;
    /// returns whether one is.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let cons = self.cons_pos.load(Ordering::Acquire);
            if cons < self.prod_pos.load(Ordering::Acquire)
                && self.hdr(cons).load(Ordering::Acquire) & BPF_RINGBUF_BUSY_BIT == 0
            {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = self
                .wake
                .wait_timeout(g, (deadline - now).min(Duration::from_millis(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The reserved-record region holding `[addr, addr + len)`, for checked
    /// execution (`RegionKind::HelperMemory`): O(1).
    pub fn record_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        let b = self.base.as_ptr() as u64;
        let end = addr.checked_add(len)?;
        if addr < b + 8 || end > b + 2 * self.size {
            return None;
        }
        // Not masked: a record that wraps continues into the second
        // mapping, where its bytes lie past `size`.
        let off = addr - b;
        let mut start = self.cons_pos.load(Ordering::Acquire);
        let prod = self.prod_pos.load(Ordering::Acquire);
        while start < prod {
            let h = self.hdr(start).load(Ordering::Acquire);
            let l = (h & !(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) as u64;
            let s = (start & self.mask) + 8;
            if h & BPF_RINGBUF_BUSY_BIT != 0 && off >= s && off - s + len <= l {
                return Some(MemoryRegion {
                    start: addr - (off - s),
                    len: l,
                    kind: ironbpf_isa::abi::RegionKind::HelperMemory,
                    writable: true,
                });
            }
            start += round8((l as u32 + BPF_RINGBUF_HDR_SZ) as usize) as u64;
        }
        None
    }
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        // SAFETY: the double mapping of 2 * size bytes was made in `new`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), 2 * self.size as usize) };
    }
}

fn notsupp(what: &str) -> MapError {
    MapError::new(
        ENOTSUPP,
        format!("{what} is not supported by a ringbuf map (the kernel says ENOTSUPP)"),
    )
}

impl Map for RingBuf {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }
    fn possible_cpus(&self) -> usize {
        1
    }
    fn lookup(&self, _key: &[u8], _value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        Err(notsupp("lookup"))
    }
    fn update(&self, _key: &[u8], _value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        Err(notsupp("update"))
    }
    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        Err(notsupp("delete"))
    }
    fn get_next_key(&self, _key: Option<&[u8]>, _next_out: &mut [u8]) -> Result<(), MapError> {
        Err(notsupp("get_next_key"))
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
    /// A reserved record is the program's memory until it submits or
    /// discards it.
    fn value_region(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        self.record_region(addr, len)
    }
    fn len(&self) -> usize {
        self.query(BPF_RB_AVAIL_DATA) as usize
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `BPF_MAX_USER_RINGBUF_SAMPLES`: the most samples one drain visits.
pub const BPF_MAX_USER_RINGBUF_SAMPLES: u64 = 128 * 1024;
/// `DYNPTR_MAX_SIZE`: the largest sample a drain hands to its callback.
const DYNPTR_MAX_SIZE: u32 = (1 << 24) - 1;

/// `BPF_MAP_TYPE_USER_RINGBUF`: a ring buffer whose producer is the host
/// (libbpf's `user_ring_buffer__reserve`/`__submit`/`__discard`) and whose
/// consumer is a program (`bpf_user_ringbuf_drain`). Creation and the
/// host's map commands are a ringbuf's (sizes, flags, `ENOTSUPP`); the
/// layout is the kernel's: an 8-byte header per record, busy and discard
/// bits, free-running positions.
pub struct UserRingBuf {
    ring: RingBuf,
    /// The kernel's `rb->busy`: one drain at a time.
    draining: std::sync::atomic::AtomicBool,
}

impl UserRingBuf {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        Ok(UserRingBuf {
            ring: RingBuf::new(spec)?,
            draining: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// `user_ring_buffer__reserve`: room for a `size`-byte sample, marked
    /// busy until [`UserRingBuf::submit`] or [`UserRingBuf::discard`].
    /// `E2BIG` when the record cannot fit the ring at all, `ENOSPC` when it
    /// does not fit the free space now (the ring may fill completely).
    pub fn reserve(&self, size: u32) -> Result<NonNull<u8>, MapError> {
        let r = &self.ring;
        let total = round8(size as usize + BPF_RINGBUF_HDR_SZ as usize) as u64;
        if size as u64 > RINGBUF_MAX_RECORD_SZ || total > r.size {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "a {size}-byte sample takes {total} bytes, more than the {}-byte ring (E2BIG)",
                    r.size
                ),
            ));
        }
        let _g = r.producer.lock().unwrap_or_else(|e| e.into_inner());
        let cons = r.cons_pos.load(Ordering::Acquire);
        let prod = r.prod_pos.load(Ordering::Relaxed);
        if r.size - (prod - cons) < total {
            return Err(MapError::new(
                libc::ENOSPC,
                format!(
                    "no room for a {total}-byte record: {} of {} bytes are in use (ENOSPC)",
                    prod - cons,
                    r.size
                ),
            ));
        }
        r.hdr(prod)
            .store(size | BPF_RINGBUF_BUSY_BIT, Ordering::Release);
        r.prod_pos.store(prod + total, Ordering::Release);
        // SAFETY: the sample follows its header; the double mapping keeps
        // it contiguous when it wraps.
        NonNull::new(unsafe { r.base.as_ptr().add((prod & r.mask) as usize + 8) })
            .ok_or_else(|| MapError::inval("the ring's mapping is null"))
    }

    fn commit(&self, sample: NonNull<u8>, discard: bool) -> Result<(), MapError> {
        if !self.ring.owns(sample) {
            return Err(MapError::inval(format!(
                "{:p} is not a sample this ring reserved",
                sample.as_ptr()
            )));
        }
        let off = (sample.as_ptr() as u64 - 8 - self.ring.base.as_ptr() as u64) & self.ring.mask;
        let h = self.ring.hdr(off);
        let mut v = h.load(Ordering::Acquire);
        if v & BPF_RINGBUF_BUSY_BIT == 0 {
            return Err(MapError::inval(format!(
                "the sample at {:p} was already submitted or discarded",
                sample.as_ptr()
            )));
        }
        v &= !BPF_RINGBUF_BUSY_BIT;
        if discard {
            v |= BPF_RINGBUF_DISCARD_BIT;
        }
        h.store(v, Ordering::Release);
        Ok(())
    }

    /// `user_ring_buffer__submit`: the sample becomes visible to drains.
    pub fn submit(&self, sample: NonNull<u8>) -> Result<(), MapError> {
        self.commit(sample, false)
    }

    /// `user_ring_buffer__discard`: drains skip the sample.
    pub fn discard(&self, sample: NonNull<u8>) -> Result<(), MapError> {
        self.commit(sample, true)
    }

    /// Reserves, copies `data` and submits.
    pub fn produce(&self, data: &[u8]) -> Result<(), MapError> {
        let n = u32::try_from(data.len()).map_err(|_| {
            MapError::new(libc::E2BIG, "a sample's length must fit 32 bits (E2BIG)")
        })?;
        let p = self.reserve(n)?;
        // SAFETY: the reservation has `n` bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p.as_ptr(), data.len()) };
        self.submit(p)
    }

    /// `bpf_user_ringbuf_drain(map, callback, ctx, flags)`: calls
    /// `callback` on each submitted sample in order (the slice is the
    /// sample in the ring, read-only), releasing it afterwards, until the
    /// ring is empty, the oldest sample is still busy, the callback returns
    /// nonzero, or `BPF_MAX_USER_RINGBUF_SAMPLES` samples were visited.
    /// Discarded samples are skipped and not counted. Returns the number of
    /// samples given to the callback; `EINVAL` for flags other than
    /// `BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP` or a malformed ring,
    /// `EBUSY` while another drain runs, `E2BIG` for a sample larger than
    /// the ring or than a dynptr holds.
    pub fn drain(
        &self,
        flags: u64,
        mut callback: impl FnMut(&[u8]) -> u64,
    ) -> Result<u64, MapError> {
        if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::inval(format!(
                "bpf_user_ringbuf_drain flags {flags:#x}: only BPF_RB_NO_WAKEUP and BPF_RB_FORCE_WAKEUP (the kernel says EINVAL)"
            )));
        }
        if self.draining.swap(true, Ordering::AcqRel) {
            return Err(MapError::new(
                libc::EBUSY,
                "another bpf_user_ringbuf_drain is consuming this ring (the kernel says EBUSY)",
            ));
        }
        let r = &self.ring;
        let mut samples = 0u64;
        let mut discarded = 0u64;
        let mut ret = 0u64;
        let mut result = Ok(());
        while samples < BPF_MAX_USER_RINGBUF_SAMPLES && ret == 0 {
            let prod = r.prod_pos.load(Ordering::Acquire);
            let cons = r.cons_pos.load(Ordering::Acquire);
            if !prod.is_multiple_of(8) {
                result = Err(MapError::inval(format!(
                    "the producer position {prod} is not 8-aligned (the kernel says EINVAL)"
                )));
                break;
            }
            if cons >= prod {
                break;
            }
            let h = r.hdr(cons).load(Ordering::Acquire);
            let len = h & !(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
            let total = round8(len as usize + BPF_RINGBUF_HDR_SZ as usize) as u64;
            if total > prod - cons {
                result = Err(MapError::inval(format!(
                    "the sample at position {cons} claims {len} bytes, past the producer position {prod} (the kernel says EINVAL)"
                )));
                break;
            }
            if total > r.size || len > DYNPTR_MAX_SIZE {
                result = Err(MapError::new(
                    libc::E2BIG,
                    format!("the sample at position {cons} has {len} bytes, too many for the ring or a dynptr (the kernel says E2BIG)"),
                ));
                break;
            }
            if h & BPF_RINGBUF_DISCARD_BIT != 0 {
                r.cons_pos.store(cons + total, Ordering::Release);
                discarded += 1;
                samples += 1;
                continue;
            }
            if h & BPF_RINGBUF_BUSY_BIT != 0 {
                break;
            }
            // SAFETY: a submitted sample of `len` bytes follows its header
            // contiguously (double mapping); the producer does not touch it
            // until the consumer position passes it.
            let sample = unsafe {
                std::slice::from_raw_parts(
                    r.base.as_ptr().add((cons & r.mask) as usize + 8),
                    len as usize,
                )
            };
            ret = callback(sample);
            r.cons_pos.store(cons + total, Ordering::Release);
            samples += 1;
        }
        self.draining.store(false, Ordering::Release);
        result.map(|()| samples - discarded)
    }

    /// The ring's positions and size (`BPF_RB_*` selectors), as
    /// `bpf_ringbuf_query` reads them.
    pub fn query(&self, flags: u64) -> u64 {
        self.ring.query(flags)
    }
}

impl Map for UserRingBuf {
    fn spec(&self) -> &MapSpec {
        self.ring.spec()
    }
    fn possible_cpus(&self) -> usize {
        1
    }
    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.ring.lookup(key, value_out, flags)
    }
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.ring.update(key, value, flags)
    }
    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.ring.delete(key)
    }
    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.ring.get_next_key(key, next_out)
    }
    fn freeze(&self) -> Result<(), MapError> {
        self.ring.freeze()
    }
    fn is_frozen(&self) -> bool {
        self.ring.is_frozen()
    }
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }
    /// Programs read samples only through the drain callback's dynptr.
    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }
    fn len(&self) -> usize {
        self.ring.query(BPF_RB_AVAIL_DATA) as usize
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod user_ringbuf_tests {
    use super::*;

    fn ring(size: u32) -> UserRingBuf {
        UserRingBuf::new(&MapSpec::new(BPF_MAP_TYPE_USER_RINGBUF, 0, 0, size)).unwrap()
    }

    #[test]
    fn drain_gives_submitted_samples_in_order_and_skips_discarded_ones() {
        let rb = ring(4096);
        rb.produce(b"first").unwrap();
        let p = rb.reserve(3).unwrap();
        rb.discard(p).unwrap();
        rb.produce(b"second!").unwrap();
        let mut seen = Vec::new();
        let n = rb
            .drain(0, |s| {
                seen.push(s.to_vec());
                0
            })
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen, vec![b"first".to_vec(), b"second!".to_vec()]);
        // Empty now: 0 samples, no error.
        assert_eq!(rb.drain(0, |_| 0).unwrap(), 0);
        assert_eq!(rb.query(BPF_RB_AVAIL_DATA), 0);
    }

    #[test]
    fn a_busy_sample_stops_the_drain_and_a_nonzero_callback_stops_it_too() {
        let rb = ring(4096);
        rb.produce(b"a").unwrap();
        let busy = rb.reserve(8).unwrap();
        rb.produce(b"c").unwrap();
        assert_eq!(rb.drain(0, |_| 0).unwrap(), 1);
        rb.submit(busy).unwrap();
        // The callback's 1 stops after the sample it was given.
        assert_eq!(rb.drain(0, |_| 1).unwrap(), 1);
        assert_eq!(rb.drain(0, |_| 0).unwrap(), 1);
        assert_eq!(rb.drain(4, |_| 0).unwrap_err().errno, libc::EINVAL);
    }

    #[test]
    fn reserve_fills_the_ring_exactly_then_refuses() {
        let rb = ring(4096);
        assert_eq!(rb.reserve(4089).unwrap_err().errno, libc::E2BIG);
        // 4088 + 8 = 4096: the whole ring.
        let p = rb.reserve(4088).unwrap();
        assert_eq!(rb.reserve(0).unwrap_err().errno, libc::ENOSPC);
        rb.submit(p).unwrap();
        assert_eq!(rb.submit(p).unwrap_err().errno, libc::EINVAL);
        let mut len = 0;
        assert_eq!(
            rb.drain(0, |s| {
                len = s.len();
                0
            })
            .unwrap(),
            1
        );
        assert_eq!(len, 4088);
        // The space is free again, to the last byte.
        rb.produce(&[7; 100]).unwrap();
        rb.produce(&[9; 3976]).unwrap();
        let mut got = Vec::new();
        rb.drain(0, |s| {
            got.push(s.to_vec());
            0
        })
        .unwrap();
        assert_eq!(got, vec![vec![7; 100], vec![9; 3976]]);
    }

    #[test]
    fn host_commands_are_a_ringbufs() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_USER_RINGBUF, 0, 0, 8192)).unwrap();
        assert_eq!(m.lookup(&[], &mut [], 0).unwrap_err().errno, ENOTSUPP);
        assert!(m.as_any().downcast_ref::<UserRingBuf>().is_some());
        let e = create_map(&MapSpec::new(BPF_MAP_TYPE_USER_RINGBUF, 0, 0, 4095))
            .err()
            .unwrap();
        assert_eq!(e.errno, libc::EINVAL);
    }
}

/// The size libbpf creates a ring buffer (`ringbuf` or `user_ringbuf`)
/// with for an object's `max_entries` of `sz` (`adjust_ringbuf_sz`): the
/// kernel wants a power-of-2 multiple of the page size, so libbpf passes
/// such a size through and rounds any other up to the next one; 0 stays 0,
/// for the kernel to refuse.
pub fn libbpf_ringbuf_size(sz: u32) -> u32 {
    const PAGE: u64 = 4096;
    let sz = u64::from(sz);
    if sz == 0 || (sz % PAGE == 0 && (sz / PAGE).is_power_of_two()) {
        return sz as u32;
    }
    let mut size = PAGE;
    while size <= sz {
        size <<= 1;
    }
    u32::try_from(size).unwrap_or(sz as u32)
}

#[cfg(test)]
mod libbpf_size_tests {
    use super::libbpf_ringbuf_size;

    #[test]
    fn sizes_round_up_to_a_power_of_two_number_of_pages() {
        assert_eq!(libbpf_ringbuf_size(0), 0);
        assert_eq!(libbpf_ringbuf_size(8), 4096);
        assert_eq!(libbpf_ringbuf_size(4096), 4096);
        assert_eq!(libbpf_ringbuf_size(4097), 8192);
        assert_eq!(libbpf_ringbuf_size(3 * 4096), 4 * 4096);
        assert_eq!(libbpf_ringbuf_size(1 << 24), 1 << 24);
    }
}
