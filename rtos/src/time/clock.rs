//! The monotonic clock: TSC ticks converted to nanoseconds since boot with a fixed-point
//! multiplier, calibrated once against the PIT (or taken from CPUID when the CPU reports
//! its TSC frequency, cross-checked against the PIT). CLOCK_REALTIME is the monotonic
//! clock plus an offset read from the CMOS RTC at boot (settable later).

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::arch::x86_64::cpu;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_BASE: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick, as a fixed-point number with `SHIFT` fractional bits.
static MULT: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds to add to the monotonic clock for CLOCK_REALTIME.
static REALTIME_OFFSET: AtomicI64 = AtomicI64::new(0);

/// Fractional bits of the tick-to-nanosecond multiplier (48: below 1 ns per 10 days of
/// drift for any counter from 1 MHz up).
pub const SHIFT: u32 = 48;

/// Converts ticks to ns with a `SHIFT`-bit fixed-point multiplier (pure, host-tested).
pub fn ticks_to_ns(ticks: u64, mult: u64) -> u64 {
    ((u128::from(ticks) * u128::from(mult)) >> SHIFT) as u64
}

/// The multiplier for a counter of `hz` (at least 1 MHz), rounded to nearest.
pub fn mult_for(hz: u64) -> u64 {
    let hz = u128::from(hz.max(1_000_000));
    (((1_000_000_000u128 << SHIFT) + hz / 2) / hz) as u64
}

/// Measures the TSC against the PIT over about 50 ms; returns Hz.
fn measure_tsc_with_pit() -> u64 {
    let mut samples = [0u64; 3];
    for s in samples.iter_mut() {
        let ticks: u16 = 59_659; // 50 ms at 1.193182 MHz
        board::pit::start_oneshot(ticks);
        let t0 = cpu::rdtsc();
        while !board::pit::oneshot_done() {
            core::hint::spin_loop();
        }
        let t1 = cpu::rdtsc();
        *s = (t1 - t0) * board::pit::PIT_HZ / u64::from(ticks);
    }
    samples.sort_unstable();
    samples[1]
}

/// Calibrates the clock (boot CPU, interrupts off). Returns the TSC frequency in Hz.
pub fn calibrate() -> u64 {
    let pit = measure_tsc_with_pit();
    let hz = match cpu::features().tsc_hz_cpuid {
        Some(c) if c.abs_diff(pit) * 100 < pit => c,
        Some(c) => {
            log::warn!("clock: CPUID says TSC {} kHz, PIT measures {} kHz; using the PIT", c / 1000, pit / 1000);
            pit
        }
        None => pit,
    };
    TSC_HZ.store(hz, Ordering::Relaxed);
    MULT.store(mult_for(hz), Ordering::Relaxed);
    TSC_BASE.store(cpu::rdtsc(), Ordering::Release);
    let rtc = board::cmos::read();
    let secs = rtc.unix_seconds() as i64;
    REALTIME_OFFSET.store(secs * 1_000_000_000, Ordering::Relaxed);
    log::info!("clock: TSC {}.{:03} MHz, realtime {secs}", hz / 1_000_000, (hz / 1000) % 1000);
    hz
}

/// TSC frequency in Hz.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Nanoseconds since the clock was calibrated (monotonic, all CPUs).
#[inline]
pub fn now_ns() -> u64 {
    let base = TSC_BASE.load(Ordering::Acquire);
    ticks_to_ns(cpu::rdtsc().saturating_sub(base), MULT.load(Ordering::Relaxed))
}

/// The TSC value at monotonic time `ns`.
pub fn ns_to_tsc(ns: u64) -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    TSC_BASE.load(Ordering::Relaxed) + (u128::from(ns) * u128::from(hz) / 1_000_000_000) as u64
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
pub fn realtime_ns() -> i64 {
    now_ns() as i64 + REALTIME_OFFSET.load(Ordering::Relaxed)
}

/// Sets CLOCK_REALTIME.
pub fn set_realtime_ns(ns: i64) {
    REALTIME_OFFSET.store(ns - now_ns() as i64, Ordering::Relaxed);
}

/// The offset between the realtime and monotonic clocks (ns).
pub fn realtime_offset_ns() -> i64 {
    REALTIME_OFFSET.load(Ordering::Relaxed)
}

/// Parameters the vDSO needs to read the clock in user mode.
pub fn vdso_params() -> (u64, u64, i64) {
    (TSC_BASE.load(Ordering::Relaxed), MULT.load(Ordering::Relaxed), REALTIME_OFFSET.load(Ordering::Relaxed))
}

/// Busy-waits `ns` nanoseconds (only for hardware start-up delays, never for blocking).
pub fn spin_delay_ns(ns: u64) {
    let hz = TSC_HZ.load(Ordering::Relaxed).max(1_000_000_000);
    let t0 = cpu::rdtsc();
    let ticks = (u128::from(ns) * u128::from(hz) / 1_000_000_000) as u64;
    while cpu::rdtsc() - t0 < ticks {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_conversion_is_accurate() {
        for hz in [1_000_000_000u64, 2_893_421_000, 3_600_000_000, 24_000_000] {
            let m = mult_for(hz);
            // One second of ticks is one second.
            let ns = ticks_to_ns(hz, m);
            assert!(ns.abs_diff(1_000_000_000) <= 1, "{hz}: {ns}");
            // Ten hours later we are still within a microsecond.
            let ns = ticks_to_ns(hz * 36_000, m);
            assert!(ns.abs_diff(36_000_000_000_000) < 1000, "{hz}: {ns}");
            // A year of ticks does not overflow.
            let _ = ticks_to_ns(hz * 31_536_000, m);
        }
    }
}
