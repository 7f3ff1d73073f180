//! epoll: readiness notification for many descriptors.
//!
//! An interest is keyed by (open file description, descriptor number), as in Linux. Each
//! interest registers a callback on its file's wait queue; every wake-up of that queue puts
//! the interest on the ready list and wakes `epoll_wait` sleepers. `epoll_wait` re-polls each
//! ready interest: level-triggered ones stay on the list while ready, edge-triggered ones
//! leave it until the next wake-up (so every write to an eventfd is a new edge, even when it
//! was already readable), one-shot ones are disabled after one report. Readiness that exists
//! when an interest is added is reported. The epoll's own wait queue makes nested epolls work.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;

use rtos::sync::{SpinLock, WaitQueue};

use super::file::{events, File, FileOps};
use crate::errno::{Errno, SysResult};

pub const EPOLLIN: u32 = 0x001;
pub const EPOLLPRI: u32 = 0x002;
pub const EPOLLOUT: u32 = 0x004;
pub const EPOLLERR: u32 = 0x008;
pub const EPOLLHUP: u32 = 0x010;
pub const EPOLLRDNORM: u32 = 0x040;
pub const EPOLLRDBAND: u32 = 0x080;
pub const EPOLLWRNORM: u32 = 0x100;
pub const EPOLLWRBAND: u32 = 0x200;
pub const EPOLLMSG: u32 = 0x400;
pub const EPOLLRDHUP: u32 = 0x2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

pub const EPOLL_CTL_ADD: i32 = 1;
pub const EPOLL_CTL_DEL: i32 = 2;
pub const EPOLL_CTL_MOD: i32 = 3;

/// Interest key: (open file description, descriptor).
type Key = (usize, i32);

struct Interest {
    file: Weak<File>,
    events: u32,
    data: u64,
    /// On the ready list.
    queued: bool,
    /// One-shot interest that already fired.
    disabled: bool,
    /// The wait-queue callbacks: (id, on the file's write queue).
    callbacks: Vec<(u64, bool)>,
}

#[derive(Default)]
struct Inner {
    interests: BTreeMap<Key, Interest>,
    ready: VecDeque<Key>,
}

/// An epoll instance.
pub struct Epoll {
    inner: SpinLock<Inner>,
    wq: WaitQueue,
    me: Weak<Epoll>,
}

impl Epoll {
    /// A new, empty instance.
    pub fn new() -> Arc<Self> {
        Arc::new_cyclic(|me| Self { inner: SpinLock::new(Inner::default()), wq: WaitQueue::new(), me: me.clone() })
    }

    fn mark_ready(&self, key: Key) -> bool {
        let mut g = self.inner.lock();
        let Some(i) = g.interests.get_mut(&key) else { return false };
        if i.file.strong_count() == 0 {
            g.interests.remove(&key);
            return false;
        }
        if !i.queued && !i.disabled {
            i.queued = true;
            g.ready.push_back(key);
        }
        drop(g);
        self.wq.wake_all();
        true
    }

    /// Registers wake-up callbacks for an interest in `events`: on the file's queue, or,
    /// for a file whose writers wait apart (eventfd), on the queue of each side the
    /// interest watches — so, as with Linux's keyed wake-ups, a write does not make an
    /// edge for an interest in writability only.
    fn register(&self, key: Key, file: &Arc<File>, events: u32) -> Vec<(u64, bool)> {
        const READ_SIDE: u32 = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLRDHUP | EPOLLMSG;
        const WRITE_SIDE: u32 = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
        let mut queues: Vec<(&WaitQueue, bool)> = Vec::new();
        match (file.ops.wait_queue(), file.ops.write_wait_queue()) {
            (Some(r), None) => queues.push((r, false)),
            (r, Some(w)) => {
                if let Some(r) = r.filter(|_| events & READ_SIDE != 0) {
                    queues.push((r, false));
                }
                if events & WRITE_SIDE != 0 {
                    queues.push((w, true));
                }
            }
            (None, None) => {}
        }
        queues
            .into_iter()
            .map(|(q, write)| {
                let ep = self.me.clone();
                (q.add_callback(Arc::new(move || ep.upgrade().is_some_and(|e| e.mark_ready(key)))), write)
            })
            .collect()
    }

    fn unregister(file: &File, callbacks: &[(u64, bool)]) {
        for &(id, write) in callbacks {
            let q = if write { file.ops.write_wait_queue() } else { file.ops.wait_queue() };
            if let Some(q) = q {
                q.remove_callback(id);
            }
        }
    }

    /// `EPOLL_CTL_*`.
    pub fn ctl(&self, op: i32, fd: i32, file: &Arc<File>, events_in: u32, data: u64) -> Result<(), Errno> {
        let key = (Arc::as_ptr(file) as usize, fd);
        // EPOLLERR and EPOLLHUP are always reported.
        let events = events_in | EPOLLERR | EPOLLHUP;
        match op {
            EPOLL_CTL_ADD => {
                // EPOLLEXCLUSIVE: only in/out readiness, never on an epoll (Linux's
                // EPOLLEXCLUSIVE_OK_BITS).
                const EXCLUSIVE_OK: u32 = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
                if events_in & EPOLLEXCLUSIVE != 0
                    && (events_in & !EXCLUSIVE_OK != 0 || file.ops.as_any().downcast_ref::<Epoll>().is_some())
                {
                    return Err(Errno::EINVAL);
                }
                {
                    let mut g = self.inner.lock();
                    if g.interests.contains_key(&key) {
                        return Err(Errno::EEXIST);
                    }
                    g.interests.insert(key, Interest { file: Arc::downgrade(file), events, data, queued: false, disabled: false, callbacks: Vec::new() });
                }
                let cbs = self.register(key, file, events);
                self.inner.lock().interests.entry(key).and_modify(|i| i.callbacks = cbs);
                self.check_now(key, file, events);
                Ok(())
            }
            EPOLL_CTL_MOD => {
                let old = {
                    let mut g = self.inner.lock();
                    let i = g.interests.get_mut(&key).ok_or(Errno::ENOENT)?;
                    if i.events & EPOLLEXCLUSIVE != 0 || events_in & EPOLLEXCLUSIVE != 0 {
                        return Err(Errno::EINVAL);
                    }
                    i.events = events;
                    i.data = data;
                    i.disabled = false;
                    core::mem::take(&mut i.callbacks)
                };
                // The events decide which queues to watch.
                Self::unregister(file, &old);
                let cbs = self.register(key, file, events);
                self.inner.lock().interests.entry(key).and_modify(|i| i.callbacks = cbs);
                self.check_now(key, file, events);
                Ok(())
            }
            EPOLL_CTL_DEL => {
                let i = self.inner.lock().interests.remove(&key).ok_or(Errno::ENOENT)?;
                self.inner.lock().ready.retain(|k| *k != key);
                Self::unregister(file, &i.callbacks);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// Queues `key` if its file is ready now (readiness present at ADD/MOD is reported).
    fn check_now(&self, key: Key, file: &Arc<File>, events: u32) {
        if file.ops.poll(file) & events != 0 {
            self.mark_ready(key);
        }
    }

    /// Collects up to `max` events without sleeping.
    fn collect(&self, max: usize) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut g = self.inner.lock();
        let mut requeue = Vec::new();
        while out.len() < max {
            let Some(key) = g.ready.pop_front() else { break };
            let Some(i) = g.interests.get_mut(&key) else { continue };
            i.queued = false;
            if i.disabled {
                continue;
            }
            let Some(file) = i.file.upgrade() else {
                g.interests.remove(&key);
                continue;
            };
            let (ev_mask, data) = (i.events, i.data);
            // Poll without holding our lock (the file may be another epoll).
            drop(g);
            let revents = file.ops.poll(&file) & ev_mask;
            g = self.inner.lock();
            let Some(i) = g.interests.get_mut(&key) else { continue };
            if revents == 0 {
                continue;
            }
            out.push((revents, data));
            if ev_mask & EPOLLONESHOT != 0 {
                i.disabled = true;
            } else if ev_mask & EPOLLET == 0 && !i.queued {
                i.queued = true;
                requeue.push(key);
            }
        }
        g.ready.extend(requeue);
        out
    }

    /// `epoll_wait`: waits until events arrive, the deadline passes, or a signal.
    pub fn wait(&self, max: usize, deadline: Option<u64>) -> Result<Vec<(u32, u64)>, Errno> {
        let me = rtos::sched::core::current_arc();
        loop {
            let got = self.collect(max);
            if !got.is_empty() {
                return Ok(got);
            }
            if deadline.is_some_and(|d| rtos::time::now_ns() >= d) {
                return Ok(got);
            }
            if crate::fs::poll::signal_pending(&me) {
                return Err(Errno::EINTR);
            }
            self.wq.add_waiter(&me);
            let empty = self.inner.lock().ready.is_empty();
            let t = deadline.filter(|_| empty).map(|d| rtos::time::timer::add(d, rtos::time::timer::TimerAction::Wake(me.clone())));
            if empty && !me.interrupt_pending() {
                rtos::sched::core::block_current();
            }
            if let Some(t) = t {
                rtos::time::timer::cancel(&t);
            }
            self.wq.remove_waiter(&me);
        }
    }

    /// Whether `other` (an epoll) is reachable from this one (loop detection), with depth.
    fn reaches(&self, target: *const Epoll, depth: u32) -> Result<bool, Errno> {
        if depth > 5 {
            return Err(Errno::ELOOP);
        }
        let files: Vec<Arc<File>> = self.inner.lock().interests.values().filter_map(|i| i.file.upgrade()).collect();
        for f in files {
            if let Some(e) = f.ops.as_any().downcast_ref::<Epoll>() {
                if core::ptr::eq(e, target) || e.reaches(target, depth + 1)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Checks that adding `file` to this epoll creates no cycle (ELOOP).
    pub fn check_loop(&self, file: &Arc<File>) -> Result<(), Errno> {
        if let Some(other) = file.ops.as_any().downcast_ref::<Epoll>() {
            if core::ptr::eq(other, self) {
                return Err(Errno::EINVAL);
            }
            if other.reaches(self as *const Epoll, 1)? {
                return Err(Errno::ELOOP);
            }
        }
        Ok(())
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        let interests = core::mem::take(&mut self.inner.get_mut().interests);
        for (_, i) in interests {
            if let Some(f) = i.file.upgrade() {
                Self::unregister(&f, &i.callbacks);
            }
        }
    }
}

impl FileOps for Epoll {
    fn stat(&self) -> Result<crate::fs::vfs::Stat, crate::errno::Errno> {
        Ok(crate::fs::file::anon_inode_stat())
    }

    fn poll(&self, _f: &File) -> u32 {
        // Readable when some interest is ready (checked without consuming events).
        let keys: Vec<(Key, Weak<File>, u32)> = {
            let g = self.inner.lock();
            g.ready.iter().filter_map(|k| g.interests.get(k).map(|i| (*k, i.file.clone(), i.events))).collect()
        };
        for (_, f, ev) in keys {
            if let Some(f) = f.upgrade() {
                if f.ops.poll(&f) & ev != 0 {
                    return events::POLLIN | events::POLLRDNORM;
                }
            }
        }
        0
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn read(&self, _f: &File, _buf: &mut [u8]) -> SysResult {
        Err(Errno::EINVAL)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
