//! posix_spawn + wait: start the static program `--nop PATH` (bench-nop, which exits 0 at
//! once) with `posix_spawn` and reap it with `waitpid`. Metric `spawn_wait` (us each).

use std::ffi::CString;

use crate::args::Args;
use crate::measure::per_op;
use crate::out;
use crate::sys::os_err;

pub fn run(args: &Args) -> Result<(), String> {
    let path = args.get("nop").unwrap_or("/add/bench-nop");
    let cpath = CString::new(path).map_err(|_| "bad --nop path".to_string())?;
    let argv: [*mut libc::c_char; 2] = [cpath.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let envp: [*mut libc::c_char; 1] = [std::ptr::null_mut()];
    let ns = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            let mut pid: libc::pid_t = 0;
            // SAFETY: path, argv and envp are NUL-terminated and outlive the call.
            let r = unsafe {
                libc::posix_spawn(&mut pid, cpath.as_ptr(), std::ptr::null(), std::ptr::null(), argv.as_ptr(), envp.as_ptr())
            };
            if r != 0 {
                return Err(format!("posix_spawn({path}): {}", std::io::Error::from_raw_os_error(r)));
            }
            let mut status = 0;
            // SAFETY: pid is our child.
            if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
                return Err(os_err("waitpid"));
            }
            if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                return Err(format!("{path} ended with wait status {status:#x}"));
            }
        }
        Ok(())
    })?;
    out::metric("spawn_wait", "us", ns / 1000.0);
    Ok(())
}
