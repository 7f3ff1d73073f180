//! procfs, mounted at `/proc`: process and system information generated when read.
//!
//! - `self`, `thread-self`: links to the reader's process and thread;
//! - `<pid>/` for every process (and, not listed, `<tid>/` for every thread): `stat`,
//!   `statm`, `status`, `cmdline`, `comm`, `environ`, `maps`, `fd/`, `fdinfo/`, `task/`,
//!   `exe`, `cwd`, `root`, `cgroup`, `mounts`, `mountinfo`, `io`, `limits`,
//!   `oom_score_adj`... ([`pid`]);
//! - `cpuinfo`, `meminfo`, `stat`, `uptime`, `loadavg`, `mounts`, `filesystems`,
//!   `version`, `swaps` and `sys/` ([`system`], [`cpu`]).
//!
//! Files are read-only unless Linux lets root write them (`comm`, `oom_score_adj`); their
//! size is 0, as on Linux, so readers read until end of file.

pub mod cpu;
pub mod node;
pub mod pid;
pub mod system;

use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use node::{DirSource, Fs, GenDir, GenLink, Table};

use crate::errno::Errno;
use crate::fs::vfs::{DirEntry, FileType, Inode};

/// `PROC_SUPER_MAGIC`.
pub const PROC_SUPER_MAGIC: u64 = 0x9fa0;

/// The procfs device (0:21, below the ramfs instances' numbers).
pub const FS: Fs = Fs { dev: 0x15, magic: PROC_SUPER_MAGIC };

/// Inode number classes (top byte of the number).
pub const KIND_PID: u64 = 1;
pub const KIND_TASK: u64 = 2;
pub const KIND_FD: u64 = 3;
pub const KIND_FDINFO: u64 = 4;
pub const KIND_SYS: u64 = 5;

/// A stable inode number: class, id (pid/tid), entry.
pub fn ino(kind: u64, id: u64, sub: u64) -> u64 {
    (kind << 56) | ((id & 0xffff_ffff) << 24) | (sub & 0xff_ffff)
}

/// The root directory: fixed entries, `self`, `thread-self` and one directory per pid.
struct Root {
    table: Table,
}

fn self_target() -> Result<alloc::string::String, Errno> {
    let t = crate::process::try_current_task().ok_or(Errno::ENOENT)?;
    Ok(t.process.pid.to_string())
}

fn thread_self_target() -> Result<alloc::string::String, Errno> {
    let t = crate::process::try_current_task().ok_or(Errno::ENOENT)?;
    Ok(format!("{}/task/{}", t.process.pid, t.tid()))
}

impl DirSource for Root {
    fn entries(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut v = self.table.entries()?;
        v.push(DirEntry { name: "self".to_string(), ino: 0x100, kind: FileType::Symlink });
        v.push(DirEntry { name: "thread-self".to_string(), ino: 0x101, kind: FileType::Symlink });
        for pid in pid::visible_pids() {
            v.push(DirEntry { name: pid.to_string(), ino: ino(KIND_PID, pid as u64, 0), kind: FileType::Directory });
        }
        Ok(v)
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        match name {
            "self" => Ok(GenLink::make(FS, 0x100, 0o777, alloc::boxed::Box::new(self_target))),
            "thread-self" => Ok(GenLink::make(FS, 0x101, 0o777, alloc::boxed::Box::new(thread_self_target))),
            _ => match name.parse::<crate::process::Pid>() {
                Ok(id) if id > 0 && id.to_string() == name => pid::lookup_id(id),
                _ => self.table.lookup(name),
            },
        }
    }
}

/// The root of a new procfs; also starts the statistics thread (load average, idle
/// accounting) the first time.
pub fn new_root() -> Arc<dyn Inode> {
    cpu::start();
    GenDir::make(FS, 1, 0o555, Root { table: Table(system::top_level()) })
}
