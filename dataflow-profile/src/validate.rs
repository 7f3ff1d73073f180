//! Validation (admission) of a [`ProfileSpec`] for a machine with a given CPU count: the
//! CPU partition, every rule's criteria, class parameters and CPU set, rules that can never
//! match, and the DEADLINE bandwidth per CPU. Every problem is reported, not only the first.

use crate::admission::{admit, utilisation_ppm, Demand};
use crate::cpuset::{CpuSet, MAX_CPUS};
use crate::error::{ErrorKind, Location, ProfileError};
use crate::model::{Matcher, Policy, Profile, Rule};
use crate::pattern::{glob_match, matches_everything, min_match_len};
use crate::spec::{Class, CpuSpec, ProfileSpec, RuleSpec, Threads};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Linux's smallest SCHED_DEADLINE runtime: 2^10 ns (`DL_SCALE` in kernel/sched/sched.h).
pub const MIN_RUNTIME_NS: u64 = 1 << 10;
/// Linux's default `kernel.sched_deadline_period_min_us` (100 us).
pub const MIN_PERIOD_NS: u64 = 100_000;
/// Linux's default `kernel.sched_deadline_period_max_us` (2^22 us, about 4.19 s).
pub const MAX_PERIOD_NS: u64 = (1 << 22) * 1_000;
/// Linux's thread names (`comm`) hold at most 15 bytes.
pub const THREAD_NAME_MAX: usize = 15;
/// The largest `max_threads` a DEADLINE rule may ask for.
pub const MAX_THREADS_LIMIT: i64 = 1 << 16;

struct Checker {
    errors: Vec<ProfileError>,
    machine: CpuSet,
    ncpus: u32,
}

impl Checker {
    fn error(&mut self, kind: ErrorKind, location: &Location, field: &str, message: String) {
        self.errors.push(ProfileError::new(kind, location.clone(), field, message));
    }

    /// Reports CPUs of `set` the machine does not have; returns the CPUs it has.
    fn on_machine(&mut self, set: CpuSet, location: &Location, field: &str) -> CpuSet {
        let outside = set.difference(&self.machine);
        if !outside.is_empty() {
            self.error(
                ErrorKind::CpuOutsideMachine,
                location,
                field,
                format!(
                    "CPU {outside} is outside the machine, which has {} CPUs ({})",
                    self.ncpus, self.machine
                ),
            );
        }
        set.intersection(&self.machine)
    }
}

/// Checks `spec` for a machine with `ncpus` CPUs and returns the profile the kernel
/// applies, or every error found.
pub fn validate(spec: &ProfileSpec, ncpus: u32) -> Result<Profile, Vec<ProfileError>> {
    let mut ck = Checker { errors: Vec::new(), machine: CpuSet::first_n(ncpus), ncpus };
    let top = Location::Profile;
    if ncpus == 0 || ncpus > MAX_CPUS {
        ck.error(ErrorKind::BadValue, &top, "", format!("a machine has 1..={MAX_CPUS} CPUs, not {ncpus}"));
        return Err(ck.errors);
    }
    if spec.name.trim().is_empty() {
        ck.error(ErrorKind::Missing, &top, "name", "the profile needs a name".into());
    }
    if spec.dora_exe.is_empty() {
        ck.error(ErrorKind::BadValue, &top, "dora.exe", "the pattern of Dora's executable is empty".into());
    }
    let bound = spec.deadline_bound_ppm;
    if !(1..=1_000_000).contains(&bound) {
        ck.error(
            ErrorKind::BoundRange,
            &top,
            "cpus.deadline_bound_percent",
            format!("{}% is not in (0, 100]", Percent(bound)),
        );
    }

    let (housekeeping, realtime) = partition(&mut ck, spec);
    let idle_poll = match spec.idle_poll {
        None => CpuSet::new(),
        Some(CpuSpec::List(s)) => ck.on_machine(s, &top, "cpus.idle_poll"),
        Some(CpuSpec::Housekeeping) => housekeeping,
        Some(CpuSpec::Realtime) => realtime,
        Some(CpuSpec::All) => ck.machine,
        Some(CpuSpec::Rest) => {
            ck.error(
                ErrorKind::BadValue,
                &top,
                "cpus.idle_poll",
                "`rest` only applies to cpus.realtime; use \"realtime\", \"housekeeping\", \"all\" or a list".into(),
            );
            CpuSet::new()
        }
    };

    let default = check_rule(&mut ck, &spec.default, Location::Default, housekeeping, realtime, bound);
    let mut rules = Vec::new();
    let mut all_valid = true;
    for (i, rs) in spec.rules.iter().enumerate() {
        let loc = Location::Rule { index: i + 1, name: rs.name.clone() };
        if rs.name.trim().is_empty() {
            ck.error(ErrorKind::Missing, &loc, "name", "every rule needs a name".into());
        } else if let Some(j) = spec.rules[..i].iter().position(|o| o.name == rs.name) {
            ck.error(ErrorKind::DuplicateName, &loc, "name", format!("rule #{} has the same name", j + 1));
        }
        check_criteria(&mut ck, rs, &loc);
        match check_rule(&mut ck, rs, loc.clone(), housekeeping, realtime, bound) {
            Some(rule) => {
                if let Some(j) = spec.rules[..i].iter().position(|earlier| covers(&matcher(earlier), &rule.matcher)) {
                    ck.error(
                        ErrorKind::CannotMatch,
                        &loc,
                        "",
                        format!(
                            "this rule can never match: rule #{} `{}` comes first and matches every thread it would",
                            j + 1,
                            spec.rules[j].name
                        ),
                    );
                }
                rules.push(rule);
            }
            None => all_valid = false,
        }
    }
    if let Some(d) = &default {
        if d.policy.is_realtime() {
            ck.error(
                ErrorKind::DefaultRealtime,
                &Location::Default,
                "class",
                format!("unmatched threads cannot get {}; use other, batch or idle", d.policy.class().linux_name()),
            );
        }
    }

    let mut loads = Vec::new();
    if all_valid && ck.errors.is_empty() {
        loads = deadline_admission(&mut ck, spec, &rules, bound as u64);
    }
    if !ck.errors.is_empty() {
        return Err(ck.errors);
    }
    let default = default.expect("no errors, so the default section is valid");
    Ok(Profile {
        name: spec.name.clone(),
        cpus: ncpus,
        housekeeping,
        realtime,
        deadline_bound_ppm: bound as u32,
        idle_poll,
        dora_exe: spec.dora_exe.clone(),
        default_policy: default.policy,
        default_cpus: default.cpus,
        rules,
        deadline_load_ppm: loads,
    })
}

/// Resolves and checks the housekeeping / real-time partition.
fn partition(ck: &mut Checker, spec: &ProfileSpec) -> (CpuSet, CpuSet) {
    let top = Location::Profile;
    let machine = ck.machine;
    let housekeeping = match spec.housekeeping {
        None => {
            ck.error(ErrorKind::Missing, &top, "cpus.housekeeping", "the housekeeping CPUs are not given".into());
            CpuSet::new()
        }
        Some(CpuSpec::List(s)) => ck.on_machine(s, &top, "cpus.housekeeping"),
        Some(CpuSpec::All) => machine,
        Some(other) => {
            ck.error(
                ErrorKind::BadValue,
                &top,
                "cpus.housekeeping",
                format!("`{other}` is not allowed here: give a CPU list (e.g. \"0\") or \"all\""),
            );
            CpuSet::new()
        }
    };
    if spec.housekeeping.is_some() && housekeeping.is_empty() {
        ck.error(
            ErrorKind::EmptyCpuSet,
            &top,
            "cpus.housekeeping",
            "no housekeeping CPU: interrupts and unmatched threads need at least one".into(),
        );
    }
    let realtime = match spec.realtime {
        None => {
            ck.error(ErrorKind::Missing, &top, "cpus.realtime", "the real-time CPUs are not given".into());
            CpuSet::new()
        }
        Some(CpuSpec::List(s)) => ck.on_machine(s, &top, "cpus.realtime"),
        Some(CpuSpec::Rest) => machine.difference(&housekeeping),
        Some(CpuSpec::All) => machine,
        Some(other) => {
            ck.error(
                ErrorKind::BadValue,
                &top,
                "cpus.realtime",
                format!("`{other}` is not allowed here: give a CPU list (e.g. \"1-3\"), \"rest\" or \"all\""),
            );
            CpuSet::new()
        }
    };
    let overlap = housekeeping.intersection(&realtime);
    if !overlap.is_empty() {
        ck.error(
            ErrorKind::PartitionOverlap,
            &top,
            "cpus.realtime",
            format!("CPU {overlap} is both housekeeping and real-time; the two sets must be disjoint"),
        );
    }
    let unassigned = machine.difference(&housekeeping).difference(&realtime);
    if spec.housekeeping.is_some() && spec.realtime.is_some() && !unassigned.is_empty() {
        ck.error(
            ErrorKind::CpuUnassigned,
            &top,
            "cpus",
            format!("CPU {unassigned} is neither housekeeping nor real-time (realtime = \"rest\" takes every other CPU)"),
        );
    }
    (housekeeping, realtime)
}

/// Criteria that make a rule match nothing.
fn check_criteria(ck: &mut Checker, rs: &RuleSpec, loc: &Location) {
    if rs.role.is_none() && rs.node.is_none() && rs.exe.is_none() && rs.thread_name.is_none() {
        ck.error(
            ErrorKind::NoCriteria,
            loc,
            "",
            "the rule has no criterion (role, node, exe or thread_name); unmatched threads are set in [default]".into(),
        );
    }
    if let (Some(role), Some(_)) = (rs.role, &rs.node) {
        ck.error(
            ErrorKind::CannotMatch,
            loc,
            "node",
            format!("a dataflow node is never Dora's {}; give role or node, not both", role.name()),
        );
    }
    if rs.node.as_deref() == Some("") {
        ck.error(ErrorKind::BadValue, loc, "node", "the node id is empty".into());
    }
    match rs.exe.as_deref() {
        Some("") => ck.error(ErrorKind::BadValue, loc, "exe", "the executable pattern is empty".into()),
        Some(exe) if exe.contains('/') && !exe.starts_with('/') && !exe.starts_with('*') => ck.error(
            ErrorKind::CannotMatch,
            loc,
            "exe",
            format!("`{exe}` has a `/` so it is matched against the absolute path, but it does not start with `/` or `*`"),
        ),
        _ => {}
    }
    match rs.thread_name.as_deref() {
        Some("") => ck.error(ErrorKind::BadValue, loc, "thread_name", "the thread name pattern is empty".into()),
        Some(t) if min_match_len(t.as_bytes()) > THREAD_NAME_MAX => ck.error(
            ErrorKind::CannotMatch,
            loc,
            "thread_name",
            format!(
                "`{t}` needs at least {} bytes but Linux thread names have at most {THREAD_NAME_MAX}",
                min_match_len(t.as_bytes())
            ),
        ),
        _ => {}
    }
}

/// Class parameters and CPU set of a rule (or of the default section).
fn check_rule(
    ck: &mut Checker,
    rs: &RuleSpec,
    loc: Location,
    housekeeping: CpuSet,
    realtime: CpuSet,
    bound: i64,
) -> Option<Rule> {
    let before = ck.errors.len();
    let class = rs.class;
    let cname = class.linux_name();
    let not_for = |ck: &mut Checker, present: bool, field: &str| {
        if present {
            ck.error(ErrorKind::NotForClass, &loc, field, format!("`{field}` does not apply to {cname}"));
        }
    };
    if class != Class::Deadline {
        not_for(ck, rs.runtime_ns.is_some(), "runtime");
        not_for(ck, rs.deadline_ns.is_some(), "deadline");
        not_for(ck, rs.period_ns.is_some(), "period");
        not_for(ck, rs.max_threads.is_some(), "max_threads");
    }
    if !matches!(class, Class::Fifo | Class::Rr) {
        not_for(ck, rs.priority.is_some(), "priority");
    }
    if !matches!(class, Class::Other | Class::Batch) {
        not_for(ck, rs.nice.is_some(), "nice");
    }
    let mut max_threads = 0u32;
    let policy = match class {
        Class::Fifo | Class::Rr => {
            let prio = match rs.priority {
                None => {
                    ck.error(ErrorKind::Missing, &loc, "priority", format!("{cname} needs a priority (1..=99)"));
                    1
                }
                Some(p @ 1..=99) => p as u8,
                Some(p) => {
                    ck.error(ErrorKind::PriorityRange, &loc, "priority", format!("{p} is outside 1..=99 ({cname})"));
                    1
                }
            };
            if class == Class::Fifo {
                Policy::Fifo { priority: prio }
            } else {
                Policy::Rr { priority: prio }
            }
        }
        Class::Other | Class::Batch => {
            let nice = match rs.nice.unwrap_or(0) {
                n @ -20..=19 => n as i8,
                n => {
                    ck.error(ErrorKind::NiceRange, &loc, "nice", format!("{n} is outside -20..=19"));
                    0
                }
            };
            if class == Class::Other {
                Policy::Other { nice }
            } else {
                Policy::Batch { nice }
            }
        }
        Class::Idle => Policy::Idle,
        Class::Deadline => {
            let (runtime, deadline, period) = deadline_params(ck, rs, &loc);
            max_threads = match (rs.max_threads, rs.threads) {
                (None, Threads::Main) => 1,
                (None, Threads::All) => {
                    ck.error(
                        ErrorKind::MaxThreads,
                        &loc,
                        "max_threads",
                        "a DEADLINE rule for all threads must say how many threads get the reservation".into(),
                    );
                    1
                }
                (Some(n @ 1..=MAX_THREADS_LIMIT), _) => n as u32,
                (Some(n), _) => {
                    ck.error(ErrorKind::MaxThreads, &loc, "max_threads", format!("{n} is outside 1..={MAX_THREADS_LIMIT}"));
                    1
                }
            };
            if (1..=1_000_000).contains(&bound) && period > 0 {
                let u = utilisation_ppm(runtime, period);
                if u > bound as u64 {
                    ck.error(
                        ErrorKind::ReservationTooLarge,
                        &loc,
                        "runtime",
                        format!(
                            "one thread needs {}% of a CPU (runtime/period) but the bound is {}% per CPU",
                            Percent(u as i64),
                            Percent(bound)
                        ),
                    );
                }
            }
            Policy::Deadline { runtime_ns: runtime, deadline_ns: deadline, period_ns: period }
        }
    };
    let default_cpus = if class.is_realtime() { realtime } else { housekeeping };
    let (cpus, named) = match rs.cpus {
        None => (default_cpus, if class.is_realtime() { "realtime" } else { "housekeeping" }),
        Some(CpuSpec::List(s)) => (ck.on_machine(s, &loc, "cpus"), "listed"),
        Some(CpuSpec::Housekeeping) => (housekeeping, "housekeeping"),
        Some(CpuSpec::Realtime) => (realtime, "realtime"),
        Some(CpuSpec::All) => (ck.machine, "all"),
        Some(CpuSpec::Rest) => {
            ck.error(
                ErrorKind::BadValue,
                &loc,
                "cpus",
                "`rest` only applies to cpus.realtime; use \"realtime\", \"housekeeping\", \"all\" or a list".into(),
            );
            (default_cpus, "")
        }
    };
    // An empty or missing housekeeping set is reported once, by the partition check.
    let reported = named == "housekeeping" && housekeeping.is_empty();
    if cpus.is_empty() && !named.is_empty() && !reported {
        ck.error(ErrorKind::EmptyCpuSet, &loc, "cpus", format!("the {named} CPU set is empty on this machine"));
    }
    if ck.errors.len() != before {
        return None;
    }
    Some(Rule { name: rs.name.clone(), matcher: matcher(rs), policy, cpus, max_threads })
}

/// runtime, deadline, period of a DEADLINE rule, with Linux's `sched_setattr` checks.
fn deadline_params(ck: &mut Checker, rs: &RuleSpec, loc: &Location) -> (u64, u64, u64) {
    let runtime = rs.runtime_ns.unwrap_or_else(|| {
        ck.error(ErrorKind::Missing, loc, "runtime", "SCHED_DEADLINE needs a runtime".into());
        0
    });
    // As in Linux, a missing period is the deadline; a missing deadline is the period.
    let (deadline, period) = match (rs.deadline_ns, rs.period_ns) {
        (Some(d), Some(p)) => (d, p),
        (Some(d), None) => (d, d),
        (None, Some(p)) => (p, p),
        (None, None) => {
            ck.error(ErrorKind::Missing, loc, "period", "SCHED_DEADLINE needs a period or a deadline".into());
            (0, 0)
        }
    };
    if rs.runtime_ns.is_some() && runtime < MIN_RUNTIME_NS {
        ck.error(
            ErrorKind::RuntimeTooSmall,
            loc,
            "runtime",
            format!("{runtime} ns is below Linux's minimum SCHED_DEADLINE runtime of {MIN_RUNTIME_NS} ns"),
        );
    }
    if period == 0 {
        return (runtime, deadline, period);
    }
    if runtime > deadline {
        ck.error(
            ErrorKind::RuntimeAboveDeadline,
            loc,
            "runtime",
            format!(
                "runtime {} is longer than the deadline {} (runtime <= deadline <= period)",
                crate::duration::format_ns(runtime),
                crate::duration::format_ns(deadline)
            ),
        );
    }
    if deadline > period {
        ck.error(
            ErrorKind::DeadlineAbovePeriod,
            loc,
            "deadline",
            format!(
                "deadline {} is longer than the period {} (runtime <= deadline <= period)",
                crate::duration::format_ns(deadline),
                crate::duration::format_ns(period)
            ),
        );
    }
    if !(MIN_PERIOD_NS..=MAX_PERIOD_NS).contains(&period) {
        ck.error(
            ErrorKind::PeriodRange,
            loc,
            "period",
            format!(
                "period {} is outside Linux's default limits {}..={}",
                crate::duration::format_ns(period),
                crate::duration::format_ns(MIN_PERIOD_NS),
                crate::duration::format_ns(MAX_PERIOD_NS)
            ),
        );
    }
    (runtime, deadline, period)
}

fn deadline_admission(ck: &mut Checker, spec: &ProfileSpec, rules: &[Rule], bound: u64) -> Vec<u32> {
    let demands: Vec<Demand> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.policy {
            Policy::Deadline { runtime_ns, period_ns, .. } => Some(Demand {
                rule: i,
                per_thread_ppm: utilisation_ppm(runtime_ns, period_ns),
                threads: r.max_threads,
                cpus: r.cpus,
            }),
            _ => None,
        })
        .collect();
    match admit(&demands, ck.ncpus, bound) {
        Ok(loads) => loads,
        Err(over) => {
            let mut parts = String::new();
            for (n, i) in over.rules.iter().enumerate() {
                let d = demands.iter().find(|d| d.rule == *i).expect("overload names admitted rules");
                if n > 0 {
                    parts.push_str(", ");
                }
                parts.push_str(&format!("`{}` ({} x {}%)", rules[*i].name, d.threads, Percent(d.per_thread_ppm as i64)));
            }
            let first = over.rules[0];
            let loc = Location::Rule { index: first + 1, name: spec.rules[first].name.clone() };
            ck.error(
                ErrorKind::Overload,
                &loc,
                "runtime",
                format!(
                    "DEADLINE reservations of rules {parts} need {}% of CPUs {} but the bound allows {}% ({}% per CPU)",
                    Percent(over.demand_ppm as i64),
                    over.cpus,
                    Percent(over.capacity_ppm as i64),
                    Percent(bound as i64)
                ),
            );
            Vec::new()
        }
    }
}

/// The matching part of a rule.
fn matcher(rs: &RuleSpec) -> Matcher {
    Matcher {
        role: rs.role,
        node: rs.node.clone(),
        exe: rs.exe.clone(),
        thread_name: rs.thread_name.clone(),
        threads: rs.threads,
    }
}

/// Whether every thread that `later` matches is also matched by `earlier` (conservative:
/// true only when that is certain).
fn covers(earlier: &Matcher, later: &Matcher) -> bool {
    let role = earlier.role.is_none() || earlier.role == later.role;
    let node = earlier.node.is_none() || earlier.node == later.node;
    let exe = pattern_covers(earlier.exe.as_deref(), later.exe.as_deref());
    let thread = pattern_covers(earlier.thread_name.as_deref(), later.thread_name.as_deref());
    let threads = earlier.threads == Threads::All || later.threads == Threads::Main;
    role && node && exe && thread && threads
}

fn pattern_covers(earlier: Option<&str>, later: Option<&str>) -> bool {
    match (earlier, later) {
        (None, _) => true,
        (Some(e), _) if matches_everything(e.as_bytes()) => true,
        (Some(_), None) => false,
        (Some(e), Some(l)) => {
            if e == l {
                return true;
            }
            // A glob covers a literal of the same kind (path or file name) that it matches.
            let literal = !l.contains(['*', '?', '\\']);
            literal && e.contains('/') == l.contains('/') && glob_match(e.as_bytes(), l.as_bytes())
        }
    }
}

/// Parts per million shown as a percentage with one decimal.
struct Percent(i64);

impl core::fmt::Display for Percent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let v = self.0;
        let sign = if v < 0 { "-" } else { "" };
        let a = v.unsigned_abs();
        write!(f, "{sign}{}.{}", a / 10_000, (a % 10_000) / 1_000)
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
