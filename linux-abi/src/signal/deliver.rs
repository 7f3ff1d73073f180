//! Signal delivery on the way back to user mode: default actions (terminate, core, stop,
//! continue, ignore), handler frames, the restart of interrupted system calls according to
//! `SA_RESTART`, and job-control stops.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use rtos::arch::x86_64::trap::{TrapFrame, SYSCALL_VECTOR};

use super::*;
use crate::errno::Errno;
use crate::process::{self, ExitStatus, JobEvent, Process};

/// Syscall number of `restart_syscall`.
pub const NR_RESTART_SYSCALL: u64 = 219;
/// Kernel-internal: restart through `restart_syscall`.
pub const ERESTART_RESTARTBLOCK: i64 = 516;

fn restart_decision(frame: &mut TrapFrame, handler: Option<&SigAction>) {
    if frame.vector != SYSCALL_VECTOR {
        return;
    }
    frame.vector = 0;
    let ret = -(frame.rax as i64);
    let restart = match (ret, handler) {
        (512, None) | (513, _) | (514, None) => true,
        (516, None) => {
            frame.error_code = NR_RESTART_SYSCALL;
            true
        }
        (512, Some(a)) => a.flags & SA_RESTART != 0,
        (514, Some(_)) | (516, Some(_)) => false,
        _ => return,
    };
    if restart {
        frame.rax = frame.error_code;
        frame.rip -= 2;
    } else {
        frame.rax = Errno::EINTR.as_ret();
    }
}

static PRINT_FATAL: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Prints a console line for every process a signal kills (`print-fatal-signals=1` on the
/// kernel command line, as on Linux).
pub fn print_fatal_signals(on: bool) {
    PRINT_FATAL.store(on, Ordering::Relaxed);
}

/// Begins ending every thread of `p` (exit_group, fatal signal).
pub fn start_group_exit(p: &Arc<Process>, status: ExitStatus) {
    let (tasks, first) = {
        let mut s = p.state.lock();
        let first = s.group_exit.is_none();
        if first {
            s.group_exit = Some(status);
        }
        s.stopped = false;
        p.stopped_flag.store(false, Ordering::Release);
        (s.tasks.clone(), first)
    };
    if let (true, ExitStatus::Signaled(sig, _)) = (first && PRINT_FATAL.load(Ordering::Relaxed), status) {
        // Printed outside the state lock (the console and the exe lock are not taken under it).
        let exe = p.exe.lock().clone();
        rtos::console::write_text(&alloc::format!("axle: pid {} ({exe}) killed by signal {sig}\n", p.pid));
    }
    for t in &tasks {
        t.exiting.store(true, Ordering::Release);
        kick(t);
    }
    p.cont.wake_all();
}

/// Wakes a stopped process (SIGCONT, SIGKILL) and tells its parent.
pub fn resume_stopped(p: &Arc<Process>) {
    let was = {
        let mut s = p.state.lock();
        let w = s.stopped;
        if w {
            s.stopped = false;
            p.stopped_flag.store(false, Ordering::Release);
            s.job_event = Some(JobEvent::Continued);
        }
        w
    };
    if was {
        notify_parent_job(p, CLD_CONTINUED, SIGCONT);
        p.cont.wake_all();
    }
}

fn notify_parent_job(p: &Arc<Process>, code: i32, sig: i32) {
    let Some(parent) = p.state.lock().parent.upgrade() else { return };
    let nocldstop = parent.tasks().first().is_some_and(|t| t.sighand().get(SIGCHLD).flags & SA_NOCLDSTOP != 0);
    if !nocldstop {
        send_to_process(&parent, SigInfo::child(code, p.pid, sig, 0, 0));
    }
    parent.child_wait.wake_all();
}

fn stop_process(task: &Arc<crate::process::Task>, sig: i32) {
    let p = task.process.clone();
    let newly = {
        let mut s = p.state.lock();
        let n = !s.stopped && s.group_exit.is_none();
        if n {
            s.stopped = true;
            p.stopped_flag.store(true, Ordering::Release);
            s.job_event = Some(JobEvent::Stopped(sig));
        }
        n
    };
    if newly {
        for t in p.tasks() {
            if !Arc::ptr_eq(&t, task) {
                kick(&t);
            }
        }
        notify_parent_job(&p, CLD_STOPPED, sig);
    }
    wait_while_stopped(task);
}

fn wait_while_stopped(task: &Arc<crate::process::Task>) {
    let p = task.process.clone();
    p.cont.wait_until(|| {
        let s = p.state.lock();
        !s.stopped || s.group_exit.is_some() || task.exiting.load(Ordering::Acquire)
    });
}

/// Runs before every return to user mode of a task.
pub fn return_to_user(frame: &mut TrapFrame) {
    // Fast path (most system calls): no deliverable signal and not exiting (the thread's
    // interrupt flag, kept by `kick`/`recalc`), no restart code to resolve, the process not
    // stopped, no temporary signal mask to restore.
    if !rtos::sched::core::current().interrupt_pending() {
        let restart_code = frame.vector == SYSCALL_VECTOR && (512..=516).contains(&-(frame.rax as i64));
        if !restart_code {
            let Some(task) = process::try_current_task() else { return };
            if !task.process.stopped_flag.load(Ordering::Acquire)
                && !task.exiting.load(Ordering::Acquire)
                && task.sig.lock().saved_mask.is_none()
            {
                if frame.vector == SYSCALL_VECTOR {
                    frame.vector = 0;
                }
                return;
            }
        }
    }
    let Some(task) = process::try_current_task() else { return };
    loop {
        if task.exit_done.load(Ordering::Acquire) {
            return;
        }
        if task.exiting.load(Ordering::Acquire) {
            process::exit::exit_thread_for_group(&task);
            return;
        }
        if task.process.state.lock().stopped {
            wait_while_stopped(&task);
            continue;
        }
        let (info, mask) = {
            let mut s = task.sig.lock();
            let mask = s.mask;
            let i = s.pending.take(mask).or_else(|| task.process.shared_pending.lock().take(mask));
            (i, mask)
        };
        let Some(info) = info else {
            restart_decision(frame, None);
            // sigsuspend/ppoll: the temporary mask ends when no handler ran.
            if let Some(m) = task.sig.lock().saved_mask.take() {
                task.sig.lock().mask = m;
            }
            recalc(&task);
            return;
        };
        let sig = info.signo;
        let act = task.sighand().get(sig);
        if act.handler == SIG_IGN {
            continue;
        }
        if act.handler == SIG_DFL {
            match default_action(sig) {
                DefaultAction::Ignore | DefaultAction::Continue => continue,
                DefaultAction::Stop => {
                    // Orphaned process groups ignore terminal stop signals; SIGSTOP always stops.
                    stop_process(&task, sig);
                    continue;
                }
                DefaultAction::Terminate | DefaultAction::Core => {
                    // Axle writes no core files, and Linux flags a status "core dumped"
                    // (WCOREDUMP, CLD_DUMPED) only when a core file was written.
                    start_group_exit(&task.process, ExitStatus::Signaled(sig, false));
                    continue;
                }
            }
        }
        restart_decision(frame, Some(&act));
        let old_mask = task.sig.lock().saved_mask.take().unwrap_or(mask);
        let mut alt = task.sig.lock().altstack;
        let ok = frame::setup(frame, &act, &info, old_mask, &mut alt);
        {
            let mut s = task.sig.lock();
            s.altstack = alt;
            let mut m = SigSet(s.mask.0 | act.mask.0);
            if act.flags & SA_NODEFER == 0 {
                m.add(sig);
            }
            s.mask = m.blockable();
        }
        if act.flags & SA_RESETHAND != 0 {
            task.sighand().actions.lock()[(sig - 1) as usize] = SigAction::default();
        }
        if ok.is_err() {
            // The stack is unusable: the process dies of SIGSEGV, as on Linux.
            start_group_exit(&task.process, ExitStatus::Signaled(SIGSEGV, false));
            continue;
        }
        recalc(&task);
        return;
    }
}

/// A user fault the kernel could not fix becomes a synchronous signal for the thread.
pub fn user_fault(frame: &mut TrapFrame, fault: rtos::arch::x86_64::trap::UserFault) {
    let Some(task) = process::try_current_task() else { return };
    let mut why: Option<rtos::mm::addrspace::FaultError> = None;
    let (sig, code, addr) = match fault.vector {
        0 => (SIGFPE, FPE_INTDIV, frame.rip),
        1 | 3 => (SIGTRAP, TRAP_BRKPT, frame.rip),
        6 => (SIGILL, ILL_ILLOPN, frame.rip),
        16 | 19 => (SIGFPE, 0, frame.rip),
        17 => (SIGBUS, BUS_ADRERR, frame.rip),
        14 => {
            use rtos::mm::addrspace::FaultError;
            // Linux: ACCERR when a mapping covers the address but forbids the access,
            // MAPERR when nothing is mapped there (always for kernel addresses).
            let cause = if fault.address < rtos::mm::layout::USER_END {
                let access = rtos::mm::FaultAccess { write: fault.error_code & 2 != 0, exec: fault.error_code & 16 != 0, present: fault.error_code & 1 != 0 };
                task.process.mm().handle_fault(fault.address, access).err()
            } else {
                Some(FaultError::Unmapped)
            };
            why = cause;
            if cause == Some(FaultError::NoMemory) {
                // No page for a valid access: as Linux's out-of-memory killer would, the
                // process dies of SIGKILL, and the console says why (Axle picks the
                // faulting process rather than the largest one).
                let exe = task.process.exe.lock().clone();
                rtos::console::write_text(&alloc::format!(
                    "axle: out of memory: killed pid {} ({exe}) at a page fault at {:#x}\n",
                    task.process.pid, fault.address
                ));
                start_group_exit(&task.process, ExitStatus::Signaled(SIGKILL, false));
                return;
            }
            match cause {
                Some(FaultError::Bus) => (SIGBUS, BUS_ADRERR, fault.address),
                Some(FaultError::Access) => (SIGSEGV, SEGV_ACCERR, fault.address),
                _ => (SIGSEGV, SEGV_MAPERR, fault.address),
            }
        }
        _ => (SIGSEGV, SI_KERNEL, 0),
    };
    let what = rtos::arch::x86_64::trap::EXCEPTION_NAMES.get(fault.vector as usize).unwrap_or(&"?");
    if PRINT_FATAL.load(Ordering::Relaxed) {
        rtos::console::write_text(&alloc::format!(
            "axle: pid {} tid {}: {what} at {addr:#x} (rip {:#x}, rsp {:#x}, error code {:#x}, {why:?}) -> signal {sig}\n",
            task.process.pid, task.tid(), frame.rip, frame.rsp, fault.error_code
        ));
    }
    log::debug!("pid {} tid {}: {what} at {:#x} (rip {:#x}) -> signal {sig}", task.process.pid, task.tid(), addr, frame.rip);
    // A blocked or ignored synchronous signal cannot be delivered: Linux kills the process.
    let act = task.sighand().get(sig);
    let blocked = task.sig.lock().mask.has(sig);
    if blocked || act.handler == SIG_IGN {
        task.sighand().actions.lock()[(sig - 1) as usize] = SigAction::default();
        task.sig.lock().mask.remove(sig);
    }
    task.sig.lock().pending.add(SigInfo::fault(sig, code, addr));
    recalc(&task);
}
