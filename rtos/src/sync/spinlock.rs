//! An interrupt-safe spinlock: taking it disables interrupts on this CPU (restored on
//! release), so a lock shared with interrupt handlers cannot deadlock its own CPU, and the
//! holder is never preempted. Critical sections must be short; long ones use
//! [`super::Mutex`].

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::x86_64::irq_flags;

/// A spinlock protecting `T`.
pub struct SpinLock<T: ?Sized> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises all access to `data`.
unsafe impl<T: ?Sized + Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the data; `T: Send` is enough.
unsafe impl<T: ?Sized + Send> Send for SpinLock<T> {}

/// Proof of holding a [`SpinLock`]; releases it (and restores interrupts) on drop.
pub struct SpinLockGuard<'a, T: ?Sized> {
    lock: &'a SpinLock<T>,
    irq_was_enabled: bool,
    /// The interrupts-off tracer's start time (0: not traced) and where the lock was taken.
    traced_since: u64,
    taken_at: &'static core::panic::Location<'static>,
}

/// Spins before the lock is declared deadlocked (a kernel bug, reported as a panic).
const DEADLOCK_SPINS: u64 = 300_000_000;

impl<T> SpinLock<T> {
    /// A new unlocked lock.
    pub const fn new(value: T) -> Self {
        Self { locked: AtomicBool::new(false), data: UnsafeCell::new(value) }
    }

    /// The data, through exclusive access to the lock itself.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> SpinLock<T> {
    /// Takes the lock, disabling interrupts on this CPU until the guard drops.
    #[track_caller]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        let irq_was_enabled = irq_flags::save_and_disable();
        let traced_since = if irq_was_enabled { super::irqsoff::start() } else { 0 };
        self.acquire();
        SpinLockGuard { lock: self, irq_was_enabled, traced_since, taken_at: core::panic::Location::caller() }
    }

    /// Takes the lock if it is free.
    #[track_caller]
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let irq_was_enabled = irq_flags::save_and_disable();
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            let traced_since = if irq_was_enabled { super::irqsoff::start() } else { 0 };
            Some(SpinLockGuard { lock: self, irq_was_enabled, traced_since, taken_at: core::panic::Location::caller() })
        } else {
            irq_flags::restore(irq_was_enabled);
            None
        }
    }

    #[track_caller]
    fn acquire(&self) {
        let mut spins = 0u64;
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
                spins += 1;
                if spins == DEADLOCK_SPINS {
                    panic!("spinlock deadlock");
                }
            }
        }
    }

    /// Takes the lock without touching the interrupt flag (caller has interrupts off).
    /// Release with [`force_unlock`](Self::force_unlock).
    #[track_caller]
    pub fn lock_raw(&self) {
        self.acquire();
    }

    /// Takes the lock without touching the interrupt flag if it is free.
    pub fn try_lock_raw(&self) -> bool {
        self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Releases a lock taken with [`lock_raw`](Self::lock_raw), possibly on another stack
    /// (the scheduler takes the run-queue lock in one thread and the next thread releases it).
    ///
    /// # Safety
    /// The lock must be held by this CPU, and no guard for it may be alive.
    pub unsafe fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// True if somebody holds the lock (diagnostics only).
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }

    /// Access to the data through a raw pointer.
    ///
    /// # Safety
    /// The caller must hold the lock (e.g. via [`lock_raw`](Self::lock_raw)).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn data_unchecked(&self) -> &mut T {
        // SAFETY: the caller holds the lock, so access is exclusive.
        unsafe { &mut *self.data.get() }
    }
}

impl<T: ?Sized> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        super::irqsoff::end(self.traced_since, self.taken_at);
        irq_flags::restore(self.irq_was_enabled);
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_across_threads() {
        let l = Arc::new(SpinLock::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..10000 {
                        *l.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*l.lock(), 40000);
        assert!(l.try_lock().is_some());
    }
}
