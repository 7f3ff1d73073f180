//! Tiny check API shared by the conformance suites.
//!
//! A suite program creates a [`Suite`], runs named checks with [`Suite::check`] and
//! ends with [`Suite::finish`]. The output format is the contract with the harness
//! (`tests/harness/run_tests.py`):
//!
//! ```text
//! ok <suite>::<check>
//! FAIL <suite>::<check>: <reason on one line>
//! <suite>: N passed, M failed
//! ```
//!
//! exactly one line per check, then the summary; the process exits 0 iff M == 0.
//! A check is a closure returning [`CheckResult`]; a panic inside it is caught and
//! reported as a failure, so one broken check never hides the others.
//!
//! The helpers ([`ensure!`], [`ensure_eq!`], [`sys`], [`expect_errno`]) keep checks
//! short and make them assert exact values (results and errno numbers).

use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

/// What a check returns: `Err(reason)` makes it fail.
pub type CheckResult = Result<(), String>;

/// The message of the last panic, recorded by our panic hook (which replaces the
/// default one so that a panic does not print stray lines).
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// A running suite: counts and prints check results.
pub struct Suite {
    name: &'static str,
    passed: u32,
    failed: u32,
}

impl Suite {
    /// Starts the suite `name` (the `<suite>` part of every output line).
    pub fn new(name: &'static str) -> Suite {
        panic::set_hook(Box::new(|info| {
            let msg = panic_text(info.payload());
            let text = match info.location() {
                Some(loc) => format!("{msg} at {}:{}", loc.file(), loc.line()),
                None => msg,
            };
            if let Ok(mut slot) = LAST_PANIC.lock() {
                *slot = Some(text);
            }
        }));
        Suite {
            name,
            passed: 0,
            failed: 0,
        }
    }

    /// Runs one check and prints its `ok`/`FAIL` line.
    pub fn check(&mut self, check: &str, f: impl FnOnce() -> CheckResult) {
        let result = run_catching(f);
        self.record(check, result);
    }

    /// Runs a check that prints its own `ok` line: `f` gets the exact line
    /// (`ok <suite>::<check>\n`) and must write it itself (used to test `write` to
    /// stdout without printing extra lines). If `f` fails, a newline and the `FAIL`
    /// line follow whatever it managed to write.
    pub fn check_own_line(&mut self, check: &str, f: impl FnOnce(&[u8]) -> CheckResult) {
        let line = format!("ok {}::{}\n", self.name, check);
        let _ = std::io::stdout().flush();
        match run_catching(|| f(line.as_bytes())) {
            Ok(()) => self.passed += 1,
            Err(reason) => {
                println!();
                self.record(check, Err(reason));
            }
        }
    }

    /// Prints the summary line and exits: status 0 iff every check passed.
    pub fn finish(self) -> ! {
        println!(
            "{}: {} passed, {} failed",
            self.name, self.passed, self.failed
        );
        let _ = std::io::stdout().flush();
        std::process::exit(if self.failed == 0 { 0 } else { 1 })
    }

    fn record(&mut self, check: &str, result: CheckResult) {
        let mut out = std::io::stdout().lock();
        match result {
            Ok(()) => {
                self.passed += 1;
                let _ = writeln!(out, "ok {}::{}", self.name, check);
            }
            Err(reason) => {
                self.failed += 1;
                let reason = reason.replace('\n', " | ");
                let _ = writeln!(out, "FAIL {}::{}: {}", self.name, check, reason);
            }
        }
        let _ = out.flush();
    }
}

fn run_catching(f: impl FnOnce() -> CheckResult) -> CheckResult {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let recorded = LAST_PANIC.lock().ok().and_then(|mut slot| slot.take());
            Err(format!(
                "panicked: {}",
                recorded.unwrap_or_else(|| panic_text(&*payload))
            ))
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// Joins a thread, turning a panic in it into an error message.
pub fn join<T>(handle: std::thread::JoinHandle<T>) -> Result<T, String> {
    handle
        .join()
        .map_err(|payload| format!("thread panicked: {}", panic_text(&*payload)))
}

/// Fails the check with a formatted reason unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// Fails the check unless `left == right`, showing both values.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (l, r) => {
                if *l != *r {
                    return Err(format!("{} = {:?}, expected {:?}", stringify!($left), l, r));
                }
            }
        }
    };
    ($left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if *l != *r {
                    return Err(format!("{}: got {:?}, expected {:?}", format!($($fmt)+), l, r));
                }
            }
        }
    };
}

/// Sets errno to 0 (so a stale value can never satisfy a check).
pub fn clear_errno() {
    // SAFETY: errno is a valid thread-local int.
    unsafe { *libc::__errno_location() = 0 };
}

/// The current errno.
pub fn errno() -> i32 {
    // SAFETY: errno is a valid thread-local int.
    unsafe { *libc::__errno_location() }
}

/// Symbolic name of an errno value, for readable failure messages.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        0 => "0",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSUP => "ENOTSUP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return format!("errno {e}"),
    };
    format!("{name} ({e})")
}

/// Interprets the return value of `libc::syscall` (or a libc wrapper that returns
/// -1 and sets errno): `Ok(value)` or `Err(errno)`. Call [`clear_errno`] first
/// if the call might not set errno.
pub fn sys(ret: libc::c_long) -> Result<libc::c_long, i32> {
    if ret == -1 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

/// Checks that a call described by `what` failed with exactly `want`.
/// `ret` is the raw return value (-1 on failure, errno set).
pub fn expect_errno(what: &str, ret: libc::c_long, want: i32) -> CheckResult {
    match sys(ret) {
        Ok(v) => Err(format!(
            "{what} returned {v}, expected -1/{}",
            errno_name(want)
        )),
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!(
            "{what} failed with {}, expected {}",
            errno_name(e),
            errno_name(want)
        )),
    }
}

/// Runs a raw syscall with errno cleared first and checks it failed with `want`.
/// Example: `expect_sys_errno("syscall(1000)", || unsafe { libc::syscall(1000) }, libc::ENOSYS)`.
pub fn expect_sys_errno(what: &str, call: impl FnOnce() -> libc::c_long, want: i32) -> CheckResult {
    clear_errno();
    let ret = call();
    expect_errno(what, ret, want)
}

/// Runs a raw syscall with errno cleared first and returns its result or errno,
/// formatted as a check error.
pub fn sys_ok(what: &str, call: impl FnOnce() -> libc::c_long) -> Result<libc::c_long, String> {
    clear_errno();
    let ret = call();
    sys(ret).map_err(|e| format!("{what} failed with {}", errno_name(e)))
}

/// A raw syscall, `libc::syscall(nr, args...)`, with every argument first widened
/// to a full 64-bit `c_long`. (Variadic arguments are passed as they are typed: an
/// `i32` such as `-1` would leave the register's upper half undefined, and a kernel
/// that reads the whole register would see garbage.) Pointers are passed as
/// `ptr as c_long`, so pass raw pointers, not references. Returns the raw `c_long`
/// (-1 with errno set on failure); it is `unsafe` to use, like any raw syscall.
#[macro_export]
macro_rules! syscall {
    ($nr:expr $(, $arg:expr)* $(,)?) => {
        ::libc::syscall($nr as ::libc::c_long $(, ($arg) as ::libc::c_long)*)
    };
}
