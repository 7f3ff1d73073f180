//! Netlink sockets, `NETLINK_ROUTE` only: dumps of links (`RTM_GETLINK`) and addresses
//! (`RTM_GETADDR`) so `getifaddrs` and `ip addr` list `lo` and `eth0`. Other requests are
//! answered with an error message (EOPNOTSUPP), as Linux does for unsupported operations.
//!
//! Reference: rtnetlink(7), netlink(7) for the message layout.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU32, Ordering};

use rtos::sync::{SpinLock, WaitQueue};

use super::addr::{SockAddr, AF_INET, AF_INET6, AF_NETLINK};
use super::ifaces;
use super::inet::Ip;
use super::socket::*;
use crate::errno::{Errno, SysResult};
use crate::fs::file::events;

const NETLINK_ROUTE: i32 = 0;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;

/// A netlink socket.
pub struct NetlinkSocket {
    ty: i32,
    port: AtomicU32,
    groups: AtomicU32,
    rx: SpinLock<VecDeque<Vec<u8>>>,
    wq: WaitQueue,
}

/// A new `NETLINK_ROUTE` socket.
pub fn create(ty: i32, proto: i32) -> Result<Arc<dyn Socket>, Errno> {
    if ty != SOCK_RAW && ty != SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if proto != NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(Arc::new(NetlinkSocket { ty, port: AtomicU32::new(0), groups: AtomicU32::new(0), rx: SpinLock::new(VecDeque::new()), wq: WaitQueue::new() }))
}

fn attr(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    out.extend_from_slice(&((4 + data.len()) as u16).to_le_bytes());
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn message(ty: u16, flags: u16, seq: u32, pid: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + body.len());
    m.extend_from_slice(&((16 + body.len()) as u32).to_le_bytes());
    m.extend_from_slice(&ty.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&pid.to_le_bytes());
    m.extend_from_slice(body);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}

fn links(seq: u32, pid: u32) -> Vec<Vec<u8>> {
    ifaces::list()
        .iter()
        .map(|i| {
            let mut b = Vec::new();
            b.push(0); // family AF_UNSPEC
            b.push(0);
            b.extend_from_slice(&(if i.loopback { 772u16 } else { 1u16 }).to_le_bytes());
            b.extend_from_slice(&(i.index as i32).to_le_bytes());
            // LOOPBACK for lo (which has no MULTICAST), BROADCAST | MULTICAST for a NIC.
            let mut flags: u32 = if i.loopback { 0x8 } else { 0x2 | 0x1000 };
            if i.up {
                flags |= 0x1 | 0x40 | 0x10000; // UP, RUNNING, LOWER_UP
            }
            b.extend_from_slice(&flags.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            let mut name = i.name.as_bytes().to_vec();
            name.push(0);
            attr(&mut b, IFLA_IFNAME, &name);
            attr(&mut b, IFLA_ADDRESS, &i.mac);
            attr(&mut b, IFLA_BROADCAST, if i.loopback { &[0; 6] } else { &[0xff; 6] });
            attr(&mut b, IFLA_MTU, &i.mtu.to_le_bytes());
            attr(&mut b, IFLA_TXQLEN, &(if i.loopback { 1000u32 } else { 1000 }).to_le_bytes());
            attr(&mut b, IFLA_OPERSTATE, &[if i.up { 6 } else { 2 }]);
            message(RTM_NEWLINK, NLM_F_MULTI, seq, pid, &b)
        })
        .collect()
}

fn addrs(seq: u32, pid: u32, family: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in ifaces::list() {
        for (ip, prefix) in &i.addrs {
            let (fam, bytes): (u16, Vec<u8>) = match ip {
                Ip::V4(a) => (AF_INET, a.to_vec()),
                Ip::V6(a) => (AF_INET6, a.to_vec()),
            };
            if family != 0 && u16::from(family) != fam {
                continue;
            }
            let mut b = Vec::new();
            b.push(fam as u8);
            b.push(*prefix);
            b.push(0x80); // IFA_F_PERMANENT
            b.push(if i.loopback { 254 } else { 0 }); // scope host / universe
            b.extend_from_slice(&i.index.to_le_bytes());
            attr(&mut b, IFA_ADDRESS, &bytes);
            if fam == AF_INET {
                attr(&mut b, IFA_LOCAL, &bytes);
                if !i.loopback {
                    let mask = if *prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
                    let bc = (u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) | !mask).to_be_bytes();
                    attr(&mut b, IFA_BROADCAST, &bc);
                }
                let mut name = i.name.as_bytes().to_vec();
                name.push(0);
                attr(&mut b, IFA_LABEL, &name);
            }
            out.push(message(RTM_NEWADDR, NLM_F_MULTI, seq, pid, &b));
        }
    }
    out
}

impl NetlinkSocket {
    fn my_port(&self) -> u32 {
        let p = self.port.load(Ordering::Acquire);
        if p != 0 {
            return p;
        }
        let pid = crate::process::current_process().pid as u32;
        let _ = self.port.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire);
        self.port.load(Ordering::Acquire)
    }

    fn handle(&self, req: &[u8]) -> Vec<Vec<u8>> {
        let mut replies = Vec::new();
        let mut off = 0;
        while off + 16 <= req.len() {
            let len = u32::from_le_bytes(req[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
            if len < 16 || off + len > req.len() {
                break;
            }
            let ty = u16::from_le_bytes([req[off + 4], req[off + 5]]);
            let flags = u16::from_le_bytes([req[off + 6], req[off + 7]]);
            let seq = u32::from_le_bytes(req[off + 8..off + 12].try_into().unwrap_or([0; 4]));
            let pid = self.my_port();
            let body = &req[off + 16..off + len];
            let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
            let mut parts = match ty {
                RTM_GETLINK if dump => Some(links(seq, pid)),
                RTM_GETADDR if dump => Some(addrs(seq, pid, body.first().copied().unwrap_or(0))),
                _ => None,
            };
            match parts.take() {
                Some(mut msgs) if flags & NLM_F_REQUEST != 0 => {
                    msgs.push(message(NLMSG_DONE, NLM_F_MULTI, seq, pid, &0i32.to_le_bytes()));
                    // One datagram holding the whole dump (small for a handful of interfaces).
                    replies.push(msgs.concat());
                }
                _ => {
                    // Unsupported: an error message quoting the request header.
                    let mut e = Vec::new();
                    e.extend_from_slice(&(-(Errno::EOPNOTSUPP as i32)).to_le_bytes());
                    e.extend_from_slice(&req[off..off + 16]);
                    replies.push(message(NLMSG_ERROR, 0, seq, pid, &e));
                }
            }
            if flags & NLM_F_ACK != 0 && matches!(ty, RTM_GETLINK | RTM_GETADDR) && !dump {
                let mut e = Vec::new();
                e.extend_from_slice(&0i32.to_le_bytes());
                e.extend_from_slice(&req[off..off + 16]);
                replies.push(message(NLMSG_ERROR, 0, seq, pid, &e));
            }
            off += (len + 3) & !3;
        }
        replies
    }
}

impl Socket for NetlinkSocket {
    fn family(&self) -> u16 {
        AF_NETLINK
    }

    fn sock_type(&self) -> i32 {
        self.ty
    }

    fn protocol(&self) -> i32 {
        NETLINK_ROUTE
    }

    fn bind(&self, addr: SockAddr) -> Result<(), Errno> {
        let SockAddr::Netlink(pid, groups) = addr else { return Err(Errno::EINVAL) };
        if pid != 0 {
            self.port.store(pid, Ordering::Release);
        } else {
            self.my_port();
        }
        self.groups.store(groups, Ordering::Release);
        Ok(())
    }

    fn connect(&self, addr: SockAddr, _b: Blocking) -> Result<(), Errno> {
        match addr {
            SockAddr::Netlink(..) | SockAddr::Unspec => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn shutdown(&self, _how: i32) -> Result<(), Errno> {
        Ok(())
    }

    fn send(&self, out: Outgoing<'_>, _b: Blocking) -> SysResult {
        if let Some(SockAddr::Netlink(pid, _)) = &out.to {
            if *pid != 0 {
                // Only the kernel (port 0) answers.
                return Err(Errno::ECONNREFUSED);
            }
        }
        let replies = self.handle(out.data);
        self.rx.lock().extend(replies);
        self.wq.wake_all();
        Ok(out.data.len())
    }

    fn recv(&self, max: usize, flags: u32, b: Blocking) -> Result<Incoming, Errno> {
        let peek = flags & MSG_PEEK != 0;
        let data = self
            .wq
            .wait(b.options(), || {
                let mut rx = self.rx.lock();
                let d = if peek { rx.front().cloned() } else { rx.pop_front() };
                match d {
                    Some(d) => Some(Ok(d)),
                    None if b.nonblock => Some(Err(Errno::EAGAIN)),
                    None => None,
                }
            })
            .map_err(Blocking::wait_err)??;
        let full_len = data.len();
        let mut data = data;
        data.truncate(max);
        Ok(Incoming { data, full_len, from: Some(SockAddr::Netlink(0, 0)), rights: Vec::new(), creds: None })
    }

    fn local_addr(&self) -> Result<SockAddr, Errno> {
        Ok(SockAddr::Netlink(self.port.load(Ordering::Acquire), self.groups.load(Ordering::Acquire)))
    }

    fn peer_addr(&self) -> Result<SockAddr, Errno> {
        Ok(SockAddr::Netlink(0, 0))
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
        self.rx.lock().front().map_or(0, |d| d.len())
    }

    fn setsockopt(&self, level: i32, _name: i32, _v: &[u8]) -> Result<(), Errno> {
        // SOL_NETLINK options (NETLINK_EXT_ACK, ...) are accepted as no-ops only at that level.
        if level == 270 {
            return Ok(());
        }
        Err(Errno::ENOPROTOOPT)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
