//! The output lines that `tools/bench/` parses (format in the crate documentation).
//! Each line is printed with one `write` so lines of concurrent processes do not mix.

use std::io::Write;

fn line(text: String) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{text}\n").as_bytes());
    let _ = out.flush();
}

/// `metric NAME UNIT VALUE`.
pub fn metric(name: &str, unit: &str, value: f64) {
    line(format!("metric {name} {unit} {value:.3}"));
}

/// `na NAME UNIT REASON`: the metric does not apply to this machine.
pub fn na(name: &str, unit: &str, reason: &str) {
    line(format!("na {name} {unit} {}", one_line(reason)));
}

/// `info KEY VALUE`.
pub fn info(key: &str, value: &str) {
    line(format!("info {key} {}", one_line(value)));
}

/// `error TEXT`.
pub fn error(text: &str) {
    line(format!("error {}", one_line(text)));
}

/// Any other framing line (the plan runner's `begin`/`end`).
pub fn raw(text: &str) {
    line(one_line(text));
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}
