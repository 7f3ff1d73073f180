//! Scheduling calls: policies and priorities (FIFO/RR/OTHER/BATCH/IDLE), affinity, yield,
//! nice values, `getcpu`.
//!
//! Entering a real-time class needs privilege, as on Linux: Axle runs everything as root,
//! so it is allowed here; the capability rules of the dataflow profile refine this later.

use rtos::sched::policy::{Params, Policy};

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::{self, current_task};
use crate::uaccess;

fn thread_of(pid: i32) -> Result<alloc::sync::Arc<rtos::sched::thread::Thread>, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let t = if pid == 0 { current_task() } else { process::find_task(pid).ok_or(Errno::ESRCH)? };
    t.thread().ok_or(Errno::ESRCH)
}

pub fn sched_yield(_: Args) -> SysResult {
    rtos::sched::core::yield_now();
    Ok(0)
}

fn online_mask() -> u64 {
    let n = rtos::percpu::online();
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// `sched_getaffinity(pid, size, mask)`: returns the bytes written (a multiple of 8).
pub fn sched_getaffinity(a: Args) -> SysResult {
    let len = a.us(1);
    if len < 8 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let t = thread_of(a.i(0))?;
    let (_, mask) = rtos::sched::core::params_of(&t);
    uaccess::write(a.u(2), &(mask & online_mask()))?;
    Ok(8)
}

/// `sched_setaffinity(pid, size, mask)`: moves the thread if it runs on a CPU no longer allowed.
pub fn sched_setaffinity(a: Args) -> SysResult {
    let len = a.us(1);
    let mut bytes = [0u8; 8];
    let n = len.min(8);
    uaccess::read_bytes(a.u(2), &mut bytes[..n])?;
    let mask = u64::from_le_bytes(bytes) & online_mask();
    if mask == 0 {
        return Err(Errno::EINVAL);
    }
    let t = thread_of(a.i(0))?;
    rtos::sched::core::set_params(&t, None, Some(mask));
    Ok(0)
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SchedParam {
    priority: i32,
}

fn set_policy(pid: i32, policy: Option<i32>, param_addr: u64) -> SysResult {
    if param_addr == 0 {
        return Err(Errno::EINVAL);
    }
    let sp: SchedParam = uaccess::read(param_addr)?;
    let t = thread_of(pid)?;
    let (cur, _) = rtos::sched::core::params_of(&t);
    let policy = match policy {
        Some(p) => Policy::from_linux(p & !0x4000_0000).ok_or(Errno::EINVAL)?,
        None => cur.policy,
    };
    if !(0..=99).contains(&sp.priority) {
        return Err(Errno::EINVAL);
    }
    let params = Params { policy, rt_priority: sp.priority as u8, nice: cur.nice };
    if !params.valid() {
        return Err(Errno::EINVAL);
    }
    rtos::sched::core::set_params(&t, Some(params), None);
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

pub fn sched_getscheduler(a: Args) -> SysResult {
    let t = thread_of(a.i(0))?;
    Ok(rtos::sched::core::params_of(&t).0.policy.to_linux() as usize)
}

pub fn sched_getparam(a: Args) -> SysResult {
    if a.u(1) == 0 {
        return Err(Errno::EINVAL);
    }
    let t = thread_of(a.i(0))?;
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
    let t = thread_of(a.i(0))?;
    let p = rtos::sched::core::params_of(&t).0;
    let ns = match p.policy {
        Policy::Rr => rtos::sched::policy::RR_QUANTUM_NS,
        Policy::Fifo => 0,
        _ => rtos::sched::policy::FAIR_LATENCY_NS,
    };
    uaccess::write(a.u(1), &crate::time::Timespec::from_ns(ns as i64))?;
    Ok(0)
}

const PRIO_PROCESS: i32 = 0;
const PRIO_PGRP: i32 = 1;
const PRIO_USER: i32 = 2;

fn prio_targets(which: i32, who: i32) -> Result<alloc::vec::Vec<alloc::sync::Arc<rtos::sched::thread::Thread>>, Errno> {
    let tasks: alloc::vec::Vec<_> = match which {
        PRIO_PROCESS => {
            let p = if who == 0 { process::current_process() } else { process::find_process(who).ok_or(Errno::ESRCH)? };
            p.tasks()
        }
        PRIO_PGRP => {
            let g = if who == 0 { process::current_process().pgid() } else { who };
            process::group_members(g).iter().flat_map(|p| p.tasks()).collect()
        }
        PRIO_USER => process::all_processes().iter().flat_map(|p| p.tasks()).collect(),
        _ => return Err(Errno::EINVAL),
    };
    let threads: alloc::vec::Vec<_> = tasks.iter().filter_map(|t| t.thread()).collect();
    if threads.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(threads)
}

/// `getpriority`: returns 20 - nice (the raw syscall's convention).
pub fn getpriority(a: Args) -> SysResult {
    let ts = prio_targets(a.i(0), a.i(1))?;
    let best = ts.iter().map(|t| rtos::sched::core::params_of(t).0.nice).min().unwrap_or(0);
    Ok((20 - i32::from(best)) as usize)
}

pub fn setpriority(a: Args) -> SysResult {
    let nice = a.i(2).clamp(-20, 19) as i8;
    for t in prio_targets(a.i(0), a.i(1))? {
        let (mut p, _) = rtos::sched::core::params_of(&t);
        p.nice = nice;
        rtos::sched::core::set_params(&t, Some(p), None);
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
