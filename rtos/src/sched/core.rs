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
use core::sync::atomic::Ordering;

use super::fair_queue::{slice_ns, vruntime_delta, FairQueue};
use super::policy::{Class, Params, Policy, FAIR_LATENCY_NS, FAIR_WAKEUP_GRANULARITY_NS, RR_QUANTUM_NS};
use super::rt_queue::RtQueue;
use super::thread::{SchedState, State, Thread};
use crate::arch::x86_64::{apic, context, cpu, irq_flags, trap::TrapFrame};
use crate::mm::addrspace::AddressSpace;
use crate::percpu::{self, PerCpu};
use crate::time::{now_ns, timer};

/// One CPU's run queue.
pub struct Rq {
    rt: RtQueue<Arc<Thread>>,
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
            rt: RtQueue::new(),
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

fn update_curr(cur: &Thread, now: u64) {
    let s = sched(cur);
    let delta = now.saturating_sub(s.exec_start_ns);
    s.exec_start_ns = now;
    s.sum_exec_ns += delta;
    if s.is_idle_thread {
        return;
    }
    match s.params.policy {
        Policy::Rr => s.rr_left_ns = s.rr_left_ns.saturating_sub(delta),
        Policy::Fifo => {}
        _ => s.vruntime += vruntime_delta(delta, s.params.weight()),
    }
}

fn enqueue(rq: &mut Rq, t: Arc<Thread>, head: bool) {
    let s = sched(&t);
    match s.params.policy.class() {
        Class::RealTime => {
            s.rt_prio_queued = s.params.rt_priority;
            rq.rt.push(s.params.rt_priority, t, head);
        }
        _ => {
            let (v, w) = (s.vruntime, s.params.weight());
            s.fair_key = Some(rq.fair.insert(v, w, t));
        }
    }
}

/// Removes a Ready thread from its queue; false if it was not queued there.
fn dequeue(rq: &mut Rq, t: &Arc<Thread>) -> bool {
    let s = sched(t);
    match s.params.policy.class() {
        Class::RealTime => rq.rt.remove(s.rt_prio_queued, |x| Arc::ptr_eq(x, t)).is_some(),
        _ => s.fair_key.take().is_some_and(|k| rq.fair.remove(k).is_some()),
    }
}

fn pick_next(rq: &mut Rq) -> Option<Arc<Thread>> {
    if let Some((_, t)) = rq.rt.pop() {
        return Some(t);
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

/// Asks `cpu` to reschedule (IPI if it is another CPU).
fn resched_cpu(cpu: &PerCpu) {
    cpu.need_resched.store(true, Ordering::Release);
    if cpu.id != percpu::this().id {
        apic::send_ipi(cpu.apic_id, apic::RESCHED_VECTOR);
    }
}

fn check_preempt(cpu: &PerCpu, rq: &mut Rq, woken: &Thread) {
    let cur = rq.current.clone();
    let (ws, cs) = (sched(woken), sched(&cur));
    let preempt = if cs.is_idle_thread {
        true
    } else {
        match (ws.params.policy.class(), cs.params.policy.class()) {
            (Class::RealTime, Class::RealTime) => ws.params.rt_priority > cs.params.rt_priority,
            (Class::RealTime, _) => true,
            (_, Class::RealTime) => false,
            _ => {
                update_curr(&cur, now_ns());
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
    let end = if s.is_idle_thread {
        u64::MAX
    } else {
        match s.params.policy {
            Policy::Fifo => u64::MAX,
            Policy::Rr => {
                if s.rr_left_ns == 0 {
                    s.rr_left_ns = RR_QUANTUM_NS;
                }
                if rq.rt.highest() == Some(s.params.rt_priority) {
                    now + s.rr_left_ns
                } else {
                    u64::MAX
                }
            }
            _ => {
                if rq.fair.is_empty() {
                    u64::MAX
                } else {
                    let w = s.params.weight();
                    now + slice_ns(w, rq.fair.total_weight() + u64::from(w), rq.fair.len() + 1)
                }
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
        let stolen = match orq.rt.remove_any(allowed) {
            Some((_, t)) => Some(t),
            None => orq.fair.remove_first(allowed).map(|(_, t)| {
                let s = sched(&t);
                s.fair_key = None;
                s.vruntime = s.vruntime.saturating_sub(orq.fair.min_vruntime()) + rq.fair.min_vruntime();
                t
            }),
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
    let prev = rq.current.clone();
    update_curr(&prev, now);
    let ps = sched(&prev);
    if prev.state() == State::Running && !ps.is_idle_thread {
        prev.set_state(State::Ready);
        if ps.affinity & (1 << cpu.id) == 0 {
            // No longer allowed here: moved by `finish_switch` once the lock is free.
            prev.set_state(State::Blocked);
            rq.migrate = Some(prev.clone());
        } else {
            let yielded = core::mem::take(&mut rq.yield_requested);
            let rr_expired = ps.params.policy == Policy::Rr && ps.rr_left_ns == 0;
            if yielded && ps.params.policy.class() == Class::Fair {
                ps.vruntime = ps.vruntime.max(rq.fair.rightmost().unwrap_or(0));
            }
            let head = ps.params.policy.class() == Class::RealTime && !yielded && !rr_expired;
            enqueue(rq, prev.clone(), head);
        }
    }
    rq.yield_requested = false;
    let next = match pick_next(rq) {
        Some(t) => t,
        None => idle_balance(cpu, rq).unwrap_or_else(|| rq.idle_thread.clone()),
    };
    let ns = sched(&next);
    rq.fair.update_min(if ns.params.policy.class() == Class::Fair && !ns.is_idle_thread { Some(ns.vruntime) } else { None });
    ns.exec_start_ns = now;
    next.set_state(State::Running);
    next.cpu.store(cpu.id, Ordering::Relaxed);
    rq.current = next.clone();
    cpu.current.store(Arc::as_ptr(&next) as *mut Thread, Ordering::Relaxed);
    let was_idle = cpu.idle.swap(ns.is_idle_thread, Ordering::Relaxed);
    if was_idle && !ns.is_idle_thread {
        let since = cpu.idle_since.load(Ordering::Relaxed);
        cpu.idle_ns.fetch_add(now.saturating_sub(since), Ordering::Relaxed);
    } else if !was_idle && ns.is_idle_thread {
        cpu.idle_since.store(now, Ordering::Relaxed);
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
    let irq = irq_flags::save_and_disable();
    let src = lock_thread_rq(t);
    match t.state() {
        State::Blocked => {
            let target = select_cpu(t, src.id);
            t.set_state(State::Ready);
            let s = sched(t);
            if target == src.id {
                let rq = rq_of(src);
                if s.params.policy.class() != Class::RealTime {
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
    if s.params.policy.class() != Class::RealTime {
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

/// Changes a thread's policy/priority and/or CPU affinity, requeueing or migrating it.
pub fn set_params(t: &Arc<Thread>, params: Option<Params>, affinity: Option<u64>) {
    let irq = irq_flags::save_and_disable();
    let cpu = lock_thread_rq(t);
    let rq = rq_of(cpu);
    let queued = t.state() == State::Ready && dequeue(rq, t);
    let s = sched(t);
    if let Some(p) = params {
        if p.policy.class() == Class::Fair && s.params.policy.class() != Class::Fair {
            s.vruntime = rq.fair.min_vruntime();
        }
        s.params = p;
        s.rr_left_ns = RR_QUANTUM_NS;
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
            return;
        }
    } else if t.state() == State::Running {
        // Re-evaluate: a lowered priority or a forbidden CPU takes effect at once.
        resched_cpu(cpu);
    }
    // SAFETY: taken by lock_thread_rq.
    unsafe { cpu.rq.force_unlock() };
    irq_flags::restore(irq);
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
        cpu::enable_interrupts_and_halt();
    }
}

/// Handler of the reschedule IPI: the work happens on the way out (`trap_exit`).
pub(crate) fn resched_ipi(_: &mut TrapFrame) {}
