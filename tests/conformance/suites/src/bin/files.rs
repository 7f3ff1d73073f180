//! `files` suite: the file system calls, legacy numbers and `*at` forms, with their
//! Linux errno cases.
//!
//! Covers: `open`/`openat`/`creat` flags (O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW,
//! O_DIRECTORY, O_CLOEXEC, O_NONBLOCK, O_PATH; the open-time-only flags are not kept in
//! F_GETFL) and the path errors (ENOENT, ENOTDIR, EISDIR, ENAMETOOLONG, ELOOP, EEXIST);
//! `close`; `read`/`write`/`readv`/`writev`/`pread64`/`pwrite64`/`preadv`/`pwritev`
//! (offsets, holes read as zeros, EBADF for the wrong access mode, EISDIR, EINVAL for a
//! bad iovec count, ESPIPE on a pipe); `lseek` (SET/CUR/END, SEEK_DATA/SEEK_HOLE on a
//! dense file, EINVAL, ENXIO); `stat`/`fstat`/`lstat`/`newfstatat` (AT_EMPTY_PATH,
//! AT_SYMLINK_NOFOLLOW, EINVAL for bad flags)/`statx` (basic mask, the same fields as
//! fstat, EINVAL cases); `getdents64` (".", "..", d_type, d_ino, rewind, EINVAL for a
//! tiny buffer, ENOTDIR); `mkdir`/`mkdirat`/`rmdir`/`unlink`/`unlinkat` (AT_REMOVEDIR,
//! EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, EINVAL); `rename`/`renameat`/`renameat2`
//! (replace, RENAME_NOREPLACE, RENAME_EXCHANGE, directory rules, EINVAL into itself);
//! `link`/`linkat` (nlink, EPERM for a directory, AT_SYMLINK_FOLLOW);
//! `symlink`/`symlinkat`/`readlink`/`readlinkat` (truncation, EINVAL, following in
//! the middle of a path, ELOOP); `chdir`/`fchdir`/`getcwd` (ERANGE, ENOTDIR, an
//! O_PATH directory); `truncate`/`ftruncate` (grow with zeros, shrink, EINVAL,
//! EISDIR); `fallocate` (mode 0 grows, KEEP_SIZE, EINVAL, EBADF, ESPIPE);
//! `fsync`/`fdatasync` (EINVAL on a pipe); `chmod`/`fchmod`/`fchmodat`, `chown`/
//! `fchown`/`lchown`/`fchownat` (-1 keeps, the link itself with NOFOLLOW);
//! `utimensat` (explicit times, UTIME_OMIT, UTIME_NOW, a NULL path on a descriptor,
//! EINVAL); `access`/`faccessat`/`faccessat2` (F_OK, X_OK needs an x bit, EINVAL);
//! `statfs`/`fstatfs`; `umask` (applied to files and directories); the dup family
//! (`dup`, `dup2` (same fd, replacing, EBADF), `dup3` (EINVAL)); `fcntl` F_GETFL/
//! F_SETFL (per open file description: a dup sees the change; the access mode cannot
//! change), F_GETFD/F_SETFD (per descriptor), F_DUPFD/F_DUPFD_CLOEXEC with the
//! minimum honoured and EINVAL at RLIMIT_NOFILE; `close_range`; `sendfile` (with and
//! without an offset pointer, EINVAL for an O_APPEND output); `copy_file_range`;
//! `memfd_create`; O_APPEND writes from two processes (nothing is overwritten or torn);
//! RLIMIT_FSIZE (a short write up to the limit, then EFBIG with SIGXFSZ ignored, or death
//! by SIGXFSZ; ftruncate past the limit EFBIG).
//!
//! Everything happens in a fresh directory under /tmp that is removed at the end, so
//! the checks only assume what every Linux filesystem does (no sizes of directories,
//! no block counts).

use checks::{ensure, ensure_eq, expect_sys_errno, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::ffi::CString;

const AT_FDCWD: c_long = -100;
const AT_SYMLINK_NOFOLLOW: c_long = 0x100;
const AT_REMOVEDIR: c_long = 0x200;
const AT_SYMLINK_FOLLOW: c_long = 0x400;
const AT_EMPTY_PATH: c_long = 0x1000;
const AT_EACCESS: c_long = 0x200;
const RENAME_NOREPLACE: c_long = 1;
const RENAME_EXCHANGE: c_long = 2;
const STATX_BASIC_STATS: u32 = 0x7ff;
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;
const FALLOC_FL_KEEP_SIZE: c_long = 1;
const SEEK_DATA: c_long = 3;
const SEEK_HOLE: c_long = 4;
const CLOSE_RANGE_CLOEXEC: c_long = 4;
const MFD_CLOEXEC: c_long = 1;

static mut DIR: String = String::new();

fn main() {
    let dir = format!("/tmp/axle-files-{}", std::process::id());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("cannot create the scratch directory");
    // SAFETY: set once before any check runs; checks run on this thread.
    unsafe { DIR = dir.clone() };
    unsafe { libc::umask(0o022) };

    let mut s = Suite::new("files");
    s.check("open_creat_excl", open_creat_excl);
    s.check("open_trunc_and_creat", open_trunc_and_creat);
    s.check("open_append", open_append);
    s.check("open_nofollow", open_nofollow);
    s.check("open_directory_flag", open_directory_flag);
    s.check("open_cloexec_nonblock", open_cloexec_nonblock);
    s.check("open_path", open_path);
    s.check("open_path_errors", open_path_errors);
    s.check("getfl_drops_open_time_flags", getfl_drops_open_time_flags);
    s.check("openat_relative_to_dirfd", openat_relative_to_dirfd);
    s.check("read_write_access_modes", read_write_access_modes);
    s.check("pread_pwrite_keep_offset", pread_pwrite_keep_offset);
    s.check("readv_writev", readv_writev);
    s.check("preadv_pwritev", preadv_pwritev);
    s.check("iovec_count_einval", iovec_count_einval);
    s.check("lseek_whences", lseek_whences);
    s.check("hole_reads_zero", hole_reads_zero);
    s.check("pipe_espipe", pipe_espipe);
    s.check("stat_family", stat_family);
    s.check("newfstatat_flags", newfstatat_flags);
    s.check("statx_matches_fstat", statx_matches_fstat);
    s.check("statx_errors", statx_errors);
    s.check("getdents64_lists", getdents64_lists);
    s.check("getdents64_errors", getdents64_errors);
    s.check("mkdir_rmdir", mkdir_rmdir);
    s.check("unlink_unlinkat", unlink_unlinkat);
    s.check("unlink_open_file_stays", unlink_open_file_stays);
    s.check("rename_files", rename_files);
    s.check("rename_directories", rename_directories);
    s.check("renameat2_flags", renameat2_flags);
    s.check("link_linkat", link_linkat);
    s.check("symlink_readlink", symlink_readlink);
    s.check("symlink_loop_eloop", symlink_loop_eloop);
    s.check("chdir_fchdir_getcwd", chdir_fchdir_getcwd);
    s.check("truncate_ftruncate", truncate_ftruncate);
    s.check("fallocate_modes", fallocate_modes);
    s.check("fsync_fdatasync", fsync_fdatasync);
    s.check("chmod_family", chmod_family);
    s.check("chown_family", chown_family);
    s.check("utimensat_times", utimensat_times);
    s.check("access_faccessat", access_faccessat);
    s.check("statfs_fstatfs", statfs_fstatfs);
    s.check("umask_applies", umask_applies);
    s.check("dup_dup2_dup3", dup_dup2_dup3);
    s.check("fcntl_fl_per_description", fcntl_fl_per_description);
    s.check("fcntl_fd_per_descriptor", fcntl_fd_per_descriptor);
    s.check("fcntl_dupfd_minimum", fcntl_dupfd_minimum);
    s.check("close_range_works", close_range_works);
    s.check("sendfile_copies", sendfile_copies);
    s.check("copy_file_range_copies", copy_file_range_copies);
    s.check("memfd_create_file", memfd_create_file);
    s.check("o_append_two_processes", o_append_two_processes);
    s.check("rlimit_fsize", rlimit_fsize);
    let _ = std::fs::remove_dir_all(&dir);
    s.finish();
}

// ---------------------------------------------------------------------------
// Helpers

fn dir() -> String {
    // SAFETY: written once in main before the checks.
    unsafe { (*std::ptr::addr_of!(DIR)).clone() }
}

/// A path in the scratch directory.
fn p(name: &str) -> String {
    format!("{}/{}", dir(), name)
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in paths")
}

fn open(path: &str, flags: c_int, mode: u32) -> Result<c_int, String> {
    let cp = c(path);
    sys_ok(&format!("open({path}, {flags:#o})"), || unsafe {
        syscall!(libc::SYS_open, cp.as_ptr(), flags, mode)
    })
    .map(|v| v as c_int)
}

fn open_errno(path: &str, flags: c_int, want: c_int) -> CheckResult {
    let cp = c(path);
    expect_sys_errno(
        &format!("open({path}, {flags:#o})"),
        || unsafe { syscall!(libc::SYS_open, cp.as_ptr(), flags, 0o644) },
        want,
    )
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

fn write_all(fd: c_int, data: &[u8]) -> CheckResult {
    let n = sys_ok("write", || unsafe {
        syscall!(libc::SYS_write, fd, data.as_ptr(), data.len())
    })?;
    ensure_eq!(n as usize, data.len(), "write count");
    Ok(())
}

fn read_some(fd: c_int, max: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; max];
    let n = sys_ok("read", || unsafe {
        syscall!(libc::SYS_read, fd, buf.as_mut_ptr(), max)
    })?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// Creates `name` in the scratch dir with `data`; returns its path.
fn make_file(name: &str, data: &[u8]) -> Result<String, String> {
    let path = p(name);
    let fd = open(&path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, 0o644)?;
    let r = write_all(fd, data);
    close(fd);
    r.map(|_| path)
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))
}

fn stat(path: &str) -> Result<libc::stat, String> {
    let cp = c(path);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    sys_ok(&format!("stat({path})"), || unsafe {
        syscall!(libc::SYS_stat, cp.as_ptr(), &raw mut st)
    })?;
    Ok(st)
}

fn lstat(path: &str) -> Result<libc::stat, String> {
    let cp = c(path);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    sys_ok(&format!("lstat({path})"), || unsafe {
        syscall!(libc::SYS_lstat, cp.as_ptr(), &raw mut st)
    })?;
    Ok(st)
}

fn fstat(fd: c_int) -> Result<libc::stat, String> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    sys_ok("fstat", || unsafe {
        syscall!(libc::SYS_fstat, fd, &raw mut st)
    })?;
    Ok(st)
}

fn exists(path: &str) -> bool {
    let cp = c(path);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    unsafe { libc::lstat(cp.as_ptr(), &mut st) == 0 }
}

fn getfl(fd: c_int) -> Result<c_int, String> {
    sys_ok("fcntl(F_GETFL)", || unsafe {
        syscall!(libc::SYS_fcntl, fd, libc::F_GETFL)
    })
    .map(|v| v as c_int)
}

fn getfd(fd: c_int) -> Result<c_int, String> {
    sys_ok("fcntl(F_GETFD)", || unsafe {
        syscall!(libc::SYS_fcntl, fd, libc::F_GETFD)
    })
    .map(|v| v as c_int)
}

fn pipe() -> Result<[c_int; 2], String> {
    let mut fds = [0 as c_int; 2];
    sys_ok("pipe2", || unsafe {
        syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), 0)
    })?;
    Ok(fds)
}

fn mode_of(path: &str) -> Result<u32, String> {
    Ok(stat(path)?.st_mode & 0o7777)
}

// ---------------------------------------------------------------------------
// open

fn open_creat_excl() -> CheckResult {
    let path = p("excl");
    let fd = open(&path, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o640)?;
    close(fd);
    ensure_eq!(mode_of(&path)?, 0o640, "mode of the new file (umask 022)");
    open_errno(
        &path,
        libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
        libc::EEXIST,
    )?;
    // O_EXCL on a dangling symlink: EEXIST, and nothing is created behind it.
    let link = p("excl-dangling");
    let (t, l) = (c(&p("excl-nowhere")), c(&link));
    sys_ok("symlink", || unsafe {
        syscall!(libc::SYS_symlink, t.as_ptr(), l.as_ptr())
    })?;
    open_errno(
        &link,
        libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
        libc::EEXIST,
    )?;
    ensure!(
        !exists(&p("excl-nowhere")),
        "O_EXCL followed the dangling symlink"
    );
    // creat(2) = O_CREAT|O_WRONLY|O_TRUNC.
    let cpath = c(&p("creat"));
    let fd = sys_ok("creat", || unsafe {
        syscall!(libc::SYS_creat, cpath.as_ptr(), 0o600)
    })? as c_int;
    ensure_eq!(
        getfl(fd)? & libc::O_ACCMODE,
        libc::O_WRONLY,
        "creat access mode"
    );
    close(fd);
    ensure_eq!(mode_of(&p("creat"))?, 0o600, "creat mode");
    Ok(())
}

fn open_trunc_and_creat() -> CheckResult {
    let path = make_file("trunc", b"0123456789")?;
    // O_CREAT without O_EXCL opens the existing file and keeps its data.
    let fd = open(&path, libc::O_CREAT | libc::O_RDWR, 0o600)?;
    ensure_eq!(
        fstat(fd)?.st_size,
        10,
        "size after O_CREAT of an existing file"
    );
    close(fd);
    ensure_eq!(
        mode_of(&path)?,
        0o644,
        "O_CREAT of an existing file changed its mode"
    );
    let fd = open(&path, libc::O_TRUNC | libc::O_WRONLY, 0)?;
    ensure_eq!(fstat(fd)?.st_size, 0, "size after O_TRUNC");
    close(fd);
    Ok(())
}

fn open_append() -> CheckResult {
    let path = make_file("append", b"abc")?;
    let fd = open(&path, libc::O_WRONLY | libc::O_APPEND, 0)?;
    let r = (|| -> CheckResult {
        sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, fd, 0, libc::SEEK_SET)
        })?;
        write_all(fd, b"de")?;
        let pos = sys_ok("lseek(CUR)", || unsafe {
            syscall!(libc::SYS_lseek, fd, 0, libc::SEEK_CUR)
        })?;
        ensure_eq!(pos, 5, "offset after an O_APPEND write");
        // Linux: pwrite on an O_APPEND descriptor appends too.
        let n = sys_ok("pwrite64", || unsafe {
            syscall!(libc::SYS_pwrite64, fd, b"f".as_ptr(), 1, 0)
        })?;
        ensure_eq!(n, 1, "pwrite64 count");
        ensure_eq!(read_file(&path)?, b"abcdef".to_vec(), "content");
        Ok(())
    })();
    close(fd);
    r
}

fn open_nofollow() -> CheckResult {
    let target = make_file("nf-target", b"x")?;
    let link = p("nf-link");
    let (t, l) = (c(&target), c(&link));
    sys_ok("symlink", || unsafe {
        syscall!(libc::SYS_symlink, t.as_ptr(), l.as_ptr())
    })?;
    open_errno(&link, libc::O_RDONLY | libc::O_NOFOLLOW, libc::ELOOP)?;
    // O_NOFOLLOW only concerns the last component; O_PATH|O_NOFOLLOW opens the link.
    let fd = open(&link, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
    let st = fstat(fd);
    close(fd);
    ensure_eq!(
        st?.st_mode & libc::S_IFMT,
        libc::S_IFLNK,
        "fstat of an O_PATH|O_NOFOLLOW link"
    );
    let fd = open(&link, libc::O_RDONLY, 0)?;
    let data = read_some(fd, 8);
    close(fd);
    ensure_eq!(data?, b"x".to_vec(), "reading through the link");
    Ok(())
}

fn open_directory_flag() -> CheckResult {
    let file = make_file("odir-file", b"")?;
    open_errno(&file, libc::O_RDONLY | libc::O_DIRECTORY, libc::ENOTDIR)?;
    let fd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    ensure_eq!(
        fstat(fd)?.st_mode & libc::S_IFMT,
        libc::S_IFDIR,
        "fstat of a directory"
    );
    close(fd);
    open_errno(&dir(), libc::O_WRONLY, libc::EISDIR)?;
    open_errno(&dir(), libc::O_RDWR, libc::EISDIR)?;
    let fd = open(&dir(), libc::O_RDONLY, 0)?;
    let mut b = [0u8; 4];
    let r = expect_sys_errno(
        "read(directory)",
        || unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 4) },
        libc::EISDIR,
    );
    close(fd);
    r
}

fn open_cloexec_nonblock() -> CheckResult {
    let path = make_file("cloexec", b"")?;
    let fd = open(
        &path,
        libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        0,
    )?;
    let (fdfl, fl) = (getfd(fd), getfl(fd));
    close(fd);
    ensure_eq!(fdfl?, libc::FD_CLOEXEC, "F_GETFD after O_CLOEXEC");
    let fl = fl?;
    ensure!(
        fl & libc::O_NONBLOCK != 0,
        "F_GETFL {fl:#o} lacks O_NONBLOCK"
    );
    ensure!(
        fl & libc::O_CLOEXEC == 0,
        "F_GETFL {fl:#o} shows O_CLOEXEC (a descriptor flag)"
    );
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let fdfl = getfd(fd);
    close(fd);
    ensure_eq!(fdfl?, 0, "F_GETFD without O_CLOEXEC");
    Ok(())
}

fn open_path() -> CheckResult {
    let path = make_file("opath", b"data")?;
    let fd = open(&path, libc::O_PATH, 0)?;
    let r = (|| -> CheckResult {
        let mut b = [0u8; 4];
        expect_sys_errno(
            "read(O_PATH)",
            || unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 4) },
            libc::EBADF,
        )?;
        expect_sys_errno(
            "write(O_PATH)",
            || unsafe { syscall!(libc::SYS_write, fd, b.as_ptr(), 4) },
            libc::EBADF,
        )?;
        ensure_eq!(fstat(fd)?.st_size, 4, "fstat(O_PATH).st_size");
        ensure!(getfl(fd)? & libc::O_PATH != 0, "F_GETFL lacks O_PATH");
        Ok(())
    })();
    close(fd);
    r?;
    // An O_PATH directory works as a dirfd.
    let dfd = open(&dir(), libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let name = c("opath");
    let r = sys_ok("openat(O_PATH dirfd)", || unsafe {
        syscall!(libc::SYS_openat, dfd, name.as_ptr(), libc::O_RDONLY)
    });
    close(dfd);
    let fd = r? as c_int;
    let data = read_some(fd, 8);
    close(fd);
    ensure_eq!(data?, b"data".to_vec(), "read via an O_PATH dirfd");
    Ok(())
}

fn open_path_errors() -> CheckResult {
    open_errno(&p("missing"), libc::O_RDONLY, libc::ENOENT)?;
    open_errno(
        &p("missing/x"),
        libc::O_RDONLY | libc::O_CREAT,
        libc::ENOENT,
    )?;
    let file = make_file("notdir", b"")?;
    open_errno(&format!("{file}/x"), libc::O_RDONLY, libc::ENOTDIR)?;
    open_errno(&format!("{file}/"), libc::O_RDONLY, libc::ENOTDIR)?;
    open_errno(
        &format!("{}/newdir/", dir()),
        libc::O_CREAT | libc::O_WRONLY,
        libc::EISDIR,
    )?;
    open_errno(
        &p(&"n".repeat(256)),
        libc::O_RDONLY | libc::O_CREAT,
        libc::ENAMETOOLONG,
    )?;
    let empty = c("");
    expect_sys_errno(
        "open(\"\")",
        || unsafe { syscall!(libc::SYS_open, empty.as_ptr(), libc::O_RDONLY) },
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "open(NULL)",
        || unsafe { syscall!(libc::SYS_open, 0, libc::O_RDONLY) },
        libc::EFAULT,
    )?;
    Ok(())
}

fn getfl_drops_open_time_flags() -> CheckResult {
    let path = p("getfl");
    let fd = open(
        &path,
        libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_RDWR | libc::O_NOCTTY,
        0o644,
    )?;
    let fl = getfl(fd);
    close(fd);
    let fl = fl?;
    ensure_eq!(fl & libc::O_ACCMODE, libc::O_RDWR, "access mode in F_GETFL");
    ensure_eq!(
        fl & (libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_NOCTTY),
        0,
        "F_GETFL {:#o} keeps open-time flags",
        fl
    );
    Ok(())
}

fn openat_relative_to_dirfd() -> CheckResult {
    let sub = p("atdir");
    std::fs::create_dir(&sub).map_err(|e| e.to_string())?;
    let dfd = open(&sub, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let r = (|| -> CheckResult {
        let name = c("inner");
        let fd = sys_ok("openat", || unsafe {
            syscall!(
                libc::SYS_openat,
                dfd,
                name.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY,
                0o644
            )
        })? as c_int;
        close(fd);
        ensure!(
            exists(&format!("{sub}/inner")),
            "openat created the file elsewhere"
        );
        // An absolute path ignores dirfd; AT_FDCWD uses the working directory.
        let abs = c(&format!("{sub}/inner"));
        let fd = sys_ok("openat(abs, bad dirfd)", || unsafe {
            syscall!(libc::SYS_openat, 9999, abs.as_ptr(), libc::O_RDONLY)
        })? as c_int;
        close(fd);
        expect_sys_errno(
            "openat(rel, bad dirfd)",
            || unsafe { syscall!(libc::SYS_openat, 9999, name.as_ptr(), libc::O_RDONLY) },
            libc::EBADF,
        )?;
        let file = make_file("at-file", b"")?;
        let ffd = open(&file, libc::O_RDONLY, 0)?;
        let r = expect_sys_errno(
            "openat(rel, file dirfd)",
            || unsafe { syscall!(libc::SYS_openat, ffd, name.as_ptr(), libc::O_RDONLY) },
            libc::ENOTDIR,
        );
        close(ffd);
        r
    })();
    close(dfd);
    r
}

// ---------------------------------------------------------------------------
// read / write

fn read_write_access_modes() -> CheckResult {
    let path = make_file("modes", b"hello")?;
    let mut b = [0u8; 8];
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let r = expect_sys_errno(
        "write(O_RDONLY)",
        || unsafe { syscall!(libc::SYS_write, fd, b.as_ptr(), 1) },
        libc::EBADF,
    );
    close(fd);
    r?;
    let fd = open(&path, libc::O_WRONLY, 0)?;
    let r = expect_sys_errno(
        "read(O_WRONLY)",
        || unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 1) },
        libc::EBADF,
    );
    close(fd);
    r?;
    expect_sys_errno(
        "read(bad fd)",
        || unsafe { syscall!(libc::SYS_read, 9999, b.as_mut_ptr(), 1) },
        libc::EBADF,
    )?;
    let fd = open(&path, libc::O_RDWR, 0)?;
    let r = (|| -> CheckResult {
        ensure_eq!(read_some(fd, 3)?, b"hel".to_vec(), "first read");
        ensure_eq!(read_some(fd, 8)?, b"lo".to_vec(), "second read");
        ensure_eq!(read_some(fd, 8)?, Vec::<u8>::new(), "read at EOF");
        write_all(fd, b"!")?;
        let n = sys_ok("read(len 0)", || unsafe {
            syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 0)
        })?;
        ensure_eq!(n, 0, "zero-length read");
        Ok(())
    })();
    close(fd);
    r?;
    ensure_eq!(read_file(&path)?, b"hello!".to_vec(), "content");
    Ok(())
}

fn pread_pwrite_keep_offset() -> CheckResult {
    let path = make_file("pread", b"0123456789")?;
    let fd = open(&path, libc::O_RDWR, 0)?;
    let r = (|| -> CheckResult {
        let mut b = [0u8; 4];
        let n = sys_ok("pread64", || unsafe {
            syscall!(libc::SYS_pread64, fd, b.as_mut_ptr(), 4, 3)
        })?;
        ensure_eq!((n, &b), (4, b"3456"), "pread64");
        sys_ok("pwrite64", || unsafe {
            syscall!(libc::SYS_pwrite64, fd, b"AB".as_ptr(), 2, 8)
        })?;
        let pos = sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, fd, 0, libc::SEEK_CUR)
        })?;
        ensure_eq!(pos, 0, "offset after pread/pwrite");
        expect_sys_errno(
            "pread64(off -1)",
            || unsafe { syscall!(libc::SYS_pread64, fd, b.as_mut_ptr(), 4, -1) },
            libc::EINVAL,
        )?;
        let n = sys_ok("pread64 past EOF", || unsafe {
            syscall!(libc::SYS_pread64, fd, b.as_mut_ptr(), 4, 100)
        })?;
        ensure_eq!(n, 0, "pread64 past EOF");
        Ok(())
    })();
    close(fd);
    r?;
    ensure_eq!(read_file(&path)?, b"01234567AB".to_vec(), "content");
    Ok(())
}

fn readv_writev() -> CheckResult {
    let path = p("vec");
    let fd = open(&path, libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC, 0o644)?;
    let r = (|| -> CheckResult {
        let (a, b, e) = (b"abc".to_vec(), b"defgh".to_vec(), Vec::<u8>::new());
        let iov = [
            libc::iovec {
                iov_base: a.as_ptr() as *mut _,
                iov_len: a.len(),
            },
            libc::iovec {
                iov_base: e.as_ptr() as *mut _,
                iov_len: 0,
            },
            libc::iovec {
                iov_base: b.as_ptr() as *mut _,
                iov_len: b.len(),
            },
        ];
        let n = sys_ok("writev", || unsafe {
            syscall!(libc::SYS_writev, fd, iov.as_ptr(), 3)
        })?;
        ensure_eq!(n, 8, "writev count");
        sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, fd, 0, libc::SEEK_SET)
        })?;
        let (mut x, mut y) = ([0u8; 2], [0u8; 10]);
        let iov = [
            libc::iovec {
                iov_base: x.as_mut_ptr().cast(),
                iov_len: 2,
            },
            libc::iovec {
                iov_base: y.as_mut_ptr().cast(),
                iov_len: 10,
            },
        ];
        let n = sys_ok("readv", || unsafe {
            syscall!(libc::SYS_readv, fd, iov.as_ptr(), 2)
        })?;
        ensure_eq!(n, 8, "readv count");
        ensure_eq!(&x, b"ab", "first buffer");
        ensure_eq!(&y[..6], b"cdefgh", "second buffer");
        Ok(())
    })();
    close(fd);
    r
}

fn preadv_pwritev() -> CheckResult {
    let path = make_file("pvec", b"..........")?;
    let fd = open(&path, libc::O_RDWR, 0)?;
    let r = (|| -> CheckResult {
        let (a, b) = (b"12".to_vec(), b"345".to_vec());
        let iov = [
            libc::iovec {
                iov_base: a.as_ptr() as *mut _,
                iov_len: 2,
            },
            libc::iovec {
                iov_base: b.as_ptr() as *mut _,
                iov_len: 3,
            },
        ];
        let n = sys_ok("pwritev", || unsafe {
            syscall!(libc::SYS_pwritev, fd, iov.as_ptr(), 2, 4, 0)
        })?;
        ensure_eq!(n, 5, "pwritev count");
        let (mut x, mut y) = ([0u8; 3], [0u8; 3]);
        let iov = [
            libc::iovec {
                iov_base: x.as_mut_ptr().cast(),
                iov_len: 3,
            },
            libc::iovec {
                iov_base: y.as_mut_ptr().cast(),
                iov_len: 3,
            },
        ];
        let n = sys_ok("preadv", || unsafe {
            syscall!(libc::SYS_preadv, fd, iov.as_ptr(), 2, 3, 0)
        })?;
        ensure_eq!(n, 6, "preadv count");
        ensure_eq!((&x, &y), (b".12", b"345"), "preadv data");
        let pos = sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, fd, 0, libc::SEEK_CUR)
        })?;
        ensure_eq!(pos, 0, "offset after preadv/pwritev");
        Ok(())
    })();
    close(fd);
    r
}

fn iovec_count_einval() -> CheckResult {
    let fd = open("/dev/null", libc::O_RDWR, 0)?;
    let iov = vec![
        libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0
        };
        1025
    ];
    let r = (|| -> CheckResult {
        expect_sys_errno(
            "writev(1025 iovecs)",
            || unsafe { syscall!(libc::SYS_writev, fd, iov.as_ptr(), 1025) },
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "readv(-1 iovecs)",
            || unsafe { syscall!(libc::SYS_readv, fd, iov.as_ptr(), -1) },
            libc::EINVAL,
        )?;
        let n = sys_ok("writev(1024 empty iovecs)", || unsafe {
            syscall!(libc::SYS_writev, fd, iov.as_ptr(), 1024)
        })?;
        ensure_eq!(n, 0, "writev of empty iovecs");
        Ok(())
    })();
    close(fd);
    r
}

fn lseek_whences() -> CheckResult {
    let path = make_file("seek", b"0123456789")?;
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let seek = |off: c_long, wh: c_long| unsafe { syscall!(libc::SYS_lseek, fd, off, wh) };
    let r = (|| -> CheckResult {
        ensure_eq!(seek(4, libc::SEEK_SET as c_long), 4, "SEEK_SET");
        ensure_eq!(seek(2, libc::SEEK_CUR as c_long), 6, "SEEK_CUR");
        ensure_eq!(seek(-3, libc::SEEK_END as c_long), 7, "SEEK_END");
        ensure_eq!(read_some(fd, 8)?, b"789".to_vec(), "read after SEEK_END");
        ensure_eq!(seek(20, libc::SEEK_SET as c_long), 20, "SEEK_SET past EOF");
        expect_sys_errno(
            "lseek(-1, SET)",
            || seek(-1, libc::SEEK_SET as c_long),
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "lseek(-100, CUR)",
            || seek(-100, libc::SEEK_CUR as c_long),
            libc::EINVAL,
        )?;
        expect_sys_errno("lseek(whence 7)", || seek(0, 7), libc::EINVAL)?;
        ensure_eq!(seek(0, SEEK_DATA), 0, "SEEK_DATA of a dense file");
        ensure_eq!(seek(0, SEEK_HOLE), 10, "SEEK_HOLE of a dense file");
        expect_sys_errno(
            "lseek(SEEK_DATA past EOF)",
            || seek(10, SEEK_DATA),
            libc::ENXIO,
        )?;
        expect_sys_errno(
            "lseek(bad fd)",
            || unsafe { syscall!(libc::SYS_lseek, 9999, 0, 0) },
            libc::EBADF,
        )?;
        Ok(())
    })();
    close(fd);
    r
}

fn hole_reads_zero() -> CheckResult {
    let path = p("hole");
    let fd = open(&path, libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC, 0o644)?;
    let r = (|| -> CheckResult {
        write_all(fd, b"A")?;
        sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, fd, 10_000, libc::SEEK_SET)
        })?;
        write_all(fd, b"B")?;
        ensure_eq!(fstat(fd)?.st_size, 10_001, "size");
        let data = read_file(&path)?;
        ensure!(data[0] == b'A' && data[10_000] == b'B', "ends");
        ensure!(
            data[1..10_000].iter().all(|&b| b == 0),
            "the hole is not zero"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn pipe_espipe() -> CheckResult {
    let [r, w] = pipe()?;
    let mut b = [0u8; 1];
    let res = (|| -> CheckResult {
        expect_sys_errno(
            "lseek(pipe)",
            || unsafe { syscall!(libc::SYS_lseek, r, 0, libc::SEEK_CUR) },
            libc::ESPIPE,
        )?;
        expect_sys_errno(
            "pread64(pipe)",
            || unsafe { syscall!(libc::SYS_pread64, r, b.as_mut_ptr(), 1, 0) },
            libc::ESPIPE,
        )?;
        expect_sys_errno(
            "pwrite64(pipe)",
            || unsafe { syscall!(libc::SYS_pwrite64, w, b.as_ptr(), 1, 0) },
            libc::ESPIPE,
        )?;
        Ok(())
    })();
    close(r);
    close(w);
    res
}

// ---------------------------------------------------------------------------
// stat

fn stat_family() -> CheckResult {
    let path = make_file("st", b"12345")?;
    let link = p("st-link");
    let (t, l) = (c(&path), c(&link));
    sys_ok("symlink", || unsafe {
        syscall!(libc::SYS_symlink, t.as_ptr(), l.as_ptr())
    })?;
    let st = stat(&path)?;
    ensure_eq!(st.st_mode & libc::S_IFMT, libc::S_IFREG, "type");
    ensure_eq!(st.st_size, 5, "size");
    ensure_eq!(st.st_nlink, 1, "nlink");
    let via_link = stat(&link)?;
    ensure_eq!(
        (via_link.st_ino, via_link.st_dev),
        (st.st_ino, st.st_dev),
        "stat follows the link"
    );
    let ls = lstat(&link)?;
    ensure_eq!(ls.st_mode & libc::S_IFMT, libc::S_IFLNK, "lstat type");
    ensure_eq!(
        ls.st_size as usize,
        path.len(),
        "lstat size = target length"
    );
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let fst = fstat(fd);
    close(fd);
    let fst = fst?;
    ensure_eq!(
        (fst.st_ino, fst.st_dev, fst.st_size),
        (st.st_ino, st.st_dev, 5),
        "fstat"
    );
    let d = stat(&dir())?;
    ensure_eq!(d.st_mode & libc::S_IFMT, libc::S_IFDIR, "directory type");
    let missing = c(&p("nope"));
    let mut buf: libc::stat = unsafe { std::mem::zeroed() };
    expect_sys_errno(
        "stat(missing)",
        || unsafe { syscall!(libc::SYS_stat, missing.as_ptr(), &raw mut buf) },
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "stat(bad buf)",
        || unsafe { syscall!(libc::SYS_stat, t.as_ptr(), 8) },
        libc::EFAULT,
    )?;
    expect_sys_errno(
        "fstat(bad fd)",
        || unsafe { syscall!(libc::SYS_fstat, 9999, &raw mut buf) },
        libc::EBADF,
    )?;
    Ok(())
}

fn newfstatat_flags() -> CheckResult {
    let path = make_file("fsat", b"abc")?;
    let link = p("fsat-link");
    let (t, l) = (c("fsat"), c(&link));
    sys_ok("symlink", || unsafe {
        syscall!(libc::SYS_symlink, t.as_ptr(), l.as_ptr())
    })?;
    let dfd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let ffd = open(&path, libc::O_RDONLY, 0)?;
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = (|| -> CheckResult {
        let name = c("fsat-link");
        sys_ok("newfstatat", || unsafe {
            syscall!(libc::SYS_newfstatat, dfd, name.as_ptr(), &raw mut st, 0)
        })?;
        ensure_eq!(st.st_size, 3, "newfstatat follows");
        sys_ok("newfstatat(NOFOLLOW)", || unsafe {
            syscall!(
                libc::SYS_newfstatat,
                dfd,
                name.as_ptr(),
                &raw mut st,
                AT_SYMLINK_NOFOLLOW
            )
        })?;
        ensure_eq!(
            st.st_mode & libc::S_IFMT,
            libc::S_IFLNK,
            "AT_SYMLINK_NOFOLLOW"
        );
        let empty = c("");
        sys_ok("newfstatat(AT_EMPTY_PATH)", || unsafe {
            syscall!(
                libc::SYS_newfstatat,
                ffd,
                empty.as_ptr(),
                &raw mut st,
                AT_EMPTY_PATH
            )
        })?;
        ensure_eq!(st.st_size, 3, "AT_EMPTY_PATH on a file descriptor");
        expect_sys_errno(
            "newfstatat(\"\", 0)",
            || unsafe { syscall!(libc::SYS_newfstatat, ffd, empty.as_ptr(), &raw mut st, 0) },
            libc::ENOENT,
        )?;
        expect_sys_errno(
            "newfstatat(bad flags)",
            || unsafe { syscall!(libc::SYS_newfstatat, dfd, name.as_ptr(), &raw mut st, 0x1) },
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(dfd);
    close(ffd);
    r
}

#[repr(C)]
#[derive(Clone, Copy)]
struct StatxTs {
    sec: i64,
    nsec: u32,
    _r: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
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
    _rest: [u64; 14],
}

fn statx(dirfd: c_long, path: &str, flags: c_long, mask: u32) -> Result<Statx, i32> {
    let cp = c(path);
    let mut x: Statx = unsafe { std::mem::zeroed() };
    checks::clear_errno();
    let r = unsafe { syscall!(libc::SYS_statx, dirfd, cp.as_ptr(), flags, mask, &raw mut x) };
    checks::sys(r).map(|_| x)
}

fn statx_matches_fstat() -> CheckResult {
    let path = make_file("sx", b"statx!")?;
    let x = statx(AT_FDCWD, &path, 0, STATX_BASIC_STATS)
        .map_err(|e| format!("statx: {}", checks::errno_name(e)))?;
    let st = stat(&path)?;
    ensure_eq!(x.mask & STATX_BASIC_STATS, STATX_BASIC_STATS, "statx mask");
    ensure_eq!(x.size, 6, "stx_size");
    ensure_eq!(u32::from(x.mode), st.st_mode, "stx_mode");
    ensure_eq!(x.ino, st.st_ino, "stx_ino");
    ensure_eq!(u64::from(x.nlink), st.st_nlink, "stx_nlink");
    ensure_eq!(x.mtime.sec, st.st_mtime, "stx_mtime");
    ensure_eq!(i64::from(x.mtime.nsec), st.st_mtime_nsec, "stx_mtime nsec");
    ensure_eq!(
        libc::makedev(x.dev_major, x.dev_minor),
        st.st_dev,
        "stx_dev"
    );
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let y = statx(fd as c_long, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
    close(fd);
    let y = y.map_err(|e| format!("statx(AT_EMPTY_PATH): {}", checks::errno_name(e)))?;
    ensure_eq!(y.ino, st.st_ino, "statx(AT_EMPTY_PATH) ino");
    let null = statx(AT_FDCWD, "/dev/null", 0, STATX_BASIC_STATS)
        .map_err(|e| format!("statx(/dev/null): {e}"))?;
    ensure_eq!(
        (null.rdev_major, null.rdev_minor),
        (1, 3),
        "stx_rdev of /dev/null"
    );
    Ok(())
}

fn statx_errors() -> CheckResult {
    let path = make_file("sxe", b"")?;
    let want = |r: Result<Statx, i32>, e: i32, what: &str| -> CheckResult {
        match r {
            Ok(_) => Err(format!(
                "{what} succeeded, expected {}",
                checks::errno_name(e)
            )),
            Err(got) if got == e => Ok(()),
            Err(got) => Err(format!(
                "{what}: {}, expected {}",
                checks::errno_name(got),
                checks::errno_name(e)
            )),
        }
    };
    want(
        statx(AT_FDCWD, &path, 0x6000, STATX_BASIC_STATS),
        libc::EINVAL,
        "statx(both sync flags)",
    )?;
    want(
        statx(AT_FDCWD, &path, 0x1, STATX_BASIC_STATS),
        libc::EINVAL,
        "statx(unknown flag)",
    )?;
    want(
        statx(AT_FDCWD, &path, 0, 0x8000_0000),
        libc::EINVAL,
        "statx(STATX__RESERVED)",
    )?;
    want(
        statx(AT_FDCWD, &p("nope"), 0, STATX_BASIC_STATS),
        libc::ENOENT,
        "statx(missing)",
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// directories

/// (name, d_type, d_ino) of every entry, read with a buffer of `bufsize`.
fn list_dir(fd: c_int, bufsize: usize) -> Result<Vec<(String, u8, u64)>, String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; bufsize];
    loop {
        let n = sys_ok("getdents64", || unsafe {
            syscall!(libc::SYS_getdents64, fd, buf.as_mut_ptr(), bufsize)
        })? as usize;
        if n == 0 {
            return Ok(out);
        }
        let mut off = 0;
        while off < n {
            let ino = u64::from_ne_bytes(buf[off..off + 8].try_into().unwrap());
            let reclen = u16::from_ne_bytes(buf[off + 16..off + 18].try_into().unwrap()) as usize;
            let ty = buf[off + 18];
            let name_bytes = &buf[off + 19..off + reclen];
            let end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(name_bytes.len());
            out.push((
                String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
                ty,
                ino,
            ));
            ensure!(
                reclen > 19 && reclen % 8 == 0,
                "d_reclen {reclen} is not 8-aligned"
            );
            off += reclen;
        }
    }
}

fn getdents64_lists() -> CheckResult {
    let d = p("gd");
    std::fs::create_dir(&d).map_err(|e| e.to_string())?;
    for i in 0..40 {
        std::fs::write(format!("{d}/file{i:02}"), b"x").map_err(|e| e.to_string())?;
    }
    std::fs::create_dir(format!("{d}/sub")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink("file00", format!("{d}/lnk")).map_err(|e| e.to_string())?;
    let fd = open(&d, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let r = (|| -> CheckResult {
        let all = list_dir(fd, 256)?;
        ensure_eq!(all.len(), 44, "entry count (40 files, sub, lnk, ., ..)");
        let find = |n: &str| all.iter().find(|e| e.0 == n).cloned();
        let dot = find(".").ok_or("no .")?;
        ensure_eq!(dot.1, libc::DT_DIR, ". type");
        ensure_eq!(dot.2, stat(&d)?.st_ino, ". d_ino");
        ensure_eq!(
            find("..").ok_or("no ..")?.2,
            stat(&dir())?.st_ino,
            ".. d_ino"
        );
        ensure_eq!(find("sub").ok_or("no sub")?.1, libc::DT_DIR, "sub d_type");
        ensure_eq!(find("lnk").ok_or("no lnk")?.1, libc::DT_LNK, "lnk d_type");
        let f = find("file17").ok_or("no file17")?;
        ensure_eq!(f.1, libc::DT_REG, "file d_type");
        ensure_eq!(f.2, stat(&format!("{d}/file17"))?.st_ino, "file d_ino");
        let mut names: Vec<&String> = all.iter().map(|e| &e.0).collect();
        names.sort();
        names.dedup();
        ensure_eq!(names.len(), 44, "duplicate entries");
        // Rewind and read again in one go.
        sys_ok("lseek(dir, 0)", || unsafe {
            syscall!(libc::SYS_lseek, fd, 0, libc::SEEK_SET)
        })?;
        ensure_eq!(list_dir(fd, 65536)?.len(), 44, "after rewinding");
        Ok(())
    })();
    close(fd);
    r
}

fn getdents64_errors() -> CheckResult {
    let fd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut buf = [0u8; 8];
    let r = expect_sys_errno(
        "getdents64(8-byte buffer)",
        || unsafe { syscall!(libc::SYS_getdents64, fd, buf.as_mut_ptr(), 8) },
        libc::EINVAL,
    );
    close(fd);
    r?;
    let file = make_file("gde", b"")?;
    let fd = open(&file, libc::O_RDONLY, 0)?;
    let mut big = [0u8; 1024];
    let r = expect_sys_errno(
        "getdents64(file)",
        || unsafe { syscall!(libc::SYS_getdents64, fd, big.as_mut_ptr(), 1024) },
        libc::ENOTDIR,
    );
    close(fd);
    r?;
    expect_sys_errno(
        "getdents64(bad fd)",
        || unsafe { syscall!(libc::SYS_getdents64, 9999, big.as_mut_ptr(), 1024) },
        libc::EBADF,
    )
}

fn mkdir_rmdir() -> CheckResult {
    let d = p("md");
    let cd = c(&d);
    sys_ok("mkdir", || unsafe {
        syscall!(libc::SYS_mkdir, cd.as_ptr(), 0o750)
    })?;
    ensure_eq!(mode_of(&d)?, 0o750, "directory mode");
    ensure_eq!(stat(&d)?.st_nlink, 2, "nlink of an empty directory");
    expect_sys_errno(
        "mkdir(existing)",
        || unsafe { syscall!(libc::SYS_mkdir, cd.as_ptr(), 0o755) },
        libc::EEXIST,
    )?;
    let dfd = open(&d, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let sub = c("sub");
    let r = (|| -> CheckResult {
        sys_ok("mkdirat", || unsafe {
            syscall!(libc::SYS_mkdirat, dfd, sub.as_ptr(), 0o755)
        })?;
        ensure_eq!(stat(&d)?.st_nlink, 3, "parent nlink with a subdirectory");
        expect_sys_errno(
            "rmdir(not empty)",
            || unsafe { syscall!(libc::SYS_rmdir, cd.as_ptr()) },
            libc::ENOTEMPTY,
        )?;
        sys_ok("unlinkat(AT_REMOVEDIR)", || unsafe {
            syscall!(libc::SYS_unlinkat, dfd, sub.as_ptr(), AT_REMOVEDIR)
        })?;
        Ok(())
    })();
    close(dfd);
    r?;
    let file = c(&make_file("md-file", b"")?);
    expect_sys_errno(
        "rmdir(file)",
        || unsafe { syscall!(libc::SYS_rmdir, file.as_ptr()) },
        libc::ENOTDIR,
    )?;
    let dot = c(&format!("{d}/."));
    expect_sys_errno(
        "rmdir(dir/.)",
        || unsafe { syscall!(libc::SYS_rmdir, dot.as_ptr()) },
        libc::EINVAL,
    )?;
    let missing = c(&p("md-missing/x"));
    expect_sys_errno(
        "mkdir(missing parent)",
        || unsafe { syscall!(libc::SYS_mkdir, missing.as_ptr(), 0o755) },
        libc::ENOENT,
    )?;
    sys_ok("rmdir", || unsafe {
        syscall!(libc::SYS_rmdir, cd.as_ptr())
    })?;
    ensure!(!exists(&d), "directory still there");
    Ok(())
}

fn unlink_unlinkat() -> CheckResult {
    let path = make_file("ul", b"")?;
    let cp = c(&path);
    sys_ok("unlink", || unsafe {
        syscall!(libc::SYS_unlink, cp.as_ptr())
    })?;
    ensure!(!exists(&path), "file still there");
    expect_sys_errno(
        "unlink(missing)",
        || unsafe { syscall!(libc::SYS_unlink, cp.as_ptr()) },
        libc::ENOENT,
    )?;
    let d = c(&dir());
    expect_sys_errno(
        "unlink(directory)",
        || unsafe { syscall!(libc::SYS_unlink, d.as_ptr()) },
        libc::EISDIR,
    )?;
    let sub = p("ul-dir");
    std::fs::create_dir(&sub).map_err(|e| e.to_string())?;
    let dfd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let (n, f) = (c("ul-dir"), c("ul-file"));
    make_file("ul-file", b"")?;
    let r = (|| -> CheckResult {
        expect_sys_errno(
            "unlinkat(dir, 0)",
            || unsafe { syscall!(libc::SYS_unlinkat, dfd, n.as_ptr(), 0) },
            libc::EISDIR,
        )?;
        expect_sys_errno(
            "unlinkat(file, AT_REMOVEDIR)",
            || unsafe { syscall!(libc::SYS_unlinkat, dfd, f.as_ptr(), AT_REMOVEDIR) },
            libc::ENOTDIR,
        )?;
        expect_sys_errno(
            "unlinkat(bad flags)",
            || unsafe { syscall!(libc::SYS_unlinkat, dfd, f.as_ptr(), 0x1) },
            libc::EINVAL,
        )?;
        sys_ok("unlinkat(file)", || unsafe {
            syscall!(libc::SYS_unlinkat, dfd, f.as_ptr(), 0)
        })?;
        sys_ok("unlinkat(dir, AT_REMOVEDIR)", || unsafe {
            syscall!(libc::SYS_unlinkat, dfd, n.as_ptr(), AT_REMOVEDIR)
        })?;
        Ok(())
    })();
    close(dfd);
    r?;
    ensure!(
        !exists(&sub) && !exists(&p("ul-file")),
        "entries still there"
    );
    Ok(())
}

fn unlink_open_file_stays() -> CheckResult {
    let path = make_file("ulo", b"still here")?;
    let fd = open(&path, libc::O_RDWR, 0)?;
    let cp = c(&path);
    let r = (|| -> CheckResult {
        sys_ok("unlink", || unsafe {
            syscall!(libc::SYS_unlink, cp.as_ptr())
        })?;
        ensure_eq!(fstat(fd)?.st_nlink, 0, "nlink of an unlinked open file");
        ensure_eq!(
            read_some(fd, 32)?,
            b"still here".to_vec(),
            "data of an unlinked open file"
        );
        write_all(fd, b"!")?;
        ensure_eq!(fstat(fd)?.st_size, 11, "size after writing");
        Ok(())
    })();
    close(fd);
    r
}

fn rename_files() -> CheckResult {
    let a = make_file("rn-a", b"A")?;
    let b = make_file("rn-b", b"B")?;
    let (ca, cb) = (c(&a), c(&b));
    let ino_a = stat(&a)?.st_ino;
    sys_ok("rename(a, b)", || unsafe {
        syscall!(libc::SYS_rename, ca.as_ptr(), cb.as_ptr())
    })?;
    ensure!(!exists(&a), "source still there");
    ensure_eq!(read_file(&b)?, b"A".to_vec(), "target content");
    ensure_eq!(stat(&b)?.st_ino, ino_a, "target inode");
    sys_ok("rename(b, b)", || unsafe {
        syscall!(libc::SYS_rename, cb.as_ptr(), cb.as_ptr())
    })?;
    expect_sys_errno(
        "rename(missing)",
        || unsafe { syscall!(libc::SYS_rename, ca.as_ptr(), cb.as_ptr()) },
        libc::ENOENT,
    )?;
    // renameat between two directory descriptors.
    let d1 = p("rn-d1");
    let d2 = p("rn-d2");
    std::fs::create_dir(&d1).map_err(|e| e.to_string())?;
    std::fs::create_dir(&d2).map_err(|e| e.to_string())?;
    std::fs::write(format!("{d1}/f"), b"moved").map_err(|e| e.to_string())?;
    let fd1 = open(&d1, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let fd2 = open(&d2, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let (f, g) = (c("f"), c("g"));
    let r = sys_ok("renameat", || unsafe {
        syscall!(libc::SYS_renameat, fd1, f.as_ptr(), fd2, g.as_ptr())
    });
    close(fd1);
    close(fd2);
    r?;
    ensure_eq!(
        read_file(&format!("{d2}/g"))?,
        b"moved".to_vec(),
        "renameat target"
    );
    // A file over a directory and the reverse.
    let dir_c = c(&d1);
    let g_c = c(&format!("{d2}/g"));
    expect_sys_errno(
        "rename(file, dir)",
        || unsafe { syscall!(libc::SYS_rename, g_c.as_ptr(), dir_c.as_ptr()) },
        libc::EISDIR,
    )?;
    expect_sys_errno(
        "rename(dir, file)",
        || unsafe { syscall!(libc::SYS_rename, dir_c.as_ptr(), g_c.as_ptr()) },
        libc::ENOTDIR,
    )?;
    Ok(())
}

fn rename_directories() -> CheckResult {
    let a = p("rd-a");
    let b = p("rd-b");
    std::fs::create_dir_all(format!("{a}/inner")).map_err(|e| e.to_string())?;
    std::fs::create_dir(&b).map_err(|e| e.to_string())?;
    std::fs::write(format!("{b}/x"), b"").map_err(|e| e.to_string())?;
    let (ca, cb) = (c(&a), c(&b));
    expect_sys_errno(
        "rename(dir, non-empty dir)",
        || unsafe { syscall!(libc::SYS_rename, ca.as_ptr(), cb.as_ptr()) },
        libc::ENOTEMPTY,
    )?;
    let into = c(&format!("{a}/inner/self"));
    expect_sys_errno(
        "rename(dir, own subdir)",
        || unsafe { syscall!(libc::SYS_rename, ca.as_ptr(), into.as_ptr()) },
        libc::EINVAL,
    )?;
    std::fs::remove_file(format!("{b}/x")).map_err(|e| e.to_string())?;
    sys_ok("rename(dir, empty dir)", || unsafe {
        syscall!(libc::SYS_rename, ca.as_ptr(), cb.as_ptr())
    })?;
    ensure!(
        exists(&format!("{b}/inner")) && !exists(&a),
        "directory not moved"
    );
    // ".." of a moved directory is its new parent.
    let c_dir = p("rd-c");
    std::fs::create_dir(&c_dir).map_err(|e| e.to_string())?;
    let moved = format!("{c_dir}/moved");
    let (cb2, cm) = (c(&format!("{b}/inner")), c(&moved));
    sys_ok("rename(into another dir)", || unsafe {
        syscall!(libc::SYS_rename, cb2.as_ptr(), cm.as_ptr())
    })?;
    ensure_eq!(
        stat(&format!("{moved}/.."))?.st_ino,
        stat(&c_dir)?.st_ino,
        "'..' after a move"
    );
    Ok(())
}

fn renameat2_flags() -> CheckResult {
    let a = make_file("r2-a", b"A")?;
    let b = make_file("r2-b", b"B")?;
    let (ca, cb) = (c(&a), c(&b));
    let r2 = |x: &CString, y: &CString, fl: c_long| unsafe {
        syscall!(
            libc::SYS_renameat2,
            AT_FDCWD,
            x.as_ptr(),
            AT_FDCWD,
            y.as_ptr(),
            fl
        )
    };
    expect_sys_errno(
        "renameat2(NOREPLACE, existing)",
        || r2(&ca, &cb, RENAME_NOREPLACE),
        libc::EEXIST,
    )?;
    sys_ok("renameat2(EXCHANGE)", || r2(&ca, &cb, RENAME_EXCHANGE))?;
    ensure_eq!(
        (read_file(&a)?, read_file(&b)?),
        (b"B".to_vec(), b"A".to_vec()),
        "exchanged contents"
    );
    let missing = c(&p("r2-missing"));
    expect_sys_errno(
        "renameat2(EXCHANGE, missing)",
        || r2(&ca, &missing, RENAME_EXCHANGE),
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "renameat2(NOREPLACE|EXCHANGE)",
        || r2(&ca, &cb, RENAME_NOREPLACE | RENAME_EXCHANGE),
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "renameat2(unknown flag)",
        || r2(&ca, &cb, 0x100),
        libc::EINVAL,
    )?;
    sys_ok("renameat2(NOREPLACE, new name)", || {
        r2(&ca, &missing, RENAME_NOREPLACE)
    })?;
    ensure!(
        !exists(&a) && exists(&p("r2-missing")),
        "NOREPLACE rename did not move"
    );
    Ok(())
}

fn link_linkat() -> CheckResult {
    let a = make_file("ln-a", b"L")?;
    let b = p("ln-b");
    let (ca, cb) = (c(&a), c(&b));
    sys_ok("link", || unsafe {
        syscall!(libc::SYS_link, ca.as_ptr(), cb.as_ptr())
    })?;
    ensure_eq!(stat(&a)?.st_nlink, 2, "nlink after link");
    ensure_eq!(stat(&a)?.st_ino, stat(&b)?.st_ino, "same inode");
    expect_sys_errno(
        "link(existing target)",
        || unsafe { syscall!(libc::SYS_link, ca.as_ptr(), cb.as_ptr()) },
        libc::EEXIST,
    )?;
    let d = c(&dir());
    let dl = c(&p("ln-dir"));
    expect_sys_errno(
        "link(directory)",
        || unsafe { syscall!(libc::SYS_link, d.as_ptr(), dl.as_ptr()) },
        libc::EPERM,
    )?;
    sys_ok("unlink", || unsafe {
        syscall!(libc::SYS_unlink, ca.as_ptr())
    })?;
    ensure_eq!(stat(&b)?.st_nlink, 1, "nlink after unlinking one name");
    // linkat: by default a symlink itself is linked; AT_SYMLINK_FOLLOW links its target.
    let s = p("ln-sym");
    let cs = c(&s);
    sys_ok("symlink", || unsafe {
        syscall!(libc::SYS_symlink, cb.as_ptr(), cs.as_ptr())
    })?;
    let (n1, n2) = (c(&p("ln-1")), c(&p("ln-2")));
    sys_ok("linkat(0)", || unsafe {
        syscall!(
            libc::SYS_linkat,
            AT_FDCWD,
            cs.as_ptr(),
            AT_FDCWD,
            n1.as_ptr(),
            0
        )
    })?;
    ensure_eq!(
        lstat(&p("ln-1"))?.st_mode & libc::S_IFMT,
        libc::S_IFLNK,
        "linkat without FOLLOW links the symlink"
    );
    sys_ok("linkat(FOLLOW)", || unsafe {
        syscall!(
            libc::SYS_linkat,
            AT_FDCWD,
            cs.as_ptr(),
            AT_FDCWD,
            n2.as_ptr(),
            AT_SYMLINK_FOLLOW
        )
    })?;
    ensure_eq!(
        lstat(&p("ln-2"))?.st_ino,
        stat(&b)?.st_ino,
        "linkat with FOLLOW links the target"
    );
    expect_sys_errno(
        "linkat(bad flags)",
        || unsafe {
            syscall!(
                libc::SYS_linkat,
                AT_FDCWD,
                cs.as_ptr(),
                AT_FDCWD,
                n2.as_ptr(),
                0x1
            )
        },
        libc::EINVAL,
    )?;
    Ok(())
}

fn symlink_readlink() -> CheckResult {
    let d = p("sl-dir");
    std::fs::create_dir(&d).map_err(|e| e.to_string())?;
    std::fs::write(format!("{d}/f"), b"through").map_err(|e| e.to_string())?;
    let link = p("sl");
    let (t, l) = (c("sl-dir"), c(&link));
    sys_ok("symlink (relative)", || unsafe {
        syscall!(libc::SYS_symlink, t.as_ptr(), l.as_ptr())
    })?;
    // A link in the middle of a path is followed, relative to the link's directory.
    ensure_eq!(
        read_file(&format!("{link}/f"))?,
        b"through".to_vec(),
        "through a directory link"
    );
    let mut buf = [0u8; 64];
    let n = sys_ok("readlink", || unsafe {
        syscall!(libc::SYS_readlink, l.as_ptr(), buf.as_mut_ptr(), 64)
    })?;
    ensure_eq!(&buf[..n as usize], b"sl-dir", "readlink");
    let n = sys_ok("readlink(3 bytes)", || unsafe {
        syscall!(libc::SYS_readlink, l.as_ptr(), buf.as_mut_ptr(), 3)
    })?;
    ensure_eq!(&buf[..n as usize], b"sl-", "readlink truncates");
    expect_sys_errno(
        "readlink(size 0)",
        || unsafe { syscall!(libc::SYS_readlink, l.as_ptr(), buf.as_mut_ptr(), 0) },
        libc::EINVAL,
    )?;
    let f = c(&format!("{d}/f"));
    expect_sys_errno(
        "readlink(not a link)",
        || unsafe { syscall!(libc::SYS_readlink, f.as_ptr(), buf.as_mut_ptr(), 64) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "symlink(existing)",
        || unsafe { syscall!(libc::SYS_symlink, t.as_ptr(), l.as_ptr()) },
        libc::EEXIST,
    )?;
    let dfd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let (name, target) = (c("sl-at"), c("anything"));
    let r = (|| -> CheckResult {
        sys_ok("symlinkat", || unsafe {
            syscall!(libc::SYS_symlinkat, target.as_ptr(), dfd, name.as_ptr())
        })?;
        let n = sys_ok("readlinkat", || unsafe {
            syscall!(
                libc::SYS_readlinkat,
                dfd,
                name.as_ptr(),
                buf.as_mut_ptr(),
                64
            )
        })?;
        ensure_eq!(&buf[..n as usize], b"anything", "readlinkat");
        Ok(())
    })();
    close(dfd);
    r?;
    // readlinkat on an O_PATH|O_NOFOLLOW descriptor of the link, with an empty path.
    let lfd = open(&link, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
    let empty = c("");
    let r = sys_ok("readlinkat(fd, \"\")", || unsafe {
        syscall!(
            libc::SYS_readlinkat,
            lfd,
            empty.as_ptr(),
            buf.as_mut_ptr(),
            64
        )
    });
    close(lfd);
    ensure_eq!(
        &buf[..r? as usize],
        b"sl-dir",
        "readlinkat of an O_PATH link"
    );
    Ok(())
}

fn symlink_loop_eloop() -> CheckResult {
    let (a, b) = (p("loop-a"), p("loop-b"));
    std::os::unix::fs::symlink(&b, &a).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&a, &b).map_err(|e| e.to_string())?;
    open_errno(&a, libc::O_RDONLY, libc::ELOOP)?;
    let ca = c(&a);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    expect_sys_errno(
        "stat(loop)",
        || unsafe { syscall!(libc::SYS_stat, ca.as_ptr(), &raw mut st) },
        libc::ELOOP,
    )?;
    sys_ok("lstat(loop)", || unsafe {
        syscall!(libc::SYS_lstat, ca.as_ptr(), &raw mut st)
    })?;
    Ok(())
}

fn getcwd_string() -> Result<String, String> {
    let mut buf = [0u8; 4096];
    let n = sys_ok("getcwd", || unsafe {
        syscall!(libc::SYS_getcwd, buf.as_mut_ptr(), 4096)
    })? as usize;
    ensure!(
        n > 0 && buf[n - 1] == 0,
        "getcwd returned {n} without a NUL at the end"
    );
    Ok(String::from_utf8_lossy(&buf[..n - 1]).into_owned())
}

fn chdir_fchdir_getcwd() -> CheckResult {
    let old = getcwd_string()?;
    let d = p("cwd");
    std::fs::create_dir(&d).map_err(|e| e.to_string())?;
    let cd = c(&d);
    let r = (|| -> CheckResult {
        sys_ok("chdir", || unsafe {
            syscall!(libc::SYS_chdir, cd.as_ptr())
        })?;
        ensure_eq!(getcwd_string()?, d.clone(), "getcwd after chdir");
        let up = c("..");
        sys_ok("chdir(..)", || unsafe {
            syscall!(libc::SYS_chdir, up.as_ptr())
        })?;
        ensure_eq!(getcwd_string()?, dir(), "getcwd after chdir(..)");
        let mut small = [0u8; 4];
        expect_sys_errno(
            "getcwd(4 bytes)",
            || unsafe { syscall!(libc::SYS_getcwd, small.as_mut_ptr(), 4) },
            libc::ERANGE,
        )?;
        let fd = open(&d, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        let r = sys_ok("fchdir(O_PATH dir)", || unsafe {
            syscall!(libc::SYS_fchdir, fd)
        });
        close(fd);
        r?;
        ensure_eq!(getcwd_string()?, d.clone(), "getcwd after fchdir");
        // Relative paths now resolve from here.
        std::fs::write("rel", b"r").map_err(|e| e.to_string())?;
        ensure!(
            exists(&format!("{d}/rel")),
            "relative create went elsewhere"
        );
        let file = make_file("cwd-file", b"")?;
        let ffd = open(&file, libc::O_RDONLY, 0)?;
        let r = expect_sys_errno(
            "fchdir(file)",
            || unsafe { syscall!(libc::SYS_fchdir, ffd) },
            libc::ENOTDIR,
        );
        close(ffd);
        r?;
        let cf = c(&file);
        expect_sys_errno(
            "chdir(file)",
            || unsafe { syscall!(libc::SYS_chdir, cf.as_ptr()) },
            libc::ENOTDIR,
        )?;
        let missing = c(&p("cwd-missing"));
        expect_sys_errno(
            "chdir(missing)",
            || unsafe { syscall!(libc::SYS_chdir, missing.as_ptr()) },
            libc::ENOENT,
        )?;
        Ok(())
    })();
    let co = c(&old);
    unsafe { syscall!(libc::SYS_chdir, co.as_ptr()) };
    r
}

fn truncate_ftruncate() -> CheckResult {
    let path = make_file("tr", b"abcdef")?;
    let cp = c(&path);
    sys_ok("truncate(3)", || unsafe {
        syscall!(libc::SYS_truncate, cp.as_ptr(), 3)
    })?;
    ensure_eq!(read_file(&path)?, b"abc".to_vec(), "after shrinking");
    sys_ok("truncate(6)", || unsafe {
        syscall!(libc::SYS_truncate, cp.as_ptr(), 6)
    })?;
    ensure_eq!(
        read_file(&path)?,
        b"abc\0\0\0".to_vec(),
        "after growing: zeros"
    );
    expect_sys_errno(
        "truncate(-1)",
        || unsafe { syscall!(libc::SYS_truncate, cp.as_ptr(), -1) },
        libc::EINVAL,
    )?;
    let d = c(&dir());
    expect_sys_errno(
        "truncate(directory)",
        || unsafe { syscall!(libc::SYS_truncate, d.as_ptr(), 0) },
        libc::EISDIR,
    )?;
    let fd = open(&path, libc::O_RDWR, 0)?;
    let r = (|| -> CheckResult {
        sys_ok("ftruncate(1)", || unsafe {
            syscall!(libc::SYS_ftruncate, fd, 1)
        })?;
        ensure_eq!(fstat(fd)?.st_size, 1, "size after ftruncate");
        expect_sys_errno(
            "ftruncate(-1)",
            || unsafe { syscall!(libc::SYS_ftruncate, fd, -1) },
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(fd);
    r?;
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let r = expect_sys_errno(
        "ftruncate(O_RDONLY)",
        || unsafe { syscall!(libc::SYS_ftruncate, fd, 0) },
        libc::EINVAL,
    );
    close(fd);
    r?;
    let [pr, pw] = pipe()?;
    let r = expect_sys_errno(
        "ftruncate(pipe)",
        || unsafe { syscall!(libc::SYS_ftruncate, pw, 0) },
        libc::EINVAL,
    );
    close(pr);
    close(pw);
    r
}

fn fallocate_modes() -> CheckResult {
    let path = make_file("fa", b"xy")?;
    let fd = open(&path, libc::O_RDWR, 0)?;
    let r = (|| -> CheckResult {
        sys_ok("fallocate(0, 0, 8192)", || unsafe {
            syscall!(libc::SYS_fallocate, fd, 0, 0, 8192)
        })?;
        ensure_eq!(fstat(fd)?.st_size, 8192, "size after fallocate");
        ensure_eq!(
            read_file(&path)?[..3].to_vec(),
            b"xy\0".to_vec(),
            "data kept, new space zero"
        );
        sys_ok("fallocate(KEEP_SIZE)", || unsafe {
            syscall!(libc::SYS_fallocate, fd, FALLOC_FL_KEEP_SIZE, 8192, 8192)
        })?;
        ensure_eq!(fstat(fd)?.st_size, 8192, "size after KEEP_SIZE");
        expect_sys_errno(
            "fallocate(len 0)",
            || unsafe { syscall!(libc::SYS_fallocate, fd, 0, 0, 0) },
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "fallocate(offset -1)",
            || unsafe { syscall!(libc::SYS_fallocate, fd, 0, -1, 10) },
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(fd);
    r?;
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let r = expect_sys_errno(
        "fallocate(O_RDONLY)",
        || unsafe { syscall!(libc::SYS_fallocate, fd, 0, 0, 10) },
        libc::EBADF,
    );
    close(fd);
    r?;
    let [pr, pw] = pipe()?;
    let r = expect_sys_errno(
        "fallocate(pipe)",
        || unsafe { syscall!(libc::SYS_fallocate, pw, 0, 0, 10) },
        libc::ESPIPE,
    );
    close(pr);
    close(pw);
    r
}

fn fsync_fdatasync() -> CheckResult {
    let path = make_file("sync", b"s")?;
    let fd = open(&path, libc::O_RDWR, 0)?;
    let r = (|| -> CheckResult {
        sys_ok("fsync", || unsafe { syscall!(libc::SYS_fsync, fd) })?;
        sys_ok("fdatasync", || unsafe { syscall!(libc::SYS_fdatasync, fd) })?;
        Ok(())
    })();
    close(fd);
    r?;
    expect_sys_errno(
        "fsync(bad fd)",
        || unsafe { syscall!(libc::SYS_fsync, 9999) },
        libc::EBADF,
    )?;
    let [pr, pw] = pipe()?;
    let r = expect_sys_errno(
        "fsync(pipe)",
        || unsafe { syscall!(libc::SYS_fsync, pw) },
        libc::EINVAL,
    )
    .and_then(|_| {
        expect_sys_errno(
            "fdatasync(pipe)",
            || unsafe { syscall!(libc::SYS_fdatasync, pr) },
            libc::EINVAL,
        )
    });
    close(pr);
    close(pw);
    r
}

fn chmod_family() -> CheckResult {
    let path = make_file("cm", b"")?;
    let cp = c(&path);
    sys_ok("chmod", || unsafe {
        syscall!(libc::SYS_chmod, cp.as_ptr(), 0o4711)
    })?;
    ensure_eq!(mode_of(&path)?, 0o4711, "mode after chmod");
    ensure_eq!(
        stat(&path)?.st_mode & libc::S_IFMT,
        libc::S_IFREG,
        "type kept"
    );
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let r = sys_ok("fchmod", || unsafe {
        syscall!(libc::SYS_fchmod, fd, 0o600)
    });
    close(fd);
    r?;
    ensure_eq!(mode_of(&path)?, 0o600, "mode after fchmod");
    let dfd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let name = c("cm");
    let r = sys_ok("fchmodat", || unsafe {
        syscall!(libc::SYS_fchmodat, dfd, name.as_ptr(), 0o755)
    });
    close(dfd);
    r?;
    ensure_eq!(mode_of(&path)?, 0o755, "mode after fchmodat");
    let missing = c(&p("cm-missing"));
    expect_sys_errno(
        "chmod(missing)",
        || unsafe { syscall!(libc::SYS_chmod, missing.as_ptr(), 0o644) },
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "fchmod(bad fd)",
        || unsafe { syscall!(libc::SYS_fchmod, 9999, 0o644) },
        libc::EBADF,
    )?;
    Ok(())
}

fn chown_family() -> CheckResult {
    let path = make_file("co", b"")?;
    let link = p("co-link");
    let (cp, cl) = (c(&path), c(&link));
    sys_ok("symlink", || unsafe {
        syscall!(libc::SYS_symlink, cp.as_ptr(), cl.as_ptr())
    })?;
    sys_ok("chown", || unsafe {
        syscall!(libc::SYS_chown, cp.as_ptr(), 1000, 1001)
    })?;
    let st = stat(&path)?;
    ensure_eq!((st.st_uid, st.st_gid), (1000, 1001), "owner after chown");
    sys_ok("chown(-1, 7)", || unsafe {
        syscall!(libc::SYS_chown, cp.as_ptr(), -1, 7)
    })?;
    let st = stat(&path)?;
    ensure_eq!((st.st_uid, st.st_gid), (1000, 7), "-1 keeps the owner");
    sys_ok("lchown", || unsafe {
        syscall!(libc::SYS_lchown, cl.as_ptr(), 42, 43)
    })?;
    let (ls, st) = (lstat(&link)?, stat(&path)?);
    ensure_eq!((ls.st_uid, ls.st_gid), (42, 43), "lchown changes the link");
    ensure_eq!(st.st_uid, 1000, "lchown left the target alone");
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let r = sys_ok("fchown", || unsafe { syscall!(libc::SYS_fchown, fd, 5, 6) });
    close(fd);
    r?;
    ensure_eq!(
        (stat(&path)?.st_uid, stat(&path)?.st_gid),
        (5, 6),
        "owner after fchown"
    );
    let name = c("co-link");
    let dfd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let r = (|| -> CheckResult {
        sys_ok("fchownat(NOFOLLOW)", || unsafe {
            syscall!(
                libc::SYS_fchownat,
                dfd,
                name.as_ptr(),
                8,
                9,
                AT_SYMLINK_NOFOLLOW
            )
        })?;
        ensure_eq!(
            lstat(&link)?.st_uid,
            8,
            "fchownat NOFOLLOW changed the link"
        );
        sys_ok("fchownat(follow)", || unsafe {
            syscall!(libc::SYS_fchownat, dfd, name.as_ptr(), 0, 0, 0)
        })?;
        ensure_eq!(stat(&path)?.st_uid, 0, "fchownat followed the link");
        expect_sys_errno(
            "fchownat(bad flags)",
            || unsafe { syscall!(libc::SYS_fchownat, dfd, name.as_ptr(), 0, 0, 0x1) },
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(dfd);
    r
}

fn utimensat_times() -> CheckResult {
    let path = make_file("ut", b"")?;
    let cp = c(&path);
    let ts = [
        libc::timespec {
            tv_sec: 1_000_000,
            tv_nsec: 5,
        },
        libc::timespec {
            tv_sec: 2_000_000,
            tv_nsec: 7,
        },
    ];
    sys_ok("utimensat", || unsafe {
        syscall!(libc::SYS_utimensat, AT_FDCWD, cp.as_ptr(), ts.as_ptr(), 0)
    })?;
    let st = stat(&path)?;
    ensure_eq!(
        (st.st_atime, st.st_atime_nsec, st.st_mtime, st.st_mtime_nsec),
        (1_000_000, 5, 2_000_000, 7),
        "times"
    );
    let omit = [
        libc::timespec {
            tv_sec: 9,
            tv_nsec: UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: 3_000_000,
            tv_nsec: 0,
        },
    ];
    sys_ok("utimensat(OMIT)", || unsafe {
        syscall!(libc::SYS_utimensat, AT_FDCWD, cp.as_ptr(), omit.as_ptr(), 0)
    })?;
    let st = stat(&path)?;
    ensure_eq!(
        (st.st_atime, st.st_mtime),
        (1_000_000, 3_000_000),
        "UTIME_OMIT keeps atime"
    );
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let now = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
    ];
    sys_ok("utimensat(NOW)", || unsafe {
        syscall!(libc::SYS_utimensat, AT_FDCWD, cp.as_ptr(), now.as_ptr(), 0)
    })?;
    let st = stat(&path)?;
    ensure!(
        (st.st_atime - now_secs).abs() <= 5,
        "UTIME_NOW atime {} vs now {now_secs}",
        st.st_atime
    );
    ensure_eq!(st.st_mtime, 3_000_000, "mtime kept");
    // NULL times: both now. A NULL path operates on the descriptor.
    let fd = open(&path, libc::O_RDWR, 0)?;
    let r = sys_ok("utimensat(fd, NULL, NULL)", || unsafe {
        syscall!(libc::SYS_utimensat, fd, 0, 0, 0)
    });
    close(fd);
    r?;
    let st = stat(&path)?;
    ensure!(
        (st.st_mtime - now_secs).abs() <= 5,
        "NULL times: mtime {} vs now {now_secs}",
        st.st_mtime
    );
    let bad = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000_000,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
    ];
    expect_sys_errno(
        "utimensat(nsec 1e9)",
        || unsafe { syscall!(libc::SYS_utimensat, AT_FDCWD, cp.as_ptr(), bad.as_ptr(), 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "utimensat(bad flags)",
        || unsafe { syscall!(libc::SYS_utimensat, AT_FDCWD, cp.as_ptr(), ts.as_ptr(), 0x1) },
        libc::EINVAL,
    )?;
    // AT_SYMLINK_NOFOLLOW sets the link's own times.
    let link = p("ut-link");
    let cl = c(&link);
    sys_ok("symlink", || unsafe {
        syscall!(libc::SYS_symlink, cp.as_ptr(), cl.as_ptr())
    })?;
    sys_ok("utimensat(NOFOLLOW)", || unsafe {
        syscall!(
            libc::SYS_utimensat,
            AT_FDCWD,
            cl.as_ptr(),
            ts.as_ptr(),
            AT_SYMLINK_NOFOLLOW
        )
    })?;
    ensure_eq!(lstat(&link)?.st_mtime, 2_000_000, "link mtime");
    ensure!(
        stat(&path)?.st_mtime != 2_000_000,
        "NOFOLLOW changed the target"
    );
    Ok(())
}

fn access_faccessat() -> CheckResult {
    let path = make_file("ac", b"")?;
    let cp = c(&path);
    sys_ok("access(F_OK)", || unsafe {
        syscall!(libc::SYS_access, cp.as_ptr(), libc::F_OK)
    })?;
    sys_ok("access(R_OK|W_OK)", || unsafe {
        syscall!(libc::SYS_access, cp.as_ptr(), libc::R_OK | libc::W_OK)
    })?;
    expect_sys_errno(
        "access(X_OK, mode 644)",
        || unsafe { syscall!(libc::SYS_access, cp.as_ptr(), libc::X_OK) },
        libc::EACCES,
    )?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    sys_ok("access(X_OK, mode 700)", || unsafe {
        syscall!(libc::SYS_access, cp.as_ptr(), libc::X_OK)
    })?;
    let d = c(&dir());
    sys_ok("access(dir, X_OK)", || unsafe {
        syscall!(libc::SYS_access, d.as_ptr(), libc::X_OK)
    })?;
    let missing = c(&p("ac-missing"));
    expect_sys_errno(
        "access(missing)",
        || unsafe { syscall!(libc::SYS_access, missing.as_ptr(), libc::F_OK) },
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "access(mode 8)",
        || unsafe { syscall!(libc::SYS_access, cp.as_ptr(), 8) },
        libc::EINVAL,
    )?;
    let dfd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let name = c("ac");
    let r = (|| -> CheckResult {
        sys_ok("faccessat", || unsafe {
            syscall!(libc::SYS_faccessat, dfd, name.as_ptr(), libc::R_OK)
        })?;
        sys_ok("faccessat2(AT_EACCESS)", || unsafe {
            syscall!(
                libc::SYS_faccessat2,
                dfd,
                name.as_ptr(),
                libc::R_OK,
                AT_EACCESS
            )
        })?;
        let fd = open(&path, libc::O_RDONLY, 0)?;
        let empty = c("");
        let r = sys_ok("faccessat2(AT_EMPTY_PATH)", || unsafe {
            syscall!(
                libc::SYS_faccessat2,
                fd,
                empty.as_ptr(),
                libc::F_OK,
                AT_EMPTY_PATH
            )
        });
        close(fd);
        r?;
        expect_sys_errno(
            "faccessat2(bad flags)",
            || unsafe { syscall!(libc::SYS_faccessat2, dfd, name.as_ptr(), libc::R_OK, 0x1) },
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(dfd);
    r
}

fn statfs_fstatfs() -> CheckResult {
    let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
    let shm = c("/dev/shm");
    sys_ok("statfs(/dev/shm)", || unsafe {
        syscall!(libc::SYS_statfs, shm.as_ptr(), &raw mut sf)
    })?;
    ensure_eq!(sf.f_type, 0x0102_1994, "f_type of /dev/shm (TMPFS_MAGIC)");
    ensure!(
        sf.f_bsize > 0 && sf.f_blocks > 0,
        "f_bsize {} f_blocks {}",
        sf.f_bsize,
        sf.f_blocks
    );
    ensure!(
        sf.f_bfree <= sf.f_blocks && sf.f_bavail <= sf.f_blocks,
        "free > total"
    );
    ensure_eq!(sf.f_namelen, 255, "f_namelen");
    let proc_ = c("/proc");
    sys_ok("statfs(/proc)", || unsafe {
        syscall!(libc::SYS_statfs, proc_.as_ptr(), &raw mut sf)
    })?;
    ensure_eq!(sf.f_type, 0x9fa0, "f_type of /proc (PROC_SUPER_MAGIC)");
    let fd = open(&dir(), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut sf2: libc::statfs = unsafe { std::mem::zeroed() };
    let tmp = c(&dir());
    let r = sys_ok("fstatfs", || unsafe {
        syscall!(libc::SYS_fstatfs, fd, &raw mut sf2)
    })
    .and_then(|_| {
        sys_ok("statfs", || unsafe {
            syscall!(libc::SYS_statfs, tmp.as_ptr(), &raw mut sf)
        })
    });
    close(fd);
    r?;
    ensure_eq!(
        (sf2.f_type, sf2.f_bsize),
        (sf.f_type, sf.f_bsize),
        "fstatfs = statfs"
    );
    let missing = c(&p("sf-missing"));
    expect_sys_errno(
        "statfs(missing)",
        || unsafe { syscall!(libc::SYS_statfs, missing.as_ptr(), &raw mut sf) },
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "fstatfs(bad fd)",
        || unsafe { syscall!(libc::SYS_fstatfs, 9999, &raw mut sf) },
        libc::EBADF,
    )?;
    Ok(())
}

fn umask_applies() -> CheckResult {
    let old = unsafe { syscall!(libc::SYS_umask, 0o077) };
    ensure_eq!(old, 0o022, "previous umask");
    let r = (|| -> CheckResult {
        let f = p("um-file");
        let fd = open(&f, libc::O_CREAT | libc::O_WRONLY, 0o666)?;
        close(fd);
        ensure_eq!(mode_of(&f)?, 0o600, "file mode under umask 077");
        let d = p("um-dir");
        let cd = c(&d);
        sys_ok("mkdir", || unsafe {
            syscall!(libc::SYS_mkdir, cd.as_ptr(), 0o777)
        })?;
        ensure_eq!(mode_of(&d)?, 0o700, "directory mode under umask 077");
        let prev = unsafe { syscall!(libc::SYS_umask, 0o1777) };
        ensure_eq!(prev, 0o077, "umask returns the previous value");
        let masked = unsafe { syscall!(libc::SYS_umask, 0o077) };
        ensure_eq!(masked, 0o777, "umask keeps only 0777");
        Ok(())
    })();
    unsafe { syscall!(libc::SYS_umask, 0o022) };
    r
}

fn dup_dup2_dup3() -> CheckResult {
    let path = make_file("dup", b"0123456789")?;
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let r = (|| -> CheckResult {
        let d = sys_ok("dup", || unsafe { syscall!(libc::SYS_dup, fd) })? as c_int;
        // The copy shares the offset.
        read_some(fd, 3)?;
        let pos = sys_ok("lseek(dup)", || unsafe {
            syscall!(libc::SYS_lseek, d, 0, libc::SEEK_CUR)
        })?;
        ensure_eq!(pos, 3, "offset seen through dup");
        let target = 40;
        let r = sys_ok("dup2", || unsafe { syscall!(libc::SYS_dup2, fd, target) })?;
        ensure_eq!(r, target as c_long, "dup2 result");
        ensure_eq!(
            sys_ok("dup2(fd, fd)", || unsafe {
                syscall!(libc::SYS_dup2, fd, fd)
            })?,
            fd as c_long,
            "dup2 to itself"
        );
        expect_sys_errno(
            "dup2(bad, 41)",
            || unsafe { syscall!(libc::SYS_dup2, 9999, 41) },
            libc::EBADF,
        )?;
        expect_sys_errno(
            "dup2(bad, bad)",
            || unsafe { syscall!(libc::SYS_dup2, 9999, 9999) },
            libc::EBADF,
        )?;
        expect_sys_errno(
            "dup3(fd, fd)",
            || unsafe { syscall!(libc::SYS_dup3, fd, fd, 0) },
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "dup3(bad flags)",
            || unsafe { syscall!(libc::SYS_dup3, fd, 42, 1) },
            libc::EINVAL,
        )?;
        ensure_eq!(
            sys_ok("dup3(CLOEXEC)", || unsafe {
                syscall!(libc::SYS_dup3, fd, 42, libc::O_CLOEXEC)
            })?,
            42,
            "dup3 result"
        );
        ensure_eq!(getfd(42)?, libc::FD_CLOEXEC, "dup3 O_CLOEXEC");
        // dup2 replaces an open descriptor (closing the old file silently).
        let other = open("/dev/null", libc::O_RDONLY, 0)?;
        sys_ok("dup2(replace)", || unsafe {
            syscall!(libc::SYS_dup2, fd, other)
        })?;
        ensure_eq!(
            fstat(other)?.st_ino,
            fstat(fd)?.st_ino,
            "replaced descriptor"
        );
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        let over = rl.rlim_cur as c_long;
        expect_sys_errno(
            "dup2(fd, RLIMIT_NOFILE)",
            || unsafe { syscall!(libc::SYS_dup2, fd, over) },
            libc::EBADF,
        )?;
        for x in [d, target, 42, other] {
            close(x);
        }
        expect_sys_errno(
            "dup(bad)",
            || unsafe { syscall!(libc::SYS_dup, 9999) },
            libc::EBADF,
        )?;
        Ok(())
    })();
    close(fd);
    r
}

fn fcntl_fl_per_description() -> CheckResult {
    let path = make_file("fl", b"")?;
    let fd = open(&path, libc::O_RDONLY, 0)?;
    let d = sys_ok("dup", || unsafe { syscall!(libc::SYS_dup, fd) })? as c_int;
    let other = open(&path, libc::O_RDONLY, 0)?;
    let r = (|| -> CheckResult {
        sys_ok("F_SETFL", || unsafe {
            syscall!(
                libc::SYS_fcntl,
                fd,
                libc::F_SETFL,
                libc::O_NONBLOCK | libc::O_APPEND
            )
        })?;
        let fl = getfl(d)?;
        ensure!(
            fl & libc::O_NONBLOCK != 0 && fl & libc::O_APPEND != 0,
            "the dup does not see F_SETFL: {fl:#o}"
        );
        ensure_eq!(
            getfl(other)? & (libc::O_NONBLOCK | libc::O_APPEND),
            0,
            "another open of the file sees F_SETFL"
        );
        // The access mode and creation flags cannot be changed.
        sys_ok("F_SETFL(O_RDWR)", || unsafe {
            syscall!(
                libc::SYS_fcntl,
                fd,
                libc::F_SETFL,
                libc::O_RDWR | libc::O_TRUNC
            )
        })?;
        ensure_eq!(
            getfl(fd)? & libc::O_ACCMODE,
            libc::O_RDONLY,
            "access mode after F_SETFL"
        );
        ensure_eq!(
            getfl(fd)? & (libc::O_NONBLOCK | libc::O_TRUNC),
            0,
            "F_SETFL replaces the changeable flags"
        );
        expect_sys_errno(
            "fcntl(bad cmd)",
            || unsafe { syscall!(libc::SYS_fcntl, fd, 9999, 0) },
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "fcntl(bad fd)",
            || unsafe { syscall!(libc::SYS_fcntl, 9999, libc::F_GETFL) },
            libc::EBADF,
        )?;
        Ok(())
    })();
    close(fd);
    close(d);
    close(other);
    r
}

fn fcntl_fd_per_descriptor() -> CheckResult {
    let fd = open("/dev/null", libc::O_RDONLY, 0)?;
    let d = sys_ok("dup", || unsafe { syscall!(libc::SYS_dup, fd) })? as c_int;
    let r = (|| -> CheckResult {
        sys_ok("F_SETFD", || unsafe {
            syscall!(libc::SYS_fcntl, fd, libc::F_SETFD, libc::FD_CLOEXEC)
        })?;
        ensure_eq!(getfd(fd)?, libc::FD_CLOEXEC, "F_GETFD after F_SETFD");
        ensure_eq!(getfd(d)?, 0, "the dup shares FD_CLOEXEC");
        sys_ok("F_SETFD(0)", || unsafe {
            syscall!(libc::SYS_fcntl, fd, libc::F_SETFD, 0)
        })?;
        ensure_eq!(getfd(fd)?, 0, "F_GETFD after clearing");
        sys_ok("FIOCLEX", || unsafe {
            syscall!(libc::SYS_ioctl, d, libc::FIOCLEX)
        })?;
        ensure_eq!(getfd(d)?, libc::FD_CLOEXEC, "F_GETFD after FIOCLEX");
        ensure_eq!(getfd(fd)?, 0, "FIOCLEX changed the other descriptor");
        Ok(())
    })();
    close(fd);
    close(d);
    r
}

fn fcntl_dupfd_minimum() -> CheckResult {
    let fd = open("/dev/null", libc::O_RDONLY, 0)?;
    // Two free descriptor numbers in a row from 100 on (some may be inherited open).
    let free = |n: c_int| unsafe { libc::fcntl(n, libc::F_GETFD) } == -1;
    let base = (100..1000).find(|&n| free(n) && free(n + 1)).unwrap_or(100);
    let r = (|| -> CheckResult {
        let a = sys_ok("F_DUPFD(base)", || unsafe {
            syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD, base)
        })? as c_int;
        ensure_eq!(a, base, "F_DUPFD(base) when base is free");
        let b = sys_ok("F_DUPFD(base) again", || unsafe {
            syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD, base)
        })? as c_int;
        ensure_eq!(b, base + 1, "F_DUPFD(base) when base is taken");
        ensure_eq!(getfd(a)?, 0, "F_DUPFD clears FD_CLOEXEC");
        let cx = sys_ok("F_DUPFD_CLOEXEC(3)", || unsafe {
            syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, 3)
        })? as c_int;
        ensure!(cx >= 3, "F_DUPFD_CLOEXEC(3) = {cx}");
        ensure_eq!(
            getfd(cx)?,
            libc::FD_CLOEXEC,
            "F_DUPFD_CLOEXEC sets FD_CLOEXEC"
        );
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        let lim = rl.rlim_cur as c_long;
        expect_sys_errno(
            "F_DUPFD(RLIMIT_NOFILE)",
            || unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD, lim) },
            libc::EINVAL,
        )?;
        let hi = sys_ok("F_DUPFD(limit-1)", || unsafe {
            syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD, lim - 1)
        })?;
        ensure_eq!(hi, lim - 1, "F_DUPFD at the top");
        expect_sys_errno(
            "F_DUPFD(limit-1) full",
            || unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD, lim - 1) },
            libc::EMFILE,
        )?;
        for x in [a, b, cx, hi as c_int] {
            close(x);
        }
        Ok(())
    })();
    close(fd);
    r
}

fn close_range_works() -> CheckResult {
    let base = 200;
    for i in 0..5 {
        let fd = open("/dev/null", libc::O_RDONLY, 0)?;
        unsafe { syscall!(libc::SYS_dup2, fd, base + i) };
        close(fd);
    }
    sys_ok("close_range(CLOEXEC)", || unsafe {
        syscall!(libc::SYS_close_range, base, base + 1, CLOSE_RANGE_CLOEXEC)
    })?;
    ensure_eq!(getfd(base)?, libc::FD_CLOEXEC, "close_range CLOEXEC");
    sys_ok("close_range", || unsafe {
        syscall!(libc::SYS_close_range, base, base + 3, 0)
    })?;
    expect_sys_errno(
        "fcntl(closed)",
        || unsafe { syscall!(libc::SYS_fcntl, base + 3, libc::F_GETFD) },
        libc::EBADF,
    )?;
    ensure_eq!(getfd(base + 4)?, 0, "descriptor past the range");
    close(base + 4);
    expect_sys_errno(
        "close_range(first > last)",
        || unsafe { syscall!(libc::SYS_close_range, 10, 5, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "close(closed)",
        || unsafe { syscall!(libc::SYS_close, base) },
        libc::EBADF,
    )?;
    Ok(())
}

fn sendfile_copies() -> CheckResult {
    let src = make_file("sf-src", b"sendfile data!")?;
    let dst = p("sf-dst");
    let i = open(&src, libc::O_RDONLY, 0)?;
    let o = open(&dst, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, 0o644)?;
    let r = (|| -> CheckResult {
        let mut off: i64 = 9;
        let n = sys_ok("sendfile(offset)", || unsafe {
            syscall!(libc::SYS_sendfile, o, i, &raw mut off, 100)
        })?;
        ensure_eq!(
            (n, off),
            (5, 14),
            "sendfile with an offset: count and new offset"
        );
        let pos = sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, i, 0, libc::SEEK_CUR)
        })?;
        ensure_eq!(
            pos,
            0,
            "input offset untouched when an offset pointer is given"
        );
        let n = sys_ok("sendfile", || unsafe {
            syscall!(libc::SYS_sendfile, o, i, 0, 8)
        })?;
        ensure_eq!(n, 8, "sendfile count");
        let pos = sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, i, 0, libc::SEEK_CUR)
        })?;
        ensure_eq!(pos, 8, "input offset advanced");
        Ok(())
    })();
    close(i);
    close(o);
    r?;
    ensure_eq!(read_file(&dst)?, b"data!sendfile".to_vec(), "destination");
    // Into a pipe.
    let [pr, pw] = pipe()?;
    let i = open(&src, libc::O_RDONLY, 0)?;
    let r = (|| -> CheckResult {
        let n = sys_ok("sendfile(pipe)", || unsafe {
            syscall!(libc::SYS_sendfile, pw, i, 0, 4)
        })?;
        ensure_eq!(n, 4, "count into a pipe");
        ensure_eq!(read_some(pr, 16)?, b"send".to_vec(), "pipe content");
        let a = open(&dst, libc::O_WRONLY | libc::O_APPEND, 0)?;
        let r = expect_sys_errno(
            "sendfile(O_APPEND out)",
            || unsafe { syscall!(libc::SYS_sendfile, a, i, 0, 4) },
            libc::EINVAL,
        );
        close(a);
        r
    })();
    close(i);
    close(pr);
    close(pw);
    r
}

fn copy_file_range_copies() -> CheckResult {
    let src = make_file("cfr-src", b"0123456789")?;
    let dst = make_file("cfr-dst", b"abcdefghij")?;
    let i = open(&src, libc::O_RDONLY, 0)?;
    let o = open(&dst, libc::O_WRONLY, 0)?;
    let r = (|| -> CheckResult {
        let (mut oi, mut oo): (i64, i64) = (2, 5);
        let n = sys_ok("copy_file_range", || unsafe {
            syscall!(
                libc::SYS_copy_file_range,
                i,
                &raw mut oi,
                o,
                &raw mut oo,
                3,
                0
            )
        })?;
        ensure_eq!((n, oi, oo), (3, 5, 8), "count and offsets");
        let n = sys_ok("copy_file_range(file offsets)", || unsafe {
            syscall!(libc::SYS_copy_file_range, i, 0, o, 0, 2, 0)
        })?;
        ensure_eq!(n, 2, "count with file offsets");
        let pos = sys_ok("lseek", || unsafe {
            syscall!(libc::SYS_lseek, o, 0, libc::SEEK_CUR)
        })?;
        ensure_eq!(pos, 2, "output offset advanced");
        let n = sys_ok("copy_file_range at EOF", || unsafe {
            let mut far: i64 = 100;
            syscall!(libc::SYS_copy_file_range, i, &raw mut far, o, 0, 5, 0)
        })?;
        ensure_eq!(n, 0, "copy from past EOF");
        expect_sys_errno(
            "copy_file_range(flags 1)",
            || unsafe { syscall!(libc::SYS_copy_file_range, i, 0, o, 0, 1, 1) },
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(i);
    close(o);
    r?;
    ensure_eq!(read_file(&dst)?, b"01cde234ij".to_vec(), "destination");
    Ok(())
}

fn memfd_create_file() -> CheckResult {
    let name = c("axle-memfd");
    let fd = sys_ok("memfd_create", || unsafe {
        syscall!(libc::SYS_memfd_create, name.as_ptr(), MFD_CLOEXEC)
    })? as c_int;
    let r = (|| -> CheckResult {
        ensure_eq!(getfd(fd)?, libc::FD_CLOEXEC, "MFD_CLOEXEC");
        ensure_eq!(
            getfl(fd)? & libc::O_ACCMODE,
            libc::O_RDWR,
            "memfd access mode"
        );
        write_all(fd, b"in memory")?;
        sys_ok("ftruncate", || unsafe {
            syscall!(libc::SYS_ftruncate, fd, 2 * 4096)
        })?;
        let st = fstat(fd)?;
        ensure_eq!(
            (st.st_mode & libc::S_IFMT, st.st_size, st.st_nlink),
            (libc::S_IFREG, 8192, 0),
            "memfd stat"
        );
        let mut b = [0u8; 9];
        let n = sys_ok("pread64", || unsafe {
            syscall!(libc::SYS_pread64, fd, b.as_mut_ptr(), 9, 0)
        })?;
        ensure_eq!((n, &b), (9, b"in memory"), "memfd data");
        let mut link = [0u8; 256];
        let lp = c(&format!("/proc/self/fd/{fd}"));
        let n = sys_ok("readlink", || unsafe {
            syscall!(libc::SYS_readlink, lp.as_ptr(), link.as_mut_ptr(), 256)
        })? as usize;
        ensure_eq!(
            String::from_utf8_lossy(&link[..n]),
            "/memfd:axle-memfd (deleted)",
            "/proc/self/fd link"
        );
        Ok(())
    })();
    close(fd);
    r?;
    expect_sys_errno(
        "memfd_create(bad flags)",
        || unsafe { syscall!(libc::SYS_memfd_create, name.as_ptr(), 0x100) },
        libc::EINVAL,
    )?;
    let long = c(&"m".repeat(250));
    expect_sys_errno(
        "memfd_create(250-byte name)",
        || unsafe { syscall!(libc::SYS_memfd_create, long.as_ptr(), 0) },
        libc::EINVAL,
    )?;
    Ok(())
}

fn o_append_two_processes() -> CheckResult {
    const RECORDS: usize = 300;
    const LEN: usize = 64;
    let path = p("append2");
    std::fs::write(&path, b"").map_err(|e| e.to_string())?;
    let writer = |tag: u8| -> c_int {
        let fd = match open(&path, libc::O_WRONLY | libc::O_APPEND, 0) {
            Ok(fd) => fd,
            Err(_) => return 2,
        };
        for i in 0..RECORDS {
            let mut rec = [tag; LEN];
            rec[LEN - 1] = b'\n';
            rec[0..3].copy_from_slice(format!("{:03}", i % 1000).as_bytes());
            if unsafe { libc::write(fd, rec.as_ptr().cast(), LEN) } != LEN as isize {
                return 3;
            }
        }
        0
    };
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = writer(b'C');
        unsafe { libc::_exit(code) };
    }
    ensure!(pid > 0, "fork failed");
    let mine = writer(b'P');
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    ensure_eq!(mine, 0, "parent writer");
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child writer status {status:#x}"
    );
    let data = read_file(&path)?;
    ensure_eq!(
        data.len(),
        2 * RECORDS * LEN,
        "file size (a record was overwritten)"
    );
    let (mut p_count, mut c_count) = (0, 0);
    for rec in data.chunks(LEN) {
        let tag = rec[4];
        ensure!(
            rec[3..LEN - 1].iter().all(|&b| b == tag) && rec[LEN - 1] == b'\n',
            "torn record {:?}",
            String::from_utf8_lossy(rec)
        );
        match tag {
            b'P' => p_count += 1,
            b'C' => c_count += 1,
            _ => return Err(format!("bad record {:?}", String::from_utf8_lossy(rec))),
        }
    }
    ensure_eq!((p_count, c_count), (RECORDS, RECORDS), "records per writer");
    Ok(())
}

/// In a child with RLIMIT_FSIZE 5000: a 8000-byte write stops at 5000, the next write is
/// EFBIG (SIGXFSZ ignored), ftruncate past the limit is EFBIG; with the default action a
/// write past the limit kills the process by SIGXFSZ.
fn rlimit_fsize() -> CheckResult {
    let path = p("fsize");
    let child = |ignore: bool| -> c_int {
        let lim = libc::rlimit { rlim_cur: 5000, rlim_max: libc::RLIM_INFINITY };
        if unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &lim) } != 0 {
            return 10;
        }
        if ignore {
            unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
        }
        let fd = match open(&path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644) {
            Ok(fd) => fd,
            Err(_) => return 11,
        };
        let buf = [7u8; 8000];
        if unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) } != 5000 {
            return 12;
        }
        checks::clear_errno();
        if unsafe { libc::write(fd, buf.as_ptr().cast(), 10) } != -1 || checks::errno() != libc::EFBIG {
            return 13;
        }
        checks::clear_errno();
        if unsafe { libc::ftruncate(fd, 6000) } != -1 || checks::errno() != libc::EFBIG {
            return 14;
        }
        0
    };
    for (ignore, want) in [(true, "exit 0"), (false, "signal 25")] {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = child(ignore);
            unsafe { libc::_exit(code) };
        }
        ensure!(pid > 0, "fork failed");
        let mut st = 0;
        unsafe { libc::waitpid(pid, &mut st, 0) };
        let got = if libc::WIFEXITED(st) { format!("exit {}", libc::WEXITSTATUS(st)) } else { format!("signal {}", libc::WTERMSIG(st)) };
        ensure_eq!(got.as_str(), want, "child with SIGXFSZ {}", if ignore { "ignored" } else { "at its default" });
    }
    ensure_eq!(std::fs::metadata(&path).map_err(|e| e.to_string())?.len(), 5000, "file size");
    Ok(())
}
