//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one perf buffer per slot (per CPU, by
//! convention). The host opens a slot by storing an id in it (the kernel
//! takes a perf event fd); `bpf_perf_event_output` appends a record to the
//! slot its flags name (`BPF_F_CURRENT_CPU`: the running CPU slot), and the
//! host consumes records with [`PerfEventArray::read`] or waits for them
//! with [`PerfEventArray::wait`]. A full buffer drops the record and counts
//! it as lost, as a perf ring does.

use crate::bytes::{ne_u32, put};
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::spec::{check_flags, exactly, nonzero};
use crate::*;

/// `BPF_F_CTXLEN_MASK`: the context bytes to append (skb and xdp programs).
pub const BPF_F_CTXLEN_MASK: u64 = 0xfffff << 32;

/// The bytes each slot's buffer holds before records are lost: libbpf's
/// default of 8 pages per CPU, doubled.
pub const PERF_BUFFER_BYTES: usize = 64 * 1024;

/// A sample, as a perf buffer consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfRecord {
    /// The slot (CPU) it was written to.
    pub index: u32,
    /// The raw sample bytes.
    pub data: Vec<u8>,
}

struct Slot {
    id: u32,
    records: VecDeque<PerfRecord>,
    bytes: usize,
    lost: u64,
}

/// A perf event array and its buffers.
pub struct PerfEventArray {
    spec: MapSpec,
    slots: Mutex<Vec<Option<Slot>>>,
    ready: Condvar,
    access: Access,
}

/// A sample's size in the ring: its 8-byte header, the u32 size, the data,
/// padded to 8 bytes.
fn record_bytes(len: usize) -> usize {
    (8 + 4 + len).next_multiple_of(8)
}

impl PerfEventArray {
    pub(crate) fn new(spec: &MapSpec, _ncpus: usize) -> Result<Self, MapError> {
        nonzero(spec, "max_entries", spec.max_entries)?;
        exactly(spec, "key_size", spec.key_size, 4)?;
        exactly(spec, "value_size", spec.value_size, 4)?;
        check_flags(
            spec,
            BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_PRESERVE_ELEMS,
        )?;
        let slots = (0..spec.max_entries).map(|_| None).collect();
        Ok(PerfEventArray {
            spec: spec.clone(),
            slots: Mutex::new(slots),
            ready: Condvar::new(),
            access: Access::new(spec.map_flags),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Option<Slot>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens slot `index` for output (what storing a perf event fd does).
    pub fn open(&self, index: u32, id: u32) -> Result<(), MapError> {
        let mut slots = self.slots();
        let slot = slots.get_mut(index as usize).ok_or_else(|| {
            MapError::new(
                libc::E2BIG,
                format!(
                    "index {index} is past max_entries {} (the kernel says E2BIG)",
                    self.spec.max_entries
                ),
            )
        })?;
        *slot = Some(Slot {
            id,
            records: VecDeque::new(),
            bytes: 0,
            lost: 0,
        });
        Ok(())
    }

    /// `bpf_perf_event_output(ctx, map, flags, data, size)` from a program
    /// running on CPU slot `cpu`. Errors are the helper's: `EINVAL` for
    /// unknown flags, `E2BIG` for an index past the end, `ENOENT` for a
    /// slot nobody opened, `ENOSPC` when the buffer is full (the record is
    /// counted as lost).
    pub fn output(&self, flags: u64, cpu: u32, data: &[u8]) -> Result<(), MapError> {
        if flags & !(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK) != 0 {
            return Err(MapError::inval(format!("flags {flags:#x}: only the index and BPF_F_CTXLEN_MASK bits are defined (the helper returns -EINVAL)")));
        }
        let index = match flags & BPF_F_INDEX_MASK {
            BPF_F_CURRENT_CPU => cpu,
            i => i as u32,
        };
        let mut slots = self.slots();
        let slot = match slots.get_mut(index as usize) {
            None => {
                return Err(MapError::new(
                    libc::E2BIG,
                    format!(
                        "index {index} is past max_entries {} (the helper returns -E2BIG)",
                        self.spec.max_entries
                    ),
                ))
            }
            Some(None) => {
                return Err(MapError::noent(format!(
                    "slot {index} has no perf buffer open (the helper returns -ENOENT)"
                )))
            }
            Some(Some(s)) => s,
        };
        let need = record_bytes(data.len());
        if slot.bytes + need > PERF_BUFFER_BYTES {
            slot.lost += 1;
            return Err(MapError::new(
                libc::ENOSPC,
                format!("the perf buffer of slot {index} is full: the record is lost"),
            ));
        }
        slot.bytes += need;
        slot.records.push_back(PerfRecord {
            index,
            data: data.to_vec(),
        });
        drop(slots);
        self.ready.notify_all();
        Ok(())
    }

    /// Takes every record waiting in every slot, slot by slot, oldest first.
    pub fn read(&self) -> Vec<PerfRecord> {
        let mut out = Vec::new();
        for slot in self.slots().iter_mut().flatten() {
            out.extend(slot.records.drain(..));
            slot.bytes = 0;
        }
        out
    }

    /// Like [`read`](Self::read), waiting up to `timeout` for a record when none is there.
    pub fn wait(&self, timeout: Duration) -> Vec<PerfRecord> {
        let deadline = Instant::now() + timeout;
        let mut slots = self.slots();
        loop {
            if slots.iter().flatten().any(|s| !s.records.is_empty()) {
                drop(slots);
                return self.read();
            }
            let now = Instant::now();
            if now >= deadline {
                return Vec::new();
            }
            slots = self
                .ready
                .wait_timeout(slots, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The id stored in slot `index` when it was opened, if it is open.
    pub fn slot_id(&self, index: u32) -> Option<u32> {
        self.slots()
            .get(index as usize)
            .and_then(|s| s.as_ref())
            .map(|s| s.id)
    }

    /// Records dropped because slot `index`'s buffer was full.
    pub fn lost(&self, index: u32) -> u64 {
        self.slots()
            .get(index as usize)
            .and_then(|s| s.as_ref())
            .map_or(0, |s| s.lost)
    }
}

impl Map for PerfEventArray {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, _key: &[u8], _value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        Err(MapError::new(
            ENOTSUPP,
            "a perf_event_array cannot be read from the host (the kernel says ENOTSUPP)",
        ))
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        if flags != BPF_ANY {
            return Err(MapError::inval(format!("update flags {flags:#x}: a perf_event_array takes only BPF_ANY (the kernel says EINVAL)")));
        }
        check_len("value", value.len(), 4)?;
        let index = index_of(key)?;
        self.open(index, ne_u32(value))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let index = index_of(key)?;
        let mut slots = self.slots();
        match slots.get_mut(index as usize) {
            None => Err(MapError::new(
                libc::E2BIG,
                format!(
                    "index {index} is past max_entries {} (the kernel says E2BIG)",
                    self.spec.max_entries
                ),
            )),
            Some(s) => s.take().map(|_| ()).ok_or_else(|| {
                MapError::noent(format!("slot {index} is not open (the kernel says ENOENT)"))
            }),
        }
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

    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }

    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }

    fn len(&self) -> usize {
        self.slots().iter().filter(|s| s.is_some()).count()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn output_goes_to_the_named_slot_and_a_consumer_waits_for_it() {
        let m = Arc::new(
            PerfEventArray::new(&MapSpec::new(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2), 2).unwrap(),
        );
        assert_eq!(
            m.output(BPF_F_CURRENT_CPU, 0, b"x").unwrap_err().errno,
            libc::ENOENT
        );
        m.update(&0u32.to_ne_bytes(), &9u32.to_ne_bytes(), BPF_ANY)
            .unwrap();
        m.update(&1u32.to_ne_bytes(), &10u32.to_ne_bytes(), BPF_ANY)
            .unwrap();
        assert_eq!(m.output(5, 0, b"x").unwrap_err().errno, libc::E2BIG);
        assert_eq!(m.output(1 << 60, 0, b"x").unwrap_err().errno, libc::EINVAL);
        let producer = {
            let m = m.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                m.output(BPF_F_CURRENT_CPU, 1, b"hello").unwrap();
            })
        };
        let got = m.wait(Duration::from_secs(5));
        producer.join().unwrap();
        assert_eq!(
            got,
            vec![PerfRecord {
                index: 1,
                data: b"hello".to_vec()
            }]
        );
        // A full buffer loses records and counts them.
        let big = vec![0u8; 1000];
        let mut ok = 0;
        while m.output(0, 0, &big).is_ok() {
            ok += 1;
        }
        assert_eq!(ok, PERF_BUFFER_BYTES / record_bytes(1000));
        assert_eq!(m.lost(0), 1);
        assert_eq!(m.read().len(), ok);
    }
}
