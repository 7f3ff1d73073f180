//! Latency statistics: min/avg/percentiles/max of nanosecond samples (exact, nearest-rank
//! percentiles over every sample), a logarithmic 1-2-5 histogram for the text report, and
//! a linear 1 us histogram for output files.

/// The summary of a set of samples (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub samples: usize,
    pub min_ns: u64,
    pub avg_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

/// Nearest-rank percentile `q` (0 < q <= 1) of sorted samples.
pub fn percentile(sorted: &[u32], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as u64
}

/// `None` when there are no samples.
pub fn summarize(samples: &[u32]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let sum: u128 = sorted.iter().map(|s| *s as u128).sum();
    Some(Summary {
        samples: sorted.len(),
        min_ns: sorted[0] as u64,
        avg_ns: (sum / sorted.len() as u128) as u64,
        p50_ns: percentile(&sorted, 0.50),
        p99_ns: percentile(&sorted, 0.99),
        p999_ns: percentile(&sorted, 0.999),
        max_ns: *sorted.last().unwrap() as u64,
    })
}

/// Upper edges (exclusive) of the logarithmic buckets, in ns; a last bucket takes the rest.
pub const LOG_EDGES_NS: [u64; 19] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
];

/// Counts per logarithmic bucket: `LOG_EDGES_NS.len() + 1` entries.
pub fn log_histogram(samples: &[u32]) -> Vec<u64> {
    let mut counts = vec![0u64; LOG_EDGES_NS.len() + 1];
    for s in samples {
        let i = LOG_EDGES_NS.iter().position(|edge| (*s as u64) < *edge).unwrap_or(LOG_EDGES_NS.len());
        counts[i] += 1;
    }
    counts
}

/// A human label for logarithmic bucket `i`: `2-5 us`, `>= 1 s`.
pub fn log_bucket_label(i: usize) -> String {
    let lo = if i == 0 { 0 } else { LOG_EDGES_NS[i - 1] };
    if i == LOG_EDGES_NS.len() {
        return format!(">= {}", human_ns(lo));
    }
    format!("{}-{}", human_ns(lo), human_ns(LOG_EDGES_NS[i]))
}

fn human_ns(ns: u64) -> String {
    if ns >= 1_000_000_000 {
        format!("{} s", ns / 1_000_000_000)
    } else if ns >= 1_000_000 {
        format!("{} ms", ns / 1_000_000)
    } else {
        format!("{} us", ns / 1_000)
    }
}

/// Counts per 1 us bucket `[k, k+1)` us for k in `0..max_us`, then one overflow bucket.
pub fn linear_histogram(samples: &[u32], max_us: usize) -> Vec<u64> {
    let mut counts = vec![0u64; max_us + 1];
    for s in samples {
        let us = (*s as usize) / 1_000;
        counts[us.min(max_us)] += 1;
    }
    counts
}

/// Nanoseconds as microseconds with one decimal: `12.3`.
pub fn us(ns: u64) -> String {
    format!("{}.{}", ns / 1_000, (ns % 1_000) / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        // 1..=1000 us: nearest-rank p50 = 500 us, p99 = 990 us, p99.9 = 999 us.
        let samples: Vec<u32> = (1..=1000).rev().map(|u| u * 1_000).collect();
        let s = summarize(&samples).unwrap();
        assert_eq!(s.samples, 1000);
        assert_eq!((s.min_ns, s.max_ns), (1_000, 1_000_000));
        assert_eq!(s.avg_ns, 500_500);
        assert_eq!((s.p50_ns, s.p99_ns, s.p999_ns), (500_000, 990_000, 999_000));
        assert_eq!(summarize(&[]), None);
        let one = summarize(&[7]).unwrap();
        assert_eq!((one.p50_ns, one.p999_ns, one.max_ns), (7, 7, 7));
    }

    #[test]
    fn histograms() {
        let samples = [0, 999, 1_000, 4_999, 5_000, 2_000_000_000];
        let h = log_histogram(&samples);
        assert_eq!(h.len(), 20);
        assert_eq!((h[0], h[1], h[2], h[3], h[19]), (2, 1, 1, 1, 1));
        assert_eq!(h.iter().sum::<u64>(), 6);
        assert_eq!(log_bucket_label(0), "0 us-1 us");
        assert_eq!(log_bucket_label(10), "1 ms-2 ms");
        assert_eq!(log_bucket_label(19), ">= 1 s");
        let l = linear_histogram(&samples, 3);
        assert_eq!(l, [2, 1, 0, 3]);
        assert_eq!(us(12_345), "12.3");
    }
}
