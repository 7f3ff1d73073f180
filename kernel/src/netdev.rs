//! Brings up the network card at boot: finds a virtio-net function on the PCI bus, places
//! its BARs, routes its MSI-X interrupts to a housekeeping CPU (the dataflow profile's first, else CPU 0), and hands it
//! to the Linux layer's network stack as eth0. Without a card (QEMU `-net none`) the
//! machine has loopback only.
//!
//! Address configuration (QEMU's user network by default) comes from the kernel command
//! line: `ip=A.B.C.D/P`, `gw=A.B.C.D`.

use alloc::boxed::Box;

use board::pci::{self, Function, MsiMessage, PortIo};
use board::virtio::net::{self, NetConfig, NetInterrupts, NetVectors, VirtioNet};
use board::virtio::transport;
use linux_abi::net::nic::Nic;
use linux_abi::net::stack;
use rtos::arch::x86_64::trap::TrapFrame;
use rtos::boot::cmdline::Cmdline;
use rtos::boot::info::BootInfo;

use crate::platform::{assign_bars, KernelPlatform};

/// The virtio-net card as a [`Nic`].
struct VirtioNic(VirtioNet<KernelPlatform>);

impl Nic for VirtioNic {
    fn mac(&self) -> [u8; 6] {
        self.0.mac()
    }

    fn receive(&mut self, f: &mut dyn FnMut(&[u8])) -> bool {
        match self.0.receive() {
            Some(frame) => {
                f(&frame);
                true
            }
            None => false,
        }
    }

    fn can_transmit(&mut self) -> bool {
        self.0.tx().can_transmit()
    }

    fn transmit(&mut self, len: usize, f: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.tx().transmit_with(len, |buf| f(buf)).is_ok()
    }

    fn ack(&mut self) {
        let _ = self.0.ack_interrupt();
    }
}

fn interrupt(_frame: &mut TrapFrame) {
    stack::interrupt();
}

fn parse_ip(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in out.iter_mut() {
        *o = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The address configuration: QEMU user networking, or `ip=`/`gw=` from the command line.
fn config(cmd: &Cmdline) -> stack::NetConfig {
    let mut cfg = stack::NetConfig::default();
    if let Some(v) = cmd.get("ip") {
        let (addr, prefix) = v.split_once('/').unwrap_or((v, "24"));
        match (parse_ip(addr), prefix.parse::<u8>()) {
            (Some(a), Ok(p)) if p <= 32 => {
                cfg.ip = a;
                cfg.prefix = p;
            }
            _ => log::warn!("net: ignoring malformed ip={v}"),
        }
    }
    if let Some(v) = cmd.get("gw") {
        match parse_ip(v) {
            Some(g) => cfg.gateway = g,
            None => log::warn!("net: ignoring malformed gw={v}"),
        }
    }
    cfg
}

/// Finds and starts the card; logs why when there is none or it fails.
pub fn init(boot: &BootInfo, cmd: &Cmdline) {
    let cfg_space = PortIo::new();
    let Some(info) = pci::find(&cfg_space, |i| transport::device_type(&cfg_space, i) == Some(net::DEVICE_TYPE)) else {
        log::info!("net: no network card (loopback only)");
        return;
    };
    let func = Function::new(&cfg_space, info.bdf);
    if let Err(e) = assign_bars(boot, &cfg_space, &func) {
        log::error!("net: cannot place the BARs of {}: {e:?}", info.bdf);
        return;
    }
    let Some(vector) = rtos::irq::alloc_vector(interrupt, "virtio-net") else {
        log::error!("net: no free interrupt vector");
        return;
    };
    // Device interrupts go to a housekeeping CPU (the dataflow profile's first; CPU 0 without one).
    let irq_cpu = linux_abi::profile::irq_cpu();
    let apic = rtos::percpu::get(irq_cpu).or_else(|| rtos::percpu::get(0)).map_or(rtos::percpu::this().apic_id, |c| c.apic_id);
    let (address, data) = rtos::irq::msi_message(apic, vector);
    let msg = MsiMessage { address, data };
    let config = NetConfig { interrupts: NetInterrupts::Msix(NetVectors { rx: msg, tx: None, config: Some(msg) }), ..NetConfig::default() };
    let card = match VirtioNet::new(&func, KernelPlatform, &config) {
        Ok(c) => c,
        Err(e) => {
            log::error!("net: virtio-net at {} failed to start: {e:?}", info.bdf);
            return;
        }
    };
    if let Err(e) = stack::attach(Box::new(VirtioNic(card)), self::config(cmd)) {
        log::error!("net: cannot attach eth0: {e:?}");
    }
}
