"""The Linux VM's initramfs: a cached base archive; the per-run part is the Axle runner's.

The base archive (`~/.cache/axle/linuxvm/base-<key>.cpio`, rebuilt when any input changes):

- the directories and the `/etc` text files of Axle's image (images/manifest.toml), so the
  guest sees the same /etc/passwd, /etc/hosts, ... as under Axle;
- `/dev/console`, `/dev/null`, `/dev/ttyS0` (before devtmpfs is mounted);
- Debian's static busybox as `/bin/busybox` with a symlink per applet (`busybox --list-full`);
- `/sbin/linuxvm-run` (linuxvm-run.c, built with `gcc -static`, cached) and `/init`, a
  symlink to it; `/etc/linuxvm/init.sh` (init.sh here), the boot script /init runs.

Each run then appends the `--add` directory under `/add` and `/etc/axle/cmd` +
`/etc/axle/env`: `axletools.runner.compose_initrd`, exactly as for Axle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import tomllib
from pathlib import Path

from axletools import newc, runner

HERE = Path(__file__).resolve().parent
HELPER_SOURCE = HERE / "linuxvm-run.c"
INIT_SCRIPT = HERE / "init.sh"
MANIFEST = runner.REPO / "images" / "manifest.toml"
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))

# Bump when the layout written by write_base changes (it is part of the cache key).
BASE_FORMAT = 2

# The kernel modules `--net user` needs (Debian builds virtio and virtio_net as modules),
# in load order; from /lib/modules/<the kernel's version>/, stored in the base archive
# under MODULE_DIR and loaded by init.sh when the command line has `linuxvm.net=user`.
NET_MODULES = (
    "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko",
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
    "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/net/core/failover.ko",
    "kernel/drivers/net/net_failover.ko",
    "kernel/drivers/net/virtio_net.ko",
)
MODULE_DIR = "/lib/linuxvm-modules"

# Applets the VM itself needs (init.sh) or that the brief promises; checked at build time.
REQUIRED_APPLETS = ("sh", "mount", "mkdir", "ln", "hostname", "poweroff", "cat", "echo", "ls", "sleep", "ps")
APPLET_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin")

# Used when images/manifest.toml cannot be read (same content as the manifest had).
FALLBACK_DIRS = [("/bin", 0o755), ("/sbin", 0o755), ("/etc", 0o755), ("/dev", 0o755), ("/dev/shm", 0o1777),
                 ("/proc", 0o555), ("/sys", 0o555), ("/tmp", 0o1777), ("/root", 0o700), ("/add", 0o755),
                 ("/usr", 0o755), ("/usr/bin", 0o755), ("/usr/sbin", 0o755), ("/opt", 0o755)]
FALLBACK_ETC = {
    "/etc/hostname": b"axle\n",
    "/etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n",
    "/etc/group": b"root:x:0:\n",
    "/etc/hosts": b"127.0.0.1\tlocalhost\n::1\tlocalhost\n",
    "/etc/resolv.conf": b"nameserver 10.0.2.3\n",
    "/etc/nsswitch.conf": b"hosts: files dns\n",
}
# Always there, whatever the manifest says (the VM's own needs).
OWN_DIRS = [("/bin", 0o755), ("/sbin", 0o755), ("/usr", 0o755), ("/usr/bin", 0o755), ("/usr/sbin", 0o755),
            ("/etc", 0o755), ("/etc/linuxvm", 0o755), ("/dev", 0o755), ("/proc", 0o555), ("/sys", 0o555),
            ("/tmp", 0o1777), ("/root", 0o700), ("/add", 0o755)]
NODES = [("/dev/console", "c", 5, 1, 0o600), ("/dev/null", "c", 1, 3, 0o666), ("/dev/ttyS0", "c", 4, 64, 0o660)]


class ImageError(Exception):
    """The base initramfs cannot be built (a missing host package, a compiler error)."""


def cache_root() -> Path:
    return runner.cache_dir() / "linuxvm"


# --------------------------------------------------------------------------
# Inputs


def is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (PT_INTERP)."""
    try:
        with open(path, "rb") as f:
            ident = f.read(64)
            if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
                return False  # not a little-endian 64-bit ELF
            phoff, = struct.unpack_from("<Q", ident, 32)
            phentsize, phnum = struct.unpack_from("<HH", ident, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP: dynamically linked
            return False
    return True


def find_busybox() -> Path:
    for p in BUSYBOX_CANDIDATES:
        if p.is_file() and is_static_elf(p):
            return p.resolve()
    if any(p.is_file() for p in BUSYBOX_CANDIDATES):
        raise ImageError("/bin/busybox is not statically linked: install the Debian package busybox-static "
                         "(tools/setup.sh)")
    raise ImageError("busybox not found: install the Debian package busybox-static (tools/setup.sh)")


def busybox_applets(busybox: Path) -> list[str]:
    """Guest paths of the applets ('/bin/sh', '/usr/bin/awk', ...) from `busybox --list-full`."""
    try:
        out = subprocess.run([str(busybox), "--list-full"], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise ImageError(f"cannot list the applets of {busybox}: {e}") from None
    return select_applets(out.split())


def select_applets(paths: list[str]) -> list[str]:
    """The entries of `busybox --list-full` under the usual bin directories, as guest paths."""
    keep = set()
    for p in paths:
        p = p.strip("/")
        head, _, name = p.rpartition("/")
        if head in APPLET_DIRS and name and name != "busybox":
            keep.add("/" + p)
    return sorted(keep)


def manifest_layout(manifest: Path = MANIFEST) -> tuple[list[tuple[str, int]], dict[str, bytes]]:
    """The directories and the inline-text /etc files of Axle's image manifest."""
    try:
        data = tomllib.loads(manifest.read_text())
        dirs = [(str(d["path"]), int(str(d.get("mode", "0755")), 8)) for d in data.get("dir", [])]
        etc = {str(f["path"]): str(f["text"]).encode() for f in data.get("file", [])
               if "text" in f and str(f["path"]).startswith("/etc/")}
    except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return list(FALLBACK_DIRS), dict(FALLBACK_ETC)
    return dirs, etc


def gcc_version(cc: str = "gcc") -> str:
    try:
        return subprocess.run([cc, "-dumpfullversion"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def build_helper(cache: Path | None = None, cc: str | None = None) -> Path:
    """linuxvm-run.c compiled with `gcc -static` (glibc), cached by source and compiler."""
    cc = cc or os.environ.get("CC") or "gcc"
    if shutil.which(cc) is None:
        raise ImageError(f"{cc} not found: install the Debian package gcc (tools/setup.sh)")
    source = HELPER_SOURCE.read_bytes()
    key = hashlib.sha256(source + b"\0" + gcc_version(cc).encode()).hexdigest()[:16]
    cache = cache or cache_root()
    out = cache / f"linuxvm-run-{key}"
    if out.is_file():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".linuxvm-run.{os.getpid()}.tmp"
    cmd = [cc, "-static", "-O2", "-Wall", "-o", str(tmp), str(HELPER_SOURCE)]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        raise ImageError(f"cannot run {cc}: {e}") from None
    if r.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise ImageError(f"`{' '.join(cmd)}` failed (a static libc is needed: Debian's libc6-dev has it):\n"
                         + (r.stderr.strip() or r.stdout.strip()))
    if not is_static_elf(tmp):
        tmp.unlink(missing_ok=True)
        raise ImageError(f"{cc} -static did not produce a static program")
    os.replace(tmp, out)
    for old in cache.glob("linuxvm-run-*"):  # older builds
        if old != out:
            old.unlink(missing_ok=True)
    return out


# --------------------------------------------------------------------------
# The base archive


@dataclasses.dataclass
class BaseSpec:
    busybox: Path
    applets: list[str]  # guest paths, each a symlink to /bin/busybox
    helper: Path
    init_script: bytes
    dirs: list[tuple[str, int]]  # (guest path, mode) from the manifest
    etc_files: dict[str, bytes]
    # (guest path, host file) of the network modules, in load order (may be empty)
    modules: list[tuple[str, Path]] = dataclasses.field(default_factory=list)

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(f"format {BASE_FORMAT}\n".encode())
        h.update(runner.file_sha256(self.busybox).encode())
        h.update(runner.file_sha256(self.helper).encode())
        h.update("\0".join(self.applets).encode())
        h.update(self.init_script)
        h.update(repr(sorted(self.dirs)).encode())
        h.update(repr(sorted(self.etc_files.items())).encode())
        for guest, host in self.modules:
            h.update(f"{guest} {runner.file_sha256(host)}\n".encode())
        return h.hexdigest()[:16]


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def write_base(out, spec: BaseSpec) -> None:
    """Writes the base archive (reproducible: mtime 0, owner root) to a binary stream."""
    dirs: dict[str, int] = {}
    for path, mode in OWN_DIRS + list(spec.dirs):
        dirs[path.rstrip("/") or "/"] = mode  # the manifest's mode wins
    extra = [p for p in spec.applets + list(spec.etc_files) + list(dirs) + [g for g, _ in spec.modules]
             for p in _parents(p)]
    for p in extra:
        dirs.setdefault(p, 0o755)
    dirs.pop("/", None)
    with newc.Writer(out, mtime=0) as w:
        for path in sorted(dirs, key=lambda p: (p.count("/"), p)):  # parents first
            w.add_dir(path, dirs[path])
        for path, kind, major, minor, mode in NODES:
            w.add_node(path, kind, major, minor, mode)
        w.add_file("/bin/busybox", spec.busybox, mode=0o755)
        for path in spec.applets:
            if path != "/bin/busybox":
                w.add_symlink(path, "/bin/busybox")
        w.add_file("/sbin/linuxvm-run", spec.helper, mode=0o755)
        w.add_symlink("/init", "/sbin/linuxvm-run")
        w.add_bytes("/etc/linuxvm/init.sh", spec.init_script, mode=0o755)
        for path, text in sorted(spec.etc_files.items()):
            w.add_bytes(path, text, mode=0o644)
        order = []
        for guest, host in spec.modules:
            w.add_file(guest, host, mode=0o644)
            order.append(guest)
        if order:
            w.add_bytes(f"{MODULE_DIR}/order", ("\n".join(order) + "\n").encode(), mode=0o644)


def net_modules(kernel: Path | None) -> list[tuple[str, Path]]:
    """The network modules of `kernel` (vmlinuz-<version>): (guest path, host file) in load
    order; empty when the kernel's module tree lacks any of them."""
    if kernel is None or not kernel.name.startswith("vmlinuz-"):
        return []
    root = Path("/lib/modules") / kernel.name[len("vmlinuz-"):]
    found = [(f"{MODULE_DIR}/{Path(m).name}", root / m) for m in NET_MODULES]
    if not all(host.is_file() for _, host in found):
        return []
    return found


def default_spec(cache: Path | None = None, kernel: Path | None = None) -> BaseSpec:
    busybox = find_busybox()
    applets = busybox_applets(busybox)
    names = {p.rsplit("/", 1)[1] for p in applets}
    missing = [a for a in REQUIRED_APPLETS if a not in names]
    if missing:
        raise ImageError(f"{busybox} lacks the applets {', '.join(missing)}")
    dirs, etc = manifest_layout()
    return BaseSpec(busybox=busybox, applets=applets, helper=build_helper(cache), init_script=INIT_SCRIPT.read_bytes(),
                    dirs=dirs, etc_files=etc, modules=net_modules(kernel))


def ensure_base(cache: Path | None = None, spec: BaseSpec | None = None, kernel: Path | None = None) -> Path:
    """The cached base archive for the current inputs (with `kernel`'s network modules),
    built when missing."""
    cache = cache or cache_root()
    spec = spec or default_spec(cache, kernel)
    out = cache / f"base-{spec.key()}.cpio"
    if out.is_file():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".base.", suffix=".tmp", dir=cache)
    try:
        with os.fdopen(fd, "wb") as f:
            write_base(f, spec)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in cache.glob("base-*.cpio"):  # archives of older inputs
        if old != out:
            old.unlink(missing_ok=True)
    return out
