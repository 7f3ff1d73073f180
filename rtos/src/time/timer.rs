//! Per-CPU one-shot timers.
//!
//! Each CPU keeps its pending timers ordered by deadline and arms its local APIC timer
//! for the earliest of (first timer, end of the current time slice). A timer either wakes
//! a thread or calls a function in interrupt context.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::clock::{now_ns, ns_to_tsc};
use crate::arch::x86_64::apic;
use crate::percpu;
use crate::sched::thread::Thread;

/// What a timer does when it fires.
pub enum TimerAction {
    /// Wakes the thread.
    Wake(Arc<Thread>),
    /// Calls `f(arg)` with interrupts off.
    Call(fn(u64), u64),
    /// Runs a closure with interrupts off.
    Closure(alloc::boxed::Box<dyn FnOnce() + Send>),
}

/// The timers of one CPU.
#[derive(Default)]
pub struct TimerQueue {
    timers: BTreeMap<(u64, u64), TimerAction>,
}

impl TimerQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self { timers: BTreeMap::new() }
    }

    fn first(&self) -> Option<u64> {
        self.timers.keys().next().map(|k| k.0)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Identifies an armed timer for cancellation.
#[derive(Clone, Copy, Debug)]
pub struct TimerHandle {
    cpu: u32,
    key: (u64, u64),
}

/// Arms a timer on this CPU for absolute monotonic time `deadline_ns`.
pub fn add(deadline_ns: u64, action: TimerAction) -> TimerHandle {
    let key = (deadline_ns, NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let irq = crate::arch::x86_64::irq_flags::save_and_disable();
    let cpu = percpu::this();
    cpu.timers.lock().timers.insert(key, action);
    if deadline_ns < cpu.armed_at.load(Ordering::Relaxed) {
        program(cpu);
    }
    crate::arch::x86_64::irq_flags::restore(irq);
    TimerHandle { cpu: cpu.id, key }
}

/// Cancels a timer; returns false if it already fired.
pub fn cancel(h: &TimerHandle) -> bool {
    percpu::get(h.cpu).is_some_and(|c| c.timers.lock().timers.remove(&h.key).is_some())
}

/// Arms this CPU's APIC timer for its next event (interrupts off).
///
/// A deadline already armed at or before the next event is left as it is: its interrupt
/// finds nothing due and arms the right one (one early interrupt at most). Without this,
/// every context switch between fair threads rewrote the timer (each time slice moves the
/// event a little later), and under a hypervisor every write is an exit: a pipe ping-pong
/// on both CPUs of a TCG guest made a real-time dataflow's 4 MB messages 50x slower, as
/// both vCPUs queued for QEMU's big lock to reprogram their timers.
pub(crate) fn program(cpu: &percpu::PerCpu) {
    let first = cpu.timers.lock().first().unwrap_or(u64::MAX);
    let next = first.min(cpu.slice_end.load(Ordering::Relaxed));
    if next >= cpu.armed_at.load(Ordering::Relaxed) {
        return;
    }
    cpu.armed_at.store(next, Ordering::Relaxed);
    cpu.timer_writes.fetch_add(1, Ordering::Relaxed);
    if next == u64::MAX {
        apic::disarm();
    } else {
        let now = now_ns();
        apic::arm(ns_to_tsc(next), next.saturating_sub(now).max(1000));
    }
}

/// The local timer interrupt: runs expired timers, ends time slices, re-arms.
pub(crate) fn interrupt(frame: &mut crate::arch::x86_64::trap::TrapFrame) {
    let cpu = percpu::this();
    let now = now_ns();
    loop {
        let (deadline, action) = {
            let mut q = cpu.timers.lock();
            match q.timers.first_key_value() {
                Some((k, _)) if k.0 <= now => {
                    let k = *k;
                    (k.0, q.timers.remove(&k))
                }
                _ => (0, None),
            }
        };
        match action {
            Some(TimerAction::Wake(t)) => {
                if crate::sched::wakelat::enabled() {
                    crate::sched::wakelat::timer_irq_at(cpu.id, now - deadline, frame.rip, frame.cs & 3 == 3);
                }
                crate::sched::core::wake_by_timer(&t, now - deadline)
            }
            Some(TimerAction::Call(f, arg)) => f(arg),
            Some(TimerAction::Closure(f)) => f(),
            None => break,
        }
    }
    if cpu.slice_end.load(Ordering::Relaxed) <= now {
        cpu.slice_end.store(u64::MAX, Ordering::Relaxed);
        cpu.need_resched.store(true, Ordering::Relaxed);
    }
    cpu.armed_at.store(u64::MAX, Ordering::Relaxed);
    program(cpu);
}
