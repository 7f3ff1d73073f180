#!/usr/bin/env python3
"""`make test`: every test of the repository, with one summary line at the end.

    python3 tools/test.py [--host-crates "rtos board"] [--host-only] [-v] [-- HARNESS_ARGS...]

Stages, in order (each one runs even if an earlier one failed):

1. unit   cargo-test        `cargo test -p CRATE...` for the host-testable crates
2. unit   harness-selftest  `python3 -m unittest discover -s tests/harness`
3. unit   tools-selftest    `python3 -m unittest discover -s tools/tests`
   unit   linuxvm-selftest  `python3 -m unittest discover -s tools/linuxvm -p 'test_*.py'`
4. build  kernel            `cargo build --release -p kernel --target x86_64-unknown-none`
5. build  image             `python3 images/build_initramfs.py`
6. the harness              `python3 tests/harness/run_tests.py HARNESS_ARGS`
   (host runs, then Axle runs; with a failed kernel/image build: host runs only, so no
   stale kernel is tested)

Stages 1-5 print one line each (`PASS unit  cargo-test`, or `FAIL ...` with the tail of
the output; the whole output is in ~/.cache/axle/test-logs/). The harness's own lines
follow as it prints them. The last line is the harness's `N passed, M failed`, with the
stages of 1-5 added to the counts, and the exit status is 1 if anything failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUMMARY_RE = re.compile(r"^(\d+) passed, (\d+) failed$")
TAIL_LINES = 25


def cache_dir() -> Path:
    return Path(os.environ.get("AXLE_CACHE_DIR") or Path.home() / ".cache" / "axle")


def run_stage(kind: str, name: str, cmd: list[str], verbose: bool) -> bool:
    log = cache_dir() / "test-logs" / kind / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as f:
        f.write(f"# {' '.join(cmd)}\n".encode())
        f.flush()
        try:
            proc = subprocess.run(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
            rc = proc.returncode
        except OSError as e:
            f.write(f"cannot run {cmd[0]}: {e}\n".encode())
            rc = None
    output = log.read_text(errors="replace")
    ok = rc == 0
    print(f"{'PASS' if ok else 'FAIL'} {kind}  {name}" + ("" if ok else f": exit {rc}"), flush=True)
    if not ok or verbose:
        lines = output.rstrip("\n").splitlines()[-TAIL_LINES:]
        print(f"    --- last {len(lines)} lines of output ---")
        for line in lines:
            print(f"    | {line}")
        print(f"    log: {log}", flush=True)
    return ok


def relay(lines, out=None) -> tuple[int, int] | None:
    """Prints the harness's lines as they come, except its final `N passed, M failed`
    line, which is returned as (N, M) (None if it never came)."""
    out = out or sys.stdout
    held = None
    for line in lines:
        line = line.rstrip("\n")
        if held is not None:  # a summary-looking line that was not the last one
            print(held, file=out, flush=True)
            held = None
        if SUMMARY_RE.match(line):
            held = line
        else:
            print(line, file=out, flush=True)
    if held is None:
        return None
    m = SUMMARY_RE.match(held)
    return int(m.group(1)), int(m.group(2))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Run every test of the repository (make test).")
    p.add_argument("--host-crates", default="rtos board", help="crates for `cargo test` (space-separated)")
    p.add_argument("--host-only", action="store_true", help="no kernel/image build, harness with --host-only")
    p.add_argument("-v", "--verbose", action="store_true", help="show the output tails of passing stages too")
    p.add_argument("harness_args", nargs="*", help="arguments for tests/harness/run_tests.py (after --)")
    args = p.parse_args(argv)

    py = sys.executable or "python3"
    cargo = os.environ.get("CARGO") or "cargo"
    stages = [
        ("unit", "cargo-test", [cargo, "test"] + [a for c in args.host_crates.split() for a in ("-p", c)]),
        ("unit", "harness-selftest", [py, "-m", "unittest", "discover", "-s", "tests/harness"]),
        ("unit", "tools-selftest", [py, "-m", "unittest", "discover", "-s", "tools/tests"]),
        ("unit", "linuxvm-selftest", [py, "-m", "unittest", "discover", "-s", "tools/linuxvm", "-p", "test_*.py"]),
    ]
    if not args.host_only:
        stages += [
            ("build", "kernel", [cargo, "build", "--release", "-p", "kernel", "--target", "x86_64-unknown-none"]),
            ("build", "image", [py, "images/build_initramfs.py"]),
        ]
    passed = failed = 0
    build_ok = True
    for kind, name, cmd in stages:
        if kind == "unit" and name == "cargo-test" and not args.host_crates.split():
            continue
        ok = run_stage(kind, name, cmd, args.verbose)
        passed += ok
        failed += not ok
        if kind == "build" and not ok:
            build_ok = False

    harness = [py, str(REPO / "tests" / "harness" / "run_tests.py")] + list(args.harness_args)
    if (args.host_only or not build_ok) and "--host-only" not in harness:
        if not build_ok:
            print("note: the kernel or image did not build; the harness runs the host side only", flush=True)
        harness = [a for a in harness if a != "--axle-only"] + ["--host-only"]
    try:
        proc = subprocess.Popen(harness, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                                bufsize=1)
    except OSError as e:
        print(f"FAIL harness: cannot start: {e}")
        failed += 1
        print(f"{passed} passed, {failed} failed")
        return 1
    summary = relay(proc.stdout)
    rc = proc.wait()
    if summary is None:
        print(f"FAIL harness: no 'N passed, M failed' line (exit {rc})")
        failed += 1
    else:
        passed += summary[0]
        failed += summary[1]
        if rc != 0 and summary[1] == 0:
            print(f"FAIL harness: exit {rc}")
            failed += 1
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
