//! TLB shootdown: asks other CPUs to flush their TLBs and waits for them.
//!
//! Each CPU has a request counter and a done counter. A sender bumps the target's
//! request, sends the TLB IPI and waits until the target's done counter catches up; while
//! waiting it serves requests aimed at itself, so two CPUs shooting at each other cannot
//! deadlock. Senders must not hold spinlocks that the targets may be spinning on.

use core::sync::atomic::Ordering;

use super::{apic, cpu, irq_flags};
use crate::percpu::{self, PerCpu};

/// Flushes this CPU's whole TLB, global entries included.
pub fn flush_local() {
    // SAFETY: toggling CR4.PGE flushes all TLB entries and changes nothing else.
    unsafe {
        let cr4: u64;
        core::arch::asm!("mov {}, cr4", out(reg) cr4);
        core::arch::asm!("mov cr4, {}", in(reg) cr4 & !(1 << 7));
        core::arch::asm!("mov cr4, {}", in(reg) cr4);
    }
}

fn serve(me: &PerCpu) {
    let req = me.tlb_request.load(Ordering::Acquire);
    if me.tlb_done.load(Ordering::Relaxed) < req {
        flush_local();
        me.tlb_done.store(req, Ordering::Release);
    }
}

/// IPI handler.
pub(crate) fn ipi(_: &mut super::trap::TrapFrame) {
    serve(percpu::this());
}

/// Flushes the TLBs of the CPUs in `mask` (this one included if set).
pub fn shootdown(mask: u64) {
    let irq = irq_flags::save_and_disable();
    let me = percpu::this();
    let mut waits: heapless::Vec<(&'static PerCpu, u64), 64> = heapless::Vec::new();
    for c in percpu::all() {
        if c.id != me.id && mask & (1 << c.id) != 0 {
            let gen = c.tlb_request.fetch_add(1, Ordering::AcqRel) + 1;
            apic::send_ipi(c.apic_id, apic::TLB_VECTOR);
            let _ = waits.push((c, gen));
        }
    }
    if mask & (1 << me.id) != 0 {
        flush_local();
    }
    for (c, gen) in waits {
        while c.tlb_done.load(Ordering::Acquire) < gen {
            serve(me);
            core::hint::spin_loop();
        }
    }
    irq_flags::restore(irq);
}

/// Flushes every CPU's TLB (kernel mappings changed).
pub fn flush_all_cpus() {
    shootdown(u64::MAX);
}

/// Invalidates one page on this CPU.
pub fn flush_page_local(va: u64) {
    cpu::invlpg(va);
}
