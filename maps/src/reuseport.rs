//! `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`: sockets of a `SO_REUSEPORT` group
//! by index, for `bpf_sk_select_reuseport` (`kernel/bpf/reuseport_array.c`).
//!
//! A host update takes a socket fd and refuses what the kernel refuses:
//! `ENOTSUPP` for a socket that is not TCP or UDP over IPv4/IPv6, `EINVAL`
//! for one that is not hashed with a reuseport group (a TCP socket must
//! listen, a UDP socket be bound, both with `SO_REUSEPORT` set), `EBUSY`
//! for a socket already held by a reuseport array (the kernel marks it in
//! `sk_user_data`; ironbpf keeps a process-wide registry). A lookup gives
//! the socket's cookie (8-byte values; `ENOSPC` for 4-byte ones).
//!
//! Departures: the kernel drops an entry when its socket closes or leaves
//! its group, and refuses a socket a sockmap holds (`EBUSY`); ironbpf sees
//! neither.

use crate::bytes::{ne_u32, ne_u64, put};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::{Mutex, RwLock};

use crate::sock::{socket_of_fd, SockInfo};
use crate::spec::{check_flags, exactly, nonzero};
use crate::*;

/// Socket inodes held by some reuseport array of this process, and by how
/// many slots (the kernel allows one).
static HELD: Mutex<BTreeMap<u64, usize>> = Mutex::new(BTreeMap::new());

fn hold(ino: u64, delta: isize) {
    let mut h = HELD.lock().unwrap_or_else(|e| e.into_inner());
    let n = h.entry(ino).or_insert(0);
    *n = n.saturating_add_signed(delta);
    if *n == 0 {
        h.remove(&ino);
    }
}

fn held(ino: u64) -> bool {
    HELD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(&ino)
}

/// A reuseport socket array.
pub struct ReuseportArray {
    spec: MapSpec,
    slots: RwLock<Vec<Option<SockInfo>>>,
    access: Access,
}

fn sockopt_int(fd: i32, level: i32, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for the call.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(v)
}

impl ReuseportArray {
    pub(crate) fn new(spec: &MapSpec) -> Result<Self, MapError> {
        // reuseport_array_alloc_check, then array_map_alloc_check.
        if spec.value_size != 4 && spec.value_size != 8 {
            return Err(MapError::inval(format!(
                "value_size {} is invalid for a reuseport_sockarray: it must be 4 or 8 (a socket fd) (the kernel says EINVAL)",
                spec.value_size
            )));
        }
        nonzero(spec, "max_entries", spec.max_entries)?;
        exactly(spec, "key_size", spec.key_size, 4)?;
        check_flags(spec, BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        Ok(ReuseportArray {
            spec: spec.clone(),
            slots: RwLock::new(vec![None; spec.max_entries as usize]),
            access: Access::new(spec.map_flags),
        })
    }

    /// The socket stored at `index` (what `bpf_sk_select_reuseport` picks).
    pub fn socket(&self, index: u32) -> Option<SockInfo> {
        *self
            .slots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(index as usize)?
    }
}

impl Drop for ReuseportArray {
    fn drop(&mut self) {
        let slots = self.slots.get_mut().unwrap_or_else(|e| e.into_inner());
        for s in slots.iter().flatten() {
            hold(s.ino, -1);
        }
    }
}

impl Map for ReuseportArray {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn possible_cpus(&self) -> usize {
        1
    }

    fn lookup(&self, key: &[u8], value_out: &mut [u8], flags: u64) -> Result<(), MapError> {
        self.access.lookup(flags, "lookup")?;
        let i = index_of(key)?;
        if self.spec.value_size != 8 {
            return Err(MapError::new(
                libc::ENOSPC,
                "a lookup gives the socket's 8-byte cookie, and this map's value_size is 4 (the kernel says ENOSPC)",
            ));
        }
        check_len("value", value_out.len(), 8)?;
        let s = self.socket(i).ok_or_else(|| {
            MapError::noent(format!(
                "index {i} holds no socket (the kernel says ENOENT)"
            ))
        })?;
        put(value_out, &s.cookie.to_ne_bytes());
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.access.write("update")?;
        check_update_lock(flags)?;
        let i = index_of(key)?;
        if flags > BPF_EXIST {
            return Err(MapError::inval(format!(
                "update flags {flags:#x}: only BPF_ANY, BPF_NOEXIST or BPF_EXIST (the kernel says EINVAL)"
            )));
        }
        let max = self.spec.max_entries;
        if i >= max {
            return Err(MapError::new(
                libc::E2BIG,
                format!("index {i} is past max_entries {max} (the kernel says E2BIG)"),
            ));
        }
        let vs = self.spec.value_size as usize;
        check_len("value", value.len(), vs)?;
        let fd: u32 = if vs == 8 {
            let fd64 = ne_u64(value);
            if fd64 > i32::MAX as u64 {
                return Err(MapError::inval(format!(
                    "socket fd {fd64} is above S32_MAX (the kernel says EINVAL)"
                )));
            }
            fd64 as u32
        } else {
            ne_u32(value)
        };
        let sock = socket_of_fd(fd)?;
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let old = slots.get(i as usize).copied().flatten();
        if old.is_some() && flags == BPF_NOEXIST {
            return Err(MapError::new(
                libc::EEXIST,
                format!(
                    "index {i} holds a socket and the flag is BPF_NOEXIST (the kernel says EEXIST)"
                ),
            ));
        }
        if old.is_none() && flags == BPF_EXIST {
            return Err(MapError::noent(format!(
                "index {i} is empty and the flag is BPF_EXIST (the kernel says ENOENT)"
            )));
        }
        let inet = sock.domain == libc::AF_INET || sock.domain == libc::AF_INET6;
        let proto_ok = sock.protocol == libc::IPPROTO_TCP || sock.protocol == libc::IPPROTO_UDP;
        let type_ok = sock.sock_type == libc::SOCK_STREAM || sock.sock_type == libc::SOCK_DGRAM;
        if !(inet && proto_ok && type_ok) {
            return Err(MapError::new(
                ENOTSUPP,
                format!(
                    "fd {fd} is a socket of family {}, type {}, protocol {}: a reuseport_sockarray holds TCP and UDP sockets over IPv4 or IPv6 (the kernel says ENOTSUPP)",
                    sock.domain, sock.sock_type, sock.protocol
                ),
            ));
        }
        let hashed = match sock.tcp_state {
            Some(s) => s == crate::sock::TCP_LISTEN,
            None => sock.bound,
        };
        let reuseport =
            sockopt_int(fd as i32, libc::SOL_SOCKET, libc::SO_REUSEPORT).unwrap_or(0) != 0;
        if !hashed || !reuseport {
            return Err(MapError::inval(format!(
                "fd {fd} is not in a reuseport group: it must have SO_REUSEPORT and listen (TCP) or be bound (UDP) (the kernel says EINVAL)"
            )));
        }
        if held(sock.ino) {
            return Err(MapError::new(
                libc::EBUSY,
                format!("fd {fd}'s socket is already held by a reuseport_sockarray (the kernel says EBUSY)"),
            ));
        }
        hold(sock.ino, 1);
        if let Some(o) = old {
            hold(o.ino, -1);
        }
        if let Some(slot) = slots.get_mut(i as usize) {
            *slot = Some(sock);
        }
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.access.write("delete")?;
        let i = index_of(key)?;
        let max = self.spec.max_entries;
        if i >= max {
            return Err(MapError::new(
                libc::E2BIG,
                format!("index {i} is past max_entries {max} (the kernel says E2BIG)"),
            ));
        }
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let old = slots
            .get_mut(i as usize)
            .and_then(Option::take)
            .ok_or_else(|| {
                MapError::noent(format!(
                    "index {i} holds no socket (the kernel says ENOENT)"
                ))
            })?;
        hold(old.ino, -1);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next_out: &mut [u8]) -> Result<(), MapError> {
        self.access.read("get_next_key")?;
        check_len("next key", next_out.len(), 4)?;
        let max = self.spec.max_entries;
        let i = match key {
            None => u32::MAX,
            Some(k) => index_of(k)?,
        };
        let next = if i >= max {
            0
        } else if i == max - 1 {
            return Err(MapError::noent(format!(
                "index {i} is the last one (the kernel says ENOENT)"
            )));
        } else {
            i + 1
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

    /// No pointer: there is no `struct sock` in userspace
    /// ([`ReuseportArray::socket`] gives what is stored).
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }

    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }

    fn len(&self) -> usize {
        self.slots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| s.is_some())
            .count()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
