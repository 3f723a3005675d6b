//! `bpf_clone_redirect(skb, ifindex, flags)`: a clone of the packet leaves
//! through (or, with `BPF_F_INGRESS`, arrives at) device `ifindex`, and the
//! program goes on with the original, unchanged. The devices are the
//! [`World`](crate::World)'s interfaces (by default a fresh namespace's
//! `lo`, up).
//!
//! As `bpf_clone_redirect` and `__bpf_redirect` of Linux 6.18 answer in a
//! test run, where the clone really is sent: flags other than
//! `BPF_F_INGRESS` are `-EINVAL`, an ifindex no device has `-EINVAL`; an
//! empty packet, or one whose MAC header does not come before its network
//! header, `-ERANGE`. Egress is `dev_queue_xmit`'s answer: 0 on a
//! device that is up; on one that is down, `NET_XMIT_CN` (2: a device
//! that is down has the `noop` qdisc, which drops the clone and says so).
//! Ingress is `dev_forward_skb`'s: 0 on a device that is up, `NET_RX_DROP`
//! (1) on one that is down. (A device that drops what it is given while up,
//! such as a veth whose peer is down, is not modelled: the world's devices
//! deliver.)

use crate::abi::errno::{neg, EINVAL, ERANGE};
use crate::abi::{HelperCtx, HelperError, HelperRegistry};
use crate::env::HelperEnv;
use crate::table::def;
use std::sync::Arc;

/// `BPF_F_INGRESS`: to the device's receive path rather than out of it.
const BPF_F_INGRESS: u64 = 1;
/// `NET_XMIT_CN`: the qdisc dropped the clone (congestion notification).
const NET_XMIT_CN: u64 = 2;
/// `NET_RX_DROP`: the receive path dropped the clone.
const NET_RX_DROP: u64 = 1;

/// Registers `bpf_clone_redirect`.
pub(crate) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = env.clone();
    def(reg, "clone_redirect", move |ctx, a| {
        clone_redirect(&e, ctx, a)
    });
}

fn clone_redirect(
    env: &HelperEnv,
    ctx: &mut HelperCtx<'_>,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let (ifindex, flags) = (a[1] as u32, a[2]);
    if flags & !BPF_F_INGRESS != 0 {
        return Ok(neg(EINVAL));
    }
    let world = env.world();
    let Some(dev) = world.interface(ifindex) else {
        return Ok(neg(EINVAL));
    };
    // __bpf_redirect_common: the clone must hold a MAC header before its
    // network header, and some bytes.
    let p = crate::net::packet(ctx)?;
    let headers_wrong = matches!((p.mac_header, p.network_header), (Some(m), Some(n)) if m >= n);
    if p.data_end <= p.data || headers_wrong {
        return Ok(neg(ERANGE));
    }
    Ok(match (flags & BPF_F_INGRESS != 0, dev.up) {
        (_, true) => 0,
        (true, false) => NET_RX_DROP,
        (false, false) => NET_XMIT_CN,
    })
}
