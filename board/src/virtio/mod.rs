//! Virtio devices over PCI.
//!
//! Reference (facts only): OASIS "Virtual I/O Device (VIRTIO) Version 1.1": device status
//! (2.1), feature bits (2.2, 6), split virtqueues (2.6), device initialisation (3.1), the
//! virtio over PCI transport (4.1) and the network device (5.1).
//!
//! - [`transport`]: the modern virtio-pci transport (common, notify, ISR and device
//!   configuration capabilities), feature negotiation, queue setup, MSI-X vectors.
//! - [`queue`]: split virtqueues over DMA memory (descriptor allocation, available and
//!   used rings, memory barriers, notification suppression).
//! - [`net`]: the network device ([`net::VirtioNet`]).
//!
//! Memory comes from the kernel through [`DmaPlatform`]; this crate knows no allocator.
//! Only the modern (virtio 1.x) interface is driven: `VIRTIO_F_VERSION_1` is required.
//!
//! `unsafe` here is confined to [`DmaRegion`]: volatile accesses to memory shared with a
//! device (the rings and packet buffers), the DMA counterpart of MMIO.

pub mod net;
pub mod queue;
pub mod transport;

use core::fmt;

use crate::pci::{MmioMapper, PciError};

/// PCI vendor id of virtio devices.
pub const VIRTIO_VENDOR_ID: u16 = 0x1af4;

/// Device status bits (2.1).
pub mod status {
    pub const ACKNOWLEDGE: u8 = 1;
    pub const DRIVER: u8 = 2;
    pub const DRIVER_OK: u8 = 4;
    pub const FEATURES_OK: u8 = 8;
    pub const DEVICE_NEEDS_RESET: u8 = 0x40;
    pub const FAILED: u8 = 0x80;
}

/// Device-independent feature bits (6).
pub mod feature {
    pub const RING_INDIRECT_DESC: u64 = 1 << 28;
    pub const RING_EVENT_IDX: u64 = 1 << 29;
    pub const VERSION_1: u64 = 1 << 32;
    pub const ACCESS_PLATFORM: u64 = 1 << 33;
    pub const RING_PACKED: u64 = 1 << 34;
    pub const IN_ORDER: u64 = 1 << 35;
    pub const ORDER_PLATFORM: u64 = 1 << 36;
    pub const SR_IOV: u64 = 1 << 37;
    pub const NOTIFICATION_DATA: u64 = 1 << 38;
}

/// Memory for devices, provided by the kernel.
///
/// Contract: `alloc_dma` returns physically contiguous, zeroed memory of at least `bytes`
/// bytes, 4 KiB aligned, as (physical address the device uses, kernel virtual address),
/// used by nothing else until it is passed to `free_dma` with the same size. Device memory
/// is cache-coherent (x86).
pub trait DmaPlatform: MmioMapper {
    /// Allocates DMA memory; None when there is none.
    fn alloc_dma(&self, bytes: usize) -> Option<(u64, *mut u8)>;
    /// Frees memory from `alloc_dma` (same `bytes`).
    fn free_dma(&self, phys: u64, virt: *mut u8, bytes: usize);
}

/// A block of DMA memory from a [`DmaPlatform`]: a window shared with a device.
///
/// Accesses are bounds-checked (out of range panics) and naturally aligned. Scalar reads
/// and writes are volatile because the device reads and writes the memory behind the
/// compiler's back; ordering against the device is the caller's business (see
/// [`queue`]'s barriers). Writes take `&mut self`, so a slice from [`bytes`](Self::bytes)
/// cannot be overwritten by this driver while it is alive; drivers only slice buffers the
/// device has handed back (or not yet been given).
pub struct DmaRegion {
    virt: *mut u8,
    phys: u64,
    len: usize,
}

// SAFETY: the region is memory the platform handed to this owner alone; it may be used
// from any CPU.
unsafe impl Send for DmaRegion {}
// SAFETY: shared access only reads (volatile loads or slices of device-returned buffers).
unsafe impl Sync for DmaRegion {}

impl fmt::Debug for DmaRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DmaRegion({:#x}+{:#x})", self.phys, self.len)
    }
}

impl DmaRegion {
    /// Allocates `bytes` (> 0) of DMA memory.
    pub fn alloc(platform: &(impl DmaPlatform + ?Sized), bytes: usize) -> Option<Self> {
        if bytes == 0 {
            return None;
        }
        let (phys, virt) = platform.alloc_dma(bytes)?;
        (!virt.is_null()).then_some(Self { virt, phys, len: bytes })
    }

    /// Gives the memory back. The device must no longer access it (reset first).
    pub fn free(self, platform: &(impl DmaPlatform + ?Sized)) {
        platform.free_dma(self.phys, self.virt, self.len);
    }

    /// Physical address of the first byte.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The kernel virtual address (for [`DmaPlatform::free_dma`]).
    pub(crate) fn virt_ptr(&self) -> *mut u8 {
        self.virt
    }

    /// True for an empty region (never produced by `alloc`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn at(&self, offset: usize, size: usize, align: usize) -> *mut u8 {
        assert!(
            offset.is_multiple_of(align) && offset.checked_add(size).is_some_and(|e| e <= self.len),
            "DMA access of {size} bytes at {offset:#x} outside {self:?} or misaligned"
        );
        self.virt.wrapping_add(offset)
    }

    pub fn read8(&self, offset: usize) -> u8 {
        let p = self.at(offset, 1, 1);
        // SAFETY: in bounds of memory owned by this region (DmaPlatform's contract).
        unsafe { p.read_volatile() }
    }

    pub fn read16(&self, offset: usize) -> u16 {
        let p = self.at(offset, 2, 2) as *mut u16;
        // SAFETY: in bounds and aligned (checked), memory owned by this region.
        unsafe { p.read_volatile() }
    }

    pub fn read32(&self, offset: usize) -> u32 {
        let p = self.at(offset, 4, 4) as *mut u32;
        // SAFETY: in bounds and aligned (checked), memory owned by this region.
        unsafe { p.read_volatile() }
    }

    pub fn read64(&self, offset: usize) -> u64 {
        let p = self.at(offset, 8, 8) as *mut u64;
        // SAFETY: in bounds and aligned (checked), memory owned by this region.
        unsafe { p.read_volatile() }
    }

    pub fn write8(&mut self, offset: usize, value: u8) {
        let p = self.at(offset, 1, 1);
        // SAFETY: in bounds of memory owned by this region; `&mut self` excludes live slices.
        unsafe { p.write_volatile(value) }
    }

    pub fn write16(&mut self, offset: usize, value: u16) {
        let p = self.at(offset, 2, 2) as *mut u16;
        // SAFETY: in bounds and aligned (checked); `&mut self` excludes live slices.
        unsafe { p.write_volatile(value) }
    }

    pub fn write32(&mut self, offset: usize, value: u32) {
        let p = self.at(offset, 4, 4) as *mut u32;
        // SAFETY: in bounds and aligned (checked); `&mut self` excludes live slices.
        unsafe { p.write_volatile(value) }
    }

    pub fn write64(&mut self, offset: usize, value: u64) {
        let p = self.at(offset, 8, 8) as *mut u64;
        // SAFETY: in bounds and aligned (checked); `&mut self` excludes live slices.
        unsafe { p.write_volatile(value) }
    }

    /// The bytes `offset..offset + len`. Only for memory the device is not writing (a
    /// buffer it has returned through the used ring, or one never given to it).
    pub fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        if len == 0 {
            return &[];
        }
        let p = self.at(offset, len, 1);
        // SAFETY: in bounds of memory owned by this region; no `&mut` slice can coexist
        // (writes need `&mut self`), and the caller guarantees the device leaves it alone.
        unsafe { core::slice::from_raw_parts(p, len) }
    }

    /// The bytes `offset..offset + len`, writable. Only for memory the device is not using.
    pub fn bytes_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        if len == 0 {
            return &mut [];
        }
        let p = self.at(offset, len, 1);
        // SAFETY: in bounds of memory owned by this region, borrowed exclusively through
        // `&mut self`; the caller guarantees the device is not using it.
        unsafe { core::slice::from_raw_parts_mut(p, len) }
    }

    /// Zeroes the whole region.
    pub fn zero(&mut self) {
        let p = self.at(0, self.len, 1);
        // SAFETY: the whole region, owned by it and borrowed exclusively.
        unsafe { core::ptr::write_bytes(p, 0, self.len) }
    }

    /// A second handle on the same memory (a device model in host tests).
    #[cfg(test)]
    pub(crate) fn alias(&self) -> Self {
        Self { virt: self.virt, phys: self.phys, len: self.len }
    }
}

/// Why a virtio device could not be driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtioError {
    /// A required virtio PCI capability (common, notify, ISR; named by its cfg_type) is absent.
    MissingCapability(u8),
    /// A capability's BAR is not an assigned memory BAR, or its window lies outside it.
    BadCapability(u8),
    /// A register window could not be mapped.
    MapFailed,
    /// The device did not finish its reset in time.
    ResetTimeout,
    /// The device lacks features the driver requires (the missing bits).
    MissingFeatures(u64),
    /// The device did not accept the negotiated features (FEATURES_OK cleared).
    FeaturesRejected,
    /// A queue index the device does not have, or a queue of size 0.
    QueueUnavailable(u16),
    /// A queue size that is not a power of two or exceeds the device's or driver's maximum.
    BadQueueSize(u16),
    /// The device refused an MSI-X vector (read back as NO_VECTOR).
    VectorRejected(u16),
    /// Out of DMA memory.
    NoMemory,
    /// A PCI-level failure.
    Pci(PciError),
}

impl From<PciError> for VirtioError {
    fn from(e: PciError) -> Self {
        VirtioError::Pci(e)
    }
}

/// A fake platform for host tests: leaked, page-aligned memory whose "physical" address
/// is its virtual address.
#[cfg(test)]
pub(crate) mod fake {
    use super::DmaPlatform;
    use crate::pci::fake::leak_pages;
    use crate::pci::MmioMapper;
    use std::cell::Cell;

    #[derive(Default)]
    pub struct FakePlatform {
        pub allocated: Cell<usize>,
        pub freed: Cell<usize>,
        pub fail_after: Cell<Option<usize>>,
    }

    impl MmioMapper for FakePlatform {
        fn map_mmio(&self, phys: u64, _len: usize) -> *mut u8 {
            phys as usize as *mut u8
        }
    }

    impl DmaPlatform for FakePlatform {
        fn alloc_dma(&self, bytes: usize) -> Option<(u64, *mut u8)> {
            if self.fail_after.get() == Some(self.allocated.get()) {
                return None;
            }
            self.allocated.set(self.allocated.get() + 1);
            let p = leak_pages(bytes);
            Some((p as usize as u64, p))
        }

        fn free_dma(&self, _phys: u64, _virt: *mut u8, _bytes: usize) {
            self.freed.set(self.freed.get() + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakePlatform;
    use super::*;

    #[test]
    fn dma_region_accesses() {
        let p = FakePlatform::default();
        let mut r = DmaRegion::alloc(&p, 100).unwrap();
        assert_eq!(r.len(), 100);
        r.write64(8, 0x0102_0304_0506_0708);
        assert_eq!(r.read32(8), 0x0506_0708);
        assert_eq!(r.read16(14), 0x0102);
        r.bytes_mut(20, 3).copy_from_slice(b"abc");
        assert_eq!(r.bytes(20, 3), b"abc");
        assert_eq!(r.read8(21), b'b');
        assert!(std::panic::catch_unwind(|| r.read32(98)).is_err());
        assert!(std::panic::catch_unwind(|| r.read16(1)).is_err());
        r.zero();
        assert_eq!(r.read64(8), 0);
        r.free(&p);
        assert_eq!(p.freed.get(), 1);
        assert!(DmaRegion::alloc(&p, 0).is_none());
    }
}
