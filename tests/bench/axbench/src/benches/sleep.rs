//! 1 ms sleep overshoot: `clock_nanosleep(CLOCK_MONOTONIC, 0, 1 ms)` `--count` times
//! (default 1000, after 20 unmeasured), each timed with `CLOCK_MONOTONIC`; overshoot =
//! elapsed - 1 ms. The calling thread keeps the default policy (SCHED_OTHER, and on Linux
//! the default 50 us timer slack): what an ordinary program gets. Metrics
//! `sleep_1ms_overshoot_p50`, `_p99`, `_max` (us, nearest-rank percentiles).

use crate::args::Args;
use crate::measure::percentile;
use crate::out;
use crate::sys::now_ns;

const SLEEP_NS: u64 = 1_000_000;

fn sleep_once() -> Result<u64, String> {
    let ts = libc::timespec { tv_sec: 0, tv_nsec: SLEEP_NS as libc::c_long };
    let t0 = now_ns();
    // SAFETY: ts is valid; no remainder wanted.
    let r = unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut()) };
    let t1 = now_ns();
    if r != 0 {
        return Err(format!("clock_nanosleep: {}", std::io::Error::from_raw_os_error(r)));
    }
    if t1 - t0 < SLEEP_NS {
        return Err(format!("clock_nanosleep(1 ms) returned after {} ns", t1 - t0));
    }
    Ok(t1 - t0 - SLEEP_NS)
}

pub fn run(args: &Args) -> Result<(), String> {
    let count = args.num("count", 1000)?.max(1);
    for _ in 0..20 {
        sleep_once()?;
    }
    let mut over_us = Vec::with_capacity(count as usize);
    for _ in 0..count {
        over_us.push(sleep_once()? as f64 / 1000.0);
    }
    over_us.sort_by(|a, b| a.total_cmp(b));
    out::metric("sleep_1ms_overshoot_p50", "us", percentile(&over_us, 50.0));
    out::metric("sleep_1ms_overshoot_p99", "us", percentile(&over_us, 99.0));
    out::metric("sleep_1ms_overshoot_max", "us", *over_us.last().unwrap_or(&0.0));
    Ok(())
}
