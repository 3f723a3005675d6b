//! Tunnel metadata: `bpf_skb_set_tunnel_key` attaches a
//! [`TunnelInfo`](crate::abi::TunnelInfo) to the run's skb (the kernel's
//! per-CPU metadata dst), `bpf_skb_get_tunnel_key` reads the one the skb
//! carries. Sizes, flags and errnos follow `net/core/filter.c` of 6.18:
//!
//! - `struct bpf_tunnel_key` is 44 bytes; the older layouts (8, 22, 24 and
//!   28 bytes: up to `remote_ipv6[1]`, `tunnel_ext`, `tunnel_label`,
//!   `local_ipv4`) are accepted, set reads them as if zero-padded, get
//!   writes only their bytes (8 only for an IPv4 tunnel); other sizes are
//!   `-EINVAL`;
//! - set: flags other than `BPF_F_TUNINFO_IPV6 | ZERO_CSUM_TX |
//!   DONT_FRAGMENT | SEQ_NUMBER | NO_TUNNEL_KEY`, a flow label without
//!   `BPF_F_TUNINFO_IPV6` or a non-zero `tunnel_ext` are `-EINVAL`;
//! - get: no tunnel info or unknown flags are `-EINVAL`, an address family
//!   other than the flags ask for `-EPROTO`; on any error the buffer is
//!   zeroed. A received tunnel's *source* is the remote end: get returns
//!   `key.u.ipv4.src` as `remote_ipv4` (so what set stored as `local_ipv4`
//!   comes back as `remote_ipv4`);
//! - `bpf_skb_set_tunnel_opt`/`get_tunnel_opt` attach and read the
//!   tunnel's options (Geneve TLVs and the like) on that same tunnel info.

use crate::abi::errno::{neg, EINVAL};
use crate::abi::{HelperCtx, HelperError, HelperRegistry, TunnelInfo};
use crate::table::def;
use ironbpf_isa::abi::Access;

/// `sizeof(struct bpf_tunnel_key)`.
pub const BPF_TUNNEL_KEY_SIZE: u64 = 44;
pub const BPF_F_TUNINFO_IPV6: u64 = 1 << 0;
pub const BPF_F_ZERO_CSUM_TX: u64 = 1 << 1;
pub const BPF_F_DONT_FRAGMENT: u64 = 1 << 2;
pub const BPF_F_SEQ_NUMBER: u64 = 1 << 3;
pub const BPF_F_NO_TUNNEL_KEY: u64 = 1 << 4;
/// get_tunnel_key: fill `tunnel_flags` (the same bit as `NO_TUNNEL_KEY`).
pub const BPF_F_TUNINFO_FLAGS: u64 = 1 << 4;
const EPROTO: i64 = 71;

/// `IP_TUNNEL_*_BIT` numbers.
pub const IP_TUNNEL_CSUM_BIT: u16 = 0;
pub const IP_TUNNEL_KEY_BIT: u16 = 2;
pub const IP_TUNNEL_SEQ_BIT: u16 = 3;
pub const IP_TUNNEL_DONT_FRAGMENT_BIT: u16 = 8;
pub const IP_TUNNEL_NOCACHE_BIT: u16 = 13;
/// The option bits `ip_tunnel_set_options_present` sets: GENEVE_OPT,
/// VXLAN_OPT, ERSPAN_OPT, GTP_OPT, PFCP_OPT.
pub const IP_TUNNEL_OPTIONS_PRESENT: u32 = 1 << 11 | 1 << 12 | 1 << 14 | 1 << 15 | 1 << 16;
/// `IP_TUNNEL_OPTS_MAX`: `options_len` is a u8.
pub const IP_TUNNEL_OPTS_MAX: u64 = 255;
const ENOENT: i64 = crate::abi::errno::ENOENT;
const ENOMEM: i64 = crate::abi::errno::ENOMEM;
const IPV6_FLOWLABEL_MASK: u32 = 0x000f_ffff;

/// Offsets in `struct bpf_tunnel_key`.
const OFF_REMOTE: usize = 4;
const OFF_TOS: usize = 20;
const OFF_TTL: usize = 21;
const OFF_EXT: usize = 22;
const OFF_LABEL: usize = 24;
const OFF_LOCAL: usize = 28;

/// The u32 at `off` of a `struct bpf_tunnel_key` (every caller's `off` is
/// one of the constants above, inside the struct).
fn u32_at(b: &[u8; BPF_TUNNEL_KEY_SIZE as usize], off: usize) -> u32 {
    b.get(off..off + 4)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

/// `bpf_skb_set_tunnel_key(skb, key, size, flags)`.
fn set_tunnel_key(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (from, size, flags) = (a[1], a[2] as u32 as u64, a[3]);
    if flags
        & !(BPF_F_TUNINFO_IPV6
            | BPF_F_ZERO_CSUM_TX
            | BPF_F_DONT_FRAGMENT
            | BPF_F_SEQ_NUMBER
            | BPF_F_NO_TUNNEL_KEY)
        != 0
    {
        return Ok(neg(EINVAL));
    }
    if !matches!(size, 8 | 22 | 24 | 28 | BPF_TUNNEL_KEY_SIZE) {
        return Ok(neg(EINVAL));
    }
    // The program's `size` bytes, the rest of the struct zero.
    let mut key = [0u8; BPF_TUNNEL_KEY_SIZE as usize];
    for (d, c) in key.iter_mut().zip(ctx.read(from, size)?) {
        *d = c;
    }
    let ipv6 = flags & BPF_F_TUNINFO_IPV6 != 0;
    let label = u32_at(&key, OFF_LABEL);
    let ext = u16::from_ne_bytes([key[OFF_EXT], key[OFF_EXT + 1]]);
    if (!ipv6 && label != 0) || ext != 0 {
        return Ok(neg(EINVAL));
    }
    let bit = |b: u16, on: bool| if on { 1u32 << b } else { 0 };
    let tun_flags = bit(IP_TUNNEL_NOCACHE_BIT, true)
        | bit(
            IP_TUNNEL_DONT_FRAGMENT_BIT,
            flags & BPF_F_DONT_FRAGMENT != 0,
        )
        | bit(IP_TUNNEL_CSUM_BIT, flags & BPF_F_ZERO_CSUM_TX == 0)
        | bit(IP_TUNNEL_SEQ_BIT, flags & BPF_F_SEQ_NUMBER != 0)
        | bit(IP_TUNNEL_KEY_BIT, flags & BPF_F_NO_TUNNEL_KEY == 0);
    let mut info = TunnelInfo {
        ipv6,
        tun_id: u32_at(&key, 0) as u64,
        tos: key[OFF_TOS],
        ttl: key[OFF_TTL],
        tun_flags,
        ..TunnelInfo::default()
    };
    if ipv6 {
        info.dst.copy_from_slice(&key[OFF_REMOTE..OFF_REMOTE + 16]);
        info.src.copy_from_slice(&key[OFF_LOCAL..OFF_LOCAL + 16]);
        info.label = label & IPV6_FLOWLABEL_MASK;
    } else {
        // The program gives host-order IPv4 addresses; the kernel keeps
        // them big-endian.
        info.dst[..4].copy_from_slice(&u32_at(&key, OFF_REMOTE).to_be_bytes());
        info.src[..4].copy_from_slice(&u32_at(&key, OFF_LOCAL).to_be_bytes());
    }
    ctx.state()?.tunnel = Some(info);
    Ok(0)
}

/// `bpf_skb_get_tunnel_key(skb, key, size, flags)`.
fn get_tunnel_key(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (to, size, flags) = (a[1], a[2] as u32 as u64, a[3]);
    ctx.check(to, size, Access::Store)?;
    let info = ctx.state_ref().and_then(|s| s.tunnel.clone());
    let fail = |ctx: &HelperCtx<'_>, e: i64| -> Result<u64, HelperError> {
        ctx.zero(to, size)?;
        Ok(neg(e))
    };
    let Some(info) = info else {
        return fail(ctx, EINVAL);
    };
    if flags & !(BPF_F_TUNINFO_IPV6 | BPF_F_TUNINFO_FLAGS) != 0 {
        return fail(ctx, EINVAL);
    }
    let want_v6 = flags & BPF_F_TUNINFO_IPV6 != 0;
    if info.ipv6 != want_v6 {
        return fail(ctx, EPROTO);
    }
    match size {
        // Up to local_ipv4, tunnel_label, tunnel_ext.
        28 | 24 | 22 | BPF_TUNNEL_KEY_SIZE => {}
        // Up to remote_ipv6[1]: the IPv4 layout only.
        8 if !info.ipv6 => {}
        _ => return fail(ctx, EINVAL),
    }
    let mut key = [0u8; BPF_TUNNEL_KEY_SIZE as usize];
    key[..4].copy_from_slice(&(info.tun_id as u32).to_ne_bytes());
    key[OFF_TOS] = info.tos;
    key[OFF_TTL] = info.ttl;
    if flags & BPF_F_TUNINFO_FLAGS != 0 {
        // ip_tunnel_flags_to_be16: the low 16 bits, big-endian.
        key[OFF_EXT..OFF_EXT + 2].copy_from_slice(&(info.tun_flags as u16).to_be_bytes());
    }
    if info.ipv6 {
        key[OFF_REMOTE..OFF_REMOTE + 16].copy_from_slice(&info.src);
        key[OFF_LOCAL..OFF_LOCAL + 16].copy_from_slice(&info.dst);
        key[OFF_LABEL..OFF_LABEL + 4].copy_from_slice(&info.label.to_ne_bytes());
    } else {
        let host = |b: &[u8; 16]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        key[OFF_REMOTE..OFF_REMOTE + 4].copy_from_slice(&host(&info.src).to_ne_bytes());
        key[OFF_LOCAL..OFF_LOCAL + 4].copy_from_slice(&host(&info.dst).to_ne_bytes());
    }
    ctx.write(to, key.get(..size as usize).unwrap_or(&key))?;
    Ok(0)
}

/// `bpf_skb_set_tunnel_opt(skb, opt, size)`: only on the tunnel info
/// `bpf_skb_set_tunnel_key` attached in this run (`-EINVAL` otherwise, or
/// for a size that is not a multiple of 4), at most 255 bytes
/// (`-ENOMEM`).
fn set_tunnel_opt(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (from, size) = (a[1], a[2] as u32 as u64);
    let bytes = ctx.read(from, size)?;
    let st = ctx.state()?;
    let Some(info) = st.tunnel.as_mut() else {
        return Ok(neg(EINVAL));
    };
    if size % 4 != 0 {
        return Ok(neg(EINVAL));
    }
    if size > IP_TUNNEL_OPTS_MAX {
        return Ok(neg(ENOMEM));
    }
    // ip_tunnel_info_opts_set: the present bits only with some options.
    if !bytes.is_empty() {
        info.tun_flags |= IP_TUNNEL_OPTIONS_PRESENT;
    }
    info.options = bytes;
    Ok(0)
}

/// `bpf_skb_get_tunnel_opt(skb, opt, size)`: the options' length, the
/// buffer zero-padded; `-ENOENT` without options, `-ENOMEM` when they do
/// not fit (the buffer zeroed on error).
fn get_tunnel_opt(ctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (to, size) = (a[1], a[2] as u32 as u64);
    ctx.check(to, size, Access::Store)?;
    let info = ctx.state_ref().and_then(|s| s.tunnel.clone());
    let Some(info) = info.filter(|i| i.tun_flags & IP_TUNNEL_OPTIONS_PRESENT != 0) else {
        ctx.zero(to, size)?;
        return Ok(neg(ENOENT));
    };
    let len = info.options.len() as u64;
    if size < len {
        ctx.zero(to, size)?;
        return Ok(neg(ENOMEM));
    }
    let mut out = info.options.clone();
    out.resize(size as usize, 0);
    ctx.write(to, &out)?;
    Ok(len)
}

pub(crate) fn register(reg: &mut HelperRegistry) {
    def(reg, "skb_set_tunnel_key", set_tunnel_key);
    def(reg, "skb_get_tunnel_key", get_tunnel_key);
    def(reg, "skb_set_tunnel_opt", set_tunnel_opt);
    def(reg, "skb_get_tunnel_opt", get_tunnel_opt);
}
