//! The network stack for traffic that leaves the machine: smoltcp on the NIC.
//!
//! One routing decision per packet: destinations on this machine (127.0.0.0/8, `::1`, the
//! NIC's own address) never reach this module — `net::inet` carries them on its loopback
//! transport; every other IPv4 destination goes through the smoltcp interface here, with
//! a default route to the gateway. External IPv6 is not routed (ENETUNREACH).
//!
//! Driving: a kernel thread (`knetd`) polls the interface whenever the card's interrupt, a
//! socket operation or smoltcp's own next timer (retransmit, delayed ACK, TIME_WAIT) asks
//! for it, sleeping on a wait queue with a one-shot deadline in between. System calls also
//! flush their own output at once, so a send does not wait for the task.
//!
//! Locking: the stack lives behind a sleeping mutex, taken only in thread context. Socket
//! readiness is computed under it and cached in each socket (an atomic), so `poll` and
//! epoll's wake callbacks never take it; wake-ups and deliveries run after it is released.
//!
//! The socket-facing hooks live in `tcp_ext` (connections, listeners) and `udp_ext`.

mod device;
mod icmp_ext;
mod tcp_ext;
mod udp_ext;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use rtos::sched::thread::Thread;
use rtos::sync::{Mutex, SpinLock, WaitOptions, WaitQueue};
use smoltcp::iface::{Config, Interface, PollResult, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr, Ipv4Address};

use self::device::NicDevice;
use super::ifaces;
use super::inet::tcp::TcpSocket;
use super::inet::udp::UdpSocket;
use super::inet::{Endpoint, Ip};
use super::nic::Nic;
use crate::errno::Errno;

pub use tcp_ext::{
    tcp_closed, tcp_connect_external, tcp_listen_external, tcp_peer_external, tcp_pending_external, tcp_poll_external,
    tcp_recv_external, tcp_send_external, tcp_shutdown_external, tcp_take_error_external,
};
pub use icmp_ext::icmp_send_external;
pub use udp_ext::{join_group, udp_bound, udp_send_external};

/// The NIC's IPv4 configuration (QEMU's user network: 10.0.2.15/24 via 10.0.2.2, DNS 10.0.2.3).
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    pub ip: [u8; 4],
    pub prefix: u8,
    pub gateway: [u8; 4],
    pub dns: [u8; 4],
}

impl Default for NetConfig {
    fn default() -> Self {
        Self { ip: [10, 0, 2, 15], prefix: 24, gateway: [10, 0, 2, 2], dns: [10, 0, 2, 3] }
    }
}

/// Everything behind the stack lock.
struct Stack {
    iface: Interface,
    sockets: SocketSet<'static>,
    dev: NicDevice,
    tcp: tcp_ext::Table,
    udp: udp_ext::Table,
    /// The raw ICMP socket behind every ping socket (made on first use).
    icmp: Option<smoltcp::iface::SocketHandle>,
    ip: [u8; 4],
}

/// Work found under the lock and done after it is released.
#[derive(Default)]
struct Effects {
    wake: Vec<Arc<TcpSocket>>,
    accepted: Vec<(Arc<TcpSocket>, Arc<TcpSocket>)>,
    datagrams: Vec<(Arc<UdpSocket>, Endpoint, Vec<u8>)>,
    /// ICMP packets (with IPv4 header) for the ping sockets.
    icmp: Vec<Vec<u8>>,
}

impl Effects {
    fn run(self) {
        for (listener, s) in self.accepted {
            // A full backlog or a listener that stopped listening drops the connection (reset).
            if listener.push_accepted(s) {
                listener.wake();
            }
        }
        for (u, from, data) in self.datagrams {
            u.deliver(from, &data);
        }
        for p in self.icmp {
            super::inet::icmp::IcmpSocket::deliver_all(&p);
        }
        for s in self.wake {
            s.wake();
        }
    }
}

static STACK: Mutex<Option<Stack>> = Mutex::new(None);
static PRESENT: AtomicBool = AtomicBool::new(false);
static KICK: WaitQueue = WaitQueue::new();
static KICKED: AtomicBool = AtomicBool::new(false);
/// Connections and listeners the programs closed, for the task to wind down.
static CLOSED: SpinLock<Vec<(u64, bool)>> = SpinLock::new(Vec::new());

/// Whether a NIC is attached.
pub fn present() -> bool {
    PRESENT.load(Ordering::Acquire)
}

fn now() -> Instant {
    Instant::from_micros((rtos::time::now_ns() / 1000) as i64)
}

/// Attaches a card with `cfg` and starts the network task. The card's interrupt handler
/// must call [`interrupt`].
pub fn attach(nic: Box<dyn Nic>, cfg: NetConfig) -> Result<(), Errno> {
    if present() {
        return Err(Errno::EBUSY);
    }
    let mac = nic.mac();
    let mut dev = NicDevice::new(nic);
    let mut config = Config::new(EthernetAddress(mac).into());
    let mut seed = [0u8; 8];
    crate::random::fill(&mut seed);
    config.random_seed = u64::from_le_bytes(seed);
    let mut iface = Interface::new(config, &mut dev, now());
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(Ipv4Address::from(cfg.ip)), cfg.prefix));
    });
    iface.routes_mut().add_default_ipv4_route(Ipv4Address::from(cfg.gateway)).map_err(|_| Errno::ENOMEM)?;
    *STACK.lock() = Some(Stack {
        iface,
        sockets: SocketSet::new(Vec::new()),
        dev,
        tcp: tcp_ext::Table::default(),
        udp: udp_ext::Table::default(),
        icmp: None,
        ip: cfg.ip,
    });
    ifaces::add(ifaces::Interface {
        index: 2,
        name: "eth0",
        mac,
        addrs: alloc::vec![(Ip::V4(cfg.ip), cfg.prefix)],
        up: true,
        loopback: false,
        mtu: 1500,
    });
    ifaces::set_gateway(Ip::V4(cfg.gateway));
    PRESENT.store(true, Ordering::Release);
    let t = Thread::new_kernel("knetd", task).map_err(|_| Errno::ENOMEM)?;
    rtos::sched::core::start(&t);
    log::info!(
        "net: eth0 {}.{}.{}.{}/{} via {}.{}.{}.{}",
        cfg.ip[0],
        cfg.ip[1],
        cfg.ip[2],
        cfg.ip[3],
        cfg.prefix,
        cfg.gateway[0],
        cfg.gateway[1],
        cfg.gateway[2],
        cfg.gateway[3]
    );
    Ok(())
}

/// The card's interrupt: wakes the network task (safe in interrupt context).
pub fn interrupt() {
    kick();
}

/// Asks the network task for a poll.
fn kick() {
    KICKED.store(true, Ordering::Release);
    KICK.wake_all();
}

/// Frame counters of the NIC for /proc/net/dev: (rx frames, rx bytes, tx frames, tx bytes, tx dropped).
pub fn nic_counters() -> Option<(u64, u64, u64, u64, u64)> {
    if !present() {
        return None;
    }
    let g = STACK.lock();
    g.as_ref().map(|s| (s.dev.rx_frames, s.dev.rx_bytes, s.dev.tx_frames, s.dev.tx_bytes, s.dev.tx_dropped))
}

/// Runs `f` on the stack (None when no NIC is attached), then the effects it produced.
fn with_stack<R>(f: impl FnOnce(&mut Stack, &mut Effects) -> R) -> Option<R> {
    let mut fx = Effects::default();
    let r = {
        let mut g = STACK.lock();
        let st = g.as_mut()?;
        f(st, &mut fx)
    };
    fx.run();
    Some(r)
}

impl Stack {
    /// Processes received frames, sends what is due and updates the sockets.
    fn poll(&mut self, fx: &mut Effects) {
        let closed: Vec<(u64, bool)> = core::mem::take(&mut *CLOSED.lock());
        for (key, abort) in closed {
            tcp_ext::wind_down(self, key, abort);
        }
        let t = now();
        let mut rounds = 0;
        while self.iface.poll(t, &mut self.dev, &mut self.sockets) == PollResult::SocketStateChanged && rounds < 4 {
            rounds += 1;
        }
        tcp_ext::after_poll(self, fx);
        udp_ext::after_poll(self, fx);
        icmp_ext::after_poll(self, fx);
    }

    /// Sends what the sockets queued (after a send or a receive that opened the window).
    fn flush(&mut self, fx: &mut Effects) {
        self.poll(fx);
    }

    /// Nanoseconds until smoltcp needs the next poll (None: only on events).
    fn delay_ns(&mut self) -> Option<u64> {
        self.iface.poll_delay(now(), &self.sockets).map(|d| d.total_micros().saturating_mul(1000))
    }
}

/// The network task: polls on interrupts, kicks and smoltcp's timers.
fn task() {
    loop {
        let delay = with_stack(|st, fx| {
            st.dev.nic.ack();
            st.poll(fx);
            st.delay_ns()
        })
        .flatten();
        // Never sleep longer than a second: TIME_WAIT and keep-alive bookkeeping.
        let delay = delay.unwrap_or(1_000_000_000).min(1_000_000_000);
        let deadline = rtos::time::now_ns().saturating_add(delay);
        let _ = KICK.wait(WaitOptions { interruptible: false, deadline_ns: Some(deadline) }, || KICKED.swap(false, Ordering::AcqRel).then_some(()));
    }
}

/// smoltcp address to an endpoint.
fn endpoint(ep: smoltcp::wire::IpEndpoint) -> Endpoint {
    let ip = match ep.addr {
        IpAddress::Ipv4(a) => Ip::V4(a.octets()),
    };
    Endpoint { ip, port: ep.port }
}

/// An IPv4 endpoint for smoltcp (ENETUNREACH for IPv6, which is not routed).
fn smol_endpoint(ep: Endpoint) -> Result<smoltcp::wire::IpEndpoint, Errno> {
    match ep.ip.canonical() {
        Ip::V4(a) => Ok(smoltcp::wire::IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from(a)), ep.port)),
        Ip::V6(_) => Err(Errno::ENETUNREACH),
    }
}
