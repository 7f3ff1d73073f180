//! UDP sockets. Datagrams between local addresses go straight into the receiving
//! socket's queue. A multicast datagram (when the sender's `IP_MULTICAST_LOOP` is on)
//! reaches the machine only if some socket on it joined the group, and then, as Linux's
//! `ip_mc_sf_allow` decides, every socket bound to the port (wildcard or the group address)
//! that joined it or leaves `IP_MULTICAST_ALL` on (the default). Traffic to other hosts
//! goes through the network stack.
//!
//! A connected socket whose local unicast datagram finds no receiving socket gets what
//! Linux's ICMP port-unreachable gives it: a pending ECONNREFUSED (POLLERR) that the next
//! recv or send returns and clears (`SO_ERROR` reads it too). Unconnected sockets get none.

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicI32, Ordering};

use rtos::sync::{SpinLock, WaitQueue};

use super::ports::{self, Binding, Proto};
use super::{Endpoint, Ip, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP};
use crate::errno::{Errno, SysResult};
use crate::fs::file::events;
use crate::net::addr::{SockAddr, AF_INET, AF_INET6};
use crate::net::socket::*;

/// Largest UDP payload over IPv4 (65535 - 8 - 20).
const MAX_PAYLOAD: usize = 65_507;

pub const IP_TOS: i32 = 1;
pub const IP_TTL: i32 = 2;
pub const IP_PKTINFO: i32 = 8;
pub const IP_RECVERR: i32 = 11;
pub const IP_MULTICAST_IF: i32 = 32;
pub const IP_MULTICAST_TTL: i32 = 33;
pub const IP_MULTICAST_LOOP: i32 = 34;
pub const IP_ADD_MEMBERSHIP: i32 = 35;
pub const IP_DROP_MEMBERSHIP: i32 = 36;
pub const IP_MULTICAST_ALL: i32 = 49;
pub const IPV6_MULTICAST_IF: i32 = 17;
pub const IPV6_MULTICAST_HOPS: i32 = 18;
pub const IPV6_MULTICAST_LOOP: i32 = 19;
pub const IPV6_JOIN_GROUP: i32 = 20;
pub const IPV6_LEAVE_GROUP: i32 = 21;
pub const IPV6_V6ONLY: i32 = 26;

#[derive(Clone, Debug)]
struct UdpOpts {
    v6only: bool,
    reuse_addr: bool,
    reuse_port: bool,
    ttl: i32,
    tos: i32,
    mcast_ttl: i32,
    mcast_loop: bool,
    mcast_if: [u8; 4],
    groups: Vec<Ip>,
    /// IP_MULTICAST_ALL: receive groups that other sockets of the machine joined.
    mcast_all: bool,
    rcvbuf: usize,
    broadcast: bool,
}

impl Default for UdpOpts {
    fn default() -> Self {
        Self { v6only: false, reuse_addr: false, reuse_port: false, ttl: 64, tos: 0, mcast_ttl: 1, mcast_loop: true, mcast_if: [0; 4], groups: Vec::new(), mcast_all: true, rcvbuf: 212_992, broadcast: false }
    }
}

/// A UDP socket.
pub struct UdpSocket {
    v6: bool,
    wq: Arc<WaitQueue>,
    local: SpinLock<Option<Endpoint>>,
    peer: SpinLock<Option<Endpoint>>,
    rx: SpinLock<(VecDeque<(Endpoint, Vec<u8>)>, usize)>,
    opts: SpinLock<UdpOpts>,
    error: AtomicI32,
    me: Weak<UdpSocket>,
}

static SOCKETS: SpinLock<alloc::collections::BTreeMap<usize, Weak<UdpSocket>>> = SpinLock::new(alloc::collections::BTreeMap::new());

fn find(id: usize) -> Option<Arc<UdpSocket>> {
    SOCKETS.lock().get(&id).and_then(|w| w.upgrade())
}

/// Whether any UDP socket of the machine has joined group `g`.
fn joined_anywhere(g: Ip) -> bool {
    let all: Vec<Weak<UdpSocket>> = SOCKETS.lock().values().cloned().collect();
    all.iter().filter_map(Weak::upgrade).any(|s| s.opts.lock().groups.contains(&g))
}

impl UdpSocket {
    /// An unbound socket.
    pub fn new(v6: bool) -> Arc<Self> {
        let s = Arc::new_cyclic(|me| Self {
            v6,
            wq: Arc::new(WaitQueue::new()),
            local: SpinLock::new(None),
            peer: SpinLock::new(None),
            rx: SpinLock::new((VecDeque::new(), 0)),
            opts: SpinLock::new(UdpOpts::default()),
            error: AtomicI32::new(0),
            me: me.clone(),
        });
        SOCKETS.lock().insert(s.id(), Arc::downgrade(&s));
        s
    }

    fn id(&self) -> usize {
        self as *const Self as usize
    }

    pub(crate) fn weak(&self) -> Weak<UdpSocket> {
        self.me.clone()
    }

    fn fam(&self) -> u16 {
        if self.v6 { AF_INET6 } else { AF_INET }
    }

    fn do_bind(&self, ep: Endpoint) -> Result<Endpoint, Errno> {
        if self.local.lock().is_some() {
            return Err(Errno::EINVAL);
        }
        if !ep.ip.is_local() && !ep.ip.is_multicast() {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let o = self.opts.lock().clone();
        let b = Binding { id: self.id(), ip: ep.ip, v6: self.v6, v6only: o.v6only, reuse_addr: o.reuse_addr, reuse_port: o.reuse_port, listening: false };
        let port = ports::bind(Proto::Udp, ep.port, b)?;
        let bound = Endpoint { ip: ep.ip, port };
        *self.local.lock() = Some(bound);
        crate::net::stack::udp_bound(self.me.clone(), bound);
        Ok(bound)
    }

    fn ensure_bound(&self) -> Result<Endpoint, Errno> {
        let cur = *self.local.lock();
        match cur {
            Some(l) => Ok(l),
            None => self.do_bind(Endpoint { ip: Ip::any(self.v6), port: 0 }),
        }
    }

    /// Queues a datagram from `from` (drops it when the receive buffer is full, as UDP does).
    /// False when this socket is connected to another peer (it does not take the datagram).
    pub fn deliver(&self, from: Endpoint, data: &[u8]) -> bool {
        if let Some(p) = *self.peer.lock() {
            if p.port != from.port || (!p.ip.is_unspecified() && p.ip.canonical() != from.ip.canonical()) {
                return false;
            }
        }
        let limit = self.opts.lock().rcvbuf;
        {
            let mut rx = self.rx.lock();
            if rx.1 + data.len() > limit && !rx.0.is_empty() {
                return true;
            }
            rx.1 += data.len();
            rx.0.push_back((from, data.to_vec()));
        }
        self.wq.wake_all();
        true
    }

    /// Delivers a datagram to the local sockets for `dst`; false when a unicast datagram
    /// found no socket to take it (Linux answers that with ICMP port unreachable).
    fn deliver_local(&self, from: Endpoint, dst: Endpoint, data: &[u8]) -> bool {
        let group = dst.ip.canonical().is_multicast();
        let targets = ports::receivers(Proto::Udp, dst, false);
        if group {
            if !self.opts.lock().mcast_loop {
                return true;
            }
            let g = dst.ip.canonical();
            if !joined_anywhere(g) {
                return true; // no membership on the machine: the datagram is not received
            }
            for s in targets.iter().filter_map(|b| find(b.id)) {
                let take = {
                    let o = s.opts.lock();
                    o.groups.contains(&g) || o.mcast_all
                };
                if take {
                    s.deliver(from, data);
                }
            }
            return true;
        }
        // Unicast: the best match; among SO_REUSEPORT peers, one chosen by the source.
        let best = targets.first().map(|b| b.ip.canonical());
        let same: Vec<_> = targets.iter().filter(|b| Some(b.ip.canonical()) == best).collect();
        let pick = if same.len() > 1 && same.iter().all(|b| b.reuse_port) { same[(from.port as usize) % same.len()] } else if let Some(b) = same.first() { b } else { return false };
        find(pick.id).is_some_and(|s| s.deliver(from, data))
    }

    /// Takes the pending error (ECONNREFUSED from an unreachable local port), if any.
    fn take_pending_error(&self) -> Result<(), Errno> {
        match self.error.swap(0, Ordering::AcqRel) {
            0 => Ok(()),
            _ => Err(Errno::ECONNREFUSED),
        }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        if let Some(l) = self.local.get_mut().take() {
            ports::unbind(Proto::Udp, l.port, self.id());
        }
        SOCKETS.lock().remove(&(self as *const Self as usize));
    }
}

fn int(v: &[u8]) -> Result<i32, Errno> {
    match v.len() {
        0 => Err(Errno::EINVAL),
        1..=3 => Ok(i32::from(v[0])),
        _ => Ok(i32::from_le_bytes([v[0], v[1], v[2], v[3]])),
    }
}

impl Socket for UdpSocket {
    fn family(&self) -> u16 {
        self.fam()
    }

    fn sock_type(&self) -> i32 {
        SOCK_DGRAM
    }

    fn protocol(&self) -> i32 {
        IPPROTO_UDP
    }

    fn bind(&self, addr: SockAddr) -> Result<(), Errno> {
        let ep = Endpoint::from_sockaddr(self.fam(), &addr)?;
        self.do_bind(ep).map(|_| ())
    }

    fn connect(&self, addr: SockAddr, _b: Blocking) -> Result<(), Errno> {
        if addr == SockAddr::Unspec {
            *self.peer.lock() = None;
            return Ok(());
        }
        let dst = Endpoint::from_sockaddr(self.fam(), &addr)?;
        self.ensure_bound()?;
        *self.peer.lock() = Some(dst);
        Ok(())
    }

    fn shutdown(&self, _how: i32) -> Result<(), Errno> {
        if self.peer.lock().is_none() {
            return Err(Errno::ENOTCONN);
        }
        Ok(())
    }

    fn send(&self, out: Outgoing<'_>, _b: Blocking) -> SysResult {
        let dst = match &out.to {
            Some(a) => Endpoint::from_sockaddr(self.fam(), a)?,
            None => self.peer.lock().ok_or(Errno::EDESTADDRREQ)?,
        };
        if out.data.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        if dst.port == 0 {
            return Err(Errno::EINVAL);
        }
        // Linux reports a pending error when allocating the datagram's buffer.
        self.take_pending_error()?;
        let local = self.ensure_bound()?;
        let dst_ip = dst.ip.canonical();
        let from_ip = if local.ip.is_unspecified() {
            if dst_ip.is_loopback() || dst_ip.is_unspecified() { dst_ip } else { crate::net::ifaces::source_for(dst_ip) }
        } else {
            local.ip.canonical()
        };
        let from = Endpoint { ip: from_ip, port: local.port };
        if dst_ip.is_local() || dst_ip.is_multicast() {
            crate::net::ifaces::count_loopback(out.data.len());
            let to = Endpoint { ip: if dst_ip.is_unspecified() { Ip::V4([127, 0, 0, 1]) } else { dst_ip }, port: dst.port };
            let taken = self.deliver_local(from, to, out.data);
            // Port unreachable: the error goes to the socket connected to that destination.
            let peer = *self.peer.lock();
            if !taken && peer.is_some_and(|p| p.port == dst.port && p.ip.canonical() == dst_ip) {
                self.error.store(Errno::ECONNREFUSED as i32, Ordering::Release);
                self.wq.wake_all();
            }
        }
        // A group sent through a loopback interface (IP_MULTICAST_IF 127.x) stays on this machine.
        let loopback_if = Ip::V4(self.opts.lock().mcast_if).is_loopback();
        if !dst_ip.is_local() && !(dst_ip.is_multicast() && loopback_if) {
            crate::net::stack::udp_send_external(self, local, dst, out.data)?;
        }
        Ok(out.data.len())
    }

    fn recv(&self, max: usize, flags: u32, b: Blocking) -> Result<Incoming, Errno> {
        let peek = flags & MSG_PEEK != 0;
        let (from, data) = self
            .wq
            .wait(b.options(), || {
                // A pending error comes before queued datagrams (Linux's __skb_recv_udp).
                if let Err(e) = self.take_pending_error() {
                    return Some(Err(e));
                }
                let mut rx = self.rx.lock();
                let item = if peek { rx.0.front().cloned() } else { rx.0.pop_front() };
                match item {
                    Some(d) => {
                        if !peek {
                            rx.1 -= d.1.len();
                        }
                        Some(Ok(d))
                    }
                    None if b.nonblock => Some(Err(Errno::EAGAIN)),
                    None => None,
                }
            })
            .map_err(Blocking::wait_err)??;
        let full_len = data.len();
        let mut data = data;
        data.truncate(max);
        Ok(Incoming { data, full_len, from: Some(from.to_sockaddr(self.fam())), rights: Vec::new(), creds: None })
    }

    fn local_addr(&self) -> Result<SockAddr, Errno> {
        Ok(self.local.lock().unwrap_or(Endpoint { ip: Ip::any(self.v6), port: 0 }).to_sockaddr(self.fam()))
    }

    fn peer_addr(&self) -> Result<SockAddr, Errno> {
        self.peer.lock().map(|p| p.to_sockaddr(self.fam())).ok_or(Errno::ENOTCONN)
    }

    fn poll(&self) -> u32 {
        let mut ev = events::POLLOUT | events::POLLWRNORM;
        if !self.rx.lock().0.is_empty() {
            ev |= events::POLLIN | events::POLLRDNORM;
        }
        if self.error.load(Ordering::Acquire) != 0 {
            ev |= events::POLLERR;
        }
        ev
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.wq
    }

    fn pending(&self) -> usize {
        self.rx.lock().0.front().map_or(0, |d| d.1.len())
    }

    fn take_error(&self) -> i32 {
        self.error.swap(0, Ordering::AcqRel)
    }

    fn options_changed(&self, o: &SockOpts) {
        let mut u = self.opts.lock();
        u.reuse_addr = o.reuse_addr;
        u.reuse_port = o.reuse_port;
        u.rcvbuf = o.rcvbuf as usize;
        u.broadcast = o.broadcast;
    }

    fn setsockopt(&self, level: i32, name: i32, v: &[u8]) -> Result<(), Errno> {
        let mut o = self.opts.lock();
        match (level, name) {
            (IPPROTO_IP, IP_TTL) => {
                let t = int(v)?;
                o.ttl = if t == -1 { 64 } else if (1..=255).contains(&t) { t } else { return Err(Errno::EINVAL) };
            }
            (IPPROTO_IP, IP_TOS) => o.tos = int(v)? & 0xff,
            (IPPROTO_IP, IP_MULTICAST_TTL) => {
                let t = int(v)?;
                o.mcast_ttl = if t == -1 { 1 } else if (0..=255).contains(&t) { t } else { return Err(Errno::EINVAL) };
            }
            (IPPROTO_IP, IP_MULTICAST_LOOP) => o.mcast_loop = int(v)? != 0,
            (IPPROTO_IP, IP_MULTICAST_ALL) => o.mcast_all = int(v)? != 0,
            (IPPROTO_IPV6, IPV6_MULTICAST_LOOP) => {
                let x = int(v)?;
                if !(0..=1).contains(&x) {
                    return Err(Errno::EINVAL);
                }
                o.mcast_loop = x != 0;
            }
            (IPPROTO_IPV6, IPV6_MULTICAST_HOPS) => o.mcast_ttl = int(v)?.clamp(-1, 255),
            (IPPROTO_IP, IP_MULTICAST_IF) => {
                if v.len() < 4 {
                    return Err(Errno::EINVAL);
                }
                // struct in_addr, or ip_mreqn (address at offset 4).
                let a = if v.len() >= 12 { [v[4], v[5], v[6], v[7]] } else { [v[0], v[1], v[2], v[3]] };
                o.mcast_if = a;
            }
            (IPPROTO_IPV6, IPV6_MULTICAST_IF) => {
                int(v)?;
            }
            (IPPROTO_IP, IP_ADD_MEMBERSHIP) | (IPPROTO_IP, IP_DROP_MEMBERSHIP) => {
                if v.len() < 8 {
                    return Err(Errno::EINVAL);
                }
                let g = Ip::V4([v[0], v[1], v[2], v[3]]);
                if !g.is_multicast() {
                    return Err(Errno::EINVAL);
                }
                if name == IP_ADD_MEMBERSHIP {
                    if o.groups.contains(&g) {
                        return Err(Errno::EADDRINUSE);
                    }
                    o.groups.push(g);
                    crate::net::stack::join_group(g);
                } else {
                    let before = o.groups.len();
                    o.groups.retain(|x| *x != g);
                    if o.groups.len() == before {
                        return Err(Errno::EADDRNOTAVAIL);
                    }
                }
            }
            (IPPROTO_IPV6, IPV6_JOIN_GROUP) | (IPPROTO_IPV6, IPV6_LEAVE_GROUP) => {
                if v.len() < 20 {
                    return Err(Errno::EINVAL);
                }
                let mut a = [0u8; 16];
                a.copy_from_slice(&v[..16]);
                let g = Ip::V6(a).canonical();
                if !g.is_multicast() {
                    return Err(Errno::EINVAL);
                }
                if name == IPV6_JOIN_GROUP {
                    if o.groups.contains(&g) {
                        return Err(Errno::EADDRINUSE);
                    }
                    o.groups.push(g);
                } else {
                    o.groups.retain(|x| *x != g);
                }
            }
            (IPPROTO_IPV6, IPV6_V6ONLY) if self.v6 => {
                if self.local.lock().is_some() {
                    return Err(Errno::EINVAL);
                }
                o.v6only = int(v)? != 0;
            }
            (IPPROTO_IP, IP_PKTINFO) | (IPPROTO_IP, IP_RECVERR) | (IPPROTO_IPV6, 49) | (IPPROTO_IPV6, 25) => {
                int(v)?;
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        let o = self.opts.lock().clone();
        let i = |x: i32| Ok(x.to_le_bytes().to_vec());
        match (level, name) {
            (IPPROTO_IP, IP_TTL) => i(o.ttl),
            (IPPROTO_IP, IP_TOS) => i(o.tos),
            (IPPROTO_IP, IP_MULTICAST_TTL) => i(o.mcast_ttl),
            (IPPROTO_IP, IP_MULTICAST_LOOP) => i(i32::from(o.mcast_loop)),
            (IPPROTO_IP, IP_MULTICAST_ALL) => i(i32::from(o.mcast_all)),
            (IPPROTO_IPV6, IPV6_MULTICAST_LOOP) => i(i32::from(o.mcast_loop)),
            (IPPROTO_IPV6, IPV6_MULTICAST_HOPS) => i(o.mcast_ttl),
            (IPPROTO_IP, IP_MULTICAST_IF) => Ok(o.mcast_if.to_vec()),
            (IPPROTO_IPV6, IPV6_V6ONLY) if self.v6 => i(i32::from(o.v6only)),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
