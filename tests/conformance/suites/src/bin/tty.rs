//! `tty` suite: the terminal line discipline and job control, driven through a pty.
//!
//! The master side plays the keyboard and the screen; the slave is the terminal a
//! program sees. Covers: the default termios of a new terminal; TCGETS/TCSETS/TCSETSW/
//! TCSETSF (on the master too; TCSETSF flushes pending input); canonical mode (a read
//! returns one whole line, partial reads of a line, nothing readable before the end of
//! the line: poll, FIONREAD and an O_NONBLOCK read), ICRNL, VEOL; ECHO (typed text and
//! Enter as CR LF on the screen; nothing with ECHO off), ECHOCTL (^A), ECHOE backspace
//! editing (the line and the "\b \b" on the screen), VKILL (^U); ^D (EOF at the start of
//! a line, the partial line otherwise); output processing (OPOST/ONLCR); raw mode;
//! VMIN/VTIME (0/0 returns 0 at once, 0/T times out, MIN waits for MIN bytes, MIN/T
//! returns after the inter-byte time); FIONBIO; TIOCGWINSZ/TIOCSWINSZ and SIGWINCH to
//! the foreground group; ISIG: ^C kills the foreground group with SIGINT (and echoes ^C),
//! ^Z stops it with SIGTSTP, ^\ sends SIGQUIT, a background group is not signalled, ^C
//! discards the partial line; job control: a background read gets SIGTTIN (EIO when
//! SIGTTIN is ignored), a background write passes without TOSTOP and gets SIGTTOU
//! with it, as do tcsetpgrp and TCSETS from the background (allowed when SIGTTOU is
//! ignored); TIOCGPGRP/TIOCSPGRP (ENOTTY for a terminal that is not the caller's
//! controlling one, ESRCH for no such group, EPERM for a group of another session;
//! a group whose only member is a zombie is still a group); TIOCGSID; TIOCSCTTY (EPERM
//! for a non-leader, for a leader that already has a terminal, and for a terminal owned
//! by another session); hang-up: closing the master makes slave
//! reads return 0 and writes EIO, closing the slave makes master reads EIO.
//!
//! Job-control checks run in a child that makes its own session with the pty as its
//! controlling terminal, and a grandchild in its own process group (so that group is
//! not orphaned and stop signals really stop it).

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::ffi::CString;
use std::time::{Duration, Instant};

/// The kernel's `struct termios` (what TCGETS/TCSETS exchange).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KTermios {
    iflag: u32,
    oflag: u32,
    cflag: u32,
    lflag: u32,
    line: u8,
    cc: [u8; 19],
}

const ICRNL: u32 = 0o400;
const IXON: u32 = 0o2000;
const OPOST: u32 = 0o1;
const ONLCR: u32 = 0o4;
const ISIG: u32 = 0o1;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ECHOE: u32 = 0o20;
const ECHOCTL: u32 = 0o1000;
const TOSTOP: u32 = 0o400;
const IEXTEN: u32 = 0o100000;
const VINTR: usize = 0;
const VQUIT: usize = 1;
const VERASE: usize = 2;
const VKILL: usize = 3;
const VEOF: usize = 4;
const VTIME: usize = 5;
const VMIN: usize = 6;
const VSUSP: usize = 10;
const VEOL: usize = 11;

fn main() {
    let mut s = Suite::new("tty");
    s.check("default_termios", default_termios);
    s.check("tcsets_variants", tcsets_variants);
    s.check("canonical_whole_lines", canonical_whole_lines);
    s.check("nothing_before_newline", nothing_before_newline);
    s.check("icrnl_and_veol", icrnl_and_veol);
    s.check("echo_on_and_off", echo_on_and_off);
    s.check("echoctl", echoctl);
    s.check("backspace_and_kill", backspace_and_kill);
    s.check("ctrl_d_eof", ctrl_d_eof);
    s.check("output_processing", output_processing);
    s.check("raw_mode", raw_mode);
    s.check("vmin0_vtime0", vmin0_vtime0);
    s.check("vmin0_vtime_timeout", vmin0_vtime_timeout);
    s.check("vmin_waits", vmin_waits);
    s.check("vmin_vtime_interbyte", vmin_vtime_interbyte);
    s.check("fionbio", fionbio);
    s.check("winsize", winsize);
    s.check("sigwinch_to_foreground", sigwinch_to_foreground);
    s.check("ctrl_c_sigint", ctrl_c_sigint);
    s.check("ctrl_z_sigtstp", ctrl_z_sigtstp);
    s.check("ctrl_backslash_sigquit", ctrl_backslash_sigquit);
    s.check("ctrl_c_discards_line", ctrl_c_discards_line);
    s.check("background_read_sigttin", background_read_sigttin);
    s.check("background_read_ignored_eio", background_read_ignored_eio);
    s.check("background_write_tostop", background_write_tostop);
    s.check("background_changes_sigttou", background_changes_sigttou);
    s.check("pgrp_ioctls", pgrp_ioctls);
    s.check("tiocsctty_rules", tiocsctty_rules);
    s.check("master_hangup", master_hangup);
    s.check("slave_closed", slave_closed);
    s.finish();
}

// ---------------------------------------------------------------------------
// Helpers

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

/// A pty pair, closed when dropped.
struct Pty {
    m: c_int,
    s: c_int,
    n: u32,
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.s >= 0 {
            close(self.s);
        }
        if self.m >= 0 {
            close(self.m);
        }
    }
}

fn open_master() -> Result<(c_int, u32), String> {
    let p = c("/dev/ptmx");
    let m = sys_ok("open(/dev/ptmx)", || unsafe {
        syscall!(libc::SYS_open, p.as_ptr(), libc::O_RDWR | libc::O_NOCTTY)
    })? as c_int;
    let mut n: u32 = 0;
    let zero: c_int = 0;
    let r = sys_ok("TIOCGPTN", || unsafe {
        syscall!(libc::SYS_ioctl, m, libc::TIOCGPTN, &raw mut n)
    })
    .and_then(|_| {
        sys_ok("TIOCSPTLCK", || unsafe {
            syscall!(libc::SYS_ioctl, m, libc::TIOCSPTLCK, &raw const zero)
        })
    });
    if let Err(e) = r {
        close(m);
        return Err(e);
    }
    Ok((m, n))
}

fn open_slave(n: u32, extra: c_int) -> Result<c_int, String> {
    let p = c(&format!("/dev/pts/{n}"));
    sys_ok("open(slave)", || unsafe {
        syscall!(libc::SYS_open, p.as_ptr(), libc::O_RDWR | extra)
    })
    .map(|v| v as c_int)
}

fn pty() -> Result<Pty, String> {
    let (m, n) = open_master()?;
    match open_slave(n, libc::O_NOCTTY) {
        Ok(s) => Ok(Pty { m, s, n }),
        Err(e) => {
            close(m);
            Err(e)
        }
    }
}

fn tcgets(fd: c_int) -> Result<KTermios, String> {
    let mut t = KTermios {
        iflag: 0,
        oflag: 0,
        cflag: 0,
        lflag: 0,
        line: 0,
        cc: [0; 19],
    };
    sys_ok("TCGETS", || unsafe {
        syscall!(libc::SYS_ioctl, fd, libc::TCGETS, &raw mut t)
    })?;
    Ok(t)
}

fn tcsets(fd: c_int, t: &KTermios) -> CheckResult {
    sys_ok("TCSETS", || unsafe {
        syscall!(libc::SYS_ioctl, fd, libc::TCSETS, t as *const KTermios)
    })?;
    Ok(())
}

/// Changes the terminal's settings with `f`.
fn modify(fd: c_int, f: impl FnOnce(&mut KTermios)) -> CheckResult {
    let mut t = tcgets(fd)?;
    f(&mut t);
    tcsets(fd, &t)
}

fn make_raw(t: &mut KTermios) {
    t.iflag &= !(ICRNL | IXON);
    t.oflag &= !OPOST;
    t.lflag &= !(ECHO | ICANON | ISIG | IEXTEN);
    t.cc[VMIN] = 1;
    t.cc[VTIME] = 0;
}

fn type_in(m: c_int, data: &[u8]) -> CheckResult {
    let n = unsafe { libc::write(m, data.as_ptr().cast(), data.len()) };
    ensure_eq!(n, data.len() as isize, "master write");
    Ok(())
}

fn poll_in(fd: c_int, ms: c_int) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    (unsafe { libc::poll(&mut p, 1, ms) }) > 0 && p.revents & libc::POLLIN != 0
}

/// One read of the slave, waiting up to 2 s for it to become readable.
fn read_once(fd: c_int, max: usize) -> Result<Vec<u8>, String> {
    ensure!(poll_in(fd, 2000), "nothing to read within 2 s");
    let mut b = vec![0u8; max];
    let n = sys_ok("read", || unsafe {
        syscall!(libc::SYS_read, fd, b.as_mut_ptr(), max)
    })?;
    b.truncate(n as usize);
    Ok(b)
}

/// Reads from the master until `n` bytes came or 2 s passed.
fn screen(m: c_int, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let end = Instant::now() + Duration::from_secs(2);
    while out.len() < n && Instant::now() < end {
        if !poll_in(m, 50) {
            continue;
        }
        let mut b = [0u8; 256];
        let k = unsafe { libc::read(m, b.as_mut_ptr().cast(), 256) };
        if k <= 0 {
            break;
        }
        out.extend_from_slice(&b[..k as usize]);
    }
    out
}

/// Whatever the master has within `ms`.
fn screen_rest(m: c_int, ms: c_int) -> Vec<u8> {
    let mut out = Vec::new();
    while poll_in(m, ms) {
        let mut b = [0u8; 256];
        let k = unsafe { libc::read(m, b.as_mut_ptr().cast(), 256) };
        if k <= 0 {
            break;
        }
        out.extend_from_slice(&b[..k as usize]);
    }
    out
}

fn show(b: &[u8]) -> String {
    b.iter()
        .flat_map(|&x| std::ascii::escape_default(x))
        .map(char::from)
        .collect()
}

// ---------------------------------------------------------------------------
// Line discipline

fn default_termios() -> CheckResult {
    let p = pty()?;
    let t = tcgets(p.s)?;
    for (bit, name) in [
        (ICANON, "ICANON"),
        (ECHO, "ECHO"),
        (ECHOE, "ECHOE"),
        (ISIG, "ISIG"),
        (IEXTEN, "IEXTEN"),
    ] {
        ensure!(t.lflag & bit != 0, "c_lflag {:#o} lacks {name}", t.lflag);
    }
    ensure!(t.iflag & ICRNL != 0, "c_iflag lacks ICRNL");
    ensure_eq!(t.oflag & (OPOST | ONLCR), OPOST | ONLCR, "c_oflag");
    let cc = t.cc;
    ensure_eq!(
        (cc[VINTR], cc[VQUIT], cc[VERASE], cc[VKILL], cc[VEOF], cc[VSUSP]),
        (3, 0x1c, 0x7f, 0x15, 4, 0x1a),
        "control characters"
    );
    ensure_eq!((cc[VMIN], cc[VTIME]), (1, 0), "VMIN/VTIME");
    ensure_eq!(
        tcgets(p.m)?,
        t,
        "TCGETS on the master gives the same settings"
    );
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    sys_ok("TIOCGWINSZ", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::TIOCGWINSZ, &raw mut ws)
    })?;
    Ok(())
}

fn tcsets_variants() -> CheckResult {
    let p = pty()?;
    let mut t = tcgets(p.s)?;
    t.lflag &= !ECHO;
    sys_ok("TCSETS on the master", || unsafe {
        syscall!(libc::SYS_ioctl, p.m, libc::TCSETS, &raw const t)
    })?;
    ensure_eq!(
        tcgets(p.s)?.lflag & ECHO,
        0,
        "ECHO after TCSETS via the master"
    );
    t.lflag |= ECHO;
    sys_ok("TCSETSW", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::TCSETSW, &raw const t)
    })?;
    ensure!(tcgets(p.s)?.lflag & ECHO != 0, "ECHO after TCSETSW");
    make_raw(&mut t);
    tcsets(p.s, &t)?;
    type_in(p.m, b"abc")?;
    ensure!(poll_in(p.s, 2000), "raw input not readable");
    let mut n: c_int = 0;
    sys_ok("FIONREAD", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::FIONREAD, &raw mut n)
    })?;
    ensure_eq!(n, 3, "FIONREAD before TCSETSF");
    sys_ok("TCSETSF", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::TCSETSF, &raw const t)
    })?;
    sys_ok("FIONREAD", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::FIONREAD, &raw mut n)
    })?;
    ensure_eq!(n, 0, "FIONREAD after TCSETSF (input flushed)");
    expect_sys_errno(
        "TCSETS(bad pointer)",
        || unsafe { syscall!(libc::SYS_ioctl, p.s, libc::TCSETS, 8) },
        libc::EFAULT,
    )?;
    Ok(())
}

fn canonical_whole_lines() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| t.lflag &= !ECHO)?;
    type_in(p.m, b"hello\r")?;
    ensure_eq!(show(&read_once(p.s, 100)?), "hello\\n", "one line");
    type_in(p.m, b"one\rtwo\r")?;
    ensure_eq!(show(&read_once(p.s, 100)?), "one\\n", "first of two lines");
    ensure_eq!(show(&read_once(p.s, 100)?), "two\\n", "second of two lines");
    type_in(p.m, b"xyz\r")?;
    ensure_eq!(show(&read_once(p.s, 2)?), "xy", "partial read of a line");
    ensure_eq!(show(&read_once(p.s, 100)?), "z\\n", "the rest of the line");
    Ok(())
}

fn nothing_before_newline() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| t.lflag &= !ECHO)?;
    type_in(p.m, b"abc")?;
    ensure!(!poll_in(p.s, 200), "readable before the end of the line");
    let mut n: c_int = -1;
    sys_ok("FIONREAD", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::FIONREAD, &raw mut n)
    })?;
    ensure_eq!(n, 0, "FIONREAD of a partial line");
    let fl = unsafe { libc::fcntl(p.s, libc::F_GETFL) };
    unsafe { libc::fcntl(p.s, libc::F_SETFL, fl | libc::O_NONBLOCK) };
    let mut b = [0u8; 8];
    expect_sys_errno(
        "O_NONBLOCK read of a partial line",
        || unsafe { syscall!(libc::SYS_read, p.s, b.as_mut_ptr(), 8) },
        libc::EAGAIN,
    )?;
    unsafe { libc::fcntl(p.s, libc::F_SETFL, fl) };
    type_in(p.m, b"\r")?;
    ensure!(poll_in(p.s, 2000), "not readable after Enter");
    sys_ok("FIONREAD", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::FIONREAD, &raw mut n)
    })?;
    ensure_eq!(n, 4, "FIONREAD of a whole line");
    ensure_eq!(show(&read_once(p.s, 100)?), "abc\\n", "the line");
    Ok(())
}

fn icrnl_and_veol() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| {
        t.lflag &= !ECHO;
        t.iflag &= !ICRNL;
        t.cc[VEOL] = b';';
    })?;
    type_in(p.m, b"x\r")?;
    ensure!(!poll_in(p.s, 200), "CR ended a line without ICRNL");
    type_in(p.m, b"\n")?;
    ensure_eq!(
        show(&read_once(p.s, 100)?),
        "x\\r\\n",
        "CR kept without ICRNL"
    );
    type_in(p.m, b"a;b")?;
    ensure_eq!(show(&read_once(p.s, 100)?), "a;", "VEOL ends a line");
    Ok(())
}

fn echo_on_and_off() -> CheckResult {
    let p = pty()?;
    type_in(p.m, b"hi\r")?;
    ensure_eq!(show(&screen(p.m, 4)), "hi\\r\\n", "echo of 'hi' and Enter");
    ensure_eq!(show(&read_once(p.s, 100)?), "hi\\n", "the line");
    modify(p.s, |t| t.lflag &= !ECHO)?;
    type_in(p.m, b"secret\r")?;
    ensure_eq!(
        show(&read_once(p.s, 100)?),
        "secret\\n",
        "the line without echo"
    );
    ensure_eq!(show(&screen_rest(p.m, 150)), "", "echo with ECHO off");
    Ok(())
}

fn echoctl() -> CheckResult {
    let p = pty()?;
    ensure!(
        tcgets(p.s)?.lflag & ECHOCTL != 0,
        "ECHOCTL is on by default"
    );
    type_in(p.m, b"\x01\r")?;
    ensure_eq!(show(&screen(p.m, 4)), "^A\\r\\n", "echo of ^A");
    ensure_eq!(
        show(&read_once(p.s, 100)?),
        "\\x01\\n",
        "the line keeps the byte"
    );
    Ok(())
}

fn backspace_and_kill() -> CheckResult {
    let p = pty()?;
    type_in(p.m, b"abx\x7fc\r")?;
    ensure_eq!(
        show(&screen(p.m, 10)),
        "abx\\x08 \\x08c\\r\\n",
        "echo of the edit"
    );
    ensure_eq!(show(&read_once(p.s, 100)?), "abc\\n", "the edited line");
    modify(p.s, |t| t.lflag &= !ECHO)?;
    type_in(p.m, b"junk\x15ok\r")?;
    ensure_eq!(show(&read_once(p.s, 100)?), "ok\\n", "^U kills the line");
    type_in(p.m, b"\x7f\x7fz\r")?;
    ensure_eq!(
        show(&read_once(p.s, 100)?),
        "z\\n",
        "backspace on an empty line"
    );
    Ok(())
}

fn ctrl_d_eof() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| t.lflag &= !ECHO)?;
    type_in(p.m, b"\x04")?;
    ensure!(poll_in(p.s, 2000), "^D does not make the terminal readable");
    let mut b = [0u8; 16];
    ensure_eq!(
        unsafe { libc::read(p.s, b.as_mut_ptr().cast(), 16) },
        0,
        "^D at the start of a line is EOF"
    );
    type_in(p.m, b"ab\x04")?;
    ensure_eq!(
        show(&read_once(p.s, 100)?),
        "ab",
        "^D after text pushes it without a newline"
    );
    ensure!(!poll_in(p.s, 150), "readable after the pushed text");
    type_in(p.m, b"next\r")?;
    ensure_eq!(
        show(&read_once(p.s, 100)?),
        "next\\n",
        "the terminal works after ^D"
    );
    Ok(())
}

fn output_processing() -> CheckResult {
    let p = pty()?;
    let w = |data: &[u8]| unsafe { libc::write(p.s, data.as_ptr().cast(), data.len()) };
    ensure_eq!(w(b"a\nb"), 3, "slave write count (not the expanded count)");
    ensure_eq!(show(&screen(p.m, 4)), "a\\r\\nb", "ONLCR");
    modify(p.s, |t| t.oflag &= !ONLCR)?;
    w(b"c\nd");
    ensure_eq!(show(&screen(p.m, 3)), "c\\nd", "without ONLCR");
    modify(p.s, |t| t.oflag = (t.oflag | ONLCR) & !OPOST)?;
    w(b"e\nf");
    ensure_eq!(show(&screen(p.m, 3)), "e\\nf", "without OPOST");
    Ok(())
}

fn raw_mode() -> CheckResult {
    let p = pty()?;
    modify(p.s, make_raw)?;
    type_in(p.m, b"\x03q\r")?;
    let got = read_once(p.s, 100)?;
    let mut all = got.clone();
    if all.len() < 3 && poll_in(p.s, 500) {
        all.extend(read_once(p.s, 100)?);
    }
    ensure_eq!(
        show(&all),
        "\\x03q\\r",
        "raw bytes, ^C as data, no CR translation"
    );
    ensure_eq!(show(&screen_rest(p.m, 150)), "", "no echo in raw mode");
    Ok(())
}

fn vmin0_vtime0() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| {
        make_raw(t);
        t.cc[VMIN] = 0;
        t.cc[VTIME] = 0;
    })?;
    let t0 = Instant::now();
    let mut b = [0u8; 8];
    let n = sys_ok("read(VMIN 0, VTIME 0)", || unsafe {
        syscall!(libc::SYS_read, p.s, b.as_mut_ptr(), 8)
    })?;
    ensure_eq!(n, 0, "read with nothing typed");
    ensure!(
        t0.elapsed() < Duration::from_millis(500),
        "took {:?}",
        t0.elapsed()
    );
    type_in(p.m, b"k")?;
    ensure!(poll_in(p.s, 2000), "not readable");
    ensure_eq!(show(&read_once(p.s, 8)?), "k", "data");
    Ok(())
}

fn vmin0_vtime_timeout() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| {
        make_raw(t);
        t.cc[VMIN] = 0;
        t.cc[VTIME] = 2;
    })?;
    let t0 = Instant::now();
    let mut b = [0u8; 8];
    let n = sys_ok("read(VMIN 0, VTIME 2)", || unsafe {
        syscall!(libc::SYS_read, p.s, b.as_mut_ptr(), 8)
    })?;
    let el = t0.elapsed();
    ensure_eq!(n, 0, "read with nothing typed");
    ensure!(
        el >= Duration::from_millis(150) && el < Duration::from_secs(3),
        "a 200 ms VTIME took {el:?}"
    );
    let m = p.m;
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        unsafe { libc::write(m, b"q".as_ptr().cast(), 1) };
    });
    let t0 = Instant::now();
    let n = unsafe { libc::read(p.s, b.as_mut_ptr().cast(), 8) };
    let el = t0.elapsed();
    join(h)?;
    ensure_eq!((n, b[0]), (1, b'q'), "data before VTIME");
    ensure!(
        el < Duration::from_millis(190),
        "returned after {el:?}, not at the data"
    );
    Ok(())
}

fn vmin_waits() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| {
        make_raw(t);
        t.cc[VMIN] = 3;
        t.cc[VTIME] = 0;
    })?;
    type_in(p.m, b"ab")?;
    let s = p.s;
    let h = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut b = [0u8; 16];
        let n = unsafe { libc::read(s, b.as_mut_ptr().cast(), 16) };
        (n, b, t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    type_in(p.m, b"c")?;
    let (n, b, el) = join(h)?;
    ensure_eq!(n, 3, "read with VMIN 3");
    ensure_eq!(&b[..3], b"abc", "data");
    ensure!(
        el >= Duration::from_millis(150),
        "returned after {el:?} with fewer than VMIN bytes"
    );
    Ok(())
}

fn vmin_vtime_interbyte() -> CheckResult {
    let p = pty()?;
    modify(p.s, |t| {
        make_raw(t);
        t.cc[VMIN] = 5;
        t.cc[VTIME] = 1;
    })?;
    type_in(p.m, b"a")?;
    ensure!(poll_in(p.s, 2000), "not readable");
    let t0 = Instant::now();
    let mut b = [0u8; 16];
    let n = unsafe { libc::read(p.s, b.as_mut_ptr().cast(), 16) };
    let el = t0.elapsed();
    ensure_eq!(
        (n, b[0]),
        (1, b'a'),
        "one byte after the inter-byte timeout"
    );
    ensure!(
        el >= Duration::from_millis(60) && el < Duration::from_secs(3),
        "VTIME 1 with one byte took {el:?}"
    );
    Ok(())
}

fn fionbio() -> CheckResult {
    let p = pty()?;
    let on: c_int = 1;
    sys_ok("FIONBIO(1)", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::FIONBIO, &raw const on)
    })?;
    ensure!(
        unsafe { libc::fcntl(p.s, libc::F_GETFL) } & libc::O_NONBLOCK != 0,
        "O_NONBLOCK after FIONBIO"
    );
    let mut b = [0u8; 4];
    expect_sys_errno(
        "read after FIONBIO",
        || unsafe { syscall!(libc::SYS_read, p.s, b.as_mut_ptr(), 4) },
        libc::EAGAIN,
    )?;
    Ok(())
}

fn winsize() -> CheckResult {
    let p = pty()?;
    let ws = libc::winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 1,
        ws_ypixel: 2,
    };
    sys_ok("TIOCSWINSZ (master)", || unsafe {
        syscall!(libc::SYS_ioctl, p.m, libc::TIOCSWINSZ, &raw const ws)
    })?;
    let mut got: libc::winsize = unsafe { std::mem::zeroed() };
    sys_ok("TIOCGWINSZ (slave)", || unsafe {
        syscall!(libc::SYS_ioctl, p.s, libc::TIOCGWINSZ, &raw mut got)
    })?;
    ensure_eq!(
        (got.ws_row, got.ws_col, got.ws_xpixel, got.ws_ypixel),
        (50, 132, 1, 2),
        "window size"
    );
    expect_sys_errno(
        "TIOCGWINSZ(bad pointer)",
        || unsafe { syscall!(libc::SYS_ioctl, p.s, libc::TIOCGWINSZ, 8) },
        libc::EFAULT,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Sessions, groups, signals

/// What the grandchild does on the terminal.
#[derive(Clone, Copy)]
enum Act {
    Read,
    Write,
    /// Waits up to 3 s for SIGWINCH (blocked, taken with sigtimedwait); exits 0 if it came.
    AwaitWinch,
    /// Makes its own group the foreground group (tcsetpgrp); exits 11 if that worked.
    SetPgrp,
    /// Changes the terminal's settings (TCSETS); exits 12 if that worked.
    SetAttr,
}

struct Job {
    /// The grandchild's group is made the foreground group.
    foreground: bool,
    act: Act,
    ignore_sigttin: bool,
    tostop: bool,
    ignore_sigttou: bool,
}

impl Job {
    fn new(foreground: bool, act: Act) -> Job {
        Job {
            foreground,
            act,
            ignore_sigttin: false,
            tostop: false,
            ignore_sigttou: false,
        }
    }
}

/// Outcome of a job: the grandchild's wait status, and what the master saw.
struct JobResult {
    status: c_int,
    screen: Vec<u8>,
}

/// A child S makes a new session with the pty as its controlling terminal; its child G
/// gets a process group of its own (foreground or not) and does `job.act`. Once G is set
/// up, `then(master)` runs here (typing, resizing). S reports G's wait status (stopped
/// ones are then killed).
fn run_job(job: Job, then: impl FnOnce(c_int) -> CheckResult) -> Result<JobResult, String> {
    let (m, n) = open_master()?;
    let mut up = [0 as c_int; 2]; // S -> test: "ready" then G's status
    unsafe { libc::pipe(up.as_mut_ptr()) };
    let s_pid = unsafe { libc::fork() };
    if s_pid == 0 {
        unsafe {
            libc::close(up[0]);
            libc::close(m);
        }
        let code = session_leader(n, &job, up[1]);
        unsafe { libc::_exit(code) };
    }
    close(up[1]);
    let mut ready = [0u8; 1];
    let got = unsafe { libc::read(up[0], ready.as_mut_ptr().cast(), 1) };
    let r = if got == 1 && ready[0] == b'r' {
        then(m)
    } else {
        Err(format!(
            "the session leader failed to set up (byte {:?})",
            ready[0] as char
        ))
    };
    let mut st_bytes = [0u8; 4];
    let k = unsafe { libc::read(up[0], st_bytes.as_mut_ptr().cast(), 4) };
    let screen = screen_rest(m, 100);
    close(up[0]);
    let mut s_status = 0;
    unsafe { libc::waitpid(s_pid, &mut s_status, 0) };
    close(m);
    r?;
    ensure!(
        libc::WIFEXITED(s_status),
        "session leader status {s_status:#x}"
    );
    ensure_eq!(libc::WEXITSTATUS(s_status), 0, "session leader exit code");
    ensure_eq!(k, 4, "status bytes from the session leader");
    Ok(JobResult {
        status: c_int::from_ne_bytes(st_bytes),
        screen,
    })
}

/// S: returns its exit code; writes 'r' (or an error letter) and G's status to `up`.
fn session_leader(n: u32, job: &Job, up: c_int) -> c_int {
    let say = |b: &[u8]| unsafe { libc::write(up, b.as_ptr().cast(), b.len()) };
    unsafe {
        if libc::setsid() < 0 {
            say(b"s");
            return 1;
        }
    }
    let Ok(s) = open_slave(n, libc::O_NOCTTY) else {
        say(b"o");
        return 1;
    };
    unsafe {
        if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0 {
            say(b"c");
            return 1;
        }
        let mut t: KTermios = std::mem::zeroed();
        libc::ioctl(s, libc::TCGETS, &mut t);
        t.lflag &= !ECHO;
        if job.tostop {
            t.lflag |= TOSTOP;
        }
        libc::ioctl(s, libc::TCSETS, &t);
    }
    let mut go = [0 as c_int; 2];
    unsafe { libc::pipe(go.as_mut_ptr()) };
    let act = job.act;
    let ignore = job.ignore_sigttin;
    let ignore_ttou = job.ignore_sigttou;
    let g = unsafe { libc::fork() };
    if g == 0 {
        unsafe {
            libc::close(go[1]);
            libc::setpgid(0, 0);
            if ignore {
                libc::signal(libc::SIGTTIN, libc::SIG_IGN);
            }
            if ignore_ttou {
                libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGWINCH);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            let mut b = [0u8; 1];
            libc::read(go[0], b.as_mut_ptr().cast(), 1);
            let code = match act {
                Act::Read => {
                    let mut buf = [0u8; 64];
                    let r = libc::read(s, buf.as_mut_ptr().cast(), 64);
                    if r < 0 && *libc::__errno_location() == libc::EIO {
                        5
                    } else {
                        6
                    }
                }
                Act::Write => {
                    if libc::write(s, b"bg".as_ptr().cast(), 2) == 2 {
                        7
                    } else {
                        8
                    }
                }
                Act::SetPgrp => {
                    if libc::tcsetpgrp(s, libc::getpgrp()) == 0 {
                        11
                    } else {
                        13
                    }
                }
                Act::SetAttr => {
                    let mut t: KTermios = std::mem::zeroed();
                    libc::ioctl(s, libc::TCGETS, &mut t);
                    if libc::ioctl(s, libc::TCSETS, &t) == 0 {
                        12
                    } else {
                        13
                    }
                }
                Act::AwaitWinch => {
                    let ts = libc::timespec {
                        tv_sec: 3,
                        tv_nsec: 0,
                    };
                    if libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) == libc::SIGWINCH {
                        0
                    } else {
                        9
                    }
                }
            };
            libc::_exit(code);
        }
    }
    unsafe {
        libc::close(go[0]);
        libc::setpgid(g, g);
        if job.foreground && libc::tcsetpgrp(s, g) != 0 {
            say(b"p");
            return 1;
        }
        libc::write(go[1], b"g".as_ptr().cast(), 1);
    }
    // Give G time to block in its read or write before the test acts.
    std::thread::sleep(Duration::from_millis(100));
    say(b"r");
    let mut st = 0;
    unsafe { libc::waitpid(g, &mut st, libc::WUNTRACED) };
    if libc::WIFSTOPPED(st) {
        unsafe {
            libc::kill(g, libc::SIGKILL);
            libc::kill(g, libc::SIGCONT);
            libc::waitpid(g, std::ptr::null_mut(), 0);
        }
    }
    say(&st.to_ne_bytes());
    0
}

fn describe(st: c_int) -> String {
    if libc::WIFEXITED(st) {
        format!("exited {}", libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else if libc::WIFSTOPPED(st) {
        format!("stopped by signal {}", libc::WSTOPSIG(st))
    } else {
        format!("status {st:#x}")
    }
}

fn sigwinch_to_foreground() -> CheckResult {
    let r = run_job(Job::new(true, Act::AwaitWinch), |m| {
        let ws = libc::winsize {
            ws_row: 30,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        sys_ok("TIOCSWINSZ", || unsafe {
            syscall!(libc::SYS_ioctl, m, libc::TIOCSWINSZ, &raw const ws)
        })?;
        Ok(())
    })?;
    ensure_eq!(
        describe(r.status),
        "exited 0",
        "the foreground group got SIGWINCH (9: it did not)"
    );
    Ok(())
}

fn ctrl_c_sigint() -> CheckResult {
    let r = run_job(Job::new(true, Act::Read), |m| {
        // Echo is off for the job (its own echo of ^C is checked with ECHO on below).
        type_in(m, b"\x03")
    })?;
    ensure_eq!(
        describe(r.status),
        describe(libc::SIGINT),
        "the foreground reader after ^C"
    );
    // With ECHO on, ^C is echoed as "^C".
    let p = pty()?;
    type_in(p.m, b"\x03")?;
    ensure_eq!(show(&screen(p.m, 2)), "^C", "echo of ^C");
    Ok(())
}

fn ctrl_z_sigtstp() -> CheckResult {
    let r = run_job(Job::new(true, Act::Read), |m| type_in(m, b"\x1a"))?;
    ensure!(
        libc::WIFSTOPPED(r.status) && libc::WSTOPSIG(r.status) == libc::SIGTSTP,
        "after ^Z: {}",
        describe(r.status)
    );
    Ok(())
}

fn ctrl_backslash_sigquit() -> CheckResult {
    let r = run_job(Job::new(true, Act::Read), |m| type_in(m, b"\x1c"))?;
    ensure!(
        libc::WIFSIGNALED(r.status) && libc::WTERMSIG(r.status) == libc::SIGQUIT,
        "after ^\\: {}",
        describe(r.status)
    );
    Ok(())
}

fn ctrl_c_discards_line() -> CheckResult {
    // No session owns this pty: ^C signals nobody but still discards the line.
    let p = pty()?;
    modify(p.s, |t| t.lflag &= !ECHO)?;
    type_in(p.m, b"partial\x03")?;
    type_in(p.m, b"fresh\r")?;
    ensure_eq!(show(&read_once(p.s, 100)?), "fresh\\n", "the line after ^C");
    Ok(())
}

fn background_read_sigttin() -> CheckResult {
    let r = run_job(Job::new(false, Act::Read), |_| Ok(()))?;
    ensure!(
        libc::WIFSTOPPED(r.status) && libc::WSTOPSIG(r.status) == libc::SIGTTIN,
        "a background reader: {}",
        describe(r.status)
    );
    Ok(())
}

fn background_read_ignored_eio() -> CheckResult {
    let r = run_job(
        Job {
            ignore_sigttin: true,
            ..Job::new(false, Act::Read)
        },
        |_| Ok(()),
    )?;
    ensure_eq!(
        describe(r.status),
        "exited 5",
        "a background reader ignoring SIGTTIN (5: EIO)"
    );
    Ok(())
}

fn background_write_tostop() -> CheckResult {
    let r = run_job(Job::new(false, Act::Write), |_| Ok(()))?;
    ensure_eq!(
        describe(r.status),
        "exited 7",
        "a background writer without TOSTOP (7: the write passed)"
    );
    ensure!(
        show(&r.screen).contains("bg"),
        "the background output did not reach the screen: {:?}",
        show(&r.screen)
    );
    let r = run_job(
        Job {
            tostop: true,
            ..Job::new(false, Act::Write)
        },
        |_| Ok(()),
    )?;
    ensure!(
        libc::WIFSTOPPED(r.status) && libc::WSTOPSIG(r.status) == libc::SIGTTOU,
        "a background writer with TOSTOP: {}",
        describe(r.status)
    );
    Ok(())
}

fn background_changes_sigttou() -> CheckResult {
    let r = run_job(Job::new(false, Act::SetPgrp), |_| Ok(()))?;
    ensure!(
        libc::WIFSTOPPED(r.status) && libc::WSTOPSIG(r.status) == libc::SIGTTOU,
        "tcsetpgrp from the background: {}",
        describe(r.status)
    );
    let r = run_job(
        Job {
            ignore_sigttou: true,
            ..Job::new(false, Act::SetPgrp)
        },
        |_| Ok(()),
    )?;
    ensure_eq!(
        describe(r.status),
        "exited 11",
        "tcsetpgrp from the background ignoring SIGTTOU (11: it worked)"
    );
    let r = run_job(Job::new(false, Act::SetAttr), |_| Ok(()))?;
    ensure!(
        libc::WIFSTOPPED(r.status) && libc::WSTOPSIG(r.status) == libc::SIGTTOU,
        "TCSETS from the background: {}",
        describe(r.status)
    );
    let r = run_job(Job::new(true, Act::SetAttr), |_| Ok(()))?;
    ensure_eq!(
        describe(r.status),
        "exited 12",
        "TCSETS from the foreground (12: it worked)"
    );
    Ok(())
}

fn pgrp_ioctls() -> CheckResult {
    let p = pty()?;
    // Not our controlling terminal: the slave refuses, the master answers.
    let mut pg: c_int = -1;
    expect_sys_errno(
        "TIOCGPGRP on a foreign terminal",
        || unsafe { syscall!(libc::SYS_ioctl, p.s, libc::TIOCGPGRP, &raw mut pg) },
        libc::ENOTTY,
    )?;
    let me = unsafe { libc::getpgrp() };
    expect_sys_errno(
        "TIOCSPGRP on a foreign terminal",
        || unsafe { syscall!(libc::SYS_ioctl, p.s, libc::TIOCSPGRP, &raw const me) },
        libc::ENOTTY,
    )?;
    expect_sys_errno(
        "TIOCGSID on a terminal without a session",
        || unsafe { syscall!(libc::SYS_ioctl, p.s, libc::TIOCGSID, &raw mut pg) },
        libc::ENOTTY,
    )?;
    // In a session that owns it.
    let n = p.n;
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = (|| -> c_int {
            unsafe {
                if libc::setsid() < 0 {
                    return 1;
                }
                // Like a shell: handing the terminal to another group makes us background.
                libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                let Ok(s) = open_slave(n, libc::O_NOCTTY) else {
                    return 2;
                };
                if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0 {
                    return 3;
                }
                let mut g: c_int = 0;
                if libc::ioctl(s, libc::TIOCGPGRP, &mut g) != 0 || g != libc::getpgrp() {
                    return 4;
                }
                let mut sid: c_int = 0;
                if libc::ioctl(s, libc::TIOCGSID, &mut sid) != 0 || sid != libc::getpid() {
                    return 5;
                }
                let none: c_int = 0x3fff_fff0;
                if libc::ioctl(s, libc::TIOCSPGRP, &none) == 0
                    || *libc::__errno_location() != libc::ESRCH
                {
                    return 6;
                }
                let neg: c_int = -5;
                if libc::ioctl(s, libc::TIOCSPGRP, &neg) == 0
                    || *libc::__errno_location() != libc::EINVAL
                {
                    return 7;
                }
                // The group of the test process lives in another session.
                let other = libc::getpgid(libc::getppid());
                if libc::ioctl(s, libc::TIOCSPGRP, &other) == 0
                    || *libc::__errno_location() != libc::EPERM
                {
                    return 8;
                }
                // A new group of ours.
                let kid = libc::fork();
                if kid == 0 {
                    libc::setpgid(0, 0);
                    libc::pause();
                    libc::_exit(0);
                }
                libc::setpgid(kid, kid);
                let ok = libc::ioctl(s, libc::TIOCSPGRP, &kid) == 0;
                let mut now: c_int = 0;
                libc::ioctl(s, libc::TIOCGPGRP, &mut now);
                libc::kill(kid, libc::SIGKILL);
                libc::waitpid(kid, std::ptr::null_mut(), 0);
                if !ok || now != kid {
                    return 9;
                }
                // A group whose only member has exited (a zombie, not reaped yet) still
                // exists: a shell hands the terminal to a pipeline whose first command
                // already ended.
                let gone = libc::fork();
                if gone == 0 {
                    libc::setpgid(0, 0);
                    libc::_exit(0);
                }
                libc::setpgid(gone, gone);
                libc::usleep(100_000);
                let ok = libc::ioctl(s, libc::TIOCSPGRP, &gone) == 0;
                let mine = libc::getpgrp();
                libc::ioctl(s, libc::TIOCSPGRP, &mine);
                libc::waitpid(gone, std::ptr::null_mut(), 0);
                if !ok {
                    return 10;
                }
            }
            0
        })();
        unsafe { libc::_exit(code) };
    }
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    ensure_eq!(
        describe(st),
        "exited 0",
        "in the owning session (3 TIOCSCTTY, 4 TIOCGPGRP, 5 TIOCGSID, 6 TIOCSPGRP no such group != ESRCH, 7 negative != EINVAL, 8 other session != EPERM, 9 TIOCSPGRP to own group, 10 to a group of a zombie)"
    );
    // The master reports the foreground group of a terminal nobody owns: 0... once the
    // owning session is gone the slave has no foreground group.
    let mut fg: c_int = -1;
    sys_ok("TIOCGPGRP on the master", || unsafe {
        syscall!(libc::SYS_ioctl, p.m, libc::TIOCGPGRP, &raw mut fg)
    })?;
    ensure!(fg >= 0, "TIOCGPGRP on the master gave {fg}");
    Ok(())
}

fn tiocsctty_rules() -> CheckResult {
    let p = pty()?;
    let q = pty()?;
    let (n, qn) = (p.n, q.n);
    // A process that is not a session leader: EPERM.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = unsafe {
            if libc::getsid(0) == libc::getpid() {
                3 // cannot test: we are a leader
            } else {
                match open_slave(n, libc::O_NOCTTY) {
                    Ok(s)
                        if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0
                            && *libc::__errno_location() == libc::EPERM =>
                    {
                        0
                    }
                    Ok(_) => 1,
                    Err(_) => 2,
                }
            }
        };
        unsafe { libc::_exit(code) };
    }
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    ensure_eq!(
        describe(st),
        "exited 0",
        "TIOCSCTTY by a non-leader (1: not EPERM)"
    );
    // A leader: takes p; again on p is fine; q is refused (it already has one); a second
    // session cannot steal p.
    let mut up = [0 as c_int; 2];
    unsafe { libc::pipe(up.as_mut_ptr()) };
    let mut down = [0 as c_int; 2];
    unsafe { libc::pipe(down.as_mut_ptr()) };
    let a = unsafe { libc::fork() };
    if a == 0 {
        let code = unsafe {
            libc::setsid();
            let s = open_slave(n, libc::O_NOCTTY).unwrap_or(-1);
            let t = open_slave(qn, libc::O_NOCTTY).unwrap_or(-1);
            if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0 {
                1
            } else if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0 {
                2
            } else if libc::ioctl(t, libc::TIOCSCTTY, 0) == 0
                || *libc::__errno_location() != libc::EPERM
            {
                3
            } else {
                0
            }
        };
        unsafe {
            libc::write(up[1], [code as u8].as_ptr().cast(), 1);
            let mut b = [0u8; 1];
            libc::read(down[0], b.as_mut_ptr().cast(), 1);
            libc::_exit(code);
        }
    }
    let mut b = [9u8; 1];
    unsafe { libc::read(up[0], b.as_mut_ptr().cast(), 1) };
    let steal = unsafe { libc::fork() };
    if steal == 0 {
        let code = unsafe {
            libc::setsid();
            match open_slave(n, libc::O_NOCTTY) {
                Ok(s)
                    if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0
                        && *libc::__errno_location() == libc::EPERM =>
                {
                    0
                }
                Ok(_) => 1,
                Err(_) => 2,
            }
        };
        unsafe { libc::_exit(code) };
    }
    let mut st2 = 0;
    unsafe { libc::waitpid(steal, &mut st2, 0) };
    unsafe { libc::write(down[1], b"x".as_ptr().cast(), 1) };
    let mut st1 = 0;
    unsafe { libc::waitpid(a, &mut st1, 0) };
    for fd in up.into_iter().chain(down) {
        close(fd);
    }
    ensure_eq!(
        b[0],
        0,
        "leader (1: TIOCSCTTY, 2: again on the same terminal, 3: a second terminal not EPERM)"
    );
    ensure_eq!(
        describe(st2),
        "exited 0",
        "stealing another session's terminal (1: not EPERM)"
    );
    Ok(())
}

fn master_hangup() -> CheckResult {
    let mut p = pty()?;
    close(p.m);
    p.m = -1;
    ensure!(
        poll_in(p.s, 2000),
        "the slave is not readable after the hang-up"
    );
    let mut b = [0u8; 8];
    let n = unsafe { libc::read(p.s, b.as_mut_ptr().cast(), 8) };
    ensure_eq!(n, 0, "slave read after the master closed");
    expect_sys_errno(
        "slave write after the master closed",
        || unsafe { syscall!(libc::SYS_write, p.s, b"x".as_ptr(), 1) },
        libc::EIO,
    )?;
    let mut pf = libc::pollfd {
        fd: p.s,
        events: libc::POLLIN,
        revents: 0,
    };
    unsafe { libc::poll(&mut pf, 1, 0) };
    ensure!(
        pf.revents & libc::POLLHUP != 0,
        "POLLHUP missing: {:#x}",
        pf.revents
    );
    Ok(())
}

fn slave_closed() -> CheckResult {
    let mut p = pty()?;
    close(p.s);
    p.s = -1;
    let mut b = [0u8; 8];
    expect_sys_errno(
        "master read after the slave closed",
        || unsafe { syscall!(libc::SYS_read, p.m, b.as_mut_ptr(), 8) },
        libc::EIO,
    )?;
    let mut pf = libc::pollfd {
        fd: p.m,
        events: libc::POLLIN,
        revents: 0,
    };
    unsafe { libc::poll(&mut pf, 1, 0) };
    ensure!(
        pf.revents & libc::POLLHUP != 0,
        "POLLHUP missing: {:#x}",
        pf.revents
    );
    let _ = c_long::from(0i32);
    Ok(())
}
