"""Booting Debian's Linux kernel in the same QEMU machine as Axle, through Axle's runner.

The Linux VM speaks Axle's status protocol on Axle's status channel: the guest's
`linuxvm-run` writes `axle: user`, `axle: exit N`, `axle: signal N` to QEMU's isa-debugcon
port 0x4f0. So `axletools.runner.run` does the whole run unchanged (per-run initramfs,
QEMU command line, status reader, QMP watcher, timeout, signals, verdict); this module only
supplies the kernel, the base initramfs (image.py) and the kernel command line
(`LinuxRunConfig.cmdline`), and decides the accelerator with a probe of its own.
"""

from __future__ import annotations

import dataclasses
import fcntl
import glob
import json
import os
import re
import time
from pathlib import Path

from axletools import runner

KERNEL_GLOB = "/boot/vmlinuz-*"

# Kernel command line: console on COM1; a panic (also an oops) resets the guest at once,
# which QEMU's -no-reboot turns into its exit (the runner's "no status: 125"); /init is
# linuxvm-run. Unknown words would be handed to /init, so nothing Axle-specific goes here.
BASE_CMDLINE = "console=ttyS0 panic=-1 oops=panic rdinit=/init"
LOG_CMDLINE = {
    "error": "quiet loglevel=3",
    "warn": "quiet loglevel=3",
    "info": "loglevel=7",
    "debug": "loglevel=8",
    "trace": "loglevel=8 ignore_loglevel initcall_debug",
}

PROBE_TIMEOUT_S = 60  # a TCG-speed boot under a broken KVM must still fit
PROBE_ARGV = ["/bin/true"]


def version_key(path: str) -> tuple:
    """'vmlinuz-6.1.0-56-amd64' sorts after 'vmlinuz-6.1.0-9-amd64'."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.findall(r"\d+|[^\d.\-+~_]+", Path(path).name))


def find_kernel(pattern: str = KERNEL_GLOB) -> Path | None:
    """The newest kernel image installed by Debian's linux-image-* packages."""
    found = [p for p in glob.glob(pattern) if os.path.isfile(p) and not p.endswith((".old", ".bak", ".dpkg-tmp"))]
    if not found:
        return None
    return Path(max(found, key=version_key))


@dataclasses.dataclass
class LinuxRunConfig(runner.RunConfig):
    """runner.RunConfig for a Linux guest: `initrd` is the base archive from image.py."""

    def cmdline(self) -> str:
        words = [BASE_CMDLINE, LOG_CMDLINE.get(self.log, LOG_CMDLINE["warn"])]
        if self.net == "user":
            words.append("linuxvm.net=user")  # init.sh loads the network modules
        if self.append:
            words.append(self.append)
        return " ".join(words)


def run(cfg: LinuxRunConfig, say=lambda msg: None) -> runner.Result:
    """One boot of Linux with cfg.argv; raises runner.RunError when it cannot start."""
    result = runner.run(cfg, say=say)
    if result.kernel_fault and result.shutdown_reason == "guest-reset":
        result.error = ("the guest reset without an exit status (a Linux kernel panic or oops: see the console; "
                        "--log info shows more): counted as a kernel fault")
    return result


# --------------------------------------------------------------------------
# The KVM probe: does a stock Linux kernel work under this machine's KVM?


def probe_cache_file() -> Path:
    return runner.cache_dir() / "linux-kvm-probe.json"


def kvm_probe(kernel: Path, base: Path, qemu: str | None = None, *, refresh: bool = False) -> tuple[bool, str, bool]:
    """(usable, reason, from_cache). Boots `kernel` under `-accel kvm -cpu host` running
    /bin/true and requires `axle: exit 0` within PROBE_TIMEOUT_S. The verdict is cached in
    ~/.cache/axle/linux-kvm-probe.json, keyed by the kernel's sha256 and the QEMU version."""
    qemu = qemu or runner.qemu_binary()
    ok, why = runner.kvm_device_usable()
    if not ok:
        return False, why, True
    key = f"{runner.file_sha256(kernel)} {runner.qemu_version(qemu)}"
    cdir = runner.cache_dir()
    cdir.mkdir(parents=True, exist_ok=True)
    cache_file = probe_cache_file()
    with open(cdir / "linux-kvm-probe.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            cache = json.loads(cache_file.read_text())
            if not isinstance(cache, dict):
                cache = {}
        except (OSError, ValueError):
            cache = {}
        entry = cache.get(key)
        if isinstance(entry, dict) and "kvm" in entry and not refresh:
            return bool(entry["kvm"]), str(entry.get("reason", "")), True
        log = cdir / "linux-kvm-probe.log"
        cfg = LinuxRunConfig(kernel=kernel, initrd=base, smp=2, mem="2G", accel="kvm", argv=list(PROBE_ARGV),
                             timeout_s=PROBE_TIMEOUT_S, capture=log, quiet_qemu=True, qemu=qemu)
        try:
            r = run(cfg)
        except runner.RunError as e:
            r = runner.Result(qemu_failed=True, error=str(e))
        if r.interrupted is not None:
            raise runner.Interrupted(r.interrupted)  # no verdict: nothing cached
        if r.status == 0 and not r.kernel_fault and not r.qemu_failed:
            verdict, reason = True, f"Linux ran /bin/true under KVM in {r.wall_ms:.0f} ms"
        else:
            detail = r.error or (f"status {r.status}" if r.status is not None else f"signal {r.signal}")
            verdict, reason = False, f"Linux under KVM failed: {detail} (console: {log})"
        cache = {k: v for k, v in cache.items() if isinstance(v, dict)}
        cache[key] = {"kvm": verdict, "reason": reason, "kernel": str(kernel),
                      "checked": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if len(cache) > 32:
            cache = dict(sorted(cache.items(), key=lambda kv: kv[1].get("checked", ""))[-32:])
        tmp = cache_file.with_name(f".linux-kvm-probe.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=2) + "\n")
        os.replace(tmp, cache_file)
        return verdict, reason, False


def choose_accel(requested: str, kernel: Path, base: Path, qemu: str, say) -> str:
    """'kvm' or 'tcg'; `auto` asks the probe. The choice is said on stderr for `auto`."""
    if requested in ("kvm", "tcg"):
        return requested
    ok, reason, cached = kvm_probe(kernel, base, qemu)
    accel = "kvm" if ok else "tcg"
    if cached and reason.startswith("Linux"):
        # A verdict from an earlier probe: short (the reason is in the cache file).
        say(f"accelerator: {accel} (cached KVM probe: {'Linux works under KVM' if ok else 'Linux fails under KVM here'})")
    else:
        say(f"accelerator: {accel} ({'KVM works' if ok else 'KVM not usable'}: {reason})")
    return accel
