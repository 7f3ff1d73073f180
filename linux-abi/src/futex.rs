//! Futexes: sleeping on a user word until another thread changes it and wakes the sleepers.
//!
//! Keys: a private futex (or any futex in private memory) is keyed by (address space,
//! address); a shared futex in a shared mapping by (backing object, offset), so processes
//! that map one file at different addresses meet on the same key. The value check and the
//! enqueue happen under the bucket lock (with page faults disabled), as in Linux, so a
//! wake-up between the check and the sleep is never lost.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use rtos::mm::addrspace::AddressSpace;
use rtos::sched::thread::Thread;
use rtos::sync::SpinLock;

use crate::errno::{Errno, SysResult};

/// Futex operation numbers.
pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_WAKE: u32 = 1;
pub const FUTEX_FD: u32 = 2;
pub const FUTEX_REQUEUE: u32 = 3;
pub const FUTEX_CMP_REQUEUE: u32 = 4;
pub const FUTEX_WAKE_OP: u32 = 5;
pub const FUTEX_LOCK_PI: u32 = 6;
pub const FUTEX_UNLOCK_PI: u32 = 7;
pub const FUTEX_TRYLOCK_PI: u32 = 8;
pub const FUTEX_WAIT_BITSET: u32 = 9;
pub const FUTEX_WAKE_BITSET: u32 = 10;
pub const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
pub const FUTEX_CMP_REQUEUE_PI: u32 = 12;
pub const FUTEX_LOCK_PI2: u32 = 13;
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// Where a futex lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// (address space, user address).
    Private(usize, u64),
    /// (backing object, byte offset).
    Shared(usize, u64),
}

struct Waiter {
    thread: Arc<Thread>,
    bitset: u32,
    woken: AtomicBool,
    /// A `FUTEX_WAIT_REQUEUE_PI` waiter: the PI futex it may be moved to.
    requeue_pi: Option<crate::futex_pi::RequeuePi>,
    /// It was moved to that PI futex (it then waits for the lock there).
    requeued: AtomicBool,
}

static QUEUES: SpinLock<BTreeMap<Key, VecDeque<Arc<Waiter>>>> = SpinLock::new(BTreeMap::new());

/// Computes the key of the futex at `addr` in `mm`.
pub fn key_of(mm: &Arc<AddressSpace>, addr: u64, private: bool) -> Result<Key, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    if !rtos::mm::layout::is_user_range(addr, 4) {
        return Err(Errno::EFAULT);
    }
    let mm_id = Arc::as_ptr(mm) as usize;
    if private {
        return Ok(Key::Private(mm_id, addr));
    }
    let inner = mm.lock();
    let (start, _, vma) = inner.vmas.find(addr).ok_or(Errno::EFAULT)?;
    if vma.flags.contains(rtos::mm::addrspace::VmFlags::SHARED) {
        if let Some(obj) = &vma.object {
            let id = Arc::as_ptr(obj) as *const () as usize;
            return Ok(Key::Shared(id, vma.offset + (addr - start)));
        }
    }
    // Linux refuses shared futexes on read-only private anonymous memory.
    if vma.object.is_none() && !vma.prot.contains(rtos::mm::addrspace::Prot::WRITE) {
        return Err(Errno::EFAULT);
    }
    Ok(Key::Private(mm_id, addr))
}

fn read_word_nofault(addr: u64) -> Option<u32> {
    rtos::arch::x86_64::usercopy::read_u32_nofault(addr)
}

/// `FUTEX_WAIT`/`FUTEX_WAIT_BITSET`: sleeps if `*addr == val`, until woken, the absolute
/// monotonic `deadline_ns`, or a signal.
pub fn wait(mm: &Arc<AddressSpace>, addr: u64, val: u32, bitset: u32, deadline_ns: Option<u64>, private: bool) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(mm, addr, private)?;
    let me = rtos::sched::core::current_arc();
    let w = Arc::new(Waiter { thread: me.clone(), bitset, woken: AtomicBool::new(false), requeue_pi: None, requeued: AtomicBool::new(false) });
    enqueue_and_sleep(key, addr, val, &w, deadline_ns)
}

/// Queues `w` on `key` if `*addr == val` (else EAGAIN), then sleeps until woken, the
/// deadline or a signal.
fn enqueue_and_sleep(key: Key, addr: u64, val: u32, w: &Arc<Waiter>, deadline_ns: Option<u64>) -> SysResult {
    let me = w.thread.clone();
    loop {
        let mut q = QUEUES.lock();
        match read_word_nofault(addr) {
            Some(cur) if cur != val => return Err(Errno::EAGAIN),
            Some(_) => {
                q.entry(key).or_default().push_back(w.clone());
                break;
            }
            None => {
                drop(q);
                // Fault the page in (or fail with EFAULT) outside the lock, then retry.
                let v: u32 = crate::uaccess::read(addr)?;
                if v != val {
                    return Err(Errno::EAGAIN);
                }
            }
        }
    }
    let res = loop {
        if w.woken.load(Ordering::Acquire) {
            break Ok(0);
        }
        if me.interrupt_pending() {
            break Err(Errno::ERESTARTSYS);
        }
        if deadline_ns.is_some_and(|d| rtos::time::now_ns() >= d) {
            break Err(Errno::ETIMEDOUT);
        }
        let t = deadline_ns.map(|d| rtos::time::timer::add(d, rtos::time::timer::TimerAction::Wake(me.clone())));
        if !w.woken.load(Ordering::Acquire) && !me.interrupt_pending() {
            rtos::sched::core::block_current();
        }
        if let Some(t) = t {
            rtos::time::timer::cancel(&t);
        }
    };
    if res.is_err() {
        // Leave the queue (unless a waker took us out in the meantime: then it is a wake-up).
        let mut q = QUEUES.lock();
        let mut removed = false;
        for list in q.values_mut() {
            if let Some(i) = list.iter().position(|x| Arc::ptr_eq(x, w)) {
                list.remove(i);
                removed = true;
                break;
            }
        }
        q.retain(|_, l| !l.is_empty());
        if !removed && w.woken.load(Ordering::Acquire) {
            return Ok(0);
        }
    }
    res
}

/// Wakes up to `n` waiters on `key` whose bitset intersects `bitset`.
pub fn wake_key(key: Key, n: usize, bitset: u32) -> usize {
    let mut woken = alloc::vec::Vec::new();
    {
        let mut q = QUEUES.lock();
        if let Some(list) = q.get_mut(&key) {
            let mut i = 0;
            while i < list.len() && woken.len() < n {
                if list[i].bitset & bitset != 0 {
                    if let Some(w) = list.remove(i) {
                        w.woken.store(true, Ordering::Release);
                        woken.push(w);
                    }
                } else {
                    i += 1;
                }
            }
            if list.is_empty() {
                q.remove(&key);
            }
        }
    }
    for w in &woken {
        rtos::sched::core::wake(&w.thread);
    }
    woken.len()
}

/// `FUTEX_WAKE`/`FUTEX_WAKE_BITSET`.
pub fn wake(mm: &Arc<AddressSpace>, addr: u64, n: usize, bitset: u32, private: bool) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(mm, addr, private)?;
    Ok(wake_key(key, n, bitset))
}

/// `FUTEX_REQUEUE`/`FUTEX_CMP_REQUEUE`: wakes `n_wake` waiters on `addr` and moves up to
/// `n_requeue` others to `addr2`; with `cmp`, only if `*addr == cmp` (else EAGAIN).
pub fn requeue(mm: &Arc<AddressSpace>, addr: u64, addr2: u64, n_wake: usize, n_requeue: usize, cmp: Option<u32>, private: bool) -> SysResult {
    let k1 = key_of(mm, addr, private)?;
    let k2 = key_of(mm, addr2, private)?;
    let mut woken = alloc::vec::Vec::new();
    let moved;
    loop {
        let mut q = QUEUES.lock();
        if let Some(c) = cmp {
            match read_word_nofault(addr) {
                Some(v) if v != c => return Err(Errno::EAGAIN),
                Some(_) => {}
                None => {
                    drop(q);
                    let v: u32 = crate::uaccess::read(addr)?;
                    if v != c {
                        return Err(Errno::EAGAIN);
                    }
                    continue;
                }
            }
        }
        let mut list = q.remove(&k1).unwrap_or_default();
        while woken.len() < n_wake {
            let Some(w) = list.pop_front() else { break };
            w.woken.store(true, Ordering::Release);
            woken.push(w);
        }
        let take = n_requeue.min(list.len());
        let rest = list.split_off(take);
        moved = list.len();
        if !list.is_empty() {
            q.entry(k2).or_default().extend(list);
        }
        if !rest.is_empty() {
            q.insert(k1, rest);
        }
        break;
    }
    for w in &woken {
        rtos::sched::core::wake(&w.thread);
    }
    Ok(woken.len() + moved)
}

/// `FUTEX_WAKE_OP`: atomically applies an operation to `*addr2`, wakes `n` on `addr`, and
/// wakes `n2` on `addr2` if the old value of `*addr2` passes the comparison.
pub fn wake_op(mm: &Arc<AddressSpace>, addr: u64, addr2: u64, n: usize, n2: usize, op: u32, private: bool) -> SysResult {
    let k1 = key_of(mm, addr, private)?;
    let k2 = key_of(mm, addr2, private)?;
    let opcode = (op >> 28) & 7;
    let shift = op & (8 << 28) != 0;
    let cmp = (op >> 24) & 15;
    let mut oparg = (op >> 12) & 0xfff;
    let cmparg = op & 0xfff;
    // Sign-extend the 12-bit arguments.
    let sext = |v: u32| ((v << 20) as i32 >> 20) as u32;
    oparg = sext(oparg);
    let cmparg = sext(cmparg);
    if shift {
        if oparg > 31 {
            return Err(Errno::EINVAL);
        }
        oparg = 1 << oparg;
    }
    let old = loop {
        let cur: u32 = crate::uaccess::read(addr2)?;
        let new = match opcode {
            0 => oparg,
            1 => cur.wrapping_add(oparg),
            2 => cur | oparg,
            3 => cur & !oparg,
            4 => cur ^ oparg,
            _ => return Err(Errno::ENOSYS),
        };
        if rtos::arch::x86_64::usercopy::cmpxchg_user_u32(addr2, cur, new)? == cur {
            break cur;
        }
    };
    let pass = match cmp {
        0 => old == cmparg,
        1 => old != cmparg,
        2 => (old as i32) < (cmparg as i32),
        3 => (old as i32) <= (cmparg as i32),
        4 => (old as i32) > (cmparg as i32),
        5 => (old as i32) >= (cmparg as i32),
        _ => return Err(Errno::ENOSYS),
    };
    let mut total = wake_key(k1, n, FUTEX_BITSET_MATCH_ANY);
    if pass {
        total += wake_key(k2, n2, FUTEX_BITSET_MATCH_ANY);
    }
    Ok(total)
}

/// `FUTEX_WAIT_REQUEUE_PI`: waits on `addr` (if `*addr == val`) to be moved by
/// `FUTEX_CMP_REQUEUE_PI` to the PI futex `addr2`, and returns owning it.
pub fn wait_requeue_pi(mm: &Arc<AddressSpace>, addr: u64, val: u32, deadline_ns: Option<u64>, addr2: u64, private: bool) -> SysResult {
    if addr == addr2 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(mm, addr, private)?;
    let rq = crate::futex_pi::prepare_requeue_waiter(mm, addr2, private)?;
    let me = rtos::sched::core::current_arc();
    let w = Arc::new(Waiter { thread: me, bitset: FUTEX_BITSET_MATCH_ANY, woken: AtomicBool::new(false), requeue_pi: Some(rq), requeued: AtomicBool::new(false) });
    let r = enqueue_and_sleep(key, addr, val, &w, deadline_ns);
    if let (true, Some(rq)) = (w.requeued.load(Ordering::Acquire), w.requeue_pi.as_ref()) {
        return crate::futex_pi::wait_requeued(rq, deadline_ns);
    }
    match r {
        // Woken on the first futex without being moved: Linux reports EAGAIN.
        Ok(_) => Err(Errno::EAGAIN),
        Err(e) => Err(e),
    }
}

/// `FUTEX_CMP_REQUEUE_PI`: if `*addr == cmp`, moves up to `1 + n_requeue` of the
/// `WAIT_REQUEUE_PI` waiters of `addr` to the PI futex `addr2`: the first takes it if it is
/// free; the others wait for it. Returns how many were woken or moved.
pub fn cmp_requeue_pi(mm: &Arc<AddressSpace>, addr: u64, addr2: u64, n_wake: usize, n_requeue: usize, cmp: u32, private: bool) -> SysResult {
    if n_wake != 1 || addr == addr2 {
        return Err(Errno::EINVAL);
    }
    let k1 = key_of(mm, addr, private)?;
    let k2 = key_of(mm, addr2, private)?;
    let moved: alloc::vec::Vec<Arc<Waiter>> = loop {
        let mut q = QUEUES.lock();
        match read_word_nofault(addr) {
            Some(v) if v != cmp => return Err(Errno::EAGAIN),
            Some(_) => {}
            None => {
                drop(q);
                let v: u32 = crate::uaccess::read(addr)?;
                if v != cmp {
                    return Err(Errno::EAGAIN);
                }
                continue;
            }
        }
        let Some(list) = q.get_mut(&k1) else { break alloc::vec::Vec::new() };
        // Every waiter must be a requeue-PI waiter for this very PI futex.
        if list.iter().any(|w| w.requeue_pi.as_ref().is_none_or(|r| r.target != k2)) {
            return Err(Errno::EINVAL);
        }
        let take = (1 + n_requeue).min(list.len());
        let moved: alloc::vec::Vec<_> = list.drain(..take).collect();
        if list.is_empty() {
            q.remove(&k1);
        }
        for w in &moved {
            w.requeued.store(true, Ordering::Release);
            w.woken.store(true, Ordering::Release);
        }
        break moved;
    };
    let pi: alloc::vec::Vec<_> = moved.iter().filter_map(|w| w.requeue_pi.as_ref().map(|r| r.waiter.clone())).collect();
    crate::futex_pi::requeue_to_pi(k2, addr2, pi)?;
    for w in &moved {
        rtos::sched::core::wake(&w.thread);
    }
    Ok(moved.len())
}
