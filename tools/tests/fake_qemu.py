#!/usr/bin/env python3
"""A stand-in for qemu-system-x86_64 in the runner's unit tests (no QEMU, no kernel).

It connects to the status socket named by `-chardev socket,id=status,path=...` and acts on
the `fake=` words of `-append`, in order:

    fake=user            writes `axle: user`
    fake=exit:N          writes `axle: exit N`, then exits with status 1 (isa-debug-exit)
    fake=signal:N        writes `axle: signal N`, then exits 1
    fake=fault           writes `axle: fault`, then exits 3
    fake=sleep:S         sleeps S seconds
    fake=say:TEXT        prints TEXT on stdout (the console)
    fake=die:N           exits with status N without another word
    fake=error           prints a QEMU-style error on stderr and exits 1
    fake=abort           kills itself with SIGABRT
    fake=dumpargs:FILE   writes its argv as JSON to FILE
    fake=copyinitrd:FILE copies the -initrd file to FILE
    fake=sched:FILE      waits (up to 5 s) for the runner to put it in SCHED_FIFO (--host-rt),
                         then writes its own policy and priority, and a new thread's policy,
                         as JSON to FILE
    fake=shutdown:REASON serves QMP on the -qmp socket, sends a SHUTDOWN event with REASON
                         once the client negotiated, then exits 0

With no `fake=exit...`/`die` word it exits 0 at the end (like a triple fault under -no-reboot).
"""

import json
import os
import shutil
import signal
import socket
import sys
import threading
import time

args = sys.argv[1:]
if args == ["--version"]:
    print("QEMU emulator version 0.0.0 (fake)")
    sys.exit(0)


def opt(name):
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]


sock_path = None
for spec in opt("-chardev"):
    parts = spec.split(",")
    if parts[0] == "socket" and "id=status" in parts:
        sock_path = next(p[5:] for p in parts if p.startswith("path="))
status = socket.socket(socket.AF_UNIX)
status.connect(sock_path)
append = (opt("-append") or [""])[0].split()
for word in append:
    if not word.startswith("fake="):
        continue
    what, _, arg = word[5:].partition(":")
    if what == "user":
        status.sendall(b"axle: user\n")
    elif what == "exit":
        status.sendall(b"axle: exit %d\n" % int(arg))
        sys.exit(1)
    elif what == "signal":
        status.sendall(b"axle: signal %d\n" % int(arg))
        sys.exit(1)
    elif what == "fault":
        status.sendall(b"axle: fault\n")
        sys.exit(3)
    elif what == "sleep":
        time.sleep(float(arg))
    elif what == "say":
        print(arg, flush=True)
    elif what == "die":
        sys.exit(int(arg))
    elif what == "error":
        print("qemu-system-x86_64: fake error", file=sys.stderr)
        sys.exit(1)
    elif what == "abort":
        os.kill(os.getpid(), signal.SIGABRT)
    elif what == "dumpargs":
        with open(arg, "w") as f:
            json.dump(args, f)
    elif what == "copyinitrd":
        shutil.copy((opt("-initrd") or ["/dev/null"])[0], arg)
    elif what == "sched":
        give_up = time.monotonic() + 5
        while os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_OTHER and time.monotonic() < give_up:
            time.sleep(0.01)
        seen = {"policy": os.sched_getscheduler(0), "priority": os.sched_getparam(0).sched_priority}
        t = threading.Thread(target=lambda: seen.update(thread_policy=os.sched_getscheduler(0)))
        t.start()
        t.join()
        with open(arg, "w") as f:
            json.dump(seen, f)
    elif what == "shutdown":
        qmp_path = opt("-qmp")[0].split(",")[0].removeprefix("unix:")
        server = socket.socket(socket.AF_UNIX)
        server.bind(qmp_path)
        server.listen(1)
        conn, _ = server.accept()
        f = conn.makefile("rwb")
        f.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        f.flush()
        f.readline()
        f.write(b'{"return": {}}\n')
        f.write(json.dumps({"event": "SHUTDOWN", "data": {"guest": True, "reason": arg}}).encode() + b"\n")
        f.flush()
        sys.exit(0)
sys.exit(0)
