//! Signal calls: actions, masks, pending sets, waiting for signals, sending them, the
//! alternate stack, and `rt_sigreturn`.

use alloc::sync::Arc;

use rtos::arch::x86_64::trap::TrapFrame;
use rtos::sync::WaitOptions;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::{self, current_process, current_task};
use crate::signal::*;
use crate::uaccess;

fn valid(sig: i32) -> bool {
    (1..=64).contains(&sig)
}

/// `rt_sigaction(sig, act, oldact, sigsetsize)`.
pub fn rt_sigaction(a: Args) -> SysResult {
    let sig = a.i(0);
    if a.u(3) != 8 || !valid(sig) {
        return Err(Errno::EINVAL);
    }
    let new = if a.u(1) != 0 { Some(uaccess::read::<SigAction>(a.u(1))?) } else { None };
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let task = current_task();
    let h = task.sighand();
    let old = h.get(sig);
    if let Some(mut n) = new {
        n.mask = n.mask.blockable();
        // Unknown flag bits are cleared (Linux 5.11+), so programs can probe support.
        n.flags &= SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_RESTORER | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND;
        h.actions.lock()[(sig - 1) as usize] = n;
        // Setting SIG_IGN (or default-ignore) discards the pending signal everywhere.
        if n.handler == SIG_IGN || (n.handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore) {
            let p = task.process.clone();
            p.shared_pending.lock().discard(sig);
            for t in p.tasks() {
                t.sig.lock().pending.discard(sig);
            }
        }
    }
    if a.u(2) != 0 {
        uaccess::write(a.u(2), &old)?;
    }
    Ok(0)
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)`.
pub fn rt_sigprocmask(a: Args) -> SysResult {
    const SIG_BLOCK: i32 = 0;
    const SIG_UNBLOCK: i32 = 1;
    const SIG_SETMASK: i32 = 2;
    if a.u(3) != 8 {
        return Err(Errno::EINVAL);
    }
    let task = current_task();
    let new = if a.u(1) != 0 { Some(uaccess::read::<SigSet>(a.u(1))?) } else { None };
    let old = task.sig.lock().mask;
    if let Some(n) = new {
        let m = match a.i(0) {
            SIG_BLOCK => SigSet(old.0 | n.0),
            SIG_UNBLOCK => SigSet(old.0 & !n.0),
            SIG_SETMASK => n,
            _ => return Err(Errno::EINVAL),
        };
        task.sig.lock().mask = m.blockable();
        recalc(&task);
    }
    if a.u(2) != 0 {
        uaccess::write(a.u(2), &old)?;
    }
    Ok(0)
}

pub fn rt_sigpending(a: Args) -> SysResult {
    if a.u(1) > 8 {
        return Err(Errno::EINVAL);
    }
    let task = current_task();
    let set = SigSet(task.sig.lock().pending.set.0 | task.process.shared_pending.lock().set.0);
    let set = SigSet(set.0 & task.sig.lock().mask.0);
    uaccess::write_bytes(a.u(0), &set.0.to_le_bytes()[..a.us(1)])?;
    Ok(0)
}

pub fn rt_sigreturn(frame: &mut TrapFrame) -> SysResult {
    let task = current_task();
    // The handler's `ret` popped the return address: the ucontext starts at rsp.
    match frame::restore(frame) {
        Ok((mask, stack)) => {
            {
                let mut s = task.sig.lock();
                s.mask = mask.blockable();
                if stack.flags & SS_DISABLE != 0 || stack.size >= 2048 {
                    s.altstack = AltStack { sp: stack.sp, size: stack.size, flags: stack.flags & (SS_DISABLE | SS_AUTODISARM) };
                }
            }
            recalc(&task);
            Ok(frame.rax as usize)
        }
        Err(_) => {
            deliver::start_group_exit(&task.process, crate::process::ExitStatus::Signaled(SIGSEGV, false));
            Ok(0)
        }
    }
}

/// `rt_sigsuspend(mask, size)`: waits for a signal with a temporary mask.
pub fn rt_sigsuspend(a: Args) -> SysResult {
    if a.u(1) != 8 {
        return Err(Errno::EINVAL);
    }
    let m: SigSet = uaccess::read(a.u(0))?;
    let task = current_task();
    {
        let mut s = task.sig.lock();
        s.saved_mask = Some(s.mask);
        s.mask = m.blockable();
    }
    recalc(&task);
    let wq = rtos::sync::WaitQueue::new();
    let _ = wq.wait(WaitOptions::INTERRUPTIBLE, || None::<()>);
    Err(Errno::ERESTARTNOHAND)
}

pub fn pause(_: Args) -> SysResult {
    let wq = rtos::sync::WaitQueue::new();
    let _ = wq.wait(WaitOptions::INTERRUPTIBLE, || None::<()>);
    Err(Errno::ERESTARTNOHAND)
}

/// `rt_sigtimedwait(set, info, timeout, size)`.
pub fn rt_sigtimedwait(a: Args) -> SysResult {
    if a.u(3) != 8 {
        return Err(Errno::EINVAL);
    }
    let set: SigSet = uaccess::read(a.u(0))?;
    let set = set.blockable();
    let deadline = if a.u(2) != 0 { Some(rtos::time::now_ns().saturating_add(crate::time::read_timespec(a.u(2))?)) } else { None };
    let task = current_task();
    let take = || {
        let i = task.sig.lock().pending.take(SigSet(!set.0));
        i.or_else(|| task.process.shared_pending.lock().take(SigSet(!set.0)))
    };
    // While waiting, the signals in `set` are unblocked only for this wait.
    let me = rtos::sched::core::current_arc();
    let wq = rtos::sync::WaitQueue::new();
    let r = wq.wait(WaitOptions { interruptible: false, deadline_ns: deadline }, || {
        if let Some(i) = take() {
            return Some(Ok(i));
        }
        if me.interrupt_pending() {
            // Something else (not in `set`) is deliverable.
            let other = {
                let s = task.sig.lock();
                let sh = task.process.shared_pending.lock().set;
                (s.pending.set.0 | sh.0) & !s.mask.0 & !set.0 != 0 || task.exiting.load(core::sync::atomic::Ordering::Acquire)
            };
            if other {
                return Some(Err(Errno::EINTR));
            }
        }
        None
    });
    recalc(&task);
    match r {
        Ok(Ok(info)) => {
            uaccess::write_opt(a.u(1), &info)?;
            Ok(info.signo as usize)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Errno::EAGAIN),
    }
}

/// `sigaltstack(ss, old_ss)`.
pub fn sigaltstack(a: Args) -> SysResult {
    let task = current_task();
    let frame_sp = rtos::sched::core::current().user_frame().rsp;
    let cur = task.sig.lock().altstack;
    let on = frame::on_altstack(&cur, frame_sp);
    if a.u(1) != 0 {
        let old = frame::StackT { sp: cur.sp, flags: if on { SS_ONSTACK } else { cur.flags }, _pad: 0, size: cur.size };
        uaccess::write(a.u(1), &old)?;
    }
    if a.u(0) != 0 {
        let n: frame::StackT = uaccess::read(a.u(0))?;
        if on {
            return Err(Errno::EPERM);
        }
        let mode = n.flags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        let new = if mode == SS_DISABLE {
            AltStack { sp: 0, size: 0, flags: SS_DISABLE }
        } else {
            if n.size < 2048 {
                return Err(Errno::ENOMEM);
            }
            AltStack { sp: n.sp, size: n.size, flags: n.flags & SS_AUTODISARM }
        };
        task.sig.lock().altstack = new;
    }
    Ok(0)
}

/// `kill(pid, sig)`.
pub fn kill(a: Args) -> SysResult {
    let (pid, sig) = (a.i(0), a.i(1));
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let me = current_process();
    let info = SigInfo::from_user(sig, SI_USER, me.pid);
    let send = |p: &Arc<process::Process>| {
        if sig != 0 {
            send_to_process(p, info);
        }
    };
    match pid {
        p if p > 0 => {
            let t = process::find_process(p).ok_or(Errno::ESRCH)?;
            send(&t);
            Ok(0)
        }
        0 | -1 => {
            let targets: alloc::vec::Vec<_> = if pid == 0 {
                process::group_members(me.pgid())
            } else {
                process::all_processes().into_iter().filter(|p| p.pid != 1 && p.pid != me.pid && !p.is_zombie()).collect()
            };
            if targets.is_empty() {
                return Err(Errno::ESRCH);
            }
            targets.iter().for_each(send);
            Ok(0)
        }
        p => {
            if p == i32::MIN {
                return Err(Errno::ESRCH);
            }
            let targets = process::group_members(-p);
            if targets.is_empty() {
                return Err(Errno::ESRCH);
            }
            targets.iter().for_each(send);
            Ok(0)
        }
    }
}

fn signal_thread(tgid: Option<i32>, tid: i32, sig: i32, info: SigInfo) -> SysResult {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) || !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let t = process::find_task(tid).ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != t.process.pid) || t.process.is_zombie() {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        if sig == SIGKILL {
            send_to_process(&t.process, info);
        } else {
            send_to_task(&t, info);
        }
    }
    Ok(0)
}

pub fn tgkill(a: Args) -> SysResult {
    let me = current_process();
    signal_thread(Some(a.i(0)), a.i(1), a.i(2), SigInfo::from_user(a.i(2), SI_TKILL, me.pid))
}

pub fn tkill(a: Args) -> SysResult {
    let me = current_process();
    signal_thread(None, a.i(0), a.i(1), SigInfo::from_user(a.i(1), SI_TKILL, me.pid))
}

/// `rt_sigqueueinfo(tgid, sig, info)`.
pub fn rt_sigqueueinfo(a: Args) -> SysResult {
    let mut info: SigInfo = uaccess::read(a.u(2))?;
    if info.code >= 0 || info.code == SI_TKILL {
        return Err(Errno::EPERM);
    }
    let sig = a.i(1);
    if !valid(sig) {
        return Err(Errno::EINVAL);
    }
    info.signo = sig;
    let p = process::find_process(a.i(0)).ok_or(Errno::ESRCH)?;
    send_to_process(&p, info);
    Ok(0)
}

/// `rt_tgsigqueueinfo(tgid, tid, sig, info)`.
pub fn rt_tgsigqueueinfo(a: Args) -> SysResult {
    let mut info: SigInfo = uaccess::read(a.u(3))?;
    if info.code >= 0 || info.code == SI_TKILL {
        return Err(Errno::EPERM);
    }
    info.signo = a.i(2);
    signal_thread(Some(a.i(0)), a.i(1), a.i(2), info)
}
