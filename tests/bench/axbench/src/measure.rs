//! Time-boxed measurement and the statistics the benchmarks report.
//!
//! [`per_op`] calibrates how many operations make a chunk of a few milliseconds, warms up
//! for a fifth of the budget, then times `batches` batches of whole chunks and returns the
//! median time per operation over the batches. Time-boxing (rather than fixed counts)
//! keeps every benchmark's duration the same whatever the accelerator's speed.

use crate::sys::now_ns;

/// How long a benchmark measures.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Warm-up plus all batches, in nanoseconds.
    pub total_ns: u64,
    /// Number of timed batches (the reported value is their median).
    pub batches: u32,
}

impl Budget {
    /// The warm-up time: a fifth of the total.
    pub fn warmup_ns(&self) -> u64 {
        self.total_ns / 5
    }

    /// The length of one timed batch.
    pub fn batch_ns(&self) -> u64 {
        (self.total_ns - self.warmup_ns()) / self.batches as u64
    }
}

/// Runs `chunk(n)` (which performs n operations) as [`Budget`] says and returns the
/// median nanoseconds per operation over the batches.
pub fn per_op(b: &Budget, mut chunk: impl FnMut(u64) -> Result<(), String>) -> Result<f64, String> {
    let start = now_ns();
    // A chunk should take about a twentieth of a batch (at least 0.1 ms, so the clock
    // reads around it are negligible).
    let chunk_target = (b.batch_ns() / 20).max(100_000);
    let mut n: u64 = 1;
    loop {
        let t0 = now_ns();
        chunk(n)?;
        let dt = now_ns() - t0;
        if dt >= chunk_target || n >= 1 << 32 {
            break;
        }
        n = if dt == 0 { n * 16 } else { (n * 2).max(n * chunk_target / dt / 2) };
    }
    while now_ns() - start < b.warmup_ns() {
        chunk(n)?;
    }
    let mut per_batch = Vec::with_capacity(b.batches as usize);
    for _ in 0..b.batches {
        let t0 = now_ns();
        let mut ops = 0u64;
        loop {
            chunk(n)?;
            ops += n;
            let dt = now_ns() - t0;
            if dt >= b.batch_ns() {
                per_batch.push(dt as f64 / ops as f64);
                break;
            }
        }
    }
    Ok(median(&mut per_batch))
}

/// The median (mean of the two middle values for an even count); 0 for no values.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&sorted, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn budget_splits_warmup_and_batches() {
        let b = Budget { total_ns: 1_000_000_000, batches: 4 };
        assert_eq!(b.warmup_ns(), 200_000_000);
        assert_eq!(b.batch_ns(), 200_000_000);
    }

    #[test]
    fn per_op_counts_operations() {
        let b = Budget { total_ns: 20_000_000, batches: 2 };
        let ns = per_op(&b, |n| {
            let t0 = now_ns();
            while now_ns() - t0 < n * 1000 {}
            Ok(())
        })
        .unwrap();
        // Each operation busy-waits at least 1 us, so fewer ns per operation would mean
        // operations counted that did not happen; the upper bound only guards against
        // nonsense (a loaded host inflates wall time).
        assert!((999.0..1_000_000.0).contains(&ns), "{ns} ns per 1 us operation");
    }
}
