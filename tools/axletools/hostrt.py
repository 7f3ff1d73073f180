"""The host side of latency measurements (`--host-rt`): QEMU's main-loop thread at host
SCHED_FIFO, and the guest's memory allocated before boot.

Under TCG, the guest's timer interrupts are raised by QEMU's main-loop thread (it runs
QEMU's timers and then kicks the vCPU thread). When every vCPU thread is busy (a guest
under load, or a guest whose idle loop polls) and the host has no more cores than the
guest has vCPUs, the host's fair scheduler lets that thread wait up to a slice (~3-4 ms)
before it runs, and every guest's timer latency shows the host's scheduling instead of
its own. Giving the main-loop thread (only) SCHED_FIFO on the host removes that, for any
guest kernel alike; measured with axle-cyclictest under axle-load in Axle (TCG, SMP 2, on
a 2-core host): p99 4270 us without, 110 us with.

The vCPU threads stay SCHED_OTHER (a busy vCPU at host FIFO would be throttled by the
host's real-time bandwidth limit), and SCHED_RESET_ON_FORK keeps threads the main thread
creates later out of the real-time class.

The guest's RAM is allocated and touched by QEMU before the guest boots (`-mem-prealloc`,
as real-time VMs are set up): otherwise the first guest write to each page of host memory
is a host page fault (zeroing, and with transparent huge pages 2 MB at a time), which
stopped the vCPUs for 30-40 ms at a time when a dataflow's large messages took fresh guest
memory, and made rs-latency's 40 MB messages 1.3x slower (measured in Axle; a kernel that
reuses its recently freed pages touches less fresh memory, but any may).
"""
from __future__ import annotations

import os

# QEMU arguments of a --host-rt run.
QEMU_ARGS = ["-mem-prealloc"]

MAX_PRIORITY = 99


def boost_main_loop(pid: int, priority: int) -> str | None:
    """Puts thread `pid` (QEMU's main thread: its thread id is its process id) in the
    host's SCHED_FIFO class at `priority`, reset on fork. None on success, else why not."""
    if not 1 <= priority <= MAX_PRIORITY:
        return f"host real-time priority {priority} is outside 1-{MAX_PRIORITY}"
    try:
        os.sched_setscheduler(pid, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except PermissionError:
        return ("cannot give QEMU's main loop SCHED_FIFO on the host: permission denied (needs root or "
                "CAP_SYS_NICE, and real-time bandwidth for this cgroup)")
    except OSError as e:
        return f"cannot give QEMU's main loop SCHED_FIFO on the host: {e.strerror or e}"
    return None


def describe(priority: int) -> str:
    """How a run's host side was set, for reports: 'none' or the class given."""
    if not priority:
        return "none (QEMU's threads SCHED_OTHER, guest memory allocated on first touch)"
    return f"QEMU main loop SCHED_FIFO {priority} on the host (vCPU threads SCHED_OTHER), guest memory preallocated"
