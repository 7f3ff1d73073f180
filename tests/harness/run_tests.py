#!/usr/bin/env python3
"""Axle test harness.

Builds the user-space conformance programs (tests/conformance, static musl), then
runs every test declared in tests/harness/tests.toml:

1. natively on the host, the reference (a check that fails there is a wrong check);
2. in Axle, once per SMP value, through the runner described in
   docs/run-interface.md:

       tools/run-qemu --result R.json --smp N --add STAGE --timeout T [--mem M]
                      [--append "W1 W2"] [--net user] [--accel A] [--kernel K]
                      [--initrd I] -- /add/PROG ARGS...

A test may use a fixture: a directory ~/.cache/axle/stage/fixtures/NAME holding
the staged programs plus files made by a generator command run on the host; it
then replaces the staging dir (as {bin} on the host and as --add in Axle). A test
may also expect the kernel to fault (kernel_fault = true, Axle only).

A run fails on a wrong exit status (killed by signal N counts as 128+N), missing
or forbidden output, a timeout, a kernel fault, or, for a check-suite program,
any FAIL line or a missing/inconsistent summary line. One line is printed per test
and target, and the last line is `N passed, M failed`; the exit status is 1 if
anything failed. Standard library only (Python 3.11+).

Usage: python3 tests/harness/run_tests.py [--host-only|--axle-only] [-k SUBSTR]
       [--smp 1,2] [--jobs N] [--accel A] [--kernel K] [--initrd I] [--no-build]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent
REPO = HARNESS_DIR.parents[1]
sys.path.insert(0, str(REPO / "tools"))
from axletools import typist  # noqa: E402  (the runner's console typist, shared)

CONFORMANCE = REPO / "tests" / "conformance"
DEFAULT_TEST_LIST = HARNESS_DIR / "tests.toml"
DEFAULT_RUNNER = REPO / "tools" / "run-qemu"
MUSL = "x86_64-unknown-linux-musl"
GUEST_BIN = "/add"  # where the runner's --add DIR appears in the guest
RUNNER_GRACE_S = 90  # extra time the runner gets beyond --timeout (boot, teardown)
RUNNER_FAULT_STATUS = 125  # the runner's exit status when the kernel faulted
FIXTURE_GEN_TIMEOUT_S = 900  # a fixture generator taking longer is killed
FIXTURE_STAMP = ".fixture-stamp.json"  # in the fixture dir: what generated it
TAIL_LINES = 25


def cache_dir() -> Path:
    """Build caches live outside the clone: $AXLE_CACHE_DIR or ~/.cache/axle."""
    return Path(os.environ.get("AXLE_CACHE_DIR") or Path.home() / ".cache" / "axle")


# --------------------------------------------------------------------------
# The declarative test list


class ConfigError(Exception):
    """The test list is malformed."""


@dataclasses.dataclass(frozen=True)
class Fixture:
    """A generated directory: the staged programs plus what `gen` writes into it."""

    name: str
    gen: tuple[str, ...]  # argv run on the host; {dir} = the fixture dir, {bin} = staging dir


@dataclasses.dataclass(frozen=True)
class TestSpec:
    name: str
    cmd: tuple[str, ...]
    status: int = 0
    expect: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    suite: str | None = None
    timeout: float = 60
    smp: tuple[int, ...] = (2,)
    mem: str | None = None
    host: bool = True
    append: tuple[str, ...] = ()  # extra kernel command-line words (runner --append)
    kernel_fault: bool = False  # the Axle run must end in a kernel fault
    fixture: Fixture | None = None
    net: str | None = None  # the runner's --net (guest network), None: the runner's default
    profile: str | None = None  # the runner's --profile (dataflow profile), Axle-only
    host_helper: tuple[str, ...] = ()  # a program run on the host during the test (see HostHelper)
    forward: int = 0  # host ports forwarded into the guest ({fwd_port}, {fwd_port2}, ...)
    helper_verdict: bool = False  # the host helper's exit status is part of the verdict
    input: tuple = ()  # typist.Step: keys typed into the console (Axle) / a pty (host)
    host_cmd: tuple[str, ...] | None = None  # the host's command instead of cmd


DEFAULT_KEYS = {"timeout", "smp", "host", "mem"}
TEST_KEYS = {"name", "cmd", "status", "expect", "forbid", "suite", "timeout", "smp", "mem", "host",
             "append", "kernel_fault", "fixture", "net", "profile", "host_helper", "forward", "helper_verdict", "input", "host_cmd"}
NET_MODES = ("none", "user")  # the runner's --net choices
FIXTURE_KEYS = {"gen"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check_type(where: str, key: str, value, kind) -> None:
    ok = isinstance(value, kind) and not (kind in (int, (int, float)) and isinstance(value, bool))
    if not ok:
        raise ConfigError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")


def _str_list(where: str, key: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _regexes(where: str, key: str, value) -> tuple[str, ...]:
    patterns = _str_list(where, key, value)
    for p in patterns:
        try:
            re.compile(p, re.MULTILINE)
        except re.error as e:
            raise ConfigError(f"{where}: bad regex in '{key}': {p!r}: {e}") from None
    return patterns


def _smp_list(where: str, value) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigError(f"{where}: 'smp' must be a non-empty list of positive integers")
    return tuple(value)


def _append_words(where: str, value) -> tuple[str, ...]:
    words = _str_list(where, "append", value)
    for w in words:
        if not w or any(c.isspace() for c in w):
            raise ConfigError(f"{where}: 'append' words must be non-empty and without spaces: {w!r}")
    return words


def parse_fixtures(raw) -> dict[str, Fixture]:
    """The [fixture.NAME] tables."""
    if not isinstance(raw, dict):
        raise ConfigError("'fixture' must be a table of [fixture.NAME] tables")
    fixtures = {}
    for name, table in raw.items():
        where = f"fixture {name!r}"
        if not NAME_RE.match(name):
            raise ConfigError(f"{where}: bad name (letters, digits, . _ -)")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table ([fixture.{name}])")
        unknown = set(table) - FIXTURE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
        if "gen" not in table:
            raise ConfigError(f"{where}: missing 'gen'")
        gen = _str_list(where, "gen", table["gen"])
        if not gen:
            raise ConfigError(f"{where}: 'gen' is empty")
        fixtures[name] = Fixture(name, gen)
    return fixtures


def parse_tests(data: dict) -> list[TestSpec]:
    """Validates the parsed TOML document and returns the tests in file order."""
    unknown = set(data) - {"defaults", "test", "fixture"}
    if unknown:
        raise ConfigError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    fixtures = parse_fixtures(data.get("fixture", {}))
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError("[defaults] must be a table")
    unknown = set(defaults) - DEFAULT_KEYS
    if unknown:
        raise ConfigError(f"[defaults]: unknown keys: {', '.join(sorted(unknown))}")
    tests_raw = data.get("test", [])
    if not isinstance(tests_raw, list):
        raise ConfigError("'test' must be an array of tables ([[test]])")

    specs: list[TestSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(tests_raw):
        where = f"test #{i + 1}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: must be a table")
        merged = {**defaults, **raw}
        unknown = set(raw) - TEST_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
        for key in ("name", "cmd"):
            if key not in raw:
                raise ConfigError(f"{where}: missing '{key}'")
        name = raw["name"]
        _check_type(where, "name", name, str)
        if not NAME_RE.match(name):
            raise ConfigError(f"{where}: bad name {name!r} (letters, digits, . _ -)")
        where = f"test {name!r}"
        if name in seen:
            raise ConfigError(f"{where}: duplicate name")
        seen.add(name)
        cmd = _str_list(where, "cmd", raw["cmd"])
        try:
            steps = tuple(typist.parse_steps(raw["input"])) if "input" in raw else ()
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
        if "input" in raw and not steps:
            raise ConfigError(f"{where}: 'input' is empty")
        if not cmd and not steps:
            raise ConfigError(f"{where}: 'cmd' is empty (only a test with 'input' may boot to the shell)")
        host_cmd = _str_list(where, "host_cmd", raw["host_cmd"]) if "host_cmd" in raw else None
        if host_cmd is not None and not host_cmd:
            raise ConfigError(f"{where}: 'host_cmd' is empty")
        status = merged.get("status", 0)
        _check_type(where, "status", status, int)
        if not 0 <= status <= 255:
            raise ConfigError(f"{where}: 'status' must be 0..255")
        timeout = merged.get("timeout", 60)
        _check_type(where, "timeout", timeout, (int, float))
        if timeout <= 0:
            raise ConfigError(f"{where}: 'timeout' must be positive")
        suite = merged.get("suite")
        if suite is not None:
            _check_type(where, "suite", suite, str)
        mem = merged.get("mem")
        if mem is not None:
            _check_type(where, "mem", mem, str)
        kernel_fault = raw.get("kernel_fault", False)
        _check_type(where, "kernel_fault", kernel_fault, bool)
        if kernel_fault:
            # The run never exits normally: no status to expect, no suite summary,
            # and nothing to compare against on the host.
            for key in ("status", "suite"):
                if key in raw:
                    raise ConfigError(f"{where}: '{key}' makes no sense with kernel_fault = true")
            if raw.get("host") is True:
                raise ConfigError(f"{where}: kernel_fault = true tests are Axle-only (host = false)")
            host = False
        else:
            host = merged.get("host", True)
            _check_type(where, "host", host, bool)
        net = raw.get("net")
        if net is not None:
            _check_type(where, "net", net, str)
            if net not in NET_MODES:
                raise ConfigError(f"{where}: 'net' must be one of {', '.join(NET_MODES)}: {net!r}")
        profile = raw.get("profile")
        if profile is not None:
            _check_type(where, "profile", profile, str)
            if host:
                raise ConfigError(f"{where}: tests with a 'profile' are Axle-only (host = false)")
        host_helper = _str_list(where, "host_helper", raw["host_helper"]) if "host_helper" in raw else ()
        forward = raw.get("forward", 0)
        if isinstance(forward, bool):
            forward = int(forward)
        _check_type(where, "forward", forward, int)
        if not 0 <= forward <= 4:
            raise ConfigError(f"{where}: 'forward' must be true/false or 0-4 ports")
        helper_verdict = raw.get("helper_verdict", False)
        _check_type(where, "helper_verdict", helper_verdict, bool)
        if helper_verdict and not host_helper:
            raise ConfigError(f"{where}: 'helper_verdict' needs a 'host_helper'")
        if (host_helper or forward) and net == "none":
            raise ConfigError(f"{where}: 'host_helper' and 'forward' need the guest network (net = \"user\")")
        if (host_helper or forward) and net is None:
            net = "user"
        if host and not cmd and host_cmd is None:
            raise ConfigError(f"{where}: with cmd = [] (Axle's shell) the host run needs 'host_cmd' (or host = false)")
        if steps and (kernel_fault or host_helper):
            raise ConfigError(f"{where}: 'input' cannot be combined with kernel_fault or host_helper")
        fixture = None
        if "fixture" in raw:
            _check_type(where, "fixture", raw["fixture"], str)
            if raw["fixture"] not in fixtures:
                raise ConfigError(f"{where}: no [fixture.{raw['fixture']}] table")
            fixture = fixtures[raw["fixture"]]
        specs.append(
            TestSpec(
                name=name,
                cmd=cmd,
                status=status,
                expect=_regexes(where, "expect", merged.get("expect", [])),
                forbid=_regexes(where, "forbid", merged.get("forbid", [])),
                suite=suite,
                timeout=timeout,
                smp=_smp_list(where, merged.get("smp", [2])),
                mem=mem,
                host=host,
                append=_append_words(where, raw.get("append", [])),
                kernel_fault=kernel_fault,
                fixture=fixture,
                net=net,
                profile=profile,
                host_helper=host_helper,
                forward=forward,
                helper_verdict=helper_verdict,
                input=steps,
                host_cmd=host_cmd,
            )
        )
    return specs


def load_tests(path: Path) -> list[TestSpec]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    return parse_tests(data)


def select_tests(specs: list[TestSpec], substrings: list[str] | None) -> list[TestSpec]:
    """Keeps the tests whose name contains any of the substrings (all if none)."""
    if not substrings:
        return list(specs)
    return [s for s in specs if any(k in s.name for k in substrings)]


def parse_smp_option(text: str) -> tuple[int, ...]:
    """`--smp 1,2` -> (1, 2)."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad SMP list {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"bad SMP list {text!r}")
    return values


def substitute(cmd: tuple[str, ...], bin_dir: str, extra: dict[str, str] | None = None) -> list[str]:
    out = []
    for arg in cmd:
        arg = arg.replace("{bin}", bin_dir)
        for k, v in (extra or {}).items():
            arg = arg.replace("{" + k + "}", v)
        out.append(arg)
    return out


# --------------------------------------------------------------------------
# Host helpers: a program on the host that the test talks to over the network


HOST_ADDR_HOST = "127.0.0.1"  # the helper seen from a test run natively
HOST_ADDR_GUEST = "10.0.2.2"  # the helper seen from Axle (QEMU user networking's host)
HELPER_READY_S = 20.0
HELPER_VERDICT_S = 60.0


def free_port() -> int:
    """A TCP port that is free on the host's loopback now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HostHelper:
    """Runs spec.host_helper on the host around one test run.

    Placeholders in the helper's argv and the test's cmd: {port} (a free host port for the
    helper to listen on), {fwd_port} (with `forward`: a host port forwarded to the same
    port in the guest; natively the test listens on it directly), {host_addr} (how the test
    reaches the helper: 127.0.0.1 natively, 10.0.2.2 from Axle), {repo}, {bin}. The helper
    must print a line `ready` on stdout once it listens (or is about to connect); it is
    stopped (SIGTERM) when the test ends; if it ended by itself, its status must be 0."""

    def __init__(self, spec: TestSpec, bin_dir: str, guest: bool):
        self.spec = spec
        self.subs = {
            "port": str(free_port()),
            "host_addr": HOST_ADDR_GUEST if guest else HOST_ADDR_HOST,
            "repo": str(REPO),
        }
        for i in range(spec.forward):
            self.subs["fwd_port" if i == 0 else f"fwd_port{i + 1}"] = str(free_port())
        self.bin_dir = bin_dir
        self.proc: subprocess.Popen | None = None
        self.output = b""
        self.error: str | None = None

    def __enter__(self) -> "HostHelper":
        if not self.spec.host_helper:
            return self
        argv = substitute(self.spec.host_helper, self.bin_dir, self.subs)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_default_signals if INHERITED_IGNORED else None)
        except OSError as e:
            self.error = f"cannot start host helper {argv[0]}: {e}"
            return self
        deadline = time.monotonic() + HELPER_READY_S
        import select
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                if b"ready" in buf:
                    self.output = buf
                    return self
            elif self.proc.poll() is not None:
                break
        self.output = buf
        self.error = "host helper did not say `ready`"
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        if self.spec.helper_verdict:
            try:
                self.proc.wait(timeout=HELPER_VERDICT_S)
            except subprocess.TimeoutExpired:
                self.error = self.error or f"host helper gave no verdict within {HELPER_VERDICT_S:g} s"
        ended = self.proc.poll()
        if ended is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            rest, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
            rest, _ = self.proc.communicate()
        self.output += rest or b""
        if ended is not None and ended != 0 and self.error is None:
            self.error = f"host helper failed (status {ended})"

    def annotate(self, outcome: "RunOutcome") -> "RunOutcome":
        """Adds the helper's output (and failure) to a run's outcome."""
        if self.spec.host_helper:
            text = normalize_output(self.output)
            outcome.output += "".join(f"\nhelper| {line}" for line in text.splitlines())
            if self.error and outcome.error is None:
                outcome.error = self.error
        return outcome


# --------------------------------------------------------------------------
# Runs and their verdicts


@dataclasses.dataclass
class RunOutcome:
    """What happened in one run, host or Axle."""

    status: int | None  # exit status, 128+N for signal N; None if unknown
    output: str
    timed_out: bool = False
    kernel_fault: bool = False
    error: str | None = None  # infrastructure problem (runner missing, no result...)
    wall_s: float = 0.0
    boot_ms: float | None = None
    runner_rc: int | None = None  # the runner's own exit status (Axle runs)


@dataclasses.dataclass
class Verdict:
    passed: bool
    reasons: list[str]
    checks_ok: int | None = None  # for suite programs
    checks_failed: list[str] = dataclasses.field(default_factory=list)


def status_from_returncode(rc: int) -> int:
    """subprocess returncode -> shell-style status (killed by signal N -> 128+N)."""
    return 128 - rc if rc < 0 else rc


def normalize_output(raw: bytes) -> str:
    """Decodes output; a serial console gives CRLF line ends."""
    text = raw.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "")


CHECK_LINE_RE = re.compile(r"^(ok|FAIL) ([^\s:]+)::([^\s:]+)(?:: (.*))?$", re.MULTILINE)


def parse_check_lines(output: str, suite: str) -> tuple[list[str], list[str]]:
    """The `ok`/`FAIL` lines of `suite`: (names of passed checks, failed lines)."""
    passed, failed = [], []
    for m in CHECK_LINE_RE.finditer(output):
        if m.group(2) != suite:
            continue
        if m.group(1) == "ok":
            passed.append(m.group(3))
        else:
            failed.append(m.group(0))
    return passed, failed


def parse_summary(output: str, suite: str) -> tuple[int, int] | None:
    """The last `<suite>: N passed, M failed` line, as (N, M)."""
    found = re.findall(rf"^{re.escape(suite)}: (\d+) passed, (\d+) failed$", output, re.MULTILINE)
    if not found:
        return None
    n, m = found[-1]
    return int(n), int(m)


def first_matching_line(pattern: str, output: str) -> str:
    m = re.search(pattern, output, re.MULTILINE)
    if not m:
        return ""
    start = output.rfind("\n", 0, m.start()) + 1
    end = output.find("\n", m.start())
    return output[start : end if end >= 0 else len(output)]


def evaluate(spec: TestSpec, outcome: RunOutcome) -> Verdict:
    reasons: list[str] = []
    if outcome.error:
        reasons.append(outcome.error)
    if outcome.timed_out:
        reasons.append(f"timeout after {spec.timeout:g} s")
    if spec.kernel_fault:
        # The run must end in a kernel fault; that is how it "finishes".
        if not outcome.kernel_fault:
            if outcome.status is not None:
                reasons.append(f"expected a kernel fault, but the program exited with status {outcome.status}")
            elif not reasons:
                reasons.append("expected a kernel fault, but none was reported")
        finished = outcome.kernel_fault
    else:
        if outcome.kernel_fault:
            reasons.append("kernel fault")
        if outcome.status is not None and outcome.status != spec.status:
            reasons.append(f"status {outcome.status} != {spec.status}")
        elif outcome.status is None and not reasons:
            reasons.append("no exit status")
        # Without an exit status (runner missing, timeout, kernel fault) the run never
        # finished: missing output says nothing more, so only forbidden output counts.
        finished = outcome.status is not None
    # A console session is judged on its screen text (no ANSI escape sequences).
    text = typist.screen_text(outcome.output) if spec.input else outcome.output
    for pattern in spec.expect if finished else ():
        if not re.search(pattern, text, re.MULTILINE):
            reasons.append(f"missing output /{pattern}/")
    for pattern in spec.forbid:
        if re.search(pattern, text, re.MULTILINE):
            reasons.append(f"forbidden output /{pattern}/: {first_matching_line(pattern, text)!r}")

    checks_ok = None
    checks_failed: list[str] = []
    if spec.suite:
        passed, checks_failed = parse_check_lines(outcome.output, spec.suite)
        checks_ok = len(passed)
        summary = parse_summary(outcome.output, spec.suite)
        if checks_failed:
            reasons.append(f"{len(checks_failed)} check(s) failed")
        if summary is None and finished:
            reasons.append(f"no '{spec.suite}: N passed, M failed' summary line (crashed or hung?)")
        elif summary is not None and summary != (len(passed), len(checks_failed)):
            reasons.append(
                f"summary says {summary[0]} passed, {summary[1]} failed but the output has "
                f"{len(passed)} ok and {len(checks_failed)} FAIL lines"
            )
        elif finished and not passed and not checks_failed:
            reasons.append("the suite ran no check")
    return Verdict(not reasons, reasons, checks_ok, checks_failed)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kills the process group of a child started with start_new_session=True."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# Signals this harness inherited as ignored (`nohup make test` ignores SIGHUP, a shell's
# background job SIGINT and SIGQUIT). Exec keeps an ignored disposition, so the host
# programs would start with it and the checks of default dispositions (and a shell's job
# control on the host console) would fail for the harness's sake: children get the
# defaults back, as from a login shell.
INHERITED_IGNORED = [s for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT) if signal.getsignal(s) == signal.SIG_IGN]


def _default_signals() -> None:
    """In a child before exec: the inherited ignored signals back to their defaults."""
    for s in INHERITED_IGNORED:
        signal.signal(s, signal.SIG_DFL)


def _run(argv: list[str], timeout: float) -> tuple[int | None, bytes, bool, str | None, float]:
    """Runs argv in its own session: (returncode, output, timed_out, error, wall_s)."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_default_signals if INHERITED_IGNORED else None,
        )
    except OSError as e:
        return None, b"", False, f"cannot start {argv[0]}: {e}", 0.0
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        timed_out = True
    return proc.returncode, out, timed_out, None, time.monotonic() - start


HOST_TTY_ROWS, HOST_TTY_COLS = 24, 80  # the pty of a host console session


def host_console_env(bin_dir: str) -> dict[str, str]:
    """The environment of a host console session: what Axle's init gives its shell."""
    return {"PATH": f"/bin:/sbin:/usr/bin:/usr/sbin:{bin_dir}", "HOME": "/root", "TERM": "linux"}


def run_host_console(spec: TestSpec, bin_dir: Path) -> RunOutcome:
    """Runs the host command on a pseudo-terminal (its controlling terminal, in a session
    of its own, cwd /, no descriptors but 0-2) and types spec.input into it, as the
    runner types into Axle's serial console."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    argv = substitute(spec.host_cmd or spec.cmd, str(bin_dir))
    env = host_console_env(str(bin_dir))
    start = time.monotonic()
    try:
        pid, master = pty.fork()
    except OSError as e:
        return RunOutcome(None, "", error=f"cannot open a pty: {e}")
    if pid == 0:  # the child: on the pty, a session leader
        try:
            os.chdir("/")
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", HOST_TTY_ROWS, HOST_TTY_COLS, 0, 0))
            os.closerange(3, 65536)
            _default_signals()
            os.execvpe(argv[0], argv, env)
        except BaseException:  # noqa: BLE001 - nothing may escape the forked child
            pass
        os._exit(127)
    console = typist.Console()
    deadline = start + spec.timeout
    keys = typist.Typist(list(spec.input), console, lambda b: os.write(master, b), deadline=deadline)
    keys.start()
    out = bytearray()
    timed_out = False
    wait_status = None
    eof = False
    while wait_status is None:
        if time.monotonic() >= deadline or keys.failed:
            timed_out = True
            break
        if eof:
            time.sleep(0.05)
        elif select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: no slave descriptor is open any more
                chunk = b""
            if chunk:
                out += chunk
                console.feed(chunk)
                continue
            eof = True
            console.close()
        done, st = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            wait_status = st
    console.close()
    keys.stop.set()
    if wait_status is None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _, wait_status = os.waitpid(pid, 0)
    os.close(master)
    status = None if timed_out else status_from_returncode(os.waitstatus_to_exitcode(wait_status))
    return RunOutcome(status, normalize_output(bytes(out)), timed_out=timed_out, error=keys.failed,
                      wall_s=time.monotonic() - start)


def run_host(spec: TestSpec, bin_dir: Path) -> RunOutcome:
    if spec.input:
        return run_host_console(spec, bin_dir)
    with HostHelper(spec, str(bin_dir), guest=False) as helper:
        if helper.error:
            return helper.annotate(RunOutcome(None, "", error=helper.error))
        rc, out, timed_out, error, wall = _run(substitute(spec.cmd, str(bin_dir), helper.subs), spec.timeout)
    status = None if rc is None or timed_out else status_from_returncode(rc)
    return helper.annotate(RunOutcome(status, normalize_output(out), timed_out=timed_out, error=error, wall_s=wall))


@dataclasses.dataclass(frozen=True)
class AxleOptions:
    runner: Path = DEFAULT_RUNNER
    accel: str | None = None
    kernel: str | None = None
    initrd: str | None = None


def runner_command(spec: TestSpec, smp: int, add_dir: Path, result_path: Path, opts: AxleOptions,
                   subs: dict[str, str] | None = None, input_path: Path | None = None) -> list[str]:
    """The runner's argv; add_dir (the staging or fixture dir) becomes /add."""
    cmd = [
        str(opts.runner),
        "--result", str(result_path),
        "--smp", str(smp),
        "--add", str(add_dir),
        "--timeout", str(math.ceil(spec.timeout)),
    ]
    if spec.mem:
        cmd += ["--mem", spec.mem]
    if spec.append:
        cmd += ["--append", " ".join(spec.append)]
    if spec.net:
        cmd += ["--net", spec.net]
    if spec.profile:
        cmd += ["--profile", spec.profile]
    for i in range(spec.forward if subs else 0):
        port = subs["fwd_port" if i == 0 else f"fwd_port{i + 1}"]
        cmd += ["--fwd", f"tcp:{port}:{port}"]
    if opts.accel:
        cmd += ["--accel", opts.accel]
    if opts.kernel:
        cmd += ["--kernel", opts.kernel]
    if opts.initrd:
        cmd += ["--initrd", opts.initrd]
    if input_path is not None:
        cmd += ["--input", str(input_path)]
    if not spec.cmd:
        return cmd  # no command: the image's init starts the shell on the console
    return cmd + ["--"] + substitute(spec.cmd, GUEST_BIN, subs)


def runner_problem(runner: Path) -> str | None:
    """Why the runner cannot be used, or None."""
    if not runner.exists():
        return f"runner {runner} not found (not written yet? see docs/run-interface.md)"
    if not runner.is_file() or not os.access(runner, os.X_OK):
        return f"runner {runner} is not an executable file"
    return None


def outcome_from_result(result, runner_rc: int | None, output: str, wall_s: float) -> RunOutcome:
    """Interprets the runner's --result JSON (None if it wrote none)."""
    if not isinstance(result, dict):
        return RunOutcome(None, output, error=f"runner wrote no valid result JSON (runner exit {runner_rc})", wall_s=wall_s)
    for key, kinds in (("status", (int, type(None))), ("signal", (int, type(None))),
                       ("kernel_fault", bool), ("timeout", bool)):
        if key not in result or not isinstance(result[key], kinds) or (kinds != bool and isinstance(result[key], bool)):
            return RunOutcome(None, output, error=f"result JSON has a missing/invalid '{key}': {result!r}", wall_s=wall_s)
    boot = result.get("boot_to_user_ms")
    outcome = RunOutcome(
        None, output, timed_out=result["timeout"], kernel_fault=result["kernel_fault"], wall_s=wall_s,
        boot_ms=boot if isinstance(boot, (int, float)) and not isinstance(boot, bool) else None,
        runner_rc=runner_rc,
    )
    if result["signal"] is not None:
        outcome.status = 128 + result["signal"]
    elif result["status"] is not None:
        outcome.status = result["status"]
    if outcome.status is not None and runner_rc is not None and runner_rc != outcome.status:
        outcome.error = f"runner exit {runner_rc} != result status {outcome.status}"
    if outcome.kernel_fault and runner_rc is not None and runner_rc != RUNNER_FAULT_STATUS:
        outcome.error = f"runner exit {runner_rc} != {RUNNER_FAULT_STATUS} for a kernel fault"
    if outcome.status is None and not outcome.timed_out and not outcome.kernel_fault:
        outcome.error = f"no exit status in the result JSON (runner exit {runner_rc}; QEMU failed to start?)"
    return outcome


def run_axle(spec: TestSpec, smp: int, add_dir: Path, opts: AxleOptions) -> RunOutcome:
    problem = runner_problem(opts.runner)
    if problem:
        return RunOutcome(None, "", error=problem)
    with tempfile.TemporaryDirectory(prefix="axle-test-") as tmp, HostHelper(spec, GUEST_BIN, guest=True) as helper:
        if helper.error:
            return helper.annotate(RunOutcome(None, "", error=helper.error))
        result_path = Path(tmp) / "result.json"
        input_path = None
        if spec.input:
            input_path = Path(tmp) / "input.json"
            input_path.write_text(typist.dump(list(spec.input)))
        argv = runner_command(spec, smp, add_dir, result_path, opts, helper.subs, input_path)
        rc, out, timed_out, error, wall = _run(argv, spec.timeout + RUNNER_GRACE_S)
        output = normalize_output(out)
        if error:
            return helper.annotate(RunOutcome(None, output, error=error, wall_s=wall))
        if timed_out:
            return helper.annotate(RunOutcome(None, output, timed_out=True, wall_s=wall,
                                              error=f"runner did not stop within {spec.timeout + RUNNER_GRACE_S:g} s; killed"))
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            result = None
    return helper.annotate(outcome_from_result(result, rc, output, wall))


# --------------------------------------------------------------------------
# Building and staging


def executables_from_cargo_json(lines) -> list[Path]:
    """Executables named by `cargo build --message-format=json` artifact messages."""
    exes: list[Path] = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            exe = Path(msg["executable"])
            if exe not in exes:
                exes.append(exe)
    return exes


def build_and_stage(target_dir: Path, stage_dir: Path) -> tuple[list[Path] | None, str]:
    """Builds the conformance workspace; copies its binaries into stage_dir."""
    cmd = [
        "cargo", "build", "--release", "--target", MUSL,
        "--manifest-path", str(CONFORMANCE / "Cargo.toml"),
        "--message-format=json-render-diagnostics",
    ]
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    try:
        proc = subprocess.run(cmd, cwd=CONFORMANCE, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        return None, f"cannot run cargo: {e}"
    if proc.returncode != 0:
        return None, f"cargo build failed (exit {proc.returncode}):\n{tail(proc.stderr)}"
    exes = executables_from_cargo_json(proc.stdout.splitlines())
    if not exes:
        return None, "cargo build produced no executables"
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    staged = []
    for exe in exes:
        dest = stage_dir / exe.name
        shutil.copy2(exe, dest)
        dest.chmod(0o755)
        staged.append(dest)
    return staged, ""


# --------------------------------------------------------------------------
# Fixtures


def fixtures_root() -> Path:
    return cache_dir() / "stage" / "fixtures"


def fixture_gen_argv(fixture: Fixture, fixture_dir: Path, stage_dir: Path) -> list[str]:
    return [a.replace("{dir}", str(fixture_dir)).replace("{bin}", str(stage_dir)) for a in fixture.gen]


def fixture_stamp(argv: list[str]) -> dict:
    """What decides whether the generated files are still valid: the gen argv and
    the identity (mtime, size) of the gen program."""
    prog = argv[0] if "/" in argv[0] else (shutil.which(argv[0]) or argv[0])
    try:
        st = os.stat(prog)
        ident = {"mtime_ns": st.st_mtime_ns, "size": st.st_size}
    except OSError:
        ident = None
    return {"gen": argv, "program": prog, "program_stat": ident}


def _sync_programs(stage_dir: Path, fixture_dir: Path) -> None:
    """Copies the staged programs into the fixture dir (only those that changed)."""
    for src in sorted(stage_dir.iterdir()):
        if not src.is_file():
            continue
        dest = fixture_dir / src.name
        s = src.stat()
        try:
            d = dest.stat()
            if d.st_size == s.st_size and d.st_mtime_ns == s.st_mtime_ns:
                continue
        except FileNotFoundError:
            pass
        shutil.copy2(src, dest)


def prepare_fixture(fixture: Fixture, stage_dir: Path, root: Path, log: Path | None = None) -> tuple[Path | None, str]:
    """Makes root/NAME: the staged programs plus the output of `gen` (run only when
    its stamp changed; its output goes to `log`). Returns (the dir, a note) or
    (None, why it failed)."""
    fixture_dir = (root / fixture.name).resolve()
    stamp_path = fixture_dir / FIXTURE_STAMP
    try:
        fixture_dir.mkdir(parents=True, exist_ok=True)
        _sync_programs(stage_dir, fixture_dir)
    except OSError as e:
        return None, f"cannot set up {fixture_dir}: {e}"
    argv = fixture_gen_argv(fixture, fixture_dir, stage_dir)
    stamp = fixture_stamp(argv)
    try:
        if json.loads(stamp_path.read_text()) == stamp:
            return fixture_dir, "up to date"
    except (OSError, ValueError):
        pass
    stamp_path.unlink(missing_ok=True)  # a half-made fixture must not look valid
    rc, out, timed_out, error, wall = _run(argv, FIXTURE_GEN_TIMEOUT_S)
    text = normalize_output(out)
    if log is not None:
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"# {' '.join(argv)}\n# rc={rc} timed_out={timed_out} error={error} wall_s={wall:.2f}\n{text}")
        except OSError:
            pass
    if error:
        return None, error
    if timed_out:
        return None, f"gen did not finish within {FIXTURE_GEN_TIMEOUT_S} s: {' '.join(argv)}\n{tail(text)}"
    if rc != 0:
        return None, f"gen failed (status {status_from_returncode(rc)}): {' '.join(argv)}\n{tail(text)}"
    try:
        stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    except OSError as e:
        return None, f"cannot write {stamp_path}: {e}"
    return fixture_dir, f"generated in {wall:.1f} s"


# --------------------------------------------------------------------------
# Reporting


def tail(text: str, n: int = TAIL_LINES) -> str:
    lines = text.rstrip("\n").splitlines()
    return "\n".join(lines[-n:])


def report_line(target: str, spec: TestSpec, verdict: Verdict) -> str:
    word = "PASS" if verdict.passed else "FAIL"
    line = f"{word} {target}  {spec.name}"
    if not verdict.passed:
        line += ": " + "; ".join(verdict.reasons)
    elif verdict.checks_ok is not None:
        line += f" ({verdict.checks_ok} checks)"
    elif spec.kernel_fault:
        line += " (kernel fault, as expected)"
    return line


def report(target: str, spec: TestSpec, outcome: RunOutcome, verdict: Verdict, log: Path | None, verbose: bool) -> None:
    print(report_line(target, spec, verdict), flush=True)
    for line in verdict.checks_failed:
        print(f"    {line}")
    if (not verdict.passed or verbose) and outcome.output.strip():
        print(f"    --- last {TAIL_LINES} lines of output ---")
        for line in tail(outcome.output).splitlines():
            print(f"    | {line}")
    if not verdict.passed and log:
        print(f"    log: {log}")
    sys.stdout.flush()


def write_log(log_dir: Path, target: str, spec: TestSpec, outcome: RunOutcome, verdict: Verdict) -> Path | None:
    path = log_dir / target.replace("/", "-") / f"{spec.name}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            f"# {report_line(target, spec, verdict)}\n# status={outcome.status} timed_out={outcome.timed_out} "
            f"kernel_fault={outcome.kernel_fault} wall_s={outcome.wall_s:.2f} boot_ms={outcome.boot_ms}\n"
        )
        path.write_text(header + outcome.output)
        return path
    except OSError:
        return None


# --------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run Axle's user-space tests on the host and in Axle (QEMU).")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--host-only", action="store_true", help="run only natively on the host")
    side.add_argument("--axle-only", action="store_true", help="run only in Axle")
    p.add_argument("-k", dest="select", action="append", metavar="SUBSTR",
                   help="run only tests whose name contains SUBSTR (repeatable)")
    p.add_argument("--smp", type=parse_smp_option, metavar="N[,N...]",
                   help="SMP values for every Axle run (overrides the test list)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="parallel runs (default 1: QEMU/TCG is CPU-heavy)")
    p.add_argument("--accel", help="passed to the runner as --accel (auto|kvm|tcg)")
    p.add_argument("--kernel", help="passed to the runner as --kernel")
    p.add_argument("--initrd", help="passed to the runner as --initrd")
    p.add_argument("--runner", type=Path, default=DEFAULT_RUNNER, help="the runner (default tools/run-qemu)")
    p.add_argument("--tests", type=Path, default=DEFAULT_TEST_LIST, help="test list (default tests/harness/tests.toml)")
    p.add_argument("--no-build", action="store_true", help="reuse the staged binaries, do not run cargo")
    p.add_argument("--stage-dir", type=Path, help="staging dir (default ~/.cache/axle/stage/conformance)")
    p.add_argument("--list", action="store_true", help="list the selected tests and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="show output tails of passing runs too")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        specs = select_tests(load_tests(args.tests), args.select)
    except ConfigError as e:
        print(f"error: bad test list: {e}", file=sys.stderr)
        return 2
    if args.smp:
        specs = [dataclasses.replace(s, smp=args.smp) for s in specs]
    if args.list:
        for s in specs:
            end = "kernel fault" if s.kernel_fault else f"status {s.status}"
            extra = "".join([
                f"; append {' '.join(s.append)!r}" if s.append else "",
                f"; fixture {s.fixture.name}" if s.fixture else "",
            ])
            print(f"{s.name}: {' '.join(s.cmd)} -> {end}; smp {list(s.smp)}; host {s.host}{extra}")
        return 0

    passed = failed = 0
    if not specs:
        print(f"no test matches {args.select}", file=sys.stderr)
        print("0 passed, 0 failed")
        return 1

    cache = cache_dir()
    stage_dir = args.stage_dir or cache / "stage" / "conformance"
    log_dir = cache / "test-logs"
    if not args.no_build:
        staged, message = build_and_stage(cache / "target-conformance", stage_dir)
        if staged is None:
            first, _, rest = message.partition("\n")
            print(f"FAIL build  conformance: {first}")
            for line in rest.splitlines():
                print(f"    | {line}")
            print("0 passed, 1 failed")
            return 1
        print(f"built {len(staged)} programs into {stage_dir}", flush=True)
    stage_dir = stage_dir.resolve()

    host_specs = [] if args.axle_only else [s for s in specs if s.host]
    axle_specs = [] if args.host_only else specs

    # Fixtures of the tests that will run, made once before any run.
    fixture_dirs: dict[str, Path | str] = {}  # name -> dir, or why it could not be made
    for s in host_specs + axle_specs:
        f = s.fixture
        if f is None or f.name in fixture_dirs:
            continue
        fdir, note = prepare_fixture(f, stage_dir, fixtures_root(), log_dir / "fixtures" / f"{f.name}.log")
        first, _, rest = note.partition("\n")
        if fdir is None:
            fixture_dirs[f.name] = f"fixture {f.name!r} could not be made: {first}"
            print(f"FAIL fixture  {f.name}: {first}", flush=True)
            for line in rest.splitlines():
                print(f"    | {line}")
        else:
            fixture_dirs[f.name] = fdir
            print(f"fixture {f.name}: {fdir} ({first})", flush=True)

    def bin_dir_of(spec: TestSpec) -> Path | str:
        """The dir that is {bin} (host) / --add (Axle), or why there is none."""
        return stage_dir if spec.fixture is None else fixture_dirs[spec.fixture.name]

    def unless_no_dir(spec: TestSpec, run) -> RunOutcome:
        d = bin_dir_of(spec)
        return RunOutcome(None, "", error=d) if isinstance(d, str) else run(d)

    runs: list[tuple[str, TestSpec, callable]] = []
    runs += [("host", s, lambda s=s: unless_no_dir(s, lambda d: run_host(s, d))) for s in host_specs]
    if not args.host_only:
        opts = AxleOptions(runner=args.runner.resolve(), accel=args.accel, kernel=args.kernel, initrd=args.initrd)
        problem = runner_problem(opts.runner)
        if problem:
            print(f"note: {problem}; every Axle run will fail", flush=True)
        runs += [
            (f"axle/smp{n}", s, lambda s=s, n=n: unless_no_dir(s, lambda d: run_axle(s, n, d, opts)))
            for s in axle_specs for n in s.smp
        ]
    if not runs:
        print("note: nothing to run (the selected tests are Axle-only?)", flush=True)

    # Host runs are listed first, so they finish first when --jobs is 1.
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [(target, spec, pool.submit(fn)) for target, spec, fn in runs]
        for target, spec, future in futures:
            try:
                outcome = future.result()
            except Exception as e:  # a harness bug must not hide the other results
                outcome = RunOutcome(None, "", error=f"harness error: {type(e).__name__}: {e}")
            verdict = evaluate(spec, outcome)
            log = write_log(log_dir, target, spec, outcome, verdict)
            report(target, spec, outcome, verdict, log, args.verbose)
            if verdict.passed:
                passed += 1
            else:
                failed += 1

    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
