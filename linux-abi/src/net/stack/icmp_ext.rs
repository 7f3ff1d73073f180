//! ICMP on the NIC: one smoltcp raw socket (IPv4, protocol ICMP) carries the echo requests
//! of every ping socket out, and brings every arriving ICMP packet (header included) back
//! for `net::inet::icmp` to hand out. smoltcp itself still answers echo requests to us.

use smoltcp::iface::SocketHandle;
use smoltcp::socket::raw::{self, PacketBuffer, PacketMetadata};
use smoltcp::wire::{IpProtocol, IpVersion};

use super::{present, with_stack, Effects, Stack};
use crate::errno::Errno;
use crate::net::inet::icmp::ipv4_packet;

fn socket(st: &mut Stack) -> SocketHandle {
    if let Some(h) = st.icmp {
        return h;
    }
    let sock = raw::Socket::new(
        IpVersion::Ipv4,
        IpProtocol::Icmp,
        PacketBuffer::new(alloc::vec![PacketMetadata::EMPTY; 32], alloc::vec![0; 64 << 10]),
        PacketBuffer::new(alloc::vec![PacketMetadata::EMPTY; 32], alloc::vec![0; 64 << 10]),
    );
    let h = st.sockets.add(sock);
    st.icmp = Some(h);
    h
}

/// Sends the ICMP message `icmp` to `dst` (another host).
pub fn icmp_send_external(dst: [u8; 4], icmp: &[u8]) -> Result<(), Errno> {
    if !present() {
        return Err(Errno::ENETUNREACH);
    }
    if icmp.len() > 1480 {
        return Err(Errno::EMSGSIZE);
    }
    with_stack(|st, fx| {
        let h = socket(st);
        let packet = ipv4_packet(st.ip, dst, icmp);
        st.sockets.get_mut::<raw::Socket>(h).send_slice(&packet).map_err(|_| Errno::ENOBUFS)?;
        st.flush(fx);
        Ok(())
    })
    .unwrap_or(Err(Errno::ENETUNREACH))
}

/// After each poll: collect arrived ICMP packets.
pub(super) fn after_poll(st: &mut Stack, fx: &mut Effects) {
    let Some(h) = st.icmp else { return };
    let sock = st.sockets.get_mut::<raw::Socket>(h);
    while let Ok(p) = sock.recv() {
        fx.icmp.push(p.to_vec());
    }
}
