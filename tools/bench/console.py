"""Parsing a guest console: the lines of the plan runner (`axbench plan`) and of the
benchmark programs (format in tests/bench/axbench/src/lib.rs and plan.rs), turned into
values, `na` reasons and a failure reason for every metric a plan step should produce."""

from __future__ import annotations

import dataclasses
import re
import signal

METRIC_RE = re.compile(r"^metric (\S+) (\S+) (-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$")
NA_RE = re.compile(r"^na (\S+) (\S+) ?(.*)$")
INFO_RE = re.compile(r"^info (\S+) ?(.*)$")
BEGIN_RE = re.compile(r"^begin (\S+)$")
END_RE = re.compile(r"^end (\S+) (.*)$")


@dataclasses.dataclass
class Step:
    name: str
    lines: list[str] = dataclasses.field(default_factory=list)  # between begin and end
    end: str | None = None  # the end line after the name, e.g. "status 0 ms 342.1"

    def errors(self) -> list[str]:
        return [ln[len("error "):] for ln in self.lines if ln.startswith("error ")]

    def failure(self) -> str | None:
        """Why the step failed, or None if its program exited 0."""
        if self.end is None:
            return "did not finish (the boot ended while it ran)"
        words = self.end.split()
        kind, arg = words[0], (words[1] if len(words) > 1 else "?")
        errors = self.errors()
        detail = f": {errors[0]}" if errors else ""
        if kind == "status":
            return None if arg == "0" else f"exited with status {arg}{detail}"
        if kind == "signal":
            return f"killed by signal {arg}{signal_name(arg)}{detail}"
        if kind == "timeout":
            return f"hung: killed after {arg} s{detail}"
        if kind == "unkillable":
            return f"hung, and SIGKILL did not end it within 10 s (limit {arg} s){detail}"
        if kind == "spawn-error":
            return f"could not start: {' '.join(words[1:])}"
        return f"ended oddly: {self.end}"


def signal_name(num: str) -> str:
    try:
        return f" ({signal.Signals(int(num)).name})"
    except (ValueError, TypeError):
        return ""


@dataclasses.dataclass
class Parsed:
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    units: dict[str, str] = dataclasses.field(default_factory=dict)
    na: dict[str, str] = dataclasses.field(default_factory=dict)
    info: dict[str, str] = dataclasses.field(default_factory=dict)
    steps: dict[str, Step] = dataclasses.field(default_factory=dict)
    notes: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # metric -> notes (hooks)
    plan_begun: bool = False
    plan_ended: bool = False


def parse(text: str) -> Parsed:
    """Parses a whole console. Unknown lines (kernel messages, tool output) are kept in
    the current step's lines and otherwise ignored."""
    p = Parsed()
    current: Step | None = None
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if line == "plan-begin":
            p.plan_begun = True
            continue
        if line == "plan-end":
            p.plan_ended = True
            continue
        if m := BEGIN_RE.match(line):
            current = Step(m.group(1))
            p.steps[current.name] = current
            continue
        if m := END_RE.match(line):
            step = p.steps.setdefault(m.group(1), Step(m.group(1)))
            step.end = m.group(2).strip()
            current = None
            continue
        if current is not None:
            current.lines.append(line)
        if m := METRIC_RE.match(line):
            p.metrics[m.group(1)] = float(m.group(3))
            p.units[m.group(1)] = m.group(2)
        elif m := NA_RE.match(line):
            p.na[m.group(1)] = m.group(3).strip() or "not applicable here"
        elif m := INFO_RE.match(line):
            p.info.setdefault(m.group(1), m.group(2).strip())
    return p


@dataclasses.dataclass
class Outcome:
    """One metric in one run: a value, or `na` (does not apply), or a failure."""
    value: float | None = None
    na: str | None = None
    failure: str | None = None


def outcome(p: Parsed, metric: str, step: str, run_problem: str | None) -> Outcome:
    """What one run says about `metric` (made by plan step `step`). `run_problem` says
    why the boot as a whole went wrong (timeout, kernel fault), or None."""
    if metric in p.metrics:
        return Outcome(value=p.metrics[metric])
    if metric in p.na:
        return Outcome(na=p.na[metric])
    s = p.steps.get(step)
    if s is None:
        if run_problem:
            return Outcome(failure=f"not run: {run_problem}")
        if not p.plan_begun:
            return Outcome(failure="not run: the plan runner never started")
        return Outcome(failure="not run (the plan did not reach it)")
    why = s.failure()
    if why is None:
        return Outcome(failure="exited 0 without printing the metric")
    if s.end is None and run_problem:
        why = f"{why}: {run_problem}"
    return Outcome(failure=why)
