"""What the guest runs: the two modes (QUICK and full) and the plan file for
`axbench plan` (format in tests/bench/axbench/src/plan.rs). The step names are the `step`
of metrics.py."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    rounds: int  # boots per kernel running the whole plan
    ms: int  # measuring budget of each time-boxed benchmark (warm-up included)
    sleep_count: int  # 1 ms sleeps measured
    cyclictest_s: int  # seconds of each axle-cyclictest run (idle, under load)
    rslatency_rounds: int  # extra boots per kernel running rs-latency (0: not run)


QUICK = Mode("quick", rounds=3, ms=300, sleep_count=300, cyclictest_s=3, rslatency_rounds=0)
FULL = Mode("full", rounds=5, ms=1500, sleep_count=1000, cyclictest_s=10, rslatency_rounds=2)

ADD = "/add"
AXBENCH = f"{ADD}/axbench"


def step_timeout(ms: int) -> int:
    """Seconds a time-boxed step may take before the plan runner kills it: generous,
    since calibration and thread start-up come on top of the budget under TCG."""
    return 30 + 6 * ms // 1000


def core_plan(mode: Mode) -> list[str]:
    """The plan lines of the core benchmarks but the last ones (`last_steps`), meminfo
    first, so it sees the system as booted."""
    t = step_timeout(mode.ms)
    ms = f"--ms {mode.ms}"
    return [
        f"run meminfo 30 {AXBENCH} meminfo",
        f"run getpid {t} {AXBENCH} getpid {ms}",
        f"run clock_gettime {t} {AXBENCH} clock_gettime {ms}",
        f"run thread {t} {AXBENCH} thread {ms}",
        f"run pagefault {t} {AXBENCH} pagefault {ms}",
        f"run futex_same {t} {AXBENCH} futex --cpus same {ms}",
        f"run futex_cross {t} {AXBENCH} futex --cpus cross {ms}",
        f"run futex_cross_fifo {t} {AXBENCH} futex --cpus cross --fifo 80 {ms}",
        f"run pipe {t} {AXBENCH} pipe {ms}",
        f"run unix {t} {AXBENCH} unix {ms}",
        f"run tcp_rtt {t} {AXBENCH} tcp_rtt {ms}",
        f"run tcp_stream {t} {AXBENCH} tcp_stream {ms}",
        f"run udp_rtt {t} {AXBENCH} udp_rtt {ms}",
        f"run accept {t} {AXBENCH} accept {ms}",
        f"run sleep {30 + 3 * mode.sleep_count // 1000} {AXBENCH} sleep --count {mode.sleep_count}",
    ]


def last_steps(mode: Mode) -> list[str]:
    """Steps that run after everything else (hooks included): posix_spawn is vfork-based
    in musl, and a kernel that mishandles vfork can leave a CPU spinning, which would
    spoil every later measurement of the same boot."""
    return [f"run spawn {step_timeout(mode.ms)} {AXBENCH} spawn --ms {mode.ms} --nop {ADD}/bench-nop"]


def step_names(lines: list[str]) -> list[str]:
    """The names of the `run` steps of plan lines."""
    return [ln.split()[1] for ln in lines if ln.startswith("run ")]


def plan_seconds(lines: list[str]) -> int:
    """The longest a plan can take: the sum of its steps' limits."""
    return sum(int(ln.split()[2]) for ln in lines if ln.startswith("run "))


def text(lines: list[str]) -> str:
    return "# written by tools/bench (docs/benchmarks.md)\n" + "\n".join(lines) + "\n"
