//! The kernel tables that some helpers read, as the user describes them:
//! interfaces (ifindex, name, MAC, MTU, addresses, forwarding), FIB routes,
//! neighbours and sockets. `bpf_fib_lookup` and `bpf_redirect_neigh` read
//! the first three, `bpf_sk_lookup_tcp`, `bpf_sk_lookup_udp` and
//! `bpf_skc_lookup_tcp` the sockets ([`crate::fib`]).
//!
//! A [`World`] is read from JSON ([`World::from_json`]; the schema is in
//! `docs/world.md`). The default world ([`World::default`]) is a fresh
//! network namespace with its loopback device up: `lo` (ifindex 1,
//! `127.0.0.1/8` and `::1/128`, MTU 65536, forwarding off), no route
//! beyond the ones its addresses make, no neighbour, no socket. So
//! without a world every FIB lookup answers as such a namespace does
//! (`BPF_FIB_LKUP_RET_FWD_DISABLED` on lo, `-ENODEV` for other ifindexes)
//! and every socket lookup finds nothing.
//!
//! As the kernel does when an address is added, each address of an
//! interface that is up adds a `local` route for itself (table 255, the
//! local table) and, for a prefix shorter than the host length, a
//! connected `unicast` route for its subnet through the interface
//! (table 254, the main table; metric 0 for IPv4, 256 for IPv6), and an
//! IPv4 subnet's broadcast address a `broadcast` route (table 255).

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use thiserror::Error;

/// Why a world description was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WorldError {
    /// The text is not JSON of the schema (serde_json's message names the
    /// line and column).
    #[error("the world is not valid JSON of the schema in docs/world.md: {0}")]
    Json(String),
    /// The JSON parses but names something that cannot be.
    #[error("the world is inconsistent: {0}")]
    Invalid(String),
}

/// The main routing table (`RT_TABLE_MAIN`).
pub const RT_TABLE_MAIN: u32 = 254;
/// The local table (`RT_TABLE_LOCAL`).
pub const RT_TABLE_LOCAL: u32 = 255;
/// The default table (`RT_TABLE_DEFAULT`).
pub const RT_TABLE_DEFAULT: u32 = 253;

/// A MAC address, written `aa:bb:cc:dd:ee:ff`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac(pub [u8; 6]);

impl TryFrom<String> for Mac {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(format!(
                "MAC address {s:?}: want six hex bytes separated by ':'"
            ));
        }
        let mut m = [0u8; 6];
        for (i, (b, p)) in m.iter_mut().zip(&parts).enumerate() {
            *b = u8::from_str_radix(p, 16)
                .map_err(|_| format!("MAC address {s:?}: byte {} ({p:?}) is not hex", i + 1))?;
        }
        Ok(Mac(m))
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.0.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// An address with a prefix length, written `10.0.0.0/24` or `fd00::/64`
/// (a bare address is a host prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    fn max_len(addr: &IpAddr) -> u8 {
        if addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    /// Whether `ip` lies in the prefix (same family only).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - self.len as u32).unwrap_or(0);
                u32::from(a) & mask == u32::from(*b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX.checked_shl(128 - self.len as u32).unwrap_or(0);
                u128::from(a) & mask == u128::from(*b) & mask
            }
            _ => false,
        }
    }

    /// The prefix with its host bits cleared.
    pub fn network(&self) -> Prefix {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - self.len as u32).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - self.len as u32).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Prefix {
            addr,
            len: self.len,
        }
    }
}

impl TryFrom<String> for Prefix {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.as_str(), None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("prefix {s:?}: {a:?} is not an IPv4 or IPv6 address"))?;
        let max = Prefix::max_len(&addr);
        let len = match l {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("prefix {s:?}: the length must be 0 to {max}"))?,
        };
        Ok(Prefix { addr, len })
    }
}

impl From<Prefix> for String {
    fn from(p: Prefix) -> String {
        format!("{}/{}", p.addr, p.len)
    }
}

fn yes() -> bool {
    true
}
fn default_mtu() -> u32 {
    1500
}
fn main_table() -> u32 {
    RT_TABLE_MAIN
}

/// A network device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Its ifindex (not 0; unique).
    pub ifindex: u32,
    #[serde(default)]
    pub name: String,
    /// Its MAC address (`smac` of a FIB lookup that leaves through it).
    #[serde(default)]
    pub mac: Mac,
    /// Default 1500.
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Administratively up (default true); the routes through a device
    /// that is down are not used, and a FIB lookup of an skb that leaves
    /// through it says `FRAG_NEEDED` as `is_skb_forwardable` does.
    #[serde(default = "yes")]
    pub up: bool,
    /// `net.ipv4.conf.<dev>.forwarding` (default false): a FIB lookup
    /// whose input device does not forward IPv4 says `FWD_DISABLED`.
    #[serde(default)]
    pub forwarding: bool,
    /// `net.ipv6.conf.<dev>.forwarding` (default false).
    #[serde(default)]
    pub forwarding_v6: bool,
    /// Its addresses with their prefix lengths.
    #[serde(default)]
    pub addresses: Vec<Prefix>,
    /// A loopback device (default false): its address prefixes are `local`
    /// routes, as the kernel makes `127.0.0.0/8` on `lo`.
    #[serde(default)]
    pub loopback: bool,
}

/// What a route does with the packets it matches (`RTN_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    #[default]
    Unicast,
    Local,
    Broadcast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// A FIB entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The destination prefix (`0.0.0.0/0`, `::/0` for a default route).
    pub dst: Prefix,
    /// Default `unicast`.
    #[serde(default, rename = "type")]
    pub kind: RouteType,
    /// The output device's ifindex (required for unicast and local).
    #[serde(default)]
    pub dev: Option<u32>,
    /// The next hop; none: the destination is on the link. An IPv6 gateway
    /// on an IPv4 route is allowed (RFC 5549), as in the kernel.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    /// The table (default 254, main).
    #[serde(default = "main_table")]
    pub table: u32,
    /// The priority: among routes of the same prefix the lowest wins;
    /// `rt_metric` of a lookup. An IPv6 route's 0 is 1024, as the kernel
    /// makes it.
    #[serde(default)]
    pub metric: u32,
    /// The preferred source (`BPF_FIB_LOOKUP_SRC`).
    #[serde(default)]
    pub prefsrc: Option<IpAddr>,
    /// The route's locked MTU (`mtu lock N` in `ip route`), which a lookup
    /// with `tot_len` checks against; none: the device's MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// A neighbour's state (`NUD_*`): all but `incomplete` and `failed` are
/// `NUD_VALID`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NudState {
    #[default]
    Permanent,
    Reachable,
    Stale,
    Delay,
    Probe,
    Noarp,
    Incomplete,
    Failed,
}

impl NudState {
    /// `nud_state & NUD_VALID`.
    pub fn valid(self) -> bool {
        !matches!(self, NudState::Incomplete | NudState::Failed)
    }
}

/// An entry of the neighbour (ARP/NDP) table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbour {
    pub ip: IpAddr,
    /// The device it was learnt on.
    pub dev: u32,
    pub mac: Mac,
    /// Default `permanent`.
    #[serde(default)]
    pub state: NudState,
}

/// A socket's transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SockProto {
    Tcp,
    Udp,
}

/// A socket's state: a TCP listener or a connected (established) socket;
/// for UDP, `listen` is a bound socket, `established` a connected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SockState {
    Listen,
    Established,
}

/// A socket of the namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Socket {
    pub protocol: SockProto,
    pub state: SockState,
    /// The local address and port (`0.0.0.0:80` or `[::]:80`: any
    /// address).
    pub local: SocketAddr,
    /// The peer (required for `established`).
    #[serde(default)]
    pub remote: Option<SocketAddr>,
}

/// The kernel tables the helpers read. See the module doc.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default = "default_interfaces")]
    pub interfaces: Vec<Interface>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub neighbours: Vec<Neighbour>,
    #[serde(default)]
    pub sockets: Vec<Socket>,
}

fn default_interfaces() -> Vec<Interface> {
    vec![Interface {
        ifindex: 1,
        name: "lo".into(),
        mac: Mac::default(),
        mtu: 65536,
        loopback: true,
        up: true,
        forwarding: false,
        forwarding_v6: false,
        addresses: vec![
            Prefix {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                len: 8,
            },
            Prefix {
                addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                len: 128,
            },
        ],
    }]
}

impl Default for World {
    fn default() -> Self {
        World {
            interfaces: default_interfaces(),
            routes: Vec::new(),
            neighbours: Vec::new(),
            sockets: Vec::new(),
        }
    }
}

impl World {
    /// Reads and checks a world from its JSON text.
    pub fn from_json(text: &str) -> Result<World, WorldError> {
        let w: World = serde_json::from_str(text).map_err(|e| WorldError::Json(e.to_string()))?;
        w.validate()?;
        Ok(w)
    }

    /// The world as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks what the schema cannot: unique non-zero ifindexes, devices
    /// that exist, address families that agree.
    pub fn validate(&self) -> Result<(), WorldError> {
        let bad = |m: String| Err(WorldError::Invalid(m));
        for (i, d) in self.interfaces.iter().enumerate() {
            if d.ifindex == 0 {
                return bad(format!("interface {} ({:?}) has ifindex 0", i + 1, d.name));
            }
            if self
                .interfaces
                .iter()
                .take(i)
                .any(|o| o.ifindex == d.ifindex)
            {
                return bad(format!(
                    "interfaces {:?} and another share ifindex {}",
                    d.name, d.ifindex
                ));
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            let what = format!("route {} ({})", i + 1, String::from(r.dst));
            if let Some(dev) = r.dev {
                if self.interface(dev).is_none() {
                    return bad(format!("{what} names dev {dev}, which no interface has"));
                }
            } else if matches!(r.kind, RouteType::Unicast | RouteType::Local) {
                return bad(format!("{what} is {:?} but names no dev", r.kind));
            }
            if let (Some(gw), IpAddr::V6(_)) = (r.gateway, r.dst.addr) {
                if gw.is_ipv4() {
                    return bad(format!(
                        "{what}: an IPv6 route cannot have IPv4 gateway {gw}"
                    ));
                }
            }
            if let Some(src) = r.prefsrc {
                if src.is_ipv4() != r.dst.addr.is_ipv4() {
                    return bad(format!(
                        "{what}: prefsrc {src} is not of the route's family"
                    ));
                }
            }
        }
        for (i, n) in self.neighbours.iter().enumerate() {
            if self.interface(n.dev).is_none() {
                return bad(format!(
                    "neighbour {} ({}) names dev {}, which no interface has",
                    i + 1,
                    n.ip,
                    n.dev
                ));
            }
        }
        for (i, s) in self.sockets.iter().enumerate() {
            match (s.state, s.remote) {
                (SockState::Established, None) => {
                    return bad(format!(
                        "socket {} ({}) is established but has no remote",
                        i + 1,
                        s.local
                    ))
                }
                (_, Some(r)) if r.is_ipv4() != s.local.is_ipv4() => {
                    return bad(format!(
                        "socket {}: local {} and remote {r} are of different families",
                        i + 1,
                        s.local
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The interface with that ifindex.
    pub fn interface(&self, ifindex: u32) -> Option<&Interface> {
        self.interfaces.iter().find(|d| d.ifindex == ifindex)
    }

    /// The routes the user gave and those the interfaces' addresses make,
    /// in that order.
    pub fn all_routes(&self) -> Vec<Route> {
        let mut v = self.routes.clone();
        // The kernel gives an IPv6 route added with metric 0 the user
        // priority, 1024 (IP6_RT_PRIO_USER).
        for r in v.iter_mut() {
            if r.dst.addr.is_ipv6() && r.metric == 0 {
                r.metric = 1024;
            }
        }
        for d in self.interfaces.iter().filter(|d| d.up) {
            for a in &d.addresses {
                let host = Prefix::max_len(&a.addr);
                let route = |dst: Prefix, kind, table, metric| Route {
                    dst,
                    kind,
                    dev: Some(d.ifindex),
                    gateway: None,
                    table,
                    metric,
                    prefsrc: Some(a.addr),
                    mtu: None,
                };
                v.push(route(
                    Prefix {
                        addr: a.addr,
                        len: host,
                    },
                    RouteType::Local,
                    RT_TABLE_LOCAL,
                    0,
                ));
                if a.len < host && d.loopback {
                    v.push(route(a.network(), RouteType::Local, RT_TABLE_LOCAL, 0));
                } else if a.len < host {
                    let metric = if a.addr.is_ipv4() { 0 } else { 256 };
                    v.push(route(
                        a.network(),
                        RouteType::Unicast,
                        RT_TABLE_MAIN,
                        metric,
                    ));
                }
                if let IpAddr::V4(ip) = a.addr {
                    if a.len < 31 {
                        let bcast = u32::from(ip) | (u32::MAX >> a.len);
                        v.push(route(
                            Prefix {
                                addr: IpAddr::V4(Ipv4Addr::from(bcast)),
                                len: 32,
                            },
                            RouteType::Broadcast,
                            RT_TABLE_LOCAL,
                            0,
                        ));
                    }
                }
            }
        }
        v
    }

    /// The neighbour entry for `ip` on `dev`.
    pub fn neighbour(&self, dev: u32, ip: &IpAddr) -> Option<&Neighbour> {
        self.neighbours.iter().find(|n| n.dev == dev && &n.ip == ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_world_reads() {
        let text = include_str!("../../examples/world.json");
        let w = World::from_json(text).unwrap();
        assert_eq!(w.interfaces.len(), 3);
        assert_eq!(w.routes[1].metric, 10);
        assert_eq!(w.sockets.len(), 4);
        // And back: what to_json writes reads as the same world.
        assert_eq!(World::from_json(&w.to_json()).unwrap(), w);
    }

    #[test]
    fn an_empty_object_is_the_default_world() {
        assert_eq!(World::from_json("{}").unwrap(), World::default());
    }

    #[test]
    fn bad_worlds_are_refused_by_what_is_wrong() {
        let e = World::from_json(r#"{"interfaces":[{"ifindex":2,"mac":"aa:bb"}]}"#).unwrap_err();
        assert!(e.to_string().contains("six hex bytes"), "{e}");
        let e = World::from_json(r#"{"routes":[{"dst":"10.0.0.0/33","dev":1}]}"#).unwrap_err();
        assert!(e.to_string().contains("0 to 32"), "{e}");
        let e = World::from_json(r#"{"routes":[{"dst":"10.0.0.0/8","dev":7}]}"#).unwrap_err();
        assert!(e.to_string().contains("dev 7"), "{e}");
        let e = World::from_json(r#"{"colour":1}"#).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn addresses_make_local_connected_and_broadcast_routes() {
        let w = World::from_json(
            r#"{"interfaces":[{"ifindex":2,"name":"eth0","addresses":["10.1.2.3/24"]}]}"#,
        )
        .unwrap();
        let r = w.all_routes();
        let has = |dst: &str, kind, table| {
            let p = Prefix::try_from(dst.to_string()).unwrap();
            r.iter()
                .any(|x| x.dst == p && x.kind == kind && x.table == table)
        };
        assert!(has("10.1.2.3/32", RouteType::Local, 255));
        assert!(has("10.1.2.0/24", RouteType::Unicast, 254));
        assert!(has("10.1.2.255/32", RouteType::Broadcast, 255));
    }
}
