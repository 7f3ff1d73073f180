//! Building the filesystem tree at boot and opening files.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;

use super::file::{flags::*, DirFile, File, FileOps, InodeFile};
use super::path::{self, Follow, Location, Mount};
use super::ramfs::{self, Limit, RamFs};
use super::vfs::{self, FileType, Inode};
use super::{cpio, devices};

use crate::errno::Errno;

static ROOT: spin::Once<Location> = spin::Once::new();

/// The root of the filesystem tree.
pub fn root_location() -> Location {
    ROOT.get().expect("filesystem not initialised").clone()
}

/// Unpacks the initramfs archive(s) into `root`; later entries replace earlier ones.
pub fn unpack(root: &Arc<ramfs::RamInode>, data: &[u8]) -> Result<usize, cpio::CpioError> {
    let mut n = 0;
    for e in cpio::Reader::new(data) {
        let e = e?;
        let name = e.name.trim_start_matches("./").trim_start_matches('/');
        if name.is_empty() || name == "." {
            continue;
        }
        let (dir_path, base) = match name.rfind('/') {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => ("", name),
        };
        let mut dir: Arc<dyn Inode> = root.clone();
        for c in dir_path.split('/').filter(|c| !c.is_empty()) {
            dir = match dir.lookup(c) {
                Ok(d) if d.kind() == FileType::Directory => d,
                _ => {
                    let _ = dir.unlink(c);
                    match dir.create(c, FileType::Directory, 0o755, 0) {
                        Ok(d) => d,
                        Err(_) => break,
                    }
                }
            };
        }
        let kind = FileType::from_mode(e.mode).unwrap_or(FileType::Regular);
        let perm = e.mode & 0o7777;
        if let Ok(old) = dir.lookup(base) {
            if kind == FileType::Directory && old.kind() == FileType::Directory {
                let _ = old.set_attr(vfs::SetAttr { mode: Some(perm), ..Default::default() });
                continue;
            }
            let _ = if old.kind() == FileType::Directory { dir.rmdir(base) } else { dir.unlink(base) };
        }
        let made = match kind {
            FileType::Symlink => dir.symlink(base, core::str::from_utf8(e.data).unwrap_or("")),
            FileType::Regular => dir.create(base, kind, perm, 0).and_then(|f| f.write_at(0, e.data).map(|_| f)),
            FileType::CharDevice | FileType::BlockDevice => dir.create(base, kind, perm, devices::makedev(e.rdev.0, e.rdev.1)),
            _ => dir.create(base, kind, perm, 0),
        };
        if let Ok(i) = made {
            let t = vfs::Timespec { sec: i64::from(e.mtime), nsec: 0 };
            let _ = i.set_attr(vfs::SetAttr { mode: Some(perm), uid: Some(e.uid), gid: Some(e.gid), atime: Some(t), mtime: Some(t) });
            n += 1;
        }
    }
    Ok(n)
}

fn mkdir_p(root: &Location, p: &str) -> Location {
    let mut loc = root.clone();
    for c in p.split('/').filter(|c| !c.is_empty()) {
        let child = match loc.inode().lookup(c) {
            Ok(i) => i,
            Err(_) => loc.inode().create(c, FileType::Directory, 0o755, 0).expect("cannot create a directory in the root filesystem"),
        };
        loc = path::child_of(&loc, c, child);
    }
    loc
}

fn add_dev(dir: &Arc<ramfs::RamInode>, name: &str, major: u32, minor: u32, mode: u32) {
    let _ = dir.create(name, FileType::CharDevice, mode, devices::makedev(major, minor));
}

/// Builds the filesystem tree: the root from the initramfs, `/dev`, `/tmp` and `/dev/shm`.
pub fn init(initrd: &[u8]) -> Result<usize, cpio::CpioError> {
    let rootfs = RamFs::new(Limit::None, 0o755);
    let root_inode = rootfs.root();
    let n = unpack(&root_inode, initrd)?;
    let root = Location::root(root_inode.clone());
    path::set_root(Mount { path: "/".to_string(), fstype: "rootfs".to_string(), source: "rootfs".to_string(), options: "rw".to_string(), root: root_inode });
    ROOT.call_once(|| root.clone());
    for d in ["dev", "proc", "sys", "tmp", "root", "etc"] {
        mkdir_p(&root, d);
    }
    // devtmpfs.
    let devfs = RamFs::new(Limit::None, 0o755);
    let dev = devfs.root();
    add_dev(&dev, "null", 1, 3, 0o666);
    add_dev(&dev, "zero", 1, 5, 0o666);
    add_dev(&dev, "full", 1, 7, 0o666);
    add_dev(&dev, "random", 1, 8, 0o666);
    add_dev(&dev, "urandom", 1, 9, 0o666);
    add_dev(&dev, "tty", 5, 0, 0o666);
    add_dev(&dev, "console", 5, 1, 0o600);
    // Linux's 8250 driver registers four ports; only COM1 has a UART behind it here.
    for i in 0..4 {
        add_dev(&dev, &format!("ttyS{i}"), 4, 64 + i, 0o660);
    }
    let _ = dev.symlink("fd", "/proc/self/fd");
    let _ = dev.symlink("stdin", "/proc/self/fd/0");
    let _ = dev.symlink("stdout", "/proc/self/fd/1");
    let _ = dev.symlink("stderr", "/proc/self/fd/2");
    let _ = dev.create("shm", FileType::Directory, 0o1777, 0);
    let _ = dev.create("pts", FileType::Directory, 0o755, 0);
    // A device node, as devtmpfs has it (so /proc/self/fd shows "/dev/ptmx").
    add_dev(&dev, "ptmx", 5, 2, 0o666);
    let on = mkdir_p(&root, "dev");
    mount_fs(&on, "devtmpfs", "devtmpfs", "rw,nosuid,mode=755", dev);
    if let Ok(pts) = path::resolve(&root, &root, "/dev/pts", Follow::Yes) {
        mount_fs(&pts, "devpts", "devpts", "rw,nosuid,noexec,gid=5,mode=620,ptmxmode=666", Arc::new(super::pty::PtsDir));
    }
    // tmpfs at /tmp and /dev/shm, each allowed half of RAM (Linux's tmpfs default).
    let half = rtos::mm::frame::total_pages() as u64 * 4096 / 2;
    for (p, mode) in [("/tmp", 0o1777), ("/dev/shm", 0o1777)] {
        let fs = RamFs::new(Limit::HalfRam, mode);
        let on = path::resolve(&root, &root, p, Follow::Yes).unwrap_or_else(|_| mkdir_p(&root, p));
        mount_fs(&on, "tmpfs", "tmpfs", &format!("rw,nosuid,nodev,size={}k", half / 1024), fs.root());
    }
    mount_fs(&mkdir_p(&root, "proc"), "proc", "proc", "rw,nosuid,nodev,noexec,relatime", super::procfs::new_root());
    mount_fs(&mkdir_p(&root, "sys"), "sysfs", "sysfs", "rw,nosuid,nodev,noexec,relatime", super::sysfs::new_root());
    Ok(n)
}

fn mount_fs(on: &Location, fstype: &str, source: &str, options: &str, root: Arc<dyn Inode>) {
    let _ = path::mount(on, Mount { path: String::new(), fstype: fstype.to_string(), source: source.to_string(), options: options.to_string(), root });
}

/// Opens `path` relative to `dir` (the `openat` logic).
pub fn open(root: &Location, dir: &Location, path: &str, oflags: u32, mode: u32, umask: u32) -> Result<Arc<File>, Errno> {
    if oflags & O_TMPFILE == O_TMPFILE {
        return Err(Errno::EOPNOTSUPP);
    }
    let follow = if oflags & O_NOFOLLOW != 0 { Follow::No } else { Follow::Yes };
    let loc = if oflags & O_CREAT != 0 {
        let (parent, name) = path::resolve_parent(root, dir, path)?;
        if name == "." || name == ".." || path.ends_with('/') {
            return Err(Errno::EISDIR);
        }
        match parent.inode().lookup(&name) {
            Ok(existing) => {
                if oflags & O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                if existing.kind() == FileType::Symlink {
                    if follow == Follow::No {
                        return Err(Errno::ELOOP);
                    }
                    path::resolve(root, dir, path, Follow::Yes)?
                } else {
                    path::child_of(&parent, &name, existing)
                }
            }
            Err(Errno::ENOENT) => {
                let inode = parent.inode().create(&name, FileType::Regular, mode & !umask & 0o7777, 0)?;
                path::child_of(&parent, &name, inode)
            }
            Err(e) => return Err(e),
        }
    } else {
        path::resolve(root, dir, path, follow)?
    };
    open_location(loc, oflags)
}

/// Opens a resolved location.
pub fn open_location(loc: Location, oflags: u32) -> Result<Arc<File>, Errno> {
    if let Some(f) = &loc.magic {
        // A pipe or socket reached through /proc/<pid>/fd: a new open file description
        // of the same object.
        if oflags & O_DIRECTORY != 0 {
            return Err(Errno::ENOTDIR);
        }
        let keep = if oflags & O_PATH != 0 { O_PATH | O_NOFOLLOW } else { !0 };
        return Ok(File::new(f.ops.clone(), oflags & keep, None, f.name.clone()));
    }
    let inode = loc.inode().clone();
    let kind = inode.kind();
    if oflags & O_PATH != 0 {
        if oflags & O_DIRECTORY != 0 && kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let ops: Arc<dyn FileOps> = Arc::new(InodeFile { inode });
        let name = loc.path_string();
        return Ok(File::new(ops, oflags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), Some(loc), name));
    }
    let acc = oflags & O_ACCMODE;
    if kind == FileType::Symlink {
        return Err(Errno::ELOOP);
    }
    if oflags & O_DIRECTORY != 0 && kind != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let ops: Arc<dyn FileOps> = match kind {
        FileType::Directory => {
            if acc != O_RDONLY || oflags & O_CREAT != 0 {
                return Err(Errno::EISDIR);
            }
            Arc::new(DirFile { inode })
        }
        FileType::Regular => {
            if oflags & O_TRUNC != 0 && acc != O_RDONLY {
                inode.truncate(0)?;
            }
            Arc::new(InodeFile { inode })
        }
        FileType::Socket => return Err(Errno::ENXIO),
        _ => match inode.clone().open_special(oflags) {
            Some(r) => r?,
            None => return Err(Errno::ENXIO),
        },
    };
    let name = loc.path_string();
    Ok(File::new(ops, oflags, Some(loc), name))
}
