//! Thin wrappers over the Linux calls the tools need: clocks and absolute sleeps, the
//! scheduling class of the calling thread, CPU affinity, getcpu, mlockall, futex, and a
//! SIGINT flag. Raw system calls are used where musl's wrappers do not do what Linux does
//! (musl's `sched_setscheduler` & co. return ENOSYS by design), so what is measured is the
//! kernel's behaviour.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

pub const SCHED_OTHER: i32 = 0;
pub const SCHED_FIFO: i32 = 1;
pub const SCHED_RR: i32 = 2;
pub const SCHED_BATCH: i32 = 3;
pub const SCHED_IDLE: i32 = 5;
pub const SCHED_DEADLINE: i32 = 6;

/// The Linux name of a policy number (`SCHED_FIFO`...).
pub fn policy_name(policy: i32) -> String {
    match policy & !0x4000_0000 {
        SCHED_OTHER => "SCHED_OTHER".into(),
        SCHED_FIFO => "SCHED_FIFO".into(),
        SCHED_RR => "SCHED_RR".into(),
        SCHED_BATCH => "SCHED_BATCH".into(),
        SCHED_IDLE => "SCHED_IDLE".into(),
        SCHED_DEADLINE => "SCHED_DEADLINE".into(),
        other => format!("policy {other}"),
    }
}

/// `fifo`, `rr`, `other`, `batch`, `idle` (or `SCHED_...`) to the policy number.
pub fn parse_policy(text: &str) -> Option<i32> {
    let lower = text.to_ascii_lowercase();
    match lower.strip_prefix("sched_").unwrap_or(&lower) {
        "fifo" => Some(SCHED_FIFO),
        "rr" => Some(SCHED_RR),
        "other" | "normal" => Some(SCHED_OTHER),
        "batch" => Some(SCHED_BATCH),
        "idle" => Some(SCHED_IDLE),
        _ => None,
    }
}

/// The name of an errno value, for messages (`EPERM`...).
pub fn errno_name(err: &io::Error) -> String {
    let name = match err.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::ESRCH) => "ESRCH",
        Some(libc::EBUSY) => "EBUSY",
        Some(libc::EFAULT) => "EFAULT",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::EINTR) => "EINTR",
        Some(libc::ENODEV) => "ENODEV",
        _ => return err.to_string(),
    };
    format!("{name}: {err}")
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(ret, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until CLOCK_MONOTONIC reaches `deadline_ns` (`clock_nanosleep` with
/// TIMER_ABSTIME). Returns `Err(EINTR)` when a signal handler interrupted the sleep.
pub fn sleep_until_ns(deadline_ns: u64) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as _,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: `ts` is a valid timespec; the remaining-time pointer may be null for
    // absolute sleeps.
    let ret = unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut()) };
    // clock_nanosleep returns the error number itself.
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(ret))
    }
}

/// The caller's thread id.
pub fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

#[repr(C)]
struct SchedParam {
    sched_priority: libc::c_int,
}

/// `sched_setscheduler(0, policy, {priority})` for the calling thread.
pub fn set_scheduler(policy: i32, priority: i32) -> io::Result<()> {
    set_scheduler_of(0, policy, priority)
}

/// `sched_setscheduler(tid, policy, {priority})` for thread `tid` (0: the caller).
pub fn set_scheduler_of(tid: i32, policy: i32, priority: i32) -> io::Result<()> {
    let param = SchedParam { sched_priority: priority };
    // SAFETY: `param` is a valid sched_param for the duration of the call.
    check(unsafe { libc::syscall(libc::SYS_sched_setscheduler, tid, policy, &param as *const SchedParam) }).map(|_| ())
}

/// The calling thread's (policy, priority) from `sched_getscheduler` and `sched_getparam`.
pub fn get_scheduler() -> io::Result<(i32, i32)> {
    // SAFETY: no pointer arguments.
    let policy = check(unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) })? as i32;
    let mut param = SchedParam { sched_priority: -1 };
    // SAFETY: `param` is valid and writable for the duration of the call.
    check(unsafe { libc::syscall(libc::SYS_sched_getparam, 0, &mut param as *mut SchedParam) })?;
    Ok((policy, param.sched_priority))
}

/// `setpriority(PRIO_PROCESS, tid, nice)` for the calling thread (Linux: per thread).
pub fn set_nice(nice: i32) -> io::Result<()> {
    // SAFETY: no pointer arguments.
    check(unsafe { libc::syscall(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, nice) }).map(|_| ())
}

const MASK_WORDS: usize = 16; // 1024 CPUs

/// Pins the calling thread to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= MASK_WORDS * 64 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut mask = [0u64; MASK_WORDS];
    mask[cpu / 64] |= 1 << (cpu % 64);
    // SAFETY: `mask` is readable for its whole size, which is passed as the length.
    check(unsafe { libc::syscall(libc::SYS_sched_setaffinity, 0, std::mem::size_of_val(&mask), mask.as_ptr()) })
        .map(|_| ())
}

/// The CPUs the calling thread may run on.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let mut mask = [0u64; MASK_WORDS];
    // SAFETY: `mask` is writable for its whole size, which is passed as the length.
    let n = check(unsafe {
        libc::syscall(libc::SYS_sched_getaffinity, 0, std::mem::size_of_val(&mask), mask.as_mut_ptr())
    })? as usize;
    let bits = (n * 8).min(MASK_WORDS * 64);
    Ok((0..bits).filter(|c| mask[c / 64] & (1 << (c % 64)) != 0).collect())
}

/// The CPU the caller is running on (`getcpu`).
pub fn current_cpu() -> io::Result<usize> {
    let mut cpu: libc::c_uint = 0;
    // SAFETY: `cpu` is writable; node and cache pointers may be null.
    check(unsafe {
        libc::syscall(libc::SYS_getcpu, &mut cpu as *mut libc::c_uint, std::ptr::null_mut::<libc::c_uint>(), 0usize)
    })?;
    Ok(cpu as usize)
}

/// `mlockall(MCL_CURRENT | MCL_FUTURE)`.
pub fn lock_memory() -> io::Result<()> {
    // SAFETY: no pointer arguments.
    check(unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } as libc::c_long).map(|_| ())
}

/// FUTEX_WAIT_PRIVATE on `word` while it holds `expected`, at most `timeout_ns`.
pub fn futex_wait(word: &std::sync::atomic::AtomicU32, expected: u32, timeout_ns: u64) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as _,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned u32; `ts` is a valid timespec.
    check(unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, expected, &ts)
    })
    .map(|_| ())
}

/// FUTEX_WAKE_PRIVATE of up to `count` waiters on `word`; returns how many woke.
pub fn futex_wake(word: &std::sync::atomic::AtomicU32, count: i32) -> io::Result<usize> {
    // SAFETY: `word` is a live, aligned u32.
    check(unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, count) })
        .map(|n| n as usize)
}

/// The number of online CPUs (sysconf), at least 1.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no pointer arguments.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as usize
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM set the flag [`stop_requested`] reads.
pub fn install_stop_handler() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether SIGINT/SIGTERM arrived (or [`request_stop`] was called).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}
