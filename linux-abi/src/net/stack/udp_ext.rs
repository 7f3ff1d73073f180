//! UDP on the NIC: a UDP socket bound to the wildcard or the NIC's address gets a smoltcp
//! UDP socket on its port; datagrams that arrive there are delivered into the Axle socket's
//! queue (the same queue local senders fill), and datagrams to other hosts leave through it.
//!
//! Limits, stated rather than hidden: datagrams to other hosts larger than one Ethernet
//! frame (1472 bytes of payload) are refused with EMSGSIZE (no IP fragmentation), and
//! multicast groups are joined on this machine only (no IGMP on the NIC).

use alloc::collections::BTreeMap;
use alloc::sync::Weak;
use alloc::vec::Vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp::{self, PacketBuffer, PacketMetadata};

use super::{endpoint, present, smol_endpoint, with_stack, Effects, Stack};
use crate::errno::Errno;
use crate::net::inet::udp::UdpSocket;
use crate::net::inet::{Endpoint, Ip};

/// Largest payload that fits one 1500-byte IPv4 packet.
const MAX_PAYLOAD: usize = 1472;
const RX_PACKETS: usize = 64;
const RX_BYTES: usize = 256 << 10;
const TX_PACKETS: usize = 32;
const TX_BYTES: usize = 64 << 10;

struct Bound {
    handle: SocketHandle,
    owner: Weak<UdpSocket>,
}

/// The stack's UDP state: one smoltcp socket per bound port.
#[derive(Default)]
pub struct Table {
    ports: BTreeMap<u16, Bound>,
}

/// Binds a smoltcp socket for `owner` on `port` unless a live one exists.
fn bind(st: &mut Stack, owner: Weak<UdpSocket>, port: u16) -> Option<SocketHandle> {
    if let Some(b) = st.udp.ports.get(&port) {
        if b.owner.strong_count() > 0 {
            return Some(b.handle);
        }
        let h = b.handle;
        st.sockets.remove(h);
        st.udp.ports.remove(&port);
    }
    let mut sock = udp::Socket::new(
        PacketBuffer::new(alloc::vec![PacketMetadata::EMPTY; RX_PACKETS], alloc::vec![0; RX_BYTES]),
        PacketBuffer::new(alloc::vec![PacketMetadata::EMPTY; TX_PACKETS], alloc::vec![0; TX_BYTES]),
    );
    sock.bind(port).ok()?;
    let handle = st.sockets.add(sock);
    st.udp.ports.insert(port, Bound { handle, owner });
    Some(handle)
}

fn reachable_from(local: Endpoint, own: [u8; 4]) -> bool {
    let ip = local.ip.canonical();
    ip.is_unspecified() || ip == Ip::V4(own)
}

/// A UDP socket was bound to `local`: datagrams from the network to it are delivered.
pub fn udp_bound(s: Weak<UdpSocket>, local: Endpoint) {
    if !present() {
        return;
    }
    with_stack(|st, _| {
        if reachable_from(local, st.ip) {
            bind(st, s, local.port);
        }
    });
}

/// Sends a datagram from `local` to `dst` on another host.
pub fn udp_send_external(s: &UdpSocket, local: Endpoint, dst: Endpoint, data: &[u8]) -> Result<(), Errno> {
    if !present() {
        return Err(Errno::ENETUNREACH);
    }
    let remote = smol_endpoint(dst)?;
    if dst.port == 0 {
        return Err(Errno::EINVAL);
    }
    if data.len() > MAX_PAYLOAD {
        return Err(Errno::EMSGSIZE);
    }
    with_stack(|st, fx| {
        if !reachable_from(local, st.ip) {
            // Bound to a loopback address: Linux cannot route that to another host either.
            return Err(Errno::EINVAL);
        }
        let handle = bind(st, s.weak(), local.port).ok_or(Errno::EADDRINUSE)?;
        let sock = st.sockets.get_mut::<udp::Socket>(handle);
        if sock.send_slice(data, remote).is_err() {
            // The transmit queue is full: push it out and try once more.
            st.flush(fx);
            let sock = st.sockets.get_mut::<udp::Socket>(handle);
            sock.send_slice(data, remote).map_err(|_| Errno::ENOBUFS)?;
        }
        st.flush(fx);
        Ok(())
    })
    .unwrap_or(Err(Errno::ENETUNREACH))
}

/// Joined a multicast group: on this machine only (see the module doc).
pub fn join_group(_g: Ip) {}

/// After each poll: deliver what arrived; drop sockets whose owner is gone.
pub(super) fn after_poll(st: &mut Stack, fx: &mut Effects) {
    let mut dead = Vec::new();
    for (&port, b) in st.udp.ports.iter() {
        let Some(owner) = b.owner.upgrade() else {
            dead.push(port);
            continue;
        };
        let sock = st.sockets.get_mut::<udp::Socket>(b.handle);
        while let Ok((data, meta)) = sock.recv() {
            fx.datagrams.push((owner.clone(), endpoint(meta.endpoint), data.to_vec()));
        }
    }
    for port in dead {
        if let Some(b) = st.udp.ports.remove(&port) {
            st.sockets.remove(b.handle);
        }
    }
}
