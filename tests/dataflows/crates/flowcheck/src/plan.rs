//! The plan of an rs-latency run: which payload sizes, how many messages per size, at which
//! nominal send period. The node reads it from its arguments or the environment
//! (`--sizes`/`LAT_SIZES`, `--count`/`LAT_COUNT`, `--period-ms`/`LAT_PERIOD_MS`) and sends
//! it as its first output (`plan`), so the sink checks the run against the very same plan.

use crate::args;

/// 8 B, 40 KB, 400 KB, 4 MB, 40 MB: the sizes of the original benchmark (1, 5120, 51200,
/// 512000 and 5120000 u64s).
pub const DEFAULT_SIZES: [u64; 5] = [8, 40_960, 409_600, 4_096_000, 40_960_000];
pub const DEFAULT_COUNT: u64 = 100;
pub const DEFAULT_PERIOD_MS: u64 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub sizes: Vec<u64>,
    pub count: u32,
    pub period_ns: u64,
}

impl Plan {
    pub fn from_args(argv: &[String]) -> Result<Plan, String> {
        let sizes = match args::option(argv, "sizes", "LAT_SIZES")? {
            None => DEFAULT_SIZES.to_vec(),
            Some(text) => parse_sizes(&text)?,
        };
        let count = args::positive(argv, "count", "LAT_COUNT", DEFAULT_COUNT)?;
        let count = u32::try_from(count).map_err(|_| format!("count {count} is too large"))?;
        let period_ms = args::positive(argv, "period-ms", "LAT_PERIOD_MS", DEFAULT_PERIOD_MS)?;
        Ok(Plan { sizes, count, period_ns: period_ms * 1_000_000 })
    }

    pub fn total(&self) -> u64 {
        self.sizes.len() as u64 * self.count as u64
    }

    pub fn to_text(&self) -> String {
        let sizes: Vec<String> = self.sizes.iter().map(|s| s.to_string()).collect();
        format!("sizes={};count={};period_ns={}", sizes.join(","), self.count, self.period_ns)
    }

    pub fn from_text(text: &str) -> Result<Plan, String> {
        let bad = || format!("malformed plan {text:?}");
        let mut parts = text.split(';');
        let sizes = parts.next().and_then(|p| p.strip_prefix("sizes=")).ok_or_else(bad)?;
        let count = parts.next().and_then(|p| p.strip_prefix("count=")).ok_or_else(bad)?;
        let period = parts.next().and_then(|p| p.strip_prefix("period_ns=")).ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        let plan = Plan {
            sizes: parse_sizes(sizes)?,
            count: count.parse().map_err(|_| bad())?,
            period_ns: period.parse().map_err(|_| bad())?,
        };
        if plan.count == 0 || plan.period_ns == 0 || plan.to_text() != text {
            return Err(bad());
        }
        Ok(plan)
    }
}

/// "8,40960,409600" -> sizes in bytes (each at least 1).
pub fn parse_sizes(text: &str) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        match item.trim().parse::<u64>() {
            Ok(v) if v > 0 => out.push(v),
            _ => return Err(format!("bad size '{item}' in '{text}' (sizes are byte counts, comma-separated)")),
        }
    }
    if out.is_empty() {
        return Err("no sizes".into());
    }
    Ok(out)
}

/// "8 B", "40 KB" (x1024), "4 MB" (x1024000, as the original benchmark counts them).
pub fn size_label(bytes: u64) -> String {
    if bytes >= 1_024_000 && bytes % 1_024_000 == 0 {
        format!("{} MB", bytes / 1_024_000)
    } else if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let p = Plan { sizes: vec![8, 40_960], count: 3, period_ns: 5_000_000 };
        assert_eq!(p.to_text(), "sizes=8,40960;count=3;period_ns=5000000");
        assert_eq!(Plan::from_text(&p.to_text()).unwrap(), p);
        assert!(Plan::from_text("sizes=8;count=0;period_ns=1").is_err());
        assert!(Plan::from_text("sizes=8;count=1").is_err());
        assert!(Plan::from_text("sizes=8;count=1;period_ns=1;x").is_err());
    }

    #[test]
    fn from_args_and_defaults() {
        let argv: Vec<String> = ["n", "--sizes", "8,4096", "--count", "5", "--period-ms", "7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = Plan::from_args(&argv).unwrap();
        assert_eq!(p, Plan { sizes: vec![8, 4096], count: 5, period_ns: 7_000_000 });
        assert_eq!(p.total(), 10);
        assert!(parse_sizes("8,,9").is_err());
        assert!(parse_sizes("0").is_err());
    }

    #[test]
    fn labels() {
        let labels: Vec<String> = DEFAULT_SIZES.iter().map(|&s| size_label(s)).collect();
        assert_eq!(labels, ["8 B", "40 KB", "400 KB", "4 MB", "40 MB"]);
        assert_eq!(size_label(4097), "4097 B");
    }
}
