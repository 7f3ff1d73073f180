//! Programs started by a scenario with pipes: stdin (optionally) a pipe the scenario
//! writes, stdout and stderr one pipe read into an [`Output`]. Each program leads its own
//! process group; dropping a [`Proc`] kills the group and reaps the program.
//!
//! The programs are started with fork + exec (a `pre_exec` hook makes std take that
//! path): the driver is test infrastructure and keeps to the most basic way of starting
//! a process; the Tokio programs themselves (`batch`) use `posix_spawn`.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::output::Output;

/// How a program is started.
#[derive(Default, Clone, Copy)]
pub struct Options {
    /// stdin is a pipe the scenario writes (else /dev/null).
    pub stdin: bool,
    /// RLIMIT_NOFILE (soft limit) of the program.
    pub nofile: Option<u64>,
}

pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    pub out: Output,
    reaped: Option<i32>,
}

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if r != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 just created both descriptors; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A status as a shell shows it: the exit code, or 128+N for signal N.
pub fn shell_status(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

impl Proc {
    pub fn spawn(path: &Path, args: &[&str], label: &str, opts: Options) -> Result<Proc, String> {
        let (out_r, out_w) = pipe()?;
        let err_w = out_w.try_clone().map_err(|e| format!("dup: {e}"))?;
        let mut cmd = Command::new(path);
        cmd.args(args)
            .stdin(if opts.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::from(err_w));
        let nofile = opts.nofile;
        // SAFETY: the hook only makes async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(soft) = nofile {
                    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                    libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                    lim.rlim_cur = soft;
                    if lim.rlim_max < soft {
                        lim.rlim_max = soft;
                    }
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        drop(cmd); // closes our copies of the pipe's write end
        let stdin = child.stdin.take();
        Ok(Proc { child, stdin, out: Output::new(out_r, label), reaped: None })
    }

    /// Writes `text` to the program's stdin.
    pub fn write(&mut self, text: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or_else(|| format!("{}: stdin is not a pipe (or closed)", self.out.label()))?;
        stdin.write_all(text.as_bytes()).map_err(|e| format!("{}: writing stdin: {e}", self.out.label()))
    }

    /// Closes stdin: the program reads end of file.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// True while the program has not exited.
    pub fn running(&mut self) -> bool {
        self.reaped.is_none() && matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits (reading its output meanwhile) for the program to exit; its status.
    pub fn wait(&mut self, patience: Duration) -> Result<i32, String> {
        if let Some(s) = self.reaped {
            return Ok(s);
        }
        let status = wait_reading(&mut self.child, &mut self.out, patience)?;
        self.reaped = Some(status);
        Ok(status)
    }

    /// Waits for the exit status `want`.
    pub fn expect_exit(&mut self, want: i32, patience: Duration) -> Result<(), String> {
        let got = self.wait(patience)?;
        if got != want {
            return Err(format!("{} exited with status {got}, expected {want}", self.out.label()));
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        kill_group(&mut self.child, self.reaped.is_some());
        self.out.drain(Duration::from_millis(20));
    }
}

/// Polls `child` for its exit while reading `out`; the exit status as a shell shows it.
pub fn wait_reading(child: &mut Child, out: &mut Output, patience: Duration) -> Result<i32, String> {
    let end = Instant::now() + patience;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                out.drain(Duration::from_millis(100));
                return Ok(shell_status(status));
            }
            Ok(None) => {}
            Err(e) => return Err(format!("{}: waitpid: {e}", out.label())),
        }
        if Instant::now() >= end {
            return Err(format!(
                "{} did not exit within {patience:?}; its last output: {:?}",
                out.label(),
                crate::output::tail(&out.text(), 300)
            ));
        }
        out.drain(Duration::from_millis(20));
    }
}

/// How long a killed program may take to die before the driver gives up on it.
const DEATH_LIMIT: Duration = Duration::from_secs(10);

/// Kills the process group led by `child` (its descendants too) and reaps `child`; says
/// so (instead of hanging) if it survives SIGKILL.
pub fn kill_group(child: &mut Child, reaped: bool) {
    let pid = child.id() as i32;
    // SAFETY: kill only sends a signal.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    if reaped {
        return;
    }
    let _ = child.kill();
    let end = Instant::now() + DEATH_LIMIT;
    while Instant::now() < end {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("tokio_scenario: pid {pid} still alive {DEATH_LIMIT:?} after SIGKILL; not waiting for it");
}
