//! Character devices: `/dev/null`, `zero`, `full`, `random`, `urandom`, the console
//! terminal (`tty`, `console`, `ttyS0`; `ttyS1..3` exist but have no UART), and
//! `/dev/ptmx`, by Linux major/minor number.

use alloc::sync::Arc;
use core::any::Any;

use rtos::mm::addrspace::MemObject;
use rtos::mm::pagestore::PageStore;

use super::file::{File, FileOps};
use super::vfs::{FileType, Inode, Stat};
use crate::errno::{Errno, SysResult};

/// `makedev` as glibc encodes it.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xfff) << 8) | ((ma & !0xfff) << 32) | (mi & 0xff) | ((mi & !0xff) << 12)
}

/// Major/minor of a device number.
pub const fn major_minor(dev: u64) -> (u32, u32) {
    ((((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32, ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mem {
    Null,
    Zero,
    Full,
    Random,
}

struct MemDev {
    kind: Mem,
    inode: Arc<dyn Inode>,
}

impl FileOps for MemDev {
    fn read(&self, _f: &File, buf: &mut [u8]) -> SysResult {
        match self.kind {
            Mem::Null => Ok(0),
            Mem::Zero | Mem::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Mem::Random => {
                crate::random::fill(buf);
                Ok(buf.len())
            }
        }
    }

    fn write(&self, _f: &File, data: &[u8]) -> SysResult {
        match self.kind {
            Mem::Full => Err(Errno::ENOSPC),
            _ => Ok(data.len()),
        }
    }

    fn read_at(&self, f: &File, _off: u64, buf: &mut [u8]) -> SysResult {
        self.read(f, buf)
    }

    fn write_at(&self, f: &File, _off: u64, data: &[u8]) -> SysResult {
        self.write(f, data)
    }

    fn seek(&self, _f: &File, _off: i64, _whence: u32) -> SysResult {
        Ok(0)
    }

    fn inode(&self) -> Option<Arc<dyn Inode>> {
        Some(self.inode.clone())
    }

    /// Mapping `/dev/zero` gives zero-filled memory: a fresh object for each `mmap`
    /// (private: copied on write; shared: shared with the children that inherit it).
    fn mem_object(&self) -> Option<Arc<dyn MemObject>> {
        (self.kind == Mem::Zero).then(|| Arc::new(PageStore::new(ZERO_MAP_MAX)) as Arc<dyn MemObject>)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Largest mapping of `/dev/zero` (the object has no end of its own).
const ZERO_MAP_MAX: u64 = 1 << 46;

/// Opens the device node `inode` with device number `rdev`.
pub fn open_node(kind: FileType, rdev: u64, flags: u32, inode: Arc<dyn Inode>) -> Result<Arc<dyn FileOps>, Errno> {
    if kind != FileType::CharDevice {
        return Err(Errno::ENXIO);
    }
    let mem = |k| Ok(Arc::new(MemDev { kind: k, inode: inode.clone() }) as Arc<dyn FileOps>);
    match major_minor(rdev) {
        (1, 3) => mem(Mem::Null),
        (1, 5) => mem(Mem::Zero),
        (1, 7) => mem(Mem::Full),
        (1, 8) | (1, 9) => mem(Mem::Random),
        (5, 0) => super::tty::open_controlling(flags, inode),
        (5, 1) | (4, 64) => super::tty::open_console(flags, inode),
        // ttyS1..3: registered ports without a UART (Linux's 8250 driver says EIO).
        (4, 65..=67) => Err(Errno::EIO),
        (5, 2) => super::pty::open_master(),
        _ => Err(Errno::ENXIO),
    }
}

/// Attributes of a device file object without a filesystem node.
pub fn char_stat(rdev: u64) -> Stat {
    Stat { mode: FileType::CharDevice.mode_bits() | 0o620, rdev, nlink: 1, blksize: 1024, ..Default::default() }
}
