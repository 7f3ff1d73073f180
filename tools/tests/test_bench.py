"""Unit tests of `make bench` (tools/bench/): console parsing, failure attribution, medians,
ratios, notes, the table/Markdown/CSV output and the hooks' parsers. No QEMU, no cargo.

    python3 -m unittest discover -s tools/tests -p 'test_bench.py'
"""

from __future__ import annotations

import contextlib

import csv
import io
import sys
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS))

from bench import console, hooks, metrics, plan, report, stats  # noqa: E402
from bench.cli import Collector, mode_of, parse_args  # noqa: E402

CONSOLE = """\
axle: some kernel line\r
plan-begin\r
info uname Linux 6.1.0-axle #1 SMP Axle 0.1.0\r
info cpus 2\r
info loopback up\r
begin meminfo\r
info mem_source meminfo\r
metric mem_used_after_boot MiB 99.625\r
end meminfo status 0 ms 12.0\r
begin getpid\r
metric getpid ns 1077.5\r
end getpid status 0 ms 340.1\r
begin futex_cross\r
na futex_wake_cross_cpu us needs 2 CPUs, this machine has 1\r
end futex_cross status 0 ms 3.0\r
begin pipe\r
error pipe: receive: Connection reset by peer (os error 104)\r
end pipe status 1 ms 20.0\r
begin unix\r
end unix timeout 31\r
begin tcp_rtt\r
end tcp_rtt signal 11 ms 5.0\r
begin tcp_stream\r
end tcp_stream status 0 ms 300.0\r
begin udp_rtt\r
metric udp_rtt us 59.3
"""


class ConsoleTest(unittest.TestCase):
    def setUp(self):
        self.p = console.parse(CONSOLE)

    def test_values_na_and_info(self):
        self.assertEqual(self.p.metrics["mem_used_after_boot"], 99.625)
        self.assertEqual(self.p.metrics["getpid"], 1077.5)
        self.assertEqual(self.p.units["getpid"], "ns")
        self.assertEqual(self.p.na["futex_wake_cross_cpu"], "needs 2 CPUs, this machine has 1")
        self.assertEqual(self.p.info["uname"], "Linux 6.1.0-axle #1 SMP Axle 0.1.0")
        self.assertEqual(self.p.info["mem_source"], "meminfo")
        self.assertTrue(self.p.plan_begun)
        self.assertFalse(self.p.plan_ended)

    def test_step_lines_are_kept(self):
        self.assertIn("metric getpid ns 1077.5", self.p.steps["getpid"].lines)
        self.assertEqual(self.p.steps["getpid"].end, "status 0 ms 340.1")

    def test_failure_reasons(self):
        o = lambda m, s, prob=None: console.outcome(self.p, m, s, prob)  # noqa: E731
        self.assertEqual(o("getpid", "getpid").value, 1077.5)
        self.assertEqual(o("futex_wake_cross_cpu", "futex_cross").na, "needs 2 CPUs, this machine has 1")
        self.assertEqual(o("pipe_rtt", "pipe").failure,
                         "exited with status 1: pipe: receive: Connection reset by peer (os error 104)")
        self.assertEqual(o("unix_rtt", "unix").failure, "hung: killed after 31 s")
        self.assertEqual(o("tcp_rtt", "tcp_rtt").failure, "killed by signal 11 (SIGSEGV)")
        self.assertEqual(o("tcp_stream", "tcp_stream").failure, "exited 0 without printing the metric")
        # udp_rtt printed its value before the boot ended: the value counts.
        self.assertEqual(o("udp_rtt", "udp_rtt").value, 59.3)
        # accept never began; the boot timed out.
        self.assertEqual(o("tcp_accept", "accept", "runner status 124: the boot timed out").failure,
                         "not run: runner status 124: the boot timed out")
        self.assertEqual(o("tcp_accept", "accept").failure, "not run (the plan did not reach it)")

    def test_unfinished_step_names_the_boot_problem(self):
        p = console.parse("plan-begin\nbegin sleep\n")
        self.assertEqual(console.outcome(p, "sleep_1ms_overshoot_p50", "sleep", "runner status 125: kernel fault").failure,
                         "did not finish (the boot ended while it ran): runner status 125: kernel fault")

    def test_no_plan_runner(self):
        p = console.parse("random output\n")
        self.assertEqual(console.outcome(p, "getpid", "getpid", None).failure,
                         "not run: the plan runner never started")

    def test_malformed_metric_lines_are_ignored(self):
        p = console.parse("metric getpid ns 12abc\nmetric x\nmetric clock_gettime ns 1e3\n")
        self.assertNotIn("getpid", p.metrics)
        self.assertEqual(p.metrics["clock_gettime"], 1000.0)


class StatsTest(unittest.TestCase):
    def test_median_spread_ratio(self):
        a = stats.Cell(values=[3.0, 1.0, 2.0])
        b = stats.Cell(values=[4.0, 8.0])
        self.assertEqual((a.median, a.low, a.high), (2.0, 1.0, 3.0))
        self.assertEqual(b.median, 6.0)
        self.assertAlmostEqual(stats.ratio(a.median, b.median), 1 / 3)
        self.assertIsNone(stats.ratio(None, 2.0))
        self.assertIsNone(stats.ratio(1.0, 0.0))
        self.assertIsNone(stats.Cell().median)

    def test_notes(self):
        m = metrics.BY_NAME["getpid"]
        ok = stats.Cell(values=[1.0, 2.0])
        partly = stats.Cell(values=[1.0], failures=[(2, "hung: killed after 30 s")])
        failed = stats.Cell(failures=[(1, "x"), (2, "x"), (3, "y")])
        na = stats.Cell(na=["needs 2 CPUs"])
        self.assertEqual(stats.Row(m, ok, ok).note, "")
        self.assertEqual(stats.Row(m, partly, ok).note, "Axle failed in round 2 of 2: hung: killed after 30 s")
        self.assertEqual(stats.Row(m, failed, ok).note, "Axle FAILED (round 1, 2, 3): x")
        self.assertEqual(stats.Row(m, ok, na).note, "Linux n/a: needs 2 CPUs")
        self.assertEqual(stats.Row(m, na, stats.Cell(na=["needs 2 CPUs"])).note, "n/a: needs 2 CPUs")
        self.assertEqual(stats.Row(m, stats.Cell(), ok).note, "Axle n/a: not measured")
        noisy = stats.Cell(values=[1.0, 2.0, 10.0])
        self.assertEqual(stats.Row(m, ok, noisy).note, "Linux rounds span 10x (noisy: compare with care)")
        noted = stats.Cell(values=[1.0], notes=["a", "a", "b"])
        self.assertEqual(stats.Row(m, noted, ok).note, "Axle: a; Axle: b")

    def test_host_rt_option(self):
        self.assertEqual(parse_args([]).host_rt, 0)
        self.assertEqual(parse_args(["--host-rt", "2"]).host_rt, 2)
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            parse_args(["--host-rt", "100"])

    def test_collector_counts_failures(self):
        args = parse_args(["--quick"])

        class S:
            key = "axle"
        col = Collector([S()])
        col.record("axle", 1, "main", "getpid", console.Outcome(value=5.0))
        col.record("axle", 2, "main", "getpid", console.Outcome(failure="hung"))
        col.record("axle", 1, "main", "tcp_rtt", console.Outcome(na="no"))
        self.assertEqual(col.cells[("getpid", "axle")].values, [5.0])
        self.assertEqual(col.failures(), ["axle getpid: round 2: hung"])
        self.assertEqual(len(col.samples), 3)
        self.assertEqual(mode_of(args).name, "quick")


class ReportTest(unittest.TestCase):
    def rows(self):
        return [stats.Row(metrics.BY_NAME["getpid"], stats.Cell(values=[1000.0, 1200.0, 1100.0]),
                          stats.Cell(values=[500.0, 400.0, 450.0])),
                stats.Row(metrics.BY_NAME["tcp_stream"], stats.Cell(values=[34.7]), stats.Cell(values=[144.0])),
                stats.Row(metrics.BY_NAME["timerlat_idle_p99"], stats.Cell(na=["tool missing | soon"]),
                          stats.Cell(na=["tool missing | soon"]))]

    def test_format(self):
        self.assertEqual(report.fmt(None), "n/a")
        self.assertEqual(report.fmt(1234.5), "1234")  # round half to even
        self.assertEqual(report.fmt(12.345), "12.3")
        self.assertEqual(report.fmt(1.2345), "1.23")
        self.assertEqual(report.fmt(0.012345), "0.012")
        self.assertEqual(report.spread(1.0, 2.5), "1.00-2.50")
        self.assertEqual(report.fmt_ratio(2.4444), "2.44")

    def test_text_table(self):
        out = report.text_table(self.rows()).splitlines()
        self.assertTrue(out[0].startswith("metric"))
        self.assertIn("Axle/Linux", out[0])
        getpid = out[1].split()
        self.assertEqual(getpid[:3], ["getpid", "ns", "lower"])
        self.assertEqual(getpid[3:8], ["1100", "1000-1200", "450", "400-500", "2.44"])
        self.assertIn("n/a: tool missing | soon", out[3])

    def test_markdown(self):
        md = report.markdown([("commit", "abc"), ("accelerator", "tcg")], self.rows())
        self.assertIn("- **commit**: abc", md)
        self.assertIn("| getpid | ns | lower | 1100 | 1000-1200 | 450 | 400-500 | 2.44 |  |", md)
        self.assertIn("tool missing \\| soon", md)  # pipes escaped
        self.assertIn("Axle/Linux is the ratio of the medians", md)

    def test_csv(self):
        text = report.csv_text([("commit", "abc"), ("smp", "2")], self.rows())
        lines = text.splitlines()
        self.assertEqual(lines[:2], ["# commit: abc", "# smp: 2"])
        rows = list(csv.DictReader(io.StringIO("\n".join(lines[2:]))))
        self.assertEqual(rows[0]["metric"], "getpid")
        self.assertEqual(float(rows[0]["axle_median"]), 1100.0)
        self.assertEqual(rows[0]["axle_n"], "3")
        self.assertAlmostEqual(float(rows[0]["ratio_axle_over_linux"]), 1100 / 450, places=4)
        self.assertEqual(rows[2]["axle_median"], "")
        self.assertEqual(rows[1]["better"], "higher")

    def test_samples_csv(self):
        text = report.samples_csv([{"system": "axle", "round": 1, "boot": "main", "metric": "getpid", "unit": "ns",
                                    "value": 1.5, "na": None, "failure": None}])
        self.assertEqual(text.splitlines()[1], "axle,1,main,getpid,ns,1.5,,")


class PlanTest(unittest.TestCase):
    def test_every_core_metric_has_a_step_in_the_plan(self):
        lines = plan.core_plan(plan.QUICK) + plan.last_steps(plan.QUICK)
        steps = set(plan.step_names(lines))
        for m in metrics.CORE:
            if m.step != "boot":
                self.assertIn(m.step, steps, m.name)
        self.assertEqual(plan.step_names(lines)[0], "meminfo")
        self.assertEqual(plan.step_names(lines)[-1], "spawn")
        self.assertGreater(plan.plan_seconds(lines), 0)

    def test_metric_names_unique(self):
        names = [m.name for m in metrics.ALL]
        self.assertEqual(len(names), len(set(names)))
        self.assertTrue(all(m.better in ("lower", "higher") for m in metrics.ALL))


class HookParseTest(unittest.TestCase):
    def test_cyclictest_all_row(self):
        lines = [
            "# axle-cyclictest: 2 threads",
            "thread  cpu class            samples    min_us    avg_us    p50_us    p99_us  p99.9_us    max_us overruns   migr",
            "T0        0 SCHED_FIFO/80       1000      13.5      25.6      21.1      43.3     158.5     813.4        0      0",
            "all       -                     2000      12.7      29.8      30.9      44.0     813.4     923.7        0      0",
        ]
        self.assertEqual(hooks.cyclictest_summary(lines), {"p99": 44.0, "max": 923.7})
        self.assertIsNone(hooks.cyclictest_summary(lines[:3]))

    def test_timerlat_parse_into_metrics(self):
        text = "plan-begin\nbegin timerlat_idle\nthread cpu class samples min_us avg_us p50_us p99_us p99.9_us max_us " \
               "overruns migr\n# T0 CPU 0: NOT AS ASKED: sched_setscheduler: EPERM\nall - 10 1 2 3 4 5 6 0 0\n" \
               "end timerlat_idle status 0 ms 3000\n"
        p = console.parse(text)
        hooks.TimerLatency().parse(p)
        self.assertEqual(p.metrics["timerlat_idle_p99"], 4.0)
        self.assertEqual(p.metrics["timerlat_idle_max"], 6.0)
        self.assertIn("did not run SCHED_FIFO/80", p.notes["timerlat_idle_p99"][0])

    def test_rslatency_percentiles(self):
        rows = ["size_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns"]
        rows += [f"0,8,{i},0,0,{(i + 1) * 1000},20000000" for i in range(100)]
        rows += ["2,4096000,0,0,0,5000000,0", "3,40960,0,0,0,1,0"]
        console_text = "noise\r\n" + hooks.RS_BEGIN + "\n# system: Linux\n# plan: sizes=8,4096000;count=100;p=1\n" \
            + "\n".join(rows) + "\n" + hooks.RS_END
        m, notes = hooks.rslatency_metrics(console_text)
        self.assertEqual(m["rslatency_8B_p50"], 50.0)
        self.assertEqual(m["rslatency_8B_p99"], 99.0)
        self.assertEqual(m["rslatency_8B_max"], 100.0)
        self.assertEqual(m["rslatency_4MB_max"], 5000.0)
        self.assertNotIn("rslatency_40MB_p50", m)
        self.assertNotIn("rslatency_8B_p50", notes)
        self.assertEqual(notes["rslatency_4MB_p99"], ["only 1 of 100 messages arrived in a run"])
        self.assertEqual(hooks.rslatency_metrics("no markers"), ({}, {}))


if __name__ == "__main__":
    unittest.main()
