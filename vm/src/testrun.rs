//! Runs a program on a packet the way the kernel's `BPF_PROG_TEST_RUN`
//! does (`net/bpf/test_run.c`), so that results compare one to one with a
//! kernel test run: the same buffer layout, the same context fields, the
//! same packet handed back.
//!
//! - XDP: a 4096-byte frame, the packet after `XDP_PACKET_HEADROOM` (256)
//!   bytes, `skb_shared_info` reserved at the end; `bpf_xdp_adjust_head`,
//!   `_meta` and `_tail` move within it as in the kernel. A packet longer
//!   than the linear part holds (3520 bytes, more by the metadata's length),
//!   or past a given `xdp_md.data_end`, continues in fragments of up to
//!   4096 bytes each, at most [`MAX_SKB_FRAGS`], as the kernel splits it
//!   for a multi-buffer (`xdp.frags`) program: the program sees the linear
//!   part, `bpf_xdp_get_buff_len` the whole, `bpf_xdp_load_bytes` and
//!   `_store_bytes` reach across, and `bpf_xdp_adjust_tail` grows or shrinks
//!   the last fragment. The packet handed back runs from `data_meta` to
//!   `data_end`, then the fragments. `ingress_ifindex` is the loopback
//!   device's, 1.
//! - socket buffers (socket_filter, cgroup_skb, sched_cls, sched_act,
//!   lwt_in, lwt_out, lwt_xmit): the
//!   packet after `NET_SKB_PAD` (64) bytes; tc programs see it from the MAC
//!   header, the others from the network header (14 bytes on), and get
//!   those 14 bytes back zeroed, as the kernel hands them back. `len`,
//!   `protocol`, `pkt_type` and `ifindex` are set as `eth_type_trans` on
//!   the loopback device sets them. The buffer has room for the packet to
//!   grow at either end up to `BPF_SKB_MAX_LEN` (`bpf_skb_change_head`,
//!   `bpf_skb_change_tail`), as the kernel's reallocations would give.
//!
//! ```
//! use ironbpf_vm::{progtype, testrun, HelperRegistry, Interpreter, Options};
//! // r0 = bpf_xdp_adjust_head(ctx, -4); return r0 == 0 ? XDP_PASS : XDP_DROP
//! let prog = ironbpf_isa::assemble_program(
//!     "r2 = -4\ncall bpf_xdp_adjust_head\nr1 = 2\nif r0 == 0 goto +1\nr1 = 1\nr0 = r1\nexit",
//! )
//! .unwrap();
//! let vm = Interpreter::new(&prog, &HelperRegistry::standard(), Options::default()).unwrap();
//! let out = testrun::run(&vm, &progtype::XDP, &testrun::TestRun::packet(&[0xab; 64]), None).unwrap();
//! assert_eq!(out.r0, 2);
//! assert_eq!(out.data_out.len(), 68, "four bytes of headroom joined the packet");
//! ```

use crate::engine::Engine;
use crate::interp::{CtxView, RunMemory};
use crate::progtype::{ProgType, ProgTypeId};
use crate::VmError;
use ironbpf_helpers::{Packet, PacketKind, RunState};
use ironbpf_isa::abi::{MemoryRegion, RegionKind, RegionResolver, RegionTable};

/// The kernel's `PAGE_SIZE`: an XDP frame's size.
pub const FRAME_SIZE: usize = 4096;
/// `XDP_PACKET_HEADROOM`.
pub const XDP_PACKET_HEADROOM: usize = 256;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64.
pub const SHARED_INFO: usize = 320;
/// `NET_SKB_PAD + NET_IP_ALIGN` on x86-64.
pub const SKB_HEADROOM: usize = 64;
/// `BPF_SKB_MAX_LEN`: how long the skb helpers let a packet grow.
pub const SKB_MAX_LEN: usize = ironbpf_helpers::net::BPF_SKB_MAX_LEN as usize;
const ETH_HLEN: usize = 14;
/// `CONFIG_MAX_SKB_FRAGS` (17 unless the kernel was built otherwise): the
/// most fragments an XDP test run splits a packet into.
pub const MAX_SKB_FRAGS: usize = 17;

/// A test run's input.
#[derive(Clone, Debug, Default)]
pub struct TestRun<'a> {
    /// The packet, from its Ethernet header.
    pub data: &'a [u8],
    /// The context (`struct __sk_buff` for skb programs) to start from; the
    /// fields the kernel derives from the packet are set over it.
    pub ctx: Option<&'a [u8]>,
    /// The CPU slot.
    pub cpu: u32,
    /// The program's expected attach type (`None`: the type's default),
    /// which some context rules depend on (`egress_ifindex` in devmap
    /// programs).
    pub attach_type: Option<crate::progtype::AttachType>,
}

impl<'a> TestRun<'a> {
    /// A run on `data` with no context given.
    pub fn packet(data: &'a [u8]) -> Self {
        TestRun {
            data,
            ..Default::default()
        }
    }
}

/// What a test run gives back.
#[derive(Clone, Debug)]
pub struct TestRunOutput {
    /// The whole r0 (the kernel's test run reports its low 32 bits).
    pub r0: u64,
    /// The packet after the run, as the kernel hands it back.
    pub data_out: Vec<u8>,
    /// The context after the run.
    pub ctx_out: Vec<u8>,
    /// The run's final state: the redirect verdict, checksum state...
    pub state: RunState,
}

/// A buffer of 8-byte words, so that the packet is as aligned as the
/// kernel's (whose allocations are).
fn buffer(len: usize) -> Vec<u64> {
    vec![0u64; len.div_ceil(8)]
}

/// `sizeof(struct __sk_buff)`.
const SKB_CTX_SIZE: usize = 192;

/// The byte ranges of `struct __sk_buff` a test run may be given nonzero
/// (Linux 6.18's convert___skb_to_skb): mark, priority, ingress_ifindex and
/// ifindex, cb, tstamp, wire_len and gso_segs, gso_size, hwtstamp.
const SKB_CTX_IN: &[(usize, usize)] = &[
    (8, 12),
    (32, 44),
    (48, 68),
    (152, 168),
    (176, 180),
    (184, 192),
];

/// The ranges it hands back (convert_skb_to___skb): mark, priority,
/// ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, hwtstamp.
const SKB_CTX_OUT: &[(usize, usize)] = &[(8, 12), (32, 44), (48, 68), (152, 168), (184, 192)];

/// Checks a given `struct __sk_buff` as Linux 6.18's skb test run does:
/// the fields it does not take must be zero, `wire_len` (when set) at
/// least the packet's length and at most 64 KiB, `gso_segs` at most
/// 65535, and `ifindex` the loopback device's (the only one modelled).
fn skb_ctx_in(c: &[u8], len: usize) -> Result<(), VmError> {
    let einval = |why: String| {
        Err(VmError::Setup(format!(
            "the context (struct __sk_buff): {why} (the kernel says EINVAL)"
        )))
    };
    if let Some((i, b)) = c
        .iter()
        .take(SKB_CTX_SIZE)
        .enumerate()
        .find(|&(i, &b)| b != 0 && !SKB_CTX_IN.iter().any(|&(a, b)| (a..b).contains(&i)))
    {
        return einval(format!(
            "byte {i} is {b:#x}: a test run takes only mark, priority, ingress_ifindex, ifindex, cb, \
             tstamp, wire_len, gso_segs, gso_size and hwtstamp"
        ));
    }
    let word = |off: usize| {
        let mut b = [0u8; 4];
        for (j, x) in b.iter_mut().enumerate() {
            *x = c.get(off + j).copied().unwrap_or(0);
        }
        u32::from_ne_bytes(b)
    };
    let (ifindex, wire_len, gso_segs) = (word(40), word(160), word(164));
    if ifindex > 1 {
        return Err(VmError::Setup(format!(
            "the context (struct __sk_buff): ifindex {ifindex}: ironbpf's test run has only the \
             loopback device, ifindex 1"
        )));
    }
    if wire_len != 0 && ((wire_len as usize) < len || wire_len > 65536) {
        return einval(format!(
            "wire_len is {wire_len}: it must be at least the packet's {len} bytes and at most 65536"
        ));
    }
    if gso_segs > 65535 {
        return einval(format!("gso_segs is {gso_segs}: at most 65535"));
    }
    Ok(())
}

/// What a given `struct xdp_md` asks of an XDP test run.
#[derive(Clone, Copy, Debug)]
struct XdpMdIn {
    /// Bytes of metadata at the front of the data (`data`).
    meta: usize,
    /// Bytes of the data in the linear part, metadata included (`data_end`).
    linear: usize,
    ingress_ifindex: u32,
}

/// `sizeof(struct xdp_frame)` on x86-64: the headroom metadata may not take.
const XDP_FRAME_SIZE: usize = 40;

/// Checks a given `struct xdp_md` as Linux 6.18's XDP test run does (the
/// same refusals, the same errnos): `data_meta` must be 0, `data` (the
/// metadata's length) a multiple of 4 that leaves room for the frame,
/// `data <= data_end <= ` the data's length, `egress_ifindex` 0, and the
/// receive queue one of the loopback device's (the only device modelled).
fn xdp_md_in(c: &[u8], size: usize) -> Result<XdpMdIn, VmError> {
    let word = |i: usize| {
        let mut b = [0u8; 4];
        for (j, x) in b.iter_mut().enumerate() {
            *x = c.get(4 * i + j).copied().unwrap_or(0);
        }
        u32::from_ne_bytes(b)
    };
    let (data, data_end, data_meta) = (word(0), word(1), word(2));
    let (ingress, rx_queue, egress) = (word(3), word(4), word(5));
    let einval = |why: String| {
        Err(VmError::Setup(format!(
            "the context (struct xdp_md): {why} (the kernel says EINVAL)"
        )))
    };
    if data_meta != 0 {
        return einval(format!("data_meta is {data_meta}; it must be 0"));
    }
    if data_end as usize > size {
        return einval(format!(
            "data_end is {data_end}, past the {size} bytes of data"
        ));
    }
    if data > data_end {
        return einval(format!("data ({data}) is past data_end ({data_end})"));
    }
    if data % 4 != 0 || data as usize > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE {
        return einval(format!(
            "data, the metadata's length, is {data}: it must be a multiple of 4 and at most {}",
            XDP_PACKET_HEADROOM - XDP_FRAME_SIZE
        ));
    }
    if egress != 0 {
        return einval(format!("egress_ifindex is {egress}; it must be 0"));
    }
    if ingress == 0 && rx_queue != 0 {
        return einval(format!(
            "rx_queue_index is {rx_queue} without an ingress_ifindex"
        ));
    }
    if ingress > 1 {
        return Err(VmError::Setup(format!(
            "the context (struct xdp_md): ingress_ifindex {ingress}: ironbpf's test run has only \
             the loopback device, ifindex 1"
        )));
    }
    if ingress == 1 && rx_queue != 0 {
        return einval(format!(
            "rx_queue_index is {rx_queue}; the loopback device has one queue, 0"
        ));
    }
    Ok(XdpMdIn {
        meta: data as usize,
        linear: data_end as usize,
        ingress_ifindex: ingress,
    })
}

/// Whether [`run`] lays out a test run for programs of type `pt`: xdp and
/// the skb types the kernel test-runs at L2 or L3 (socket_filter,
/// sched_cls, sched_act, cgroup_skb, and lwt_in, lwt_out and lwt_xmit,
/// which `bpf_prog_test_run_skb` runs from the network header as it runs
/// socket filters).
pub fn runs(pt: &ProgType) -> bool {
    use ProgTypeId::*;
    matches!(
        pt.id,
        Some(Xdp | SocketFilter | SchedCls | SchedAct | CgroupSkb | LwtIn | LwtOut | LwtXmit)
    )
}

/// Runs `vm` as a program of type `pt` on `run`'s packet, as
/// `BPF_PROG_TEST_RUN` would; `resolver` gives the program's map values.
pub fn run(
    vm: &dyn Engine,
    pt: &ProgType,
    run: &TestRun<'_>,
    resolver: Option<&dyn RegionResolver>,
) -> Result<TestRunOutput, VmError> {
    let size = run.data.len();
    let xdp = pt.id == Some(ProgTypeId::Xdp);
    let skb = runs(pt) && !xdp;
    if !xdp && !skb {
        return Err(VmError::Setup(format!(
            "the kernel test-runs no {} program on a packet",
            pt.name
        )));
    }
    let (headroom, max) = if xdp {
        (
            XDP_PACKET_HEADROOM,
            FRAME_SIZE - XDP_PACKET_HEADROOM - SHARED_INFO,
        )
    } else {
        (SKB_HEADROOM, FRAME_SIZE - SKB_HEADROOM - SHARED_INFO)
    };
    // A given xdp_md says where the metadata ends and how much of the
    // packet is linear (the rest goes to fragments).
    let xdp_md = match (xdp, run.ctx) {
        (true, Some(c)) => Some(xdp_md_in(c, size)?),
        _ => None,
    };
    // What a given xdp_md leaves before the data (metadata) and in the
    // linear part; the rest of a longer XDP packet goes to fragments, as
    // the kernel's test run splits it (`linear_sz`).
    let (meta, linear) = xdp_md.map_or((0, size), |m| (m.meta, m.linear));
    let (linear, frags) = if xdp {
        let max_linear = max + meta;
        if size - meta < ETH_HLEN {
            return Err(VmError::Setup(format!(
                "a test-run XDP packet has at least {ETH_HLEN} bytes after its metadata; this one has {} (the kernel says EINVAL)",
                size - meta
            )));
        }
        let linear = linear.min(max_linear);
        let frags: Vec<Vec<u8>> = run
            .data
            .get(linear..)
            .unwrap_or_default()
            .chunks(ironbpf_helpers::net::XDP_FRAG_SIZE)
            .map(<[u8]>::to_vec)
            .collect();
        if frags.len() > MAX_SKB_FRAGS {
            return Err(VmError::Setup(format!(
                "a test-run XDP packet of {size} bytes needs {} fragments past its {linear}-byte linear part; \
                 the kernel allows {MAX_SKB_FRAGS} (MAX_SKB_FRAGS) and says ENOMEM",
                frags.len()
            )));
        }
        (linear, frags)
    } else {
        if !(ETH_HLEN..=max).contains(&size) {
            return Err(VmError::Setup(format!(
                "a test-run packet is {ETH_HLEN} to {max} bytes; this one is {size} (the kernel says EINVAL)"
            )));
        }
        (linear, Vec::new())
    };
    // An skb may grow by up to BPF_SKB_MAX_LEN at its head or its tail.
    let grow = if xdp { 0 } else { SKB_MAX_LEN };
    let total = if xdp {
        FRAME_SIZE
    } else {
        grow + headroom + SKB_MAX_LEN.max(size) + SHARED_INFO
    };
    let mut frame = buffer(total);
    let base = frame.as_mut_ptr() as *mut u8;
    // SAFETY: the frame has `total` bytes; the packet fits after the
    // headroom (checked above).
    // With metadata, the given bytes start that much before the headroom's
    // end: the metadata, then the packet at the usual place.
    // SAFETY: as above; `meta` is at most the headroom (xdp_md_in).
    unsafe {
        std::ptr::copy_nonoverlapping(run.data.as_ptr(), base.add(grow + headroom - meta), linear)
    };
    let start = base as u64;
    let mac = start + (grow + headroom) as u64;
    let l2 = xdp || pt.skb_at_l2;
    let data = if l2 { mac } else { mac + ETH_HLEN as u64 };
    let data_end = mac - meta as u64 + linear as u64;
    let data_meta = data - meta as u64;
    let packet = if xdp {
        Packet {
            kind: PacketKind::Xdp,
            hard_start: start,
            hard_end: start + (FRAME_SIZE - SHARED_INFO) as u64,
            data_meta,
            data,
            data_end,
            mac_header: None,
            network_header: None,
        }
    } else {
        Packet {
            kind: PacketKind::Skb,
            hard_start: start,
            hard_end: mac + SKB_MAX_LEN.max(size) as u64,
            data_meta: data,
            data,
            data_end,
            mac_header: Some(mac),
            network_header: Some(mac + ETH_HLEN as u64),
        }
    };

    if skb {
        if let Some(c) = run.ctx {
            skb_ctx_in(c, (data_end - data) as usize)?;
        }
    }
    let mut ctx = vec![0u8; pt.ctx_size as usize];
    if let Some(c) = run.ctx {
        for (d, s) in ctx.iter_mut().zip(c) {
            *d = *s;
        }
    }
    // The fields the kernel fills in, found by name in the descriptor.
    let put = |ctx: &mut [u8], name: &str, v: u32| {
        if let Some(f) = pt.field_named(name) {
            let off = f.off as usize;
            if let Some(dst) = ctx.get_mut(off..off + 4) {
                dst.copy_from_slice(&v.to_ne_bytes());
            }
        }
    };
    if xdp {
        // ingress_ifindex: the loopback device; rx_queue_index 0 (a given
        // xdp_md may name only these: xdp_md_in).
        put(&mut ctx, "ingress_ifindex", 1);
    } else {
        // A packet for an skb holds an Ethernet header (checked above);
        // zeros stand in for the bytes of a shorter one.
        let eth = run.data;
        let byte = |k: usize| eth.get(k).copied().unwrap_or(0);
        let dest = eth.get(..6).unwrap_or(eth);
        let pkt_type = if dest.iter().all(|&b| b == 0) {
            0 // PACKET_HOST: the loopback device's address
        } else if byte(0) & 1 == 1 {
            // PACKET_MULTICAST, ff:ff:ff:ff:ff:ff too: the loopback
            // device's broadcast address is all zeroes, so nothing is
            // PACKET_BROADCAST on it.
            2
        } else {
            3 // PACKET_OTHERHOST
        };
        put(&mut ctx, "len", (data_end - data) as u32);
        put(&mut ctx, "pkt_type", pkt_type);
        put(
            &mut ctx,
            "protocol",
            u16::from_ne_bytes([byte(12), byte(13)]) as u32,
        );
        put(&mut ctx, "ifindex", 1);
        // wire_len: the skb's length unless the context gave one.
        if pt.field_named("wire_len").is_some_and(|f| {
            ctx.get(f.off as usize..f.off as usize + 4)
                .is_some_and(|b| b == [0; 4])
        }) {
            put(&mut ctx, "wire_len", (data_end - data) as u32);
        }
    }

    let ctx_start = ctx.as_mut_ptr() as u64;
    let mut regions = RegionTable::new();
    let region = |start: u64, len: u64, kind| MemoryRegion {
        start,
        len,
        kind,
        writable: true,
    };
    regions
        .insert(region(ctx_start, ctx.len() as u64, RegionKind::Context))
        .map_err(|r| VmError::Setup(format!("the context overlaps {r}")))?;
    regions
        .insert(region(data, data_end - data, RegionKind::Packet))
        .map_err(|r| VmError::Setup(format!("the packet overlaps {r}")))?;
    let memory = RunMemory {
        regions,
        resolver,
        ctx: Some(CtxView {
            prog_type: pt,
            attach_type: run.attach_type,
            start: ctx_start,
            data,
            data_end,
            data_meta,
        }),
        packet_gen: 0,
    };
    let mut state = vm.interpreter().new_state(&memory, ctx_start);
    state.packet = Some(packet);
    state.cpu = run.cpu;
    state.xdp_frags = frags;
    // SAFETY: the frame (packet and its room) and the context live until
    // the run ends, and nothing else touches them meanwhile; map values
    // live as long as their maps.
    let r0 = unsafe { vm.run_with_state(&[ctx_start, 0, 0, 0, 0], &memory, &mut state)? };
    let p = state.packet.unwrap_or(packet);
    let (from, to) = if xdp {
        (p.data_meta, p.data_end)
    } else {
        (p.data, p.data_end)
    };
    // SAFETY: the final bounds lie inside the frame (the helpers that move
    // them keep them there).
    let mut data_out =
        unsafe { std::slice::from_raw_parts(from as *const u8, (to - from) as usize) }.to_vec();
    if xdp {
        // The fragments, as the run left them (bpf_test_finish copies
        // them after the linear part).
        for f in &state.xdp_frags {
            data_out.extend_from_slice(f);
        }
        // The kernel hands back xdp_md as offsets from data_meta, with the
        // ingress_ifindex it was given.
        let given = xdp_md.map_or(0, |m| m.ingress_ifindex);
        put(&mut ctx, "data", (p.data - p.data_meta) as u32);
        put(&mut ctx, "data_end", (p.data_end - p.data_meta) as u32);
        put(&mut ctx, "data_meta", 0);
        put(&mut ctx, "ingress_ifindex", given);
    }
    if skb && ctx.len() == SKB_CTX_SIZE {
        // The kernel hands back only the fields convert_skb_to___skb
        // copies; the rest of __sk_buff comes back zero.
        let mut out = vec![0u8; SKB_CTX_SIZE];
        for &(from, to) in SKB_CTX_OUT {
            if let (Some(o), Some(i)) = (out.get_mut(from..to), ctx.get(from..to)) {
                o.copy_from_slice(i);
            }
        }
        ctx = out;
    }
    if !l2 {
        // The kernel pushes the link-layer header back, zeroed.
        let mut out = vec![0u8; ETH_HLEN];
        out.extend_from_slice(&data_out);
        data_out = out;
    }
    drop(frame);
    Ok(TestRunOutput {
        r0,
        data_out,
        ctx_out: ctx,
        state,
    })
}
