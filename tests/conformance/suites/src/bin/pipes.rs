//! `pipes` suite: `pipe`/`pipe2` as Linux implements them.
//!
//! Covers: `pipe2` flags (O_CLOEXEC on both descriptors, O_NONBLOCK on both
//! descriptions, EINVAL for unknown flags, EFAULT), the ends' access modes (EBADF for
//! the wrong direction), `fstat` (S_IFIFO, one inode); the 64 KiB default capacity
//! (F_GETPIPE_SZ, a non-blocking writer fills exactly 65536 bytes, then EAGAIN),
//! F_SETPIPE_SZ (rounded up to a power-of-two number of pages, EBUSY below the data
//! held); PIPE_BUF atomicity (a non-blocking write of <= 4096 bytes that does not fit is
//! EAGAIN, never partial; a larger one is partial; four threads writing 4096-byte
//! records concurrently never interleave them); reads return what is there; EOF after
//! the last writer closes (also one held by a child); EPIPE with SIGPIPE ignored,
//! death by SIGPIPE with the default action, the handler run and EPIPE with a
//! handler; O_NONBLOCK EAGAIN on an empty pipe and F_SETFL toggling it; FIONREAD;
//! blocking reads and writes woken by the other end (threads); poll readiness
//! (POLLIN, POLLOUT, POLLHUP, POLLERR); zero-length reads and writes; 8 MiB through
//! a pipe between two processes with a checksum.

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PIPE_BUF: usize = 4096;
const F_SETPIPE_SZ: c_int = 1031;
const F_GETPIPE_SZ: c_int = 1032;

fn main() {
    let mut s = Suite::new("pipes");
    s.check("pipe2_flags", pipe2_flags);
    s.check("ends_are_one_way", ends_are_one_way);
    s.check("fstat_fifo", fstat_fifo);
    s.check("capacity_64k", capacity_64k);
    s.check("setpipe_sz", setpipe_sz);
    s.check("pipe_buf_atomic_nonblock", pipe_buf_atomic_nonblock);
    s.check("pipe_buf_atomic_threads", pipe_buf_atomic_threads);
    s.check("read_returns_available", read_returns_available);
    s.check("eof_after_writers_close", eof_after_writers_close);
    s.check("epipe_sigpipe_ignored", epipe_sigpipe_ignored);
    s.check("sigpipe_default_kills", sigpipe_default_kills);
    s.check("sigpipe_handler", sigpipe_handler);
    s.check("nonblock_eagain", nonblock_eagain);
    s.check("fionread", fionread);
    s.check("blocking_read_woken", blocking_read_woken);
    s.check("blocking_write_woken", blocking_write_woken);
    s.check("poll_readiness", poll_readiness);
    s.check("zero_length_io", zero_length_io);
    s.check("bulk_between_processes", bulk_between_processes);
    s.finish();
}

fn pipe2(flags: c_int) -> Result<[c_int; 2], String> {
    let mut fds = [0 as c_int; 2];
    sys_ok("pipe2", || unsafe {
        syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), flags)
    })?;
    Ok(fds)
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

fn close2(p: [c_int; 2]) {
    close(p[0]);
    close(p[1]);
}

fn write_raw(fd: c_int, data: &[u8]) -> c_long {
    unsafe { syscall!(libc::SYS_write, fd, data.as_ptr(), data.len()) }
}

fn read_raw(fd: c_int, buf: &mut [u8]) -> c_long {
    unsafe { syscall!(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) }
}

fn set_nonblock(fd: c_int, on: bool) {
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(
            fd,
            libc::F_SETFL,
            if on {
                fl | libc::O_NONBLOCK
            } else {
                fl & !libc::O_NONBLOCK
            },
        );
    }
}

/// Fills a non-blocking pipe with page-sized writes (Linux counts a pipe's capacity in
/// pages: a write that does not fit in the last partly filled page starts a new one);
/// returns the bytes written before EAGAIN.
fn fill(w: c_int) -> Result<usize, String> {
    let chunk = [b'f'; 4096];
    let mut total = 0;
    loop {
        checks::clear_errno();
        let n = write_raw(w, &chunk);
        if n < 0 {
            let e = checks::errno();
            ensure_eq!(e, libc::EAGAIN, "errno when full");
            return Ok(total);
        }
        total += n as usize;
        ensure!(total <= 1 << 22, "the pipe never fills");
    }
}

fn pipe2_flags() -> CheckResult {
    let p = pipe2(libc::O_CLOEXEC | libc::O_NONBLOCK)?;
    let r = (|| -> CheckResult {
        for fd in p {
            ensure_eq!(
                unsafe { libc::fcntl(fd, libc::F_GETFD) },
                libc::FD_CLOEXEC,
                "FD_CLOEXEC of fd {}",
                fd
            );
            ensure!(
                unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK != 0,
                "O_NONBLOCK of fd {fd}"
            );
        }
        ensure_eq!(
            unsafe { libc::fcntl(p[0], libc::F_GETFL) } & libc::O_ACCMODE,
            libc::O_RDONLY,
            "read end mode"
        );
        ensure_eq!(
            unsafe { libc::fcntl(p[1], libc::F_GETFL) } & libc::O_ACCMODE,
            libc::O_WRONLY,
            "write end mode"
        );
        Ok(())
    })();
    close2(p);
    r?;
    let p = pipe2(0)?;
    let cloexec = unsafe { libc::fcntl(p[0], libc::F_GETFD) };
    close2(p);
    ensure_eq!(cloexec, 0, "FD_CLOEXEC without O_CLOEXEC");
    let mut fds = [0 as c_int; 2];
    expect_sys_errno(
        "pipe2(bad flags)",
        || unsafe {
            syscall!(
                libc::SYS_pipe2,
                fds.as_mut_ptr(),
                libc::O_RDWR | 0x1000_0000
            )
        },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "pipe2(NULL)",
        || unsafe { syscall!(libc::SYS_pipe2, 0, 0) },
        libc::EFAULT,
    )?;
    let p = sys_ok("pipe", || unsafe {
        syscall!(libc::SYS_pipe, fds.as_mut_ptr())
    });
    close2(fds);
    p?;
    Ok(())
}

fn ends_are_one_way() -> CheckResult {
    let p = pipe2(0)?;
    let mut b = [0u8; 1];
    let r = expect_sys_errno("write(read end)", || write_raw(p[0], b"x"), libc::EBADF)
        .and_then(|_| expect_sys_errno("read(write end)", || read_raw(p[1], &mut b), libc::EBADF));
    close2(p);
    r
}

fn fstat_fifo() -> CheckResult {
    let p = pipe2(0)?;
    let mut a: libc::stat = unsafe { std::mem::zeroed() };
    let mut b: libc::stat = unsafe { std::mem::zeroed() };
    unsafe {
        libc::fstat(p[0], &mut a);
        libc::fstat(p[1], &mut b);
    }
    close2(p);
    ensure_eq!(a.st_mode & libc::S_IFMT, libc::S_IFIFO, "read end type");
    ensure_eq!(b.st_mode & libc::S_IFMT, libc::S_IFIFO, "write end type");
    ensure_eq!(a.st_ino, b.st_ino, "one inode");
    Ok(())
}

fn capacity_64k() -> CheckResult {
    let p = pipe2(libc::O_NONBLOCK)?;
    let r = (|| -> CheckResult {
        let sz = sys_ok("F_GETPIPE_SZ", || unsafe {
            syscall!(libc::SYS_fcntl, p[1], F_GETPIPE_SZ)
        })?;
        ensure_eq!(sz, 65536, "F_GETPIPE_SZ");
        ensure_eq!(fill(p[1])?, 65536, "bytes a non-blocking writer fits");
        let mut buf = vec![0u8; 70000];
        ensure_eq!(read_raw(p[0], &mut buf), 65536, "bytes read back");
        Ok(())
    })();
    close2(p);
    r
}

fn setpipe_sz() -> CheckResult {
    let p = pipe2(libc::O_NONBLOCK)?;
    let r = (|| -> CheckResult {
        let set = |n: c_long| unsafe { syscall!(libc::SYS_fcntl, p[1], F_SETPIPE_SZ, n) };
        ensure_eq!(sys_ok("F_SETPIPE_SZ(4096)", || set(4096))?, 4096, "4096");
        ensure_eq!(
            unsafe { syscall!(libc::SYS_fcntl, p[0], F_GETPIPE_SZ) },
            4096,
            "seen from the read end"
        );
        ensure_eq!(fill(p[1])?, 4096, "capacity after F_SETPIPE_SZ(4096)");
        let mut buf = vec![0u8; 8192];
        read_raw(p[0], &mut buf);
        ensure_eq!(sys_ok("F_SETPIPE_SZ(8192)", || set(8192))?, 8192, "8192");
        ensure_eq!(fill(p[1])?, 8192, "capacity after F_SETPIPE_SZ(8192)");
        expect_sys_errno(
            "F_SETPIPE_SZ below the data held",
            || set(4096),
            libc::EBUSY,
        )?;
        read_raw(p[0], &mut buf);
        ensure_eq!(
            sys_ok("F_SETPIPE_SZ(5000)", || set(5000))?,
            8192,
            "rounded up to pages"
        );
        ensure_eq!(
            sys_ok("F_SETPIPE_SZ(3 pages)", || set(3 * 4096))?,
            16384,
            "a power of two of pages"
        );
        ensure_eq!(
            sys_ok("F_SETPIPE_SZ(1 MiB)", || set(1 << 20))?,
            1 << 20,
            "1 MiB"
        );
        ensure_eq!(fill(p[1])?, 1 << 20, "capacity after F_SETPIPE_SZ(1 MiB)");
        Ok(())
    })();
    close2(p);
    r
}

fn pipe_buf_atomic_nonblock() -> CheckResult {
    let p = pipe2(libc::O_NONBLOCK)?;
    let r = (|| -> CheckResult {
        // Leave 4095 bytes free.
        let big = vec![b'a'; 65536 - 4095];
        ensure_eq!(write_raw(p[1], &big), big.len() as c_long, "prefill");
        let rec = vec![b'b'; PIPE_BUF];
        expect_sys_errno(
            "write(PIPE_BUF) into 4095 free bytes",
            || write_raw(p[1], &rec),
            libc::EAGAIN,
        )?;
        let small = vec![b'c'; 100];
        ensure_eq!(write_raw(p[1], &small), 100, "a write that fits");
        // More than PIPE_BUF may be split: part of it goes in (how much depends on how
        // the buffer is divided into pages), then the pipe is full.
        let large = vec![b'd'; PIPE_BUF + 1];
        let n = write_raw(p[1], &large);
        ensure!(
            n > 0 && n < large.len() as c_long,
            "write of PIPE_BUF+1 bytes into 3995 free bytes returned {n}"
        );
        expect_sys_errno(
            "write(PIPE_BUF) into a full pipe",
            || write_raw(p[1], &rec),
            libc::EAGAIN,
        )?;
        Ok(())
    })();
    close2(p);
    r
}

fn pipe_buf_atomic_threads() -> CheckResult {
    const WRITERS: u8 = 4;
    const RECORDS: usize = 64;
    let p = pipe2(0)?;
    let mut handles = Vec::new();
    for t in 0..WRITERS {
        let w = p[1];
        handles.push(std::thread::spawn(move || {
            let rec = vec![b'A' + t; PIPE_BUF];
            for _ in 0..RECORDS {
                if unsafe { libc::write(w, rec.as_ptr().cast(), PIPE_BUF) } != PIPE_BUF as isize {
                    return false;
                }
            }
            true
        }));
    }
    let total = WRITERS as usize * RECORDS * PIPE_BUF;
    let mut data = Vec::with_capacity(total);
    let mut buf = vec![0u8; 3000]; // deliberately not a multiple of PIPE_BUF
    while data.len() < total {
        let n = read_raw(p[0], &mut buf);
        if n <= 0 {
            break;
        }
        data.extend_from_slice(&buf[..n as usize]);
    }
    let mut ok = true;
    for h in handles {
        ok &= join(h)?;
    }
    close2(p);
    ensure!(ok, "a writer got a short write");
    ensure_eq!(data.len(), total, "bytes received");
    for (i, rec) in data.chunks(PIPE_BUF).enumerate() {
        ensure!(
            rec.iter().all(|&b| b == rec[0]),
            "record {i} is interleaved"
        );
    }
    Ok(())
}

fn read_returns_available() -> CheckResult {
    let p = pipe2(0)?;
    let r = (|| -> CheckResult {
        ensure_eq!(write_raw(p[1], b"abc"), 3, "write");
        let mut buf = [0u8; 100];
        ensure_eq!(
            read_raw(p[0], &mut buf),
            3,
            "read of a larger buffer returns what is there"
        );
        ensure_eq!(write_raw(p[1], b"defgh"), 5, "write");
        let mut two = [0u8; 2];
        ensure_eq!(read_raw(p[0], &mut two), 2, "short read");
        ensure_eq!(&two, b"de", "order");
        ensure_eq!(read_raw(p[0], &mut buf), 3, "rest");
        ensure_eq!(&buf[..3], b"fgh", "rest data");
        Ok(())
    })();
    close2(p);
    r
}

fn eof_after_writers_close() -> CheckResult {
    let p = pipe2(0)?;
    let w2 = unsafe { libc::dup(p[1]) };
    write_raw(p[1], b"last");
    close(p[1]);
    let mut buf = [0u8; 16];
    let r = (|| -> CheckResult {
        ensure_eq!(read_raw(p[0], &mut buf), 4, "data before EOF");
        set_nonblock(p[0], true);
        expect_sys_errno(
            "read with a writer (the dup) still open",
            || read_raw(p[0], &mut buf),
            libc::EAGAIN,
        )?;
        set_nonblock(p[0], false);
        // A child holds the last writer and closes it by exiting.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                libc::usleep(50_000);
                libc::_exit(0);
            }
        }
        close(w2);
        let t = Instant::now();
        ensure_eq!(
            read_raw(p[0], &mut buf),
            0,
            "read after every writer closed"
        );
        ensure!(
            t.elapsed() >= Duration::from_millis(30),
            "EOF before the child's copy closed"
        );
        ensure_eq!(read_raw(p[0], &mut buf), 0, "EOF again");
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        Ok(())
    })();
    close(p[0]);
    r
}

fn epipe_sigpipe_ignored() -> CheckResult {
    // Rust's runtime ignores SIGPIPE, as most programs do.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let p = pipe2(0)?;
    close(p[0]);
    let r = expect_sys_errno(
        "write with no reader",
        || write_raw(p[1], b"x"),
        libc::EPIPE,
    );
    close(p[1]);
    unsafe { libc::signal(libc::SIGPIPE, old) };
    r
}

fn sigpipe_default_kills() -> CheckResult {
    let p = pipe2(0)?;
    close(p[0]);
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::write(p[1], b"x".as_ptr().cast(), 1);
            libc::_exit(0);
        }
    }
    close(p[1]);
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    ensure!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGPIPE,
        "child status {status:#x}, expected death by SIGPIPE"
    );
    Ok(())
}

static GOT_SIGPIPE: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_sigpipe(sig: c_int) {
    GOT_SIGPIPE.store(sig, Ordering::SeqCst);
}

fn sigpipe_handler() -> CheckResult {
    GOT_SIGPIPE.store(0, Ordering::SeqCst);
    let old = unsafe { libc::signal(libc::SIGPIPE, on_sigpipe as *const () as usize) };
    let p = pipe2(0)?;
    close(p[0]);
    let r = expect_sys_errno(
        "write with no reader",
        || write_raw(p[1], b"x"),
        libc::EPIPE,
    );
    close(p[1]);
    unsafe { libc::signal(libc::SIGPIPE, old) };
    r?;
    ensure_eq!(GOT_SIGPIPE.load(Ordering::SeqCst), libc::SIGPIPE, "handler");
    Ok(())
}

fn nonblock_eagain() -> CheckResult {
    let p = pipe2(libc::O_NONBLOCK)?;
    let mut buf = [0u8; 8];
    let r = (|| -> CheckResult {
        expect_sys_errno(
            "read(empty, O_NONBLOCK)",
            || read_raw(p[0], &mut buf),
            libc::EAGAIN,
        )?;
        set_nonblock(p[0], false);
        set_nonblock(p[0], true);
        expect_sys_errno(
            "read after F_SETFL",
            || read_raw(p[0], &mut buf),
            libc::EAGAIN,
        )?;
        // FIONBIO is the same switch.
        let off: c_int = 0;
        sys_ok("FIONBIO(0)", || unsafe {
            syscall!(libc::SYS_ioctl, p[0], libc::FIONBIO, &raw const off)
        })?;
        ensure_eq!(
            unsafe { libc::fcntl(p[0], libc::F_GETFL) } & libc::O_NONBLOCK,
            0,
            "FIONBIO(0) cleared O_NONBLOCK"
        );
        Ok(())
    })();
    close2(p);
    r
}

fn fionread() -> CheckResult {
    let p = pipe2(0)?;
    let r = (|| -> CheckResult {
        let mut n: c_int = -1;
        sys_ok("FIONREAD", || unsafe {
            syscall!(libc::SYS_ioctl, p[0], libc::FIONREAD, &raw mut n)
        })?;
        ensure_eq!(n, 0, "FIONREAD of an empty pipe");
        write_raw(p[1], &[7u8; 1234]);
        sys_ok("FIONREAD", || unsafe {
            syscall!(libc::SYS_ioctl, p[0], libc::FIONREAD, &raw mut n)
        })?;
        ensure_eq!(n, 1234, "FIONREAD");
        Ok(())
    })();
    close2(p);
    r
}

fn blocking_read_woken() -> CheckResult {
    let p = pipe2(0)?;
    let w = p[1];
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        unsafe { libc::write(w, b"wake".as_ptr().cast(), 4) }
    });
    let t = Instant::now();
    let mut buf = [0u8; 8];
    let n = read_raw(p[0], &mut buf);
    let waited = t.elapsed();
    let wn = join(h)?;
    close2(p);
    ensure_eq!((n, wn), (4, 4), "read/write counts");
    ensure!(
        waited >= Duration::from_millis(80),
        "read returned after {waited:?}, before the write"
    );
    ensure!(
        waited < Duration::from_secs(5),
        "read woke after {waited:?}"
    );
    Ok(())
}

fn blocking_write_woken() -> CheckResult {
    let p = pipe2(0)?;
    let r = p[0];
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let was_done = d2.load(Ordering::SeqCst);
        let mut total = 0usize;
        let mut buf = vec![0u8; 16384];
        while total < 100_000 {
            let n = unsafe { libc::read(r, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            total += n as usize;
        }
        (was_done, total)
    });
    let data = vec![b'w'; 100_000];
    let n = write_raw(p[1], &data);
    done.store(true, Ordering::SeqCst);
    let (early, total) = join(h)?;
    close2(p);
    ensure_eq!(n, 100_000, "blocking write of more than the capacity");
    ensure!(!early, "the write finished before the reader started");
    ensure_eq!(total, 100_000, "bytes read");
    Ok(())
}

fn poll1(fd: c_int, events: i16) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    unsafe { libc::poll(&mut p, 1, 0) };
    p.revents
}

fn poll_readiness() -> CheckResult {
    let p = pipe2(0)?;
    let r = (|| -> CheckResult {
        ensure_eq!(poll1(p[0], libc::POLLIN), 0, "empty read end");
        ensure_eq!(
            poll1(p[1], libc::POLLOUT),
            libc::POLLOUT,
            "write end with space"
        );
        write_raw(p[1], b"x");
        ensure_eq!(
            poll1(p[0], libc::POLLIN),
            libc::POLLIN,
            "read end with data"
        );
        Ok(())
    })();
    let hup = (|| -> CheckResult {
        r?;
        close(p[1]);
        ensure_eq!(
            poll1(p[0], libc::POLLIN),
            libc::POLLIN | libc::POLLHUP,
            "data and no writer"
        );
        let mut b = [0u8; 4];
        read_raw(p[0], &mut b);
        ensure_eq!(
            poll1(p[0], libc::POLLIN),
            libc::POLLHUP,
            "no data and no writer"
        );
        Ok(())
    })();
    close(p[0]);
    hup?;
    let q = pipe2(0)?;
    close(q[0]);
    let e = poll1(q[1], libc::POLLOUT);
    close(q[1]);
    ensure_eq!(
        e,
        libc::POLLOUT | libc::POLLERR,
        "write end without a reader"
    );
    Ok(())
}

fn zero_length_io() -> CheckResult {
    let p = pipe2(0)?;
    let r = (|| -> CheckResult {
        ensure_eq!(write_raw(p[1], b""), 0, "zero-length write");
        let mut b = [0u8; 1];
        ensure_eq!(
            unsafe { syscall!(libc::SYS_read, p[0], b.as_mut_ptr(), 0) },
            0,
            "zero-length read of an empty pipe"
        );
        ensure_eq!(
            poll1(p[0], libc::POLLIN),
            0,
            "a zero-length write makes no data"
        );
        Ok(())
    })();
    close2(p);
    r
}

fn bulk_between_processes() -> CheckResult {
    const TOTAL: usize = 8 << 20;
    let p = pipe2(0)?;
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::close(p[0]) };
        let mut buf = vec![0u8; 65536];
        let mut sent = 0usize;
        let mut x: u32 = 12345;
        while sent < TOTAL {
            let n = buf.len().min(TOTAL - sent);
            for b in &mut buf[..n] {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (x >> 16) as u8;
            }
            let mut off = 0;
            while off < n {
                let w = unsafe { libc::write(p[1], buf[off..n].as_ptr().cast(), n - off) };
                if w <= 0 {
                    unsafe { libc::_exit(2) };
                }
                off += w as usize;
            }
            sent += n;
        }
        unsafe { libc::_exit(0) };
    }
    close(p[1]);
    let mut x: u32 = 12345;
    let mut got = 0usize;
    let mut mismatch = None;
    let mut buf = vec![0u8; 50_000];
    loop {
        let n = read_raw(p[0], &mut buf);
        if n <= 0 {
            break;
        }
        for &b in &buf[..n as usize] {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if mismatch.is_none() && b != (x >> 16) as u8 {
                mismatch = Some(got);
            }
            got += 1;
        }
    }
    close(p[0]);
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "writer status {status:#x}"
    );
    ensure_eq!(got, TOTAL, "bytes received");
    ensure!(mismatch.is_none(), "data differs at byte {:?}", mismatch);
    Ok(())
}
