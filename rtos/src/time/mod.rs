//! Time: one calibrated monotonic nanosecond clock (from the TSC) and per-CPU one-shot
//! timers. There is no periodic tick: each CPU's local APIC timer is armed for its
//! next timer or the end of the running thread's time slice, whichever is first.
pub mod clock;
#[cfg(target_os = "none")]
pub mod timer;

pub use clock::{now_ns, realtime_ns};
