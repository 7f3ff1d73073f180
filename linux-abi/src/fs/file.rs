//! Open file descriptions: what `open` returns and descriptors share. The status flags
//! (`O_APPEND`, `O_NONBLOCK`, ...) and the offset belong here, per description, not per
//! descriptor. Each kind of file (regular, directory, device, pipe, socket) implements
//! [`FileOps`].

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU32, Ordering};

use rtos::mm::addrspace::MemObject;
use rtos::sync::{Mutex, WaitQueue};

use super::path::Location;
use super::vfs::{FileType, Inode, Stat};
use crate::errno::{Errno, SysResult};

/// Open flags (Linux x86_64 values).
pub mod flags {
    pub const O_ACCMODE: u32 = 3;
    pub const O_RDONLY: u32 = 0;
    pub const O_WRONLY: u32 = 1;
    pub const O_RDWR: u32 = 2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DSYNC: u32 = 0o10000;
    pub const O_ASYNC: u32 = 0o20000;
    pub const O_DIRECT: u32 = 0o40000;
    pub const O_LARGEFILE: u32 = 0o100000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_NOFOLLOW: u32 = 0o400000;
    pub const O_NOATIME: u32 = 0o1000000;
    pub const O_CLOEXEC: u32 = 0o2000000;
    pub const O_SYNC: u32 = 0o4010000;
    pub const O_PATH: u32 = 0o10000000;
    pub const O_TMPFILE: u32 = 0o20200000;
    /// Flags `F_SETFL` may change.
    pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    /// Flags that only act at open time and are not kept in the description (Linux
    /// drops them from `f_flags`, so `F_GETFL` never shows them).
    pub const OPEN_ONLY: u32 = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;
}

/// Poll event bits (`poll.h`; the same values as `EPOLL*`).
pub mod events {
    pub const POLLIN: u32 = 0x001;
    pub const POLLPRI: u32 = 0x002;
    pub const POLLOUT: u32 = 0x004;
    pub const POLLERR: u32 = 0x008;
    pub const POLLHUP: u32 = 0x010;
    pub const POLLNVAL: u32 = 0x020;
    pub const POLLRDNORM: u32 = 0x040;
    pub const POLLWRNORM: u32 = 0x100;
    pub const POLLRDHUP: u32 = 0x2000;
}

/// Operations of one kind of open file.
pub trait FileOps: Send + Sync + Any {
    /// Reads at the description's offset (or from the stream).
    fn read(&self, _f: &File, _buf: &mut [u8]) -> SysResult {
        Err(Errno::EINVAL)
    }
    /// Writes at the description's offset (or to the stream).
    fn write(&self, _f: &File, _data: &[u8]) -> SysResult {
        Err(Errno::EINVAL)
    }
    /// Reads at an explicit offset (`pread`).
    fn read_at(&self, _f: &File, _off: u64, _buf: &mut [u8]) -> SysResult {
        Err(Errno::ESPIPE)
    }
    /// Writes at an explicit offset (`pwrite`).
    fn write_at(&self, _f: &File, _off: u64, _data: &[u8]) -> SysResult {
        Err(Errno::ESPIPE)
    }
    /// Moves the offset.
    fn seek(&self, _f: &File, _off: i64, _whence: u32) -> SysResult {
        Err(Errno::ESPIPE)
    }
    /// Device control.
    fn ioctl(&self, _f: &File, _cmd: u32, _arg: u64) -> SysResult {
        Err(Errno::ENOTTY)
    }
    /// Readiness now (`POLL*` bits).
    fn poll(&self, _f: &File) -> u32 {
        events::POLLIN | events::POLLOUT | events::POLLRDNORM | events::POLLWRNORM
    }
    /// Where waiters for readiness changes sleep.
    fn wait_queue(&self) -> Option<&WaitQueue> {
        None
    }
    /// For files whose writers wait apart from their readers (eventfd): the queue woken
    /// when writing becomes possible. `wait_queue` is then woken only for input.
    fn write_wait_queue(&self) -> Option<&WaitQueue> {
        None
    }
    /// The inode behind the file, if any.
    fn inode(&self) -> Option<Arc<dyn Inode>> {
        None
    }
    /// Attributes for `fstat`.
    fn stat(&self) -> Result<Stat, Errno> {
        self.inode().map(|i| i.stat()).ok_or(Errno::EBADF)
    }
    /// Directory entries (`getdents64`), from the description's position.
    fn is_dir(&self) -> bool {
        false
    }
    /// Memory to map for `mmap`.
    fn mem_object(&self) -> Option<Arc<dyn MemObject>> {
        self.inode().and_then(|i| i.mem_object())
    }
    /// Sets the size (`ftruncate`).
    fn truncate(&self, _size: u64) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }
    /// A terminal? (`isatty`, controlling terminals).
    fn is_tty(&self) -> bool {
        false
    }
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
}

/// An open file description.
pub struct File {
    pub ops: Arc<dyn FileOps>,
    flags: AtomicU32,
    pos: Mutex<u64>,
    /// Where it was opened (for `fchdir`, `*at` calls, `/proc/<pid>/fd`).
    pub location: Option<Location>,
    /// A display name for files without a location (`pipe:[ino]`, `socket:[ino]`).
    pub name: String,
}

impl File {
    /// A description with `flags` over `ops`.
    pub fn new(ops: Arc<dyn FileOps>, flags: u32, location: Option<Location>, name: String) -> Arc<Self> {
        Arc::new(Self { ops, flags: AtomicU32::new(flags & !flags::OPEN_ONLY), pos: Mutex::new(0), location, name })
    }

    /// The status flags and access mode.
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Replaces the changeable status flags (`F_SETFL`).
    pub fn set_status_flags(&self, new: u32) {
        let m = flags::SETFL_MASK;
        let _ = self.flags.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| Some((f & !m) | (new & m)));
    }

    /// Whether `O_NONBLOCK` is set.
    pub fn nonblocking(&self) -> bool {
        self.flags() & flags::O_NONBLOCK != 0
    }

    /// Opened for reading?
    pub fn readable(&self) -> bool {
        self.flags() & flags::O_PATH == 0 && self.flags() & flags::O_ACCMODE != flags::O_WRONLY
    }

    /// Opened for writing?
    pub fn writable(&self) -> bool {
        self.flags() & flags::O_PATH == 0 && matches!(self.flags() & flags::O_ACCMODE, flags::O_WRONLY | flags::O_RDWR)
    }

    /// Locks and returns the offset.
    pub fn pos(&self) -> rtos::sync::MutexGuard<'_, u64> {
        self.pos.lock()
    }

    /// The path it was opened by (or its display name).
    pub fn path(&self) -> String {
        match &self.location {
            Some(l) => l.path_string(),
            None => self.name.clone(),
        }
    }
}

/// `RLIMIT_FSIZE` for a write of `len` bytes at `off` to a regular file: the bytes that
/// may be written (a short write up to the limit), or EFBIG with SIGXFSZ sent to the
/// writer when nothing may (Linux `generic_write_check_limits`).
fn fsize_allows(inode: &dyn Inode, off: u64, len: usize) -> Result<usize, Errno> {
    if inode.kind() != FileType::Regular || len == 0 {
        return Ok(len);
    }
    let Some(task) = crate::process::try_current_task() else { return Ok(len) };
    let limit = task.process.rlimits.lock().soft(crate::process::limits::RLIMIT_FSIZE);
    if limit == crate::process::limits::RLIM_INFINITY {
        return Ok(len);
    }
    if off >= limit {
        crate::signal::send_to_task(&task, crate::signal::SigInfo::new(crate::signal::SIGXFSZ, crate::signal::SI_USER));
        return Err(Errno::EFBIG);
    }
    Ok(len.min((limit - off).min(usize::MAX as u64) as usize))
}

/// A regular file or other inode-backed file: reads and writes go to the inode.
pub struct InodeFile {
    pub inode: Arc<dyn Inode>,
}

impl FileOps for InodeFile {
    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        let mut pos = f.pos();
        let n = self.inode.read_at(*pos, buf)?;
        *pos += n as u64;
        Ok(n)
    }

    fn write(&self, f: &File, data: &[u8]) -> SysResult {
        let mut pos = f.pos();
        if f.flags() & flags::O_APPEND != 0 {
            let n = fsize_allows(self.inode.as_ref(), self.inode.stat().size, data.len())?;
            let (n, end) = self.inode.append(&data[..n])?;
            *pos = end;
            return Ok(n);
        }
        let n = fsize_allows(self.inode.as_ref(), *pos, data.len())?;
        let n = self.inode.write_at(*pos, &data[..n])?;
        *pos += n as u64;
        Ok(n)
    }

    fn read_at(&self, _f: &File, off: u64, buf: &mut [u8]) -> SysResult {
        self.inode.read_at(off, buf)
    }

    fn write_at(&self, f: &File, off: u64, data: &[u8]) -> SysResult {
        // Linux: pwrite on an O_APPEND file appends.
        if f.flags() & flags::O_APPEND != 0 {
            let n = fsize_allows(self.inode.as_ref(), self.inode.stat().size, data.len())?;
            return self.inode.append(&data[..n]).map(|(n, _)| n);
        }
        let n = fsize_allows(self.inode.as_ref(), off, data.len())?;
        self.inode.write_at(off, &data[..n])
    }

    fn seek(&self, f: &File, off: i64, whence: u32) -> SysResult {
        let mut pos = f.pos();
        let size = self.inode.stat().size as i64;
        let new = match whence {
            0 => Some(off),
            1 => (*pos as i64).checked_add(off),
            2 => size.checked_add(off),
            // SEEK_DATA / SEEK_HOLE: the whole file is data.
            3 => (off < size).then_some(off),
            4 => (off < size).then_some(size),
            _ => return Err(Errno::EINVAL),
        };
        match new {
            Some(n) if n >= 0 => {
                *pos = n as u64;
                Ok(n as usize)
            }
            None if whence >= 3 => Err(Errno::ENXIO),
            _ => Err(Errno::EINVAL),
        }
    }

    fn inode(&self) -> Option<Arc<dyn Inode>> {
        Some(self.inode.clone())
    }

    fn truncate(&self, size: u64) -> Result<(), Errno> {
        // Growing a file past RLIMIT_FSIZE is EFBIG (and SIGXFSZ), as a write would be.
        if size > self.inode.stat().size {
            fsize_allows(self.inode.as_ref(), size - 1, 1)?;
        }
        self.inode.truncate(size)
    }

    fn is_dir(&self) -> bool {
        self.inode.kind() == FileType::Directory
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A directory opened for reading entries.
pub struct DirFile {
    pub inode: Arc<dyn Inode>,
}

impl FileOps for DirFile {
    fn read(&self, _f: &File, _buf: &mut [u8]) -> SysResult {
        Err(Errno::EISDIR)
    }

    fn write(&self, _f: &File, _data: &[u8]) -> SysResult {
        Err(Errno::EISDIR)
    }

    fn seek(&self, f: &File, off: i64, whence: u32) -> SysResult {
        let mut pos = f.pos();
        match whence {
            0 if off >= 0 => *pos = off as u64,
            1 if *pos as i64 + off >= 0 => *pos = (*pos as i64 + off) as u64,
            _ => return Err(Errno::EINVAL),
        }
        Ok(*pos as usize)
    }

    fn inode(&self) -> Option<Arc<dyn Inode>> {
        Some(self.inode.clone())
    }

    fn is_dir(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Builds `linux_dirent64` records for entries starting at index `start` until `cap`
/// bytes are filled; returns the bytes and the next index.
pub fn encode_dirents(entries: &[(u64, u8, &str)], start: usize, cap: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = start;
    while i < entries.len() {
        let (ino, ty, name) = entries[i];
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > cap {
            break;
        }
        out.extend_from_slice(&ino.to_le_bytes());
        out.extend_from_slice(&((i + 1) as i64).to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(ty);
        out.extend_from_slice(name.as_bytes());
        out.resize(out.len() + reclen - 19 - name.len(), 0);
        i += 1;
    }
    (out, i)
}

/// The inode number every anonymous-inode file shares (Linux keeps one anon inode).
const ANON_INODE_INO: u64 = 1;
/// The device of the anonymous-inode filesystem (`anon_inodefs`).
const ANON_INODE_DEV: u64 = 0xd;

/// `fstat` of an anonymous-inode file (eventfd, epoll, signalfd, timerfd, pidfd): as on
/// Linux, one shared inode with mode 0600 and no file type bits, size 0, owned by root.
pub fn anon_inode_stat() -> Stat {
    Stat { dev: ANON_INODE_DEV, ino: ANON_INODE_INO, mode: 0o600, nlink: 1, blksize: 4096, ..Default::default() }
}
