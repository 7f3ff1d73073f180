//! The inode kinds procfs and sysfs are made of: files whose content is generated when read,
//! symbolic links whose target is computed when read, and directories whose entries are
//! listed and looked up live.
//!
//! Nothing is cached: every `read_at` formats the whole file afresh and returns the slice
//! at the offset asked for (so a reader that reads in small pieces may see values change
//! between pieces, as with Linux's seq_file), and every directory listing asks the kernel
//! what exists now.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use rtos::sync::SpinLock;

use crate::errno::Errno;
use crate::fs::vfs::{DirEntry, FileType, Inode, Stat, StatFs, Timespec};

/// Generates a file's whole content.
pub type GenFn = Box<dyn Fn() -> Result<Vec<u8>, Errno> + Send + Sync>;
/// Accepts a write (the data of one `write` call); returns the bytes consumed.
pub type WriteFn = Box<dyn Fn(&[u8]) -> Result<usize, Errno> + Send + Sync>;
/// Computes a symbolic link's target.
pub type LinkFn = Box<dyn Fn() -> Result<String, Errno> + Send + Sync>;

/// The superblock data shared by every node of one filesystem.
#[derive(Clone, Copy, Debug)]
pub struct Fs {
    /// Device number (`st_dev`).
    pub dev: u64,
    /// `statfs` magic.
    pub magic: u64,
}

fn stat_of(fs: Fs, ino: u64, kind: FileType, perm: u32, nlink: u32, size: u64) -> Stat {
    let now = Timespec::now();
    Stat {
        dev: fs.dev,
        ino,
        mode: kind.mode_bits() | (perm & 0o7777),
        nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        size,
        blksize: 1024,
        blocks: 0,
        atime: now,
        mtime: now,
        ctime: now,
    }
}

fn statfs_of(fs: Fs) -> StatFs {
    StatFs { fs_type: fs.magic, block_size: 4096, blocks: 0, blocks_free: 0, files: 0, files_free: 0, name_max: 255 }
}

/// What a write to a generated file does.
pub enum Writes {
    /// Refused with this error (Linux: `EIO` for most /proc files, `EINVAL` for
    /// /proc/<pid>/ files, `EACCES` for sysfs and /proc/sys where even the open fails).
    Refuse(Errno),
    /// Handled by the function.
    Accept(WriteFn),
}

/// A read-only (or specially writable) file generated when read; its size is 0.
///
/// A read at offset 0 generates the content afresh and keeps it as the snapshot of the
/// reading thread; reads further on by the same thread continue in that snapshot, so a
/// file read in pieces is consistent even when reading changes it (reading
/// `/proc/self/maps` into a growing buffer moves the heap). Linux's seq_file gives the
/// same guarantee per record. A read elsewhere by another thread generates anew.
pub struct GenFile {
    fs: Fs,
    ino: u64,
    perm: u32,
    gen: GenFn,
    writes: Writes,
    snapshot: SpinLock<Option<(u64, Arc<Vec<u8>>)>>,
}

impl GenFile {
    /// A file of `perm` whose content `gen` produces; writes fail with `write_err`.
    pub fn make(fs: Fs, ino: u64, perm: u32, write_err: Errno, gen: GenFn) -> Arc<dyn Inode> {
        Arc::new(Self { fs, ino, perm, gen, writes: Writes::Refuse(write_err), snapshot: SpinLock::new(None) })
    }

    /// A file whose writes `write` handles.
    pub fn writable(fs: Fs, ino: u64, perm: u32, gen: GenFn, write: WriteFn) -> Arc<dyn Inode> {
        Arc::new(Self { fs, ino, perm, gen, writes: Writes::Accept(write), snapshot: SpinLock::new(None) })
    }

    fn content(&self, off: u64) -> Result<Arc<Vec<u8>>, Errno> {
        let reader = rtos::sched::core::current().id();
        if off > 0 {
            if let Some((who, data)) = &*self.snapshot.lock() {
                if *who == reader {
                    return Ok(data.clone());
                }
            }
        }
        let data = Arc::new((self.gen)()?);
        *self.snapshot.lock() = Some((reader, data.clone()));
        Ok(data)
    }
}

impl Inode for GenFile {
    fn stat(&self) -> Stat {
        stat_of(self.fs, self.ino, FileType::Regular, self.perm, 1, 0)
    }

    fn kind(&self) -> FileType {
        FileType::Regular
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let data = self.content(off)?;
        let Ok(off) = usize::try_from(off) else { return Ok(0) };
        if off >= data.len() {
            return Ok(0);
        }
        let n = buf.len().min(data.len() - off);
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }

    fn write_at(&self, _off: u64, data: &[u8]) -> Result<usize, Errno> {
        match &self.writes {
            Writes::Accept(f) => f(data),
            Writes::Refuse(e) => Err(*e),
        }
    }

    /// `O_TRUNC` is ignored (as Linux's procfs does) except where opening for writing is
    /// refused altogether (sysfs and /proc/sys read-only files: `EACCES`).
    fn truncate(&self, _size: u64) -> Result<(), Errno> {
        match &self.writes {
            Writes::Refuse(Errno::EACCES) => Err(Errno::EACCES),
            _ => Ok(()),
        }
    }

    fn statfs(&self) -> StatFs {
        statfs_of(self.fs)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A symbolic link whose target is computed when read.
pub struct GenLink {
    fs: Fs,
    ino: u64,
    perm: u32,
    target: LinkFn,
}

impl GenLink {
    /// A link (mode `lrwxrwxrwx` unless `perm` says otherwise).
    pub fn make(fs: Fs, ino: u64, perm: u32, target: LinkFn) -> Arc<dyn Inode> {
        Arc::new(Self { fs, ino, perm, target })
    }
}

impl Inode for GenLink {
    fn stat(&self) -> Stat {
        stat_of(self.fs, self.ino, FileType::Symlink, self.perm, 1, 0)
    }

    fn kind(&self) -> FileType {
        FileType::Symlink
    }

    fn readlink(&self) -> Result<String, Errno> {
        (self.target)()
    }

    fn statfs(&self) -> StatFs {
        statfs_of(self.fs)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Where a directory's entries come from.
pub trait DirSource: Send + Sync + 'static {
    /// The entries now (without `.` and `..`).
    fn entries(&self) -> Result<Vec<DirEntry>, Errno>;
    /// The entry `name`.
    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno>;
}

/// A directory with a fixed set of entries, made when the directory node is made.
pub struct Table(pub Vec<(&'static str, Arc<dyn Inode>)>);

impl DirSource for Table {
    fn entries(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(self.0.iter().map(|(n, i)| DirEntry { name: String::from(*n), ino: i.stat().ino, kind: i.kind() }).collect())
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, i)| i.clone()).ok_or(Errno::ENOENT)
    }
}

/// A directory node.
pub struct GenDir {
    fs: Fs,
    ino: u64,
    perm: u32,
    src: Box<dyn DirSource>,
}

impl GenDir {
    /// A directory of `perm` listing `src`.
    pub fn make(fs: Fs, ino: u64, perm: u32, src: impl DirSource) -> Arc<dyn Inode> {
        Arc::new(Self { fs, ino, perm, src: Box::new(src) })
    }

    /// A directory with fixed entries.
    pub fn table(fs: Fs, ino: u64, perm: u32, entries: Vec<(&'static str, Arc<dyn Inode>)>) -> Arc<dyn Inode> {
        Self::make(fs, ino, perm, Table(entries))
    }
}

impl Inode for GenDir {
    fn stat(&self) -> Stat {
        stat_of(self.fs, self.ino, FileType::Directory, self.perm, 2, 0)
    }

    fn kind(&self) -> FileType {
        FileType::Directory
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        match name {
            "." | ".." => Err(Errno::ENOENT),
            _ => self.src.lookup(name),
        }
    }

    fn create(&self, _name: &str, _kind: FileType, _mode: u32, _rdev: u64) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::EACCES)
    }

    fn symlink(&self, _name: &str, _target: &str) -> Result<Arc<dyn Inode>, Errno> {
        Err(Errno::EACCES)
    }

    fn link(&self, _name: &str, _inode: &Arc<dyn Inode>) -> Result<(), Errno> {
        Err(Errno::EACCES)
    }

    fn unlink(&self, _name: &str) -> Result<(), Errno> {
        Err(Errno::EACCES)
    }

    fn rmdir(&self, _name: &str) -> Result<(), Errno> {
        Err(Errno::EACCES)
    }

    fn rename(&self, _old: &str, _new_dir: &Arc<dyn Inode>, _new: &str, _flags: u32) -> Result<(), Errno> {
        Err(Errno::EACCES)
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        self.src.entries()
    }

    fn statfs(&self) -> StatFs {
        statfs_of(self.fs)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A file with constant text.
pub fn text(fs: Fs, ino: u64, write_err: Errno, s: impl Into<String>) -> Arc<dyn Inode> {
    let s: String = s.into();
    GenFile::make(fs, ino, 0o444, write_err, Box::new(move || Ok(s.clone().into_bytes())))
}

/// A file generated by `f` (mode 0444).
pub fn file(fs: Fs, ino: u64, write_err: Errno, f: impl Fn() -> Result<String, Errno> + Send + Sync + 'static) -> Arc<dyn Inode> {
    GenFile::make(fs, ino, 0o444, write_err, Box::new(move || f().map(String::into_bytes)))
}

/// A CPU list as Linux prints it (`0-3,5`), from a bit mask.
pub fn cpu_list(mask: u64) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let mut i = 0u32;
    while i < 64 {
        if mask & (1 << i) == 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < 64 && mask & (1 << (i + 1)) != 0 {
            i += 1;
        }
        if !s.is_empty() {
            s.push(',');
        }
        if start == i {
            let _ = write!(s, "{start}");
        } else {
            let _ = write!(s, "{start}-{i}");
        }
        i += 1;
    }
    s
}

/// A bit mask of `nbits` bits as Linux's `%*pb` prints it: 32-bit groups in hex, highest
/// first, separated by commas, the first group only as wide as its bits need.
pub fn hex_mask(mask: u64, nbits: u32) -> String {
    use core::fmt::Write;
    let nbits = nbits.clamp(1, 64);
    let groups = nbits.div_ceil(32);
    let mut s = String::new();
    for g in (0..groups).rev() {
        let bits = if g == groups - 1 { nbits - 32 * g } else { 32 };
        let width = bits.div_ceil(4) as usize;
        let v = (mask >> (32 * g)) & 0xffff_ffff;
        let v = if bits < 32 { v & ((1 << bits) - 1) } else { v };
        if !s.is_empty() {
            s.push(',');
        }
        let _ = write!(s, "{v:0width$x}");
    }
    s
}
