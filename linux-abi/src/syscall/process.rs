//! Process and thread calls: ids, sessions, clone/fork/vfork/exec/exit/wait, prctl,
//! arch_prctl, resource limits, robust lists, futex.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use rtos::arch::x86_64::trap::TrapFrame;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::fork::{self, CloneArgs};
use crate::process::limits::*;
use crate::process::{self as proc, current_process, current_task};
use crate::uaccess;

pub fn getpid(_: Args) -> SysResult {
    Ok(current_process().pid as usize)
}

pub fn gettid(_: Args) -> SysResult {
    Ok(current_task().tid() as usize)
}

pub fn getppid(_: Args) -> SysResult {
    Ok(current_process().ppid() as usize)
}

pub fn getpgrp(_: Args) -> SysResult {
    Ok(current_process().pgid() as usize)
}

fn target_process(pid: i32) -> Result<Arc<proc::Process>, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(current_process());
    }
    proc::find_process(pid).filter(|p| !p.is_zombie() || p.pid == pid).ok_or(Errno::ESRCH)
}

pub fn getpgid(a: Args) -> SysResult {
    Ok(target_process(a.i(0))?.pgid() as usize)
}

pub fn getsid(a: Args) -> SysResult {
    Ok(target_process(a.i(0))?.sid() as usize)
}

pub fn setsid(_: Args) -> SysResult {
    let p = current_process();
    if proc::group_exists(p.pid) {
        return Err(Errno::EPERM);
    }
    let mut s = p.state.lock();
    s.sid = p.pid;
    s.pgid = p.pid;
    Ok(p.pid as usize)
}

/// `setpgid(pid, pgid)` with Linux's rules.
pub fn setpgid(a: Args) -> SysResult {
    let me = current_process();
    let (pid, pgid) = (a.i(0), a.i(1));
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let target = if pid == 0 {
        me.clone()
    } else {
        match proc::find_process(pid) {
            Some(p) => p,
            // A thread id that is not a process id names a thread, not a group leader.
            None if proc::find_task(pid).is_some() => return Err(Errno::EINVAL),
            None => return Err(Errno::ESRCH),
        }
    };
    let is_self = Arc::ptr_eq(&target, &me);
    let is_child = target.state.lock().parent.upgrade().is_some_and(|pp| Arc::ptr_eq(&pp, &me));
    if !is_self && !is_child {
        return Err(Errno::ESRCH);
    }
    if is_child {
        if target.sid() != me.sid() {
            return Err(Errno::EPERM);
        }
        if target.did_exec.load(Ordering::Relaxed) {
            return Err(Errno::EACCES);
        }
    }
    if target.sid() == target.pid {
        return Err(Errno::EPERM); // session leader
    }
    let pgid = if pgid == 0 { target.pid } else { pgid };
    if pgid != target.pid && !proc::group_members_incl_zombies(pgid).iter().any(|m| m.sid() == me.sid()) {
        return Err(Errno::EPERM);
    }
    target.state.lock().pgid = pgid;
    Ok(0)
}

/// The single-user model: every id is 0 (root); changing to 0 succeeds, anything else
/// is refused as an unprivileged change would be... but root may set any id; Axle keeps
/// one user, so only 0 or -1 (unchanged) are accepted.
pub fn set_ids(a: Args) -> SysResult {
    for i in 0..3 {
        let v = a.u32(i);
        if v != 0 && v != u32::MAX {
            return Err(Errno::EINVAL);
        }
    }
    Ok(0)
}

pub fn getres_ids(a: Args) -> SysResult {
    for i in 0..3 {
        uaccess::write(a.u(i), &0u32)?;
    }
    Ok(0)
}

pub fn getgroups(a: Args) -> SysResult {
    if a.i(0) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub fn setgroups(a: Args) -> SysResult {
    if a.us(0) > 65536 {
        return Err(Errno::EINVAL);
    }
    if a.us(0) > 0 {
        let g: alloc::vec::Vec<u32> = uaccess::read_vec(a.u(1), a.us(0))?;
        if g.iter().any(|&x| x != 0) {
            return Err(Errno::EINVAL);
        }
    }
    Ok(0)
}

pub fn umask(a: Args) -> SysResult {
    let fs = current_task().fs();
    let mut f = fs.lock();
    let old = f.umask;
    f.umask = a.u32(0) & 0o777;
    Ok(old as usize)
}

pub fn clone(a: Args, frame: &mut TrapFrame) -> SysResult {
    // x86_64 order: flags, newsp, parent_tid, child_tid, tls.
    let flags = a.u(0);
    let ca = CloneArgs {
        flags: flags & !fork::CSIGNAL,
        exit_signal: flags & fork::CSIGNAL,
        stack: a.u(1),
        parent_tid: a.u(2),
        child_tid: a.u(3),
        tls: a.u(4),
        pidfd: a.u(2),
    };
    if ca.flags & fork::CLONE_PIDFD != 0 && ca.flags & fork::CLONE_PARENT_SETTID != 0 {
        return Err(Errno::EINVAL);
    }
    fork::do_clone(frame, ca)
}

/// `clone3(struct clone_args *, size)`.
pub fn clone3(a: Args, frame: &mut TrapFrame) -> SysResult {
    let size = a.us(1);
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    if size < 64 {
        return Err(Errno::EINVAL);
    }
    let mut raw = [0u64; 11];
    let n = size.min(88) / 8;
    let v: alloc::vec::Vec<u64> = uaccess::read_vec(a.u(0), n)?;
    raw[..n].copy_from_slice(&v);
    if size > 88 {
        // Unknown trailing fields must be zero.
        let extra: alloc::vec::Vec<u8> = uaccess::read_vec(a.u(0) + 88, size - 88)?;
        if extra.iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
    }
    let [flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, _cgroup] = raw;
    // clone3 takes no CSIGNAL bits and no CLONE_DETACHED; unknown flags are invalid; a
    // thread has no exit signal (Linux `clone3_args_valid`).
    let known = fork::CLONE_CLEAR_SIGHAND | fork::CLONE_INTO_CGROUP | 0xffff_ff00;
    if flags & fork::CSIGNAL != 0 || flags & fork::CLONE_DETACHED != 0 || flags & !known != 0 || exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    if flags & (fork::CLONE_THREAD | fork::CLONE_PARENT) != 0 && exit_signal != 0 {
        return Err(Errno::EINVAL);
    }
    if set_tid != 0 || set_tid_size != 0 {
        return Err(Errno::EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let ca = CloneArgs { flags, exit_signal, stack: if stack != 0 { stack + stack_size } else { 0 }, parent_tid, child_tid, tls, pidfd };
    fork::do_clone(frame, ca)
}

pub fn fork(frame: &mut TrapFrame) -> SysResult {
    fork::do_clone(frame, CloneArgs { exit_signal: crate::signal::SIGCHLD as u64, ..Default::default() })
}

pub fn vfork(frame: &mut TrapFrame) -> SysResult {
    fork::do_clone(frame, CloneArgs { flags: fork::CLONE_VM | fork::CLONE_VFORK, exit_signal: crate::signal::SIGCHLD as u64, ..Default::default() })
}

pub fn execve(a: Args, frame: &mut TrapFrame) -> SysResult {
    let path = uaccess::read_path(a.u(0))?;
    let argv = uaccess::read_string_array(a.u(1))?;
    let envp = uaccess::read_string_array(a.u(2))?;
    crate::process::exec::execve(&path, argv, envp, frame)
}

/// `execveat(dirfd, path, argv, envp, flags)`.
pub fn execveat(a: Args, frame: &mut TrapFrame) -> SysResult {
    const AT_EMPTY_PATH: u32 = 0x1000;
    const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
    let flags = a.u32(4);
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = uaccess::read_cstr_bytes(a.u(1), uaccess::PATH_MAX - 1)?;
    let path = alloc::string::String::from_utf8(path).map_err(|_| Errno::EINVAL)?;
    let full = crate::syscall::fs::path_for_at(a.i(0), &path, flags & AT_EMPTY_PATH != 0)?;
    let argv = uaccess::read_string_array(a.u(2))?;
    let envp = uaccess::read_string_array(a.u(3))?;
    crate::process::exec::execve(&full, argv, envp, frame)
}

pub fn exit(a: Args) -> SysResult {
    crate::process::exit::exit_thread(a.i(0));
    Ok(0)
}

pub fn exit_group(a: Args) -> SysResult {
    crate::process::exit::exit_group(a.i(0));
    Ok(0)
}

pub fn wait4(a: Args) -> SysResult {
    crate::process::wait::wait4(a.i(0), a.u(1), a.u32(2), a.u(3))
}

pub fn waitid(a: Args) -> SysResult {
    crate::process::wait::waitid(a.u32(0), a.u(1) as i32 as i64, a.u(2), a.u32(3), a.u(4))
}

pub fn set_tid_address(a: Args) -> SysResult {
    let t = current_task();
    t.clear_child_tid.store(a.u(0), Ordering::Relaxed);
    Ok(t.tid() as usize)
}

pub fn set_robust_list(a: Args) -> SysResult {
    if a.u(1) != 24 {
        return Err(Errno::EINVAL);
    }
    let t = current_task();
    t.robust_list.store(a.u(0), Ordering::Relaxed);
    t.robust_len.store(a.u(1), Ordering::Relaxed);
    Ok(0)
}

pub fn get_robust_list(a: Args) -> SysResult {
    let t = if a.i(0) == 0 { current_task() } else { proc::find_task(a.i(0)).ok_or(Errno::ESRCH)? };
    uaccess::write(a.u(1), &t.robust_list.load(Ordering::Relaxed))?;
    uaccess::write(a.u(2), &t.robust_len.load(Ordering::Relaxed))?;
    Ok(0)
}

/// `arch_prctl(code, addr)`.
pub fn arch_prctl(a: Args) -> SysResult {
    const ARCH_SET_GS: u32 = 0x1001;
    const ARCH_SET_FS: u32 = 0x1002;
    const ARCH_GET_FS: u32 = 0x1003;
    const ARCH_GET_GS: u32 = 0x1004;
    const ARCH_GET_CPUID: u32 = 0x1011;
    const ARCH_SET_CPUID: u32 = 0x1012;
    let me = rtos::sched::core::current_arc();
    match a.u32(0) {
        ARCH_SET_FS => {
            if a.u(1) >= rtos::mm::layout::USER_END {
                return Err(Errno::EPERM);
            }
            me.set_fs_base(a.u(1));
            Ok(0)
        }
        ARCH_GET_FS => {
            uaccess::write(a.u(1), &me.fs_base())?;
            Ok(0)
        }
        ARCH_GET_GS => {
            uaccess::write(a.u(1), &0u64)?;
            Ok(0)
        }
        // GS is the kernel's per-CPU pointer; user GS bases are not supported.
        ARCH_SET_GS => Err(Errno::EPERM),
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(Errno::ENODEV),
        _ => Err(Errno::EINVAL),
    }
}

/// `prctl(option, ...)`.
pub fn prctl(a: Args) -> SysResult {
    const PR_SET_PDEATHSIG: i32 = 1;
    const PR_GET_PDEATHSIG: i32 = 2;
    const PR_GET_DUMPABLE: i32 = 3;
    const PR_SET_DUMPABLE: i32 = 4;
    const PR_SET_NAME: i32 = 15;
    const PR_GET_NAME: i32 = 16;
    const PR_SET_TIMERSLACK: i32 = 29;
    const PR_GET_TIMERSLACK: i32 = 30;
    const PR_SET_CHILD_SUBREAPER: i32 = 36;
    const PR_GET_CHILD_SUBREAPER: i32 = 37;
    const PR_SET_NO_NEW_PRIVS: i32 = 38;
    const PR_GET_NO_NEW_PRIVS: i32 = 39;
    const PR_CAPBSET_READ: i32 = 23;
    let p = current_process();
    match a.i(0) {
        PR_SET_PDEATHSIG => {
            let s = a.i(1);
            if !(0..=64).contains(&s) {
                return Err(Errno::EINVAL);
            }
            p.pdeath_signal.store(s, Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            uaccess::write(a.u(1), &p.pdeath_signal.load(Ordering::Relaxed))?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(p.dumpable.load(Ordering::Relaxed) as usize),
        PR_SET_DUMPABLE => {
            if a.u(1) > 1 {
                return Err(Errno::EINVAL);
            }
            p.dumpable.store(a.u32(1), Ordering::Relaxed);
            Ok(0)
        }
        PR_SET_NAME => {
            let mut buf = [0u8; 16];
            // Copy up to 16 bytes; the name ends at the first NUL.
            for (i, b) in buf.iter_mut().enumerate() {
                let mut one = [0u8];
                if uaccess::read_bytes(a.u(1) + i as u64, &mut one).is_err() {
                    if i == 0 {
                        return Err(Errno::EFAULT);
                    }
                    break;
                }
                *b = one[0];
                if one[0] == 0 {
                    break;
                }
            }
            let end = buf.iter().position(|&b| b == 0).unwrap_or(15).min(15);
            let me = current_task();
            me.set_comm(&buf[..end]);
            crate::profile::place(&me);
            Ok(0)
        }
        PR_GET_NAME => {
            let mut buf = [0u8; 16];
            let c = current_task().comm.lock().clone();
            buf[..c.len()].copy_from_slice(c.as_bytes());
            uaccess::write_bytes(a.u(1), &buf)?;
            Ok(0)
        }
        PR_SET_TIMERSLACK => {
            let v = if a.u(1) == 0 { 50_000 } else { a.u(1) };
            p.timer_slack_ns.store(v, Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_TIMERSLACK => Ok(p.timer_slack_ns.load(Ordering::Relaxed) as usize),
        PR_SET_CHILD_SUBREAPER => {
            p.subreaper.store(a.u(1) != 0, Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            uaccess::write(a.u(1), &i32::from(p.subreaper.load(Ordering::Relaxed)))?;
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => {
            if a.u(1) != 1 || a.u(2) != 0 || a.u(3) != 0 || a.u(4) != 0 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => Ok(0),
        PR_CAPBSET_READ => {
            if a.u(1) > 40 {
                return Err(Errno::EINVAL);
            }
            Ok(1)
        }
        _ => Err(Errno::EINVAL),
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Rlim {
    cur: u64,
    max: u64,
}

fn check_resource(r: u32) -> Result<usize, Errno> {
    let r = r as usize;
    if r >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    Ok(r)
}

fn apply_limit(p: &proc::Process, r: usize, new: (u64, u64)) -> Result<(), Errno> {
    if new.0 > new.1 {
        return Err(Errno::EINVAL);
    }
    if r == RLIMIT_NOFILE && new.1 > NR_OPEN {
        return Err(Errno::EPERM);
    }
    p.rlimits.lock().0[r] = new;
    Ok(())
}

pub fn getrlimit(a: Args) -> SysResult {
    let r = check_resource(a.u32(0))?;
    let (cur, max) = current_process().rlimits.lock().0[r];
    uaccess::write(a.u(1), &Rlim { cur, max })?;
    Ok(0)
}

pub fn setrlimit(a: Args) -> SysResult {
    let r = check_resource(a.u32(0))?;
    let l: Rlim = uaccess::read(a.u(1))?;
    apply_limit(&current_process(), r, (l.cur, l.max))?;
    Ok(0)
}

/// `prlimit64(pid, resource, new, old)`.
pub fn prlimit64(a: Args) -> SysResult {
    let r = check_resource(a.u32(1))?;
    let p = if a.i(0) == 0 { current_process() } else { proc::find_process(a.i(0)).ok_or(Errno::ESRCH)? };
    let new = if a.u(2) != 0 { Some(uaccess::read::<Rlim>(a.u(2))?) } else { None };
    let (cur, max) = p.rlimits.lock().0[r];
    if let Some(n) = new {
        apply_limit(&p, r, (n.cur, n.max))?;
    }
    if a.u(3) != 0 {
        uaccess::write(a.u(3), &Rlim { cur, max })?;
    }
    Ok(0)
}

/// `futex(uaddr, op, val, timeout/val2, uaddr2, val3)`.
pub fn futex(a: Args) -> SysResult {
    use crate::futex::*;
    let op = a.u32(1);
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let mm = current_process().mm();
    let (uaddr, val) = (a.u(0), a.u32(2));
    if realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI && cmd != FUTEX_LOCK_PI2 {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { FUTEX_BITSET_MATCH_ANY } else { a.u32(5) };
            let deadline = if a.u(3) == 0 {
                None
            } else {
                let ts = crate::time::read_timespec(a.u(3))?;
                Some(if cmd == FUTEX_WAIT {
                    // Relative, measured on CLOCK_MONOTONIC.
                    rtos::time::now_ns().saturating_add(ts)
                } else if realtime {
                    crate::time::realtime_to_monotonic(ts)
                } else {
                    ts
                })
            };
            let r = crate::futex::wait(&mm, uaddr, val, bitset, deadline, private);
            // A timed-out wait is not restarted; an interrupted one restarts only without a handler.
            match r {
                Err(Errno::ERESTARTSYS) if deadline.is_some() => Err(Errno::ERESTARTNOHAND),
                other => other,
            }
        }
        FUTEX_WAKE => wake(&mm, uaddr, a.us(2).min(i32::MAX as usize), FUTEX_BITSET_MATCH_ANY, private),
        FUTEX_WAKE_BITSET => wake(&mm, uaddr, a.us(2).min(i32::MAX as usize), a.u32(5), private),
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE if (val as i32) < 0 || (a.u(3) as u32 as i32) < 0 => Err(Errno::EINVAL),
        FUTEX_REQUEUE => requeue(&mm, uaddr, a.u(4), val as usize, a.u(3) as u32 as usize, None, private),
        FUTEX_CMP_REQUEUE => {
            requeue(&mm, uaddr, a.u(4), val as usize, a.u(3) as u32 as usize, Some(a.u32(5)), private)
        }
        FUTEX_WAKE_OP => wake_op(&mm, uaddr, a.u(4), val as usize, a.u(3) as u32 as usize, a.u32(5), private),
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            // LOCK_PI's timeout is absolute CLOCK_REALTIME; LOCK_PI2's absolute
            // CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME.
            let deadline = if cmd == FUTEX_TRYLOCK_PI || a.u(3) == 0 {
                None
            } else {
                let ts = crate::time::read_timespec(a.u(3))?;
                Some(if cmd == FUTEX_LOCK_PI || realtime { crate::time::realtime_to_monotonic(ts) } else { ts })
            };
            crate::futex_pi::lock(&mm, uaddr, deadline, cmd == FUTEX_TRYLOCK_PI, private)
        }
        FUTEX_UNLOCK_PI => crate::futex_pi::unlock(&mm, uaddr, private),
        FUTEX_WAIT_REQUEUE_PI => {
            let deadline = if a.u(3) == 0 {
                None
            } else {
                let ts = crate::time::read_timespec(a.u(3))?;
                Some(if realtime { crate::time::realtime_to_monotonic(ts) } else { ts })
            };
            match wait_requeue_pi(&mm, uaddr, val, deadline, a.u(4), private) {
                Err(Errno::ERESTARTSYS) => Err(Errno::ERESTARTNOINTR),
                other => other,
            }
        }
        FUTEX_CMP_REQUEUE_PI if (a.u(3) as u32 as i32) < 0 => Err(Errno::EINVAL),
        FUTEX_CMP_REQUEUE_PI => cmp_requeue_pi(&mm, uaddr, a.u(4), val as usize, a.u(3) as u32 as usize, a.u32(5), private),
        _ => Err(Errno::ENOSYS),
    }
}
