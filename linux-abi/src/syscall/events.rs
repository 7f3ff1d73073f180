//! Event files and readiness calls: epoll, eventfd, timerfd, signalfd, pidfd, select.

use alloc::sync::Arc;
use alloc::vec::Vec;

use bytemuck::{Pod, Zeroable};

use super::io::{fd_file, install};
use super::Args;
use crate::errno::{Errno, SysResult};
use crate::fs::epoll::{self, Epoll};
use crate::fs::eventfd::{self, EventFd};
use crate::fs::file::{flags, File};
use crate::fs::signalfd::{self, SignalFd};
use crate::fs::timerfd::{self, Itimerspec, TimerFd};
use crate::process::{current_process, current_task};
use crate::signal::SigSet;
use crate::uaccess;

/// `struct epoll_event` (packed on x86_64: 12 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct EpollEvent {
    events: u32,
    data: u64,
}

fn new_epoll(cloexec: bool) -> SysResult {
    let f = File::new(Epoll::new(), flags::O_RDWR, None, "anon_inode:[eventpoll]".into());
    install(f, cloexec)
}

pub fn epoll_create(a: Args) -> SysResult {
    if a.i(0) <= 0 {
        return Err(Errno::EINVAL);
    }
    new_epoll(false)
}

pub fn epoll_create1(a: Args) -> SysResult {
    let fl = a.u32(0);
    if fl & !flags::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    new_epoll(fl != 0)
}

fn epoll_of(file: &Arc<File>) -> Result<&Epoll, Errno> {
    file.ops.as_any().downcast_ref::<Epoll>().ok_or(Errno::EINVAL)
}

/// `epoll_ctl(epfd, op, fd, event)`.
pub fn epoll_ctl(a: Args) -> SysResult {
    let (epfd, op, fd) = (a.i(0), a.i(1), a.i(2));
    let ep_file = fd_file(epfd)?;
    let target = fd_file(fd)?;
    let ep = epoll_of(&ep_file)?;
    if epfd == fd {
        return Err(Errno::EINVAL);
    }
    if target.ops.inode().is_some_and(|i| matches!(i.kind(), crate::fs::vfs::FileType::Regular | crate::fs::vfs::FileType::Directory)) {
        return Err(Errno::EPERM);
    }
    let ev = if op == epoll::EPOLL_CTL_DEL { EpollEvent::zeroed() } else { uaccess::read::<EpollEvent>(a.u(3))? };
    if op == epoll::EPOLL_CTL_ADD {
        ep.check_loop(&target)?;
    }
    let (events, data) = (ev.events, ev.data);
    ep.ctl(op, fd, &target, events, data)?;
    Ok(0)
}

fn do_wait(epfd: i32, addr: u64, max: i32, deadline: Option<u64>, mask: Option<SigSet>) -> SysResult {
    if max <= 0 || max as usize > (i32::MAX as usize) / 12 {
        return Err(Errno::EINVAL);
    }
    let ep_file = fd_file(epfd)?;
    let ep = epoll_of(&ep_file)?;
    rtos::arch::x86_64::usercopy::probe_writable(addr, max as usize * 12).map_err(|_| Errno::EFAULT)?;
    let task = current_task();
    if let Some(m) = mask {
        let mut s = task.sig.lock();
        s.saved_mask = Some(s.mask);
        s.mask = m.blockable();
        drop(s);
        crate::signal::recalc(&task);
    }
    let r = ep.wait(max as usize, deadline);
    if mask.is_some() && r.is_ok() {
        let mut s = task.sig.lock();
        if let Some(m) = s.saved_mask.take() {
            s.mask = m;
        }
        drop(s);
        crate::signal::recalc(&task);
    }
    let got = r?;
    let out: Vec<EpollEvent> = got.iter().map(|&(events, data)| EpollEvent { events, data }).collect();
    uaccess::write_slice(addr, &out)?;
    Ok(out.len())
}

fn ms_deadline(ms: i32) -> Option<u64> {
    if ms < 0 { None } else { Some(rtos::time::now_ns() + ms as u64 * 1_000_000) }
}

pub fn epoll_wait(a: Args) -> SysResult {
    do_wait(a.i(0), a.u(1), a.i(2), ms_deadline(a.i(3)), None)
}

fn read_mask(addr: u64, size: u64) -> Result<Option<SigSet>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(uaccess::read(addr)?))
}

pub fn epoll_pwait(a: Args) -> SysResult {
    let mask = read_mask(a.u(4), a.u(5))?;
    do_wait(a.i(0), a.u(1), a.i(2), ms_deadline(a.i(3)), mask)
}

pub fn epoll_pwait2(a: Args) -> SysResult {
    let mask = read_mask(a.u(4), a.u(5))?;
    let deadline = if a.u(3) == 0 { None } else { Some(rtos::time::now_ns().saturating_add(crate::time::read_timespec(a.u(3))?)) };
    do_wait(a.i(0), a.u(1), a.i(2), deadline, mask)
}

fn new_eventfd(init: u32, fl: u32) -> SysResult {
    if fl & !(eventfd::EFD_SEMAPHORE | eventfd::EFD_CLOEXEC | eventfd::EFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = File::new(EventFd::new(u64::from(init), fl & eventfd::EFD_SEMAPHORE != 0), flags::O_RDWR | (fl & flags::O_NONBLOCK), None, "anon_inode:[eventfd]".into());
    install(f, fl & eventfd::EFD_CLOEXEC != 0)
}

pub fn eventfd(a: Args) -> SysResult {
    new_eventfd(a.u32(0), 0)
}

pub fn eventfd2(a: Args) -> SysResult {
    new_eventfd(a.u32(0), a.u32(1))
}

/// `timerfd_create(clockid, flags)`.
pub fn timerfd_create(a: Args) -> SysResult {
    use crate::time::*;
    let (clock, fl) = (a.i(0), a.u32(1));
    if !matches!(clock, CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM) {
        return Err(Errno::EINVAL);
    }
    if fl & !(timerfd::TFD_CLOEXEC | timerfd::TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = File::new(TimerFd::new(clock), flags::O_RDWR | (fl & flags::O_NONBLOCK), None, "anon_inode:[timerfd]".into());
    install(f, fl & timerfd::TFD_CLOEXEC != 0)
}

fn timerfd_of(fd: i32) -> Result<Arc<File>, Errno> {
    let f = fd_file(fd)?;
    if f.ops.as_any().downcast_ref::<TimerFd>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

pub fn timerfd_settime(a: Args) -> SysResult {
    let fl = a.u32(1);
    if fl & !(timerfd::TFD_TIMER_ABSTIME | timerfd::TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = timerfd_of(a.i(0))?;
    let t = f.ops.as_any().downcast_ref::<TimerFd>().ok_or(Errno::EINVAL)?;
    let new: Itimerspec = uaccess::read(a.u(2))?;
    let old = t.set(fl, new)?;
    uaccess::write_opt(a.u(3), &old)?;
    Ok(0)
}

pub fn timerfd_gettime(a: Args) -> SysResult {
    let f = timerfd_of(a.i(0))?;
    let t = f.ops.as_any().downcast_ref::<TimerFd>().ok_or(Errno::EINVAL)?;
    uaccess::write(a.u(1), &t.get())?;
    Ok(0)
}

/// `signalfd4(fd, mask, sizemask, flags)`.
pub fn signalfd4(a: Args) -> SysResult {
    let (fd, fl) = (a.i(0), a.u32(3));
    if a.u(2) != 8 || fl & !(signalfd::SFD_CLOEXEC | signalfd::SFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask: SigSet = uaccess::read(a.u(1))?;
    if fd != -1 {
        let f = fd_file(fd)?;
        let s = f.ops.as_any().downcast_ref::<SignalFd>().ok_or(Errno::EINVAL)?;
        *s.mask.lock() = mask.blockable();
        return Ok(fd as usize);
    }
    let f = File::new(SignalFd::new(mask, current_process()), flags::O_RDWR | (fl & flags::O_NONBLOCK), None, "anon_inode:[signalfd]".into());
    install(f, fl & signalfd::SFD_CLOEXEC != 0)
}

pub fn signalfd(a: Args) -> SysResult {
    signalfd4(Args([a.u(0), a.u(1), a.u(2), 0, 0, 0]))
}

/// `pidfd_open(pid, flags)`.
pub fn pidfd_open(a: Args) -> SysResult {
    const PIDFD_NONBLOCK: u32 = flags::O_NONBLOCK;
    let (pid, fl) = (a.i(0), a.u32(1));
    if fl & !PIDFD_NONBLOCK != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    // A thread that is not a thread-group leader: ENOENT (Linux 6.9+, without
    // PIDFD_THREAD); no such task at all: ESRCH.
    let p = match crate::process::find_process(pid) {
        Some(p) => p,
        None if crate::process::find_task(pid).is_some() => return Err(Errno::ENOENT),
        None => return Err(Errno::ESRCH),
    };
    crate::fs::pidfd::open_for(&p, fl).map(|fd| fd as usize)
}

/// `pidfd_send_signal(pidfd, sig, info, flags)`.
pub fn pidfd_send_signal(a: Args) -> SysResult {
    if a.u32(3) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = fd_file(a.i(0))?;
    let pfd = f.ops.as_any().downcast_ref::<crate::fs::pidfd::PidFd>().ok_or(Errno::EBADF)?;
    let sig = a.i(1);
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    if pfd.process.is_zombie() {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        let me = current_process();
        let info = if a.u(2) != 0 {
            let mut i: crate::signal::SigInfo = uaccess::read(a.u(2))?;
            if i.code >= 0 && pfd.process.pid != me.pid {
                return Err(Errno::EPERM);
            }
            i.signo = sig;
            i
        } else {
            crate::signal::SigInfo::from_user(sig, crate::signal::SI_USER, me.pid)
        };
        crate::signal::send_to_process(&pfd.process, info);
    }
    Ok(0)
}

/// `select`/`pselect6` via the poll machinery: `nfds` bits in up to three fd sets.
fn do_select(nfds: i32, rd: u64, wr: u64, ex: u64, deadline: Option<u64>, mask: Option<SigSet>) -> SysResult {
    use crate::fs::file::events::*;
    if !(0..=1024 * 1024).contains(&nfds) {
        return Err(Errno::EINVAL);
    }
    let words = (nfds as usize).div_ceil(64);
    let read_set = |addr: u64| -> Result<Vec<u64>, Errno> { if addr == 0 { Ok(alloc::vec![0; words]) } else { uaccess::read_vec(addr, words) } };
    let (r, w, x) = (read_set(rd)?, read_set(wr)?, read_set(ex)?);
    let table = current_task().files();
    let mut fds: Vec<(i32, u32, Arc<File>)> = Vec::new();
    for fd in 0..nfds {
        let (wi, b) = ((fd / 64) as usize, 1u64 << (fd % 64));
        let mut ev = 0;
        if r[wi] & b != 0 {
            ev |= POLLIN | POLLRDNORM | POLLHUP | POLLERR;
        }
        if w[wi] & b != 0 {
            ev |= POLLOUT | POLLWRNORM | POLLERR;
        }
        if x[wi] & b != 0 {
            ev |= POLLPRI;
        }
        if ev != 0 {
            fds.push((fd, ev, table.get(fd)?));
        }
    }
    let task = current_task();
    if let Some(m) = mask {
        let mut s = task.sig.lock();
        s.saved_mask = Some(s.mask);
        s.mask = m.blockable();
        drop(s);
        crate::signal::recalc(&task);
    }
    let files: Vec<Arc<File>> = fds.iter().map(|f| f.2.clone()).collect();
    let mut out = (alloc::vec![0u64; words], alloc::vec![0u64; words], alloc::vec![0u64; words]);
    let mut count = 0;
    let mut compute = |out: &mut (Vec<u64>, Vec<u64>, Vec<u64>)| {
        *out = (alloc::vec![0u64; words], alloc::vec![0u64; words], alloc::vec![0u64; words]);
        count = 0;
        for (fd, ev, f) in &fds {
            let re = f.ops.poll(f);
            let (wi, b) = ((*fd / 64) as usize, 1u64 << (*fd % 64));
            if ev & POLLIN != 0 && re & (POLLIN | POLLRDNORM | POLLHUP | POLLERR) != 0 {
                out.0[wi] |= b;
                count += 1;
            }
            if ev & POLLOUT != 0 && re & (POLLOUT | POLLWRNORM | POLLERR) != 0 {
                out.1[wi] |= b;
                count += 1;
            }
            if ev & POLLPRI != 0 && re & POLLPRI != 0 {
                out.2[wi] |= b;
                count += 1;
            }
        }
        count
    };
    let res = crate::fs::poll::wait_any(&files, deadline, || compute(&mut out) > 0);
    let n = compute(&mut out);
    if mask.is_some() && res.is_ok() {
        let mut s = task.sig.lock();
        if let Some(m) = s.saved_mask.take() {
            s.mask = m;
        }
        drop(s);
        crate::signal::recalc(&task);
    }
    res.map_err(|_| Errno::ERESTARTNOHAND)?;
    for (addr, set) in [(rd, &out.0), (wr, &out.1), (ex, &out.2)] {
        if addr != 0 {
            uaccess::write_slice(addr, set)?;
        }
    }
    Ok(n)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Timeval {
    sec: i64,
    usec: i64,
}

pub fn select(a: Args) -> SysResult {
    let deadline = if a.u(4) == 0 {
        None
    } else {
        let tv: Timeval = uaccess::read(a.u(4))?;
        if tv.sec < 0 || !(0..1_000_000).contains(&tv.usec) {
            return Err(Errno::EINVAL);
        }
        Some(rtos::time::now_ns().saturating_add(tv.sec as u64 * 1_000_000_000 + tv.usec as u64 * 1000))
    };
    let r = do_select(a.i(0), a.u(1), a.u(2), a.u(3), deadline, None);
    if a.u(4) != 0 {
        // Linux updates the timeout with the time left.
        let left = deadline.map_or(0, |d| d.saturating_sub(rtos::time::now_ns()));
        let _ = uaccess::write(a.u(4), &Timeval { sec: (left / 1_000_000_000) as i64, usec: ((left / 1000) % 1_000_000) as i64 });
    }
    r
}

/// `pselect6(nfds, r, w, x, timespec, {sigmask*, size})`.
pub fn pselect6(a: Args) -> SysResult {
    let deadline = if a.u(4) == 0 { None } else { Some(rtos::time::now_ns().saturating_add(crate::time::read_timespec(a.u(4))?)) };
    let mask = if a.u(5) != 0 {
        let [p, size]: [u64; 2] = uaccess::read(a.u(5))?;
        read_mask(p, size)?
    } else {
        None
    };
    do_select(a.i(0), a.u(1), a.u(2), a.u(3), deadline, mask)
}
