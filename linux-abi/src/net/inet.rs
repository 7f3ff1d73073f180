//! IPv4 and IPv6 sockets (TCP, UDP). Not built yet: `socket(AF_INET/AF_INET6)` fails with
//! EAFNOSUPPORT until the network stack lands (issue 5).

use alloc::sync::Arc;

use super::socket::Socket;
use crate::errno::Errno;

/// A new socket of `family` and `ty`.
pub fn create(_family: u16, _ty: i32, _proto: i32) -> Result<Arc<dyn Socket>, Errno> {
    Err(Errno::EAFNOSUPPORT)
}
