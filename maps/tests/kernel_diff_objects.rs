//! The map kinds whose values (or keys) name kernel objects, against the
//! kernel's, through bpf(2): devmap, devmap_hash, cpumap, xskmap, sockmap
//! and sockhash (4- and 8-byte values), reuseport_sockarray, cgroup_array, stack_trace (host
//! commands on an empty map), cgroup_storage,
//! percpu_cgroup_storage, sk_storage, task_storage, inode_storage and
//! cgrp_storage. Both maps get the same seeded random operations with the
//! same real objects: ifindexes of this host (lo is 1) and unknown ones,
//! CPU numbers, and fds of this process (TCP sockets on 127.0.0.1 that are
//! established, listening or neither, UDP and unix sockets, an AF_XDP socket
//! when the kernel gives one, a regular file, a pidfd, cgroup directories,
//! closed fd numbers). Every result, errno and value read is compared, then
//! the whole `get_next_key` walk and a lookup of every key tried.
//!
//! Seeds are fixed (printed; `IRONBPF_SEED=n` shifts them). Prints
//! `skipped: <reason>` and passes where bpf(2) cannot be used, unless
//! `IRONBPF_REQUIRE_KERNEL=1`.

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ironbpf_kernel::{KernelBtf, KernelMap, MapCreate};
use ironbpf_maps::*;

fn seed(base: u64) -> u64 {
    base.wrapping_add(
        std::env::var("IRONBPF_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    )
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// The real objects the operations name, kept open for the whole test.
struct Pool {
    /// (what it is, fd number).
    fds: Vec<(&'static str, u32)>,
    _keep: Vec<OwnedFd>,
    _tcp: Vec<std::net::TcpStream>,
    _listener: std::net::TcpListener,
}

fn own(fd: i32) -> Option<OwnedFd> {
    // SAFETY: `fd` was just returned by a successful syscall and is owned
    // by no one else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn make_pool() -> Pool {
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::unix::net::{UnixDatagram, UnixStream};
    let mut fds = Vec::new();
    let mut keep: Vec<OwnedFd> = Vec::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1");
    fds.push(("tcp listening", listener.as_raw_fd() as u32));
    let addr = listener.local_addr().unwrap();
    let mut tcp = Vec::new();
    for _ in 0..2 {
        let c = TcpStream::connect(addr).expect("connect");
        let (s, _) = listener.accept().expect("accept");
        fds.push(("tcp established (client)", c.as_raw_fd() as u32));
        fds.push(("tcp established (server)", s.as_raw_fd() as u32));
        tcp.push(c);
        tcp.push(s);
    }
    // SAFETY: plain socket(2) calls; each result is owned at once.
    let raw = |d, t, p| own(unsafe { libc::socket(d, t | libc::SOCK_CLOEXEC, p) });
    let mut add = |what, f: Option<OwnedFd>, fds: &mut Vec<(&'static str, u32)>| {
        if let Some(f) = f {
            fds.push((what, f.as_raw_fd() as u32));
            keep.push(f);
        }
    };
    add(
        "tcp unconnected",
        raw(libc::AF_INET, libc::SOCK_STREAM, 0),
        &mut fds,
    );
    add(
        "tcp6 unconnected",
        raw(libc::AF_INET6, libc::SOCK_STREAM, 0),
        &mut fds,
    );
    add(
        "udp unbound",
        raw(libc::AF_INET, libc::SOCK_DGRAM, 0),
        &mut fds,
    );
    add(
        "raw icmp",
        raw(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
        &mut fds,
    );
    add("af_xdp", raw(libc::AF_XDP, libc::SOCK_RAW, 0), &mut fds);
    add(
        "af_packet",
        raw(libc::AF_PACKET, libc::SOCK_DGRAM, 0),
        &mut fds,
    );
    // SO_REUSEPORT sockets: TCP listening, TCP only bound, UDP bound.
    for (what, ty, listen) in [
        ("tcp reuseport listening", libc::SOCK_STREAM, true),
        ("tcp reuseport bound", libc::SOCK_STREAM, false),
        ("udp reuseport bound", libc::SOCK_DGRAM, false),
    ] {
        let Some(f) = raw(libc::AF_INET, ty, 0) else {
            continue;
        };
        let one: libc::c_int = 1;
        let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        // SAFETY: plain socket calls on an fd we own, with valid arguments.
        let ok = unsafe {
            libc::setsockopt(
                f.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_REUSEPORT,
                (&one as *const libc::c_int).cast(),
                4,
            ) == 0
                && libc::bind(
                    f.as_raw_fd(),
                    (&sin as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                ) == 0
                && (!listen || libc::listen(f.as_raw_fd(), 4) == 0)
        };
        assert!(ok, "{what}: {}", std::io::Error::last_os_error());
        add(what, Some(f), &mut fds);
    }
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    add("udp bound", Some(OwnedFd::from(udp)), &mut fds);
    let udp2 = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp2.connect("127.0.0.1:9").unwrap();
    add("udp connected", Some(OwnedFd::from(udp2)), &mut fds);
    let (a, b) = UnixStream::pair().unwrap();
    add("unix stream", Some(OwnedFd::from(a)), &mut fds);
    add("unix stream peer", Some(OwnedFd::from(b)), &mut fds);
    add(
        "unix dgram",
        Some(OwnedFd::from(UnixDatagram::unbound().unwrap())),
        &mut fds,
    );
    add(
        "regular file",
        Some(OwnedFd::from(
            std::fs::File::open("/proc/self/status").unwrap(),
        )),
        &mut fds,
    );
    // SAFETY: pidfd_open of this process; the result is owned at once.
    add(
        "pidfd",
        own(unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) } as i32),
        &mut fds,
    );
    for dir in [
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup",
    ] {
        if let Ok(f) = std::fs::File::open(dir) {
            add(
                match dir {
                    "/sys/fs/cgroup/unified" => "cgroup2 dir",
                    "/sys/fs/cgroup/cpu" => "cgroup1 dir",
                    _ => "tmpfs dir",
                },
                Some(OwnedFd::from(f)),
                &mut fds,
            );
        }
    }
    fds.push(("closed fd", 999_999));
    fds.push(("fd -1", u32::MAX));
    Pool {
        fds,
        _keep: keep,
        _tcp: tcp,
        _listener: listener,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// Keys are indexes `0..max_entries` (and a few past).
    Index,
    /// Keys are small values of key_size bytes.
    Hash,
    /// Keys are cgroup ids (8 or 16 bytes).
    Cgroup,
    /// Keys are fds from the pool.
    Fd,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Values {
    Dev,
    Cpu,
    Fd32,
    Fd64,
    Bytes,
}

struct Kind {
    name: &'static str,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    shape: Shape,
    values: Values,
    ops: usize,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "devmap",
        map_type: BPF_MAP_TYPE_DEVMAP,
        key_size: 4,
        value_size: 8,
        max_entries: 8,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Dev,
        ops: 4000,
    },
    Kind {
        name: "devmap (4-byte values)",
        map_type: BPF_MAP_TYPE_DEVMAP,
        key_size: 4,
        value_size: 4,
        max_entries: 5,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Dev,
        ops: 3000,
    },
    Kind {
        name: "devmap_hash",
        map_type: BPF_MAP_TYPE_DEVMAP_HASH,
        key_size: 4,
        value_size: 8,
        max_entries: 6,
        map_flags: 0,
        shape: Shape::Hash,
        values: Values::Dev,
        ops: 4000,
    },
    Kind {
        name: "cpumap",
        map_type: BPF_MAP_TYPE_CPUMAP,
        key_size: 4,
        value_size: 8,
        max_entries: 6,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Cpu,
        ops: 600,
    },
    Kind {
        name: "cpumap (4-byte values)",
        map_type: BPF_MAP_TYPE_CPUMAP,
        key_size: 4,
        value_size: 4,
        max_entries: 3,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Cpu,
        ops: 400,
    },
    Kind {
        name: "xskmap",
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: 6,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Fd32,
        ops: 3000,
    },
    Kind {
        name: "sockmap (8-byte values)",
        map_type: BPF_MAP_TYPE_SOCKMAP,
        key_size: 4,
        value_size: 8,
        max_entries: 6,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Fd64,
        ops: 4000,
    },
    Kind {
        name: "sockmap (4-byte values)",
        map_type: BPF_MAP_TYPE_SOCKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Fd32,
        ops: 3000,
    },
    Kind {
        name: "sockhash",
        map_type: BPF_MAP_TYPE_SOCKHASH,
        key_size: 8,
        value_size: 8,
        max_entries: 5,
        map_flags: 0,
        shape: Shape::Hash,
        values: Values::Fd64,
        ops: 4000,
    },
    Kind {
        name: "sockhash (odd key)",
        map_type: BPF_MAP_TYPE_SOCKHASH,
        key_size: 3,
        value_size: 4,
        max_entries: 9,
        map_flags: 0,
        shape: Shape::Hash,
        values: Values::Fd32,
        ops: 3000,
    },
    Kind {
        name: "cgroup_array",
        map_type: BPF_MAP_TYPE_CGROUP_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Fd32,
        ops: 2000,
    },
    Kind {
        name: "reuseport_sockarray (8-byte values)",
        map_type: BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Fd64,
        ops: 3000,
    },
    Kind {
        name: "reuseport_sockarray (4-byte values)",
        map_type: BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 3,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Fd32,
        ops: 3000,
    },
    Kind {
        name: "stack_trace",
        map_type: BPF_MAP_TYPE_STACK_TRACE,
        key_size: 4,
        value_size: 16,
        max_entries: 5,
        map_flags: 0,
        shape: Shape::Index,
        values: Values::Bytes,
        ops: 1000,
    },
    Kind {
        name: "cgroup_storage",
        map_type: BPF_MAP_TYPE_CGROUP_STORAGE,
        key_size: 16,
        value_size: 12,
        max_entries: 0,
        map_flags: 0,
        shape: Shape::Cgroup,
        values: Values::Bytes,
        ops: 1000,
    },
    Kind {
        name: "cgroup_storage (u64 key)",
        map_type: BPF_MAP_TYPE_CGROUP_STORAGE,
        key_size: 8,
        value_size: 8,
        max_entries: 0,
        map_flags: 0,
        shape: Shape::Cgroup,
        values: Values::Bytes,
        ops: 1000,
    },
    Kind {
        name: "percpu_cgroup_storage",
        map_type: BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
        key_size: 8,
        value_size: 4,
        max_entries: 0,
        map_flags: 0,
        shape: Shape::Cgroup,
        values: Values::Bytes,
        ops: 1000,
    },
    Kind {
        name: "sk_storage",
        map_type: BPF_MAP_TYPE_SK_STORAGE,
        key_size: 4,
        value_size: 16,
        max_entries: 0,
        map_flags: BPF_F_NO_PREALLOC,
        shape: Shape::Fd,
        values: Values::Bytes,
        ops: 4000,
    },
    Kind {
        name: "task_storage",
        map_type: BPF_MAP_TYPE_TASK_STORAGE,
        key_size: 4,
        value_size: 8,
        max_entries: 0,
        map_flags: BPF_F_NO_PREALLOC,
        shape: Shape::Fd,
        values: Values::Bytes,
        ops: 3000,
    },
    Kind {
        name: "inode_storage",
        map_type: BPF_MAP_TYPE_INODE_STORAGE,
        key_size: 4,
        value_size: 8,
        max_entries: 0,
        map_flags: BPF_F_NO_PREALLOC,
        shape: Shape::Fd,
        values: Values::Bytes,
        ops: 3000,
    },
    Kind {
        name: "cgrp_storage",
        map_type: BPF_MAP_TYPE_CGRP_STORAGE,
        key_size: 4,
        value_size: 8,
        max_entries: 0,
        map_flags: BPF_F_NO_PREALLOC,
        shape: Shape::Fd,
        values: Values::Bytes,
        ops: 3000,
    },
];

/// Raw BTF with `int` (id 1), `u8` (id 2) and `u8[n]` (id 3): the key and
/// value types a local storage needs.
fn btf_blob(n: u32) -> Vec<u8> {
    let strings = b"\0int\0u8\0";
    let mut types = Vec::new();
    let mut w = |v: u32| types.extend_from_slice(&v.to_le_bytes());
    // [1] INT "int" size 4, signed, 32 bits.
    w(1);
    w(1 << 24);
    w(4);
    w((1 << 24) | 32);
    // [2] INT "u8" size 1, 8 bits.
    w(5);
    w(1 << 24);
    w(1);
    w(8);
    // [3] ARRAY of [2], index [1], n elements.
    w(0);
    w(3 << 24);
    w(0);
    w(2);
    w(1);
    w(n);
    let mut b = Vec::new();
    b.extend_from_slice(&0xeb9fu16.to_le_bytes());
    b.push(1);
    b.push(0);
    for v in [
        24u32,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&types);
    b.extend_from_slice(strings);
    b
}

type Outcome = Result<Vec<u8>, i32>;

#[derive(Debug, Clone)]
enum Op {
    Lookup(Vec<u8>, u64),
    Update(Vec<u8>, Vec<u8>, u64),
    Delete(Vec<u8>),
    Next(Option<Vec<u8>>),
}

fn fd_value(rng: &mut Rng, pool: &Pool, wide: bool, cgroups: bool, reuse: bool) -> Vec<u8> {
    let cg: Vec<u32> = pool
        .fds
        .iter()
        .filter(|(w, _)| {
            (cgroups && w.starts_with("cgroup")) || (!cgroups && reuse && w.contains("reuseport"))
        })
        .map(|(_, fd)| *fd)
        .collect();
    let fd = if !cg.is_empty() && rng.below(2) == 0 {
        cg[rng.below(cg.len() as u64) as usize]
    } else {
        rng.pick(&pool.fds).1
    };
    if wide {
        let v: u64 = match rng.below(20) {
            0 => 1 << 40,
            1 => 0x8000_0000,
            _ => fd as u64,
        };
        v.to_ne_bytes().to_vec()
    } else {
        fd.to_ne_bytes().to_vec()
    }
}

fn key_for(kind: &Kind, rng: &mut Rng, pool: &Pool, hash_keys: &[Vec<u8>]) -> Vec<u8> {
    match kind.shape {
        Shape::Index => (rng.below(kind.max_entries as u64 + 2) as u32)
            .to_ne_bytes()
            .to_vec(),
        Shape::Hash => hash_keys[rng.below(hash_keys.len() as u64) as usize].clone(),
        Shape::Cgroup => {
            let mut k = vec![0u8; kind.key_size as usize];
            k[0] = rng.below(3) as u8;
            k
        }
        Shape::Fd => {
            // Half the time an fd of the owner kind the map takes.
            let owners: Vec<u32> = pool
                .fds
                .iter()
                .filter(|(w, _)| match kind.map_type {
                    BPF_MAP_TYPE_TASK_STORAGE => w.starts_with("pidfd"),
                    BPF_MAP_TYPE_CGRP_STORAGE => w.starts_with("cgroup"),
                    _ => false,
                })
                .map(|(_, fd)| *fd)
                .collect();
            let fd = if !owners.is_empty() && rng.below(2) == 0 {
                owners[rng.below(owners.len() as u64) as usize]
            } else {
                rng.pick(&pool.fds).1
            };
            fd.to_ne_bytes().to_vec()
        }
    }
}

fn value_for(kind: &Kind, rng: &mut Rng, pool: &Pool, user_len: usize) -> Vec<u8> {
    let vs = kind.value_size as usize;
    let mut v = match kind.values {
        Values::Dev => {
            let ifindex: u32 = rng.pick(&[0, 1, 1, 1, 2, 4, 77, 4096]);
            let fd: u32 = rng.pick(&[0, 0, 0, u32::MAX, 1, 5]);
            [ifindex.to_ne_bytes(), fd.to_ne_bytes()].concat()
        }
        Values::Cpu => {
            let q: u32 = rng.pick(&[0, 1, 64, 16384, 16385, 1 << 20]);
            let fd: u32 = rng.pick(&[0, 0, 0, u32::MAX, 1]);
            [q.to_ne_bytes(), fd.to_ne_bytes()].concat()
        }
        Values::Fd32 => fd_value(
            rng,
            pool,
            false,
            kind.map_type == BPF_MAP_TYPE_CGROUP_ARRAY,
            kind.map_type == BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,
        ),
        Values::Fd64 => fd_value(
            rng,
            pool,
            true,
            false,
            kind.map_type == BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,
        ),
        Values::Bytes => (0..user_len).map(|_| rng.next() as u8).collect(),
    };
    v.resize(user_len.max(vs), 0);
    v
}

fn gen_op(kind: &Kind, rng: &mut Rng, pool: &Pool, hash_keys: &[Vec<u8>], user_len: usize) -> Op {
    let key = key_for(kind, rng, pool, hash_keys);
    let flags = match rng.below(16) {
        0..=5 => BPF_ANY,
        6..=8 => BPF_NOEXIST,
        9..=11 => BPF_EXIST,
        12 => BPF_F_LOCK,
        13 => 8,
        _ => BPF_ANY,
    };
    match rng.below(10) {
        0..=1 => Op::Lookup(
            key,
            if rng.below(10) == 0 {
                rng.pick(&[BPF_F_LOCK, 2])
            } else {
                0
            },
        ),
        2..=6 => Op::Update(key, value_for(kind, rng, pool, user_len), flags),
        7..=8 => Op::Delete(key),
        _ => Op::Next(if rng.below(4) == 0 { None } else { Some(key) }),
    }
}

fn ours_do(m: &dyn Map, op: &Op, user_len: usize, ks: usize) -> Outcome {
    match op {
        Op::Lookup(k, f) => {
            let mut v = vec![0u8; user_len];
            m.lookup(k, &mut v, *f).map(|_| v).map_err(|e| e.errno)
        }
        Op::Update(k, v, f) => m.update(k, v, *f).map(|_| Vec::new()).map_err(|e| e.errno),
        Op::Delete(k) => m.delete(k).map(|_| Vec::new()).map_err(|e| e.errno),
        Op::Next(k) => {
            let mut n = vec![0u8; ks];
            m.get_next_key(k.as_deref(), &mut n)
                .map(|_| n)
                .map_err(|e| e.errno)
        }
    }
}

fn kernel_do(m: &KernelMap, op: &Op, user_len: usize, ks: usize) -> Outcome {
    match op {
        Op::Lookup(k, f) => {
            let mut v = vec![0u8; user_len];
            m.lookup(k, &mut v, *f).map(|_| v)
        }
        Op::Update(k, v, f) => m.update(k, v, *f).map(|_| Vec::new()),
        Op::Delete(k) => m.delete(k).map(|_| Vec::new()),
        Op::Next(k) => {
            let mut n = vec![0u8; ks.max(1)];
            m.get_next_key(k.as_deref(), &mut n).map(|_| n)
        }
    }
}

fn walk(next: impl Fn(Option<&[u8]>) -> Outcome, limit: usize) -> (Vec<Vec<u8>>, i32) {
    let mut keys = Vec::new();
    let mut prev: Option<Vec<u8>> = None;
    loop {
        match next(prev.as_deref()) {
            Ok(k) => {
                keys.push(k.clone());
                if keys.len() > limit {
                    return (keys, 0);
                }
                prev = Some(k);
            }
            Err(e) => return (keys, e),
        }
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Ok(v) if v.is_empty() => "ok".into(),
        Ok(v) => format!("ok {v:02x?}"),
        Err(e) => errno_name(*e).into(),
    }
}

fn run_kind(kind: &Kind, pool: &Pool, seed: u64) -> Result<(usize, usize), String> {
    let mut btf = None;
    let mut create = MapCreate::new(
        kind.map_type,
        kind.key_size,
        kind.value_size,
        kind.max_entries,
    );
    create.map_flags = kind.map_flags;
    let mut spec = MapSpec::new(
        kind.map_type,
        kind.key_size,
        kind.value_size,
        kind.max_entries,
    );
    spec.map_flags = kind.map_flags;
    if kind.shape == Shape::Fd {
        let b = KernelBtf::load(&btf_blob(kind.value_size))
            .map_err(|(e, line)| format!("{}: BTF load: {e} {line}", kind.name))?;
        create.btf_fd = Some(b.raw_fd());
        create.btf_key_type_id = 1;
        create.btf_value_type_id = 3;
        spec.btf_key_type_id = 1;
        spec.btf_value_type_id = 3;
        btf = Some(b);
    }
    let theirs =
        KernelMap::create(&create).map_err(|e| format!("{}: kernel create: {e}", kind.name))?;
    drop(btf);
    let ours = create_map(&spec).map_err(|e| format!("{}: our create: {e}", kind.name))?;
    let user_len = ours.value_size_user();
    if user_len != theirs.value_len {
        return Err(format!(
            "{}: value length ours {user_len}, kernel {}",
            kind.name, theirs.value_len
        ));
    }
    let ks = kind.key_size as usize;
    let mut rng = Rng(seed);
    let hash_keys: Vec<Vec<u8>> = (0..12u8)
        .map(|i| {
            let mut k = vec![0u8; ks];
            k[0] = i;
            if ks > 1 {
                k[ks - 1] = i.wrapping_mul(37);
            }
            k
        })
        .collect();
    let mut tried = BTreeSet::new();
    let mut diffs = Vec::new();
    let mut succeeded = 0usize;
    for i in 0..kind.ops {
        let op = gen_op(kind, &mut rng, pool, &hash_keys, user_len);
        if let Op::Update(k, ..) | Op::Lookup(k, _) | Op::Delete(k) = &op {
            tried.insert(k.clone());
        }
        let a = ours_do(&*ours, &op, user_len, ks);
        let b = kernel_do(&theirs, &op, user_len, ks);
        succeeded += b.is_ok() as usize;
        if a != b && diffs.len() < 10 {
            diffs.push(format!(
                "op {i} {op:?}: ours {}, kernel {}",
                show(&a),
                show(&b)
            ));
        }
    }
    // The whole walk, then every key tried.
    let (wa, ea) = walk(
        |k| ours_do(&*ours, &Op::Next(k.map(<[u8]>::to_vec)), user_len, ks),
        4096,
    );
    let (wb, eb) = walk(
        |k| kernel_do(&theirs, &Op::Next(k.map(<[u8]>::to_vec)), user_len, ks),
        4096,
    );
    if (&wa, ea) != (&wb, eb) {
        diffs.push(format!(
            "get_next_key walk: ours {wa:02x?} then {}, kernel {wb:02x?} then {}",
            errno_name(ea),
            errno_name(eb)
        ));
    }
    for k in &tried {
        let op = Op::Lookup(k.clone(), 0);
        let (a, b) = (
            ours_do(&*ours, &op, user_len, ks),
            kernel_do(&theirs, &op, user_len, ks),
        );
        if a != b {
            diffs.push(format!(
                "final lookup {k:02x?}: ours {}, kernel {}",
                show(&a),
                show(&b)
            ));
        }
    }
    // The sequence must reach the kind's successful paths, not only its
    // refusals (cgroup storage and stack maps have none from the host:
    // nothing is attached, no program stores a stack).
    if kind.shape != Shape::Cgroup
        && kind.map_type != BPF_MAP_TYPE_STACK_TRACE
        && succeeded < kind.ops / 10
    {
        diffs.push(format!(
            "only {succeeded} of {} operations succeeded in the kernel: the sequence does not exercise the map",
            kind.ops
        ));
    }
    if diffs.is_empty() {
        Ok((kind.ops, succeeded))
    } else {
        Err(format!(
            "{} (seed {seed}):\n  {}",
            kind.name,
            diffs.join("\n  ")
        ))
    }
}

#[test]
fn object_maps_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("object_maps_agree_with_the_kernel") {
        return;
    }
    let pool = make_pool();
    eprintln!(
        "objects: {}",
        pool.fds
            .iter()
            .map(|(w, fd)| format!("{w}={}", *fd as i32))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut failures = Vec::new();
    let mut total = 0;
    for (i, kind) in KINDS.iter().enumerate() {
        let s = seed(7000 + i as u64);
        // A reuseport array refuses sockets a sockmap holds, and a kernel
        // sockmap lets its sockets go only some time after its fd closes:
        // fresh sockets for it.
        let fresh;
        let p = if kind.map_type == BPF_MAP_TYPE_REUSEPORT_SOCKARRAY {
            fresh = make_pool();
            &fresh
        } else {
            &pool
        };
        match run_kind(kind, p, s) {
            Ok((n, ok)) => {
                total += n;
                eprintln!(
                    "{}: {n} operations ({ok} succeeded in the kernel; seed {s}), 0 disagreements",
                    kind.name
                );
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "object maps: {total} operations agreed in {} kinds",
        KINDS.len() - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `bpf_redirect_map`'s decision on our maps, for the flags a program may
/// pass (the kernel's `__bpf_xdp_redirect_map`).
#[test]
fn redirect_map_follows_the_kernels_flags() {
    let dev = create_map(&MapSpec::new(BPF_MAP_TYPE_DEVMAP, 4, 4, 4)).unwrap();
    dev.update(&1u32.to_ne_bytes(), &1u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    let d = |k: u64, f: u64| redirect_map(&*dev, k, f).unwrap();
    assert_eq!(
        d(1, 0),
        RedirectDecision {
            action: XDP_REDIRECT,
            redirect: true
        }
    );
    // An empty slot returns the fallback action in the low bits.
    assert_eq!(
        d(2, 2),
        RedirectDecision {
            action: 2,
            redirect: false
        }
    );
    // The key is truncated to 32 bits, as the kernel's u32 lookup does.
    assert_eq!(d(1 << 32 | 1, 0).action, XDP_REDIRECT);
    // Broadcast redirects whatever the key.
    assert_eq!(
        d(3, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS).action,
        XDP_REDIRECT
    );
    // Unknown flags abort.
    assert_eq!(
        d(1, 1 << 5),
        RedirectDecision {
            action: XDP_ABORTED,
            redirect: false
        }
    );
    let cpu = create_map(&MapSpec::new(BPF_MAP_TYPE_CPUMAP, 4, 4, 2)).unwrap();
    // Broadcast is for devmaps only.
    assert_eq!(
        redirect_map(&*cpu, 0, BPF_F_BROADCAST).unwrap().action,
        XDP_ABORTED
    );
    cpu.update(&0u32.to_ne_bytes(), &128u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    assert_eq!(redirect_map(&*cpu, 0, 0).unwrap().action, XDP_REDIRECT);
    let hash = create_map(&MapSpec::new(BPF_MAP_TYPE_HASH, 4, 4, 2)).unwrap();
    assert_eq!(redirect_map(&*hash, 0, 0).unwrap_err().errno, libc::EINVAL);
}
