//! The kernel's LRU replacement (`kernel/bpf/bpf_lru_list.c`), re-expressed
//! over node indices so that an LRU hash map evicts exactly when, and
//! exactly what, the kernel evicts for the same sequence of operations made
//! from the same CPU.
//!
//! Common LRU: one global list set (active, inactive, free) plus, per CPU, a
//! local free list and a local pending list; free nodes move to a CPU's
//! local free list `target_free` at a time, and when too few are free the
//! inactive list is shrunk (evicting elements whose reference bit is clear).
//! Per-CPU LRU (`BPF_F_NO_COMMON_LRU`): one list set per CPU with
//! `max_entries / ncpus` nodes each.

// Every index here is a node number below `n` (max_entries) or a list head
// below `n + 3 * nsets + 2 * ncpus`, the lengths `Lru::new` gives its
// vectors; `refs` has `n` entries. Checking each access would hide a broken
// list in a default value rather than find it.
#![allow(
    clippy::indexing_slicing,
    reason = "node and head indices are bounded by construction (see above)"
)]

use std::sync::atomic::{AtomicU8, Ordering};

const ACTIVE: usize = 0;
const INACTIVE: usize = 1;
const FREE: usize = 2;
const LOCAL_FREE_TARGET: u32 = 128;
const PERCPU_FREE_TARGET: u32 = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// On list set `l`'s list `t` (ACTIVE, INACTIVE or FREE).
    Global(usize, usize),
    LocalFree(usize),
    LocalPending(usize),
    /// Taken off every list (transiently, while being moved).
    Detached,
}

pub(crate) struct Lru {
    n: usize,
    prev: Vec<u32>,
    next: Vec<u32>,
    kind: Vec<Kind>,
    cpu: Vec<u32>,
    /// Per list set: active and inactive counts, and the inactive rotation cursor.
    counts: Vec<[u32; 2]>,
    nir: Vec<u32>,
    next_steal: Vec<usize>,
    percpu: bool,
    ncpus: usize,
    nr_scans: u32,
    target_free: u32,
}

impl Lru {
    /// Heads: list set `l` list `t` is `n + 3 l + t`; after the list sets,
    /// CPU `c`'s local free list and pending list.
    fn head(&self, l: usize, t: usize) -> u32 {
        (self.n + 3 * l + t) as u32
    }

    fn nsets(&self) -> usize {
        if self.percpu {
            self.ncpus
        } else {
            1
        }
    }

    fn local_free(&self, c: usize) -> u32 {
        (self.n + 3 * self.nsets() + 2 * c) as u32
    }

    fn local_pending(&self, c: usize) -> u32 {
        (self.n + 3 * self.nsets() + 2 * c + 1) as u32
    }

    pub(crate) fn new(nr: u32, ncpus: usize, percpu: bool) -> Self {
        let n = nr as usize;
        let nsets = if percpu { ncpus } else { 1 };
        let total = n + 3 * nsets + 2 * ncpus;
        let mut lru = Lru {
            n,
            prev: (0..total as u32).collect(),
            next: (0..total as u32).collect(),
            kind: vec![Kind::Detached; n],
            cpu: vec![0; n],
            counts: vec![[0, 0]; nsets],
            nir: Vec::new(),
            next_steal: (0..ncpus).collect(),
            percpu,
            ncpus,
            nr_scans: if percpu {
                PERCPU_FREE_TARGET
            } else {
                LOCAL_FREE_TARGET
            },
            target_free: ((nr as usize / ncpus) / 2).clamp(1, LOCAL_FREE_TARGET as usize) as u32,
        };
        lru.nir = (0..nsets).map(|l| lru.head(l, INACTIVE)).collect();
        if percpu {
            let per = (n / ncpus).max(1);
            let mut i = 0;
            'cpus: for c in 0..ncpus {
                loop {
                    if i >= n {
                        break 'cpus;
                    }
                    lru.cpu[i] = c as u32;
                    lru.kind[i] = Kind::Global(c, FREE);
                    let h = lru.head(c, FREE);
                    lru.add(i as u32, h);
                    i += 1;
                    if i % per == 0 {
                        break;
                    }
                }
            }
        } else {
            for i in 0..n {
                lru.kind[i] = Kind::Global(0, FREE);
                let h = lru.head(0, FREE);
                lru.add(i as u32, h);
            }
        }
        lru
    }

    fn unlink(&mut self, x: u32) {
        let (p, nx) = (self.prev[x as usize], self.next[x as usize]);
        self.next[p as usize] = nx;
        self.prev[nx as usize] = p;
    }

    /// Inserts `x` right after `head` (the kernel's `list_add`).
    fn add(&mut self, x: u32, head: u32) {
        let first = self.next[head as usize];
        self.next[x as usize] = first;
        self.prev[x as usize] = head;
        self.prev[first as usize] = x;
        self.next[head as usize] = x;
    }

    fn move_front(&mut self, x: u32, head: u32) {
        self.unlink(x);
        self.add(x, head);
    }

    fn is_ref(refs: &[AtomicU8], x: u32) -> bool {
        refs[x as usize].load(Ordering::Relaxed) != 0
    }

    fn clear_ref(refs: &[AtomicU8], x: u32) {
        refs[x as usize].store(0, Ordering::Relaxed);
    }

    fn count_dec(&mut self, k: Kind) {
        if let Kind::Global(l, t) = k {
            if t < 2 {
                self.counts[l][t] -= 1;
            }
        }
    }

    fn count_inc(&mut self, l: usize, t: usize) {
        if t < 2 {
            self.counts[l][t] += 1;
        }
    }

    /// `__bpf_lru_node_move`: within or between a set's global lists.
    fn node_move(&mut self, refs: &[AtomicU8], l: usize, x: u32, t: usize) {
        let k = self.kind[x as usize];
        if k != Kind::Global(l, t) {
            self.count_dec(k);
            self.count_inc(l, t);
            self.kind[x as usize] = Kind::Global(l, t);
        }
        Self::clear_ref(refs, x);
        if self.nir[l] == x {
            self.nir[l] = self.prev[x as usize];
        }
        let h = self.head(l, t);
        self.move_front(x, h);
    }

    /// `__bpf_lru_node_move_to_free`.
    fn move_to_free(&mut self, l: usize, x: u32, dest: u32, k: Kind) {
        if self.nir[l] == x {
            self.nir[l] = self.prev[x as usize];
        }
        self.count_dec(self.kind[x as usize]);
        self.kind[x as usize] = k;
        self.move_front(x, dest);
    }

    /// `__bpf_lru_node_move_in`: from a local pending list into set 0.
    fn move_in(&mut self, refs: &[AtomicU8], x: u32, t: usize) {
        self.count_inc(0, t);
        self.kind[x as usize] = Kind::Global(0, t);
        Self::clear_ref(refs, x);
        let h = self.head(0, t);
        self.move_front(x, h);
    }

    fn rotate_active(&mut self, refs: &[AtomicU8], l: usize) {
        let head = self.head(l, ACTIVE);
        let first = self.next[head as usize];
        let mut cur = self.prev[head as usize];
        let mut i = 0;
        while cur != head {
            let p = self.prev[cur as usize];
            let t = if Self::is_ref(refs, cur) {
                ACTIVE
            } else {
                INACTIVE
            };
            self.node_move(refs, l, cur, t);
            i += 1;
            if i == self.nr_scans || cur == first {
                break;
            }
            cur = p;
        }
    }

    fn rotate_inactive(&mut self, refs: &[AtomicU8], l: usize) {
        let head = self.head(l, INACTIVE);
        if self.next[head as usize] == head {
            return;
        }
        let mut last = self.next[self.nir[l] as usize];
        if last == head {
            last = self.next[last as usize];
        }
        let mut cur = self.nir[l];
        let mut next = cur;
        let mut i = 0;
        while i < self.nr_scans {
            if cur == head {
                cur = self.prev[cur as usize];
                continue;
            }
            next = self.prev[cur as usize];
            if Self::is_ref(refs, cur) {
                self.node_move(refs, l, cur, ACTIVE);
            }
            if cur == last {
                break;
            }
            cur = next;
            i += 1;
        }
        self.nir[l] = next;
    }

    fn rotate(&mut self, refs: &[AtomicU8], l: usize) {
        if self.counts[l][INACTIVE] < self.counts[l][ACTIVE] {
            self.rotate_active(refs, l);
        }
        self.rotate_inactive(refs, l);
    }

    fn shrink_inactive(
        &mut self,
        refs: &[AtomicU8],
        l: usize,
        tgt: u32,
        dest: u32,
        k: Kind,
        del: &mut dyn FnMut(u32) -> bool,
    ) -> u32 {
        let head = self.head(l, INACTIVE);
        let mut cur = self.prev[head as usize];
        let (mut shrunk, mut i) = (0, 0);
        while cur != head {
            let p = self.prev[cur as usize];
            if Self::is_ref(refs, cur) {
                self.node_move(refs, l, cur, ACTIVE);
            } else if del(cur) {
                self.move_to_free(l, cur, dest, k);
                shrunk += 1;
                if shrunk == tgt {
                    break;
                }
            }
            i += 1;
            if i == self.nr_scans {
                break;
            }
            cur = p;
        }
        shrunk
    }

    fn shrink(
        &mut self,
        refs: &[AtomicU8],
        l: usize,
        tgt: u32,
        dest: u32,
        k: Kind,
        del: &mut dyn FnMut(u32) -> bool,
    ) -> u32 {
        let n = self.shrink_inactive(refs, l, tgt, dest, k, del);
        if n > 0 {
            return n;
        }
        let ih = self.head(l, INACTIVE);
        let head = if self.next[ih as usize] != ih {
            ih
        } else {
            self.head(l, ACTIVE)
        };
        let mut cur = self.prev[head as usize];
        while cur != head {
            let p = self.prev[cur as usize];
            if del(cur) {
                self.move_to_free(l, cur, dest, k);
                return 1;
            }
            cur = p;
        }
        0
    }

    fn flush_pending(&mut self, refs: &[AtomicU8], c: usize) {
        let head = self.local_pending(c);
        let mut cur = self.prev[head as usize];
        while cur != head {
            let p = self.prev[cur as usize];
            let t = if Self::is_ref(refs, cur) {
                ACTIVE
            } else {
                INACTIVE
            };
            self.move_in(refs, cur, t);
            cur = p;
        }
    }

    fn pop_first(&mut self, head: u32) -> Option<u32> {
        let x = self.next[head as usize];
        if x == head {
            return None;
        }
        self.unlink(x);
        self.kind[x as usize] = Kind::Detached;
        Some(x)
    }

    fn pop_free_to_local(&mut self, refs: &[AtomicU8], c: usize, del: &mut dyn FnMut(u32) -> bool) {
        self.flush_pending(refs, c);
        self.rotate(refs, 0);
        // Harvest into a detached chain, then push each onto the local free
        // list, as the kernel does through a temporary list.
        let mut harvested = Vec::new();
        let fh = self.head(0, FREE);
        while (harvested.len() as u32) < self.target_free {
            let x = self.next[fh as usize];
            if x == fh {
                break;
            }
            if self.nir[0] == x {
                self.nir[0] = self.prev[x as usize];
            }
            self.unlink(x);
            self.kind[x as usize] = Kind::LocalFree(c);
            harvested.push(x);
        }
        let lf = self.local_free(c);
        let nfree = harvested.len() as u32;
        for &x in harvested.iter().rev() {
            self.add(x, lf);
        }
        if nfree < self.target_free {
            self.shrink(
                refs,
                0,
                self.target_free - nfree,
                lf,
                Kind::LocalFree(c),
                del,
            );
        }
    }

    fn add_pending(&mut self, refs: &[AtomicU8], c: usize, x: u32) {
        self.cpu[x as usize] = c as u32;
        self.kind[x as usize] = Kind::LocalPending(c);
        Self::clear_ref(refs, x);
        let h = self.local_pending(c);
        self.add(x, h);
    }

    fn pop_pending(
        &mut self,
        refs: &[AtomicU8],
        c: usize,
        del: &mut dyn FnMut(u32) -> bool,
    ) -> Option<u32> {
        let head = self.local_pending(c);
        for force in [false, true] {
            let mut cur = self.prev[head as usize];
            while cur != head {
                let p = self.prev[cur as usize];
                if (!Self::is_ref(refs, cur) || force) && del(cur) {
                    self.unlink(cur);
                    self.kind[cur as usize] = Kind::Detached;
                    return Some(cur);
                }
                cur = p;
            }
        }
        None
    }

    /// `bpf_lru_pop_free` on CPU `c`: a free node for a new element, evicting
    /// through `del` (which removes a node's element from the hash table and
    /// says whether it was there) when needed.
    pub(crate) fn pop_free(
        &mut self,
        refs: &[AtomicU8],
        c: usize,
        del: &mut dyn FnMut(u32) -> bool,
    ) -> Option<u32> {
        let c = c % self.ncpus;
        if self.percpu {
            self.rotate(refs, c);
            let fh = self.head(c, FREE);
            if self.next[fh as usize] == fh {
                self.shrink(refs, c, PERCPU_FREE_TARGET, fh, Kind::Global(c, FREE), del);
            }
            let x = self.next[fh as usize];
            if x == fh {
                return None;
            }
            Self::clear_ref(refs, x);
            self.cpu[x as usize] = c as u32;
            self.node_move(refs, c, x, INACTIVE);
            return Some(x);
        }
        let lf = self.local_free(c);
        let mut node = self.pop_first(lf);
        if node.is_none() {
            self.pop_free_to_local(refs, c, del);
            node = self.pop_first(lf);
        }
        if let Some(x) = node {
            self.add_pending(refs, c, x);
            return Some(x);
        }
        let first = self.next_steal[c];
        let mut steal = first;
        loop {
            let sf = self.local_free(steal);
            node = self.pop_first(sf);
            if node.is_none() {
                node = self.pop_pending(refs, steal, del);
            }
            steal = (steal + 1) % self.ncpus;
            if node.is_some() || steal == first {
                break;
            }
        }
        self.next_steal[c] = steal;
        let x = node?;
        self.add_pending(refs, c, x);
        Some(x)
    }

    /// `bpf_lru_push_free`: node `x`'s element is gone.
    pub(crate) fn push_free(&mut self, refs: &[AtomicU8], x: u32) {
        if self.percpu {
            let c = self.cpu[x as usize] as usize;
            self.node_move(refs, c, x, FREE);
            return;
        }
        if let Kind::LocalPending(c) = self.kind[x as usize] {
            self.unlink(x);
            self.kind[x as usize] = Kind::LocalFree(c);
            Self::clear_ref(refs, x);
            let h = self.local_free(c);
            self.add(x, h);
            return;
        }
        self.node_move(refs, 0, x, FREE);
    }
}
