//! Axle's init (pid 1).
//!
//! - With `/etc/axle/cmd` (argv as NUL-terminated strings, written by `tools/run-qemu`):
//!   runs it as a child in its own session, with the console as its controlling terminal
//!   and its process group in the foreground, environment from `/etc/axle/env`; then exits
//!   with the command's status (128+N if a signal N killed it), which ends the run.
//! - Without it: prints a banner and runs `/bin/sh` the same way; when the shell exits,
//!   init exits with its status (the machine stops).
//!
//! In both cases init reaps every orphan re-parented to it while it waits.

use std::ffi::CString;
use std::fs;

/// NUL-terminated strings, empty ones included (an argv may contain "").
fn split_nul(data: &[u8]) -> Vec<CString> {
    let body = data.strip_suffix(&[0]).unwrap_or(data);
    if body.is_empty() && data.len() <= 1 {
        return Vec::new();
    }
    body.split(|&b| b == 0).filter_map(|s| CString::new(s).ok()).collect()
}

fn default_env() -> Vec<CString> {
    ["PATH=/bin:/sbin:/usr/bin:/usr/sbin:/add", "HOME=/root", "TERM=linux"].iter().filter_map(|s| CString::new(*s).ok()).collect()
}

/// Finds `prog` on `PATH` (from `env`) unless it contains a slash.
fn resolve(prog: &CString, env: &[CString]) -> CString {
    let p = prog.to_bytes();
    if p.contains(&b'/') {
        return prog.clone();
    }
    let path = env
        .iter()
        .find_map(|e| e.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"/bin:/sbin:/usr/bin:/usr/sbin");
    for dir in path.split(|&b| b == b':') {
        let mut full = dir.to_vec();
        full.push(b'/');
        full.extend_from_slice(p);
        if let Ok(c) = CString::new(full) {
            // SAFETY: `c` is a valid NUL-terminated path.
            if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
                return c;
            }
        }
    }
    prog.clone()
}

/// Starts `argv` as a session leader owning the console; returns its pid.
fn spawn(argv: &[CString], env: &[CString]) -> libc::pid_t {
    let path = resolve(&argv[0], env);
    let mut av: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    av.push(std::ptr::null());
    let mut ev: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    ev.push(std::ptr::null());
    // SAFETY: plain fork/exec; between fork and exec the child only calls
    // async-signal-safe functions on memory prepared before the fork.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU, libc::SIGCHLD, libc::SIGPIPE] {
                libc::signal(sig, libc::SIG_DFL);
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 1);
            libc::tcsetpgrp(0, libc::getpid());
            libc::execve(path.as_ptr(), av.as_ptr(), ev.as_ptr());
            let err = std::io::Error::last_os_error();
            let msg = format!("init: cannot run {}: {err}\n", argv[0].to_string_lossy());
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(if err.raw_os_error() == Some(libc::ENOENT) { 127 } else { 126 });
        }
        pid
    }
}

/// Reaps children until `child` ends; returns its shell-style status.
fn wait_for(child: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return 127;
        }
        if pid == child {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            if libc::WIFSIGNALED(status) {
                return 128 + libc::WTERMSIG(status);
            }
        }
    }
}

fn main() {
    let env: Vec<CString> = fs::read("/etc/axle/env").map(|e| split_nul(&e)).unwrap_or_default().into_iter().filter(|e| !e.as_bytes().is_empty()).collect();
    let env = if env.is_empty() { default_env() } else { env };
    let argv = match fs::read("/etc/axle/cmd").map(|c| split_nul(&c)) {
        Ok(a) if !a.is_empty() => a,
        _ => {
            println!("\nAxle {} — a real-time OS for robot cars, running Linux programs.", env!("CARGO_PKG_VERSION"));
            if fs::metadata("/bin/sh").is_err() {
                println!("This image has no shell (/bin/sh); run programs with `make run-qemu CMD=...`.");
                std::process::exit(0);
            }
            println!("Try: ls /proc, cat /proc/meminfo, ps, top, echo hi > /tmp/x; cat /tmp/x");
            println!("Quit with `poweroff` (or Ctrl-A x).\n");
            vec![CString::new("/bin/sh").unwrap_or_default()]
        }
    };
    let child = spawn(&argv, &env);
    if child < 0 {
        std::process::exit(126);
    }
    std::process::exit(wait_for(child));
}
