//! Helpers that change what an skb carries at L2/L3: `bpf_skb_change_type`
//! (the packet type), `bpf_skb_change_proto` (IPv4 <-> IPv6: 20 bytes of
//! header room made or taken after the MAC header) and
//! `bpf_skb_adjust_room` (room after the MAC header or after the L3
//! header, for encapsulation and decapsulation). Checks, errnos and the
//! bytes they leave follow `net/core/filter.c` of 6.18:
//!
//! - new room is zeroed and sits at the offset (after the MAC header for
//!   `change_proto` and `BPF_ADJ_ROOM_MAC`, after the MAC and the base L3
//!   header, 20 or 40 bytes, for `BPF_ADJ_ROOM_NET`); removed room is taken
//!   from the same place; the bytes before the offset move with the head;
//! - `change_proto`: flags are `-EINVAL`, any pair other than
//!   `ETH_P_IP -> ETH_P_IPV6` and back `-ENOTSUPP`; the hash is cleared;
//! - `adjust_room`: unknown flags `-EINVAL`, `|len_diff| > 0xfff`
//!   `-EFAULT`, a packet that is neither IPv4 nor IPv6 or an unknown mode
//!   `-ENOTSUPP`, a decap flag when growing `-EINVAL`, a shrink to less
//!   than the L3 header (or the decap header) or a growth past
//!   `BPF_SKB_MAX_LEN` `-ENOTSUPP`; encap flags set the outer protocol and
//!   the network header, and mark the skb encapsulated (`-EALREADY` the
//!   second time); a `CHECKSUM_UNNECESSARY` skb is reset to
//!   `CHECKSUM_NONE` unless `BPF_F_ADJ_ROOM_NO_CSUM_RESET`.

use crate::abi::errno::{neg, EINVAL, ENOMEM, ENOTSUPP};
use crate::abi::{HelperCtx, HelperError, HelperRegistry, IpSummed, Packet};
use crate::net::{
    csum, pkt_move, pkt_read, pkt_write, set_skb_field, set_skb_hash, set_skb_len, skb_field,
    skb_packet, BPF_SKB_MAX_LEN, SKB_PROTOCOL,
};
use crate::table::def;

/// `__sk_buff.pkt_type`'s offset.
const SKB_PKT_TYPE: u64 = 4;
/// `PACKET_OTHERHOST`: the highest type `bpf_skb_change_type` accepts.
pub const PACKET_OTHERHOST: u32 = 3;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
const EFAULT: i64 = crate::abi::errno::EFAULT;
const EALREADY: i64 = 114;
const ETH_HLEN: u64 = 14;
const IPV4_HLEN: u64 = 20;
const IPV6_HLEN: u64 = 40;

pub const BPF_ADJ_ROOM_NET: u64 = 0;
pub const BPF_ADJ_ROOM_MAC: u64 = 1;
pub const BPF_F_ADJ_ROOM_FIXED_GSO: u64 = 1 << 0;
pub const BPF_F_ADJ_ROOM_ENCAP_L3_IPV4: u64 = 1 << 1;
pub const BPF_F_ADJ_ROOM_ENCAP_L3_IPV6: u64 = 1 << 2;
pub const BPF_F_ADJ_ROOM_ENCAP_L4_GRE: u64 = 1 << 3;
pub const BPF_F_ADJ_ROOM_ENCAP_L4_UDP: u64 = 1 << 4;
pub const BPF_F_ADJ_ROOM_NO_CSUM_RESET: u64 = 1 << 5;
pub const BPF_F_ADJ_ROOM_ENCAP_L2_ETH: u64 = 1 << 6;
pub const BPF_F_ADJ_ROOM_DECAP_L3_IPV4: u64 = 1 << 7;
pub const BPF_F_ADJ_ROOM_DECAP_L3_IPV6: u64 = 1 << 8;
/// `BPF_F_ADJ_ROOM_ENCAP_L2(len)`: the inner MAC header's length.
pub const BPF_ADJ_ROOM_ENCAP_L2_SHIFT: u64 = 56;
const ENCAP_L2_LEN_MASK: u64 = 0xff << BPF_ADJ_ROOM_ENCAP_L2_SHIFT;
const DECAP_L3_MASK: u64 = BPF_F_ADJ_ROOM_DECAP_L3_IPV4 | BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
const ENCAP_L3_MASK: u64 = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
/// `BPF_F_ADJ_ROOM_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET`.
const ADJ_ROOM_FLAGS: u64 = BPF_F_ADJ_ROOM_FIXED_GSO
    | ENCAP_L3_MASK
    | BPF_F_ADJ_ROOM_ENCAP_L4_GRE
    | BPF_F_ADJ_ROOM_ENCAP_L4_UDP
    | BPF_F_ADJ_ROOM_ENCAP_L2_ETH
    | ENCAP_L2_LEN_MASK
    | DECAP_L3_MASK
    | BPF_F_ADJ_ROOM_NO_CSUM_RESET;

/// The skb's `protocol` as a host number.
fn protocol(ctx: &HelperCtx<'_>, skb: u64) -> Result<u16, HelperError> {
    Ok(u16::from_be(skb_field(ctx, skb, SKB_PROTOCOL)? as u16))
}

fn set_protocol(ctx: &HelperCtx<'_>, skb: u64, proto: u16) -> Result<(), HelperError> {
    set_skb_field(ctx, skb, SKB_PROTOCOL, proto.to_be() as u32)
}

/// `bpf_skb_net_base_len`: the fixed L3 header of the skb's protocol.
fn net_base_len(proto: u16) -> u64 {
    match proto {
        ETH_P_IP => IPV4_HLEN,
        ETH_P_IPV6 => IPV6_HLEN,
        _ => 0,
    }
}

/// `skb_mac_header_len`: from the MAC header to the network header.
fn mac_header_len(p: &Packet) -> u64 {
    match (p.mac_header, p.network_header) {
        (Some(m), Some(n)) if n >= m => n - m,
        _ => 0,
    }
}

/// `bpf_skb_net_hdr_push`: `len` zeroed bytes at `off` from the head, the
/// first `off` bytes moved to the new head; the MAC and network headers
/// move with them. `Err(ENOMEM)` without the headroom.
fn hdr_push(p: &mut Packet, off: u64, len: u64) -> Result<(), i64> {
    if p.data < p.hard_start + len || off > p.len() {
        return Err(ENOMEM);
    }
    let new = p.data - len;
    pkt_move(p, new, p.data, off);
    p.data = new;
    p.data_meta = new;
    pkt_write(p, new + off, &vec![0u8; len as usize]);
    p.mac_header = p.mac_header.map(|m| m - len);
    p.network_header = p.network_header.map(|n| n - len);
    Ok(())
}

/// `bpf_skb_net_hdr_pop`: takes `len` bytes at `off` out; `Err(ENOMEM)`
/// when the packet is shorter than `off + len`. Returns the bytes taken.
fn hdr_pop(p: &mut Packet, off: u64, len: u64) -> Result<Vec<u8>, i64> {
    if off + len > p.len() {
        return Err(ENOMEM);
    }
    let gone = pkt_read(p, p.data + off, len);
    pkt_move(p, p.data + len, p.data, off);
    p.data += len;
    p.data_meta = p.data;
    p.mac_header = p.mac_header.map(|m| m + len);
    p.network_header = p.network_header.map(|n| n + len);
    Ok(gone)
}

/// Commits a changed packet: `skb->len` in the context, the bounds in the
/// run's state, and `skb_postpull_rcsum` for the bytes taken out.
fn commit(
    ctx: &mut HelperCtx<'_>,
    skb: u64,
    p: Packet,
    pulled: Option<&[u8]>,
) -> Result<(), HelperError> {
    set_skb_len(ctx, skb, &p)?;
    let st = ctx.state()?;
    if let Some(bytes) = pulled {
        if st.skb.ip_summed == IpSummed::Complete {
            st.skb.csum = csum::sub(st.skb.csum, csum::partial(bytes, 0));
        }
    }
    st.set_packet(p);
    Ok(())
}

/// `skb_clear_hash`.
fn clear_hash(ctx: &mut HelperCtx<'_>, skb: u64) -> Result<(), HelperError> {
    set_skb_hash(ctx, skb, 0)?;
    ctx.state()?.skb.hash_valid = false;
    Ok(())
}

/// `bpf_skb_change_proto(skb, proto, flags)`.
fn change_proto(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (skb, to, flags) = (a[0], u16::from_be(a[1] as u16), a[2]);
    if flags != 0 {
        return Ok(neg(EINVAL));
    }
    let from = protocol(ctx, skb)?;
    let mut p = skb_packet(ctx)?;
    let off = mac_header_len(&p);
    let diff = IPV6_HLEN - IPV4_HLEN;
    let pulled = match (from, to) {
        (ETH_P_IP, ETH_P_IPV6) => {
            if let Err(e) = hdr_push(&mut p, off, diff) {
                return Ok(neg(e));
            }
            None
        }
        (ETH_P_IPV6, ETH_P_IP) => match hdr_pop(&mut p, off, diff) {
            Ok(b) => Some(b),
            Err(e) => return Ok(neg(e)),
        },
        _ => return Ok(neg(ENOTSUPP)),
    };
    commit(ctx, skb, p, pulled.as_deref())?;
    set_protocol(ctx, skb, to)?;
    clear_hash(ctx, skb)?;
    Ok(0)
}

/// `bpf_skb_adjust_room(skb, len_diff, mode, flags)`.
fn adjust_room(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (skb, len_diff, mode, flags) = (a[0], a[1] as i32, a[2] as u32 as u64, a[3]);
    // BPF_PROG_TYPE_SK_SKB gets another helper under this id
    // (sk_skb_adjust_room: no modes, no flags, room at the head).
    if ctx.state_ref().is_some_and(|s| s.prog_type == 14) {
        return Err(HelperError::Failed(
            "bpf_skb_adjust_room of sk_skb programs (the kernel's sk_skb_adjust_room) is not implemented in userspace".into(),
        ));
    }
    let diff = len_diff.unsigned_abs() as u64;
    let shrink = len_diff < 0;
    if flags & !ADJ_ROOM_FLAGS != 0 {
        return Ok(neg(EINVAL));
    }
    if diff > 0xfff {
        return Ok(neg(EFAULT));
    }
    let proto = protocol(ctx, skb)?;
    if proto != ETH_P_IP && proto != ETH_P_IPV6 {
        return Ok(neg(ENOTSUPP));
    }
    let mut p = skb_packet(ctx)?;
    let mut len_min = net_base_len(proto);
    let mut off = mac_header_len(&p);
    match mode {
        BPF_ADJ_ROOM_NET => off += net_base_len(proto),
        BPF_ADJ_ROOM_MAC => {}
        _ => return Ok(neg(ENOTSUPP)),
    }
    if flags & DECAP_L3_MASK != 0 {
        if !shrink {
            return Ok(neg(EINVAL));
        }
        len_min = match flags & DECAP_L3_MASK {
            BPF_F_ADJ_ROOM_DECAP_L3_IPV4 => IPV4_HLEN,
            BPF_F_ADJ_ROOM_DECAP_L3_IPV6 => IPV6_HLEN,
            _ => return Ok(neg(EINVAL)),
        };
    }
    let net_off = p.network_header.map_or(0, |n| n.saturating_sub(p.data));
    let len_cur = p.len().saturating_sub(net_off);
    if (shrink && (diff >= len_cur || len_cur - diff < len_min))
        || (!shrink && p.len() + diff > BPF_SKB_MAX_LEN)
    {
        return Ok(neg(ENOTSUPP));
    }
    let r = if shrink {
        net_shrink(ctx, skb, &mut p, off, diff, flags)?
    } else {
        net_grow(ctx, skb, &mut p, off, diff, flags)?
    };
    if r == 0 && flags & BPF_F_ADJ_ROOM_NO_CSUM_RESET == 0 {
        let s = &mut ctx.state()?.skb;
        if s.ip_summed == IpSummed::Unnecessary {
            s.ip_summed = IpSummed::None;
            s.csum_level = 0;
        }
    }
    Ok(r)
}

/// `bpf_skb_net_grow`.
fn net_grow(
    ctx: &mut HelperCtx<'_>,
    skb: u64,
    p: &mut Packet,
    off: u64,
    diff: u64,
    flags: u64,
) -> Result<u64, HelperError> {
    let encap = flags & ENCAP_L3_MASK != 0;
    let inner_mac_len = flags >> BPF_ADJ_ROOM_ENCAP_L2_SHIFT;
    if p.data < p.hard_start + diff {
        return Ok(neg(ENOMEM));
    }
    let proto = protocol(ctx, skb)?;
    let mut mac_len = 0;
    if encap {
        if flags & ENCAP_L3_MASK == ENCAP_L3_MASK {
            return Ok(neg(EINVAL));
        }
        if flags & BPF_F_ADJ_ROOM_ENCAP_L4_GRE != 0 && flags & BPF_F_ADJ_ROOM_ENCAP_L4_UDP != 0 {
            return Ok(neg(EINVAL));
        }
        if flags & BPF_F_ADJ_ROOM_ENCAP_L2_ETH != 0 && inner_mac_len < ETH_HLEN {
            return Ok(neg(EINVAL));
        }
        if ctx.state_ref().is_some_and(|s| s.skb.encapsulation) {
            return Ok(neg(EALREADY));
        }
        mac_len = mac_header_len(p);
        if inner_mac_len > diff {
            return Ok(neg(EINVAL));
        }
    }
    if let Err(e) = hdr_push(p, off, diff) {
        return Ok(neg(e));
    }
    if encap {
        // skb_set_network_header(skb, mac_len): the outer L3 header starts
        // right after the MAC header.
        p.network_header = Some(p.data + mac_len);
    }
    commit(ctx, skb, *p, None)?;
    if encap {
        ctx.state()?.skb.encapsulation = true;
        if proto == ETH_P_IP && flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 != 0 {
            set_protocol(ctx, skb, ETH_P_IPV6)?;
        } else if proto == ETH_P_IPV6 && flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 != 0 {
            set_protocol(ctx, skb, ETH_P_IP)?;
        }
    }
    Ok(0)
}

/// `bpf_skb_net_shrink`.
fn net_shrink(
    ctx: &mut HelperCtx<'_>,
    skb: u64,
    p: &mut Packet,
    off: u64,
    diff: u64,
    flags: u64,
) -> Result<u64, HelperError> {
    if flags & !(BPF_F_ADJ_ROOM_FIXED_GSO | DECAP_L3_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET) != 0 {
        return Ok(neg(EINVAL));
    }
    let proto = protocol(ctx, skb)?;
    let pulled = match hdr_pop(p, off, diff) {
        Ok(b) => b,
        Err(e) => return Ok(neg(e)),
    };
    commit(ctx, skb, *p, Some(&pulled))?;
    if proto == ETH_P_IP && flags & BPF_F_ADJ_ROOM_DECAP_L3_IPV6 != 0 {
        set_protocol(ctx, skb, ETH_P_IPV6)?;
    } else if proto == ETH_P_IPV6 && flags & BPF_F_ADJ_ROOM_DECAP_L3_IPV4 != 0 {
        set_protocol(ctx, skb, ETH_P_IP)?;
    }
    Ok(0)
}

pub(crate) fn register(reg: &mut HelperRegistry) {
    def(reg, "skb_change_type", |ctx, a| {
        let (skb, ty) = (a[0], a[1] as u32);
        if skb_field(ctx, skb, SKB_PKT_TYPE)? > PACKET_OTHERHOST || ty > PACKET_OTHERHOST {
            return Ok(neg(EINVAL));
        }
        set_skb_field(ctx, skb, SKB_PKT_TYPE, ty)?;
        Ok(0)
    });
    def(reg, "skb_change_proto", change_proto);
    def(reg, "skb_adjust_room", adjust_room);
}
