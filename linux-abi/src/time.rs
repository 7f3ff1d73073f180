//! Time for user programs: clocks (CLOCK_REALTIME, MONOTONIC, BOOTTIME, the coarse and raw
//! variants, process and thread CPU time), `timespec`/`timeval` conversion, interval
//! timers (ITIMER_REAL and `alarm`), and resource usage.

use alloc::sync::{Arc, Weak};

use bytemuck::{Pod, Zeroable};

use crate::errno::Errno;
use crate::process::Process;
use crate::uaccess;

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
pub const CLOCK_REALTIME_COARSE: i32 = 5;
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
pub const CLOCK_BOOTTIME: i32 = 7;
pub const CLOCK_REALTIME_ALARM: i32 = 8;
pub const CLOCK_BOOTTIME_ALARM: i32 = 9;
pub const CLOCK_TAI: i32 = 11;

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// `struct timeval`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Timeval {
    pub sec: i64,
    pub usec: i64,
}

impl Timespec {
    /// From nanoseconds.
    pub fn from_ns(ns: i64) -> Self {
        Self { sec: ns.div_euclid(1_000_000_000), nsec: ns.rem_euclid(1_000_000_000) }
    }
    /// To nanoseconds (saturating); `EINVAL` if out of range.
    pub fn to_ns(self) -> Result<u64, Errno> {
        if self.sec < 0 || !(0..1_000_000_000).contains(&self.nsec) {
            return Err(Errno::EINVAL);
        }
        Ok((self.sec as u64).saturating_mul(1_000_000_000).saturating_add(self.nsec as u64))
    }
}

/// Reads a `timespec` as nanoseconds (EINVAL for negative or bad nanoseconds).
pub fn read_timespec(addr: u64) -> Result<u64, Errno> {
    uaccess::read::<Timespec>(addr)?.to_ns()
}

/// Converts an absolute CLOCK_REALTIME time to the monotonic clock.
pub fn realtime_to_monotonic(rt_ns: u64) -> u64 {
    (rt_ns as i64).saturating_sub(rtos::time::clock::realtime_offset_ns()).max(0) as u64
}

/// Nanoseconds of `clock` now, for the calling thread.
pub fn clock_now(clock: i32) -> Result<i64, Errno> {
    Ok(match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_REALTIME_ALARM => rtos::time::realtime_ns(),
        CLOCK_TAI => rtos::time::realtime_ns() + 37_000_000_000,
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => rtos::time::now_ns() as i64,
        CLOCK_PROCESS_CPUTIME_ID => crate::process::current_process().cpu_time_ns() as i64,
        CLOCK_THREAD_CPUTIME_ID => rtos::sched::core::current().cpu_time_ns() as i64,
        c if c < 0 => cpu_clock(c)?,
        _ => return Err(Errno::EINVAL),
    })
}

/// CPU-time clocks of other processes/threads (`clock_getcpuclockid` encoding).
fn cpu_clock(c: i32) -> Result<i64, Errno> {
    let pid = !(c >> 3);
    let per_thread = c & 4 != 0;
    if c & 3 == 3 {
        return Err(Errno::EINVAL);
    }
    if per_thread {
        let t = crate::process::find_task(pid).ok_or(Errno::EINVAL)?;
        Ok(t.thread().map_or(0, |t| t.cpu_time_ns()) as i64)
    } else {
        let p = if pid == 0 { crate::process::current_process() } else { crate::process::find_process(pid).ok_or(Errno::EINVAL)? };
        Ok(p.cpu_time_ns() as i64)
    }
}

/// Resolution of `clock`.
pub fn clock_res(clock: i32) -> Result<i64, Errno> {
    clock_now(clock)?;
    Ok(match clock {
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => 4_000_000,
        _ => 1,
    })
}

/// `struct rusage` (only times are tracked).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Rusage {
    pub utime: Timeval,
    pub stime: Timeval,
    pub rest: [i64; 14],
}

/// Writes a `rusage` with `cpu_ns` as user time and `maxrss_pages` as `ru_maxrss` (KiB).
pub fn write_rusage(addr: u64, cpu_ns: u64, maxrss_pages: u64) -> Result<(), Errno> {
    let mut r = Rusage { utime: Timeval { sec: (cpu_ns / 1_000_000_000) as i64, usec: ((cpu_ns / 1000) % 1_000_000) as i64 }, ..Default::default() };
    r.rest[0] = (maxrss_pages * 4) as i64;
    uaccess::write(addr, &r)
}

/// ITIMER_VIRTUAL / ITIMER_PROF of a process: expiry as process CPU time (ns; 0:
/// disarmed) and interval. Axle does not split user from system time, so both count all
/// CPU time; a sampling timer checks them every 10 ms while one is armed.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuItimers {
    pub timers: [(u64, u64); 2],
    pub generation: u64,
}

const CPU_ITIMER_SAMPLE_NS: u64 = 10_000_000;

/// Sets CPU-time timer `which` (0: VIRTUAL, 1: PROF); returns the old (remaining, interval).
pub fn set_cpu_itimer(p: &Arc<Process>, which: usize, value_ns: u64, interval_ns: u64) -> (u64, u64) {
    let now = p.cpu_time_ns();
    let (old, gen, armed) = {
        let mut s = p.cpu_itimers.lock();
        let (exp, iv) = s.timers[which];
        let old = (if exp == 0 { 0 } else { exp.saturating_sub(now).max(1) }, iv);
        s.timers[which] = (if value_ns == 0 { 0 } else { now + value_ns }, if value_ns == 0 { 0 } else { interval_ns });
        s.generation += 1;
        (old, s.generation, s.timers.iter().any(|t| t.0 != 0))
    };
    if armed {
        arm_cpu_sampler(p, gen);
    }
    old
}

/// The remaining time and interval of CPU-time timer `which`.
pub fn get_cpu_itimer(p: &Arc<Process>, which: usize) -> (u64, u64) {
    let now = p.cpu_time_ns();
    let (exp, iv) = p.cpu_itimers.lock().timers[which];
    (if exp == 0 { 0 } else { exp.saturating_sub(now).max(1) }, iv)
}

fn arm_cpu_sampler(p: &Arc<Process>, gen: u64) {
    let w = Arc::downgrade(p);
    rtos::time::timer::add(
        rtos::time::now_ns() + CPU_ITIMER_SAMPLE_NS,
        rtos::time::timer::TimerAction::Closure(alloc::boxed::Box::new(move || cpu_sample(w, gen))),
    );
}

fn cpu_sample(w: Weak<Process>, gen: u64) {
    let Some(p) = w.upgrade() else { return };
    if p.is_zombie() {
        return;
    }
    let now = p.cpu_time_ns();
    let mut fire = [false; 2];
    let keep = {
        let mut s = p.cpu_itimers.lock();
        if s.generation != gen {
            return;
        }
        for (i, t) in s.timers.iter_mut().enumerate() {
            if t.0 != 0 && now >= t.0 {
                fire[i] = true;
                t.0 = if t.1 > 0 { t.0 + t.1 } else { 0 };
            }
        }
        s.timers.iter().any(|t| t.0 != 0)
    };
    for (i, sig) in [(0, crate::signal::SIGVTALRM), (1, crate::signal::SIGPROF)] {
        if fire[i] {
            crate::signal::send_to_process(&p, crate::signal::SigInfo::new(sig, crate::signal::SI_KERNEL));
        }
    }
    if keep {
        arm_cpu_sampler(&p, gen);
    }
}

/// The ITIMER_REAL/alarm state of a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ItimerState {
    /// Absolute monotonic expiry (0: disarmed).
    pub expires_ns: u64,
    pub interval_ns: u64,
    /// Bumped on every change so stale timer callbacks do nothing.
    pub generation: u64,
}

/// Arms (or with `expires_ns == 0` disarms) ITIMER_REAL; returns the old (remaining, interval).
pub fn set_itimer(p: &Arc<Process>, value_ns: u64, interval_ns: u64) -> (u64, u64) {
    let now = rtos::time::now_ns();
    let (old, gen) = {
        let mut s = p.itimer.lock();
        let old = (if s.expires_ns == 0 { 0 } else { s.expires_ns.saturating_sub(now).max(1) }, s.interval_ns);
        s.generation += 1;
        s.expires_ns = if value_ns == 0 { 0 } else { now + value_ns };
        s.interval_ns = interval_ns;
        (old, s.generation)
    };
    if value_ns != 0 {
        arm(p, now + value_ns, gen);
    }
    old
}

fn arm(p: &Arc<Process>, at: u64, gen: u64) {
    let w = Arc::downgrade(p);
    rtos::time::timer::add(at, rtos::time::timer::TimerAction::Closure(alloc::boxed::Box::new(move || itimer_fired(w, gen))));
}

/// ITIMER_REAL expiry (interrupt context): SIGALRM, then re-arm a periodic timer.
fn itimer_fired(w: Weak<Process>, gen: u64) {
    let Some(p) = w.upgrade() else { return };
    let fire = {
        let s = p.itimer.lock();
        s.generation == gen && s.expires_ns != 0
    };
    if !fire {
        return;
    }
    crate::signal::send_to_process(&p, crate::signal::SigInfo::new(crate::signal::SIGALRM, crate::signal::SI_KERNEL));
    let next = {
        let mut s = p.itimer.lock();
        if s.interval_ns > 0 {
            s.expires_ns += s.interval_ns;
            Some((s.expires_ns, s.generation))
        } else {
            s.expires_ns = 0;
            None
        }
    };
    if let Some((at, g)) = next {
        arm(&p, at, g);
    }
}

/// Disarms the interval timer of an exiting process.
pub fn cancel_itimer(p: &Arc<Process>) {
    let mut s = p.itimer.lock();
    s.generation += 1;
    s.expires_ns = 0;
}

/// Remaining-time bookkeeping for a restarted `nanosleep`.
#[derive(Clone, Copy, Debug)]
pub struct RestartBlock {
    pub deadline_ns: u64,
    pub clock: i32,
    pub rem_addr: u64,
}
