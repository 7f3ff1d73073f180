"""The two kernels under test and what they need: building and staging the benchmark
programs, booting Axle (tools/run-qemu) and the Linux reference VM
(tools/linuxvm/run-linux) through their command lines, the accelerator choice, and the
configuration facts for the report's header."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MUSL = "x86_64-unknown-linux-musl"
RUN_QEMU = REPO / "tools" / "run-qemu"
RUN_LINUX = REPO / "tools" / "linuxvm" / "run-linux"

# Statuses of both runners (docs/run-interface.md).
RUNNER_STATUS = {124: "the boot timed out", 125: "kernel fault or panic (or no exit status)",
                 126: "the run could not start", 130: "interrupted"}


class BenchError(Exception):
    """Something the benchmark cannot go on without (a build failed, ...)."""


def cache_dir() -> Path:
    return Path(os.environ.get("AXLE_CACHE_DIR") or Path.home() / ".cache" / "axle")


def cargo_build(manifest: Path, target_dir: Path, bins: list[str] | None = None) -> Path:
    """`cargo build --release` of a static musl workspace; returns its release directory."""
    cmd = [os.environ.get("CARGO") or "cargo", "build", "--release", "--target", MUSL, "--manifest-path",
           str(manifest)]
    for b in bins or []:
        cmd += ["--bin", b]
    proc = subprocess.run(cmd, env=dict(os.environ, CARGO_TARGET_DIR=str(target_dir)), stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise BenchError(f"building {manifest.relative_to(REPO)} failed:\n{tail}")
    return target_dir / MUSL / "release"


def build_bench_programs() -> Path:
    """tests/bench (axbench, bench-nop) into ~/.cache/axle/target-bench."""
    return cargo_build(REPO / "tests" / "bench" / "Cargo.toml", cache_dir() / "target-bench")


def stage_dir() -> Path:
    return cache_dir() / "stage" / "bench-suite"


def stage(release: Path) -> Path:
    """A fresh staging dir (the guest's /add) with axbench and bench-nop."""
    d = stage_dir()
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name in ("axbench", "bench-nop"):
        shutil.copy2(release / name, d / name)
    return d


@dataclasses.dataclass
class RunOutcome:
    status: int  # the runner's exit status
    result: dict  # its result JSON ({} if none)
    console: str  # the guest console (the runner's stdout)
    stderr: str
    seconds: float
    load_before: float
    load_after: float

    def problem(self) -> str | None:
        """Why the boot as a whole did not end well, or None (the plan's own exit 0)."""
        if self.status == 0:
            return None
        why = RUNNER_STATUS.get(self.status) or f"the command ended with status {self.status}"
        err = self.result.get("error")
        panic = next((ln.strip(" *\r") for ln in self.console.splitlines()
                      if "KERNEL PANIC" in ln or "KERNEL FAULT" in ln or "Kernel panic" in ln), None)
        return f"runner status {self.status}: {why}" + (f" ({err})" if err else "") + (f": {panic}" if panic else "")


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


class System:
    """One kernel under test, booted through its runner's command line."""

    def __init__(self, key: str, label: str, base_cmd: list[str]):
        self.key = key  # "axle" or "linux"
        self.label = label  # "Axle" or "Linux"
        self.base_cmd = base_cmd

    def run(self, argv: list[str], *, add: Path | None, accel: str, smp: int, mem: str, timeout_s: int,
            net: str | None = None, keep_result: Path | None = None) -> RunOutcome:
        with tempfile.TemporaryDirectory(prefix="axle-bench-") as tmp:
            result_path = Path(tmp) / "result.json"
            cmd = self.base_cmd + ["--accel", accel, "--smp", str(smp), "--mem", mem, "--timeout", str(timeout_s),
                                   "--result", str(result_path)]
            if add is not None:
                cmd += ["--add", str(add)]
            if net:
                cmd += ["--net", net]
            cmd += ["--"] + argv
            load0, t0 = loadavg(), time.monotonic()
            try:
                proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s + 120)
                status, out, err = proc.returncode, proc.stdout, proc.stderr
            except subprocess.TimeoutExpired as e:
                status, out, err = 124, e.stdout or b"", (e.stderr or b"") + b"\nbench: the runner itself hung"
            seconds = time.monotonic() - t0
            try:
                result = json.loads(result_path.read_text())
            except (OSError, ValueError):
                result = {}
            if keep_result is not None and result:
                keep_result.write_text(json.dumps(result, indent=1) + "\n")
        return RunOutcome(status, result, out.decode(errors="replace"), err.decode(errors="replace"), seconds, load0,
                          loadavg())

    def kvm_usable(self) -> tuple[bool, str]:
        """The runner's own KVM probe (cached by the runner)."""
        proc = subprocess.run(self.base_cmd + ["--probe-kvm"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True)
        said = (proc.stdout.strip() or proc.stderr.strip() or "no answer").splitlines()[-1]
        return proc.returncode == 0, said

    def has_option(self, option: str) -> bool:
        proc = subprocess.run(self.base_cmd + ["--help"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        return option in proc.stdout


def axle(kernel: str | None, initrd: str | None) -> System:
    cmd = [str(RUN_QEMU)]
    if kernel:
        cmd += ["--kernel", kernel]
    if initrd:
        cmd += ["--initrd", initrd]
    return System("axle", "Axle", cmd)


def linux(kernel: str | None, append: str) -> System:
    cmd = [str(RUN_LINUX)]
    if kernel:
        cmd += ["--kernel", kernel]
    if append:
        cmd += ["--append", append]
    return System("linux", "Linux", cmd)


def choose_accel(wanted: str, systems: list[System]) -> tuple[str, str]:
    """(accelerator, why): KVM only if asked or if every system's probe passes under auto."""
    if wanted in ("tcg", "kvm"):
        return wanted, "as asked"
    reasons = []
    for s in systems:
        ok, said = s.kvm_usable()
        if not ok:
            said = re.sub(r"^kvm: not usable( for Linux)?: ", "", said)
            reasons.append(f"{s.label}: {said[:90] + '...' if len(said) > 90 else said}")
    if reasons:
        return "tcg", "KVM not usable by both kernels (" + "; ".join(reasons) + ")"
    return "kvm", "both kernels' KVM probes passed"


# --------------------------------------------------------------------------
# Facts for the header


def git_commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def axle_kernel_path(given: str | None) -> Path:
    if given:
        return Path(given)
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "x86_64-unknown-none" / "release" / "axle"


def file_id(path: Path) -> str:
    path = path.resolve()
    try:
        return f"{path} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]})"
    except OSError:
        return f"{path} (missing)"


def linux_kernel_path(given: str | None) -> Path | None:
    if given:
        return Path(given)
    import sys
    sys.path.insert(0, str(REPO / "tools"))
    from linuxvm import vm  # noqa: E402  (tools/ is on the path)
    return vm.find_kernel()


def qemu_version() -> str:
    qemu = os.environ.get("AXLE_QEMU") or "qemu-system-x86_64"
    try:
        return subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def host_cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs"
