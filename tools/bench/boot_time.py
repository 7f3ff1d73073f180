#!/usr/bin/env python3
"""Boot-time benchmark (`make bench`): how long from starting QEMU until the first user
program runs, per accelerator.

    python3 tools/bench/boot_time.py [--rounds 10] [--smp 2] [--mem 2G] [--accel all|tcg|kvm]
                                     [--out DIR] [--kernel K] [--initrd I]

Each round is one `tools/run-qemu --result R.json ... -- /add/exitcode 0` (the trivial
conformance program, built and staged here). The runner measures `boot_to_user_ms` on the
host: from the QEMU process start to the kernel's `axle: user` status line. Rounds run
under TCG and, when the runner's KVM probe passes, under KVM; one warm-up round per
accelerator is not counted. The table (median/min/max per accelerator) is printed and
written, with the configuration, to $AXLE_CACHE_DIR/bench/ (default ~/.cache/axle/bench/):

    boot-<stamp>.md           the table as Markdown, with the configuration in its header
    boot-<stamp>.csv          one row per (system, accelerator): the summary
    boot-<stamp>-samples.csv  one row per round: the raw numbers
    latest.md, latest.csv     copies of the newest

Extending: a "system" is something that boots and reports a boot time (class AxleSystem).
A Linux VM for comparison is one more class with the same two methods, listed in SYSTEMS.
Standard library only (Python 3.11+).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tools" / "run-qemu"
MUSL = "x86_64-unknown-linux-musl"
ROUND_TIMEOUT_S = 120


def cache_dir() -> Path:
    return Path(os.environ.get("AXLE_CACHE_DIR") or Path.home() / ".cache" / "axle")


@dataclasses.dataclass
class Sample:
    system: str
    accel: str
    smp: int
    round: int
    status: int | None
    boot_to_user_ms: float | None
    wall_ms: float | None
    error: str = ""


@dataclasses.dataclass
class Options:
    rounds: int
    smp: int
    mem: str
    kernel: str | None
    initrd: str | None
    verbose: bool


class AxleSystem:
    """Axle under tools/run-qemu, running /add/exitcode 0."""

    name = "axle"

    def __init__(self, opts: Options):
        self.opts = opts
        self.stage = cache_dir() / "stage" / "bench"

    def prepare(self) -> None:
        """Builds and stages the trivial program."""
        target_dir = cache_dir() / "target-conformance"  # shared with the test harness
        cmd = ["cargo", "build", "--release", "--target", MUSL, "--manifest-path",
               str(REPO / "tests" / "conformance" / "Cargo.toml"), "--bin", "exitcode"]
        proc = subprocess.run(cmd, env=dict(os.environ, CARGO_TARGET_DIR=str(target_dir)), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"bench: building exitcode failed:\n{proc.stderr}")
        self.stage.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target_dir / MUSL / "release" / "exitcode", self.stage / "exitcode")

    def runner_base(self) -> list[str]:
        cmd = [str(RUNNER)]
        if self.opts.kernel:
            cmd += ["--kernel", self.opts.kernel]
        if self.opts.initrd:
            cmd += ["--initrd", self.opts.initrd]
        return cmd

    def accelerators(self, wanted: str) -> list[tuple[str, str]]:
        """[(accel, why skipped or "")]: TCG always; KVM when the runner's probe passes."""
        accels = []
        if wanted in ("all", "tcg"):
            accels.append(("tcg", ""))
        if wanted in ("all", "kvm"):
            proc = subprocess.run(self.runner_base() + ["--probe-kvm"], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True)
            verdict = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
            if proc.returncode == 0:
                accels.append(("kvm", ""))
            else:
                why = verdict[-1].removeprefix("kvm: not usable: ") if verdict else "the KVM probe failed"
                print(f"bench: skipping KVM: {why}", file=sys.stderr)
                accels.append(("kvm", f"skipped: {why}"))
        return accels

    def run_once(self, accel: str, round_no: int) -> Sample:
        with tempfile.TemporaryDirectory(prefix="axle-bench-") as tmp:
            result_path = Path(tmp) / "r.json"
            cmd = self.runner_base() + [
                "--accel", accel, "--smp", str(self.opts.smp), "--mem", self.opts.mem, "--add", str(self.stage),
                "--timeout", str(ROUND_TIMEOUT_S), "--result", str(result_path), "--", "/add/exitcode", "0",
            ]
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=ROUND_TIMEOUT_S + 60)
            try:
                r = json.loads(result_path.read_text())
            except (OSError, ValueError):
                r = {}
        error = ""
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            error = f"runner exit {proc.returncode}: {tail}"
        if self.opts.verbose and proc.stdout.strip():
            print(proc.stdout, end="", file=sys.stderr)
        return Sample(self.name, accel, self.opts.smp, round_no, r.get("status"), r.get("boot_to_user_ms"),
                      r.get("wall_ms"), error)


SYSTEMS = {"axle": AxleSystem}


# --------------------------------------------------------------------------
# Summaries and reports


@dataclasses.dataclass
class Summary:
    system: str
    accel: str
    smp: int
    rounds: int
    ok: int
    boot_median: float | None
    boot_min: float | None
    boot_max: float | None
    wall_median: float | None
    note: str = ""


def summarize(samples: list[Sample]) -> Summary:
    s0 = samples[0]
    ok = [s for s in samples if s.status == 0 and not s.error]
    boots = [s.boot_to_user_ms for s in ok if s.boot_to_user_ms is not None]
    walls = [s.wall_ms for s in ok if s.wall_ms is not None]
    note = ""
    if ok and not boots:
        note = "no `axle: user` marker from the kernel"
    errors = sorted({s.error for s in samples if s.error})
    if errors:
        note = "; ".join(filter(None, [note, errors[0]]))
    return Summary(
        s0.system, s0.accel, s0.smp, len(samples), len(ok),
        statistics.median(boots) if boots else None, min(boots) if boots else None, max(boots) if boots else None,
        statistics.median(walls) if walls else None, note,
    )


def fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def git_commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def host_cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs"


def qemu_version() -> str:
    qemu = os.environ.get("AXLE_QEMU") or "qemu-system-x86_64"
    try:
        return subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def kernel_id(kernel: Path) -> str:
    kernel = kernel.resolve()
    try:
        return f"{kernel} (sha256 {hashlib.sha256(kernel.read_bytes()).hexdigest()[:16]})"
    except OSError:
        return str(kernel)


def config_lines(opts: Options, accels: list[str]) -> list[tuple[str, str]]:
    kernel = Path(opts.kernel) if opts.kernel else Path(
        os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "x86_64-unknown-none" / "release" / "axle"
    return [
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("commit", git_commit()),
        ("kernel", kernel_id(kernel)),
        ("accelerators", ", ".join(accels) or "none"),
        ("guest", f"SMP {opts.smp}, memory {opts.mem}, command /add/exitcode 0"),
        ("rounds", f"{opts.rounds} per accelerator (+1 warm-up, not counted)"),
        ("QEMU", qemu_version()),
        ("host", host_cpu()),
        ("metric", "boot to user = QEMU process start -> the kernel's `axle: user` status line, host clock; "
                   "wall = QEMU start -> QEMU exit"),
    ]


def table(summaries: list[Summary]) -> list[str]:
    head = ["system", "accel", "smp", "ok/rounds", "boot→user median ms", "min ms", "max ms", "wall median ms", "note"]
    rows = [[s.system, s.accel, str(s.smp), f"{s.ok}/{s.rounds}", fmt(s.boot_median), fmt(s.boot_min),
             fmt(s.boot_max), fmt(s.wall_median), s.note] for s in summaries]
    return ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"] + \
           ["| " + " | ".join(r) + " |" for r in rows]


def write_reports(out_dir: Path, config: list[tuple[str, str]], mem: str, summaries: list[Summary],
                  samples: list[Sample]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    md = out_dir / f"boot-{stamp}.md"
    lines = ["# Axle boot-time benchmark", ""] + [f"- {k}: {v}" for k, v in config] + [""] + table(summaries)
    md.write_text("\n".join(lines) + "\n")
    conf = dict(config)
    summary_csv = out_dir / f"boot-{stamp}.csv"
    with open(summary_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "commit", "system", "accel", "smp", "mem", "rounds", "ok", "boot_to_user_median_ms",
                    "boot_to_user_min_ms", "boot_to_user_max_ms", "wall_median_ms", "note"])
        for s in summaries:
            w.writerow([conf["date"], conf["commit"], s.system, s.accel, s.smp, mem, s.rounds, s.ok, s.boot_median,
                        s.boot_min, s.boot_max, s.wall_median, s.note])
    with open(out_dir / f"boot-{stamp}-samples.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["commit"] + [fld.name for fld in dataclasses.fields(Sample)])
        for s in samples:
            w.writerow([conf["commit"]] + list(dataclasses.astuple(s)))
    shutil.copyfile(md, out_dir / "latest.md")
    shutil.copyfile(summary_csv, out_dir / "latest.csv")
    return md


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Axle boot-time benchmark (QEMU start -> first user program).")
    p.add_argument("--rounds", type=int, default=10, help="counted rounds per accelerator (default 10)")
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--mem", default="2G")
    p.add_argument("--accel", choices=("all", "tcg", "kvm"), default="all",
                   help="all (default): TCG, and KVM when the runner's KVM probe passes")
    p.add_argument("--systems", default="axle", help=f"comma-separated: {', '.join(SYSTEMS)}")
    p.add_argument("--out", type=Path, help="report directory (default $AXLE_CACHE_DIR/bench)")
    p.add_argument("--kernel")
    p.add_argument("--initrd")
    p.add_argument("-v", "--verbose", action="store_true", help="show the guest console of each round")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    opts = Options(args.rounds, args.smp, args.mem, args.kernel, args.initrd, args.verbose)
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        p.error(f"unknown system(s) {unknown}; known: {', '.join(SYSTEMS)}")

    samples: list[Sample] = []
    summaries: list[Summary] = []
    all_accels: list[str] = []
    for name in names:
        system = SYSTEMS[name](opts)
        system.prepare()
        for accel, skipped in system.accelerators(args.accel):
            if skipped:
                summaries.append(Summary(name, accel, opts.smp, 0, 0, None, None, None, None, skipped))
                continue
            all_accels.append(f"{name}/{accel}")
            print(f"bench: {name} under {accel}: 1 warm-up + {args.rounds} rounds", file=sys.stderr, flush=True)
            system.run_once(accel, 0)
            runs = [system.run_once(accel, i) for i in range(1, args.rounds + 1)]
            samples += runs
            summaries.append(summarize(runs))
    if not all_accels:
        print("bench: nothing was run", file=sys.stderr)
        return 1
    config = config_lines(opts, all_accels)
    md = write_reports(args.out or cache_dir() / "bench", config, opts.mem, summaries, samples)
    print("\n".join(f"{k}: {v}" for k, v in config[:6]))
    print()
    print("\n".join(table(summaries)))
    print(f"\nreport: {md} (also latest.md, latest.csv and the raw -samples.csv beside it)")
    return 0 if all(s.ok == s.rounds for s in summaries if s.rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
