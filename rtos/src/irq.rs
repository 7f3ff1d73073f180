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

/// Routes ISA `irq` to `vector` on the CPU with `apic_id`, handled by `handler`.
pub fn route_isa(irq: u8, vector: u8, apic_id: u32, handler: trap::IrqHandler) {
    trap::set_handler(vector, handler);
    let (gsi, flags) = platform().map_or((u32::from(irq), 0), |p| p.isa_irq_gsi(irq));
    ioapic::route(gsi, vector, apic_id, flags);
}
