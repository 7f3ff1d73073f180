//! Pseudo-terminals: opening `/dev/ptmx` creates a master and a slave terminal
//! `/dev/pts/N`. Bytes written to the master are the slave's keyboard input (through its
//! line discipline); the slave's output is read from the master. Closing the master hangs
//! the slave up; once every slave descriptor is closed, master reads fail with EIO.
//! `/dev/pts` lists the open slaves.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::ToString;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use super::devices::{char_stat, makedev};
use super::file::{events, File, FileOps};
use super::tty::{ioctl, Sink, Tty, TtyFile};
use super::vfs::{DirEntry, FileType, Inode, Stat, StatFs};
use crate::errno::{Errno, SysResult};
use crate::uaccess;

struct Pair {
    tty: Arc<Tty>,
    locked: AtomicBool,
    slaves_open: AtomicUsize,
    slave_ever_opened: AtomicBool,
}

static PTYS: SpinLock<BTreeMap<u32, Weak<Pair>>> = SpinLock::new(BTreeMap::new());

fn alloc_index() -> Option<u32> {
    let t = PTYS.lock();
    (0..4096u32).find(|i| t.get(i).is_none_or(|w| w.strong_count() == 0))
}

/// The slave terminal owned by session `sid`, if any.
pub fn find_by_session(sid: i32) -> Option<Arc<Tty>> {
    PTYS.lock().values().filter_map(|w| w.upgrade()).find(|p| p.tty.session.load(Ordering::Acquire) == sid).map(|p| p.tty.clone())
}

/// The master side.
pub struct Master {
    pair: Arc<Pair>,
}

impl Drop for Master {
    fn drop(&mut self) {
        self.pair.tty.hang_up();
        if let Some(i) = self.pair.tty.index {
            PTYS.lock().remove(&i);
        }
    }
}

fn master_queue(t: &Tty) -> (&SpinLock<VecDeque<u8>>, &WaitQueue) {
    match &t.sink {
        Sink::Master { queue, wq } => (queue, wq),
        Sink::Serial => unreachable!("a pty pair always has a master sink"),
    }
}

/// Opens `/dev/ptmx`: a new pair; returns the master's file operations.
pub fn open_master() -> Result<Arc<dyn FileOps>, Errno> {
    let idx = alloc_index().ok_or(Errno::ENOSPC)?;
    let tty = Arc::new(Tty::new_pty(idx));
    let pair = Arc::new(Pair { tty, locked: AtomicBool::new(true), slaves_open: AtomicUsize::new(0), slave_ever_opened: AtomicBool::new(false) });
    PTYS.lock().insert(idx, Arc::downgrade(&pair));
    Ok(Arc::new(Master { pair }))
}

impl FileOps for Master {
    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        if buf.is_empty() {
            return Ok(0);
        }
        let (q, wq) = master_queue(&self.pair.tty);
        let r = wq.wait(WaitOptions::INTERRUPTIBLE, || {
            let mut q = q.lock();
            if !q.is_empty() {
                let n = buf.len().min(q.len());
                for (d, b) in buf.iter_mut().zip(q.drain(..n)) {
                    *d = b;
                }
                return Some(Ok(n));
            }
            if self.pair.slave_ever_opened.load(Ordering::Acquire) && self.pair.slaves_open.load(Ordering::Acquire) == 0 {
                return Some(Err(Errno::EIO));
            }
            if f.nonblocking() {
                return Some(Err(Errno::EAGAIN));
            }
            None
        });
        r.map_err(|_| Errno::ERESTARTSYS)?
    }

    fn write(&self, _f: &File, data: &[u8]) -> SysResult {
        for &b in data {
            self.pair.tty.input(b);
        }
        Ok(data.len())
    }

    fn ioctl(&self, f: &File, cmd: u32, arg: u64) -> SysResult {
        match cmd {
            ioctl::TIOCGPTN => {
                uaccess::write(arg, &self.pair.tty.index.unwrap_or(0))?;
                Ok(0)
            }
            ioctl::TIOCSPTLCK => {
                let v: i32 = uaccess::read(arg)?;
                self.pair.locked.store(v != 0, Ordering::Release);
                Ok(0)
            }
            ioctl::FIONREAD => {
                let n = master_queue(&self.pair.tty).0.lock().len() as i32;
                uaccess::write(arg, &n)?;
                Ok(0)
            }
            ioctl::TIOCGPTPEER => {
                let ops = open_slave_of(&self.pair)?;
                let file = File::new(ops, (arg as u32) | super::file::flags::O_RDWR, None, format!("/dev/pts/{}", self.pair.tty.index.unwrap_or(0)));
                let _ = f;
                crate::syscall::install_fd(file, arg as u32 & super::file::flags::O_CLOEXEC != 0)
            }
            // Terminal settings and window size are the slave's.
            _ => TtyFile::new(self.pair.tty.clone(), None).tty_ioctl(cmd, arg),
        }
    }

    fn poll(&self, _f: &File) -> u32 {
        let mut ev = events::POLLOUT | events::POLLWRNORM;
        if !master_queue(&self.pair.tty).0.lock().is_empty() {
            ev |= events::POLLIN | events::POLLRDNORM;
        }
        if self.pair.slave_ever_opened.load(Ordering::Acquire) && self.pair.slaves_open.load(Ordering::Acquire) == 0 {
            ev |= events::POLLHUP;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(master_queue(&self.pair.tty).1)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(char_stat(makedev(5, 2)))
    }

    fn is_tty(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A slave's file operations: the terminal plus open counting.
struct Slave {
    pair: Arc<Pair>,
    file: Arc<TtyFile>,
}

impl Drop for Slave {
    fn drop(&mut self) {
        self.pair.slaves_open.fetch_sub(1, Ordering::AcqRel);
        master_queue(&self.pair.tty).1.wake_all();
    }
}

fn open_slave_of(pair: &Arc<Pair>) -> Result<Arc<dyn FileOps>, Errno> {
    if pair.locked.load(Ordering::Acquire) {
        return Err(Errno::EIO);
    }
    if pair.tty.hung_up.load(Ordering::Acquire) {
        return Err(Errno::EIO);
    }
    pair.slaves_open.fetch_add(1, Ordering::AcqRel);
    pair.slave_ever_opened.store(true, Ordering::Release);
    Ok(Arc::new(Slave { pair: pair.clone(), file: TtyFile::new(pair.tty.clone(), Some(Arc::new(PtsNode { index: pair.tty.index.unwrap_or(0) }))) }))
}

impl FileOps for Slave {
    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        self.file.read(f, buf)
    }
    fn write(&self, f: &File, data: &[u8]) -> SysResult {
        self.file.write(f, data)
    }
    fn ioctl(&self, f: &File, cmd: u32, arg: u64) -> SysResult {
        self.file.ioctl(f, cmd, arg)
    }
    fn poll(&self, f: &File) -> u32 {
        self.file.poll(f)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        self.file.wait_queue()
    }
    fn inode(&self) -> Option<Arc<dyn Inode>> {
        self.file.inode()
    }
    fn is_tty(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/pts/N`.
pub struct PtsNode {
    index: u32,
}

impl Inode for PtsNode {
    fn stat(&self) -> Stat {
        let mut s = char_stat(makedev(136, self.index));
        s.dev = 0x16;
        s.ino = u64::from(self.index) + 3;
        s
    }
    fn open_special(self: Arc<Self>, _flags: u32) -> Option<Result<Arc<dyn FileOps>, Errno>> {
        let pair = PTYS.lock().get(&self.index).and_then(|w| w.upgrade());
        Some(pair.ok_or(Errno::EIO).and_then(|p| open_slave_of(&p)))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The devpts directory.
pub struct PtsDir;

impl Inode for PtsDir {
    fn stat(&self) -> Stat {
        Stat { dev: 0x16, ino: 1, mode: FileType::Directory.mode_bits() | 0o755, nlink: 2, blksize: 1024, ..Default::default() }
    }
    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        if name == "ptmx" {
            return Ok(Arc::new(PtmxNode));
        }
        let i: u32 = name.parse().map_err(|_| Errno::ENOENT)?;
        if PTYS.lock().get(&i).is_some_and(|w| w.strong_count() > 0) {
            Ok(Arc::new(PtsNode { index: i }))
        } else {
            Err(Errno::ENOENT)
        }
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut v: Vec<DirEntry> = PTYS.lock().iter().filter(|(_, w)| w.strong_count() > 0).map(|(i, _)| DirEntry { name: i.to_string(), ino: u64::from(*i) + 3, kind: FileType::CharDevice }).collect();
        v.push(DirEntry { name: "ptmx".to_string(), ino: 2, kind: FileType::CharDevice });
        Ok(v)
    }
    fn statfs(&self) -> StatFs {
        StatFs { fs_type: 0x1cd1, block_size: 4096, name_max: 255, ..Default::default() }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/pts/ptmx` (and `/dev/ptmx`).
pub struct PtmxNode;

impl Inode for PtmxNode {
    fn stat(&self) -> Stat {
        let mut s = char_stat(makedev(5, 2));
        s.mode = FileType::CharDevice.mode_bits() | 0o666;
        s.ino = 2;
        s
    }
    fn open_special(self: Arc<Self>, _flags: u32) -> Option<Result<Arc<dyn FileOps>, Errno>> {
        Some(open_master())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
