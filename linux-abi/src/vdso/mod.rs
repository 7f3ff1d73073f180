//! The vDSO: a small shared object mapped into every program so `clock_gettime`,
//! `gettimeofday` and `time` read the clock without entering the kernel (libc finds it
//! through `AT_SYSINFO_EHDR`). Its data page ("vvar") holds the clock parameters; it is one
//! physical page shared read-only by every process and updated when CLOCK_REALTIME is set.

pub mod image;

#[cfg(target_os = "none")]
mod map;
#[cfg(target_os = "none")]
pub use map::*;
