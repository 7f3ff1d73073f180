//! Pipes: a 64 KiB byte queue between a read end and a write end. Writes of up to
//! `PIPE_BUF` bytes are atomic; readers see EOF once every writer is closed; writers get
//! EPIPE (and SIGPIPE) once every reader is closed. As in Linux there are two wait queues:
//! readers sleep on one that writes (and the last writer's close) wake, writers on one
//! that reads (and the last reader's close) wake. So an edge-triggered epoll interest in
//! the write end sees no event when data is written, only when room is made.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use super::file::{events, File, FileOps};
use super::vfs::{FileType, Stat, Timespec};
use crate::errno::{Errno, SysResult};

/// Largest atomic write (Linux `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;
/// Default capacity (Linux: 16 pages).
pub const DEFAULT_CAPACITY: usize = 65536;
/// Largest capacity `F_SETPIPE_SZ` accepts without privilege (`pipe-max-size`).
pub const MAX_CAPACITY: usize = 1 << 20;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

struct State {
    data: VecDeque<u8>,
    capacity: usize,
    readers: usize,
    writers: usize,
}

/// A pipe shared by its two ends.
pub struct Pipe {
    state: SpinLock<State>,
    /// Readers wait here: woken when data arrives or writers come and go.
    rd_wq: WaitQueue,
    /// Writers wait here: woken when room is made or readers come and go.
    wr_wq: WaitQueue,
    ino: u64,
    created: Timespec,
}

impl Pipe {
    /// A new pipe with no ends open yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: SpinLock::new(State { data: VecDeque::new(), capacity: DEFAULT_CAPACITY, readers: 0, writers: 0 }),
            rd_wq: WaitQueue::new(),
            wr_wq: WaitQueue::new(),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            created: Timespec::now(),
        })
    }

    /// Opens one end.
    pub fn open_end(self: &Arc<Self>, write: bool) -> Arc<PipeEnd> {
        {
            let mut s = self.state.lock();
            if write {
                s.writers += 1;
            } else {
                s.readers += 1;
            }
        }
        self.wake_both();
        Arc::new(PipeEnd { pipe: self.clone(), write })
    }

    fn wake_both(&self) {
        self.rd_wq.wake_all();
        self.wr_wq.wake_all();
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.state.lock().data.len()
    }

    /// True if nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One end of a pipe (the file operations of its descriptors).
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    write: bool,
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut s = self.pipe.state.lock();
            if self.write {
                s.writers -= 1;
            } else {
                s.readers -= 1;
            }
        }
        self.pipe.wake_both();
    }
}

fn sigpipe() {
    if let Some(t) = crate::process::try_current_task() {
        crate::signal::send_to_task(&t, crate::signal::SigInfo::new(crate::signal::SIGPIPE, crate::signal::SI_USER));
    }
}

impl PipeEnd {
    /// Reads from the read end.
    pub fn read_bytes(&self, buf: &mut [u8], nonblock: bool) -> SysResult {
        if buf.is_empty() {
            return Ok(0);
        }
        let r = self.pipe.rd_wq.wait(WaitOptions::INTERRUPTIBLE, || {
            let mut s = self.pipe.state.lock();
            if !s.data.is_empty() {
                // Slice copies of the ring's two halves (this runs under the pipe's lock).
                let n = buf.len().min(s.data.len());
                let (front, back) = s.data.as_slices();
                let from_front = n.min(front.len());
                buf[..from_front].copy_from_slice(&front[..from_front]);
                buf[from_front..n].copy_from_slice(&back[..n - from_front]);
                s.data.drain(..n);
                return Some(Ok(n));
            }
            if s.writers == 0 {
                return Some(Ok(0));
            }
            if nonblock {
                return Some(Err(Errno::EAGAIN));
            }
            None
        });
        let r = r.map_err(|_| Errno::ERESTARTSYS)?;
        if matches!(r, Ok(n) if n > 0) {
            self.pipe.wr_wq.wake_all();
        }
        r
    }

    /// Writes to the write end.
    pub fn write_bytes(&self, data: &[u8], nonblock: bool) -> SysResult {
        if data.is_empty() {
            return Ok(0);
        }
        let atomic = data.len() <= PIPE_BUF;
        let mut done = 0;
        while done < data.len() {
            let r = self.pipe.wr_wq.wait(WaitOptions::INTERRUPTIBLE, || {
                let mut s = self.pipe.state.lock();
                if s.readers == 0 {
                    return Some(Err(Errno::EPIPE));
                }
                let space = s.capacity.saturating_sub(s.data.len());
                let need = if atomic { data.len() } else { 1 };
                if space >= need {
                    let n = (data.len() - done).min(space);
                    s.data.extend(&data[done..done + n]);
                    return Some(Ok(n));
                }
                if nonblock {
                    return Some(Err(Errno::EAGAIN));
                }
                None
            });
            match r {
                Ok(Ok(n)) => {
                    done += n;
                    self.pipe.rd_wq.wake_all();
                }
                Ok(Err(Errno::EPIPE)) => {
                    sigpipe();
                    return if done > 0 { Ok(done) } else { Err(Errno::EPIPE) };
                }
                Ok(Err(e)) => return if done > 0 { Ok(done) } else { Err(e) },
                Err(_) => return if done > 0 { Ok(done) } else { Err(Errno::ERESTARTSYS) },
            }
        }
        Ok(done)
    }
}

impl FileOps for PipeEnd {
    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        if self.write {
            return Err(Errno::EBADF);
        }
        self.read_bytes(buf, f.nonblocking())
    }

    fn write(&self, f: &File, data: &[u8]) -> SysResult {
        if !self.write {
            return Err(Errno::EBADF);
        }
        self.write_bytes(data, f.nonblocking())
    }

    fn poll(&self, _f: &File) -> u32 {
        let s = self.pipe.state.lock();
        let mut ev = 0;
        if self.write {
            if s.capacity - s.data.len() >= PIPE_BUF.min(s.capacity) {
                ev |= events::POLLOUT | events::POLLWRNORM;
            }
            if s.readers == 0 {
                ev |= events::POLLERR;
            }
        } else {
            if !s.data.is_empty() {
                ev |= events::POLLIN | events::POLLRDNORM;
            }
            if s.writers == 0 {
                ev |= events::POLLHUP;
            }
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(if self.write { &self.pipe.wr_wq } else { &self.pipe.rd_wq })
    }

    fn ioctl(&self, _f: &File, cmd: u32, arg: u64) -> SysResult {
        const FIONREAD: u32 = 0x541b;
        const F_SETPIPE_SZ: u32 = 1031 | 0x8000_0000;
        const F_GETPIPE_SZ: u32 = 1032 | 0x8000_0000;
        match cmd {
            FIONREAD => {
                crate::uaccess::write(arg, &(self.pipe.len() as i32))?;
                Ok(0)
            }
            F_GETPIPE_SZ => Ok(self.pipe.state.lock().capacity),
            F_SETPIPE_SZ => {
                let want = (arg as usize).max(4096).next_power_of_two();
                if arg > MAX_CAPACITY as u64 || want > MAX_CAPACITY {
                    return Err(Errno::EPERM);
                }
                let mut s = self.pipe.state.lock();
                if s.data.len() > want {
                    return Err(Errno::EBUSY);
                }
                s.capacity = want;
                drop(s);
                self.pipe.wr_wq.wake_all();
                Ok(want)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            dev: 0xc,
            ino: self.pipe.ino,
            mode: FileType::Fifo.mode_bits() | 0o600,
            nlink: 1,
            blksize: 4096,
            atime: self.pipe.created,
            mtime: self.pipe.created,
            ctime: self.pipe.created,
            ..Default::default()
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Creates a pipe; returns the (read, write) open file descriptions.
pub fn create(flags: u32) -> (Arc<File>, Arc<File>) {
    let p = Pipe::new();
    let name = format!("pipe:[{}]", p.ino);
    let fl = flags & super::file::flags::O_NONBLOCK;
    let r = File::new(p.open_end(false), super::file::flags::O_RDONLY | fl, None, name.clone());
    let w = File::new(p.open_end(true), super::file::flags::O_WRONLY | fl, None, name);
    (r, w)
}
