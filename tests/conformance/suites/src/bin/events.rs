//! `events` suite: the event files — eventfd, timerfd, signalfd, pidfd — and inotify
//! (implemented, or ENOSYS).
//!
//! Covers: `eventfd2` (the counter: reads take it all, EFD_SEMAPHORE reads take one,
//! writes add, EAGAIN at zero and at the 0xffff_ffff_ffff_fffe ceiling with
//! EFD_NONBLOCK, EINVAL for short buffers, a write of u64::MAX and unknown flags,
//! EFD_CLOEXEC, poll readiness, a blocked read woken by another thread's write);
//! `timerfd_create`/`timerfd_settime`/`timerfd_gettime` (a one-shot relative timer,
//! an interval timer counting expirations, TFD_TIMER_ABSTIME with a past deadline,
//! disarming, the old value, EAGAIN before expiry, poll, EINVAL for bad clocks, flags,
//! times, descriptors and short buffers); `signalfd4` (signals of the mask read as
//! `signalfd_siginfo` with signo/code/pid/uid, SI_USER for kill and SI_TKILL for
//! tgkill, several records in one read, the mask updated through an existing fd, EAGAIN,
//! poll, EINVAL cases); `pidfd_open` (not readable while the child runs, POLLIN once it
//! exits — also through epoll — `waitid(P_PIDFD)`, `pidfd_send_signal`, PIDFD_NONBLOCK,
//! always close-on-exec, ESRCH/EINVAL); `inotify_init1`: either ENOSYS or a working
//! inotify (IN_CREATE for a new file in a watched directory); `fstat` of eventfd, timerfd,
//! signalfd and epoll fds: Linux's one anonymous inode (mode 0600, no file type, size 0,
//! the same device and inode number for all four).

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::time::{Duration, Instant};

const EFD_SEMAPHORE: c_long = 1;
const EFD_NONBLOCK: c_long = libc::O_NONBLOCK as c_long;
const EFD_CLOEXEC: c_long = libc::O_CLOEXEC as c_long;
const TFD_TIMER_ABSTIME: c_long = 1;
const SI_USER: i32 = 0;
const SI_TKILL: i32 = -6;
const P_PIDFD: c_long = 3;

fn main() {
    // Signals used through signalfd are blocked in every thread (threads inherit it).
    block(&[libc::SIGUSR1, libc::SIGUSR2]);
    let mut s = Suite::new("events");
    s.check("eventfd_counter", eventfd_counter);
    s.check("eventfd_semaphore", eventfd_semaphore);
    s.check("eventfd_limits_and_errors", eventfd_limits_and_errors);
    s.check("eventfd_poll", eventfd_poll);
    s.check("eventfd_blocking_read_woken", eventfd_blocking_read_woken);
    s.check("timerfd_oneshot", timerfd_oneshot);
    s.check("timerfd_interval", timerfd_interval);
    s.check("timerfd_abstime_past", timerfd_abstime_past);
    s.check("timerfd_gettime_disarm", timerfd_gettime_disarm);
    s.check("timerfd_nonblock_poll", timerfd_nonblock_poll);
    s.check("timerfd_errors", timerfd_errors);
    s.check("signalfd_kill", signalfd_kill);
    s.check("signalfd_tgkill_two_records", signalfd_tgkill_two_records);
    s.check("signalfd_update_mask", signalfd_update_mask);
    s.check("signalfd_errors", signalfd_errors);
    s.check("pidfd_poll_on_exit", pidfd_poll_on_exit);
    s.check("pidfd_epoll", pidfd_epoll);
    s.check("pidfd_waitid", pidfd_waitid);
    s.check("pidfd_send_signal_kills", pidfd_send_signal_kills);
    s.check("pidfd_flags_and_errors", pidfd_flags_and_errors);
    s.check("inotify_or_enosys", inotify_or_enosys);
    s.check("anon_inode_fstat", anon_inode_fstat);
    s.finish();
}

fn block(sigs: &[c_int]) {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

fn efd(init: c_long, flags: c_long) -> Result<c_int, String> {
    sys_ok("eventfd2", || unsafe {
        syscall!(libc::SYS_eventfd2, init, flags)
    })
    .map(|v| v as c_int)
}

fn read_u64(fd: c_int) -> Result<u64, i32> {
    let mut v: u64 = 0;
    checks::clear_errno();
    let n = unsafe { syscall!(libc::SYS_read, fd, &raw mut v, 8) };
    match checks::sys(n) {
        Ok(8) => Ok(v),
        Ok(n) => Err(-(n as i32) - 1000),
        Err(e) => Err(e),
    }
}

fn write_u64(fd: c_int, v: u64) -> c_long {
    unsafe { syscall!(libc::SYS_write, fd, &raw const v, 8) }
}

fn expect_read(fd: c_int, want: u64, what: &str) -> CheckResult {
    match read_u64(fd) {
        Ok(v) => {
            ensure_eq!(v, want, "{}", what);
            Ok(())
        }
        Err(e) => Err(format!(
            "{what}: read failed with {}",
            checks::errno_name(e)
        )),
    }
}

fn expect_read_errno(fd: c_int, want: i32, what: &str) -> CheckResult {
    match read_u64(fd) {
        Ok(v) => Err(format!(
            "{what}: read returned {v}, expected {}",
            checks::errno_name(want)
        )),
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!(
            "{what}: {}, expected {}",
            checks::errno_name(e),
            checks::errno_name(want)
        )),
    }
}

fn poll1(fd: c_int, events: i16, timeout_ms: c_int) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    unsafe { libc::poll(&mut p, 1, timeout_ms) };
    p.revents
}

// ---------------------------------------------------------------------------
// eventfd

fn eventfd_counter() -> CheckResult {
    let fd = efd(3, EFD_NONBLOCK)?;
    let r = (|| -> CheckResult {
        expect_read(fd, 3, "initial value")?;
        expect_read_errno(fd, libc::EAGAIN, "read at zero")?;
        ensure_eq!(write_u64(fd, 5), 8, "write");
        ensure_eq!(write_u64(fd, 7), 8, "write");
        expect_read(fd, 12, "sum of writes")?;
        ensure_eq!(write_u64(fd, 0), 8, "write of 0");
        expect_read_errno(fd, libc::EAGAIN, "a write of 0 adds nothing")?;
        Ok(())
    })();
    close(fd);
    r
}

fn eventfd_semaphore() -> CheckResult {
    let fd = efd(2, EFD_SEMAPHORE | EFD_NONBLOCK)?;
    let r = (|| -> CheckResult {
        write_u64(fd, 1);
        for i in 0..3 {
            expect_read(fd, 1, &format!("semaphore read {i}"))?;
        }
        expect_read_errno(fd, libc::EAGAIN, "semaphore at zero")?;
        Ok(())
    })();
    close(fd);
    r
}

fn eventfd_limits_and_errors() -> CheckResult {
    let fd = efd(0, EFD_NONBLOCK | EFD_CLOEXEC)?;
    let r = (|| -> CheckResult {
        ensure_eq!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) },
            libc::FD_CLOEXEC,
            "EFD_CLOEXEC"
        );
        ensure_eq!(
            unsafe { libc::fcntl(fd, libc::F_GETFL) } & (libc::O_ACCMODE | libc::O_NONBLOCK),
            libc::O_RDWR | libc::O_NONBLOCK,
            "F_GETFL"
        );
        expect_sys_errno("write(u64::MAX)", || write_u64(fd, u64::MAX), libc::EINVAL)?;
        ensure_eq!(write_u64(fd, u64::MAX - 1), 8, "write of the maximum");
        expect_sys_errno("write past the maximum", || write_u64(fd, 1), libc::EAGAIN)?;
        let mut small = [0u8; 4];
        expect_sys_errno(
            "read(4 bytes)",
            || unsafe { syscall!(libc::SYS_read, fd, small.as_mut_ptr(), 4) },
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "write(4 bytes)",
            || unsafe { syscall!(libc::SYS_write, fd, small.as_ptr(), 4) },
            libc::EINVAL,
        )?;
        expect_read(fd, u64::MAX - 1, "the maximum")?;
        Ok(())
    })();
    close(fd);
    r?;
    expect_sys_errno(
        "eventfd2(bad flags)",
        || unsafe { syscall!(libc::SYS_eventfd2, 0, 0x10) },
        libc::EINVAL,
    )?;
    Ok(())
}

fn eventfd_poll() -> CheckResult {
    let fd = efd(0, EFD_NONBLOCK)?;
    let r = (|| -> CheckResult {
        ensure_eq!(
            poll1(fd, libc::POLLIN | libc::POLLOUT, 0),
            libc::POLLOUT,
            "at zero"
        );
        write_u64(fd, 1);
        ensure_eq!(
            poll1(fd, libc::POLLIN | libc::POLLOUT, 0),
            libc::POLLIN | libc::POLLOUT,
            "non-zero"
        );
        write_u64(fd, u64::MAX - 2);
        ensure_eq!(
            poll1(fd, libc::POLLIN | libc::POLLOUT, 0),
            libc::POLLIN,
            "at the maximum"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn eventfd_blocking_read_woken() -> CheckResult {
    let fd = efd(0, 0)?;
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        write_u64(fd, 42)
    });
    let t = Instant::now();
    let v = read_u64(fd);
    let waited = t.elapsed();
    let w = join(h)?;
    close(fd);
    ensure_eq!(w, 8, "writer");
    ensure_eq!(v, Ok(42), "value");
    ensure!(
        waited >= Duration::from_millis(80),
        "read returned early ({waited:?})"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// timerfd

fn tfd(flags: c_long) -> Result<c_int, String> {
    sys_ok("timerfd_create", || unsafe {
        syscall!(libc::SYS_timerfd_create, libc::CLOCK_MONOTONIC, flags)
    })
    .map(|v| v as c_int)
}

fn its(value_ns: i64, interval_ns: i64) -> libc::itimerspec {
    let ts = |ns: i64| libc::timespec {
        tv_sec: ns / 1_000_000_000,
        tv_nsec: ns % 1_000_000_000,
    };
    libc::itimerspec {
        it_interval: ts(interval_ns),
        it_value: ts(value_ns),
    }
}

fn settime(
    fd: c_int,
    flags: c_long,
    new: &libc::itimerspec,
    old: Option<&mut libc::itimerspec>,
) -> Result<(), String> {
    let oldp = old.map_or(std::ptr::null_mut(), |o| o as *mut libc::itimerspec);
    sys_ok("timerfd_settime", || unsafe {
        syscall!(
            libc::SYS_timerfd_settime,
            fd,
            flags,
            new as *const libc::itimerspec,
            oldp
        )
    })?;
    Ok(())
}

fn gettime(fd: c_int) -> Result<libc::itimerspec, String> {
    let mut cur: libc::itimerspec = unsafe { std::mem::zeroed() };
    sys_ok("timerfd_gettime", || unsafe {
        syscall!(libc::SYS_timerfd_gettime, fd, &raw mut cur)
    })?;
    Ok(cur)
}

fn ns(t: &libc::timespec) -> i64 {
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

fn timerfd_oneshot() -> CheckResult {
    let fd = tfd(0)?;
    let r = (|| -> CheckResult {
        let t = Instant::now();
        settime(fd, 0, &its(50_000_000, 0), None)?;
        expect_read(fd, 1, "expirations of a one-shot timer")?;
        let e = t.elapsed();
        ensure!(
            e >= Duration::from_millis(50),
            "read returned after {e:?}, before the 50 ms timer"
        );
        ensure!(e < Duration::from_secs(3), "timer fired after {e:?}");
        let cur = gettime(fd)?;
        ensure_eq!(
            (ns(&cur.it_value), ns(&cur.it_interval)),
            (0, 0),
            "expired one-shot timer"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn timerfd_interval() -> CheckResult {
    let fd = tfd(0)?;
    let r = (|| -> CheckResult {
        settime(fd, 0, &its(10_000_000, 10_000_000), None)?;
        std::thread::sleep(Duration::from_millis(75));
        let n = read_u64(fd).map_err(|e| format!("read: {}", checks::errno_name(e)))?;
        ensure!(
            (5..=9).contains(&n),
            "expirations after 75 ms of a 10 ms timer: {n}"
        );
        let t = Instant::now();
        let m = read_u64(fd).map_err(|e| format!("read: {}", checks::errno_name(e)))?;
        ensure!(m >= 1, "expirations {m}");
        ensure!(
            t.elapsed() < Duration::from_secs(2),
            "next expiry took {:?}",
            t.elapsed()
        );
        let cur = gettime(fd)?;
        ensure_eq!(ns(&cur.it_interval), 10_000_000, "interval");
        ensure!(
            ns(&cur.it_value) > 0 && ns(&cur.it_value) <= 10_000_000,
            "time to the next expiry {}",
            ns(&cur.it_value)
        );
        Ok(())
    })();
    close(fd);
    r
}

fn timerfd_abstime_past() -> CheckResult {
    let fd = tfd(libc::TFD_NONBLOCK as c_long)?;
    let r = (|| -> CheckResult {
        let mut now: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        // Absolute, in the past (half the time since boot) -> expired at once.
        let past = its(ns(&now) / 2 + 1, 0);
        settime(fd, TFD_TIMER_ABSTIME, &past, None)?;
        expect_read(fd, 1, "a deadline in the past")?;
        // Absolute, 30 ms ahead.
        let future = its(ns(&now) + 1_030_000_000, 0);
        settime(fd, TFD_TIMER_ABSTIME, &future, None)?;
        expect_read_errno(fd, libc::EAGAIN, "before the absolute deadline")?;
        Ok(())
    })();
    close(fd);
    r
}

fn timerfd_gettime_disarm() -> CheckResult {
    let fd = tfd(libc::TFD_NONBLOCK as c_long)?;
    let r = (|| -> CheckResult {
        let cur = gettime(fd)?;
        ensure_eq!(
            (ns(&cur.it_value), ns(&cur.it_interval)),
            (0, 0),
            "a new timer is disarmed"
        );
        settime(fd, 0, &its(10_000_000_000, 2_000_000_000), None)?;
        let cur = gettime(fd)?;
        ensure!(
            ns(&cur.it_value) > 9_000_000_000 && ns(&cur.it_value) <= 10_000_000_000,
            "remaining {}",
            ns(&cur.it_value)
        );
        ensure_eq!(ns(&cur.it_interval), 2_000_000_000, "interval");
        let mut old: libc::itimerspec = unsafe { std::mem::zeroed() };
        settime(fd, 0, &its(0, 0), Some(&mut old))?;
        ensure!(
            ns(&old.it_value) > 9_000_000_000,
            "old value {}",
            ns(&old.it_value)
        );
        ensure_eq!(ns(&old.it_interval), 2_000_000_000, "old interval");
        let cur = gettime(fd)?;
        ensure_eq!(
            (ns(&cur.it_value), ns(&cur.it_interval)),
            (0, 0),
            "disarmed"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn timerfd_nonblock_poll() -> CheckResult {
    let fd = tfd(libc::TFD_NONBLOCK as c_long)?;
    let r = (|| -> CheckResult {
        settime(fd, 0, &its(60_000_000, 0), None)?;
        expect_read_errno(fd, libc::EAGAIN, "before expiry")?;
        ensure_eq!(poll1(fd, libc::POLLIN, 0), 0, "poll before expiry");
        let t = Instant::now();
        ensure_eq!(
            poll1(fd, libc::POLLIN, 5000),
            libc::POLLIN,
            "poll until expiry"
        );
        ensure!(
            t.elapsed() >= Duration::from_millis(40),
            "poll returned after {:?}",
            t.elapsed()
        );
        expect_read(fd, 1, "after poll")?;
        Ok(())
    })();
    close(fd);
    r
}

fn timerfd_errors() -> CheckResult {
    expect_sys_errno(
        "timerfd_create(clock 99)",
        || unsafe { syscall!(libc::SYS_timerfd_create, 99, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "timerfd_create(bad flags)",
        || unsafe { syscall!(libc::SYS_timerfd_create, libc::CLOCK_MONOTONIC, 1) },
        libc::EINVAL,
    )?;
    let fd = tfd(0)?;
    let r = (|| -> CheckResult {
        let bad = its(0, 0);
        let mut b = bad;
        b.it_value.tv_nsec = 1_000_000_000;
        expect_sys_errno(
            "timerfd_settime(nsec 1e9)",
            || unsafe { syscall!(libc::SYS_timerfd_settime, fd, 0, &raw const b, 0) },
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "timerfd_settime(bad flags)",
            || unsafe { syscall!(libc::SYS_timerfd_settime, fd, 0x10, &raw const bad, 0) },
            libc::EINVAL,
        )?;
        let mut small = [0u8; 4];
        expect_sys_errno(
            "read(4 bytes)",
            || unsafe { syscall!(libc::SYS_read, fd, small.as_mut_ptr(), 4) },
            libc::EINVAL,
        )?;
        let e = efd(0, 0)?;
        let r = expect_sys_errno(
            "timerfd_settime(eventfd)",
            || unsafe { syscall!(libc::SYS_timerfd_settime, e, 0, &raw const bad, 0) },
            libc::EINVAL,
        );
        close(e);
        r?;
        expect_sys_errno(
            "timerfd_gettime(bad fd)",
            || unsafe { syscall!(libc::SYS_timerfd_gettime, 9999, small.as_mut_ptr()) },
            libc::EBADF,
        )?;
        Ok(())
    })();
    close(fd);
    r
}

// ---------------------------------------------------------------------------
// signalfd

fn sigmask(sigs: &[c_int]) -> u64 {
    sigs.iter().fold(0, |m, &s| m | 1 << (s - 1))
}

fn sfd(mask: u64, flags: c_long) -> Result<c_int, String> {
    sys_ok("signalfd4", || unsafe {
        syscall!(libc::SYS_signalfd4, -1, &raw const mask, 8, flags)
    })
    .map(|v| v as c_int)
}

/// The records a read returns (up to `max`).
fn read_siginfos(fd: c_int, max: usize) -> Result<Vec<libc::signalfd_siginfo>, i32> {
    let mut buf: Vec<libc::signalfd_siginfo> = vec![unsafe { std::mem::zeroed() }; max];
    checks::clear_errno();
    let n = unsafe { syscall!(libc::SYS_read, fd, buf.as_mut_ptr(), max * 128) };
    let n = checks::sys(n)?;
    buf.truncate(n as usize / 128);
    Ok(buf)
}

fn signalfd_kill() -> CheckResult {
    let fd = sfd(sigmask(&[libc::SIGUSR1]), libc::SFD_NONBLOCK as c_long)?;
    let r = (|| -> CheckResult {
        ensure_eq!(poll1(fd, libc::POLLIN, 0), 0, "poll with nothing pending");
        ensure_eq!(
            read_siginfos(fd, 1).map(|v| v.len()),
            Err(libc::EAGAIN),
            "read with nothing pending"
        );
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
        ensure_eq!(
            poll1(fd, libc::POLLIN, 0),
            libc::POLLIN,
            "poll with SIGUSR1 pending"
        );
        let v = read_siginfos(fd, 4).map_err(|e| format!("read: {}", checks::errno_name(e)))?;
        ensure_eq!(v.len(), 1, "records");
        let i = &v[0];
        ensure_eq!(i.ssi_signo, libc::SIGUSR1 as u32, "ssi_signo");
        ensure_eq!(i.ssi_code, SI_USER, "ssi_code");
        ensure_eq!(i.ssi_pid, std::process::id(), "ssi_pid");
        ensure_eq!(i.ssi_uid, unsafe { libc::getuid() }, "ssi_uid");
        // Consumed: no longer pending.
        let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe { libc::sigpending(&mut pending) };
        ensure_eq!(
            unsafe { libc::sigismember(&pending, libc::SIGUSR1) },
            0,
            "SIGUSR1 still pending"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn signalfd_tgkill_two_records() -> CheckResult {
    let fd = sfd(sigmask(&[libc::SIGUSR1, libc::SIGUSR2]), 0)?;
    let r = (|| -> CheckResult {
        let (pid, tid) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid) as c_int) };
        unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR2) };
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        let v = read_siginfos(fd, 4).map_err(|e| format!("read: {}", checks::errno_name(e)))?;
        ensure_eq!(v.len(), 2, "records in one read");
        let mut got: Vec<(u32, i32)> = v.iter().map(|i| (i.ssi_signo, i.ssi_code)).collect();
        got.sort();
        ensure_eq!(
            got,
            vec![
                (libc::SIGUSR1 as u32, SI_USER),
                (libc::SIGUSR2 as u32, SI_TKILL)
            ],
            "signals and codes"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn signalfd_update_mask() -> CheckResult {
    let fd = sfd(sigmask(&[libc::SIGUSR1]), libc::SFD_NONBLOCK as c_long)?;
    let r = (|| -> CheckResult {
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
        ensure_eq!(
            read_siginfos(fd, 1).map(|v| v.len()),
            Err(libc::EAGAIN),
            "SIGUSR2 is not in the mask"
        );
        let m = sigmask(&[libc::SIGUSR2]);
        let r = sys_ok("signalfd4(existing fd)", || unsafe {
            syscall!(libc::SYS_signalfd4, fd, &raw const m, 8, 0)
        })?;
        ensure_eq!(r, fd as c_long, "signalfd4 returns the same fd");
        let v = read_siginfos(fd, 1).map_err(|e| format!("read: {}", checks::errno_name(e)))?;
        ensure_eq!(
            v.first().map(|i| i.ssi_signo),
            Some(libc::SIGUSR2 as u32),
            "SIGUSR2 after the update"
        );
        Ok(())
    })();
    close(fd);
    r
}

fn signalfd_errors() -> CheckResult {
    let m = sigmask(&[libc::SIGUSR1]);
    expect_sys_errno(
        "signalfd4(sizemask 4)",
        || unsafe { syscall!(libc::SYS_signalfd4, -1, &raw const m, 4, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "signalfd4(bad flags)",
        || unsafe { syscall!(libc::SYS_signalfd4, -1, &raw const m, 8, 1) },
        libc::EINVAL,
    )?;
    let e = efd(0, 0)?;
    let r = expect_sys_errno(
        "signalfd4(eventfd)",
        || unsafe { syscall!(libc::SYS_signalfd4, e, &raw const m, 8, 0) },
        libc::EINVAL,
    );
    close(e);
    r?;
    let fd = sfd(m, 0)?;
    let mut small = [0u8; 64];
    let r = expect_sys_errno(
        "read(64 bytes)",
        || unsafe { syscall!(libc::SYS_read, fd, small.as_mut_ptr(), 64) },
        libc::EINVAL,
    );
    close(fd);
    r
}

// ---------------------------------------------------------------------------
// pidfd

/// Forks a child that sleeps `ms` then exits with `code`.
fn child_sleeping(ms: u32, code: c_int) -> Result<c_int, String> {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::usleep(ms * 1000);
            libc::_exit(code);
        }
    }
    ensure!(pid > 0, "fork failed");
    Ok(pid)
}

fn pidfd_open(pid: c_int, flags: c_long) -> Result<c_int, String> {
    sys_ok("pidfd_open", || unsafe {
        syscall!(libc::SYS_pidfd_open, pid, flags)
    })
    .map(|v| v as c_int)
}

fn reap(pid: c_int) -> c_int {
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    st
}

fn pidfd_poll_on_exit() -> CheckResult {
    let pid = child_sleeping(150, 7)?;
    let fd = pidfd_open(pid, 0)?;
    let r = (|| -> CheckResult {
        ensure_eq!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) },
            libc::FD_CLOEXEC,
            "pidfds are close-on-exec"
        );
        ensure_eq!(poll1(fd, libc::POLLIN, 0), 0, "running child");
        let t = Instant::now();
        let ev = poll1(fd, libc::POLLIN, 5000);
        ensure_eq!(ev & libc::POLLIN, libc::POLLIN, "child exited");
        ensure!(
            t.elapsed() >= Duration::from_millis(100),
            "readable after {:?}",
            t.elapsed()
        );
        let mut b = [0u8; 8];
        expect_sys_errno(
            "read(pidfd)",
            || unsafe { syscall!(libc::SYS_read, fd, b.as_mut_ptr(), 8) },
            libc::EINVAL,
        )?;
        Ok(())
    })();
    close(fd);
    let st = reap(pid);
    r?;
    ensure!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 7,
        "child status {st:#x}"
    );
    Ok(())
}

fn pidfd_epoll() -> CheckResult {
    let pid = child_sleeping(100, 0)?;
    let fd = pidfd_open(pid, libc::O_NONBLOCK as c_long)?;
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    let r = (|| -> CheckResult {
        ensure!(ep >= 0, "epoll_create1");
        ensure!(
            unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK != 0,
            "PIDFD_NONBLOCK"
        );
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 77,
        };
        sys_ok("epoll_ctl(pidfd)", || unsafe {
            syscall!(
                libc::SYS_epoll_ctl,
                ep,
                libc::EPOLL_CTL_ADD,
                fd,
                &raw mut ev
            )
        })?;
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 2];
        ensure_eq!(
            unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 2, 0) },
            0,
            "events while running"
        );
        let n = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 2, 5000) };
        ensure_eq!(n, 1, "events after exit");
        let (events, data) = (out[0].events, out[0].u64);
        ensure_eq!(data, 77, "data");
        ensure!(events & libc::EPOLLIN as u32 != 0, "events {events:#x}");
        Ok(())
    })();
    close(ep);
    close(fd);
    reap(pid);
    r
}

fn pidfd_waitid() -> CheckResult {
    let pid = child_sleeping(20, 9)?;
    let fd = pidfd_open(pid, 0)?;
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = sys_ok("waitid(P_PIDFD)", || unsafe {
        syscall!(
            libc::SYS_waitid,
            P_PIDFD,
            fd,
            &raw mut info,
            libc::WEXITED,
            0
        )
    });
    close(fd);
    if r.is_err() {
        reap(pid);
    }
    r?;
    ensure_eq!(unsafe { info.si_pid() }, pid, "si_pid");
    ensure_eq!(unsafe { info.si_status() }, 9, "si_status");
    ensure_eq!(info.si_code, libc::CLD_EXITED, "si_code");
    Ok(())
}

fn pidfd_send_signal_kills() -> CheckResult {
    let pid = child_sleeping(10_000, 0)?;
    let fd = pidfd_open(pid, 0)?;
    let r = sys_ok("pidfd_send_signal", || unsafe {
        syscall!(libc::SYS_pidfd_send_signal, fd, libc::SIGKILL, 0, 0)
    });
    let st = reap(pid);
    let after = unsafe { syscall!(libc::SYS_pidfd_send_signal, fd, 0, 0, 0) };
    let errno = checks::errno();
    close(fd);
    r?;
    ensure!(
        libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL,
        "child status {st:#x}"
    );
    ensure!(
        after == -1 && errno == libc::ESRCH,
        "pidfd_send_signal to a reaped child: {after}, {}",
        checks::errno_name(errno)
    );
    Ok(())
}

fn pidfd_flags_and_errors() -> CheckResult {
    expect_sys_errno(
        "pidfd_open(bad flags)",
        || unsafe { syscall!(libc::SYS_pidfd_open, libc::getpid(), 1) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "pidfd_open(0)",
        || unsafe { syscall!(libc::SYS_pidfd_open, 0, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "pidfd_open(no such pid)",
        || unsafe { syscall!(libc::SYS_pidfd_open, 0x3fff_fff0, 0) },
        libc::ESRCH,
    )?;
    // A thread that is not the leader: ENOENT (without PIDFD_THREAD; EINVAL before Linux 6.9).
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        let _ = tx.send(unsafe { libc::syscall(libc::SYS_gettid) as c_int });
        let _ = done_rx.recv();
    });
    let tid = rx.recv().map_err(|e| e.to_string())?;
    let r = expect_sys_errno(
        "pidfd_open(thread)",
        || unsafe { syscall!(libc::SYS_pidfd_open, tid, 0) },
        libc::ENOENT,
    );
    let _ = done_tx.send(());
    join(h)?;
    r?;
    let e = efd(0, 0)?;
    let r = expect_sys_errno(
        "pidfd_send_signal(eventfd)",
        || unsafe { syscall!(libc::SYS_pidfd_send_signal, e, 0, 0, 0) },
        libc::EBADF,
    );
    close(e);
    r
}

// ---------------------------------------------------------------------------
// inotify

fn inotify_or_enosys() -> CheckResult {
    checks::clear_errno();
    let fd = unsafe {
        syscall!(
            libc::SYS_inotify_init1,
            libc::IN_NONBLOCK | libc::IN_CLOEXEC
        )
    };
    if fd == -1 {
        let e = checks::errno();
        ensure_eq!(
            e,
            libc::ENOSYS,
            "inotify_init1 failed with {}",
            checks::errno_name(e)
        );
        return Ok(());
    }
    let fd = fd as c_int;
    let dir = format!("/tmp/axle-inotify-{}", std::process::id());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    let r = (|| -> CheckResult {
        let cd = std::ffi::CString::new(dir.clone()).unwrap();
        let wd = sys_ok("inotify_add_watch", || unsafe {
            syscall!(
                libc::SYS_inotify_add_watch,
                fd,
                cd.as_ptr(),
                libc::IN_CREATE
            )
        })?;
        std::fs::write(format!("{dir}/new"), b"").map_err(|e| e.to_string())?;
        ensure_eq!(
            poll1(fd, libc::POLLIN, 2000),
            libc::POLLIN,
            "inotify readable"
        );
        let mut buf = [0u8; 256];
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 256) };
        ensure!(n >= 16, "read {n}");
        let ev_wd = i32::from_ne_bytes(buf[0..4].try_into().unwrap());
        let mask = u32::from_ne_bytes(buf[4..8].try_into().unwrap());
        ensure_eq!(
            (ev_wd as c_long, mask & libc::IN_CREATE),
            (wd, libc::IN_CREATE),
            "event"
        );
        Ok(())
    })();
    close(fd);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn anon_inode_fstat() -> CheckResult {
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::sigemptyset(&mut mask) };
    let fds = [
        ("eventfd", sys_ok("eventfd2", || unsafe { syscall!(libc::SYS_eventfd2, 0, libc::EFD_CLOEXEC) })? as c_int),
        ("timerfd", sys_ok("timerfd_create", || unsafe {
            syscall!(libc::SYS_timerfd_create, libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC)
        })? as c_int),
        ("signalfd", sys_ok("signalfd4", || unsafe { syscall!(libc::SYS_signalfd4, -1, &raw const mask, 8, libc::SFD_CLOEXEC) })? as c_int),
        ("epoll", sys_ok("epoll_create1", || unsafe { syscall!(libc::SYS_epoll_create1, libc::EPOLL_CLOEXEC) })? as c_int),
    ];
    let mut result = Ok(());
    let mut first: Option<(u64, u64)> = None;
    for (name, fd) in fds {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let r = sys_ok(&format!("fstat({name})"), || unsafe { syscall!(libc::SYS_fstat, fd, &raw mut st) });
        let check = (|| -> CheckResult {
            r?;
            ensure_eq!(st.st_mode & libc::S_IFMT, 0, "{name}: file type bits");
            ensure_eq!(st.st_mode & 0o7777, 0o600, "{name}: permissions");
            ensure_eq!(st.st_size, 0, "{name}: size");
            let id = (st.st_dev as u64, st.st_ino as u64);
            match first {
                None => first = Some(id),
                Some(f) => ensure_eq!(id, f, "{name}: (dev, ino) like the eventfd's (one anonymous inode)"),
            }
            Ok(())
        })();
        if result.is_ok() {
            result = check;
        }
    }
    for (_, fd) in fds {
        unsafe { libc::close(fd) };
    }
    result
}
