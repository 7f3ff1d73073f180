//! The statistics of the report, on integer nanosecond samples.
//!
//! Percentiles use the **nearest-rank** definition: the p-th percentile of n samples is the
//! sample at rank ceil(p/100 x n) (1-based) in ascending order, rank 1 for p = 0. So it is
//! always one of the measured values, and it is the smallest sample v such that at least
//! p% of the samples are <= v. (With 100 samples p99.9 is the maximum: rank ceil(99.9) =
//! 100.) Ranks are computed in integers from per-mille values, so there is no rounding.
//! Mean is the exact integer sum divided by n; the standard deviation is the population
//! one (divided by n, not n - 1), two-pass.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub min: i64,
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    pub p999: i64,
    pub max: i64,
    pub mean: f64,
    pub std_dev: f64,
}

impl Stats {
    pub fn peak_to_peak(&self) -> i64 {
        self.max - self.min
    }

    pub fn p99_minus_p50(&self) -> i64 {
        self.p99 - self.p50
    }
}

/// Nearest-rank percentile of ascending `sorted` samples; `permille` is p x 10 (990 = p99,
/// 999 = p99.9). None for no samples.
pub fn percentile(sorted: &[i64], permille: u64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = ((permille.min(1000) * n).div_ceil(1000)).max(1);
    Some(sorted[(rank - 1) as usize])
}

pub fn mean(values: &[i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: i128 = values.iter().map(|&v| v as i128).sum();
    Some(sum as f64 / values.len() as f64)
}

/// Population standard deviation (two-pass).
pub fn std_dev(values: &[i64]) -> Option<f64> {
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|&v| (v as f64 - m) * (v as f64 - m)).sum();
    Some((ss / values.len() as f64).sqrt())
}

pub fn compute(values: &[i64]) -> Option<Stats> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let p = |pm| percentile(&sorted, pm);
    Some(Stats {
        n: sorted.len(),
        min: *sorted.first()?,
        p50: p(500)?,
        p90: p(900)?,
        p99: p(990)?,
        p999: p(999)?,
        max: *sorted.last()?,
        mean: mean(&sorted)?,
        std_dev: std_dev(&sorted)?,
    })
}

/// The send period actually achieved, against the nominal one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodStats {
    pub nominal_ns: Option<u64>,
    pub actual: Stats,
    /// max |actual - nominal| (None without a nominal period).
    pub max_abs_dev: Option<i64>,
    /// nearest-rank p99 of |actual - nominal|.
    pub p99_abs_dev: Option<i64>,
}

pub fn period_stats(periods: &[i64], nominal_ns: Option<u64>) -> Option<PeriodStats> {
    let actual = compute(periods)?;
    let (max_abs_dev, p99_abs_dev) = match nominal_ns {
        Some(nom) => {
            let mut dev: Vec<i64> = periods.iter().map(|&p| (p as i128 - nom as i128).unsigned_abs() as i64).collect();
            dev.sort_unstable();
            (dev.last().copied(), percentile(&dev, 990))
        }
        None => (None, None),
    };
    Some(PeriodStats { nominal_ns, actual, max_abs_dev, p99_abs_dev })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_hundred() {
        let v: Vec<i64> = (1..=100).rev().collect();
        let s = compute(&v).unwrap();
        assert_eq!((s.n, s.min, s.p50, s.p90, s.p99, s.p999, s.max), (100, 1, 50, 90, 99, 100, 100));
        assert_eq!(s.mean, 50.5);
        // population variance of 1..=n is (n^2 - 1) / 12
        assert!((s.std_dev - (9999.0f64 / 12.0).sqrt()).abs() < 1e-9);
        assert_eq!(s.peak_to_peak(), 99);
        assert_eq!(s.p99_minus_p50(), 49);
    }

    #[test]
    fn small_and_single_samples() {
        let s = compute(&[7]).unwrap();
        assert_eq!((s.min, s.p50, s.p999, s.max, s.std_dev), (7, 7, 7, 7, 0.0));
        let s = compute(&[10, 20]).unwrap();
        assert_eq!((s.p50, s.p90), (10, 20)); // rank ceil(1.0) = 1, ceil(1.8) = 2
        assert_eq!(compute(&[]), None);
        assert_eq!(percentile(&[1, 2, 3], 0), Some(1));
        assert_eq!(percentile(&[1, 2, 3], 1000), Some(3));
        // 1000 samples: p99.9 is rank 999, not the maximum
        let v: Vec<i64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 999), Some(999));
    }

    /// The percentile property, checked by counting on pseudo-random samples of many sizes:
    /// v = P(p) is a sample, at least p% of the samples are <= v, fewer than p% are < v.
    #[test]
    fn percentiles_satisfy_their_definition() {
        let mut x: u64 = 0x1234_5678;
        for n in 1..300usize {
            let v: Vec<i64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 1000) as i64 - 100
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            for pm in [1, 500, 900, 990, 999, 1000] {
                let p = percentile(&sorted, pm).unwrap();
                assert!(v.contains(&p));
                let le = v.iter().filter(|&&s| s <= p).count() as u64;
                let lt = v.iter().filter(|&&s| s < p).count() as u64;
                assert!(le * 1000 >= pm * n as u64, "n={n} pm={pm}");
                assert!(lt * 1000 < pm * n as u64, "n={n} pm={pm}");
            }
            let s = compute(&v).unwrap();
            assert_eq!(s.min, *v.iter().min().unwrap());
            assert_eq!(s.max, *v.iter().max().unwrap());
            let m = v.iter().sum::<i64>() as f64 / n as f64;
            assert!((s.mean - m).abs() < 1e-9);
            let var = v.iter().map(|&a| (a as f64 - m).powi(2)).sum::<f64>() / n as f64;
            assert!((s.std_dev - var.sqrt()).abs() < 1e-6);
        }
    }

    #[test]
    fn negative_values_do_not_wrap() {
        let s = compute(&[-5, 3, i64::MAX / 2]).unwrap();
        assert_eq!(s.min, -5);
        assert_eq!(s.peak_to_peak(), i64::MAX / 2 + 5);
    }

    #[test]
    fn period_jitter() {
        let p = period_stats(&[20_000_000, 20_100_000, 19_950_000, 20_000_000], Some(20_000_000)).unwrap();
        assert_eq!(p.max_abs_dev, Some(100_000));
        assert_eq!(p.p99_abs_dev, Some(100_000));
        assert_eq!(p.actual.min, 19_950_000);
        assert_eq!(p.actual.max, 20_100_000);
        let q = period_stats(&[5], None).unwrap();
        assert_eq!(q.max_abs_dev, None);
        assert_eq!(period_stats(&[], Some(1)), None);
    }
}
