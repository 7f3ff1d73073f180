"""The side-by-side table: printed as aligned text, written as Markdown (with the
configuration as a header list) and as CSV (configuration as `# key: value` lines, then one
row per metric), plus every round's raw values as a samples CSV."""

from __future__ import annotations

import csv
import io

from .stats import Row

COLUMNS = ["metric", "unit", "better", "Axle median", "Axle min-max", "Linux median", "Linux min-max",
           "Axle/Linux", "note"]

CSV_COLUMNS = ["metric", "unit", "better", "axle_median", "axle_min", "axle_max", "axle_n", "linux_median",
               "linux_min", "linux_max", "linux_n", "ratio_axle_over_linux", "note"]


def fmt(v: float | None) -> str:
    """A value with about 3-4 significant digits; `n/a` for None."""
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}"


def spread(lo: float | None, hi: float | None) -> str:
    return "n/a" if lo is None or hi is None else f"{fmt(lo)}-{fmt(hi)}"


def cells(row: Row) -> list[str]:
    m = row.metric
    return [m.name, m.unit, m.better, fmt(row.axle.median), spread(row.axle.low, row.axle.high),
            fmt(row.linux.median), spread(row.linux.low, row.linux.high), fmt_ratio(row.ratio), row.note]


def text_table(rows: list[Row]) -> str:
    """Aligned columns for the terminal (the note column is not padded)."""
    table = [COLUMNS] + [cells(r) for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(COLUMNS) - 1)]
    right = {3, 4, 5, 6, 7}
    out = []
    for t in table:
        parts = [t[i].rjust(widths[i]) if i in right else t[i].ljust(widths[i]) for i in range(len(widths))]
        out.append("  ".join(parts + [t[-1]]).rstrip())
    return "\n".join(out) + "\n"


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


LEGEND = [
    "Medians over the rounds; min-max is the spread of the per-round values. Axle/Linux is the "
    "ratio of the medians: for `better = lower` metrics (times) below 1 means Axle is faster, for "
    "`better = higher` metrics (rates) above 1 means Axle is faster. `n/a` is never a number: the "
    "note says why (not applicable, a tool not in the image yet, or a failure).",
]


def markdown(config: list[tuple[str, str]], rows: list[Row], title: str = "Axle vs Linux: make bench") -> str:
    lines = [f"# {title}", ""] + [f"- **{k}**: {_md_escape(v)}" for k, v in config] + [""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---:" if 3 <= i <= 7 else "---" for i in range(len(COLUMNS))) + "|")
    for r in rows:
        lines.append("| " + " | ".join(_md_escape(c) for c in cells(r)) + " |")
    lines += [""] + LEGEND
    return "\n".join(lines) + "\n"


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def csv_text(config: list[tuple[str, str]], rows: list[Row]) -> str:
    buf = io.StringIO()
    for k, v in config:
        buf.write(f"# {k}: {v}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        m = r.metric
        w.writerow([m.name, m.unit, m.better, _num(r.axle.median), _num(r.axle.low), _num(r.axle.high),
                    len(r.axle.values), _num(r.linux.median), _num(r.linux.low), _num(r.linux.high),
                    len(r.linux.values), _num(r.ratio), r.note])
    return buf.getvalue()


def samples_csv(samples: list[dict]) -> str:
    """One row per (system, round, metric): value or why there is none."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["system", "round", "boot", "metric", "unit", "value", "na", "failure"])
    for s in samples:
        w.writerow([s["system"], s["round"], s["boot"], s["metric"], s["unit"], _num(s.get("value")),
                    s.get("na") or "", s.get("failure") or ""])
    return buf.getvalue()
