//! Scheduling calls: policies and priorities (DEADLINE/FIFO/RR/OTHER/BATCH/IDLE) through
//! `sched_setscheduler`/`sched_setparam`/`sched_setattr` and their getters, affinity of
//! any thread (with migration), yield, nice values, `sched_rr_get_interval`, `getcpu`.
//!
//! Entering a real-time or deadline class is checked against the caller's scheduling
//! capability (`crate::schedcap`); a deadline reservation must also pass admission
//! control (EBUSY when the CPUs cannot afford it).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use rtos::sched::admission::AdmissionError;
use rtos::sched::deadline::{self, DlParams};
use rtos::sched::policy::{Class, Params, Policy};
use rtos::sched::thread::Thread;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::{self, current_task, Task};
use crate::{schedcap, uaccess};

/// `SCHED_RESET_ON_FORK`, or-ed into the policy of `sched_setscheduler`.
const RESET_ON_FORK: i32 = 0x4000_0000;

fn task_of(pid: i32) -> Result<(Arc<Task>, Arc<Thread>), Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let t = if pid == 0 { current_task() } else { process::find_task(pid).ok_or(Errno::ESRCH)? };
    let th = t.thread().ok_or(Errno::ESRCH)?;
    Ok((t, th))
}

fn online_mask() -> u64 {
    let n = rtos::percpu::online();
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

fn admission_errno(e: AdmissionError) -> Errno {
    match e {
        AdmissionError::Busy => Errno::EBUSY,
        AdmissionError::BadCpus => Errno::EINVAL,
    }
}

/// Applies `p` (and a new affinity) to a thread after the capability check.
fn apply(task: &Task, t: &Arc<Thread>, p: Option<Params>, affinity: Option<u64>) -> Result<(), Errno> {
    let (cur, cur_aff) = rtos::sched::core::params_of(t);
    let np = p.unwrap_or(cur);
    let aff = affinity.unwrap_or(cur_aff) & online_mask();
    let cap = *task.process.sched_cap.lock();
    schedcap::check(schedcap::profile_active(), true, cap.as_ref(), &np, aff)?;
    rtos::sched::core::set_params(t, p, affinity).map_err(admission_errno)
}

pub fn sched_yield(_: Args) -> SysResult {
    rtos::sched::core::yield_now();
    Ok(0)
}

/// `sched_getaffinity(pid, size, mask)`: returns the bytes written (a multiple of 8).
pub fn sched_getaffinity(a: Args) -> SysResult {
    let len = a.us(1);
    if len < 8 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let (_, t) = task_of(a.i(0))?;
    let (_, mask) = rtos::sched::core::params_of(&t);
    uaccess::write(a.u(2), &(mask & online_mask()))?;
    Ok(8)
}

/// `sched_setaffinity(pid, size, mask)`: moves the thread if it runs on a CPU no longer
/// allowed. A deadline thread's reservation moves with it (EBUSY if it does not fit).
pub fn sched_setaffinity(a: Args) -> SysResult {
    let len = a.us(1);
    let mut bytes = [0u8; 8];
    let n = len.min(8);
    uaccess::read_bytes(a.u(2), &mut bytes[..n])?;
    let mask = u64::from_le_bytes(bytes) & online_mask();
    if mask == 0 {
        return Err(Errno::EINVAL);
    }
    let (task, t) = task_of(a.i(0))?;
    apply(&task, &t, None, Some(mask))?;
    Ok(0)
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SchedParam {
    priority: i32,
}

/// `struct sched_attr` (include/uapi/linux/sched/types.h), SCHED_ATTR_SIZE_VER1 = 56 bytes.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}
const _: () = assert!(core::mem::size_of::<SchedAttr>() == 56);
const ATTR_SIZE_VER0: usize = 48;
const PAGE_SIZE: usize = 4096;

fn set_policy(pid: i32, policy: Option<i32>, param_addr: u64) -> SysResult {
    if param_addr == 0 {
        return Err(Errno::EINVAL);
    }
    let sp: SchedParam = uaccess::read(param_addr)?;
    let (task, t) = task_of(pid)?;
    let (cur, _) = rtos::sched::core::params_of(&t);
    let reset = policy.map(|p| p & RESET_ON_FORK != 0);
    let policy = match policy {
        Some(p) => Policy::from_linux(p & !RESET_ON_FORK).ok_or(Errno::EINVAL)?,
        None => cur.policy,
    };
    // A deadline reservation cannot be expressed with a sched_param.
    if policy == Policy::Deadline {
        return Err(Errno::EINVAL);
    }
    if !(0..=99).contains(&sp.priority) {
        return Err(Errno::EINVAL);
    }
    let params = Params { policy, rt_priority: sp.priority as u8, nice: cur.nice, dl: DlParams::default() };
    if !params.valid() {
        return Err(Errno::EINVAL);
    }
    apply(&task, &t, Some(params), None)?;
    if let Some(r) = reset {
        task.sched_reset_on_fork.store(r, Ordering::Relaxed);
    }
    Ok(0)
}

pub fn sched_setscheduler(a: Args) -> SysResult {
    if a.i(1) < 0 {
        return Err(Errno::EINVAL);
    }
    set_policy(a.i(0), Some(a.i(1)), a.u(2))
}

pub fn sched_setparam(a: Args) -> SysResult {
    set_policy(a.i(0), None, a.u(1))
}

/// Reads a `sched_attr` of the size the caller declares (Linux `sched_copy_attr`): 0 means
/// the first version; shorter than that or longer than a page, or longer than Axle's with
/// non-zero extra bytes, is E2BIG (with the size Axle knows written back).
fn read_attr(addr: u64) -> Result<SchedAttr, Errno> {
    let size: u32 = uaccess::read(addr)?;
    let mut size = size as usize;
    if size == 0 {
        size = ATTR_SIZE_VER0;
    }
    let ours = core::mem::size_of::<SchedAttr>();
    let too_big = |_: ()| -> Errno {
        let _ = uaccess::write(addr, &(ours as u32));
        Errno::E2BIG
    };
    if !(ATTR_SIZE_VER0..=PAGE_SIZE).contains(&size) {
        return Err(too_big(()));
    }
    if size > ours {
        let mut extra = alloc::vec![0u8; size - ours];
        uaccess::read_bytes(addr + ours as u64, &mut extra)?;
        if extra.iter().any(|&b| b != 0) {
            return Err(too_big(()));
        }
    }
    let mut bytes = [0u8; 56];
    let n = size.min(ours);
    uaccess::read_bytes(addr, &mut bytes[..n])?;
    let mut attr: SchedAttr = bytemuck::pod_read_unaligned(&bytes);
    attr.size = size as u32;
    Ok(attr)
}

/// `sched_setattr(pid, attr, flags)`.
pub fn sched_setattr(a: Args) -> SysResult {
    if a.u(1) == 0 || a.i(0) < 0 || a.u32(2) != 0 {
        return Err(Errno::EINVAL);
    }
    let attr = read_attr(a.u(1))?;
    let (task, t) = task_of(a.i(0))?;
    let (cur, _) = rtos::sched::core::params_of(&t);
    if attr.flags & !deadline::FLAGS_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if attr.flags & (deadline::FLAG_UTIL_CLAMP_MIN | deadline::FLAG_UTIL_CLAMP_MAX) != 0 {
        // Utilization clamping is not implemented.
        return Err(Errno::EOPNOTSUPP);
    }
    let policy = if attr.flags & deadline::FLAG_KEEP_POLICY != 0 {
        cur.policy
    } else {
        Policy::from_linux(attr.policy as i32).ok_or(Errno::EINVAL)?
    };
    if attr.priority > 99 {
        return Err(Errno::EINVAL);
    }
    let mut p = if attr.flags & deadline::FLAG_KEEP_PARAMS != 0 {
        Params { policy, ..cur }
    } else {
        let dl = if policy == Policy::Deadline {
            DlParams::new(attr.runtime, attr.deadline, attr.period, attr.flags & deadline::FLAG_DL_OVERRUN)
        } else {
            DlParams::default()
        };
        Params { policy, rt_priority: attr.priority as u8, nice: cur.nice, dl }
    };
    if policy.class() <= Class::Fair {
        if attr.flags & deadline::FLAG_KEEP_PARAMS == 0 {
            p.nice = attr.nice.clamp(-20, 19) as i8;
        }
        p.rt_priority = 0;
        if attr.priority != 0 && attr.flags & deadline::FLAG_KEEP_PARAMS == 0 {
            return Err(Errno::EINVAL);
        }
    }
    if !p.valid() {
        return Err(Errno::EINVAL);
    }
    apply(&task, &t, Some(p), None)?;
    task.sched_reset_on_fork.store(attr.flags & deadline::FLAG_RESET_ON_FORK != 0, Ordering::Relaxed);
    Ok(0)
}

/// `sched_getattr(pid, attr, size, flags)`.
pub fn sched_getattr(a: Args) -> SysResult {
    let usize_ = a.us(2);
    if a.u(1) == 0 || a.i(0) < 0 || a.u32(3) != 0 || !(ATTR_SIZE_VER0..=PAGE_SIZE).contains(&usize_) {
        return Err(Errno::EINVAL);
    }
    let (task, t) = task_of(a.i(0))?;
    let (p, _) = rtos::sched::core::params_of(&t);
    let ours = core::mem::size_of::<SchedAttr>();
    let n = usize_.min(ours);
    let mut attr = SchedAttr { size: n as u32, policy: p.policy.to_linux() as u32, ..SchedAttr::default() };
    if task.sched_reset_on_fork.load(Ordering::Relaxed) {
        attr.flags |= deadline::FLAG_RESET_ON_FORK;
    }
    match p.policy.class() {
        Class::Deadline => {
            attr.runtime = p.dl.runtime_ns;
            attr.deadline = p.dl.deadline_ns;
            attr.period = p.dl.period_ns;
            attr.flags |= p.dl.flags & deadline::FLAG_DL_OVERRUN;
        }
        Class::RealTime => attr.priority = u32::from(p.rt_priority),
        _ => attr.nice = i32::from(p.nice),
    }
    let bytes = bytemuck::bytes_of(&attr);
    uaccess::write_bytes(a.u(1), &bytes[..n])?;
    Ok(0)
}

pub fn sched_getscheduler(a: Args) -> SysResult {
    let (task, t) = task_of(a.i(0))?;
    let mut v = rtos::sched::core::params_of(&t).0.policy.to_linux();
    if task.sched_reset_on_fork.load(Ordering::Relaxed) {
        v |= RESET_ON_FORK;
    }
    Ok(v as usize)
}

pub fn sched_getparam(a: Args) -> SysResult {
    if a.u(1) == 0 {
        return Err(Errno::EINVAL);
    }
    let (_, t) = task_of(a.i(0))?;
    let p = rtos::sched::core::params_of(&t).0;
    uaccess::write(a.u(1), &SchedParam { priority: i32::from(p.rt_priority) })?;
    Ok(0)
}

pub fn sched_get_priority_max(a: Args) -> SysResult {
    match Policy::from_linux(a.i(0)).ok_or(Errno::EINVAL)? {
        Policy::Fifo | Policy::Rr => Ok(99),
        _ => Ok(0),
    }
}

pub fn sched_get_priority_min(a: Args) -> SysResult {
    match Policy::from_linux(a.i(0)).ok_or(Errno::EINVAL)? {
        Policy::Fifo | Policy::Rr => Ok(1),
        _ => Ok(0),
    }
}

pub fn sched_rr_get_interval(a: Args) -> SysResult {
    let (_, t) = task_of(a.i(0))?;
    let p = rtos::sched::core::params_of(&t).0;
    let ns = match p.policy {
        Policy::Rr => rtos::sched::policy::RR_QUANTUM_NS,
        Policy::Fifo | Policy::Deadline => 0,
        _ => rtos::sched::policy::FAIR_LATENCY_NS,
    };
    uaccess::write(a.u(1), &crate::time::Timespec::from_ns(ns as i64))?;
    Ok(0)
}

const PRIO_PROCESS: i32 = 0;
const PRIO_PGRP: i32 = 1;
const PRIO_USER: i32 = 2;

fn prio_targets(which: i32, who: i32) -> Result<Vec<(Arc<Task>, Arc<Thread>)>, Errno> {
    let tasks: Vec<_> = match which {
        // Linux's nice value is per thread: PRIO_PROCESS names one thread by its id.
        PRIO_PROCESS => {
            let t = if who == 0 { current_task() } else { process::find_task(who).ok_or(Errno::ESRCH)? };
            alloc::vec![t]
        }
        PRIO_PGRP => {
            let g = if who == 0 { process::current_process().pgid() } else { who };
            process::group_members(g).iter().flat_map(|p| p.tasks()).collect()
        }
        PRIO_USER => process::all_processes().iter().flat_map(|p| p.tasks()).collect(),
        _ => return Err(Errno::EINVAL),
    };
    let threads: Vec<_> = tasks.into_iter().filter_map(|t| t.thread().map(|th| (t, th))).collect();
    if threads.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(threads)
}

/// `getpriority`: returns 20 - nice (the raw syscall's convention).
pub fn getpriority(a: Args) -> SysResult {
    let ts = prio_targets(a.i(0), a.i(1))?;
    let best = ts.iter().map(|(_, t)| rtos::sched::core::params_of(t).0.nice).min().unwrap_or(0);
    Ok((20 - i32::from(best)) as usize)
}

pub fn setpriority(a: Args) -> SysResult {
    let nice = a.i(2).clamp(-20, 19) as i8;
    for (task, t) in prio_targets(a.i(0), a.i(1))? {
        let (mut p, _) = rtos::sched::core::params_of(&t);
        p.nice = nice;
        apply(&task, &t, Some(p), None)?;
    }
    Ok(0)
}

/// `getcpu(cpu, node, cache)`.
pub fn getcpu(a: Args) -> SysResult {
    let cpu = rtos::sched::core::current().cpu();
    uaccess::write_opt(a.u(0), &cpu)?;
    uaccess::write_opt(a.u(1), &0u32)?;
    Ok(0)
}
