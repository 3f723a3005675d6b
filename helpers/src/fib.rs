//! Helpers that read the kernel's tables, answered from the run's
//! [`World`]: `bpf_fib_lookup` (tc and XDP), `bpf_redirect_neigh`, and the
//! socket lookups `bpf_sk_lookup_tcp`, `bpf_sk_lookup_udp`,
//! `bpf_skc_lookup_tcp` with `bpf_sk_release`.
//!
//! `bpf_fib_lookup` follows `bpf_ipv4_fib_lookup`/`bpf_ipv6_fib_lookup`
//! of 6.18 step by step: `plen < 64` or unknown flags are `-EINVAL`, a
//! family other than `AF_INET`/`AF_INET6` `-EAFNOSUPPORT`, an ifindex no
//! interface has `-ENODEV`; then `FWD_DISABLED` when the input device does
//! not forward, the route (longest prefix, then lowest metric; IPv4's
//! local and main tables are one trie, as the kernel has them without
//! custom rules, then the default table; IPv6 looks in local, then main;
//! `BPF_FIB_LOOKUP_DIRECT` in main or `BPF_FIB_LOOKUP_TBID`'s table only,
//! `NOT_FWDED` for a table that does not exist), `BLACKHOLE`,
//! `UNREACHABLE`, `PROHIBIT`, `NOT_FWDED` for no route or a route that is
//! not unicast, `FRAG_NEEDED` when `tot_len` exceeds the MTU, the gateway
//! into the destination, `NO_SRC_ADDR` (IPv6 with `BPF_FIB_LOOKUP_SRC`),
//! `NO_NEIGH` without a valid neighbour unless `SKIP_NEIGH`, and on
//! success `smac`/`dmac`, `ifindex`, `rt_metric`, the VLAN fields zeroed
//! and `mtu_result`. A tc program that gives no `tot_len` has its packet
//! checked against the output device as `is_skb_forwardable` does.
//! `BPF_FIB_LOOKUP_MARK` is accepted; the world has no policy rules for
//! marks to select.
//!
//! The socket lookups take a `struct bpf_sock_tuple` of 12 (IPv4) or 36
//! (IPv6) bytes, from the packet's point of view (`saddr` is the peer):
//! an established socket whose local and remote ends match, else a
//! listener (TCP) or bound socket (UDP) on the destination port and
//! address or the wildcard. Any other size, non-zero flags or a netns id
//! other than the current one (a negative id; the world has no other
//! namespace) give NULL. A socket found is handed out as a `struct
//! bpf_sock` the program may read ([`socket_region`]) until it releases
//! it with `bpf_sk_release`.

use crate::abi::errno::{neg, EINVAL};
use crate::abi::{HelperCtx, HelperError, HelperRegistry, Redirect};
use crate::env::HelperEnv;
use crate::net::{packet, TC_ACT_REDIRECT, TC_ACT_SHOT};
use crate::table::def;
use crate::world::{
    Interface, Route, RouteType, SockProto, SockState, Socket, World, RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL, RT_TABLE_MAIN,
};
use ironbpf_isa::abi::{MemoryRegion, RegionKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

/// `sizeof(struct bpf_fib_lookup)`.
pub const BPF_FIB_LOOKUP_SIZE: u64 = 64;
pub const BPF_FIB_LOOKUP_DIRECT: u64 = 1 << 0;
pub const BPF_FIB_LOOKUP_OUTPUT: u64 = 1 << 1;
pub const BPF_FIB_LOOKUP_SKIP_NEIGH: u64 = 1 << 2;
pub const BPF_FIB_LOOKUP_TBID: u64 = 1 << 3;
pub const BPF_FIB_LOOKUP_SRC: u64 = 1 << 4;
pub const BPF_FIB_LOOKUP_MARK: u64 = 1 << 5;
const BPF_FIB_LOOKUP_MASK: u64 = BPF_FIB_LOOKUP_DIRECT
    | BPF_FIB_LOOKUP_OUTPUT
    | BPF_FIB_LOOKUP_SKIP_NEIGH
    | BPF_FIB_LOOKUP_TBID
    | BPF_FIB_LOOKUP_SRC
    | BPF_FIB_LOOKUP_MARK;

pub const BPF_FIB_LKUP_RET_SUCCESS: u64 = 0;
pub const BPF_FIB_LKUP_RET_BLACKHOLE: u64 = 1;
pub const BPF_FIB_LKUP_RET_UNREACHABLE: u64 = 2;
pub const BPF_FIB_LKUP_RET_PROHIBIT: u64 = 3;
pub const BPF_FIB_LKUP_RET_NOT_FWDED: u64 = 4;
pub const BPF_FIB_LKUP_RET_FWD_DISABLED: u64 = 5;
pub const BPF_FIB_LKUP_RET_UNSUPP_LWT: u64 = 6;
pub const BPF_FIB_LKUP_RET_NO_NEIGH: u64 = 7;
pub const BPF_FIB_LKUP_RET_FRAG_NEEDED: u64 = 8;
pub const BPF_FIB_LKUP_RET_NO_SRC_ADDR: u64 = 9;

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;
const ENODEV: i64 = 19;
const EAFNOSUPPORT: i64 = 97;
/// `sizeof(struct bpf_redir_neigh)`.
const BPF_REDIR_NEIGH_SIZE: u64 = 20;
/// The device header and a VLAN tag `is_skb_forwardable` allows past the
/// MTU.
const HARD_HEADER_LEN: u64 = 14;
const VLAN_HLEN: u64 = 4;

/// `struct bpf_fib_lookup`, as bytes with named accessors.
struct FibParams([u8; 64]);

// Every offset below is a constant of `struct bpf_fib_lookup`'s layout,
// inside its 64 bytes; none comes from the program.
#[allow(
    clippy::indexing_slicing,
    reason = "fixed offsets of struct bpf_fib_lookup within its 64-byte array"
)]
impl FibParams {
    fn u16_at(&self, o: usize) -> u16 {
        u16::from_ne_bytes([self.0[o], self.0[o + 1]])
    }
    fn set_u16(&mut self, o: usize, v: u16) {
        self.0[o..o + 2].copy_from_slice(&v.to_ne_bytes());
    }
    fn u32_at(&self, o: usize) -> u32 {
        u32::from_ne_bytes([self.0[o], self.0[o + 1], self.0[o + 2], self.0[o + 3]])
    }
    fn set_u32(&mut self, o: usize, v: u32) {
        self.0[o..o + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn family(&self) -> u8 {
        self.0[0]
    }
    fn tot_len(&self) -> u16 {
        self.u16_at(6)
    }
    fn set_mtu_result(&mut self, mtu: u32) {
        self.set_u16(6, mtu as u16);
    }
    fn ifindex(&self) -> u32 {
        self.u32_at(8)
    }
    fn addr(&self, off: usize, v6: bool) -> IpAddr {
        if v6 {
            let mut b = [0u8; 16];
            b.copy_from_slice(&self.0[off..off + 16]);
            IpAddr::V6(Ipv6Addr::from(b))
        } else {
            IpAddr::V4(Ipv4Addr::new(
                self.0[off],
                self.0[off + 1],
                self.0[off + 2],
                self.0[off + 3],
            ))
        }
    }
    fn set_addr(&mut self, off: usize, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => self.0[off..off + 4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => self.0[off..off + 16].copy_from_slice(&a.octets()),
        }
    }
}

const OFF_SRC: usize = 16;
const OFF_DST: usize = 32;

/// Whether a route can carry a packet: error routes always match; others
/// need their device up and, for an output lookup, to be the device asked
/// for.
fn usable(w: &World, r: &Route, oif: Option<u32>) -> bool {
    if matches!(
        r.kind,
        RouteType::Blackhole | RouteType::Unreachable | RouteType::Prohibit
    ) {
        return true;
    }
    let Some(dev) = r.dev.and_then(|d| w.interface(d)) else {
        return false;
    };
    dev.up && oif.is_none_or(|o| o == dev.ifindex)
}

/// The best route to `dst` among `tables` taken as one (longest prefix,
/// then lowest metric, then the first given).
fn best<'a>(
    w: &World,
    routes: &'a [Route],
    tables: &[u32],
    dst: &IpAddr,
    oif: Option<u32>,
) -> Option<&'a Route> {
    let mut found: Option<&Route> = None;
    for r in routes {
        if !tables.contains(&r.table) || !r.dst.contains(dst) || !usable(w, r, oif) {
            continue;
        }
        let better = match found {
            None => true,
            Some(b) => r.dst.len > b.dst.len || (r.dst.len == b.dst.len && r.metric < b.metric),
        };
        if better {
            found = Some(r);
        }
    }
    found
}

/// Whether the table exists: main and local always do, others once a
/// route is in them.
fn table_exists(routes: &[Route], table: u32) -> bool {
    table == RT_TABLE_MAIN || table == RT_TABLE_LOCAL || routes.iter().any(|r| r.table == table)
}

/// The source address the kernel would pick for leaving through `dev`
/// towards `to` (`inet_select_addr`, `ipv6_dev_get_saddr`): one of the
/// device's addresses of the family in the same subnet, else its first,
/// else the first non-loopback address of another device.
fn select_src(w: &World, dev: &Interface, to: &IpAddr) -> Option<IpAddr> {
    let fam = |a: &IpAddr| a.is_ipv4() == to.is_ipv4();
    dev.addresses
        .iter()
        .find(|p| fam(&p.addr) && p.contains(to))
        .or_else(|| dev.addresses.iter().find(|p| fam(&p.addr)))
        .map(|p| p.addr)
        .or_else(|| {
            w.interfaces
                .iter()
                .filter(|d| d.up && !d.loopback)
                .flat_map(|d| d.addresses.iter())
                .find(|p| fam(&p.addr) && !p.addr.is_loopback())
                .map(|p| p.addr)
        })
}

/// The lookup, for either family: the return code (a `BPF_FIB_LKUP_RET_*`
/// or a negative errno) and the params as they are left.
fn fib_lookup(w: &World, p: &mut FibParams, flags: u64, check_mtu: bool) -> u64 {
    let v6 = p.family() == AF_INET6;
    let Some(dev) = w.interface(p.ifindex()) else {
        return neg(ENODEV);
    };
    if !(if v6 {
        dev.forwarding_v6
    } else {
        dev.forwarding
    }) {
        return BPF_FIB_LKUP_RET_FWD_DISABLED;
    }
    let oif = (flags & BPF_FIB_LOOKUP_OUTPUT != 0).then_some(dev.ifindex);
    let dst = p.addr(OFF_DST, v6);
    let routes = w.all_routes();
    let route = if flags & BPF_FIB_LOOKUP_DIRECT != 0 {
        let mut table = RT_TABLE_MAIN;
        if flags & BPF_FIB_LOOKUP_TBID != 0 {
            table = p.u32_at(48);
            p.set_u32(48, 0);
        }
        if !table_exists(&routes, table) {
            return BPF_FIB_LKUP_RET_NOT_FWDED;
        }
        // IPv4's main and local tables are one trie.
        let tables: &[u32] = if !v6 && (table == RT_TABLE_MAIN || table == RT_TABLE_LOCAL) {
            &[RT_TABLE_MAIN, RT_TABLE_LOCAL]
        } else {
            std::slice::from_ref(&table)
        };
        best(w, &routes, tables, &dst, oif)
    } else if v6 {
        best(w, &routes, &[RT_TABLE_LOCAL], &dst, oif)
            .or_else(|| best(w, &routes, &[RT_TABLE_MAIN], &dst, oif))
    } else {
        best(w, &routes, &[RT_TABLE_MAIN, RT_TABLE_LOCAL], &dst, oif)
            .or_else(|| best(w, &routes, &[RT_TABLE_DEFAULT], &dst, oif))
    };
    let Some(route) = route else {
        return BPF_FIB_LKUP_RET_NOT_FWDED;
    };
    match route.kind {
        RouteType::Unicast => {}
        RouteType::Blackhole => return BPF_FIB_LKUP_RET_BLACKHOLE,
        RouteType::Unreachable => return BPF_FIB_LKUP_RET_UNREACHABLE,
        RouteType::Prohibit => return BPF_FIB_LKUP_RET_PROHIBIT,
        _ => return BPF_FIB_LKUP_RET_NOT_FWDED,
    }
    let Some(out) = route.dev.and_then(|d| w.interface(d)) else {
        return BPF_FIB_LKUP_RET_NOT_FWDED;
    };
    let mut mtu = 0;
    if check_mtu {
        mtu = route.mtu.unwrap_or(out.mtu);
        if p.tot_len() as u32 > mtu {
            p.set_mtu_result(mtu);
            return BPF_FIB_LKUP_RET_FRAG_NEEDED;
        }
    }
    p.set_u32(12, route.metric);
    p.set_u32(8, out.ifindex);
    let mut nexthop = dst;
    match route.gateway {
        Some(gw @ IpAddr::V4(_)) if !v6 => {
            p.set_addr(OFF_DST, gw);
            nexthop = gw;
        }
        Some(gw @ IpAddr::V6(_)) => {
            if !v6 {
                p.0[0] = AF_INET6;
            }
            p.set_addr(OFF_DST, gw);
            nexthop = gw;
        }
        _ => {}
    }
    if flags & BPF_FIB_LOOKUP_SRC != 0 {
        match route.prefsrc.or_else(|| select_src(w, out, &dst)) {
            Some(src) => p.set_addr(OFF_SRC, src),
            None if v6 => return BPF_FIB_LKUP_RET_NO_SRC_ADDR,
            None => p.set_addr(OFF_SRC, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        }
    }
    if flags & BPF_FIB_LOOKUP_SKIP_NEIGH == 0 {
        match w.neighbour(out.ifindex, &nexthop) {
            Some(n) if n.state.valid() => {
                p.0[58..64].copy_from_slice(&n.mac.0);
                p.0[52..58].copy_from_slice(&out.mac.0);
            }
            _ => return BPF_FIB_LKUP_RET_NO_NEIGH,
        }
    }
    // bpf_fib_set_fwd_params.
    p.set_u16(48, 0);
    p.set_u16(50, 0);
    if mtu != 0 {
        p.set_mtu_result(mtu);
    }
    BPF_FIB_LKUP_RET_SUCCESS
}

/// `bpf_fib_lookup(ctx, params, plen, flags)` for tc (`xdp: false`) and
/// XDP programs.
fn fib_lookup_helper(
    env: &HelperEnv,
    ctx: &mut HelperCtx<'_>,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let (params, plen, flags) = (a[1], a[2] as u32 as i32, a[3] as u32 as u64);
    if plen < BPF_FIB_LOOKUP_SIZE as i32 || flags & !BPF_FIB_LOOKUP_MASK != 0 {
        return Ok(neg(EINVAL));
    }
    let mut p = FibParams(ctx.read(params, BPF_FIB_LOOKUP_SIZE)?.try_into().map_err(
        |b: Vec<u8>| {
            HelperError::Failed(format!(
                "read {} bytes of struct bpf_fib_lookup, not {BPF_FIB_LOOKUP_SIZE}",
                b.len()
            ))
        },
    )?);
    if p.family() != AF_INET && p.family() != AF_INET6 {
        return Ok(neg(EAFNOSUPPORT));
    }
    let xdp = ctx
        .state_ref()
        .is_some_and(|s| s.is(crate::proto::progs::XDP));
    let w = env.world();
    let check_mtu = xdp || p.tot_len() != 0;
    let mut rc = fib_lookup(&w, &mut p, flags, check_mtu);
    if rc == BPF_FIB_LKUP_RET_SUCCESS && !check_mtu {
        if let Some(dev) = w.interface(p.ifindex()) {
            let len = packet(ctx).map_or(0, |pk| pk.len());
            if !dev.up || len > dev.mtu as u64 + HARD_HEADER_LEN + VLAN_HLEN {
                rc = BPF_FIB_LKUP_RET_FRAG_NEEDED;
            }
            p.set_mtu_result(dev.mtu);
        }
    }
    ctx.write(params, &p.0)?;
    Ok(rc)
}

/// A socket image handed to a program: `struct bpf_sock`.
const BPF_SOCK_SIZE: usize = 80;

/// The socket images programs hold, by address. Each lives in its own
/// allocation until `bpf_sk_release` (or the end of the process, for one
/// a program never released).
// Boxed: a program holds the image's address, which must not move when the
// list grows.
#[allow(clippy::vec_box)]
static SOCKETS: Mutex<Vec<Box<[u8; BPF_SOCK_SIZE]>>> = Mutex::new(Vec::new());

/// The readable memory of a socket a lookup handed out, if `[addr, addr +
/// len)` lies in one: what an engine consults for a load through a socket
/// pointer.
pub fn socket_region(addr: u64, len: u64) -> Option<MemoryRegion> {
    let socks = SOCKETS.lock().unwrap_or_else(|e| e.into_inner());
    socks.iter().find_map(|b| {
        let start = b.as_ptr() as u64;
        (addr >= start && addr.checked_add(len)? <= start + BPF_SOCK_SIZE as u64).then_some(
            MemoryRegion {
                start,
                len: BPF_SOCK_SIZE as u64,
                kind: RegionKind::MapValue,
                writable: false,
            },
        )
    })
}

/// `TCP_ESTABLISHED`, `TCP_CLOSE`, `TCP_LISTEN`.
const TCP_ESTABLISHED: u32 = 1;
const TCP_CLOSE: u32 = 7;
const TCP_LISTEN: u32 = 10;

/// The `struct bpf_sock` of a socket of the world.
#[allow(
    clippy::indexing_slicing,
    reason = "fixed offsets of struct bpf_sock within its BPF_SOCK_SIZE-byte array"
)]
fn sock_image(s: &Socket) -> [u8; BPF_SOCK_SIZE] {
    let mut b = [0u8; BPF_SOCK_SIZE];
    let put = |b: &mut [u8; BPF_SOCK_SIZE], o: usize, v: u32| {
        b[o..o + 4].copy_from_slice(&v.to_ne_bytes())
    };
    let v4 = s.local.is_ipv4();
    put(&mut b, 4, if v4 { 2 } else { 10 });
    let (ty, proto) = match s.protocol {
        SockProto::Tcp => (1, 6),
        SockProto::Udp => (2, 17),
    };
    put(&mut b, 8, ty);
    put(&mut b, 12, proto);
    let addr = |b: &mut [u8; BPF_SOCK_SIZE], o4: usize, o6: usize, a: &SocketAddr| match a {
        SocketAddr::V4(a) => b[o4..o4 + 4].copy_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => b[o6..o6 + 16].copy_from_slice(&a.ip().octets()),
    };
    addr(&mut b, 24, 28, &s.local);
    put(&mut b, 44, s.local.port() as u32);
    if let Some(r) = &s.remote {
        addr(&mut b, 52, 56, r);
        b[48..50].copy_from_slice(&r.port().to_be_bytes());
    }
    let state = match (s.protocol, s.state) {
        (_, SockState::Established) => TCP_ESTABLISHED,
        (SockProto::Tcp, SockState::Listen) => TCP_LISTEN,
        (SockProto::Udp, SockState::Listen) => TCP_CLOSE,
    };
    put(&mut b, 72, state);
    put(&mut b, 76, u32::MAX);
    b
}

/// The socket of the world a tuple (from the packet: `saddr` is the peer)
/// reaches.
fn find_socket<'a>(w: &'a World, proto: SockProto, tuple: &[u8]) -> Option<&'a Socket> {
    let (saddr, daddr, sport, dport): (IpAddr, IpAddr, u16, u16) =
        if let Ok(t) = <[u8; 12]>::try_from(tuple) {
            (
                IpAddr::V4(Ipv4Addr::new(t[0], t[1], t[2], t[3])),
                IpAddr::V4(Ipv4Addr::new(t[4], t[5], t[6], t[7])),
                u16::from_be_bytes([t[8], t[9]]),
                u16::from_be_bytes([t[10], t[11]]),
            )
        } else if let Ok(t) = <[u8; 36]>::try_from(tuple) {
            let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
            a.copy_from_slice(&t[..16]);
            b.copy_from_slice(&t[16..32]);
            (
                IpAddr::V6(Ipv6Addr::from(a)),
                IpAddr::V6(Ipv6Addr::from(b)),
                u16::from_be_bytes([t[32], t[33]]),
                u16::from_be_bytes([t[34], t[35]]),
            )
        } else {
            return None;
        };
    let same_ip = |a: &IpAddr, b: &IpAddr| {
        a == b
            || match (a, b) {
                (IpAddr::V6(x), IpAddr::V4(y)) => x.to_ipv4_mapped() == Some(*y),
                _ => false,
            }
    };
    let socks = w.sockets.iter().filter(|s| s.protocol == proto);
    let established = socks.clone().find(|s| {
        s.state == SockState::Established
            && s.local.port() == dport
            && same_ip(&s.local.ip(), &daddr)
            && s.remote
                .is_some_and(|r| r.port() == sport && same_ip(&r.ip(), &saddr))
    });
    established.or_else(|| {
        // A listener bound to the address beats one bound to the wildcard;
        // an IPv6 wildcard takes IPv4 too (no IPV6_V6ONLY).
        let on_port = socks
            .clone()
            .filter(|s| s.state == SockState::Listen && s.local.port() == dport);
        on_port
            .clone()
            .find(|s| same_ip(&s.local.ip(), &daddr))
            .or_else(|| {
                on_port.clone().find(|s| {
                    s.local.ip().is_unspecified()
                        && (s.local.is_ipv4() == daddr.is_ipv4() || s.local.is_ipv6())
                })
            })
    })
}

/// `bpf_sk_lookup_tcp`/`_udp`/`bpf_skc_lookup_tcp`(ctx, tuple, size,
/// netns, flags).
fn sk_lookup(
    env: &HelperEnv,
    ctx: &mut HelperCtx<'_>,
    a: [u64; 5],
    proto: SockProto,
) -> Result<u64, HelperError> {
    let (tuple, size, netns, flags) = (a[1], a[2] as u32 as u64, a[3], a[4]);
    let tuple = ctx.read(tuple, size)?;
    if size != 12 && size != 36 {
        return Ok(0);
    }
    // Only the current namespace (a negative 32-bit id) is in the world.
    if flags != 0 || (netns as u32 as i32) >= 0 {
        return Ok(0);
    }
    let w = env.world();
    let Some(s) = find_socket(&w, proto, &tuple) else {
        return Ok(0);
    };
    let img = Box::new(sock_image(s));
    let addr = img.as_ptr() as u64;
    SOCKETS.lock().unwrap_or_else(|e| e.into_inner()).push(img);
    ctx.state()?.sockets_held.push(addr);
    Ok(addr)
}

pub(crate) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = env.clone();
    def(reg, "fib_lookup", move |ctx, a| {
        fib_lookup_helper(&e, ctx, a)
    });
    def(reg, "redirect_neigh", |ctx, a| {
        let (ifindex, params, plen, flags) = (a[0] as u32, a[1], a[2] as u32 as i32, a[3]);
        if (plen != 0 && (plen as i64) < BPF_REDIR_NEIGH_SIZE as i64) || flags != 0 {
            return Ok(TC_ACT_SHOT);
        }
        let nexthop = if plen != 0 {
            let b: [u8; 20] = ctx
                .read(params, BPF_REDIR_NEIGH_SIZE)?
                .get(..20)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    HelperError::Failed("struct bpf_redir_neigh is shorter than 20 bytes".into())
                })?;
            let fam = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let mut addr = [0u8; 16];
            addr.copy_from_slice(&b[4..20]);
            Some((fam, addr))
        } else {
            None
        };
        ctx.state()?.redirect = Some(Redirect::Neigh { ifindex, nexthop });
        Ok(TC_ACT_REDIRECT)
    });
    let e = env.clone();
    def(reg, "sk_lookup_tcp", move |ctx, a| {
        sk_lookup(&e, ctx, a, SockProto::Tcp)
    });
    let e = env.clone();
    def(reg, "skc_lookup_tcp", move |ctx, a| {
        sk_lookup(&e, ctx, a, SockProto::Tcp)
    });
    let e = env.clone();
    def(reg, "sk_lookup_udp", move |ctx, a| {
        sk_lookup(&e, ctx, a, SockProto::Udp)
    });
    def(reg, "sk_release", |ctx, a| {
        let sk = a[0];
        let st = ctx.state()?;
        let Some(i) = st.sockets_held.iter().position(|&s| s == sk) else {
            return Err(HelperError::Failed(format!(
                "bpf_sk_release: r1 = {sk:#x} is not a socket this run looked up (or it was released already)"
            )));
        };
        st.sockets_held.swap_remove(i);
        let mut socks = SOCKETS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(j) = socks.iter().position(|b| b.as_ptr() as u64 == sk) {
            socks.swap_remove(j);
        }
        Ok(0)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(dst: [u8; 4], ifindex: u32) -> FibParams {
        let mut p = FibParams([0; 64]);
        p.0[0] = AF_INET;
        p.set_u32(8, ifindex);
        p.0[32..36].copy_from_slice(&dst);
        p
    }

    #[test]
    fn the_default_world_does_not_forward() {
        let w = World::default();
        assert_eq!(
            fib_lookup(&w, &mut params([10, 0, 0, 1], 1), 0, false),
            BPF_FIB_LKUP_RET_FWD_DISABLED
        );
        assert_eq!(
            fib_lookup(&w, &mut params([10, 0, 0, 1], 9), 0, false),
            neg(ENODEV)
        );
    }

    #[test]
    fn a_gateway_route_resolves_through_its_neighbour() {
        let w = World::from_json(
            r#"{"interfaces":[{"ifindex":2,"mac":"02:00:00:00:00:01","forwarding":true,"mtu":1400,
                 "addresses":["10.1.0.1/24"]}],
                "routes":[{"dst":"0.0.0.0/0","dev":2,"gateway":"10.1.0.254","metric":7}],
                "neighbours":[{"ip":"10.1.0.254","dev":2,"mac":"02:00:00:00:00:fe"}]}"#,
        )
        .unwrap();
        let mut p = params([192, 0, 2, 9], 2);
        assert_eq!(fib_lookup(&w, &mut p, 0, true), BPF_FIB_LKUP_RET_SUCCESS);
        assert_eq!(&p.0[32..36], &[10, 1, 0, 254]);
        assert_eq!(&p.0[58..64], &[2, 0, 0, 0, 0, 0xfe]);
        assert_eq!(&p.0[52..58], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(p.u32_at(12), 7);
        assert_eq!(p.u16_at(6), 1400);
        // On the link, no neighbour.
        let mut p = params([10, 1, 0, 7], 2);
        assert_eq!(fib_lookup(&w, &mut p, 0, true), BPF_FIB_LKUP_RET_NO_NEIGH);
        // Its own address is local: not forwarded.
        let mut p = params([10, 1, 0, 1], 2);
        assert_eq!(fib_lookup(&w, &mut p, 0, true), BPF_FIB_LKUP_RET_NOT_FWDED);
        // Too long for the MTU.
        let mut p = params([192, 0, 2, 9], 2);
        p.set_u16(6, 1500);
        assert_eq!(
            fib_lookup(&w, &mut p, 0, true),
            BPF_FIB_LKUP_RET_FRAG_NEEDED
        );
        assert_eq!(p.u16_at(6), 1400);
    }
}
