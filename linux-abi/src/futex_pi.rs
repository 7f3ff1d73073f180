//! Priority-inheritance futexes (`FUTEX_LOCK_PI`, `LOCK_PI2`, `TRYLOCK_PI`, `UNLOCK_PI`,
//! `WAIT_REQUEUE_PI`, `CMP_REQUEUE_PI`).
//!
//! The futex word holds the owner's thread id (low 30 bits), `FUTEX_WAITERS` when threads
//! wait in the kernel, and `FUTEX_OWNER_DIED` after an owner died holding it. Userspace
//! takes and releases an uncontended lock with compare-and-swap alone; the kernel is
//! entered to wait and to hand the lock over. For each contended futex the kernel keeps
//! the owner and the waiters ([`PiState`]); while threads wait, the owner runs with the
//! parameters of the highest waiter when they outrank its own (`set_boost`), transitively
//! along chains of owners that themselves wait for a PI futex. Unlocking hands the lock
//! to the highest-priority waiter (first come among equals) by writing its id into the
//! word, so the lock is never free in between; an owner that exits hands it over with
//! `FUTEX_OWNER_DIED`.
//!
//! The user word is changed under the state lock with non-faulting accesses; the page is
//! faulted in (for writing) before the lock is taken.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use rtos::arch::x86_64::usercopy::{cmpxchg_user_u32, cmpxchg_user_u32_nofault, read_u32_nofault};
use rtos::mm::addrspace::AddressSpace;
use rtos::sched::policy::Params;
use rtos::sched::thread::Thread;
use rtos::sync::SpinLock;

use crate::errno::{Errno, SysResult};
use crate::futex::{key_of, Key};
use crate::process::{find_task, Pid};

pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Longest owner chain followed when propagating a boost.
const MAX_CHAIN: usize = 16;

/// A thread waiting for a PI futex.
pub struct PiWaiter {
    pub thread: Arc<Thread>,
    pub tid: Pid,
    /// Its parameters as the owner should inherit them (updated along chains).
    params: SpinLock<Params>,
    /// The lock was handed to it.
    pub granted: AtomicBool,
    /// Where it sees the word (its address space and address), for hand-over at exit.
    mm: Arc<AddressSpace>,
    uaddr: u64,
    seq: u64,
}

struct PiState {
    owner: Pid,
    waiters: Vec<Arc<PiWaiter>>,
}

static STATES: SpinLock<BTreeMap<Key, PiState>> = SpinLock::new(BTreeMap::new());
static SEQ: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

fn my_tid() -> Pid {
    crate::process::current_task().tid()
}

/// Faults the word in for writing (outside any spinlock); EFAULT if it cannot be.
fn prefault(addr: u64) -> Result<u32, Errno> {
    let v: u32 = crate::uaccess::read(addr)?;
    cmpxchg_user_u32(addr, v, v).map_err(|_| Errno::EFAULT)?;
    Ok(v)
}

/// The highest waiter (effective parameters), first come among equals.
fn top(waiters: &[Arc<PiWaiter>]) -> Option<usize> {
    let mut best: Option<(usize, Params, u64)> = None;
    for (i, w) in waiters.iter().enumerate() {
        let p = *w.params.lock();
        let better = match &best {
            None => true,
            Some((_, bp, bseq)) => p.outranks(bp) || (!bp.outranks(&p) && w.seq < *bseq),
        };
        if better {
            best = Some((i, p, w.seq));
        }
    }
    best.map(|b| b.0)
}

/// The boost `tid` should run with: the best top waiter of the PI futexes it owns.
fn boost_for(states: &BTreeMap<Key, PiState>, tid: Pid) -> Option<Params> {
    let mut best: Option<Params> = None;
    for s in states.values().filter(|s| s.owner == tid) {
        if let Some(i) = top(&s.waiters) {
            let p = *s.waiters[i].params.lock();
            if best.is_none_or(|b| p.outranks(&b)) {
                best = Some(p);
            }
        }
    }
    best
}

/// Recomputes the boost of `tid` and, if it waits for a PI futex itself, of that owner
/// and so on. Called with the state lock held; returns the boosts to apply afterwards.
fn propagate(states: &BTreeMap<Key, PiState>, tid: Pid, out: &mut Vec<(Arc<Thread>, Option<Params>)>) {
    let mut cur = tid;
    for _ in 0..MAX_CHAIN {
        let Some(task) = find_task(cur) else { return };
        let Some(thread) = task.thread() else { return };
        let boost = boost_for(states, cur);
        out.push((thread.clone(), boost));
        // Does `cur` wait for a PI futex? Then its waiter entry carries the new effective
        // parameters and that owner is next.
        let (own, _) = rtos::sched::core::params_of(&thread);
        let eff = match boost {
            Some(b) if b.outranks(&own) => b,
            _ => own,
        };
        let mut next = None;
        for s in states.values() {
            if let Some(w) = s.waiters.iter().find(|w| w.tid == cur) {
                *w.params.lock() = eff;
                next = Some(s.owner);
                break;
            }
        }
        match next {
            Some(o) if o != tid => cur = o,
            _ => return,
        }
    }
}

fn apply(boosts: Vec<(Arc<Thread>, Option<Params>)>) {
    for (t, b) in boosts {
        rtos::sched::core::set_boost(&t, b);
    }
}

/// What one attempt to take the lock found.
enum Attempt {
    Acquired,
    Queued(Arc<PiWaiter>),
    Retry,
}

/// One attempt, under the state lock: take a free lock, or queue `me` as a waiter.
fn attempt(mm: &Arc<AddressSpace>, key: Key, uaddr: u64, tid: Pid, trylock: bool, waiter: Option<Arc<PiWaiter>>) -> Result<Attempt, Errno> {
    let mut boosts = Vec::new();
    let r = {
        let mut states = STATES.lock();
        let Some(val) = read_u32_nofault(uaddr) else { return Ok(Attempt::Retry) };
        let owner = (val & FUTEX_TID_MASK) as Pid;
        if owner == 0 {
            // Free (perhaps after its owner died): take it, keeping the died bit for the
            // new owner to see, and the waiters bit if others wait in the kernel.
            let waiting = states.get(&key).is_some_and(|s| !s.waiters.is_empty());
            let new = tid as u32 | (val & FUTEX_OWNER_DIED) | if waiting { FUTEX_WAITERS } else { 0 };
            if cmpxchg_user_u32_nofault(uaddr, val, new) != Some(val) {
                return Ok(Attempt::Retry);
            }
            if let Some(s) = states.get_mut(&key) {
                s.owner = tid;
                propagate(&states, tid, &mut boosts);
            }
            Attempt::Acquired
        } else if owner == tid {
            return Err(Errno::EDEADLK);
        } else if trylock {
            return Err(Errno::EAGAIN);
        } else {
            if val & FUTEX_WAITERS == 0 && cmpxchg_user_u32_nofault(uaddr, val, val | FUTEX_WAITERS) != Some(val) {
                return Ok(Attempt::Retry);
            }
            if find_task(owner).is_none() {
                // The owner is gone without handing the lock over (Linux: ESRCH).
                return Err(Errno::ESRCH);
            }
            let me = rtos::sched::core::current_arc();
            let w = waiter.unwrap_or_else(|| new_waiter(&me, tid, mm, uaddr));
            let s = states.entry(key).or_insert_with(|| PiState { owner, waiters: Vec::new() });
            s.owner = owner;
            s.waiters.push(w.clone());
            propagate(&states, owner, &mut boosts);
            Attempt::Queued(w)
        }
    };
    apply(boosts);
    Ok(r)
}

fn new_waiter(thread: &Arc<Thread>, tid: Pid, mm: &Arc<AddressSpace>, uaddr: u64) -> Arc<PiWaiter> {
    let params = rtos::sched::core::effective_params_of(thread);
    Arc::new(PiWaiter {
        thread: thread.clone(),
        tid,
        params: SpinLock::new(params),
        granted: AtomicBool::new(false),
        mm: mm.clone(),
        uaddr,
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
    })
}

/// Leaves the wait queue of `key` (timeout, signal); true if the lock was granted meanwhile.
fn withdraw(key: Key, w: &Arc<PiWaiter>) -> bool {
    let mut boosts = Vec::new();
    let granted = {
        let mut states = STATES.lock();
        if w.granted.load(Ordering::Acquire) {
            true
        } else {
            let mut owner = None;
            if let Some(s) = states.get_mut(&key) {
                s.waiters.retain(|x| !Arc::ptr_eq(x, w));
                owner = Some(s.owner);
                if s.waiters.is_empty() {
                    states.remove(&key);
                }
            }
            if let Some(o) = owner {
                propagate(&states, o, &mut boosts);
            }
            false
        }
    };
    apply(boosts);
    granted
}

/// Sleeps until `w` is granted the lock, `deadline_ns` (absolute monotonic) or a signal.
fn sleep_for_grant(key: Key, w: &Arc<PiWaiter>, deadline_ns: Option<u64>) -> SysResult {
    let me = &w.thread;
    loop {
        if w.granted.load(Ordering::Acquire) {
            return Ok(0);
        }
        let timed_out = deadline_ns.is_some_and(|d| rtos::time::now_ns() >= d);
        if timed_out || me.interrupt_pending() {
            if withdraw(key, w) {
                return Ok(0);
            }
            // LOCK_PI restarts after a signal handler (Linux: ERESTARTNOINTR).
            return Err(if timed_out { Errno::ETIMEDOUT } else { Errno::ERESTARTNOINTR });
        }
        let t = deadline_ns.map(|d| rtos::time::timer::add(d, rtos::time::timer::TimerAction::Wake(me.clone())));
        if !w.granted.load(Ordering::Acquire) && !me.interrupt_pending() {
            rtos::sched::core::block_current();
        }
        if let Some(t) = t {
            rtos::time::timer::cancel(&t);
        }
    }
}

/// `FUTEX_LOCK_PI` / `LOCK_PI2` (`deadline_ns` absolute monotonic) and `TRYLOCK_PI`.
pub fn lock(mm: &Arc<AddressSpace>, uaddr: u64, deadline_ns: Option<u64>, trylock: bool, private: bool) -> SysResult {
    let key = key_of(mm, uaddr, private)?;
    let tid = my_tid();
    loop {
        prefault(uaddr)?;
        match attempt(mm, key, uaddr, tid, trylock, None)? {
            Attempt::Acquired => return Ok(0),
            Attempt::Retry => continue,
            Attempt::Queued(w) => return sleep_for_grant(key, &w, deadline_ns),
        }
    }
}

/// Hands the lock of `key` (word at `uaddr`, currently `val`) to its top waiter; with the
/// state lock held. `died` sets FUTEX_OWNER_DIED for the new owner. Returns the waiter
/// woken, or None when nobody waits (the caller frees the word).
fn hand_over(states: &mut BTreeMap<Key, PiState>, key: Key, write: impl FnOnce(u32) -> bool, died: bool) -> Result<Option<Arc<PiWaiter>>, ()> {
    let Some(s) = states.get_mut(&key) else { return Ok(None) };
    let Some(i) = top(&s.waiters) else { return Ok(None) };
    let w = s.waiters[i].clone();
    let more = s.waiters.len() > 1;
    let new = w.tid as u32 | if more { FUTEX_WAITERS } else { 0 } | if died { FUTEX_OWNER_DIED } else { 0 };
    if !write(new) {
        return Err(());
    }
    s.waiters.remove(i);
    s.owner = w.tid;
    if s.waiters.is_empty() {
        states.remove(&key);
    }
    w.granted.store(true, Ordering::Release);
    Ok(Some(w))
}

/// `FUTEX_UNLOCK_PI`.
pub fn unlock(mm: &Arc<AddressSpace>, uaddr: u64, private: bool) -> SysResult {
    let key = key_of(mm, uaddr, private)?;
    let tid = my_tid();
    loop {
        prefault(uaddr)?;
        let mut boosts = Vec::new();
        let woken = {
            let mut states = STATES.lock();
            let Some(val) = read_u32_nofault(uaddr) else { continue };
            if (val & FUTEX_TID_MASK) as Pid != tid {
                return Err(Errno::EPERM);
            }
            match hand_over(&mut states, key, |new| cmpxchg_user_u32_nofault(uaddr, val, new) == Some(val), false) {
                Err(()) => continue,
                Ok(Some(w)) => {
                    propagate(&states, tid, &mut boosts);
                    propagate(&states, w.tid, &mut boosts);
                    Some(w)
                }
                Ok(None) => {
                    if cmpxchg_user_u32_nofault(uaddr, val, 0) != Some(val) {
                        continue;
                    }
                    None
                }
            }
        };
        apply(boosts);
        if let Some(w) = woken {
            rtos::sched::core::wake(&w.thread);
        }
        return Ok(0);
    }
}

/// A thread is exiting: every PI futex it owns with waiters goes to the top waiter, with
/// FUTEX_OWNER_DIED (the robust-list pass handles the ones without kernel waiters).
pub fn owner_exited(tid: Pid) {
    let mut woken = Vec::new();
    let mut boosts = Vec::new();
    {
        let mut states = STATES.lock();
        let keys: Vec<Key> = states.iter().filter(|(_, s)| s.owner == tid).map(|(k, _)| *k).collect();
        for key in keys {
            // The word is written through the waiter's own mapping of it.
            let target = states.get(&key).and_then(|s| top(&s.waiters).map(|i| (s.waiters[i].mm.clone(), s.waiters[i].uaddr)));
            let Some((wmm, waddr)) = target else { continue };
            let write = |new: u32| wmm.write(waddr, &new.to_le_bytes()).is_ok();
            if let Ok(Some(w)) = hand_over(&mut states, key, write, true) {
                propagate(&states, w.tid, &mut boosts);
                woken.push(w);
            }
        }
    }
    apply(boosts);
    for w in woken {
        rtos::sched::core::wake(&w.thread);
    }
}

/// The part of a `FUTEX_WAIT_REQUEUE_PI` waiter that `CMP_REQUEUE_PI` needs: the PI futex
/// it expects to be moved to, and its PI waiter record (granted when it gets the lock).
pub struct RequeuePi {
    pub target: Key,
    pub waiter: Arc<PiWaiter>,
}

/// Prepares the PI side of a `FUTEX_WAIT_REQUEUE_PI` on `uaddr2`.
pub fn prepare_requeue_waiter(mm: &Arc<AddressSpace>, uaddr2: u64, private: bool) -> Result<RequeuePi, Errno> {
    let target = key_of(mm, uaddr2, private)?;
    let me = rtos::sched::core::current_arc();
    Ok(RequeuePi { target, waiter: new_waiter(&me, my_tid(), mm, uaddr2) })
}

/// `CMP_REQUEUE_PI`'s PI half, for waiters already taken off the first futex: the first
/// tries to take the PI futex at `uaddr2` (it is woken owning it), the others become its
/// waiters (boosting its owner). Returns how many were woken.
pub fn requeue_to_pi(key2: Key, uaddr2: u64, moved: Vec<Arc<PiWaiter>>) -> Result<usize, Errno> {
    prefault(uaddr2)?;
    let mut woken = Vec::new();
    let mut boosts = Vec::new();
    loop {
        let mut states = STATES.lock();
        let Some(val) = read_u32_nofault(uaddr2) else {
            drop(states);
            prefault(uaddr2)?;
            continue;
        };
        let mut rest = moved.as_slice();
        let mut owner = (val & FUTEX_TID_MASK) as Pid;
        if owner == 0 {
            if let Some((first, others)) = moved.split_first() {
                let waiting = !others.is_empty() || states.get(&key2).is_some_and(|s| !s.waiters.is_empty());
                let new = first.tid as u32 | (val & FUTEX_OWNER_DIED) | if waiting { FUTEX_WAITERS } else { 0 };
                if cmpxchg_user_u32_nofault(uaddr2, val, new) != Some(val) {
                    continue;
                }
                first.granted.store(true, Ordering::Release);
                woken.push(first.clone());
                owner = first.tid;
                rest = others;
            }
        } else if !rest.is_empty() && val & FUTEX_WAITERS == 0 && cmpxchg_user_u32_nofault(uaddr2, val, val | FUTEX_WAITERS) != Some(val) {
            continue;
        }
        if !rest.is_empty() {
            let s = states.entry(key2).or_insert_with(|| PiState { owner, waiters: Vec::new() });
            s.owner = owner;
            s.waiters.extend(rest.iter().cloned());
        }
        if let Some(s) = states.get_mut(&key2) {
            s.owner = owner;
        }
        propagate(&states, owner, &mut boosts);
        break;
    }
    apply(boosts);
    let n = woken.len();
    for w in woken {
        rtos::sched::core::wake(&w.thread);
    }
    Ok(n)
}

/// A `WAIT_REQUEUE_PI` waiter that was requeued sleeps here for the PI lock.
pub fn wait_requeued(r: &RequeuePi, deadline_ns: Option<u64>) -> SysResult {
    sleep_for_grant(r.target, &r.waiter, deadline_ns)
}
