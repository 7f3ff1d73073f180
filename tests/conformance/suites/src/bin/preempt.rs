//! `preempt` suite: threads sharing one CPU, so the scheduler has to preempt.
//!
//! Every check pins the main thread to a single CPU with `sched_setaffinity` (CPU 0,
//! or the first CPU in the original mask), and every thread it starts pins itself
//! to that CPU too (and verifies it with `sched_getaffinity`); the main thread's
//! original mask is restored when the check ends. On that one CPU:
//!
//! - `cpu_bound_threads_share_one_cpu`: 2 threads spin incrementing their own
//!   counter until a stop flag is set; the main thread sleeps 300 ms, sets the
//!   flag and joins them. Both counters must have advanced. Without preemption the
//!   main thread (or the second spinner) never runs again and the run times out.
//! - `sleeping_thread_wakes_while_others_spin`: 2 spinners, plus a thread doing 20
//!   `nanosleep`s of 5 ms. Every sleep must last at least 5 ms, the 20 must finish
//!   within 2 s in total (a generous bound: these machines are noisy, so timing is
//!   not judged more finely; the largest overshoot is shown on failure) and both
//!   spinners must have run meanwhile.
//! - `yield_alternates`: 2 threads hand a turn variable back and forth 1000 times
//!   each, waiting for their turn with `sched_yield`; the whole exchange must end
//!   within 10 s.
//!
//! Affinity and sleep syscalls are issued raw with `checks::syscall!`.

use checks::{ensure, ensure_eq, join, sys_ok, syscall, CheckResult, Suite};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPIN_SLEEP: Duration = Duration::from_millis(300);
const SLEEPS: usize = 20;
const SLEEP: Duration = Duration::from_millis(5);
const SLEEPS_BOUND: Duration = Duration::from_secs(2);
const HANDOFFS: u32 = 1000;
const HANDOFF_BOUND: Duration = Duration::from_secs(10);

fn main() {
    let mut s = Suite::new("preempt");
    s.check(
        "cpu_bound_threads_share_one_cpu",
        cpu_bound_threads_share_one_cpu,
    );
    s.check(
        "sleeping_thread_wakes_while_others_spin",
        sleeping_thread_wakes_while_others_spin,
    );
    s.check("yield_alternates", yield_alternates);
    s.finish();
}

// ---------------------------------------------------------------------------
// Affinity

const SET_SIZE: usize = std::mem::size_of::<libc::cpu_set_t>();

fn get_affinity() -> Result<libc::cpu_set_t, String> {
    // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    sys_ok("sched_getaffinity(0)", || unsafe {
        syscall!(libc::SYS_sched_getaffinity, 0, SET_SIZE, &raw mut set)
    })?;
    Ok(set)
}

fn set_affinity(set: &libc::cpu_set_t, what: &str) -> Result<(), String> {
    let r = sys_ok(&format!("sched_setaffinity(0, {what})"), || unsafe {
        syscall!(
            libc::SYS_sched_setaffinity,
            0,
            SET_SIZE,
            set as *const libc::cpu_set_t
        )
    })?;
    ensure_eq!(r, 0, "sched_setaffinity(0, {what})");
    Ok(())
}

fn cpus_of(set: &libc::cpu_set_t) -> Vec<usize> {
    (0..SET_SIZE * 8)
        .filter(|&c| {
            // SAFETY: c < the set's size in bits; only reads the set.
            unsafe { libc::CPU_ISSET(c, set) }
        })
        .collect()
}

/// Pins the calling thread to `cpu` and checks that the kernel agrees.
fn pin_self(cpu: usize) -> Result<(), String> {
    // SAFETY: as in get_affinity.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET checks cpu against the set's size and only writes the set.
    unsafe { libc::CPU_SET(cpu, &mut one) };
    set_affinity(&one, &format!("{{CPU {cpu}}}"))?;
    let now = cpus_of(&get_affinity()?);
    ensure_eq!(
        now,
        vec![cpu],
        "sched_getaffinity after pinning to CPU {cpu}"
    );
    Ok(())
}

/// The calling (main) thread pinned to one CPU; the old mask comes back on drop.
struct Pinned {
    cpu: usize,
    saved: libc::cpu_set_t,
}

impl Pinned {
    fn one_cpu() -> Result<Pinned, String> {
        let saved = get_affinity()?;
        let cpus = cpus_of(&saved);
        let cpu = match cpus.first() {
            Some(&first) => first, // CPU 0 if it is allowed, else the first allowed one
            None => return Err("sched_getaffinity returned an empty mask".into()),
        };
        pin_self(cpu)?;
        Ok(Pinned { cpu, saved })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = set_affinity(&self.saved, "original mask");
    }
}

// ---------------------------------------------------------------------------
// Helpers

fn nanosleep(d: Duration) -> Result<(), String> {
    let req = libc::timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    };
    let r = sys_ok(&format!("nanosleep({d:?})"), || unsafe {
        syscall!(
            libc::SYS_nanosleep,
            &raw const req,
            std::ptr::null_mut::<libc::timespec>(),
        )
    })?;
    ensure_eq!(r, 0, "nanosleep({d:?})");
    Ok(())
}

/// Sets the flag when dropped, so spinning threads stop even if a check bails out.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Starts a thread that pins itself to `cpu` and spins on `counter` until `stop`.
fn spinner(
    cpu: usize,
    counter: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        pin_self(cpu)?;
        while !stop.load(Ordering::Relaxed) {
            counter.fetch_add(1, Ordering::Relaxed);
            std::hint::spin_loop();
        }
        Ok(())
    })
}

fn counts(counters: &[Arc<AtomicU64>]) -> Vec<u64> {
    counters.iter().map(|c| c.load(Ordering::SeqCst)).collect()
}

// ---------------------------------------------------------------------------
// Checks

fn cpu_bound_threads_share_one_cpu() -> CheckResult {
    let pin = Pinned::one_cpu()?;
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<AtomicU64>> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let stopper = StopOnDrop(stop.clone());
    let spinners: Vec<_> = counters
        .iter()
        .map(|c| spinner(pin.cpu, c.clone(), stop.clone()))
        .collect();
    let slept = nanosleep(SPIN_SLEEP);
    drop(stopper);
    for (i, h) in spinners.into_iter().enumerate() {
        join(h)?.map_err(|e| format!("spinner {i}: {e}"))?;
    }
    slept?;
    let c = counts(&counters);
    ensure!(
        c.iter().all(|&n| n > 0),
        "spin counters after {SPIN_SLEEP:?} on CPU {}: {c:?} (a spinner never ran)",
        pin.cpu
    );
    Ok(())
}

fn sleeping_thread_wakes_while_others_spin() -> CheckResult {
    let pin = Pinned::one_cpu()?;
    let cpu = pin.cpu;
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<AtomicU64>> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let stopper = StopOnDrop(stop.clone());
    let spinners: Vec<_> = counters
        .iter()
        .map(|c| spinner(cpu, c.clone(), stop.clone()))
        .collect();
    // The sleeper: SLEEPS sleeps of SLEEP each, timing every one.
    let sleeper = std::thread::spawn(move || -> Result<(Vec<Duration>, Duration), String> {
        pin_self(cpu)?;
        let start = Instant::now();
        let mut took = Vec::with_capacity(SLEEPS);
        for _ in 0..SLEEPS {
            let t0 = Instant::now();
            nanosleep(SLEEP)?;
            took.push(t0.elapsed());
        }
        Ok((took, start.elapsed()))
    });
    let slept = join(sleeper);
    let spun = counts(&counters);
    drop(stopper);
    for (i, h) in spinners.into_iter().enumerate() {
        join(h)?.map_err(|e| format!("spinner {i}: {e}"))?;
    }
    let (took, total) = slept??;
    ensure_eq!(took.len(), SLEEPS, "completed sleeps");
    let max_over = took
        .iter()
        .map(|t| t.saturating_sub(SLEEP))
        .max()
        .unwrap_or_default();
    if let Some((i, short)) = took.iter().enumerate().find(|(_, t)| **t < SLEEP) {
        return Err(format!("sleep {i} of {SLEEP:?} returned after {short:?}"));
    }
    ensure!(
        total < SLEEPS_BOUND,
        "{SLEEPS} sleeps of {SLEEP:?} took {total:?} in total next to 2 spinners on CPU {cpu} \
         (bound {SLEEPS_BOUND:?}; max overshoot {max_over:?})"
    );
    ensure!(
        spun.iter().all(|&n| n > 0),
        "spin counters while the sleeper ran ({total:?}, max overshoot {max_over:?}): {spun:?} \
         (a spinner never ran)"
    );
    Ok(())
}

fn yield_alternates() -> CheckResult {
    let pin = Pinned::one_cpu()?;
    let cpu = pin.cpu;
    let turn = Arc::new(AtomicU32::new(0));
    let abort = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + HANDOFF_BOUND;
    let players: Vec<_> = (0..2u32)
        .map(|me| {
            let turn = turn.clone();
            let abort = abort.clone();
            std::thread::spawn(move || -> Result<(u32, u64), String> {
                let play = || -> Result<(u32, u64), String> {
                pin_self(cpu)?;
                let mut yields = 0u64;
                for round in 0..HANDOFFS {
                    while turn.load(Ordering::Acquire) != me {
                        if abort.load(Ordering::Relaxed) {
                            return Err(format!("player {me}: the other player gave up (round {round})"));
                        }
                        if Instant::now() > deadline {
                            return Err(format!(
                                "player {me}: still waiting for round {round} after {HANDOFF_BOUND:?}"
                            ));
                        }
                        sys_ok("sched_yield", || unsafe { syscall!(libc::SYS_sched_yield) })?;
                        yields += 1;
                    }
                    turn.store(1 - me, Ordering::Release);
                }
                Ok((HANDOFFS, yields))
                };
                let result = play();
                if result.is_err() {
                    // Let the other player stop waiting for a turn that never comes.
                    abort.store(true, Ordering::SeqCst);
                }
                result
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in players {
        results.push(join(h)?);
    }
    let elapsed = start.elapsed();
    for r in &results {
        if let Err(e) = r {
            return Err(e.clone());
        }
    }
    ensure_eq!(
        turn.load(Ordering::SeqCst),
        0,
        "turn after {HANDOFFS} rounds each"
    );
    ensure!(
        elapsed < HANDOFF_BOUND,
        "{HANDOFFS} handoffs each took {elapsed:?} (bound {HANDOFF_BOUND:?})"
    );
    Ok(())
}
