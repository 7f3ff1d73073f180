#!/usr/bin/env python3
"""Self-test of run_tests.py: parsing, verdicts and runner plumbing, without QEMU.

Run: python3 -m unittest discover -s tests/harness -v   (or python3 tests/harness/test_harness.py)
The Axle side is exercised with a fake runner script that follows
docs/run-interface.md; nothing here builds Rust or boots a VM.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import textwrap
import tomllib
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_tests as rt  # noqa: E402


def spec(**kw) -> rt.TestSpec:
    kw.setdefault("name", "t")
    kw.setdefault("cmd", ("{bin}/prog",))
    return rt.TestSpec(**kw)


def parse(text: str) -> list[rt.TestSpec]:
    return rt.parse_tests(tomllib.loads(textwrap.dedent(text)))


class ParseTests(unittest.TestCase):
    def test_defaults_and_overrides(self):
        specs = parse("""
            [defaults]
            timeout = 30
            smp = [2]
            [[test]]
            name = "a"
            cmd = ["{bin}/a", "1"]
            [[test]]
            name = "b"
            cmd = ["{bin}/b"]
            status = 139
            smp = [1, 4]
            host = false
            expect = ['^done$']
            suite = "b"
            mem = "1G"
        """)
        a, b = specs
        self.assertEqual((a.name, a.cmd, a.status, a.timeout, a.smp, a.host, a.suite), ("a", ("{bin}/a", "1"), 0, 30, (2,), True, None))
        self.assertEqual((b.status, b.smp, b.host, b.expect, b.suite, b.mem), (139, (1, 4), False, ("^done$",), "b", "1G"))

    def test_builtin_defaults(self):
        (t,) = parse('[[test]]\nname = "x"\ncmd = ["x"]\n')
        self.assertEqual((t.status, t.smp, t.host, t.timeout, t.expect, t.forbid), (0, (2,), True, 60, (), ()))

    def test_errors(self):
        bad = {
            "unknown key": '[[test]]\nname = "x"\ncmd = ["x"]\nstatuss = 1\n',
            "missing cmd": '[[test]]\nname = "x"\n',
            "empty cmd": '[[test]]\nname = "x"\ncmd = []\n',
            "duplicate": '[[test]]\nname = "x"\ncmd = ["x"]\n[[test]]\nname = "x"\ncmd = ["y"]\n',
            "bad regex": '[[test]]\nname = "x"\ncmd = ["x"]\nexpect = ["("]\n',
            "status type": '[[test]]\nname = "x"\ncmd = ["x"]\nstatus = true\n',
            "status range": '[[test]]\nname = "x"\ncmd = ["x"]\nstatus = 256\n',
            "smp empty": '[[test]]\nname = "x"\ncmd = ["x"]\nsmp = []\n',
            "smp zero": '[[test]]\nname = "x"\ncmd = ["x"]\nsmp = [0]\n',
            "bad name": '[[test]]\nname = "a b"\ncmd = ["x"]\n',
            "top-level": 'tests = 1\n',
            "defaults key": '[defaults]\nstatus = 1\n',
        }
        for what, text in bad.items():
            with self.subTest(what), self.assertRaises(rt.ConfigError):
                parse(text)

    def test_declared_tests(self):
        specs = {s.name: s for s in rt.load_tests(rt.DEFAULT_TEST_LIST)}
        self.assertEqual(set(specs), {"acceptance", "basic", "nullderef", "exitcode-0", "exitcode-42", "exitcode-255"})
        acc = specs["acceptance"]
        self.assertEqual((acc.cmd, acc.status, acc.smp), (("{bin}/acceptance", "3", "x"), 3, (1, 2, 4)))
        self.assertEqual((specs["basic"].suite, specs["basic"].smp), ("basic", (1, 2)))
        self.assertEqual(specs["nullderef"].status, 139)
        self.assertEqual([specs[f"exitcode-{n}"].status for n in (0, 42, 255)], [0, 42, 255])
        self.assertEqual(specs["exitcode-42"].cmd, ("{bin}/exitcode", "42"))

    def test_select_smp_substitute(self):
        specs = [spec(name="basic"), spec(name="exitcode-0"), spec(name="exitcode-42")]
        self.assertEqual([s.name for s in rt.select_tests(specs, ["exit"])], ["exitcode-0", "exitcode-42"])
        self.assertEqual([s.name for s in rt.select_tests(specs, ["basic", "42"])], ["basic", "exitcode-42"])
        self.assertEqual(len(rt.select_tests(specs, None)), 3)
        self.assertEqual(rt.parse_smp_option("1,2,4"), (1, 2, 4))
        for bad in ("", "0", "a", "1,-2"):
            with self.subTest(bad), self.assertRaises(Exception):
                rt.parse_smp_option(bad)
        self.assertEqual(rt.substitute(("{bin}/a", "x{bin}"), "/add"), ["/add/a", "x/add"])


class VerdictTests(unittest.TestCase):
    def test_status_and_output(self):
        self.assertEqual(rt.status_from_returncode(-11), 139)
        self.assertEqual(rt.status_from_returncode(42), 42)
        self.assertEqual(rt.normalize_output(b"a\r\nb\r\n"), "a\nb\n")
        s = spec(status=3, expect=(r"^done$", r"^argv\[2\]=x$"), forbid=(r"^error:",))
        self.assertTrue(rt.evaluate(s, rt.RunOutcome(3, "argv[2]=x\ndone\n")).passed)
        v = rt.evaluate(s, rt.RunOutcome(0, "argv[2]=x\nnot done\nerror: bad\n"))
        self.assertFalse(v.passed)
        self.assertIn("status 0 != 3", v.reasons)
        self.assertIn("missing output /^done$/", v.reasons)
        self.assertTrue(any(r.startswith("forbidden output /^error:/: 'error: bad'") for r in v.reasons))

    def test_unfinished_runs_report_only_the_cause(self):
        s = spec(expect=("^done$",), suite="basic")
        v = rt.evaluate(s, rt.RunOutcome(None, "", error="runner missing"))
        self.assertEqual(v.reasons, ["runner missing"])
        v = rt.evaluate(s, rt.RunOutcome(None, "ok basic::a\n", timed_out=True))
        self.assertEqual(v.reasons, ["timeout after 60 s"])
        v = rt.evaluate(s, rt.RunOutcome(None, "", kernel_fault=True))
        self.assertEqual(v.reasons, ["kernel fault"])

    def test_suite_lines(self):
        out = textwrap.dedent("""\
            boot noise
            ok basic::write_stdout
            FAIL basic::brk_grows: brk(0x1000) returned 0x0 (start 0x0)
            ok other::x
            ok basic::uname
            basic: 2 passed, 1 failed
        """)
        passed, failed = rt.parse_check_lines(out, "basic")
        self.assertEqual(passed, ["write_stdout", "uname"])
        self.assertEqual(failed, ["FAIL basic::brk_grows: brk(0x1000) returned 0x0 (start 0x0)"])
        self.assertEqual(rt.parse_summary(out, "basic"), (2, 1))
        self.assertIsNone(rt.parse_summary(out, "other"))

        s = spec(suite="basic", status=0)
        v = rt.evaluate(s, rt.RunOutcome(1, out))
        self.assertFalse(v.passed)
        self.assertEqual(v.checks_ok, 2)
        self.assertEqual(v.checks_failed, failed)
        self.assertIn("1 check(s) failed", v.reasons)

        good = "ok basic::a\nok basic::b\nbasic: 2 passed, 0 failed\n"
        v = rt.evaluate(s, rt.RunOutcome(0, good))
        self.assertTrue(v.passed)
        self.assertEqual(rt.report_line("axle/smp2", s, v), "PASS axle/smp2  t (2 checks)")

        # Crash after some checks: no summary line, even with status 0.
        v = rt.evaluate(s, rt.RunOutcome(0, "ok basic::a\n"))
        self.assertFalse(v.passed)
        self.assertTrue(any("summary line" in r for r in v.reasons))
        # Summary disagreeing with the lines.
        v = rt.evaluate(s, rt.RunOutcome(0, "ok basic::a\nbasic: 2 passed, 0 failed\n"))
        self.assertTrue(any("summary says 2 passed" in r for r in v.reasons))
        # No check at all.
        v = rt.evaluate(s, rt.RunOutcome(0, "basic: 0 passed, 0 failed\n"))
        self.assertIn("the suite ran no check", v.reasons)

    def test_report_line_format(self):
        s = spec(name="acceptance", status=3)
        v = rt.evaluate(s, rt.RunOutcome(0, ""))
        self.assertEqual(rt.report_line("axle/smp1", s, v), "FAIL axle/smp1  acceptance: status 0 != 3")
        self.assertEqual(rt.report_line("host", s, rt.evaluate(s, rt.RunOutcome(3, ""))), "PASS host  acceptance")


class RunnerTests(unittest.TestCase):
    def test_result_json(self):
        base = {"status": None, "signal": None, "kernel_fault": False, "timeout": False, "boot_to_user_ms": 12.5, "wall_ms": 100.0}
        o = rt.outcome_from_result({**base, "status": 3}, 3, "out", 1.0)
        self.assertEqual((o.status, o.error, o.boot_ms), (3, None, 12.5))
        o = rt.outcome_from_result({**base, "signal": 11}, 139, "", 1.0)
        self.assertEqual((o.status, o.error), (139, None))
        o = rt.outcome_from_result({**base, "kernel_fault": True}, 125, "", 1.0)
        self.assertEqual((o.status, o.kernel_fault, o.error), (None, True, None))
        o = rt.outcome_from_result({**base, "timeout": True}, 124, "", 1.0)
        self.assertEqual((o.status, o.timed_out, o.error), (None, True, None))
        o = rt.outcome_from_result(base, 126, "", 1.0)
        self.assertIn("no exit status", o.error)
        o = rt.outcome_from_result(None, 1, "", 1.0)
        self.assertIn("no valid result JSON", o.error)
        o = rt.outcome_from_result({**base, "status": "3"}, 3, "", 1.0)
        self.assertIn("'status'", o.error)
        o = rt.outcome_from_result({**base, "status": 3}, 0, "", 1.0)
        self.assertEqual(o.error, "runner exit 0 != result status 3")

    def test_runner_command(self):
        s = spec(cmd=("{bin}/acceptance", "3", "x"), timeout=179.5, mem="1G")
        opts = rt.AxleOptions(runner=Path("/r/run-qemu"), accel="tcg", kernel="k.elf", initrd="i.cpio")
        self.assertEqual(
            rt.runner_command(s, 4, Path("/stage"), Path("/tmp/r.json"), opts),
            ["/r/run-qemu", "--result", "/tmp/r.json", "--smp", "4", "--add", "/stage", "--timeout", "180",
             "--mem", "1G", "--accel", "tcg", "--kernel", "k.elf", "--initrd", "i.cpio",
             "--", "/add/acceptance", "3", "x"],
        )
        plain = rt.runner_command(spec(), 2, Path("/s"), Path("/r.json"), rt.AxleOptions(runner=Path("/x")))
        self.assertEqual(plain, ["/x", "--result", "/r.json", "--smp", "2", "--add", "/s", "--timeout", "60", "--", "/add/prog"])

    def test_missing_runner_is_a_clear_failure(self):
        o = rt.run_axle(spec(), 2, Path("/nonexistent"), rt.AxleOptions(runner=Path("/nonexistent/run-qemu")))
        self.assertIsNone(o.status)
        self.assertIn("not found", o.error)
        v = rt.evaluate(spec(), o)
        self.assertFalse(v.passed)
        self.assertEqual(len(v.reasons), 1)

    def test_fake_runner(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            record = tmp / "argv.json"
            runner = tmp / "run-qemu"
            # A stand-in following docs/run-interface.md: "runs" /add/PROG by
            # printing its args and exiting with the first one.
            runner.write_text(textwrap.dedent(f"""\
                #!{sys.executable}
                import json, sys
                argv = sys.argv[1:]
                json.dump(argv, open({str(record)!r}, "w"))
                result = argv[argv.index("--result") + 1]
                cmd = argv[argv.index("--") + 1:]
                print("axle boot noise\\r")
                print("args:", " ".join(cmd[1:]) + "\\r")
                code = int(cmd[1])
                json.dump({{"status": code, "signal": None, "kernel_fault": False,
                           "timeout": False, "boot_to_user_ms": 5.0, "wall_ms": 9.0}}, open(result, "w"))
                sys.exit(code)
            """))
            runner.chmod(0o755)
            s = spec(cmd=("{bin}/exitcode", "42", "x"), status=42, expect=("^args: 42 x$",))
            o = rt.run_axle(s, 1, tmp, rt.AxleOptions(runner=runner))
            self.assertEqual((o.status, o.error, o.boot_ms), (42, None, 5.0))
            self.assertTrue(rt.evaluate(s, o).passed, rt.evaluate(s, o).reasons)
            argv = json.loads(record.read_text())
            self.assertEqual(argv[argv.index("--"):], ["--", "/add/exitcode", "42", "x"])
            self.assertEqual(argv[argv.index("--smp") + 1], "1")
            self.assertEqual(argv[argv.index("--add") + 1], str(tmp))

    def test_host_runs(self):
        o = rt.run_host(spec(cmd=("sh", "-c", "echo hi; kill -SEGV $$")), Path("/"))
        self.assertEqual((o.status, o.output), (139, "hi\n"))
        o = rt.run_host(spec(cmd=("sh", "-c", "exit 42")), Path("/"))
        self.assertEqual(o.status, 42)
        o = rt.run_host(spec(cmd=("sleep", "10"), timeout=0.3), Path("/"))
        self.assertEqual((o.status, o.timed_out), (None, True))
        o = rt.run_host(spec(cmd=("{bin}/missing",)), Path("/nonexistent"))
        self.assertIn("cannot start", o.error)

    def test_cargo_json(self):
        lines = [
            '{"reason":"compiler-artifact","target":{"name":"checks"},"executable":null}',
            '{"reason":"compiler-artifact","target":{"name":"basic"},"executable":"/t/release/basic"}',
            "not json",
            '{"reason":"build-finished","success":true}',
            '{"reason":"compiler-artifact","executable":"/t/release/basic"}',
        ]
        self.assertEqual(rt.executables_from_cargo_json(lines), [Path("/t/release/basic")])


class MainTests(unittest.TestCase):
    def run_main(self, toml: str, *args: str) -> tuple[int, str]:
        with tempfile.TemporaryDirectory() as tmp:
            tests = Path(tmp) / "tests.toml"
            tests.write_text(textwrap.dedent(toml))
            old = os.environ.get("AXLE_CACHE_DIR")
            os.environ["AXLE_CACHE_DIR"] = tmp
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    rc = rt.main(["--no-build", "--tests", str(tests), "--stage-dir", tmp, *args])
            finally:
                if old is None:
                    del os.environ["AXLE_CACHE_DIR"]
                else:
                    os.environ["AXLE_CACHE_DIR"] = old
            return rc, out.getvalue()

    TOML = """
        [[test]]
        name = "three"
        cmd = ["sh", "-c", "echo done; exit 3"]
        status = 3
        expect = ['^done$']
        [[test]]
        name = "suite"
        cmd = ["sh", "-c", "echo ok s::a; echo 'FAIL s::b: wrong'; echo 's: 1 passed, 1 failed'; exit 1"]
        status = 1
        suite = "s"
    """

    def test_host_only(self):
        rc, out = self.run_main(self.TOML, "--host-only")
        lines = out.splitlines()
        self.assertEqual(rc, 1)
        self.assertEqual(lines[0], "PASS host  three")
        self.assertEqual(lines[1], "FAIL host  suite: 1 check(s) failed")
        self.assertIn("    FAIL s::b: wrong", lines)
        self.assertEqual(lines[-1], "1 passed, 1 failed")

    def test_selection_and_missing_runner(self):
        rc, out = self.run_main(self.TOML, "-k", "three", "--smp", "1,4", "--runner", "/nonexistent/run-qemu")
        lines = [l for l in out.splitlines() if l.startswith(("PASS", "FAIL"))]
        self.assertEqual([l.split(":")[0] for l in lines], ["PASS host  three", "FAIL axle/smp1  three", "FAIL axle/smp4  three"])
        self.assertEqual(out.splitlines()[-1], "1 passed, 2 failed")
        self.assertEqual(rc, 1)

    def test_no_match(self):
        with contextlib.redirect_stderr(io.StringIO()):
            rc, out = self.run_main(self.TOML, "-k", "nothing")
        self.assertEqual((rc, out.splitlines()[-1]), (1, "0 passed, 0 failed"))


if __name__ == "__main__":
    unittest.main()
