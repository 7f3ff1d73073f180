//! `stress_proc` suite: many short-lived threads and processes, and no leak.
//!
//! Covers: 10 000 threads created and ended (std threads, batches of 100, each
//! returning a value that is checked); 1 000 processes forked and reaped (batches
//! of 20, every (pid, exit status) pair checked, each child touching a page so
//! copy-on-write is exercised); the kernel's free memory (`sysinfo().freeram *
//! mem_unit`) afterwards is at most 64 MiB below what it was before (a warm-up
//! round runs first so allocator caches are filled; the sample before is the
//! highest of several, and afterwards memory freed within 5 s counts as freed,
//! so deferred teardown and transient use by other programs are not leaks).

use checks::{ensure, ensure_eq, errno_name, join, CheckResult, Suite};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS: usize = 10_000;
const THREAD_BATCH: usize = 100;
const FORKS: usize = 1_000;
const FORK_BATCH: usize = 20;
const LEAK_LIMIT: i64 = 64 << 20;

static THREADS_DONE: AtomicUsize = AtomicUsize::new(0);
static FORKS_DONE: AtomicUsize = AtomicUsize::new(0);

fn main() {
    // Warm-up: allocator caches, thread-stack caches, page tables.
    let _ = run_threads(2 * THREAD_BATCH, false);
    let _ = run_forks(2 * FORK_BATCH, false);
    let before = free_bytes_max(5, 20);

    let mut s = Selected::new("stress_proc", std::env::args().skip(1).collect());
    s.check("threads_10000", || run_threads(THREADS, true));
    s.check("forks_1000", || run_forks(FORKS, true));
    s.check("memory_not_leaked", || memory_not_leaked(before));
    s.finish();
}

/// Runs the checks whose names contain one of the command-line words (all of
/// them without arguments), for debugging one check at a time.
struct Selected {
    suite: Suite,
    filters: Vec<String>,
}

impl Selected {
    fn new(name: &'static str, filters: Vec<String>) -> Selected {
        Selected {
            suite: Suite::new(name),
            filters,
        }
    }
    fn check(&mut self, name: &str, f: impl FnOnce() -> CheckResult) {
        if self.filters.is_empty() || self.filters.iter().any(|w| name.contains(w.as_str())) {
            self.suite.check(name, f);
        }
    }
    fn finish(self) -> ! {
        self.suite.finish()
    }
}

fn free_bytes() -> Result<i64, String> {
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::sysinfo(&mut si) };
    ensure!(r == 0, "sysinfo failed with {}", errno_name(checks::errno()));
    Ok(si.freeram as i64 * si.mem_unit.max(1) as i64)
}

/// The highest of `n` samples `gap_ms` apart.
fn free_bytes_max(n: usize, gap_ms: u64) -> Result<i64, String> {
    let mut best = i64::MIN;
    for i in 0..n {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(gap_ms));
        }
        best = best.max(free_bytes()?);
    }
    Ok(best)
}

fn run_threads(total: usize, count: bool) -> CheckResult {
    let ran = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    for batch in 0..total / THREAD_BATCH {
        let mut handles = Vec::with_capacity(THREAD_BATCH);
        for i in 0..THREAD_BATCH {
            let n = batch * THREAD_BATCH + i;
            let ran2 = ran.clone();
            let h = std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || {
                    ran2.fetch_add(1, SeqCst);
                    n.wrapping_mul(2654435761)
                })
                .map_err(|e| format!("spawning thread {n} ({} ran before) failed: {e}", ran.load(SeqCst)));
            match h {
                Ok(h) => handles.push((n, h)),
                Err(e) => {
                    for (_, h) in handles {
                        let _ = h.join();
                    }
                    return Err(e);
                }
            }
        }
        for (n, h) in handles {
            let v = join(h)?;
            ensure_eq!(v, n.wrapping_mul(2654435761), "result of thread {n}");
            if count {
                THREADS_DONE.fetch_add(1, SeqCst);
            }
        }
    }
    ensure_eq!(ran.load(SeqCst), total, "threads that ran");
    if count {
        println!("note: {total} threads in {:.1} s", t0.elapsed().as_secs_f64());
    }
    Ok(())
}

fn run_forks(total: usize, count: bool) -> CheckResult {
    let page = vec![7u8; 4096];
    let t0 = Instant::now();
    for batch in 0..total / FORK_BATCH {
        let mut want = Vec::with_capacity(FORK_BATCH);
        for i in 0..FORK_BATCH {
            let n = batch * FORK_BATCH + i;
            let code = (n % 251) as i32;
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // Touch a heap page (copy-on-write) and exit.
                unsafe {
                    let p = page.as_ptr() as *mut u8;
                    std::ptr::write_volatile(p, 1);
                    libc::_exit(code);
                }
            }
            if pid < 0 {
                let e = checks::errno();
                for (p, _) in &want {
                    let mut st = 0;
                    unsafe { libc::waitpid(*p, &mut st, 0) };
                }
                return Err(format!("fork number {n} failed with {}", errno_name(e)));
            }
            want.push((pid, (code & 0xff) << 8));
        }
        let mut got = Vec::with_capacity(FORK_BATCH);
        for _ in 0..FORK_BATCH {
            let mut st = 0;
            let p = unsafe { libc::wait4(-1, &mut st, 0, std::ptr::null_mut()) };
            ensure!(p > 0, "wait4(-1) failed with {} in batch {batch}", errno_name(checks::errno()));
            got.push((p, st));
        }
        want.sort();
        got.sort();
        ensure_eq!(got, want, "batch {batch}: (pid, status) pairs");
        if count {
            FORKS_DONE.fetch_add(FORK_BATCH, SeqCst);
        }
    }
    ensure_eq!(page[0], 7, "our copy of the page the children wrote");
    if count {
        println!("note: {total} processes in {:.1} s", t0.elapsed().as_secs_f64());
    }
    Ok(())
}

fn memory_not_leaked(before: Result<i64, String>) -> CheckResult {
    let before = before?;
    let first = free_bytes()?;
    // Memory freed late (deferred task/stack teardown) is not a leak: sample
    // for up to 5 s, stopping as soon as the loss is under the limit.
    let t0 = Instant::now();
    let mut after = first;
    while before - after >= LEAK_LIMIT && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
        after = after.max(free_bytes()?);
    }
    let waited = t0.elapsed().as_secs_f64();
    let lost = before - after;
    let (t, f) = (THREADS_DONE.load(SeqCst), FORKS_DONE.load(SeqCst));
    println!(
        "note: freeram before {} KiB, right after {} KiB, best within {waited:.1} s {} KiB: \
         difference {} KiB ({t} threads, {f} processes)",
        before >> 10,
        first >> 10,
        after >> 10,
        lost >> 10
    );
    ensure!(
        lost < LEAK_LIMIT,
        "free memory fell by {} KiB (limit {} KiB) after {t} threads and {f} processes \
         (freeram before {} KiB, right after {} KiB, best within {waited:.1} s {} KiB)",
        lost >> 10,
        LEAK_LIMIT >> 10,
        before >> 10,
        first >> 10,
        after >> 10
    );
    Ok(())
}
