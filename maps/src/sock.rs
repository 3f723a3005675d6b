//! The host's view of a socket fd, as the kernel's `sockfd_lookup` and the
//! socket maps see it: `EBADF` for an fd that is not open, `ENOTSOCK` for
//! one that is not a socket, then the family, type, protocol, TCP state and
//! the socket's cookie (`SO_COOKIE`, what a sockmap lookup reports).

use crate::MapError;

/// What the socket maps need to know of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockInfo {
    /// `AF_*`.
    pub domain: i32,
    /// `SOCK_STREAM`, `SOCK_DGRAM`...
    pub sock_type: i32,
    /// `IPPROTO_*` (0 for AF_UNIX).
    pub protocol: i32,
    /// The socket's inode: its identity while it is open.
    pub ino: u64,
    /// `SO_COOKIE`: the kernel's stable id of the socket.
    pub cookie: u64,
    /// `TCP_ESTABLISHED` (1), `TCP_LISTEN` (10)...; `None` unless TCP.
    pub tcp_state: Option<u8>,
    /// Whether the socket has a peer (`getpeername` succeeds).
    pub connected: bool,
    /// Whether an IPv4/IPv6 socket has a local port (the kernel's hashed
    /// state of a UDP socket); true for other families.
    pub bound: bool,
}

fn sockopt_int(fd: i32, level: i32, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for the call; the kernel writes at
    // most `len` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(v)
}

/// Resolves `fd` (a value of a socket map, as the host passes it) to the
/// socket behind it, refusing what `sockfd_lookup` refuses.
pub fn socket_of_fd(fd: u32) -> Result<SockInfo, MapError> {
    let bad = || {
        MapError::new(
            libc::EBADF,
            format!(
                "fd {fd} is not an open file descriptor of this process (the kernel says EBADF)"
            ),
        )
    };
    if fd > i32::MAX as u32 {
        return Err(bad());
    }
    let fd = fd as i32;
    // SAFETY: fstat writes one `stat` into `st`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(bad());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(MapError::new(
            libc::ENOTSOCK,
            format!("fd {fd} is not a socket (the kernel says ENOTSOCK)"),
        ));
    }
    let domain = sockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(-1);
    let sock_type = sockopt_int(fd, libc::SOL_SOCKET, libc::SO_TYPE).unwrap_or(-1);
    let protocol = sockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(-1);
    let mut cookie: u64 = 0;
    let mut len = 8 as libc::socklen_t;
    // SAFETY: `cookie` has the 8 bytes SO_COOKIE writes.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    let tcp = (domain == libc::AF_INET || domain == libc::AF_INET6)
        && sock_type == libc::SOCK_STREAM
        && protocol == libc::IPPROTO_TCP;
    let tcp_state = if tcp {
        // SAFETY: tcp_info is plain data; the kernel writes at most `len`.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(info.tcpi_state)
    } else {
        None
    };
    // SAFETY: getpeername/getsockname write at most `len` bytes into `addr`.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let connected = unsafe {
        libc::getpeername(
            fd,
            (&mut addr as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    } == 0;
    let bound = if domain == libc::AF_INET || domain == libc::AF_INET6 {
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let ok = unsafe {
            libc::getsockname(
                fd,
                (&mut addr as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        } == 0;
        // The port sits at the same offset in sockaddr_in and sockaddr_in6.
        let port = {
            // SAFETY: sockaddr_storage is larger than sockaddr_in.
            let sin =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_port
        };
        ok && port != 0
    } else {
        true
    };
    Ok(SockInfo {
        domain,
        sock_type,
        protocol,
        ino: st.st_ino,
        cookie,
        tcp_state,
        connected,
        bound,
    })
}

/// `TCP_ESTABLISHED`.
pub const TCP_ESTABLISHED: u8 = 1;
/// `TCP_LISTEN`.
pub const TCP_LISTEN: u8 = 10;

impl SockInfo {
    /// Whether the kernel can put this socket in a sockmap or sockhash
    /// (its protocol has `psock_update_sk_prot`): TCP and UDP over IPv4 or
    /// IPv6, AF_UNIX stream, datagram and seqpacket, AF_VSOCK.
    pub fn sockmap_suitable(&self) -> bool {
        match self.domain {
            libc::AF_INET | libc::AF_INET6 => {
                (self.sock_type == libc::SOCK_STREAM && self.protocol == libc::IPPROTO_TCP)
                    || (self.sock_type == libc::SOCK_DGRAM && self.protocol == libc::IPPROTO_UDP)
            }
            libc::AF_UNIX => matches!(
                self.sock_type,
                libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET
            ),
            libc::AF_VSOCK => true,
            _ => false,
        }
    }

    /// Whether the socket's state lets it in: a TCP socket must be
    /// established or listening, a UDP socket bound (hashed), a unix or
    /// vsock stream socket connected; datagram unix sockets always may.
    pub fn sockmap_state_allowed(&self) -> bool {
        if let Some(s) = self.tcp_state {
            return s == TCP_ESTABLISHED || s == TCP_LISTEN;
        }
        match self.domain {
            libc::AF_INET | libc::AF_INET6 => self.bound,
            libc::AF_UNIX | libc::AF_VSOCK => self.sock_type == libc::SOCK_DGRAM || self.connected,
            _ => true,
        }
    }
}
