//! Reading rs-latency's raw CSV (written by the sink, tests/dataflows/crates/rs-latency-sink):
//! `# key: value` comment lines (the plan, the machine, labels added by the drivers), a
//! header `size_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns`, one row per
//! message. Columns are found by name, so added columns do not break old readers.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct RawSample {
    pub size_index: u32,
    pub size_bytes: u64,
    pub seq: u32,
    pub latency_ns: i64,
    /// Send time minus the previous message's (None for the first / after a gap).
    pub period_ns: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct RawRun {
    /// `# key: value` lines, in file order (a repeated key keeps its last value).
    pub meta: Vec<(String, String)>,
    /// Sizes of the plan (from `# plan: sizes=...`), or the sizes seen.
    pub sizes: Vec<u64>,
    pub count: Option<u64>,
    pub nominal_period_ns: Option<u64>,
    pub samples: Vec<RawSample>,
}

impl RawRun {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Samples of one size index.
    pub fn of_size(&self, size_index: usize) -> Vec<&RawSample> {
        self.samples.iter().filter(|s| s.size_index as usize == size_index).collect()
    }
}

const COLUMNS: [&str; 5] = ["size_index", "size_bytes", "seq", "latency_ns", "period_ns"];

pub fn parse(text: &str) -> Result<RawRun, String> {
    let mut run = RawRun::default();
    let mut columns: Option<BTreeMap<&str, usize>> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((k, v)) = comment.trim().split_once(':') {
                let (k, v) = (k.trim().to_string(), v.trim().to_string());
                if k == "plan" {
                    parse_plan(&v, &mut run).map_err(|e| format!("line {lineno}: {e}"))?;
                }
                run.meta.retain(|(old, _)| *old != k);
                run.meta.push((k, v));
            }
            continue;
        }
        let Some(cols) = &columns else {
            let header: BTreeMap<&str, usize> = line.split(',').enumerate().map(|(i, c)| (c.trim(), i)).collect();
            for c in COLUMNS {
                if !header.contains_key(c) {
                    return Err(format!("line {lineno}: header has no column '{c}'"));
                }
            }
            columns = Some(header);
            continue;
        };
        let fields: Vec<&str> = line.split(',').collect();
        let get = |name: &str| -> Result<&str, String> {
            fields.get(cols[name]).map(|s| s.trim()).ok_or_else(|| format!("line {lineno}: no '{name}' field"))
        };
        let num = |name: &str| -> Result<i64, String> {
            get(name)?.parse::<i64>().map_err(|_| format!("line {lineno}: '{name}' is not an integer"))
        };
        let period = get("period_ns")?;
        let sample = RawSample {
            size_index: u32::try_from(num("size_index")?).map_err(|_| format!("line {lineno}: bad size_index"))?,
            size_bytes: u64::try_from(num("size_bytes")?).map_err(|_| format!("line {lineno}: bad size_bytes"))?,
            seq: u32::try_from(num("seq")?).map_err(|_| format!("line {lineno}: bad seq"))?,
            latency_ns: num("latency_ns")?,
            period_ns: if period.is_empty() { None } else { Some(num("period_ns")?) },
        };
        run.samples.push(sample);
    }
    if columns.is_none() {
        return Err("no header line".into());
    }
    // Without a plan: the sizes seen, by index.
    let max_index = run.samples.iter().map(|s| s.size_index as usize + 1).max().unwrap_or(0);
    if run.sizes.len() < max_index {
        let mut sizes = run.sizes.clone();
        sizes.resize(max_index, 0);
        for s in &run.samples {
            if sizes[s.size_index as usize] == 0 {
                sizes[s.size_index as usize] = s.size_bytes;
            }
        }
        run.sizes = sizes;
    }
    for s in &run.samples {
        if run.sizes[s.size_index as usize] != s.size_bytes {
            return Err(format!(
                "sample ({}, {}) has {} bytes, but size index {} is {} bytes",
                s.size_index, s.seq, s.size_bytes, s.size_index, run.sizes[s.size_index as usize]
            ));
        }
    }
    Ok(run)
}

/// `sizes=8,40960;count=100;period_ns=20000000`
fn parse_plan(text: &str, run: &mut RawRun) -> Result<(), String> {
    for part in text.split(';') {
        let (k, v) = part.split_once('=').ok_or_else(|| format!("bad plan part '{part}'"))?;
        match k.trim() {
            "sizes" => {
                run.sizes = v
                    .split(',')
                    .map(|s| s.trim().parse::<u64>().map_err(|_| format!("bad plan size '{s}'")))
                    .collect::<Result<_, _>>()?
            }
            "count" => run.count = Some(v.trim().parse().map_err(|_| format!("bad plan count '{v}'"))?),
            "period_ns" => run.nominal_period_ns = Some(v.trim().parse().map_err(|_| format!("bad plan period '{v}'"))?),
            _ => {}
        }
    }
    Ok(())
}

/// "8 B", "40 KB" (x1024), "4 MB" (x1024000), as rs-latency labels its sizes.
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

    const SAMPLE: &str = "# rs-latency raw samples; clock CLOCK_MONOTONIC; times in ns\n\
# plan: sizes=8,40960;count=2;period_ns=20000000\n\
# system: Linux 6.1.0\n\
size_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns\n\
0,8,0,100,150,50,\n\
0,8,1,20000100,20000170,70,20000000\n\
1,40960,0,40000300,40000400,100,20000200\n\
";

    #[test]
    fn parses_plan_meta_and_rows() {
        let run = parse(SAMPLE).unwrap();
        assert_eq!(run.sizes, vec![8, 40960]);
        assert_eq!(run.count, Some(2));
        assert_eq!(run.nominal_period_ns, Some(20_000_000));
        assert_eq!(run.meta("system"), Some("Linux 6.1.0"));
        assert_eq!(run.samples.len(), 3);
        assert_eq!(run.samples[0].period_ns, None);
        assert_eq!(run.samples[2].period_ns, Some(20_000_200));
        assert_eq!(run.of_size(1).len(), 1);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse("").is_err());
        assert!(parse("a,b\n").is_err());
        let wrong_size = SAMPLE.replace("1,40960,0", "1,40961,0");
        assert!(parse(&wrong_size).unwrap_err().contains("40961"));
        let bad_number = SAMPLE.replace(",70,", ",7x,");
        assert!(parse(&bad_number).is_err());
    }

    #[test]
    fn labels() {
        let l: Vec<String> = [8, 40_960, 409_600, 4_096_000, 40_960_000, 4097].iter().map(|&b| size_label(b)).collect();
        assert_eq!(l, ["8 B", "40 KB", "400 KB", "4 MB", "40 MB", "4097 B"]);
    }
}
