//! Helper functions as the engines see them: the call convention (r1-r5 in,
//! r0 out), a registry by id, and what a helper can reach during one call:
//! the memory a program hands it (checked against the run's regions), the
//! run's mutable state ([`RunState`]: the packet's bounds, the redirect
//! verdict, checksum state, tail calls), the program's maps, and a way to
//! call back into the program ([`Callbacks`], for `bpf_loop`).

use crate::env::HelperEnv;
use crate::proto::{progs, Proto};
use ironbpf_isa::abi::{
    Access, AccessFault, MemoryRegion, RegionKind, RegionResolver, RegionTable,
};
use ironbpf_maps::MapSet;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use thiserror::Error;

/// What `ld_imm64 rX = subprog[...]` (`BPF_PSEUDO_FUNC`) loads in ironbpf's
/// engines: this base plus the subprogram's instruction index. Like a map
/// handle it lies in the kernel's half of the address space, so a program
/// that dereferences it faults; helpers that take a callback
/// (`ARG_PTR_TO_FUNC`) hand it back to the engine through [`Callbacks`].
pub const FUNC_HANDLE_BASE: u64 = 0xffff_e000_0000_0000;

/// What a helper can report instead of a return value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HelperError {
    /// A pointer argument does not point into memory the program may touch.
    #[error("{0}")]
    Fault(AccessFault),
    /// The helper ends the program, which then returns `r0` (uBPF's unwind
    /// test helper behaves so).
    #[error("the helper stopped the program with r0 = {r0:#x}")]
    Stop { r0: u64 },
    /// `bpf_tail_call` found its program: the engine ends the current
    /// program and runs [`RunState::tail_call`] in its place.
    #[error("tail call")]
    TailCall,
    /// A callback into the program failed; the engine kept the error and
    /// reports it (the text is a summary).
    #[error("the callback failed: {0}")]
    Callback(String),
    /// Any other failure, in words for the user.
    #[error("{0}")]
    Failed(String),
}

/// The kernel's errno values the helpers return (negated) in r0.
pub mod errno {
    pub const EPERM: i64 = 1;
    pub const ENOENT: i64 = 2;
    pub const E2BIG: i64 = 7;
    pub const ENOMEM: i64 = 12;
    pub const EACCES: i64 = 13;
    pub const EFAULT: i64 = 14;
    pub const EBUSY: i64 = 16;
    pub const EEXIST: i64 = 17;
    pub const EINVAL: i64 = 22;
    pub const ENOSPC: i64 = 28;
    pub const ERANGE: i64 = 34;
    pub const EOPNOTSUPP: i64 = 95;
    /// The kernel-internal `ENOTSUPP` (524), which some helpers return.
    pub const ENOTSUPP: i64 = 524;

    /// `-e` as r0 holds it.
    pub const fn neg(e: i64) -> u64 {
        (-e) as u64
    }
}

/// What kind of buffer a run's packet lives in: which helpers may move its
/// bounds, and how far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// An `xdp_buff`: the frame starts at `hard_start` (the headroom, of
    /// which a `struct xdp_frame` is reserved) and `data_end` may grow up to
    /// `hard_end` (the frame's end less the reserved `skb_shared_info`).
    Xdp,
    /// An `sk_buff`'s linear data.
    Skb,
}

/// A run's packet as the helpers that move its bounds see it. The engine
/// that sets it guarantees that `[hard_start, hard_end)` is live, writable
/// memory owned by the run for the whole run (for an XDP frame, from
/// `hard_start + XDP_FRAME_SIZE` on: the helpers never reach below that),
/// and reads the bounds back after every helper call
/// ([`RunState::packet_gen`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    pub kind: PacketKind,
    pub hard_start: u64,
    pub hard_end: u64,
    pub data_meta: u64,
    pub data: u64,
    pub data_end: u64,
    /// The MAC header (skb): where `BPF_HDR_START_MAC` counts from; `None`
    /// when the buffer does not hold it.
    pub mac_header: Option<u64>,
    /// The network header (skb): where `BPF_HDR_START_NET` counts from.
    pub network_header: Option<u64>,
}

impl Packet {
    /// A packet of `len` bytes at `start` with no room around it (what a
    /// plain slice handed to an engine gives). An XDP frame's
    /// `hard_start` is put `sizeof(struct xdp_frame)` before `start`: the
    /// helpers keep `data_meta` at or above that reserve, so no byte before
    /// `start` is ever reached, and the head may move back to where it was.
    pub fn fixed(kind: PacketKind, start: u64, len: u64) -> Packet {
        Packet {
            kind,
            hard_start: if kind == PacketKind::Xdp {
                start - crate::net::XDP_FRAME_SIZE
            } else {
                start
            },
            hard_end: start + len,
            data_meta: start,
            data: start,
            data_end: start + len,
            mac_header: None,
            network_header: (kind == PacketKind::Skb).then_some(start),
        }
    }

    /// The packet a program of kernel type `prog_type` sees in a region of
    /// `len` bytes at `start` with no room around it: an XDP frame, or an
    /// skb whose data starts at the MAC header (tc) or the network header.
    pub fn of_region(prog_type: u32, start: u64, len: u64) -> Packet {
        const ETH_HLEN: u64 = 14;
        match progs::of_prog_type(prog_type) {
            progs::XDP => Packet::fixed(PacketKind::Xdp, start, len),
            progs::TC => Packet {
                mac_header: Some(start),
                network_header: (len >= ETH_HLEN).then_some(start + ETH_HLEN),
                ..Packet::fixed(PacketKind::Skb, start, len)
            },
            _ => Packet::fixed(PacketKind::Skb, start, len),
        }
    }

    /// `data_end - data`.
    pub fn len(&self) -> u64 {
        self.data_end - self.data
    }

    /// Whether the packet has no byte.
    pub fn is_empty(&self) -> bool {
        self.data_end == self.data
    }
}

/// `skb->ip_summed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpSummed {
    /// `CHECKSUM_NONE`: what the kernel's test run gives.
    #[default]
    None,
    /// `CHECKSUM_UNNECESSARY`.
    Unnecessary,
    /// `CHECKSUM_COMPLETE`: `csum` holds the packet's checksum.
    Complete,
    /// `CHECKSUM_PARTIAL`.
    Partial,
}

/// The parts of an `sk_buff` that helpers read and change beyond the packet
/// bytes and the `__sk_buff` fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkbState {
    pub ip_summed: IpSummed,
    /// `skb->csum` (for `CHECKSUM_COMPLETE`).
    pub csum: u32,
    /// `skb->csum_level` (0 to 3, for `CHECKSUM_UNNECESSARY`).
    pub csum_level: u8,
    /// `skb->sw_hash`/`l4_hash` are set: the hash is not recomputed.
    pub hash_valid: bool,
    /// `skb->encapsulation`: `bpf_skb_adjust_room` pushed an outer header
    /// (a second encapsulation is `-EALREADY`).
    pub encapsulation: bool,
}

/// Where `bpf_redirect` or `bpf_redirect_map` sent the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `bpf_redirect(ifindex, flags)`.
    Ifindex { ifindex: u32, flags: u64 },
    /// `bpf_redirect_map(map, key, flags)`: the map's id in its set.
    Map { map_id: u32, key: u32, flags: u64 },
    /// `bpf_redirect_neigh(ifindex, params, plen, 0)`: out of `ifindex`
    /// through the neighbour subsystem, to the next hop `nexthop` when the
    /// program gave one (`struct bpf_redir_neigh`: the family and the
    /// address, 16 bytes, an IPv4 one in the first 4).
    Neigh {
        ifindex: u32,
        nexthop: Option<(u32, [u8; 16])>,
    },
}

/// The tunnel metadata an skb carries (`struct ip_tunnel_info` of a
/// metadata dst): what `bpf_skb_set_tunnel_key` stores and
/// `bpf_skb_get_tunnel_key` reads. Addresses are in network byte order as
/// the kernel keeps them; `src`/`dst` are those of the outer header to
/// send (the kernel's `key.u.ipv4.src/dst`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TunnelInfo {
    /// `IP_TUNNEL_INFO_IPV6`: the addresses are IPv6 ones.
    pub ipv6: bool,
    /// `key.tun_id` as a host number (the kernel stores it big-endian).
    pub tun_id: u64,
    pub tos: u8,
    pub ttl: u8,
    /// `key.tun_flags`: the `IP_TUNNEL_*_BIT` bits (CSUM 0, KEY 2, SEQ 3,
    /// DONT_FRAGMENT 8, GENEVE_OPT 11, VXLAN_OPT 12, NOCACHE 13,
    /// ERSPAN_OPT 14, GTP_OPT 15, PFCP_OPT 16).
    pub tun_flags: u32,
    /// The IPv6 flow label (host order, 20 bits).
    pub label: u32,
    /// The outer source: an IPv4 address in the first 4 bytes.
    pub src: [u8; 16],
    /// The outer destination.
    pub dst: [u8; 16],
    /// The tunnel options `bpf_skb_set_tunnel_opt` attached
    /// (`options_len` bytes).
    pub options: Vec<u8>,
}

/// A pending tail call: the program stored in the program array (an
/// engine's own type, which the engine downcasts) and the context for it.
#[derive(Clone)]
pub struct TailCall {
    pub prog: Arc<dyn Any + Send + Sync>,
    pub ctx: u64,
}

impl std::fmt::Debug for TailCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TailCall {{ ctx: {:#x} }}", self.ctx)
    }
}

/// The state of one run that helpers read and change. Engines create it
/// per run and read it back afterwards (the verdict of a redirect, the
/// packet after `bpf_xdp_adjust_head`).
#[derive(Clone, Debug, Default)]
pub struct RunState {
    /// The program type (`BPF_PROG_TYPE_*`), 0 when the engine does not know
    /// it; helpers that exist in several forms (`bpf_redirect` for tc and
    /// for XDP) choose by it.
    pub prog_type: u32,
    /// The CPU slot the run uses (`bpf_get_smp_processor_id`, per-CPU maps).
    pub cpu: u32,
    /// The context's address (r1 at entry).
    pub ctx: u64,
    /// The packet, once a helper moved its bounds or when the engine lays
    /// it out itself; `None`: the run's packet region as it is
    /// ([`Packet::of_region`]).
    pub packet: Option<Packet>,
    /// Bumped by every helper that moves the packet's bounds: engines
    /// rebuild their region table and context pointers when it changes.
    pub packet_gen: u64,
    pub skb: SkbState,
    pub redirect: Option<Redirect>,
    /// Tail calls taken so far (the kernel allows 33).
    pub tail_call_cnt: u32,
    /// Set by `bpf_tail_call` with [`HelperError::TailCall`].
    pub tail_call: Option<TailCall>,
    /// The cookie of the socket the packet belongs to
    /// (`bpf_get_socket_cookie`), given on first use.
    pub socket_cookie: Option<u64>,
    /// The tunnel metadata `bpf_skb_set_tunnel_key` attached (a fresh
    /// test-run skb has none).
    pub tunnel: Option<TunnelInfo>,
    /// Sockets a lookup helper handed out and the program has not released
    /// yet (`bpf_sk_release`), by handle.
    pub sockets_held: Vec<u64>,
    /// The addresses of the `bpf_spin_lock`s the run holds, in the order it
    /// took them. Per run, not per thread: a lock a run leaves taken is
    /// released by [`RunState::release_spin_locks`] as the run ends, so it
    /// neither makes the next run's `bpf_spin_lock` fail nor spin forever.
    pub spin_locks_held: Vec<u64>,
    /// The fragments of a multi-buffer XDP frame (`skb_shared_info`'s
    /// `frags`, what `BPF_PROG_TEST_RUN` puts past the linear part), in
    /// order; empty for a linear frame, as the kernel's frags flag is
    /// clear. Each fragment is a page of [`crate::net::XDP_FRAG_SIZE`]
    /// bytes holding `len()` bytes of packet from its start, so it can
    /// grow by the rest (`bpf_xdp_adjust_tail`). A program reaches them
    /// only through helpers (`bpf_xdp_load_bytes`, `bpf_xdp_store_bytes`).
    pub xdp_frags: Vec<Vec<u8>>,
}

impl RunState {
    /// Whether the program type is one of the networking families `mask`
    /// ([`progs`]) names.
    pub fn is(&self, mask: u32) -> bool {
        progs::of_prog_type(self.prog_type) & mask != 0
    }

    /// Records that the packet's bounds changed.
    pub fn set_packet(&mut self, p: Packet) {
        self.packet = Some(p);
        self.packet_gen += 1;
    }

    /// Releases every `bpf_spin_lock` the run still holds (stores 0 in each
    /// lock word) and returns the address of the first one, or `None` when
    /// the run holds none. Engines call it as a run ends: the kernel's
    /// verifier refuses a program that can exit holding a lock ("BPF_EXIT
    /// instruction in main prog cannot be used inside bpf_spin_lock-ed
    /// region"), and an unverified program that does must not leave the
    /// lock taken for the runs after it.
    ///
    /// # Safety
    ///
    /// The memory the run's `bpf_spin_lock` calls locked must still be live
    /// and writable: call it before the run's regions (its context, packet,
    /// map values) go away.
    pub unsafe fn release_spin_locks(&mut self) -> Option<u64> {
        let first = self.spin_locks_held.first().copied();
        for addr in self.spin_locks_held.drain(..) {
            // SAFETY: `bpf_spin_lock` checked that [addr, addr + 4) is a
            // 4-aligned, writable part of the run's memory before taking
            // it, and the caller keeps that memory live.
            let l = unsafe { std::sync::atomic::AtomicU32::from_ptr(addr as *mut u32) };
            l.store(0, std::sync::atomic::Ordering::Release);
        }
        first
    }
}

/// How a helper calls back into the program (`bpf_loop`,
/// `bpf_for_each_map_elem`): the engine runs the subprogram that `func`
/// names ([`FUNC_HANDLE_BASE`]) in a new stack frame below the caller's,
/// with r1-r5 = `args`, and returns its r0. `extra` is memory the callback
/// may read besides the run's (a key the helper copied out, say).
pub trait Callbacks {
    fn call(
        &mut self,
        state: &mut RunState,
        func: u64,
        args: [u64; 5],
        extra: Option<MemoryRegion>,
    ) -> Result<u64, HelperError>;
}

/// The memory and state a helper sees during one call.
pub struct HelperCtx<'a> {
    regions: &'a RegionTable,
    stack: (u64, u64),
    resolver: Option<&'a dyn RegionResolver>,
    state: Option<&'a mut RunState>,
    callbacks: Option<&'a mut dyn Callbacks>,
    maps: Option<&'a MapSet>,
}

impl<'a> HelperCtx<'a> {
    /// The view of a run's memory for one call: its region table, the
    /// stack bounds `[lo, hi)` of the current call chain, and the resolver
    /// of map values. Engines build it; helpers only use it.
    ///
    /// # Safety
    ///
    /// Helpers read and write every address the table, the stack bounds
    /// and the resolver's regions allow: they must all be live for as long
    /// as the context is used, and writable ones not aliased by a Rust
    /// reference meanwhile.
    pub unsafe fn new(
        regions: &'a RegionTable,
        stack: (u64, u64),
        resolver: Option<&'a dyn RegionResolver>,
    ) -> Self {
        HelperCtx {
            regions,
            stack,
            resolver,
            state: None,
            callbacks: None,
            maps: None,
        }
    }

    /// Gives the helper the run's state.
    pub fn with_state(mut self, state: &'a mut RunState) -> Self {
        self.state = Some(state);
        self
    }

    /// Lets the helper call back into the program.
    pub fn with_callbacks(mut self, callbacks: &'a mut dyn Callbacks) -> Self {
        self.callbacks = Some(callbacks);
        self
    }

    /// The maps that the program's map handles name.
    pub fn with_maps(mut self, maps: &'a MapSet) -> Self {
        self.maps = Some(maps);
        self
    }

    /// The run's state; helpers that need it fail clearly under an engine
    /// that gives none.
    pub fn state(&mut self) -> Result<&mut RunState, HelperError> {
        self.state
            .as_deref_mut()
            .ok_or_else(|| HelperError::Failed("this engine gives helpers no run state".into()))
    }

    /// The run's state, if the engine gives one.
    pub fn state_ref(&self) -> Option<&RunState> {
        self.state.as_deref()
    }

    /// The program's maps.
    pub fn maps(&self) -> Result<&'a MapSet, HelperError> {
        self.maps.ok_or_else(|| {
            HelperError::Failed("the program has no maps (the engine was given no map set)".into())
        })
    }

    /// Calls the subprogram `func` with r1-r5 = `args` and returns its r0.
    pub fn call_function(
        &mut self,
        func: u64,
        args: [u64; 5],
        extra: Option<MemoryRegion>,
    ) -> Result<u64, HelperError> {
        let (Some(cb), Some(state)) = (self.callbacks.as_deref_mut(), self.state.as_deref_mut())
        else {
            return Err(HelperError::Failed(
                "this engine cannot call back into the program".into(),
            ));
        };
        cb.call(state, func, args, extra)
    }

    /// Checks that the program may access `[addr, addr + len)`.
    pub fn check(&self, addr: u64, len: u64, access: Access) -> Result<(), HelperError> {
        if len == 0 {
            return Ok(());
        }
        let (lo, hi) = self.stack;
        if addr >= lo && addr.checked_add(len).is_some_and(|e| e <= hi) {
            return Ok(());
        }
        self.regions
            .check(addr, len, access, self.resolver)
            .map_err(HelperError::Fault)
    }

    /// The run's packet region, if it has one (`skb->data` to the end, or
    /// the XDP frame's data).
    pub fn packet(&self) -> Option<MemoryRegion> {
        self.regions
            .regions()
            .iter()
            .find(|r| r.kind == RegionKind::Packet)
            .copied()
    }

    /// Copies `len` bytes of program memory at `addr`, after checking them.
    pub fn read(&self, addr: u64, len: u64) -> Result<Vec<u8>, HelperError> {
        self.check(addr, len, Access::Load)?;
        let mut out = vec![0u8; len as usize];
        // SAFETY: the region table (or the stack bounds) vouches that
        // [addr, addr + len) is live memory of this run.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(out)
    }

    /// Copies `N` bytes of program memory at `addr`, after checking them.
    pub fn read_array<const N: usize>(&self, addr: u64) -> Result<[u8; N], HelperError> {
        self.check(addr, N as u64, Access::Load)?;
        let mut out = [0u8; N];
        // SAFETY: the region table (or the stack bounds) vouches that
        // [addr, addr + N) is live memory of this run.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), N) };
        Ok(out)
    }

    /// Reads a NUL-terminated string of at most `max` bytes at `addr`
    /// (without the NUL), checking each byte.
    pub fn read_cstr(&self, addr: u64, max: u64) -> Result<Vec<u8>, HelperError> {
        let mut out = Vec::new();
        for i in 0..max {
            let b = self
                .read(addr.wrapping_add(i), 1)?
                .first()
                .copied()
                .unwrap_or(0);
            if b == 0 {
                break;
            }
            out.push(b);
        }
        Ok(out)
    }

    /// Writes `bytes` to program memory at `addr`, after checking it is
    /// writable.
    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), HelperError> {
        self.check(addr, bytes.len() as u64, Access::Store)?;
        // SAFETY: the region table (or the stack bounds) vouches that the
        // destination is live, writable memory of this run.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
        Ok(())
    }

    /// Fills `[addr, addr + len)` of program memory with zeroes.
    pub fn zero(&self, addr: u64, len: u64) -> Result<(), HelperError> {
        self.write(addr, &vec![0u8; len as usize])
    }
}

/// A helper function: five arguments in, one value out.
pub trait Helper: Send + Sync {
    /// The helper's name, as the kernel spells it (`bpf_map_lookup_elem`).
    fn name(&self) -> &str;
    /// Calls the helper with r1-r5.
    fn call(&self, ctx: &mut HelperCtx<'_>, args: [u64; 5]) -> Result<u64, HelperError>;
}

/// A helper made of a name and a closure.
pub struct FnHelper<F> {
    name: String,
    f: F,
}

impl<F> FnHelper<F>
where
    F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync,
{
    /// Wraps a closure as a helper.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        FnHelper {
            name: name.into(),
            f,
        }
    }
}

impl<F> Helper for FnHelper<F>
where
    F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn call(&self, ctx: &mut HelperCtx<'_>, args: [u64; 5]) -> Result<u64, HelperError> {
        (self.f)(ctx, args)
    }
}

/// One row of the helper table: the kernel's id and name, the prototype
/// the verifier checks calls against (with the program types that may call
/// the helper), and the implementation.
#[derive(Clone)]
pub struct HelperEntry {
    pub id: i64,
    /// With the `bpf_` prefix for the kernel's helpers.
    pub name: String,
    /// `None` for helpers registered without one (test helpers).
    pub proto: Option<Proto>,
    pub helper: Arc<dyn Helper>,
}

impl HelperEntry {
    /// Whether a program of kernel type `prog_type` may call it. A kernel
    /// helper (its id and name are those of a helper of Linux 6.18): when
    /// the type's `get_func_proto` offers it to a privileged GPL program
    /// ([`crate::catalog::func_proto`]); never for a number that is not a
    /// kernel program type. A helper an embedder added: when its prototype's
    /// families ([`Proto::prog_types`]) include the type's, always without a
    /// prototype.
    pub fn allowed_for(&self, prog_type: u32) -> bool {
        let kernel_helper = crate::catalog::helper_name(self.id) == Some(self.name.as_str());
        let Some(pt) = ironbpf_progtype::ProgTypeId::from_kernel_id(prog_type) else {
            return !kernel_helper && self.proto.is_none_or(|p| p.prog_types == progs::ALL);
        };
        if kernel_helper {
            let env = crate::catalog::ProtoEnv {
                sleepable: true,
                ..Default::default()
            };
            return crate::catalog::offered(pt, None, self.id, &env);
        }
        self.proto.is_none_or(|p| p.prog_types & progs::of(pt) != 0)
    }

    /// The prototype in the kernel's C style:
    /// `long bpf_strtol(buf: ARG_PTR_TO_MEM | MEM_RDONLY, ...)`.
    pub fn signature(&self) -> String {
        match &self.proto {
            Some(p) => p.signature(&self.name),
            None => format!("u64 {}(u64, u64, u64, u64, u64)", self.name),
        }
    }
}

/// The helpers a program may call, by id: the helper table.
/// [`HelperRegistry::standard`] holds the kernel's helpers that ironbpf
/// implements; an embedder adds its own with
/// [`HelperRegistry::register_with_proto`].
#[derive(Clone, Default)]
pub struct HelperRegistry {
    by_id: HashMap<i64, HelperEntry>,
    env: Option<Arc<HelperEnv>>,
    /// Helpers [`HelperRegistry::for_prog_type`] left out: their names and
    /// the program type, so that a call to one is refused by name.
    refused: HashMap<i64, (String, u32)>,
}

impl HelperRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The kernel's helpers that ironbpf implements, bound to a fresh
    /// [`HelperEnv`] of the host process (see [`HelperRegistry::env`]).
    pub fn standard() -> Self {
        Self::standard_with(Arc::new(HelperEnv::host()))
    }

    /// The kernel's helpers, bound to `env`.
    pub fn standard_with(env: Arc<HelperEnv>) -> Self {
        let mut r = HelperRegistry {
            by_id: HashMap::new(),
            env: Some(env.clone()),
            refused: HashMap::new(),
        };
        crate::table::register_standard(&mut r, &env);
        r
    }

    /// The environment the standard helpers read (task identity, clocks)
    /// and write (the trace log), when this registry has them.
    pub fn env(&self) -> Option<&Arc<HelperEnv>> {
        self.env.as_ref()
    }

    /// Registers `helper` under `id`, with no prototype, replacing any
    /// helper with that id.
    pub fn register(&mut self, id: i64, helper: Arc<dyn Helper>) -> &mut Self {
        let name = helper.name().to_string();
        self.by_id.insert(
            id,
            HelperEntry {
                id,
                name,
                proto: None,
                helper,
            },
        );
        self
    }

    /// Registers a closure under `id`, with no prototype.
    pub fn register_fn<F>(&mut self, id: i64, name: &str, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.register(id, Arc::new(FnHelper::new(name, f)))
    }

    /// Registers a closure under `id` with its prototype: the verifier
    /// checks calls against `proto`, and only the program types in
    /// `proto.prog_types` may call it.
    pub fn register_with_proto<F>(&mut self, id: i64, name: &str, proto: Proto, f: F) -> &mut Self
    where
        F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.insert(HelperEntry {
            id,
            name: name.to_string(),
            proto: Some(proto),
            helper: Arc::new(FnHelper::new(name, f)),
        })
    }

    /// Adds a row, replacing any with its id.
    pub fn insert(&mut self, entry: HelperEntry) -> &mut Self {
        self.by_id.insert(entry.id, entry);
        self
    }

    /// Removes the helper with that id.
    pub fn remove(&mut self, id: i64) -> Option<HelperEntry> {
        self.by_id.remove(&id)
    }

    /// The helper with that id.
    pub fn get(&self, id: i64) -> Option<&Arc<dyn Helper>> {
        self.by_id.get(&id).map(|e| &e.helper)
    }

    /// The table row with that id.
    pub fn entry(&self, id: i64) -> Option<&HelperEntry> {
        self.by_id.get(&id)
    }

    /// The prototype of the helper with that id.
    pub fn proto(&self, id: i64) -> Option<&Proto> {
        self.by_id.get(&id).and_then(|e| e.proto.as_ref())
    }

    /// The row of the helper named `name` (with or without `bpf_`).
    pub fn by_name(&self, name: &str) -> Option<&HelperEntry> {
        let full = if name.starts_with("bpf_") {
            name.to_string()
        } else {
            format!("bpf_{name}")
        };
        self.by_id
            .values()
            .find(|e| e.name == full || e.name == name)
    }

    /// The registered ids, sorted.
    pub fn ids(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.by_id.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// The rows, by id.
    pub fn entries(&self) -> Vec<&HelperEntry> {
        let mut v: Vec<&HelperEntry> = self.by_id.values().collect();
        v.sort_by_key(|e| e.id);
        v
    }

    /// The helpers a program of kernel type `prog_type` may call, as the
    /// kernel's `get_func_proto` of that type offers them.
    pub fn for_prog_type(&self, prog_type: u32) -> HelperRegistry {
        let (allowed, refused): (Vec<_>, Vec<_>) =
            self.by_id.values().partition(|e| e.allowed_for(prog_type));
        let mut out = HelperRegistry {
            by_id: allowed.into_iter().map(|e| (e.id, e.clone())).collect(),
            env: self.env.clone(),
            refused: self.refused.clone(),
        };
        for e in refused {
            out.refused.insert(e.id, (e.name.clone(), prog_type));
        }
        out
    }

    /// If a helper with that id exists but was left out for the program
    /// type ([`HelperRegistry::for_prog_type`]): its name and that type.
    pub fn refused(&self, id: i64) -> Option<(&str, u32)> {
        self.refused.get(&id).map(|(n, t)| (n.as_str(), *t))
    }

    /// Adds every row of `other`, replacing rows with the same ids.
    pub fn extend_from(&mut self, other: &HelperRegistry) -> &mut Self {
        for e in other.by_id.values() {
            self.by_id.insert(e.id, e.clone());
        }
        self
    }

    /// The number of helpers.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no helper is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
