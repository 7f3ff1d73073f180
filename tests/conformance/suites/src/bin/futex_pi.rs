//! `futex_pi` suite: priority-inheritance futexes, as root (the host kernel is the reference).
//!
//! - `trylock_unlock`: TRYLOCK_PI on a free word stores our tid; UNLOCK_PI frees it;
//! - `errors`: LOCK_PI on a lock we hold is EDEADLK; UNLOCK_PI of a lock we do not hold is
//!   EPERM; TRYLOCK_PI of a lock another thread holds is EAGAIN; misaligned EINVAL;
//! - `handover`: a thread blocked in LOCK_PI sets FUTEX_WAITERS and, when the owner calls
//!   UNLOCK_PI, returns owning the lock (the word holds its tid);
//! - `timeouts`: LOCK_PI (absolute CLOCK_REALTIME) and LOCK_PI2 (absolute CLOCK_MONOTONIC)
//!   on a held lock end with ETIMEDOUT after their deadline;
//! - `priority_inheritance`: on one CPU, a SCHED_OTHER owner, a FIFO 20 thread that spins,
//!   and a FIFO 50 thread that blocks on the lock: the owner inherits priority 50, runs
//!   ahead of the spinner and hands the lock over while the spinner still spins (without
//!   inheritance the owner could not run until the spinner stopped);
//! - `owner_death`: the owner exits without unlocking; the waiter gets the lock with
//!   FUTEX_OWNER_DIED set;
//! - `requeue_pi`: WAIT_REQUEUE_PI on a condition word, CMP_REQUEUE_PI to a free PI lock:
//!   the waiter returns owning it; the EINVAL cases (nr_wake != 1, same address).

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, syscall, CheckResult, Suite};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOCK_PI: i32 = 6;
const UNLOCK_PI: i32 = 7;
const TRYLOCK_PI: i32 = 8;
const WAIT_REQUEUE_PI: i32 = 11;
const CMP_REQUEUE_PI: i32 = 12;
const LOCK_PI2: i32 = 13;
const PRIVATE: i32 = 128;
const WAITERS: u32 = 0x8000_0000;
const OWNER_DIED: u32 = 0x4000_0000;
const TID_MASK: u32 = 0x3fff_ffff;

fn main() {
    let mut s = Suite::new("futex_pi");
    s.check("trylock_unlock", trylock_unlock);
    s.check("errors", errors);
    s.check("handover", handover);
    s.check("timeouts", timeouts);
    s.check("priority_inheritance", priority_inheritance);
    s.check("owner_death", owner_death);
    s.check("requeue_pi", requeue_pi);
    s.finish();
}

fn gettid() -> u32 {
    unsafe { syscall!(libc::SYS_gettid) as u32 }
}

fn futex(word: &AtomicU32, op: i32, val: u32, ts: *const libc::timespec, uaddr2: *const AtomicU32, val3: u32) -> libc::c_long {
    // SAFETY: the pointers outlive the call.
    unsafe { syscall!(libc::SYS_futex, word.as_ptr(), op, val, ts, uaddr2, val3) }
}

fn lock(w: &AtomicU32) -> libc::c_long {
    futex(w, LOCK_PI | PRIVATE, 0, std::ptr::null(), std::ptr::null(), 0)
}

fn unlock(w: &AtomicU32) -> libc::c_long {
    futex(w, UNLOCK_PI | PRIVATE, 0, std::ptr::null(), std::ptr::null(), 0)
}

fn now(clock: libc::clockid_t) -> libc::timespec {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts
}

fn plus_ms(mut ts: libc::timespec, ms: i64) -> libc::timespec {
    ts.tv_nsec += ms * 1_000_000;
    ts.tv_sec += ts.tv_nsec / 1_000_000_000;
    ts.tv_nsec %= 1_000_000_000;
    ts
}

fn pin0() -> CheckResult {
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(0, &mut set) };
    sys_ok("sched_setaffinity(0)", || unsafe { syscall!(libc::SYS_sched_setaffinity, 0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set) })?;
    Ok(())
}

fn set_fifo(prio: i32) -> CheckResult {
    let p = [prio];
    let pol = if prio == 0 { 0 } else { libc::SCHED_FIFO };
    sys_ok("sched_setscheduler", || unsafe { syscall!(libc::SYS_sched_setscheduler, 0, pol, p.as_ptr()) })?;
    Ok(())
}

/// Holds `w` from another thread (taken in user space, as glibc does) until `release` is set.
fn holder(w: Arc<AtomicU32>, held: Arc<AtomicBool>, release: Arc<AtomicBool>) -> std::thread::JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        w.compare_exchange(0, gettid(), Ordering::SeqCst, Ordering::SeqCst).map_err(|v| format!("lock word busy: {v:#x}"))?;
        held.store(true, Ordering::SeqCst);
        while !release.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        if w.compare_exchange(gettid(), 0, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            sys_ok("holder UNLOCK_PI", || unlock(&w))?;
        }
        Ok(())
    })
}

fn wait_flag(f: &AtomicBool) {
    while !f.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn trylock_unlock() -> CheckResult {
    let w = AtomicU32::new(0);
    sys_ok("TRYLOCK_PI", || futex(&w, TRYLOCK_PI | PRIVATE, 0, std::ptr::null(), std::ptr::null(), 0))?;
    ensure_eq!(w.load(Ordering::SeqCst) & TID_MASK, gettid(), "owner after TRYLOCK_PI");
    sys_ok("UNLOCK_PI", || unlock(&w))?;
    ensure_eq!(w.load(Ordering::SeqCst), 0, "word after UNLOCK_PI");
    sys_ok("LOCK_PI (free)", || lock(&w))?;
    ensure_eq!(w.load(Ordering::SeqCst), gettid());
    sys_ok("UNLOCK_PI", || unlock(&w))?;
    Ok(())
}

fn errors() -> CheckResult {
    let w = AtomicU32::new(gettid());
    expect_sys_errno("LOCK_PI on our own lock", || lock(&w), libc::EDEADLK)?;
    let other = AtomicU32::new(0);
    expect_sys_errno("UNLOCK_PI of a free lock", || unlock(&other), libc::EPERM)?;
    let (held, release) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let shared = Arc::new(AtomicU32::new(0));
    let h = holder(shared.clone(), held.clone(), release.clone());
    wait_flag(&held);
    let r1 = expect_sys_errno("TRYLOCK_PI of a held lock", || futex(&shared, TRYLOCK_PI | PRIVATE, 0, std::ptr::null(), std::ptr::null(), 0), libc::EAGAIN);
    let r2 = expect_sys_errno("UNLOCK_PI of another's lock", || unlock(&shared), libc::EPERM);
    release.store(true, Ordering::SeqCst);
    join(h)??;
    r1?;
    r2?;
    let buf = [0u32; 2];
    let mis = unsafe { (buf.as_ptr() as *const u8).add(1) } as *const AtomicU32;
    expect_sys_errno("misaligned", || futex(unsafe { &*mis }, LOCK_PI | PRIVATE, 0, std::ptr::null(), std::ptr::null(), 0), libc::EINVAL)
}

fn handover() -> CheckResult {
    let w = Arc::new(AtomicU32::new(0));
    let (held, release) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let h = holder(w.clone(), held.clone(), release.clone());
    wait_flag(&held);
    let (w2, got) = (w.clone(), Arc::new(AtomicU32::new(0)));
    let got2 = got.clone();
    let waiter = std::thread::spawn(move || -> CheckResult {
        sys_ok("LOCK_PI (contended)", || lock(&w2))?;
        got2.store(w2.load(Ordering::SeqCst), Ordering::SeqCst);
        ensure_eq!(w2.load(Ordering::SeqCst) & TID_MASK, gettid(), "the waiter owns the lock");
        sys_ok("UNLOCK_PI", || unlock(&w2))?;
        Ok(())
    });
    let t = Instant::now();
    while w.load(Ordering::SeqCst) & WAITERS == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let bit = w.load(Ordering::SeqCst) & WAITERS != 0;
    release.store(true, Ordering::SeqCst);
    join(h)??;
    join(waiter)??;
    ensure!(bit, "FUTEX_WAITERS never appeared while a thread waited");
    ensure_eq!(w.load(Ordering::SeqCst), 0, "free at the end");
    Ok(())
}

fn timeouts() -> CheckResult {
    let w = Arc::new(AtomicU32::new(0));
    let (held, release) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let h = holder(w.clone(), held.clone(), release.clone());
    wait_flag(&held);
    let r = (|| -> CheckResult {
        let d = plus_ms(now(libc::CLOCK_REALTIME), 50);
        let t = Instant::now();
        expect_sys_errno("LOCK_PI with a realtime deadline", || futex(&w, LOCK_PI | PRIVATE, 0, &d, std::ptr::null(), 0), libc::ETIMEDOUT)?;
        ensure!(t.elapsed() >= Duration::from_millis(45), "LOCK_PI timed out early: {:?}", t.elapsed());
        let d = plus_ms(now(libc::CLOCK_MONOTONIC), 50);
        let t = Instant::now();
        expect_sys_errno("LOCK_PI2 with a monotonic deadline", || futex(&w, LOCK_PI2 | PRIVATE, 0, &d, std::ptr::null(), 0), libc::ETIMEDOUT)?;
        ensure!(t.elapsed() >= Duration::from_millis(45), "LOCK_PI2 timed out early: {:?}", t.elapsed());
        Ok(())
    })();
    release.store(true, Ordering::SeqCst);
    join(h)??;
    r
}

fn priority_inheritance() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        pin0()?;
        let lockw = Arc::new(AtomicU32::new(0));
        let owner_has = Arc::new(AtomicBool::new(false));
        let waiting = Arc::new(AtomicBool::new(false));
        let acquired = Arc::new(AtomicBool::new(false));
        let spinner_done = Arc::new(AtomicBool::new(false));
        let seen_while_spinning = Arc::new(AtomicBool::new(false));
        // Owner: SCHED_OTHER, takes the lock, works until a waiter shows up, then a bit more.
        let (l, oh, wt) = (lockw.clone(), owner_has.clone(), waiting.clone());
        let owner = std::thread::spawn(move || -> CheckResult {
            l.compare_exchange(0, gettid(), Ordering::SeqCst, Ordering::SeqCst).map_err(|_| "lock busy".to_string())?;
            oh.store(true, Ordering::SeqCst);
            while !wt.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(10) {
                std::hint::spin_loop();
            }
            if l.compare_exchange(gettid(), 0, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                sys_ok("owner UNLOCK_PI", || unlock(&l))?;
            }
            Ok(())
        });
        wait_flag(&owner_has);
        let spinning = Arc::new(AtomicBool::new(false));
        // Waiter: FIFO 50; once the spinner runs it blocks on the lock.
        let (l, wt, acq, sp) = (lockw.clone(), waiting.clone(), acquired.clone(), spinning.clone());
        let waiter = std::thread::spawn(move || -> CheckResult {
            set_fifo(50)?;
            while !sp.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            wt.store(true, Ordering::SeqCst);
            sys_ok("waiter LOCK_PI", || lock(&l))?;
            acq.store(true, Ordering::SeqCst);
            sys_ok("waiter UNLOCK_PI", || unlock(&l))?;
            set_fifo(0)
        });
        // Spinner: FIFO 20, spins up to 400 ms and notes whether the waiter got the lock meanwhile.
        let (acq, done, seen, sp) = (acquired.clone(), spinner_done.clone(), seen_while_spinning.clone(), spinning.clone());
        let spinner = std::thread::spawn(move || -> CheckResult {
            set_fifo(20)?;
            sp.store(true, Ordering::SeqCst);
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(400) {
                if acq.load(Ordering::SeqCst) {
                    seen.store(true, Ordering::SeqCst);
                    break;
                }
            }
            done.store(true, Ordering::SeqCst);
            set_fifo(0)
        });
        join(waiter)??;
        join(spinner)??;
        join(owner)??;
        ensure!(seen_while_spinning.load(Ordering::SeqCst), "the FIFO 50 waiter got the lock only after the FIFO 20 spinner stopped: no priority inheritance");
        Ok(())
    });
    join(h)?
}

fn owner_death() -> CheckResult {
    let w = Arc::new(AtomicU32::new(0));
    let held = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let (w1, h1, g1) = (w.clone(), held.clone(), go.clone());
    let owner_tid = Arc::new(AtomicI32::new(0));
    let ot = owner_tid.clone();
    let owner = std::thread::spawn(move || {
        ot.store(gettid() as i32, Ordering::SeqCst);
        let _ = w1.compare_exchange(0, gettid(), Ordering::SeqCst, Ordering::SeqCst);
        h1.store(true, Ordering::SeqCst);
        while !g1.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Ends holding the lock.
    });
    wait_flag(&held);
    let w2 = w.clone();
    let waiter = std::thread::spawn(move || -> Result<u32, String> {
        sys_ok("LOCK_PI", || lock(&w2))?;
        let v = w2.load(Ordering::SeqCst);
        let _ = unlock(&w2);
        Ok(v)
    });
    let t = Instant::now();
    while w.load(Ordering::SeqCst) & WAITERS == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    go.store(true, Ordering::SeqCst);
    owner.join().map_err(|_| "owner panicked".to_string())?;
    let v = join(waiter)??;
    ensure!(v & OWNER_DIED != 0, "word {v:#x} after the owner died: FUTEX_OWNER_DIED not set");
    ensure!(v & TID_MASK != 0 && v & TID_MASK != owner_tid.load(Ordering::SeqCst) as u32, "word {v:#x}: not the waiter's");
    Ok(())
}

fn requeue_pi() -> CheckResult {
    let cond = Arc::new(AtomicU32::new(0));
    let mutex = Arc::new(AtomicU32::new(0));
    let (c2, m2) = (cond.clone(), mutex.clone());
    let waiter = std::thread::spawn(move || -> Result<u32, String> {
        sys_ok("WAIT_REQUEUE_PI", || futex(&c2, WAIT_REQUEUE_PI | PRIVATE, 0, std::ptr::null(), Arc::as_ptr(&m2), 0))?;
        let v = m2.load(Ordering::SeqCst);
        ensure_eq!(v & TID_MASK, gettid(), "the requeued waiter owns the PI lock");
        sys_ok("UNLOCK_PI", || unlock(&m2))?;
        Ok(v)
    });
    // Requeue until the waiter was there to be moved (it may not have blocked yet).
    let t = Instant::now();
    let mut moved = 0;
    while moved == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
        moved = sys_ok("CMP_REQUEUE_PI", || futex(&cond, CMP_REQUEUE_PI | PRIVATE, 1, 0 as *const libc::timespec, Arc::as_ptr(&mutex), 0))?;
    }
    ensure_eq!(moved, 1, "waiters moved");
    join(waiter)??;
    ensure_eq!(mutex.load(Ordering::SeqCst), 0, "free at the end");
    expect_sys_errno("CMP_REQUEUE_PI nr_wake 2", || futex(&cond, CMP_REQUEUE_PI | PRIVATE, 2, 0 as *const libc::timespec, Arc::as_ptr(&mutex), 0), libc::EINVAL)?;
    expect_sys_errno("WAIT_REQUEUE_PI on one address", || futex(&cond, WAIT_REQUEUE_PI | PRIVATE, 0, std::ptr::null(), Arc::as_ptr(&cond), 0), libc::EINVAL)?;
    expect_sys_errno("WAIT_REQUEUE_PI value mismatch", || futex(&cond, WAIT_REQUEUE_PI | PRIVATE, 7, std::ptr::null(), Arc::as_ptr(&mutex), 0), libc::EAGAIN)
}
