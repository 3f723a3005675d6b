//! `BPF_MAP_TYPE_SOCKMAP` and `BPF_MAP_TYPE_SOCKHASH`: sockets by index or
//! by key, with the kernel's creation checks and host semantics
//! (`net/core/sock_map.c`).
//!
//! From the host an update takes a socket fd of this process (a `u32` or
//! `u64` value) and refuses what the kernel refuses: `EINVAL` above
//! `S32_MAX`, `EBADF`/`ENOTSOCK` from the fd lookup, `EOPNOTSUPP` for a
//! socket whose protocol has no sockmap support (raw sockets, AF_PACKET,
//! ...) or for a TCP socket neither established nor listening. A lookup
//! reports the socket's cookie (`SO_COOKIE`) when the value is 8 bytes, and
//! `ENOSPC` when it is 4, as the kernel does.
//!
//! Departures: the socket is remembered by its inode and cookie; the kernel
//! drops the entry when the socket closes, ironbpf does not see the close.
//! A program's lookup yields no pointer (there is no `struct sock` in
//! userspace); [`SockMap::redirect`] gives the helpers
//! (`bpf_sk_redirect_map`, `bpf_msg_redirect_map`, and their hash forms)
//! the kernel's decision.
//!
//! A sockhash walks its keys in the kernel's order: buckets chosen by
//! `jhash(key, 0)` over `roundup_pow_of_two(max_entries)` buckets, newest
//! first within a bucket.

use crate::bytes::{head, ne_u32, ne_u64, put};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::RwLock;

use crate::sock::{socket_of_fd, SockInfo, TCP_ESTABLISHED, TCP_LISTEN};
use crate::spec::{check_flags, exactly, nonzero};
use crate::*;

/// `bpf_sk_redirect_map`'s one flag: deliver to the socket's ingress.
pub const BPF_F_INGRESS: u64 = 1;
/// The verdicts of socket programs.
pub const SK_DROP: u64 = 0;
/// See [`SK_DROP`].
pub const SK_PASS: u64 = 1;

/// A socket held by a sockmap or sockhash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockEntry {
    /// The socket as it was when stored.
    pub sock: SockInfo,
    /// Whether a datagram or unix socket was connected when stored (the
    /// kernel's `TCP_ESTABLISHED` state of a non-TCP socket).
    pub connected: bool,
}

enum Table {
    Array(Vec<Option<SockEntry>>),
    Hash {
        n_buckets: u64,
        entries: BTreeMap<Vec<u8>, SockEntry>,
        buckets: BTreeMap<u64, Vec<Vec<u8>>>,
    },
}

/// A sockmap or a sockhash.
pub struct SockMap {
    spec: MapSpec,
    table: RwLock<Table>,
    access: Access,
}

/// `MAX_BPF_STACK`: a sockhash's largest key.
const MAX_BPF_STACK: u32 = 512;

impl SockMap {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        let hash = spec.map_type == BPF_MAP_TYPE_SOCKHASH;
        nonzero(spec, "max_entries", spec.max_entries)?;
        if hash {
            nonzero(spec, "key_size", spec.key_size)?;
        } else {
            exactly(spec, "key_size", spec.key_size, 4)?;
        }
        if spec.value_size != 4 && spec.value_size != 8 {
            return Err(MapError::inval(format!(
                "value_size {} is invalid for a {} map: it must be 4 or 8 (a socket fd) (the kernel says EINVAL)",
                spec.value_size,
                map_type_name(spec.map_type)
            )));
        }
        check_flags(spec, BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)?;
        let table = if hash {
            if spec.key_size > MAX_BPF_STACK {
                return Err(MapError::new(
                    libc::E2BIG,
                    format!(
                        "key_size {} is above MAX_BPF_STACK {MAX_BPF_STACK} (the kernel says E2BIG)",
                        spec.key_size
                    ),
                ));
            }
            let n_buckets = (spec.max_entries as u64).next_power_of_two();
            // bpf_shtab_bucket is 16 bytes; the count must fit U32_MAX / 16.
            if n_buckets > (u32::MAX / 16) as u64 {
                return Err(MapError::inval(format!(
                    "max_entries {} needs {n_buckets} buckets, more than the kernel allows (the kernel says EINVAL)",
                    spec.max_entries
                )));
            }
            Table::Hash {
                n_buckets,
                entries: BTreeMap::new(),
                buckets: BTreeMap::new(),
            }
        } else {
            Table::Array(vec![None; spec.max_entries as usize])
        };
        Ok(SockMap {
            spec: spec.clone(),
            table: RwLock::new(table),
            access: Access::new(spec.map_flags),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    fn key<'k>(&self, key: &'k [u8]) -> Result<&'k [u8], MapError> {
        check_len("key", key.len(), self.spec.key_size as usize)?;
        Ok(head(key, self.spec.key_size as usize))
    }

    fn bucket(n_buckets: u64, key: &[u8]) -> u64 {
        crate::bloom::jhash(key, 0) as u64 & (n_buckets - 1)
    }

    /// The socket stored under `key`.
    pub fn entry(&self, key: &[u8]) -> Option<SockEntry> {
        let key = self.key(key).ok()?;
        match &*self.read() {
            Table::Array(v) => *v.get(index_of(key).ok()? as usize)?,
            Table::Hash { entries, .. } => entries.get(key).copied(),
        }
    }

    /// `bpf_sk_redirect_map` / `bpf_msg_redirect_map` (and the `_hash`
    /// forms): `SK_DROP` for flags other than `BPF_F_INGRESS`, for an empty
    /// key, or for a socket that cannot receive a redirect (a listening TCP
    /// socket, an unconnected non-TCP one); otherwise `SK_PASS` and the
    /// socket to redirect to.
    pub fn redirect(&self, key: &[u8], flags: u64) -> (u64, Option<SockEntry>) {
        if flags & !BPF_F_INGRESS != 0 {
            return (SK_DROP, None);
        }
        match self.entry(key) {
            Some(e) => {
                let ok = match e.sock.tcp_state {
                    Some(s) => s != TCP_LISTEN,
                    None => e.connected,
                };
                if ok {
                    (SK_PASS, Some(e))
                } else {
                    (SK_DROP, None)
                }
            }
            None => (SK_DROP, None),
        }
    }

    /// Stores `entry` under `key` with the kernel's update checks after the
    /// socket was resolved (`sock_map_update_common` /
    /// `sock_hash_update_common`).
    fn store(&self, key: &[u8], entry: SockEntry, flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::inval(format!(
                "update flags {flags:#x}: only BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)"
            )));
        }
        let max = self.spec.max_entries;
        match &mut *self.write() {
            Table::Array(v) => {
                let i = index_of(key)?;
                if i >= max {
                    return Err(MapError::new(
                        libc::E2BIG,
                        format!("index {i} is past max_entries {max} (the kernel says E2BIG)"),
                    ));
                }
                let Some(slot) = v.get_mut(i as usize) else {
                    return Err(MapError::new(
                        libc::E2BIG,
                        format!("index {i} is past max_entries {max} (the kernel says E2BIG)"),
                    ));
                };
                if slot.is_some() && flags == BPF_NOEXIST {
                    return Err(MapError::new(
                        libc::EEXIST,
                        format!("index {i} holds a socket and the flag is BPF_NOEXIST (the kernel says EEXIST)"),
                    ));
                }
                if slot.is_none() && flags == BPF_EXIST {
                    return Err(MapError::noent(format!(
                        "index {i} is empty and the flag is BPF_EXIST (the kernel says ENOENT)"
                    )));
                }
                *slot = Some(entry);
            }
            Table::Hash {
                n_buckets,
                entries,
                buckets,
            } => {
                let present = entries.contains_key(key);
                if present && flags == BPF_NOEXIST {
                    return Err(MapError::new(
                        libc::EEXIST,
                        "the key is present and the flag is BPF_NOEXIST (the kernel says EEXIST)",
                    ));
                }
                if !present && flags == BPF_EXIST {
                    return Err(MapError::noent(
                        "the key is absent and the flag is BPF_EXIST (the kernel says ENOENT)",
                    ));
                }
                if !present && entries.len() >= max as usize {
                    return Err(MapError::new(
                        libc::E2BIG,
                        format!("the map is full: max_entries {max} (the kernel says E2BIG)"),
                    ));
                }
                let list = buckets.entry(Self::bucket(*n_buckets, key)).or_default();
                list.retain(|k| k != key);
                list.insert(0, key.to_vec());
                entries.insert(key.to_vec(), entry);
            }
        }
        Ok(())
    }
}

impl Map for SockMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let key = self.key(key)?;
        if self.spec.value_size != 8 {
            return Err(MapError::new(
                libc::ENOSPC,
                "a lookup gives the socket's 8-byte cookie, and this map's value_size is 4 (the kernel says ENOSPC)",
            ));
        }
        check_len("value", value_out.len(), 8)?;
        let e = self.entry(key).ok_or_else(|| {
            MapError::noent("no socket is stored under this key (the kernel says ENOENT)")
        })?;
        put(value_out, &e.sock.cookie.to_ne_bytes());
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        let key = self.key(key)?;
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        let ufd = if vs == 8 {
            ne_u64(value)
        } else {
            ne_u32(value) as u64
        };
        if ufd > i32::MAX as u64 {
            return Err(MapError::inval(format!(
                "socket fd {ufd} is above S32_MAX (the kernel says EINVAL)"
            )));
        }
        let sock = socket_of_fd(ufd as u32)?;
        if !sock.sockmap_suitable() {
            return Err(MapError::new(
                libc::EOPNOTSUPP,
                format!(
                    "fd {ufd} is a socket (family {}, type {}, protocol {}) that a {} cannot hold (the kernel says EOPNOTSUPP)",
                    sock.domain,
                    sock.sock_type,
                    sock.protocol,
                    map_type_name(self.spec.map_type)
                ),
            ));
        }
        if !sock.sockmap_state_allowed() {
            return Err(MapError::new(
                libc::EOPNOTSUPP,
                format!(
                    "fd {ufd} is a socket whose state a {} refuses: TCP must be established ({TCP_ESTABLISHED}) or listening ({TCP_LISTEN}) (this one: {:?}), UDP bound, unix and vsock streams connected (the kernel says EOPNOTSUPP)",
                    map_type_name(self.spec.map_type),
                    sock.tcp_state
                ),
            ));
        }
        let entry = SockEntry {
            sock,
            connected: sock.connected,
        };
        self.store(key, entry, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let key = self.key(key)?;
        let max = self.spec.max_entries;
        match &mut *self.write() {
            Table::Array(v) => {
                let i = index_of(key)?;
                if i >= max {
                    return Err(MapError::inval(format!(
                        "index {i} is past max_entries {max} (the kernel says EINVAL)"
                    )));
                }
                v.get_mut(i as usize)
                    .and_then(Option::take)
                    .map(|_| ())
                    .ok_or_else(|| {
                        MapError::inval(format!(
                            "index {i} holds no socket (the kernel says EINVAL)"
                        ))
                    })
            }
            Table::Hash {
                n_buckets,
                entries,
                buckets,
            } => {
                entries
                    .remove(key)
                    .ok_or_else(|| MapError::noent("the key is absent (the kernel says ENOENT)"))?;
                let b = Self::bucket(*n_buckets, key);
                if let Some(list) = buckets.get_mut(&b) {
                    list.retain(|k| k != key);
                    if list.is_empty() {
                        buckets.remove(&b);
                    }
                }
                Ok(())
            }
        }
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        let ks = self.spec.key_size as usize;
        check_len("next key", next_out.len(), ks)?;
        let max = self.spec.max_entries;
        match &*self.read() {
            Table::Array(_) => {
                let i = match key {
                    None => u32::MAX,
                    Some(k) => index_of(self.key(k)?)?,
                };
                if i == max - 1 {
                    return Err(MapError::noent(format!(
                        "index {i} is the last one (the kernel says ENOENT)"
                    )));
                }
                let next = if i >= max { 0 } else { i + 1 };
                put(next_out, &next.to_ne_bytes());
                Ok(())
            }
            Table::Hash {
                n_buckets,
                entries,
                buckets,
            } => {
                let mut from = 0;
                if let Some(k) = key {
                    let k = self.key(k)?;
                    if entries.contains_key(k) {
                        let b = Self::bucket(*n_buckets, k);
                        let list = buckets.get(&b).map(|l| &l[..]).unwrap_or_default();
                        let pos = list.iter().position(|x| x == k);
                        if let Some(n) = pos.and_then(|p| list.get(p + 1)) {
                            put(next_out, n);
                            return Ok(());
                        }
                        from = b + 1;
                    }
                }
                match buckets.range(from..).find_map(|(_, l)| l.first()) {
                    Some(first) => {
                        put(next_out, first);
                        Ok(())
                    }
                    None => Err(MapError::noent("no more keys (the kernel says ENOENT)")),
                }
            }
        }
    }

    fn freeze(&self) -> Result<(), MapError> {
        self.access.freeze()
    }

    fn is_frozen(&self) -> bool {
        self.access.is_frozen()
    }

    /// No pointer: the kernel gives a program a `struct sock`, which has no
    /// userspace counterpart; use [`SockMap::entry`] / [`SockMap::redirect`].
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }

    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }

    fn len(&self) -> usize {
        match &*self.read() {
            Table::Array(v) => v.iter().filter(|e| e.is_some()).count(),
            Table::Hash { entries, .. } => entries.len(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
