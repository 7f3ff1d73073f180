//! `futex` suite: the futex(2) operations as Linux implements them.
//!
//! Covers: FUTEX_WAIT returning EAGAIN when the value differs; timeouts (relative
//! for FUTEX_WAIT, absolute CLOCK_MONOTONIC for FUTEX_WAIT_BITSET, absolute
//! CLOCK_REALTIME with FUTEX_CLOCK_REALTIME; zero and past timeouts; invalid and
//! unreadable timespecs); EINVAL for a misaligned address and a zero bitset; EFAULT
//! for bad addresses; ENOSYS for unknown operations and FUTEX_CLOCK_REALTIME with a
//! non-waiting op; FUTEX_WAKE returning the number woken (the others stay asleep);
//! FUTEX_WAKE_BITSET waking only intersecting bitsets; FUTEX_REQUEUE and
//! FUTEX_CMP_REQUEUE (EAGAIN, woken + requeued counts, requeued waiters woken on the
//! second word); FUTEX_WAKE_OP (every operation, the comparison deciding the second
//! wake, ENOSYS for a bad op, EFAULT on read-only memory); private and shared futexes
//! in one process, also through two mappings of one /dev/shm file; shared futexes
//! across processes (a /dev/shm file mapped at different addresses, and shared
//! anonymous memory); a process-shared pthread mutex + condvar in a /dev/shm mapping
//! used by two processes for 1000 ping-pongs; a signal during FUTEX_WAIT (EINTR
//! without SA_RESTART, the wait goes on with SA_RESTART, EINTR for a timed wait even
//! with SA_RESTART).
//!
//! "All waiters are asleep" is established by polling /proc/<pid>/task/<tid>/stat
//! for state S where /proc exists; otherwise by sleeping 500 ms after every waiter
//! announced it is about to call futex.

use checks::{ensure, ensure_eq, errno, join, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long, timespec};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PAGE: usize = 4096;
const FUTEX_WAIT: c_int = 0;
const FUTEX_WAKE: c_int = 1;
const FUTEX_FD: c_int = 2;
const FUTEX_REQUEUE: c_int = 3;
const FUTEX_CMP_REQUEUE: c_int = 4;
const FUTEX_WAKE_OP: c_int = 5;
const FUTEX_WAIT_BITSET: c_int = 9;
const FUTEX_WAKE_BITSET: c_int = 10;
const PRIVATE: c_int = 128;
const CLOCK_RT: c_int = 256;
const ALL: u32 = u32::MAX;
const INT_MAX: usize = i32::MAX as usize;
const NS: i128 = 1_000_000_000;
/// Safety net for waits that a correct kernel ends by a wake: long enough to never
/// matter, short enough that a lost wake-up fails the check instead of hanging.
const SAFETY: Duration = Duration::from_secs(20);

const FUTEX_OP_SET: u32 = 0;
const FUTEX_OP_ADD: u32 = 1;
const FUTEX_OP_OR: u32 = 2;
const FUTEX_OP_ANDN: u32 = 3;
const FUTEX_OP_XOR: u32 = 4;
const FUTEX_OP_OPARG_SHIFT: u32 = 8;
const FUTEX_OP_CMP_EQ: u32 = 0;
const FUTEX_OP_CMP_NE: u32 = 1;
const FUTEX_OP_CMP_LT: u32 = 2;
const FUTEX_OP_CMP_LE: u32 = 3;
const FUTEX_OP_CMP_GT: u32 = 4;
const FUTEX_OP_CMP_GE: u32 = 5;

const fn futex_op(op: u32, oparg: u32, cmp: u32, cmparg: u32) -> u32 {
    ((op & 0xf) << 28) | ((cmp & 0xf) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff)
}

fn main() {
    let mut s = Suite::new("futex");
    s.check("wait_value_mismatch_eagain", wait_value_mismatch_eagain);
    s.check("wait_readonly_memory", wait_readonly_memory);
    s.check(
        "wait_shared_readonly_anon_efault",
        wait_shared_readonly_anon_efault,
    );
    s.check("wait_relative_timeout", wait_relative_timeout);
    s.check(
        "wait_bitset_absolute_monotonic",
        wait_bitset_absolute_monotonic,
    );
    s.check(
        "wait_bitset_absolute_realtime",
        wait_bitset_absolute_realtime,
    );
    s.check("timeout_zero_and_past", timeout_zero_and_past);
    s.check("timeout_invalid", timeout_invalid);
    s.check("einval_misaligned", einval_misaligned);
    s.check("einval_zero_bitset", einval_zero_bitset);
    s.check("efault_bad_address", efault_bad_address);
    s.check("enosys", enosys);
    s.check("wake_returns_count", wake_returns_count);
    s.check("wake_bitset_selective", wake_bitset_selective);
    s.check("requeue", requeue);
    s.check(
        "requeue_negative_counts_einval",
        requeue_negative_counts_einval,
    );
    s.check("cmp_requeue", cmp_requeue);
    s.check("wake_op_operations", wake_op_operations);
    s.check("wake_op_conditional_wake", wake_op_conditional_wake);
    s.check("wake_op_errors", wake_op_errors);
    s.check(
        "private_and_shared_in_process",
        private_and_shared_in_process,
    );
    s.check(
        "shared_two_mappings_in_process",
        shared_two_mappings_in_process,
    );
    s.check("shared_across_processes_shm", shared_across_processes_shm);
    s.check("shared_across_processes_anon", shared_across_processes_anon);
    s.check(
        "pshared_mutex_condvar_pingpong",
        pshared_mutex_condvar_pingpong,
    );
    s.check("signal_no_restart_eintr", signal_no_restart_eintr);
    s.check("signal_sa_restart_continues", signal_sa_restart_continues);
    s.check("signal_timed_wait_eintr", signal_timed_wait_eintr);
    s.finish();
}

// ---------------------------------------------------------------------------
// Helpers

unsafe fn futex(
    addr: usize,
    op: c_int,
    val: u32,
    timeout: usize,
    addr2: usize,
    val3: u32,
) -> c_long {
    syscall!(libc::SYS_futex, addr, op, val, timeout, addr2, val3)
}

/// Result of a futex call: `Ok(value)` or `Err(errno)`.
fn futex_res(
    addr: usize,
    op: c_int,
    val: u32,
    timeout: usize,
    addr2: usize,
    val3: u32,
) -> Result<c_long, i32> {
    checks::clear_errno();
    let r = unsafe { futex(addr, op, val, timeout, addr2, val3) };
    if r == -1 {
        Err(errno())
    } else {
        Ok(r)
    }
}

fn wake(addr: usize, op: c_int, n: usize) -> Result<c_long, String> {
    sys_ok(
        &format!("futex({addr:#x}, op {op:#x}, wake {n})"),
        || unsafe { futex(addr, op, n as u32, 0, 0, 0) },
    )
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { syscall!(libc::SYS_clock_gettime, clock, &raw mut ts) };
    ts.tv_sec as i128 * NS + ts.tv_nsec as i128
}

fn ts_of(ns: i128) -> timespec {
    timespec {
        tv_sec: (ns / NS) as i64,
        tv_nsec: (ns % NS) as i64,
    }
}

fn gettid() -> i32 {
    unsafe { syscall!(libc::SYS_gettid) as i32 }
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// A futex word on its own (heap) cache line, shared with threads.
#[derive(Clone)]
struct Word(Arc<AtomicU32>);

impl Word {
    fn new(v: u32) -> Word {
        Word(Arc::new(AtomicU32::new(v)))
    }
    fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
    fn get(&self) -> u32 {
        self.0.load(SeqCst)
    }
    fn set(&self, v: u32) {
        self.0.store(v, SeqCst)
    }
}

#[derive(Clone, Copy)]
enum Timeout {
    None,
    /// Relative (FUTEX_WAIT).
    Rel(Duration),
    /// Absolute CLOCK_MONOTONIC deadline this far from the call (FUTEX_WAIT_BITSET).
    AbsMono(Duration),
}

/// A thread blocked (or about to block) in one futex wait.
struct Waiter {
    handle: Option<JoinHandle<(c_long, i32)>>,
    tid: Arc<AtomicI32>,
    done: Arc<AtomicBool>,
    /// Words a stuck waiter may be on (woken on drop).
    rescue: Vec<usize>,
}

fn spawn_waiter(addr: usize, op: c_int, val: u32, timeout: Timeout, bitset: u32) -> Waiter {
    let tid = Arc::new(AtomicI32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (t, d) = (tid.clone(), done.clone());
    let handle = std::thread::spawn(move || {
        let ts = match timeout {
            Timeout::None => None,
            Timeout::Rel(d) => Some(ts_of(d.as_nanos() as i128)),
            Timeout::AbsMono(d) => Some(ts_of(
                clock_ns(libc::CLOCK_MONOTONIC) + d.as_nanos() as i128,
            )),
        };
        let tsp = ts.as_ref().map_or(0, |t| t as *const timespec as usize);
        t.store(gettid(), SeqCst);
        let r = futex_res(addr, op, val, tsp, 0, bitset);
        d.store(true, SeqCst);
        match r {
            Ok(v) => (v, 0),
            Err(e) => (-1, e),
        }
    });
    Waiter {
        handle: Some(handle),
        tid,
        done,
        rescue: vec![addr],
    }
}

impl Waiter {
    fn done(&self) -> bool {
        self.done.load(SeqCst)
    }
    /// Joins the waiter, which must return by itself within 10 s (it was woken):
    /// `(return value, errno)`.
    fn join(mut self) -> Result<(c_long, i32), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.done() && Instant::now() < deadline {
            sleep_ms(1);
        }
        if !self.done() {
            let tid = self.tid.load(SeqCst);
            let (r, e) = self.rescue()?;
            return Err(format!(
                "waiter {tid} still blocked 10 s after its wake-up (a rescue wake made it return {r}, errno {e})"
            ));
        }
        join(self.handle.take().unwrap())
    }
    /// Wakes the waiter if it is still blocked, then joins it.
    fn rescue(mut self) -> Result<(c_long, i32), String> {
        self.rescue_wake(Duration::from_secs(30));
        join(self.handle.take().unwrap())
    }
    /// Wakes this waiter on its rescue words until it is done (or `limit` passes).
    fn rescue_wake(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        // Give a correct kernel's wake a moment to be seen before intervening.
        while !self.done() && Instant::now() < deadline {
            for &a in &self.rescue {
                for op in [FUTEX_WAKE_BITSET, FUTEX_WAKE_BITSET | PRIVATE] {
                    unsafe { futex(a, op, i32::MAX as u32, 0, 0, ALL) };
                }
            }
            sleep_ms(2);
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rescue_wake(Duration::from_secs(30));
            let _ = h.join();
        }
    }
}

/// Joins every waiter and checks each one's futex returned 0.
fn join_all_zero(ws: Vec<Waiter>, what: &str) -> CheckResult {
    let mut errs = Vec::new();
    for (i, w) in ws.into_iter().enumerate() {
        match w.join()? {
            (0, _) => {}
            (r, e) => errs.push(format!("waiter {i}: returned {r} errno {e}")),
        }
    }
    ensure!(errs.is_empty(), "{what}: {}", errs.join("; "));
    Ok(())
}

/// Waits until every waiter's thread is asleep: state S in
/// /proc/<pid>/task/<tid>/stat, or (no /proc) 500 ms after they all started.
fn wait_asleep(ws: &[&Waiter]) -> CheckResult {
    let deadline = Instant::now() + Duration::from_secs(20);
    for w in ws {
        while w.tid.load(SeqCst) == 0 {
            ensure!(Instant::now() < deadline, "a waiter thread never started");
            sleep_ms(1);
        }
    }
    let pid = std::process::id();
    let mut fallback = false;
    'all: for w in ws {
        let path = format!("/proc/{pid}/task/{}/stat", w.tid.load(SeqCst));
        loop {
            let Ok(stat) = std::fs::read_to_string(&path) else {
                fallback = true;
                break 'all;
            };
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].trim_start().chars().next());
            if state == Some('S') {
                break;
            }
            ensure!(
                !w.done(),
                "waiter {} returned before being woken",
                w.tid.load(SeqCst)
            );
            ensure!(
                Instant::now() < deadline,
                "waiter {} not asleep after 20 s (state {state:?})",
                w.tid.load(SeqCst)
            );
            sleep_ms(1);
        }
    }
    if fallback {
        sleep_ms(500);
    }
    for w in ws {
        ensure!(
            !w.done(),
            "waiter {} returned before being woken",
            w.tid.load(SeqCst)
        );
    }
    Ok(())
}

/// Runs one wait in a thread and returns (result, errno, elapsed); if it does not
/// return within `limit`, it is woken and the check fails.
fn wait_with_rescue(
    addr: usize,
    op: c_int,
    val: u32,
    ts: Option<timespec>,
    val3: u32,
    limit: Duration,
) -> Result<(c_long, i32, Duration), String> {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let h = std::thread::spawn(move || {
        let tsp = ts.as_ref().map_or(0, |t| t as *const timespec as usize);
        let t0 = Instant::now();
        let r = futex_res(addr, op, val, tsp, 0, val3);
        let el = t0.elapsed();
        d.store(true, SeqCst);
        match r {
            Ok(v) => (v, 0, el),
            Err(e) => (-1, e, el),
        }
    });
    let t0 = Instant::now();
    while !done.load(SeqCst) && t0.elapsed() < limit {
        sleep_ms(1);
    }
    let stuck = !done.load(SeqCst);
    while !done.load(SeqCst) {
        for o in [FUTEX_WAKE_BITSET, FUTEX_WAKE_BITSET | PRIVATE] {
            unsafe { futex(addr, o, i32::MAX as u32, 0, 0, ALL) };
        }
        sleep_ms(2);
    }
    let r = join(h)?;
    ensure!(!stuck, "futex(op {op:#x}) did not return within {limit:?} (had to be woken; then returned {} errno {})", r.0, r.1);
    Ok(r)
}

fn expect_futex_errno(what: &str, r: Result<c_long, i32>, want: i32) -> CheckResult {
    checks::expect_errno(
        what,
        match r {
            Ok(v) => v,
            Err(e) => {
                unsafe { *libc::__errno_location() = e };
                -1
            }
        },
        want,
    )
}

fn ts_ptr(ts: &timespec) -> usize {
    ts as *const timespec as usize
}

// ---------------------------------------------------------------------------
// Single-thread cases

fn wait_value_mismatch_eagain() -> CheckResult {
    let w = Word::new(1);
    let zero = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let long = timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    for (what, op, ts, v3) in [
        ("FUTEX_WAIT", FUTEX_WAIT, 0, 0),
        ("FUTEX_WAIT_PRIVATE", FUTEX_WAIT | PRIVATE, 0, 0),
        ("FUTEX_WAIT, 10 s timeout", FUTEX_WAIT, ts_ptr(&long), 0),
        (
            "FUTEX_WAIT, zero timeout",
            FUTEX_WAIT | PRIVATE,
            ts_ptr(&zero),
            0,
        ),
        ("FUTEX_WAIT_BITSET", FUTEX_WAIT_BITSET, 0, ALL),
        (
            "FUTEX_WAIT_BITSET_PRIVATE|CLOCK_REALTIME",
            FUTEX_WAIT_BITSET | PRIVATE | CLOCK_RT,
            0,
            ALL,
        ),
    ] {
        expect_futex_errno(
            &format!("{what} (value 1, expected 0)"),
            futex_res(w.addr(), op, 0, ts, 0, v3),
            libc::EAGAIN,
        )?;
    }
    // The comparison is of the whole 32-bit word.
    w.set(0x1_0000);
    expect_futex_errno(
        "FUTEX_WAIT (0x10000 vs 0)",
        futex_res(w.addr(), FUTEX_WAIT | PRIVATE, 0, 0, 0, 0),
        libc::EAGAIN,
    )?;
    Ok(())
}

/// A read-only page of anonymous memory whose first word is 7.
fn readonly_anon_page() -> Result<Unmap, String> {
    let p = sys_ok("mmap", || unsafe {
        syscall!(
            libc::SYS_mmap,
            0,
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as usize;
    let u = Unmap(p, PAGE);
    unsafe { (*(p as *const AtomicU32)).store(7, SeqCst) };
    sys_ok("mprotect(PROT_READ)", || unsafe {
        syscall!(libc::SYS_mprotect, p, PAGE, libc::PROT_READ)
    })?;
    Ok(u)
}

fn wait_readonly_memory() -> CheckResult {
    // Read-only memory is fine for a wait (the word is only read): private futexes
    // on anonymous memory, shared ones on a shared file page.
    let page = readonly_anon_page()?;
    let p = page.0;
    let ts = ts_of(10_000_000);
    expect_futex_errno(
        "FUTEX_WAIT_PRIVATE on read-only memory, value differs",
        futex_res(p, FUTEX_WAIT | PRIVATE, 1, 0, 0, 0),
        libc::EAGAIN,
    )?;
    let (r, e, _) = wait_with_rescue(
        p,
        FUTEX_WAIT | PRIVATE,
        7,
        Some(ts),
        0,
        Duration::from_secs(10),
    )?;
    ensure!(
        r == -1 && e == libc::ETIMEDOUT,
        "FUTEX_WAIT_PRIVATE 10 ms on read-only memory: returned {r}, errno {e}"
    );
    let f = ShmFile::new(PAGE)?;
    let q = sys_ok("mmap(/dev/shm file, PROT_READ)", || unsafe {
        syscall!(
            libc::SYS_mmap,
            0,
            PAGE,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.fd,
            0
        )
    })? as usize;
    let _uq = Unmap(q, PAGE);
    expect_futex_errno(
        "FUTEX_WAIT (shared) on a read-only file page, value differs",
        futex_res(q, FUTEX_WAIT, 1, 0, 0, 0),
        libc::EAGAIN,
    )?;
    let (r, e, _) = wait_with_rescue(q, FUTEX_WAIT, 0, Some(ts), 0, Duration::from_secs(10))?;
    ensure!(
        r == -1 && e == libc::ETIMEDOUT,
        "FUTEX_WAIT 10 ms on a read-only file page: returned {r}, errno {e}"
    );
    Ok(())
}

fn wait_shared_readonly_anon_efault() -> CheckResult {
    // Linux: a shared (non-private) futex on a read-only *anonymous* page is EFAULT
    // (get_futex_key: "a RO anonymous page will never change").
    let page = readonly_anon_page()?;
    let ts = ts_of(10_000_000);
    expect_futex_errno(
        "FUTEX_WAIT (shared) on read-only anonymous memory",
        futex_res(page.0, FUTEX_WAIT, 1, ts_ptr(&ts), 0, 0),
        libc::EFAULT,
    )?;
    expect_futex_errno(
        "FUTEX_WAIT (shared) on read-only anonymous memory, value matches",
        futex_res(page.0, FUTEX_WAIT, 7, ts_ptr(&ts), 0, 0),
        libc::EFAULT,
    )?;
    Ok(())
}

fn wait_relative_timeout() -> CheckResult {
    let w = Word::new(0);
    for op in [FUTEX_WAIT, FUTEX_WAIT | PRIVATE] {
        let ts = ts_of(100_000_000);
        let t0 = clock_ns(libc::CLOCK_MONOTONIC);
        let (r, e, _) = wait_with_rescue(w.addr(), op, 0, Some(ts), 0, Duration::from_secs(10))?;
        let el = clock_ns(libc::CLOCK_MONOTONIC) - t0;
        ensure!(
            r == -1 && e == libc::ETIMEDOUT,
            "FUTEX_WAIT (op {op:#x}) 100 ms: returned {r}, errno {e}"
        );
        ensure!(
            el >= 100_000_000,
            "FUTEX_WAIT 100 ms timed out after {el} ns"
        );
        ensure!(
            el < 2_100_000_000,
            "FUTEX_WAIT 100 ms timed out after {el} ns"
        );
    }
    Ok(())
}

fn wait_bitset_absolute_monotonic() -> CheckResult {
    let w = Word::new(0);
    for op in [FUTEX_WAIT_BITSET, FUTEX_WAIT_BITSET | PRIVATE] {
        let t0 = clock_ns(libc::CLOCK_MONOTONIC);
        let deadline = t0 + 150_000_000;
        let (r, e, _) = wait_with_rescue(
            w.addr(),
            op,
            0,
            Some(ts_of(deadline)),
            ALL,
            Duration::from_secs(10),
        )?;
        let now = clock_ns(libc::CLOCK_MONOTONIC);
        ensure!(
            r == -1 && e == libc::ETIMEDOUT,
            "FUTEX_WAIT_BITSET (op {op:#x}) returned {r}, errno {e}"
        );
        ensure!(
            now >= deadline,
            "FUTEX_WAIT_BITSET returned {} ns before its CLOCK_MONOTONIC deadline",
            deadline - now
        );
        ensure!(
            now - t0 < 2_150_000_000,
            "FUTEX_WAIT_BITSET for 150 ms took {} ns",
            now - t0
        );
    }
    Ok(())
}

fn wait_bitset_absolute_realtime() -> CheckResult {
    let w = Word::new(0);
    for op in [
        FUTEX_WAIT_BITSET | CLOCK_RT,
        FUTEX_WAIT_BITSET | PRIVATE | CLOCK_RT,
    ] {
        let m0 = clock_ns(libc::CLOCK_MONOTONIC);
        let deadline = clock_ns(libc::CLOCK_REALTIME) + 150_000_000;
        let (r, e, _) = wait_with_rescue(
            w.addr(),
            op,
            0,
            Some(ts_of(deadline)),
            ALL,
            Duration::from_secs(10),
        )?;
        let now = clock_ns(libc::CLOCK_REALTIME);
        let el = clock_ns(libc::CLOCK_MONOTONIC) - m0;
        ensure!(
            r == -1 && e == libc::ETIMEDOUT,
            "FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME (op {op:#x}) returned {r}, errno {e}"
        );
        ensure!(
            now >= deadline,
            "returned {} ns before its CLOCK_REALTIME deadline",
            deadline - now
        );
        ensure!(
            el >= 140_000_000 && el < 2_150_000_000,
            "a 150 ms CLOCK_REALTIME wait took {el} ns of CLOCK_MONOTONIC"
        );
    }
    Ok(())
}

fn timeout_zero_and_past() -> CheckResult {
    let w = Word::new(0);
    let zero = ts_of(0);
    // In the past but valid: a guest may have booted less than a second ago.
    let past_mono = ts_of(clock_ns(libc::CLOCK_MONOTONIC) - 10_000_000);
    let past_real = ts_of(clock_ns(libc::CLOCK_REALTIME) - NS);
    for (what, op, ts) in [
        ("FUTEX_WAIT, relative 0", FUTEX_WAIT, zero),
        ("FUTEX_WAIT_PRIVATE, relative 0", FUTEX_WAIT | PRIVATE, zero),
        ("FUTEX_WAIT_BITSET, absolute 0", FUTEX_WAIT_BITSET, zero),
        (
            "FUTEX_WAIT_BITSET, 10 ms ago",
            FUTEX_WAIT_BITSET | PRIVATE,
            past_mono,
        ),
        (
            "FUTEX_WAIT_BITSET|CLOCK_REALTIME, absolute 0",
            FUTEX_WAIT_BITSET | CLOCK_RT,
            zero,
        ),
        (
            "FUTEX_WAIT_BITSET|CLOCK_REALTIME, 1 s ago",
            FUTEX_WAIT_BITSET | PRIVATE | CLOCK_RT,
            past_real,
        ),
    ] {
        let (r, e, el) = wait_with_rescue(w.addr(), op, 0, Some(ts), ALL, Duration::from_secs(5))?;
        ensure!(
            r == -1 && e == libc::ETIMEDOUT,
            "{what}: returned {r}, errno {e}, expected ETIMEDOUT"
        );
        ensure!(el < Duration::from_secs(2), "{what}: took {el:?}");
    }
    Ok(())
}

fn timeout_invalid() -> CheckResult {
    let w = Word::new(0);
    for (what, op, ts) in [
        (
            "FUTEX_WAIT {0, 1e9}",
            FUTEX_WAIT,
            timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000,
            },
        ),
        (
            "FUTEX_WAIT {0, -1}",
            FUTEX_WAIT | PRIVATE,
            timespec {
                tv_sec: 0,
                tv_nsec: -1,
            },
        ),
        (
            "FUTEX_WAIT {-1, 0}",
            FUTEX_WAIT,
            timespec {
                tv_sec: -1,
                tv_nsec: 0,
            },
        ),
        (
            "FUTEX_WAIT_BITSET {0, 1e9}",
            FUTEX_WAIT_BITSET,
            timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000,
            },
        ),
    ] {
        let (r, e, _) = wait_with_rescue(w.addr(), op, 0, Some(ts), ALL, Duration::from_secs(5))?;
        ensure!(
            r == -1 && e == libc::EINVAL,
            "{what}: returned {r}, errno {e}, expected EINVAL (22)"
        );
    }
    // An unreadable timespec: EFAULT, before the value is even compared.
    expect_futex_errno(
        "FUTEX_WAIT, timeout 0x1",
        futex_res(w.addr(), FUTEX_WAIT, 1, 1, 0, 0),
        libc::EFAULT,
    )?;
    expect_futex_errno(
        "FUTEX_WAIT_BITSET, timeout = kernel address",
        futex_res(
            w.addr(),
            FUTEX_WAIT_BITSET | PRIVATE,
            1,
            0xffff_8000_0000_0000,
            0,
            ALL,
        ),
        libc::EFAULT,
    )?;
    Ok(())
}

fn einval_misaligned() -> CheckResult {
    let w = Word::new(0);
    let ts = ts_of(50_000_000);
    for off in [1, 2, 3] {
        let a = w.addr() + off;
        expect_futex_errno(
            &format!("FUTEX_WAIT at +{off}"),
            futex_res(a, FUTEX_WAIT, 0, ts_ptr(&ts), 0, 0),
            libc::EINVAL,
        )?;
        expect_futex_errno(
            &format!("FUTEX_WAIT_PRIVATE at +{off}"),
            futex_res(a, FUTEX_WAIT | PRIVATE, 0, ts_ptr(&ts), 0, 0),
            libc::EINVAL,
        )?;
        expect_futex_errno(
            &format!("FUTEX_WAKE at +{off}"),
            futex_res(a, FUTEX_WAKE, 1, 0, 0, 0),
            libc::EINVAL,
        )?;
        expect_futex_errno(
            &format!("FUTEX_WAKE_PRIVATE at +{off}"),
            futex_res(a, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0),
            libc::EINVAL,
        )?;
    }
    Ok(())
}

fn einval_zero_bitset() -> CheckResult {
    let w = Word::new(0);
    for op in [FUTEX_WAIT_BITSET, FUTEX_WAIT_BITSET | PRIVATE] {
        // The value matches: only the zero bitset makes it fail (the 2 s deadline
        // keeps a kernel that waits anyway from hanging the suite).
        let deadline = ts_of(clock_ns(libc::CLOCK_MONOTONIC) + 2 * NS);
        expect_futex_errno(
            &format!("FUTEX_WAIT_BITSET (op {op:#x}) with bitset 0"),
            futex_res(w.addr(), op, 0, ts_ptr(&deadline), 0, 0),
            libc::EINVAL,
        )?;
    }
    for op in [FUTEX_WAKE_BITSET, FUTEX_WAKE_BITSET | PRIVATE] {
        expect_futex_errno(
            &format!("FUTEX_WAKE_BITSET (op {op:#x}) with bitset 0"),
            futex_res(w.addr(), op, 1, 0, 0, 0),
            libc::EINVAL,
        )?;
    }
    Ok(())
}

fn efault_bad_address() -> CheckResult {
    // An unmapped page.
    let p = sys_ok("mmap", || unsafe {
        syscall!(
            libc::SYS_mmap,
            0,
            PAGE,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as usize;
    unsafe { syscall!(libc::SYS_munmap, p, PAGE) };
    let kernel = 0xffff_8000_0000_0000usize;
    let ts = ts_of(50_000_000);
    for (what, a) in [
        ("NULL", 0usize),
        ("an unmapped page", p + 8),
        ("a kernel address", kernel),
    ] {
        for op in [FUTEX_WAIT, FUTEX_WAIT | PRIVATE] {
            expect_futex_errno(
                &format!("FUTEX_WAIT (op {op:#x}) on {what}"),
                futex_res(a, op, 0, ts_ptr(&ts), 0, 0),
                libc::EFAULT,
            )?;
        }
        let dl = ts_of(clock_ns(libc::CLOCK_MONOTONIC) + 2 * NS);
        expect_futex_errno(
            &format!("FUTEX_WAIT_BITSET on {what}"),
            futex_res(a, FUTEX_WAIT_BITSET, 0, ts_ptr(&dl), 0, ALL),
            libc::EFAULT,
        )?;
    }
    // A shared wake looks the page up: EFAULT; any op on a kernel address: EFAULT.
    expect_futex_errno(
        "FUTEX_WAKE on an unmapped page",
        futex_res(p, FUTEX_WAKE, 1, 0, 0, 0),
        libc::EFAULT,
    )?;
    expect_futex_errno(
        "FUTEX_WAKE_PRIVATE on a kernel address",
        futex_res(kernel, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0),
        libc::EFAULT,
    )?;
    let w = Word::new(0);
    expect_futex_errno(
        "FUTEX_CMP_REQUEUE to an unmapped page",
        futex_res(w.addr(), FUTEX_CMP_REQUEUE, 1, 1, p, 0),
        libc::EFAULT,
    )?;
    expect_futex_errno(
        "FUTEX_WAKE_OP with an unmapped second word",
        futex_res(
            w.addr(),
            FUTEX_WAKE_OP | PRIVATE,
            1,
            1,
            p,
            futex_op(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0),
        ),
        libc::EFAULT,
    )?;
    Ok(())
}

fn enosys() -> CheckResult {
    let w = Word::new(0);
    expect_futex_errno(
        "futex op 99",
        futex_res(w.addr(), 99, 0, 0, 0, 0),
        libc::ENOSYS,
    )?;
    expect_futex_errno(
        "futex op 99|PRIVATE",
        futex_res(w.addr(), 99 | PRIVATE, 0, 0, 0, 0),
        libc::ENOSYS,
    )?;
    expect_futex_errno(
        "FUTEX_FD (removed)",
        futex_res(w.addr(), FUTEX_FD, 0, 0, 0, 0),
        libc::ENOSYS,
    )?;
    expect_futex_errno(
        "FUTEX_WAKE|FUTEX_CLOCK_REALTIME",
        futex_res(w.addr(), FUTEX_WAKE | CLOCK_RT, 1, 0, 0, 0),
        libc::ENOSYS,
    )?;
    expect_futex_errno(
        "FUTEX_WAKE_BITSET|FUTEX_CLOCK_REALTIME",
        futex_res(
            w.addr(),
            FUTEX_WAKE_BITSET | PRIVATE | CLOCK_RT,
            1,
            0,
            0,
            ALL,
        ),
        libc::ENOSYS,
    )?;
    expect_futex_errno(
        "FUTEX_REQUEUE|FUTEX_CLOCK_REALTIME",
        futex_res(w.addr(), FUTEX_REQUEUE | CLOCK_RT, 1, 1, w.addr() + 4, 0),
        libc::ENOSYS,
    )?;
    // Nothing was woken or changed; a plain wake still works.
    ensure_eq!(
        wake(w.addr(), FUTEX_WAKE, 1)?,
        0,
        "FUTEX_WAKE with no waiters"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Wake counts, bitsets, requeue, wake_op

fn wake_returns_count() -> CheckResult {
    const N: usize = 4;
    let w = Word::new(0);
    ensure_eq!(
        wake(w.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        0,
        "FUTEX_WAKE with no waiters"
    );
    let ws: Vec<Waiter> = (0..N)
        .map(|_| spawn_waiter(w.addr(), FUTEX_WAIT | PRIVATE, 0, Timeout::Rel(SAFETY), 0))
        .collect();
    wait_asleep(&ws.iter().collect::<Vec<_>>())?;
    ensure_eq!(
        wake(w.addr(), FUTEX_WAKE | PRIVATE, 2)?,
        2,
        "FUTEX_WAKE(2) with {N} waiters"
    );
    // Exactly two return; the others stay asleep.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ws.iter().filter(|w| w.done()).count() < 2 && Instant::now() < deadline {
        sleep_ms(1);
    }
    sleep_ms(200);
    ensure_eq!(
        ws.iter().filter(|w| w.done()).count(),
        2,
        "waiters returned after FUTEX_WAKE(2)"
    );
    ensure_eq!(
        wake(w.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        (N - 2) as c_long,
        "FUTEX_WAKE(INT_MAX) for the rest"
    );
    join_all_zero(ws, "woken waiters")?;
    ensure_eq!(
        wake(w.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        0,
        "FUTEX_WAKE after all were woken"
    );
    Ok(())
}

fn wake_bitset_selective() -> CheckResult {
    let w = Word::new(0);
    let op = FUTEX_WAIT_BITSET | PRIVATE;
    let ws: Vec<Waiter> = [0b0001u32, 0b0010, 0b0100, 0b1000]
        .iter()
        .map(|&b| spawn_waiter(w.addr(), op, 0, Timeout::AbsMono(SAFETY), b))
        .collect();
    let plain = spawn_waiter(w.addr(), FUTEX_WAIT | PRIVATE, 0, Timeout::Rel(SAFETY), 0);
    let mut all: Vec<&Waiter> = ws.iter().collect();
    all.push(&plain);
    wait_asleep(&all)?;
    let wake_bits = |n: usize, bits: u32| {
        sys_ok(&format!("FUTEX_WAKE_BITSET({n}, {bits:#b})"), || unsafe {
            futex(w.addr(), FUTEX_WAKE_BITSET | PRIVATE, n as u32, 0, 0, bits)
        })
    };
    let done = |ws: &Vec<Waiter>, plain: &Waiter| -> Vec<bool> {
        ws.iter().map(|w| w.done()).chain([plain.done()]).collect()
    };
    let settle = |want: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while all_done_count(&ws, &plain) < want && Instant::now() < deadline {
            sleep_ms(1);
        }
        sleep_ms(100);
    };
    // A FUTEX_WAIT waiter has the bitset "any": it is the only one with bit 4.
    ensure_eq!(
        wake_bits(INT_MAX, 0b1_0000)?,
        1,
        "FUTEX_WAKE_BITSET(bit 4): only the FUTEX_WAIT waiter matches"
    );
    settle(1);
    ensure_eq!(
        done(&ws, &plain),
        vec![false, false, false, false, true],
        "waiters done (bitsets 1, 2, 4, 8, any)"
    );
    ensure_eq!(wake_bits(INT_MAX, 0b0010)?, 1, "FUTEX_WAKE_BITSET(0b0010)");
    settle(2);
    ensure_eq!(
        done(&ws, &plain),
        vec![false, true, false, false, true],
        "waiters done (bitsets 1, 2, 4, 8, any)"
    );
    ensure_eq!(wake_bits(INT_MAX, 0b0101)?, 2, "FUTEX_WAKE_BITSET(0b0101)");
    settle(4);
    ensure_eq!(
        done(&ws, &plain),
        vec![true, true, true, false, true],
        "waiters done (bitsets 1, 2, 4, 8, any)"
    );
    // A plain FUTEX_WAKE matches any bitset.
    ensure_eq!(
        wake(w.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        1,
        "FUTEX_WAKE for the bitset-8 waiter"
    );
    join_all_zero(ws, "bitset waiters")?;
    join_all_zero(vec![plain], "FUTEX_WAIT waiter")?;
    Ok(())
}

fn all_done_count(ws: &[Waiter], plain: &Waiter) -> usize {
    ws.iter().filter(|w| w.done()).count() + plain.done() as usize
}

fn requeue() -> CheckResult {
    const N: usize = 4;
    let (f1, f2) = (Word::new(0), Word::new(0));
    let mut ws: Vec<Waiter> = (0..N)
        .map(|_| spawn_waiter(f1.addr(), FUTEX_WAIT | PRIVATE, 0, Timeout::Rel(SAFETY), 0))
        .collect();
    for w in &mut ws {
        w.rescue.push(f2.addr());
    }
    wait_asleep(&ws.iter().collect::<Vec<_>>())?;
    // Wake 1, move 2 to f2: the result counts both (1 + 2).
    let r = sys_ok("FUTEX_REQUEUE(wake 1, requeue 2)", || unsafe {
        futex(f1.addr(), FUTEX_REQUEUE | PRIVATE, 1, 2, f2.addr(), 0)
    })?;
    ensure_eq!(r, 3, "FUTEX_REQUEUE(wake 1, requeue 2) with 4 waiters");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ws.iter().filter(|w| w.done()).count() < 1 && Instant::now() < deadline {
        sleep_ms(1);
    }
    sleep_ms(100);
    ensure_eq!(
        ws.iter().filter(|w| w.done()).count(),
        1,
        "waiters returned after FUTEX_REQUEUE"
    );
    // Two sleep on f2 now, one is left on f1.
    ensure_eq!(
        wake(f2.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        2,
        "FUTEX_WAKE on the requeue target"
    );
    ensure_eq!(
        wake(f1.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        1,
        "FUTEX_WAKE on the original word"
    );
    join_all_zero(ws, "requeued waiters")?;
    Ok(())
}

fn requeue_negative_counts_einval() -> CheckResult {
    let (f1, f2) = (Word::new(0), Word::new(0));
    expect_futex_errno(
        "FUTEX_REQUEUE(nr_wake -1)",
        futex_res(f1.addr(), FUTEX_REQUEUE, -1i32 as u32, 1, f2.addr(), 0),
        libc::EINVAL,
    )?;
    expect_futex_errno(
        "FUTEX_REQUEUE(nr_requeue -1)",
        futex_res(f1.addr(), FUTEX_REQUEUE, 1, usize::MAX, f2.addr(), 0),
        libc::EINVAL,
    )?;
    Ok(())
}

fn cmp_requeue() -> CheckResult {
    let (f1, f2) = (Word::new(7), Word::new(0));
    let mut ws: Vec<Waiter> = (0..3)
        .map(|_| spawn_waiter(f1.addr(), FUTEX_WAIT, 7, Timeout::Rel(SAFETY), 0))
        .collect();
    for w in &mut ws {
        w.rescue.push(f2.addr());
    }
    wait_asleep(&ws.iter().collect::<Vec<_>>())?;
    expect_futex_errno(
        "FUTEX_CMP_REQUEUE with a stale value (8, word is 7)",
        futex_res(f1.addr(), FUTEX_CMP_REQUEUE, 1, 1, f2.addr(), 8),
        libc::EAGAIN,
    )?;
    sleep_ms(100);
    ensure_eq!(
        ws.iter().filter(|w| w.done()).count(),
        0,
        "waiters returned after a failed FUTEX_CMP_REQUEUE"
    );
    let r = sys_ok("FUTEX_CMP_REQUEUE(wake 1, requeue 1)", || unsafe {
        futex(f1.addr(), FUTEX_CMP_REQUEUE, 1, 1, f2.addr(), 7)
    })?;
    ensure_eq!(r, 2, "FUTEX_CMP_REQUEUE(wake 1, requeue 1) with 3 waiters");
    ensure_eq!(
        wake(f2.addr(), FUTEX_WAKE, INT_MAX)?,
        1,
        "FUTEX_WAKE on the requeue target"
    );
    ensure_eq!(
        wake(f1.addr(), FUTEX_WAKE, INT_MAX)?,
        1,
        "FUTEX_WAKE on the original word"
    );
    join_all_zero(ws, "requeued waiters")?;
    // Requeue everything (wake none): the count is the number moved.
    let mut ws: Vec<Waiter> = (0..2)
        .map(|_| spawn_waiter(f1.addr(), FUTEX_WAIT | PRIVATE, 7, Timeout::Rel(SAFETY), 0))
        .collect();
    for w in &mut ws {
        w.rescue.push(f2.addr());
    }
    wait_asleep(&ws.iter().collect::<Vec<_>>())?;
    let r = sys_ok("FUTEX_CMP_REQUEUE(wake 0, requeue all)", || unsafe {
        futex(
            f1.addr(),
            FUTEX_CMP_REQUEUE | PRIVATE,
            0,
            INT_MAX,
            f2.addr(),
            7,
        )
    })?;
    ensure_eq!(
        r,
        2,
        "FUTEX_CMP_REQUEUE(wake 0, requeue INT_MAX) with 2 waiters"
    );
    ensure_eq!(
        wake(f1.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        0,
        "FUTEX_WAKE on the emptied word"
    );
    ensure_eq!(
        wake(f2.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        2,
        "FUTEX_WAKE on the requeue target"
    );
    join_all_zero(ws, "requeued waiters")?;
    Ok(())
}

fn wake_op_operations() -> CheckResult {
    let f1 = Word::new(0);
    let f2 = Word::new(0);
    let cases = [
        ("SET 5", FUTEX_OP_SET, 5, 100u32, 5u32),
        ("ADD 3", FUTEX_OP_ADD, 3, 10, 13),
        ("ADD 0xfff (sign-extended: -1)", FUTEX_OP_ADD, 0xfff, 10, 9),
        ("OR 0x10", FUTEX_OP_OR, 0x10, 0x3, 0x13),
        ("ANDN 0x1", FUTEX_OP_ANDN, 0x1, 0x3, 0x2),
        ("XOR 0xff", FUTEX_OP_XOR, 0xff, 0x0f, 0xf0),
        (
            "SET 1<<4 (OPARG_SHIFT)",
            FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT,
            4,
            0,
            16,
        ),
        (
            "ADD 1<<8 (OPARG_SHIFT)",
            FUTEX_OP_ADD | FUTEX_OP_OPARG_SHIFT,
            8,
            1,
            257,
        ),
        (
            "OR 1<<31 (OPARG_SHIFT)",
            FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT,
            31,
            1,
            0x8000_0001,
        ),
    ];
    for (what, op, oparg, init, want) in cases {
        for cmp in [
            FUTEX_OP_CMP_EQ,
            FUTEX_OP_CMP_NE,
            FUTEX_OP_CMP_LT,
            FUTEX_OP_CMP_LE,
            FUTEX_OP_CMP_GT,
            FUTEX_OP_CMP_GE,
        ] {
            f2.set(init);
            let r = sys_ok(&format!("FUTEX_WAKE_OP({what}, cmp {cmp})"), || unsafe {
                futex(
                    f1.addr(),
                    FUTEX_WAKE_OP | PRIVATE,
                    1,
                    1,
                    f2.addr(),
                    futex_op(op, oparg, cmp, 0),
                )
            })?;
            ensure_eq!(r, 0, "FUTEX_WAKE_OP({what}) without waiters");
            ensure_eq!(
                f2.get(),
                want,
                "second word after FUTEX_WAKE_OP({what}) on {init:#x}"
            );
        }
    }
    ensure_eq!(f1.get(), 0, "first word after FUTEX_WAKE_OP");
    Ok(())
}

fn wake_op_conditional_wake() -> CheckResult {
    let (f1, f2) = (Word::new(0), Word::new(5));
    // Round 1: ADD 3, GT 4 -> old value 5 > 4 -> the waiter on f2 is woken too.
    let a = spawn_waiter(f1.addr(), FUTEX_WAIT | PRIVATE, 0, Timeout::Rel(SAFETY), 0);
    let b = spawn_waiter(f2.addr(), FUTEX_WAIT | PRIVATE, 5, Timeout::Rel(SAFETY), 0);
    wait_asleep(&[&a, &b])?;
    let r = sys_ok("FUTEX_WAKE_OP(ADD 3, CMP_GT 4)", || unsafe {
        futex(
            f1.addr(),
            FUTEX_WAKE_OP | PRIVATE,
            1,
            1,
            f2.addr(),
            futex_op(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_GT, 4),
        )
    })?;
    ensure_eq!(
        r,
        2,
        "FUTEX_WAKE_OP(ADD 3, CMP_GT 4) on 5 with a waiter on each word"
    );
    ensure_eq!(f2.get(), 8, "second word after ADD 3");
    join_all_zero(vec![a, b], "FUTEX_WAKE_OP waiters")?;
    // Round 2: ADD 1, GT 100 -> 8 > 100 is false -> only the waiter on f1.
    let c = spawn_waiter(f1.addr(), FUTEX_WAIT | PRIVATE, 0, Timeout::Rel(SAFETY), 0);
    let d = spawn_waiter(f2.addr(), FUTEX_WAIT | PRIVATE, 8, Timeout::Rel(SAFETY), 0);
    wait_asleep(&[&c, &d])?;
    let r = sys_ok("FUTEX_WAKE_OP(ADD 1, CMP_GT 100)", || unsafe {
        futex(
            f1.addr(),
            FUTEX_WAKE_OP | PRIVATE,
            1,
            1,
            f2.addr(),
            futex_op(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 100),
        )
    })?;
    ensure_eq!(r, 1, "FUTEX_WAKE_OP(ADD 1, CMP_GT 100) on 8");
    ensure_eq!(f2.get(), 9, "second word after ADD 1");
    join_all_zero(vec![c], "waiter on the first word")?;
    sleep_ms(100);
    ensure!(
        !d.done(),
        "the waiter on the second word returned though the comparison was false"
    );
    ensure_eq!(
        wake(f2.addr(), FUTEX_WAKE | PRIVATE, INT_MAX)?,
        1,
        "FUTEX_WAKE on the second word"
    );
    join_all_zero(vec![d], "waiter on the second word")?;
    Ok(())
}

fn wake_op_errors() -> CheckResult {
    let (f1, f2) = (Word::new(0), Word::new(5));
    // Operation 7 does not exist: ENOSYS, the word is untouched.
    expect_futex_errno(
        "FUTEX_WAKE_OP with operation 7",
        futex_res(
            f1.addr(),
            FUTEX_WAKE_OP | PRIVATE,
            1,
            1,
            f2.addr(),
            futex_op(7, 1, FUTEX_OP_CMP_EQ, 0),
        ),
        libc::ENOSYS,
    )?;
    ensure_eq!(f2.get(), 5, "second word after a bad FUTEX_WAKE_OP");
    // The second word must be writable.
    let p = sys_ok("mmap", || unsafe {
        syscall!(
            libc::SYS_mmap,
            0,
            PAGE,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as usize;
    let r = futex_res(
        f1.addr(),
        FUTEX_WAKE_OP | PRIVATE,
        1,
        1,
        p,
        futex_op(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0),
    );
    unsafe { syscall!(libc::SYS_munmap, p, PAGE) };
    expect_futex_errno("FUTEX_WAKE_OP on a read-only second word", r, libc::EFAULT)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Private vs shared, across processes

fn private_and_shared_in_process() -> CheckResult {
    let w = Word::new(0);
    for (wait, wake_op) in [
        (FUTEX_WAIT, FUTEX_WAKE),
        (FUTEX_WAIT | PRIVATE, FUTEX_WAKE | PRIVATE),
    ] {
        let t = spawn_waiter(w.addr(), wait, 0, Timeout::Rel(SAFETY), 0);
        wait_asleep(&[&t])?;
        ensure_eq!(
            wake(w.addr(), wake_op, 1)?,
            1,
            "wake (op {wake_op:#x}) of a waiter (op {wait:#x})"
        );
        join_all_zero(vec![t], "woken waiter")?;
    }
    Ok(())
}

static SHM_SEQ: AtomicU32 = AtomicU32::new(0);

/// A /dev/shm file of `len` zero bytes; unlinked when dropped.
struct ShmFile {
    path: CString,
    fd: c_int,
}

impl ShmFile {
    fn new(len: usize) -> Result<ShmFile, String> {
        let path = format!(
            "/dev/shm/axle-futex-{}-{}",
            std::process::id(),
            SHM_SEQ.fetch_add(1, SeqCst)
        );
        let cpath = CString::new(path.clone()).unwrap();
        let fd = sys_ok(&format!("open({path})"), || unsafe {
            syscall!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                cpath.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o600
            )
        })? as c_int;
        let f = ShmFile { path: cpath, fd };
        sys_ok("ftruncate", || unsafe {
            syscall!(libc::SYS_ftruncate, fd, len)
        })?;
        Ok(f)
    }
    fn map(&self, len: usize) -> Result<usize, String> {
        Ok(sys_ok("mmap(/dev/shm file)", || unsafe {
            syscall!(
                libc::SYS_mmap,
                0,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.fd,
                0
            )
        })? as usize)
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        unsafe {
            libc::close(self.fd);
            libc::unlink(self.path.as_ptr());
        }
    }
}

struct Unmap(usize, usize);

impl Drop for Unmap {
    fn drop(&mut self) {
        unsafe { syscall!(libc::SYS_munmap, self.0, self.1) };
    }
}

fn shared_two_mappings_in_process() -> CheckResult {
    let f = ShmFile::new(PAGE)?;
    let a = f.map(PAGE)?;
    let _ua = Unmap(a, PAGE);
    let b = f.map(PAGE)?;
    let _ub = Unmap(b, PAGE);
    ensure!(a != b, "two mappings at one address");
    let off = 64;
    // Waits through one mapping are woken through the other (shared futexes are
    // keyed by the page, not the address); both directions.
    for (wait_at, wake_at) in [(a, b), (b, a)] {
        let mut t = spawn_waiter(wait_at + off, FUTEX_WAIT, 0, Timeout::Rel(SAFETY), 0);
        t.rescue.push(wake_at + off);
        wait_asleep(&[&t])?;
        ensure_eq!(
            wake(wake_at + off, FUTEX_WAKE, INT_MAX)?,
            1,
            "FUTEX_WAKE through the other mapping"
        );
        join_all_zero(vec![t], "waiter on the first mapping")?;
    }
    // A different offset in the same page is a different futex.
    let mut t = spawn_waiter(a + off, FUTEX_WAIT, 0, Timeout::Rel(SAFETY), 0);
    t.rescue.push(b + off);
    wait_asleep(&[&t])?;
    ensure_eq!(
        wake(b + off + 4, FUTEX_WAKE, INT_MAX)?,
        0,
        "FUTEX_WAKE of the neighbouring word"
    );
    ensure_eq!(
        wake(b + off, FUTEX_WAKE, INT_MAX)?,
        1,
        "FUTEX_WAKE through the other mapping"
    );
    join_all_zero(vec![t], "waiter")?;
    Ok(())
}

fn wait_child(pid: c_int) -> Result<c_int, String> {
    let mut st: c_int = 0;
    loop {
        let r = unsafe { syscall!(libc::SYS_wait4, pid, &raw mut st, 0, 0) };
        if r == pid as c_long {
            return Ok(st);
        }
        if r == -1 && errno() == libc::EINTR {
            continue;
        }
        return Err(format!("wait4({pid}) returned {r}, errno {}", errno()));
    }
}

fn describe(st: c_int) -> String {
    if libc::WIFEXITED(st) {
        format!("exited with {}", libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else {
        format!("wait status {st:#x}")
    }
}

/// Wakes `addr` (shared) until one waiter was woken; returns how long that took.
fn wake_until_one(addr: usize, limit: Duration) -> Result<Duration, String> {
    let t0 = Instant::now();
    loop {
        let n = wake(addr, FUTEX_WAKE, 1)?;
        if n == 1 {
            return Ok(t0.elapsed());
        }
        ensure_eq!(n, 0, "FUTEX_WAKE(1) result");
        ensure!(
            t0.elapsed() < limit,
            "no waiter to wake at {addr:#x} after {limit:?}"
        );
        sleep_ms(2);
    }
}

/// Child: waits (shared futex, value 0) on `addr`, exits 0 iff woken (futex returned 0).
fn child_wait(addr: usize) -> i32 {
    let ts = ts_of(SAFETY.as_nanos() as i128);
    match futex_res(addr, FUTEX_WAIT, 0, ts_ptr(&ts), 0, 0) {
        Ok(0) => 0,
        Ok(_) => 1,
        Err(libc::ETIMEDOUT) => 2,
        Err(libc::EAGAIN) => 3,
        Err(_) => 4,
    }
}

const CHILD_CODES: &str = "1: futex returned non-zero, 2: ETIMEDOUT (never woken), 3: EAGAIN, 4: other error, 10: mmap failed";

fn shared_across_processes_shm() -> CheckResult {
    let f = ShmFile::new(PAGE)?;
    let a = f.map(PAGE)?;
    let _ua = Unmap(a, PAGE);
    let fd = f.fd;
    // Parent wakes a waiting child, then the child wakes the waiting parent; each
    // process uses its own mapping, at different addresses.
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = unsafe {
            let q = syscall!(
                libc::SYS_mmap,
                0,
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0
            );
            if q == -1 || q as usize == a {
                libc::_exit(10);
            }
            let q = q as usize;
            syscall!(libc::SYS_munmap, a, PAGE);
            // Tell the parent our address (not needed to wake, only to report).
            (*((q + 128) as *const AtomicUsize)).store(q, SeqCst);
            let c = child_wait(q + 16);
            if c != 0 {
                libc::_exit(c);
            }
            // Now the parent waits on the word at +32: wake it through our mapping.
            let t0 = Instant::now();
            loop {
                match futex_res(q + 32, FUTEX_WAKE, 1, 0, 0, 0) {
                    Ok(1) => break,
                    Ok(0) if t0.elapsed() < Duration::from_secs(20) => sleep_ms(2),
                    _ => libc::_exit(20),
                }
            }
            0
        };
        unsafe { libc::_exit(code) };
    }
    let woke = wake_until_one(a + 16, Duration::from_secs(20));
    let parent = if woke.is_ok() { child_wait(a + 32) } else { -1 };
    let st = wait_child(pid)?;
    woke?;
    ensure!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "child {} ({CHILD_CODES}, 20: could not wake the parent)",
        describe(st)
    );
    ensure_eq!(
        parent,
        0,
        "parent's wait, woken by the child ({CHILD_CODES})"
    );
    let q = unsafe { (*((a + 128) as *const AtomicUsize)).load(SeqCst) };
    ensure!(
        q != 0 && q != a,
        "child's mapping at {q:#x}, parent's at {a:#x}"
    );
    Ok(())
}

fn shared_across_processes_anon() -> CheckResult {
    let a = sys_ok("mmap(MAP_SHARED|MAP_ANONYMOUS)", || unsafe {
        syscall!(
            libc::SYS_mmap,
            0,
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as usize;
    let _ua = Unmap(a, PAGE);
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork failed");
    if pid == 0 {
        let c = child_wait(a + 8);
        unsafe { libc::_exit(c) };
    }
    let woke = wake_until_one(a + 8, Duration::from_secs(20));
    let st = wait_child(pid)?;
    woke?;
    ensure!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "child {} ({CHILD_CODES})",
        describe(st)
    );
    Ok(())
}

#[repr(C)]
struct PingPong {
    mutex: libc::pthread_mutex_t,
    cond: libc::pthread_cond_t,
    turn: u32,
    moves: u32,
}

/// Plays `rounds` turns as player `me` (0 or 1); returns an error text or None.
unsafe fn play(pp: *mut PingPong, me: u32, rounds: u32) -> Option<String> {
    let deadline_ns = clock_ns(libc::CLOCK_REALTIME) + 50 * NS;
    let dl = ts_of(deadline_ns);
    for round in 0..rounds {
        let r = libc::pthread_mutex_lock(&raw mut (*pp).mutex);
        if r != 0 {
            return Some(format!("player {me}: pthread_mutex_lock = {r}"));
        }
        while std::ptr::read_volatile(&raw const (*pp).turn) != me {
            let r = libc::pthread_cond_timedwait(&raw mut (*pp).cond, &raw mut (*pp).mutex, &dl);
            if r != 0 {
                let moves = std::ptr::read_volatile(&raw const (*pp).moves);
                libc::pthread_mutex_unlock(&raw mut (*pp).mutex);
                return Some(format!(
                    "player {me}: pthread_cond_timedwait = {r} in round {round} (moves {moves})"
                ));
            }
        }
        let moves = std::ptr::read_volatile(&raw const (*pp).moves);
        if moves != 2 * round + me {
            libc::pthread_mutex_unlock(&raw mut (*pp).mutex);
            return Some(format!("player {me}: moves = {moves} in round {round}"));
        }
        std::ptr::write_volatile(&raw mut (*pp).moves, moves + 1);
        std::ptr::write_volatile(&raw mut (*pp).turn, 1 - me);
        libc::pthread_cond_signal(&raw mut (*pp).cond);
        libc::pthread_mutex_unlock(&raw mut (*pp).mutex);
    }
    None
}

fn pshared_mutex_condvar_pingpong() -> CheckResult {
    const ROUNDS: u32 = 1000;
    let f = ShmFile::new(PAGE)?;
    let a = f.map(PAGE)?;
    let _ua = Unmap(a, PAGE);
    let pp = a as *mut PingPong;
    unsafe {
        let mut ma: libc::pthread_mutexattr_t = std::mem::zeroed();
        let mut ca: libc::pthread_condattr_t = std::mem::zeroed();
        ensure_eq!(
            libc::pthread_mutexattr_init(&mut ma),
            0,
            "pthread_mutexattr_init"
        );
        ensure_eq!(
            libc::pthread_mutexattr_setpshared(&mut ma, libc::PTHREAD_PROCESS_SHARED),
            0,
            "pthread_mutexattr_setpshared"
        );
        ensure_eq!(
            libc::pthread_mutex_init(&raw mut (*pp).mutex, &ma),
            0,
            "pthread_mutex_init"
        );
        ensure_eq!(
            libc::pthread_condattr_init(&mut ca),
            0,
            "pthread_condattr_init"
        );
        ensure_eq!(
            libc::pthread_condattr_setpshared(&mut ca, libc::PTHREAD_PROCESS_SHARED),
            0,
            "pthread_condattr_setpshared"
        );
        ensure_eq!(
            libc::pthread_cond_init(&raw mut (*pp).cond, &ca),
            0,
            "pthread_cond_init"
        );
        libc::pthread_mutexattr_destroy(&mut ma);
        libc::pthread_condattr_destroy(&mut ca);
    }
    let fd = f.fd;
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork failed");
    if pid == 0 {
        unsafe {
            // Our own mapping of the file, at another address; drop the inherited one.
            let q = syscall!(
                libc::SYS_mmap,
                0,
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0
            );
            if q == -1 || q as usize == a {
                libc::_exit(10);
            }
            syscall!(libc::SYS_munmap, a, PAGE);
            let code = match play(q as *mut PingPong, 1, ROUNDS) {
                None => 0,
                Some(msg) => {
                    let line = format!("futex: pingpong child: {msg}\n");
                    syscall!(libc::SYS_write, 2, line.as_ptr(), line.len());
                    11
                }
            };
            libc::_exit(code);
        }
    }
    let res = unsafe { play(pp, 0, ROUNDS) };
    let st = wait_child(pid)?;
    ensure!(res.is_none(), "{} (child {})", res.unwrap(), describe(st));
    ensure!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "child {} (10: mmap, 11: see its message)",
        describe(st)
    );
    ensure_eq!(
        unsafe { std::ptr::read_volatile(&raw const (*pp).moves) },
        2 * ROUNDS,
        "moves after the ping-pong"
    );
    unsafe {
        libc::pthread_cond_destroy(&raw mut (*pp).cond);
        libc::pthread_mutex_destroy(&raw mut (*pp).mutex);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Signals

static HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_sig: c_int) {
    HANDLED.fetch_add(1, SeqCst);
}

/// SIGUSR1 handled by [`on_usr1`] with `flags`; the old action is restored on drop.
struct Usr1Handler(libc::sigaction);

impl Usr1Handler {
    fn install(flags: c_int) -> Result<Usr1Handler, String> {
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_usr1 as extern "C" fn(c_int) as usize;
        sa.sa_flags = flags;
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        ensure_eq!(
            unsafe { libc::sigaction(libc::SIGUSR1, &sa, &mut old) },
            0,
            "sigaction(SIGUSR1)"
        );
        HANDLED.store(0, SeqCst);
        Ok(Usr1Handler(old))
    }
}

impl Drop for Usr1Handler {
    fn drop(&mut self) {
        unsafe { libc::sigaction(libc::SIGUSR1, &self.0, std::ptr::null_mut()) };
    }
}

fn signal_thread(w: &Waiter) -> CheckResult {
    let pid = std::process::id();
    let tid = w.tid.load(SeqCst);
    sys_ok("tgkill(SIGUSR1)", || unsafe {
        syscall!(libc::SYS_tgkill, pid, tid, libc::SIGUSR1)
    })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while HANDLED.load(SeqCst) == 0 {
        ensure!(
            Instant::now() < deadline,
            "SIGUSR1 handler did not run within 10 s"
        );
        sleep_ms(1);
    }
    Ok(())
}

fn signal_no_restart_eintr() -> CheckResult {
    let _h = Usr1Handler::install(0)?;
    let word = Word::new(0);
    let w = spawn_waiter(word.addr(), FUTEX_WAIT | PRIVATE, 0, Timeout::None, 0);
    wait_asleep(&[&w])?;
    signal_thread(&w)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !w.done() && Instant::now() < deadline {
        sleep_ms(1);
    }
    let interrupted = w.done();
    let (r, e) = w.rescue()?;
    ensure!(interrupted, "FUTEX_WAIT still waiting 5 s after the handled signal (then woken: returned {r} errno {e})");
    ensure!(r == -1 && e == libc::EINTR, "FUTEX_WAIT interrupted by a handler without SA_RESTART: returned {r}, errno {e}, expected EINTR");
    Ok(())
}

fn signal_sa_restart_continues() -> CheckResult {
    let _h = Usr1Handler::install(libc::SA_RESTART)?;
    let word = Word::new(0);
    let w = spawn_waiter(word.addr(), FUTEX_WAIT | PRIVATE, 0, Timeout::None, 0);
    wait_asleep(&[&w])?;
    signal_thread(&w)?;
    sleep_ms(200);
    ensure!(
        !w.done(),
        "FUTEX_WAIT returned after an SA_RESTART handler instead of going on waiting"
    );
    // It is waiting again: a wake finds it and it returns 0.
    wake_until_one_private(word.addr(), Duration::from_secs(10))?;
    let (r, e) = w.join()?;
    ensure!(
        r == 0,
        "restarted FUTEX_WAIT returned {r}, errno {e}, expected 0 after a wake"
    );
    ensure_eq!(HANDLED.load(SeqCst), 1, "handler runs");
    Ok(())
}

fn wake_until_one_private(addr: usize, limit: Duration) -> CheckResult {
    let t0 = Instant::now();
    loop {
        let n = wake(addr, FUTEX_WAKE | PRIVATE, 1)?;
        if n == 1 {
            return Ok(());
        }
        ensure!(
            t0.elapsed() < limit,
            "FUTEX_WAKE found no waiter for {limit:?}"
        );
        sleep_ms(2);
    }
}

fn signal_timed_wait_eintr() -> CheckResult {
    // A wait with a timeout is not restarted after a handler, even with SA_RESTART.
    let _h = Usr1Handler::install(libc::SA_RESTART)?;
    let word = Word::new(0);
    for (op, timeout, bitset) in [
        (FUTEX_WAIT | PRIVATE, Timeout::Rel(SAFETY), 0),
        (FUTEX_WAIT_BITSET | PRIVATE, Timeout::AbsMono(SAFETY), ALL),
    ] {
        HANDLED.store(0, SeqCst);
        let w = spawn_waiter(word.addr(), op, 0, timeout, bitset);
        wait_asleep(&[&w])?;
        signal_thread(&w)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !w.done() && Instant::now() < deadline {
            sleep_ms(1);
        }
        let interrupted = w.done();
        let (r, e) = w.rescue()?;
        ensure!(interrupted, "timed wait (op {op:#x}) still waiting 5 s after the handled signal (then returned {r} errno {e})");
        ensure!(r == -1 && e == libc::EINTR, "timed wait (op {op:#x}) interrupted by an SA_RESTART handler: returned {r}, errno {e}, expected EINTR");
    }
    Ok(())
}
