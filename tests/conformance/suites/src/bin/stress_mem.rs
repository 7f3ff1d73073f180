//! `stress_mem` suite: memory is given back.
//!
//! Covers: 200 rounds of mmap 8 MiB / touch every page / verify / munmap; 100 rounds
//! of fork + exit where the parent holds 32 MiB of dirty private memory and every
//! child writes all of it (a copy-on-write copy of each page) and exits. Across each
//! stress, `sysinfo().freeram` must not drop by 64 MiB or more (a leak of pages or
//! page tables). Only a drop counts: other processes on the host can make free
//! memory go up or down, so a drop is re-measured for up to 10 s and the largest
//! sample is used (a leak stays; someone else's transient allocation does not).

use checks::{ensure, ensure_eq, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::ptr::{read_volatile, write_volatile};
use std::time::Duration;

const PAGE: usize = 4096;
const LEAK_LIMIT: i128 = 64 << 20;

fn main() {
    let mut s = Suite::new("stress_mem");
    s.check("mmap_touch_munmap_8mib_x200", mmap_touch_munmap);
    s.check("fork_exit_32mib_dirty_x100", fork_exit_dirty);
    s.finish();
}

fn freeram() -> Result<i128, String> {
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    sys_ok("sysinfo", || unsafe {
        syscall!(libc::SYS_sysinfo, &raw mut si)
    })?;
    ensure!(si.mem_unit > 0, "sysinfo mem_unit = 0");
    ensure!(
        si.freeram > 0 && si.freeram <= si.totalram,
        "sysinfo freeram {} totalram {}",
        si.freeram,
        si.totalram
    );
    Ok(si.freeram as i128 * si.mem_unit as i128)
}

/// Fails if free memory dropped by LEAK_LIMIT or more since `before`. A drop is
/// re-measured every 200 ms for up to 10 s (the best sample counts), so memory that
/// other processes on the host hold for a moment does not count as our leak.
fn check_no_leak(before: i128, what: &str) -> CheckResult {
    let mut best = freeram()?;
    for _ in 0..50 {
        if before - best < LEAK_LIMIT {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
        best = best.max(freeram()?);
    }
    if before - best < LEAK_LIMIT {
        return Ok(());
    }
    Err(format!(
        "{what}: sysinfo freeram dropped by {} KiB (before {} KiB, best of 50 samples over 10 s after: {} KiB)",
        (before - best) / 1024,
        before / 1024,
        best / 1024
    ))
}

unsafe fn mmap_anon(len: usize) -> c_long {
    syscall!(
        libc::SYS_mmap,
        0,
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0
    )
}

fn mmap_touch_munmap() -> CheckResult {
    const LEN: usize = 8 << 20;
    const ROUNDS: usize = 200;
    let before = freeram()?;
    for round in 0..ROUNDS {
        let p = sys_ok(&format!("mmap(8 MiB) in round {round}"), || unsafe {
            mmap_anon(LEN)
        })? as usize;
        let mut bad = None;
        for page in 0..LEN / PAGE {
            let q = (p + page * PAGE) as *mut u64;
            unsafe {
                if read_volatile(q.add(1)) != 0 && bad.is_none() {
                    bad = Some(format!(
                        "round {round}: page {page} of a fresh mapping is not zero"
                    ));
                }
                write_volatile(q, (round * 1_000_003 + page) as u64);
            }
        }
        for page in (0..LEN / PAGE).step_by(37).chain([LEN / PAGE - 1]) {
            let got = unsafe { read_volatile((p + page * PAGE) as *const u64) };
            if got != (round * 1_000_003 + page) as u64 && bad.is_none() {
                bad = Some(format!("round {round}: page {page} holds {got:#x}"));
            }
        }
        let r = unsafe { syscall!(libc::SYS_munmap, p, LEN) };
        if let Some(b) = bad {
            return Err(b);
        }
        ensure_eq!(r, 0, "munmap(8 MiB) in round {round}");
    }
    check_no_leak(before, "after 200 x mmap/touch/munmap of 8 MiB")
}

fn wait_child(pid: c_int) -> Result<c_int, String> {
    let mut st: c_int = 0;
    loop {
        let r = unsafe { syscall!(libc::SYS_wait4, pid, &raw mut st, 0, 0) };
        if r == pid as c_long {
            return Ok(st);
        }
        if r == -1 && checks::errno() == libc::EINTR {
            continue;
        }
        return Err(format!(
            "wait4({pid}) returned {r}, errno {}",
            checks::errno()
        ));
    }
}

fn fork_exit_dirty() -> CheckResult {
    const LEN: usize = 32 << 20;
    const ROUNDS: usize = 100;
    const PAGES: usize = LEN / PAGE;
    let p = sys_ok("mmap(32 MiB)", || unsafe { mmap_anon(LEN) })? as usize;
    let result = (|| {
        for page in 0..PAGES {
            unsafe { write_volatile((p + page * PAGE) as *mut u64, page as u64 ^ 0xabcd) };
        }
        let before = freeram()?;
        for round in 0..ROUNDS {
            let pid = unsafe { libc::fork() };
            ensure!(
                pid >= 0,
                "fork failed in round {round}, errno {}",
                checks::errno()
            );
            if pid == 0 {
                // Child: sees the parent's data, then dirties every page itself.
                let code = unsafe {
                    let mut code = 0;
                    for page in 0..PAGES {
                        let q = (p + page * PAGE) as *mut u64;
                        if read_volatile(q) != page as u64 ^ 0xabcd {
                            code = 1;
                        }
                        write_volatile(q, (round + page) as u64);
                    }
                    for page in (0..PAGES).step_by(101) {
                        if read_volatile((p + page * PAGE) as *const u64) != (round + page) as u64 {
                            code = 2;
                        }
                    }
                    code
                };
                unsafe { libc::_exit(code) };
            }
            let st = wait_child(pid)?;
            ensure!(
                libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
                "child of round {round}: wait status {st:#x} (exit 1: parent's data not seen, 2: own writes lost)"
            );
        }
        // The children's writes never reached the parent.
        for page in 0..PAGES {
            let got = unsafe { read_volatile((p + page * PAGE) as *const u64) };
            ensure!(
                got == page as u64 ^ 0xabcd,
                "parent's page {page} holds {got:#x} after the children wrote theirs"
            );
        }
        check_no_leak(
            before,
            "after 100 x fork/exit with 32 MiB dirtied by each child",
        )
    })();
    unsafe { syscall!(libc::SYS_munmap, p, LEN) };
    result
}
