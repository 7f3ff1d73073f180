//! `locks` suite: advisory file locks that really exclude, across processes.
//!
//! Covers: `flock` (LOCK_EX excludes another open file description, also in another
//! process; LOCK_SH is shared and excludes LOCK_EX; LOCK_NB gives EWOULDBLOCK; a dup
//! or a forked child shares the description's lock; conversion; LOCK_UN; the lock goes
//! when the last descriptor of the description closes or its process exits; a blocked
//! LOCK_EX waits for the release; EINVAL/EBADF); POSIX record locks with `fcntl`
//! (F_SETLK write/read locks on byte ranges: conflicts with another process give EAGAIN,
//! disjoint ranges and read/read do not conflict, a process never conflicts with itself,
//! F_GETLK reports the conflicting lock (type, range, pid) or F_UNLCK, unlocking the
//! middle of a range splits it, l_len 0 reaches past EOF, a negative l_len locks before
//! l_start, SEEK_CUR/SEEK_END bases; closing any descriptor of the file releases the
//! process's locks; locks are not inherited by fork; process exit releases them;
//! F_SETLKW waits; EBADF for the wrong access mode, EINVAL for bad types and ranges);
//! open file description locks (F_OFD_SETLK conflicts between two opens in one process,
//! F_OFD_GETLK reports l_pid -1, EINVAL for a non-zero l_pid, the lock survives closing
//! another descriptor of the file and goes with its description); the Dora pattern: a
//! /dev/shm segment's owner holds a write lock, a cleaner cannot take it until the owner
//! exits.
//!
//! Conflicts are probed from forked children, which report through their exit status.

use checks::{ensure, ensure_eq, expect_sys_errno, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long, c_short};
use std::ffi::CString;
use std::time::{Duration, Instant};

const F_OFD_GETLK: c_int = 36;
const F_OFD_SETLK: c_int = 37;
const F_OFD_SETLKW: c_int = 38;
const RD: c_short = libc::F_RDLCK as c_short;
const WR: c_short = libc::F_WRLCK as c_short;
const UN: c_short = libc::F_UNLCK as c_short;

fn main() {
    let mut s = Suite::new("locks");
    s.check("flock_excludes_processes", flock_excludes_processes);
    s.check("flock_shared", flock_shared);
    s.check("flock_per_description", flock_per_description);
    s.check("flock_fork_shares", flock_fork_shares);
    s.check("flock_released_on_close", flock_released_on_close);
    s.check("flock_released_on_exit", flock_released_on_exit);
    s.check("flock_blocking_waits", flock_blocking_waits);
    s.check("flock_convert", flock_convert);
    s.check("flock_errors", flock_errors);
    s.check(
        "posix_conflicts_across_processes",
        posix_conflicts_across_processes,
    );
    s.check("posix_getlk", posix_getlk);
    s.check(
        "posix_same_process_never_conflicts",
        posix_same_process_never_conflicts,
    );
    s.check("posix_split_and_ranges", posix_split_and_ranges);
    s.check("posix_close_any_fd_releases", posix_close_any_fd_releases);
    s.check("posix_not_inherited", posix_not_inherited);
    s.check("posix_exit_releases", posix_exit_releases);
    s.check("posix_setlkw_waits", posix_setlkw_waits);
    s.check("posix_errors", posix_errors);
    s.check("ofd_conflicts_in_process", ofd_conflicts_in_process);
    s.check("ofd_getlk_and_errors", ofd_getlk_and_errors);
    s.check("ofd_survives_other_close", ofd_survives_other_close);
    s.check("shm_segment_cleaner", shm_segment_cleaner);
    s.finish();
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn path(name: &str) -> String {
    format!("/tmp/axle-locks-{}-{name}", std::process::id())
}

fn open_rw(p: &str) -> Result<c_int, String> {
    let cp = c(p);
    sys_ok(&format!("open({p})"), || unsafe {
        syscall!(
            libc::SYS_open,
            cp.as_ptr(),
            libc::O_RDWR | libc::O_CREAT,
            0o644
        )
    })
    .map(|v| v as c_int)
}

fn open_mode(p: &str, mode: c_int) -> Result<c_int, String> {
    let cp = c(p);
    sys_ok(&format!("open({p})"), || unsafe {
        syscall!(libc::SYS_open, cp.as_ptr(), mode | libc::O_CREAT, 0o644)
    })
    .map(|v| v as c_int)
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

/// A scratch file with 100 bytes; removed when dropped.
struct Scratch(String);

impl Scratch {
    fn new(name: &str) -> Result<Scratch, String> {
        let p = path(name);
        std::fs::write(&p, [b'.'; 100]).map_err(|e| e.to_string())?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn flock(fd: c_int, op: c_int) -> c_long {
    unsafe { syscall!(libc::SYS_flock, fd, op) }
}

fn lk(kind: c_short, start: i64, len: i64) -> libc::flock {
    let mut f: libc::flock = unsafe { std::mem::zeroed() };
    f.l_type = kind;
    f.l_whence = libc::SEEK_SET as c_short;
    f.l_start = start;
    f.l_len = len;
    f
}

fn fcntl_lock(fd: c_int, cmd: c_int, f: &mut libc::flock) -> c_long {
    unsafe { syscall!(libc::SYS_fcntl, fd, cmd, f as *mut libc::flock) }
}

/// Runs `f` in a forked child; returns its exit code (or 100 + signal).
fn in_child(f: impl FnOnce() -> c_int) -> Result<c_int, String> {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = f();
        unsafe { libc::_exit(code) };
    }
    ensure!(pid > 0, "fork");
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    if libc::WIFEXITED(st) {
        Ok(libc::WEXITSTATUS(st))
    } else {
        Ok(100 + libc::WTERMSIG(st))
    }
}

/// In a child: opens `p` and tries `op`; 0 = it worked, 1 = EWOULDBLOCK, 2 = other.
fn child_flock(p: &str, op: c_int) -> Result<c_int, String> {
    let p = p.to_string();
    in_child(move || {
        let Ok(fd) = open_rw(&p) else { return 3 };
        checks::clear_errno();
        match flock(fd, op) {
            0 => 0,
            _ if checks::errno() == libc::EWOULDBLOCK => 1,
            _ => 2,
        }
    })
}

/// In a child: opens `p` and tries F_SETLK with `l`; 0 = locked, 1 = EAGAIN, 2 = other.
fn child_setlk(p: &str, l: libc::flock) -> Result<c_int, String> {
    let p = p.to_string();
    in_child(move || {
        let Ok(fd) = open_rw(&p) else { return 3 };
        let mut l = l;
        checks::clear_errno();
        match fcntl_lock(fd, libc::F_SETLK, &mut l) {
            0 => 0,
            _ if checks::errno() == libc::EAGAIN => 1,
            _ => 2,
        }
    })
}

fn flock_excludes_processes() -> CheckResult {
    let f = Scratch::new("fl-ex")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        sys_ok("flock(LOCK_EX)", || flock(fd, libc::LOCK_EX))?;
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_EX | libc::LOCK_NB)?,
            1,
            "another process's LOCK_EX|LOCK_NB"
        );
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_SH | libc::LOCK_NB)?,
            1,
            "another process's LOCK_SH|LOCK_NB"
        );
        sys_ok("flock(LOCK_UN)", || flock(fd, libc::LOCK_UN))?;
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_EX | libc::LOCK_NB)?,
            0,
            "after LOCK_UN"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn flock_shared() -> CheckResult {
    let f = Scratch::new("fl-sh")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        sys_ok("flock(LOCK_SH)", || flock(fd, libc::LOCK_SH))?;
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_SH | libc::LOCK_NB)?,
            0,
            "a second shared lock"
        );
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_EX | libc::LOCK_NB)?,
            1,
            "an exclusive lock against a shared one"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn flock_per_description() -> CheckResult {
    let f = Scratch::new("fl-desc")?;
    let a = open_rw(&f.0)?;
    let b = open_rw(&f.0)?;
    let d = unsafe { libc::dup(a) };
    let r = (|| -> CheckResult {
        sys_ok("flock(a, LOCK_EX)", || flock(a, libc::LOCK_EX))?;
        sys_ok("flock(dup, LOCK_EX)", || {
            flock(d, libc::LOCK_EX | libc::LOCK_NB)
        })?;
        expect_sys_errno(
            "flock(second open, LOCK_EX|LOCK_NB)",
            || flock(b, libc::LOCK_EX | libc::LOCK_NB),
            libc::EWOULDBLOCK,
        )?;
        // Unlocking through the dup unlocks the description.
        sys_ok("flock(dup, LOCK_UN)", || flock(d, libc::LOCK_UN))?;
        sys_ok("flock(second open, LOCK_EX|LOCK_NB)", || {
            flock(b, libc::LOCK_EX | libc::LOCK_NB)
        })?;
        Ok(())
    })();
    for fd in [a, b, d] {
        close(fd);
    }
    r
}

fn flock_fork_shares() -> CheckResult {
    let f = Scratch::new("fl-fork")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        sys_ok("flock(LOCK_EX)", || flock(fd, libc::LOCK_EX))?;
        // The child inherits the description: the lock is its own too.
        let code = in_child(|| {
            if flock(fd, libc::LOCK_EX | libc::LOCK_NB) == 0 {
                0
            } else {
                1
            }
        })?;
        ensure_eq!(code, 0, "the child re-locking the inherited description");
        // The child's exit closed only its copy: still locked.
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_EX | libc::LOCK_NB)?,
            1,
            "after the child exited"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn flock_released_on_close() -> CheckResult {
    let f = Scratch::new("fl-close")?;
    let fd = open_rw(&f.0)?;
    let d = unsafe { libc::dup(fd) };
    sys_ok("flock(LOCK_EX)", || flock(fd, libc::LOCK_EX))?;
    close(fd);
    let still = child_flock(&f.0, libc::LOCK_EX | libc::LOCK_NB)?;
    close(d);
    let after = child_flock(&f.0, libc::LOCK_EX | libc::LOCK_NB)?;
    ensure_eq!(still, 1, "locked while a dup is open");
    ensure_eq!(after, 0, "released when the last descriptor closed");
    Ok(())
}

fn flock_released_on_exit() -> CheckResult {
    let f = Scratch::new("fl-exit")?;
    let p = f.0.clone();
    let (rfd, wfd) = {
        let mut fds = [0 as c_int; 2];
        unsafe { libc::pipe(fds.as_mut_ptr()) };
        (fds[0], fds[1])
    };
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let fd = open_rw(&p).unwrap_or(-1);
        let ok = flock(fd, libc::LOCK_EX) == 0;
        unsafe {
            libc::write(wfd, if ok { b"y" } else { b"n" }.as_ptr().cast(), 1);
            libc::usleep(100_000);
            libc::_exit(0);
        }
    }
    close(wfd);
    let mut b = [0u8; 1];
    unsafe { libc::read(rfd, b.as_mut_ptr().cast(), 1) };
    close(rfd);
    ensure_eq!(b[0], b'y', "child took the lock");
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        expect_sys_errno(
            "flock while the child holds it",
            || flock(fd, libc::LOCK_EX | libc::LOCK_NB),
            libc::EWOULDBLOCK,
        )?;
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        sys_ok("flock after the child exited", || {
            flock(fd, libc::LOCK_EX | libc::LOCK_NB)
        })?;
        Ok(())
    })();
    close(fd);
    r
}

fn flock_blocking_waits() -> CheckResult {
    let f = Scratch::new("fl-wait")?;
    let fd = open_rw(&f.0)?;
    sys_ok("flock(LOCK_EX)", || flock(fd, libc::LOCK_EX))?;
    let p = f.0.clone();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match open_rw(&p) {
            Ok(fd2) => {
                let t = Instant::now();
                if flock(fd2, libc::LOCK_EX) != 0 {
                    2
                } else if t.elapsed() < Duration::from_millis(100) {
                    3
                } else {
                    0
                }
            }
            Err(_) => 4,
        };
        unsafe { libc::_exit(code) };
    }
    std::thread::sleep(Duration::from_millis(200));
    flock(fd, libc::LOCK_UN);
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    close(fd);
    ensure!(libc::WIFEXITED(st), "child status {st:#x}");
    match libc::WEXITSTATUS(st) {
        0 => Ok(()),
        3 => Err("the blocked LOCK_EX returned before the release".into()),
        c => Err(format!("child failed ({c})")),
    }
}

fn flock_convert() -> CheckResult {
    let f = Scratch::new("fl-conv")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        sys_ok("LOCK_SH", || flock(fd, libc::LOCK_SH))?;
        sys_ok("LOCK_EX (upgrade)", || {
            flock(fd, libc::LOCK_EX | libc::LOCK_NB)
        })?;
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_SH | libc::LOCK_NB)?,
            1,
            "after the upgrade"
        );
        sys_ok("LOCK_SH (downgrade)", || flock(fd, libc::LOCK_SH))?;
        ensure_eq!(
            child_flock(&f.0, libc::LOCK_SH | libc::LOCK_NB)?,
            0,
            "after the downgrade"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn flock_errors() -> CheckResult {
    let f = Scratch::new("fl-err")?;
    let fd = open_rw(&f.0)?;
    let r = expect_sys_errno("flock(op 0)", || flock(fd, 0), libc::EINVAL).and_then(|_| {
        expect_sys_errno(
            "flock(LOCK_SH|LOCK_EX)",
            || flock(fd, libc::LOCK_SH | libc::LOCK_EX),
            libc::EINVAL,
        )
    });
    close(fd);
    r?;
    expect_sys_errno("flock(bad fd)", || flock(9999, libc::LOCK_EX), libc::EBADF)?;
    // flock works on a read-only descriptor too.
    let ro = open_mode(&f.0, libc::O_RDONLY)?;
    let r = sys_ok("flock(O_RDONLY, LOCK_EX)", || flock(ro, libc::LOCK_EX));
    close(ro);
    r.map(|_| ())
}

fn posix_conflicts_across_processes() -> CheckResult {
    let f = Scratch::new("px")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 50);
        sys_ok("F_SETLK write [0,50)", || {
            fcntl_lock(fd, libc::F_SETLK, &mut l)
        })?;
        ensure_eq!(
            child_setlk(&f.0, lk(WR, 40, 20))?,
            1,
            "overlapping write lock"
        );
        ensure_eq!(
            child_setlk(&f.0, lk(RD, 49, 1))?,
            1,
            "overlapping read lock"
        );
        ensure_eq!(child_setlk(&f.0, lk(WR, 50, 50))?, 0, "adjacent write lock");
        let mut r = lk(RD, 60, 10);
        sys_ok("F_SETLK read [60,70)", || {
            fcntl_lock(fd, libc::F_SETLK, &mut r)
        })?;
        ensure_eq!(
            child_setlk(&f.0, lk(RD, 65, 10))?,
            0,
            "read lock over a read lock"
        );
        ensure_eq!(
            child_setlk(&f.0, lk(WR, 65, 1))?,
            1,
            "write lock over a read lock"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn posix_getlk() -> CheckResult {
    let f = Scratch::new("px-get")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 10, 20);
        sys_ok("F_SETLK", || fcntl_lock(fd, libc::F_SETLK, &mut l))?;
        let me = std::process::id() as c_int;
        let p = f.0.clone();
        let code = in_child(move || {
            let Ok(fd2) = open_rw(&p) else { return 9 };
            let mut q = lk(RD, 0, 15);
            if fcntl_lock(fd2, libc::F_GETLK, &mut q) != 0 {
                return 2;
            }
            if q.l_type != WR
                || q.l_start != 10
                || q.l_len != 20
                || q.l_pid != me
                || q.l_whence != libc::SEEK_SET as c_short
            {
                return 3;
            }
            let mut free = lk(WR, 30, 5);
            if fcntl_lock(fd2, libc::F_GETLK, &mut free) != 0 || free.l_type != UN {
                return 4;
            }
            0
        })?;
        ensure_eq!(code, 0, "F_GETLK from another process (2: failed, 3: wrong lock described, 4: free range not F_UNLCK)");
        let mut own = lk(WR, 0, 100);
        sys_ok("F_GETLK of the own lock", || {
            fcntl_lock(fd, libc::F_GETLK, &mut own)
        })?;
        ensure_eq!(own.l_type, UN, "own locks never conflict");
        let mut bad = lk(UN, 0, 1);
        expect_sys_errno(
            "F_GETLK(F_UNLCK)",
            || fcntl_lock(fd, libc::F_GETLK, &mut bad),
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(fd);
    r
}

fn posix_same_process_never_conflicts() -> CheckResult {
    let f = Scratch::new("px-self")?;
    let a = open_rw(&f.0)?;
    let b = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 10);
        sys_ok("F_SETLK via a", || fcntl_lock(a, libc::F_SETLK, &mut l))?;
        let mut m = lk(WR, 5, 10);
        sys_ok("F_SETLK via another open of the file", || {
            fcntl_lock(b, libc::F_SETLK, &mut m)
        })?;
        let mut rd = lk(RD, 0, 15);
        sys_ok("downgrade to read", || {
            fcntl_lock(a, libc::F_SETLK, &mut rd)
        })?;
        ensure_eq!(
            child_setlk(&f.0, lk(RD, 0, 15))?,
            0,
            "read lock after the downgrade"
        );
        ensure_eq!(
            child_setlk(&f.0, lk(WR, 14, 1))?,
            1,
            "write lock after the downgrade"
        );
        Ok(())
    })();
    close(a);
    close(b);
    r
}

fn posix_split_and_ranges() -> CheckResult {
    let f = Scratch::new("px-split")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 100);
        sys_ok("F_SETLK [0,100)", || fcntl_lock(fd, libc::F_SETLK, &mut l))?;
        let mut u = lk(UN, 40, 20);
        sys_ok("unlock [40,60)", || fcntl_lock(fd, libc::F_SETLK, &mut u))?;
        ensure_eq!(child_setlk(&f.0, lk(WR, 45, 10))?, 0, "inside the hole");
        ensure_eq!(child_setlk(&f.0, lk(WR, 39, 1))?, 1, "left part");
        ensure_eq!(child_setlk(&f.0, lk(WR, 60, 1))?, 1, "right part");
        let mut all = lk(UN, 0, 0);
        sys_ok("unlock everything", || {
            fcntl_lock(fd, libc::F_SETLK, &mut all)
        })?;
        // l_len 0: to the end of the file and beyond.
        let mut tail = lk(WR, 200, 0);
        sys_ok("F_SETLK [200, inf)", || {
            fcntl_lock(fd, libc::F_SETLK, &mut tail)
        })?;
        ensure_eq!(child_setlk(&f.0, lk(WR, 1 << 40, 1))?, 1, "far past EOF");
        ensure_eq!(child_setlk(&f.0, lk(WR, 199, 1))?, 0, "just before");
        // Negative l_len: [start+len, start).
        let mut neg = lk(WR, 20, -10);
        sys_ok("F_SETLK l_len -10", || {
            fcntl_lock(fd, libc::F_SETLK, &mut neg)
        })?;
        ensure_eq!(
            child_setlk(&f.0, lk(WR, 10, 1))?,
            1,
            "start of a negative range"
        );
        ensure_eq!(
            child_setlk(&f.0, lk(WR, 20, 1))?,
            0,
            "l_start itself is outside"
        );
        // SEEK_END: relative to the size (100).
        let mut end = lk(WR, -5, 5);
        end.l_whence = libc::SEEK_END as c_short;
        sys_ok("F_SETLK SEEK_END", || {
            fcntl_lock(fd, libc::F_SETLK, &mut end)
        })?;
        ensure_eq!(child_setlk(&f.0, lk(WR, 97, 1))?, 1, "SEEK_END range");
        // SEEK_CUR: relative to the offset.
        unsafe { libc::lseek(fd, 150, libc::SEEK_SET) };
        let mut cur = lk(WR, 2, 1);
        cur.l_whence = libc::SEEK_CUR as c_short;
        sys_ok("F_SETLK SEEK_CUR", || {
            fcntl_lock(fd, libc::F_SETLK, &mut cur)
        })?;
        ensure_eq!(child_setlk(&f.0, lk(WR, 152, 1))?, 1, "SEEK_CUR range");
        Ok(())
    })();
    close(fd);
    r
}

fn posix_close_any_fd_releases() -> CheckResult {
    let f = Scratch::new("px-close")?;
    let a = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 10);
        sys_ok("F_SETLK", || fcntl_lock(a, libc::F_SETLK, &mut l))?;
        ensure_eq!(child_setlk(&f.0, lk(WR, 0, 1))?, 1, "locked");
        // Opening and closing the file through another description drops the locks.
        let b = open_rw(&f.0)?;
        close(b);
        ensure_eq!(
            child_setlk(&f.0, lk(WR, 0, 1))?,
            0,
            "after closing another descriptor of the file"
        );
        Ok(())
    })();
    close(a);
    r
}

fn posix_not_inherited() -> CheckResult {
    let f = Scratch::new("px-fork")?;
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 10);
        sys_ok("F_SETLK", || fcntl_lock(fd, libc::F_SETLK, &mut l))?;
        let code = in_child(|| {
            let mut m = lk(WR, 0, 10);
            checks::clear_errno();
            if fcntl_lock(fd, libc::F_SETLK, &mut m) == 0 {
                0
            } else if checks::errno() == libc::EAGAIN {
                1
            } else {
                2
            }
        })?;
        ensure_eq!(
            code,
            1,
            "the child's F_SETLK on the inherited descriptor (the lock is the parent's)"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn posix_exit_releases() -> CheckResult {
    let f = Scratch::new("px-exit")?;
    let p = f.0.clone();
    let mut fds = [0 as c_int; 2];
    unsafe { libc::pipe(fds.as_mut_ptr()) };
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let fd = open_rw(&p).unwrap_or(-1);
        let mut l = lk(WR, 0, 0);
        let ok = fcntl_lock(fd, libc::F_SETLK, &mut l) == 0;
        unsafe {
            libc::write(fds[1], if ok { b"y" } else { b"n" }.as_ptr().cast(), 1);
            libc::usleep(100_000);
            libc::_exit(0);
        }
    }
    close(fds[1]);
    let mut b = [0u8; 1];
    unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
    close(fds[0]);
    ensure_eq!(b[0], b'y', "child locked");
    let fd = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 1);
        expect_sys_errno(
            "F_SETLK while the child holds it",
            || fcntl_lock(fd, libc::F_SETLK, &mut l),
            libc::EAGAIN,
        )?;
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        let mut l = lk(WR, 0, 1);
        sys_ok("F_SETLK after the child exited", || {
            fcntl_lock(fd, libc::F_SETLK, &mut l)
        })?;
        Ok(())
    })();
    close(fd);
    r
}

fn posix_setlkw_waits() -> CheckResult {
    let f = Scratch::new("px-wait")?;
    let fd = open_rw(&f.0)?;
    let mut l = lk(WR, 0, 10);
    sys_ok("F_SETLK", || fcntl_lock(fd, libc::F_SETLK, &mut l))?;
    let p = f.0.clone();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match open_rw(&p) {
            Ok(fd2) => {
                let t = Instant::now();
                let mut m = lk(WR, 5, 1);
                if fcntl_lock(fd2, libc::F_SETLKW, &mut m) != 0 {
                    2
                } else if t.elapsed() < Duration::from_millis(100) {
                    3
                } else {
                    0
                }
            }
            Err(_) => 4,
        };
        unsafe { libc::_exit(code) };
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut u = lk(UN, 0, 10);
    fcntl_lock(fd, libc::F_SETLK, &mut u);
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    close(fd);
    ensure!(libc::WIFEXITED(st), "child status {st:#x}");
    match libc::WEXITSTATUS(st) {
        0 => Ok(()),
        3 => Err("F_SETLKW returned before the release".into()),
        c => Err(format!("child failed ({c})")),
    }
}

fn posix_errors() -> CheckResult {
    let f = Scratch::new("px-err")?;
    let ro = open_mode(&f.0, libc::O_RDONLY)?;
    let wo = open_mode(&f.0, libc::O_WRONLY)?;
    let r = (|| -> CheckResult {
        let mut w = lk(WR, 0, 1);
        expect_sys_errno(
            "write lock on O_RDONLY",
            || fcntl_lock(ro, libc::F_SETLK, &mut w),
            libc::EBADF,
        )?;
        let mut rd = lk(RD, 0, 1);
        expect_sys_errno(
            "read lock on O_WRONLY",
            || fcntl_lock(wo, libc::F_SETLK, &mut rd),
            libc::EBADF,
        )?;
        let mut bad = lk(7, 0, 1);
        expect_sys_errno(
            "l_type 7",
            || fcntl_lock(ro, libc::F_SETLK, &mut bad),
            libc::EINVAL,
        )?;
        let mut neg = lk(RD, -1, 1);
        expect_sys_errno(
            "l_start -1",
            || fcntl_lock(ro, libc::F_SETLK, &mut neg),
            libc::EINVAL,
        )?;
        let mut wh = lk(RD, 0, 1);
        wh.l_whence = 5;
        expect_sys_errno(
            "l_whence 5",
            || fcntl_lock(ro, libc::F_SETLK, &mut wh),
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "F_SETLK(bad pointer)",
            || unsafe { syscall!(libc::SYS_fcntl, ro, libc::F_SETLK, 8) },
            libc::EFAULT,
        )?;
        Ok(())
    })();
    close(ro);
    close(wo);
    r
}

fn ofd_conflicts_in_process() -> CheckResult {
    let f = Scratch::new("ofd")?;
    let a = open_rw(&f.0)?;
    let b = open_rw(&f.0)?;
    let d = unsafe { libc::dup(a) };
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 10);
        sys_ok("F_OFD_SETLK via a", || fcntl_lock(a, F_OFD_SETLK, &mut l))?;
        let mut m = lk(WR, 5, 1);
        expect_sys_errno(
            "F_OFD_SETLK via another open in the same process",
            || fcntl_lock(b, F_OFD_SETLK, &mut m),
            libc::EAGAIN,
        )?;
        let mut dd = lk(WR, 5, 1);
        sys_ok("F_OFD_SETLK via a dup of a", || {
            fcntl_lock(d, F_OFD_SETLK, &mut dd)
        })?;
        // An OFD lock conflicts with a POSIX lock of the same process too.
        let mut p = lk(WR, 0, 1);
        expect_sys_errno(
            "F_SETLK against an OFD lock",
            || fcntl_lock(b, libc::F_SETLK, &mut p),
            libc::EAGAIN,
        )?;
        ensure_eq!(child_setlk(&f.0, lk(RD, 9, 1))?, 1, "another process");
        Ok(())
    })();
    for fd in [a, b, d] {
        close(fd);
    }
    r
}

fn ofd_getlk_and_errors() -> CheckResult {
    let f = Scratch::new("ofd-get")?;
    let a = open_rw(&f.0)?;
    let b = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(RD, 0, 10);
        sys_ok("F_OFD_SETLK", || fcntl_lock(a, F_OFD_SETLK, &mut l))?;
        let mut q = lk(WR, 0, 1);
        sys_ok("F_OFD_GETLK", || fcntl_lock(b, F_OFD_GETLK, &mut q))?;
        ensure_eq!(
            (q.l_type, q.l_start, q.l_len, q.l_pid),
            (RD, 0, 10, -1),
            "F_OFD_GETLK result"
        );
        let mut withpid = lk(WR, 0, 1);
        withpid.l_pid = 5;
        expect_sys_errno(
            "F_OFD_SETLK with l_pid",
            || fcntl_lock(b, F_OFD_SETLK, &mut withpid),
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "F_OFD_GETLK with l_pid",
            || fcntl_lock(b, F_OFD_GETLK, &mut withpid),
            libc::EINVAL,
        )?;
        // F_OFD_SETLKW waits for the other description's lock.
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let mut u = lk(UN, 0, 10);
            fcntl_lock(a, F_OFD_SETLK, &mut u)
        });
        let t = Instant::now();
        let mut w = lk(WR, 0, 1);
        let got = fcntl_lock(b, F_OFD_SETLKW, &mut w);
        let waited = t.elapsed();
        let unlocked = checks::join(h)?;
        ensure_eq!((got, unlocked), (0, 0), "F_OFD_SETLKW / unlock");
        ensure!(
            waited >= Duration::from_millis(80),
            "F_OFD_SETLKW returned after {waited:?}"
        );
        Ok(())
    })();
    close(a);
    close(b);
    r
}

fn ofd_survives_other_close() -> CheckResult {
    let f = Scratch::new("ofd-close")?;
    let a = open_rw(&f.0)?;
    let r = (|| -> CheckResult {
        let mut l = lk(WR, 0, 10);
        sys_ok("F_OFD_SETLK", || fcntl_lock(a, F_OFD_SETLK, &mut l))?;
        let b = open_rw(&f.0)?;
        close(b);
        ensure_eq!(
            child_setlk(&f.0, lk(WR, 0, 1))?,
            1,
            "after closing another descriptor"
        );
        Ok(())
    })();
    close(a);
    r?;
    ensure_eq!(
        child_setlk(&f.0, lk(WR, 0, 1))?,
        0,
        "after closing its description"
    );
    Ok(())
}

fn shm_segment_cleaner() -> CheckResult {
    let seg = format!("/dev/shm/axle-locks-{}", std::process::id());
    let p = seg.clone();
    // up: owner -> test ("locked"); down: test -> owner (closed when the owner may exit).
    let (mut up, mut down) = ([0 as c_int; 2], [0 as c_int; 2]);
    unsafe {
        libc::pipe(up.as_mut_ptr());
        libc::pipe(down.as_mut_ptr());
    }
    // The owner: creates the segment, sizes it, holds a write lock over it.
    let owner = unsafe { libc::fork() };
    if owner == 0 {
        unsafe {
            libc::close(up[0]);
            libc::close(down[1]);
        }
        let fd = open_rw(&p).unwrap_or(-1);
        unsafe { libc::ftruncate(fd, 1 << 20) };
        let mut l = lk(WR, 0, 0);
        let ok = fcntl_lock(fd, libc::F_SETLK, &mut l) == 0;
        unsafe {
            libc::write(up[1], if ok { b"y" } else { b"n" }.as_ptr().cast(), 1);
            let mut b = [0u8; 1];
            libc::read(down[0], b.as_mut_ptr().cast(), 1); // EOF when the test closes its end
            libc::_exit(0);
        }
    }
    close(up[1]);
    close(down[0]);
    let mut b = [0u8; 1];
    unsafe { libc::read(up[0], b.as_mut_ptr().cast(), 1) };
    close(up[0]);
    let r = (|| -> CheckResult {
        ensure_eq!(b[0], b'y', "owner locked the segment");
        // A cleaner only deletes segments whose lock it can take.
        ensure_eq!(
            child_setlk(&seg, lk(WR, 0, 0))?,
            1,
            "cleaner while the owner lives"
        );
        Ok(())
    })();
    close(down[1]);
    unsafe { libc::waitpid(owner, std::ptr::null_mut(), 0) };
    let after = child_setlk(&seg, lk(WR, 0, 0));
    let _ = std::fs::remove_file(&seg);
    r?;
    ensure_eq!(after?, 0, "cleaner after the owner exited");
    Ok(())
}
