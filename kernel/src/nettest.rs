//! Boot-time network test (`nettest` on the command line, QEMU with `--net user`): finds
//! the virtio-net card on the PCI bus, starts it with an MSI-X interrupt on the boot CPU,
//! resolves the user-network gateway 10.0.2.2 with ARP and pings it, sleeping on a wait
//! queue that the interrupt handler wakes (2 s deadline per answer). Reports
//! `axle: exit 0` on success, `axle: exit 1` otherwise, and stops the machine.
//!
//! The platform glue (DMA, MMIO, BAR placement) is in `platform.rs`.

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};

use board::pci::{self, Function, MsiMessage, PortIo};
use board::virtio::net::{self, NetConfig, NetInterrupts, NetVectors, VirtioNet};
use board::virtio::transport;
use rtos::arch::x86_64::trap::TrapFrame;
use rtos::boot::info::BootInfo;
use rtos::sync::{WaitOptions, WaitQueue};
use rtos::time::now_ns;

use crate::platform::{assign_bars, KernelPlatform};

/// QEMU user networking (slirp): our address and the gateway's.
const OUR_IP: [u8; 4] = [10, 0, 2, 15];
const GATEWAY_IP: [u8; 4] = [10, 0, 2, 2];
/// How long to wait for each answer.
const ANSWER_TIMEOUT_NS: u64 = 2_000_000_000;

macro_rules! say {
    ($($arg:tt)*) => {
        rtos::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

static RX_WAIT: WaitQueue = WaitQueue::new();
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);

/// The card's MSI-X handler: wakes whoever waits for frames (the waiter checks the ring).
fn net_interrupt(_frame: &mut TrapFrame) {
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    RX_WAIT.wake_all();
}

/// Runs the test and stops the machine with its verdict on the status channel.
pub fn run(boot: &BootInfo) {
    let status = match test(boot) {
        Ok(()) => {
            say!("nettest: ok");
            0
        }
        Err(e) => {
            say!("nettest: FAILED: {e}");
            1
        }
    };
    board::debug_exit::debugcon_write(format!("axle: exit {status}\n").as_bytes());
    board::debug_exit::qemu_exit(0);
}

fn mac_str(m: &[u8]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

fn test(boot: &BootInfo) -> Result<(), String> {
    let cfg = PortIo::new();
    let info = pci::find(&cfg, |i| transport::device_type(&cfg, i) == Some(net::DEVICE_TYPE))
        .ok_or("no virtio-net device on the PCI bus (QEMU needs --net user)")?;
    let func = Function::new(&cfg, info.bdf);
    let placed = assign_bars(boot, &cfg, &func).map_err(|e| format!("cannot place the BARs of {}: {e:?}", info.bdf))?;
    log::info!("nettest: {} {:04x}:{:04x}, {placed} BAR(s) assigned: {:x?}", info.bdf, info.vendor_id, info.device_id, func.bars());

    let vector = rtos::irq::alloc_vector(net_interrupt, "virtio-net").ok_or("no free interrupt vector")?;
    let boot_cpu = rtos::percpu::get(0).map_or(rtos::percpu::this().apic_id, |c| c.apic_id);
    let (address, data) = rtos::irq::msi_message(boot_cpu, vector);
    let msg = MsiMessage { address, data };
    let config = NetConfig {
        interrupts: NetInterrupts::Msix(NetVectors { rx: msg, tx: None, config: Some(msg) }),
        ..NetConfig::default()
    };
    let mut net = VirtioNet::new(&func, KernelPlatform, &config).map_err(|e| format!("virtio-net start: {e:?}"))?;
    let mac = net.mac();
    let link = match net.link_up() {
        Some(true) => "up",
        Some(false) => "down",
        None => "unknown",
    };
    let (rxn, txn) = (net.rx().buffers(), net.tx().buffers());
    say!(
        "nettest: virtio-net at {} MAC {} link {link}, {rxn} rx / {txn} tx buffers, MSI-X vector {vector} on APIC {boot_cpu}",
        info.bdf,
        mac_str(&mac)
    );

    // ARP: who has 10.0.2.2?
    let t0 = now_ns();
    net.transmit(&arp_frame(1, &mac, OUR_IP, &[0xff; 6], &[0; 6], GATEWAY_IP)).map_err(|e| format!("ARP send: {e:?}"))?;
    let gw = wait_frame(&mut net, |f| parse_arp_reply(f, GATEWAY_IP)).map_err(|e| format!("no ARP reply from 10.0.2.2: {e:?}"))?;
    say!("nettest: gateway 10.0.2.2 is at {} ({} us)", mac_str(&gw), (now_ns() - t0) / 1000);

    // ICMP echo to the gateway (slirp answers it itself).
    let (id, seq) = (0x4158u16, 1u16);
    let payload = *b"axle nettest ping 0123456789abcdef";
    let t0 = now_ns();
    net.transmit(&echo_frame(&mac, &gw, id, seq, &payload)).map_err(|e| format!("ICMP send: {e:?}"))?;
    let (ttl, len) = wait_frame(&mut net, |f| parse_echo_reply(f, id, seq, &payload))
        .map_err(|e| format!("no ICMP echo reply from 10.0.2.2: {e:?}"))?;
    say!("nettest: {len} bytes from 10.0.2.2: icmp_seq={seq} ttl={ttl} time={} us", (now_ns() - t0) / 1000);

    let irqs = INTERRUPTS.load(Ordering::Relaxed);
    say!("nettest: {irqs} interrupt(s), {:?}", net.stats());
    if irqs == 0 {
        return Err("the answers came without any interrupt".into());
    }
    Ok(())
}

/// Sleeps until `want` accepts a received frame (ARP requests for our address are answered
/// on the way), or the deadline passes.
fn wait_frame<R>(
    net: &mut VirtioNet<KernelPlatform>,
    mut want: impl FnMut(&[u8]) -> Option<R>,
) -> Result<R, rtos::sync::WaitError> {
    let mac = net.mac();
    let deadline = now_ns() + ANSWER_TIMEOUT_NS;
    RX_WAIT.wait(WaitOptions { interruptible: false, deadline_ns: Some(deadline) }, || {
        let (rx, tx) = net.split();
        loop {
            let frame = rx.receive()?;
            if let Some(r) = want(&frame) {
                return Some(r);
            }
            if let Some((sha, spa)) = parse_arp_request_for(&frame, OUR_IP) {
                let _ = tx.transmit(&arp_frame(2, &mac, OUR_IP, &sha, &sha, spa));
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Frames

const ETH_ARP: u16 = 0x0806;
const ETH_IPV4: u16 = 0x0800;
/// Frames are padded to the Ethernet minimum (60 bytes without FCS).
const ETH_MIN: usize = 60;

fn eth_header(buf: &mut [u8], dst: &[u8], src: &[u8], ethertype: u16) {
    buf[0..6].copy_from_slice(dst);
    buf[6..12].copy_from_slice(src);
    buf[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// An ARP packet (`op` 1 request, 2 reply) in an Ethernet frame to `eth_dst`.
fn arp_frame(op: u16, sha: &[u8; 6], spa: [u8; 4], eth_dst: &[u8; 6], tha: &[u8; 6], tpa: [u8; 4]) -> [u8; ETH_MIN] {
    let mut f = [0u8; ETH_MIN];
    eth_header(&mut f, eth_dst, sha, ETH_ARP);
    let a = &mut f[14..42];
    a[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    a[2..4].copy_from_slice(&ETH_IPV4.to_be_bytes());
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&op.to_be_bytes());
    a[8..14].copy_from_slice(sha);
    a[14..18].copy_from_slice(&spa);
    a[18..24].copy_from_slice(tha);
    a[24..28].copy_from_slice(&tpa);
    f
}

/// The fields of an ARP packet: (op, sender MAC, sender IP, target IP).
fn parse_arp(f: &[u8]) -> Option<(u16, [u8; 6], [u8; 4], [u8; 4])> {
    if f.len() < 42 || u16::from_be_bytes([f[12], f[13]]) != ETH_ARP {
        return None;
    }
    let a = &f[14..42];
    if a[0..2] != [0, 1] || u16::from_be_bytes([a[2], a[3]]) != ETH_IPV4 || a[4] != 6 || a[5] != 4 {
        return None;
    }
    let op = u16::from_be_bytes([a[6], a[7]]);
    Some((op, a[8..14].try_into().ok()?, a[14..18].try_into().ok()?, a[24..28].try_into().ok()?))
}

/// The MAC in an ARP reply from `ip`.
fn parse_arp_reply(f: &[u8], ip: [u8; 4]) -> Option<[u8; 6]> {
    parse_arp(f).and_then(|(op, sha, spa, _)| (op == 2 && spa == ip).then_some(sha))
}

/// (sender MAC, sender IP) of an ARP request for `ip`.
fn parse_arp_request_for(f: &[u8], ip: [u8; 4]) -> Option<([u8; 6], [u8; 4])> {
    parse_arp(f).and_then(|(op, sha, spa, tpa)| (op == 1 && tpa == ip).then_some((sha, spa)))
}

/// The Internet checksum (RFC 1071) of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

const PAYLOAD: usize = 34;
const ECHO_LEN: usize = 14 + 20 + 8 + PAYLOAD;

/// An ICMP echo request from us to the gateway.
fn echo_frame(src: &[u8; 6], dst: &[u8; 6], id: u16, seq: u16, payload: &[u8; PAYLOAD]) -> [u8; ECHO_LEN] {
    let mut f = [0u8; ECHO_LEN];
    eth_header(&mut f, dst, src, ETH_IPV4);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + 8 + PAYLOAD) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    ip[8] = 64;
    ip[9] = 1; // ICMP
    ip[12..16].copy_from_slice(&OUR_IP);
    ip[16..20].copy_from_slice(&GATEWAY_IP);
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut f[34..];
    icmp[0] = 8; // echo request
    icmp[4..6].copy_from_slice(&id.to_be_bytes());
    icmp[6..8].copy_from_slice(&seq.to_be_bytes());
    icmp[8..].copy_from_slice(payload);
    let c = checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    f
}

/// (TTL, ICMP bytes) of the echo reply from the gateway matching `id`/`seq`/`payload`.
fn parse_echo_reply(f: &[u8], id: u16, seq: u16, payload: &[u8]) -> Option<(u8, usize)> {
    if f.len() < 34 || u16::from_be_bytes([f[12], f[13]]) != ETH_IPV4 {
        return None;
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip[0] >> 4 != 4 || ihl < 20 || total < ihl + 8 || total > ip.len() || ip[9] != 1 || ip[12..16] != GATEWAY_IP {
        return None;
    }
    if checksum(&ip[..ihl]) != 0 {
        return None;
    }
    let icmp = &ip[ihl..total];
    let ok = icmp[0] == 0
        && checksum(icmp) == 0
        && u16::from_be_bytes([icmp[4], icmp[5]]) == id
        && u16::from_be_bytes([icmp[6], icmp[7]]) == seq
        && &icmp[8..] == payload;
    ok.then_some((ip[8], icmp.len()))
}
