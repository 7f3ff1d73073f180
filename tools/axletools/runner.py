"""The implementation of tools/run-qemu: boot Axle in QEMU, run one command, report its status.

The interface is docs/run-interface.md; how it works is docs/tooling.md. In short:

1. The per-run initramfs is one file: the base image, then a newc archive with the
   --add directory under /add, then one with /etc/axle/cmd (argv, NUL-terminated) and
   /etc/axle/env (KEY=VALUE, NUL-terminated). Later archives replace earlier files.
2. QEMU's COM1 is the runner's stdin/stdout (the guest console); with --input the runner
   sits in between, copying the output through and typing the script's keys when their
   prompts appear (tools/axletools/typist.py). Its isa-debugcon device
   (port 0x4f0) is the status channel, a UNIX socket QEMU connects to; a reader thread
   timestamps every line as it arrives (`axle: user`, `axle: exit N`, `axle: signal N`,
   `axle: fault`), so the boot time is measured on the host from the QEMU process start.
3. The runner's exit status is the command's status (128+N for signal N), 125 for a kernel
   fault (also: QEMU ended without any status line), 124 for a timeout, 126 when the run
   could not start (missing kernel/initrd/QEMU, QEMU error).

Standard library only (Python 3.11+).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

from . import hostrt, newc, typist

REPO = Path(__file__).resolve().parents[2]
KERNEL_TARGET = "x86_64-unknown-none"
QBOOT = Path("/usr/share/qemu/qboot.rom")  # Debian's qemu-system-data

# `make run-qemu CMD="..."` hands the runner one string (--command): it runs through the
# image's `/bin/sh -c` (busybox), so pipes, redirections and `;` work. (Before the image
# had a shell this was off and the string was split with shell-like rules, shlex.)
CMD_VIA_SHELL = True

GUEST_PATH = "/bin:/sbin:/usr/bin:/usr/sbin:/add"
LOG_LEVELS = ("error", "warn", "info", "debug", "trace")
NET_MODES = ("none", "user")
DEFAULT_LOG = "warn"

# Exit statuses of the runner besides the command's own.
EXIT_TIMEOUT = 124
EXIT_KERNEL_FAULT = 125
EXIT_NOT_STARTED = 126

KVM_PROBE_TIMEOUT_S = 30
EXIT_GRACE_S = 10  # how long QEMU may linger after an exit/signal/fault line
TERM_GRACE_S = 3  # SIGTERM -> SIGKILL when stopping QEMU

STATUS_RE = re.compile(r"^axle: (?:(user)|exit (-?\d+)|signal (\d+)|(fault))\s*$")


def cache_dir() -> Path:
    """$AXLE_CACHE_DIR or ~/.cache/axle (shared with the test harness)."""
    return Path(os.environ.get("AXLE_CACHE_DIR") or Path.home() / ".cache" / "axle")


def cargo_target_dir() -> Path:
    d = os.environ.get("CARGO_TARGET_DIR")
    return Path(d).resolve() if d else REPO / "target"


def default_kernel() -> Path:
    return cargo_target_dir() / KERNEL_TARGET / "release" / "axle"


def default_initrd() -> Path:
    return REPO / "build" / "initramfs.cpio"


def command_argv(command: str) -> list[str]:
    """The argv of the first process for a command given as one string (make's CMD)."""
    if CMD_VIA_SHELL:
        return ["/bin/sh", "-c", command]
    return shlex.split(command)


def guest_env() -> list[str]:
    term = os.environ.get("TERM") or "linux"
    return [f"PATH={GUEST_PATH}", "HOME=/root", f"TERM={term}"]


def qemu_binary() -> str:
    return os.environ.get("AXLE_QEMU") or "qemu-system-x86_64"


def stdin_is_tty() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False


def stdin_is_open() -> bool:
    try:
        os.fstat(0)
        return True
    except OSError:
        return False


class RunError(Exception):
    """The run cannot start (exit status 126)."""


class Interrupted(Exception):
    """The runner got a signal (SIGINT/SIGTERM/SIGHUP) before the run proper began."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


# --------------------------------------------------------------------------
# Configuration and the QEMU command line


@dataclasses.dataclass
class RunConfig:
    kernel: Path
    initrd: Path | None  # base image; None: boot without an initramfs
    smp: int = 2
    mem: str = "2G"
    accel: str = "tcg"  # resolved: "kvm" or "tcg"
    log: str = DEFAULT_LOG
    append: str = ""
    argv: list[str] | None = None  # None: the image's own init
    add: Path | None = None
    timeout_s: float | None = None
    interactive: bool = False  # stdin is a terminal and there is no command
    capture: Path | None = None  # console (QEMU's stdout) to this file, stdin /dev/null (KVM probe)
    quiet_qemu: bool = False  # keep QEMU's stderr out of ours (KVM probe)
    qemu: str = dataclasses.field(default_factory=qemu_binary)
    qemu_args: list[str] = dataclasses.field(default_factory=list)
    verbose: bool = False
    net: str = "none"  # "none" or "user" (see net_args)
    fwd: list[str] = dataclasses.field(default_factory=list)  # host ports forwarded into the guest (net "user")
    profile: bytes | None = None  # compiled dataflow profile for /etc/axle/profile
    input_steps: list | None = None  # typist.Step list typed into the console (--input)
    host_rt: int = 0  # QEMU's main loop at this host SCHED_FIFO priority (0: no; see hostrt)

    def cmdline(self) -> str:
        words = [f"log={self.log}"]
        if self.append:
            words.append(self.append)
        return " ".join(words)


def _qpath(path: Path) -> str:
    """A path inside a QEMU option string (commas are doubled)."""
    return str(path).replace(",", ",,")


FWD_RE = re.compile(r"^(tcp|udp):(?:(\d{1,5})(?::(\d{1,5}))?)$")


def parse_fwd(spec: str) -> tuple[str, int, int]:
    """A port forward `tcp:8080` (host port 8080 to guest port 8080) or `tcp:18080:8080`
    (host 18080 to guest 8080); `udp:` likewise. ValueError when malformed."""
    m = FWD_RE.match(spec)
    if not m:
        raise ValueError(f"bad port forward {spec!r}: expected tcp|udp:HOSTPORT[:GUESTPORT]")
    host = int(m.group(2))
    guest = int(m.group(3) or host)
    if not (0 < host < 65536 and 0 < guest < 65536):
        raise ValueError(f"bad port forward {spec!r}: ports are 1-65535")
    return m.group(1), host, guest


def net_args(mode: str, fwd: list[str] | None = None) -> list[str]:
    """QEMU's network options: none, or "user": QEMU user networking (slirp; the guest is
    10.0.2.15, the gateway 10.0.2.2, DNS 10.0.2.3) on a virtio-net-pci card (no option
    ROM: the guest kernel drives the card), with `fwd` host ports forwarded to the guest."""
    if mode == "user":
        netdev = "user,id=n0"
        for spec in fwd or []:
            proto, host, guest = parse_fwd(spec)
            netdev += f",hostfwd={proto}:127.0.0.1:{host}-:{guest}"
        return ["-netdev", netdev, "-device", "virtio-net-pci,netdev=n0,romfile="]
    if mode == "none":
        if fwd:
            raise ValueError("port forwards need the user network (--net user)")
        return ["-net", "none"]
    raise ValueError(f"unknown network mode {mode!r}")


def serial_chardev(cfg: RunConfig, stdin_is_tty: bool) -> str:
    if cfg.input_steps is not None:
        # The runner types into the console (--input): stdin and stdout are pipes.
        return "stdio,id=ser0,signal=off"
    if cfg.interactive and cfg.capture is None:
        # ^C and friends go to the guest; Ctrl-A x quits QEMU (mux escape), Ctrl-A h helps.
        return "stdio,id=ser0,mux=on,signal=off"
    if stdin_is_tty and cfg.capture is None:
        # A command on a terminal: ^C stops the run (QEMU ends on SIGINT, we report 130).
        return "stdio,id=ser0,signal=on"
    return "stdio,id=ser0,signal=off"


def qemu_command(cfg: RunConfig, initrd: Path | None, status_sock: Path, stdin_is_tty: bool = False,
                 qmp_sock: Path | None = None) -> list[str]:
    cmd = [cfg.qemu, "-machine", "q35"]
    if cfg.accel == "kvm":
        cmd += ["-accel", "kvm", "-cpu", "host"]
    else:
        cmd += ["-accel", "tcg", "-cpu", "max"]
    cmd += ["-m", cfg.mem, "-smp", str(cfg.smp)]
    if QBOOT.is_file():
        cmd += ["-bios", str(QBOOT)]
    cmd += ["-kernel", str(cfg.kernel)]
    if initrd is not None:
        cmd += ["-initrd", str(initrd)]
    cmd += [
        "-append", cfg.cmdline(),
        "-display", "none", "-no-reboot", *net_args(cfg.net, cfg.fwd),
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        "-chardev", f"socket,id=status,path={_qpath(status_sock)}",
        "-device", "isa-debugcon,iobase=0x4f0,chardev=status",
        "-chardev", serial_chardev(cfg, stdin_is_tty),
        "-serial", "chardev:ser0",
    ]
    if qmp_sock is not None:
        cmd += ["-qmp", f"unix:{_qpath(qmp_sock)},server=on,wait=off"]
    if cfg.host_rt:
        cmd += hostrt.QEMU_ARGS
    return cmd + list(cfg.qemu_args)


# --------------------------------------------------------------------------
# The per-run initramfs


def compose_initrd(out_path: Path, base: Path, add: Path | None, argv: list[str] | None, env: list[str],
                   warn=lambda msg: None, profile: bytes | None = None) -> None:
    """base image + (add dir under /add) + (/etc/axle/cmd, /etc/axle/env, and the compiled
    dataflow profile as /etc/axle/profile), streamed."""
    with open(out_path, "wb") as out:
        with open(base, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
        size = out.tell()
        # Each archive starts on a 4-byte boundary (the kernel skips zero padding).
        out.write(b"\0" * ((4 - size % 4) % 4))
        if add is not None:
            with newc.Writer(out, first_ino=1_000_000, mtime=None) as w:
                w.add_tree("/add", add, on_skip=lambda p, why: warn(f"--add: skipped {p}: {why}"))
        with newc.Writer(out, first_ino=3_000_000_000, mtime=int(time.time())) as w:
            w.add_dir("/etc")
            w.add_dir("/etc/axle")
            if argv is not None:
                w.add_bytes("/etc/axle/cmd", newc.nul_strings(argv))
            w.add_bytes("/etc/axle/env", newc.nul_strings(env))
            if profile is not None:
                w.add_bytes("/etc/axle/profile", profile)


def load_profile(spec: str) -> bytes:
    """The compiled profile for `--profile`: a name in configs/profiles/, a .toml file
    (compiled by `cargo run -p dataflow-profile -- compile`), or an already compiled file.
    RunError when it cannot be found or does not compile (the tool's errors are shown)."""
    path = Path(spec)
    if not path.exists() and not path.is_absolute() and (REPO / spec).exists():
        path = REPO / spec
    if not path.exists() and "/" not in spec:
        path = REPO / "configs" / "profiles" / (spec if spec.endswith(".toml") else spec + ".toml")
    if not path.is_file():
        raise RunError(f"profile not found: {spec} (a file, or a name in configs/profiles/)")
    if path.suffix != ".toml":
        return path.read_bytes()
    proc = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "-p", "dataflow-profile", "--bin", "axle-profile", "--",
         "compile", str(path), "-o", "-"],
        cwd=REPO, capture_output=True)
    if proc.returncode != 0:
        raise RunError(f"profile {path} does not compile:\n{proc.stderr.decode(errors='replace').rstrip()}")
    return proc.stdout


# --------------------------------------------------------------------------
# The status channel


class StatusReader(threading.Thread):
    """Accepts QEMU's connection to the status socket and timestamps each line."""

    def __init__(self, listener: socket.socket, t0: float):
        super().__init__(name="axle-status", daemon=True)
        self.listener = listener
        self.t0 = t0
        self.stop = threading.Event()
        self.terminal = threading.Event()  # an exit/signal/fault line arrived
        self.events: list[tuple[float, str]] = []  # (ms since QEMU start, line)
        self.lock = threading.Lock()

    def run(self) -> None:
        self.listener.settimeout(0.05)
        conn = None
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
                break
            except TimeoutError:
                continue
            except OSError:
                return
        if conn is None:
            return
        buf = b""
        with conn:
            conn.settimeout(None)
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    break
                now = time.monotonic()
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._line(now, line)
        if buf:
            self._line(time.monotonic(), buf)

    def _line(self, now: float, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        with self.lock:
            self.events.append(((now - self.t0) * 1000.0, line))
        m = STATUS_RE.match(line)
        if m and not m.group(1):
            self.terminal.set()

    def snapshot(self) -> list[tuple[float, str]]:
        with self.lock:
            return list(self.events)


class QmpWatcher(threading.Thread):
    """Connects to QEMU's QMP socket and remembers the reason of its SHUTDOWN event, which
    tells a guest reset (triple fault) from a console quit when no status line came."""

    def __init__(self, path: Path):
        super().__init__(name="axle-qmp", daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.reason: str | None = None

    def run(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while not self.stop.is_set():
            try:
                sock.connect(str(self.path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.005)
            except OSError:
                return
        else:
            sock.close()
            return
        try:
            with sock, sock.makefile("rwb") as f:
                f.readline()  # greeting
                f.write(b'{"execute": "qmp_capabilities"}\n')
                f.flush()
                for line in f:
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if msg.get("event") == "SHUTDOWN" and self.reason is None:
                        self.reason = str((msg.get("data") or {}).get("reason") or "")
        except OSError:
            pass


# --------------------------------------------------------------------------
# Results


@dataclasses.dataclass
class Result:
    status: int | None = None
    signal: int | None = None
    kernel_fault: bool = False
    timeout: bool = False
    boot_to_user_ms: float | None = None
    wall_ms: float = 0.0
    accel: str | None = None
    smp: int | None = None
    mem: str | None = None
    qemu_exit: int | None = None
    qemu_failed: bool = False
    interrupted: int | None = None  # signal that stopped the runner (2 also for a console quit)
    shutdown_reason: str | None = None  # QEMU's QMP SHUTDOWN reason, if any
    error: str | None = None
    events: list = dataclasses.field(default_factory=list)
    input: dict | None = None  # --input progress: {"steps", "done", "failed"}
    host_rt: int = 0  # host SCHED_FIFO priority QEMU's main loop ran at (0: none)

    def exit_status(self) -> int:
        if self.qemu_failed:
            return EXIT_NOT_STARTED
        if self.kernel_fault:
            return EXIT_KERNEL_FAULT
        if self.signal is not None:
            return (128 + self.signal) & 0xFF
        if self.status is not None:
            return self.status & 0xFF
        if self.timeout:
            return EXIT_TIMEOUT
        if self.interrupted is not None:
            return 128 + self.interrupted
        return EXIT_KERNEL_FAULT

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["wall_ms"] = round(self.wall_ms, 3)
        if self.boot_to_user_ms is not None:
            d["boot_to_user_ms"] = round(self.boot_to_user_ms, 3)
        d["events"] = [{"ms": round(t, 3), "line": line} for t, line in self.events]
        return d


# QMP SHUTDOWN reasons that mean a person (or another program) ended QEMU, not the guest.
USER_QUIT_REASONS = {"host-qmp-quit": signal.SIGINT, "host-ui": signal.SIGINT, "host-signal": signal.SIGTERM}


def judge(result: Result, events: list[tuple[float, str]], qemu_rc: int | None, qemu_stderr: str,
          we_stopped_qemu: bool, shutdown_reason: str | None = None) -> None:
    """Fills status/signal/kernel_fault/qemu_failed from the status lines and QEMU's end.

    shutdown_reason is the `reason` of QEMU's QMP SHUTDOWN event, if one came (it does for a
    guest reset/triple fault under -no-reboot, a console Ctrl-A x, a signal to QEMU; not for
    isa-debug-exit)."""
    result.events = events
    result.qemu_exit = qemu_rc
    result.shutdown_reason = shutdown_reason
    terminal = None
    for t, line in events:
        m = STATUS_RE.match(line)
        if not m:
            continue
        if m.group(1):
            if result.boot_to_user_ms is None:
                result.boot_to_user_ms = t
        elif m.group(4):
            result.kernel_fault = True  # a fault anywhere spoils the run
        elif terminal is None:
            terminal = m
    if result.kernel_fault:
        result.status = result.signal = None
        return
    if terminal is not None:
        if terminal.group(2) is not None:
            result.status = int(terminal.group(2))
        else:
            result.signal = int(terminal.group(3))
        result.timeout = False  # the command finished; QEMU only lingered
        return
    if result.timeout or result.interrupted is not None:
        return
    # QEMU ended and the kernel said nothing conclusive.
    qemu_error = any(l.startswith(("qemu-system", "qemu:")) or "error" in l.lower()
                     for l in qemu_stderr.splitlines())
    if shutdown_reason in USER_QUIT_REASONS and not we_stopped_qemu:
        result.interrupted = int(USER_QUIT_REASONS[shutdown_reason])
        result.error = ("QEMU was quit from its console (Ctrl-A x)" if shutdown_reason != "host-signal"
                        else "QEMU was stopped by a signal") + " before the kernel reported an exit status"
    elif not we_stopped_qemu and qemu_rc is not None and (qemu_rc < 0 or (qemu_rc == 1 and qemu_error)):
        result.qemu_failed = True
        result.error = "QEMU failed" + (f": {qemu_stderr.strip().splitlines()[-1]}" if qemu_stderr.strip() else
                                        f" (exit {qemu_rc})")
    else:
        result.kernel_fault = True
        what = {
            "guest-reset": "the guest reset (a triple fault?)",
            "guest-shutdown": "the guest powered off",
            "guest-panic": "the guest panicked",
        }.get(shutdown_reason or "", f"QEMU exited (status {qemu_rc})")
        result.error = f"{what} without an exit status from the kernel: counted as a kernel fault"


def write_result(path: Path | None, result: Result) -> None:
    if path is None:
        return
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# Temporary run directories (swept when their runner died without cleaning up)


RUN_DIR_RE = re.compile(r"^axle-run-(\d+)-")


def sweep_stale_run_dirs(base: Path) -> None:
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        m = RUN_DIR_RE.match(name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            continue  # still running (or the pid was reused: leave it)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        path = base / name
        try:
            if time.time() - path.stat().st_mtime > 60:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


# --------------------------------------------------------------------------
# One run


class _Signals:
    """Turns SIGTERM/SIGHUP/SIGINT into a flag while QEMU runs."""

    def __init__(self):
        self.received: int | None = None
        self.old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                self.old[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.received is None:
            self.received = signum

    def __exit__(self, *exc):
        for sig, h in self.old.items():
            signal.signal(sig, h)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def _pump_console(pipe, capture, console: "typist.Console") -> None:
    """Copies QEMU's console output to our stdout (or the capture file) and the typist."""
    out = capture if capture is not None else sys.stdout.buffer
    fd = pipe.fileno()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        console.feed(chunk)
        try:
            out.write(chunk)
            out.flush()
        except (OSError, ValueError):
            pass
    console.close()


def _pump_stderr(pipe, keep: list[bytes], forward: bool) -> None:
    # QEMU's note about our own SIGTERM (timeout, ^C) is noise.
    ours = re.compile(rb"terminating on signal \d+ from pid %d\b" % os.getpid())
    for chunk in iter(pipe.readline, b""):
        keep.append(chunk)
        if forward and not ours.search(chunk):
            try:
                sys.stderr.buffer.write(chunk)
                sys.stderr.buffer.flush()
            except (OSError, ValueError):
                pass


def run(cfg: RunConfig, say=lambda msg: None) -> Result:
    """Boots Axle once. Raises RunError when the run cannot start."""
    result = Result(accel=cfg.accel, smp=cfg.smp, mem=cfg.mem, host_rt=cfg.host_rt)
    if not cfg.kernel.is_file():
        raise RunError(f"kernel image not found: {cfg.kernel} (`make kernel` builds it; `make run-qemu` builds "
                       "everything)")
    if cfg.initrd is not None and not cfg.initrd.is_file():
        raise RunError(f"initramfs not found: {cfg.initrd} (`make image` builds it; `make run-qemu` builds "
                       "everything)")
    if cfg.add is not None and not cfg.add.is_dir():
        raise RunError(f"--add {cfg.add}: not a directory")
    if shutil.which(cfg.qemu) is None:
        raise RunError(f"{cfg.qemu} not found (tools/setup.sh installs the Debian package qemu-system-x86)")

    tmp_base = Path(tempfile.gettempdir())
    sweep_stale_run_dirs(tmp_base)
    workdir = Path(tempfile.mkdtemp(prefix=f"axle-run-{os.getpid()}-", dir=tmp_base))
    stdin_tty = cfg.capture is None and cfg.input_steps is None and stdin_is_tty()
    saved_tty = None
    try:
        initrd = None
        if cfg.initrd is not None:
            initrd = workdir / "initramfs.cpio"
            try:
                compose_initrd(initrd, cfg.initrd, cfg.add, cfg.argv, guest_env(), warn=say, profile=cfg.profile)
            except (OSError, newc.CpioError) as e:
                raise RunError(f"cannot build the run's initramfs: {e}") from None
        sock_path = workdir / "status.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(sock_path))
        listener.listen(1)
        qmp_path = workdir / "qmp.sock"
        cmd = qemu_command(cfg, initrd, sock_path, stdin_tty, qmp_path)
        if cfg.verbose:
            say("qemu: " + shlex.join(cmd))
        if stdin_tty:
            with contextlib.suppress(termios.error):
                saved_tty = termios.tcgetattr(0)

        with _Signals() as sigs, contextlib.ExitStack() as stack:
            console_out = None
            if cfg.capture is not None:
                console_out = stack.enter_context(open(cfg.capture, "wb"))
            t0 = time.monotonic()
            reader = StatusReader(listener, t0)
            reader.start()
            qmp = QmpWatcher(qmp_path)
            qmp.start()
            typing = cfg.input_steps is not None
            if typing:
                # The console goes through us: we watch it and type the --input script.
                stdin_arg, stdout_arg = subprocess.PIPE, subprocess.PIPE
            else:
                # The console's input is ours; /dev/null when we have none (closed fd 0).
                stdin_arg = subprocess.DEVNULL if cfg.capture is not None or not stdin_is_open() else None
                stdout_arg = console_out if cfg.capture is not None else None
            try:
                proc = subprocess.Popen(cmd, stdin=stdin_arg, stdout=stdout_arg, stderr=subprocess.PIPE)
            except OSError as e:
                reader.stop.set()
                qmp.stop.set()
                raise RunError(f"cannot start {cfg.qemu}: {e}") from None
            if cfg.host_rt:
                why = hostrt.boost_main_loop(proc.pid, cfg.host_rt)
                if why is not None:
                    _stop(proc)
                    reader.stop.set()
                    qmp.stop.set()
                    raise RunError(f"--host-rt: {why}")
            keys = None
            if typing:
                console = typist.Console()
                threading.Thread(target=_pump_console, args=(proc.stdout, console_out, console), daemon=True).start()

                def type_keys(data: bytes) -> None:
                    proc.stdin.write(data)
                    proc.stdin.flush()

                keys = typist.Typist(cfg.input_steps, console, type_keys,
                                     deadline=t0 + cfg.timeout_s if cfg.timeout_s else None)
                keys.start()
            stderr_chunks: list[bytes] = []
            pump = threading.Thread(target=_pump_stderr, args=(proc.stderr, stderr_chunks, not cfg.quiet_qemu),
                                    daemon=True)
            pump.start()
            exited = threading.Event()
            t_end = [0.0]

            def waiter():
                proc.wait()
                t_end[0] = time.monotonic()
                exited.set()

            threading.Thread(target=waiter, daemon=True).start()

            we_stopped = False
            terminal_at = None
            deadline = t0 + cfg.timeout_s if cfg.timeout_s else None
            while not exited.wait(0.05):
                now = time.monotonic()
                if sigs.received is not None:
                    result.interrupted = sigs.received
                    # On a terminal's ^C QEMU got the SIGINT too and is ending by itself.
                    exited.wait(TERM_GRACE_S if sigs.received == signal.SIGINT else 0)
                    we_stopped = proc.poll() is None
                    _stop(proc)
                    break
                if reader.terminal.is_set():
                    terminal_at = terminal_at or now
                    if now - terminal_at > EXIT_GRACE_S:
                        say(f"QEMU did not exit within {EXIT_GRACE_S} s of the kernel's status line; stopping it")
                        we_stopped = True
                        _stop(proc)
                        break
                if deadline is not None and now >= deadline and not reader.terminal.is_set():
                    result.timeout = True
                    we_stopped = True
                    _stop(proc)
                    break
                if keys is not None and keys.failed and not reader.terminal.is_set():
                    # Expected console output never came: stop now, as a timeout.
                    result.timeout = True
                    we_stopped = True
                    _stop(proc)
                    break
            exited.wait()
            if keys is not None:
                keys.stop.set()
                result.input = keys.progress()
            if sigs.received is not None and result.interrupted is None:
                result.interrupted = sigs.received  # e.g. ^C reached QEMU and us at once
            result.wall_ms = ((t_end[0] or time.monotonic()) - t0) * 1000.0
            reader.stop.set()
            qmp.stop.set()
            reader.join(2.0)
            qmp.join(2.0)
            pump.join(2.0)
            listener.close()
        stderr_text = b"".join(stderr_chunks).decode("utf-8", "replace")
        judge(result, reader.snapshot(), proc.returncode, stderr_text, we_stopped, qmp.reason)
        if result.timeout and result.status is None and result.signal is None:
            failed = (result.input or {}).get("failed")
            result.error = failed or f"timed out after {cfg.timeout_s:g} s"
        if result.interrupted is not None and result.status is None and result.signal is None \
                and not result.kernel_fault and not result.error:
            result.error = f"interrupted by signal {result.interrupted}"
        return result
    finally:
        if saved_tty is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(0, termios.TCSADRAIN, saved_tty)
        if os.environ.get("AXLE_KEEP_RUN_DIR"):
            say(f"kept the run directory {workdir} (AXLE_KEEP_RUN_DIR)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------
# Choosing the accelerator: KVM only when it really runs Axle


def kvm_device_usable() -> tuple[bool, str]:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return False, f"/dev/kvm: {e.strerror}"
    os.close(fd)
    return True, ""


def qemu_version(qemu: str) -> str:
    try:
        out = subprocess.run([qemu, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[0].strip() if out.strip() else "unknown"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def kvm_probe(kernel: Path, qemu: str | None = None, *, refresh: bool = False, say=lambda msg: None) \
        -> tuple[bool, str, bool]:
    """Whether KVM runs this kernel correctly: (usable, reason, from_cache).

    Boots the kernel with `selftest` under `-accel kvm -cpu host` and requires
    `axle: exit 0` within KVM_PROBE_TIMEOUT_S. The verdict is cached in
    ~/.cache/axle/kvm-probe.json keyed by the kernel's sha256 and the QEMU version.
    """
    qemu = qemu or qemu_binary()
    ok, why = kvm_device_usable()
    if not ok:
        return False, why, True  # nothing to probe; "cached" keeps this quiet on every run
    if not kernel.is_file():
        return False, f"kernel image not found: {kernel}", False
    key = f"{file_sha256(kernel)} {qemu_version(qemu)}"
    cdir = cache_dir()
    cdir.mkdir(parents=True, exist_ok=True)
    cache_file = cdir / "kvm-probe.json"
    with open(cdir / "kvm-probe.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one probe at a time; the others read its verdict
        try:
            cache = json.loads(cache_file.read_text())
            if not isinstance(cache, dict):
                cache = {}
        except (OSError, ValueError):
            cache = {}
        entry = cache.get(key)
        if isinstance(entry, dict) and "kvm" in entry and not refresh:
            return bool(entry["kvm"]), str(entry.get("reason", "")), True
        log = cdir / "kvm-probe.log"
        cfg = RunConfig(kernel=kernel, initrd=None, smp=2, mem="2G", accel="kvm", append="selftest",
                        timeout_s=KVM_PROBE_TIMEOUT_S, capture=log, quiet_qemu=True, qemu=qemu)
        try:
            r = run(cfg)
        except RunError as e:
            r = Result(qemu_failed=True, error=str(e))
        if r.interrupted is not None:
            raise Interrupted(r.interrupted)  # no verdict: nothing is cached
        if r.status == 0 and not r.kernel_fault and not r.qemu_failed:
            verdict, reason = True, f"selftest passed under KVM in {r.wall_ms:.0f} ms"
        else:
            detail = r.error or (f"selftest status {r.status}" if r.status is not None else f"signal {r.signal}")
            verdict, reason = False, f"selftest under KVM failed: {detail} (console: {log})"
        cache = {k: v for k, v in cache.items() if isinstance(v, dict)}
        cache[key] = {"kvm": verdict, "reason": reason, "kernel": str(kernel),
                      "checked": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if len(cache) > 32:  # keep the newest entries
            cache = dict(sorted(cache.items(), key=lambda kv: kv[1].get("checked", ""))[-32:])
        tmp = cache_file.with_name(f".kvm-probe.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=2) + "\n")
        os.replace(tmp, cache_file)
        return verdict, reason, False


def choose_accel(requested: str, kernel: Path, qemu: str, verbose: bool, say) -> str:
    if requested in ("kvm", "tcg"):
        if verbose:
            say(f"accelerator: {requested} (requested)")
        return requested
    ok, reason, cached = kvm_probe(kernel, qemu, say=say)
    accel = "kvm" if ok else "tcg"
    if verbose or not cached:
        # Said once per verdict (the first run after a kernel or QEMU change), or with -v.
        say(f"accelerator: {accel} ({'KVM usable' if ok else 'KVM not usable'}: {reason}"
            f"{'; cached' if cached else ''})")
    return accel


# --------------------------------------------------------------------------
# Command line


MEM_RE = re.compile(r"^[1-9]\d*[KMGT]?$", re.IGNORECASE)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="run-qemu",
        description="Boot Axle in QEMU, run CMD as the first process, exit with its status "
                    "(128+N for signal N; 125 kernel fault; 124 timeout; 126 the run could not start). "
                    "See docs/run-interface.md.",
        usage="%(prog)s [options] [--] [CMD [ARG...]]",
    )
    p.add_argument("--smp", type=int, default=2, help="number of CPUs (default 2)")
    p.add_argument("--mem", default="2G", help="guest memory, QEMU syntax: 512M, 2G (default 2G)")
    p.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                   help="auto (default): KVM if /dev/kvm is usable and Axle's self-test passes under it, else TCG")
    p.add_argument("--add", type=Path, metavar="DIR", help="files under DIR appear under /add in the guest")
    p.add_argument("--timeout", type=float, metavar="SECS", default=0,
                   help="stop the run after SECS seconds from QEMU's start (exit 124); 0 = none (default)")
    p.add_argument("--result", type=Path, metavar="FILE.json", help="write the run's result as JSON")
    p.add_argument("--kernel", type=Path, help=f"kernel image (default {default_kernel()})")
    p.add_argument("--initrd", type=Path, help=f"base initramfs (default {default_initrd()})")
    p.add_argument("--log", choices=LOG_LEVELS, default=DEFAULT_LOG, help=f"kernel log level (default {DEFAULT_LOG})")
    p.add_argument("--append", default="", metavar="EXTRA", help="extra kernel command line words, e.g. selftest")
    p.add_argument("--net", choices=NET_MODES, default="none",
                   help="guest network: none (default) or user (QEMU user networking on a virtio-net-pci card: "
                        "guest 10.0.2.15, gateway 10.0.2.2)")
    p.add_argument("--fwd", action="append", default=[], metavar="PROTO:HOSTPORT[:GUESTPORT]",
                   help="forward a host port (on 127.0.0.1) into the guest, e.g. tcp:8080 or tcp:18080:8080 "
                        "(repeatable; implies --net user)")
    p.add_argument("--profile", metavar="FILE",
                   help="dataflow profile for this run: a compiled profile, a .toml file (compiled with "
                        "axle-profile), or a name in configs/profiles/; put at /etc/axle/profile")
    p.add_argument("--command", metavar="STRING",
                   help="the command as one string (make's CMD): split with shell-like rules into argv "
                        "(later: run by /bin/sh -c); empty = no command")
    p.add_argument("--input", type=Path, metavar="FILE.json",
                   help="type into the console: a JSON list of steps {\"wait\": REGEX, \"after\": SECS, "
                        "\"send\": TEXT, \"timeout\": SECS}; each waits for REGEX in the console's text, then "
                        "sends TEXT (see docs/run-interface.md)")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                   help="extra QEMU argument (repeatable), e.g. --qemu-arg=-s --qemu-arg=-S for gdb")
    p.add_argument("--host-rt", type=int, nargs="?", const=1, default=0, metavar="PRIO",
                   help="latency measurements: QEMU's main-loop thread at host SCHED_FIFO PRIO (default 1) and "
                        "the guest's memory allocated before boot (-mem-prealloc), so that neither the host's "
                        "scheduler nor its page faults show in the guest's latencies (needs root)")
    p.add_argument("--probe-kvm", action="store_true",
                   help="only run the KVM probe for the kernel (cached; with --reprobe: fresh) and exit 0 if "
                        "KVM is usable, 1 if not")
    p.add_argument("--reprobe", action="store_true", help="with --probe-kvm: ignore the cached verdict")
    p.add_argument("-v", "--verbose", action="store_true", help="say the accelerator and QEMU command on stderr")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for spec in args.fwd:
        try:
            parse_fwd(spec)
        except ValueError as e:
            p.error(str(e))
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if args.cmd and args.command:
        p.error("give the command either with --command or after --, not both")
    if args.smp < 1 or args.smp > 255:
        p.error("--smp must be 1..255")
    if not MEM_RE.match(args.mem):
        p.error(f"--mem {args.mem!r}: expected a size such as 512M or 2G")
    if args.timeout < 0:
        p.error("--timeout must be >= 0")
    return args


def _plug_closed_std_fds() -> None:
    """A closed fd 0/1/2 (CI without stdin) becomes /dev/null, so that no socket or file
    we open later takes its number and is handed to QEMU as its console."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def main(argv: list[str] | None = None) -> int:
    _plug_closed_std_fds()
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def say(msg: str) -> None:
        print(f"run-qemu: {msg}", file=sys.stderr, flush=True)

    kernel = (args.kernel or default_kernel()).resolve()
    qemu = qemu_binary()

    if args.probe_kvm:
        ok, reason, cached = kvm_probe(kernel, qemu, refresh=args.reprobe, say=say)
        print(f"kvm: {'usable' if ok else 'not usable'}: {reason}{' (cached)' if cached else ''}")
        return 0 if ok else 1

    cmd_argv: list[str] | None = None
    if args.cmd:
        cmd_argv = list(args.cmd)
    elif args.command and args.command.strip():
        try:
            cmd_argv = command_argv(args.command)
        except ValueError as e:
            print(f"run-qemu: cannot split the command {args.command!r}: {e}", file=sys.stderr)
            return 2
    input_steps = None
    if args.input is not None:
        try:
            input_steps = typist.load(args.input)
        except (OSError, ValueError) as e:
            print(f"run-qemu: --input {args.input}: {e}", file=sys.stderr)
            return 2
    append = args.append.strip()
    selftest = "selftest" in append.split()
    if args.initrd is not None:
        initrd: Path | None = args.initrd.resolve()
    else:
        initrd = default_initrd()
        if not initrd.is_file() and selftest and cmd_argv is None and args.add is None:
            initrd = None  # the self-test needs no user space

    result = Result(smp=args.smp, mem=args.mem)
    try:
        if not kernel.is_file():
            raise RunError(f"kernel image not found: {kernel} (`make kernel` builds it; `make run-qemu` builds "
                           "everything)")
        accel = choose_accel(args.accel, kernel, qemu, args.verbose, say)
        cfg = RunConfig(
            kernel=kernel, initrd=initrd, smp=args.smp, mem=args.mem, accel=accel, log=args.log, append=append,
            argv=cmd_argv, add=args.add.resolve() if args.add else None, timeout_s=args.timeout or None,
            interactive=cmd_argv is None and input_steps is None and stdin_is_tty(), qemu=qemu, qemu_args=args.qemu_arg,
            verbose=args.verbose, net="user" if args.fwd else args.net, fwd=args.fwd,
            profile=load_profile(args.profile) if args.profile else None, input_steps=input_steps,
            host_rt=args.host_rt,
        )
        if cfg.interactive:
            say("interactive console: Ctrl-A x quits QEMU, Ctrl-A h lists the other keys")
        result = run(cfg, say=say)
    except RunError as e:
        say(f"error: {e}")
        result.qemu_failed = True
        result.error = str(e)
    except Interrupted as e:
        result.interrupted = e.signum
        result.error = f"{e} (during the KVM probe)"
    except OSError as e:
        say(f"error: {e}")
        result.qemu_failed = True
        result.error = str(e)
    status = result.exit_status()
    if result.error and not result.qemu_failed:
        say(result.error)
    elif result.qemu_failed and result.error and result.qemu_exit is not None:
        say(result.error)
    try:
        write_result(args.result, result)
    except OSError as e:
        say(f"cannot write {args.result}: {e}")
    if args.verbose:
        boot = f"{result.boot_to_user_ms:.1f} ms" if result.boot_to_user_ms is not None else "n/a"
        say(f"exit {status} (boot to user {boot}, wall {result.wall_ms:.0f} ms)")
    return status
