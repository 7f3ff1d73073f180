"""Unit tests of the Linux reference VM's host side (no QEMU, no kernel needed).

    python3 -m unittest discover -s tools/linuxvm

Tests that need the host's busybox-static or a static libc for gcc skip without them.
The end-to-end tests drive run-linux against tools/tests/fake_qemu.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS))

from axletools import newc, runner  # noqa: E402
from linuxvm import cli, image, vm  # noqa: E402

RUN_LINUX = TOOLS / "linuxvm" / "run-linux"
FAKE_QEMU = TOOLS / "tests" / "fake_qemu.py"


def members(data: bytes) -> dict[str, newc.Member]:
    return {m.name: m for m in newc.read_members(data)}


def have_busybox() -> bool:
    try:
        image.find_busybox()
        return True
    except image.ImageError:
        return False


_helper_cache: dict[str, Path | str] = {}
_helper_dir = tempfile.TemporaryDirectory(prefix="linuxvm-test-helper-")


def tearDownModule():
    _helper_dir.cleanup()


def helper_or_skip(test: unittest.TestCase) -> Path:
    """The helper built once per test run (in a temporary cache), or skip."""
    if "path" not in _helper_cache:
        try:
            _helper_cache["path"] = image.build_helper(Path(_helper_dir.name))
        except image.ImageError as e:
            _helper_cache["path"] = f"no static helper: {e}"
    p = _helper_cache["path"]
    if isinstance(p, str):
        test.skipTest(p)
    return p


class Tmp(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="linuxvm-test-")
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def fake_spec(self, **kw) -> image.BaseSpec:
        bb = self.tmp / "busybox"
        bb.write_bytes(b"\x7fELF fake busybox")
        helper = self.tmp / "helper"
        helper.write_bytes(b"\x7fELF fake helper")
        args = dict(busybox=bb, applets=["/bin/sh", "/bin/cat", "/sbin/poweroff", "/usr/bin/awk", "/usr/sbin/chroot"],
                    helper=helper, init_script=b"# init\n", dirs=[("/dev/shm", 0o1777), ("/opt", 0o755)],
                    etc_files={"/etc/hostname": b"axle\n", "/etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n"})
        args.update(kw)
        return image.BaseSpec(**args)


class AppletTest(unittest.TestCase):
    def test_select_applets(self):
        got = image.select_applets(["usr/bin/[", "bin/sh", "sbin/poweroff", "linuxrc", "bin/busybox", "usr/sbin/x",
                                    "etc/weird", "bin/sh"])
        self.assertEqual(got, ["/bin/sh", "/sbin/poweroff", "/usr/bin/[", "/usr/sbin/x"])

    @unittest.skipUnless(have_busybox(), "no busybox-static on this host")
    def test_host_busybox_has_the_needed_applets(self):
        bb = image.find_busybox()
        self.assertTrue(image.is_static_elf(bb))
        names = {p.rsplit("/", 1)[1] for p in image.busybox_applets(bb)}
        for a in image.REQUIRED_APPLETS:
            self.assertIn(a, names)


class BaseImageTest(Tmp):
    def base(self, spec) -> dict[str, newc.Member]:
        buf = io.BytesIO()
        image.write_base(buf, spec)
        self.assertEqual(len(buf.getvalue()) % 512, 0)
        return members(buf.getvalue())

    def test_layout(self):
        spec = self.fake_spec()
        m = self.base(spec)
        self.assertEqual(m["init"].kind, "symlink")
        self.assertEqual(m["init"].data, b"/sbin/linuxvm-run")
        self.assertEqual(m["sbin/linuxvm-run"].data, spec.helper.read_bytes())
        self.assertEqual(m["sbin/linuxvm-run"].mode & 0o7777, 0o755)
        self.assertEqual(m["bin/busybox"].data, spec.busybox.read_bytes())
        self.assertEqual(m["bin/busybox"].mode & 0o7777, 0o755)
        for a in spec.applets:
            self.assertEqual(m[a[1:]].kind, "symlink", a)
            self.assertEqual(m[a[1:]].data, b"/bin/busybox", a)
        self.assertEqual(m["etc/linuxvm/init.sh"].data, b"# init\n")
        self.assertEqual(m["etc/linuxvm/init.sh"].mode & 0o7777, 0o755)
        self.assertEqual(m["etc/hostname"].data, b"axle\n")
        self.assertEqual((m["dev/console"].kind, m["dev/console"].rdev), ("char", (5, 1)))
        self.assertEqual((m["dev/null"].kind, m["dev/null"].rdev), ("char", (1, 3)))
        self.assertEqual(m["dev/shm"].mode & 0o7777, 0o1777)
        self.assertEqual(m["tmp"].mode & 0o7777, 0o1777)
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "root", "add", "opt", "etc/linuxvm"):
            self.assertEqual(m[d].kind, "dir", d)
        for mem in m.values():
            self.assertEqual((mem.uid, mem.gid, mem.mtime), (0, 0, 0), mem.name)

    def test_network_modules(self):
        mods = []
        for name in ("virtio_ring.ko", "virtio.ko"):
            f = self.tmp / name
            f.write_bytes(b"\x7fELF module " + name.encode())
            mods.append((f"{image.MODULE_DIR}/{name}", f))
        spec = self.fake_spec(modules=mods)
        m = self.base(spec)
        d = image.MODULE_DIR.lstrip("/")
        self.assertEqual(m[f"{d}/virtio.ko"].data, b"\x7fELF module virtio.ko")
        self.assertEqual(m[f"{d}/order"].data.decode().split(), [g for g, _ in mods])
        self.assertNotEqual(spec.key(), self.fake_spec().key(), "the modules are part of the cache key")
        self.assertNotIn(f"{d}/order", self.base(self.fake_spec()), "no modules, no order file")
        self.assertEqual(image.net_modules(self.tmp / "vmlinuz-0.0.0-none"), [], "no module tree: no modules")
        self.assertEqual(image.net_modules(None), [])

    def test_parents_come_first(self):
        buf = io.BytesIO()
        image.write_base(buf, self.fake_spec(applets=["/usr/bin/x", "/bin/sh"], dirs=[("/a/b/c", 0o700)]))
        seen = set()
        for mem in newc.read_members(buf.getvalue()):
            parent = mem.name.rpartition("/")[0]
            if parent:
                self.assertIn(parent, seen, mem.name)
            seen.add(mem.name)
        self.assertIn("a/b", seen)

    def test_key_follows_the_inputs(self):
        a = self.fake_spec()
        self.assertEqual(a.key(), self.fake_spec().key())
        self.assertNotEqual(a.key(), self.fake_spec(init_script=b"# other\n").key())
        self.assertNotEqual(a.key(), self.fake_spec(applets=["/bin/sh"]).key())
        self.assertNotEqual(a.key(), self.fake_spec(etc_files={"/etc/hostname": b"x\n"}).key())

    def test_ensure_base_caches(self):
        cache = self.tmp / "cache"
        spec = self.fake_spec()
        p1 = image.ensure_base(cache, spec)
        mtime = p1.stat().st_mtime_ns
        self.assertEqual(image.ensure_base(cache, spec), p1)
        self.assertEqual(p1.stat().st_mtime_ns, mtime, "rebuilt although nothing changed")
        p2 = image.ensure_base(cache, self.fake_spec(init_script=b"# changed\n"))
        self.assertNotEqual(p1, p2)
        self.assertFalse(p1.exists(), "the old base archive is removed")
        self.assertEqual([p.name for p in cache.glob("base-*.cpio")], [p2.name])

    def test_manifest_layout(self):
        dirs, etc = image.manifest_layout()
        for name in ("/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
                     "/etc/hostname"):
            self.assertIn(name, etc)
        self.assertTrue(etc["/etc/passwd"].startswith(b"root:"))
        self.assertIn(("/tmp", 0o1777), dirs)
        bad = self.tmp / "bad.toml"
        bad.write_text("this is [not toml")
        self.assertEqual(image.manifest_layout(bad), (image.FALLBACK_DIRS, image.FALLBACK_ETC))

    def test_is_static_elf(self):
        text = self.tmp / "t"
        text.write_text("#!/bin/sh\n")
        self.assertFalse(image.is_static_elf(text))
        self.assertFalse(image.is_static_elf(self.tmp / "missing"))
        if Path(sys.executable).is_file():
            self.assertFalse(image.is_static_elf(Path(sys.executable).resolve()))  # a dynamically linked python3


class ComposeTest(Tmp):
    """The per-run part is Axle's runner.compose_initrd on top of our base."""

    def test_run_initrd(self):
        base = image.ensure_base(self.tmp / "cache", self.fake_spec())
        add = self.tmp / "add"
        (add / "sub").mkdir(parents=True)
        (add / "prog").write_bytes(b"\x7fELF")
        (add / "prog").chmod(0o755)
        (add / "sub" / "data").write_text("x")
        out = self.tmp / "run.cpio"
        argv = ["/add/prog", "a b", "", "tab\there", "new\nline", "ünï"]
        runner.compose_initrd(out, base, add, argv, ["PATH=" + runner.GUEST_PATH, "HOME=/root", "TERM=linux"])
        m = members(out.read_bytes())
        self.assertEqual(m["etc/axle/cmd"].data, b"/add/prog\0a b\0\0tab\there\0new\nline\0\xc3\xbcn\xc3\xaf\0")
        self.assertEqual(m["etc/axle/env"].data,
                         b"PATH=/bin:/sbin:/usr/bin:/usr/sbin:/add\0HOME=/root\0TERM=linux\0")
        self.assertEqual(m["add/prog"].mode & 0o777, 0o755)
        self.assertEqual(m["add/sub/data"].data, b"x")
        self.assertEqual(m["init"].data, b"/sbin/linuxvm-run")  # the base is still there


class CommandLineTest(Tmp):
    def cfg(self, **kw) -> vm.LinuxRunConfig:
        args = dict(kernel=Path("/boot/vmlinuz-x"), initrd=Path("/base.cpio"))
        args.update(kw)
        return vm.LinuxRunConfig(**args)

    def test_kernel_cmdline(self):
        self.assertEqual(self.cfg().cmdline(), "console=ttyS0 panic=-1 oops=panic rdinit=/init quiet loglevel=3")
        self.assertIn("loglevel=7", self.cfg(log="info").cmdline())
        self.assertNotIn("quiet", self.cfg(log="info").cmdline())
        self.assertTrue(self.cfg(append="tsc=reliable").cmdline().endswith(" tsc=reliable"))
        self.assertNotIn("log=", self.cfg().cmdline().replace("loglevel=", ""))
        self.assertNotIn("linuxvm.net", self.cfg().cmdline())
        self.assertIn(" linuxvm.net=user", self.cfg(net="user").cmdline())

    def test_qemu_command_is_axles(self):
        cmd = runner.qemu_command(self.cfg(smp=4, mem="1G"), Path("/run.cpio"), Path("/s.sock"), False, Path("/q"))
        joined = " ".join(cmd)
        for words in (["-machine", "q35"], ["-accel", "tcg", "-cpu", "max"], ["-m", "1G", "-smp", "4"],
                      ["-kernel", "/boot/vmlinuz-x"], ["-initrd", "/run.cpio"], ["-net", "none"]):
            self.assertIn(" ".join(words), joined)
        self.assertIn("isa-debugcon,iobase=0x4f0,chardev=status", joined)
        self.assertEqual(cmd[cmd.index("-append") + 1], self.cfg().cmdline())
        kvm = runner.qemu_command(self.cfg(accel="kvm"), None, Path("/s"))
        self.assertIn("-accel kvm -cpu host", " ".join(kvm))

    def test_find_kernel_takes_the_newest(self):
        for v in ("5.10.0-30-amd64", "6.1.0-9-amd64", "6.1.0-56-amd64", "6.1.0-56-amd64.old"):
            (self.tmp / f"vmlinuz-{v}").write_bytes(b"k")
        self.assertEqual(vm.find_kernel(str(self.tmp / "vmlinuz-*")), self.tmp / "vmlinuz-6.1.0-56-amd64")
        self.assertIsNone(vm.find_kernel(str(self.tmp / "nothing-*")))

    def test_options(self):
        a = cli.parse_args(["--smp", "4", "--mem", "1G", "--accel", "tcg", "--timeout", "9", "--", "/add/p", "--x"])
        self.assertEqual((a.smp, a.mem, a.accel, a.timeout, a.cmd), (4, "1G", "tcg", 9.0, ["/add/p", "--x"]))
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            cli.parse_args(["--mem", "lots"])
        a = cli.parse_args(["--net", "user", "--fwd", "tcp:8080", "/bin/true"])
        self.assertEqual((a.net, a.fwd), ("user", ["tcp:8080"]))


class HelperTest(Tmp):
    """linuxvm-run runs on the host too (--file instead of the I/O port)."""

    def run_helper(self, argv: list[str], env: list[str] | None = None) -> tuple[list[str], subprocess.CompletedProcess]:
        helper = helper_or_skip(self)
        cmd, envf, status = self.tmp / "cmd", self.tmp / "env", self.tmp / "status"
        cmd.write_bytes(newc.nul_strings(argv))
        envf.write_bytes(newc.nul_strings(env if env is not None else
                                          ["PATH=/usr/bin:/bin", "HOME=/root", "TERM=linux"]))
        status.unlink(missing_ok=True)
        p = subprocess.run([str(helper), "run", "--file", str(status), str(cmd), str(envf)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        return status.read_text().splitlines(), p

    def test_is_static(self):
        self.assertTrue(image.is_static_elf(helper_or_skip(self)))

    def test_exact_argv_and_env(self):
        out = self.tmp / "out.json"
        script = (f"import json, os, sys; json.dump([sys.argv, dict(os.environ)], open({str(out)!r}, 'w'))")
        argv = [sys.executable, "-c", script, "a b", "", "tab\there", "new\nline", "ünï", "*"]
        lines, p = self.run_helper(argv, ["PATH=/usr/bin:/bin", "HOME=/root", "TERM=linux", "X=a=b c"])
        self.assertEqual(lines, ["axle: exit 0"], p.stderr)
        got_argv, got_env = json.loads(out.read_text())
        self.assertEqual(got_argv[1:], argv[3:])
        self.assertEqual({k: v for k, v in got_env.items() if k != "LC_CTYPE"},
                         {"PATH": "/usr/bin:/bin", "HOME": "/root", "TERM": "linux", "X": "a=b c"})

    def test_statuses(self):
        self.assertEqual(self.run_helper(["sh", "-c", "exit 42"])[0], ["axle: exit 42"])  # found on PATH
        self.assertEqual(self.run_helper(["/bin/sh", "-c", "kill -SEGV $$"])[0], ["axle: signal 11"])
        lines, p = self.run_helper(["no-such-program-here"])
        self.assertEqual(lines, ["axle: exit 127"])
        self.assertIn(b"cannot run no-such-program-here", p.stderr)
        self.assertEqual(self.run_helper([str(self.tmp)])[0], ["axle: exit 126"])  # a directory

    def test_orphans_do_not_delay_the_status(self):
        lines, _ = self.run_helper(["/bin/sh", "-c", "(sleep 0.3; exit 0) & exit 5"])
        self.assertEqual(lines, ["axle: exit 5"])

    def test_the_runner_judges_the_lines(self):
        for argv, status, sig in ((["sh", "-c", "exit 3"], 3, None), (["sh", "-c", "kill -TERM $$"], None, 15)):
            lines, _ = self.run_helper(argv)
            r = runner.Result()
            runner.judge(r, [(1.0, "axle: user")] + [(2.0, l) for l in lines], 0, "", False, "guest-shutdown")
            self.assertEqual((r.status, r.signal, r.kernel_fault, r.boot_to_user_ms), (status, sig, False, 1.0))
            self.assertEqual(r.exit_status(), status if sig is None else 128 + sig)

    def test_usage(self):
        p = subprocess.run([str(helper_or_skip(self)), "run"], capture_output=True)
        self.assertEqual(p.returncode, 2)


class PanicVerdictTest(unittest.TestCase):
    def test_reset_without_status_is_a_kernel_fault(self):
        r = runner.Result()
        runner.judge(r, [(1.0, "axle: user")], 0, "", False, "guest-reset")
        self.assertTrue(r.kernel_fault)
        self.assertEqual(r.exit_status(), 125)

    def test_poweroff_without_status_is_125(self):
        r = runner.Result()
        runner.judge(r, [(1.0, "axle: user")], 0, "", False, "guest-shutdown")
        self.assertEqual(r.exit_status(), 125)


@unittest.skipUnless(os.access(FAKE_QEMU, os.X_OK), "tools/tests/fake_qemu.py missing")
class EndToEndTest(Tmp):
    """run-linux against the fake QEMU of tools/tests (it speaks the same status protocol)."""

    def setUp(self):
        super().setUp()
        helper_or_skip(self)
        if not have_busybox():
            self.skipTest("no busybox-static on this host")
        self.kernel = self.tmp / "vmlinuz-fake"
        self.kernel.write_bytes(b"not a kernel")
        self.env = dict(os.environ, AXLE_QEMU=str(FAKE_QEMU), AXLE_CACHE_DIR=str(self.tmp / "cache"),
                        TMPDIR=str(self.tmp), TERM="xterm")

    def run_linux(self, *args) -> tuple[subprocess.CompletedProcess, dict]:
        res = self.tmp / "r.json"
        p = subprocess.run([str(RUN_LINUX), "--kernel", str(self.kernel), "--accel", "tcg", "--result", str(res),
                            *args], env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
        return p, json.loads(res.read_text())

    def test_status_and_result(self):
        dump, initrd = self.tmp / "args.json", self.tmp / "initrd.cpio"
        p, r = self.run_linux("--smp", "3", "--mem", "1G", "--append",
                              f"fake=dumpargs:{dump} fake=copyinitrd:{initrd} fake=user fake=exit:42",
                              "--", "/add/x", "a b")
        self.assertEqual(p.returncode, 42, p.stderr)
        for k in ("status", "signal", "kernel_fault", "timeout", "boot_to_user_ms", "wall_ms", "accel", "smp", "mem"):
            self.assertIn(k, r)
        self.assertEqual((r["status"], r["accel"], r["smp"], r["mem"]), (42, "tcg", 3, "1G"))
        self.assertIsNotNone(r["boot_to_user_ms"])
        args = json.loads(dump.read_text())
        self.assertEqual(args[args.index("-kernel") + 1], str(self.kernel))
        self.assertTrue(args[args.index("-append") + 1].startswith("console=ttyS0 "))
        m = members(initrd.read_bytes())
        self.assertEqual(m["etc/axle/cmd"].data, b"/add/x\0a b\0")
        self.assertIn(b"TERM=xterm\0", m["etc/axle/env"].data)
        self.assertEqual(m["bin/sh"].data, b"/bin/busybox")
        self.assertEqual(m["init"].data, b"/sbin/linuxvm-run")

    def test_other_statuses(self):
        self.assertEqual(self.run_linux("--append", "fake=user fake=signal:11", "--", "x")[0].returncode, 139)
        p, r = self.run_linux("--append", "fake=user fake=shutdown:guest-reset", "--", "x")
        self.assertEqual((p.returncode, r["kernel_fault"]), (125, True))
        self.assertIn("panic", r["error"])
        p, r = self.run_linux("--timeout", "1", "--append", "fake=sleep:5", "--", "x")
        self.assertEqual((p.returncode, r["timeout"]), (124, True))
        p, r = self.run_linux("--append", "fake=error", "--", "x")
        self.assertEqual(p.returncode, 126)

    def test_missing_kernel_is_126(self):
        self.kernel = self.tmp / "nope"
        p, r = self.run_linux("--", "x")
        self.assertEqual((p.returncode, r["qemu_failed"]), (126, True))


if __name__ == "__main__":
    unittest.main()
