//! The map helpers, as programs call them: lookups, updates, deletes,
//! queue and stack operations, ring buffers, perf event output, tail calls,
//! `bpf_for_each_map_elem` and `bpf_redirect_map`, on the maps of the
//! run's [`MapSet`], which programs name by handle ([`MapSet::handle`],
//! what the engine's `ld_imm64` of a map reference loads).
//!
//! Results follow the kernel's helpers: a value pointer or NULL from a
//! lookup, 0 or a negative errno from the others (the same errnos as the
//! maps' host operations, which `ironbpf-maps` checks against the kernel).

use crate::abi::errno::{neg, EFAULT, EINVAL};
use crate::abi::{HelperCtx, HelperError, HelperRegistry, Redirect, TailCall};
use crate::net::{BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS, XDP_ABORTED, XDP_REDIRECT};
use crate::table::def;
use ironbpf_isa::abi::{MemoryRegion, RegionKind};
use ironbpf_maps::{FdMap, Map, MapSet, PerfEventArray, RingBuf};
use std::ptr::NonNull;
use std::sync::Arc;

/// `MAX_TAIL_CALL_CNT`: the most tail calls one run takes.
pub const MAX_TAIL_CALL_CNT: u32 = 33;
const BPF_F_CTXLEN_MASK: u64 = 0xfffff << 32;
const BPF_F_INDEX_MASK: u64 = 0xffff_ffff;
const BPF_MAP_TYPE_DEVMAP: u32 = 14;
const BPF_MAP_TYPE_CPUMAP: u32 = 16;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_MAP_TYPE_DEVMAP_HASH: u32 = 25;

fn map_in(maps: &MapSet, handle: u64) -> Result<Arc<dyn Map>, HelperError> {
    maps.by_handle(handle).ok_or_else(|| {
        HelperError::Failed(format!("r1 = {handle:#x} is not a map of this program"))
    })
}

fn map_of(ctx: &HelperCtx<'_>, handle: u64) -> Result<Arc<dyn Map>, HelperError> {
    map_in(ctx.maps()?, handle)
}

/// The id in the run's set of the map `handle` names.
fn map_id_of(ctx: &HelperCtx<'_>, handle: u64) -> Result<u32, HelperError> {
    ctx.maps()?.id_of(handle).ok_or_else(|| {
        HelperError::Failed(format!("r1 = {handle:#x} is not a map of this program"))
    })
}

fn errno(e: ironbpf_maps::MapError) -> u64 {
    neg(e.errno as i64)
}

fn cpu(ctx: &HelperCtx<'_>) -> usize {
    ctx.state_ref().map_or(0, |s| s.cpu as usize)
}

fn ringbuf(map: &dyn Map) -> Result<&RingBuf, HelperError> {
    map.as_any().downcast_ref::<RingBuf>().ok_or_else(|| {
        HelperError::Failed(format!("map {:?} is not a ring buffer", map.spec().name))
    })
}

/// The map helpers, reading the maps through `maps` of each call's
/// [`HelperCtx`], or through `fixed` when given.
fn register_with(reg: &mut HelperRegistry, fixed: Option<Arc<MapSet>>) {
    fn map(
        fixed: &Option<Arc<MapSet>>,
        ctx: &HelperCtx<'_>,
        h: u64,
    ) -> Result<Arc<dyn Map>, HelperError> {
        match fixed {
            Some(set) => map_in(set, h),
            None => map_of(ctx, h),
        }
    }
    let f = fixed.clone();
    def(reg, "map_lookup_elem", move |ctx, a| {
        let map = map(&f, ctx, a[0])?;
        let key = ctx.read(a[1], map.spec().key_size as u64)?;
        if matches!(
            map.spec().map_type,
            ironbpf_maps::BPF_MAP_TYPE_ARRAY_OF_MAPS | ironbpf_maps::BPF_MAP_TYPE_HASH_OF_MAPS
        ) {
            // A map of maps gives the inner map: the slot holds its id in
            // the program's map set, and the program gets its handle.
            let set = match &f {
                Some(set) => set.as_ref(),
                None => ctx.maps()?,
            };
            let mut id = [0u8; 4];
            return Ok(match map.lookup(&key, &mut id, 0) {
                Ok(()) => {
                    let id = u32::from_ne_bytes(id);
                    set.handle(id).unwrap_or(0)
                }
                Err(_) => 0,
            });
        }
        // The guard covers the lookup; a value's slot is reused only after
        // an epoch passes, and stays inside the map's region meanwhile.
        let guard = ironbpf_maps::pin();
        Ok(map
            .lookup_ptr(&key, cpu(ctx), &guard)
            .map_or(0, |p| p.as_ptr() as u64))
    });
    let f = fixed.clone();
    def(reg, "map_update_elem", move |ctx, a| {
        let map = map(&f, ctx, a[0])?;
        let key = ctx.read(a[1], map.spec().key_size as u64)?;
        let value = ctx.read(a[2], map.spec().value_size as u64)?;
        Ok(match map.update_on_cpu(&key, &value, a[3], cpu(ctx)) {
            Ok(()) => 0,
            Err(e) => errno(e),
        })
    });
    let f = fixed.clone();
    def(reg, "map_delete_elem", move |ctx, a| {
        let map = map(&f, ctx, a[0])?;
        let key = ctx.read(a[1], map.spec().key_size as u64)?;
        Ok(match map.delete(&key) {
            Ok(()) => 0,
            Err(e) => errno(e),
        })
    });
    let f = fixed.clone();
    def(reg, "map_push_elem", move |ctx, a| {
        let map = map(&f, ctx, a[0])?;
        let value = ctx.read(a[1], map.spec().value_size as u64)?;
        Ok(match map.update(&[], &value, a[2]) {
            Ok(()) => 0,
            Err(e) => errno(e),
        })
    });
    for (name, pop) in [("map_pop_elem", true), ("map_peek_elem", false)] {
        let f = fixed.clone();
        def(reg, name, move |ctx, a| {
            let map = map(&f, ctx, a[0])?;
            let mut value = vec![0u8; map.spec().value_size as usize];
            let r = if pop {
                map.lookup_and_delete(&[], &mut value, 0)
            } else {
                map.lookup(&[], &mut value, 0)
            };
            // An empty queue or stack zeroes the program's buffer, as the
            // kernel's queue_stack_map_get_elem does.
            let ret = match r {
                Ok(()) => 0,
                Err(e) => {
                    value.fill(0);
                    errno(e)
                }
            };
            ctx.write(a[1], &value)?;
            Ok(ret)
        });
    }
    let f = fixed.clone();
    def(reg, "map_lookup_percpu_elem", move |ctx, a| {
        let map = map(&f, ctx, a[0])?;
        let key = ctx.read(a[1], map.spec().key_size as u64)?;
        let cpu = a[2] as u32 as usize;
        if cpu >= map.possible_cpus() {
            return Ok(0);
        }
        let guard = ironbpf_maps::pin();
        Ok(map
            .lookup_ptr(&key, cpu, &guard)
            .map_or(0, |p| p.as_ptr() as u64))
    });
}

/// Registers the map helpers bound to the maps of `maps`, whatever set
/// the engine gives (for engines that give none).
pub fn register_map_helpers(reg: &mut HelperRegistry, maps: Arc<MapSet>) {
    register_with(reg, Some(maps));
}

/// The ring buffer of the run's maps that handed out `sample`.
fn ring_of(ctx: &HelperCtx<'_>, sample: u64) -> Result<Arc<dyn Map>, HelperError> {
    let maps = ctx.maps()?;
    let p = NonNull::new(sample as *mut u8)
        .ok_or_else(|| HelperError::Failed("the record pointer is NULL".into()))?;
    (0..maps.len() as u32)
        .filter_map(|i| maps.get(i))
        .find(|m| {
            m.as_any()
                .downcast_ref::<RingBuf>()
                .is_some_and(|r| r.owns(p) && r.record_region(sample, 1).is_some())
        })
        .ok_or_else(|| {
            HelperError::Failed(format!(
                "{sample:#x} is no reserved ring buffer record of this program's maps"
            ))
        })
}

pub(crate) fn register(reg: &mut HelperRegistry) {
    register_with(reg, None);

    // Ring buffers.
    def(reg, "ringbuf_output", |ctx, a| {
        let map = map_of(ctx, a[0])?;
        let data = ctx.read(a[1], a[2])?;
        Ok(match ringbuf(map.as_ref())?.output(&data, a[3]) {
            Ok(()) => 0,
            Err(e) => errno(e),
        })
    });
    def(reg, "ringbuf_reserve", |ctx, a| {
        let map = map_of(ctx, a[0])?;
        Ok(ringbuf(map.as_ref())?
            .reserve(a[1], a[2])
            .map_or(0, |p| p.as_ptr() as u64))
    });
    for (name, discard) in [("ringbuf_submit", false), ("ringbuf_discard", true)] {
        def(reg, name, move |ctx, a| {
            let map = ring_of(ctx, a[0])?;
            let ring = ringbuf(map.as_ref())?;
            let p = NonNull::new(a[0] as *mut u8).ok_or_else(|| {
                HelperError::Failed("r1 is NULL, not a ring buffer record".into())
            })?;
            if discard {
                ring.discard(p, a[1]);
            } else {
                ring.submit(p, a[1]);
            }
            Ok(0)
        });
    }
    def(reg, "ringbuf_query", |ctx, a| {
        let map = map_of(ctx, a[0])?;
        Ok(ringbuf(map.as_ref())?.query(a[1]))
    });

    // Perf event output: networking programs may append packet bytes.
    def(reg, "perf_event_output", |ctx, a| {
        let (map, flags, data, size) = (map_of(ctx, a[1])?, a[2], a[3], a[4]);
        let perf = map
            .as_any()
            .downcast_ref::<PerfEventArray>()
            .ok_or_else(|| {
                HelperError::Failed(format!(
                    "map {:?} is not a perf event array",
                    map.spec().name
                ))
            })?;
        let mut record = ctx.read(data, size)?;
        let net = ctx
            .state_ref()
            .is_some_and(|s| s.is(crate::proto::progs::NET));
        let ctx_len = (flags & BPF_F_CTXLEN_MASK) >> 32;
        if !net && flags & !BPF_F_INDEX_MASK != 0 {
            return Ok(neg(EINVAL));
        }
        if net && ctx_len > 0 {
            if flags & !(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK) != 0 {
                return Ok(neg(EINVAL));
            }
            let Ok(p) = crate::net::packet(ctx) else {
                return Ok(neg(EFAULT));
            };
            if ctx_len > p.len() {
                return Ok(neg(EFAULT));
            }
            let mut bytes = vec![0u8; ctx_len as usize];
            // SAFETY: the engine guarantees the packet's bytes are live.
            unsafe { std::ptr::copy(p.data as *const u8, bytes.as_mut_ptr(), bytes.len()) };
            record.extend_from_slice(&bytes);
        }
        let cpu = cpu(ctx) as u32;
        Ok(
            match perf.output(flags & !BPF_F_CTXLEN_MASK, cpu, &record) {
                Ok(()) => 0,
                Err(e) => errno(e),
            },
        )
    });

    // Tail calls: the engine runs the program in place of this one.
    def(reg, "tail_call", |ctx, a| {
        let (prog_ctx, map, index) = (a[0], map_of(ctx, a[1])?, a[2] as u32);
        let progs = map.as_any().downcast_ref::<FdMap>().ok_or_else(|| {
            HelperError::Failed(format!("map {:?} is not a program array", map.spec().name))
        })?;
        if index >= map.spec().max_entries {
            return Ok(0);
        }
        let st = ctx.state()?;
        if st.tail_call_cnt >= MAX_TAIL_CALL_CNT {
            return Ok(0);
        }
        st.tail_call_cnt += 1;
        let Some(prog) = progs.object(&index.to_ne_bytes()) else {
            return Ok(0);
        };
        st.tail_call = Some(TailCall {
            prog,
            ctx: prog_ctx,
        });
        Err(HelperError::TailCall)
    });

    // Every element of a map, through a callback.
    def(reg, "for_each_map_elem", |ctx, a| {
        let (handle, func, cb_ctx, flags) = (a[0], a[1], a[2], a[3]);
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        let map = map_of(ctx, handle)?;
        let spec = map.spec().clone();
        use ironbpf_maps::*;
        let cpu = cpu(ctx);
        let keys: Vec<Vec<u8>> = match spec.map_type {
            BPF_MAP_TYPE_ARRAY | BPF_MAP_TYPE_PERCPU_ARRAY => (0..spec.max_entries)
                .map(|i| i.to_ne_bytes().to_vec())
                .collect(),
            BPF_MAP_TYPE_HASH
            | BPF_MAP_TYPE_PERCPU_HASH
            | BPF_MAP_TYPE_LRU_HASH
            | BPF_MAP_TYPE_LRU_PERCPU_HASH => {
                // The keys present now; elements the callback deletes are
                // skipped, elements it adds are not visited.
                let mut keys = Vec::new();
                let mut key = vec![0u8; spec.key_size as usize];
                let mut prev: Option<Vec<u8>> = None;
                while keys.len() < spec.max_entries as usize
                    && map.get_next_key(prev.as_deref(), &mut key).is_ok()
                {
                    keys.push(key.clone());
                    prev = Some(key.clone());
                }
                keys
            }
            t => {
                return Err(HelperError::Failed(format!(
                    "a {} map cannot be walked by bpf_for_each_map_elem (the kernel's verifier refuses it)",
                    map_type_name(t)
                )))
            }
        };
        let mut n = 0u64;
        for key in keys {
            let guard = ironbpf_maps::pin();
            let Some(value) = map.lookup_ptr(&key, cpu, &guard) else {
                continue;
            };
            n += 1;
            // The key is the callback's to read, as the kernel's
            // PTR_TO_MAP_KEY.
            let region = MemoryRegion {
                start: key.as_ptr() as u64,
                len: key.len() as u64,
                kind: RegionKind::HelperMemory,
                writable: false,
            };
            let ret = ctx.call_function(
                func,
                [handle, region.start, value.as_ptr() as u64, cb_ctx, 0],
                Some(region),
            )?;
            if ret != 0 {
                break;
            }
        }
        Ok(n)
    });

    // XDP's redirect through a map: devmap, devmap_hash, cpumap and xskmap
    // as the kernel's map_redirect ops (ironbpf-maps' redirect_map:
    // BPF_F_BROADCAST and BPF_F_EXCLUDE_INGRESS on devmaps only, the
    // flags' action for an empty slot); any other map whose key is present
    // (the kernel's verifier refuses those calls).
    def(reg, "redirect_map", |ctx, a| {
        let (map, key, flags) = (map_of(ctx, a[0])?, a[1] as u32, a[2]);
        if matches!(
            map.spec().map_type,
            BPF_MAP_TYPE_DEVMAP
                | BPF_MAP_TYPE_DEVMAP_HASH
                | BPF_MAP_TYPE_CPUMAP
                | BPF_MAP_TYPE_XSKMAP
        ) {
            let d = ironbpf_maps::redirect_map(map.as_ref(), a[1], flags)
                .map_err(|e| HelperError::Failed(format!("bpf_redirect_map: {e}")))?;
            let map_id = map_id_of(ctx, a[0])?;
            let st = ctx.state()?;
            st.redirect = d.redirect.then_some(Redirect::Map { map_id, key, flags });
            return Ok(d.action);
        }
        let action_mask = 3u64;
        if flags & !(action_mask | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS) != 0 {
            return Ok(XDP_ABORTED);
        }
        let k = key.to_ne_bytes();
        let present = if map.spec().key_size == 4 {
            match map.as_any().downcast_ref::<FdMap>() {
                Some(fd) => {
                    fd.object(&k).is_some() || {
                        let mut v = vec![0u8; map.value_size_user()];
                        map.lookup(&k, &mut v, 0).is_ok()
                    }
                }
                None => {
                    let guard = ironbpf_maps::pin();
                    map.lookup_ptr(&k, cpu(ctx), &guard).is_some()
                }
            }
        } else {
            false
        };
        let map_id = map_id_of(ctx, a[0])?;
        let st = ctx.state()?;
        if !present && flags & BPF_F_BROADCAST == 0 {
            st.redirect = None;
            return Ok(flags & action_mask);
        }
        st.redirect = Some(Redirect::Map { map_id, key, flags });
        Ok(XDP_REDIRECT)
    });
}
