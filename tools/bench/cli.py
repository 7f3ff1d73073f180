"""`make bench` (tools/bench/run-bench): builds the benchmark programs, boots Axle and the
Linux reference VM alternately, several rounds, same QEMU configuration, and prints and
writes the side-by-side table (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
from pathlib import Path

from . import plan as planmod
from . import report, systems as sysmod
from .console import Outcome, outcome, parse
from .hooks import GuestHost, RsLatency, TimerLatency
from .metrics import ALL, BY_NAME
from .stats import Cell, Row



def mem_bytes(mem: str) -> int:
    """QEMU's memory syntax (512M, 2G, 1024) in bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    m = mem.strip().upper()
    if m and m[-1] in units:
        return int(float(m[:-1]) * units[m[-1]])
    return int(m) << 20  # QEMU: a bare number is MiB


def mem_at_least(mem: str, minimum: str) -> str:
    """`mem`, or `minimum` when that is larger."""
    return minimum if mem_bytes(minimum) > mem_bytes(mem) else mem

def say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="run-bench",
        description="Axle side by side with Linux in the same QEMU: alternating rounds, one table "
                    "(docs/benchmarks.md).")
    p.add_argument("--quick", action="store_true", help="QUICK mode: fewer rounds, shorter benchmarks (minutes)")
    p.add_argument("--rounds", type=int, help="boots per kernel (default: 3 QUICK, 5 full)")
    p.add_argument("--ms", type=int, help="measuring budget per benchmark in ms (default: 300 QUICK, 1500 full)")
    p.add_argument("--rslatency-rounds", type=int, help="rs-latency boots per kernel (default: 0 QUICK, 2 full)")
    p.add_argument("--smp", type=int, default=2, help="guest CPUs for both kernels (default 2)")
    p.add_argument("--mem", default="2G", help="guest memory for both kernels (default 2G)")
    p.add_argument("--accel", choices=("auto", "tcg", "kvm"), default="auto",
                   help="auto (default): KVM only if both kernels' KVM probes pass, else TCG for both")
    p.add_argument("--systems", default="axle,linux", help="comma-separated subset of axle,linux")
    p.add_argument("--out", type=Path, help="report directory (default build/bench/<date>-<commit>/)")
    p.add_argument("--kernel", help="Axle kernel (default: the release build)")
    p.add_argument("--initrd", help="Axle base initramfs (default build/initramfs.cpio)")
    p.add_argument("--linux-kernel", help="Linux kernel (default: the newest /boot/vmlinuz-*)")
    p.add_argument("--linux-append", default="", help="extra Linux kernel command-line words (default none)")
    p.add_argument("--host-rt", type=int, default=0, metavar="PRIO",
                   help="both kernels: QEMU's main loop at host SCHED_FIFO PRIO (0: off, the default; "
                        "tools/axletools/hostrt.py)")
    p.add_argument("--no-hooks", action="store_true", help="only the core benchmarks (hooked metrics n/a)")
    args = p.parse_args(argv)
    keys = [k.strip() for k in args.systems.split(",") if k.strip()]
    if not keys or any(k not in ("axle", "linux") for k in keys):
        p.error("--systems takes axle, linux or both")
    args.system_keys = keys
    if not 0 <= args.host_rt <= 99:
        p.error("--host-rt takes a priority 0-99 (0: off)")
    if args.rounds is not None and args.rounds < 1:
        p.error("--rounds must be >= 1")
    return args


def mode_of(args) -> planmod.Mode:
    mode = planmod.QUICK if args.quick else planmod.FULL
    changes = {}
    if args.rounds is not None:
        changes["rounds"] = args.rounds
    if args.ms is not None:
        changes["ms"] = max(50, args.ms)
    if args.rslatency_rounds is not None:
        changes["rslatency_rounds"] = max(0, args.rslatency_rounds)
    return dataclasses.replace(mode, **changes)


class Collector:
    """Every outcome, by (metric, system), plus the raw samples."""

    def __init__(self, systems):
        self.cells = {(m.name, s.key): Cell() for m in ALL for s in systems}
        self.samples: list[dict] = []

    def record(self, system_key: str, rnd: int, boot: str, metric: str, oc: Outcome, notes=()) -> None:
        cell = self.cells[(metric, system_key)]
        if oc.value is not None:
            cell.values.append(oc.value)
        elif oc.na is not None:
            cell.na.append(oc.na)
        else:
            cell.failures.append((rnd, oc.failure or "unknown"))
        cell.notes.extend(notes)
        self.samples.append({"system": system_key, "round": rnd, "boot": boot, "metric": metric,
                             "unit": BY_NAME[metric].unit, "value": oc.value, "na": oc.na, "failure": oc.failure})

    def failures(self) -> list[str]:
        return [f"{k[1]} {k[0]}: round {r}: {w}" for k, c in self.cells.items() for r, w in c.failures]


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mode = mode_of(args)
    all_systems = {"axle": sysmod.axle(args.kernel, args.initrd), "linux": sysmod.linux(args.linux_kernel,
                                                                                         args.linux_append)}
    systems = [all_systems[k] for k in args.system_keys]
    if args.host_rt:
        for s in systems:
            s.base_cmd += ["--host-rt", str(args.host_rt)]
    started = datetime.datetime.now().astimezone()

    say("building the benchmark programs (tests/bench)")
    try:
        stage = sysmod.stage(sysmod.build_bench_programs())
    except sysmod.BenchError as e:
        say(f"error: {e}")
        return 1
    initrd = Path(args.initrd) if args.initrd else sysmod.REPO / "build" / "initramfs.cpio"
    timer, rs, gh = TimerLatency(), RsLatency(initrd), GuestHost()
    hooks = [timer, rs, gh]
    for h in hooks:
        if args.no_hooks:
            h.mark_all(systems, "hooks turned off (--no-hooks)")
        else:
            h.prepare(systems, stage, mode)
    lines = planmod.core_plan(mode)
    if not timer.unavailable_everywhere(systems):
        lines += timer.plan_lines(mode)
    lines += planmod.last_steps(mode)
    (stage / "plan.txt").write_text(planmod.text(lines))
    main_steps = planmod.step_names(lines)
    main_metrics = [m for m in ALL if m.step in main_steps]
    main_timeout = planmod.plan_seconds(lines) + 180

    accel, accel_why = sysmod.choose_accel(args.accel, systems)
    commit = sysmod.git_commit()
    out = args.out or sysmod.REPO / "build" / "bench" / f"{started:%Y%m%d-%H%M%S}-{commit}"
    consoles = out / "consoles"
    consoles.mkdir(parents=True, exist_ok=True)
    say(f"{mode.name.upper()} mode: {mode.rounds} rounds x {len(systems)} kernels, {accel} ({accel_why}), "
        f"SMP {args.smp}, {args.mem}; results in {out}")

    col = Collector(systems)
    guest_info: dict[str, dict[str, str]] = {s.key: {} for s in systems}
    loads: list[float] = []

    for h in hooks:  # the n/a of hooks that cannot run on a system, once
        for s in systems:
            if s.key in h.reason:
                for m in ALL:
                    if m.step in h.steps:
                        col.record(s.key, 0, h.name, m.name, Outcome(na=h.reason[s.key]))

    for rnd in range(1, mode.rounds + 1):
        order = systems if rnd % 2 else list(reversed(systems))
        for s in order:
            say(f"round {rnd}/{mode.rounds}: {s.label} (up to {main_timeout} s)")
            run = s.run(["/add/axbench", "plan", "/add/plan.txt"], add=stage, accel=accel, smp=args.smp,
                        mem=args.mem, timeout_s=main_timeout, keep_result=consoles / f"r{rnd}-{s.key}-main.json")
            (consoles / f"r{rnd}-{s.key}-main.log").write_text(run.console + "\n--- runner stderr ---\n" + run.stderr)
            loads += [run.load_before, run.load_after]
            parsed = parse(run.console)
            timer.parse(parsed)
            for k, v in parsed.info.items():
                guest_info[s.key].setdefault(k, v)
            problem = run.problem()
            boot = run.result.get("boot_to_user_ms")
            col.record(s.key, rnd, "main", "boot_to_user",
                       Outcome(value=boot) if boot is not None else
                       Outcome(failure=f"no boot time ({problem or 'no `axle: user` line'})"))
            bad = []
            for m in main_metrics:
                if m.step in timer.steps and s.key in timer.reason:
                    continue
                oc = outcome(parsed, m.name, m.step, problem)
                col.record(s.key, rnd, "main", m.name, oc, parsed.notes.get(m.name, []))
                if oc.failure:
                    bad.append(f"{m.name}: {oc.failure}")
            say(f"round {rnd}/{mode.rounds}: {s.label}: {len(main_metrics) - len(bad)}/{len(main_metrics)} "
                f"metrics, {run.seconds:.0f} s" + (f"; {problem}" if problem else ""))
            for b in bad:
                say(f"    FAILED {b}")
        for h in (gh, rs):
            if h is rs and rnd > rs.rounds:
                continue
            for s in order:
                if s.key in h.reason:
                    continue
                if h is rs:
                    argv, add = rs.boot(s.key)
                    timeout, net = rs.boot_timeout_s, None
                else:
                    argv, add, timeout, net = gh.boot(s.key), stage, gh.timeout_s, "user"
                say(f"round {rnd}/{mode.rounds}: {s.label}: {h.name} boot")
                mem = mem_at_least(args.mem, getattr(h, "min_mem", args.mem))
                run = s.run(argv, add=add, accel=accel, smp=args.smp, mem=mem, timeout_s=timeout, net=net,
                            keep_result=consoles / f"r{rnd}-{s.key}-{h.name}.json")
                (consoles / f"r{rnd}-{s.key}-{h.name}.log").write_text(
                    run.console + "\n--- runner stderr ---\n" + run.stderr)
                parsed = h.parse(run.console)
                problem = run.problem()
                for m in ALL:
                    if m.step in h.steps:
                        oc = outcome(parsed, m.name, m.step, problem)
                        if oc.failure and h is rs:
                            oc = Outcome(failure=f"no samples of this size ({problem or 'see the console'})")
                        col.record(s.key, rnd, h.name, m.name, oc, parsed.notes.get(m.name, []))
    gh.close()
    for s in systems:  # what the memory figure includes: the initramfs files held in RAM
        image = initrd if s.key == "axle" else newest_linux_base()
        col.cells[("mem_used_after_boot", s.key)].notes.append(
            f"includes its initramfs files held in RAM (image {mib(image)} MiB + /add {mib(stage)} MiB)")

    rows = [Row(m, col.cells.get((m.name, "axle"), Cell()), col.cells.get((m.name, "linux"), Cell())) for m in ALL]
    config = header(args, mode, accel, accel_why, commit, started, guest_info, loads, hooks, systems)
    table = report.text_table(rows)
    print()
    print("\n".join(f"{k}: {v}" for k, v in config))
    print()
    print(table, end="")
    (out / "bench.md").write_text(report.markdown(config, rows))
    (out / "bench.csv").write_text(report.csv_text(config, rows))
    (out / "samples.csv").write_text(report.samples_csv(col.samples))
    latest = out.parent / "latest"
    try:
        if latest.is_symlink() or not latest.exists():
            latest.unlink(missing_ok=True)
            latest.symlink_to(out.name)
    except OSError:
        pass
    say(f"written: {out}/bench.md, bench.csv, samples.csv, consoles/")
    failures = col.failures()
    if failures:
        say(f"{len(failures)} measurement(s) failed (the table's notes say which and why); exit status 1")
        return 1
    return 0


def mib(path: Path | None) -> str:
    """Size of a file or a directory tree in MiB, as text ('?' if unknown)."""
    if path is None or not path.exists():
        return "?"
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return f"{sum(f.stat().st_size for f in files) / 2**20:.1f}"


def newest_linux_base() -> Path | None:
    bases = sorted((sysmod.cache_dir() / "linuxvm").glob("base-*.cpio"), key=lambda f: f.stat().st_mtime)
    return bases[-1] if bases else None


def header(args, mode, accel, accel_why, commit, started, guest_info, loads, hooks, systems):
    axle_kernel = sysmod.axle_kernel_path(args.kernel)
    linux_kernel = sysmod.linux_kernel_path(args.linux_kernel)
    ai, li = guest_info.get("axle", {}), guest_info.get("linux", {})
    valid = [x for x in loads if x >= 0]
    hook_state = []
    for h in hooks:
        if not h.reason:
            hook_state.append(f"{h.name}: run")
        else:
            hook_state.append(f"{h.name}: " + "; ".join(f"{s.label} not run" for s in systems if s.key in h.reason))
    return [
        ("date", started.isoformat(timespec="seconds")),
        ("commit", commit),
        ("mode", f"{mode.name.upper()}: {mode.rounds} rounds per kernel, {mode.ms} ms per time-boxed benchmark "
                 f"(a fifth warm-up, then 5 batches; median batch), {mode.sleep_count} sleeps, cyclictest "
                 f"{mode.cyclictest_s} s, rs-latency rounds {mode.rslatency_rounds}"),
        ("order", "alternating, one boot per kernel per round running every benchmark: round 1 "
                  + " then ".join(s.label for s in systems) + ", round 2 the other way round, ..."),
        ("accelerator", f"{accel} ({accel_why})"),
        ("guest", f"QEMU q35, SMP {args.smp}, memory {args.mem} (rs-latency boots: "
                  f"{mem_at_least(args.mem, RsLatency.min_mem)}), no network card (guest_host boots: "
                  "virtio-net on QEMU user networking), the same for both kernels"),
        ("Axle kernel", f"{sysmod.file_id(axle_kernel)}; uname: {ai.get('uname', 'n/a')}"),
        ("Linux kernel", (f"{sysmod.file_id(linux_kernel)}" if linux_kernel else "n/a")
         + f"; uname: {li.get('uname', 'n/a')}; extra command line: {args.linux_append or 'none (Debian defaults)'}"),
        ("guest facts", f"Axle: vDSO {ai.get('vdso', '?')}, memory from {ai.get('mem_source', '?')}, loopback "
                        f"{ai.get('loopback', '?')}; Linux: vDSO {li.get('vdso', '?')}, memory from "
                        f"{li.get('mem_source', '?')}, loopback {li.get('loopback', '?')}"),
        ("QEMU", sysmod.qemu_version() + ("; main loop at host SCHED_FIFO %d, vCPU threads SCHED_OTHER, "
                                          "guest memory preallocated (--host-rt)" % args.host_rt if args.host_rt else
                                          "; every thread SCHED_OTHER on the host")),
        ("host", f"{sysmod.host_cpu()}; 1-min load average around the runs: "
                 + (f"{min(valid):.1f}-{max(valid):.1f}" if valid else "n/a")),
        ("hooks", "; ".join(hook_state)),
    ]
