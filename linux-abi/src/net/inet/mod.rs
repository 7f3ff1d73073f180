//! IPv4 and IPv6 sockets: TCP and UDP, and ICMP sockets for ping (`icmp`).
//!
//! Traffic between local addresses (127.0.0.0/8, `::1`, and the machine's own addresses)
//! goes through an in-kernel loopback transport: connected TCP sockets share two byte
//! queues with TCP's semantics (half-close, reset, `SO_ERROR`), and UDP datagrams go
//! straight to the bound socket's queue — one copy per direction, no packet processing.
//! Traffic to other hosts goes through the smoltcp stack on the NIC (see `crate::net::stack`).
//! Both share one port table, so a socket bound to a wildcard address sees both.

pub mod icmp;
pub mod ports;
pub mod tcp;
pub mod udp;

use alloc::sync::Arc;

use super::addr::{SockAddr, AF_INET, AF_INET6};
use super::socket::{Socket, SOCK_DGRAM, SOCK_STREAM};
use crate::errno::Errno;

/// An IP address (IPv4 kept apart from IPv6 so v4-mapped addresses compare equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Ip {
    /// The IPv4 or IPv6 wildcard address.
    pub fn any(v6: bool) -> Self {
        if v6 { Ip::V6([0; 16]) } else { Ip::V4([0; 4]) }
    }

    /// Unmaps `::ffff:a.b.c.d` to IPv4.
    pub fn canonical(self) -> Self {
        match self {
            Ip::V6(a) if a[..10] == [0; 10] && a[10] == 0xff && a[11] == 0xff => Ip::V4([a[12], a[13], a[14], a[15]]),
            other => other,
        }
    }

    /// 0.0.0.0 or ::.
    pub fn is_unspecified(self) -> bool {
        match self {
            Ip::V4(a) => a == [0; 4],
            Ip::V6(a) => a == [0; 16],
        }
    }

    /// 127.0.0.0/8 or ::1.
    pub fn is_loopback(self) -> bool {
        match self.canonical() {
            Ip::V4(a) => a[0] == 127,
            Ip::V6(a) => a == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        }
    }

    /// A multicast group (224.0.0.0/4, ff00::/8).
    pub fn is_multicast(self) -> bool {
        match self.canonical() {
            Ip::V4(a) => (224..=239).contains(&a[0]),
            Ip::V6(a) => a[0] == 0xff,
        }
    }

    /// An address of this machine (loopback, unspecified, or an interface address).
    pub fn is_local(self) -> bool {
        let c = self.canonical();
        c.is_loopback() || c.is_unspecified() || super::ifaces::is_own_address(c)
    }

    /// IPv4?
    pub fn is_v4(self) -> bool {
        matches!(self.canonical(), Ip::V4(_))
    }

    /// As an IPv6 address (v4-mapped for IPv4).
    pub fn to_v6(self) -> [u8; 16] {
        match self {
            Ip::V4(a) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]],
            Ip::V6(a) => a,
        }
    }
}

/// An (address, port) endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ip,
    pub port: u16,
}

impl Endpoint {
    /// From a socket address of `family` (EAFNOSUPPORT / EINVAL as Linux gives).
    pub fn from_sockaddr(family: u16, a: &SockAddr) -> Result<Self, Errno> {
        match (family, a) {
            (AF_INET, SockAddr::Inet(ip, port)) => Ok(Endpoint { ip: Ip::V4(*ip), port: *port }),
            (AF_INET6, SockAddr::Inet6(ip, port, ..)) => Ok(Endpoint { ip: Ip::V6(*ip).canonical(), port: *port }),
            (AF_INET6, SockAddr::Inet(..)) => Err(Errno::EAFNOSUPPORT),
            (AF_INET, SockAddr::Inet6(..)) => Err(Errno::EAFNOSUPPORT),
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// As a socket address for a socket of `family`.
    pub fn to_sockaddr(self, family: u16) -> SockAddr {
        match (family, self.ip) {
            (AF_INET, Ip::V4(a)) => SockAddr::Inet(a, self.port),
            (AF_INET, Ip::V6(_)) => SockAddr::Inet([0; 4], self.port),
            (_, ip) => SockAddr::Inet6(ip.to_v6(), self.port, 0, 0),
        }
    }
}

pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;
pub const IPPROTO_IPV6: i32 = 41;

/// A new socket of `family`, `ty`, `proto`.
pub fn create(family: u16, ty: i32, proto: i32) -> Result<Arc<dyn Socket>, Errno> {
    let v6 = family == AF_INET6;
    match ty {
        SOCK_STREAM if proto == 0 || proto == IPPROTO_TCP => Ok(tcp::TcpSocket::new(v6)),
        SOCK_DGRAM if proto == 0 || proto == IPPROTO_UDP => Ok(udp::UdpSocket::new(v6)),
        SOCK_DGRAM if proto == icmp::IPPROTO_ICMP && !v6 => Ok(icmp::IcmpSocket::new(false)),
        3 if proto == icmp::IPPROTO_ICMP && !v6 => Ok(icmp::IcmpSocket::new(true)),
        SOCK_STREAM | SOCK_DGRAM | 3 => Err(Errno::EPROTONOSUPPORT),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}
