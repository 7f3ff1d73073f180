//! Unit tests of validation: one test per error kind (each checks the kind, the place and
//! the field, and that the boundary value just inside the range passes), plus the resolved
//! profile of a valid spec.

use super::*;
use crate::spec::Role;
use alloc::string::ToString;
use alloc::vec;

fn base() -> ProfileSpec {
    let mut spec = ProfileSpec::new("test");
    spec.housekeeping = Some(CpuSpec::parse("0").unwrap());
    spec.realtime = Some(CpuSpec::Rest);
    spec
}

fn fifo(name: &str, node: &str, prio: i64) -> RuleSpec {
    let mut r = RuleSpec::new(name, Class::Fifo);
    r.node = Some(node.into());
    r.priority = Some(prio);
    r
}

fn dl(name: &str, node: &str, runtime_us: u64, period_us: u64) -> RuleSpec {
    let mut r = RuleSpec::new(name, Class::Deadline);
    r.node = Some(node.into());
    r.threads = Threads::Main;
    r.runtime_ns = Some(runtime_us * 1_000);
    r.period_ns = Some(period_us * 1_000);
    r
}

fn with_rules(rules: Vec<RuleSpec>) -> ProfileSpec {
    let mut s = base();
    s.rules = rules;
    s
}

fn errors(spec: &ProfileSpec, ncpus: u32) -> Vec<ProfileError> {
    validate(spec, ncpus).expect_err("validation should fail")
}

/// The only error of `spec` on `ncpus` CPUs.
fn only(spec: &ProfileSpec, ncpus: u32) -> ProfileError {
    let e = errors(spec, ncpus);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e[0].clone()
}

fn rule_loc(index: usize, name: &str) -> Location {
    Location::Rule { index, name: name.into() }
}

fn assert_err(e: &ProfileError, kind: ErrorKind, location: Location, field: &str) {
    assert_eq!((e.kind, &e.location, e.field.as_str()), (kind, &location, field), "{e}");
}

#[test]
fn valid_profile_resolves() {
    let mut daemon = RuleSpec::new("daemon", Class::Other);
    daemon.role = Some(Role::Daemon);
    daemon.nice = Some(-5);
    let spec = with_rules(vec![daemon, fifo("sink", "sink", 80), dl("cam", "cam", 2_000, 10_000)]);
    let p = validate(&spec, 4).unwrap();
    assert_eq!((p.cpus, p.housekeeping.to_string(), p.realtime.to_string()), (4, "0".into(), "1-3".into()));
    assert_eq!(p.rules[0].policy, Policy::Other { nice: -5 });
    assert_eq!(p.rules[0].cpus.to_string(), "0");
    assert_eq!(p.rules[1].policy, Policy::Fifo { priority: 80 });
    assert_eq!(p.rules[1].cpus.to_string(), "1-3");
    // An implicit deadline is the period.
    assert_eq!(p.rules[2].policy, Policy::Deadline { runtime_ns: 2_000_000, deadline_ns: 10_000_000, period_ns: 10_000_000 });
    assert_eq!(p.rules[2].max_threads, 1);
    assert_eq!(p.deadline_load_ppm.iter().sum::<u32>(), 200_000);
    assert_eq!(p.deadline_load_ppm[0], 0);
    assert_eq!(p.default_policy, Policy::Other { nice: 0 });
    assert_eq!(p.default_cpus.to_string(), "0");
    let text = p.to_string();
    assert!(text.contains("rule #3 `cam`: node=cam threads=main -> SCHED_DEADLINE runtime 2ms deadline 10ms period 10ms on CPUs 1-3"), "{text}");
}

#[test]
fn cpu_count_must_be_sane() {
    assert_err(&only(&base(), 0), ErrorKind::BadValue, Location::Profile, "");
    assert_err(&only(&base(), MAX_CPUS + 1), ErrorKind::BadValue, Location::Profile, "");
    assert!(validate(&base(), MAX_CPUS).is_ok());
}

#[test]
fn missing_profile_fields() {
    let mut s = base();
    s.name = " ".into();
    assert_err(&only(&s, 2), ErrorKind::Missing, Location::Profile, "name");
    let mut s = base();
    s.housekeeping = None;
    let e = errors(&s, 2);
    assert_err(&e[0], ErrorKind::Missing, Location::Profile, "cpus.housekeeping");
    let mut s = base();
    s.realtime = None;
    assert_err(&only(&s, 2), ErrorKind::Missing, Location::Profile, "cpus.realtime");
    let mut s = base();
    s.dora_exe = String::new();
    assert_err(&only(&s, 2), ErrorKind::BadValue, Location::Profile, "dora.exe");
}

#[test]
fn deadline_bound_range() {
    for bad in [0, -1, 1_000_001] {
        let mut s = base();
        s.deadline_bound_ppm = bad;
        assert_err(&only(&s, 2), ErrorKind::BoundRange, Location::Profile, "cpus.deadline_bound_percent");
    }
    let mut s = base();
    s.deadline_bound_ppm = 1_000_000;
    assert!(validate(&s, 2).is_ok());
}

#[test]
fn partition_cpus_outside_machine() {
    let mut s = base();
    s.housekeeping = Some(CpuSpec::parse("0,4").unwrap());
    let e = only(&s, 4);
    assert_err(&e, ErrorKind::CpuOutsideMachine, Location::Profile, "cpus.housekeeping");
    assert!(e.message.contains("CPU 4 is outside the machine, which has 4 CPUs (0-3)"), "{e}");
    let mut s = base();
    s.realtime = Some(CpuSpec::parse("1-5").unwrap());
    assert_err(&only(&s, 4), ErrorKind::CpuOutsideMachine, Location::Profile, "cpus.realtime");
}

#[test]
fn partition_needs_housekeeping() {
    let mut s = base();
    s.housekeeping = Some(CpuSpec::parse("none").unwrap());
    assert_err(&only(&s, 2), ErrorKind::EmptyCpuSet, Location::Profile, "cpus.housekeeping");
}

#[test]
fn partition_overlap() {
    let mut s = base();
    s.housekeeping = Some(CpuSpec::parse("0-1").unwrap());
    s.realtime = Some(CpuSpec::parse("1-3").unwrap());
    let e = only(&s, 4);
    assert_err(&e, ErrorKind::PartitionOverlap, Location::Profile, "cpus.realtime");
    assert!(e.message.contains("CPU 1 is both"));
    let mut s = base();
    s.realtime = Some(CpuSpec::All);
    assert_err(&only(&s, 2), ErrorKind::PartitionOverlap, Location::Profile, "cpus.realtime");
}

#[test]
fn partition_unassigned_cpu() {
    let mut s = base();
    s.realtime = Some(CpuSpec::parse("1-2").unwrap());
    let e = only(&s, 4);
    assert_err(&e, ErrorKind::CpuUnassigned, Location::Profile, "cpus");
    assert!(e.message.contains("CPU 3 is neither"));
    assert!(validate(&s, 3).is_ok());
}

#[test]
fn partition_keywords_in_the_wrong_place() {
    let mut s = base();
    s.housekeeping = Some(CpuSpec::Rest);
    let e = errors(&s, 2);
    assert_err(&e[0], ErrorKind::BadValue, Location::Profile, "cpus.housekeeping");
    let mut s = base();
    s.realtime = Some(CpuSpec::Housekeeping);
    let e = errors(&s, 2);
    assert_err(&e[0], ErrorKind::BadValue, Location::Profile, "cpus.realtime");
    // housekeeping = all with no real-time CPUs is a valid (if unambitious) profile.
    let mut s = base();
    s.housekeeping = Some(CpuSpec::All);
    assert!(validate(&s, 2).is_ok());
}

#[test]
fn priority_range() {
    for bad in [0, 100, -1] {
        let e = only(&with_rules(vec![fifo("r", "n", bad)]), 2);
        assert_err(&e, ErrorKind::PriorityRange, rule_loc(1, "r"), "priority");
    }
    let mut rr = fifo("r", "n", 1000);
    rr.class = Class::Rr;
    let e = only(&with_rules(vec![rr]), 2);
    assert_eq!(e.to_string(), "rule #1 `r`, field `priority`: 1000 is outside 1..=99 (SCHED_RR)");
    assert!(validate(&with_rules(vec![fifo("a", "a", 1), fifo("b", "b", 99)]), 2).is_ok());
}

#[test]
fn priority_missing() {
    let mut r = fifo("r", "n", 1);
    r.priority = None;
    assert_err(&only(&with_rules(vec![r]), 2), ErrorKind::Missing, rule_loc(1, "r"), "priority");
}

#[test]
fn nice_range() {
    for bad in [-21, 20] {
        let mut r = RuleSpec::new("r", Class::Batch);
        r.exe = Some("x".into());
        r.nice = Some(bad);
        assert_err(&only(&with_rules(vec![r]), 2), ErrorKind::NiceRange, rule_loc(1, "r"), "nice");
    }
    let mut s = base();
    s.default.nice = Some(19);
    assert!(validate(&s, 2).is_ok());
    s.default.nice = Some(-20);
    assert!(validate(&s, 2).is_ok());
    s.default.nice = Some(40);
    assert_err(&only(&s, 2), ErrorKind::NiceRange, Location::Default, "nice");
}

#[test]
fn fields_not_for_the_class() {
    let mut r = fifo("r", "n", 10);
    r.nice = Some(1);
    r.runtime_ns = Some(10_000);
    r.max_threads = Some(1);
    let e = errors(&with_rules(vec![r]), 2);
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["runtime", "max_threads", "nice"]);
    assert!(e.iter().all(|e| e.kind == ErrorKind::NotForClass && e.location == rule_loc(1, "r")));
    assert_eq!(e[2].message, "`nice` does not apply to SCHED_FIFO");
    let mut d = dl("d", "n", 100, 1_000);
    d.priority = Some(5);
    assert_err(&only(&with_rules(vec![d]), 2), ErrorKind::NotForClass, rule_loc(1, "d"), "priority");
    let mut i = RuleSpec::new("i", Class::Idle);
    i.exe = Some("x".into());
    i.nice = Some(3);
    assert_err(&only(&with_rules(vec![i]), 2), ErrorKind::NotForClass, rule_loc(1, "i"), "nice");
    let mut o = RuleSpec::new("o", Class::Other);
    o.exe = Some("x".into());
    o.period_ns = Some(1_000_000);
    assert_err(&only(&with_rules(vec![o]), 2), ErrorKind::NotForClass, rule_loc(1, "o"), "period");
}

#[test]
fn deadline_missing_parameters() {
    let mut d = dl("d", "n", 100, 1_000);
    d.runtime_ns = None;
    assert_err(&only(&with_rules(vec![d]), 2), ErrorKind::Missing, rule_loc(1, "d"), "runtime");
    let mut d = dl("d", "n", 100, 1_000);
    d.period_ns = None;
    assert_err(&only(&with_rules(vec![d]), 2), ErrorKind::Missing, rule_loc(1, "d"), "period");
    // A deadline alone is also the period.
    let mut d = dl("d", "n", 100, 1_000);
    d.period_ns = None;
    d.deadline_ns = Some(2_000_000);
    let p = validate(&with_rules(vec![d]), 2).unwrap();
    assert_eq!(p.rules[0].policy, Policy::Deadline { runtime_ns: 100_000, deadline_ns: 2_000_000, period_ns: 2_000_000 });
}

#[test]
fn deadline_runtime_minimum() {
    let mut d = dl("d", "n", 0, 1_000);
    d.runtime_ns = Some(MIN_RUNTIME_NS - 1);
    let e = only(&with_rules(vec![d.clone()]), 2);
    assert_err(&e, ErrorKind::RuntimeTooSmall, rule_loc(1, "d"), "runtime");
    assert!(e.message.contains("1023 ns is below Linux's minimum"));
    d.runtime_ns = Some(MIN_RUNTIME_NS);
    assert!(validate(&with_rules(vec![d]), 2).is_ok());
}

#[test]
fn deadline_runtime_above_deadline() {
    let mut d = dl("d", "n", 600, 1_000);
    d.deadline_ns = Some(500_000);
    let e = only(&with_rules(vec![d.clone()]), 2);
    assert_err(&e, ErrorKind::RuntimeAboveDeadline, rule_loc(1, "d"), "runtime");
    assert_eq!(e.message, "runtime 600us is longer than the deadline 500us (runtime <= deadline <= period)");
    d.deadline_ns = Some(600_000);
    assert!(validate(&with_rules(vec![d]), 2).is_ok());
}

#[test]
fn deadline_above_period() {
    let mut d = dl("d", "n", 100, 1_000);
    d.deadline_ns = Some(1_000_001);
    assert_err(&only(&with_rules(vec![d.clone()]), 2), ErrorKind::DeadlineAbovePeriod, rule_loc(1, "d"), "deadline");
    d.deadline_ns = Some(1_000_000);
    assert!(validate(&with_rules(vec![d]), 2).is_ok());
}

#[test]
fn deadline_period_limits() {
    let d = dl("d", "n", 10, 99);
    assert_err(&only(&with_rules(vec![d]), 2), ErrorKind::PeriodRange, rule_loc(1, "d"), "period");
    assert!(validate(&with_rules(vec![dl("d", "n", 10, 100)]), 2).is_ok());
    let mut d = dl("d", "n", 10, 0);
    d.period_ns = Some(MAX_PERIOD_NS + 1);
    assert_err(&only(&with_rules(vec![d.clone()]), 2), ErrorKind::PeriodRange, rule_loc(1, "d"), "period");
    d.period_ns = Some(MAX_PERIOD_NS);
    assert!(validate(&with_rules(vec![d]), 2).is_ok());
}

#[test]
fn deadline_max_threads() {
    let mut d = dl("d", "n", 100, 1_000);
    d.threads = Threads::All;
    let e = only(&with_rules(vec![d.clone()]), 2);
    assert_err(&e, ErrorKind::MaxThreads, rule_loc(1, "d"), "max_threads");
    for bad in [0, -3, MAX_THREADS_LIMIT + 1] {
        d.max_threads = Some(bad);
        assert_err(&only(&with_rules(vec![d.clone()]), 2), ErrorKind::MaxThreads, rule_loc(1, "d"), "max_threads");
    }
    d.max_threads = Some(4);
    let p = validate(&with_rules(vec![d]), 2).unwrap();
    assert_eq!(p.rules[0].max_threads, 4);
    assert_eq!(p.deadline_load_ppm, [0, 400_000]);
}

#[test]
fn deadline_single_reservation_too_large() {
    let d = dl("d", "n", 960, 1_000);
    let e = only(&with_rules(vec![d]), 2);
    assert_err(&e, ErrorKind::ReservationTooLarge, rule_loc(1, "d"), "runtime");
    assert!(e.message.contains("one thread needs 96.0% of a CPU"), "{e}");
    assert!(validate(&with_rules(vec![dl("d", "n", 950, 1_000)]), 2).is_ok());
}

#[test]
fn deadline_overload_per_cpu() {
    // Two reservations of 50% pinned on CPU 1: 100% > 95%.
    let mut a = dl("a", "a", 500, 1_000);
    a.cpus = Some(CpuSpec::parse("1").unwrap());
    let mut b = dl("b", "b", 500, 1_000);
    b.cpus = Some(CpuSpec::parse("1").unwrap());
    let spec = with_rules(vec![fifo("f", "f", 10), a.clone(), b.clone()]);
    let e = only(&spec, 3);
    assert_err(&e, ErrorKind::Overload, rule_loc(2, "a"), "runtime");
    assert_eq!(
        e.message,
        "DEADLINE reservations of rules `a` (1 x 50.0%), `b` (1 x 50.0%) need 100.0% of CPUs 1 but the bound allows 95.0% (95.0% per CPU)"
    );
    // Spread over CPUs 1-2 they fit.
    a.cpus = Some(CpuSpec::parse("1-2").unwrap());
    let p = validate(&with_rules(vec![a.clone(), b.clone()]), 3).unwrap();
    assert_eq!(p.deadline_load_ppm.iter().sum::<u32>(), 1_000_000);
    // Three of them on CPUs 1-2 with a 70% bound: 150% > 2 x 70%.
    b.cpus = a.cpus;
    let mut s = with_rules(vec![a, b, dl("c", "c", 500, 1_000)]);
    s.deadline_bound_ppm = 700_000;
    let e = only(&s, 3);
    assert_err(&e, ErrorKind::Overload, rule_loc(1, "a"), "runtime");
    assert!(e.message.contains("need 150.0% of CPUs 1-2 but the bound allows 140.0% (70.0% per CPU)"), "{e}");
}

#[test]
fn cpus_outside_machine_in_a_rule() {
    let mut r = fifo("r", "n", 10);
    r.cpus = Some(CpuSpec::parse("1,7").unwrap());
    let e = only(&with_rules(vec![r]), 4);
    assert_err(&e, ErrorKind::CpuOutsideMachine, rule_loc(1, "r"), "cpus");
    assert!(e.message.starts_with("CPU 7 is outside"));
}

#[test]
fn rule_cpu_set_empty() {
    // One CPU: everything is housekeeping, the real-time set is empty.
    let e = only(&with_rules(vec![fifo("r", "n", 10)]), 1);
    assert_err(&e, ErrorKind::EmptyCpuSet, rule_loc(1, "r"), "cpus");
    assert!(e.message.contains("realtime CPU set is empty"));
    // ...unless the rule names a CPU that exists.
    let mut r = fifo("r", "n", 10);
    r.cpus = Some(CpuSpec::Housekeeping);
    assert!(validate(&with_rules(vec![r]), 1).is_ok());
    let mut r = fifo("r", "n", 10);
    r.cpus = Some(CpuSpec::parse("none").unwrap());
    assert_err(&only(&with_rules(vec![r]), 2), ErrorKind::EmptyCpuSet, rule_loc(1, "r"), "cpus");
}

#[test]
fn rest_only_for_the_realtime_partition() {
    let mut r = fifo("r", "n", 10);
    r.cpus = Some(CpuSpec::Rest);
    assert_err(&only(&with_rules(vec![r]), 2), ErrorKind::BadValue, rule_loc(1, "r"), "cpus");
}

#[test]
fn duplicate_and_missing_rule_names() {
    let e = only(&with_rules(vec![fifo("x", "a", 10), fifo("x", "b", 10)]), 2);
    assert_err(&e, ErrorKind::DuplicateName, rule_loc(2, "x"), "name");
    assert!(e.message.contains("rule #1"));
    let e = only(&with_rules(vec![fifo("", "a", 10)]), 2);
    assert_err(&e, ErrorKind::Missing, rule_loc(1, ""), "name");
}

#[test]
fn rule_without_criteria() {
    let mut r = RuleSpec::new("r", Class::Fifo);
    r.priority = Some(10);
    let e = only(&with_rules(vec![r.clone()]), 2);
    assert_err(&e, ErrorKind::NoCriteria, rule_loc(1, "r"), "");
    // threads = "main" alone is no criterion either.
    r.threads = Threads::Main;
    assert_eq!(only(&with_rules(vec![r]), 2).kind, ErrorKind::NoCriteria);
}

#[test]
fn empty_criteria() {
    let mut r = fifo("r", "", 10);
    assert_err(&only(&with_rules(vec![r.clone()]), 2), ErrorKind::BadValue, rule_loc(1, "r"), "node");
    r.node = None;
    r.exe = Some(String::new());
    assert_err(&only(&with_rules(vec![r.clone()]), 2), ErrorKind::BadValue, rule_loc(1, "r"), "exe");
    r.exe = Some("x".into());
    r.thread_name = Some(String::new());
    assert_err(&only(&with_rules(vec![r]), 2), ErrorKind::BadValue, rule_loc(1, "r"), "thread_name");
}

#[test]
fn contradictory_criteria_cannot_match() {
    let mut r = fifo("r", "n", 10);
    r.role = Some(Role::Daemon);
    let e = only(&with_rules(vec![r]), 2);
    assert_err(&e, ErrorKind::CannotMatch, rule_loc(1, "r"), "node");
    let mut r = fifo("r", "n", 10);
    r.node = None;
    r.exe = Some("target/release/sink".into());
    let e = only(&with_rules(vec![r.clone()]), 2);
    assert_err(&e, ErrorKind::CannotMatch, rule_loc(1, "r"), "exe");
    r.exe = Some("*/release/sink".into());
    assert!(validate(&with_rules(vec![r]), 2).is_ok());
}

#[test]
fn thread_name_longer_than_linux_allows() {
    let mut r = fifo("r", "n", 10);
    r.thread_name = Some("tokio-runtime-worker".into());
    let e = only(&with_rules(vec![r.clone()]), 2);
    assert_err(&e, ErrorKind::CannotMatch, rule_loc(1, "r"), "thread_name");
    assert!(e.message.contains("needs at least 20 bytes"));
    r.thread_name = Some("tokio-runtime-w*".into());
    assert!(validate(&with_rules(vec![r]), 2).is_ok());
}

#[test]
fn shadowed_rules_cannot_match() {
    // Same node, the first covers all threads.
    let mut later = fifo("later", "n", 20);
    later.thread_name = Some("tokio-*".into());
    let e = only(&with_rules(vec![fifo("first", "n", 10), later.clone()]), 2);
    assert_err(&e, ErrorKind::CannotMatch, rule_loc(2, "later"), "");
    assert!(e.message.contains("rule #1 `first` comes first"));
    // The first only covers the main thread: the later one still matches the others.
    let mut main_only = fifo("first", "n", 10);
    main_only.threads = Threads::Main;
    assert!(validate(&with_rules(vec![main_only, later]), 2).is_ok());
    // A glob on the file name covers a literal file name.
    let mut a = RuleSpec::new("a", Class::Other);
    a.exe = Some("rust-*".into());
    let mut b = RuleSpec::new("b", Class::Idle);
    b.exe = Some("rust-node".into());
    assert_eq!(only(&with_rules(vec![a.clone(), b.clone()]), 2).kind, ErrorKind::CannotMatch);
    // ...but not a path, nor another glob.
    b.exe = Some("/bin/rust-node".into());
    assert!(validate(&with_rules(vec![a.clone(), b.clone()]), 2).is_ok());
    b.exe = Some("rust-n*".into());
    assert!(validate(&with_rules(vec![a, b]), 2).is_ok());
    // A rule by exe `*` covers everything that follows.
    let mut all = RuleSpec::new("all", Class::Batch);
    all.exe = Some("*".into());
    assert_eq!(only(&with_rules(vec![all, fifo("x", "n", 5)]), 2).kind, ErrorKind::CannotMatch);
    // Different nodes do not shadow each other.
    assert!(validate(&with_rules(vec![fifo("a", "a", 5), fifo("b", "b", 5)]), 2).is_ok());
}

#[test]
fn default_cannot_be_realtime() {
    let mut s = base();
    s.default = RuleSpec::new("default", Class::Fifo);
    s.default.priority = Some(10);
    let e = only(&s, 2);
    assert_err(&e, ErrorKind::DefaultRealtime, Location::Default, "class");
    s.default = RuleSpec::new("default", Class::Idle);
    let p = validate(&s, 2).unwrap();
    assert_eq!(p.default_policy, Policy::Idle);
    s.default.cpus = Some(CpuSpec::All);
    assert_eq!(validate(&s, 2).unwrap().default_cpus.to_string(), "0-1");
}

#[test]
fn every_error_is_reported() {
    let mut bad = fifo("bad", "n", 0);
    bad.nice = Some(1);
    let mut s = with_rules(vec![bad, dl("d", "m", 2_000, 1_000)]);
    s.realtime = Some(CpuSpec::parse("0-1").unwrap());
    let kinds: Vec<ErrorKind> = errors(&s, 2).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ErrorKind::PartitionOverlap, ErrorKind::NotForClass, ErrorKind::PriorityRange, ErrorKind::RuntimeAboveDeadline, ErrorKind::ReservationTooLarge]
    );
}

#[test]
fn idle_poll_cpus() {
    let p = validate(&base(), 4).unwrap();
    assert!(p.idle_poll.is_empty(), "no idle_poll: every CPU halts when idle");
    let mut s = base();
    s.idle_poll = Some(CpuSpec::Realtime);
    assert_eq!(validate(&s, 4).unwrap().idle_poll, CpuSet::from_cpus(&[1, 2, 3]));
    s.idle_poll = Some(CpuSpec::All);
    assert_eq!(validate(&s, 2).unwrap().idle_poll, CpuSet::from_cpus(&[0, 1]));
    s.idle_poll = Some(CpuSpec::parse("1,3").unwrap());
    assert_eq!(validate(&s, 4).unwrap().idle_poll, CpuSet::from_cpus(&[1, 3]));
    let e = only(&s, 3);
    assert_err(&e, ErrorKind::CpuOutsideMachine, Location::Profile, "cpus.idle_poll");
    s.idle_poll = Some(CpuSpec::Rest);
    let e = only(&s, 4);
    assert_err(&e, ErrorKind::BadValue, Location::Profile, "cpus.idle_poll");
}
