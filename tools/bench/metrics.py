"""The catalogue of metrics: every row the table shows, in order, with its unit, which
direction is better, and the plan step (or hook) that produces it. The guest programs
print `metric NAME UNIT VALUE` with exactly these names and units (tests/bench/)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    better: str  # "lower" or "higher"
    step: str  # the plan step or hook that measures it ("boot": the runner's result JSON)
    what: str  # one line for the docs and the table's legend


def _m(name, unit, step, what, better="lower"):
    return Metric(name, unit, better, step, what)


CORE = [
    _m("boot_to_user", "ms", "boot", "QEMU start to the first user instruction (runner's boot_to_user_ms)"),
    _m("mem_used_after_boot", "MiB", "meminfo", "MemTotal - MemAvailable right after boot"),
    _m("getpid", "ns", "getpid", "syscall(SYS_getpid)"),
    _m("clock_gettime", "ns", "clock_gettime", "clock_gettime(CLOCK_MONOTONIC) through libc (vDSO if any)"),
    _m("thread_create_join", "us", "thread", "std::thread::spawn of an empty closure + join"),
    _m("spawn_wait", "us", "spawn", "posix_spawn of a static program that exits at once + waitpid"),
    _m("page_fault", "ns", "pagefault", "first write to a page of fresh anonymous memory, per 4 KiB page"),
    _m("futex_wake_same_cpu", "us", "futex_same", "futex wake-to-run, both threads pinned to CPU 0 (one-way)"),
    _m("futex_wake_cross_cpu", "us", "futex_cross", "futex wake-to-run, threads pinned to CPUs 0 and 1 (one-way)"),
    _m("futex_wake_cross_cpu_fifo", "us", "futex_cross_fifo",
       "futex wake-to-run of a SCHED_FIFO 80 thread on CPU 1 woken from CPU 0 (one-way)"),
    _m("pipe_rtt", "us", "pipe", "1-byte round trip through two pipes between two threads"),
    _m("unix_rtt", "us", "unix", "1-byte round trip over a Unix stream socketpair"),
    _m("tcp_rtt", "us", "tcp_rtt", "1-byte round trip over TCP loopback, TCP_NODELAY"),
    _m("tcp_stream", "MiB/s", "tcp_stream", "TCP loopback throughput, 64 KiB writes", better="higher"),
    _m("udp_rtt", "us", "udp_rtt", "1-byte datagram round trip over UDP loopback"),
    _m("tcp_accept", "conn/s", "accept", "TCP loopback connect + accept + close, one at a time", better="higher"),
    _m("sleep_1ms_overshoot_p50", "us", "sleep", "clock_nanosleep(1 ms) overshoot, median"),
    _m("sleep_1ms_overshoot_p99", "us", "sleep", "clock_nanosleep(1 ms) overshoot, 99th percentile"),
    _m("sleep_1ms_overshoot_max", "us", "sleep", "clock_nanosleep(1 ms) overshoot, maximum"),
]

HOOKED = [
    _m("timerlat_idle_p99", "us", "timerlat_idle", "axle-cyclictest, SCHED_FIFO 80 per CPU, idle: p99 wake-up latency"),
    _m("timerlat_idle_max", "us", "timerlat_idle", "axle-cyclictest, idle: max wake-up latency"),
    _m("timerlat_load_p99", "us", "timerlat_load", "axle-cyclictest with axle-load hogs on every CPU: p99"),
    _m("timerlat_load_max", "us", "timerlat_load", "axle-cyclictest with axle-load hogs on every CPU: max"),
]
for _size in ("8B", "4MB", "40MB"):
    for _stat in ("p50", "p99", "max"):
        HOOKED.append(_m(f"rslatency_{_size}_{_stat}", "us", "rslatency",
                         f"rs-latency (Dora 0.3.5) message latency, {_size} messages, {_stat}"))
HOOKED.append(_m("guest_host_tcp_rtt", "us", "guest_host",
                 "1-byte TCP round trip from the guest to an echo server on the host (QEMU user network)"))

ALL = CORE + HOOKED
BY_NAME = {m.name: m for m in ALL}


def for_step(step: str) -> list[Metric]:
    return [m for m in ALL if m.step == step]
