//! An interrupts-off latency tracer (like Linux's `irqsoff` tracer, for spinlocks): when
//! on (kernel command-line word `irqsoff`, or [`enable`]), every spinlock section that
//! turned interrupts off is timed, and each CPU keeps its longest one with the place it
//! was taken. The longest interrupts-off section bounds how late a real-time wake-up can
//! be handled on that CPU. Off, it costs one relaxed atomic load per lock.

use core::panic::Location;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

const MAX_CPUS: usize = 64;

static ON: AtomicBool = AtomicBool::new(false);
static MAX_NS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static WHERE: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Starts timing interrupts-off sections.
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether sections are timed.
#[inline]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Forgets the maxima.
pub fn reset() {
    for (m, w) in MAX_NS.iter().zip(WHERE.iter()) {
        m.store(0, Ordering::Relaxed);
        w.store(0, Ordering::Relaxed);
    }
}

#[cfg(target_os = "none")]
fn now() -> u64 {
    crate::time::now_ns()
}

#[cfg(not(target_os = "none"))]
fn now() -> u64 {
    0
}

#[cfg(target_os = "none")]
fn cpu() -> usize {
    crate::percpu::this().id as usize
}

#[cfg(not(target_os = "none"))]
fn cpu() -> usize {
    0
}

/// A section starts (interrupts were just turned off): its start time, 0 when off.
#[inline]
pub fn start() -> u64 {
    if enabled() { now().max(1) } else { 0 }
}

/// A section that started at `t0` (from [`start`]) ends; interrupts are still off.
#[inline]
pub fn end(t0: u64, at: &'static Location<'static>) {
    if t0 == 0 {
        return;
    }
    let d = now().saturating_sub(t0);
    let c = cpu().min(MAX_CPUS - 1);
    if d > MAX_NS[c].load(Ordering::Relaxed) {
        MAX_NS[c].store(d, Ordering::Relaxed);
        WHERE[c].store(at as *const Location<'static> as usize, Ordering::Relaxed);
    }
}

/// Per CPU: (longest section in ns, "file:line" where its lock was taken).
pub fn report(ncpus: usize) -> alloc::vec::Vec<(u64, alloc::string::String)> {
    (0..ncpus.min(MAX_CPUS))
        .map(|c| {
            let w = WHERE[c].load(Ordering::Relaxed);
            let place = if w == 0 {
                alloc::string::String::from("-")
            } else {
                // SAFETY: only `&'static Location` addresses are stored in WHERE.
                let loc: &'static Location<'static> = unsafe { &*(w as *const Location<'static>) };
                alloc::format!("{}:{}", loc.file(), loc.line())
            };
            (MAX_NS[c].load(Ordering::Relaxed), place)
        })
        .collect()
}
