//! The steps of a scenario: each is one check of the `tokio` suite; once a step fails,
//! the later ones are reported as failed without running (they depend on it). Also
//! keeps the output of every program of the scenario, printed after the checks.

use std::path::{Path, PathBuf};

use checks::{CheckResult, Suite};

use crate::output::{Log, Output};

pub struct Steps<'a> {
    suite: &'a mut Suite,
    dir: PathBuf,
    broken: Option<String>,
    logs: Vec<(String, Log)>,
}

impl<'a> Steps<'a> {
    pub fn new(suite: &'a mut Suite, dir: &Path) -> Steps<'a> {
        Steps { suite, dir: dir.to_path_buf(), broken: None, logs: Vec::new() }
    }

    /// The path of the Tokio program `name`.
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs one step (unless an earlier one failed).
    pub fn step(&mut self, name: &str, f: impl FnOnce() -> CheckResult) {
        self.start(name, f);
    }

    /// Runs one step that makes something the later steps use; None if it failed or did
    /// not run.
    pub fn start<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T, String>) -> Option<T> {
        let mut value = None;
        if let Some(first) = self.broken.clone() {
            self.suite.check(name, || Err(format!("not run: step {first} failed")));
            return None;
        }
        let mut failed = false;
        self.suite.check(name, || {
            let r = f();
            failed = r.is_err();
            r.map(|v| value = Some(v))
        });
        if failed || value.is_none() {
            self.broken = Some(name.to_string());
        }
        value
    }

    /// Keeps `out` to be printed after the checks.
    pub fn show(&mut self, out: &Output) {
        self.logs.push((out.label().to_string(), out.log()));
    }

    /// Prints the output of every program shown, each line prefixed with `[label]`.
    pub fn print_transcripts(&self) {
        for (label, log) in &self.logs {
            let text = String::from_utf8_lossy(&log.borrow()).into_owned();
            println!("--- output of {label} ({} bytes) ---", text.len());
            for line in text.lines() {
                println!("[{label}] {}", visible(line));
            }
        }
    }
}

/// `line` with its control characters (but tabs) escaped, so a transcript stays readable.
fn visible(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}
