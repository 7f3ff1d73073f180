//! ICMP sockets for `ping`: `SOCK_DGRAM`/`IPPROTO_ICMP` ("ping sockets": the program sends
//! an echo request, the kernel sets its identifier and checksum, and the socket receives
//! the matching echo replies without IP header) and `SOCK_RAW`/`IPPROTO_ICMP` (the program
//! builds the ICMP message; the socket receives every ICMP packet with its IPv4 header,
//! minus the types masked by `ICMP_FILTER`). IPv4 only.
//!
//! Echo requests to this machine's own addresses are answered here (as Linux's `lo`
//! does); requests to other hosts leave through the NIC stack (`net::stack::icmp_ext`).
//! Root may open both kinds (Axle has one root user; Linux needs CAP_NET_RAW for raw, and
//! for ping sockets a group in `net.ipv4.ping_group_range`, which distributions open).

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU16, AtomicU32, Ordering};

use rtos::sync::{SpinLock, WaitQueue};

use super::{Endpoint, Ip};
use crate::errno::{Errno, SysResult};
use crate::fs::file::events;
use crate::net::addr::{SockAddr, AF_INET};
use crate::net::socket::*;

pub const IPPROTO_ICMP: i32 = 1;
/// `SOL_RAW` level and its `ICMP_FILTER` option (a mask of ICMP types to drop).
const SOL_RAW: i32 = 255;
const ICMP_FILTER: i32 = 1;
const ECHO_REPLY: u8 = 0;
const ECHO_REQUEST: u8 = 8;
/// Packets queued per socket before new ones are dropped.
const QUEUE_MAX: usize = 128;

/// An ICMP socket.
pub struct IcmpSocket {
    raw: bool,
    wq: WaitQueue,
    /// Received: (source address, bytes: an IPv4 packet for raw, an ICMP message for ping).
    rx: SpinLock<VecDeque<([u8; 4], Vec<u8>)>>,
    /// Ping sockets: the echo identifier (the "port"); 0 until bound or first send.
    ident: AtomicU16,
    filter: AtomicU32,
    peer: SpinLock<Option<[u8; 4]>>,
}

static SOCKETS: SpinLock<Vec<Weak<IcmpSocket>>> = SpinLock::new(Vec::new());
static NEXT_IDENT: AtomicU16 = AtomicU16::new(0x4000);
static IP_ID: AtomicU16 = AtomicU16::new(1);

/// Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], 0]) };
        sum += u32::from(w);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet (20-byte header, protocol ICMP, TTL 64) around `icmp`.
pub fn ipv4_packet(src: [u8; 4], dst: [u8; 4], icmp: &[u8]) -> Vec<u8> {
    let total = 20 + icmp.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&IP_ID.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    p.extend_from_slice(&[0x40, 0, 64, IPPROTO_ICMP as u8, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(icmp);
    p
}

impl IcmpSocket {
    /// A new socket; `raw` for SOCK_RAW.
    pub fn new(raw: bool) -> Arc<Self> {
        let s = Arc::new(Self {
            raw,
            wq: WaitQueue::new(),
            rx: SpinLock::new(VecDeque::new()),
            ident: AtomicU16::new(0),
            filter: AtomicU32::new(0),
            peer: SpinLock::new(None),
        });
        let mut all = SOCKETS.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&s));
        s
    }

    fn ident(&self) -> u16 {
        let cur = self.ident.load(Ordering::Acquire);
        if cur != 0 {
            return cur;
        }
        let new = NEXT_IDENT.fetch_add(1, Ordering::Relaxed).max(1);
        match self.ident.compare_exchange(0, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => new,
            Err(v) => v,
        }
    }

    fn queue(&self, from: [u8; 4], bytes: Vec<u8>) {
        {
            let mut q = self.rx.lock();
            if q.len() >= QUEUE_MAX {
                return;
            }
            q.push_back((from, bytes));
        }
        self.wq.wake_all();
    }

    /// Hands an arriving IPv4 packet carrying ICMP to the sockets that want it.
    pub fn deliver_all(packet: &[u8]) {
        if packet.len() < 28 || packet[0] >> 4 != 4 {
            return;
        }
        let ihl = usize::from(packet[0] & 0xf) * 4;
        if packet.len() < ihl + 8 {
            return;
        }
        let src = [packet[12], packet[13], packet[14], packet[15]];
        let icmp = &packet[ihl..];
        let socks: Vec<Arc<IcmpSocket>> = SOCKETS.lock().iter().filter_map(|w| w.upgrade()).collect();
        for s in socks {
            if s.raw {
                let ty = u32::from(icmp[0]);
                if ty < 32 && s.filter.load(Ordering::Relaxed) & (1 << ty) != 0 {
                    continue;
                }
                s.queue(src, packet.to_vec());
            } else if icmp[0] == ECHO_REPLY && u16::from_be_bytes([icmp[4], icmp[5]]) == s.ident.load(Ordering::Acquire) {
                s.queue(src, icmp.to_vec());
            }
        }
    }

    /// An echo request to this machine: answered at once.
    fn loop_back(src: [u8; 4], dst: [u8; 4], icmp: &[u8]) {
        // Raw sockets see the request go by on the loopback interface, then the reply.
        Self::deliver_all(&ipv4_packet(src, dst, icmp));
        if icmp[0] == ECHO_REQUEST {
            let mut reply = icmp.to_vec();
            reply[0] = ECHO_REPLY;
            reply[2] = 0;
            reply[3] = 0;
            let c = checksum(&reply);
            reply[2..4].copy_from_slice(&c.to_be_bytes());
            Self::deliver_all(&ipv4_packet(dst, src, &reply));
        }
    }
}

fn int(v: &[u8]) -> Result<i32, Errno> {
    if v.len() < 4 {
        return Err(Errno::EINVAL);
    }
    Ok(i32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

impl Socket for IcmpSocket {
    fn family(&self) -> u16 {
        AF_INET
    }

    fn sock_type(&self) -> i32 {
        if self.raw { 3 } else { SOCK_DGRAM }
    }

    fn protocol(&self) -> i32 {
        IPPROTO_ICMP
    }

    fn bind(&self, addr: SockAddr) -> Result<(), Errno> {
        let ep = Endpoint::from_sockaddr(AF_INET, &addr)?;
        if !ep.ip.is_local() {
            return Err(Errno::EADDRNOTAVAIL);
        }
        if !self.raw && ep.port != 0 {
            self.ident.compare_exchange(0, ep.port, Ordering::AcqRel, Ordering::Acquire).map_err(|_| Errno::EINVAL)?;
        }
        Ok(())
    }

    fn connect(&self, addr: SockAddr, _b: Blocking) -> Result<(), Errno> {
        let ep = Endpoint::from_sockaddr(AF_INET, &addr)?;
        match ep.ip {
            Ip::V4(a) => *self.peer.lock() = Some(a),
            Ip::V6(_) => return Err(Errno::EAFNOSUPPORT),
        }
        Ok(())
    }

    fn shutdown(&self, _how: i32) -> Result<(), Errno> {
        Err(Errno::ENOTCONN)
    }

    fn send(&self, out: Outgoing<'_>, _b: Blocking) -> SysResult {
        let dst = match &out.to {
            Some(a) => match Endpoint::from_sockaddr(AF_INET, a)?.ip {
                Ip::V4(d) => d,
                Ip::V6(_) => return Err(Errno::EAFNOSUPPORT),
            },
            None => self.peer.lock().ok_or(Errno::EDESTADDRREQ)?,
        };
        if out.data.len() < 8 {
            return Err(Errno::EINVAL);
        }
        if out.data.len() > 65_507 {
            return Err(Errno::EMSGSIZE);
        }
        let mut icmp = out.data.to_vec();
        if !self.raw {
            // Ping sockets send echo requests only, with the socket's identifier.
            if icmp[0] != ECHO_REQUEST || icmp[1] != 0 {
                return Err(Errno::EINVAL);
            }
            icmp[4..6].copy_from_slice(&self.ident().to_be_bytes());
            icmp[2] = 0;
            icmp[3] = 0;
            let c = checksum(&icmp);
            icmp[2..4].copy_from_slice(&c.to_be_bytes());
        }
        let dst_ip = Ip::V4(dst);
        if dst_ip.is_local() {
            IcmpSocket::loop_back(dst, dst, &icmp);
            return Ok(out.data.len());
        }
        crate::net::stack::icmp_send_external(dst, &icmp)?;
        Ok(out.data.len())
    }

    fn recv(&self, max: usize, flags: u32, b: Blocking) -> Result<Incoming, Errno> {
        let peek = flags & MSG_PEEK != 0;
        let (from, bytes) = self
            .wq
            .wait(b.options(), || {
                let mut q = self.rx.lock();
                let got = if peek { q.front().cloned() } else { q.pop_front() };
                match got {
                    Some(p) => Some(Ok(p)),
                    None if b.nonblock => Some(Err(Errno::EAGAIN)),
                    None => None,
                }
            })
            .map_err(Blocking::wait_err)??;
        let full_len = bytes.len();
        let mut data = bytes;
        data.truncate(max);
        Ok(Incoming { data, full_len, from: Some(SockAddr::Inet(from, 0)), rights: Vec::new(), creds: None })
    }

    fn local_addr(&self) -> Result<SockAddr, Errno> {
        Ok(SockAddr::Inet([0; 4], if self.raw { IPPROTO_ICMP as u16 } else { self.ident.load(Ordering::Acquire) }))
    }

    fn peer_addr(&self) -> Result<SockAddr, Errno> {
        self.peer.lock().map(|a| SockAddr::Inet(a, 0)).ok_or(Errno::ENOTCONN)
    }

    fn poll(&self) -> u32 {
        let mut ev = events::POLLOUT | events::POLLWRNORM;
        if !self.rx.lock().is_empty() {
            ev |= events::POLLIN | events::POLLRDNORM;
        }
        ev
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.wq
    }

    fn pending(&self) -> usize {
        self.rx.lock().front().map_or(0, |(_, b)| b.len())
    }

    fn setsockopt(&self, level: i32, name: i32, v: &[u8]) -> Result<(), Errno> {
        match (level, name) {
            (SOL_RAW, ICMP_FILTER) if self.raw => {
                self.filter.store(int(v)? as u32, Ordering::Relaxed);
                Ok(())
            }
            (SOL_RAW, _) => Err(Errno::EOPNOTSUPP),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        match (level, name) {
            (SOL_RAW, ICMP_FILTER) if self.raw => Ok((self.filter.load(Ordering::Relaxed) as i32).to_le_bytes().to_vec()),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for IcmpSocket {
    fn drop(&mut self) {
        SOCKETS.lock().retain(|w| w.strong_count() > 0);
    }
}
