//! `basic` suite: the foundation every static Rust/musl binary relies on.
//!
//! Covers: `write` to stdout; unknown syscall numbers (-1/ENOSYS, and the program
//! goes on); EFAULT for bad user pointers (null, 0x1, a kernel address) in `write`
//! and `read`; `getpid`/`gettid` (equal in the main thread, distinct tids in
//! threads); `clock_gettime` (MONOTONIC is monotonic, REALTIME is plausible, bad
//! clock/pointer errors); `nanosleep` (10 ms sleeps >= 10 ms, invalid timespecs);
//! `arch_prctl(ARCH_GET_FS)` returns the TLS pointer, per thread; std threads
//! (16 spawned and joined); a Mutex+Condvar ping-pong (futex wait/wake); anonymous
//! `mmap` of 64 MiB + `munmap` and their EINVAL cases; `brk`; `getrandom`;
//! `sched_getaffinity`; `uname`.
//!
//! Syscalls are issued raw with `checks::syscall!` so that the kernel, not libc, is
//! what gets tested. Note: the `write` EFAULT check writes to fd 1, so stdout must
//! be a pipe, file or terminal (not /dev/null, which never reads the buffer).

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use libc::c_long;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Pointers no user buffer can live at: null, the first page, a kernel address.
const BAD_PTRS: [usize; 3] = [0, 1, 0xffff_8000_0000_0000];
const PAGE: usize = 4096;
const ARCH_GET_FS: c_long = 0x1003;
const GRND_NONBLOCK: c_long = 1;
const GRND_RANDOM: c_long = 2;
const GRND_INSECURE: c_long = 4;

fn main() {
    let mut s = Suite::new("basic");
    s.check_own_line("write_stdout", write_stdout);
    s.check("unknown_syscall_enosys", unknown_syscall_enosys);
    s.check("write_bad_pointer_efault", write_bad_pointer_efault);
    s.check("read_bad_pointer_efault", read_bad_pointer_efault);
    s.check("getpid_gettid", getpid_gettid);
    s.check("thread_gettid", thread_gettid);
    s.check("clock_monotonic", clock_monotonic);
    s.check("clock_realtime", clock_realtime);
    s.check("clock_gettime_errors", clock_gettime_errors);
    s.check("nanosleep_10ms", nanosleep_10ms);
    s.check("nanosleep_einval", nanosleep_einval);
    s.check("arch_prctl_get_fs", arch_prctl_get_fs);
    s.check("arch_prctl_fs_per_thread", arch_prctl_fs_per_thread);
    s.check("threads_spawn_join_16", threads_spawn_join_16);
    s.check("mutex_condvar_pingpong", mutex_condvar_pingpong);
    s.check("mmap_anon_64mib", mmap_anon_64mib);
    s.check("mmap_munmap_einval", mmap_munmap_einval);
    s.check("brk_grows", brk_grows);
    s.check("getrandom", getrandom);
    s.check("getrandom_errors", getrandom_errors);
    s.check("sched_getaffinity", sched_getaffinity);
    s.check("sched_getaffinity_errors", sched_getaffinity_errors);
    s.check("uname", uname);
    s.finish();
}

fn write_stdout(line: &[u8]) -> CheckResult {
    let empty = sys_ok("write(1, buf, 0)", || unsafe {
        syscall!(libc::SYS_write, 1, line.as_ptr(), 0)
    })?;
    ensure_eq!(empty, 0, "write(1, buf, 0)");
    let n = sys_ok("write(1, line)", || unsafe {
        syscall!(libc::SYS_write, 1, line.as_ptr(), line.len())
    })?;
    ensure_eq!(n as usize, line.len(), "bytes written by write(1, line)");
    Ok(())
}

fn unknown_syscall_enosys() -> CheckResult {
    for nr in [1000 as c_long, 4096, -1] {
        expect_sys_errno(
            &format!("syscall({nr})"),
            || unsafe { syscall!(nr, 1, 2, 3) },
            libc::ENOSYS,
        )?;
    }
    // The program goes on: an ordinary syscall still works afterwards.
    let pid = sys_ok("getpid after ENOSYS", || unsafe {
        syscall!(libc::SYS_getpid)
    })?;
    ensure!(pid > 0, "getpid() = {pid} after ENOSYS");
    Ok(())
}

fn write_bad_pointer_efault() -> CheckResult {
    for p in BAD_PTRS {
        expect_sys_errno(
            &format!("write(1, {p:#x}, 16)"),
            || unsafe { syscall!(libc::SYS_write, 1, p, 16) },
            libc::EFAULT,
        )?;
    }
    Ok(())
}

fn read_bad_pointer_efault() -> CheckResult {
    let mut fds = [0 as libc::c_int; 2];
    sys_ok("pipe2", || unsafe {
        syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC)
    })?;
    let (r, w) = (fds[0], fds[1]);
    let result = (|| {
        let data = *b"0123456789abcdef";
        let n = sys_ok("write(pipe)", || unsafe {
            syscall!(libc::SYS_write, w, data.as_ptr(), 16)
        })?;
        ensure_eq!(n, 16, "write(pipe, 16 bytes)");
        for p in BAD_PTRS {
            expect_sys_errno(
                &format!("read(pipe, {p:#x}, 16)"),
                || unsafe { syscall!(libc::SYS_read, r, p, 16) },
                libc::EFAULT,
            )?;
        }
        // A failed read consumes nothing: the 16 bytes are still there.
        let mut buf = [0u8; 32];
        let n = sys_ok("read(pipe, buf)", || unsafe {
            syscall!(libc::SYS_read, r, buf.as_mut_ptr(), 32)
        })?;
        ensure_eq!(
            &buf[..n as usize],
            &data[..],
            "data read after the EFAULT reads"
        );
        Ok(())
    })();
    unsafe {
        libc::close(r);
        libc::close(w);
    }
    result
}

fn getpid_gettid() -> CheckResult {
    let pid = sys_ok("getpid", || unsafe { syscall!(libc::SYS_getpid) })?;
    let tid = sys_ok("gettid", || unsafe { syscall!(libc::SYS_gettid) })?;
    ensure!(pid > 0, "getpid() = {pid}");
    ensure_eq!(tid, pid, "gettid() in the main thread (getpid() = {pid})");
    ensure_eq!(std::process::id() as c_long, pid, "std::process::id()");
    Ok(())
}

fn thread_gettid() -> CheckResult {
    let pid = unsafe { syscall!(libc::SYS_getpid) };
    // Both threads are alive at the same time (barrier), so their tids must differ.
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let spawn = || {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            let ids = unsafe { (syscall!(libc::SYS_getpid), syscall!(libc::SYS_gettid)) };
            barrier.wait();
            ids
        })
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (join(a)?, join(b)?);
    for (tpid, tid) in [a, b] {
        ensure_eq!(tpid, pid, "getpid() in a thread");
        ensure!(
            tid > 0 && tid != pid,
            "gettid() in a thread = {tid}, getpid() = {pid}"
        );
    }
    ensure!(a.1 != b.1, "two live threads both have tid {}", a.1);
    Ok(())
}

fn clock(id: libc::clockid_t) -> Result<libc::timespec, String> {
    let mut ts = libc::timespec {
        tv_sec: -1,
        tv_nsec: -1,
    };
    sys_ok("clock_gettime", || unsafe {
        syscall!(libc::SYS_clock_gettime, id, &raw mut ts)
    })?;
    ensure!(
        (0..1_000_000_000).contains(&ts.tv_nsec),
        "clock {id}: tv_nsec = {}",
        ts.tv_nsec
    );
    ensure!(ts.tv_sec >= 0, "clock {id}: tv_sec = {}", ts.tv_sec);
    Ok(ts)
}

fn ns(ts: &libc::timespec) -> i128 {
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

fn clock_monotonic() -> CheckResult {
    let mut prev = ns(&clock(libc::CLOCK_MONOTONIC)?);
    for i in 0..1000 {
        let now = ns(&clock(libc::CLOCK_MONOTONIC)?);
        ensure!(
            now >= prev,
            "sample {i}: CLOCK_MONOTONIC went back from {prev} ns to {now} ns"
        );
        prev = now;
    }
    Ok(())
}

fn clock_realtime() -> CheckResult {
    let ts = clock(libc::CLOCK_REALTIME)?;
    // 2020-01-01T00:00:00Z: a clock before that was never set from the RTC.
    ensure!(
        ts.tv_sec > 1_577_836_800,
        "CLOCK_REALTIME = {} s, before 2020",
        ts.tv_sec
    );
    Ok(())
}

fn clock_gettime_errors() -> CheckResult {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    expect_sys_errno(
        "clock_gettime(100, ..)",
        || unsafe { syscall!(libc::SYS_clock_gettime, 100, &raw mut ts) },
        libc::EINVAL,
    )?;
    for p in BAD_PTRS {
        expect_sys_errno(
            &format!("clock_gettime(CLOCK_MONOTONIC, {p:#x})"),
            || unsafe { syscall!(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, p) },
            libc::EFAULT,
        )?;
    }
    Ok(())
}

fn nanosleep_10ms() -> CheckResult {
    let t0 = ns(&clock(libc::CLOCK_MONOTONIC)?);
    let req = libc::timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    let r = sys_ok("nanosleep(10 ms)", || unsafe {
        syscall!(
            libc::SYS_nanosleep,
            &raw const req,
            std::ptr::null_mut::<libc::timespec>(),
        )
    })?;
    ensure_eq!(r, 0, "nanosleep(10 ms)");
    let elapsed = ns(&clock(libc::CLOCK_MONOTONIC)?) - t0;
    ensure!(
        elapsed >= 10_000_000,
        "nanosleep(10 ms) returned after {elapsed} ns of CLOCK_MONOTONIC"
    );
    ensure!(
        elapsed < 5_000_000_000,
        "nanosleep(10 ms) took {elapsed} ns"
    );
    Ok(())
}

fn nanosleep_einval() -> CheckResult {
    let bad = [(0, 1_000_000_000), (0, -1), (-1, 0)];
    for (sec, nsec) in bad {
        let req = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        expect_sys_errno(
            &format!("nanosleep({{{sec}, {nsec}}})"),
            || unsafe {
                syscall!(
                    libc::SYS_nanosleep,
                    &raw const req,
                    std::ptr::null_mut::<libc::timespec>(),
                )
            },
            libc::EINVAL,
        )?;
    }
    Ok(())
}

/// The thread pointer as the x86_64 TLS ABI defines it: the word at %fs:0 holds
/// the thread pointer itself.
fn fs_self_pointer() -> u64 {
    let tp: u64;
    unsafe {
        std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    tp
}

fn get_fs() -> Result<u64, String> {
    let mut fs: u64 = 0;
    sys_ok("arch_prctl(ARCH_GET_FS)", || unsafe {
        syscall!(libc::SYS_arch_prctl, ARCH_GET_FS, &raw mut fs)
    })?;
    Ok(fs)
}

fn arch_prctl_get_fs() -> CheckResult {
    let fs = get_fs()?;
    ensure!(fs != 0, "ARCH_GET_FS returned 0");
    ensure_eq!(
        fs,
        fs_self_pointer(),
        "ARCH_GET_FS vs the self pointer at %fs:0"
    );
    ensure_eq!(
        fs,
        unsafe { libc::pthread_self() } as u64,
        "ARCH_GET_FS vs pthread_self()"
    );
    let mut out: u64 = 0;
    expect_sys_errno(
        "arch_prctl(0x9999)",
        || unsafe { syscall!(libc::SYS_arch_prctl, 0x9999, &raw mut out) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "arch_prctl(ARCH_GET_FS, 0x1)",
        || unsafe { syscall!(libc::SYS_arch_prctl, ARCH_GET_FS, 1) },
        libc::EFAULT,
    )?;
    Ok(())
}

fn arch_prctl_fs_per_thread() -> CheckResult {
    let main_fs = get_fs()?;
    let (fs, tp) = join(std::thread::spawn(|| (get_fs(), fs_self_pointer())))?;
    let fs = fs?;
    ensure_eq!(fs, tp, "ARCH_GET_FS in a thread vs its %fs:0");
    ensure!(
        fs != main_fs,
        "a thread has the main thread's FS base {fs:#x}"
    );
    ensure_eq!(
        get_fs()?,
        main_fs,
        "main thread FS base after the thread ran"
    );
    Ok(())
}

/// Deterministic work for a thread: total Collatz steps of 1..=n.
fn collatz_steps(n: u64) -> u64 {
    (1..=n)
        .map(|mut x| {
            let mut steps = 0;
            while x != 1 {
                x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
                steps += 1;
            }
            steps
        })
        .sum()
}

fn threads_spawn_join_16() -> CheckResult {
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..16u64)
        .map(|i| {
            let started = started.clone();
            std::thread::spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                (i, collatz_steps(1000 + 100 * i))
            })
        })
        .collect();
    for (k, h) in handles.into_iter().enumerate() {
        let (i, steps) = join(h)?;
        ensure_eq!(i, k as u64, "thread index returned by thread {k}");
        ensure_eq!(steps, collatz_steps(1000 + 100 * i), "result of thread {i}");
    }
    ensure_eq!(started.load(Ordering::SeqCst), 16, "threads that ran");
    Ok(())
}

fn mutex_condvar_pingpong() -> CheckResult {
    const ROUNDS: u32 = 1000;
    // (whose turn: false = ping, true = pong; moves made)
    let shared = Arc::new((Mutex::new((false, 0u32)), Condvar::new()));
    let player = |me: bool| {
        let shared = shared.clone();
        std::thread::spawn(move || -> CheckResult {
            let (lock, cv) = &*shared;
            let deadline = Instant::now() + Duration::from_secs(60);
            for round in 0..ROUNDS {
                let mut st = lock.lock().unwrap();
                while st.0 != me {
                    let now = Instant::now();
                    ensure!(
                        now < deadline,
                        "player {me}: no wake-up by round {round} (moves {})",
                        st.1
                    );
                    st = cv.wait_timeout(st, deadline - now).unwrap().0;
                }
                let want = 2 * round + me as u32;
                ensure!(
                    st.1 == want,
                    "player {me}: moves = {}, expected {want}",
                    st.1
                );
                st.1 += 1;
                st.0 = !me;
                cv.notify_one();
            }
            Ok(())
        })
    };
    let ping = player(false);
    let pong = player(true);
    join(ping)??;
    join(pong)??;
    ensure_eq!(
        shared.0.lock().unwrap().1,
        2 * ROUNDS,
        "moves after the ping-pong"
    );
    Ok(())
}

fn mmap_anon(len: usize) -> Result<*mut u8, String> {
    let p = sys_ok("mmap", || unsafe {
        syscall!(
            libc::SYS_mmap,
            0,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    })?;
    ensure!(
        (p as usize).is_multiple_of(PAGE),
        "mmap returned unaligned {p:#x}"
    );
    Ok(p as *mut u8)
}

fn mmap_anon_64mib() -> CheckResult {
    const LEN: usize = 64 << 20;
    let p = mmap_anon(LEN)?;
    let result = (|| {
        for page in 0..LEN / PAGE {
            let q = unsafe { p.add(page * PAGE) };
            let before = unsafe { std::ptr::read_volatile(q.add(PAGE - 1)) };
            ensure!(before == 0, "page {page} of a fresh mapping is not zero");
            unsafe {
                std::ptr::write_volatile(q as *mut u32, page as u32 ^ 0x5a5a_5a5a);
                std::ptr::write_volatile(q.add(PAGE - 1), 0xa5);
            }
        }
        for page in 0..LEN / PAGE {
            let q = unsafe { p.add(page * PAGE) };
            let (word, last) = unsafe {
                (
                    std::ptr::read_volatile(q as *const u32),
                    std::ptr::read_volatile(q.add(PAGE - 1)),
                )
            };
            ensure!(
                word == page as u32 ^ 0x5a5a_5a5a && last == 0xa5,
                "page {page} lost its contents"
            );
        }
        Ok(())
    })();
    let r = sys_ok("munmap(64 MiB)", || unsafe {
        syscall!(libc::SYS_munmap, p, LEN)
    })?;
    ensure_eq!(r, 0, "munmap(64 MiB)");
    result
}

fn mmap_munmap_einval() -> CheckResult {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    expect_sys_errno(
        "mmap(len 0)",
        || unsafe { syscall!(libc::SYS_mmap, 0, 0, rw, anon, -1, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mmap(MAP_ANONYMOUS without PRIVATE/SHARED)",
        || unsafe { syscall!(libc::SYS_mmap, 0, PAGE, rw, libc::MAP_ANONYMOUS, -1, 0) },
        libc::EINVAL,
    )?;
    let p = mmap_anon(2 * PAGE)?;
    let unaligned = expect_sys_errno(
        "munmap(unaligned)",
        || unsafe { syscall!(libc::SYS_munmap, p.add(1), PAGE) },
        libc::EINVAL,
    );
    let r = sys_ok("munmap", || unsafe {
        syscall!(libc::SYS_munmap, p, 2 * PAGE)
    })?;
    ensure_eq!(r, 0, "munmap");
    unaligned
}

fn brk_grows() -> CheckResult {
    const GROW: usize = 1 << 20;
    let brk = |addr: usize| unsafe { syscall!(libc::SYS_brk, addr) as usize };
    // No allocation between the first brk(0) and the restore: musl's allocator may
    // use brk itself. Results are collected first and judged afterwards.
    let start = brk(0);
    let base = (start + PAGE - 1) & !(PAGE - 1);
    let want = base + GROW;
    let grown = brk(want);
    let mut touched_ok = true;
    if grown == want {
        for off in (0..GROW).step_by(PAGE) {
            let q = (base + off) as *mut u64;
            unsafe {
                std::ptr::write_volatile(q, off as u64 + 1);
                touched_ok &= std::ptr::read_volatile(q) == off as u64 + 1;
            }
        }
    }
    let refused = brk(1); // below the heap start: refused, returns the current break
    let restored = brk(start);
    let now = brk(0);

    ensure!(start != 0, "brk(0) returned 0");
    ensure!(
        grown == want,
        "brk({want:#x}) returned {grown:#x} (start {start:#x})"
    );
    ensure!(touched_ok, "memory gained by brk did not keep its contents");
    ensure!(
        refused == want,
        "brk(1) returned {refused:#x}, expected the current break {want:#x}"
    );
    ensure!(
        restored == start,
        "brk({start:#x}) to shrink back returned {restored:#x}"
    );
    ensure!(
        now == start,
        "brk(0) after shrinking returned {now:#x}, expected {start:#x}"
    );
    Ok(())
}

fn getrandom_into(buf: &mut [u8], flags: c_long) -> Result<(), String> {
    let n = sys_ok(&format!("getrandom(flags {flags})"), || unsafe {
        syscall!(libc::SYS_getrandom, buf.as_mut_ptr(), buf.len(), flags)
    })?;
    ensure_eq!(n as usize, buf.len(), "bytes from getrandom(flags {flags})");
    Ok(())
}

fn getrandom() -> CheckResult {
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    getrandom_into(&mut a, 0)?;
    getrandom_into(&mut b, 0)?;
    ensure!(a.iter().any(|&x| x != 0), "getrandom filled 64 zero bytes");
    ensure!(a != b, "two getrandom calls returned the same 64 bytes");
    for flags in [GRND_NONBLOCK, GRND_INSECURE] {
        let mut c = [0u8; 64];
        getrandom_into(&mut c, flags)?;
        ensure!(
            c.iter().any(|&x| x != 0),
            "getrandom(flags {flags}) filled 64 zero bytes"
        );
    }
    Ok(())
}

fn getrandom_errors() -> CheckResult {
    let mut buf = [0u8; 16];
    for flags in [0x80, GRND_INSECURE | GRND_RANDOM] {
        expect_sys_errno(
            &format!("getrandom(flags {flags:#x})"),
            || unsafe { syscall!(libc::SYS_getrandom, buf.as_mut_ptr(), 16, flags) },
            libc::EINVAL,
        )?;
    }
    for p in BAD_PTRS {
        expect_sys_errno(
            &format!("getrandom({p:#x}, 16)"),
            || unsafe { syscall!(libc::SYS_getrandom, p, 16, 0) },
            libc::EFAULT,
        )?;
    }
    Ok(())
}

fn sched_getaffinity() -> CheckResult {
    let mut mask = [0xaau8; 128];
    let n = sys_ok("sched_getaffinity(0, 128)", || unsafe {
        syscall!(libc::SYS_sched_getaffinity, 0, 128, mask.as_mut_ptr())
    })? as usize;
    ensure!(
        n > 0 && n <= 128 && n.is_multiple_of(8),
        "sched_getaffinity(0, 128) returned {n} bytes"
    );
    ensure!(
        mask[n..].iter().all(|&b| b == 0xaa),
        "sched_getaffinity wrote past the {n} bytes it returned"
    );
    let cpus: u32 = mask[..n].iter().map(|b| b.count_ones()).sum();
    ensure!(cpus >= 1, "sched_getaffinity returned an empty CPU mask");
    // The same answer for our own tid.
    let tid = unsafe { syscall!(libc::SYS_gettid) };
    let mut mask2 = [0xaau8; 128];
    let n2 = sys_ok("sched_getaffinity(tid, 128)", || unsafe {
        syscall!(libc::SYS_sched_getaffinity, tid, 128, mask2.as_mut_ptr())
    })? as usize;
    ensure_eq!(
        (n2, &mask2[..n2]),
        (n, &mask[..n]),
        "sched_getaffinity(gettid()) vs (0)"
    );
    Ok(())
}

fn sched_getaffinity_errors() -> CheckResult {
    let mut mask = [0u8; 128];
    for len in [4usize, 12] {
        expect_sys_errno(
            &format!("sched_getaffinity(0, {len})"),
            || unsafe { syscall!(libc::SYS_sched_getaffinity, 0, len, mask.as_mut_ptr()) },
            libc::EINVAL,
        )?;
    }
    // Above PID_MAX_LIMIT (4M): no such task.
    expect_sys_errno(
        "sched_getaffinity(0x3ffffff0, 128)",
        || unsafe {
            syscall!(
                libc::SYS_sched_getaffinity,
                0x3fff_fff0,
                128,
                mask.as_mut_ptr(),
            )
        },
        libc::ESRCH,
    )?;
    Ok(())
}

fn field(raw: &[libc::c_char]) -> Result<String, String> {
    let bytes: Vec<u8> = raw.iter().map(|&c| c as u8).collect();
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or("uname field not NUL-terminated")?;
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

fn uname() -> CheckResult {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    let r = sys_ok("uname", || unsafe { syscall!(libc::SYS_uname, &raw mut u) })?;
    ensure_eq!(r, 0, "uname");
    ensure_eq!(field(&u.sysname)?, "Linux", "uname sysname");
    ensure_eq!(field(&u.machine)?, "x86_64", "uname machine");
    let release = field(&u.release)?;
    ensure!(
        release.starts_with(|c: char| c.is_ascii_digit()),
        "uname release {release:?} does not start with a digit"
    );
    for p in BAD_PTRS {
        expect_sys_errno(
            &format!("uname({p:#x})"),
            || unsafe { syscall!(libc::SYS_uname, p) },
            libc::EFAULT,
        )?;
    }
    Ok(())
}
