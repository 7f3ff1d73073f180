//! `--verify`: checks the written report CSV against the raw samples, independently of the
//! code that computed it. It reads the CSV back from disk and, for every (run, size) row,
//! recomputes from that run's raw samples without sorting:
//!
//! - n, min, max by a plain scan;
//! - each percentile v by its definition (nearest rank): v is one of the samples, at least
//!   p% of the samples are <= v and fewer than p% are < v (counted);
//! - the mean from the exact integer sum, the standard deviation from exact integer sums
//!   of x and x^2 (n Sx2 - Sx^2, in i128), within the CSV's rounding;
//! - peak-to-peak and p99 - p50 from the row's own columns;
//! - the same for the send period and its deviations from the nominal period.
//!
//! Returns how many numbers were checked, or every mismatch found.

use std::collections::HashMap;

use crate::report::{Run, CSV_HEADER};

struct Checker {
    checked: usize,
    errors: Vec<String>,
}

impl Checker {
    fn eq_i(&mut self, what: &str, got: Option<i64>, want: Option<i64>) {
        self.checked += 1;
        if got != want {
            self.errors.push(format!("{what}: report says {got:?}, samples give {want:?}"));
        }
    }

    fn close(&mut self, what: &str, got: Option<f64>, want: Option<f64>) {
        self.checked += 1;
        let ok = match (got, want) {
            (Some(g), Some(w)) => (g - w).abs() <= 0.0006 + 1e-9 * w.abs(),
            (None, None) => true,
            _ => false,
        };
        if !ok {
            self.errors.push(format!("{what}: report says {got:?}, samples give {want:?}"));
        }
    }

    /// The nearest-rank percentile property for `got` over `values`.
    fn percentile(&mut self, what: &str, got: Option<i64>, values: &[i64], permille: u64) {
        self.checked += 1;
        let n = values.len() as u64;
        match got {
            None if n == 0 => {}
            None => self.errors.push(format!("{what}: missing for {n} samples")),
            Some(v) => {
                let le = values.iter().filter(|&&x| x <= v).count() as u64;
                let lt = values.iter().filter(|&&x| x < v).count() as u64;
                let member = values.contains(&v);
                if !(member && le * 1000 >= permille * n && lt * 1000 < permille * n) {
                    self.errors.push(format!(
                        "{what}: {v} is not the p{} of the samples ({le} <= it, {lt} < it, of {n})",
                        permille as f64 / 10.0
                    ));
                }
            }
        }
    }

    /// All columns of one statistic block (prefix "" or "period_").
    fn block(&mut self, what: &str, cols: &HashMap<&str, &str>, prefix: &str, values: &[i64]) {
        let int = |name: &str| -> Option<i64> { cols.get(format!("{prefix}{name}").as_str()).and_then(|v| v.parse().ok()) };
        let flt = |name: &str| -> Option<f64> { cols.get(format!("{prefix}{name}").as_str()).and_then(|v| v.parse().ok()) };
        let n = values.len();
        let count_col = if prefix.is_empty() { "n" } else { "period_n" };
        self.eq_i(&format!("{what} {count_col}"), cols.get(count_col).and_then(|v| v.parse().ok()), Some(n as i64));
        self.eq_i(&format!("{what} {prefix}min"), int("min_ns"), values.iter().copied().min());
        self.eq_i(&format!("{what} {prefix}max"), int("max_ns"), values.iter().copied().max());
        self.percentile(&format!("{what} {prefix}p50"), int("p50_ns"), values, 500);
        if prefix.is_empty() {
            self.percentile(&format!("{what} p90"), int("p90_ns"), values, 900);
            self.percentile(&format!("{what} p99"), int("p99_ns"), values, 990);
            self.percentile(&format!("{what} p99.9"), int("p99_9_ns"), values, 999);
        }
        let (mean, sd) = if n == 0 {
            (None, None)
        } else {
            let sx: i128 = values.iter().map(|&v| v as i128).sum();
            let sx2: i128 = values.iter().map(|&v| (v as i128) * (v as i128)).sum();
            let nn = n as i128;
            let var_num = nn * sx2 - sx * sx; // = n^2 variance, exact
            (Some(sx as f64 / n as f64), Some((var_num as f64).sqrt() / n as f64))
        };
        self.close(&format!("{what} {prefix}mean"), flt("mean_ns"), mean);
        self.close(&format!("{what} {prefix}std dev"), flt("std_dev_ns"), sd);
    }
}

pub fn verify(csv_text: &str, runs: &[Run]) -> Result<usize, Vec<String>> {
    let mut c = Checker { checked: 0, errors: Vec::new() };
    let mut lines = csv_text.lines();
    if lines.next() != Some(CSV_HEADER) {
        return Err(vec!["report CSV header differs".into()]);
    }
    let names: Vec<&str> = CSV_HEADER.split(',').collect();
    let mut seen = 0usize;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != names.len() {
            c.errors.push(format!("report CSV row with {} fields: {line}", fields.len()));
            continue;
        }
        let cols: HashMap<&str, &str> = names.iter().copied().zip(fields.iter().copied()).collect();
        let Some(run) = runs.iter().find(|r| r.label == cols["run"]) else {
            c.errors.push(format!("report CSV names an unknown run '{}'", cols["run"]));
            continue;
        };
        let Ok(idx) = cols["size_index"].parse::<usize>() else {
            c.errors.push(format!("bad size_index in {line}"));
            continue;
        };
        seen += 1;
        let what = format!("{} size {}", run.label, cols["size_bytes"]);
        c.eq_i(&format!("{what} size_bytes"), cols["size_bytes"].parse().ok(), run.raw.sizes.get(idx).map(|&s| s as i64));
        let samples = run.raw.of_size(idx);
        let lat: Vec<i64> = samples.iter().map(|s| s.latency_ns).collect();
        c.block(&what, &cols, "", &lat);
        let get = |k: &str| cols[k].parse::<i64>().ok();
        match (get("max_ns"), get("min_ns"), get("p99_ns"), get("p50_ns")) {
            (Some(max), Some(min), Some(p99), Some(p50)) => {
                c.eq_i(&format!("{what} peak-to-peak"), get("peak_to_peak_ns"), Some(max - min));
                c.eq_i(&format!("{what} p99-p50"), get("p99_minus_p50_ns"), Some(p99 - p50));
            }
            _ => {
                c.eq_i(&format!("{what} peak-to-peak"), get("peak_to_peak_ns"), None);
                c.eq_i(&format!("{what} p99-p50"), get("p99_minus_p50_ns"), None);
            }
        }
        let periods: Vec<i64> = samples.iter().filter_map(|s| s.period_ns).collect();
        c.block(&format!("{what} period"), &cols, "period_", &periods);
        c.eq_i(&format!("{what} nominal period"), get("period_nominal_ns"), run.raw.nominal_period_ns.map(|v| v as i64));
        let dev: Vec<i64> = match run.raw.nominal_period_ns {
            Some(nom) if !periods.is_empty() => periods.iter().map(|&p| (p - nom as i64).abs()).collect(),
            _ => Vec::new(),
        };
        c.eq_i(&format!("{what} period max |dev|"), get("period_max_abs_dev_ns"), dev.iter().copied().max());
        c.percentile(&format!("{what} period p99 |dev|"), get("period_p99_abs_dev_ns"), &dev, 990);
    }
    let want_rows: usize = runs.iter().map(|r| r.raw.sizes.len()).sum();
    if seen != want_rows {
        c.errors.push(format!("report CSV has {seen} rows, the runs have {want_rows} sizes"));
    }
    if c.errors.is_empty() {
        Ok(c.checked)
    } else {
        Err(c.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::parse;
    use crate::report::{csv, rows};

    fn runs() -> Vec<Run> {
        let mut text = String::from("# plan: sizes=8,40960;count=50;period_ns=1000000\nsize_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns\n");
        let mut x: u64 = 99;
        for size_index in 0..2u64 {
            for seq in 0..50u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let lat = 50_000 + (x >> 40) as i64 % 30_000;
                let period = if size_index == 0 && seq == 0 { String::new() } else { (1_000_000 + (x >> 50) as i64 % 5000 - 2500).to_string() };
                let size = if size_index == 0 { 8 } else { 40960 };
                text += &format!("{size_index},{size},{seq},0,0,{lat},{period}\n");
            }
        }
        vec![Run { label: "r".into(), raw: parse(&text).unwrap() }]
    }

    #[test]
    fn report_numbers_match_the_raw_samples() {
        let runs = runs();
        let report = csv(&rows(&runs));
        let checked = verify(&report, &runs).unwrap();
        assert!(checked >= 2 * 20, "{checked}");
    }

    #[test]
    fn a_tampered_number_is_found() {
        let runs = runs();
        let report = csv(&rows(&runs));
        let mut lines: Vec<String> = report.lines().map(String::from).collect();
        let mut f: Vec<String> = lines[1].split(',').map(String::from).collect();
        // p90_ns (column 8) one nanosecond off: not a sample / wrong rank.
        let p90: i64 = f[8].parse().unwrap();
        f[8] = (p90 + 1).to_string();
        lines[1] = f.join(",");
        let errors = verify(&(lines.join("\n") + "\n"), &runs).unwrap_err();
        assert!(errors.iter().any(|e| e.contains("p90")), "{errors:?}");
        // A changed mean is found too.
        let mut f: Vec<String> = report.lines().nth(2).unwrap().split(',').map(String::from).collect();
        let mean: f64 = f[12].parse().unwrap();
        f[12] = format!("{:.3}", mean + 0.01);
        let tampered = format!("{}\n{}\n{}\n", CSV_HEADER, report.lines().nth(1).unwrap(), f.join(","));
        assert!(verify(&tampered, &runs).unwrap_err().iter().any(|e| e.contains("mean")));
        // A missing row too.
        let short = format!("{}\n{}\n", CSV_HEADER, report.lines().nth(1).unwrap());
        assert!(verify(&short, &runs).is_err());
    }
}
