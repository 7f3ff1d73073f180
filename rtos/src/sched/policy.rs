//! Scheduling policies and parameters as Linux numbers them (`include/uapi/linux/sched.h`),
//! and the class each policy belongs to: deadline (EDF with CBS) above real-time (FIFO/RR,
//! priorities 1-99) above fair (OTHER/BATCH, nice -20..19) above idle.

use super::deadline::DlParams;

/// A thread's scheduling policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Other,
    Fifo,
    Rr,
    Batch,
    Idle,
    Deadline,
}

impl Policy {
    /// The Linux policy number.
    pub fn to_linux(self) -> i32 {
        match self {
            Policy::Other => 0,
            Policy::Fifo => 1,
            Policy::Rr => 2,
            Policy::Batch => 3,
            Policy::Idle => 5,
            Policy::Deadline => 6,
        }
    }

    /// The policy for a Linux number (without `SCHED_RESET_ON_FORK`).
    pub fn from_linux(n: i32) -> Option<Self> {
        Some(match n {
            0 => Policy::Other,
            1 => Policy::Fifo,
            2 => Policy::Rr,
            3 => Policy::Batch,
            5 => Policy::Idle,
            6 => Policy::Deadline,
            _ => return None,
        })
    }

    /// The class that schedules this policy.
    pub fn class(self) -> Class {
        match self {
            Policy::Deadline => Class::Deadline,
            Policy::Fifo | Policy::Rr => Class::RealTime,
            Policy::Other | Policy::Batch => Class::Fair,
            Policy::Idle => Class::Idle,
        }
    }
}

/// Scheduling classes, highest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Idle = 0,
    Fair = 1,
    RealTime = 2,
    Deadline = 3,
}

/// Linux's load weight for nice -20..=19 (`sched_prio_to_weight`, kernel/sched/core.c):
/// each nice step changes CPU share by about 10%; nice 0 is 1024.
pub const NICE_TO_WEIGHT: [u32; 40] = [
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904, 3906, 3121,
    2501, 1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29, 23,
    18, 15,
];

/// The weight of a nice value (clamped to -20..=19).
pub fn weight(nice: i8) -> u32 {
    NICE_TO_WEIGHT[(i32::from(nice).clamp(-20, 19) + 20) as usize]
}

/// Weight of `SCHED_IDLE` threads inside the fair class (Linux `WEIGHT_IDLEPRIO`).
pub const IDLE_WEIGHT: u32 = 3;

/// Round-robin quantum (Linux `RR_TIMESLICE`, 100 ms).
pub const RR_QUANTUM_NS: u64 = 100_000_000;
/// Fair-class scheduling period for few threads (Linux `sysctl_sched_latency`, 6 ms).
pub const FAIR_LATENCY_NS: u64 = 6_000_000;
/// Shortest fair slice (Linux `sysctl_sched_min_granularity`, 0.75 ms).
pub const FAIR_MIN_SLICE_NS: u64 = 750_000;
/// A woken fair thread preempts only if it is this far behind (weighted), 1 ms.
pub const FAIR_WAKEUP_GRANULARITY_NS: u64 = 1_000_000;

/// Scheduling parameters of one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub policy: Policy,
    /// 1..=99 for FIFO/RR, 0 otherwise.
    pub rt_priority: u8,
    /// -20..=19, used by the fair class.
    pub nice: i8,
    /// The reservation of a deadline thread (zero otherwise).
    pub dl: DlParams,
}

impl Default for Params {
    fn default() -> Self {
        Self { policy: Policy::Other, rt_priority: 0, nice: 0, dl: DlParams::default() }
    }
}

impl Params {
    /// Checks Linux's rules for `sched_setscheduler`: RT policies need 1..=99, the others 0.
    pub fn valid(&self) -> bool {
        match self.policy.class() {
            Class::RealTime => (1..=99).contains(&self.rt_priority),
            Class::Deadline => self.rt_priority == 0 && self.dl.valid(),
            _ => self.rt_priority == 0,
        }
    }

    /// Whether these parameters outrank `other` (priority inheritance boosts only upwards):
    /// a higher class, or a higher real-time priority in the real-time class.
    pub fn outranks(&self, other: &Params) -> bool {
        let (a, b) = (self.policy.class(), other.policy.class());
        a > b || (a == Class::RealTime && b == Class::RealTime && self.rt_priority > other.rt_priority)
    }

    /// The fair-class weight.
    pub fn weight(&self) -> u32 {
        if self.policy == Policy::Idle {
            IDLE_WEIGHT
        } else {
            weight(self.nice)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_numbers_round_trip() {
        for p in [Policy::Other, Policy::Fifo, Policy::Rr, Policy::Batch, Policy::Idle, Policy::Deadline] {
            assert_eq!(Policy::from_linux(p.to_linux()), Some(p));
        }
        assert_eq!(Policy::from_linux(4), None, "SCHED_ISO was never merged");
        assert_eq!(Policy::from_linux(7), None);
        assert_eq!(Policy::Deadline.class(), Class::Deadline);
    }

    #[test]
    fn outranking() {
        let rt = |p| Params { policy: Policy::Fifo, rt_priority: p, ..Params::default() };
        let dl = Params { policy: Policy::Deadline, dl: DlParams::new(1_000_000, 10_000_000, 10_000_000, 0), ..Params::default() };
        assert!(dl.valid());
        assert!(rt(10).outranks(&Params::default()));
        assert!(rt(11).outranks(&rt(10)) && !rt(10).outranks(&rt(10)));
        assert!(dl.outranks(&rt(99)) && !rt(99).outranks(&dl));
        assert!(!Params::default().outranks(&Params { nice: 10, ..Params::default() }));
    }

    #[test]
    fn validity_and_weights() {
        assert!(Params { policy: Policy::Fifo, rt_priority: 99, ..Params::default() }.valid());
        assert!(!Params { policy: Policy::Rr, rt_priority: 0, ..Params::default() }.valid());
        assert!(!Params { policy: Policy::Other, rt_priority: 5, ..Params::default() }.valid());
        assert!(!Params { policy: Policy::Deadline, ..Params::default() }.valid(), "no reservation");
        assert_eq!(weight(0), 1024);
        assert_eq!(weight(-20), 88761);
        assert_eq!(weight(19), 15);
        assert_eq!(weight(100), 15);
        assert!(Class::Deadline > Class::RealTime && Class::RealTime > Class::Fair && Class::Fair > Class::Idle);
    }
}
