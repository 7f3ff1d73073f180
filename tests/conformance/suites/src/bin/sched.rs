//! `sched` suite: the Linux scheduling calls, as root (the reference is the host kernel).
//!
//! - policy numbers and priority ranges (`sched_get_priority_max/min`, bad policy EINVAL);
//! - `sched_setscheduler`/`getscheduler`/`setparam`/`getparam` for FIFO, RR, OTHER, BATCH,
//!   IDLE, with Linux's EINVAL/ESRCH cases (priority out of range, priority for OTHER,
//!   SCHED_DEADLINE through sched_setscheduler, negative pid, unknown pid);
//! - `SCHED_RESET_ON_FORK`: reported by `sched_getscheduler`, a forked child starts in
//!   SCHED_OTHER;
//! - `sched_setattr`/`sched_getattr`: DEADLINE reservations (runtime <= deadline <= period,
//!   EINVAL otherwise; flags argument and size rules: E2BIG with the kernel's size written
//!   back), nice values for OTHER;
//! - DEADLINE admission: threads of 40% bandwidth each are admitted until the CPUs'
//!   95% limit is reached, then EBUSY; a DEADLINE thread cannot fork (EAGAIN);
//! - CBS throttling: a DEADLINE thread with 10% bandwidth that spins for 600 ms gets at
//!   most a quarter of that as CPU time; with SCHED_FLAG_DL_OVERRUN it receives SIGXCPU;
//! - FIFO priority order on one CPU: a lower-priority FIFO thread does not run while a
//!   higher one spins, and runs as soon as it sleeps;
//! - `sched_setaffinity` of another thread by its tid moves it (getcpu agrees);
//! - `sched_rr_get_interval` (RR 100 ms, FIFO 0), `setpriority`/`getpriority`, `getcpu`.
//!
//! Every real-time thread here runs for well under a second, inside Linux's (and Axle's)
//! 950 ms real-time throttling budget.

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHED_OTHER: i32 = 0;
const SCHED_FIFO: i32 = 1;
const SCHED_RR: i32 = 2;
const SCHED_BATCH: i32 = 3;
const SCHED_IDLE: i32 = 5;
const SCHED_DEADLINE: i32 = 6;
const RESET_ON_FORK: i32 = 0x4000_0000;
const FLAG_DL_OVERRUN: u64 = 0x04;
const MS: u64 = 1_000_000;

/// The kernel's `struct sched_param` (musl's has more fields).
#[repr(C)]
struct Param(i32);

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
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
    let mut s = Suite::new("sched");
    s.check("priority_ranges", priority_ranges);
    s.check("setscheduler_round_trip", setscheduler_round_trip);
    s.check("setscheduler_errors", setscheduler_errors);
    s.check("reset_on_fork", reset_on_fork);
    s.check("setattr_deadline_round_trip", setattr_deadline_round_trip);
    s.check("setattr_errors", setattr_errors);
    s.check("setattr_nice", setattr_nice);
    s.check("deadline_admission", deadline_admission);
    s.check("deadline_cannot_fork", deadline_cannot_fork);
    s.check("deadline_throttling", deadline_throttling);
    s.check("deadline_overrun_sigxcpu", deadline_overrun_sigxcpu);
    s.check("fifo_priority_order", fifo_priority_order);
    s.check("setaffinity_other_thread", setaffinity_other_thread);
    s.check("rr_interval", rr_interval);
    s.check("nice_and_getcpu", nice_and_getcpu);
    s.finish();
}

fn set_sched(pid: i32, policy: i32, prio: i32) -> libc::c_long {
    let p = Param(prio);
    // SAFETY: p outlives the call.
    unsafe { syscall!(libc::SYS_sched_setscheduler, pid, policy, &raw const p) }
}

fn get_sched(pid: i32) -> libc::c_long {
    // SAFETY: no pointers.
    unsafe { syscall!(libc::SYS_sched_getscheduler, pid) }
}

fn get_param(pid: i32) -> Result<i32, String> {
    let mut p = Param(-1);
    // SAFETY: p outlives the call.
    sys_ok("sched_getparam", || unsafe { syscall!(libc::SYS_sched_getparam, pid, &raw mut p) })?;
    Ok(p.0)
}

fn back_to_other() -> CheckResult {
    sys_ok("sched_setscheduler(OTHER)", || set_sched(0, SCHED_OTHER, 0))?;
    Ok(())
}

fn setattr(pid: i32, a: &SchedAttr, flags: u32) -> libc::c_long {
    // SAFETY: a outlives the call.
    unsafe { syscall!(libc::SYS_sched_setattr, pid, a as *const SchedAttr, flags) }
}

fn getattr(pid: i32, size: u32) -> Result<SchedAttr, String> {
    let mut a = SchedAttr::default();
    // SAFETY: a outlives the call and is 56 bytes.
    sys_ok("sched_getattr", || unsafe { syscall!(libc::SYS_sched_getattr, pid, &raw mut a, size, 0) })?;
    Ok(a)
}

fn dl_attr(runtime: u64, deadline: u64, period: u64, flags: u64) -> SchedAttr {
    SchedAttr { size: 56, policy: SCHED_DEADLINE as u32, flags, runtime, deadline, period, ..SchedAttr::default() }
}

fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall!(libc::SYS_gettid) as i32 }
}

fn ncpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn pin_to(cpu: usize) -> Result<(), String> {
    // SAFETY: cpu_set_t is plain data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: cpu is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    sys_ok("sched_setaffinity", || unsafe {
        syscall!(libc::SYS_sched_setaffinity, 0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set)
    })?;
    Ok(())
}

fn current_cpu() -> Result<u32, String> {
    let mut cpu: u32 = u32::MAX;
    // SAFETY: cpu outlives the call; node and cache may be null.
    sys_ok("getcpu", || unsafe { syscall!(libc::SYS_getcpu, &raw mut cpu, 0, 0) })?;
    Ok(cpu)
}

fn thread_cputime() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts outlives the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

// ---------------------------------------------------------------------------

fn priority_ranges() -> CheckResult {
    let max = |p: i32| unsafe { syscall!(libc::SYS_sched_get_priority_max, p) };
    let min = |p: i32| unsafe { syscall!(libc::SYS_sched_get_priority_min, p) };
    for (p, lo, hi) in [(SCHED_OTHER, 0, 0), (SCHED_FIFO, 1, 99), (SCHED_RR, 1, 99), (SCHED_BATCH, 0, 0), (SCHED_IDLE, 0, 0), (SCHED_DEADLINE, 0, 0)] {
        ensure_eq!((min(p), max(p)), (lo, hi), "priority range of policy {p}");
    }
    expect_sys_errno("sched_get_priority_max(4)", || max(4), libc::EINVAL)?;
    expect_sys_errno("sched_get_priority_min(8)", || min(8), libc::EINVAL)?;
    expect_sys_errno("sched_get_priority_max(-1)", || max(-1), libc::EINVAL)
}

fn setscheduler_round_trip() -> CheckResult {
    let r = (|| {
        for (pol, prio) in [(SCHED_FIFO, 10), (SCHED_RR, 20), (SCHED_FIFO, 99), (SCHED_BATCH, 0), (SCHED_IDLE, 0), (SCHED_OTHER, 0)] {
            sys_ok("sched_setscheduler", || set_sched(0, pol, prio))?;
            ensure_eq!(get_sched(0), pol as libc::c_long, "policy after setting {pol}/{prio}");
            ensure_eq!(get_param(0)?, prio, "priority after setting {pol}/{prio}");
        }
        // sched_setparam keeps the policy.
        sys_ok("sched_setscheduler(RR 5)", || set_sched(0, SCHED_RR, 5))?;
        let p = Param(7);
        sys_ok("sched_setparam(7)", || unsafe { syscall!(libc::SYS_sched_setparam, 0, &raw const p) })?;
        ensure_eq!((get_sched(0), get_param(0)?), (SCHED_RR as libc::c_long, 7));
        // By tid, from the main thread to itself.
        sys_ok("sched_setscheduler(tid)", || set_sched(gettid(), SCHED_FIFO, 3))?;
        ensure_eq!(get_sched(gettid()), SCHED_FIFO as libc::c_long);
        Ok(())
    })();
    back_to_other()?;
    r
}

fn setscheduler_errors() -> CheckResult {
    expect_sys_errno("FIFO priority 0", || set_sched(0, SCHED_FIFO, 0), libc::EINVAL)?;
    expect_sys_errno("FIFO priority 100", || set_sched(0, SCHED_FIFO, 100), libc::EINVAL)?;
    expect_sys_errno("OTHER priority 5", || set_sched(0, SCHED_OTHER, 5), libc::EINVAL)?;
    expect_sys_errno("policy 4", || set_sched(0, 4, 0), libc::EINVAL)?;
    expect_sys_errno("policy -1", || set_sched(0, -1, 0), libc::EINVAL)?;
    expect_sys_errno("DEADLINE via sched_setscheduler", || set_sched(0, SCHED_DEADLINE, 0), libc::EINVAL)?;
    expect_sys_errno("pid -1", || set_sched(-1, SCHED_OTHER, 0), libc::EINVAL)?;
    expect_sys_errno("unknown pid", || set_sched(0x3fff_fff0, SCHED_OTHER, 0), libc::ESRCH)?;
    expect_sys_errno("getscheduler unknown pid", || get_sched(0x3fff_fff0), libc::ESRCH)?;
    expect_sys_errno("null param", || unsafe { syscall!(libc::SYS_sched_setscheduler, 0, SCHED_FIFO, 0) }, libc::EINVAL)?;
    ensure_eq!(get_sched(0), SCHED_OTHER as libc::c_long, "failed calls changed nothing");
    Ok(())
}

fn reset_on_fork() -> CheckResult {
    let r = (|| {
        sys_ok("setscheduler(FIFO|RESET_ON_FORK)", || set_sched(0, SCHED_FIFO | RESET_ON_FORK, 10))?;
        ensure_eq!(get_sched(0), (SCHED_FIFO | RESET_ON_FORK) as libc::c_long, "getscheduler shows the flag");
        // SAFETY: the child only makes raw syscalls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let pol = get_sched(0);
            let mut p = Param(-1);
            unsafe { syscall!(libc::SYS_sched_getparam, 0, &raw mut p) };
            unsafe { libc::_exit(if pol == SCHED_OTHER as libc::c_long && p.0 == 0 { 0 } else { 1 }) };
        }
        ensure!(pid > 0, "fork failed");
        let mut st = 0;
        unsafe { libc::waitpid(pid, &mut st, 0) };
        ensure!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "child did not start in SCHED_OTHER (status {st:#x})");
        Ok(())
    })();
    back_to_other()?;
    r
}

fn setattr_deadline_round_trip() -> CheckResult {
    // In a thread of its own: a deadline thread cannot create threads.
    let h = std::thread::spawn(|| -> CheckResult {
        let a = dl_attr(2 * MS, 10 * MS, 20 * MS, 0);
        sys_ok("sched_setattr(DEADLINE 2/10/20 ms)", || setattr(0, &a, 0))?;
        ensure_eq!(get_sched(0), SCHED_DEADLINE as libc::c_long);
        let g = getattr(0, 56)?;
        ensure_eq!((g.size, g.policy, g.runtime, g.deadline, g.period, g.priority), (56, SCHED_DEADLINE as u32, 2 * MS, 10 * MS, 20 * MS, 0));
        // A zero period means "the deadline".
        let a = dl_attr(MS, 5 * MS, 0, 0);
        sys_ok("sched_setattr(period 0)", || setattr(0, &a, 0))?;
        ensure_eq!(getattr(0, 56)?.period, 5 * MS, "period defaults to the deadline");
        // getattr with the first-version size.
        ensure_eq!(getattr(0, 48)?.size, 48);
        // Back to FIFO through sched_setattr, then OTHER.
        let f = SchedAttr { size: 56, policy: SCHED_FIFO as u32, priority: 15, ..SchedAttr::default() };
        sys_ok("sched_setattr(FIFO 15)", || setattr(0, &f, 0))?;
        ensure_eq!((get_sched(0), get_param(0)?), (SCHED_FIFO as libc::c_long, 15));
        back_to_other()
    });
    join(h)?
}

fn setattr_errors() -> CheckResult {
    let bad = [
        ("runtime > deadline", dl_attr(5 * MS, 2 * MS, 10 * MS, 0)),
        ("deadline > period", dl_attr(MS, 20 * MS, 10 * MS, 0)),
        ("zero runtime", dl_attr(0, 10 * MS, 10 * MS, 0)),
        ("runtime below 1024 ns", dl_attr(512, 10 * MS, 10 * MS, 0)),
        ("period below 100 us", dl_attr(10_000, 50_000, 50_000, 0)),
        ("unknown flag", dl_attr(MS, 10 * MS, 10 * MS, 0x1000)),
    ];
    for (what, a) in bad {
        expect_sys_errno(what, || setattr(0, &a, 0), libc::EINVAL)?;
    }
    let ok = dl_attr(MS, 10 * MS, 10 * MS, 0);
    expect_sys_errno("flags argument 1", || setattr(0, &ok, 1), libc::EINVAL)?;
    expect_sys_errno("null attr", || unsafe { syscall!(libc::SYS_sched_setattr, 0, 0, 0) }, libc::EINVAL)?;
    expect_sys_errno("pid -1", || setattr(-1, &ok, 0), libc::EINVAL)?;
    // A size below the first version is E2BIG, and the kernel writes back the size it knows.
    let mut small = SchedAttr { size: 40, policy: SCHED_OTHER as u32, ..SchedAttr::default() };
    expect_sys_errno("size 40", || unsafe { syscall!(libc::SYS_sched_setattr, 0, &raw mut small, 0) }, libc::E2BIG)?;
    ensure_eq!(small.size, 56, "size written back");
    // getattr: a buffer smaller than the first version is EINVAL.
    let mut g = SchedAttr::default();
    expect_sys_errno("getattr size 40", || unsafe { syscall!(libc::SYS_sched_getattr, 0, &raw mut g, 40, 0) }, libc::EINVAL)?;
    expect_sys_errno("getattr flags 1", || unsafe { syscall!(libc::SYS_sched_getattr, 0, &raw mut g, 56, 1) }, libc::EINVAL)?;
    ensure_eq!(get_sched(0), SCHED_OTHER as libc::c_long, "failed calls changed nothing");
    Ok(())
}

fn setattr_nice() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        let a = SchedAttr { size: 56, policy: SCHED_OTHER as u32, nice: 7, ..SchedAttr::default() };
        sys_ok("sched_setattr(OTHER nice 7)", || setattr(0, &a, 0))?;
        ensure_eq!(getattr(0, 56)?.nice, 7);
        let b = SchedAttr { size: 56, policy: SCHED_BATCH as u32, nice: -3, ..SchedAttr::default() };
        sys_ok("sched_setattr(BATCH nice -3)", || setattr(0, &b, 0))?;
        let g = getattr(0, 56)?;
        ensure_eq!((g.policy, g.nice), (SCHED_BATCH as u32, -3));
        let bad = SchedAttr { size: 56, policy: SCHED_OTHER as u32, priority: 3, ..SchedAttr::default() };
        expect_sys_errno("OTHER with priority 3", || setattr(0, &bad, 0), libc::EINVAL)
    });
    join(h)?
}

/// Threads that each hold a 40% reservation until told to go.
fn deadline_admission() -> CheckResult {
    let n = ncpus();
    // Linux admits while the sum stays within 95% of every CPU: floor(0.95 n / 0.4).
    let expected = (95 * n) / 40;
    let go = Arc::new(AtomicBool::new(false));
    let admitted = Arc::new(AtomicU32::new(0));
    let mut handles = Vec::new();
    let mut first_refusal = None;
    for _ in 0..expected + 1 {
        let (go2, adm) = (go.clone(), admitted.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        handles.push(std::thread::spawn(move || {
            let a = dl_attr(4 * MS, 10 * MS, 10 * MS, 0);
            let r = checks::sys(setattr(0, &a, 0));
            if r.is_ok() {
                adm.fetch_add(1, Ordering::SeqCst);
            }
            let _ = tx.send(r);
            while !go2.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }));
        if let Ok(Err(e)) = rx.recv() {
            first_refusal = Some(e);
            break;
        }
    }
    go.store(true, Ordering::Release);
    for h in handles {
        join(h)?;
    }
    ensure_eq!(admitted.load(Ordering::SeqCst) as usize, expected, "40% reservations admitted on {n} CPU(s)");
    ensure_eq!(first_refusal, Some(libc::EBUSY), "the one over the limit is refused with EBUSY");
    // The bandwidth is free again once those threads ended.
    let h = std::thread::spawn(|| sys_ok("sched_setattr after release", || setattr(0, &dl_attr(4 * MS, 10 * MS, 10 * MS, 0), 0)).map(|_| ()));
    join(h)?
}

fn deadline_cannot_fork() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        sys_ok("sched_setattr", || setattr(0, &dl_attr(2 * MS, 10 * MS, 10 * MS, 0), 0))?;
        // SAFETY: raw fork; the child (if any) exits at once.
        let r = unsafe { syscall!(libc::SYS_fork) };
        if r == 0 {
            unsafe { libc::_exit(0) };
        }
        let e = checks::errno();
        if r > 0 {
            unsafe { libc::waitpid(r as i32, std::ptr::null_mut(), 0) };
            return Err("a SCHED_DEADLINE thread forked".into());
        }
        ensure_eq!(checks::errno_name(e), checks::errno_name(libc::EAGAIN), "fork from a deadline thread");
        Ok(())
    });
    join(h)?
}

fn deadline_throttling() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        sys_ok("sched_setattr(DEADLINE 5/50/50 ms)", || setattr(0, &dl_attr(5 * MS, 50 * MS, 50 * MS, 0), 0))?;
        let wall = Instant::now();
        let cpu0 = thread_cputime();
        while wall.elapsed() < Duration::from_millis(600) {
            std::hint::spin_loop();
        }
        let used = thread_cputime() - cpu0;
        let elapsed = wall.elapsed();
        // 10% bandwidth: about 60 ms of CPU; anything up to a quarter of the wall time passes.
        ensure!(used <= elapsed / 4, "a 10% reservation used {used:?} of CPU in {elapsed:?}");
        ensure!(used >= Duration::from_millis(5), "it hardly ran: {used:?}");
        Ok(())
    });
    join(h)?
}

static SIGXCPU_SEEN: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_sigxcpu(_: libc::c_int) {
    SIGXCPU_SEEN.fetch_add(1, Ordering::SeqCst);
}

fn deadline_overrun_sigxcpu() -> CheckResult {
    // SAFETY: installs a handler that only touches an atomic.
    unsafe { libc::signal(libc::SIGXCPU, on_sigxcpu as *const () as usize) };
    SIGXCPU_SEEN.store(0, Ordering::SeqCst);
    let h = std::thread::spawn(|| -> CheckResult {
        sys_ok("sched_setattr(DL_OVERRUN)", || setattr(0, &dl_attr(2 * MS, 20 * MS, 20 * MS, FLAG_DL_OVERRUN), 0))?;
        let g = getattr(0, 56)?;
        ensure!(g.flags & FLAG_DL_OVERRUN != 0, "getattr lost SCHED_FLAG_DL_OVERRUN: flags {:#x}", g.flags);
        let t = Instant::now();
        while SIGXCPU_SEEN.load(Ordering::SeqCst) == 0 && t.elapsed() < Duration::from_secs(3) {
            std::hint::spin_loop();
        }
        back_to_other()
    });
    join(h)??;
    unsafe { libc::signal(libc::SIGXCPU, libc::SIG_DFL) };
    ensure!(SIGXCPU_SEEN.load(Ordering::SeqCst) > 0, "no SIGXCPU after overrunning a 2 ms runtime");
    Ok(())
}

fn fifo_priority_order() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        pin_to(0)?;
        sys_ok("main FIFO 50", || set_sched(0, SCHED_FIFO, 50))?;
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let low = std::thread::spawn(move || -> CheckResult {
            // Inherits FIFO 50 and CPU 0 from its creator; lower itself first.
            sys_ok("low FIFO 10", || set_sched(0, SCHED_FIFO, 10))?;
            r2.store(true, Ordering::SeqCst);
            Ok(())
        });
        // The new thread is FIFO 50 too, queued behind us on CPU 0: it cannot run while
        // we spin. After we sleep it runs, lowers itself, and sets the flag.
        let t = Instant::now();
        let mut early = false;
        while t.elapsed() < Duration::from_millis(100) {
            if ran.load(Ordering::SeqCst) {
                early = true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        let after_sleep = ran.load(Ordering::SeqCst);
        join(low)??;
        sys_ok("main back to OTHER", || set_sched(0, SCHED_OTHER, 0))?;
        ensure!(!early, "an equal-priority FIFO thread ran on the CPU while the first one spun");
        ensure!(after_sleep, "the waiting FIFO thread did not run while the first one slept");
        Ok(())
    });
    join(h)?
}

fn setaffinity_other_thread() -> CheckResult {
    if ncpus() < 2 {
        return Ok(());
    }
    let tid = Arc::new(AtomicI32::new(0));
    let target = Arc::new(AtomicI32::new(-1));
    let (t2, tg2) = (tid.clone(), target.clone());
    let h = std::thread::spawn(move || -> Result<u32, String> {
        t2.store(gettid(), Ordering::SeqCst);
        let start = Instant::now();
        while tg2.load(Ordering::SeqCst) < 0 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(10));
        current_cpu()
    });
    while tid.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    let want = 1usize;
    // SAFETY: cpu_set_t is plain data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(want, &mut set) };
    sys_ok("sched_setaffinity(other tid)", || unsafe {
        syscall!(libc::SYS_sched_setaffinity, tid.load(Ordering::SeqCst), std::mem::size_of::<libc::cpu_set_t>(), &raw const set)
    })?;
    let mut got: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    sys_ok("sched_getaffinity(other tid)", || unsafe {
        syscall!(libc::SYS_sched_getaffinity, tid.load(Ordering::SeqCst), std::mem::size_of::<libc::cpu_set_t>(), &raw mut got)
    })?;
    ensure!(unsafe { libc::CPU_ISSET(want, &got) } && unsafe { libc::CPU_COUNT(&got) } == 1, "the mask read back differs");
    target.store(want as i32, Ordering::SeqCst);
    let cpu = join(h)??;
    ensure_eq!(cpu, want as u32, "CPU the thread runs on after being moved");
    Ok(())
}

fn rr_interval() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        let mut ts = libc::timespec { tv_sec: -1, tv_nsec: -1 };
        sys_ok("RR 5", || set_sched(0, SCHED_RR, 5))?;
        sys_ok("sched_rr_get_interval", || unsafe { syscall!(libc::SYS_sched_rr_get_interval, 0, &raw mut ts) })?;
        ensure_eq!((ts.tv_sec, ts.tv_nsec), (0, 100_000_000), "RR quantum");
        sys_ok("FIFO 5", || set_sched(0, SCHED_FIFO, 5))?;
        sys_ok("sched_rr_get_interval", || unsafe { syscall!(libc::SYS_sched_rr_get_interval, 0, &raw mut ts) })?;
        ensure_eq!((ts.tv_sec, ts.tv_nsec), (0, 0), "FIFO has no quantum");
        back_to_other()?;
        expect_sys_errno("unknown pid", || unsafe { syscall!(libc::SYS_sched_rr_get_interval, 0x3fff_fff0, &raw mut ts) }, libc::ESRCH)
    });
    join(h)?
}

fn nice_and_getcpu() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        let tid = gettid();
        sys_ok("setpriority(10)", || unsafe { syscall!(libc::SYS_setpriority, libc::PRIO_PROCESS, tid, 10) })?;
        // The raw call returns 20 - nice.
        let raw = sys_ok("getpriority", || unsafe { syscall!(libc::SYS_getpriority, libc::PRIO_PROCESS, tid) })?;
        ensure_eq!(raw, 10, "raw getpriority of nice 10");
        ensure_eq!(getattr(0, 56)?.nice, 10, "sched_getattr sees the nice value");
        expect_sys_errno("getpriority(which 7)", || unsafe { syscall!(libc::SYS_getpriority, 7, 0) }, libc::EINVAL)?;
        let cpu = current_cpu()?;
        ensure!((cpu as usize) < ncpus(), "getcpu says CPU {cpu} of {}", ncpus());
        ensure_eq!(unsafe { syscall!(libc::SYS_sched_yield) }, 0);
        Ok(())
    });
    join(h)?
}
