//! Id allocation (pids and tids share one space, as in Linux) and a one-shot completion
//! used by `vfork`.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use rtos::sync::WaitQueue;

use super::Pid;

/// Largest pid (Linux's default `pid_max` on 64-bit is 4194304).
pub const PID_MAX: Pid = 4_194_304;

static NEXT: AtomicI32 = AtomicI32::new(1);

/// Allocates the next free id, wrapping at `PID_MAX` (and skipping ids in use).
pub fn alloc_pid() -> Option<Pid> {
    for _ in 0..PID_MAX {
        let mut p = NEXT.fetch_add(1, Ordering::Relaxed);
        if p >= PID_MAX {
            // Linux restarts above the range reserved for early daemons.
            let _ = NEXT.compare_exchange(p + 1, 301, Ordering::Relaxed, Ordering::Relaxed);
            p = 300;
        }
        if p > 0 && !super::id_in_use(p) {
            return Some(p);
        }
    }
    None
}

/// A one-shot event threads can wait for.
#[derive(Default)]
pub struct Completion {
    done: AtomicBool,
    wq: WaitQueue,
}

impl Completion {
    /// Not yet completed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks it done and wakes all waiters.
    pub fn complete(&self) {
        self.done.store(true, Ordering::Release);
        self.wq.wake_all();
    }

    /// Sleeps until done (not interruptible: the vfork parent must not run early).
    pub fn wait(&self) {
        self.wq.wait_until(|| self.done.load(Ordering::Acquire));
    }
}
