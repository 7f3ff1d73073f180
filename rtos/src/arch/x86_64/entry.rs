//! Boot sequence of the boot CPU (from the PVH entry) and of the other CPUs.
//!
//! Order matters: console and log first (so everything after can report), then memory
//! (frames, heap, kernel page tables), CPU tables, interrupts and the clock, then the
//! other CPUs, and finally the kernel's main thread (`kernel_main`) runs while this CPU
//! becomes idle.

use alloc::sync::Arc;

use super::{apic, cpu, idt, ioapic, smp, syscall, trap};
use crate::boot::cmdline::Cmdline;
use crate::boot::info::{parse_pvh, BootInfo};
use crate::mm::layout::{phys_to_virt, KERNEL_OFFSET};
use crate::sched::thread::Thread;
use crate::sync::SpinLock;
use crate::{console, irq, mm, percpu, sched, time};

static BOOT: spin::Once<BootInfo> = spin::Once::new();
static MAIN: spin::Once<fn(&'static BootInfo)> = spin::Once::new();
static AP_IDLE: SpinLock<Option<Arc<Thread>>> = SpinLock::new(None);

/// The boot information (after boot).
pub fn boot_info() -> &'static BootInfo {
    BOOT.get().expect("boot info not ready")
}

/// Registers the kernel's main function; called by the entry-point macro's glue.
pub fn set_main(f: fn(&'static BootInfo)) {
    MAIN.call_once(|| f);
}

fn read_phys(pa: u64, buf: &mut [u8]) {
    // SAFETY: during early boot the boot page tables map the first 4 GiB at the direct map
    // base (and later the kernel tables map all RAM there); boot structures live in RAM.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(pa) as *const u8, buf.as_mut_ptr(), buf.len()) };
}

struct PhysReader;
impl board::acpi::PhysRead for PhysReader {
    fn read(&self, pa: u64, buf: &mut [u8]) {
        read_phys(pa, buf);
    }
}

extern "C" {
    static __kernel_end: u8;
    fn axle_kernel_main_hook();
}

/// Called by the PVH entry with the physical address of `hvm_start_info`.
pub extern "C" fn rust_entry(start_info: u64) -> ! {
    console::init();
    // The kernel crate's glue registers `kernel_main` (see `entry_point!`).
    // SAFETY: the entry-point macro defines this symbol in the kernel binary.
    unsafe { axle_kernel_main_hook() };
    let info = match parse_pvh(&read_phys, start_info) {
        Ok(i) => i,
        Err(e) => {
            console::emergency_write("axle: bad PVH boot information\n");
            let _ = e;
            crate::panic::die();
        }
    };
    let info = BOOT.call_once(|| info);
    let cmd = Cmdline::new(info.cmdline.as_str());
    console::init_log(cmd.log_level());
    log::info!("Axle {} booting: {}", env!("CARGO_PKG_VERSION"), info.cmdline.as_str());
    let f = cpu::detect();
    log::debug!("cpu features: {f:?}");
    cpu::init_control_registers();

    // Memory.
    let kernel_end = core::ptr::addr_of!(__kernel_end) as u64 - KERNEL_OFFSET;
    let mut reserved: heapless::Vec<(u64, u64), 16> = heapless::Vec::new();
    let _ = reserved.push((0x20_0000, kernel_end));
    for m in &info.modules {
        let _ = reserved.push((m.start, m.start + m.size));
    }
    for r in &info.info_ranges {
        let _ = reserved.push(*r);
    }
    // SAFETY: first and only call, boot CPU, boot direct map active.
    unsafe { mm::frame::init(info, &reserved) };
    // SAFETY: once, after the frame allocator.
    unsafe { mm::kmap::init(info) };
    log::info!("memory: {} MiB usable", mm::frame::total_pages() * 4096 >> 20);

    // Platform.
    let rsdp = info.rsdp.or_else(|| board::acpi::find_rsdp(&PhysReader));
    let platform = match rsdp.map(|r| board::acpi::parse(&PhysReader, r)) {
        Some(Ok(p)) => p,
        other => {
            log::warn!("acpi: no usable tables ({other:?}); assuming one CPU and default APIC addresses");
            board::acpi::PlatformInfo::default()
        }
    };
    log::debug!("acpi: rsdp {rsdp:x?}, {} cpu(s), ioapic {:x?}", platform.cpu_count, platform.ioapics[0]);
    apic::init_global(platform.lapic_address);
    apic::init_cpu();
    let bsp_apic = apic::id();
    let idle = Thread::new_idle(0);
    percpu::init_cpu(0, bsp_apic, idle);
    idt::load();
    syscall::init_cpu();
    board::pit::disable_8259();
    if let Some(io) = platform.ioapics.iter().flatten().next() {
        ioapic::init(io.address, io.gsi_base);
    }
    trap::set_handler(apic::TIMER_VECTOR, time::timer::interrupt);
    trap::set_handler(apic::RESCHED_VECTOR, sched::core::resched_ipi);
    trap::set_handler(apic::TLB_VECTOR, super::tlb::ipi);
    trap::set_handler(apic::STOP_VECTOR, crate::panic::stop_ipi);
    let tsc_hz = time::clock::calibrate();
    apic::calibrate_timer(tsc_hz);
    irq::set_platform(platform.clone());

    // Other CPUs.
    let max_cpus = if cmd.has("nosmp") { 1 } else { cmd.get("maxcpus").and_then(|v| v.parse().ok()).unwrap_or(usize::MAX) };
    let mut index = 1u32;
    for c in platform.cpus.iter().flatten().filter(|c| c.apic_id != bsp_apic) {
        if index as usize >= max_cpus {
            break;
        }
        let idle = Thread::new_idle(index);
        let stack = idle.user_frame_addr() & !0xf;
        *AP_IDLE.lock() = Some(idle);
        if smp::start_ap(index, c.apic_id, stack, ap_main) {
            index += 1;
        } else {
            log::warn!("cpu with APIC id {} did not start", c.apic_id);
        }
    }
    log::info!("{} CPU(s) online", percpu::online());

    let main = *MAIN.get().expect("no kernel main");
    let t = Thread::new_kernel("kmain", move || main(info)).expect("no memory for the main thread");
    sched::core::start(&t);
    drop(t);
    sched::core::idle_loop()
}

fn ap_main(index: u32, apic_id: u32) -> ! {
    let idle = AP_IDLE.lock().take().expect("AP started without an idle thread");
    percpu::init_cpu(index, apic_id, idle);
    idt::load();
    syscall::init_cpu();
    time::timer::program(percpu::this());
    smp::ap_online();
    sched::core::idle_loop()
}
