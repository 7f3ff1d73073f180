//! Device interrupt routing: ISA IRQs (with the ACPI overrides) through the I/O APIC to
//! vectors 32-47 on a chosen CPU (a housekeeping CPU, so real-time CPUs stay quiet).

use crate::arch::x86_64::{ioapic, trap};

/// Vector of COM1's interrupt.
pub const COM1_VECTOR: u8 = 32 + 4;

static PLATFORM: spin::Once<board::acpi::PlatformInfo> = spin::Once::new();

/// Records the platform description (boot CPU).
pub fn set_platform(p: board::acpi::PlatformInfo) {
    PLATFORM.call_once(|| p);
}

/// The platform description from ACPI.
pub fn platform() -> Option<&'static board::acpi::PlatformInfo> {
    PLATFORM.get()
}

/// What a device vector is, for `/proc/interrupts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorKind {
    /// An ISA interrupt through the I/O APIC (the number is the ISA IRQ).
    IoApic(u8),
    /// A message-signalled interrupt (MSI/MSI-X).
    Msi,
}

static NAMES: spin::Mutex<[Option<(VectorKind, &'static str)>; 256]> = spin::Mutex::new([None; 256]);

/// The device vectors in use: (vector, kind, device name), by vector.
pub fn device_vectors() -> impl Iterator<Item = (u8, VectorKind, &'static str)> {
    let names = *NAMES.lock();
    (0..=255u8).filter_map(move |v| names[v as usize].map(|(k, n)| (v, k, n)))
}

/// Routes ISA `irq` to `vector` on the CPU with `apic_id`, handled by `handler`; `name`
/// is the device's, for `/proc/interrupts`.
pub fn route_isa(irq: u8, vector: u8, apic_id: u32, handler: trap::IrqHandler, name: &'static str) {
    trap::set_handler(vector, handler);
    NAMES.lock()[vector as usize] = Some((VectorKind::IoApic(irq), name));
    let (gsi, flags) = platform().map_or((u32::from(irq), 0), |p| p.isa_irq_gsi(irq));
    ioapic::route(gsi, vector, apic_id, flags);
}

/// First and last vector handed out to device interrupts (MSI/MSI-X).
const DYN_FIRST: u8 = 48;
const DYN_LAST: u8 = 0xe0;
static NEXT_DYN: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(DYN_FIRST);

/// Allocates a free interrupt vector for a device (`name`, for `/proc/interrupts`) and
/// installs `handler` on it.
pub fn alloc_vector(handler: trap::IrqHandler, name: &'static str) -> Option<u8> {
    let v = NEXT_DYN.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    if !(DYN_FIRST..=DYN_LAST).contains(&v) {
        return None;
    }
    trap::set_handler(v, handler);
    NAMES.lock()[v as usize] = Some((VectorKind::Msi, name));
    Some(v)
}

/// The MSI message (address, data) that delivers `vector` to the CPU with `apic_id`
/// (Intel SDM vol. 3A, 11.11: fixed delivery, edge triggered, physical destination).
pub fn msi_message(apic_id: u32, vector: u8) -> (u64, u32) {
    (0xfee0_0000 | (u64::from(apic_id & 0xff) << 12), u32::from(vector))
}
