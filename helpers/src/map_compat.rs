//! Which maps each helper accepts, both ways: the kernel's
//! `check_map_func_compatibility`. Some map types may only be passed to
//! certain helpers (a `prog_array` only to `bpf_tail_call`), and some
//! helpers only take certain map types (`bpf_redirect_map` a devmap,
//! cpumap or xskmap). [`check`] answers for a map type, a helper and a
//! program type with the kernel's message.
//!
//! Map types are the kernel's numbers as ironbpf-maps names them
//! (`ironbpf_maps::BPF_MAP_TYPE_*`, [`ironbpf_maps::map_type_name`]), with
//! [`MapType`] naming each.

use crate::catalog;
use ironbpf_progtype::{AttachType, ProgTypeId};

/// `enum bpf_map_type` of Linux 6.18 (ironbpf-maps keeps them as numbers;
/// this names them for the table below).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum MapType {
    Unspec = 0,
    Hash,
    Array,
    ProgArray,
    PerfEventArray,
    PercpuHash,
    PercpuArray,
    StackTrace,
    CgroupArray,
    LruHash,
    LruPercpuHash,
    LpmTrie,
    ArrayOfMaps,
    HashOfMaps,
    Devmap,
    Sockmap,
    Cpumap,
    Xskmap,
    Sockhash,
    CgroupStorage,
    ReuseportSockarray,
    PercpuCgroupStorage,
    Queue,
    Stack,
    SkStorage,
    DevmapHash,
    StructOps,
    Ringbuf,
    InodeStorage,
    TaskStorage,
    BloomFilter,
    UserRingbuf,
    CgrpStorage,
    Arena,
}

impl MapType {
    /// Every map type, in the kernel's order.
    pub const ALL: [MapType; 34] = {
        use MapType::*;
        [
            Unspec,
            Hash,
            Array,
            ProgArray,
            PerfEventArray,
            PercpuHash,
            PercpuArray,
            StackTrace,
            CgroupArray,
            LruHash,
            LruPercpuHash,
            LpmTrie,
            ArrayOfMaps,
            HashOfMaps,
            Devmap,
            Sockmap,
            Cpumap,
            Xskmap,
            Sockhash,
            CgroupStorage,
            ReuseportSockarray,
            PercpuCgroupStorage,
            Queue,
            Stack,
            SkStorage,
            DevmapHash,
            StructOps,
            Ringbuf,
            InodeStorage,
            TaskStorage,
            BloomFilter,
            UserRingbuf,
            CgrpStorage,
            Arena,
        ]
    };

    /// The kernel's number (`BPF_MAP_TYPE_*`).
    pub const fn kernel_id(self) -> u32 {
        self as u32
    }

    /// The map type with this kernel number.
    pub fn from_kernel_id(id: u32) -> Option<MapType> {
        Self::ALL.get(id as usize).copied()
    }

    /// The kernel's lower-case name (`"prog_array"`).
    pub fn name(self) -> &'static str {
        ironbpf_maps::map_type_name(self.kernel_id())
    }
}

/// The helpers a map of this type may be passed to, when the kernel
/// restricts it (`None`: any helper that takes a map).
#[rustfmt::skip]
pub fn helpers_of_map(map: MapType) -> Option<&'static [&'static str]> {
    use MapType::*;
    Some(match map {
        ProgArray => &["tail_call"],
        PerfEventArray => &["perf_event_read", "perf_event_output", "perf_event_read_value", "skb_output", "xdp_output"],
        Ringbuf => &["ringbuf_output", "ringbuf_reserve", "ringbuf_query", "ringbuf_reserve_dynptr", "ringbuf_submit_dynptr", "ringbuf_discard_dynptr"],
        UserRingbuf => &["user_ringbuf_drain"],
        StackTrace => &["get_stackid"],
        CgroupArray => &["skb_under_cgroup", "current_task_under_cgroup"],
        CgroupStorage | PercpuCgroupStorage => &["get_local_storage"],
        Devmap | DevmapHash => &["redirect_map", "map_lookup_elem"],
        Cpumap => &["redirect_map"],
        Xskmap => &["redirect_map", "map_lookup_elem"],
        ArrayOfMaps | HashOfMaps => &["map_lookup_elem"],
        Sockmap => &["sk_redirect_map", "sock_map_update", "msg_redirect_map", "sk_select_reuseport", "map_lookup_elem", "map_update_elem", "map_delete_elem"],
        Sockhash => &["sk_redirect_hash", "sock_hash_update", "msg_redirect_hash", "sk_select_reuseport", "map_lookup_elem", "map_update_elem", "map_delete_elem"],
        ReuseportSockarray => &["sk_select_reuseport"],
        Queue | Stack => &["map_peek_elem", "map_pop_elem", "map_push_elem"],
        SkStorage => &["sk_storage_get", "sk_storage_delete", "kptr_xchg"],
        InodeStorage => &["inode_storage_get", "inode_storage_delete", "kptr_xchg"],
        TaskStorage => &["task_storage_get", "task_storage_delete", "kptr_xchg"],
        CgrpStorage => &["cgrp_storage_get", "cgrp_storage_delete", "kptr_xchg"],
        BloomFilter => &["map_peek_elem", "map_push_elem"],
        _ => return None,
    })
}

/// The map types a helper accepts, when the kernel restricts them (`None`:
/// any map type that lets itself be passed to the helper).
#[rustfmt::skip]
pub fn maps_of_helper(helper: &str) -> Option<&'static [MapType]> {
    use MapType::*;
    let helper = helper.strip_prefix("bpf_").unwrap_or(helper);
    Some(match helper {
        "tail_call" => &[ProgArray],
        "perf_event_read" | "perf_event_output" | "perf_event_read_value" | "skb_output" | "xdp_output" => &[PerfEventArray],
        "ringbuf_output" | "ringbuf_reserve" | "ringbuf_query" | "ringbuf_reserve_dynptr" | "ringbuf_submit_dynptr" | "ringbuf_discard_dynptr" => &[Ringbuf],
        "user_ringbuf_drain" => &[UserRingbuf],
        "get_stackid" => &[StackTrace],
        "current_task_under_cgroup" | "skb_under_cgroup" => &[CgroupArray],
        "redirect_map" => &[Devmap, DevmapHash, Cpumap, Xskmap],
        "sk_redirect_map" | "msg_redirect_map" | "sock_map_update" => &[Sockmap],
        "sk_redirect_hash" | "msg_redirect_hash" | "sock_hash_update" => &[Sockhash],
        "get_local_storage" => &[CgroupStorage, PercpuCgroupStorage],
        "sk_select_reuseport" => &[ReuseportSockarray, Sockmap, Sockhash],
        "map_pop_elem" => &[Queue, Stack],
        "map_peek_elem" | "map_push_elem" => &[Queue, Stack, BloomFilter],
        "map_lookup_percpu_elem" => &[PercpuArray, PercpuHash, LruPercpuHash],
        "sk_storage_get" | "sk_storage_delete" => &[SkStorage],
        "inode_storage_get" | "inode_storage_delete" => &[InodeStorage],
        "task_storage_get" | "task_storage_delete" => &[TaskStorage],
        "cgrp_storage_get" | "cgrp_storage_delete" => &[CgrpStorage],
        _ => return None,
    })
}

/// `may_update_sockmap`: whether a program of this type may update or
/// delete sockmap and sockhash elements with the generic map helpers.
pub fn may_update_sockmap(prog_type: ProgTypeId, attach: Option<AttachType>, helper: &str) -> bool {
    use ProgTypeId as P;
    let helper = helper.strip_prefix("bpf_").unwrap_or(helper);
    if helper != "map_update_elem" && helper != "map_delete_elem" {
        return false;
    }
    match prog_type {
        P::Tracing => attach == Some(AttachType::TraceIter),
        P::SockOps => helper == "map_delete_elem",
        P::SocketFilter
        | P::SchedCls
        | P::SchedAct
        | P::Xdp
        | P::SkReuseport
        | P::FlowDissector
        | P::SkLookup => true,
        _ => false,
    }
}

/// Why a map may not be passed to a helper.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapRefusal {
    /// The map type and the helper do not go together.
    #[error("cannot pass map_type {map_type} into func {helper}#{id}")]
    Incompatible {
        /// The map's kernel type number.
        map_type: u32,
        /// `bpf_` and the helper's name.
        helper: &'static str,
        /// The helper's id.
        id: u32,
    },
    /// A sockmap or sockhash changed from a program type that may not.
    #[error("cannot update sockmap in this context")]
    SockmapUpdate,
}

/// Whether a map of kernel type `map_type` may be passed to helper
/// `helper_id` from a program of type `prog_type` (attached as
/// `attach`), as `check_map_func_compatibility` decides; the refusal has
/// the kernel's message. Helpers the kernel does not have pass (their calls
/// are refused before this check).
///
/// ```
/// use ironbpf_helpers::map_compat::check;
/// use ironbpf_progtype::ProgTypeId;
/// // A prog_array can only go to bpf_tail_call.
/// let e = check(ProgTypeId::Xdp, None, 3, 1).unwrap_err();
/// assert_eq!(e.to_string(), "cannot pass map_type 3 into func bpf_map_lookup_elem#1");
/// assert!(check(ProgTypeId::Xdp, None, 3, 12).is_ok());
/// ```
pub fn check(
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
    map_type: u32,
    helper_id: u32,
) -> Result<(), MapRefusal> {
    let Some(def) = catalog::helper(helper_id) else {
        return Ok(());
    };
    let refuse = || MapRefusal::Incompatible {
        map_type,
        helper: def.kernel_name(),
        id: def.id,
    };
    let map = MapType::from_kernel_id(map_type).ok_or_else(refuse)?;
    if let Some(helpers) = helpers_of_map(map) {
        if !helpers.contains(&def.name) {
            return Err(refuse());
        }
        if matches!(map, MapType::Sockmap | MapType::Sockhash)
            && matches!(def.name, "map_update_elem" | "map_delete_elem")
            && !may_update_sockmap(prog_type, attach, def.name)
        {
            // The kernel logs both lines; the second is the refusal.
            return Err(MapRefusal::SockmapUpdate);
        }
    }
    if let Some(maps) = maps_of_helper(def.name) {
        if !maps.contains(&map) {
            return Err(refuse());
        }
    }
    Ok(())
}

/// Why a map may not be used by a program at all, whatever it passes the
/// map to (`check_map_prog_compatibility`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapProgRefusal {
    /// A sleepable program referring to a map type whose elements may be
    /// freed while it sleeps.
    #[error("Sleepable programs can only use array, hash, ringbuf and local storage maps")]
    Sleepable {
        /// The map's kernel type number.
        map_type: u32,
    },
}

/// The map types a sleepable program may refer to in Linux 6.18 (each
/// other type was loaded in a `BPF_F_SLEEPABLE` syscall program and
/// refused; a prog_array became usable only after 6.18).
pub const SLEEPABLE_MAPS: &[MapType] = {
    use MapType::*;
    &[
        Hash,
        LruHash,
        Array,
        PercpuHash,
        PercpuArray,
        LruPercpuHash,
        ArrayOfMaps,
        HashOfMaps,
        Ringbuf,
        UserRingbuf,
        InodeStorage,
        SkStorage,
        TaskStorage,
        CgrpStorage,
        Queue,
        Stack,
        Arena,
    ]
};

/// Whether a program (`BPF_F_SLEEPABLE` or not) may refer to a map of
/// kernel type `map_type` at all, as `check_map_prog_compatibility`
/// decides when an `ld_imm64` names the map; the refusal has the kernel's
/// message.
///
/// ```
/// use ironbpf_helpers::map_compat::check_prog;
/// // A sleepable program may not use a prog_array.
/// let e = check_prog(3, true).unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "Sleepable programs can only use array, hash, ringbuf and local storage maps"
/// );
/// assert!(check_prog(3, false).is_ok());
/// assert!(check_prog(2, true).is_ok());
/// ```
pub fn check_prog(map_type: u32, sleepable: bool) -> Result<(), MapProgRefusal> {
    let allowed = MapType::from_kernel_id(map_type).is_some_and(|m| SLEEPABLE_MAPS.contains(&m));
    if sleepable && !allowed {
        return Err(MapProgRefusal::Sleepable { map_type });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_types_round_trip_and_name() {
        for t in MapType::ALL {
            assert_eq!(MapType::from_kernel_id(t.kernel_id()), Some(t));
        }
        assert_eq!(MapType::Arena.kernel_id(), 33);
        assert_eq!(MapType::ProgArray.name(), "prog_array");
        assert_eq!(MapType::from_kernel_id(34), None);
    }

    #[test]
    fn both_directions_agree() {
        // Whenever a helper lists the map types it takes and such a map type
        // lists the helpers it goes to, each must name the other.
        for t in MapType::ALL {
            let Some(hs) = helpers_of_map(t) else {
                continue;
            };
            for h in hs {
                if let Some(ms) = maps_of_helper(h) {
                    assert!(ms.contains(&t), "{h} does not take {t:?}");
                }
            }
        }
        for def in catalog::HELPERS {
            let Some(ms) = maps_of_helper(def.name) else {
                continue;
            };
            for &m in ms {
                if let Some(hs) = helpers_of_map(m) {
                    assert!(hs.contains(&def.name), "{m:?} does not go to {}", def.name);
                }
            }
        }
    }

    #[test]
    fn sockmap_updates_depend_on_the_program_type() {
        let upd = 2;
        assert!(check(ProgTypeId::SchedCls, None, MapType::Sockmap as u32, upd).is_ok());
        assert_eq!(
            check(ProgTypeId::SockOps, None, MapType::Sockmap as u32, upd),
            Err(MapRefusal::SockmapUpdate)
        );
        assert!(check(ProgTypeId::SockOps, None, MapType::Sockhash as u32, 3).is_ok());
        assert!(check(ProgTypeId::Kprobe, None, MapType::Hash as u32, upd).is_ok());
        assert!(check(ProgTypeId::Kprobe, None, MapType::Hash as u32, 195).is_err());
    }
}
