//! Process file descriptors (`pidfd_open`, `CLONE_PIDFD`): readable (POLLIN) once the
//! process has ended, so event loops can wait for children.

use alloc::format;
use alloc::sync::Arc;
use core::any::Any;

use rtos::sync::WaitQueue;

use super::file::{events, File, FileOps};
use crate::errno::{Errno, SysResult};
use crate::process::{Pid, Process};

/// The file behind a pidfd.
pub struct PidFd {
    pub process: Arc<Process>,
}

impl FileOps for PidFd {
    fn stat(&self) -> Result<crate::fs::vfs::Stat, crate::errno::Errno> {
        Ok(crate::fs::file::anon_inode_stat())
    }

    fn poll(&self, _f: &File) -> u32 {
        if self.process.is_zombie() {
            events::POLLIN | events::POLLRDNORM | events::POLLHUP
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.process.threads_gone)
    }

    fn read(&self, _f: &File, _buf: &mut [u8]) -> SysResult {
        Err(Errno::EINVAL)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Opens a pidfd for `p`; returns the descriptor.
pub fn open_for(p: &Arc<Process>, flags: u32) -> Result<i32, Errno> {
    let f = File::new(Arc::new(PidFd { process: p.clone() }), super::file::flags::O_RDWR | flags, None, format!("anon_inode:[pidfd]"));
    crate::syscall::install_fd(f, true).map(|fd| fd as i32)
}

/// The pid behind a pidfd descriptor.
pub fn pid_of_fd(fd: i32) -> Result<Pid, Errno> {
    let f = crate::process::current_task().files().get(fd)?;
    f.ops.as_any().downcast_ref::<PidFd>().map(|p| p.process.pid).ok_or(Errno::EINVAL)
}
