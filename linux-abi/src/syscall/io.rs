//! Descriptor I/O: read/write and their vector and positional forms, lseek, ioctl, fcntl,
//! dup*, close, fsync, ftruncate, fallocate, poll.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::fs::file::{flags, File};
use crate::process::limits::RLIMIT_NOFILE;
use crate::process::{current_process, current_task};
use crate::uaccess;

/// Largest single transfer (Linux `MAX_RW_COUNT`).
const MAX_RW: usize = 0x7fff_f000;
/// Bounce buffer chunk for transfers.
const CHUNK: usize = 64 * 1024;

pub fn fd_file(fd: i32) -> Result<Arc<File>, Errno> {
    current_task().files().get(fd)
}

fn nofile_limit() -> usize {
    current_process().rlimits.lock().soft(RLIMIT_NOFILE).min(crate::process::limits::NR_OPEN) as usize
}

/// Installs `file` at the lowest free descriptor.
pub fn install(file: Arc<File>, cloexec: bool) -> SysResult {
    current_task().files().alloc(file, cloexec, 0, nofile_limit()).map(|fd| fd as usize)
}

/// Reads into user memory through a bounce buffer, in chunks; `f` reads into a kernel
/// buffer and returns the count. Stops at a short read.
fn read_into_user(addr: u64, len: usize, mut f: impl FnMut(&mut [u8], usize) -> SysResult) -> SysResult {
    let len = len.min(MAX_RW);
    if len == 0 {
        return f(&mut [], 0);
    }
    let mut buf = vec![0u8; len.min(CHUNK)];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(buf.len());
        let n = match f(&mut buf[..want], done) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if n > 0 {
            uaccess::write_bytes(addr + done as u64, &buf[..n])?;
        }
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done)
}

/// Writes from user memory through a bounce buffer.
fn write_from_user(addr: u64, len: usize, mut f: impl FnMut(&[u8], usize) -> SysResult) -> SysResult {
    let len = len.min(MAX_RW);
    if len == 0 {
        return f(&[], 0);
    }
    // Small writes (pipes: atomic up to PIPE_BUF) go in one piece.
    let mut buf = vec![0u8; len.min(CHUNK)];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(buf.len());
        if let Err(e) = uaccess::read_bytes(addr + done as u64, &mut buf[..want]) {
            return if done == 0 { Err(e) } else { Ok(done) };
        }
        let n = match f(&buf[..want], done) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done)
}

/// Most bytes of a stream read whose destination is checked up front (more than any pipe
/// or socket buffer holds).
const PROBE_MAX: usize = 4 << 20;

/// Checks a read's destination before data is consumed from a stream (pipe, socket,
/// terminal): Linux leaves the data in place when the copy to user memory fails.
fn probe_dest(file: &File, addr: u64, len: usize) -> Result<(), Errno> {
    if file.ops.inode().is_some_and(|i| i.kind() == crate::fs::vfs::FileType::Regular) {
        return Ok(());
    }
    rtos::arch::x86_64::usercopy::probe_writable(addr, len.min(PROBE_MAX)).map_err(|_| Errno::EFAULT)
}

pub fn read(a: Args) -> SysResult {
    let file = fd_file(a.i(0))?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    probe_dest(&file, a.u(1), a.us(2))?;
    read_into_user(a.u(1), a.us(2), |b, _| file.ops.read(&file, b))
}

pub fn write(a: Args) -> SysResult {
    let file = fd_file(a.i(0))?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    write_from_user(a.u(1), a.us(2), |b, _| file.ops.write(&file, b))
}

fn check_offset(off: i64) -> Result<u64, Errno> {
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(off as u64)
}

pub fn pread64(a: Args) -> SysResult {
    let file = fd_file(a.i(0))?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let off = check_offset(a.u(3) as i64)?;
    read_into_user(a.u(1), a.us(2), |b, done| file.ops.read_at(&file, off + done as u64, b))
}

pub fn pwrite64(a: Args) -> SysResult {
    let file = fd_file(a.i(0))?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let off = check_offset(a.u(3) as i64)?;
    write_from_user(a.u(1), a.us(2), |b, done| file.ops.write_at(&file, off + done as u64, b))
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Iovec {
    base: u64,
    len: u64,
}

fn read_iov(addr: u64, cnt: i32) -> Result<Vec<Iovec>, Errno> {
    if !(0..=1024).contains(&cnt) {
        return Err(Errno::EINVAL);
    }
    let v: Vec<Iovec> = uaccess::read_vec(addr, cnt as usize)?;
    let mut total: u64 = 0;
    for i in &v {
        if i.len > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        total = total.checked_add(i.len).ok_or(Errno::EINVAL)?;
    }
    if total > i64::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

/// Vectored read: fills the buffers in order; stops at a short read.
fn readv_common(fd: i32, iov: u64, cnt: i32, off: Option<u64>) -> SysResult {
    let file = fd_file(fd)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let v = read_iov(iov, cnt)?;
    if off.is_none() {
        for i in &v {
            probe_dest(&file, i.base, i.len as usize)?;
        }
    }
    let mut total = 0usize;
    for i in v {
        if i.len == 0 {
            continue;
        }
        let r = match off {
            Some(o) => {
                let base = o + total as u64;
                read_into_user(i.base, i.len as usize, |b, d| file.ops.read_at(&file, base + d as u64, b))
            }
            None => read_into_user(i.base, i.len as usize, |b, _| file.ops.read(&file, b)),
        };
        match r {
            Ok(n) => {
                total += n;
                if n < i.len as usize {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// Vectored write. Small writes are gathered into one buffer so a pipe or socket sees
/// one atomic write, as Linux does.
fn writev_common(fd: i32, iov: u64, cnt: i32, off: Option<u64>) -> SysResult {
    let file = fd_file(fd)?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let v = read_iov(iov, cnt)?;
    let total_len: u64 = v.iter().map(|i| i.len).sum();
    if total_len as usize <= CHUNK {
        let mut buf = Vec::with_capacity(total_len as usize);
        for i in &v {
            let start = buf.len();
            buf.resize(start + i.len as usize, 0);
            uaccess::read_bytes(i.base, &mut buf[start..])?;
        }
        return match off {
            Some(o) => file.ops.write_at(&file, o, &buf),
            None => file.ops.write(&file, &buf),
        };
    }
    let mut total = 0usize;
    for i in v {
        if i.len == 0 {
            continue;
        }
        let r = match off {
            Some(o) => {
                let base = o + total as u64;
                write_from_user(i.base, i.len as usize, |b, d| file.ops.write_at(&file, base + d as u64, b))
            }
            None => write_from_user(i.base, i.len as usize, |b, _| file.ops.write(&file, b)),
        };
        match r {
            Ok(n) => {
                total += n;
                if n < i.len as usize {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

pub fn readv(a: Args) -> SysResult {
    readv_common(a.i(0), a.u(1), a.i(2), None)
}

pub fn writev(a: Args) -> SysResult {
    writev_common(a.i(0), a.u(1), a.i(2), None)
}

pub fn preadv(a: Args) -> SysResult {
    readv_common(a.i(0), a.u(1), a.i(2), Some(check_offset(a.u(3) as i64)?))
}

pub fn pwritev(a: Args) -> SysResult {
    writev_common(a.i(0), a.u(1), a.i(2), Some(check_offset(a.u(3) as i64)?))
}

pub fn lseek(a: Args) -> SysResult {
    let file = fd_file(a.i(0))?;
    if a.u32(2) > 4 {
        return Err(Errno::EINVAL);
    }
    file.ops.seek(&file, a.u(1) as i64, a.u32(2))
}

/// Closing a descriptor releases the process's POSIX record locks on that file.
pub fn after_close(file: &File) {
    crate::fs::locks::release_process_on(file, current_process().pid);
}

pub fn close(a: Args) -> SysResult {
    let e = current_task().files().close(a.i(0))?;
    after_close(&e.file);
    drop(e);
    Ok(0)
}

/// `flock(fd, op)`.
pub fn flock(a: Args) -> SysResult {
    let f = fd_file(a.i(0))?;
    crate::fs::locks::flock(&f, a.i(1))
}

/// `close_range(first, last, flags)`.
pub fn close_range(a: Args) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u32 = 2;
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    let (first, last, fl) = (a.u32(0), a.u32(1), a.u32(2));
    if fl & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    let task = current_task();
    if fl & CLOSE_RANGE_UNSHARE != 0 {
        let copy = Arc::new(task.files().duplicate());
        *task.files.lock() = copy;
    }
    let closed = task.files().close_range(first as usize, last as usize, fl & CLOSE_RANGE_CLOEXEC != 0);
    for e in &closed {
        after_close(&e.file);
    }
    drop(closed);
    Ok(0)
}

pub fn dup(a: Args) -> SysResult {
    let f = fd_file(a.i(0))?;
    install(f, false)
}

fn dup_to(old: i32, new: i32, cloexec: bool) -> SysResult {
    let f = fd_file(old)?;
    if new < 0 || new as usize >= nofile_limit() {
        return Err(Errno::EBADF);
    }
    let prev = current_task().files().install(new as usize, f, cloexec);
    if let Some(p) = &prev {
        after_close(&p.file);
    }
    drop(prev);
    Ok(new as usize)
}

pub fn dup2(a: Args) -> SysResult {
    if a.i(0) == a.i(1) {
        fd_file(a.i(0))?;
        return Ok(a.i(1) as usize);
    }
    dup_to(a.i(0), a.i(1), false)
}

pub fn dup3(a: Args) -> SysResult {
    let fl = a.u32(2);
    if fl & !flags::O_CLOEXEC != 0 || a.i(0) == a.i(1) {
        return Err(Errno::EINVAL);
    }
    dup_to(a.i(0), a.i(1), fl & flags::O_CLOEXEC != 0)
}

/// `fcntl(fd, cmd, arg)`.
pub fn fcntl(a: Args) -> SysResult {
    const F_DUPFD: i32 = 0;
    const F_GETFD: i32 = 1;
    const F_SETFD: i32 = 2;
    const F_GETFL: i32 = 3;
    const F_SETFL: i32 = 4;
    const F_GETLK: i32 = 5;
    const F_SETLK: i32 = 6;
    const F_SETLKW: i32 = 7;
    const F_SETOWN: i32 = 8;
    const F_GETOWN: i32 = 9;
    const F_DUPFD_CLOEXEC: i32 = 1030;
    const F_GETPIPE_SZ: i32 = 1032;
    const F_SETPIPE_SZ: i32 = 1031;
    const FD_CLOEXEC: u64 = 1;
    let (fd, cmd, arg) = (a.i(0), a.i(1), a.u(2));
    let files = current_task().files();
    let entry = files.entry(fd)?;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = arg as u32 as i32;
            if min < 0 || min as usize >= nofile_limit() {
                return Err(Errno::EINVAL);
            }
            files.alloc(entry.file, cmd == F_DUPFD_CLOEXEC, min as usize, nofile_limit()).map(|v| v as usize)
        }
        F_GETFD => Ok(usize::from(entry.cloexec)),
        F_SETFD => {
            files.set_cloexec(fd, arg & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(entry.file.flags() as usize),
        F_SETFL => {
            entry.file.set_status_flags(arg as u32);
            Ok(0)
        }
        F_GETLK | F_SETLK | F_SETLKW | 36..=38 => crate::fs::locks::fcntl_lock(&entry.file, cmd, arg),
        F_GETOWN => Ok(0),
        F_SETOWN => Ok(0),
        F_GETPIPE_SZ | F_SETPIPE_SZ => entry.file.ops.ioctl(&entry.file, cmd as u32 | 0x8000_0000, arg),
        _ => Err(Errno::EINVAL),
    }
}

/// `ioctl(fd, cmd, arg)`: FIONBIO and FIOCLEX are generic; the rest goes to the file.
pub fn ioctl(a: Args) -> SysResult {
    const FIONCLEX: u32 = 0x5450;
    const FIOCLEX: u32 = 0x5451;
    const FIONBIO: u32 = 0x5421;
    const FIOASYNC: u32 = 0x5452;
    let (fd, cmd, arg) = (a.i(0), a.u32(1), a.u(2));
    let files = current_task().files();
    let file = files.get(fd)?;
    match cmd {
        FIOCLEX | FIONCLEX => {
            files.set_cloexec(fd, cmd == FIOCLEX)?;
            Ok(0)
        }
        FIONBIO => {
            let on: i32 = uaccess::read(arg)?;
            let f = file.flags();
            file.set_status_flags(if on != 0 { f | flags::O_NONBLOCK } else { f & !flags::O_NONBLOCK });
            Ok(0)
        }
        FIOASYNC => {
            let _: i32 = uaccess::read(arg)?;
            Ok(0)
        }
        _ => file.ops.ioctl(&file, cmd, arg),
    }
}

/// `fsync`/`fdatasync`: files live in memory, so there is nothing to write back; only
/// files and directories of a filesystem can be synced (EINVAL for pipes, sockets,
/// devices, like Linux's files without an fsync operation).
pub fn fsync(a: Args) -> SysResult {
    use crate::fs::vfs::FileType;
    let f = fd_file(a.i(0))?;
    match f.ops.inode().map(|i| i.kind()) {
        Some(FileType::Regular | FileType::Directory) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn ftruncate(a: Args) -> SysResult {
    let file = fd_file(a.i(0))?;
    if (a.u(1) as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if !file.writable() {
        return Err(Errno::EINVAL);
    }
    if file.ops.is_dir() {
        return Err(Errno::EISDIR);
    }
    file.ops.truncate(a.u(1))?;
    Ok(0)
}

/// `fallocate(fd, mode, offset, len)` (mode 0 and KEEP_SIZE).
pub fn fallocate(a: Args) -> SysResult {
    const FALLOC_FL_KEEP_SIZE: i32 = 1;
    let file = fd_file(a.i(0))?;
    let (mode, off, len) = (a.i(1), a.u(2) as i64, a.u(3) as i64);
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let inode = file.ops.inode().ok_or(Errno::ESPIPE)?;
    if inode.kind() == crate::fs::vfs::FileType::Directory {
        return Err(Errno::EISDIR);
    }
    if inode.kind() != crate::fs::vfs::FileType::Regular {
        return Err(Errno::ENODEV);
    }
    match mode {
        0 => inode.allocate(off as u64, len as u64).map(|_| 0),
        FALLOC_FL_KEEP_SIZE => Ok(0),
        _ => Err(Errno::EOPNOTSUPP),
    }
}

pub fn poll(a: Args) -> SysResult {
    let timeout = a.i(2);
    let deadline = if timeout < 0 { None } else { Some(rtos::time::now_ns() + timeout as u64 * 1_000_000) };
    crate::fs::poll::poll(a.u(0), a.u(1), deadline, None)
}

pub fn ppoll(a: Args) -> SysResult {
    let deadline = if a.u(2) == 0 { None } else { Some(rtos::time::now_ns().saturating_add(crate::time::read_timespec(a.u(2))?)) };
    let mask = if a.u(3) != 0 {
        if a.u(4) != 8 {
            return Err(Errno::EINVAL);
        }
        Some(uaccess::read::<crate::signal::SigSet>(a.u(3))?)
    } else {
        None
    };
    crate::fs::poll::poll(a.u(0), a.u(1), deadline, mask)
}

/// `pipe2(fds, flags)`.
pub fn pipe2(a: Args) -> SysResult {
    let fl = a.u32(1);
    if fl & !(flags::O_CLOEXEC | flags::O_NONBLOCK | flags::O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    if fl & flags::O_DIRECT != 0 {
        // Packet-mode pipes are not supported.
        return Err(Errno::EINVAL);
    }
    let (r, w) = crate::fs::pipe::create(fl);
    let files = current_task().files();
    let cloexec = fl & flags::O_CLOEXEC != 0;
    let limit = nofile_limit();
    let rfd = files.alloc(r, cloexec, 0, limit)?;
    let wfd = match files.alloc(w, cloexec, 0, limit) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.close(rfd);
            return Err(e);
        }
    };
    if let Err(e) = uaccess::write(a.u(0), &[rfd, wfd]) {
        let _ = files.close(rfd);
        let _ = files.close(wfd);
        return Err(e);
    }
    Ok(0)
}

pub fn pipe(a: Args) -> SysResult {
    pipe2(Args([a.u(0), 0, 0, 0, 0, 0]))
}
