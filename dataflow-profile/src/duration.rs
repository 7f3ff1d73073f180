//! Durations as written in profiles: a decimal number and a unit (`ns`, `us`, `ms`, `s`),
//! e.g. `500us`, `1.5ms`, `2s`; held as nanoseconds.

use alloc::string::String;
use core::fmt::Write;

/// Parses `500us`, `1.5ms`, `10 ms`, `2s`, `100ns` into nanoseconds. The value must be a
/// whole number of nanoseconds.
pub fn parse_ns(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let scale: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" => return Err(alloc::format!("`{text}` has no unit (write e.g. `500us`, `2ms`, `1s`)")),
        _ => return Err(alloc::format!("`{text}`: unknown unit `{unit}` (ns, us, ms or s)")),
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(alloc::format!("`{text}` is not a number with a unit"));
    }
    let bad = || alloc::format!("`{text}` is too large");
    let mut ns: u64 = 0;
    if !whole.is_empty() {
        let w: u64 = whole.parse().map_err(|_| bad())?;
        ns = w.checked_mul(scale).ok_or_else(bad)?;
    }
    // Fraction digits: each one is worth scale / 10^k nanoseconds.
    let mut place = scale;
    for d in frac.bytes() {
        let digit = (d - b'0') as u64;
        if !place.is_multiple_of(10) {
            if digit != 0 {
                return Err(alloc::format!("`{text}` is not a whole number of nanoseconds"));
            }
            continue;
        }
        place /= 10;
        ns = ns.checked_add(digit * place).ok_or_else(bad)?;
    }
    Ok(ns)
}

/// The shortest exact form: `1500us` -> `1500us`, `2000000ns` -> `2ms`.
pub fn format_ns(ns: u64) -> String {
    let mut s = String::new();
    let (value, unit) = if ns != 0 && ns.is_multiple_of(1_000_000_000) {
        (ns / 1_000_000_000, "s")
    } else if ns != 0 && ns.is_multiple_of(1_000_000) {
        (ns / 1_000_000, "ms")
    } else if ns != 0 && ns.is_multiple_of(1_000) {
        (ns / 1_000, "us")
    } else {
        (ns, "ns")
    };
    let _ = write!(s, "{value}{unit}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_ns("100ns"), Ok(100));
        assert_eq!(parse_ns("500us"), Ok(500_000));
        assert_eq!(parse_ns("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_ns(" 2 s "), Ok(2_000_000_000));
        assert_eq!(parse_ns(".5us"), Ok(500));
        assert_eq!(parse_ns("0.000001s"), Ok(1_000));
        assert_eq!(parse_ns("1.024us"), Ok(1_024));
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(parse_ns("500").unwrap_err().contains("no unit"));
        assert!(parse_ns("5 min").unwrap_err().contains("unknown unit"));
        assert!(parse_ns("1.5ns").unwrap_err().contains("whole number"));
        assert!(parse_ns("ms").is_err());
        assert!(parse_ns("1.2.3ms").is_err());
        assert!(parse_ns("99999999999999999999s").unwrap_err().contains("too large"));
    }

    #[test]
    fn formats_shortest() {
        assert_eq!(format_ns(2_000_000), "2ms");
        assert_eq!(format_ns(1_500_000), "1500us");
        assert_eq!(format_ns(3_000_000_000), "3s");
        assert_eq!(format_ns(1_024), "1024ns");
        assert_eq!(format_ns(0), "0ns");
        for ns in [1, 999, 1_000, 1_001_000, 7_000_000_000] {
            assert_eq!(parse_ns(&format_ns(ns)), Ok(ns));
        }
    }
}
