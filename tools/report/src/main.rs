//! latency-report: the jitter report of rs-latency (Axle, issue 6). From one or more raw
//! CSVs written by rs-latency's sink it computes, per payload size, n, min, p50, p90, p99,
//! p99.9, max, mean, standard deviation, peak-to-peak and p99 - p50 of the latency, and the
//! send period achieved against the nominal one; it writes them as CSV, Markdown and an SVG
//! plot, runs side by side (e.g. Axle, the Linux host, the Linux VM).
//!
//! ```text
//! latency-report --run LABEL=RAW.csv [--run LABEL=RAW.csv]... --out DIR [--title TEXT] [--verify]
//! ```
//!
//! Writes DIR/latency.csv, DIR/latency.md, DIR/latency.svg. `# key: value` lines of a raw
//! CSV (system, kernel, smp, accel, profile, date, ...) label its run. `--verify` reads the
//! written CSV back and checks every number against the raw samples (verify.rs), exit 1 on
//! any difference. Statistics definitions: stats.rs. Standard library only.
#![deny(unsafe_code)]

mod raw;
mod report;
mod stats;
mod svg;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use report::Run;

fn usage() -> ExitCode {
    eprintln!("usage: latency-report --run LABEL=RAW.csv [--run LABEL=RAW.csv]... --out DIR [--title TEXT] [--verify]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs: Vec<Run> = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut title = String::from("rs-latency: Dora message latency per size");
    let mut check = false;
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| args.get(i + 1).cloned();
        match args[i].as_str() {
            "--run" => {
                let Some(spec) = value(i) else { return usage() };
                let Some((label, path)) = spec.split_once('=') else { return usage() };
                if label.is_empty() || label.contains(',') {
                    eprintln!("latency-report: run label '{label}' must be non-empty and have no comma");
                    return ExitCode::from(2);
                }
                if runs.iter().any(|r| r.label == label) {
                    eprintln!("latency-report: run label '{label}' given twice");
                    return ExitCode::from(2);
                }
                let text = match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("latency-report: cannot read {path}: {e}");
                        return ExitCode::from(1);
                    }
                };
                match raw::parse(&text) {
                    Ok(raw) => runs.push(Run { label: label.to_string(), raw }),
                    Err(e) => {
                        eprintln!("latency-report: {path}: {e}");
                        return ExitCode::from(1);
                    }
                }
                i += 2;
            }
            "--out" => {
                let Some(v) = value(i) else { return usage() };
                out = Some(PathBuf::from(v));
                i += 2;
            }
            "--title" => {
                let Some(v) = value(i) else { return usage() };
                title = v;
                i += 2;
            }
            "--verify" => {
                check = true;
                i += 1;
            }
            _ => return usage(),
        }
    }
    let (Some(out), false) = (out, runs.is_empty()) else { return usage() };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("latency-report: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let rows = report::rows(&runs);
    let generated = runs.iter().find_map(|r| r.raw.meta("date").map(String::from)).unwrap_or_else(|| "(no date given)".into());
    let files = [
        ("latency.csv", report::csv(&rows)),
        ("latency.md", report::markdown(&runs, &rows, &generated)),
        ("latency.svg", svg::plot(&runs, &title)),
    ];
    for (name, text) in &files {
        let path = out.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("latency-report: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("latency-report: wrote {}", path.display());
    }
    if check {
        let written = match std::fs::read_to_string(out.join("latency.csv")) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("latency-report: cannot read back latency.csv: {e}");
                return ExitCode::from(1);
            }
        };
        let samples: usize = runs.iter().map(|r| r.raw.samples.len()).sum();
        match verify::verify(&written, &runs) {
            Ok(n) => println!("latency-report: verified {n} numbers against {samples} raw samples"),
            Err(errors) => {
                for e in &errors {
                    eprintln!("latency-report: verify: {e}");
                }
                eprintln!("latency-report: verify FAILED: {} differences", errors.len());
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
