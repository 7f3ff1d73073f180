//! Terminals: the serial console and pseudo-terminal slaves share one implementation — the
//! N_TTY line discipline, a foreground process group, a session, a window size, and an
//! output sink (the UART, or the pty master's read queue). Readers sleep on a wait queue
//! until a line (or byte, in raw mode) is ready.
//!
//! Job control follows POSIX: a background process reading its controlling terminal gets
//! SIGTTIN (EIO if it ignores or blocks it); with TOSTOP, writing gets SIGTTOU, and so
//! does changing the terminal (settings, flush, foreground group) from the background;
//! an orphaned group gets EIO instead of a stop signal.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use bytemuck::{Pod, Zeroable};
use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use super::file::{events, File, FileOps};
use super::ldisc::{cc, lflag, LineDiscipline, ReadOutcome, Termios, TtySignal};
use super::vfs::Inode;
use crate::errno::{Errno, SysResult};
use crate::signal::{self, SigInfo};
use crate::uaccess;

/// `struct winsize`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Winsize {
    pub rows: u16,
    pub cols: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

/// Where a terminal's output goes.
pub enum Sink {
    /// The serial console.
    Serial,
    /// A pseudo-terminal master's read queue.
    Master { queue: SpinLock<VecDeque<u8>>, wq: WaitQueue },
}

/// A terminal.
pub struct Tty {
    ldisc: SpinLock<LineDiscipline>,
    readers: WaitQueue,
    /// Foreground process group (0: none).
    pub pgrp: AtomicI32,
    /// Session that owns the terminal (0: none).
    pub session: AtomicI32,
    winsize: SpinLock<Winsize>,
    pub sink: Sink,
    /// pty number, for slaves.
    pub index: Option<u32>,
    /// The other side hung up (pty master closed).
    pub hung_up: AtomicBool,
}

impl Tty {
    /// A pseudo-terminal slave number `index` whose output goes to its master.
    pub fn new_pty(index: u32) -> Self {
        Self::new(Sink::Master { queue: SpinLock::new(VecDeque::new()), wq: WaitQueue::new() }, Some(index))
    }

    fn new(sink: Sink, index: Option<u32>) -> Self {
        Self {
            ldisc: SpinLock::new(LineDiscipline::new()),
            readers: WaitQueue::new(),
            pgrp: AtomicI32::new(0),
            session: AtomicI32::new(0),
            winsize: SpinLock::new(Winsize { rows: 24, cols: 80, xpixel: 0, ypixel: 0 }),
            sink,
            index,
            hung_up: AtomicBool::new(false),
        }
    }

    fn emit(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match &self.sink {
            Sink::Serial => rtos::console::write_raw(bytes),
            Sink::Master { queue, wq } => {
                queue.lock().extend(bytes);
                wq.wake_all();
            }
        }
    }

    /// Handles one byte typed on the terminal (interrupt context for the console).
    pub fn input(&self, b: u8) {
        let r = self.ldisc.lock().receive(b);
        self.emit(&r.echo);
        if let Some(s) = r.signal {
            let sig = match s {
                TtySignal::Int => signal::SIGINT,
                TtySignal::Quit => signal::SIGQUIT,
                TtySignal::Tstp => signal::SIGTSTP,
            };
            let pg = self.pgrp.load(Ordering::Acquire);
            if pg > 0 {
                signal::send_to_group_deferred(pg, sig);
            }
            self.readers.wake_all();
        }
        if r.readable {
            self.readers.wake_all();
        }
    }

    /// Writes bytes through output processing.
    pub fn write_out(&self, data: &[u8]) {
        let out = self.ldisc.lock().process_output(data);
        self.emit(&out);
    }

    /// The pty master closed: readers see end of file, the session gets SIGHUP.
    pub fn hang_up(&self) {
        self.hung_up.store(true, Ordering::Release);
        let pg = self.pgrp.load(Ordering::Acquire);
        if pg > 0 {
            signal::send_to_group_deferred(pg, signal::SIGHUP);
            signal::send_to_group_deferred(pg, signal::SIGCONT);
        }
        self.readers.wake_all();
    }

    /// Job control for a read (`write == false`) or write by the calling process.
    fn job_control(&self, write: bool) -> Result<(), Errno> {
        if write && self.ldisc.lock().termios.lflag & lflag::TOSTOP == 0 {
            return Ok(());
        }
        self.background_check(if write { signal::SIGTTOU } else { signal::SIGTTIN })
    }

    /// Linux's `tty_check_change`: a process of a background group changing its
    /// controlling terminal (TCSETS*, TCFLSH, TIOCSPGRP) gets SIGTTOU.
    fn check_change(&self) -> Result<(), Errno> {
        self.background_check(signal::SIGTTOU)
    }

    /// A caller in a background group of this terminal's session gets `sig` (SIGTTIN for
    /// reads, SIGTTOU for output and changes) sent to its group, and the call restarts
    /// once it is continued. Ignoring or blocking the signal lets the call through
    /// (reads: EIO); a group that stopping would strand (orphaned) gets EIO.
    fn background_check(&self, sig: i32) -> Result<(), Errno> {
        let Some(task) = crate::process::try_current_task() else { return Ok(()) };
        let p = &task.process;
        let (sid, pgid) = {
            let s = p.state.lock();
            (s.sid, s.pgid)
        };
        let fg = self.pgrp.load(Ordering::Acquire);
        if self.session.load(Ordering::Acquire) != sid || fg == 0 || fg == pgid {
            return Ok(());
        }
        let act = task.sighand().get(sig);
        let blocked = task.sig.lock().mask.has(sig);
        if act.handler == signal::SIG_IGN || blocked {
            return if sig == signal::SIGTTIN { Err(Errno::EIO) } else { Ok(()) };
        }
        if group_orphaned(pgid, sid) {
            return Err(Errno::EIO);
        }
        signal::send_to_group(pgid, SigInfo::new(sig, signal::SI_KERNEL));
        Err(Errno::ERESTARTSYS)
    }

    fn read(&self, buf: &mut [u8], nonblock: bool) -> SysResult {
        if buf.is_empty() {
            return Ok(0);
        }
        self.job_control(false)?;
        let (canon, vmin, vtime) = {
            let l = self.ldisc.lock();
            (l.termios.lflag & lflag::ICANON != 0, l.termios.cc[cc::VMIN], l.termios.cc[cc::VTIME])
        };
        if !canon {
            return self.read_noncanonical(buf, nonblock, vmin, vtime);
        }
        let res = self.readers.wait(WaitOptions::INTERRUPTIBLE, || match self.ldisc.lock().read(buf.len()) {
            ReadOutcome::Data(d) => Some(Ok(d)),
            ReadOutcome::Eof => Some(Ok(alloc::vec::Vec::new())),
            ReadOutcome::Empty if self.hung_up.load(Ordering::Acquire) => Some(Ok(alloc::vec::Vec::new())),
            ReadOutcome::Empty if nonblock => Some(Err(Errno::EAGAIN)),
            ReadOutcome::Empty => None,
        });
        match res {
            Ok(Ok(d)) => {
                buf[..d.len()].copy_from_slice(&d);
                Ok(d.len())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Errno::ERESTARTSYS),
        }
    }

    /// A read in non-canonical mode, as VMIN and VTIME (tenths of a second) say:
    /// MIN 0/TIME 0 returns what is there (maybe nothing); MIN 0/TIME T waits up to T for
    /// the first byte; MIN M/TIME 0 waits for M bytes; MIN M/TIME T waits for a first
    /// byte, then returns at M bytes or when T passes without a new byte.
    fn read_noncanonical(&self, buf: &mut [u8], nonblock: bool, vmin: u8, vtime: u8) -> SysResult {
        const TENTH_NS: u64 = 100_000_000;
        let minimum = if vmin > 0 { (vmin as usize).min(buf.len()) } else { 1 };
        let vtime_ns = u64::from(vtime) * TENTH_NS;
        // None: no time limit (yet).
        let mut deadline = if vmin == 0 { Some(rtos::time::now_ns() + vtime_ns) } else { None };
        let mut got = 0;
        loop {
            let outcome = self.ldisc.lock().read(buf.len() - got);
            match outcome {
                ReadOutcome::Data(d) if !d.is_empty() => {
                    buf[got..got + d.len()].copy_from_slice(&d);
                    got += d.len();
                    if got >= minimum {
                        return Ok(got);
                    }
                    if vmin > 0 && vtime > 0 {
                        // The inter-byte timer restarts with every byte.
                        deadline = Some(rtos::time::now_ns() + vtime_ns);
                    }
                    continue;
                }
                ReadOutcome::Eof => return Ok(got),
                _ => {}
            }
            if self.hung_up.load(Ordering::Acquire) || deadline.is_some_and(|d| rtos::time::now_ns() >= d) {
                return Ok(got);
            }
            if nonblock {
                return if got > 0 { Ok(got) } else { Err(Errno::EAGAIN) };
            }
            let opts = WaitOptions { interruptible: true, deadline_ns: deadline };
            let r = self.readers.wait(opts, || {
                (self.ldisc.lock().readable() || self.hung_up.load(Ordering::Acquire)).then_some(())
            });
            match r {
                Ok(()) | Err(rtos::sync::WaitError::TimedOut) => {}
                Err(_) if got > 0 => return Ok(got),
                Err(_) => return Err(Errno::ERESTARTSYS),
            }
        }
    }

    fn write(&self, data: &[u8]) -> SysResult {
        if self.hung_up.load(Ordering::Acquire) {
            return Err(Errno::EIO);
        }
        self.job_control(true)?;
        self.write_out(data);
        Ok(data.len())
    }

    /// Whether this is the caller's controlling terminal.
    fn is_callers_ctty(&self) -> bool {
        let sid = crate::process::current_process().sid();
        self.session.load(Ordering::Acquire) == sid
    }

    /// Terminal ioctls; `via_master` for a pty master's descriptor (which may ask for the
    /// foreground group and session without owning the terminal, as on Linux).
    fn ioctl(&self, cmd: u32, arg: u64, via_master: bool) -> SysResult {
        use ioctl::*;
        match cmd {
            TCGETS => {
                let t = self.ldisc.lock().termios;
                uaccess::write(arg, &t)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                self.check_change()?;
                let t: Termios = uaccess::read(arg)?;
                let mut l = self.ldisc.lock();
                if cmd == TCSETSF {
                    l.flush_input();
                }
                l.set_termios(t);
                drop(l);
                self.readers.wake_all();
                Ok(0)
            }
            TIOCGWINSZ => {
                let w = *self.winsize.lock();
                uaccess::write(arg, &w)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let w: Winsize = uaccess::read(arg)?;
                let changed = {
                    let mut cur = self.winsize.lock();
                    let c = *cur != w;
                    *cur = w;
                    c
                };
                let pg = self.pgrp.load(Ordering::Acquire);
                if changed && pg > 0 {
                    signal::send_to_group(pg, SigInfo::new(signal::SIGWINCH, signal::SI_KERNEL));
                }
                Ok(0)
            }
            TIOCGPGRP => {
                if !via_master && !self.is_callers_ctty() {
                    return Err(Errno::ENOTTY);
                }
                uaccess::write(arg, &self.pgrp.load(Ordering::Acquire))?;
                Ok(0)
            }
            TIOCSPGRP => {
                let me = crate::process::current_process();
                if self.session.load(Ordering::Acquire) != me.sid() {
                    return Err(Errno::ENOTTY);
                }
                self.check_change()?;
                let pg: i32 = uaccess::read(arg)?;
                if pg < 0 {
                    return Err(Errno::EINVAL);
                }
                // A group lives as long as a member does, zombies included (a pipeline's
                // first process may have exited before the shell hands the terminal to
                // the job).
                let members: alloc::vec::Vec<_> =
                    crate::process::all_processes().into_iter().filter(|p| p.pgid() == pg).collect();
                if members.is_empty() {
                    return Err(Errno::ESRCH);
                }
                if !members.iter().any(|m| m.sid() == me.sid()) {
                    return Err(Errno::EPERM);
                }
                self.pgrp.store(pg, Ordering::Release);
                Ok(0)
            }
            TIOCGSID => {
                if !via_master && !self.is_callers_ctty() {
                    return Err(Errno::ENOTTY);
                }
                let s = self.session.load(Ordering::Acquire);
                if s == 0 {
                    return Err(Errno::ENOTTY);
                }
                uaccess::write(arg, &s)?;
                Ok(0)
            }
            TIOCSCTTY => {
                let p = crate::process::current_process();
                let (sid, pgid) = (p.sid(), p.pgid());
                if sid != p.pid {
                    return Err(Errno::EPERM); // only a session leader
                }
                let cur = self.session.load(Ordering::Acquire);
                if cur == sid {
                    return Ok(0); // already ours
                }
                // A session has at most one controlling terminal.
                if console().session.load(Ordering::Acquire) == sid || super::pty::find_by_session(sid).is_some() {
                    return Err(Errno::EPERM);
                }
                // Another session's terminal can only be stolen (arg 1, as root).
                if cur != 0 && arg != 1 {
                    return Err(Errno::EPERM);
                }
                self.session.store(sid, Ordering::Release);
                self.pgrp.store(pgid, Ordering::Release);
                Ok(0)
            }
            TIOCNOTTY => {
                let p = crate::process::current_process();
                if self.session.load(Ordering::Acquire) != p.sid() {
                    return Err(Errno::ENOTTY);
                }
                if p.sid() == p.pid {
                    self.session.store(0, Ordering::Release);
                    let pg = self.pgrp.swap(0, Ordering::AcqRel);
                    if pg > 0 {
                        signal::send_to_group(pg, SigInfo::new(signal::SIGHUP, signal::SI_KERNEL));
                    }
                }
                Ok(0)
            }
            FIONREAD => {
                let n = self.ldisc.lock().available() as i32;
                uaccess::write(arg, &n)?;
                Ok(0)
            }
            TIOCOUTQ => {
                let n = match &self.sink {
                    Sink::Master { queue, .. } => queue.lock().len() as i32,
                    Sink::Serial => 0,
                };
                uaccess::write(arg, &n)?;
                Ok(0)
            }
            TCFLSH => {
                self.check_change()?;
                if arg == 0 || arg == 2 {
                    self.ldisc.lock().flush_input();
                }
                if arg == 1 || arg == 2 {
                    if let Sink::Master { queue, .. } = &self.sink {
                        queue.lock().clear();
                    }
                }
                Ok(0)
            }
            TCSBRK | TCXONC | TCSBRKP => Ok(0),
            TIOCGPTN => match self.index {
                Some(n) => {
                    uaccess::write(arg, &n)?;
                    Ok(0)
                }
                None => Err(Errno::ENOTTY),
            },
            _ => Err(Errno::ENOTTY),
        }
    }

    fn poll_in(&self) -> u32 {
        let mut ev = events::POLLOUT | events::POLLWRNORM;
        if self.ldisc.lock().readable() {
            ev |= events::POLLIN | events::POLLRDNORM;
        }
        if self.hung_up.load(Ordering::Acquire) {
            ev |= events::POLLHUP | events::POLLIN;
        }
        ev
    }
}

/// Whether process group `pgid` of session `sid` is orphaned: no member has a parent in
/// the same session outside the group (POSIX; stop signals would leave it stopped for
/// good, so the terminal refuses with EIO instead).
fn group_orphaned(pgid: i32, sid: i32) -> bool {
    !crate::process::all_processes().iter().filter(|m| m.pgid() == pgid && !m.is_zombie()).any(|m| {
        let parent = m.state.lock().parent.upgrade();
        parent.is_some_and(|pp| pp.sid() == sid && pp.pgid() != pgid)
    })
}

static CONSOLE: spin::Once<Arc<Tty>> = spin::Once::new();

/// The console terminal (COM1).
pub fn console() -> &'static Arc<Tty> {
    CONSOLE.call_once(|| Arc::new(Tty::new(Sink::Serial, None)))
}

/// The UART receive hook.
pub fn console_input(b: u8) {
    console().input(b);
}

/// A terminal opened through a device node (console, pty slave).
pub struct TtyFile {
    pub tty: Arc<Tty>,
    inode: Option<Arc<dyn Inode>>,
}

impl TtyFile {
    /// File operations for `tty`, seen through `inode`.
    pub fn new(tty: Arc<Tty>, inode: Option<Arc<dyn Inode>>) -> Arc<Self> {
        Arc::new(Self { tty, inode })
    }

    /// Terminal ioctls as the pty master issues them (settings, window size, groups).
    pub fn tty_ioctl(&self, cmd: u32, arg: u64) -> SysResult {
        self.tty.ioctl(cmd, arg, true)
    }
}

/// Opens the console terminal.
pub fn open_console(_flags: u32, inode: Arc<dyn Inode>) -> Result<Arc<dyn FileOps>, Errno> {
    Ok(TtyFile::new(console().clone(), Some(inode)))
}

/// Opens the controlling terminal of the caller (`/dev/tty`).
pub fn open_controlling(flags: u32, inode: Arc<dyn Inode>) -> Result<Arc<dyn FileOps>, Errno> {
    let sid = crate::process::current_process().sid();
    if console().session.load(Ordering::Acquire) == sid {
        return open_console(flags, inode);
    }
    match super::pty::find_by_session(sid) {
        Some(t) => Ok(TtyFile::new(t, Some(inode))),
        None => Err(Errno::ENXIO),
    }
}

/// ioctl numbers (asm-generic/ioctls.h).
pub mod ioctl {
    pub const TCGETS: u32 = 0x5401;
    pub const TCSETS: u32 = 0x5402;
    pub const TCSETSW: u32 = 0x5403;
    pub const TCSETSF: u32 = 0x5404;
    pub const TCSBRK: u32 = 0x5409;
    pub const TCXONC: u32 = 0x540a;
    pub const TCFLSH: u32 = 0x540b;
    pub const TIOCSCTTY: u32 = 0x540e;
    pub const TIOCGPGRP: u32 = 0x540f;
    pub const TIOCSPGRP: u32 = 0x5410;
    pub const TIOCOUTQ: u32 = 0x5411;
    pub const TIOCGWINSZ: u32 = 0x5413;
    pub const TIOCSWINSZ: u32 = 0x5414;
    pub const FIONREAD: u32 = 0x541b;
    pub const TIOCNOTTY: u32 = 0x5422;
    pub const TCSBRKP: u32 = 0x5425;
    pub const TIOCGSID: u32 = 0x5429;
    pub const TIOCGPTN: u32 = 0x8004_5430;
    pub const TIOCSPTLCK: u32 = 0x4004_5431;
    pub const TIOCGPTPEER: u32 = 0x5441;
}

impl FileOps for TtyFile {
    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        self.tty.read(buf, f.nonblocking())
    }

    fn write(&self, _f: &File, data: &[u8]) -> SysResult {
        self.tty.write(data)
    }

    fn ioctl(&self, _f: &File, cmd: u32, arg: u64) -> SysResult {
        self.tty.ioctl(cmd, arg, false)
    }

    fn poll(&self, _f: &File) -> u32 {
        self.tty.poll_in()
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tty.readers)
    }

    fn inode(&self) -> Option<Arc<dyn Inode>> {
        self.inode.clone()
    }

    fn stat(&self) -> Result<super::vfs::Stat, Errno> {
        match &self.inode {
            Some(i) => Ok(i.stat()),
            None => Ok(super::devices::char_stat(super::devices::makedev(136, self.tty.index.unwrap_or(0)))),
        }
    }

    fn is_tty(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
