//! `getpid`: the cost of a trivial system call. Metric `getpid` (ns per call), through
//! `syscall(SYS_getpid)` so no libc caching can hide the kernel entry.

use std::hint::black_box;

use crate::args::Args;
use crate::measure::per_op;
use crate::out;

pub fn run(args: &Args) -> Result<(), String> {
    let ns = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            // SAFETY: getpid has no arguments and no side effects.
            black_box(unsafe { libc::syscall(libc::SYS_getpid) });
        }
        Ok(())
    })?;
    out::metric("getpid", "ns", ns);
    Ok(())
}
