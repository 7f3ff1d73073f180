//! `wait4` and `waitid`: reaping children and reporting job-control stops/continues.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use rtos::sync::WaitOptions;

use super::{current_process, ExitStatus, JobEvent, Pid, Process};
use crate::errno::{Errno, SysResult};
use crate::signal::{self, SigInfo};

pub const WNOHANG: u32 = 1;
pub const WUNTRACED: u32 = 2;
pub const WSTOPPED: u32 = 2;
pub const WEXITED: u32 = 4;
pub const WCONTINUED: u32 = 8;
pub const WNOWAIT: u32 = 0x0100_0000;
pub const WNOTHREAD: u32 = 0x2000_0000;
pub const WALL: u32 = 0x4000_0000;
pub const WCLONE: u32 = 0x8000_0000;

/// Which children a wait selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Any,
    Pid(Pid),
    Group(Pid),
}

/// What a successful wait found.
#[derive(Clone, Copy, Debug)]
pub struct Found {
    pub pid: Pid,
    /// `wait` status word.
    pub status: i32,
    /// siginfo code and value for `waitid`.
    pub code: i32,
    pub value: i32,
    pub cpu_ns: u64,
    pub maxrss_pages: u64,
}

fn matches(c: &Process, which: Which) -> bool {
    match which {
        Which::Any => true,
        Which::Pid(p) => c.pid == p,
        Which::Group(g) => c.pgid() == g,
    }
}

/// Linux's `eligible_child`: a "clone" child (exit signal other than SIGCHLD) is waited
/// for only with `__WCLONE`, a normal child only without it; `__WALL` waits for both.
fn eligible(c: &Process, options: u32) -> bool {
    if options & WALL != 0 {
        return true;
    }
    let clone_child = c.state.lock().exit_signal != signal::SIGCHLD;
    clone_child == (options & WCLONE != 0)
}

/// Waits for a child matching `which`; `None` with WNOHANG when nothing is ready.
pub fn wait_child(which: Which, options: u32) -> Result<Option<Found>, Errno> {
    let me = current_process();
    let want_exit = options & WEXITED != 0;
    let want_stop = options & WSTOPPED != 0;
    let want_cont = options & WCONTINUED != 0;
    let res = me.child_wait.wait(WaitOptions::INTERRUPTIBLE, || {
        let mut s = me.state.lock();
        let candidates: alloc::vec::Vec<Arc<Process>> = s.children.iter().filter(|c| matches(c, which) && eligible(c, options)).cloned().collect();
        if candidates.is_empty() {
            return Some(Err(Errno::ECHILD));
        }
        for c in &candidates {
            let mut cs = c.state.lock();
            if want_exit {
                if let Some(st) = cs.exit {
                    let (code, value) = match st {
                        ExitStatus::Exited(x) => (signal::CLD_EXITED, x),
                        ExitStatus::Signaled(sig, true) => (signal::CLD_DUMPED, sig),
                        ExitStatus::Signaled(sig, false) => (signal::CLD_KILLED, sig),
                    };
                    drop(cs);
                    let cpu_ns = c.cpu_time_ns() + c.children_cpu_ns.load(Ordering::Relaxed);
                    let maxrss_pages = c.maxrss_pages.load(Ordering::Relaxed).max(c.children_maxrss_pages.load(Ordering::Relaxed));
                    let found = Found { pid: c.pid, status: st.wait_status(), code, value, cpu_ns, maxrss_pages };
                    if options & WNOWAIT == 0 {
                        s.children.retain(|x| !Arc::ptr_eq(x, c));
                        me.children_cpu_ns.fetch_add(cpu_ns, Ordering::Relaxed);
                        me.children_maxrss_pages.fetch_max(maxrss_pages, Ordering::Relaxed);
                    }
                    return Some(Ok(Some(found)));
                }
            }
            match cs.job_event {
                Some(JobEvent::Stopped(sig)) if want_stop => {
                    if options & WNOWAIT == 0 {
                        cs.job_event = None;
                    }
                    return Some(Ok(Some(Found { pid: c.pid, status: (sig << 8) | 0x7f, code: signal::CLD_STOPPED, value: sig, cpu_ns: 0, maxrss_pages: 0 })));
                }
                Some(JobEvent::Continued) if want_cont => {
                    if options & WNOWAIT == 0 {
                        cs.job_event = None;
                    }
                    return Some(Ok(Some(Found { pid: c.pid, status: 0xffff, code: signal::CLD_CONTINUED, value: signal::SIGCONT, cpu_ns: 0, maxrss_pages: 0 })));
                }
                _ => {}
            }
        }
        if options & WNOHANG != 0 {
            return Some(Ok(None));
        }
        None
    });
    match res {
        Ok(r) => r,
        Err(_) => Err(Errno::ERESTARTSYS),
    }
}

/// `wait4(pid, status, options, rusage)`.
pub fn wait4(pid: i32, status_ptr: u64, options: u32, rusage: u64) -> SysResult {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    let which = match pid {
        // -INT_MIN does not exist (Linux: ESRCH).
        i32::MIN => return Err(Errno::ESRCH),
        -1 => Which::Any,
        0 => Which::Group(current_process().pgid()),
        p if p < -1 => Which::Group(-p),
        p => Which::Pid(p),
    };
    match wait_child(which, (options & !WUNTRACED) | WEXITED | if options & WUNTRACED != 0 { WSTOPPED } else { 0 })? {
        None => Ok(0),
        Some(f) => {
            crate::uaccess::write_opt(status_ptr, &f.status)?;
            if rusage != 0 {
                crate::time::write_rusage(rusage, f.cpu_ns, f.maxrss_pages)?;
            }
            Ok(f.pid as usize)
        }
    }
}

/// `waitid(idtype, id, infop, options, rusage)`.
pub fn waitid(idtype: u32, id: i64, infop: u64, options: u32, rusage: u64) -> SysResult {
    const P_ALL: u32 = 0;
    const P_PID: u32 = 1;
    const P_PGID: u32 = 2;
    const P_PIDFD: u32 = 3;
    if options & !(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    if options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID if id > 0 && id <= i32::MAX as i64 => Which::Pid(id as Pid),
        P_PGID if id == 0 => Which::Group(current_process().pgid()),
        P_PGID if id > 0 && id <= i32::MAX as i64 => Which::Group(id as Pid),
        P_PIDFD => Which::Pid(crate::fs::pidfd::pid_of_fd(id as i32)?),
        _ => return Err(Errno::EINVAL),
    };
    let found = wait_child(which, options)?;
    if infop != 0 {
        let info = match found {
            Some(f) => {
                let mut i = SigInfo::new(signal::SIGCHLD, f.code);
                i.fields[0] = f.pid as u32 as u64;
                i.fields[1] = f.value as u32 as u64;
                i
            }
            None => SigInfo::new(0, 0),
        };
        crate::uaccess::write(infop, &info)?;
    }
    if rusage != 0 {
        crate::time::write_rusage(rusage, found.map_or(0, |f| f.cpu_ns), found.map_or(0, |f| f.maxrss_pages))?;
    }
    Ok(0)
}
