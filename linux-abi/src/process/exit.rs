//! Ending threads and processes: robust-futex cleanup, `CHILD_CLEARTID`, releasing the
//! address space and descriptors, re-parenting orphans to init, zombies and SIGCHLD.
//! When pid 1 ends, the machine reports its status and stops.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::{ExitStatus, Process, Task};
use crate::fs::fdtable::FdTable;
use crate::signal::{self, SigInfo};

// Ending a thread never unwinds through the personality's stack frames (they hold
// references that would leak): the cleanup below runs and returns, and the kernel core ends
// the thread at the user boundary (`rtos::user`), where no such frames are left.

/// `exit(code)`: ends the calling thread; the process ends with `code` if it was the last.
pub fn exit_thread(code: i32) {
    let task = super::current_task();
    finish(&task, ExitStatus::Exited(code & 0xff));
}

/// `exit_group(code)`: ends every thread of the process.
pub fn exit_group(code: i32) {
    let task = super::current_task();
    signal::deliver::start_group_exit(&task.process, ExitStatus::Exited(code & 0xff));
    exit_thread_for_group(&task);
}

/// Ends the calling thread as part of a group exit.
pub fn exit_thread_for_group(task: &Arc<Task>) {
    let status = task.process.state.lock().group_exit.unwrap_or(ExitStatus::Exited(0));
    finish(task, status);
}

/// Robust futex list entry walk (`set_robust_list`): marks futexes still held by the
/// dying thread `FUTEX_OWNER_DIED` and wakes one waiter of each.
fn release_robust_list(task: &Task) {
    const FUTEX_WAITERS: u32 = 0x8000_0000;
    const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
    const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
    let head = task.robust_list.load(Ordering::Relaxed);
    if head == 0 {
        return;
    }
    let mm = task.process.mm();
    let Ok(mut entry) = crate::uaccess::read::<u64>(head) else { return };
    let Ok(offset) = crate::uaccess::read::<i64>(head + 8) else { return };
    let pending = crate::uaccess::read::<u64>(head + 16).unwrap_or(0);
    let handle = |e: u64| {
        let uaddr = (e & !1).wrapping_add(offset as u64);
        let Ok(val) = crate::uaccess::read::<u32>(uaddr) else { return };
        if val & FUTEX_TID_MASK != task.tid() as u32 {
            return;
        }
        let new = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if rtos::arch::x86_64::usercopy::cmpxchg_user_u32(uaddr, val, new).is_ok() && val & FUTEX_WAITERS != 0 {
            let _ = crate::futex::wake(&mm, uaddr, 1, crate::futex::FUTEX_BITSET_MATCH_ANY, false);
        }
    };
    let mut n = 0;
    while entry != head && entry != 0 && n < 2048 {
        let next = crate::uaccess::read::<u64>(entry & !1).unwrap_or(0);
        if entry != pending {
            handle(entry);
        }
        entry = next;
        n += 1;
    }
    if pending != 0 {
        handle(pending);
    }
}

fn finish(task: &Arc<Task>, status: ExitStatus) {
    if task.exit_done.swap(true, Ordering::AcqRel) {
        return;
    }
    // PI futexes with kernel waiters go to their top waiter (FUTEX_OWNER_DIED) first;
    // then the robust list marks the rest.
    crate::futex_pi::owner_exited(task.tid());
    release_robust_list(task);
    crate::profile::on_exit(task);
    let ctid = task.clear_child_tid.swap(0, Ordering::AcqRel);
    if ctid != 0 && crate::uaccess::write(ctid, &0u32).is_ok() {
        let mm = task.process.mm();
        let _ = crate::futex::wake(&mm, ctid, 1, crate::futex::FUTEX_BITSET_MATCH_ANY, false);
    }
    if let Some(c) = task.vfork_done.lock().take() {
        c.complete();
    }
    let p = task.process.clone();
    let cpu = task.thread().map_or(0, |t| t.cpu_time_ns());
    let last = {
        let mut s = p.state.lock();
        s.tasks.retain(|t| !Arc::ptr_eq(t, task));
        s.tasks.is_empty()
    };
    p.dead_threads_cpu_ns.fetch_add(cpu, Ordering::Relaxed);
    // This thread's shared resources: drop our references (descriptors close when the
    // last user goes).
    let files = core::mem::replace(&mut *task.files.lock(), Arc::new(FdTable::new()));
    drop(files);
    if last {
        crate::fs::locks::release_process(p.pid);
    }
    p.threads_gone.wake_all();
    if last {
        exit_process(&p, status);
    } else {
        // Children this thread created lose their parent thread: their parent-death
        // signal fires, and another thread of the process becomes their parent thread.
        let tid = task.tid();
        let heir = p.tasks().first().map_or(p.pid, |t| t.tid());
        let children: Vec<Arc<Process>> = p.state.lock().children.clone();
        for c in children.iter().filter(|c| c.parent_tid.load(Ordering::Relaxed) == tid) {
            c.parent_tid.store(heir, Ordering::Relaxed);
            let sig = c.pdeath_signal.load(Ordering::Relaxed);
            if sig > 0 && !c.is_zombie() {
                signal::send_to_process(c, SigInfo::new(sig, signal::SI_USER));
            }
        }
    }
    drop(p);
    if let Some(t) = task.thread() {
        t.request_exit();
    }
}

fn exit_process(p: &Arc<Process>, status: ExitStatus) {
    log::debug!("pid {} exits: {status:?}", p.pid);
    p.sample_rss();
    let mm = p.mm();
    if mm.drop_user() {
        mm.clear();
    }
    drop(mm);
    if p.pid == 1 {
        crate::report_init_exit(status);
    }
    crate::time::cancel_itimer(p);
    // Orphans go to the nearest subreaper ancestor, else to init.
    let children: Vec<Arc<Process>> = core::mem::take(&mut p.state.lock().children);
    if !children.is_empty() {
        let mut reaper = p.state.lock().parent.upgrade();
        while let Some(r) = reaper.clone() {
            if r.subreaper.load(Ordering::Relaxed) && !r.is_zombie() {
                break;
            }
            reaper = r.state.lock().parent.upgrade();
        }
        let reaper = match reaper {
            Some(r) if r.subreaper.load(Ordering::Relaxed) => r,
            _ => super::find_process(1).unwrap_or_else(|| p.clone()),
        };
        let mut any_zombie = false;
        for c in children {
            let sig = c.pdeath_signal.load(Ordering::Relaxed);
            if sig > 0 {
                signal::send_to_process(&c, SigInfo::new(sig, signal::SI_USER));
            }
            c.state.lock().parent = Arc::downgrade(&reaper);
            any_zombie |= c.is_zombie();
            reaper.state.lock().children.push(c);
        }
        if any_zombie {
            reaper.child_wait.wake_all();
            signal::send_to_process(&reaper, SigInfo::child(signal::CLD_EXITED, p.pid, 0, 0, 0));
        }
    }
    let (parent, exit_signal) = {
        let s = p.state.lock();
        (s.parent.upgrade(), s.exit_signal)
    };
    let act = parent.as_ref().and_then(|par| par.tasks().first().map(|t| t.sighand().get(signal::SIGCHLD)));
    let auto_reap = exit_signal == signal::SIGCHLD && act.is_some_and(|a| a.handler == signal::SIG_IGN || a.flags & signal::SA_NOCLDWAIT != 0);
    if let (true, Some(par)) = (auto_reap, parent.as_ref()) {
        // Reaped at once: off the parent's list before it is a zombie, so that no wait
        // ever sees it (the parent's wait then ends with ECHILD, as on Linux).
        par.state.lock().children.retain(|c| !Arc::ptr_eq(c, p));
    }
    p.state.lock().exit = Some(status);
    let Some(parent) = parent else {
        p.threads_gone.wake_all();
        return;
    };
    if exit_signal > 0 {
        let (code, st) = match status {
            ExitStatus::Exited(c) => (signal::CLD_EXITED, c),
            ExitStatus::Signaled(s, true) => (signal::CLD_DUMPED, s),
            ExitStatus::Signaled(s, false) => (signal::CLD_KILLED, s),
        };
        let cpu_ticks = p.cpu_time_ns() / 10_000_000;
        let mut info = SigInfo::child(code, p.pid, st, cpu_ticks, 0);
        // The child's exit signal (SIGCHLD unless clone said otherwise).
        info.signo = exit_signal;
        signal::send_to_process(&parent, info);
    }
    parent.child_wait.wake_all();
    // pidfd pollers: the process is now a zombie (waitpid will find it).
    p.threads_gone.wake_all();
}
