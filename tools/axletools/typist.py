"""Typing into a console: the `--input` script of tools/run-qemu and the harness's `input` key.

A script is a list of steps. Each step may wait for a regular expression to appear in the
console output, then waits `after` seconds, then sends `send` (text, UTF-8; control keys
as escapes: "\\r" Enter, "\\u0003" Ctrl-C, "\\u0004" Ctrl-D, "\\u007f" Backspace, "\\u001b"
Esc). Waits are matched against the *screen text* — the output with carriage returns and
ANSI escape sequences removed — searching only what came after the previous step's
match, so a script can wait for the same prompt again and again. A step's `timeout`
(seconds) bounds its wait; a script whose wait fails stops (nothing more is sent) and
says which step it was.

The format, as JSON (the runner's --input FILE) or TOML (tests.toml's input = [...]):

    [{"wait": "/ # ", "send": "ls\\r"}, {"wait": "\\\\$ ", "after": 0.5, "send": "\\u0003"},
     {"wait": "done", "timeout": 30}]

Standard library only (Python 3.11+).
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from pathlib import Path
from typing import Callable

STEP_KEYS = {"wait", "after", "send", "timeout"}

# CSI sequences (ESC [ ... final), OSC strings (ESC ] ... BEL or ESC \), and the short
# two-character escapes terminals use (charset selection, keypad modes, save/restore).
ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][0-9A-Za-z]|[=>78DEHMNOZc])")


def screen_text(raw: bytes | str) -> str:
    """Console output as text to match on: CR removed, ANSI escape sequences removed."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return ANSI_RE.sub("", text.replace("\r", ""))


@dataclasses.dataclass(frozen=True)
class Step:
    wait: str | None = None  # regex (Python syntax, re.MULTILINE) to see before sending
    after: float = 0.0  # seconds to wait (after the match) before sending
    send: str = ""  # text to type
    timeout: float | None = None  # seconds the wait may take; None: as long as the run

    def describe(self) -> str:
        parts = []
        if self.wait is not None:
            parts.append(f"wait /{self.wait}/")
        if self.send:
            parts.append(f"send {self.send!r}")
        return ", ".join(parts) or "(empty step)"


def parse_steps(data) -> list[Step]:
    """Validates a parsed script (a list of tables); raises ValueError with the reason."""
    if not isinstance(data, list):
        raise ValueError("an input script is a list of steps")
    steps = []
    for i, raw in enumerate(data):
        where = f"input step {i + 1}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: must be a table with wait/after/send/timeout")
        unknown = set(raw) - STEP_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
        wait = raw.get("wait")
        if wait is not None:
            if not isinstance(wait, str) or not wait:
                raise ValueError(f"{where}: 'wait' must be a non-empty string (a regex)")
            try:
                re.compile(wait, re.MULTILINE)
            except re.error as e:
                raise ValueError(f"{where}: bad regex {wait!r}: {e}") from None
        send = raw.get("send", "")
        if not isinstance(send, str):
            raise ValueError(f"{where}: 'send' must be a string")
        after = raw.get("after", 0)
        timeout = raw.get("timeout")
        for key, value in (("after", after), ("timeout", timeout)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{where}: '{key}' must be a number of seconds >= 0")
        if wait is None and not send and not after:
            raise ValueError(f"{where}: needs 'wait', 'send' or 'after'")
        steps.append(Step(wait=wait, after=float(after), send=send, timeout=None if timeout is None else float(timeout)))
    return steps


def load(path: Path) -> list[Step]:
    """Reads a JSON script file."""
    with open(path, encoding="utf-8") as f:
        return parse_steps(json.load(f))


def dump(steps: list[Step]) -> str:
    """The JSON form of a script."""
    return json.dumps([{k: v for k, v in dataclasses.asdict(s).items() if v not in (None, "", 0.0)} for s in steps])


class Console:
    """The output seen so far, and waiting for patterns in it."""

    def __init__(self):
        self._raw = bytearray()
        self._cond = threading.Condition()
        self._pos = 0  # in the screen text: where the next search starts
        self._closed = False

    def feed(self, data: bytes) -> None:
        with self._cond:
            self._raw += data
            self._cond.notify_all()

    def close(self) -> None:
        """No more output will come (the program or the machine ended)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait_for(self, pattern: str, deadline: float | None) -> bool:
        """Waits until `pattern` shows after the previous match; False at the deadline or
        once the output has ended without it."""
        rx = re.compile(pattern, re.MULTILINE)
        with self._cond:
            while True:
                text = screen_text(bytes(self._raw))
                m = rx.search(text, self._pos)
                if m:
                    self._pos = m.end()
                    return True
                if self._closed:
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.2 if left is None else min(left, 0.2))


class Typist(threading.Thread):
    """Runs a script against a console: waits, then writes with `write(bytes)`.

    `deadline` (monotonic) bounds every wait; `done` counts the finished steps; `failed`
    describes the step whose wait did not succeed (None while fine)."""

    def __init__(self, steps: list[Step], console: Console, write: Callable[[bytes], None],
                 deadline: float | None = None, on_fail: Callable[[str], None] | None = None):
        super().__init__(name="axle-typist", daemon=True)
        self.steps = steps
        self.console = console
        self.write = write
        self.deadline = deadline
        self.on_fail = on_fail
        self.done = 0
        self.failed: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        for i, step in enumerate(self.steps):
            if self.stop.is_set():
                return
            if step.wait is not None:
                deadline = self.deadline
                if step.timeout is not None:
                    own = time.monotonic() + step.timeout
                    deadline = own if deadline is None else min(deadline, own)
                if not self.console.wait_for(step.wait, deadline):
                    if self.stop.is_set():
                        return
                    within = f" within {step.timeout:g} s" if step.timeout is not None else ""
                    self.failed = f"input step {i + 1}: /{step.wait}/ did not appear{within}"
                    if self.on_fail is not None:
                        self.on_fail(self.failed)
                    return
            if step.after and self.stop.wait(step.after):
                return
            if step.send:
                try:
                    self.write(step.send.encode("utf-8"))
                except OSError:
                    return  # the other side is gone
            self.done = i + 1

    def progress(self) -> dict:
        """For a result file: steps, steps done, the failed wait (or None)."""
        return {"steps": len(self.steps), "done": self.done, "failed": self.failed}
