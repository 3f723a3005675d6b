//! The runtime ABI shared by the interpreter, the JIT and the helpers: the
//! memory-region table that checked execution tests every access against.
//!
//! A program sees real host addresses (stack, context, packet, input memory,
//! map values). In checked mode every load, store and atomic must fall
//! wholly inside one region of the run's [`RegionTable`]; a helper that is
//! handed a pointer checks it the same way. The table is a small sorted
//! array so that the JIT can emit the same test inline.

use std::fmt;

/// What a region of memory is, for error messages and for the verifier's
/// pointer types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// The program's stack (all frames of the run).
    Stack,
    /// The context (`PTR_TO_CTX`).
    Context,
    /// Packet data, `data` to `data_end` (`PTR_TO_PACKET`).
    Packet,
    /// Packet metadata, `data_meta` to `data` (`PTR_TO_PACKET_META`).
    PacketMeta,
    /// Input memory handed to the program (bpf_conformance's `-- mem`).
    Memory,
    /// A map value (`PTR_TO_MAP_VALUE`).
    MapValue,
    /// Memory a helper handed out (e.g. a ring buffer record, `PTR_TO_MEM`).
    HelperMemory,
    /// The read-only image of the kernel's struct behind a map pointer
    /// (`CONST_PTR_TO_MAP`: `map->max_entries`).
    MapStruct,
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RegionKind::Stack => "stack",
            RegionKind::Context => "context",
            RegionKind::Packet => "packet",
            RegionKind::PacketMeta => "packet metadata",
            RegionKind::Memory => "input memory",
            RegionKind::MapValue => "map value",
            RegionKind::HelperMemory => "helper memory",
            RegionKind::MapStruct => "map struct",
        })
    }
}

/// One region: `[start, start + len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub start: u64,
    pub len: u64,
    pub kind: RegionKind,
    pub writable: bool,
}

impl MemoryRegion {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }

    /// Whether `[addr, addr + len)` lies wholly inside.
    #[inline(always)]
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr.wrapping_sub(self.start) <= self.len.wrapping_sub(len) && len <= self.len
    }
}

impl fmt::Display for MemoryRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{:#x}, {:#x}) ({} bytes{})",
            self.kind,
            self.start,
            self.end(),
            self.len,
            if self.writable { "" } else { ", read-only" }
        )
    }
}

/// Whether an access reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Load,
    Store,
    /// A read-modify-write atomic.
    Atomic,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Load => "load",
            Access::Store => "store",
            Access::Atomic => "atomic",
        })
    }
}

/// An access that no region allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFault {
    pub addr: u64,
    pub len: u64,
    pub access: Access,
    /// The region the address is in or nearest to, if any.
    pub nearest: Option<MemoryRegion>,
}

impl fmt::Display for AccessFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} of {} byte{} at {:#x}",
            self.access,
            self.len,
            if self.len == 1 { "" } else { "s" },
            self.addr
        )?;
        if self.addr.checked_add(self.len).is_none() {
            write!(f, " (the access wraps around the address space)")?;
        }
        match &self.nearest {
            None => write!(f, ": no memory region is mapped"),
            Some(r) if r.contains(self.addr, self.len) && !r.writable => {
                write!(f, ": the {r} is read-only")
            }
            Some(r) if self.addr >= r.end() => write!(
                f,
                ": {} bytes past the end of the nearest region, {r}",
                self.addr - r.end() + 1
            ),
            Some(r) if self.addr < r.start => write!(
                f,
                ": {} bytes before the nearest region, {r}",
                r.start - self.addr
            ),
            Some(r) => write!(
                f,
                ": it runs {} bytes past the end of {r}",
                (self.addr + self.len).saturating_sub(r.end())
            ),
        }
    }
}

/// A source of regions beyond the fixed table, asked when an address is in
/// none of them: map values that the maps runtime hands out at run time.
pub trait RegionResolver: Send + Sync {
    /// The region holding `[addr, addr + len)`, if any.
    fn resolve(&self, addr: u64, len: u64) -> Option<MemoryRegion>;
}

/// The regions a run may touch, sorted by start address, non-overlapping.
/// Up to four are kept inline, so that setting up a run allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct RegionTable {
    regions: smallvec::SmallVec<[MemoryRegion; 4]>,
}

impl RegionTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a region; refuses one that overlaps a region already present.
    pub fn insert(&mut self, r: MemoryRegion) -> Result<(), MemoryRegion> {
        if r.len == 0 {
            return Ok(());
        }
        let i = self.regions.partition_point(|x| x.start < r.start);
        if let Some(next) = self.regions.get(i) {
            if r.end() > next.start {
                return Err(*next);
            }
        }
        if let Some(prev) = i.checked_sub(1).and_then(|p| self.regions.get(p)) {
            if prev.end() > r.start {
                return Err(*prev);
            }
        }
        self.regions.insert(i, r);
        Ok(())
    }

    /// Removes the region starting at `start`, if there is one.
    pub fn remove(&mut self, start: u64) -> Option<MemoryRegion> {
        let i = self.regions.iter().position(|r| r.start == start)?;
        Some(self.regions.remove(i))
    }

    /// The regions, in address order.
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.regions
    }

    /// The region that holds `[addr, addr + len)`.
    #[inline]
    pub fn find(&self, addr: u64, len: u64) -> Option<&MemoryRegion> {
        // Few regions (stack, ctx, packet, memory): a scan beats a search.
        self.regions.iter().find(|r| r.contains(addr, len))
    }

    /// Checks an access; on failure the fault names the nearest region.
    pub fn check(
        &self,
        addr: u64,
        len: u64,
        access: Access,
        resolver: Option<&dyn RegionResolver>,
    ) -> Result<(), AccessFault> {
        let region = self
            .find(addr, len)
            .copied()
            .or_else(|| resolver.and_then(|r| r.resolve(addr, len)));
        match region {
            Some(r) if r.writable || access == Access::Load => Ok(()),
            found => Err(AccessFault {
                addr,
                len,
                access,
                nearest: found.or_else(|| self.nearest(addr)),
            }),
        }
    }

    /// The region containing `addr` or, failing that, the closest one.
    pub fn nearest(&self, addr: u64) -> Option<MemoryRegion> {
        self.regions
            .iter()
            .min_by_key(|r| {
                if addr < r.start {
                    r.start - addr
                } else {
                    addr.saturating_sub(r.end().saturating_sub(1))
                }
            })
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: u64, len: u64, writable: bool) -> MemoryRegion {
        MemoryRegion {
            start,
            len,
            kind: RegionKind::Memory,
            writable,
        }
    }

    #[test]
    fn contains_is_exact_at_both_ends_and_never_wraps() {
        let r = region(0x1000, 16, true);
        assert!(r.contains(0x1000, 16));
        assert!(r.contains(0x100f, 1));
        assert!(!r.contains(0x100f, 2));
        assert!(!r.contains(0xfff, 1));
        assert!(!r.contains(0x1010, 1));
        assert!(!r.contains(u64::MAX, 2));
        assert!(!r.contains(0x1000, 17));
    }

    #[test]
    fn faults_name_the_nearest_region() {
        let mut t = RegionTable::new();
        t.insert(region(0x1000, 16, true)).unwrap();
        t.insert(region(0x2000, 8, false)).unwrap();
        assert!(t.insert(region(0x1008, 16, true)).is_err());
        assert!(t.check(0x1008, 8, Access::Store, None).is_ok());
        let f = t.check(0x1010, 1, Access::Load, None).unwrap_err();
        assert_eq!(f.nearest.unwrap().start, 0x1000);
        assert!(f.to_string().contains("1 bytes past the end"), "{f}");
        let f = t.check(0x2000, 8, Access::Store, None).unwrap_err();
        assert!(f.to_string().contains("read-only"), "{f}");
    }
}
