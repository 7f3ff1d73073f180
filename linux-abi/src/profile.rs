//! The dataflow profile, applied: at boot the compiled profile `/etc/axle/profile` is
//! parsed and validated for this machine's CPU count (`dataflow-profile`, the same code
//! the host tool runs); at `execve` each process gets its identity (Dora role, node id,
//! executable) and its scheduling capability; each thread is placed (class, parameters,
//! CPUs) when it starts and again when it is renamed.
//!
//! An invalid profile is logged error by error and ignored: the machine then runs with
//! Linux's rules, and nothing is granted. DEADLINE placements are honoured for at most a
//! rule's `max_threads` threads at once; the ones beyond get the default placement.
//! Inspect with `/proc/axle/profile` (summary and per-rule thread counts) and the
//! `profile_rule:` line of `/proc/<pid>/task/<tid>/status`.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI32, Ordering};

use dataflow_profile::matching::{matches, Identity, Placement};
use dataflow_profile::model::{Policy as PPolicy, Profile};
use rtos::sched::deadline::{to_bw, DlParams};
use rtos::sched::policy::{Params, Policy};
use rtos::sync::SpinLock;

use crate::process::{Process, Task};
use crate::schedcap::{self, SchedCap};

/// Where the compiled profile is read from.
pub const PATH: &str = "/etc/axle/profile";

static PROFILE: spin::Once<Profile> = spin::Once::new();
/// Why no profile is active (shown in /proc/axle/profile).
static STATUS: SpinLock<Option<String>> = SpinLock::new(None);
/// Live threads placed by each rule (index = rule).
static PLACED: SpinLock<Vec<u32>> = SpinLock::new(Vec::new());

/// The active profile.
pub fn get() -> Option<&'static Profile> {
    PROFILE.get()
}

fn machine_mask() -> u64 {
    let n = rtos::percpu::online();
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// Loads and validates `/etc/axle/profile` if the image has one.
pub fn load() {
    let root = crate::fs::root_location();
    let Ok(loc) = crate::fs::path::resolve(&root, &root, PATH, crate::fs::path::Follow::Yes) else {
        *STATUS.lock() = Some(String::from("none (no /etc/axle/profile)"));
        return;
    };
    let inode = loc.inode();
    let size = inode.stat().size as usize;
    let mut buf = alloc::vec![0u8; size.min(1 << 20)];
    let n = inode.read_at(0, &mut buf).unwrap_or(0);
    buf.truncate(n);
    let Ok(text) = core::str::from_utf8(&buf) else {
        log::error!("profile: {PATH} is not UTF-8; running without a profile");
        *STATUS.lock() = Some(String::from("none (not UTF-8)"));
        return;
    };
    let ncpus = rtos::percpu::online() as u32;
    let result = dataflow_profile::compiled::parse(text).and_then(|spec| dataflow_profile::validate(&spec, ncpus));
    match result {
        Ok(p) => {
            rtos::console::write_text(&alloc::format!("axle: dataflow profile `{}` active ({} rules, {} CPUs)\n", p.name, p.rules.len(), ncpus));
            *PLACED.lock() = alloc::vec![0; p.rules.len()];
            // Kernel threads (network, signals, statistics) stay on the housekeeping CPUs.
            rtos::sched::thread::set_kernel_affinity(p.housekeeping.words()[0] & machine_mask());
            if !p.idle_poll.is_empty() {
                // These CPUs spin for work when idle: no halt, no wake-up interrupt to wait for.
                rtos::sched::core::set_idle_poll(p.idle_poll.words()[0] & machine_mask());
            }
            PROFILE.call_once(|| p);
            schedcap::set_profile_active(true);
        }
        Err(errors) => {
            rtos::console::write_text(&alloc::format!("axle: dataflow profile {PATH} rejected, running without it:\n"));
            for e in &errors {
                rtos::console::write_text(&alloc::format!("axle:   {e}\n"));
            }
            *STATUS.lock() = Some(alloc::format!("none ({PATH} rejected: {} error(s), see the boot log)", errors.len()));
        }
    }
}

/// The kernel parameters and CPU mask of a placement.
fn params_of(p: &Placement) -> (Params, u64) {
    let params = match p.policy {
        PPolicy::Fifo { priority } => Params { policy: Policy::Fifo, rt_priority: priority, ..Params::default() },
        PPolicy::Rr { priority } => Params { policy: Policy::Rr, rt_priority: priority, ..Params::default() },
        PPolicy::Deadline { runtime_ns, deadline_ns, period_ns } => {
            Params { policy: Policy::Deadline, dl: DlParams::new(runtime_ns, deadline_ns, period_ns, 0), ..Params::default() }
        }
        PPolicy::Other { nice } => Params { policy: Policy::Other, nice, ..Params::default() },
        PPolicy::Batch { nice } => Params { policy: Policy::Batch, nice, ..Params::default() },
        PPolicy::Idle => Params { policy: Policy::Idle, ..Params::default() },
    };
    (params, p.cpus.words()[0] & machine_mask())
}

/// The capability of a process with `id`: what any rule that can match one of its
/// threads allows (their CPUs, classes, highest priority and largest bandwidth).
fn capability(profile: &Profile, id: &Identity) -> Option<SchedCap> {
    let mut cap: Option<SchedCap> = None;
    for rule in &profile.rules {
        // Thread criteria are decided per thread: the process may hold what any of its
        // threads could be placed with.
        let mut m = rule.matcher.clone();
        m.thread_name = None;
        m.threads = dataflow_profile::spec::Threads::All;
        if !matches(&m, id, b"", true) || !rule.policy.is_realtime() {
            continue;
        }
        let c = cap.get_or_insert(SchedCap { cpus: 0, allow_fifo: false, allow_rr: false, allow_deadline: false, max_rt_priority: 0, max_dl_bw: 0 });
        c.cpus |= rule.cpus.words()[0] & machine_mask();
        match rule.policy {
            PPolicy::Fifo { priority } => {
                c.allow_fifo = true;
                c.max_rt_priority = c.max_rt_priority.max(priority);
            }
            PPolicy::Rr { priority } => {
                c.allow_rr = true;
                c.max_rt_priority = c.max_rt_priority.max(priority);
            }
            PPolicy::Deadline { runtime_ns, period_ns, .. } => {
                c.allow_deadline = true;
                c.max_dl_bw = c.max_dl_bw.max(to_bw(runtime_ns, period_ns));
            }
            _ => {}
        }
    }
    cap
}

/// `execve` succeeded: computes the process's identity and capability and places the
/// calling (now only) thread.
pub fn on_exec(task: &Arc<Task>, exe: &str, argv: &[Vec<u8>], envp: &[Vec<u8>]) {
    let Some(profile) = get() else { return };
    let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let envp: Vec<&[u8]> = envp.iter().map(|e| e.as_slice()).collect();
    let id = profile.identify(exe.as_bytes(), &argv, &envp);
    *task.process.sched_cap.lock() = capability(profile, &id);
    *task.process.identity.lock() = Some(id);
    place(task);
}

/// Places a thread by the profile (at start, after `execve`, and when renamed).
pub fn place(task: &Arc<Task>) {
    let Some(profile) = get() else { return };
    let Some(thread) = task.thread() else { return };
    let id = task.process.identity.lock().clone().unwrap_or_default();
    let name = task.comm.lock().clone();
    let main = task.is_leader();
    let mut placement = profile.place(&id, name.as_bytes(), main);
    let old_rule = task.profile_rule.load(Ordering::Relaxed);
    let new_rule = placement.rule.map_or(-1, |r| r as i32);
    if old_rule == new_rule && old_rule >= 0 {
        return;
    }
    // DEADLINE rules give their reservation to at most `max_threads` threads at once.
    if let Some(r) = placement.rule {
        let rule = &profile.rules[r];
        if let PPolicy::Deadline { .. } = rule.policy {
            let count = PLACED.lock().get(r).copied().unwrap_or(0);
            if count >= rule.max_threads {
                log::warn!("profile: rule `{}` already has its {} deadline thread(s); tid {} gets the default", rule.name, rule.max_threads, task.tid());
                placement = Placement { rule: None, policy: profile.default_policy, cpus: profile.default_cpus };
            }
        }
    }
    let (params, mask) = params_of(&placement);
    if mask == 0 {
        return;
    }
    match rtos::sched::core::set_params(&thread, Some(params), Some(mask)) {
        Ok(()) => {
            set_rule(task, placement.rule.map_or(-1, |r| r as i32));
        }
        Err(e) => {
            log::warn!("profile: tid {} ({}) not placed by rule {:?}: {e:?}", task.tid(), name.as_str(), placement.rule);
            let (dp, dm) = params_of(&Placement { rule: None, policy: profile.default_policy, cpus: profile.default_cpus });
            let _ = rtos::sched::core::set_params(&thread, Some(dp), Some(dm));
            set_rule(task, -1);
        }
    }
}

/// Records which rule placed `task` (for the counts and /proc).
fn set_rule(task: &Task, rule: i32) {
    let old = task.profile_rule.swap(rule, Ordering::Relaxed);
    let mut placed = PLACED.lock();
    if old >= 0 {
        if let Some(c) = placed.get_mut(old as usize) {
            *c = c.saturating_sub(1);
        }
    }
    if rule >= 0 {
        if let Some(c) = placed.get_mut(rule as usize) {
            *c += 1;
        }
    }
}

/// A thread ended: its rule's count drops.
pub fn on_exit(task: &Task) {
    if get().is_some() {
        set_rule(task, -1);
    }
}

/// The name of the rule that placed `task` (for /proc).
pub fn rule_name(task: &Task) -> Option<String> {
    let r = task.profile_rule.load(Ordering::Relaxed);
    let p = get()?;
    (r >= 0).then(|| p.rules.get(r as usize).map(|x| x.name.clone())).flatten()
}

/// `/proc/axle/profile`.
pub fn summary() -> String {
    match get() {
        Some(p) => {
            let mut s = alloc::format!("{p}");
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str("threads placed:\n");
            let placed = PLACED.lock();
            for (i, r) in p.rules.iter().enumerate() {
                s.push_str(&alloc::format!("  {}: {}\n", r.name, placed.get(i).copied().unwrap_or(0)));
            }
            s
        }
        None => alloc::format!("{}\n", STATUS.lock().clone().unwrap_or_else(|| String::from("none"))),
    }
}

/// Identity of a forked child: the parent's (recomputed at its next `execve`).
pub fn inherit(parent: &Process, child: &Process) {
    *child.identity.lock() = parent.identity.lock().clone();
    *child.sched_cap.lock() = *parent.sched_cap.lock();
}

/// The CPU device interrupts should go to: the first housekeeping CPU (0 without a profile).
pub fn irq_cpu() -> u32 {
    get().and_then(|p| p.housekeeping.iter().next()).unwrap_or(0)
}

/// Keeps the per-thread rule index type in one place.
pub type RuleIndex = AtomicI32;
