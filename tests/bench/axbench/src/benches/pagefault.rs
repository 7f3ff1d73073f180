//! Page faults: map `--mb` MiB (default 16) of private anonymous memory, write one byte
//! to each 4 KiB page (each write is a first-touch fault: allocate and zero a page), unmap.
//! Metric `page_fault` (ns per page, the mmap and munmap calls included). Transparent huge
//! pages are refused with `MADV_NOHUGEPAGE` where the kernel knows it, so both kernels
//! fault 4 KiB pages.

use crate::args::Args;
use crate::measure::per_op;
use crate::out;
use crate::sys::os_err;

const PAGE: usize = 4096;

pub fn run(args: &Args) -> Result<(), String> {
    let bytes = args.num("mb", 16)?.clamp(1, 1024) as usize * 1024 * 1024;
    let pages = bytes / PAGE;
    let ns = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            touch_region(bytes)?;
        }
        Ok(())
    })?;
    out::metric("page_fault", "ns", ns / pages as f64);
    Ok(())
}

fn touch_region(bytes: usize) -> Result<(), String> {
    // SAFETY: a fresh anonymous mapping; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(os_err("mmap"));
    }
    // SAFETY: advice on our own mapping; failure (an unknown advice) is harmless.
    unsafe { libc::madvise(p, bytes, libc::MADV_NOHUGEPAGE) };
    let base = p as *mut u8;
    for off in (0..bytes).step_by(PAGE) {
        // SAFETY: off < bytes, inside the mapping.
        unsafe { std::ptr::write_volatile(base.add(off), 1) };
    }
    // SAFETY: the mapping made above, no references into it remain.
    if unsafe { libc::munmap(p, bytes) } != 0 {
        return Err(os_err("munmap"));
    }
    Ok(())
}
