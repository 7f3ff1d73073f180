//! The virtio network device (virtio 1.1, 5.1): one receive and one transmit queue.
//!
//! Every buffer, in both directions, is one descriptor pointing at a [`BUFFER_SIZE`]-byte
//! slot of a DMA pool: the 12-byte `virtio_net_hdr` (flags, gso_type, hdr_len, gso_size,
//! csum_start, csum_offset, num_buffers) followed by the Ethernet frame (no FCS). No
//! offloads are negotiated (no CSUM/GUEST_CSUM, no TSO/UFO, no MRG_RXBUF), so transmitted
//! headers are all zero and every received frame fits one buffer.
//!
//! - Receive: all slots are posted at start; [`NetRx::receive`] returns an [`RxFrame`]
//!   borrowing the slot in place, and dropping it posts the slot again.
//! - Transmit: [`NetTx::transmit`] copies a frame into a free slot (or
//!   [`NetTx::transmit_with`] lets the caller write it there) and notifies the device if
//!   it asks for it. Completed slots are reclaimed lazily, when no slot is free; transmit
//!   interrupts are suppressed unless a transmit vector is configured.
//! - Interrupts: MSI-X entries for receive, transmit and configuration changes, each
//!   given as an [`MsiMessage`] (equal messages share an entry). With MSI-X the vector
//!   itself says which event happened ([`NetRx::pending`] confirms work); without it,
//!   [`VirtioNet::ack_interrupt`] reads (and so acknowledges) the ISR status.
//!
//! Nothing on the receive and transmit paths allocates or waits; the only waiting is the
//! bounded poll for the end of a device reset.

use core::ops::{Deref, DerefMut};

use crate::pci::{Command, ConfigAccess, Function, MsiMessage, MsixCap, MsixTable};

use super::queue::{BufferDesc, QueueLayout, SplitQueue, MAX_QUEUE_SIZE};
use super::transport::{self, IsrStatus, Notifier, VirtioPci};
use super::{feature, DmaPlatform, DmaRegion, VirtioError};

/// Virtio device type of network cards.
pub const DEVICE_TYPE: u16 = 1;

/// Network feature bits (5.1.3).
pub mod features {
    pub const CSUM: u64 = 1 << 0;
    pub const GUEST_CSUM: u64 = 1 << 1;
    pub const MTU: u64 = 1 << 3;
    pub const MAC: u64 = 1 << 5;
    pub const GUEST_TSO4: u64 = 1 << 7;
    pub const GUEST_TSO6: u64 = 1 << 8;
    pub const GUEST_UFO: u64 = 1 << 10;
    pub const HOST_TSO4: u64 = 1 << 11;
    pub const HOST_TSO6: u64 = 1 << 12;
    pub const HOST_UFO: u64 = 1 << 14;
    pub const MRG_RXBUF: u64 = 1 << 15;
    pub const STATUS: u64 = 1 << 16;
    pub const CTRL_VQ: u64 = 1 << 17;
    pub const MQ: u64 = 1 << 22;
}

/// Features this driver accepts when offered (VERSION_1 is required besides).
pub const DRIVER_FEATURES: u64 = features::MAC | features::STATUS;

/// Size of `virtio_net_hdr` with VIRTIO_F_VERSION_1.
pub const NET_HDR_LEN: usize = 12;
/// Bytes per buffer slot: header plus the largest frame, rounded up.
pub const BUFFER_SIZE: usize = 2048;
/// Largest frame: 14-byte Ethernet header, 1500-byte payload, 4-byte 802.1Q tag (no FCS).
pub const MAX_FRAME_LEN: usize = 1518;
/// Smallest frame accepted: an Ethernet header.
pub const MIN_FRAME_LEN: usize = 14;

const RX_QUEUE: u16 = 0;
const TX_QUEUE: u16 = 1;
/// Device configuration offsets (5.1.4).
const CONFIG_MAC: usize = 0;
const CONFIG_STATUS: usize = 6;
const STATUS_LINK_UP: u16 = 1;

/// The MSI-X messages for the device's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetVectors {
    /// Frames received.
    pub rx: MsiMessage,
    /// Transmissions completed (None: transmit interrupts are suppressed).
    pub tx: Option<MsiMessage>,
    /// Configuration changed, e.g. link status (None: no interrupt).
    pub config: Option<MsiMessage>,
}

/// How the device interrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetInterrupts {
    /// No interrupts: the owner polls (INTx is disabled).
    None,
    /// MSI-X (the device must have the capability).
    Msix(NetVectors),
}

/// Driver settings.
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    /// Receive buffers (rounded down to a power of two, at most the device's queue size
    /// and [`MAX_QUEUE_SIZE`]).
    pub rx_buffers: u16,
    /// Transmit buffers (likewise).
    pub tx_buffers: u16,
    pub interrupts: NetInterrupts,
    /// The MAC address if the device offers none (VIRTIO_NET_F_MAC missing).
    pub fallback_mac: [u8; 6],
}

impl Default for NetConfig {
    fn default() -> Self {
        Self { rx_buffers: 128, tx_buffers: 64, interrupts: NetInterrupts::None, fallback_mac: [0x02, 0, 0, 0, 0, 1] }
    }
}

/// Why the driver failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The function is not a virtio network device.
    NotVirtioNet,
    /// Transport-level failure during setup.
    Virtio(VirtioError),
    /// MSI-X was asked for but the device lacks it, or its table is too small.
    NoMsix,
    /// The frame is longer than [`MAX_FRAME_LEN`].
    FrameTooLarge(usize),
    /// The frame is shorter than [`MIN_FRAME_LEN`].
    FrameTooShort(usize),
    /// Every transmit buffer is still owned by the device.
    QueueFull,
}

impl From<VirtioError> for NetError {
    fn from(e: VirtioError) -> Self {
        NetError::Virtio(e)
    }
}

impl From<crate::pci::PciError> for NetError {
    fn from(e: crate::pci::PciError) -> Self {
        NetError::Virtio(VirtioError::Pci(e))
    }
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    /// Received buffers too short to hold a header and an Ethernet header (dropped).
    pub rx_errors: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// Transmissions refused because every slot was in flight.
    pub tx_full: u64,
}

/// Which MSI-X table entries serve which event: `entries[..count]` are programmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixPlan {
    pub entries: [(u16, MsiMessage); 3],
    pub count: usize,
    pub rx: u16,
    pub tx: Option<u16>,
    pub config: Option<u16>,
}

impl MsixPlan {
    /// Gives each distinct message a table entry (0, 1, 2 in the order rx, tx, config);
    /// equal messages share one. None if the table has fewer entries than that.
    pub fn new(v: &NetVectors, table_len: u16) -> Option<Self> {
        fn entry_for(m: MsiMessage, plan: &mut MsixPlan) -> u16 {
            if let Some(&(e, _)) = plan.entries[..plan.count].iter().find(|(_, x)| *x == m) {
                return e;
            }
            let e = plan.count as u16;
            plan.entries[plan.count] = (e, m);
            plan.count += 1;
            e
        }
        let mut plan = MsixPlan { entries: [(0, v.rx); 3], count: 1, rx: 0, tx: None, config: None };
        plan.tx = v.tx.map(|m| entry_for(m, &mut plan));
        plan.config = v.config.map(|m| entry_for(m, &mut plan));
        (plan.count <= usize::from(table_len)).then_some(plan)
    }
}

/// The queue size for `wanted` buffers given the device's maximum: a power of two, at most
/// both maxima, at least 1. None if the device has no such queue.
pub fn queue_size(wanted: u16, device_max: u16) -> Option<u16> {
    if device_max == 0 {
        return None;
    }
    let limit = wanted.clamp(1, MAX_QUEUE_SIZE).min(device_max);
    // Largest power of two not above the limit.
    Some(1 << (15 - limit.leading_zeros()))
}

// ---------------------------------------------------------------------------------------
// Receive

/// The receive queue and its buffers.
pub struct NetRx {
    queue: SplitQueue,
    pool: DmaRegion,
    notifier: Option<Notifier>,
    stats_frames: u64,
    stats_bytes: u64,
    stats_errors: u64,
}

impl NetRx {
    fn new(queue: SplitQueue, pool: DmaRegion) -> Self {
        Self { queue, pool, notifier: None, stats_frames: 0, stats_bytes: 0, stats_errors: 0 }
    }

    fn slot_desc(&self, slot: u16) -> BufferDesc {
        BufferDesc { phys: self.pool.phys() + (usize::from(slot) * BUFFER_SIZE) as u64, len: BUFFER_SIZE as u32, writable: true }
    }

    /// Posts every slot (at start, before the device runs).
    fn fill(&mut self) {
        for slot in 0..self.queue.size() {
            let d = self.slot_desc(slot);
            let _ = self.queue.add(&[d], slot);
        }
    }

    fn kick(&self) {
        if let Some(n) = &self.notifier {
            if self.queue.should_notify() {
                n.notify();
            }
        }
    }

    fn repost(&mut self, slot: u16) {
        let d = self.slot_desc(slot);
        // Cannot fail: the slot's descriptor was freed when its frame was popped.
        if self.queue.add(&[d], slot).is_ok() {
            self.kick();
        }
    }

    /// The next received frame, in place. Dropping it gives the buffer back to the device.
    pub fn receive(&mut self) -> Option<RxFrame<'_>> {
        loop {
            let used = self.queue.pop_used()?;
            let len = used.len as usize;
            if !(NET_HDR_LEN + MIN_FRAME_LEN..=BUFFER_SIZE).contains(&len) || used.token >= self.queue.size() {
                self.stats_errors += 1;
                if used.token < self.queue.size() {
                    self.repost(used.token);
                }
                continue;
            }
            self.stats_frames += 1;
            self.stats_bytes += (len - NET_HDR_LEN) as u64;
            return Some(RxFrame { rx: self, slot: used.token, len: len - NET_HDR_LEN });
        }
    }

    /// Copies the next received frame into `buf` (truncated to its length) and returns
    /// the frame's length.
    pub fn receive_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.receive()?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Some(frame.len())
    }

    /// True if received frames are waiting.
    pub fn pending(&self) -> bool {
        self.queue.has_used()
    }

    /// Turns receive interrupts on or off (NAPI-style polling). After turning them on,
    /// check [`pending`](Self::pending) once more: frames that arrived meanwhile raised none.
    pub fn set_interrupts(&mut self, enabled: bool) {
        self.queue.set_interrupts(enabled);
    }

    /// Number of receive buffers.
    pub fn buffers(&self) -> u16 {
        self.queue.size()
    }
}

/// A received Ethernet frame (without FCS), still in its DMA buffer. Derefs to the frame's
/// bytes; dropping it returns the buffer to the device.
pub struct RxFrame<'a> {
    rx: &'a mut NetRx,
    slot: u16,
    len: usize,
}

impl RxFrame<'_> {
    /// The frame's `virtio_net_hdr` (all zero without offloads, except num_buffers = 1).
    pub fn header(&self) -> &[u8] {
        self.rx.pool.bytes(usize::from(self.slot) * BUFFER_SIZE, NET_HDR_LEN)
    }
}

impl Deref for RxFrame<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // The device returned this slot through the used ring; it is not reposted before drop.
        self.rx.pool.bytes(usize::from(self.slot) * BUFFER_SIZE + NET_HDR_LEN, self.len)
    }
}

impl DerefMut for RxFrame<'_> {
    /// The frame's bytes, writable in place (the buffer is the driver's until the drop).
    fn deref_mut(&mut self) -> &mut [u8] {
        self.rx.pool.bytes_mut(usize::from(self.slot) * BUFFER_SIZE + NET_HDR_LEN, self.len)
    }
}

impl Drop for RxFrame<'_> {
    fn drop(&mut self) {
        self.rx.repost(self.slot);
    }
}

// ---------------------------------------------------------------------------------------
// Transmit

/// The transmit queue and its buffers.
pub struct NetTx {
    queue: SplitQueue,
    pool: DmaRegion,
    notifier: Option<Notifier>,
    /// Stack of free slots.
    free: [u16; MAX_QUEUE_SIZE as usize],
    nfree: u16,
    stats_frames: u64,
    stats_bytes: u64,
    stats_full: u64,
}

impl NetTx {
    fn new(queue: SplitQueue, pool: DmaRegion) -> Self {
        let n = queue.size();
        let mut free = [0u16; MAX_QUEUE_SIZE as usize];
        for (i, f) in free.iter_mut().take(usize::from(n)).enumerate() {
            // Hand out slot 0 first.
            *f = n - 1 - i as u16;
        }
        Self { queue, pool, notifier: None, free, nfree: n, stats_frames: 0, stats_bytes: 0, stats_full: 0 }
    }

    /// Takes back the slots of completed transmissions; returns how many.
    pub fn reclaim(&mut self) -> usize {
        let mut n = 0;
        while let Some(u) = self.queue.pop_used() {
            if u.token < self.queue.size() && self.nfree < self.queue.size() {
                self.free[usize::from(self.nfree)] = u.token;
                self.nfree += 1;
                n += 1;
            }
        }
        n
    }

    /// True if a frame can be sent now (reclaims completed slots if none is free).
    pub fn can_transmit(&mut self) -> bool {
        if self.nfree == 0 {
            self.reclaim();
        }
        self.nfree > 0
    }

    /// Frames handed to the device and not yet reclaimed.
    pub fn in_flight(&self) -> u16 {
        self.queue.size() - self.nfree
    }

    /// Sends a frame of `len` bytes that `fill` writes straight into the DMA buffer.
    pub fn transmit_with<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> Result<R, NetError> {
        if len > MAX_FRAME_LEN {
            return Err(NetError::FrameTooLarge(len));
        }
        if len < MIN_FRAME_LEN {
            return Err(NetError::FrameTooShort(len));
        }
        if !self.can_transmit() {
            self.stats_full += 1;
            return Err(NetError::QueueFull);
        }
        self.nfree -= 1;
        let slot = self.free[usize::from(self.nfree)];
        let off = usize::from(slot) * BUFFER_SIZE;
        let buf = self.pool.bytes_mut(off, NET_HDR_LEN + len);
        buf[..NET_HDR_LEN].fill(0);
        let r = fill(&mut buf[NET_HDR_LEN..]);
        let desc = BufferDesc { phys: self.pool.phys() + off as u64, len: (NET_HDR_LEN + len) as u32, writable: false };
        if self.queue.add(&[desc], slot).is_err() {
            // Cannot happen: there are as many descriptors as slots.
            self.nfree += 1;
            return Err(NetError::QueueFull);
        }
        if let Some(n) = &self.notifier {
            if self.queue.should_notify() {
                n.notify();
            }
        }
        self.stats_frames += 1;
        self.stats_bytes += len as u64;
        Ok(r)
    }

    /// Sends a copy of `frame` (an Ethernet frame without FCS).
    pub fn transmit(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.transmit_with(frame.len(), |buf| buf.copy_from_slice(frame))
    }

    /// Number of transmit buffers.
    pub fn buffers(&self) -> u16 {
        self.queue.size()
    }
}

// ---------------------------------------------------------------------------------------
// The device

/// A virtio network device, running.
pub struct VirtioNet<P: DmaPlatform> {
    platform: P,
    transport: VirtioPci,
    features: u64,
    mac: [u8; 6],
    msix: Option<(MsixCap, MsixTable, MsixPlan)>,
    rx: NetRx,
    tx: NetTx,
}

/// Allocates regions of the given sizes, all or none.
fn alloc_regions<const N: usize>(p: &impl DmaPlatform, sizes: [usize; N]) -> Option<[DmaRegion; N]> {
    let mut out: [Option<DmaRegion>; N] = core::array::from_fn(|_| None);
    for (slot, &size) in out.iter_mut().zip(sizes.iter()) {
        *slot = DmaRegion::alloc(p, size);
        if slot.is_none() {
            for r in out.into_iter().flatten() {
                r.free(p);
            }
            return None;
        }
    }
    Some(out.map(|r| r.expect("allocated above")))
}

impl<P: DmaPlatform> VirtioNet<P> {
    /// Initialises the virtio-net function `func` (its memory BARs must be assigned):
    /// negotiates VERSION_1 (+ MAC, STATUS if offered), sets up MSI-X as `config` says,
    /// one receive queue filled with buffers and one transmit queue, and starts the device.
    /// On failure the device is left reset (or FAILED) and the memory is freed.
    pub fn new<C: ConfigAccess + ?Sized>(func: &Function<'_, C>, platform: P, config: &NetConfig) -> Result<Self, NetError> {
        let info = func.info().ok_or(NetError::NotVirtioNet)?;
        if transport::device_type(func.config(), &info) != Some(DEVICE_TYPE) {
            return Err(NetError::NotVirtioNet);
        }
        let transport = VirtioPci::new(func, &platform)?;
        let features = transport.negotiate(DRIVER_FEATURES, feature::VERSION_1)?;
        let sizes = (
            queue_size(config.rx_buffers, transport.queue_max_size(RX_QUEUE)),
            queue_size(config.tx_buffers, transport.queue_max_size(TX_QUEUE)),
        );
        let (Some(rx_size), Some(tx_size)) = sizes else {
            transport.fail();
            let q = if sizes.0.is_none() { RX_QUEUE } else { TX_QUEUE };
            return Err(VirtioError::QueueUnavailable(q).into());
        };
        let Some([rxq, rxp, txq, txp]) = alloc_regions(
            &platform,
            [
                QueueLayout::new(rx_size).total,
                usize::from(rx_size) * BUFFER_SIZE,
                QueueLayout::new(tx_size).total,
                usize::from(tx_size) * BUFFER_SIZE,
            ],
        ) else {
            transport.fail();
            return Err(VirtioError::NoMemory.into());
        };
        // Sizes and lengths were chosen to fit, so the queues build.
        let (rx_queue, tx_queue) = match (SplitQueue::new(rxq, rx_size), SplitQueue::new(txq, tx_size)) {
            (Ok(r), Ok(t)) => (r, t),
            (r, t) => {
                transport.fail();
                return Err(r.err().or(t.err()).unwrap_or(VirtioError::NoMemory).into());
            }
        };
        let mut net = Self {
            platform,
            transport,
            features,
            mac: config.fallback_mac,
            msix: None,
            rx: NetRx::new(rx_queue, rxp),
            tx: NetTx::new(tx_queue, txp),
        };
        // From here on, dropping `net` resets the device and frees the memory.
        if let Err(e) = net.start(func, config) {
            net.transport.fail();
            return Err(e);
        }
        Ok(net)
    }

    fn start<C: ConfigAccess + ?Sized>(&mut self, func: &Function<'_, C>, config: &NetConfig) -> Result<(), NetError> {
        let (mut rx_vec, mut tx_vec) = (None, None);
        match config.interrupts {
            NetInterrupts::Msix(vectors) => {
                let cap = func.msix().ok_or(NetError::NoMsix)?;
                let plan = MsixPlan::new(&vectors, cap.table_size).ok_or(NetError::NoMsix)?;
                let table = func.msix_table(&cap, &self.platform)?;
                // Enabled with the function masked while the entries are written.
                func.msix_control(&cap, true, true);
                for &(entry, msg) in &plan.entries[..plan.count] {
                    table.program(entry, msg)?;
                }
                self.transport.set_config_vector(plan.config)?;
                rx_vec = Some(plan.rx);
                tx_vec = plan.tx;
                self.msix = Some((cap, table, plan));
            }
            NetInterrupts::None => func.enable(Command::INTX_DISABLE),
        }
        self.rx.notifier = Some(self.transport.setup_queue(RX_QUEUE, &self.rx.queue, rx_vec)?);
        self.tx.notifier = Some(self.transport.setup_queue(TX_QUEUE, &self.tx.queue, tx_vec)?);
        if tx_vec.is_none() {
            self.tx.queue.set_interrupts(false);
        }
        self.rx.fill();
        if self.features & features::MAC != 0 {
            if let Some(mac) = self.transport.read_device_config(|d| core::array::from_fn(|i| d.read8(CONFIG_MAC + i))) {
                self.mac = mac;
            }
        }
        self.transport.driver_ok();
        if let Some((cap, _, _)) = &self.msix {
            func.msix_control(cap, true, false);
        }
        self.rx.kick();
        Ok(())
    }

    /// The MAC address (the device's, or the configured fallback).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The negotiated feature bits.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// Whether the link is up; None if the device does not report it (no VIRTIO_NET_F_STATUS).
    pub fn link_up(&self) -> Option<bool> {
        if self.features & features::STATUS == 0 {
            return None;
        }
        self.transport.read_device_config(|d| d.read16(CONFIG_STATUS) & STATUS_LINK_UP != 0)
    }

    /// The MSI-X table entries used, if MSI-X is on.
    pub fn msix_plan(&self) -> Option<&MsixPlan> {
        self.msix.as_ref().map(|(_, _, p)| p)
    }

    /// Reads and clears the ISR status: with INTx it acknowledges the interrupt and says
    /// whether this device raised it; with MSI-X only a config change may show there.
    pub fn ack_interrupt(&self) -> IsrStatus {
        self.transport.read_isr()
    }

    /// True if the device needs reinitialising (DEVICE_NEEDS_RESET).
    pub fn needs_reset(&self) -> bool {
        self.transport.status() & super::status::DEVICE_NEEDS_RESET != 0
    }

    /// Separate receive and transmit halves, usable at the same time (e.g. for the two
    /// tokens of a network stack's device interface).
    pub fn split(&mut self) -> (&mut NetRx, &mut NetTx) {
        (&mut self.rx, &mut self.tx)
    }

    /// The receive half.
    pub fn rx(&mut self) -> &mut NetRx {
        &mut self.rx
    }

    /// The transmit half.
    pub fn tx(&mut self) -> &mut NetTx {
        &mut self.tx
    }

    /// See [`NetRx::receive`].
    pub fn receive(&mut self) -> Option<RxFrame<'_>> {
        self.rx.receive()
    }

    /// See [`NetTx::transmit`].
    pub fn transmit(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.tx.transmit(frame)
    }

    /// See [`NetRx::pending`].
    pub fn rx_pending(&self) -> bool {
        self.rx.pending()
    }

    /// Counters.
    pub fn stats(&self) -> NetStats {
        NetStats {
            rx_frames: self.rx.stats_frames,
            rx_bytes: self.rx.stats_bytes,
            rx_errors: self.rx.stats_errors,
            tx_frames: self.tx.stats_frames,
            tx_bytes: self.tx.stats_bytes,
            tx_full: self.tx.stats_full,
        }
    }
}

impl<P: DmaPlatform> Drop for VirtioNet<P> {
    /// Resets the device, then frees its memory (leaked if the reset does not finish:
    /// the device might still write into it).
    fn drop(&mut self) {
        if self.transport.reset().is_err() {
            return;
        }
        for r in [self.rx.queue.memory(), &self.rx.pool, self.tx.queue.memory(), &self.tx.pool] {
            self.platform.free_dma(r.phys(), r.virt_ptr(), r.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakePlatform;
    use super::super::queue::FakeDevice;
    use super::*;
    use crate::pci::fake::FakeMapper;
    use crate::pci::MmioRegion;

    fn msg(n: u32) -> MsiMessage {
        MsiMessage { address: 0xfee0_0000, data: n }
    }

    #[test]
    fn msix_plans() {
        let one = MsixPlan::new(&NetVectors { rx: msg(48), tx: None, config: Some(msg(48)) }, 1).unwrap();
        assert_eq!((one.count, one.rx, one.tx, one.config), (1, 0, None, Some(0)));
        let three = MsixPlan::new(&NetVectors { rx: msg(48), tx: Some(msg(49)), config: Some(msg(50)) }, 4).unwrap();
        assert_eq!((three.count, three.rx, three.tx, three.config), (3, 0, Some(1), Some(2)));
        assert_eq!(three.entries[2], (2, msg(50)));
        assert!(MsixPlan::new(&NetVectors { rx: msg(48), tx: Some(msg(49)), config: None }, 1).is_none());
    }

    #[test]
    fn queue_sizes() {
        assert_eq!(queue_size(128, 256), Some(128));
        assert_eq!(queue_size(100, 256), Some(64));
        assert_eq!(queue_size(1000, 1024), Some(256));
        assert_eq!(queue_size(64, 32), Some(32));
        assert_eq!(queue_size(0, 32), Some(1));
        assert_eq!(queue_size(64, 0), None);
    }

    struct Rig {
        rx: NetRx,
        tx: NetTx,
        rx_dev: FakeDevice,
        tx_dev: FakeDevice,
        notify: MmioRegion,
    }

    fn rig(rx_n: u16, tx_n: u16) -> Rig {
        let p = FakePlatform::default();
        let q = |n: u16| SplitQueue::new(DmaRegion::alloc(&p, QueueLayout::new(n).total).unwrap(), n).unwrap();
        let pool = |n: u16| DmaRegion::alloc(&p, usize::from(n) * BUFFER_SIZE).unwrap();
        let mut rx = NetRx::new(q(rx_n), pool(rx_n));
        let mut tx = NetTx::new(q(tx_n), pool(tx_n));
        // Notification registers in fake memory: queue 0 at +0, queue 1 at +4.
        let notify_mem = crate::pci::fake::leak_pages(4096) as usize as u64;
        let notify = MmioRegion::map(&FakeMapper, notify_mem, 8).unwrap();
        rx.notifier = Some(Notifier::for_test(notify.sub(0, 2).unwrap(), RX_QUEUE));
        tx.notifier = Some(Notifier::for_test(notify.sub(4, 2).unwrap(), TX_QUEUE));
        notify.write16(0, 0xffff);
        notify.write16(4, 0xffff);
        rx.fill();
        let rx_dev = FakeDevice::new(&rx.queue);
        let tx_dev = FakeDevice::new(&tx.queue);
        Rig { rx, tx, rx_dev, tx_dev, notify }
    }

    /// The device "receives" `frame` into the next posted buffer.
    fn deliver(r: &mut Rig, frame: &[u8]) -> u16 {
        let (head, bufs) = r.rx_dev.take().expect("a posted buffer");
        assert_eq!(bufs.len(), 1);
        assert!(bufs[0].writable && bufs[0].len as usize == BUFFER_SIZE);
        let region = MmioRegion::map(&FakeMapper, bufs[0].phys, BUFFER_SIZE).unwrap();
        let mut hdr = [0u8; NET_HDR_LEN];
        hdr[10] = 1; // num_buffers
        for (i, b) in hdr.iter().chain(frame.iter()).enumerate() {
            region.write8(i, *b);
        }
        r.rx_dev.put_used(u32::from(head), (NET_HDR_LEN + frame.len()) as u32);
        head
    }

    #[test]
    fn receive_in_place_and_repost() {
        let mut r = rig(4, 4);
        let frame: Vec<u8> = (0..60u8).collect();
        deliver(&mut r, &frame);
        deliver(&mut r, &[0xaa; 14]);
        // All four buffers were posted; two are now with the driver.
        assert!(r.rx.pending());
        {
            let mut f = r.rx.receive().unwrap();
            assert_eq!(&f[..], &frame[..]);
            assert_eq!(f.header()[10], 1);
            f[0] = 0xff; // writable in place
            assert_eq!(f[0], 0xff);
        }
        // Dropping the frame reposted its buffer: the device sees it again.
        let f2 = r.rx.receive().unwrap();
        assert_eq!(f2.len(), 14);
        drop(f2);
        assert!(!r.rx.pending());
        assert!(r.rx.receive().is_none());
        let mut seen = 0;
        while r.rx_dev.take().is_some() {
            seen += 1;
        }
        assert_eq!(seen, 4); // two never used + two reposted
        // A runt (shorter than header + Ethernet header) is dropped and reposted.
        let mut r = rig(2, 2);
        let (head, _) = r.rx_dev.take().unwrap();
        r.rx_dev.put_used(u32::from(head), 5);
        assert!(r.rx.receive().is_none());
        assert_eq!(r.rx.stats_errors, 1);
        assert_eq!(r.rx_dev.take().map(|(h, _)| h), Some(1)); // the other never-taken buffer
        assert_eq!(r.rx_dev.take().map(|(h, _)| h), Some(head)); // reposted
        let mut r = rig(2, 2);
        let mut buf = [0u8; 16];
        deliver(&mut r, &[7u8; 20]);
        assert_eq!(r.rx.receive_into(&mut buf), Some(20));
        assert_eq!(buf, [7u8; 16]);
    }

    #[test]
    fn rx_kick_writes_the_queue_index() {
        let r = rig(2, 2);
        r.rx.kick();
        assert_eq!(r.notify.read16(0), RX_QUEUE);
    }

    #[test]
    fn transmit_copies_recycles_and_reports_full() {
        let mut r = rig(2, 2);
        let frame = [0x11u8; 42];
        r.tx.transmit(&frame).unwrap();
        assert_eq!(r.notify.read16(4), TX_QUEUE);
        r.tx.transmit_with(20, |b| b.fill(0x22)).unwrap();
        assert_eq!(r.tx.in_flight(), 2);
        assert_eq!(r.tx.transmit(&frame), Err(NetError::QueueFull));
        assert_eq!(r.tx.stats_full, 1);

        let (h1, b1) = r.tx_dev.take().unwrap();
        let (h2, b2) = r.tx_dev.take().unwrap();
        assert!(!b1[0].writable);
        assert_eq!(b1[0].len as usize, NET_HDR_LEN + 42);
        assert_eq!(b2[0].len as usize, NET_HDR_LEN + 20);
        let m1 = MmioRegion::map(&FakeMapper, b1[0].phys, BUFFER_SIZE).unwrap();
        assert!((0..NET_HDR_LEN).all(|i| m1.read8(i) == 0));
        assert!((NET_HDR_LEN..NET_HDR_LEN + 42).all(|i| m1.read8(i) == 0x11));
        let m2 = MmioRegion::map(&FakeMapper, b2[0].phys, BUFFER_SIZE).unwrap();
        assert_eq!(m2.read8(NET_HDR_LEN + 19), 0x22);
        assert_ne!(b1[0].phys, b2[0].phys);

        // The device finishes the second one: the next transmit reuses its slot.
        r.tx_dev.put_used(u32::from(h2), 0);
        r.tx.transmit(&[0x33; 14]).unwrap();
        let (_, b3) = r.tx_dev.take().unwrap();
        assert_eq!(b3[0].phys, b2[0].phys);
        r.tx_dev.put_used(u32::from(h1), 0);
        assert_eq!(r.tx.reclaim(), 1);
        assert_eq!(r.tx.in_flight(), 1);

        assert_eq!(r.tx.transmit(&[0; MAX_FRAME_LEN + 1]), Err(NetError::FrameTooLarge(MAX_FRAME_LEN + 1)));
        assert_eq!(r.tx.transmit(&[0; 13]), Err(NetError::FrameTooShort(13)));
        assert_eq!(r.tx.stats_frames, 3);
    }

    #[test]
    fn many_frames_through_small_rings() {
        let mut r = rig(4, 2);
        for i in 0..1000u32 {
            let frame = [i as u8; 64];
            r.tx.transmit(&frame).unwrap();
            let (h, b) = r.tx_dev.take().unwrap();
            let m = MmioRegion::map(&FakeMapper, b[0].phys, BUFFER_SIZE).unwrap();
            assert_eq!(m.read8(NET_HDR_LEN + 63), i as u8);
            r.tx_dev.put_used(u32::from(h), 0);
            // Loop it back through the receive side.
            deliver(&mut r, &frame);
            let f = r.rx.receive().unwrap();
            assert_eq!(f[0], i as u8);
        }
        assert_eq!(r.rx.stats_frames, 1000);
    }
}
