//! signalfd: reading pending signals as `struct signalfd_siginfo` records. The signals stay
//! pending (normally blocked) until read; the process's signal wait queue wakes readers and
//! epoll when one arrives.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use bytemuck::{Pod, Zeroable};
use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use super::file::{events, File, FileOps};
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::signal::{SigInfo, SigSet};

pub const SFD_CLOEXEC: u32 = 0o2000000;
pub const SFD_NONBLOCK: u32 = 0o4000;

/// `struct signalfd_siginfo` (128 bytes).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SfdInfo {
    signo: u32,
    errno: i32,
    code: i32,
    pid: u32,
    uid: u32,
    fd: i32,
    tid: u32,
    band: u32,
    overrun: u32,
    trapno: u32,
    status: i32,
    int: i32,
    ptr: u64,
    utime: u64,
    stime: u64,
    addr: u64,
    addr_lsb: u16,
    _pad2: u16,
    syscall: i32,
    call_addr: u64,
    arch: u32,
    _pad: [u8; 28],
}
const _: () = assert!(core::mem::size_of::<SfdInfo>() == 128);

/// A signalfd.
pub struct SignalFd {
    pub mask: SpinLock<SigSet>,
    process: Arc<Process>,
}

impl SignalFd {
    /// Watches `mask` for `process`.
    pub fn new(mask: SigSet, process: Arc<Process>) -> Arc<Self> {
        Arc::new(Self { mask: SpinLock::new(mask.blockable()), process })
    }

    fn take(&self) -> Option<SigInfo> {
        let mask = *self.mask.lock();
        let others = SigSet(!mask.0);
        if let Some(t) = crate::process::try_current_task() {
            if let Some(i) = t.sig.lock().pending.take(others) {
                return Some(i);
            }
        }
        self.process.shared_pending.lock().take(others)
    }

    fn pending(&self) -> bool {
        let mask = *self.mask.lock();
        let shared = self.process.shared_pending.lock().set.0;
        let own = crate::process::try_current_task().map_or(0, |t| t.sig.lock().pending.set.0);
        (shared | own) & mask.0 != 0
    }
}

fn encode(i: &SigInfo) -> SfdInfo {
    let mut s = SfdInfo::zeroed();
    s.signo = i.signo as u32;
    s.errno = i.errno;
    s.code = i.code;
    s.pid = i.fields[0] as u32;
    s.uid = (i.fields[0] >> 32) as u32;
    s.status = i.fields[1] as i32;
    s.int = i.fields[1] as i32;
    s.ptr = i.fields[1];
    s.utime = i.fields[2];
    s.stime = i.fields[3];
    s.addr = i.fields[0];
    s
}

impl FileOps for SignalFd {
    fn stat(&self) -> Result<crate::fs::vfs::Stat, crate::errno::Errno> {
        Ok(crate::fs::file::anon_inode_stat())
    }

    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        if buf.len() < 128 {
            return Err(Errno::EINVAL);
        }
        let max = buf.len() / 128;
        let r = self.process.sig_wq.wait(WaitOptions::INTERRUPTIBLE, || {
            let mut got = Vec::new();
            while got.len() < max {
                match self.take() {
                    Some(i) => got.push(encode(&i)),
                    None => break,
                }
            }
            if !got.is_empty() {
                return Some(Ok(got));
            }
            if f.nonblocking() {
                return Some(Err(Errno::EAGAIN));
            }
            None
        });
        let got = r.map_err(|_| Errno::ERESTARTSYS)??;
        for (i, s) in got.iter().enumerate() {
            buf[i * 128..(i + 1) * 128].copy_from_slice(bytemuck::bytes_of(s));
        }
        if let Some(t) = crate::process::try_current_task() {
            crate::signal::recalc(&t);
        }
        Ok(got.len() * 128)
    }

    fn poll(&self, _f: &File) -> u32 {
        if self.pending() {
            events::POLLIN | events::POLLRDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.process.sig_wq)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
