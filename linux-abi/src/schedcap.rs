//! Scheduling capabilities: who may enter a real-time or deadline class.
//!
//! CPU time beyond the fair share is handed out as a capability, as in seL4's MCS kernel:
//! a [`SchedCap`] names the CPUs, the classes, the highest real-time priority and the
//! deadline bandwidth a process may use. The dataflow profile grants them (at `execve`,
//! by matching the program); the kernel checks every `sched_setscheduler`,
//! `sched_setattr` and `sched_setaffinity` of a real-time or deadline thread against the
//! holder's capability, and admission control still decides whether the CPU can afford
//! a deadline reservation (so a capability never yields more than the CPU can admit).
//!
//! Without an active profile, the Linux rule applies: privileged processes (Axle runs
//! everything as root) may use every class. With a profile active, a process without a
//! capability gets EPERM for real-time and deadline requests, root or not. Moving to
//! SCHED_OTHER, BATCH or IDLE is always allowed. Pure logic, tested on the host.

use core::sync::atomic::{AtomicBool, Ordering};

use rtos::sched::deadline::to_bw;
use rtos::sched::policy::{Class, Params, Policy};

use crate::errno::Errno;

/// What a capability allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedCap {
    /// CPUs real-time/deadline threads of the holder may run on.
    pub cpus: u64,
    pub allow_fifo: bool,
    pub allow_rr: bool,
    pub allow_deadline: bool,
    /// Highest FIFO/RR priority.
    pub max_rt_priority: u8,
    /// Largest deadline bandwidth (runtime/period, `BW_SHIFT` fixed point) per thread.
    pub max_dl_bw: u64,
}

impl SchedCap {
    /// Everything on `cpus` (what a profile rule grants for its own placement is narrower).
    pub fn all(cpus: u64) -> Self {
        Self { cpus, allow_fifo: true, allow_rr: true, allow_deadline: true, max_rt_priority: 99, max_dl_bw: to_bw(1, 1) }
    }

    /// Whether `p` on `affinity` is within this capability.
    pub fn permits(&self, p: &Params, affinity: u64) -> bool {
        let class_ok = match p.policy {
            Policy::Fifo => self.allow_fifo && p.rt_priority <= self.max_rt_priority,
            Policy::Rr => self.allow_rr && p.rt_priority <= self.max_rt_priority,
            Policy::Deadline => self.allow_deadline && p.dl.bandwidth() <= self.max_dl_bw,
            _ => return true,
        };
        class_ok && affinity & !self.cpus == 0
    }
}

static PROFILE_ACTIVE: AtomicBool = AtomicBool::new(false);

/// Marks a dataflow profile active: from now on real-time classes need a capability.
pub fn set_profile_active(on: bool) {
    PROFILE_ACTIVE.store(on, Ordering::Release);
}

/// Whether a profile is active.
pub fn profile_active() -> bool {
    PROFILE_ACTIVE.load(Ordering::Acquire)
}

/// Decides whether a thread of a process holding `cap` may run with `p` on `affinity`.
/// `privileged` is Linux's CAP_SYS_NICE / RLIMIT_RTPRIO test (root: true).
pub fn check(profile_active: bool, privileged: bool, cap: Option<&SchedCap>, p: &Params, affinity: u64) -> Result<(), Errno> {
    if p.policy.class() < Class::RealTime {
        return Ok(());
    }
    if !profile_active {
        return if privileged { Ok(()) } else { Err(Errno::EPERM) };
    }
    match cap {
        Some(c) if c.permits(p, affinity) => Ok(()),
        _ => Err(Errno::EPERM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtos::sched::deadline::DlParams;

    fn fifo(prio: u8) -> Params {
        Params { policy: Policy::Fifo, rt_priority: prio, ..Params::default() }
    }

    fn dl(runtime_ms: u64, period_ms: u64) -> Params {
        Params { policy: Policy::Deadline, dl: DlParams::new(runtime_ms * 1_000_000, period_ms * 1_000_000, period_ms * 1_000_000, 0), ..Params::default() }
    }

    #[test]
    fn without_profile_linux_privilege_rules() {
        assert_eq!(check(false, true, None, &fifo(50), u64::MAX), Ok(()));
        assert_eq!(check(false, false, None, &fifo(50), u64::MAX), Err(Errno::EPERM));
        assert_eq!(check(false, false, None, &Params::default(), u64::MAX), Ok(()), "fair is always allowed");
    }

    #[test]
    fn with_profile_root_needs_a_capability() {
        assert_eq!(check(true, true, None, &fifo(10), 1), Err(Errno::EPERM));
        assert_eq!(check(true, true, None, &Params { policy: Policy::Batch, ..Params::default() }, 1), Ok(()));
    }

    #[test]
    fn capability_limits() {
        let cap = SchedCap { cpus: 0b10, allow_fifo: true, allow_rr: false, allow_deadline: true, max_rt_priority: 60, max_dl_bw: to_bw(3, 10) };
        assert_eq!(check(true, true, Some(&cap), &fifo(60), 0b10), Ok(()));
        assert_eq!(check(true, true, Some(&cap), &fifo(61), 0b10), Err(Errno::EPERM), "priority above the cap");
        assert_eq!(check(true, true, Some(&cap), &fifo(10), 0b11), Err(Errno::EPERM), "CPU outside the cap");
        let rr = Params { policy: Policy::Rr, rt_priority: 10, ..Params::default() };
        assert_eq!(check(true, true, Some(&cap), &rr, 0b10), Err(Errno::EPERM), "class not granted");
        assert_eq!(check(true, true, Some(&cap), &dl(3, 10), 0b10), Ok(()));
        assert_eq!(check(true, true, Some(&cap), &dl(4, 10), 0b10), Err(Errno::EPERM), "bandwidth above the cap");
        assert!(SchedCap::all(1).permits(&fifo(99), 1));
    }
}
