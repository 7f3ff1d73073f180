//! `time` suite: clocks, sleeps, CPU accounting, interval timers and the vDSO.
//!
//! Covers: `clock_gettime` for REALTIME, MONOTONIC, MONOTONIC_RAW, BOOTTIME,
//! REALTIME_COARSE, MONOTONIC_COARSE, PROCESS_CPUTIME_ID and THREAD_CPUTIME_ID
//! (valid timespecs, plausible relations between them, monotonic clocks never go
//! backwards over 10000 raw calls, nor when vDSO and syscall reads alternate, nor
//! between two threads); CPU clocks (a busy loop makes process and thread CPU time
//! grow, a sleeping thread's CPU time does not, one thread's work is not charged to
//! another, the CPU clock ids of a pid and a tid); `clock_getres` (0 < res <= 10 ms,
//! NULL allowed); EINVAL for bad clock ids and EFAULT for bad pointers (raw
//! syscalls); `clock_nanosleep` relative and TIMER_ABSTIME on MONOTONIC and
//! REALTIME (never early), a past deadline, its errors and EINTR (the remaining
//! time written only for relative sleeps); `nanosleep` EINVAL and 0; `gettimeofday`
//! and `time` against CLOCK_REALTIME; `times` and `getrusage` (SELF, CHILDREN,
//! THREAD; EINVAL otherwise) grow after work, also for a waited-for child, and
//! ru_maxrss covers touched memory;
//! `setitimer`/`getitimer` ITIMER_REAL one-shot and periodic (3 expiries of 20 ms),
//! the remaining time, errors, ITIMER_VIRTUAL/ITIMER_PROF; `alarm` (the remaining
//! seconds of the previous alarm, `alarm(0)` cancels, an alarm fires); the vDSO
//! (AT_SYSINFO_EHDR is an ELF image; `__vdso_clock_gettime`, `__vdso_gettimeofday`
//! and `__vdso_time` are found by walking its dynamic symbol table and agree with
//! the syscalls); the overshoot of 200 1-ms `clock_nanosleep`s (p50/p99/max printed
//! on an `info` line; the only requirement is that no sleep is shorter than 1 ms).
//!
//! Timing bounds are generous (the suite also runs under QEMU TCG on busy
//! machines); what is exact is that a sleep or timer never ends early.

use checks::{
    clear_errno, ensure, ensure_eq, errno, errno_name, expect_sys_errno, join, sys_ok, syscall,
    CheckResult, Suite,
};
use libc::{c_int, c_long, c_void};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

const NS: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;

const CLOCKS: [(c_int, &str); 8] = [
    (libc::CLOCK_REALTIME, "REALTIME"),
    (libc::CLOCK_MONOTONIC, "MONOTONIC"),
    (libc::CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"),
    (libc::CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID"),
    (libc::CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"),
    (libc::CLOCK_REALTIME_COARSE, "REALTIME_COARSE"),
    (libc::CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"),
    (libc::CLOCK_BOOTTIME, "BOOTTIME"),
];

/// Pointers no user buffer can live at: null, the first page, a kernel address.
const BAD_PTRS: [usize; 3] = [0, 1, 0xffff_8000_0000_0000];

const SA_SIGINFO: u64 = 0x4;
const SA_RESTORER: u64 = 0x0400_0000;
const SIG_IGN: usize = 1;
const SI_KERNEL: i32 = 0x80;
const SIGUSR1: i32 = 10;
const SIGALRM: i32 = 14;
const SIGVTALRM: i32 = 26;
const SIGPROF: i32 = 27;
const SIG_BLOCK: c_long = 0;
const SIG_SETMASK: c_long = 2;

core::arch::global_asm!(
    ".text",
    ".globl time_suite_restorer",
    ".type time_suite_restorer, @function",
    "time_suite_restorer:",
    "    mov eax, 15", // rt_sigreturn
    "    syscall",
    "    ud2",
);

unsafe extern "C" {
    fn time_suite_restorer();
}

fn main() {
    let mut s = Suite::new("time");
    // Nothing blocked, whatever the parent left (the timer checks need SIGALRM,
    // SIGVTALRM, SIGPROF and SIGUSR1 deliverable).
    let none = 0u64;
    unsafe { syscall!(libc::SYS_rt_sigprocmask, SIG_SETMASK, &raw const none, 0, 8) };
    s.check("clock_gettime_all_clocks", clock_gettime_all_clocks);
    s.check("clock_relations", clock_relations);
    s.check("monotonic_never_backwards", monotonic_never_backwards);
    s.check(
        "monotonic_vdso_and_syscall_interleaved",
        monotonic_vdso_and_syscall_interleaved,
    );
    s.check("monotonic_across_threads", monotonic_across_threads);
    s.check("cputime_grows_busy", cputime_grows_busy);
    s.check("thread_cputime_sleeping", thread_cputime_sleeping);
    s.check("thread_cputime_per_thread", thread_cputime_per_thread);
    s.check("cpu_clock_ids_pid_tid", cpu_clock_ids_pid_tid);
    s.check("clock_getres_values", clock_getres_values);
    s.check("clock_errors", clock_errors);
    s.check("clock_nanosleep_relative", clock_nanosleep_relative);
    s.check("clock_nanosleep_abstime", clock_nanosleep_abstime);
    s.check("clock_nanosleep_errors", clock_nanosleep_errors);
    s.check("clock_nanosleep_eintr", clock_nanosleep_eintr);
    s.check("nanosleep_einval_and_zero", nanosleep_einval_and_zero);
    s.check("gettimeofday_vs_realtime", gettimeofday_vs_realtime);
    s.check("time_vs_realtime", time_vs_realtime);
    s.check("times_grows", times_grows);
    s.check("getrusage_self_thread", getrusage_self_thread);
    s.check("getrusage_maxrss", getrusage_maxrss);
    s.check("getrusage_children", getrusage_children);
    s.check("getrusage_einval", getrusage_einval);
    s.check("itimer_real_oneshot", itimer_real_oneshot);
    s.check("itimer_real_periodic", itimer_real_periodic);
    s.check("itimer_real_sigtimedwait", itimer_real_sigtimedwait);
    s.check("itimer_get_set", itimer_get_set);
    s.check("itimer_errors", itimer_errors);
    s.check("itimer_virtual_prof", itimer_virtual_prof);
    s.check("alarm_remaining_and_cancel", alarm_remaining_and_cancel);
    s.check("alarm_fires", alarm_fires);
    s.check("vdso_elf_image", vdso_elf_image);
    s.check("vdso_clock_gettime", vdso_clock_gettime);
    s.check("vdso_gettimeofday_time", vdso_gettimeofday_time);
    s.check(
        "clock_nanosleep_1ms_overshoot",
        clock_nanosleep_1ms_overshoot,
    );
    s.finish();
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

fn ts_ns(ts: &libc::timespec) -> i64 {
    ts.tv_sec * NS + ts.tv_nsec
}

fn ns_ts(ns: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: ns.div_euclid(NS),
        tv_nsec: ns.rem_euclid(NS),
    }
}

fn zero_ts() -> libc::timespec {
    libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }
}

/// clock_gettime as a raw syscall.
fn raw_clock(clock: c_int) -> Result<libc::timespec, String> {
    let mut ts = zero_ts();
    sys_ok(&format!("clock_gettime({clock})"), || unsafe {
        syscall!(libc::SYS_clock_gettime, clock, &raw mut ts)
    })?;
    Ok(ts)
}

fn raw_ns(clock: c_int) -> Result<i64, String> {
    Ok(ts_ns(&raw_clock(clock)?))
}

/// clock_gettime through libc (musl uses the vDSO when there is one).
fn libc_ns(clock: c_int) -> i64 {
    let mut ts = zero_ts();
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts_ns(&ts)
}

fn mono() -> i64 {
    libc_ns(libc::CLOCK_MONOTONIC)
}

fn tid() -> i32 {
    unsafe { syscall!(libc::SYS_gettid) as i32 }
}

fn pid() -> i32 {
    unsafe { syscall!(libc::SYS_getpid) as i32 }
}

fn sleep_ns(ns: i64) -> c_long {
    let ts = ns_ts(ns);
    unsafe { syscall!(libc::SYS_nanosleep, &raw const ts, 0) }
}

/// Spins until `clock` advanced by `ns` (or `wall_ns` of MONOTONIC passed).
/// Returns whether the target was reached.
fn burn(clock: c_int, ns: i64, wall_ns: i64) -> bool {
    let start = libc_ns(clock);
    let wall_end = mono() + wall_ns;
    let mut x = 0x1234_5678u64;
    loop {
        for _ in 0..2000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        if libc_ns(clock) - start >= ns {
            return true;
        }
        if mono() > wall_end {
            return false;
        }
    }
}

fn fmt_ts(ts: &libc::timespec) -> String {
    format!("{{{}, {}}}", ts.tv_sec, ts.tv_nsec)
}

fn tv_us(tv: &libc::timeval) -> i64 {
    tv.tv_sec * 1_000_000 + tv.tv_usec
}

fn rusage(who: c_int) -> Result<libc::rusage, String> {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    sys_ok(&format!("getrusage({who})"), || unsafe {
        syscall!(libc::SYS_getrusage, who, &raw mut ru)
    })?;
    Ok(ru)
}

/// user + system time of an rusage, in microseconds.
fn ru_cpu_us(ru: &libc::rusage) -> i64 {
    tv_us(&ru.ru_utime) + tv_us(&ru.ru_stime)
}

// --- signals (for the timer checks) --------------------------------------------

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

struct ActionGuard {
    sig: i32,
    old: KSigaction,
}

impl Drop for ActionGuard {
    fn drop(&mut self) {
        unsafe { syscall!(libc::SYS_rt_sigaction, self.sig, &raw const self.old, 0, 8) };
    }
}

type Handler = extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void);

fn install(sig: i32, handler: usize, flags: u64) -> Result<ActionGuard, String> {
    let new = KSigaction {
        handler,
        flags: flags | SA_RESTORER,
        restorer: time_suite_restorer as *const () as usize,
        mask: 0,
    };
    let mut old = KSigaction::default();
    sys_ok(&format!("rt_sigaction({sig})"), || unsafe {
        syscall!(libc::SYS_rt_sigaction, sig, &raw const new, &raw mut old, 8)
    })?;
    Ok(ActionGuard { sig, old })
}

fn install_handler(sig: i32, h: Handler) -> Result<ActionGuard, String> {
    install(sig, h as usize, SA_SIGINFO)
}

struct MaskGuard(u64);

impl Drop for MaskGuard {
    fn drop(&mut self) {
        unsafe {
            syscall!(
                libc::SYS_rt_sigprocmask,
                SIG_SETMASK,
                &raw const self.0,
                0,
                8
            )
        };
    }
}

fn block(set: u64) -> Result<MaskGuard, String> {
    let mut old = 0u64;
    sys_ok("rt_sigprocmask(SIG_BLOCK)", || unsafe {
        syscall!(
            libc::SYS_rt_sigprocmask,
            SIG_BLOCK,
            &raw const set,
            &raw mut old,
            8
        )
    })?;
    Ok(MaskGuard(old))
}

const fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

static COUNT: AtomicUsize = AtomicUsize::new(0);
/// MONOTONIC time (ns) of each delivery.
static TIMES: [AtomicI64; 8] = [const { AtomicI64::new(0) }; 8];
static LAST_CODE: AtomicI64 = AtomicI64::new(0);

extern "C" fn h_count(_sig: c_int, info: *mut libc::siginfo_t, _uc: *mut c_void) {
    let saved = errno();
    let n = COUNT.fetch_add(1, Ordering::SeqCst);
    if n < TIMES.len() {
        TIMES[n].store(mono(), Ordering::SeqCst);
    }
    if !info.is_null() {
        LAST_CODE.store(unsafe { (*info).si_code } as i64, Ordering::SeqCst);
    }
    unsafe { *libc::__errno_location() = saved };
}

fn reset_count() {
    COUNT.store(0, Ordering::SeqCst);
    LAST_CODE.store(0, Ordering::SeqCst);
    for t in TIMES.iter() {
        t.store(0, Ordering::SeqCst);
    }
}

fn count() -> usize {
    COUNT.load(Ordering::SeqCst)
}

/// Sleeps in 1 ms steps until `n` deliveries were counted or `ms` passed.
fn wait_count(n: usize, ms: i64) -> bool {
    let end = mono() + ms * MS;
    while count() < n {
        if mono() > end {
            return false;
        }
        sleep_ns(MS);
    }
    true
}

fn setitimer(which: c_int, interval_us: i64, value_us: i64) -> Result<libc::itimerval, String> {
    let new = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: interval_us / 1_000_000,
            tv_usec: interval_us % 1_000_000,
        },
        it_value: libc::timeval {
            tv_sec: value_us / 1_000_000,
            tv_usec: value_us % 1_000_000,
        },
    };
    let mut old: libc::itimerval = unsafe { std::mem::zeroed() };
    sys_ok(
        &format!("setitimer({which}, {interval_us} us, {value_us} us)"),
        || unsafe { syscall!(libc::SYS_setitimer, which, &raw const new, &raw mut old) },
    )?;
    Ok(old)
}

fn getitimer(which: c_int) -> Result<libc::itimerval, String> {
    let mut cur: libc::itimerval = unsafe { std::mem::zeroed() };
    sys_ok(&format!("getitimer({which})"), || unsafe {
        syscall!(libc::SYS_getitimer, which, &raw mut cur)
    })?;
    Ok(cur)
}

fn fmt_itv(v: &libc::itimerval) -> String {
    format!(
        "{{interval {}.{:06}, value {}.{:06}}}",
        v.it_interval.tv_sec, v.it_interval.tv_usec, v.it_value.tv_sec, v.it_value.tv_usec
    )
}

/// Cancels an interval timer when dropped.
struct TimerGuard(c_int);

impl Drop for TimerGuard {
    fn drop(&mut self) {
        let zero: libc::itimerval = unsafe { std::mem::zeroed() };
        unsafe { syscall!(libc::SYS_setitimer, self.0, &raw const zero, 0) };
    }
}

// ---------------------------------------------------------------------------
// clock_gettime.
// ---------------------------------------------------------------------------

fn clock_gettime_all_clocks() -> CheckResult {
    for (id, name) in CLOCKS {
        let mut ts = libc::timespec {
            tv_sec: -7,
            tv_nsec: -7,
        };
        let r = sys_ok(&format!("clock_gettime({name})"), || unsafe {
            syscall!(libc::SYS_clock_gettime, id, &raw mut ts)
        })?;
        ensure_eq!(r, 0, "clock_gettime({name})");
        ensure!(
            ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < NS,
            "clock_gettime({name}) = {}",
            fmt_ts(&ts)
        );
        // The same through libc (the vDSO).
        let mut ts2 = zero_ts();
        let r = unsafe { libc::clock_gettime(id, &mut ts2) };
        ensure!(
            r == 0 && ts2.tv_nsec >= 0 && ts2.tv_nsec < NS,
            "libc clock_gettime({name}) = {r}, {}",
            fmt_ts(&ts2)
        );
    }
    // 2020-01-01 < REALTIME < 2200-01-01.
    let rt = raw_clock(libc::CLOCK_REALTIME)?;
    ensure!(
        rt.tv_sec > 1_577_836_800 && rt.tv_sec < 7_258_118_400,
        "CLOCK_REALTIME {} is not a plausible date",
        rt.tv_sec
    );
    Ok(())
}

fn clock_relations() -> CheckResult {
    let m = raw_ns(libc::CLOCK_MONOTONIC)?;
    let b = raw_ns(libc::CLOCK_BOOTTIME)?;
    ensure!(b >= m, "BOOTTIME {b} read after MONOTONIC {m} is smaller");
    for (coarse, fine, name) in [
        (
            libc::CLOCK_REALTIME_COARSE,
            libc::CLOCK_REALTIME,
            "REALTIME",
        ),
        (
            libc::CLOCK_MONOTONIC_COARSE,
            libc::CLOCK_MONOTONIC,
            "MONOTONIC",
        ),
    ] {
        let f0 = raw_ns(fine)?;
        let c = raw_ns(coarse)?;
        let f1 = raw_ns(fine)?;
        ensure!(
            c <= f1 && c >= f0 - 100 * MS,
            "{name}_COARSE {c} is not within 100 ms before {name} [{f0}, {f1}]"
        );
    }
    // The CPU clocks count this process/thread only: far less than the uptime
    // is not guaranteed, but they cannot exceed MONOTONIC by much on 2 CPUs.
    let p = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    let t = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    ensure!(
        p > 0 && t > 0,
        "CPU clocks are zero: process {p}, thread {t}"
    );
    ensure!(
        t <= raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?,
        "thread CPU time {t} > process CPU time"
    );
    Ok(())
}

fn monotonic_never_backwards() -> CheckResult {
    for (id, name) in [
        (libc::CLOCK_MONOTONIC, "MONOTONIC"),
        (libc::CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"),
        (libc::CLOCK_BOOTTIME, "BOOTTIME"),
        (libc::CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"),
        (libc::CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"),
        (libc::CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID"),
    ] {
        let mut prev = raw_ns(id)?;
        let first = prev;
        for i in 0..10_000 {
            let now = raw_ns(id)?;
            ensure!(
                now >= prev,
                "{name} went backwards at call {i}: {prev} -> {now} ({} ns)",
                now - prev
            );
            prev = now;
        }
        if id != libc::CLOCK_MONOTONIC_COARSE {
            ensure!(prev > first, "{name} did not advance over 10000 calls");
        }
    }
    Ok(())
}

fn monotonic_vdso_and_syscall_interleaved() -> CheckResult {
    for (id, name) in [
        (libc::CLOCK_MONOTONIC, "MONOTONIC"),
        (libc::CLOCK_BOOTTIME, "BOOTTIME"),
        (libc::CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"),
    ] {
        let mut prev = raw_ns(id)?;
        for i in 0..5000 {
            let v = libc_ns(id);
            ensure!(
                v >= prev,
                "{name}: libc/vDSO read {v} < preceding syscall read {prev} (round {i})"
            );
            let s = raw_ns(id)?;
            ensure!(
                s >= v,
                "{name}: syscall read {s} < preceding libc/vDSO read {v} (round {i})"
            );
            prev = s;
        }
    }
    Ok(())
}

fn monotonic_across_threads() -> CheckResult {
    // Two threads take turns; each reading must be >= the other's last reading.
    const ROUNDS: i64 = 1000;
    let turn = Arc::new(AtomicI64::new(0)); // even: thread A, odd: thread B
    let last = Arc::new(AtomicI64::new(0));
    let player = |me: i64| {
        let turn = turn.clone();
        let last = last.clone();
        std::thread::spawn(move || -> CheckResult {
            let give_up = mono() + 60 * NS;
            for r in 0..ROUNDS {
                let my_turn = 2 * r + me;
                while turn.load(Ordering::SeqCst) != my_turn {
                    ensure!(
                        mono() < give_up,
                        "thread {me}: no turn {my_turn} within 60 s"
                    );
                    std::thread::yield_now();
                }
                let now = libc_ns(libc::CLOCK_MONOTONIC);
                let prev = last.load(Ordering::SeqCst);
                ensure!(
                    now >= prev,
                    "thread {me} read MONOTONIC {now} after the other thread read {prev}"
                );
                last.store(now, Ordering::SeqCst);
                turn.store(my_turn + 1, Ordering::SeqCst);
            }
            Ok(())
        })
    };
    let a = player(0);
    let b = player(1);
    join(a)??;
    join(b)??;
    Ok(())
}

// ---------------------------------------------------------------------------
// CPU-time clocks.
// ---------------------------------------------------------------------------

fn cputime_grows_busy() -> CheckResult {
    let p0 = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    let t0 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let w0 = mono();
    ensure!(
        burn(libc::CLOCK_THREAD_CPUTIME_ID, 200 * MS, 30 * NS),
        "thread CPU time did not grow by 200 ms in 30 s of busy loop (grew {} ns)",
        raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)? - t0
    );
    let t1 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let p1 = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    let wall = mono() - w0;
    ensure!(t1 - t0 >= 200 * MS, "thread CPU time grew {} ns", t1 - t0);
    ensure!(
        p1 - p0 >= t1 - t0,
        "process CPU time grew {} ns, less than the thread's {} ns",
        p1 - p0,
        t1 - t0
    );
    ensure!(
        t1 - t0 <= wall + 20 * MS,
        "thread CPU time grew {} ns in {wall} ns of wall time",
        t1 - t0
    );
    Ok(())
}

fn thread_cputime_sleeping() -> CheckResult {
    let r = join(std::thread::spawn(|| -> Result<(i64, i64), String> {
        let t0 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
        let w0 = mono();
        sleep_ns(300 * MS);
        let t1 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
        Ok((t1 - t0, mono() - w0))
    }))??;
    let (cpu, wall) = r;
    ensure!(wall >= 300 * MS, "300 ms sleep took {wall} ns");
    ensure!(
        (0..50 * MS).contains(&cpu),
        "thread CPU time of a thread sleeping 300 ms grew {cpu} ns"
    );
    Ok(())
}

fn thread_cputime_per_thread() -> CheckResult {
    let m0 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let p0 = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    let worker = std::thread::spawn(|| -> Result<i64, String> {
        let t0 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
        ensure!(t0 < 50 * MS, "a new thread starts with {t0} ns of CPU time");
        ensure!(
            burn(libc::CLOCK_THREAD_CPUTIME_ID, 200 * MS, 30 * NS),
            "worker: thread CPU time did not grow by 200 ms in 30 s"
        );
        Ok(raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)? - t0)
    });
    let burned = join(worker)??;
    let m1 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let p1 = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    ensure!(
        m1 - m0 < 100 * MS,
        "the main thread (waiting in join) was charged {} ns while a worker burned {burned} ns",
        m1 - m0
    );
    ensure!(
        p1 - p0 >= burned,
        "process CPU time grew {} ns, less than the worker's {burned} ns",
        p1 - p0
    );
    Ok(())
}

/// The clock ids of clock_getcpuclockid/pthread_getcpuclockid.
fn cpu_clock_ids_pid_tid() -> CheckResult {
    let proc_clock = ((!(pid() as c_int)) << 3) | 2; // CPUCLOCK_SCHED
    let thread_clock = ((!tid()) << 3) | 6; // CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED
    let p0 = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    let pc = raw_ns(proc_clock)?;
    let p1 = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    ensure!(
        pc >= p0 && pc <= p1,
        "CPU clock of getpid() {pc} not between PROCESS_CPUTIME_ID reads {p0} and {p1}"
    );
    let t0 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let tc = raw_ns(thread_clock)?;
    let t1 = raw_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    ensure!(
        tc >= t0 && tc <= t1,
        "CPU clock of gettid() {tc} not between THREAD_CPUTIME_ID reads {t0} and {t1}"
    );
    let mut ts = zero_ts();
    let no_pid: c_int = 0x3fff_fff0;
    expect_sys_errno(
        "clock_gettime(CPU clock of a pid that does not exist)",
        || unsafe { syscall!(libc::SYS_clock_gettime, ((!no_pid) << 3) | 2, &raw mut ts) },
        libc::EINVAL,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// clock_getres and errors.
// ---------------------------------------------------------------------------

fn clock_getres_values() -> CheckResult {
    for (id, name) in CLOCKS {
        let mut res = libc::timespec {
            tv_sec: -1,
            tv_nsec: -1,
        };
        sys_ok(&format!("clock_getres({name})"), || unsafe {
            syscall!(libc::SYS_clock_getres, id, &raw mut res)
        })?;
        let ns = ts_ns(&res);
        ensure!(
            res.tv_nsec >= 0 && res.tv_nsec < NS && ns > 0 && ns <= 10 * MS,
            "clock_getres({name}) = {}",
            fmt_ts(&res)
        );
        let r = sys_ok(&format!("clock_getres({name}, NULL)"), || unsafe {
            syscall!(libc::SYS_clock_getres, id, 0)
        })?;
        ensure_eq!(r, 0, "clock_getres({name}, NULL)");
    }
    Ok(())
}

fn clock_errors() -> CheckResult {
    let mut ts = zero_ts();
    for id in [16 as c_long, 100, 0x7fff_ffff, -1] {
        expect_sys_errno(
            &format!("clock_gettime({id})"),
            || unsafe { syscall!(libc::SYS_clock_gettime, id, &raw mut ts) },
            libc::EINVAL,
        )?;
        expect_sys_errno(
            &format!("clock_getres({id})"),
            || unsafe { syscall!(libc::SYS_clock_getres, id, &raw mut ts) },
            libc::EINVAL,
        )?;
    }
    for p in BAD_PTRS {
        for (id, name) in [
            (libc::CLOCK_REALTIME, "REALTIME"),
            (libc::CLOCK_MONOTONIC, "MONOTONIC"),
            (libc::CLOCK_BOOTTIME, "BOOTTIME"),
            (libc::CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"),
        ] {
            expect_sys_errno(
                &format!("clock_gettime({name}, {p:#x})"),
                || unsafe { syscall!(libc::SYS_clock_gettime, id, p) },
                libc::EFAULT,
            )?;
        }
        if p != 0 {
            expect_sys_errno(
                &format!("clock_getres(MONOTONIC, {p:#x})"),
                || unsafe { syscall!(libc::SYS_clock_getres, libc::CLOCK_MONOTONIC, p) },
                libc::EFAULT,
            )?;
        }
        expect_sys_errno(
            &format!("nanosleep({p:#x}, NULL)"),
            || unsafe { syscall!(libc::SYS_nanosleep, p, 0) },
            libc::EFAULT,
        )?;
        expect_sys_errno(
            &format!("clock_nanosleep(MONOTONIC, 0, {p:#x}, NULL)"),
            || unsafe { syscall!(libc::SYS_clock_nanosleep, libc::CLOCK_MONOTONIC, 0, p, 0) },
            libc::EFAULT,
        )?;
        if p != 0 {
            expect_sys_errno(
                &format!("gettimeofday({p:#x}, NULL)"),
                || unsafe { syscall!(libc::SYS_gettimeofday, p, 0) },
                libc::EFAULT,
            )?;
            expect_sys_errno(
                &format!("time({p:#x})"),
                || unsafe { syscall!(libc::SYS_time, p) },
                libc::EFAULT,
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Sleeping.
// ---------------------------------------------------------------------------

fn clock_nanosleep(
    clock: c_int,
    flags: c_int,
    req: &libc::timespec,
    rem: *mut libc::timespec,
) -> (c_long, i32) {
    clear_errno();
    let r = unsafe {
        syscall!(
            libc::SYS_clock_nanosleep,
            clock,
            flags,
            req as *const libc::timespec,
            rem
        )
    };
    (r, errno())
}

fn clock_nanosleep_relative() -> CheckResult {
    for (id, name) in [
        (libc::CLOCK_MONOTONIC, "MONOTONIC"),
        (libc::CLOCK_REALTIME, "REALTIME"),
        (libc::CLOCK_BOOTTIME, "BOOTTIME"),
    ] {
        let req = ns_ts(20 * MS);
        let t0 = raw_ns(id)?;
        let m0 = mono();
        let (r, e) = clock_nanosleep(id, 0, &req, std::ptr::null_mut());
        let t1 = raw_ns(id)?;
        let m1 = mono();
        ensure_eq!(
            (r, e),
            (0, 0),
            "clock_nanosleep({name}, 20 ms) (return, errno)"
        );
        ensure!(
            m1 - m0 >= 20 * MS,
            "clock_nanosleep({name}, 20 ms) lasted {} ns of MONOTONIC",
            m1 - m0
        );
        ensure!(
            t1 - t0 >= 20 * MS,
            "clock_nanosleep({name}, 20 ms) lasted {} ns of {name}",
            t1 - t0
        );
        ensure!(
            m1 - m0 < 10 * NS,
            "clock_nanosleep({name}, 20 ms) took {} ns",
            m1 - m0
        );
    }
    Ok(())
}

fn clock_nanosleep_abstime() -> CheckResult {
    for (id, name) in [
        (libc::CLOCK_MONOTONIC, "MONOTONIC"),
        (libc::CLOCK_REALTIME, "REALTIME"),
        (libc::CLOCK_BOOTTIME, "BOOTTIME"),
    ] {
        let deadline = raw_ns(id)? + 30 * MS;
        let req = ns_ts(deadline);
        let mut rem = libc::timespec {
            tv_sec: 77,
            tv_nsec: 77,
        };
        let (r, e) = clock_nanosleep(id, libc::TIMER_ABSTIME, &req, &raw mut rem);
        let now = raw_ns(id)?;
        ensure_eq!(
            (r, e),
            (0, 0),
            "clock_nanosleep({name}, TIMER_ABSTIME now+30 ms) (return, errno)"
        );
        ensure!(
            now >= deadline,
            "clock_nanosleep({name}, TIMER_ABSTIME) returned {} ns before the deadline",
            deadline - now
        );
        ensure!(
            now - deadline < 10 * NS,
            "clock_nanosleep({name}, TIMER_ABSTIME) returned {} ns late",
            now - deadline
        );
        ensure!(
            rem.tv_sec == 77 && rem.tv_nsec == 77,
            "remaining time written by an absolute sleep: {}",
            fmt_ts(&rem)
        );
        // A deadline in the past returns at once.
        let past = ns_ts(raw_ns(id)? - NS);
        let m0 = mono();
        let (r, e) = clock_nanosleep(id, libc::TIMER_ABSTIME, &past, std::ptr::null_mut());
        let took = mono() - m0;
        ensure_eq!(
            (r, e),
            (0, 0),
            "clock_nanosleep({name}, TIMER_ABSTIME, 1 s ago)"
        );
        ensure!(
            took < 2 * NS,
            "clock_nanosleep({name}, TIMER_ABSTIME, 1 s ago) took {took} ns"
        );
    }
    // An absolute time of 0 is in the past too.
    let zero = zero_ts();
    let (r, e) = clock_nanosleep(
        libc::CLOCK_MONOTONIC,
        libc::TIMER_ABSTIME,
        &zero,
        std::ptr::null_mut(),
    );
    ensure_eq!(
        (r, e),
        (0, 0),
        "clock_nanosleep(MONOTONIC, TIMER_ABSTIME, 0)"
    );
    Ok(())
}

fn clock_nanosleep_errors() -> CheckResult {
    for (sec, nsec) in [(0, NS), (0, -1), (-1, 0)] {
        let req = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        let (r, e) = clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &req, std::ptr::null_mut());
        ensure_eq!(
            (r, e),
            (-1, libc::EINVAL),
            "clock_nanosleep(MONOTONIC, {{{sec}, {nsec}}})"
        );
    }
    let req = ns_ts(MS);
    for id in [100, 16] {
        let (r, e) = clock_nanosleep(id, 0, &req, std::ptr::null_mut());
        ensure_eq!((r, e), (-1, libc::EINVAL), "clock_nanosleep(clock {id})");
    }
    // Clocks that cannot be slept on: EOPNOTSUPP (not EINVAL). All are reported.
    let mut wrong = Vec::new();
    for (id, name) in [
        (libc::CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID"),
        (libc::CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"),
        (libc::CLOCK_REALTIME_COARSE, "REALTIME_COARSE"),
        (libc::CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"),
    ] {
        let (r, e) = clock_nanosleep(id, 0, &req, std::ptr::null_mut());
        if (r, e) != (-1, libc::EOPNOTSUPP) {
            wrong.push(format!(
                "clock_nanosleep({name}, 1 ms) = {r}, errno {}",
                errno_name(e)
            ));
        }
    }
    ensure!(
        wrong.is_empty(),
        "expected -1/EOPNOTSUPP (95): {}",
        wrong.join("; ")
    );
    Ok(())
}

fn clock_nanosleep_eintr() -> CheckResult {
    reset_count();
    let _a = install_handler(SIGUSR1, h_count)?;
    let (p, main) = (pid(), tid());
    for abs in [false, true] {
        reset_count();
        let done = Arc::new(AtomicBool::new(false));
        let d2 = done.clone();
        // The sender blocks every signal (inherited mask), then keeps poking the
        // main thread until it is done.
        let g = block(!0)?;
        let th = std::thread::spawn(move || {
            sleep_ns(150 * MS);
            for _ in 0..50 {
                if d2.load(Ordering::SeqCst) {
                    break;
                }
                unsafe { syscall!(libc::SYS_tgkill, p, main, SIGUSR1) };
                sleep_ns(300 * MS);
            }
        });
        drop(g);
        let now = raw_ns(libc::CLOCK_MONOTONIC)?;
        let req = if abs {
            ns_ts(now + 5 * NS)
        } else {
            ns_ts(5 * NS)
        };
        let mut rem = libc::timespec {
            tv_sec: 77,
            tv_nsec: 77,
        };
        let flags = if abs { libc::TIMER_ABSTIME } else { 0 };
        let (r, e) = clock_nanosleep(libc::CLOCK_MONOTONIC, flags, &req, &raw mut rem);
        let elapsed = raw_ns(libc::CLOCK_MONOTONIC)? - now;
        done.store(true, Ordering::SeqCst);
        join(th)?;
        let kind = if abs { "absolute" } else { "relative" };
        ensure_eq!(
            (r, e),
            (-1, libc::EINTR),
            "{kind} clock_nanosleep(5 s) interrupted after {elapsed} ns"
        );
        ensure!(count() >= 1, "handler did not run");
        if abs {
            ensure!(
                rem.tv_sec == 77 && rem.tv_nsec == 77,
                "remaining time written by an absolute sleep: {}",
                fmt_ts(&rem)
            );
        } else {
            let rem_ns = ts_ns(&rem);
            ensure!(
                rem.tv_nsec >= 0 && rem.tv_nsec < NS && rem_ns > 0 && rem_ns <= 5 * NS,
                "remaining time {}",
                fmt_ts(&rem)
            );
            ensure!(
                (elapsed + rem_ns - 5 * NS).abs() < 500 * MS,
                "elapsed {elapsed} ns + remaining {rem_ns} ns is not about 5 s"
            );
        }
    }
    Ok(())
}

fn nanosleep_einval_and_zero() -> CheckResult {
    for (sec, nsec) in [(0, NS), (0, -1), (-1, 0), (-1, 500), (1, NS + 1)] {
        let req = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        expect_sys_errno(
            &format!("nanosleep({{{sec}, {nsec}}})"),
            || unsafe { syscall!(libc::SYS_nanosleep, &raw const req, 0) },
            libc::EINVAL,
        )?;
    }
    let zero = zero_ts();
    let mut rem = libc::timespec {
        tv_sec: 77,
        tv_nsec: 77,
    };
    let m0 = mono();
    let r = sys_ok("nanosleep({0, 0})", || unsafe {
        syscall!(libc::SYS_nanosleep, &raw const zero, &raw mut rem)
    })?;
    let took = mono() - m0;
    ensure_eq!(r, 0, "nanosleep({{0, 0}})");
    ensure!(took < 2 * NS, "nanosleep({{0, 0}}) took {took} ns");
    // The longest valid nsec.
    let req = libc::timespec {
        tv_sec: 0,
        tv_nsec: NS - 1,
    };
    let m0 = mono();
    let r = sys_ok("nanosleep({0, 999999999})", || unsafe {
        syscall!(libc::SYS_nanosleep, &raw const req, 0)
    })?;
    let took = mono() - m0;
    ensure_eq!(r, 0, "nanosleep({{0, 999999999}})");
    ensure!(
        took >= NS - 1,
        "nanosleep({{0, 999999999}}) lasted {took} ns"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// gettimeofday, time.
// ---------------------------------------------------------------------------

fn gettimeofday_vs_realtime() -> CheckResult {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut tz = [0x5a5a_5a5au32; 2];
    let rt0 = raw_ns(libc::CLOCK_REALTIME)?;
    sys_ok("gettimeofday(&tv, &tz)", || unsafe {
        syscall!(libc::SYS_gettimeofday, &raw mut tv, tz.as_mut_ptr())
    })?;
    let rt1 = raw_ns(libc::CLOCK_REALTIME)?;
    let g = tv_us(&tv) * 1000;
    ensure!(
        tv.tv_usec >= 0 && tv.tv_usec < 1_000_000,
        "gettimeofday tv_usec {}",
        tv.tv_usec
    );
    ensure!(
        g >= rt0 - 100 * MS && g <= rt1 + 100 * MS,
        "gettimeofday {g} ns not within 100 ms of CLOCK_REALTIME [{rt0}, {rt1}]"
    );
    ensure!(
        tz != [0x5a5a_5a5a; 2],
        "gettimeofday did not write the timezone"
    );
    let r = sys_ok("gettimeofday(NULL, NULL)", || unsafe {
        syscall!(libc::SYS_gettimeofday, 0, 0)
    })?;
    ensure_eq!(r, 0, "gettimeofday(NULL, NULL)");
    // Through libc as well.
    let mut tv2 = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    unsafe { libc::gettimeofday(&mut tv2, std::ptr::null_mut()) };
    let rt2 = raw_ns(libc::CLOCK_REALTIME)?;
    let g2 = tv_us(&tv2) * 1000;
    ensure!(
        g2 >= rt1 - 100 * MS && g2 <= rt2 + 100 * MS,
        "libc gettimeofday {g2} ns not within 100 ms of CLOCK_REALTIME [{rt1}, {rt2}]"
    );
    Ok(())
}

fn time_vs_realtime() -> CheckResult {
    let rt0 = raw_clock(libc::CLOCK_REALTIME)?;
    let mut t: i64 = -5;
    let r = sys_ok("time(&t)", || unsafe {
        syscall!(libc::SYS_time, &raw mut t)
    })?;
    let rt1 = raw_clock(libc::CLOCK_REALTIME)?;
    ensure_eq!(t, r, "value stored by time(&t)");
    ensure!(
        r >= rt0.tv_sec - 1 && r <= rt1.tv_sec,
        "time() = {r}, CLOCK_REALTIME seconds {} .. {}",
        rt0.tv_sec,
        rt1.tv_sec
    );
    let r2 = sys_ok("time(NULL)", || unsafe { syscall!(libc::SYS_time, 0) })?;
    let rt2 = raw_clock(libc::CLOCK_REALTIME)?;
    ensure!(
        r2 >= r && r2 <= rt2.tv_sec,
        "time(NULL) = {r2}, after time() = {r}, CLOCK_REALTIME seconds {}",
        rt2.tv_sec
    );
    let r3 = unsafe { libc::time(std::ptr::null_mut()) };
    ensure!(
        (r3 - rt2.tv_sec).abs() <= 1,
        "libc time() = {r3}, CLOCK_REALTIME {}",
        rt2.tv_sec
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// times, getrusage.
// ---------------------------------------------------------------------------

fn times() -> Result<(c_long, libc::tms), String> {
    let mut t: libc::tms = unsafe { std::mem::zeroed() };
    let r = sys_ok("times", || unsafe { syscall!(libc::SYS_times, &raw mut t) })?;
    Ok((r, t))
}

fn times_grows() -> CheckResult {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ensure_eq!(tck, 100, "sysconf(_SC_CLK_TCK)");
    // The return value counts clock ticks of elapsed time.
    // Bracketed by MONOTONIC reads, so that a preemption cannot skew it.
    let ma = mono();
    let (c0, _) = times()?;
    let mb = mono();
    sleep_ns(200 * MS);
    let mc = mono();
    let (c1, _) = times()?;
    let md = mono();
    let ticks = c1 - c0;
    ensure!(
        ticks * 10 * MS >= (mc - mb) - 20 * MS && ticks * 10 * MS <= (md - ma) + 20 * MS,
        "times() advanced {ticks} ticks over {} .. {} ns of MONOTONIC",
        mc - mb,
        md - ma
    );
    let c2 = sys_ok("times(NULL)", || unsafe { syscall!(libc::SYS_times, 0) })?;
    ensure!(c2 >= c1, "times(NULL) = {c2} < earlier times() = {c1}");
    // User + system time grow with work.
    let (_, t0) = times()?;
    ensure!(
        burn(libc::CLOCK_THREAD_CPUTIME_ID, 300 * MS, 30 * NS),
        "no 300 ms of CPU time in 30 s"
    );
    let (_, t1) = times()?;
    let grew = (t1.tms_utime + t1.tms_stime) - (t0.tms_utime + t0.tms_stime);
    ensure!(
        (15..=60).contains(&grew),
        "tms_utime+tms_stime grew {grew} ticks over 300 ms of CPU time"
    );
    ensure!(t1.tms_utime >= t0.tms_utime, "tms_utime went down");
    Ok(())
}

fn getrusage_self_thread() -> CheckResult {
    let s0 = rusage(libc::RUSAGE_SELF)?;
    let th0 = rusage(libc::RUSAGE_THREAD)?;
    ensure!(
        burn(libc::CLOCK_THREAD_CPUTIME_ID, 300 * MS, 30 * NS),
        "no 300 ms of CPU time in 30 s"
    );
    let s1 = rusage(libc::RUSAGE_SELF)?;
    let th1 = rusage(libc::RUSAGE_THREAD)?;
    for (what, a, b) in [("RUSAGE_SELF", &s0, &s1), ("RUSAGE_THREAD", &th0, &th1)] {
        let grew = ru_cpu_us(b) - ru_cpu_us(a);
        ensure!(
            (150_000..=1_000_000).contains(&grew),
            "{what}: utime+stime grew {grew} us over 300 ms of CPU time"
        );
        ensure!(
            b.ru_utime.tv_usec >= 0 && b.ru_utime.tv_usec < 1_000_000,
            "{what}: ru_utime.tv_usec {}",
            b.ru_utime.tv_usec
        );
        ensure!(
            tv_us(&b.ru_utime) >= tv_us(&a.ru_utime),
            "{what}: ru_utime went down"
        );
    }
    // A new thread starts from zero.
    let fresh = join(std::thread::spawn(|| rusage(libc::RUSAGE_THREAD)))??;
    ensure!(
        ru_cpu_us(&fresh) < 50_000,
        "RUSAGE_THREAD of a new thread: {} us",
        ru_cpu_us(&fresh)
    );
    Ok(())
}

fn getrusage_maxrss() -> CheckResult {
    // Touch 8 MiB so that the peak resident set is clearly above it.
    let mut v = vec![0u8; 8 << 20];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&v);
    let ru = rusage(libc::RUSAGE_SELF)?;
    ensure!(
        ru.ru_maxrss >= 8 * 1024,
        "RUSAGE_SELF ru_maxrss = {} KiB after touching 8 MiB",
        ru.ru_maxrss
    );
    Ok(())
}

fn getrusage_children() -> CheckResult {
    let c0 = rusage(libc::RUSAGE_CHILDREN)?;
    let (_, t0) = times()?;
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(format!("fork failed with {}", errno_name(errno())));
    }
    if child == 0 {
        let ok = burn(libc::CLOCK_THREAD_CPUTIME_ID, 200 * MS, 30 * NS);
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut st: c_int = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        clear_errno();
        let r = unsafe { syscall!(libc::SYS_wait4, child, &raw mut st, 0, &raw mut ru) };
        if !(r == -1 && errno() == libc::EINTR) {
            break r;
        }
    };
    ensure_eq!(r, child as c_long, "wait4(child, .., &rusage)");
    ensure!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "child status {st:#x} (exit 1: no 200 ms of CPU time in 30 s)"
    );
    let c1 = rusage(libc::RUSAGE_CHILDREN)?;
    let (_, t1) = times()?;
    let waited = ru_cpu_us(&ru);
    ensure!(
        (100_000..=2_000_000).contains(&waited),
        "wait4's rusage of a child that used 200 ms of CPU: {waited} us"
    );
    let grew = ru_cpu_us(&c1) - ru_cpu_us(&c0);
    ensure!(
        (100_000..=2_000_000).contains(&grew),
        "RUSAGE_CHILDREN grew {grew} us after a child used 200 ms of CPU"
    );
    let ticks = (t1.tms_cutime + t1.tms_cstime) - (t0.tms_cutime + t0.tms_cstime);
    ensure!(
        (10..=200).contains(&ticks),
        "tms_cutime+tms_cstime grew {ticks} ticks after a child used 200 ms of CPU"
    );
    Ok(())
}

fn getrusage_einval() -> CheckResult {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    for who in [2 as c_long, -2, 100, -100] {
        expect_sys_errno(
            &format!("getrusage({who})"),
            || unsafe { syscall!(libc::SYS_getrusage, who, &raw mut ru) },
            libc::EINVAL,
        )?;
    }
    for p in BAD_PTRS {
        expect_sys_errno(
            &format!("getrusage(RUSAGE_SELF, {p:#x})"),
            || unsafe { syscall!(libc::SYS_getrusage, libc::RUSAGE_SELF, p) },
            libc::EFAULT,
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Interval timers and alarm.
// ---------------------------------------------------------------------------

fn itimer_real_oneshot() -> CheckResult {
    reset_count();
    let _a = install_handler(SIGALRM, h_count)?;
    let _t = TimerGuard(libc::ITIMER_REAL);
    let m0 = mono();
    let old = setitimer(libc::ITIMER_REAL, 0, 50_000)?;
    let cur = getitimer(libc::ITIMER_REAL)?;
    ensure!(
        old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0,
        "old value of an unarmed ITIMER_REAL: {}",
        fmt_itv(&old)
    );
    let left = tv_us(&cur.it_value);
    ensure!(
        left > 0 && left <= 50_000 && tv_us(&cur.it_interval) == 0,
        "getitimer right after arming 50 ms: {}",
        fmt_itv(&cur)
    );
    ensure!(
        wait_count(1, 10_000),
        "no SIGALRM within 10 s of a 50 ms ITIMER_REAL"
    );
    let at = TIMES[0].load(Ordering::SeqCst) - m0;
    ensure!(at >= 50 * MS, "SIGALRM of a 50 ms timer after {at} ns");
    let after = getitimer(libc::ITIMER_REAL)?;
    ensure!(
        tv_us(&after.it_value) == 0 && tv_us(&after.it_interval) == 0,
        "getitimer after expiry: {}",
        fmt_itv(&after)
    );
    sleep_ns(100 * MS);
    ensure_eq!(count(), 1, "SIGALRM deliveries of a one-shot timer");
    Ok(())
}

fn itimer_real_periodic() -> CheckResult {
    reset_count();
    let _a = install_handler(SIGALRM, h_count)?;
    let _t = TimerGuard(libc::ITIMER_REAL);
    let m0 = mono();
    setitimer(libc::ITIMER_REAL, 20_000, 20_000)?;
    let ok = wait_count(3, 10_000);
    let cur = getitimer(libc::ITIMER_REAL)?;
    let old = setitimer(libc::ITIMER_REAL, 0, 0)?;
    ensure!(
        ok,
        "{} SIGALRMs within 10 s of a 20 ms periodic ITIMER_REAL",
        count()
    );
    let t: Vec<i64> = TIMES[..3]
        .iter()
        .map(|t| t.load(Ordering::SeqCst) - m0)
        .collect();
    for (i, &at) in t.iter().enumerate() {
        let due = 20 * MS * (i as i64 + 1);
        ensure!(
            at >= due,
            "expiry {} seen after {at} ns, due at {due} ns (all: {t:?})",
            i + 1
        );
    }
    ensure_eq!(
        (cur.it_interval.tv_sec, cur.it_interval.tv_usec),
        (0, 20_000),
        "it_interval read back while running"
    );
    ensure!(
        tv_us(&cur.it_value) > 0 && tv_us(&cur.it_value) <= 20_000,
        "it_value of a running periodic timer: {}",
        fmt_itv(&cur)
    );
    ensure_eq!(
        (old.it_interval.tv_sec, old.it_interval.tv_usec),
        (0, 20_000),
        "it_interval returned when disarming"
    );
    let n = count();
    sleep_ns(100 * MS);
    ensure!(
        count() <= n + 1,
        "SIGALRMs keep coming after disarming ({} -> {})",
        n,
        count()
    );
    Ok(())
}

fn itimer_real_sigtimedwait() -> CheckResult {
    // SIGALRM blocked: taken with rt_sigtimedwait; its si_code is SI_KERNEL.
    let _a = install_handler(SIGALRM, h_count)?;
    let _g = block(bit(SIGALRM))?;
    let _t = TimerGuard(libc::ITIMER_REAL);
    setitimer(libc::ITIMER_REAL, 0, 30_000)?;
    let set = bit(SIGALRM);
    let mut info = [0u64; 16];
    let t = ns_ts(10 * NS);
    clear_errno();
    let r = unsafe {
        syscall!(
            libc::SYS_rt_sigtimedwait,
            &raw const set,
            info.as_mut_ptr(),
            &raw const t,
            8
        )
    };
    let e = errno();
    ensure_eq!(
        (r, e),
        (SIGALRM as c_long, 0),
        "rt_sigtimedwait({{SIGALRM}}, 10 s)"
    );
    let code = (info[1] & 0xffff_ffff) as u32 as i32;
    ensure_eq!(code, SI_KERNEL, "si_code of an ITIMER_REAL SIGALRM");
    Ok(())
}

fn itimer_get_set() -> CheckResult {
    let _t = TimerGuard(libc::ITIMER_REAL);
    setitimer(libc::ITIMER_REAL, 0, 10_000_000)?;
    let cur = getitimer(libc::ITIMER_REAL)?;
    let left = tv_us(&cur.it_value);
    ensure!(
        left > 9_000_000 && left <= 10_000_000,
        "getitimer 10 s after arming: {}",
        fmt_itv(&cur)
    );
    ensure!(
        cur.it_value.tv_usec >= 0 && cur.it_value.tv_usec < 1_000_000,
        "tv_usec {}",
        cur.it_value.tv_usec
    );
    let old = setitimer(libc::ITIMER_REAL, 0, 0)?;
    let left2 = tv_us(&old.it_value);
    ensure!(
        left2 > 9_000_000 && left2 <= left,
        "old value returned when disarming: {} (getitimer said {left} us)",
        fmt_itv(&old)
    );
    let now = getitimer(libc::ITIMER_REAL)?;
    ensure!(
        tv_us(&now.it_value) == 0,
        "getitimer after disarming: {}",
        fmt_itv(&now)
    );
    // setitimer with a NULL old value is fine.
    let zero: libc::itimerval = unsafe { std::mem::zeroed() };
    let r = sys_ok("setitimer(ITIMER_REAL, 0, NULL)", || unsafe {
        syscall!(libc::SYS_setitimer, libc::ITIMER_REAL, &raw const zero, 0)
    })?;
    ensure_eq!(r, 0, "setitimer(ITIMER_REAL, 0, NULL)");
    Ok(())
}

fn itimer_errors() -> CheckResult {
    let mut cur: libc::itimerval = unsafe { std::mem::zeroed() };
    for which in [3 as c_long, -1, 100] {
        expect_sys_errno(
            &format!("getitimer({which})"),
            || unsafe { syscall!(libc::SYS_getitimer, which, &raw mut cur) },
            libc::EINVAL,
        )?;
        let zero: libc::itimerval = unsafe { std::mem::zeroed() };
        expect_sys_errno(
            &format!("setitimer({which})"),
            || unsafe { syscall!(libc::SYS_setitimer, which, &raw const zero, 0) },
            libc::EINVAL,
        )?;
    }
    for (sec, usec) in [(0, 1_000_000), (0, -1), (-1, 0)] {
        let bad = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            it_value: libc::timeval {
                tv_sec: sec,
                tv_usec: usec,
            },
        };
        let _t = TimerGuard(libc::ITIMER_REAL);
        expect_sys_errno(
            &format!("setitimer(ITIMER_REAL, value {{{sec}, {usec}}})"),
            || unsafe { syscall!(libc::SYS_setitimer, libc::ITIMER_REAL, &raw const bad, 0) },
            libc::EINVAL,
        )?;
    }
    expect_sys_errno(
        "getitimer(ITIMER_REAL, 0x1)",
        || unsafe { syscall!(libc::SYS_getitimer, libc::ITIMER_REAL, 1) },
        libc::EFAULT,
    )?;
    Ok(())
}

fn itimer_virtual_prof() -> CheckResult {
    for (which, sig, name) in [
        (libc::ITIMER_VIRTUAL, SIGVTALRM, "ITIMER_VIRTUAL"),
        (libc::ITIMER_PROF, SIGPROF, "ITIMER_PROF"),
    ] {
        let v = getitimer(which)?;
        ensure!(
            tv_us(&v.it_value) == 0 && tv_us(&v.it_interval) == 0,
            "getitimer({name}) of an unarmed timer: {}",
            fmt_itv(&v)
        );
        reset_count();
        let _a = install_handler(sig, h_count)?;
        let _t = TimerGuard(which);
        setitimer(which, 0, 50_000)?;
        let c0 = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?;
        let end = mono() + 30 * NS;
        while count() == 0 && mono() < end {
            burn(libc::CLOCK_THREAD_CPUTIME_ID, 5 * MS, NS);
        }
        let used = raw_ns(libc::CLOCK_PROCESS_CPUTIME_ID)? - c0;
        ensure!(
            count() == 1,
            "{name}: no signal {sig} after {used} ns of CPU time (30 s)"
        );
        ensure!(
            used >= 50 * MS,
            "{name} (50 ms) fired after {used} ns of CPU time"
        );
    }
    Ok(())
}

fn alarm(secs: u32) -> c_long {
    unsafe { syscall!(libc::SYS_alarm, secs) }
}

fn alarm_remaining_and_cancel() -> CheckResult {
    let _a = install(SIGALRM, SIG_IGN, 0)?; // in case anything goes wrong
    let _t = TimerGuard(libc::ITIMER_REAL);
    ensure_eq!(alarm(10), 0, "alarm(10) with no alarm pending");
    ensure_eq!(alarm(5), 10, "alarm(5) right after alarm(10)");
    let cur = getitimer(libc::ITIMER_REAL)?;
    let left = tv_us(&cur.it_value);
    ensure!(
        left > 4_000_000 && left <= 5_000_000 && tv_us(&cur.it_interval) == 0,
        "getitimer after alarm(5): {}",
        fmt_itv(&cur)
    );
    ensure_eq!(alarm(0), 5, "alarm(0) after alarm(5)");
    ensure_eq!(alarm(0), 0, "alarm(0) with no alarm pending");
    let cur = getitimer(libc::ITIMER_REAL)?;
    ensure!(
        tv_us(&cur.it_value) == 0,
        "getitimer after alarm(0): {}",
        fmt_itv(&cur)
    );
    // alarm and ITIMER_REAL are the same timer.
    setitimer(libc::ITIMER_REAL, 0, 3_000_000)?;
    ensure_eq!(alarm(0), 3, "alarm(0) after setitimer(ITIMER_REAL, 3 s)");
    Ok(())
}

fn alarm_fires() -> CheckResult {
    reset_count();
    let _a = install_handler(SIGALRM, h_count)?;
    let _t = TimerGuard(libc::ITIMER_REAL);
    let m0 = mono();
    ensure_eq!(alarm(1), 0, "alarm(1)");
    ensure!(wait_count(1, 10_000), "no SIGALRM within 10 s of alarm(1)");
    let at = TIMES[0].load(Ordering::SeqCst) - m0;
    ensure!(at >= NS, "SIGALRM of alarm(1) after {at} ns");
    ensure_eq!(alarm(0), 0, "alarm(0) after the alarm fired");
    Ok(())
}

// ---------------------------------------------------------------------------
// vDSO.
// ---------------------------------------------------------------------------

/// A bounds-checked view of the mapped vDSO image.
struct Image {
    base: usize,
    len: usize,
}

impl Image {
    fn bytes(&self, off: usize, n: usize) -> Result<&[u8], String> {
        ensure!(
            off.checked_add(n).is_some_and(|end| end <= self.len),
            "vDSO read of {n} bytes at offset {off:#x} is outside its {:#x} bytes",
            self.len
        );
        Ok(unsafe { std::slice::from_raw_parts((self.base + off) as *const u8, n) })
    }

    fn u16(&self, off: usize) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.bytes(off, 2)?.try_into().unwrap()))
    }

    fn u32(&self, off: usize) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes(off, 4)?.try_into().unwrap()))
    }

    fn u64(&self, off: usize) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.bytes(off, 8)?.try_into().unwrap()))
    }

    fn cstr(&self, off: usize) -> Result<&[u8], String> {
        let mut end = off;
        while self.bytes(end, 1)?[0] != 0 {
            end += 1;
            ensure!(end - off < 256, "unterminated vDSO string at {off:#x}");
        }
        self.bytes(off, end - off)
    }
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SYMENT: u64 = 11;
const DT_GNU_HASH: u64 = 0x6fff_fef5;

struct Vdso {
    img: Image,
    /// Added to a link-time address to get an offset into the image.
    bias: i64,
    symtab: usize,
    strtab: usize,
    strsz: usize,
    nsyms: usize,
}

fn vdso_base() -> Result<usize, String> {
    let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    ensure!(base != 0, "getauxval(AT_SYSINFO_EHDR) = 0: no vDSO");
    ensure!(
        base.is_multiple_of(4096),
        "AT_SYSINFO_EHDR {base:#x} is not page-aligned"
    );
    Ok(base)
}

/// Checks the ELF header and finds the dynamic symbol table.
fn parse_vdso() -> Result<Vdso, String> {
    let base = vdso_base()?;
    // Start with one page to read the headers, then use the PT_LOAD size.
    let hdr = Image { base, len: 4096 };
    ensure_eq!(hdr.bytes(0, 4)?, b"\x7fELF", "vDSO ELF magic");
    ensure_eq!(
        hdr.bytes(4, 2)?,
        [2u8, 1],
        "vDSO ELF class (64-bit) and data (little-endian)"
    );
    ensure_eq!(hdr.u16(16)?, 3, "vDSO e_type (ET_DYN)");
    ensure_eq!(hdr.u16(18)?, 62, "vDSO e_machine (x86-64)");
    let phoff = hdr.u64(32)? as usize;
    let phentsize = hdr.u16(54)? as usize;
    let phnum = hdr.u16(56)? as usize;
    ensure!(
        phentsize == 56 && phnum > 0 && phnum < 32,
        "vDSO program headers: {phnum} of {phentsize} bytes"
    );
    let mut load = None;
    let mut dynamic = None;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let ty = hdr.u32(ph)?;
        let offset = hdr.u64(ph + 8)?;
        let vaddr = hdr.u64(ph + 16)?;
        let memsz = hdr.u64(ph + 40)?;
        if ty == PT_LOAD && load.is_none() {
            load = Some((offset, vaddr, memsz));
        }
        if ty == PT_DYNAMIC {
            dynamic = Some((vaddr, memsz));
        }
    }
    let (offset, vaddr, memsz) = load.ok_or("vDSO has no PT_LOAD")?;
    let (dyn_vaddr, dyn_size) = dynamic.ok_or("vDSO has no PT_DYNAMIC")?;
    ensure!(
        offset == 0 && memsz > 0 && memsz <= 64 * 4096,
        "vDSO first PT_LOAD: p_offset {offset:#x}, p_memsz {memsz:#x}"
    );
    let bias = offset as i64 - vaddr as i64;
    // The image is mapped in whole pages.
    let img = Image {
        base,
        len: (memsz as usize).div_ceil(4096) * 4096,
    };
    let at = |link: u64| -> usize { (link as i64 + bias) as usize };
    let (mut hash, mut gnu_hash, mut symtab, mut strtab, mut strsz, mut syment) =
        (None, None, None, None, None, None);
    let mut p = at(dyn_vaddr);
    let end = p + dyn_size as usize;
    while p + 16 <= end {
        let tag = img.u64(p)?;
        let val = img.u64(p + 8)?;
        match tag {
            DT_NULL => break,
            DT_HASH => hash = Some(at(val)),
            DT_GNU_HASH => gnu_hash = Some(at(val)),
            DT_SYMTAB => symtab = Some(at(val)),
            DT_STRTAB => strtab = Some(at(val)),
            DT_STRSZ => strsz = Some(val as usize),
            DT_SYMENT => syment = Some(val),
            _ => {}
        }
        p += 16;
    }
    let symtab = symtab.ok_or("vDSO has no DT_SYMTAB")?;
    let strtab = strtab.ok_or("vDSO has no DT_STRTAB")?;
    let strsz = strsz.ok_or("vDSO has no DT_STRSZ")?;
    if let Some(e) = syment {
        ensure_eq!(e, 24, "vDSO DT_SYMENT");
    }
    // Number of symbols: nchain of DT_HASH, or walk DT_GNU_HASH to its last chain.
    let nsyms = if let Some(h) = hash {
        img.u32(h + 4)? as usize
    } else if let Some(g) = gnu_hash {
        let nbuckets = img.u32(g)? as usize;
        let symoffset = img.u32(g + 4)? as usize;
        let bloom_size = img.u32(g + 8)? as usize;
        let buckets = g + 16 + 8 * bloom_size;
        let chains = buckets + 4 * nbuckets;
        let mut last = 0usize;
        for b in 0..nbuckets {
            last = last.max(img.u32(buckets + 4 * b)? as usize);
        }
        if last < symoffset {
            symoffset
        } else {
            let mut i = last;
            while img.u32(chains + 4 * (i - symoffset))? & 1 == 0 {
                i += 1;
                ensure!(i < 10_000, "runaway DT_GNU_HASH chain");
            }
            i + 1
        }
    } else {
        return Err("vDSO has neither DT_HASH nor DT_GNU_HASH".into());
    };
    ensure!(nsyms > 0 && nsyms < 1000, "vDSO symbol count {nsyms}");
    Ok(Vdso {
        img,
        bias,
        symtab,
        strtab,
        strsz,
        nsyms,
    })
}

impl Vdso {
    /// The run-time address of the defined function symbol `name`.
    fn lookup(&self, name: &str) -> Result<Option<usize>, String> {
        for i in 1..self.nsyms {
            let s = self.symtab + 24 * i;
            let st_name = self.img.u32(s)? as usize;
            let st_info = self.img.bytes(s + 4, 1)?[0];
            let st_shndx = self.img.u16(s + 6)?;
            let st_value = self.img.u64(s + 8)?;
            ensure!(
                st_name < self.strsz,
                "vDSO symbol {i}: name offset {st_name:#x} beyond DT_STRSZ"
            );
            if self.img.cstr(self.strtab + st_name)? != name.as_bytes() {
                continue;
            }
            let ty = st_info & 0xf;
            let bind = st_info >> 4;
            if st_shndx == 0 || ty != 2 || !(bind == 1 || bind == 2) {
                continue; // undefined, not STT_FUNC, or not global/weak
            }
            let off = (st_value as i64 + self.bias) as usize;
            ensure!(
                off < self.img.len,
                "vDSO {name} at offset {off:#x} outside the image"
            );
            return Ok(Some(self.img.base + off));
        }
        Ok(None)
    }

    fn require(&self, name: &str) -> Result<usize, String> {
        self.lookup(name)?.ok_or_else(|| {
            format!(
                "{name} not found among the vDSO's {} dynamic symbols",
                self.nsyms
            )
        })
    }
}

fn vdso_elf_image() -> CheckResult {
    let v = parse_vdso()?;
    ensure!(v.nsyms >= 2, "vDSO has {} dynamic symbols", v.nsyms);
    // The image is readable and libc found it too: a libc clock_gettime works.
    let mut ts = zero_ts();
    ensure_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
        0,
        "libc clock_gettime"
    );
    Ok(())
}

type VdsoClockGettime = unsafe extern "C" fn(c_int, *mut libc::timespec) -> c_int;
type VdsoGettimeofday = unsafe extern "C" fn(*mut libc::timeval, *mut c_void) -> c_int;
type VdsoTime = unsafe extern "C" fn(*mut i64) -> i64;

fn vdso_clock_gettime() -> CheckResult {
    let v = parse_vdso()?;
    let f: VdsoClockGettime = unsafe { std::mem::transmute(v.require("__vdso_clock_gettime")?) };
    for (id, name) in [
        (libc::CLOCK_MONOTONIC, "MONOTONIC"),
        (libc::CLOCK_REALTIME, "REALTIME"),
        (libc::CLOCK_BOOTTIME, "BOOTTIME"),
        (libc::CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"),
    ] {
        for round in 0..100 {
            let s0 = raw_ns(id)?;
            let mut ts = libc::timespec {
                tv_sec: -1,
                tv_nsec: -1,
            };
            let r = unsafe { f(id, &mut ts) };
            let s1 = raw_ns(id)?;
            ensure_eq!(r, 0, "__vdso_clock_gettime({name})");
            ensure!(
                ts.tv_nsec >= 0 && ts.tv_nsec < NS,
                "__vdso_clock_gettime({name}) = {}",
                fmt_ts(&ts)
            );
            let vv = ts_ns(&ts);
            ensure!(
                vv >= s0 - 10 * MS && vv <= s1 + 10 * MS,
                "__vdso_clock_gettime({name}) = {vv}, syscalls around it: {s0} .. {s1} (round {round})"
            );
        }
    }
    // Clocks the vDSO does not handle itself still work (through the syscall).
    for (id, name) in [
        (libc::CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"),
        (libc::CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID"),
    ] {
        let mut ts = zero_ts();
        let r = unsafe { f(id, &mut ts) };
        ensure!(
            r == 0 && ts_ns(&ts) > 0,
            "__vdso_clock_gettime({name}) = {r}, {}",
            fmt_ts(&ts)
        );
    }
    // A bad clock id: the negative errno of the syscall, as glibc expects.
    let mut ts = zero_ts();
    let r = unsafe { f(100, &mut ts) };
    ensure_eq!(r, -libc::EINVAL, "__vdso_clock_gettime(100)");
    Ok(())
}

fn vdso_gettimeofday_time() -> CheckResult {
    let v = parse_vdso()?;
    let gtod: VdsoGettimeofday = unsafe { std::mem::transmute(v.require("__vdso_gettimeofday")?) };
    let time: VdsoTime = unsafe { std::mem::transmute(v.require("__vdso_time")?) };
    let s0 = raw_ns(libc::CLOCK_REALTIME)?;
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: -1,
    };
    let r = unsafe { gtod(&mut tv, std::ptr::null_mut()) };
    let s1 = raw_ns(libc::CLOCK_REALTIME)?;
    ensure_eq!(r, 0, "__vdso_gettimeofday");
    let g = tv_us(&tv) * 1000;
    ensure!(
        tv.tv_usec >= 0 && tv.tv_usec < 1_000_000 && g >= s0 - 10 * MS && g <= s1 + 10 * MS,
        "__vdso_gettimeofday = {}.{:06}, CLOCK_REALTIME {s0} .. {s1}",
        tv.tv_sec,
        tv.tv_usec
    );
    let r0 = raw_clock(libc::CLOCK_REALTIME)?;
    let mut t: i64 = -1;
    let t1 = unsafe { time(&mut t) };
    let r1 = raw_clock(libc::CLOCK_REALTIME)?;
    ensure_eq!(t, t1, "value stored by __vdso_time(&t)");
    ensure!(
        t1 >= r0.tv_sec - 1 && t1 <= r1.tv_sec,
        "__vdso_time = {t1}, CLOCK_REALTIME seconds {} .. {}",
        r0.tv_sec,
        r1.tv_sec
    );
    let t2 = unsafe { time(std::ptr::null_mut()) };
    ensure!(t2 >= t1 && t2 <= r1.tv_sec + 1, "__vdso_time(NULL) = {t2}");
    Ok(())
}

// ---------------------------------------------------------------------------
// Sleep precision.
// ---------------------------------------------------------------------------

fn clock_nanosleep_1ms_overshoot() -> CheckResult {
    const N: usize = 200;
    let req = ns_ts(MS);
    let mut over = Vec::with_capacity(N);
    for i in 0..N {
        let t0 = mono();
        let (r, e) = clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &req, std::ptr::null_mut());
        let dt = mono() - t0;
        ensure_eq!((r, e), (0, 0), "clock_nanosleep(MONOTONIC, 1 ms) #{i}");
        ensure!(
            dt >= MS,
            "clock_nanosleep(MONOTONIC, 1 ms) #{i} lasted {dt} ns"
        );
        over.push(dt - MS);
    }
    over.sort_unstable();
    let pct = |p: usize| over[(N * p / 100).min(N - 1)];
    println!(
        "info time::clock_nanosleep_1ms_overshoot: overshoot over {N} sleeps of 1 ms: p50 {} us, p99 {} us, max {} us",
        pct(50) / 1000,
        pct(99) / 1000,
        over[N - 1] / 1000
    );
    Ok(())
}
