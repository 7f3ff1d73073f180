//! Board support for Axle.
//!
//! Register-level drivers for the devices of a PC (QEMU's q35 machine and x86 vehicle
//! controllers): the 16550 UART, local APIC and I/O APIC, PIT, CMOS RTC, QEMU's debug
//! exit and debug console ports, and ACPI table parsing. Drivers here own port I/O and
//! MMIO (the only `unsafe` outside `rtos/`); they know nothing of threads or memory
//! management. Pure parsing (ACPI tables) is host-testable.
#![cfg_attr(not(test), no_std)]

pub mod acpi;
pub mod cmos;
pub mod debug_exit;
pub mod pci;
pub mod pit;
pub mod uart16550;
pub mod virtio;
