//! The boundary to the network stack for traffic that leaves the machine.
//!
//! Not built yet (issue 5: smoltcp over the virtio-net NIC): destinations outside the
//! machine are unreachable (ENETUNREACH) and listeners accept only local connections.

use alloc::sync::Weak;

use super::inet::tcp::TcpSocket;
use super::inet::udp::UdpSocket;
use super::inet::{Endpoint, Ip};
use super::socket::{Blocking, Incoming, Outgoing};
use crate::errno::{Errno, SysResult};

/// Connect to another host.
pub fn tcp_connect_external(_s: &TcpSocket, _dst: Endpoint, _b: Blocking) -> Result<(), Errno> {
    Err(Errno::ENETUNREACH)
}

/// A listener also accepts connections from the network (once a NIC exists).
pub fn tcp_listen_external(_s: &TcpSocket, _local: Endpoint) {}

/// Send on an external connection (`None`: the socket has none).
pub fn tcp_send_external(_s: &TcpSocket, _out: &Outgoing<'_>, _b: Blocking) -> Option<SysResult> {
    None
}

/// Receive on an external connection (`None`: the socket has none).
pub fn tcp_recv_external(_s: &TcpSocket, _max: usize, _flags: u32, _b: Blocking) -> Option<Result<Incoming, Errno>> {
    None
}

/// Peer of an external connection.
pub fn tcp_peer_external(_s: &TcpSocket) -> Option<Endpoint> {
    None
}

/// Readiness of an external connection.
pub fn tcp_poll_external(_s: &TcpSocket) -> Option<u32> {
    None
}

/// A UDP socket was bound (the stack may deliver to it).
pub fn udp_bound(_s: Weak<UdpSocket>, _local: Endpoint) {}

/// Send a datagram to another host.
pub fn udp_send_external(_s: &UdpSocket, _local: Endpoint, _dst: Endpoint, _data: &[u8]) -> Result<(), Errno> {
    Err(Errno::ENETUNREACH)
}

/// Joined a multicast group (the NIC should receive it).
pub fn join_group(_g: Ip) {}
