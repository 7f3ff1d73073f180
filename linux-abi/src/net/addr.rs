//! Socket addresses: parsing `struct sockaddr_*` from user memory and encoding them back,
//! with Linux's length and family checks.

use alloc::vec::Vec;

use crate::errno::Errno;

pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const AF_NETLINK: u16 = 16;

/// A socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// `sockaddr_un` with no path (unnamed / autobind pending).
    UnixUnnamed,
    /// A filesystem path.
    UnixPath(Vec<u8>),
    /// An abstract name (leading NUL stripped).
    UnixAbstract(Vec<u8>),
    /// IPv4 address and port.
    Inet([u8; 4], u16),
    /// IPv6 address, port, flow info, scope id.
    Inet6([u8; 16], u16, u32, u32),
    /// Netlink port id and groups.
    Netlink(u32, u32),
    /// `AF_UNSPEC` (connect to dissolve an association).
    Unspec,
}

impl SockAddr {
    /// The address family.
    pub fn family(&self) -> u16 {
        match self {
            SockAddr::UnixUnnamed | SockAddr::UnixPath(_) | SockAddr::UnixAbstract(_) => AF_UNIX,
            SockAddr::Inet(..) => AF_INET,
            SockAddr::Inet6(..) => AF_INET6,
            SockAddr::Netlink(..) => AF_NETLINK,
            SockAddr::Unspec => AF_UNSPEC,
        }
    }

    /// Parses a user-supplied address of `len` bytes (already copied in).
    pub fn parse(b: &[u8]) -> Result<Self, Errno> {
        if b.len() < 2 {
            return Err(Errno::EINVAL);
        }
        let family = u16::from_le_bytes([b[0], b[1]]);
        match family {
            AF_UNSPEC => Ok(SockAddr::Unspec),
            AF_UNIX => {
                let path = &b[2..b.len().min(110)];
                if b.len() > 110 {
                    return Err(Errno::EINVAL);
                }
                if path.is_empty() {
                    return Ok(SockAddr::UnixUnnamed);
                }
                if path[0] == 0 {
                    return Ok(SockAddr::UnixAbstract(path[1..].to_vec()));
                }
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                Ok(SockAddr::UnixPath(path[..end].to_vec()))
            }
            AF_INET => {
                if b.len() < 16 {
                    return Err(Errno::EINVAL);
                }
                Ok(SockAddr::Inet([b[4], b[5], b[6], b[7]], u16::from_be_bytes([b[2], b[3]])))
            }
            AF_INET6 => {
                if b.len() < 24 {
                    return Err(Errno::EINVAL);
                }
                let mut a = [0u8; 16];
                a.copy_from_slice(&b[8..24]);
                let scope = if b.len() >= 28 { u32::from_le_bytes([b[24], b[25], b[26], b[27]]) } else { 0 };
                Ok(SockAddr::Inet6(a, u16::from_be_bytes([b[2], b[3]]), u32::from_be_bytes([b[4], b[5], b[6], b[7]]), scope))
            }
            AF_NETLINK => {
                if b.len() < 12 {
                    return Err(Errno::EINVAL);
                }
                Ok(SockAddr::Netlink(u32::from_le_bytes([b[4], b[5], b[6], b[7]]), u32::from_le_bytes([b[8], b[9], b[10], b[11]])))
            }
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// Encodes as a `struct sockaddr_*`.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&self.family().to_le_bytes());
        match self {
            SockAddr::UnixUnnamed | SockAddr::Unspec => {}
            SockAddr::UnixPath(p) => {
                v.extend_from_slice(p);
                v.push(0);
            }
            SockAddr::UnixAbstract(n) => {
                v.push(0);
                v.extend_from_slice(n);
            }
            SockAddr::Inet(a, port) => {
                v.extend_from_slice(&port.to_be_bytes());
                v.extend_from_slice(a);
                v.extend_from_slice(&[0; 8]);
            }
            SockAddr::Inet6(a, port, flow, scope) => {
                v.extend_from_slice(&port.to_be_bytes());
                v.extend_from_slice(&flow.to_be_bytes());
                v.extend_from_slice(a);
                v.extend_from_slice(&scope.to_le_bytes());
            }
            SockAddr::Netlink(pid, groups) => {
                v.extend_from_slice(&[0, 0]);
                v.extend_from_slice(&pid.to_le_bytes());
                v.extend_from_slice(&groups.to_le_bytes());
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for a in [
            SockAddr::Inet([127, 0, 0, 1], 8080),
            SockAddr::Inet6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 443, 0, 0),
            SockAddr::UnixPath(b"/tmp/s".to_vec()),
            SockAddr::UnixAbstract(b"name".to_vec()),
            SockAddr::Netlink(7, 1),
        ] {
            assert_eq!(SockAddr::parse(&a.encode()).unwrap(), a, "{a:?}");
        }
        assert_eq!(SockAddr::Inet([127, 0, 0, 1], 8080).encode().len(), 16);
        assert_eq!(SockAddr::parse(&[1, 0]).unwrap(), SockAddr::UnixUnnamed);
    }

    #[test]
    fn errors() {
        assert_eq!(SockAddr::parse(&[2, 0, 0]), Err(Errno::EINVAL));
        assert_eq!(SockAddr::parse(&[99, 0, 0, 0]), Err(Errno::EAFNOSUPPORT));
        assert_eq!(SockAddr::parse(&[0]), Err(Errno::EINVAL));
    }
}
