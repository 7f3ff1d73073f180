//! Small wrappers over libc: the monotonic clock, CPU affinity, errno text, futexes.

use std::sync::atomic::AtomicU32;

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `uname`'s sysname, release and version, space-separated.
pub fn uname() -> String {
    // SAFETY: an all-zero utsname is valid; the kernel fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return os_err("uname");
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {} {}", field(&u.sysname), field(&u.release), field(&u.version))
}

/// "`what`: <strerror of errno> (errno N)".
pub fn os_err(what: &str) -> String {
    let e = std::io::Error::last_os_error();
    format!("{what}: {e}")
}

/// The number of CPUs this process may run on (`sched_getaffinity`).
pub fn cpus() -> usize {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return 1;
    }
    // SAFETY: set was filled by the kernel.
    (unsafe { libc::CPU_COUNT(&set) }) as usize
}

/// Makes the calling thread SCHED_FIFO at `priority` (raw `sched_setscheduler`: musl's
/// wrapper returns ENOSYS by design).
pub fn set_fifo(priority: i32) -> Result<(), String> {
    let param: [libc::c_int; 1] = [priority];
    // SAFETY: `param` is a valid struct sched_param for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_sched_setscheduler, 0, libc::SCHED_FIFO, param.as_ptr()) };
    if r != 0 {
        return Err(os_err(&format!("sched_setscheduler(SCHED_FIFO, {priority})")));
    }
    Ok(())
}

/// Pins the calling thread to `cpu` (`sched_setaffinity(0, ...)`).
pub fn pin_to(cpu: usize) -> Result<(), String> {
    // SAFETY: an all-zero cpu_set_t is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: cpu < CPU_SETSIZE is checked by the caller's CPU count (at most a few).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: set is a valid cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(os_err(&format!("sched_setaffinity(cpu {cpu})")));
    }
    Ok(())
}

/// `futex(word, FUTEX_WAIT_PRIVATE, expected)`: sleeps while `*word == expected`.
/// Spurious returns (EAGAIN, EINTR) are fine for the callers, which re-check the word.
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: word is a valid aligned u32 for the whole call; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr() as libc::c_long,
            (libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG) as libc::c_long,
            expected as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
}

/// `futex(word, FUTEX_WAKE_PRIVATE, 1)`.
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: word is a valid aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr() as libc::c_long,
            (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as libc::c_long,
            1 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
}
