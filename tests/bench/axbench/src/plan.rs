//! The plan runner: `axbench plan FILE` runs the benchmarks a plan lists, each in its own
//! process with a time limit, so one that fails or hangs does not lose the others.
//!
//! Plan lines (written by `tools/bench/`; `#` starts a comment):
//!
//! ```text
//! run NAME TIMEOUT_S PROGRAM ARG...    run and wait (killed with SIGKILL at the limit)
//! start NAME PROGRAM ARG...            start in the background (a load generator)
//! stop NAME                            SIGKILL a background program and reap it
//! ```
//!
//! Output, around the programs' own lines (which go straight to the console):
//!
//! ```text
//! plan-begin
//! begin NAME
//! end NAME status N ms T      | end NAME signal N ms T | end NAME timeout S
//!                             | end NAME spawn-error TEXT | end NAME unkillable S
//! plan-end
//! ```

use std::collections::HashMap;
use std::ffi::CString;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use crate::out;
use crate::sys::now_ns;

/// One step of a plan.
#[derive(Debug, PartialEq)]
pub enum Step {
    Run { name: String, timeout_s: u64, argv: Vec<String> },
    Start { name: String, argv: Vec<String> },
    Stop { name: String },
}

/// Parses a plan's text.
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let bad = || format!("plan line {}: {line:?}", i + 1);
        let step = match words[0].as_str() {
            "run" if words.len() >= 4 => Step::Run {
                name: words[1].clone(),
                timeout_s: words[2].parse().map_err(|_| bad())?,
                argv: words[3..].to_vec(),
            },
            "start" if words.len() >= 3 => Step::Start { name: words[1].clone(), argv: words[2..].to_vec() },
            "stop" if words.len() == 2 => Step::Stop { name: words[1].clone() },
            _ => return Err(bad()),
        };
        steps.push(step);
    }
    Ok(steps)
}

/// Runs the plan in FILE; exits 0 unless the plan cannot be read (failures of the
/// benchmarks are reported on `end` lines, not in the exit status).
pub fn run_file(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the plan {path}: {e}"))?;
    let steps = parse(&text)?;
    out::raw("plan-begin");
    out::info("uname", &crate::sys::uname());
    out::info("cpus", &crate::sys::cpus().to_string());
    match crate::net::loopback_up() {
        Ok(state) => out::info("loopback", state),
        Err(e) => out::info("loopback", &format!("error {e}")),
    }
    let mut background: HashMap<String, Child> = HashMap::new();
    for step in steps {
        match step {
            Step::Run { name, timeout_s, argv } => run_one(&name, timeout_s, &argv),
            Step::Start { name, argv } => match spawn(&argv) {
                Ok(child) => {
                    out::raw(&format!("started {name}"));
                    background.insert(name, child);
                }
                Err(e) => out::raw(&format!("end {name} spawn-error {e}")),
            },
            Step::Stop { name } => {
                if let Some(child) = background.remove(&name) {
                    kill_and_reap(&name, child);
                    out::raw(&format!("stopped {name}"));
                }
            }
        }
    }
    for (name, child) in background {
        kill_and_reap(&name, child);
    }
    out::raw("plan-end");
    Ok(())
}

/// A started program: its pid and a receiver of its wait status (from a waiter thread,
/// so the caller can wait with a time limit).
struct Child {
    pid: libc::pid_t,
    status: mpsc::Receiver<Result<libc::c_int, String>>,
}

/// Starts `argv` with fork + execve (not posix_spawn, which is vfork-based in musl): the
/// `spawn` benchmark measures posix_spawn, and a kernel bug in that path must not take the
/// whole plan down with it. The child inherits stdout/stderr (the console).
fn spawn(argv: &[String]) -> Result<Child, String> {
    let cargs: Vec<CString> =
        argv.iter().map(|a| CString::new(a.as_str())).collect::<Result<_, _>>().map_err(|_| "NUL in argv".to_string())?;
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let env = environ_ptr();
    let _ = std::io::stdout().flush();
    // SAFETY: the child only calls execve and _exit (async-signal-safe) on memory prepared
    // before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(crate::sys::os_err("fork"));
    }
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            libc::execve(ptrs[0], ptrs.as_ptr(), env);
            libc::_exit(127);
        }
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut status = 0;
        loop {
            // SAFETY: pid is our child; status is a valid int.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                let _ = tx.send(Ok(status));
                return;
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                let _ = tx.send(Err(crate::sys::os_err("waitpid")));
                return;
            }
        }
    });
    Ok(Child { pid, status: rx })
}

/// The C library's `environ` (the environment the plan runner got).
fn environ_ptr() -> *const *const libc::c_char {
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: reading the C library's environ pointer.
    unsafe { environ }
}

fn run_one(name: &str, timeout_s: u64, argv: &[String]) {
    out::raw(&format!("begin {name}"));
    let t0 = now_ns();
    let child = match spawn(argv) {
        Ok(c) => c,
        Err(e) => {
            out::raw(&format!("end {name} spawn-error {e}"));
            return;
        }
    };
    match child.status.recv_timeout(Duration::from_secs(timeout_s.max(1))) {
        Ok(Ok(status)) => {
            let ms = (now_ns() - t0) as f64 / 1e6;
            out::raw(&format!("end {name} {} ms {ms:.1}", describe(status)));
        }
        Ok(Err(e)) => out::raw(&format!("end {name} spawn-error {e}")),
        Err(_) => {
            // SAFETY: pid is our child, not yet reaped (its waiter has not returned).
            unsafe { libc::kill(child.pid, libc::SIGKILL) };
            if child.status.recv_timeout(Duration::from_secs(10)).is_ok() {
                out::raw(&format!("end {name} timeout {timeout_s}"));
            } else {
                out::raw(&format!("end {name} unkillable {timeout_s}"));
            }
        }
    }
}

fn kill_and_reap(name: &str, child: Child) {
    // SAFETY: pid is our child, not yet reaped.
    unsafe { libc::kill(child.pid, libc::SIGKILL) };
    if child.status.recv_timeout(Duration::from_secs(10)).is_err() {
        out::raw(&format!("end {name} unkillable 10"));
    }
}

fn describe(status: libc::c_int) -> String {
    if libc::WIFEXITED(status) {
        format!("status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status -1 (wait status {status:#x})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_steps_and_rejects_bad_lines() {
        let steps = parse("# c\nrun getpid 30 /add/axbench getpid --ms 100\n\nstart load /add/axbench hog\nstop load\n")
            .unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[0],
            Step::Run {
                name: "getpid".into(),
                timeout_s: 30,
                argv: vec!["/add/axbench".into(), "getpid".into(), "--ms".into(), "100".into()]
            }
        );
        assert!(parse("run x notanumber /p").is_err());
        assert!(parse("jump x").is_err());
    }
}
