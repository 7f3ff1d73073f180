//! The per-CPU scheduler: run queues, `schedule`, blocking, waking and preemption.
//!
//! Locking: each CPU's run queue has a spinlock (interrupts off). A thread's scheduling
//! state and life-cycle state change only under the lock of the CPU in `thread.cpu`.
//! `schedule` takes the lock, switches, and the thread switched to releases it
//! (`finish_switch`), so a thread's saved context is complete before any other CPU can
//! see it runnable.
//!
//! Lost wake-ups cannot happen: a waiter registers on a wait queue, re-checks its
//! condition and then calls [`block_current`]; a wake-up that arrives while the waiter is
//! still running or queued sets `wake_pending`, which makes that `block_current` return at once.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::admission::{Admission, AdmissionError, Reservation};
use super::deadline::FLAG_DL_OVERRUN;
use super::dl_queue::DlQueue;
use super::fair_queue::{slice_ns, vruntime_delta, FairQueue};
use super::policy::{Class, Params, Policy, FAIR_LATENCY_NS, FAIR_WAKEUP_GRANULARITY_NS, RR_QUANTUM_NS};
use super::rt_queue::RtQueue;
use super::thread::{SchedState, State, Thread};
use super::wakelat;
use crate::sync::SpinLock;
use crate::arch::x86_64::{apic, context, cpu, irq_flags, trap::TrapFrame};
use crate::mm::addrspace::AddressSpace;
use crate::percpu::{self, PerCpu};
use crate::time::{now_ns, timer};

/// Real-time throttling (Linux `sched_rt_runtime_us` / `sched_rt_period_us`): FIFO/RR
/// threads may use `RT_RUNTIME_NS` of every `RT_PERIOD_NS` on each CPU, so that a runaway
/// real-time thread cannot starve the rest; negative means no limit.
static RT_RUNTIME_NS: AtomicI64 = AtomicI64::new(950_000_000);
static RT_PERIOD_NS: AtomicU64 = AtomicU64::new(1_000_000_000);
/// Deadline bandwidth booked per CPU (limit: the same runtime/period ratio).
static ADMISSION: SpinLock<Admission> = SpinLock::new(Admission::new(1));

/// One CPU's run queue.
pub struct Rq {
    dl: DlQueue<Arc<Thread>>,
    rt: RtQueue<Arc<Thread>>,
    /// Real-time time used in the current throttling period, and whether it ran out.
    rt_time_ns: u64,
    rt_period_start_ns: u64,
    rt_throttled: bool,
    fair: FairQueue<Arc<Thread>>,
    idle_thread: Arc<Thread>,
    current: Arc<Thread>,
    loaded_space: Option<Arc<AddressSpace>>,
    /// Released after the switch, outside the lock.
    dead: Option<Arc<Thread>>,
    dropped_space: Option<Arc<AddressSpace>>,
    migrate: Option<Arc<Thread>>,
    yield_requested: bool,
    /// Context switches on this CPU.
    pub switches: u64,
}

impl Rq {
    pub(crate) fn new(idle: Arc<Thread>) -> Self {
        Self {
            dl: DlQueue::new(),
            rt: RtQueue::new(),
            rt_time_ns: 0,
            rt_period_start_ns: 0,
            rt_throttled: false,
            fair: FairQueue::new(),
            current: idle.clone(),
            idle_thread: idle,
            loaded_space: None,
            dead: None,
            dropped_space: None,
            migrate: None,
            yield_requested: false,
            switches: 0,
        }
    }

}

fn sched<'a>(t: &Thread) -> &'a mut SchedState {
    // SAFETY: callers hold the run-queue lock of `t.cpu`, which protects this state.
    unsafe { &mut *t.sched.get() }
}

fn rq_of(cpu: &'static PerCpu) -> &'static mut Rq {
    // SAFETY: callers hold `cpu.rq` (taken with lock_raw).
    unsafe { cpu.rq.data_unchecked() }
}

/// A reference to the running thread, valid while it runs (not sendable).
pub struct CurrentRef {
    ptr: *const Thread,
}

impl core::ops::Deref for CurrentRef {
    type Target = Thread;
    fn deref(&self) -> &Thread {
        // SAFETY: the running thread is kept alive by its run queue's `current` Arc until
        // it stops running, which cannot happen while its own code holds this reference.
        unsafe { &*self.ptr }
    }
}

/// The running thread.
pub fn current() -> CurrentRef {
    let irq = irq_flags::save_and_disable();
    let ptr = percpu::this().current.load(Ordering::Relaxed);
    irq_flags::restore(irq);
    CurrentRef { ptr }
}

/// A counted reference to the running thread.
pub fn current_arc() -> Arc<Thread> {
    let c = current();
    // SAFETY: `ptr` came from `Arc::as_ptr` of the Arc held in the run queue, which is
    // alive; incrementing first makes `from_raw` produce an extra owned reference.
    unsafe {
        Arc::increment_strong_count(c.ptr);
        Arc::from_raw(c.ptr)
    }
}

/// Starts a new throttling period if the current one is over.
fn rt_roll(rq: &mut Rq, now: u64) {
    let period = RT_PERIOD_NS.load(Ordering::Relaxed).max(1);
    if now >= rq.rt_period_start_ns + period {
        let n = (now - rq.rt_period_start_ns) / period;
        rq.rt_period_start_ns += n * period;
        rq.rt_time_ns = 0;
        rq.rt_throttled = false;
    }
}

/// Charges `delta` ns of real-time execution ending at `now`; true when throttled.
fn rt_account(rq: &mut Rq, now: u64, delta: u64) -> bool {
    let runtime = RT_RUNTIME_NS.load(Ordering::Relaxed);
    if runtime < 0 {
        return false;
    }
    let before = rq.rt_period_start_ns;
    rt_roll(rq, now);
    let counted = if rq.rt_period_start_ns != before { delta.min(now - rq.rt_period_start_ns) } else { delta };
    rq.rt_time_ns += counted;
    if rq.rt_time_ns >= runtime as u64 {
        rq.rt_throttled = true;
    }
    rq.rt_throttled
}

/// When the running real-time thread would exhaust this period's real-time time.
fn rt_limit_end(rq: &mut Rq, now: u64) -> u64 {
    let runtime = RT_RUNTIME_NS.load(Ordering::Relaxed);
    if runtime < 0 {
        return u64::MAX;
    }
    rt_roll(rq, now);
    now + (runtime as u64).saturating_sub(rq.rt_time_ns).max(1000)
}

/// The end of the current throttling period.
fn rt_period_end(rq: &Rq) -> u64 {
    rq.rt_period_start_ns + RT_PERIOD_NS.load(Ordering::Relaxed)
}

/// Whether the thread is scheduled by the fair class (vruntime matters).
fn is_fair(s: &SchedState) -> bool {
    s.eff().policy.class() <= Class::Fair
}

/// Accounts the running thread's time up to `now`.
fn update_curr(rq: &mut Rq, cur: &Thread, now: u64) {
    let s = sched(cur);
    let delta = now.saturating_sub(s.exec_start_ns);
    s.exec_start_ns = now;
    s.sum_exec_ns += delta;
    if s.is_idle_thread {
        return;
    }
    let p = s.eff();
    match p.policy {
        Policy::Deadline => {
            s.dl.charge(delta);
        }
        Policy::Rr => {
            s.rr_left_ns = s.rr_left_ns.saturating_sub(delta);
            rt_account(rq, now, delta);
        }
        Policy::Fifo => {
            rt_account(rq, now, delta);
        }
        _ => s.vruntime += vruntime_delta(delta, p.weight()),
    }
}

fn enqueue(rq: &mut Rq, t: Arc<Thread>, head: bool) {
    let s = sched(&t);
    let p = s.eff();
    match p.policy.class() {
        Class::Deadline => {
            s.dl_key = Some(rq.dl.push(s.dl.deadline_abs_ns, t));
        }
        Class::RealTime => {
            s.rt_prio_queued = p.rt_priority;
            rq.rt.push(p.rt_priority, t, head);
        }
        _ => {
            let (v, w) = (s.vruntime, p.weight());
            s.fair_key = Some(rq.fair.insert(v, w, t));
        }
    }
}

/// Removes a Ready thread from whichever queue holds it; false if it was not queued.
fn dequeue(rq: &mut Rq, t: &Arc<Thread>) -> bool {
    let s = sched(t);
    if let Some(k) = s.dl_key.take() {
        return rq.dl.remove(k).is_some();
    }
    if let Some(k) = s.fair_key.take() {
        return rq.fair.remove(k).is_some();
    }
    rq.rt.remove(s.rt_prio_queued, |x| Arc::ptr_eq(x, t)).is_some()
}

fn pick_next(rq: &mut Rq) -> Option<Arc<Thread>> {
    if let Some((_, t)) = rq.dl.pop() {
        sched(&t).dl_key = None;
        return Some(t);
    }
    if !rq.rt_throttled {
        if let Some((_, t)) = rq.rt.pop() {
            return Some(t);
        }
    }
    let (_, t) = rq.fair.pop()?;
    sched(&t).fair_key = None;
    Some(t)
}

fn online_mask() -> u64 {
    let n = percpu::online();
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Chooses the CPU a waking thread should run on.
fn select_cpu(t: &Thread, prev: u32) -> u32 {
    let allowed = sched(t).affinity & online_mask();
    let is_allowed = |c: u32| c < 64 && allowed & (1 << c) != 0;
    let idle = |c: u32| percpu::get(c).is_some_and(|p| p.idle.load(Ordering::Relaxed) && !p.need_resched.load(Ordering::Relaxed));
    if is_allowed(prev) && idle(prev) {
        return prev;
    }
    if let Some(c) = (0..64u32).find(|&c| is_allowed(c) && idle(c)) {
        return c;
    }
    if is_allowed(prev) {
        return prev;
    }
    if allowed == 0 {
        prev
    } else {
        allowed.trailing_zeros()
    }
}

/// Asks `cpu` to reschedule (IPI if it is another CPU, unless its idle loop polls).
fn resched_cpu(cpu: &PerCpu) {
    cpu.need_resched.store(true, Ordering::SeqCst);
    if cpu.id != percpu::this().id && !cpu.polling.load(Ordering::SeqCst) {
        apic::send_ipi(cpu.apic_id, apic::RESCHED_VECTOR);
    }
}

/// How long an idle CPU watches for work before it halts: a wake-up in this window costs
/// no interrupt, which is most of a cross-CPU wake-up's latency (Linux's haltpoll idea).
const IDLE_POLL_NS: u64 = 50_000;

/// CPUs whose idle loop never halts (`idle=poll` on the command line, or the dataflow
/// profile's `realtime_idle = "poll"`): a wake-up there never waits for an interrupt or
/// for the CPU to leave a halted state, at the price of a CPU that always spins.
static IDLE_POLL_FOREVER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Makes the CPUs in `mask` poll instead of halting when idle (added to those already).
pub fn set_idle_poll(mask: u64) {
    IDLE_POLL_FOREVER.fetch_or(mask, Ordering::Relaxed);
}

/// The CPUs whose idle loop polls forever.
pub fn idle_poll_mask() -> u64 {
    IDLE_POLL_FOREVER.load(Ordering::Relaxed)
}

/// Polls `need_resched` for up to `IDLE_POLL_NS`; true if work arrived.
fn idle_poll(cpu: &PerCpu) -> bool {
    let end = now_ns() + IDLE_POLL_NS;
    cpu.polling.store(true, Ordering::SeqCst);
    let mut found = false;
    while now_ns() < end {
        if cpu.need_resched.load(Ordering::SeqCst) {
            found = true;
            break;
        }
        core::hint::spin_loop();
    }
    cpu.polling.store(false, Ordering::SeqCst);
    // A waker that saw `polling` sent no IPI: look once more before halting.
    found || cpu.need_resched.load(Ordering::SeqCst)
}

fn check_preempt(cpu: &PerCpu, rq: &mut Rq, woken: &Thread) {
    let cur = rq.current.clone();
    let (ws, cs) = (sched(woken), sched(&cur));
    let (wp, cp) = (ws.eff(), cs.eff());
    let preempt = if cs.is_idle_thread {
        wp.policy.class() != Class::RealTime || !rq.rt_throttled
    } else {
        match (wp.policy.class(), cp.policy.class()) {
            (Class::Deadline, Class::Deadline) => ws.dl.deadline_abs_ns < cs.dl.deadline_abs_ns,
            (Class::Deadline, _) => true,
            (_, Class::Deadline) => false,
            (Class::RealTime, Class::RealTime) => !rq.rt_throttled && wp.rt_priority > cp.rt_priority,
            (Class::RealTime, _) => !rq.rt_throttled,
            (_, Class::RealTime) => false,
            _ => {
                update_curr(rq, &cur, now_ns());
                let cs = sched(&cur);
                ws.vruntime + FAIR_WAKEUP_GRANULARITY_NS < cs.vruntime
                    || cpu.slice_end.load(Ordering::Relaxed) == u64::MAX
            }
        }
    };
    if preempt {
        resched_cpu(cpu);
    } else {
        // Someone waits here: let an idle CPU that may run it come and take it.
        let allowed = ws.affinity & online_mask();
        if let Some(other) = percpu::all().find(|c| {
            c.id != cpu.id && allowed & (1 << c.id) != 0 && c.idle.load(Ordering::Relaxed)
        }) {
            resched_cpu(other);
        }
    }
}

fn set_slice(cpu: &PerCpu, rq: &mut Rq, next: &Thread, now: u64) {
    let s = sched(next);
    let p = s.eff();
    // Real-time threads wait for the end of a throttled period: look again then.
    let throttled_rt_waiting = rq.rt_throttled && !rq.rt.is_empty();
    let end = if s.is_idle_thread {
        if throttled_rt_waiting { rt_period_end(rq) } else { u64::MAX }
    } else {
        match p.policy {
            // The budget timer: the thread runs until its runtime is used up.
            Policy::Deadline => now + (s.dl.runtime_left_ns.max(0) as u64).max(1000),
            Policy::Fifo => rt_limit_end(rq, now),
            Policy::Rr => {
                if s.rr_left_ns == 0 {
                    s.rr_left_ns = RR_QUANTUM_NS;
                }
                let rr = if rq.rt.highest() == Some(p.rt_priority) { now + s.rr_left_ns } else { u64::MAX };
                rr.min(rt_limit_end(rq, now))
            }
            _ => {
                let fair = if rq.fair.is_empty() {
                    u64::MAX
                } else {
                    let w = p.weight();
                    now + slice_ns(w, rq.fair.total_weight() + u64::from(w), rq.fair.len() + 1)
                };
                if throttled_rt_waiting { fair.min(rt_period_end(rq)) } else { fair }
            }
        }
    };
    cpu.slice_end.store(end, Ordering::Relaxed);
}

/// Looks for a ready thread on another CPU that may run here (this CPU is going idle).
fn idle_balance(cpu: &PerCpu, rq: &mut Rq) -> Option<Arc<Thread>> {
    let me = cpu.id;
    for other in percpu::all().filter(|c| c.id != me) {
        if !other.rq.try_lock_raw() {
            continue;
        }
        let orq = rq_of(other);
        let allowed = |t: &Arc<Thread>| sched(t).affinity & (1 << me) != 0;
        let stolen = if let Some((_, t)) = orq.dl.remove_first(allowed) {
            sched(&t).dl_key = None;
            Some(t)
        } else {
            match orq.rt.remove_any(allowed) {
            Some((_, t)) => Some(t),
            None => orq.fair.remove_first(allowed).map(|(_, t)| {
                let s = sched(&t);
                s.fair_key = None;
                s.vruntime = s.vruntime.saturating_sub(orq.fair.min_vruntime()) + rq.fair.min_vruntime();
                t
            }),
            }
        };
        if let Some(t) = &stolen {
            t.cpu.store(me, Ordering::Relaxed);
        }
        // SAFETY: taken by try_lock_raw above.
        unsafe { other.rq.force_unlock() };
        if stolen.is_some() {
            return stolen;
        }
    }
    None
}

/// Picks the next thread and switches to it. Run-queue lock held, interrupts off.
fn schedule_locked(cpu: &'static PerCpu) {
    let rq = rq_of(cpu);
    let now = now_ns();
    cpu.need_resched.store(false, Ordering::Relaxed);
    rt_roll(rq, now);
    let prev = rq.current.clone();
    update_curr(rq, &prev, now);
    let ps = sched(&prev);
    if prev.state() == State::Running && !ps.is_idle_thread {
        prev.set_state(State::Ready);
        if ps.affinity & (1 << cpu.id) == 0 {
            // No longer allowed here: moved by `finish_switch` once the lock is free.
            prev.set_state(State::Blocked);
            rq.migrate = Some(prev.clone());
        } else if ps.eff().policy == Policy::Deadline && ps.dl.runtime_left_ns <= 0 {
            // Runtime used up: the CBS moves it to its next period, throttled until then.
            if ps.params.dl.flags & FLAG_DL_OVERRUN != 0 {
                prev.dl_overrun.store(true, Ordering::Release);
            }
            let dl = ps.params.dl;
            match ps.dl.exhausted(&dl, now) {
                None => enqueue(rq, prev.clone(), false),
                Some(until) => {
                    prev.set_state(State::Blocked);
                    let t = prev.clone();
                    timer::add(until, timer::TimerAction::Closure(alloc::boxed::Box::new(move || dl_unthrottle(&t))));
                }
            }
        } else {
            let yielded = core::mem::take(&mut rq.yield_requested);
            let ep = ps.eff();
            let rr_expired = ep.policy == Policy::Rr && ps.rr_left_ns == 0;
            if yielded && ep.policy.class() == Class::Fair {
                ps.vruntime = ps.vruntime.max(rq.fair.rightmost().unwrap_or(0));
            }
            let head = ep.policy.class() == Class::RealTime && !yielded && !rr_expired;
            enqueue(rq, prev.clone(), head);
        }
    }
    rq.yield_requested = false;
    let next = match pick_next(rq) {
        Some(t) => t,
        None => idle_balance(cpu, rq).unwrap_or_else(|| rq.idle_thread.clone()),
    };
    let ns = sched(&next);
    if ns.woken_at_ns != 0 {
        if wakelat::enabled() {
            trace_switch_in(cpu, &prev, ps, &next, now.saturating_sub(ns.woken_at_ns));
        }
        ns.woken_at_ns = 0;
    }
    rq.fair.update_min(if ns.eff().policy.class() == Class::Fair && !ns.is_idle_thread { Some(ns.vruntime) } else { None });
    ns.exec_start_ns = now;
    next.set_state(State::Running);
    next.cpu.store(cpu.id, Ordering::Relaxed);
    rq.current = next.clone();
    cpu.current.store(Arc::as_ptr(&next) as *mut Thread, Ordering::Relaxed);
    // Ordered for `PerCpu::idle_time_ns` on other CPUs: the flag drops before the period
    // is added, and the period starts before the flag rises (no double count, no stale
    // start).
    let was_idle = cpu.idle.load(Ordering::Relaxed);
    if was_idle && !ns.is_idle_thread {
        cpu.idle.store(false, Ordering::Release);
        let since = cpu.idle_since.load(Ordering::Relaxed);
        cpu.idle_ns.fetch_add(now.saturating_sub(since), Ordering::Release);
    } else if !was_idle && ns.is_idle_thread {
        cpu.idle_since.store(now, Ordering::Relaxed);
        cpu.idle.store(true, Ordering::Release);
    }
    set_slice(cpu, rq, &next, now);
    timer::program(cpu);
    if Arc::ptr_eq(&prev, &next) {
        // SAFETY: the lock was taken by our caller on this CPU.
        unsafe { cpu.rq.force_unlock() };
        return;
    }
    rq.switches += 1;
    if prev.state() == State::Dead {
        rq.dead = Some(prev.clone());
    }
    // Address space: user threads load theirs; kernel threads run on the kernel tables.
    let next_space = next.addr_space();
    let same = match (&next_space, &rq.loaded_space) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    };
    if !same {
        if let Some(old) = rq.loaded_space.take() {
            old.cpu_leave(cpu.id);
            rq.dropped_space = Some(old);
        }
        let root = match &next_space {
            Some(s) => {
                s.cpu_enter(cpu.id);
                s.root()
            }
            None => crate::mm::kmap::kernel_root(),
        };
        // SAFETY: every root maps the kernel half identically.
        unsafe { cpu::write_cr3(root) };
        rq.loaded_space = next_space;
    }
    prev.fpu_save();
    if next.is_user() {
        // SAFETY: the FS base only affects user-mode addressing.
        unsafe { cpu::wrmsr(cpu::MSR_FS_BASE, next.fs_base()) };
    }
    next.fpu_restore();
    cpu.set_kernel_stack(next.kstack.top());
    let save: *mut u64 = prev.saved_rsp.get();
    // SAFETY: `next` is not running anywhere (it was queued or is the idle thread of this
    // CPU), so its saved rsp is stable.
    let next_rsp = unsafe { *next.saved_rsp.get() };
    drop(prev);
    drop(next);
    // SAFETY: interrupts are off; `save` is the slot of the thread running now (kept alive
    // by the run queue's `current` or `dead` Arc); `next_rsp` was saved by a switch or
    // prepared by `prepare_stack`.
    unsafe { context::switch(save, next_rsp) };
    finish_switch();
}

/// Records for the wake-up tracer that woken real-time thread `next` runs on `cpu`
/// `waited` ns after its wake-up, after `prev` (whose state is `ps`).
fn trace_switch_in(cpu: &PerCpu, prev: &Thread, ps: &SchedState, next: &Thread, waited: u64) {
    let (name, prev_name) = (next.name(), prev.name());
    let pp = ps.eff();
    let before = wakelat::Prev { id: prev.id(), name: prev_name.as_bytes(), policy: pp.policy.to_linux(), priority: pp.rt_priority };
    let kind = if ps.is_idle_thread {
        wakelat::Before::Idle
    } else if pp.policy.class() >= Class::RealTime {
        wakelat::Before::RealTime
    } else {
        wakelat::Before::Fair
    };
    wakelat::switched_in(cpu.id, next.id(), name.as_bytes(), waited, before, kind);
}

/// Loads `space` on this CPU for the running thread (an `execve`): CR3, the CPU masks for
/// TLB shootdowns, and the run queue's record of what is loaded. Interrupts off. Returns
/// the space that was loaded, to be dropped by the caller after interrupts are back on.
pub(crate) fn load_space_now(space: Arc<AddressSpace>) -> Option<Arc<AddressSpace>> {
    let cpu = percpu::this();
    cpu.rq.lock_raw();
    let rq = rq_of(cpu);
    let old = rq.loaded_space.take();
    if let Some(o) = &old {
        o.cpu_leave(cpu.id);
    }
    space.cpu_enter(cpu.id);
    // SAFETY: every root maps the kernel half identically.
    unsafe { cpu::write_cr3(space.root()) };
    rq.loaded_space = Some(space);
    // SAFETY: taken above.
    unsafe { cpu.rq.force_unlock() };
    old
}

/// Completes a switch on the new thread: releases the run-queue lock and what the
/// previous thread left behind.
pub(crate) fn finish_switch() {
    let cpu = percpu::this();
    let rq = rq_of(cpu);
    let dead = rq.dead.take();
    let space = rq.dropped_space.take();
    let migrate = rq.migrate.take();
    // SAFETY: the thread that switched to us took this CPU's run-queue lock.
    unsafe { cpu.rq.force_unlock() };
    drop(dead);
    drop(space);
    if let Some(t) = migrate {
        wake(&t);
    }
}

/// Gives up the CPU to the best ready thread (which may be the caller).
pub fn schedule() {
    let irq = irq_flags::save_and_disable();
    let cpu = percpu::this();
    cpu.rq.lock_raw();
    schedule_locked(cpu);
    irq_flags::restore(irq);
}

/// `sched_yield`: moves the caller behind its peers.
pub fn yield_now() {
    let irq = irq_flags::save_and_disable();
    let cpu = percpu::this();
    cpu.rq.lock_raw();
    rq_of(cpu).yield_requested = true;
    schedule_locked(cpu);
    irq_flags::restore(irq);
}

/// Sleeps until [`wake`] is called for the current thread (returns at once if a wake-up
/// arrived since the last block). Callers loop on their condition.
pub fn block_current() {
    let irq = irq_flags::save_and_disable();
    let cpu = percpu::this();
    cpu.rq.lock_raw();
    let cur = rq_of(cpu).current.clone();
    if cur.wake_pending.swap(false, Ordering::AcqRel) {
        // SAFETY: taken above.
        unsafe { cpu.rq.force_unlock() };
        irq_flags::restore(irq);
        return;
    }
    cur.set_state(State::Blocked);
    drop(cur);
    schedule_locked(cpu);
    irq_flags::restore(irq);
}

/// Ends the current thread.
pub fn exit_current() -> ! {
    irq_flags::disable();
    let cpu = percpu::this();
    cpu.rq.lock_raw();
    let cur = rq_of(cpu).current.clone();
    if let Some(r) = sched(&cur).dl_res.take() {
        let _ = ADMISSION.lock().change(Some(r), None);
    }
    drop(cur);
    rq_of(cpu).current.set_state(State::Dead);
    schedule_locked(cpu);
    unreachable!("a dead thread was scheduled again");
}

/// Locks the run queue that owns `t`; returns that CPU (interrupts must be off).
fn lock_thread_rq(t: &Thread) -> &'static PerCpu {
    loop {
        let c = t.cpu();
        let cpu = percpu::get(c).expect("thread on an offline CPU");
        cpu.rq.lock_raw();
        if t.cpu() == c {
            return cpu;
        }
        // SAFETY: taken just above.
        unsafe { cpu.rq.force_unlock() };
    }
}

/// Makes a blocked thread runnable (or marks a wake-up pending if it has not blocked yet).
pub fn wake(t: &Arc<Thread>) {
    wake_traced(t, None);
}

/// Wakes `t` from this CPU's timer interrupt, `late_ns` after the deadline it slept to
/// (the wake-up tracer records that lateness for real-time threads).
pub(crate) fn wake_by_timer(t: &Arc<Thread>, late_ns: u64) {
    wake_traced(t, Some(late_ns));
}

fn wake_traced(t: &Arc<Thread>, timer_late_ns: Option<u64>) {
    let irq = irq_flags::save_and_disable();
    let src = lock_thread_rq(t);
    match t.state() {
        State::Blocked if sched(t).dl.throttled => {
            // Throttled, not waiting: its replenishment timer makes it runnable.
            t.wake_pending.store(true, Ordering::Release);
            // SAFETY: taken by lock_thread_rq.
            unsafe { src.rq.force_unlock() };
        }
        State::Blocked => {
            let target = select_cpu(t, src.id);
            t.set_state(State::Ready);
            let s = sched(t);
            if wakelat::enabled() && s.eff().policy.class() >= Class::RealTime {
                s.woken_at_ns = now_ns().max(1);
                if let Some(late) = timer_late_ns {
                    wakelat::timer_late(percpu::this().id, t.id(), t.name().as_bytes(), late);
                }
            }
            if s.eff().policy == Policy::Deadline {
                let dl = s.params.dl;
                s.dl.wake_up(&dl, now_ns());
            }
            if target == src.id {
                let rq = rq_of(src);
                if is_fair(s) {
                    s.vruntime = rq.fair.place_woken(s.vruntime, FAIR_LATENCY_NS);
                }
                enqueue(rq, t.clone(), false);
                check_preempt(src, rq, t);
                // SAFETY: taken by lock_thread_rq.
                unsafe { src.rq.force_unlock() };
            } else {
                s.vruntime = s.vruntime.saturating_sub(rq_of(src).fair.min_vruntime());
                t.cpu.store(target, Ordering::Relaxed);
                // SAFETY: taken by lock_thread_rq.
                unsafe { src.rq.force_unlock() };
                place_on(target, t, true);
            }
        }
        State::Running | State::Ready => {
            t.wake_pending.store(true, Ordering::Release);
            // SAFETY: taken by lock_thread_rq.
            unsafe { src.rq.force_unlock() };
        }
        State::New | State::Dead => {
            // SAFETY: taken by lock_thread_rq.
            unsafe { src.rq.force_unlock() };
        }
    }
    irq_flags::restore(irq);
}

/// Queues `t` (already Ready, `t.cpu == target`, vruntime relative) on `target`.
fn place_on(target: u32, t: &Arc<Thread>, woken: bool) {
    let cpu = percpu::get(target).expect("offline CPU");
    cpu.rq.lock_raw();
    let rq = rq_of(cpu);
    let s = sched(t);
    if is_fair(s) {
        s.vruntime += rq.fair.min_vruntime();
        if woken {
            s.vruntime = rq.fair.place_woken(s.vruntime, FAIR_LATENCY_NS);
        }
    }
    enqueue(rq, t.clone(), false);
    check_preempt(cpu, rq, t);
    // SAFETY: taken above.
    unsafe { cpu.rq.force_unlock() };
}

/// Starts a new thread (state New).
pub fn start(t: &Arc<Thread>) {
    let irq = irq_flags::save_and_disable();
    let me = percpu::this().id;
    let target = select_cpu(t, me);
    t.cpu.store(target, Ordering::Relaxed);
    t.set_state(State::Ready);
    sched(t).vruntime = 0;
    place_on(target, t, false);
    irq_flags::restore(irq);
}

/// Reads a thread's scheduling parameters and affinity.
pub fn params_of(t: &Thread) -> (Params, u64) {
    let irq = irq_flags::save_and_disable();
    let cpu = lock_thread_rq(t);
    let s = sched(t);
    let r = (s.params, s.affinity);
    // SAFETY: taken by lock_thread_rq.
    unsafe { cpu.rq.force_unlock() };
    irq_flags::restore(irq);
    r
}

/// Makes a throttled deadline thread runnable again (its replenishment timer).
fn dl_unthrottle(t: &Arc<Thread>) {
    let irq = irq_flags::save_and_disable();
    let src = lock_thread_rq(t);
    let s = sched(t);
    if !s.dl.throttled || t.state() != State::Blocked {
        // SAFETY: taken by lock_thread_rq.
        unsafe { src.rq.force_unlock() };
        irq_flags::restore(irq);
        return;
    }
    s.dl.unthrottle();
    t.set_state(State::Ready);
    let target = select_cpu(t, src.id);
    if target == src.id {
        let rq = rq_of(src);
        enqueue(rq, t.clone(), false);
        check_preempt(src, rq, t);
        // SAFETY: taken by lock_thread_rq.
        unsafe { src.rq.force_unlock() };
    } else {
        t.cpu.store(target, Ordering::Relaxed);
        // SAFETY: taken by lock_thread_rq.
        unsafe { src.rq.force_unlock() };
        place_on(target, t, false);
    }
    irq_flags::restore(irq);
}

/// Changes a thread's policy/priority and/or CPU affinity, requeueing or migrating it.
/// A deadline reservation (new, changed, or moved to other CPUs) must pass admission
/// control first: on `Err` nothing changed.
pub fn set_params(t: &Arc<Thread>, params: Option<Params>, affinity: Option<u64>) -> Result<(), AdmissionError> {
    let irq = irq_flags::save_and_disable();
    let cpu = lock_thread_rq(t);
    let rq = rq_of(cpu);
    let s = sched(t);
    let new_p = params.unwrap_or(s.params);
    let new_aff = affinity.unwrap_or(s.affinity);
    let new_res = (new_p.policy == Policy::Deadline).then(|| Reservation { cpus: new_aff & online_mask(), bw: new_p.dl.bandwidth() });
    if new_res != s.dl_res {
        let mut adm = ADMISSION.lock();
        adm.set_cpus(percpu::online());
        if let Err(e) = adm.change(s.dl_res, new_res) {
            drop(adm);
            // SAFETY: taken by lock_thread_rq.
            unsafe { cpu.rq.force_unlock() };
            irq_flags::restore(irq);
            return Err(e);
        }
        s.dl_res = new_res;
    }
    let mut queued = t.state() == State::Ready && dequeue(rq, t);
    if let Some(p) = params {
        if p.policy.class() == Class::Fair && s.params.policy.class() != Class::Fair {
            s.vruntime = rq.fair.min_vruntime();
        }
        let dl_changed = p.policy == Policy::Deadline && (s.params.policy != Policy::Deadline || s.params.dl != p.dl);
        s.params = p;
        s.rr_left_ns = RR_QUANTUM_NS;
        if dl_changed {
            s.dl.start(&p.dl, now_ns());
            s.dl.overrun = false;
        }
        if p.policy != Policy::Deadline && s.dl.throttled {
            // Left the deadline class while throttled: runnable again at once.
            s.dl.throttled = false;
            if t.state() == State::Blocked {
                t.set_state(State::Ready);
                queued = true;
            }
        }
    }
    if let Some(a) = affinity {
        s.affinity = a;
    }
    let allowed_here = s.affinity & (1 << cpu.id) != 0;
    if queued {
        if allowed_here {
            enqueue(rq, t.clone(), false);
            check_preempt(cpu, rq, t);
        } else {
            let target = select_cpu(t, cpu.id);
            s.vruntime = s.vruntime.saturating_sub(rq.fair.min_vruntime());
            t.cpu.store(target, Ordering::Relaxed);
            // SAFETY: taken by lock_thread_rq.
            unsafe { cpu.rq.force_unlock() };
            place_on(target, t, false);
            irq_flags::restore(irq);
            return Ok(());
        }
    } else if t.state() == State::Running {
        // Re-evaluate: a lowered priority or a forbidden CPU takes effect at once.
        resched_cpu(cpu);
    }
    // SAFETY: taken by lock_thread_rq.
    unsafe { cpu.rq.force_unlock() };
    irq_flags::restore(irq);
    Ok(())
}

/// Priority inheritance: runs `t` with `boost` while it outranks `t`'s own parameters
/// (`None` ends the boost). Requeues or preempts as needed.
pub fn set_boost(t: &Arc<Thread>, boost: Option<Params>) {
    let irq = irq_flags::save_and_disable();
    let cpu = lock_thread_rq(t);
    let rq = rq_of(cpu);
    let s = sched(t);
    if s.boost != boost {
        let queued = t.state() == State::Ready && dequeue(rq, t);
        s.boost = boost;
        if queued {
            enqueue(rq, t.clone(), false);
            check_preempt(cpu, rq, t);
        } else if t.state() == State::Running {
            resched_cpu(cpu);
        }
    }
    // SAFETY: taken by lock_thread_rq.
    unsafe { cpu.rq.force_unlock() };
    irq_flags::restore(irq);
}

/// The parameters a thread runs with now (its own, or a priority-inheritance boost).
pub fn effective_params_of(t: &Thread) -> Params {
    let irq = irq_flags::save_and_disable();
    let cpu = lock_thread_rq(t);
    let p = sched(t).eff();
    // SAFETY: taken by lock_thread_rq.
    unsafe { cpu.rq.force_unlock() };
    irq_flags::restore(irq);
    p
}

/// The deadline state of a thread: (runtime left in ns, absolute deadline, throttled).
pub fn dl_state_of(t: &Thread) -> (i64, u64, bool) {
    let irq = irq_flags::save_and_disable();
    let cpu = lock_thread_rq(t);
    let d = sched(t).dl;
    // SAFETY: taken by lock_thread_rq.
    unsafe { cpu.rq.force_unlock() };
    irq_flags::restore(irq);
    (d.runtime_left_ns, d.deadline_abs_ns, d.throttled)
}

/// The real-time bandwidth: (runtime in ns or -1, period in ns).
pub fn rt_bandwidth() -> (i64, u64) {
    (RT_RUNTIME_NS.load(Ordering::Relaxed), RT_PERIOD_NS.load(Ordering::Relaxed))
}

/// Sets the real-time bandwidth (`/proc/sys/kernel/sched_rt_{runtime,period}_us`):
/// `runtime_ns` < 0 disables throttling. Busy if deadline threads hold more than the new
/// limit allows.
pub fn set_rt_bandwidth(runtime_ns: i64, period_ns: u64) -> Result<(), AdmissionError> {
    ADMISSION.lock().set_limit(if runtime_ns < 0 { -1 } else { runtime_ns / 1000 }, period_ns / 1000)?;
    RT_PERIOD_NS.store(period_ns, Ordering::Relaxed);
    RT_RUNTIME_NS.store(runtime_ns, Ordering::Relaxed);
    Ok(())
}

/// Deadline bandwidth booked on `cpu` and the per-CPU limit (fixed point, `BW_SHIFT`).
pub fn dl_bandwidth(cpu: usize) -> (u64, u64) {
    let a = ADMISSION.lock();
    (a.used(cpu), a.limit())
}

/// Context switches done on `cpu`.
pub fn switches(cpu: &PerCpu) -> u64 {
    cpu.rq.lock().switches
}

/// Called on every exit from a trap: preempts if needed and runs the return-to-user work.
pub(crate) fn trap_exit(frame: &mut TrapFrame) {
    if frame.from_user() {
        crate::user::return_to_user(frame);
        return;
    }
    let cpu = percpu::this();
    if cpu.need_resched.load(Ordering::Relaxed)
        && frame.rflags & 0x200 != 0
        && cpu.preempt_count.load(Ordering::Relaxed) == 0
    {
        schedule();
    }
}

/// The idle loop of a CPU: halts until an interrupt makes something runnable.
pub fn idle_loop() -> ! {
    loop {
        irq_flags::disable();
        let cpu = percpu::this();
        if cpu.need_resched.load(Ordering::Relaxed) {
            schedule();
            continue;
        }
        if crate::mm::kmap::stacks_to_reclaim() {
            // Stacks of threads that ended wait for a TLB flush: an idle CPU does it.
            irq_flags::enable();
            crate::mm::kmap::reclaim_stacks();
            continue;
        }
        // Timers and other interrupts are taken while polling.
        irq_flags::enable();
        let woke = idle_poll(cpu);
        irq_flags::disable();
        if woke || IDLE_POLL_FOREVER.load(Ordering::Relaxed) & (1u64 << (cpu.id & 63)) != 0 {
            continue;
        }
        cpu::enable_interrupts_and_halt();
    }
}

/// Handler of the reschedule IPI: the work happens on the way out (`trap_exit`).
pub(crate) fn resched_ipi(_: &mut TrapFrame) {}
