//! The console terminal: the serial line with the N_TTY line discipline, its foreground
//! process group and window size. Received bytes arrive from the UART interrupt; readers
//! sleep on a wait queue until a line (or byte, in raw mode) is ready.

use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicI32, Ordering};

use bytemuck::{Pod, Zeroable};
use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use super::file::{events, File, FileOps};
use super::ldisc::{LineDiscipline, ReadOutcome, Termios, TtySignal};
use super::vfs::Inode;
use crate::errno::{Errno, SysResult};
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

/// A terminal.
pub struct Tty {
    ldisc: SpinLock<LineDiscipline>,
    readers: WaitQueue,
    /// Foreground process group (0: none).
    pub pgrp: AtomicI32,
    /// Session that owns the terminal (0: none).
    pub session: AtomicI32,
    winsize: SpinLock<Winsize>,
    output: fn(&[u8]),
}

impl Tty {
    const fn new(output: fn(&[u8])) -> Self {
        Self {
            ldisc: SpinLock::new(LineDiscipline::const_default()),
            readers: WaitQueue::new(),
            pgrp: AtomicI32::new(0),
            session: AtomicI32::new(0),
            winsize: SpinLock::new(Winsize { rows: 24, cols: 80, xpixel: 0, ypixel: 0 }),
            output,
        }
    }

    /// Handles one byte typed on the terminal (interrupt context).
    pub fn input(&self, b: u8) {
        let r = self.ldisc.lock().receive(b);
        if !r.echo.is_empty() {
            (self.output)(&r.echo);
        }
        if let Some(s) = r.signal {
            let sig = match s {
                TtySignal::Int => crate::signal::SIGINT,
                TtySignal::Quit => crate::signal::SIGQUIT,
                TtySignal::Tstp => crate::signal::SIGTSTP,
            };
            let pg = self.pgrp.load(Ordering::Acquire);
            if pg > 0 {
                crate::signal::send_to_group_deferred(pg, sig);
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
        (self.output)(&out);
    }
}

fn serial_out(b: &[u8]) {
    rtos::console::write_raw(b);
}

/// The console terminal (COM1).
pub static CONSOLE: Tty = Tty::new(serial_out);

/// The UART receive hook.
pub fn console_input(b: u8) {
    CONSOLE.input(b);
}

struct TtyFile {
    tty: &'static Tty,
    inode: Arc<dyn Inode>,
}

/// Opens the console terminal.
pub fn open_console(_flags: u32, inode: Arc<dyn Inode>) -> Result<Arc<dyn FileOps>, Errno> {
    Ok(Arc::new(TtyFile { tty: &CONSOLE, inode }))
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
    pub const TIOCGSID: u32 = 0x5429;
    pub const TIOCGPTN: u32 = 0x8004_5430;
    pub const TIOCSPTLCK: u32 = 0x4004_5431;
}

impl FileOps for TtyFile {
    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        if buf.is_empty() {
            return Ok(0);
        }
        let opts = WaitOptions::INTERRUPTIBLE;
        let res = self.tty.readers.wait(opts, || match self.tty.ldisc.lock().read(buf.len()) {
            ReadOutcome::Data(d) => Some(Ok(d)),
            ReadOutcome::Eof => Some(Ok(alloc::vec::Vec::new())),
            ReadOutcome::Empty if f.nonblocking() => Some(Err(Errno::EAGAIN)),
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

    fn write(&self, _f: &File, data: &[u8]) -> SysResult {
        self.tty.write_out(data);
        Ok(data.len())
    }

    fn ioctl(&self, _f: &File, cmd: u32, arg: u64) -> SysResult {
        use ioctl::*;
        match cmd {
            TCGETS => {
                let t = self.tty.ldisc.lock().termios;
                uaccess::write(arg, &t)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let t: Termios = uaccess::read(arg)?;
                let mut l = self.tty.ldisc.lock();
                if cmd == TCSETSF {
                    l.flush_input();
                }
                l.set_termios(t);
                drop(l);
                self.tty.readers.wake_all();
                Ok(0)
            }
            TIOCGWINSZ => {
                let w = *self.tty.winsize.lock();
                uaccess::write(arg, &w)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let w: Winsize = uaccess::read(arg)?;
                let changed = {
                    let mut cur = self.tty.winsize.lock();
                    let c = *cur != w;
                    *cur = w;
                    c
                };
                let pg = self.tty.pgrp.load(Ordering::Acquire);
                if changed && pg > 0 {
                    crate::signal::send_to_group_deferred(pg, crate::signal::SIGWINCH);
                }
                Ok(0)
            }
            TIOCGPGRP => {
                uaccess::write(arg, &self.tty.pgrp.load(Ordering::Acquire))?;
                Ok(0)
            }
            TIOCSPGRP => {
                let pg: i32 = uaccess::read(arg)?;
                if pg <= 0 {
                    return Err(Errno::EINVAL);
                }
                if !crate::process::group_exists(pg) {
                    return Err(Errno::ESRCH);
                }
                self.tty.pgrp.store(pg, Ordering::Release);
                Ok(0)
            }
            TIOCGSID => {
                let s = self.tty.session.load(Ordering::Acquire);
                if s == 0 {
                    return Err(Errno::ENOTTY);
                }
                uaccess::write(arg, &s)?;
                Ok(0)
            }
            TIOCSCTTY => {
                let p = crate::process::current_process();
                self.tty.session.store(p.sid(), Ordering::Release);
                self.tty.pgrp.store(p.pgid(), Ordering::Release);
                Ok(0)
            }
            TIOCNOTTY => Ok(0),
            FIONREAD => {
                let n = self.tty.ldisc.lock().available() as i32;
                uaccess::write(arg, &n)?;
                Ok(0)
            }
            TIOCOUTQ => {
                uaccess::write(arg, &0i32)?;
                Ok(0)
            }
            TCFLSH => {
                if arg == 0 || arg == 2 {
                    self.tty.ldisc.lock().flush_input();
                }
                Ok(0)
            }
            TCSBRK | TCXONC => Ok(0),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn poll(&self, _f: &File) -> u32 {
        let mut ev = events::POLLOUT | events::POLLWRNORM;
        if self.tty.ldisc.lock().readable() {
            ev |= events::POLLIN | events::POLLRDNORM;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tty.readers)
    }

    fn inode(&self) -> Option<Arc<dyn Inode>> {
        Some(self.inode.clone())
    }

    fn is_tty(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
