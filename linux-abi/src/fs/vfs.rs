//! The virtual filesystem: the inode interface every filesystem implements, file types
//! and modes, `stat` data, and directory entries.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use rtos::mm::addrspace::MemObject;

use crate::errno::Errno;
use crate::fs::file::{File, FileOps};

/// File types, with their `S_IFMT` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// `S_IFMT` mask.
pub const S_IFMT: u32 = 0o170000;

impl FileType {
    /// The `S_IF*` bits.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Socket => 0o140000,
            FileType::Symlink => 0o120000,
            FileType::Regular => 0o100000,
            FileType::BlockDevice => 0o060000,
            FileType::Directory => 0o040000,
            FileType::CharDevice => 0o020000,
            FileType::Fifo => 0o010000,
        }
    }

    /// The type encoded in a mode, if any.
    pub fn from_mode(mode: u32) -> Option<Self> {
        Some(match mode & S_IFMT {
            0o140000 => FileType::Socket,
            0o120000 => FileType::Symlink,
            0o100000 => FileType::Regular,
            0o060000 => FileType::BlockDevice,
            0o040000 => FileType::Directory,
            0o020000 => FileType::CharDevice,
            0o010000 => FileType::Fifo,
            _ => return None,
        })
    }

    /// `d_type` of `getdents64`.
    pub fn dirent_type(self) -> u8 {
        match self {
            FileType::Fifo => 1,
            FileType::CharDevice => 2,
            FileType::Directory => 4,
            FileType::BlockDevice => 6,
            FileType::Regular => 8,
            FileType::Symlink => 10,
            FileType::Socket => 12,
        }
    }
}

/// A point in time (seconds and nanoseconds since the epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Timespec {
    /// The current CLOCK_REALTIME.
    pub fn now() -> Self {
        let ns = rtos::time::realtime_ns();
        Self { sec: ns.div_euclid(1_000_000_000), nsec: ns.rem_euclid(1_000_000_000) }
    }
}

/// What `stat` reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u32,
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

/// One directory entry.
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub name: String,
    pub ino: u64,
    pub kind: FileType,
}

/// What can change in an inode's attributes.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub atime: Option<Timespec>,
    pub mtime: Option<Timespec>,
}

/// A file, directory, link or device node of some filesystem.
pub trait Inode: Send + Sync + Any {
    /// Attributes.
    fn stat(&self) -> Stat;
    /// The file's type.
    fn kind(&self) -> FileType {
        FileType::from_mode(self.stat().mode).unwrap_or(FileType::Regular)
    }
    /// Changes attributes (chmod, chown, utimensat).
    fn set_attr(&self, _attr: SetAttr) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// Reads file data at `off`.
    fn read_at(&self, _off: u64, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(if self.kind() == FileType::Directory { Errno::EISDIR } else { Errno::EINVAL })
    }
    /// Writes file data at `off`.
    fn write_at(&self, _off: u64, _data: &[u8]) -> Result<usize, Errno> {
        Err(if self.kind() == FileType::Directory { Errno::EISDIR } else { Errno::EINVAL })
    }
    /// Appends `data` at the end of the file (`O_APPEND`); returns the bytes written and
    /// the offset after them. Filesystems make the end-and-write step atomic, so writers
    /// appending through different open files never overwrite each other.
    fn append(&self, data: &[u8]) -> Result<(usize, u64), Errno> {
        let end = self.stat().size;
        let n = self.write_at(end, data)?;
        Ok((n, end + n as u64))
    }
    /// Sets the size.
    fn truncate(&self, _size: u64) -> Result<(), Errno> {
        Err(if self.kind() == FileType::Directory { Errno::EISDIR } else { Errno::EINVAL })
    }
    /// Allocates space (fallocate mode 0).
    fn allocate(&self, _off: u64, _len: u64) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// The pages backing the file, for `mmap`.
    fn mem_object(&self) -> Option<Arc<dyn MemObject>> {
        None
    }
    /// Finds a directory entry.
    fn lookup(&self, _name: &str) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Creates a file, directory or node in this directory.
    fn create(&self, _name: &str, _kind: FileType, _mode: u32, _rdev: u64) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Creates a symbolic link.
    fn symlink(&self, _name: &str, _target: &str) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Adds a hard link to `inode`.
    fn link(&self, _name: &str, _inode: &Arc<dyn Inode>) -> Result<(), Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Removes a non-directory entry.
    fn unlink(&self, _name: &str) -> Result<(), Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Removes an empty directory.
    fn rmdir(&self, _name: &str) -> Result<(), Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Moves an entry to `new_dir` (same filesystem) as `new_name`.
    fn rename(&self, _old: &str, _new_dir: &Arc<dyn Inode>, _new: &str, _flags: u32) -> Result<(), Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Lists the entries (without `.` and `..`).
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Err(Errno::ENOTDIR)
    }
    /// A symbolic link's target.
    fn readlink(&self) -> Result<String, Errno> {
        Err(Errno::EINVAL)
    }
    /// For a "magic" link (`/proc/<pid>/fd/N`): the open file it stands for. Following
    /// it reaches that file itself, not whatever its path names now (a pipe, an unlinked
    /// file).
    fn magic_file(&self) -> Option<Arc<File>> {
        None
    }
    /// Opens a special file (device, FIFO); `None` for ordinary files and directories.
    fn open_special(self: Arc<Self>, _flags: u32) -> Option<Result<Arc<dyn FileOps>, Errno>> {
        None
    }
    /// The filesystem's statistics.
    fn statfs(&self) -> StatFs {
        StatFs::default()
    }
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
}

/// What `statfs` reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatFs {
    pub fs_type: u64,
    pub block_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub files: u64,
    pub files_free: u64,
    pub name_max: u64,
}

/// Identity of an inode across filesystems: (device, inode number).
pub fn identity(i: &dyn Inode) -> (u64, u64) {
    let s = i.stat();
    (s.dev, s.ino)
}
