//! `devices` suite: the character devices under /dev.
//!
//! Covers: the nodes' types and numbers (null 1:3, zero 1:5, full 1:7, random 1:8,
//! urandom 1:9, tty 5:0, console 5:1, ptmx 5:2, ttyS0 4:64; ttyS1..3 4:65..67 where
//! present, opening them gives EIO without a UART behind; with `--serial N` the first N
//! ttyS nodes must exist), world-writable modes of the memory devices; `/dev/null`
//! (reads are EOF, writes vanish, lseek is 0, poll ready); `/dev/zero` (reads zeros,
//! a private mapping is zero-filled memory); `/dev/full` (ENOSPC, reads zeros);
//! `/dev/random` and `/dev/urandom` (random bytes that differ between reads, writes
//! accepted, poll ready); `/dev/tty` (ENXIO without a controlling terminal, the
//! controlling pty after TIOCSCTTY: output reaches its master); `/dev/console` and
//! `/dev/ttyS0` are terminals (TCGETS, TIOCGWINSZ); `/dev/ptmx` (a new master per
//! open, TIOCGPTN, the slave locked until TIOCSPTLCK 0 (EIO), `/dev/pts/N` 136:N listed
//! in /dev/pts, data both ways); the /dev/fd, stdin, stdout, stderr links; /dev/shm a
//! sticky world-writable directory.
//!
//! Nothing is written to the console or the serial ports.

use checks::{ensure, ensure_eq, expect_sys_errno, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::ffi::CString;

fn main() {
    let serial: usize = match std::env::args().nth(1).as_deref() {
        Some("--serial") => std::env::args()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        _ => 1,
    };
    let mut s = Suite::new("devices");
    s.check("node_numbers", node_numbers);
    s.check("serial_nodes", || serial_nodes(serial));
    s.check("dev_null", dev_null);
    s.check("dev_zero", dev_zero);
    s.check("dev_zero_mmap", dev_zero_mmap);
    s.check("dev_full", dev_full);
    s.check("dev_random_urandom", dev_random_urandom);
    s.check("dev_tty_without_ctty", dev_tty_without_ctty);
    s.check("dev_tty_is_the_ctty", dev_tty_is_the_ctty);
    s.check("console_and_ttys0_are_ttys", console_and_ttys0_are_ttys);
    s.check("ptmx_pairs", ptmx_pairs);
    s.check("ptmx_slave_locked", ptmx_slave_locked);
    s.check("fd_links", fd_links);
    s.check("dev_shm_dir", dev_shm_dir);
    s.finish();
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

fn open(path: &str, flags: c_int) -> Result<c_int, String> {
    let cp = c(path);
    sys_ok(&format!("open({path})"), || unsafe {
        syscall!(libc::SYS_open, cp.as_ptr(), flags | libc::O_NOCTTY, 0)
    })
    .map(|v| v as c_int)
}

fn stat(path: &str) -> Result<libc::stat, String> {
    let cp = c(path);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    sys_ok(&format!("stat({path})"), || unsafe {
        syscall!(libc::SYS_stat, cp.as_ptr(), &raw mut st)
    })?;
    Ok(st)
}

fn chardev(path: &str, major: u32, minor: u32) -> CheckResult {
    let st = stat(path)?;
    ensure_eq!(st.st_mode & libc::S_IFMT, libc::S_IFCHR, "{} type", path);
    ensure_eq!(
        (libc::major(st.st_rdev), libc::minor(st.st_rdev)),
        (major, minor),
        "{} device number",
        path
    );
    Ok(())
}

fn node_numbers() -> CheckResult {
    for (p, ma, mi) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
        ("/dev/console", 5, 1),
        ("/dev/ptmx", 5, 2),
    ] {
        chardev(p, ma, mi)?;
    }
    for p in [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ] {
        ensure_eq!(stat(p)?.st_mode & 0o777, 0o666, "mode of {}", p);
    }
    Ok(())
}

fn serial_nodes(required: usize) -> CheckResult {
    chardev("/dev/ttyS0", 4, 64)?;
    for i in 1..4u32 {
        let path = format!("/dev/ttyS{i}");
        let cp = c(&path);
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::stat(cp.as_ptr(), &mut st) } != 0 {
            let e = checks::errno();
            ensure_eq!(e, libc::ENOENT, "stat({}) errno", path);
            ensure!(
                (i as usize) >= required,
                "{path} is missing (--serial {required})"
            );
            continue;
        }
        chardev(&path, 4, 64 + i)?;
        // No UART behind it (QEMU's q35 has COM1 only here): Linux's 8250 driver says EIO.
        checks::clear_errno();
        let fd = unsafe {
            syscall!(
                libc::SYS_open,
                cp.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK
            )
        };
        if fd >= 0 {
            close(fd as c_int);
        } else {
            ensure_eq!(checks::errno(), libc::EIO, "open({}) errno", path);
        }
    }
    Ok(())
}

fn dev_null() -> CheckResult {
    let fd = open("/dev/null", libc::O_RDWR)?;
    let r = (|| -> CheckResult {
        let mut b = [1u8; 16];
        ensure_eq!(
            unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 16) },
            0,
            "read is EOF"
        );
        ensure_eq!(b, [1u8; 16], "buffer untouched");
        ensure_eq!(
            unsafe { syscall!(libc::SYS_write, fd, b.as_ptr(), 16) },
            16,
            "write"
        );
        ensure_eq!(
            unsafe { syscall!(libc::SYS_lseek, fd, 100, libc::SEEK_SET) },
            0,
            "lseek"
        );
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLOUT,
            revents: 0,
        };
        unsafe { libc::poll(&mut p, 1, 0) };
        ensure_eq!(p.revents, libc::POLLIN | libc::POLLOUT, "poll");
        Ok(())
    })();
    close(fd);
    r
}

fn dev_zero() -> CheckResult {
    let fd = open("/dev/zero", libc::O_RDWR)?;
    let r = (|| -> CheckResult {
        let mut b = vec![0xffu8; 100_000];
        ensure_eq!(
            unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), b.len()) },
            100_000,
            "read count"
        );
        ensure!(b.iter().all(|&x| x == 0), "not all zero");
        ensure_eq!(
            unsafe { syscall!(libc::SYS_write, fd, b.as_ptr(), 10) },
            10,
            "write"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn dev_zero_mmap() -> CheckResult {
    let fd = open("/dev/zero", libc::O_RDWR)?;
    let len = 3 * 4096;
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE,
            fd,
            0,
        )
    };
    close(fd);
    ensure!(
        p != libc::MAP_FAILED,
        "mmap(/dev/zero) failed: {}",
        checks::errno_name(checks::errno())
    );
    let s = unsafe { std::slice::from_raw_parts_mut(p as *mut u8, len) };
    let zero = s.iter().all(|&b| b == 0);
    s[5000] = 7;
    let kept = s[5000] == 7;
    unsafe { libc::munmap(p, len) };
    ensure!(
        zero && kept,
        "a private /dev/zero mapping is zeroed writable memory"
    );
    Ok(())
}

fn dev_full() -> CheckResult {
    let fd = open("/dev/full", libc::O_RDWR)?;
    let r = (|| -> CheckResult {
        expect_sys_errno(
            "write(/dev/full)",
            || unsafe { syscall!(libc::SYS_write, fd, b"x".as_ptr(), 1) },
            libc::ENOSPC,
        )?;
        let mut b = [9u8; 32];
        ensure_eq!(
            unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 32) },
            32,
            "read"
        );
        ensure_eq!(b, [0u8; 32], "zeros");
        Ok(())
    })();
    close(fd);
    r
}

fn dev_random_urandom() -> CheckResult {
    for path in ["/dev/random", "/dev/urandom"] {
        let fd = open(path, libc::O_RDWR)?;
        let r = (|| -> CheckResult {
            let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
            ensure_eq!(
                unsafe { syscall!(libc::SYS_read, fd, a.as_mut_ptr(), 64) },
                64,
                "{} read",
                path
            );
            ensure_eq!(
                unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 64) },
                64,
                "{} read",
                path
            );
            ensure!(
                a != b && a != [0u8; 64],
                "{path} gives the same or zero bytes"
            );
            let distinct = a.iter().collect::<std::collections::BTreeSet<_>>().len();
            ensure!(
                distinct > 20,
                "{path}: only {distinct} distinct byte values in 64"
            );
            ensure_eq!(
                unsafe { syscall!(libc::SYS_write, fd, a.as_ptr(), 64) },
                64,
                "{} write",
                path
            );
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            unsafe { libc::poll(&mut p, 1, 0) };
            ensure_eq!(p.revents, libc::POLLIN, "{} poll", path);
            Ok(())
        })();
        close(fd);
        r?;
    }
    Ok(())
}

/// Runs `f` in a forked child that is a session leader without a controlling terminal;
/// the child's exit status is the result (0 = pass, other values are looked up in
/// `reasons`).
fn in_new_session(f: impl FnOnce() -> c_int, reasons: &[(c_int, &str)]) -> CheckResult {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = if unsafe { libc::setsid() } < 0 {
            99
        } else {
            f()
        };
        unsafe { libc::_exit(code) };
    }
    ensure!(pid > 0, "fork");
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    ensure!(libc::WIFEXITED(st), "child status {st:#x}");
    let code = libc::WEXITSTATUS(st);
    if code == 0 {
        return Ok(());
    }
    let why = reasons.iter().find(|r| r.0 == code).map_or("?", |r| r.1);
    Err(format!("child failed with {code}: {why}"))
}

fn dev_tty_without_ctty() -> CheckResult {
    in_new_session(
        || {
            let p = c("/dev/tty");
            let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDWR) };
            if fd >= 0 {
                return 1;
            }
            if checks::errno() != libc::ENXIO {
                return 2;
            }
            0
        },
        &[
            (1, "open(/dev/tty) succeeded without a controlling terminal"),
            (2, "open(/dev/tty) errno is not ENXIO"),
            (99, "setsid"),
        ],
    )
}

/// Opens a pty pair: (master, slave, N).
fn open_pty() -> Result<(c_int, c_int, u32), String> {
    let m = open("/dev/ptmx", libc::O_RDWR)?;
    let mut n: u32 = 0;
    let zero: c_int = 0;
    let r = sys_ok("TIOCGPTN", || unsafe {
        syscall!(libc::SYS_ioctl, m, libc::TIOCGPTN, &raw mut n)
    })
    .and_then(|_| {
        sys_ok("TIOCSPTLCK(0)", || unsafe {
            syscall!(libc::SYS_ioctl, m, libc::TIOCSPTLCK, &raw const zero)
        })
    })
    .and_then(|_| open(&format!("/dev/pts/{n}"), libc::O_RDWR));
    match r {
        Ok(s) => Ok((m, s as c_int, n)),
        Err(e) => {
            close(m);
            Err(e)
        }
    }
}

fn raw_mode(fd: c_int) {
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(fd, &mut t);
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(fd, libc::TCSANOW, &t);
    }
}

fn dev_tty_is_the_ctty() -> CheckResult {
    in_new_session(
        || {
            let Ok((m, s, _)) = open_pty() else { return 1 };
            raw_mode(s);
            if unsafe { libc::ioctl(s, libc::TIOCSCTTY, 0) } != 0 {
                return 2;
            }
            let p = c("/dev/tty");
            let t = unsafe { libc::open(p.as_ptr(), libc::O_RDWR) };
            if t < 0 {
                return 3;
            }
            if unsafe { libc::write(t, b"via /dev/tty".as_ptr().cast(), 12) } != 12 {
                return 4;
            }
            let mut b = [0u8; 32];
            let n = unsafe { libc::read(m, b.as_mut_ptr().cast(), 32) };
            if n != 12 || &b[..12] != b"via /dev/tty" {
                return 5;
            }
            0
        },
        &[
            (1, "opening a pty"),
            (2, "TIOCSCTTY"),
            (3, "open(/dev/tty) with a controlling pty"),
            (4, "write(/dev/tty)"),
            (5, "the master did not read what /dev/tty wrote"),
            (99, "setsid"),
        ],
    )
}

fn console_and_ttys0_are_ttys() -> CheckResult {
    for path in ["/dev/console", "/dev/ttyS0"] {
        let fd = open(path, libc::O_RDWR | libc::O_NONBLOCK)?;
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let r = sys_ok(&format!("TCGETS({path})"), || unsafe {
            syscall!(libc::SYS_ioctl, fd, libc::TCGETS, &raw mut t)
        })
        .and_then(|_| {
            sys_ok(&format!("TIOCGWINSZ({path})"), || unsafe {
                syscall!(libc::SYS_ioctl, fd, libc::TIOCGWINSZ, &raw mut ws)
            })
        });
        close(fd);
        r?;
    }
    let fd = open("/dev/null", libc::O_RDWR)?;
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    let r = expect_sys_errno(
        "TCGETS(/dev/null)",
        || unsafe { syscall!(libc::SYS_ioctl, fd, libc::TCGETS, &raw mut t) },
        libc::ENOTTY,
    );
    close(fd);
    r
}

fn ptmx_pairs() -> CheckResult {
    let (m1, s1, n1) = open_pty()?;
    let (m2, s2, n2) = match open_pty() {
        Ok(x) => x,
        Err(e) => {
            for fd in [m1, s1] {
                close(fd);
            }
            return Err(e);
        }
    };
    let r = (|| -> CheckResult {
        ensure!(n1 != n2, "two opens of /dev/ptmx gave the same pty {n1}");
        chardev(&format!("/dev/pts/{n1}"), 136, n1)?;
        let names: Vec<String> = std::fs::read_dir("/dev/pts")
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ensure!(
            names.contains(&n1.to_string()) && names.contains(&n2.to_string()),
            "/dev/pts lists {names:?}"
        );
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { libc::fstat(m1, &mut st) };
        ensure_eq!(
            (libc::major(st.st_rdev), libc::minor(st.st_rdev)),
            (5, 2),
            "fstat of the master"
        );
        raw_mode(s1);
        ensure_eq!(
            unsafe { libc::write(m1, b"down".as_ptr().cast(), 4) },
            4,
            "master write"
        );
        let mut b = [0u8; 16];
        let n = unsafe { libc::read(s1, b.as_mut_ptr().cast(), 16) };
        ensure_eq!(&b[..n.max(0) as usize], b"down", "slave read");
        ensure_eq!(
            unsafe { libc::write(s1, b"up".as_ptr().cast(), 2) },
            2,
            "slave write"
        );
        let n = unsafe { libc::read(m1, b.as_mut_ptr().cast(), 16) };
        ensure_eq!(&b[..n.max(0) as usize], b"up", "master read");
        // The other pair saw nothing.
        let mut fl = unsafe { libc::fcntl(m2, libc::F_GETFL) };
        fl |= libc::O_NONBLOCK;
        unsafe { libc::fcntl(m2, libc::F_SETFL, fl) };
        expect_sys_errno(
            "read of the other master",
            || unsafe { syscall!(libc::SYS_read, m2, b.as_mut_ptr(), 16) },
            libc::EAGAIN,
        )?;
        Ok(())
    })();
    for fd in [m1, s1, m2, s2] {
        close(fd);
    }
    r
}

fn ptmx_slave_locked() -> CheckResult {
    let m = open("/dev/ptmx", libc::O_RDWR)?;
    let r = (|| -> CheckResult {
        let mut n: u32 = 0;
        sys_ok("TIOCGPTN", || unsafe {
            syscall!(libc::SYS_ioctl, m, libc::TIOCGPTN, &raw mut n)
        })?;
        let p = c(&format!("/dev/pts/{n}"));
        expect_sys_errno(
            "open(locked slave)",
            || unsafe { syscall!(libc::SYS_open, p.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) },
            libc::EIO,
        )?;
        let zero: c_int = 0;
        sys_ok("TIOCSPTLCK(0)", || unsafe {
            syscall!(libc::SYS_ioctl, m, libc::TIOCSPTLCK, &raw const zero)
        })?;
        let s = sys_ok("open(unlocked slave)", || unsafe {
            syscall!(libc::SYS_open, p.as_ptr(), libc::O_RDWR | libc::O_NOCTTY)
        })?;
        close(s as c_int);
        let missing = c("/dev/pts/4000");
        expect_sys_errno(
            "open(/dev/pts/4000)",
            || unsafe {
                syscall!(
                    libc::SYS_open,
                    missing.as_ptr(),
                    libc::O_RDWR | libc::O_NOCTTY
                )
            },
            libc::ENOENT,
        )?;
        Ok(())
    })();
    close(m);
    r
}

fn fd_links() -> CheckResult {
    for (l, t) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let got = std::fs::read_link(l).map_err(|e| format!("readlink({l}): {e}"))?;
        ensure_eq!(got.to_string_lossy(), t, "{} target", l);
    }
    let via = std::fs::read_link("/dev/fd/0").map_err(|e| format!("readlink(/dev/fd/0): {e}"))?;
    let direct = std::fs::read_link("/proc/self/fd/0").map_err(|e| e.to_string())?;
    ensure_eq!(via, direct, "/dev/fd/0 is /proc/self/fd/0");
    Ok(())
}

fn dev_shm_dir() -> CheckResult {
    let st = stat("/dev/shm")?;
    ensure_eq!(st.st_mode & libc::S_IFMT, libc::S_IFDIR, "type");
    ensure_eq!(st.st_mode & 0o7777, 0o1777, "mode");
    let _ = std::mem::size_of::<c_long>();
    Ok(())
}
