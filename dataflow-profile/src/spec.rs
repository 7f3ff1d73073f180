//! The profile as written: [`ProfileSpec`] and [`RuleSpec`], filled by a front end (TOML or
//! the compiled form) and not yet checked. Numbers that validation range-checks are kept
//! wide (`i64`) so that an out-of-range value reaches [`crate::validate()`] and gets its
//! precise error.

use crate::cpuset::CpuSet;
use alloc::string::String;
use alloc::vec::Vec;

/// Which of Dora's own programs a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `dora coordinator`.
    Coordinator,
    /// `dora daemon` (also `dora run`, which runs the daemon in-process).
    Daemon,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "coordinator" => Some(Role::Coordinator),
            "daemon" => Some(Role::Daemon),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Daemon => "daemon",
        }
    }
}

/// Which threads of a matched process a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threads {
    /// Every thread, also the ones the process creates later.
    #[default]
    All,
    /// Only the main thread (the thread whose id is the process id).
    Main,
}

impl Threads {
    pub fn parse(text: &str) -> Option<Threads> {
        match text {
            "all" => Some(Threads::All),
            "main" => Some(Threads::Main),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Threads::All => "all",
            Threads::Main => "main",
        }
    }
}

/// A Linux scheduling class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Fifo,
    Rr,
    Deadline,
    Other,
    Batch,
    Idle,
}

impl Class {
    /// `fifo`, `rr`, `deadline`, `other`, `batch`, `idle`, case-insensitive, with or without
    /// a `SCHED_` prefix; `normal` is `other`.
    pub fn parse(text: &str) -> Option<Class> {
        let mut lower = [0u8; 16];
        let bytes = text.as_bytes();
        if bytes.len() > lower.len() {
            return None;
        }
        for (l, b) in lower.iter_mut().zip(bytes) {
            *l = b.to_ascii_lowercase();
        }
        let mut name = &lower[..bytes.len()];
        if let Some(rest) = name.strip_prefix(b"sched_") {
            name = rest;
        }
        match name {
            b"fifo" => Some(Class::Fifo),
            b"rr" => Some(Class::Rr),
            b"deadline" => Some(Class::Deadline),
            b"other" | b"normal" => Some(Class::Other),
            b"batch" => Some(Class::Batch),
            b"idle" => Some(Class::Idle),
            _ => None,
        }
    }

    /// The profile spelling (`fifo`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Class::Fifo => "fifo",
            Class::Rr => "rr",
            Class::Deadline => "deadline",
            Class::Other => "other",
            Class::Batch => "batch",
            Class::Idle => "idle",
        }
    }

    /// The Linux name (`SCHED_FIFO`, ...).
    pub fn linux_name(self) -> &'static str {
        match self {
            Class::Fifo => "SCHED_FIFO",
            Class::Rr => "SCHED_RR",
            Class::Deadline => "SCHED_DEADLINE",
            Class::Other => "SCHED_OTHER",
            Class::Batch => "SCHED_BATCH",
            Class::Idle => "SCHED_IDLE",
        }
    }

    /// FIFO, RR and DEADLINE.
    pub fn is_realtime(self) -> bool {
        matches!(self, Class::Fifo | Class::Rr | Class::Deadline)
    }
}

/// A CPU set as written: a list, or a name the partition resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSpec {
    List(CpuSet),
    /// Every CPU of the machine that is not a housekeeping CPU (only for `realtime`).
    Rest,
    Housekeeping,
    Realtime,
    /// Every CPU of the machine.
    All,
}

impl CpuSpec {
    /// `rest`, `housekeeping`, `realtime`, `all`, or a cpulist (`0,2-3`, `none`).
    pub fn parse(text: &str) -> Result<CpuSpec, crate::cpuset::CpuListError> {
        Ok(match text.trim() {
            "rest" => CpuSpec::Rest,
            "housekeeping" => CpuSpec::Housekeeping,
            "realtime" => CpuSpec::Realtime,
            "all" => CpuSpec::All,
            other => CpuSpec::List(CpuSet::parse_list(other)?),
        })
    }
}

impl core::fmt::Display for CpuSpec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CpuSpec::List(s) => write!(f, "{s}"),
            CpuSpec::Rest => write!(f, "rest"),
            CpuSpec::Housekeeping => write!(f, "housekeeping"),
            CpuSpec::Realtime => write!(f, "realtime"),
            CpuSpec::All => write!(f, "all"),
        }
    }
}

/// One rule as written. A thread is placed by the first rule (in file order) whose every
/// given criterion (`role`, `node`, `exe`, `thread_name`, `threads`) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub name: String,
    /// Dora's coordinator or daemon.
    pub role: Option<Role>,
    /// The dataflow node id (`node_id` in the process's `DORA_NODE_CONFIG`).
    pub node: Option<String>,
    /// Glob on the executable: the absolute path when it contains `/`, else the file name.
    pub exe: Option<String>,
    /// Glob on the thread's name (Linux `comm`, at most 15 bytes).
    pub thread_name: Option<String>,
    pub threads: Threads,
    pub class: Class,
    pub priority: Option<i64>,
    pub nice: Option<i64>,
    pub runtime_ns: Option<u64>,
    pub deadline_ns: Option<u64>,
    pub period_ns: Option<u64>,
    /// DEADLINE: how many threads in all (over every matching process) get a reservation.
    pub max_threads: Option<i64>,
    /// Default: the real-time CPUs for FIFO/RR/DEADLINE, the housekeeping CPUs otherwise.
    pub cpus: Option<CpuSpec>,
}

impl RuleSpec {
    /// A rule named `name` of class `class` with nothing else set.
    pub fn new(name: &str, class: Class) -> RuleSpec {
        RuleSpec {
            name: name.into(),
            role: None,
            node: None,
            exe: None,
            thread_name: None,
            threads: Threads::All,
            class,
            priority: None,
            nice: None,
            runtime_ns: None,
            deadline_ns: None,
            period_ns: None,
            max_threads: None,
            cpus: None,
        }
    }
}

/// The default deadline bandwidth bound: 95% of each CPU (Linux's `sched_rt_runtime_us`
/// 950000 of `sched_rt_period_us` 1000000).
pub const DEFAULT_DEADLINE_BOUND_PPM: i64 = 950_000;

/// The file name pattern of Dora's executable unless the profile says otherwise.
pub const DEFAULT_DORA_EXE: &str = "dora";

/// A whole profile as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    pub name: String,
    /// Interrupts, Dora's coordinator and control plane, everything unmatched.
    pub housekeeping: Option<CpuSpec>,
    pub realtime: Option<CpuSpec>,
    /// Per-CPU bound on the sum of DEADLINE runtime/period, in parts per million.
    pub deadline_bound_ppm: i64,
    /// CPUs whose idle loop polls for work instead of halting (`idle_poll`; None: none).
    pub idle_poll: Option<CpuSpec>,
    /// Glob on the file name of Dora's executable (for `role`).
    pub dora_exe: String,
    /// What unmatched threads get (name `default`, no criteria, class OTHER/BATCH/IDLE).
    pub default: RuleSpec,
    pub rules: Vec<RuleSpec>,
}

impl ProfileSpec {
    /// An empty profile: no partition yet, unmatched threads SCHED_OTHER nice 0 on the
    /// housekeeping CPUs, no rules.
    pub fn new(name: &str) -> ProfileSpec {
        ProfileSpec {
            name: name.into(),
            housekeeping: None,
            realtime: None,
            deadline_bound_ppm: DEFAULT_DEADLINE_BOUND_PPM,
            idle_poll: None,
            dora_exe: DEFAULT_DORA_EXE.into(),
            default: RuleSpec::new("default", Class::Other),
            rules: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names() {
        for c in [Class::Fifo, Class::Rr, Class::Deadline, Class::Other, Class::Batch, Class::Idle] {
            assert_eq!(Class::parse(c.name()), Some(c));
            assert_eq!(Class::parse(c.linux_name()), Some(c));
        }
        assert_eq!(Class::parse("Sched_Fifo"), Some(Class::Fifo));
        assert_eq!(Class::parse("normal"), Some(Class::Other));
        assert_eq!(Class::parse("edf"), None);
        assert_eq!(Class::parse("a-very-long-class-name"), None);
        assert!(Class::Deadline.is_realtime() && !Class::Batch.is_realtime());
    }

    #[test]
    fn cpu_specs() {
        assert_eq!(CpuSpec::parse("rest"), Ok(CpuSpec::Rest));
        assert_eq!(CpuSpec::parse(" realtime "), Ok(CpuSpec::Realtime));
        assert_eq!(CpuSpec::parse("1-2"), Ok(CpuSpec::List(CpuSet::from_cpus(&[1, 2]))));
        assert!(CpuSpec::parse("one").is_err());
        assert_eq!(alloc::format!("{}", CpuSpec::List(CpuSet::from_cpus(&[0, 1]))), "0-1");
    }

    #[test]
    fn roles_and_threads() {
        assert_eq!(Role::parse("daemon"), Some(Role::Daemon));
        assert_eq!(Role::parse(Role::Coordinator.name()), Some(Role::Coordinator));
        assert_eq!(Role::parse("cli"), None);
        assert_eq!(Threads::parse("main"), Some(Threads::Main));
        assert_eq!(Threads::parse(Threads::All.name()), Some(Threads::All));
        assert_eq!(Threads::parse("some"), None);
    }
}
