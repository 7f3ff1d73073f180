//! Wait queues: threads sleep until an event wakes them, with optional interruption
//! (signals) and deadlines (one-shot timers). Waiters re-check their condition after every
//! wake-up, so spurious wake-ups are harmless and no wake-up is lost.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::SpinLock;
use crate::sched::core::{block_current, current, current_arc, wake};
use crate::sched::thread::Thread;
use crate::time::{now_ns, timer};

/// Why a wait ended without its condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// A signal (or other interrupt request) arrived.
    Interrupted,
    /// The deadline passed.
    TimedOut,
}

/// A function run on every wake-up of a queue (epoll watches files this way). It runs
/// in the waker's context (possibly an interrupt handler) with no queue lock held, and
/// returns false to unregister itself.
pub type WakeCallback = Arc<dyn Fn() -> bool + Send + Sync>;

/// A queue of sleeping threads, plus callbacks run on every wake-up.
#[derive(Default)]
pub struct WaitQueue {
    waiters: SpinLock<VecDeque<Arc<Thread>>>,
    callbacks: SpinLock<alloc::vec::Vec<(u64, WakeCallback)>>,
}

static NEXT_CALLBACK: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// How a wait may end early.
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitOptions {
    /// End with `Interrupted` when the thread has a pending signal.
    pub interruptible: bool,
    /// Absolute monotonic deadline in ns.
    pub deadline_ns: Option<u64>,
}

impl WaitOptions {
    /// Interruptible, no deadline.
    pub const INTERRUPTIBLE: Self = Self { interruptible: true, deadline_ns: None };
    /// Neither interruptible nor timed.
    pub const UNINTERRUPTIBLE: Self = Self { interruptible: false, deadline_ns: None };
}

impl WaitQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self { waiters: SpinLock::new(VecDeque::new()), callbacks: SpinLock::new(alloc::vec::Vec::new()) }
    }

    /// Registers a callback run on every wake-up; returns its id.
    pub fn add_callback(&self, cb: WakeCallback) -> u64 {
        let id = NEXT_CALLBACK.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        self.callbacks.lock().push((id, cb));
        id
    }

    /// Unregisters a callback.
    pub fn remove_callback(&self, id: u64) {
        self.callbacks.lock().retain(|(i, _)| *i != id);
    }

    fn run_callbacks(&self) {
        let cbs: alloc::vec::Vec<(u64, WakeCallback)> = {
            let c = self.callbacks.lock();
            if c.is_empty() {
                return;
            }
            c.clone()
        };
        let mut dead = alloc::vec::Vec::new();
        for (id, cb) in cbs {
            if !cb() {
                dead.push(id);
            }
        }
        if !dead.is_empty() {
            self.callbacks.lock().retain(|(i, _)| !dead.contains(i));
        }
    }

    fn remove(&self, t: &Arc<Thread>) {
        let mut w = self.waiters.lock();
        if let Some(i) = w.iter().position(|x| Arc::ptr_eq(x, t)) {
            w.remove(i);
        }
    }

    /// Sleeps until `cond` returns `Some`, honouring `opts`.
    pub fn wait<R>(&self, opts: WaitOptions, mut cond: impl FnMut() -> Option<R>) -> Result<R, WaitError> {
        let me = current_arc();
        loop {
            if let Some(r) = cond() {
                return Ok(r);
            }
            if opts.interruptible && me.interrupt_pending() {
                return Err(WaitError::Interrupted);
            }
            if opts.deadline_ns.is_some_and(|d| now_ns() >= d) {
                return Err(WaitError::TimedOut);
            }
            {
                let mut w = self.waiters.lock();
                if !w.iter().any(|x| Arc::ptr_eq(x, &me)) {
                    w.push_back(me.clone());
                }
            }
            if let Some(r) = cond() {
                self.remove(&me);
                return Ok(r);
            }
            if opts.interruptible && me.interrupt_pending() {
                self.remove(&me);
                return Err(WaitError::Interrupted);
            }
            let t = opts.deadline_ns.map(|d| timer::add(d, timer::TimerAction::Wake(me.clone())));
            block_current();
            if let Some(t) = t {
                timer::cancel(&t);
            }
            self.remove(&me);
        }
    }

    /// Sleeps until `cond` holds; neither interruptible nor timed.
    pub fn wait_until(&self, mut cond: impl FnMut() -> bool) {
        let _ = self.wait(WaitOptions::UNINTERRUPTIBLE, || cond().then_some(()));
    }

    /// Adds `t` as a waiter (for waits on several queues at once, like `poll`); the caller
    /// re-checks its condition, blocks, and calls [`remove_waiter`](Self::remove_waiter).
    pub fn add_waiter(&self, t: &Arc<Thread>) {
        let mut w = self.waiters.lock();
        if !w.iter().any(|x| Arc::ptr_eq(x, t)) {
            w.push_back(t.clone());
        }
    }

    /// Removes `t` if it is still waiting here.
    pub fn remove_waiter(&self, t: &Arc<Thread>) {
        self.remove(t);
    }

    /// Wakes the longest-waiting thread; returns whether there was one.
    pub fn wake_one(&self) -> bool {
        let woken = self.wake_thread();
        self.run_callbacks();
        woken
    }

    fn wake_thread(&self) -> bool {
        let t = self.waiters.lock().pop_front();
        match t {
            Some(t) => {
                wake(&t);
                true
            }
            None => false,
        }
    }

    /// Wakes up to `n` threads; returns how many.
    pub fn wake_n(&self, n: usize) -> usize {
        let mut woken = 0;
        while woken < n && self.wake_thread() {
            woken += 1;
        }
        self.run_callbacks();
        woken
    }

    /// Wakes every waiting thread.
    pub fn wake_all(&self) -> usize {
        let all = core::mem::take(&mut *self.waiters.lock());
        let n = all.len();
        for t in all {
            wake(&t);
        }
        self.run_callbacks();
        n
    }

    /// Number of sleeping threads.
    pub fn len(&self) -> usize {
        self.waiters.lock().len()
    }

    /// True if nobody waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sleeps until the absolute monotonic time `deadline_ns` (or a signal, if interruptible).
pub fn sleep_until(deadline_ns: u64, interruptible: bool) -> Result<(), WaitError> {
    let me = current_arc();
    loop {
        if now_ns() >= deadline_ns {
            return Ok(());
        }
        if interruptible && current().interrupt_pending() {
            return Err(WaitError::Interrupted);
        }
        let t = timer::add(deadline_ns, timer::TimerAction::Wake(me.clone()));
        block_current();
        timer::cancel(&t);
    }
}
