//! Command-line parsing for the tools: `--name value` / `-n value` / `--name=value` options
//! and flags, durations (`10s`, `500ms`, `1000us`), sizes (`64M`), CPU lists (`0,2-3`).

use std::collections::VecDeque;

/// The arguments still to read.
pub struct Args {
    rest: VecDeque<String>,
}

impl Args {
    pub fn new(args: impl IntoIterator<Item = String>) -> Args {
        let mut rest = VecDeque::new();
        for a in args {
            // `--name=value` is `--name value`.
            match a.split_once('=') {
                Some((name, value)) if name.starts_with("--") => {
                    rest.push_back(name.to_string());
                    rest.push_back(value.to_string());
                }
                _ => rest.push_back(a),
            }
        }
        Args { rest }
    }

    /// The next option name, or None at the end.
    pub fn next_arg(&mut self) -> Option<String> {
        self.rest.pop_front()
    }

    /// The value of option `name`.
    pub fn value(&mut self, name: &str) -> Result<String, String> {
        self.rest.pop_front().ok_or_else(|| format!("{name} needs a value"))
    }

    pub fn number<T: std::str::FromStr>(&mut self, name: &str) -> Result<T, String> {
        let v = self.value(name)?;
        v.parse().map_err(|_| format!("{name}: `{v}` is not a valid number"))
    }

    pub fn duration_ns(&mut self, name: &str, default_unit_ns: u64) -> Result<u64, String> {
        let v = self.value(name)?;
        parse_duration_ns(&v, default_unit_ns).map_err(|e| format!("{name}: {e}"))
    }
}

/// `10s`, `1.5ms`, `500us`, `100ns`, `2m`; a bare number is in `default_unit_ns`.
pub fn parse_duration_ns(text: &str, default_unit_ns: u64) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "" => default_unit_ns,
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        u => return Err(format!("`{text}`: unknown unit `{u}` (ns, us, ms, s, m)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{text}` is not a duration"));
    }
    Ok((value * scale as f64).round() as u64)
}

/// `4096`, `64K`, `64M`, `1G` (powers of 1024; `KiB`/`MiB`/`GiB` and `B` also accepted).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: usize = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        u => return Err(format!("`{text}`: unknown size unit `{u}` (K, M, G)")),
    };
    let n: usize = number.parse().map_err(|_| format!("`{text}` is not a size"))?;
    n.checked_mul(scale).ok_or_else(|| format!("`{text}` is too large"))
}

/// Linux cpulist: `0`, `1-3`, `0,2-3`.
pub fn parse_cpu_list(text: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| format!("`{text}`: `{part}` is not a CPU or range"))?;
        let hi: usize = hi.parse().map_err(|_| format!("`{text}`: `{part}` is not a CPU or range"))?;
        if lo > hi || hi >= 1024 {
            return Err(format!("`{text}`: bad range `{part}`"));
        }
        cpus.extend(lo..=hi);
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("10s", 1), Ok(10_000_000_000));
        assert_eq!(parse_duration_ns("1.5ms", 1), Ok(1_500_000));
        assert_eq!(parse_duration_ns("1000", 1_000), Ok(1_000_000));
        assert_eq!(parse_duration_ns("2m", 1), Ok(120_000_000_000));
        assert!(parse_duration_ns("5 years", 1).is_err());
        assert!(parse_duration_ns("-1s", 1).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12X").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,2-3"), Ok(vec![0, 2, 3]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("").is_err());
    }

    #[test]
    fn equals_form() {
        let mut a = Args::new(["--interval=500".to_string(), "-p".into(), "80".into()]);
        assert_eq!(a.next_arg().as_deref(), Some("--interval"));
        assert_eq!(a.number::<u32>("--interval"), Ok(500));
        assert_eq!(a.next_arg().as_deref(), Some("-p"));
        assert_eq!(a.value("-p").as_deref(), Ok("80"));
        assert!(a.value("-x").is_err());
    }
}
