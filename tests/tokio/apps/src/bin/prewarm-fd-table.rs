//! `prewarm-fd-table`: grows the process's file descriptor table before starting a
//! multi-threaded Tokio runtime (Tokio's `prewarm-fd-table` example): duplicates
//! /dev/null to the lowest free descriptor >= 10000 with `fcntl(F_DUPFD_CLOEXEC)`, closes
//! it again, then builds the runtime and runs an empty future. When the duplicate fails
//! (e.g. `RLIMIT_NOFILE` <= 10000: EINVAL) it prints a warning and goes on.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The descriptor the table is grown to.
const FD_TARGET: i32 = 10_000;

fn prewarm(target: i32) -> io::Result<()> {
    let null = File::open("/dev/null")?;
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor we own; it only reads its arguments.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, target) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl just returned this new descriptor, which nothing else owns.
    #[allow(unsafe_code)]
    let copy = unsafe { OwnedFd::from_raw_fd(fd) };
    drop(copy);
    Ok(())
}

fn main() {
    println!("Pre-warming FD table to {FD_TARGET} entries...");
    match prewarm(FD_TARGET) {
        Ok(()) => println!("FD table pre-warmed successfully."),
        Err(e) => eprintln!("Warning: failed to pre-warm FD table: {e}"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {});
}
