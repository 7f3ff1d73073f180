//! The process side of `execve`: load the new image, then (past the point of no return)
//! end the other threads, swap the address space, close close-on-exec descriptors, reset
//! handled signals, and continue in user mode at the new entry point.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use rtos::arch::x86_64::trap::TrapFrame;

use super::{current_task, limits::RLIMIT_STACK};
use crate::errno::SysResult;
use crate::signal;

/// Replaces the calling process's program.
pub fn execve(path: &str, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>, frame: &mut TrapFrame) -> SysResult {
    let task = current_task();
    let p = task.process.clone();
    let (root, cwd) = {
        let fs = task.fs();
        let f = fs.lock();
        (f.root.clone(), f.cwd.clone())
    };
    let stack_limit = p.rlimits.lock().soft(RLIMIT_STACK);
    let cmdline: Vec<u8> = argv.iter().flat_map(|a| a.iter().copied().chain(core::iter::once(0))).collect();
    // The dataflow profile identifies the process by its arguments and environment.
    let for_profile = crate::profile::get().map(|_| (argv.clone(), envp.clone()));
    let img = crate::exec::load(&root, &cwd, path, argv, envp, stack_limit)?;

    // Point of no return. End the other threads first.
    let others: Vec<_> = p.tasks().into_iter().filter(|t| !Arc::ptr_eq(t, &task)).collect();
    if !others.is_empty() {
        for t in &others {
            t.exiting.store(true, Ordering::Release);
            signal::kick(t);
        }
        p.threads_gone.wait_until(|| p.tasks().len() == 1);
    }
    p.state.lock().group_exit = None;
    // A thread other than the leader that execs takes over the leader's thread id.
    task.become_leader();
    let me = rtos::sched::core::current_arc();
    let old = core::mem::replace(&mut *p.mm.lock(), img.mm.clone());
    let old_space = me.set_addr_space(img.mm.clone());
    drop(old_space);
    if old.drop_user() {
        old.clear();
    }
    drop(old);
    // Descriptors marked close-on-exec go; an unshared table is made private first.
    let files = task.files();
    let closed = files.close_on_exec();
    for e in &closed {
        crate::fs::locks::release_process_on(&e.file, p.pid);
    }
    drop(closed);
    // Handlers: a table shared with other processes is unshared, then reset.
    let handlers = task.sighand();
    if Arc::strong_count(&handlers) > 2 {
        *task.sighand.lock() = Arc::new(handlers.duplicate());
    }
    task.sighand().reset_for_exec();
    {
        let mut s = task.sig.lock();
        s.altstack = signal::AltStack { flags: signal::SS_DISABLE, ..Default::default() };
        s.saved_mask = None;
    }
    task.clear_child_tid.store(0, Ordering::Relaxed);
    task.robust_list.store(0, Ordering::Relaxed);
    task.set_comm(&img.comm);
    *p.exe.lock() = img.exe_path.clone();
    *p.cmdline.lock() = cmdline;
    p.did_exec.store(true, Ordering::Relaxed);
    me.set_fs_base(0);
    me.fpu_reset();
    if let Some(c) = task.vfork_done.lock().take() {
        c.complete();
    }
    if let Some((argv, envp)) = for_profile {
        crate::profile::on_exec(&task, &img.exe_path, &argv, &envp);
    }
    *frame = img.frame;
    Ok(0)
}
