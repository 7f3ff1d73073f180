//! Time calls: clocks, sleeps (one-shot timers at the requested time), interval timers,
//! process times.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::{current_process, current_task};
use crate::time::*;
use crate::uaccess;

pub fn clock_gettime(a: Args) -> SysResult {
    let ns = clock_now(a.i(0))?;
    uaccess::write(a.u(1), &Timespec::from_ns(ns))?;
    Ok(0)
}

pub fn clock_getres(a: Args) -> SysResult {
    let r = clock_res(a.i(0))?;
    uaccess::write_opt(a.u(1), &Timespec::from_ns(r))?;
    Ok(0)
}

pub fn clock_settime(a: Args) -> SysResult {
    let ns = read_timespec(a.u(1))?;
    match a.i(0) {
        CLOCK_REALTIME => {
            rtos::time::clock::set_realtime_ns(ns as i64);
            crate::vdso::clock_changed();
            Ok(0)
        }
        c if clock_now(c).is_ok() => Err(Errno::EINVAL),
        _ => Err(Errno::EINVAL),
    }
}

pub fn gettimeofday(a: Args) -> SysResult {
    if a.u(0) != 0 {
        let ns = rtos::time::realtime_ns();
        uaccess::write(a.u(0), &Timeval { sec: ns.div_euclid(1_000_000_000), usec: ns.rem_euclid(1_000_000_000) / 1000 })?;
    }
    if a.u(1) != 0 {
        uaccess::write(a.u(1), &[0i32; 2])?;
    }
    Ok(0)
}

pub fn time(a: Args) -> SysResult {
    let s = rtos::time::realtime_ns().div_euclid(1_000_000_000);
    uaccess::write_opt(a.u(0), &s)?;
    Ok(s as usize)
}

/// Sleeps until the absolute monotonic `deadline`; on a signal, records the restart and
/// writes the remaining time to `rem` (relative sleeps).
fn sleep(deadline: u64, clock: i32, rem: u64, relative: bool) -> SysResult {
    match rtos::sync::sleep_until(deadline, true) {
        Ok(()) => Ok(0),
        Err(_) => {
            if relative && rem != 0 {
                let left = deadline.saturating_sub(rtos::time::now_ns());
                uaccess::write(rem, &Timespec::from_ns(left as i64))?;
            }
            *current_task().restart.lock() = Some(RestartBlock { deadline_ns: deadline, clock, rem_addr: rem });
            Err(Errno::from_restart_block())
        }
    }
}

pub fn nanosleep(a: Args) -> SysResult {
    let ns = read_timespec(a.u(0))?;
    sleep(rtos::time::now_ns().saturating_add(ns), CLOCK_MONOTONIC, a.u(1), true)
}

/// `clock_nanosleep(clock, flags, req, rem)`.
pub fn clock_nanosleep(a: Args) -> SysResult {
    const TIMER_ABSTIME: u32 = 1;
    let clock = a.i(0);
    match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI | CLOCK_PROCESS_CPUTIME_ID => {}
        CLOCK_THREAD_CPUTIME_ID => return Err(Errno::EOPNOTSUPP),
        c if clock_now(c).is_err() => return Err(Errno::EINVAL),
        _ => return Err(Errno::EOPNOTSUPP),
    }
    let ns = read_timespec(a.u(2))?;
    let abs = a.u32(1) & TIMER_ABSTIME != 0;
    let deadline = if abs {
        match clock {
            CLOCK_REALTIME => realtime_to_monotonic(ns),
            CLOCK_TAI => realtime_to_monotonic(ns.saturating_sub(37_000_000_000)),
            _ => ns,
        }
    } else {
        rtos::time::now_ns().saturating_add(ns)
    };
    // Errors are returned as positive values by the libc wrapper; the kernel returns -errno.
    sleep(deadline, clock, a.u(3), !abs)
}

/// `restart_syscall`: continues an interrupted sleep until its original deadline.
pub fn restart_syscall(_: Args) -> SysResult {
    let r = current_task().restart.lock().take();
    match r {
        Some(b) => sleep(b.deadline_ns, b.clock, b.rem_addr, true),
        None => Err(Errno::EINTR),
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Itimerval {
    interval: Timeval,
    value: Timeval,
}

fn tv_ns(t: Timeval) -> Result<u64, Errno> {
    if t.sec < 0 || !(0..1_000_000).contains(&t.usec) {
        return Err(Errno::EINVAL);
    }
    Ok(t.sec as u64 * 1_000_000_000 + t.usec as u64 * 1000)
}

fn ns_tv(ns: u64) -> Timeval {
    Timeval { sec: (ns / 1_000_000_000) as i64, usec: ((ns % 1_000_000_000) / 1000) as i64 }
}

pub fn setitimer(a: Args) -> SysResult {
    const ITIMER_REAL: i32 = 0;
    const ITIMER_VIRTUAL: i32 = 1;
    const ITIMER_PROF: i32 = 2;
    let which = a.i(0);
    if !(ITIMER_REAL..=ITIMER_PROF).contains(&which) {
        return Err(Errno::EINVAL);
    }
    let new: Itimerval = if a.u(1) != 0 { uaccess::read(a.u(1))? } else { Itimerval::default() };
    let (v, i) = (tv_ns(new.value)?, tv_ns(new.interval)?);
    let p = current_process();
    let (old_v, old_i) = match which {
        ITIMER_REAL => set_itimer(&p, v, i),
        ITIMER_VIRTUAL => set_cpu_itimer(&p, 0, v, i),
        _ => set_cpu_itimer(&p, 1, v, i),
    };
    if a.u(2) != 0 {
        uaccess::write(a.u(2), &Itimerval { interval: ns_tv(old_i), value: ns_tv(old_v) })?;
    }
    Ok(0)
}

pub fn getitimer(a: Args) -> SysResult {
    let p = current_process();
    match a.i(0) {
        0 => {}
        w @ 1..=2 => {
            let (left, iv) = get_cpu_itimer(&p, (w - 1) as usize);
            uaccess::write(a.u(1), &Itimerval { interval: ns_tv(iv), value: ns_tv(left) })?;
            return Ok(0);
        }
        _ => return Err(Errno::EINVAL),
    }
    let s = *p.itimer.lock();
    let left = if s.expires_ns == 0 { 0 } else { s.expires_ns.saturating_sub(rtos::time::now_ns()).max(1) };
    uaccess::write(a.u(1), &Itimerval { interval: ns_tv(s.interval_ns), value: ns_tv(left) })?;
    Ok(0)
}

pub fn alarm(a: Args) -> SysResult {
    let (old, _) = set_itimer(&current_process(), a.u32(0) as u64 * 1_000_000_000, 0);
    // Rounded to the nearest second, at least 1 if an alarm was pending.
    Ok(if old == 0 { 0 } else { (old.div_ceil(1_000_000_000)).max(1) as usize })
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Tms {
    utime: i64,
    stime: i64,
    cutime: i64,
    cstime: i64,
}

pub fn times(a: Args) -> SysResult {
    let p = current_process();
    let tick = |ns: u64| (ns / 10_000_000) as i64;
    let t = Tms { utime: tick(p.cpu_time_ns()), stime: 0, cutime: tick(p.children_cpu_ns.load(core::sync::atomic::Ordering::Relaxed)), cstime: 0 };
    uaccess::write_opt(a.u(0), &t)?;
    Ok((rtos::time::now_ns() / 10_000_000) as usize)
}

pub fn getrusage(a: Args) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let p = current_process();
    let (ns, rss) = match a.i(0) {
        RUSAGE_SELF => (p.cpu_time_ns(), p.sample_rss()),
        RUSAGE_CHILDREN => (p.children_cpu_ns.load(core::sync::atomic::Ordering::Relaxed), p.children_maxrss_pages.load(core::sync::atomic::Ordering::Relaxed)),
        RUSAGE_THREAD => (rtos::sched::core::current().cpu_time_ns(), p.sample_rss()),
        _ => return Err(Errno::EINVAL),
    };
    write_rusage(a.u(1), ns, rss)?;
    Ok(0)
}
