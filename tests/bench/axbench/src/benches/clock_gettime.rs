//! `clock_gettime`: reading `CLOCK_MONOTONIC` through libc, which uses the vDSO when the
//! kernel provides one (`AT_SYSINFO_EHDR`). Metric `clock_gettime` (ns per call); `info
//! vdso yes|no` says which path was measured.

use std::hint::black_box;

use crate::args::Args;
use crate::measure::per_op;
use crate::out;

pub fn run(args: &Args) -> Result<(), String> {
    // SAFETY: getauxval only reads the auxiliary vector.
    let vdso = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } != 0;
    out::info("vdso", if vdso { "yes" } else { "no" });
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let ns = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            // SAFETY: ts is a valid timespec.
            black_box(unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) });
        }
        Ok(())
    })?;
    out::metric("clock_gettime", "ns", ns);
    Ok(())
}
