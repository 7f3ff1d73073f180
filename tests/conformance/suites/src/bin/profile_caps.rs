//! `profile_caps` suite (Axle only, booted with `tests/profiles/caps.toml` on 2 CPUs): the
//! dataflow profile places threads and hands out scheduling capabilities.
//!
//! - `profile_active`: /proc/axle/profile names the `caps` profile;
//! - `main_thread_placed`: the main thread (rule `caps-main`) is SCHED_OTHER on CPU 0, and
//!   /proc/self/status says `profile_rule: caps-main`;
//! - `renamed_thread_replaced`: a thread renamed `rt-worker` (prctl PR_SET_NAME) is placed
//!   again by rule `caps-rt`: SCHED_FIFO 30 on CPU 1, and it runs there;
//! - `capability_bounds`: the process holds the `caps-rt`/`caps-dl` capability: FIFO 30 on
//!   CPU 1 is allowed, FIFO 31 is EPERM, FIFO on CPU 0 (outside the capability) is EPERM,
//!   RR (not granted) is EPERM, a DEADLINE reservation above 10% is EPERM, and moving back
//!   to SCHED_OTHER is always allowed;
//! - `deadline_rule_limit`: of two threads named `dl-*`, only the first gets the rule's
//!   DEADLINE reservation (max_threads = 1); the second gets the default placement;
//! - `counts`: /proc/axle/profile counts the threads each rule placed;
//! - `idle_poll_takes_no_ipi`: the profile's `idle_poll = "realtime"` makes idle CPU 1 spin
//!   for work: 50 futex wake-ups of a thread there, 2 ms apart (long past the 50 us that
//!   every idle CPU polls before it halts), cost fewer than 10 rescheduling interrupts
//!   (`RES` in /proc/interrupts); a halting CPU takes one per wake-up.
//!
//! On a kernel without this profile every check fails, by design: it is not a Linux test.

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use std::time::Duration;

const SCHED_OTHER: i32 = 0;
const SCHED_FIFO: i32 = 1;
const SCHED_RR: i32 = 2;
const SCHED_DEADLINE: i32 = 6;

#[repr(C)]
struct Param(i32);

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

fn main() {
    let mut s = Suite::new("profile_caps");
    s.check("profile_active", profile_active);
    s.check("main_thread_placed", main_thread_placed);
    s.check("renamed_thread_replaced", renamed_thread_replaced);
    s.check("capability_bounds", capability_bounds);
    s.check("deadline_rule_limit", deadline_rule_limit);
    s.check("counts", counts);
    s.check("idle_poll_takes_no_ipi", idle_poll_takes_no_ipi);
    s.finish();
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn status_field(field: &str) -> Result<String, String> {
    let tid = unsafe { syscall!(libc::SYS_gettid) };
    let text = read(&format!("/proc/self/task/{tid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string()))
        .ok_or_else(|| format!("no `{field}` in status"))
}

fn rename(name: &str) -> CheckResult {
    let c = std::ffi::CString::new(name).unwrap();
    sys_ok("prctl(PR_SET_NAME)", || unsafe { syscall!(libc::SYS_prctl, libc::PR_SET_NAME, c.as_ptr(), 0, 0, 0) })?;
    Ok(())
}

fn policy() -> libc::c_long {
    unsafe { syscall!(libc::SYS_sched_getscheduler, 0) }
}

fn priority() -> i32 {
    let mut p = Param(-1);
    unsafe { syscall!(libc::SYS_sched_getparam, 0, &raw mut p) };
    p.0
}

fn set_sched(pol: i32, prio: i32) -> libc::c_long {
    let p = Param(prio);
    unsafe { syscall!(libc::SYS_sched_setscheduler, 0, pol, &raw const p) }
}

fn set_cpus(cpus: &[usize]) -> libc::c_long {
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    unsafe { syscall!(libc::SYS_sched_setaffinity, 0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set) }
}

fn cpus_allowed() -> Result<String, String> {
    status_field("Cpus_allowed_list")
}

fn getcpu() -> u32 {
    let mut c = u32::MAX;
    unsafe { syscall!(libc::SYS_getcpu, &raw mut c, 0, 0) };
    c
}

fn profile_active() -> CheckResult {
    let p = read("/proc/axle/profile")?;
    ensure!(p.contains("profile `caps`"), "/proc/axle/profile: {p}");
    Ok(())
}

fn main_thread_placed() -> CheckResult {
    ensure_eq!(status_field("profile_rule")?, "caps-main");
    ensure_eq!(policy(), SCHED_OTHER as libc::c_long);
    ensure_eq!(cpus_allowed()?, "0", "main thread's CPUs");
    Ok(())
}

fn renamed_thread_replaced() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        ensure_eq!(status_field("profile_rule")?, "-", "an unnamed thread matches no rule");
        rename("rt-worker")?;
        ensure_eq!(status_field("profile_rule")?, "caps-rt");
        ensure_eq!((policy(), priority()), (SCHED_FIFO as libc::c_long, 30), "placed by caps-rt");
        ensure_eq!(cpus_allowed()?, "1");
        std::thread::sleep(Duration::from_millis(2));
        ensure_eq!(getcpu(), 1, "running on the real-time CPU");
        Ok(())
    });
    join(h)?
}

fn capability_bounds() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        // Unplaced thread on CPU 0: FIFO there is outside the capability's CPUs.
        expect_sys_errno("FIFO 10 on CPU 0", || set_sched(SCHED_FIFO, 10), libc::EPERM)?;
        sys_ok("move to CPU 1", || set_cpus(&[1]))?;
        sys_ok("FIFO 30 on CPU 1", || set_sched(SCHED_FIFO, 30))?;
        expect_sys_errno("FIFO 31", || set_sched(SCHED_FIFO, 31), libc::EPERM)?;
        expect_sys_errno("a FIFO thread to CPU 0", || set_cpus(&[0]), libc::EPERM)?;
        expect_sys_errno("RR 10 (not granted)", || set_sched(SCHED_RR, 10), libc::EPERM)?;
        let big = SchedAttr { size: 56, policy: SCHED_DEADLINE as u32, runtime: 2_000_000, deadline: 10_000_000, period: 10_000_000, ..SchedAttr::default() };
        expect_sys_errno("DEADLINE 20%", || unsafe { syscall!(libc::SYS_sched_setattr, 0, &raw const big, 0) }, libc::EPERM)?;
        sys_ok("back to OTHER", || set_sched(SCHED_OTHER, 0))?;
        ensure_eq!(policy(), SCHED_OTHER as libc::c_long);
        Ok(())
    });
    join(h)?
}

fn deadline_rule_limit() -> CheckResult {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let first = std::thread::spawn(move || -> Result<(libc::c_long, String), String> {
        rename("dl-a")?;
        let r = (policy(), status_field("profile_rule")?);
        let _ = rx.recv();
        Ok(r)
    });
    std::thread::sleep(Duration::from_millis(50));
    let second = std::thread::spawn(|| -> Result<(libc::c_long, String), String> {
        rename("dl-b")?;
        Ok((policy(), status_field("profile_rule")?))
    });
    let b = join(second)??;
    let _ = tx.send(());
    let a = join(first)??;
    ensure_eq!(a, (SCHED_DEADLINE as libc::c_long, "caps-dl".to_string()), "first dl-* thread");
    ensure_eq!(b, (SCHED_OTHER as libc::c_long, "-".to_string()), "second dl-* thread (rule full)");
    Ok(())
}

fn counts() -> CheckResult {
    let p = read("/proc/axle/profile")?;
    let count = |rule: &str| -> Option<u32> {
        p.lines().find_map(|l| l.trim().strip_prefix(&format!("{rule}: ")).and_then(|v| v.trim().parse().ok()))
    };
    ensure_eq!(count("caps-main"), Some(1), "threads placed by caps-main (the main thread)");
    ensure_eq!(count("caps-rt"), Some(0), "caps-rt threads have ended");
    ensure_eq!(count("caps-dl"), Some(0), "caps-dl threads have ended");
    Ok(())
}

/// CPU 1's count of rescheduling interrupts (`RES` in /proc/interrupts).
fn res_count_cpu1() -> Result<u64, String> {
    let text = read("/proc/interrupts")?;
    let line = text.lines().find_map(|l| l.trim_start().strip_prefix("RES:")).ok_or("no RES line in /proc/interrupts")?;
    let v: Vec<&str> = line.split_whitespace().collect();
    v.get(1).and_then(|n| n.parse().ok()).ok_or_else(|| format!("RES line without a CPU 1 count: {line}"))
}

fn idle_poll_takes_no_ipi() -> CheckResult {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let p = read("/proc/axle/profile")?;
    ensure!(p.contains("idle CPUs 1 poll for work"), "/proc/axle/profile does not say CPU 1 polls: {p}");
    const ROUNDS: u32 = 50;
    let word = Arc::new(AtomicU32::new(0));
    let w = word.clone();
    let sleeper = std::thread::spawn(move || -> CheckResult {
        rename("rt-poll")?;
        ensure_eq!(cpus_allowed()?, "1", "rt-poll placed on CPU 1");
        let mut seen = 0;
        while seen < ROUNDS {
            let v = w.load(Ordering::Acquire);
            if v == seen {
                // SAFETY: the word lives as long as this thread (Arc); no timeout.
                unsafe { syscall!(libc::SYS_futex, w.as_ptr(), libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, seen, 0, 0, 0) };
            } else {
                seen = v;
            }
        }
        Ok(())
    });
    std::thread::sleep(Duration::from_millis(20));
    let before = res_count_cpu1()?;
    for i in 1..=ROUNDS {
        std::thread::sleep(Duration::from_millis(2));
        word.store(i, Ordering::Release);
        unsafe { syscall!(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1, 0, 0, 0) };
    }
    join(sleeper)??;
    let ipis = res_count_cpu1()? - before;
    ensure!(ipis < 10, "{ROUNDS} wake-ups of a thread on polling CPU 1 took {ipis} rescheduling interrupts");
    Ok(())
}
