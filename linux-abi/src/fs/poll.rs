//! `poll`/`ppoll`: readiness of several descriptors, sleeping on all their wait queues at
//! once until one becomes ready, a signal arrives, or the deadline passes.

use alloc::sync::Arc;
use alloc::vec::Vec;

use bytemuck::{Pod, Zeroable};

use super::file::{events, File};
use crate::errno::{Errno, SysResult};
use crate::process::current_task;
use crate::signal::SigSet;
use crate::uaccess;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

/// Readiness of `file` for the requested `events` (error and hang-up always reported).
pub fn ready(file: &File, events_wanted: u32) -> u32 {
    file.ops.poll(file) & (events_wanted | events::POLLERR | events::POLLHUP | events::POLLNVAL)
}

/// Whether a signal the thread does not block is pending. A blocked signal also kicks a
/// sleeping thread (it may be waited for with `sigtimedwait`), so the flag is recomputed
/// from the masks before a readiness wait gives up with EINTR.
pub fn signal_pending(me: &Arc<rtos::sched::thread::Thread>) -> bool {
    if !me.interrupt_pending() {
        return false;
    }
    if let Some(t) = crate::process::try_current_task() {
        crate::signal::recalc(&t);
    }
    me.interrupt_pending()
}

/// Waits until one of `files` is ready (as computed by `check`), a signal, or `deadline`.
/// Returns `Ok(true)` when ready, `Ok(false)` on timeout.
pub fn wait_any(files: &[Arc<File>], deadline: Option<u64>, mut check: impl FnMut() -> bool) -> Result<bool, Errno> {
    let me = rtos::sched::core::current_arc();
    loop {
        if check() {
            return Ok(true);
        }
        if deadline.is_some_and(|d| rtos::time::now_ns() >= d) {
            return Ok(false);
        }
        if signal_pending(&me) {
            return Err(Errno::ERESTARTNOHAND);
        }
        for f in files {
            for q in f.ops.wait_queue().into_iter().chain(f.ops.write_wait_queue()) {
                q.add_waiter(&me);
            }
        }
        let ready_now = check();
        let t = deadline.filter(|_| !ready_now).map(|d| rtos::time::timer::add(d, rtos::time::timer::TimerAction::Wake(me.clone())));
        if !ready_now && !me.interrupt_pending() {
            rtos::sched::core::block_current();
        }
        if let Some(t) = t {
            rtos::time::timer::cancel(&t);
        }
        for f in files {
            for q in f.ops.wait_queue().into_iter().chain(f.ops.write_wait_queue()) {
                q.remove_waiter(&me);
            }
        }
        if ready_now {
            return Ok(true);
        }
    }
}

/// `poll(fds, nfds, timeout)` with an absolute deadline and an optional temporary mask.
pub fn poll(addr: u64, nfds: u64, deadline: Option<u64>, mask: Option<SigSet>) -> SysResult {
    let task = current_task();
    let limit = task.process.rlimits.lock().soft(crate::process::limits::RLIMIT_NOFILE);
    if nfds > limit.max(1024) {
        return Err(Errno::EINVAL);
    }
    let mut fds: Vec<PollFd> = uaccess::read_vec(addr, nfds as usize)?;
    let table = task.files();
    let files: Vec<Option<Arc<File>>> = fds.iter().map(|p| if p.fd < 0 { None } else { table.get(p.fd).ok() }).collect();
    let waitable: Vec<Arc<File>> = files.iter().flatten().cloned().collect();
    if let Some(m) = mask {
        let mut s = task.sig.lock();
        s.saved_mask = Some(s.mask);
        s.mask = m.blockable();
        drop(s);
        crate::signal::recalc(&task);
    }
    let mut count = 0;
    let mut compute = |fds: &mut Vec<PollFd>| {
        count = 0;
        for (p, f) in fds.iter_mut().zip(&files) {
            p.revents = 0;
            if p.fd < 0 {
                continue;
            }
            let r = match f {
                None => events::POLLNVAL,
                Some(f) => ready(f, p.events as u16 as u32),
            };
            p.revents = r as i16;
            if r != 0 {
                count += 1;
            }
        }
        count
    };
    let res = wait_any(&waitable, deadline, || compute(&mut fds) > 0);
    let n = compute(&mut fds);
    let keep_mask = matches!(res, Err(_));
    if mask.is_some() && !keep_mask {
        // No signal to deliver: restore the caller's mask now.
        let mut s = task.sig.lock();
        if let Some(m) = s.saved_mask.take() {
            s.mask = m;
        }
        drop(s);
        crate::signal::recalc(&task);
    }
    match res {
        Ok(_) => {
            uaccess::write_slice(addr, &fds)?;
            Ok(n)
        }
        Err(e) => Err(e),
    }
}
