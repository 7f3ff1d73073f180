//! eventfd: a 64-bit counter as a file. `write` adds, `read` takes the whole count (or
//! one, with `EFD_SEMAPHORE`); readers block at zero, writers block when the count would
//! pass 0xffff_ffff_ffff_fffe. Every write wakes the readers' queue, so epoll sees a new
//! edge each time even if the counter was already non-zero; reads wake the writers'
//! queue (an interest in writability only sees an edge when room is made).

use alloc::sync::Arc;
use core::any::Any;

use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use super::file::{events, File, FileOps};
use crate::errno::{Errno, SysResult};

pub const EFD_SEMAPHORE: u32 = 1;
pub const EFD_CLOEXEC: u32 = 0o2000000;
pub const EFD_NONBLOCK: u32 = 0o4000;

const MAX: u64 = u64::MAX - 1;

/// An eventfd.
pub struct EventFd {
    count: SpinLock<u64>,
    semaphore: bool,
    /// Readers wait here; writes wake it.
    wq: WaitQueue,
    /// Writers wait here; reads wake it.
    wr_wq: WaitQueue,
}

impl EventFd {
    /// A counter starting at `init`.
    pub fn new(init: u64, semaphore: bool) -> Arc<Self> {
        Arc::new(Self { count: SpinLock::new(init), semaphore, wq: WaitQueue::new(), wr_wq: WaitQueue::new() })
    }
}

impl FileOps for EventFd {
    fn stat(&self) -> Result<crate::fs::vfs::Stat, crate::errno::Errno> {
        Ok(crate::fs::file::anon_inode_stat())
    }

    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let r = self.wq.wait(WaitOptions::INTERRUPTIBLE, || {
            let mut c = self.count.lock();
            if *c > 0 {
                let v = if self.semaphore { 1 } else { *c };
                *c -= v;
                return Some(Ok(v));
            }
            if f.nonblocking() {
                return Some(Err(Errno::EAGAIN));
            }
            None
        });
        let v = r.map_err(|_| Errno::ERESTARTSYS)??;
        buf[..8].copy_from_slice(&v.to_le_bytes());
        self.wr_wq.wake_all();
        Ok(8)
    }

    fn write(&self, f: &File, data: &[u8]) -> SysResult {
        if data.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = u64::from_le_bytes(data[..8].try_into().map_err(|_| Errno::EINVAL)?);
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let r = self.wr_wq.wait(WaitOptions::INTERRUPTIBLE, || {
            let mut c = self.count.lock();
            if MAX - *c >= v {
                *c += v;
                return Some(Ok(()));
            }
            if f.nonblocking() {
                return Some(Err(Errno::EAGAIN));
            }
            None
        });
        r.map_err(|_| Errno::ERESTARTSYS)??;
        self.wq.wake_all();
        Ok(8)
    }

    fn poll(&self, _f: &File) -> u32 {
        let c = *self.count.lock();
        let mut ev = 0;
        if c > 0 {
            ev |= events::POLLIN | events::POLLRDNORM;
        }
        if c < MAX {
            ev |= events::POLLOUT | events::POLLWRNORM;
        }
        if c == u64::MAX {
            ev |= events::POLLERR;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn write_wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wr_wq)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
