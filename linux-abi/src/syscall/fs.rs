//! Path-based file calls: open, stat, directories, links, renames, permissions, times,
//! the working directory, filesystem statistics, and `getdents64`.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bytemuck::{Pod, Zeroable};

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::fs::file::{self, flags::*, File};
use crate::fs::path::{self, Follow, Location};
use crate::fs::vfs::{FileType, Inode, SetAttr, Stat, Timespec};
use crate::process::current_task;
use crate::uaccess;

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_NO_AUTOMOUNT: u32 = 0x800;
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_EACCESS: u32 = 0x200;
const AT_STATX_SYNC_TYPE: u32 = 0x6000;

fn ctx() -> (Location, Location, u32) {
    let fs = current_task().fs();
    let f = fs.lock();
    (f.root.clone(), f.cwd.clone(), f.umask)
}

/// The directory a `*at` call starts from.
fn at_dir(dirfd: i32) -> Result<Location, Errno> {
    if dirfd == AT_FDCWD {
        return Ok(ctx().1);
    }
    let f = current_task().files().get(dirfd)?;
    let loc = f.location.clone().ok_or(Errno::ENOTDIR)?;
    if loc.inode().kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    Ok(loc)
}

/// Resolves `(dirfd, path)`; an empty path with `AT_EMPTY_PATH` names `dirfd` itself.
fn resolve_at(dirfd: i32, path: &str, follow: Follow, empty_ok: bool) -> Result<Location, Errno> {
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(ctx().1);
        }
        let f = current_task().files().get(dirfd)?;
        return f.location.clone().ok_or(Errno::EBADF);
    }
    let (root, _, _) = ctx();
    let dir = if path.starts_with('/') { root.clone() } else { at_dir(dirfd)? };
    path::resolve(&root, &dir, path, follow)
}

/// An absolute path for `execveat`.
pub fn path_for_at(dirfd: i32, path: &str, empty_ok: bool) -> Result<String, Errno> {
    if path.starts_with('/') {
        return Ok(String::from(path));
    }
    Ok(resolve_at(dirfd, path, Follow::Yes, empty_ok)?.path_string())
}

fn read_path_or_empty(addr: u64, empty_ok: bool) -> Result<String, Errno> {
    let b = uaccess::read_cstr_bytes(addr, uaccess::PATH_MAX - 1)?;
    if b.is_empty() && !empty_ok {
        return Err(Errno::ENOENT);
    }
    String::from_utf8(b).map_err(|_| Errno::EINVAL)
}

fn do_open(dirfd: i32, path_addr: u64, flags: u32, mode: u32) -> SysResult {
    let p = uaccess::read_path(path_addr)?;
    let (root, _, umask) = ctx();
    let dir = if p.starts_with('/') { root.clone() } else { at_dir(dirfd)? };
    // Linux forces O_LARGEFILE on 64-bit (F_GETFL shows it).
    let f = crate::fs::open(&root, &dir, &p, flags | O_LARGEFILE, mode, umask)?;
    super::io::install(f, flags & O_CLOEXEC != 0)
}

pub fn open(a: Args) -> SysResult {
    do_open(AT_FDCWD, a.u(0), a.u32(1), a.u32(2))
}

pub fn openat(a: Args) -> SysResult {
    do_open(a.i(0), a.u(1), a.u32(2), a.u32(3))
}

pub fn creat(a: Args) -> SysResult {
    do_open(AT_FDCWD, a.u(0), O_CREAT | O_WRONLY | O_TRUNC, a.u32(1))
}

/// The kernel's `struct stat` for x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct KStat {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub _pad0: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: i64,
    pub atime_nsec: i64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ctime: i64,
    pub ctime_nsec: i64,
    pub _unused: [i64; 3],
}
const _: () = assert!(core::mem::size_of::<KStat>() == 144);

impl From<Stat> for KStat {
    fn from(s: Stat) -> Self {
        KStat {
            dev: s.dev,
            ino: s.ino,
            nlink: u64::from(s.nlink),
            mode: s.mode,
            uid: s.uid,
            gid: s.gid,
            _pad0: 0,
            rdev: s.rdev,
            size: s.size as i64,
            blksize: i64::from(s.blksize),
            blocks: s.blocks as i64,
            atime: s.atime.sec,
            atime_nsec: s.atime.nsec,
            mtime: s.mtime.sec,
            mtime_nsec: s.mtime.nsec,
            ctime: s.ctime.sec,
            ctime_nsec: s.ctime.nsec,
            _unused: [0; 3],
        }
    }
}

fn write_stat(addr: u64, s: Stat) -> SysResult {
    uaccess::write(addr, &KStat::from(s))?;
    Ok(0)
}

fn file_stat(f: &File) -> Result<Stat, Errno> {
    f.ops.stat()
}

pub fn stat(a: Args) -> SysResult {
    let p = uaccess::read_path(a.u(0))?;
    let loc = resolve_at(AT_FDCWD, &p, Follow::Yes, false)?;
    write_stat(a.u(1), loc.stat()?)
}

pub fn lstat(a: Args) -> SysResult {
    let p = uaccess::read_path(a.u(0))?;
    let loc = resolve_at(AT_FDCWD, &p, Follow::No, false)?;
    write_stat(a.u(1), loc.stat()?)
}

pub fn fstat(a: Args) -> SysResult {
    let f = super::io::fd_file(a.i(0))?;
    write_stat(a.u(1), file_stat(&f)?)
}

/// `newfstatat(dirfd, path, statbuf, flags)`.
pub fn newfstatat(a: Args) -> SysResult {
    let flags = a.u32(3);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = read_path_or_empty(a.u(1), flags & AT_EMPTY_PATH != 0)?;
    if p.is_empty() && a.i(0) != AT_FDCWD {
        let f = super::io::fd_file(a.i(0))?;
        return write_stat(a.u(2), file_stat(&f)?);
    }
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 { Follow::No } else { Follow::Yes };
    let loc = resolve_at(a.i(0), &p, follow, true)?;
    write_stat(a.u(2), loc.stat()?)
}

#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct StatxTs {
    sec: i64,
    nsec: u32,
    _r: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct Statx {
    mask: u32,
    blksize: u32,
    attributes: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    mode: u16,
    _s0: u16,
    ino: u64,
    size: u64,
    blocks: u64,
    attributes_mask: u64,
    atime: StatxTs,
    btime: StatxTs,
    ctime: StatxTs,
    mtime: StatxTs,
    rdev_major: u32,
    rdev_minor: u32,
    dev_major: u32,
    dev_minor: u32,
    mnt_id: u64,
    dio_mem_align: u32,
    dio_offset_align: u32,
    _s3: [u64; 12],
}
const _: () = assert!(core::mem::size_of::<Statx>() == 256);

/// `statx(dirfd, path, flags, mask, buf)`.
pub fn statx(a: Args) -> SysResult {
    let flags = a.u32(2);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    if a.u32(3) & 0x8000_0000 != 0 {
        return Err(Errno::EINVAL);
    }
    let p = read_path_or_empty(a.u(1), flags & AT_EMPTY_PATH != 0)?;
    let s = if p.is_empty() && a.i(0) != AT_FDCWD {
        file_stat(&*super::io::fd_file(a.i(0))?)?
    } else {
        let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 { Follow::No } else { Follow::Yes };
        resolve_at(a.i(0), &p, follow, true)?.stat()?
    };
    let ts = |t: Timespec| StatxTs { sec: t.sec, nsec: t.nsec as u32, _r: 0 };
    let (rmaj, rmin) = crate::fs::devices::major_minor(s.rdev);
    let (dmaj, dmin) = crate::fs::devices::major_minor(s.dev);
    let x = Statx {
        mask: 0x7ff, // STATX_BASIC_STATS
        blksize: s.blksize,
        nlink: s.nlink,
        uid: s.uid,
        gid: s.gid,
        mode: s.mode as u16,
        ino: s.ino,
        size: s.size,
        blocks: s.blocks,
        atime: ts(s.atime),
        btime: ts(s.ctime),
        ctime: ts(s.ctime),
        mtime: ts(s.mtime),
        rdev_major: rmaj,
        rdev_minor: rmin,
        dev_major: dmaj,
        dev_minor: dmin,
        ..Default::default()
    };
    uaccess::write(a.u(4), &x)?;
    Ok(0)
}

fn access_common(dirfd: i32, path_addr: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = read_path_or_empty(path_addr, flags & AT_EMPTY_PATH != 0)?;
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 { Follow::No } else { Follow::Yes };
    let loc = resolve_at(dirfd, &p, follow, true)?;
    // Root may read and write anything; executing needs an execute bit (or a directory).
    if mode & 1 != 0 {
        let st = loc.stat()?;
        if loc.inode().kind() != FileType::Directory && st.mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
    }
    Ok(0)
}

pub fn access(a: Args) -> SysResult {
    access_common(AT_FDCWD, a.u(0), a.u32(1), 0)
}

pub fn faccessat(a: Args) -> SysResult {
    access_common(a.i(0), a.u(1), a.u32(2), 0)
}

pub fn faccessat2(a: Args) -> SysResult {
    access_common(a.i(0), a.u(1), a.u32(2), a.u32(3))
}

pub fn getcwd(a: Args) -> SysResult {
    let (_, cwd, _) = ctx();
    let mut s = cwd.path_string().into_bytes();
    s.push(0);
    if s.len() > a.us(1) {
        return Err(Errno::ERANGE);
    }
    uaccess::write_bytes(a.u(0), &s)?;
    Ok(s.len())
}

fn set_cwd(loc: Location) -> SysResult {
    if loc.inode().kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    current_task().fs().lock().cwd = loc;
    Ok(0)
}

pub fn chdir(a: Args) -> SysResult {
    let p = uaccess::read_path(a.u(0))?;
    set_cwd(resolve_at(AT_FDCWD, &p, Follow::Yes, false)?)
}

pub fn fchdir(a: Args) -> SysResult {
    let f = super::io::fd_file(a.i(0))?;
    set_cwd(f.location.clone().ok_or(Errno::ENOTDIR)?)
}

fn parent_at(dirfd: i32, path_addr: u64) -> Result<(Location, String), Errno> {
    let p = uaccess::read_path(path_addr)?;
    let (root, _, _) = ctx();
    let dir = if p.starts_with('/') { root.clone() } else { at_dir(dirfd)? };
    path::resolve_parent(&root, &dir, &p)
}

fn mkdir_at(dirfd: i32, path_addr: u64, mode: u32) -> SysResult {
    let (parent, name) = parent_at(dirfd, path_addr)?;
    if name == "." || name == ".." {
        return Err(Errno::EEXIST);
    }
    let umask = ctx().2;
    parent.inode().create(&name, FileType::Directory, mode & !umask & 0o7777, 0)?;
    Ok(0)
}

pub fn mkdir(a: Args) -> SysResult {
    mkdir_at(AT_FDCWD, a.u(0), a.u32(1))
}

pub fn mkdirat(a: Args) -> SysResult {
    mkdir_at(a.i(0), a.u(1), a.u32(2))
}

fn rmdir_at(dirfd: i32, path_addr: u64) -> SysResult {
    let (parent, name) = parent_at(dirfd, path_addr)?;
    match name.as_str() {
        "." => return Err(Errno::EINVAL),
        ".." => return Err(Errno::ENOTEMPTY),
        _ => {}
    }
    if is_mountpoint(&parent, &name) {
        return Err(Errno::EBUSY);
    }
    parent.inode().rmdir(&name)?;
    Ok(0)
}

fn is_mountpoint(parent: &Location, name: &str) -> bool {
    parent.inode().lookup(name).is_ok_and(|c| path::is_mount_point(c.as_ref()))
}

pub fn rmdir(a: Args) -> SysResult {
    rmdir_at(AT_FDCWD, a.u(0))
}

fn unlink_at(dirfd: i32, path_addr: u64) -> SysResult {
    let (parent, name) = parent_at(dirfd, path_addr)?;
    if name == "." || name == ".." {
        return Err(Errno::EISDIR);
    }
    parent.inode().unlink(&name)?;
    Ok(0)
}

pub fn unlink(a: Args) -> SysResult {
    unlink_at(AT_FDCWD, a.u(0))
}

pub fn unlinkat(a: Args) -> SysResult {
    let flags = a.u32(2);
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & AT_REMOVEDIR != 0 {
        rmdir_at(a.i(0), a.u(1))
    } else {
        unlink_at(a.i(0), a.u(1))
    }
}

fn rename_at(olddir: i32, old: u64, newdir: i32, new: u64, flags: u32) -> SysResult {
    const RENAME_NOREPLACE: u32 = 1;
    const RENAME_EXCHANGE: u32 = 2;
    const RENAME_WHITEOUT: u32 = 4;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
        || (flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0)
    {
        return Err(Errno::EINVAL);
    }
    if flags & RENAME_WHITEOUT != 0 {
        return Err(Errno::EINVAL);
    }
    let (op, on) = parent_at(olddir, old)?;
    let (np, nn) = parent_at(newdir, new)?;
    if [on.as_str(), nn.as_str()].iter().any(|n| *n == "." || *n == "..") {
        return Err(Errno::EBUSY);
    }
    if crate::fs::vfs::identity(op.inode().as_ref()).0 != crate::fs::vfs::identity(np.inode().as_ref()).0 {
        return Err(Errno::EXDEV);
    }
    op.inode().rename(&on, np.inode(), &nn, flags)?;
    Ok(0)
}

pub fn rename(a: Args) -> SysResult {
    rename_at(AT_FDCWD, a.u(0), AT_FDCWD, a.u(1), 0)
}

pub fn renameat(a: Args) -> SysResult {
    rename_at(a.i(0), a.u(1), a.i(2), a.u(3), 0)
}

pub fn renameat2(a: Args) -> SysResult {
    rename_at(a.i(0), a.u(1), a.i(2), a.u(3), a.u32(4))
}

fn link_at(olddir: i32, old: u64, newdir: i32, new: u64, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let op = read_path_or_empty(old, flags & AT_EMPTY_PATH != 0)?;
    let follow = if flags & AT_SYMLINK_FOLLOW != 0 { Follow::Yes } else { Follow::No };
    let src = resolve_at(olddir, &op, follow, true)?;
    if src.inode().kind() == FileType::Directory {
        return Err(Errno::EPERM);
    }
    let (np, nn) = parent_at(newdir, new)?;
    if nn == "." || nn == ".." {
        return Err(Errno::EEXIST);
    }
    np.inode().link(&nn, src.inode())?;
    Ok(0)
}

pub fn link(a: Args) -> SysResult {
    link_at(AT_FDCWD, a.u(0), AT_FDCWD, a.u(1), 0)
}

pub fn linkat(a: Args) -> SysResult {
    link_at(a.i(0), a.u(1), a.i(2), a.u(3), a.u32(4))
}

fn symlink_at(target: u64, dirfd: i32, linkpath: u64) -> SysResult {
    let t = uaccess::read_path(target)?;
    let (parent, name) = parent_at(dirfd, linkpath)?;
    if name == "." || name == ".." {
        return Err(Errno::EEXIST);
    }
    parent.inode().symlink(&name, &t)?;
    Ok(0)
}

pub fn symlink(a: Args) -> SysResult {
    symlink_at(a.u(0), AT_FDCWD, a.u(1))
}

pub fn symlinkat(a: Args) -> SysResult {
    symlink_at(a.u(0), a.i(1), a.u(2))
}

fn readlink_at(dirfd: i32, path_addr: u64, buf: u64, size: i64) -> SysResult {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = read_path_or_empty(path_addr, true)?;
    let loc = resolve_at(dirfd, &p, Follow::No, true)?;
    let target = loc.inode().readlink()?;
    let n = target.len().min(size as usize);
    uaccess::write_bytes(buf, &target.as_bytes()[..n])?;
    Ok(n)
}

pub fn readlink(a: Args) -> SysResult {
    readlink_at(AT_FDCWD, a.u(0), a.u(1), a.u(2) as i64)
}

pub fn readlinkat(a: Args) -> SysResult {
    readlink_at(a.i(0), a.u(1), a.u(2), a.u(3) as i64)
}

fn set_attr_loc(loc: &Location, attr: SetAttr) -> SysResult {
    loc.inode().set_attr(attr)?;
    Ok(0)
}

pub fn chmod(a: Args) -> SysResult {
    let p = uaccess::read_path(a.u(0))?;
    set_attr_loc(&resolve_at(AT_FDCWD, &p, Follow::Yes, false)?, SetAttr { mode: Some(a.u32(1) & 0o7777), ..Default::default() })
}

pub fn fchmod(a: Args) -> SysResult {
    let f = super::io::fd_file(a.i(0))?;
    f.ops.inode().ok_or(Errno::EBADF)?.set_attr(SetAttr { mode: Some(a.u32(1) & 0o7777), ..Default::default() })?;
    Ok(0)
}

pub fn fchmodat(a: Args) -> SysResult {
    let p = uaccess::read_path(a.u(1))?;
    set_attr_loc(&resolve_at(a.i(0), &p, Follow::Yes, false)?, SetAttr { mode: Some(a.u32(2) & 0o7777), ..Default::default() })
}

fn owner(uid: u32, gid: u32) -> SetAttr {
    SetAttr { uid: (uid != u32::MAX).then_some(uid), gid: (gid != u32::MAX).then_some(gid), ..Default::default() }
}

pub fn chown(a: Args, nofollow: bool) -> SysResult {
    let p = uaccess::read_path(a.u(0))?;
    let follow = if nofollow { Follow::No } else { Follow::Yes };
    set_attr_loc(&resolve_at(AT_FDCWD, &p, follow, false)?, owner(a.u32(1), a.u32(2)))
}

pub fn fchown(a: Args) -> SysResult {
    let f = super::io::fd_file(a.i(0))?;
    f.ops.inode().ok_or(Errno::EBADF)?.set_attr(owner(a.u32(1), a.u32(2)))?;
    Ok(0)
}

pub fn fchownat(a: Args) -> SysResult {
    let flags = a.u32(4);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = read_path_or_empty(a.u(1), flags & AT_EMPTY_PATH != 0)?;
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 { Follow::No } else { Follow::Yes };
    set_attr_loc(&resolve_at(a.i(0), &p, follow, true)?, owner(a.u32(2), a.u32(3)))
}

pub fn truncate(a: Args) -> SysResult {
    let p = uaccess::read_path(a.u(0))?;
    if (a.u(1) as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let loc = resolve_at(AT_FDCWD, &p, Follow::Yes, false)?;
    match loc.inode().kind() {
        FileType::Directory => Err(Errno::EISDIR),
        FileType::Regular => loc.inode().truncate(a.u(1)).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// `utimensat(dirfd, path, times, flags)`.
pub fn utimensat(a: Args) -> SysResult {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    let flags = a.u32(3);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let now = Timespec::now();
    let (at, mt) = if a.u(2) == 0 {
        (Some(now), Some(now))
    } else {
        let ts: [crate::time::Timespec; 2] = uaccess::read(a.u(2))?;
        let conv = |t: crate::time::Timespec| -> Result<Option<Timespec>, Errno> {
            match t.nsec {
                UTIME_NOW => Ok(Some(now)),
                UTIME_OMIT => Ok(None),
                n if (0..1_000_000_000).contains(&n) => Ok(Some(Timespec { sec: t.sec, nsec: n })),
                _ => Err(Errno::EINVAL),
            }
        };
        (conv(ts[0])?, conv(ts[1])?)
    };
    let inode: Arc<dyn Inode> = if a.u(1) == 0 {
        super::io::fd_file(a.i(0))?.ops.inode().ok_or(Errno::EBADF)?
    } else {
        let p = read_path_or_empty(a.u(1), flags & AT_EMPTY_PATH != 0)?;
        let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 { Follow::No } else { Follow::Yes };
        resolve_at(a.i(0), &p, follow, true)?.inode().clone()
    };
    inode.set_attr(SetAttr { atime: at, mtime: mt, ..Default::default() })?;
    Ok(0)
}

#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct KStatfs {
    f_type: i64,
    f_bsize: i64,
    f_blocks: u64,
    f_bfree: u64,
    f_bavail: u64,
    f_files: u64,
    f_ffree: u64,
    f_fsid: [i32; 2],
    f_namelen: i64,
    f_frsize: i64,
    f_flags: i64,
    f_spare: [i64; 4],
}
const _: () = assert!(core::mem::size_of::<KStatfs>() == 120);

fn write_statfs(addr: u64, i: &Arc<dyn Inode>) -> SysResult {
    let s = i.statfs();
    let dev = crate::fs::vfs::identity(i.as_ref()).0;
    let k = KStatfs {
        f_type: s.fs_type as i64,
        f_bsize: s.block_size as i64,
        f_blocks: s.blocks,
        f_bfree: s.blocks_free,
        f_bavail: s.blocks_free,
        f_files: s.files,
        f_ffree: s.files_free,
        f_fsid: [dev as i32, 0],
        f_namelen: s.name_max as i64,
        f_frsize: s.block_size as i64,
        f_flags: 0x20, // ST_VALID
        f_spare: [0; 4],
    };
    uaccess::write(addr, &k)?;
    Ok(0)
}

pub fn statfs(a: Args) -> SysResult {
    let p = uaccess::read_path(a.u(0))?;
    let loc = resolve_at(AT_FDCWD, &p, Follow::Yes, false)?;
    write_statfs(a.u(1), loc.inode())
}

pub fn fstatfs(a: Args) -> SysResult {
    let f = super::io::fd_file(a.i(0))?;
    write_statfs(a.u(1), &f.ops.inode().ok_or(Errno::ENOSYS)?)
}

/// `getdents64(fd, buf, count)`.
pub fn getdents64(a: Args) -> SysResult {
    let f = super::io::fd_file(a.i(0))?;
    if !f.ops.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let dir = f.ops.inode().ok_or(Errno::ENOTDIR)?;
    let self_id = crate::fs::vfs::identity(dir.as_ref()).1;
    let parent_id = dir.lookup("..").map_or(self_id, |p| crate::fs::vfs::identity(p.as_ref()).1);
    let list = dir.readdir()?;
    let mut entries: Vec<(u64, u8, &str)> = Vec::with_capacity(list.len() + 2);
    entries.push((self_id, FileType::Directory.dirent_type(), "."));
    entries.push((parent_id, FileType::Directory.dirent_type(), ".."));
    for e in &list {
        entries.push((e.ino, e.kind.dirent_type(), e.name.as_str()));
    }
    let mut pos = f.pos();
    let (bytes, next) = file::encode_dirents(&entries, *pos as usize, a.us(2));
    if bytes.is_empty() && (*pos as usize) < entries.len() {
        return Err(Errno::EINVAL);
    }
    uaccess::write_bytes(a.u(1), &bytes)?;
    *pos = next as u64;
    Ok(bytes.len())
}
