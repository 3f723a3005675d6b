//! The map helpers, as programs call them: `bpf_map_lookup_elem` (1),
//! `bpf_map_update_elem` (2), `bpf_map_delete_elem` (3),
//! `bpf_map_push_elem` (87), `bpf_map_pop_elem` (88) and
//! `bpf_map_peek_elem` (89), on the maps of one [`MapSet`], which programs
//! name by handle ([`MapSet::handle`]).
//!
//! Results follow the kernel's helpers: a value pointer or NULL from a
//! lookup, 0 or a negative errno from the others (the same errnos as the
//! maps' host operations, which `ironbpf-maps` checks against the kernel).

use crate::abi::{HelperCtx, HelperError, HelperRegistry};
use ironbpf_maps::{Map, MapSet};
use std::sync::Arc;

/// The CPU slot a program's per-CPU lookups use: engines run a program on
/// one thread, which is slot 0 until engines assign slots per thread.
const CPU: usize = 0;

fn map_of(maps: &MapSet, handle: u64) -> Result<Arc<dyn Map>, HelperError> {
    maps.by_handle(handle).ok_or_else(|| {
        HelperError::Failed(format!("r1 = {handle:#x} is not a map of this program"))
    })
}

fn errno(e: ironbpf_maps::MapError) -> u64 {
    (-(e.errno as i64)) as u64
}

/// Registers the map helpers for the maps of `maps`.
pub fn register_map_helpers(reg: &mut HelperRegistry, maps: Arc<MapSet>) {
    let m = maps.clone();
    reg.register_fn(
        1,
        "bpf_map_lookup_elem",
        move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&m, a[0])?;
            let key = ctx.read(a[1], map.spec().key_size as u64)?;
            // The guard covers the lookup; a value's slot is reused only after
            // an epoch passes, and stays inside the map's region meanwhile.
            let guard = ironbpf_maps::pin();
            Ok(map
                .lookup_ptr(&key, CPU, &guard)
                .map_or(0, |p| p.as_ptr() as u64))
        },
    );
    let m = maps.clone();
    reg.register_fn(
        2,
        "bpf_map_update_elem",
        move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&m, a[0])?;
            let key = ctx.read(a[1], map.spec().key_size as u64)?;
            let value = ctx.read(a[2], map.spec().value_size as u64)?;
            Ok(match map.update_on_cpu(&key, &value, a[3], CPU) {
                Ok(()) => 0,
                Err(e) => errno(e),
            })
        },
    );
    let m = maps.clone();
    reg.register_fn(
        3,
        "bpf_map_delete_elem",
        move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&m, a[0])?;
            let key = ctx.read(a[1], map.spec().key_size as u64)?;
            Ok(match map.delete(&key) {
                Ok(()) => 0,
                Err(e) => errno(e),
            })
        },
    );
    let m = maps.clone();
    reg.register_fn(
        87,
        "bpf_map_push_elem",
        move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&m, a[0])?;
            let value = ctx.read(a[1], map.spec().value_size as u64)?;
            Ok(match map.update(&[], &value, a[2]) {
                Ok(()) => 0,
                Err(e) => errno(e),
            })
        },
    );
    for (id, name, pop) in [
        (88, "bpf_map_pop_elem", true),
        (89, "bpf_map_peek_elem", false),
    ] {
        let m = maps.clone();
        reg.register_fn(id, name, move |ctx: &mut HelperCtx<'_>, a| {
            let map = map_of(&m, a[0])?;
            let mut value = vec![0u8; map.spec().value_size as usize];
            let r = if pop {
                map.lookup_and_delete(&[], &mut value, 0)
            } else {
                map.lookup(&[], &mut value, 0)
            };
            // An empty queue or stack zeroes the program's buffer, as
            // the kernel's queue_stack_map_get_elem does.
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
}
