//! The validated profile for one machine: concrete CPU sets, Linux scheduling policies, and
//! the admitted DEADLINE load per CPU. Built only by [`crate::validate()`].

use crate::cpuset::CpuSet;
use crate::duration::format_ns;
use crate::spec::{Class, Role, Threads};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Linux policy numbers (include/uapi/linux/sched.h).
pub const SCHED_OTHER: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
pub const SCHED_IDLE: u32 = 5;
pub const SCHED_DEADLINE: u32 = 6;

/// A scheduling class with its parameters, already range-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Fifo { priority: u8 },
    Rr { priority: u8 },
    Deadline { runtime_ns: u64, deadline_ns: u64, period_ns: u64 },
    Other { nice: i8 },
    Batch { nice: i8 },
    Idle,
}

impl Policy {
    pub fn class(&self) -> Class {
        match self {
            Policy::Fifo { .. } => Class::Fifo,
            Policy::Rr { .. } => Class::Rr,
            Policy::Deadline { .. } => Class::Deadline,
            Policy::Other { .. } => Class::Other,
            Policy::Batch { .. } => Class::Batch,
            Policy::Idle => Class::Idle,
        }
    }

    /// The Linux policy number (`sched_setattr`'s `sched_policy`).
    pub fn linux_policy(&self) -> u32 {
        match self {
            Policy::Fifo { .. } => SCHED_FIFO,
            Policy::Rr { .. } => SCHED_RR,
            Policy::Deadline { .. } => SCHED_DEADLINE,
            Policy::Other { .. } => SCHED_OTHER,
            Policy::Batch { .. } => SCHED_BATCH,
            Policy::Idle => SCHED_IDLE,
        }
    }

    /// `sched_priority` (0 outside FIFO/RR).
    pub fn rt_priority(&self) -> u32 {
        match self {
            Policy::Fifo { priority } | Policy::Rr { priority } => *priority as u32,
            _ => 0,
        }
    }

    /// `sched_nice` (0 outside OTHER/BATCH).
    pub fn nice(&self) -> i32 {
        match self {
            Policy::Other { nice } | Policy::Batch { nice } => *nice as i32,
            _ => 0,
        }
    }

    pub fn is_realtime(&self) -> bool {
        self.class().is_realtime()
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.class().linux_name())?;
        match self {
            Policy::Fifo { priority } | Policy::Rr { priority } => write!(f, " priority {priority}"),
            Policy::Deadline { runtime_ns, deadline_ns, period_ns } => write!(
                f,
                " runtime {} deadline {} period {}",
                format_ns(*runtime_ns),
                format_ns(*deadline_ns),
                format_ns(*period_ns)
            ),
            Policy::Other { nice } | Policy::Batch { nice } => write!(f, " nice {nice}"),
            Policy::Idle => Ok(()),
        }
    }
}

/// What a rule matches; every criterion that is set must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matcher {
    pub role: Option<Role>,
    pub node: Option<String>,
    pub exe: Option<String>,
    pub thread_name: Option<String>,
    pub threads: Threads,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub matcher: Matcher,
    pub policy: Policy,
    pub cpus: CpuSet,
    /// DEADLINE: the number of threads the kernel may give this reservation (over all
    /// processes); 0 for the other classes (no limit).
    pub max_threads: u32,
}

/// A profile validated for a machine with `cpus` CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// The machine's CPU count the profile was validated for.
    pub cpus: u32,
    pub housekeeping: CpuSet,
    pub realtime: CpuSet,
    pub deadline_bound_ppm: u32,
    /// CPUs whose idle loop polls for work instead of halting.
    pub idle_poll: CpuSet,
    pub dora_exe: String,
    /// Unmatched threads.
    pub default_policy: Policy,
    pub default_cpus: CpuSet,
    pub rules: Vec<Rule>,
    /// Admitted DEADLINE utilisation per CPU (index = CPU), parts per million, as admission
    /// spread it (see [`crate::admission`]).
    pub deadline_load_ppm: Vec<u32>,
}

fn percent(ppm: u32) -> (u32, u32) {
    (ppm / 10_000, (ppm % 10_000) / 1_000)
}

/// A summary for people (`axle-profile check`, and what the kernel can show under /proc).
impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "profile `{}` for {} CPUs", self.name, self.cpus)?;
        let (bp, bf) = percent(self.deadline_bound_ppm);
        writeln!(
            f,
            "  housekeeping CPUs {}; real-time CPUs {}; DEADLINE bound {bp}.{bf}% per CPU",
            self.housekeeping, self.realtime
        )?;
        if !self.idle_poll.is_empty() {
            writeln!(f, "  idle CPUs {} poll for work instead of halting", self.idle_poll)?;
        }
        writeln!(f, "  unmatched threads: {} on CPUs {}", self.default_policy, self.default_cpus)?;
        for (i, r) in self.rules.iter().enumerate() {
            write!(f, "  rule #{} `{}`:", i + 1, r.name)?;
            let m = &r.matcher;
            if let Some(role) = m.role {
                write!(f, " role={}", role.name())?;
            }
            if let Some(n) = &m.node {
                write!(f, " node={n}")?;
            }
            if let Some(e) = &m.exe {
                write!(f, " exe={e}")?;
            }
            if let Some(t) = &m.thread_name {
                write!(f, " thread_name={t}")?;
            }
            write!(f, " threads={} -> {} on CPUs {}", m.threads.name(), r.policy, r.cpus)?;
            if r.max_threads > 0 {
                write!(f, " (max {} threads)", r.max_threads)?;
            }
            writeln!(f)?;
        }
        write!(f, "  DEADLINE load:")?;
        for (cpu, load) in self.deadline_load_ppm.iter().enumerate() {
            let (p, frac) = percent(*load);
            write!(f, " CPU{cpu} {p}.{frac}%")?;
        }
        writeln!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn policy_numbers_and_display() {
        let p = Policy::Fifo { priority: 80 };
        assert_eq!((p.linux_policy(), p.rt_priority(), p.nice()), (1, 80, 0));
        assert_eq!(p.to_string(), "SCHED_FIFO priority 80");
        let d = Policy::Deadline { runtime_ns: 500_000, deadline_ns: 2_000_000, period_ns: 10_000_000 };
        assert_eq!(d.linux_policy(), 6);
        assert_eq!(d.to_string(), "SCHED_DEADLINE runtime 500us deadline 2ms period 10ms");
        assert!(d.is_realtime());
        let o = Policy::Batch { nice: -5 };
        assert_eq!((o.linux_policy(), o.rt_priority(), o.nice()), (3, 0, -5));
        assert_eq!(Policy::Idle.linux_policy(), 5);
        assert_eq!(Policy::Rr { priority: 1 }.linux_policy(), 2);
        assert_eq!(Policy::Other { nice: 0 }.to_string(), "SCHED_OTHER nice 0");
        assert!(!Policy::Idle.is_realtime());
    }
}
