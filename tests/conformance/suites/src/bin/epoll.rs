//! `epoll` suite: epoll and the other readiness calls (poll, ppoll, select, pselect6).
//!
//! Covers: `epoll_create`/`epoll_create1` (EPOLL_CLOEXEC, EINVAL); `epoll_ctl` errors
//! (EEXIST, ENOENT, EBADF, EPERM for a regular file, EINVAL for the epoll itself, a
//! non-epoll descriptor or a bad op, ELOOP for a cycle); level triggering (reported
//! while ready); edge triggering (once per change, and a new edge for every eventfd
//! write even while the counter stays readable, and for every pipe write; an interest in
//! EPOLLOUT only gets no edge from a write, one from a read);
//! EPOLLONESHOT (disabled after one event until EPOLL_CTL_MOD re-arms it); EPOLLRDHUP
//! and EPOLLIN after a peer's `shutdown(SHUT_WR)`, EPOLLHUP for a closed pipe writer;
//! EPOLLEXCLUSIVE (events delivered; EINVAL with ONESHOT, on MOD, for an epoll target);
//! interest keyed by the open file description (a dup is a second interest; closing one
//! descriptor keeps the interest while the description lives, EBADF to delete it by the
//! closed number, none once every descriptor is closed); nested epoll; readiness present
//! at EPOLL_CTL_ADD and at MOD; a dup'ed epoll descriptor used from two threads (ADD on
//! the copy wakes a thread blocked on the original); maxevents (EINVAL, a limit of 1);
//! the event data round trip; epoll_wait/epoll_pwait/epoll_pwait2 timeouts (0, finite,
//! infinite woken by a write, a timespec, EINVAL), epoll_pwait's signal mask (EINTR from
//! a signal only unblocked during the wait); poll (timeouts 0/finite/-1, POLLNVAL,
//! negative fds ignored, EINVAL), ppoll (NULL/zero/finite timespec, EINVAL, its signal
//! mask), select (NULL/zero/finite timeval, write sets, EBADF, EINVAL, the timeout
//! updated with the time left), pselect6 (NULL/zero/finite timespec, its signal mask).

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const ET: u32 = libc::EPOLLET as u32;
const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
const RDHUP: u32 = libc::EPOLLRDHUP as u32;
const HUP: u32 = libc::EPOLLHUP as u32;
const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;
/// A signal delivered to a handler in the sigmask checks.
const SIG: c_int = libc::SIGUSR1;

fn main() {
    // SIGUSR1 is blocked except during the masked waits; its handler records it.
    unsafe {
        libc::signal(SIG, on_sig as *const () as usize);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, SIG);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let mut s = Suite::new("epoll");
    s.check("create_flags", create_flags);
    s.check("ctl_errors", ctl_errors);
    s.check("ctl_eloop", ctl_eloop);
    s.check("level_triggered", level_triggered);
    s.check("edge_eventfd_every_write", edge_eventfd_every_write);
    s.check("edge_pipe_every_write", edge_pipe_every_write);
    s.check("edge_out_only_keyed", edge_out_only_keyed);
    s.check("oneshot_rearm", oneshot_rearm);
    s.check("rdhup_after_half_close", rdhup_after_half_close);
    s.check("hup_pipe_writer_closed", hup_pipe_writer_closed);
    s.check("exclusive", exclusive);
    s.check("keyed_by_description", keyed_by_description);
    s.check("nested_epoll", nested_epoll);
    s.check("ready_at_add_and_mod", ready_at_add_and_mod);
    s.check("dup_epfd_two_threads", dup_epfd_two_threads);
    s.check("maxevents", maxevents);
    s.check("epoll_wait_timeouts", epoll_wait_timeouts);
    s.check("epoll_pwait2_timeouts", epoll_pwait2_timeouts);
    s.check("epoll_pwait_sigmask", epoll_pwait_sigmask);
    s.check("poll_timeouts", poll_timeouts);
    s.check("poll_nval_and_negative", poll_nval_and_negative);
    s.check("ppoll_timeouts_and_mask", ppoll_timeouts_and_mask);
    s.check("select_timeouts", select_timeouts);
    s.check("select_sets_and_errors", select_sets_and_errors);
    s.check("pselect6_timeouts_and_mask", pselect6_timeouts_and_mask);
    s.finish();
}

static SIGNALS: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_sig(_: c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

/// Closes its descriptors when dropped.
struct Fds(Vec<c_int>);

impl Drop for Fds {
    fn drop(&mut self) {
        for &fd in &self.0 {
            close(fd);
        }
    }
}

fn epoll() -> Result<c_int, String> {
    sys_ok("epoll_create1", || unsafe {
        syscall!(libc::SYS_epoll_create1, libc::EPOLL_CLOEXEC)
    })
    .map(|v| v as c_int)
}

fn efd(flags: c_int) -> Result<c_int, String> {
    sys_ok("eventfd2", || unsafe {
        syscall!(libc::SYS_eventfd2, 0, flags)
    })
    .map(|v| v as c_int)
}

fn pipe(flags: c_int) -> Result<[c_int; 2], String> {
    let mut fds = [0 as c_int; 2];
    sys_ok("pipe2", || unsafe {
        syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), flags)
    })?;
    Ok(fds)
}

fn ctl(ep: c_int, op: c_int, fd: c_int, events: u32, data: u64) -> c_long {
    let mut ev = libc::epoll_event { events, u64: data };
    unsafe { syscall!(libc::SYS_epoll_ctl, ep, op, fd, &raw mut ev) }
}

fn add(ep: c_int, fd: c_int, events: u32, data: u64) -> CheckResult {
    sys_ok(&format!("epoll_ctl(ADD, {fd}, {events:#x})"), || {
        ctl(ep, libc::EPOLL_CTL_ADD, fd, events, data)
    })?;
    Ok(())
}

/// epoll_wait: (events, data) pairs.
fn wait(ep: c_int, max: usize, timeout_ms: c_int) -> Result<Vec<(u32, u64)>, String> {
    let mut out = vec![libc::epoll_event { events: 0, u64: 0 }; max];
    let n = sys_ok("epoll_wait", || unsafe {
        syscall!(libc::SYS_epoll_wait, ep, out.as_mut_ptr(), max, timeout_ms)
    })?;
    Ok(out[..n as usize]
        .iter()
        .map(|e| (e.events, e.u64))
        .collect())
}

fn bump(fd: c_int) {
    let v: u64 = 1;
    unsafe { libc::write(fd, (&raw const v).cast(), 8) };
}

fn drain(fd: c_int) {
    let mut b = [0u8; 65536];
    unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) };
}

fn create_flags() -> CheckResult {
    let ep = epoll()?;
    let fdflags = unsafe { libc::fcntl(ep, libc::F_GETFD) };
    close(ep);
    ensure_eq!(fdflags, libc::FD_CLOEXEC, "EPOLL_CLOEXEC");
    expect_sys_errno(
        "epoll_create1(bad flags)",
        || unsafe { syscall!(libc::SYS_epoll_create1, 1) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "epoll_create(0)",
        || unsafe { syscall!(libc::SYS_epoll_create, 0) },
        libc::EINVAL,
    )?;
    let old = sys_ok("epoll_create(1)", || unsafe {
        syscall!(libc::SYS_epoll_create, 1)
    })? as c_int;
    let fdflags = unsafe { libc::fcntl(old, libc::F_GETFD) };
    close(old);
    ensure_eq!(fdflags, 0, "epoll_create sets no FD_CLOEXEC");
    Ok(())
}

fn ctl_errors() -> CheckResult {
    let ep = epoll()?;
    let e = efd(0)?;
    let path = format!("/tmp/axle-epoll-{}", std::process::id());
    std::fs::write(&path, b"").map_err(|x| x.to_string())?;
    let cp = std::ffi::CString::new(path.clone()).unwrap();
    let file = unsafe { libc::open(cp.as_ptr(), libc::O_RDONLY) };
    let _ = std::fs::remove_file(&path);
    let _g = Fds(vec![ep, e, file]);
    add(ep, e, IN, 1)?;
    expect_sys_errno(
        "ADD twice",
        || ctl(ep, libc::EPOLL_CTL_ADD, e, IN, 1),
        libc::EEXIST,
    )?;
    let e2 = efd(0)?;
    let _g2 = Fds(vec![e2]);
    expect_sys_errno(
        "MOD of a missing interest",
        || ctl(ep, libc::EPOLL_CTL_MOD, e2, IN, 1),
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "DEL of a missing interest",
        || ctl(ep, libc::EPOLL_CTL_DEL, e2, 0, 0),
        libc::ENOENT,
    )?;
    expect_sys_errno(
        "ADD bad fd",
        || ctl(ep, libc::EPOLL_CTL_ADD, 9999, IN, 0),
        libc::EBADF,
    )?;
    expect_sys_errno(
        "ADD to bad epfd",
        || ctl(9999, libc::EPOLL_CTL_ADD, e, IN, 0),
        libc::EBADF,
    )?;
    expect_sys_errno(
        "ADD a regular file",
        || ctl(ep, libc::EPOLL_CTL_ADD, file, IN, 0),
        libc::EPERM,
    )?;
    expect_sys_errno(
        "ADD the epoll to itself",
        || ctl(ep, libc::EPOLL_CTL_ADD, ep, IN, 0),
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "epfd is not an epoll",
        || ctl(e2, libc::EPOLL_CTL_ADD, e, IN, 0),
        libc::EINVAL,
    )?;
    expect_sys_errno("bad op", || ctl(ep, 9, e, IN, 0), libc::EINVAL)?;
    expect_sys_errno(
        "ADD with a bad event pointer",
        || unsafe { syscall!(libc::SYS_epoll_ctl, ep, libc::EPOLL_CTL_ADD, e2, 8) },
        libc::EFAULT,
    )?;
    sys_ok("DEL", || ctl(ep, libc::EPOLL_CTL_DEL, e, 0, 0))?;
    sys_ok("DEL with a NULL event", || {
        add(ep, e, IN, 1).ok();
        unsafe { syscall!(libc::SYS_epoll_ctl, ep, libc::EPOLL_CTL_DEL, e, 0) }
    })?;
    Ok(())
}

fn ctl_eloop() -> CheckResult {
    let (a, b) = (epoll()?, epoll()?);
    let _g = Fds(vec![a, b]);
    add(a, b, IN, 0)?;
    expect_sys_errno(
        "ADD a cycle",
        || ctl(b, libc::EPOLL_CTL_ADD, a, IN, 0),
        libc::ELOOP,
    )?;
    Ok(())
}

fn level_triggered() -> CheckResult {
    let ep = epoll()?;
    let p = pipe(0)?;
    let _g = Fds(vec![ep, p[0], p[1]]);
    add(ep, p[0], IN, 11)?;
    ensure_eq!(wait(ep, 4, 0)?, vec![], "empty pipe");
    unsafe { libc::write(p[1], b"ab".as_ptr().cast(), 2) };
    for i in 0..3 {
        ensure_eq!(
            wait(ep, 4, 0)?,
            vec![(IN, 11)],
            "level-triggered report {}",
            i
        );
    }
    drain(p[0]);
    ensure_eq!(wait(ep, 4, 0)?, vec![], "drained pipe");
    Ok(())
}

fn edge_eventfd_every_write() -> CheckResult {
    let ep = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, e]);
    add(ep, e, IN | ET, 5)?;
    ensure_eq!(wait(ep, 4, 0)?, vec![], "no edge yet");
    bump(e);
    ensure_eq!(wait(ep, 4, 0)?, vec![(IN, 5)], "first write");
    ensure_eq!(wait(ep, 4, 0)?, vec![], "no new edge without a write");
    // The counter is still non-zero and never read: every write is a new edge.
    for i in 0..5 {
        bump(e);
        ensure_eq!(
            wait(ep, 4, 0)?,
            vec![(IN, 5)],
            "write {} while already readable",
            i + 2
        );
        ensure_eq!(wait(ep, 4, 0)?, vec![], "after write {}", i + 2);
    }
    // A blocked waiter is woken by a write too (mio's waker).
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        bump(e);
    });
    let t = Instant::now();
    let got = wait(ep, 4, 5000)?;
    join(h)?;
    ensure_eq!(got, vec![(IN, 5)], "woken by a write from a thread");
    ensure!(
        t.elapsed() < Duration::from_secs(4),
        "woken after {:?}",
        t.elapsed()
    );
    Ok(())
}

fn edge_pipe_every_write() -> CheckResult {
    let ep = epoll()?;
    let p = pipe(libc::O_NONBLOCK)?;
    let _g = Fds(vec![ep, p[0], p[1]]);
    add(ep, p[0], IN | ET, 1)?;
    add(ep, p[1], OUT | ET, 2)?;
    ensure_eq!(wait(ep, 4, 0)?, vec![(OUT, 2)], "writable at ADD");
    ensure_eq!(wait(ep, 4, 0)?, vec![], "no new edge");
    unsafe { libc::write(p[1], b"x".as_ptr().cast(), 1) };
    ensure_eq!(wait(ep, 4, 0)?, vec![(IN, 1)], "first write");
    ensure_eq!(wait(ep, 4, 0)?, vec![], "no new edge");
    unsafe { libc::write(p[1], b"y".as_ptr().cast(), 1) };
    ensure_eq!(
        wait(ep, 4, 0)?,
        vec![(IN, 1)],
        "a second write while unread"
    );
    drain(p[0]);
    let got = wait(ep, 4, 0)?;
    ensure!(
        got.iter().all(|&(ev, d)| d == 2 && ev == OUT),
        "after draining: {got:?}"
    );
    Ok(())
}

fn edge_out_only_keyed() -> CheckResult {
    // An interest in writability only: a write (an input event) makes no edge, a read
    // (room made) does.
    let ep = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, e]);
    add(ep, e, OUT | ET, 4)?;
    ensure_eq!(wait(ep, 4, 0)?, vec![(OUT, 4)], "writable at ADD");
    bump(e);
    ensure_eq!(wait(ep, 4, 0)?, vec![], "a write is no edge for EPOLLOUT");
    drain(e);
    ensure_eq!(
        wait(ep, 4, 0)?,
        vec![(OUT, 4)],
        "a read is an edge for EPOLLOUT"
    );
    // MOD to IN|OUT: now writes count.
    sys_ok("MOD", || ctl(ep, libc::EPOLL_CTL_MOD, e, IN | OUT | ET, 5))?;
    ensure_eq!(wait(ep, 4, 0)?, vec![(OUT, 5)], "after MOD");
    bump(e);
    ensure_eq!(
        wait(ep, 4, 0)?,
        vec![(IN | OUT, 5)],
        "a write with IN in the interest"
    );
    Ok(())
}

fn oneshot_rearm() -> CheckResult {
    let ep = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, e]);
    add(ep, e, IN | ONESHOT, 3)?;
    bump(e);
    ensure_eq!(wait(ep, 4, 0)?, vec![(IN, 3)], "first event");
    ensure_eq!(wait(ep, 4, 0)?, vec![], "disabled after one event");
    bump(e);
    ensure_eq!(wait(ep, 4, 0)?, vec![], "still disabled after a write");
    sys_ok("MOD re-arm", || {
        ctl(ep, libc::EPOLL_CTL_MOD, e, IN | ONESHOT, 4)
    })?;
    ensure_eq!(
        wait(ep, 4, 0)?,
        vec![(IN, 4)],
        "re-armed, with the new data"
    );
    ensure_eq!(wait(ep, 4, 0)?, vec![], "disabled again");
    expect_sys_errno(
        "ADD again while disabled",
        || ctl(ep, libc::EPOLL_CTL_ADD, e, IN, 0),
        libc::EEXIST,
    )?;
    Ok(())
}

fn rdhup_after_half_close() -> CheckResult {
    let mut sv = [0 as c_int; 2];
    sys_ok("socketpair", || unsafe {
        syscall!(
            libc::SYS_socketpair,
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK,
            0,
            sv.as_mut_ptr()
        )
    })?;
    let ep = epoll()?;
    let _g = Fds(vec![ep, sv[0], sv[1]]);
    add(ep, sv[0], IN | RDHUP | ET, 9)?;
    ensure_eq!(wait(ep, 4, 0)?, vec![], "nothing yet");
    sys_ok("shutdown(SHUT_WR)", || unsafe {
        syscall!(libc::SYS_shutdown, sv[1], libc::SHUT_WR)
    })?;
    ensure_eq!(
        wait(ep, 4, 1000)?,
        vec![(IN | RDHUP, 9)],
        "after the peer's SHUT_WR"
    );
    let mut b = [0u8; 4];
    ensure_eq!(
        unsafe { libc::read(sv[0], b.as_mut_ptr().cast(), 4) },
        0,
        "EOF"
    );
    // The other direction still works.
    ensure_eq!(
        unsafe { libc::write(sv[0], b"ok".as_ptr().cast(), 2) },
        2,
        "write back"
    );
    Ok(())
}

fn hup_pipe_writer_closed() -> CheckResult {
    let ep = epoll()?;
    let p = pipe(0)?;
    let _g = Fds(vec![ep, p[0]]);
    add(ep, p[0], IN, 1)?;
    close(p[1]);
    ensure_eq!(wait(ep, 4, 0)?, vec![(HUP, 1)], "writer closed");
    Ok(())
}

fn exclusive() -> CheckResult {
    let ep = epoll()?;
    let inner = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, inner, e]);
    expect_sys_errno(
        "EXCLUSIVE|ONESHOT",
        || ctl(ep, libc::EPOLL_CTL_ADD, e, IN | EXCLUSIVE | ONESHOT, 0),
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "EXCLUSIVE on an epoll",
        || ctl(ep, libc::EPOLL_CTL_ADD, inner, IN | EXCLUSIVE, 0),
        libc::EINVAL,
    )?;
    add(ep, e, IN | EXCLUSIVE, 6)?;
    expect_sys_errno(
        "MOD of an exclusive interest",
        || ctl(ep, libc::EPOLL_CTL_MOD, e, IN, 0),
        libc::EINVAL,
    )?;
    bump(e);
    ensure_eq!(wait(ep, 4, 0)?, vec![(IN, 6)], "exclusive interest reports");
    // Two epolls with exclusive interests in one eventfd, a waiter on each: a write
    // wakes at least one.
    let ep2 = epoll()?;
    let _g2 = Fds(vec![ep2]);
    drain(e);
    add(ep2, e, IN | EXCLUSIVE, 7)?;
    let hs: Vec<_> = [ep, ep2]
        .into_iter()
        .map(|x| std::thread::spawn(move || wait(x, 4, 1500).map(|v| v.len())))
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    bump(e);
    let mut woken = 0;
    for h in hs {
        woken += join(h)??;
    }
    ensure!(woken >= 1, "no waiter saw the write");
    Ok(())
}

fn keyed_by_description() -> CheckResult {
    let ep = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let d = unsafe { libc::dup(e) };
    let _g = Fds(vec![ep]);
    add(ep, e, IN, 1)?;
    add(ep, d, IN, 2)?; // a different descriptor of the same description: its own interest
    bump(e);
    let mut got = wait(ep, 4, 0)?;
    got.sort();
    ensure_eq!(got, vec![(IN, 1), (IN, 2)], "both interests");
    // Closing one descriptor keeps its interest: the description is still open.
    close(e);
    let mut got = wait(ep, 4, 0)?;
    got.sort();
    ensure_eq!(
        got,
        vec![(IN, 1), (IN, 2)],
        "after closing the first descriptor"
    );
    expect_sys_errno(
        "DEL by the closed number",
        || ctl(ep, libc::EPOLL_CTL_DEL, e, 0, 0),
        libc::EBADF,
    )?;
    // Once the description is gone, so are its interests.
    close(d);
    ensure_eq!(wait(ep, 4, 0)?, vec![], "after closing every descriptor");
    Ok(())
}

fn nested_epoll() -> CheckResult {
    let outer = epoll()?;
    let inner = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![outer, inner, e]);
    add(inner, e, IN, 1)?;
    add(outer, inner, IN, 2)?;
    ensure_eq!(wait(outer, 4, 0)?, vec![], "nothing ready");
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        bump(e);
    });
    let got = wait(outer, 4, 5000)?;
    join(h)?;
    ensure_eq!(got, vec![(IN, 2)], "outer sees the inner epoll readable");
    ensure_eq!(
        wait(inner, 4, 0)?,
        vec![(IN, 1)],
        "inner reports the eventfd"
    );
    let mut pfd = libc::pollfd {
        fd: inner,
        events: libc::POLLIN,
        revents: 0,
    };
    unsafe { libc::poll(&mut pfd, 1, 0) };
    ensure_eq!(
        pfd.revents,
        libc::POLLIN,
        "poll of an epoll with a ready interest"
    );
    drain(e);
    ensure_eq!(wait(outer, 4, 0)?, vec![], "after draining");
    Ok(())
}

fn ready_at_add_and_mod() -> CheckResult {
    let ep = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, e]);
    bump(e);
    add(ep, e, IN | ET, 8)?;
    ensure_eq!(
        wait(ep, 4, 0)?,
        vec![(IN, 8)],
        "readiness present at ADD (edge-triggered)"
    );
    ensure_eq!(wait(ep, 4, 0)?, vec![], "once");
    sys_ok("MOD", || ctl(ep, libc::EPOLL_CTL_MOD, e, IN | OUT | ET, 9))?;
    ensure_eq!(
        wait(ep, 4, 0)?,
        vec![(IN | OUT, 9)],
        "readiness present at MOD"
    );
    Ok(())
}

fn dup_epfd_two_threads() -> CheckResult {
    let ep = epoll()?;
    let ep2 = unsafe { libc::dup(ep) };
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, ep2, e]);
    let h = std::thread::spawn(move || {
        let t = Instant::now();
        (wait(ep, 4, 5000), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    bump(e);
    // The interest is added through the copy while the thread sleeps on the original.
    add(ep2, e, IN | ET, 21)?;
    let (got, waited) = join(h)?;
    ensure_eq!(got?, vec![(IN, 21)], "the waiting thread's events");
    ensure!(waited < Duration::from_secs(4), "woken after {waited:?}");
    Ok(())
}

fn maxevents() -> CheckResult {
    let ep = epoll()?;
    let es = [efd(0)?, efd(0)?, efd(0)?];
    let _g = Fds(vec![ep, es[0], es[1], es[2]]);
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    expect_sys_errno(
        "maxevents 0",
        || unsafe { syscall!(libc::SYS_epoll_wait, ep, out.as_mut_ptr(), 0, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "maxevents -1",
        || unsafe { syscall!(libc::SYS_epoll_wait, ep, out.as_mut_ptr(), -1, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "kernel events pointer",
        || unsafe { syscall!(libc::SYS_epoll_wait, ep, 0xffff_ffff_ff00_0000u64, 4, 0) },
        libc::EFAULT,
    )?;
    let e = es[0];
    expect_sys_errno(
        "epoll_wait on an eventfd",
        || unsafe { syscall!(libc::SYS_epoll_wait, e, out.as_mut_ptr(), 4, 0) },
        libc::EINVAL,
    )?;
    for (i, &fd) in es.iter().enumerate() {
        bump(fd);
        add(ep, fd, IN, 100 + i as u64)?;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let got = wait(ep, 1, 0)?;
        ensure_eq!(got.len(), 1, "maxevents 1");
        seen.push(got[0].1);
    }
    seen.sort();
    ensure_eq!(
        seen,
        vec![100, 101, 102],
        "every ready interest is reported in turn"
    );
    let mut all = wait(ep, 8, 0)?;
    all.sort();
    ensure_eq!(all, vec![(IN, 100), (IN, 101), (IN, 102)], "all at once");
    Ok(())
}

fn epoll_wait_timeouts() -> CheckResult {
    let ep = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, e]);
    add(ep, e, IN, 1)?;
    let t = Instant::now();
    ensure_eq!(wait(ep, 4, 0)?, vec![], "timeout 0");
    ensure!(
        t.elapsed() < Duration::from_millis(500),
        "timeout 0 took {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    ensure_eq!(wait(ep, 4, 60)?, vec![], "timeout 60 ms");
    let el = t.elapsed();
    ensure!(
        el >= Duration::from_millis(60) && el < Duration::from_secs(3),
        "a 60 ms timeout took {el:?}"
    );
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(80));
        bump(e);
    });
    let t = Instant::now();
    let got = wait(ep, 4, -1)?;
    let el = t.elapsed();
    join(h)?;
    ensure_eq!(got, vec![(IN, 1)], "timeout -1 ends with the event");
    ensure!(
        el >= Duration::from_millis(60),
        "infinite wait ended after {el:?}"
    );
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let n = sys_ok("epoll_pwait(NULL mask)", || unsafe {
        syscall!(libc::SYS_epoll_pwait, ep, out.as_mut_ptr(), 4, 0, 0, 8)
    })?;
    ensure_eq!(n, 1, "epoll_pwait without a mask");
    Ok(())
}

fn pwait2(ep: c_int, ts: Option<libc::timespec>) -> c_long {
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let tp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    unsafe { syscall!(libc::SYS_epoll_pwait2, ep, out.as_mut_ptr(), 4, tp, 0, 8) }
}

fn epoll_pwait2_timeouts() -> CheckResult {
    let ep = epoll()?;
    let e = efd(libc::EFD_NONBLOCK)?;
    let _g = Fds(vec![ep, e]);
    add(ep, e, IN, 1)?;
    let t = Instant::now();
    ensure_eq!(
        sys_ok("epoll_pwait2({0,0})", || pwait2(
            ep,
            Some(libc::timespec {
                tv_sec: 0,
                tv_nsec: 0
            })
        ))?,
        0,
        "zero timespec"
    );
    ensure!(
        t.elapsed() < Duration::from_millis(500),
        "zero timeout took {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    ensure_eq!(
        sys_ok("epoll_pwait2(50 ms)", || pwait2(
            ep,
            Some(libc::timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000
            })
        ))?,
        0,
        "50 ms"
    );
    let el = t.elapsed();
    ensure!(
        el >= Duration::from_millis(50) && el < Duration::from_secs(3),
        "a 50 ms timeout took {el:?}"
    );
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        bump(e);
    });
    let n = sys_ok("epoll_pwait2(NULL)", || pwait2(ep, None))?;
    join(h)?;
    ensure_eq!(n, 1, "NULL timeout waits for the event");
    expect_sys_errno(
        "epoll_pwait2(nsec 1e9)",
        || {
            pwait2(
                ep,
                Some(libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 1_000_000_000,
                }),
            )
        },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "epoll_pwait2(sec -1)",
        || {
            pwait2(
                ep,
                Some(libc::timespec {
                    tv_sec: -1,
                    tv_nsec: 0,
                }),
            )
        },
        libc::EINVAL,
    )?;
    Ok(())
}

/// A thread that sends SIG to this thread after `ms`.
fn signal_me_after(ms: u64) -> std::thread::JoinHandle<()> {
    let (pid, tid) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid) as c_int) };
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, SIG) };
    })
}

fn empty_sigset() -> u64 {
    0
}

fn epoll_pwait_sigmask() -> CheckResult {
    let ep = epoll()?;
    let _g = Fds(vec![ep]);
    SIGNALS.store(0, Ordering::SeqCst);
    // Blocked: a plain epoll_wait times out and the signal stays pending.
    let h = signal_me_after(20);
    let got = wait(ep, 4, 150)?;
    join(h)?;
    ensure_eq!(got, vec![], "signal blocked during epoll_wait");
    ensure_eq!(
        SIGNALS.load(Ordering::SeqCst),
        0,
        "handler ran while blocked"
    );
    // epoll_pwait with an empty mask lets the pending signal in: EINTR.
    let mask = empty_sigset();
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    expect_sys_errno(
        "epoll_pwait(empty mask)",
        || unsafe {
            syscall!(
                libc::SYS_epoll_pwait,
                ep,
                out.as_mut_ptr(),
                4,
                5000,
                &raw const mask,
                8
            )
        },
        libc::EINTR,
    )?;
    ensure_eq!(SIGNALS.load(Ordering::SeqCst), 1, "handler ran once");
    // A signal arriving during the wait.
    let h = signal_me_after(50);
    let t = Instant::now();
    expect_sys_errno(
        "epoll_pwait(empty mask), signal later",
        || unsafe {
            syscall!(
                libc::SYS_epoll_pwait,
                ep,
                out.as_mut_ptr(),
                4,
                5000,
                &raw const mask,
                8
            )
        },
        libc::EINTR,
    )?;
    join(h)?;
    ensure!(
        t.elapsed() < Duration::from_secs(4),
        "EINTR after {:?}",
        t.elapsed()
    );
    ensure_eq!(SIGNALS.load(Ordering::SeqCst), 2, "handler ran twice");
    expect_sys_errno(
        "epoll_pwait(sigsetsize 4)",
        || unsafe {
            syscall!(
                libc::SYS_epoll_pwait,
                ep,
                out.as_mut_ptr(),
                4,
                0,
                &raw const mask,
                4
            )
        },
        libc::EINVAL,
    )?;
    // The mask is back: still blocked.
    let mut cur: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur) };
    ensure_eq!(
        unsafe { libc::sigismember(&cur, SIG) },
        1,
        "mask restored after epoll_pwait"
    );
    Ok(())
}

fn poll_raw(fds: &mut [libc::pollfd], timeout: c_int) -> c_long {
    unsafe { syscall!(libc::SYS_poll, fds.as_mut_ptr(), fds.len(), timeout) }
}

fn poll_timeouts() -> CheckResult {
    let p = pipe(0)?;
    let _g = Fds(vec![p[0], p[1]]);
    let mut fds = [libc::pollfd {
        fd: p[0],
        events: libc::POLLIN,
        revents: 0,
    }];
    let t = Instant::now();
    ensure_eq!(poll_raw(&mut fds, 0), 0, "timeout 0");
    ensure!(
        t.elapsed() < Duration::from_millis(500),
        "timeout 0 took {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    ensure_eq!(poll_raw(&mut fds, 50), 0, "timeout 50 ms");
    let el = t.elapsed();
    ensure!(
        el >= Duration::from_millis(50) && el < Duration::from_secs(3),
        "50 ms took {el:?}"
    );
    let w = p[1];
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        unsafe { libc::write(w, b"x".as_ptr().cast(), 1) };
    });
    let n = poll_raw(&mut fds, -1);
    join(h)?;
    ensure_eq!(
        (n, fds[0].revents),
        (1, libc::POLLIN),
        "timeout -1 ends with the data"
    );
    let mut none: [libc::pollfd; 0] = [];
    let t = Instant::now();
    ensure_eq!(poll_raw(&mut none, 30), 0, "no fds, 30 ms (a sleep)");
    ensure!(
        t.elapsed() >= Duration::from_millis(30),
        "poll(NULL, 0, 30) took {:?}",
        t.elapsed()
    );
    Ok(())
}

fn poll_nval_and_negative() -> CheckResult {
    let p = pipe(0)?;
    let _g = Fds(vec![p[0], p[1]]);
    let mut fds = [
        libc::pollfd {
            fd: 9999,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: -1,
            events: libc::POLLIN,
            revents: 77,
        },
        libc::pollfd {
            fd: p[1],
            events: libc::POLLOUT,
            revents: 0,
        },
        libc::pollfd {
            fd: p[0],
            events: 0,
            revents: 0,
        },
    ];
    let n = poll_raw(&mut fds, 0);
    ensure_eq!(n, 2, "ready count");
    ensure_eq!(fds[0].revents, libc::POLLNVAL, "closed fd");
    ensure_eq!(fds[1].revents, 0, "negative fd ignored, revents cleared");
    ensure_eq!(fds[2].revents, libc::POLLOUT, "writable pipe");
    ensure_eq!(fds[3].revents, 0, "no events asked");
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    let too_many = rl.rlim_cur as usize + 1;
    expect_sys_errno(
        "poll(nfds > RLIMIT_NOFILE)",
        || unsafe { syscall!(libc::SYS_poll, fds.as_mut_ptr(), too_many, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "poll(bad pointer)",
        || unsafe { syscall!(libc::SYS_poll, 8, 1, 0) },
        libc::EFAULT,
    )?;
    Ok(())
}

fn ppoll_raw(fds: &mut [libc::pollfd], ts: Option<libc::timespec>, mask: Option<&u64>) -> c_long {
    let tp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let mp = mask.map_or(std::ptr::null(), |m| m as *const u64);
    unsafe { syscall!(libc::SYS_ppoll, fds.as_mut_ptr(), fds.len(), tp, mp, 8) }
}

fn ppoll_timeouts_and_mask() -> CheckResult {
    let p = pipe(0)?;
    let _g = Fds(vec![p[0], p[1]]);
    let mut fds = [libc::pollfd {
        fd: p[0],
        events: libc::POLLIN,
        revents: 0,
    }];
    ensure_eq!(
        ppoll_raw(
            &mut fds,
            Some(libc::timespec {
                tv_sec: 0,
                tv_nsec: 0
            }),
            None
        ),
        0,
        "zero timespec"
    );
    let t = Instant::now();
    ensure_eq!(
        ppoll_raw(
            &mut fds,
            Some(libc::timespec {
                tv_sec: 0,
                tv_nsec: 40_000_000
            }),
            None
        ),
        0,
        "40 ms"
    );
    ensure!(
        t.elapsed() >= Duration::from_millis(40),
        "40 ms took {:?}",
        t.elapsed()
    );
    let w = p[1];
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        unsafe { libc::write(w, b"x".as_ptr().cast(), 1) };
    });
    let n = ppoll_raw(&mut fds, None, None);
    join(h)?;
    ensure_eq!(
        (n, fds[0].revents),
        (1, libc::POLLIN),
        "NULL timeout ends with the data"
    );
    drain(p[0]);
    expect_sys_errno(
        "ppoll(nsec 1e9)",
        || {
            ppoll_raw(
                &mut fds,
                Some(libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 1_000_000_000,
                }),
                None,
            )
        },
        libc::EINVAL,
    )?;
    SIGNALS.store(0, Ordering::SeqCst);
    let h = signal_me_after(40);
    let empty = empty_sigset();
    expect_sys_errno(
        "ppoll(empty mask)",
        || {
            ppoll_raw(
                &mut fds,
                Some(libc::timespec {
                    tv_sec: 5,
                    tv_nsec: 0,
                }),
                Some(&empty),
            )
        },
        libc::EINTR,
    )?;
    join(h)?;
    ensure_eq!(SIGNALS.load(Ordering::SeqCst), 1, "handler ran");
    Ok(())
}

type FdSet = [u64; 16];

fn select_raw(
    nfds: c_int,
    r: Option<&mut FdSet>,
    w: Option<&mut FdSet>,
    tv: Option<&mut libc::timeval>,
) -> c_long {
    let rp = r.map_or(std::ptr::null_mut(), |s| s as *mut FdSet);
    let wp = w.map_or(std::ptr::null_mut(), |s| s as *mut FdSet);
    let tp = tv.map_or(std::ptr::null_mut(), |t| t as *mut libc::timeval);
    unsafe { syscall!(libc::SYS_select, nfds, rp, wp, 0, tp) }
}

fn set_of(fds: &[c_int]) -> FdSet {
    let mut s = [0u64; 16];
    for &fd in fds {
        s[fd as usize / 64] |= 1 << (fd % 64);
    }
    s
}

fn is_set(s: &FdSet, fd: c_int) -> bool {
    s[fd as usize / 64] & (1 << (fd % 64)) != 0
}

fn select_timeouts() -> CheckResult {
    let p = pipe(0)?;
    let _g = Fds(vec![p[0], p[1]]);
    let n = p[0].max(p[1]) + 1;
    let mut r = set_of(&[p[0]]);
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    ensure_eq!(
        select_raw(n, Some(&mut r), None, Some(&mut tv)),
        0,
        "zero timeval"
    );
    ensure!(!is_set(&r, p[0]), "set cleared");
    let mut r = set_of(&[p[0]]);
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 40_000,
    };
    let t = Instant::now();
    ensure_eq!(select_raw(n, Some(&mut r), None, Some(&mut tv)), 0, "40 ms");
    ensure!(
        t.elapsed() >= Duration::from_millis(40),
        "40 ms took {:?}",
        t.elapsed()
    );
    ensure_eq!((tv.tv_sec, tv.tv_usec), (0, 0), "timeval after a timeout");
    let w = p[1];
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        unsafe { libc::write(w, b"x".as_ptr().cast(), 1) };
    });
    let mut r = set_of(&[p[0]]);
    let got = select_raw(n, Some(&mut r), None, None);
    join(h)?;
    ensure_eq!(got, 1, "NULL timeout ends with the data");
    ensure!(is_set(&r, p[0]), "read end set");
    // The time left is written back.
    let mut r = set_of(&[p[0]]);
    let mut tv = libc::timeval {
        tv_sec: 5,
        tv_usec: 0,
    };
    ensure_eq!(
        select_raw(n, Some(&mut r), None, Some(&mut tv)),
        1,
        "ready at once"
    );
    ensure!(
        tv.tv_sec >= 4 && tv.tv_sec <= 5,
        "time left {}.{:06}",
        tv.tv_sec,
        tv.tv_usec
    );
    let t = Instant::now();
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 30_000,
    };
    ensure_eq!(
        select_raw(0, None, None, Some(&mut tv)),
        0,
        "select as a sleep"
    );
    ensure!(
        t.elapsed() >= Duration::from_millis(30),
        "sleep took {:?}",
        t.elapsed()
    );
    Ok(())
}

fn select_sets_and_errors() -> CheckResult {
    let p = pipe(0)?;
    let _g = Fds(vec![p[0], p[1]]);
    let n = p[0].max(p[1]) + 1;
    let mut r = set_of(&[p[0]]);
    let mut w = set_of(&[p[1], p[0]]);
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    ensure_eq!(
        select_raw(n, Some(&mut r), Some(&mut w), Some(&mut tv)),
        1,
        "only the write end is ready"
    );
    ensure!(
        is_set(&w, p[1]) && !is_set(&w, p[0]) && !is_set(&r, p[0]),
        "sets"
    );
    // A descriptor number that is surely closed: make one, then close it (fd 100 may be
    // open, inherited from whoever started the test).
    let closed = unsafe { libc::fcntl(p[0], libc::F_DUPFD, 100) };
    ensure!(closed >= 100, "F_DUPFD failed");
    unsafe { libc::close(closed) };
    let mut bad = set_of(&[closed]);
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    expect_sys_errno(
        "select(closed fd)",
        || select_raw(closed + 1, Some(&mut bad), None, Some(&mut tv)),
        libc::EBADF,
    )?;
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    expect_sys_errno(
        "select(nfds -1)",
        || select_raw(-1, None, None, Some(&mut tv)),
        libc::EINVAL,
    )?;
    let mut tv = libc::timeval {
        tv_sec: -1,
        tv_usec: 0,
    };
    expect_sys_errno(
        "select(negative timeval)",
        || select_raw(0, None, None, Some(&mut tv)),
        libc::EINVAL,
    )?;
    // Descriptors at or above nfds are not looked at.
    let mut r = set_of(&[p[0], 100]);
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    ensure_eq!(
        select_raw(n, Some(&mut r), None, Some(&mut tv)),
        0,
        "bits above nfds ignored"
    );
    Ok(())
}

fn pselect_raw(
    nfds: c_int,
    r: Option<&mut FdSet>,
    ts: Option<libc::timespec>,
    mask: Option<&u64>,
) -> c_long {
    let rp = r.map_or(std::ptr::null_mut(), |s| s as *mut FdSet);
    let tp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let sig = [mask.map_or(0, |m| m as *const u64 as usize), 8usize];
    unsafe { syscall!(libc::SYS_pselect6, nfds, rp, 0, 0, tp, sig.as_ptr()) }
}

fn pselect6_timeouts_and_mask() -> CheckResult {
    let p = pipe(0)?;
    let _g = Fds(vec![p[0], p[1]]);
    let n = p[0] + 1;
    let mut r = set_of(&[p[0]]);
    ensure_eq!(
        pselect_raw(
            n,
            Some(&mut r),
            Some(libc::timespec {
                tv_sec: 0,
                tv_nsec: 0
            }),
            None
        ),
        0,
        "zero timespec"
    );
    let mut r = set_of(&[p[0]]);
    let t = Instant::now();
    ensure_eq!(
        pselect_raw(
            n,
            Some(&mut r),
            Some(libc::timespec {
                tv_sec: 0,
                tv_nsec: 40_000_000
            }),
            None
        ),
        0,
        "40 ms"
    );
    ensure!(
        t.elapsed() >= Duration::from_millis(40),
        "40 ms took {:?}",
        t.elapsed()
    );
    let w = p[1];
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        unsafe { libc::write(w, b"x".as_ptr().cast(), 1) };
    });
    let mut r = set_of(&[p[0]]);
    let got = pselect_raw(n, Some(&mut r), None, None);
    join(h)?;
    ensure_eq!(got, 1, "NULL timeout ends with the data");
    drain(p[0]);
    let mut r = set_of(&[p[0]]);
    expect_sys_errno(
        "pselect6(nsec 1e9)",
        || {
            pselect_raw(
                n,
                Some(&mut r),
                Some(libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 1_000_000_000,
                }),
                None,
            )
        },
        libc::EINVAL,
    )?;
    SIGNALS.store(0, Ordering::SeqCst);
    let h = signal_me_after(40);
    let empty = empty_sigset();
    let mut r = set_of(&[p[0]]);
    expect_sys_errno(
        "pselect6(empty mask)",
        || {
            pselect_raw(
                n,
                Some(&mut r),
                Some(libc::timespec {
                    tv_sec: 5,
                    tv_nsec: 0,
                }),
                Some(&empty),
            )
        },
        libc::EINTR,
    )?;
    join(h)?;
    ensure_eq!(SIGNALS.load(Ordering::SeqCst), 1, "handler ran");
    let mut cur: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur) };
    ensure_eq!(
        unsafe { libc::sigismember(&cur, SIG) },
        1,
        "mask restored after pselect6"
    );
    Ok(())
}
