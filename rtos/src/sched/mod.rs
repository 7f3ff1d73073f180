//! The scheduler: per-CPU run queues holding scheduling classes (deadline EDF/CBS above
//! real-time FIFO/RR above fair above idle), threads, blocking and wake-up, preemption,
//! real-time throttling and deadline admission.
pub mod admission;
pub mod deadline;
pub mod dl_queue;
pub mod fair_queue;
pub mod policy;
pub mod rt_queue;
pub mod wakelat;

#[cfg(target_os = "none")]
pub mod core;
#[cfg(target_os = "none")]
pub mod thread;

#[cfg(target_os = "none")]
pub(crate) use self::core::trap_exit;
