"""`make bench`: Axle side by side with Linux in the same QEMU (docs/benchmarks.md).

Modules: metrics (the catalogue of table rows), plan (what the guest runs), console
(parsing a run's console), stats (medians, ratios, spreads), report (text, Markdown and
CSV tables), systems (building, staging and booting Axle and the Linux VM), hooks
(timer latency, rs-latency, guest-to-host), cli (the command line, `tools/bench/run-bench`).
Standard library only (Python 3.11+).
"""
