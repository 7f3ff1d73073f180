//! `clone`, `clone3`, `fork` and `vfork`: new threads and processes, with Linux's flag
//! rules (`kernel/fork.c` `copy_process`) for what is shared and what is copied.

use alloc::boxed::Box;
use alloc::sync::Arc;

use rtos::arch::x86_64::trap::TrapFrame;
use rtos::sched::thread::Thread;
use rtos::sync::SpinLock;

use super::ids::{alloc_pid, Completion};
use super::{current_task, FsContext, Pid, Process, Task};
use crate::errno::{Errno, SysResult};
use crate::signal::SIGRTMAX;

pub const CSIGNAL: u64 = 0xff;
pub const CLONE_VM: u64 = 0x100;
pub const CLONE_FS: u64 = 0x200;
pub const CLONE_FILES: u64 = 0x400;
pub const CLONE_SIGHAND: u64 = 0x800;
pub const CLONE_PIDFD: u64 = 0x1000;
pub const CLONE_PTRACE: u64 = 0x2000;
pub const CLONE_VFORK: u64 = 0x4000;
pub const CLONE_PARENT: u64 = 0x8000;
pub const CLONE_THREAD: u64 = 0x10000;
pub const CLONE_NEWNS: u64 = 0x20000;
pub const CLONE_SYSVSEM: u64 = 0x40000;
pub const CLONE_SETTLS: u64 = 0x80000;
pub const CLONE_PARENT_SETTID: u64 = 0x100000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
pub const CLONE_DETACHED: u64 = 0x400000;
pub const CLONE_UNTRACED: u64 = 0x800000;
pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
pub const CLONE_NEWCGROUP: u64 = 0x2000000;
pub const CLONE_NEWUTS: u64 = 0x4000000;
pub const CLONE_NEWIPC: u64 = 0x8000000;
pub const CLONE_NEWUSER: u64 = 0x10000000;
pub const CLONE_NEWPID: u64 = 0x20000000;
pub const CLONE_NEWNET: u64 = 0x40000000;
pub const CLONE_IO: u64 = 0x80000000;
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const NAMESPACES: u64 = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

/// Arguments of a clone request.
#[derive(Clone, Copy, Debug, Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
    pub pidfd: u64,
}

/// Linux's validity rules for clone flags.
pub fn validate(a: &CloneArgs) -> Result<(), Errno> {
    let f = a.flags;
    if f & (CLONE_NEWNS | CLONE_FS) == (CLONE_NEWNS | CLONE_FS) || f & (CLONE_NEWUSER | CLONE_FS) == (CLONE_NEWUSER | CLONE_FS) {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_CLEAR_SIGHAND != 0 && f & CLONE_SIGHAND != 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_PIDFD != 0 && f & (CLONE_DETACHED | CLONE_THREAD) != 0 {
        return Err(Errno::EINVAL);
    }
    if a.exit_signal > SIGRTMAX as u64 {
        return Err(Errno::EINVAL);
    }
    if f & (CLONE_PARENT | CLONE_THREAD) != 0 && super::current_process().pid == 1 && f & CLONE_PARENT != 0 {
        return Err(Errno::EINVAL);
    }
    if f & NAMESPACES != 0 {
        // Namespaces are not part of Axle.
        return Err(Errno::EPERM);
    }
    if f & CLONE_INTO_CGROUP != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Creates the child; returns its tid (the parent's return value).
pub fn do_clone(frame: &TrapFrame, a: CloneArgs) -> SysResult {
    validate(&a)?;
    let f = a.flags;
    if f & CLONE_PIDFD != 0 {
        // Checked before anything is created (Linux stores the pidfd before the child exists).
        crate::uaccess::write(a.pidfd, &-1i32)?;
    }
    let parent_task = current_task();
    let parent_proc = parent_task.process.clone();
    let me = rtos::sched::core::current_arc();
    // A deadline thread's reservation cannot be split: Linux refuses to clone it unless
    // SCHED_RESET_ON_FORK makes the child an ordinary thread.
    if rtos::sched::core::params_of(&me).0.policy == rtos::sched::policy::Policy::Deadline
        && !parent_task.sched_reset_on_fork.load(core::sync::atomic::Ordering::Relaxed)
    {
        return Err(Errno::EAGAIN);
    }
    if f & CLONE_THREAD == 0 {
        let limit = parent_proc.rlimits.lock().soft(super::limits::RLIMIT_NPROC);
        if super::task_count() as u64 >= limit.max(64) {
            return Err(Errno::EAGAIN);
        }
    }
    let tid: Pid = alloc_pid().ok_or(Errno::EAGAIN)?;
    // Address space.
    let mm = if f & CLONE_VM != 0 {
        let m = parent_proc.mm();
        if f & CLONE_THREAD == 0 {
            m.add_user();
        }
        m
    } else {
        parent_proc.mm().fork().map_err(|_| Errno::ENOMEM)?
    };
    let files = if f & CLONE_FILES != 0 { parent_task.files() } else { Arc::new(parent_task.files().duplicate()) };
    let fs = if f & CLONE_FS != 0 {
        parent_task.fs()
    } else {
        let cur = parent_task.fs();
        let c = cur.lock();
        Arc::new(SpinLock::new(FsContext { root: c.root.clone(), cwd: c.cwd.clone(), umask: c.umask }))
    };
    let sighand = if f & CLONE_SIGHAND != 0 {
        parent_task.sighand()
    } else {
        let h = Arc::new(parent_task.sighand().duplicate());
        if f & CLONE_CLEAR_SIGHAND != 0 {
            h.reset_for_exec();
        }
        h
    };
    let process = if f & CLONE_THREAD != 0 {
        parent_proc.clone()
    } else {
        let parent_of_child = if f & CLONE_PARENT != 0 { parent_proc.state.lock().parent.clone() } else { Arc::downgrade(&parent_proc) };
        let (pgid, sid) = {
            let s = parent_proc.state.lock();
            (s.pgid, s.sid)
        };
        let p = Process::new(tid, mm.clone(), parent_of_child.clone(), pgid, sid, *parent_proc.rlimits.lock());
        *p.exe.lock() = parent_proc.exe.lock().clone();
        *p.cmdline.lock() = parent_proc.cmdline.lock().clone();
        p.state.lock().exit_signal = (a.exit_signal & CSIGNAL) as i32;
        p.timer_slack_ns.store(parent_proc.timer_slack_ns.load(core::sync::atomic::Ordering::Relaxed), core::sync::atomic::Ordering::Relaxed);
        p.did_exec.store(false, core::sync::atomic::Ordering::Relaxed);
        if let Some(pp) = parent_of_child.upgrade() {
            pp.state.lock().children.push(p.clone());
        }
        p
    };
    let mask = parent_task.sig.lock().mask;
    let task = Task::new(tid, process.clone(), files, fs, sighand, mask);
    {
        let ps = parent_task.sig.lock();
        let mut cs = task.sig.lock();
        // Threads sharing the VM start without the creator's alternate stack.
        if f & CLONE_VM == 0 || f & CLONE_VFORK != 0 {
            cs.altstack = ps.altstack;
        }
    }
    task.set_comm(parent_task.comm.lock().as_bytes());
    if f & CLONE_CHILD_CLEARTID != 0 {
        task.clear_child_tid.store(a.child_tid, core::sync::atomic::Ordering::Relaxed);
    }
    // Child registers: the syscall returns 0 in the child, on the new stack if given.
    let mut cf = *frame;
    cf.rax = 0;
    if a.stack != 0 {
        cf.rsp = a.stack;
    }
    cf.vector = 0;
    let tls = if f & CLONE_SETTLS != 0 { a.tls } else { me.fs_base() };
    let (mut params, affinity) = rtos::sched::core::params_of(&me);
    if parent_task.sched_reset_on_fork.load(core::sync::atomic::Ordering::Relaxed) {
        // SCHED_RESET_ON_FORK: the child starts as SCHED_OTHER, never with a negative nice.
        if params.policy.class() >= rtos::sched::policy::Class::RealTime {
            params = rtos::sched::policy::Params { nice: params.nice.max(0), ..Default::default() };
        } else {
            params.nice = params.nice.max(0);
        }
    }
    let name = parent_task.comm.lock().clone();
    let thread = match Thread::new_user(name.as_str(), &cf, mm.clone(), tls, params, affinity) {
        Ok(t) => t,
        Err(_) => {
            if f & CLONE_THREAD == 0 {
                parent_proc.state.lock().children.retain(|c| !Arc::ptr_eq(c, &process));
                if f & CLONE_VM != 0 {
                    mm.drop_user();
                }
            }
            return Err(Errno::ENOMEM);
        }
    };
    thread.fpu_copy_from(&me);
    thread.set_ext(Box::new(task.clone()));
    task.thread.call_once(|| Arc::downgrade(&thread));
    process.state.lock().tasks.push(task.clone());
    if f & CLONE_THREAD == 0 {
        process.parent_tid.store(parent_task.tid(), core::sync::atomic::Ordering::Relaxed);
    }
    if f & CLONE_THREAD == 0 {
        crate::profile::inherit(&parent_proc, &process);
    }
    crate::profile::place(&task);
    if f & CLONE_PARENT_SETTID != 0 {
        // Linux ignores a failed store here: the child exists either way.
        let _ = crate::uaccess::write(a.parent_tid, &tid);
    }
    if f & CLONE_CHILD_SETTID != 0 {
        // Written in the child's address space before it runs.
        let _ = mm.write(a.child_tid, &tid.to_le_bytes());
    }
    let vfork = if f & CLONE_VFORK != 0 {
        let c = Arc::new(Completion::new());
        *task.vfork_done.lock() = Some(c.clone());
        Some(c)
    } else {
        None
    };
    // The child exists from here on: it is started even if the pidfd cannot be made.
    let pidfd = if f & CLONE_PIDFD != 0 { Some(crate::fs::pidfd::open_for(&process, 0)) } else { None };
    let pidfd_result = match pidfd {
        Some(Ok(fd)) => crate::uaccess::write(a.pidfd, &fd),
        Some(Err(e)) => Err(e),
        None => Ok(()),
    };
    rtos::sched::core::start(&thread);
    drop(thread);
    if let Some(c) = vfork {
        c.wait();
    }
    pidfd_result?;
    Ok(tid as usize)
}
