//! Network interfaces: `lo` (127.0.0.1/8, ::1) and, when a NIC is present, `eth0`
//! (10.0.2.15/24 on QEMU's user network). Answers the interface ioctls.

use alloc::vec::Vec;

use rtos::sync::SpinLock;

use super::inet::Ip;
use crate::errno::{Errno, SysResult};
use crate::uaccess;

/// One interface.
#[derive(Clone, Debug)]
pub struct Interface {
    pub index: u32,
    pub name: &'static str,
    pub mac: [u8; 6],
    pub addrs: Vec<(Ip, u8)>,
    pub up: bool,
    pub loopback: bool,
    pub mtu: u32,
}

static IFACES: SpinLock<Vec<Interface>> = SpinLock::new(Vec::new());

/// The interfaces (lo first).
pub fn list() -> Vec<Interface> {
    let mut v = IFACES.lock().clone();
    if v.is_empty() {
        v.push(loopback());
    }
    v
}

fn loopback() -> Interface {
    Interface {
        index: 1,
        name: "lo",
        mac: [0; 6],
        addrs: alloc::vec![(Ip::V4([127, 0, 0, 1]), 8), (Ip::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 128)],
        up: true,
        loopback: true,
        mtu: 65536,
    }
}

/// Adds a NIC (called by the network stack).
pub fn add(iface: Interface) {
    let mut v = IFACES.lock();
    if v.is_empty() {
        v.push(loopback());
    }
    v.push(iface);
}

static GATEWAY: SpinLock<Option<Ip>> = SpinLock::new(None);

/// Traffic over the loopback transport (`lo`): bytes and sends, for /proc/net/dev.
static LO_BYTES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
static LO_PACKETS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Counts one send of `bytes` over `lo`.
pub fn count_loopback(bytes: usize) {
    LO_BYTES.fetch_add(bytes as u64, core::sync::atomic::Ordering::Relaxed);
    LO_PACKETS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
}

/// `/proc/net/dev`: per interface received/sent bytes and packets (`lo` counts each send
/// once in both directions, as Linux's loopback does).
pub fn proc_net_dev() -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::from(
        "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
    );
    let row = |s: &mut alloc::string::String, name: &str, rb: u64, rp: u64, tb: u64, tp: u64, tdrop: u64| {
        let _ = writeln!(s, "{name:>6}: {rb:>7} {rp:>7}    0    0    0     0          0         0 {tb:>8} {tp:>7}    0 {tdrop:>4}    0     0       0          0");
    };
    let (lb, lp) = (LO_BYTES.load(core::sync::atomic::Ordering::Relaxed), LO_PACKETS.load(core::sync::atomic::Ordering::Relaxed));
    row(&mut s, "lo", lb, lp, lb, lp, 0);
    if let Some((rp, rb, tp, tb, td)) = super::stack::nic_counters() {
        row(&mut s, "eth0", rb, rp, tb, tp, td);
    }
    s
}

/// `/proc/net/route`: the IPv4 routes of eth0 (its subnet and the default route).
pub fn proc_net_route() -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::from("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
    let hex = |a: [u8; 4]| u32::from_le_bytes(a);
    for i in list().iter().filter(|i| !i.loopback) {
        for (ip, prefix) in &i.addrs {
            if let Ip::V4(a) = ip {
                let mask = if *prefix == 0 { 0u32 } else { u32::MAX << (32 - u32::from(*prefix)) };
                let net = u32::from_be_bytes(*a) & mask;
                if let Some(Ip::V4(g)) = gateway() {
                    let _ = writeln!(s, "{}\t00000000\t{:08X}\t0003\t0\t0\t0\t00000000\t0\t0\t0", i.name, hex(g));
                }
                let _ = writeln!(s, "{}\t{:08X}\t00000000\t0001\t0\t0\t0\t{:08X}\t0\t0\t0", i.name, hex(net.to_be_bytes()), hex(mask.to_be_bytes()));
            }
        }
    }
    s
}

/// Sets the default gateway (called by the network stack).
pub fn set_gateway(gw: Ip) {
    *GATEWAY.lock() = Some(gw);
}

/// The default gateway, if a NIC is configured.
pub fn gateway() -> Option<Ip> {
    *GATEWAY.lock()
}

/// Whether `ip` belongs to this machine.
pub fn is_own_address(ip: Ip) -> bool {
    IFACES.lock().iter().any(|i| i.addrs.iter().any(|(a, _)| a.canonical() == ip))
}

/// The source address for traffic to `dst` (the first NIC address, else loopback).
pub fn source_for(dst: Ip) -> Ip {
    let v4 = dst.is_v4();
    IFACES
        .lock()
        .iter()
        .filter(|i| !i.loopback)
        .flat_map(|i| i.addrs.iter().map(|(a, _)| *a))
        .find(|a| a.is_v4() == v4)
        .unwrap_or(if v4 { Ip::V4([127, 0, 0, 1]) } else { Ip::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) })
}

const SIOCGIFCONF: u32 = 0x8912;
const SIOCGIFFLAGS: u32 = 0x8913;
const SIOCGIFINDEX: u32 = 0x8933;
const SIOCGIFADDR: u32 = 0x8915;
const SIOCGIFBRDADDR: u32 = 0x8919;
const SIOCGIFNETMASK: u32 = 0x891b;
const SIOCGIFMTU: u32 = 0x8921;
const SIOCGIFHWADDR: u32 = 0x8927;
const SIOCGIFTXQLEN: u32 = 0x8942;

/// Whether `cmd` is one of the interface ioctls answered here.
pub fn is_interface_ioctl(cmd: u32) -> bool {
    matches!(cmd, SIOCGIFCONF | SIOCGIFFLAGS | SIOCGIFINDEX | SIOCGIFADDR | SIOCGIFBRDADDR | SIOCGIFNETMASK | SIOCGIFMTU | SIOCGIFHWADDR | SIOCGIFTXQLEN)
}
const IFF_UP: u16 = 1;
const IFF_LOOPBACK: u16 = 8;
const IFF_RUNNING: u16 = 0x40;
const IFF_BROADCAST: u16 = 2;
const IFF_MULTICAST: u16 = 0x1000;

fn flags(i: &Interface) -> u16 {
    // Linux's lo is not multicast-capable; a NIC is.
    let mut f = if i.loopback { IFF_LOOPBACK } else { IFF_BROADCAST | IFF_MULTICAST };
    if i.up {
        f |= IFF_UP | IFF_RUNNING;
    }
    f
}

fn by_name(ifr: &[u8]) -> Option<Interface> {
    let end = ifr[..16].iter().position(|&c| c == 0).unwrap_or(16);
    let name = core::str::from_utf8(&ifr[..end]).ok()?;
    list().into_iter().find(|i| i.name == name)
}

/// SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFINDEX (`struct ifreq` is 40 bytes).
pub fn ioctl(cmd: u32, arg: u64) -> SysResult {
    match cmd {
        SIOCGIFCONF => {
            // struct ifconf { int len; pad; char *buf; }
            let mut hdr = [0u8; 16];
            uaccess::read_bytes(arg, &mut hdr)?;
            let len = i32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]).max(0) as usize;
            let buf = u64::from_le_bytes(hdr[8..16].try_into().map_err(|_| Errno::EINVAL)?);
            let mut out = Vec::new();
            for i in list() {
                for (a, _) in &i.addrs {
                    if let Ip::V4(v4) = a {
                        let mut r = [0u8; 40];
                        r[..i.name.len()].copy_from_slice(i.name.as_bytes());
                        r[16..18].copy_from_slice(&2u16.to_le_bytes());
                        r[20..24].copy_from_slice(v4);
                        out.extend_from_slice(&r);
                    }
                }
            }
            let n = if buf == 0 { out.len() } else { out.len().min(len / 40 * 40) };
            if buf != 0 {
                uaccess::write_bytes(buf, &out[..n])?;
            }
            uaccess::write(arg, &(n as i32))?;
            Ok(0)
        }
        SIOCGIFFLAGS | SIOCGIFINDEX | SIOCGIFMTU | SIOCGIFTXQLEN | SIOCGIFHWADDR | SIOCGIFADDR | SIOCGIFNETMASK | SIOCGIFBRDADDR => {
            let mut r = [0u8; 40];
            uaccess::read_bytes(arg, &mut r)?;
            let i = by_name(&r).ok_or(Errno::ENODEV)?;
            let v4 = i.addrs.iter().find_map(|(a, p)| if let Ip::V4(x) = a { Some((*x, *p)) } else { None });
            let put_in = |r: &mut [u8; 40], a: [u8; 4]| {
                r[16..18].copy_from_slice(&2u16.to_le_bytes());
                r[18..20].fill(0);
                r[20..24].copy_from_slice(&a);
            };
            match cmd {
                SIOCGIFFLAGS => r[16..18].copy_from_slice(&flags(&i).to_le_bytes()),
                SIOCGIFINDEX => r[16..20].copy_from_slice(&(i.index as i32).to_le_bytes()),
                SIOCGIFMTU => r[16..20].copy_from_slice(&(i.mtu as i32).to_le_bytes()),
                SIOCGIFTXQLEN => r[16..20].copy_from_slice(&1000i32.to_le_bytes()),
                SIOCGIFHWADDR => {
                    r[16..18].copy_from_slice(&(if i.loopback { 772u16 } else { 1u16 }).to_le_bytes());
                    r[18..24].copy_from_slice(&i.mac);
                }
                SIOCGIFADDR => put_in(&mut r, v4.ok_or(Errno::EADDRNOTAVAIL)?.0),
                SIOCGIFNETMASK => {
                    let p = v4.ok_or(Errno::EADDRNOTAVAIL)?.1;
                    let m = if p == 0 { 0 } else { u32::MAX << (32 - u32::from(p)) };
                    put_in(&mut r, m.to_be_bytes());
                }
                _ => {
                    let (a, p) = v4.ok_or(Errno::EADDRNOTAVAIL)?;
                    let m = if p == 0 { 0 } else { u32::MAX << (32 - u32::from(p)) };
                    put_in(&mut r, (u32::from_be_bytes(a) | !m).to_be_bytes());
                }
            }
            uaccess::write_bytes(arg, &r)?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}
