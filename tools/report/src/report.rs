//! The report's content: per run and per payload size the latency statistics and the send
//! period achieved, written as CSV (exact nanoseconds, for tools and for `--verify`) and as
//! Markdown (microseconds / milliseconds, for people), with each run's configuration.

use std::fmt::Write as _;

use crate::raw::{size_label, RawRun};
use crate::stats::{compute, period_stats, PeriodStats, Stats};

/// One run of rs-latency, labelled.
pub struct Run {
    pub label: String,
    pub raw: RawRun,
}

/// The statistics of one (run, size).
pub struct Row {
    pub run: String,
    pub size_index: usize,
    pub size_bytes: u64,
    pub expected: Option<u64>,
    pub latency: Option<Stats>,
    pub period: Option<PeriodStats>,
}

pub fn rows(runs: &[Run]) -> Vec<Row> {
    let mut out = Vec::new();
    for run in runs {
        for (i, &size) in run.raw.sizes.iter().enumerate() {
            let samples = run.raw.of_size(i);
            let lat: Vec<i64> = samples.iter().map(|s| s.latency_ns).collect();
            let per: Vec<i64> = samples.iter().filter_map(|s| s.period_ns).collect();
            out.push(Row {
                run: run.label.clone(),
                size_index: i,
                size_bytes: size,
                expected: run.raw.count,
                latency: compute(&lat),
                period: period_stats(&per, run.raw.nominal_period_ns),
            });
        }
    }
    out
}

pub const CSV_HEADER: &str = "run,size_index,size_bytes,size,n,expected,min_ns,p50_ns,p90_ns,p99_ns,p99_9_ns,max_ns,\
mean_ns,std_dev_ns,peak_to_peak_ns,p99_minus_p50_ns,period_nominal_ns,period_n,period_min_ns,period_p50_ns,\
period_max_ns,period_mean_ns,period_std_dev_ns,period_max_abs_dev_ns,period_p99_abs_dev_ns";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

pub fn csv(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(CSV_HEADER);
    s.push('\n');
    for r in rows {
        let l = r.latency.as_ref();
        let p = r.period.as_ref();
        let fields = [
            r.run.clone(),
            r.size_index.to_string(),
            r.size_bytes.to_string(),
            size_label(r.size_bytes),
            l.map_or(0, |l| l.n).to_string(),
            opt(r.expected),
            opt(l.map(|l| l.min)),
            opt(l.map(|l| l.p50)),
            opt(l.map(|l| l.p90)),
            opt(l.map(|l| l.p99)),
            opt(l.map(|l| l.p999)),
            opt(l.map(|l| l.max)),
            l.map(|l| format!("{:.3}", l.mean)).unwrap_or_default(),
            l.map(|l| format!("{:.3}", l.std_dev)).unwrap_or_default(),
            opt(l.map(|l| l.peak_to_peak())),
            opt(l.map(|l| l.p99_minus_p50())),
            opt(p.and_then(|p| p.nominal_ns)),
            p.map_or(0, |p| p.actual.n).to_string(),
            opt(p.map(|p| p.actual.min)),
            opt(p.map(|p| p.actual.p50)),
            opt(p.map(|p| p.actual.max)),
            p.map(|p| format!("{:.3}", p.actual.mean)).unwrap_or_default(),
            p.map(|p| format!("{:.3}", p.actual.std_dev)).unwrap_or_default(),
            opt(p.and_then(|p| p.max_abs_dev)),
            opt(p.and_then(|p| p.p99_abs_dev)),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    s
}

fn us(ns: i64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn usf(ns: f64) -> String {
    format!("{:.1}", ns / 1000.0)
}

fn ms(ns: i64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn msf(ns: f64) -> String {
    format!("{:.3}", ns / 1e6)
}

/// The configuration keys shown, in this order first, then any other `# key:` of the runs.
const KEYS: [&str; 9] = ["system", "kernel", "machine", "smp", "accel", "mem", "profile", "dora", "date"];

pub fn markdown(runs: &[Run], rows: &[Row], generated: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# rs-latency: Dora message latency and send-period jitter\n");
    let _ = writeln!(
        s,
        "Generated {generated} by latency-report (tools/report). Latency is the sink's receive time minus the \
node's send stamp (CLOCK_MONOTONIC, same machine), one sample per message. Percentiles are nearest-rank \
(the sample at rank ceil(p/100 x n)); std dev is the population standard deviation; peak-to-peak = max - min. \
The send period is the difference between consecutive send stamps, against the plan's nominal period.\n"
    );

    // Configuration, one column per run.
    let _ = writeln!(s, "## Configuration\n");
    let mut keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    for run in runs {
        for (k, _) in &run.raw.meta {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let _ = writeln!(s, "| | {} |", runs.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(runs.len()));
    for k in &keys {
        let vals: Vec<String> = runs.iter().map(|r| r.raw.meta(k).unwrap_or("").replace('|', "/")).collect();
        if vals.iter().all(|v| v.is_empty()) {
            continue;
        }
        let _ = writeln!(s, "| {k} | {} |", vals.join(" | "));
    }
    let _ = writeln!(s);

    // Latency per run.
    let _ = writeln!(s, "## Latency (µs)\n");
    for run in runs {
        let _ = writeln!(s, "### {}\n", run.label);
        let _ = writeln!(s, "| size | n | min | p50 | p90 | p99 | p99.9 | max | mean | std dev | peak-to-peak | p99-p50 |");
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in rows.iter().filter(|r| r.run == run.label) {
            let n = match (r.latency.map_or(0, |l| l.n), r.expected) {
                (n, Some(e)) if n as u64 != e => format!("{n} of {e}"),
                (n, _) => n.to_string(),
            };
            match &r.latency {
                Some(l) => {
                    let _ = writeln!(
                        s,
                        "| {} | {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                        size_label(r.size_bytes),
                        us(l.min),
                        us(l.p50),
                        us(l.p90),
                        us(l.p99),
                        us(l.p999),
                        us(l.max),
                        usf(l.mean),
                        usf(l.std_dev),
                        us(l.peak_to_peak()),
                        us(l.p99_minus_p50())
                    );
                }
                None => {
                    let _ = writeln!(s, "| {} | {n} | | | | | | | | | | |", size_label(r.size_bytes));
                }
            }
        }
        let _ = writeln!(s);
    }

    // Side by side.
    if runs.len() > 1 {
        let _ = writeln!(s, "## Side by side (µs): p50 / p99 / max\n");
        let _ = writeln!(s, "| size | {} |", runs.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(" | "));
        let _ = writeln!(s, "|---:|{}", "---:|".repeat(runs.len()));
        let mut sizes: Vec<u64> = Vec::new();
        for r in rows {
            if !sizes.contains(&r.size_bytes) {
                sizes.push(r.size_bytes);
            }
        }
        for size in sizes {
            let cells: Vec<String> = runs
                .iter()
                .map(|run| {
                    rows.iter()
                        .find(|r| r.run == run.label && r.size_bytes == size)
                        .and_then(|r| r.latency)
                        .map(|l| format!("{} / {} / {}", us(l.p50), us(l.p99), us(l.max)))
                        .unwrap_or_else(|| "-".into())
                })
                .collect();
            let _ = writeln!(s, "| {} | {} |", size_label(size), cells.join(" | "));
        }
        let _ = writeln!(s);
    }

    // Send period.
    let _ = writeln!(s, "## Send period (ms)\n");
    let _ = writeln!(
        s,
        "Actual period between consecutive sends (the period of a message is counted in its size); |dev| = \
|actual - nominal|.\n"
    );
    for run in runs {
        let nominal = run.raw.nominal_period_ns.map(|n| ms(n as i64)).unwrap_or_else(|| "?".into());
        let _ = writeln!(s, "### {} (nominal {nominal} ms)\n", run.label);
        let _ = writeln!(s, "| size | n | min | p50 | max | mean | std dev | max \\|dev\\| | p99 \\|dev\\| |");
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let mut all: Vec<i64> = Vec::new();
        for r in rows.iter().filter(|r| r.run == run.label) {
            all.extend(run.raw.of_size(r.size_index).iter().filter_map(|x| x.period_ns));
            if let Some(p) = &r.period {
                let _ = writeln!(s, "{}", period_line(&size_label(r.size_bytes), p));
            }
        }
        if let Some(p) = period_stats(&all, run.raw.nominal_period_ns) {
            let _ = writeln!(s, "{}", period_line("all", &p));
        }
        let _ = writeln!(s);
    }
    s
}

fn period_line(size: &str, p: &PeriodStats) -> String {
    format!(
        "| {size} | {} | {} | {} | {} | {} | {} | {} | {} |",
        p.actual.n,
        ms(p.actual.min),
        ms(p.actual.p50),
        ms(p.actual.max),
        msf(p.actual.mean),
        msf(p.actual.std_dev),
        p.max_abs_dev.map(ms).unwrap_or_default(),
        p.p99_abs_dev.map(ms).unwrap_or_default()
    )
}
