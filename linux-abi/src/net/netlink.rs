//! Netlink sockets. Not built yet: `socket(AF_NETLINK)` fails with EAFNOSUPPORT until the
//! `NETLINK_ROUTE` dumps land (issue 5).

use alloc::sync::Arc;

use super::socket::Socket;
use crate::errno::Errno;

/// A new netlink socket.
pub fn create(_ty: i32, _proto: i32) -> Result<Arc<dyn Socket>, Errno> {
    Err(Errno::EAFNOSUPPORT)
}
