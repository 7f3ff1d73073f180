//! Axle's kernel core: boot, CPUs, memory, interrupts, time, threads, scheduler classes
//! and synchronisation. All of Axle's `unsafe` code (outside board port I/O) lives here;
//! each block carries a `// SAFETY:` comment.
//!
//! Modules that do not touch hardware (boot-information and command-line parsing, the
//! buddy allocator, the VMA range map, scheduling-class queues, clock arithmetic,
//! spinlocks) are built and unit-tested on the host (`cargo test -p rtos`); the rest only
//! builds for the kernel target (`target_os = "none"`).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod arch;
pub mod boot;
pub mod mm;
pub mod sched;
pub mod sync;
pub mod time;

#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
mod entry_point;
#[cfg(target_os = "none")]
pub mod irq;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod percpu;
#[cfg(target_os = "none")]
pub mod user;

#[cfg(all(target_os = "none", not(test)))]
#[global_allocator]
static HEAP: mm::heap::KernelHeap = mm::heap::KernelHeap::new();

/// Turns interrupts back on inside a trap handler if the interrupted code had them on.
#[cfg(target_os = "none")]
pub(crate) fn irq_flags_enable_if(frame: &arch::x86_64::trap::TrapFrame) {
    if frame.rflags & 0x200 != 0 {
        arch::x86_64::irq_flags::enable();
    }
}
