//! I/O APIC: routes device interrupt lines (GSIs) to vectors on chosen CPUs.
//!
//! Reference: Intel 82093AA I/O APIC datasheet (IOREGSEL/IOWIN, redirection table at
//! registers 0x10 + 2*n).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::sync::SpinLock;

static BASE: AtomicU64 = AtomicU64::new(0);
static GSI_BASE: AtomicU32 = AtomicU32::new(0);
static LOCK: SpinLock<()> = SpinLock::new(());

fn write_reg(reg: u32, val: u32) {
    let b = BASE.load(Ordering::Relaxed);
    // SAFETY: `b` maps the I/O APIC's registers uncached (IOREGSEL at 0, IOWIN at 0x10).
    unsafe {
        core::ptr::write_volatile(b as *mut u32, reg);
        core::ptr::write_volatile((b + 0x10) as *mut u32, val);
    }
}

fn read_reg(reg: u32) -> u32 {
    let b = BASE.load(Ordering::Relaxed);
    // SAFETY: as in `write_reg`.
    unsafe {
        core::ptr::write_volatile(b as *mut u32, reg);
        core::ptr::read_volatile((b + 0x10) as *const u32)
    }
}

/// Maps the I/O APIC and masks every input.
pub fn init(pa: u64, gsi_base: u32) {
    BASE.store(crate::mm::kmap::map_mmio(pa, 0x20), Ordering::Relaxed);
    GSI_BASE.store(gsi_base, Ordering::Relaxed);
    let _g = LOCK.lock();
    let n = ((read_reg(1) >> 16) & 0xff) + 1;
    for i in 0..n {
        write_reg(0x10 + 2 * i, 1 << 16);
        write_reg(0x11 + 2 * i, 0);
    }
}

/// Routes `gsi` to `vector` on the CPU with `apic_id`. `flags` are the MPS INTI flags from
/// the ACPI override (polarity bits 0-1, trigger bits 2-3; 0 = bus default, edge/high for ISA).
pub fn route(gsi: u32, vector: u8, apic_id: u32, flags: u16) {
    let _g = LOCK.lock();
    let idx = gsi - GSI_BASE.load(Ordering::Relaxed);
    let mut low = u32::from(vector);
    if flags & 3 == 3 {
        low |= 1 << 13; // active low
    }
    if (flags >> 2) & 3 == 3 {
        low |= 1 << 15; // level triggered
    }
    write_reg(0x11 + 2 * idx, apic_id << 24);
    write_reg(0x10 + 2 * idx, low);
}
