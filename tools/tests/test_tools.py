"""Unit tests of the host tools: the newc writer, the image builder and the runner.

    python3 -m unittest discover -s tools/tests

No QEMU and no kernel are needed: the runner is driven against tools/tests/fake_qemu.py.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))
sys.path.insert(0, str(REPO / "images"))

from axletools import newc, runner  # noqa: E402
import build_initramfs  # noqa: E402
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("axle_test_py", TOOLS / "test.py")
test_py = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(test_py)

FAKE_QEMU = TOOLS / "tests" / "fake_qemu.py"
RUN_QEMU = TOOLS / "run-qemu"


class Tmp(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="axle-tools-test-")
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()


class NewcTest(Tmp):
    def archive(self, fill) -> bytes:
        path = self.tmp / "a.cpio"
        with open(path, "wb") as f, newc.Writer(f) as w:
            fill(w)
        return path.read_bytes()

    def test_members_round_trip(self):
        data = self.archive(lambda w: (
            w.add_dir("/etc"),
            w.add_bytes("/etc/hostname", b"axle\n"),
            w.add_symlink("/etc/link", "hostname"),
            w.add_node("/dev/null", "c", 1, 3, 0o666),
            w.add_dir("/tmp", 0o1777),
        ))
        self.assertEqual(len(data) % 512, 0)
        self.assertTrue(data.startswith(b"070701"))
        self.assertIn(b"TRAILER!!!\0", data)
        ms = list(newc.read_members(data))
        self.assertEqual([m.name for m in ms], ["etc", "etc/hostname", "etc/link", "dev/null", "tmp"])
        self.assertEqual(ms[1].data, b"axle\n")
        self.assertEqual(ms[1].mode, stat.S_IFREG | 0o644)
        self.assertEqual(ms[2].kind, "symlink")
        self.assertEqual(ms[2].data, b"hostname")
        self.assertEqual((ms[3].kind, ms[3].rdev, ms[3].mode & 0o7777), ("char", (1, 3), 0o666))
        self.assertEqual(ms[4].mode, stat.S_IFDIR | 0o1777)
        self.assertEqual({m.uid for m in ms} | {m.gid for m in ms}, {0})
        self.assertEqual(len({m.ino for m in ms}), len(ms))

    def test_header_layout_and_alignment(self):
        for n in range(0, 9):
            data = self.archive(lambda w: w.add_bytes("/f" + "x" * n, b"y" * n))
            m = next(newc.read_members(data))
            self.assertEqual(m.data, b"y" * n)
            name_end = 110 + len(m.name) + 1
            start = name_end + (-name_end % 4)
            self.assertEqual(data[start:start + n], b"y" * n)
            self.assertEqual(int(data[6 + 11 * 8:14 + 11 * 8], 16), len(m.name) + 1)  # namesize

    def test_concatenated_archives_later_wins(self):
        a = self.archive(lambda w: w.add_bytes("/x", b"old"))
        b = self.archive(lambda w: w.add_bytes("/x", b"new"))
        ms = list(newc.read_members(a + b))
        self.assertEqual([m.data for m in ms], [b"old", b"new"])

    def test_tree_keeps_modes_links_and_streams(self):
        src = self.tmp / "src"
        (src / "d" / "e").mkdir(parents=True)
        (src / "prog").write_bytes(b"\x7fELF" + bytes(range(256)) * 5000)
        (src / "prog").chmod(0o750)
        (src / "d" / "e" / "f").write_text("f")
        (src / "ln").symlink_to("d/e/f")
        (src / "dirlink").symlink_to("d")
        os.mkfifo(src / "fifo")
        skipped = []
        out = self.tmp / "t.cpio"
        with open(out, "wb") as f, newc.Writer(f, mtime=None) as w:
            count = w.add_tree("/add", src, on_skip=lambda p, why: skipped.append(p))
        ms = {m.name: m for m in newc.read_members(out.read_bytes())}
        self.assertEqual(count, len(ms))
        self.assertEqual(set(ms), {"add", "add/d", "add/d/e", "add/d/e/f", "add/prog", "add/ln", "add/dirlink",
                                   "add/fifo"})
        self.assertEqual(ms["add/prog"].mode, stat.S_IFREG | 0o750)
        self.assertEqual(ms["add/prog"].data, (src / "prog").read_bytes())
        self.assertEqual(ms["add/prog"].mtime, int((src / "prog").stat().st_mtime))
        self.assertEqual((ms["add/ln"].kind, ms["add/ln"].data), ("symlink", b"d/e/f"))
        self.assertEqual(ms["add/dirlink"].kind, "symlink")
        self.assertEqual(ms["add/fifo"].kind, "fifo")
        names = list(ms)
        self.assertLess(names.index("add/d"), names.index("add/d/e/f"))
        self.assertEqual(skipped, [])

    def test_bad_names_and_strings(self):
        for bad in ("/", "", "/a/../b"):
            with self.assertRaises(newc.CpioError):
                newc.guest_name(bad)
        self.assertEqual(newc.guest_name("//a/./b/"), "a/b")
        self.assertEqual(newc.nul_strings(["a", "b c", ""]), b"a\0b c\0\0")
        with self.assertRaises(newc.CpioError):
            newc.nul_strings(["a\0b"])

    def test_reader_rejects_garbage(self):
        with self.assertRaises(newc.CpioError):
            list(newc.read_members(b"070701" + b"z" * 200))
        with self.assertRaises(newc.CpioError):
            list(newc.read_members(b"nonsense"))

    @unittest.skipUnless(shutil.which("cpio"), "the cpio tool is not installed")
    def test_gnu_cpio_extracts_it(self):
        src = self.tmp / "src"
        (src / "sub").mkdir(parents=True)
        (src / "sub" / "file").write_text("content\n")
        (src / "run").write_text("#!/bin/sh\n")
        (src / "run").chmod(0o755)
        arch = self.tmp / "x.cpio"
        with open(arch, "wb") as f, newc.Writer(f) as w:
            w.add_tree("/add", src)
            w.add_bytes("/etc/axle/cmd", b"a\0")
        out = self.tmp / "out"
        out.mkdir()
        with open(arch, "rb") as f:
            subprocess.run(["cpio", "-idm", "--quiet"], stdin=f, cwd=out, check=True)
        self.assertEqual((out / "add" / "sub" / "file").read_text(), "content\n")
        self.assertEqual((out / "add" / "run").stat().st_mode & 0o777, 0o755)
        self.assertEqual((out / "etc" / "axle" / "cmd").read_bytes(), b"a\0")


class ImageTest(Tmp):
    def test_default_manifest(self):
        out = self.tmp / "initramfs.cpio"
        count, changed, notes = build_initramfs.build(build_initramfs.DEFAULT_MANIFEST, out)
        self.assertTrue(changed)
        ms = {"/" + m.name: m for m in newc.read_members(out.read_bytes())}
        self.assertEqual(count, len(ms))
        for d in ("/bin", "/sbin", "/etc", "/dev", "/proc", "/sys", "/tmp", "/root", "/add", "/usr/bin", "/dev/shm",
                  "/opt"):
            self.assertEqual(ms[d].kind, "dir", d)
        self.assertEqual(ms["/tmp"].mode & 0o7777, 0o1777)
        self.assertEqual(ms["/etc/hostname"].data, b"axle\n")
        self.assertTrue(ms["/etc/passwd"].data.startswith(b"root:x:0:0:"))
        self.assertIn(b"127.0.0.1", ms["/etc/hosts"].data)
        self.assertIn(b"::1", ms["/etc/hosts"].data)
        self.assertEqual(ms["/etc/resolv.conf"].data, b"nameserver 10.0.2.3\n")
        self.assertEqual(ms["/etc/nsswitch.conf"].data, b"hosts: files dns\n")
        names = ["/" + m.name for m in newc.read_members(out.read_bytes())]
        self.assertLess(names.index("/dev"), names.index("/dev/shm"))
        # Reproducible: a second build changes nothing.
        _, changed, _ = build_initramfs.build(build_initramfs.DEFAULT_MANIFEST, out)
        self.assertFalse(changed)

    def manifest(self, text: str) -> Path:
        p = self.tmp / "m.toml"
        p.write_text(text)
        return p

    def test_host_files_symlinks_optional(self):
        host = self.tmp / "prog"
        host.write_bytes(b"\x7fELF")
        host.chmod(0o755)
        m = self.manifest(f"""
[[file]]
path = "/bin/prog"
host = "{host}"
[[symlink]]
path = "/bin/sh"
target = "prog"
[[dir]]
path = "/bin"
[[file]]
path = "/bin/missing"
host = "{self.tmp}/nope"
optional = true
""")
        out = self.tmp / "o.cpio"
        count, _, notes = build_initramfs.build(m, out)
        ms = list(newc.read_members(out.read_bytes()))
        self.assertEqual([x.name for x in ms], ["bin", "bin/prog", "bin/sh"])
        self.assertEqual(ms[1].mode & 0o777, 0o755)
        self.assertEqual(len(notes), 1)

    def test_manifest_errors(self):
        cases = {
            '[[file]]\npath = "/nodir/x"\ntext = ""\n': "parent",
            '[[dir]]\npath = "/a"\n[[dir]]\npath = "/a"\n': "duplicate",
            '[[file]]\npath = "/x"\n': "exactly one",
            '[[file]]\npath = "x"\ntext = ""\n': "absolute",
            '[[dir]]\npath = "/a"\nmode = "999"\n': "mode",
            '[[thing]]\npath = "/a"\n': "unknown kinds",
            '[[dir]]\npath = "/a"\ncolour = 1\n': "unknown keys",
            '[[file]]\npath = "/x"\nhost = "/nonexistent/file"\n': "does not exist",
        }
        for text, word in cases.items():
            with self.subTest(text=text):
                with self.assertRaises(build_initramfs.ManifestError) as cm:
                    build_initramfs.build(self.manifest(text), self.tmp / "o.cpio")
                self.assertIn(word, str(cm.exception))


class TestPyTest(unittest.TestCase):
    def test_relay_holds_back_the_summary(self):
        import io
        out = io.StringIO()
        got = test_py.relay(["PASS host  a\n", "1 passed, 0 failed\n", "FAIL axle/smp2  b\n", "3 passed, 2 failed\n"],
                            out)
        self.assertEqual(got, (3, 2))
        self.assertEqual(out.getvalue(), "PASS host  a\n1 passed, 0 failed\nFAIL axle/smp2  b\n")
        self.assertIsNone(test_py.relay(["crash\n"], io.StringIO()))


class RunnerUnitTest(Tmp):
    def test_command_argv(self):
        # A command string runs through the image's shell, unchanged.
        self.assertEqual(runner.command_argv("/add/prog 3 'a b' | wc -l"), ["/bin/sh", "-c", "/add/prog 3 'a b' | wc -l"])

    def test_guest_env(self):
        env = runner.guest_env()
        self.assertIn("PATH=/bin:/sbin:/usr/bin:/usr/sbin:/add", env)
        self.assertIn("HOME=/root", env)
        self.assertTrue(any(e.startswith("TERM=") for e in env))

    def cfg(self, **kw):
        base = dict(kernel=Path("/k"), initrd=None)
        base.update(kw)
        return runner.RunConfig(**base)

    def test_qemu_command(self):
        cmd = runner.qemu_command(self.cfg(accel="kvm", smp=4, mem="1G", append="selftest"), Path("/i.cpio"),
                                  Path("/s,ock"))
        s = " ".join(cmd)
        self.assertIn("-accel kvm -cpu host", s)
        self.assertIn("-m 1G -smp 4", s)
        self.assertIn("-initrd /i.cpio", s)
        self.assertIn("-append log=warn selftest", s)
        self.assertIn("socket,id=status,path=/s,,ock", s)
        self.assertIn("isa-debugcon,iobase=0x4f0,chardev=status", s)
        self.assertIn("isa-debug-exit,iobase=0xf4,iosize=4", s)
        self.assertIn("-no-reboot", s)
        self.assertNotIn("-qmp", s)
        with_qmp = runner.qemu_command(self.cfg(), None, Path("/s"), False, Path("/q.sock"))
        self.assertIn("unix:/q.sock,server=on,wait=off", with_qmp)
        tcg = " ".join(runner.qemu_command(self.cfg(), None, Path("/s")))
        self.assertIn("-accel tcg -cpu max", tcg)
        self.assertNotIn("-mem-prealloc", tcg)
        self.assertIn("-mem-prealloc", runner.qemu_command(self.cfg(host_rt=1), None, Path("/s")))
        self.assertNotIn("-initrd", tcg)
        self.assertIn("stdio,id=ser0,signal=off", tcg)
        inter = " ".join(runner.qemu_command(self.cfg(interactive=True), None, Path("/s"), True))
        self.assertIn("stdio,id=ser0,mux=on,signal=off", inter)
        cmd_tty = " ".join(runner.qemu_command(self.cfg(argv=["/x"]), None, Path("/s"), True))
        self.assertIn("stdio,id=ser0,signal=on", cmd_tty)

    def judged(self, lines, rc=1, stderr="", stopped=False, shutdown_reason=None, **kw):
        r = runner.Result(**kw)
        runner.judge(r, [(10.0 * i, line) for i, line in enumerate(lines, 1)], rc, stderr, stopped, shutdown_reason)
        return r

    def test_judge(self):
        r = self.judged(["axle: user", "axle: exit 3"])
        self.assertEqual((r.status, r.signal, r.kernel_fault, r.boot_to_user_ms, r.exit_status()), (3, None, False,
                                                                                                     10.0, 3))
        r = self.judged(["axle: signal 11"])
        self.assertEqual((r.status, r.signal, r.exit_status()), (None, 11, 139))
        r = self.judged(["axle: user", "axle: fault"], rc=3)
        self.assertEqual((r.status, r.kernel_fault, r.exit_status()), (None, True, 125))
        r = self.judged(["axle: exit 0", "axle: fault"], rc=3)
        self.assertEqual((r.status, r.kernel_fault, r.exit_status()), (None, True, 125))
        r = self.judged([], rc=0)  # triple fault under -no-reboot
        self.assertEqual((r.kernel_fault, r.qemu_failed, r.exit_status()), (True, False, 125))
        r = self.judged([], rc=1, stderr="qemu-system-x86_64: -bogus: invalid option\n")
        self.assertEqual((r.kernel_fault, r.qemu_failed, r.exit_status()), (False, True, 126))
        r = self.judged([], rc=-6, stderr="Assertion failed\n")
        self.assertEqual(r.exit_status(), 126)
        r = self.judged(["axle: user"], rc=-15, stopped=True, timeout=True)
        self.assertEqual((r.timeout, r.kernel_fault, r.status, r.exit_status()), (True, False, None, 124))
        r = self.judged(["axle: exit 5"], rc=-15, stopped=True, timeout=True)
        self.assertEqual((r.timeout, r.status, r.exit_status()), (False, 5, 5))
        r = self.judged([], rc=-2, stopped=False, interrupted=2)
        self.assertEqual(r.exit_status(), 130)
        r = self.judged(["axle: user"], rc=0)
        self.assertEqual((r.kernel_fault, r.exit_status()), (True, 125))
        r = self.judged([], rc=0, shutdown_reason="guest-reset")
        self.assertEqual((r.kernel_fault, r.exit_status()), (True, 125))
        self.assertIn("triple fault", r.error)
        r = self.judged([], rc=0, shutdown_reason="host-qmp-quit")
        self.assertEqual((r.kernel_fault, r.interrupted, r.exit_status()), (False, 2, 130))
        r = self.judged(["axle: exit 300"])
        self.assertEqual(r.exit_status(), 300 & 0xFF)
        r = self.judged(["axle: user-ish", "noise", "axle: exit 7 "])
        self.assertEqual((r.status, r.boot_to_user_ms), (7, None))

    def test_result_json_shape(self):
        d = self.judged(["axle: user", "axle: exit 0"]).to_json()
        for key, kinds in (("status", int), ("signal", type(None)), ("kernel_fault", bool), ("timeout", bool),
                           ("boot_to_user_ms", float), ("wall_ms", float)):
            self.assertIsInstance(d[key], kinds, key)
        json.dumps(d)

    def test_compose_initrd(self):
        base = self.tmp / "base.cpio"
        with open(base, "wb") as f, newc.Writer(f) as w:
            w.add_dir("/add")
            w.add_bytes("/etc/hostname", b"axle\n")
        add = self.tmp / "add"
        add.mkdir()
        (add / "p").write_bytes(b"prog")
        (add / "p").chmod(0o700)
        out = self.tmp / "run.cpio"
        runner.compose_initrd(out, base, add, ["/add/p", "a b", ""], ["PATH=/x", "TERM=linux"])
        ms = list(newc.read_members(out.read_bytes()))
        by = {m.name: m for m in ms}
        self.assertEqual(by["add/p"].data, b"prog")
        self.assertEqual(by["add/p"].mode & 0o777, 0o700)
        self.assertEqual(by["etc/axle/cmd"].data, b"/add/p\0a b\0\0")
        self.assertEqual(by["etc/axle/env"].data, b"PATH=/x\0TERM=linux\0")
        self.assertEqual(by["etc/hostname"].data, b"axle\n")
        # Without a command there is no cmd file (the kernel then runs /sbin/init).
        runner.compose_initrd(out, base, None, None, ["A=b"])
        names = [m.name for m in newc.read_members(out.read_bytes())]
        self.assertNotIn("etc/axle/cmd", names)
        self.assertIn("etc/axle/env", names)


class RunnerEndToEndTest(Tmp):
    """tools/run-qemu against fake_qemu.py: statuses, JSON, timeouts, boot timing."""

    def setUp(self):
        super().setUp()
        self.kernel = self.tmp / "axle"
        self.kernel.write_bytes(b"\x7fELF fake kernel")
        self.initrd = self.tmp / "base.cpio"
        with open(self.initrd, "wb") as f, newc.Writer(f) as w:
            w.add_dir("/add")
        self.env = dict(os.environ, AXLE_QEMU=str(FAKE_QEMU), AXLE_CACHE_DIR=str(self.tmp / "cache"),
                        TMPDIR=str(self.tmp))

    def run_qemu(self, *args, fake="", accel="tcg", timeout=60):
        result = self.tmp / "result.json"
        if result.exists():
            result.unlink()
        argv = [sys.executable, str(RUN_QEMU), "--kernel", str(self.kernel), "--initrd", str(self.initrd),
                "--accel", accel, "--result", str(result)]
        if fake:
            argv += ["--append", fake]
        proc = subprocess.run(argv + list(args), env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
        data = json.loads(result.read_text()) if result.exists() else None
        return proc, data

    def test_exit_status_and_boot_time(self):
        proc, r = self.run_qemu("--", "/add/prog", "3", fake="fake=say:hello fake=sleep:0.2 fake=user fake=exit:3")
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(proc.stdout, "hello\n")  # stdout is the console only
        self.assertEqual((r["status"], r["signal"], r["kernel_fault"], r["timeout"]), (3, None, False, False))
        self.assertGreaterEqual(r["boot_to_user_ms"], 200)
        self.assertGreaterEqual(r["wall_ms"], r["boot_to_user_ms"])
        self.assertEqual(r["accel"], "tcg")

    def test_signal_fault_silent_exit_and_qemu_error(self):
        for fake, code, key in (("fake=signal:9", 137, "signal"), ("fake=fault", 125, "kernel_fault"),
                                ("fake=die:0", 125, "kernel_fault"), ("fake=error", 126, "qemu_failed"),
                                ("fake=abort", 126, "qemu_failed")):
            with self.subTest(fake=fake):
                proc, r = self.run_qemu("--", "/x", fake=fake)
                self.assertEqual(proc.returncode, code, proc.stderr)
                self.assertTrue(r[key])

    def test_qmp_shutdown_reasons(self):
        for reason, code, key in (("guest-reset", 125, "kernel_fault"), ("host-qmp-quit", 130, "interrupted"),
                                  ("guest-shutdown", 125, "kernel_fault")):
            with self.subTest(reason=reason):
                proc, r = self.run_qemu("--", "/x", fake=f"fake=user fake=shutdown:{reason}")
                self.assertEqual(proc.returncode, code, proc.stderr)
                self.assertTrue(r[key])
                self.assertEqual(r["shutdown_reason"], reason)

    def test_host_rt_boosts_only_the_main_loop(self):
        if os.geteuid() != 0:
            self.skipTest("host SCHED_FIFO needs root")
        seen = self.tmp / "sched.json"
        proc, r = self.run_qemu("--host-rt", "3", "--", "/x", fake=f"fake=user fake=sched:{seen} fake=exit:0")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        got = json.loads(seen.read_text())
        self.assertEqual(got["policy"], os.SCHED_FIFO | os.SCHED_RESET_ON_FORK)
        self.assertEqual(got["priority"], 3)
        self.assertEqual(got["thread_policy"], os.SCHED_OTHER)  # threads QEMU makes later are not boosted
        self.assertEqual(r["host_rt"], 3)
        proc, r = self.run_qemu("--", "/x", fake=f"fake=user fake=sched:{seen} fake=exit:0", timeout=30)
        self.assertEqual(json.loads(seen.read_text())["policy"], os.SCHED_OTHER)
        self.assertEqual(r["host_rt"], 0)

    def test_host_rt_bad_priority_is_a_clear_error(self):
        proc, r = self.run_qemu("--host-rt", "100", "--", "/x", fake="fake=user fake=sleep:30")
        self.assertEqual(proc.returncode, 126, proc.stderr)
        self.assertIn("outside 1-99", proc.stderr)

    def test_timeout(self):
        proc, r = self.run_qemu("--timeout", "0.5", "--", "/x", fake="fake=user fake=sleep:30")
        self.assertEqual(proc.returncode, 124, proc.stderr)
        self.assertEqual((r["timeout"], r["status"], r["kernel_fault"]), (True, None, False))
        self.assertLess(r["wall_ms"], 10_000)
        self.assertIsNotNone(r["boot_to_user_ms"])

    def test_missing_kernel_and_initrd(self):
        self.kernel.unlink()
        proc, r = self.run_qemu("--", "/x", fake="fake=exit:0")
        self.assertEqual(proc.returncode, 126)
        self.assertIn("make kernel", proc.stderr)
        self.assertTrue(r["qemu_failed"])
        self.kernel.write_bytes(b"k")
        self.initrd.unlink()
        proc, r = self.run_qemu("--", "/x", fake="fake=exit:0")
        self.assertEqual(proc.returncode, 126)
        self.assertIn("make image", proc.stderr)

    def test_command_string_and_initrd_content(self):
        got = self.tmp / "got.cpio"
        add = self.tmp / "stage"
        add.mkdir()
        (add / "hello").write_bytes(b"hi")
        proc, r = self.run_qemu("--add", str(add), "--command", "/add/hello 'a b' c",
                                fake=f"fake=copyinitrd:{got} fake=exit:0")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        by = {m.name: m.data for m in newc.read_members(got.read_bytes())}
        self.assertEqual(by["etc/axle/cmd"], b"/bin/sh\0-c\0/add/hello 'a b' c\0")
        self.assertEqual(by["add/hello"], b"hi")
        self.assertEqual(os.listdir(self.tmp / "cache") if (self.tmp / "cache").exists() else [], [])
        self.assertFalse([p for p in os.listdir(self.tmp) if p.startswith("axle-run-")])  # cleaned up

    def test_kvm_probe_verdict_is_cached(self):
        ok, _ = runner.kvm_device_usable()
        if not ok:
            self.skipTest("/dev/kvm is not usable here")
        args_file = self.tmp / "args.json"
        # The fake ignores the probe (no fake= words in `selftest`): exits 0 silently -> fault -> TCG.
        proc, r = self.run_qemu("--", "/x", fake=f"fake=dumpargs:{args_file} fake=exit:0", accel="auto")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(r["accel"], "tcg")
        self.assertIn("KVM not usable", proc.stderr)
        cache = json.loads((self.tmp / "cache" / "kvm-probe.json").read_text())
        self.assertEqual([v["kvm"] for v in cache.values()], [False])
        proc, r = self.run_qemu("--", "/x", fake="fake=exit:0", accel="auto")
        self.assertNotIn("KVM", proc.stderr)  # cached: said only once


if __name__ == "__main__":
    unittest.main()
