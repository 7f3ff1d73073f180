//! The latency plot, an SVG written by hand: one panel per payload size with the latency of
//! every message in send order (x = sequence number, y = latency in µs, linear from 0),
//! one coloured line per run, so outliers, trends and the runs' differences are visible.

use std::fmt::Write as _;

use crate::raw::size_label;
use crate::report::Run;

const WIDTH: f64 = 960.0;
const PANEL_H: f64 = 200.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 70.0;
const GAP: f64 = 50.0;
const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A round axis maximum >= v (1, 2 or 5 x 10^k).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

pub fn plot(runs: &[Run], title: &str) -> String {
    let mut sizes: Vec<u64> = Vec::new();
    for run in runs {
        for &s in &run.raw.sizes {
            if !sizes.contains(&s) {
                sizes.push(s);
            }
        }
    }
    let height = TOP + sizes.len() as f64 * (PANEL_H + GAP) + 20.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{LEFT}" y="22" font-size="16" font-weight="bold">{}</text>"#, esc(title));
    // Legend: one entry per run, with its configuration.
    for (i, run) in runs.iter().enumerate() {
        let y = 42.0 + 14.0 * i as f64;
        let color = COLORS[i % COLORS.len()];
        let conf: Vec<String> = ["system", "smp", "accel", "profile", "date"]
            .iter()
            .filter_map(|k| run.raw.meta(k).map(|v| format!("{k} {v}")))
            .collect();
        let _ = writeln!(s, r#"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="3"/>"#, y - 4.0, LEFT + 24.0, y - 4.0);
        let _ = writeln!(s, r#"<text x="{}" y="{y}">{}</text>"#, LEFT + 30.0, esc(&format!("{}: {}", run.label, conf.join(", "))));
    }
    let top = TOP + 14.0 * runs.len().saturating_sub(1) as f64;
    for (p, &size) in sizes.iter().enumerate() {
        let y0 = top + p as f64 * (PANEL_H + GAP) + 20.0;
        let mut count = 1u64;
        let mut ymax_ns = 0i64;
        for run in runs {
            if let Some(i) = run.raw.sizes.iter().position(|&x| x == size) {
                for smp in run.raw.of_size(i) {
                    count = count.max(smp.seq as u64 + 1);
                    ymax_ns = ymax_ns.max(smp.latency_ns);
                }
                count = count.max(run.raw.count.unwrap_or(1));
            }
        }
        let ymax = nice_max(ymax_ns as f64 / 1000.0);
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{}" font-weight="bold">{}: latency per message (µs)</text>"#,
            y0 - 6.0,
            esc(&size_label(size))
        );
        let _ = writeln!(s, r##"<rect x="{LEFT}" y="{y0}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#888"/>"##);
        for k in 0..=4 {
            let v = ymax * k as f64 / 4.0;
            let y = y0 + PANEL_H - PANEL_H * k as f64 / 4.0;
            let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/>"##, LEFT + plot_w);
            let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, LEFT - 6.0, y + 4.0, fmt_num(v));
        }
        let xlabel_y = y0 + PANEL_H + 14.0;
        let _ = writeln!(s, r#"<text x="{LEFT}" y="{xlabel_y}">0</text>"#);
        let _ = writeln!(s, r#"<text x="{}" y="{xlabel_y}" text-anchor="end">message {}</text>"#, LEFT + plot_w, count - 1);
        let xs = |seq: u64| LEFT + if count > 1 { plot_w * seq as f64 / (count - 1) as f64 } else { plot_w / 2.0 };
        for (i, run) in runs.iter().enumerate() {
            let Some(idx) = run.raw.sizes.iter().position(|&x| x == size) else { continue };
            let mut pts: Vec<(u64, i64)> = run.raw.of_size(idx).iter().map(|x| (x.seq as u64, x.latency_ns)).collect();
            pts.sort_unstable();
            let color = COLORS[i % COLORS.len()];
            let coords: Vec<String> = pts
                .iter()
                .map(|&(seq, ns)| {
                    let v = (ns as f64 / 1000.0).clamp(0.0, ymax);
                    format!("{:.1},{:.1}", xs(seq), y0 + PANEL_H - PANEL_H * v / ymax)
                })
                .collect();
            if coords.len() > 1 {
                let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{}"/>"#, coords.join(" "));
            }
            for c in &coords {
                let (x, y) = c.split_once(',').unwrap();
                let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="1.6" fill="{color}"/>"#);
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::parse;

    #[test]
    fn nice_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.0), 5.0);
        assert_eq!(nice_max(101.0), 200.0);
        assert_eq!(nice_max(1000.0), 1000.0);
    }

    #[test]
    fn one_panel_per_size_and_one_line_per_run() {
        let raw = parse(
            "# plan: sizes=8,4096;count=3;period_ns=1000\n# system: X<&>\nsize_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns\n\
0,8,0,0,5,5,\n0,8,1,1000,1007,7,1000\n0,8,2,2000,2003,3,1000\n1,4096,0,3000,3010,10,1000\n1,4096,1,4000,4011,11,1000\n",
        )
        .unwrap();
        let runs = vec![Run { label: "a".into(), raw: raw.clone() }, Run { label: "b".into(), raw }];
        let svg = plot(&runs, "t");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("latency per message").count(), 2);
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert_eq!(svg.matches("<circle").count(), 10);
        assert!(svg.contains("X&lt;&amp;&gt;"));
    }
}
