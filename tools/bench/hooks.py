"""Metrics measured by tools that others build (or that need more than the core plan):

- `timerlat`: the cyclictest-like `axle-cyclictest` with `axle-load` as background load
  (tests/rt-tools, docs/rt-tools.md), run inside the main plan; idle and under load.
- `rslatency`: Dora's rs-latency dataflow (tests/dataflows, docs/dora.md) in boots of its
  own, per kernel; p50/p99/max for 8 B, 4 MB and 40 MB messages.
- `guest_host`: a TCP round trip from the guest to an echo server on the host through
  QEMU's user network, in a boot of its own with a network card.

Each hook decides per system whether it can run (`reason[system]` is why not: the table
then shows n/a with that reason, never a number) and turns console output into metrics."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

from . import plan as planmod
from .console import Parsed, parse
from .systems import REPO, BenchError, cache_dir, cargo_build


class Hook:
    name = ""
    steps: tuple[str, ...] = ()  # metric steps (metrics.py) this hook produces

    def __init__(self):
        self.reason: dict[str, str] = {}  # system key -> why it cannot run there

    def unavailable_everywhere(self, systems) -> bool:
        return all(s.key in self.reason for s in systems)

    def mark_all(self, systems, why: str) -> None:
        for s in systems:
            self.reason.setdefault(s.key, why)


# --------------------------------------------------------------------------


def cyclictest_summary(lines: list[str]) -> dict[str, float] | None:
    """The `all` row of axle-cyclictest's table: {"p99": us, "max": us}, or None.
    The `all` row leaves the class column empty, so columns are matched from the right."""
    header = next((ln.split() for ln in lines if ln.startswith("thread ") and "p99_us" in ln), None)
    row = next((ln.split() for ln in lines if ln.startswith("all ")), None)
    if not header or not row:
        return None
    numeric = header[header.index("samples"):]
    values = row[-len(numeric):]
    try:
        cols = dict(zip(numeric, (float(v) for v in values)))
        return {"p99": cols["p99_us"], "max": cols["max_us"]}
    except (KeyError, ValueError):
        return None


class TimerLatency(Hook):
    name = "timerlat"
    steps = ("timerlat_idle", "timerlat_load")
    manifest = REPO / "tests" / "rt-tools" / "Cargo.toml"

    def prepare(self, systems, stage: Path, mode) -> None:
        if not self.manifest.exists():
            self.mark_all(systems, "the timer-latency tool (tests/rt-tools: axle-cyclictest) is not in the tree yet")
            return
        try:
            release = cargo_build(self.manifest, cache_dir() / "target-rt-tools", ["axle-cyclictest", "axle-load"])
        except BenchError as e:
            self.mark_all(systems, f"tests/rt-tools did not build: {str(e).splitlines()[-1]}")
            return
        (stage / "hooks").mkdir(exist_ok=True)
        for name in ("axle-cyclictest", "axle-load"):
            shutil.copy2(release / name, stage / "hooks" / name)

    def plan_lines(self, mode) -> list[str]:
        s = mode.cyclictest_s
        t = 60 + 2 * s
        tool = f"{planmod.ADD}/hooks/axle-cyclictest -D {s}s -m -q"
        return [
            f"run timerlat_idle {t} {tool}",
            f"start timerlat_loadgen {planmod.ADD}/hooks/axle-load -D {s + t}s -q",
            f"run timerlat_load {t} {tool}",
            "stop timerlat_loadgen",
        ]

    def parse(self, p: Parsed) -> None:
        for step in self.steps:
            s = p.steps.get(step)
            if s is None:
                continue
            summary = cyclictest_summary(s.lines)
            if summary is None:
                continue
            for stat, v in summary.items():
                p.metrics[f"{step}_{stat}"] = v
                if any("NOT AS ASKED" in ln for ln in s.lines):
                    p.notes.setdefault(f"{step}_{stat}", []).append(
                        "a thread did not run SCHED_FIFO/80 as asked (see the console)")


# --------------------------------------------------------------------------

RS_SIZES = {8: "8B", 4_096_000: "4MB", 40_960_000: "40MB"}
RS_BEGIN = "----- BEGIN latency-raw.csv -----"
RS_END = "----- END latency-raw.csv -----"


def nearest_rank(sorted_values: list[float], p: float) -> float:
    import math
    rank = max(1, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def rslatency_metrics(console: str) -> tuple[dict[str, float], dict[str, list[str]]]:
    """p50/p99/max (us) per message size from the raw CSV that dora-flow.sh prints between
    its markers (columns size_index,size_bytes,seq,send_ns,recv_ns,latency_ns,period_ns),
    and notes for sizes with fewer samples than the plan's `count`."""
    text = console.replace("\r", "")
    if RS_BEGIN not in text or RS_END not in text:
        return {}, {}
    body = text.split(RS_BEGIN, 1)[1].split(RS_END, 1)[0]
    count = None
    for ln in body.splitlines():
        if ln.startswith("# plan:") and "count=" in ln:
            try:
                count = int(ln.split("count=", 1)[1].split(";")[0])
            except ValueError:
                pass
    rows = [ln for ln in body.splitlines() if ln.strip() and not ln.startswith("#")]
    if not rows or not rows[0].startswith("size_index,"):
        return {}, {}
    cols = rows[0].split(",")
    i_size, i_lat = cols.index("size_bytes"), cols.index("latency_ns")
    by_size: dict[int, list[float]] = {}
    for ln in rows[1:]:
        f = ln.split(",")
        try:
            by_size.setdefault(int(f[i_size]), []).append(int(f[i_lat]) / 1000.0)
        except (ValueError, IndexError):
            continue
    out: dict[str, float] = {}
    notes: dict[str, list[str]] = {}
    for size, label in RS_SIZES.items():
        vals = sorted(by_size.get(size, []))
        if not vals:
            continue
        for stat, v in (("p50", nearest_rank(vals, 50)), ("p99", nearest_rank(vals, 99)), ("max", vals[-1])):
            out[f"rslatency_{label}_{stat}"] = v
            if count is not None and len(vals) < count:
                notes[f"rslatency_{label}_{stat}"] = [f"only {len(vals)} of {count} messages arrived in a run"]
    return out, notes


def initrd_members(path: Path) -> set[str]:
    import sys
    sys.path.insert(0, str(REPO / "tools"))
    from axletools import newc  # noqa: E402
    try:
        return {m.name.lstrip("/") for m in newc.read_members(path.read_bytes())}
    except (OSError, newc.CpioError):
        return set()


class RsLatency(Hook):
    name = "rslatency"
    steps = ("rslatency",)
    boot_timeout_s = 300  # a Linux run takes about a minute under TCG; keeps a hang affordable
    env = "LAT_SIZES=" + ",".join(str(s) for s in RS_SIZES)
    # Dora 0.3.5 takes a fresh /dev/shm region per large message until the sink returns it:
    # a 40 MB phase that lags under TCG holds gigabytes (docs/dora.md). Both kernels get it.
    min_mem = "4G"

    def __init__(self, initrd: Path):
        super().__init__()
        self.initrd = initrd
        self.add: Path | None = None  # the Linux VM's /add (dataflows + dora)
        self.rounds = 0

    def prepare(self, systems, stage: Path, mode) -> None:
        self.rounds = mode.rslatency_rounds
        if self.rounds == 0:
            self.mark_all(systems, f"not run in {mode.name.upper()} mode (one Dora run takes minutes per boot); "
                                   "the full `make bench` runs it")
            return
        members = initrd_members(self.initrd)
        need = {"bin/dora", "opt/dataflows/dora-flow.sh", "opt/dataflows/rs-latency/dataflow.yml"}
        if not need <= members:
            missing = ", ".join("/" + m for m in sorted(need - members))
            self.reason["axle"] = f"rs-latency is not in Axle's image yet ({missing} missing from {self.initrd})"
        staged = cache_dir() / "stage" / "dataflows"
        dora = Path(subprocess.run([str(REPO / "tools" / "build-dora.sh"), "--path"], capture_output=True,
                                   text=True).stdout.strip() or "/nonexistent") \
            if (REPO / "tools" / "build-dora.sh").exists() else None
        if not (staged / "dora-flow.sh").exists() or not (staged / "rs-latency").is_dir():
            self.reason["linux"] = "rs-latency is not built/staged for the Linux VM (tests/dataflows/build.sh)"
        elif dora is None or not dora.is_file():
            self.reason["linux"] = "Dora is not built (tools/build-dora.sh)"
        else:
            self.add = cache_dir() / "stage" / "bench-rslatency"
            if self.add.exists():
                shutil.rmtree(self.add)
            shutil.copytree(staged, self.add, symlinks=False)
            shutil.copy2(dora, self.add / "dora")

    def boot(self, system_key: str) -> tuple[list[str], Path | None]:
        """(argv, add dir) of the rs-latency boot on a system."""
        if system_key == "axle":
            return ["/bin/sh", "-c", f"{self.env} exec /bin/sh /opt/dataflows/dora-flow.sh latency"], None
        return ["/bin/sh", "-c", f"{self.env} exec /bin/sh /add/dora-flow.sh --dora /add/dora --dataflows /add "
                                 "latency"], self.add

    def parse(self, console: str) -> Parsed:
        p = Parsed()
        p.metrics, p.notes = rslatency_metrics(console)
        return p


# --------------------------------------------------------------------------


class EchoServer:
    """A TCP echo server on the host's 127.0.0.1 (QEMU's user network shows it to the
    guest as 10.0.2.2): one thread per connection, TCP_NODELAY, echoes every byte."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                try:
                    data = conn.recv(4096)
                    if not data:
                        return
                    conn.sendall(data)
                except OSError:
                    return

    def close(self):
        self.sock.close()


class GuestHost(Hook):
    name = "guest_host"
    steps = ("guest_host",)
    plan_file = "plan-net.txt"

    def __init__(self):
        super().__init__()
        self.server: EchoServer | None = None

    def prepare(self, systems, stage: Path, mode) -> None:
        for s in systems:
            if not s.has_option("--net"):
                self.reason[s.key] = "its runner has no --net option (no network card)"
        if self.unavailable_everywhere(systems):
            return
        self.server = EchoServer()
        t = planmod.step_timeout(mode.ms)
        lines = [f"run guest_host {t} {planmod.AXBENCH} tcp_rtt --connect 10.0.2.2:{self.server.port} "
                 f"--ms {mode.ms}"]
        (stage / self.plan_file).write_text(planmod.text(lines))
        self.timeout_s = 120 + t

    def boot(self, system_key: str) -> list[str]:
        return [planmod.AXBENCH, "plan", f"{planmod.ADD}/{self.plan_file}"]

    def parse(self, console: str) -> Parsed:
        return parse(console)

    def close(self):
        if self.server:
            self.server.close()
