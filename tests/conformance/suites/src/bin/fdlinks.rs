//! `fdlinks` suite: the `/proc/self/fd` magic links and `/proc/self/fdinfo`.
//!
//! Covers: `readlink("/proc/self/fd/N")` for every kind of file: a regular file (its
//! absolute path, "PATH (deleted)" once unlinked), a directory, `/dev/null`, a pipe
//! (`pipe:[INO]` with the inode number `fstat` reports, the same for both ends), a
//! socket (`socket:[INO]`), the pty master (`/dev/ptmx`) and slave (`/dev/pts/N`), and
//! the anonymous inodes (`anon_inode:[eventpoll]`, `[eventfd]`, `[timerfd]`,
//! `[signalfd]`, `[pidfd]`); `/proc/self/cwd`; listing `/proc/self/fd` gives exactly
//! the open descriptors; `stat` through a link reaches the file (a FIFO for a pipe,
//! the same inode), `lstat` sees a link; opening a link reopens the file itself, even
//! a pipe (`/dev/stdin` on a pipe reads it) or an unlinked file; `fdinfo` shows the
//! offset and the flags (with O_CLOEXEC for a close-on-exec descriptor).

use checks::{ensure, ensure_eq, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::ffi::CString;

fn main() {
    let mut s = Suite::new("fdlinks");
    s.check("regular_file_link", regular_file_link);
    s.check("deleted_file_link", deleted_file_link);
    s.check("directory_and_device_links", directory_and_device_links);
    s.check("pipe_link", pipe_link);
    s.check("socket_link", socket_link);
    s.check("pty_links", pty_links);
    s.check("anon_inode_links", anon_inode_links);
    s.check("cwd_link", cwd_link);
    s.check("fd_dir_lists_open_fds", fd_dir_lists_open_fds);
    s.check("stat_through_link", stat_through_link);
    s.check("reopen_pipe_through_link", reopen_pipe_through_link);
    s.check("dev_stdin_on_pipe", dev_stdin_on_pipe);
    s.check("reopen_deleted_file", reopen_deleted_file);
    s.check("fdinfo_pos_flags", fdinfo_pos_flags);
    s.finish();
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

fn link_of(fd: c_int) -> Result<String, String> {
    let path = c(&format!("/proc/self/fd/{fd}"));
    let mut buf = [0u8; 512];
    let n = sys_ok(&format!("readlink(/proc/self/fd/{fd})"), || unsafe {
        syscall!(
            libc::SYS_readlink,
            path.as_ptr(),
            buf.as_mut_ptr(),
            buf.len()
        )
    })? as usize;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn fstat(fd: c_int) -> Result<libc::stat, String> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    sys_ok("fstat", || unsafe {
        syscall!(libc::SYS_fstat, fd, &raw mut st)
    })?;
    Ok(st)
}

fn open(path: &str, flags: c_int) -> Result<c_int, String> {
    let cp = c(path);
    sys_ok(&format!("open({path})"), || unsafe {
        syscall!(libc::SYS_open, cp.as_ptr(), flags, 0o644)
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

fn scratch(name: &str) -> String {
    format!("/tmp/axle-fdlinks-{}-{name}", std::process::id())
}

fn regular_file_link() -> CheckResult {
    let path = scratch("reg");
    let fd = open(&path, libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC)?;
    let l = link_of(fd);
    close(fd);
    let _ = std::fs::remove_file(&path);
    ensure_eq!(l?, path, "link of a regular file");
    Ok(())
}

fn deleted_file_link() -> CheckResult {
    let path = scratch("del");
    let fd = open(&path, libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC)?;
    let _ = std::fs::remove_file(&path);
    let l = link_of(fd);
    close(fd);
    ensure_eq!(l?, format!("{path} (deleted)"), "link of an unlinked file");
    Ok(())
}

fn directory_and_device_links() -> CheckResult {
    let fd = open("/proc", libc::O_RDONLY | libc::O_DIRECTORY)?;
    let l = link_of(fd);
    close(fd);
    ensure_eq!(l?, "/proc", "link of a directory");
    let fd = open("/dev/null", libc::O_RDWR)?;
    let l = link_of(fd);
    close(fd);
    ensure_eq!(l?, "/dev/null", "link of /dev/null");
    let fd = open("/", libc::O_RDONLY)?;
    let l = link_of(fd);
    close(fd);
    ensure_eq!(l?, "/", "link of /");
    Ok(())
}

fn pipe_link() -> CheckResult {
    let [r, w] = pipe()?;
    let res = (|| -> CheckResult {
        let ino = fstat(r)?.st_ino;
        ensure_eq!(fstat(w)?.st_ino, ino, "both ends have one inode");
        ensure_eq!(link_of(r)?, format!("pipe:[{ino}]"), "read end");
        ensure_eq!(link_of(w)?, format!("pipe:[{ino}]"), "write end");
        let [r2, w2] = pipe()?;
        let other = fstat(r2)?.st_ino;
        close(r2);
        close(w2);
        ensure!(other != ino, "two pipes share inode number {ino}");
        Ok(())
    })();
    close(r);
    close(w);
    res
}

fn socket_link() -> CheckResult {
    let mut sv = [0 as c_int; 2];
    sys_ok("socketpair", || unsafe {
        syscall!(
            libc::SYS_socketpair,
            libc::AF_UNIX,
            libc::SOCK_STREAM,
            0,
            sv.as_mut_ptr()
        )
    })?;
    let res = (|| -> CheckResult {
        let st = fstat(sv[0])?;
        ensure_eq!(
            st.st_mode & libc::S_IFMT,
            libc::S_IFSOCK,
            "socket type in fstat"
        );
        ensure_eq!(
            link_of(sv[0])?,
            format!("socket:[{}]", st.st_ino),
            "socket link"
        );
        ensure!(
            fstat(sv[1])?.st_ino != st.st_ino,
            "the two sockets share an inode"
        );
        Ok(())
    })();
    close(sv[0]);
    close(sv[1]);
    res
}

fn pty_links() -> CheckResult {
    let m = open("/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY)?;
    let res = (|| -> CheckResult {
        ensure_eq!(link_of(m)?, "/dev/ptmx", "master link");
        let mut n: u32 = 0;
        sys_ok("TIOCGPTN", || unsafe {
            syscall!(libc::SYS_ioctl, m, libc::TIOCGPTN, &raw mut n)
        })?;
        let zero: c_int = 0;
        sys_ok("TIOCSPTLCK", || unsafe {
            syscall!(libc::SYS_ioctl, m, libc::TIOCSPTLCK, &raw const zero)
        })?;
        let s = open(&format!("/dev/pts/{n}"), libc::O_RDWR | libc::O_NOCTTY)?;
        let l = link_of(s);
        close(s);
        ensure_eq!(l?, format!("/dev/pts/{n}"), "slave link");
        Ok(())
    })();
    close(m);
    res
}

fn anon_inode_links() -> CheckResult {
    let mut opened = Vec::new();
    let res = (|| -> CheckResult {
        let ep = sys_ok("epoll_create1", || unsafe {
            syscall!(libc::SYS_epoll_create1, 0)
        })? as c_int;
        opened.push(ep);
        ensure_eq!(link_of(ep)?, "anon_inode:[eventpoll]", "epoll");
        let ev = sys_ok("eventfd2", || unsafe { syscall!(libc::SYS_eventfd2, 0, 0) })? as c_int;
        opened.push(ev);
        ensure_eq!(link_of(ev)?, "anon_inode:[eventfd]", "eventfd");
        let tf = sys_ok("timerfd_create", || unsafe {
            syscall!(libc::SYS_timerfd_create, libc::CLOCK_MONOTONIC, 0)
        })? as c_int;
        opened.push(tf);
        ensure_eq!(link_of(tf)?, "anon_inode:[timerfd]", "timerfd");
        let mask: u64 = 1 << (libc::SIGUSR1 - 1);
        let sf = sys_ok("signalfd4", || unsafe {
            syscall!(libc::SYS_signalfd4, -1, &raw const mask, 8, 0)
        })? as c_int;
        opened.push(sf);
        ensure_eq!(link_of(sf)?, "anon_inode:[signalfd]", "signalfd");
        let pf = sys_ok("pidfd_open", || unsafe {
            syscall!(libc::SYS_pidfd_open, libc::getpid(), 0)
        })? as c_int;
        opened.push(pf);
        ensure_eq!(link_of(pf)?, "anon_inode:[pidfd]", "pidfd");
        Ok(())
    })();
    for fd in opened {
        close(fd);
    }
    res
}

fn cwd_link() -> CheckResult {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let l = std::fs::read_link("/proc/self/cwd")
        .map_err(|e| format!("readlink(/proc/self/cwd): {e}"))?;
    ensure_eq!(l, cwd, "/proc/self/cwd");
    Ok(())
}

fn fd_dir_lists_open_fds() -> CheckResult {
    let extra = open("/dev/null", libc::O_RDONLY)?;
    let high = 77;
    unsafe { syscall!(libc::SYS_dup2, extra, high) };
    // Open the directory first so its own descriptor is in the listing, as `ls` sees it.
    let dfd = open("/proc/self/fd", libc::O_RDONLY | libc::O_DIRECTORY)?;
    let mut listed = Vec::new();
    let mut buf = vec![0u8; 8192];
    let res = (|| -> CheckResult {
        loop {
            let n = sys_ok("getdents64", || unsafe {
                syscall!(libc::SYS_getdents64, dfd, buf.as_mut_ptr(), buf.len())
            })? as usize;
            if n == 0 {
                break;
            }
            let mut off = 0;
            while off < n {
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                let name = &buf[off + 19..off + reclen];
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                let name = String::from_utf8_lossy(&name[..end]).into_owned();
                if name != "." && name != ".." {
                    ensure_eq!(buf[off + 18], libc::DT_LNK, "d_type of fd {name}");
                    listed.push(
                        name.parse::<c_int>()
                            .map_err(|_| format!("bad entry {name:?}"))?,
                    );
                }
                off += reclen;
            }
        }
        let open_fds: Vec<c_int> = (0..1024)
            .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
            .collect();
        listed.sort();
        ensure_eq!(listed, open_fds, "entries of /proc/self/fd");
        ensure!(
            listed.contains(&high) && listed.contains(&dfd),
            "{high} or {dfd} missing"
        );
        Ok(())
    })();
    close(dfd);
    close(extra);
    close(high);
    res
}

fn stat_through_link() -> CheckResult {
    let [r, w] = pipe()?;
    let res = (|| -> CheckResult {
        let path = c(&format!("/proc/self/fd/{r}"));
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        sys_ok("stat(/proc/self/fd/pipe)", || unsafe {
            syscall!(libc::SYS_stat, path.as_ptr(), &raw mut st)
        })?;
        ensure_eq!(
            st.st_mode & libc::S_IFMT,
            libc::S_IFIFO,
            "stat through the link of a pipe"
        );
        ensure_eq!(st.st_ino, fstat(r)?.st_ino, "inode through the link");
        sys_ok("lstat(/proc/self/fd/pipe)", || unsafe {
            syscall!(libc::SYS_lstat, path.as_ptr(), &raw mut st)
        })?;
        ensure_eq!(
            st.st_mode & libc::S_IFMT,
            libc::S_IFLNK,
            "lstat of the link"
        );
        let fpath = scratch("st");
        let fd = open(&fpath, libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC)?;
        let lp = c(&format!("/proc/self/fd/{fd}"));
        let r2 = sys_ok("stat(/proc/self/fd/file)", || unsafe {
            syscall!(libc::SYS_stat, lp.as_ptr(), &raw mut st)
        });
        let want = fstat(fd);
        close(fd);
        let _ = std::fs::remove_file(&fpath);
        r2?;
        ensure_eq!(st.st_ino, want?.st_ino, "stat through the link of a file");
        Ok(())
    })();
    close(r);
    close(w);
    res
}

fn reopen_pipe_through_link() -> CheckResult {
    let [r, w] = pipe()?;
    let res = (|| -> CheckResult {
        let r2 = open(&format!("/proc/self/fd/{r}"), libc::O_RDONLY)?;
        let res = (|| -> CheckResult {
            ensure_eq!(fstat(r2)?.st_ino, fstat(r)?.st_ino, "reopened pipe inode");
            let n = unsafe { libc::write(w, b"via link".as_ptr().cast(), 8) };
            ensure_eq!(n, 8, "write");
            let mut b = [0u8; 16];
            let n = sys_ok("read(reopened)", || unsafe {
                syscall!(libc::SYS_read, r2, b.as_mut_ptr(), 16)
            })?;
            ensure_eq!(
                &b[..n as usize],
                b"via link",
                "data through the reopened pipe"
            );
            // A new open file description: its flags are its own.
            let fl = unsafe { libc::fcntl(r2, libc::F_GETFL) };
            unsafe { libc::fcntl(r2, libc::F_SETFL, fl | libc::O_NONBLOCK) };
            ensure_eq!(
                unsafe { libc::fcntl(r, libc::F_GETFL) } & libc::O_NONBLOCK,
                0,
                "flags shared with the original"
            );
            Ok(())
        })();
        close(r2);
        res
    })();
    close(r);
    close(w);
    res
}

fn dev_stdin_on_pipe() -> CheckResult {
    let [r, w] = pipe()?;
    let n = unsafe { libc::write(w, b"stdin!".as_ptr().cast(), 6) };
    close(w);
    ensure_eq!(n, 6, "write");
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::dup2(r, 0);
            let path = c("/dev/stdin");
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
            if fd < 0 {
                libc::_exit(2);
            }
            let mut b = [0u8; 16];
            let n = libc::read(fd, b.as_mut_ptr().cast(), 16);
            libc::_exit(if n == 6 && &b[..6] == b"stdin!" { 0 } else { 3 });
        }
    }
    close(r);
    ensure!(pid > 0, "fork");
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    ensure!(libc::WIFEXITED(status), "child status {status:#x}");
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        2 => Err("open(/dev/stdin) failed with stdin on a pipe".into()),
        _ => Err("reading /dev/stdin did not give the pipe's data".into()),
    }
}

fn reopen_deleted_file() -> CheckResult {
    let path = scratch("reopen");
    let fd = open(&path, libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC)?;
    let res = (|| -> CheckResult {
        let n = unsafe { libc::write(fd, b"ghost".as_ptr().cast(), 5) };
        ensure_eq!(n, 5, "write");
        std::fs::remove_file(&path).map_err(|e| e.to_string())?;
        let fd2 = open(&format!("/proc/self/fd/{fd}"), libc::O_RDONLY)?;
        let mut b = [0u8; 8];
        let n = unsafe { libc::read(fd2, b.as_mut_ptr().cast(), 8) };
        let same = fstat(fd2).map(|s| s.st_ino);
        close(fd2);
        ensure_eq!(
            &b[..n.max(0) as usize],
            b"ghost",
            "data of the reopened unlinked file"
        );
        ensure_eq!(same?, fstat(fd)?.st_ino, "inode of the reopened file");
        Ok(())
    })();
    close(fd);
    let _ = std::fs::remove_file(&path);
    res
}

fn fdinfo_field(fd: c_int, key: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .map_err(|e| format!("fdinfo/{fd}: {e}"))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_string())
        })
        .ok_or_else(|| format!("fdinfo/{fd} has no {key}: {text:?}"))
}

fn fdinfo_pos_flags() -> CheckResult {
    let path = scratch("info");
    std::fs::write(&path, b"0123456789").map_err(|e| e.to_string())?;
    let fd = open(&path, libc::O_RDWR | libc::O_APPEND | libc::O_CLOEXEC)?;
    let res = (|| -> CheckResult {
        unsafe { libc::lseek(fd, 7, libc::SEEK_SET) };
        ensure_eq!(fdinfo_field(fd, "pos")?, "7", "pos");
        let flags =
            c_long::from_str_radix(&fdinfo_field(fd, "flags")?, 8).map_err(|e| e.to_string())?;
        ensure_eq!(
            flags & 3,
            libc::O_RDWR as c_long,
            "access mode in fdinfo flags"
        );
        ensure!(
            flags & libc::O_APPEND as c_long != 0,
            "fdinfo flags {flags:o} lack O_APPEND"
        );
        ensure!(
            flags & libc::O_CLOEXEC as c_long != 0,
            "fdinfo flags {flags:o} lack O_CLOEXEC"
        );
        let ino: u64 = fdinfo_field(fd, "ino")?.parse().map_err(|_| "bad ino")?;
        ensure_eq!(ino, fstat(fd)?.st_ino, "ino");
        Ok(())
    })();
    close(fd);
    let _ = std::fs::remove_file(&path);
    res
}
