//! A program on a pseudo-terminal, as a person at a terminal would run it: the master is
//! opened with posix_openpt/grantpt/unlockpt, the program starts in a new session
//! (setsid) with the slave (ptsname) as its controlling terminal (TIOCSCTTY) and as its
//! stdin, stdout and stderr. The scenario types keystrokes on the master and reads what
//! the terminal shows (the line discipline's echo included) from it.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::os::unix::process::CommandExt;

use crate::output::Output;
use crate::procs::{kill_group, wait_reading};

/// Pause between two keystrokes, like fast typing.
const KEY_GAP: Duration = Duration::from_millis(5);

pub struct Terminal {
    child: Child,
    master: OwnedFd,
    pub out: Output,
    reaped: Option<i32>,
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Opens a new pseudo-terminal: (master, path of the slave).
fn open_pty() -> Result<(OwnedFd, String), String> {
    // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes into our buffer.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if m < 0 {
            return Err(os_err("posix_openpt"));
        }
        let master = OwnedFd::from_raw_fd(m);
        if libc::grantpt(m) != 0 {
            return Err(os_err("grantpt"));
        }
        if libc::unlockpt(m) != 0 {
            return Err(os_err("unlockpt"));
        }
        let mut name = [0 as libc::c_char; 128];
        if libc::ptsname_r(m, name.as_mut_ptr(), name.len()) != 0 {
            return Err(os_err("ptsname_r"));
        }
        let path = CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned();
        let size = libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
        libc::ioctl(m, libc::TIOCSWINSZ, &size);
        Ok((master, path))
    }
}

impl Terminal {
    pub fn spawn(path: &Path, args: &[&str], label: &str) -> Result<Terminal, String> {
        let (master, slave_path) = open_pty()?;
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags_noctty()
            .open(&slave_path)
            .map_err(|e| format!("open {slave_path}: {e}"))?;
        let slave: OwnedFd = slave.into();
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| format!("dup: {e}"));
        let mut cmd = Command::new(path);
        cmd.args(args)
            .stdin(Stdio::from(dup(&slave)?))
            .stdout(Stdio::from(dup(&slave)?))
            .stderr(Stdio::from(slave));
        // SAFETY: the hook only makes async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // stdin is the slave by now: make it the controlling terminal.
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("cannot start {} on {slave_path}: {e}", path.display()))?;
        drop(cmd); // our copies of the slave: only the program holds it now
        let reader = master.try_clone().map_err(|e| format!("dup: {e}"))?;
        Ok(Terminal { child, master, out: Output::new(reader, label), reaped: None })
    }

    /// Types `keys` on the terminal, one keystroke at a time (Enter is "\r", ^C "\x03",
    /// ^D "\x04").
    pub fn type_keys(&mut self, keys: &str) -> Result<(), String> {
        for b in keys.bytes() {
            // SAFETY: writes one byte from a local.
            let n = unsafe { libc::write(self.master.as_raw_fd(), (&b as *const u8).cast(), 1) };
            if n != 1 {
                return Err(os_err(&format!("{}: typing {:?}", self.out.label(), b as char)));
            }
            self.out.drain(KEY_GAP);
        }
        Ok(())
    }

    /// Waits (showing the terminal meanwhile) for the program to exit; its status.
    pub fn wait(&mut self, patience: Duration) -> Result<i32, String> {
        if let Some(s) = self.reaped {
            return Ok(s);
        }
        let status = wait_reading(&mut self.child, &mut self.out, patience)?;
        self.reaped = Some(status);
        Ok(status)
    }

    /// The program's threads as /proc tells them (name, state, signal masks), to explain
    /// a program that did not react.
    pub fn diagnose(&self) -> String {
        let pid = self.child.id();
        let mut tids: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        tids.sort();
        let mut out = format!("threads of pid {pid}:");
        for tid in tids {
            let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap_or_default();
            let fields: Vec<&str> = status
                .lines()
                .filter(|l| ["Name:", "State:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigCgt:"].iter().any(|k| l.starts_with(k)))
                .map(|l| l.split_whitespace().last().unwrap_or_default())
                .collect();
            out += &format!(" [{tid} {}]", fields.join(" "));
        }
        out
    }

    pub fn expect_exit(&mut self, want: i32, patience: Duration) -> Result<(), String> {
        let got = self.wait(patience)?;
        if got != want {
            return Err(format!("{} exited with status {got}, expected {want}", self.out.label()));
        }
        Ok(())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        kill_group(&mut self.child, self.reaped.is_some());
        self.out.drain(Duration::from_millis(20));
    }
}

/// `O_NOCTTY` for OpenOptions: opening the slave must not make it the driver's own
/// controlling terminal.
trait NoCtty {
    fn custom_flags_noctty(&mut self) -> &mut Self;
}

impl NoCtty for std::fs::OpenOptions {
    fn custom_flags_noctty(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
    }
}
