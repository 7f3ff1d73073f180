//! The scheduler: per-CPU run queues holding scheduling classes (real-time FIFO/RR above
//! fair above idle), threads, blocking and wake-up, and preemption.
pub mod fair_queue;
pub mod policy;
pub mod rt_queue;

#[cfg(target_os = "none")]
pub mod core;
#[cfg(target_os = "none")]
pub mod thread;

#[cfg(target_os = "none")]
pub(crate) use self::core::trap_exit;
