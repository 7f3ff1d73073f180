//! x86_64: boot entry, CPU setup, descriptor tables, traps, APICs, paging, context switch,
//! system-call entry, user-memory access and TLB shootdown.
pub mod irq_flags;

#[cfg(target_os = "none")]
pub mod apic;
#[cfg(target_os = "none")]
mod boot_pvh;
#[cfg(target_os = "none")]
pub mod context;
pub mod cpu;
#[cfg(target_os = "none")]
pub mod entry;
#[cfg(target_os = "none")]
pub mod gdt;
#[cfg(target_os = "none")]
pub mod idt;
#[cfg(target_os = "none")]
pub mod ioapic;
#[cfg(target_os = "none")]
pub mod paging;
#[cfg(target_os = "none")]
pub mod smp;
#[cfg(target_os = "none")]
pub mod syscall;
#[cfg(target_os = "none")]
pub mod tlb;
#[cfg(target_os = "none")]
pub mod trap;
#[cfg(target_os = "none")]
pub(crate) mod trap_entry;
#[cfg(target_os = "none")]
pub mod usercopy;
#[cfg(target_os = "none")]
pub mod vdso_code;
