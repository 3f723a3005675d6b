//! Helper functions as the engines see them: the call convention (r1-r5 in,
//! r0 out), a registry by id, and checked access to the memory a program
//! hands a helper.

use ironbpf_isa::abi::{Access, AccessFault, RegionResolver, RegionTable};
use std::collections::HashMap;
use std::sync::Arc;
use thiserror::Error;

/// What a helper can report instead of a return value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HelperError {
    /// A pointer argument does not point into memory the program may touch.
    #[error("{0}")]
    Fault(AccessFault),
    /// The helper ends the program, which then returns `r0` (uBPF's unwind
    /// test helper behaves so).
    #[error("the helper stopped the program with r0 = {r0:#x}")]
    Stop { r0: u64 },
    /// Any other failure, in words for the user.
    #[error("{0}")]
    Failed(String),
}

/// The memory and state a helper sees during one call.
pub struct HelperCtx<'a> {
    regions: &'a RegionTable,
    stack: (u64, u64),
    resolver: Option<&'a dyn RegionResolver>,
}

impl<'a> HelperCtx<'a> {
    /// The view of a run's memory for one call: its region table, the
    /// stack bounds `[lo, hi)` of the current call chain, and the resolver
    /// of map values. Engines build it; helpers only use it.
    pub fn new(
        regions: &'a RegionTable,
        stack: (u64, u64),
        resolver: Option<&'a dyn RegionResolver>,
    ) -> Self {
        HelperCtx {
            regions,
            stack,
            resolver,
        }
    }

    /// Checks that the program may access `[addr, addr + len)`.
    pub fn check(&self, addr: u64, len: u64, access: Access) -> Result<(), HelperError> {
        if len == 0 {
            return Ok(());
        }
        let (lo, hi) = self.stack;
        if addr >= lo && addr.checked_add(len).is_some_and(|e| e <= hi) {
            return Ok(());
        }
        self.regions
            .check(addr, len, access, self.resolver)
            .map_err(HelperError::Fault)
    }

    /// The run's packet region, if it has one (`skb->data` to the end, or
    /// the XDP frame).
    pub fn packet(&self) -> Option<ironbpf_isa::abi::MemoryRegion> {
        self.regions
            .regions()
            .iter()
            .find(|r| r.kind == ironbpf_isa::abi::RegionKind::Packet)
            .copied()
    }

    /// Copies `len` bytes of program memory at `addr`, after checking them.
    pub fn read(&self, addr: u64, len: u64) -> Result<Vec<u8>, HelperError> {
        self.check(addr, len, Access::Load)?;
        let mut out = vec![0u8; len as usize];
        // SAFETY: the region table (or the stack bounds) vouches that
        // [addr, addr + len) is live memory of this run.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(out)
    }

    /// Reads a NUL-terminated string of at most `max` bytes at `addr`
    /// (without the NUL), checking each byte.
    pub fn read_cstr(&self, addr: u64, max: u64) -> Result<Vec<u8>, HelperError> {
        let mut out = Vec::new();
        for i in 0..max {
            let b = self.read(addr.wrapping_add(i), 1)?[0];
            if b == 0 {
                break;
            }
            out.push(b);
        }
        Ok(out)
    }

    /// Writes `bytes` to program memory at `addr`, after checking it is
    /// writable.
    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), HelperError> {
        self.check(addr, bytes.len() as u64, Access::Store)?;
        // SAFETY: the region table (or the stack bounds) vouches that the
        // destination is live, writable memory of this run.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
        Ok(())
    }
}

/// A helper function: five arguments in, one value out.
pub trait Helper: Send + Sync {
    /// The helper's name, as the kernel spells it (`bpf_map_lookup_elem`).
    fn name(&self) -> &str;
    /// Calls the helper with r1-r5.
    fn call(&self, ctx: &mut HelperCtx<'_>, args: [u64; 5]) -> Result<u64, HelperError>;
}

/// A helper made of a name and a closure.
pub struct FnHelper<F> {
    name: String,
    f: F,
}

impl<F> FnHelper<F>
where
    F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync,
{
    /// Wraps a closure as a helper.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        FnHelper {
            name: name.into(),
            f,
        }
    }
}

impl<F> Helper for FnHelper<F>
where
    F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn call(&self, ctx: &mut HelperCtx<'_>, args: [u64; 5]) -> Result<u64, HelperError> {
        (self.f)(ctx, args)
    }
}

/// The helpers a program may call, by id.
#[derive(Clone, Default)]
pub struct HelperRegistry {
    by_id: HashMap<i64, Arc<dyn Helper>>,
}

impl HelperRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `helper` under `id`, replacing any helper with that id.
    pub fn register(&mut self, id: i64, helper: Arc<dyn Helper>) -> &mut Self {
        self.by_id.insert(id, helper);
        self
    }

    /// Registers a closure under `id`.
    pub fn register_fn<F>(&mut self, id: i64, name: &str, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.register(id, Arc::new(FnHelper::new(name, f)))
    }

    /// The helper with that id.
    pub fn get(&self, id: i64) -> Option<&Arc<dyn Helper>> {
        self.by_id.get(&id)
    }

    /// The registered ids, sorted.
    pub fn ids(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.by_id.keys().copied().collect();
        v.sort_unstable();
        v
    }
}
