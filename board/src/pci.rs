//! PCI: configuration space access, enumeration, BARs, capabilities, MSI and MSI-X.
//!
//! References (used for facts only): PCI Local Bus Specification 3.0 (configuration
//! mechanism #1 3.2.2.3.2, the type 0 header 6.1-6.2, BARs 6.2.5.1, capability lists 6.7,
//! MSI 6.8), PCI-to-PCI Bridge Architecture Specification 1.2 (type 1 header, 3.2), PCI
//! Express Base Specification (ECAM 7.2.2, MSI-X 7.7.2).
//!
//! Configuration space is reached through the [`ConfigAccess`] trait: [`PortIo`] is
//! mechanism #1 (ports 0xCF8/0xCFC, the first 256 bytes of every function, enough for
//! QEMU q35's bus 0 and legacy capabilities); [`Ecam`] is the memory-mapped mechanism
//! (4 KiB per function) for when the kernel has parsed ACPI's MCFG table. Everything
//! above the trait (enumeration, BAR decoding and sizing, the capability walk, MSI/MSI-X
//! programming) is generic, so host unit tests drive it with a fake configuration space.
//!
//! Device registers (MSI-X tables, drivers' BARs) are reached through [`MmioRegion`],
//! obtained from the kernel through [`MmioMapper`]; it is the only place in this module
//! besides the 0xCF8/0xCFC ports that uses `unsafe`.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use x86_64::instructions::port::Port;

// ---------------------------------------------------------------------------------------
// Addresses and configuration space access

/// A PCI function's address: bus, device (0-31), function (0-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl Bdf {
    /// The function `bus:device.function`; `device` and `function` are masked to 5 and 3 bits.
    pub const fn new(bus: u8, device: u8, function: u8) -> Self {
        Self { bus, device: device & 0x1f, function: function & 0x7 }
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// A way to read and write PCI configuration space (port I/O, ECAM, or a test fake).
///
/// Offsets are byte offsets into the function's configuration space and must be naturally
/// aligned for the access size. Reads of absent functions or of offsets beyond
/// [`space_size`](Self::space_size) return all ones; such writes are ignored.
pub trait ConfigAccess {
    /// Reads the 32-bit register at `offset` (a multiple of 4).
    fn read32(&self, bdf: Bdf, offset: u16) -> u32;
    /// Writes the 32-bit register at `offset` (a multiple of 4).
    fn write32(&self, bdf: Bdf, offset: u16, value: u32);
    /// Writes 16 bits at `offset` (a multiple of 2) without touching the neighbouring
    /// bytes (the status register next to the command register has write-1-to-clear bits).
    fn write16(&self, bdf: Bdf, offset: u16, value: u16);
    /// Writes 8 bits at `offset` without touching the neighbouring bytes.
    fn write8(&self, bdf: Bdf, offset: u16, value: u8);

    /// Reads 16 bits at `offset` (a multiple of 2).
    fn read16(&self, bdf: Bdf, offset: u16) -> u16 {
        (self.read32(bdf, offset & !3) >> ((offset & 2) * 8)) as u16
    }

    /// Reads 8 bits at `offset`.
    fn read8(&self, bdf: Bdf, offset: u16) -> u8 {
        (self.read32(bdf, offset & !3) >> ((offset & 3) * 8)) as u8
    }

    /// Bytes of configuration space per function this mechanism reaches (256 or 4096).
    fn space_size(&self) -> u16 {
        256
    }
}

/// Configuration mechanism #1: address register at port 0xCF8, data at 0xCFC-0xCFF.
///
/// The address/data pair is one shared resource, so every access runs with interrupts off
/// and under a global lock held for two port accesses.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortIo;

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;
static PORT_IO_BUSY: AtomicBool = AtomicBool::new(false);

/// The value of CONFIG_ADDRESS selecting `offset` (dword-aligned) of `bdf`.
pub const fn port_io_address(bdf: Bdf, offset: u16) -> u32 {
    0x8000_0000
        | (bdf.bus as u32) << 16
        | ((bdf.device & 0x1f) as u32) << 11
        | ((bdf.function & 0x7) as u32) << 8
        | (offset & 0xfc) as u32
}

impl PortIo {
    /// The port I/O mechanism (every PC has it).
    pub const fn new() -> Self {
        Self
    }

    /// Selects `offset` of `bdf` and runs `f` with the data port for that offset.
    fn with_selected<R>(bdf: Bdf, offset: u16, f: impl FnOnce(u16) -> R) -> R {
        x86_64::instructions::interrupts::without_interrupts(|| {
            // Held for two port accesses by a CPU with interrupts off: a short, bounded wait.
            while PORT_IO_BUSY.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
                core::hint::spin_loop();
            }
            // SAFETY: CONFIG_ADDRESS only selects a configuration register; no memory is touched.
            unsafe { Port::<u32>::new(CONFIG_ADDRESS).write(port_io_address(bdf, offset)) };
            let r = f(CONFIG_DATA + (offset & 3));
            PORT_IO_BUSY.store(false, Ordering::Release);
            r
        })
    }
}

impl ConfigAccess for PortIo {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        if offset >= 256 {
            return u32::MAX;
        }
        // SAFETY: reading CONFIG_DATA returns the selected configuration register.
        Self::with_selected(bdf, offset, |port| unsafe { Port::<u32>::new(port).read() })
    }

    fn read16(&self, bdf: Bdf, offset: u16) -> u16 {
        if offset >= 256 {
            return u16::MAX;
        }
        // SAFETY: as in `read32`, a 16-bit read at CONFIG_DATA + (offset & 2).
        Self::with_selected(bdf, offset, |port| unsafe { Port::<u16>::new(port).read() })
    }

    fn read8(&self, bdf: Bdf, offset: u16) -> u8 {
        if offset >= 256 {
            return u8::MAX;
        }
        // SAFETY: as in `read32`, an 8-bit read at CONFIG_DATA + (offset & 3).
        Self::with_selected(bdf, offset, |port| unsafe { Port::<u8>::new(port).read() })
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        if offset < 256 {
            // SAFETY: writes the selected configuration register; the callers (this module and
            // drivers) decide what a device may do, e.g. DMA only into memory they own.
            Self::with_selected(bdf, offset, |port| unsafe { Port::<u32>::new(port).write(value) });
        }
    }

    fn write16(&self, bdf: Bdf, offset: u16, value: u16) {
        if offset < 256 {
            // SAFETY: as in `write32`, 16 bits.
            Self::with_selected(bdf, offset, |port| unsafe { Port::<u16>::new(port).write(value) });
        }
    }

    fn write8(&self, bdf: Bdf, offset: u16, value: u8) {
        if offset < 256 {
            // SAFETY: as in `write32`, 8 bits.
            Self::with_selected(bdf, offset, |port| unsafe { Port::<u8>::new(port).write(value) });
        }
    }
}

/// Offset of `offset` of `bdf` inside an ECAM window whose first bus is `start_bus`
/// (PCIe 7.2.2: bus << 20 | device << 15 | function << 12 | register).
pub const fn ecam_offset(start_bus: u8, bdf: Bdf, offset: u16) -> usize {
    ((bdf.bus - start_bus) as usize) << 20
        | ((bdf.device & 0x1f) as usize) << 15
        | ((bdf.function & 0x7) as usize) << 12
        | (offset & 0xfff) as usize
}

/// The enhanced configuration access mechanism: one MMIO window for buses
/// `start_bus..=end_bus` of a segment (from an ACPI MCFG entry; the base address there is
/// that of bus 0 even when the window starts later, so map `base + start_bus << 20`).
pub struct Ecam {
    window: MmioRegion,
    start_bus: u8,
    end_bus: u8,
}

impl Ecam {
    /// Maps the window for buses `start_bus..=end_bus` at physical `bus0_base` (MCFG's base).
    pub fn map(mapper: &(impl MmioMapper + ?Sized), bus0_base: u64, start_bus: u8, end_bus: u8) -> Option<Self> {
        if end_bus < start_bus {
            return None;
        }
        let len = (usize::from(end_bus - start_bus) + 1) << 20;
        let window = MmioRegion::map(mapper, bus0_base + (u64::from(start_bus) << 20), len)?;
        Some(Self { window, start_bus, end_bus })
    }

    fn offset(&self, bdf: Bdf, offset: u16) -> Option<usize> {
        (bdf.bus >= self.start_bus && bdf.bus <= self.end_bus && offset < 4096)
            .then(|| ecam_offset(self.start_bus, bdf, offset))
    }
}

impl ConfigAccess for Ecam {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        self.offset(bdf, offset & !3).map_or(u32::MAX, |o| self.window.read32(o))
    }

    fn read16(&self, bdf: Bdf, offset: u16) -> u16 {
        self.offset(bdf, offset & !1).map_or(u16::MAX, |o| self.window.read16(o))
    }

    fn read8(&self, bdf: Bdf, offset: u16) -> u8 {
        self.offset(bdf, offset).map_or(u8::MAX, |o| self.window.read8(o))
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        if let Some(o) = self.offset(bdf, offset & !3) {
            self.window.write32(o, value);
        }
    }

    fn write16(&self, bdf: Bdf, offset: u16, value: u16) {
        if let Some(o) = self.offset(bdf, offset & !1) {
            self.window.write16(o, value);
        }
    }

    fn write8(&self, bdf: Bdf, offset: u16, value: u8) {
        if let Some(o) = self.offset(bdf, offset) {
            self.window.write8(o, value);
        }
    }

    fn space_size(&self) -> u16 {
        4096
    }
}

// ---------------------------------------------------------------------------------------
// MMIO windows

/// How board drivers get device memory mapped: implemented by the kernel.
pub trait MmioMapper {
    /// Maps `len` bytes of device memory at physical address `phys` uncached and returns the
    /// virtual address of `phys`, or null if it cannot be mapped. The mapping must stay
    /// valid for the rest of the system's life and must not overlap memory that Rust code
    /// uses as ordinary memory.
    fn map_mmio(&self, phys: u64, len: usize) -> *mut u8;
}

/// A window of device registers mapped by an [`MmioMapper`]. Accesses are volatile,
/// bounds-checked (out of range panics, like slice indexing) and must be naturally aligned.
pub struct MmioRegion {
    base: *mut u8,
    len: usize,
    phys: u64,
}

// SAFETY: the region is device memory, not Rust-owned data; its registers may be accessed
// from any CPU (exclusion, where a device needs it, is the owner's business via `&mut`).
unsafe impl Send for MmioRegion {}
// SAFETY: as above; every access is a single volatile load or store.
unsafe impl Sync for MmioRegion {}

impl fmt::Debug for MmioRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MmioRegion({:#x}+{:#x})", self.phys, self.len)
    }
}

impl MmioRegion {
    /// Maps `len` bytes at physical `phys`; None if `len` is 0 or the mapper fails.
    pub fn map(mapper: &(impl MmioMapper + ?Sized), phys: u64, len: usize) -> Option<Self> {
        if len == 0 {
            return None;
        }
        let base = mapper.map_mmio(phys, len);
        (!base.is_null()).then_some(Self { base, len, phys })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty window (never produced by `map`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Physical address of the first byte.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// A second handle on `len` bytes at `offset` of this window (the same registers).
    pub fn sub(&self, offset: usize, len: usize) -> Option<Self> {
        if len == 0 || offset.checked_add(len)? > self.len {
            return None;
        }
        Some(Self { base: self.base.wrapping_add(offset), len, phys: self.phys + offset as u64 })
    }

    fn check(&self, offset: usize, size: usize) -> *mut u8 {
        assert!(
            offset.is_multiple_of(size) && offset.checked_add(size).is_some_and(|e| e <= self.len),
            "MMIO access of {size} bytes at {offset:#x} outside {self:?} or misaligned"
        );
        self.base.wrapping_add(offset)
    }

    /// Reads the byte at `offset`.
    pub fn read8(&self, offset: usize) -> u8 {
        let p = self.check(offset, 1);
        // SAFETY: in bounds of a live device mapping (MmioMapper's contract).
        unsafe { p.read_volatile() }
    }

    /// Reads the 16-bit register at `offset`.
    pub fn read16(&self, offset: usize) -> u16 {
        let p = self.check(offset, 2) as *mut u16;
        // SAFETY: in bounds and aligned (checked) of a live device mapping.
        unsafe { p.read_volatile() }
    }

    /// Reads the 32-bit register at `offset`.
    pub fn read32(&self, offset: usize) -> u32 {
        let p = self.check(offset, 4) as *mut u32;
        // SAFETY: in bounds and aligned (checked) of a live device mapping.
        unsafe { p.read_volatile() }
    }

    /// Writes the byte at `offset`.
    pub fn write8(&self, offset: usize, value: u8) {
        let p = self.check(offset, 1);
        // SAFETY: in bounds of a live device mapping; the store only affects the device.
        unsafe { p.write_volatile(value) }
    }

    /// Writes the 16-bit register at `offset`.
    pub fn write16(&self, offset: usize, value: u16) {
        let p = self.check(offset, 2) as *mut u16;
        // SAFETY: in bounds and aligned (checked) of a live device mapping.
        unsafe { p.write_volatile(value) }
    }

    /// Writes the 32-bit register at `offset`.
    pub fn write32(&self, offset: usize, value: u32) {
        let p = self.check(offset, 4) as *mut u32;
        // SAFETY: in bounds and aligned (checked) of a live device mapping.
        unsafe { p.write_volatile(value) }
    }

    /// Writes a 64-bit register at `offset` as two 32-bit stores, low half first (what PCI
    /// devices accept everywhere).
    pub fn write64_split(&self, offset: usize, value: u64) {
        self.write32(offset, value as u32);
        self.write32(offset + 4, (value >> 32) as u32);
    }

    /// Reads a 64-bit register at `offset` as two 32-bit loads, low half first.
    pub fn read64_split(&self, offset: usize) -> u64 {
        u64::from(self.read32(offset)) | u64::from(self.read32(offset + 4)) << 32
    }
}

// ---------------------------------------------------------------------------------------
// Header registers

/// Offsets of the common header registers.
pub mod reg {
    pub const VENDOR_ID: u16 = 0x00;
    pub const DEVICE_ID: u16 = 0x02;
    pub const COMMAND: u16 = 0x04;
    pub const STATUS: u16 = 0x06;
    pub const REVISION: u16 = 0x08;
    pub const PROG_IF: u16 = 0x09;
    pub const SUBCLASS: u16 = 0x0a;
    pub const CLASS: u16 = 0x0b;
    pub const HEADER_TYPE: u16 = 0x0e;
    pub const BAR0: u16 = 0x10;
    /// Type 0: subsystem vendor and device ids.
    pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2c;
    pub const SUBSYSTEM_ID: u16 = 0x2e;
    pub const CAPABILITIES: u16 = 0x34;
    pub const INTERRUPT_LINE: u16 = 0x3c;
    pub const INTERRUPT_PIN: u16 = 0x3d;
    /// Type 1 (bridge): primary, secondary and subordinate bus numbers.
    pub const PRIMARY_BUS: u16 = 0x18;
    pub const SECONDARY_BUS: u16 = 0x19;
    pub const SUBORDINATE_BUS: u16 = 0x1a;
}

bitflags::bitflags! {
    /// The command register.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Command: u16 {
        const IO_SPACE = 1 << 0;
        const MEMORY_SPACE = 1 << 1;
        const BUS_MASTER = 1 << 2;
        const SPECIAL_CYCLES = 1 << 3;
        const MWI = 1 << 4;
        const VGA_SNOOP = 1 << 5;
        const PARITY_ERROR_RESPONSE = 1 << 6;
        const SERR = 1 << 8;
        const FAST_BACK_TO_BACK = 1 << 9;
        const INTX_DISABLE = 1 << 10;
    }
}

/// Status register bit: the function has a capability list.
pub const STATUS_CAP_LIST: u16 = 1 << 4;

/// Capability ids (PCI Code and ID Assignment Specification).
pub mod cap_id {
    pub const POWER_MANAGEMENT: u8 = 0x01;
    pub const MSI: u8 = 0x05;
    pub const VENDOR: u8 = 0x09;
    pub const PCIE: u8 = 0x10;
    pub const MSIX: u8 = 0x11;
}

/// Header type of a PCI-to-PCI bridge (low 7 bits of HEADER_TYPE).
pub const HEADER_BRIDGE: u8 = 1;
/// Header type of a CardBus bridge.
pub const HEADER_CARDBUS: u8 = 2;

/// Class, subclass and programming interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassCode {
    pub class: u8,
    pub subclass: u8,
    pub prog_if: u8,
}

/// What enumeration reports for each function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    pub bdf: Bdf,
    pub vendor_id: u16,
    pub device_id: u16,
    pub class: ClassCode,
    pub revision: u8,
    /// Low 7 bits of the header type: 0 device, 1 PCI bridge, 2 CardBus bridge.
    pub header_type: u8,
    pub multifunction: bool,
    /// For bridges: the bus behind it.
    pub secondary_bus: Option<u8>,
}

impl FunctionInfo {
    /// Reads the identification registers; None if nothing answers at `bdf`.
    pub fn read(cfg: &(impl ConfigAccess + ?Sized), bdf: Bdf) -> Option<Self> {
        let id = cfg.read32(bdf, reg::VENDOR_ID);
        let vendor_id = id as u16;
        if vendor_id == 0xffff || vendor_id == 0 {
            return None;
        }
        let class_rev = cfg.read32(bdf, reg::REVISION);
        let header = cfg.read8(bdf, reg::HEADER_TYPE);
        let header_type = header & 0x7f;
        let secondary_bus = (header_type == HEADER_BRIDGE || header_type == HEADER_CARDBUS)
            .then(|| cfg.read8(bdf, reg::SECONDARY_BUS));
        Some(Self {
            bdf,
            vendor_id,
            device_id: (id >> 16) as u16,
            class: ClassCode { class: (class_rev >> 24) as u8, subclass: (class_rev >> 16) as u8, prog_if: (class_rev >> 8) as u8 },
            revision: class_rev as u8,
            header_type,
            multifunction: header & 0x80 != 0,
            secondary_bus,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Enumeration

/// Calls `f` for every function present, starting at bus 0 and following bridges to their
/// secondary buses (each bus is scanned once, so a misconfigured loop of bridges ends).
/// If 00:00.0 is a multi-function host bridge, functions 1-7 of it are further host
/// bridges whose bus number is the function number (PCI Firmware spec's convention).
///
/// Bridges are not configured: their bus numbers are the firmware's.
pub fn enumerate(cfg: &(impl ConfigAccess + ?Sized), mut f: impl FnMut(&FunctionInfo)) {
    fn push(bus: u8, seen: &mut [u64; 4], pending: &mut [u8; 256], n: &mut usize) {
        let (w, b) = (usize::from(bus) / 64, bus % 64);
        if seen[w] & (1 << b) == 0 && *n < pending.len() {
            seen[w] |= 1 << b;
            pending[*n] = bus;
            *n += 1;
        }
    }
    let mut seen = [0u64; 4];
    let mut pending = [0u8; 256];
    let mut npending = 0usize;
    push(0, &mut seen, &mut pending, &mut npending);
    if let Some(host) = FunctionInfo::read(cfg, Bdf::new(0, 0, 0)) {
        if host.multifunction && host.class.class == 0x06 && host.class.subclass == 0x00 {
            for func in 1..8 {
                if FunctionInfo::read(cfg, Bdf::new(0, 0, func)).is_some() {
                    push(func, &mut seen, &mut pending, &mut npending);
                }
            }
        }
    }
    // A FIFO over `pending`: buses are scanned in the order they were found.
    let mut next = 0;
    while next < npending {
        let bus = pending[next];
        next += 1;
        for device in 0..32 {
            let Some(f0) = FunctionInfo::read(cfg, Bdf::new(bus, device, 0)) else { continue };
            let functions = if f0.multifunction { 8 } else { 1 };
            for function in 0..functions {
                let info = if function == 0 { Some(f0) } else { FunctionInfo::read(cfg, Bdf::new(bus, device, function)) };
                let Some(info) = info else { continue };
                f(&info);
                if let Some(sec) = info.secondary_bus {
                    if sec != 0 && sec > bus {
                        push(sec, &mut seen, &mut pending, &mut npending);
                    }
                }
            }
        }
    }
}

/// The first function for which `pred` holds.
pub fn find(cfg: &(impl ConfigAccess + ?Sized), mut pred: impl FnMut(&FunctionInfo) -> bool) -> Option<FunctionInfo> {
    let mut found = None;
    enumerate(cfg, |info| {
        if found.is_none() && pred(info) {
            found = Some(*info);
        }
    });
    found
}

// ---------------------------------------------------------------------------------------
// BARs

/// A decoded base address register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    /// I/O ports `port..port + size`.
    Io { port: u32, size: u32 },
    /// Memory `address..address + size`. A 64-bit BAR occupies two BAR slots.
    Memory { address: u64, size: u64, prefetchable: bool, is_64bit: bool },
}

impl Bar {
    /// Decodes a BAR from its original value(s) and the value(s) read back after writing
    /// all ones (`high`/`sized_high` are the next BAR slot, used only for 64-bit memory BARs).
    /// None if the BAR is not implemented (no writable address bits).
    pub fn decode(original: u32, original_high: u32, sized: u32, sized_high: u32) -> Option<Bar> {
        if original & 1 == 1 {
            let mut mask = sized & !0x3;
            if mask == 0 {
                return None;
            }
            if mask & 0xffff_0000 == 0 {
                // 16-bit I/O decoder: the upper half is hardwired to 0.
                mask |= 0xffff_0000;
            }
            return Some(Bar::Io { port: original & !0x3, size: (!mask).wrapping_add(1) });
        }
        let prefetchable = original & 0x8 != 0;
        let is_64bit = (original >> 1) & 0x3 == 0x2;
        if is_64bit {
            let mask = u64::from(sized_high) << 32 | u64::from(sized & !0xf);
            if mask == 0 {
                return None;
            }
            let address = u64::from(original_high) << 32 | u64::from(original & !0xf);
            Some(Bar::Memory { address, size: (!mask).wrapping_add(1), prefetchable, is_64bit })
        } else {
            let mask = sized & !0xf;
            if mask == 0 {
                return None;
            }
            Some(Bar::Memory {
                address: u64::from(original & !0xf),
                size: u64::from((!mask).wrapping_add(1)),
                prefetchable,
                is_64bit,
            })
        }
    }

    /// True for a 64-bit memory BAR, which also uses the next slot.
    pub fn is_64bit(&self) -> bool {
        matches!(self, Bar::Memory { is_64bit: true, .. })
    }

    /// The base address (memory) or port (I/O).
    pub fn address(&self) -> u64 {
        match *self {
            Bar::Io { port, .. } => u64::from(port),
            Bar::Memory { address, .. } => address,
        }
    }

    /// The size in bytes (or ports).
    pub fn size(&self) -> u64 {
        match *self {
            Bar::Io { size, .. } => u64::from(size),
            Bar::Memory { size, .. } => size,
        }
    }
}

/// Why a PCI operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciError {
    /// The function lacks the capability.
    NoCapability,
    /// A BAR the operation needs is absent, an I/O BAR, or not assigned an address.
    BadBar(u8),
    /// The mapper could not map a register window.
    MapFailed,
    /// An MSI-X table entry beyond the table.
    NoSuchVector(u16),
    /// No room left in the address window.
    NoSpace,
}

/// Assigns addresses to unassigned memory BARs from a window `[next, end)`: each BAR is
/// naturally aligned (BAR sizes are powers of two).
#[derive(Clone, Copy, Debug)]
pub struct BarWindow {
    pub next: u64,
    pub end: u64,
}

impl BarWindow {
    /// Space for a BAR of `size` bytes (a power of two), or None when the window is full.
    pub fn alloc(&mut self, size: u64) -> Option<u64> {
        if size == 0 || !size.is_power_of_two() {
            return None;
        }
        let addr = self.next.checked_add(size - 1)? & !(size - 1);
        let end = addr.checked_add(size)?;
        if end > self.end {
            return None;
        }
        self.next = end;
        Some(addr)
    }

    /// Moves the start of the window past `[addr, addr + size)` if they overlap.
    pub fn avoid(&mut self, addr: u64, size: u64) {
        let end = addr.saturating_add(size);
        if addr < self.end && end > self.next {
            self.next = end;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Functions

/// A handle on one function: its address and the configuration access to reach it.
pub struct Function<'a, C: ConfigAccess + ?Sized> {
    cfg: &'a C,
    bdf: Bdf,
}

impl<'a, C: ConfigAccess + ?Sized> Function<'a, C> {
    /// The function at `bdf` (not checked for presence: see [`FunctionInfo::read`]).
    pub fn new(cfg: &'a C, bdf: Bdf) -> Self {
        Self { cfg, bdf }
    }

    /// Its address.
    pub fn bdf(&self) -> Bdf {
        self.bdf
    }

    /// The configuration access it uses.
    pub fn config(&self) -> &'a C {
        self.cfg
    }

    pub fn read8(&self, offset: u16) -> u8 {
        self.cfg.read8(self.bdf, offset)
    }

    pub fn read16(&self, offset: u16) -> u16 {
        self.cfg.read16(self.bdf, offset)
    }

    pub fn read32(&self, offset: u16) -> u32 {
        self.cfg.read32(self.bdf, offset)
    }

    pub fn write8(&self, offset: u16, value: u8) {
        self.cfg.write8(self.bdf, offset, value)
    }

    pub fn write16(&self, offset: u16, value: u16) {
        self.cfg.write16(self.bdf, offset, value)
    }

    pub fn write32(&self, offset: u16, value: u32) {
        self.cfg.write32(self.bdf, offset, value)
    }

    /// Identification registers; None if nothing answers.
    pub fn info(&self) -> Option<FunctionInfo> {
        FunctionInfo::read(self.cfg, self.bdf)
    }

    /// Subsystem (vendor, device) of a type 0 function.
    pub fn subsystem(&self) -> (u16, u16) {
        (self.read16(reg::SUBSYSTEM_VENDOR_ID), self.read16(reg::SUBSYSTEM_ID))
    }

    /// The legacy interrupt pin (1 = INTA .. 4 = INTD, 0 none) and the line firmware wrote.
    pub fn interrupt_pin_line(&self) -> (u8, u8) {
        (self.read8(reg::INTERRUPT_PIN), self.read8(reg::INTERRUPT_LINE))
    }

    /// The command register.
    pub fn command(&self) -> Command {
        Command::from_bits_retain(self.read16(reg::COMMAND))
    }

    /// Writes the command register (a 16-bit write: the status register is untouched).
    pub fn set_command(&self, cmd: Command) {
        self.write16(reg::COMMAND, cmd.bits());
    }

    /// Sets `bits` in the command register (e.g. MEMORY_SPACE | BUS_MASTER).
    pub fn enable(&self, bits: Command) {
        self.set_command(self.command() | bits);
    }

    /// Clears `bits` in the command register.
    pub fn disable(&self, bits: Command) {
        self.set_command(self.command() - bits);
    }

    /// The status register.
    pub fn status(&self) -> u16 {
        self.read16(reg::STATUS)
    }

    /// Number of BAR slots: 6 for devices, 2 for bridges, 0 otherwise.
    pub fn bar_slots(&self) -> u8 {
        match self.read8(reg::HEADER_TYPE) & 0x7f {
            0 => 6,
            HEADER_BRIDGE => 2,
            _ => 0,
        }
    }

    /// Decodes BAR `index` with size probing (decoding is switched off in the command
    /// register while the BAR holds all ones, then everything is restored). None if the
    /// slot is not implemented, out of range, or the upper half of a 64-bit BAR.
    /// Do not call while a driver is using the device's registers.
    pub fn bar(&self, index: u8) -> Option<Bar> {
        if index >= self.bar_slots() {
            return None;
        }
        let off = reg::BAR0 + 4 * u16::from(index);
        let original = self.read32(off);
        let is_mem64 = original & 1 == 0 && (original >> 1) & 3 == 2;
        if is_mem64 && index + 1 >= self.bar_slots() {
            return None;
        }
        let cmd = self.command();
        self.set_command(cmd - (Command::IO_SPACE | Command::MEMORY_SPACE));
        self.write32(off, u32::MAX);
        let sized = self.read32(off);
        self.write32(off, original);
        let (original_high, sized_high) = if is_mem64 {
            let high = self.read32(off + 4);
            self.write32(off + 4, u32::MAX);
            let sized_high = self.read32(off + 4);
            self.write32(off + 4, high);
            (high, sized_high)
        } else {
            (0, 0)
        };
        self.set_command(cmd);
        Bar::decode(original, original_high, sized, sized_high)
    }

    /// All BARs: slot i holds BAR i (None for unimplemented slots and upper halves).
    pub fn bars(&self) -> [Option<Bar>; 6] {
        let mut out = [None; 6];
        let mut i = 0;
        while i < self.bar_slots() {
            out[usize::from(i)] = self.bar(i);
            i += if out[usize::from(i)].is_some_and(|b| b.is_64bit()) { 2 } else { 1 };
        }
        out
    }

    /// The address of memory BAR `index` without probing its size (None for I/O BARs and
    /// unassigned ones).
    pub fn bar_address(&self, index: u8) -> Option<u64> {
        if index >= self.bar_slots() {
            return None;
        }
        let off = reg::BAR0 + 4 * u16::from(index);
        let low = self.read32(off);
        if low & 1 == 1 {
            return None;
        }
        let high = if (low >> 1) & 3 == 2 && index + 1 < self.bar_slots() { self.read32(off + 4) } else { 0 };
        let addr = u64::from(high) << 32 | u64::from(low & !0xf);
        (addr != 0).then_some(addr)
    }

    /// Writes a new base address into BAR `index` (both halves for a 64-bit BAR). Memory
    /// decoding is off while the halves change.
    pub fn set_bar_address(&self, index: u8, address: u64) {
        if index >= self.bar_slots() {
            return;
        }
        let off = reg::BAR0 + 4 * u16::from(index);
        let low = self.read32(off);
        let cmd = self.command();
        self.set_command(cmd - (Command::IO_SPACE | Command::MEMORY_SPACE));
        if low & 1 == 1 {
            self.write32(off, address as u32 & !0x3);
        } else {
            self.write32(off, address as u32 & !0xf);
            if (low >> 1) & 3 == 2 && index + 1 < self.bar_slots() {
                self.write32(off + 4, (address >> 32) as u32);
            }
        }
        self.set_command(cmd);
    }

    /// Gives every unassigned memory BAR an address from `window` (a 64-bit BAR may get
    /// one above 4 GiB only if the window is there). Returns how many were assigned.
    pub fn assign_memory_bars(&self, window: &mut BarWindow) -> Result<usize, PciError> {
        let mut n = 0;
        let mut i = 0;
        while i < self.bar_slots() {
            let bar = self.bar(i);
            if let Some(Bar::Memory { address: 0, size, is_64bit, .. }) = bar {
                let mut trial = *window;
                let addr = trial.alloc(size).ok_or(PciError::NoSpace)?;
                if !is_64bit && addr + size > 1 << 32 {
                    return Err(PciError::NoSpace);
                }
                *window = trial;
                self.set_bar_address(i, addr);
                n += 1;
            }
            i += if bar.is_some_and(|b| b.is_64bit()) { 2 } else { 1 };
        }
        Ok(n)
    }

    /// The capability list: (id, offset) pairs.
    pub fn capabilities(&self) -> Capabilities<'a, C> {
        Capabilities::new(self.cfg, self.bdf)
    }

    /// Offset of the first capability with `id`.
    pub fn find_capability(&self, id: u8) -> Option<u8> {
        self.capabilities().find(|&(cid, _)| cid == id).map(|(_, off)| off)
    }

    /// The MSI capability, if the function has one.
    pub fn msi(&self) -> Option<MsiCap> {
        let offset = self.find_capability(cap_id::MSI)?;
        Some(MsiCap { offset, control: self.read16(u16::from(offset) + 2) })
    }

    /// Programs the (single) MSI message: address and data.
    pub fn msi_set_message(&self, cap: &MsiCap, msg: MsiMessage) {
        let base = u16::from(cap.offset);
        self.write32(base + 4, msg.address as u32);
        if cap.is_64bit() {
            self.write32(base + 8, (msg.address >> 32) as u32);
        }
        self.write16(base + cap.data_offset(), msg.data as u16);
    }

    /// Enables or disables MSI with one vector (multiple message enable = 1 message);
    /// enabling also sets INTX_DISABLE.
    pub fn msi_enable(&self, cap: &MsiCap, on: bool) {
        let off = u16::from(cap.offset) + 2;
        let mut control = self.read16(off) & !(0x7 << 4);
        if on {
            control |= 1;
            self.enable(Command::INTX_DISABLE);
        } else {
            control &= !1;
        }
        self.write16(off, control);
    }

    /// Masks or unmasks MSI vector `vector` (if the function has per-vector masking).
    pub fn msi_set_masked(&self, cap: &MsiCap, vector: u8, masked: bool) -> Result<(), PciError> {
        let off = cap.mask_offset().ok_or(PciError::NoCapability)?;
        let off = u16::from(cap.offset) + off;
        let bits = self.read32(off);
        let bit = 1u32 << (vector & 31);
        self.write32(off, if masked { bits | bit } else { bits & !bit });
        Ok(())
    }

    /// The MSI-X capability, if the function has one.
    pub fn msix(&self) -> Option<MsixCap> {
        let offset = self.find_capability(cap_id::MSIX)?;
        let base = u16::from(offset);
        let control = self.read16(base + 2);
        let table = self.read32(base + 4);
        let pba = self.read32(base + 8);
        Some(MsixCap {
            offset,
            table_size: (control & 0x7ff) + 1,
            table_bar: (table & 7) as u8,
            table_offset: table & !7,
            pba_bar: (pba & 7) as u8,
            pba_offset: pba & !7,
        })
    }

    /// Sets MSI-X enable and function mask. While the function mask is set no vector
    /// fires (messages are held pending). Enabling also sets INTX_DISABLE.
    pub fn msix_control(&self, cap: &MsixCap, enable: bool, function_mask: bool) {
        let off = u16::from(cap.offset) + 2;
        let mut control = self.read16(off) & !(MSIX_ENABLE | MSIX_FUNCTION_MASK);
        if enable {
            control |= MSIX_ENABLE;
            self.enable(Command::INTX_DISABLE);
        }
        if function_mask {
            control |= MSIX_FUNCTION_MASK;
        }
        self.write16(off, control);
    }

    /// Whether MSI-X is enabled.
    pub fn msix_enabled(&self, cap: &MsixCap) -> bool {
        self.read16(u16::from(cap.offset) + 2) & MSIX_ENABLE != 0
    }

    /// Maps the MSI-X table (its BAR must be an assigned memory BAR; memory decoding is
    /// switched on).
    pub fn msix_table(&self, cap: &MsixCap, mapper: &(impl MmioMapper + ?Sized)) -> Result<MsixTable, PciError> {
        let base = self.bar_address(cap.table_bar).ok_or(PciError::BadBar(cap.table_bar))?;
        self.enable(Command::MEMORY_SPACE);
        let len = usize::from(cap.table_size) * MSIX_ENTRY_SIZE;
        let mmio = MmioRegion::map(mapper, base + u64::from(cap.table_offset), len).ok_or(PciError::MapFailed)?;
        Ok(MsixTable { mmio, size: cap.table_size })
    }
}

// ---------------------------------------------------------------------------------------
// Capabilities

/// Iterator over a function's capability list, yielding (id, offset). It stops at the end
/// of the list, at a pointer into the header (< 0x40) and after 48 entries (a loop).
pub struct Capabilities<'a, C: ConfigAccess + ?Sized> {
    cfg: &'a C,
    bdf: Bdf,
    next: u8,
    budget: u8,
}

impl<'a, C: ConfigAccess + ?Sized> Capabilities<'a, C> {
    /// The capability list of `bdf` (empty if its status register says it has none).
    pub fn new(cfg: &'a C, bdf: Bdf) -> Self {
        let status = cfg.read16(bdf, reg::STATUS);
        let next = if status != 0xffff && status & STATUS_CAP_LIST != 0 {
            let ptr_reg = if cfg.read8(bdf, reg::HEADER_TYPE) & 0x7f == HEADER_CARDBUS { 0x14 } else { reg::CAPABILITIES };
            cfg.read8(bdf, ptr_reg) & 0xfc
        } else {
            0
        };
        Self { cfg, bdf, next, budget: 48 }
    }
}

impl<C: ConfigAccess + ?Sized> Iterator for Capabilities<'_, C> {
    type Item = (u8, u8);

    fn next(&mut self) -> Option<(u8, u8)> {
        if self.next < 0x40 || self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        let off = self.next;
        let header = self.cfg.read16(self.bdf, u16::from(off));
        let id = header as u8;
        if id == 0xff {
            self.next = 0;
            return None;
        }
        self.next = (header >> 8) as u8 & 0xfc;
        Some((id, off))
    }
}

// ---------------------------------------------------------------------------------------
// MSI and MSI-X

/// An MSI message: the address and data a device writes to raise the interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsiMessage {
    pub address: u64,
    pub data: u32,
}

/// The MSI capability (6.8.1): its offset and message control register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsiCap {
    pub offset: u8,
    pub control: u16,
}

impl MsiCap {
    /// The function can generate 64-bit message addresses.
    pub fn is_64bit(&self) -> bool {
        self.control & (1 << 7) != 0
    }

    /// The function has per-vector mask bits.
    pub fn per_vector_masking(&self) -> bool {
        self.control & (1 << 8) != 0
    }

    /// Vectors the function can request (1, 2, 4 .. 32).
    pub fn vectors_capable(&self) -> u8 {
        1 << ((self.control >> 1) & 7).min(5)
    }

    /// Offset of the message data register within the capability.
    pub fn data_offset(&self) -> u16 {
        if self.is_64bit() { 0x0c } else { 0x08 }
    }

    /// Offset of the mask bits register within the capability, if there is one.
    pub fn mask_offset(&self) -> Option<u16> {
        self.per_vector_masking().then(|| if self.is_64bit() { 0x10 } else { 0x0c })
    }
}

const MSIX_ENABLE: u16 = 1 << 15;
const MSIX_FUNCTION_MASK: u16 = 1 << 14;
/// Bytes per MSI-X table entry: address low, address high, data, vector control.
pub const MSIX_ENTRY_SIZE: usize = 16;
const MSIX_VECTOR_MASKED: u32 = 1;

/// The MSI-X capability (PCIe 7.7.2): table and pending-bit array locations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixCap {
    pub offset: u8,
    /// Number of table entries (1..=2048).
    pub table_size: u16,
    /// BAR index (BIR) and offset of the table.
    pub table_bar: u8,
    pub table_offset: u32,
    /// BAR index and offset of the pending-bit array.
    pub pba_bar: u8,
    pub pba_offset: u32,
}

/// A mapped MSI-X table.
#[derive(Debug)]
pub struct MsixTable {
    mmio: MmioRegion,
    size: u16,
}

impl MsixTable {
    /// A table in an already mapped window (`size` entries).
    pub fn new(mmio: MmioRegion, size: u16) -> Option<Self> {
        (mmio.len() >= usize::from(size) * MSIX_ENTRY_SIZE).then_some(Self { mmio, size })
    }

    /// Number of entries.
    pub fn len(&self) -> u16 {
        self.size
    }

    /// True for a table without entries (impossible for a real device).
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    fn entry(&self, entry: u16) -> Result<usize, PciError> {
        if entry < self.size {
            Ok(usize::from(entry) * MSIX_ENTRY_SIZE)
        } else {
            Err(PciError::NoSuchVector(entry))
        }
    }

    /// Masks entry `entry`, writes `msg` into it and unmasks it.
    pub fn program(&self, entry: u16, msg: MsiMessage) -> Result<(), PciError> {
        let e = self.entry(entry)?;
        self.set_masked(entry, true)?;
        self.mmio.write32(e, msg.address as u32);
        self.mmio.write32(e + 4, (msg.address >> 32) as u32);
        self.mmio.write32(e + 8, msg.data);
        self.set_masked(entry, false)
    }

    /// Masks or unmasks entry `entry` (reserved bits of vector control are preserved).
    pub fn set_masked(&self, entry: u16, masked: bool) -> Result<(), PciError> {
        let e = self.entry(entry)? + 12;
        let ctl = self.mmio.read32(e);
        self.mmio.write32(e, if masked { ctl | MSIX_VECTOR_MASKED } else { ctl & !MSIX_VECTOR_MASKED });
        Ok(())
    }

    /// Whether entry `entry` is masked.
    pub fn is_masked(&self, entry: u16) -> Result<bool, PciError> {
        let e = self.entry(entry)? + 12;
        Ok(self.mmio.read32(e) & MSIX_VECTOR_MASKED != 0)
    }

    /// The message in entry `entry`.
    pub fn message(&self, entry: u16) -> Result<MsiMessage, PciError> {
        let e = self.entry(entry)?;
        Ok(MsiMessage { address: self.mmio.read64_split(e), data: self.mmio.read32(e + 8) })
    }
}

// ---------------------------------------------------------------------------------------
// A fake configuration space for host tests (also used by the virtio tests)

#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A function's configuration space plus which BAR bits are writable.
    #[derive(Clone)]
    pub struct FakeFunction {
        pub space: [u8; 256],
        /// Writable mask per BAR slot (0 = unimplemented); hardwired type bits come from `space`.
        pub bar_masks: [u32; 6],
    }

    impl FakeFunction {
        pub fn new(vendor: u16, device: u16, class: u8, subclass: u8) -> Self {
            let mut f = Self { space: [0; 256], bar_masks: [0; 6] };
            f.set16(0, vendor);
            f.set16(2, device);
            f.space[0x0b] = class;
            f.space[0x0a] = subclass;
            f
        }
        pub fn set8(&mut self, off: usize, v: u8) {
            self.space[off] = v;
        }
        pub fn set16(&mut self, off: usize, v: u16) {
            self.space[off..off + 2].copy_from_slice(&v.to_le_bytes());
        }
        pub fn set32(&mut self, off: usize, v: u32) {
            self.space[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        pub fn get32(&self, off: usize) -> u32 {
            u32::from_le_bytes(self.space[off..off + 4].try_into().unwrap())
        }
        /// Adds a capability `id` with `body` (bytes after the 2-byte header) at `off`,
        /// linked at the end of the list.
        pub fn add_cap(&mut self, off: u8, id: u8, body: &[u8]) {
            self.space[0x06] |= STATUS_CAP_LIST as u8;
            let mut ptr = 0x34usize;
            while self.space[ptr] != 0 {
                ptr = usize::from(self.space[ptr]) + 1;
            }
            self.space[ptr] = off;
            let o = usize::from(off);
            self.space[o] = id;
            self.space[o + 1] = 0;
            self.space[o + 2..o + 2 + body.len()].copy_from_slice(body);
        }
    }

    /// A bus of fake functions.
    #[derive(Default)]
    pub struct FakeConfig {
        pub functions: RefCell<BTreeMap<Bdf, FakeFunction>>,
    }

    impl FakeConfig {
        pub fn insert(&self, bdf: Bdf, f: FakeFunction) {
            self.functions.borrow_mut().insert(bdf, f);
        }
        pub fn with<R>(&self, bdf: Bdf, f: impl FnOnce(&mut FakeFunction) -> R) -> R {
            f(self.functions.borrow_mut().get_mut(&bdf).expect("no such fake function"))
        }
    }

    impl ConfigAccess for FakeConfig {
        fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
            assert_eq!(offset % 4, 0);
            self.functions.borrow().get(&bdf).map_or(u32::MAX, |f| f.get32(usize::from(offset)))
        }
        fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
            assert_eq!(offset % 4, 0);
            let mut map = self.functions.borrow_mut();
            let Some(f) = map.get_mut(&bdf) else { return };
            let off = usize::from(offset);
            if (0x10..0x28).contains(&off) {
                let slot = (off - 0x10) / 4;
                let old = f.get32(off);
                let mask = f.bar_masks[slot];
                f.set32(off, (old & !mask) | (value & mask));
            } else {
                f.set32(off, value);
            }
        }
        fn write16(&self, bdf: Bdf, offset: u16, value: u16) {
            assert_eq!(offset % 2, 0);
            let old = self.read32(bdf, offset & !3);
            let shift = (offset & 2) * 8;
            let new = (old & !(0xffff << shift)) | u32::from(value) << shift;
            if let Some(f) = self.functions.borrow_mut().get_mut(&bdf) {
                f.set32(usize::from(offset & !3), new);
            }
        }
        fn write8(&self, bdf: Bdf, offset: u16, value: u8) {
            if let Some(f) = self.functions.borrow_mut().get_mut(&bdf) {
                f.space[usize::from(offset)] = value;
            }
        }
    }

    /// Memory handed out as "device memory" to the code under test (leaked, 4 KiB aligned;
    /// its "physical" address is its address).
    pub struct FakeMapper;

    #[repr(C, align(4096))]
    #[derive(Clone, Copy)]
    pub struct Page(pub [u8; 4096]);

    pub fn leak_pages(bytes: usize) -> *mut u8 {
        let pages = bytes.div_ceil(4096).max(1);
        let v: &'static mut [Page] = Vec::leak(vec![Page([0; 4096]); pages]);
        v.as_mut_ptr() as *mut u8
    }

    impl MmioMapper for FakeMapper {
        fn map_mmio(&self, phys: u64, _len: usize) -> *mut u8 {
            // Tests pass addresses of leaked pages as "physical" addresses.
            phys as usize as *mut u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;

    #[test]
    fn port_io_address_layout() {
        assert_eq!(port_io_address(Bdf::new(0, 2, 0), 0x10), 0x8000_1010);
        assert_eq!(port_io_address(Bdf::new(1, 31, 7), 0xff), 0x8001_fffc);
        assert_eq!(ecam_offset(0, Bdf::new(2, 3, 4), 0x104), 0x20_0000 | 0x1_8000 | 0x4000 | 0x104);
        assert_eq!(ecam_offset(1, Bdf::new(1, 0, 0), 0), 0);
        assert_eq!(Bdf::new(0, 0x1f, 7).to_string(), "00:1f.7");
    }

    #[test]
    fn decode_io_bar() {
        // 32 ports at 0xc040; a 16-bit decoder reads back 0 in the upper half.
        assert_eq!(Bar::decode(0xc041, 0, 0x0000_ffe1, 0), Some(Bar::Io { port: 0xc040, size: 32 }));
        assert_eq!(Bar::decode(0xc041, 0, 0xffff_ffe1, 0), Some(Bar::Io { port: 0xc040, size: 32 }));
        assert_eq!(Bar::decode(0x1, 0, 0x1, 0), None);
    }

    #[test]
    fn decode_memory_bars() {
        // 32-bit, non-prefetchable, 4 KiB at 0xfebf_1000.
        assert_eq!(
            Bar::decode(0xfebf_1000, 0, 0xffff_f000, 0),
            Some(Bar::Memory { address: 0xfebf_1000, size: 0x1000, prefetchable: false, is_64bit: false })
        );
        // 64-bit prefetchable, 16 KiB at 0x8_0000_4000.
        assert_eq!(
            Bar::decode(0x0000_400c, 0x8, 0xffff_c00c, 0xffff_ffff),
            Some(Bar::Memory { address: 0x8_0000_4000, size: 0x4000, prefetchable: true, is_64bit: true })
        );
        // 64-bit BAR of 8 GiB: the size lives in the upper half.
        assert_eq!(
            Bar::decode(0x4, 0x0, 0x4, 0xffff_fffe).map(|b| b.size()),
            Some(8 << 30)
        );
        // 32-bit BAR of 2 GiB.
        assert_eq!(Bar::decode(0x8000_0000, 0, 0x8000_0000, 0).map(|b| b.size()), Some(0x8000_0000));
        // Unimplemented.
        assert_eq!(Bar::decode(0, 0, 0, 0), None);
    }

    fn fake_virtio_like() -> (FakeConfig, Bdf) {
        let cfg = FakeConfig::default();
        let bdf = Bdf::new(0, 2, 0);
        let mut f = FakeFunction::new(0x1af4, 0x1000, 0x02, 0x00);
        f.set32(0x10, 0x1); // BAR0: I/O, 32 ports
        f.bar_masks[0] = 0xffff_ffe0;
        f.set32(0x14, 0x0); // BAR1: 32-bit memory, 4 KiB
        f.bar_masks[1] = 0xffff_f000;
        f.set32(0x20, 0xc); // BAR4/5: 64-bit prefetchable, 16 KiB
        f.bar_masks[4] = 0xffff_c000;
        f.bar_masks[5] = 0xffff_ffff;
        f.set16(0x04, (Command::IO_SPACE | Command::MEMORY_SPACE).bits());
        f.set16(0x06, 0x8000); // an error bit (write-1-to-clear on hardware)
        cfg.insert(bdf, f);
        (cfg, bdf)
    }

    #[test]
    fn bar_probing_restores_registers() {
        let (cfg, bdf) = fake_virtio_like();
        cfg.with(bdf, |f| f.set32(0x14, 0xfebd_1000));
        let func = Function::new(&cfg, bdf);
        let bars = func.bars();
        assert_eq!(bars[0], Some(Bar::Io { port: 0, size: 32 }));
        assert_eq!(bars[1], Some(Bar::Memory { address: 0xfebd_1000, size: 4096, prefetchable: false, is_64bit: false }));
        assert_eq!(bars[2], None);
        assert_eq!(bars[4], Some(Bar::Memory { address: 0, size: 0x4000, prefetchable: true, is_64bit: true }));
        assert_eq!(bars[5], None);
        assert_eq!(func.read32(0x14), 0xfebd_1000);
        assert_eq!(func.command(), Command::IO_SPACE | Command::MEMORY_SPACE);
        assert_eq!(func.status(), 0x8000);
        assert_eq!(func.bar_address(1), Some(0xfebd_1000));
        assert_eq!(func.bar_address(4), None);
        assert_eq!(func.bar_address(0), None);
    }

    #[test]
    fn assigning_bars() {
        let (cfg, bdf) = fake_virtio_like();
        let func = Function::new(&cfg, bdf);
        let mut window = BarWindow { next: 0xc000_0800, end: 0xfec0_0000 };
        assert_eq!(func.assign_memory_bars(&mut window), Ok(2));
        assert_eq!(func.bar_address(1), Some(0xc000_1000));
        assert_eq!(func.bar_address(4), Some(0xc000_4000));
        assert_eq!(window.next, 0xc000_8000);
        // Nothing left to do the second time.
        assert_eq!(func.assign_memory_bars(&mut window), Ok(0));
        let mut tiny = BarWindow { next: 0x1000, end: 0x2000 };
        assert_eq!(tiny.alloc(0x2000), None);
        assert_eq!(tiny.alloc(0x1000), Some(0x1000));
        let mut w = BarWindow { next: 0x1000, end: 0x10000 };
        w.avoid(0x800, 0x1000);
        assert_eq!(w.next, 0x1800);
        w.avoid(0x20000, 0x1000);
        assert_eq!(w.next, 0x1800);
    }

    #[test]
    fn command_bits_use_16_bit_writes() {
        let (cfg, bdf) = fake_virtio_like();
        let func = Function::new(&cfg, bdf);
        func.enable(Command::BUS_MASTER);
        assert_eq!(func.command(), Command::IO_SPACE | Command::MEMORY_SPACE | Command::BUS_MASTER);
        func.disable(Command::IO_SPACE);
        assert_eq!(func.command(), Command::MEMORY_SPACE | Command::BUS_MASTER);
        assert_eq!(func.status(), 0x8000);
    }

    #[test]
    fn capability_walk() {
        let (cfg, bdf) = fake_virtio_like();
        cfg.with(bdf, |f| {
            f.add_cap(0x98, cap_id::MSIX, &[0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00]);
            f.add_cap(0x84, cap_id::VENDOR, &[14, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            f.add_cap(0x70, cap_id::VENDOR, &[14, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            f.add_cap(0x50, cap_id::MSI, &[0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        });
        let func = Function::new(&cfg, bdf);
        let caps: Vec<_> = func.capabilities().collect();
        assert_eq!(caps, vec![(cap_id::MSIX, 0x98), (cap_id::VENDOR, 0x84), (cap_id::VENDOR, 0x70), (cap_id::MSI, 0x50)]);
        assert_eq!(func.find_capability(cap_id::MSI), Some(0x50));
        assert_eq!(func.find_capability(cap_id::PCIE), None);
        let msix = func.msix().unwrap();
        assert_eq!(msix, MsixCap { offset: 0x98, table_size: 4, table_bar: 1, table_offset: 0, pba_bar: 1, pba_offset: 0x800 });
        let msi = func.msi().unwrap();
        assert!(msi.is_64bit() && !msi.per_vector_masking());
        assert_eq!(msi.data_offset(), 0x0c);
        assert_eq!(msi.mask_offset(), None);
    }

    #[test]
    fn capability_walk_survives_loops_and_bad_pointers() {
        let (cfg, bdf) = fake_virtio_like();
        cfg.with(bdf, |f| {
            f.add_cap(0x40, cap_id::VENDOR, &[]);
            f.set8(0x41, 0x40); // points at itself
        });
        assert_eq!(Function::new(&cfg, bdf).capabilities().count(), 48);
        cfg.with(bdf, |f| f.set8(0x41, 0x10)); // into the header: ends the list
        assert_eq!(Function::new(&cfg, bdf).capabilities().count(), 1);
        cfg.with(bdf, |f| f.set16(0x06, 0)); // no capability list at all
        assert_eq!(Function::new(&cfg, bdf).capabilities().count(), 0);
        // Absent function.
        assert_eq!(Function::new(&cfg, Bdf::new(0, 9, 0)).capabilities().count(), 0);
    }

    #[test]
    fn msi_programming() {
        let (cfg, bdf) = fake_virtio_like();
        cfg.with(bdf, |f| f.add_cap(0x50, cap_id::MSI, &[0x80 | 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        let func = Function::new(&cfg, bdf);
        let msi = func.msi().unwrap();
        assert!(msi.per_vector_masking());
        assert_eq!(msi.vectors_capable(), 2);
        func.msi_set_message(&msi, MsiMessage { address: 0xfee0_1000, data: 0x31 });
        func.msi_enable(&msi, true);
        func.msi_set_masked(&msi, 0, true).unwrap();
        assert_eq!(func.read32(0x54), 0xfee0_1000);
        assert_eq!(func.read32(0x58), 0);
        assert_eq!(func.read16(0x5c), 0x31);
        assert_eq!(func.read16(0x52) & 0x71, 0x01);
        assert_eq!(func.read32(0x60), 1);
        assert!(func.command().contains(Command::INTX_DISABLE));
        func.msi_enable(&msi, false);
        assert_eq!(func.read16(0x52) & 1, 0);
    }

    #[test]
    fn msix_table_programming() {
        let (cfg, bdf) = fake_virtio_like();
        let table_mem = leak_pages(4096);
        cfg.with(bdf, |f| {
            f.add_cap(0x98, cap_id::MSIX, &[0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00]);
        });
        // The leaked page may lie above 4 GiB: put the table behind the 64-bit BAR instead.
        let addr = table_mem as usize as u64;
        cfg.with(bdf, |f| {
            f.set32(0x20, (addr as u32) | 0xc);
            f.set32(0x24, (addr >> 32) as u32);
            f.set8(0x98 + 4, 0x04); // table BIR 4, offset 0
        });
        let func = Function::new(&cfg, bdf);
        let cap = func.msix().unwrap();
        assert_eq!(cap.table_size, 3);
        assert_eq!(cap.table_bar, 4);
        let table = func.msix_table(&cap, &FakeMapper).unwrap();
        func.msix_control(&cap, true, true);
        assert!(func.msix_enabled(&cap));
        assert_eq!(func.read16(0x9a) & 0xc000, 0xc000);
        table.program(1, MsiMessage { address: 0xfee0_0000, data: 0x40 }).unwrap();
        assert_eq!(table.message(1).unwrap(), MsiMessage { address: 0xfee0_0000, data: 0x40 });
        assert!(!table.is_masked(1).unwrap());
        table.set_masked(2, true).unwrap();
        assert!(table.is_masked(2).unwrap());
        assert_eq!(table.program(3, MsiMessage { address: 0, data: 0 }), Err(PciError::NoSuchVector(3)));
        func.msix_control(&cap, true, false);
        assert_eq!(func.read16(0x9a) & 0xc000, 0x8000);
    }

    #[test]
    fn enumeration_follows_bridges() {
        let cfg = FakeConfig::default();
        cfg.insert(Bdf::new(0, 0, 0), FakeFunction::new(0x8086, 0x29c0, 0x06, 0x00));
        let mut multi = FakeFunction::new(0x8086, 0x2918, 0x06, 0x01);
        multi.set8(0x0e, 0x80);
        cfg.insert(Bdf::new(0, 31, 0), multi);
        cfg.insert(Bdf::new(0, 31, 3), FakeFunction::new(0x8086, 0x2930, 0x0c, 0x05));
        // Function 1 only, without function 0: not scanned (function 0 must exist).
        cfg.insert(Bdf::new(0, 5, 1), FakeFunction::new(0x1234, 0x5678, 0x02, 0x00));
        let mut bridge = FakeFunction::new(0x1b36, 0x0001, 0x06, 0x04);
        bridge.set8(0x0e, HEADER_BRIDGE);
        bridge.set8(0x19, 1);
        cfg.insert(Bdf::new(0, 3, 0), bridge);
        // A bridge behind it whose secondary bus claims bus 1 again (a loop): ignored.
        let mut bad = FakeFunction::new(0x1b36, 0x0001, 0x06, 0x04);
        bad.set8(0x0e, HEADER_BRIDGE);
        bad.set8(0x19, 1);
        cfg.insert(Bdf::new(1, 0, 0), bad);
        cfg.insert(Bdf::new(1, 4, 0), FakeFunction::new(0x1af4, 0x1041, 0x02, 0x00));
        let mut seen = Vec::new();
        enumerate(&cfg, |info| seen.push((info.bdf.to_string(), info.vendor_id, info.secondary_bus)));
        assert_eq!(
            seen,
            vec![
                ("00:00.0".to_string(), 0x8086, None),
                ("00:03.0".to_string(), 0x1b36, Some(1)),
                ("00:1f.0".to_string(), 0x8086, None),
                ("00:1f.3".to_string(), 0x8086, None),
                ("01:00.0".to_string(), 0x1b36, Some(1)),
                ("01:04.0".to_string(), 0x1af4, None),
            ]
        );
        let net = find(&cfg, |i| i.class.class == 0x02 && i.device_id == 0x1041).unwrap();
        assert_eq!(net.bdf, Bdf::new(1, 4, 0));
        assert!(find(&cfg, |i| i.vendor_id == 0x1234).is_none());
    }

    #[test]
    fn ecam_window_access() {
        // Buses 2..=2 of a window whose bus 0 would be 2 MiB lower.
        let mem = leak_pages(1 << 20) as usize as u64;
        let ecam = Ecam::map(&FakeMapper, mem - (2 << 20), 2, 2).unwrap();
        let bdf = Bdf::new(2, 1, 3);
        ecam.write32(bdf, 0x100, 0xdead_beef);
        assert_eq!(ecam.read32(bdf, 0x100), 0xdead_beef);
        assert_eq!(ecam.read16(bdf, 0x102), 0xdead);
        ecam.write8(bdf, 0x101, 0x11);
        assert_eq!(ecam.read8(bdf, 0x101), 0x11);
        let raw = MmioRegion::map(&FakeMapper, mem, 1 << 20).unwrap();
        assert_eq!(raw.read32(ecam_offset(2, bdf, 0x100)), 0xdead_11ef);
        // Outside the window: all ones, writes dropped.
        assert_eq!(ecam.read32(Bdf::new(3, 0, 0), 0), u32::MAX);
        assert_eq!(ecam.read16(bdf, 4096), u16::MAX);
        assert_eq!(ecam.space_size(), 4096);
        assert!(Ecam::map(&FakeMapper, mem, 3, 2).is_none());
    }

    #[test]
    fn mmio_region_bounds() {
        let mem = leak_pages(4096);
        let r = MmioRegion::map(&FakeMapper, mem as usize as u64, 64).unwrap();
        r.write32(0, 0x1234_5678);
        assert_eq!(r.read16(0), 0x5678);
        assert_eq!(r.read8(3), 0x12);
        r.write64_split(8, 0x1122_3344_5566_7788);
        assert_eq!(r.read64_split(8), 0x1122_3344_5566_7788);
        let s = r.sub(8, 8).unwrap();
        assert_eq!(s.read32(4), 0x1122_3344);
        assert!(r.sub(60, 8).is_none());
        assert!(std::panic::catch_unwind(|| r.read32(64)).is_err());
        assert!(std::panic::catch_unwind(|| r.read32(2)).is_err());
    }
}
