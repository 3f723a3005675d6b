//! Networking helpers: checksums (`bpf_csum_diff`, `bpf_l3_csum_replace`,
//! `bpf_l4_csum_replace`, `bpf_csum_update`, `bpf_csum_level`), socket
//! buffers (`bpf_skb_load_bytes`, `bpf_skb_store_bytes`, hashes, the
//! socket's cookie and uid), XDP frames (`bpf_xdp_adjust_head`, `_tail`,
//! `_meta`, loads and stores) and redirects. Results, errnos and flag
//! checks follow `net/core/filter.c`; the `sk_buff` is the one the
//! kernel's test run builds (linear, `CHECKSUM_NONE`, no route, a socket
//! that no file owns).

use crate::abi::errno::{neg, EACCES, EFAULT, EINVAL, ENOMEM, ENOTSUPP};
use crate::abi::{
    HelperCtx, HelperError, HelperRegistry, IpSummed, Packet, PacketKind, Redirect, RunState,
};
use crate::env::HelperEnv;
use crate::table::def;
use ironbpf_isa::abi::Access;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `sizeof(struct xdp_frame)`: the headroom an XDP frame keeps for it.
pub const XDP_FRAME_SIZE: u64 = 40;
/// The most metadata an XDP frame carries (`skb_shared_info::meta_len`, a
/// u8, in multiples of 4).
pub const XDP_META_MAX: u64 = 255;
pub const ETH_HLEN: u64 = 14;

/// `__sk_buff.hash`'s offset.
const SKB_HASH_OFF: u64 = 68;

pub const BPF_F_RECOMPUTE_CSUM: u64 = 1 << 0;
pub const BPF_F_INVALIDATE_HASH: u64 = 1 << 1;
pub const BPF_F_HDR_FIELD_MASK: u64 = 0xf;
pub const BPF_F_PSEUDO_HDR: u64 = 1 << 4;
pub const BPF_F_MARK_MANGLED_0: u64 = 1 << 5;
pub const BPF_F_MARK_ENFORCE: u64 = 1 << 6;
pub const BPF_F_IPV6: u64 = 1 << 7;
pub const BPF_F_INGRESS: u64 = 1 << 0;
pub const BPF_F_BROADCAST: u64 = 1 << 3;
pub const BPF_F_EXCLUDE_INGRESS: u64 = 1 << 4;
pub const CSUM_MANGLED_0: u16 = 0xffff;

pub const TC_ACT_SHOT: u64 = 2;
pub const TC_ACT_REDIRECT: u64 = 7;
pub const XDP_ABORTED: u64 = 0;
pub const XDP_REDIRECT: u64 = 4;

/// Ones' complement arithmetic as the kernel's `csum_*` do it.
pub mod csum {
    /// `csum_add`: 32-bit add with the carry folded back in.
    pub fn add(a: u32, b: u32) -> u32 {
        let (r, c) = a.overflowing_add(b);
        r.wrapping_add(c as u32)
    }

    /// `csum_sub`.
    pub fn sub(a: u32, b: u32) -> u32 {
        add(a, !b)
    }

    /// `csum_fold`: 32 bits to 16, complemented.
    pub fn fold(s: u32) -> u16 {
        let s = (s & 0xffff) + (s >> 16);
        let s = (s & 0xffff) + (s >> 16);
        !(s as u16)
    }

    /// `csum_from32to16`: 32 bits folded to 16, not complemented.
    pub fn from32to16(s: u32) -> u16 {
        (s.wrapping_add(s.rotate_right(16)) >> 16) as u16
    }

    /// `csum16_add`.
    pub fn add16(a: u16, b: u16) -> u16 {
        let (r, c) = a.overflowing_add(b);
        r.wrapping_add(c as u16)
    }

    /// x86-64's `csum_partial`: the ones' complement sum of `seed` and the
    /// data as little-endian 32-bit words (the last one zero-padded). Zero
    /// only when everything is zero.
    pub fn partial(data: &[u8], seed: u32) -> u32 {
        data.chunks(4).fold(seed, |s, w| {
            let mut b = [0u8; 4];
            for (d, c) in b.iter_mut().zip(w) {
                *d = *c;
            }
            add(s, u32::from_le_bytes(b))
        })
    }
}

/// The run's packet: the engine's, or else the packet region as a fixed
/// socket buffer.
pub(crate) fn packet(ctx: &HelperCtx<'_>) -> Result<Packet, HelperError> {
    if let Some(p) = ctx.state_ref().and_then(|s| s.packet) {
        return Ok(p);
    }
    let r = ctx
        .packet()
        .ok_or_else(|| HelperError::Failed("the program has no packet".into()))?;
    let prog_type = ctx.state_ref().map_or(0, |s| s.prog_type);
    Ok(Packet::of_region(prog_type, r.start, r.len))
}

/// `BPF_SKB_MAX_LEN` (`SKB_MAX_ALLOC`): the longest packet the skb helpers
/// make.
pub const BPF_SKB_MAX_LEN: u64 = (4096 << 2) - 320;

pub(crate) fn skb_packet(ctx: &HelperCtx<'_>) -> Result<Packet, HelperError> {
    let p = packet(ctx)?;
    if p.kind != PacketKind::Skb {
        return Err(HelperError::Failed(
            "this helper needs a socket buffer (the program's packet is not one)".into(),
        ));
    }
    Ok(p)
}

const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const VLAN_HLEN: u64 = 4;
/// `__sk_buff` fields the VLAN helpers keep (the skb's own in the kernel).
pub(crate) const SKB_PROTOCOL: u64 = 16;
const SKB_VLAN_PRESENT: u64 = 20;
const SKB_VLAN_TCI: u64 = 24;
const SKB_VLAN_PROTO: u64 = 28;

pub(crate) fn skb_field(ctx: &HelperCtx<'_>, skb: u64, off: u64) -> Result<u32, HelperError> {
    Ok(u32::from_ne_bytes(ctx.read_array(skb + off)?))
}

pub(crate) fn set_skb_field(
    ctx: &HelperCtx<'_>,
    skb: u64,
    off: u64,
    v: u32,
) -> Result<(), HelperError> {
    ctx.write(skb + off, &v.to_ne_bytes())
}

/// `__skb_vlan_pop`: takes the VLAN header after the MAC addresses out of
/// the packet; its TCI, or the errno.
fn untag(ctx: &mut HelperCtx<'_>, skb: u64) -> Result<Result<u16, i64>, HelperError> {
    let mut p = skb_packet(ctx)?;
    if p.mac_header != Some(p.data) {
        return Ok(Err(EINVAL));
    }
    if p.len() < ETH_HLEN + VLAN_HLEN {
        return Ok(Err(ENOMEM));
    }
    let hdr: [u8; 6] = pkt_array(&p, p.data + 12);
    let tci = u16::from_be_bytes([hdr[2], hdr[3]]);
    let inner = u16::from_be_bytes([hdr[4], hdr[5]]);
    // vlan_set_encap_proto: an Ethernet type, or 802.3/802.2 framing.
    let protocol: u16 = if inner >= 0x0600 {
        inner
    } else if pkt_read(&p, p.data + 18, 2.min(p.len().saturating_sub(18))) == [0xff, 0xff] {
        0x0001
    } else {
        0x0004
    };
    pkt_move(&p, p.data + VLAN_HLEN, p.data, 12);
    p.data += VLAN_HLEN;
    p.data_meta = p.data;
    p.mac_header = Some(p.data);
    if p.network_header.is_none_or(|n| n < p.data + ETH_HLEN) {
        p.network_header = Some(p.data + ETH_HLEN);
    }
    set_skb_field(ctx, skb, SKB_PROTOCOL, protocol.to_be() as u32)?;
    set_skb_len(ctx, skb, &p)?;
    ctx.state()?.set_packet(p);
    Ok(Ok(tci))
}

/// `skb->len` lives in the `__sk_buff` the program reads it from.
pub(crate) fn set_skb_len(
    ctx: &mut HelperCtx<'_>,
    skb: u64,
    p: &Packet,
) -> Result<(), HelperError> {
    ctx.write(skb, &(p.len() as u32).to_ne_bytes())
}

pub(crate) fn xdp_packet(ctx: &HelperCtx<'_>) -> Result<Packet, HelperError> {
    let p = packet(ctx)?;
    if p.kind != PacketKind::Xdp {
        return Err(HelperError::Failed(
            "this helper needs an XDP frame (the program's packet is not one)".into(),
        ));
    }
    Ok(p)
}

/// Copies packet bytes `[addr, addr + len)`, which the caller checked lie
/// in `[p.hard_start, p.hard_end)`.
pub(crate) fn pkt_read(p: &Packet, addr: u64, len: u64) -> Vec<u8> {
    debug_assert!(addr >= p.hard_start && addr + len <= p.hard_end);
    let mut v = vec![0u8; len as usize];
    // SAFETY: the engine guarantees [hard_start, hard_end) is live memory
    // of the run, and the caller checked the range lies inside it.
    unsafe { std::ptr::copy(addr as *const u8, v.as_mut_ptr(), v.len()) };
    v
}

/// `N` packet bytes at `addr`, which the caller checked lie in the buffer.
pub(crate) fn pkt_array<const N: usize>(p: &Packet, addr: u64) -> [u8; N] {
    debug_assert!(addr >= p.hard_start && addr + N as u64 <= p.hard_end);
    let mut v = [0u8; N];
    // SAFETY: as for `pkt_read`: [hard_start, hard_end) is live memory of
    // the run, and the caller checked the range lies inside it.
    unsafe { std::ptr::copy(addr as *const u8, v.as_mut_ptr(), N) };
    v
}

/// Writes packet bytes, which the caller checked lie in the buffer.
pub(crate) fn pkt_write(p: &Packet, addr: u64, bytes: &[u8]) {
    debug_assert!(addr >= p.hard_start && addr + bytes.len() as u64 <= p.hard_end);
    // SAFETY: the engine guarantees [hard_start, hard_end) is live,
    // writable memory of the run; the caller checked the range.
    unsafe { std::ptr::copy(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
}

/// Moves `len` packet bytes from `src` to `dst` (regions may overlap).
pub(crate) fn pkt_move(p: &Packet, dst: u64, src: u64, len: u64) {
    let bytes = pkt_read(p, src, len);
    pkt_write(p, dst, &bytes);
}

/// The 16-bit checksum field at packet offset `off` (checked).
fn sum_at(p: &Packet, off: u64) -> u16 {
    u16::from_ne_bytes(pkt_array(p, p.data + off))
}

fn set_sum(p: &Packet, off: u64, v: u16) {
    pkt_write(p, p.data + off, &v.to_ne_bytes());
}

/// `skb->hash` lives in the `__sk_buff` the program reads it from.
pub(crate) fn set_skb_hash(
    ctx: &mut HelperCtx<'_>,
    skb: u64,
    hash: u32,
) -> Result<(), HelperError> {
    ctx.write(skb + SKB_HASH_OFF, &hash.to_ne_bytes())
}

/// A flow hash of the packet (what `skb_get_hash` computes when none is
/// set): FNV-1a over the IPv4/IPv6 addresses, protocol and ports, or over
/// the first 64 bytes of anything else; never 0. The kernel keys its hash
/// with a per-boot secret, so the value differs from the kernel's.
fn flow_hash(p: &Packet) -> u32 {
    let data = pkt_read(p, p.data, p.len().min(128));
    let net = p
        .network_header
        .map_or(0, |n| n.saturating_sub(p.data) as usize);
    let l3 = data.get(net..).unwrap_or(&[]);
    let mut keys: Vec<u8> = Vec::new();
    match l3.first().map(|b| b >> 4) {
        Some(4) if l3.len() >= 20 => {
            let ihl = l3.first().map_or(0, |b| (b & 0xf) as usize * 4);
            keys.extend_from_slice(l3.get(12..20).unwrap_or_default());
            keys.extend(l3.get(9));
            if let Some(ports) = l3.get(ihl..ihl + 4) {
                keys.extend_from_slice(ports);
            }
        }
        Some(6) if l3.len() >= 40 => {
            keys.extend_from_slice(l3.get(8..40).unwrap_or_default());
            keys.extend(l3.get(6));
            if let Some(ports) = l3.get(40..44) {
                keys.extend_from_slice(ports);
            }
        }
        _ => keys.extend_from_slice(data.get(..64).unwrap_or(&data)),
    }
    let h = keys.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    h.max(1)
}

/// Cookies of the sockets runs see: unique, never 0, as `sock_gen_cookie`.
static NEXT_COOKIE: AtomicU64 = AtomicU64::new(1);

/// `bpf_l3_csum_replace`.
fn l3_csum_replace(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (off, from, to, flags) = (a[1] as u32 as u64, a[2], a[3], a[4]);
    if flags & !BPF_F_HDR_FIELD_MASK != 0 {
        return Ok(neg(EINVAL));
    }
    if off > 0xffff || off & 1 != 0 {
        return Ok(neg(EFAULT));
    }
    let p = packet(ctx)?;
    if off + 2 > p.len() {
        return Ok(neg(EFAULT));
    }
    let sum = sum_at(&p, off);
    let new = match flags & BPF_F_HDR_FIELD_MASK {
        0 => {
            if from != 0 {
                return Ok(neg(EINVAL));
            }
            csum::fold(csum::add(to as u32, !(sum as u32)))
        }
        2 => {
            let (old, new) = (from as u16, to as u16);
            !csum::add16(csum::add16(!sum, !old), new)
        }
        4 => {
            let tmp = csum::sub(!(sum as u32), from as u32);
            csum::fold(csum::add(tmp, to as u32))
        }
        _ => return Ok(neg(EINVAL)),
    };
    set_sum(&p, off, new);
    Ok(0)
}

/// `bpf_l4_csum_replace`.
fn l4_csum_replace(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (off, from, to, flags) = (a[1] as u32 as u64, a[2], a[3], a[4]);
    let pseudo = flags & BPF_F_PSEUDO_HDR != 0;
    let mmzero = flags & BPF_F_MARK_MANGLED_0 != 0;
    let mforce = flags & BPF_F_MARK_ENFORCE != 0;
    let ipv6 = flags & BPF_F_IPV6 != 0;
    if flags
        & !(BPF_F_MARK_MANGLED_0
            | BPF_F_MARK_ENFORCE
            | BPF_F_PSEUDO_HDR
            | BPF_F_HDR_FIELD_MASK
            | BPF_F_IPV6)
        != 0
    {
        return Ok(neg(EINVAL));
    }
    if off > 0xffff || off & 1 != 0 {
        return Ok(neg(EFAULT));
    }
    let p = packet(ctx)?;
    if off + 2 > p.len() {
        return Ok(neg(EFAULT));
    }
    let sum = sum_at(&p, off);
    if mmzero && !mforce && sum == 0 {
        return Ok(0);
    }
    let skb = ctx.state()?.skb;
    let (summed, skb_csum) = (skb.ip_summed, skb.csum);
    let mut new_skb_csum = None;
    let new = match flags & BPF_F_HDR_FIELD_MASK {
        0 => {
            if from != 0 {
                return Ok(neg(EINVAL));
            }
            let diff = to as u32;
            if summed != IpSummed::Partial {
                if summed == IpSummed::Complete && pseudo && !ipv6 {
                    new_skb_csum = Some(!csum::add(diff, !skb_csum));
                }
                csum::fold(csum::add(diff, !(sum as u32)))
            } else if pseudo {
                !csum::fold(csum::add(csum::sub(diff, skb_csum), sum as u32))
            } else {
                sum
            }
        }
        size @ (2 | 4) => {
            let (from, to) = if size == 2 {
                (from as u16 as u32, to as u16 as u32)
            } else {
                (from as u32, to as u32)
            };
            let mut diff = (!from as u64).to_le_bytes()[..4].to_vec();
            diff.extend_from_slice(&to.to_le_bytes());
            if summed != IpSummed::Partial {
                if summed == IpSummed::Complete && pseudo {
                    new_skb_csum = Some(!csum::partial(&diff, !skb_csum));
                }
                csum::fold(csum::partial(&diff, !(sum as u32)))
            } else if pseudo {
                !csum::fold(csum::partial(&diff, sum as u32))
            } else {
                sum
            }
        }
        _ => return Ok(neg(EINVAL)),
    };
    let new = if mmzero && new == 0 {
        CSUM_MANGLED_0
    } else {
        new
    };
    set_sum(&p, off, new);
    if let Some(c) = new_skb_csum {
        ctx.state()?.skb.csum = c;
    }
    Ok(0)
}

pub(crate) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    def(reg, "csum_diff", |ctx, a| {
        // Linux 6.13 on: any sizes (the verifier bounds them), the result
        // folded to 16 bits, as csum_partial(to, seed) - csum_partial(from).
        let (from_size, to_size, seed) = (a[1] as u32 as u64, a[3] as u32 as u64, a[4] as u32);
        let from = ctx.read(a[0], from_size)?;
        let to = ctx.read(a[2], to_size)?;
        let sum = match (from_size > 0, to_size > 0) {
            (true, true) => csum::sub(csum::partial(&to, seed), csum::partial(&from, 0)),
            (false, true) => csum::partial(&to, seed),
            (true, false) => !csum::partial(&from, !seed),
            (false, false) => seed,
        };
        Ok(csum::from32to16(sum) as u64)
    });
    def(reg, "l3_csum_replace", l3_csum_replace);
    def(reg, "l4_csum_replace", l4_csum_replace);
    def(reg, "csum_update", |ctx, a| {
        let st = ctx.state()?;
        if st.skb.ip_summed == IpSummed::Complete {
            st.skb.csum = csum::add(st.skb.csum, a[1] as u32);
            return Ok(st.skb.csum as u64);
        }
        Ok(neg(ENOTSUPP))
    });
    def(reg, "csum_level", |ctx, a| {
        let skb = &mut ctx.state()?.skb;
        match a[1] {
            // BPF_CSUM_LEVEL_QUERY
            0 => {
                return Ok(if skb.ip_summed == IpSummed::Unnecessary {
                    skb.csum_level as u64
                } else {
                    neg(EACCES)
                })
            }
            // BPF_CSUM_LEVEL_INC
            1 => match skb.ip_summed {
                IpSummed::Unnecessary if skb.csum_level < 3 => skb.csum_level += 1,
                IpSummed::None => {
                    skb.ip_summed = IpSummed::Unnecessary;
                    skb.csum_level = 0;
                }
                _ => {}
            },
            // BPF_CSUM_LEVEL_DEC
            2 => {
                if skb.ip_summed == IpSummed::Unnecessary {
                    if skb.csum_level == 0 {
                        skb.ip_summed = IpSummed::None;
                    } else {
                        skb.csum_level -= 1;
                    }
                }
            }
            // BPF_CSUM_LEVEL_RESET
            3 => {
                if skb.ip_summed == IpSummed::Unnecessary {
                    skb.ip_summed = IpSummed::None;
                    skb.csum_level = 0;
                }
            }
            _ => return Ok(neg(EINVAL)),
        }
        Ok(0)
    });

    // Socket buffers.
    def(reg, "skb_load_bytes", |ctx, a| {
        let (off, to, len) = (a[1] as u32 as u64, a[2], a[3] as u32 as u64);
        ctx.check(to, len, Access::Store)?;
        let p = packet(ctx)?;
        if off > i32::MAX as u64 || off + len > p.len() {
            ctx.zero(to, len)?;
            return Ok(neg(EFAULT));
        }
        ctx.write(to, &pkt_read(&p, p.data + off, len))?;
        Ok(0)
    });
    def(reg, "skb_load_bytes_relative", |ctx, a| {
        let (off, to, len, start) = (a[1] as u32 as u64, a[2], a[3] as u32 as u64, a[4]);
        ctx.check(to, len, Access::Store)?;
        let p = packet(ctx)?;
        let base = match start {
            // BPF_HDR_START_MAC, BPF_HDR_START_NET
            0 => p.mac_header,
            1 => p.network_header,
            _ => None,
        };
        match base {
            Some(b) if off <= 0xffff && b + off + len <= p.data_end && b >= p.hard_start => {
                ctx.write(to, &pkt_read(&p, b + off, len))?;
                Ok(0)
            }
            _ => {
                ctx.zero(to, len)?;
                Ok(neg(EFAULT))
            }
        }
    });
    def(reg, "skb_store_bytes", |ctx, a| {
        let (skb, off, from, len, flags) =
            (a[0], a[1] as u32 as u64, a[2], a[3] as u32 as u64, a[4]);
        if flags & !(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH) != 0 {
            return Ok(neg(EINVAL));
        }
        if off > i32::MAX as u64 {
            return Ok(neg(EFAULT));
        }
        let bytes = ctx.read(from, len)?;
        let p = packet(ctx)?;
        if off + len > p.len() {
            return Ok(neg(EFAULT));
        }
        let at = p.data + off;
        let recompute = flags & BPF_F_RECOMPUTE_CSUM != 0
            && ctx
                .state_ref()
                .is_some_and(|s| s.skb.ip_summed == IpSummed::Complete);
        if recompute {
            // skb_postpull_rcsum, then skb_postpush_rcsum: out with the old
            // bytes' sum, in with the new (as at their offset's parity).
            let old = pkt_read(&p, at, len);
            let st = ctx.state()?;
            st.skb.csum = csum::sub(st.skb.csum, csum::partial(&old, 0));
            st.skb.csum = csum::add(st.skb.csum, csum::partial(&bytes, 0));
        }
        pkt_write(&p, at, &bytes);
        if flags & BPF_F_INVALIDATE_HASH != 0 {
            set_skb_hash(ctx, skb, 0)?;
            if let Ok(st) = ctx.state() {
                st.skb.hash_valid = false;
            }
        }
        Ok(0)
    });
    def(reg, "skb_pull_data", |ctx, a| {
        let p = packet(ctx)?;
        // The test run's skb is linear: any length up to skb->len is there.
        let len = a[1] as u32 as u64;
        Ok(if len > p.len() { neg(ENOMEM) } else { 0 })
    });
    def(reg, "skb_change_tail", |ctx, a| {
        let (skb, new_len, flags) = (a[0], a[1] as u32 as u64, a[2]);
        let mut p = skb_packet(ctx)?;
        // __bpf_skb_min_len: the network header's offset (no transport
        // header is set in a test run, no CHECKSUM_PARTIAL).
        let min_len = p.network_header.map_or(0, |n| n.saturating_sub(p.data));
        if flags != 0 || new_len > BPF_SKB_MAX_LEN || new_len < min_len {
            return Ok(neg(EINVAL));
        }
        let len = p.len();
        if new_len > len {
            if p.data + new_len > p.hard_end {
                return Ok(neg(ENOMEM));
            }
            // Grown bytes are zeroed (skb_pad).
            pkt_write(&p, p.data_end, &vec![0u8; (new_len - len) as usize]);
        }
        p.data_end = p.data + new_len;
        set_skb_len(ctx, skb, &p)?;
        ctx.state()?.set_packet(p);
        Ok(0)
    });
    def(reg, "skb_change_head", |ctx, a| {
        let (skb, room, flags) = (a[0], a[1] as u32 as u64, a[2]);
        let mut p = skb_packet(ctx)?;
        let new_len = p.len() + room;
        if flags != 0 || new_len > BPF_SKB_MAX_LEN {
            return Ok(neg(EINVAL));
        }
        if p.data < p.hard_start + room {
            return Ok(neg(ENOMEM));
        }
        // The new bytes are zeroed and become the MAC header.
        p.data -= room;
        p.data_meta = p.data;
        pkt_write(&p, p.data, &vec![0u8; room as usize]);
        p.mac_header = Some(p.data);
        set_skb_len(ctx, skb, &p)?;
        ctx.state()?.set_packet(p);
        Ok(0)
    });
    def(reg, "skb_vlan_push", |ctx, a| {
        let (skb, proto, tci) = (a[0], a[1] as u16, a[2] as u16);
        // Only 802.1Q and 802.1ad tags; anything else becomes 802.1Q.
        let proto = match u16::from_be(proto) {
            ETH_P_8021Q | ETH_P_8021AD => proto,
            _ => ETH_P_8021Q.to_be(),
        };
        let mut p = skb_packet(ctx)?;
        let tag = skb_field(ctx, skb, SKB_VLAN_PRESENT)?;
        if tag != 0 {
            // The tag already carried moves into the packet, after the MACs.
            if p.mac_header != Some(p.data) {
                return Ok(neg(EINVAL));
            }
            if p.data < p.hard_start + VLAN_HLEN {
                return Ok(neg(ENOMEM));
            }
            let old_proto = skb_field(ctx, skb, SKB_VLAN_PROTO)? as u16;
            let old_tci = skb_field(ctx, skb, SKB_VLAN_TCI)? as u16;
            pkt_move(&p, p.data - VLAN_HLEN, p.data, 12);
            p.data -= VLAN_HLEN;
            p.data_meta = p.data;
            p.mac_header = Some(p.data);
            let mut hdr = old_proto.to_ne_bytes().to_vec();
            hdr.extend_from_slice(&old_tci.to_be_bytes());
            pkt_write(&p, p.data + 12, &hdr);
            set_skb_field(ctx, skb, SKB_PROTOCOL, old_proto as u32)?;
            set_skb_len(ctx, skb, &p)?;
            ctx.state()?.set_packet(p);
        }
        set_skb_field(ctx, skb, SKB_VLAN_PRESENT, 1)?;
        set_skb_field(ctx, skb, SKB_VLAN_TCI, tci as u32)?;
        set_skb_field(ctx, skb, SKB_VLAN_PROTO, proto as u32)?;
        Ok(0)
    });
    def(reg, "skb_vlan_pop", |ctx, a| {
        let skb = a[0];
        let is_vlan = |proto: u32| matches!(u16::from_be(proto as u16), ETH_P_8021Q | ETH_P_8021AD);
        if skb_field(ctx, skb, SKB_VLAN_PRESENT)? != 0 {
            for off in [SKB_VLAN_PRESENT, SKB_VLAN_TCI, SKB_VLAN_PROTO] {
                set_skb_field(ctx, skb, off, 0)?;
            }
        } else {
            if !is_vlan(skb_field(ctx, skb, SKB_PROTOCOL)?) {
                return Ok(0);
            }
            if let Err(e) = untag(ctx, skb)? {
                return Ok(neg(e));
            }
        }
        // The next tag in the packet becomes the carried one.
        let proto = skb_field(ctx, skb, SKB_PROTOCOL)?;
        if !is_vlan(proto) {
            return Ok(0);
        }
        let tci = match untag(ctx, skb)? {
            Ok(tci) => tci,
            Err(e) => return Ok(neg(e)),
        };
        set_skb_field(ctx, skb, SKB_VLAN_PRESENT, 1)?;
        set_skb_field(ctx, skb, SKB_VLAN_TCI, tci as u32)?;
        set_skb_field(ctx, skb, SKB_VLAN_PROTO, proto)?;
        Ok(0)
    });
    def(reg, "get_socket_cookie", |ctx, _| {
        let st = ctx.state()?;
        Ok(*st
            .socket_cookie
            .get_or_insert_with(|| NEXT_COOKIE.fetch_add(1, Ordering::Relaxed)))
    });
    let e = env.clone();
    def(reg, "get_socket_uid", move |_, _| Ok(e.socket_uid() as u64));
    def(reg, "get_hash_recalc", |ctx, a| {
        let skb = a[0];
        if ctx.state_ref().is_some_and(|s| s.skb.hash_valid) {
            return Ok(u32::from_ne_bytes(ctx.read_array(skb + SKB_HASH_OFF)?) as u64);
        }
        let h = flow_hash(&packet(ctx)?);
        set_skb_hash(ctx, skb, h)?;
        if let Ok(st) = ctx.state() {
            st.skb.hash_valid = true;
        }
        Ok(h as u64)
    });
    def(reg, "set_hash_invalid", |ctx, a| {
        set_skb_hash(ctx, a[0], 0)?;
        if let Ok(st) = ctx.state() {
            st.skb.hash_valid = false;
        }
        Ok(0)
    });
    def(reg, "set_hash", |ctx, a| {
        set_skb_hash(ctx, a[0], a[1] as u32)?;
        if let Ok(st) = ctx.state() {
            st.skb.hash_valid = true;
        }
        Ok(0)
    });
    // No net_cls cgroup and no route in a test run.
    def(reg, "get_cgroup_classid", |_, _| Ok(0));
    def(reg, "get_route_realm", |_, _| Ok(0));

    // Redirects: the verdict is recorded in the run's state.
    def(reg, "redirect", |ctx, a| {
        let (ifindex, flags) = (a[0] as u32, a[1]);
        let st = ctx.state()?;
        if st.is(crate::proto::progs::XDP) {
            if flags != 0 {
                return Ok(XDP_ABORTED);
            }
            st.redirect = Some(Redirect::Ifindex { ifindex, flags });
            return Ok(XDP_REDIRECT);
        }
        if flags & !BPF_F_INGRESS != 0 {
            return Ok(TC_ACT_SHOT);
        }
        st.redirect = Some(Redirect::Ifindex { ifindex, flags });
        Ok(TC_ACT_REDIRECT)
    });

    // bpf_check_mtu: against the world's interface (0: the device the
    // packet is on, the test run's loopback device).
    let e = env.clone();
    def(reg, "check_mtu", move |ctx, a| {
        let (ifindex, mtu_len, len_diff, flags) = (a[1] as u32, a[2], a[3] as i32, a[4]);
        let given = u32::from_ne_bytes(ctx.read_array(mtu_len)?);
        let xdp = ctx
            .state_ref()
            .is_some_and(|s| s.is(crate::proto::progs::XDP));
        let p = packet(ctx)?;
        // An skb in GSO (gso_size set) passes unless its segments are
        // checked, which ironbpf does not model.
        let gso = !xdp && skb_field(ctx, a[0], SKB_GSO_SIZE)? != 0;
        let w = e.world();
        let dev = w.interface(if ifindex == 0 { 1 } else { ifindex });
        let (ret, mtu) = check_mtu(
            dev.map(|d| d.mtu),
            p.len() as i32,
            given,
            len_diff,
            flags,
            xdp,
        );
        if gso && ret == BPF_MTU_CHK_RET_FRAG_NEEDED && flags & BPF_MTU_CHK_SEGS != 0 {
            return Err(HelperError::Failed(
                "bpf_check_mtu with BPF_MTU_CHK_SEGS on a GSO skb (gso_size set): ironbpf does not \
                 model segmentation"
                    .into(),
            ));
        }
        let ret = if gso && ret == BPF_MTU_CHK_RET_FRAG_NEEDED {
            0
        } else {
            ret
        };
        if let Some(mtu) = mtu {
            ctx.write(mtu_len, &mtu.to_ne_bytes())?;
        }
        Ok(ret)
    });

    // XDP.
    def(reg, "xdp_adjust_head", |ctx, a| {
        let delta = a[1] as i32 as i64;
        let mut p = xdp_packet(ctx)?;
        let metalen = p.data - p.data_meta;
        let data_start = p.hard_start + XDP_FRAME_SIZE + metalen;
        let data = p.data as i64 + delta;
        if data < data_start as i64 || data > (p.data_end - ETH_HLEN) as i64 {
            return Ok(neg(EINVAL));
        }
        let meta = (p.data_meta as i64 + delta) as u64;
        if metalen > 0 {
            pkt_move(&p, meta, p.data_meta, metalen);
        }
        p.data_meta = meta;
        p.data = data as u64;
        ctx.state()?.set_packet(p);
        Ok(0)
    });
    def(reg, "xdp_adjust_tail", |ctx, a| {
        let delta = a[1] as i32;
        let mut p = xdp_packet(ctx)?;
        if ctx.state_ref().is_some_and(|s| !s.xdp_frags.is_empty()) {
            // A multi-buffer frame grows or shrinks at its last fragment.
            let st = ctx.state()?;
            return Ok(if delta < 0 {
                frags_shrink_tail(st, p, delta.wrapping_neg())
            } else {
                frags_grow_tail(st, delta as u64)
            });
        }
        let delta = delta as i64;
        let end = p.data_end as i64 + delta;
        if end > p.hard_end as i64 || end < (p.data + ETH_HLEN) as i64 {
            return Ok(neg(EINVAL));
        }
        if delta > 0 {
            // Grown bytes are cleared: they may hold old data.
            pkt_write(&p, p.data_end, &vec![0u8; delta as usize]);
        }
        p.data_end = end as u64;
        ctx.state()?.set_packet(p);
        Ok(0)
    });
    def(reg, "xdp_adjust_meta", |ctx, a| {
        let delta = a[1] as i32 as i64;
        let mut p = xdp_packet(ctx)?;
        let frame_end = p.hard_start + XDP_FRAME_SIZE;
        let meta = p.data_meta as i64 + delta;
        if meta < frame_end as i64 || meta > p.data as i64 {
            return Ok(neg(EINVAL));
        }
        let metalen = p.data - meta as u64;
        if !metalen.is_multiple_of(4) || metalen > XDP_META_MAX {
            return Ok(neg(EACCES));
        }
        p.data_meta = meta as u64;
        ctx.state()?.set_packet(p);
        Ok(0)
    });
    def(reg, "xdp_get_buff_len", |ctx, _| {
        Ok(xdp_packet(ctx)?.len() + frags_len(ctx.state_ref()))
    });
    def(reg, "xdp_load_bytes", |ctx, a| {
        let (off, buf, len) = (a[1] as u32 as u64, a[2], a[3] as u32 as u64);
        ctx.check(buf, len, Access::Store)?;
        let p = xdp_packet(ctx)?;
        if let Err(e) = xdp_range(ctx, &p, off, len) {
            return Ok(neg(e));
        }
        let bytes = xdp_bytes(&p, ctx.state_ref(), off, len);
        ctx.write(buf, &bytes)?;
        Ok(0)
    });
    def(reg, "xdp_store_bytes", |ctx, a| {
        let (off, buf, len) = (a[1] as u32 as u64, a[2], a[3] as u32 as u64);
        let bytes = ctx.read(buf, len)?;
        let p = xdp_packet(ctx)?;
        if let Err(e) = xdp_range(ctx, &p, off, len) {
            return Ok(neg(e));
        }
        let off = off as usize;
        let linear = p.len() as usize;
        let (head, rest) = bytes.split_at(linear.saturating_sub(off).min(bytes.len()));
        if !head.is_empty() {
            pkt_write(&p, p.data + off as u64, head);
        }
        if !rest.is_empty() {
            let st = ctx.state()?;
            let mut at = off.max(linear) - linear;
            let mut rest = rest;
            for f in st.xdp_frags.iter_mut() {
                if rest.is_empty() {
                    break;
                }
                let flen = f.len();
                let Some(tail) = f.get_mut(at..) else {
                    at -= flen;
                    continue;
                };
                at = 0;
                let (now, later) = rest.split_at(tail.len().min(rest.len()));
                for (d, b) in tail.iter_mut().zip(now) {
                    *d = *b;
                }
                rest = later;
            }
        }
        Ok(0)
    });
}

/// `__sk_buff.gso_size`'s offset.
const SKB_GSO_SIZE: u64 = 176;
/// `BPF_MTU_CHK_SEGS`: check each GSO segment (skb only).
const BPF_MTU_CHK_SEGS: u64 = 1;
/// `BPF_MTU_CHK_RET_FRAG_NEEDED`: the packet is longer than the MTU.
const BPF_MTU_CHK_RET_FRAG_NEEDED: u64 = 1;
const ENODEV: i64 = 19;

/// `bpf_skb_check_mtu` and `bpf_xdp_check_mtu` on an Ethernet-like device
/// (`hard_header_len` 14) of MTU `dev_mtu` (`None`: no such device), for a
/// packet of `len` bytes from its MAC header (the linear part, for XDP):
/// the result and the MTU written back (none after a refusal: the kernel
/// leaves `*mtu_len` as it was). A nonzero
/// `given` is an L3 length to check instead of the packet's; `len_diff` is
/// added before the check. The XDP form takes no flags; the skb form takes
/// `BPF_MTU_CHK_SEGS`, and then neither a length nor a difference.
fn check_mtu(
    dev_mtu: Option<u32>,
    len: i32,
    given: u32,
    len_diff: i32,
    flags: u64,
    xdp: bool,
) -> (u64, Option<u32>) {
    let allowed = if xdp { 0 } else { BPF_MTU_CHK_SEGS };
    if flags & !allowed != 0 {
        return (neg(EINVAL), None);
    }
    if flags & BPF_MTU_CHK_SEGS != 0 && (len_diff != 0 || given != 0) {
        return (neg(EINVAL), None);
    }
    let Some(mtu) = dev_mtu else {
        return (neg(ENODEV), None);
    };
    let hard_header = ETH_HLEN as i32;
    let dev_len = (mtu as i32).wrapping_add(hard_header);
    // The kernel counts in an int.
    let len = if given != 0 {
        (given as i32).wrapping_add(hard_header)
    } else {
        len
    }
    .wrapping_add(len_diff);
    let ret = if len > dev_len {
        BPF_MTU_CHK_RET_FRAG_NEEDED
    } else {
        0
    };
    (ret, Some(mtu))
}

/// The page a fragment of a multi-buffer XDP frame lives in: the test
/// run's `frag_size` (`PAGE_SIZE`), the most a fragment may grow to.
pub const XDP_FRAG_SIZE: usize = 4096;

/// The bytes in the fragments of the run's XDP frame (`xdp_frags_size`).
fn frags_len(st: Option<&RunState>) -> u64 {
    st.map_or(0, |s| s.xdp_frags.iter().map(|f| f.len() as u64).sum())
}

/// `bpf_xdp_pointer`'s checks: `off` and `len` at most 0xffff (EFAULT),
/// and `[off, off + len)` within the whole frame, fragments included
/// (EINVAL).
fn xdp_range(ctx: &HelperCtx<'_>, p: &Packet, off: u64, len: u64) -> Result<(), i64> {
    if off > 0xffff || len > 0xffff {
        return Err(EFAULT);
    }
    if off + len > p.len() + frags_len(ctx.state_ref()) {
        return Err(EINVAL);
    }
    Ok(())
}

/// `len` bytes of the frame from `off` (checked by [`xdp_range`]), across
/// the linear part and the fragments, as `bpf_xdp_copy_buf` gathers them.
fn xdp_bytes(p: &Packet, st: Option<&RunState>, off: u64, len: u64) -> Vec<u8> {
    let linear = p.len();
    let mut out = if off < linear {
        pkt_read(p, p.data + off, (linear - off).min(len))
    } else {
        Vec::with_capacity(len as usize)
    };
    let mut at = off.saturating_sub(linear) as usize;
    for f in st.map_or(&[][..], |s| &s.xdp_frags[..]) {
        if out.len() as u64 == len {
            break;
        }
        let Some(tail) = f.get(at..) else {
            at -= f.len();
            continue;
        };
        at = 0;
        let n = tail.len().min(len as usize - out.len());
        out.extend(tail.iter().take(n));
    }
    out
}

/// `bpf_xdp_frags_shrink_tail`: takes `offset` bytes off the frame's end,
/// releasing the fragments it empties; what is left over once none is left
/// comes off the linear part. EINVAL when fewer than `ETH_HLEN` bytes would
/// remain. `offset` is the negated delta as the kernel's `int` has it, so
/// `-INT_MIN` stays negative and shrinks nothing.
fn frags_shrink_tail(st: &mut RunState, mut p: Packet, offset: i32) -> u64 {
    let total = p.len() as i64 + st.xdp_frags.iter().map(|f| f.len() as i64).sum::<i64>();
    let mut offset = offset as i64;
    if offset > total - ETH_HLEN as i64 {
        return neg(EINVAL);
    }
    while offset > 0 {
        let Some(last) = st.xdp_frags.last_mut() else {
            break;
        };
        let shrink = offset.min(last.len() as i64);
        last.truncate(last.len() - shrink as usize);
        offset -= shrink;
        if last.is_empty() {
            st.xdp_frags.pop();
        }
    }
    if st.xdp_frags.is_empty() {
        // The frame is linear again; the rest comes off its linear part.
        p.data_end -= offset.max(0) as u64;
        st.set_packet(p);
    }
    0
}

/// `bpf_xdp_frags_increase_tail`: the last fragment grows into the rest of
/// its page, the new bytes zeroed; EINVAL past the page.
fn frags_grow_tail(st: &mut RunState, offset: u64) -> u64 {
    let Some(last) = st.xdp_frags.last_mut() else {
        return neg(EINVAL);
    };
    if offset > (XDP_FRAG_SIZE - last.len()) as u64 {
        return neg(EINVAL);
    }
    last.resize(last.len() + offset as usize, 0);
    0
}

#[cfg(test)]
mod tests {
    use super::csum;

    #[test]
    fn ones_complement_arithmetic() {
        assert_eq!(csum::add(0xffff_ffff, 1), 1);
        assert_eq!(csum::add(0, 0), 0);
        assert_eq!(csum::fold(0x0001_fffe), 0);
        assert_eq!(csum::fold(0), 0xffff);
        assert_eq!(csum::partial(&[1, 0, 0, 0, 2, 0, 0, 0], 0), 3);
        assert_eq!(csum::partial(&[0xff; 8], 0), 0xffff_ffff);
        assert_eq!(csum::partial(&[1, 2, 3], 0), 0x0003_0201);
    }
}
