//! timerfd: a timer as a file. Expirations are counted by one-shot kernel timers (re-armed
//! for periodic timers) that wake readers; `read`, `poll` and `timerfd_gettime` also
//! count the expirations that are due by the clock, so a deadline already in the past is
//! seen at once, whichever CPU's timer fires. `read` returns and resets the count,
//! blocking while it is zero.

use alloc::sync::{Arc, Weak};
use core::any::Any;

use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use super::file::{events, File, FileOps};
use crate::errno::{Errno, SysResult};
use crate::time::{self, Timespec};

pub const TFD_TIMER_ABSTIME: u32 = 1;
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;
pub const TFD_CLOEXEC: u32 = 0o2000000;
pub const TFD_NONBLOCK: u32 = 0o4000;

#[derive(Default)]
struct State {
    /// Absolute monotonic expiry (0: disarmed).
    next_ns: u64,
    interval_ns: u64,
    expirations: u64,
    generation: u64,
}

impl State {
    /// Counts the expirations due at `now` and moves the next one on.
    fn account(&mut self, now: u64) {
        if self.next_ns == 0 || now < self.next_ns {
            return;
        }
        if self.interval_ns > 0 {
            let missed = (now - self.next_ns) / self.interval_ns + 1;
            self.expirations += missed;
            self.next_ns += missed * self.interval_ns;
        } else {
            self.expirations += 1;
            self.next_ns = 0;
        }
    }
}

/// A timerfd.
pub struct TimerFd {
    pub clock: i32,
    state: SpinLock<State>,
    wq: WaitQueue,
    me: Weak<TimerFd>,
}

/// `struct itimerspec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Itimerspec {
    pub interval: Timespec,
    pub value: Timespec,
}

impl TimerFd {
    /// A disarmed timer on `clock`.
    pub fn new(clock: i32) -> Arc<Self> {
        Arc::new_cyclic(|me| Self { clock, state: SpinLock::new(State::default()), wq: WaitQueue::new(), me: me.clone() })
    }

    fn arm(&self, at: u64, gen: u64) {
        let me = self.me.clone();
        rtos::time::timer::add(at, rtos::time::timer::TimerAction::Closure(alloc::boxed::Box::new(move || {
            if let Some(t) = me.upgrade() {
                t.fire(gen);
            }
        })));
    }

    fn fire(&self, gen: u64) {
        let rearm = {
            let mut s = self.state.lock();
            if s.generation != gen || s.next_ns == 0 {
                return;
            }
            s.account(rtos::time::now_ns());
            (s.next_ns != 0).then_some(s.next_ns)
        };
        if let Some(at) = rearm {
            self.arm(at, gen);
        }
        self.wq.wake_all();
    }

    /// `timerfd_settime`: returns the previous setting.
    pub fn set(&self, flags: u32, new: Itimerspec) -> Result<Itimerspec, Errno> {
        let value = new.value.to_ns()?;
        let interval = new.interval.to_ns()?;
        let old = self.get();
        let now = rtos::time::now_ns();
        let at = if value == 0 {
            0
        } else if flags & TFD_TIMER_ABSTIME != 0 {
            match self.clock {
                time::CLOCK_REALTIME | time::CLOCK_REALTIME_ALARM => time::realtime_to_monotonic(value).max(1),
                _ => value.max(1),
            }
        } else {
            now + value
        };
        let gen = {
            let mut s = self.state.lock();
            s.generation += 1;
            s.next_ns = at;
            s.interval_ns = if value == 0 { 0 } else { interval };
            s.expirations = 0;
            s.generation
        };
        if at != 0 {
            self.arm(at, gen);
        }
        Ok(old)
    }

    /// `timerfd_gettime`: time left and interval.
    pub fn get(&self) -> Itimerspec {
        let mut s = self.state.lock();
        s.account(rtos::time::now_ns());
        let left = if s.next_ns == 0 { 0 } else { s.next_ns.saturating_sub(rtos::time::now_ns()).max(1) };
        Itimerspec { interval: Timespec::from_ns(s.interval_ns as i64), value: Timespec::from_ns(left as i64) }
    }
}

impl FileOps for TimerFd {
    fn stat(&self) -> Result<crate::fs::vfs::Stat, crate::errno::Errno> {
        Ok(crate::fs::file::anon_inode_stat())
    }

    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let r = self.wq.wait(WaitOptions::INTERRUPTIBLE, || {
            let mut s = self.state.lock();
            s.account(rtos::time::now_ns());
            if s.expirations > 0 {
                return Some(Ok(core::mem::take(&mut s.expirations)));
            }
            if f.nonblocking() {
                return Some(Err(Errno::EAGAIN));
            }
            None
        });
        let n = r.map_err(|_| Errno::ERESTARTSYS)??;
        buf[..8].copy_from_slice(&n.to_le_bytes());
        Ok(8)
    }

    fn poll(&self, _f: &File) -> u32 {
        let mut s = self.state.lock();
        s.account(rtos::time::now_ns());
        if s.expirations > 0 {
            events::POLLIN | events::POLLRDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
