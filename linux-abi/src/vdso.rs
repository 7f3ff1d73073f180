//! The vDSO: a small shared object mapped into every program so `clock_gettime` and
//! `gettimeofday` read the clock without entering the kernel.
//!
//! Not built yet: `map` maps nothing and returns 0, so `AT_SYSINFO_EHDR` is left out of
//! the auxiliary vector and libc falls back to real system calls (correct, only slower).
//! See the note on issue 3.

use alloc::sync::Arc;

use rtos::mm::addrspace::AddressSpace;

use crate::errno::Errno;

/// Maps the vDSO into `mm`; returns (address of its ELF header, address of its data page),
/// or (0, 0) when there is none.
pub fn map(_mm: &Arc<AddressSpace>) -> Result<(u64, u64), Errno> {
    Ok((0, 0))
}
