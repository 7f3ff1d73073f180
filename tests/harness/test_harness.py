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
            "append type": '[[test]]\nname = "x"\ncmd = ["x"]\nappend = "a b"\n',
            "append space": '[[test]]\nname = "x"\ncmd = ["x"]\nappend = ["a b"]\n',
            "append empty word": '[[test]]\nname = "x"\ncmd = ["x"]\nappend = [""]\n',
            "kernel_fault type": '[[test]]\nname = "x"\ncmd = ["x"]\nkernel_fault = 1\n',
            "kernel_fault+host": '[[test]]\nname = "x"\ncmd = ["x"]\nkernel_fault = true\nhost = true\n',
            "kernel_fault+status": '[[test]]\nname = "x"\ncmd = ["x"]\nkernel_fault = true\nstatus = 0\n',
            "kernel_fault+suite": '[[test]]\nname = "x"\ncmd = ["x"]\nkernel_fault = true\nsuite = "x"\n',
            "host type": '[[test]]\nname = "x"\ncmd = ["x"]\nhost = "no"\n',
            "unknown fixture": '[[test]]\nname = "x"\ncmd = ["x"]\nfixture = "nope"\n',
            "fixture type": '[fixture.f]\ngen = ["g"]\n[[test]]\nname = "x"\ncmd = ["x"]\nfixture = ["f"]\n',
            "fixture no gen": '[fixture.f]\n[[test]]\nname = "x"\ncmd = ["x"]\nfixture = "f"\n',
            "fixture empty gen": '[fixture.f]\ngen = []\n',
            "fixture gen type": '[fixture.f]\ngen = "g x"\n',
            "fixture key": '[fixture.f]\ngen = ["g"]\nrun = ["x"]\n',
            "fixture not table": 'fixture = 1\n',
            "fixture entry": '[fixture]\nf = 1\n',
            "fixture name": '[fixture."a b"]\ngen = ["g"]\n',
        }
        for what, text in bad.items():
            with self.subTest(what), self.assertRaises(rt.ConfigError):
                parse(text)

    def test_new_keys(self):
        specs = parse("""
            [defaults]
            host = true
            [fixture.big]
            gen = ["{bin}/gen", "{dir}/f", "10"]
            [[test]]
            name = "crash"
            cmd = ["{bin}/x"]
            append = ["crashtest=panic", "log=debug"]
            kernel_fault = true
            expect = ['KERNEL PANIC']
            [[test]]
            name = "axle-only"
            cmd = ["{bin}/x"]
            host = false
            [[test]]
            name = "big"
            cmd = ["{bin}/verify", "{bin}/f"]
            fixture = "big"
            [[test]]
            name = "crash-explicit"
            cmd = ["{bin}/x"]
            kernel_fault = true
            host = false
        """)
        crash, axle_only, big, explicit = specs
        self.assertEqual((crash.append, crash.kernel_fault, crash.host, crash.fixture), (("crashtest=panic", "log=debug"), True, False, None))
        self.assertEqual((explicit.kernel_fault, explicit.host), (True, False))
        self.assertEqual((axle_only.host, axle_only.kernel_fault, axle_only.append), (False, False, ()))
        self.assertEqual(big.fixture, rt.Fixture("big", ("{bin}/gen", "{dir}/f", "10")))
        self.assertTrue(big.host)

    def test_net_key(self):
        net, plain = parse("""
            [[test]]
            name = "net"
            cmd = ["{bin}/x"]
            host = false
            net = "user"
            append = ["nettest"]
            [[test]]
            name = "plain"
            cmd = ["{bin}/x"]
        """)
        self.assertEqual((net.net, net.host, net.append), ("user", False, ("nettest",)))
        self.assertIsNone(plain.net)
        for bad in ('net = "tap"', "net = true", 'net = ["user"]'):
            with self.subTest(bad), self.assertRaises(rt.ConfigError):
                parse(f'[[test]]\nname = "n"\ncmd = ["x"]\n{bad}\n')
        with self.assertRaises(rt.ConfigError):  # not a [defaults] key
            parse('[defaults]\nnet = "user"\n[[test]]\nname = "n"\ncmd = ["x"]\n')
        opts = rt.AxleOptions(runner=Path("/x"), accel="tcg")
        self.assertEqual(rt.runner_command(net, 2, Path("/s"), Path("/r.json"), opts),
                         ["/x", "--result", "/r.json", "--smp", "2", "--add", "/s", "--timeout", "60",
                          "--append", "nettest", "--net", "user", "--accel", "tcg", "--", "/add/x"])
        self.assertNotIn("--net", rt.runner_command(plain, 2, Path("/s"), Path("/r.json"), opts))
        declared = {s.name: s for s in rt.load_tests(rt.DEFAULT_TEST_LIST)}["nettest"]
        self.assertEqual((declared.net, declared.host, declared.append, declared.status), ("user", False, ("nettest",), 0))

    def test_declared_tests(self):
        specs = {s.name: s for s in rt.load_tests(rt.DEFAULT_TEST_LIST)}
        # The list grows with every issue; these entries are the ones whose parsed form is checked below.
        self.assertLessEqual({"acceptance", "basic", "nullderef", "exitcode-0", "exitcode-42", "exitcode-255",
                              "preempt", "big-add", "kernel-fault-pagefault", "kernel-fault-panic", "nettest"}, set(specs))
        self.assertEqual(specs["nettest"].net, "user")
        self.assertEqual((specs["preempt"].suite, specs["preempt"].smp), ("preempt", (1, 2)))
        big = specs["big-add"]
        self.assertEqual(big.fixture, rt.Fixture("big-add", ("{bin}/bigfile", "gen", "{dir}/big.bin", "209715200")))
        self.assertEqual((big.cmd, big.mem, big.timeout, big.smp, big.host),
                         (("{bin}/bigfile", "verify", "{bin}/big.bin", "209715200"), "1G", 240, (2,), True))
        self.assertEqual(big.expect, ("^verified 209715200 bytes$",))
        for name, word, expect in (("kernel-fault-pagefault", "crashtest=pagefault", ("KERNEL FAULT", "page fault")),
                                   ("kernel-fault-panic", "crashtest=panic", ("KERNEL PANIC",))):
            t = specs[name]
            self.assertEqual((t.kernel_fault, t.host, t.append, t.expect, t.smp, t.cmd),
                             (True, False, (word,), expect, (2,), ("{bin}/exitcode", "0")))
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

    def test_kernel_fault_expected(self):
        s = spec(kernel_fault=True, host=False, expect=("KERNEL PANIC",), forbid=("^exitcode:",))
        v = rt.evaluate(s, rt.RunOutcome(None, "KERNEL PANIC at x\n", kernel_fault=True, runner_rc=125))
        self.assertTrue(v.passed, v.reasons)
        self.assertEqual(rt.report_line("axle/smp2", s, v), "PASS axle/smp2  t (kernel fault, as expected)")
        # The fault happened, but not with the expected message.
        v = rt.evaluate(s, rt.RunOutcome(None, "KERNEL FAULT\n", kernel_fault=True))
        self.assertEqual(v.reasons, ["missing output /KERNEL PANIC/"])
        # No fault: the program ran and exited (the kernel lacks the crash switch).
        v = rt.evaluate(s, rt.RunOutcome(0, "exitcode: exiting with 0\n"))
        self.assertFalse(v.passed)
        self.assertEqual(v.reasons[0], "expected a kernel fault, but the program exited with status 0")
        self.assertTrue(any(r.startswith("forbidden output") for r in v.reasons))
        v = rt.evaluate(s, rt.RunOutcome(None, "", timed_out=True))
        self.assertEqual(v.reasons, ["timeout after 60 s"])
        v = rt.evaluate(s, rt.RunOutcome(None, ""))
        self.assertEqual(v.reasons, ["expected a kernel fault, but none was reported"])
        v = rt.evaluate(s, rt.RunOutcome(None, "", error="runner missing"))
        self.assertEqual(v.reasons, ["runner missing"])
        # A runner exit status that disagrees with the fault fails it.
        o = rt.outcome_from_result({"status": None, "signal": None, "kernel_fault": True, "timeout": False}, 0, "KERNEL PANIC", 1.0)
        v = rt.evaluate(s, o)
        self.assertEqual(v.reasons, ["runner exit 0 != 125 for a kernel fault"])

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
        self.assertEqual((o.status, o.kernel_fault, o.error, o.runner_rc), (None, True, None, 125))
        o = rt.outcome_from_result({**base, "kernel_fault": True}, 1, "", 1.0)
        self.assertEqual(o.error, "runner exit 1 != 125 for a kernel fault")
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
        crash = rt.runner_command(spec(append=("crashtest=panic", "log=x")), 2, Path("/s"), Path("/r.json"),
                                  rt.AxleOptions(runner=Path("/x")))
        self.assertEqual(crash, ["/x", "--result", "/r.json", "--smp", "2", "--add", "/s", "--timeout", "60",
                                 "--append", "crashtest=panic log=x", "--", "/add/prog"])

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

    def test_host_helper_and_forward_keys(self):
        t, = parse("""
            [[test]]
            name = "fw"
            cmd = ["{bin}/x", "{host_addr}", "{fwd_port}"]
            host_helper = ["python3", "{repo}/h.py", "{port}"]
            forward = true
        """)
        self.assertEqual((t.net, t.forward, t.host_helper), ("user", True, ("python3", "{repo}/h.py", "{port}")))
        two, = parse("""
            [[test]]
            name = "fw2"
            cmd = ["{bin}/x", "{fwd_port}", "{fwd_port2}"]
            host_helper = ["h"]
            helper_verdict = true
            forward = 2
        """)
        self.assertEqual((two.forward, two.helper_verdict), (2, True))
        subs2 = {"fwd_port": "5", "fwd_port2": "6", "host_addr": "10.0.2.2", "port": "1"}
        cmd2 = rt.runner_command(two, 1, Path("/s"), Path("/r.json"), rt.AxleOptions(runner=Path("/x")), subs2)
        self.assertEqual([cmd2[i + 1] for i, a in enumerate(cmd2) if a == "--fwd"], ["tcp:5:5", "tcp:6:6"])
        for bad in ('host_helper = "x"', 'forward = 9', 'forward = "1"', 'net = "none"\nforward = true',
                    'helper_verdict = true'):
            with self.subTest(bad), self.assertRaises(rt.ConfigError):
                parse(f'[[test]]\nname = "n"\ncmd = ["x"]\n{bad}\n')
        subs = {"fwd_port": "4242", "host_addr": "10.0.2.2", "port": "1"}
        cmd = rt.runner_command(t, 1, Path("/s"), Path("/r.json"), rt.AxleOptions(runner=Path("/x")), subs)
        self.assertEqual(cmd[cmd.index("--fwd") + 1], "tcp:4242:4242")
        self.assertEqual(cmd[-2:], ["10.0.2.2", "4242"])

    def test_host_helper_runs_around_the_test(self):
        with tempfile.TemporaryDirectory() as d:
            helper = Path(d) / "h.sh"
            helper.write_text("echo ready; echo port=$1; sleep 30\n")
            t = spec(cmd=("sh", "-c", "echo addr={host_addr}"), host_helper=("sh", str(helper), "{port}"))
            o = rt.run_host(t, Path("/"))
            self.assertEqual(o.status, 0)
            self.assertIn("addr=127.0.0.1", o.output)
            self.assertRegex(o.output, r"helper\| port=\d+")
            self.assertIsNone(o.error)
            failing = Path(d) / "f.sh"
            failing.write_text("echo ready; exit 3\n")
            o = rt.run_host(spec(cmd=("sleep", "0.5"), host_helper=("sh", str(failing))), Path("/"))
            self.assertIn("host helper failed (status 3)", o.error)
            late = Path(d) / "l.sh"
            late.write_text("echo ready; sleep 0.5; exit 3\n")
            o = rt.run_host(spec(cmd=("true",), host_helper=("sh", str(late)), helper_verdict=True), Path("/"))
            self.assertIn("host helper failed (status 3)", o.error or "")
            late.write_text("echo ready; sleep 0.5; exit 0\n")
            o = rt.run_host(spec(cmd=("true",), host_helper=("sh", str(late)), helper_verdict=True), Path("/"))
            self.assertIsNone(o.error)
            silent = Path(d) / "s.sh"
            silent.write_text("exit 0\n")
            o = rt.run_host(spec(cmd=("true",), host_helper=("sh", str(silent))), Path("/"))
            self.assertIn("did not say `ready`", o.error)

    def test_host_runs(self):
        o = rt.run_host(spec(cmd=("sh", "-c", "echo hi; kill -SEGV $$")), Path("/"))
        self.assertEqual((o.status, o.output), (139, "hi\n"))
        o = rt.run_host(spec(cmd=("sh", "-c", "exit 42")), Path("/"))
        self.assertEqual(o.status, 42)
        o = rt.run_host(spec(cmd=("sleep", "10"), timeout=0.3), Path("/"))
        self.assertEqual((o.status, o.timed_out), (None, True))
        o = rt.run_host(spec(cmd=("{bin}/missing",)), Path("/nonexistent"))
        self.assertIn("cannot start", o.error)

    def test_input_keys(self):
        t, = parse("""
            [[test]]
            name = "shell"
            cmd = []
            host_cmd = ["/bin/busybox", "sh"]
            input = [{ wait = '/ # ', send = "ls\\r" }, { wait = 'x', after = 0.5, timeout = 3 }]
            expect = ['^hi$']
        """)
        self.assertEqual(t.cmd, ())
        self.assertEqual(t.host_cmd, ("/bin/busybox", "sh"))
        self.assertEqual(t.input, (rt.typist.Step(wait="/ # ", send="ls\r"), rt.typist.Step(wait="x", after=0.5, timeout=3.0)))
        for bad in (
            'cmd = []',  # no input: a command is needed
            'cmd = []\ninput = [{ send = "x" }]',  # host run without host_cmd
            'cmd = ["x"]\ninput = []',
            'cmd = ["x"]\ninput = [{ wait = "(" }]',
            'cmd = ["x"]\ninput = [{ wait = "a", bogus = 1 }]',
            'cmd = ["x"]\ninput = [{ after = -1 }]',
            'cmd = ["x"]\ninput = [{}]',
            'cmd = ["x"]\nhost_cmd = []',
            'cmd = ["x"]\nkernel_fault = true\ninput = [{ send = "x" }]',
        ):
            with self.subTest(bad), self.assertRaises(rt.ConfigError):
                parse(f'[[test]]\nname = "n"\n{bad}\n')
        # Axle-only, no host_cmd needed.
        u, = parse('[[test]]\nname = "n"\ncmd = []\nhost = false\ninput = [{ send = "exit\\r" }]\n')
        self.assertEqual(u.host_cmd, None)

    def test_runner_command_with_input(self):
        t = spec(cmd=(), input=(rt.typist.Step(send="x"),))
        cmd = rt.runner_command(t, 2, Path("/s"), Path("/r.json"), rt.AxleOptions(runner=Path("/x")),
                                input_path=Path("/tmp/in.json"))
        self.assertEqual(cmd, ["/x", "--result", "/r.json", "--smp", "2", "--add", "/s", "--timeout", "60",
                               "--input", "/tmp/in.json"])

    def test_console_session_verdict_uses_screen_text(self):
        t = spec(input=(rt.typist.Step(send="x"),), expect=("^a b$",), forbid=("\x1b",))
        o = rt.RunOutcome(0, "\x1b[1ma\x1b[0m b\n/ # \x1b[6n")
        self.assertTrue(rt.evaluate(t, o).passed, rt.evaluate(t, o).reasons)
        self.assertFalse(rt.evaluate(spec(expect=("^a b$",)), o).passed)

    def test_host_console_session(self):
        steps = (
            rt.typist.Step(wait=r"\$ $", send="stty size; tty >/dev/null && echo on-a-tty; echo $TERM\r"),
            rt.typist.Step(wait=r"^linux\n", send="cat\r"),
            rt.typist.Step(after=0.3, send="ab\x7fc\r"),
            rt.typist.Step(wait=r"^ac\n", send="\x04"),
            rt.typist.Step(wait=r"\$ $", send="exit 3\r"),
        )
        t = spec(cmd=("sh", "-c", "PS1='$ ' exec sh -i"), input=steps, timeout=20)
        o = rt.run_host(t, Path("/"))
        self.assertEqual((o.status, o.error, o.timed_out), (3, None, False), o.output)
        text = rt.typist.screen_text(o.output)
        self.assertIn("24 80\n", text)
        self.assertIn("on-a-tty\n", text)
        self.assertIn("ab\x08 \x08c\nac\n", text)  # the kernel's echo, then cat's output
        # A wait that never matches: a timeout naming the step.
        t = spec(cmd=("sh",), input=(rt.typist.Step(wait="never", timeout=0.5),), timeout=20)
        o = rt.run_host(t, Path("/"))
        self.assertTrue(o.timed_out)
        self.assertIn("input step 1: /never/ did not appear within 0.5 s", o.error)

    def test_typist(self):
        ty = rt.typist
        self.assertEqual(ty.screen_text(b"a\r\n\x1b[6n\x1b[1;13Hb\x1b]0;title\x07c\x1b(B"), "a\nbc")
        c = ty.Console()
        sent = []
        k = ty.Typist([ty.Step(wait="p> ", send="one"), ty.Step(wait="p> ", send="two")], c, sent.append)
        k.start()
        c.feed(b"p> ")
        c.feed(b"\x1b[0mp> ")
        k.join(5)
        self.assertEqual((sent, k.progress()), ([b"one", b"two"], {"steps": 2, "done": 2, "failed": None}))
        c = ty.Console()
        k = ty.Typist([ty.Step(wait="x", send="y")], c, sent.append)
        k.start()
        c.close()
        k.join(5)
        self.assertEqual(k.progress()["failed"], "input step 1: /x/ did not appear")
        self.assertEqual(ty.parse_steps(json.loads(ty.dump([ty.Step(wait="a", after=1.0, send="\x03")]))),
                         [ty.Step(wait="a", after=1.0, send="\x03")])

    def test_cargo_json(self):
        lines = [
            '{"reason":"compiler-artifact","target":{"name":"checks"},"executable":null}',
            '{"reason":"compiler-artifact","target":{"name":"basic"},"executable":"/t/release/basic"}',
            "not json",
            '{"reason":"build-finished","success":true}',
            '{"reason":"compiler-artifact","executable":"/t/release/basic"}',
        ]
        self.assertEqual(rt.executables_from_cargo_json(lines), [Path("/t/release/basic")])


GEN_SCRIPT = """\
#!/bin/sh
# gen DIR COUNTFILE: writes DIR/data, counts its runs in COUNTFILE
echo run >> "$2"
echo generated > "$1/data"
"""


class FixtureTests(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)
        self.stage = self.tmp / "stage"
        self.stage.mkdir()
        (self.stage / "prog").write_text("#!/bin/sh\necho prog\n")
        (self.stage / "prog").chmod(0o755)
        self.gen = self.stage / "gen"
        self.gen.write_text(GEN_SCRIPT)
        self.gen.chmod(0o755)
        self.count = self.tmp / "count"
        self.root = self.tmp / "fixtures"
        self.fixture = rt.Fixture("f", ("{bin}/gen", "{dir}", str(self.count)))

    def runs(self) -> int:
        return len(self.count.read_text().splitlines()) if self.count.exists() else 0

    def test_generate_stamp_and_skip(self):
        log = self.tmp / "logs" / "f.log"
        d, note = rt.prepare_fixture(self.fixture, self.stage, self.root, log)
        self.assertEqual(d, (self.root / "f").resolve())
        self.assertTrue(note.startswith("generated"), note)
        self.assertEqual((d / "data").read_text(), "generated\n")
        self.assertEqual((d / "prog").read_text(), "#!/bin/sh\necho prog\n")
        self.assertTrue(os.access(d / "prog", os.X_OK))
        self.assertIn(str(self.gen), log.read_text())
        stamp = json.loads((d / rt.FIXTURE_STAMP).read_text())
        self.assertEqual(stamp["gen"], [str(self.gen), str(d), str(self.count)])
        self.assertEqual(self.runs(), 1)
        # Unchanged: not generated again, but changed programs are copied again.
        (self.stage / "prog").write_text("#!/bin/sh\necho prog v2\n")
        d2, note = rt.prepare_fixture(self.fixture, self.stage, self.root)
        self.assertEqual((d2, note, self.runs()), (d, "up to date", 1))
        self.assertIn("v2", (d / "prog").read_text())
        # The gen program changed (size): generated again.
        self.gen.write_text(GEN_SCRIPT + "# v2\n")
        _, note = rt.prepare_fixture(self.fixture, self.stage, self.root)
        self.assertTrue(note.startswith("generated"), note)
        self.assertEqual(self.runs(), 2)
        # Only the mtime changed: generated again.
        st = self.gen.stat()
        os.utime(self.gen, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        rt.prepare_fixture(self.fixture, self.stage, self.root)
        self.assertEqual(self.runs(), 3)
        # Other arguments: generated again.
        other = rt.Fixture("f", ("{bin}/gen", "{dir}", str(self.count), "extra"))
        rt.prepare_fixture(other, self.stage, self.root)
        self.assertEqual(self.runs(), 4)
        # The directory was removed: generated again.
        import shutil
        shutil.rmtree(d)
        rt.prepare_fixture(other, self.stage, self.root)
        self.assertEqual(self.runs(), 5)
        self.assertTrue((d / "data").exists())

    def test_failing_gen(self):
        bad = rt.Fixture("f", ("sh", "-c", "echo oops; exit 3"))
        d, why = rt.prepare_fixture(bad, self.stage, self.root)
        self.assertIsNone(d)
        self.assertTrue(why.startswith("gen failed (status 3): sh -c"), why)
        self.assertIn("oops", why)
        self.assertFalse((self.root / "f" / rt.FIXTURE_STAMP).exists())
        d, why = rt.prepare_fixture(rt.Fixture("f", ("{bin}/missing",)), self.stage, self.root)
        self.assertIsNone(d)
        self.assertIn("cannot start", why)


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

    def test_fixture_and_kernel_fault(self):
        with tempfile.TemporaryDirectory() as fake:
            runner = Path(fake) / "run-qemu"
            record = Path(fake) / "calls.jsonl"
            # Fake runner: "panics" when --append asks for it, else runs CMD on the
            # host with /add mapped to the --add dir.
            runner.write_text(textwrap.dedent(f"""\
                #!{sys.executable}
                import json, subprocess, sys
                argv = sys.argv[1:]
                open({str(record)!r}, "a").write(json.dumps(argv) + "\\n")
                opt = lambda k: argv[argv.index(k) + 1] if k in argv else None
                cmd = [a.replace("/add", opt("--add")) for a in argv[argv.index("--") + 1:]]
                res = {{"status": None, "signal": None, "kernel_fault": False, "timeout": False}}
                if "crashtest=panic" in (opt("--append") or "").split():
                    print("KERNEL PANIC: crashtest\\r")
                    res["kernel_fault"] = True
                    rc = 125
                else:
                    rc = subprocess.run(cmd).returncode
                    res["status"] = rc
                json.dump(res, open(opt("--result"), "w"))
                sys.exit(rc)
            """))
            runner.chmod(0o755)
            toml = """
                [fixture.fx]
                gen = ["sh", "-c", "echo fixture-data > {dir}/data.txt"]
                [[test]]
                name = "uses-fixture"
                fixture = "fx"
                cmd = ["sh", "-c", "cat {bin}/data.txt"]
                expect = ['^fixture-data$']
                [[test]]
                name = "crash"
                cmd = ["true"]
                append = ["crashtest=panic"]
                kernel_fault = true
                expect = ['KERNEL PANIC']
                [[test]]
                name = "no-crash"
                cmd = ["true"]
                append = ["crashtest=other"]
                kernel_fault = true
                expect = ['KERNEL PANIC']
            """
            rc, out = self.run_main(toml, "--runner", str(runner))
            lines = out.splitlines()
            self.assertTrue(lines[0].startswith("fixture fx: "), out)
            self.assertIn("(generated in", lines[0])
            results = [l for l in lines if l.startswith(("PASS", "FAIL"))]
            self.assertEqual(results, [
                "PASS host  uses-fixture",
                "PASS axle/smp2  uses-fixture",
                "PASS axle/smp2  crash (kernel fault, as expected)",
                "FAIL axle/smp2  no-crash: expected a kernel fault, but the program exited with status 0",
            ])
            self.assertEqual((rc, lines[-1]), (1, "3 passed, 1 failed"))
            calls = [json.loads(l) for l in record.read_text().splitlines()]
            add_dirs = {c[c.index("--add") + 1] for c in calls}
            fixture_calls = [c for c in calls if c[-1] == "cat /add/data.txt"]
            self.assertEqual(len(fixture_calls), 1)
            self.assertTrue(fixture_calls[0][fixture_calls[0].index("--add") + 1].endswith("/stage/fixtures/fx"))
            self.assertEqual(len(add_dirs), 2)  # the fixture dir and the plain staging dir
            crash = [c for c in calls if "--append" in c]
            self.assertEqual(sorted(c[c.index("--append") + 1] for c in crash), ["crashtest=other", "crashtest=panic"])

    def test_failing_fixture(self):
        toml = """
            [fixture.fx]
            gen = ["sh", "-c", "echo broken; exit 2"]
            [[test]]
            name = "uses-fixture"
            fixture = "fx"
            cmd = ["true"]
            [[test]]
            name = "other"
            cmd = ["true"]
        """
        rc, out = self.run_main(toml, "--host-only")
        lines = out.splitlines()
        self.assertEqual(lines[0], "FAIL fixture  fx: gen failed (status 2): sh -c echo broken; exit 2")
        self.assertIn("    | broken", lines)
        self.assertIn("FAIL host  uses-fixture: fixture 'fx' could not be made: gen failed (status 2): "
                      "sh -c echo broken; exit 2", lines)
        self.assertIn("PASS host  other", lines)
        self.assertEqual((rc, lines[-1]), (1, "1 passed, 1 failed"))

    def test_axle_only_tests_skip_host(self):
        toml = """
            [[test]]
            name = "axle-only"
            cmd = ["false"]
            host = false
            [[test]]
            name = "crash"
            cmd = ["false"]
            kernel_fault = true
            [[test]]
            name = "both"
            cmd = ["true"]
        """
        rc, out = self.run_main(toml, "--host-only")
        self.assertEqual([l for l in out.splitlines() if l.startswith(("PASS", "FAIL"))], ["PASS host  both"])
        self.assertEqual(rc, 0)

    def test_no_match(self):
        with contextlib.redirect_stderr(io.StringIO()):
            rc, out = self.run_main(self.TOML, "-k", "nothing")
        self.assertEqual((rc, out.splitlines()[-1]), (1, "0 passed, 0 failed"))


if __name__ == "__main__":
    unittest.main()
