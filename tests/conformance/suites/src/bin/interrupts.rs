//! `interrupts` suite: `/proc/interrupts` and, with `--nohz`, Axle's tickless CPUs.
//!
//! Without arguments (host Linux and Axle):
//! - `format`: a header with one `CPU<n>` column per online CPU, and a `LOC:` (local timer
//!   interrupts) row with one count per CPU;
//! - `loc_counts_timer_wakeups`: 200 sleeps of 1 ms on the last CPU raise that CPU's `LOC`
//!   count by at least 150 (each wake-up needs a timer interrupt, tick or one-shot).
//!
//! With `--nohz` (Axle only; a Linux kernel without `nohz_full` ticks at CONFIG_HZ on every
//! busy CPU, so this is not a Linux test):
//! - `no_tick_under_one_rt_thread`: a SCHED_FIFO thread alone on the last CPU, busy for
//!   500 ms without a system call that sleeps, takes at most 2 local timer interrupts there
//!   (Axle has no periodic tick; the only timer that may fire is the real-time throttling
//!   budget, 950 ms per 1 s);
//! - `fair_threads_sharing_a_cpu_tick`: two SCHED_OTHER threads sharing the last CPU for
//!   500 ms do take timer interrupts there (their time slices end), so the check above
//!   does see a CPU's timer interrupts when there are any;
//! - `switches_keep_the_armed_timer`: two SCHED_OTHER threads on the last CPU passing a byte
//!   back and forth over pipes 2000 times switch at least 4000 times there, but write the
//!   CPU's timer (`/proc/axle/timer`) fewer than 400 times: a context switch does not
//!   rewrite a timer already armed at or before the next event (under a hypervisor each
//!   write is an exit).
//!
//! With `--wakelat` (Axle only: `/proc/axle/wakelat`, the real-time wake-up tracer):
//! - `wakelat_traces_rt_wakeups`: once the tracer is on and cleared, 200 sleeps of 1 ms of
//!   a SCHED_FIFO thread on the last CPU add at least 150 timer and switch samples there,
//!   each histogram sums to its samples, and the largest came from that thread;
//! - `wakelat_ignores_fair_threads`: after clearing, the same sleeps of a SCHED_OTHER thread
//!   add no sample; writing anything but 0 or 1 fails with EINVAL.

use checks::{ensure, sys_ok, syscall, CheckResult, Suite};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let nohz = std::env::args().any(|a| a == "--nohz");
    let wakelat = std::env::args().any(|a| a == "--wakelat");
    let mut s = Suite::new("interrupts");
    if wakelat {
        s.check("wakelat_traces_rt_wakeups", wakelat_traces_rt_wakeups);
        s.check("wakelat_ignores_fair_threads", wakelat_ignores_fair_threads);
    } else if nohz {
        s.check("no_tick_under_one_rt_thread", no_tick_under_one_rt_thread);
        s.check("fair_threads_sharing_a_cpu_tick", fair_threads_sharing_a_cpu_tick);
        s.check("switches_keep_the_armed_timer", switches_keep_the_armed_timer);
    } else {
        s.check("format", format);
        s.check("loc_counts_timer_wakeups", loc_counts_timer_wakeups);
    }
    s.finish();
}

fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory arguments.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize
}

/// The CPU numbers of the header and the `LOC:` counts, per column.
fn read_loc() -> Result<(Vec<usize>, Vec<u64>), String> {
    let text = std::fs::read_to_string("/proc/interrupts").map_err(|e| format!("/proc/interrupts: {e}"))?;
    let mut lines = text.lines();
    let header = lines.next().ok_or("/proc/interrupts is empty")?;
    let cpus = header
        .split_whitespace()
        .map(|w| w.strip_prefix("CPU").and_then(|n| n.parse().ok()).ok_or_else(|| format!("bad header word `{w}`")))
        .collect::<Result<Vec<usize>, String>>()?;
    let loc = lines
        .find_map(|l| l.trim_start().strip_prefix("LOC:"))
        .ok_or("no `LOC:` line in /proc/interrupts")?;
    let counts = loc
        .split_whitespace()
        .take(cpus.len())
        .map(|w| w.parse::<u64>().map_err(|_| format!("LOC: `{w}` is not a count")))
        .collect::<Result<Vec<u64>, String>>()?;
    ensure!(counts.len() == cpus.len(), "LOC has {} counts for {} CPU columns", counts.len(), cpus.len());
    Ok((cpus, counts))
}

/// The `LOC` count of CPU `cpu`.
fn loc_of(cpu: usize) -> Result<u64, String> {
    let (cpus, counts) = read_loc()?;
    let i = cpus.iter().position(|&c| c == cpu).ok_or_else(|| format!("no column for CPU{cpu}"))?;
    Ok(counts[i])
}

fn pin_to(cpu: usize) -> Result<(), String> {
    // SAFETY: cpu_set_t is plain data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: cpu is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    sys_ok("sched_setaffinity", || unsafe {
        syscall!(libc::SYS_sched_setaffinity, 0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set)
    })?;
    Ok(())
}

fn set_policy(policy: i32, priority: i32) -> Result<(), String> {
    let param: [libc::c_int; 1] = [priority]; // struct sched_param as the kernel reads it
    sys_ok("sched_setscheduler", || unsafe { syscall!(libc::SYS_sched_setscheduler, 0, policy, &raw const param) })?;
    Ok(())
}

fn format() -> CheckResult {
    let (cpus, _) = read_loc()?;
    ensure!(cpus.len() == online_cpus(), "{} CPU columns, {} CPUs online", cpus.len(), online_cpus());
    ensure!(cpus.windows(2).all(|w| w[0] < w[1]), "CPU columns out of order: {cpus:?}");
    Ok(())
}

/// Runs `f` in a new thread pinned to the last CPU; returns its result.
fn on_last_cpu<T: Send + 'static>(f: impl FnOnce(usize) -> Result<T, String> + Send + 'static) -> Result<T, String> {
    let cpu = online_cpus() - 1;
    std::thread::spawn(move || {
        pin_to(cpu)?;
        f(cpu)
    })
    .join()
    .map_err(|_| String::from("the measuring thread panicked"))?
}

fn loc_counts_timer_wakeups() -> CheckResult {
    let delta = on_last_cpu(|cpu| {
        let before = loc_of(cpu)?;
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(loc_of(cpu)? - before)
    })?;
    ensure!(delta >= 150, "200 sleeps of 1 ms took {delta} local timer interrupts on their CPU, expected >= 150");
    Ok(())
}

/// Spins for `ms` milliseconds without sleeping.
fn spin(ms: u64) {
    let end = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

fn no_tick_under_one_rt_thread() -> CheckResult {
    let delta = on_last_cpu(|cpu| {
        set_policy(libc::SCHED_FIFO, 50)?;
        // Let whatever ran on this CPU before settle (its timers fire now, not below).
        spin(20);
        let before = loc_of(cpu)?;
        spin(500);
        let after = loc_of(cpu)?;
        set_policy(libc::SCHED_OTHER, 0)?;
        Ok(after - before)
    })?;
    ensure!(delta <= 2, "a lone SCHED_FIFO thread took {delta} local timer interrupts in 500 ms, expected <= 2");
    Ok(())
}

fn fair_threads_sharing_a_cpu_tick() -> CheckResult {
    let cpu = online_cpus() - 1;
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<(), String> {
            pin_to(cpu)?;
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
            Ok(())
        })
    };
    let delta = on_last_cpu(|cpu| {
        std::thread::sleep(Duration::from_millis(20));
        let before = loc_of(cpu)?;
        spin(500);
        Ok(loc_of(cpu)? - before)
    });
    stop.store(true, Ordering::Relaxed);
    other.join().map_err(|_| String::from("the spinning thread panicked"))??;
    let delta = delta?;
    ensure!(delta >= 5, "two SCHED_OTHER threads sharing a CPU for 500 ms took only {delta} timer interrupts");
    Ok(())
}

const WAKELAT: &str = "/proc/axle/wakelat";

/// One line of /proc/axle/wakelat: (samples, max_tid, bucket counts).
fn wakelat_line(cpu: usize, kind: &str) -> Result<(u64, u64, Vec<u64>), String> {
    let text = std::fs::read_to_string(WAKELAT).map_err(|e| format!("{WAKELAT}: {e}"))?;
    let prefix = format!("cpu{cpu} {kind} ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).ok_or_else(|| format!("no `{prefix}` line in {text:?}"))?;
    let (head, hist) = line.split_once(" | ").ok_or_else(|| format!("no histogram in `{line}`"))?;
    let words: Vec<&str> = head.split_whitespace().collect();
    ensure!(words.len() == 8, "`{line}`: expected cpu kind samples p50 p99 p99.9 max max_tid");
    let num = |w: &str| w.parse::<u64>().map_err(|_| format!("`{w}` in `{line}` is not a number"));
    let counts = hist.split_whitespace().map(num).collect::<Result<Vec<u64>, String>>()?;
    Ok((num(words[2])?, num(words[7])?, counts))
}

fn wakelat_write(what: &str) -> Result<(), String> {
    std::fs::write(WAKELAT, what).map_err(|e| format!("writing {what:?} to {WAKELAT}: {e}"))
}

/// A tracer line: (samples, max_tid, bucket counts).
type Line = (u64, u64, Vec<u64>);

/// 200 sleeps of 1 ms on the last CPU in class `policy`, then (read by the sleeper while
/// it lives) its CPU's timer and switch lines and its tid.
fn sleeps_on_last_cpu(policy: i32, priority: i32) -> Result<(usize, Line, Line, u64), String> {
    on_last_cpu(move |cpu| {
        set_policy(policy, priority)?;
        // SAFETY: gettid has no arguments.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u64;
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(1));
        }
        set_policy(libc::SCHED_OTHER, 0)?;
        Ok((cpu, wakelat_line(cpu, "timer")?, wakelat_line(cpu, "switch")?, tid))
    })
}

fn wakelat_traces_rt_wakeups() -> CheckResult {
    wakelat_write("1")?;
    wakelat_write("0")?;
    let (cpu, timer, switch, tid) = sleeps_on_last_cpu(libc::SCHED_FIFO, 50)?;
    for (kind, (samples, max_tid, counts)) in [("timer", timer), ("switch", switch)] {
        ensure!(samples >= 150, "{kind}: {samples} samples on CPU {cpu} after 200 real-time sleeps, expected >= 150");
        ensure!(counts.iter().sum::<u64>() == samples, "{kind}: the histogram {counts:?} does not sum to {samples}");
        ensure!(max_tid == tid, "{kind}: the largest sample came from thread {max_tid}, not the sleeper {tid}");
    }
    Ok(())
}

fn wakelat_ignores_fair_threads() -> CheckResult {
    wakelat_write("1")?;
    wakelat_write("0")?;
    let (cpu, timer, switch, _) = sleeps_on_last_cpu(libc::SCHED_OTHER, 0)?;
    for (kind, (samples, _, _)) in [("timer", timer), ("switch", switch)] {
        ensure!(samples == 0, "{kind}: {samples} samples on CPU {cpu} from a SCHED_OTHER thread's sleeps");
    }
    match std::fs::write(WAKELAT, "2") {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => Err(format!("writing 2 to {WAKELAT}: {other:?}, expected EINVAL")),
    }
}

/// `/proc/axle/timer` for CPU `cpu`: (timer writes, context switches).
fn timer_writes_of(cpu: usize) -> Result<(u64, u64), String> {
    let text = std::fs::read_to_string("/proc/axle/timer").map_err(|e| format!("/proc/axle/timer: {e}"))?;
    let prefix = format!("cpu{cpu} ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).ok_or_else(|| format!("no `{prefix}` line in {text:?}"))?;
    let nums: Vec<u64> = line.split_whitespace().skip(1).map(|w| w.parse().map_err(|_| format!("bad line `{line}`"))).collect::<Result<_, _>>()?;
    ensure!(nums.len() == 2, "`{line}`: expected cpu, writes, switches");
    Ok((nums[0], nums[1]))
}

fn switches_keep_the_armed_timer() -> CheckResult {
    const TRIPS: u64 = 2000;
    let mut ab = [0i32; 2];
    let mut ba = [0i32; 2];
    // SAFETY: each array has room for the two descriptors pipe2 writes.
    sys_ok("pipe2", || unsafe { libc::pipe2(ab.as_mut_ptr(), libc::O_CLOEXEC) as i64 })?;
    // SAFETY: as above.
    sys_ok("pipe2", || unsafe { libc::pipe2(ba.as_mut_ptr(), libc::O_CLOEXEC) as i64 })?;
    let cpu = online_cpus() - 1;
    let partner = std::thread::spawn(move || -> Result<(), String> {
        pin_to(cpu)?;
        let mut b = [0u8; 1];
        for _ in 0..TRIPS {
            // SAFETY: 1-byte buffers and descriptors owned by this check.
            let ok = unsafe { libc::read(ab[0], b.as_mut_ptr().cast(), 1) == 1 && libc::write(ba[1], b.as_ptr().cast(), 1) == 1 };
            ensure!(ok, "partner: pipe read/write failed");
        }
        Ok(())
    });
    let measured = on_last_cpu(move |cpu| {
        let (w0, s0) = timer_writes_of(cpu)?;
        let mut b = [7u8; 1];
        for _ in 0..TRIPS {
            // SAFETY: as above.
            let ok = unsafe { libc::write(ab[1], b.as_ptr().cast(), 1) == 1 && libc::read(ba[0], b.as_mut_ptr().cast(), 1) == 1 };
            ensure!(ok, "pipe read/write failed");
        }
        let (w1, s1) = timer_writes_of(cpu)?;
        Ok((w1 - w0, s1 - s0))
    });
    let joined = partner.join().map_err(|_| String::from("the partner thread panicked"))?;
    for fd in ab.into_iter().chain(ba) {
        // SAFETY: closing descriptors this check opened, once.
        unsafe { libc::close(fd) };
    }
    joined?;
    let (writes, switches) = measured?;
    ensure!(switches >= 2 * TRIPS, "{TRIPS} round trips on one CPU made only {switches} context switches there");
    ensure!(writes < TRIPS / 5, "{switches} context switches wrote the timer {writes} times, expected < {}", TRIPS / 5);
    Ok(())
}
