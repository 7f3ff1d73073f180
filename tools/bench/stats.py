"""Summaries: per metric and system the values of every round, their median and min-max
spread, the Axle/Linux ratio of the medians, and a note saying what was missing and why."""

from __future__ import annotations

import collections
import dataclasses
import statistics

from .metrics import Metric


@dataclasses.dataclass
class Cell:
    """One system's figures for one metric over the rounds."""
    values: list[float] = dataclasses.field(default_factory=list)
    na: list[str] = dataclasses.field(default_factory=list)
    failures: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # (round, reason)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def low(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def high(self) -> float | None:
        return max(self.values) if self.values else None

    def attempts(self) -> int:
        return len(self.values) + len(self.na) + len(self.failures)


# Rounds whose highest value is this many times the lowest are flagged as noisy.
NOISY_SPAN = 4.0


def ratio(axle: float | None, linux: float | None) -> float | None:
    """Axle/Linux of the medians; None when either is missing or Linux's is 0."""
    if axle is None or linux is None or linux == 0:
        return None
    return axle / linux


def most_common(reasons: list[str]) -> str:
    return collections.Counter(reasons).most_common(1)[0][0]


def cell_note(label: str, c: Cell) -> str:
    """What a reader must know about one cell: why it is n/a, or which rounds failed."""
    parts = []
    if not c.values:
        if c.failures:
            rounds = ", ".join(str(r) for r, _ in c.failures)
            parts.append(f"{label} FAILED (round {rounds}): {most_common([w for _, w in c.failures])}")
        elif c.na:
            parts.append(f"{label} n/a: {most_common(c.na)}")
        else:
            parts.append(f"{label} n/a: not measured")
    elif c.failures:
        rounds = ", ".join(str(r) for r, _ in c.failures)
        parts.append(f"{label} failed in round {rounds} of {c.attempts()}: "
                     f"{most_common([w for _, w in c.failures])}")
    if c.values and c.low and c.low > 0 and c.high / c.low >= NOISY_SPAN:
        parts.append(f"{label} rounds span {c.high / c.low:.0f}x (noisy: compare with care)")
    parts += [f"{label}: {n}" for n in dict.fromkeys(c.notes)]
    return "; ".join(parts)


@dataclasses.dataclass
class Row:
    metric: Metric
    axle: Cell
    linux: Cell

    @property
    def ratio(self) -> float | None:
        return ratio(self.axle.median, self.linux.median)

    @property
    def note(self) -> str:
        a, b = cell_note("Axle", self.axle), cell_note("Linux", self.linux)
        if a.startswith("Axle n/a: ") and b.startswith("Linux n/a: ") and a[10:] == b[11:]:
            return "n/a: " + a[10:]  # the same reason on both sides (a missing tool)
        return "; ".join(n for n in (a, b) if n)
