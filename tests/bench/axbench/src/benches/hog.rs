//! Load generator: `--threads N` (default: one per CPU) threads that compute and make a
//! `getpid` system call every few thousand iterations, forever; the plan runner kills it.
//! Used for the "under load" variants of latency tools.

use std::hint::black_box;

use crate::args::Args;
use crate::sys::cpus;

fn spin() -> ! {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    loop {
        for _ in 0..4096 {
            x = black_box(x.rotate_left(7) ^ x.wrapping_mul(0x2545_f491_4f6c_dd1d));
        }
        // SAFETY: getpid has no side effects.
        black_box(unsafe { libc::syscall(libc::SYS_getpid) });
    }
}

pub fn run(args: &Args) -> Result<(), String> {
    let threads = args.num("threads", cpus() as u64)?.clamp(1, 256);
    for _ in 1..threads {
        std::thread::Builder::new().spawn(|| spin()).map_err(|e| format!("thread spawn: {e}"))?;
    }
    spin()
}
