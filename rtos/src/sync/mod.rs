//! Synchronisation: interrupt-safe spinlocks, wait queues and a sleeping mutex.
//!
//! Every blocking primitive here sleeps on a [`WaitQueue`] and is woken by the event;
//! nothing polls or yields in a loop.
pub mod irqsoff;
pub mod spinlock;
#[cfg(target_os = "none")]
pub mod mutex;
#[cfg(target_os = "none")]
pub mod waitqueue;

#[cfg(target_os = "none")]
pub use mutex::{Mutex, MutexGuard};
pub use spinlock::{SpinLock, SpinLockGuard};
#[cfg(target_os = "none")]
pub use waitqueue::{sleep_until, WaitError, WaitOptions, WaitQueue};
