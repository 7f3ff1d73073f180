//! Local APIC: end-of-interrupt, inter-processor interrupts and the one-shot timer.
//!
//! Reference: Intel SDM vol. 3A ch. 11 (xAPIC MMIO registers, x2APIC MSRs at 0x800 +
//! offset/16, TSC-deadline mode 11.5.4.1). x2APIC is used when the CPU has it; the timer
//! uses TSC-deadline mode where available, else one-shot mode with a calibrated count.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::cpu::{self, rdmsr, wrmsr};

/// Vector of the local timer interrupt.
pub const TIMER_VECTOR: u8 = 0xef;
/// Vector asking a CPU to reschedule.
pub const RESCHED_VECTOR: u8 = 0xf0;
/// Vector asking a CPU to flush its TLB.
pub const TLB_VECTOR: u8 = 0xf1;
/// Vector stopping a CPU (kernel panic elsewhere).
pub const STOP_VECTOR: u8 = 0xfe;
/// Spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u8 = 0xff;

const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ESR: u32 = 0x280;
const REG_ICR_LO: u32 = 0x300;
const REG_ICR_HI: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_LINT0: u32 = 0x350;
const REG_LVT_LINT1: u32 = 0x360;
const REG_LVT_ERROR: u32 = 0x370;
const REG_TIMER_INIT: u32 = 0x380;
const REG_TIMER_CUR: u32 = 0x390;
const REG_TIMER_DIV: u32 = 0x3e0;

const MSR_APIC_BASE: u32 = 0x1b;

static X2APIC: AtomicBool = AtomicBool::new(false);
static MMIO_BASE: AtomicU64 = AtomicU64::new(0);
static TSC_DEADLINE: AtomicBool = AtomicBool::new(false);
/// LAPIC timer ticks per second (divide-by-1), for one-shot mode.
static TIMER_HZ: AtomicU64 = AtomicU64::new(0);

fn read(reg: u32) -> u32 {
    if X2APIC.load(Ordering::Relaxed) {
        rdmsr(0x800 + (reg >> 4)) as u32
    } else {
        // SAFETY: MMIO_BASE maps the LAPIC page uncached; `reg` is a register offset.
        unsafe { core::ptr::read_volatile((MMIO_BASE.load(Ordering::Relaxed) + u64::from(reg)) as *const u32) }
    }
}

fn write(reg: u32, val: u32) {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: x2APIC register MSRs; the values written are valid for each register.
        unsafe { wrmsr(0x800 + (reg >> 4), u64::from(val)) }
    } else {
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile((MMIO_BASE.load(Ordering::Relaxed) + u64::from(reg)) as *mut u32, val) }
    }
}

/// Chooses the APIC mode (boot CPU, once) and maps the xAPIC page if needed.
pub fn init_global(mmio_pa: u64) {
    let f = cpu::features();
    X2APIC.store(f.x2apic, Ordering::Relaxed);
    TSC_DEADLINE.store(f.tsc_deadline, Ordering::Relaxed);
    if !f.x2apic {
        MMIO_BASE.store(crate::mm::kmap::map_mmio(mmio_pa, 4096), Ordering::Relaxed);
    }
}

/// Enables this CPU's local APIC.
pub fn init_cpu() {
    let base = rdmsr(MSR_APIC_BASE);
    let enable = base | (1 << 11) | if X2APIC.load(Ordering::Relaxed) { 1 << 10 } else { 0 };
    // SAFETY: setting the global enable (and x2APIC mode, if supported) bits of APIC_BASE.
    unsafe { wrmsr(MSR_APIC_BASE, enable) };
    write(REG_SVR, 0x100 | u32::from(SPURIOUS_VECTOR));
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, 1 << 16);
    write(REG_LVT_LINT1, 1 << 16);
    write(REG_LVT_ERROR, 1 << 16);
    write(REG_ESR, 0);
    write(REG_TIMER_DIV, 0b1011); // divide by 1
    let mode = if TSC_DEADLINE.load(Ordering::Relaxed) { 0b10 << 17 } else { 0 };
    write(REG_LVT_TIMER, mode | u32::from(TIMER_VECTOR));
    eoi();
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    if X2APIC.load(Ordering::Relaxed) {
        read(REG_ID)
    } else {
        read(REG_ID) >> 24
    }
}

/// Signals end of interrupt.
pub fn eoi() {
    write(REG_EOI, 0);
}

fn send_icr(apic_id: u32, low: u32) {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: x2APIC ICR write (destination in the high half).
        unsafe { wrmsr(0x830, (u64::from(apic_id) << 32) | u64::from(low)) };
    } else {
        write(REG_ICR_HI, apic_id << 24);
        write(REG_ICR_LO, low);
        while read(REG_ICR_LO) & (1 << 12) != 0 {
            core::hint::spin_loop();
        }
    }
}

/// Sends a fixed interrupt `vector` to the CPU with `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    send_icr(apic_id, u32::from(vector));
}

/// Sends `vector` to every CPU but this one.
pub fn send_ipi_all_others(vector: u8) {
    send_icr(0, (0b11 << 18) | u32::from(vector));
}

/// INIT IPI (AP start-up).
pub fn send_init(apic_id: u32) {
    send_icr(apic_id, 0x4500);
}

/// Start-up IPI with the trampoline at `page << 12`.
pub fn send_sipi(apic_id: u32, page: u8) {
    send_icr(apic_id, 0x4600 | u32::from(page));
}

/// Whether the timer runs in TSC-deadline mode.
pub fn tsc_deadline_mode() -> bool {
    TSC_DEADLINE.load(Ordering::Relaxed)
}

/// Measures the one-shot timer's rate against a TSC interval (boot CPU, once).
pub fn calibrate_timer(tsc_hz: u64) {
    if TSC_DEADLINE.load(Ordering::Relaxed) {
        return;
    }
    write(REG_LVT_TIMER, (1 << 16) | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INIT, u32::MAX);
    let t0 = cpu::rdtsc();
    let wait = tsc_hz / 100;
    while cpu::rdtsc() - t0 < wait {
        core::hint::spin_loop();
    }
    let elapsed = u64::from(u32::MAX - read(REG_TIMER_CUR));
    let t1 = cpu::rdtsc();
    write(REG_TIMER_INIT, 0);
    write(REG_LVT_TIMER, u32::from(TIMER_VECTOR));
    let hz = elapsed * tsc_hz / (t1 - t0).max(1);
    TIMER_HZ.store(hz.max(1), Ordering::Relaxed);
    log::info!("apic: one-shot timer at {} kHz", hz / 1000);
}

/// Arms this CPU's timer to fire at TSC value `tsc` (or `delta_ns` from now).
pub fn arm(tsc: u64, delta_ns: u64) {
    if TSC_DEADLINE.load(Ordering::Relaxed) {
        // SAFETY: IA32_TSC_DEADLINE arms the timer in TSC-deadline mode.
        unsafe { wrmsr(cpu::MSR_TSC_DEADLINE, tsc.max(1)) };
    } else {
        let ticks = (u128::from(delta_ns) * u128::from(TIMER_HZ.load(Ordering::Relaxed)) / 1_000_000_000).clamp(1, u128::from(u32::MAX));
        write(REG_TIMER_INIT, ticks as u32);
    }
}

/// Stops this CPU's timer.
pub fn disarm() {
    if TSC_DEADLINE.load(Ordering::Relaxed) {
        // SAFETY: writing 0 disarms the TSC-deadline timer.
        unsafe { wrmsr(cpu::MSR_TSC_DEADLINE, 0) };
    } else {
        write(REG_TIMER_INIT, 0);
    }
}
