//! The modern virtio-over-PCI transport (virtio 1.1, 4.1).
//!
//! A virtio PCI function describes its register blocks with vendor-specific capabilities
//! (4.1.4): `cfg_type` 1 common configuration, 2 notifications, 3 ISR status, 4 device
//! configuration, each a window `offset..offset + length` of one BAR. The common
//! configuration (4.1.4.3) is:
//!
//! | offset | field | | offset | field |
//! |---|---|---|---|---|
//! | 0x00 | device_feature_select u32 | | 0x16 | queue_select u16 |
//! | 0x04 | device_feature u32 (RO) | | 0x18 | queue_size u16 |
//! | 0x08 | driver_feature_select u32 | | 0x1a | queue_msix_vector u16 |
//! | 0x0c | driver_feature u32 | | 0x1c | queue_enable u16 |
//! | 0x10 | config_msix_vector u16 | | 0x1e | queue_notify_off u16 (RO) |
//! | 0x12 | num_queues u16 (RO) | | 0x20 | queue_desc u64 |
//! | 0x14 | device_status u8 | | 0x28 | queue_driver u64 (available ring) |
//! | 0x15 | config_generation u8 (RO) | | 0x30 | queue_device u64 (used ring) |
//!
//! A queue is notified by writing its index (16 bits) at
//! `notify.offset + queue_notify_off * notify_off_multiplier` (4.1.4.4).

use crate::pci::{cap_id, Command, ConfigAccess, Function, FunctionInfo, MmioMapper, MmioRegion};

use super::queue::SplitQueue;
use super::{status, VirtioError, VIRTIO_VENDOR_ID};

/// Virtio PCI capability types (`cfg_type`).
pub mod cfg_type {
    pub const COMMON: u8 = 1;
    pub const NOTIFY: u8 = 2;
    pub const ISR: u8 = 3;
    pub const DEVICE: u8 = 4;
    pub const PCI: u8 = 5;
    pub const SHARED_MEMORY: u8 = 8;
}

mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0c;
    pub const CONFIG_MSIX_VECTOR: usize = 0x10;
    pub const NUM_QUEUES: usize = 0x12;
    pub const DEVICE_STATUS: usize = 0x14;
    pub const CONFIG_GENERATION: usize = 0x15;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_SIZE: usize = 0x18;
    pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
    pub const QUEUE_ENABLE: usize = 0x1c;
    pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
    pub const QUEUE_DESC: usize = 0x20;
    pub const QUEUE_DRIVER: usize = 0x28;
    pub const QUEUE_DEVICE: usize = 0x30;
    /// Size of the common configuration structure of virtio 1.0/1.1.
    pub const LEN: u32 = 0x38;
}

/// "No MSI-X vector" in config_msix_vector / queue_msix_vector.
pub const NO_VECTOR: u16 = 0xffff;

/// How often the device status is polled for the end of a reset before giving up. Each
/// poll is an uncached register read (microseconds under emulation); QEMU resets at once.
pub const RESET_POLLS: u32 = 1_000_000;

/// The virtio device type of a PCI function (1 network, 2 block, ...), or None if it is not
/// a virtio device. Modern ids are 0x1040 + type; transitional ones (0x1000-0x103f) carry
/// the type in the subsystem id (4.1.2.1).
pub fn device_type(cfg: &(impl ConfigAccess + ?Sized), info: &FunctionInfo) -> Option<u16> {
    if info.vendor_id != VIRTIO_VENDOR_ID {
        return None;
    }
    match info.device_id {
        0x1040..=0x107f => Some(info.device_id - 0x1040),
        0x1000..=0x103f if info.header_type == 0 => Some(cfg.read16(info.bdf, crate::pci::reg::SUBSYSTEM_ID)),
        _ => None,
    }
}

/// One virtio vendor capability (4.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioCap {
    /// Offset of the capability in configuration space.
    pub cap_offset: u8,
    pub cfg_type: u8,
    pub bar: u8,
    pub id: u8,
    pub offset: u32,
    pub length: u32,
    /// Only for NOTIFY capabilities.
    pub notify_off_multiplier: u32,
}

/// The virtio capabilities of a function, in list order (at most 16).
pub fn virtio_caps<'f, C: ConfigAccess + ?Sized>(func: &'f Function<'_, C>) -> impl Iterator<Item = VirtioCap> + 'f {
    func.capabilities().filter(|&(id, _)| id == cap_id::VENDOR).filter_map(move |(_, off)| {
        let o = u16::from(off);
        let cap_len = func.read8(o + 2);
        if cap_len < 16 {
            return None;
        }
        let cfg_type = func.read8(o + 3);
        let notify_off_multiplier = if cfg_type == cfg_type::NOTIFY && cap_len >= 20 { func.read32(o + 16) } else { 0 };
        Some(VirtioCap {
            cap_offset: off,
            cfg_type,
            bar: func.read8(o + 4),
            id: func.read8(o + 5),
            offset: func.read32(o + 8),
            length: func.read32(o + 12),
            notify_off_multiplier,
        })
    })
}

/// The first usable capability of `cfg_type` (BAR 0-5, non-empty window): the spec has the
/// driver use the first one it understands.
pub fn find_cap<C: ConfigAccess + ?Sized>(func: &Function<'_, C>, cfg_type: u8) -> Option<VirtioCap> {
    virtio_caps(func).find(|c| c.cfg_type == cfg_type && c.bar <= 5 && c.length > 0)
}

/// The ISR status byte (4.1.4.5), read (and so cleared) by [`VirtioPci::read_isr`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IsrStatus(pub u8);

impl IsrStatus {
    /// The device raised the (INTx) interrupt at all.
    pub fn raised(self) -> bool {
        self.0 & 3 != 0
    }

    /// A queue interrupt.
    pub fn queue(self) -> bool {
        self.0 & 1 != 0
    }

    /// A configuration change.
    pub fn config_changed(self) -> bool {
        self.0 & 2 != 0
    }
}

/// Writes a queue's index to its notification register.
#[derive(Debug)]
pub struct Notifier {
    reg: MmioRegion,
    queue: u16,
}

impl Notifier {
    /// A notifier over a fake register (host tests).
    #[cfg(test)]
    pub(crate) fn for_test(reg: MmioRegion, queue: u16) -> Self {
        Self { reg, queue }
    }

    /// Tells the device that queue has new available buffers.
    pub fn notify(&self) {
        self.reg.write16(0, self.queue);
    }
}

/// A virtio device's register windows.
#[derive(Debug)]
pub struct VirtioPci {
    common: MmioRegion,
    notify: MmioRegion,
    notify_multiplier: u32,
    isr: MmioRegion,
    device: Option<MmioRegion>,
}

fn map_cap<C: ConfigAccess + ?Sized>(
    func: &Function<'_, C>,
    mapper: &(impl MmioMapper + ?Sized),
    cap: &VirtioCap,
    min_len: u32,
) -> Result<MmioRegion, VirtioError> {
    let bar = func.bar_address(cap.bar).ok_or(VirtioError::BadCapability(cap.cfg_type))?;
    if cap.length < min_len {
        return Err(VirtioError::BadCapability(cap.cfg_type));
    }
    let phys = bar.checked_add(u64::from(cap.offset)).ok_or(VirtioError::BadCapability(cap.cfg_type))?;
    MmioRegion::map(mapper, phys, cap.length as usize).ok_or(VirtioError::MapFailed)
}

impl VirtioPci {
    /// Finds and maps the common, notify, ISR and (if present) device configuration
    /// windows of `func`, whose BARs must be assigned, and turns on memory decoding and
    /// bus mastering. The device is not reset here.
    pub fn new<C: ConfigAccess + ?Sized>(func: &Function<'_, C>, mapper: &(impl MmioMapper + ?Sized)) -> Result<Self, VirtioError> {
        let find = |t| find_cap(func, t).ok_or(VirtioError::MissingCapability(t));
        let common_cap = find(cfg_type::COMMON)?;
        let notify_cap = find(cfg_type::NOTIFY)?;
        let isr_cap = find(cfg_type::ISR)?;
        let device_cap = find_cap(func, cfg_type::DEVICE);
        func.enable(Command::MEMORY_SPACE | Command::BUS_MASTER);
        let common = map_cap(func, mapper, &common_cap, common::LEN)?;
        let notify = map_cap(func, mapper, &notify_cap, 2)?;
        let isr = map_cap(func, mapper, &isr_cap, 1)?;
        let device = match device_cap {
            Some(c) => Some(map_cap(func, mapper, &c, 1)?),
            None => None,
        };
        Ok(Self { common, notify, notify_multiplier: notify_cap.notify_off_multiplier, isr, device })
    }

    /// The device status byte.
    pub fn status(&self) -> u8 {
        self.common.read8(common::DEVICE_STATUS)
    }

    /// Sets bits in the device status.
    pub fn add_status(&self, bits: u8) {
        self.common.write8(common::DEVICE_STATUS, self.status() | bits);
    }

    /// Resets the device (status 0) and waits, a bounded number of polls, until it reads
    /// back 0. Afterwards the device uses no memory the driver gave it.
    pub fn reset(&self) -> Result<(), VirtioError> {
        self.common.write8(common::DEVICE_STATUS, 0);
        for _ in 0..RESET_POLLS {
            if self.status() == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(VirtioError::ResetTimeout)
    }

    /// Marks the device FAILED (the driver gave up on it).
    pub fn fail(&self) {
        self.add_status(status::FAILED);
    }

    /// The 64 feature bits the device offers.
    pub fn device_features(&self) -> u64 {
        self.common.write32(common::DEVICE_FEATURE_SELECT, 0);
        let low = self.common.read32(common::DEVICE_FEATURE);
        self.common.write32(common::DEVICE_FEATURE_SELECT, 1);
        let high = self.common.read32(common::DEVICE_FEATURE);
        u64::from(high) << 32 | u64::from(low)
    }

    fn set_driver_features(&self, features: u64) {
        self.common.write32(common::DRIVER_FEATURE_SELECT, 0);
        self.common.write32(common::DRIVER_FEATURE, features as u32);
        self.common.write32(common::DRIVER_FEATURE_SELECT, 1);
        self.common.write32(common::DRIVER_FEATURE, (features >> 32) as u32);
    }

    /// Steps 1-6 of device initialisation (3.1.1): reset, ACKNOWLEDGE, DRIVER, then accept
    /// the offered features among `wanted | required` and set FEATURES_OK. Fails (marking the
    /// device FAILED) if a `required` feature is missing or the device refuses the subset.
    /// Returns the negotiated features.
    pub fn negotiate(&self, wanted: u64, required: u64) -> Result<u64, VirtioError> {
        self.reset()?;
        self.add_status(status::ACKNOWLEDGE);
        self.add_status(status::DRIVER);
        let offered = self.device_features();
        if offered & required != required {
            self.fail();
            return Err(VirtioError::MissingFeatures(required & !offered));
        }
        let features = offered & (wanted | required);
        self.set_driver_features(features);
        self.add_status(status::FEATURES_OK);
        if self.status() & status::FEATURES_OK == 0 {
            self.fail();
            return Err(VirtioError::FeaturesRejected);
        }
        Ok(features)
    }

    /// Number of queues the device has.
    pub fn num_queues(&self) -> u16 {
        self.common.read16(common::NUM_QUEUES)
    }

    /// Largest size queue `index` supports (0: no such queue).
    pub fn queue_max_size(&self, index: u16) -> u16 {
        if index >= self.num_queues() {
            return 0;
        }
        self.common.write16(common::QUEUE_SELECT, index);
        self.common.read16(common::QUEUE_SIZE)
    }

    /// Gives queue `index` the rings of `queue`, routes its interrupts to MSI-X table entry
    /// `msix_vector` (or none), and enables it (4.1.5.1.3). Call after negotiation and
    /// before [`driver_ok`](Self::driver_ok); with MSI-X, after MSI-X is enabled in PCI.
    pub fn setup_queue(&self, index: u16, queue: &SplitQueue, msix_vector: Option<u16>) -> Result<Notifier, VirtioError> {
        let max = self.queue_max_size(index);
        if max == 0 {
            return Err(VirtioError::QueueUnavailable(index));
        }
        if queue.size() > max {
            return Err(VirtioError::BadQueueSize(queue.size()));
        }
        self.common.write16(common::QUEUE_SELECT, index);
        self.common.write16(common::QUEUE_SIZE, queue.size());
        self.common.write64_split(common::QUEUE_DESC, queue.desc_phys());
        self.common.write64_split(common::QUEUE_DRIVER, queue.avail_phys());
        self.common.write64_split(common::QUEUE_DEVICE, queue.used_phys());
        let vector = msix_vector.unwrap_or(NO_VECTOR);
        self.common.write16(common::QUEUE_MSIX_VECTOR, vector);
        if self.common.read16(common::QUEUE_MSIX_VECTOR) != vector {
            return Err(VirtioError::VectorRejected(vector));
        }
        let off = usize::from(self.common.read16(common::QUEUE_NOTIFY_OFF)) * self.notify_multiplier as usize;
        let reg = self.notify.sub(off, 2).ok_or(VirtioError::BadCapability(cfg_type::NOTIFY))?;
        self.common.write16(common::QUEUE_ENABLE, 1);
        Ok(Notifier { reg, queue: index })
    }

    /// Routes configuration-change interrupts to MSI-X table entry `vector` (or none).
    pub fn set_config_vector(&self, vector: Option<u16>) -> Result<(), VirtioError> {
        let v = vector.unwrap_or(NO_VECTOR);
        self.common.write16(common::CONFIG_MSIX_VECTOR, v);
        if self.common.read16(common::CONFIG_MSIX_VECTOR) != v {
            return Err(VirtioError::VectorRejected(v));
        }
        Ok(())
    }

    /// Sets DRIVER_OK: the device is live.
    pub fn driver_ok(&self) {
        self.add_status(status::DRIVER_OK);
    }

    /// Reads the ISR status, which clears it and de-asserts an INTx interrupt. Unused by
    /// the device for queue interrupts when MSI-X is enabled (the vector says it all).
    pub fn read_isr(&self) -> IsrStatus {
        IsrStatus(self.isr.read8(0))
    }

    /// Reads the device configuration with `f`, retrying (a bounded number of times) until
    /// the configuration generation is the same before and after, so multi-field values
    /// are consistent (4.1.4.3.1). None if the device has no configuration window or it
    /// kept changing.
    pub fn read_device_config<R>(&self, mut f: impl FnMut(&MmioRegion) -> R) -> Option<R> {
        let dev = self.device.as_ref()?;
        for _ in 0..16 {
            let before = self.common.read8(common::CONFIG_GENERATION);
            let r = f(dev);
            if self.common.read8(common::CONFIG_GENERATION) == before {
                return Some(r);
            }
        }
        None
    }

    /// Size of the device configuration window (0 if absent).
    pub fn device_config_len(&self) -> usize {
        self.device.as_ref().map_or(0, |d| d.len())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pci::fake::{leak_pages, FakeConfig, FakeFunction, FakeMapper};
    use crate::pci::Bdf;

    /// Adds a virtio capability to a fake function.
    pub fn add_virtio_cap(f: &mut FakeFunction, at: u8, cfg_type: u8, bar: u8, offset: u32, length: u32, mult: Option<u32>) {
        let mut body = vec![if mult.is_some() { 20 } else { 16 }, cfg_type, bar, 0, 0, 0];
        body.extend_from_slice(&offset.to_le_bytes());
        body.extend_from_slice(&length.to_le_bytes());
        if let Some(m) = mult {
            body.extend_from_slice(&m.to_le_bytes());
        }
        f.add_cap(at, cap_id::VENDOR, &body);
    }

    /// A fake virtio-net function laid out like QEMU's (BAR 4: common 0x0, ISR 0x1000,
    /// device 0x2000, notify 0x3000 with multiplier 4), its BAR backed by leaked memory.
    pub fn fake_virtio_net() -> (FakeConfig, Bdf, *mut u8) {
        let cfg = FakeConfig::default();
        let bdf = Bdf::new(0, 2, 0);
        let mut f = FakeFunction::new(VIRTIO_VENDOR_ID, 0x1000, 0x02, 0x00);
        f.set16(0x2e, 1); // subsystem id: network
        let bar = leak_pages(0x4000);
        let addr = bar as usize as u64;
        f.set32(0x20, addr as u32 | 0xc);
        f.set32(0x24, (addr >> 32) as u32);
        f.bar_masks[4] = 0xffff_c000;
        f.bar_masks[5] = 0xffff_ffff;
        f.add_cap(0x98, cap_id::MSIX, &[0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00]);
        add_virtio_cap(&mut f, 0x84, cfg_type::PCI, 0, 0, 0, None);
        add_virtio_cap(&mut f, 0x70, cfg_type::NOTIFY, 4, 0x3000, 0x1000, Some(4));
        add_virtio_cap(&mut f, 0x60, cfg_type::DEVICE, 4, 0x2000, 0x1000, None);
        add_virtio_cap(&mut f, 0x50, cfg_type::ISR, 4, 0x1000, 0x1000, None);
        add_virtio_cap(&mut f, 0x40, cfg_type::COMMON, 4, 0x0, 0x1000, None);
        cfg.insert(bdf, f);
        (cfg, bdf, bar)
    }

    #[test]
    fn identifies_virtio_devices() {
        let (cfg, bdf, _) = fake_virtio_net();
        let info = FunctionInfo::read(&cfg, bdf).unwrap();
        assert_eq!(device_type(&cfg, &info), Some(1));
        let modern = FunctionInfo { device_id: 0x1042, ..info };
        assert_eq!(device_type(&cfg, &modern), Some(2));
        let other = FunctionInfo { vendor_id: 0x8086, ..info };
        assert_eq!(device_type(&cfg, &other), None);
    }

    #[test]
    fn parses_virtio_capabilities() {
        let (cfg, bdf, bar) = fake_virtio_net();
        let func = Function::new(&cfg, bdf);
        let caps: Vec<_> = virtio_caps(&func).map(|c| c.cfg_type).collect();
        assert_eq!(caps, vec![cfg_type::PCI, cfg_type::NOTIFY, cfg_type::DEVICE, cfg_type::ISR, cfg_type::COMMON]);
        let notify = find_cap(&func, cfg_type::NOTIFY).unwrap();
        assert_eq!(
            notify,
            VirtioCap { cap_offset: 0x70, cfg_type: 2, bar: 4, id: 0, offset: 0x3000, length: 0x1000, notify_off_multiplier: 4 }
        );
        // The PCI-config access capability has BAR 0 but length 0: never chosen as a window.
        assert!(find_cap(&func, cfg_type::PCI).is_none());

        let t = VirtioPci::new(&func, &FakeMapper).unwrap();
        assert!(func.command().contains(Command::MEMORY_SPACE | Command::BUS_MASTER));
        assert_eq!(t.device_config_len(), 0x1000);
        // Windows land where the capabilities say.
        // The ISR byte at BAR + 0x1000, the device configuration at BAR + 0x2000.
        let bar_region = MmioRegion::map(&FakeMapper, bar as usize as u64, 0x4000).unwrap();
        bar_region.write8(0x1000, 3);
        let isr = t.read_isr();
        assert!(isr.raised() && isr.queue() && isr.config_changed());
        bar_region.write8(0x2000, 0x52);
        assert_eq!(t.read_device_config(|d| d.read8(0)), Some(0x52));
    }

    #[test]
    fn missing_or_unassigned_windows_are_errors() {
        let (cfg, bdf, _) = fake_virtio_net();
        cfg.with(bdf, |f| {
            f.set32(0x20, 0xc);
            f.set32(0x24, 0);
        });
        let func = Function::new(&cfg, bdf);
        assert_eq!(VirtioPci::new(&func, &FakeMapper).err(), Some(VirtioError::BadCapability(cfg_type::COMMON)));
        cfg.with(bdf, |f| f.set8(0x43, 7)); // the common capability becomes an unknown type
        assert_eq!(VirtioPci::new(&func, &FakeMapper).err(), Some(VirtioError::MissingCapability(cfg_type::COMMON)));
    }
}
