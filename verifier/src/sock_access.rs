//! Loads through `PTR_TO_SOCK_COMMON`, `PTR_TO_SOCKET` and `PTR_TO_TCP_SOCK`
//! (`check_sock_access`): which offsets and sizes of the uapi `struct
//! bpf_sock` and `struct bpf_tcp_sock` a program may read, as Linux 6.18's
//! `bpf_sock_common_is_valid_access`, `bpf_sock_is_valid_access` and
//! `bpf_tcp_sock_is_valid_access` decide. A valid load gives an unknown
//! scalar of the access's width.

use crate::state::RegType;

/// `sizeof(struct bpf_sock)`.
const BPF_SOCK_SIZE: i64 = 80;
/// Offsets in `struct bpf_sock` (uapi `linux/bpf.h`).
mod bpf_sock {
    pub const FAMILY: i64 = 4;
    pub const TYPE: i64 = 8;
    pub const PROTOCOL: i64 = 12;
    /// `priority` ends at 24: `type` to `priority` are full sockets' fields.
    pub const PRIORITY_END: i64 = 24;
    pub const SRC_IP4: i64 = 24;
    pub const SRC_IP6: i64 = 28;
    pub const SRC_PORT: i64 = 44;
    /// `__be16 dst_port`, then 16 bits of padding up to `dst_ip4`.
    pub const DST_PORT: i64 = 48;
    pub const DST_IP4: i64 = 52;
    pub const DST_IP6: i64 = 56;
    pub const STATE: i64 = 72;
    pub const RX_QUEUE_MAPPING: i64 = 76;
}
/// `offsetofend(struct bpf_tcp_sock, icsk_retransmits)`.
const BPF_TCP_SOCK_END: i64 = 112;
/// The two `__u64` fields of `struct bpf_tcp_sock`.
const TCP_BYTES_RECEIVED: i64 = 80;
const TCP_BYTES_ACKED: i64 = 88;

/// `bpf_ctx_narrow_access_ok`.
fn narrow_ok(size: i64, size_default: i64) -> bool {
    size <= size_default && size & (size - 1) == 0
}

/// `bpf_sock_is_valid_access` (reads; the caller refuses writes).
fn sock_ok(off: i64, size: i64) -> bool {
    use bpf_sock::*;
    if !(0..BPF_SOCK_SIZE).contains(&off) || size == 0 || off % size != 0 {
        return false;
    }
    let within = |start: i64, len: i64| (start..start + len).contains(&off);
    if off == STATE
        || off == FAMILY
        || off == TYPE
        || off == PROTOCOL
        || off == SRC_PORT
        || off == RX_QUEUE_MAPPING
        || within(SRC_IP4, 4)
        || within(SRC_IP6, 16)
        || within(DST_IP4, 4)
        || within(DST_IP6, 16)
    {
        return narrow_ok(size, 4);
    }
    if within(DST_PORT, 2) {
        // A word load of dst_port is allowed for old programs.
        let field = if size == 4 { 4 } else { 2 };
        return narrow_ok(size, field);
    }
    if within(DST_PORT + 2, 2) {
        return false;
    }
    size == 4
}

/// Whether a read of `size` bytes at `off` through a pointer of type `ty`
/// is valid.
pub(crate) fn read_ok(ty: RegType, off: i64, size: i64) -> bool {
    match ty {
        RegType::SockCommon => {
            !(bpf_sock::TYPE..bpf_sock::PRIORITY_END).contains(&off) && sock_ok(off, size)
        }
        RegType::Socket => sock_ok(off, size),
        RegType::TcpSock => {
            if !(0..BPF_TCP_SOCK_END).contains(&off) || size == 0 || off % size != 0 {
                return false;
            }
            if off == TCP_BYTES_RECEIVED || off == TCP_BYTES_ACKED {
                size == 8
            } else {
                size == 4
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sock_common_hides_the_full_socket_fields() {
        // family is in struct sock_common, protocol only in a full socket.
        assert!(read_ok(RegType::SockCommon, bpf_sock::FAMILY, 4));
        assert!(!read_ok(RegType::SockCommon, bpf_sock::PROTOCOL, 4));
        assert!(read_ok(RegType::Socket, bpf_sock::PROTOCOL, 4));
        assert!(read_ok(RegType::Socket, bpf_sock::PROTOCOL, 1));
    }

    #[test]
    fn dst_port_takes_its_own_width_or_a_word() {
        assert!(read_ok(RegType::Socket, bpf_sock::DST_PORT, 4));
        assert!(read_ok(RegType::Socket, bpf_sock::DST_PORT, 2));
        assert!(read_ok(RegType::Socket, bpf_sock::DST_PORT + 1, 1));
        assert!(!read_ok(RegType::Socket, bpf_sock::DST_PORT + 2, 2));
        assert!(!read_ok(RegType::Socket, bpf_sock::DST_PORT, 8));
    }

    #[test]
    fn tcp_sock_u64_fields_need_eight_bytes() {
        assert!(read_ok(RegType::TcpSock, TCP_BYTES_ACKED, 8));
        assert!(!read_ok(RegType::TcpSock, TCP_BYTES_ACKED, 4));
        assert!(read_ok(RegType::TcpSock, 0, 4));
        assert!(!read_ok(RegType::TcpSock, 0, 2));
        assert!(!read_ok(RegType::TcpSock, BPF_TCP_SOCK_END, 4));
    }
}
