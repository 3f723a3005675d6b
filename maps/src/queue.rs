//! `BPF_MAP_TYPE_QUEUE` (FIFO) and `BPF_MAP_TYPE_STACK` (LIFO): no keys
//! (`key_size` 0), push with `update`, peek with `lookup`, pop with
//! `lookup_and_delete`. A full map refuses a push with `E2BIG` unless the
//! flag is `BPF_EXIST`, which drops the oldest value. Values are copied out
//! (programs get no pointer into them), so there is no value region.

use crate::bytes::{head, put, zero};
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::Mutex;

use crate::spec::{check_flags, exactly, nonzero, KMALLOC_MAX_SIZE};
use crate::*;

/// A queue or a stack.
pub struct QueueStack {
    spec: MapSpec,
    stack: bool,
    items: Mutex<VecDeque<Box<[u8]>>>,
    access: Access,
}

impl QueueStack {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        nonzero(spec, "max_entries", spec.max_entries)?;
        exactly(spec, "key_size", spec.key_size, 0)?;
        nonzero(spec, "value_size", spec.value_size)?;
        check_flags(spec, BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        if spec.value_size as u64 > KMALLOC_MAX_SIZE {
            return Err(MapError::new(
                libc::E2BIG,
                format!(
                    "value_size {} is too large (the kernel says E2BIG)",
                    spec.value_size
                ),
            ));
        }
        Ok(QueueStack {
            spec: spec.clone(),
            stack: spec.map_type == BPF_MAP_TYPE_STACK,
            items: Mutex::new(VecDeque::new()),
            access: Access::new(spec.map_flags),
        })
    }

    fn items(&self) -> std::sync::MutexGuard<'_, VecDeque<Box<[u8]>>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `bpf_map_push_elem`.
    pub fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & BPF_NOEXIST != 0 || flags > BPF_EXIST {
            return Err(MapError::inval(format!(
                "push flags {flags:#x}: only BPF_ANY or BPF_EXIST (the kernel says EINVAL)"
            )));
        }
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        let mut q = self.items();
        if q.len() >= self.spec.max_entries as usize {
            if flags != BPF_EXIST {
                return Err(MapError::new(
                    libc::E2BIG,
                    format!(
                        "the {} is full: max_entries {} (the kernel says E2BIG)",
                        self.kind(),
                        self.spec.max_entries
                    ),
                ));
            }
            // The oldest value goes, for a stack as for a queue.
            q.pop_front();
        }
        q.push_back(head(value, vs).into());
        Ok(())
    }

    /// `bpf_map_pop_elem`: the oldest value of a queue, the newest of a stack.
    pub fn pop(&self, value_out: &mut [u8]) -> Result<(), MapError> {
        let vs = self.spec.value_size as usize;
        check_len("value", value_out.len(), vs)?;
        let mut q = self.items();
        let v = if self.stack {
            q.pop_back()
        } else {
            q.pop_front()
        };
        let v = v.ok_or_else(|| {
            MapError::noent(format!(
                "the {} is empty (the kernel says ENOENT)",
                self.kind()
            ))
        })?;
        put(value_out, &v);
        Ok(())
    }

    /// `bpf_map_peek_elem`.
    pub fn peek(&self, value_out: &mut [u8]) -> Result<(), MapError> {
        let vs = self.spec.value_size as usize;
        check_len("value", value_out.len(), vs)?;
        let q = self.items();
        let v = if self.stack { q.back() } else { q.front() };
        let v = v.ok_or_else(|| {
            MapError::noent(format!(
                "the {} is empty (the kernel says ENOENT)",
                self.kind()
            ))
        })?;
        put(value_out, v);
        Ok(())
    }

    fn zero(&self, value_out: &mut [u8]) {
        let n = value_out.len().min(self.spec.value_size as usize);
        zero(value_out, n);
    }

    fn kind(&self) -> &'static str {
        if self.stack {
            "stack"
        } else {
            "queue"
        }
    }
}

impl Map for QueueStack {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, _key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "peek")?;
        self.peek(value_out)
    }

    fn update(&self, _key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("push")?;
        check_update_lock(flags)?;
        self.push(value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        self.prog_delete(key)
    }

    fn prog_delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::inval(format!(
            "a {} has no delete; pop with lookup_and_delete (the kernel says EINVAL)",
            self.kind()
        )))
    }

    fn prog_push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.push(value, flags)
    }

    /// An empty map zeroes the program's buffer, as the kernel's helper does.
    fn prog_pop(&self, value_out: &mut [u8]) -> Result<(), MapError> {
        self.pop(value_out).inspect_err(|_| self.zero(value_out))
    }

    /// An empty map zeroes the program's buffer, as the kernel's helper does.
    fn prog_peek(&self, value_out: &mut [u8]) -> Result<(), MapError> {
        self.peek(value_out).inspect_err(|_| self.zero(value_out))
    }

    fn get_next_key(&self, _key: Option<&[u8]>, _next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        Err(MapError::inval(format!(
            "a {} has no keys (the kernel says EINVAL)",
            self.kind()
        )))
    }

    fn lookup_and_delete(
        &self,
        _key: &[u8],
        value_out: &mut [u8],
        flags: u64,
    ) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::inval(format!("lookup_and_delete flags {flags:#x}: only BPF_F_LOCK is defined (the kernel says EINVAL)")));
        }
        self.access.read("pop")?;
        self.access.write("pop")?;
        if flags != 0 {
            return Err(MapError::inval(format!(
                "pop takes no flags on a {} (the kernel says EINVAL)",
                self.kind()
            )));
        }
        self.pop(value_out)
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

    fn update_on_cpu(
        &self,
        _key: &[u8],
        value: &[u8],
        flags: u64,
        _cpu: usize,
    ) -> Result<(), MapError> {
        self.push(value, flags)
    }

    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }

    fn len(&self) -> usize {
        self.items().len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
